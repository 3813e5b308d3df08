"""Numba kernels of :mod:`seqem.haplo.ld`: the two-locus maximum-likelihood solver."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._jit import JIT, PJIT

__all__ = ["two_locus"]


@njit(**JIT)
def _loglik(p, x11, x12, x21, x22, nd, pa, pb):  # pragma: no cover - jitted
    terms = (
        (x11, p),
        (x12, pa - p),
        (x21, pb - p),
        (x22, 1.0 - pa - pb + p),
        (nd, p * (1.0 - pa - pb + p) + (pa - p) * (pb - p)),
    )
    total = 0.0
    for count, prob in terms:
        if count > 0.0:
            if prob <= 0.0:
                return -np.inf
            total += count * np.log(prob)
    return total


@njit(**JIT)
def _cubic(p, c3, c2, c1, c0):  # pragma: no cover - jitted
    return ((c3 * p + c2) * p + c1) * p + c0


@njit(**JIT)
def _bisect(lo, hi, c3, c2, c1, c0):  # pragma: no cover - jitted
    """A root of the cubic in [lo, hi], where it changes sign (or NaN)."""
    flo = _cubic(lo, c3, c2, c1, c0)
    fhi = _cubic(hi, c3, c2, c1, c0)
    if flo == 0.0:
        return lo
    if fhi == 0.0:
        return hi
    if (flo > 0.0) == (fhi > 0.0):
        return np.nan
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        fm = _cubic(mid, c3, c2, c1, c0)
        if fm == 0.0:
            return mid
        if (fm > 0.0) == (flo > 0.0):
            lo, flo = mid, fm
        else:
            hi = mid
    return 0.5 * (lo + hi)


@njit(**JIT)
def two_locus(n00, n01, n02, n10, n11, n12, n20, n21, n22):  # pragma: no cover - jitted
    """Maximum-likelihood ALT-ALT haplotype frequency from a 3 x 3 genotype table.

    ``nij`` = people with ``i`` ALT alleles at the first SNP and ``j`` at the
    second.  Returns ``(p, pA, pB, n)``; ``p`` is NaN when nobody is called.
    """
    n = n00 + n01 + n02 + n10 + n11 + n12 + n20 + n21 + n22
    if n <= 0:
        return np.nan, np.nan, np.nan, 0.0
    two_n = 2.0 * n
    x11 = 2.0 * n22 + n21 + n12
    x12 = 2.0 * n20 + n21 + n10
    x21 = 2.0 * n02 + n12 + n01
    x22 = 2.0 * n00 + n01 + n10
    nd = n11
    pa = (x11 + x12 + nd) / two_n
    pb = (x11 + x21 + nd) / two_n
    lo = max(0.0, pa + pb - 1.0)
    hi = min(pa, pb)
    if nd == 0.0 or hi <= lo:
        return min(max(x11 / two_n, lo), hi), pa, pb, n
    # stationary points: (2n p - x11) f(p) - nd p (p + c) = 0 with
    # f(p) = 2p^2 + b p + a, c = 1 - pA - pB
    c = 1.0 - pa - pb
    b = 1.0 - 2.0 * pa - 2.0 * pb
    a = pa * pb
    c3 = 2.0 * two_n
    c2 = two_n * b - 2.0 * x11 - nd
    c1 = two_n * a - x11 * b - nd * c
    c0 = -x11 * a
    # monotone pieces of the cubic between its turning points
    cuts = np.empty(4)
    cuts[0] = lo
    m = 1
    disc = 4.0 * c2 * c2 - 12.0 * c3 * c1
    if disc > 0.0:
        s = np.sqrt(disc)
        for t in ((-2.0 * c2 - s) / (6.0 * c3), (-2.0 * c2 + s) / (6.0 * c3)):
            if lo < t < hi:
                cuts[m] = t
                m += 1
    cuts[m] = hi
    m += 1
    best_p = lo
    best = _loglik(lo, x11, x12, x21, x22, nd, pa, pb)
    value = _loglik(hi, x11, x12, x21, x22, nd, pa, pb)
    if value > best:
        best, best_p = value, hi
    for j in range(m - 1):
        r = _bisect(cuts[j], cuts[j + 1], c3, c2, c1, c0)
        if r == r:  # not NaN
            value = _loglik(r, x11, x12, x21, x22, nd, pa, pb)
            if value > best:
                best, best_p = value, r
    return best_p, pa, pb, n


@njit(**PJIT)
def _solve_pairs(counts):  # pragma: no cover - jitted
    """D, D', r2 and n for every row of ``counts`` (n_pairs, 9)."""
    n_pairs = counts.shape[0]
    out = np.empty((n_pairs, 4))
    for t in prange(n_pairs):
        c = counts[t]
        p, pa, pb, n = two_locus(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8])
        out[t, 3] = n
        var = pa * (1.0 - pa) * pb * (1.0 - pb)
        if not (var > 0.0):
            out[t, 0] = 0.0 if n > 0 else np.nan
            out[t, 1] = np.nan
            out[t, 2] = np.nan
            continue
        d = p - pa * pb
        if d >= 0.0:
            dmax = min(pa * (1.0 - pb), (1.0 - pa) * pb)
        else:
            dmax = min(pa * pb, (1.0 - pa) * (1.0 - pb))
        out[t, 0] = d
        out[t, 1] = min(abs(d) / dmax, 1.0) if dmax > 0.0 else np.nan
        out[t, 2] = d * d / var
    return out


