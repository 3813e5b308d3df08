"""Numba options shared by every kernel, and thread-count helpers.

Kernels are compiled with ``cache=True`` so that a command-line run does not
pay for compilation after the first, and with ``nogil=True`` so that callers
may run them from threads.  ``fastmath`` stays off: log-space code and
missing-data handling rely on exact NaN and infinity semantics.
"""

from __future__ import annotations

import os

import numba
import numpy as np
from numba import types
from numba.extending import overload

JIT = {"cache": True, "nogil": True}
PJIT = {"cache": True, "nogil": True, "parallel": True}

#: Rows per work chunk in time-parallel kernels.  Fixed (not derived from the
#: thread count) so that per-chunk sums, reduced in chunk order, give the
#: same bits with any number of threads.
TIME_CHUNK = 16384


def available_cores() -> int:
    """Cores this process may run on (affinity-aware)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def resolve_threads(n_threads: int | None) -> int:
    """Turn a user's thread request into a count Numba accepts.

    ``None`` or ``0`` means every available core; larger requests are capped
    at Numba's pool size.
    """
    limit = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
    if n_threads is None or n_threads == 0:
        n = available_cores()
    elif n_threads < 0:
        raise ValueError(f"n_threads must be >= 0, got {n_threads}")
    else:
        n = int(n_threads)
    return max(1, min(n, limit))


class threads:
    """Context manager that sets Numba's thread count and restores it."""

    def __init__(self, n_threads: int | None) -> None:
        self.n = resolve_threads(n_threads)
        self.previous = 1

    def __enter__(self) -> int:
        self.previous = numba.get_num_threads()
        numba.set_num_threads(self.n)
        return self.n

    def __exit__(self, *exc: object) -> None:
        numba.set_num_threads(self.previous)


def like(x, arr):  # pragma: no cover - replaced by the overload in compiled code
    """``x`` as a scalar of ``arr``'s element type (float32 or float64).

    Kernels written once for both precisions call it on the scalars they mix
    into a row's arithmetic, so that a float32 row is computed in float32
    (twice the SIMD lanes of float64) instead of being widened.
    """
    return arr.dtype.type(x)


@overload(like)
def _like(x, arr):  # pragma: no cover - compile time
    if isinstance(arr, types.Array) and arr.dtype == types.float32:
        return lambda x, arr: np.float32(x)
    return lambda x, arr: np.float64(x)
