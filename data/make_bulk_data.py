"""Make the deconvolution example: simulated bulk expression with known proportions.

Run from anywhere::

    python data/make_bulk_data.py

It writes, into this folder and into ``seqem/data/`` (the copy shipped with
the package):

``example_signature.tsv``
    200 genes x 5 cell types (linear scale): log-normal expression with a
    block of marker genes per type (8x its expression elsewhere).
``example_bulk.tsv``
    200 genes x 30 bulk samples: each sample mixes the cell types in
    Dirichlet(1) proportions; a type's contribution is its profile times
    its proportion, and each gene's value gets log-normal noise (sd 0.2).
``example_bulk_truth.tsv``
    The true proportions: samples x cell types.

Fixed seed: the same bytes every run.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
PACKAGE_DATA = HERE.parent / "seqem" / "data"
N_GENES, N_TYPES, N_SAMPLES = 200, 5, 30
TYPES = ["T_cell", "B_cell", "Monocyte", "NK_cell", "Neutrophil"]
FILES = ("example_signature.tsv", "example_bulk.tsv", "example_bulk_truth.tsv")


def simulate(seed: int = 20261130) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Signature (genes x types), bulk (genes x samples), proportions (samples x types)."""
    rng = np.random.default_rng(seed)
    signature = np.exp(rng.normal(3.0, 1.0, size=(N_GENES, N_TYPES)))
    block = N_GENES // (2 * N_TYPES)
    for k in range(N_TYPES):
        signature[k * block : (k + 1) * block, k] *= 8.0
    truth = rng.dirichlet(np.ones(N_TYPES), size=N_SAMPLES)
    bulk = signature @ truth.T * np.exp(rng.normal(0.0, 0.2, size=(N_GENES, N_SAMPLES)))
    return signature, bulk, truth


def _matrix(first: str, rows: list[str], cols: list[str], values: np.ndarray) -> str:
    lines = [first + "\t" + "\t".join(cols)]
    for name, row in zip(rows, values, strict=True):
        lines.append(name + "\t" + "\t".join(f"{x:.6g}" for x in row))
    return "\n".join(lines) + "\n"


def write(out: Path) -> None:
    signature, bulk, truth = simulate()
    genes = [f"GENE{i + 1:04d}" for i in range(N_GENES)]
    samples = [f"bulk{j + 1:02d}" for j in range(N_SAMPLES)]
    out.mkdir(parents=True, exist_ok=True)
    (out / FILES[0]).write_text(_matrix("gene", genes, TYPES, signature))
    (out / FILES[1]).write_text(_matrix("gene", genes, samples, bulk))
    (out / FILES[2]).write_text(_matrix("sample", samples, TYPES, truth))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="simulate the deconvolution example")
    parser.add_argument("--out", type=Path, default=HERE, help="folder (default: data/)")
    args = parser.parse_args(argv)
    write(args.out)
    if args.out.resolve() == HERE:
        PACKAGE_DATA.mkdir(exist_ok=True)
        for name in FILES:
            shutil.copyfile(HERE / name, PACKAGE_DATA / name)
    print(f"wrote {args.out}/{FILES[1]} ({N_GENES} genes x {N_SAMPLES} samples)")


if __name__ == "__main__":
    main()
