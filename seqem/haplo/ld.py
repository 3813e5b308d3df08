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
the roots of a cubic (Gaunt, Rodriguez & Day 2007); the solver brackets the
roots inside the feasible interval between the cubic's turning points, solves
each by bracketed Newton steps to machine precision and keeps the one (or the
interval end) with the largest likelihood.  A fixed number of EM steps is not enough:
where one haplotype is absent the optimum is on the boundary and EM creeps
towards it.

Reported: ``D = p - pA pB``, ``D' = |D| / Dmax`` (Lewontin 1964; Dmax the
largest ``|D|`` the allele frequencies allow for D's sign) and
``r2 = D^2 / (pA (1 - pA) pB (1 - pB))``; NaN for a pair with a
monomorphic SNP among its people.

The genotype counts of all pairs come from products of 0/1 indicator
matrices of the call classes (heterozygous, homozygous ALT and, where calls
are missing, missing): matrix products between common SNPs, and sums over
the carriers for a rare SNP (fewer non-REF-homozygous calls than
:func:`sparse_limit`: most SNPs of a sequenced cohort).  The likelihood
depends on five numbers per pair (:func:`_stats`), taken straight from those
products, so a window of 1,000 SNPs x 2,500 people costs a few small BLAS
calls plus a vectorised solve over the pairs.
Everything here is plain NumPy: ``seqem haplo ld`` never starts the JIT
compiler, which would cost more than the whole computation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np

from ..errors import ParameterError

__all__ = [
    "LDTable",
    "iter_pairwise_ld",
    "loglik",
    "pair_counts",
    "pairwise_ld",
    "solve_tables",
    "two_locus",
]

#: Newton steps are taken until every root moved by less than this (or the
#: bracket closed); bisection safeguards keep each root in its bracket.
_MAX_STEPS = 100


def loglik(p, x11, x12, x21, x22, nd, pa, pb):
    """Two-locus log-likelihood at ALT-ALT frequency ``p`` (array arguments).

    Terms with a zero count are left out; a positive count on a zero or
    negative probability gives ``-inf``.
    """
    p = np.asarray(p, dtype=float)
    total = np.zeros(np.broadcast(p, x11, pa).shape)
    probs = (p, pa - p, pb - p, 1.0 - pa - pb + p, p * (1.0 - pa - pb + p) + (pa - p) * (pb - p))
    with np.errstate(divide="ignore", invalid="ignore"):
        for count, prob in zip((x11, x12, x21, x22, nd), probs, strict=True):
            used = np.asarray(count) > 0
            term = np.where(
                prob > 0, np.asarray(count) * np.log(np.where(prob > 0, prob, 1.0)), -np.inf
            )
            total = total + np.where(used, term, 0.0)
    return total


def _roots(lo, hi, c3, c2, c1, c0):
    """The root of the cubic in each bracket ``[lo, hi]`` where it changes sign (else NaN).

    The cubic is monotone on each bracket (they lie between its turning
    points), so bracketed Newton steps converge to the unique root.
    """

    def f(x):
        return ((c3 * x + c2) * x + c1) * x + c0

    flo, fhi = f(lo), f(hi)
    root = np.full(lo.shape, np.nan)
    root[flo == 0.0] = lo[flo == 0.0]
    root[fhi == 0.0] = hi[fhi == 0.0]
    todo = np.flatnonzero((flo != 0.0) & (fhi != 0.0) & ((flo > 0.0) != (fhi > 0.0)))
    a, b, fa = lo[todo], hi[todo], flo[todo]
    k3, k2, k1, k0 = c3[todo], c2[todo], c1[todo], c0[todo]
    x = 0.5 * (a + b)
    for _ in range(_MAX_STEPS):
        if not todo.size:
            break
        fx = ((k3 * x + k2) * x + k1) * x + k0
        same = (fx > 0.0) == (fa > 0.0)
        a = np.where(same, x, a)
        fa = np.where(same, fx, fa)
        b = np.where(same, b, x)
        slope = (3.0 * k3 * x + 2.0 * k2) * x + k1
        with np.errstate(divide="ignore", invalid="ignore"):
            step = x - fx / slope
        inside = (step > a) & (step < b)
        new = np.where(inside, step, 0.5 * (a + b))
        done = (fx == 0.0) | (new == x) | (b - a <= 4e-16 * np.maximum(np.abs(a), np.abs(b)))
        finished = todo[done]
        root[finished] = np.where(fx[done] == 0.0, x[done], new[done])
        keep = ~done
        todo, a, b, fa, x = todo[keep], a[keep], b[keep], fa[keep], new[keep]
        k3, k2, k1, k0 = k3[keep], k2[keep], k1[keep], k0[keep]
    root[todo] = x
    return root


