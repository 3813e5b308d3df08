"""read_fasta: DNA to codes, gzip and stdin, ambiguity codes, regions, errors."""

import gzip
import io
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqem.errors import AlphabetError, InputFormatError, ParameterError
from seqem.io.fasta import LOOKUP, encode_dna, read_fasta

TWO_RECORDS = b">s1 first record\nACGT\nacgt\n>s2\nNNRYuU\n"


def write(path, data):
    path.write_bytes(data)
    return str(path)


def test_codes_bounds_names(tmp_path):
    seqs = read_fasta(write(tmp_path / "a.fa", TWO_RECORDS))
    assert seqs.names == ("s1", "s2")  # first word of the header
    assert seqs.codes.dtype == np.int64
    assert seqs.codes.tolist() == [0, 1, 2, 3, 0, 1, 2, 3, -1, -1, -1, -1, 3, 3]
    assert seqs.bounds.tolist() == [0, 8, 14]
    assert seqs.lengths.tolist() == [8, 6]
    assert seqs.starts.tolist() == [0, 0]
    assert seqs.n_ambiguous == 4
    assert len(seqs) == seqs.n_sequences == 2


def test_lookup_table_accepts_exactly_dna_and_iupac():
    valid = {chr(b) for b in range(256) if LOOKUP[b] != -2}
    letters = "ACGTUNRYSWKMBDHV"
    assert valid == set(letters) | set(letters.lower())
    ambiguous = {chr(b) for b in range(256) if LOOKUP[b] == -1}
    assert ambiguous == set("NRYSWKMBDHV") | set("nryswkmbdhv")


def test_every_iupac_code_is_missing():
    codes = encode_dna("NRYSWKMBDHVnryswkmbdhv")
    assert np.all(codes == -1)


def test_gzip_detected_by_content_not_name(tmp_path):
    compressed = gzip.compress(TWO_RECORDS)
    a = read_fasta(write(tmp_path / "looks_plain.fa", compressed))
    b = read_fasta(write(tmp_path / "looks_gzipped.fa.gz", TWO_RECORDS))
    np.testing.assert_array_equal(a.codes, b.codes)
    assert a.names == b.names


def test_multi_member_gzip(tmp_path):
    data = gzip.compress(b">a\nAC\n") + gzip.compress(b"GT\n>b\nTT\n")
    seqs = read_fasta(write(tmp_path / "bgzip_like.fa.gz", data))
    assert seqs.codes.tolist() == [0, 1, 2, 3, 3, 3]


def test_stdin(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(gzip.compress(TWO_RECORDS))))
    seqs = read_fasta("-")
    assert seqs.names == ("s1", "s2")


def test_crlf_blank_lines_and_spaces(tmp_path):
    data = b"\r\n>r1\r\nAC GT\r\n\r\nTT\r\n"
    seqs = read_fasta(write(tmp_path / "dos.fa", data))
    assert seqs.codes.tolist() == [0, 1, 2, 3, 3, 3]


def test_invalid_character_names_line_record_and_position(tmp_path):
    path = write(tmp_path / "bad.fa", b">ok\nACGT\n>chrZ\nACGTACGT\nACGTACGT\nACXT\n")
    with pytest.raises(AlphabetError) as info:
        read_fasta(path)
    message = str(info.value)
    assert message.startswith(f"{path}:6: record 'chrZ': invalid character 'X' at position 19")
    assert isinstance(info.value, ValueError)
    assert "\n" not in message


@pytest.mark.parametrize(
    ("char", "hint"),
    [(b"-", "alignment"), (b"*", "not a DNA base"), (b"\x00", "'\\x00'"), (b"E", "'E'")],
)
def test_invalid_character_kinds(tmp_path, char, hint):
    path = write(tmp_path / "bad.fa", b">a\nAC" + char + b"T\n")
    with pytest.raises(AlphabetError, match="position 3") as info:
        read_fasta(path)
    assert hint in str(info.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file"),
        (b"\n\n  \n", "empty file"),
        (b"seq_id\tx1\n1\t2\n", "not a FASTA file"),
        (b"ACGT\n>a\nACGT\n", "not a FASTA file"),
        (b">a\n>b\nACGT\n", "empty sequence"),
        (b">a\nAC\n>a\nGT\n", "duplicate record name"),
        (b">\nACGT\n", "no name"),
    ],
)
def test_malformed_files(tmp_path, data, message):
    path = write(tmp_path / "x.fa", data)
    with pytest.raises(InputFormatError, match=message) as info:
        read_fasta(path)
    assert str(info.value).startswith(path)


