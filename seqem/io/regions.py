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

A name may itself contain ``:`` (``HLA-A*01:01``).  Given the names a file
holds, :func:`parse_region` takes a string that is one of them whole as that
name, and calls any other text after the last ``:`` that is not
``START-END`` malformed:

>>> parse_region("HLA-A*01:01", names={"HLA-A*01:01"})
('HLA-A*01:01', 0, None)
"""

from __future__ import annotations

import re
from collections.abc import Container

from ..errors import ParameterError

__all__ = ["parse_region"]

_COORDS = re.compile(r"^(?P<start>[0-9][0-9,]*)(?:-(?P<end>[0-9][0-9,]*)?)?$")
#: Text after the last ':' that was meant as coordinates (a digit, a comma or a
#: dash first): malformed unless it reads as START-END.
_LOOKS_NUMERIC = re.compile(r"^[0-9,\-]")


def _number(text: str, region: str) -> int:
    digits = text.replace(",", "")
    if not digits:
        raise ParameterError(f"malformed region {region!r}: empty coordinate")
    return int(digits)


def parse_region(region: str, names: Container[str] | None = None) -> tuple[str, int, int | None]:
    """Split a region string into a name and 0-based half-open coordinates.

    Parameters
    ----------
    region : str
        ``"chr1"`` (the whole record), ``"chr1:1000-2000"`` (bases 1000 to
        2000, 1-based inclusive), or ``"chr1:1000"`` (from base 1000 to the
        end).  Commas in numbers are ignored.
    names : container of str, optional
        The sequence names the file holds.  A region equal to one of them is
        that whole sequence even if it contains ``:``; any other text after
        the last ``:`` must be ``START-END`` or ``START``.  Without
        ``names``, text after the last ``:`` that does not start like a
        number (``HLA-A*01:01:x``) is taken as part of the name.

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
    if names is not None and text in names:
        return text, 0, None
    name, sep, coords = text.rpartition(":")
    if not sep:
        return text, 0, None
    match = _COORDS.match(coords)
    if match is None:
        if names is not None or _LOOKS_NUMERIC.match(coords) or not coords:
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
