"""read_sequences / digitize / read_bam_reads: codes, alphabet guessing, formats, errors."""

import gzip
import io
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqem.errors import AlphabetError, InputFormatError
from seqem.io.sequences import (
    INVALID,
    DigitalSequences,
    digitize,
    guess_alphabet,
    iter_sequences,
    lookup_table,
    read_bam_reads,
    read_sequences,
)
from seqem.profile.model import AMINO, DNA, RNA

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "profile"


def _data(rel: str) -> Path:
    path = DATA / rel
    if not path.exists():
        pytest.skip(f"{rel} not in the shared profile test data")
    return path


def write(path, data):
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


def test_amino_codes_names_descriptions(tmp_path):
    seqs = read_sequences(write(tmp_path / "p.fa", ">p1 first protein\nMKVL\nay\n>p2\nWC*\n"))
    assert isinstance(seqs, DigitalSequences)
    assert seqs.alphabet is AMINO
    assert seqs.names == ("p1", "p2")
    assert seqs.descriptions == ("first protein", "")
    assert seqs.codes.dtype == np.uint8
    assert seqs.bounds.dtype == np.int64
    assert seqs.bounds.tolist() == [0, 6, 8]  # the final '*' (stop) is dropped
    assert seqs.text(0) == "MKVLAY"
    assert seqs.text(1) == "WC"
    symbols, _ = AMINO.degenerate_matrix()
    assert seqs.codes.tolist() == [symbols.index(c) for c in "MKVLAYWC"]
    assert len(seqs) == seqs.n_sequences == 2 and seqs.n_residues == 8
    assert seqs.lengths.tolist() == [6, 2]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("ACGTACGTNN", "DNA"),
        ("acgtrykm" + "acgt" * 10, "DNA"),  # a few IUPAC codes among many plain bases
        ("ACGUACGU", "RNA"),
        ("ACGUT", "DNA"),  # T and U together: DNA, U read as T
        ("MKVLAAGIVG", "amino"),
        ("ACDEFGHIKLMNPQRSTVWY", "amino"),
        ("RYMKSWHBVD", "amino"),  # only codes, no plain bases: not a nucleotide sequence
        ("ACGT*", "amino"),  # a stop means protein
    ],
)
def test_alphabet_guess(tmp_path, text, name):
    seqs = read_sequences(write(tmp_path / "s.fa", f">s\n{text}\n"))
    assert seqs.alphabet.name == name


def test_guess_alphabet_function():
    assert guess_alphabet([b"ACGT", b"acgn"]) is DNA
    assert guess_alphabet([b"ACGU"]) is RNA
    assert guess_alphabet([b"ACGT", b"EEEE"]) is AMINO


def test_degenerate_codes(tmp_path):
    symbols, mat = DNA.degenerate_matrix()
    seqs = read_sequences(write(tmp_path / "d.fa", ">d\nACGTUrYmKsWhBvDn\n"), DNA)
    assert seqs.codes.tolist() == [symbols.index(c) for c in "ACGTTRYMKSWHBVDN"]
    assert seqs.codes.max() < mat.shape[0]
    amino_symbols, _ = AMINO.degenerate_matrix()
    codes = digitize("BJZOUXbjzoux", AMINO)
    assert codes.tolist() == [amino_symbols.index(c) for c in "BJZOUXBJZOUX"]
    assert codes.min() >= 20
    rna_symbols, _ = RNA.degenerate_matrix()
    assert digitize("ACGTU", RNA).tolist() == [0, 1, 2, 3, 3]
    assert rna_symbols[:4] == "ACGU"


def test_lookup_table_accepts_exactly_the_alphabet():
    for alphabet in (AMINO, DNA, RNA):
        table = lookup_table(alphabet)
        valid = {chr(b) for b in range(256) if table[b] != INVALID}
        letters = set(alphabet.symbols + "".join(alphabet.degenerate))
        letters |= {"U"} if alphabet is DNA else {"T"} if alphabet is RNA else set()
        assert valid == letters | {c.lower() for c in letters}


def test_digitize_errors_name_position():
    assert digitize(b"ACDY*", AMINO).tolist() == [0, 1, 2, 19]
    with pytest.raises(AlphabetError, match="position 3"):
        digitize("AC*DY", AMINO)
    with pytest.raises(AlphabetError, match="'E'.*position 2"):
        digitize("AEGT", DNA)
    with pytest.raises(AlphabetError, match="alignment"):
        digitize("AC-GT", DNA)


def test_explicit_alphabet_overrides_guess(tmp_path):
    path = write(tmp_path / "g.fa", ">g\nACGTACGT\n")
    assert read_sequences(path, AMINO).alphabet is AMINO
    assert read_sequences(path, DNA).alphabet is DNA


