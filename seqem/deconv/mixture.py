"""Cell-type proportions of bulk expression by EM on a multinomial mixture.

Each unit of a bulk sample's expression ``y`` (genes) is drawn from one cell
type ``k`` with probability ``pi_k`` (the *expression* fractions), and then
from that type's reference profile normalised to sum one, ``q_k = S[:, k] /
sum(S[:, k])``.  The log-likelihood

    ln L(pi) = sum_g y_g ln sum_k pi_k q_gk

is concave in ``pi``, so EM (responsibilities ``pi_k q_gk / sum_k pi_k q_gk``,
then ``pi_k = sum_g y_g r_gk / sum_g y_g``) reaches the unique maximum from
any start, but only sublinearly where weights go to zero: thousands of plain
iterations with many near-zero types.  By default every sample's maximum is
found by active-set Newton steps on the simplex (sequential quadratic
programming with a line search, :func:`newton_simplex`), which converge
quadratically and stop when its optimality conditions hold; all samples are
fitted at once, each step's likelihoods, gradients and Hessians being matrix
products over blocks of samples (:func:`_newton_all`).  Cell fractions are
the expression fractions divided by the reference column totals (the mRNA each
type contributes per cell, on the reference's scale), renormalised to one.

:func:`nnls` is the non-negative least-squares baseline (renormalised).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from ..em.engine import FitResult, run_em
from ..errors import InputFormatError

__all__ = ["DeconvolutionFit", "multinomial_em", "nnls"]

#: The least-squares fits run on data whose largest value lies between these
#: (a sample or reference outside is first scaled by a power of two, which is
#: exact): squares and products of values, coefficients and weights then stay
#: far from overflow and underflow.
SAFE_MAGNITUDE = (1e-50, 1e50)


def safe_exponents(top: Any) -> np.ndarray:
    """Powers of two ``e`` such that ``top / 2**e`` lies in [1, 2) where ``top`` is outside
    :data:`SAFE_MAGNITUDE` (and 0 where it is inside or not positive); int64, ``top``'s shape.
    """
    top = np.asarray(top, dtype=np.float64)
    lo, hi = SAFE_MAGNITUDE
    outside = (top > 0) & ((top < lo) | (top > hi))
    _, e = np.frexp(np.where(outside, top, 1.0))  # top = m 2^e, m in [0.5, 1)
    return np.where(outside, e.astype(np.int64) - 1, 0)


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
    accelerate: str | None = "newton",
    n_threads: int | None = None,
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
        by less than ``tol`` times the sample's total expression.
    max_iter : int
        Most EM updates (plain) or Newton steps (``"newton"``).
    accelerate : {"newton", None}
        ``"newton"`` (default; ``"squarem"``, the former name, is taken as
        it): every sample's maximum by active-set Newton steps on the
        simplex from the uniform point (:func:`newton_simplex`'s steps,
        for all samples at once: each step's gradients, Hessians and
        likelihoods are matrix products over blocks of samples, and a
        sample leaves when its optimality conditions hold).  ``None``:
        plain EM, one sample at a time, the reference behaviour.
    n_threads : int, optional
        Threads over blocks of samples (``None`` or 0: every available core).
    """
    y, s = check_inputs(Y, S)
    totals = s.sum(axis=0)
    q = s / totals
    n_types = s.shape[1]
    if accelerate not in (None, "newton", "squarem"):
        raise ValueError(f"accelerate must be 'newton' or None, got {accelerate!r}")
    empty = np.flatnonzero(y.sum(axis=0) <= 0)
    if empty.size:
        raise InputFormatError(f"mixture sample {int(empty[0]) + 1} has no expression")
    # a sample outside SAFE_MAGNITUDE is scaled by a power of two (exact; the
    # maximum does not move, the log-likelihood scales with the sample)
    ey = safe_exponents(y.max(axis=0))
    if ey.any():
        y = np.ldexp(y, -ey[None, :])
    if accelerate is not None:
        fractions, ll, fits = _newton_all(y, q, max_iter=max_iter, n_threads=n_threads)
    else:
        fractions = np.empty((y.shape[1], n_types))
        ll = np.empty(y.shape[1])
        fits = []
        for j in range(y.shape[1]):
            keep = y[:, j] > 0
            fractions[j], ll[j], fit = _maximise(y[keep, j], q[keep], tol=tol, max_iter=max_iter)
            fits.append(fit)
    if ey.any():
        ll = np.ldexp(ll, ey)
        fits = [
            dataclasses.replace(
                f, loglik=float(np.ldexp(f.loglik, e)), objective=float(np.ldexp(f.objective, e)),
                history=tuple(float(np.ldexp(h, e)) for h in f.history),
            )
            for f, e in zip(fits, ey.tolist(), strict=True)
        ]  # fmt: skip
    cells = fractions / totals[None]
    cells /= cells.sum(axis=1, keepdims=True)
    return DeconvolutionFit(cells, fractions, ll, fits)


