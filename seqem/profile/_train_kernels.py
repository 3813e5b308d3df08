"""Numba kernels of Baum-Welch training that weight sequences within groups.

:func:`weighted_group_counts` is :func:`seqem.profile._kernels.core_group_counts`
with a weight per sequence, for the cross-fitted refinement of weighted
training (:func:`seqem.profile.train.cross_fit`): every group of sequences
is aligned to its own model, in parallel over groups, in one call.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._jit import PJIT
from ._kernels import _count_range


@njit(**PJIT)
def weighted_group_counts(dsq, bounds, groups, emM, emI, members, tr, weights):  # pragma: no cover
    """Weighted expected counts of groups of sequences, each group under its own model.

    Parameters
    ----------
    dsq : uint8 array (T,)
    bounds : int64 array (n_seq + 1,)
    groups : int64 array (G + 1,)
        Group ``g`` is sequences ``groups[g]`` to ``groups[g + 1] - 1``.
    emM, emI : float64 arrays (G, n_codes, M + 1)
        Each group's emission probabilities (as
        :func:`seqem.profile._kernels.core_expected_counts`).
    members : float64 array (n_codes, K)
    tr : float64 array (G, 7, M + 1)
    weights : float64 array (n_seq,)
        Each sequence's counts are multiplied by its weight.

    Returns
    -------
    loglik : float64 array (n_seq,)
        Each sequence's log-likelihood under its group's model (unweighted).
    match_counts, insert_counts : float64 arrays (G, M + 1, K)
    trans_counts : float64 array (G, 7, M + 1)
    """
    n_groups = len(groups) - 1
    M = emM.shape[2] - 1
    K = members.shape[1]
    loglik = np.empty(len(bounds) - 1)
    cM = np.zeros((n_groups, M + 1, K))
    cI = np.zeros((n_groups, M + 1, K))
    cT = np.zeros((n_groups, 7, M + 1))
    for g in prange(n_groups):
        _count_range(
            dsq, bounds, groups[g], groups[g + 1], emM[g], emI[g], members, tr[g], weights,
            loglik, cM[g], cI[g], cT[g],
        )  # fmt: skip
    return loglik, cM, cI, cT
