"""Haplotype frequencies from unphased genotypes by exact EM.

Excoffier & Slatkin (1995): every person's genotypes over ``h`` biallelic
SNPs are explained by the haplotype pairs they allow (a heterozygous site
doubles the pairs, a missing call lets both alleles of both haplotypes be
free), the likelihood of haplotype frequencies ``f`` is

    ln L = sum_i ln sum_{ordered pairs (a, b) compatible with person i} f_a f_b

(the definition haplo.stats uses), and EM replaces ``f`` by the expected
haplotype counts over ``2 N``.

How it is computed.  People with the same calls share one *pattern* and its
unordered pairs are enumerated once (compiled).  EM runs through the shared
engine (SQUAREM) on an *active set*: the pairs whose posterior share in
their pattern is at least :data:`PRUNE` (a pattern always keeps its best
pair).  After each round the full problem is checked: one exact E-step over
every pair re-selects the active set, and every haplotype at frequency zero
whose likelihood gradient exceeds ``2 N`` (the Lagrange multiplier of the
sum-to-one constraint) is put back.  The fit ends only when a round changes
the full log-likelihood by less than ``tol`` and no haplotype is left out
that the likelihood wants: a stationary point of the *full* problem, not of a
trimmed one (haplo.em's progressive insertion drops pairs for good and can
stop short of the maximum).  Several starts (the first uniform, the others
random draws over the haplotypes earlier fits used) guard against local
maxima; the best likelihood wins.

Rare haplotypes: partition-ligation.  The maximum-likelihood estimate
over every haplotype spends some mass on rare haplotypes that only
ambiguous people support, and on diverse windows its likelihood has many
local maxima.  The default (``method="ligation"``, Niu et al. 2002;
Qin, Niu & Liu 2002) estimates windows of up to ``leaf`` = 8 SNPs exactly;
a longer window is split in two halves, each half is estimated
(recursively, from three starts), haplotypes below :data:`LIGATE_MIN_FREQ`
(0.1%) in every start are dropped from it, and the whole window's EM runs
over the haplotypes joined from the halves' remaining ones.  Its
log-likelihood is the full likelihood at the estimate (every pair of
candidate haplotypes is enumerated), so it can be compared with the exact
maximum (``method="exact"``), which it trails by the price of the trimmed
rare haplotypes.  On the shared 1000 Genomes windows it is closer to the
true frequencies than both the exact maximum and haplo.em, and it reaches
windows of 40 SNPs and more, where full enumeration cannot.
``min_count`` (default 0: off) further removes haplotypes whose expected
number of copies in the sample is below it, where each removal costs the
likelihood at most ``min_count`` log units.

Standard errors come from the empirical information (the cross-product of
the people's scores in the free frequencies of the most frequent
haplotypes), inverted and mapped back to all of them.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import numpy as np

from .. import _jit
from ..em.engine import FitResult, run_em
from ..errors import ConvergenceWarning, InputFormatError, ParameterError
from . import _em_kernels as K

__all__ = ["HaploFit", "PhasePairs", "enumerate_pairs", "fit_haplotypes", "phase"]

#: Unordered pairs enumerated at most (about 24 bytes each).
MAX_PAIRS = 40_000_000
#: Most SNPs exact enumeration accepts.
MAX_SNPS = 30
#: A pair enters the active set when its share of its pattern's posterior is at least this.
PRUNE = 1e-10
#: Relative excess of a left-out haplotype's gradient over 2N that puts it back.
KKT_SLACK = 1e-7
#: Frequency a haplotype is put back at.
REINSERT = 1e-7
#: Starts of ``method="exact"`` (the maximum over every haplotype is its point).
EXACT_STARTS = 20
#: Starts stop (after ``n_init``) once this many have reached the best log-likelihood.
REPEATS = 3
#: Share of a random start spread evenly over all haplotypes (the rest is a Dirichlet draw
#: over the haplotypes earlier fits used).
SPREAD = 1e-3
#: Perturbations of the best estimate tried in a row without gain before stopping, and their size.
HOPS = 3
HOP_SIZE = 0.3


@dataclasses.dataclass(frozen=True)
class PhasePairs:
    """The distinct genotype patterns of a window and their compatible pairs.

    ``first[offsets[p]:offsets[p+1]]``, ``second[...]`` index into ``codes``
    (haplotype codes, bit ``j`` = allele at SNP ``j``), with
    ``first <= second``; ``mult`` is 2 for a heterozygous pair (both orders),
    1 for a homozygous one.  ``weight[p]`` is the number of people with
    pattern ``p``; ``person[i]`` is person ``i``'s pattern (-1 for a person
    without any call).
    """

    patterns: np.ndarray
    weight: np.ndarray
    person: np.ndarray
    offsets: np.ndarray
    first: np.ndarray
    second: np.ndarray
    mult: np.ndarray
    codes: np.ndarray
    n_snps: int

    @property
    def n_people(self) -> int:
        """People with at least one call."""
        return int(self.weight.sum())

    @property
    def n_pairs(self) -> int:
        return int(self.first.size)

    def pattern_of_pair(self) -> np.ndarray:
        return np.repeat(np.arange(self.weight.size), np.diff(self.offsets))


def check_calls(calls: np.ndarray) -> np.ndarray:
    """``calls`` as a C-contiguous int8 people x SNPs matrix, or a clear error."""
    g = np.ascontiguousarray(calls, dtype=np.int8)
    if g.ndim != 2 or g.shape[1] == 0:
        raise InputFormatError("genotypes must be a people x SNPs matrix with at least one SNP")
    if np.any((g > 2) | (g < -1)):
        raise InputFormatError("genotype calls must be 0, 1, 2 or -1 (missing)")
    return g


def _informative(data: np.ndarray) -> np.ndarray:
    """People with any information: a call, or genotype likelihoods that are not all equal."""
    if data.ndim == 2:
        return np.asarray((data >= 0).any(axis=1))
    return np.asarray((data < 1.0).any(axis=(1, 2)))


def _patterns(data: np.ndarray) -> tuple[np.ndarray, ...]:
    """Distinct rows of the informative people: patterns, a row of each, person map, counts."""
    informative = _informative(data)
    if not informative.any():
        raise InputFormatError("no person has a call in this window")
    rows = np.flatnonzero(informative)
    flat = data[informative].reshape(rows.size, -1)
    if data.ndim == 2 and data.shape[1] <= 31:
        # calls -1..2 as two bits each, the first SNP highest: one integer per
        # row, in the rows' lexicographic order (what np.unique(axis=0) sorts by)
        key = np.zeros(rows.size, dtype=np.int64)
        for j in range(flat.shape[1]):
            key = (key << 2) | (flat[:, j].astype(np.int64) + 1)
        _, first_row, inverse, weight = np.unique(
            key, return_index=True, return_inverse=True, return_counts=True
        )
        patterns = flat[first_row]
    else:
        patterns, first_row, inverse, weight = np.unique(
            flat, axis=0, return_index=True, return_inverse=True, return_counts=True
        )
    patterns = np.ascontiguousarray(patterns.reshape((-1, *data.shape[1:])), dtype=data.dtype)
    person = np.full(data.shape[0], -1, dtype=np.int64)
    person[informative] = inverse.reshape(-1)
    return patterns, rows[first_row], person, weight.astype(np.float64)


def _make_pairs(
    patterns: np.ndarray,
    weight: np.ndarray,
    person: np.ndarray,
    offsets: np.ndarray,
    first: np.ndarray,
    second: np.ndarray,
    mult: np.ndarray,
    h: int,
) -> PhasePairs:
    codes, index = _compact_codes(first, second, h)
    total = first.size
    return PhasePairs(
        patterns=patterns,
        weight=weight,
        person=person,
        offsets=offsets,
        first=index[:total],
        second=index[total:],
        mult=mult,
        codes=codes,
        n_snps=h,
    )


def _too_many(total: int, limit: int) -> ParameterError:
    return ParameterError(
        f"{total:,} phase configurations (over {limit:,}): the window has too many "
        "heterozygous or missing calls for exact EM; use fewer SNPs or partition-ligation"
    )


def enumerate_pairs(
    calls: np.ndarray,
    *,
    max_pairs: int = MAX_PAIRS,
    likelihoods: np.ndarray | None = None,
    threshold: float = 0.0,
) -> PhasePairs:
    """The distinct genotype patterns and their compatible unordered pairs.

    Parameters
    ----------
    calls : int8 array (n_people, n_snps)
        ALT allele counts, -1 missing.  People with no call at all carry no
        information and get pattern -1.
    likelihoods : float array (n_people, n_snps, 3), optional
        Genotype likelihoods (largest 1) used instead of the calls: every
        pair is weighted by the likelihood of its genotypes, and genotypes
        below ``threshold`` (relative to the most likely) are left out.
    """
    g = check_calls(calls)
    h = g.shape[1]
    if h > MAX_SNPS:
        raise ParameterError(
            f"{h} SNPs: exact enumeration is limited to {MAX_SNPS} SNPs; "
            "use a smaller window or partition-ligation"
        )
    if likelihoods is not None:
        gl = check_likelihoods(likelihoods, g.shape)
        patterns, _, person, weight = _patterns(gl)
        bound = K.likelihood_pair_bounds(patterns, threshold)
        if int(bound.sum()) > 2 * max_pairs:
            raise _too_many(int(bound.sum()) // 2, max_pairs)
        offsets, first, second, mult = K.fill_likelihood_pairs(patterns, threshold, bound)
        return _make_pairs(patterns, weight, person, offsets, first, second, mult, h)
    patterns, _, person, weight = _patterns(g)
    counts = K.pair_counts(patterns)
    total = int(counts.sum())
    if total > max_pairs:
        raise _too_many(total, max_pairs)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    first = np.empty(total, dtype=np.int64)
    second = np.empty(total, dtype=np.int64)
    mult = np.empty(total, dtype=np.float64)
    K.fill_pairs(patterns, offsets, first, second, mult)
    return _make_pairs(patterns, weight, person, offsets, first, second, mult, h)


def check_likelihoods(likelihoods: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Genotype likelihoods as float64 (n_people, n_snps, 3) with the largest 1 per call."""
    gl = np.asarray(likelihoods, dtype=np.float64)
    if gl.shape != (*shape, 3):
        raise InputFormatError(
            f"genotype likelihoods must have shape {(*shape, 3)}, got {gl.shape}"
        )
    if not np.all(np.isfinite(gl)) or np.any(gl < 0):
        raise InputFormatError("genotype likelihoods must be finite and >= 0")
    top = gl.max(axis=2, keepdims=True)
    if np.any(top <= 0):
        raise InputFormatError("a genotype has likelihood 0 for every genotype")
    return np.ascontiguousarray(gl / top)