def _maximise(
    y: np.ndarray, q: np.ndarray, *, tol: float, max_iter: int
) -> tuple[np.ndarray, float, FitResult]:
    """The maximum of one sample's likelihood by plain EM (the reference behaviour).

    It runs to ``tol`` as it is, and only approaches a zero weight sublinearly.
    """
    k = q.shape[1]
    total = float(y.sum())
    start = _Mixture(y, q, np.full(k, 1.0 / k))
    params, fit = run_em(start, max_iter=max_iter, tol=tol * total, accelerate=None)
    return params["pi"], fit.loglik, fit


def _mixture_pass(
    data: Any, points: np.ndarray, active: np.ndarray, hess: bool, pool: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Log-likelihood, gradient and (packed, negated) Hessian of the active samples.

    For sample ``j`` at ``pi = points[j]`` with ``m = q pi``: ``sum_g y_g ln m_g``,
    ``q^T (y / m)`` and ``sum_g y_g / m_g^2 q_gk q_gl`` (upper triangle, packed).
    Rows of inactive samples are left as zeros; a sample with expression where
    its fitted share is zero gets ``-inf`` (and non-finite derivatives).
    """
    k = points.shape[1]
    width = k * (k + 1) // 2

    def work(c0: int, c1: int, idx: np.ndarray, cols: np.ndarray | None) -> tuple:
        pit = np.ascontiguousarray(points[idx].T)
        ll = np.zeros(idx.size)
        grad = np.zeros((k, idx.size))
        h = np.zeros((width, idx.size)) if hess else None
        for i, yc in data.y_chunks(c0, c1, cols):
            m = data.a[i] @ pit
            # a gene without expression adds nothing, even where its fitted
            # share is zero: a share of one there keeps 0 / 0 out of the sums
            m += yc == 0
            t = np.log(m)
            t *= yc
            ll += t.sum(axis=0)
            np.divide(yc, m, out=t)
            grad += data.at[i] @ t
            if h is not None:
                np.divide(t, m, out=m)
                h += data.aa[i].T @ m
        return ll, grad, h

    n = points.shape[0]
    ll = np.zeros(n)
    grad = np.zeros((n, k))
    packed = np.zeros((n, width)) if hess else None
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        blocks = data.map_blocks(active, work, pool)
    for idx, (l_b, g_b, h_b) in blocks:
        ll[idx] = l_b
        grad[idx] = g_b.T
        if packed is not None:
            packed[idx] = h_b.T
    return ll, grad, packed


#: Samples from which the per-sample quadratic programs run in parallel.
PARALLEL_QP = 256
#: Relative change of a log-likelihood that is round-off.
ROUNDOFF = 1e-14
#: Optimality residual below which the next Newton step is expected to be the
#: last (the residual after a step is about a few times its square).
HESSIAN_SKIP = 5e-6


def _newton_all(
    y: np.ndarray, q: np.ndarray, *, max_iter: int, n_threads: int | None
) -> tuple[np.ndarray, np.ndarray, list[FitResult]]:
    """:func:`newton_simplex` for every sample at once.

    The start is the least-squares fit of each sample's profile shares,
    clipped to the simplex and mixed with a tenth of the uniform point (all
    types in use: a start close enough that three Newton steps usually
    suffice).  Each round finds the samples whose optimality conditions hold
    (they leave), solves every other sample's quadratic model on the simplex
    (:func:`._kernels.newton_steps`) and line-searches towards it: one
    blocked pass (:mod:`._blocks`) evaluates every trial point, samples whose
    trial raises the likelihood enough (Armijo) move there with its
    derivatives in hand, the others halve their step.  A trial gets its
    Hessian only if its sample is expected to need another step (the
    optimality residual, which Newton steps square, still above
    :data:`HESSIAN_SKIP`); a sample that does need one gets it in the next
    round.
    """
    from ._blocks import BlockedMatrix, unpack, worker_pool
    from ._kernels import newton_steps, newton_steps_serial

    start_time = time.perf_counter()
    genes, n = y.shape
    k = q.shape[1]
    unused = q.sum(axis=1) == 0
    if np.any(unused):
        if np.any(y[unused] > 0):
            j = int(np.flatnonzero((y[unused] > 0).any(axis=0))[0])
            raise InputFormatError(
                f"mixture sample {j + 1} has expression in genes that no reference type expresses"
            )
        y, q = y[~unused], q[~unused]
    total = y.sum(axis=0)
    data = BlockedMatrix(y, q, pairs=True)
    steps = np.zeros(n, dtype=np.int64)
    optimal = np.zeros(n, dtype=bool)
    moving = np.ones(n, dtype=bool)
    everyone = np.ones(n, dtype=bool)
    with worker_pool(n_threads, n) as pool:
        pi = _start(data, q, pool)
        best, grad, packed = _mixture_pass(data, pi, everyone, True, pool)
        assert packed is not None
        has_hessian = np.ones(n, dtype=bool)
        history = [[float(v)] for v in best]
        trial = pi.copy()
        last_noise = np.zeros(n, dtype=bool)
        for _ in range(max_iter):
            now = np.flatnonzero(moving)
            rho = _kkt_residual(grad[now], pi[now], total[now])
            done = rho <= 1e-10
            optimal[now[done]] = True
            moving[now[done]] = False
            now, rho = now[~done], rho[~done]
            if now.size == 0:
                break
            late = now[~has_hessian[now]]
            if late.size:
                _, g_l, h_l = _mixture_pass(data, pi, _mask(n, late), True, pool)
                assert h_l is not None
                grad[late], packed[late] = g_l[late], h_l[late]
                has_hessian[late] = True
            h = unpack(packed[now], k)
            ridge = 1e-10 * np.trace(h, axis1=1, axis2=2) / k
            d = np.empty((now.size, k))
            solve = newton_steps if now.size >= PARALLEL_QP else newton_steps_serial
            solve(h, grad[now], pi[now], ridge, d)
            slope = np.einsum("ij,ij->i", grad[now], d)
            stuck = ~(slope > 0) | last_noise[now]
            moving[now[stuck]] = False
            keep = ~stuck
            now, d, slope, rho = now[keep], d[keep], slope[keep], rho[keep]
            # a gain below the round-off of the log-likelihood cannot be seen:
            # such a step is taken if the likelihood does not visibly fall, and is the last
            noise = slope <= ROUNDOFF * np.abs(best[now])
            last_noise[now] = noise
            wants = rho > HESSIAN_SKIP
            t = np.ones(now.size)
            for _ in range(60):  # backtracking, every sample on its own step
                if now.size == 0:
                    break
                point = np.maximum(pi[now] + t[:, None] * d, 0.0)
                point /= point.sum(axis=1, keepdims=True)
                trial[now] = point
                value = np.zeros(n)
                g_t = np.zeros((n, k))
                h_t = np.zeros((n, packed.shape[1]))
                for hess, rows in ((True, now[wants]), (False, now[~wants])):
                    if rows.size:
                        v_r, g_r, h_r = _mixture_pass(data, trial, _mask(n, rows), hess, pool)
                        value[rows], g_t[rows] = v_r[rows], g_r[rows]
                        if h_r is not None:
                            h_t[rows] = h_r[rows]
                ok = np.where(
                    noise,
                    value[now] >= best[now] - ROUNDOFF * np.abs(best[now]),
                    value[now] >= best[now] + 1e-4 * t * slope,
                )
                moved = now[ok]
                pi[moved], best[moved] = trial[moved], value[moved]
                grad[moved], packed[moved] = g_t[moved], h_t[moved]
                has_hessian[moved] = wants[ok]
                steps[moved] += 1
                for j in moved:
                    history[j].append(float(best[j]))
                keep = ~ok & ~noise
                now, d, slope, t = now[keep], d[keep], slope[keep], t[keep] * 0.5
                noise, wants = noise[keep], wants[keep]
            moving[now] = False  # no step raised the likelihood enough
        if not np.all(optimal):
            rest = np.flatnonzero(~optimal)
            optimal[rest] = _kkt_residual(grad[rest], pi[rest], total[rest]) <= 1e-6
    elapsed = time.perf_counter() - start_time
    fits = [
        FitResult(
            converged=bool(optimal[j]),
            stop_reason="tol" if optimal[j] else "max_iter",
            n_iter=int(steps[j]),
            loglik=float(best[j]),
            objective=float(best[j]),
            history=tuple(history[j]),
            seed=0,
            elapsed=elapsed,
            accelerate="newton",
        )
        for j in range(n)
    ]
    return pi, best, fits


def _mask(n: int, rows: np.ndarray) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    out[rows] = True
    return out


def _start(data: Any, q: np.ndarray, pool: Any) -> np.ndarray:
    """Least-squares profile shares of every sample, clipped, with a tenth of the uniform point."""
    k = q.shape[1]

    def work(c0: int, c1: int, idx: np.ndarray, cols: np.ndarray | None) -> np.ndarray:
        out = np.zeros((k, idx.size))
        for i, yc in data.y_chunks(c0, c1, cols):
            out += data.at[i] @ yc
        return out

    qty = np.empty((k, data.n))
    for idx, part in data.map_blocks(np.ones(data.n, dtype=bool), work, pool):
        qty[:, idx] = part
    coef = np.maximum(np.linalg.pinv(q.T @ q) @ qty, 0.0).T
    sums = coef.sum(axis=1, keepdims=True)
    shares = np.where(sums > 0, coef / np.where(sums > 0, sums, 1.0), 1.0 / k)
    return 0.9 * shares + 0.1 / k


def _kkt_residual(grad: np.ndarray, pi: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Relative violation of the optimality conditions of each row (sample).

    The largest of ``grad_k / total - 1`` over every type and of
    ``1 - grad_k / total`` over the types in use; zero at the maximum.
    """
    r = grad / total[:, None] - 1.0
    return np.maximum(r.max(axis=1), np.where(pi > 0, -r, -np.inf).max(axis=1))


def simplex_qp(h: np.ndarray, c: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Minimise ``z'hz / 2 - c'z`` over the probability simplex (primal active set).

    ``h`` must be positive definite; ``z`` is a feasible start.  Each round
    solves the problem on the free coordinates with the sum constraint
    (the multiplier eliminated through a Cholesky factor); a solution with a
    negative coordinate is approached only up to the boundary, where that
    coordinate leaves; a solution that is feasible is optimal unless a
    fixed coordinate has a negative multiplier, which is then freed.  (The
    compiled :func:`._kernels.simplex_qp`, whose step form
    :func:`._kernels.simplex_step` the batched fit calls.)
    """
    from ._kernels import simplex_qp as qp

    out = np.empty(np.size(c))
    qp(
        np.ascontiguousarray(h, dtype=np.float64),
        np.ascontiguousarray(c, dtype=np.float64),
        np.ascontiguousarray(z, dtype=np.float64),
        out,
    )
    return out


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
    """Non-negative least squares per sample, renormalised to sum one.

    A sample without expression, or one that no non-negative combination of
    the profiles approaches (every coefficient zero), is an error: it has no
    proportions.  Samples and reference outside :data:`SAFE_MAGNITUDE` are
    scaled by powers of two first (the proportions do not depend on it).
    """
    from scipy.optimize import nnls as scipy_nnls

    y, s = check_inputs(Y, S)
    empty = np.flatnonzero(~np.any(y > 0, axis=0))
    if empty.size:
        raise InputFormatError(f"mixture sample {int(empty[0]) + 1} has no expression")
    ey = safe_exponents(y.max(axis=0))
    s = np.ldexp(s, -int(safe_exponents(s.max())[()]))
    out = np.empty((y.shape[1], s.shape[1]))
    for j in range(y.shape[1]):
        coef, _ = scipy_nnls(s, np.ldexp(y[:, j], -ey[j]))
        total = coef.sum()
        if not total > 0:
            raise InputFormatError(
                f"mixture sample {j + 1}: no non-negative combination of the reference "
                "profiles fits it (every coefficient is zero)"
            )
        out[j] = coef / total
    return out
