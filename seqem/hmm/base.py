"""Shared machinery of the dense HMMs: input checks, EM problem, decoding.

:class:`BaseHMM` holds what every dense HMM shares (start and transition
probabilities, Baum-Welch through :func:`seqem.em.engine.run_em`, scoring,
Viterbi, sampling, saving).  Subclasses add an emission model by supplying
frame likelihoods, expected emission statistics and an M-step.
"""

from __future__ import annotations

import abc
import json
import os
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .. import _jit
from ..em.engine import FitResult, run_em
from ..errors import InputFormatError, NotFittedError, ParameterError
from . import _kernels as K

Params = dict[str, np.ndarray]

#: Probabilities below this are treated as zero when checking sums.
SUM_TOL = 1e-8

#: The version of the model file format that ``save`` writes (and that
#: :func:`seqem.hmm.models.load_model` reads).
MODEL_FORMAT_VERSION = 1


# ---------------------------------------------------------------------------
# checks


def check_lengths(lengths: Any, n_rows: int) -> np.ndarray:
    """Validate ``lengths`` and return sequence bounds (int64, n_seq + 1)."""
    if lengths is None:
        return np.array([0, n_rows], dtype=np.int64)
    arr = np.asarray(lengths)
    if arr.ndim != 1 or arr.size == 0:
        raise InputFormatError("lengths must be a non-empty 1-D sequence of integers")
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.issubdtype(arr.dtype, np.floating) or not np.all(np.isfinite(arr)):
            raise InputFormatError("lengths must be integers")
        if np.any(arr != np.round(arr)):
            raise InputFormatError("lengths must be integers")
    arr = arr.astype(np.int64)
    if np.any(arr < 0):
        raise InputFormatError(f"lengths must be >= 0, got {int(arr.min())}")
    total = int(arr.sum())
    if total != n_rows:
        raise InputFormatError(f"lengths sum to {total} but X has {n_rows} rows")
    bounds = np.zeros(arr.size + 1, dtype=np.int64)
    np.cumsum(arr, out=bounds[1:])
    return bounds


