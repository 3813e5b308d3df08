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

The Forward rows (:func:`forward_row`, :func:`_forward_one`) also take
``msc .. de`` in float32: the rows are then computed in float32 (twice the
SIMD lanes), while the special states, scale factors and the log total stay
in float64, which is how the search runs (:meth:`SearchProfile.arrays
<seqem.profile.search.SearchProfile.arrays>`).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._jit import JIT, PJIT, like

NEG_INF = -np.inf

# special transition columns
N_LOOP, N_MOVE, E_C, E_J, C_LOOP, C_MOVE, J_LOOP, J_MOVE = range(8)
MM, MI, MD, IM, II, DM, DD = range(7)


@njit(inline="always", **JIT)
def transition_rows(tr):  # pragma: no cover
    """The seven rows of a (7, M + 1) transition array, in the order of
    ``MM, MI, MD, IM, II, DM, DD``."""
    return tr[MM], tr[MI], tr[MD], tr[IM], tr[II], tr[DM], tr[DD]


@njit(**JIT)
def delete_products(tr):  # pragma: no cover
    """Products of D->D transitions within blocks of four nodes, for :func:`forward_row`.

    Returns
    -------
    float64 array, shape (M + 1,)
        ``dprod[k]`` = product of ``tr[DD, j - 1]`` for ``j`` from the first
        node of ``k``'s block (1, 5, 9, ...) to ``k``.
    """
    M = tr.shape[1] - 1
    out = np.zeros(M + 1, tr.dtype)
    for k in range(1, M + 1):
        if (k - 1) % 4 == 0:
            out[k] = tr[DD, k - 1]
        else:
            out[k] = out[k - 1] * tr[DD, k - 1]
    return out


@njit(**JIT)
def backward_products(tr):  # pragma: no cover
    """Products of D->D transitions in blocks of four nodes counted down from
    node M - 1, for :func:`delete_chain_down`.

    Returns
    -------
    array of ``tr``'s precision, shape (M + 1,)
        ``bprod[k]`` = product of ``tr[DD, j]`` for ``j`` from ``k`` up to the
        top node of ``k``'s block (M - 1, M - 5, ...).
    """
    M = tr.shape[1] - 1
    out = np.zeros(M + 1, tr.dtype)
    for k in range(M - 1, 0, -1):
        if (M - 1 - k) % 4 == 0:
            out[k] = tr[DD, k]
        else:
            out[k] = tr[DD, k] * out[k + 1]
    return out


@njit(inline="always", **JIT)
def delete_chain_up(Mc, tMD, tDD, dprod, Dc, zero):  # pragma: no cover
    """A row's delete states from its match states: ``Dc[k] = Mc[k-1] tMD[k-1]
    + tDD[k-1] Dc[k-1]`` for nodes 1..M, from nothing before node 1
    (``Mc[0]`` is 0).

    Computed in blocks of four: within a block the chain starting from 0
    does not wait for the previous block, and the block's products of the
    D->D transitions (``dprod``, :func:`delete_products`) bring in D from
    before the block, so the dependency from block to block is one
    multiply-add.
    """
    M = Mc.shape[0] - 1
    D = zero
    k = 1
    while k + 3 <= M:
        l0 = Mc[k - 1] * tMD[k - 1]
        l1 = Mc[k] * tMD[k] + l0 * tDD[k]
        l2 = Mc[k + 1] * tMD[k + 1] + l1 * tDD[k + 1]
        l3 = Mc[k + 2] * tMD[k + 2] + l2 * tDD[k + 2]
        Dc[k] = l0 + dprod[k] * D
        Dc[k + 1] = l1 + dprod[k + 1] * D
        Dc[k + 2] = l2 + dprod[k + 2] * D
        D = l3 + dprod[k + 3] * D
        Dc[k + 3] = D
        k += 4
    while k <= M:
        D = Mc[k - 1] * tMD[k - 1] + D * tDD[k - 1]
        Dc[k] = D
        k += 1


@njit(inline="always", **JIT)
def delete_chain_down(Dc, tDD, bprod):  # pragma: no cover
    """A Backward row's delete chain, in place: ``Dc[k] += tDD[k] Dc[k + 1]``
    for nodes M - 1 down to 1 (``Dc[M]`` as it is), in blocks of four as
    :func:`delete_chain_up` (``bprod``: :func:`backward_products`)."""
    M = Dc.shape[0] - 1
    D = Dc[M]
    k = M - 1
    while k - 3 >= 1:
        l0 = Dc[k]
        l1 = Dc[k - 1] + tDD[k - 1] * l0
        l2 = Dc[k - 2] + tDD[k - 2] * l1
        l3 = Dc[k - 3] + tDD[k - 3] * l2
        Dc[k] = l0 + bprod[k] * D
        Dc[k - 1] = l1 + bprod[k - 1] * D
        Dc[k - 2] = l2 + bprod[k - 2] * D
        D = l3 + bprod[k - 3] * D
        Dc[k - 3] = D
        k -= 4
    while k >= 1:
        D = Dc[k] + tDD[k] * D
        Dc[k] = D
        k -= 1


