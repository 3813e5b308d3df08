"""Numba kernels for posterior decoding and alignment of one sequence.

These kernels work on the search topology of :mod:`seqem.profile._kernels`
(same arguments, same conventions: odds ratios, probabilities scaled row by
row) but keep whole matrices, ``(L + 1) x (M + 1)`` per state type, because
posterior decoding and traceback need every row.  They are meant for one
sequence (or one envelope of it) at a time, after a search has found it.

Forward (stored, scaled values ``f^``)::

    row 0:  N = 1, B = t(N->B), all else 0, scale[0] = 1
    row i:  M[i,k] = e_M(k, x_i) (M[i-1,k-1] t_MM + I[i-1,k-1] t_IM + D[i-1,k-1] t_DM + B[i-1] bm_k)
            D[i,k] = M[i,k-1] t_MD + D[i,k-1] t_DD
            I[i,k] = e_I(k, x_i) (M[i-1,k] t_MI + I[i-1,k] t_II)            (k < M)
            E[i]   = sum_k M[i,k] me_k + D[i,k] de_k
            J[i]   = J[i-1] t_JJ + E[i] t_EJ;   C[i] = C[i-1] t_CC + E[i] t_EC
            N[i]   = N[i-1] t_NN;               B[i] = N[i] t_NB + J[i] t_JB
            then the row (E and B included) is divided by scale[i] =
            sum_k (M + I + D) + N + J + C.

This is the recurrence of ``_kernels._forward_one`` (which scales each row
as the next one reads it, so its numbers agree to round-off); the total
(odds) probability is ``prod(scale) * C[L] t_C->end``.  Backward ``b^`` is
its mirror with the same scale factors (``b^[i] = b[i] / prod_{r > i}
scale[r]``), so a posterior is ``f^ b^ / P^`` with ``P^ = C[L] t_C->end``
(and an extra ``1 / scale[i]`` for the N, C, J loop emissions, which join
row ``i - 1`` to row ``i``).

Columns of the per-row special arrays: forward/backward ``X`` arrays use
``XN, XB, XE, XC, XJ``; posterior arrays use ``PN, PC, PJ`` (probability
that residue ``i`` is emitted by N, C, J), ``PB`` (expected number of B
visits at row ``i``, i.e. domains whose first residue is ``i + 1``) and
``PE`` (expected number of E visits at row ``i``: domains whose last
residue is ``i``).

Traces are three int32 arrays (state code, node, residue), in path order;
the residue is 1-based for emitting states and 0 for silent states and for
N/C/J states that did not emit (the first N, a C or J entered from E).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .._jit import JIT, like
from ._kernels import (
    C_LOOP,
    C_MOVE,
    DD,
    DM,
    E_C,
    E_J,
    II,
    IM,
    J_LOOP,
    J_MOVE,
    MD,
    MI,
    MM,
    N_LOOP,
    N_MOVE,
    backward_products,
    delete_chain_down,
    delete_products,
    forward_row,
    transition_rows,
)

NEG_INF = -np.inf

# columns of forward/backward special arrays
XN, XB, XE, XC, XJ = range(5)
# columns of posterior special arrays
PN, PC, PJ, PB, PE = range(5)
# trace state codes
T_S, T_N, T_B, T_M, T_I, T_D, T_E, T_C, T_J, T_T = range(10)


@njit(**JIT)
def forward_full(dsq, msc, isc, tr, bm, me, de, xt, fM, fI, fD, fX, scale):  # pragma: no cover
    """Scaled Forward keeping every row.

    Parameters
    ----------
    dsq : uint8 array, shape (L,)
        Residue codes of one sequence.
    msc, isc : float64 arrays, shape (n_codes, M + 1)
        Match and insert odds ratios.
    tr : float64 array, shape (7, M + 1)
    bm, me, de : float64 arrays, shape (M + 1,)
    xt : float64 array, shape (8,)
        Special transitions of this sequence.
    fM, fI, fD : float64 arrays, shape (>= L + 1, M + 1)
        Output: scaled Forward values of match, insert and delete states.
    fX : float64 array, shape (>= L + 1, 5)
        Output: scaled N, B, E, C, J values (columns ``XN .. XJ``).
    scale : float64 array, shape (>= L + 1,)
        Output: row scale factors (``scale[0] = 1``).

    Returns
    -------
    float
        ln of the total odds probability (``-inf`` if the sequence is
        impossible).  The search kernel (``_kernels._forward_one``) gives
        the same number up to round-off in double precision.
    """
    M = msc.shape[1] - 1
    L = dsq.shape[0]
    dprod = delete_products(tr)
    for k in range(M + 1):
        fM[0, k] = 0.0
        fI[0, k] = 0.0
        fD[0, k] = 0.0
    xN = 1.0
    xB = xt[N_MOVE]
    xJ = 0.0
    xC = 0.0
    fX[0, XN] = xN
    fX[0, XB] = xB
    fX[0, XE] = 0.0
    fX[0, XC] = 0.0
    fX[0, XJ] = 0.0
    scale[0] = 1.0
    logscale = 0.0
    for i in range(1, L + 1):
        x = dsq[i - 1]
        Mc = fM[i]
        Ic = fI[i]
        Dc = fD[i]
        xE, total = forward_row(
            msc[x], isc[x], tr, bm, me, de, dprod, xB, fM[i - 1], fI[i - 1], fD[i - 1], Mc, Ic, Dc
        )
        xJ = xJ * xt[J_LOOP] + xE * xt[E_J]
        xC = xC * xt[C_LOOP] + xE * xt[E_C]
        xN = xN * xt[N_LOOP]
        xB = xN * xt[N_MOVE] + xJ * xt[J_MOVE]
        total += xN + xJ + xC
        if not total > 0.0:
            return NEG_INF
        inv = 1.0 / total
        for k in range(M + 1):
            Mc[k] *= inv
            Ic[k] *= inv
            Dc[k] *= inv
        xN *= inv
        xJ *= inv
        xC *= inv
        xB *= inv
        fX[i, XN] = xN
        fX[i, XB] = xB
        fX[i, XE] = xE * inv
        fX[i, XC] = xC
        fX[i, XJ] = xJ
        scale[i] = total
        logscale += np.log(total)
    final = xC * xt[C_MOVE]
    if not final > 0.0:
        return NEG_INF
    return logscale + np.log(final)


@njit(**JIT)
def backward_begin(ms, bm, Mn, inv, nm):  # pragma: no cover
    """First half of a Backward row: the moves into the next row's match states.

    Parameters
    ----------
    ms : float64 array, shape (M + 1,)
        Match odds ratios of the next residue (the one emitted in row ``i + 1``).
    bm : float64 array, shape (M + 1,)
    Mn : float64 array, shape (M + 1,)
        Backward match values of row ``i + 1``.
    inv : float
        ``1 / scale[i + 1]``.
    nm : float64 array, shape (M + 1,)
        Output: ``nm[k] = ms[k + 1] Mn[k + 1] inv`` (``nm[M] = 0``), for
        :func:`backward_row`.

    Returns
    -------
    float
        Backward value of B in row ``i``: ``sum_k bm[k] nm[k - 1]``.
    """
    M = ms.shape[0] - 1
    row_inv = like(inv, nm)  # the row's precision (float32 or float64)
    for k in range(M):
        nm[k] = ms[k + 1] * Mn[k + 1] * row_inv
    nm[M] = 0.0
    return begin_sum(bm, nm, like(0.0, nm))


@njit(cache=True, nogil=True, fastmath={"reassoc"})
def begin_sum(bm, nm, zero):  # pragma: no cover
    """``sum_k bm[k] nm[k - 1]`` over nodes 1..M, in SIMD lanes (reassociation
    only, as :func:`seqem.profile._kernels.row_sums`)."""
    total = zero
    for k in range(1, bm.shape[0]):
        total += bm[k] * nm[k - 1]
    return total


@njit(**JIT)
def backward_row(ins, tr, me, de, bprod, xE, inv, In, nm, Mc, Ic, Dc):  # pragma: no cover
    """Second half of a Backward row: this row's match, insert and delete values.

    Parameters
    ----------
    ins : float64 array, shape (M + 1,)
        Insert odds ratios of the next residue.
    tr, me, de
        As in :func:`forward_full`.
    bprod : float64 array, shape (M + 1,)
        From :func:`backward_products`.
    xE : float
        Backward value of E in this row.
    inv : float
        ``1 / scale[i + 1]``.
    In : float64 array, shape (M + 1,)
        Backward insert values of row ``i + 1``.
    nm : float64 array, shape (M + 1,)
        From :func:`backward_begin`.
    Mc, Ic, Dc : float64 arrays, shape (M + 1,)
        Output: this row's values (column 0 and ``Ic[M]`` are 0).
    """
    M = ins.shape[0] - 1
    tMM, tMI, tMD, tIM, tII, tDM, tDD = transition_rows(tr)
    row_inv = like(inv, Mc)  # the row's precision (float32 or float64)
    e = like(xE, Mc)
    # one output array per loop: each loop then needs few run-time overlap
    # checks between its arrays, and LLVM vectorizes it
    for k in range(1, M):
        Ic[k] = tIM[k] * nm[k] + tII[k] * (ins[k] * In[k] * row_inv)
    for k in range(1, M):
        Mc[k] = tMM[k] * nm[k] + tMI[k] * (ins[k] * In[k] * row_inv) + me[k] * e
    for k in range(1, M):
        Dc[k] = tDM[k] * nm[k] + de[k] * e
    Mc[0] = 0.0
    Ic[0] = 0.0
    Dc[0] = 0.0
    Ic[M] = 0.0
    Mc[M] = me[M] * e
    Dc[M] = de[M] * e
    delete_chain_down(Dc, tDD, bprod)
    for k in range(1, M):
        Mc[k] += tMD[k] * Dc[k + 1]


@njit(**JIT)
def backward_start(tr, me, de, xt, bM, bI, bD, bX):  # pragma: no cover
    """The last row (L) of the Backward recursion: only C -> end remains.

    ``bM, bI, bD`` are the row's arrays, shape (M + 1,); ``bX`` its five
    special values.
    """
    M = bM.shape[0] - 1
    bX[XC] = xt[C_MOVE]
    bX[XJ] = 0.0
    bX[XN] = 0.0
    bX[XB] = 0.0
    bE = xt[E_C] * bX[XC]
    bX[XE] = bE
    bM[0] = 0.0
    bI[0] = 0.0
    bD[0] = 0.0
    bM[M] = me[M] * bE
    bD[M] = de[M] * bE
    bI[M] = 0.0
    for k in range(M - 1, 0, -1):
        bD[k] = tr[DD, k] * bD[k + 1] + de[k] * bE
        bM[k] = tr[MD, k] * bD[k + 1] + me[k] * bE
        bI[k] = 0.0


@njit(**JIT)
def backward_specials(xt, xB, inv, bXn, bX):  # pragma: no cover
    """Special Backward values of a row from those of the next (``bXn``) and
    the row's B sum from :func:`backward_row`; returns the row's E value."""
    xJ = xt[J_LOOP] * bXn[XJ] * inv + xt[J_MOVE] * xB
    xC = xt[C_LOOP] * bXn[XC] * inv
    xN = xt[N_LOOP] * bXn[XN] * inv + xt[N_MOVE] * xB
    xE = xt[E_C] * xC + xt[E_J] * xJ
    bX[XB] = xB
    bX[XJ] = xJ
    bX[XC] = xC
    bX[XN] = xN
    bX[XE] = xE
    return xE


@njit(**JIT)
def backward_full(dsq, msc, isc, tr, bm, me, de, xt, scale, bM, bI, bD, bX):  # pragma: no cover
    """Scaled Backward, the mirror of :func:`forward_full` with its scale factors.

    Parameters
    ----------
    dsq, msc, isc, tr, bm, me, de, xt
        As in :func:`forward_full`.
    scale : float64 array, shape (>= L + 1,)
        Row scale factors from :func:`forward_full`.
    bM, bI, bD : float64 arrays, shape (>= L + 1, M + 1)
        Output: scaled Backward values.
    bX : float64 array, shape (>= L + 1, 5)
        Output: scaled N, B, E, C, J Backward values.

    Returns
    -------
    float
        ln of the total odds probability computed from row 0 (equal to the
        Forward value up to rounding).
    """
    M = msc.shape[1] - 1
    L = dsq.shape[0]
    bprod = backward_products(tr)
    nm = np.empty(M + 1)
    backward_start(tr, me, de, xt, bM[L], bI[L], bD[L], bX[L])
    for i in range(L - 1, -1, -1):
        x = dsq[i]  # residue i + 1
        inv = 1.0 / scale[i + 1]
        xB = backward_begin(msc[x], bm, bM[i + 1], inv, nm)
        xE = backward_specials(xt, xB, inv, bX[i + 1], bX[i])
        backward_row(isc[x], tr, me, de, bprod, xE, inv, bI[i + 1], nm, bM[i], bI[i], bD[i])
    if not bX[0, XN] > 0.0:
        return NEG_INF
    total = np.log(bX[0, XN])
    for i in range(1, L + 1):
        total += np.log(scale[i])
    return total


@njit(**JIT)
def posteriors_into(L, xt, fM, fI, fX, scale, pM, pI, bX, pX):  # pragma: no cover
    """Turn Forward and Backward rows into posterior probabilities, in place.

    ``pM, pI`` hold the Backward match and insert values on entry and the
    posteriors on return (rows ``0 .. L``); ``pX`` receives the special
    posteriors.  Arguments as in :func:`posterior_decode`, whose work this is.
    """
    M = fM.shape[1] - 1
    inv_total = 1.0 / (fX[L, XC] * xt[C_MOVE])
    for i in range(L + 1):
        for k in range(M + 1):
            pM[i, k] *= fM[i, k] * inv_total
            pI[i, k] *= fI[i, k] * inv_total
        pX[i, PB] = fX[i, XB] * bX[i, XB] * inv_total
        pX[i, PE] = fX[i, XE] * bX[i, XE] * inv_total
        if i > 0:
            w = inv_total / scale[i]
            pX[i, PN] = fX[i - 1, XN] * xt[N_LOOP] * bX[i, XN] * w
            pX[i, PC] = fX[i - 1, XC] * xt[C_LOOP] * bX[i, XC] * w
            pX[i, PJ] = fX[i - 1, XJ] * xt[J_LOOP] * bX[i, XJ] * w
        else:
            pX[i, PN] = 0.0
            pX[i, PC] = 0.0
            pX[i, PJ] = 0.0
    for k in range(M + 1):
        pM[0, k] = 0.0
        pI[0, k] = 0.0


@njit(**JIT)
def posterior_decode(dsq, msc, isc, tr, bm, me, de, xt):  # pragma: no cover
    """Forward, Backward and posterior decoding of one sequence.

    Parameters
    ----------
    dsq, msc, isc, tr, bm, me, de, xt
        As in :func:`forward_full`.

    Returns
    -------
    loglik : float
        ln total odds probability (Forward); ``-inf`` if impossible, and then
        the posterior arrays are all zero.
    pM, pI : float64 arrays, shape (L + 1, M + 1)
        Probability that residue ``i`` (row ``i``, 1-based) is emitted by the
        match / insert state of node ``k``; row 0 and column 0 are 0.
    pX : float64 array, shape (L + 1, 5)
        Columns ``PN, PC, PJ`` (probability that residue ``i`` is emitted by
        N, C, J; row 0 is 0) and ``PB, PE`` (expected number of B / E visits
        at row ``i``).
    """
    M = msc.shape[1] - 1
    L = dsq.shape[0]
    fM = np.empty((L + 1, M + 1))
    fI = np.empty((L + 1, M + 1))
    fD = np.empty((L + 1, M + 1))
    fX = np.empty((L + 1, 5))
    scale = np.empty(L + 1)
    pM = np.zeros((L + 1, M + 1))
    pI = np.zeros((L + 1, M + 1))
    pX = np.zeros((L + 1, 5))
    loglik = forward_full(dsq, msc, isc, tr, bm, me, de, xt, fM, fI, fD, fX, scale)
    if loglik == NEG_INF:
        return loglik, pM, pI, pX
    # the backward matrices for M and I are the posterior arrays, filled in place
    bD = fD  # forward D values are not needed for posteriors: reuse the memory
    bX = np.empty((L + 1, 5))
    backward_full(dsq, msc, isc, tr, bm, me, de, xt, scale, pM, pI, bD, bX)
    posteriors_into(L, xt, fM, fI, fX, scale, pM, pI, bX, pX)
    return loglik, pM, pI, pX


@njit(**JIT)
def _push(st, nd, ps, n, state, node, pos):  # pragma: no cover
    st[n] = state
    nd[n] = node
    ps[n] = pos
    return n + 1


@njit(**JIT)
def best_path(eM, eI, eX, ltr, lbm, lme, lde, lxt):  # pragma: no cover
    """Best path on the search topology under additive scores, with traceback.

    One dynamic programme serves two uses: Viterbi (emission scores are log
    odds ratios, transition scores log probabilities) and optimal accuracy
    (emission scores are posterior probabilities, transition scores 0 where
    the transition is possible and ``-inf`` where it is not).

    Parameters
    ----------
    eM, eI : float64 arrays, shape (L + 1, M + 1)
        Score of residue ``i`` (row ``i``, 1-based; row 0 unused) emitted by
        the match / insert state of node ``k``.
    eX : float64 array, shape (L + 1, 3)
        Score of residue ``i`` emitted by N, C, J (columns ``PN, PC, PJ``).
    ltr : float64 array, shape (7, M + 1)
    lbm, lme, lde : float64 arrays, shape (M + 1,)
    lxt : float64 array, shape (8,)
        Transition scores (``-inf``: impossible).

    Returns
    -------
    score : float
        Score of the best path (``-inf`` if there is none; the trace is then
        empty).
    state, node, pos : int32 arrays, shape (n_steps,)
        The best path from S to T: state codes (``T_S .. T_T``), node index
        (match/insert/delete states, else 0) and 1-based residue emitted (0
        for a step that emits nothing).
    """
    L = eM.shape[0] - 1
    M = eM.shape[1] - 1
    vM = np.empty((L + 1, M + 1))
    vI = np.empty((L + 1, M + 1))
    vD = np.empty((L + 1, M + 1))
    vX = np.empty((L + 1, 5))
    score = best_fill(L, eM, eI, eX, ltr, lbm, lme, lde, lxt, vM, vI, vD, vX)
    cap = (L + 1) * (M + 6) + 4
    st = np.empty(cap, dtype=np.int32)
    nd = np.empty(cap, dtype=np.int32)
    ps = np.empty(cap, dtype=np.int32)
    if score == NEG_INF:
        return score, st[:0], nd[:0], ps[:0]
    n = traceback(L, eX, ltr, lbm, lme, lde, lxt, vM, vI, vD, vX, st, nd, ps)
    return score, st[:n][::-1].copy(), nd[:n][::-1].copy(), ps[:n][::-1].copy()


@njit(**JIT)
def best_fill(L, eM, eI, eX, ltr, lbm, lme, lde, lxt, vM, vI, vD, vX):  # pragma: no cover
    """The dynamic programme of :func:`best_path` over rows ``0 .. L``.

    ``vM, vI, vD`` (shape (>= L + 1, M + 1)) and ``vX`` (>= L + 1, 5) are
    filled (no need to clear them first); returns the best score.
    """
    M = eM.shape[1] - 1
    for k in range(M + 1):
        vM[0, k] = NEG_INF
        vI[0, k] = NEG_INF
        vD[0, k] = NEG_INF
    for c in range(5):
        vX[0, c] = NEG_INF
    vX[0, XN] = 0.0
    vX[0, XB] = lxt[N_MOVE]
    for i in range(1, L + 1):
        vM[i, 0] = NEG_INF
        vI[i, 0] = NEG_INF
        vD[i, 0] = NEG_INF
        vI[i, M] = NEG_INF
        xE = NEG_INF
        xBp = vX[i - 1, XB]
        # match and insert states read the row above only (loops that
        # vectorize); the delete chain runs along the row on its own
        _best_row(vM[i - 1], vI[i - 1], vD[i - 1], xBp, eM[i], eI[i], ltr, lbm, vM[i], vI[i])
        for k in range(1, M + 1):
            vD[i, k] = max(vM[i, k - 1] + ltr[MD, k - 1], vD[i, k - 1] + ltr[DD, k - 1])
        xE = _best_exit(vM[i], vD[i], lme, lde)
        vX[i, XE] = xE
        vX[i, XJ] = max(vX[i - 1, XJ] + lxt[J_LOOP] + eX[i, PJ], xE + lxt[E_J])
        vX[i, XC] = max(vX[i - 1, XC] + lxt[C_LOOP] + eX[i, PC], xE + lxt[E_C])
        vX[i, XN] = vX[i - 1, XN] + lxt[N_LOOP] + eX[i, PN]
        vX[i, XB] = max(vX[i, XN] + lxt[N_MOVE], vX[i, XJ] + lxt[J_MOVE])
    return vX[L, XC] + lxt[C_MOVE]


@njit(**JIT)
def _best_row(pm, pi, pd, xb, em, ei, ltr, lbm, vm, vi):  # pragma: no cover
    """Match and insert values of a row of :func:`best_fill` from the row above
    (``pm, pi, pd``) and the B value before it (``xb``)."""
    M = vm.shape[0] - 1
    tMM, tMI, _, tIM, tII, tDM, _ = transition_rows(ltr)
    for k in range(1, M + 1):
        m = max(
            max(pm[k - 1] + tMM[k - 1], pi[k - 1] + tIM[k - 1]),
            max(pd[k - 1] + tDM[k - 1], xb + lbm[k]),
        )
        vm[k] = m + em[k]
    for k in range(1, M):
        vi[k] = max(pm[k] + tMI[k], pi[k] + tII[k]) + ei[k]


@njit(cache=True, nogil=True, fastmath={"nnan", "nsz"})
def _best_exit(vm, vd, lme, lde):  # pragma: no cover
    """``max_k max(vm[k] + lme[k], vd[k] + lde[k])`` over nodes 1..M (``-inf`` if none).

    A maximum is exact whatever the order it is taken in, so the loop may
    run in SIMD lanes (``fastmath`` flags ``nnan`` and ``nsz`` only: the
    scores are sums of logarithms, never NaN).
    """
    best = NEG_INF
    for k in range(1, vm.shape[0]):
        best = max(best, max(vm[k] + lme[k], vd[k] + lde[k]))
    return best


@njit(**JIT)
def traceback(L, eX, ltr, lbm, lme, lde, lxt, vM, vI, vD, vX, st, nd, ps):  # pragma: no cover
    """Trace the best path back from row ``L`` after :func:`best_fill`.

    Writes the steps into ``st, nd, ps`` (int32, the path from T back to S)
    and returns their number, or -1 if the buffers are too short.  Each
    maximum is recomputed and the first argument that reaches it is followed
    (the same floating-point operations, so equality is exact).
    """
    M = vM.shape[1] - 1
    cap = st.shape[0]
    n = _push(st, nd, ps, 0, T_T, 0, 0)
    state = T_C
    i = L
    k = 0
    while state != T_S:
        if n + 1 >= cap:
            return -1
        if state == T_C:
            if i > 0 and vX[i, XC] == vX[i - 1, XC] + lxt[C_LOOP] + eX[i, PC]:
                n = _push(st, nd, ps, n, T_C, 0, i)
                i -= 1
            else:
                n = _push(st, nd, ps, n, T_C, 0, 0)
                state = T_E
        elif state == T_J:
            if i > 0 and vX[i, XJ] == vX[i - 1, XJ] + lxt[J_LOOP] + eX[i, PJ]:
                n = _push(st, nd, ps, n, T_J, 0, i)
                i -= 1
            else:
                n = _push(st, nd, ps, n, T_J, 0, 0)
                state = T_E
        elif state == T_N:
            if i > 0:
                n = _push(st, nd, ps, n, T_N, 0, i)
                i -= 1
            else:
                n = _push(st, nd, ps, n, T_N, 0, 0)
                state = T_S
        elif state == T_E:
            n = _push(st, nd, ps, n, T_E, 0, 0)
            found = False
            for kk in range(M, 0, -1):
                if vX[i, XE] == vM[i, kk] + lme[kk]:
                    state = T_M
                    k = kk
                    found = True
                    break
            if not found:
                for kk in range(M, 0, -1):
                    if vX[i, XE] == vD[i, kk] + lde[kk]:
                        state = T_D
                        k = kk
                        found = True
                        break
            if not found:
                break
        elif state == T_B:
            n = _push(st, nd, ps, n, T_B, 0, 0)
            if vX[i, XB] == vX[i, XN] + lxt[N_MOVE]:
                state = T_N
            else:
                state = T_J
        elif state == T_M:
            n = _push(st, nd, ps, n, T_M, k, i)
            a = vM[i - 1, k - 1] + ltr[MM, k - 1]
            b = vI[i - 1, k - 1] + ltr[IM, k - 1]
            c = vD[i - 1, k - 1] + ltr[DM, k - 1]
            z = vX[i - 1, XB] + lbm[k]
            v = max(max(a, b), max(c, z))
            if v == a:
                state = T_M
            elif v == b:
                state = T_I
            elif v == c:
                state = T_D
            else:
                state = T_B
            i -= 1
            k = k - 1 if state != T_B else 0
        elif state == T_I:
            n = _push(st, nd, ps, n, T_I, k, i)
            a = vM[i - 1, k] + ltr[MI, k]
            if max(a, vI[i - 1, k] + ltr[II, k]) == a:
                state = T_M
            else:
                state = T_I
            i -= 1
        else:  # T_D
            n = _push(st, nd, ps, n, T_D, k, 0)
            if vD[i, k] == vM[i, k - 1] + ltr[MD, k - 1]:
                state = T_M
            else:
                state = T_D
            k -= 1
    return _push(st, nd, ps, n, T_S, 0, 0)