#: Candidates within this relative distance of the best log-likelihood tie; the
#: first of them (interval ends, then roots from low to high) is taken, so a
#: likelihood with two equal maxima gets the same answer on every machine.
_TIE = 1e-12


def _stats(n00, n01, n02, n10, n11, n12, n20, n21, n22):
    """What the likelihood depends on, from the nine counts of 3 x 3 tables.

    ``x11`` (ALT-ALT haplotypes fixed by the genotypes), ``nd`` (double
    heterozygotes), ``alt_a`` and ``alt_b`` (ALT alleles at each SNP among
    the people called at both) and ``n`` (those people).
    """
    f64 = np.float64
    x11 = 2.0 * n22.astype(f64) + n21 + n12
    alt_a = 2.0 * (n20.astype(f64) + n21 + n22) + n10 + n11 + n12
    alt_b = 2.0 * (n02.astype(f64) + n12 + n22) + n01 + n11 + n21
    n = n00.astype(f64) + n01 + n02 + n10 + n11 + n12 + n20 + n21 + n22
    return x11, n11.astype(f64), alt_a, alt_b, n


def _solve(x11, nd, alt_a, alt_b, n):
    """``(p, pA, pB, n)`` vectors from the sufficient statistics of :func:`_stats`."""
    with np.errstate(divide="ignore", invalid="ignore"):
        two_n = np.where(n > 0, 2.0 * n, np.nan)
        pa = alt_a / two_n
        pb = alt_b / two_n
        lo = np.maximum(0.0, pa + pb - 1.0)
        hi = np.minimum(pa, pb)
        # no double heterozygote (or a single feasible point): the haplotypes are counted
        p = np.minimum(np.maximum(x11 / two_n, lo), hi)
    i = np.flatnonzero((nd > 0.0) & (hi > lo))
    if i.size:
        a, b, c, d = x11[i], nd[i], alt_a[i], alt_b[i]
        x12, x21 = c - a - b, d - a - b
        x22 = two_n[i] - c - d + a
        p[i] = _solve_cubic(a, x12, x21, x22, b, pa[i], pb[i], lo[i], hi[i])
    return p, pa, pb, n


def _solve_cubic(x11, x12, x21, x22, nd, pa, pb, lo, hi):
    """The maximum of the likelihood over ``[lo, hi]`` where double heterozygotes exist."""
    # stationary points: (2n p - x11) f(p) - nd p (p + c) = 0 with
    # f(p) = 2p^2 + b p + a, c = 1 - pA - pB
    two_n = x11 + x12 + x21 + x22 + 2.0 * nd
    cc = 1.0 - pa - pb
    bb = 1.0 - 2.0 * pa - 2.0 * pb
    aa = pa * pb
    c3 = 2.0 * two_n
    c2 = two_n * bb - 2.0 * x11 - nd
    c1 = two_n * aa - x11 * bb - nd * cc
    c0 = -x11 * aa
    # the cubic's turning points inside (lo, hi) cut it into monotone pieces
    disc = 4.0 * c2 * c2 - 12.0 * c3 * c1
    s = np.sqrt(np.where(disc > 0.0, disc, 0.0))
    turns = []
    for sign in (-1.0, 1.0):
        t = (-2.0 * c2 + sign * s) / (6.0 * c3)
        turns.append(np.where((disc > 0.0) & (t > lo) & (t < hi), t, np.nan))
    cuts = np.sort(np.stack([lo, turns[0], turns[1], hi], axis=1), axis=1)  # NaN last
    starts, ends = cuts[:, :3].T.ravel(), cuts[:, 1:].T.ravel()
    ok = ~np.isnan(starts) & ~np.isnan(ends)
    k = np.tile(np.arange(lo.size), 3)[ok]
    roots = _roots(starts[ok], ends[ok], c3[k], c2[k], c1[k], c0[k])
    good = ~np.isnan(roots)
    k, roots = k[good], roots[good]
    # candidates: lo, hi, then the roots (piece order is low to high)
    args = (x11, x12, x21, x22, nd, pa, pb)
    cand_k = np.concatenate([np.arange(lo.size), np.arange(lo.size), k])
    cand_p = np.concatenate([lo, hi, roots])
    value = np.concatenate(
        [loglik(lo, *args), loglik(hi, *args), loglik(roots, *(v[k] for v in args))]
    )
    best = np.full(lo.size, -np.inf)
    np.maximum.at(best, cand_k, value)
    near = value >= best[cand_k] - _TIE * np.abs(best[cand_k])
    first = np.full(lo.size, cand_k.size)
    np.minimum.at(first, cand_k[near], np.flatnonzero(near))
    return cand_p[first]


