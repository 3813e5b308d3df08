"""Haplotype frequencies against haplo.em, LD against PLINK 1.9, in the same run.

    python benchmarks/bench_haplo.py [--what freq,ld] [--snps 1000] [--samples 2000]

``freq``: the shared 20-SNP windows, EUR (503 people) and the first N people
of ALL (default 2,000): seqem's exact EM (``fit_haplotypes`` with its
defaults, genotypes in memory) against haplo.stats' ``haplo.em`` (its
defaults, ``n.try = 10``; the ``haplo.em()`` call only, timed inside R) on
the same genotypes; per-window seconds, log-likelihoods and the ratio of the
totals.

``ld``: the first N biallelic SNPs of the shared 1000 Genomes excerpt (2,504
people): PLINK 1.9 ``--r2 dprime`` over all pairs, writing its ``.ld`` file
(whole command), against seqem's ``pairwise_ld`` on the genotype matrix and
the whole ``seqem haplo ld`` command; best of 3 wall-clock seconds.  The
last row is the floor of any Python command that writes the same table:
starting the interpreter with NumPy and pysam and writing as many bytes.

Run by hand, never in CI.  Writes ``benchmarks/results/bench_haplo.txt``.
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


HAPLOEM_R = REPO / "tests" / "haplo" / "haploem.R"


def bench_freq(n_samples: int) -> list[str]:
    """seqem's exact EM against haplo.em on the 20-SNP windows."""
    import csv

    from seqem.haplo.em import fit_haplotypes
    from seqem.io.vcf import read_genotypes

    lines = ["", "Haplotype frequencies, 20-SNP windows: seconds per window (haplo.em: the "
             "haplo.em() call; seqem: fit_haplotypes, genotypes in memory)"]  # fmt: skip
    have_r = shutil.which("Rscript") is not None
    fit_haplotypes(np.array([[0, 1], [1, 2]], dtype=np.int8), n_init=2)  # load the kernels
    for subset, limit in (("EUR", None), ("ALL", n_samples)):
        with open(DATA / subset / "windows.tsv") as fh:
            wins = [w for w in csv.DictReader(fh, delimiter="\t") if w["size"] == "20"]
        lines.append(f"{subset}{'' if limit is None else f' (first {limit} people)'}: "
                     "window  seqem_s  haplo.em_s  ratio  lnL_seqem  lnL_haplo.em")  # fmt: skip
        total_s = total_h = 0.0
        with tempfile.TemporaryDirectory() as tmp:
            paths, ours = [], []
            for w in wins:
                g = read_genotypes(
                    str(DATA / subset / "unphased.vcf.gz"), region=f"1:{w['start']}-{w['end']}"
                )
                calls = g.calls if limit is None else g.calls[:limit]
                t = time.perf_counter()
                fit = fit_haplotypes(calls, random_state=1)
                ours.append((w["wid"], time.perf_counter() - t, fit.loglik_mle))
                path = Path(tmp) / f"{w['wid']}.tsv"
                rows = (" ".join("NA" if x < 0 else str(x) for x in r) for r in calls)
                path.write_text("\n".join(rows) + "\n")
                paths.append(str(path))
            theirs = {}
            if have_r:
                out = Path(tmp) / "haploem.tsv"
                subprocess.run(["Rscript", str(HAPLOEM_R), str(out), *paths], check=True)
                with open(out) as fh:
                    for r in csv.DictReader(fh, delimiter="\t"):
                        theirs[r["window"][:-4]] = (float(r["seconds"]), float(r["lnlike"]))
        for wid, sec, ll in ours:
            total_s += sec
            if wid in theirs:
                hs, hll = theirs[wid]
                total_h += hs
                lines.append(f"  {wid:8s} {sec:8.3f} {hs:10.3f} {hs / sec:7.1f} "
                             f"{ll:12.3f} {hll:12.3f}")  # fmt: skip
            else:
                lines.append(f"  {wid:8s} {sec:8.3f}  (haplo.em not run)")
        if theirs:
            lines.append(f"  total    {total_s:8.3f} {total_h:10.3f} {total_h / total_s:7.1f}")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--what", default="freq,ld", help="comma-separated: freq, ld")
    parser.add_argument("--snps", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=2000)
    args = parser.parse_args(argv)
    if not VCF.exists():
        sys.exit(f"shared data not found: {VCF}")
    what = set(args.what.split(","))
    lines = bench_freq(args.samples) if "freq" in what else []
    if "ld" in what:
        lines += bench_ld(args.snps)
    print("\n".join(lines))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench_haplo.txt").write_text("\n".join(lines) + "\n")