@njit(cache=True, nogil=True, fastmath={"reassoc"})
def row_sums(Mc, Ic, Dc, me, de, zero):  # pragma: no cover
    """A Forward row's E value ``sum_k Mc[k] me[k] + Dc[k] de[k]`` and total
    ``sum_k Mc[k] + Ic[k] + Dc[k]`` (nodes 1..M).

    The only code compiled with reassociation (``fastmath`` flag ``reassoc``,
    nothing else): the sums run in SIMD lanes, in an order fixed by the
    compiled code, so results do not depend on the number of threads.
    """
    M = Mc.shape[0] - 1
    e = zero
    t = zero
    for k in range(1, M + 1):
        e += Mc[k] * me[k] + Dc[k] * de[k]
        t += Mc[k] + Dc[k] + Ic[k]
    return e, t


@njit(**JIT)
def forward_row(
    ms, ins, tr, bm, me, de, dprod, xB, Mp, Ip, Dp, Mc, Ic, Dc, r=1.0
):  # pragma: no cover
    """One row of the Forward recursion, before scaling.

    Parameters
    ----------
    ms, ins : float64 arrays, shape (M + 1,)
        Match and insert odds ratios of this row's residue.
    tr, bm, me, de
        As in the module docstring.
    dprod : float64 array, shape (M + 1,)
        From :func:`delete_products`.
    xB : float
        Scaled B value of the previous row.
    Mp, Ip, Dp : float64 arrays, shape (M + 1,)
        Match, insert and delete values of the previous row, scaled once
        multiplied by ``r``.
    Mc, Ic, Dc : float64 arrays, shape (M + 1,)
        Output: this row's values (column 0 and ``Ic[M]`` are 0).
    r : float
        Scale factor of the previous row still to be applied (1: already
        scaled); applied as the row is read, which saves a pass over it.

    Returns
    -------
    xE : float
        E value of this row (sum over exits).
    total : float
        Sum of this row's match, insert and delete values.

    The match and insert loops read only the previous row, so they
    vectorize; the delete chain runs on its own; the two sums are
    :func:`row_sums`.  The arrays may be float32 or float64 (all of one
    kind): the row is computed in their precision.
    """
    M = ms.shape[0] - 1
    tMM, tMI, tMD, tIM, tII, tDM, tDD = transition_rows(tr)
    Mc[0] = 0.0
    Ic[0] = 0.0
    Dc[0] = 0.0
    b = like(xB, Mc)  # the row's precision throughout (float32 or float64)
    zero = like(0.0, Mc)
    rp = like(r, Mc)
    for k in range(1, M + 1):
        Mc[k] = ms[k] * (
            (Mp[k - 1] * tMM[k - 1] + Ip[k - 1] * tIM[k - 1] + Dp[k - 1] * tDM[k - 1]) * rp
            + b * bm[k]
        )
    for k in range(1, M):
        Ic[k] = ins[k] * ((Mp[k] * tMI[k] + Ip[k] * tII[k]) * rp)
    Ic[M] = 0.0
    delete_chain_up(Mc, tMD, tDD, dprod, Dc, zero)
    return row_sums(Mc, Ic, Dc, me, de, zero)


@njit(**JIT)
def _forward_one(
    dsq, s, e, msc, isc, tr, bm, me, de, xt, Mp, Ip, Dp, Mc, Ic, Dc, fX, scale
):  # pragma: no cover
    """Scaled Forward of one sequence; returns ln of the total (odds) probability.

    Also keeps each row's scaled N, B, E, C, J values in ``fX`` (>= L + 1,
    5; columns N, B, E, C, J) and its scale factor in ``scale`` (>= L + 1;
    row 0: the start, scale 1).  Only two rows of the core matrices are kept
    (the buffers are swapped); each row is scaled as the next one reads it.
    """
    M = msc.shape[1] - 1
    dprod = delete_products(tr)
    for k in range(M + 1):
        Mp[k] = 0.0
        Ip[k] = 0.0
        Dp[k] = 0.0
    xN = 1.0
    xB = xt[N_MOVE]
    xJ = 0.0
    xC = 0.0
    logscale = 0.0
    fX[0, 0] = xN
    fX[0, 1] = xB
    fX[0, 2] = 0.0
    fX[0, 3] = 0.0
    fX[0, 4] = 0.0
    scale[0] = 1.0
    inv = 1.0
    for i in range(s, e):
        x = dsq[i]
        xE, total = forward_row(
            msc[x], isc[x], tr, bm, me, de, dprod, xB, Mp, Ip, Dp, Mc, Ic, Dc, inv
        )
        xJ = xJ * xt[J_LOOP] + xE * xt[E_J]
        xC = xC * xt[C_LOOP] + xE * xt[E_C]
        xN = xN * xt[N_LOOP]
        xB = xN * xt[N_MOVE] + xJ * xt[J_MOVE]
        total += xN + xJ + xC
        if not total > 0.0:
            return NEG_INF
        inv = 1.0 / total
        Mp, Mc = Mc, Mp
        Ip, Ic = Ic, Ip
        Dp, Dc = Dc, Dp
        xN *= inv
        xJ *= inv
        xC *= inv
        xB *= inv
        r = i - s + 1
        fX[r, 0] = xN
        fX[r, 1] = xB
        fX[r, 2] = xE * inv
        fX[r, 3] = xC
        fX[r, 4] = xJ
        scale[r] = total
        logscale += np.log(total)
    final = xC * xt[C_MOVE]
    if not final > 0.0:
        return NEG_INF
    return logscale + np.log(final)


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
    those of :func:`forward_row` (``lxt``: one row of special transitions per
    sequence).

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
def _fixed_specials(lxt, entry, scale, floor):  # pragma: no cover - jitted
    """Fixed-point special transitions of one target, net of one flank loop.

    Returns ``(loop, lp, nm, jm, ej, ec)``: the flank loop (nats, float) and,
    in units of ``1 / scale`` nats, the loop, N -> B and J -> B (each plus
    ``entry``, a log entry probability the kernel adds to every B move),
    E -> J and E -> C; impossible moves are floored at ``floor`` nats.
    """
    loop = lxt[N_LOOP]
    lp = np.int32(np.round(loop * scale))
    nm = np.int32(np.round(max(lxt[N_MOVE] + entry, floor) * scale))
    jm = np.int32(np.round(max(lxt[J_MOVE] + entry, floor) * scale))
    ej = np.int32(np.round(max(lxt[E_J], floor) * scale))
    ec = np.int32(np.round(max(lxt[E_C], floor) * scale))
    return loop, lp, nm, jm, ej, ec


