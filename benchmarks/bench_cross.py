"""Genetic-map estimation of experimental crosses: seqem against R/qtl's est.map.

Usage::

    python benchmarks/bench_cross.py                  # hyper and fake.bc from ../shared
    python benchmarks/bench_cross.py --repeat 5

For each cross: reading the CSV file, ``estimate_map`` over all chromosomes
(error_prob 1e-4, Haldane, tol 1e-6; best of ``--repeat`` runs after the
compiled kernels are loaded) and ``genotype_probabilities`` on every
chromosome.  Numba's load-from-cache cost is timed apart, in a fresh process.
When ``Rscript`` has the ``qtl`` package, R/qtl's ``est.map`` and
``calc.genoprob`` run in the same run on R/qtl's own copy of the data set
(the shared CSV files were exported from it; the summed ln L of both is
printed to show it is the same data), timed by ``system.time``, best of the
same number of runs; otherwise the figure of the shared README is printed.
Both run on one core.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "linkage"
CROSSES = {
    "hyper": SHARED / "rqtl_hyper" / "hyper.csv",
    "fake.bc": SHARED / "rqtl_fake_bc" / "fake.bc.csv",
}
README_FIGURE = {"hyper": "0.4-0.6 s (shared README)", "fake.bc": "not given"}

R_SCRIPT = r"""
suppressMessages(library(qtl))
args <- commandArgs(trailingOnly = TRUE)
data(list = args[1]); x <- get(args[1])
best <- function(f, k) min(sapply(seq_len(k), function(i) system.time(f())[["elapsed"]]))
k <- as.integer(args[2])
t_map <- best(function() est.map(x, error.prob = 1e-4, map.function = "haldane",
  tol = 1e-6, maxit = 10000), k)
t_gp <- best(function() calc.genoprob(x, step = 0, error.prob = 1e-4), k)
m <- est.map(x, error.prob = 1e-4, map.function = "haldane", tol = 1e-6, maxit = 10000)
cat(sprintf("RESULT %.4f %.4f %.7f\n", t_map, t_gp, sum(sapply(m, attr, "loglik"))))
"""


def best_of(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def have_rqtl() -> bool:
    if shutil.which("Rscript") is None:
        return False
    probe = subprocess.run(["Rscript", "-e", "library(qtl)"], capture_output=True, check=False)
    return probe.returncode == 0


def load_time() -> float:
    """Seconds for a fresh process to import seqem's cross module and run one tiny map."""
    code = (
        "import time; t=time.perf_counter();"
        "import numpy as np;"
        "from seqem.linkage.cross import em_iterate;"
        "em_iterate(np.array([[1, 2], [2, 2]], dtype=np.int8), np.array([0.1]), 'bc');"
        "print(time.perf_counter()-t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)

    from seqem.io.rqtl import read_cross
    from seqem.linkage.cross import estimate_map, genotype_probabilities

    r_ok = have_rqtl()
    print(f"seqem: one process, Numba kernels loaded from the cache in {load_time():.2f} s")
    r_note = "Rscript with qtl, its own copies of the same data sets"
    print("R/qtl: " + (r_note if r_ok else "absent (README figures)"))
    header = (
        f"{'cross':8s} {'markers':>7s} {'read':>7s} {'est_map':>8s} {'R est.map':>10s} "
        f"{'ratio':>6s} {'genoprob':>9s} {'R genoprob':>11s}"
    )
    print(header)
    for name, path in CROSSES.items():
        if not path.is_file():
            print(f"{name:8s} skipped: {path} not present")
            continue
        t_read = best_of(lambda p=path: read_cross(p), args.repeat)
        cross = read_cross(path)
        estimate_map(cross)  # compile or load the kernels
        t_map = best_of(lambda c=cross: estimate_map(c), args.repeat)

        def genoprob(c=cross):
            for chrom in c.chromosomes:
                genotype_probabilities(c, chrom.name)

        genoprob()
        t_gp = best_of(genoprob, args.repeat)
        n_mar = sum(len(c.markers) for c in cross.chromosomes)
        if r_ok:
            out = subprocess.run(
                ["Rscript", "-e", R_SCRIPT, name, str(args.repeat)],
                capture_output=True,
                text=True,
                check=True,
            )
            line = [v for v in out.stdout.splitlines() if v.startswith("RESULT")][-1]
            r_map, r_gp, r_ll = (float(v) for v in line.split()[1:])
            ll = sum(m.loglik for m in estimate_map(cross))
            print(f"{name:8s} ln L summed over chromosomes: seqem {ll:.7f}, R/qtl {r_ll:.7f}")
            r_map_s, r_gp_s = f"{r_map:.3f} s", f"{r_gp:.3f} s"
            ratio = f"{r_map / t_map:.1f}x"
        else:
            r_map_s, r_gp_s, ratio = README_FIGURE[name], "-", "-"
        print(
            f"{name:8s} {n_mar:7d} {t_read:6.3f}s {t_map:7.3f}s {r_map_s:>10s} {ratio:>6s} "
            f"{t_gp:8.3f}s {r_gp_s:>11s}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
