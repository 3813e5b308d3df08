"""Numba kernels on the profile-HMM search topology.

The search model (what HMMER calls a profile) is the core model configured
for one alignment mode:

* ``N`` (N-terminal flank) -> ``B`` -> ``M_k`` (entry ``bm[k]``) ... the
  match/insert/delete chain ... ``M_k`` -> ``E`` (``me[k]``), ``D_k`` -> ``E``
  (``de[k]``) -> ``C`` (C-terminal flank) -> end, or ``E`` -> ``J`` -> ``B``
  for another hit (multihit).
* ``N``, ``C`` and ``J`` emit background residues; match and insert states
  emit with *odds ratios* against the background, so every probability the
  kernels compute is ``P(seq, path | model) / prod_i f(x_i)``.
* There are no delete states reachable from ``B`` (glocal entry into later
  nodes is folded into ``bm`` as HMMER's "wing retraction"), so no cycle of
  silent states exists.

Conventions (shared with the dense-HMM kernels): probabilities, not logs,
scaled row by row (residue by residue); the log of the result is the sum of
the logs of the row scale factors.  Arguments:

``dsq``  uint8/int8 array (T,), residue codes (index into the rows of ``msc``).
``bounds`` int64 (n_seq + 1,), sequence ``s`` is ``dsq[bounds[s]:bounds[s+1]]``.
``msc``  float64 (n_codes, M + 1), match odds ratios; column 0 unused.
``isc``  float64 (n_codes, M + 1), insert odds ratios (1.0 gives HMMER's
         convention of insert scores fixed at zero).
``tr``   float64 (7, M + 1), node transitions MM MI MD IM II DM DD (row
         ``MD``/``DD`` at node M must be 0).
``bm``, ``me``, ``de`` float64 (M + 1,), entry B->M_k, exits M_k->E and
         D_k->E.
``xt``   float64 (n_seq, 8), special transitions per sequence (they depend on
         its length): N loop, N->B, E->C, E->J, C loop, C->end, J loop, J->B.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._jit import JIT, PJIT

NEG_INF = -np.inf

# special transition columns
N_LOOP, N_MOVE, E_C, E_J, C_LOOP, C_MOVE, J_LOOP, J_MOVE = range(8)
MM, MI, MD, IM, II, DM, DD = range(7)


@njit(**JIT)
def _forward_one(
    dsq, s, e, msc, isc, tr, bm, me, de, xt, Mp, Ip, Dp, Mc, Ic, Dc
):  # pragma: no cover
    """Scaled Forward of one sequence; returns ln of the total (odds) probability."""
    M = msc.shape[1] - 1
    for k in range(M + 1):
        Mp[k] = 0.0
        Ip[k] = 0.0
        Dp[k] = 0.0
    xN = 1.0
    xB = xt[N_MOVE]
    xJ = 0.0
    xC = 0.0
    logscale = 0.0
    tMM = tr[MM]
    tMI = tr[MI]
    tMD = tr[MD]
    tIM = tr[IM]
    tII = tr[II]
    tDM = tr[DM]
    tDD = tr[DD]
    for i in range(s, e):
        x = dsq[i]
        ms = msc[x]
        ins = isc[x]
        Mc[0] = 0.0
        Ic[0] = 0.0
        Dc[0] = 0.0
        xE = 0.0
        total = 0.0
        dprev = 0.0
        for k in range(1, M + 1):
            m = ms[k] * (
                Mp[k - 1] * tMM[k - 1]
                + Ip[k - 1] * tIM[k - 1]
                + Dp[k - 1] * tDM[k - 1]
                + xB * bm[k]
            )
            Mc[k] = m
            d = Mc[k - 1] * tMD[k - 1] + dprev * tDD[k - 1]
            Dc[k] = d
            dprev = d
            xE += m * me[k] + d * de[k]
            if k < M:
                ii = ins[k] * (Mp[k] * tMI[k] + Ip[k] * tII[k])
            else:
                ii = 0.0
            Ic[k] = ii
            total += m + d + ii
        xJ = xJ * xt[J_LOOP] + xE * xt[E_J]
        xC = xC * xt[C_LOOP] + xE * xt[E_C]
        xN = xN * xt[N_LOOP]
        xB = xN * xt[N_MOVE] + xJ * xt[J_MOVE]
        total += xN + xJ + xC
        if not total > 0.0:
            return NEG_INF
        inv = 1.0 / total
        for k in range(M + 1):
            Mp[k] = Mc[k] * inv
            Ip[k] = Ic[k] * inv
            Dp[k] = Dc[k] * inv
        xN *= inv
        xJ *= inv
        xC *= inv
        xB *= inv
        logscale += np.log(total)
    final = xC * xt[C_MOVE]
    if not final > 0.0:
        return NEG_INF
    return logscale + np.log(final)


@njit(**PJIT)
def forward_scores(dsq, bounds, msc, isc, tr, bm, me, de, xt):  # pragma: no cover
    """Forward log-odds (nats, against background emissions) of each sequence.

    Returns
    -------
    float64 array, shape (n_seq,)
        ``ln P(seq | model) - sum_i ln f(x_i)``; subtract the null model's
        length term to get a log-odds score.
    """
    n_seq = len(bounds) - 1
    M = msc.shape[1] - 1
    out = np.empty(n_seq)
    for q in prange(n_seq):
        Mp = np.empty(M + 1)
        Ip = np.empty(M + 1)
        Dp = np.empty(M + 1)
        Mc = np.empty(M + 1)
        Ic = np.empty(M + 1)
        Dc = np.empty(M + 1)
        out[q] = _forward_one(
            dsq, bounds[q], bounds[q + 1], msc, isc, tr, bm, me, de, xt[q], Mp, Ip, Dp, Mc, Ic, Dc
        )
    return out


@njit(**JIT)
def _viterbi_one(
    dsq, s, e, lmsc, lisc, ltr, lbm, lme, lde, lxt, Mp, Ip, Dp, Mc, Ic, Dc
):  # pragma: no cover
    """Log-space Viterbi score of one sequence (all arguments are logs)."""
    M = lmsc.shape[1] - 1
    for k in range(M + 1):
        Mp[k] = NEG_INF
        Ip[k] = NEG_INF
        Dp[k] = NEG_INF
    xN = 0.0
    xB = lxt[N_MOVE]
    xJ = NEG_INF
    xC = NEG_INF
    for i in range(s, e):
        x = dsq[i]
        ms = lmsc[x]
        ins = lisc[x]
        Mc[0] = NEG_INF
        Ic[0] = NEG_INF
        Dc[0] = NEG_INF
        xE = NEG_INF
        for k in range(1, M + 1):
            m = max(
                max(Mp[k - 1] + ltr[MM, k - 1], Ip[k - 1] + ltr[IM, k - 1]),
                max(Dp[k - 1] + ltr[DM, k - 1], xB + lbm[k]),
            )
            m += ms[k]
            Mc[k] = m
            d = max(Mc[k - 1] + ltr[MD, k - 1], Dc[k - 1] + ltr[DD, k - 1])
            Dc[k] = d
            xE = max(xE, max(m + lme[k], d + lde[k]))
            if k < M:
                Ic[k] = max(Mp[k] + ltr[MI, k], Ip[k] + ltr[II, k]) + ins[k]
            else:
                Ic[k] = NEG_INF
        xJ = max(xJ + lxt[J_LOOP], xE + lxt[E_J])
        xC = max(xC + lxt[C_LOOP], xE + lxt[E_C])
        xN = xN + lxt[N_LOOP]
        xB = max(xN + lxt[N_MOVE], xJ + lxt[J_MOVE])
        for k in range(M + 1):
            Mp[k] = Mc[k]
            Ip[k] = Ic[k]
            Dp[k] = Dc[k]
    return xC + lxt[C_MOVE]


@njit(**PJIT)
def viterbi_scores(dsq, bounds, lmsc, lisc, ltr, lbm, lme, lde, lxt):  # pragma: no cover
    """Viterbi log-odds (nats) of each sequence; arguments are the logs of
    those of :func:`forward_scores`.

    Returns
    -------
    float64 array, shape (n_seq,)
    """
    n_seq = len(bounds) - 1
    M = lmsc.shape[1] - 1
    out = np.empty(n_seq)
    for q in prange(n_seq):
        Mp = np.empty(M + 1)
        Ip = np.empty(M + 1)
        Dp = np.empty(M + 1)
        Mc = np.empty(M + 1)
        Ic = np.empty(M + 1)
        Dc = np.empty(M + 1)
        out[q] = _viterbi_one(
            dsq, bounds[q], bounds[q + 1], lmsc, lisc, ltr, lbm, lme, lde, lxt[q],
            Mp, Ip, Dp, Mc, Ic, Dc,
        )  # fmt: skip
    return out


@njit(**JIT)
def _msv_one(dsq, s, e, lmsc, tbm, lxt, Mp, Mc):  # pragma: no cover - jitted
    """Log-space MSV score: best set of ungapped local segments (multihit)."""
    M = lmsc.shape[1] - 1
    for k in range(M + 1):
        Mp[k] = NEG_INF
    xN = 0.0
    xB = lxt[N_MOVE]
    xJ = NEG_INF
    xC = NEG_INF
    for i in range(s, e):
        ms = lmsc[dsq[i]]
        Mc[0] = NEG_INF
        xE = NEG_INF
        for k in range(1, M + 1):
            m = max(Mp[k - 1], xB + tbm) + ms[k]
            Mc[k] = m
            if m > xE:
                xE = m
        xJ = max(xJ + lxt[J_LOOP], xE + lxt[E_J])
        xC = max(xC + lxt[C_LOOP], xE + lxt[E_C])
        xN = xN + lxt[N_LOOP]
        xB = max(xN + lxt[N_MOVE], xJ + lxt[J_MOVE])
        for k in range(M + 1):
            Mp[k] = Mc[k]
    return xC + lxt[C_MOVE]


@njit(**PJIT)
def msv_scores(dsq, bounds, lmsc, tbm, lxt):  # pragma: no cover - jitted
    """MSV log-odds (nats) of each sequence: ungapped segments, uniform entry.

    Parameters
    ----------
    lmsc : float64 array (n_codes, M + 1), match log-odds.
    tbm : float
        Log entry probability, the same for every node.
    lxt : float64 array (n_seq, 8), log special transitions.
    """
    n_seq = len(bounds) - 1
    M = lmsc.shape[1] - 1
    out = np.empty(n_seq)
    for q in prange(n_seq):
        Mp = np.empty(M + 1)
        Mc = np.empty(M + 1)
        out[q] = _msv_one(dsq, bounds[q], bounds[q + 1], lmsc, tbm, lxt[q], Mp, Mc)
    return out
