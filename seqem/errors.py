"""Errors and warnings raised by seqem.

Every error a user can cause is a :class:`SeqemError`.  The subclasses also
derive from the matching builtin (``ValueError``, ``OSError``) so that code
written as ``except ValueError`` keeps working.  Each error can carry the
file, line and record it concerns; ``str(err)`` is one line that names them.
"""

from __future__ import annotations

import os

__all__ = [
    "SeqemError",
    "InputFormatError",
    "AlphabetError",
    "ParameterError",
    "NotFittedError",
    "ConvergenceWarning",
]


class SeqemError(Exception):
    """Base class of every error seqem raises on purpose.

    Parameters
    ----------
    message : str
        What is wrong and, where possible, how to fix it.
    path : str or os.PathLike, optional
        The file the problem was found in.
    line : int, optional
        1-based line number in ``path``.
    record : str, optional
        The record (sequence name, sample, row label) concerned.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | os.PathLike[str] | None = None,
        line: int | None = None,
        record: str | None = None,
    ) -> None:
        self.message = message
        self.path = None if path is None else os.fspath(path)
        self.line = line
        self.record = record
        super().__init__(self._format())

    def _format(self) -> str:
        where = ""
        if self.path is not None:
            where = self.path
            if self.line is not None:
                where += f":{self.line}"
            where += ": "
        elif self.line is not None:
            where = f"line {self.line}: "
        if self.record is not None:
            where += f"record '{self.record}': "
        return where + self.message


class InputFormatError(SeqemError, ValueError):
    """An input file or array is malformed (truncated, ragged, NaN, empty ...)."""


class AlphabetError(InputFormatError):
    """A sequence holds a character that is not in the expected alphabet."""


class ParameterError(SeqemError, ValueError):
    """A hyperparameter or model parameter is out of its valid range."""


class NotFittedError(SeqemError, AttributeError):
    """A method that needs fitted parameters was called before ``fit``."""


class ConvergenceWarning(UserWarning):
    """EM stopped without meeting its tolerance, or its objective fell."""
