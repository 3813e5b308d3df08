"""Read multiple sequence alignments: Stockholm, aligned FASTA and A2M.

:func:`read_msa` returns an :class:`MSA` (:func:`read_msas` a list, one per
alignment of the file): the sequence names, the aligned rows as one
``(nseq, alen)`` array of ASCII bytes (case kept), the alphabet, and the
annotation a profile builder needs (the ``#=GC RF`` line of Stockholm files,
the match columns of A2M files).

Formats
-------
``stockholm``
    ``# STOCKHOLM 1.0`` files: each alignment in one or more blocks, ended by
    a ``//`` line (a file without it is truncated, an error).  A file may
    hold several alignments one after another (:func:`read_msas` reads them
    all, :func:`read_msa` expects one); anything else after a ``//`` is an
    error.  ``#=GC RF`` is kept; ``#=GF ID``/``AC``/``DE`` become ``name``,
    ``accession`` and ``description``.
``afa``
    Aligned FASTA: every row has the same length; ``-`` and ``.`` are gaps,
    case is ignored.
``a2m``
    FASTA in which upper-case letters and ``-`` are match columns, lower-case
    letters are insertions and ``.`` pads insertions.  Rows need not be padded:
    insertions are left-justified into insert columns, so every row ends up
    with the same length, and :attr:`MSA.match_columns` says which columns
    are match columns.

The format is taken from the ``format`` argument, else the file name
(``.sto``, ``.stk``, ``.stockholm``, ``.a2m``, ``.afa``/``.fa``/``.fasta``...,
with or without ``.gz``), else the content (``# STOCKHOLM`` or ``>``; FASTA
rows of unequal length that hold the same number of match characters are
read as A2M).  Gzip input is detected from its content.  These parsers are
our own rather than ``Bio.AlignIO``'s because they must keep the ``RF`` line,
the case of A2M rows and the line number of every problem.

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "tiny.sto")
>>> with open(path, "w") as fh:
...     _ = fh.write("# STOCKHOLM 1.0\\nseq1 AC-GT\\nseq2 ACCGT\\n#=GC RF xx.xx\\n//\\n")
>>> msa = read_msa(path)
>>> msa.alphabet.name, msa.nseq, msa.alen, msa.rf
('DNA', 2, 5, 'xx.xx')
>>> msa.codes()[0].tolist()
[0, 1, 254, 2, 3]
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator

import numpy as np

from ..errors import AlphabetError, InputFormatError
from ..profile.model import Alphabet
from ._source import InputSource
from .sequences import INVALID, guess_alphabet, lookup_table

__all__ = ["MSA", "read_msa", "read_msas", "GAP", "MISSING", "FORMATS"]

#: Code of a gap (``-``, ``.``, ``_``) in :meth:`MSA.codes`.
GAP = 254
#: Code of missing data (``~``) in :meth:`MSA.codes`.
MISSING = 253
#: Formats :func:`read_msa` understands.
FORMATS = ("stockholm", "afa", "a2m")

_GAP_CHARS = b"-._"
_MISSING_CHARS = b"~"
_EXTENSIONS = {
    ".sto": "stockholm",
    ".stk": "stockholm",
    ".sth": "stockholm",
    ".stockholm": "stockholm",
    ".a2m": "a2m",
    ".afa": "afa",
    ".afasta": "afa",
    ".fa": "afa",
    ".fas": "afa",
    ".fasta": "afa",
    ".mfa": "afa",
}


@dataclasses.dataclass(frozen=True, eq=False)
class MSA:
    """A multiple sequence alignment.

    Attributes
    ----------
    names : tuple of str
        Name of each row (unique).
    rows : uint8 array, shape (nseq, alen)
        The aligned characters as ASCII bytes, case kept (A2M rows are
        padded with ``.`` in insert columns).
    alphabet : Alphabet
        Given to :func:`read_msa` or guessed from the residues.
    rf : str or None
        The ``#=GC RF`` reference line (length alen), if the file has one.
    match_columns : bool array of shape (alen,) or None
        For A2M input, True for match (upper-case / ``-``) columns.
    format : str
        One of :data:`FORMATS`.
    name, accession, description : str or None
        ``#=GF ID``, ``AC`` and ``DE`` of a Stockholm file.
    """

    names: tuple[str, ...]
    rows: np.ndarray
    alphabet: Alphabet
    rf: str | None = None
    match_columns: np.ndarray | None = None
    format: str = "afa"
    name: str | None = None
    accession: str | None = None
    description: str | None = None

    @property
    def nseq(self) -> int:
        """Number of rows."""
        return int(self.rows.shape[0])

    @property
    def alen(self) -> int:
        """Number of columns."""
        return int(self.rows.shape[1])

    def codes(self) -> np.ndarray:
        """Residue codes of the rows.

        Returns
        -------
        uint8 array, shape (nseq, alen)
            Indices into ``alphabet.degenerate_matrix()[0]`` for residues,
            :data:`GAP` for ``-``, ``.`` and ``_``, :data:`MISSING` for ``~``.
        """
        table = lookup_table(self.alphabet).copy()
        table[np.frombuffer(_GAP_CHARS, dtype=np.uint8)] = GAP
        table[np.frombuffer(_MISSING_CHARS, dtype=np.uint8)] = MISSING
        return table[self.rows]

    def text(self, i: int) -> str:
        """Row ``i`` as a string."""
        return self.rows[i].tobytes().decode("latin-1")


@dataclasses.dataclass
class _Parsed:
    """What a parser found before checks: rows as bytes and where they came from."""

    names: list[str]
    texts: list[bytes]
    #: line number of each piece of each row, and the row offset the piece starts at
    pieces: list[list[tuple[int, int]]]
    rf: str | None = None
    rf_line: int | None = None
    gf: dict[str, str] = dataclasses.field(default_factory=dict)
    #: line of the ``# STOCKHOLM`` header (Stockholm only)
    start_line: int | None = None


def _format_from_name(path: str) -> str | None:
    lower = path.lower()
    if lower.endswith(".gz"):
        lower = lower[:-3]
    return _EXTENSIONS.get(os.path.splitext(lower)[1])


def _lines(source: InputSource) -> Iterator[tuple[int, str]]:
    with source.gzip_errors(), source.open_text() as fh:
        for number, line in enumerate(fh, start=1):
            yield number, line.rstrip("\r\n")


def _parse_stockholm(source: InputSource) -> list[_Parsed]:
    """Every alignment of a Stockholm file, each from its header to its ``//``."""
    alignments: list[_Parsed] = []
    parsed: _Parsed | None = None  # the alignment being read, None between alignments
    index: dict[str, int] = {}
    chunks: list[list[str]] = []
    rf_parts: list[str] = []
    in_block: set[str] = set()
    for number, line in _lines(source):
        stripped = line.strip()
        if parsed is None:
            if not stripped:
                continue
            if not stripped.startswith("# STOCKHOLM"):
                if alignments:
                    raise InputFormatError(
                        f"text after '//' that is not a new '# STOCKHOLM 1.0' header: "
                        f"{stripped[:30]!r}; remove it, or start the next alignment with the "
                        "header",
                        path=source.name,
                        line=number,
                    )
                raise InputFormatError(
                    "not a Stockholm file: the first line must be '# STOCKHOLM 1.0'",
                    path=source.name,
                    line=number,
                )
            parsed = _Parsed([], [], [], start_line=number)
            index, chunks, rf_parts, in_block = {}, [], [], set()
            continue
        if not stripped:
            in_block = set()
            continue
        if stripped == "//":
            parsed.texts = ["".join(c).encode("latin-1") for c in chunks]
            parsed.rf = "".join(rf_parts) if rf_parts else None
            alignments.append(parsed)
            parsed = None
            continue
        if stripped.startswith("# STOCKHOLM"):
            raise InputFormatError(
                f"a new '# STOCKHOLM' header before the '//' that ends the alignment of line "
                f"{parsed.start_line}; end every alignment with a '//' line",
                path=source.name,
                line=number,
            )
        if stripped.startswith("#=GC"):
            words = stripped.split(None, 2)
            if len(words) == 3 and words[1] == "RF":
                rf_parts.append(words[2].replace(" ", ""))
                parsed.rf_line = number
            continue
        if stripped.startswith("#=GF"):
            words = stripped.split(None, 2)
            if len(words) == 3 and words[1] in ("ID", "AC", "DE"):
                value = words[2].strip()
                if words[1] == "ID" and len(value.split()) != 1:
                    raise InputFormatError(
                        f"#=GF ID must be one word (the alignment's name), found {value!r}",
                        path=source.name,
                        line=number,
                    )
                parsed.gf[words[1]] = value
            continue
        if stripped.startswith("#"):
            continue
        words = stripped.split()
        if len(words) != 2:
            raise InputFormatError(
                f"expected 'name aligned-sequence' on a sequence line, found {len(words)} fields",
                path=source.name,
                line=number,
                record=words[0],
            )
        name, seq = words
        if name in in_block:
            raise InputFormatError(
                "duplicate sequence name in one block; names must be unique",
                path=source.name,
                line=number,
                record=name,
            )
        in_block.add(name)
        i = index.get(name)
        if i is None:
            i = index[name] = len(parsed.names)
            parsed.names.append(name)
            chunks.append([])
            parsed.pieces.append([])
        parsed.pieces[i].append((number, sum(len(c) for c in chunks[i])))
        chunks[i].append(seq)
    if parsed is not None:
        raise InputFormatError(
            f"file ends without '//' (truncated): the alignment that starts at line "
            f"{parsed.start_line} is not closed; every alignment must end with a '//' line",
            path=source.name,
        )
    if not alignments:
        raise InputFormatError("empty file; expected a Stockholm alignment", path=source.name)
    return alignments