@njit(**JIT)
def _put_int(buf, at, value):  # pragma: no cover - jitted
    """Write a non-negative integer's digits at ``at``; return the next free index."""
    if value == 0:
        buf[at] = 48
        return at + 1
    digits = 0
    v = value
    while v > 0:
        digits += 1
        v //= 10
    v = value
    for k in range(digits - 1, -1, -1):
        buf[at + k] = 48 + v % 10
        v //= 10
    return at + digits


@njit(**JIT)
def _put_fixed6(buf, at, x):  # pragma: no cover - jitted
    """Write ``x`` with six decimals (``NA`` if not finite); return the next free index."""
    if not np.isfinite(x):
        buf[at] = 78
        buf[at + 1] = 65
        return at + 2
    v = np.int64(np.rint(abs(x) * 1e6))
    if x < 0 and v > 0:
        buf[at] = 45
        at += 1
    at = _put_int(buf, at, v // 1000000)
    buf[at] = 46
    frac = v % 1000000
    for k in range(6, 0, -1):
        buf[at + k] = 48 + frac % 10
        frac //= 10
    return at + 7


@njit(**JIT)
def format_pairs(a, b, names, offsets, pos, n, d, dprime, r2):  # pragma: no cover - jitted
    """TSV rows ``name_a name_b pos_a pos_b n d dprime r2`` as bytes (six decimals)."""
    size = 0
    for t in range(a.size):
        size += offsets[a[t] + 1] - offsets[a[t]] + offsets[b[t] + 1] - offsets[b[t]] + 96
    buf = np.empty(size, dtype=np.uint8)
    at = 0
    for t in range(a.size):
        for s in (a[t], b[t]):
            for k in range(offsets[s], offsets[s + 1]):
                buf[at] = names[k]
                at += 1
            buf[at] = 9
            at += 1
        at = _put_int(buf, at, pos[a[t]])
        buf[at] = 9
        at = _put_int(buf, at + 1, pos[b[t]])
        buf[at] = 9
        at = _put_int(buf, at + 1, np.int64(n[t]))
        buf[at] = 9
        at = _put_fixed6(buf, at + 1, d[t])
        buf[at] = 9
        at = _put_fixed6(buf, at + 1, dprime[t])
        buf[at] = 9
        at = _put_fixed6(buf, at + 1, r2[t])
        buf[at] = 10
        at += 1
    return buf[:at]
