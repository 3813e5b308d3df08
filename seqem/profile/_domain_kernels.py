"""Numba drivers for domain definition over many target sequences at once.

Domain definition (see :mod:`seqem.profile.domains`) runs in two compiled
passes, each a ``prange`` over fixed chunks of work, so that a whole
database is handled in two calls instead of a Python loop over targets:

1. :func:`score_and_find_envelopes`: for every target, Forward on the search
   topology (the same operations as the search kernel, so the same scores),
   keeping only two rows of the core matrices but every row's special values
   and scale factor.  For targets whose score reaches a threshold (the ones
   that can be reported), Backward the same way, posterior probabilities of
   the flanking states, then regions and single-domain envelopes.
2. :func:`rescore_envelopes`: for every envelope, unihit posterior decoding of
   its residues (whole matrices, envelope length x model length), its
   log-likelihood, and the optimal-accuracy alignment's coordinates and mean
   posterior probability.

:func:`align_many` aligns whole sequences the same way (``seqem profile
align``): where each residue goes in the multiple alignment.

Work buffers are allocated once per chunk, sized by the longest target (or
envelope) of the chunk.  Results do not depend on the chunking or on the
number of threads: each target or envelope is computed by the same
operations wherever it runs.

Arguments shared with :mod:`seqem.profile._kernels`: ``dsq`` uint8 (T,),
``bounds`` int64 (n_seq + 1,), ``msc, isc`` float64 (n_codes, M + 1), ``tr``
float64 (7, M + 1), ``bm, me, de`` float64 (M + 1,), ``xt`` float64 (n, 8).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._jit import JIT, PJIT
from ._decode_kernels import (
    PC,
    PJ,
    PN,
    T_B,
    T_C,
    T_D,
    T_E,
    T_I,
    T_M,
    T_N,
    XB,
    XC,
    XE,
    XJ,
    XN,
    backward_begin,
    backward_full,
    backward_products,
    backward_row,
    backward_specials,
    backward_start,
    best_fill,
    forward_full,
    posteriors_into,
    traceback,
)
from ._kernels import C_LOOP, C_MOVE, J_LOOP, N_LOOP, _forward_one

NEG_INF = -np.inf


@njit(**JIT)
def _backward_specials_only(
    dsq, s, e, msc, isc, tr, bm, me, de, xt, scale, bprod, Mn, In, Mc, Ic, Dc, nm, bX
):  # pragma: no cover
    """Scaled Backward of ``dsq[s:e]`` keeping two core rows and every row's
    special values ``bX`` (rows 0 .. L)."""
    L = e - s
    backward_start(tr, me, de, xt, Mn, In, Dc, bX[L])
    for i in range(L - 1, -1, -1):
        x = dsq[s + i]
        inv = 1.0 / scale[i + 1]
        xB = backward_begin(msc[x], bm, Mn, inv, nm)
        xE = backward_specials(xt, xB, inv, bX[i + 1], bX[i])
        backward_row(isc[x], tr, me, de, bprod, xE, inv, In, nm, Mc, Ic, Dc)
        Mn, Mc = Mc, Mn
        In, Ic = Ic, In


@njit(**JIT)
def find_regions_into(mocc, begins, ends, a, b, rt1, rt2, rs, re):  # pragma: no cover
    """Regions of residues ``a .. b`` (0-based, inclusive), as
    :func:`seqem.profile.domains.find_regions`; writes their starts and ends
    (absolute indices) into ``rs, re`` and returns how many."""
    n = 0
    triggered = False
    start = -1
    for i in range(a, b + 1):
        if not triggered:
            if mocc[i] - begins[i] < rt2 or start < 0:
                start = i
            if mocc[i] >= rt1:
                triggered = True
        elif mocc[i] - ends[i] < rt2:
            rs[n] = start
            re[n] = i
            n += 1
            triggered = False
            start = -1
    if triggered:
        rs[n] = start
        re[n] = b
        n += 1
    return n


@njit(**JIT)
def _cut(mocc, begins, ends, s, t, rt3, span_max, work):  # pragma: no cover
    """Where to cut region ``s .. t`` in two (the last residue of the left
    part), or -1; as ``seqem.profile.domains._split``."""
    if t <= s:
        return -1
    n = t - s
    acc = 0.0
    for z in range(n - 1, -1, -1):  # expected starts in z + 1 .. t
        acc += begins[s + 1 + z]
        work[z] = acc
    acc = 0.0
    best = np.inf
    cut = -1
    for z in range(n):
        acc += ends[s + z]  # expected ends in s .. z
        span = mocc[s + z] - ends[s + z]
        if min(acc, work[z]) >= rt3 and span < span_max and span < best:
            best = span
            cut = s + z
    return cut


@njit(**JIT)
def envelopes_into(
    mocc, begins, ends, L, rt1, rt2, rt3, span_max, env_s, env_t, stack_s, stack_t, rs, re, work
):  # pragma: no cover
    """Regions of one target cut into single-domain envelopes, in sequence order.

    Writes 0-based inclusive starts and ends into ``env_s, env_t`` and returns
    their number.  The other arrays (length >= L) are work space.  The
    recursion of the Python version is a stack here: the pieces of a cut
    region are pushed in reverse so that they come off in sequence order.
    """
    n_env = 0
    top = 0
    n0 = find_regions_into(mocc, begins, ends, 0, L - 1, rt1, rt2, rs, re)
    for j in range(n0 - 1, -1, -1):
        stack_s[top] = rs[j]
        stack_t[top] = re[j]
        top += 1
    while top > 0:
        top -= 1
        s = stack_s[top]
        t = stack_t[top]
        cut = _cut(mocc, begins, ends, s, t, rt3, span_max, work)
        if cut < 0:
            env_s[n_env] = s
            env_t[n_env] = t
            n_env += 1
            continue
        n_left = find_regions_into(mocc, begins, ends, s, cut, rt1, rt2, rs, re)
        n_right = find_regions_into(
            mocc, begins, ends, cut + 1, t, rt1, rt2, rs[n_left:], re[n_left:]
        )
        for j in range(n_left + n_right - 1, -1, -1):
            stack_s[top] = rs[j]
            stack_t[top] = re[j]
            top += 1
    return n_env


@njit(**PJIT)
def score_and_find_envelopes(
    dsq, bounds, chunks, msc, isc, tr, bm, me, de, xt, min_raw, rt1, rt2, rt3, span_max
):  # pragma: no cover
    """Forward scores of every target and the envelopes of those that reach a threshold.

    Parameters
    ----------
    dsq, bounds, msc, isc, tr, bm, me, de
        As in the module docstring.
    chunks : int64 array, shape (n_chunks + 1,)
        Target indices that start each chunk of work.
    xt : float64 array, shape (n_seq, 8)
        Special transitions of each target (multihit as configured).
    min_raw : float64 array, shape (n_seq,)
        Decode target ``q`` only if its Forward value reaches ``min_raw[q]``
        (``-inf``: every target).
    rt1, rt2, rt3, span_max : float
        Region and multi-domain thresholds.

    Returns
    -------
    raw : float64 array, shape (n_seq,)
        ln of each target's total odds probability.
    env_end : int32 array, shape (T,)
        For each residue that starts an envelope, the envelope's last residue
        (0-based within its target); -1 elsewhere.
    decoded : bool array, shape (n_seq,)
        Which targets were decoded.
    expected : float64 array, shape (n_seq,)
        Expected number of domains of each decoded target (the sum of its
        begin-state posteriors; 0 for the others).
    regions, clustered : int64 arrays, shape (n_seq,)
        Regions found in each decoded target, and how many of them pass
        HMMER's test for several domains (:func:`_multidomain`).
    """
    n_seq = len(bounds) - 1
    n_chunks = len(chunks) - 1
    M = msc.shape[1] - 1
    raw = np.empty(n_seq)
    env_end = np.full(dsq.shape[0], -1, dtype=np.int32)
    decoded = np.zeros(n_seq, dtype=np.bool_)
    expected = np.zeros(n_seq)
    regions = np.zeros(n_seq, dtype=np.int64)
    clustered = np.zeros(n_seq, dtype=np.int64)
    bprod = backward_products(tr)
    for c in prange(n_chunks):
        lmax = 1
        for q in range(chunks[c], chunks[c + 1]):
            lmax = max(lmax, bounds[q + 1] - bounds[q])
        Mp = np.empty(M + 1, msc.dtype)
        Ip = np.empty(M + 1, msc.dtype)
        Dp = np.empty(M + 1, msc.dtype)
        Mc = np.empty(M + 1, msc.dtype)
        Ic = np.empty(M + 1, msc.dtype)
        Dc = np.empty(M + 1, msc.dtype)
        nm = np.empty(M + 1, msc.dtype)
        fX = np.empty((lmax + 1, 5))
        bX = np.empty((lmax + 1, 5))
        scale = np.empty(lmax + 1)
        mocc = np.empty(lmax)
        begins = np.empty(lmax)
        ends = np.empty(lmax)
        env_s = np.empty(lmax, dtype=np.int64)
        env_t = np.empty(lmax, dtype=np.int64)
        stack_s = np.empty(lmax, dtype=np.int64)
        stack_t = np.empty(lmax, dtype=np.int64)
        rs = np.empty(lmax, dtype=np.int64)
        re = np.empty(lmax, dtype=np.int64)
        work = np.empty(lmax)
        for q in range(chunks[c], chunks[c + 1]):
            s = bounds[q]
            e = bounds[q + 1]
            L = e - s
            x = xt[q]
            ll = _forward_one(
                dsq, s, e, msc, isc, tr, bm, me, de, x, Mp, Ip, Dp, Mc, Ic, Dc, fX, scale
            )
            raw[q] = ll
            if L == 0 or ll == NEG_INF or not ll >= min_raw[q]:
                continue
            decoded[q] = True
            _backward_specials_only(
                dsq, s, e, msc, isc, tr, bm, me, de, x, scale, bprod, Mp, Ip, Mc, Ic, Dc, nm, bX
            )
            # posteriors of the flanking states (as posterior_decode computes them)
            inv_total = 1.0 / (fX[L, XC] * x[C_MOVE])
            for i in range(1, L + 1):
                w = inv_total / scale[i]
                pn = fX[i - 1, XN] * x[N_LOOP] * bX[i, XN] * w
                pc = fX[i - 1, XC] * x[C_LOOP] * bX[i, XC] * w
                pj = fX[i - 1, XJ] * x[J_LOOP] * bX[i, XJ] * w
                mocc[i - 1] = 1.0 - pn - pc - pj
                begins[i - 1] = fX[i - 1, XB] * bX[i - 1, XB] * inv_total
                ends[i - 1] = fX[i, XE] * bX[i, XE] * inv_total
            n_env = envelopes_into(
                mocc, begins, ends, L, rt1, rt2, rt3, span_max,
                env_s, env_t, stack_s, stack_t, rs, re, work,
            )  # fmt: skip
            for j in range(n_env):
                env_end[s + env_s[j]] = env_t[j]
            total = 0.0
            for i in range(L):
                total += begins[i]
            expected[q] = total
            # the regions again (the stack above reused their arrays): how
            # many there are, and how many look like several domains
            n_reg = find_regions_into(mocc, begins, ends, 0, L - 1, rt1, rt2, rs, re)
            regions[q] = n_reg
            for r in range(n_reg):
                if _multidomain(begins, ends, rs[r], re[r], rt3, work):
                    clustered[q] += 1
    return raw, env_end, decoded, expected, regions, clustered


@njit(**JIT)
def _multidomain(begins, ends, s, t, rt3, work):  # pragma: no cover
    """HMMER's test for a region ``s .. t`` that may hold several domains: some
    residue ``z`` with at least ``rt3`` expected domain ends in ``s .. z`` and
    as many expected starts in ``z .. t`` (a region that passes is where
    hmmsearch clusters sampled paths, its ``clu`` count)."""
    acc = 0.0
    for z in range(t, s - 1, -1):  # expected starts in z .. t
        acc += begins[z]
        work[z - s] = acc
    acc = 0.0
    for z in range(s, t + 1):
        acc += ends[z]
        if min(acc, work[z - s]) >= rt3:
            return True
    return False


@njit(**JIT)
def _path_buffers(lmax, M):  # pragma: no cover
    """One thread's work arrays for decoding and tracing a path through one copy of
    the model, for sequences of up to ``lmax`` residues: ``fM, fI, fD, pM, pI``
    (lmax + 1, M + 1), ``fX, bX, pX`` (lmax + 1, 5), ``scale`` (lmax + 1,) and the
    trace arrays ``st, nd, ps`` (a unihit path has at most L + M + 8 steps)."""
    fM = np.empty((lmax + 1, M + 1))
    fI = np.empty((lmax + 1, M + 1))
    fD = np.empty((lmax + 1, M + 1))
    pM = np.empty((lmax + 1, M + 1))
    pI = np.empty((lmax + 1, M + 1))
    fX = np.empty((lmax + 1, 5))
    bX = np.empty((lmax + 1, 5))
    pX = np.zeros((lmax + 1, 5))
    scale = np.empty(lmax + 1)
    cap = lmax + 2 * M + 16
    st = np.empty(cap, dtype=np.int32)
    nd = np.empty(cap, dtype=np.int32)
    ps = np.empty(cap, dtype=np.int32)
    return fM, fI, fD, pM, pI, fX, bX, pX, scale, st, nd, ps


@njit(**JIT)
def _allowed(a):  # pragma: no cover
    """0 where a transition is possible, -inf where it is not (same shape)."""
    out = np.empty_like(a)
    flat_in = a.ravel()
    flat_out = out.ravel()
    for j in range(flat_in.shape[0]):
        flat_out[j] = 0.0 if flat_in[j] > 0.0 else NEG_INF
    return out


@njit(**JIT)
def _null2_sum(sub, L, msc, isc, pM, pI, pX, useM, useI, odds):  # pragma: no cover
    """Sum of log null2 odds over residues ``sub[0 .. L-1]`` (posteriors of that envelope)."""
    M = msc.shape[1] - 1
    useM[:] = 0.0
    useI[:] = 0.0
    flank = 0.0
    for i in range(1, L + 1):
        for k in range(1, M + 1):
            useM[k] += pM[i, k]
            useI[k] += pI[i, k]
        flank += pX[i, PN] + pX[i, PC] + pX[i, PJ]
    for x in range(msc.shape[0]):
        total = flank
        for k in range(1, M + 1):
            total += useM[k] * msc[x, k]
        for k in range(1, M):
            total += useI[k] * isc[x, k]
        odds[x] = total / L
    out = 0.0
    for i in range(L):
        out += np.log(odds[sub[i]])
    return out


@njit(**PJIT)
def rescore_envelopes(
    dsq, env_start, env_len, env_off, chunks, msc, isc, tr, bm, me, de, xt
):  # pragma: no cover
    """Unihit decoding and optimal-accuracy alignment of each envelope.

    Parameters
    ----------
    dsq, msc, isc, tr, bm, me, de
        As in the module docstring (``tr .. de`` of the same configuration as
        the search; only ``xt`` is unihit).
    env_start, env_len : int64 arrays, shape (n_env,)
        Envelope residues ``dsq[env_start : env_start + env_len]`` (length >= 1).
    env_off : int64 array, shape (n_env + 1,)
        Where each envelope's residues start in the per-residue outputs
        (``env_off[-1]`` of them in all).
    chunks : int64 array, shape (n_chunks + 1,)
        Envelope indices that start each chunk of work.
    xt : float64 array, shape (n_env, 8)
        Unihit special transitions for the length of each envelope's target.

    Returns
    -------
    loglik : float64 array, shape (n_env,)
        ln total odds probability of the envelope's residues (``-inf``: none).
    coords : int64 array, shape (n_env, 4)
        ``ali_from, ali_to`` (1-based within the envelope), ``hmm_from,
        hmm_to`` of the alignment; all 0 when there is none.
    acc : float64 array, shape (n_env,)
        Mean over the envelope's residues of the posterior probability of the
        state the alignment gives each (match, insert, or the flanking N or C
        state of a residue outside it): HMMER's optimal-accuracy score over
        the envelope length.
    null2 : float64 array, shape (n_env,)
        Sum over the envelope's residues of the log null2 odds ratio: the
        composition model of the envelope (the model's emission odds
        averaged over the posterior use of each emitting state, flanks
        counting 1), as HMMER's composition-bias correction uses it.
    slot, match : int32 and bool arrays, shape (env_off[-1],)
        Where each residue of the alignment goes (as :func:`align_many`
        gives them: the node of a match state, the node an insert follows);
        -1 for residues outside it (the envelope's flanks).
    post : float64 array, shape (env_off[-1],)
        The posterior probability of each aligned residue's state (NaN
        outside the alignment).
    """
    n_env = len(env_start)
    n_chunks = len(chunks) - 1
    M = msc.shape[1] - 1
    loglik = np.empty(n_env)
    coords = np.zeros((n_env, 4), dtype=np.int64)
    acc = np.zeros(n_env)
    null2 = np.zeros(n_env)
    slot = np.full(env_off[-1], -1, dtype=np.int32)
    match = np.zeros(env_off[-1], dtype=np.bool_)
    post = np.full(env_off[-1], np.nan)
    n_codes = msc.shape[0]
    ltr = _allowed(tr)
    lbm = _allowed(bm)
    lme = _allowed(me)
    lde = _allowed(de)
    for c in prange(n_chunks):
        lmax = 1
        for v in range(chunks[c], chunks[c + 1]):
            lmax = max(lmax, env_len[v])
        fM, fI, fD, pM, pI, fX, bX, pX, scale, st, nd, ps = _path_buffers(lmax, M)
        useM = np.empty(M + 1)
        useI = np.empty(M + 1)
        odds = np.empty(n_codes)
        for v in range(chunks[c], chunks[c + 1]):
            L = env_len[v]
            sub = dsq[env_start[v] : env_start[v] + L]
            x = xt[v]
            ll = forward_full(sub, msc, isc, tr, bm, me, de, x, fM, fI, fD, fX, scale)
            loglik[v] = ll
            if ll == NEG_INF:
                continue
            # as posterior_decode: backward into the posterior arrays, D reuses fD
            backward_full(sub, msc, isc, tr, bm, me, de, x, scale, pM, pI, fD, bX)
            posteriors_into(L, x, fM, fI, fX, scale, pM, pI, bX, pX)
            null2[v] = _null2_sum(sub, L, msc, isc, pM, pI, pX, useM, useI, odds)
            lxt = _allowed(x)
            # optimal accuracy: the forward matrices are free again
            score = best_fill(L, pM, pI, pX, ltr, lbm, lme, lde, lxt, fM, fI, fD, fX)
            if score == NEG_INF:
                continue
            n = traceback(L, pX, ltr, lbm, lme, lde, lxt, fM, fI, fD, fX, st, nd, ps)
            if n < 0:
                continue
            a0 = 0
            a1 = 0
            h0 = 0
            h1 = 0
            inside = False
            total = 0.0
            for j in range(n - 1, -1, -1):  # path order (the steps are stored backwards)
                state = st[j]
                if state == T_B:
                    inside = True
                elif state == T_E:
                    inside = False
                elif state == T_N or state == T_C:
                    if ps[j] > 0:
                        total += pX[ps[j], PN if state == T_N else PC]
                elif inside:
                    if state == T_M or state == T_I:
                        i = ps[j]
                        if a0 == 0:
                            a0 = i
                        a1 = i
                        slot[env_off[v] + i - 1] = nd[j]
                        match[env_off[v] + i - 1] = state == T_M
                        if state == T_M:
                            if h0 == 0:
                                h0 = nd[j]
                            h1 = nd[j]
                            p = pM[i, nd[j]]
                        else:
                            p = pI[i, nd[j]]
                        post[env_off[v] + i - 1] = p
                        total += p
            if a0 == 0:
                continue
            coords[v, 0] = a0
            coords[v, 1] = a1
            coords[v, 2] = h0
            coords[v, 3] = h1
            acc[v] = total / L
    return loglik, coords, acc, null2, slot, match, post


@njit(**PJIT)
def align_many(
    dsq, bounds, chunks, msc, isc, tr, bm, me, de, xt, lmsc, lisc, ltr, lbm, lme, lde, lxt, mea
):  # pragma: no cover
    """Align every sequence on its own to a unihit model: the residue-level result.

    Parameters
    ----------
    dsq, bounds, msc, isc, tr, bm, me, de
        As in the module docstring (the model as configured for alignment).
    chunks : int64 array, shape (n_chunks + 1,)
        Sequence indices that start each chunk of work.
    xt : float64 array, shape (n_seq, 8)
        Special transitions for each sequence's length.
    lmsc, lisc : float64 arrays, shape (n_codes, M + 1)
        Log emission odds (used by Viterbi only).
    ltr, lbm, lme, lde, lxt
        Transition scores of the path: log probabilities (Viterbi) or 0 where
        a transition is possible and ``-inf`` where not (optimal accuracy);
        ``lxt`` one row per sequence.
    mea : bool
        Optimal-accuracy path on the posterior probabilities (maximum
        expected accuracy) instead of the Viterbi path.

    Returns
    -------
    slot : int32 array, shape (T,)
        For a residue emitted by a match state, its node (1 .. M); otherwise
        where it goes between the match columns: 0 before node 1 (the N
        flank), ``k`` after node ``k`` (insert state ``k``, a J loop after
        its last node), ``M`` after the last node (the C flank).
    match : bool array, shape (T,)
        Whether each residue is emitted by a match state.
    ok : bool array, shape (n_seq,)
        False where the sequence has no path through the model (its residues
        are then all in the N flank).
    post : float64 array, shape (T,)
        With ``mea``, the posterior probability that each residue is emitted
        by the state the path gives it (NaN otherwise).

    The operations per sequence are those of ``decode`` and
    ``optimal_accuracy_trace`` (or ``viterbi_trace``) in
    :mod:`seqem.profile.domains`, so the paths are the same.
    """
    n_seq = len(bounds) - 1
    n_chunks = len(chunks) - 1
    M = msc.shape[1] - 1
    slot = np.zeros(dsq.shape[0], dtype=np.int32)
    match = np.zeros(dsq.shape[0], dtype=np.bool_)
    ok = np.zeros(n_seq, dtype=np.bool_)
    post = np.full(dsq.shape[0], np.nan)
    for c in prange(n_chunks):
        lmax = 1
        for q in range(chunks[c], chunks[c + 1]):
            lmax = max(lmax, bounds[q + 1] - bounds[q])
        fM, fI, fD, pM, pI, fX, bX, pX, scale, st, nd, ps = _path_buffers(lmax, M)
        for q in range(chunks[c], chunks[c + 1]):
            s = bounds[q]
            L = bounds[q + 1] - s
            sub = dsq[s : s + L]
            x = xt[q]
            if mea:
                ll = forward_full(sub, msc, isc, tr, bm, me, de, x, fM, fI, fD, fX, scale)
                if ll == NEG_INF:
                    continue
                backward_full(sub, msc, isc, tr, bm, me, de, x, scale, pM, pI, fD, bX)
                posteriors_into(L, x, fM, fI, fX, scale, pM, pI, bX, pX)
            else:
                for k in range(M + 1):
                    pM[0, k] = 0.0
                    pI[0, k] = 0.0
                for i in range(1, L + 1):
                    r = sub[i - 1]
                    for k in range(M + 1):
                        pM[i, k] = lmsc[r, k]
                        pI[i, k] = lisc[r, k]
                for i in range(L + 1):
                    pI[i, 0] = NEG_INF
                    pX[i, PN] = 0.0
                    pX[i, PC] = 0.0
                    pX[i, PJ] = 0.0
            score = best_fill(L, pM, pI, pX, ltr, lbm, lme, lde, lxt[q], fM, fI, fD, fX)
            if score == NEG_INF:
                continue
            n = traceback(L, pX, ltr, lbm, lme, lde, lxt[q], fM, fI, fD, fX, st, nd, ps)
            if n < 0:
                continue
            ok[q] = True
            last = 0
            for j in range(n - 1, -1, -1):  # path order (the steps are stored backwards)
                state = st[j]
                i = ps[j]
                if state == T_M or state == T_D:
                    last = nd[j]
                if i <= 0:
                    continue
                if state == T_M:
                    slot[s + i - 1] = nd[j]
                    match[s + i - 1] = True
                    p = pM[i, nd[j]]
                elif state == T_I:
                    slot[s + i - 1] = nd[j]
                    p = pI[i, nd[j]]
                elif state == T_N:
                    slot[s + i - 1] = 0
                    p = pX[i, PN]
                elif state == T_C:
                    slot[s + i - 1] = M
                    p = pX[i, PC]
                else:  # J: after the last node used
                    slot[s + i - 1] = last
                    p = pX[i, PJ]
                if mea:
                    post[s + i - 1] = p
    return slot, match, ok, post
