"""Malformed input through the command line: exit code, one line, no traceback, no file.

Each case also calls the API function behind the command and checks that it
raises a ValueError subclass with the message the command printed.
"""

import gzip
import os
import subprocess

import numpy as np
import pytest

from seqem import CategoricalHMM
from seqem.cli import hmm as cli_hmm
from seqem.hmm.models import load_model
from seqem.io.fasta import read_fasta
from seqem.io.table import read_table

from .conftest import DATA, PYTHON, REPO, subprocess_env


def fasta_gz_truncated(path):
    rng = np.random.default_rng(3)
    body = b">a\n" + bytes(np.frombuffer(b"ACGT", np.uint8)[rng.integers(0, 4, 30000)]) + b"\n"
    data = gzip.compress(body)
    path.write_bytes(data[: len(data) // 2])


# name: (file name, content or writer, argv after the file, exit code, message, API call)
CASES = {
    "fasta_invalid_char": (
        "bad.fa",
        b">chr1\nACGTACGT\nACGTXCGT\n",
        ["hmm", "segment", "{file}", "-o", "{out}"],
        1,
        "{file}:3: record 'chr1': invalid character 'X' at position 13",
        read_fasta,
    ),
    "fasta_empty": (
        "empty.fa",
        b"",
        ["hmm", "segment", "{file}", "-o", "{out}"],
        1,
        "{file}: empty file",
        read_fasta,
    ),
    "fasta_truncated_gz": (
        "cut.fa.gz",
        fasta_gz_truncated,
        ["hmm", "segment", "{file}", "-o", "{out}"],
        1,
        "{file}: truncated or corrupt gzip stream",
        read_fasta,
    ),
    "fasta_not_fasta": (
        "table.fa",
        b"seq_id\tx1\ns\t1\n",
        ["hmm", "segment", "{file}", "-o", "{out}"],
        1,
        "{file}:1: not a FASTA file",
        read_fasta,
    ),
    "fasta_empty_record": (
        "hole.fa",
        b">a\nACGT\n>b\n>c\nAC\n",
        ["hmm", "segment", "{file}", "-o", "{out}"],
        1,
        "{file}:3: record 'b': empty sequence",
        read_fasta,
    ),
    "fasta_all_n": (
        "n.fa",
        b">a\nNNNN\n",
        ["hmm", "segment", "{file}", "-o", "{out}"],
        1,
        "{file}: no A, C, G or T bases to fit",
        lambda path: cli_hmm.segment_fasta(path),
    ),
    "fasta_unknown_region": (
        "r.fa",
        b">chr1\nACGT\n",
        ["hmm", "segment", "{file}", "--region", "chr2:1-3", "-o", "{out}"],
        1,
        "{file}: region 'chr2:1-3': no record named 'chr2'",
        lambda path: read_fasta(path, region="chr2:1-3"),
    ),
    "tsv_nan": (
        "nan.tsv",
        b"seq_id\tx1\tx2\ns\t1\t2\ns\tNaN\t3\n",
        ["hmm", "fit", "{file}", "--seq-col", "seq_id", "-o", "{out}"],
        1,
        "{file}:3: missing value 'NaN' in column 'x1'; missing values are not supported in "
        "Gaussian HMM input; remove or impute row 2",
        lambda path: read_table(path, seq_col="seq_id"),
    ),
    "tsv_ragged": (
        "ragged.tsv",
        b"x1\tx2\n1\t2\n3\n4\t5\n",
        ["hmm", "fit", "{file}", "-o", "{out}"],
        1,
        "{file}:3: expected 2 fields (as in the header), found 1",
        read_table,
    ),
    "tsv_header_only": (
        "header.tsv",
        b"x1\tx2\n",
        ["hmm", "fit", "{file}", "-o", "{out}"],
        1,
        "{file}:1: no data rows after the header",
        read_table,
    ),
    "tsv_non_numeric": (
        "text.csv",
        b"x1,x2\n1,2\n3,four\n",
        ["hmm", "fit", "{file}", "-o", "{out}"],
        1,
        "{file}:3: non-numeric value 'four' in column 'x2'",
        read_table,
    ),
    "tsv_unknown_column": (
        "cols.tsv",
        b"x1\tx2\n1\t2\n",
        ["hmm", "fit", "{file}", "--columns", "x1,x9", "-o", "{out}"],
        1,
        "{file}:1: unknown column 'x9'",
        lambda path: read_table(path, columns=["x1", "x9"]),
    ),
    "decode_not_a_model": (
        "model.json",
        b"{}",
        ["hmm", "decode", "{file}", str(DATA / "example_signal.tsv"), "-o", "{out}"],
        1,
        "{file}: not a seqem HMM model file",
        load_model,
    ),
    "decode_broken_json": (
        "model.json",
        b'{"format": ',
        ["hmm", "decode", "{file}", str(DATA / "example_signal.tsv"), "-o", "{out}"],
        1,
        "{file}:1: not a seqem model file",
        load_model,
    ),
}


def materialize(tmp_path, name, content):
    path = tmp_path / name
    if callable(content):
        content(path)
    else:
        path.write_bytes(content)
    return str(path)


def check_one_line(err, expected):
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith(expected), lines[0]
    return lines[0]


def no_outputs(folder, inputs):
    return sorted(set(os.listdir(folder)) - set(inputs)) == []


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input(tmp_path, run, case):
    name, content, argv, code, message, api = CASES[case]
    path = materialize(tmp_path, name, content)
    out = str(tmp_path / "out.file")
    args = [a.format(file=path, out=out) for a in argv]
    result = run(*args)
    assert result.code == code
    assert result.out == ""
    line = check_one_line(result.err, "seqem: error: " + message.format(file=path))
    assert no_outputs(tmp_path, [name])  # no output, no temporary file
    with pytest.raises(ValueError) as info:
        api(path)
    assert line == f"seqem: error: {info.value}"


def test_missing_file(tmp_path, run):
    path = str(tmp_path / "absent.fa")
    result = run("hmm", "segment", path, "-o", tmp_path / "o.bed")
    assert result.code == 1
    check_one_line(result.err, f"seqem: error: {path}: No such file or directory")
    assert os.listdir(tmp_path) == []
    with pytest.raises(FileNotFoundError):
        read_fasta(path)


def test_missing_output_directory_fails_before_fitting(tmp_path, run):
    out = tmp_path / "nowhere" / "o.bed"
    result = run("hmm", "segment", DATA / "example.fa.gz", "-o", out)
    assert result.code == 1
    check_one_line(result.err, f"seqem: error: {out}: output directory does not exist")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["hmm", "segment", "x.fa", "-n", "0"], "argument -n/--states: must be an integer >= 1"),
        (["hmm", "fit", "x.tsv", "-n", "-2", "-o", "m"], "must be an integer >= 1"),
        (["hmm", "segment", "x.fa", "--threads", "-1"], "must be an integer >= 0"),
        (["hmm", "segment", "x.fa", "--tol", "nan"], "expected a finite number"),
        (["hmm", "segment", "x.fa", "--posterior-min", "2"], "between 0 and 1"),
        (["hmm", "segment", "x.fa", "--bogus"], "unrecognized arguments: --bogus"),
        (["hmm", "fit", "x.tsv"], "the following arguments are required: -o/--output"),
        (["hmm", "fit", "x.tsv", "-o", "m", "--covariance-type", "tied"], "invalid choice"),
        (["nosuch"], "invalid choice: 'nosuch'"),
    ],
)
def test_usage_errors(tmp_path, run, argv, message):
    result = run(*argv)
    assert result.code == 2
    lines = result.err.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.err
    assert message in lines[0]
    assert os.listdir(tmp_path) == []


