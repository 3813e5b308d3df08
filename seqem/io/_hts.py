"""Files read through htslib (pysam): quietly, and with our own account of failures.

htslib writes its own messages (``[E::...]``, ``[W::...]``) on stderr, even
for a valid file without an index.  seqem reports a problem as one line of
its own, so :func:`quiet` turns htslib's logging off while a file is opened
and read, and a failed read is explained from the file itself:

* :func:`compression` tells BGZF (bgzip) from ordinary gzip and from
  uncompressed data;
* :func:`compression_problem` walks a compressed file block by block and
  names the first corrupt or cut-short block;
* :class:`GzipPipe` decompresses an ordinary gzip file into a pipe, which
  htslib reads as a stream (it cannot seek in ordinary gzip);
* :func:`contig_index` reads what a ``.tbi`` or ``.csi`` index says about
  where one contig's records lie, so that a region read can check it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gzip
import os
import re
import struct
import threading
import zlib
from collections.abc import Iterator
from typing import IO

from ._source import GZIP_MAGIC

__all__ = [
    "quiet",
    "clean_message",
    "compression",
    "compression_problem",
    "is_bcf",
    "GzipPipe",
    "text_lines",
    "ContigIndex",
    "contig_index",
]


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence htslib's logging inside the block (restored after it)."""
    import pysam

    previous = pysam.set_verbosity(0)
    try:
        yield
    finally:
        pysam.set_verbosity(previous)


def clean_message(exc: BaseException) -> str:
    """An htslib/pysam exception's text on one line, without Python byte-string reprs."""
    text = " ".join(str(exc).split())
    return re.sub(r"""\bb(['"])(.*?)\1""", r"'\2'", text)


def _bgzf_size(header: bytes, extra: bytes) -> int | None:
    """Total size of a BGZF block from its gzip header and extra field, or None."""
    if header[:4] != b"\x1f\x8b\x08\x04":
        return None
    at = 0
    while at + 4 <= len(extra):
        length = int.from_bytes(extra[at + 2 : at + 4], "little")
        if extra[at : at + 2] == b"BC" and length == 2 and at + 6 <= len(extra):
            return int.from_bytes(extra[at + 4 : at + 6], "little") + 1
        at += 4 + length
    return None


def compression(path: str) -> str:
    """``"bgzf"``, ``"gzip"`` (ordinary, not blocked) or ``"none"``, from the first bytes."""
    with open(path, "rb") as fh:
        header = fh.read(12)
        if header[:2] != GZIP_MAGIC:
            return "none"
        if len(header) < 12 or not header[3] & 4:
            return "gzip"
        extra = fh.read(int.from_bytes(header[10:12], "little"))
    return "bgzf" if _bgzf_size(header, extra) is not None else "gzip"


def compression_problem(path: str) -> str | None:
    """What is wrong with a compressed file's blocks, or None if every block reads.

    BGZF files are checked block by block (header, deflate data, CRC and
    size), so the message gives the byte offset of the first bad block; an
    ordinary gzip file is decompressed to its end.
    """
    kind = compression(path)
    if kind == "none":
        return None
    if kind == "gzip":
        try:
            with gzip.open(path, "rb") as fh:
                while fh.read(1 << 20):
                    pass
        except EOFError:
            return "truncated file: the compressed data ends early"
        except (OSError, zlib.error):
            return "corrupt compressed data (not a readable gzip stream)"
        return None
    with open(path, "rb") as fh:
        offset = 0
        last_size = -1
        while True:
            header = fh.read(12)
            if not header:
                break
            if len(header) < 12:
                return f"truncated file: cut inside the compressed block at byte {offset}"
            extra = fh.read(int.from_bytes(header[10:12], "little"))
            size = _bgzf_size(header, extra)
            if size is None:
                return f"corrupt compressed block at byte {offset} (not a BGZF block header)"
            rest = fh.read(size - 12 - len(extra))
            if len(rest) < size - 12 - len(extra) or len(rest) < 8:
                return f"truncated file: cut inside the compressed block at byte {offset}"
            crc, last_size = struct.unpack("<II", rest[-8:])
            try:
                data = zlib.decompress(rest[:-8], -15)
            except zlib.error:
                return f"corrupt compressed block at byte {offset}"
            if zlib.crc32(data) != crc or len(data) != last_size:
                return f"corrupt compressed block at byte {offset} (checksum mismatch)"
            offset += size
    if last_size != 0:
        return "truncated file: no end-of-file block (the compression stopped early)"
    return None


def is_bcf(path: str) -> bool:
    """Whether the file's (decompressed) content starts as BCF does."""
    opener = gzip.open if compression(path) != "none" else open
    try:
        with opener(path, "rb") as fh:
            return bool(fh.read(3) == b"BCF")
    except (OSError, EOFError, zlib.error):
        return False


def text_lines(path: str) -> Iterator[str]:
    """Lines of a text file, plain or gzip/BGZF (read as latin-1, newline kept)."""
    opener = gzip.open if compression(path) != "none" else open
    with opener(path, "rb") as fh:
        for line in fh:
            yield line.decode("latin-1")


