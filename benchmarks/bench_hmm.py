"""Baum-Welch iteration time: seqem against hmmlearn, in the same run.

Usage::

    python benchmarks/bench_hmm.py                 # the full table
    python benchmarks/bench_hmm.py --quick         # smaller T, for a smoke run
    python benchmarks/bench_hmm.py --no-log        # skip hmmlearn's slow log-space mode

Each case fits from the same fixed parameters.  One seqem iteration is one
E-step (scaled forward-backward, expected counts) plus one M-step, timed as
``(fit(max_iter=k) - fit(max_iter=0)) / k``; one hmmlearn iteration is
``fit(n_iter=1)`` with ``init_params=""`` (hmmlearn runs one E-step and one
M-step).  hmmlearn runs on one thread; seqem is timed on one thread and on
two.  Numba compilation is measured apart: in fresh processes with an empty
cache (compile) and with a warm cache (load).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

warnings.simplefilter("ignore")


def best_of(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def make_case(kind, n_states, T, n_seq, rng):
    lengths = np.full(n_seq, T // n_seq)
    p = {
        "startprob_": rng.dirichlet(np.ones(n_states)),
        "transmat_": rng.dirichlet(np.ones(n_states), size=n_states),
    }
    if kind == "categorical":
        p["emissionprob_"] = rng.dirichlet(np.ones(4), size=n_states)
        X = rng.integers(0, 4, size=int(lengths.sum()))[:, None]
    else:
        d = 4
        p["means_"] = rng.normal(size=(n_states, d)) * 2
        p["covars_"] = rng.uniform(0.5, 2.0, size=(n_states, d))
        X = rng.normal(size=(int(lengths.sum()), d)) * 2
    return p, X, lengths


def seqem_iteration(kind, p, X, lengths, n_threads, repeat):
    import seqem

    def build(max_iter):
        if kind == "categorical":
            m = seqem.CategoricalHMM(
                len(p["startprob_"]), n_features=4, init_params="", max_iter=max_iter, tol=0
            )
        else:
            m = seqem.GaussianHMM(len(p["startprob_"]), init_params="", max_iter=max_iter, tol=0)
        m.n_threads = n_threads
        for k, v in p.items():
            setattr(m, k, v.copy())
        return m

    k = 2
    t_k = best_of(lambda: build(k).fit(X, lengths), repeat)
    t_0 = best_of(lambda: build(0).fit(X, lengths), repeat)
    return max(t_k - t_0, 1e-9) / k


def hmmlearn_iteration(kind, p, X, lengths, implementation, repeat):
    from hmmlearn import hmm

    def run():
        n = len(p["startprob_"])
        if kind == "categorical":
            m = hmm.CategoricalHMM(
                n, n_features=4, init_params="", n_iter=1, tol=0, implementation=implementation
            )
        else:
            m = hmm.GaussianHMM(n, init_params="", n_iter=1, tol=0, implementation=implementation)
        for k, v in p.items():
            setattr(m, k, v.copy())
        m.fit(X, lengths)

    return best_of(run, repeat)


COMPILE_SNIPPET = """
import time, numpy as np, warnings
warnings.simplefilter("ignore")
t0 = time.perf_counter()
import seqem
Xg = np.random.default_rng(0).normal(size=(60, 2))
models = [
    (seqem.CategoricalHMM(3, random_state=0, max_iter=2), np.arange(60) % 4),
    (seqem.GaussianHMM(3, random_state=0, max_iter=2), Xg),
    (seqem.GaussianHMM(3, covariance_type="full", random_state=0, max_iter=2), Xg),
]
for m, X in models:
    m.fit(X); m.predict(X); m.score(X); m.sample(10, random_state=0)
print(time.perf_counter() - t0)
"""


def compile_times():
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        out = []
        for _ in range(2):
            res = subprocess.run(
                [sys.executable, "-c", COMPILE_SNIPPET], env=env, capture_output=True, text=True
            )
            out.append(float(res.stdout.strip().splitlines()[-1]))
        return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="T = 100,000 instead of 1,000,000")
    ap.add_argument("--no-log", action="store_true", help="skip hmmlearn implementation='log'")
    ap.add_argument("--repeat", type=int, default=2, help="best of this many runs (default 2)")
    args = ap.parse_args(argv)

    import hmmlearn
    import numba

    import seqem

    T = 100_000 if args.quick else 1_000_000
    cases = [
        ("categorical", 4),
        ("categorical", 16),
        ("categorical", 64),
        ("gaussian", 4),
        ("gaussian", 16),
    ]
    print(
        f"seqem {seqem.__version__}, hmmlearn {hmmlearn.__version__}, numba {numba.__version__}, "
        f"numpy {np.__version__}; T = {T:,} as 100 sequences; seconds per Baum-Welch iteration"
    )
    cold, warm = compile_times()
    print(
        f"first call in a fresh process: {cold:.2f} s with an empty Numba cache (compile), "
        f"{warm:.2f} s with a warm cache"
    )
    header = (
        f"{'model':<12}{'N':>4}{'hmmlearn log':>14}{'hmmlearn scal':>15}{'seqem 1 thr':>13}"
        f"{'seqem 2 thr':>13}{'x log':>8}{'x scal':>8}{'2thr/1thr':>11}"
    )
    print(header)
    print("-" * len(header))
    rng = np.random.default_rng(2026)
    for kind, n in cases:
        p, X, lengths = make_case(kind, n, T, 100, rng)
        # warm up (compile or load) before timing
        seqem_iteration(kind, p, X[:2000], [1000, 1000], 1, 1)
        s1 = seqem_iteration(kind, p, X, lengths, 1, args.repeat)
        s2 = seqem_iteration(kind, p, X, lengths, 2, args.repeat)
        h_scal = hmmlearn_iteration(kind, p, X, lengths, "scaling", 1)
        h_log = float("nan") if args.no_log else hmmlearn_iteration(kind, p, X, lengths, "log", 1)
        print(
            f"{kind:<12}{n:>4}{h_log:>14.3f}{h_scal:>15.3f}{s1:>13.3f}{s2:>13.3f}"
            f"{h_log / s1:>8.1f}{h_scal / s1:>8.1f}{s1 / s2:>11.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
