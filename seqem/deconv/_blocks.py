"""Passes over a bulk matrix for many samples at once, as BLAS products on cached blocks.

Both deconvolution fits evaluate, for every sample ``j`` still being
fitted, sums over the genes of functions of ``y_gj`` and of a fitted value
``(A x_j)_g`` that is linear in the sample's parameters ``x_j`` (``k`` of
them).  Sample by sample that is two matrix-vector products per update with
the whole ``genes x k`` matrix ``A``; here the samples are cut into blocks
of :data:`BLOCK` columns and the genes into chunks of :data:`CHUNK` rows, so
that for each (chunk, block) the fitted values are one matrix product, the
per-gene work runs on arrays that stay in cache, and the sums over the
genes are matrix products again (``A_chunk^T`` times a chunk of per-gene
values), including the weighted cross-products ``sum_g w_gj a_gk a_gl``
(as ``k(k+1)/2`` packed columns ``a_gk a_gl``) that Newton and least-squares
steps need.  Blocks run on a pool of threads (NumPy and BLAS release the
GIL), each calling a single-threaded BLAS.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from .._jit import resolve_threads, threads

#: Samples per block (columns of the fitted-value arrays).
BLOCK = 128
#: Genes per chunk (rows of the fitted-value arrays); a chunk of a block is
#: 1 MiB of float64, so the few per-gene arrays of a pass stay in cache.
CHUNK = 1024


@functools.lru_cache(maxsize=64)
def pair_index(k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of each packed upper-triangle entry of a ``k x k`` matrix (read-only)."""
    iu, ju = np.triu_indices(k)
    iu.flags.writeable = False
    ju.flags.writeable = False
    return iu, ju


def unpack(packed: np.ndarray, k: int) -> np.ndarray:
    """Symmetric matrices ``(n, k, k)`` from packed upper triangles ``(n, k(k+1)/2)``."""
    iu, ju = pair_index(k)
    out = np.empty((packed.shape[0], k, k))
    out[:, iu, ju] = packed
    out[:, ju, iu] = packed
    return out


def one_blas_thread() -> Any:
    """BLAS on one thread while the blocks run on ours; a no-op without threadpoolctl."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


class BlockedMatrix:
    """A genes x samples matrix with a design ``A`` (genes x k), cut into chunks and blocks.

    Parameters
    ----------
    y : float64 (genes, samples)
    a : float64 (genes, k)
    pairs : bool
        Also keep the packed products ``a_gk a_gl`` (k(k+1)/2 columns) for
        weighted cross-products.
    """

    def __init__(self, y: np.ndarray, a: np.ndarray, *, pairs: bool) -> None:
        self.y = np.ascontiguousarray(y, dtype=np.float64)
        genes, self.k = a.shape
        self.n = self.y.shape[1]
        bounds = [(g0, min(genes, g0 + CHUNK)) for g0 in range(0, genes, CHUNK)]
        self.chunks = bounds
        self.a = [np.ascontiguousarray(a[g0:g1]) for g0, g1 in bounds]
        self.at = [np.ascontiguousarray(c.T) for c in self.a]
        iu, ju = pair_index(self.k)
        self.aa = [np.ascontiguousarray(c[:, iu] * c[:, ju]) for c in self.a] if pairs else []
        self.blocks = [(c0, min(self.n, c0 + BLOCK)) for c0 in range(0, self.n, BLOCK)]

    def y_chunks(self, c0: int, c1: int, cols: np.ndarray | None) -> Iterator[tuple[int, Any]]:
        """``(chunk index, y[chunk, block columns])`` for the block ``[c0, c1)``."""
        for i, (g0, g1) in enumerate(self.chunks):
            yc = self.y[g0:g1, c0:c1]
            yield i, (yc if cols is None else yc[:, cols])

    def map_blocks(
        self,
        active: np.ndarray,
        work: Callable[[int, int, np.ndarray, np.ndarray | None], Any],
        pool: ThreadPoolExecutor | None,
    ) -> list[tuple[np.ndarray, Any]]:
        """Run ``work(c0, c1, idx, cols)`` on every block with active samples.

        ``idx`` are the active samples of the block (global indices), ``cols``
        their positions in the block (``None`` when all are active).  Returns
        ``(idx, result)`` per block, in block order.
        """
        jobs = []
        for c0, c1 in self.blocks:
            idx = c0 + np.flatnonzero(active[c0:c1])
            if idx.size == 0:
                continue
            cols = None if idx.size == c1 - c0 else idx - c0
            jobs.append((c0, c1, idx, cols))
        if pool is None or len(jobs) < 2:
            results = [work(*job) for job in jobs]
        else:
            results = list(pool.map(lambda job: work(*job), jobs))
        return [(job[2], r) for job, r in zip(jobs, results, strict=True)]


@contextlib.contextmanager
def worker_pool(n_threads: int | None, n_samples: int) -> Iterator[ThreadPoolExecutor | None]:
    """Threads for the blocks (none for one) and the kernels, BLAS held to one thread.

    ``n_threads``: ``None`` or 0 for every available core.  With a single
    block of samples there is no pool, and BLAS is left as it is (it is then
    called from one thread only; holding it costs about a millisecond, more
    than a small fit).
    """
    workers = resolve_threads(n_threads)
    if n_samples <= BLOCK:
        with threads(workers):
            yield None
        return
    with one_blas_thread(), threads(workers):
        if workers == 1:
            yield None
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                yield pool
