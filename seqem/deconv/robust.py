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
and a closed-form ``sigma^2 = sum_g u_g r_g^2 / v_g / sum_g u_g`` (the
parameter-expanded EM of Liu, Rubin and Wu 1998, as Kent, Tyler and Vardi
fit the t scale: dividing by ``sum u`` instead of the number of genes
reaches the same maximum in fewer updates).  Genes that the reference does not explain (a
platform shift, a gene from a missing cell type) receive small weights,
which is what makes the fit robust; ``nu = 4`` is the conventional robust
choice.  For a fixed variance shape the EM climbs the t log-likelihood
monotonically; the shape is then refreshed from the fitted mean and EM runs
again (iteratively reweighted, as in quasi-likelihood fitting) until the
coefficients settle over a run.  The first run, whose shape comes from the
Poisson-weighted start, stops at a loose tolerance (:data:`FIRST_RUN_TOL`:
its tail would be spent on a shape about to change); the others stop at
``tol``, and only they can end the fit.

Proportions are the coefficients renormalised to one, after division by
each type's mRNA per cell when given.  With ``other=True`` the coefficients
are read on the absolute scale (mixture and reference both TPM, say): the
unexplained share ``1 - sum(c)`` is the fraction of expression from cells
without a reference profile; it is divided by its own mRNA per cell and
renormalised with the rest.  Standard errors are the sandwich (robust)
covariance of the coefficients on the types in use, carried to the
proportions by the delta method.

