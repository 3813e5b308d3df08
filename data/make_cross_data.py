"""Make the cross example: a simulated backcross in R/qtl's "csv" layout.

Run from anywhere::

    python data/make_cross_data.py

It writes ``example_cross.csv`` (and ``example_cross_truth.tsv``, the
simulated map) into this folder and into ``seqem/data/``: 150 backcross
individuals (codes ``A`` homozygous, ``H`` heterozygous, ``-`` missing), two
chromosomes of 10 markers, a phenotype column.  Meioses recombine by the
Haldane process along the true map; 3% of the genotypes are missing and
0.5% are miscalled.  The map written in the file (row 3) is the true map
rounded to whole cM plus noise, as a starting map would be.  Fixed seed: the
same bytes every run.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
PACKAGE_DATA = HERE.parent / "seqem" / "data"
FILES = ("example_cross.csv", "example_cross_truth.tsv")
N = 150
TRUE_CM = {"1": [0.0, 8.0, 19.0, 27.0, 35.0, 48.0, 55.0, 66.0, 80.0, 91.0],
           "2": [0.0, 12.0, 20.0, 31.0, 45.0, 52.0, 60.0, 73.0, 85.0, 94.0]}  # fmt: skip


def simulate(seed: int = 20261130):
    rng = np.random.default_rng(seed)
    genotypes = {}
    for chrom, cm in TRUE_CM.items():
        theta = 0.5 * (1.0 - np.exp(-2.0 * np.diff(cm) / 100.0))
        g = np.empty((N, len(cm)), dtype=int)
        g[:, 0] = rng.integers(2, size=N)
        for j, t in enumerate(theta):
            flip = rng.random(N) < t
            g[:, j + 1] = np.where(flip, 1 - g[:, j], g[:, j])
        wrong = rng.random(g.shape) < 0.005
        g = np.where(wrong, 1 - g, g)
        g = np.where(rng.random(g.shape) < 0.03, -1, g)
        genotypes[chrom] = g
    written = {c: [float(max(0.0, round(x + rng.normal(0, 3)))) for x in cm]
               for c, cm in TRUE_CM.items()}  # fmt: skip
    for c in written:
        written[c] = sorted(written[c])
    pheno = rng.normal(size=N) + 0.8 * (genotypes["1"][:, 4] == 1)
    return genotypes, written, pheno


def write(out: Path) -> None:
    genotypes, written, pheno = simulate()
    names = [f"C{c}M{k + 1:02d}" for c in TRUE_CM for k in range(len(TRUE_CM[c]))]
    chroms = [c for c in TRUE_CM for _ in TRUE_CM[c]]
    cm = [x for c in TRUE_CM for x in written[c]]
    lines = ["phenotype," + ",".join(names), "," + ",".join(chroms),
             "," + ",".join(f"{x:g}" for x in cm)]  # fmt: skip
    code = {-1: "-", 0: "A", 1: "H"}
    for i in range(N):
        calls = [code[int(genotypes[c][i, k])] for c in TRUE_CM for k in range(len(TRUE_CM[c]))]
        lines.append(f"{pheno[i]:.3f}," + ",".join(calls))
    out.mkdir(parents=True, exist_ok=True)
    (out / FILES[0]).write_text("\n".join(lines) + "\n")
    truth = ["chrom\tmarker\tcm"] + [f"{c}\t{n}\t{x:g}" for c, n, x in
                                     zip(chroms, names, [x for c in TRUE_CM for x in TRUE_CM[c]],
                                         strict=True)]  # fmt: skip
    (out / FILES[1]).write_text("\n".join(truth) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="simulate the backcross example")
    parser.add_argument("--out", type=Path, default=HERE, help="folder (default: data/)")
    args = parser.parse_args(argv)
    write(args.out)
    if args.out.resolve() == HERE:
        PACKAGE_DATA.mkdir(exist_ok=True)
        for name in FILES:
            shutil.copyfile(HERE / name, PACKAGE_DATA / name)
    print(f"wrote {args.out}/{FILES[0]} ({N} individuals, 20 markers)")


if __name__ == "__main__":
    main()
