"""Cached kernels are dropped when any source file of the package changes.

Numba keys a cached kernel on its own file, but compiles into it the code it
calls from other files; ``seqem._jit.drop_stale_kernels`` keeps the cache
from serving code older than the sources.
"""

from __future__ import annotations

import os

from seqem._jit import STAMP, drop_stale_kernels


def _package(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub" / "__pycache__").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "kernels.py").write_text("x = 1\n")
    (pkg / "sub" / "helpers.py").write_text("y = 2\n")
    return pkg


def _cached(pkg):
    cache = pkg / "sub" / "__pycache__"
    for name in ("kernels.f-1.py311.nbi", "kernels.f-1.py311.1.nbc"):
        (cache / name).write_bytes(b"compiled")
    (cache / "kernels.cpython-311.pyc").write_bytes(b"bytecode")
    return cache


def test_a_changed_source_file_drops_the_cached_kernels(tmp_path):
    pkg = _package(tmp_path)
    cache = _cached(pkg)
    # no fingerprint yet: the cached kernels may come from any sources
    assert drop_stale_kernels(pkg) == 2
    assert (cache / STAMP).is_file()
    assert not list(cache.glob("*.nb?")) and (cache / "kernels.cpython-311.pyc").exists()
    # sources unchanged: the kernels cached since are kept
    _cached(pkg)
    assert drop_stale_kernels(pkg) == 0
    assert len(list(cache.glob("*.nb?"))) == 2
    # another file of the package changes (not the kernel's own): dropped
    helper = pkg / "sub" / "helpers.py"
    helper.write_text("y = 3\n")
    st = helper.stat()
    os.utime(helper, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert drop_stale_kernels(pkg) == 2
    assert not list(cache.glob("*.nb?"))


def test_a_cache_that_cannot_be_written_is_left_alone(tmp_path, monkeypatch):
    """A read-only installation: the files cannot be deleted (Numba caches
    elsewhere then); the check goes on without an error."""
    pkg = _package(tmp_path)
    cache = _cached(pkg)

    def refuse(self, *args, **kwargs):
        raise PermissionError(f"read-only: {self}")

    monkeypatch.setattr(type(cache), "unlink", refuse)
    assert drop_stale_kernels(pkg) == 0
    assert len(list(cache.glob("*.nb?"))) == 2
    assert not (cache / STAMP).exists()


def test_numba_cache_dir_is_checked_too(tmp_path, monkeypatch):
    """With NUMBA_CACHE_DIR set, Numba keeps a folder's kernels in
    ``<cache dir>/<folder name>_<sha1 of its path>``."""
    import hashlib

    import numba

    pkg = _package(tmp_path)
    folder = os.path.abspath(pkg / "sub")
    elsewhere = tmp_path / "numba-cache" / f"sub_{hashlib.sha1(folder.encode()).hexdigest()}"
    elsewhere.mkdir(parents=True)
    (elsewhere / "kernels.f-1.py311.nbi").write_bytes(b"compiled")
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path / "numba-cache"), raising=False)
    assert drop_stale_kernels(pkg) == 1
    assert (elsewhere / STAMP).is_file()


def test_kernels_cached_after_the_first_import_are_kept(tmp_path, monkeypatch):
    """A fresh checkout (no ``__pycache__`` yet, as with PYTHONDONTWRITEBYTECODE):
    the fingerprint is written where Numba is about to cache, so the kernels the
    first process caches are kept by the next one."""
    import numba

    monkeypatch.setattr(numba.config, "CACHE_DIR", "", raising=False)
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "kernels.py").write_text("x = 1\n")
    assert drop_stale_kernels(pkg) == 0
    assert (pkg / "sub" / "__pycache__" / STAMP).is_file()
    cache = _cached(pkg)  # what Numba caches in the first process
    assert drop_stale_kernels(pkg) == 0
    assert len(list(cache.glob("*.nb?"))) == 2


def test_the_fingerprint_goes_where_numba_cache_dir_points(tmp_path, monkeypatch):
    import numba

    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "sub" / "kernels.py").write_text("x = 1\n")
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path / "nc"), raising=False)
    assert drop_stale_kernels(pkg) == 0
    stamps = list((tmp_path / "nc").glob(f"sub_*/{STAMP}"))
    assert len(stamps) == 1 and not (pkg / "sub" / "__pycache__").exists()
