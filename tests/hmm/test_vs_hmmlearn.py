"""seqem against hmmlearn on the same parameters and data.

hmmlearn is the tool seqem replaces; both compute exact quantities, so the
tolerances are round-off: 1e-9 relative on log-likelihoods, 1e-8 on
posteriors and on parameters after one Baum-Welch iteration.  hmmlearn's
Gaussian M-step adds ``covars_prior`` (default 1e-2) to the scatter; it is
set to 0 here so that both compute maximum likelihood.
"""

import warnings

import numpy as np
import pytest

from seqem import CategoricalHMM, GaussianHMM

hmm = pytest.importorskip("hmmlearn.hmm", reason="hmmlearn is the reference; pip install hmmlearn")

LENGTHS = [120, 37, 1, 250, 64]


def params_categorical(rng, N, n_symbols):
    return {
        "startprob_": rng.dirichlet(np.ones(N)),
        "transmat_": rng.dirichlet(np.ones(N), size=N),
        "emissionprob_": rng.dirichlet(np.ones(n_symbols), size=N),
    }


def params_gaussian(rng, N, d, covariance_type):
    if covariance_type == "diag":
        covars = rng.uniform(0.5, 2.0, size=(N, d))
    else:
        M = rng.normal(size=(N, d, d))
        covars = M @ np.swapaxes(M, 1, 2) + 0.5 * np.eye(d)
    return {
        "startprob_": rng.dirichlet(np.ones(N)),
        "transmat_": rng.dirichlet(np.ones(N), size=N),
        "means_": rng.normal(size=(N, d)) * 2.0,
        "covars_": covars,
    }


def make_pair(kind, rng, N):
    if kind == "categorical":
        p = params_categorical(rng, N, 4)
        ours = CategoricalHMM(N, n_features=4, init_params="", max_iter=1, tol=0.0)
        ref = hmm.CategoricalHMM(N, n_features=4, init_params="", n_iter=1, tol=0.0)
        X = rng.integers(0, 4, size=sum(LENGTHS))
        Xref = X[:, None]
    else:
        cov = kind.split("-")[1]
        p = params_gaussian(rng, N, 3, cov)
        ours = GaussianHMM(
            N, covariance_type=cov, init_params="", max_iter=1, tol=0.0, min_covar=1e-12
        )
        ref = hmm.GaussianHMM(
            N,
            covariance_type=cov,
            init_params="",
            n_iter=1,
            tol=0.0,
            covars_prior=0.0,
            min_covar=1e-12,
        )
        X = rng.normal(size=(sum(LENGTHS), 3)) * 2.0
        Xref = X
    for name, value in p.items():
        setattr(ours, name, value.copy())
        setattr(ref, name, value.copy())
    return ours, ref, X, Xref


KINDS = ["categorical", "gaussian-diag", "gaussian-full"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("N", [1, 3, 6])
@pytest.mark.parametrize("seed", [0, 1])
def test_inference_matches_hmmlearn(kind, N, seed):
    rng = np.random.default_rng(1000 * N + seed)
    ours, ref, X, Xref = make_pair(kind, rng, N)
    assert ours.score(X, LENGTHS) == pytest.approx(ref.score(Xref, LENGTHS), rel=1e-9)
    lp, post = ours.score_samples(X, LENGTHS)
    ref_lp, ref_post = ref.score_samples(Xref, LENGTHS)
    assert lp == pytest.approx(ref_lp, rel=1e-9)
    np.testing.assert_allclose(post, ref_post, rtol=0, atol=1e-8)
    vit_lp, path = ours.decode(X, LENGTHS)
    ref_vit_lp, ref_path = ref.decode(Xref, LENGTHS, algorithm="viterbi")
    assert vit_lp == pytest.approx(ref_vit_lp, rel=1e-9)
    np.testing.assert_array_equal(path, ref_path)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("N", [2, 5])
def test_one_baum_welch_iteration_matches_hmmlearn(kind, N):
    rng = np.random.default_rng(77 + N)
    ours, ref, X, Xref = make_pair(kind, rng, N)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours.fit(X, LENGTHS)
        ref.fit(Xref, LENGTHS)
    np.testing.assert_allclose(ours.startprob_, ref.startprob_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(ours.transmat_, ref.transmat_, rtol=0, atol=1e-8)
    if kind == "categorical":
        np.testing.assert_allclose(ours.emissionprob_, ref.emissionprob_, rtol=0, atol=1e-8)
    else:
        np.testing.assert_allclose(ours.means_, ref.means_, rtol=0, atol=1e-8)
        # hmmlearn's covars_ property always returns full matrices
        np.testing.assert_allclose(ours.covars_, ref._covars_, rtol=0, atol=1e-8)
    # our history starts at the given parameters: hmmlearn's first entry
    assert ours.fit_result_.history[0] == pytest.approx(ref.monitor_.history[0], rel=1e-9)


def test_fitted_categorical_reaches_hmmlearn_likelihood():
    """Full fits from the same start agree on the final likelihood."""
    rng = np.random.default_rng(5)
    ours, ref1, X, Xref = make_pair("categorical", rng, 3)
    ours.max_iter = 30
    # hmmlearn builds its convergence monitor in __init__: make a new model
    ref = hmm.CategoricalHMM(3, n_features=4, init_params="", n_iter=30, tol=0.0)
    for name in ("startprob_", "transmat_", "emissionprob_"):
        setattr(ref, name, getattr(ref1, name))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours.fit(X, LENGTHS)
        ref.fit(Xref, LENGTHS)
    assert ours.score(X, LENGTHS) == pytest.approx(ref.score(Xref, LENGTHS), rel=1e-9)
