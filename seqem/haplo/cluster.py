"""Haplotypes of long SNP windows with a haplotype-cluster HMM (fastPHASE model).

Scheet & Stephens (2006): haplotypes in a population look like mosaics of a
few ancestral haplotypes ("clusters").  Each haplotype walks through ``K``
clusters along the SNPs; between SNPs ``m - 1`` and ``m`` it jumps with
probability ``jump[m]`` and then lands in cluster ``k`` with probability
``alpha[m, k]``; in cluster ``k`` it carries the ALT allele of SNP ``m``
with probability ``theta[m, k]``.  A person's two haplotypes walk
independently, and the unphased genotype is what the pair emits, so the
likelihood of the genotypes is a hidden-Markov likelihood over cluster
pairs, computed by scaled forward-backward in ``O(n_snps K^2)`` per person
(see :mod:`seqem.haplo._cluster_kernels`).  Missing calls emit with
probability one.

Fitting.  EM from ``n_init`` random starts (theta uniform, alpha uniform,
one jump probability everywhere); each start's M-step is the closed form of
the paper (expected allele counts per cluster, expected jumps per interval,
expected landings per cluster), maximised under box constraints that keep
every probability away from 0 and 1 (``theta`` in ``[theta_floor, 1 -
theta_floor]``, ``alpha >= alpha_floor``, ``jump`` in ``[jump_floor, 1 -
jump_floor]``): each constrained maximisation is exact, so the
log-likelihood of every start never falls.  All starts are kept: like
fastPHASE, phasing averages over them.

Phasing.  Missing calls are first imputed by the genotype of highest
posterior probability (averaged over the starts).  Then, for every start,
``n_samples`` haplotype pairs are drawn per person from the posterior
(cluster path by backward sampling, then which haplotype carries ALT at
each heterozygous SNP), and for each pair of consecutive heterozygous SNPs
the draws vote on whether the ALT alleles sit on the same haplotype.  The
majority at every step gives the phase that minimises the expected number
of switch errors among the drawn configurations.

Refinement (``refine`` rounds, on by default).  The same pair HMM, with
other people's current haplotypes as the clusters (the copying model of Li
& Stephens 2003, as used by the IMPUTE/SHAPEIT family of phasing tools):
each person is re-phased from the ``n_ref`` haplotypes nearest to theirs,
every round from the previous round's haplotypes of everybody (so the
result depends neither on the order of people nor on the thread count), and
the draws of the later rounds vote.  On the EUR windows of the 1000 Genomes
excerpt it about halves the total variation distance of window haplotype
frequencies from the truth: 0.275 -> 0.139 (100 SNPs) and 0.526 -> 0.287
(200 SNPs), fitted over the whole region (``benchmarks/bench_haplo_long.py``).

Haplotype frequencies over a window are counted from the phased haplotypes
of everybody (``method="phased"``), or averaged over the posterior draws
(``method="sampled"``).
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from typing import Any

import numpy as np

from .. import _jit
from ..em.engine import FitResult, make_seed, run_em
from ..errors import ConvergenceWarning, InputFormatError, ParameterError
from . import _cluster_kernels as CK

__all__ = [
    "ClusterFit",
    "ClusterParams",
    "HaplotypeFrequencies",
    "PhasedHaplotypes",
    "cluster_loglik",
    "fit_clusters",
    "haplotype_frequencies",
    "phase_clusters",
]

#: People per work chunk at most; the chunk boundaries depend only on the
#: number of people, never on the thread count.
N_CHUNKS = 64


def _chunks(n: int) -> np.ndarray:
    return np.linspace(0, n, min(N_CHUNKS, max(n, 1)) + 1).astype(np.int64)


def _check_calls(calls: Any) -> np.ndarray:
    g = np.asarray(calls)
    if g.ndim != 2 or g.shape[0] == 0 or g.shape[1] == 0:
        raise InputFormatError(
            "genotypes must be a people x SNPs matrix with at least one person and one SNP"
        )
    if not np.issubdtype(g.dtype, np.integer):
        raise InputFormatError(f"genotype calls must be integers, got dtype {g.dtype}")
    if np.any((g > 2) | (g < -1)):
        raise InputFormatError("genotype calls must be 0, 1, 2 or -1 (missing)")
    return np.ascontiguousarray(g, dtype=np.int8)


@dataclasses.dataclass(frozen=True)
class ClusterParams:
    """Parameters of one haplotype-cluster HMM.

    Attributes
    ----------
    theta : float64 array (n_snps, K)
        Probability of the ALT allele in each cluster.
    alpha : float64 array (n_snps, K)
        Cluster weights after a jump into each SNP (row 0: where haplotypes
        start); rows sum to one.
    jump : float64 array (n_snps,)
        Probability that a haplotype jumps between SNP ``m - 1`` and ``m``
        (``jump[0] = 1``: every haplotype starts by a draw from ``alpha[0]``).
    """

    theta: np.ndarray
    alpha: np.ndarray
    jump: np.ndarray

    @property
    def n_clusters(self) -> int:
        return int(self.theta.shape[1])

    @property
    def n_snps(self) -> int:
        return int(self.theta.shape[0])

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Contiguous float64 copies in the kernels' layout."""
        return (
            np.ascontiguousarray(self.theta, dtype=np.float64),
            np.ascontiguousarray(self.alpha, dtype=np.float64),
            np.ascontiguousarray(self.jump, dtype=np.float64),
        )


