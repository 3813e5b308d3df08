"""Named numeric matrices (TSV/CSV, gzip allowed): a header of column names and
rows that start with their name, as expression tables (genes x samples) are.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import InputFormatError
from ._source import InputSource

__all__ = ["NamedMatrix", "read_matrix", "read_labels"]


@dataclasses.dataclass(frozen=True)
class NamedMatrix:
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    values: np.ndarray
    path: str


def _lines(path: str) -> tuple[str, list[str]]:
    source = InputSource(path)
    text = source.read_bytes().decode("utf-8", errors="replace")
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise InputFormatError("empty file", path=source.name)
    return source.name, lines


def read_matrix(path: str) -> NamedMatrix:
    """Read a named matrix; every value must be a finite number."""
    name, lines = _lines(path)
    sep = "\t" if "\t" in lines[0] else ","
    header = lines[0].rstrip("\r").split(sep)
    columns = tuple(c.strip() for c in header[1:])
    if not columns:
        raise InputFormatError("the header names no columns", path=name)
    if len(set(columns)) != len(columns):
        dup = next(c for c in columns if columns.count(c) > 1)
        raise InputFormatError(f"column {dup!r} appears twice", path=name)
    rows: list[str] = []
    values = np.empty((len(lines) - 1, len(columns)))
    for i, line in enumerate(lines[1:]):
        cells = line.rstrip("\r").split(sep)
        if len(cells) != len(columns) + 1:
            raise InputFormatError(
                f"line {i + 2}: {len(cells)} fields, the header has {len(columns) + 1}", path=name
            )
        rows.append(cells[0].strip())
        try:
            values[i] = [float(c) for c in cells[1:]]
        except ValueError:
            raise InputFormatError(
                f"line {i + 2} ({rows[-1]!r}): a value is not a number", path=name
            ) from None
        if not np.all(np.isfinite(values[i])):
            raise InputFormatError(f"line {i + 2} ({rows[-1]!r}): NaN or infinite value", path=name)
    if not rows:
        raise InputFormatError("no data rows", path=name)
    if len(set(rows)) != len(rows):
        seen: set[str] = set()
        dup = next(r for r in rows if r in seen or seen.add(r))  # type: ignore[func-returns-value]
        raise InputFormatError(f"row {dup!r} appears twice", path=name)
    return NamedMatrix(tuple(rows), columns, values, name)


def read_labels(path: str) -> dict[str, str]:
    """Two columns with a header: a name and its label (cell type)."""
    name, lines = _lines(path)
    sep = "\t" if "\t" in lines[0] else ","
    out: dict[str, str] = {}
    for i, line in enumerate(lines[1:]):
        cells = line.rstrip("\r").split(sep)
        if len(cells) < 2:
            raise InputFormatError(f"line {i + 2}: expected 'name<TAB>label'", path=name)
        out[cells[0].strip()] = cells[1].strip()
    if not out:
        raise InputFormatError("no labels", path=name)
    return out