def test_empty_record_names_its_line(tmp_path):
    path = write(tmp_path / "x.fa", b">a\nAC\n\n>b\n>c\nGG\n")
    with pytest.raises(InputFormatError) as info:
        read_fasta(path)
    assert str(info.value) == f"{path}:4: record 'b': empty sequence"


def test_truncated_gzip(tmp_path):
    rng = np.random.default_rng(7)
    body = b">a\n" + b"".join(b"ACGT"[i : i + 1] for i in rng.integers(0, 4, 20000)) + b"\n"
    data = gzip.compress(body)
    path = write(tmp_path / "cut.fa.gz", data[: len(data) // 2])
    with pytest.raises(InputFormatError) as info:
        read_fasta(path)
    assert str(info.value) == f"{path}: truncated or corrupt gzip stream"


def test_corrupt_gzip(tmp_path):
    data = bytearray(gzip.compress(b">a\n" + b"ACGT" * 5000 + b"\n"))
    data[len(data) // 2 : len(data) // 2 + 8] = b"\xff" * 8
    path = write(tmp_path / "bad.fa.gz", bytes(data))
    with pytest.raises(InputFormatError, match="truncated or corrupt gzip stream"):
        read_fasta(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_fasta(str(tmp_path / "absent.fa"))


# -- regions ------------------------------------------------------------------

RECORDS = b">chr1 x\nAAAACCCCGG\n>chr2\nTTTTT\n>HLA:01\nGGG\n"


@pytest.fixture
def fa(tmp_path):
    return write(tmp_path / "r.fa", RECORDS)


def test_region_subrange(fa):
    seqs = read_fasta(fa, region="chr1:5-8")
    assert seqs.names == ("chr1",)
    assert seqs.codes.tolist() == [1, 1, 1, 1]
    assert seqs.starts.tolist() == [4]


def test_region_whole_record_and_to_end(fa):
    seqs = read_fasta(fa, region=["chr2", "chr1:9"])
    assert seqs.names == ("chr2", "chr1")  # in the order asked
    assert seqs.codes.tolist() == [3] * 5 + [2, 2]
    assert seqs.bounds.tolist() == [0, 5, 7]
    assert seqs.starts.tolist() == [0, 8]


def test_region_name_with_colon(fa):
    assert read_fasta(fa, region="HLA:01").codes.tolist() == [2, 2, 2]


def test_region_only_checks_requested_records(tmp_path):
    path = write(tmp_path / "r.fa", b">good\nACGT\n>bad\nAC?T\n")
    assert read_fasta(path, region="good").codes.tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("region", "error", "message"),
    [
        ("chr9", InputFormatError, "no record named 'chr9'"),
        ("chr1:5-11", InputFormatError, "past the end of 'chr1'"),
        ("chr1:11", InputFormatError, "starts past the end"),
        ("chr1:8-2", ParameterError, "ends before it starts"),
        # text after ':' that is not START-END, unless the whole is a record's name
        ("chr1:abc", ParameterError, "malformed region 'chr1:abc'"),
        ("chr1:1-1e3", ParameterError, "malformed region 'chr1:1-1e3'"),
        ("HLA:01:x", ParameterError, "malformed region 'HLA:01:x'"),
    ],
)
def test_region_errors(fa, region, error, message):
    with pytest.raises(error, match=message) as info:
        read_fasta(fa, region=region)
    assert isinstance(info.value, ValueError)


@settings(max_examples=200, deadline=None)
@given(
    records=st.lists(
        st.tuples(
            st.text("abc xyz", min_size=0, max_size=8),
            st.lists(st.text("ACGTNacgt-*", min_size=0, max_size=12), max_size=4),
        ),
        max_size=6,
    ),
    junk=st.sampled_from(["", "preamble\n", "\n\n"]),
    eol=st.sampled_from(["\n", "\r\n"]),
    gaps=st.booleans(),
)
def test_split_fasta_equals_biopython(records, junk, eol, gaps):
    """split_fasta against Biopython's SimpleFastaParser on random texts:
    CRLF line ends, blank lines, text before the first header, spaces inside
    sequence lines, empty records."""
    from Bio.SeqIO.FastaIO import SimpleFastaParser

    from seqem.io.fasta import split_fasta

    lines = [junk.rstrip("\n")] if junk else []
    for title, seq_lines in records:
        lines.append(">" + title)
        for seq in seq_lines:
            lines.append(seq.replace("A", " A") if gaps else seq)
            if gaps:
                lines.append("")
    text = eol.join(lines) + eol
    titles, residues, bounds = split_fasta(text.encode())
    theirs = list(SimpleFastaParser(io.StringIO(text, newline="")))
    assert titles == [t for t, _ in theirs]
    got = [residues[a:b].tobytes().decode() for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    assert got == [s for _, s in theirs]
