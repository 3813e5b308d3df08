"""The EM loop shared by every seqem model.

A model describes its estimation problem with an object that follows
:class:`EMProblem`: how to draw starting parameters, an E-step that returns
sufficient statistics and the log-likelihood, an M-step that maps statistics
to parameters, and the log-density of its prior (zero for maximum
likelihood).  :func:`run_em` runs that problem from one or several starts,
optionally with SQUAREM acceleration, and reports what happened in a
:class:`FitResult`.

The objective EM maximises is ``loglik + log_prior``.  It must never fall; a
fall larger than round-off is recorded (``FitResult.decreases``), warned
about, and never counted as convergence.
"""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from ..errors import ConvergenceWarning, ParameterError, SeqemError

__all__ = ["EMProblem", "FitResult", "run_em", "make_seed"]

#: Relative size of a change in the objective that is treated as round-off.
ROUNDOFF_REL = 1e-10
ROUNDOFF_ABS = 1e-12


class EMProblem(Protocol):
    """What a model supplies to :func:`run_em`.

    ``params`` is whatever the model likes (a dict of arrays, usually).
    """

    def initial_params(self, rng: np.random.Generator) -> Any:
        """Starting parameters for one run."""

    def e_step(self, params: Any) -> tuple[Any, float]:
        """Sufficient statistics and the log-likelihood at ``params``."""

    def m_step(self, stats: Any, params: Any) -> Any:
        """Parameters that maximise the expected complete-data objective."""

    def log_prior(self, params: Any) -> float:
        """Log prior density of ``params`` (0.0 for maximum likelihood)."""


class VectorizableProblem(EMProblem, Protocol):
    """An :class:`EMProblem` whose update is a map on a parameter vector.

    Needed for SQUAREM.  ``from_vector`` returns ``None`` when the vector is
    outside the parameter space (a negative probability, say); the engine
    then falls back to a plain EM step.
    """

    def to_vector(self, params: Any) -> np.ndarray:
        """Free parameters as one float64 vector."""

    def from_vector(self, vector: np.ndarray, like: Any) -> Any | None:
        """Parameters from a vector, or ``None`` if the vector is invalid."""


