"""Pieces every command shares: the parser class, common options, the run context.

Nothing here imports NumPy or Numba at module level: building the parser
(``seqem --help``) must stay fast.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TextIO

from .. import __version__

#: The fixed default seed: the same command gives the same result.
DEFAULT_SEED = 1

#: The top-level commands and their one-line help, in the order ``seqem --help``
#: lists them.  The main parser lists them all from this table and builds (and
#: imports the module of) only the one a command line names.
COMMANDS = {
    "hmm": "hidden Markov models: segment DNA, fit and decode numeric tables",
    "profile": "profile HMMs: build or train, search, scan, seqsearch, iterate, align, press, "
    "fetch, stat, emit, logo",
    "haplo": "haplotypes of genotype files: frequencies, phase, linkage disequilibrium",
    "deconv": "bulk-expression deconvolution into cell-type proportions",
    "linkage": "pedigree linkage: check data, parametric LOD/HLOD and NPL scores",
    "gmm": "Gaussian mixture models of numeric tables: fit, predict, select",
    "demo": "run every analysis on bundled example data and check it against the truth",
}


class Parser(argparse.ArgumentParser):
    """ArgumentParser whose usage errors are one line on stderr (exit code 2)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def examples(*lines: str) -> str:
    """An epilog: ``Examples:`` and indented command lines (run from the repository top)."""
    body = "\n".join(f"  {line}" if line else "" for line in lines)
    return f"Examples (run from the top of the seqem source tree, where data/ is):\n{body}"


# -- argument types ---------------------------------------------------------


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value


def nonnegative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return value


def nonnegative_float(text: str) -> float:
    """argparse type: a finite number >= 0."""
    value = _float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    value = _float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}")
    return value


def probability(text: str) -> float:
    """argparse type: a number in [0, 1]."""
    value = _float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a number between 0 and 1, got {text!r}")
    return value


def positive_probability(text: str) -> float:
    """argparse type: a number in (0, 1]."""
    value = _float(text)
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a number > 0 and <= 1, got {text!r}")
    return value


def column_list(text: str) -> list[str]:
    """argparse type: comma-separated column names."""
    names = [c.strip() for c in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected comma-separated column names, got {text!r}")
    return names


#: Largest integer an option takes (beyond it no count, size or seed makes sense).
INT_LIMIT = 2**53


def int_range(text: str, option: str) -> tuple[int, int]:
    """``A-B`` (or one number ``A``) as ``(A, B)``, 1 <= A <= B; ``option`` names the
    option in the message."""
    from ..errors import SeqemError

    try:
        if "-" in text:
            a, b = (int(x) for x in text.split("-", 1))
        else:
            a = b = int(text)
    except ValueError:
        raise SeqemError(f"{option} {text!r}: expected a number or a range A-B") from None
    if a < 1 or b < a:
        raise SeqemError(f"{option} {text!r}: expected 1 <= A <= B")
    return a, b


def _int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if abs(value) > INT_LIMIT:
        raise argparse.ArgumentTypeError(f"{text!r} is too large (at most {INT_LIMIT})")
    return value


def finite_float(text: str) -> float:
    """argparse type: any finite number."""
    return _float(text)


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


# -- common options ---------------------------------------------------------


def add_run_options(parser: argparse.ArgumentParser, *, threads: bool = True) -> None:
    """``--threads``, ``-q/--quiet``, ``-v/--verbose``, ``--report``."""
    group = parser.add_argument_group("run options")
    if threads:
        group.add_argument(
            "--threads",
            type=nonnegative_int,
            default=0,
            metavar="N",
            help="threads for the kernels; 0 = all available cores (default: %(default)s)",
        )
    group.add_argument(
        "-q", "--quiet", action="store_true", help="print nothing on stderr but errors"
    )
    group.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log every EM iteration on stderr; print a traceback with errors",
    )
    group.add_argument(
        "--report",
        metavar="RUN.json",
        help="write a JSON run report: versions, command line, parameters, seed, "
        "fit result, time, peak memory",
    )


