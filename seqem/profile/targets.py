"""The targets a search scores: strands and windows of the database's sequences.

A protein sequence is one target.  A nucleotide sequence is searched on the
strands asked for (the sequence as given, ``+``, and its reverse complement,
``-``), and a strand longer than the window length is cut into windows that
overlap by the model's ``MAXL`` (:meth:`~seqem.profile.model.ProfileHMM.max_length`),
as nhmmer searches a chromosome: every hit no longer than ``MAXL`` lies whole
in some window, each window is scored with its own length model, and memory
follows the window, not the sequence.  :class:`Layout` says where each target
comes from, so that domains found on a target are put back on the sequence as
given (:func:`on_sequence`; a minus-strand domain runs from high to low, as in
nhmmer's tables), and :func:`without_duplicates` keeps one copy of a hit that
two overlapping windows both found.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ..io.sequences import DigitalSequences, complement_codes

__all__ = [
    "MIN_WINDOW",
    "WINDOW_MAXL",
    "Layout",
    "default_window",
    "on_sequence",
    "search_targets",
    "window_starts",
    "without_duplicates",
]

#: Shortest default window (residues).
MIN_WINDOW = 10_000
#: The default window is at least this many times the model's ``MAXL`` (the
#: overlap), so that the overlaps cost at most a quarter more residues.
WINDOW_MAXL = 4
#: Two domains on one strand are copies of one hit when their envelopes share
#: at least this share of the shorter one.
SAME_HIT = 0.5


def default_window(max_length: int) -> int:
    """The window length for a model whose ``MAXL`` is ``max_length``."""
    return max(MIN_WINDOW, WINDOW_MAXL * int(max_length))


def window_starts(length: int, window: int, overlap: int) -> np.ndarray:
    """0-based starts of the windows of a sequence of ``length`` residues: one window
    (start 0) when it fits, else windows of ``window`` residues every ``window -
    overlap``, the last one ending at the sequence's end.  Any stretch of at most
    ``overlap`` residues lies whole in one of them."""
    if window <= 0 or length <= window:
        return np.zeros(1, dtype=np.int64)
    step = window - overlap
    if step <= 0:
        raise ValueError(f"the window ({window}) must be longer than the overlap ({overlap})")
    starts = np.arange(0, length - window, step, dtype=np.int64)
    return np.append(starts, length - window)


@dataclasses.dataclass(frozen=True)
class Layout:
    """Where each target of a batch comes from.

    Attributes
    ----------
    origin : int64 array
        The target's sequence, as an index into the piece of the database.
    minus : bool array or None
        Whether the target is on the reverse complement (None: protein).
    offset : int64 array
        The target's first residue on its strand (0-based).
    length : int64 array
        The length of the target's sequence (the whole strand).
    """

    origin: np.ndarray
    minus: np.ndarray | None
    offset: np.ndarray
    length: np.ndarray

    def strand(self, i: int) -> str | None:
        """``"+"``, ``"-"`` or None (protein) for target ``i``."""
        return None if self.minus is None else "-" if self.minus[i] else "+"


def search_targets(
    piece: DigitalSequences,
    strands: str | None,
    *,
    window: int = 0,
    overlap: int = 0,
    batch_residues: int | None = None,
) -> Iterator[tuple[DigitalSequences, Layout]]:
    """The targets of a piece of the database, in batches.

    ``strands``: ``None`` for protein (each sequence as it is), else ``"plus"``,
    ``"minus"`` or ``"both"`` (the targets on the sequences as given first, then
    those on their reverse complements).  ``window`` > 0 cuts longer strands into
    windows that overlap by ``overlap`` (:func:`window_starts`).  When no strand
    is cut the piece is one batch; otherwise batches of about ``batch_residues``
    residues (default: the piece's own size), so that memory stays that of a
    piece.
    """
    n = piece.n_sequences
    lengths = piece.lengths
    if strands is None:
        layout = Layout(np.arange(n), None, np.zeros(n, np.int64), lengths.copy())
        yield piece, layout
        return
    sides = {"plus": (False,), "minus": (True,), "both": (False, True)}[strands]
    # every target as (sequence, strand, start, end), plus strand first
    origin, minus, start, size = [], [], [], []
    for side in sides:
        for i in range(n):
            length = int(lengths[i])
            starts = window_starts(length, window, overlap)
            origin.append(np.full(starts.size, i, dtype=np.int64))
            minus.append(np.full(starts.size, side, dtype=bool))
            start.append(starts)
            size.append(np.minimum(length - starts, window) if window > 0 else [length])
    if not origin:
        empty = np.zeros(0, np.int64)
        yield piece, Layout(empty, np.zeros(0, bool), empty, empty)
        return
    o = np.concatenate(origin)
    m = np.concatenate(minus)
    s = np.concatenate(start)
    w = np.concatenate(size).astype(np.int64)
    ends = np.cumsum(w)
    if window <= 0 or not np.any(lengths > window):
        limit = int(ends[-1]) or 1  # no windows: the piece in one batch
    else:
        limit = max(int(batch_residues or piece.n_residues), 1)
    # cut between targets each time about `limit` residues have gathered
    cuts = [0]
    while cuts[-1] < o.size:
        before = int(ends[cuts[-1] - 1]) if cuts[-1] else 0
        cuts.append(max(cuts[-1] + 1, int(np.searchsorted(ends, before + limit, "right"))))
    comp = complement_codes(piece.alphabet) if m.any() else None
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        yield _batch(piece, comp, o[a:b], m[a:b], s[a:b], w[a:b])


def _batch(
    piece: DigitalSequences,
    comp: np.ndarray | None,
    origin: np.ndarray,
    minus: np.ndarray,
    start: np.ndarray,
    size: np.ndarray,
) -> tuple[DigitalSequences, Layout]:
    lengths = piece.lengths
    bounds = np.zeros(origin.size + 1, dtype=np.int64)
    np.cumsum(size, out=bounds[1:])
    codes = np.empty(int(bounds[-1]), dtype=np.uint8)
    for t in range(origin.size):
        i, s, w = int(origin[t]), int(start[t]), int(size[t])
        first = int(piece.bounds[i])
        if minus[t]:
            # residues s .. s+w-1 of the reverse complement: the sequence's
            # residues length-s-w .. length-s-1, reversed and complemented
            a = first + int(lengths[i]) - s - w
            assert comp is not None
            codes[bounds[t] : bounds[t + 1]] = comp[piece.codes[a : a + w][::-1]]
        else:
            codes[bounds[t] : bounds[t + 1]] = piece.codes[first + s : first + s + w]
    targets = DigitalSequences(
        tuple(piece.names[i] for i in origin),
        tuple(piece.descriptions[i] for i in origin),
        codes,
        bounds,
        piece.alphabet,
        tuple(piece.accessions[i] for i in origin) if piece.accessions else (),
    )
    return targets, Layout(origin, minus, start, lengths[origin].astype(np.int64))


def on_sequence(domain: Any, layout: Layout, target: int) -> Any:
    """A domain found on target ``target``, its coordinates on the sequence as given
    (a window's offset added; on the minus strand, high to low as nhmmer writes them)."""
    shift = int(layout.offset[target])
    if layout.minus is not None and layout.minus[target]:
        flip = int(layout.length[target]) + 1 - shift
        return dataclasses.replace(
            domain,
            env_from=flip - domain.env_from,
            env_to=flip - domain.env_to,
            ali_from=flip - domain.ali_from,
            ali_to=flip - domain.ali_to,
        )
    if not shift:
        return domain
    return dataclasses.replace(
        domain,
        env_from=shift + domain.env_from,
        env_to=shift + domain.env_to,
        ali_from=shift + domain.ali_from,
        ali_to=shift + domain.ali_to,
    )


def without_duplicates(domains: Sequence[tuple[Any, str | None, int]]) -> list[Any]:
    """One copy of each hit among the domains of a sequence's targets, given as
    (domain, strand, target) triples with coordinates on the sequence: where envelopes
    from two targets on one strand share at least :data:`SAME_HIT` of the shorter one
    (a hit that two overlapping windows both found, or found cut short at a window's
    edge), the higher-scoring domain stays.  The rest are returned in order of
    position."""

    def span(d: Any) -> tuple[int, int]:
        return min(d.env_from, d.env_to), max(d.env_from, d.env_to)

    order = sorted(range(len(domains)), key=lambda i: -domains[i][0].bitscore)
    kept: list[int] = []
    for i in order:
        d, strand, target = domains[i]
        if not any(
            strand == domains[j][1] and target != domains[j][2]
            and _shared(*span(d), *span(domains[j][0]))
            for j in kept
        ):  # fmt: skip
            kept.append(i)
    return [domains[i][0] for i in sorted(sorted(kept), key=lambda i: span(domains[i][0])[0])]


def _shared(lo: int, hi: int, lo2: int, hi2: int) -> bool:
    common = min(hi, hi2) - max(lo, lo2) + 1
    return common >= SAME_HIT * min(hi - lo + 1, hi2 - lo2 + 1)
