"""Cell-type proportions of bulk expression by EM on a multinomial mixture.

Each unit of a bulk sample's expression ``y`` (genes) is drawn from one cell
type ``k`` with probability ``pi_k`` (the *expression* fractions), and then
from that type's reference profile normalised to sum one, ``q_k = S[:, k] /
sum(S[:, k])``.  The log-likelihood

    ln L(pi) = sum_g y_g ln sum_k pi_k q_gk

is concave in ``pi``, so EM (responsibilities ``pi_k q_gk / sum_k pi_k q_gk``,
then ``pi_k = sum_g y_g r_gk / sum_g y_g``) reaches the unique maximum from
any start; it runs through the shared engine with SQUAREM, which cuts the
thousands of plain iterations that near-zero types cost (the plain EM's
convergence is sublinear there) to a few hundred.  Cell fractions are the
expression fractions divided by the reference column totals (the mRNA each
type contributes per cell, on the reference's scale), renormalised to one.

:func:`nnls` is the non-negative least-squares baseline (renormalised).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ..em.engine import FitResult, run_em
from ..errors import InputFormatError

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
        EM stops when the log-likelihood rises by less than ``tol`` times
        the sample's total expression; Newton steps on the simplex then
        finish the climb (with SQUAREM; plain EM is left as it stops).
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


#: A type whose weight falls below this is set to zero (and put back if the optimality
#: check asks for it).
ZERO = 1e-9


def _maximise(
    y: np.ndarray, q: np.ndarray, *, tol: float, max_iter: int, accelerate: str | None
) -> tuple[np.ndarray, float, FitResult]:
    """The maximum of one sample's likelihood, on the support it ends up using.

    EM (SQUAREM) runs on the types in the support; types whose weight falls
    below :data:`ZERO` leave it and EM runs again; at the end every type
    outside the support must have a likelihood gradient no larger than the
    total (the Karush-Kuhn-Tucker condition of the concave problem) or it
    is put back.  Plain EM only approaches a zero weight sublinearly.
    """
    k = q.shape[1]
    total = float(y.sum())
    support = np.ones(k, dtype=bool)
    returned = np.zeros(k, dtype=bool)  # put back once: never dropped again
    pi = np.full(k, 1.0 / k)
    n_iter = 0
    fit: FitResult | None = None
    for _ in range(4 * k + 4):
        sub = _Mixture(y, q[:, support], pi[support] / pi[support].sum())
        params, fit = run_em(
            sub, max_iter=max(max_iter - n_iter, 1), tol=tol * total, accelerate=accelerate
        )
        n_iter += fit.n_iter
        pi = np.zeros(k)
        pi[support] = params["pi"]
        if accelerate is None:
            break  # plain EM as it is (the reference behaviour)
        small = support & (pi < ZERO) & ~returned
        if small.any() and small.sum() < support.sum():
            support &= ~small
            pi[small] = 0.0
            continue
        grad = q.T @ (y / (q @ pi))
        wanted = ~support & (grad > total * (1 + 1e-9))
        if not wanted.any():
            break
        support |= wanted
        returned |= wanted
        pi[wanted] = 1e-6
        pi /= pi.sum()
    assert fit is not None
    if accelerate is not None:
        pi = _newton_polish(y, q, pi)
    with np.errstate(divide="ignore"):
        loglik = float(y @ np.log(q @ pi))
    fit = dataclasses.replace(fit, n_iter=n_iter, loglik=loglik, objective=loglik)
    return pi, loglik, fit


def _newton_polish(y: np.ndarray, q: np.ndarray, pi: np.ndarray, steps: int = 30) -> np.ndarray:
    """Newton steps on the simplex from EM's end point (the likelihood is concave).

    Each step solves the equality-constrained Newton system on the types in
    use; a step that would make a weight negative is shortened to the
    boundary and that type leaves; a step that does not raise the
    likelihood is refused.  Types left out come back when their gradient
    exceeds the total (one Newton step from a small weight).
    """
    total = float(y.sum())

    def loglik(p: np.ndarray) -> float:
        with np.errstate(divide="ignore"):
            return float(y @ np.log(q @ p))

    best = loglik(pi)
    for _ in range(steps):
        mix = q @ pi
        grad = q.T @ (y / mix)
        out = pi <= 0
        wanted = out & (grad > total * (1 + 1e-9))
        if wanted.any():
            trial = pi.copy()
            trial[wanted] = 1e-8
            trial /= trial.sum()
            if loglik(trial) > best:
                pi, best = trial, loglik(trial)
                continue
        use = np.flatnonzero(pi > 0)
        qs = q[:, use]
        h = (qs * (y / mix**2)[:, None]).T @ qs  # minus the Hessian
        m = use.size
        kkt = np.zeros((m + 1, m + 1))
        kkt[:m, :m] = h
        kkt[:m, m] = kkt[m, :m] = 1.0
        rhs = np.concatenate([grad[use], [0.0]])
        try:
            step = np.linalg.solve(kkt, rhs)[:m]
        except np.linalg.LinAlgError:
            break
        neg = step < 0
        t = 1.0 if not neg.any() else min(1.0, float(np.min(-pi[use][neg] / step[neg])))
        trial = pi.copy()
        trial[use] = np.maximum(pi[use] + t * step, 0.0)
        trial /= trial.sum()
        value = loglik(trial)
        if not value > best:
            break
        gain = value - best
        pi, best = trial, value
        if gain < 1e-13 * abs(best):
            break
    return pi


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
