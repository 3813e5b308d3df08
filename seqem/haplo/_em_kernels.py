"""Numba kernels of :mod:`seqem.haplo.em`: phase enumeration and the E-step."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._jit import JIT, PJIT

__all__ = ["count_pairs", "fill_pairs", "haplotype_estep"]


@njit(**JIT)
def count_pairs(calls):  # pragma: no cover - jitted
    """Ordered haplotype pairs compatible with each person's genotypes.

    A heterozygous site doubles them (either haplotype carries ALT), a
    missing site quadruples them (each haplotype 0 or 1).
    """
    n, h = calls.shape
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        c = 1
        for j in range(h):
            g = calls[i, j]
            if g == 1:
                c *= 2
            elif g < 0:
                c *= 4
        out[i] = c
    return out


@njit(**JIT)
def fill_pairs(calls, offsets, first, second):  # pragma: no cover - jitted
    """Write every person's ordered pairs (haplotype codes, bit j = SNP j)."""
    n, h = calls.shape
    for i in range(n):
        base = 0
        free = np.empty(h, dtype=np.int64)  # sites with a choice
        kind = np.empty(h, dtype=np.int64)  # 1 heterozygous, 2 missing
        m = 0
        for j in range(h):
            g = calls[i, j]
            if g == 2:
                base |= 1 << j
            elif g == 1 or g < 0:
                free[m] = j
                kind[m] = 1 if g == 1 else 2
                m += 1
        start = offsets[i]
        count = offsets[i + 1] - start
        for t in range(count):
            a = base
            b = base
            code = t
            for u in range(m):
                j = free[u]
                if kind[u] == 1:
                    if code & 1:
                        a |= 1 << j
                    else:
                        b |= 1 << j
                    code >>= 1
                else:
                    if code & 1:
                        a |= 1 << j
                    if code & 2:
                        b |= 1 << j
                    code >>= 2
            first[start + t] = a
            second[start + t] = b


@njit(**PJIT)
def haplotype_estep(offsets, first, second, freq, chunks):  # pragma: no cover - jitted
    """Per-person log-likelihood and expected haplotype counts.

    ``L_i = sum over ordered pairs f_a f_b``; each pair's posterior share
    ``f_a f_b / L_i`` counts once for ``a`` and once for ``b``.  People are
    summed in fixed chunks, then the chunks in order (same result with any
    number of threads).
    """
    n = offsets.size - 1
    n_chunks = chunks.size - 1
    loglik = np.empty(n)
    acc = np.zeros((n_chunks, freq.size))
    for c in prange(n_chunks):
        for i in range(chunks[c], chunks[c + 1]):
            total = 0.0
            for t in range(offsets[i], offsets[i + 1]):
                total += freq[first[t]] * freq[second[t]]
            if total <= 0.0:
                loglik[i] = -np.inf
                continue
            loglik[i] = np.log(total)
            inv = 1.0 / total
            for t in range(offsets[i], offsets[i + 1]):
                w = freq[first[t]] * freq[second[t]] * inv
                acc[c, first[t]] += w
                acc[c, second[t]] += w
    counts = np.zeros(freq.size)
    for c in range(n_chunks):
        counts += acc[c]
    return loglik, counts
