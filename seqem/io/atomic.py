"""Write output files atomically.

Output goes to a temporary file in the target's directory, which is renamed
over the target only when writing finished without an exception.  An error or
an interrupt therefore leaves either the old file or no file, never half of a
new one.  A name ending in ``.gz`` is gzip-compressed on the way.

>>> import os, tempfile
>>> folder = tempfile.mkdtemp()
>>> target = os.path.join(folder, "out.txt")
>>> with atomic_output(target) as fh:
...     _ = fh.write("hello\\n")
>>> open(target).read()
'hello\\n'
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import sys
import tempfile
from collections.abc import Iterator
from typing import IO, Any, cast

__all__ = ["atomic_output", "is_gz_name", "STDIO"]

#: The path that stands for standard input or output.
STDIO = "-"


def is_gz_name(path: str | os.PathLike[str]) -> bool:
    """True if ``path`` names a gzip file by its extension (``.gz``, any case)."""
    return os.fspath(path).lower().endswith(".gz")


def _file_mode() -> int:
    """Permissions a newly created file would get (0o666 less the umask)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_output(
    path: str | os.PathLike[str],
    mode: str = "w",
    *,
    encoding: str = "utf-8",
    compress: bool | None = None,
) -> Iterator[IO[Any]]:
    """Open ``path`` for writing so that it appears only when complete.

    Parameters
    ----------
    path : str or os.PathLike
        Target file; ``"-"`` writes to standard output (which is flushed,
        not closed, and never compressed).
    mode : {"w", "wt", "wb"}
        Text or binary.
    encoding : str
        Text encoding (text mode only).
    compress : bool, optional
        gzip-compress the output; by default, when ``path`` ends in ``.gz``.
        The gzip header carries no timestamp, so equal content gives equal
        bytes.

    Yields
    ------
    file object
        Text or binary handle to write to.

    Notes
    -----
    The temporary file is a hidden file next to the target (same file
    system, so the final ``os.replace`` is atomic).  It is removed on any
    exception, ``KeyboardInterrupt`` included.
    """
    if mode not in ("w", "wt", "wb"):
        raise ValueError(f"mode must be 'w', 'wt' or 'wb', got {mode!r}")
    binary = mode == "wb"
    target = os.fspath(path)
    if target == STDIO:
        stream: IO[Any] = sys.stdout.buffer if binary else sys.stdout
        yield stream
        stream.flush()
        return
    if compress is None:
        compress = is_gz_name(target)
    directory = os.path.dirname(os.path.abspath(target))
    base = os.path.basename(target)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=".part", dir=directory)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot write: {exc.strerror}", target) from None
    raw = os.fdopen(fd, "wb")
    handle: IO[Any] = raw
    try:
        if compress:
            handle = cast(IO[bytes], gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0))
        if not binary:
            handle = io.TextIOWrapper(handle, encoding=encoding, newline="\n")
        yield handle
        handle.close()
        raw.close()
        os.chmod(tmp, _file_mode())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(Exception):
            handle.close()
        with contextlib.suppress(Exception):
            raw.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
