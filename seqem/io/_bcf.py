"""BCF records checked byte by byte, to say which one is damaged when htslib cannot read it.

htslib refuses a damaged BCF record with a generic message ("truncated
file", "unable to parse next record"), or pysam fails later decoding its
text; neither names the record.  :func:`record_problem` walks the file's
records as the BCF 2.2 specification lays them out, with the checks
htslib makes when it reads one (``bcf_record_check``) and the text that
pysam decodes, and names the first damaged record by its number in the
file and, when its contig and position can be read, by ``CHROM:POS``.

A record is two lengths (``l_shared``, ``l_indiv``), six fixed fields
(contig id, 0-based position, reference length, QUAL, the numbers of INFO
fields and alleles, of samples and FORMAT fields: 24 bytes in all) and
then typed values: the ID, the alleles, FILTER and the INFO pairs in the
shared part, the FORMAT fields (one vector per sample) in the individual
part.  A typed value starts with a byte holding its type (low 4 bits) and
count (high 4 bits; 15: the count follows as a typed integer).
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import struct
from typing import Any

from ..errors import InputFormatError
from . import _hts

__all__ = ["Layout", "record_problem"]

#: Bytes per value of each type htslib reads: missing, int8, int16, int32, float, char.
_WIDTH = {0: 0, 1: 1, 2: 2, 3: 4, 5: 4, 7: 1}
#: struct formats of the integer types.
_INT = {1: "<b", 2: "<h", 3: "<i"}
_CHAR = 7
#: Records larger than this are not parsed (only skipped), to bound memory.
_LARGEST = 1 << 28


@dataclasses.dataclass(frozen=True)
class Layout:
    """What the header defines, as a BCF record refers to it.

    Attributes
    ----------
    contigs : dict of int to str
        Contig names by their id in the header's dictionary.
    keys : frozenset of int
        Ids of the header's FILTER, INFO and FORMAT names.
    n_samples : int
    """

    contigs: dict[int, str]
    keys: frozenset[int]
    n_samples: int

    @classmethod
    def of(cls, header: Any) -> Layout:
        """The layout of a ``pysam.VariantHeader``."""
        keys = {m.id for group in (header.filters, header.info, header.formats)
                for m in group.values()}  # fmt: skip
        return cls({c.id: name for name, c in header.contigs.items()}, frozenset(keys),
                   len(header.samples))  # fmt: skip


class _Damage(Exception):
    """What is wrong with a record (the message)."""


def _int(buf: bytes, at: int, what: str) -> tuple[int, int]:
    """A typed integer at ``at`` (one value): its value and the position after it."""
    if at >= len(buf):
        raise _Damage(f"{what} runs past the end of the record")
    kind = buf[at] & 0xF
    if kind not in _INT:
        raise _Damage(f"{what}: expected a typed integer, found value type {kind}")
    fmt = _INT[kind]
    end = at + 1 + struct.calcsize(fmt)
    if end > len(buf):
        raise _Damage(f"{what} runs past the end of the record")
    return int(struct.unpack_from(fmt, buf, at + 1)[0]), end


def _vector(buf: bytes, at: int, what: str, per: int = 1) -> tuple[int, bytes, int]:
    """A typed vector at ``at`` (``per`` of them, one per sample, after one type byte):
    its type, its bytes, and the position after it."""
    if at >= len(buf):
        raise _Damage(f"{what} runs past the end of the record")
    kind, count = buf[at] & 0xF, buf[at] >> 4
    at += 1
    if kind not in _WIDTH:
        raise _Damage(f"{what} has an unknown value type ({kind})")
    if count == 15:
        count, at = _int(buf, at, f"the length of {what}")
        if count < 0:
            raise _Damage(f"{what} has a negative length ({count})")
    end = at + count * _WIDTH[kind] * per
    if end > len(buf):
        raise _Damage(f"{what} runs past the end of the record")
    return kind, buf[at:end], end


def _text(kind: int, data: bytes, what: str) -> None:
    """A char vector must be text (pysam decodes it as UTF-8)."""
    if kind != _CHAR:
        return
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Damage(f"{what} is not text (byte 0x{data[exc.start]:02x} is not UTF-8)") from None


def _check(shared: bytes, indiv: bytes, counts: int, sizes: int, layout: Layout) -> None:
    """Raise :class:`_Damage` for the first thing wrong in a record's typed values
    (``counts``: n_allele << 16 | n_info; ``sizes``: n_fmt << 24 | n_sample)."""
    n_info, n_allele = counts & 0xFFFF, counts >> 16
    n_sample, n_fmt = sizes & 0xFFFFFF, sizes >> 24
    fixed_up = not indiv or not n_sample
    if fixed_up:
        n_fmt = 0  # as htslib reads it
    kind, data, at = _vector(shared, 0, "the ID")
    if kind != _CHAR:
        raise _Damage(f"the ID has value type {kind}, not text")
    _text(kind, data, "the ID")
    for i in range(n_allele):
        what = "REF" if i == 0 else f"ALT allele {i}"
        kind, data, at = _vector(shared, at, what)
        if kind != _CHAR:
            raise _Damage(f"{what} has value type {kind}, not text")
        _text(kind, data, what)
    kind, data, at = _vector(shared, at, "FILTER")
    if data:
        if kind not in _INT:
            raise _Damage(f"FILTER has value type {kind}, not integer ids")
        for (key,) in struct.iter_unpack(_INT[kind], data):
            if key not in layout.keys:
                raise _Damage(f"FILTER id {key} is not defined in the header")
    for i in range(n_info):
        key, at = _int(shared, at, f"INFO field {i + 1}'s id")
        if key not in layout.keys:
            raise _Damage(f"INFO id {key} is not defined in the header")
        kind, data, at = _vector(shared, at, f"INFO field {i + 1}")
        _text(kind, data, f"INFO field {i + 1}")
    if at != len(shared):
        raise _Damage(_longer("shared", len(shared), at))
    if n_fmt and n_sample != layout.n_samples:
        raise _Damage(f"{n_sample} samples, but the header names {layout.n_samples}")
    at = 0
    for i in range(n_fmt):
        key, at = _int(indiv, at, f"FORMAT field {i + 1}'s id")
        if key not in layout.keys:
            raise _Damage(f"FORMAT id {key} is not defined in the header")
        kind, data, at = _vector(indiv, at, f"FORMAT field {i + 1}", per=n_sample)
        _text(kind, data, f"FORMAT field {i + 1}")
    if at != len(indiv) and not fixed_up:
        raise _Damage(_longer("individual", len(indiv), at))


def _longer(part: str, length: int, used: int) -> str:
    """A part of a record longer than its fields (htslib writes them end to end)."""
    return (
        f"its {part} part is {length} bytes long but its fields take {used}: a damaged "
        "length, or damaged field counts"
    )


def _read(fh: gzip.GzipFile | io.BufferedReader, n: int) -> tuple[int, bytes | None]:
    """Read ``n`` bytes: how many there were, and the bytes unless there were too many
    to keep (more than :data:`_LARGEST`)."""
    if n <= _LARGEST:
        data = fh.read(n)
        return len(data), data
    got = 0
    while got < n and (chunk := fh.read(min(1 << 24, n - got))):
        got += len(chunk)
    return got, None


def record_problem(path: str, layout: Layout, *, first: int = 1) -> InputFormatError | None:
    """The first damaged record of a BCF file (plain or compressed), explained; or None.

    Records before number ``first`` (from 1; records a reader has already
    read) are only stepped over.  None when the file does not start as BCF
    or no record is found damaged.
    """
    opener = gzip.open if _hts.compression(path) != "none" else open
    with opener(path, "rb") as fh:
        head = fh.read(9)
        if len(head) < 9 or head[:4] != b"BCF\x02":
            return None
        (l_text,) = struct.unpack_from("<I", head, 5)
        if _read(fh, l_text)[0] < l_text:
            return None  # a cut header: htslib's own account stands
        number, last = 0, None
        while True:
            head = fh.read(32)
            if not head:
                return None
            number += 1
            where, fixed = None, None
            if len(head) == 32:
                fixed = struct.unpack("<IIiIifII", head)
                contig = layout.contigs.get(fixed[2])
                if contig is not None:
                    pos = fixed[3] + 1 if fixed[3] != 0xFFFFFFFF else 0
                    where = f"{contig}:{pos}"
            try:
                if fixed is None:
                    raise _Damage("the file ends inside it (a truncated file)")
                l_shared, l_indiv = fixed[0], fixed[1]
                if l_shared < 24:
                    raise _Damage(
                        f"its shared length ({l_shared} bytes) is shorter than its 24 bytes "
                        "of fixed fields"
                    )
                got, shared = _read(fh, l_shared - 24)
                got_indiv, indiv = _read(fh, l_indiv)
                if got < l_shared - 24 or got_indiv < l_indiv:
                    raise _Damage(
                        f"its lengths ({l_shared} + {l_indiv} bytes) run past the end of the "
                        "file (a damaged length, or a truncated file)"
                    )
                if fixed[2] not in layout.contigs:
                    raise _Damage(f"its contig id {fixed[2]} is not defined in the header")
                if number >= first and shared is not None and indiv is not None:
                    _check(shared, indiv, fixed[6], fixed[7], layout)
            except _Damage as damage:
                if where is not None:
                    return InputFormatError(
                        f"BCF record {number} of the file is damaged: {damage}",
                        path=path,
                        record=where,
                    )
                after = f"after record {last}" if last else "the first record"
                return InputFormatError(
                    f"BCF record {number} of the file ({after}) is damaged: {damage}",
                    path=path,
                )
            last = where
