"""Progress lines: only on a terminal (or with -v), never with -q."""

import argparse
import io

from seqem.cli._common import Progress, RunContext


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def context(monkeypatch, stream, **flags):
    monkeypatch.setattr("sys.stderr", stream)
    args = argparse.Namespace(quiet=flags.get("quiet", False), verbose=flags.get("verbose", False))
    return RunContext(args, [])


def test_terminal_gets_one_rewritten_line(monkeypatch):
    stream = FakeTTY()
    ctx = context(monkeypatch, stream)
    callback = ctx.progress("fit", 2)
    assert isinstance(callback, Progress)
    callback(0, 1, -123.5)
    ctx.finish_progress()
    text = stream.getvalue()
    assert text.startswith("\r\x1b[Kfit: start 1/2, iteration 1, log-likelihood -123.500000")
    assert text.endswith("\r\x1b[K") and "\n" not in text


def test_no_progress_when_not_a_terminal_or_quiet(monkeypatch):
    assert context(monkeypatch, io.StringIO()).progress("fit", 1) is None
    assert context(monkeypatch, FakeTTY(), quiet=True).progress("fit", 1) is None


def test_verbose_logs_lines_anywhere(monkeypatch):
    stream = io.StringIO()
    callback = context(monkeypatch, stream, verbose=True).progress("fit", 1)
    callback(0, 1, -2.0)
    callback(0, 2, -1.0)
    assert stream.getvalue().count("\n") == 2


def test_warnings_are_one_line_and_recorded(monkeypatch):
    stream = io.StringIO()
    ctx = context(monkeypatch, stream)
    ctx.show_warning(UserWarning("EM did not\nconverge"), UserWarning, "f.py", 1)
    assert stream.getvalue() == "seqem: warning: EM did not converge\n"
    assert ctx.warnings == ["EM did not converge"]


def test_status_lines_follow_the_same_rules(monkeypatch):
    assert context(monkeypatch, io.StringIO()).status() is None
    assert context(monkeypatch, FakeTTY(), quiet=True).status() is None
    stream = FakeTTY()
    ctx = context(monkeypatch, stream)
    show = ctx.status()
    show("search: 10 sequences")
    show("search: 20 sequences")  # within a tenth of a second: not redrawn
    ctx.finish_progress()
    assert stream.getvalue() == "\r\x1b[Ksearch: 10 sequences\r\x1b[K"
    logged = io.StringIO()
    show = context(monkeypatch, logged, verbose=True).status()
    show("a")
    show("b")
    assert logged.getvalue() == "a\nb\n"
