"""Long-window haplotypes (cluster HMM) on 1000 Genomes: accuracy and time (by hand).

    python benchmarks/bench_haplo_long.py [--sets EUR,ALL] [--sizes 40,100,200]
        [--mode window|region|both] [--threads 2]

Data: the shared excerpt of chr1 (1000 Genomes phase 3, SNPs with MAF >=
0.05).  For each set (EUR: 503 people, ALL: 2,504) and each window of the
requested sizes in the set's ``windows.tsv``:

* ``window`` mode reads the window's genotypes with
  ``read_genotypes(unphased.vcf.gz, region="1:start-end")`` (the SNP count
  must equal the window size), fits the cluster model, phases and counts
  the window's haplotypes; the time is all of that;
* ``region`` mode fits and phases all of the set's SNPs once and counts
  every window from that phase (flanking SNPs help the window's edges); the
  time is reported once for the region.

Accuracy: TVD = 0.5 sum |f_hat - f_true| over the union of haplotypes, the
truth being ``truth_freqs.tsv.gz`` (haplotypes of the phased original); the
switch-error rate against the true phase (switches between consecutive
heterozygous SNPs of a person within the window / (heterozygous SNPs - 1),
pooled over people and windows).  The mean TVD of PLINK 1.07 and Beagle 5.4
on the same windows is read from the set's reference tables.  Writes
``benchmarks/results/bench_haplo_long.txt``.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "haplotype" / "kgp3_chr1_11.7M"
PHASED = DATA / "chr1_11697036-11836540.kgp3.vcf.gz"
RESULTS = REPO / "benchmarks" / "results"
sys.path.insert(0, str(REPO))  # this checkout's seqem, whatever is installed


def table(path: Path) -> list[dict[str, str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def true_phase(set_dir: Path, snps: list[dict[str, str]]) -> np.ndarray:
    """First haplotype of every person (n_people, n_snps) from the phased original."""
    import pysam

    samples = [s.strip() for s in open(set_dir / "samples.txt") if s.strip()]
    want = {(int(s["pos"]), s["ref"], s["alt"]): int(s["idx"]) for s in snps}
    out = np.full((len(samples), len(snps)), -1, dtype=np.int8)
    with pysam.VariantFile(str(PHASED)) as f:
        f.subset_samples(samples)
        for rec in f:
            if len(rec.alts or ()) != 1:
                continue
            j = want.get((rec.pos, rec.ref, rec.alts[0]))
            if j is not None:
                out[:, j] = [s["GT"][0] for s in rec.samples.values()]
    if (out < 0).any():
        sys.exit("some SNPs of snps.tsv are missing from the phased original")
    return out


def tvd(est: dict[str, float], true: dict[str, float]) -> float:
    total = sum(est.values())
    return 0.5 * sum(abs(est.get(h, 0.0) / total - true.get(h, 0.0)) for h in set(est) | set(true))


def switches(hap1: np.ndarray, calls: np.ndarray, true1: np.ndarray) -> tuple[int, int]:
    """Switch errors and opportunities (consecutive heterozygous pairs), pooled."""
    n_switch = n_pairs = 0
    for i in range(calls.shape[0]):
        het = np.flatnonzero(calls[i] == 1)
        if het.size < 2:
            continue
        agree = hap1[i, het] == true1[i, het]
        n_switch += int(np.sum(agree[1:] != agree[:-1]))
        n_pairs += het.size - 1
    return n_switch, n_pairs


def reference_tvd(set_dir: Path) -> dict[tuple[str, int], float]:
    out = {}
    path = DATA / "reference" / set_dir.name / "scores_summary.tsv"
    for row in table(path):
        if row["method"] in ("plink107", "beagle", "haploem") and row["mean_tvd"]:
            out[(row["method"], int(row["size"]))] = float(row["mean_tvd"])
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="EUR,ALL")
    parser.add_argument("--sizes", default="40,100,200")
    parser.add_argument("--mode", choices=("window", "region", "both"), default="both")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--clusters", type=int, default=12)
    parser.add_argument("--n-init", type=int, default=4)
    parser.add_argument("--max-iter", type=int, default=20)
    parser.add_argument("--refine", type=int, default=8)
    parser.add_argument("--n-ref", type=int, default=96)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output", default=str(RESULTS / "bench_haplo_long.txt"))
    args = parser.parse_args(argv)
    if not PHASED.exists():
        sys.exit(f"shared data not found: {PHASED}")
    from seqem.haplo.cluster import fit_clusters, haplotype_frequencies, phase_clusters
    from seqem.io.vcf import read_genotypes

    sizes = [int(s) for s in args.sizes.split(",")]
    modes = ("window", "region") if args.mode == "both" else (args.mode,)
    fit_kw = dict(
        n_clusters=args.clusters,
        n_init=args.n_init,
        max_iter=args.max_iter,
        random_state=args.seed,
        n_threads=args.threads,
    )
    phase_kw = dict(refine=args.refine, n_ref=args.n_ref, n_threads=args.threads)

    # compile (or load) the kernels once, apart from the timings
    t = time.perf_counter()
    tiny = np.random.default_rng(0).integers(0, 3, size=(20, 8)).astype(np.int8)
    tiny_fit = fit_clusters(tiny, n_clusters=2, n_init=1, max_iter=2, random_state=0)
    phase_clusters(tiny, tiny_fit, refine=1, n_ref=4)
    compile_s = time.perf_counter() - t

    lines = [
        "Cluster-HMM haplotypes of 1000 Genomes windows (chr1:11.70-11.84 Mb, MAF >= 0.05)",
        f"K={args.clusters} clusters, {args.n_init} starts x {args.max_iter} EM iterations, "
        f"{args.refine} refinement rounds with {args.n_ref} reference haplotypes, "
        f"{args.threads} threads, seed {args.seed}; kernels loaded/compiled in {compile_s:.1f} s; "
        f"load average at start {os.getloadavg()[0]:.2f}",
        "",
        f"{'set':4} {'mode':7} {'snps':>4} {'windows':>7} {'mean_tvd':>9} {'switch':>7} "
        f"{'seconds':>8} {'plink1.07':>9} {'beagle5.4':>9} {'haploem':>9}",
    ]
    print("\n".join(lines), flush=True)
    for name in args.sets.split(","):
        set_dir = DATA / name
        snps = table(set_dir / "snps.tsv")
        windows = table(set_dir / "windows.tsv")
        truth: dict[str, dict[str, float]] = {}
        for row in table(set_dir / "truth_freqs.tsv.gz"):
            truth.setdefault(row["wid"], {})[row["hap"]] = float(row["freq"])
        true1 = true_phase(set_dir, snps)
        refs = reference_tvd(set_dir)
        vcf = str(set_dir / "unphased.vcf.gz")
        for mode in modes:
            region_s = 0.0
            if mode == "region":
                t = time.perf_counter()
                geno = read_genotypes(vcf, region=f"1:{snps[0]['pos']}-{snps[-1]['pos']}")
                if geno.n_snps != len(snps):
                    sys.exit(f"{name}: read {geno.n_snps} SNPs, snps.tsv has {len(snps)}")
                fit = fit_clusters(geno.calls, **fit_kw)
                phased = phase_clusters(geno.calls, fit, **phase_kw)
                region_s = time.perf_counter() - t
            for size in sizes:
                scores, n_switch, n_pairs, seconds = [], 0, 0, []
                for w in windows:
                    if int(w["size"]) != size:
                        continue
                    lo, hi = int(w["first"]), int(w["last"])
                    if mode == "window":
                        t = time.perf_counter()
                        g = read_genotypes(vcf, region=f"1:{w['start']}-{w['end']}")
                        if g.n_snps != size:
                            sys.exit(f"{name} {w['wid']}: read {g.n_snps} SNPs, expected {size}")
                        wfit = fit_clusters(g.calls, **fit_kw)
                        wph = phase_clusters(g.calls, wfit, **phase_kw)
                        est = haplotype_frequencies(g.calls, wfit, phased=wph).as_dict()
                        seconds.append(time.perf_counter() - t)
                        s, p = switches(wph.hap1, g.calls, true1[:, lo : hi + 1])
                    else:
                        est = haplotype_frequencies(
                            geno.calls, fit, first=lo, last=hi, phased=phased
                        ).as_dict()
                        s, p = switches(
                            phased.hap1[:, lo : hi + 1],
                            geno.calls[:, lo : hi + 1],
                            true1[:, lo : hi + 1],
                        )
                    scores.append(tvd(est, truth[w["wid"]]))
                    n_switch += s
                    n_pairs += p
                if not scores:
                    continue
                secs = float(np.mean(seconds)) if seconds else region_s
                ref = [refs.get((m, size)) for m in ("plink107", "beagle", "haploem")]
                ref_s = " ".join(f"{x:9.3f}" if x is not None else f"{'-':>9}" for x in ref)
                line = (
                    f"{name:4} {mode:7} {size:4d} {len(scores):7d} {np.mean(scores):9.3f} "
                    f"{n_switch / max(n_pairs, 1):7.4f} {secs:8.1f} {ref_s}"
                )
                lines.append(line)
                print(line, flush=True)
    lines += [
        "",
        "seconds: window mode, mean per window (read + fit + phase + count);",
        "region mode, once for all of the set's SNPs (read + fit + phase).",
        f"load average at the end {os.getloadavg()[0]:.2f} (other work on the machine slows the"
        " timings)",
        f"command: python benchmarks/bench_haplo_long.py {' '.join(argv or sys.argv[1:])}".rstrip(),
    ]
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
