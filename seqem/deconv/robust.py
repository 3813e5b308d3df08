"""Cell-type proportions by EM on a heteroscedastic Student-t regression.

A bulk sample ``y`` (genes) is modelled on the reference's absolute scale as

    y_g = sum_k S_gk c_k + e_g,    e_g ~ t_nu(0, sigma^2 v_g),

with non-negative coefficients ``c`` (the amount of each reference profile
in the sample: RNA fractions for pure-sample profiles, cell numbers for
per-cell single-cell profiles, transcript shares for TPM signatures).  The
variance shape ``v_g`` has two parts:

* ``mu_g = (S c)_g``: the variance of counted expression grows with its mean
  (the quasi-Poisson law behind the multinomial mixture);
* ``sum_k c_k^2 V_gk / sigma^2`` when the reference carries per-gene
  variances ``V`` (a measured reference's sample-to-sample variability
  scaled by the amount of each profile in the mixture).

The Student-t errors are a Gaussian scale mixture: each gene has a latent
precision ``u_g ~ Gamma(nu/2, nu/2)``, so EM's E-step gives
``E[u_g] = (nu + 1) / (nu + r_g^2 / (sigma^2 v_g))`` and its M-step is a
weighted non-negative least-squares fit of ``c`` with weights ``u_g / v_g``
and a closed-form ``sigma^2``.  Genes that the reference does not explain (a
platform shift, a gene from a missing cell type) receive small weights,
which is what makes the fit robust; ``nu = 4`` is the conventional robust
choice.  For a fixed variance shape the EM climbs the t log-likelihood
monotonically; the shape is then refreshed from the fitted mean and EM runs
again (iteratively reweighted, as in quasi-likelihood fitting) until the
coefficients settle.

Proportions are the coefficients renormalised to one, after division by
each type's mRNA per cell when given.  With ``other=True`` the coefficients
are read on the absolute scale (mixture and reference both TPM, say): the
unexplained share ``1 - sum(c)`` is the fraction of expression from cells
without a reference profile; it is divided by its own mRNA per cell and
renormalised with the rest.  Standard errors are the sandwich (robust)
covariance of the coefficients on the types in use, carried to the
proportions by the delta method.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ..em.engine import FitResult, run_em
from ..errors import InputFormatError
from ._blocks import worker_pool
from .mixture import check_inputs

__all__ = ["RobustFit", "robust_fit", "select_markers"]

#: Default degrees of freedom of the Student-t errors.
NU = 4.0
#: Variances below this share of the mean fitted value are raised to it.
VAR_FLOOR = 1e-3


@dataclasses.dataclass(frozen=True)
class RobustFit:
    """Proportions of every sample, with their standard errors.

    Attributes
    ----------
    proportions : float64 array (n_samples, n_types)
        Cell fractions; with ``other`` the rows sum to one minus ``other``.
    other : float64 array (n_samples,) or None
        Fraction of cells without a reference profile (``other=True``).
    coefficients : float64 array (n_samples, n_types)
        Amount of each reference profile in each sample (absolute scale).
    se : float64 array (n_samples, n_types + other)
        Standard errors of the proportions (and of ``other``, last).
    sigma2 : float64 array (n_samples,)
        Fitted scale of the errors.
    loglik : float64 array (n_samples,)
        Final t log-likelihood of each sample.
    fits : list of FitResult
    """

    proportions: np.ndarray
    other: np.ndarray | None
    coefficients: np.ndarray
    se: np.ndarray
    sigma2: np.ndarray
    loglik: np.ndarray
    fits: list[FitResult]


def _wnnls(s: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted non-negative least squares: ``min sum_g w_g (y_g - (s c)_g)^2``, ``c >= 0``.

    Solved from the ``k x k`` normal equations (:func:`._kernels.nnls_gram`):
    two matrix products over the genes instead of a factorisation of the
    weighted ``genes x k`` matrix.
    """
    from ._kernels import nnls_gram

    sw = s * w[:, None]
    coef = np.empty(s.shape[1])
    nnls_gram(sw.T @ s, sw.T @ y, 50 * s.shape[1], coef)
    return coef


def _t_loglik(r2: np.ndarray, var: np.ndarray, nu: float) -> float:
    from scipy.special import gammaln

    const = gammaln((nu + 1) / 2) - gammaln(nu / 2) - 0.5 * np.log(nu * np.pi)
    return float(np.sum(const - 0.5 * np.log(var) - (nu + 1) / 2 * np.log1p(r2 / (nu * var))))


