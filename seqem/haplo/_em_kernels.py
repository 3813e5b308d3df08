"""Numba kernels of :mod:`seqem.haplo.em`: phase enumeration, E-step, scores.

The unit of work is a *genotype pattern* (a distinct row of calls, carried
with the number of people who have it) and its *unordered* compatible
haplotype pairs, stored CSR-style: ``first[k] <= second[k]`` and ``mult[k]``
is 2 for a heterozygous pair (both orders) and 1 for a homozygous one, so
that ``sum_k mult f_first f_second`` is the sum over ordered pairs.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._jit import JIT, PJIT

__all__ = [
    "accumulate",
    "fill_pairs",
    "keep_pairs",
    "pair_counts",
    "pair_posteriors",
    "pair_scores",
]


@njit(**JIT)
def pair_counts(patterns):  # pragma: no cover - jitted
    """Unordered haplotype pairs compatible with each pattern.

    With ``H`` heterozygous and ``M`` missing sites there are ``2^H 4^M``
    ordered pairs; only those with both haplotypes equal (``H = 0``: one
    choice per missing site, ``2^M``) are their own mirror image.
    """
    n, h = patterns.shape
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        het = 0
        miss = 0
        for j in range(h):
            g = patterns[i, j]
            if g == 1:
                het += 1
            elif g < 0:
                miss += 1
        ordered = (1 << het) << (2 * miss)
        if het == 0:
            out[i] = (ordered + (1 << miss)) // 2
        else:
            out[i] = ordered // 2
    return out


@njit(**PJIT)
def fill_pairs(patterns, offsets, first, second, mult):  # pragma: no cover - jitted
    """Write every pattern's unordered pairs (haplotype codes, bit j = SNP j).

    The ordered pairs are enumerated (a heterozygous site puts ALT on either
    haplotype, a missing site lets both be free) and a pair is kept when
    ``first <= second``.
    """
    n, h = patterns.shape
    for i in prange(n):
        free = np.empty(h, dtype=np.int64)
        kind = np.empty(h, dtype=np.int64)  # 1 heterozygous, 2 missing
        base = 0
        m = 0
        bits = 0
        for j in range(h):
            g = patterns[i, j]
            if g == 2:
                base |= 1 << j
            elif g == 1 or g < 0:
                free[m] = j
                kind[m] = 1 if g == 1 else 2
                bits += kind[m]
                m += 1
        k = offsets[i]
        for c in range(1 << bits):
            a = base
            b = base
            rest = c
            for t in range(m):
                bit = 1 << free[t]
                if kind[t] == 1:
                    if rest & 1:
                        a |= bit
                    else:
                        b |= bit
                    rest >>= 1
                else:
                    if rest & 1:
                        a |= bit
                    if rest & 2:
                        b |= bit
                    rest >>= 2
            if a < b:
                first[k] = a
                second[k] = b
                mult[k] = 2.0
                k += 1
            elif a == b:
                first[k] = a
                second[k] = a
                mult[k] = 1.0
                k += 1


def _pair_posteriors(
    offsets, first, second, mult, weight, f, post, loglik, scale
):  # pragma: no cover
    """E-step: each pair's expected number of people, each pattern's ln L.

    ``post[k] = weight_p mult_k f_a f_b / L_p`` (so a pattern's posts sum to
    its weight), ``loglik[p] = weight_p ln L_p`` (``-inf`` when no pair of
    the pattern has positive probability) and ``scale[p] = weight_p / L_p``
    (0 then).  Patterns run in parallel; every output element is written by
    one pattern only.
    """
    n = offsets.size - 1
    for p in prange(n):
        lo = offsets[p]
        hi = offsets[p + 1]
        total = 0.0
        for k in range(lo, hi):
            v = mult[k] * f[first[k]] * f[second[k]]
            post[k] = v
            total += v
        if total > 0.0:
            loglik[p] = weight[p] * np.log(total)
            scale[p] = weight[p] / total
            for k in range(lo, hi):
                post[k] *= scale[p]
        else:
            loglik[p] = -np.inf
            scale[p] = 0.0


#: Below this many pairs the serial E-step is faster than waking the thread pool.
PARALLEL_MIN_PAIRS = 200_000

pair_posteriors_serial = njit(**JIT)(_pair_posteriors)
pair_posteriors_parallel = njit(**PJIT)(_pair_posteriors)


def pair_posteriors(
    offsets, first, second, mult, weight, f, post, loglik, scale
):  # pragma: no cover
    """The E-step kernel, threaded over patterns for large problems only."""
    kernel = (
        pair_posteriors_parallel if first.size >= PARALLEL_MIN_PAIRS else pair_posteriors_serial
    )
    kernel(offsets, first, second, mult, weight, f, post, loglik, scale)


@njit(**JIT)
def accumulate(first, second, post, n_haplotypes):  # pragma: no cover - jitted
    """Expected haplotype counts: each pair's posterior to both its haplotypes."""
    counts = np.zeros(n_haplotypes)
    for k in range(first.size):
        counts[first[k]] += post[k]
        counts[second[k]] += post[k]
    return counts


