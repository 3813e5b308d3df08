"""Pedigree linkage speed: seqem beside FASTLINK (MLINK) in the same run.

    python benchmarks/bench_linkage.py [--what fastlink,curve,big,many,ilink] [--threads N]

``fastlink``: the shared MERLIN example (16 persons, 17 bits) as LINKAGE
post-makeped files, the trait with k adjacent markers (k = 1..5 from MRK3,
and every other window of five):
FASTLINK's MLINK (Debian package ``fastlink``) over a grid of 5
recombination fractions and the null against seqem's ``multipoint`` with the
trait at the same fractions to the left of MRK3 (everything from the loaded
data: trait and marker likelihoods, the scan, the null); seconds per
likelihood (6 of them either way) and the ratio, with the log-likelihoods
side by side.
``curve``: the shared 10-marker multipoint curve, 101 positions (goal 0.2 s).
``big``: a simulated 24-bit pedigree with 250 SNPs (multipoint LOD at the
markers): seconds and peak memory.
``many``: 100 simulated three-generation families x 500 SNPs.
``ilink`` (not in the default set: minutes): recombination-fraction EM on the
shared LINKAGE example (both pedigrees, ped 1 at 25 bits) from ILINK's start
(0.1197, 0.125); -2 ln L, the fractions and the iterations beside ILINK's
printed 148.457 (0.099, 0.001) and the exact maximum 148.44898 (0.098697, 0).

Every figure is the best of ``--repeat`` wall-clock runs after a warm-up
call (the compiled kernels loaded); BLAS and Numba threads as ``--threads``.
"""

from __future__ import annotations

import argparse
import math
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data" / "linkage"
MERLIN = SHARED / "merlin_parametric"


