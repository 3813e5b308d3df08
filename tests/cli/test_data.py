"""The example data: made by data/make_data.py, shipped as the same bytes in seqem/data/."""

import gzip
import subprocess

import pytest

from .conftest import DATA, PYTHON, REPO

NAMES = ("example.fa.gz", "example_truth.bed", "example_signal.tsv", "example_signal_truth.tsv")


@pytest.mark.parametrize("name", NAMES)
def test_package_copy_is_identical(name):
    assert (DATA / name).read_bytes() == (REPO / "seqem" / "data" / name).read_bytes()


def test_make_data_reproduces_the_files(tmp_path):
    proc = subprocess.run(
        [PYTHON, str(DATA / "make_data.py"), "--outdir", str(tmp_path), "--no-package-copy"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    for name in NAMES:
        made, kept = (tmp_path / name).read_bytes(), (DATA / name).read_bytes()
        if name.endswith(".gz"):  # compressed bytes may vary with the zlib build
            made, kept = gzip.decompress(made), gzip.decompress(kept)
        assert made == kept, name