def solve_tables(counts: np.ndarray) -> np.ndarray:
    """Maximum-likelihood ALT-ALT frequencies of 3 x 3 genotype tables.

    Parameters
    ----------
    counts : float array (n_pairs, 9)
        ``n[i, j]`` at ``3 i + j``: people with ``i`` ALT alleles at the first
        SNP and ``j`` at the second.

    Returns
    -------
    float array (n_pairs, 4)
        Columns ``p``, ``pA``, ``pB``, ``n``; ``p`` (and the allele
        frequencies) NaN where nobody is called at both SNPs.
    """
    c = np.asarray(counts, dtype=float).reshape(-1, 9)
    return np.stack(_solve(*_stats(*c.T)), axis=1)


def _measures(p, pa, pb, n):
    """``(D, D', r2, n)``; D' and r2 NaN for a monomorphic SNP, D NaN where nobody is called."""
    var = pa * (1.0 - pa) * pb * (1.0 - pb)
    d = p - pa * pb
    with np.errstate(divide="ignore", invalid="ignore"):
        dmax = np.where(
            d >= 0.0,
            np.minimum(pa * (1.0 - pb), (1.0 - pa) * pb),
            np.minimum(pa * pb, (1.0 - pa) * (1.0 - pb)),
        )
        poly = var > 0.0
        dprime = np.where(poly & (dmax > 0.0), np.minimum(np.abs(d) / dmax, 1.0), np.nan)
        r2 = np.where(poly, d * d / var, np.nan)
    d = np.where(poly, d, np.where(n > 0, 0.0, np.nan))
    return d, dprime, r2, n


def two_locus(n00, n01, n02, n10, n11, n12, n20, n21, n22):
    """Maximum-likelihood ALT-ALT haplotype frequency from one 3 x 3 genotype table.

    ``nij`` = people with ``i`` ALT alleles at the first SNP and ``j`` at the
    second.  Returns ``(p, pA, pB, n)``; ``p`` is NaN when nobody is called.
    """
    row = solve_tables(np.array([[n00, n01, n02, n10, n11, n12, n20, n21, n22]], dtype=float))[0]
    return float(row[0]), float(row[1]), float(row[2]), float(row[3])


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


_FIELDS = dataclasses.fields(LDTable)


#: Pairs solved at a time.
_PAIR_CHUNK = 1 << 16

#: Call classes whose indicator products give the tables: het, hom-ALT, missing.
_HET, _ALT, _MISSING = 1, 2, -1