@dataclasses.dataclass(frozen=True)
class ClusterFit:
    """A fitted haplotype-cluster HMM: one parameter set per random start.

    Attributes
    ----------
    params : tuple of ClusterParams
        Every start's final parameters, in start order.
    logliks : float64 array (n_init,)
        Log-likelihood of the genotypes under each start's parameters.
    fits : tuple of FitResult
        How each start's EM went (``history`` holds the log-likelihood
        after every iteration, starting with the start point).
    seed : int
        Seed behind the starting points (pass as ``random_state`` to repeat).
    n_people : int
        People with at least one call (the others carry no information).
    elapsed : float
        Seconds for all starts.
    """

    params: tuple[ClusterParams, ...]
    logliks: np.ndarray
    fits: tuple[FitResult, ...]
    seed: int
    n_people: int
    elapsed: float

    @property
    def n_clusters(self) -> int:
        return self.params[0].n_clusters

    @property
    def n_snps(self) -> int:
        return self.params[0].n_snps

    @property
    def best(self) -> ClusterParams:
        """Parameters of the start with the highest log-likelihood."""
        return self.params[int(np.argmax(self.logliks))]

    @property
    def loglik(self) -> float:
        """Highest log-likelihood over the starts."""
        return float(np.max(self.logliks))

    @property
    def converged(self) -> bool:
        """True when every start met the tolerance within ``max_iter``."""
        return all(f.converged for f in self.fits)

    @property
    def history(self) -> tuple[tuple[float, ...], ...]:
        """Log-likelihood after each iteration, per start."""
        return tuple(f.history for f in self.fits)


