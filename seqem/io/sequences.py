"""Read biological sequences into digital codes for profile search and training.

Residues become small integers in the code space of
:meth:`Alphabet.degenerate_matrix <seqem.profile.model.Alphabet.degenerate_matrix>`:
the K canonical symbols are ``0..K-1`` and the degenerate codes follow
(``B J Z O U X`` for amino, the IUPAC codes ``R Y M K S W H B V D N`` for
nucleotides).  Lowercase counts as uppercase; in DNA ``U`` reads as ``T`` and
in RNA ``T`` reads as ``U``.  A ``*`` that ends a protein sequence (a stop) is
dropped.  Gaps (``-``, ``.``) are errors: aligned inputs are not read here.

Inputs are FASTA (plain, gzip or standard input) or UniProt/Swiss-Prot flat
files, told apart by their content.  The conversion runs on bytes through a
256-entry lookup table.

>>> from seqem.profile.model import AMINO
>>> digitize("ACDy*", AMINO).tolist()
[0, 1, 2, 19]
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Iterator
from typing import IO, Any

import numpy as np

from ..errors import AlphabetError, InputFormatError
from ..profile.model import AMINO, DNA, RNA, Alphabet
from ._source import InputSource, gzip_errors, open_stream
from .fasta import _locate, split_fasta

__all__ = [
    "DigitalSequences",
    "read_sequences",
    "iter_sequences",
    "digitize",
    "guess_alphabet",
    "read_bam_reads",
    "iter_bam_reads",
    "take_sequences",
]

#: Table value of a byte that is not a residue of the alphabet.
INVALID = 255
_NUCLEOTIDE_CHARS = frozenset("ACGTUNRYMKSWHBVD")
#: Smallest fraction of A, C, G, T, U, N among residues for a nucleotide guess.
_NUCLEOTIDE_FRACTION = 0.9


@dataclasses.dataclass(frozen=True, eq=False)
class DigitalSequences:
    """Sequences as one concatenated array of residue codes.

    Attributes
    ----------
    names : tuple of str
        Name of each sequence (first word of a FASTA header, the ``ID`` name of
        a Swiss-Prot entry, the read name of a BAM record).
    descriptions : tuple of str
        Rest of each header (``""`` when there is none).
    codes : uint8 array, shape (n_residues,)
        All sequences concatenated, as indices into the codes of
        ``alphabet.degenerate_matrix()``.
    bounds : int64 array, shape (n_sequences + 1,)
        Sequence ``i`` is ``codes[bounds[i]:bounds[i + 1]]``.
    alphabet : Alphabet
    accessions : tuple of str
        Accession of each sequence (the primary ``AC`` of a Swiss-Prot
        entry); empty when the format has none (FASTA, BAM).
    """

    names: tuple[str, ...]
    descriptions: tuple[str, ...]
    codes: np.ndarray
    bounds: np.ndarray
    alphabet: Alphabet
    accessions: tuple[str, ...] = ()

    @property
    def lengths(self) -> np.ndarray:
        """Length of each sequence (int64, shape (n_sequences,))."""
        return np.diff(self.bounds)

    @property
    def n_sequences(self) -> int:
        """Number of sequences."""
        return len(self.names)

    @property
    def n_residues(self) -> int:
        """Total number of residues."""
        return int(self.bounds[-1])

    def __len__(self) -> int:
        return len(self.names)

    def sequence(self, i: int) -> np.ndarray:
        """Codes of sequence ``i`` (a view; uint8)."""
        return self.codes[self.bounds[i] : self.bounds[i + 1]]

    def text(self, i: int) -> str:
        """Sequence ``i`` as uppercase letters."""
        symbols, _ = self.alphabet.degenerate_matrix()
        return "".join(symbols[c] for c in self.sequence(i))

    def subset(self, index: np.ndarray) -> DigitalSequences:
        """The sequences ``index`` (in that order) as their own collection."""
        index = np.asarray(index, dtype=np.int64)
        codes, bounds = take_sequences(self.codes, self.bounds, index)
        return DigitalSequences(
            tuple(self.names[i] for i in index),
            tuple(self.descriptions[i] for i in index),
            codes,
            bounds,
            self.alphabet,
            tuple(self.accessions[i] for i in index) if self.accessions else (),
        )


def complement_codes(alphabet: Alphabet) -> np.ndarray:
    """Code -> code of the complementary residue set (a nucleotide alphabet's codes,
    degenerate ones included: R <-> Y, K <-> M, S, W and N to themselves, ...)."""
    pairs = {"A": "TU", "C": "G", "G": "C", "T": "A", "U": "A"}
    symbols, members = alphabet.degenerate_matrix()
    canonical = alphabet.symbols
    sets = [frozenset(np.flatnonzero(row).tolist()) for row in np.asarray(members) > 0]
    out = np.arange(len(symbols), dtype=np.uint8)
    for code, residues in enumerate(sets):
        partner = frozenset(
            canonical.index(c) for r in residues for c in pairs[canonical[r]] if c in canonical
        )
        if partner in sets:
            out[code] = sets.index(partner)
    return out


def reverse_complement(seqs: DigitalSequences) -> DigitalSequences:
    """Every sequence of a nucleotide collection reverse-complemented, in the same order
    and with the same names."""
    comp = complement_codes(seqs.alphabet)
    n = seqs.n_sequences
    flipped = comp[seqs.codes[::-1]]  # the last sequence first, each reversed
    flipped_bounds = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(seqs.lengths[::-1], out=flipped_bounds[1:])
    codes, bounds = take_sequences(flipped, flipped_bounds, np.arange(n - 1, -1, -1))
    return dataclasses.replace(seqs, codes=codes, bounds=bounds)


def take_sequences(
    codes: np.ndarray, bounds: np.ndarray, index: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated codes and bounds of the sequences ``index`` of ``(codes, bounds)``."""
    index = np.asarray(index, dtype=np.int64)
    lengths = np.diff(bounds)[index]
    out_bounds = np.zeros(index.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=out_bounds[1:])
    if index.size == 0:
        return np.zeros(0, dtype=np.uint8), out_bounds
    pieces = [codes[bounds[i] : bounds[i + 1]] for i in index]
    return np.ascontiguousarray(np.concatenate(pieces), dtype=np.uint8), out_bounds


