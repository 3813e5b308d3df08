"""Numeric observation tables (TSV or CSV) in, TSV out.

The input's first line is a header row of column names.  Every other
non-blank line is one observation (one time step); an optional sequence-id
column splits the rows into sequences: consecutive rows with the same id are
one sequence.

>>> import io, sys
>>> from seqem.io.table import read_table
>>> text = b"seq_id\\tx1\\tx2\\na\\t1.0\\t2\\na\\t1.5\\t2.5\\nb\\t0\\t1e-3\\n"
>>> sys.stdin = io.TextIOWrapper(io.BytesIO(text))
>>> obs = read_table("-", seq_col="seq_id")
>>> sys.stdin = sys.__stdin__
>>> obs.columns, obs.lengths.tolist(), obs.seq_ids
(('x1', 'x2'), [2, 1], ('a', 'b'))
>>> obs.X.shape
(3, 2)
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import os
from collections.abc import Iterable, Sequence
from typing import IO, Any

import numpy as np

from ..errors import InputFormatError
from ._source import InputSource
from .atomic import atomic_output

__all__ = ["Observations", "read_table", "write_tsv", "format_cell", "MISSING_TOKENS"]

#: Field values read as "missing" (and rejected with a message that says so).
MISSING_TOKENS = frozenset({"", "na", "nan", "n/a", "null", "none", "."})


@dataclasses.dataclass(frozen=True, eq=False)
class Observations:
    """Numeric observations of one or more sequences.

    Attributes
    ----------
    columns : tuple of str
        Names of the columns of ``X``.
    X : float64 array, shape (n_rows, n_columns)
        All rows of all sequences, in file order.
    lengths : int64 array, shape (n_sequences,)
        Rows per sequence (one sequence unless a sequence column was given).
    seq_ids : tuple of str or None
        Id of each sequence, or None without a sequence column.
    """

    columns: tuple[str, ...]
    X: np.ndarray
    lengths: np.ndarray
    seq_ids: tuple[str, ...] | None

    @property
    def n_rows(self) -> int:
        """Number of observations."""
        return int(self.X.shape[0])


def _sniff_delimiter(header_line: str) -> str:
    if "\t" in header_line:
        return "\t"
    if "," in header_line:
        return ","
    return "\t"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_table(
    path: str | os.PathLike[str],
    *,
    columns: Sequence[str] | None = None,
    seq_col: str | None = None,
    sep: str | None = None,
    purpose: str = "Gaussian HMM",
) -> Observations:
    """Read a table of numeric observations.

    Parameters
    ----------
    path : str or os.PathLike
        TSV or CSV file, plain or gzip (detected from its content), or
        ``"-"`` for standard input.  The first line must be a header row of
        column names; blank lines are skipped.
    columns : sequence of str, optional
        Columns to use, in this order; by default every column except
        ``seq_col``.
    seq_col : str, optional
        Column holding a sequence id; consecutive rows with equal ids form
        one sequence.  Each sequence's rows must be contiguous.
    sep : str, optional
        Field delimiter; by default a tab if the header has one, else a comma
        if it has one, else a tab.
    purpose : str
        What the table is input of, for messages ("missing values are not
        supported in Gaussian HMM input").

    Returns
    -------
    Observations

    Raises
    ------
    InputFormatError
        Empty input, a header without data rows, duplicate or unknown column
        names, a row with the wrong number of fields, a field that is not a
        number, a missing or infinite value, or a sequence whose rows are not
        contiguous.  The message names the file and line.
    OSError
        The file cannot be opened.
    """
    source = InputSource(path)
    name = source.name
    text = source.read_text("table")
    if not text.strip():
        raise InputFormatError(
            "empty file; expected a header row of column names, then one row per observation",
            path=name,
        )
    first_line = text.lstrip("\r\n").split("\n", 1)[0]
    delimiter = sep if sep is not None else _sniff_delimiter(first_line)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)

    header: list[str] | None = None
    header_line = 0
    rows: list[list[str]] = []
    line_numbers: list[int] = []
    for fields in reader:
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue
        if header is None:
            header = [f.strip() for f in fields]
            header_line = reader.line_num
            continue
        rows.append(fields)
        line_numbers.append(reader.line_num)
    assert header is not None

    if all(_is_number(h) for h in header):
        raise InputFormatError(
            "the first line must be a header row of column names, found only numbers",
            path=name,
            line=header_line,
        )
    for i, col in enumerate(header):
        if not col:
            raise InputFormatError(
                f"column {i + 1} of the header has no name", path=name, line=header_line
            )
        if header.index(col) != i:
            raise InputFormatError(
                f"duplicate column name {col!r} in the header", path=name, line=header_line
            )
    known = ", ".join(header)
    if seq_col is not None and seq_col not in header:
        raise InputFormatError(
            f"unknown sequence column {seq_col!r}; the header has: {known}",
            path=name,
            line=header_line,
        )
    if columns is None:
        selected = [c for c in header if c != seq_col]
    else:
        selected = list(columns)
        for col in selected:
            if col not in header:
                raise InputFormatError(
                    f"unknown column {col!r}; the header has: {known}", path=name, line=header_line
                )
    if not selected:
        raise InputFormatError(
            "no data columns: the table has only the sequence column", path=name, line=header_line
        )
    if not rows:
        raise InputFormatError(
            "no data rows after the header; expected one row per observation",
            path=name,
            line=header_line,
        )

    width = len(header)
    for fields, line in zip(rows, line_numbers, strict=True):
        if len(fields) != width:
            raise InputFormatError(
                f"expected {width} fields (as in the header), found {len(fields)}; "
                f"is the delimiter {'a tab' if delimiter == chr(9) else repr(delimiter)}?",
                path=name,
                line=line,
            )

    X = np.empty((len(rows), len(selected)), dtype=np.float64)
    for j, col in enumerate(selected):
        k = header.index(col)
        cells = [fields[k].strip() for fields in rows]
        try:
            if any("_" in cell for cell in cells):  # Python reads 1_000 as a number
                raise ValueError
            X[:, j] = np.array(cells, dtype=np.float64)
        except ValueError:
            X[:, j] = _convert_slowly(cells, col, name, line_numbers, purpose)
        finite = np.isfinite(X[:, j])
        if not finite.all():
            i = int(np.argmin(finite))
            _reject_missing(cells[i], col, name, line_numbers[i], i + 1, purpose)

    if seq_col is None:
        lengths = np.array([len(rows)], dtype=np.int64)
        seq_ids = None
    else:
        k = header.index(seq_col)
        lengths, seq_ids = _runs([fields[k].strip() for fields in rows], name, line_numbers)
    return Observations(columns=tuple(selected), X=X, lengths=lengths, seq_ids=seq_ids)


def _reject_missing(cell: str, col: str, path: str, line: int, row: int, purpose: str) -> None:
    word = cell.lower().lstrip("+-")
    if word in ("inf", "infinity"):
        kind = "infinite value"
    elif word not in MISSING_TOKENS and _is_number(cell):  # 1e400: beyond float range
        raise InputFormatError(
            f"value {cell!r} in column {col!r} overflows (beyond +-1.8e308, the largest "
            f"floating-point number) in {purpose} input; rescale the column (row {row})",
            path=path,
            line=line,
        )
    else:
        kind = "missing value"
    raise InputFormatError(
        f"{kind} {cell!r} in column {col!r}; missing values are not supported in {purpose} "
        f"input; remove or impute row {row}",
        path=path,
        line=line,
    )


def _convert_slowly(
    cells: list[str], col: str, path: str, lines: list[int], purpose: str
) -> np.ndarray:
    """Convert cell by cell, to name the first bad one."""
    out = np.empty(len(cells), dtype=np.float64)
    for i, cell in enumerate(cells):
        try:
            if "_" in cell:
                raise ValueError
            out[i] = float(cell)
        except ValueError:
            if cell.lower() in MISSING_TOKENS:
                _reject_missing(cell, col, path, lines[i], i + 1, purpose)
            raise InputFormatError(
                f"non-numeric value {cell!r} in column {col!r} (row {i + 1}); expected a number "
                "(if the column holds sequence ids, name it as the sequence column)",
                path=path,
                line=lines[i],
            ) from None
    return out


def _runs(ids: list[str], path: str, lines: list[int]) -> tuple[np.ndarray, tuple[str, ...]]:
    """Lengths and ids of runs of equal consecutive ids; each id once."""
    seq_ids: list[str] = []
    lengths: list[int] = []
    first_line: dict[str, int] = {}
    for i, value in enumerate(ids):
        if seq_ids and value == seq_ids[-1]:
            lengths[-1] += 1
            continue
        if not value:
            raise InputFormatError("empty sequence id", path=path, line=lines[i])
        if value in first_line:
            raise InputFormatError(
                f"rows of sequence {value!r} are not contiguous (it also appears at line "
                f"{first_line[value]}); sort the table by sequence id",
                path=path,
                line=lines[i],
            )
        first_line[value] = lines[i]
        seq_ids.append(value)
        lengths.append(1)
    return np.asarray(lengths, dtype=np.int64), tuple(seq_ids)


def format_cell(value: Any, float_format: str = "{:.6g}") -> str:
    """A table cell: ``NA`` for None or NaN, floats with ``float_format``."""
    if value is None:
        return "NA"
    if isinstance(value, bool | np.bool_):
        return str(bool(value)).lower()
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return "NA"
        return float_format.format(float(value))
    text = str(value)
    if "\t" in text or "\n" in text:
        raise ValueError(f"a TSV cell cannot hold tabs or newlines: {text!r}")
    return text


def write_tsv(
    dest: str | os.PathLike[str] | IO[str],
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    float_format: str = "{:.6g}",
) -> None:
    """Write a TSV table with one header row; missing values are written ``NA``.

    Parameters
    ----------
    dest : str, os.PathLike or text file
        Output path (``"-"`` for standard output; written atomically, and
        gzip-compressed if it ends in ``.gz``) or an open text handle.
    header : sequence of str
        Column names.
    rows : iterable of sequences
        One sequence of cells per row, as long as ``header``.
    float_format : str
        ``str.format`` pattern for floats.
    """
    if isinstance(dest, str | os.PathLike):
        with atomic_output(dest) as fh:
            _write_rows(fh, header, rows, float_format)
    else:
        _write_rows(dest, header, rows, float_format)


def _write_rows(
    fh: IO[str], header: Sequence[str], rows: Iterable[Sequence[Any]], float_format: str
) -> None:
    width = len(header)
    fh.write("\t".join(header) + "\n")
    for row in rows:
        if len(row) != width:
            raise ValueError(f"row has {len(row)} cells, header has {width}")
        fh.write("\t".join(format_cell(v, float_format) for v in row) + "\n")
