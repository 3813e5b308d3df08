"""Make the small genotype example: a simulated cohort VCF with known haplotypes.

Run from anywhere::

    python data/make_cohort_data.py

It writes, into this folder and into ``seqem/data/`` (the copy shipped with
the package):

``example_cohort.vcf.gz`` (+ ``.tbi``)
    400 people x 200 biallelic SNPs on chromosome 1 (positions 1,000 to
    about 200,000), unphased genotypes (``0/0``, ``0/1``, ``1/1``), 1% of
    the calls missing (``./.``); every tenth SNP has no id (``.``).
``example_cohort_truth.tsv``
    The true haplotypes: sample, hap1, hap2 (one character per SNP, in
    position order, ``0`` = REF, ``1`` = ALT).

The haplotypes are mosaics of 6 founder haplotypes: along each haplotype
the founder copied switches with probability 0.015 between adjacent SNPs
(recombination, so LD decays with distance) and each allele flips with
probability 0.005 (mutation).  Fixed seed: the same bytes every run.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
PACKAGE_DATA = HERE.parent / "seqem" / "data"
N_PEOPLE, N_SNPS, N_FOUNDERS = 400, 200, 6


def simulate(seed: int = 20261123) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions (n_snps,), haplotypes (2 n_people, n_snps) and the missing mask."""
    rng = np.random.default_rng(seed)
    positions = 1000 + np.cumsum(rng.integers(200, 1800, size=N_SNPS))
    freq = rng.beta(0.6, 0.6, size=N_SNPS).clip(0.05, 0.95)
    founders = (rng.random((N_FOUNDERS, N_SNPS)) < freq).astype(np.int8)
    n_haps = 2 * N_PEOPLE
    weights = rng.dirichlet(np.full(N_FOUNDERS, 1.5))
    source = np.empty((n_haps, N_SNPS), dtype=np.int64)
    source[:, 0] = rng.choice(N_FOUNDERS, size=n_haps, p=weights)
    for j in range(1, N_SNPS):
        switch = rng.random(n_haps) < 0.015
        source[:, j] = np.where(
            switch, rng.choice(N_FOUNDERS, size=n_haps, p=weights), source[:, j - 1]
        )
    haps = founders[source, np.arange(N_SNPS)]
    haps ^= (rng.random(haps.shape) < 0.005).astype(np.int8)
    missing = rng.random((N_PEOPLE, N_SNPS)) < 0.01
    return positions, haps, missing


def vcf_text(positions: np.ndarray, haps: np.ndarray, missing: np.ndarray) -> str:
    rng = np.random.default_rng(7)
    bases = np.array(list("ACGT"))
    samples = [f"S{i + 1:04d}" for i in range(N_PEOPLE)]
    lines = [
        "##fileformat=VCFv4.2",
        "##source=seqem data/make_cohort_data.py (simulated)",
        "##contig=<ID=1,length=250000>",
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(samples),
    ]
    geno = haps[0::2] + haps[1::2]
    calls = np.array(["0/0", "0/1", "1/1"])[geno]
    calls[missing] = "./."
    for j, pos in enumerate(positions):
        ref, alt = rng.choice(bases, size=2, replace=False)
        snp_id = "." if j % 10 == 9 else f"rs{9000000 + j}"
        fields = ["1", str(pos), snp_id, ref, alt, ".", "PASS", ".", "GT"]
        lines.append("\t".join(fields + list(calls[:, j])))
    return "\n".join(lines) + "\n"


def truth_text(haps: np.ndarray) -> str:
    lines = ["sample\thap1\thap2"]
    for i in range(N_PEOPLE):
        h1 = "".join(map(str, haps[2 * i]))
        h2 = "".join(map(str, haps[2 * i + 1]))
        lines.append(f"S{i + 1:04d}\t{h1}\t{h2}")
    return "\n".join(lines) + "\n"


def write(out: Path) -> None:
    import pysam

    positions, haps, missing = simulate()
    out.mkdir(parents=True, exist_ok=True)
    plain = out / "example_cohort.vcf"
    plain.write_text(vcf_text(positions, haps, missing))
    pysam.tabix_index(str(plain), preset="vcf", force=True)  # bgzips, then indexes
    (out / "example_cohort_truth.tsv").write_text(truth_text(haps))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="simulate the example cohort VCF")
    parser.add_argument("--out", type=Path, default=HERE, help="folder (default: data/)")
    args = parser.parse_args(argv)
    write(args.out)
    if args.out.resolve() == HERE:
        for name in ("example_cohort.vcf.gz", "example_cohort.vcf.gz.tbi",
                     "example_cohort_truth.tsv"):  # fmt: skip
            shutil.copyfile(HERE / name, PACKAGE_DATA / name)
    with gzip.open(args.out / "example_cohort.vcf.gz", "rt") as fh:
        n = sum(1 for line in fh if not line.startswith("#"))
    print(f"wrote {args.out}/example_cohort.vcf.gz ({n} SNPs x {N_PEOPLE} people)")


if __name__ == "__main__":
    main()