def _parse_fasta(source: InputSource) -> _Parsed:
    parsed = _Parsed([], [], [])
    chunks: list[list[str]] = []
    index: dict[str, int] = {}
    for number, line in _lines(source):
        if line.startswith(">"):
            words = line[1:].split()
            name = words[0] if words else ""
            if not name:
                raise InputFormatError("record header has no name", path=source.name, line=number)
            if name in index:
                raise InputFormatError(
                    f"duplicate sequence name (first at line {parsed.pieces[index[name]][0][0]}); "
                    "names must be unique",
                    path=source.name,
                    line=number,
                    record=name,
                )
            index[name] = len(parsed.names)
            parsed.names.append(name)
            parsed.pieces.append([(number, 0)])
            chunks.append([])
            continue
        seq = "".join(line.split())
        if not seq:
            continue
        if not chunks:
            raise InputFormatError(
                "not a FASTA alignment: expected a '>' header first", path=source.name, line=number
            )
        parsed.pieces[-1].append((number, sum(len(c) for c in chunks[-1])))
        chunks[-1].append(seq)
    parsed.texts = ["".join(c).encode("latin-1") for c in chunks]
    return parsed


def _is_match_char(arr: np.ndarray) -> np.ndarray:
    return ((arr >= ord("A")) & (arr <= ord("Z"))) | (arr == ord("-")) | (arr == ord("*"))


