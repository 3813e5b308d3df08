"""NPL scores and the Kong-Cox LOD against enumeration; calibration under no linkage."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from seqem.linkage.data import Family, LinkageData, MarkerLocus
from seqem.linkage.npl import kong_cox, npl

from .test_lander_green import random_family, simulate_calls


def brute_family(fam, calls, freqs, affected, cm, x):
    """Posterior mean standardised S_pairs and S_all at position x, by enumeration
    of every meiosis pattern at every locus (the position is a locus with no data)."""
    kids = [p for p in range(fam.n) if fam.father[p] >= 0]
    founders = [p for p in range(fam.n) if fam.father[p] < 0]
    m = 2 * len(kids)
    pats = list(itertools.product((0, 1), repeat=m))

    def genes_of(pat):
        genes = {}
        for p in fam.order():
            if fam.father[p] < 0:
                k = founders.index(p)
                genes[p] = (2 * k, 2 * k + 1)
            else:
                c = kids.index(p)
                genes[p] = (genes[fam.father[p]][pat[2 * c]], genes[fam.mother[p]][pat[2 * c + 1]])
        return genes

    def s_pairs(genes):
        total = 0
        for i, j in itertools.combinations(affected, 2):
            (a1, a2), (b1, b2) = genes[i], genes[j]
            total += max((a1 == b1) + (a2 == b2), (a1 == b2) + (a2 == b1))
        return total

    def s_all(genes):
        total = 0.0
        for picks in itertools.product((0, 1), repeat=len(affected)):
            chosen = [genes[p][h] for p, h in zip(affected, picks, strict=True)]
            total += math.prod(math.factorial(chosen.count(g)) for g in set(chosen))
        return total / 2 ** len(affected)

    def emission(j, pat):
        genes = genes_of(pat)
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

    loci_cm = sorted(list(cm) + [x])
    at = loci_cm.index(x)
    e = []
    marker = 0
    for k in range(len(loci_cm)):
        if k == at:
            e.append(np.ones(len(pats)))
        else:
            e.append(np.array([emission(marker, pat) for pat in pats]))
            marker += 1
    arr = np.array(pats)
    dist = (arr[:, None, :] != arr[None, :, :]).sum(axis=2)
    v = np.full(len(pats), 1.0 / len(pats)) * e[0]
    alpha = [v]
    for k in range(1, len(loci_cm)):
        t = 0.5 * (1 - math.exp(-2 * (loci_cm[k] - loci_cm[k - 1]) / 100))
        tr = t**dist * (1 - t) ** (m - dist)
        alpha.append((alpha[-1] @ tr) * e[k])
    beta = [np.ones(len(pats))]
    for k in range(len(loci_cm) - 1, 0, -1):
        t = 0.5 * (1 - math.exp(-2 * (loci_cm[k] - loci_cm[k - 1]) / 100))
        tr = t**dist * (1 - t) ** (m - dist)
        beta.insert(0, tr @ (e[k] * beta[0]))
    post = alpha[at] * beta[at]
    post /= post.sum()
    out = {}
    for name, fn in (("pairs", s_pairs), ("all", s_all)):
        s = np.array([fn(genes_of(p)) for p in pats], dtype=float)
        z = (s - s.mean()) / s.std()
        out[name] = (float(post @ z), float(z.min()))
    return out


@pytest.mark.parametrize("statistic", ["pairs", "all"])
def test_npl_and_kong_cox_equal_enumeration(statistic):
    rng = np.random.default_rng(3)
    shapes = ["trio+", "three generations", "half sibs"]
    fams, calls_all, status_all = [], [], []
    freqs = [rng.dirichlet(np.ones(3)), rng.dirichlet(np.ones(3))]
    for k, shape in enumerate(shapes):
        base = random_family(rng, shape)
        fam = Family(f"F{k}", base.persons, base.father, base.mother, base.sex)
        fams.append(fam)
        calls_all.append(np.stack([simulate_calls(rng, fam, f, 0.1) for f in freqs], axis=1))
        status = np.ones(fam.n, dtype=np.int8)
        status[[p for p in range(fam.n) if fam.father[p] >= 0]] = 2
        status[0] = 2
        status_all.append(status)
    cm = [10.0, 25.0]
    markers = [MarkerLocus(f"M{j}", ("1", "2", "3"), freqs[j], "1", cm[j]) for j in range(2)]
    data = LinkageData(fams, markers, [c.astype(np.int16) for c in calls_all], status_all,
                       [np.ones(f.n, int) for f in fams])  # fmt: skip
    positions = np.array([10.0, 17.5, 30.0])
    result = npl(data, positions, statistic=statistic, n_threads=1)
    for j, x in enumerate(positions):
        refs = [
            brute_family(fam, c, freqs, list(np.flatnonzero(s == 2)), cm, x)[statistic]
            for fam, c, s in zip(fams, calls_all, status_all, strict=True)
        ]
        expected = np.array([r[0] for r in refs])
        np.testing.assert_allclose(result.z_family[:, j], expected, atol=1e-10)
        assert result.z[j] == pytest.approx(expected.sum() / math.sqrt(3), abs=1e-10)
        # Kong-Cox: the largest log-likelihood ratio over the allowed deltas, by a fine grid
        minimum = np.array([r[1] for r in refs])
        dmax = 1.0 / np.max(-minimum / math.sqrt(3))
        grid = np.linspace(0, dmax, 200001)
        values = np.log10(1 + grid[:, None] * expected[None, :] / math.sqrt(3)).sum(axis=1)
        assert result.kc_lod[j] == pytest.approx(max(values.max(), 0.0), abs=1e-8)
        assert result.kc_lod[j] >= values.max() - 1e-12


def test_kong_cox_edges():
    assert kong_cox(np.array([-0.5, -0.2]), np.array([-1.0, -1.0])) == (0.0, 0.0)
    lod, delta = kong_cox(np.array([3.0, 3.0]), np.array([-1.0, -1.0]))
    # delta at its bound (every vector's probability still >= 0): sqrt(2)
    assert delta == pytest.approx(math.sqrt(2), rel=1e-9)
    assert lod == pytest.approx(2 * math.log10(1 + math.sqrt(2) * 3 / math.sqrt(2)), rel=1e-9)


def test_npl_is_calibrated_without_linkage():
    """300 replicates of 25 nuclear families (3 children, affection independent
    of the marker, a 6-allele marker): the share of replicates with p <= 0.05
    is within four binomial standard errors of 0.05."""
    rng = np.random.default_rng(2026)
    father = np.array([-1, -1, 0, 0, 0])
    mother = np.array([-1, -1, 1, 1, 1])
    sex = np.array([1, 2, 1, 2, 1])
    freqs = np.full(6, 1 / 6)
    marker = [MarkerLocus("M", tuple("123456"), freqs, "1", 0.0)]
    hits = 0
    reps = 300
    for _ in range(reps):
        fams, calls, status = [], [], []
        for k in range(25):
            fam = Family(str(k), tuple("abcde"), father, mother, sex)
            fams.append(fam)
            calls.append(simulate_calls(rng, fam, freqs, missing=0.0)[:, None, :].astype(np.int16))
            s = np.ones(5, dtype=np.int8)
            s[2 + rng.permutation(3)[: 2 + int(rng.integers(2))]] = 2
            status.append(s)
        data = LinkageData(fams, marker, calls, status, [np.ones(5, int)] * 25)
        hits += int(npl(data, np.array([0.0]), n_threads=1).p[0] <= 0.05)
    size = hits / reps
    se = math.sqrt(0.05 * 0.95 / reps)
    assert abs(size - 0.05) <= 4 * se, size
