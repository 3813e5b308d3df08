"""Posterior decoding, alignments and domain definition of one target sequence.

After a search says a sequence matches a profile, :func:`define_domains`
says where: it follows the domain-definition heuristic HMMER publishes
(Eddy 2011; the HMMER user guide, "domain definition"):

1. **Posterior decoding** of the whole sequence (multihit, length model of
   the target): for each residue ``i`` the probability ``mocc[i]`` that it
   is emitted by the core model (not by N, C or J), and the expected numbers
   ``b[i]`` of domains beginning at ``i`` and ``e[i]`` ending at ``i``.
2. **Regions**: a region is triggered where ``mocc >= rt1`` (0.25); it
   starts at the last residue before that where the probability of being in
   a domain already under way, ``mocc - b``, was below ``rt2`` (0.10), and it
   ends at the first residue where the probability of a domain going on past
   it, ``mocc - e``, falls below ``rt2``.
3. **Multi-domain regions**: a region is split while some cut point ``z``
   has both ``>= rt3`` (0.20) expected domain ends before it and ``>= rt3``
   expected domain starts after it.  HMMER then clusters 200 sampled
   tracebacks by overlap; this module instead cuts (deterministically) where
   the chance of one domain running across the cut is below ``SPAN_MAX``
   (a spanning domain in a few samples would link both sides into one
   cluster) and finds regions again on each side.
4. **Envelopes** (each region after splitting) are rescored as a single
   domain: unihit Forward of the envelope's residues with the length model
   of the whole target, plus the cost of the flanking residues under the
   multihit loop ``L / (L + 3)``, against the null model of the whole
   target, in bits (no null2 bias correction).
5. **Alignment**: the optimal-accuracy (maximum expected accuracy) path
   through the envelope's posterior probabilities gives the alignment
   coordinates and ``acc``, the path's mean posterior probability per residue
   of the envelope (the aligned residues' states and the flanking states of
   the others: HMMER's optimal-accuracy score over the envelope length).

E-values: ``c_evalue = P * domZ`` (conditional: ``domZ`` is the number of
sequences reported as significant), ``i_evalue = P * Z`` (independent:
``Z`` is the size of the search), with ``P`` the Forward P-value of the
domain score.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

import numpy as np

from .._jit import TIME_CHUNK, dynamic_schedule
from ..errors import ParameterError
from . import _decode_kernels as DK
from .calibrate import forward_pvalue
from .search import LN2, SearchProfile, null_score

__all__ = [
    "Domain",
    "DomainCounts",
    "DomainPath",
    "Envelopes",
    "score_and_find_envelopes",
    "sequence_score",
    "rescore_envelopes",
    "define_domains_many",
    "Posteriors",
    "Trace",
    "decode",
    "viterbi_trace",
    "optimal_accuracy_trace",
    "find_regions",
    "define_domains",
    "RT1",
    "RT2",
    "RT3",
    "SPAN_MAX",
]

#: Region trigger: a region starts where ``mocc`` reaches this.
RT1 = 0.25
#: Region boundary: ``mocc - b`` (start) or ``mocc - e`` (end) below this.
RT2 = 0.10
#: A region holds more than one domain when this many expected ends and
#: starts lie on the two sides of one cut point.
RT3 = 0.20
#: Largest chance that one domain runs across a cut in a multi-domain region.
SPAN_MAX = 0.02

_STATE_NAMES = "SNBMIDECJT"


@dataclasses.dataclass(frozen=True, eq=False)
class Posteriors:
    """Posterior decoding of one sequence.

    Attributes
    ----------
    loglik : float
        ln of the total odds probability (Forward, nats; not a bit score).
    match, insert : float64 arrays, shape (L + 1, M + 1)
        Probability that residue ``i`` (row ``i``, 1-based; row 0 unused) is
        emitted by the match / insert state of node ``k``.
    special : float64 array, shape (L + 1, 5)
        Columns N, C, J (probability that residue ``i`` is emitted by that
        flank state), B and E (expected visits at row ``i``).
    """

    loglik: float
    match: np.ndarray
    insert: np.ndarray
    special: np.ndarray

    @property
    def mocc(self) -> np.ndarray:
        """Probability that each residue is in a domain, float64 (L,)."""
        x = self.special[1:]
        return 1.0 - x[:, DK.PN] - x[:, DK.PC] - x[:, DK.PJ]

    @property
    def begins(self) -> np.ndarray:
        """Expected number of domains whose first residue is ``i``, float64 (L,)."""
        return self.special[:-1, DK.PB].copy()

    @property
    def ends(self) -> np.ndarray:
        """Expected number of domains whose last residue is ``i``, float64 (L,)."""
        return self.special[1:, DK.PE].copy()


@dataclasses.dataclass(frozen=True, eq=False)
class Trace:
    """A path through the search topology.

    Attributes
    ----------
    score : float
        Path score: ln odds probability (Viterbi) or the sum of posterior
        probabilities of its emitting states (optimal accuracy).
    states : str
        One letter per step: S N B M I D E C J T.
    nodes : int32 array, shape (n_steps,)
        Node of match/insert/delete steps, else 0.
    positions : int32 array, shape (n_steps,)
        1-based residue emitted at each step, 0 for steps that emit nothing.
    """

    score: float
    states: str
    nodes: np.ndarray
    positions: np.ndarray

    def domains(self) -> list[tuple[int, int, int, int]]:
        """``(ali_from, ali_to, hmm_from, hmm_to)`` of each B..E segment (1-based)."""
        out = []
        start = -1
        for j, s in enumerate(self.states):
            if s == "B":
                start = j
            elif s == "E" and start >= 0:
                seg = range(start + 1, j)
                pos = [int(self.positions[t]) for t in seg if self.positions[t] > 0]
                core = [int(self.nodes[t]) for t in seg if self.states[t] == "M"]
                if pos:
                    out.append((pos[0], pos[-1], core[0], core[-1]))
                start = -1
        return out


@dataclasses.dataclass(frozen=True)
class Domain:
    """One domain of a target sequence (coordinates 1-based, inclusive).

    Attributes
    ----------
    env_from, env_to : int
        Envelope on the target.
    ali_from, ali_to : int
        Optimal-accuracy alignment on the target.
    hmm_from, hmm_to : int
        Model nodes of the alignment.
    bitscore : float
        Domain score in bits (envelope rescored as the only domain).
    pvalue : float
    c_evalue, i_evalue : float
        Conditional (``P * domZ``) and independent (``P * Z``) E-values.
    acc : float
        Mean posterior probability of the aligned residues.
    bias : float
        Composition-bias correction in bits (0: null2 is not applied).
    null2 : float
        Sum of the log null2 odds ratios over the envelope (nats; 0 when not
        computed): what the domain adds to the sequence's bias correction.
    envsc : float
        ln of the envelope's total odds probability under the unihit model
        (nats; the Forward value its score comes from).
    path : DomainPath or None
        Where the alignment's residues go among the model's states (filled
        by the batched drivers; not compared).
    """

    env_from: int
    env_to: int
    ali_from: int
    ali_to: int
    hmm_from: int
    hmm_to: int
    bitscore: float
    pvalue: float
    c_evalue: float
    i_evalue: float
    acc: float
    bias: float = 0.0
    null2: float = 0.0
    envsc: float = math.nan
    path: DomainPath | None = dataclasses.field(default=None, compare=False, repr=False)


@dataclasses.dataclass(frozen=True, eq=False)
class DomainPath:
    """The residues ``ali_from .. ali_to`` of a domain and where its alignment puts them.

    Attributes
    ----------
    codes : uint8 array, shape (n,)
        The residues.
    slot : int32 array, shape (n,)
        The node of the match state that emits a residue, or the node an
        inserted residue follows.
    match : bool array, shape (n,)
        Whether each residue is emitted by a match state.
    post : float64 array, shape (n,)
        The posterior probability of each residue's state.
    """

    codes: np.ndarray
    slot: np.ndarray
    match: np.ndarray
    post: np.ndarray


def _dsq(profile: SearchProfile, dsq: np.ndarray) -> np.ndarray:
    out = np.ascontiguousarray(dsq, dtype=np.uint8)
    if out.ndim != 1:
        raise ParameterError(f"expected the codes of one sequence (1-d), got shape {out.shape}")
    if out.size and int(out.max()) >= profile.msc.shape[0]:
        raise ParameterError("residue codes outside the model's alphabet")
    return out


def _xt(profile: SearchProfile, length: int, multihit: bool) -> np.ndarray:
    prof = (
        profile if profile.multihit == multihit else dataclasses.replace(profile, multihit=multihit)
    )
    return np.ascontiguousarray(prof.specials(np.array([length]))[0])


def decode(
    profile: SearchProfile, dsq: np.ndarray, *, target_length: int | None = None
) -> Posteriors:
    """Posterior decoding of one sequence in the profile's configuration.

    Parameters
    ----------
    profile : SearchProfile
    dsq : uint8 array, shape (L,)
        Residue codes of one sequence.
    target_length : int, optional
        Length for the flank length model (default ``L``; give the whole
        target's length when decoding a piece of it).
    """
    seq = _dsq(profile, dsq)
    length = seq.size if target_length is None else int(target_length)
    xt = _xt(profile, max(length, 1), profile.multihit)
    ll, pM, pI, pX = DK.posterior_decode(
        seq, profile.msc, profile.isc, profile.tr, profile.bm, profile.me, profile.de, xt
    )
    return Posteriors(float(ll), pM, pI, pX)


def _trace(raw: tuple[float, np.ndarray, np.ndarray, np.ndarray]) -> Trace:
    score, st, nd, ps = raw
    return Trace(float(score), "".join(_STATE_NAMES[s] for s in st), nd, ps)


def _logs(*arrays: np.ndarray) -> list[np.ndarray]:
    with np.errstate(divide="ignore"):
        return [np.ascontiguousarray(np.log(a)) for a in arrays]


def viterbi_trace(
    profile: SearchProfile, dsq: np.ndarray, *, target_length: int | None = None
) -> Trace:
    """Most probable path of one sequence (score in nats against the background).

    Parameters
    ----------
    profile : SearchProfile
    dsq : uint8 array, shape (L,)
    target_length : int, optional
        Length for the flank length model (default ``L``).
    """
    seq = _dsq(profile, dsq)
    L = seq.size
    xt = _xt(profile, max(L if target_length is None else int(target_length), 1), profile.multihit)
    lmsc, lisc, ltr, lbm, lme, lde, lxt = _logs(
        profile.msc, profile.isc, profile.tr, profile.bm, profile.me, profile.de, xt
    )
    eM = np.zeros((L + 1, profile.M + 1))
    eI = np.zeros((L + 1, profile.M + 1))
    eM[1:] = lmsc[seq]
    eI[1:] = lisc[seq]
    eI[:, 0] = -np.inf
    eX = np.zeros((L + 1, 3))
    return _trace(DK.best_path(eM, eI, eX, ltr, lbm, lme, lde, lxt))


def optimal_accuracy_trace(
    profile: SearchProfile, post: Posteriors, *, target_length: int | None = None
) -> Trace:
    """Path with the largest sum of posterior probabilities of its emitted residues.

    Only transitions with non-zero probability in ``profile`` (multihit or
    not, as configured) may be used.

    Parameters
    ----------
    profile : SearchProfile
    post : Posteriors
        From :func:`decode` with the same profile.
    target_length : int, optional
        Length whose flank model was used in decoding (only whether a
        transition is possible matters, so any positive length will do).
    """
    L = post.match.shape[0] - 1
    length = max(L if target_length is None else int(target_length), 1)
    xt = _xt(profile, length, profile.multihit)

    def allowed(a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(np.where(np.asarray(a) > 0.0, 0.0, -np.inf))

    eX = np.ascontiguousarray(post.special[:, :3])
    return _trace(
        DK.best_path(
            post.match,
            post.insert,
            eX,
            allowed(profile.tr),
            allowed(profile.bm),
            allowed(profile.me),
            allowed(profile.de),
            allowed(xt),
        )  # fmt: skip
    )


def find_regions(
    mocc: np.ndarray,
    begins: np.ndarray,
    ends: np.ndarray,
    *,
    rt1: float = RT1,
    rt2: float = RT2,
) -> list[tuple[int, int]]:
    """Regions of high expected domain occupancy.

    Parameters
    ----------
    mocc, begins, ends : float64 arrays, shape (L,)
        Per residue: probability of being in a domain, expected domains
        starting there, expected domains ending there.
    rt1, rt2 : float
        Trigger and boundary thresholds.

    Returns
    -------
    list of (start, end)
        0-based inclusive residue indices, in sequence order.
    """
    regions = []
    triggered = False
    start = -1
    for i in range(len(mocc)):
        if not triggered:
            if mocc[i] - begins[i] < rt2 or start < 0:
                start = i
            if mocc[i] >= rt1:
                triggered = True
        elif mocc[i] - ends[i] < rt2:
            regions.append((start, i))
            triggered = False
            start = -1
    if triggered:
        regions.append((start, len(mocc) - 1))
    return regions


def _split(
    mocc: np.ndarray,
    begins: np.ndarray,
    ends: np.ndarray,
    s: int,
    t: int,
    rt3: float,
    rt1: float = RT1,
    rt2: float = RT2,
) -> list[tuple[int, int]]:
    """Cut region ``s..t`` (0-based, inclusive) into single-domain envelopes.

    A cut after residue ``z`` needs ``>= rt3`` expected domain ends in
    ``s..z`` and starts in ``z + 1..t``, and almost no chance (below
    :data:`SPAN_MAX`) that one domain runs across it: HMMER clusters sampled
    domains by overlap, so a long domain that spans both parts in even a few
    samples joins them into one envelope.
    """
    if t <= s:
        return [(s, t)]
    e_before = np.cumsum(ends[s:t])  # ends at s..z
    b_after = np.cumsum(begins[s + 1 : t + 1][::-1])[::-1]  # begins at z+1..t
    both = np.minimum(e_before, b_after)
    span = mocc[s:t] - ends[s:t]  # a domain covers z and z + 1
    ok = (both >= rt3) & (span < SPAN_MAX)
    if not ok.any():
        return [(s, t)]
    z = int(np.argmin(np.where(ok, span, np.inf)))
    cut = s + z
    out = []
    for a, b in ((s, cut), (cut + 1, t)):
        sub = (mocc[a : b + 1], begins[a : b + 1], ends[a : b + 1])
        for r0, r1 in find_regions(*sub, rt1=rt1, rt2=rt2):
            out.extend(_split(mocc, begins, ends, a + r0, a + r1, rt3, rt1, rt2))
    return out


def _forward_stats(stats: Mapping[str, tuple[float, float]] | tuple[float, float]):
    if isinstance(stats, Mapping):
        if "forward" not in stats:
            raise ParameterError("stats lack the 'forward' (tau, lambda) pair; calibrate the model")
        tau, lam = stats["forward"]
    else:
        tau, lam = stats
    return float(tau), float(lam)


def define_domains(
    profile: SearchProfile,
    dsq: np.ndarray,
    stats: Mapping[str, tuple[float, float]] | tuple[float, float],
    *,
    Z: float,
    domZ: float | None = None,
    rt1: float = RT1,
    rt2: float = RT2,
    rt3: float = RT3,
) -> list[Domain]:
    """Domains of one target sequence, in sequence order.

    Parameters
    ----------
    profile : SearchProfile
        Usually ``configure(hmm)`` (local, multihit).
    dsq : uint8 array, shape (L,)
        Residue codes of the target.
    stats : mapping or (tau, lambda)
        The model's E-value parameters (``hmm.stats``); only the Forward
        pair is used.
    Z : float
        Search size for independent E-values (number of target sequences).
    domZ : float, optional
        Number of sequences reported as significant, for conditional
        E-values (default 1: this one).
    rt1, rt2, rt3 : float
        Region trigger, region boundary and multi-domain thresholds.

    Returns
    -------
    list of Domain
        Every envelope found, weak ones included; filter on ``i_evalue`` or
        ``c_evalue`` for the significant ones.
    """
    seq = _dsq(profile, dsq)
    L = int(seq.size)
    if L == 0:
        return []
    tau, lam = _forward_stats(stats)
    dz = 1.0 if domZ is None else float(domZ)
    post = decode(profile, seq)
    if not np.isfinite(post.loglik):
        return []
    mocc, begins, ends = post.mocc, post.begins, post.ends
    envelopes = []
    for s, t in find_regions(mocc, begins, ends, rt1=rt1, rt2=rt2):
        envelopes.extend(_split(mocc, begins, ends, s, t, rt3, rt1, rt2))
    uni = dataclasses.replace(profile, multihit=False)
    flank = float(np.log(L / (L + 3.0)))
    null = float(null_score(np.array([L]))[0])
    out = []
    for s, t in envelopes:
        sub = seq[s : t + 1]
        ld = t - s + 1
        epost = decode(uni, sub, target_length=L)
        if not np.isfinite(epost.loglik):
            continue
        bits = (epost.loglik + (L - ld) * flank - null) / LN2
        trace = optimal_accuracy_trace(uni, epost, target_length=L)
        segs = trace.domains()
        if not segs:
            continue
        a0, a1, h0, h1 = segs[0]
        acc = _mean_accuracy(trace, epost)
        p = float(forward_pvalue(np.array([bits]), tau, lam)[0])
        out.append(
            Domain(
                env_from=s + 1,
                env_to=t + 1,
                ali_from=s + a0,
                ali_to=s + a1,
                hmm_from=h0,
                hmm_to=h1,
                bitscore=float(bits),
                pvalue=p,
                c_evalue=p * dz,
                i_evalue=p * float(Z),
                acc=acc,
                envsc=float(epost.loglik),
            )  # fmt: skip
        )
    return out


def _mean_accuracy(trace: Trace, post: Posteriors) -> float:
    """Mean over the envelope's residues of the posterior of the state the trace
    gives each (match, insert or flank: the optimal-accuracy score per residue)."""
    total = 0.0
    flank = {"N": DK.PN, "C": DK.PC, "J": DK.PJ}
    for j, s in enumerate(trace.states):
        i = int(trace.positions[j])
        if i == 0:
            continue
        k = int(trace.nodes[j])
        if s == "M":
            total += post.match[i, k]
        elif s == "I":
            total += post.insert[i, k]
        elif s in flank:
            total += post.special[i, flank[s]]
    return float(total / (post.match.shape[0] - 1))


# ---------------------------------------------------------------------------
# many targets at once (compiled drivers)


@dataclasses.dataclass(frozen=True, eq=False)
class DomainCounts:
    """Domain definition's counts per target (the last columns of HMMER's ``--tblout``).

    Attributes
    ----------
    expected : float64 array, shape (n_seq,)
        Expected number of domains: the sum of the begin state's posterior
        probabilities (``exp``).
    regions : int64 array, shape (n_seq,)
        Regions of high domain occupancy (``reg``).
    clustered : int64 array, shape (n_seq,)
        Regions that may hold several domains, by HMMER's test: some residue
        with at least ``rt3`` expected domain ends up to it and as many
        expected starts from it on (``clu``: there hmmsearch clusters
        sampled paths, where seqem cuts the region at its least occupied
        residue).
    envelopes : int64 array, shape (n_seq,)
        Envelopes (``env``).

    All zero for targets that were not decoded.
    """

    expected: np.ndarray
    regions: np.ndarray
    clustered: np.ndarray
    envelopes: np.ndarray

    def row(self, i: int) -> tuple[float, int, int, int]:
        """``(expected, regions, clustered, envelopes)`` of target ``i``."""
        return (float(self.expected[i]), int(self.regions[i]), int(self.clustered[i]),
                int(self.envelopes[i]))  # fmt: skip


@dataclasses.dataclass(frozen=True, eq=False)
class Envelopes:
    """Single-domain envelopes of many targets, in target and sequence order.

    Attributes
    ----------
    target : int64 array, shape (n,)
        Index of each envelope's target sequence.
    start, end : int64 arrays, shape (n,)
        First and last residue, 0-based and inclusive, within the target.
    """

    target: np.ndarray
    start: np.ndarray
    end: np.ndarray

    def __len__(self) -> int:
        return int(self.target.size)

    def of(self, keep: np.ndarray) -> Envelopes:
        """The envelopes of the targets where the boolean ``keep`` (n_seq,) is true."""
        sel = np.asarray(keep, dtype=bool)[self.target]
        return Envelopes(self.target[sel], self.start[sel], self.end[sel])


def _chunks(sizes: np.ndarray, budget: int = TIME_CHUNK // 2) -> np.ndarray:
    """Item indices that start chunks of about ``budget`` residues (fixed, so
    the work is split the same way whatever the number of threads)."""
    out = [0]
    acc = 0
    for j, n in enumerate(np.asarray(sizes).tolist()):
        if acc and acc + n > budget:
            out.append(j)
            acc = 0
        acc += n
    out.append(int(len(sizes)))
    return np.asarray(out if len(sizes) else [0, 0], dtype=np.int64)


def score_and_find_envelopes(
    profile: SearchProfile,
    dsq: np.ndarray,
    bounds: np.ndarray,
    *,
    min_bits: float | np.ndarray = -np.inf,
    rt1: float = RT1,
    rt2: float = RT2,
    rt3: float = RT3,
    precision: str = "single",
) -> tuple[np.ndarray, Envelopes, np.ndarray, DomainCounts]:
    """Forward scores of many targets and the envelopes of the high-scoring ones.

    The scores equal :func:`~seqem.profile.search.forward_bits` of the same
    precision (the same kernel does the Forward pass); in double precision
    the envelopes of a decoded target equal those :func:`define_domains`
    finds.  Runs on Numba's threads.

    Parameters
    ----------
    profile : SearchProfile
    dsq : uint8 array, shape (T,)
        Residue codes of all targets, concatenated.
    bounds : int64 array, shape (n_seq + 1,)
    min_bits : float or float64 array of shape (n_seq,)
        Decode only targets scoring at least this (a little below it, to be
        safe from rounding); ``-inf``: every target.
    rt1, rt2, rt3 : float
        As in :func:`define_domains`.
    precision : {"single", "double"}
        Precision of the Forward and Backward rows
        (:meth:`~seqem.profile.search.SearchProfile.arrays`); ``"double"``
        gives the same numbers as :func:`define_domains`.

    Returns
    -------
    bits : float64 array, shape (n_seq,)
    envelopes : Envelopes
    decoded : bool array, shape (n_seq,)
    counts : DomainCounts
    """
    from . import _domain_kernels as DDK

    seq = np.ascontiguousarray(dsq, dtype=np.uint8)
    if seq.size and int(seq.max()) >= profile.msc.shape[0]:
        raise ParameterError("residue codes outside the model's alphabet")
    bounds = np.ascontiguousarray(bounds, dtype=np.int64)
    lengths = np.diff(bounds)
    xt = np.ascontiguousarray(profile.specials(lengths))
    null = null_score(np.maximum(lengths, 1))
    min_raw = np.ascontiguousarray(
        np.broadcast_to(np.asarray(min_bits, dtype=np.float64) * LN2 + null - 1e-6, lengths.shape)
    )
    raw, env_end, decoded, expected, regions, clustered = dynamic_schedule(
        DDK.score_and_find_envelopes,
        seq, bounds, _chunks(lengths), *profile.arrays(precision), xt, min_raw,
        float(rt1), float(rt2), float(rt3), float(SPAN_MAX),
    )  # fmt: skip
    with np.errstate(invalid="ignore", divide="ignore"):
        bits = (raw - null_score(lengths)) / LN2
    where = np.flatnonzero(env_end >= 0)
    target = np.searchsorted(bounds, where, side="right") - 1
    start = where - bounds[target]
    envelopes = Envelopes(target.astype(np.int64), start.astype(np.int64),
                          env_end[where].astype(np.int64))  # fmt: skip
    n_env = np.bincount(envelopes.target, minlength=lengths.size).astype(np.int64)
    return bits, envelopes, decoded, DomainCounts(expected, regions, clustered, n_env)


def rescore_envelopes(
    profile: SearchProfile,
    dsq: np.ndarray,
    bounds: np.ndarray,
    envelopes: Envelopes,
    stats: Mapping[str, tuple[float, float]] | tuple[float, float],
    *,
    Z: float,
    domZ: float | None = None,
    null2: bool = False,
) -> list[list[Domain]]:
    """Score and align each envelope as :func:`define_domains` does.

    Parameters
    ----------
    profile : SearchProfile
        The configuration the envelopes were found with (multihit); each
        envelope is rescored unihit.
    dsq, bounds
        As in :func:`score_and_find_envelopes`.
    envelopes : Envelopes
    stats, Z, domZ
        As in :func:`define_domains`.
    null2 : bool
        Apply HMMER's composition-bias correction to each domain score:
        ``bias = ln(1 + exp(null2) / 256) / ln 2`` bits, subtracted (the
        score against a null model that mixes the background with the
        envelope's own composition, with prior weight 1/256).  The raw
        ``Domain.null2`` sums are filled in either way.

    Returns
    -------
    list of list of Domain
        One list per target (``n_seq`` lists), in sequence order.
    """
    from . import _domain_kernels as DDK

    seq = np.ascontiguousarray(dsq, dtype=np.uint8)
    bounds = np.ascontiguousarray(bounds, dtype=np.int64)
    n_seq = bounds.size - 1
    out: list[list[Domain]] = [[] for _ in range(n_seq)]
    if len(envelopes) == 0:
        return out
    tau, lam = _forward_stats(stats)
    dz = 1.0 if domZ is None else float(domZ)
    uni = dataclasses.replace(profile, multihit=False)
    L = np.diff(bounds)[envelopes.target]
    ld = envelopes.end - envelopes.start + 1
    xt = np.ascontiguousarray(uni.specials(L))
    starts = np.ascontiguousarray(bounds[envelopes.target] + envelopes.start, dtype=np.int64)
    lens = np.ascontiguousarray(ld, dtype=np.int64)
    offsets = np.zeros(lens.size + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    loglik, coords, acc, n2, slot, in_match, post = dynamic_schedule(
        DDK.rescore_envelopes,
        seq, starts, lens, offsets, _chunks(lens), profile.msc, profile.isc, profile.tr,
        profile.bm, profile.me, profile.de, xt,
    )  # fmt: skip
    Lf = L.astype(np.float64)
    flank = np.log(Lf / (Lf + 3.0))
    with np.errstate(invalid="ignore"):
        bits = (loglik + (L - ld) * flank - null_score(Lf)) / LN2
    bias = null2_bias(n2) if null2 else np.zeros_like(n2)
    bits = bits - bias
    pvalues = forward_pvalue(bits, tau, lam)
    for v in range(len(envelopes)):
        if not np.isfinite(loglik[v]) or coords[v, 0] == 0:
            continue
        s = int(envelopes.start[v])
        p = float(pvalues[v])
        a0, a1 = int(coords[v, 0]), int(coords[v, 1])
        on = slice(int(offsets[v]) + a0 - 1, int(offsets[v]) + a1)
        path = DomainPath(
            seq[starts[v] + a0 - 1 : starts[v] + a1].copy(), slot[on], in_match[on], post[on]
        )
        out[int(envelopes.target[v])].append(
            Domain(
                env_from=s + 1,
                env_to=int(envelopes.end[v]) + 1,
                ali_from=s + int(coords[v, 0]),
                ali_to=s + int(coords[v, 1]),
                hmm_from=int(coords[v, 2]),
                hmm_to=int(coords[v, 3]),
                bitscore=float(bits[v]),
                pvalue=p,
                c_evalue=p * dz,
                i_evalue=p * float(Z),
                acc=float(acc[v]),
                bias=float(bias[v]),
                null2=float(n2[v]),
                envsc=float(loglik[v]),
                path=path,
            )
        )
    return out


#: Prior weight of the composition (null2) model in the bias correction.
NULL2_OMEGA = 1.0 / 256.0


def null2_bias(null2_sum: np.ndarray | float) -> np.ndarray:
    """Composition-bias correction in bits from summed log null2 odds (nats).

    ``ln(1 + omega * exp(s)) / ln 2`` with omega = 1/256: zero-ish for a
    sequence whose composition matches the background, up to about
    ``(s - 8 ln 2) / ln 2`` bits for a strongly biased one.
    """
    s = np.asarray(null2_sum, dtype=np.float64)
    return np.logaddexp(0.0, np.log(NULL2_OMEGA) + s) / LN2


def sequence_score(
    bits: float, length: int, domains: Sequence[Domain], *, null2: bool
) -> tuple[float, float]:
    """A target's score before the bias correction and the correction (bits), as hmmsearch.

    The Forward score ``bits`` (uncorrected) loses the correction of all
    the domains' envelopes (:func:`null2_bias` of their summed ``null2``;
    none without ``null2``).  hmmsearch also forms a reconstruction from
    the domains that still score above zero after their own correction
    (``envsc - null2 > 0`` in nats, ``envsc > 0`` without ``null2``): their
    envelope values plus the flank terms of the residues outside them,
    against the null model, corrected by those domains' ``null2`` alone.
    When the corrected reconstruction is higher it is the score; so a
    sequence with a few strongly biased weak domains is not penalised for
    them.  Returns ``(pre, bias)``: the reported score is ``pre - bias``.
    """
    n = max(int(length), 1)
    null = float(null_score(np.array([n]))[0])
    all_bias = float(null2_bias(sum(d.null2 for d in domains))) if null2 else 0.0
    kept = [d for d in domains if d.envsc - (d.null2 if null2 else 0.0) > 0.0]
    if not kept:
        return bits, all_bias
    covered = sum(d.env_to - d.env_from + 1 for d in kept)
    total = sum(d.envsc for d in kept) + (n - covered) * math.log(n / (n + 3.0))
    pre = (total - null) / LN2
    bias = float(null2_bias(sum(d.null2 for d in kept))) if null2 else 0.0
    if pre - bias > bits - all_bias:
        return pre, bias
    return bits, all_bias


def define_domains_many(
    profile: SearchProfile,
    dsq: np.ndarray,
    bounds: np.ndarray,
    stats: Mapping[str, tuple[float, float]] | tuple[float, float],
    *,
    Z: float,
    domZ: float | None = None,
    rt1: float = RT1,
    rt2: float = RT2,
    rt3: float = RT3,
) -> list[list[Domain]]:
    """:func:`define_domains` of every target of a database, in compiled passes.

    Parameters
    ----------
    profile : SearchProfile
    dsq : uint8 array, shape (T,)
        Residue codes of all targets, concatenated.
    bounds : int64 array, shape (n_seq + 1,)
    stats, Z, domZ, rt1, rt2, rt3
        As in :func:`define_domains`.

    Returns
    -------
    list of list of Domain
        One list per target, equal to ``define_domains`` of that target (up
        to rounding in the last digits).
    """
    _, envelopes, _, _ = score_and_find_envelopes(profile, dsq, bounds, rt1=rt1, rt2=rt2, rt3=rt3)
    return rescore_envelopes(profile, dsq, bounds, envelopes, stats, Z=Z, domZ=domZ)
