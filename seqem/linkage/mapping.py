"""Recombination fractions by EM over inheritance vectors (genetic maps from pedigrees).

The complete data are the meioses' recombinations in each interval between
adjacent loci.  Given the current fractions, the expected number of
recombinant meioses in an interval follows from the forward vector at its
left locus, the backward vector (with the emission) at its right locus and
the derivative of the transition: with ``T = prod_k ((1 - theta) I + theta
X_k)`` over the ``m`` informative meioses,

    E[recombinations] = theta (1 - theta) (dL/dtheta) / L + m theta,

and the M-step divides by ``m`` (summed over families; male and female
meioses apart for a sex-specific map).  Meioses that founder symmetry makes
uninformative (a founder's only child) carry no information and are left
out.  Each EM step raises the likelihood; a fraction at 0 is a fixed point
of EM, so fits start inside (0, 1/2) and reach the boundary in the limit.
SQUAREM (through the shared engine) accelerates the crawl towards a
boundary maximum.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from .. import _jit
from ..em.engine import FitResult, run_em
from ..errors import ParameterError
from . import _kernels as K
from .data import LinkageData, TraitModel
from .lander_green import MAX_BITS, InheritanceSpace, locus_emissions

__all__ = ["MapFit", "estimate_recombination"]


@dataclasses.dataclass
class MapFit:
    """Estimated recombination fractions between adjacent loci.

    ``thetas``: (intervals,) sex-averaged, or (intervals, 2) male and female.
    """

    loci: list[str]
    thetas: np.ndarray
    loglik: float
    fit: FitResult


class _MapProblem:
    """EM problem: the families' emissions fixed, the fractions estimated."""

    def __init__(
        self,
        spaces: list[InheritanceSpace],
        emissions: list[list[np.ndarray]],
        start: np.ndarray,
        free: np.ndarray,
        sex_specific: bool,
        n_threads: int | None,
    ) -> None:
        self.spaces = spaces
        self.emissions = emissions
        self.start = start
        self.free = free
        self.sex_specific = sex_specific
        self.n_threads = n_threads
        # informative meioses of each sex, summed over families
        self.n_male = sum(int(((s.masks != 0) & s.male).sum()) for s in spaces)
        self.n_female = sum(int(((s.masks != 0) & ~s.male).sum()) for s in spaces)

    def initial_params(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {"theta": self.start.copy()}

    def _interval(self, theta: np.ndarray, i: int) -> tuple[float, float]:
        if self.sex_specific:
            return float(theta[i, 0]), float(theta[i, 1])
        return float(theta[i]), float(theta[i])

    def e_step(self, params: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], float]:
        theta = params["theta"]
        n_int = theta.shape[0]
        rec = np.zeros((n_int, 2))
        total = 0.0
        with _jit.threads(self.n_threads):
            for space, emis in zip(self.spaces, self.emissions, strict=True):
                n = space.n_states
                fwd = []
                v = np.full(n, 1.0 / n)
                for i, e in enumerate(emis):
                    if i:
                        tm, tf = self._interval(theta, i - 1)
                        v = space.transition(v.copy(), tm, tf)  # fwd keeps the previous
                    v = v * e
                    s = float(v.sum())
                    if not s > 0:
                        return {"rec": rec}, -math.inf
                    total += math.log(s)
                    v /= s
                    fwd.append(v)
                b = np.ones(n)
                n_male = int(((space.masks != 0) & space.male).sum())
                n_female = int(((space.masks != 0) & ~space.male).sum())
                for i in range(len(emis) - 2, -1, -1):
                    tm, tf = self._interval(theta, i)
                    w = emis[i + 1] * b
                    w /= float(w.sum())
                    dm = np.zeros(n)
                    df = np.zeros(n)
                    K.transition_derivative(
                        w, dm, df, space.masks, space.thetas(tm, tf), space.male
                    )
                    like = float(K.dot2(fwd[i], w))
                    rec[i, 0] += tm * (1 - tm) * float(K.dot2(fwd[i], dm)) / like + n_male * tm
                    rec[i, 1] += tf * (1 - tf) * float(K.dot2(fwd[i], df)) / like + n_female * tf
                    b = w / float(w.sum())
        return {"rec": rec}, total

    def m_step(self, stats: dict[str, np.ndarray], params: dict[str, np.ndarray]) -> dict:
        rec = stats["rec"]
        theta = params["theta"].copy()
        if self.sex_specific:
            new = np.stack(
                [rec[:, 0] / max(self.n_male, 1), rec[:, 1] / max(self.n_female, 1)], axis=1
            )
        else:
            new = rec.sum(axis=1) / max(self.n_male + self.n_female, 1)
        new = np.clip(new, 0.0, 0.5)
        theta[self.free] = new[self.free]
        return {"theta": theta}

    def log_prior(self, params: dict[str, np.ndarray]) -> float:
        return 0.0

    def to_vector(self, params: dict[str, np.ndarray]) -> np.ndarray:
        return params["theta"].ravel().copy()

    def from_vector(self, vector: np.ndarray, like: dict) -> dict | None:
        if not np.all(np.isfinite(vector)) or np.any(vector < 0) or np.any(vector > 0.5):
            return None
        theta = vector.reshape(like["theta"].shape).copy()
        theta[~self.free] = like["theta"][~self.free]
        return {"theta": theta}


