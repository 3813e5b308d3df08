"""Gaussian mixture models fitted by EM.

:class:`GaussianMixture` follows scikit-learn's estimator (parameter and
attribute names, the ``reg_covar`` added to every covariance, the lower
bound as the mean log-likelihood per sample, ``tol`` on its change) so that
the two can be compared step by step, and adds sample weights, AIC/BIC and
the shared EM engine's report (:class:`~seqem.em.engine.FitResult`).

Each EM iteration is one pass of a Numba kernel over the samples
(:mod:`._kernels`, driven by :mod:`._gmm_steps`): blocks of a few hundred
rows are whitened for every component by one BLAS product, the
responsibilities are formed and folded at once into the sufficient
statistics (counts, first moments, second moments about the current means),
so the ``n x K`` responsibilities are never stored; chunks of blocks run in
parallel (``n_threads``) and their statistics add up, in chunk order.  ``X``
may be a memory map of data larger than memory.

Covariance types: ``full`` (one matrix per component), ``tied`` (one matrix
shared), ``diag`` (one vector per component), ``spherical`` (one variance
per component).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._jit import threads
from ..em.engine import FitResult, run_em
from ..errors import InputFormatError, NotFittedError, ParameterError
from ._gmm_steps import params_from_stats, scatter, sufficient_statistics

__all__ = ["GaussianMixture"]

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
INIT_PARAMS = ("kmeans", "k-means++", "random", "random_from_data")
#: Rows per block in the input checks.
BLOCK = 65536


#: Largest magnitude of a value the mixture takes: squared distances (up to
#: (2 x 1e100)^2 = 4e200) summed over any number of rows stay far below the
#: largest floating-point number (1.8e308).
MAX_ABS = 1e100


def check_data(
    X: Any,
    name: str = "X",
    *,
    path: str | None = None,
    columns: Sequence[str] | None = None,
) -> np.ndarray:
    """A finite float64 2-D array (a 1-D array is one feature) whose values' squares
    cannot overflow (magnitudes at most :data:`MAX_ABS`).

    ``path`` and ``columns`` (the file and the column names ``X`` was read
    from) only name the problem in messages.
    """
    try:
        arr = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputFormatError(f"{name} must be numeric", path=path) from None
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InputFormatError(f"{name} must be a non-empty samples x features matrix", path=path)
    for lo in range(0, arr.shape[0], BLOCK):  # by blocks: X may be a memory map
        part = arr[lo : lo + BLOCK]
        if not np.all(np.isfinite(part)):
            bad = lo + int(np.argwhere(~np.isfinite(part))[0, 0])
            raise InputFormatError(f"{name} has a NaN or infinite value (row {bad + 1})", path=path)
        big = np.abs(part) > MAX_ABS
        if big.any():
            i, j = (int(x) for x in np.argwhere(big)[0])
            col = f"column {columns[j]!r}" if columns is not None else f"column {j + 1}"
            raise InputFormatError(
                f"value {part[i, j]:.4g} in {col} (row {lo + i + 1}) is too large for a "
                f"Gaussian mixture (GMM): its square overflows the sums of squares (largest "
                f"magnitude {MAX_ABS:g}); rescale the column",
                path=path,
            )
    return np.ascontiguousarray(arr)


# ---------------------------------------------------------------------------
# Gaussian algebra


def precisions_cholesky(covariances: np.ndarray, covariance_type: str) -> np.ndarray:
    """Cholesky factors of the precisions (upper triangular, as scikit-learn's)."""
    if covariance_type in ("diag", "spherical"):
        if np.any(covariances <= 0):
            raise ParameterError("a covariance became singular (zero variance); increase reg_covar")
        return 1.0 / np.sqrt(covariances)
    mats = covariances[None] if covariance_type == "tied" else covariances
    out = np.empty_like(mats)
    for k, cov in enumerate(mats):
        try:
            chol = np.linalg.cholesky(cov)
        except np.linalg.LinAlgError:
            raise ParameterError(
                "a covariance matrix is not positive definite (collapsed component); "
                "increase reg_covar or use fewer components"
            ) from None
        d = cov.shape[0]
        out[k] = _solve_lower(chol, np.eye(d)).T
    return out[0] if covariance_type == "tied" else out


def _solve_lower(lower: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    from scipy.linalg import solve_triangular

    return np.asarray(solve_triangular(lower, rhs, lower=True))


def covariances_from_precisions(prec: np.ndarray, covariance_type: str) -> np.ndarray:
    """Covariances from precision matrices (or vectors)."""
    if covariance_type in ("diag", "spherical"):
        return 1.0 / prec
    if covariance_type == "tied":
        return np.asarray(np.linalg.inv(prec))
    return np.asarray([np.linalg.inv(p) for p in prec])


def log_gaussian(
    X: np.ndarray, means: np.ndarray, prec_chol: np.ndarray, covariance_type: str
) -> np.ndarray:
    """``log N(x_i | mu_k, Sigma_k)`` for every sample and component (n x K)."""
    n, d = X.shape
    K = means.shape[0]
    out = np.empty((n, K))
    if covariance_type == "full":
        log_det = np.log(np.diagonal(prec_chol, axis1=1, axis2=2)).sum(axis=1)
        for k in range(K):
            y = X @ prec_chol[k] - means[k] @ prec_chol[k]
            out[:, k] = np.einsum("ij,ij->i", y, y)
    elif covariance_type == "tied":
        log_det = np.full(K, np.log(np.diag(prec_chol)).sum())
        mu_w = means @ prec_chol
        xw = X @ prec_chol
        for k in range(K):
            y = xw - mu_w[k]
            out[:, k] = np.einsum("ij,ij->i", y, y)
    elif covariance_type == "diag":
        log_det = np.log(prec_chol).sum(axis=1)
        prec = prec_chol**2
        out[:] = (
            (means**2 * prec).sum(axis=1)[None] - 2.0 * (X @ (means * prec).T) + (X**2) @ prec.T
        )
    else:  # spherical
        log_det = d * np.log(prec_chol)
        prec = prec_chol**2
        out[:] = (
            (means**2).sum(axis=1)[None] * prec[None]
            - 2.0 * (X @ means.T) * prec[None]
            + np.outer((X**2).sum(axis=1), prec)
        )
    return -0.5 * (d * np.log(2 * np.pi) + out) + log_det[None]


def _logsumexp_rows(a: np.ndarray) -> np.ndarray:
    top = a.max(axis=1)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return np.log(np.exp(a - top[:, None]).sum(axis=1)) + top


def weighted_moments(
    X: np.ndarray, resp: np.ndarray, reg_covar: float, covariance_type: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """M-step: weights (unnormalised counts), means and covariances from responsibilities."""
    nk = resp.sum(axis=0) + 10 * np.finfo(resp.dtype).eps
    means = (resp.T @ X) / nk[:, None]
    d = X.shape[1]
    if covariance_type == "full":
        cov = np.empty((means.shape[0], d, d))
        for k in range(means.shape[0]):
            diff = X - means[k]
            cov[k] = (resp[:, k] * diff.T) @ diff / nk[k]
            cov[k].flat[:: d + 1] += reg_covar
    elif covariance_type == "tied":
        rows = resp.sum(axis=1)  # each sample's weight
        cov = (X * rows[:, None]).T @ X - (nk * means.T) @ means
        cov /= nk.sum()
        cov.flat[:: d + 1] += reg_covar
    else:
        avg_x2 = (resp.T @ (X * X)) / nk[:, None]
        cov = avg_x2 - means**2 + reg_covar
        if covariance_type == "spherical":
            cov = cov.mean(axis=1)
    return nk, means, cov


# ---------------------------------------------------------------------------
# EM problem


class _GMMProblem:
    """The engine's view of a Gaussian mixture fit.

    The E-step is one pass of a kernel of :mod:`._kernels` over the
    samples; it returns the sufficient statistics (about shifts, see
    :func:`params_from_stats`), never the responsibilities.
    """

    def __init__(
        self, model: GaussianMixture, X: np.ndarray, weights: np.ndarray, starts: list[dict]
    ) -> None:
        self.model = model
        self.X = X
        self.w = weights
        self.starts = starts
        self.n_starts = 0
        self.center = (weights @ X) / weights.sum()
        self.scatter = None
        if model.covariance_type == "tied":  # the data's scatter about the centre, once
            self.scatter = scatter(X, weights, self.center)

    def initial_params(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        params = self.starts[self.n_starts]
        self.n_starts += 1
        return params

    def e_step(self, params: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], float]:
        return sufficient_statistics(
            self.X, self.w, params, self.model.covariance_type, self.center
        )

    def m_step(self, stats: dict[str, np.ndarray], params: dict[str, np.ndarray]) -> dict:
        m = self.model
        weights, means, cov = params_from_stats(stats, m.reg_covar, m.covariance_type, self.scatter)
        return {
            "weights": weights,
            "means": means,
            "covariances": cov,
            "prec_chol": precisions_cholesky(cov, m.covariance_type),
        }

    def log_prior(self, params: dict[str, np.ndarray]) -> float:
        return 0.0


class GaussianMixture:
    """Gaussian mixture model fitted by EM (scikit-learn's interface).

    Parameters
    ----------
    n_components : int
    covariance_type : {"full", "tied", "diag", "spherical"}
    tol : float
        Stop when the lower bound (mean log-likelihood per sample) rises by
        less than this.
    reg_covar : float
        Added to the diagonal of every covariance.
    max_iter, n_init : int
        Iterations per start; starts (the best lower bound wins).
    init_params : {"kmeans", "k-means++", "random", "random_from_data"}
        Starting responsibilities: Lloyd's k-means from k-means++ seeds, the
        k-means++ seeds alone, random responsibilities, or random samples
        as means.
    weights_init, means_init, precisions_init : arrays, optional
        Starting parameters (override what ``init_params`` gives).
    random_state : None, int or numpy Generator
    n_threads : int, optional
        Threads for the E-step kernels (None or 0: all available cores).
        Results do not depend on it.
    """

    def __init__(
        self,
        n_components: int = 1,
        *,
        covariance_type: str = "full",
        tol: float = 1e-3,
        reg_covar: float = 1e-6,
        max_iter: int = 100,
        n_init: int = 1,
        init_params: str = "kmeans",
        weights_init: Any = None,
        means_init: Any = None,
        precisions_init: Any = None,
        random_state: Any = None,
        n_threads: int | None = None,
    ) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.n_threads = n_threads

    # -- checks ------------------------------------------------------------

    def _check_hyper(self, n: int) -> None:
        if not isinstance(self.n_components, (int, np.integer)) or self.n_components < 1:
            raise ParameterError(f"n_components must be >= 1, got {self.n_components!r}")
        if self.n_components > n:
            raise ParameterError(f"n_components={self.n_components} is more than {n} samples")
        if self.covariance_type not in COVARIANCE_TYPES:
            raise ParameterError(
                f"covariance_type must be one of {', '.join(COVARIANCE_TYPES)}, "
                f"got {self.covariance_type!r}"
            )
        if self.init_params not in INIT_PARAMS:
            raise ParameterError(
                f"init_params must be one of {', '.join(INIT_PARAMS)}, got {self.init_params!r}"
            )
        if not (self.reg_covar >= 0 and math.isfinite(self.reg_covar)):
            raise ParameterError(f"reg_covar must be >= 0, got {self.reg_covar!r}")
        if not (self.tol >= 0 and math.isfinite(self.tol)):
            raise ParameterError(f"tol must be >= 0, got {self.tol!r}")

    def _precision_shape(self, d: int) -> tuple[int, ...]:
        K = self.n_components
        return {
            "full": (K, d, d),
            "tied": (d, d),
            "diag": (K, d),
            "spherical": (K,),
        }[self.covariance_type]

    # -- starts ------------------------------------------------------------

    def _start(self, X: np.ndarray, w: np.ndarray, rng: np.random.Generator) -> dict:
        n, d = X.shape
        K = self.n_components
        given = (self.weights_init, self.means_init, self.precisions_init)
        if all(x is not None for x in given):
            return self._with_inits(None, None, None, d)  # no data-driven start needed
        resp = np.zeros((n, K))
        if self.init_params in ("kmeans", "k-means++"):
            centers = _kmeans_plus_plus(X, w, K, rng)
            if self.init_params == "kmeans":
                centers = _lloyd(X, w, centers)
            resp[np.arange(n), _nearest(X, centers)] = 1.0
        elif self.init_params == "random":
            resp = rng.uniform(size=(n, K))
            resp /= resp.sum(axis=1, keepdims=True)
        else:
            pick = rng.choice(n, size=K, replace=False)
            resp[pick, np.arange(K)] = 1.0
        nk, means, cov = weighted_moments(X, resp * w[:, None], self.reg_covar,
                                          self.covariance_type)  # fmt: skip
        return self._with_inits(nk / nk.sum(), means, cov, d)

    def _with_inits(self, weights: Any, means: Any, cov: Any, d: int) -> dict[str, np.ndarray]:
        """Starting parameters: the user's ``*_init`` where given, else these."""
        K = self.n_components
        if self.weights_init is not None:
            weights = np.asarray(self.weights_init, dtype=np.float64)
            if weights.shape != (K,) or np.any(weights < 0) or abs(weights.sum() - 1) > 1e-6:
                raise ParameterError(f"weights_init must be {K} probabilities summing to 1")
        if self.means_init is not None:
            means = np.asarray(self.means_init, dtype=np.float64)
            if means.shape != (K, d):
                raise ParameterError(f"means_init must have shape {(K, d)}, got {means.shape}")
        if self.precisions_init is not None:
            prec = np.asarray(self.precisions_init, dtype=np.float64)
            if prec.shape != self._precision_shape(d):
                raise ParameterError(
                    f"precisions_init must have shape {self._precision_shape(d)}, got {prec.shape}"
                )
            cov = covariances_from_precisions(prec, self.covariance_type)
        return {
            "weights": weights,
            "means": means,
            "covariances": cov,
            "prec_chol": precisions_cholesky(cov, self.covariance_type),
        }

    # -- fitting -----------------------------------------------------------

    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> GaussianMixture:
        """Fit by EM from ``n_init`` starts; the best lower bound wins."""
        from ..em.engine import make_seed

        X = check_data(X)
        n, d = X.shape
        self._check_hyper(n)
        w = _check_weights(sample_weight, n)
        seed = make_seed(self.random_state)
        rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(self.n_init)]
        starts = [self._start(X, w, rng) for rng in rngs]
        problem = _GMMProblem(self, X, w, starts)
        total = float(w.sum())
        with threads(self.n_threads), _one_blas_thread():
            params, fit = run_em(
                problem, max_iter=self.max_iter, tol=self.tol * total, n_init=self.n_init,
                random_state=seed,
            )  # fmt: skip
        self._set(params)
        self.n_features_in_ = d
        self.fit_result_ = fit
        self.converged_ = fit.converged
        self.n_iter_ = fit.n_iter
        self.lower_bounds_ = [h / total for h in fit.history[:-1]]
        self.lower_bound_ = fit.history[-1] / total
        return self

    def _set(self, params: dict[str, np.ndarray]) -> None:
        self.weights_ = params["weights"]
        self.means_ = params["means"]
        self.covariances_ = params["covariances"]
        self.precisions_cholesky_ = params["prec_chol"]
        pc = self.precisions_cholesky_
        if self.covariance_type == "full":
            self.precisions_ = np.einsum("kij,klj->kil", pc, pc)
        elif self.covariance_type == "tied":
            self.precisions_ = pc @ pc.T
        else:
            self.precisions_ = pc**2

    def _check_fitted(self) -> None:
        if not hasattr(self, "means_"):
            raise NotFittedError("this GaussianMixture is not fitted yet; call fit first")

    def _log_weighted(self, X: Any) -> np.ndarray:
        self._check_fitted()
        X = check_data(X)
        if X.shape[1] != self.means_.shape[1]:
            raise InputFormatError(
                f"X has {X.shape[1]} features; the model was fitted to {self.means_.shape[1]}"
            )
        out = log_gaussian(X, self.means_, self.precisions_cholesky_, self.covariance_type)
        with np.errstate(divide="ignore"):
            return out + np.log(self.weights_)[None]

    def score_samples(self, X: Any) -> np.ndarray:
        """Log density of every sample."""
        return _logsumexp_rows(self._log_weighted(X))

    def score(self, X: Any, y: Any = None) -> float:
        """Mean log-likelihood per sample (scikit-learn's ``score``)."""
        return float(self.score_samples(X).mean())

    def predict_proba(self, X: Any) -> np.ndarray:
        """Posterior probability of each component for every sample."""
        lw = self._log_weighted(X)
        return np.exp(lw - _logsumexp_rows(lw)[:, None])

    def predict(self, X: Any) -> np.ndarray:
        """The most probable component of every sample."""
        return np.asarray(self._log_weighted(X).argmax(axis=1))

    def sample(self, n_samples: int = 1, random_state: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """Draw samples and their components."""
        self._check_fitted()
        rng = np.random.default_rng(random_state)
        K, d = self.means_.shape
        counts = rng.multinomial(n_samples, self.weights_)
        X = np.empty((n_samples, d))
        labels = np.repeat(np.arange(K), counts)
        row = 0
        covs = self.full_covariances()
        for k, c in enumerate(counts):
            X[row : row + c] = rng.multivariate_normal(self.means_[k], covs[k], size=c)
            row += c
        return X, labels

    def full_covariances(self) -> np.ndarray:
        """Every component's covariance matrix, shape (K, d, d), whatever the covariance type."""
        self._check_fitted()
        K, d = self.means_.shape
        cov = np.asarray(self.covariances_, dtype=np.float64)
        if self.covariance_type == "full":
            return cov.copy()
        if self.covariance_type == "tied":
            return np.repeat(cov[None], K, axis=0)
        if self.covariance_type == "diag":
            return cov[:, :, None] * np.eye(d)
        return cov[:, None, None] * np.eye(d)

    def n_parameters(self) -> int:
        """Free parameters: weights, means and covariances."""
        self._check_fitted()
        K, d = self.means_.shape
        return free_parameters(K, d, self.covariance_type)

    def bic(self, X: Any) -> float:
        """Bayesian information criterion (lower is better)."""
        X = check_data(X)
        return float(-2 * self.score(X) * X.shape[0] + self.n_parameters() * np.log(X.shape[0]))

    def aic(self, X: Any) -> float:
        """Akaike information criterion (lower is better)."""
        X = check_data(X)
        return float(-2 * self.score(X) * X.shape[0] + 2 * self.n_parameters())

    @property
    def fit_result(self) -> FitResult:
        self._check_fitted()
        return self.fit_result_


def free_parameters(n_components: int, n_features: int, covariance_type: str) -> int:
    """Free parameters of a mixture: weights, means and covariances."""
    K, d = n_components, n_features
    cov = {
        "full": K * d * (d + 1) // 2,
        "tied": d * (d + 1) // 2,
        "diag": K * d,
        "spherical": K,
    }[covariance_type]
    return int(cov + K * d + K - 1)


def _one_blas_thread() -> Any:
    """BLAS on one thread while the kernels run theirs (each kernel thread
    calls BLAS on small blocks); a no-op without threadpoolctl."""
    import contextlib

    import scipy.linalg.cython_blas  # noqa: F401  (the BLAS the kernels call, loaded first)

    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _check_weights(sample_weight: Any, n: int) -> np.ndarray:
    if sample_weight is None:
        return np.ones(n)
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.shape != (n,) or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise InputFormatError(f"sample_weight must be {n} finite weights >= 0, not all zero")
    return w


def _nearest(X: np.ndarray, centers: np.ndarray) -> np.ndarray:
    d2 = (X**2).sum(axis=1)[:, None] - 2 * X @ centers.T + (centers**2).sum(axis=1)[None]
    return np.asarray(d2.argmin(axis=1))


def _kmeans_plus_plus(X: np.ndarray, w: np.ndarray, K: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeds (D^2 sampling, weighted by the sample weights)."""
    n = X.shape[0]
    centers = np.empty((K, X.shape[1]))
    centers[0] = X[rng.choice(n, p=w / w.sum())]
    d2 = ((X - centers[0]) ** 2).sum(axis=1)
    for k in range(1, K):
        p = w * d2
        total = p.sum()
        idx = rng.choice(n, p=p / total) if total > 0 else rng.choice(n)
        centers[k] = X[idx]
        d2 = np.minimum(d2, ((X - centers[k]) ** 2).sum(axis=1))
    return centers


def _lloyd(X: np.ndarray, w: np.ndarray, centers: np.ndarray, max_iter: int = 100) -> np.ndarray:
    """Weighted Lloyd iterations from ``centers`` until the labels stop changing."""
    labels = _nearest(X, centers)
    for _ in range(max_iter):
        for k in range(centers.shape[0]):
            mask = labels == k
            if w[mask].sum() > 0:
                centers[k] = (w[mask, None] * X[mask]).sum(axis=0) / w[mask].sum()
        new = _nearest(X, centers)
        if np.array_equal(new, labels):
            break
        labels = new
    return centers


# ---------------------------------------------------------------------------
# model files


def model_document(model: GaussianMixture, columns: list[str] | None = None) -> dict:
    """A JSON-serialisable description of a fitted model."""
    model._check_fitted()
    return {
        "format": "seqem-gaussian-mixture",
        "version": 1,
        "n_components": int(model.n_components),
        "covariance_type": model.covariance_type,
        "reg_covar": model.reg_covar,
        "columns": columns,
        "weights": model.weights_.tolist(),
        "means": model.means_.tolist(),
        "covariances": np.asarray(model.covariances_).tolist(),
        "lower_bound": model.lower_bound_,
        "converged": bool(model.converged_),
        "n_iter": int(model.n_iter_),
    }


#: How far from one the weights of a model file may sum (they are written with
#: every digit, so only round-off separates them from one).
WEIGHT_SUM_TOL = 1e-6


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _numbers(doc: dict, field: str, shape: tuple[int, ...], path: str) -> np.ndarray:
    """``doc[field]``: nested lists of finite numbers of exactly ``shape``."""

    def bad(problem: str) -> InputFormatError:
        return InputFormatError(f"field {field!r}: {problem}", path=path)

    if field not in doc:
        raise bad("missing")
    what = " x ".join(str(x) for x in shape)

    def walk(value: Any, depth: int) -> list | float:
        if depth == len(shape):
            if not _is_number(value):
                raise bad(f"{value!r} is not a number")
            return float(value)
        if not isinstance(value, list) or len(value) != shape[depth]:
            got = f"a list of {len(value)}" if isinstance(value, list) else repr(value)[:40]
            inner = f" (level {depth + 1} of the nesting)" if depth else ""
            raise bad(f"expected {what} numbers, got {got}{inner}")
        return [walk(v, depth + 1) for v in value]

    arr = np.asarray(walk(doc[field], 0), dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise bad("NaN or infinite value")
    return arr


def load_gmm(path: str) -> tuple[GaussianMixture, list[str] | None]:
    """A model written by :func:`model_document` (and its column names).

    The document is checked completely, each problem one
    :class:`~seqem.errors.InputFormatError` naming the file and the field:
    the format and version, ``n_components`` (an integer >= 1),
    ``covariance_type``, ``reg_covar`` (>= 0), ``columns`` (null, or one
    distinct name per feature), ``means`` (n_components x features),
    ``weights`` (n_components positive numbers summing to one),
    ``covariances`` (the covariance type's shape; symmetric positive
    definite matrices or positive variances), and, where present,
    ``lower_bound`` (a number), ``converged`` (true or false) and ``n_iter``
    (an integer >= 0).  Every number must be finite.
    """
    import json

    from ..io._source import InputSource

    source = InputSource(path)
    name = source.name
    data = source.read_bytes()
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise InputFormatError(
            "not a JSON model file (bytes that are not UTF-8 text)", path=name
        ) from None
    except json.JSONDecodeError as exc:
        raise InputFormatError(
            f"not a JSON model file ({exc.msg})", path=name, line=exc.lineno
        ) from None
    except RecursionError:
        raise InputFormatError("not a JSON model file (nested too deeply)", path=name) from None
    if not isinstance(doc, dict) or doc.get("format") != "seqem-gaussian-mixture":
        raise InputFormatError("not a seqem Gaussian mixture model file", path=name)

    def bad(field: str, problem: str) -> InputFormatError:
        return InputFormatError(f"field {field!r}: {problem}", path=name)

    version = doc.get("version")
    if version != 1 or not _is_number(version):
        raise bad("version", f"model format version {version!r} is not one this seqem reads (1)")
    K = doc.get("n_components")
    if not isinstance(K, int) or isinstance(K, bool) or K < 1:
        raise bad("n_components", f"expected an integer >= 1, got {K!r}")
    ct = doc.get("covariance_type")
    if ct not in COVARIANCE_TYPES:
        raise bad("covariance_type", f"expected one of {', '.join(COVARIANCE_TYPES)}, got {ct!r}")
    reg: Any = doc.get("reg_covar")
    if not _is_number(reg) or not (math.isfinite(reg) and reg >= 0):
        raise bad("reg_covar", f"expected a number >= 0, got {reg!r}")
    means_doc = doc.get("means")
    if not isinstance(means_doc, list) or not means_doc or not isinstance(means_doc[0], list):
        raise bad("means", "expected a list of n_components lists of numbers")
    if len(means_doc) != K:
        raise bad("means", f"{len(means_doc)} means but n_components is {K}")
    d = len(means_doc[0])
    if d < 1:
        raise bad("means", "a mean has no features")
    means = _numbers(doc, "means", (K, d), name)
    if np.any(np.abs(means) > MAX_ABS):
        raise bad("means", f"a mean is beyond +-{MAX_ABS:g} (its square overflows)")
    columns = doc.get("columns")
    if columns is not None:
        if not isinstance(columns, list) or not all(
            isinstance(c, str) and c.strip() for c in columns
        ):
            raise bad("columns", "expected null or a list of column names")
        if len(columns) != d:
            raise bad("columns", f"{len(columns)} names for means of {d} features")
        if len(set(columns)) != d:
            raise bad("columns", "a column name appears twice")
    weights = _numbers(doc, "weights", (K,), name)
    if np.any(weights <= 0):
        raise bad("weights", f"weight {float(weights.min()):g} is not positive")
    if abs(float(weights.sum()) - 1.0) > WEIGHT_SUM_TOL:
        raise bad("weights", f"the weights sum to {float(weights.sum()):.10g}, not 1")
    shape = {"full": (K, d, d), "tied": (d, d), "diag": (K, d), "spherical": (K,)}[ct]
    cov = _numbers(doc, "covariances", shape, name)
    if ct in ("full", "tied"):
        mats = cov.reshape(-1, d, d)
        scale = np.abs(mats).max(axis=(1, 2), keepdims=True)
        if np.any(np.abs(mats - mats.transpose(0, 2, 1)) > 1e-10 * scale):
            raise bad("covariances", "a covariance matrix is not symmetric")
    try:
        with np.errstate(divide="ignore", over="ignore"):
            prec_chol = precisions_cholesky(cov, ct)
    except ParameterError:
        diagonal = ct in ("diag", "spherical")
        what = "variance is not positive" if diagonal else "matrix is not positive definite"
        raise bad("covariances", f"a {what}") from None
    if not np.all(np.isfinite(prec_chol)):
        raise bad("covariances", "a variance is too small to be inverted")
    for field, ok, expected in (
        ("lower_bound", lambda v: _is_number(v) and math.isfinite(v), "a finite number"),
        ("converged", lambda v: isinstance(v, bool), "true or false"),
        ("n_iter", lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
         "an integer >= 0"),
    ):  # fmt: skip
        if field in doc and not ok(doc[field]):
            raise bad(field, f"expected {expected}, got {doc[field]!r}")
    model = GaussianMixture(K, covariance_type=ct, reg_covar=float(reg))
    model._set({"weights": weights, "means": means, "covariances": cov, "prec_chol": prec_chol})
    model.n_features_in_ = d
    model.lower_bound_ = float(doc.get("lower_bound", float("nan")))
    model.converged_ = bool(doc.get("converged", False))
    model.n_iter_ = int(doc.get("n_iter", 0))
    return model, columns


def select(
    X: Any,
    n_components: list[int],
    covariance_types: list[str],
    *,
    skipped: list[tuple[int, str]] | None = None,
    **kwargs: Any,
) -> list[dict[str, Any]]:
    """Fit every (K, covariance type) and return their BIC/AIC rows (mclust-style table).

    A model with at least as many free parameters (:func:`free_parameters`)
    as ``X`` has rows is not fitted: it can fit the data exactly, its
    likelihood is unbounded but for ``reg_covar``, and its BIC means nothing.
    Such (K, covariance type) pairs are appended to ``skipped`` when given.
    Repeated numbers of components or covariance types are fitted once.
    """
    X = check_data(X)
    n, d = X.shape
    rows = []
    for ct in dict.fromkeys(covariance_types):
        if ct not in COVARIANCE_TYPES:
            raise ParameterError(
                f"covariance_type must be one of {', '.join(COVARIANCE_TYPES)}, got {ct!r}"
            )
        for k in dict.fromkeys(n_components):
            if free_parameters(k, d, ct) >= n:
                if skipped is not None:
                    skipped.append((k, ct))
                continue
            gm = GaussianMixture(k, covariance_type=ct, **kwargs).fit(X)
            rows.append(
                {
                    "n_components": k,
                    "covariance_type": ct,
                    "loglik": gm.score(X) * X.shape[0],
                    "n_parameters": gm.n_parameters(),
                    "bic": gm.bic(X),
                    "aic": gm.aic(X),
                    "converged": gm.converged_,
                    "model": gm,
                }
            )
    return rows