def test_gzip_and_stdin(tmp_path, monkeypatch):
    data = b">a\nMKV\n>b desc here\nLLW\n"
    plain = read_sequences(write(tmp_path / "a.fa", data))
    packed = read_sequences(write(tmp_path / "a.fa.txt", gzip.compress(data)))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    piped = read_sequences("-")
    for other in (packed, piped):
        np.testing.assert_array_equal(plain.codes, other.codes)
        assert plain.names == other.names and plain.descriptions == other.descriptions


BAD = [
    # (id, content, alphabet, error class, expected words, line in the message)
    ("gap", ">s1\nACGT\n>s2\nAC\nG-T\n", None, AlphabetError, "record 's2'.*position 4", 5),
    ("dot", ">s1\nMKV.L\n", AMINO, AlphabetError, "alignment.*position 4", 2),
    ("internal_stop", ">s1\nMK*VL\n", AMINO, AlphabetError, "stop.*position 3", 2),
    ("not_dna", ">s1\nACGT\n>s2\nACGE\n", DNA, AlphabetError, "'E'.*position 4", 4),
    ("digit", ">s1\nMKV1\n", None, AlphabetError, "'1'.*position 4", 2),
    ("empty_sequence", ">s1\nMKV\n>s2\n>s3\nMK\n", None, InputFormatError, "empty sequence", 3),
    ("only_stop", ">s1\n*\n", None, InputFormatError, "empty sequence", 1),
    ("no_name", ">\nMKV\n", None, InputFormatError, "no name", 1),
    ("not_fasta", "hello\nworld\n", None, InputFormatError, "not a FASTA", 1),
    ("aligned_stockholm", "# STOCKHOLM 1.0\n", None, InputFormatError, "not a FASTA", 1),
    ("swiss_bad_id", "ID   FOO\n", None, InputFormatError, "malformed Swiss-Prot", None),
    ("empty_file", "", None, InputFormatError, "empty file", None),
    ("blank_file", "\n\n  \n", None, InputFormatError, "empty file", None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("content", "alphabet", "error", "words", "line"),
    [case[1:] for case in BAD],
    ids=[case[0] for case in BAD],
)
def test_bad_inputs(tmp_path, content, alphabet, error, words, line):
    path = write(tmp_path / "bad.fa", content)
    with pytest.raises(error, match=words) as info:
        read_sequences(path, alphabet)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(path) + (f":{line}:" if line else ":"))
    assert info.value.line == line