def sparse_limit(n_people: int) -> int:
    """SNPs with fewer non-REF-homozygous calls than this are counted from their carriers.

    A carrier list of ``e`` people costs about ``e`` row additions per
    class product, where a matrix product costs ``n_people`` multiply-adds
    (at BLAS speed, some 30 times faster per operation).
    """
    return max(16, n_people // 64)


def _carrier_rows(
    gs: np.ndarray, classes: tuple[int, ...], other: np.ndarray
) -> dict[tuple[int, int], np.ndarray]:
    """``x_j . y_k`` for every SNP ``j`` (column of ``gs``), SNP ``k`` (column of
    ``other``) and class pair ``(x, y)``, counted over the carriers.

    Each carrier of class ``x`` at ``j`` adds one to ``(j, k)`` for every
    ``k`` where its own call is of class ``y``: a histogram of those
    events, whose number is the carriers' calls of class ``y``.  Returns
    (gs.shape[1], other.shape[1]) float32 matrices by class pair.
    """
    r, k = gs.shape[1], other.shape[1]
    snp, person = np.nonzero(gs.T != 0)  # by SNP, then person
    kind = gs[person, snp]
    x_index = np.zeros(kind.shape, dtype=np.int64)
    for c, x in enumerate(classes):
        x_index[kind == x] = c
    group = (x_index * r + snp) * k
    calls = other[person]  # each carrier's calls at the other SNPs
    out = {}
    for y in classes:
        e, col = np.nonzero(calls == y)
        counts = np.bincount(group[e] + col, minlength=len(classes) * r * k)
        block = counts.astype(np.float32).reshape(len(classes), r, k)
        for c, x in enumerate(classes):
            out[x, y] = block[c]
    return out


Products = dict[tuple[int, int], np.ndarray]


def _products(
    g: np.ndarray, rows: np.ndarray, cols: np.ndarray, limit: int
) -> tuple[Products, dict[int, np.ndarray], dict[int, np.ndarray]]:
    """``P[x, y] = x_rows^T y_cols`` (len(rows), len(cols)) for the call classes present.

    Also each class's count per row SNP and per column SNP.

    SNPs with fewer than ``limit`` non-REF-homozygous calls (rare variants:
    most SNPs of a sequenced cohort) contribute through their carriers;
    the others through matrix products of 0/1 indicators.  Every entry is
    an exact count.
    """
    same = rows.shape == cols.shape and bool(np.all(rows == cols))
    everything = same and rows.size == g.shape[1] and bool(np.all(rows == np.arange(g.shape[1])))
    gr = g if everything else g[:, rows]
    gc = gr if same else g[:, cols]
    missing = bool((gr < 0).any()) or bool((gc < 0).any())
    classes = (_HET, _ALT, _MISSING) if missing else (_HET, _ALT)
    sparse_r = np.count_nonzero(gr, axis=0) < limit
    sparse_c = sparse_r if same else np.count_nonzero(gc, axis=0) < limit
    dr, dc = np.flatnonzero(~sparse_r), np.flatnonzero(~sparse_c)
    rr, rc = np.flatnonzero(sparse_r), np.flatnonzero(sparse_c)
    pairs = [(x, y) for x in classes for y in classes]
    # the products each call computes: all of them, or x <= y when rows == cols
    # (then P[y, x] = P[x, y]^T)
    upper = [(x, y) for x, y in pairs if not same or classes.index(x) <= classes.index(y)]
    P = {xy: np.empty((rows.size, cols.size), dtype=np.float32) for xy in upper}
    # sparse rows against every column
    if rr.size:
        part = _carrier_rows(gr[:, rr], classes, gc)
        for xy in upper:
            P[xy][rr] = part[xy]
    # dense rows against sparse columns: x_i . y_j = (y_j . x_i) over the column's carriers
    if dr.size and rc.size:
        if same:
            for x, y in upper:
                P[x, y][np.ix_(dr, rc)] = part[y, x][:, dr].T
        else:
            part_c = _carrier_rows(gc[:, rc], classes, gr[:, dr])
            for x, y in upper:
                P[x, y][np.ix_(dr, rc)] = part_c[y, x].T
    # dense x dense: matrix products of 0/1 indicators (a symmetric product
    # when x == y and rows == cols)
    if dr.size and dc.size:
        left = {x: (gr[:, dr] == x).astype(np.float32) for x in classes}
        right = left if same else {y: (gc[:, dc] == y).astype(np.float32) for y in classes}
        for x, y in upper:
            P[x, y][np.ix_(dr, dc)] = left[x].T @ right[y]
    if same:
        for x, y in pairs:
            if (x, y) not in P:
                P[x, y] = P[y, x].T
    tot_r = {x: np.count_nonzero(gr == x, axis=0).astype(np.float32) for x in classes}
    tot_c = (
        tot_r
        if same
        else {y: np.count_nonzero(gc == y, axis=0).astype(np.float32) for y in classes}
    )
    return P, tot_r, tot_c


def _margins(
    products: tuple[Products, dict[int, np.ndarray], dict[int, np.ndarray]],
    n_people: int,
    ia: np.ndarray,
    ib: np.ndarray,
) -> tuple[np.ndarray, ...]:
    """For the pairs ``(ia, ib)`` of a block's :func:`_products`: het.het,
    het.alt, alt.het, alt.alt and, among the people called at both SNPs, the
    first SNP's het and hom-ALT counts, the second's, and the number of those
    people (float32, exact)."""
    P, tot_r, tot_c = products
    n11, n12 = P[_HET, _HET][ia, ib], P[_HET, _ALT][ia, ib]
    n21, n22 = P[_ALT, _HET][ia, ib], P[_ALT, _ALT][ia, ib]
    h_c, a_c = tot_r[_HET][ia], tot_r[_ALT][ia]
    c_h, c_a = tot_c[_HET][ib], tot_c[_ALT][ib]
    both = np.full(ia.shape, n_people, dtype=np.float32)
    if _MISSING in tot_r:
        h_c = h_c - P[_HET, _MISSING][ia, ib]
        a_c = a_c - P[_ALT, _MISSING][ia, ib]
        c_h = c_h - P[_MISSING, _HET][ia, ib]
        c_a = c_a - P[_MISSING, _ALT][ia, ib]
        both += P[_MISSING, _MISSING][ia, ib] - tot_r[_MISSING][ia] - tot_c[_MISSING][ib]
    return n11, n12, n21, n22, h_c, a_c, c_h, c_a, both


def _block_products(
    g: np.ndarray, rows: np.ndarray, cols: np.ndarray, limit: int | None = None
) -> tuple[Products, dict[int, np.ndarray], dict[int, np.ndarray]]:
    # float32 sums are exact for counts below 2**24
    if g.shape[0] >= 2**24:
        raise ParameterError("too many people for the LD counts")
    return _products(g, rows, cols, sparse_limit(g.shape[0]) if limit is None else limit)


def _tables(
    g: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    ia: np.ndarray,
    ib: np.ndarray,
    limit: int | None = None,
) -> list[np.ndarray]:
    """The nine genotype counts ``n_ij`` of the pairs ``(rows[ia], cols[ib])`` (order ``3 i + j``).

    From the class products: ``n11 = het.het``, ``n12 = het.alt``,
    ``n21 = alt.het``, ``n22 = alt.alt``; the rest of each table follows from
    the SNPs' class totals less the products with "missing".
    """
    products = _block_products(g, rows, cols, limit)
    n11, n12, n21, n22, h_c, a_c, c_h, c_a, both = _margins(products, g.shape[0], ia, ib)
    n10 = h_c - n11 - n12
    n20 = a_c - n21 - n22
    n01 = c_h - n11 - n21
    n02 = c_a - n12 - n22
    n00 = both - n01 - n02 - n10 - n20 - n11 - n12 - n21 - n22
    return [n00, n01, n02, n10, n11, n12, n20, n21, n22]


def _pair_stats(
    products: tuple[Products, dict[int, np.ndarray], dict[int, np.ndarray]],
    n_people: int,
    ia: np.ndarray,
    ib: np.ndarray,
) -> list[np.ndarray]:
    """The sufficient statistics of :func:`_stats` for the pairs, straight from the margins."""
    n11, n12, n21, n22, h_c, a_c, c_h, c_a, both = _margins(products, n_people, ia, ib)
    f64 = np.float64
    x11 = 2.0 * n22.astype(f64) + n12 + n21
    alt_a = 2.0 * a_c.astype(f64) + h_c
    alt_b = 2.0 * c_a.astype(f64) + c_h
    return [x11, n11.astype(f64), alt_a, alt_b, both.astype(f64)]


def pair_counts(
    calls: np.ndarray, rows: np.ndarray, cols: np.ndarray, *, sparse: int | None = None
) -> np.ndarray:
    """3 x 3 genotype tables of SNP pairs from class products.

    Parameters
    ----------
    calls : int8 array (n_people, n_snps)
        ALT allele counts 0/1/2, -1 missing.
    rows, cols : int arrays
        SNP indices; tables for every pair ``(rows[u], cols[v])``.
    sparse : int, optional
        SNPs with fewer non-REF-homozygous calls than this are counted from
        their carriers, the others by matrix products (default:
        :func:`sparse_limit`; 0 counts everything by products).

    Returns
    -------
    float64 array (len(rows), len(cols), 9)
        ``n[i, j]`` at ``3 i + j`` (people called at both SNPs only).
    """
    rows, cols = np.asarray(rows), np.asarray(cols)
    ia, ib = (i.ravel() for i in np.indices((rows.size, cols.size)))
    tables = _tables(np.asarray(calls), rows, cols, ia, ib, sparse)
    return np.stack(tables, axis=-1).astype(np.float64).reshape(rows.size, cols.size, 9)


def pairwise_ld(
    calls: np.ndarray,
    *,
    against: int | None = None,
    block: int = 1024,
    groups: np.ndarray | None = None,
) -> LDTable:
    """LD of every pair of SNPs (``a < b``), or of one SNP against all others.

    Parameters
    ----------
    calls : int8 array (n_people, n_snps)
        ALT allele counts 0/1/2, -1 missing.
    against : int, optional
        Index of the SNP to pair with every other SNP.
    block : int
        SNPs per block of the count products (memory ~ 80 block^2 bytes).
    groups : int array (n_snps,), optional
        A label per SNP (its contig); only SNPs with the same label are
        paired.  The SNPs of each label must be contiguous.
    """
    parts = list(iter_pairwise_ld(calls, against=against, block=block, groups=groups))
    if not parts:
        empty = np.empty(0)
        return LDTable(empty.astype(np.int64), empty.astype(np.int64), empty, empty, empty, empty)
    if len(parts) == 1:
        return parts[0]
    return LDTable(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in _FIELDS))