@njit(**JIT)
def estep_serial(
    offsets, first, second, mult, weight, f, post, loglik, scale
):  # pragma: no cover - jitted
    """:func:`pair_posteriors` (serial) and :func:`accumulate` in one call: a small
    window's E-step costs less than calling into compiled code twice."""
    pair_posteriors_serial(offsets, first, second, mult, weight, f, post, loglik, scale)
    return accumulate(first, second, post, f.size)


@njit(**JIT)
def pair_scores(offsets, first, second, mult, scale, f, n_haplotypes):  # pragma: no cover
    """Gradient of ``sum_p weight_p ln L_p`` in every haplotype frequency.

    ``scale`` is :func:`pair_posteriors`' ``weight_p / L_p`` at ``f``.
    Defined for haplotypes at frequency zero too, which is what the
    optimality check of a boundary estimate needs (at a maximum every
    haplotype in use has gradient ``2 N`` and every unused one at most
    ``2 N``).
    """
    grad = np.zeros(n_haplotypes)
    for p in range(offsets.size - 1):
        c = scale[p]
        if c == 0.0:
            continue
        for k in range(offsets[p], offsets[p + 1]):
            grad[first[k]] += c * mult[k] * f[second[k]]
            grad[second[k]] += c * mult[k] * f[first[k]]
    return grad


@njit(**JIT)
def keep_pairs(offsets, post, weight, threshold):  # pragma: no cover - jitted
    """Pairs whose share of their pattern's posterior is at least ``threshold``.

    A pattern always keeps its most probable pair.
    """
    keep = np.zeros(post.size, dtype=np.bool_)
    for p in range(offsets.size - 1):
        lo = offsets[p]
        hi = offsets[p + 1]
        best = lo
        for k in range(lo, hi):
            if post[k] >= threshold * weight[p]:
                keep[k] = True
            if post[k] > post[best]:
                best = k
        if hi > lo:
            keep[best] = True
    return keep


@njit(**JIT)
def select_pairs(offsets, first, second, mult, keep, n_haplotypes):  # pragma: no cover
    """The kept pairs as a CSR problem over the haplotypes they use.

    Returns the new offsets, the pair members as indices into the used
    haplotypes (in code order), their multiplicities and the used mask.
    """
    n_pat = offsets.size - 1
    used = np.zeros(n_haplotypes, dtype=np.bool_)
    n_keep = 0
    for k in range(first.size):
        if keep[k]:
            used[first[k]] = True
            used[second[k]] = True
            n_keep += 1
    local = np.empty(n_haplotypes, dtype=np.int64)
    j = 0
    for h in range(n_haplotypes):
        local[h] = j
        if used[h]:
            j += 1
    new_offsets = np.empty(n_pat + 1, dtype=np.int64)
    a = np.empty(n_keep, dtype=np.int64)
    b = np.empty(n_keep, dtype=np.int64)
    m = np.empty(n_keep)
    new_offsets[0] = 0
    j = 0
    for p in range(n_pat):
        for k in range(offsets[p], offsets[p + 1]):
            if keep[k]:
                a[j] = local[first[k]]
                b[j] = local[second[k]]
                m[j] = mult[k]
                j += 1
        new_offsets[p + 1] = j
    return new_offsets, a, b, m, used


@njit(**JIT)
def pattern_scores(offsets, first, second, mult, f, index, k):  # pragma: no cover
    """Each pattern's gradient of ``ln L_p`` in the haplotypes with ``index >= 0``.

    Row ``p``, column ``index[h]``: ``sum over pairs holding h of mult times
    the other frequency``, over ``L_p``; pairs with a haplotype outside the
    index are left out (their frequencies are held fixed).
    """
    n_pat = offsets.size - 1
    out = np.zeros((n_pat, k))
    for p in range(n_pat):
        total = 0.0
        for q in range(offsets[p], offsets[p + 1]):
            total += mult[q] * f[first[q]] * f[second[q]]
        if total <= 0.0:
            continue
        for q in range(offsets[p], offsets[p + 1]):
            a = index[first[q]]
            b = index[second[q]]
            if a < 0 or b < 0:
                continue
            out[p, a] += mult[q] * f[second[q]] / total
            out[p, b] += mult[q] * f[first[q]] / total
    return out


@njit(**JIT)
def _allocate(bound):  # pragma: no cover - jitted
    """Pair arrays for at most ``bound.sum()`` pairs, and offsets (first entry 0)."""
    total = 0
    for p in range(bound.size):
        total += bound[p]
    offsets = np.empty(bound.size + 1, dtype=np.int64)
    offsets[0] = 0
    return (
        np.empty(total, dtype=np.int64),
        np.empty(total, dtype=np.int64),
        np.empty(total),
        offsets,
    )