def check_stochastic(name: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    """A float64 array of ``shape`` whose last axis holds probabilities."""
    arr = np.array(value, dtype=np.float64)
    if arr.shape != shape:
        raise ParameterError(f"{name} must have shape {shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ParameterError(f"{name} must hold finite non-negative probabilities")
    sums = arr.sum(axis=-1)
    if np.any(np.abs(sums - 1.0) > SUM_TOL):
        raise ParameterError(f"{name} rows must sum to 1 (found sums {np.round(sums, 6)})")
    return np.ascontiguousarray(arr)


def check_concentration(name: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Dirichlet concentrations (>= 1, so that the MAP estimate exists)."""
    arr = np.broadcast_to(np.asarray(value, dtype=np.float64), shape).copy()
    if not np.all(np.isfinite(arr)) or np.any(arr < 1.0):
        raise ParameterError(
            f"{name} must be >= 1 (a Dirichlet concentration; 1 means no prior): "
            "values below 1 leave the MAP estimate undefined"
        )
    return arr


def dirichlet_log_prior(prob: np.ndarray, conc: np.ndarray) -> float:
    """Sum of ``(conc - 1) * log(prob)``, the unnormalised Dirichlet log density."""
    mask = conc != 1.0
    if not np.any(mask):
        return 0.0
    with np.errstate(divide="ignore"):
        return float(np.sum((conc[mask] - 1.0) * np.log(prob[mask])))


def dirichlet_map(counts: np.ndarray, conc: np.ndarray, old: np.ndarray) -> np.ndarray:
    """Row-wise MAP of Dirichlet-multinomial counts; empty rows keep ``old``."""
    num = np.maximum(counts + conc - 1.0, 0.0)
    sums = num.sum(axis=-1, keepdims=True)
    out = np.where(sums > 0, num / np.where(sums > 0, sums, 1.0), old)
    return np.ascontiguousarray(out)


LETTER_NAMES = {
    "s": "startprob_",
    "t": "transmat_",
    "e": "emissionprob_",
    "m": "means_",
    "c": "covars_",
}


def _letters(name: str, value: str, allowed: str) -> str:
    if not isinstance(value, str) or any(ch not in allowed for ch in value):
        raise ParameterError(f"{name} must be a string of letters from {allowed!r}, got {value!r}")
    return value


# ---------------------------------------------------------------------------
# the EM problem


class HMMProblem:
    """Baum-Welch for a dense HMM as an :class:`seqem.em.engine.EMProblem`."""

    def __init__(self, model: BaseHMM, X: np.ndarray, bounds: np.ndarray) -> None:
        self.model = model
        self.X = X
        self.bounds = bounds
        self.chunks = K.sequence_chunks(bounds)
        self.update = model._update_letters()
        # frame-likelihood and offset buffers, reused by every E-step (a new
        # T x N array per step would pay its page faults each time)
        self.frames = np.empty((X.shape[0], model.n_components))
        self.logscale = np.empty(X.shape[0])

    def initial_params(self, rng: np.random.Generator) -> Params:
        return self.model._initial_params(self.X, self.bounds, rng)

    def e_step(self, params: Params) -> tuple[dict[str, Any], float]:
        model = self.model
        with _jit.threads(model.n_threads):
            B, logscale = model._frames(params, self.X, self.frames, self.logscale)
            loglik, start, trans = K.forward_backward(
                B,
                logscale,
                self.bounds,
                self.chunks,
                params["startprob"],
                params["transmat"],
                "t" in self.update,
            )
            total = float(loglik.sum())
            stats: dict[str, Any] = {"start": start, "trans": trans}
            if np.isfinite(total):
                stats.update(model._emission_stats(B, self.X, self.update))
        return stats, total

    def m_step(self, stats: dict[str, Any], params: Params) -> Params:
        model = self.model
        new = dict(params)
        if "s" in self.update:
            new["startprob"] = dirichlet_map(
                stats["start"], model._conc("startprob"), params["startprob"]
            )
        if "t" in self.update:
            new["transmat"] = dirichlet_map(
                stats["trans"], model._conc("transmat"), params["transmat"]
            )
        new.update(model._emission_mstep(stats, params, self.update))
        return new

    def log_prior(self, params: Params) -> float:
        model = self.model
        lp = dirichlet_log_prior(params["startprob"], model._conc("startprob"))
        lp += dirichlet_log_prior(params["transmat"], model._conc("transmat"))
        return lp + model._emission_log_prior(params)

    def to_vector(self, params: Params) -> np.ndarray:
        keys = self.model._vector_keys()
        return np.concatenate([np.ravel(params[k]) for k in keys])

    def from_vector(self, vector: np.ndarray, like: Params) -> Params | None:
        out = dict(like)
        pos = 0
        for key in self.model._vector_keys():
            size = like[key].size
            out[key] = vector[pos : pos + size].reshape(like[key].shape).copy()
            pos += size
        return self.model._validate_vector_params(out)


# ---------------------------------------------------------------------------
# the shared estimator


class BaseHMM(abc.ABC):
    """Common part of :class:`CategoricalHMM` and :class:`GaussianHMM`."""

    _all_letters = "st"
    _emission_keys: tuple[str, ...] = ()

    # parameters: set by fit, or by the user before fit / score
    startprob_: np.ndarray
    transmat_: np.ndarray
    fit_result_: FitResult
    n_samples_fit_: int

    def __init__(
        self,
        n_components: int = 1,
        *,
        startprob_prior: Any = 1.0,
        transmat_prior: Any = 1.0,
        params: str | None = None,
        init_params: str | None = None,
        fixed: Iterable[str] = (),
        max_iter: int = 100,
        tol: float = 1e-3,
        n_init: int = 1,
        random_state: Any = None,
        accelerate: str | None = None,
        n_threads: int | None = None,
        callback: Callable[[int, int, float], None] | None = None,
    ) -> None:
        self.n_components = n_components
        self.startprob_prior = startprob_prior
        self.transmat_prior = transmat_prior
        self.params = self._all_letters if params is None else params
        self.init_params = self._all_letters if init_params is None else init_params
        self.fixed = tuple(fixed)
        self.max_iter = max_iter
        self.tol = tol
        self.n_init = n_init
        self.random_state = random_state
        self.accelerate = accelerate
        self.n_threads = n_threads
        self.callback = callback

    # -- hyperparameter checks ------------------------------------------------

    def _check_hyper(self) -> None:
        n = self.n_components
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
            raise ParameterError(f"n_components must be an integer >= 1, got {n!r}")
        _letters("params", self.params, self._all_letters)
        _letters("init_params", self.init_params, self._all_letters)
        known = {v.rstrip("_") for k, v in LETTER_NAMES.items() if k in self._all_letters}
        for name in self.fixed:
            if str(name).rstrip("_") not in known:
                raise ParameterError(
                    f"fixed names unknown parameter {name!r}; choose from {sorted(known)}"
                )
        if self.n_threads is not None and (
            not isinstance(self.n_threads, (int, np.integer)) or self.n_threads < 0
        ):
            raise ParameterError(f"n_threads must be None or >= 0, got {self.n_threads!r}")

    def _update_letters(self) -> str:
        fixed = {str(f).rstrip("_") for f in self.fixed}
        return "".join(ch for ch in self.params if LETTER_NAMES[ch].rstrip("_") not in fixed)

    def _conc(self, name: str) -> np.ndarray:
        n = self.n_components
        shapes = {"startprob": (n,), "transmat": (n, n)}
        shapes.update(self._emission_prior_shapes())
        return check_concentration(f"{name}_prior", getattr(self, f"{name}_prior"), shapes[name])

    # -- parameters -----------------------------------------------------------

    def _get_params(self) -> Params:
        out: Params = {}
        for key in ("startprob", "transmat", *self._emission_keys):
            value = getattr(self, key + "_", None)
            if value is None:
                raise NotFittedError(
                    f"{type(self).__name__} has no {key}_; call fit first or set it"
                )
            out[key] = value
        return self._checked_params(out)

    def _set_params(self, params: Params) -> None:
        for key, value in params.items():
            setattr(self, key + "_", np.array(value, dtype=np.float64))

    def _checked_params(self, p: Params) -> Params:
        n = self.n_components
        out = dict(p)
        out["startprob"] = check_stochastic("startprob_", p["startprob"], (n,))
        out["transmat"] = check_stochastic("transmat_", p["transmat"], (n, n))
        out.update(self._checked_emissions(p))
        return out

    def _initial_params(
        self, X: np.ndarray, bounds: np.ndarray, rng: np.random.Generator
    ) -> Params:
        n = self.n_components
        p: Params = {}
        if "s" in self.init_params:
            p["startprob"] = np.full(n, 1.0 / n)
        else:
            p["startprob"] = self._user_param("startprob", "s")
        if "t" in self.init_params:
            # sticky random rows: a mild diagonal keeps segments from dissolving
            rows = rng.dirichlet(np.ones(n), size=n)
            p["transmat"] = np.ascontiguousarray(0.5 * rows + 0.5 * np.eye(n))
        else:
            p["transmat"] = self._user_param("transmat", "t")
        p.update(self._init_emissions(X, bounds, rng, p))
        return self._checked_params(p)

    def _user_param(self, key: str, letter: str) -> np.ndarray:
        value = getattr(self, key + "_", None)
        if value is None:
            raise ParameterError(
                f"{key}_ is not set: set it before fit or include {letter!r} in init_params"
            )
        return np.asarray(value, dtype=np.float64)

    def _vector_keys(self) -> tuple[str, ...]:
        return ("startprob", "transmat", *self._emission_keys)

    def _validate_vector_params(self, p: Params) -> Params | None:
        for key in ("startprob", "transmat"):
            if np.any(p[key] < 0) or not np.all(np.isfinite(p[key])):
                return None
            sums = p[key].sum(axis=-1, keepdims=True)
            if np.any(sums <= 0):
                return None
            p[key] = np.ascontiguousarray(p[key] / sums)
        p["startprob"] = p["startprob"].ravel()
        return self._validate_vector_emissions(p)

    # -- data ----------------------------------------------------------------

    def _prepare(self, X: Any, lengths: Any) -> tuple[np.ndarray, np.ndarray]:
        Xc = self._check_X(X)
        bounds = check_lengths(lengths, Xc.shape[0])
        return Xc, bounds

    # -- fitting -----------------------------------------------------------

    def fit(self, X: Any, lengths: Any = None) -> BaseHMM:
        """Estimate parameters by Baum-Welch (EM).

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            All sequences, concatenated.
        lengths : array-like of int, shape (n_sequences,), optional
            Length of each sequence; default one sequence.

        Returns
        -------
        self
        """
        self._check_hyper()
        X, bounds = self._prepare(X, lengths)
        self._prepare_fit(X)
        problem = HMMProblem(self, X, bounds)
        params, result = run_em(
            problem,
            max_iter=self.max_iter,
            tol=self.tol,
            n_init=self.n_init,
            random_state=self.random_state,
            accelerate=self.accelerate,
            callback=self.callback,
        )
        self._set_params(params)
        self.fit_result_ = result
        self.n_samples_fit_ = int(X.shape[0])
        return self

    def _prepare_fit(self, X: np.ndarray) -> None:
        """Hook for subclasses (e.g. to infer the alphabet size); nothing by default."""
        return None

    # -- inference ---------------------------------------------------------

    def _posteriors(self, X: Any, lengths: Any) -> tuple[np.ndarray, np.ndarray]:
        self._check_hyper()
        params = self._get_params()
        X, bounds = self._prepare(X, lengths)
        with _jit.threads(self.n_threads):
            B, logscale = self._frames(params, X)
            loglik, _, _ = K.forward_backward(
                B,
                logscale,
                bounds,
                K.sequence_chunks(bounds),
                params["startprob"],
                params["transmat"],
                False,
            )
        return loglik, B

    def score_sequences(self, X: Any, lengths: Any = None) -> np.ndarray:
        """Log-likelihood of each sequence (float64, shape (n_sequences,))."""
        self._check_hyper()
        params = self._get_params()
        X, bounds = self._prepare(X, lengths)
        with _jit.threads(self.n_threads):
            B, logscale = self._frames(params, X)
            return K.forward_loglik(
                B,
                logscale,
                bounds,
                K.sequence_chunks(bounds),
                params["startprob"],
                params["transmat"],
            )

    def score(self, X: Any, lengths: Any = None) -> float:
        """Total log-likelihood of all sequences (a sum, not a mean)."""
        return float(self.score_sequences(X, lengths).sum())

    def score_samples(self, X: Any, lengths: Any = None) -> tuple[float, np.ndarray]:
        """Total log-likelihood and state posteriors, as in hmmlearn.

        Returns
        -------
        logprob : float
            Total log-likelihood.
        posteriors : float64 array, shape (n_samples, n_components)
        """
        loglik, gamma = self._posteriors(X, lengths)
        return float(loglik.sum()), gamma

    def predict_proba(self, X: Any, lengths: Any = None) -> np.ndarray:
        """State posteriors, float64 array of shape (n_samples, n_components)."""
        return self._posteriors(X, lengths)[1]

    def decode(self, X: Any, lengths: Any = None) -> tuple[float, np.ndarray]:
        """Viterbi: log probability of the best path and the path itself.

        Returns
        -------
        logprob : float
            Sum over sequences of the log joint probability of sequence and path.
        states : int64 array, shape (n_samples,)
        """
        self._check_hyper()
        params = self._get_params()
        X, bounds = self._prepare(X, lengths)
        with _jit.threads(self.n_threads):
            logB = self._log_frames(params, X)
            path, logprob = K.viterbi(
                logB, bounds, K.sequence_chunks(bounds), params["startprob"], params["transmat"]
            )
        return float(logprob.sum()), path

    def predict(self, X: Any, lengths: Any = None) -> np.ndarray:
        """Most probable state path (Viterbi), int64 array of shape (n_samples,)."""
        return self.decode(X, lengths)[1]

    def sample(
        self, n_samples: int = 1, random_state: Any = None, lengths: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Draw observations and states from the model.

        Parameters
        ----------
        n_samples : int
            Total number of rows.
        random_state : None, int or numpy.random.Generator
        lengths : array-like of int, optional
            Split the draw into independent sequences of these lengths.

        Returns
        -------
        X : array, shape (n_samples, n_features)
        states : int64 array, shape (n_samples,)
        """
        self._check_hyper()
        params = self._get_params()
        rng = np.random.default_rng(random_state)
        bounds = (
            check_lengths(lengths, n_samples)
            if lengths is not None
            else check_lengths(None, n_samples)
        )
        u = rng.random(n_samples)
        states = K.sample_states(params["startprob"], params["transmat"], u, bounds)
        return self._sample_emissions(params, states, rng), states

    # -- model selection ---------------------------------------------------

    def n_free_parameters(self) -> int:
        """Number of free parameters estimated by ``fit`` (for AIC/BIC)."""
        n = self.n_components
        update = self._update_letters()
        k = 0
        if "s" in update:
            k += n - 1
        if "t" in update:
            k += n * (n - 1)
        return k + self._emission_n_free(update)

    def aic(self, X: Any, lengths: Any = None) -> float:
        """Akaike information criterion ``-2 logL + 2 k`` (lower is better)."""
        return -2.0 * self.score(X, lengths) + 2.0 * self.n_free_parameters()

    def bic(self, X: Any, lengths: Any = None) -> float:
        """Bayesian information criterion ``-2 logL + k log(n_samples)``."""
        n_rows = self._check_X(X).shape[0]
        return -2.0 * self.score(X, lengths) + self.n_free_parameters() * np.log(n_rows)

    # -- persistence -------------------------------------------------------

    def _hyper_dict(self) -> dict[str, Any]:
        out = {}
        for key in self._hyper_names():
            value = getattr(self, key)
            if isinstance(value, np.ndarray):
                value = value.tolist()
            if isinstance(value, tuple):
                value = list(value)
            out[key] = value
        return out

    def _hyper_names(self) -> list[str]:
        return [
            "n_components",
            "startprob_prior",
            "transmat_prior",
            "params",
            "init_params",
            "fixed",
            "max_iter",
            "tol",
            "n_init",
            "random_state",
            "accelerate",
            "n_threads",
        ]

    def to_dict(self) -> dict[str, Any]:
        """Hyperparameters, fitted parameters and fit report as plain Python data."""
        params = self._get_params()
        out: dict[str, Any] = {
            "format": "seqem-hmm",
            "version": MODEL_FORMAT_VERSION,
            "model": type(self).__name__,
            "hyperparameters": self._hyper_dict(),
            "parameters": {k: v.tolist() for k, v in params.items()},
        }
        if isinstance(out["hyperparameters"].get("random_state"), np.random.Generator):
            out["hyperparameters"]["random_state"] = None
        result = getattr(self, "fit_result_", None)
        if result is not None:
            out["fit_result"] = result.to_dict()
        return out

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the model as JSON (exact: floats are written with full precision)."""
        from ..io.atomic import atomic_output

        text = json.dumps(self.to_dict(), indent=1)
        with atomic_output(path) as fh:
            fh.write(text + "\n")

    # -- emission hooks: each emission model supplies these -----------------

    def _emission_prior_shapes(self) -> dict[str, tuple[int, ...]]:
        """Shapes of the emission parameters that take Dirichlet priors."""
        return {}

    @abc.abstractmethod
    def _check_X(self, X: Any) -> np.ndarray:
        """Validated, contiguous observations."""

    @abc.abstractmethod
    def _checked_emissions(self, p: Params) -> Params:
        """Validated emission parameters."""

    @abc.abstractmethod
    def _init_emissions(
        self, X: np.ndarray, bounds: np.ndarray, rng: np.random.Generator, p: Params
    ) -> Params:
        """Starting emission parameters (from the data or the user's values)."""

    @abc.abstractmethod
    def _frames(
        self,
        params: Params,
        X: np.ndarray,
        out: np.ndarray | None = None,
        logscale: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Frame likelihoods ``B`` (T x N) and row log offsets (T,); see the kernels."""

    @abc.abstractmethod
    def _log_frames(
        self, params: Params, X: np.ndarray, out: np.ndarray | None = None
    ) -> np.ndarray:
        """Log frame likelihoods (T x N)."""

    @abc.abstractmethod
    def _emission_stats(self, gamma: np.ndarray, X: np.ndarray, update: str) -> dict[str, Any]:
        """Expected emission statistics from the state posteriors."""

    @abc.abstractmethod
    def _emission_mstep(self, stats: dict[str, Any], params: Params, update: str) -> Params:
        """Updated emission parameters."""

    @abc.abstractmethod
    def _emission_log_prior(self, params: Params) -> float:
        """Log prior density of the emission parameters."""

    @abc.abstractmethod
    def _emission_n_free(self, update: str) -> int:
        """Number of free emission parameters that ``fit`` estimates."""

    @abc.abstractmethod
    def _validate_vector_emissions(self, p: Params) -> Params | None:
        """Emission parameters from a SQUAREM extrapolation, or None if invalid."""

    @abc.abstractmethod
    def _sample_emissions(
        self, params: Params, states: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """Observations drawn given the states."""