class _TRegression:
    """EM problem of one sample for a fixed variance shape ``v``."""

    def __init__(self, y: np.ndarray, s: np.ndarray, v: np.ndarray, nu: float, start: dict):
        self.y, self.s, self.v, self.nu, self.start = y, s, v, nu, start

    def initial_params(self, rng: np.random.Generator) -> dict[str, Any]:
        return dict(self.start)

    def e_step(self, params: dict[str, Any]) -> tuple[dict[str, np.ndarray], float]:
        r2 = (self.y - self.s @ params["c"]) ** 2
        var = params["sigma2"] * self.v
        u = (self.nu + 1) / (self.nu + r2 / var)
        return {"u": u}, _t_loglik(r2, var, self.nu)

    def m_step(self, stats: dict[str, np.ndarray], params: dict[str, Any]) -> dict[str, Any]:
        w = stats["u"] / self.v
        c = _wnnls(self.s, self.y, w)
        r2 = (self.y - self.s @ c) ** 2
        sigma2 = max(float(np.sum(w * r2)) / self.y.size, 1e-300)
        return {"c": c, "sigma2": sigma2}

    def log_prior(self, params: dict[str, Any]) -> float:
        return 0.0


def _shape(mu: np.ndarray, c: np.ndarray, var: np.ndarray | None, sigma2: float) -> np.ndarray:
    floor = VAR_FLOOR * max(float(mu.mean()), 1e-300)
    v = np.maximum(mu, floor)
    if var is not None:
        v = v + (var @ (c * c)) / sigma2
    return v


def _fit_sample(
    y: np.ndarray, s: np.ndarray, var: np.ndarray | None, nu: float, tol: float, max_iter: int
) -> tuple[np.ndarray, float, np.ndarray, float, FitResult]:
    """Coefficients, sigma^2, weights, log-likelihood, fit record.

    The weights are two rows: ``u / (sigma^2 v)`` (the EM's) and the slope of
    the t estimating function over ``sigma^2 v`` (for the sandwich).
    """
    floor = VAR_FLOOR * max(float(y.mean()), 1e-300)
    c = _wnnls(s, y, 1.0 / np.maximum(y, floor))  # Poisson-weighted start
    mu = s @ c
    sigma2 = max(float(np.mean((y - mu) ** 2 / np.maximum(mu, floor))), 1e-300)
    fit: FitResult | None = None
    n_iter = 0
    history: list[float] = []
    for _ in range(50):  # refresh the variance shape until the coefficients settle
        v = _shape(mu, c, var, sigma2)
        problem = _TRegression(y, s, v, nu, {"c": c, "sigma2": sigma2})
        params, fit = run_em(problem, max_iter=max_iter, tol=tol * y.size)
        n_iter += fit.n_iter
        history.extend(fit.history)
        change = np.abs(params["c"] - c).max() / max(float(np.abs(params["c"]).max()), 1e-300)
        c, sigma2 = params["c"], params["sigma2"]
        mu = s @ c
        if change < 1e-7:
            break
    assert fit is not None
    v = _shape(mu, c, var, sigma2)
    r2 = (y - mu) ** 2
    z = r2 / (sigma2 * v)
    u = (nu + 1) / (nu + z)
    # slope of the estimating function u(r) r in r: the sandwich's bread
    slope = np.maximum((nu + 1) * (nu - z) / (nu + z) ** 2, 0.0)
    ll = _t_loglik(r2, sigma2 * v, nu)
    fit = dataclasses.replace(fit, n_iter=n_iter, loglik=ll, objective=ll, history=tuple(history))
    return c, sigma2, np.stack([u, slope]) / (sigma2 * v), ll, fit