def test_truncated_gzip(tmp_path):
    data = gzip.compress(b">a\n" + b"MKVLAY" * 5000 + b"\n")
    path = write(tmp_path / "cut.fa.gz", data[: len(data) // 2])
    with pytest.raises(InputFormatError, match="gzip") as info:
        read_sequences(path)
    assert str(path) in str(info.value)


def test_swiss_prot_entry():
    seqs = read_sequences(_data("tutorial/7LESS_DROME"))
    assert seqs.alphabet is AMINO
    assert seqs.names == ("7LESS_DROME",)
    assert seqs.n_residues == 2554
    # DE lines joined as HMMER joins them (one space, continuation indentation kept)
    assert seqs.descriptions[0] == "RecName: Full=Protein sevenless;          EC=2.7.10.1;"
    assert seqs.text(0).startswith("MTMFWQQNVDHQSDEQDKQA")
    assert seqs.accessions == ("P13368",)  # the primary AC
    assert seqs.subset(np.array([0, 0])).accessions == ("P13368", "P13368")
    assert read_sequences(_data("tutorial/globins45.fa")).accessions == ()  # FASTA has none


def test_swiss_prot_truncated(tmp_path):
    data = _data("tutorial/7LESS_DROME").read_bytes()
    path = write(tmp_path / "cut.dat", data[:3000])
    with pytest.raises(InputFormatError, match="malformed Swiss-Prot") as info:
        read_sequences(path)
    assert str(path) in str(info.value)


def test_swiss_prot_gzip(tmp_path):
    data = _data("tutorial/7LESS_DROME").read_bytes()
    seqs = read_sequences(write(tmp_path / "entry", gzip.compress(data + data)))
    assert seqs.names == ("7LESS_DROME", "7LESS_DROME")
    assert seqs.lengths.tolist() == [2554, 2554]


def test_bench_database():
    seqs = read_sequences(_data("bench/db.fa"))
    assert seqs.alphabet is AMINO
    assert seqs.n_sequences == 4368
    assert seqs.n_residues == 1_401_581
    assert seqs.codes.size == 1_401_581
    assert seqs.names[0] == "real|938293.PRJEB85.HG003685_151"
    assert int(seqs.codes.max()) < 26


def test_globins45_and_dna_target():
    globins = read_sequences(_data("tutorial/globins45.fa"))
    assert globins.n_sequences == 45 and globins.alphabet is AMINO
    dna = read_sequences(_data("tutorial/dna_target.fa"))
    assert dna.alphabet is DNA


def test_bam_reads(tmp_path):
    pysam = pytest.importorskip("pysam")
    header = {"HD": {"VN": "1.6"}, "SQ": [{"SN": "chr1", "LN": 1000}]}
    path = tmp_path / "reads.bam"
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        for name, seq, flag, pos, mapq in (
            ("fwd", "ACGTAC", 0, 10, 60),
            ("rev", "AACCGN", 16, 20, 60),  # stored reverse-complemented
            ("lowq", "GGGG", 0, 30, 3),
            ("second", "TTTT", 256, 40, 60),
            ("unmapped", "CCAT", 4, -1, 0),
        ):
            read = pysam.AlignedSegment()
            read.query_name = name
            read.query_sequence = seq
            read.flag = flag
            if not flag & 4:
                read.reference_id = 0
                read.reference_start = pos
                read.cigarstring = f"{len(seq)}M"
                read.mapping_quality = mapq
            else:
                read.reference_id = -1
                read.reference_start = -1
            read.query_qualities = pysam.qualitystring_to_array("I" * len(seq))
            out.write(read)
    seqs = read_bam_reads(path)
    assert seqs.names == ("fwd", "rev", "lowq", "unmapped")
    assert seqs.text(0) == "ACGTAC"
    assert seqs.text(1) == "NCGGTT"  # back in the read's own orientation
    assert seqs.text(3) == "CCAT"
    assert seqs.alphabet is DNA
    assert read_bam_reads(path, min_mapq=10).names == ("fwd", "rev", "unmapped")
    with pytest.raises(InputFormatError):
        read_bam_reads(write(tmp_path / "not.bam", b"not a bam file"))
    # in pieces of whole reads (about 7 bases each here)
    from seqem.io.sequences import iter_bam_reads

    pieces = list(iter_bam_reads(path, piece_residues=7))
    assert [p.names for p in pieces] == [("fwd", "rev"), ("lowq", "unmapped")]
    assert np.array_equal(np.concatenate([p.codes for p in pieces]), seqs.codes)


def test_byte_counts_across_pieces(monkeypatch):
    """Counting a megabyte at a time equals one bincount, piece boundaries included."""
    import seqem.io.sequences as sequences

    rng = np.random.default_rng(3)
    data = rng.integers(0, 256, size=10_007, dtype=np.uint8)
    monkeypatch.setattr(sequences, "_COUNT_PIECE", 1000)
    assert np.array_equal(sequences.byte_counts(data), np.bincount(data, minlength=256))
    assert sequences.byte_counts(data[:0]).tolist() == [0] * 256


_RESIDUES = "ACDEFGHIKLMNPQRSTVWY"


@settings(max_examples=60, deadline=None)
@given(
    records=st.lists(
        st.tuples(
            st.text("abcxyz0123_", min_size=1, max_size=6),
            st.text(" descr", max_size=8),
            st.text(_RESIDUES + "acdwy", min_size=1, max_size=40),
            st.integers(1, 12),
            st.booleans(),
        ),
        min_size=1,
        max_size=12,
    ),
    piece=st.integers(1, 200),
    gz=st.booleans(),
)
def test_iter_sequences_pieces_add_up_to_read_sequences(tmp_path_factory, records, piece, gz):
    """Any piece size: the pieces, in order, hold exactly the records (names,
    descriptions, codes) read_sequences reads, with line wrapping, blank lines
    and stop codons."""
    from seqem.io.sequences import iter_sequences

    lines = []
    for name, description, seq, width, star in records:
        lines.append(f">{name}{description}")
        seq = seq + ("*" if star else "")
        lines.extend(seq[i : i + width] for i in range(0, len(seq), width))
        lines.append("")
    text = "\n".join(lines).encode()
    path = tmp_path_factory.mktemp("pieces") / "db.fa"
    path.write_bytes(gzip.compress(text) if gz else text)
    whole = read_sequences(path, AMINO)
    pieces = list(iter_sequences(path, AMINO, piece_residues=piece))
    assert sum(p.n_sequences for p in pieces) == whole.n_sequences
    assert sum((p.names for p in pieces), ()) == whole.names
    assert sum((p.descriptions for p in pieces), ()) == whole.descriptions
    assert np.array_equal(np.concatenate([p.codes for p in pieces]), whole.codes)
    assert all(p.n_sequences for p in pieces)


def test_iter_sequences_errors_name_the_record_in_a_later_piece(tmp_path):
    from seqem.io.sequences import iter_sequences

    body = "".join(f">s{i} d\nMKVLA\nWWC\n" for i in range(50))
    path = write(tmp_path / "bad.fa", body + ">odd\nMKV\nMK-V\n>last\nMM\n")
    with pytest.raises(AlphabetError) as whole:
        read_sequences(path, AMINO)
    with pytest.raises(AlphabetError) as piecewise:
        list(iter_sequences(path, AMINO, piece_residues=64))
    assert str(piecewise.value) == str(whole.value)
    assert ":153: " in str(piecewise.value) and "odd" in str(piecewise.value)
    empty = write(tmp_path / "empty.fa", body + ">hollow\n\n>last\nMM\n")
    with pytest.raises(InputFormatError, match="empty sequence") as err:
        list(iter_sequences(empty, AMINO, piece_residues=64))
    assert ":151: " in str(err.value) and "hollow" in str(err.value)
    with pytest.raises(InputFormatError, match="empty file"):
        list(iter_sequences(write(tmp_path / "none.fa", "\n\n"), AMINO))
    # the alphabet is guessed from the first piece and kept
    dna = write(tmp_path / "dna.fa", ">a\nACGT\n>b\nACGU\n>c\nMEF\n")
    pieces = iter_sequences(dna, piece_residues=6)
    assert next(pieces).alphabet.name == "DNA"
    with pytest.raises(AlphabetError, match=":6: "):
        list(pieces)


class _CountingStream(io.RawIOBase):
    """Bytes served in small reads, counting how many were read (standard input)."""

    def __init__(self, data: bytes):
        self.data, self.at = data, 0

    def readable(self):
        return True

    def readinto(self, buffer):
        n = min(len(buffer), 4096, len(self.data) - self.at)
        buffer[:n] = self.data[self.at : self.at + n]
        self.at += n
        return n


@pytest.mark.parametrize("gz", [False, True])
def test_iter_sequences_streams_standard_input(tmp_path, monkeypatch, gz):
    """'-' is read as it comes (the first piece arrives before the input is
    read through), plain or gzip, with the records and line numbers of the
    file; the line of an error counts the lines of the earlier pieces."""
    from seqem.io.sequences import iter_sequences

    rng = np.random.default_rng(4)
    letters = np.array(list(_RESIDUES))
    body = "".join(
        f">s{i} d\n{''.join(rng.choice(letters, 8))}\n{''.join(rng.choice(letters, 4))}\n"
        for i in range(3000)
    )
    path = write(tmp_path / "db.fa", body)
    whole = read_sequences(path, AMINO)
    data = gzip.compress(body.encode()) if gz else body.encode()
    stream = _CountingStream(data)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(stream)))
    pieces = iter_sequences("-", AMINO, piece_residues=4096)
    first = next(pieces)
    assert stream.at < len(data) / 2
    rest = list(pieces)
    assert sum((p.names for p in [first, *rest]), ()) == whole.names
    assert np.array_equal(np.concatenate([p.codes for p in [first, *rest]]), whole.codes)
    bad = body + ">odd\nMKV\nMK-V\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(bad.encode())))
    with pytest.raises(AlphabetError, match=r"<stdin>:9003: record 'odd'"):
        list(iter_sequences("-", AMINO, piece_residues=4096))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"\n\nhello\n")))
    with pytest.raises(InputFormatError, match=r"<stdin>:3: not a FASTA"):
        list(iter_sequences("-", AMINO))