_TABLES: dict[str, np.ndarray] = {}


def lookup_table(alphabet: Alphabet) -> np.ndarray:
    """Byte value -> residue code (uint8, shape (256,); :data:`INVALID` if not a residue)."""
    table = _TABLES.get(alphabet.name)
    if table is None:
        symbols, _ = alphabet.degenerate_matrix()
        table = np.full(256, INVALID, dtype=np.uint8)
        for code, char in enumerate(symbols):
            table[ord(char)] = table[ord(char.lower())] = code
        synonym = {"DNA": ("U", "T"), "RNA": ("T", "U")}.get(alphabet.name)
        if synonym is not None:
            code = symbols.index(synonym[1])
            table[ord(synonym[0])] = table[ord(synonym[0].lower())] = code
        table.flags.writeable = False
        _TABLES[alphabet.name] = table
    return table


def _bytes(text: str | bytes) -> bytes:
    return text.encode("latin-1") if isinstance(text, str) else text


def _strip_stop(raw: bytes, alphabet: Alphabet) -> bytes:
    if alphabet.name == "amino" and raw.endswith(b"*"):
        return raw[:-1]
    return raw


def _describe(char: str, alphabet: Alphabet) -> str:
    if char in "-.":
        hint = "; this looks like an alignment: remove the gaps"
    elif char == "*":
        hint = "; '*' (stop) is only accepted at the end of a protein sequence"
    elif not char.isprintable() or char.isspace():
        hint = ""
        char = repr(char)
    else:
        hint = ""
    return (
        f"invalid character {char!r} for the {alphabet.name} alphabet{hint}; expected "
        f"{alphabet.symbols} or one of the codes {''.join(alphabet.degenerate)}"
    )