The M-step's weighted least squares is solved as a Newton step from the
current coefficients: the gradient ``S^T W (y - S c)`` is exact, and the
Gram matrix ``S^T W S`` (``k(k+1)/2`` packed columns ``S_gk S_gl`` times the
weights: the costly product, some ten times the gradient's) is the one of
the run's first E-step (or the last one, when the run's new shape barely
moved the likelihood), recomputed only when the step gains less than half
of what its quadratic model promised (:func:`_newton_mstep`; the step's
curvature ``sum_g w_g (S d)_g^2`` is summed in the same pass over the genes
as ``sigma^2``'s M-step, from the fitted values before and after).  Every step
thus raises the objective (a generalised EM), and the fixed point is the
EM's; on 20,000 genes a sample needs about 4 Gram products instead of 26.

Every sample's EM runs with the others of its block (:mod:`._blocks`): the
gradients and Gram matrices of all the block's samples are matrix products,
each sample's non-negative least squares is solved from them in compiled
code, and samples leave the block as they finish.  Each sample takes the
updates it would take alone (``batched=False``, through the generic EM
engine, is the reference).
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from typing import Any

import numpy as np

from ..em.engine import ROUNDOFF_ABS, ROUNDOFF_REL, FitResult, run_em
from ..errors import ConvergenceWarning, InputFormatError, ParameterError, SeqemError
from . import _blocks
from ._blocks import worker_pool
from .mixture import check_inputs, safe_exponents

__all__ = ["RobustFit", "robust_fit", "select_markers"]

#: Default degrees of freedom of the Student-t errors.
NU = 4.0
#: Variances below this share of the mean fitted value are raised to it.
VAR_FLOOR = 1e-3
#: Most EM runs (variance shape refreshes) per sample.
OUTER = 50
#: Largest relative change of the coefficients over an EM run that ends the fit.
SETTLED = 1e-7
#: Once a sample's shape refresh reverses the direction of the one before
#: without shrinking to at most half of it (the coefficients the shape comes
#: from overshoot their fixed point and do not settle fast), each refresh moves
#: them only this share of the way to the new coefficients: the plain refresh
#: can cycle between two points for ever (a sample of each CDSeq set did, for
#: all :data:`OUTER` runs), the damped one converges to the same fixed points.
SHAPE_DAMPING = 0.5
#: An M-step from an earlier Gram matrix is kept when the weighted least
#: squares gain at least this share of what its quadratic model promised.
MODEL_SHARE = 0.5
#: Stopping tolerance (per gene) of a sample's first EM run: the variance
#: shape, fitted from the Poisson-weighted start, is refreshed after it
#: anyway, so the run need not converge tightly; later runs stop at ``tol``,
#: and only they can end the fit.
FIRST_RUN_TOL = 1e-5
#: A later run keeps the last Gram matrix (its step checked as any stale step)
#: when its new variance shape moved the log-likelihood by at most this much
#: per gene: the weights, and so the Gram matrix, then barely changed.
STALE_JUMP = 1e-6
#: Degrees of freedom up to which the batched E-step sums the logarithms of
#: ``1 + r^2 / (nu sigma^2 v)`` as logarithms of products (:func:`._kernels.t_estep`):
#: the log-likelihood then carries up to ``nu + 1`` more units of round-off
#: (``2^-52``) per gene, 1e-11 for 20,000 genes at ``nu = 4``, far below the
#: stopping tolerance; for larger ``nu`` one ``log1p`` per gene.
PRODUCT_NU = 30.0
#: References whose Gram products take at most this many multiply-adds (genes
#: x k(k+1)/2) are fitted sample by sample in one compiled call
#: (:mod:`._robust_kernels`); larger ones by blocks of samples whose passes
#: over the genes are BLAS products (:class:`_Block`), which win once the
#: products dominate (``python benchmarks/bench_mixture.py --what paths``: the
#: two break even near 840,000).
COMPILED_WORK = 500_000
#: Largest degrees of freedom: beyond, the t density's constant (a difference of
#: two log-gamma values of about ``nu ln nu``) loses its digits, and the errors are
#: Gaussian to far below the data's precision anyway.
NU_MAX = 1e12
_NOT_FINITE_START = (
    "numerical failure in the robust fit: the log-likelihood of the starting point is not "
    "finite (degrees of freedom nu too small for these data?)"
)
_NAN_LOGLIK = (
    "numerical failure in the robust fit: the log-likelihood became NaN "
    "(try another nu, or the multinomial mixture EM)"
)

#: Samples per call of the compiled fit.
COMPILED_GROUP = 256
#: History entries kept per sample by a call of the compiled fit; samples
#: whose EM takes more are fitted again with room for the longest possible.
COMPILED_HISTORY = 256


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
    se : float64 array (n_samples, n_types + other) or None
        Standard errors of the proportions (and of ``other``, last); None
        when not asked for.
    sigma2 : float64 array (n_samples,)
        Fitted scale of the errors.
    loglik : float64 array (n_samples,)
        Final t log-likelihood of each sample.
    fits : list of FitResult
    """

    proportions: np.ndarray
    other: np.ndarray | None
    coefficients: np.ndarray
    se: np.ndarray | None
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


def _t_const(nu: float) -> float:
    """ln of the Student-t density's constant, ``Gamma((nu+1)/2) / (Gamma(nu/2) sqrt(nu pi))``."""
    from scipy.special import gammaln

    return float(gammaln((nu + 1) / 2) - gammaln(nu / 2) - 0.5 * np.log(nu * np.pi))


def _t_loglik(r2: np.ndarray, var: np.ndarray, nu: float) -> float:
    const = _t_const(nu)
    return float(np.sum(const - 0.5 * np.log(var) - (nu + 1) / 2 * np.log1p(r2 / (nu * var))))


def _shared_arrays(s: np.ndarray, var: np.ndarray | None) -> dict[str, np.ndarray | None]:
    """What every sample's fit reads: the packed products ``S_gk S_gl`` (genes x
    k(k+1)/2), ``S^T`` and the reference variances transposed (or ``None``)."""
    iu, ju = _blocks.pair_index(s.shape[1])
    return {
        "aa": np.ascontiguousarray(s[:, iu] * s[:, ju]),
        "st": np.ascontiguousarray(s.T),
        "vt": None if var is None else np.ascontiguousarray(var.T),
    }


def _newton_mstep(
    s: np.ndarray, y: np.ndarray, w: np.ndarray, c: np.ndarray, gram: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """The weighted NNLS M-step from ``c``, with the Gram matrix of earlier weights if it serves.

    The step minimises the quadratic model ``-g^T d + d^T G d / 2`` over
    ``c + d >= 0``, with ``g = S^T W (y - S c)`` exact and ``G`` the Gram
    matrix ``S^T W S`` of earlier weights (``gram``; ``None``: none yet).
    With the current weights' ``G`` that is the exact M-step.  The step is
    kept when the weighted least-squares objective gains at least
    :data:`MODEL_SHARE` of what the model promised (so it always gains: a
    generalised EM step); otherwise ``G`` is recomputed and the exact
    M-step taken.  Returns the new coefficients and the Gram matrix used.
    """
    from ._kernels import nnls_gram_from

    k = s.shape[1]
    g = s.T @ (w * (y - s @ c))
    out = np.empty(k)

    def solve(gram: np.ndarray) -> None:
        nnls_gram_from(gram, gram @ c + g, 50 * k, c, out)

    if gram is None:
        gram = (s * w[:, None]).T @ s
        solve(gram)
        return out, gram
    solve(gram)
    d = out - c
    sd = s @ d
    if g @ d - 0.5 * np.sum(w * sd * sd) < MODEL_SHARE * (g @ d - 0.5 * d @ gram @ d):
        gram = (s * w[:, None]).T @ s
        solve(gram)
    return out, gram


class _TRegression:
    """EM problem of one sample for a fixed variance shape ``v``."""

    def __init__(self, y: np.ndarray, s: np.ndarray, v: np.ndarray, nu: float, start: dict):
        self.y, self.s, self.v, self.nu, self.start = y, s, v, nu, start
        self.gram: np.ndarray | None = None  # None: computed at the first M-step

    def initial_params(self, rng: np.random.Generator) -> dict[str, Any]:
        return dict(self.start)

    def e_step(self, params: dict[str, Any]) -> tuple[dict[str, np.ndarray], float]:
        r2 = (self.y - self.s @ params["c"]) ** 2
        var = params["sigma2"] * self.v
        u = (self.nu + 1) / (self.nu + r2 / var)
        return {"u": u}, _t_loglik(r2, var, self.nu)

    def m_step(self, stats: dict[str, np.ndarray], params: dict[str, Any]) -> dict[str, Any]:
        w = stats["u"] / self.v
        c, self.gram = _newton_mstep(self.s, self.y, w, params["c"], self.gram)
        r2 = (self.y - self.s @ c) ** 2
        sigma2 = max(float(np.sum(w * r2)) / float(np.sum(stats["u"])), 1e-300)
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
) -> tuple[np.ndarray, float, np.ndarray, np.ndarray, float, FitResult]:
    """One sample through the generic EM engine (the reference for :func:`_fit_blocks`).

    Returns the coefficients, sigma^2, the bread and meat of the sandwich
    (``k x k``, see :func:`_sandwiches`), the log-likelihood and the fit record.
    """
    floor = VAR_FLOOR * max(float(y.mean()), 1e-300)
    c = _wnnls(s, y, 1.0 / np.maximum(y, floor))  # Poisson-weighted start
    mu = s @ c
    sigma2 = max(float(np.mean((y - mu) ** 2 / np.maximum(mu, floor))), 1e-300)
    fit: FitResult | None = None
    n_iter = 0
    history: list[float] = []
    gram = None
    shape_c, last_step, share = c, None, 1.0  # the coefficients the shape comes from
    for _ in range(OUTER):  # refresh the variance shape until the coefficients settle
        v = _shape(s @ shape_c, shape_c, var, sigma2)
        problem = _TRegression(y, s, v, nu, {"c": c, "sigma2": sigma2})
        first = fit is None
        if fit is not None:
            jump = abs(problem.e_step(problem.start)[1] - fit.history[-1])
            problem.gram = gram if jump <= STALE_JUMP * y.size else None
        params, fit = run_em(
            problem, max_iter=max_iter, tol=(max(tol, FIRST_RUN_TOL) if first else tol) * y.size
        )
        gram = problem.gram
        n_iter += fit.n_iter
        history.extend(fit.history)
        change = np.abs(params["c"] - c).max() / max(float(np.abs(params["c"]).max()), 1e-300)
        c, sigma2 = params["c"], params["sigma2"]
        mu = s @ c
        if change < SETTLED and (tol >= FIRST_RUN_TOL or not first):
            break
        step = c - shape_c
        if (
            last_step is not None
            and float(step @ last_step) < 0.0
            and float(step @ step) > 0.25 * float(last_step @ last_step)
        ):
            share = SHAPE_DAMPING
        shape_c, last_step = shape_c + share * step, step
    assert fit is not None
    v = _shape(mu, c, var, sigma2)
    r2 = (y - mu) ** 2
    z = r2 / (sigma2 * v)
    u = (nu + 1) / (nu + z)
    # slope of the estimating function u(r) r in r: the sandwich's bread
    slope = np.maximum((nu + 1) * (nu - z) / (nu + z) ** 2, 0.0) / (sigma2 * v)
    score = s * (u / (sigma2 * v) * (y - mu))[:, None]
    ll = _t_loglik(r2, sigma2 * v, nu)
    fit = dataclasses.replace(fit, n_iter=n_iter, loglik=ll, objective=ll, history=tuple(history))
    return c, sigma2, (s * slope[:, None]).T @ s, score.T @ score, ll, fit


def _sandwiches(bread: np.ndarray, meat: np.ndarray, coefs: np.ndarray) -> np.ndarray:
    """Sandwich covariance of each sample's coefficients in use (zero rows/columns elsewhere).

    ``bread`` holds ``S^T diag(b) S`` with ``b`` the slope of the estimating
    function over ``sigma^2 v``; ``meat`` ``S^T diag(e^2) S`` with ``e`` the
    scores ``u r / (sigma^2 v)``; both (n, k, k).  The bread is inverted by
    its pseudo-inverse (:func:`._kernels.sandwich_many`).
    """
    from ._kernels import sandwich_many

    cov = np.empty(bread.shape)
    sandwich_many(np.ascontiguousarray(bread), np.ascontiguousarray(meat), coefs, cov)
    return cov


def _fit_blocks(
    y: np.ndarray,
    s: np.ndarray,
    var: np.ndarray | None,
    nu: float,
    tol: float,
    max_iter: int,
    pool: Any,
    sandwich: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[FitResult]]:
    """:func:`_fit_sample` for every sample, blocks of samples at once.

    Returns coefficients (n, k), sigma^2 (n,), log-likelihoods (n,), bread and
    meat of the sandwich (n, k, k; zero without ``sandwich``) and the fit records.
    """
    genes, k = s.shape
    n = y.shape[1]
    shared = _shared_arrays(s, var)
    width = k * (k + 1) // 2
    coefs = np.empty((n, k))
    sigma2 = np.empty(n)
    ll = np.empty(n)
    packed = np.empty((2, n, width))
    fits: list[FitResult | None] = [None] * n

    def block(c0: int, c1: int) -> None:
        out = _Block(np.ascontiguousarray(y[:, c0:c1].T), s, shared, nu, tol, max_iter)
        out.run()
        packed[:, c0:c1] = out.finish(sandwich)
        coefs[c0:c1], sigma2[c0:c1], ll[c0:c1] = out.c, out.sigma2, out.ll
        fits[c0:c1] = out.fits()

    size = _blocks.BLOCK
    jobs = [(c0, min(n, c0 + size)) for c0 in range(0, n, size)]
    if pool is None or len(jobs) < 2:
        for job in jobs:
            block(*job)
    else:
        list(pool.map(lambda job: block(*job), jobs))
    bread, meat = (_blocks.unpack(p, k) for p in packed)
    return coefs, sigma2, ll, bread, meat, [f for f in fits if f is not None]


def _fit_compiled(
    y: np.ndarray, s: np.ndarray, var: np.ndarray | None, nu: float, tol: float, max_iter: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[FitResult]]:
    """:func:`_fit_blocks` with each sample's whole EM in compiled code (few genes).

    The same updates as :func:`_fit_sample` and :class:`_Block`
    (:func:`._robust_kernels.robust_one`), ``prange`` over the samples.
    """
    from .._jit import dynamic_schedule
    from . import _robust_kernels as RK

    start = time.perf_counter()
    s = np.ascontiguousarray(s)  # one compiled signature whatever the caller's layout
    genes, k = s.shape
    n = y.shape[1]
    iu, ju = _blocks.pair_index(k)
    shared = _shared_arrays(s, var)
    aa, st, vt = shared["aa"], shared["st"], shared["vt"]
    vt = np.empty((0, genes)) if vt is None else vt
    const = _t_const(nu)
    settings = np.array([FIRST_RUN_TOL * genes, OUTER, SETTLED, SHAPE_DAMPING, MODEL_SHARE,
                         STALE_JUMP * genes, VAR_FLOOR, ROUNDOFF_REL, ROUNDOFF_ABS])  # fmt: skip
    full = OUTER * (max_iter + 1) + 1  # the longest possible history
    cap = min(full, COMPILED_HISTORY)
    coefs = np.empty((n, k))
    packed = np.empty((n, 2, iu.size))
    info = np.empty((n, 7), dtype=np.int64)
    finfo = np.empty((n, 4))
    fits: list[FitResult] = []

    def fit(rows: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
        hist = np.empty((rows.size, size))
        dec = np.empty((rows.size, size), dtype=np.int64)
        out = (np.empty((rows.size, k)), np.empty((rows.size, 2, iu.size)),
               np.empty((rows.size, 7), dtype=np.int64), np.empty((rows.size, 4)))  # fmt: skip
        dynamic_schedule(
            RK.robust_many, np.ascontiguousarray(y[:, rows].T), s, st, aa, iu, ju, vt,
            float(nu), bool(nu <= PRODUCT_NU), const, tol * genes, int(max_iter), settings,
            *out[:2], hist, dec, *out[2:],
        )  # fmt: skip
        coefs[rows], packed[rows], info[rows], finfo[rows] = out
        return hist, dec

    for c0 in range(0, n, COMPILED_GROUP):
        c1 = min(n, c0 + COMPILED_GROUP)
        hist, dec = fit(np.arange(c0, c1), cap)
        # histories longer than the buffers: those samples again with room for any
        long = np.flatnonzero(info[c0:c1, RK.HIST_LEN] > cap)
        if long.size:
            hist_long, dec_long = fit(c0 + long, full)
            hist = np.concatenate([hist, np.zeros((c1 - c0, full - cap))], axis=1)
            dec = np.concatenate([dec, np.zeros((c1 - c0, full - cap), dtype=np.int64)], axis=1)
            hist[long], dec[long] = hist_long, dec_long
        status = info[c0:c1, RK.STATUS]
        if np.any(status == RK.NAN_LOGLIK):
            raise SeqemError(_NAN_LOGLIK)
        if np.any(status == RK.ZERO_START):
            raise SeqemError(_NOT_FINITE_START)
        for i in range(c1 - c0):
            rec, frec = info[c0 + i], finfo[c0 + i]
            falls = tuple(int(x) for x in dec[i, : rec[RK.DEC_LEN]])
            for at in falls:
                warnings.warn(
                    f"EM objective fell at iteration {at}; this indicates a numerical problem",
                    ConvergenceWarning,
                    stacklevel=3,
                )
            if rec[RK.UNCONVERGED]:
                warnings.warn(
                    f"EM did not converge in {max_iter} iterations (last change "
                    f"{frec[RK.LAST_CHANGE]:.3g}, tol {tol * genes:g}) in "
                    f"{rec[RK.UNCONVERGED]} run(s); increase max_iter or tol",
                    ConvergenceWarning,
                    stacklevel=3,
                )
            converged = bool(rec[RK.CONVERGED])
            reason = "no_iter" if max_iter == 0 else ("tol" if converged else "max_iter")
            fits.append(
                FitResult(
                    converged=converged,
                    stop_reason=reason,
                    n_iter=int(rec[RK.N_ITER]),
                    loglik=float(frec[RK.LOGLIK]),
                    objective=float(frec[RK.LOGLIK]),
                    history=tuple(hist[i, : rec[RK.HIST_LEN]].tolist()),
                    seed=0,
                    elapsed=time.perf_counter() - start,
                    decreases=falls,
                    init_objectives=(float(frec[RK.LAST_RUN]),),
                )
            )
    bread, meat = (_blocks.unpack(np.ascontiguousarray(packed[:, i]), k) for i in range(2))
    return coefs, finfo[:, RK.SIGMA2].copy(), finfo[:, RK.LOGLIK].copy(), bread, meat, fits


class _Block:
    """The EM of the samples of one block, all at once.

    Each round takes one EM update of every sample still fitting: the NNLS
    on its weighted normal equations (from the last E-step), the closed-form
    ``sigma^2`` at the new coefficients and the E-step there (weights,
    log-likelihood, the next normal equations), each a pass over chunks of
    genes (:data:`._blocks.CHUNK`) whose fitted values and weights stay in
    cache.  A sample whose EM run stops (its log-likelihood rose by less
    than ``tol`` per gene, or ``max_iter`` updates) refreshes its variance
    shape and starts the next run, or leaves when its coefficients settled:
    :func:`_fit_sample`'s steps, sample by sample.

    ``y`` holds the block's samples as rows (samples x genes).
    """

    def __init__(
        self, y: np.ndarray, s: np.ndarray, shared: dict, nu: float, tol: float, max_iter: int
    ) -> None:
        self.start_time = time.perf_counter()
        self.y, self.s, self.nu, self.max_iter = y, s, nu, max_iter
        self.aa, self.st, self.vt = shared["aa"], shared["st"], shared["vt"]
        nb, genes = y.shape
        k = s.shape[1]
        self.tol = tol * genes
        self.const = _t_const(nu)
        step = _blocks.CHUNK
        self.chunks = [(g0, min(genes, g0 + step)) for g0 in range(0, genes, step)]
        self.iv = np.empty((nb, genes))  # reciprocal variance shapes
        self.logv = np.empty(nb)  # sum of the logarithms of the variance shapes
        self.w = np.empty((nb, genes))
        self.gram = np.empty((nb, self.aa.shape[1]))  # S^T W S at some recent weights
        self.fresh = np.zeros(nb, dtype=bool)  # ... at the current weights
        self.grad = np.empty((nb, k))  # S^T W (y - S c) at the current point
        self.sigma2 = np.empty(nb)
        self.ll = np.empty(nb)
        self.mu = np.empty((nb, genes))  # fitted values at the last E-step
        self.usum = np.empty(nb)  # sums of the latent precisions' expectations
        self.run_tol = np.empty(nb)  # stopping tolerance of the current run
        self.c = np.empty((nb, k))
        self.c_run = np.empty((nb, k))  # coefficients at the start of the current run
        self.shape_c = np.zeros((nb, k))  # the coefficients the variance shape comes from
        self.last_step = np.zeros((nb, k))  # their last refresh step
        self.share = np.ones(nb)  # how far a refresh moves them (SHAPE_DAMPING once reversed)
        self.updates = np.zeros(nb, dtype=np.int64)  # in the current run
        self.n_iter = np.zeros(nb, dtype=np.int64)
        self.runs = np.zeros(nb, dtype=np.int64)
        self.converged = np.zeros(nb, dtype=bool)
        self.history: list[list[float]] = [[] for _ in range(nb)]
        self.decreases: list[list[int]] = [[] for _ in range(nb)]
        self.last_run = np.zeros(nb)  # the objective each sample's last run ended with

    def _fitted(self, rows: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
        """Fitted values of ``rows`` (one array per chunk of genes), their weighted sums of
        squares under the current weights (``sigma^2``'s M-step) and the curvature of the
        step from the last E-step's fitted values, ``sum_g w_g (S d)_g^2``."""
        from ._kernels import t_scale

        c = self.c[rows]
        mus = [c @ self.st[:, g0:g1] for g0, g1 in self.chunks]
        acc = np.zeros(rows.size)
        curv = np.zeros(rows.size)
        for (g0, _), mu in zip(self.chunks, mus, strict=True):
            t_scale(self.y, mu, self.w, self.mu, rows, g0, acc, curv)
        return mus, acc, curv

    def _estep(
        self,
        rows: np.ndarray,
        mus: list[np.ndarray] | None = None,
        normal: bool = True,
        gram: bool = False,
    ) -> None:
        """E-step of ``rows`` at their coefficients and ``sigma^2`` (``mus``: the fitted values).

        Sets the weights, the log-likelihoods, the sums of the latent
        precisions, the fitted values (kept for the next step's curvature),
        (``normal``) the gradient of the weighted least squares and
        (``gram``) its Gram matrix.
        """
        from ._kernels import t_estep

        y, s, c = self.y, self.s, self.c[rows]
        m = rows.size
        if mus is None:
            mus = [c @ self.st[:, g0:g1] for g0, g1 in self.chunks]
        logsum = np.zeros(m)
        usum = np.zeros(m)
        grams = np.zeros((m, self.aa.shape[1]))
        grad = np.zeros((m, s.shape[1]))
        for (g0, g1), mu in zip(self.chunks, mus, strict=True):
            wc = np.empty((m, g1 - g0))
            wr = np.empty((m, g1 - g0))
            t_estep(y, mu, self.iv, rows, g0, self.nu, self.nu <= PRODUCT_NU, self.sigma2,
                    self.w, wc, wr, logsum, usum, self.mu)  # fmt: skip
            if gram:
                grams += wc @ self.aa[g0:g1]
            if normal:
                grad += wr @ s[g0:g1]
        genes = y.shape[1]
        s2 = self.sigma2[rows]
        ll = genes * (self.const - 0.5 * np.log(s2)) - 0.5 * self.logv[rows]
        ll -= (self.nu + 1) / 2 * logsum
        if np.any(np.isnan(ll)):
            raise SeqemError(_NAN_LOGLIK)
        self.ll[rows] = ll
        self.usum[rows] = usum
        if normal:
            self.grad[rows] = grad
        if gram:
            self.gram[rows] = grams
        self.fresh[rows] = gram

    def _gram(self, rows: np.ndarray) -> None:
        """The Gram matrices of ``rows`` at their current weights."""
        grams = np.zeros((rows.size, self.aa.shape[1]))
        for g0, g1 in self.chunks:
            grams += self.w[rows, g0:g1] @ self.aa[g0:g1]
        self.gram[rows] = grams
        self.fresh[rows] = True

    def _solve(self, rows: np.ndarray, c0: np.ndarray) -> np.ndarray:
        """The M-step of ``rows`` from ``c0`` on their Gram matrices (:func:`_newton_mstep`)."""
        from ._kernels import nnls_many_from

        k = self.c.shape[1]
        gram = _blocks.unpack(self.gram[rows], k)
        c = np.empty((rows.size, k))
        rhs = np.einsum("nij,nj->ni", gram, c0) + self.grad[rows]
        nnls_many_from(gram, rhs, 50 * k, np.ascontiguousarray(c0), c)
        return c

    def _update(self, rows: np.ndarray) -> list[np.ndarray]:
        """The M-step of ``rows`` (coefficients, then ``sigma^2``); returns the fitted values.

        A step ``d`` from an earlier Gram matrix is kept when the weighted
        least squares (under the current weights) gain ``g^T d - d^T S^T W S
        d / 2`` at least :data:`MODEL_SHARE` of what the quadratic model
        promised (the curvature comes from the same pass over the genes as
        ``sigma^2``'s sums); the others are taken again from the current
        weights' Gram matrix.
        """
        k = self.c.shape[1]
        c0, g = self.c[rows], self.grad[rows]
        self.c[rows] = c = self._solve(rows, c0)
        mus, acc, curv = self._fitted(rows)
        stale = np.flatnonzero(~self.fresh[rows])
        if stale.size:
            d = c[stale] - c0[stale]
            gram = _blocks.unpack(self.gram[rows[stale]], k)
            gain = np.einsum("ij,ij->i", g[stale], d)
            model = gain - 0.5 * np.einsum("ni,nij,nj->n", d, gram, d)
            poor = stale[gain - 0.5 * curv[stale] < MODEL_SHARE * model]
            if poor.size:
                self._gram(rows[poor])
                self.c[rows[poor]] = self._solve(rows[poor], c0[poor])
                again, acc[poor], _ = self._fitted(rows[poor])
                for mu, redo in zip(mus, again, strict=True):
                    mu[poor] = redo
        self.sigma2[rows] = np.maximum(acc / self.usum[rows], 1e-300)
        return mus

    def _shape(self, rows: np.ndarray, c: np.ndarray) -> None:
        """Variance shapes of ``rows`` from the fitted values of coefficients ``c``
        (:func:`_shape`)."""
        from ._kernels import t_shape

        mu = c @ self.st
        floor = VAR_FLOOR * np.maximum(mu.mean(axis=1), 1e-300)
        extra = np.empty((rows.size, 0))
        if self.vt is not None:
            extra = ((c * c) @ self.vt) / self.sigma2[rows, None]
        t_shape(mu, floor, extra, rows, self.iv, self.logv)

    def _start_runs(self, rows: np.ndarray) -> None:
        """A new EM run of each of ``rows``: variance shape and E-step at the current point.

        The first run stops at :data:`FIRST_RUN_TOL` per gene, the others at
        ``tol``.  A run starts from the Gram matrix of its own first weights,
        or from the last one when its new shape moved the log-likelihood by
        at most :data:`STALE_JUMP` per gene.  The shape comes from the fitted
        values of ``shape_c``: the coefficients themselves at first, then moved
        towards each run's end point, only :data:`SHAPE_DAMPING` of the way
        once a refresh has reversed the direction of the one before without
        shrinking to half of it.
        """
        first = self.runs[rows] == 0
        step = self.c[rows] - self.shape_c[rows]
        last = self.last_step[rows]
        cycling = (np.einsum("ij,ij->i", step, last) < 0.0) & (
            np.einsum("ij,ij->i", step, step) > 0.25 * np.einsum("ij,ij->i", last, last)
        )
        share = np.where(cycling, SHAPE_DAMPING, self.share[rows])
        self.shape_c[rows] = np.where(
            first[:, None], self.c[rows], self.shape_c[rows] + share[:, None] * step
        )
        self.last_step[rows] = np.where(first[:, None], 0.0, step)
        self.share[rows] = share
        self._shape(rows, self.shape_c[rows])
        self._estep(rows)
        # a new shape that barely moves the likelihood keeps the last Gram matrix
        jump = np.abs(self.ll[rows] - self.last_run[rows])
        fresh = first | (jump > STALE_JUMP * self.y.shape[1])
        if fresh.any():
            self._gram(rows[fresh])
        if not np.all(np.isfinite(self.ll[rows])):
            raise SeqemError(_NOT_FINITE_START)
        self.run_tol[rows] = np.where(
            first, max(self.tol, FIRST_RUN_TOL * self.y.shape[1]), self.tol
        )
        self.c_run[rows] = self.c[rows]
        self.updates[rows] = 0
        for j in rows:
            self.history[j].append(float(self.ll[j]))

    def run(self) -> None:
        """EM until every sample's coefficients settle (or its runs are spent)."""
        from ._kernels import nnls_many_from

        y, s = self.y, self.s
        nb, k = self.c.shape
        # Poisson-weighted start: weights 1 / max(y, floor), then sigma^2 from the fit
        floor = VAR_FLOOR * np.maximum(y.mean(axis=1), 1e-300)[:, None]
        gram = np.zeros((nb, self.aa.shape[1]))
        rhs = np.zeros((nb, k))
        for g0, g1 in self.chunks:
            w0 = 1.0 / np.maximum(y[:, g0:g1], floor)
            gram += w0 @ self.aa[g0:g1]
            rhs += (w0 * y[:, g0:g1]) @ s[g0:g1]
        nnls_many_from(_blocks.unpack(gram, k), rhs, 50 * k, np.zeros((nb, k)), self.c)
        acc = np.zeros(nb)
        for g0, g1 in self.chunks:
            mu = self.c @ self.st[:, g0:g1]
            acc += ((y[:, g0:g1] - mu) ** 2 / np.maximum(mu, floor)).sum(axis=1)
        self.sigma2[:] = np.maximum(acc / y.shape[1], 1e-300)
        active = np.arange(nb)
        self._start_runs(active)
        if self.max_iter == 0:
            self.runs[:] = 1
            self.last_run[:] = self.ll
            return
        while active.size:
            old = self.ll[active]
            self._estep(active, self._update(active))
            new = self.ll[active]
            self.updates[active] += 1
            self.n_iter[active] += 1
            # a fall beyond round-off is never convergence (as in the EM engine)
            fell = new - old < -(ROUNDOFF_REL * np.maximum(np.abs(old), np.abs(new)) + ROUNDOFF_ABS)
            done = ~fell & (new - old < self.run_tol[active])
            self.converged[active] = done
            for i, j in enumerate(active):
                self.history[j].append(float(new[i]))
                if fell[i]:
                    self.decreases[j].append(int(self.n_iter[j]))
                    warnings.warn(
                        f"EM objective fell from {old[i]:.10g} to {new[i]:.10g} at iteration "
                        f"{self.updates[j]}; this indicates a numerical problem",
                        ConvergenceWarning,
                        stacklevel=2,
                    )
            ended = active[done | (self.updates[active] >= self.max_iter)]
            if not ended.size:
                continue
            self._end_runs(ended)
            settled = ended[self._settled(ended)]
            active = np.setdiff1d(active, settled)
            restart = np.setdiff1d(ended, settled)
            if restart.size:
                self._start_runs(restart)

    def _end_runs(self, rows: np.ndarray) -> None:
        """Close the current run of each of ``rows`` (the last E-step is at its end point)."""
        self.runs[rows] += 1
        self.last_run[rows] = self.ll[rows]
        for j in rows:
            if not self.converged[j]:
                last = self.history[j][-1] - self.history[j][-2]
                warnings.warn(
                    f"EM did not converge in {self.max_iter} iterations (last change "
                    f"{last:.3g}, tol {self.tol:g}); increase max_iter or tol",
                    ConvergenceWarning,
                    stacklevel=2,
                )

    def _settled(self, rows: np.ndarray) -> np.ndarray:
        """Which of ``rows`` are done: coefficients settled over a run stopped at ``tol``,
        or runs spent."""
        c, before = self.c[rows], self.c_run[rows]
        top = np.maximum(np.abs(c).max(axis=1), 1e-300)
        change = np.abs(c - before).max(axis=1) / top
        tight = self.run_tol[rows] <= self.tol
        return ((change < SETTLED) & tight) | (self.runs[rows] >= OUTER)

    def finish(self, sandwich: bool = True) -> np.ndarray:
        """Final variance shapes and log-likelihoods; packed bread and meat (2, nb, k(k+1)/2),
        zero without ``sandwich``."""
        from ._kernels import t_sandwich

        rows = np.arange(self.y.shape[0])
        self._shape(rows, self.c[rows])
        self._estep(rows, normal=False)
        out = np.zeros((2, rows.size, self.aa.shape[1]))
        for g0, g1 in self.chunks if sandwich else ():
            bread = np.empty((rows.size, g1 - g0))
            meat = np.empty((rows.size, g1 - g0))
            mu = self.c @ self.st[:, g0:g1]
            t_sandwich(self.y, mu, self.iv, rows, g0, self.nu, self.sigma2, bread, meat)
            out[0] += bread @ self.aa[g0:g1]
            out[1] += meat @ self.aa[g0:g1]
        return out

    def fits(self) -> list[FitResult]:
        elapsed = time.perf_counter() - self.start_time
        reason = "no_iter" if self.max_iter == 0 else None
        return [
            FitResult(
                converged=bool(self.converged[j]),
                stop_reason=reason or ("tol" if self.converged[j] else "max_iter"),
                n_iter=int(self.n_iter[j]),
                loglik=float(self.ll[j]),
                objective=float(self.ll[j]),
                history=tuple(self.history[j]),
                seed=0,
                elapsed=elapsed,
                decreases=tuple(self.decreases[j]),
                init_objectives=(float(self.last_run[j]),),
            )
            for j in range(self.y.shape[0])
        ]


def _to_cells(
    c: np.ndarray, mrna: np.ndarray, other: bool, mrna_other: float
) -> tuple[np.ndarray, np.ndarray]:
    """Cell fractions of each sample (types, then other) and their Jacobians with
    respect to the coefficients ``c`` (n, k): (n, k [+ 1]) and (n, k [+ 1], k)."""
    n, k = c.shape
    if other:
        f = np.column_stack([c / mrna, (1.0 - c.sum(axis=1)) / mrna_other])
        jf = np.vstack([np.diag(1.0 / mrna), np.full((1, k), -1.0 / mrna_other)])
    else:
        f = c / mrna
        jf = np.diag(1.0 / mrna)
    total = f.sum(axis=1)
    ok = total > 0
    p = np.full(f.shape, np.nan)
    jp = np.zeros((n, f.shape[1], k))
    p[ok] = f[ok] / total[ok, None]
    # d(f / sum f) = (I - p 1^T) df / sum f
    jp[ok] = (jf - p[ok][:, :, None] * jf.sum(axis=0)) / total[ok, None, None]
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
    batched: bool = True,
    standard_errors: bool = True,
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
        Degrees of freedom of the Student-t errors, above 0 and at most
        :data:`NU_MAX` (large values: practically Gaussian).
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
        Threads over blocks of samples (``None`` or 0: every available core).
    batched : bool
        Fit blocks of samples at once (default); ``False`` fits one sample
        at a time through the generic EM engine, the reference behaviour
        (the same updates, slower).
    standard_errors : bool
        Compute the standard errors (default); without them a fit of many
        samples against a large reference saves a pass over the genes and
        two products per sample.

    Notes
    -----
    A sample (or the reference) whose largest value lies outside
    :data:`~.mixture.SAFE_MAGNITUDE` is fitted after an exact scaling by a
    power of two; the coefficients, ``sigma2`` and the log-likelihoods are
    reported on the data's own scale.
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
    if not 0 < nu <= NU_MAX:
        raise ParameterError(
            f"nu (degrees of freedom) must be above 0 and at most {NU_MAX:g}, got {nu!r}"
        )
    n = y.shape[1]
    width = k + (1 if other else 0)
    props = np.empty((n, width))
    coefs = np.empty((n, k))
    sigma2 = np.empty(n)
    ll = np.empty(n)
    empty = np.flatnonzero(~np.any(y > 0, axis=0))
    if empty.size:
        raise InputFormatError(f"mixture sample {int(empty[0]) + 1} has no expression")
    # data too small or too large for squares and products: scaled by powers of two
    # (exactly); the model is equivariant, so only the absolute figures change back
    ey = safe_exponents(y.max(axis=0))
    es = int(safe_exponents(s.max())[()])
    if ey.any() or es:
        y = np.ldexp(y, -ey[None, :])
        s = np.ldexp(s, -es)
        v = None if v is None else np.ldexp(v, -2 * es)

    compiled = batched and g * k * (k + 1) // 2 <= COMPILED_WORK
    # BLAS on one thread under the workers (their products are per block or per sample)
    with worker_pool(n_threads, 1 if compiled else n) as pool:
        if compiled:
            coefs[:], sigma2[:], ll[:], bread, meat, fits = _fit_compiled(
                y, s, v, nu, tol, max_iter
            )
        elif batched:
            coefs[:], sigma2[:], ll[:], bread, meat, fits = _fit_blocks(
                y, s, v, nu, tol, max_iter, pool, standard_errors
            )
        else:

            def one(j: int) -> tuple:
                return _fit_sample(y[:, j], s, v, nu, tol, max_iter)

            each = list(map(one, range(n))) if pool is None else list(pool.map(one, range(n)))
            coefs[:] = [r[0] for r in each]
            sigma2[:] = [r[1] for r in each]
            bread = np.array([r[2] for r in each])
            meat = np.array([r[3] for r in each])
            ll[:] = [r[4] for r in each]
            fits = [r[5] for r in each]
    cov = None
    if standard_errors:
        if not (np.all(np.isfinite(bread)) and np.all(np.isfinite(meat))):
            raise SeqemError(
                "numerical failure in the robust fit: the standard errors' matrices are not "
                "finite (try another nu, or the multinomial mixture EM)"
            )
        cov = _sandwiches(bread, meat, coefs)
    shift = ey - es  # coefficients on the data's own scale: times 2^shift
    if ey.any() or es:
        # the t density of y is the scaled data's over 2^ey per gene
        drop = g * ey * np.log(2.0)
        ll -= drop
        sigma2[:] = np.ldexp(sigma2, ey)
        fits = [
            dataclasses.replace(
                f, loglik=f.loglik - d, objective=f.objective - d,
                history=tuple(h - d for h in f.history),
            )
            for f, d in zip(fits, drop, strict=True)
        ]  # fmt: skip
        if other:  # read on the absolute scale: the coefficients as they are
            coefs = np.ldexp(coefs, shift[:, None])
            if cov is not None:
                cov = np.ldexp(cov, 2 * shift[:, None, None])
    if other:  # more than all of the sample: nothing left over
        scale = 1.0 / np.maximum(coefs.sum(axis=1), 1.0)
        coefs *= scale[:, None]
        if cov is not None:
            cov *= (scale**2)[:, None, None]
    # proportions do not depend on each sample's scale: from the fitted coefficients
    props[:], jp = _to_cells(coefs, m, other, mrna_other)
    se = None
    if cov is not None:
        se = np.sqrt(np.maximum(np.einsum("nik,nkl,nil->ni", jp, cov, jp), 0.0))
    if not other:
        coefs = np.ldexp(coefs, shift[:, None])
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