class ClusterEM:
    """One start of the cluster-HMM EM as an EM-engine problem."""

    def __init__(
        self,
        calls: np.ndarray,
        n_clusters: int,
        *,
        theta_floor: float,
        alpha_floor: float,
        jump_floor: float,
        jump_init: float,
        n_threads: int | None = None,
    ) -> None:
        self.calls = calls
        self.K = n_clusters
        self.theta_floor = theta_floor
        self.alpha_floor = alpha_floor
        self.jump_floor = jump_floor
        self.jump_init = jump_init
        self.n_threads = n_threads
        self.chunks = _chunks(calls.shape[0])

    def initial_params(self, rng: np.random.Generator) -> ClusterParams:
        M, K = self.calls.shape[1], self.K
        lo = self.theta_floor
        theta = rng.uniform(lo, 1.0 - lo, size=(M, K))
        alpha = np.full((M, K), 1.0 / K)
        jump = np.full(M, self.jump_init)
        jump[0] = 1.0
        return ClusterParams(theta, alpha, jump)

    def e_step(self, params: ClusterParams) -> tuple[tuple[np.ndarray, ...], float]:
        theta, alpha, jump = params.arrays()
        with _jit.threads(self.n_threads):
            loglik, occ, ones, jumps = CK.cluster_estep(self.calls, theta, alpha, jump, self.chunks)
        return (occ, ones, jumps), float(loglik.sum())

    def m_step(self, stats: tuple[np.ndarray, ...], params: ClusterParams) -> ClusterParams:
        occ, ones, jumps = stats
        lo = self.theta_floor
        with np.errstate(invalid="ignore", divide="ignore"):
            theta = np.where(occ > 0, ones / occ, params.theta)
        theta = np.clip(theta, lo, 1.0 - lo)
        n_haps = 2.0 * self.calls.shape[0]
        total = jumps.sum(axis=1)
        jump = np.clip(total / n_haps, self.jump_floor, 1.0 - self.jump_floor)
        jump[0] = 1.0
        alpha = _floored_simplex(jumps, self.alpha_floor, params.alpha)
        return ClusterParams(theta, alpha, jump)

    def log_prior(self, params: ClusterParams) -> float:
        return 0.0


def _floored_simplex(counts: np.ndarray, floor: float, fallback: np.ndarray) -> np.ndarray:
    """Row-wise ``argmax sum_k c_k log a_k`` over ``{a : sum a = 1, a_k >= floor}``.

    The maximiser is ``a_k = max(floor, c_k / lam)`` with ``lam`` such that
    the row sums to one; raising the floor on one weight only raises ``lam``,
    so clamping the smallest weights one round at a time finds it.  Rows
    without counts keep ``fallback``.
    """
    out = np.array(fallback, dtype=np.float64, copy=True)
    K = counts.shape[1]
    for m in range(counts.shape[0]):
        c = counts[m]
        s = c.sum()
        if not s > 0:
            continue
        clamped = np.zeros(K, dtype=bool)
        while True:
            free = ~clamped
            lam = c[free].sum() / (1.0 - floor * clamped.sum())
            low = free & (c < floor * lam)
            if not low.any():
                break
            clamped |= low
        out[m] = np.where(clamped, floor, c / lam)
    return out


#: Most clusters :func:`fit_clusters` takes: each EM iteration costs time and
#: memory (the forward table of each thread) as ``n_snps K^2``; fastPHASE's
#: users take K of 10 to 20.
MAX_CLUSTERS = 200


