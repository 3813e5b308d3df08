"""Recombination-fraction EM: expected counts against enumeration, the EM's
monotone climb to a stationary point, and ILINK's maximum on the FASTLINK example."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqem.io.pedigree import read_linkage, read_linkage_datafile, read_merlin
from seqem.linkage.lander_green import InheritanceSpace, marker_emission, ordered_loglik
from seqem.linkage.mapping import _MapProblem, estimate_recombination

from .test_lander_green import SHARED, needs_shared, random_family, simulate_calls


def brute_expected_recombinations(fam, calls, freqs, thetas):
    """E[recombinant meioses] per interval by enumerating every meiosis pattern
    at every locus (no founder symmetry) and every founder allele."""
    kids = [p for p in range(fam.n) if fam.father[p] >= 0]
    founders = [p for p in range(fam.n) if fam.father[p] < 0]
    m = 2 * len(kids)
    pats = np.array(list(itertools.product((0, 1), repeat=m)))

    def emission(j, pat):
        genes = {}
        for p in fam.order():
            if fam.father[p] < 0:
                k = founders.index(p)
                genes[p] = (2 * k, 2 * k + 1)
            else:
                c = kids.index(p)
                genes[p] = (genes[fam.father[p]][pat[2 * c]], genes[fam.mother[p]][pat[2 * c + 1]])
        total = 0.0
        for alleles in itertools.product(range(1, len(freqs[j]) + 1), repeat=2 * len(founders)):
            ok = all(
                calls[p, j, 0] == 0
                or sorted((alleles[genes[p][0]], alleles[genes[p][1]])) == sorted(calls[p, j])
                for p in range(fam.n)
            )
            if ok:
                total += math.prod(freqs[j][a - 1] for a in alleles)
        return total

    e = np.array([[emission(j, pat) for pat in pats] for j in range(calls.shape[1])])
    dist = (pats[:, None, :] != pats[None, :, :]).sum(axis=2)
    trans = [t**dist * (1 - t) ** (m - dist) for t in thetas]
    alpha = [np.full(len(pats), 1.0 / len(pats)) * e[0]]
    for i, tr in enumerate(trans):
        alpha.append((alpha[-1] @ tr) * e[i + 1])
    beta = [np.ones(len(pats))]
    for i in range(len(trans) - 1, -1, -1):
        beta.insert(0, trans[i] @ (e[i + 1] * beta[0]))
    like = alpha[-1].sum()
    out = []
    for i, tr in enumerate(trans):
        pair = alpha[i][:, None] * tr * (e[i + 1] * beta[i + 1])[None, :] / like
        out.append(float((pair * dist).sum()))
    return np.array(out), m


@pytest.mark.parametrize("shape", ["trio+", "three generations", "half sibs"])
def test_expected_recombinations_equal_enumeration(shape):
    rng = np.random.default_rng(11)
    fam = random_family(rng, shape)
    freqs = [rng.dirichlet(np.ones(3)), rng.dirichlet(np.ones(2)), rng.dirichlet(np.ones(3))]
    calls = np.stack([simulate_calls(rng, fam, f, missing=0.1) for f in freqs], axis=1)
    thetas = np.array([0.12, 0.3])
    space = InheritanceSpace.of(fam)
    emis = [marker_emission(space, calls[:, j, :], freqs[j], 1) for j in range(3)]
    problem = _MapProblem([space], [emis], thetas, np.ones(2, bool), False, 1)
    stats, _ = problem.e_step({"theta": thetas})
    ref, m = brute_expected_recombinations(fam, calls, freqs, thetas)
    # meioses founder symmetry leaves uninformative recombine with probability theta
    n_out = m - int((space.masks != 0).sum())
    np.testing.assert_allclose(stats["rec"].sum(axis=1) + n_out * thetas, ref, rtol=1e-10)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_em_never_decreases_and_ends_stationary(seed):
    rng = np.random.default_rng(seed)
    fam = random_family(rng, ["trio+", "three generations", "half sibs"][seed % 3])
    from seqem.linkage.data import LinkageData, MarkerLocus

    freqs = [rng.dirichlet(np.ones(4)) for _ in range(3)]
    calls = np.stack([simulate_calls(rng, fam, f, missing=0.1) for f in freqs], axis=1)
    markers = [MarkerLocus(f"M{j}", tuple("1234"), freqs[j], "1", 10.0 * j) for j in range(3)]
    data = LinkageData([fam], markers, [calls.astype(np.int16)], [np.zeros(fam.n, np.int8)],
                       [np.ones(fam.n, int)])  # fmt: skip
    fit = estimate_recombination(data, ["M0", "M1", "M2"], [0.2, 0.2], accelerate=None,
                                 tol=1e-12, max_iter=3000, n_threads=1)  # fmt: skip
    history = np.array(fit.fit.history)
    assert np.all(np.diff(history) >= -1e-9 * np.abs(history[1:]))
    assert fit.loglik == pytest.approx(
        ordered_loglik(data, ["M0", "M1", "M2"], list(fit.thetas), n_threads=1).sum(), abs=1e-9
    )
    # no small move inside [0, 1/2] does better
    for i in range(2):
        for h in (-1e-3, 1e-3):
            th = fit.thetas.copy()
            th[i] = min(max(th[i] + h, 0.0), 0.5)
            moved = ordered_loglik(data, ["M0", "M1", "M2"], list(th), n_threads=1).sum()
            assert moved <= fit.loglik + 1e-6


@needs_shared
def test_merlin_window_map_is_a_maximum():
    d = SHARED / "merlin_parametric"
    data = read_merlin(
        *(str(d / f"parametric.{e}") for e in ("ped", "dat", "map", "freq", "model"))
    )
    loci = ["MRK3", "MRK4", "MRK5", "MRK6"]
    fit = estimate_recombination(data, loci, [0.1, 0.1, 0.1], n_threads=1)
    assert fit.fit.converged and not fit.fit.decreases
    base = ordered_loglik(data, loci, list(fit.thetas), n_threads=1).sum()
    assert fit.loglik == pytest.approx(base, abs=1e-9)
    for i in range(3):
        for h in (-1e-4, 1e-4):
            th = fit.thetas.copy()
            th[i] += h
            assert ordered_loglik(data, loci, list(th), n_threads=1).sum() <= base + 1e-9
    # sex-specific fit: at least the sex-averaged likelihood
    sexed = estimate_recombination(data, loci, fit.thetas, sex_specific=True, n_threads=1)
    assert sexed.thetas.shape == (3, 2) and sexed.loglik >= fit.loglik - 1e-9


@needs_shared
@pytest.mark.slow
def test_fastlink_example_ilink_maximum():
    """ILINK's maximum on both pedigrees (ped 1: 25 bits) is the maximum of
    seqem's likelihood: -2 ln L at (0.098697, 0) is the exact 148.44898, at
    most ILINK's printed 148.457, and moving theta1 by 1e-3 either way or
    theta2 off the boundary raises -2 ln L.
    EM's climb to it from ILINK's start takes minutes at 25 bits:
    ``python benchmarks/bench_linkage.py --what ilink`` runs it."""
    f = SHARED / "fastlink_example"
    data = read_linkage(str(f / "pedfile.dat"), str(f / "datafile.dat"))
    df = read_linkage_datafile(str(f / "datafile.dat"))
    order = [df.names[i] for i in df.order]

    def deviance(thetas):
        return -2 * ordered_loglik(data, order, thetas, max_bits=25).sum()

    best = deviance([0.098697, 0.0])
    assert best == pytest.approx(148.44898, abs=1e-4)
    assert best <= 148.457
    for moved in ([0.097697, 0.0], [0.099697, 0.0], [0.098697, 1e-3]):
        assert deviance(moved) > best, moved