def digitize(text: str | bytes, alphabet: Alphabet) -> np.ndarray:
    """Codes of one sequence.

    Parameters
    ----------
    text : str or bytes
        Residues, any case; a final ``*`` is dropped for amino acids.
    alphabet : Alphabet

    Returns
    -------
    uint8 array, shape (n,)
        Indices into ``alphabet.degenerate_matrix()[0]``.

    Raises
    ------
    AlphabetError
        A character that is not a residue of ``alphabet``; the message gives
        its 1-based position.
    """
    raw = _strip_stop(_bytes(text), alphabet)
    codes = lookup_table(alphabet)[np.frombuffer(raw, dtype=np.uint8)]
    bad = np.flatnonzero(codes == INVALID)
    if bad.size:
        pos = int(bad[0])
        raise AlphabetError(f"{_describe(chr(raw[pos]), alphabet)} at position {pos + 1}")
    return codes


def guess_alphabet(texts: list[bytes]) -> Alphabet:
    """DNA, RNA or amino from the residues of some sequences.

    Nucleotides when every character is a nucleotide or IUPAC code and at
    least 90% are ``A C G T U N``; RNA when there is ``U`` and no ``T``.
    Anything else (and a ``*`` stop) means amino acids.

    >>> guess_alphabet([b"ACGTN"]).name, guess_alphabet([b"acgu"]).name
    ('DNA', 'RNA')
    >>> guess_alphabet([b"MKVLAAGIVG"]).name
    'amino'
    """
    counts = np.zeros(256, dtype=np.int64)
    for raw in texts:
        counts += byte_counts(np.frombuffer(raw, dtype=np.uint8))
    return _guess_from_counts(counts)


#: Bytes counted per piece by :func:`byte_counts`.
_COUNT_PIECE = 1 << 20


def byte_counts(data: np.ndarray) -> np.ndarray:
    """How often each byte value occurs in a uint8 array: int64 (256,).

    ``np.bincount`` widens its input to 64-bit integers first; counted a
    megabyte at a time the widened copy stays small (for a large database
    the whole copy cost more in fresh memory than the counting).

    >>> byte_counts(np.frombuffer(b"ACCA", dtype=np.uint8))[[65, 67]].tolist()
    [2, 2]
    """
    counts = np.zeros(256, dtype=np.int64)
    for start in range(0, data.size, _COUNT_PIECE):
        counts += np.bincount(data[start : start + _COUNT_PIECE], minlength=256)
    return counts


def _guess_from_counts(counts: np.ndarray) -> Alphabet:
    """:func:`guess_alphabet` from the number of times each byte occurs."""
    upper = counts[ord("A") : ord("Z") + 1] + counts[ord("a") : ord("z") + 1]
    letters = {chr(ord("A") + i): int(n) for i, n in enumerate(upper) if n}
    others = int(counts.sum() - upper.sum())
    total = sum(letters.values())
    if others or not total or not set(letters) <= _NUCLEOTIDE_CHARS:
        return AMINO
    plain = sum(letters.get(c, 0) for c in "ACGTUN")
    if plain < _NUCLEOTIDE_FRACTION * total:
        return AMINO
    if letters.get("U") and not letters.get("T"):
        return RNA
    return DNA


def _names(titles: list[str]) -> tuple[list[str], list[str]]:
    """Record names (first word of each title) and descriptions (the rest)."""
    names, descriptions = [], []
    for title in titles:
        parts = title.split(None, 1)
        names.append(parts[0] if parts else "")
        descriptions.append(parts[1].strip() if len(parts) > 1 else "")
    return names, descriptions


def _swiss_parser() -> Any:
    """Biopython's record parser, imported when a Swiss-Prot file is read (the import
    takes about 60 ms, which FASTA readers need not pay)."""
    from Bio import SeqIO

    return SeqIO.parse