def _coef_cov(s: np.ndarray, y: np.ndarray, c: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Sandwich covariance of the coefficients in use (zero rows/columns elsewhere).

    ``w`` holds the EM weights (row 0, in the score) and the slopes of the
    estimating function (row 1, in the bread).
    """
    k = s.shape[1]
    cov = np.zeros((k, k))
    use = np.flatnonzero(c > 0)
    if use.size == 0:
        return cov
    sa = s[:, use]
    a = (sa * w[1][:, None]).T @ sa
    score = sa * (w[0] * (y - s @ c))[:, None]
    b = score.T @ score
    try:
        ainv = np.linalg.pinv(a)
    except np.linalg.LinAlgError:  # pragma: no cover
        return cov
    cov[np.ix_(use, use)] = ainv @ b @ ainv
    return cov


def _to_cells(
    c: np.ndarray, mrna: np.ndarray, other: bool, mrna_other: float
) -> tuple[np.ndarray, np.ndarray]:
    """Cell fractions (types, then other) and their Jacobian with respect to ``c``."""
    k = c.size
    if other:
        f = np.concatenate([c / mrna, [(1.0 - c.sum()) / mrna_other]])
        jf = np.vstack([np.diag(1.0 / mrna), np.full((1, k), -1.0 / mrna_other)])
    else:
        f = c / mrna
        jf = np.diag(1.0 / mrna)
    total = f.sum()
    if total <= 0:
        return np.full(f.size, np.nan), np.zeros((f.size, k))
    p = f / total
    jp = (np.eye(f.size) - np.outer(p, np.ones(f.size))) @ jf / total
    return p, jp


def robust_fit(
    Y: Any,
    S: Any,
    *,
    var: Any = None,
    nu: float = NU,
    other: bool = False,
    mrna: Any = None,
    mrna_other: float = 0.4,
    tol: float = 1e-10,
    max_iter: int = 500,
    n_threads: int | None = None,
) -> RobustFit:
    """Proportions of every bulk sample (columns of ``Y``) by the robust heteroscedastic EM.

    Parameters
    ----------
    Y : array (genes, samples)
        Linear-scale bulk expression.
    S : array (genes, types)
        Linear-scale reference profiles.
    var : array (genes, types), optional
        Per-gene variances of the reference profiles (same scale as ``S``
        squared).
    nu : float
        Degrees of freedom of the Student-t errors (``inf``: Gaussian).
    other : bool
        Estimate the fraction of cells without a reference profile; ``Y``
        and ``S`` must then be on the same absolute scale (both TPM).
    mrna : array (types,), optional
        mRNA per cell of each type (relative units); proportions are the
        coefficients divided by it, renormalised.
    mrna_other : float
        mRNA per cell of the cells without a profile (``other=True``).
    tol : float
        EM stops when the log-likelihood rises by less than ``tol`` per gene.
    n_threads : int, optional
        Threads over samples (``None`` or 0: every available core).
    """
    y, s = check_inputs(Y, S)
    g, k = s.shape
    if g <= k:
        raise InputFormatError(f"{g} genes for {k} cell types: need more genes than types")
    v = None
    if var is not None:
        v = np.asarray(var, dtype=np.float64)
        if v.shape != s.shape or not np.all(np.isfinite(v)) or np.any(v < 0):
            raise InputFormatError(
                "reference variances must be finite, non-negative, genes x types like the reference"
            )
    m = np.ones(k) if mrna is None else np.asarray(mrna, dtype=np.float64)
    if m.shape != (k,) or not np.all(m > 0) or not mrna_other > 0:
        raise InputFormatError("mRNA per cell must be positive, one value per cell type")
    if not nu > 0:
        raise InputFormatError("nu (degrees of freedom) must be positive")
    n = y.shape[1]
    width = k + (1 if other else 0)
    props = np.empty((n, width))
    se = np.empty((n, width))
    coefs = np.empty((n, k))
    sigma2 = np.empty(n)
    ll = np.empty(n)
    empty = np.flatnonzero(~np.any(y > 0, axis=0))
    if empty.size:
        raise InputFormatError(f"mixture sample {int(empty[0]) + 1} has no expression")

    def one(j: int) -> FitResult:
        c, sigma2[j], w, ll[j], fit = _fit_sample(y[:, j], s, v, nu, tol, max_iter)
        cov = _coef_cov(s, y[:, j], c, w)
        if other and c.sum() > 1.0:  # more than all of the sample: nothing left over
            scale = 1.0 / c.sum()
            c, cov = c * scale, cov * scale**2
        coefs[j] = c
        p, jp = _to_cells(c, m, other, mrna_other)
        props[j] = p
        se[j] = np.sqrt(np.maximum(np.einsum("ik,kl,il->i", jp, cov, jp), 0.0))
        return fit

    # samples on a pool of threads, each calling BLAS on one thread (its
    # products are small: BLAS threads of their own only wait for each other)
    with worker_pool(n_threads) as pool:
        fits = [one(j) for j in range(n)] if pool is None else list(pool.map(one, range(n)))
    return RobustFit(
        proportions=props[:, :k],
        other=props[:, k] if other else None,
        coefficients=coefs,
        se=se,
        sigma2=sigma2,
        loglik=ll,
        fits=fits,
    )


def select_markers(S: Any, n_per_type: int, *, min_ratio: float = 2.0) -> np.ndarray:
    """Indices of marker genes: for each type, the genes it expresses most above all others.

    A gene is a candidate for type ``k`` when ``S[g, k]`` exceeds every other
    type's value ``min_ratio``-fold; the ``n_per_type`` candidates with the
    largest ratio are kept for each type (fewer when fewer qualify).

    Parameters
    ----------
    S : array (genes, types)
    n_per_type : int

    Returns
    -------
    int64 array, sorted gene indices
    """
    s = np.asarray(S, dtype=np.float64)
    if s.ndim != 2 or s.shape[1] < 2:
        raise InputFormatError("marker selection needs a reference with at least two types")
    eps = 1e-3 * max(float(s[s > 0].mean()) if np.any(s > 0) else 1.0, 1e-300)
    keep: set[int] = set()
    for k in range(s.shape[1]):
        rest = np.delete(s, k, axis=1).max(axis=1)
        ratio = (s[:, k] + eps) / (rest + eps)
        order = np.argsort(-ratio, kind="stable")
        chosen = [int(i) for i in order[:n_per_type] if ratio[i] >= min_ratio]
        keep.update(chosen)
    return np.array(sorted(keep), dtype=np.int64)
