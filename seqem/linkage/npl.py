"""Nonparametric linkage: NPL scores and the Kong and Cox LOD.

For each family, a score function ``S(v)`` of the inheritance vector
measures how much the affected persons share identical by descent:
``S_pairs`` (pairs of affected relatives, alleles shared IBD) or ``S_all``
(Whittemore and Halpern 1994, which favours many affected persons sharing
one allele).  Standardised under the prior (every vector equally likely),
``Z_f(v) = (S(v) - mu_f) / sigma_f``; at a position ``x`` the family's score
is its posterior mean given all the markers, and the NPL score is
``Z(x) = sum_f Z_f(x) / sqrt(F)`` over the ``F`` informative families (at
least two affected persons), with a one-sided normal p-value, as GENEHUNTER
and MERLIN report it.

Kong and Cox (1997), linear model: under linkage the vectors have
probability ``prior(v) (1 + delta gamma_f Z_f(v))`` with ``gamma_f =
1/sqrt(F)``; the likelihood ratio is ``prod_f (1 + delta gamma_f Z_f(x))``,
maximised over ``0 <= delta <= delta_max`` (every probability non-negative).
The LOD is that maximum in log10; its one-sided p-value comes from the
chi-square mixture (``Z = sqrt(2 ln 10 LOD)``).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from .. import _jit
from ..errors import ParameterError
from . import _kernels as K
from .data import LinkageData
from .lander_green import (
    MAX_BITS,
    SNAP,
    InheritanceSpace,
    _consistent,
    map_function,
    marker_emission,
    scan_positions,
)

__all__ = ["NPLResult", "npl", "kong_cox", "score_vectors"]


@dataclasses.dataclass
class NPLResult:
    """NPL and Kong-Cox results at each position.

    ``z_family[f, j]``: family ``f``'s expected standardised score at
    position ``j`` (0 for an uninformative family); ``informative``: which
    families count.
    """

    positions: np.ndarray
    statistic: str
    families: list[str]
    informative: np.ndarray
    z_family: np.ndarray
    z: np.ndarray
    p: np.ndarray
    kc_lod: np.ndarray
    kc_delta: np.ndarray
    kc_p: np.ndarray


def _normal_sf(z: np.ndarray) -> np.ndarray:
    return np.array([0.5 * math.erfc(float(x) / math.sqrt(2.0)) for x in np.atleast_1d(z)])


def score_vectors(space: InheritanceSpace, affected: np.ndarray, n_threads: int | None = None):
    """(S_pairs, S_all) for every inheritance vector of the family."""
    f = space.family
    with _jit.threads(n_threads):
        s = K.npl_scores(
            space.n_states, space.order, f.father.astype(np.int64), f.mother.astype(np.int64),
            space.pat_bit, space.mat_bit, space.founder_gene, space.n_genes,
            np.asarray(affected, dtype=np.int64),
        )  # fmt: skip
    return s[:, 0], s[:, 1]


def kong_cox(expected: np.ndarray, minimum: np.ndarray) -> tuple[float, float]:
    """Kong and Cox linear-model LOD and delta at one position.

    ``expected[f]``: the family's posterior mean standardised score;
    ``minimum[f]``: its smallest standardised score over all vectors.
    """
    gamma = 1.0 / math.sqrt(expected.size)
    worst = float(np.max(-minimum * gamma))
    dmax = 1.0 / worst if worst > 0 else math.inf
    g = gamma * expected

    def slope(d: float) -> float:
        return float(np.sum(g / (1.0 + d * g)))

    if not slope(0.0) > 0:
        return 0.0, 0.0
    if math.isinf(dmax):  # pragma: no cover - a standardised score always goes below 0
        dmax = 1e6
    if slope(dmax * (1 - 1e-12)) > 0:
        d = dmax * (1 - 1e-12)
    else:
        lo, hi = 0.0, dmax
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            if slope(mid) > 0:
                lo = mid
            else:
                hi = mid
        d = 0.5 * (lo + hi)
    lod = float(np.sum(np.log10(1.0 + d * g)))
    return max(lod, 0.0), d


def npl(
    data: LinkageData,
    positions: np.ndarray,
    *,
    statistic: str = "all",
    map_name: str = "haldane",
    markers: list[int] | None = None,
    n_threads: int | None = None,
    max_bits: int = MAX_BITS,
) -> NPLResult:
    """NPL scores (``statistic`` ``"all"`` or ``"pairs"``) and Kong-Cox LODs at each position."""
    if statistic not in ("all", "pairs"):
        raise ParameterError(f"statistic must be 'all' or 'pairs', got {statistic!r}")
    map_fn = map_function(map_name)
    idx = list(range(len(data.markers))) if markers is None else list(markers)
    locs = [data.markers[i] for i in idx]
    cm = np.array([m.cm for m in locs], dtype=float)
    if not locs or np.any(~np.isfinite(cm)) or np.any(np.diff(cm) < 0):
        raise ParameterError("marker positions must be known and in map order")
    positions = np.asarray(positions, dtype=float).copy()
    near = np.abs(positions[:, None] - cm[None, :])
    k = np.argmin(near, axis=1)
    snap = near[np.arange(positions.size), k] < SNAP
    positions[snap] = cm[k[snap]]
    n_fam = len(data.families)
    z_family = np.zeros((n_fam, positions.size))
    minimum = np.zeros(n_fam)
    informative = np.zeros(n_fam, dtype=bool)
    for f, fam in enumerate(data.families):
        affected = np.flatnonzero(data.affection[f] == 2)
        if affected.size < 2:
            continue
        space = InheritanceSpace.of(fam, max_bits=max_bits)
        pairs, all_ = score_vectors(space, affected, n_threads)
        s = all_ if statistic == "all" else pairs
        mu, sigma = float(s.mean()), float(s.std())
        if not sigma > 1e-12 * max(1.0, abs(mu)):
            continue
        informative[f] = True
        zv = (s - mu) / sigma
        minimum[f] = float(zv.min())
        emis = []
        for j, i in enumerate(idx):
            e = marker_emission(space, data.genotypes[f][:, i, :], locs[j].freqs, n_threads)
            _consistent(e, space, locs[j].name, data.source)
            emis.append(e)

        def visit(
            j: int, left: np.ndarray, right: np.ndarray, den: float, f: int = f,
            zv: np.ndarray = zv,
        ) -> None:  # fmt: skip
            z_family[f, j] = float(K.dot3(left, right, zv)) / float(K.dot2(left, right))

        scan_positions(space, emis, cm, positions, map_fn, visit, n_threads,
                       names=[m.name for m in locs], path=data.source)  # fmt: skip
    n_inf = int(informative.sum())
    if n_inf == 0:
        raise ParameterError("no family has two or more affected persons: NPL needs them")
    z = z_family[informative].sum(axis=0) / math.sqrt(n_inf)
    kc = [kong_cox(z_family[informative, j], minimum[informative]) for j in range(positions.size)]
    kc_lod = np.array([x[0] for x in kc])
    kc_delta = np.array([x[1] for x in kc])
    kc_p = _normal_sf(np.sqrt(2.0 * math.log(10.0) * kc_lod))
    kc_p[kc_lod <= 0] = 0.5
    return NPLResult(
        positions, statistic, [fam.id for fam in data.families], informative, z_family, z,
        _normal_sf(z), kc_lod, kc_delta, kc_p,
    )  # fmt: skip