@njit(**JIT)
def _fixed_flanks(xE, xJ, xC, nm, jm, ej, ec):  # pragma: no cover - jitted
    """One row's J and C states and the next row's B (fixed point): ``(xJ, xC, b)``."""
    t = xE + ej
    xJ = xJ if xJ > t else t
    t = xE + ec
    xC = xC if xC > t else t
    t = xJ + jm
    return np.int32(xJ), np.int32(xC), np.int32(nm if nm > t else t)


@njit(**JIT)
def _fixed_total(xC, length, loop, lxt, scale):  # pragma: no cover - jitted
    """The score (nats) from the last row's C state (in units of ``1 / scale``
    nats): the loops come back exactly."""
    if xC <= FIXED_NEG // 2:
        return NEG_INF  # no hit at all (an empty sequence)
    return xC / scale + length * loop + lxt[C_MOVE]


@njit(**JIT)
def _viterbi_filter_one(
    dsq, s, e, ims, iis, itr, ibm, dds, lxt, P, Mp, Ip, Mc, Ic, Dc
):  # pragma: no cover - jitted
    """Fixed-point Viterbi score (nats) of one sequence, local multihit or unihit.

    Tables as :func:`viterbi_filter_scores`.  Scores are kept net of one
    flank loop per residue (as in :func:`_msv_one`).  Each row is a few
    short loops that LLVM vectorises (one output array each): the match
    row from ``P``, the best entry into each match state from the previous
    row's match, insert and delete states; the insert row; ``P`` for the
    next row.  The delete chain ``D_k = max_{j<k} (M_j + t_MD(j) + t_DD(j+1..k-1))``
    is a running maximum of ``M_j + t_MD(j) - dds[j + 1]`` plus ``dds[k]``
    (``dds`` the cumulative delete-to-delete scores), taken four nodes at a
    time so that the serial path is one step per four nodes (node by node it
    was two thirds of the time as the code loads from the cache).  Every
    local exit is free, so the best path never ends in a delete.
    """
    W = ims.shape[1]
    for k in range(W):
        P[k] = FIXED_NEG
        Mp[k] = FIXED_NEG
        Ip[k] = FIXED_NEG
        Mc[k] = FIXED_NEG
        Ic[k] = FIXED_NEG
        Dc[k] = FIXED_NEG
    loop, lp, nm, jm, ej, ec = _fixed_specials(lxt, 0.0, FIXED_SCALE, FIXED_FLOOR)
    tmm = itr[MM]
    tmi = itr[MI]
    tmd = itr[MD]
    tim = itr[IM]
    tii = itr[II]
    tdm = itr[DM]
    xJ = np.int32(FIXED_NEG)
    xC = np.int32(FIXED_NEG)
    b = nm
    floor = np.int32(FIXED_NEG)
    for i in range(s, e):
        x = dsq[i]
        ms = ims[x]
        ins = iis[x]
        xE = np.int32(FIXED_NEG)
        for k in range(1, W):
            t = np.int32(b + ibm[k])
            m = P[k]
            m = np.int32((m if m > t else t) + ms[k] - lp)
            m = m if m > floor else floor
            Mc[k] = m
            xE = m if m > xE else xE
        for k in range(1, W):
            v = np.int32(Mp[k] + tmi[k])
            t = np.int32(Ip[k] + tii[k])
            v = np.int32((v if v > t else t) + ins[k] - lp)
            Ic[k] = v if v > floor else floor
        best = np.int32(FIXED_NEG)
        k = 1
        while k < W:
            # four nodes at a time: their running maximum in registers, so the
            # serial carry is one step per four nodes (W - 1 is a multiple of 4)
            a0 = np.int32(Mc[k - 1] + tmd[k - 1] - dds[k])
            a1 = np.int32(Mc[k] + tmd[k] - dds[k + 1])
            a2 = np.int32(Mc[k + 1] + tmd[k + 1] - dds[k + 2])
            a3 = np.int32(Mc[k + 2] + tmd[k + 2] - dds[k + 3])
            a1 = max(a0, a1)
            a3 = max(a2, a3)
            a2 = max(a1, a2)
            a3 = max(a1, a3)
            a0 = max(best, a0)
            a1 = max(best, a1)
            a2 = max(best, a2)
            a3 = max(best, a3)
            best = a3
            d = np.int32(a0 + dds[k])
            Dc[k] = d if d > floor else floor
            d = np.int32(a1 + dds[k + 1])
            Dc[k + 1] = d if d > floor else floor
            d = np.int32(a2 + dds[k + 2])
            Dc[k + 2] = d if d > floor else floor
            d = np.int32(a3 + dds[k + 3])
            Dc[k + 3] = d if d > floor else floor
            k += 4
        for k in range(1, W):
            m = np.int32(Mc[k - 1] + tmm[k - 1])
            t = np.int32(Ic[k - 1] + tim[k - 1])
            m = m if m > t else t
            t = np.int32(Dc[k - 1] + tdm[k - 1])
            P[k] = m if m > t else t
        xJ, xC, b = _fixed_flanks(xE, xJ, xC, nm, jm, ej, ec)
        Mp, Mc = Mc, Mp
        Ip, Ic = Ic, Ip
    return _fixed_total(xC, e - s, loop, lxt, FIXED_SCALE)