def best_of(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def merlin_data():
    from seqem.io.pedigree import read_merlin

    return read_merlin(
        *(str(MERLIN / f"parametric.{e}") for e in ("ped", "dat", "map", "freq", "model"))
    )


def write_linkage_subset(out: Path, k: int, thetas_grid: list[float], first: int = 3) -> None:
    """Trait + markers MRK(first)..MRK(first+k-1) of the shared LINKAGE files, post-makeped."""
    src = MERLIN / "linkage_format"
    dat = [line for line in (src / "parametric.dat").read_text().splitlines()]
    # blocks: 3 header lines, trait block (4 lines), 10 marker blocks (2 lines each), 3 tail lines
    trait = dat[3:7]
    markers = [dat[7 + 2 * j : 9 + 2 * j] for j in range(10)]
    chosen = list(range(first - 1, first - 1 + k))
    lines = [f"{k + 1} 0 0 5", dat[1], " ".join(str(i + 1) for i in range(k + 1)), *trait]
    for j in chosen:
        lines += markers[j]
    theta = 0.5 * (1 - math.exp(-0.2))
    lines += ["0 0", " ".join([f"{thetas_grid[0]:g}"] + [f"{theta:.10f}"] * (k - 1))]
    step = thetas_grid[1] - thetas_grid[0]
    lines += [f"1 {step:g} {thetas_grid[-1]:g}"]
    (out / "datafile.dat").write_text("\n".join(lines) + "\n")
    ped = []
    for line in (src / "parametric_post.ped").read_text().splitlines():
        t = line.split()
        if not t:
            continue
        pheno = t[9:]
        kept = [pheno[0]] + [x for j in chosen for x in pheno[1 + 2 * j : 3 + 2 * j]]
        ped.append(" ".join(t[:9] + kept))
    (out / "pedfile.dat").write_text("\n".join(ped) + "\n")


def bench_fastlink(repeat: int, threads: int) -> list[str]:
    from seqem.linkage.data import haldane_cm
    from seqem.linkage.lander_green import multipoint

    data = merlin_data()
    grid = [0.0, 0.1, 0.2, 0.3, 0.4]
    lines = [
        "",
        "Trait + k markers of the MERLIN example (17 bits): seconds per likelihood, "
        f"{len(grid)} fractions between the trait and the first marker and the null",
    ]
    lines.append("markers  seqem_s  fastlink_s  ratio  lnL_seqem(theta=.1)  lnL_fastlink")
    have = shutil.which("mlink") and shutil.which("unknown")
    # k = 1..5 markers from MRK3, then every other window of five
    windows = [(3, k) for k in range(1, 6)] + [(first, 5) for first in (1, 2, 4, 5, 6)]
    for first, k in windows:
        idx = [data.marker_index(f"MRK{j}") for j in range(first, first + k)]
        positions = data.markers[idx[0]].cm - haldane_cm(np.array(grid))

        def run_seqem(idx=idx, positions=positions):
            return multipoint(data, positions, markers=idx, n_threads=threads)

        run_seqem()
        t_seqem = best_of(run_seqem, repeat) / (len(grid) + 1)
        mp = run_seqem()
        ll = float(mp.lod[0, 1] * math.log(10.0) + mp.loglik_markers[0] + mp.loglik_trait[0])
        t_fl, ll_fl = float("nan"), float("nan")
        if have:
            with tempfile.TemporaryDirectory() as tmp:
                tmp_path = Path(tmp)
                write_linkage_subset(tmp_path, k, grid, first)

                def run_fl(tmp_path=tmp_path):
                    subprocess.run(["unknown"], cwd=tmp_path, check=True, capture_output=True)
                    subprocess.run(["mlink"], cwd=tmp_path, check=True, capture_output=True)

                try:
                    run_fl()
                    t_fl = best_of(run_fl, repeat) / (len(grid) + 1)
                    text = (tmp_path / "outfile.dat").read_text()
                    # blocks: the null (theta 1/2) first, then the grid
                    totals = [float(x.split()[1]) for x in text.splitlines()
                              if x.startswith("TOTALS")]  # fmt: skip
                    ll_fl = totals[2] if len(totals) > 2 else float("nan")
                except (subprocess.CalledProcessError, OSError, ValueError):
                    t_fl = float("nan")
        ratio = t_fl / t_seqem if t_fl == t_fl else float("nan")
        name = f"MRK{first}" + (f"-{first + k - 1}" if k > 1 else "")
        times = f"{t_seqem:7.4f}  {t_fl:10.4f}  {ratio:6.1f}"
        lines.append(f"{name:8} {times}  {ll:19.6f}  {ll_fl:12.6f}")
    if not have:
        lines.append("FASTLINK (mlink, unknown) not installed: apt-get install fastlink")
    return lines


def bench_curve(repeat: int, threads: int) -> list[str]:
    from seqem.linkage.lander_green import multipoint

    data = merlin_data()
    positions = np.arange(0.0, 101.0)
    multipoint(data, positions, n_threads=threads)
    t = best_of(lambda: multipoint(data, positions, n_threads=threads), repeat)
    mp = multipoint(data, positions, n_threads=threads)
    return ["", "MERLIN example, 10-marker multipoint curve, 101 positions (goal 0.2 s)",
            f"seqem multipoint  {t:.3f} s   (maximum {mp.total.max():.6f} at "
            f"{positions[int(np.argmax(mp.total))]:g} cM)"]  # fmt: skip


def simulated(n_families: int, layout: list[tuple[int, int, int, int]], n_snps: int, seed: int):
    """Families of the given layout with SNP genotypes passed down (1 cM apart) and a trait."""
    from seqem.linkage.data import Family, LinkageData, MarkerLocus, TraitModel

    rng = np.random.default_rng(seed)
    freqs = rng.uniform(0.2, 0.8, size=n_snps)
    fams, calls, status = [], [], []
    for f in range(n_families):
        ids = [str(p[0]) for p in layout]
        pos = {p[0]: k for k, p in enumerate(layout)}
        father = np.array([pos[p[1]] if p[1] else -1 for p in layout])
        mother = np.array([pos[p[2]] if p[2] else -1 for p in layout])
        sex = np.array([p[3] for p in layout])
        fam = Family(f"F{f}", tuple(ids), father, mother, sex)
        haps = np.zeros((len(ids), 2, n_snps), dtype=np.int16)
        for k in fam.order():
            if father[k] < 0:
                haps[k] = (rng.random((2, n_snps)) < freqs) + 1
            else:
                for side, parent in ((0, father[k]), (1, mother[k])):
                    strand = rng.integers(2)
                    switches = rng.random(n_snps) < 0.01
                    strands = (strand + np.cumsum(switches)) % 2
                    haps[k, side] = haps[parent, strands, np.arange(n_snps)]
        c = np.transpose(haps, (0, 2, 1)).copy()
        c[rng.random(len(ids)) < 0.1] = 0
        fams.append(fam)
        calls.append(c)
        status.append(rng.integers(1, 3, size=len(ids)).astype(np.int8))
    markers = [MarkerLocus(f"s{j}", ("1", "2"), np.array([1 - freqs[j], freqs[j]]), "1", float(j))
               for j in range(n_snps)]  # fmt: skip
    model = TraitModel("t", 0.01, np.array([[0.01, 0.8, 0.8]]))
    return LinkageData(fams, markers, calls, status, [np.ones(len(s), int) for s in status], model)


def bench_big(repeat: int, threads: int) -> list[str]:
    from seqem.linkage.lander_green import multipoint

    # 2 founders with 8 children; 4 spouses married in; 7 grandchildren: 2 x 15 - 6 = 24 bits
    layout = [(1, 0, 0, 1), (2, 0, 0, 2)] + [(3 + k, 1, 2, 1 + k % 2) for k in range(8)]
    layout += [(11, 0, 0, 2), (12, 0, 0, 1), (13, 0, 0, 2), (14, 0, 0, 1)]
    layout += [(15, 3, 11, 1), (16, 3, 11, 2), (17, 12, 4, 1), (18, 12, 4, 2), (19, 5, 13, 1),
               (20, 14, 6, 2), (21, 14, 6, 1)]  # fmt: skip
    data = simulated(1, layout, 250, seed=1)
    bits = data.families[0].bits()
    positions = np.arange(0.0, 250.0, 10.0)
    start = time.perf_counter()
    mp = multipoint(data, positions, n_threads=threads, max_bits=max(24, bits))
    t = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    return [
        "",
        f"Simulated pedigree, {len(layout)} persons ({bits} bits), 250 SNPs, "
        f"{positions.size} positions",
        f"seqem multipoint  {t:.1f} s, peak memory {peak:.2f} GiB (max LOD {mp.total.max():.3f})",
    ]


def bench_many(repeat: int, threads: int) -> list[str]:
    from seqem.linkage.lander_green import multipoint

    layout = [(1, 0, 0, 1), (2, 0, 0, 2), (3, 1, 2, 1), (4, 1, 2, 2), (5, 1, 2, 1), (6, 0, 0, 2),
              (7, 3, 6, 1), (8, 3, 6, 2)]  # fmt: skip
    data = simulated(100, layout, 500, seed=2)
    positions = np.arange(0.0, 500.0, 5.0)
    start = time.perf_counter()
    multipoint(data, positions, n_threads=threads)
    t = time.perf_counter() - start
    return ["", f"100 simulated families of 8 persons ({data.families[0].bits()} bits) x 500 SNPs, "
            f"{positions.size} positions", f"seqem multipoint  {t:.1f} s"]  # fmt: skip


def bench_ilink(repeat: int, threads: int) -> list[str]:
    from seqem.io.pedigree import read_linkage, read_linkage_datafile
    from seqem.linkage.mapping import estimate_recombination

    f = SHARED / "fastlink_example"
    data = read_linkage(str(f / "pedfile.dat"), str(f / "datafile.dat"))
    df = read_linkage_datafile(str(f / "datafile.dat"))
    order = [df.names[i] for i in df.order]
    start = time.perf_counter()
    fit = estimate_recombination(data, order, [0.1197, 0.125], max_bits=25, tol=1e-5,
                                 n_threads=threads)  # fmt: skip
    t = time.perf_counter() - start
    th = ", ".join(f"{x:.6g}" for x in fit.thetas)
    return ["", "LINKAGE example, recombination EM from ILINK's start (ped 1 at 25 bits)",
            f"seqem  {t:.1f} s, {fit.fit.n_iter} iterations, -2 ln L {-2 * fit.loglik:.6f}, "
            f"thetas ({th})",
            "ILINK  -2 ln L 148.457, thetas (0.099, 0.001); "
            "exact 148.44898 (0.098697, 0)"]  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--what", default="fastlink,curve,big,many")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    if not SHARED.is_dir():
        sys.exit("shared linkage data (../shared/data/linkage) not present")
    what = args.what.split(",")
    lines = [f"bench_linkage: threads {args.threads}, best of {args.repeat}"]
    for name, fn in (("fastlink", bench_fastlink), ("curve", bench_curve), ("big", bench_big),
                     ("many", bench_many), ("ilink", bench_ilink)):  # fmt: skip
        if name in what:
            lines += fn(args.repeat, args.threads)
            print("\n".join(lines), flush=True)
            lines = []


if __name__ == "__main__":
    main()
