"""Make the small profile-HMM example: a simulated protein family and a database to search.

Run from anywhere::

    python data/make_profile_data.py

It writes, into this folder and into ``seqem/data/`` (the copy shipped with
the package):

``example_family.hmm``
    The true model (HMMER3/f, calibrated: it has ``STATS`` lines), 60 nodes.
``example_family.fa``
    40 members emitted from the whole model (glocal), unaligned: the input
    for training without an alignment.
``example_query.fa``
    The first of them alone: a query sequence for ``seqem profile seqsearch``
    and ``seqem profile iterate``.
``example_family.sto``
    The true alignment of the first 30 of them, from their emission paths:
    match columns upper case (``-`` for a deleted node), inserted residues
    lower case padded with ``.``, ``#=GC RF`` with ``x`` at match columns.
``example_db.fa``
    300 protein sequences of 100-400 residues in a shuffled order: 30 new
    members (``member_001``...) each inside background flanks, and 270
    background sequences (``decoy_001``...).
``example_db_truth.tsv``
    Each database sequence's kind and, for members, the 1-based position of
    the member in it.

The script uses seqem itself (the model, its calibration and emission), a
fixed seed and a fixed date in the model file, so running it again gives the
same bytes (only the version in the model's first line follows seqem's).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
PACKAGE_COPY = HERE.parent / "seqem" / "data"
sys.path.insert(0, str(HERE.parent))  # the seqem of this source tree

from seqem.io.hmmer import write_hmmer  # noqa: E402
from seqem.profile.calibrate import calibrate  # noqa: E402
from seqem.profile.emit import INSERT, MATCH, consensus_sequence, emit  # noqa: E402
from seqem.profile.model import AMINO, DD, DM, II, IM, MD, MI, MM, ProfileHMM  # noqa: E402

OUTPUTS = (
    "example_family.hmm",
    "example_family.fa",
    "example_query.fa",
    "example_family.sto",
    "example_db.fa",
    "example_db_truth.tsv",
)

NAME = "example_family"
DESCRIPTION = "simulated protein family (seqem example data)"
#: A fixed DATE line, so that the model file does not change from run to run.
DATE = "Thu Jan  1 00:00:00 2026"
#: Number of nodes.
M = 60
#: Match emissions: Dirichlet(CONCENTRATION * background + s at a preferred
#: residue), s uniform in SHARPEN; the preferred residue is drawn from the background.
CONCENTRATION = 8.0
SHARPEN = (4.0, 16.0)
#: Mean transitions out of M (MM, MI, MD), I (IM, II) and D (DM, DD); each
#: node's are drawn from a Dirichlet with these means and TRANSITION_WEIGHT.
MEAN_M = (0.96, 0.02, 0.02)
MEAN_I = (0.6, 0.4)
MEAN_D = (0.7, 0.3)
TRANSITION_WEIGHT = 200.0
N_TRAIN = 40
N_ALIGNED = 30
N_MEMBERS = 30
N_DECOYS = 270
DB_LENGTHS = (100, 400)
LINE_WIDTH = 60


def random_family(rng: np.random.Generator) -> ProfileHMM:
    """A random Plan7 model of a protein family (not yet calibrated)."""
    bg = np.asarray(AMINO.background)
    K = AMINO.K
    match = np.zeros((M + 1, K))
    for k in range(1, M + 1):
        alpha = CONCENTRATION * bg
        alpha[rng.choice(K, p=bg)] += rng.uniform(*SHARPEN)
        match[k] = rng.dirichlet(alpha)
    insert = np.tile(bg, (M + 1, 1))
    t = np.zeros((M + 1, 7))
    for k in range(M + 1):
        t[k, [MM, MI, MD]] = rng.dirichlet(TRANSITION_WEIGHT * np.asarray(MEAN_M))
        t[k, [IM, II]] = rng.dirichlet(TRANSITION_WEIGHT * np.asarray(MEAN_I))
        t[k, [DM, DD]] = rng.dirichlet(TRANSITION_WEIGHT * np.asarray(MEAN_D))
    t[0, [DM, DD]] = (1.0, 0.0)
    t[M, MM] += t[M, MD]  # node M: M_M -> E or I_M; D_M -> E
    t[M, [MD, DD, DM]] = (0.0, 0.0, 1.0)
    hmm = ProfileHMM(AMINO, match, insert, t, name=NAME, description=DESCRIPTION)
    hmm.consensus = consensus_sequence(hmm)
    hmm.meta["DATE"] = DATE
    hmm.validate()
    return hmm


def letters(codes: np.ndarray) -> str:
    symbols = AMINO.degenerate_matrix()[0]
    return "".join(symbols[int(c)] for c in codes)


def write_fasta(path: Path, records: list[tuple[str, str]]) -> None:
    with open(path, "w", encoding="ascii", newline="\n") as fh:
        for name, seq in records:
            fh.write(f">{name}\n")
            for i in range(0, len(seq), LINE_WIDTH):
                fh.write(seq[i : i + LINE_WIDTH] + "\n")


def alignment_rows(
    hmm: ProfileHMM, texts: list[str], paths: list[tuple[np.ndarray, np.ndarray]]
) -> tuple[list[str], str]:
    """Aligned rows and the RF line of glocal sequences, from their emission paths."""
    width = np.zeros(hmm.M + 1, dtype=np.int64)  # insert columns after each node
    for kinds, pos in paths:
        ins = pos[kinds == INSERT]
        if ins.size:
            width = np.maximum(width, np.bincount(ins, minlength=hmm.M + 1))
    rows = []
    for text, (kinds, pos) in zip(texts, paths, strict=True):
        match = ["-"] * (hmm.M + 1)
        inserts: list[list[str]] = [[] for _ in range(hmm.M + 1)]
        for ch, kind, k in zip(text, kinds, pos, strict=True):
            if kind == MATCH:
                match[k] = ch.upper()
            elif kind == INSERT:
                inserts[k].append(ch.lower())
        parts = ["".join(inserts[0]).ljust(int(width[0]), ".")]
        for k in range(1, hmm.M + 1):
            parts.append(match[k] + "".join(inserts[k]).ljust(int(width[k]), "."))
        rows.append("".join(parts))
    rf = "." * int(width[0]) + "".join("x" + "." * int(width[k]) for k in range(1, hmm.M + 1))
    return rows, rf


def write_stockholm(path: Path, names: list[str], rows: list[str], rf: str) -> None:
    pad = max(len(n) for n in [*names, "#=GC RF"]) + 2
    with open(path, "w", encoding="ascii", newline="\n") as fh:
        fh.write("# STOCKHOLM 1.0\n")
        fh.write(f"#=GF ID {NAME}\n")
        fh.write(f"#=GF DE {DESCRIPTION}: true alignment of emitted members\n\n")
        for name, row in zip(names, rows, strict=True):
            fh.write(f"{name.ljust(pad)}{row}\n")
        fh.write(f"{'#=GC RF'.ljust(pad)}{rf}\n//\n")


def background(rng: np.random.Generator, length: int) -> str:
    return letters(rng.choice(AMINO.K, size=length, p=np.asarray(AMINO.background)))


def make_database(
    rng: np.random.Generator, hmm: ProfileHMM
) -> tuple[list[tuple[str, str]], list[tuple[str, str, str, str, int]]]:
    """Database records and truth rows (name, kind, start, end, length)."""
    members, _ = emit(hmm, N_MEMBERS, random_state=rng, mode="glocal")
    entries: list[tuple[str, str, int, int]] = []  # name, sequence, start, end
    lo, hi = DB_LENGTHS
    for i in range(N_MEMBERS):
        core = members.text(i)
        total = int(rng.integers(max(lo, len(core) + 20), hi + 1))
        left = int(rng.integers(0, total - len(core) + 1))
        right = total - len(core) - left
        seq = background(rng, left) + core + background(rng, right)
        entries.append((f"member_{i + 1:03d}", seq, left + 1, left + len(core)))
    for i in range(N_DECOYS):
        seq = background(rng, int(rng.integers(lo, hi + 1)))
        entries.append((f"decoy_{i + 1:03d}", seq, 0, 0))
    order = rng.permutation(len(entries))
    records, truth = [], []
    for j in order:
        name, seq, start, end = entries[int(j)]
        records.append((name, seq))
        kind = "member" if start else "decoy"
        where = (str(start), str(end)) if start else ("NA", "NA")
        truth.append((name, kind, *where, len(seq)))
    return records, truth


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Make the profile-HMM example data (fixed seed).")
    parser.add_argument("--outdir", type=Path, default=HERE, help="default: this folder")
    parser.add_argument(
        "--no-package-copy", action="store_true", help="do not copy the files into seqem/data/"
    )
    args = parser.parse_args(argv)
    out: Path = args.outdir
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)

    hmm = random_family(rng)
    calibrate(hmm)
    write_hmmer(out / "example_family.hmm", hmm)

    train, paths = emit(hmm, N_TRAIN, random_state=rng, mode="glocal")
    names = [f"family_{i + 1:03d}" for i in range(N_TRAIN)]
    texts = [train.text(i) for i in range(N_TRAIN)]
    write_fasta(out / "example_family.fa", list(zip(names, texts, strict=True)))
    write_fasta(out / "example_query.fa", [(names[0], texts[0])])
    rows, rf = alignment_rows(hmm, texts[:N_ALIGNED], [paths.sequence(i) for i in range(N_ALIGNED)])
    write_stockholm(out / "example_family.sto", names[:N_ALIGNED], rows, rf)

    records, truth = make_database(rng, hmm)
    write_fasta(out / "example_db.fa", records)
    with open(out / "example_db_truth.tsv", "w", encoding="ascii", newline="\n") as fh:
        fh.write("name\tkind\tstart\tend\tlength\n")
        for row in truth:
            fh.write("\t".join(str(v) for v in row) + "\n")

    if not args.no_package_copy:
        PACKAGE_COPY.mkdir(parents=True, exist_ok=True)
        for name in OUTPUTS:
            shutil.copyfile(out / name, PACKAGE_COPY / name)
    residues = sum(len(s) for _, s in records)
    print(f"wrote a {hmm.M}-node model, {N_TRAIN} training members ({N_ALIGNED} aligned, ")
    print(f"{len(rf)} columns) and a database of {len(records)} sequences ({residues} residues)")


if __name__ == "__main__":
    main()
