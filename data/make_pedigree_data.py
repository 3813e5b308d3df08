"""Make the linkage example: simulated pedigrees with a dominant disease gene.

Run from anywhere::

    python data/make_pedigree_data.py

It writes, into this folder and into ``seqem/data/`` (the copy shipped with
the package):

``example_pedigree.ped/.dat/.map/.freq/.model``
    MERLIN files: 10 three-generation families (two grandparents, four
    children, a spouse married in, three grandchildren: 10 persons, 11
    bits), 12 microsatellite-like markers on chromosome 1 (every 8 cM from
    2 cM, 4-6 alleles) and 6 on chromosome 2, an affection trait.
``example_pedigree_linkage.ped/.dat``
    The same families and the chromosome-1 markers as a LINKAGE pre-makeped
    pedfile and datafile (the trait first, then the markers; recombination
    fractions from the Haldane map).
``example_pedigree_truth.tsv``
    Each family's disease gene: ``chr1:42cM`` (8 families) or ``unlinked``
    (2 families whose disease comes from a gene on no simulated marker).

The disease is dominant (allele frequency 0.01, penetrances 0.02, 0.8, 0.8);
one grandparent of every family carries the disease allele.  Meioses
recombine by the Haldane process.  Grandparents are untyped in half of the
families; 5% of the other genotypes are missing.  Fixed seed: the same bytes
every run.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
PACKAGE_DATA = HERE.parent / "seqem" / "data"
PREFIX = "example_pedigree"
FILES = tuple(
    f"{PREFIX}{suffix}"
    for suffix in (
        ".ped",
        ".dat",
        ".map",
        ".freq",
        ".model",
        "_linkage.ped",
        "_linkage.dat",
        "_truth.tsv",
    )  # fmt: skip
)
N_FAMILIES, N_UNLINKED = 10, 2
CHR1 = [2.0 + 8.0 * k for k in range(12)]
CHR2 = [5.0 + 12.0 * k for k in range(6)]
DISEASE_CM = 42.0
FREQ, PENETRANCE = 0.01, (0.02, 0.8, 0.8)
# persons: id, father, mother, sex (0 = founder)
LAYOUT = [
    (1, 0, 0, 1), (2, 0, 0, 2), (3, 1, 2, 1), (4, 1, 2, 2), (5, 1, 2, 1), (6, 1, 2, 2),
    (7, 0, 0, 2), (8, 3, 7, 1), (9, 3, 7, 2), (10, 3, 7, 1),
]  # fmt: skip


def _transmit(rng: np.random.Generator, pair: np.ndarray, cm: np.ndarray) -> np.ndarray:
    """One gamete from a (2, loci) pair of haplotypes: Haldane crossovers along ``cm``."""
    strand = int(rng.integers(2))
    out = np.empty(cm.size, dtype=pair.dtype)
    for j in range(cm.size):
        if j and rng.random() < 0.5 * (1.0 - np.exp(-2.0 * (cm[j] - cm[j - 1]) / 100.0)):
            strand = 1 - strand
        out[j] = pair[strand, j]
    return out


def simulate(seed: int = 20261130):
    rng = np.random.default_rng(seed)
    n_alleles = [int(rng.integers(4, 7)) for _ in CHR1 + CHR2]
    freqs = [rng.dirichlet(np.full(k, 4.0)) for k in n_alleles]
    # chromosome 1 loci: the markers and the disease gene, in map order
    cm1 = np.array(sorted(CHR1 + [DISEASE_CM]))
    d_at = int(np.searchsorted(cm1, DISEASE_CM))
    families = []
    for f in range(N_FAMILIES):
        linked = f >= N_UNLINKED
        chr1, chr2, carrier = {}, {}, {}
        for pid, fa, mo, _ in LAYOUT:
            if fa == 0:
                h1 = np.array([[rng.choice(len(p), p=p) + 1 for p in freqs[: len(CHR1)]]
                               for _ in range(2)])  # fmt: skip
                h1 = np.insert(h1, d_at, (rng.random(2) < FREQ).astype(int), axis=1)
                chr1[pid] = h1
                chr2[pid] = np.array([[rng.choice(len(p), p=p) + 1 for p in freqs[len(CHR1):]]
                                      for _ in range(2)])  # fmt: skip
                carrier[pid] = (rng.random(2) < FREQ).astype(int)  # the unlinked gene
            else:
                chr1[pid] = np.stack([_transmit(rng, chr1[fa], cm1), _transmit(rng, chr1[mo], cm1)])
                chr2[pid] = np.stack([_transmit(rng, chr2[fa], np.array(CHR2)),
                                      _transmit(rng, chr2[mo], np.array(CHR2))])  # fmt: skip
                carrier[pid] = np.array(
                    [carrier[fa][rng.integers(2)], carrier[mo][rng.integers(2)]]
                )
            if pid == 1:  # the grandfather carries the disease allele
                if linked:
                    chr1[pid][0, d_at] = 1
                else:
                    carrier[pid][0] = 1
        rows = []
        for pid, fa, mo, sex in LAYOUT:
            dose = int(chr1[pid][:, d_at].sum()) if linked else int(carrier[pid].sum())
            affected = rng.random() < PENETRANCE[dose]
            markers = np.concatenate([np.delete(chr1[pid], d_at, axis=1), chr2[pid]], axis=1)
            untyped = fa == 0 and pid in (1, 2) and f % 2 == 1
            missing = untyped | (rng.random(markers.shape[1]) < 0.05)
            markers = np.where(missing, 0, markers)
            rows.append((pid, fa, mo, sex, 2 if affected else 1, markers))
        families.append((f"FAM{f + 1:02d}", linked, rows))
    return families, freqs


def write(out: Path) -> None:
    families, freqs = simulate()
    names = [f"D1S{k + 1:02d}" for k in range(len(CHR1))] + [
        f"D2S{k + 1:02d}" for k in range(len(CHR2))
    ]
    out.mkdir(parents=True, exist_ok=True)
    ped, pre = [], []
    for fam, _, rows in families:
        for pid, fa, mo, sex, aff, markers in rows:
            calls = " ".join(f"{markers[0, j]}/{markers[1, j]}" for j in range(len(names)))
            ped.append(f"{fam} {pid} {fa} {mo} {sex} {aff} {calls}")
            pairs = " ".join(f"{markers[0, j]} {markers[1, j]}" for j in range(len(CHR1)))
            pre.append(f"{fam[3:].lstrip('0')} {pid} {fa} {mo} {sex} {aff} {pairs}")
    (out / FILES[0]).write_text("\n".join(ped) + "\n")
    (out / FILES[1]).write_text("A disease\n" + "".join(f"M {m}\n" for m in names) + "E END\n")
    chrom_cm = [("1", c) for c in CHR1] + [("2", c) for c in CHR2]
    (out / FILES[2]).write_text(
        "CHROMOSOME MARKER POSITION\n"
        + "".join(f"{c} {m} {cm:g}\n" for m, (c, cm) in zip(names, chrom_cm, strict=True))
    )
    (out / FILES[3]).write_text(
        "".join(
            f"M {m}\nF " + " ".join(f"{x:.4f}" for x in f / f.sum()) + "\n"
            for m, f in zip(names, _rounded(freqs), strict=True)
        )  # fmt: skip
    )
    pen = ",".join(f"{p:g}" for p in PENETRANCE)
    (out / FILES[4]).write_text(f"disease {FREQ:g} {pen} dominant\n")
    (out / FILES[5]).write_text("\n".join(pre) + "\n")
    n_loci = 1 + len(CHR1)
    lines = [f"{n_loci} 0 0 5", "0 0.0 0.0 0", " ".join(str(k + 1) for k in range(n_loci))]
    lines += [
        "1 2 # disease",
        f"{1 - FREQ:g} {FREQ:g}",
        "1",
        " ".join(f"{p:g}" for p in PENETRANCE),
    ]
    for m, f in zip(names[: len(CHR1)], _rounded(freqs), strict=False):
        lines += [f"3 {f.size} # {m}", " ".join(f"{x:.4f}" for x in f)]
    thetas = [0.5] + [
        0.5 * (1 - np.exp(-2 * (b - a) / 100)) for a, b in zip(CHR1, CHR1[1:], strict=False)
    ]
    lines += ["0 0", " ".join(f"{t:.10f}" for t in thetas), "1 0.1 0.5"]
    (out / FILES[6]).write_text("\n".join(lines) + "\n")
    truth = ["family\tdisease_gene"] + [f"{fam}\t{'chr1:42cM' if linked else 'unlinked'}"
                                       for fam, linked, _ in families]  # fmt: skip
    (out / FILES[7]).write_text("\n".join(truth) + "\n")


def _rounded(freqs: list[np.ndarray]) -> list[np.ndarray]:
    """Frequencies to 4 decimals that still sum to one (the largest takes the rest)."""
    out = []
    for f in freqs:
        r = np.round(f, 4)
        r[int(np.argmax(r))] += round(1.0 - float(r.sum()), 4)
        out.append(r)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="simulate the linkage example")
    parser.add_argument("--out", type=Path, default=HERE, help="folder (default: data/)")
    args = parser.parse_args(argv)
    write(args.out)
    if args.out.resolve() == HERE:
        PACKAGE_DATA.mkdir(exist_ok=True)
        for name in FILES:
            shutil.copyfile(HERE / name, PACKAGE_DATA / name)
    print(f"wrote {args.out}/{PREFIX}.* ({N_FAMILIES} families, {len(CHR1) + len(CHR2)} markers)")


if __name__ == "__main__":
    main()
