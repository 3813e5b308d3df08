"""Make the read-counting example: a small BAM of simulated reads and its gene annotation.

Run from anywhere::

    python data/make_reads_data.py

It writes, into this folder and into ``seqem/data/``:

``example_genes.gtf``
    Six genes on a 20 kb contig ``chrS``, two exons each, alternating strands.
``example_reads.bam`` (+ ``.bai``)
    Single-end 50 bp reads: each gene gets a fixed number of reads placed
    uniformly over its exons (the counts are in the gene names' order in
    ``example_reads_truth.tsv``), plus reads between the genes; one read in
    twenty has mapping quality 3 and one in twenty-five is secondary.

Fixed seed: the same bytes every run (the BAM records, not necessarily the
gzip blocks, which depend on the zlib build; the test compares counts).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
PACKAGE_DATA = HERE.parent / "seqem" / "data"
CONTIG, LENGTH, READ = "chrS", 20000, 50
FILES = ("example_genes.gtf", "example_reads.bam", "example_reads.bam.bai",
         "example_reads_truth.tsv")  # fmt: skip


def genes() -> list[tuple[str, str, list[tuple[int, int]]]]:
    out = []
    for i in range(6):
        base = 1000 + 3000 * i
        exons = [(base, base + 400), (base + 900, base + 1500)]  # 0-based half-open
        out.append((f"GENE{i + 1}", "+" if i % 2 == 0 else "-", exons))
    return out


def write(out: Path, seed: int = 7) -> None:
    import pysam

    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    gtf = []
    for name, strand, exons in genes():
        for s, e in exons:
            gtf.append(f'{CONTIG}\tsim\texon\t{s + 1}\t{e}\t.\t{strand}\t.\tgene_id "{name}";')
    (out / FILES[0]).write_text("\n".join(gtf) + "\n")
    reads = []
    truth = []
    for g, (name, _, exons) in enumerate(genes()):
        n = 40 + 30 * g
        truth.append((name, n))
        for _ in range(n):
            s, e = exons[rng.integers(2)]
            reads.append(int(rng.integers(s, e - READ)))
    for _ in range(100):  # between genes
        reads.append(int(rng.integers(0, 900)))
    reads.sort()
    header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": CONTIG, "LN": LENGTH}]}
    bam = out / FILES[1]
    with pysam.AlignmentFile(str(bam), "wb", header=header) as fh:
        for k, pos in enumerate(reads):
            a = pysam.AlignedSegment()
            a.query_name = f"read{k:05d}"
            a.query_sequence = "A" * READ
            a.flag = 16 if rng.random() < 0.5 else 0
            if k % 25 == 24:
                a.flag |= 0x100
            a.reference_id = 0
            a.reference_start = pos
            a.mapping_quality = 3 if k % 20 == 19 else 60
            a.cigar = [(0, READ)]
            a.query_qualities = pysam.qualitystring_to_array("I" * READ)
            fh.write(a)
    pysam.index(str(bam))
    lines = ["gene\treads_placed"] + [f"{n}\t{c}" for n, c in truth]
    (out / FILES[3]).write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="simulate the read-counting example")
    parser.add_argument("--out", type=Path, default=HERE, help="folder (default: data/)")
    args = parser.parse_args(argv)
    write(args.out)
    if args.out.resolve() == HERE:
        PACKAGE_DATA.mkdir(exist_ok=True)
        for name in FILES:
            shutil.copyfile(HERE / name, PACKAGE_DATA / name)
    print(f"wrote {args.out}/{FILES[1]}")


if __name__ == "__main__":
    main()