@njit(**PJIT)
def viterbi_filter_scores(dsq, bounds, ims, iis, itr, ibm, dds, lxt):  # pragma: no cover
    """Fixed-point Viterbi log-odds (nats) of each sequence (local mode).

    Parameters
    ----------
    ims, iis : int32 (n_codes, 1 + W), match and insert log-odds in units of
        ``1 / FIXED_SCALE`` nats, nodes 1..M then padding (``FIXED_PAD``).
    itr : int32 (7, 1 + W), log transitions in the same units (impossible
        ones floored).
    ibm : int32 (1 + W,), log local entry probabilities.
    dds : int32 (1 + W,), ``dds[k]`` the sum of the delete-to-delete scores
        of nodes 1..k-1 (0 for k <= 1).
    lxt : float64 (n_seq, 8), log special transitions.
    """
    n_seq = len(bounds) - 1
    W = ims.shape[1]
    out = np.empty(n_seq)
    stride = (W + 15) // 16 * 16  # rows start on 64-byte boundaries
    for q in prange(n_seq):
        buffers = np.empty((6, stride), np.int32)
        out[q] = _viterbi_filter_one(
            dsq, bounds[q], bounds[q + 1], ims, iis, itr, ibm, dds, lxt[q],
            buffers[0, :W], buffers[1, :W], buffers[2, :W], buffers[3, :W], buffers[4, :W],
            buffers[5, :W],
        )  # fmt: skip
    return out


#: Units per nat of the Viterbi filter's fixed-point scores.  Integer scores
#: let the row maximum vectorise (a floating-point maximum reduction does not
#: without fast-math).
FIXED_SCALE = 4096.0
#: "Minus infinity" of the fixed-point scores (far from overflow: every
#: cell restarts from the finite entry score of its row).
FIXED_NEG = -(1 << 30)
#: Lowest emission score (nats) of the fixed-point table.
FIXED_FLOOR = -256.0
#: Score of the padding columns of the fixed-point table (never the best).
FIXED_PAD = -(1 << 28)
#: The table's node columns are padded to a multiple of this (no scalar
#: remainder after the vectorised loop).
FIXED_WIDTH = 32

#: Units per nat of the MSV filter's 16-bit scores (twice as many SIMD lanes
#: as 32-bit ones).  A segment scoring 256 nats (369 bits) or more saturates,
#: and the sequence's MSV score is then reported as +inf (it passes any
#: filter threshold).
MSV_SCALE = 128.0
#: The 16-bit range; additions saturate (``vpaddsw``).
MSV_MIN = -32768
MSV_MAX = 32767
#: Lowest emission score (nats) of the 16-bit table: far enough from the
#: range's floor that an entry score plus an emission never saturates there.
MSV_FLOOR = -40.0
#: The table's node columns are padded to a multiple of this (32 lanes of
#: 16 bits fill an AVX-512 register); padding columns hold ``MSV_MIN``.
MSV_WIDTH = 32