def _expand_a2m(parsed: _Parsed, source: InputSource) -> tuple[np.ndarray, np.ndarray]:
    """Pad A2M rows into columns; return rows (nseq, alen) and the match-column mask."""
    arrays = [np.frombuffer(t, dtype=np.uint8) for t in parsed.texts]
    matches = [_is_match_char(a) for a in arrays]
    n_match = np.array([int(m.sum()) for m in matches])
    if np.any(n_match != n_match[0]):
        bad = int(np.flatnonzero(n_match != n_match[0])[0])
        raise InputFormatError(
            f"A2M row has {n_match[bad]} match characters (upper case or '-') but the first "
            f"row has {n_match[0]}; every row needs the same number",
            path=source.name,
            line=parsed.pieces[bad][0][0],
            record=parsed.names[bad],
        )
    n_seg = int(n_match[0]) + 1
    widths = np.zeros(n_seg, dtype=np.int64)
    layout = []
    for arr, match in zip(arrays, matches, strict=True):
        segment = np.cumsum(match) - match  # matches before each character
        ins = ~match & (arr != ord("."))
        counts = np.bincount(segment[ins], minlength=n_seg)
        np.maximum(widths, counts, out=widths)
        layout.append((arr, match, segment, ins))
    starts = np.concatenate([[0], np.cumsum(widths[:-1] + 1)])  # first column of each segment
    alen = int(widths.sum() + n_seg - 1)
    rows = np.full((len(arrays), alen), ord("."), dtype=np.uint8)
    match_at = (starts + widths)[:-1]  # the match column right after insert segment j
    for r, (arr, match, segment, ins) in enumerate(layout):
        rows[r, match_at] = arr[match]
        seg = segment[ins]
        rank = np.arange(seg.size) - np.searchsorted(seg, seg)  # position within its segment
        rows[r, starts[seg] + rank] = arr[ins]
    mask = np.zeros(alen, dtype=bool)
    mask[match_at] = True
    return rows, mask


