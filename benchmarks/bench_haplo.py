"""Pairwise LD: seqem against PLINK 1.9 in the same run (by hand, not in CI).

    python benchmarks/bench_haplo.py [--snps 1000]

The first N biallelic SNPs of the shared 1000 Genomes excerpt (2,504
people): PLINK 1.9 ``--r2 dprime`` over all pairs, writing its ``.ld`` file
(whole command), against seqem's ``pairwise_ld`` on the genotype matrix and
the whole ``seqem haplo ld`` command; best of 3 wall-clock seconds.  Writes
``benchmarks/results/bench_haplo.txt``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "haplotype" / "kgp3_chr1_11.7M"
VCF = DATA / "chr1_11697036-11836540.kgp3.vcf.gz"
RESULTS = REPO / "benchmarks" / "results"


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def first_snps(n: int) -> tuple[np.ndarray, list[int]]:
    import pysam

    rows, positions = [], []
    with pysam.VariantFile(str(VCF)) as f:
        for rec in f:
            if len(rec.alts or ()) != 1 or len(rec.ref) != 1 or len(rec.alts[0]) != 1:
                continue
            rows.append([-1 if None in s["GT"] else sum(s["GT"]) for s in rec.samples.values()])
            positions.append(rec.pos)
            if len(rows) == n:
                break
    return np.array(rows, dtype=np.int8).T, positions


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snps", type=int, default=1000)
    args = parser.parse_args(argv)
    if not VCF.exists():
        sys.exit(f"shared data not found: {VCF}")
    from seqem.haplo.ld import pairwise_ld

    g, pos = first_snps(args.snps)
    pairwise_ld(g[:, :10])  # load the compiled kernel
    lines = [
        f"LD of all pairs of the first {g.shape[1]} SNPs x {g.shape[0]} people; "
        "best of 3 wall seconds",
    ]
    seqem_core = best_of(lambda: pairwise_ld(g))
    lines.append(f"seqem pairwise_ld (genotypes in memory)   {seqem_core:8.2f}")
    region = f"1:{pos[0]}-{pos[-1]}"
    from seqem.io.vcf import read_genotypes

    t_read = best_of(lambda: read_genotypes(VCF, region=region))
    lines.append(f"seqem read_genotypes (the region)         {t_read:8.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        cli = [sys.executable, "-m", "seqem", "haplo", "ld", str(VCF), "--region", region,
               "-o", str(out / "ld.tsv")]  # fmt: skip
        probe = subprocess.run(cli, capture_output=True, text=True)
        if probe.returncode == 0:
            t = best_of(lambda: subprocess.run(cli, check=True, capture_output=True))
            lines.append(f"seqem haplo ld (whole command)            {t:8.2f}")
        else:
            lines.append("seqem haplo ld (whole command)            not available")
            t = None
        if shutil.which("plink1.9"):
            plink = ["plink1.9", "--vcf", str(VCF), "--double-id", "--chr", "1",
                     "--from-bp", str(pos[0]), "--to-bp", str(pos[-1]), "--snps-only",
                     "--r2", "dprime", "--ld-window", "999999", "--ld-window-kb", "999999",
                     "--ld-window-r2", "0", "--threads", "1", "--out", str(out / "pl")]  # fmt: skip
            tp = best_of(lambda: subprocess.run(plink, check=True, capture_output=True))
            lines.append(f"plink1.9 --r2 dprime (whole command)      {tp:8.2f}")
            lines.append(f"ratio plink / seqem pairwise_ld          {tp / seqem_core:8.2f}")
            if t is not None:
                lines.append(f"ratio plink / seqem haplo ld             {tp / t:8.2f}")
        else:
            lines.append("plink1.9 not installed: no PLINK column")
    print("\n".join(lines))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench_haplo.txt").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
