"""Dense hidden Markov models with categorical and Gaussian emissions.

The attribute names and the ``params`` / ``init_params`` letters follow
hmmlearn, so code written for it switches by changing the import.  What
differs: ``score`` is always a total log-likelihood; ``fit_result_`` says
honestly whether the tolerance was met; a symbol ``-1`` in categorical data
is a missing observation; fits run in parallel over sequences.

>>> import numpy as np
>>> from seqem import CategoricalHMM
>>> model = CategoricalHMM(2, n_features=2, init_params="")
>>> model.startprob_ = np.array([0.5, 0.5])
>>> model.transmat_ = np.array([[0.9, 0.1], [0.2, 0.8]])
>>> model.emissionprob_ = np.array([[0.9, 0.1], [0.1, 0.9]])
>>> round(model.score(np.array([0, 0, 1])), 6)
-2.610198
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .._jit import TIME_CHUNK
from ..errors import InputFormatError, ParameterError
from . import _kernels as K
from .base import (
    MODEL_FORMAT_VERSION,
    BaseHMM,
    Params,
    check_stochastic,
    dirichlet_log_prior,
    dirichlet_map,
)

__all__ = ["CategoricalHMM", "GaussianHMM", "load_model", "kmeans"]


# ---------------------------------------------------------------------------
# k-means for Gaussian initialisation


def kmeans(
    X: np.ndarray, k: int, rng: np.random.Generator, *, max_iter: int = 100, max_rows: int = 50000
) -> np.ndarray:
    """Cluster centres by k-means++ seeding and Lloyd iterations.

    Parameters
    ----------
    X : float64 array, shape (n, d)
    k : int
    rng : numpy.random.Generator
    max_iter : int
    max_rows : int
        Larger inputs are subsampled (without replacement) to this many rows.

    Returns
    -------
    float64 array, shape (k, d)
    """
    if X.shape[0] > max_rows:
        X = X[rng.choice(X.shape[0], max_rows, replace=False)]
    n = X.shape[0]
    centres = np.empty((k, X.shape[1]))
    centres[0] = X[rng.integers(n)]
    d2 = np.sum((X - centres[0]) ** 2, axis=1)
    for c in range(1, k):
        total = d2.sum()
        idx = rng.choice(n, p=d2 / total) if total > 0 else rng.integers(n)
        centres[c] = X[idx]
        d2 = np.minimum(d2, np.sum((X - centres[c]) ** 2, axis=1))
    for _ in range(max_iter):
        dist = np.sum(X * X, axis=1)[:, None] - 2.0 * X @ centres.T + np.sum(centres**2, axis=1)
        labels = np.argmin(dist, axis=1)
        new = centres.copy()
        for c in range(k):
            members = X[labels == c]
            if len(members):
                new[c] = members.mean(axis=0)
        if np.allclose(new, centres, rtol=0, atol=1e-12):
            break
        centres = new
    return centres


# ---------------------------------------------------------------------------
# categorical emissions


class CategoricalHMM(BaseHMM):
    """HMM whose states emit symbols from a finite alphabet.

    Parameters
    ----------
    n_components : int
        Number of hidden states.
    n_features : int, optional
        Alphabet size; inferred as ``max(X) + 1`` at the first ``fit``.
    startprob_prior, transmat_prior, emissionprob_prior : float or array
        Dirichlet concentrations (>= 1; 1 means no prior).  A value ``a``
        acts as ``a - 1`` pseudocounts and makes the fit a MAP estimate.
    params, init_params : str
        Letters of the parameters ``fit`` updates / initialises: ``s``
        start probabilities, ``t`` transitions, ``e`` emissions.  A
        parameter not in ``init_params`` must be set before ``fit``.
    fixed : iterable of str
        Parameter names (``"transmat"`` or ``"transmat_"`` ...) held fixed,
        whatever ``params`` says.
    max_iter : int
        Largest number of EM updates.
    tol : float
        Convergence threshold on the rise of the total log-likelihood (plus
        log prior) in one update.
    n_init : int
        Random restarts; the best objective wins.
    random_state : None, int or numpy.random.Generator
    accelerate : {None, "squarem"}
        SQUAREM acceleration of the EM map.
    n_threads : int, optional
        Threads for the kernels (None or 0: all available cores).
    callback : callable, optional
        ``callback(run_index, n_iter, objective)`` after each update.

    Attributes
    ----------
    startprob_ : float64 array, shape (n_components,)
    transmat_ : float64 array, shape (n_components, n_components)
    emissionprob_ : float64 array, shape (n_components, n_features)
    fit_result_ : seqem.FitResult
    """

    _all_letters = "ste"
    _emission_keys = ("emissionprob",)
    emissionprob_: np.ndarray

    def __init__(
        self,
        n_components: int = 1,
        *,
        n_features: int | None = None,
        startprob_prior: Any = 1.0,
        transmat_prior: Any = 1.0,
        emissionprob_prior: Any = 1.0,
        params: str = "ste",
        init_params: str = "ste",
        fixed: Iterable[str] = (),
        max_iter: int = 100,
        tol: float = 1e-3,
        n_init: int = 1,
        random_state: Any = None,
        accelerate: str | None = None,
        n_threads: int | None = None,
        callback: Callable[[int, int, float], None] | None = None,
    ) -> None:
        super().__init__(
            n_components,
            startprob_prior=startprob_prior,
            transmat_prior=transmat_prior,
            params=params,
            init_params=init_params,
            fixed=fixed,
            max_iter=max_iter,
            tol=tol,
            n_init=n_init,
            random_state=random_state,
            accelerate=accelerate,
            n_threads=n_threads,
            callback=callback,
        )
        self.n_features = n_features
        self.emissionprob_prior = emissionprob_prior

    def _hyper_names(self) -> list[str]:
        return [*super()._hyper_names(), "n_features", "emissionprob_prior"]

    def _emission_prior_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"emissionprob": (self.n_components, self._n_symbols())}

    def _n_symbols(self) -> int:
        if self.n_features is None:
            emis = getattr(self, "emissionprob_", None)
            if emis is None:
                raise ParameterError("n_features is unknown: set it or call fit first")
            return int(np.shape(emis)[1])
        return int(self.n_features)

    def _check_X(self, X: Any) -> np.ndarray:
        arr = np.asarray(X)
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.ndim != 1:
            raise InputFormatError(
                f"categorical X must have shape (n_samples,) or (n_samples, 1), got {arr.shape}"
            )
        if arr.size == 0:
            raise InputFormatError("X is empty")
        if not np.issubdtype(arr.dtype, np.integer):
            if arr.dtype == bool or not np.issubdtype(arr.dtype, np.floating):
                raise InputFormatError(f"categorical X must hold integers, got {arr.dtype}")
            if not np.all(np.isfinite(arr)):
                raise InputFormatError(
                    "categorical X holds NaN or infinity; use -1 for a missing symbol"
                )
            if np.any(arr != np.round(arr)):
                raise InputFormatError("categorical X must hold integers")
        arr = np.ascontiguousarray(arr, dtype=np.int64)
        if arr.min() < -1:
            raise InputFormatError(
                f"symbol {int(arr.min())} is negative; symbols are 0..n_features-1, -1 = missing"
            )
        if self.n_features is not None and arr.max() >= self.n_features:
            raise InputFormatError(
                f"symbol {int(arr.max())} is out of range for n_features={self.n_features}"
            )
        return arr

    def _prepare_fit(self, X: np.ndarray) -> None:
        if self.n_features is None:
            emis = getattr(self, "emissionprob_", None)
            if "e" not in self.init_params and emis is not None:
                self.n_features = int(np.shape(emis)[1])
            else:
                self.n_features = int(max(X.max(), 0)) + 1
        if self.n_features < 1:
            raise ParameterError(f"n_features must be >= 1, got {self.n_features}")
        if X.max() >= self.n_features:
            raise InputFormatError(
                f"symbol {int(X.max())} is out of range for n_features={self.n_features}"
            )

    def _checked_emissions(self, p: Params) -> Params:
        shape = (self.n_components, self._n_symbols())
        return {"emissionprob": check_stochastic("emissionprob_", p["emissionprob"], shape)}

    def _init_emissions(
        self, X: np.ndarray, bounds: np.ndarray, rng: np.random.Generator, p: Params
    ) -> Params:
        if "e" not in self.init_params:
            return {"emissionprob": self._user_param("emissionprob", "e")}
        k = self._n_symbols()
        # perturb the observed symbol frequencies, so that every state starts
        # near the data and the states differ
        seen = X[X >= 0]
        freq = np.bincount(seen, minlength=k).astype(np.float64) + 1.0
        freq /= freq.sum()
        noise = rng.dirichlet(np.ones(k), size=self.n_components)
        emis = 0.5 * freq + 0.5 * noise
        return {"emissionprob": emis / emis.sum(axis=1, keepdims=True)}

    def _frames(
        self,
        params: Params,
        X: np.ndarray,
        out: np.ndarray | None = None,
        logscale: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        B = np.empty((X.shape[0], self.n_components)) if out is None else out
        K.categorical_frames(X, params["emissionprob"], B)
        if logscale is None:
            logscale = np.zeros(X.shape[0])
        else:
            logscale[:] = 0.0
        return B, logscale

    def _log_frames(
        self, params: Params, X: np.ndarray, out: np.ndarray | None = None
    ) -> np.ndarray:
        # log of the matrix, then gather: the same numbers as hmmlearn, so
        # that exact Viterbi ties resolve alike
        with np.errstate(divide="ignore"):
            logE = np.log(params["emissionprob"])
        if out is None:
            out = np.empty((X.shape[0], self.n_components))
        K.categorical_frames(X, np.ascontiguousarray(logE), out)
        out[X < 0] = 0.0
        return out

    def _emission_stats(self, gamma: np.ndarray, X: np.ndarray, update: str) -> dict[str, Any]:
        if "e" not in update:
            return {}
        return {"counts": K.categorical_counts(gamma, X, self._n_symbols(), TIME_CHUNK)}

    def _emission_mstep(self, stats: dict[str, Any], params: Params, update: str) -> Params:
        if "e" not in update:
            return {}
        conc = self._conc("emissionprob")
        return {"emissionprob": dirichlet_map(stats["counts"], conc, params["emissionprob"])}

    def _emission_log_prior(self, params: Params) -> float:
        return dirichlet_log_prior(params["emissionprob"], self._conc("emissionprob"))

    def _emission_n_free(self, update: str) -> int:
        return self.n_components * (self._n_symbols() - 1) if "e" in update else 0

    def _validate_vector_emissions(self, p: Params) -> Params | None:
        e = p["emissionprob"]
        if np.any(e < 0) or not np.all(np.isfinite(e)):
            return None
        p["emissionprob"] = np.ascontiguousarray(e / e.sum(axis=1, keepdims=True))
        return p

    def _sample_emissions(
        self, params: Params, states: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        cdf = np.cumsum(params["emissionprob"], axis=1)
        u = np.asarray(rng.random(states.shape[0]))
        symbols = (u[:, None] >= cdf[states]).sum(axis=1)
        return np.minimum(symbols, cdf.shape[1] - 1).astype(np.int64)[:, None]


# ---------------------------------------------------------------------------
# Gaussian emissions


def _prec_chol(covars: np.ndarray) -> np.ndarray:
    """Upper-triangular ``P`` with ``inv(C) = P P^T`` for each covariance ``C``."""
    n, d, _ = covars.shape
    out = np.empty_like(covars)
    eye = np.eye(d)
    for i in range(n):
        try:
            L = np.linalg.cholesky(covars[i])
        except np.linalg.LinAlgError:
            raise ParameterError(
                f"covariance of state {i} is not positive definite; "
                "increase min_covar, decrease n_components, or scale the data"
            ) from None
        # inv(C) = inv(L)^T inv(L): P = inv(L)^T is upper triangular
        out[i] = np.linalg.solve(L, eye).T
    return np.ascontiguousarray(out)


class GaussianHMM(BaseHMM):
    """HMM whose states emit multivariate Gaussian vectors.

    Parameters
    ----------
    n_components : int
        Number of hidden states.
    covariance_type : {"diag", "full"}
        Diagonal (``covars_`` shape (N, d)) or full (shape (N, d, d)).
    min_covar : float
        Variance floor: diagonal variances (or full-covariance eigenvalues)
        are kept at or above this value after every update.
    startprob_prior, transmat_prior : float or array
        Dirichlet concentrations (>= 1).
    means_prior, means_weight : float or array
        Normal prior on the means: centre and weight in pseudo-observations
        (weight 0, the default, means no prior).
    covars_prior, covars_weight : float or array
        Prior on the covariances: the M-step divides
        ``covars_prior * I + scatter`` by ``posterior mass + max(covars_weight
        - 1, 0)`` (diag) or ``+ max(covars_weight - d, 0)`` (full).
        Defaults (0 and 1) mean maximum likelihood.
    params, init_params : str
        Letters from ``s`` ``t`` ``m`` (means) ``c`` (covariances).
    Other parameters
        As :class:`CategoricalHMM`.

    Attributes
    ----------
    startprob_, transmat_ : arrays
    means_ : float64 array, shape (n_components, n_features)
    covars_ : float64 array
        Shape (n_components, n_features) for 'diag', (n_components, n_features,
        n_features) for 'full'.
    fit_result_ : seqem.FitResult
    """

    _all_letters = "stmc"
    _emission_keys = ("means", "covars")
    means_: np.ndarray
    covars_: np.ndarray

    def __init__(
        self,
        n_components: int = 1,
        *,
        covariance_type: str = "diag",
        min_covar: float = 1e-3,
        startprob_prior: Any = 1.0,
        transmat_prior: Any = 1.0,
        means_prior: Any = 0.0,
        means_weight: Any = 0.0,
        covars_prior: Any = 0.0,
        covars_weight: Any = 1.0,
        params: str = "stmc",
        init_params: str = "stmc",
        fixed: Iterable[str] = (),
        max_iter: int = 100,
        tol: float = 1e-3,
        n_init: int = 1,
        random_state: Any = None,
        accelerate: str | None = None,
        n_threads: int | None = None,
        callback: Callable[[int, int, float], None] | None = None,
    ) -> None:
        super().__init__(
            n_components,
            startprob_prior=startprob_prior,
            transmat_prior=transmat_prior,
            params=params,
            init_params=init_params,
            fixed=fixed,
            max_iter=max_iter,
            tol=tol,
            n_init=n_init,
            random_state=random_state,
            accelerate=accelerate,
            n_threads=n_threads,
            callback=callback,
        )
        self.covariance_type = covariance_type
        self.min_covar = min_covar
        self.means_prior = means_prior
        self.means_weight = means_weight
        self.covars_prior = covars_prior
        self.covars_weight = covars_weight

    def _hyper_names(self) -> list[str]:
        return [
            *super()._hyper_names(),
            "covariance_type",
            "min_covar",
            "means_prior",
            "means_weight",
            "covars_prior",
            "covars_weight",
        ]

    @property
    def n_features(self) -> int | None:
        means = getattr(self, "means_", None)
        return None if means is None else int(np.shape(means)[1])

    def _check_hyper(self) -> None:
        super()._check_hyper()
        if self.covariance_type not in ("diag", "full"):
            raise ParameterError(
                f"covariance_type must be 'diag' or 'full', got {self.covariance_type!r}"
            )
        if not (np.isfinite(self.min_covar) and self.min_covar >= 0):
            raise ParameterError(f"min_covar must be >= 0, got {self.min_covar!r}")

    def _check_X(self, X: Any) -> np.ndarray:
        try:
            arr = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError):
            raise InputFormatError("Gaussian X must be numeric") from None
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2:
            raise InputFormatError(f"X must have shape (n_samples, n_features), got {arr.shape}")
        if arr.shape[0] == 0 or arr.shape[1] == 0:
            raise InputFormatError("X is empty")
        if not np.all(np.isfinite(arr)):
            bad = int(np.argmax(~np.all(np.isfinite(arr), axis=1)))
            raise InputFormatError(
                f"X holds NaN or infinity (first at row {bad}); remove or impute it"
            )
        d = self.n_features
        if d is not None and arr.shape[1] != d:
            raise InputFormatError(f"X has {arr.shape[1]} features but the model has {d}")
        return np.ascontiguousarray(arr)

    def _d(self, p: Params | None = None) -> int:
        if p is not None and "means" in p:
            return int(np.shape(p["means"])[1])
        return int(self.n_features or 0)

    def _checked_emissions(self, p: Params) -> Params:
        n = self.n_components
        means = np.ascontiguousarray(p["means"], dtype=np.float64)
        if means.ndim != 2 or means.shape[0] != n or not np.all(np.isfinite(means)):
            raise ParameterError(f"means_ must be a finite array of shape ({n}, n_features)")
        d = means.shape[1]
        covars = np.ascontiguousarray(p["covars"], dtype=np.float64)
        if self.covariance_type == "diag":
            if covars.shape != (n, d) or not np.all(covars > 0) or not np.all(np.isfinite(covars)):
                raise ParameterError(f"covars_ must be positive and of shape ({n}, {d}) for 'diag'")
        else:
            if covars.shape != (n, d, d) or not np.all(np.isfinite(covars)):
                raise ParameterError(f"covars_ must be of shape ({n}, {d}, {d}) for 'full'")
            if not np.allclose(covars, np.swapaxes(covars, 1, 2), rtol=1e-10, atol=1e-12):
                raise ParameterError("covars_ must be symmetric")
            _prec_chol(covars)
        return {"means": means, "covars": covars}

    def _init_emissions(
        self, X: np.ndarray, bounds: np.ndarray, rng: np.random.Generator, p: Params
    ) -> Params:
        n, d = self.n_components, X.shape[1]
        out: Params = {}
        if "m" in self.init_params:
            out["means"] = kmeans(X, n, rng)
        else:
            out["means"] = self._user_param("means", "m")
        if "c" in self.init_params:
            cov = np.atleast_2d(np.cov(X.T)) if X.shape[0] > 1 else np.eye(d)
            cov = cov + self.min_covar * np.eye(d)
            if not np.all(np.diag(cov) > 0):
                cov = cov + np.eye(d)
            if self.covariance_type == "diag":
                out["covars"] = np.tile(np.diag(cov), (n, 1))
            else:
                out["covars"] = np.tile(cov, (n, 1, 1))
        else:
            out["covars"] = self._user_param("covars", "c")
        return out

    def _log_frames(
        self, params: Params, X: np.ndarray, out: np.ndarray | None = None
    ) -> np.ndarray:
        if out is None:
            out = np.empty((X.shape[0], self.n_components))
        if self.covariance_type == "diag":
            K.gaussian_logprob_diag(X, params["means"], params["covars"], out)
        else:
            K.gaussian_logprob_full(X, params["means"], _prec_chol(params["covars"]), out)
        return out

    def _frames(
        self,
        params: Params,
        X: np.ndarray,
        out: np.ndarray | None = None,
        logscale: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        logB = self._log_frames(params, X, out)
        if logscale is None:
            logscale = np.empty(X.shape[0])
        K.exp_rows(logB, logB, logscale)
        return logB, logscale

    def _emission_stats(self, gamma: np.ndarray, X: np.ndarray, update: str) -> dict[str, Any]:
        if "m" not in update and "c" not in update:
            return {}
        post, obs, obs2 = K.gaussian_moments(gamma, X, self.covariance_type == "full", TIME_CHUNK)
        return {"post": post, "obs": obs, "obs2": obs2}

    def _prior_arrays(self, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        n = self.n_components
        mu0 = np.broadcast_to(np.asarray(self.means_prior, dtype=np.float64), (n, d))
        mw = np.broadcast_to(np.asarray(self.means_weight, dtype=np.float64), (n,))
        cw = np.broadcast_to(np.asarray(self.covars_weight, dtype=np.float64), (n,))
        cp_raw = np.asarray(self.covars_prior, dtype=np.float64)
        if self.covariance_type == "diag":
            cp = np.broadcast_to(cp_raw, (n, d))
        elif cp_raw.ndim >= 2:
            cp = np.broadcast_to(cp_raw, (n, d, d))
        else:
            cp = np.broadcast_to(cp_raw.reshape(-1, 1, 1) * np.eye(d), (n, d, d))
        if np.any(mw < 0) or np.any(cw < 0) or np.any(np.diagonal(cp.reshape(n, d, -1)) < 0):
            raise ParameterError("prior weights and covars_prior must be >= 0")
        return mu0, mw, cp, cw

    def _emission_mstep(self, stats: dict[str, Any], params: Params, update: str) -> Params:
        if "m" not in update and "c" not in update:
            return {}
        d = self._d(params)
        mu0, mw, cp, cw = self._prior_arrays(d)
        post, obs, obs2 = stats["post"], stats["obs"], stats["obs2"]
        seen = post > 1e-300
        means = params["means"]
        if "m" in update:
            denom = (mw + post)[:, None]
            new_means = np.where(
                seen[:, None] | (mw[:, None] > 0),
                (mw[:, None] * mu0 + obs) / np.where(denom > 0, denom, 1.0),
                means,
            )
            means = np.ascontiguousarray(new_means)
        out: Params = {"means": means}
        if "c" in update:
            md = means - mu0
            if self.covariance_type == "diag":
                sq = obs2[:, :, 0]
                num = cp + mw[:, None] * md**2 + sq - 2.0 * means * obs + means**2 * post[:, None]
                den = np.maximum(cw - 1.0, 0.0)[:, None] + post[:, None]
                cov = np.where(den > 0, num / np.where(den > 0, den, 1.0), params["covars"])
                cov = np.maximum(cov, self.min_covar)
            else:
                outer_mo = np.einsum("ik,il->ikl", obs, means)
                num = (
                    cp
                    + mw[:, None, None] * np.einsum("ik,il->ikl", md, md)
                    + obs2
                    - outer_mo
                    - np.swapaxes(outer_mo, 1, 2)
                    + np.einsum("ik,il->ikl", means, means) * post[:, None, None]
                )
                den = np.maximum(cw - d, 0.0)[:, None, None] + post[:, None, None]
                cov = np.where(den > 0, num / np.where(den > 0, den, 1.0), params["covars"])
                cov = 0.5 * (cov + np.swapaxes(cov, 1, 2))
                cov = self._floor_full(cov)
            out["covars"] = np.ascontiguousarray(cov)
        return out

    def _floor_full(self, cov: np.ndarray) -> np.ndarray:
        out = cov.copy()
        for i in range(cov.shape[0]):
            w, V = np.linalg.eigh(cov[i])
            if w.min() < self.min_covar:
                out[i] = (V * np.maximum(w, self.min_covar)) @ V.T
                out[i] = 0.5 * (out[i] + out[i].T)
        return out

    def _emission_log_prior(self, params: Params) -> float:
        d = self._d(params)
        mu0, mw, cp, cw = self._prior_arrays(d)
        means, covars = params["means"], params["covars"]
        md = means - mu0
        lp = 0.0
        if self.covariance_type == "diag":
            cwd = np.maximum(cw - 1.0, 0.0)[:, None]
            quad = cp + mw[:, None] * md**2
            if np.any(cwd > 0):
                lp -= 0.5 * float(np.sum(cwd * np.log(covars)))
            if np.any(quad > 0):
                lp -= 0.5 * float(np.sum(quad / covars))
        else:
            cwd = np.maximum(cw - d, 0.0)
            for i in range(self.n_components):
                quad = cp[i] + mw[i] * np.outer(md[i], md[i])
                if cwd[i] > 0:
                    lp -= 0.5 * cwd[i] * float(np.linalg.slogdet(covars[i])[1])
                if np.any(quad != 0):
                    lp -= 0.5 * float(np.trace(np.linalg.solve(covars[i], quad)))
        return lp

    def _emission_n_free(self, update: str) -> int:
        n, d = self.n_components, self._d()
        k = n * d if "m" in update else 0
        if "c" in update:
            k += n * d if self.covariance_type == "diag" else n * d * (d + 1) // 2
        return k

    def _validate_vector_emissions(self, p: Params) -> Params | None:
        if not np.all(np.isfinite(p["means"])) or not np.all(np.isfinite(p["covars"])):
            return None
        cov = p["covars"]
        if self.covariance_type == "diag":
            if np.any(cov < self.min_covar):
                return None
        else:
            cov = 0.5 * (cov + np.swapaxes(cov, 1, 2))
            if np.any(np.linalg.eigvalsh(cov).min(axis=1) < self.min_covar):
                return None
        p["means"] = np.ascontiguousarray(p["means"])
        p["covars"] = np.ascontiguousarray(cov)
        return p

    def _sample_emissions(
        self, params: Params, states: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        means, covars = params["means"], params["covars"]
        d = means.shape[1]
        z = rng.standard_normal((states.shape[0], d))
        if self.covariance_type == "diag":
            return means[states] + z * np.sqrt(covars[states])
        chol = np.linalg.cholesky(covars)
        return means[states] + np.einsum("tkl,tl->tk", chol[states], z)


# ---------------------------------------------------------------------------
# loading


_MODELS: dict[str, type[BaseHMM]] = {"CategoricalHMM": CategoricalHMM, "GaussianHMM": GaussianHMM}


def load_model(path: str | os.PathLike[str]) -> BaseHMM:
    """Read a model written by ``save``.

    Raises
    ------
    InputFormatError
        If the file is not a seqem HMM model.
    """
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except json.JSONDecodeError as exc:
        raise InputFormatError(
            f"not a seqem model file ({exc.msg})", path=path, line=exc.lineno
        ) from None
    except UnicodeDecodeError:
        raise InputFormatError("not a seqem model file (binary content)", path=path) from None
    except RecursionError:
        raise InputFormatError("not a seqem model file (nested too deeply)", path=path) from None
    if not isinstance(data, dict) or data.get("format") != "seqem-hmm":
        raise InputFormatError("not a seqem HMM model file (no 'format': 'seqem-hmm')", path=path)
    version = data.get("version")
    if type(version) is not int or version != MODEL_FORMAT_VERSION:
        raise InputFormatError(
            f"model format version {version!r} is not one this seqem reads "
            f"({MODEL_FORMAT_VERSION})",
            path=path,
        )
    cls = _MODELS.get(str(data.get("model")))
    if cls is None:
        raise InputFormatError(f"unknown model type {data.get('model')!r}", path=path)
    hyper = dict(data.get("hyperparameters", {}))
    try:
        n = hyper.pop("n_components")
        model = cls(n, **hyper)
        params = {k: np.asarray(v, dtype=np.float64) for k, v in data["parameters"].items()}
        model._set_params(params)
        model._set_params(model._get_params())
    except (KeyError, TypeError, ValueError) as exc:
        raise InputFormatError(
            f"model file is incomplete or inconsistent: {exc}", path=path
        ) from None
    return model
