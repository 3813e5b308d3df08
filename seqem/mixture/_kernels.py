"""Numba kernels of the Gaussian mixture's EM step.

One pass over the samples gives the log-likelihood and the sufficient
statistics of the M-step, so the ``n x K`` responsibilities are never stored:
the samples are cut into chunks (``prange``; each chunk writes its own row of
the statistics, reduced afterwards in chunk order, so the result does not
depend on the thread count) and each chunk into blocks of a few hundred rows
whose temporaries stay in cache.

Two families:

* ``full_*`` (full and tied covariances).  The log-density of ``x`` under
  component ``k`` is ``const_k - |(x - mu_k) L_k|^2 / 2`` with ``L_k`` the
  upper Cholesky factor of the precision.  The BLAS kernel whitens a block
  for every component with one matrix product (``[L_1 ... L_K]^T`` times the
  block), and forms the weighted scatter ``sum_i r_ik (x_i - s_k)(x_i - s_k)^T``
  about a per-component shift ``s_k`` (the current means) as one product per
  component.  The small-``d`` kernel does the same with loops.
* ``diag_*`` (diagonal and spherical).  The BLAS kernel takes the block's
  features ``[z, z^2]`` (``z = x - c``, ``c`` a global centre) and gets the
  log-densities and the moments ``sum r z``, ``sum r z^2`` as matrix
  products; the small-``d`` kernel loops.

Every kernel returns, per chunk: ``nk`` (sum of the responsibilities, sample
weights included), first moments about the shift, second moments about the
shift (matrices for full, vectors for diag), and the weighted log-likelihood.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._jit import JIT, PJIT

# ---------------------------------------------------------------------------
# shared row helpers


@njit(**JIT)
def _normalise_column(lp, i, w_i):
    """Turn column ``i`` of ``lp`` (K x B log-densities) into responsibilities
    times ``w_i`` in place; return ``log sum_k exp(lp[k, i])``."""
    K = lp.shape[0]
    top = -np.inf
    for k in range(K):
        if lp[k, i] > top:
            top = lp[k, i]
    if not np.isfinite(top):
        for k in range(K):
            lp[k, i] = 0.0
        return top
    total = 0.0
    for k in range(K):
        total += np.exp(lp[k, i] - top)
    norm = top + np.log(total)
    for k in range(K):
        lp[k, i] = np.exp(lp[k, i] - norm) * w_i
    return norm


@njit(**JIT)
def _normalise_block(lp, w, b0, top, total):
    """Turn the columns of ``lp`` (K x m log-densities of rows ``b0 ...``) into
    responsibilities times the sample weights; return ``sum_i w_i log p(x_i)``.

    Component by component over the whole block (one exponential per entry);
    ``top`` and ``total`` are scratch of length >= m.
    """
    K, m = lp.shape
    for i in range(m):
        top[i] = lp[0, i]
        total[i] = 0.0
    for k in range(1, K):
        row = lp[k]
        for i in range(m):
            if row[i] > top[i]:
                top[i] = row[i]
    for k in range(K):
        row = lp[k]
        for i in range(m):
            e = np.exp(row[i] - top[i]) if np.isfinite(top[i]) else 0.0
            row[i] = e
            total[i] += e
    ll = 0.0
    for i in range(m):
        wi = w[b0 + i]
        if total[i] > 0.0:
            ll += wi * (top[i] + np.log(total[i]))
            total[i] = wi / total[i]
        else:  # no component has any density here
            ll += wi * top[i]
            total[i] = 0.0
    for k in range(K):
        row = lp[k]
        for i in range(m):
            row[i] *= total[i]
    return ll


# ---------------------------------------------------------------------------
# full and tied covariances, BLAS kernel


@njit(**JIT)
def _centred_transpose(X, b0, c, XT):
    """``XT[j, i] = X[b0 + i, j] - c[j]``, eight rows at a time (whole cache lines
    of ``XT`` written together; row by row, every write lands on another line)."""
    d, m = XT.shape
    for i0 in range(0, m, 8):
        i1 = min(m, i0 + 8)
        for j in range(d):
            cj = c[j]
            for i in range(i0, i1):
                XT[j, i] = X[b0 + i, j] - cj


@njit(**JIT)
def _full_block(X, w, b0, c, pieces, cuts, muL, const, shift_c, tied, second, XT, YT, R, G,
                nk, sx, sxx, scratch):  # fmt: skip
    """One block of ``m = XT.shape[1]`` rows starting at ``b0``; returns the
    block's weighted log-likelihood and adds to ``nk``, ``sx`` (about the
    centre ``c``) and the lower triangles of ``sxx``
    (``sum_i r_ik (x_i - s_k)(x_i - c)^T``, stacked ``K d x d``).

    ``YT`` holds the whitened block, piece by piece: the rows of piece ``r``
    (features ``cuts[r]:cuts[r + 1]``) of every factor together, factor by
    factor (see :func:`full_stats_blas`)."""
    m = XT.shape[1]
    d = X.shape[1]
    K = muL.shape[0]
    F = 1 if tied else K
    _centred_transpose(X, b0, c, XT)
    at = 0
    for r in range(cuts.size - 1):
        h, width = cuts[r + 1] - cuts[r], cuts[r + 1]
        A = pieces[at : at + F * h * width].reshape((F * h, width))
        at += F * h * width
        np.dot(A, XT[:width], YT[F * cuts[r] : F * cuts[r + 1]])
    for k in range(K):
        f = 0 if tied else k
        acc = R[k]
        acc[:] = 0.0
        for r in range(cuts.size - 1):
            c0, c1 = cuts[r], cuts[r + 1]
            base = F * c0 + f * (c1 - c0)
            for jj in range(c1 - c0):
                mu = muL[k, c0 + jj]
                y = YT[base + jj]
                for i in range(m):
                    t = y[i] - mu
                    acc[i] += t * t
        ck = const[k]
        for i in range(m):
            acc[i] = ck - 0.5 * acc[i]
    ll = _normalise_block(R, w, b0, scratch[0], scratch[1])
    for k in range(K):
        acc = 0.0
        for i in range(m):
            acc += R[k, i]
        nk[k] += acc
    # first moments about c: R (K x m) times the centred block (m x d)
    Gk = G[: K * d].reshape((K, d))
    np.dot(R, XT.T, Gk)
    for k in range(K):
        for j in range(d):
            sx[k, j] += Gk[k, j]
    if second:
        # YT becomes the weighted residuals r_ik (x_i - s_k), in the same piece
        # layout; a piece's rows need the columns up to its end only (the
        # lower triangle), one product per piece
        for r in range(cuts.size - 1):
            c0, c1 = cuts[r], cuts[r + 1]
            h = c1 - c0
            for k in range(K):
                base = K * c0 + k * h
                rk = R[k]
                for jj in range(h):
                    s = shift_c[k, c0 + jj]
                    y = YT[base + jj]
                    x = XT[c0 + jj]
                    for i in range(m):
                        y[i] = rk[i] * (x[i] - s)
            out = G[: K * h * c1].reshape((K * h, c1))
            np.dot(YT[K * c0 : K * c1], XT[:c1].T, out)
            for k in range(K):
                for jj in range(h):
                    dst = sxx[k * d + c0 + jj]
                    src = out[k * h + jj]
                    for col in range(c0 + jj + 1):
                        dst[col] += src[col]
    return ll


@njit(**PJIT)
def full_stats_blas(X, w, c, pieces, cuts, muL, const, shift, tied, second, chunk, block,
                    nk, sx, sxx, ll):  # fmt: skip
    """Statistics of a full (or tied) mixture, BLAS products per block.

    The precision's Cholesky factor is triangular, and so is the part of the
    (symmetric) second moments that is needed: the features are cut into
    pieces at ``cuts``, and piece ``r`` is multiplied with the features up to
    its end only (``0.5 + 0.5 / len(pieces)`` of the arithmetic of full
    products, in products still large enough to run at full speed).

    Parameters
    ----------
    X : float64 (n, d), C-contiguous samples.
    w : float64 (n,), sample weights.
    c : float64 (d,), centre subtracted from every sample.
    pieces : float64, flat: for each piece ``r``, the matrix
        ``[L_f[:cuts[r+1], cuts[r]:cuts[r+1]]^T for f]`` stacked by factor
        (F h_r x cuts[r+1], C order), ``L_f`` the upper Cholesky factors of
        the precisions (F = K, or 1 when tied).
    cuts : int64 (S + 1,), 0 = cuts[0] < ... < cuts[S] = d.
    muL : float64 (K, d), ``(mu_k - c) L_k``.
    const : float64 (K,), ``log weight_k + log det L_k - d log(2 pi) / 2``.
    shift : float64 (K, d), the shift of the returned moments.
    tied, second : bool; one factor shared; second moments wanted.
    chunk, block : int; rows per chunk (parallel unit), rows per block.
    nk : float64 (n_chunks, K), out.
    sx : float64 (n_chunks, K, d), out: ``sum_i r_ik (x_i - shift_k)``.
    sxx : float64 (n_chunks, K d, d), out (when ``second``): the lower
        triangles of ``sum_i r_ik (x_i - shift_k)(x_i - c)^T`` stacked by
        component (:func:`seqem.mixture._gmm_steps.sufficient_statistics`
        turns them into moments about the shifts).
    ll : float64 (n_chunks,), out: ``sum_i w_i log p(x_i)``.
    """
    n, d = X.shape
    K = muL.shape[0]
    n_chunks = nk.shape[0]
    rows = d if tied else K * d
    shift_c = shift - c.reshape(1, d)
    for ch in prange(n_chunks):
        lo = ch * chunk
        hi = min(n, lo + chunk)
        XT = np.empty((d, block))
        YT = np.empty((K * d if second else rows, block))
        R = np.empty((K, block))
        G = np.empty(K * d * d)
        scratch = np.empty((2, block))
        total = 0.0
        for b0 in range(lo, hi, block):
            m = min(block, hi - b0)
            if m == block:
                total += _full_block(X, w, b0, c, pieces, cuts, muL, const, shift_c, tied,
                                     second, XT, YT, R, G, nk[ch], sx[ch], sxx[ch],
                                     scratch)  # fmt: skip
            else:
                total += _full_block(X, w, b0, c, pieces, cuts, muL, const, shift_c, tied,
                                     second, np.empty((d, m)), np.empty((YT.shape[0], m)),
                                     np.empty((K, m)), G, nk[ch], sx[ch], sxx[ch],
                                     scratch)  # fmt: skip
        ll[ch] = total
        for k in range(K):  # first moments about the shift
            for j in range(d):
                sx[ch, k, j] -= nk[ch, k] * shift_c[k, j]


# ---------------------------------------------------------------------------
# full and tied covariances, loops (small d)


@njit(**PJIT)
def full_stats_loops(X, w, means, chol, const, shift, tied, second, chunk,
                     nk, sx, sxx, ll):  # fmt: skip
    """As :func:`full_stats_blas` with loops over the triangular factors.

    ``chol`` is float64 (K, d, d) (``L_k``, upper triangular; for tied the
    one factor repeated) and ``means`` float64 (K, d).  ``sxx`` is filled on
    both triangles.
    """
    n, d = X.shape
    K = means.shape[0]
    n_chunks = nk.shape[0]
    for ch in prange(n_chunks):
        lo = ch * chunk
        hi = min(n, lo + chunk)
        lp = np.empty((K, 1))
        z = np.empty(d)
        total = 0.0
        for i in range(lo, hi):
            for k in range(K):
                s = 0.0
                for j in range(d):
                    t = 0.0
                    for a in range(j + 1):
                        t += (X[i, a] - means[k, a]) * chol[k, a, j]
                    s += t * t
                lp[k, 0] = const[k] - 0.5 * s
            total += w[i] * _normalise_column(lp, 0, w[i])
            for k in range(K):
                r = lp[k, 0]
                nk[ch, k] += r
                for j in range(d):
                    z[j] = X[i, j] - shift[k, j]
                    sx[ch, k, j] += r * z[j]
                if second:
                    for a in range(d):
                        ra = r * z[a]
                        for b in range(a, d):
                            sxx[ch, k, a, b] += ra * z[b]
        ll[ch] = total
        if second:
            for k in range(K):
                for a in range(d):
                    for b in range(a):
                        sxx[ch, k, a, b] = sxx[ch, k, b, a]


# ---------------------------------------------------------------------------
# diagonal and spherical covariances


@njit(**JIT)
def _diag_block(X, w, b0, c, W, const, F, LP, M, nk, s12, scratch):
    """One block of ``m = F.shape[0]`` rows; returns its log-likelihood."""
    m = F.shape[0]
    d = X.shape[1]
    K = const.shape[0]
    for i in range(m):
        for j in range(d):
            z = X[b0 + i, j] - c[j]
            F[i, j] = z
            F[i, d + j] = z * z
    np.dot(W, F.T, LP)  # K x m
    for k in range(K):
        ck = const[k]
        for i in range(m):
            LP[k, i] += ck
    ll = _normalise_block(LP, w, b0, scratch[0], scratch[1])
    for k in range(K):
        acc = 0.0
        for i in range(m):
            acc += LP[k, i]
        nk[k] += acc
    np.dot(LP, F, M)  # K x 2d
    for k in range(K):
        for j in range(2 * d):
            s12[k, j] += M[k, j]
    return ll


@njit(**PJIT)
def diag_stats_blas(X, w, c, W, const, chunk, block, nk, s12, ll):
    """Statistics of a diagonal mixture, BLAS products per block.

    Parameters
    ----------
    X : float64 (n, d); w : float64 (n,); c : float64 (d,), the centre.
    W : float64 (K, 2 d): ``W[k, j] = p_kj (mu_kj - c_j)``,
        ``W[k, d + j] = -p_kj / 2`` (``p`` the precisions), so that
        ``W [z, z^2] + const`` is the log-density.
    const : float64 (K,): ``log weight_k + sum_j log(p_kj) / 2
        - d log(2 pi) / 2 - sum_j p_kj (mu_kj - c_j)^2 / 2``.
    chunk, block : int.
    nk : float64 (n_chunks, K), out.
    s12 : float64 (n_chunks, K, 2 d), out: ``sum r z`` then ``sum r z^2``
        (``z = x - c``).
    ll : float64 (n_chunks,), out.
    """
    n, d = X.shape
    K = const.shape[0]
    n_chunks = nk.shape[0]
    for ch in prange(n_chunks):
        lo = ch * chunk
        hi = min(n, lo + chunk)
        F = np.empty((block, 2 * d))
        LP = np.empty((K, block))
        M = np.empty((K, 2 * d))
        scratch = np.empty((2, block))
        total = 0.0
        for b0 in range(lo, hi, block):
            m = min(block, hi - b0)
            if m == block:
                total += _diag_block(X, w, b0, c, W, const, F, LP, M, nk[ch], s12[ch], scratch)
            else:
                total += _diag_block(X, w, b0, c, W, const, np.empty((m, 2 * d)),
                                     np.empty((K, m)), M, nk[ch], s12[ch], scratch)  # fmt: skip
        ll[ch] = total


@njit(**PJIT)
def diag_stats_loops(X, w, c, means, prec, const, chunk, nk, s12, ll):
    """As :func:`diag_stats_blas` with loops (small d).

    ``means``, ``prec``: float64 (K, d); ``const``: float64 (K,),
    ``log weight_k + sum_j log(p_kj) / 2 - d log(2 pi) / 2``.
    """
    n, d = X.shape
    K = means.shape[0]
    n_chunks = nk.shape[0]
    for ch in prange(n_chunks):
        lo = ch * chunk
        hi = min(n, lo + chunk)
        lp = np.empty((K, 1))
        total = 0.0
        for i in range(lo, hi):
            for k in range(K):
                s = 0.0
                for j in range(d):
                    t = X[i, j] - means[k, j]
                    s += prec[k, j] * t * t
                lp[k, 0] = const[k] - 0.5 * s
            total += w[i] * _normalise_column(lp, 0, w[i])
            for k in range(K):
                r = lp[k, 0]
                nk[ch, k] += r
                for j in range(d):
                    z = X[i, j] - c[j]
                    rz = r * z
                    s12[ch, k, j] += rz
                    s12[ch, k, d + j] += rz * z
        ll[ch] = total
