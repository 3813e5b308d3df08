"""``seqem gmm fit | predict | select`` on the example table; bad input."""

import json

import numpy as np

from .conftest import DATA, one_error

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


def test_plots(run, tmp_path):
    """--plot on fit (two columns, one column) and select writes images; --plot-columns
    names columns of the fit and needs --plot."""
    model = tmp_path / "gmm.json"
    for columns, extra in (("x1,x2", ()), ("x1,x2", ("--plot-columns", "x2")), ("x1", ())):
        png = tmp_path / f"fit{len(extra)}{columns}.png"
        result = run("gmm", "fit", SIGNAL, "-k", "3", "--columns", columns, "-o", model,
                     "--plot", png, *extra)  # fmt: skip
        assert result.code == 0, result.err
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    svg = tmp_path / "bic.svg"
    result = run("gmm", "select", SIGNAL, "-k", "1-3", "--columns", "x1,x2", "-o",
                 tmp_path / "bic.tsv", "--plot", svg)  # fmt: skip
    assert result.code == 0, result.err
    assert "<svg" in svg.read_text()[:1000]
    one_error(run("gmm", "fit", SIGNAL, "-k", "2", "--columns", "x1,x2", "-o", model,
                  "--plot-columns", "x1"), "give --plot too")  # fmt: skip
    one_error(run("gmm", "fit", SIGNAL, "-k", "2", "--columns", "x1,x2", "-o", model,
                  "--plot", tmp_path / "p.png", "--plot-columns", "x3"),
              "'x3' is not a column of the fit")  # fmt: skip
    one_error(run("gmm", "fit", SIGNAL, "-k", "2", "--columns", "x1,x2", "-o", model,
                  "--plot", tmp_path / "p.png", "--plot-columns", "x1,x2,x1,seq_id"),
              "one or two columns")  # fmt: skip
    assert not (tmp_path / "p.png").exists()


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


def test_values_that_overflow(run, tmp_path):
    big, model = tmp_path / "big.tsv", tmp_path / "m.json"
    lines = SIGNAL.read_text().splitlines()
    rows = [line.split("\t") for line in lines[1:]]
    cells = [(r[0], float(r[1]) * 1e200, float(r[2]) * 1e200) for r in rows]
    big.write_text(lines[0] + "\n" + "".join(f"{a}\t{b:.6g}\t{c:.6g}\n" for a, b, c in cells))
    result = run("gmm", "fit", big, "-k", "2", "--columns", "x1,x2", "-o", model)
    one_error(result, f"{big}: value 1.303e+200 in column 'x1' (row 1) is too large for a "
              "Gaussian mixture (GMM)")  # fmt: skip
    assert not model.exists()
    cell = tmp_path / "cell.tsv"
    cell.write_text("x1\tx2\n1\t2\n1e400\t3\n2\t1\n")
    result = run("gmm", "fit", cell, "-k", "1", "-o", model)
    line = one_error(result, f"{cell}:3: value '1e400' in column 'x1' overflows")
    assert "Gaussian mixture (GMM) input" in line and "HMM" not in line
    result = run("gmm", "select", cell, "-k", "1")
    one_error(result, "Gaussian mixture (GMM) input")


def broken_models():
    """name -> (changes to a fitted model's document, message)."""
    return {
        "weights_length": ({"weights": [1.0]}, "field 'weights': expected 3 numbers"),
        "covariances_length": ({"covariances": [[[1, 0], [0, 1]]]},
                               "field 'covariances': expected 3 x 2 x 2 numbers"),
        "lower_bound": ({"lower_bound": "high"}, "field 'lower_bound': expected a finite number"),
        "n_components": ({"n_components": 4}, "field 'means': 3 means but n_components is 4"),
        "negative_weight": ({"weights": [-0.2, 0.6, 0.6]},
                            "field 'weights': weight -0.2 is not positive"),
        "zero_weight": ({"weights": [0, 0.5, 0.5]}, "field 'weights': weight 0 is not positive"),
        "nan_weight": ({"weights": [float("nan"), 0.5, 0.5]}, "field 'weights': NaN"),
        "weights_sum": ({"weights": [0.2, 0.2, 0.2]},
                        "field 'weights': the weights sum to 0.6, not 1"),
        "nan_mean": ({"means": [[float("nan"), 0], [0, 1], [1, 1]]}, "field 'means': NaN"),
    }  # fmt: skip


def test_predict_checks_the_model_file(run, tmp_path):
    model = tmp_path / "gmm.json"
    assert run("gmm", "fit", SIGNAL, "-k", "3", "--columns", "x1,x2", "-o", model).code == 0
    doc = json.loads(model.read_text())
    for name, (changes, message) in broken_models().items():
        bad = tmp_path / f"{name}.json"
        bad.write_text(json.dumps({**doc, **changes}))
        out = tmp_path / f"{name}.tsv"
        result = run("gmm", "predict", bad, SIGNAL, "-o", out)
        one_error(result, f"{bad}: {message}")
        assert not out.exists(), name
    binary = tmp_path / "binary.json"
    binary.write_bytes(bytes(range(256)))
    one_error(run("gmm", "predict", binary, SIGNAL), f"{binary}: not a JSON model file")


def test_select_leaves_out_models_with_too_many_parameters(run, tmp_path):
    small, out = tmp_path / "small.tsv", tmp_path / "bic.tsv"
    small.write_text("x1\tx2\n" + "".join(f"{i}\t{(i * 7) % 5}\n" for i in range(8)))
    result = run("gmm", "select", small, "-k", "1-8", "--covariance-types", "full,diag,full",
                 "-o", out)  # fmt: skip
    assert result.code == 0, result.err
    rows = [r.split("\t") for r in out.read_text().splitlines()[1:]]
    # full: 6K - 1 parameters, diag: 5K - 1, fewer than the 8 rows; full once
    assert [(r[0], r[1]) for r in rows] == [("1", "full"), ("1", "diag")]
    assert "not fitted: K=2-8 (full), K=2-8 (diag) have at least as many free parameters as " \
        "the 8 rows" in result.err  # fmt: skip
    result = run("gmm", "select", small, "-k", "3-4", "--covariance-types", "full", "-o", out)
    one_error(result, f"{small}: no model can be fitted: K=3-4 (full)")
