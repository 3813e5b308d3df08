"""How every command treats its output files: checked before the work, all or none written."""

import os
import stat

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
