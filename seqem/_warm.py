"""Compile (or load from the cache) every Numba kernel once.

Run as ``python -m seqem._warm`` before a test suite or a workflow, so that
later processes load compiled kernels from the on-disk cache instead of each
paying the compilation.
"""

from __future__ import annotations

import time
import warnings


def warm() -> float:
    """Exercise every kernel on tiny inputs; return the seconds it took."""
    import numpy as np

    from .hmm.models import CategoricalHMM, GaussianHMM

    start = time.perf_counter()
    rng = np.random.default_rng(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Xc = rng.integers(-1, 4, size=40)
        Xc[Xc < 0] = 0
        m = CategoricalHMM(2, n_features=4, random_state=0, max_iter=2).fit(Xc, [20, 20])
        m.predict(Xc)
        m.score(Xc)
        m.sample(5, random_state=0)
        for cov in ("diag", "full"):
            Xg = rng.normal(size=(40, 2))
            g = GaussianHMM(2, covariance_type=cov, random_state=0, max_iter=2).fit(Xg)
            g.predict(Xg)
            g.score(Xg)
    return time.perf_counter() - start


if __name__ == "__main__":
    print(f"numba kernels ready in {warm():.1f} s")
