"""Numba options shared by every kernel, and thread-count helpers.

Kernels are compiled with ``cache=True`` so that a command-line run does not
pay for compilation after the first, and with ``nogil=True`` so that callers
may run them from threads.  ``fastmath`` stays off: log-space code and
missing-data handling rely on exact NaN and infinity semantics.

Numba keys a cached kernel on its own source file only, yet a kernel has the
code of the functions it calls from other files compiled into it: after one
of those files changes (an edit, a ``git pull`` in a source checkout), the
cache would keep serving the old code.  So on import this module compares a
fingerprint of every source file of the package with the one stored beside
the cached kernels, and drops the package's cached kernels when they differ
(:func:`drop_stale_kernels`).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numba
import numpy as np
from numba import types
from numba.extending import overload

JIT = {"cache": True, "nogil": True}
PJIT = {"cache": True, "nogil": True, "parallel": True}

#: File beside the cached kernels holding the fingerprint of the sources they came from.
STAMP = "seqem-sources.stamp"


def _cache_dirs(package: Path, folders: list[Path]) -> tuple[list[Path], set[Path]]:
    """Where Numba may keep the cached kernels of the package's folders: each
    folder's ``__pycache__``, and Numba's own cache directories (``NUMBA_CACHE_DIR``
    or the user-wide one), which name a folder ``<name>_<sha1 of its path>``.

    Also returns the ones Numba will write to now (``NUMBA_CACHE_DIR`` when it is
    set, else the folder's ``__pycache__`` where the folder can be written, else
    the user-wide one): those get their fingerprint before Numba creates them, so
    that the kernels cached there are not taken for stale by the next process.
    """
    user_dir = getattr(numba.config, "CACHE_DIR", "")
    bases = [Path(user_dir)] if user_dir else []
    try:
        from numba.misc.appdirs import AppDirs

        bases.append(Path(AppDirs(appname="numba", appauthor=False).user_cache_dir))
    except Exception:  # pragma: no cover - layout of a future Numba
        pass

    def named(base: Path, folder: Path) -> Path:
        path = os.path.abspath(folder)
        return base / f"{os.path.basename(path)}_{hashlib.sha1(path.encode()).hexdigest()}"

    dirs = [folder / "__pycache__" for folder in folders]
    dirs += [named(base, folder) for base in bases for folder in folders]
    targets = set()
    for folder in folders:
        if not user_dir and os.access(folder, os.W_OK):
            targets.add(folder / "__pycache__")
        elif bases:  # NUMBA_CACHE_DIR if set, else the user-wide folder
            targets.add(named(bases[0], folder))
    return dirs, targets


def drop_stale_kernels(package: Path | None = None) -> int:
    """Delete the package's cached kernels if any source file changed since they
    were cached; returns the number of files deleted.

    The fingerprint covers every ``.py`` file of the package (path, size and
    modification time).  Cache folders that cannot be written are left alone
    (Numba then caches elsewhere, or not at all).  The folders Numba will cache
    in are created with the fingerprint if they do not exist yet (a fresh
    checkout run with ``PYTHONDONTWRITEBYTECODE``, say): kernels cached there
    without one would be dropped, and compiled again, by the next process.
    """
    package = Path(__file__).resolve().parent if package is None else package
    files = sorted(p for p in package.rglob("*.py") if "__pycache__" not in p.parts)
    digest = hashlib.sha1()
    for f in files:
        st = f.stat()
        digest.update(f"{f.relative_to(package)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    stamp = digest.hexdigest()
    deleted = 0
    dirs, targets = _cache_dirs(package, sorted({f.parent for f in files}))
    for cache in dirs:
        try:
            if not cache.is_dir():
                if cache not in targets:
                    continue
                cache.mkdir(parents=True, exist_ok=True)
            marker = cache / STAMP
            if marker.is_file() and marker.read_text() == stamp:
                continue
            for old in [*cache.glob("*.nbi"), *cache.glob("*.nbc")]:
                old.unlink(missing_ok=True)
                deleted += 1
            tmp = cache / f"{STAMP}.{os.getpid()}"
            tmp.write_text(stamp)
            os.replace(tmp, marker)
        except OSError:  # a read-only installation: Numba caches elsewhere
            continue
    return deleted


drop_stale_kernels()

#: Rows per work chunk in time-parallel kernels.  Fixed (not derived from the
#: thread count) so that per-chunk sums, reduced in chunk order, give the
#: same bits with any number of threads.
TIME_CHUNK = 16384


def lighter_start() -> None:
    """Spare the ``seqem`` program two imports of Numba's start-up that no kernel uses.

    Loading the first compiled kernel initialises Numba's CPU target, which
    imports SciPy's linear algebra only to learn whether ``np.dot`` has a BLAS
    (``numba.np.arraymath``), and cffi with its C parser to type cffi
    functions (``numba.core.typing.cffi_utils``): about 0.15 s of a 0.8 s
    search of one sequence.  SciPy is a dependency, so the first answer is
    known: the check is skipped, and kernels that call BLAS still import it
    when they load.  No kernel takes a cffi function, so Numba's cffi support
    loads with cffi hidden (and stays off in this process).

    Only the ``seqem`` program does this, when this module is first imported
    (:mod:`seqem._program`; commands that load no kernel never import Numba):
    a Python session that imports seqem keeps Numba's start-up as it is.
    Nothing is done for a module already loaded, and any failure leaves Numba
    to load it as usual.
    """
    import sys

    if "numba.np.arraymath" not in sys.modules:
        try:
            import numba.np.linalg as linalg

            check = linalg.ensure_blas
        except (ImportError, AttributeError):
            pass
        else:
            linalg.ensure_blas = lambda: None
            try:
                import numba.np.arraymath  # noqa: F401
            except Exception:  # noqa: BLE001 - loaded again, as usual, by the first kernel
                sys.modules.pop("numba.np.arraymath", None)
            finally:
                linalg.ensure_blas = check
    if "numba.core.typing.cffi_utils" not in sys.modules and "cffi" not in sys.modules:
        sys.modules["cffi"] = None  # type: ignore[assignment]
        try:
            import numba.core.typing.cffi_utils  # noqa: F401
        except Exception:  # noqa: BLE001
            sys.modules.pop("numba.core.typing.cffi_utils", None)
        finally:
            del sys.modules["cffi"]


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


def dynamic_schedule(fn, *args):
    """Call a ``prange`` driver with its iterations handed out one at a time to free threads
    (for iterations of uneven cost)."""
    previous = numba.set_parallel_chunksize(1)
    try:
        return fn(*args)
    finally:
        numba.set_parallel_chunksize(previous)


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


from . import _program  # noqa: E402 - after the definitions it uses

if _program.running:
    lighter_start()