def estimate_recombination(
    data: LinkageData,
    loci: list[str],
    thetas: Any,
    *,
    fixed: Any = None,
    sex_specific: bool = False,
    model: TraitModel | None = None,
    tol: float = 1e-9,
    max_iter: int = 2000,
    accelerate: str | None = "squarem",
    n_threads: int | None = None,
    max_bits: int = MAX_BITS,
) -> MapFit:
    """Maximum-likelihood recombination fractions between adjacent loci by EM.

    Parameters
    ----------
    loci : list of str
        Marker names of ``data`` and optionally the trait (``data.trait_name``),
        in map order.
    thetas : array
        Starting fractions, one per interval (values at 0 are moved to 0.01:
        0 is a fixed point of EM; values in ``fixed`` stay as given).
    fixed : bool array, optional
        Intervals held at their starting value.
    sex_specific : bool
        Estimate male and female fractions apart (``thetas`` then has shape
        (intervals, 2), or is given sex-averaged and duplicated).
    tol : float
        Stop when the log-likelihood rises by less than this.
    """
    n_int = len(loci) - 1
    if n_int < 1:
        raise ParameterError("at least two loci are needed")
    start = np.asarray(thetas, dtype=float)
    if sex_specific and start.ndim == 1:
        start = np.stack([start, start], axis=1)
    want = (n_int, 2) if sex_specific else (n_int,)
    if start.shape != want:
        raise ParameterError(f"starting fractions must have shape {want}, got {start.shape}")
    if np.any(start < 0) or np.any(start > 0.5):
        raise ParameterError("recombination fractions must be in [0, 0.5]")
    free_int = np.ones(n_int, dtype=bool) if fixed is None else ~np.asarray(fixed, dtype=bool)
    free = free_int if not sex_specific else np.stack([free_int, free_int], axis=1)
    start = np.where(free & (start <= 0.0), 0.01, start)
    model = model if model is not None else data.trait
    spaces, emissions = [], []
    for f, fam in enumerate(data.families):
        space = InheritanceSpace.of(fam, max_bits=max_bits)
        emis = locus_emissions(data, f, space, loci, model, n_threads)
        spaces.append(space)
        emissions.append(emis)
    problem = _MapProblem(spaces, emissions, start, free, sex_specific, n_threads)
    params, fit = run_em(problem, max_iter=max_iter, tol=tol, accelerate=accelerate)
    return MapFit(list(loci), params["theta"], fit.loglik, fit)
