"""``seqem gmm fit | predict | select`` on the example table; bad input."""

import json

import numpy as np

from .conftest import DATA

SIGNAL = DATA / "example_signal.tsv"


def test_fit_then_predict_equals_the_library(run, tmp_path):
    from seqem.io.table import read_table
    from seqem.mixture.gmm import GaussianMixture

    model, labels = tmp_path / "gmm.json", tmp_path / "labels.tsv"
    result = run("gmm", "fit", SIGNAL, "-k", "3", "--columns", "x1,x2", "-o", model)
    assert result.code == 0, result.err
    doc = json.loads(model.read_text())
    assert doc["columns"] == ["x1", "x2"] and len(doc["weights"]) == 3
    result = run("gmm", "predict", model, SIGNAL, "--proba", "-o", labels)
    assert result.code == 0, result.err
    rows = [r.split("\t") for r in labels.read_text().splitlines()]
    assert rows[0] == ["row", "component", "log_density", "p0", "p1", "p2"]
    X = read_table(str(SIGNAL), columns=["x1", "x2"]).X
    gm = GaussianMixture(3, random_state=1).fit(X)
    assert [int(r[1]) for r in rows[1:]] == gm.predict(X).tolist()
    assert np.allclose([float(r[2]) for r in rows[1:]], gm.score_samples(X), rtol=1e-5)


def test_select_finds_the_three_simulated_states(run, tmp_path):
    out, best = tmp_path / "bic.tsv", tmp_path / "best.json"
    result = run("gmm", "select", SIGNAL, "-k", "1-4", "--columns", "x1,x2",
                 "--covariance-types", "full,diag", "-o", out, "--model", best)  # fmt: skip
    assert result.code == 0, result.err
    rows = [r.split("\t") for r in out.read_text().splitlines()]
    assert len(rows) == 1 + 8
    chosen = [r for r in rows[1:] if r[-1] == "True"]
    assert len(chosen) == 1 and chosen[0][0] == "3"
    assert json.loads(best.read_text())["n_components"] == 3


def test_bad_input_one_line(run, tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("x1\tx2\n1\t2\n3\tnan\n")
    result = run("gmm", "fit", bad, "-k", "1", "-o", tmp_path / "m.json")
    assert result.code == 1 and "Traceback" not in result.err
    assert not (tmp_path / "m.json").exists()
    result = run("gmm", "select", SIGNAL, "-k", "3-1", "--columns", "x1")
    assert result.code == 1 and "expected 1 <= A <= B" in result.err
    not_model = tmp_path / "x.json"
    not_model.write_text("{}")
    result = run("gmm", "predict", not_model, SIGNAL)
    assert result.code == 1 and "not a seqem Gaussian mixture model file" in result.err
