"""Cell-type proportions of bulk expression by EM on a multinomial mixture.

Each unit of a bulk sample's expression ``y`` (genes) is drawn from one cell
type ``k`` with probability ``pi_k`` (the *expression* fractions), and then
from that type's reference profile normalised to sum one, ``q_k = S[:, k] /
sum(S[:, k])``.  The log-likelihood

    ln L(pi) = sum_g y_g ln sum_k pi_k q_gk

is concave in ``pi``, so EM (responsibilities ``pi_k q_gk / sum_k pi_k q_gk``,
then ``pi_k = sum_g y_g r_gk / sum_g y_g``) reaches the unique maximum from
any start, but only sublinearly where weights go to zero: thousands of plain
iterations with many near-zero types.  By default a few SQUAREM-accelerated
EM updates (through the shared engine) are finished by active-set Newton
steps on the simplex (sequential quadratic programming with a line search,
:func:`newton_simplex`), which converge quadratically to the maximum and
stop when its optimality conditions hold.  Cell fractions are the
expression fractions divided by the reference column totals (the mRNA each
type contributes per cell, on the reference's scale), renormalised to one.

:func:`nnls` is the non-negative least-squares baseline (renormalised).
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import numpy as np

from ..em.engine import FitResult, run_em
from ..errors import ConvergenceWarning, InputFormatError

__all__ = ["DeconvolutionFit", "multinomial_em", "nnls"]


@dataclasses.dataclass(frozen=True)
class DeconvolutionFit:
    """Proportions of every sample.

    Attributes
    ----------
    proportions : float64 array (n_samples, n_types)
        Cell fractions (rows sum to one).
    expression_fractions : float64 array (n_samples, n_types)
        Shares of each sample's expression (the mixture weights).
    loglik : float64 array (n_samples,)
    fits : list of FitResult
    """

    proportions: np.ndarray
    expression_fractions: np.ndarray
    loglik: np.ndarray
    fits: list[FitResult]


def check_inputs(Y: Any, S: Any) -> tuple[np.ndarray, np.ndarray]:
    """Linear-scale, non-negative bulk (genes x samples) and reference (genes x types)."""
    y = np.asarray(Y, dtype=np.float64)
    s = np.asarray(S, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2 or s.ndim != 2 or y.shape[0] != s.shape[0]:
        raise InputFormatError(
            "mixtures (genes x samples) and reference (genes x types) must have the same genes"
        )
    for name, a in (("mixtures", y), ("reference", s)):
        if not np.all(np.isfinite(a)):
            raise InputFormatError(f"{name} have NaN or infinite values")
        if np.any(a < 0):
            raise InputFormatError(f"{name} have negative values (log-scale data?)")
    totals = s.sum(axis=0)
    if np.any(totals <= 0):
        raise InputFormatError(f"reference type {int(np.argmin(totals)) + 1} is all zero")
    return y, s


class _Mixture:
    """EM problem of one sample: mixture weights over fixed profiles."""

    def __init__(self, y: np.ndarray, q: np.ndarray, start: np.ndarray) -> None:
        self.y = y
        self.q = q
        self.start = start
        self.total = float(self.y.sum())

    def initial_params(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {"pi": self.start.copy()}

    def e_step(self, params: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], float]:
        mix = self.q @ params["pi"]
        with np.errstate(divide="ignore"):
            ll = float(self.y @ np.log(mix))
        # expected units per type: pi_k sum_g y_g q_gk / mix_g
        counts = params["pi"] * (self.q.T @ (self.y / mix))
        return {"counts": counts}, ll

    def m_step(self, stats: dict[str, np.ndarray], params: dict[str, np.ndarray]) -> dict:
        return {"pi": stats["counts"] / stats["counts"].sum()}

    def log_prior(self, params: dict[str, np.ndarray]) -> float:
        return 0.0

    def to_vector(self, params: dict[str, np.ndarray]) -> np.ndarray:
        return params["pi"].copy()

    def from_vector(self, vector: np.ndarray, like: dict) -> dict | None:
        if not np.all(np.isfinite(vector)) or np.any(vector < 0) or vector.sum() <= 0:
            return None
        return {"pi": vector / vector.sum()}


def multinomial_em(
    Y: Any,
    S: Any,
    *,
    tol: float = 1e-12,
    max_iter: int = 20000,
    accelerate: str | None = "squarem",
) -> DeconvolutionFit:
    """Proportions of every bulk sample (columns of ``Y``) by the multinomial mixture EM.

    Parameters
    ----------
    Y : array (genes, samples)
        Linear-scale bulk expression.
    S : array (genes, types)
        Linear-scale reference profiles.
    tol : float
        Plain EM (``accelerate=None``) stops when the log-likelihood rises
        by less than ``tol`` times the sample's total expression.  With
        ``accelerate="squarem"`` (default) a few accelerated EM updates are
        finished by Newton steps on the simplex, which stop at the
        optimality conditions.
    max_iter : int
        Most EM updates (plain) or Newton steps (accelerated).
    """
    y, s = check_inputs(Y, S)
    totals = s.sum(axis=0)
    q = s / totals
    n_types = s.shape[1]
    fractions = np.empty((y.shape[1], n_types))
    ll = np.empty(y.shape[1])
    fits = []
    for j in range(y.shape[1]):
        keep = y[:, j] > 0
        if not keep.any():
            raise InputFormatError(f"mixture sample {j + 1} has no expression")
        fractions[j], ll[j], fit = _maximise(
            y[keep, j], q[keep], tol=tol, max_iter=max_iter, accelerate=accelerate
        )
        fits.append(fit)
    cells = fractions / totals[None]
    cells /= cells.sum(axis=1, keepdims=True)
    return DeconvolutionFit(cells, fractions, ll, fits)


#: SQUAREM updates before the Newton finish (they bring the weights where the
#: quadratic model of the log-likelihood is good; the finish converges from
#: almost anywhere, these make it take fewer steps).
BURN_IN = 10


def _maximise(
    y: np.ndarray, q: np.ndarray, *, tol: float, max_iter: int, accelerate: str | None
) -> tuple[np.ndarray, float, FitResult]:
    """The maximum of one sample's likelihood.

    Plain EM (``accelerate=None``) runs to ``tol`` as it is: the reference
    behaviour, which only approaches a zero weight sublinearly.  With
    SQUAREM, :data:`BURN_IN` accelerated EM updates are followed by
    active-set Newton steps on the simplex (:func:`newton_simplex`) until the
    Karush-Kuhn-Tucker conditions of the concave problem hold; ``n_iter``
    counts both.
    """
    k = q.shape[1]
    total = float(y.sum())
    start = _Mixture(y, q, np.full(k, 1.0 / k))
    if accelerate is None:
        params, fit = run_em(start, max_iter=max_iter, tol=tol * total, accelerate=None)
        return params["pi"], fit.loglik, fit
    budget = min(BURN_IN, max_iter)
    with warnings.catch_warnings():  # the burn-in is not meant to converge
        warnings.simplefilter("ignore", ConvergenceWarning)
        params, fit = run_em(start, max_iter=budget, tol=tol * total, accelerate=accelerate)
    pi, loglik, steps, optimal = newton_simplex(y, q, params["pi"], max_iter=max_iter)
    fit = dataclasses.replace(
        fit,
        n_iter=fit.n_iter + steps,
        loglik=loglik,
        objective=loglik,
        converged=optimal,
        stop_reason="tol" if optimal else "max_iter",
        history=fit.history + (loglik,),
    )
    return pi, loglik, fit


def simplex_qp(h: np.ndarray, c: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Minimise ``z'hz / 2 - c'z`` over the probability simplex (primal active set).

    ``h`` must be positive definite; ``z`` is a feasible start.  Each round
    solves the problem on the free coordinates with the sum constraint
    (the multiplier eliminated through a Cholesky factor); a solution with a
    negative coordinate is approached only up to the boundary, where that
    coordinate leaves; a solution that is feasible is optimal unless a
    fixed coordinate has a negative multiplier, which is then freed.
    """
    k = c.size
    z = z.copy()
    free = z > 0
    scale = max(1.0, float(np.abs(c).max()))
    for _ in range(20 * k + 20):
        use = np.flatnonzero(free)
        sub = h[np.ix_(use, use)]
        try:
            lower = np.linalg.cholesky(sub)
            hc = _cho_solve(lower, c[use])
            h1 = _cho_solve(lower, np.ones(use.size))
        except np.linalg.LinAlgError:
            hc = np.linalg.lstsq(sub, c[use], rcond=None)[0]
            h1 = np.linalg.lstsq(sub, np.ones(use.size), rcond=None)[0]
        lam = (hc.sum() - 1.0) / h1.sum()
        w = hc - lam * h1
        if np.all(w >= 0):
            z = np.zeros(k)
            z[use] = w
            mult = h @ z - c + lam  # of the constraints z_j >= 0
            mult[use] = 0.0
            j = int(np.argmin(mult))
            if mult[j] >= -1e-12 * scale:
                return z
            free[j] = True
            continue
        zu = z[use]
        neg = w < 0
        alpha = float(np.min(zu[neg] / (zu[neg] - w[neg])))
        zu = np.maximum(zu + alpha * (w - zu), 0.0)
        zu[neg & (zu <= 1e-15 * zu.max(initial=1.0))] = 0.0
        z = np.zeros(k)
        z[use] = zu
        z /= z.sum()
        free = z > 0
    return z