class _DescriptionLines:
    """A text stream that keeps each Swiss-Prot entry's description as hmmsearch reads
    it: the text after each ``DE`` line's five-character prefix, lines joined by one
    space (Biopython's description strips the continuation lines' indentation), and
    what the entry's lines say of it: the line of its ``ID`` line and the length its
    ``SQ`` line declares (None without one)."""

    def __init__(self, fh: IO[str]) -> None:
        self.fh = fh
        self.number = 0
        self.current: list[str] = []
        self.start: int | None = None
        self.declared: int | None = None
        self.done: list[tuple[str, int | None, int | None]] = []

    def __iter__(self) -> _DescriptionLines:
        return self

    def __next__(self) -> str:
        return self._see(next(self.fh))

    def _see(self, line: str) -> str:
        self.number += 1
        if line.startswith("ID"):
            self.start = self.number
        elif line.startswith("DE"):
            self.current.append(line[5:].rstrip("\r\n"))
        elif line.startswith("SQ"):
            words = line.split()
            if len(words) > 2 and words[2].isdigit():
                self.declared = int(words[2])
        elif line.startswith("//"):
            self.done.append((" ".join(self.current).strip(), self.start, self.declared))
            self.current = []
            self.start = self.declared = None
        return line

    def read(self, size: int = -1) -> str:
        return self.fh.read(size)

    def readline(self) -> str:
        line = self.fh.readline()
        return self._see(line) if line else line


def _swiss_records(source: InputSource) -> Iterator[tuple[str, str, bytes, str]]:
    with source.gzip_errors(), source.open_text() as fh:
        lines = _DescriptionLines(fh)
        try:
            for record in _swiss_parser()(lines, "swiss"):
                # Biopython: the entry name is ``name``, the primary accession ``id``;
                # the entry (up to its '//') has been read when it is returned
                description, start, declared = (
                    lines.done.pop(0) if lines.done else (record.description, None, None)
                )
                residues = bytes(record.seq)
                if declared is not None and declared != len(residues):
                    raise InputFormatError(
                        f"the SQ line declares {declared} residues but the entry's sequence "
                        f"has {len(residues)}; the entry is truncated or damaged",
                        path=source.name,
                        line=start,
                        record=record.name,
                    )
                yield record.name, description, residues, record.id
        except (ValueError, AssertionError) as exc:
            if isinstance(exc, InputFormatError):
                raise
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InputFormatError(
                f"malformed Swiss-Prot/UniProt entry: {message}", path=source.name
            ) from None


def read_sequences(
    path: str | os.PathLike[str], alphabet: Alphabet | None = None
) -> DigitalSequences:
    """Read unaligned sequences (FASTA or Swiss-Prot/UniProt text) into codes.

    Parameters
    ----------
    path : str or os.PathLike
        FASTA, or a UniProt/Swiss-Prot flat file (its first line starts with
        ``ID``); plain or gzip-compressed (detected from the content), or
        ``"-"`` for standard input.
    alphabet : Alphabet, optional
        :data:`~seqem.profile.model.AMINO`, ``DNA`` or ``RNA``.  By default
        it is guessed from all residues (see :func:`guess_alphabet`).

    Returns
    -------
    DigitalSequences

    Raises
    ------
    AlphabetError
        A character that is not a residue of the alphabet (gaps included);
        the message names the record, its 1-based position and the line.
    InputFormatError
        Empty input, no records, text that is neither FASTA nor Swiss-Prot, a
        record without a name or with an empty sequence, a malformed entry
        (or one whose sequence is not as long as its ``SQ`` line says), or a
        truncated or corrupt gzip stream.
    OSError
        The file cannot be opened.
    """
    source = InputSource(path)
    if _is_fasta(source):
        titles, raw, bounds = split_fasta(source.read_bytes())
        names, descriptions = _names(titles)
        return _digital(source, names, descriptions, raw, bounds, alphabet, fasta=True)
    return _read_swiss(source, alphabet)


