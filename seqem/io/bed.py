"""BED6 segment files.

Coordinates are 0-based, half-open (``chromStart`` is the first base,
``chromEnd`` one past the last), as in every BED file.  seqem writes one
``#`` comment line naming the columns first; readers skip ``#``, ``track``
and ``browser`` lines.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from typing import IO

from ..errors import InputFormatError
from ._source import InputSource
from .atomic import atomic_output

__all__ = ["BedRecord", "BED6_HEADER", "write_bed", "read_bed"]

#: Column names, written as the first (comment) line.
BED6_HEADER = ("chrom", "chromStart", "chromEnd", "name", "score", "strand")


@dataclasses.dataclass(frozen=True)
class BedRecord:
    """One BED6 line (0-based, half-open)."""

    chrom: str
    start: int
    end: int
    name: str = "."
    score: int = 0
    strand: str = "."


def write_bed(
    dest: str | os.PathLike[str] | IO[str], records: Iterable[BedRecord], *, header: bool = True
) -> None:
    """Write BED6 records (atomically when ``dest`` is a path; ``"-"`` is stdout)."""
    if isinstance(dest, str | os.PathLike):
        with atomic_output(dest) as fh:
            _write(fh, records, header)
    else:
        _write(dest, records, header)


def _write(fh: IO[str], records: Iterable[BedRecord], header: bool) -> None:
    if header:
        fh.write("#" + "\t".join(BED6_HEADER) + "\n")
    for r in records:
        fh.write(f"{r.chrom}\t{r.start}\t{r.end}\t{r.name}\t{r.score}\t{r.strand}\n")


def read_bed(path: str | os.PathLike[str]) -> list[BedRecord]:
    """Read a BED file with at least three columns (plain or gzip, ``"-"`` for stdin).

    Raises
    ------
    InputFormatError
        A line with fewer than three fields, coordinates that are not
        integers, or an end before its start.  The message names the line.
    """
    source = InputSource(path)
    text = source.read_bytes().decode("utf-8", errors="replace")
    out: list[BedRecord] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith(("#", "track", "browser")):
            continue
        fields = line.split("\t")
        if len(fields) < 3:
            raise InputFormatError(
                f"expected at least 3 tab-separated fields, found {len(fields)}",
                path=source.name,
                line=number,
            )
        try:
            start, end = int(fields[1]), int(fields[2])
            score = int(float(fields[4])) if len(fields) > 4 and fields[4] != "." else 0
        except ValueError:
            raise InputFormatError(
                "chromStart, chromEnd and score must be integers", path=source.name, line=number
            ) from None
        if start < 0 or end < start:
            raise InputFormatError(
                f"bad interval {start}-{end}; need 0 <= chromStart <= chromEnd",
                path=source.name,
                line=number,
            )
        out.append(
            BedRecord(
                chrom=fields[0],
                start=start,
                end=end,
                name=fields[3] if len(fields) > 3 else ".",
                score=score,
                strand=fields[5] if len(fields) > 5 else ".",
            )
        )
    return out
