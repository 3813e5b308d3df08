"""Make the small example inputs used by ``seqem demo``, the docs and the tests.

Run from anywhere::

    python data/make_data.py

It writes, into this folder and into ``seqem/data/`` (the copy shipped with
the package):

``example.fa.gz``
    DNA simulated from a 3-state GC-isochore HMM, four records, with runs of
    ``N``, a few other IUPAC ambiguity codes and soft-masked (lowercase) runs.
``example_truth.bed``
    The simulated state of every base, as BED6 segments (``state0`` is the
    lowest-GC state).
``example_signal.tsv``
    Two-dimensional observations from a 3-state Gaussian HMM, several
    sequences told apart by the ``seq_id`` column.
``example_signal_truth.tsv``
    The simulated state of every row of ``example_signal.tsv``.

Only NumPy is needed; the random generator has a fixed seed, so the files are
the same on every run (gzip output is written with a zero timestamp).
"""

from __future__ import annotations

import argparse
import gzip
import shutil
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
PACKAGE_COPY = HERE.parent / "seqem" / "data"
OUTPUTS = ("example.fa.gz", "example_truth.bed", "example_signal.tsv", "example_signal_truth.tsv")

# -- the GC-isochore HMM (the truth behind example.fa.gz) ---------------------

#: GC fraction of each state; A = T = (1 - gc) / 2 and C = G = gc / 2.
STATE_GC = (0.36, 0.46, 0.58)
#: Mean segment length in bases; a state is left with probability 1 / MEAN_SEGMENT.
MEAN_SEGMENT = 8000
#: Record names and lengths (about 200 kb in all).
RECORDS = (("chr1", 60000), ("chr2", 50000), ("chr3", 50000), ("chr4", 40000))
#: Runs of N: (record, 0-based start, length).
N_RUNS = (("chr1", 20000, 1000), ("chr2", 100, 50), ("chr4", 31000, 300))
#: Number of isolated IUPAC ambiguity codes scattered over all records.
N_IUPAC = 12
#: Number of soft-masked (lowercase) runs, each 200-2000 bases long.
N_MASKED = 8
LINE_WIDTH = 60

# -- the Gaussian HMM (the truth behind example_signal.tsv) ------------------

SIGNAL_MEANS = ((0.0, 0.0), (3.0, 1.0), (-1.0, 3.5))
SIGNAL_SD = ((1.0, 0.5), (0.7, 0.7), (0.5, 1.0))
SIGNAL_STAY = 0.95
SIGNAL_LENGTHS = (320, 450, 280, 500, 380, 300)

IUPAC = np.frombuffer(b"RYSWKMBDHV", dtype=np.uint8)
BASES = np.frombuffer(b"ACGT", dtype=np.uint8)


def sticky_transmat(n: int, stay: float) -> np.ndarray:
    """Transition matrix that stays with probability ``stay``, else moves uniformly."""
    trans = np.full((n, n), (1.0 - stay) / (n - 1))
    np.fill_diagonal(trans, stay)
    return trans


def sample_path(rng: np.random.Generator, trans: np.ndarray, length: int) -> np.ndarray:
    """A Markov chain path with a uniform start, int64 of shape (length,)."""
    n = trans.shape[0]
    cdf = np.cumsum(trans, axis=1)
    u = rng.random(length)
    path = np.empty(length, dtype=np.int64)
    path[0] = min(int(u[0] * n), n - 1)
    for t in range(1, length):
        path[t] = min(int(np.searchsorted(cdf[path[t - 1]], u[t], side="right")), n - 1)
    return path


def runs(path: np.ndarray) -> list[tuple[int, int, int]]:
    """Runs of equal values as (start, end, value), end exclusive."""
    change = np.flatnonzero(np.diff(path)) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [path.size]])
    return [(int(s), int(e), int(path[s])) for s, e in zip(starts, ends, strict=True)]