def _read_swiss(source: InputSource, alphabet: Alphabet | None) -> DigitalSequences:
    records = list(_swiss_records(source))
    raw = np.frombuffer(b"".join(r[2] for r in records), dtype=np.uint8)
    bounds = np.zeros(len(records) + 1, dtype=np.int64)
    np.cumsum([len(r[2]) for r in records], out=bounds[1:])
    names = [r[0] for r in records]
    descriptions = [r[1] for r in records]
    seqs = _digital(source, names, descriptions, raw, bounds, alphabet, fasta=False)
    return dataclasses.replace(seqs, accessions=tuple(r[3] for r in records))


#: Bytes of text per piece of :func:`iter_sequences` (8 MiB: about 7.5 million
#: residues of a protein FASTA file with 60-column lines).
PIECE_RESIDUES = 1 << 23


def iter_sequences(
    path: str | os.PathLike[str],
    alphabet: Alphabet | None = None,
    *,
    piece_residues: int | None = None,
) -> Iterator[DigitalSequences]:
    """:func:`read_sequences` piece by piece, for databases larger than memory.

    FASTA input is read in pieces of whole records of about
    ``piece_residues`` bytes of text (:data:`PIECE_RESIDUES`; a longer record
    is one piece by itself), so memory stays bounded whatever the size of the
    input, standard input included (read as it comes); a Swiss-Prot file
    comes as one piece.  Without ``alphabet`` it is guessed from the first
    piece and kept for the others.  The errors are those of
    :func:`read_sequences` (the line numbers counted over the whole input),
    raised when the piece holding the problem is reached (after the earlier
    pieces were yielded).

    >>> import os, tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "db.fa")
    ...     _ = open(path, "w").write(">a\\nMKV\\n>b\\nWW\\n>c\\nAC\\n")
    ...     [p.names for p in iter_sequences(path, piece_residues=16)]
    [('a', 'b'), ('c',)]
    """
    # about one byte of text per residue
    block = PIECE_RESIDUES if piece_residues is None else max(1, int(piece_residues))
    with open_stream(path) as (fh, gzipped, name):
        reader = _Pieces(fh, block)
        with gzip_errors(gzipped, name):
            text = reader.next()
        if _is_fasta_text(text, name):
            done = lines = 0  # records and lines of the earlier pieces
            while text is not None:
                titles, raw, bounds = split_fasta(text)
                names, descriptions = _names(titles)
                piece = _digital(
                    InputSource.from_bytes(text, name), names, descriptions, raw, bounds,
                    alphabet, fasta=True, lines=lines,
                )  # fmt: skip
                alphabet = piece.alphabet
                done += piece.n_sequences
                lines += text.count(b"\n")
                yield piece
                with gzip_errors(gzipped, name):
                    text = reader.next()
            return
        assert text is not None
        with gzip_errors(gzipped, name):
            rest = fh.read()
    yield _read_swiss(InputSource.from_bytes(text + rest, name), alphabet)


def _is_fasta_text(text: bytes | None, name: str) -> bool:
    """True when ``text`` (the start of an input) is FASTA, False for Swiss-Prot;
    errors for anything else."""
    for number, line in enumerate((text or b"").split(b"\n"), start=1):
        if not line.strip():
            continue
        if line.startswith(b">"):
            return True
        if line.startswith(b"ID   "):
            return False
        shown = line.decode("latin-1").strip()[:20]
        raise InputFormatError(
            f"not a FASTA or Swiss-Prot file: expected a '>' header or an 'ID   ' line, "
            f"found {shown!r}",
            path=name,
            line=number,
        )
    raise InputFormatError(
        "empty file; expected FASTA records ('>name') or Swiss-Prot entries ('ID   ')",
        path=name,
    )


