"""Numba kernels of :mod:`seqem.haplo.cluster`: the haplotype-cluster HMM.

Model (Scheet & Stephens 2006).  Each haplotype walks along the SNPs through
``K`` clusters: at SNP 0 it starts in cluster ``k`` with probability
``alpha[0, k]``; between SNP ``m - 1`` and ``m`` it jumps with probability
``jump[m]`` and then lands in ``k`` with probability ``alpha[m, k]`` (possibly
its old cluster), otherwise it stays.  In cluster ``k`` at SNP ``m`` it
carries ALT with probability ``theta[m, k]``.  A person's two haplotypes are
independent walks, so the diploid hidden state is the ordered cluster pair
``(k1, k2)``; the genotype (ALT count) is emitted by the pair, a missing
call with probability one.

Forward-backward over the ``K^2`` pairs costs ``O(K^2)`` per SNP, not
``O(K^4)``: the pair transition is the product of two single-haplotype
transitions ``(1 - J) delta + J alpha``, so the predicted pair probability is

    (1-J)^2 F(k1, k2) + (1-J) J (alpha_k2 R(k1) + alpha_k1 R(k2)) + J^2 alpha_k1 alpha_k2

with ``R`` the row sums of the (normalised) forward matrix ``F``.  Every
pair matrix is symmetric (the two haplotypes are exchangeable), so only
``k1 <= k2`` is computed and stored (packed upper triangle, row by row:
``(0, 0), (0, 1), ..., (0, K-1), (1, 1), ...``); the inner loops run over
contiguous memory.  Forward rows are scaled to sum to one; a person's log-likelihood
is the sum of the logs of the scale factors (``c[m]``), and backward
quantities are divided by the same factors.

Array conventions (every kernel):

``calls``  int8 (n_people, n_snps): ALT counts 0/1/2, -1 missing.
``theta``  float64 (n_snps, K): P(ALT | cluster), strictly inside (0, 1).
``alpha``  float64 (n_snps, K): landing weights, rows sum to one (row 0 is
           the starting distribution).
``jump``   float64 (n_snps,): jump probability into SNP ``m`` (``jump[0]`` unused).
``chunks`` int64 (n_chunks + 1,): person boundaries of the work chunks, fixed
           independently of the thread count; per-chunk sums are reduced in
           chunk order, so any number of threads gives the same bits.

Per person the kernels hold one ``(n_snps, K (K + 1) / 2)`` packed forward
array (allocated once per chunk) and a few packed pair work arrays.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._jit import JIT, PJIT

__all__ = [
    "cluster_estep",
    "copy_phase",
    "forward",
    "n_pairs",
    "genotype_posteriors",
    "nearest_haplotypes",
    "sample_phase",
]


@njit(**JIT)
def _emission_line(g, t1):  # pragma: no cover - jitted
    """``(A, B)`` with P(genotype ``g`` | clusters with ALT probabilities t1, t2) = A + B t2."""
    if g == 0:
        return 1.0 - t1, t1 - 1.0
    if g == 2:
        return 0.0, t1
    if g == 1:
        return t1, 1.0 - 2.0 * t1
    return 1.0, 0.0


@njit(**JIT)
def n_pairs(K):  # pragma: no cover - jitted
    """Unordered cluster pairs ``K (K + 1) / 2`` (length of a packed pair matrix)."""
    return K * (K + 1) // 2


@njit(**JIT)
def forward(g, theta, alpha, jump, F, R, c):  # pragma: no cover - jitted
    """Scaled forward pass of one person; returns the log-likelihood.

    Pair matrices are symmetric and stored packed: the upper triangle row
    by row (``(k1, k2)``, ``k1 <= k2``), ``K (K + 1) / 2`` numbers.

    Parameters
    ----------
    g : int8 array (n_snps,)
        The person's calls.
    F : float64 array (n_snps, K (K + 1) / 2), written
        Normalised forward probabilities of the ordered pairs (the full
        symmetric matrix of each SNP sums to one).
    R : float64 array (n_snps, K), written
        Row sums of the full matrices.
    c : float64 array (n_snps,), written
        Scale factors (``P(g_m | g_0..g_{m-1})``).
    """
    M, K = theta.shape
    ll = 0.0
    for m in range(M):
        gm = g[m]
        t = theta[m]
        a = alpha[m]
        Fm = F[m]
        Rm = R[m]
        for k in range(K):
            Rm[k] = 0.0
        idx = 0
        if m == 0:
            for k1 in range(K):
                A, Bc = _emission_line(gm, t[k1])
                a1 = a[k1]
                row = 0.0
                for k2 in range(k1, K):
                    v = a1 * a[k2] * (A + Bc * t[k2])
                    Fm[idx] = v
                    idx += 1
                    row += v
                    Rm[k2] += v
                Rm[k1] += row - Fm[idx - K + k1]  # the diagonal was added to both
        else:
            J = jump[m]
            s = 1.0 - J
            ss = s * s
            sj = s * J
            jj = J * J
            Fp = F[m - 1]
            Rp = R[m - 1]
            for k1 in range(K):
                A, Bc = _emission_line(gm, t[k1])
                ca = sj * Rp[k1] + jj * a[k1]  # coefficient of a[k2]
                cr = sj * a[k1]  # coefficient of Rp[k2]
                row = 0.0
                for k2 in range(k1, K):
                    v = (ss * Fp[idx] + ca * a[k2] + cr * Rp[k2]) * (A + Bc * t[k2])
                    Fm[idx] = v
                    idx += 1
                    row += v
                    Rm[k2] += v
                Rm[k1] += row - Fm[idx - K + k1]
        total = 0.0
        for k in range(K):
            total += Rm[k]
        inv = 1.0 / total
        for j in range(Fm.size):
            Fm[j] *= inv
        for k in range(K):
            Rm[k] *= inv
        c[m] = total
        ll += np.log(total)
    return ll


@njit(**JIT)
def _backward_step(gm, t, a, J, cm, B, G, U):  # pragma: no cover - jitted
    """Replace ``B`` (packed scaled backward at SNP m) by the one at SNP m - 1.

    Leaves ``G = e_m * B_m / c_m`` (packed) in ``G`` for the jump counts.
    """
    K = t.size
    inv = 1.0 / cm
    for k in range(K):
        U[k] = 0.0
    idx = 0
    for k1 in range(K):
        A, Bc = _emission_line(gm, t[k1])
        A *= inv
        Bc *= inv
        a1 = a[k1]
        u = 0.0
        for k2 in range(k1, K):
            v = (A + Bc * t[k2]) * B[idx]
            G[idx] = v
            idx += 1
            u += a[k2] * v
            U[k2] += a1 * v
        U[k1] += u - a1 * G[idx - K + k1]
    W = 0.0
    for k in range(K):
        W += a[k] * U[k]
    s = 1.0 - J
    ss = s * s
    sj = s * J
    jjw = J * J * W
    idx = 0
    for k1 in range(K):
        base = sj * U[k1] + jjw
        for k2 in range(k1, K):
            B[idx] = ss * G[idx] + sj * U[k2] + base
            idx += 1


@njit(**JIT)
def _person_counts(
    g, theta, alpha, jump, F, R, c, B, G, U, P, occ, ones, jumps
):  # pragma: no cover
    """Backward pass of one person, adding expected counts.

    ``occ[m, k]`` gains the expected number of the person's haplotypes in
    cluster ``k`` at SNP ``m``, ``ones[m, k]`` those of them carrying ALT,
    ``jumps[m, k]`` the expected jumps landing in ``k`` at ``m`` (at ``m = 0``
    every haplotype counts as landing).  ``B``, ``G`` are packed pair work
    arrays, ``U``, ``P`` length-K work arrays.
    """
    M, K = theta.shape
    for j in range(B.size):
        B[j] = 1.0
    for m in range(M - 1, -1, -1):
        gm = g[m]
        t = theta[m]
        Fm = F[m]
        # posterior of the pair: ordered-pair row sums (U) and, at a
        # heterozygous SNP, the expected ALT carried by each row's cluster (P)
        for k in range(K):
            U[k] = 0.0
            P[k] = 0.0
        idx = 0
        for k1 in range(K):
            t1 = t[k1]
            w = Fm[idx] * B[idx]  # diagonal: both haplotypes in k1
            idx += 1
            U[k1] += w
            P[k1] += 0.5 * w
            for k2 in range(k1 + 1, K):
                w = Fm[idx] * B[idx]
                idx += 1
                U[k1] += w
                U[k2] += w
                if gm == 1:
                    t2 = t[k2]
                    x = t1 * (1.0 - t2)
                    share = x / (x + (1.0 - t1) * t2)  # haplotype in k1 carries ALT
                    P[k1] += w * share
                    P[k2] += w * (1.0 - share)
        for k in range(K):
            occ[m, k] += 2.0 * U[k]
            if gm == 2:
                ones[m, k] += 2.0 * U[k]
            elif gm == 1:
                ones[m, k] += 2.0 * P[k]
            elif gm < 0:
                ones[m, k] += 2.0 * U[k] * t[k]
        if m == 0:
            for k in range(K):
                jumps[0, k] += 2.0 * U[k]
            break
        a = alpha[m]
        J = jump[m]
        _backward_step(gm, t, a, J, c[m], B, G, U)
        # jumps landing in k at m, both haplotypes:
        # 2 J a_k sum_k' G(k, k') (s R_{m-1}(k') + J a_k')
        s = 1.0 - J
        Rp = R[m - 1]
        for k in range(K):
            P[k] = s * Rp[k] + J * a[k]
            U[k] = 0.0
        idx = 0
        for k1 in range(K):
            acc = 0.0
            p1 = P[k1]
            for k2 in range(k1, K):
                v = G[idx]
                idx += 1
                acc += v * P[k2]
                U[k2] += v * p1
            U[k1] += acc - G[idx - K + k1] * p1
        for k in range(K):
            jumps[m, k] += 2.0 * J * a[k] * U[k]


@njit(**PJIT)
def cluster_estep(calls, theta, alpha, jump, chunks):  # pragma: no cover - jitted
    """Per-person log-likelihoods and expected counts (E-step).

    Returns
    -------
    loglik : float64 array (n_people,)
    occ, ones, jumps : float64 arrays (n_snps, K)
        Summed over people; see :func:`_person_counts`.
    """
    n, M = calls.shape
    K = theta.shape[1]
    Q = n_pairs(K)
    n_chunks = chunks.size - 1
    loglik = np.empty(n)
    acc = np.zeros((n_chunks, 3, M, K))
    for ch in prange(n_chunks):
        F = np.empty((M, Q))
        R = np.empty((M, K))
        c = np.empty(M)
        B = np.empty(Q)
        G = np.empty(Q)
        U = np.empty(K)
        P = np.empty(K)
        for i in range(chunks[ch], chunks[ch + 1]):
            g = calls[i]
            loglik[i] = forward(g, theta, alpha, jump, F, R, c)
            _person_counts(
                g, theta, alpha, jump, F, R, c, B, G, U, P, acc[ch, 0], acc[ch, 1], acc[ch, 2]
            )
    occ = np.zeros((M, K))
    ones = np.zeros((M, K))
    jumps = np.zeros((M, K))
    for ch in range(n_chunks):
        occ += acc[ch, 0]
        ones += acc[ch, 1]
        jumps += acc[ch, 2]
    return loglik, occ, ones, jumps


@njit(**PJIT)
def genotype_posteriors(calls, theta, alpha, jump, rows, chunks):  # pragma: no cover - jitted
    """Posterior genotype probabilities of the people in ``rows``.

    Parameters
    ----------
    rows : int64 array (n_rows,)
        People to compute (rows of ``calls``).
    chunks : int64 array
        Boundaries into ``rows``.

    Returns
    -------
    float64 array (n_rows, n_snps, 3)
        ``P(ALT count = 0, 1, 2 | the person's calls)`` at every SNP.
    """
    M, K = theta.shape
    Q = n_pairs(K)
    n_chunks = chunks.size - 1
    out = np.zeros((rows.size, M, 3))
    for ch in prange(n_chunks):
        F = np.empty((M, Q))
        R = np.empty((M, K))
        c = np.empty(M)
        B = np.empty(Q)
        G = np.empty(Q)
        U = np.empty(K)
        for r in range(chunks[ch], chunks[ch + 1]):
            g = calls[rows[r]]
            forward(g, theta, alpha, jump, F, R, c)
            for j in range(Q):
                B[j] = 1.0
            for m in range(M - 1, -1, -1):
                t = theta[m]
                if g[m] < 0:
                    Fm = F[m]
                    p0 = 0.0
                    p2 = 0.0
                    tot = 0.0
                    idx = 0
                    for k1 in range(K):
                        for k2 in range(k1, K):
                            w = Fm[idx] * B[idx]
                            idx += 1
                            if k2 > k1:
                                w *= 2.0
                            tot += w
                            p0 += w * (1.0 - t[k1]) * (1.0 - t[k2])
                            p2 += w * t[k1] * t[k2]
                    out[r, m, 0] = p0 / tot
                    out[r, m, 2] = p2 / tot
                    out[r, m, 1] = max(0.0, 1.0 - (p0 + p2) / tot)
                else:
                    out[r, m, g[m]] = 1.0
                if m > 0:
                    _backward_step(g[m], t, alpha[m], jump[m], c[m], B, G, U)
    return out


@njit(**JIT)
def _next_uniform(state):  # pragma: no cover - jitted
    """SplitMix64 step: the new state and a uniform double in [0, 1)."""
    state = state + np.uint64(0x9E3779B97F4A7C15)
    z = state
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return state, float(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(**JIT)
def _pick_pair(Fm, K, state):  # pragma: no cover - jitted
    """An ordered pair drawn from a packed symmetric matrix; returns (state, k1, k2)."""
    total = 0.0
    idx = 0
    for k1 in range(K):
        total += Fm[idx]
        idx += 1
        for _ in range(k1 + 1, K):
            total += 2.0 * Fm[idx]
            idx += 1
    state, u = _next_uniform(state)
    target = u * total
    acc = 0.0
    idx = 0
    for k1 in range(K):
        acc += Fm[idx]
        idx += 1
        if acc > target:
            return state, k1, k1
        for k2 in range(k1 + 1, K):
            acc += 2.0 * Fm[idx]
            idx += 1
            if acc > target:
                state, u = _next_uniform(state)
                if u < 0.5:
                    return state, k1, k2
                return state, k2, k1
    return state, K - 1, K - 1


@njit(**JIT)
def _pick_in_row(Fm, k, total, K, u):  # pragma: no cover - jitted
    """A column drawn from row ``k`` of a packed symmetric matrix (row sum ``total``)."""
    target = u * total
    acc = 0.0
    for j in range(K):
        if j <= k:
            acc += Fm[j * K - j * (j - 1) // 2 + k - j]
        else:
            acc += Fm[k * K - k * (k - 1) // 2 + j - k]
        if acc > target:
            return j
    return K - 1


@njit(**JIT)
def _sample_path(theta, alpha, jump, F, R, state, z1, z2):  # pragma: no cover - jitted
    """Draw the cluster pair path from its posterior (backward sampling)."""
    M, K = theta.shape
    state, k1, k2 = _pick_pair(F[M - 1], K, state)
    z1[M - 1] = k1
    z2[M - 1] = k2
    for m in range(M - 1, 0, -1):
        J = jump[m]
        s = 1.0 - J
        a = alpha[m]
        Fp = F[m - 1]
        Rp = R[m - 1]
        # the weight of (k1p, k2p) at m - 1 is Fp(k1p, k2p) T(k1p, k1) T(k2p, k2),
        # T = s delta + J a: four terms (stay/jump for each haplotype)
        lo = min(k1, k2)
        hi = max(k1, k2)
        w_ss = s * s * Fp[lo * K - lo * (lo - 1) // 2 + hi - lo]
        w_sj = s * J * a[k2] * Rp[k1]  # haplotype 1 stays, 2 jumps
        w_js = s * J * a[k1] * Rp[k2]  # 1 jumps, 2 stays
        w_jj = J * J * a[k1] * a[k2]
        state, u = _next_uniform(state)
        u *= w_ss + w_sj + w_js + w_jj
        if u < w_ss:
            pass
        elif u < w_ss + w_sj:
            state, u = _next_uniform(state)
            k2 = _pick_in_row(Fp, k1, Rp[k1], K, u)
        elif u < w_ss + w_sj + w_js:
            state, u = _next_uniform(state)
            k1 = _pick_in_row(Fp, k2, Rp[k2], K, u)
        else:
            state, k1, k2 = _pick_pair(Fp, K, state)
        z1[m - 1] = k1
        z2[m - 1] = k2
    return state


@njit(**JIT)
def _draw_person(
    g, theta, alpha, jump, F, R, c, z1, z2, n_samples, state, same, draws
):  # pragma: no cover
    """Posterior draws of one person (``F``, ``R``, ``c`` from :func:`forward`).

    ``same`` (n_snps,) gains, at each heterozygous SNP after the first, the
    draws whose first haplotype carries the same allele as at the previous
    heterozygous SNP; ``draws`` (n_draws, 2, n_snps) receives the haplotypes
    when it is not empty.  Returns the generator state.
    """
    M = g.size
    keep = draws.shape[0] > 0
    for d in range(n_samples):
        state = _sample_path(theta, alpha, jump, F, R, state, z1, z2)
        prev = -1
        for m in range(M):
            gm = g[m]
            if gm == 1:
                t1 = theta[m, z1[m]]
                t2 = theta[m, z2[m]]
                x = t1 * (1.0 - t2)
                state, u = _next_uniform(state)
                h1 = 1 if u * (x + (1.0 - t1) * t2) < x else 0
                if prev >= 0 and h1 == prev:
                    same[m] += 1.0
                prev = h1
                if keep:
                    draws[d, 0, m] = h1
                    draws[d, 1, m] = 1 - h1
            elif keep:
                h = 1 if gm == 2 else 0
                draws[d, 0, m] = h
                draws[d, 1, m] = h
    return state


@njit(**JIT)
def _seed_state(seed, i):  # pragma: no cover - jitted
    return np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(i)


@njit(**PJIT)
def sample_phase(
    calls, theta, alpha, jump, n_samples, seed, chunks, same, draws
):  # pragma: no cover
    """Draw haplotype pairs from the posterior and count phase agreements.

    ``calls`` must have no missing call.  For every person and draw, the
    cluster path is drawn by backward sampling, then at each heterozygous
    SNP which haplotype carries ALT (``t1 (1 - t2)`` against ``(1 - t1) t2``).

    Parameters
    ----------
    n_samples : int
        Draws per person.
    seed : int
        Draws of person ``i`` come from the stream ``(seed, i)``: the same
        with any number of threads.
    same : float64 array (n_people, n_snps), updated
        At each heterozygous SNP after a person's first, ``same[i, m]`` gains
        the number of draws whose first haplotype carries the same allele
        here as at the previous heterozygous SNP.
    draws : int8 array (n_people, n_samples, 2, n_snps) or (0, 0, 0, 0), written
        When not empty, the drawn haplotypes (0/1).
    """
    n, M = calls.shape
    K = theta.shape[1]
    n_chunks = chunks.size - 1
    keep = draws.shape[0] > 0
    for ch in prange(n_chunks):
        F = np.empty((M, n_pairs(K)))
        R = np.empty((M, K))
        c = np.empty(M)
        z1 = np.empty(M, dtype=np.int64)
        z2 = np.empty(M, dtype=np.int64)
        none = np.zeros((0, 2, M), dtype=np.int8)
        for i in range(chunks[ch], chunks[ch + 1]):
            g = calls[i]
            forward(g, theta, alpha, jump, F, R, c)
            out = draws[i] if keep else none
            _draw_person(
                g, theta, alpha, jump, F, R, c, z1, z2, n_samples, _seed_state(seed, i),
                same[i], out,
            )  # fmt: skip
    return same


@njit(**JIT)
def _popcount(x):  # pragma: no cover - jitted
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return (x * np.uint64(0x0101010101010101)) >> np.uint64(56)


@njit(**PJIT)
def nearest_haplotypes(packed, n_ref, chunks):  # pragma: no cover - jitted
    """Each person's ``n_ref`` reference haplotypes: the nearest to either of theirs.

    Parameters
    ----------
    packed : uint64 array (2 n_people, n_words)
        Haplotypes ``2 i`` and ``2 i + 1`` of person ``i``, 64 SNPs a word.
    n_ref : int
        References per person (at most ``2 n_people - 2``).

    Returns
    -------
    int64 array (n_people, n_ref)
        Half the nearest (Hamming distance, ties by index) to the person's
        first haplotype, the rest the nearest to the second not already
        chosen; the person's own haplotypes are never chosen.
    """
    H, W = packed.shape
    n = H // 2
    n_chunks = chunks.size - 1
    refs = np.empty((n, n_ref), dtype=np.int64)
    for ch in prange(n_chunks):
        d1 = np.empty(H, dtype=np.int64)
        d2 = np.empty(H, dtype=np.int64)
        taken = np.zeros(H, dtype=np.bool_)
        for i in range(chunks[ch], chunks[ch + 1]):
            a = 2 * i
            for j in range(H):
                s1 = 0
                s2 = 0
                for w in range(W):
                    s1 += _popcount(packed[j, w] ^ packed[a, w])
                    s2 += _popcount(packed[j, w] ^ packed[a + 1, w])
                d1[j] = s1
                d2[j] = s2
            # own haplotypes last
            d1[a] = d1[a + 1] = 1 << 40
            d2[a] = d2[a + 1] = 1 << 40
            o1 = np.argsort(d1, kind="mergesort")
            o2 = np.argsort(d2, kind="mergesort")
            taken[:] = False
            half = n_ref // 2
            for r in range(half):
                refs[i, r] = o1[r]
                taken[o1[r]] = True
            r = half
            t = 0
            while r < n_ref:
                j = o2[t]
                t += 1
                if not taken[j]:
                    refs[i, r] = j
                    taken[j] = True
                    r += 1
    return refs


@njit(**PJIT)
def copy_phase(calls, haps, refs, error, jump, n_samples, seed, chunks, same):  # pragma: no cover
    """Phase draws with other people's haplotypes as the clusters (Li-Stephens).

    Person ``i``'s clusters are the haplotypes ``haps[refs[i]]``: cluster
    ``k`` emits the allele of its haplotype with probability ``1 - error``;
    landing weights are uniform.  The same pair forward pass and posterior
    draws as :func:`sample_phase` then vote in ``same``.

    Parameters
    ----------
    calls : int8 array (n_people, n_snps), no missing call
    haps : int8 array (2 n_people, n_snps)
        Current haplotypes (0/1).
    refs : int64 array (n_people, n_ref)
        Rows of ``haps`` each person copies from.
    error : float
        Copying error probability.
    jump : float64 array (n_snps,)
        Probability of switching the copied haplotype into SNP ``m``.
    """
    n, M = calls.shape
    K = refs.shape[1]
    n_chunks = chunks.size - 1
    for ch in prange(n_chunks):
        F = np.empty((M, n_pairs(K)))
        R = np.empty((M, K))
        c = np.empty(M)
        z1 = np.empty(M, dtype=np.int64)
        z2 = np.empty(M, dtype=np.int64)
        theta = np.empty((M, K))
        alpha = np.full((M, K), 1.0 / K)
        none = np.zeros((0, 2, M), dtype=np.int8)
        for i in range(chunks[ch], chunks[ch + 1]):
            for k in range(K):
                h = haps[refs[i, k]]
                for m in range(M):
                    theta[m, k] = 1.0 - error if h[m] == 1 else error
            g = calls[i]
            forward(g, theta, alpha, jump, F, R, c)
            _draw_person(
                g, theta, alpha, jump, F, R, c, z1, z2, n_samples, _seed_state(seed, i),
                same[i], none,
            )  # fmt: skip
    return same