def _runs(groups: np.ndarray | None, m: int) -> list[tuple[int, int]]:
    """``[lo, hi)`` of each group's SNPs (the whole range without groups)."""
    if groups is None:
        return [(0, m)]
    labels = np.asarray(groups)
    if labels.shape != (m,):
        raise ParameterError(f"groups must have one label per SNP ({m}), got shape {labels.shape}")
    edges = np.flatnonzero(labels[1:] != labels[:-1]) + 1
    lo = np.concatenate([[0], edges]).astype(np.int64)
    hi = np.concatenate([edges, [m]]).astype(np.int64)
    if np.unique(labels[lo]).size != lo.size:
        raise ParameterError("the SNPs of each group must be contiguous")
    return [(int(a), int(b)) for a, b in zip(lo, hi, strict=True)] if m else []


def iter_pairwise_ld(
    calls: np.ndarray,
    *,
    against: int | None = None,
    block: int = 1024,
    groups: np.ndarray | None = None,
) -> Iterator[LDTable]:
    """:func:`pairwise_ld` in pieces of at most 65,536 pairs, in its order.

    A caller can write each piece while the next is computed.
    """
    g = np.ascontiguousarray(calls, dtype=np.int8)
    if g.ndim != 2:
        raise ParameterError("genotype calls must be a people x SNPs matrix")
    m = g.shape[1]
    runs = _runs(groups, m)
    if against is not None:
        if not 0 <= against < m:
            raise ParameterError(f"SNP index {against} out of range (0..{m - 1})")
        lo, hi = next((a, b) for a, b in runs if a <= against < b)
        others = np.array([j for j in range(lo, hi) if j != against], dtype=np.int64)
        blocks = [(np.array([against]), others)]
    else:
        blocks = [
            (np.arange(r0, min(hi, r0 + block)), np.arange(c0, min(hi, c0 + block)))
            for lo, hi in runs
            for r0 in range(lo, hi, block)
            for c0 in range(lo, hi, block)
            if c0 >= r0
        ]
    for rows, cols in blocks:
        products = _block_products(g, rows, cols)
        ia, ib = (
            np.nonzero(rows[:, None] < cols[None, :])
            if against is None
            else (np.zeros(cols.size, dtype=np.int64), np.arange(cols.size))
        )
        # pairs in chunks: the solve's temporaries stay small and are reused
        for lo in range(0, ia.size, _PAIR_CHUNK):
            u, v = ia[lo : lo + _PAIR_CHUNK], ib[lo : lo + _PAIR_CHUNK]
            d, dprime, r2, n = _measures(*_solve(*_pair_stats(products, g.shape[0], u, v)))
            yield LDTable(rows[u].astype(np.int64), cols[v].astype(np.int64), d, dprime, r2, n)