class _Pieces:
    """Whole FASTA records from a binary stream, about ``block`` bytes at a time."""

    def __init__(self, fh: IO[bytes], block: int) -> None:
        self.fh, self.block = fh, block
        self.carry = b""

    def next(self) -> bytes | None:
        """The next records (a piece ends before a header line), or None at the end."""
        parts = [self.carry]
        size = len(self.carry)
        # whether a header starts a line after the first byte (a place to cut)
        cuttable = self.carry.find(b"\n>") >= 0
        while True:
            data = self.fh.read(self.block)
            if not data:
                text = b"".join(parts)
                self.carry = b""
                return text if text.strip() else None
            cuttable = cuttable or (parts[-1][-1:] + data).find(b"\n>") >= 0
            parts.append(data)
            size += len(data)
            if size < self.block or not cuttable:
                continue  # (a record longer than a block is read on to its end)
            text = b"".join(parts)
            cut = text.rfind(b"\n>")
            self.carry = text[cut + 1 :]
            return text[: cut + 1]


def _is_fasta(source: InputSource) -> bool:
    """True for FASTA, False for Swiss-Prot text; errors for anything else
    (:func:`_is_fasta_text` on the lines up to the first that is not blank)."""
    head = []
    with source.gzip_errors(), source.open_binary() as fh:
        for line in fh:
            head.append(line)
            if line.strip():
                break
    return _is_fasta_text(b"".join(head), source.name)


def _digital(
    source: InputSource,
    names: list[str],
    descriptions: list[str],
    raw: np.ndarray,
    bounds: np.ndarray,
    alphabet: Alphabet | None,
    *,
    fasta: bool,
    lines: int = 0,
) -> DigitalSequences:
    """Checked residue codes of the records of ``source`` (``lines``: lines of the
    input before it, added to the line numbers of errors)."""
    if not names:
        raise InputFormatError("no sequence records found", path=source.name)

    def line_of(index: int, position: int | None) -> int | None:
        line = _locate(source, index, position) if fasta else None
        return None if line is None else lines + line

    lengths = np.diff(bounds)
    last = np.maximum(bounds[1:] - 1, 0)
    star = (lengths > 0) & (raw[last] == ord("*")) if raw.size else np.zeros(len(names), bool)
    for index, name in enumerate(names):
        if not name:
            raise InputFormatError(
                "record header has no name", path=source.name, line=line_of(index, None)
            )
    empty = np.flatnonzero((lengths == 0) | ((lengths == 1) & star))
    if empty.size:
        index = int(empty[0])
        raise InputFormatError(
            "empty sequence", path=source.name, line=line_of(index, None), record=names[index]
        )
    if alphabet is None:
        alphabet = AMINO if star.any() else _guess_from_counts(byte_counts(raw))
    if alphabet.name == "amino" and star.any():
        # a final '*' (stop) is dropped
        drop = np.zeros(raw.size, dtype=bool)
        drop[last[star]] = True
        raw = raw[~drop]
        bounds = bounds - np.concatenate([[0], np.cumsum(star)])

    codes = lookup_table(alphabet)[raw]
    bad = np.flatnonzero(codes == INVALID)
    if bad.size:
        at = int(bad[0])
        index = int(np.searchsorted(bounds, at, side="right")) - 1
        pos = at - int(bounds[index])
        raise AlphabetError(
            f"{_describe(chr(raw[at]), alphabet)} at position {pos + 1}",
            path=source.name,
            line=line_of(index, pos),
            record=names[index],
        )
    return DigitalSequences(
        names=tuple(names),
        descriptions=tuple(descriptions),
        codes=codes,
        bounds=bounds,
        alphabet=alphabet,
    )


_COMPLEMENT = bytes.maketrans(
    b"ACGTURYMKSWHBVDNacgturymkswhbvdn", b"TGCAAYRKMSWDVBHNtgcaayrkmswdvbhn"
)