def add_fit_options(parser: argparse.ArgumentParser, *, n_init: int) -> None:
    """``--seed``, ``--max-iter``, ``--tol``, ``--n-init``."""
    group = parser.add_argument_group("fitting")
    group.add_argument(
        "--seed",
        type=nonnegative_int,
        default=DEFAULT_SEED,
        metavar="S",
        help="seed of the random starting points (default: %(default)s)",
    )
    group.add_argument(
        "--max-iter",
        type=nonnegative_int,
        default=100,
        metavar="N",
        help="largest number of EM iterations per start (default: %(default)s)",
    )
    group.add_argument(
        "--tol",
        type=nonnegative_float,
        default=1e-3,
        metavar="X",
        help="stop when the log-likelihood rises by less than this (default: %(default)s)",
    )
    group.add_argument(
        "--n-init",
        type=positive_int,
        default=n_init,
        metavar="N",
        help="random starts; the best log-likelihood wins (default: %(default)s)",
    )


# -- the run context ----------------------------------------------------------


class StatusLine:
    """A status on stderr: one rewritten line on a terminal (at most ten a second),
    log lines with -v."""

    def __init__(self, stream: TextIO, *, tty: bool, lines: bool):
        self.stream = stream
        self.tty = tty
        self.lines = lines
        self.shown = False
        self.last = 0.0

    def show(self, text: str) -> None:
        if self.lines:
            self.stream.write(text + "\n")
            self.stream.flush()
        elif self.tty:
            now = time.monotonic()
            if now - self.last >= 0.1:
                self.stream.write("\r\x1b[K" + text)
                self.stream.flush()
                self.shown = True
                self.last = now

    def close(self) -> None:
        """Erase the status line."""
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False


class Progress(StatusLine):
    """EM progress on stderr: one rewritten line on a terminal, log lines with -v."""

    def __init__(self, label: str, n_init: int, stream: TextIO, *, tty: bool, lines: bool):
        super().__init__(stream, tty=tty, lines=lines)
        self.label = label
        self.n_init = n_init

    def __call__(self, run_index: int, n_iter: int, objective: float) -> None:
        self.show(
            f"{self.label}: start {run_index + 1}/{self.n_init}, iteration {n_iter}, "
            f"log-likelihood {objective:.6f}"
        )


class RunContext:
    """What one command run collects for messages and its report."""

    def __init__(self, args: argparse.Namespace, argv: Sequence[str]) -> None:
        self.args = args
        self.argv = list(argv)
        self.quiet = bool(getattr(args, "quiet", False))
        self.verbose = bool(getattr(args, "verbose", False)) and not self.quiet
        self.started = time.time()
        self.clock = time.perf_counter()
        self.warnings: list[str] = []
        self.fit_results: dict[str, Any] = {}
        self.results: dict[str, Any] = {}
        self.outputs: list[str] = []
        self._progress: list[StatusLine] = []
        self._repeats: dict[str, int] = {}  # warnings by kind: how many not shown

    # -- messages --

    def info(self, message: str) -> None:
        """A message on stderr, unless --quiet."""
        if not self.quiet:
            print(message, file=sys.stderr)

    def debug(self, message: str) -> None:
        """A message on stderr with --verbose."""
        if self.verbose:
            print(message, file=sys.stderr)

    def show_warning(
        self,
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        """``warnings.showwarning`` replacement: one line, recorded in the report."""
        text = " ".join(str(message).split())
        self.warnings.append(text)
        # warnings that differ only in their numbers are shown once, then counted
        kind = re.sub(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", "#", text)
        self._repeats[kind] = self._repeats.get(kind, -1) + 1
        if self._repeats[kind]:
            return
        self.finish_progress()
        if not self.quiet:
            print(f"seqem: warning: {text}", file=sys.stderr)

    def summarize_warnings(self) -> None:
        """One line for each kind of warning that was repeated (each shown only once)."""
        for kind, more in self._repeats.items():
            if more and not self.quiet:
                self.finish_progress()
                first = kind if len(kind) <= 60 else kind[:57] + "..."
                print(
                    f"seqem: warning: {more} more like '{first}' (all in --report)",
                    file=sys.stderr,
                )
        self._repeats.clear()

    def progress(self, label: str, n_init: int) -> Callable[[int, int, float], None] | None:
        """An EM callback, or None when progress is not shown."""
        stream = sys.stderr
        tty = bool(getattr(stream, "isatty", lambda: False)())
        if self.quiet or not (tty or self.verbose):
            return None
        p = Progress(label, n_init, stream, tty=tty, lines=self.verbose)
        self._progress.append(p)
        return p

    def status(self) -> Callable[[str], None] | None:
        """A status-line writer (``show(text)``), or None when progress is not shown."""
        stream = sys.stderr
        tty = bool(getattr(stream, "isatty", lambda: False)())
        if self.quiet or not (tty or self.verbose):
            return None
        line = StatusLine(stream, tty=tty, lines=self.verbose)
        self._progress.append(line)
        return line.show

    def finish_progress(self) -> None:
        """Erase any progress line before other output."""
        for p in self._progress:
            p.close()

    # -- report --

    def report(self) -> dict[str, Any]:
        """The JSON run report (provenance and results)."""
        params = {
            k: v for k, v in vars(self.args).items() if not k.startswith("_") and _jsonable(v)
        }
        fits = self.fit_results
        return {
            "seqem_version": __version__,
            "command": " ".join(
                str(getattr(self.args, k))
                for k in ("command", "verb")
                if getattr(self.args, k, None)
            ),
            "argv": ["seqem", *self.argv],
            "parameters": params,
            "seed": getattr(self.args, "seed", None),
            "fit_result": next(iter(fits.values())) if len(fits) == 1 else None,
            "fit_results": fits,
            **({"loglik": self.results["loglik"]} if "loglik" in self.results else {}),
            "results": self.results,
            "outputs": self.outputs,
            "warnings": self.warnings,
            "environment": environment(),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(self.started)),
            "elapsed_seconds": round(time.perf_counter() - self.clock, 6),
            "peak_memory_mb": peak_memory_mb(),
        }

    def write_report(self, path: str) -> None:
        """Write the report atomically."""
        from ..io.atomic import atomic_output

        text = json.dumps(self.report(), indent=1, default=str)
        with atomic_output(path) as fh:
            fh.write(text + "\n")


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _package_version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def environment() -> dict[str, Any]:
    """Versions of Python and of the libraries behind the numbers."""
    from .._jit import available_cores

    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "numpy": _package_version("numpy"),
        "numba": _package_version("numba"),
        "biopython": _package_version("biopython"),
        "available_cores": available_cores(),
    }