def make_dna(rng: np.random.Generator) -> tuple[dict[str, bytes], list[tuple]]:
    """Simulated records and their true segments."""
    n = len(STATE_GC)
    trans = sticky_transmat(n, 1.0 - 1.0 / MEAN_SEGMENT)
    probs = np.array([[(1 - g) / 2, g / 2, g / 2, (1 - g) / 2] for g in STATE_GC])
    cdf = np.cumsum(probs, axis=1)
    records: dict[str, bytes] = {}
    truth: list[tuple] = []
    for name, length in RECORDS:
        path = sample_path(rng, trans, length)
        u = rng.random(length)
        idx = np.minimum((u[:, None] >= cdf[path]).sum(axis=1), 3)
        seq = BASES[idx].copy()
        for start, end, state in runs(path):
            truth.append((name, start, end, f"state{state}"))
        # soft-masking: lowercase runs (ASCII lowercase = uppercase with bit 0x20 set)
        for _ in range(N_MASKED // len(RECORDS)):
            run = int(rng.integers(200, 2001))
            start = int(rng.integers(0, length - run))
            seq[start : start + run] |= 0x20
        records[name] = seq
    names = [name for name, _ in RECORDS]
    for _ in range(N_IUPAC):
        name = names[int(rng.integers(len(names)))]
        seq = records[name]
        seq[int(rng.integers(seq.size))] = IUPAC[int(rng.integers(IUPAC.size))]
    for name, start, length in N_RUNS:
        records[name][start : start + length] = ord("N")
    return {k: v.tobytes() for k, v in records.items()}, truth


def write_fasta_gz(path: Path, records: dict[str, bytes]) -> None:
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        for name, seq in records.items():
            gz.write(f">{name} simulated GC-isochore sequence\n".encode())
            for i in range(0, len(seq), LINE_WIDTH):
                gz.write(seq[i : i + LINE_WIDTH] + b"\n")


def write_bed(path: Path, segments: list[tuple]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("#chrom\tchromStart\tchromEnd\tname\tscore\tstrand\n")
        for name, start, end, label in segments:
            fh.write(f"{name}\t{start}\t{end}\t{label}\t0\t.\n")


def make_signal(rng: np.random.Generator) -> tuple[list[tuple], list[tuple]]:
    """Rows (seq_id, x1, x2) and truth rows (seq_id, row, state)."""
    means = np.array(SIGNAL_MEANS)
    sd = np.array(SIGNAL_SD)
    trans = sticky_transmat(len(SIGNAL_MEANS), SIGNAL_STAY)
    rows: list[tuple] = []
    truth: list[tuple] = []
    for i, length in enumerate(SIGNAL_LENGTHS, start=1):
        path = sample_path(rng, trans, length)
        x = means[path] + sd[path] * rng.standard_normal((length, 2))
        for t in range(length):
            rows.append((f"s{i}", x[t, 0], x[t, 1]))
            truth.append((f"s{i}", len(truth) + 1, int(path[t])))
    return rows, truth


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Make the example data (fixed seed).")
    parser.add_argument("--outdir", type=Path, default=HERE, help="default: this folder")
    parser.add_argument(
        "--no-package-copy", action="store_true", help="do not copy the files into seqem/data/"
    )
    args = parser.parse_args(argv)
    out: Path = args.outdir
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20240611)
    records, segments = make_dna(rng)
    write_fasta_gz(out / "example.fa.gz", records)
    write_bed(out / "example_truth.bed", segments)
    rows, truth = make_signal(rng)
    with open(out / "example_signal.tsv", "w", encoding="utf-8") as fh:
        fh.write("seq_id\tx1\tx2\n")
        for seq_id, x1, x2 in rows:
            fh.write(f"{seq_id}\t{x1:.5f}\t{x2:.5f}\n")
    with open(out / "example_signal_truth.tsv", "w", encoding="utf-8") as fh:
        fh.write("seq_id\trow\tstate\n")
        for seq_id, row, state in truth:
            fh.write(f"{seq_id}\t{row}\t{state}\n")
    if not args.no_package_copy:
        PACKAGE_COPY.mkdir(parents=True, exist_ok=True)
        for name in OUTPUTS:
            shutil.copyfile(out / name, PACKAGE_COPY / name)
    total = sum(len(s) for s in records.values())
    print(f"wrote {len(records)} records ({total} bases), {len(segments)} true segments,")
    print(f"{len(rows)} signal rows in {len(SIGNAL_LENGTHS)} sequences")


if __name__ == "__main__":
    main()
