"""Exact haplotype EM: likelihood and counts against enumeration of every phase."""

import itertools

import numpy as np
import pytest

from seqem.haplo.em import HaplotypeEM, enumerate_pairs, fit_haplotypes


def brute(calls, freq_of):
    """ln L and expected counts by enumerating all haplotype pairs of each person."""
    h = calls.shape[1]
    ll, counts = 0.0, {}
    for row in calls:
        if not (row >= 0).any():
            continue
        weights = {}
        for a, b in itertools.product(range(2**h), repeat=2):
            if all(r < 0 or ((a >> j) & 1) + ((b >> j) & 1) == r for j, r in enumerate(row)):
                weights[(a, b)] = freq_of.get(a, 0.0) * freq_of.get(b, 0.0)
        total = sum(weights.values())
        ll += np.log(total)
        for (a, b), w in weights.items():
            counts[a] = counts.get(a, 0.0) + w / total
            counts[b] = counts.get(b, 0.0) + w / total
    return ll, counts


@pytest.mark.parametrize("seed", range(5))
def test_estep_equals_enumeration(seed):
    rng = np.random.default_rng(seed)
    calls = rng.integers(-1, 3, size=(int(rng.integers(2, 9)), int(rng.integers(1, 5))))
    calls = calls.astype(np.int8)
    calls[0, 0] = 1  # at least one call
    pairs = enumerate_pairs(calls)
    f = rng.dirichlet(np.ones(pairs.codes.size))
    stats, ll = HaplotypeEM(pairs).e_step({"f": f})
    ll_ref, counts_ref = brute(calls, dict(zip(pairs.codes.tolist(), f, strict=True)))
    assert ll == pytest.approx(ll_ref, rel=1e-10)
    for code, c in zip(pairs.codes.tolist(), stats["counts"], strict=True):
        assert c == pytest.approx(counts_ref.get(code, 0.0), abs=1e-10)


def test_fit_never_decreases_and_recovers_frequencies():
    rng = np.random.default_rng(3)
    haps = np.array([[0, 0, 1], [1, 1, 0], [1, 0, 1]])
    pick = rng.choice(3, size=(400, 2), p=[0.5, 0.3, 0.2])
    calls = (haps[pick[:, 0]] + haps[pick[:, 1]]).astype(np.int8)
    fit = fit_haplotypes(calls, random_state=1)
    assert not fit.fit.decreases
    est = fit.as_dict()
    for h, p in (("001", 0.5), ("110", 0.3), ("101", 0.2)):
        assert est[h] == pytest.approx(p, abs=0.06)