def peak_memory_mb() -> float | None:
    """Peak resident memory of this process in MiB (None where unknown)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return round(peak * scale / 2**20, 1)


def write_text(path: str, text: str) -> None:
    """Write ``text`` to ``path`` atomically (``-`` is stdout)."""
    from ..io.atomic import atomic_output

    with atomic_output(path) as fh:
        fh.write(text)


def write_chunks(path: str, chunks: Iterable[bytes]) -> None:
    """Write byte ``chunks`` to ``path`` atomically (``-`` is stdout), one at a time."""
    from ..io.atomic import atomic_output

    with atomic_output(path, "wb") as fh:
        for chunk in chunks:
            fh.write(chunk)


#: Image formats ``--plot`` writes (by the file name's extension).
PLOT_FORMATS = ("png", "pdf", "svg")

#: Outputs named so far by the running command (real path -> as given): two
#: outputs of one run cannot be the same file.
_claimed: dict[str, str] = {}
#: The running command's arguments (an output must not be one of its inputs).
_arguments: list[str] = []


def begin_run(argv: Sequence[str] = ()) -> None:
    """Start checking the outputs of a new run of ``seqem argv``."""
    _claimed.clear()
    _arguments[:] = [a.split("=", 1)[1] if a.startswith("--") and "=" in a else a for a in argv]


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def check_output_path(path: str | None, *, plot: bool = False) -> None:
    """Fail early (before a long fit) if ``path`` cannot be this run's output.

    Its directory must exist, it must not be a directory, no other output of
    the run may be the same file and (``plot``) its extension must name an
    image format.
    """
    from ..errors import ParameterError

    if path is None or path == "-":
        return
    if not path.strip():
        raise ParameterError("an output file name is empty")
    if path.endswith(("/", os.sep)):
        raise IsADirectoryError(21, "names a directory, expected a file name", path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(2, "output directory does not exist", path)
    if os.path.isdir(path):
        raise IsADirectoryError(21, "is a directory, expected a file name", path)
    if plot:
        ext = os.path.splitext(path)[1][1:].lower()
        if ext not in PLOT_FORMATS:
            raise ParameterError(f"{path}: unknown image format; use a .png, .pdf or .svg name")
    real = os.path.realpath(path)
    if os.path.exists(real) and not os.path.isfile(real):
        return  # a pipe or a device (/dev/null) may take several outputs
    if os.path.isfile(real) and sum(_same_file(a, real) for a in _arguments) > 1:
        raise ParameterError(f"{path}: is also an input; write the output elsewhere")
    if real in _claimed:
        other = "" if _claimed[real] == path else f" (also given as {_claimed[real]})"
        raise ParameterError(f"{path}: the same file is given for two outputs{other}")
    _claimed[real] = path