def _cho_solve(lower: np.ndarray, b: np.ndarray) -> np.ndarray:
    from scipy.linalg import solve_triangular

    return solve_triangular(lower.T, solve_triangular(lower, b, lower=True), lower=False)


def newton_simplex(
    y: np.ndarray, q: np.ndarray, pi: np.ndarray, *, max_iter: int = 100
) -> tuple[np.ndarray, float, int, bool]:
    """Maximise ``sum_g y_g ln (q pi)_g`` over the simplex by sequential quadratic programming.

    Each step maximises the second-order model of the log-likelihood at
    ``pi`` over the simplex (:func:`simplex_qp`; the Hessian, negative
    semi-definite, gets a ridge of 1e-10 of its mean diagonal so the model
    has one maximum even with collinear profiles) and moves towards it with
    a backtracking (Armijo) line search, so the likelihood rises at every
    step.  Near the maximum the steps are Newton steps on the active face
    and converge quadratically, where EM converges sublinearly to a zero
    weight.

    Returns
    -------
    pi, loglik, steps, optimal
        ``optimal``: the Karush-Kuhn-Tucker conditions hold (every type's
        likelihood gradient at most the total expression, equal on the
        types in use, to a relative 1e-6 at the end; steps continue while
        they raise the likelihood and the conditions miss 1e-10).
    """
    total = float(y.sum())

    def loglik(p: np.ndarray) -> float:
        with np.errstate(divide="ignore"):
            return float(y @ np.log(q @ p))

    pi = np.asarray(pi, dtype=float).copy()
    best = loglik(pi)
    steps = 0
    for steps in range(1, max_iter + 1):
        mix = q @ pi
        grad = q.T @ (y / mix)
        if _kkt(grad, pi, total, 1e-10):
            return pi, best, steps - 1, True
        h = (q * (y / mix**2)[:, None]).T @ q
        h[np.diag_indices_from(h)] += 1e-10 * float(np.trace(h)) / h.shape[0]
        z = simplex_qp(h, grad + h @ pi, pi)
        d = z - pi
        slope = float(grad @ d)
        if not slope > 0:
            break
        t = 1.0
        for _ in range(60):
            trial = np.maximum(pi + t * d, 0.0)
            trial /= trial.sum()
            value = loglik(trial)
            if value >= best + 1e-4 * t * slope:
                break
            t *= 0.5
        else:
            break
        pi, best = trial, value
    mix = q @ pi
    return pi, best, steps, _kkt(q.T @ (y / mix), pi, total, 1e-6)


def _kkt(grad: np.ndarray, pi: np.ndarray, total: float, rtol: float) -> bool:
    """Optimality on the simplex: gradient <= total everywhere, = total where pi > 0."""
    if np.any(grad > total * (1 + rtol)):
        return False
    return bool(np.all(grad[pi > 0] >= total * (1 - rtol)))


def nnls(Y: Any, S: Any) -> np.ndarray:
    """Non-negative least squares per sample, renormalised to sum one."""
    from scipy.optimize import nnls as scipy_nnls

    y, s = check_inputs(Y, S)
    out = np.empty((y.shape[1], s.shape[1]))
    for j in range(y.shape[1]):
        coef, _ = scipy_nnls(s, y[:, j])
        total = coef.sum()
        out[j] = coef / total if total > 0 else np.nan
    return out
