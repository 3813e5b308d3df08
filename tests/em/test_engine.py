"""The EM engine on a problem small enough to check by hand."""

import warnings

import numpy as np
import pytest
from scipy.special import gammaln

from seqem.em import FitResult, run_em
from seqem.errors import ConvergenceWarning, ParameterError


class PoissonMixture:
    """Two-component Poisson mixture: the textbook slow-converging EM."""

    def __init__(self, x):
        self.x = np.asarray(x, dtype=float)

    def initial_params(self, rng):
        return np.array([rng.uniform(0.2, 0.8), rng.uniform(0.5, 3), rng.uniform(3, 10)])

    def loglik(self, p):
        w, l1, l2 = p
        x = self.x
        a = np.log(w) + x * np.log(l1) - l1 - gammaln(x + 1)
        b = np.log1p(-w) + x * np.log(l2) - l2 - gammaln(x + 1)
        return np.logaddexp(a, b)

    def e_step(self, p):
        w, l1, l2 = p
        x = self.x
        a = np.log(w) + x * np.log(l1) - l1
        b = np.log1p(-w) + x * np.log(l2) - l2
        r = 1.0 / (1.0 + np.exp(b - a))
        return (r.sum(), (r * x).sum(), ((1 - r) * x).sum()), float(self.loglik(p).sum())

    def m_step(self, stats, p):
        r1, rx1, rx2 = stats
        n = len(self.x)
        return np.array([r1 / n, rx1 / r1, rx2 / (n - r1)])

    def log_prior(self, p):
        return 0.0

    def to_vector(self, p):
        return np.asarray(p, dtype=float)

    def from_vector(self, v, like):
        if not (0 < v[0] < 1 and v[1] > 0 and v[2] > 0):
            return None
        return v.copy()


@pytest.fixture(scope="module")
def poisson_data():
    rng = np.random.default_rng(31)
    return np.concatenate([rng.poisson(2.0, 700), rng.poisson(5.0, 300)])


def test_converged_means_tolerance_met(poisson_data):
    problem = PoissonMixture(poisson_data)
    params, res = run_em(problem, max_iter=5000, tol=1e-8, random_state=1)
    assert isinstance(res, FitResult)
    assert res.converged and res.stop_reason == "tol"
    assert 0 <= res.history[-1] - res.history[-2] < 1e-8
    assert res.n_iter == len(res.history) - 1
    assert res.loglik == pytest.approx(problem.loglik(params).sum())
    assert res.seed == 1 and res.elapsed >= 0


def test_budget_exhausted_is_not_convergence(poisson_data):
    problem = PoissonMixture(poisson_data)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        _, res = run_em(problem, max_iter=3, tol=1e-12, random_state=1)
    assert not res.converged and res.stop_reason == "max_iter" and res.n_iter == 3


def test_max_iter_zero_evaluates_only(poisson_data):
    problem = PoissonMixture(poisson_data)
    params, res = run_em(problem, max_iter=0, random_state=2)
    assert res.n_iter == 0 and res.stop_reason == "no_iter" and not res.converged
    start = problem.initial_params(np.random.default_rng(np.random.SeedSequence(2).spawn(1)[0]))
    np.testing.assert_allclose(params, start)


def test_restarts_keep_the_best(poisson_data):
    problem = PoissonMixture(poisson_data)
    _, res = run_em(problem, max_iter=20, tol=0, n_init=5, random_state=3)
    assert len(res.init_objectives) == 5
    assert res.objective == max(res.init_objectives)
    assert res.init_objectives[res.best_init] == res.objective


def test_same_seed_same_fit(poisson_data):
    problem = PoissonMixture(poisson_data)
    p1, r1 = run_em(problem, max_iter=50, n_init=2, random_state=9)
    p2, r2 = run_em(problem, max_iter=50, n_init=2, random_state=9)
    np.testing.assert_array_equal(p1, p2)
    assert r1.history == r2.history
    _, r3 = run_em(problem, max_iter=50, random_state=None)
    assert isinstance(r3.seed, int)


def test_squarem_same_optimum_fewer_iterations(poisson_data):
    problem = PoissonMixture(poisson_data)
    p_em, r_em = run_em(problem, max_iter=20000, tol=1e-10, random_state=4)
    p_sq, r_sq = run_em(problem, max_iter=20000, tol=1e-10, random_state=4, accelerate="squarem")
    assert r_sq.converged and r_em.converged
    assert r_sq.objective == pytest.approx(r_em.objective, abs=1e-6)
    np.testing.assert_allclose(np.sort(p_sq[1:]), np.sort(p_em[1:]), rtol=1e-3)
    assert r_sq.n_iter < r_em.n_iter / 2
    assert np.all(np.diff(r_sq.history) >= -1e-9)


class Broken(PoissonMixture):
    """An M-step that moves away from the optimum: EM's objective falls."""

    def m_step(self, stats, p):
        good = super().m_step(stats, p)
        return np.array([good[0], good[1] * 1.3, good[2]])

    def initial_params(self, rng):
        return np.array([0.7, 2.0, 5.0])


def test_decrease_is_reported_not_converged(poisson_data):
    problem = Broken(poisson_data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, res = run_em(problem, max_iter=10, tol=1e-3, random_state=0)
    assert res.decreases and res.decreases[0] == 1
    assert any("fell" in str(w.message) for w in caught)
    assert not (res.converged and res.n_iter in res.decreases)


@pytest.mark.parametrize(
    "kwargs",
    [{"max_iter": -1}, {"tol": -1.0}, {"n_init": 0}, {"accelerate": "aitken"}, {"tol": np.nan}],
)
def test_bad_settings(kwargs, poisson_data):
    with pytest.raises(ParameterError):
        run_em(PoissonMixture(poisson_data), **kwargs)


def test_result_serialises(poisson_data):
    import json

    _, res = run_em(PoissonMixture(poisson_data), max_iter=5, random_state=1)
    json.dumps(res.to_dict())
