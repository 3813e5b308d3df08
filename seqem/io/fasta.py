"""Read DNA FASTA files into integer codes.

Bases map to ``A=0, C=1, G=2, T=3`` in either case (``U`` counts as ``T``,
and soft-masked lowercase bases count as their uppercase letters).  ``N``
and the other IUPAC ambiguity codes (``R Y S W K M B D H V``) become ``-1``:
**ambiguous bases are treated as missing observations**, which a
:class:`seqem.CategoricalHMM` scores with likelihood 1 in every state.  Any
other character is an error that names the file, line, record and position.

The mapping runs on bytes through a 256-entry lookup table, so a
100-megabase genome converts in a second or so; records are split by array
operations on the whole text (:func:`split_fasta`).

>>> import io, sys
>>> from seqem.io.fasta import read_fasta
>>> sys.stdin = io.TextIOWrapper(io.BytesIO(b">s1 demo\\nACgtN\\n>s2\\nTTR\\n"))
>>> seqs = read_fasta("-")
>>> sys.stdin = sys.__stdin__
>>> seqs.names
('s1', 's2')
>>> seqs.codes.tolist()
[0, 1, 2, 3, -1, 3, 3, -1]
>>> seqs.bounds.tolist(), seqs.n_ambiguous
([0, 5, 8], 2)
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Iterator

import numpy as np

from ..errors import AlphabetError, InputFormatError
from ._source import InputSource
from .regions import parse_region

__all__ = ["DnaSequences", "read_fasta", "DNA_ALPHABET", "encode_dna", "split_fasta"]

#: Symbols of the codes 0..3.
DNA_ALPHABET = "ACGT"
#: Code of an ambiguous base (a missing observation).
MISSING = -1
_INVALID = -2
_AMBIGUOUS = "NRYSWKMBDHV"


def _lookup_table() -> np.ndarray:
    table = np.full(256, _INVALID, dtype=np.int8)
    for code, letters in enumerate(("A", "C", "G", "TU")):
        for letter in letters:
            table[ord(letter)] = table[ord(letter.lower())] = code
    for letter in _AMBIGUOUS:
        table[ord(letter)] = table[ord(letter.lower())] = MISSING
    return table


#: Byte value -> code (0..3, -1 ambiguous, -2 invalid).
LOOKUP = _lookup_table()


@dataclasses.dataclass(frozen=True, eq=False)
class DnaSequences:
    """DNA sequences as one concatenated array of codes.

    Attributes
    ----------
    names : tuple of str
        Record name (first word of the FASTA header) of each sequence.
    codes : int64 array, shape (n_bases,)
        All sequences concatenated; 0..3 for A, C, G, T and -1 for an
        ambiguous base (missing observation).
    bounds : int64 array, shape (n_sequences + 1,)
        Sequence ``i`` is ``codes[bounds[i]:bounds[i + 1]]``.
    n_ambiguous : int
        Number of ambiguous bases (codes equal to -1).
    starts : int64 array, shape (n_sequences,)
        0-based position in its record of each sequence's first base (0
        unless a region was requested).
    """

    names: tuple[str, ...]
    codes: np.ndarray
    bounds: np.ndarray
    n_ambiguous: int
    starts: np.ndarray

    @property
    def lengths(self) -> np.ndarray:
        """Length of each sequence (int64, shape (n_sequences,))."""
        return np.diff(self.bounds)

    @property
    def n_sequences(self) -> int:
        """Number of sequences."""
        return len(self.names)

    def __len__(self) -> int:
        return len(self.names)


def encode_dna(seq: bytes | str) -> np.ndarray:
    """Codes of one sequence (int8; -2 marks characters that are not DNA)."""
    raw = seq.encode("latin-1") if isinstance(seq, str) else seq
    return LOOKUP[np.frombuffer(raw, dtype=np.uint8)]


def _record_name(title: str) -> str:
    parts = title.split(None, 1)
    return parts[0] if parts else ""


def _check_starts_with_header(source: InputSource) -> None:
    """Raise unless the first non-blank line starts with '>'."""
    with source.gzip_errors(), source.open_text() as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            if line.startswith(">"):
                return
            shown = line.strip()[:20]
            raise InputFormatError(
                f"not a FASTA file: expected a '>' header line, found {shown!r}",
                path=source.name,
                line=number,
            )
    raise InputFormatError("empty file; expected FASTA records starting with '>'", path=source.name)


#: Bytes that FASTA sequence lines may hold besides residues (dropped).
_WHITESPACE = np.zeros(256, dtype=bool)
_WHITESPACE[list(b" \t\r\n\v\f")] = True


def _whitespace(buf: np.ndarray) -> np.ndarray:
    """``_WHITESPACE[buf]``, looking up only the bytes up to 32 (every whitespace byte
    is one; a table lookup of every byte costs several times more)."""
    mask = buf <= 32
    low = np.flatnonzero(mask)
    mask[low[~_WHITESPACE[buf[low]]]] = False
    return mask


def split_fasta(data: bytes) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Split FASTA text into titles and residues without a loop over lines.

    A header is a line that starts with ``>``; text before the first header
    is ignored; whitespace in sequence lines is dropped (the residues are not
    checked here).

    Returns
    -------
    titles : list of str
        Each header without its ``>`` and trailing whitespace (latin-1).
    residues : uint8 array
        The sequence bytes of every record, concatenated.
    bounds : int64 array, shape (n_records + 1,)
        Record ``i`` is ``residues[bounds[i]:bounds[i + 1]]``.

    >>> titles, residues, bounds = split_fasta(b"junk\\n>a x\\nAC G\\r\\nT\\n>b\\n\\n>c\\nM\\n")
    >>> titles, residues.tobytes(), bounds.tolist()
    (['a x', 'b', 'c'], b'ACGTM', [0, 4, 4, 5])
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(buf == 10)
    starts = np.concatenate([[0], newlines + 1])
    starts = starts[starts < buf.size]
    heads = starts[buf[starts] == 62]  # '>'
    if heads.size == 0:
        return [], np.zeros(0, dtype=np.uint8), np.zeros(1, dtype=np.int64)
    after = np.searchsorted(newlines, heads)
    ends = np.full(heads.size, buf.size, dtype=np.int64)
    inside = after < newlines.size
    ends[inside] = newlines[after[inside]]
    titles = [data[a + 1 : b].decode("latin-1").rstrip() for a, b in zip(heads, ends, strict=True)]
    # header lines (and anything before the first) hold no residues
    edges = np.zeros(buf.size + 1, dtype=np.int8)
    edges[heads] = 1
    edges[ends] -= 1
    in_header = np.cumsum(edges[:-1], dtype=np.int8).view(bool)
    keep = ~(_whitespace(buf) | in_header)
    keep[: heads[0]] = False
    # a record's residues: its bytes less the few dropped ones (header,
    # line ends), counted from the positions of the dropped bytes
    dropped = np.flatnonzero(~keep)
    edges_at = np.append(heads, buf.size)
    lengths = np.diff(edges_at) - np.diff(np.searchsorted(dropped, edges_at))
    bounds = np.zeros(heads.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=bounds[1:])
    return titles, buf[keep], bounds


def _locate(source: InputSource, record_index: int, position: int | None) -> int | None:
    """1-based line of a record's header, or of a 0-based position in its sequence."""
    with source.gzip_errors(), source.open_text() as fh:
        seen = -1
        done = 0
        for number, line in enumerate(fh, start=1):
            if line.startswith(">"):
                seen += 1
                if seen == record_index and position is None:
                    return number
                if seen > record_index:
                    return None
                continue
            if seen == record_index:
                # the parser's own rule: whitespace is dropped
                done += len(line) - int(
                    np.count_nonzero(
                        _WHITESPACE[np.frombuffer(line.encode("latin-1"), dtype=np.uint8)]
                    )
                )
                if position is not None and done > position:
                    return number
    return None


