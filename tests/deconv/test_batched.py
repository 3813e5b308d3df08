"""The batched multinomial fit (all samples at once) against the per-sample path; the
robust fit's normal-equation NNLS against SciPy's, and its batched EM (blocks of samples)
against the per-sample EM through the generic engine (``batched=False``).

The robust fit has two batched paths, both checked against the per-sample EM:
blocks of samples whose passes over the genes are BLAS products (many genes),
and each sample's whole EM in one compiled call (up to ``COMPILED_WORK``).

The reference is :func:`newton_simplex` run on one sample at a time (the
per-sample fit before batching: its optimality test, to 1e-10) and, for the
likelihood, long plain EM.  The maximum is unique, so the two fits must give
the same proportions up to the precision of the optimality conditions.
"""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import pytest

from seqem.deconv import _blocks
from seqem.deconv._kernels import simplex_step
from seqem.deconv.mixture import multinomial_em, newton_simplex

from .test_mixture import CASES, dataset, needs_data


def per_sample(Y: np.ndarray, S: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expression fractions and log-likelihoods, one sample at a time."""
    q = S / S.sum(axis=0)
    k = S.shape[1]
    pis, lls = [], []
    for j in range(Y.shape[1]):
        keep = Y[:, j] > 0
        pi, ll, _, optimal = newton_simplex(Y[keep, j], q[keep], np.full(k, 1.0 / k), max_iter=500)
        assert optimal
        pis.append(pi)
        lls.append(ll)
    return np.array(pis), np.array(lls)


def random_problem(rng: np.random.Generator, n_samples: int):
    k = int(rng.integers(2, 12))
    genes = int(rng.integers(k + 1, 400))
    S = rng.gamma(0.3, 1.0, size=(genes, k)) * (rng.random((genes, k)) < 0.8)
    S[:, S.sum(axis=0) == 0] = 1.0
    truth = rng.dirichlet(np.ones(k), size=n_samples) * (rng.random((n_samples, k)) < 0.6)
    truth[truth.sum(axis=1) == 0, 0] = 1.0
    truth /= truth.sum(axis=1, keepdims=True)
    depth = rng.choice([50.0, 2000.0, 1e5])
    Y = rng.poisson(depth * (S / S.sum(axis=0)) @ truth.T).astype(float)
    Y[:, Y.sum(axis=0) == 0] = S[:, :1] + 1.0  # no empty samples
    Y[S.sum(axis=1) == 0] = 0.0  # nor expression no type explains
    return Y, S


@pytest.mark.parametrize("seed", range(12))
def test_batched_equals_per_sample_on_random_problems(seed):
    """Zeros in the reference and in the truth, shallow and deep samples."""
    rng = np.random.default_rng(seed)
    Y, S = random_problem(rng, int(rng.integers(1, 40)))
    fit = multinomial_em(Y, S)
    pi, ll = per_sample(Y, S)
    assert all(f.converged for f in fit.fits)
    # measured at most 2e-8 over these problems
    assert np.abs(fit.expression_fractions - pi).max() < 1e-6
    assert np.all(fit.loglik >= ll - 1e-9 * np.abs(ll))


def test_many_blocks_threads_and_leaving_samples(monkeypatch):
    """Small blocks and chunks: samples leave their blocks at different steps;
    one and two threads give the same bits (fixed blocks, each summed alike)."""
    monkeypatch.setattr(_blocks, "BLOCK", 16)
    monkeypatch.setattr(_blocks, "CHUNK", 64)
    rng = np.random.default_rng(7)
    S = rng.gamma(0.5, 100, size=(300, 6))
    truth = rng.dirichlet(np.ones(6), size=90) * (rng.random((90, 6)) < 0.7)
    truth[truth.sum(axis=1) == 0, 0] = 1.0
    truth /= truth.sum(axis=1, keepdims=True)
    Y = rng.poisson(S @ truth.T).astype(float)
    one = multinomial_em(Y, S, n_threads=1)
    two = multinomial_em(Y, S, n_threads=2)
    assert np.array_equal(one.proportions, two.proportions)
    pi, ll = per_sample(Y, S)
    assert np.abs(one.expression_fractions - pi).max() < 1e-6
    assert len({f.n_iter for f in one.fits}) > 1


@needs_data
@pytest.mark.parametrize("name,variant", CASES)
def test_batched_equals_per_sample_on_the_shared_sets(name, variant):
    Y, S, _ = dataset(name, variant)
    fit = multinomial_em(Y, S)
    pi, ll = per_sample(Y, S)
    assert np.abs(fit.expression_fractions - pi).max() < 1e-6  # measured below 2e-8
    assert np.all(fit.loglik >= ll - 1e-9 * np.abs(ll))


def test_simplex_step_from_a_boundary_point():
    """The step form reaches the same minimiser as a dense solve of the faces."""
    from .test_mixture import brute_force_qp

    rng = np.random.default_rng(4)
    for _ in range(200):
        k = int(rng.integers(2, 6))
        a = rng.normal(size=(k + 2, k))
        h = a.T @ a + 1e-3 * np.eye(k)
        base = rng.dirichlet(np.ones(k)) * (rng.random(k) < 0.6)
        if base.sum() == 0:
            base[0] = 1.0
        base /= base.sum()
        g = rng.normal(size=k) * 3
        d = np.empty(k)
        simplex_step(h, g, base, d)
        z = base + d
        ref, best = brute_force_qp(h, g + h @ base)
        c = g + h @ base
        assert z.min() >= -1e-15 and z.sum() == pytest.approx(1.0, abs=1e-12)
        assert 0.5 * z @ h @ z - c @ z <= best + 1e-10 * max(1.0, abs(best))


def test_expression_where_no_type_is_expressed_is_an_error():
    from seqem.errors import InputFormatError

    S = np.array([[1.0, 2.0], [0.0, 0.0], [3.0, 1.0]])
    with pytest.raises(InputFormatError, match="sample 2 has expression in genes"):
        multinomial_em(np.array([[1.0, 1.0], [0.0, 2.0], [1.0, 1.0]]), S)
    fit = multinomial_em(np.array([[1.0], [0.0], [1.0]]), S)  # a silent gene is fine
    assert fit.fits[0].converged


@pytest.mark.parametrize("seed", range(6))
def test_nnls_from_normal_equations_equals_scipy(seed):
    """The robust fit's weighted NNLS (Gram form) against SciPy's on the weighted matrix,
    from nothing and from feasible starting points: at the optimum, near it (another
    passive set), and zero."""
    from scipy.optimize import nnls

    from seqem.deconv._kernels import nnls_gram, nnls_gram_from

    rng = np.random.default_rng(seed)
    for _ in range(50):
        k = int(rng.integers(1, 10))
        X = rng.gamma(0.5, 1.0, size=(int(rng.integers(k + 1, 200)), k))
        y = X @ (rng.random(k) * (rng.random(k) < 0.6)) + rng.normal(size=X.shape[0])
        ref, _ = nnls(X, y)
        out = np.empty(k)
        nnls_gram(X.T @ X, X.T @ y, 50 * k, out)
        assert np.abs(out - ref).max() <= 1e-9 * max(1.0, np.abs(ref).max())
        starts = [ref, np.maximum(ref + rng.normal(scale=0.5, size=k), 0.0), np.zeros(k),
                  rng.random(k)]  # fmt: skip
        for start in starts:
            nnls_gram_from(X.T @ X, X.T @ y, 50 * k, np.ascontiguousarray(start), out)
            assert np.abs(out - ref).max() <= 1e-9 * max(1.0, np.abs(ref).max())


def test_robust_threads_give_the_same_fit():
    from seqem.deconv.robust import robust_fit

    rng = np.random.default_rng(2)
    S = rng.gamma(0.5, 100, size=(200, 4))
    Y = rng.poisson(S @ rng.dirichlet(np.ones(4), size=7).T).astype(float)
    one, two = robust_fit(Y, S, n_threads=1), robust_fit(Y, S, n_threads=2)
    assert np.array_equal(one.proportions, two.proportions)
    assert np.array_equal(one.se, two.se)


def robust_problem(rng: np.random.Generator):
    """Counts from a gamma reference with zeros, some types absent, an outlying gene or two."""
    k = int(rng.integers(2, 9))
    genes = int(rng.integers(3 * k, 300))
    n = int(rng.integers(1, 30))
    S = rng.gamma(0.5, 100, size=(genes, k)) * (rng.random((genes, k)) < 0.85)
    S[:, S.sum(axis=0) == 0] = 1.0
    truth = rng.dirichlet(np.ones(k), size=n) * (rng.random((n, k)) < 0.7)
    truth[truth.sum(axis=1) == 0, 0] = 1.0
    Y = rng.poisson(rng.choice([0.2, 5.0, 100.0]) * S @ truth.T).astype(float)
    Y[rng.integers(genes, size=2)] *= 20.0  # genes the reference does not explain
    Y[:, Y.sum(axis=0) == 0] = 1.0
    var = rng.gamma(1.0, S + 1.0) if rng.random() < 0.5 else None
    return Y, S, var


def use_path(monkeypatch, path):
    """Send the batched robust fit down one path: ``blocks`` (blocks of 8 samples,
    chunks of 50 genes) or ``compiled`` (groups of 4 samples per call)."""
    import seqem.deconv.robust as robust

    if path == "blocks":
        monkeypatch.setattr(robust, "COMPILED_WORK", 0)
        monkeypatch.setattr(_blocks, "BLOCK", 8)
        monkeypatch.setattr(_blocks, "CHUNK", 50)
    else:
        monkeypatch.setattr(robust, "COMPILED_WORK", 10**12)
        monkeypatch.setattr(robust, "COMPILED_GROUP", 4)
        monkeypatch.setattr(robust, "COMPILED_HISTORY", 8)  # most samples fitted again


def assert_same_robust_fits(batched, reference):
    # the same EM updates, the sums over the genes taken in another order: measured
    # below 2e-14 on these problems and the shared sets
    assert np.abs(batched.proportions - reference.proportions).max() < 1e-10
    assert np.abs(batched.se - reference.se).max() < 1e-10
    assert np.abs(batched.coefficients - reference.coefficients).max() <= 1e-10 * max(
        1.0, np.abs(reference.coefficients).max()
    )
    assert [f.n_iter for f in batched.fits] == [f.n_iter for f in reference.fits]
    assert [f.converged for f in batched.fits] == [f.converged for f in reference.fits]
    assert np.allclose(batched.loglik, reference.loglik, rtol=1e-12, atol=0)
    for b, r in zip(batched.fits, reference.fits, strict=True):
        assert np.allclose(b.history, r.history, rtol=1e-12, atol=0)


@pytest.mark.parametrize("path", ["blocks", "compiled"])
@pytest.mark.parametrize("seed", range(10))
def test_robust_batched_equals_per_sample_on_random_problems(seed, path, monkeypatch):
    """Blocks of 8 samples and chunks of 50 genes: samples leave their blocks at
    different rounds and every pass sums over several chunks; compiled, groups of
    4 samples per call, on two threads."""
    from seqem.deconv.robust import robust_fit

    use_path(monkeypatch, path)
    rng = np.random.default_rng(100 + seed)
    Y, S, var = robust_problem(rng)
    other = bool(rng.random() < 0.3)
    Y = Y / Y.sum(axis=0) * 1e6 if other else Y
    S = S / S.sum(axis=0) * 1e6 if other else S
    nu = float(rng.choice([4.0, 50.0]))  # logarithms of products, and one per gene
    kw = dict(var=None if var is None or other else var, other=other, nu=nu)
    batched = robust_fit(Y, S, **kw, n_threads=2)
    reference = robust_fit(Y, S, **kw, batched=False)
    assert_same_robust_fits(batched, reference)
    assert len({f.n_iter for f in batched.fits}) > 1 or Y.shape[1] == 1
    # without standard errors: the same fit, no sandwich
    bare = robust_fit(Y, S, **kw, n_threads=2, standard_errors=False)
    assert bare.se is None
    assert np.array_equal(bare.proportions, batched.proportions)
    assert [f.history for f in bare.fits] == [f.history for f in batched.fits]


@pytest.mark.parametrize("path", ["blocks", "compiled"])
@pytest.mark.parametrize("share", [0.0, 2.0])
def test_robust_gram_reuse_reaches_the_exact_em_optimum(share, path, monkeypatch):
    """The Gram matrix recomputed only when a step would lose (share 0) or at every
    update (share 2: the exact EM M-step): the same optimum as the default, batched
    and per sample alike, and the objective never falls."""
    import seqem.deconv.robust as robust

    rng = np.random.default_rng(106)
    Y, S, var = robust_problem(rng)
    use_path(monkeypatch, path)
    recomputed = []
    gram = robust._Block._gram
    monkeypatch.setattr(robust._Block, "_gram", lambda b, rows: recomputed.append(rows.size)
                        or gram(b, rows))  # fmt: skip
    default = robust.robust_fit(Y, S, var=var)
    if path == "blocks":
        assert sum(recomputed) > 0  # a problem where the default recomputes some
    monkeypatch.setattr(robust, "MODEL_SHARE", share)
    batched = robust.robust_fit(Y, S, var=var)
    assert_same_robust_fits(batched, robust.robust_fit(Y, S, var=var, batched=False))
    assert np.abs(batched.proportions - default.proportions).max() < 1e-6
    assert all(not f.decreases for f in batched.fits)


@pytest.mark.parametrize("path", ["blocks", "compiled"])
def test_robust_batched_budgets_and_threads(path, monkeypatch):
    """Runs cut short by max_iter (and none at all) end as they do sample by sample;
    one and two threads give the same bits."""
    from seqem.deconv.robust import robust_fit
    from seqem.errors import ConvergenceWarning

    use_path(monkeypatch, path)
    monkeypatch.setattr(_blocks, "BLOCK", 4)
    rng = np.random.default_rng(9)
    S = rng.gamma(0.5, 100, size=(200, 4))
    Y = rng.poisson(S @ rng.dirichlet(np.ones(4), size=11).T).astype(float)
    for max_iter in (0, 2):
        with pytest.warns(ConvergenceWarning) if max_iter else nullcontext():
            batched = robust_fit(Y, S, max_iter=max_iter)
        with pytest.warns(ConvergenceWarning) if max_iter else nullcontext():
            reference = robust_fit(Y, S, max_iter=max_iter, batched=False)
        assert_same_robust_fits(batched, reference)
        assert {f.stop_reason for f in batched.fits} == {f.stop_reason for f in reference.fits}
    one, two = robust_fit(Y, S, n_threads=1), robust_fit(Y, S, n_threads=2)
    assert np.array_equal(one.proportions, two.proportions)
    assert np.array_equal(one.se, two.se)


@needs_data
@pytest.mark.parametrize("path", ["blocks", "compiled"])
def test_robust_batched_equals_per_sample_on_a_shared_set(path, monkeypatch):
    """EPIC's melanoma set with its per-gene variances, mRNA per cell and 'other'."""
    from seqem.deconv.robust import robust_fit

    use_path(monkeypatch, path)
    from .test_robust import epic_extras

    Y, S, types = dataset("epic_melanoma_gse93722", "")
    var, mrna, value = epic_extras(types)
    kw = dict(var=var, other=True, mrna=mrna, mrna_other=value["otherCells"])
    batched = robust_fit(Y, S, **kw)
    reference = robust_fit(Y, S, **kw, batched=False)
    assert_same_robust_fits(batched, reference)
    assert np.abs(batched.other - reference.other).max() < 1e-10