def _compact_codes(first: np.ndarray, second: np.ndarray, h: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct haplotype codes (sorted) and every pair member's index into them."""
    both = np.concatenate([first, second])
    if h <= 24:  # a direct table is faster than sorting
        seen = np.zeros(1 << h, dtype=np.bool_)
        seen[both] = True
        codes = np.flatnonzero(seen).astype(np.int64)
        table = np.cumsum(seen, dtype=np.int64) - 1
        return codes, table[both]
    codes, index = np.unique(both, return_inverse=True)
    return codes.astype(np.int64), index.reshape(-1).astype(np.int64)


#: Partition-ligation enumerates windows of at most this many SNPs in full.
LIGATE_LEAF = 8
#: The same with genotype likelihoods (a SNP can allow all three genotypes).
LIGATE_LEAF_GL = 4
#: Genotypes less likely than this times the most likely one are left out (likelihood mode).
GL_THRESHOLD = 1e-4
#: Starts of each half window's fit, and the frequency a haplotype needs in one of
#: them to be kept for the ligation.
LIGATE_STARTS = 3
LIGATE_MIN_FREQ = 0.001
#: Most SNPs a window may have (haplotype codes are 64-bit integers).
LIGATE_MAX_SNPS = 62


def build_pairs(
    calls: np.ndarray,
    *,
    method: str = "ligation",
    leaf: int | None = None,
    likelihoods: np.ndarray | None = None,
    threshold: float = 0.0,
    n_threads: int | None = None,
) -> tuple[PhasePairs, str]:
    """The window's phase pairs, all of them or by partition-ligation.

    ``method="exact"`` enumerates every compatible pair.  ``"ligation"``
    (Niu et al. 2002) enumerates them in full only for windows of at most
    ``leaf`` SNPs (default :data:`LIGATE_LEAF`, :data:`LIGATE_LEAF_GL` with
    genotype likelihoods); a longer window is split in two halves, each is
    estimated (recursively, from several starts), the haplotypes the
    estimates give a frequency of at least :data:`LIGATE_MIN_FREQ` are kept,
    and the pairs of the whole window are those whose halves are pairs of
    kept haplotypes.  Returns the pairs and ``"exact"`` or
    ``"partition-ligation"``.
    """
    if method not in ("exact", "ligation"):
        raise ParameterError(f"method must be 'exact' or 'ligation', got {method!r}")
    g = check_calls(calls)
    h = g.shape[1]
    if h > LIGATE_MAX_SNPS:
        raise ParameterError(
            f"{h} SNPs: haplotype EM takes at most {LIGATE_MAX_SNPS}; use a smaller window"
        )
    gl = None if likelihoods is None else check_likelihoods(likelihoods, g.shape)
    if not _informative(g if gl is None else gl).any():
        raise InputFormatError("no person has a call in this window")
    if leaf is None:
        leaf = LIGATE_LEAF if gl is None else LIGATE_LEAF_GL
    if method == "exact" or h <= max(leaf, 1):
        return enumerate_pairs(g, likelihoods=gl, threshold=threshold), "exact"
    pairs = _ligate(g, gl, leaf=leaf, threshold=threshold, n_threads=n_threads)
    return pairs, "partition-ligation"


def _half_support(
    calls: np.ndarray,
    gl: np.ndarray | None,
    leaf: int,
    threshold: float,
    n_threads: int | None,
) -> tuple[PhasePairs, np.ndarray]:
    """A half window's pairs and the haplotypes its estimates use (bool mask)."""
    pairs, _ = build_pairs(
        calls, likelihoods=gl, leaf=leaf, threshold=threshold, n_threads=n_threads
    )
    n_hap = pairs.codes.size
    used = np.zeros(n_hap, dtype=np.bool_)
    rng = np.random.default_rng(0)
    best: _Maximum | None = None
    for start in range(LIGATE_STARTS):
        f0 = np.full(n_hap, 1.0 / n_hap) if start == 0 else rng.dirichlet(np.ones(n_hap))
        result = maximise(pairs, f0, n_threads=n_threads)
        used |= result.f > LIGATE_MIN_FREQ
        if best is None or result.loglik > best.loglik:
            best = result
    assert best is not None
    return pairs, _keep_feasible(pairs, used, best.f)


def _keep_feasible(pairs: PhasePairs, used: np.ndarray, f: np.ndarray) -> np.ndarray:
    """``used``, plus the best pair (under ``f``) of every pattern left without a pair."""
    used = used.copy()
    both = used[pairs.first] & used[pairs.second]
    has = np.bincount(pairs.pattern_of_pair()[both], minlength=pairs.weight.size)
    value = pairs.mult * f[pairs.first] * f[pairs.second]
    for p in np.flatnonzero(has == 0):
        lo, hi = pairs.offsets[p], pairs.offsets[p + 1]
        k = lo + int(np.argmax(value[lo:hi]))
        used[pairs.first[k]] = used[pairs.second[k]] = True
    return used


def _ordered_kept(pairs: PhasePairs, used: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per pattern, the ordered pairs (codes) of used haplotypes and their weights; one
    more pattern for people without information in the half (every ordered pair of
    used haplotypes, weight 1)."""
    keep = used[pairs.first] & used[pairs.second]
    pattern = pairs.pattern_of_pair()[keep]
    a = pairs.codes[pairs.first[keep]]
    b = pairs.codes[pairs.second[keep]]
    swap = a != b
    w = np.where(swap, pairs.mult[keep] / 2.0, pairs.mult[keep])  # one order's weight
    pattern = np.concatenate([pattern, pattern[swap]])
    a, b = np.concatenate([a, b[swap]]), np.concatenate([b, a[swap]])
    w = np.concatenate([w, w[swap]])
    n_pat = pairs.weight.size
    support = pairs.codes[used]
    aa, bb = np.meshgrid(support, support, indexing="ij")
    pattern = np.concatenate([pattern, np.full(aa.size, n_pat)])
    a, b = np.concatenate([a, aa.ravel()]), np.concatenate([b, bb.ravel()])
    w = np.concatenate([w, np.ones(aa.size)])
    order = np.argsort(pattern, kind="stable")
    offsets = np.concatenate([[0], np.cumsum(np.bincount(pattern, minlength=n_pat + 1))])
    return (
        offsets.astype(np.int64),
        a[order].astype(np.int64),
        b[order].astype(np.int64),
        np.ascontiguousarray(w[order]),
    )


def _ligate(
    g: np.ndarray, gl: np.ndarray | None, *, leaf: int, threshold: float, n_threads: int | None
) -> PhasePairs:
    h = g.shape[1]
    m = h // 2
    halves = []
    for cols in (slice(0, m), slice(m, h)):
        part_gl = None if gl is None else np.ascontiguousarray(gl[:, cols])
        pairs, used = _half_support(
            np.ascontiguousarray(g[:, cols]), part_gl, leaf, threshold, n_threads
        )
        person = np.where(pairs.person >= 0, pairs.person, pairs.weight.size)
        halves.append((_ordered_kept(pairs, used), person))
    patterns, rows, person, weight = _patterns(g if gl is None else gl)
    (l_off, l_a, l_b, l_w), l_person = halves[0]
    (r_off, r_a, r_b, r_w), r_person = halves[1]
    left_of = l_person[rows].astype(np.int64)
    right_of = r_person[rows].astype(np.int64)
    bound = K.ligated_counts(left_of, right_of, l_off, r_off)
    if int(bound.sum()) > 4 * MAX_PAIRS:
        raise ParameterError(
            f"{int(bound.sum()):,} phase configurations after partition-ligation: the window "
            "is too diverse for haplotype EM; use fewer SNPs"
        )
    offsets, first, second, mult = K.fill_ligated(
        left_of, right_of, l_off, l_a, l_b, l_w, r_off, r_a, r_b, r_w, m, bound
    )
    return _make_pairs(patterns, weight, person, offsets, first, second, mult, h)


class _Subset:
    """An EM-engine problem over a subset of the pairs (the active set)."""

    def __init__(
        self,
        offsets: np.ndarray,
        first: np.ndarray,
        second: np.ndarray,
        mult: np.ndarray,
        weight: np.ndarray,
        start: np.ndarray,
        n_threads: int | None,
    ) -> None:
        self.offsets, self.first, self.second, self.mult = offsets, first, second, mult
        self.weight = weight
        self.start = start
        self.n_threads = n_threads
        self.post = np.empty(first.size)
        self.loglik = np.empty(weight.size)
        self.scale = np.empty(weight.size)

    def initial_params(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {"f": self.start.copy()}

    def e_step(self, params: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], float]:
        f = params["f"]
        args = (self.offsets, self.first, self.second, self.mult, self.weight, f, self.post,
                self.loglik, self.scale)  # fmt: skip
        if self.first.size >= K.PARALLEL_MIN_PAIRS:
            with _jit.threads(self.n_threads):
                K.pair_posteriors(*args)
            counts = K.accumulate(self.first, self.second, self.post, f.size)
        else:  # serial: no thread pool to set (which costs more than the E-step), one call
            counts = K.estep_serial(*args)
        return {"counts": counts}, float(self.loglik.sum())

    def m_step(self, stats: dict[str, np.ndarray], params: dict[str, np.ndarray]) -> dict[str, Any]:
        counts = stats["counts"]
        return {"f": counts / counts.sum()}

    def log_prior(self, params: dict[str, np.ndarray]) -> float:
        return 0.0

    def to_vector(self, params: dict[str, np.ndarray]) -> np.ndarray:
        return params["f"].copy()

    def from_vector(self, vector: np.ndarray, like: dict[str, np.ndarray]) -> dict | None:
        if not np.all(np.isfinite(vector)) or np.any(vector < 0):
            return None
        s = vector.sum()
        return None if s <= 0 else {"f": vector / s}


def _full_pass(
    pairs: PhasePairs, f: np.ndarray, n_threads: int | None = None
) -> tuple[np.ndarray, float, np.ndarray]:
    """Every pair's posterior, the full log-likelihood and each pattern's ``w / L``."""
    post = np.empty(pairs.n_pairs)
    ll = np.empty(pairs.weight.size)
    scale = np.empty(pairs.weight.size)
    with _jit.threads(n_threads):
        K.pair_posteriors(
            pairs.offsets, pairs.first, pairs.second, pairs.mult, pairs.weight, f, post, ll,
            scale,
        )  # fmt: skip
    return post, float(ll.sum()), scale


def loglik(pairs: PhasePairs, f: np.ndarray, n_threads: int | None = None) -> float:
    """``sum_i ln sum_pairs f_a f_b`` over every pair (the full likelihood)."""
    return _full_pass(pairs, f, n_threads)[1]


def expected_counts(pairs: PhasePairs, f: np.ndarray) -> tuple[np.ndarray, float]:
    """Expected haplotype counts and the log-likelihood at ``f`` (one exact E-step)."""
    problem = _Subset(pairs.offsets, pairs.first, pairs.second, pairs.mult, pairs.weight, f, None)
    stats, ll = problem.e_step({"f": f})
    return stats["counts"], ll


@dataclasses.dataclass
class _Maximum:
    f: np.ndarray
    loglik: float
    n_iter: int
    rounds: int
    converged: bool
    history: list[float]


def maximise(
    pairs: PhasePairs,
    f0: np.ndarray,
    *,
    allowed: np.ndarray | None = None,
    tol: float = 1e-9,
    max_iter: int = 5000,
    max_rounds: int = 60,
    n_threads: int | None = None,
) -> _Maximum:
    """EM from ``f0`` to a stationary point of the full likelihood.

    ``allowed`` (bool over haplotypes) restricts the estimate to those
    haplotypes; the optimality check then only considers them.
    """
    two_n = 2.0 * pairs.weight.sum()
    n_hap = pairs.codes.size
    f = f0.copy()
    if allowed is not None:
        f[~allowed] = 0.0
        f /= f.sum()
    post, full_before, scale = _full_pass(pairs, f, n_threads)
    total_iter = 0
    history = [full_before]
    converged = False
    rounds = 0
    budget = 3  # a few plain steps on (nearly) every pair, then the active set
    while rounds < max_rounds:
        rounds += 1
        keep = K.keep_pairs(pairs.offsets, post, pairs.weight, PRUNE)
        if allowed is not None:
            keep &= allowed[pairs.first] & allowed[pairs.second]
        offsets, first, second, mult, active = K.select_pairs(
            pairs.offsets, pairs.first, pairs.second, pairs.mult, keep, n_hap
        )
        start = f[active]
        start = start / start.sum()
        sub = _Subset(offsets, first, second, mult, pairs.weight, start, n_threads)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            params, fit = run_em(
                sub, max_iter=budget, tol=tol, accelerate="squarem" if budget > 3 else None
            )
        total_iter += fit.n_iter
        f = np.zeros(n_hap)
        f[active] = params["f"]
        # the full problem at the new point: likelihood, and who wants back in
        post, full_after, scale = _full_pass(pairs, f, n_threads)
        history.append(full_after)
        grad = K.pair_scores(pairs.offsets, pairs.first, pairs.second, pairs.mult, scale, f, n_hap)
        wanted = (f == 0) & (grad > two_n * (1.0 + KKT_SLACK))
        if allowed is not None:
            wanted &= allowed
        if (
            fit.converged
            and not wanted.any()
            and full_after - full_before < max(tol, 1e-12 * abs(full_after))
        ):
            converged = True
            break
        full_before = full_after
        if wanted.any():
            f[wanted] = REINSERT
            f /= f.sum()
            post, full_after, scale = _full_pass(pairs, f, n_threads)
            full_before = full_after
        budget = 20 if budget == 3 else min(2 * budget, max_iter)
        if total_iter >= max_iter:
            break
    return _Maximum(f, full_after, total_iter, rounds, converged, history)


@dataclasses.dataclass(frozen=True)
class HaploFit:
    """Estimated haplotype frequencies of a window.

    Attributes
    ----------
    haplotypes : tuple of str
        One character per SNP in position order (``0`` REF, ``1`` ALT),
        sorted by frequency, highest first (only frequencies > 0).
    frequencies, se : float64 arrays
    codes : int64 array
        The haplotypes as codes (bit ``j`` = allele at SNP ``j``).
    loglik : float
        ``sum_i ln sum_pairs f_a f_b`` at the estimate.
    loglik_mle : float
        The same at the best EM fixed point found over the method's
        candidate pairs (before ``min_count`` removals; the exact maximum
        with ``method="exact"``).
    n_people : int
        People with at least one call.
    n_removed : int
        Haplotypes removed as unsupported (``min_count``).
    lr_test : dict
        Likelihood-ratio test of linkage equilibrium: ``lr`` (2 (ln L -
        ln L0), ln L0 under frequencies that are products of the allele
        frequencies), ``df`` and ``pvalue``.
    starts : list of float
        Final log-likelihood of every start.
    fit : FitResult
        Iterations, convergence and timing of the winning start.
    pairs : PhasePairs
    f_all : float64 array
        The estimate over every haplotype of ``pairs.codes``.
    method : str
        ``"exact"`` (every phase configuration) or ``"partition-ligation"``.
    """

    haplotypes: tuple[str, ...]
    frequencies: np.ndarray
    se: np.ndarray
    codes: np.ndarray
    loglik: float
    loglik_mle: float
    n_people: int
    n_removed: int
    lr_test: dict[str, float]
    starts: list[float]
    fit: FitResult
    pairs: PhasePairs
    f_all: np.ndarray
    method: str = "exact"

    def as_dict(self) -> dict[str, float]:
        return dict(zip(self.haplotypes, self.frequencies.tolist(), strict=True))


def _strings(codes: np.ndarray, h: int) -> tuple[str, ...]:
    return tuple("".join("1" if (int(c) >> j) & 1 else "0" for j in range(h)) for c in codes)


#: Standard errors are computed for at most this many (the most frequent) haplotypes.
SE_MAX_HAPLOTYPES = 400


def _standard_errors(pairs: PhasePairs, f: np.ndarray) -> np.ndarray:
    """Standard errors of the frequencies from the empirical information.

    The information is the weighted cross-product of the patterns' scores in
    the free frequencies of the (at most :data:`SE_MAX_HAPLOTYPES`) most
    frequent haplotypes, the others held fixed; their standard errors are
    NaN.
    """
    nonzero = np.flatnonzero(f > 0)
    keep = nonzero[np.argsort(-f[nonzero], kind="stable")[:SE_MAX_HAPLOTYPES]]
    k = keep.size
    se = np.full(f.size, np.nan)
    if k < 2:
        se[keep] = 0.0
        return se
    index = np.full(f.size, -1, dtype=np.int64)
    index[keep] = np.arange(k)
    score = K.pattern_scores(pairs.offsets, pairs.first, pairs.second, pairs.mult, f, index, k)
    used = np.any(score != 0, axis=1)
    score = score[used]
    free = score[:, :-1] - score[:, -1:]
    info = (free * pairs.weight[used, None]).T @ free
    # pseudo-inverse of the symmetric information (directions it does not see get 0)
    values, vectors = np.linalg.eigh(info)
    big = values > values.max() * 1e-12 if values.size and values.max() > 0 else values > 0
    cov = (vectors[:, big] / values[big]) @ vectors[:, big].T
    full = np.zeros((k, k))
    full[:-1, :-1] = cov
    full[-1, :-1] = full[:-1, -1] = -cov.sum(axis=1)
    full[-1, -1] = cov.sum()
    se[keep] = np.sqrt(np.clip(np.diag(full), 0.0, None))
    return se


def _allele_frequencies(calls: np.ndarray, likelihoods: np.ndarray | None) -> np.ndarray:
    """ALT allele frequencies: allele counting, or EM over genotype likelihoods."""
    if likelihoods is None:
        called = calls >= 0
        return np.where(called, calls, 0).sum(axis=0) / np.maximum(2 * called.sum(axis=0), 1)
    gl = np.asarray(likelihoods, dtype=np.float64)
    p = np.full(gl.shape[1], 0.5)
    for _ in range(200):
        prior = np.stack([(1 - p) ** 2, 2 * p * (1 - p), p**2], axis=1)  # (snps, 3)
        post = gl * prior[None]
        post /= post.sum(axis=2, keepdims=True)
        new = (post[:, :, 1] + 2 * post[:, :, 2]).sum(axis=0) / (2 * gl.shape[0])
        if np.abs(new - p).max() < 1e-12:
            return new
        p = new
    return p


def _equilibrium_test(
    calls: np.ndarray,
    likelihoods: np.ndarray | None,
    pairs: PhasePairs,
    f: np.ndarray,
    ll: float,
) -> dict:
    """Likelihood-ratio test of linkage equilibrium against the estimate ``f``.

    Under equilibrium the frequencies are products of the allele frequencies
    (their maximum-likelihood estimate); with a genotype-likelihood threshold
    the null likelihood is taken over the same pairs.
    """
    from scipy.stats import chi2

    p_alt = _allele_frequencies(calls, likelihoods)
    bits = (pairs.codes[:, None] >> np.arange(pairs.n_snps)) & 1
    f0 = np.prod(np.where(bits == 1, p_alt, 1 - p_alt), axis=1)
    ll0 = loglik(pairs, f0)
    df = max(int((f > 0).sum()) - 1 - int((p_alt * (1 - p_alt) > 0).sum()), 1)
    lr = max(0.0, 2.0 * (ll - ll0))
    return {"lr": lr, "df": float(df), "pvalue": float(chi2.sf(lr, df)), "loglik0": ll0}


def _remove_unsupported(
    pairs: PhasePairs,
    f: np.ndarray,
    ll: float,
    min_count: float,
    *,
    tol: float,
    max_iter: int,
    n_threads: int | None,
) -> tuple[np.ndarray, float, int]:
    """Drop haplotypes with fewer than ``min_count`` expected copies (see module doc)."""
    two_n = 2.0 * pairs.weight.sum()
    allowed = f > 0
    removed = 0
    for _ in range(20):
        copies = f * two_n
        # every pattern must keep a pair: protect the best pair of any pattern left without one
        weak = allowed & ~_keep_feasible(pairs, allowed & (copies >= min_count), f)
        if not weak.any():
            break
        trial_allowed = allowed & ~weak
        trial = maximise(
            pairs, f, allowed=trial_allowed, tol=tol, max_iter=max_iter, n_threads=n_threads
        )
        n_weak = int(weak.sum())
        if not np.isfinite(trial.loglik) or ll - trial.loglik > min_count * n_weak:
            # too costly as a block: remove only the weakest half
            order = np.flatnonzero(weak)[np.argsort(copies[weak], kind="stable")]
            if order.size <= 1:
                break
            weak = np.zeros_like(weak)
            weak[order[: order.size // 2]] = True
            trial = maximise(
                pairs, f, allowed=allowed & ~weak, tol=tol, max_iter=max_iter,
                n_threads=n_threads,
            )  # fmt: skip
            n_weak = int(weak.sum())
            if not np.isfinite(trial.loglik) or ll - trial.loglik > min_count * n_weak:
                break
        allowed = trial.f > 0
        removed += n_weak
        f, ll = trial.f, trial.loglik
    return f, ll, removed


def fit_haplotypes(
    calls: np.ndarray,
    *,
    n_init: int | None = None,
    max_init: int = 20,
    method: str = "ligation",
    leaf: int | None = None,
    likelihoods: np.ndarray | None = None,
    gl_threshold: float = GL_THRESHOLD,
    min_count: float = 0.0,
    max_iter: int = 5000,
    tol: float = 1e-9,
    random_state: Any = None,
    n_threads: int | None = None,
    standard_errors: bool = True,
) -> HaploFit:
    """Haplotype frequencies of a window of SNPs by exact EM.

    Parameters
    ----------
    calls : int8 array (n_people, n_snps)
        ALT allele counts 0/1/2, -1 missing; up to about 20-25 SNPs.
    n_init, max_init : int
        Starts (the first uniform, the rest random; default 5, and 20 with
        ``method="exact"``); the best log-likelihood wins.  After ``n_init``
        starts, more are made (up to ``max_init``) until the best
        log-likelihood has been reached by three starts (within 1e-6): a
        likelihood with many local maxima gets more starts.  Random
        starts alternate between a Dirichlet draw over the haplotypes the
        earlier fits used (99.9%, plus an even spread over all) and a
        Dirichlet draw over all haplotypes.  Then
        the best estimate is perturbed (mixed 70:30 with a random
        distribution over its haplotypes) and refitted until :data:`HOPS`
        perturbations in a row bring no gain.
    method : {"ligation", "exact"}
        Partition-ligation (the default) or every phase configuration (the
        maximum-likelihood estimate over all haplotypes; windows up to about
        20-25 SNPs).  See the module doc.
    leaf : int, optional
        Largest window partition-ligation enumerates in full (default 8; 4
        with genotype likelihoods).
    likelihoods : float array (n_people, n_snps, 3), optional
        Genotype likelihoods (of 0, 1, 2 ALT alleles) to use instead of the
        calls (low-coverage data): each phase pair is weighted by the
        likelihood of its genotypes; genotypes below ``gl_threshold`` times
        the most likely one are left out.
    min_count : float
        Remove haplotypes with fewer expected copies than this where the
        likelihood allows (module doc); 0 (the default) keeps them.
    tol : float
        A round ends when the full log-likelihood rises by less than this.
    """
    import time

    from ..em.engine import make_seed

    if n_init is None:
        n_init = EXACT_STARTS if method == "exact" else 5
    if not isinstance(n_init, (int, np.integer)) or n_init < 1:
        raise ParameterError(f"n_init must be an integer >= 1, got {n_init!r}")
    if not min_count >= 0:
        raise ParameterError(f"min_count must be >= 0, got {min_count!r}")
    clock = time.perf_counter()
    g = check_calls(calls)
    pairs, method = build_pairs(
        g, method=method, leaf=leaf, likelihoods=likelihoods, threshold=gl_threshold,
        n_threads=n_threads,
    )  # fmt: skip
    n_hap = pairs.codes.size
    seed = make_seed(random_state)
    rng = np.random.default_rng(seed)
    best: _Maximum | None = None
    finals: list[float] = []
    best_index = 0
    seen = np.zeros(n_hap, dtype=np.bool_)  # haplotypes some fit has used
    for start in range(max(n_init, max_init)):
        if start >= n_init and np.sum(np.max(finals) - np.array(finals) < 1e-6) >= REPEATS:
            break
        f0 = np.full(n_hap, 1.0 / n_hap)
        if start % 2 == 1:
            # a random point among the haplotypes the fits so far have used, with a little
            # mass on every other one
            f0 *= SPREAD
            f0[seen] += (1 - SPREAD) * rng.dirichlet(np.ones(int(seen.sum())))
        elif start > 0:
            f0 = rng.dirichlet(np.ones(n_hap))
        result = maximise(pairs, f0, tol=tol, max_iter=max_iter, n_threads=n_threads)
        seen |= result.f > 0
        finals.append(result.loglik)
        if best is None or result.loglik > best.loglik:
            best, best_index = result, start
    assert best is not None
    # a few perturbations of the best estimate (iterated local search)
    failures = 0
    while n_init > 1 and failures < HOPS:
        noise = np.zeros(n_hap)
        used = best.f > 0
        noise[used] = rng.dirichlet(np.ones(int(used.sum())))
        result = maximise(
            pairs, (1 - HOP_SIZE) * best.f + HOP_SIZE * noise, tol=tol, max_iter=max_iter,
            n_threads=n_threads,
        )  # fmt: skip
        finals.append(result.loglik)
        if result.loglik > best.loglik + 1e-7:
            best, best_index, failures = result, len(finals) - 1, 0
        else:
            failures += 1
    if not best.converged:
        warnings.warn(
            f"haplotype EM did not converge in {best.n_iter} iterations", ConvergenceWarning,
            stacklevel=2,
        )  # fmt: skip
    f, ll, removed = best.f, best.loglik, 0
    if min_count > 0:
        f, ll, removed = _remove_unsupported(
            pairs, f, ll, min_count, tol=tol, max_iter=max_iter, n_threads=n_threads
        )
    se = _standard_errors(pairs, f) if standard_errors else np.full(n_hap, np.nan)
    lr_test = _equilibrium_test(g, likelihoods, pairs, f, ll)
    order = np.argsort(-f, kind="stable")
    order = order[f[order] > 0]
    fit = FitResult(
        converged=best.converged,
        stop_reason="tol" if best.converged else "max_iter",
        n_iter=best.n_iter,
        loglik=ll,
        objective=ll,
        history=tuple(best.history),
        seed=seed,
        elapsed=time.perf_counter() - clock,
        n_init=len(finals),
        best_init=best_index,
        accelerate="squarem",
        init_objectives=tuple(finals),
    )
    return HaploFit(
        haplotypes=_strings(pairs.codes[order], pairs.n_snps),
        frequencies=f[order],
        se=se[order],
        codes=pairs.codes[order],
        loglik=ll,
        loglik_mle=best.loglik,
        n_people=pairs.n_people,
        n_removed=removed,
        lr_test=lr_test,
        starts=finals,
        fit=fit,
        pairs=pairs,
        f_all=f,
        method=method,
    )


def phase(fit: HaploFit) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each person's most probable unordered haplotype pair under ``fit``.

    Returns
    -------
    hap1, hap2 : int64 arrays (n_people,)
        Haplotype codes, ``hap1 <= hap2`` (-1 for a person without any call).
    probability : float64 array
        Posterior probability of that unordered pair (NaN without calls).
    """
    pairs = fit.pairs
    post, _, scale = _full_pass(pairs, fit.f_all)
    post = post / pairs.weight[pairs.pattern_of_pair()]
    n_pat = pairs.weight.size
    pattern = pairs.pattern_of_pair()
    # the best pair of every pattern: the last index of the maximum after a stable sort
    order = np.lexsort((post, pattern))
    last = np.concatenate([np.flatnonzero(np.diff(pattern[order])), [order.size - 1]])
    best = order[last]
    assert best.size == n_pat
    h1 = np.full(pairs.person.size, -1, dtype=np.int64)
    h2 = np.full(pairs.person.size, -1, dtype=np.int64)
    prob = np.full(pairs.person.size, np.nan)
    ok = pairs.person >= 0
    chosen = best[pairs.person[ok]]
    h1[ok] = pairs.codes[pairs.first[chosen]]
    h2[ok] = pairs.codes[pairs.second[chosen]]
    prob[ok] = post[chosen]
    return h1, h2, prob
