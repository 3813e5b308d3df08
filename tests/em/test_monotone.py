"""EM never lowers its objective: hypothesis over random HMM problems.

The objective is the log-likelihood plus the log prior; a fall larger than
round-off (relative 1e-10 of its size) fails.  Also checked: the report says
converged exactly when the last change was below ``tol``.
"""

import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqem import CategoricalHMM, GaussianHMM


def assert_monotone(result, tol):
    h = np.asarray(result.history)
    slack = 1e-10 * np.maximum(np.abs(h[1:]), np.abs(h[:-1])) + 1e-12
    assert np.all(np.diff(h) >= -slack), np.diff(h).min()
    assert result.decreases == ()
    last = h[-1] - h[-2] if len(h) > 1 else np.inf
    if result.converged:
        assert result.stop_reason == "tol" and last < tol
    else:
        assert result.stop_reason in ("max_iter", "no_iter")


problem = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 2**32 - 1),
        "n_components": st.integers(1, 4),
        "n_sequences": st.integers(1, 4),
        "length": st.integers(1, 60),
        "squarem": st.booleans(),
        "prior": st.sampled_from([1.0, 1.5, 3.0]),
    }
)


@settings(max_examples=70, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem)
def test_categorical_em_never_decreases(p):
    rng = np.random.default_rng(p["seed"])
    lengths = rng.integers(1, p["length"] + 1, size=p["n_sequences"])
    X = rng.integers(0, 3, size=int(lengths.sum()))
    tol = 1e-4
    model = CategoricalHMM(
        p["n_components"],
        n_features=3,
        max_iter=40,
        tol=tol,
        random_state=p["seed"],
        transmat_prior=p["prior"],
        emissionprob_prior=p["prior"],
        accelerate="squarem" if p["squarem"] else None,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, lengths)
    assert_monotone(model.fit_result_, tol)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem, st.sampled_from(["diag", "full"]))
def test_gaussian_em_never_decreases(p, covariance_type):
    rng = np.random.default_rng(p["seed"])
    lengths = rng.integers(5, p["length"] + 6, size=p["n_sequences"])
    X = rng.normal(size=(int(lengths.sum()), 2)) + rng.integers(0, 3, size=(int(lengths.sum()), 1))
    tol = 1e-4
    model = GaussianHMM(
        p["n_components"],
        covariance_type=covariance_type,
        max_iter=40,
        tol=tol,
        min_covar=1e-2,
        random_state=p["seed"],
        transmat_prior=p["prior"],
        means_weight=p["prior"] - 1.0,
        covars_prior=0.1 * (p["prior"] - 1.0),
        covars_weight=p["prior"] + 1.0,
        accelerate="squarem" if p["squarem"] else None,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, lengths)
    assert_monotone(model.fit_result_, tol)
