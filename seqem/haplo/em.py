"""Haplotype frequencies from unphased genotypes by exact EM.

Excoffier & Slatkin (1995): every person's genotypes over ``h`` biallelic
SNPs are explained by the ordered pairs of haplotypes they allow (a
heterozygous site doubles the pairs, a missing call quadruples them: both
alleles of both haplotypes are free), the likelihood of haplotype
frequencies ``f`` is

    ln L = sum_i ln sum_{(a, b) compatible with person i} f_a f_b

(the definition haplo.stats uses), and EM replaces ``f`` by the expected
haplotype counts over ``2 N``.  The pairs are enumerated once (compiled),
only haplotypes that some pair uses carry frequency, and the fit runs through
the shared EM engine (SQUAREM, several starts: the first uniform, the others
Dirichlet draws).

Rare haplotypes.  The plain maximum-likelihood estimate spreads mass over
many rare haplotypes that only explain ambiguous people.  With
``min_freq > 0`` (the default, 1e-4) the haplotypes whose frequency falls
below it at the optimum are removed and EM is run again on the rest (EM keeps
a zero frequency at zero, so this is the maximum-likelihood estimate over the
haplotypes that remain); the removed count is reported.  ``min_freq=0``
gives the plain estimate.

Standard errors come from the empirical information (the cross-product of
the people's scores in the free frequencies of the most frequent
haplotypes), inverted and mapped back to all of them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from .. import _jit
from ..em.engine import FitResult, run_em
from ..errors import InputFormatError, ParameterError
from . import _em_kernels as K

__all__ = ["HaploFit", "PhasePairs", "enumerate_pairs", "fit_haplotypes", "phase"]

#: Ordered pairs enumerated at most (about 16 bytes each).
MAX_PAIRS = 50_000_000


@dataclasses.dataclass(frozen=True)
class PhasePairs:
    """Every person's compatible ordered haplotype pairs (CSR layout).

    ``first[offsets[i]:offsets[i+1]]`` and ``second[...]`` index into
    ``codes`` (haplotype codes, bit ``j`` = allele at SNP ``j``).
    """

    offsets: np.ndarray
    first: np.ndarray
    second: np.ndarray
    codes: np.ndarray
    n_snps: int

    @property
    def n_people(self) -> int:
        return int(self.offsets.size - 1)


def enumerate_pairs(calls: np.ndarray, *, max_pairs: int = MAX_PAIRS) -> PhasePairs:
    """The compatible ordered pairs of every person with at least one call.

    Parameters
    ----------
    calls : int8 array (n_people, n_snps)
        ALT allele counts, -1 missing.  People with no call at all are left
        out (they carry no information).
    """
    g = np.ascontiguousarray(calls, dtype=np.int8)
    if g.ndim != 2 or g.shape[1] == 0:
        raise InputFormatError("genotypes must be a people x SNPs matrix with at least one SNP")
    if g.shape[1] > 30:
        raise ParameterError(
            f"{g.shape[1]} SNPs: exact enumeration is limited to 30 SNPs; use a smaller window"
        )
    if np.any((g > 2) | (g < -1)):
        raise InputFormatError("genotype calls must be 0, 1, 2 or -1 (missing)")
    g = g[(g >= 0).any(axis=1)]
    if g.shape[0] == 0:
        raise InputFormatError("no person has a call in this window")
    counts = K.count_pairs(g)
    total = int(counts.sum())
    if total > max_pairs:
        raise ParameterError(
            f"{total:,} phase configurations (over {max_pairs:,}): the window has too many "
            "heterozygous or missing calls for exact EM; use fewer SNPs"
        )
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    first = np.empty(total, dtype=np.int64)
    second = np.empty(total, dtype=np.int64)
    K.fill_pairs(g, offsets, first, second)
    codes, inverse = np.unique(np.concatenate([first, second]), return_inverse=True)
    inverse = inverse.astype(np.int64)
    return PhasePairs(offsets, inverse[:total], inverse[total:], codes, int(g.shape[1]))


def _chunks(n: int) -> np.ndarray:
    return np.linspace(0, n, min(64, n) + 1).astype(np.int64)


class HaplotypeEM:
    """Exact haplotype-frequency EM as an EM-engine problem."""

    def __init__(self, pairs: PhasePairs, *, n_threads: int | None = None) -> None:
        self.pairs = pairs
        self.chunks = _chunks(pairs.n_people)
        self.n_threads = n_threads
        self.support = np.ones(pairs.codes.size, dtype=bool)
        self.start: np.ndarray | None = None
        self._starts = 0

    def initial_params(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        if self.start is not None:
            return {"f": self.start.copy()}
        k = int(self.support.sum())
        f = np.zeros(self.support.size)
        f[self.support] = 1.0 / k if self._starts == 0 else rng.dirichlet(np.ones(k))
        self._starts += 1
        return {"f": f}

    def e_step(self, params: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], float]:
        p = self.pairs
        with _jit.threads(self.n_threads):
            loglik, counts = K.haplotype_estep(
                p.offsets, p.first, p.second, params["f"], self.chunks
            )
        self.last_loglik = loglik
        return {"counts": counts}, float(loglik.sum())

    def m_step(self, stats: dict[str, np.ndarray], params: dict[str, np.ndarray]) -> dict[str, Any]:
        counts = np.where(self.support, stats["counts"], 0.0)
        return {"f": counts / counts.sum()}

    def log_prior(self, params: dict[str, np.ndarray]) -> float:
        return 0.0

    def to_vector(self, params: dict[str, np.ndarray]) -> np.ndarray:
        return params["f"].copy()

    def from_vector(self, vector: np.ndarray, like: dict[str, np.ndarray]) -> dict | None:
        if not np.all(np.isfinite(vector)) or np.any(vector < 0):
            return None
        v = np.where(self.support, vector, 0.0)
        s = v.sum()
        return None if s <= 0 else {"f": v / s}


@dataclasses.dataclass(frozen=True)
class HaploFit:
    """Estimated haplotype frequencies of a window.

    Attributes
    ----------
    haplotypes : tuple of str
        One character per SNP in position order (``0`` REF, ``1`` ALT),
        sorted by frequency, highest first (only frequencies > 0).
    frequencies, se : float64 arrays
    loglik : float
        ``sum_i ln sum_pairs f_a f_b`` at the estimate.
    n_people : int
        People with at least one call.
    n_removed : int
        Haplotypes removed below ``min_freq``.
    lr_test : dict
        Likelihood-ratio test of linkage equilibrium: ``lr`` (2 (ln L -
        ln L0), ln L0 under frequencies that are products of the allele
        frequencies), ``df`` and ``pvalue``.
    fit : FitResult
    """

    haplotypes: tuple[str, ...]
    frequencies: np.ndarray
    se: np.ndarray
    loglik: float
    n_people: int
    n_removed: int
    lr_test: dict[str, float]
    fit: FitResult
    codes: np.ndarray

    def as_dict(self) -> dict[str, float]:
        return dict(zip(self.haplotypes, self.frequencies.tolist(), strict=True))


def _strings(codes: np.ndarray, h: int) -> tuple[str, ...]:
    return tuple("".join("1" if (int(c) >> j) & 1 else "0" for j in range(h)) for c in codes)


#: Standard errors are computed for at most this many (the most frequent) haplotypes.
SE_MAX_HAPLOTYPES = 400


def _standard_errors(pairs: PhasePairs, f: np.ndarray) -> np.ndarray:
    """Standard errors of the frequencies from the empirical information.

    The information is the cross-product of the people's scores in the free
    frequencies of the (at most :data:`SE_MAX_HAPLOTYPES`) most frequent
    haplotypes, the others held fixed; their standard errors are NaN.
    """
    nonzero = np.flatnonzero(f > 0)
    keep = nonzero[np.argsort(-f[nonzero], kind="stable")[:SE_MAX_HAPLOTYPES]]
    k = keep.size
    se = np.full(f.size, np.nan)
    if k < 2:
        se[keep] = 0.0
        return se
    # score of person i in the free parameters f_1..f_{k-1} (f_k = 1 - sum)
    index = np.full(f.size, -1)
    index[keep] = np.arange(k)
    a, b = index[pairs.first], index[pairs.second]
    ok = (a >= 0) & (b >= 0)
    w = np.where(ok, f[pairs.first] * f[pairs.second], 0.0)
    person = np.repeat(np.arange(pairs.n_people), np.diff(pairs.offsets))
    L = np.bincount(person, weights=w, minlength=pairs.n_people)
    # d L_i / d f_h = sum over pairs containing h of the other frequency
    grad = np.zeros((pairs.n_people, k))
    np.add.at(grad, (person[ok], a[ok]), f[pairs.second][ok])
    np.add.at(grad, (person[ok], b[ok]), f[pairs.first][ok])
    score = grad / L[:, None]
    free = score[:, :-1] - score[:, -1:]
    info = free.T @ free  # empirical (cross-product) information
    try:
        cov = np.linalg.pinv(info)
    except np.linalg.LinAlgError:  # pragma: no cover
        return se
    full = np.zeros((k, k))
    full[:-1, :-1] = cov
    full[-1, :-1] = full[:-1, -1] = -cov.sum(axis=1)
    full[-1, -1] = cov.sum()
    se[keep] = np.sqrt(np.clip(np.diag(full), 0.0, None))
    return se


def fit_haplotypes(
    calls: np.ndarray,
    *,
    n_init: int = 5,
    min_freq: float = 1e-4,
    max_iter: int = 5000,
    tol: float = 1e-8,
    random_state: Any = None,
    n_threads: int | None = None,
) -> HaploFit:
    """Haplotype frequencies of a window of SNPs by exact EM.

    Parameters
    ----------
    calls : int8 array (n_people, n_snps)
        ALT allele counts 0/1/2, -1 missing; up to about 20-25 SNPs.
    n_init : int
        Starts (the first uniform, the rest random); the best log-likelihood wins.
    min_freq : float
        Haplotypes below this frequency at the optimum are removed and the
        rest refitted (0: the plain maximum-likelihood estimate).
    tol : float
        EM stops when the log-likelihood rises by less than this.
    """
    from scipy.stats import chi2

    pairs = enumerate_pairs(calls)
    problem = HaplotypeEM(pairs, n_threads=n_threads)
    params, fit = run_em(
        problem, max_iter=max_iter, tol=tol, n_init=n_init, random_state=random_state,
        accelerate="squarem",
    )  # fmt: skip
    f = params["f"]
    removed = 0
    if min_freq > 0:
        drop = (f < min_freq) & problem.support
        trimmed = np.where(drop, 0.0, f)
        if drop.any() and trimmed.sum() > 0:
            trimmed /= trimmed.sum()
            _, ll_trimmed = problem.e_step({"f": trimmed})
            if np.isfinite(ll_trimmed):  # every person keeps a compatible pair
                removed = int(drop.sum())
                problem.support &= ~drop
                problem.start = trimmed
                params, fit = run_em(
                    problem, max_iter=max_iter, tol=tol, random_state=random_state,
                    accelerate="squarem",
                )  # fmt: skip
                f = params["f"]
    _, loglik = problem.e_step({"f": f})
    se = _standard_errors(pairs, f)
    # linkage equilibrium: haplotype frequencies = products of allele frequencies
    g = np.asarray(calls)
    called = g >= 0
    p_alt = np.where(called, g, 0).sum(axis=0) / np.maximum(2 * called.sum(axis=0), 1)
    bits = (pairs.codes[:, None] >> np.arange(pairs.n_snps)) & 1
    f0 = np.prod(np.where(bits == 1, p_alt, 1 - p_alt), axis=1)
    _, loglik0 = HaplotypeEM(pairs, n_threads=n_threads).e_step({"f": f0})
    k = int((f > 0).sum())
    df = max(k - 1 - pairs.n_snps, 1)
    lr = max(0.0, 2.0 * (loglik - loglik0))
    order = np.argsort(-f, kind="stable")
    order = order[f[order] > 0]
    return HaploFit(
        haplotypes=_strings(pairs.codes[order], pairs.n_snps),
        frequencies=f[order],
        se=se[order],
        loglik=float(loglik),
        n_people=pairs.n_people,
        n_removed=removed,
        lr_test={"lr": lr, "df": float(df), "pvalue": float(chi2.sf(lr, df))},
        fit=fit,
        codes=pairs.codes[order],
    )


def phase(calls: np.ndarray, fit: HaploFit) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each person's most probable unordered haplotype pair under ``fit``.

    Returns
    -------
    hap1, hap2 : int64 arrays (n_people,)
        Haplotype codes (-1 for a person with no call or no compatible pair).
    probability : float64 array
        Posterior probability of that unordered pair.
    """
    g = np.ascontiguousarray(calls, dtype=np.int8)
    n = g.shape[0]
    freq_of = dict(zip(fit.codes.tolist(), fit.frequencies.tolist(), strict=True))
    counts = K.count_pairs(g)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    first = np.empty(int(offsets[-1]), dtype=np.int64)
    second = np.empty(int(offsets[-1]), dtype=np.int64)
    K.fill_pairs(g, offsets, first, second)
    h1 = np.full(n, -1, dtype=np.int64)
    h2 = np.full(n, -1, dtype=np.int64)
    prob = np.zeros(n)
    for i in range(n):
        if not (g[i] >= 0).any():
            continue
        a = first[offsets[i] : offsets[i + 1]]
        b = second[offsets[i] : offsets[i + 1]]
        w = np.array([freq_of.get(x, 0.0) * freq_of.get(y, 0.0) for x, y in zip(a, b, strict=True)])
        total = w.sum()
        if total <= 0:
            continue
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        key = lo * (1 << 31) + hi
        uniq, inv = np.unique(key, return_inverse=True)
        share = np.bincount(inv, weights=w) / total
        best = int(np.argmax(share))
        h1[i], h2[i] = int(uniq[best] >> 31), int(uniq[best] & ((1 << 31) - 1))
        prob[i] = share[best]
    return h1, h2, prob