@njit(**JIT)
def _msv_one(dsq, s, e, ims, tbm, lxt, A, B, single):  # pragma: no cover - jitted
    """MSV score of one sequence (nats): best set of ungapped local segments.

    ``ims`` int16 (n_codes, 1 + W), match log-odds in units of ``1 /
    MSV_SCALE`` nats, nodes 1..M then padding to W.  N, C and J loop with the
    same probability ``l``, so a segment's score is net of one loop per
    residue: the flanks cost nothing per residue, each matched residue costs
    its emission less ``l``, and the loops come back exactly at the end.  The
    row values are kept plus ``round(l r)`` at row ``r`` (``u = v + round(l
    r)``), so the loop leaves the inner loop: ``u[k] = max(u'[k-1], b +
    round(l (r-1))) + e_k(x)``, a saturating 16-bit add and two maxima per
    cell, and the row's best ``v`` is its best ``u`` less ``round(l r)``.
    Rounding: at most ``0.5 / MSV_SCALE`` nats per matched residue, and
    ``2 / MSV_SCALE`` per segment for its entry, exit and loops.  A
    saturated row (a segment of 256 nats or more) gives +inf.

    With ``single``, the best single segment (SSV: every row begins from N,
    ``b`` constant), or NaN where the J state could matter.  While no J value
    plus the J -> B move exceeds the N -> B move, MSV's rows begin from N
    too, so MSV's score is the single segment's exactly; J can only exceed
    it after a segment scoring ``nm - ej - jm`` or more.  Without the
    row-to-row dependence of ``b`` on the last row's maximum, rows overlap
    in the processor.
    """
    W = ims.shape[1]
    for k in range(W):
        A[k] = MSV_MIN
        B[k] = MSV_MIN
    # the loop enters through the row shift below, unrounded, not as a per-cell unit
    loop, _, nm, jm, ej, ec = _fixed_specials(lxt, tbm, MSV_SCALE, MSV_FLOOR)
    lpf = loop * MSV_SCALE
    xJ = np.int32(FIXED_NEG)
    xC = np.int32(FIXED_NEG)
    best = np.int32(FIXED_NEG)
    b = nm
    shift = np.int32(0)  # round(l (r - 1)) for row r
    prev, cur = A, B
    for i in range(s, e):
        ms = ims[dsq[i]]
        bu = np.int32(b + shift)
        if bu >= MSV_MAX:
            return np.inf
        b16 = np.int16(bu)
        xE = np.int16(MSV_MIN)
        for k in range(1, W):
            v = prev[k - 1]
            v = v if v > b16 else b16
            w = np.int32(v) + np.int32(ms[k])  # LLVM makes this a saturating add
            w = w if w < MSV_MAX else MSV_MAX
            w = w if w > MSV_MIN else MSV_MIN
            v = np.int16(w)
            cur[k] = v
            xE = v if v > xE else xE
        if xE >= MSV_MAX:
            return np.inf
        shift = np.int32(np.rint(lpf * (i - s + 1)))
        xv = np.int32(np.int32(xE) - shift)
        if single:
            best = xv if xv > best else best
        else:
            xJ, xC, b = _fixed_flanks(xv, xJ, xC, nm, jm, ej, ec)
        prev, cur = cur, prev
    if single:
        if best + ej + jm > nm:
            return np.nan
        xC = np.int32(best + ec)
    return _fixed_total(xC, e - s, loop, lxt, MSV_SCALE)


@njit(**PJIT)
def msv_scores(dsq, bounds, ims, tbm, lxt, single=False):  # pragma: no cover - jitted
    """MSV log-odds (nats) of each sequence: ungapped segments, uniform entry.

    Parameters
    ----------
    ims : int16 array (n_codes, 1 + W), match log-odds in units of
        ``1 / MSV_SCALE`` nats, padded (:func:`seqem.profile.search.msv_table`).
    tbm : float
        Log entry probability, the same for every node.
    lxt : float64 array (n_seq, 8), log special transitions.
    single : bool
        The single-segment shortcut of :func:`_msv_one`: NaN where the full
        recurrence is needed.

    Returns
    -------
    float64 array (n_seq,)
        Scores in nats; +inf where a segment saturated the 16-bit range.
    """
    n_seq = len(bounds) - 1
    W = ims.shape[1]
    out = np.empty(n_seq)
    for q in prange(n_seq):
        A = np.empty(W, np.int16)
        B = np.empty(W, np.int16)
        out[q] = _msv_one(dsq, bounds[q], bounds[q + 1], ims, tbm, lxt[q], A, B, single)
    return out


@njit(**PJIT)
def bias_scores(dsq, bounds, odds, stay):  # pragma: no cover - jitted
    """Log-odds (nats) of each sequence under the two-state composition model.

    State 0 emits background residues (odds 1) and stays with probability
    ``L / (L + 1)``; state 1 emits the model's composition (``odds[x]``
    against the background) and stays with probability ``stay``; the first
    residue comes from state 0 with probability 0.999.  The score is the
    Forward log-odds of the residues; the caller adds the null model's
    length term.
    """
    n_seq = len(bounds) - 1
    out = np.empty(n_seq)
    for q in prange(n_seq):
        s = bounds[q]
        e = bounds[q + 1]
        if e <= s:
            out[q] = 0.0
            continue
        L = e - s
        t00 = L / (L + 1.0)
        t01 = 1.0 - t00
        t11 = stay
        t10 = 1.0 - stay
        f0 = 0.999
        f1 = 0.001 * odds[dsq[s]]
        total = 0.0
        for i in range(s + 1, e):
            n0 = f0 * t00 + f1 * t10
            n1 = (f0 * t01 + f1 * t11) * odds[dsq[i]]
            z = n0 + n1
            total += np.log(z)
            f0 = n0 / z
            f1 = n1 / z
        out[q] = total + np.log(f0 + f1)
    return out


# --------------------------------------------------------------------------
# the core model (glocal, no flanks): likelihood and expected counts for
# Baum-Welch training


