"""Multinomial-mixture EM and NNLS against the shared deconvolution baselines.

Needs ``../shared/data/deconvolution`` (skipped with the reason where absent).
The README's ``em`` baseline (a converged EM of the same model) must be
reproduced to 1e-4 and ``nnls`` to 1e-6.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqem.deconv.mixture import multinomial_em, newton_simplex, nnls, simplex_qp
from seqem.errors import InputFormatError

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "deconvolution"
needs_data = pytest.mark.skipif(
    not SHARED.is_dir(), reason="shared deconvolution data (../shared/data/deconvolution) absent"
)


def table(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    with open(path) as fh:
        rows = list(csv.reader(fh, delimiter="\t"))
    names = [r[0] for r in rows[1:]]
    return names, rows[0][1:], np.array([[float(x) for x in r[1:]] for r in rows[1:]])


def labels(path: Path) -> dict[str, str]:
    with open(path) as fh:
        return {r[0]: r[1] for r in list(csv.reader(fh, delimiter="\t"))[1:]}


def mean_profiles(values: np.ndarray, samples: list[str], label_of: dict[str, str]):
    types = list(dict.fromkeys(label_of[s] for s in samples))
    cols = [
        values[:, [i for i, s in enumerate(samples) if label_of[s] == t]].mean(axis=1)
        for t in types
    ]
    return types, np.stack(cols, axis=1)


def dataset(name: str, variant: str = ""):
    """Bulk (genes x samples, linear), reference (genes x types) and the type names."""
    d = SHARED / name
    if name in ("shen_orr_gse19830", "newman_pbmc_gse65133"):
        genes, _, Y = table(d / "mixtures_log2.tsv")
        pure_genes, samples, P = table(d / "pure_log2.tsv")
        assert pure_genes == genes
        types, S = mean_profiles(2.0**P, samples, labels(d / "pure_labels.tsv"))
        return 2.0**Y, S, types
    if name == "abbas_gse11058":
        genes, _, Y = table(d / "mixtures_linear.tsv")
        ref_genes, types, S = table(d / "reference_linear.tsv")
        assert ref_genes == genes
        return Y, S, types
    if name == "epic_melanoma_gse93722":
        genes, _, Y = table(d / "mixtures_tpm.tsv")
        ref_genes, types, S = table(d / "reference_tpm.tsv")
        signature = (d / "signature_genes.txt").read_text().split()
        both = [g for g in signature if g in set(genes) and g in set(ref_genes)]
        gi = {g: i for i, g in enumerate(genes)}
        ri = {g: i for i, g in enumerate(ref_genes)}
        return Y[[gi[g] for g in both]], S[[ri[g] for g in both]], types
    # cdseq: mean UMI counts per cell of each labelled type
    genes, _, Y = table(d / "mixtures_counts.tsv")
    sc_genes, cells, C = table(d / "sc_counts.tsv")
    assert sc_genes == genes
    types, S = mean_profiles(C, cells, labels(d / "sc_labels.tsv"))
    if variant == "_no_megakaryocyte":
        keep = [i for i, t in enumerate(types) if t != "Megakaryocyte"]
        types, S = [types[i] for i in keep], S[:, keep]
    return Y, S, types


CASES = [
    ("shen_orr_gse19830", ""),
    ("abbas_gse11058", ""),
    ("newman_pbmc_gse65133", ""),
    ("epic_melanoma_gse93722", ""),
    ("cdseq_pbmc_pseudobulk", "_all4types"),
    ("cdseq_pbmc_pseudobulk", "_no_megakaryocyte"),
]


@needs_data
@pytest.mark.parametrize("name,variant", CASES)
def test_reproduces_the_em_and_nnls_baselines(name, variant):
    Y, S, types = dataset(name, variant)
    fit = multinomial_em(Y, S)
    _, cols, em_ref = table(SHARED / name / "reference" / f"em_estimates{variant}.tsv")
    idx = [types.index(c) for c in cols]
    assert np.abs(fit.proportions[:, idx] - em_ref).max() < 1e-4
    assert np.allclose(fit.proportions.sum(axis=1), 1.0)
    assert all(not f.decreases for f in fit.fits)
    _, cols, nnls_ref = table(SHARED / name / "reference" / f"nnls_estimates{variant}.tsv")
    idx = [types.index(c) for c in cols]
    assert np.abs(nnls(Y, S)[:, idx] - nnls_ref).max() < 1e-6


@needs_data
def test_accelerated_em_reaches_the_plain_em_optimum_in_under_200_iterations():
    """Newman PBMC (22 collinear types, many near zero): plain EM crawls; Newton
    steps on the simplex from a clipped least-squares start reach its
    log-likelihood (to 1e-6) in under 200 iterations."""
    Y, S, _ = dataset("newman_pbmc_gse65133")
    fast = multinomial_em(Y, S)
    plain = multinomial_em(Y, S, accelerate=None, tol=1e-14, max_iter=20000)
    n_fast = max(f.n_iter for f in fast.fits)
    n_plain = max(f.n_iter for f in plain.fits)
    print(f"iterations, most over the 20 samples: accelerated {n_fast}, plain {n_plain}")
    assert np.all(fast.loglik >= plain.loglik - 1e-6)
    assert all(f.converged for f in fast.fits)
    assert n_fast < 200 and n_plain > 5000


def brute_force_qp(h, c):
    """Minimum of z'hz/2 - c'z over the simplex: every face's stationary point."""
    k = c.size
    best, arg = np.inf, None
    for mask in range(1, 2**k):
        use = [j for j in range(k) if mask >> j & 1]
        m = len(use)
        kkt = np.zeros((m + 1, m + 1))
        kkt[:m, :m] = h[np.ix_(use, use)]
        kkt[:m, m] = kkt[m, :m] = 1.0
        sol = np.linalg.solve(kkt, np.concatenate([c[use], [1.0]]))
        if np.all(sol[:m] >= -1e-12):
            z = np.zeros(k)
            z[use] = np.maximum(sol[:m], 0)
            value = 0.5 * z @ h @ z - c @ z
            if value < best:
                best, arg = value, z
    return arg, best