def _line_of(parsed: _Parsed, row: int, offset: int | None) -> int | None:
    pieces = parsed.pieces[row]
    if not pieces:
        return None
    if offset is None:
        return pieces[0][0]
    at = int(np.searchsorted([p[1] for p in pieces], offset, side="right")) - 1
    return pieces[max(at, 0)][0]


def _is_a2m_like(parsed: _Parsed) -> bool:
    lengths = {len(t) for t in parsed.texts}
    if len(lengths) <= 1:
        return False
    counts = {int(_is_match_char(np.frombuffer(t, dtype=np.uint8)).sum()) for t in parsed.texts}
    return len(counts) == 1


def read_msas(
    path: str | os.PathLike[str],
    format: str | None = None,  # noqa: A002 - the name users know
    *,
    alphabet: Alphabet | None = None,
) -> list[MSA]:
    """Read every alignment of a file.

    A Stockholm file may hold several alignments, each from its
    ``# STOCKHOLM 1.0`` header to its ``//`` line (Pfam's seed files hold
    thousands); FASTA alignments (``afa``, ``a2m``) hold one.  Parameters,
    checks and errors are those of :func:`read_msa`, applied to each
    alignment; without ``alphabet``, each alignment's is guessed from its
    own residues.

    Returns
    -------
    list of MSA
        In file order; at least one.

    Raises
    ------
    InputFormatError
        As :func:`read_msa`; also an alignment without its closing ``//``
        (a truncated file), or text after a ``//`` that is not the header of
        a new alignment.
    """
    return _read_all(InputSource(path), format, alphabet)


def _read_all(
    source: InputSource,
    format: str | None,  # noqa: A002 - read_msa's argument
    alphabet: Alphabet | None,
) -> list[MSA]:
    """The checked alignments of ``source`` (:func:`read_msas`)."""
    if format is not None:
        format = format.lower()  # noqa: A001
        if format not in FORMATS:
            raise InputFormatError(
                f"unknown alignment format {format!r}; expected one of {FORMATS}"
            )
    else:
        format = _format_from_name(source.path)  # noqa: A001
    if format is None or format in ("afa", "a2m"):
        first = next(((n, line) for n, line in _lines(source) if line.strip()), None)
        if first is None:
            raise InputFormatError("empty file; expected an alignment", path=source.name)
        if first[1].startswith("# STOCKHOLM"):
            format = "stockholm"  # noqa: A001 - content wins over a misleading extension
        elif not first[1].startswith(">"):
            raise InputFormatError(
                "not an alignment: expected '# STOCKHOLM 1.0' or a FASTA '>' header, found "
                f"{first[1].strip()[:20]!r}",
                path=source.name,
                line=first[0],
            )
    if format == "stockholm":
        return [_alignment(p, source, "stockholm", alphabet) for p in _parse_stockholm(source)]
    return [_alignment(_parse_fasta(source), source, format, alphabet)]