@njit(**JIT)
def _core_forward(dsq, s, e, emM, emI, tr, dprod, fM, fI, fD, scale):  # pragma: no cover
    """Scaled forward on the core model; fills rows 0..L of fM, fI, fD.

    Row 0 is the start (only delete states reachable, unscaled); row i >= 1
    is scaled by ``scale[i]``.  Returns the scaled end probability
    ``E_hat`` (the likelihood is ``E_hat * prod(scale[1:L+1])``), or 0.

    Match and insert states read only the row above, so their loops (one
    output array each, counting up from 0) vectorize; the delete chain runs
    along the row on its own (:func:`delete_chain_up`, ``dprod`` from
    :func:`delete_products`).
    """
    M = emM.shape[1] - 1
    L = e - s
    tMM, tMI, tMD, tIM, tII, tDM, tDD = transition_rows(tr)
    for k in range(M + 1):
        fM[0, k] = 0.0
        fI[0, k] = 0.0
        fD[0, k] = 0.0
    fD[0, 1] = tMD[0]
    for k in range(2, M + 1):
        fD[0, k] = fD[0, k - 1] * tDD[k - 1]
    scale[0] = 1.0
    for i in range(1, L + 1):
        x = dsq[s + i - 1]
        em = emM[x]
        ei = emI[x]
        pM = fM[i - 1]
        pI = fI[i - 1]
        pD = fD[i - 1]
        cM = fM[i]
        cI = fI[i]
        cD = fD[i]
        b = 1.0 if i == 1 else 0.0
        cM[0] = 0.0
        cD[0] = 0.0
        cI[0] = ei[0] * (b * tMI[0] + pI[0] * tII[0])
        cM[1] = em[1] * (b * tMM[0] + pI[0] * tIM[0])
        for j in range(M - 1):  # node j + 2 from node j + 1 of the row above
            cM[j + 2] = em[j + 2] * (pM[j + 1] * tMM[j + 1] + pI[j + 1] * tIM[j + 1]
                                     + pD[j + 1] * tDM[j + 1])  # fmt: skip
        for j in range(M):
            cI[j + 1] = ei[j + 1] * (pM[j + 1] * tMI[j + 1] + pI[j + 1] * tII[j + 1])
        delete_chain_up(cM, tMD, tDD, dprod, cD, 0.0)
        total = cI[0] + _row_total(cM, cI, cD)
        if not total > 0.0:
            return 0.0
        inv = 1.0 / total
        for k in range(M + 1):
            cM[k] *= inv
            cI[k] *= inv
            cD[k] *= inv
        scale[i] = total
    return fM[L, M] * tMM[M] + fI[L, M] * tIM[M] + fD[L, M] * tDM[M]


@njit(cache=True, nogil=True, fastmath={"reassoc"})
def _row_total(cM, cI, cD):  # pragma: no cover
    """``sum_k cM[k] + cI[k] + cD[k]`` over nodes 1..M, in SIMD lanes
    (reassociation only, as :func:`row_sums`)."""
    total = 0.0
    for j in range(cM.shape[0] - 1):
        total += cM[j + 1] + cI[j + 1] + cD[j + 1]
    return total


@njit(**JIT)
def _core_backward_counts(
    dsq,
    s,
    e,
    emM,
    emI,
    members,
    tr,
    fM,
    fI,
    fD,
    scale,
    end_hat,
    bprod,
    bM,
    bI,
    bD,
    nM,
    nI,
    nD,
    tm,
    ti,
    cMt,
    cIt,
    cT,
):  # pragma: no cover
    """Scaled backward pass accumulating expected counts into cMt, cIt (K, M+1:
    one row per residue, so that a row's counts are contiguous) and cT
    (7, M+1).  Only two rows of backward values are kept (``n*`` and ``b*``,
    swapped row by row); ``tm, ti`` (M + 1,) are work arrays; ``bprod`` is
    :func:`backward_products`.

    Each row is a few loops over the nodes with one output array each
    (they vectorize) and the delete chain, which runs down the nodes on its
    own.
    """
    M = emM.shape[1] - 1
    L = e - s
    K = members.shape[1]
    tMM, tMI, tMD, tIM, tII, tDM, tDD = transition_rows(tr)
    inv_end = 1.0 / end_hat
    # row L: backward values are the (scaled) probabilities of ending now
    for k in range(M + 1):
        nM[k] = 0.0
        nI[k] = 0.0
        nD[k] = 0.0
    nD[M] = tDM[M] * inv_end
    for k in range(M - 1, 0, -1):
        nD[k] = tDD[k] * nD[k + 1]
    nM[M] = tMM[M] * inv_end
    nI[M] = tIM[M] * inv_end
    for k in range(M - 1, 0, -1):
        nM[k] = tMD[k] * nD[k + 1]
    # end transitions
    cT[MM, M] += fM[L, M] * tMM[M] * inv_end
    cT[IM, M] += fI[L, M] * tIM[M] * inv_end
    cT[DM, M] += fD[L, M] * tDM[M] * inv_end
    cMM, cMI, cMD, cIM, cII, cDM, cDD = transition_rows(cT)
    for i in range(L, 0, -1):
        # posteriors and emissions at row i (n* hold the backward row i)
        x = dsq[s + i - 1]
        rM = fM[i]
        rI = fI[i]
        rD = fD[i]
        if x < K:
            # a canonical residue: its posterior goes to its own count
            oM = cMt[x]
            oI = cIt[x]
            for j in range(M):
                oM[j + 1] += rM[j + 1] * nM[j + 1]
            for k in range(M + 1):
                oI[k] += rI[k] * nI[k]
        else:
            # a degenerate code: shared among its residues by their probabilities
            for k in range(M + 1):
                gm = rM[k] * nM[k]
                gi = rI[k] * nI[k]
                if k >= 1 and gm != 0.0:
                    tot = 0.0
                    for a in range(K):
                        tot += members[x, a] * emM[a, k]
                    for a in range(K):
                        if members[x, a] != 0.0:
                            cMt[a, k] += gm * members[x, a] * emM[a, k] / tot
                if gi != 0.0:
                    tot = 0.0
                    for a in range(K):
                        tot += members[x, a] * emI[a, k]
                    for a in range(K):
                        if members[x, a] != 0.0:
                            cIt[a, k] += gi * members[x, a] * emI[a, k] / tot
        # same-row delete transitions at row i
        for j in range(M - 1):
            cMD[j + 1] += rM[j + 1] * tMD[j + 1] * nD[j + 2]
        for j in range(M - 1):
            cDD[j + 1] += rD[j + 1] * tDD[j + 1] * nD[j + 2]
        # backward row i-1 from row i, and the transitions between them:
        # tm[k], ti[k] are the moves into row i's match (node k + 1) and
        # insert (node k) states, per unit of row i-1's state at node k
        inv = 1.0 / scale[i]
        b = 1.0 if i == 1 else 0.0
        em = emM[x]
        ei = emI[x]
        for j in range(M):
            tm[j] = em[j + 1] * nM[j + 1] * inv
        tm[M] = 0.0
        for k in range(M + 1):
            ti[k] = ei[k] * nI[k] * inv
        bD[M] = 0.0
        for j in range(M - 1):
            bD[j + 1] = tDM[j + 1] * tm[j + 1]
        delete_chain_down(bD, tDD, bprod)
        bD[0] = 0.0
        bM[0] = 0.0
        for j in range(M - 1):
            bM[j + 1] = (tMM[j + 1] * tm[j + 1] + tMI[j + 1] * ti[j + 1]) + tMD[j + 1] * bD[j + 2]
        bM[M] = tMM[M] * tm[M] + tMI[M] * ti[M]
        for k in range(M + 1):
            bI[k] = tIM[k] * tm[k] + tII[k] * ti[k]
        pM = fM[i - 1]
        pI = fI[i - 1]
        pD = fD[i - 1]
        for j in range(M - 1):
            cMM[j + 1] += pM[j + 1] * tMM[j + 1] * tm[j + 1]
        for j in range(M):
            cMI[j + 1] += pM[j + 1] * tMI[j + 1] * ti[j + 1]
        for j in range(M - 1):
            cDM[j + 1] += pD[j + 1] * tDM[j + 1] * tm[j + 1]
        for k in range(M):
            cIM[k] += pI[k] * tIM[k] * tm[k]
        for k in range(M + 1):
            cII[k] += pI[k] * tII[k] * ti[k]
        # the begin state B at row 0
        cMM[0] += b * tMM[0] * tm[0]
        cMI[0] += b * tMI[0] * ti[0]
        nM, bM = bM, nM
        nI, bI = bI, nI
        nD, bD = bD, nD
    # row 0: B -> D_1 and the delete chain before any residue
    cMD[0] += tMD[0] * nD[1]
    for k in range(1, M):
        cDD[k] += fD[0, k] * tDD[k] * nD[k + 1]


