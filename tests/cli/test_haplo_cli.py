"""``seqem haplo ld`` on the example cohort; bad input; the example data script."""

import gzip
import math

import numpy as np
import pytest

from .conftest import DATA

COHORT = DATA / "example_cohort.vcf.gz"


def read_ld(path):
    lines = path.read_text().splitlines()
    assert lines[0].split("\t") == ["snp_a", "snp_b", "pos_a", "pos_b", "n", "d", "dprime", "r2"]
    return [line.split("\t") for line in lines[1:]]


def test_ld_all_pairs_with_plot_and_report(run, tmp_path):
    out, png, rep = tmp_path / "ld.tsv", tmp_path / "ld.png", tmp_path / "run.json"
    result = run("haplo", "ld", COHORT, "--region", "1:1-30000", "-o", out, "--plot", png,
                 "--report", rep)  # fmt: skip
    assert result.code == 0, result.err
    rows = read_ld(out)
    n = int(round((1 + math.sqrt(1 + 8 * len(rows))) / 2))
    assert n * (n - 1) // 2 == len(rows) and n > 10
    r2 = np.array([float(r[7]) for r in rows if r[7] != "NA"])
    assert np.all((r2 >= 0) & (r2 <= 1)) and r2.max() > 0.5
    assert png.stat().st_size > 1000 and '"n_pairs"' in rep.read_text()


def test_ld_against_one_snp_with_threshold(run, tmp_path):
    out = tmp_path / "one.tsv"
    result = run("haplo", "ld", COHORT, "--snp", "rs9000008", "--min-r2", "0.2", "-o", out)
    assert result.code == 0, result.err
    rows = read_ld(out)
    assert rows and all(r[0] == "rs9000008" for r in rows)
    assert all(float(r[7]) >= 0.2 for r in rows)


@pytest.mark.parametrize(
    "args,message",
    [
        (["--region", "2:1-100"], "no records on '2'"),
        (["--region", "1:1-500"], "no biallelic SNP in 1:1-500"),
        (["--snp", "rs1"], "no such biallelic SNP"),
        (["--snp", "rs9000008", "--plot", "x.png"], "--plot draws all pairs"),
    ],
)
def test_ld_bad_input_one_line(run, tmp_path, args, message):
    out = tmp_path / "ld.tsv"
    result = run("haplo", "ld", COHORT, *args, "-o", out)
    assert result.code == 1
    errors = [line for line in result.err.splitlines() if line.startswith("seqem: error")]
    assert len(errors) == 1 and message in errors[0] and "Traceback" not in result.err
    assert not out.exists()


def test_ld_on_a_truncated_file(run, tmp_path):
    cut = tmp_path / "cut.vcf.gz"
    cut.write_bytes(COHORT.read_bytes()[:9000])
    result = run("haplo", "ld", cut, "-o", tmp_path / "x.tsv")
    assert result.code == 1 and "Traceback" not in result.err


def test_make_cohort_data_reproduces_the_files(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_cohort", DATA / "make_cohort_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--out", str(tmp_path)])
    with gzip.open(tmp_path / "example_cohort.vcf.gz", "rt") as a, gzip.open(COHORT, "rt") as b:
        assert a.read() == b.read()
    assert (tmp_path / "example_cohort_truth.tsv").read_text() == (
        DATA / "example_cohort_truth.tsv"
    ).read_text()