def test_zero_states_through_the_api():
    with pytest.raises(ValueError, match="n_components must be an integer >= 1"):
        CategoricalHMM(0, n_features=4).fit(np.array([0, 1, 2, 3]))


def test_interrupt_exits_130_without_output(tmp_path, run, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_hmm, "segment_fasta", interrupted)
    out = tmp_path / "o.bed"
    result = run("hmm", "segment", DATA / "example.fa.gz", "-o", out)
    assert result.code == 130
    assert result.err.strip() == "seqem: interrupted"
    assert not out.exists()


def test_error_in_a_subprocess(tmp_path):
    bad = tmp_path / "bad.fa"
    bad.write_bytes(b">a\nAC!T\n")
    out = tmp_path / "o.bed"
    proc = subprocess.run(
        [PYTHON, "-m", "seqem", "hmm", "segment", str(bad), "-o", str(out)],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        cwd=REPO,
        timeout=120,
    )
    assert proc.returncode == 1
    check_one_line(proc.stderr, f"seqem: error: {bad}:2: record 'a': invalid character '!'")
    assert proc.stdout == ""
    assert not out.exists()


def test_closed_pipe_is_quiet(tmp_path):
    model = tmp_path / "m.json"
    fit = subprocess.run(
        [PYTHON, "-m", "seqem", "hmm", "fit", str(DATA / "example_signal.tsv"), "-n", "3"]
        + ["--seq-col", "seq_id", "-q", "-o", str(model)],
        env=subprocess_env(),
        cwd=REPO,
        timeout=120,
    )
    assert fit.returncode == 0
    # about 150 kB of output: more than a pipe holds, so the writer meets the closed pipe
    proc = subprocess.Popen(
        [PYTHON, "-m", "seqem", "hmm", "decode", str(model), str(DATA / "example_signal.tsv")]
        + ["--posteriors"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=subprocess_env(),
        cwd=REPO,
    )
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.stderr.close()
    code = proc.wait(timeout=120)
    assert first.startswith(b"seq_id\trow\tstate\tposterior_0")
    assert code in (0, 141)
    assert "Traceback" not in err and "Exception ignored" not in err
    assert "error" not in err


def test_interrupt_ends_the_program_with_one_line(tmp_path):
    """SIGINT (Ctrl-C) and SIGTERM end a running ``seqem`` at once: exit 130 / 143, one line
    for the interrupt, no traceback, no temporary file (here the search waits for its
    database on standard input)."""
    import signal
    import time

    model = DATA / "example_family.hmm"
    for sig, code in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
        proc = subprocess.Popen(
            [PYTHON, "-m", "seqem", "profile", "search", str(model), "-",
             "-o", str(tmp_path / "hits.tsv")],
            stdin=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path, env=subprocess_env(),
        )  # fmt: skip
        time.sleep(5)  # past start-up, waiting for input
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == code, err
        expected = b"seqem: interrupted\n" if sig == signal.SIGINT else b""
        assert err.replace(b"\r\x1b[K", b"") == expected
        assert os.listdir(tmp_path) == []
