"""The parser: fast help without NumPy/Numba, examples that run on data/."""

import argparse
import json
import re
import shlex
import subprocess
import time

import pytest

import seqem
from seqem.cli._common import COMMANDS
from seqem.cli.main import build_parser

from .conftest import DATA, PYTHON, REPO, subprocess_env


def all_parsers(parser, prefix=("seqem",)):
    """(command words, parser) for the parser and every subcommand parser."""
    yield prefix, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from all_parsers(sub, (*prefix, name))


def test_help_is_fast():
    """Best of five wall-clock runs of `python -m seqem --help` within 0.3 s of the best of
    five bare Python start-ups (0.03-0.2 s, by machine and load): what --help adds is
    seqem's parsers (about 0.13-0.2 s here), not NumPy or Numba (see the test below)."""

    def best(args: list[str]) -> float:
        times = []
        for _ in range(5):  # five: the other test worker may load the machine
            start = time.perf_counter()
            proc = subprocess.run(
                [PYTHON, *args], capture_output=True, env=subprocess_env(), cwd=REPO, timeout=60
            )
            times.append(time.perf_counter() - start)
            assert proc.returncode == 0
        return min(times)

    bare, help_ = best(["-c", "pass"]), best(["-m", "seqem", "--help"])
    assert help_ < bare + 0.3, (bare, help_)


def test_parser_imports_no_numerics():
    code = (
        "import sys, json, seqem.cli.main as m; m.build_parser(); "
        "print(json.dumps([k for k in ('numpy', 'numba', 'Bio', 'scipy') if k in sys.modules]))"
    )
    proc = subprocess.run(
        [PYTHON, "-c", code], capture_output=True, text=True, env=subprocess_env(), timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []


@pytest.mark.parametrize("only", ["", "profile"])
def test_a_command_line_imports_only_its_command(only):
    code = (
        f"import sys, json, seqem.cli.main as m; m.build_parser({only!r}); "
        "print(json.dumps(sorted(k for k in sys.modules if k.startswith('seqem.cli.'))))"
    )
    proc = subprocess.run(
        [PYTHON, "-c", code], capture_output=True, text=True, env=subprocess_env(), timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    commands = {m.removeprefix("seqem.cli.") for m in json.loads(proc.stdout)} & set(COMMANDS)
    assert commands == ({only} if only else set())


def test_placeholders_list_commands_as_their_parsers_do():
    def listing(parser):
        text = parser.format_help()
        return text[text.index("commands:") :]

    assert listing(build_parser("")) == listing(build_parser())
    for name in COMMANDS:
        full = dict(all_parsers(build_parser()))
        lazy = dict(all_parsers(build_parser(name)))
        assert [w for w in lazy if w[1:2] == (name,)] == [w for w in full if w[1:2] == (name,)]


@pytest.mark.parametrize("words", [w for w, _ in all_parsers(build_parser())], ids=" ".join)
def test_every_help_ends_with_examples_on_data(run, words):
    result = run(*words[1:], "--help")
    assert result.code == 0
    text = result.out
    tail = text[text.index("Examples") :]  # the last section: only command lines follow
    commands = [line.strip() for line in tail.splitlines()[1:] if line.strip()]
    assert commands and all(c.startswith("seqem") for c in commands)
    for command in commands:
        for word in shlex.split(command.split("|")[0]):
            if word.startswith("data/"):
                assert (REPO / word).exists(), word


def test_help_examples_run(tmp_path, run, monkeypatch):
    """Every example of every --help runs as written (from the repository top)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").symlink_to(DATA)
    commands = []
    for words, _ in all_parsers(build_parser()):
        text = run(*words[1:], "--help").out
        for command in re.findall(r"^  (seqem .*)$", text, flags=re.M):
            if command not in commands:
                commands.append(command)
    # a model.json must exist before the decode examples: run fits first
    commands.sort(key=lambda c: " decode " in c)
    for command in commands:
        argv = shlex.split(command.split("|")[0])[1:]
        result = run(*argv, "-q")
        assert result.code == 0, (command, result.err)


def test_version(run):
    result = run("--version")
    assert result.code == 0 and result.out.strip() == f"seqem {seqem.__version__}"


def test_group_without_verb_prints_help(run):
    result = run("hmm")
    assert result.code == 2 and "segment" in result.err


def test_no_command_prints_help(run):
    result = run()
    assert result.code == 2 and "COMMAND" in result.err
