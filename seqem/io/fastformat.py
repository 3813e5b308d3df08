"""Vectorised text formatting of large numeric tables (TSV bodies as bytes).

Each row of the table is laid out in a fixed-width ``uint8`` buffer: every
column gets a slot as wide as its widest value, unused cells hold a filler
byte (0), and tab and newline bytes go between the slots.  Dropping the
filler leaves the text.  A table of millions of rows is thus formatted by a
handful of array operations instead of a Python loop over rows.

>>> import numpy as np
>>> names = text_matrix(["a", "bc"])
>>> body = format_rows([Text(names[np.array([1, 0])]),
...                     Int(np.array([7, 1204])),
...                     Fixed(np.array([-0.5, np.nan]), 3)])
>>> body.decode()
'bc\\t7\\t-0.500\\na\\t1204\\tNA\\n'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

__all__ = ["FILLER", "Fixed", "Int", "Text", "format_rows", "text_matrix"]

#: The byte that marks an unused cell (dropped when the rows are joined).
FILLER = 0


def text_matrix(values: Sequence[str]) -> np.ndarray:
    """Strings as a (len(values), width) byte matrix, left-aligned, filler after."""
    encoded = [v.encode() for v in values]
    if any(FILLER in e for e in encoded):
        raise ValueError("text contains a NUL byte")
    width = max((len(e) for e in encoded), default=0)
    packed = np.array(encoded, dtype=f"S{max(width, 1)}")
    return packed.view(np.uint8).reshape(len(encoded), max(width, 1))[:, :width]


@dataclasses.dataclass(frozen=True)
class Text:
    """A column of ready bytes: a (n, width) matrix from :func:`text_matrix`."""

    matrix: np.ndarray

    def width(self) -> int:
        return int(self.matrix.shape[1])

    def write(self, out: np.ndarray) -> None:
        out[:] = self.matrix


@dataclasses.dataclass(frozen=True)
class Int:
    """A column of integers."""

    values: np.ndarray

    def _magnitudes(self) -> np.ndarray:
        return np.abs(np.asarray(self.values).astype(np.int64).ravel())

    def width(self) -> int:
        v = np.asarray(self.values).astype(np.int64)
        if not v.size:
            return 1
        return len(str(int(np.abs(v).max()))) + int(bool((v < 0).any()))

    def write(self, out: np.ndarray) -> None:
        v = np.asarray(self.values).astype(np.int64).ravel()
        mag = np.abs(v)
        width = out.shape[1]
        _digits(mag, out, blank_leading=True)
        if (v < 0).any():
            # the sign goes just before the first digit
            n_digits = _count_digits(mag)
            rows = np.flatnonzero(v < 0)
            out[rows, width - 1 - n_digits[rows]] = 45


@dataclasses.dataclass(frozen=True)
class Fixed:
    """A column of floats with ``decimals`` decimals; ``na`` where not finite.

    Rounded half to even at the last decimal (``numpy.rint``); a value that
    rounds to zero is printed without a minus sign.
    """

    values: np.ndarray
    decimals: int = 6
    na: bytes = b"NA"

    def _scaled(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = np.asarray(self.values, dtype=float).ravel()
        finite = np.isfinite(x)
        scaled = np.rint(np.abs(np.where(finite, x, 0.0)) * 10**self.decimals)
        if scaled.size and scaled.max() >= 2.0**62:
            raise ValueError("value too large for fixed-point formatting")
        return x, finite, scaled.astype(np.int64)

    def width(self) -> int:
        x, _, v = self._scaled()
        whole = len(str(int(v.max()) // 10**self.decimals)) if v.size else 1
        body = 1 + whole + (1 + self.decimals if self.decimals else 0)
        return max(body, len(self.na))

    def write(self, out: np.ndarray) -> None:
        x, finite, v = self._scaled()
        scale = 10**self.decimals
        width = out.shape[1]
        point = width - self.decimals - 1 if self.decimals else width
        whole = v // scale
        _digits(whole, out[:, :point], blank_leading=True)
        if self.decimals:
            out[:, point] = 46
            _digits(v - whole * scale, out[:, point + 1 :], blank_leading=False)
        negative = np.flatnonzero((x < 0) & (v > 0))
        if negative.size:
            out[negative, point - 1 - _count_digits(whole[negative])] = 45
        bad = np.flatnonzero(~finite)
        if bad.size:
            out[bad] = FILLER
            out[bad, : len(self.na)] = np.frombuffer(self.na, dtype=np.uint8)


Column = Text | Int | Fixed


def _count_digits(values: np.ndarray) -> np.ndarray:
    """Decimal digits of non-negative integers (1 for zero)."""
    powers = 10 ** np.arange(1, 19, dtype=np.int64)
    return np.searchsorted(powers, values, side="right") + 1


def _digits(values: np.ndarray, out: np.ndarray, *, blank_leading: bool) -> None:
    """Write non-negative integers right-aligned into ``out`` (n, width), a digit column at a time.

    Leading zeros are written as digits, or as filler (all but the last
    digit) with ``blank_leading``.  Values wider than ``out`` lose their
    leading digits (the caller sizes ``out``).
    """
    width = out.shape[1]
    v = values.astype(np.uint32 if values.max(initial=0) < 2**32 else np.int64)
    for j in range(width - 1, -1, -1):
        q = v // 10  # (division by a constant is fast; the remainder operator is not)
        digit = (v - q * 10 + 48).astype(np.uint8)
        if blank_leading and j < width - 1:
            digit[v == 0] = FILLER
        out[:, j] = digit
        v = q


def format_rows(columns: Sequence[Column], sep: int = 9, end: int = 10) -> bytes:
    """The columns' rows as text: ``sep`` between the fields, ``end`` after each row."""
    if not columns:
        return b""
    widths = [c.width() for c in columns]
    total = sum(widths) + len(widths)
    n = _rows(columns[0])
    out = np.empty((n, total), dtype=np.uint8)
    at = 0
    for column, w in zip(columns, widths, strict=True):
        if _rows(column) != n:
            raise ValueError("columns of different lengths")
        column.write(out[:, at : at + w])
        out[:, at + w] = sep
        at += w + 1
    out[:, -1] = end
    flat = out.ravel()
    return flat[flat != FILLER].tobytes()


def _rows(column: Column) -> int:
    if isinstance(column, Text):
        return int(column.matrix.shape[0])
    return int(np.asarray(column.values).size)
