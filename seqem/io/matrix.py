"""Named numeric matrices (TSV/CSV, gzip allowed): a header of column names and
rows that start with their name, as expression tables (genes x samples) are;
two-column label tables (a name and its label); lists of names.

Compression is detected from the content (:class:`~._source.InputSource`).
Every problem is one :class:`~seqem.errors.InputFormatError` naming the file
and line: bytes that are not UTF-8 text, a blank or duplicated name, a ragged
row, a value that is not a finite number.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from ..errors import InputFormatError
from ._source import InputSource

__all__ = ["NamedMatrix", "read_matrix", "read_labels", "read_names"]


@dataclasses.dataclass(frozen=True)
class NamedMatrix:
    """A matrix with named rows and columns.

    Attributes
    ----------
    rows, columns : tuple of str
    values : float64 array (n_rows, n_columns)
    path : str
        Name of the file it was read from (for messages).
    lines : tuple of int
        Line of the file each row was read from (empty when not read from a file).
    """

    rows: tuple[str, ...]
    columns: tuple[str, ...]
    values: np.ndarray
    path: str
    lines: tuple[int, ...] = ()

    def line_of(self, row: int) -> int | None:
        """The file line of row ``row`` (None when unknown)."""
        return self.lines[row] if row < len(self.lines) else None


def _text(path: str, what: str) -> tuple[str, str]:
    """The name for messages and the decoded text of ``path`` (plain or gzip)."""
    source = InputSource(path)
    return source.name, source.read_text(what)


def _lines(path: str, what: str) -> tuple[str, list[tuple[int, str]]]:
    """The non-blank lines of ``path``, numbered from 1."""
    name, text = _text(path, what)
    lines = [(i, line) for i, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not lines:
        raise InputFormatError("empty file", path=name)
    return name, lines


def read_matrix(path: str) -> NamedMatrix:
    """Read a named matrix; every value must be a finite number and every name non-blank."""
    name, lines = _lines(path, "table")
    head_line, head = lines[0]
    sep = "\t" if "\t" in head else ","
    header = head.rstrip("\r").split(sep)
    columns = tuple(c.strip() for c in header[1:])
    if not columns:
        raise InputFormatError("the header names no columns", path=name, line=head_line)
    for j, c in enumerate(columns):
        if not c:
            raise InputFormatError(
                f"column {j + 2} of the header has no name", path=name, line=head_line
            )
    if len(set(columns)) != len(columns):
        dup = next(c for c in columns if columns.count(c) > 1)
        raise InputFormatError(f"column {dup!r} appears twice", path=name, line=head_line)
    rows: list[str] = []
    numbers: list[int] = []
    values = np.empty((len(lines) - 1, len(columns)))
    first: dict[str, int] = {}
    for i, (number, line) in enumerate(lines[1:]):
        cells = line.rstrip("\r").split(sep)
        if len(cells) != len(columns) + 1:
            raise InputFormatError(
                f"{len(cells)} fields, the header has {len(columns) + 1}", path=name, line=number
            )
        row = cells[0].strip()
        if not row:
            raise InputFormatError(
                "the row has no name (its first field is blank)", path=name, line=number
            )
        if row in first:
            raise InputFormatError(
                f"row {row!r} appears twice (also at line {first[row]})", path=name, line=number
            )
        first[row] = number
        rows.append(row)
        numbers.append(number)
        try:
            if "_" in line[len(cells[0]) :]:  # Python reads 1_000 as a number
                raise ValueError
            values[i] = [float(c) for c in cells[1:]]
        except ValueError:
            raise InputFormatError(
                f"row {row!r}: a value is not a number", path=name, line=number
            ) from None
        if not np.all(np.isfinite(values[i])):
            raise InputFormatError(f"row {row!r}: NaN or infinite value", path=name, line=number)
    if not rows:
        raise InputFormatError("no data rows", path=name)
    return NamedMatrix(tuple(rows), columns, values, name, tuple(numbers))


def read_labels(
    path: str, *, samples: Sequence[str] | None = None, samples_path: str | None = None
) -> dict[str, str]:
    """Two columns with a header: a name and its label (cell type).

    A name may be listed twice only with the same label; names and labels
    must not be blank.  With ``samples`` (the columns of the table
    ``samples_path`` that the labels are for), every labelled name must be
    one of them.
    """
    name, lines = _lines(path, "label table")
    head = lines[0][1]
    sep = "\t" if "\t" in head else ","
    out: dict[str, str] = {}
    where: dict[str, int] = {}
    known = None if samples is None else set(samples)
    for number, line in lines[1:]:
        cells = line.rstrip("\r").split(sep)
        if len(cells) < 2:
            raise InputFormatError("expected 'name<TAB>label'", path=name, line=number)
        key, label = cells[0].strip(), cells[1].strip()
        if not key:
            raise InputFormatError("the name (first field) is blank", path=name, line=number)
        if not label:
            raise InputFormatError(f"{key!r} has a blank label", path=name, line=number)
        if key in out and out[key] != label:
            raise InputFormatError(
                f"{key!r} is labelled {label!r} here and {out[key]!r} at line {where[key]}",
                path=name,
                line=number,
            )
        if known is not None and key not in known:
            of = f"of {samples_path}" if samples_path else "of the data"
            raise InputFormatError(f"{key!r} is not a column {of}", path=name, line=number)
        out.setdefault(key, label)
        where.setdefault(key, number)
    if not out:
        raise InputFormatError("no labels", path=name)
    return out


def read_names(path: str, what: str = "names") -> list[str]:
    """Names separated by white space (one per line, say), plain or gzip, in file order."""
    name, text = _text(path, f"list of {what}")
    names = list(dict.fromkeys(text.split()))
    if not names:
        raise InputFormatError(f"no {what}", path=name)
    return names
