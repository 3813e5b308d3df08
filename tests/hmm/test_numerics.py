"""Long sequences, threads, and recovery of simulated parameters."""

import warnings

import numpy as np
import pytest

from seqem import CategoricalHMM, GaussianHMM
from seqem.hmm import _kernels as K


def test_million_steps_no_underflow():
    """T = 1e6, N = 8: the scaled forward pass stays finite and exact.

    Reference: with every state emitting the same distribution, the
    likelihood factorises to prod_t E[x_t] whatever the transitions, so the
    exact log-likelihood is a plain sum (computed with math.fsum).
    """
    rng = np.random.default_rng(11)
    N, T = 8, 1_000_000
    model = CategoricalHMM(N, n_features=4, init_params="")
    model.startprob_ = rng.dirichlet(np.ones(N))
    model.transmat_ = rng.dirichlet(np.ones(N), size=N)
    e = rng.dirichlet(np.ones(4))
    model.emissionprob_ = np.tile(e, (N, 1))
    X = rng.integers(0, 4, size=T)
    import math

    exact = math.fsum(np.log(e)[X])
    got = model.score(X)
    assert np.isfinite(got)
    assert got == pytest.approx(exact, rel=1e-10)
    # with distinct emissions, forward-only and forward-backward agree
    model.emissionprob_ = rng.dirichlet(np.ones(4), size=N)
    total = model.score(X)
    assert np.isfinite(total) and total < 0
    assert model.score_samples(X)[0] == pytest.approx(total, rel=1e-12)


@pytest.mark.parametrize("kind", ["categorical", "gaussian"])
def test_one_and_two_threads_agree(kind):
    rng = np.random.default_rng(12)
    lengths = rng.integers(50, 400, size=40)
    T = int(lengths.sum())
    results = []
    for n_threads in (1, 2):
        if kind == "categorical":
            model = CategoricalHMM(3, max_iter=5, tol=0, random_state=3, n_threads=n_threads)
            X = np.random.default_rng(1).integers(0, 4, size=T)
        else:
            model = GaussianHMM(3, max_iter=5, tol=0, random_state=3, n_threads=n_threads)
            X = np.random.default_rng(1).normal(size=(T, 2))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X, lengths)
        results.append((model, model.predict_proba(X, lengths), model.score(X, lengths)))
    (m1, p1, s1), (m2, p2, s2) = results
    assert s1 == pytest.approx(s2, rel=1e-12)
    np.testing.assert_allclose(p1, p2, rtol=0, atol=1e-12)
    np.testing.assert_allclose(m1.transmat_, m2.transmat_, rtol=0, atol=1e-12)
    np.testing.assert_allclose(m1.fit_result_.history, m2.fit_result_.history, rtol=1e-12)


def test_chunks_cover_sequences_in_order():
    bounds = np.array([0, 5, 5, 100, 101, 300], dtype=np.int64)
    chunks = K.sequence_chunks(bounds, max_chunks=3)
    assert chunks[0] == 0 and chunks[-1] == 5
    assert np.all(np.diff(chunks) > 0)


def _match_states(true_means, fit_means):
    """Permutation p with fit state p[i] matching true state i (by nearest means)."""
    from itertools import permutations

    n = len(true_means)
    best = min(
        permutations(range(n)),
        key=lambda p: np.sum((fit_means[list(p)] - true_means) ** 2),
    )
    return list(best)


def test_gaussian_parameters_recovered():
    """Simulate 3-state diag Gaussian data; fit from random starts.

    Tolerances: with n_i ~ T/3 = 20,000 draws per state and unit-scale
    variances, the standard error of a mean is sqrt(var / n_i) ~ 0.007 and of
    a transition probability sqrt(p (1 - p) / n_i) ~ 0.002; we allow 6
    standard errors (0.05 and 0.015).
    """
    rng = np.random.default_rng(21)
    truth = GaussianHMM(3, init_params="")
    truth.startprob_ = np.array([0.6, 0.3, 0.1])
    truth.transmat_ = np.array([[0.95, 0.03, 0.02], [0.04, 0.9, 0.06], [0.05, 0.05, 0.9]])
    truth.means_ = np.array([[0.0, 0.0], [3.0, -2.0], [-3.0, 3.0]])
    truth.covars_ = np.array([[1.0, 0.5], [0.8, 1.2], [1.5, 0.7]])
    lengths = [6000] * 10
    X, Z = truth.sample(sum(lengths), random_state=rng, lengths=lengths)
    model = GaussianHMM(3, n_init=3, random_state=4, max_iter=200, tol=1e-6)
    model.fit(X, lengths)
    p = _match_states(truth.means_, model.means_)
    assert model.fit_result_.converged
    se_mean = np.sqrt(truth.covars_ / (len(X) / 3))
    assert np.all(np.abs(model.means_[p] - truth.means_) < 6 * se_mean + 1e-3)
    np.testing.assert_allclose(model.covars_[p], truth.covars_, atol=0.05)
    np.testing.assert_allclose(model.transmat_[np.ix_(p, p)], truth.transmat_, atol=0.015)
    # decoding recovers the hidden states
    assert np.mean(model.predict(X, lengths) == np.asarray(p)[Z]) > 0.95


def test_categorical_parameters_recovered():
    """Two-state DNA-like HMM, 100,000 symbols.

    Emission probabilities are estimated from ~50,000 draws per state: the
    standard error is at most sqrt(0.25 / 50000) ~ 0.0022 before the cost of
    not knowing the states; 0.02 is ~9 standard errors.
    """
    truth = CategoricalHMM(2, n_features=4, init_params="")
    truth.startprob_ = np.array([0.5, 0.5])
    truth.transmat_ = np.array([[0.99, 0.01], [0.02, 0.98]])
    truth.emissionprob_ = np.array([[0.35, 0.15, 0.15, 0.35], [0.1, 0.4, 0.4, 0.1]])
    lengths = [10000] * 10
    X, Z = truth.sample(sum(lengths), random_state=5, lengths=lengths)
    model = CategoricalHMM(2, n_init=4, random_state=9, max_iter=300, tol=1e-6)
    model.fit(X, lengths)
    p = [0, 1] if model.emissionprob_[0, 0] > model.emissionprob_[1, 0] else [1, 0]
    np.testing.assert_allclose(model.emissionprob_[p], truth.emissionprob_, atol=0.02)
    np.testing.assert_allclose(model.transmat_[np.ix_(p, p)], truth.transmat_, atol=0.006)
