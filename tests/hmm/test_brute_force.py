"""Forward-backward, Viterbi and expected counts against path enumeration."""

import numpy as np
import pytest

from seqem import CategoricalHMM, GaussianHMM
from seqem.hmm import _kernels as K
from tests.reference import brute_force as bf

CASES = [(T, N, seed) for T in (1, 2, 5, 8) for N in (1, 2, 3) for seed in (0, 1)]


def random_categorical(rng, N, n_symbols):
    model = CategoricalHMM(N, n_features=n_symbols, init_params="")
    model.startprob_ = rng.dirichlet(np.ones(N))
    model.transmat_ = rng.dirichlet(np.ones(N), size=N)
    model.emissionprob_ = rng.dirichlet(np.ones(n_symbols), size=N)
    return model


@pytest.mark.parametrize("T,N,seed", CASES)
def test_categorical_against_enumeration(T, N, seed):
    rng = np.random.default_rng(100 + seed)
    model = random_categorical(rng, N, 3)
    X = rng.integers(0, 3, size=T)
    frames = model.emissionprob_[:, X].T
    ref_like = bf.likelihood(model.startprob_, model.transmat_, frames)
    assert model.score(X) == pytest.approx(np.log(ref_like), rel=1e-12, abs=1e-12)
    logprob, post = model.score_samples(X)
    ref_post = bf.posteriors(model.startprob_, model.transmat_, frames)
    np.testing.assert_allclose(post, ref_post, rtol=0, atol=1e-12)
    path, p = bf.best_path(model.startprob_, model.transmat_, frames)
    vit_logprob, vit_path = model.decode(X)
    assert vit_logprob == pytest.approx(np.log(p), rel=1e-12)
    # the enumerated best path must score exactly as the Viterbi one
    assert np.array_equal(vit_path, path) or np.isclose(
        np.log(
            bf.path_probabilities(model.startprob_, model.transmat_, frames)[1][
                int(np.ravel_multi_index(vit_path, (N,) * T))
            ]
        ),
        np.log(p),
        rtol=1e-12,
    )


@pytest.mark.parametrize("T,N,seed", CASES)
def test_expected_transitions_against_enumeration(T, N, seed):
    rng = np.random.default_rng(200 + seed)
    model = random_categorical(rng, N, 2)
    X = rng.integers(0, 2, size=T)
    frames = np.ascontiguousarray(model.emissionprob_[:, X].T)
    bounds = np.array([0, T], dtype=np.int64)
    loglik, start, trans = K.forward_backward(
        frames.copy(),
        np.zeros(T),
        bounds,
        K.sequence_chunks(bounds),
        model.startprob_,
        model.transmat_,
        True,
    )
    ref = bf.expected_transitions(model.startprob_, model.transmat_, frames)
    np.testing.assert_allclose(trans, ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        start, bf.posteriors(model.startprob_, model.transmat_, frames)[0], atol=1e-12
    )


@pytest.mark.parametrize("covariance_type", ["diag", "full"])
@pytest.mark.parametrize("T,N,seed", [(T, N, s) for T in (3, 8) for N in (2, 3) for s in (0, 1)])
def test_gaussian_against_enumeration(covariance_type, T, N, seed):
    rng = np.random.default_rng(300 + seed)
    d = 2
    model = GaussianHMM(N, covariance_type=covariance_type, init_params="")
    model.startprob_ = rng.dirichlet(np.ones(N))
    model.transmat_ = rng.dirichlet(np.ones(N), size=N)
    model.means_ = rng.normal(size=(N, d))
    if covariance_type == "diag":
        model.covars_ = rng.uniform(0.3, 2.0, size=(N, d))
    else:
        M = rng.normal(size=(N, d, d))
        model.covars_ = M @ np.swapaxes(M, 1, 2) + 0.5 * np.eye(d)
    X = rng.normal(size=(T, d)) * 1.5
    frames = bf.gaussian_frames(X, model.means_, model.covars_, covariance_type)
    ref = np.log(bf.likelihood(model.startprob_, model.transmat_, frames))
    assert model.score(X) == pytest.approx(ref, rel=1e-12)
    np.testing.assert_allclose(
        model.predict_proba(X),
        bf.posteriors(model.startprob_, model.transmat_, frames),
        rtol=0,
        atol=1e-12,
    )


def test_several_sequences_are_independent():
    rng = np.random.default_rng(7)
    model = random_categorical(rng, 3, 4)
    X = rng.integers(0, 4, size=13)
    lengths = [5, 1, 7]
    parts = np.split(X, np.cumsum(lengths)[:-1])
    expected = sum(
        np.log(bf.likelihood(model.startprob_, model.transmat_, model.emissionprob_[:, p].T))
        for p in parts
    )
    assert model.score(X, lengths) == pytest.approx(expected, rel=1e-12)
    per_seq = model.score_sequences(X, lengths)
    assert per_seq.shape == (3,)


def test_missing_symbol_is_marginalised():
    rng = np.random.default_rng(8)
    model = random_categorical(rng, 2, 3)
    X = np.array([0, -1, 2, -1, 1])
    frames = np.ones((5, 2))
    for t, x in enumerate(X):
        if x >= 0:
            frames[t] = model.emissionprob_[:, x]
    ref = np.log(bf.likelihood(model.startprob_, model.transmat_, frames))
    assert model.score(X) == pytest.approx(ref, rel=1e-12)