def fit_clusters(
    calls: Any,
    *,
    n_clusters: int = 12,
    n_init: int = 4,
    max_iter: int = 20,
    tol: float = 0.5,
    theta_floor: float = 1e-3,
    alpha_floor: float = 1e-4,
    jump_floor: float = 1e-5,
    jump_init: float = 0.05,
    random_state: Any = None,
    n_threads: int | None = None,
) -> ClusterFit:
    """Fit the haplotype-cluster HMM to unphased genotypes by EM.

    Parameters
    ----------
    calls : int8 array (n_people, n_snps)
        ALT allele counts 0/1/2, -1 missing (as
        :func:`seqem.io.vcf.read_genotypes` returns in ``.calls``).
    n_clusters : int
        ``K``, at most :data:`MAX_CLUSTERS`; the cost per iteration grows as
        ``K^2``.
    n_init : int
        Random starts; all are kept (phasing averages over them).  With the
        default refinement of :func:`phase_clusters` a few suffice; phasing
        by the cluster model alone (``refine=0``) gains from more (16 rather
        than 8 lowered the TVD of EUR 100-SNP windows from 0.275 to 0.262).
    max_iter : int
        EM iterations per start at most.  fastPHASE runs a fixed 25 or so:
        the likelihood creeps up for long, and averaging over starts matters
        more than polishing each one.
    tol : float
        A start stops when one iteration raises the log-likelihood by less
        than this (absolute, summed over people).
    theta_floor, alpha_floor, jump_floor : float
        Box constraints keeping every probability away from 0 and 1.
    jump_init : float
        Starting jump probability of every interval.
    random_state : None, int or numpy Generator
        Source of the starting points; the seed used is reported.
    n_threads : int, optional
        Numba threads (None or 0: all available cores).

    Returns
    -------
    ClusterFit
    """
    g = _check_calls(calls)
    if not isinstance(n_clusters, (int, np.integer)) or not 1 <= n_clusters <= MAX_CLUSTERS:
        raise ParameterError(
            f"n_clusters must be an integer from 1 to {MAX_CLUSTERS}, got {n_clusters!r}"
        )
    if not 0 < theta_floor < 0.5:
        raise ParameterError(f"theta_floor must be in (0, 0.5), got {theta_floor}")
    if not 0 < alpha_floor * n_clusters < 1:
        raise ParameterError(
            f"alpha_floor must be in (0, 1/n_clusters) = (0, {1 / n_clusters:g}) with "
            f"n_clusters={n_clusters}, got {alpha_floor}; decrease it"
        )
    if not 0 < jump_floor < 0.5:
        raise ParameterError(f"jump_floor must be in (0, 0.5), got {jump_floor}")
    if not jump_floor <= jump_init <= 1 - jump_floor:
        raise ParameterError(f"jump_init must be within the jump floors, got {jump_init}")
    if not isinstance(n_init, (int, np.integer)) or n_init < 1:
        raise ParameterError(f"n_init must be an integer >= 1, got {n_init!r}")
    g = g[(g >= 0).any(axis=1)]
    if g.shape[0] == 0:
        raise InputFormatError("no person has a call: nothing to fit")
    problem = ClusterEM(
        g,
        int(n_clusters),
        theta_floor=theta_floor,
        alpha_floor=alpha_floor,
        jump_floor=jump_floor,
        jump_init=jump_init,
        n_threads=n_threads,
    )
    seed = make_seed(random_state)
    seeds = np.random.SeedSequence(seed).generate_state(int(n_init), dtype=np.uint64) >> 1
    start = time.perf_counter()
    params, fits = [], []
    with warnings.catch_warnings():
        # a fixed iteration budget is the usual way to run this model; the
        # per-start stop reasons are reported in ClusterFit.fits
        warnings.filterwarnings(
            "ignore", message="EM did not converge", category=ConvergenceWarning
        )
        for s in seeds:
            p, fit = run_em(problem, max_iter=max_iter, tol=tol, random_state=int(s))
            params.append(p)
            fits.append(fit)
    return ClusterFit(
        params=tuple(params),
        logliks=np.array([f.loglik for f in fits]),
        fits=tuple(fits),
        seed=seed,
        n_people=int(g.shape[0]),
        elapsed=time.perf_counter() - start,
    )


def cluster_loglik(
    calls: Any, params: ClusterParams, *, n_threads: int | None = None
) -> np.ndarray:
    """Log-likelihood of each person's genotypes under ``params``.

    Returns
    -------
    float64 array (n_people,)
        ``ln P(calls_i)`` (0 for a person without calls).
    """
    g = _check_calls(calls)
    _check_shape(g, params)
    theta, alpha, jump = params.arrays()
    with _jit.threads(n_threads):
        loglik, _, _, _ = CK.cluster_estep(g, theta, alpha, jump, _chunks(g.shape[0]))
    return loglik


def _check_shape(g: np.ndarray, params: ClusterParams) -> None:
    if g.shape[1] != params.n_snps:
        raise ParameterError(
            f"the genotypes have {g.shape[1]} SNPs but the model was fitted to "
            f"{params.n_snps}; pass the same SNPs"
        )