def test_swiss_prot_sequence_shorter_than_its_sq_line(tmp_path):
    """An entry whose sequence lines hold fewer (or more) residues than its
    ``SQ   SEQUENCE  N AA`` line declares is damaged: one error naming the file, the
    entry's ID line and the entry, not a silently shorter sequence."""
    entry = _data("tutorial/7LESS_DROME").read_text()
    lines = entry.splitlines(keepends=True)
    residues = [i for i, line in enumerate(lines) if line.startswith("     ")]
    short = "".join(lines[: residues[5]] + lines[residues[5] + 1 :])
    path = write(tmp_path / "two.dat", entry + short)
    with pytest.raises(InputFormatError) as info:
        read_sequences(path)
    err = info.value
    id_line = (
        entry.count("\n")
        + 1
        + next(i for i, line in enumerate(short.splitlines()) if line.startswith("ID"))
    )
    assert (err.path, err.line, err.record) == (str(path), id_line, "7LESS_DROME")
    assert "SQ line declares 2554 residues but the entry's sequence has 2494" in str(err)
    assert "\n" not in str(err)
    longer = entry.replace(lines[residues[0]], lines[residues[0]] + lines[residues[1]], 1)
    with pytest.raises(InputFormatError, match="declares 2554 residues .* has 2614"):
        read_sequences(write(tmp_path / "long.dat", longer))
    # piece by piece too
    with pytest.raises(InputFormatError, match="SQ line declares"):
        list(iter_sequences(path))