@njit(**JIT)
def ligated_counts(left_of, right_of, l_off, r_off):  # pragma: no cover - jitted
    """Ordered combinations of each pattern's left and right ordered pairs."""
    n = left_of.size
    out = np.empty(n, dtype=np.int64)
    for p in range(n):
        lp = left_of[p]
        rp = right_of[p]
        out[p] = (l_off[lp + 1] - l_off[lp]) * (r_off[rp + 1] - r_off[rp])
    return out


@njit(**JIT)
def fill_ligated(  # pragma: no cover - jitted
    left_of, right_of, l_off, l_a, l_b, l_w, r_off, r_a, r_b, r_w, shift, bound
):
    """Unordered pairs of the joined window from ordered half-window pairs.

    Every ordered left pair ``(la, lb)`` is joined with every ordered right
    pair ``(ra, rb)`` into ``(la | ra << shift, lb | rb << shift)``; the
    set is closed under swapping, so keeping ``first <= second`` gives each
    unordered pair once (multiplicity 2, or 1 when both are equal, times the
    halves' weights ``l_w`` and ``r_w``: genotype likelihoods, or 1).
    ``bound`` holds each pattern's upper bound of pairs; returns the
    offsets and the pairs.
    """
    n = left_of.size
    first, second, mult, offsets = _allocate(bound)
    k = 0
    for p in range(n):
        lp = left_of[p]
        rp = right_of[p]
        for i in range(l_off[lp], l_off[lp + 1]):
            for j in range(r_off[rp], r_off[rp + 1]):
                a = l_a[i] | (r_a[j] << shift)
                b = l_b[i] | (r_b[j] << shift)
                if a < b:
                    first[k] = a
                    second[k] = b
                    mult[k] = 2.0 * l_w[i] * r_w[j]
                    k += 1
                elif a == b:
                    first[k] = a
                    second[k] = a
                    mult[k] = l_w[i] * r_w[j]
                    k += 1
        offsets[p + 1] = k
    return offsets, first[:k], second[:k], mult[:k]


@njit(**JIT)
def likelihood_pair_bounds(gl, threshold):  # pragma: no cover - jitted
    """Ordered pairs each pattern of genotype likelihoods allows.

    At every SNP the genotypes whose relative likelihood is at least
    ``threshold`` are allowed: 0 and 2 ALT alleles one allele pair each, 1
    ALT allele two (either haplotype carries it).
    """
    n, h, _ = gl.shape
    out = np.empty(n, dtype=np.int64)
    for p in range(n):
        c = 1
        for j in range(h):
            k = 0
            if gl[p, j, 0] >= threshold:
                k += 1
            if gl[p, j, 1] >= threshold:
                k += 2
            if gl[p, j, 2] >= threshold:
                k += 1
            c *= k
        out[p] = c
    return out


@njit(**JIT)
def fill_likelihood_pairs(gl, threshold, bound):  # pragma: no cover - jitted
    """Unordered pairs of each pattern with their genotype-likelihood weights.

    ``mult`` is the product over SNPs of the likelihood of the pair's
    genotype, times 2 for a heterozygous pair (both orders).  Returns the
    offsets and the pairs.
    """
    n, h, _ = gl.shape
    first, second, mult, offsets = _allocate(bound)
    opt_a = np.empty((h, 4), dtype=np.int64)
    opt_b = np.empty((h, 4), dtype=np.int64)
    opt_w = np.empty((h, 4))
    n_opt = np.empty(h, dtype=np.int64)
    digit = np.empty(h, dtype=np.int64)
    k = 0
    for p in range(n):
        for j in range(h):
            m = 0
            if gl[p, j, 0] >= threshold:
                opt_a[j, m] = 0
                opt_b[j, m] = 0
                opt_w[j, m] = gl[p, j, 0]
                m += 1
            if gl[p, j, 1] >= threshold:
                opt_a[j, m] = 1
                opt_b[j, m] = 0
                opt_w[j, m] = gl[p, j, 1]
                opt_a[j, m + 1] = 0
                opt_b[j, m + 1] = 1
                opt_w[j, m + 1] = gl[p, j, 1]
                m += 2
            if gl[p, j, 2] >= threshold:
                opt_a[j, m] = 1
                opt_b[j, m] = 1
                opt_w[j, m] = gl[p, j, 2]
                m += 1
            n_opt[j] = m
            digit[j] = 0
        for _ in range(bound[p]):
            a = 0
            b = 0
            w = 1.0
            for j in range(h):
                d = digit[j]
                a |= opt_a[j, d] << j
                b |= opt_b[j, d] << j
                w *= opt_w[j, d]
            if a < b:
                first[k] = a
                second[k] = b
                mult[k] = 2.0 * w
                k += 1
            elif a == b:
                first[k] = a
                second[k] = a
                mult[k] = w
                k += 1
            # next combination (mixed radix)
            for j in range(h):
                digit[j] += 1
                if digit[j] < n_opt[j]:
                    break
                digit[j] = 0
        offsets[p + 1] = k
    return offsets, first[:k], second[:k], mult[:k]