@dataclasses.dataclass(frozen=True)
class PhasedHaplotypes:
    """Each person's two haplotypes.

    Attributes
    ----------
    hap1, hap2 : int8 arrays (n_people, n_snps)
        Alleles (0 REF, 1 ALT); ``hap1 + hap2`` equals the genotype at every
        called SNP.  At each person's first heterozygous SNP ``hap1``
        carries ALT.
    genotypes : int8 array (n_people, n_snps)
        The calls with missing ones imputed (most probable genotype).
    imputed : bool array (n_people, n_snps)
        Where the call was missing.
    confidence : float64 array (n_people, n_snps)
        At heterozygous SNPs after a person's first: the share of posterior
        draws that agree with the chosen phase relative to the previous
        heterozygous SNP (0.5 to 1); NaN elsewhere.
    n_draws : int
        Posterior draws per person (starts x samples).
    """

    hap1: np.ndarray
    hap2: np.ndarray
    genotypes: np.ndarray
    imputed: np.ndarray
    confidence: np.ndarray
    n_draws: int


def _impute(g: np.ndarray, fit: ClusterFit, n_threads: int | None) -> np.ndarray:
    """Missing calls replaced by the genotype of highest posterior probability."""
    rows = np.flatnonzero((g < 0).any(axis=1)).astype(np.int64)
    if rows.size == 0:
        return g
    post = np.zeros((rows.size, g.shape[1], 3))
    with _jit.threads(n_threads):
        for params in fit.params:
            theta, alpha, jump = params.arrays()
            post += CK.genotype_posteriors(g, theta, alpha, jump, rows, _chunks(rows.size))
    out = g.copy()
    sub = out[rows]
    miss = sub < 0
    sub[miss] = np.argmax(post, axis=2).astype(np.int8)[miss]
    out[rows] = sub
    return out


def _draw(
    filled: np.ndarray,
    fit: ClusterFit,
    n_samples: int,
    seed: int,
    keep: bool,
    n_threads: int | None,
) -> tuple[np.ndarray, np.ndarray | None]:
    n, M = filled.shape
    same = np.zeros((n, M))
    draws = None
    chunks = _chunks(n)
    seeds = np.random.SeedSequence(seed).generate_state(len(fit.params), dtype=np.uint64)
    parts = []
    with _jit.threads(n_threads):
        for params, s in zip(fit.params, seeds, strict=True):
            theta, alpha, jump = params.arrays()
            out = (
                np.zeros((n, n_samples, 2, M), dtype=np.int8)
                if keep
                else np.zeros((0, 0, 0, 0), dtype=np.int8)
            )
            CK.sample_phase(filled, theta, alpha, jump, int(n_samples), s, chunks, same, out)
            if keep:
                parts.append(out)
    if keep:
        draws = np.concatenate(parts, axis=1)
    return same, draws