def _describe(char: str) -> str:
    hint = ""
    if char in "-.":
        hint = "; this looks like an alignment: remove the gaps"
    elif char == "*":
        hint = "; '*' is not a DNA base"
    return f"invalid character {char!r}{hint}"


def _parse(source: InputSource) -> Iterator[tuple[int, str, str]]:
    """(record index, name, sequence text) for every record."""
    titles, residues, bounds = split_fasta(source.read_bytes())
    for index, title in enumerate(titles):
        seq = residues[bounds[index] : bounds[index + 1]].tobytes().decode("latin-1")
        yield index, _record_name(title), seq


def read_fasta(
    path: str | os.PathLike[str],
    *,
    region: str | Iterable[str] | None = None,
) -> DnaSequences:
    """Read a DNA FASTA file (plain or gzip) into integer codes.

    Parameters
    ----------
    path : str or os.PathLike
        FASTA file, plain or gzip-compressed (detected from its content), or
        ``"-"`` for standard input.
    region : str or iterable of str, optional
        Keep only these regions (``"chr1"``, ``"chr1:1,000-2,000"``, 1-based
        inclusive; see :func:`seqem.io.regions.parse_region`), one sequence
        per region, in the order given.  By default every record is one
        sequence, in file order.

    Returns
    -------
    DnaSequences

    Raises
    ------
    AlphabetError
        A character that is neither a base nor an IUPAC ambiguity code.
    InputFormatError
        Empty input, text that is not FASTA, a record without a name or with
        an empty sequence, duplicate record names, a truncated or corrupt
        gzip stream, or a region naming an unknown record or reaching past
        a record's end.
    ParameterError
        A malformed region string (text after the last ``:`` that is not
        ``START-END``, unless the whole string names a record).
    OSError
        The file cannot be opened.
    """
    source = InputSource(path)
    _check_starts_with_header(source)
    regions: list[str] | None = None
    if region is not None:
        regions = [region] if isinstance(region, str) else list(region)
        for text in regions:
            parse_region(text)  # a malformed region fails before the file is read
        # a region is a record's name whole, or a name before the last ':'
        needed = {text.strip() for text in regions}
        needed |= {text.strip().rpartition(":")[0] for text in regions}

    names: list[str] = []
    kept: dict[str, np.ndarray] = {}
    seen: dict[str, int] = {}
    for index, name, seq in _parse(source):
        if not name:
            raise InputFormatError(
                "record header has no name", path=source.name, line=_locate(source, index, None)
            )
        if name in seen:
            raise InputFormatError(
                f"duplicate record name (also record {seen[name] + 1}); record names must be "
                "unique",
                path=source.name,
                line=_locate(source, index, None),
                record=name,
            )
        seen[name] = index
        if not seq:
            raise InputFormatError(
                "empty sequence", path=source.name, line=_locate(source, index, None), record=name
            )
        if regions is not None and name not in needed:
            continue
        codes = encode_dna(seq)
        if codes.min() == _INVALID:
            pos = int(np.argmax(codes == _INVALID))
            raise AlphabetError(
                f"{_describe(seq[pos])} at position {pos + 1}; expected A, C, G, T (or U) "
                "or an IUPAC ambiguity code (N R Y S W K M B D H V)",
                path=source.name,
                line=_locate(source, index, pos),
                record=name,
            )
        names.append(name)
        kept[name] = codes

    if not seen:
        raise InputFormatError("no FASTA records found", path=source.name)

    pieces: list[np.ndarray] = []
    out_names: list[str] = []
    starts: list[int] = []
    if regions is None:
        pieces = [kept[name] for name in names]
        out_names = names
        starts = [0] * len(names)
    else:
        for text in regions:
            name, start, end = parse_region(text, names=seen)
            if name not in kept:
                shown = ", ".join(list(seen)[:5]) + (", ..." if len(seen) > 5 else "")
                raise InputFormatError(
                    f"region {text!r}: no record named {name!r} (records: {shown})",
                    path=source.name,
                )
            codes = kept[name]
            stop = codes.size if end is None else end
            if stop > codes.size:
                raise InputFormatError(
                    f"region {text!r} ends at {stop}, past the end of {name!r} "
                    f"(length {codes.size})",
                    path=source.name,
                )
            if start >= codes.size:
                raise InputFormatError(
                    f"region {text!r} starts past the end of {name!r} (length {codes.size})",
                    path=source.name,
                )
            pieces.append(codes[start:stop])
            out_names.append(name)
            starts.append(start)

    bounds = np.zeros(len(pieces) + 1, dtype=np.int64)
    np.cumsum([p.size for p in pieces], out=bounds[1:])
    codes = np.empty(int(bounds[-1]), dtype=np.int64)
    for piece, lo, hi in zip(pieces, bounds[:-1], bounds[1:], strict=True):
        codes[lo:hi] = piece
    return DnaSequences(
        names=tuple(out_names),
        codes=codes,
        bounds=bounds,
        n_ambiguous=int(np.count_nonzero(codes == MISSING)),
        starts=np.asarray(starts, dtype=np.int64),
    )
