"""Align sequences to a profile HMM and write the alignment.

Each sequence is aligned on its own to the model configured glocal and
unihit (the whole model, one copy per sequence, flanking residues allowed
at either end; or local, as hmmalign aligns: the best segment of the
model, the residues outside it unaligned), by maximum expected accuracy
(the path through the model with the largest sum of posterior
probabilities of its residues; default) or by Viterbi (the single most
probable path).  The alignments combine into
one multiple alignment: one column per match state, residues assigned to
insert states (and flanks) in lower case between them.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from ..errors import InputFormatError, ParameterError
from .model import ProfileHMM
from .search import configure

__all__ = [
    "ProfileAlignment",
    "align",
    "assemble",
    "check_names",
    "posterior_codes",
    "sum_of_pairs",
]

#: ASCII case tables (letters only; other bytes unchanged).
_LOWER = np.frombuffer(bytes(range(256)).lower(), dtype=np.uint8)
_UPPER = np.frombuffer(bytes(range(256)).upper(), dtype=np.uint8)


@dataclasses.dataclass(frozen=True)
class ProfileAlignment:
    """Sequences aligned to a model.

    Attributes
    ----------
    names : tuple of str
    match : int array, shape (n_seq, M)
        1-based position of the residue in each match state, 0 for a deletion.
    inserts : tuple of tuple of str
        ``inserts[s][k]``: residues of sequence ``s`` inserted after node k
        (k = 0 before the first node, k = M after the last; flanks included).
    rows_text : tuple of str
        Each sequence's residues as text (for writing).
    M : int
    posteriors : tuple of str or None
        Each sequence's residues' posterior probabilities of the states that
        emit them, one character each in HMMER's code (``0`` for below 0.05,
        ``1`` to ``9`` for tenths, ``*`` for 0.95 or more); written as
        Stockholm ``#=GR ... PP`` lines.  None for Viterbi alignments; an
        empty string for a row that has none (a query placed by hand).
    match_posteriors : float64 array, shape (n_seq, M), or None
        The posterior probability of each match state's residue (NaN for a
        deletion), from which the ``#=GC PP_cons`` line is made.
    """

    names: tuple[str, ...]
    match: np.ndarray
    inserts: tuple[tuple[str, ...], ...]
    rows_text: tuple[str, ...]
    M: int
    posteriors: tuple[str, ...] | None = None
    match_posteriors: np.ndarray | None = None

    def trimmed(self) -> ProfileAlignment:
        """The alignment without the residues before the first node and after the last
        (the flanks that the model leaves unaligned), as ``hmmalign --trim`` writes it."""
        M = self.M
        texts, posts, inserts = [], [], []
        match = self.match.copy()
        for s, text in enumerate(self.rows_text):
            lead, tail = len(self.inserts[s][0]), len(self.inserts[s][M])
            end = len(text) - tail
            texts.append(text[lead:end])
            if self.posteriors is not None:
                posts.append(self.posteriors[s][lead:end])
            inserts.append(("", *self.inserts[s][1:M], ""))
            match[s] = np.where(match[s] > 0, match[s] - lead, 0)
        return dataclasses.replace(
            self,
            match=match,
            inserts=tuple(inserts),
            rows_text=tuple(texts),
            posteriors=None if self.posteriors is None else tuple(posts),
        )

    def columns(self) -> tuple[list[str], str]:
        """Aligned rows (Stockholm/A2M padding) and the RF line (x = match, . = insert)."""
        widths = self._widths()
        rows = [self._layout(s, text, True, widths) for s, text in enumerate(self.rows_text)]
        rf = []
        for k, width in enumerate(widths):
            rf.append("." * width)
            if k < self.M:
                rf.append("x")
        return rows, "".join(rf)

    def posterior_rows(self) -> list[str] | None:
        """The posterior codes laid out as :meth:`columns` lays out the residues
        (``.`` where a row has no residue), or None."""
        if self.posteriors is None:
            return None
        widths = self._widths()
        return [
            self._layout(s, text, False, widths) if text else ""
            for s, text in enumerate(self.posteriors)
        ]

    def consensus_posteriors(self) -> str | None:
        """The ``#=GC PP_cons`` line: in each match column the code of the mean posterior
        probability of the residues there (``.`` where every row has a deletion), ``.``
        in the insert columns, as hmmalign writes it; None without posteriors."""
        if self.match_posteriors is None:
            return None
        used = ~np.isnan(self.match_posteriors)
        count = used.sum(axis=0)
        total = np.where(used, self.match_posteriors, 0.0).sum(axis=0)
        mean = np.divide(total, count, out=np.zeros(self.M), where=count > 0)
        codes = posterior_codes(mean)
        out = []
        for k, width in enumerate(self._widths()):
            out.append("." * width)
            if k < self.M:
                out.append(codes[k] if count[k] else ".")
        return "".join(out)

    def _widths(self) -> list[int]:
        return self._insert_counts.max(axis=0, initial=0).tolist()

    @functools.cached_property
    def _insert_counts(self) -> np.ndarray:
        """Residues inserted in each slot of each row, shape (n_seq, M + 1)."""
        return np.array([[len(x) for x in row] for row in self.inserts], dtype=np.int64)

    def _layout(self, s: int, chars: str, residues: bool, widths: list[int]) -> str:
        """Row ``s`` with one character per residue taken from ``chars`` (in residue
        order): residues in their case and ``-`` for deletions, or other codes with
        ``.`` for every gap.

        Every residue's column comes from array operations on the row: the
        residues run slot 0's inserts, node 1's match, slot 1's inserts, ...;
        slot ``k`` spans ``widths[k]`` columns before node ``k + 1``'s column.
        """
        M = self.M
        w = np.asarray(widths, dtype=np.int64)
        n = self._insert_counts[s]
        pos = self.match[s]
        span = w + 1
        span[M] = w[M]
        start = np.zeros(M + 1, dtype=np.int64)
        np.cumsum(span[:M], out=start[1:])
        match_col = start[:M] + w[:M]
        row = np.full(int(start[M] + w[M]), ord("."), dtype=np.uint8)
        row[match_col] = ord("-") if residues else ord(".")
        groups = np.empty(2 * M + 1, dtype=np.int64)
        groups[0::2] = n
        groups[1::2] = pos > 0
        group = np.repeat(np.arange(2 * M + 1), groups)
        rank = np.arange(group.size) - (np.cumsum(groups) - groups)[group]
        k = group // 2
        inserted = group % 2 == 0
        # laid out as HMMER does: the N-terminal flank flush right, the
        # C-terminal one flush left, an insert split, half flush left
        # (rounded down) and the rest flush right
        left = n // 2
        left[0] = 0
        left[M] = n[M]
        ins_col = start[k] + np.where(rank < left[k], rank, w[k] - n[k] + rank)
        col = np.where(inserted, ins_col, match_col[np.minimum(k, M - 1)])
        text = np.frombuffer(chars.encode("ascii"), dtype=np.uint8)
        if residues:
            text = np.where(inserted, _LOWER[text], _UPPER[text])
        row[col] = text
        return row.tobytes().decode("ascii")

    def stockholm(self, *, name: str | None = None, accession: str | None = None) -> str:
        """The alignment as Stockholm text with an RF line (and ``#=GF ID``/``AC``
        lines for ``name`` and ``accession``, as hmmsearch -A names the model).

        Raises
        ------
        InputFormatError
            Two rows of one name, or a name that would read back as markup
            or the end of the alignment (:func:`check_names`).
        """
        check_names(self.names, stockholm=True)
        rows, rf = self.columns()
        pp = self.posterior_rows()
        tags = [f"#=GR {n} PP" for n in self.names] if pp is not None else []
        width = max(len(n) for n in (*self.names, *tags, "#=GC PP_cons")) + 1
        lines = ["# STOCKHOLM 1.0"]
        lines += [f"#=GF {tag} {value}" for tag, value in (("ID", name), ("AC", accession))
                  if value]  # fmt: skip
        lines.append("")
        for i, (n, r) in enumerate(zip(self.names, rows, strict=True)):
            lines.append(f"{n:<{width}}{r}")
            if pp is not None and pp[i]:  # each row's posteriors under it, as HMMER writes
                lines.append(f"{tags[i]:<{width}}{pp[i]}")
        consensus = self.consensus_posteriors()
        if consensus is not None:
            lines.append(f"{'#=GC PP_cons':<{width}}{consensus}")
        lines += [f"{'#=GC RF':<{width}}{rf}", "//", ""]
        return "\n".join(lines)

    def a2m(self) -> str:
        """The alignment as A2M: match columns upper case or '-', inserts lower case.

        Raises
        ------
        InputFormatError
            Two rows of one name (:func:`check_names`).
        """
        check_names(self.names, stockholm=False)
        out = []
        for s, name in enumerate(self.names):
            # no padding: every insert block as wide as this row's own inserts
            own = [len(ins) for ins in self.inserts[s]]
            seq = self._layout(s, self.rows_text[s], True, own)
            out.append(f">{name}")
            out += [seq[i : i + 60] for i in range(0, len(seq), 60)] or [""]
        return "\n".join(out) + "\n"


def check_names(names: tuple[str, ...] | list[str], *, stockholm: bool = True) -> None:
    """Raise :class:`~seqem.errors.InputFormatError` when ``names`` cannot name the
    rows of an alignment that reads back: two rows of one name, or (``stockholm``)
    a name that is not one word, starts with ``#`` (read as markup such as
    ``#=GC``) or with ``//`` (read as the end of the alignment).  The error's
    record is the name; the message counts sequences from 1.
    """
    first: dict[str, int] = {}
    for i, name in enumerate(names, start=1):
        if stockholm and (len(name.split()) != 1 or name.startswith(("#", "//"))):
            raise InputFormatError(
                f"sequence {i}'s name cannot be a Stockholm row name (a name starting with "
                "'#' reads as markup, one starting with '//' as the end of the alignment); "
                "rename it, or write A2M",
                record=name,
            )
        if name in first:
            raise InputFormatError(
                f"sequences {first[name]} and {i} have the same name; the rows of an "
                "alignment need unique names: rename one",
                record=name,
            )
        first[name] = i


def align(
    hmm: ProfileHMM,
    codes: np.ndarray,
    bounds: np.ndarray,
    names: tuple[str, ...] | list[str],
    *,
    method: str = "mea",
    threads: int | None = 1,
    mode: str = "glocal",
) -> ProfileAlignment:
    """Align every sequence to ``hmm``.

    Parameters
    ----------
    hmm : ProfileHMM
    codes : uint8 array, shape (T,)
        Residue codes of all sequences, concatenated.
    bounds : int64 array, shape (n_seq + 1,)
    names : sequence of str
    method : {"mea", "viterbi"}
        Maximum expected accuracy (posterior) or Viterbi alignment.
    threads : int, optional
        Threads over the sequences (``None`` or 0: every available core).
    mode : {"glocal", "local"}
        The whole model for every sequence (default), or its best local
        segment, the rest left unaligned as flanks (as hmmalign aligns).

    The sequences are aligned by one compiled pass
    (:func:`._domain_kernels.align_many`), with the operations of
    :func:`~seqem.profile.domains.decode` and
    :func:`~seqem.profile.domains.optimal_accuracy_trace` (or
    :func:`~seqem.profile.domains.viterbi_trace`) for each.
    """
    from .._jit import dynamic_schedule
    from .._jit import threads as numba_threads
    from . import _domain_kernels as DDK
    from .domains import _chunks

    if method not in ("mea", "viterbi"):
        raise ParameterError(f"method must be 'mea' or 'viterbi', got {method!r}")
    if mode not in ("glocal", "local"):
        raise ParameterError(f"mode must be 'glocal' or 'local', got {mode!r}")
    profile = configure(hmm, mode=mode, multihit=False)
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    bounds = np.ascontiguousarray(bounds, dtype=np.int64)
    lengths = np.diff(bounds)
    xt = np.ascontiguousarray(profile.specials(np.maximum(lengths, 1)))
    mea = method == "mea"
    with np.errstate(divide="ignore"):
        logs = [np.ascontiguousarray(np.log(a)) for a in (profile.msc, profile.isc)]
        if mea:
            # optimal accuracy: a transition is possible (0) or not (-inf)
            paths = [np.where(np.asarray(a) > 0.0, 0.0, -np.inf) for a in
                     (profile.tr, profile.bm, profile.me, profile.de, xt)]  # fmt: skip
        else:
            paths = [np.log(a) for a in (profile.tr, profile.bm, profile.me, profile.de, xt)]
    paths = [np.ascontiguousarray(a) for a in paths]
    with numba_threads(threads):
        slot, in_match, _, post = dynamic_schedule(
            DDK.align_many,
            codes, bounds, _chunks(lengths), profile.msc, profile.isc, profile.tr, profile.bm,
            profile.me, profile.de, xt, *logs, *paths, mea,
        )  # fmt: skip
    return assemble(hmm, names, codes, bounds, slot, in_match, post if mea else None)


def assemble(
    hmm: ProfileHMM,
    names: tuple[str, ...] | list[str],
    codes: np.ndarray,
    bounds: np.ndarray,
    slot: np.ndarray,
    in_match: np.ndarray,
    post: np.ndarray | None = None,
) -> ProfileAlignment:
    """The multiple alignment of sequences whose residues' places are known.

    Parameters
    ----------
    hmm : ProfileHMM
    names : sequence of str
    codes : uint8 array, shape (T,)
        Residue codes of all sequences, concatenated.
    bounds : int64 array, shape (n_seq + 1,)
    slot, in_match : int32 and bool arrays, shape (T,)
        For each residue, the node of the match state that emits it
        (``in_match``), or the node it is inserted after (0: before the
        first node, ``M``: after the last).
    post : float64 array, shape (T,), optional
        The posterior probability of each residue's state (the alignment's
        ``posteriors``).
    """
    letters, _ = hmm.alphabet.degenerate_matrix()
    M = hmm.M
    n = len(bounds) - 1
    lengths = np.diff(bounds)
    # residues as text, by a byte table (codes index the alphabet's letters)
    table = np.frombuffer("".join(letters).encode("ascii"), dtype=np.uint8)
    text = table[codes].tobytes().decode("ascii")
    texts = [text[bounds[s] : bounds[s + 1]] for s in range(n)]
    owner = np.repeat(np.arange(n), lengths)
    position = np.arange(codes.size) - bounds[owner] + 1
    match = np.zeros((n, M), dtype=np.int64)
    match[owner[in_match], slot[in_match] - 1] = position[in_match]
    # inserted and flanking residues: runs of the same (sequence, slot), in order
    where = np.flatnonzero(~in_match)
    key = owner[where] * (M + 1) + slot[where]
    cuts = np.flatnonzero(np.diff(key)) + 1
    ins: list[list[str]] = [[""] * (M + 1) for _ in range(n)]
    for run in np.split(where, cuts) if where.size else []:
        first = int(run[0])
        ins[int(owner[first])][int(slot[first])] = "".join(text[i] for i in run.tolist())
    inserts = tuple(tuple(row) for row in ins)
    posteriors = match_pp = None
    if post is not None:
        codes_pp = posterior_codes(post)
        posteriors = tuple(codes_pp[bounds[s] : bounds[s + 1]] for s in range(n))
        match_pp = np.full((n, M), np.nan)
        match_pp[owner[in_match], slot[in_match] - 1] = post[in_match]
    return ProfileAlignment(tuple(names), match, inserts, tuple(texts), M, posteriors, match_pp)


def posterior_codes(post: np.ndarray) -> str:
    """Posterior probabilities as HMMER's one-character codes: ``0`` below 0.05,
    ``1`` .. ``9`` for the tenths around them, ``*`` from 0.95."""
    level = np.floor((np.nan_to_num(np.asarray(post, dtype=np.float64)) + 0.05) * 10.0)
    level = np.clip(level, 0, 10).astype(np.uint8)
    return np.frombuffer(b"0123456789*", dtype=np.uint8)[level].tobytes().decode("ascii")


def sum_of_pairs(predicted: np.ndarray, reference: np.ndarray) -> tuple[int, int, int]:
    """Residue pairs aligned alike in two alignments of the same sequences.

    Parameters
    ----------
    predicted, reference : int arrays, shape (n_seq, L_max)
        Column (or match state) of each residue of each sequence, -1 where a
        residue is not in any scored column; rows padded with -2.

    Returns
    -------
    ref_pairs, predicted_pairs, correct_pairs : int
        Pairs of residues of two sequences in the same reference column, in
        the same predicted column, and in both.
    """
    n = predicted.shape[0]
    ref_pairs = pred_pairs = correct = 0
    for a in range(n):
        for b in range(a + 1, n):
            partner_ref = _partners(reference[a], reference[b])
            partner_pred = _partners(predicted[a], predicted[b])
            ref_pairs += int(np.sum(partner_ref >= 0))
            pred_pairs += int(np.sum(partner_pred >= 0))
            correct += int(np.sum((partner_ref >= 0) & (partner_ref == partner_pred)))
    return ref_pairs, pred_pairs, correct


def _partners(col_a: np.ndarray, col_b: np.ndarray) -> np.ndarray:
    """For each residue of a: the residue of b in the same column, or -1."""
    lookup = {int(c): i for i, c in enumerate(col_b) if c >= 0}
    return np.array([lookup.get(int(c), -1) if c >= 0 else -1 for c in col_a], dtype=np.int64)
