"""Search configuration of a profile HMM and per-sequence scores.

A :class:`SearchProfile` is a :class:`~seqem.profile.model.ProfileHMM`
configured for one alignment mode, the way HMMER configures its models for
``hmmsearch``:

* **local** (default): entry into match state ``k`` with probability
  proportional to its occupancy (the chance that a sequence of the family
  uses it), exit from any match or delete state with probability 1;
* **glocal**: the whole model from node 1 to node M (entries past deleted
  first nodes and exits after deleted last nodes folded in);
* **multihit** (default): after a hit, ``E -> J -> B`` starts another with
  probability 1/2; **unihit**: one hit per sequence.

The flanking states ``N``, ``C`` (and ``J``) emit background residues with a
length model set per target: each loops with probability ``L / (L + 3)``
(multihit; ``L / (L + 2)`` unihit).  Scores are log-odds in bits against the
null model (background residues, a geometric length ``p1 = L / (L + 1)``).
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from ..errors import ParameterError
from . import _kernels as K
from .model import DD, DM, II, IM, MD, MI, MM, ProfileHMM

__all__ = [
    "SearchProfile",
    "configure",
    "match_occupancy",
    "null_score",
    "forward_bits",
    "viterbi_bits",
    "viterbi_filter_bits",
    "msv_bits",
]

LN2 = float(np.log(2.0))


@dataclasses.dataclass(frozen=True)
class SearchProfile:
    """A profile HMM in one search configuration (arrays as the kernels take them).

    Attributes
    ----------
    hmm : ProfileHMM
    mode : str
        ``"local"`` or ``"glocal"``.
    multihit : bool
    msc, isc : float64 arrays, shape (n_codes, M + 1)
        Match and insert odds ratios against the background, for every code
        of the alphabet (degenerate codes included).
    tr : float64 array, shape (7, M + 1)
    bm, me, de : float64 arrays, shape (M + 1,)
    """

    hmm: ProfileHMM
    mode: str
    multihit: bool
    msc: np.ndarray
    isc: np.ndarray
    tr: np.ndarray
    bm: np.ndarray
    me: np.ndarray
    de: np.ndarray

    @functools.cached_property
    def _single(self) -> tuple[np.ndarray, ...]:
        return tuple(np.ascontiguousarray(a, dtype=np.float32) for a in self.arrays("double"))

    def arrays(self, precision: str = "double") -> tuple[np.ndarray, ...]:
        """``(msc, isc, tr, bm, me, de)`` in ``"double"`` or ``"single"`` precision.

        The search's Forward and Backward passes (:func:`forward_bits`,
        :func:`seqem.profile.domains.score_and_find_envelopes`) run in single
        precision by default, as HMMER's search kernels do: rows are scaled
        to a total of one, so single precision keeps every value that matters
        to a score (within about 1e-6 nats of the double-precision score),
        and a row runs in twice as many SIMD lanes.
        """
        if precision == "double":
            return (self.msc, self.isc, self.tr, self.bm, self.me, self.de)
        if precision == "single":
            return self._single
        raise ParameterError(f"precision must be 'single' or 'double', got {precision!r}")

    @property
    def M(self) -> int:
        return self.hmm.M

    def specials(self, lengths: np.ndarray) -> np.ndarray:
        """Special transitions for targets of the given lengths, shape (n, 8)."""
        L = np.asarray(lengths, dtype=np.float64)
        out = np.empty((L.size, 8))
        moves = 3.0 if self.multihit else 2.0
        loop = L / (L + moves)
        move = moves / (L + moves)
        out[:, K.N_LOOP] = loop
        out[:, K.N_MOVE] = move
        out[:, K.C_LOOP] = loop
        out[:, K.C_MOVE] = move
        out[:, K.J_LOOP] = loop if self.multihit else 0.0
        out[:, K.J_MOVE] = move if self.multihit else 0.0
        out[:, K.E_C] = 0.5 if self.multihit else 1.0
        out[:, K.E_J] = 0.5 if self.multihit else 0.0
        return out


def match_occupancy(hmm: ProfileHMM) -> np.ndarray:
    """Probability that a glocal path through the core model uses each match state.

    Returns
    -------
    float64 array, shape (M + 1,); entry 0 is 0.
    """
    t = hmm.transitions
    stay = (t[:, MM] + t[:, MI]).tolist()  # Python floats: a scalar loop without NumPy scalars
    enter = t[:, DM].tolist()
    occ = [0.0] * (hmm.M + 1)
    occ[1] = stay[0]
    for k in range(2, hmm.M + 1):
        occ[k] = occ[k - 1] * stay[k - 1] + (1.0 - occ[k - 1]) * enter[k - 1]
    return np.array(occ)


def _odds(hmm: ProfileHMM, emissions: np.ndarray) -> np.ndarray:
    """Odds ratios for every code; a degenerate code gets the background-weighted
    mean of its residues' log-odds (HMMER's expected-score rule)."""
    alphabet = hmm.alphabet
    bg = np.asarray(alphabet.background)
    _, members = alphabet.degenerate_matrix()
    weights = members * bg
    weights = weights / weights.sum(axis=1, keepdims=True)  # (codes, K)
    with np.errstate(divide="ignore"):
        logodds = np.log(emissions) - np.log(bg)  # (M + 1, K)
    # a residue the state cannot emit makes the mean -inf (odds 0): stand-in
    # -1e300 keeps the product finite where its weight is 0
    finite = np.where(np.isfinite(logodds), logodds, -1e300)
    with np.errstate(under="ignore"):
        out = np.exp(weights @ finite.T)
    out[:, 0] = 0.0
    return np.ascontiguousarray(out)


def configure(
    hmm: ProfileHMM,
    *,
    mode: str = "local",
    multihit: bool = True,
    insert_odds: str = "background",
) -> SearchProfile:
    """Configure ``hmm`` for searching.

    Parameters
    ----------
    hmm : ProfileHMM
    mode : {"local", "glocal"}
    multihit : bool
    insert_odds : {"background", "model"}
        ``"background"`` (HMMER's convention) gives insert states the
        background distribution, so inserted residues score zero;
        ``"model"`` uses the model's insert emissions.
    """
    if mode not in ("local", "glocal"):
        raise ParameterError(f"mode must be 'local' or 'glocal', got {mode!r}")
    if insert_odds not in ("background", "model"):
        raise ParameterError(f"insert_odds must be 'background' or 'model', got {insert_odds!r}")
    M = hmm.M
    t = hmm.transitions
    msc = _odds(hmm, hmm.match)
    if insert_odds == "background":
        isc = np.ones_like(msc)
        isc[:, 0] = 0.0
    else:
        isc = _odds(hmm, hmm.insert)
    tr = np.ascontiguousarray(t.T.copy())
    # node M: its "MM" is M_M -> E, handled by the exits below
    tr[MM, M] = tr[MI, M] = tr[MD, M] = tr[IM, M] = tr[II, M] = tr[DM, M] = tr[DD, M] = 0.0
    bm = np.zeros(M + 1)
    me = np.zeros(M + 1)
    de = np.zeros(M + 1)
    if mode == "local":
        occ = match_occupancy(hmm)
        k = np.arange(M + 1)
        Z = float(np.sum(occ[1:] * (M - k[1:] + 1)))
        bm[1:] = occ[1:] / Z
        me[1:] = 1.0
        de[1:] = 1.0
    else:
        # B -> M_1, or B -> D_1 -> ... -> D_k-1 -> M_k ("wing retraction");
        # B -> I_0 is not modelled in search (the N state covers it)
        bm[1] = t[0, MM]
        through = t[0, MD]
        for kk in range(2, M + 1):
            bm[kk] = through * t[kk - 1, DM]
            through *= t[kk - 1, DD]
        total = bm[1:].sum()
        if total > 0:
            bm[1:] /= total
        me[M] = 1.0
        de[M] = 1.0
    return SearchProfile(hmm, mode, multihit, msc, isc, tr, bm, me, de)


def null_score(lengths: np.ndarray) -> np.ndarray:
    """Null-model log-likelihood (nats) beyond the residue terms, per length.

    ``L ln p1 + ln(1 - p1)`` with ``p1 = L / (L + 1)``.
    """
    L = np.asarray(lengths, dtype=np.float64)
    return L * np.log(L / (L + 1.0)) + np.log(1.0 / (L + 1.0))


def _check_codes(profile: SearchProfile, dsq: np.ndarray) -> np.ndarray:
    dsq = np.ascontiguousarray(dsq, dtype=np.uint8)
    if dsq.size and int(dsq.max()) >= profile.msc.shape[0]:
        raise ParameterError("residue codes outside the model's alphabet")
    return dsq


def forward_bits(
    profile: SearchProfile, dsq: np.ndarray, bounds: np.ndarray, *, precision: str = "single"
) -> np.ndarray:
    """Forward log-odds scores in bits of each sequence.

    Parameters
    ----------
    profile : SearchProfile
    dsq : uint8 array, shape (T,)
        Residue codes of all sequences, concatenated.
    bounds : int64 array, shape (n_seq + 1,)
    precision : {"single", "double"}
        Precision of the rows (:meth:`SearchProfile.arrays`); scores are
        summed in double precision either way.

    Returns
    -------
    float64 array, shape (n_seq,)

    The Forward pass of :func:`seqem.profile.domains.score_and_find_envelopes`
    with nothing decoded: one compiled kernel scores a target whether or not
    its domains are asked for, so the scores are the same bits either way.
    """
    from .domains import score_and_find_envelopes

    dsq = _check_codes(profile, dsq)
    bits, _, _, _ = score_and_find_envelopes(
        profile, dsq, bounds, min_bits=np.inf, precision=precision
    )
    return bits


def _flank_specials(
    profile: SearchProfile, lengths: np.ndarray, flanks: str
) -> tuple[np.ndarray, float]:
    """The special transitions of targets of these lengths, and nats to add to the raw
    score: the length model (``flanks="length"``), or HMMER's filters' scoring of the
    flanks (``"fixed"``): the N, C and J loops free and a fixed 3 nats off (2 for a
    unihit profile), about ``L ln(L / (L + 3))``, what the loops would cost if every
    residue were a flank."""
    xt = profile.specials(lengths)
    if flanks == "length":
        return xt, 0.0
    if flanks != "fixed":
        raise ParameterError(f"flanks must be 'length' or 'fixed', got {flanks!r}")
    xt[:, [K.N_LOOP, K.C_LOOP, K.J_LOOP]] = 1.0
    return xt, -(3.0 if profile.multihit else 2.0)


def viterbi_bits(
    profile: SearchProfile, dsq: np.ndarray, bounds: np.ndarray, *, flanks: str = "length"
) -> np.ndarray:
    """Viterbi (best single path) log-odds scores in bits of each sequence (``flanks``:
    see :func:`msv_bits`)."""
    dsq = _check_codes(profile, dsq)
    bounds = np.ascontiguousarray(bounds, dtype=np.int64)
    lengths = np.diff(bounds)
    xt, shift = _flank_specials(profile, lengths, flanks)
    with np.errstate(divide="ignore"):
        logs = [np.log(a) for a in (profile.msc, profile.isc, profile.tr, profile.bm,
                                    profile.me, profile.de, xt)]  # fmt: skip
    raw = K.viterbi_scores(dsq, bounds, *[np.ascontiguousarray(a) for a in logs])
    return (raw + shift - null_score(lengths)) / LN2


def _fixed_point(
    logs: np.ndarray,
    M: int,
    *,
    scale: float = K.FIXED_SCALE,
    floor: float = K.FIXED_FLOOR,
    pad: int = K.FIXED_PAD,
    multiple: int = K.FIXED_WIDTH,
    dtype: type = np.int32,
) -> np.ndarray:
    """Log values (last axis: nodes 0..M) as integers in units of ``1 / scale``
    nats, floored at ``floor`` nats, padded with ``pad`` to ``1 +`` a multiple
    of ``multiple`` nodes (the Viterbi filter's int32 table by default)."""
    width = 1 + -(-M // multiple) * multiple
    table = np.full((*logs.shape[:-1], width), pad, dtype=dtype)
    table[..., : M + 1] = np.rint(np.maximum(logs, floor) * scale)
    return table


def msv_table(profile: SearchProfile) -> np.ndarray:
    """Match log-odds as the MSV kernel takes them: int16 in units of ``1 /
    MSV_SCALE`` nats, floored at ``MSV_FLOOR``, padding ``MSV_MIN``."""
    with np.errstate(divide="ignore"):
        return _fixed_point(np.log(profile.msc), profile.M, scale=K.MSV_SCALE, floor=K.MSV_FLOOR,
                            pad=K.MSV_MIN, multiple=K.MSV_WIDTH, dtype=np.int16)  # fmt: skip


def msv_bits(
    profile: SearchProfile, dsq: np.ndarray, bounds: np.ndarray, *, flanks: str = "length"
) -> np.ndarray:
    """MSV scores in bits: the best set of ungapped local segments (multihit),
    each entered at any node with probability ``2 / (M (M + 1))``, as in
    HMMER's first filter.  Scores are 16-bit fixed point: at most ``0.5 /
    MSV_SCALE`` nats of rounding per aligned residue and ``2 / MSV_SCALE``
    per segment (``MSV_SCALE`` = 128 units per nat); a sequence with a
    segment of 256 nats (369 bits) or more saturates the range and scores
    +inf.

    ``flanks="length"`` (the search pipeline's) scores the flanking N, C
    and J residues by the length model; ``"fixed"`` scores them as HMMER's
    SIMD filters do (loops free, 3 nats off), which is how the ``STATS``
    locations of HMMER's files are defined (:func:`~seqem.profile.calibrate.
    calibrate`)."""
    dsq = _check_codes(profile, dsq)
    bounds = np.ascontiguousarray(bounds, dtype=np.int64)
    lengths = np.diff(bounds)
    xt, shift = _flank_specials(profile, lengths, flanks)
    with np.errstate(divide="ignore"):
        lxt = np.log(xt)
    M = profile.M
    tbm = float(np.log(2.0 / (M * (M + 1.0))))
    table = msv_table(profile)
    # the single best segment decides most sequences exactly; MSV's full
    # recurrence runs only where the J state could have added a segment
    raw = K.msv_scores(dsq, bounds, table, tbm, lxt, flanks == "length")
    rest = np.flatnonzero(np.isnan(raw))
    if rest.size:
        from ..io.sequences import take_sequences

        codes, sub = take_sequences(dsq, bounds, rest)
        raw[rest] = K.msv_scores(codes, sub, table, tbm, np.ascontiguousarray(lxt[rest]), False)
    return (raw + shift - null_score(lengths)) / LN2


def viterbi_filter_bits(profile: SearchProfile, dsq: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Viterbi scores in bits, in fixed point (the search pipeline's second filter).

    Equal to :func:`viterbi_bits` within the rounding of its integer scores:
    at most ``0.5 / FIXED_SCALE`` nats per emission and per transition of the
    best path.  Local mode only.
    """
    if profile.mode != "local":
        raise ParameterError("the Viterbi filter scores local alignments only")
    dsq = _check_codes(profile, dsq)
    bounds = np.ascontiguousarray(bounds, dtype=np.int64)
    lengths = np.diff(bounds)
    M = profile.M
    with np.errstate(divide="ignore"):
        lxt = np.log(profile.specials(lengths))
        tables = [
            _fixed_point(np.log(a), M) for a in (profile.msc, profile.isc, profile.tr, profile.bm)
        ]
    # cumulative delete-to-delete scores: dds[k] = sum of t_DD over nodes 1..k-1
    tdd = tables[2][K.DD].astype(np.int64)
    dds = np.zeros(tdd.size, dtype=np.int64)
    dds[2 : M + 1] = np.cumsum(tdd[1:M])
    dds[M + 1 :] = dds[M]
    if dds.min() < -(2**28):  # long runs of near-impossible deletes: no room in int32
        return viterbi_bits(profile, dsq, bounds)
    raw = K.viterbi_filter_scores(dsq, bounds, *tables, dds.astype(np.int32), lxt)
    return (raw - null_score(lengths)) / LN2
