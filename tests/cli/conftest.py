"""Helpers for the command-line tests: in-process runs and a small DNA simulation."""

import dataclasses
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from seqem.cli.main import main

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data"


@dataclasses.dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
def run(capsys):
    """Run ``seqem`` in this process; return exit code, stdout and stderr."""

    def _run(*argv):
        code = main([str(a) for a in argv])
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return _run


def subprocess_env():
    """Environment in which ``python -m seqem`` finds this source tree."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


PYTHON = sys.executable


def simulate_two_state_dna(rng, record_lengths, *, gc=(0.35, 0.62), mean_segment=4000):
    """Records from a sticky 2-state GC HMM; returns {name: bytes}, {name: states}."""
    records, truth = {}, {}
    for i, length in enumerate(record_lengths, start=1):
        # segment lengths drawn directly: geometric with the given mean
        states = np.empty(length, dtype=np.int64)
        pos, state = 0, int(rng.integers(2))
        while pos < length:
            run = int(rng.geometric(1.0 / mean_segment))
            states[pos : pos + run] = state
            pos += run
            state = 1 - state
        g = np.asarray(gc)[states]
        u = rng.random(length)
        # A, C, G, T with C = G = gc / 2 and A = T = (1 - gc) / 2
        idx = (u >= (1 - g) / 2).astype(int) + (u >= 0.5).astype(int) + (u >= (1 + g) / 2)
        seq = np.frombuffer(b"ACGT", dtype=np.uint8)[idx].copy()
        seq[100:400] |= 0x20  # soft-masked run
        seq[1000:1050] = ord("N")
        records[f"chr{i}"] = seq.tobytes()
        truth[f"chr{i}"] = states
    return records, truth


def write_fasta(path, records, width=70):
    with open(path, "wb") as fh:
        for name, seq in records.items():
            fh.write(f">{name}\n".encode())
            for i in range(0, len(seq), width):
                fh.write(seq[i : i + width] + b"\n")
    return str(path)


def bed_rows(text):
    rows = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        chrom, start, end, name, score, strand = line.split("\t")
        rows.append((chrom, int(start), int(end), name, int(score), strand))
    return rows


def one_error(result, message, code=1):
    """Exit ``code``, one error line holding ``message``, no traceback."""
    assert result.code == code, result.err
    errors = [line for line in result.err.splitlines() if "error:" in line]
    assert len(errors) == 1 and message in errors[0], result.err
    assert "Traceback" not in result.err
    return errors[0]
