"""Genomic regions written as ``name``, ``name:start-end`` or ``name:start``.

Coordinates are 1-based and inclusive, as in samtools and genome browsers;
commas are allowed as thousands separators.  :func:`parse_region` returns
0-based, half-open coordinates.

>>> parse_region("chr1:1,000-2,000")
('chr1', 999, 2000)
>>> parse_region("chr1")
('chr1', 0, None)
>>> parse_region("chr1:500")
('chr1', 499, None)
"""

from __future__ import annotations

import re

from ..errors import ParameterError

__all__ = ["parse_region"]

_COORDS = re.compile(r"^(?P<start>[0-9][0-9,]*)(?:-(?P<end>[0-9][0-9,]*)?)?$")
_LOOKS_NUMERIC = re.compile(r"^[0-9,\-]+$")


def _number(text: str, region: str) -> int:
    digits = text.replace(",", "")
    if not digits:
        raise ParameterError(f"malformed region {region!r}: empty coordinate")
    return int(digits)


def parse_region(region: str) -> tuple[str, int, int | None]:
    """Split a region string into a name and 0-based half-open coordinates.

    Parameters
    ----------
    region : str
        ``"chr1"`` (the whole record), ``"chr1:1000-2000"`` (bases 1000 to
        2000, 1-based inclusive), or ``"chr1:1000"`` (from base 1000 to the
        end).  Commas in numbers are ignored.

    Returns
    -------
    name : str
    start : int
        0-based start.
    end : int or None
        0-based exclusive end (equal to the 1-based inclusive end), or
        ``None`` for "to the end of the record".

    Raises
    ------
    ParameterError
        If the region is empty, its numbers are malformed, its start is below
        1, or its end is before its start.
    """
    text = region.strip()
    if not text:
        raise ParameterError("empty region; expected NAME or NAME:START-END")
    name, sep, coords = text.rpartition(":")
    if not sep:
        return text, 0, None
    match = _COORDS.match(coords)
    if match is None:
        if _LOOKS_NUMERIC.match(coords) or not coords:
            raise ParameterError(
                f"malformed region {region!r}; expected NAME:START-END with 1-based "
                "coordinates, e.g. chr1:1,000-2,000"
            )
        return text, 0, None  # a name that contains ':'
    if not name:
        raise ParameterError(f"malformed region {region!r}: no sequence name before ':'")
    start = _number(match["start"], region)
    if start < 1:
        raise ParameterError(f"region {region!r} starts at {start}; coordinates are 1-based")
    end = None if match["end"] is None else _number(match["end"], region)
    if end is not None and end < start:
        raise ParameterError(f"region {region!r} ends before it starts")
    return name, start - 1, end
