"""The ``seqem`` command: parser factory, dispatch, errors and exit codes.

Exit codes: 0 success, 1 bad input (one line ``seqem: error: ...`` on
stderr, no traceback, no partial output file), 2 usage error, 130
interrupted.  A closed output pipe (``seqem ... | head``) ends the run
quietly.

Commands import NumPy, Numba and the models only when they run, so that
``seqem --help`` answers at once.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import traceback
import warnings
from collections.abc import Sequence

from .. import __version__
from ..errors import SeqemError
from ._common import COMMANDS, Parser, RunContext, begin_run, check_output_path, examples

__all__ = ["build_parser", "main"]

DESCRIPTION = """\
Expectation-maximization for sequence and genomics data.

Commands are grouped by analysis: 'seqem hmm segment' splits DNA into
compositional segments, 'seqem hmm fit' and 'seqem hmm decode' fit and apply
Gaussian HMMs to numeric tables; 'seqem profile build' and 'train' make
profile HMMs of sequence families (from an alignment, or from unaligned
sequences), 'search', 'scan', 'align', 'press', 'fetch', 'stat', 'emit' and
'logo' use them, and 'seqsearch' and 'iterate' search from one sequence;
'seqem haplo freq', 'phase' and 'ld' estimate haplotype frequencies, phase
and linkage disequilibrium from VCF files; 'seqem linkage' checks pedigrees
and computes LOD, HLOD and NPL scores; 'seqem gmm' fits Gaussian mixtures;
'seqem deconv count' counts reads per gene and 'seqem deconv run' estimates
cell-type proportions of bulk expression; 'seqem demo' runs them all on
bundled examples."""


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The argument parser of the ``seqem`` command (no heavy imports).

    Every command is listed; with ``only`` set (a command name, or ``""``)
    the others are placeholders with their one-line help, so that a command
    line imports only the module of the command it names.
    """
    parser = Parser(
        prog="seqem",
        description=DESCRIPTION,
        epilog=examples(
            "seqem demo",
            "seqem hmm segment data/example.fa.gz -n 3 -o segments.bed",
            "seqem hmm fit data/example_signal.tsv -n 3 --seq-col seq_id -o model.json",
            "seqem hmm decode model.json data/example_signal.tsv -o states.tsv",
            "seqem profile search data/example_family.hmm data/example_db.fa -o hits.tsv",
        ),
    )
    parser.add_argument("--version", action="version", version=f"seqem {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name, help_ in COMMANDS.items():
        if only is None or name == only:
            importlib.import_module(f"{__package__}.{name}").register(commands)
        else:
            commands.add_parser(name, help=help_, add_help=False)
    parser.set_defaults(_parser=parser)
    return parser


def _command_named(arguments: Sequence[str]) -> str:
    """The command an argument list names (its first word), or ``""``."""
    for word in arguments:
        if not word.startswith("-"):
            return word if word in COMMANDS else ""
    return ""


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _os_message(exc: OSError) -> str:
    if exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    return str(exc) or type(exc).__name__


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the exit flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass  # not a real file descriptor (captured output)


def _end_on_signal(signum: int, frame: object) -> None:
    """SIGINT/SIGTERM in the ``seqem`` process: remove unfinished outputs and end at once.

    Raising ``KeyboardInterrupt`` instead would unwind while worker threads
    (compiled kernels, the reader of the next piece of a database) still
    run, and the interpreter's shutdown under them can crash; nothing the
    run holds needs more than its temporary files removed.
    """
    from ..io.atomic import remove_temporaries

    remove_temporaries()
    if signum == signal.SIGINT:
        with contextlib.suppress(OSError):
            tty = os.isatty(2)
            os.write(2, ("\r\x1b[K" if tty else "").encode() + b"seqem: interrupted\n")
    os._exit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``seqem`` with ``argv`` (default ``sys.argv[1:]``) and return the exit code.

    Called without ``argv`` (the ``seqem`` program), an interrupt or a
    termination signal ends the process at once (:func:`_end_on_signal`).
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    if argv is None:
        from .. import _program

        _program.running = True  # the kernels' first import makes Numba's start lighter
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError, OSError):  # not the main thread
                signal.signal(sig, _end_on_signal)
    parser = build_parser(only=_command_named(arguments))
    try:
        args = parser.parse_args(arguments)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    run = getattr(args, "_run", None)
    if run is None:  # a group without a verb
        args._parser.print_help(sys.stderr)
        return 2

    from ..io.atomic import staged_outputs

    ctx = RunContext(args, arguments)
    begin_run(arguments)
    # a command's outputs are committed together unless it fails with an error
    # (the demo reads some of its outputs back, so it writes each at once)
    stage = getattr(args, "_stage_outputs", True)
    try:
        with staged_outputs() if stage else contextlib.nullcontext():
            if stage:  # (the demo makes its output folder, where the report may go)
                check_output_path(getattr(args, "report", None))
            with warnings.catch_warnings():
                warnings.showwarning = ctx.show_warning
                code = int(run(args, ctx))
            ctx.finish_progress()
            ctx.summarize_warnings()
            if code == 0 and getattr(args, "report", None):
                ctx.write_report(args.report)
        return code
    except BrokenPipeError:
        _silence_stdout()
        return 141  # 128 + SIGPIPE, as if killed by the signal
    except KeyboardInterrupt:
        ctx.finish_progress()
        print("seqem: interrupted", file=sys.stderr)
        return 130
    except (SeqemError, OSError, MemoryError) as exc:
        ctx.finish_progress()
        ctx.summarize_warnings()
        if ctx.verbose:
            traceback.print_exc()
        if isinstance(exc, SeqemError):
            message = str(exc)
        elif isinstance(exc, MemoryError):
            message = "out of memory; try a smaller input or region"
        else:
            message = _os_message(exc)
        print(f"seqem: error: {_one_line(message)}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