def read_msa(
    path: str | os.PathLike[str],
    format: str | None = None,  # noqa: A002 - the name users know
    *,
    alphabet: Alphabet | None = None,
) -> MSA:
    """Read a multiple sequence alignment.

    Parameters
    ----------
    path : str or os.PathLike
        Alignment file (plain or gzip), or ``"-"`` for standard input.
    format : {"stockholm", "afa", "a2m"}, optional
        By default taken from the file name, else from the content.
    alphabet : Alphabet, optional
        :data:`~seqem.profile.model.AMINO`, ``DNA`` or ``RNA``; guessed from
        the residues by default.

    Returns
    -------
    MSA

    Raises
    ------
    InputFormatError
        Empty alignment, rows of different lengths, duplicate names, an RF
        line whose length differs from the rows', a malformed line, a
        Stockholm alignment without its closing ``//`` (truncated), a file
        that holds several alignments (read those with :func:`read_msas`),
        or a damaged gzip stream; the message names the file, line and
        record.
    AlphabetError
        A character that is neither a residue of the alphabet nor a gap.
    OSError
        The file cannot be opened.
    """
    source = InputSource(path)
    msas = _read_all(source, format, alphabet)
    if len(msas) > 1:
        raise InputFormatError(
            f"the file holds {len(msas)} alignments, but one is expected here",
            path=source.name,
        )
    return msas[0]


def _alignment(
    parsed: _Parsed, source: InputSource, kind: str | None, alphabet: Alphabet | None
) -> MSA:
    """The checked :class:`MSA` of one parsed alignment (``kind`` None: afa or a2m,
    told from the rows)."""
    if not parsed.names:
        raise InputFormatError(
            "empty alignment: no sequences", path=source.name, line=parsed.start_line
        )
    format = kind if kind is not None else "a2m" if _is_a2m_like(parsed) else "afa"  # noqa: A001

    match_columns = None
    if format == "a2m":
        rows, match_columns = _expand_a2m(parsed, source)
    else:
        lengths = np.array([len(t) for t in parsed.texts])
        if np.any(lengths != lengths[0]):
            bad = int(np.flatnonzero(lengths != lengths[0])[0])
            raise InputFormatError(
                f"aligned row has {lengths[bad]} columns but the first row has {lengths[0]}; "
                "every row of an alignment needs the same length",
                path=source.name,
                line=_line_of(parsed, bad, None if format == "afa" else int(lengths[bad])),
                record=parsed.names[bad],
            )
        rows = np.frombuffer(b"".join(parsed.texts), dtype=np.uint8).reshape(len(lengths), -1)
    if rows.shape[1] == 0:
        raise InputFormatError(
            "empty alignment: no columns", path=source.name, line=parsed.start_line
        )
    if parsed.rf is not None and len(parsed.rf) != rows.shape[1]:
        raise InputFormatError(
            f"#=GC RF line has {len(parsed.rf)} columns but the rows have {rows.shape[1]}",
            path=source.name,
            line=parsed.rf_line,
        )

    nongap = ~np.isin(rows, np.frombuffer(_GAP_CHARS + _MISSING_CHARS, dtype=np.uint8))
    if alphabet is None:
        alphabet = guess_alphabet([rows[nongap].tobytes()])
    bad_mask = (lookup_table(alphabet)[rows] == INVALID) & nongap
    if bad_mask.any():
        r, c = (int(v[0]) for v in np.nonzero(bad_mask))
        char = chr(rows[r, c])
        shown = repr(char) if char.isprintable() and not char.isspace() else repr(char)
        offset = c if format != "a2m" else None
        raise AlphabetError(
            f"invalid character {shown} in column {c + 1} for the {alphabet.name} alphabet; "
            f"expected {alphabet.symbols}, one of the codes {''.join(alphabet.degenerate)}, "
            "or a gap ('-', '.')",
            path=source.name,
            line=_line_of(parsed, r, offset),
            record=parsed.names[r],
        )
    rows.flags.writeable = False
    return MSA(
        names=tuple(parsed.names),
        rows=rows,
        alphabet=alphabet,
        rf=parsed.rf,
        match_columns=match_columns,
        format=format,
        name=parsed.gf.get("ID"),
        accession=parsed.gf.get("AC"),
        description=parsed.gf.get("DE"),
    )