def phase_clusters(
    calls: Any,
    fit: ClusterFit,
    *,
    n_samples: int = 20,
    refine: int = 8,
    n_ref: int = 96,
    copy_error: float = 0.001,
    copy_jump: float | np.ndarray = 0.01,
    random_state: Any = 0,
    n_threads: int | None = None,
) -> PhasedHaplotypes:
    """Phase every person (and impute missing calls) under a fitted model.

    Parameters
    ----------
    calls : int8 array (n_people, n_snps)
        The genotypes the model was fitted to (or others at the same SNPs).
    fit : ClusterFit
    n_samples : int
        Posterior draws per person, per start and per refinement round.
    refine : int
        Rounds of refinement by haplotype copying (0: the cluster model's
        phase alone).  In each round every person is re-phased with a
        cluster HMM whose ``n_ref`` clusters are the current haplotypes of
        other people nearest (Hamming distance) to theirs, each emitting its
        own allele with probability ``1 - copy_error`` (the Li & Stephens
        copying model), landing weights uniform, jump probability
        ``copy_jump`` per interval.  All people are updated from the previous
        round's haplotypes, and the draws of the later half of the rounds
        vote on the final phase.
    n_ref : int
        Reference haplotypes per person in the refinement; the cost of a
        round grows as ``n_ref^2``.
    copy_error : float
        Copying error probability of the refinement.
    copy_jump : float or float64 array (n_snps,)
        Probability of switching the copied haplotype between SNP ``m - 1``
        and ``m`` (one number for every interval, or one per SNP, entry 0
        unused), e.g. from a genetic map.
    random_state : int, Generator or None
        Seed of the draws (the result does not depend on the thread count).

    Returns
    -------
    PhasedHaplotypes
    """
    g = _check_calls(calls)
    _check_shape(g, fit.params[0])
    if not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise ParameterError(f"n_samples must be an integer >= 1, got {n_samples!r}")
    if not isinstance(refine, (int, np.integer)) or refine < 0:
        raise ParameterError(f"refine must be an integer >= 0, got {refine!r}")
    if not 0 < copy_error < 0.5:
        raise ParameterError(f"copy_error must be in (0, 0.5), got {copy_error}")
    try:
        jump = np.array(np.broadcast_to(np.asarray(copy_jump, dtype=np.float64), (g.shape[1],)))
    except ValueError:
        jump = np.full(g.shape[1], np.nan)
    if not np.all((jump[1:] > 0) & (jump[1:] <= 1)):
        raise ParameterError("copy_jump must be in (0, 1], one number or one per SNP")
    jump[0] = 1.0
    filled = _impute(g, fit, n_threads)
    seed = make_seed(random_state)
    same, _ = _draw(filled, fit, int(n_samples), seed, False, n_threads)
    n_draws = int(n_samples) * len(fit.params)
    hap1, hap2, confidence = _resolve(filled, same, n_draws)
    seeds = np.random.SeedSequence(seed).generate_state(int(refine) + 1, dtype=np.uint64)[1:]
    n_ref = min(int(n_ref), 2 * g.shape[0] - 2)
    if refine and n_ref >= 2:
        chunks = _chunks(g.shape[0])
        kept = np.zeros(g.shape, dtype=np.float64)
        n_kept = 0
        for r, s in enumerate(seeds):
            haps = np.empty((2 * g.shape[0], g.shape[1]), dtype=np.int8)
            haps[0::2] = hap1
            haps[1::2] = hap2
            with _jit.threads(n_threads):
                refs = CK.nearest_haplotypes(_pack(haps), n_ref, chunks)
                same = np.zeros(g.shape, dtype=np.float64)
                CK.copy_phase(
                    filled, haps, refs, float(copy_error), jump, int(n_samples), s, chunks, same
                )
            hap1, hap2, confidence = _resolve(filled, same, int(n_samples))
            if 2 * r >= len(seeds) - 1:  # the later half of the rounds vote
                kept += same
                n_kept += int(n_samples)
        hap1, hap2, confidence = _resolve(filled, kept, n_kept)
        n_draws = n_kept
    return PhasedHaplotypes(
        hap1=hap1,
        hap2=hap2,
        genotypes=filled,
        imputed=g < 0,
        confidence=confidence,
        n_draws=n_draws,
    )


def _pack(haps: np.ndarray) -> np.ndarray:
    """0/1 rows packed 64 SNPs to a uint64 word."""
    bits = np.packbits(haps.astype(np.uint8), axis=1, bitorder="little")
    pad = (-bits.shape[1]) % 8
    if pad:
        bits = np.concatenate([bits, np.zeros((bits.shape[0], pad), dtype=np.uint8)], axis=1)
    return np.ascontiguousarray(bits).view(np.uint64)


def _resolve(filled: np.ndarray, same: np.ndarray, n_draws: int) -> tuple[np.ndarray, ...]:
    """Haplotypes from the majority vote at each consecutive heterozygous pair."""
    het = filled == 1
    keep_same = same * 2 >= n_draws  # ties keep the ALT alleles together
    # flips[i, m] = 1 where the phase turns over at heterozygous SNP m
    flip = het & ~keep_same
    # the first heterozygous SNP of each person never flips
    first = het & (np.cumsum(het, axis=1) == 1)
    flip &= ~first
    parity = np.cumsum(flip, axis=1) % 2  # 0: ALT on hap1, 1: ALT on hap2
    hom_alt = filled == 2
    hap1 = (hom_alt | (het & (parity == 0))).astype(np.int8)
    hap2 = (hom_alt | (het & (parity == 1))).astype(np.int8)
    share = same / n_draws
    confidence = np.where(het & ~first, np.maximum(share, 1.0 - share), np.nan)
    return hap1, hap2, confidence


