"""Summary statistics of a profile HMM, as HMMER's ``hmmstat`` reports them.

For a model with match emissions ``p_k`` (nodes ``k = 1..M``), background
``f`` and match occupancy ``o_k`` (:func:`~seqem.profile.search.match_occupancy`),
all in bits:

- ``relent``: the mean relative entropy of the match emissions,
  ``(1/M) sum_k sum_a p_k(a) log2(p_k(a) / f(a))``;
- ``info``: the mean information content, the background's entropy less the
  mean entropy of the match emissions;
- ``p_relE``: the mean score per consensus position with the gap costs of
  entering it: the occupancy-weighted mean of the match relative entropies,
  plus the log-odds of the transitions into nodes 2..M (from the match
  state, through the insert state, or from the delete state, each weighted
  by the chance of taking it and scored against the null model's
  self-transition ``350/351``), averaged over the occupancy of nodes 2..M;
- ``compKL``: the symmetric Kullback-Leibler distance between the model's
  mean match composition (occupancy-weighted) and the background, a measure
  of composition bias.

:func:`model_statistics` gives them; ``seqem profile stat`` writes them with
the model's name, accession, number of sequences, effective number and
length, as hmmstat's columns.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .logo import relative_entropy
from .model import DM, IM, MI, MM, ProfileHMM
from .search import match_occupancy

__all__ = ["NULL_LOOP", "STAT_COLUMNS", "model_statistics"]

#: Self-transition of the null model the gap costs are scored against (its
#: default length 350, as hmmstat's).
NULL_LOOP = 350.0 / 351.0
#: Columns of ``seqem profile stat`` (hmmstat's, with ``p relE`` as ``p_relE``).
STAT_COLUMNS = ("idx", "name", "accession", "nseq", "eff_nseq", "M", "relent", "info",
                "p_relE", "compKL")  # fmt: skip


def _entropy(p: np.ndarray) -> np.ndarray:
    """Shannon entropy in bits along the last axis (0 log 0 = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.where(p > 0, p * np.log2(p), 0.0).sum(axis=-1)


def _relent(p: np.ndarray, q: np.ndarray) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.where(p > 0, p * np.log2(p / q), 0.0).sum())


def model_statistics(hmm: ProfileHMM) -> dict[str, Any]:
    """``relent``, ``info``, ``p_relE`` and ``compKL`` of a model (see the module
    docstring), with its ``name``, ``accession``, ``nseq``, ``eff_nseq`` and ``M``."""
    bg = np.asarray(hmm.alphabet.background, dtype=np.float64)
    match = np.asarray(hmm.match[1:], dtype=np.float64)
    t = np.asarray(hmm.transitions, dtype=np.float64)
    M = hmm.M
    occ = match_occupancy(hmm)
    per_node = relative_entropy(hmm)
    emission = float(np.sum(occ[1:] * per_node) / np.sum(occ[1:]))
    gaps = 0.0
    if M > 1:
        before, into = occ[1:M], t[1:M]  # nodes k - 1 = 1..M-1 entering k = 2..M
        with np.errstate(divide="ignore", invalid="ignore"):
            stay = np.log(into[:, MM] / NULL_LOOP)
            via_insert = stay + np.log(into[:, IM] / NULL_LOOP)
            from_delete = np.log(into[:, DM] / NULL_LOOP)
        terms = (
            _times(before * into[:, MM], stay)
            + _times(before * into[:, MI], via_insert)
            + _times((1.0 - before) * into[:, DM], from_delete)
        )
        gaps = float(np.sum(terms) / np.log(2.0) / np.sum(occ[2:]))
    composition = (occ[1:, None] * match).sum(axis=0)
    composition /= composition.sum()
    return {
        "name": hmm.name,
        "accession": hmm.accession,
        "nseq": hmm.nseq,
        "eff_nseq": hmm.effn,
        "M": M,
        "relent": float(per_node.mean()),
        "info": float(_entropy(bg) - _entropy(match).mean()),
        "p_relE": emission + gaps,
        "compKL": (_relent(composition, bg) + _relent(bg, composition)) / 2.0,
    }


def _times(weight: np.ndarray, log_odds: np.ndarray) -> np.ndarray:
    """``weight * log_odds``, 0 where the weight is 0 (a transition never taken)."""
    return np.where(weight > 0, weight * np.where(weight > 0, log_odds, 0.0), 0.0)