class GzipPipe:
    """An ordinary gzip file decompressed by a thread into a pipe.

    :attr:`reader` is the pipe's reading end (a binary file object) for
    htslib to read as a stream.  :meth:`close` closes it, stops the thread
    and raises nothing; :attr:`error` then holds the message of a corrupt or
    truncated gzip stream (the reader saw it end early), or None.
    """

    def __init__(self, path: str) -> None:
        read_fd, write_fd = os.pipe()
        self.reader: IO[bytes] = os.fdopen(read_fd, "rb")
        self.error: str | None = None
        self._thread = threading.Thread(target=self._feed, args=(path, write_fd), daemon=True)
        self._thread.start()

    def _feed(self, path: str, write_fd: int) -> None:
        dst = os.fdopen(write_fd, "wb")
        try:
            with gzip.open(path, "rb") as src:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
        except BrokenPipeError:
            pass  # the reader stopped before the end
        except EOFError:
            self.error = "truncated file: the compressed data ends early"
        except (OSError, zlib.error):
            self.error = "corrupt compressed data (not a readable gzip stream)"
        finally:
            with contextlib.suppress(OSError):
                dst.close()  # the reader sees the end of the data

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.reader.close()
        self._thread.join()


@dataclasses.dataclass(frozen=True)
class ContigIndex:
    """What a tabix (``.tbi``) or CSI (``.csi``) index says about one contig.

    Offsets are BGZF virtual offsets (the compressed block's offset << 16 |
    the offset in its data), 0 where the index does not say.

    Attributes
    ----------
    shift : int
        log2 of the width of the index's windows (14, 16 kb, for ``.tbi``).
    first, end : int
        Where the contig's first record starts and its last record ends.
    anchors : tuple of (int, int)
        ``(window, offset)`` pairs, by window: htslib starts reading a region
        that begins in ``window`` at ``offset``, as no record of the contig
        before that offset reaches the window (the linear index of ``.tbi``;
        each bin's first offset in ``.csi``).
    """

    shift: int
    first: int
    end: int
    anchors: tuple[tuple[int, int], ...]


def _bin_window(bin_: int, levels: int) -> int:
    """The first window (of the finest level) of a bin of a ``levels``-level binning."""
    level, first = 0, 0
    while bin_ >= first + (1 << 3 * level):
        first += 1 << 3 * level
        level += 1
    return (bin_ - first) << 3 * (levels - level)


def contig_index(path: str, contig: str, contig_id: int | None = None) -> ContigIndex | None:
    """What the ``.tbi`` or ``.csi`` index ``path`` says about ``contig``; None when it
    says nothing about it or is not one of these formats.

    A ``.csi`` index of a BCF file names its contigs by their number in the
    file's header, ``contig_id``; other indexes hold the names.
    """
    try:
        stat = os.stat(path)
        return _cached_contig_index(path, stat.st_size, stat.st_mtime_ns, contig, contig_id)
    except OSError:
        return None


@functools.lru_cache(maxsize=64)
def _cached_contig_index(
    path: str, size: int, mtime_ns: int, contig: str, contig_id: int | None
) -> ContigIndex | None:
    """:func:`contig_index` of one version of an index file (a read of many regions
    parses the index once per contig, not once per region)."""
    try:
        with gzip.open(path, "rb") as fh:
            data = fh.read()
        return _contig_index(data, contig, contig_id)
    except (OSError, EOFError, zlib.error, struct.error, ValueError, IndexError):
        return None


def _names(data: bytes, at: int) -> tuple[list[str], int]:
    """The contig names of a tabix header (format, columns, meta, skip, names) at ``at``."""
    (l_nm,) = struct.unpack_from("<i", data, at + 24)
    names = data[at + 28 : at + 28 + l_nm].split(b"\0")
    return [n.decode("latin-1") for n in names if n], at + 28 + l_nm


def _contig_index(data: bytes, contig: str, contig_id: int | None) -> ContigIndex | None:
    magic = data[:4]
    if magic == b"TBI\x01":
        (n_ref,) = struct.unpack_from("<i", data, 4)
        names, at = _names(data, 8)
        shift, levels, csi = 14, 5, False
    elif magic == b"CSI\x01":
        shift, levels, l_aux = struct.unpack_from("<3i", data, 4)
        names = _names(data, 16)[0] if l_aux >= 28 else []
        (n_ref,) = struct.unpack_from("<i", data, 16 + l_aux)
        at, csi = 20 + l_aux, True
    else:
        return None
    tid = names.index(contig) if names else contig_id
    if tid is None or not 0 <= tid < n_ref:
        return None
    meta = ((1 << 3 * levels + 3) - 1) // 7 + 1
    for ref in range(n_ref):
        (n_bin,) = struct.unpack_from("<i", data, at)
        at += 4
        first = end = 0
        anchors: dict[int, int] = {}
        for _ in range(n_bin):
            if csi:
                bin_, loffset, n_chunk = struct.unpack_from("<IQi", data, at)
                at += 16
            else:
                bin_, n_chunk = struct.unpack_from("<Ii", data, at)
                at += 8
            if ref == tid:
                if bin_ == meta and n_chunk:
                    first, end = struct.unpack_from("<QQ", data, at)
                elif csi and bin_ < meta - 1 and loffset:
                    anchors.setdefault(_bin_window(bin_, levels), loffset)
            at += 16 * n_chunk
        if not csi:
            (n_intv,) = struct.unpack_from("<i", data, at)
            if ref == tid:
                linear = struct.unpack_from(f"<{n_intv}Q", data, at + 4)
                anchors = {w: o for w, o in enumerate(linear) if o}
            at += 4 + 8 * n_intv
        if ref == tid:
            return ContigIndex(shift, first, end, tuple(sorted(anchors.items())))
    return None