@njit(**JIT)
def _count_range(
    dsq, bounds, lo, hi, emM, emI, members, tr, weights, loglik, cM, cI, cT
):  # pragma: no cover
    """Log-likelihoods of sequences ``lo .. hi - 1`` and their weighted expected counts.

    Adds each sequence's counts times ``weights[q]`` to ``cM``, ``cI``, ``cT``
    (a weight of 0 skips the backward pass); the buffers are allocated once
    for the longest sequence of the range.
    """
    M = emM.shape[1] - 1
    K = members.shape[1]
    maxlen = 1
    for q in range(lo, hi):
        maxlen = max(maxlen, bounds[q + 1] - bounds[q])
    fM = np.empty((maxlen + 1, M + 1))
    fI = np.empty((maxlen + 1, M + 1))
    fD = np.empty((maxlen + 1, M + 1))
    scale = np.empty(maxlen + 1)
    bM = np.empty(M + 1)
    bI = np.empty(M + 1)
    bD = np.empty(M + 1)
    nM = np.empty(M + 1)
    nI = np.empty(M + 1)
    nD = np.empty(M + 1)
    tm = np.empty(M + 1)
    ti = np.empty(M + 1)
    dprod = delete_products(tr)
    bprod = backward_products(tr)
    # emission counts one residue a row while summing (contiguous rows)
    sMt = np.zeros((K, M + 1))
    sIt = np.zeros((K, M + 1))
    wM = np.empty((K, M + 1))
    wI = np.empty((K, M + 1))
    wT = np.empty((7, M + 1))
    for q in range(lo, hi):
        s = bounds[q]
        e = bounds[q + 1]
        end_hat = _core_forward(dsq, s, e, emM, emI, tr, dprod, fM, fI, fD, scale)
        if not end_hat > 0.0:
            loglik[q] = NEG_INF
            continue
        ll = np.log(end_hat)
        for i in range(1, e - s + 1):
            ll += np.log(scale[i])
        loglik[q] = ll
        if weights[q] == 1.0:
            _core_backward_counts(
                dsq, s, e, emM, emI, members, tr, fM, fI, fD, scale, end_hat, bprod,
                bM, bI, bD, nM, nI, nD, tm, ti, sMt, sIt, cT,
            )  # fmt: skip
        elif weights[q] != 0.0:
            wM[:] = 0.0
            wI[:] = 0.0
            wT[:] = 0.0
            _core_backward_counts(
                dsq, s, e, emM, emI, members, tr, fM, fI, fD, scale, end_hat, bprod,
                bM, bI, bD, nM, nI, nD, tm, ti, wM, wI, wT,
            )  # fmt: skip
            sMt += weights[q] * wM
            sIt += weights[q] * wI
            cT += weights[q] * wT
    cM += sMt.T
    cI += sIt.T


