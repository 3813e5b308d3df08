"""Open an input path, file or ``-`` (standard input), gzip-compressed or not.

Compression is detected from the first two bytes (the gzip magic number), not
from the file name, so ``reads.fa`` that is really gzip, and bgzip output,
both work.  Errors of a damaged gzip stream become one
:class:`~seqem.errors.InputFormatError` naming the file.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import sys
import zlib
from collections.abc import Iterator
from typing import IO

from ..errors import InputFormatError
from .atomic import STDIO

GZIP_MAGIC = b"\x1f\x8b"

#: What a damaged gzip stream raises while being read.
_GZIP_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile)


class InputSource:
    """A readable input that can be opened more than once.

    Parameters
    ----------
    path : str or os.PathLike
        File name, or ``"-"`` for standard input (read into memory once).

    Attributes
    ----------
    name : str
        Name for messages: the path, or ``"<stdin>"``.
    gzipped : bool
        True if the content starts with the gzip magic number.

    Raises
    ------
    OSError
        If the file cannot be opened (``FileNotFoundError`` ...).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._data: bytes | None = None
        if self.path == STDIO:
            self.name = "<stdin>"
            buffer = getattr(sys.stdin, "buffer", None)
            if buffer is not None:
                self._data = buffer.read()
            else:  # a text stream without a buffer (tests, embedded use)
                self._data = sys.stdin.read().encode("utf-8")
            magic = self._data[:2]
        else:
            self.name = self.path
            if os.path.isdir(self.path):
                raise IsADirectoryError(21, "Is a directory", self.path)
            with open(self.path, "rb") as fh:
                magic = fh.read(2)
        self.gzipped = magic == GZIP_MAGIC

    def open_binary(self) -> IO[bytes]:
        """A fresh binary handle on the (decompressed) content."""
        raw: IO[bytes]
        if self._data is not None:
            raw = io.BytesIO(self._data)
        else:
            raw = open(self.path, "rb")  # noqa: SIM115 - returned to the caller
        if self.gzipped:
            return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
        return raw

    def open_text(self, encoding: str = "latin-1") -> IO[str]:
        """A fresh text handle; ``latin-1`` maps every byte to one character."""
        return io.TextIOWrapper(self.open_binary(), encoding=encoding, newline="")

    @classmethod
    def from_bytes(cls, data: bytes, name: str) -> InputSource:
        """A source over bytes in memory (``name`` for messages)."""
        self = cls.__new__(cls)
        self.path = self.name = name
        self._data = data
        self.gzipped = data[:2] == GZIP_MAGIC
        return self

    def read_bytes(self) -> bytes:
        """The whole (decompressed) content."""
        with self.gzip_errors(), self.open_binary() as fh:
            return fh.read()

    def read_text(self, what: str) -> str:
        """The whole content as UTF-8 text (a byte-order mark dropped); bytes that are
        not UTF-8 are one error naming the line, the file being ``not a text {what}``."""
        data = self.read_bytes()
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise InputFormatError(
                f"not a text {what} (bytes that are not UTF-8 text)", path=self.name, line=line
            ) from None

    def gzip_errors(self) -> contextlib.AbstractContextManager[None]:
        """Turn errors of a damaged gzip stream into one clear error."""
        return gzip_errors(self.gzipped, self.name)


@contextlib.contextmanager
def gzip_errors(gzipped: bool, name: str) -> Iterator[None]:
    """Errors of a damaged gzip stream (``gzipped``) as one clear error naming ``name``."""
    try:
        yield
    except _GZIP_ERRORS:
        if not gzipped:
            raise
        raise InputFormatError("truncated or corrupt gzip stream", path=name) from None
    except OSError as exc:
        # gzip reports some damage (bad CRC, bad header) as plain OSError
        if not gzipped or exc.errno is not None:
            raise
        raise InputFormatError("truncated or corrupt gzip stream", path=name) from None


@contextlib.contextmanager
def open_stream(path: str | os.PathLike[str]) -> Iterator[tuple[IO[bytes], bool, str]]:
    """A binary handle on the decompressed content, read once, from the start.

    Unlike :class:`InputSource`, standard input is not held in memory: it is
    read as it comes (gzip detected from its first two bytes).  Yields the
    handle, whether the content is gzip, and the name for messages.
    """
    if os.fspath(path) != STDIO:
        source = InputSource(path)
        with source.open_binary() as fh:
            yield fh, source.gzipped, source.name
        return
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:  # a text stream without a buffer (tests, embedded use)
        stream = io.BytesIO(sys.stdin.read().encode("utf-8"))
    raw = io.BufferedReader(stream)  # type: ignore[arg-type]
    gzipped = raw.peek(2)[:2] == GZIP_MAGIC
    yield (gzip.GzipFile(fileobj=raw, mode="rb") if gzipped else raw), gzipped, "<stdin>"  # type: ignore[misc]
