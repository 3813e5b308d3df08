"""Gaussian mixtures against scikit-learn, deconvolution against nu-SVR (by hand, not in CI).

    python benchmarks/bench_mixture.py [--n 1000000] [--iters 5] [--repeat 3] [--what gmm,deconv]
    python benchmarks/bench_mixture.py --what large   # 10,000 samples x 20,000 genes x 20 types
    python benchmarks/bench_mixture.py --what large --threads 1   # the same on one thread
    python benchmarks/bench_mixture.py --what paths   # the robust fit's two batched paths

``gmm``: for d in {2, 10, 50}, K in {4, 16}, covariance full and diag, both
estimators start from the same parameters and run the same number of EM
iterations (tol 0) on the same n x d data; seconds per iteration (the best of
``--repeat`` fits, after a small fit that loads the compiled kernels), seqem
on one and two threads (``n_threads``; BLAS limited to as many through
threadpoolctl when installed) and scikit-learn on one, and the ratio.

``deconv``: every shared deconvolution set (../shared/data/deconvolution):
seqem's multinomial EM, its robust default and a nu-SVR (CIBERSORT's recipe:
linear kernel, nu in {0.25, 0.5, 0.75}, scaled data, the best fit kept) on
the same matrices; seconds and the ratios.

``paths``: the robust fit of 256 simulated samples through each sample's
compiled EM and through blocks of samples with BLAS products, over genes x
types (where ``seqem.deconv.robust.COMPILED_WORK`` puts the switch).

Writes ``benchmarks/results/bench_mixture.txt`` (gmm),
``bench_mixture_deconv.txt`` (deconv), ``bench_mixture_paths.txt`` (paths) and
``bench_mixture_large.txt`` (large).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
import warnings
from functools import partial
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
sys.path.insert(0, str(REPO / "tests"))


def blas_threads(n: int):
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional
        return contextlib.nullcontext()
    return threadpool_limits(limits=n, user_api="blas")


def best_time(fit, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fit()
        best = min(best, time.perf_counter() - t)
    return best


def bench_gmm(n: int, iters: int, repeat: int) -> list[str]:
    from sklearn.mixture import GaussianMixture as SK

    from seqem.mixture.gmm import GaussianMixture

    rng = np.random.default_rng(0)
    lines = [
        f"GaussianMixture, n = {n:,}, {iters} EM iterations from the same start; "
        f"seconds per iteration, best of {repeat}",
        "d  K  type  seqem_1thr  seqem_2thr  sklearn_1thr  ratio_1  ratio_2",
    ]
    for d in (2, 10, 50):
        for K in (4, 16):
            X = rng.normal(size=(n, d)) + rng.integers(0, K, size=(n, 1))
            for ct in ("full", "diag"):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    start = SK(K, covariance_type=ct, max_iter=1, init_params="random_from_data",
                               random_state=0).fit(X[:20000])  # fmt: skip
                    init = dict(
                        weights_init=start.weights_, means_init=start.means_,
                        precisions_init=start.precisions_, max_iter=iters, tol=0,
                        init_params="random_from_data",
                    )  # fmt: skip
                    GaussianMixture(K, covariance_type=ct, **init).fit(X[:1000])  # load kernels
                    times = {}
                    for threads in (1, 2):
                        ours = GaussianMixture(K, covariance_type=ct, n_threads=threads, **init)
                        with blas_threads(threads):
                            times[threads] = best_time(partial(ours.fit, X), repeat) / iters
                    with blas_threads(1):
                        theirs = SK(K, covariance_type=ct, **init)
                        sk = best_time(partial(theirs.fit, X), repeat) / iters
                lines.append(f"{d:<2} {K:<2} {ct:<5} {times[1]:10.3f} {times[2]:11.3f} "
                             f"{sk:13.3f} {sk / times[1]:8.2f} {sk / times[2]:8.2f}")  # fmt: skip
                print(lines[-1], flush=True)
    return lines


def nu_svr(Y: np.ndarray, S: np.ndarray) -> np.ndarray:
    from sklearn.svm import NuSVR

    Sz = (S - S.mean()) / S.std()
    out = np.empty((Y.shape[1], S.shape[1]))
    for j in range(Y.shape[1]):
        y = (Y[:, j] - Y[:, j].mean()) / Y[:, j].std()
        best = None
        for nu in (0.25, 0.5, 0.75):
            m = NuSVR(kernel="linear", C=1.0, nu=nu).fit(Sz, y)
            w = np.maximum(m.coef_.ravel(), 0)
            rmse = np.sqrt(((Sz @ w - y) ** 2).mean())
            if best is None or rmse < best[0]:
                best = (rmse, w)
        out[j] = best[1] / best[1].sum() if best[1].sum() > 0 else np.nan
    return out


def bench_deconv() -> list[str]:
    from deconv.test_mixture import CASES, SHARED, dataset

    from seqem.deconv.mixture import multinomial_em
    from seqem.deconv.robust import robust_fit

    lines = ["", "Deconvolution: seconds for the whole set (in process, best of 3)",
             "set  seqem_em  seqem_robust  nu_svr  ratio_em  ratio_robust"]  # fmt: skip
    if not SHARED.is_dir():
        return [*lines, "shared deconvolution data not found"]
    for name, variant in CASES:
        Y, S, _ = dataset(name, variant)
        multinomial_em(Y, S)  # the compiled kernels loaded
        robust_fit(Y, S)
        ours = best_time(partial(multinomial_em, Y, S), 3)
        robust = best_time(partial(robust_fit, Y, S), 3)
        svr = best_time(partial(nu_svr, Y, S), 3)
        lines.append(f"{name}{variant}  {ours:.4f}  {robust:.4f}  {svr:.3f}  {svr / ours:.1f}  "
                     f"{svr / robust:.1f}")  # fmt: skip
        print(lines[-1], flush=True)
    return lines


def bench_large(n_samples: int, n_robust: int, threads: int) -> list[str]:
    """The issue's scale case: n_samples x 20,000 genes x 20 cell types (simulated counts)."""
    from seqem.deconv.mixture import multinomial_em
    from seqem.deconv.robust import robust_fit

    rng = np.random.default_rng(0)
    genes, types = 20_000, 20
    S = rng.gamma(0.5, 100, size=(genes, types))
    P = rng.dirichlet(np.ones(types), size=n_samples)
    Y = rng.poisson(S @ P.T).astype(float)
    lines = ["", f"Deconvolution at scale: {n_samples} samples x {genes} genes x {types} types, "
             f"--threads {threads} (goal: under 10 s)"]  # fmt: skip
    multinomial_em(Y[:, :2], S)  # load the code paths
    t = time.perf_counter()
    multinomial_em(Y, S, n_threads=threads)
    em = time.perf_counter() - t
    lines.append(f"seqem --method {'em':<12} {em:8.1f} s for all {n_samples} samples")
    robust_fit(Y[:, :2], S)
    scale = n_samples / n_robust
    # as `seqem deconv run` fits by default, then with --se (the sandwich covariances)
    for label, se in (("robust", False), ("robust --se", True)):
        t = time.perf_counter()
        fit = robust_fit(Y[:, :n_robust], S, n_threads=threads, standard_errors=se)
        rob = time.perf_counter() - t
        if n_robust == n_samples:
            lines.append(f"seqem --method {label:<12} {rob:8.1f} s for all {n_samples} samples")
        else:
            lines.append(f"seqem --method {label:<12} {rob:8.1f} s for {n_robust} samples "
                         f"(extrapolated x {scale:g}: {rob * scale:.0f} s)")  # fmt: skip
        print(lines[-1], flush=True)
    updates = np.mean([f.n_iter for f in fit.fits])
    lines.append(f"robust EM updates per sample, mean {updates:.1f}")
    lines.append("load average (1, 5, 15 min) at the end: " + " ".join(
        f"{x:.2f}" for x in os.getloadavg()))  # fmt: skip
    print("\n".join(lines), flush=True)
    return lines


