"""How every command treats its output files: checked before the work, all or none written."""

import os
import stat

import pytest

from .conftest import DATA

BULK = DATA / "example_bulk.tsv"
SIGNATURE = DATA / "example_signature.tsv"


def deconv(run, *extra):
    return run("deconv", "run", BULK, "--reference", SIGNATURE, "-q", *extra)


def test_one_file_cannot_take_two_outputs(run, tmp_path):
    same = tmp_path / "same.tsv"
    result = deconv(run, "-o", same, "--se", same)
    assert result.code == 1 and result.err.count("\n") == 1
    assert "the same file is given for two outputs" in result.err
    assert not same.exists()
    result = deconv(run, "-o", same, "--report", same)
    assert result.code == 1 and "two outputs" in result.err


def test_report_and_plot_paths_are_checked_before_the_work(run, tmp_path):
    keep = tmp_path / "keep.tsv"
    keep.write_text("old\n")
    result = deconv(run, "-o", keep, "--report", tmp_path / "no" / "run.json")
    assert result.code == 1 and "output directory does not exist" in result.err
    result = deconv(run, "-o", keep, "--plot", tmp_path / "p.xyz")
    assert result.code == 1 and result.err.count("\n") == 1
    assert "use a .png, .pdf or .svg name" in result.err
    assert keep.read_text() == "old\n"


def test_a_later_failure_leaves_every_old_output(run, tmp_path):
    """The proportions are finished before the standard errors fail to write: neither is
    replaced, and no temporary file stays behind."""
    keep = tmp_path / "keep.tsv"
    keep.write_text("old\n")
    result = deconv(run, "-o", keep, "--se", "/proc/se.tsv")
    assert result.code == 1 and result.err.count("\n") == 1
    assert "/proc/se.tsv" in result.err and ".part" not in result.err
    assert keep.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["keep.tsv"]


def test_devices_and_links_are_written_through(run, tmp_path):
    result = deconv(run, "-o", os.devnull, "--se", os.devnull)
    assert result.code == 0, result.err
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
    real = tmp_path / "real.tsv"
    real.write_text("old\n")
    link = tmp_path / "link.tsv"
    link.symlink_to(real)
    assert deconv(run, "-o", link).code == 0
    assert link.is_symlink() and real.read_text().startswith("sample\t")


def test_an_output_cannot_overwrite_an_input(run, tmp_path):
    mine = tmp_path / "mine.tsv"
    mine.write_bytes(BULK.read_bytes())
    for option in (("-o", mine), ("-o", tmp_path / "p.tsv", f"--se={mine}")):
        result = run("deconv", "run", mine, "--reference", SIGNATURE, "-q", *option)
        assert result.code == 1 and "is also an input; write the output elsewhere" in result.err
    assert mine.read_bytes() == BULK.read_bytes()
    out = tmp_path / "out.tsv"
    out.write_text("old\n")  # an earlier output is replaced
    assert run("deconv", "run", mine, "--reference", SIGNATURE, "-q", "-o", out).code == 0


@pytest.mark.parametrize(
    ("name", "message"),
    [("", "an output file name is empty"), ("newdir/", "names a directory")],
)
def test_empty_or_directory_names_are_refused(run, tmp_path, name, message):
    result = deconv(run, "-o", f"{tmp_path}/{name}" if name else name)
    assert result.code == 1 and message in result.err
    assert os.listdir(tmp_path) == []


def test_repeated_warnings_are_shown_once_then_counted(capsys):
    import argparse

    from seqem.cli._common import RunContext

    ctx = RunContext(argparse.Namespace(), [])
    for i in range(5):
        ctx.show_warning(f"EM objective fell at iteration {i + 10}", UserWarning, "", 0)
    ctx.show_warning("another kind, 1.5e-3", UserWarning, "", 0)
    ctx.summarize_warnings()
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "seqem: warning: EM objective fell at iteration 10",
        "seqem: warning: another kind, 1.5e-3",
        "seqem: warning: 4 more like 'EM objective fell at iteration #' (all in --report)",
    ]
    assert len(ctx.warnings) == 6  # every one is kept for the report