@dataclasses.dataclass(frozen=True)
class FitResult:
    """How an EM fit went.

    Attributes
    ----------
    converged : bool
        True only if the objective changed by less than ``tol`` (and did not
        fall beyond round-off) before ``max_iter`` updates.
    stop_reason : str
        ``"tol"`` (converged), ``"max_iter"`` (budget spent), or
        ``"no_iter"`` (``max_iter=0``: parameters evaluated, not updated).
    n_iter : int
        Number of parameter updates (M-steps) in the winning run.
    loglik : float
        Log-likelihood of the data at the returned parameters.
    objective : float
        ``loglik`` plus the log prior density: what EM maximised.
    history : tuple of float
        Objective after each accepted update, starting with the start point.
    seed : int
        Seed of the random generator behind the starting points; passing it
        as ``random_state`` reproduces the fit.
    elapsed : float
        Wall-clock seconds for all runs.
    n_init : int
        Number of runs (restarts).
    best_init : int
        Index of the run whose parameters were kept.
    decreases : tuple of int
        Updates after which the objective fell beyond round-off (empty for a
        correct EM).
    accelerate : str or None
        ``"squarem"`` or ``None``.
    init_objectives : tuple of float
        Final objective of every run, in run order.
    """

    converged: bool
    stop_reason: str
    n_iter: int
    loglik: float
    objective: float
    history: tuple[float, ...]
    seed: int
    elapsed: float
    n_init: int = 1
    best_init: int = 0
    decreases: tuple[int, ...] = ()
    accelerate: str | None = None
    init_objectives: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (non-finite numbers become strings)."""

        def clean(x: Any) -> Any:
            if isinstance(x, float) and not math.isfinite(x):
                return str(x)
            if isinstance(x, tuple | list):
                return [clean(v) for v in x]
            return x

        return {k: clean(v) for k, v in dataclasses.asdict(self).items()}


def make_seed(random_state: Any) -> int:
    """An integer seed from ``None``, an int, or a NumPy Generator.

    ``None`` draws fresh entropy; the seed is returned so that it can be
    recorded and the run repeated.
    """
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1, dtype=np.uint64)[0] >> 1)
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**63 - 1))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**31 - 1))
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ParameterError(f"random_state must be >= 0, got {random_state}")
        return int(random_state)
    raise ParameterError(
        f"random_state must be None, an int or a numpy Generator, got {type(random_state).__name__}"
    )


def _is_decrease(old: float, new: float) -> bool:
    return new - old < -(ROUNDOFF_REL * max(abs(old), abs(new)) + ROUNDOFF_ABS)


class _Run:
    """State of one EM run: parameters, their statistics, the history."""

    def __init__(self, problem: EMProblem, params: Any, tol: float) -> None:
        self.problem = problem
        self.tol = tol
        self.params = params
        self.stats, self.loglik, self.objective = self._evaluate(params, 0)
        self.history = [self.objective]
        self.decreases: list[int] = []
        self.n_iter = 0
        if not math.isfinite(self.objective):
            raise SeqemError(
                "the starting parameters give the data zero likelihood; "
                "check that every observation can be emitted by some state"
            )

    def _evaluate(self, params: Any, iteration: int) -> tuple[Any, float, float]:
        stats, loglik = self.problem.e_step(params)
        objective = float(loglik) + float(self.problem.log_prior(params))
        if math.isnan(objective):
            raise SeqemError(
                f"numerical failure at iteration {iteration}: the log-likelihood is NaN"
            )
        return stats, float(loglik), objective

    def accept(self, params: Any, stats: Any, loglik: float, objective: float) -> bool:
        """Move to new parameters; True when the change meets the tolerance."""
        self.n_iter += 1
        old = self.objective
        self.params, self.stats, self.loglik, self.objective = params, stats, loglik, objective
        self.history.append(objective)
        if _is_decrease(old, objective):
            self.decreases.append(self.n_iter)
            warnings.warn(
                f"EM objective fell from {old:.10g} to {objective:.10g} at iteration "
                f"{self.n_iter}; this indicates a numerical problem",
                ConvergenceWarning,
                stacklevel=4,
            )
            return False
        return objective - old < self.tol

    def step(self) -> bool:
        """One plain EM update."""
        new = self.problem.m_step(self.stats, self.params)
        stats, loglik, objective = self._evaluate(new, self.n_iter + 1)
        return self.accept(new, stats, loglik, objective)


def _squarem_cycle(run: _Run, max_iter: int) -> bool:
    """One SQUAREM cycle (Varadhan & Roland 2008, scheme S3).

    Two EM steps give ``r`` and ``v``; the extrapolated point is stabilised
    by one EM step and kept only if its objective is at least that of the
    first EM step, otherwise the second plain EM step is taken.  Either way
    the objective does not fall.
    """
    problem = run.problem
    p0 = run.params
    if run.step() or run.n_iter >= max_iter:
        return True
    p1, obj1 = run.params, run.objective
    p2 = problem.m_step(run.stats, p1)
    x0 = problem.to_vector(p0)  # type: ignore[attr-defined]
    x1 = problem.to_vector(p1)  # type: ignore[attr-defined]
    x2 = problem.to_vector(p2)  # type: ignore[attr-defined]
    r = x1 - x0
    v = x2 - 2.0 * x1 + x0
    # Euclidean norms as np.linalg.norm computes them for vectors (sqrt of
    # the dot product), without its dispatch: this runs every cycle
    nv = math.sqrt(float(v.dot(v)))
    candidate = None
    if nv > 0.0:
        alpha = -math.sqrt(float(r.dot(r))) / nv
        if alpha < -1.0:
            x = x0 - 2.0 * alpha * r + alpha * alpha * v
            prime = problem.from_vector(x, p1)  # type: ignore[attr-defined]
            if prime is not None:
                stats_p, _, obj_p = run._evaluate(prime, run.n_iter + 1)
                if math.isfinite(obj_p) and obj_p >= obj1:
                    candidate = problem.m_step(stats_p, prime)
    if candidate is None:
        candidate = p2
    else:
        run.n_iter += 1  # the stabilising update counts as one
    stats, loglik, objective = run._evaluate(candidate, run.n_iter + 1)
    return run.accept(candidate, stats, loglik, objective)


def run_em(
    problem: EMProblem,
    *,
    max_iter: int = 100,
    tol: float = 1e-3,
    n_init: int = 1,
    random_state: Any = None,
    accelerate: str | None = None,
    callback: Callable[[int, int, float], None] | None = None,
) -> tuple[Any, FitResult]:
    """Fit by EM from ``n_init`` starts and keep the best.

    Parameters
    ----------
    problem : EMProblem
        The model's estimation problem (data bound in).
    max_iter : int
        Largest number of parameter updates per run.
    tol : float
        Stop when the objective (log-likelihood plus log prior) rises by less
        than this absolute amount in one update.
    n_init : int
        Number of runs from different starting points; the run with the
        highest final objective wins.
    random_state : None, int or numpy.random.Generator
        Source of the starting points; the integer seed used is reported.
    accelerate : {None, "squarem"}
        SQUAREM extrapolation; the problem must offer ``to_vector`` and
        ``from_vector``.
    callback : callable, optional
        ``callback(run_index, n_iter, objective)`` after every update.

    Returns
    -------
    params
        Parameters of the best run.
    FitResult
        How the fit went.
    """
    if not isinstance(max_iter, (int, np.integer)) or max_iter < 0:
        raise ParameterError(f"max_iter must be an integer >= 0, got {max_iter!r}")
    if not (isinstance(tol, (int, float)) and tol >= 0 and math.isfinite(tol)):
        raise ParameterError(f"tol must be a finite number >= 0, got {tol!r}")
    if not isinstance(n_init, (int, np.integer)) or n_init < 1:
        raise ParameterError(f"n_init must be an integer >= 1, got {n_init!r}")
    if accelerate not in (None, "squarem"):
        raise ParameterError(f"accelerate must be None or 'squarem', got {accelerate!r}")
    if accelerate == "squarem" and not hasattr(problem, "to_vector"):
        raise ParameterError("this model does not support SQUAREM acceleration")

    seed = make_seed(random_state)
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n_init)]
    start = time.perf_counter()
    best: tuple[_Run, bool] | None = None
    finals: list[float] = []
    best_index = 0
    for index, rng in enumerate(rngs):
        run = _Run(problem, problem.initial_params(rng), tol)
        converged = False
        while run.n_iter < max_iter and not converged:
            if accelerate == "squarem" and max_iter - run.n_iter >= 3:
                converged = _squarem_cycle(run, max_iter)
            else:
                converged = run.step()
            if callback is not None:
                callback(index, run.n_iter, run.objective)
        finals.append(run.objective)
        if best is None or run.objective > best[0].objective:
            best, best_index = (run, converged), index
    assert best is not None
    run, converged = best
    if converged:
        reason = "tol"
    elif max_iter == 0:
        reason = "no_iter"
    else:
        reason = "max_iter"
        warnings.warn(
            f"EM did not converge in {max_iter} iterations (last change "
            f"{run.history[-1] - run.history[-2] if len(run.history) > 1 else float('nan'):.3g}, "
            f"tol {tol:g}); increase max_iter or tol",
            ConvergenceWarning,
            stacklevel=3,
        )
    result = FitResult(
        converged=converged,
        stop_reason=reason,
        n_iter=run.n_iter,
        loglik=run.loglik,
        objective=run.objective,
        history=tuple(run.history),
        seed=seed,
        elapsed=time.perf_counter() - start,
        n_init=n_init,
        best_init=best_index,
        decreases=tuple(run.decreases),
        accelerate=accelerate,
        init_objectives=tuple(finals),
    )
    return run.params, result
