"""Pairwise linkage disequilibrium from unphased genotypes.

For two biallelic SNPs the haplotype frequencies are estimated by maximum
likelihood from the people called at both (Hill 1974): every genotype pair
but the double heterozygote fixes its two haplotypes, and the likelihood of
the frequency ``p`` of the ALT-ALT haplotype is

    x11 ln p + x12 ln(pA - p) + x21 ln(pB - p) + x22 ln(1 - pA - pB + p)
    + nd ln(p (1 - pA - pB + p) + (pA - p)(pB - p)),

with ``x..`` the haplotypes fixed by the other genotypes, ``nd`` the double
heterozygotes and ``pA``, ``pB`` the ALT allele frequencies among those
people (every stationary point keeps them: each double heterozygote carries
one ALT allele at each SNP whatever its phase).  The stationary points are
the roots of a cubic (Gaunt, Rodriguez & Day 2007); the kernel brackets the
roots inside the feasible interval between the cubic's turning points, solves
each by bisection to machine precision and keeps the one (or the interval
end) with the largest likelihood.  A fixed number of EM steps is not enough:
where one haplotype is absent the optimum is on the boundary and EM creeps
towards it.

Reported: ``D = p - pA pB``, ``D' = |D| / Dmax`` (Lewontin 1964; Dmax the
largest ``|D|`` the allele frequencies allow for D's sign) and
``r2 = D^2 / (pA (1 - pA) pB (1 - pB))``; NaN for a pair with a
monomorphic SNP among its people.

The genotype counts of all pairs come from six matrix products of 0/1
indicator matrices (called, heterozygous, homozygous ALT), so a window of
1,000 SNPs x 2,500 people costs a few BLAS calls plus one pass of the
compiled solver over the pairs.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import ParameterError
from ._ld_kernels import _solve_pairs, two_locus

__all__ = ["LDTable", "pair_counts", "pairwise_ld", "two_locus"]


@dataclasses.dataclass(frozen=True)
class LDTable:
    """LD of SNP pairs ``(a[t], b[t])`` (column indices into the genotype matrix)."""

    a: np.ndarray
    b: np.ndarray
    d: np.ndarray
    dprime: np.ndarray
    r2: np.ndarray
    n: np.ndarray  # people called at both SNPs

    def __len__(self) -> int:
        return int(self.a.size)


def pair_counts(calls: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """3 x 3 genotype tables of SNP pairs from matrix products.

    Parameters
    ----------
    calls : int8 array (n_people, n_snps)
        ALT allele counts 0/1/2, -1 missing.
    rows, cols : int arrays
        SNP indices; tables for every pair ``(rows[u], cols[v])``.

    Returns
    -------
    float64 array (len(rows), len(cols), 9)
        ``n[i, j]`` at ``3 i + j`` (people called at both SNPs only).
    """
    g = np.asarray(calls)
    # float32 products are exact for counts below 2**24
    if g.shape[0] >= 2**24:
        raise ParameterError("too many people for the LD counts")

    def indicators(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        sub = g[:, idx]
        called = (sub >= 0).astype(np.float32)
        het = (sub == 1).astype(np.float32)
        alt = (sub == 2).astype(np.float32)
        return called, het, alt

    rows = np.asarray(rows)
    cols = np.asarray(cols)
    same = rows.shape == cols.shape and bool(np.all(rows == cols))
    rc, rh, ra = indicators(rows)
    cc, ch, ca = indicators(cols) if not same else (rc, rh, ra)
    # n[i, j] from products of {called, het, alt}; hom-REF = called - het - alt.
    # With nobody missing, products with "called" are column sums.
    complete = bool(rc.all()) and bool(cc.all())

    def with_called(left: np.ndarray) -> np.ndarray:
        if complete:
            return np.broadcast_to(left.sum(axis=0)[:, None], (left.shape[1], len(cols)))
        return left.T @ cc

    both = np.full((len(rows), len(cols)), float(g.shape[0])) if complete else rc.T @ cc
    h_c, a_c = with_called(rh), with_called(ra)
    h_h, h_a = rh.T @ ch, rh.T @ ca
    if same:
        c_h, c_a, a_h = h_c.T, a_c.T, h_a.T
    else:
        c_h = ch.sum(axis=0)[None, :] if complete else rc.T @ ch
        c_a = ca.sum(axis=0)[None, :] if complete else rc.T @ ca
        a_h = ra.T @ ch
    a_a = ra.T @ ca
    out = np.empty((len(rows), len(cols), 9))
    n11, n12, n21, n22 = h_h, h_a, a_h, a_a
    n10 = h_c - h_h - h_a
    n20 = a_c - a_h - a_a
    n01 = c_h - h_h - a_h
    n02 = c_a - h_a - a_a
    n00 = both - n01 - n02 - n10 - n20 - n11 - n12 - n21 - n22
    for k, table in enumerate((n00, n01, n02, n10, n11, n12, n20, n21, n22)):
        out[:, :, k] = table
    return out


def pairwise_ld(calls: np.ndarray, *, against: int | None = None, block: int = 1024) -> LDTable:
    """LD of every pair of SNPs (``a < b``), or of one SNP against all others.

    Parameters
    ----------
    calls : int8 array (n_people, n_snps)
        ALT allele counts 0/1/2, -1 missing.
    against : int, optional
        Index of the SNP to pair with every other SNP.
    block : int
        SNPs per block of the count products (memory ~ 80 block^2 bytes).
    """
    g = np.ascontiguousarray(calls, dtype=np.int8)
    if g.ndim != 2:
        raise ParameterError("genotype calls must be a people x SNPs matrix")
    m = g.shape[1]
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    if against is not None:
        if not 0 <= against < m:
            raise ParameterError(f"SNP index {against} out of range (0..{m - 1})")
        others = np.array([j for j in range(m) if j != against], dtype=np.int64)
        counts = pair_counts(g, np.array([against]), others)[0]
        parts.append((np.full(others.size, against), others, counts))
    else:
        for r0 in range(0, m, block):
            rows = np.arange(r0, min(m, r0 + block))
            for c0 in range(r0, m, block):
                cols = np.arange(c0, min(m, c0 + block))
                table = pair_counts(g, rows, cols)
                ia, ib = np.meshgrid(rows, cols, indexing="ij")
                keep = ia < ib
                parts.append((ia[keep], ib[keep], table[keep]))
    if not parts:
        empty = np.empty(0)
        return LDTable(empty.astype(np.int64), empty.astype(np.int64), empty, empty, empty, empty)
    a = np.concatenate([p[0] for p in parts]).astype(np.int64)
    b = np.concatenate([p[1] for p in parts]).astype(np.int64)
    counts = np.ascontiguousarray(np.concatenate([p[2] for p in parts]))
    solved = _solve_pairs(counts)
    return LDTable(a, b, solved[:, 0], solved[:, 1], solved[:, 2], solved[:, 3])
