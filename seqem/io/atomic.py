"""Write output files atomically.

Output goes to a temporary file in the target's directory, which is renamed
over the target only when writing finished without an exception.  An error or
an interrupt therefore leaves either the old file or no file, never half of a
new one.  A name ending in ``.gz`` is gzip-compressed on the way.  A symbolic
link is followed (the file it points to is replaced, the link stays), and a
target that is not a regular file (a FIFO, ``/dev/null``, a terminal) is
written in place: renaming over it would replace the device or pipe itself.

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
import stat
import sys
import tempfile
from collections.abc import Iterator
from typing import IO, Any, cast

__all__ = ["atomic_output", "is_gz_name", "remove_temporaries", "staged_outputs", "STDIO"]

#: The path that stands for standard input or output.
STDIO = "-"

#: Finished outputs (temporary file, target) waiting for the end of
#: :func:`staged_outputs`; None outside it (each output is committed at once).
_pending: list[tuple[str, str]] | None = None
#: Temporary files that exist now (being written or waiting to be committed).
_live: set[str] = set()


def remove_temporaries() -> None:
    """Delete every temporary file of an unfinished output (for a signal handler that ends
    the process without unwinding)."""
    for tmp in list(_live):
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    _live.clear()


class Stage:
    """The outputs of one :func:`staged_outputs` block."""

    def __init__(self) -> None:
        self.discarded = False

    def discard(self) -> None:
        """Drop every output of the block instead of committing it."""
        self.discarded = True


@contextlib.contextmanager
def staged_outputs() -> Iterator[Stage]:
    """Commit every :func:`atomic_output` finished inside the block together, at its end.

    A command that writes several files (a table, standard errors, a plot,
    a report) then leaves all of them or none: an error or an interrupt
    after the first was written removes the finished ones too, and files of
    the same names from an earlier run stay as they were.  Nested blocks
    commit with the outermost one.
    """
    global _pending
    outer = _pending
    mine: list[tuple[str, str]] = []
    _pending = mine
    stage = Stage()
    try:
        yield stage
    except BaseException:
        _pending = outer
        _remove(mine)
        raise
    _pending = outer
    if stage.discarded:
        _remove(mine)
    elif outer is not None:
        outer.extend(mine)
    else:
        for i, (tmp, real) in enumerate(mine):
            try:
                os.replace(tmp, real)
                _live.discard(tmp)
            except OSError as exc:
                _remove(mine[i:])
                raise OSError(exc.errno, f"cannot write: {exc.strerror}", real) from None


def _remove(pending: list[tuple[str, str]]) -> None:
    for tmp, _ in pending:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        _live.discard(tmp)


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
    real = os.path.realpath(target)
    if os.path.exists(real) and not os.path.isfile(real) and not os.path.isdir(real):
        # a pipe or a device: written in place (renaming over it would replace it)
        device = open(real, "wb")  # noqa: SIM115 - closed below on every path
        layer = _wrap(device, binary, encoding, compress)
        try:
            yield layer
            layer.close()
            device.close()
        except BaseException:
            _close_quietly(layer, device)
            raise
        return
    directory = os.path.dirname(real)
    base = os.path.basename(real)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=".part", dir=directory)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot write: {exc.strerror}", target) from None
    _live.add(tmp)
    raw = os.fdopen(fd, "wb")
    handle: IO[Any] = raw
    try:
        handle = _wrap(raw, binary, encoding, compress)
        yield handle
        handle.close()
        raw.close()
        # a replaced file keeps its permissions; a new one gets the usual
        os.chmod(tmp, stat.S_IMODE(os.stat(real).st_mode) if os.path.isfile(real) else _file_mode())
        if _pending is not None:
            _pending.append((tmp, real))
        else:
            try:
                os.replace(tmp, real)
            except OSError as exc:
                raise OSError(exc.errno, f"cannot write: {exc.strerror}", target) from None
            _live.discard(tmp)
    except BaseException:
        _close_quietly(handle, raw)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        _live.discard(tmp)
        raise


def _wrap(raw: IO[bytes], binary: bool, encoding: str, compress: bool) -> IO[Any]:
    """``raw`` behind gzip compression and/or a text layer, as asked."""
    handle: IO[Any] = raw
    if compress:
        handle = cast(IO[bytes], gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0))
    if not binary:
        handle = io.TextIOWrapper(handle, encoding=encoding, newline="\n")
    return handle


def _close_quietly(*handles: IO[Any]) -> None:
    for fh in handles:
        with contextlib.suppress(Exception):
            fh.close()
