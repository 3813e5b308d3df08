"""read_table / write_tsv and the BED helpers."""

import gzip
import io
import math
import sys

import numpy as np
import pytest

from seqem.errors import InputFormatError
from seqem.io.bed import BedRecord, read_bed, write_bed
from seqem.io.table import format_cell, read_table, write_tsv

TABLE = "seq_id\tx1\tx2\na\t1\t2\na\t3.5\t-4e-2\nb\t0\t1\nc\t2\t2\nc\t5\t6\n"


def write(path, text, *, compress=False):
    data = text.encode() if isinstance(text, str) else text
    path.write_bytes(gzip.compress(data) if compress else data)
    return str(path)


def test_sequences_from_id_column(tmp_path):
    obs = read_table(write(tmp_path / "t.tsv", TABLE), seq_col="seq_id")
    assert obs.columns == ("x1", "x2")
    assert obs.X.dtype == np.float64 and obs.X.shape == (5, 2)
    np.testing.assert_allclose(obs.X[1], [3.5, -0.04])
    assert obs.lengths.dtype == np.int64
    assert obs.lengths.tolist() == [2, 1, 2]
    assert obs.seq_ids == ("a", "b", "c")
    assert obs.n_rows == 5


def test_one_sequence_without_id_column(tmp_path):
    obs = read_table(write(tmp_path / "t.tsv", "x\n1\n2\n3\n"))
    assert obs.lengths.tolist() == [3] and obs.seq_ids is None


def test_select_and_reorder_columns(tmp_path):
    obs = read_table(write(tmp_path / "t.tsv", TABLE), columns=["x2", "x1"], seq_col="seq_id")
    assert obs.columns == ("x2", "x1")
    np.testing.assert_allclose(obs.X[0], [2, 1])


def test_csv_gzip_crlf_bom_blank_lines(tmp_path):
    text = "\ufeffid,x\r\n\r\nq,1\r\nq,2\r\n\r\n"
    obs = read_table(write(tmp_path / "t.csv", text, compress=True), seq_col="id")
    assert obs.columns == ("x",) and obs.X[:, 0].tolist() == [1.0, 2.0]


def test_stdin(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(TABLE.encode())))
    assert read_table("-", seq_col="seq_id").lengths.tolist() == [2, 1, 2]


@pytest.mark.parametrize(
    ("text", "kwargs", "line", "message"),
    [
        ("", {}, None, "empty file"),
        ("\n\n", {}, None, "empty file"),
        ("x1\tx2\n", {}, 1, "no data rows after the header"),
        ("1\t2\n3\t4\n", {}, 1, "must be a header row"),
        ("x1\tx2\n1\t2\n3\n", {}, 3, "expected 2 fields (as in the header), found 1"),
        ("x1\tx2\n1\t2\n3\t4\t5\n", {}, 3, "found 3"),
        ("x1\tx2\n1\tabc\n", {}, 2, "non-numeric value 'abc' in column 'x2'"),
        ("x1\tx2\n1\t1_000\n", {}, 2, "non-numeric value '1_000' in column 'x2'"),
        ("x1\tx2\n1\t2\nNA\t3\n", {}, 3, "remove or impute row 2"),
        ("x1\tx2\n1\tnan\n", {}, 2, "missing values are not supported in Gaussian HMM input"),
        ("x1\tx2\n1\t\n", {}, 2, "missing value '' in column 'x2'"),
        ("x1\tx2\n1\tinf\n", {}, 2, "infinite value 'inf'"),
        ("x1\tx2\n1\t2\n", {"columns": ["x3"]}, 1, "unknown column 'x3'"),
        ("x1\tx2\n1\t2\n", {"seq_col": "id"}, 1, "unknown sequence column 'id'"),
        ("x1\tx1\n1\t2\n", {}, 1, "duplicate column name 'x1'"),
        ("x1\t\n1\t2\n", {}, 1, "column 2 of the header has no name"),
        ("id\n1\n", {"seq_col": "id"}, 1, "no data columns"),
        ("id\tx\na\t1\nb\t2\na\t3\n", {"seq_col": "id"}, 4, "not contiguous"),
    ],
)
def test_malformed(tmp_path, text, kwargs, line, message):
    path = write(tmp_path / "bad.tsv", text)
    with pytest.raises(InputFormatError) as info:
        read_table(path, **kwargs)
    got = str(info.value)
    where = path if line is None else f"{path}:{line}"
    assert got.startswith(where + ": "), got
    assert message in got
    assert isinstance(info.value, ValueError) and "\n" not in got


def test_truncated_gzip_table(tmp_path):
    data = gzip.compress(("x\n" + "\n".join(str(i) for i in range(20000)) + "\n").encode())
    path = write(tmp_path / "cut.tsv.gz", data[: len(data) // 2])
    with pytest.raises(InputFormatError, match="truncated or corrupt gzip stream"):
        read_table(path)


def test_binary_file(tmp_path):
    path = write(tmp_path / "bin.tsv", b"x\n\xff\xfe\x00\n")
    with pytest.raises(InputFormatError, match="not a text table"):
        read_table(path)


# -- writing ----------------------------------------------------------------


def test_format_cell():
    assert format_cell(None) == "NA"
    assert format_cell(float("nan")) == "NA"
    assert format_cell(np.float64("nan")) == "NA"
    assert format_cell(np.int64(3)) == "3"
    assert format_cell(0.1234567891) == "0.123457"
    assert format_cell(True) == "true"
    assert format_cell("s1") == "s1"
    with pytest.raises(ValueError):
        format_cell("a\tb")


def test_write_tsv_roundtrip(tmp_path):
    path = tmp_path / "o.tsv.gz"
    write_tsv(path, ["id", "x", "y"], [["a", 1.5, math.nan], ["a", 2, None]])
    text = gzip.decompress(path.read_bytes()).decode()
    assert text == "id\tx\ty\na\t1.5\tNA\na\t2\tNA\n"


def test_write_tsv_to_handle_and_stdout(capsys):
    buffer = io.StringIO()
    write_tsv(buffer, ["a"], [[1]])
    assert buffer.getvalue() == "a\n1\n"
    write_tsv("-", ["a"], [[2]])
    assert capsys.readouterr().out == "a\n2\n"


def test_write_tsv_rejects_ragged_rows_and_leaves_no_file(tmp_path):
    path = tmp_path / "o.tsv"
    with pytest.raises(ValueError, match="row has 1 cells"):
        write_tsv(path, ["a", "b"], [[1, 2], [3]])
    assert not path.exists()


def test_bed_roundtrip(tmp_path):
    records = [BedRecord("chr1", 0, 10, "state0", 990, "."), BedRecord("chr1", 10, 25, "state1")]
    path = tmp_path / "x.bed"
    write_bed(path, records)
    assert path.read_text().splitlines()[0] == "#chrom\tchromStart\tchromEnd\tname\tscore\tstrand"
    assert read_bed(path) == records


@pytest.mark.parametrize(
    ("line", "message"),
    [("chr1\t5", "at least 3"), ("chr1\ta\t5", "integers"), ("chr1\t9\t5", "bad interval")],
)
def test_bed_errors(tmp_path, line, message):
    path = write(tmp_path / "x.bed", "track name=x\nchr1\t0\t1\n" + line + "\n")
    with pytest.raises(InputFormatError, match=message) as info:
        read_bed(path)
    assert str(info.value).startswith(f"{path}:3: ")