def read_bam_reads(
    path: str | os.PathLike[str],
    alphabet: Alphabet = DNA,
    region: str | None = None,
    min_mapq: int = 0,
    *,
    reference: str | os.PathLike[str] | None = None,
) -> DigitalSequences:
    """Read the reads of a BAM or CRAM file as sequences.

    Parameters
    ----------
    path : str or os.PathLike
        BAM or CRAM file (an index is needed only with ``region``).
    alphabet : Alphabet
        ``DNA`` (default) or ``RNA``.
    region : str, optional
        Only reads overlapping this region (``"chr1:1000-2000"``); by
        default every read, unmapped reads included.
    min_mapq : int
        Skip mapped reads with a lower mapping quality.  Unmapped reads are
        always kept.
    reference : str or os.PathLike, optional
        Reference FASTA for CRAM files that need one.

    Returns
    -------
    DigitalSequences
        One sequence per primary record, in the read's original orientation
        (reverse-strand reads are reverse-complemented back); records without
        a stored sequence are skipped.

    Raises
    ------
    InputFormatError
        The file cannot be read as BAM/CRAM, or a read holds a character that
        is not a base.
    """
    (reads,) = iter_bam_reads(
        path, alphabet, region, min_mapq, reference=reference, piece_residues=sys.maxsize
    )
    return reads


def iter_bam_reads(
    path: str | os.PathLike[str],
    alphabet: Alphabet = DNA,
    region: str | None = None,
    min_mapq: int = 0,
    *,
    reference: str | os.PathLike[str] | None = None,
    piece_residues: int | None = None,
) -> Iterator[DigitalSequences]:
    """:func:`read_bam_reads` in pieces of about ``piece_residues`` bases
    (:data:`PIECE_RESIDUES`), so that memory stays bounded; a file without
    reads gives one empty piece."""
    name = os.fspath(path)
    block = PIECE_RESIDUES if piece_residues is None else max(1, int(piece_residues))
    names: list[str] = []
    texts: list[bytes] = []
    size = 0
    pieces = 0
    for read_name, raw in _bam_records(name, region, min_mapq, reference):
        names.append(read_name)
        texts.append(raw)
        size += len(raw)
        if size >= block:
            yield _reads_piece(names, texts, alphabet, name)
            pieces += 1
            names, texts, size = [], [], 0
    if names or not pieces:
        yield _reads_piece(names, texts, alphabet, name)


def _bam_records(
    name: str, region: str | None, min_mapq: int, reference: str | os.PathLike[str] | None
) -> Iterator[tuple[str, bytes]]:
    """(name, bases in the read's original orientation) of each primary read kept."""
    import pysam

    try:
        with pysam.AlignmentFile(
            name,
            "r",
            reference_filename=None if reference is None else os.fspath(reference),
            check_sq=False,  # unaligned BAM (reads only, no @SQ lines) is common
        ) as bam:
            reads = bam.fetch(region=region) if region else bam.fetch(until_eof=True)
            for read in reads:
                if read.is_secondary or read.is_supplementary:
                    continue
                if not read.is_unmapped and read.mapping_quality < min_mapq:
                    continue
                seq = read.query_sequence
                if not seq:
                    continue
                raw = seq.encode("latin-1")
                if read.is_reverse:
                    raw = raw.translate(_COMPLEMENT)[::-1]
                yield read.query_name or "", raw
    except (ValueError, OSError) as exc:
        raise InputFormatError(f"cannot read alignments: {exc}", path=name) from None


def _reads_piece(
    names: list[str], texts: list[bytes], alphabet: Alphabet, name: str
) -> DigitalSequences:
    """Checked codes of some reads."""
    bounds = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum([len(t) for t in texts], out=bounds[1:])
    joined = np.frombuffer(b"".join(texts), dtype=np.uint8)
    codes = lookup_table(alphabet)[joined]
    bad = np.flatnonzero(codes == INVALID)
    if bad.size:
        at = int(bad[0])
        index = int(np.searchsorted(bounds, at, side="right")) - 1
        raise AlphabetError(
            f"{_describe(chr(joined[at]), alphabet)} at position {at - int(bounds[index]) + 1}",
            path=name,
            record=names[index],
        )
    return DigitalSequences(
        names=tuple(names),
        descriptions=("",) * len(names),
        codes=codes,
        bounds=bounds,
        alphabet=alphabet,
    )
