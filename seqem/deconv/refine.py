"""Proportions with the reference profiles refined jointly across the bulk samples.

The multinomial mixture of :mod:`.mixture`, with the profiles as parameters
shared by every sample instead of fixed (the idea of URSM, Zhu et al. 2018,
which fits single-cell and bulk data with one set of profiles).  Each unit
of sample ``j``'s expression comes from cell type ``k`` with probability
``pi_jk`` and then from gene ``g`` with probability ``q_gk``; a Dirichlet
prior with parameters ``1 + a_gk`` holds each profile near the reference:

* with a labelled single-cell reference the pseudo-counts ``a_gk`` are the
  type's own cells' counts summed (the multinomial likelihood of those
  cells given ``q_k``: the single cells and the bulk samples estimate the
  profiles together), times ``weight``;
* with a signature or pure profiles, ``a_k`` is the reference profile
  normalised to sum one, times ``weight`` times the bulk's average
  expression per type (``weight = 1``: the prior carries as much as the
  data do).

EM for the posterior mode: each unit's responsibilities over the types, then
``pi_j`` from the sample's and ``q_k`` from every sample's plus ``a_k``.  The
objective ``sum_gj y_gj ln sum_k pi_jk q_gk + sum_gk a_gk ln q_gk`` never
falls (checked every update), SQUAREM accelerates it, and it starts from the
fixed-reference fit (:func:`.mixture.multinomial_em`).  The problem is not
concave in ``(pi, q)`` together, so the start matters; a large ``weight``
returns the fixed-reference fit.  Cell fractions are the expression
fractions divided by each type's reference total (its mRNA or counts per
cell), renormalised, as for the fixed reference.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ..em.engine import FitResult, run_em
from ..errors import InputFormatError
from .mixture import check_inputs, multinomial_em, safe_exponents

__all__ = ["RefinedFit", "refine_fit"]

#: Share of the uniform proportions mixed into the fixed-reference start, so
#: that no type starts at exactly zero (EM cannot leave zero).
START_MIX = 1e-6


@dataclasses.dataclass(frozen=True)
class RefinedFit:
    """Proportions and refined profiles.

    Attributes
    ----------
    proportions : float64 array (n_samples, n_types)
        Cell fractions (rows sum to one).
    expression_fractions : float64 array (n_samples, n_types)
    profiles : float64 array (n_genes, n_types)
        The refined profiles on the reference's scale (each column keeps the
        reference column's total).
    objective : float
        Log-likelihood plus log prior at the end.
    fit : FitResult
    """

    proportions: np.ndarray
    expression_fractions: np.ndarray
    profiles: np.ndarray
    objective: float
    fit: FitResult


class _Joint:
    """EM problem of the proportions of every sample and the shared profiles."""

    def __init__(self, y: np.ndarray, prior: np.ndarray, start: dict[str, np.ndarray]):
        self.y, self.prior, self.start = y, prior, start
        self.observed = y > 0
        self.has_prior = prior > 0

    def initial_params(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {k: v.copy() for k, v in self.start.items()}

    def e_step(self, params: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], float]:
        pi, q = params["pi"], params["q"]
        m = q @ pi.T  # genes x samples
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(self.observed, self.y / m, 0.0)
            loglik = float(np.sum(self.y[self.observed] * np.log(m[self.observed])))
        return {"pi": pi * (ratio.T @ q), "q": q * (ratio @ pi)}, loglik

    def m_step(self, stats: dict[str, np.ndarray], params: dict[str, np.ndarray]) -> dict:
        counts = stats["q"] + self.prior
        return {
            "pi": stats["pi"] / stats["pi"].sum(axis=1, keepdims=True),
            "q": counts / counts.sum(axis=0),
        }

    def log_prior(self, params: dict[str, np.ndarray]) -> float:
        with np.errstate(divide="ignore"):
            return float(np.sum(self.prior[self.has_prior] * np.log(params["q"][self.has_prior])))

    def to_vector(self, params: dict[str, np.ndarray]) -> np.ndarray:
        return np.concatenate([params["pi"].ravel(), params["q"].ravel()])

    def from_vector(self, vector: np.ndarray, like: dict) -> dict | None:
        if not np.all(np.isfinite(vector)) or np.any(vector < 0):
            return None
        n = like["pi"].size
        pi = vector[:n].reshape(like["pi"].shape)
        q = vector[n:].reshape(like["q"].shape)
        rows, cols = pi.sum(axis=1, keepdims=True), q.sum(axis=0)
        if np.any(rows <= 0) or np.any(cols <= 0):
            return None
        return {"pi": pi / rows, "q": q / cols}


def refine_fit(
    Y: Any,
    S: Any,
    *,
    cell_counts: Any = None,
    weight: float = 1.0,
    tol: float = 1e-10,
    max_iter: int = 5000,
) -> RefinedFit:
    """Proportions of every bulk sample with the profiles refined across all of them.

    Parameters
    ----------
    Y : array (genes, samples)
        Linear-scale bulk expression (counts for a likelihood in earnest).
    S : array (genes, types)
        Reference profiles on the absolute scale (expression per cell).
    cell_counts : array (genes, types), optional
        Summed counts of the labelled single cells of each type: the
        pseudo-counts of the prior (times ``weight``).  Without it the
        prior is ``S`` normalised times ``weight`` times the bulk's average
        expression per type.
    weight : float
        Strength of the prior (``> 0``).
    tol : float
        Stop when the objective rises by less than ``tol`` times the bulk's
        total expression in an update.
    max_iter : int
        Most EM updates.
    """
    y, s = check_inputs(Y, S)
    if not (weight > 0 and np.isfinite(weight)):
        raise InputFormatError(f"the prior weight must be a positive number, got {weight!r}")
    genes, k = s.shape
    totals = s.sum(axis=0)
    if cell_counts is None:
        prior = weight * float(y.sum()) / k * (s / totals)
    else:
        prior = weight * np.asarray(cell_counts, dtype=np.float64)
        if prior.shape != s.shape or not np.all(np.isfinite(prior)) or np.any(prior < 0):
            raise InputFormatError("cell counts must be finite, non-negative, genes x types")
    # bulk and prior outside SAFE_MAGNITUDE: scaled together by a power of two
    # (exact; the objective scales with them, the fit does not change)
    e = int(safe_exponents(max(float(y.max()), float(prior.max())))[()])
    if e:
        y, prior = np.ldexp(y, -e), np.ldexp(prior, -e)
    fixed = multinomial_em(y, s)
    pi = (1.0 - START_MIX) * fixed.expression_fractions + START_MIX / k
    problem = _Joint(y, prior, {"pi": pi, "q": s / totals})
    params, fit = run_em(problem, max_iter=max_iter, tol=tol * float(y.sum()),
                         accelerate="squarem")  # fmt: skip
    if e:
        fit = dataclasses.replace(
            fit, loglik=float(np.ldexp(fit.loglik, e)), objective=float(np.ldexp(fit.objective, e)),
            history=tuple(float(np.ldexp(h, e)) for h in fit.history),
        )  # fmt: skip
    fractions = params["pi"]
    cells = fractions / totals[None]
    cells /= cells.sum(axis=1, keepdims=True)
    return RefinedFit(cells, fractions, params["q"] * totals, fit.objective, fit)