@njit(**PJIT)
def core_expected_counts(dsq, bounds, chunks, emM, emI, members, tr, weights):  # pragma: no cover
    """Log-likelihood and expected counts of the glocal core model.

    Parameters
    ----------
    dsq : uint8 array (T,)
    bounds : int64 array (n_seq + 1,)
    chunks : int64 array (n_chunks + 1,), sequence indices (fixed, not by thread count)
    emM, emI : float64 arrays (n_codes, M + 1)
        Emission probabilities of every code (a degenerate code: the sum of
        its residues' probabilities); column 0 of ``emM`` unused.
    members : float64 array (n_codes, K), 0/1 matrix of each code's residues.
    tr : float64 array (7, M + 1), core transitions (node 0: B and I0).
    weights : float64 array (n_seq,)
        Sequence weights: each sequence's expected counts are multiplied by
        its weight (the log-likelihoods are returned unweighted).

    Returns
    -------
    loglik : float64 array (n_seq,)
    match_counts, insert_counts : float64 arrays (M + 1, K)
    trans_counts : float64 array (7, M + 1)
    """
    M = emM.shape[1] - 1
    K = members.shape[1]
    n_chunks = len(chunks) - 1
    loglik = np.empty(len(bounds) - 1)
    accM = np.zeros((n_chunks, M + 1, K))
    accI = np.zeros((n_chunks, M + 1, K))
    accT = np.zeros((n_chunks, 7, M + 1))
    for c in prange(n_chunks):
        _count_range(
            dsq, bounds, chunks[c], chunks[c + 1], emM, emI, members, tr, weights,
            loglik, accM[c], accI[c], accT[c],
        )  # fmt: skip
    cM = np.zeros((M + 1, K))
    cI = np.zeros((M + 1, K))
    cT = np.zeros((7, M + 1))
    for c in range(n_chunks):
        cM += accM[c]
        cI += accI[c]
        cT += accT[c]
    return loglik, cM, cI, cT


@njit(**PJIT)
def core_group_counts(dsq, bounds, groups, emM, emI, members, tr):  # pragma: no cover
    """Expected counts of groups of sequences, each group under its own model.

    The cross-fitted refinement of :mod:`seqem.profile.train` aligns every
    group of training sequences to a model estimated without that group; this
    kernel runs all groups in one call, in parallel over groups.

    Parameters
    ----------
    dsq : uint8 array (T,)
    bounds : int64 array (n_seq + 1,)
    groups : int64 array (G + 1,)
        Group ``g`` is sequences ``groups[g]`` to ``groups[g + 1] - 1``.
    emM, emI : float64 arrays (G, n_codes, M + 1)
        Each group's emission probabilities (as :func:`core_expected_counts`).
    members : float64 array (n_codes, K)
    tr : float64 array (G, 7, M + 1)

    Returns
    -------
    loglik : float64 array (n_seq,)
        Each sequence's log-likelihood under its group's model.
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
    ones = np.ones(len(bounds) - 1)
    for g in prange(n_groups):
        _count_range(
            dsq, bounds, groups[g], groups[g + 1], emM[g], emI[g], members, tr[g], ones,
            loglik, cM[g], cI[g], cT[g],
        )  # fmt: skip
    return loglik, cM, cI, cT


@njit(**JIT)
def max_emitted_length(t, tail, cap):  # pragma: no cover - jitted
    """The smallest ``L`` such that the core model (transitions ``t``, shape
    (M + 1, 7) in the model's layout, entered at node 1) emits a sequence of
    ``L`` residues or more with probability below ``tail``; ``cap`` when none
    up to ``cap`` is.  The probability of each state after each emitted
    residue is carried forward one length at a time (deletes within a length)."""
    M = t.shape[0] - 1
    pm = np.zeros(M + 1)  # M_k, I_k, D_k after the residues so far
    pi = np.zeros(M + 1)
    pd = np.zeros(M + 1)
    nm = np.zeros(M + 1)
    ni = np.zeros(M + 1)
    nd = np.zeros(M + 1)
    pd[1] = t[0, MD]  # length 0: the all-delete start
    for k in range(2, M + 1):
        pd[k] = pd[k - 1] * t[k - 1, DD]
    begin = 1.0
    for length in range(1, cap + 1):
        nm[1] = begin * t[0, MM] + pi[0] * t[0, IM]
        ni[0] = begin * t[0, MI] + pi[0] * t[0, II]
        for k in range(2, M + 1):
            nm[k] = pm[k - 1] * t[k - 1, MM] + pi[k - 1] * t[k - 1, IM] + pd[k - 1] * t[k - 1, DM]
        for k in range(1, M + 1):
            ni[k] = pm[k] * t[k, MI] + pi[k] * t[k, II]
        nd[1] = 0.0
        for k in range(2, M + 1):
            nd[k] = nm[k - 1] * t[k - 1, MD] + nd[k - 1] * t[k - 1, DD]
        begin = 0.0
        # what has emitted `length` residues and not ended: longer sequences to come
        going = ni[M]
        for k in range(M):
            going += nm[k] + ni[k] + nd[k]
        if going < tail:
            return length + 1
        pm, nm = nm, pm
        pi, ni = ni, pi
        pd, nd = nd, pd
    return cap