def test_simplex_qp_equals_enumeration_of_faces():
    rng = np.random.default_rng(3)
    for _ in range(200):
        k = int(rng.integers(2, 6))
        a = rng.normal(size=(k + 2, k))
        h = a.T @ a + 1e-3 * np.eye(k)
        c = rng.normal(size=k) * 3
        start = rng.dirichlet(np.ones(k)) * (rng.random(k) < 0.7)
        if start.sum() == 0:
            start[0] = 1.0
        start /= start.sum()
        z = simplex_qp(h, c, start)
        ref, best = brute_force_qp(h, c)
        assert z.min() >= 0 and z.sum() == pytest.approx(1.0, abs=1e-12)
        assert 0.5 * z @ h @ z - c @ z <= best + 1e-10 * max(1.0, abs(best))


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_newton_simplex_reaches_the_em_maximum(seed):
    """On random problems (some types absent from the truth) the Newton finish
    ends at the maximum that long plain EM approaches, and never lowers the
    likelihood."""
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 8))
    q = rng.gamma(0.3, 1.0, size=(40, k)) + 1e-12
    q /= q.sum(axis=0)
    truth = rng.dirichlet(np.ones(k)) * (rng.random(k) < 0.6)
    truth = truth / truth.sum() if truth.sum() > 0 else np.full(k, 1.0 / k)
    y = rng.poisson(2000 * (q @ truth)).astype(float)
    y = y[q.sum(axis=1) > 0]
    if y.sum() == 0:
        return
    start = rng.dirichlet(np.ones(k))
    pi, ll, _, optimal = newton_simplex(y, q[: y.size], start)
    with np.errstate(divide="ignore"):
        ll_start = float(y @ np.log(q[: y.size] @ start))
    plain = multinomial_em(y[:, None], q[: y.size], accelerate=None, tol=1e-13, max_iter=20000)
    assert optimal
    assert ll >= ll_start
    assert ll >= plain.loglik[0] - 1e-6 * max(1.0, abs(ll))


def test_simulated_mixtures_recover_the_proportions():
    rng = np.random.default_rng(0)
    S = rng.gamma(0.5, 100, size=(300, 4))
    truth = rng.dirichlet(np.ones(4), size=25)
    cells = rng.uniform(0.5, 2.0, size=(25, 1))
    Y = S @ (truth * cells).T  # linear mixtures of the profiles
    Y = rng.poisson(Y * 50).astype(float)  # counting noise
    fit = multinomial_em(Y, S)
    assert np.abs(fit.proportions - truth).max() < 0.02  # measured 0.005


def test_bad_input():
    S = np.ones((5, 2))
    with pytest.raises(InputFormatError, match="negative"):
        multinomial_em(-np.ones((5, 3)), S)
    with pytest.raises(InputFormatError, match="same genes"):
        multinomial_em(np.ones((4, 3)), S)
    with pytest.raises(InputFormatError, match="NaN"):
        multinomial_em(np.full((5, 3), np.nan), S)
    with pytest.raises(InputFormatError, match="all zero"):
        multinomial_em(np.ones((5, 3)), np.zeros((5, 2)))


def test_nnls_refuses_a_sample_it_cannot_split():
    """A sample without expression, or one no non-negative combination approaches,
    has no proportions: an error, not a row of NaN."""
    S = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
    Y = np.array([[1.0, 0.0, 0.0], [2.0, 0.0, 0.0], [3.0, 0.0, 0.0], [0.0, 0.0, 5.0]])
    with pytest.raises(InputFormatError, match="mixture sample 2 has no expression"):
        nnls(Y, S)
    # the third sample is expressed only where no profile is
    with pytest.raises(InputFormatError, match="mixture sample 2: no non-negative combination"):
        nnls(Y[:, [0, 2]], S)


@pytest.mark.parametrize("exponent", [-1000, -600, 600, 1000])
def test_em_and_nnls_on_tiny_and_huge_values(exponent):
    """Scaling the bulk and the reference by 2^exponent (exact) changes neither
    method's proportions; the log-likelihood scales with the bulk."""
    rng = np.random.default_rng(7)
    S = rng.gamma(0.5, 100, size=(120, 4))
    Y = rng.poisson(S @ rng.dirichlet(np.ones(4), size=6).T * 20).astype(float)
    fit = multinomial_em(Y, S)
    small = multinomial_em(np.ldexp(Y, exponent), np.ldexp(S, exponent))
    assert np.allclose(small.proportions, fit.proportions, rtol=0, atol=1e-9)
    assert np.allclose(np.ldexp(fit.loglik, exponent), small.loglik, rtol=1e-9)
    assert np.allclose(nnls(np.ldexp(Y, exponent), np.ldexp(S, exponent)), nnls(Y, S), atol=1e-9)