def bench_ld(n_snps: int) -> list[str]:
    """seqem's pairwise LD against PLINK 1.9, on one and on two threads."""
    import os

    from seqem.haplo.ld import pairwise_ld

    g, pos = first_snps(n_snps)
    pairwise_ld(g[:, :10])  # first call: BLAS start-up
    lines = [
        "",
        f"LD of all pairs of the first {g.shape[1]} SNPs x {g.shape[0]} people; "
        "best of 3 wall seconds",
    ]
    seqem_core = best_of(lambda: pairwise_ld(g))
    lines.append(f"seqem pairwise_ld (genotypes in memory)       {seqem_core:8.2f}")
    region = f"1:{pos[0]}-{pos[-1]}"
    from seqem.io.vcf import read_genotypes

    t_read = best_of(lambda: read_genotypes(VCF, region=region))
    lines.append(f"seqem read_genotypes (the region)             {t_read:8.2f}")
    # the commands as a user runs them: byte code cached after the first run
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for threads in (1, 2):
            cli = [sys.executable, "-m", "seqem", "haplo", "ld", str(VCF), "--region", region,
                   "-o", str(out / "ld.tsv"), "--threads", str(threads), "-q"]  # fmt: skip
            run_env = dict(env, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
            probe = subprocess.run(cli, capture_output=True, text=True, env=run_env)
            t = None
            if probe.returncode == 0:
                t = best_of(lambda: subprocess.run(cli, check=True, env=run_env))  # noqa: B023
                lines.append(f"seqem haplo ld, {threads} thread(s) (whole command) {t:8.2f}")
            else:
                lines.append("seqem haplo ld (whole command)                not available")
            if not shutil.which("plink1.9"):
                lines.append("plink1.9 not installed: no PLINK column")
                continue
            plink = ["plink1.9", "--vcf", str(VCF), "--double-id", "--chr", "1",
                     "--from-bp", str(pos[0]), "--to-bp", str(pos[-1]), "--snps-only",
                     "--r2", "dprime", "--ld-window", "999999", "--ld-window-kb", "999999",
                     "--ld-window-r2", "0", "--threads", str(threads),
                     "--out", str(out / "pl")]  # fmt: skip
            tp = best_of(lambda: subprocess.run(plink, check=True, capture_output=True))  # noqa: B023
            lines.append(f"plink1.9 --r2 dprime, {threads} thread(s) (whole)   {tp:8.2f}")
            if threads == 1:
                lines.append(f"ratio plink / seqem pairwise_ld              {tp / seqem_core:8.2f}")
            if t is not None:
                lines.append(f"ratio plink / seqem haplo ld, {threads} thread(s)     {tp / t:8.2f}")
        if (out / "ld.tsv").is_file():
            lines.append(start_up_floor(out, (out / "ld.tsv").stat().st_size, env))
    return lines


#: What any Python command that writes the LD table pays before it reads a
#: genotype: the interpreter, NumPy and pysam started, and the table's bytes
#: written to a file.
_FLOOR = (
    "import sys\n"
    "import numpy, pysam\n"
    "with open(sys.argv[1], 'wb') as f:\n"
    "    f.write(bytes(int(sys.argv[2])))\n"
)


def start_up_floor(out: Path, size: int, env: dict[str, str]) -> str:
    """Wall time of :data:`_FLOOR` for a table of ``size`` bytes, best of 3."""
    cmd = [sys.executable, "-c", _FLOOR, str(out / "floor.bin"), str(size)]
    t = best_of(lambda: subprocess.run(cmd, check=True, env=env))
    return f"floor: python + numpy + pysam, {size / 1e6:.0f} MB written  {t:8.2f}"


if __name__ == "__main__":
    main()