@dataclasses.dataclass(frozen=True)
class HaplotypeFrequencies:
    """Estimated haplotype frequencies over a window of SNPs.

    Attributes
    ----------
    haplotypes : tuple of str
        One character per SNP of the window (``0`` REF, ``1`` ALT), highest
        frequency first.
    frequencies : float64 array
        They sum to one.
    first, last : int
        The window: SNPs ``first`` to ``last`` inclusive.
    method : str
    """

    haplotypes: tuple[str, ...]
    frequencies: np.ndarray
    first: int
    last: int
    method: str

    def as_dict(self) -> dict[str, float]:
        return dict(zip(self.haplotypes, self.frequencies.tolist(), strict=True))


def _count_rows(
    rows: np.ndarray, weights: np.ndarray | None = None
) -> tuple[list[str], np.ndarray]:
    """Distinct 0/1 rows as strings and their (weighted) counts."""
    packed = np.ascontiguousarray(rows.astype(np.uint8))
    view = packed.view(np.dtype((np.void, packed.shape[1])))[:, 0]
    uniq, inverse = np.unique(view, return_inverse=True)
    counts = np.bincount(inverse.ravel(), weights=weights, minlength=uniq.size)
    strings = [bytes(np.frombuffer(u.tobytes(), dtype=np.uint8) + 48).decode() for u in uniq]
    return strings, counts


def haplotype_frequencies(
    calls: Any,
    fit: ClusterFit,
    *,
    first: int = 0,
    last: int | None = None,
    method: str = "phased",
    phased: PhasedHaplotypes | None = None,
    n_samples: int = 20,
    random_state: Any = 0,
    n_threads: int | None = None,
) -> HaplotypeFrequencies:
    """Haplotype frequencies over SNPs ``first..last`` (inclusive).

    Parameters
    ----------
    calls : int8 array (n_people, n_snps)
        The genotypes of every SNP the model was fitted to.
    fit : ClusterFit
    first, last : int
        The window (``last=None``: the last SNP).
    method : {"phased", "sampled"}
        ``"phased"`` counts the two phased haplotypes of every person (from
        :func:`phase_clusters`, or ``phased`` when given); ``"sampled"``
        averages over the posterior draws of every start (each draw of each
        person counts ``1 / n_draws`` per haplotype).
    phased : PhasedHaplotypes, optional
        Reuse a phasing (method ``"phased"``), e.g. for many windows.

    Returns
    -------
    HaplotypeFrequencies
    """
    g = _check_calls(calls)
    _check_shape(g, fit.params[0])
    M = g.shape[1]
    last = M - 1 if last is None else int(last)
    if not 0 <= int(first) <= last < M:
        raise ParameterError(f"window {first}..{last} is outside the {M} SNPs")
    window = slice(int(first), last + 1)
    if method == "phased":
        if phased is None:
            phased = phase_clusters(
                g, fit, n_samples=n_samples, random_state=random_state, n_threads=n_threads
            )
        rows = np.concatenate([phased.hap1[:, window], phased.hap2[:, window]])
        strings, counts = _count_rows(rows)
    elif method == "sampled":
        filled = _impute(g, fit, n_threads)
        _, draws = _draw(filled, fit, int(n_samples), make_seed(random_state), True, n_threads)
        assert draws is not None
        rows = draws[:, :, :, window].reshape(-1, last + 1 - int(first))
        strings, counts = _count_rows(rows)
    else:
        raise ParameterError(f"method must be 'phased' or 'sampled', got {method!r}")
    freq = counts / counts.sum()
    order = np.lexsort((np.array(strings), -freq))
    return HaplotypeFrequencies(
        haplotypes=tuple(strings[i] for i in order),
        frequencies=freq[order],
        first=int(first),
        last=last,
        method=method,
    )