def bench_paths(repeat: int) -> list[str]:
    """The robust fit's two batched paths on 256 simulated samples (two threads): each
    sample's EM in compiled code against blocks of samples with BLAS products, over
    genes x types; ``COMPILED_WORK`` (genes x k(k+1)/2) chooses between them."""
    import seqem.deconv.robust as R

    rng = np.random.default_rng(0)
    title = (
        f"Robust fit, 256 simulated count samples, 2 threads: seconds (best of {repeat}) "
        f"by path; the default is compiled up to COMPILED_WORK = {R.COMPILED_WORK:,}"
    )
    header = "genes  types  genes*k(k+1)/2  compiled  blocks  blocks/compiled  default"
    lines = ["", title, header]
    default = R.COMPILED_WORK
    try:
        for genes, k in [(500, 5), (500, 20), (1000, 20), (2000, 10), (2000, 20), (4000, 5),
                         (4000, 20), (8000, 5), (8000, 20), (20000, 5), (20000, 20)]:  # fmt: skip
            S = rng.gamma(0.5, 100, size=(genes, k))
            Y = rng.poisson(S @ rng.dirichlet(np.ones(k), size=256).T).astype(float)
            seconds = []
            for work in (10**15, 0):
                R.COMPILED_WORK = work
                R.robust_fit(Y[:, :2], S)  # the compiled kernels loaded
                seconds.append(best_time(partial(R.robust_fit, Y, S, n_threads=2), repeat))
            size = genes * k * (k + 1) // 2
            chosen = "compiled" if size <= default else "blocks"
            lines.append(f"{genes}  {k}  {size}  {seconds[0]:.3f}  {seconds[1]:.3f}  "
                         f"{seconds[1] / seconds[0]:.2f}  {chosen}")  # fmt: skip
            print(lines[-1], flush=True)
    finally:
        R.COMPILED_WORK = default
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3, help="fits per timing; the best counts")
    parser.add_argument("--what", default="gmm,deconv",
                        help="gmm, deconv and/or paths; or large")  # fmt: skip
    parser.add_argument("--large-samples", type=int, default=10_000)
    parser.add_argument("--large-robust", type=int, default=200,
                        help="samples timed for the robust method at scale")  # fmt: skip
    parser.add_argument("--threads", type=int, default=0,
                        help="threads of the fits at scale (0: every available core)")  # fmt: skip
    args = parser.parse_args(argv)
    what = set(args.what.split(","))
    if what == {"large"}:
        lines = bench_large(args.large_samples, args.large_robust, args.threads)
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "bench_mixture_large.txt").write_text(
            "\n".join(lines) + f"\ncommand: python benchmarks/bench_mixture.py --what large "
            f"--large-samples {args.large_samples} --large-robust {args.large_robust} "
            f"--threads {args.threads}\n"
        )
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    # each part keeps its own results file, so running one leaves the other's
    if "gmm" in what:
        lines = bench_gmm(args.n, args.iters, args.repeat)
        (RESULTS / "bench_mixture.txt").write_text(
            "\n".join(lines) + f"\ncommand: python benchmarks/bench_mixture.py --n {args.n} "
            f"--iters {args.iters} --repeat {args.repeat} --what gmm\n"
        )
    if "deconv" in what:
        lines = bench_deconv()
        (RESULTS / "bench_mixture_deconv.txt").write_text(
            "\n".join(lines) + "\ncommand: python benchmarks/bench_mixture.py --what deconv\n"
        )
    if "paths" in what:
        lines = bench_paths(args.repeat)
        (RESULTS / "bench_mixture_paths.txt").write_text(
            "\n".join(lines) + f"\ncommand: python benchmarks/bench_mixture.py --what paths "
            f"--repeat {args.repeat}\n"
        )


if __name__ == "__main__":
    main()
