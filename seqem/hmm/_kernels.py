"""Numba kernels for dense N-state hidden Markov models.

Conventions shared by every HMM kernel in seqem
------------------------------------------------
* Many sequences are one concatenated array plus ``bounds``: sequence ``s``
  holds rows ``bounds[s]:bounds[s + 1]`` (int64, length ``n_seq + 1``).
* Work is split into *chunks* of whole sequences (``chunks``: int64 indices
  into the sequence list, length ``n_chunks + 1``) or of time rows.  Chunk
  boundaries are fixed by the data, never by the thread count; each chunk
  writes its own slice of the statistics and a serial loop reduces them in
  chunk order, so one thread and many threads give the same bits.
* Emissions enter as a frame-likelihood matrix ``B`` (float64, T x N) with a
  per-row log offset ``logscale`` (float64, T): the likelihood of row ``t``
  under state ``i`` is ``B[t, i] * exp(logscale[t])``.  Gaussian emissions
  use the offset to keep ``B`` in range; categorical ones pass zeros.
* Forward-backward is *scaled*: ``alpha[t]`` is normalised to sum to one,
  the normaliser ``c[t]`` is kept, and the log-likelihood is
  ``sum(log c[t]) + sum(logscale[t])``.  Backward variables use the same
  ``c[t]``, so ``alpha[t] * beta[t]`` is the state posterior.
* The backward pass writes posteriors over ``B`` (which is no longer needed)
  and sums expected transition counts as it goes: nothing of size
  T x N x N is stored, and only ``alpha`` (length x N per chunk) is.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._jit import JIT, PJIT

NEG_INF = -np.inf


# --------------------------------------------------------------------------
# chunking


def sequence_chunks(bounds: np.ndarray, max_chunks: int = 64) -> np.ndarray:
    """Group consecutive sequences into at most ``max_chunks`` chunks of similar total length.

    Parameters
    ----------
    bounds : int64 array, shape (n_seq + 1,)

    Returns
    -------
    int64 array, shape (n_chunks + 1,)
        Sequence indices where chunks start, ending with ``n_seq``.
    """
    n_seq = len(bounds) - 1
    total = int(bounds[-1])
    target = max(1, -(-total // max_chunks))
    starts = [0]
    acc = 0
    for s in range(n_seq):
        acc += int(bounds[s + 1] - bounds[s])
        if acc >= target and s + 1 < n_seq:
            starts.append(s + 1)
            acc = 0
    starts.append(n_seq)
    return np.asarray(starts, dtype=np.int64)


# --------------------------------------------------------------------------
# per-sequence building blocks (called from the parallel drivers)


@njit(**JIT)
def _forward_seq(B, s, e, startprob, transmat, alpha, scale):  # pragma: no cover - jitted
    """Scaled forward pass over rows ``s:e`` of ``B``.

    Fills ``alpha[0:e-s]`` (normalised) and ``scale[0:e-s]``; returns
    ``sum(log scale)`` or ``-inf`` if the sequence is impossible.
    """
    n = B.shape[1]
    ll = 0.0
    prod = 1.0
    c = 0.0
    for j in range(n):
        v = startprob[j] * B[s, j]
        alpha[0, j] = v
        c += v
    if not c > 0.0:
        return NEG_INF
    inv = 1.0 / c
    for j in range(n):
        alpha[0, j] *= inv
    scale[0] = c
    ll += np.log(c)
    for t in range(1, e - s):
        for j in range(n):
            alpha[t, j] = 0.0
        for i in range(n):
            a = alpha[t - 1, i]
            if a != 0.0:
                for j in range(n):
                    alpha[t, j] += a * transmat[i, j]
        c = 0.0
        row = s + t
        for j in range(n):
            v = alpha[t, j] * B[row, j]
            alpha[t, j] = v
            c += v
        if not c > 0.0:
            return NEG_INF
        inv = 1.0 / c
        for j in range(n):
            alpha[t, j] *= inv
        scale[t] = c
        # multiply normalisers and take one log now and then, not one per step
        if c < 1e-100 or c > 1e100:
            ll += np.log(c)
        else:
            prod *= c
            if prod < 1e-150 or prod > 1e150:
                ll += np.log(prod)
                prod = 1.0
    return ll + np.log(prod)


@njit(**JIT)
def _backward_seq(B, s, e, transT, alpha, scale, beta, w, xi, want_xi):  # pragma: no cover
    """Scaled backward pass; overwrites ``B[s:e]`` with state posteriors.

    ``transT`` is the transition matrix transposed (C-contiguous), so that
    every inner loop is a contiguous axpy that the compiler vectorises.
    ``xi`` (N x N) accumulates ``sum_t alpha[t] (outer) w[t+1]`` with
    ``w[t+1] = B[t+1] * beta[t+1] / c[t+1]``; the caller multiplies the total
    by the transition matrix element-wise to get the expected transition
    counts.  (Keeping the ``w`` rows and summing by one BLAS product per
    sequence was measured slower here: the extra T x N store outweighs it.)
    """
    n = B.shape[1]
    length = e - s
    for j in range(n):
        beta[j] = 1.0
    for t in range(length - 2, -1, -1):
        row = s + t + 1
        inv = 1.0 / scale[t + 1]
        for j in range(n):
            w[j] = B[row, j] * beta[j] * inv
            B[row, j] = alpha[t + 1, j] * beta[j]
        if want_xi:
            for i in range(n):
                a = alpha[t, i]
                if a != 0.0:
                    for j in range(n):
                        xi[i, j] += a * w[j]
        for i in range(n):
            beta[i] = 0.0
        for j in range(n):
            wj = w[j]
            if wj != 0.0:
                for i in range(n):
                    beta[i] += wj * transT[j, i]
    for j in range(n):
        B[s, j] = alpha[0, j] * beta[j]


@njit(**JIT)
def _chunk_maxlen(bounds, first, last):  # pragma: no cover - jitted
    m = 1
    for q in range(first, last):
        m = max(m, bounds[q + 1] - bounds[q])
    return m


# --------------------------------------------------------------------------
# drivers


@njit(**PJIT)
def forward_backward(B, logscale, bounds, chunks, startprob, transmat, want_xi):  # pragma: no cover
    """Scaled forward-backward over many sequences, in parallel over chunks.

    Parameters
    ----------
    B : float64 array, shape (T, N)
        Frame likelihoods (see module docstring); overwritten with the state
        posteriors ``gamma``.  Rows of impossible sequences become NaN.
    logscale : float64 array, shape (T,)
        Log offsets of the rows of ``B``.
    bounds : int64 array, shape (n_seq + 1,)
    chunks : int64 array, shape (n_chunks + 1,)
    startprob : float64 array, shape (N,)
    transmat : float64 array, shape (N, N)
    want_xi : bool
        Whether to sum expected transition counts.

    Returns
    -------
    loglik : float64 array, shape (n_seq,)
        Log-likelihood of each sequence (``-inf`` if impossible).
    start : float64 array, shape (N,)
        Sum over sequences of the posterior at the first row.
    trans : float64 array, shape (N, N)
        Expected transition counts (zeros unless ``want_xi``).
    """
    n = B.shape[1]
    n_seq = len(bounds) - 1
    n_chunks = len(chunks) - 1
    loglik = np.empty(n_seq)
    start_acc = np.zeros((n_chunks, n))
    xi_acc = np.zeros((n_chunks, n, n))
    transT = np.ascontiguousarray(transmat.T)
    for c in prange(n_chunks):
        maxlen = _chunk_maxlen(bounds, chunks[c], chunks[c + 1])
        alpha = np.empty((maxlen, n))
        scale = np.empty(maxlen)
        beta = np.empty(n)
        w = np.empty(n)
        xi = xi_acc[c]
        for q in range(chunks[c], chunks[c + 1]):
            s = bounds[q]
            e = bounds[q + 1]
            if e == s:
                loglik[q] = 0.0
                continue
            ll = _forward_seq(B, s, e, startprob, transmat, alpha, scale)
            if ll == NEG_INF:
                loglik[q] = NEG_INF
                for t in range(s, e):
                    for j in range(n):
                        B[t, j] = np.nan
                continue
            off = 0.0
            for t in range(s, e):
                off += logscale[t]
            loglik[q] = ll + off
            _backward_seq(B, s, e, transT, alpha, scale, beta, w, xi, want_xi)
            for j in range(n):
                start_acc[c, j] += B[s, j]
    start = np.zeros(n)
    trans = np.zeros((n, n))
    for c in range(n_chunks):
        for i in range(n):
            start[i] += start_acc[c, i]
            for j in range(n):
                trans[i, j] += xi_acc[c, i, j]
    if want_xi:
        for i in range(n):
            for j in range(n):
                trans[i, j] *= transmat[i, j]
    return loglik, start, trans


@njit(**PJIT)
def forward_loglik(B, logscale, bounds, chunks, startprob, transmat):  # pragma: no cover
    """Log-likelihood of each sequence by the scaled forward pass only.

    Same arguments as :func:`forward_backward` (``B`` is not modified);
    memory is O(N) per chunk.

    Returns
    -------
    float64 array, shape (n_seq,)
    """
    n = B.shape[1]
    n_seq = len(bounds) - 1
    n_chunks = len(chunks) - 1
    loglik = np.empty(n_seq)
    for c in prange(n_chunks):
        prev = np.empty(n)
        cur = np.empty(n)
        for q in range(chunks[c], chunks[c + 1]):
            s = bounds[q]
            e = bounds[q + 1]
            ll = 0.0
            for t in range(s, e):
                ll += logscale[t]
            if e > s:
                total = 0.0
                for j in range(n):
                    prev[j] = startprob[j] * B[s, j]
                    total += prev[j]
                if not total > 0.0:
                    loglik[q] = NEG_INF
                    continue
                ll += np.log(total)
                for j in range(n):
                    prev[j] /= total
                prod = 1.0
                for t in range(s + 1, e):
                    for j in range(n):
                        cur[j] = 0.0
                    for i in range(n):
                        a = prev[i]
                        if a != 0.0:
                            for j in range(n):
                                cur[j] += a * transmat[i, j]
                    total = 0.0
                    for j in range(n):
                        v = cur[j] * B[t, j]
                        cur[j] = v
                        total += v
                    if not total > 0.0:
                        ll = NEG_INF
                        break
                    if total < 1e-100 or total > 1e100:
                        ll += np.log(total)
                    else:
                        prod *= total
                        if prod < 1e-150 or prod > 1e150:
                            ll += np.log(prod)
                            prod = 1.0
                    inv = 1.0 / total
                    for j in range(n):
                        prev[j] = cur[j] * inv
                ll += np.log(prod)
            loglik[q] = ll
    return loglik


@njit(**PJIT)
def viterbi(logB, bounds, chunks, startprob, transmat):  # pragma: no cover
    """Most probable state path of each sequence.

    Parameters
    ----------
    logB : float64 array, shape (T, N)
        Log frame likelihoods.
    bounds, chunks : int64 arrays
        As in :func:`forward_backward`.
    startprob : float64 array, shape (N,)
    transmat : float64 array, shape (N, N)
        Probabilities; their logs are taken here with the C library's
        ``log`` (as hmmlearn does), so exact ties resolve the same way.

    Returns
    -------
    path : int64 array, shape (T,)
        The state of every row.  Exact ties (equal products of the same
        factors) are broken as hmmlearn breaks them: the final state is the
        lowest index, each back-pointer the highest.
    logprob : float64 array, shape (n_seq,)
        Log joint probability of each sequence and its path.
    """
    n = logB.shape[1]
    T = logB.shape[0]
    n_seq = len(bounds) - 1
    n_chunks = len(chunks) - 1
    path = np.zeros(T, dtype=np.int64)
    logprob = np.empty(n_seq)
    logAT = np.log(np.ascontiguousarray(transmat.T))
    log_startprob = np.log(startprob)
    for c in prange(n_chunks):
        maxlen = _chunk_maxlen(bounds, chunks[c], chunks[c + 1])
        back = np.empty((maxlen, n), dtype=np.int32)
        prev = np.empty(n)
        cur = np.empty(n)
        for q in range(chunks[c], chunks[c + 1]):
            s = bounds[q]
            e = bounds[q + 1]
            if e == s:
                logprob[q] = 0.0
                continue
            for j in range(n):
                prev[j] = log_startprob[j] + logB[s, j]
            for t in range(1, e - s):
                row = s + t
                for j in range(n):
                    best = NEG_INF
                    arg = 0
                    lj = logAT[j]
                    for i in range(n):
                        v = prev[i] + lj[i]
                        if v >= best:
                            best = v
                            arg = i
                    cur[j] = best + logB[row, j]
                    back[t, j] = arg
                for j in range(n):
                    prev[j] = cur[j]
            best = NEG_INF
            arg = 0
            for j in range(n):
                if prev[j] > best:
                    best = prev[j]
                    arg = j
            logprob[q] = best
            path[e - 1] = arg
            for t in range(e - s - 1, 0, -1):
                arg = back[t, arg]
                path[s + t - 1] = arg
    return path, logprob


@njit(**JIT)
def sample_states(startprob, transmat, u, bounds):  # pragma: no cover - jitted
    """Draw state paths from a Markov chain by inversion.

    Parameters
    ----------
    startprob : float64 array, shape (N,)
    transmat : float64 array, shape (N, N)
    u : float64 array, shape (T,)
        Uniform(0, 1) draws, one per row.
    bounds : int64 array, shape (n_seq + 1,)

    Returns
    -------
    int64 array, shape (T,)
    """
    n = startprob.shape[0]
    T = u.shape[0]
    states = np.empty(T, dtype=np.int64)
    n_seq = len(bounds) - 1
    for q in range(n_seq):
        prev = -1
        for t in range(bounds[q], bounds[q + 1]):
            acc = 0.0
            k = n - 1
            for j in range(n):
                acc += startprob[j] if prev < 0 else transmat[prev, j]
                if u[t] < acc:
                    k = j
                    break
            states[t] = k
            prev = k
    return states


# --------------------------------------------------------------------------
# emissions


@njit(**PJIT)
def exp_rows(logB, out, logscale):  # pragma: no cover - jitted
    """Split log frame likelihoods into ``out = exp(logB - m)`` and ``logscale = m``.

    ``m`` is the row maximum (0 for rows that are all ``-inf``).

    Parameters
    ----------
    logB : float64 array, shape (T, N)
    out : float64 array, shape (T, N)
    logscale : float64 array, shape (T,)
    """
    T, n = logB.shape
    for t in prange(T):
        m = NEG_INF
        for j in range(n):
            if logB[t, j] > m:
                m = logB[t, j]
        if m == NEG_INF or np.isnan(m):
            m = 0.0
        logscale[t] = m
        for j in range(n):
            out[t, j] = np.exp(logB[t, j] - m)


@njit(**PJIT)
def categorical_frames(X, emissionprob, out):  # pragma: no cover - jitted
    """Frame likelihoods of symbols; a symbol < 0 is missing (likelihood 1).

    Parameters
    ----------
    X : int64 array, shape (T,)
    emissionprob : float64 array, shape (N, K)
    out : float64 array, shape (T, N)
    """
    T = X.shape[0]
    n = emissionprob.shape[0]
    ET = np.ascontiguousarray(emissionprob.T)
    for t in prange(T):
        x = X[t]
        if x < 0:
            for j in range(n):
                out[t, j] = 1.0
        else:
            for j in range(n):
                out[t, j] = ET[x, j]


@njit(**PJIT)
def categorical_counts(gamma, X, n_symbols, chunk):  # pragma: no cover - jitted
    """Expected emission counts ``sum_t gamma[t, i] [X[t] == k]``.

    Parameters
    ----------
    gamma : float64 array, shape (T, N)
    X : int64 array, shape (T,)
        Symbols; negative values (missing) are skipped, NaN rows too.
    n_symbols : int
    chunk : int
        Rows per chunk (fixed, for thread-count-independent sums).

    Returns
    -------
    float64 array, shape (N, n_symbols)
    """
    T, n = gamma.shape
    n_chunks = max(1, (T + chunk - 1) // chunk)
    acc = np.zeros((n_chunks, n_symbols, n))
    for c in prange(n_chunks):
        for t in range(c * chunk, min(T, (c + 1) * chunk)):
            x = X[t]
            if x >= 0 and not np.isnan(gamma[t, 0]):
                for i in range(n):
                    acc[c, x, i] += gamma[t, i]
    counts = np.zeros((n, n_symbols))
    for c in range(n_chunks):
        for k in range(n_symbols):
            for i in range(n):
                counts[i, k] += acc[c, k, i]
    return counts


@njit(**PJIT)
def gaussian_logprob_diag(X, means, covars, out):  # pragma: no cover - jitted
    """Log densities of diagonal-covariance Gaussians.

    Parameters
    ----------
    X : float64 array, shape (T, d)
    means : float64 array, shape (N, d)
    covars : float64 array, shape (N, d)
        Variances.
    out : float64 array, shape (T, N)
    """
    T, d = X.shape
    n = means.shape[0]
    prec = 1.0 / covars
    const = np.empty(n)
    for i in range(n):
        v = d * np.log(2.0 * np.pi)
        for k in range(d):
            v += np.log(covars[i, k])
        const[i] = -0.5 * v
    for t in prange(T):
        for i in range(n):
            q = 0.0
            for k in range(d):
                z = X[t, k] - means[i, k]
                q += z * z * prec[i, k]
            out[t, i] = const[i] - 0.5 * q


@njit(**PJIT)
def gaussian_logprob_full(X, means, prec_chol, out):  # pragma: no cover - jitted
    """Log densities of full-covariance Gaussians.

    Parameters
    ----------
    X : float64 array, shape (T, d)
    means : float64 array, shape (N, d)
    prec_chol : float64 array, shape (N, d, d)
        Upper-triangular ``P`` with ``inv(covar) = P @ P.T``.
    out : float64 array, shape (T, N)
    """
    T, d = X.shape
    n = means.shape[0]
    const = np.empty(n)
    for i in range(n):
        v = 0.0
        for k in range(d):
            v += np.log(prec_chol[i, k, k])
        const[i] = v - 0.5 * d * np.log(2.0 * np.pi)
    for t in prange(T):
        z = np.empty(d)
        for i in range(n):
            for k in range(d):
                z[k] = X[t, k] - means[i, k]
            q = 0.0
            for k in range(d):
                y = 0.0
                for m in range(k + 1):
                    y += z[m] * prec_chol[i, m, k]
                q += y * y
            out[t, i] = const[i] - 0.5 * q


@njit(**PJIT)
def gaussian_moments(gamma, X, full, chunk):  # pragma: no cover - jitted
    """Posterior-weighted moments for the Gaussian M-step.

    Parameters
    ----------
    gamma : float64 array, shape (T, N)
        Rows of NaN (impossible sequences) are skipped.
    X : float64 array, shape (T, d)
    full : bool
        Whether to return full second moments (else diagonal).
    chunk : int
        Rows per chunk.

    Returns
    -------
    post : float64 array, shape (N,)
        ``sum_t gamma[t, i]``.
    obs : float64 array, shape (N, d)
        ``sum_t gamma[t, i] x_t``.
    obs2 : float64 array, shape (N, d, d) or (N, d, 1)
        ``sum_t gamma[t, i] x_t x_t^T`` (full) or the squares (diagonal, in
        ``obs2[:, :, 0]``).
    """
    T, n = gamma.shape
    d = X.shape[1]
    n_chunks = max(1, (T + chunk - 1) // chunk)
    d2 = d if full else 1
    post_acc = np.zeros((n_chunks, n))
    obs_acc = np.zeros((n_chunks, n, d))
    obs2_acc = np.zeros((n_chunks, n, d, d2))
    for c in prange(n_chunks):
        for t in range(c * chunk, min(T, (c + 1) * chunk)):
            if np.isnan(gamma[t, 0]):
                continue
            for i in range(n):
                g = gamma[t, i]
                post_acc[c, i] += g
                for k in range(d):
                    gx = g * X[t, k]
                    obs_acc[c, i, k] += gx
                    if full:
                        for m in range(d):
                            obs2_acc[c, i, k, m] += gx * X[t, m]
                    else:
                        obs2_acc[c, i, k, 0] += gx * X[t, k]
    post = np.zeros(n)
    obs = np.zeros((n, d))
    obs2 = np.zeros((n, d, d2))
    for c in range(n_chunks):
        for i in range(n):
            post[i] += post_acc[c, i]
            for k in range(d):
                obs[i, k] += obs_acc[c, i, k]
                for m in range(d2):
                    obs2[i, k, m] += obs2_acc[c, i, k, m]
    return post, obs, obs2
