"""The commands end to end on small simulated data and on data/."""

import json

import numpy as np
import pytest

from seqem.hmm.models import CategoricalHMM, GaussianHMM, load_model
from seqem.io.table import read_table

from .conftest import DATA, bed_rows, one_error, simulate_two_state_dna, write_fasta


@pytest.fixture(scope="module")
def two_state(tmp_path_factory):
    """A clear 2-state GC simulation: 3 records, 120 kb, ~4 kb segments."""
    rng = np.random.default_rng(20240611)
    records, truth = simulate_two_state_dna(rng, [50000, 40000, 30000])
    path = write_fasta(tmp_path_factory.mktemp("sim") / "sim.fa", records)
    return path, truth


def per_base_states(rows, lengths):
    states = {name: np.full(n, -1) for name, n in lengths.items()}
    for chrom, start, end, name, _, _ in rows:
        states[chrom][start:end] = int(name.removeprefix("state"))
    return states


def test_segment_recovers_the_simulated_states(tmp_path, run, two_state):
    fasta, truth = two_state
    out, params, report = tmp_path / "s.bed", tmp_path / "p.json", tmp_path / "run.json"
    result = run("hmm", "segment", fasta, "-o", out, "--params", params, "--report", report)
    assert result.code == 0, result.err
    assert result.out == ""
    text = out.read_text()
    assert text.splitlines()[0] == "#chrom\tchromStart\tchromEnd\tname\tscore\tstrand"
    rows = bed_rows(text)
    lengths = {k: v.size for k, v in truth.items()}
    # segments tile every record exactly, in order
    for name, n in lengths.items():
        mine = [r for r in rows if r[0] == name]
        assert mine[0][1] == 0 and mine[-1][2] == n
        assert all(a[2] == b[1] for a, b in zip(mine, mine[1:], strict=False))
    assert all(0 <= r[4] <= 1000 and r[5] == "." for r in rows)
    found = per_base_states(rows, lengths)
    agree = np.mean(np.concatenate([found[k] == truth[k] for k in truth]))
    # labels are sorted by GC and the simulation's state 1 is the GC-rich one;
    # posteriors are near 1 away from boundaries, so only bases near the ~30
    # switch points can be wrong: > 90% is a loose bound
    assert agree > 0.9, agree

    model = load_model(params)
    assert isinstance(model, CategoricalHMM)
    doc = json.loads(params.read_text())
    assert doc["alphabet"] == "ACGT"
    assert doc["state_gc"] == sorted(doc["state_gc"])
    np.testing.assert_allclose(doc["state_gc"], [0.35, 0.62], atol=0.02)

    rep = json.loads(report.read_text())
    assert rep["command"] == "hmm segment"
    assert rep["seed"] == 1 and rep["parameters"]["states"] == 2
    assert rep["fit_result"]["converged"] is True
    assert rep["results"]["n_bases"] == sum(lengths.values())
    assert rep["results"]["n_ambiguous"] == 50 * len(lengths)
    for key in ("python", "numpy", "numba", "biopython"):
        assert rep["environment"][key]
    assert rep["peak_memory_mb"] > 0 and rep["elapsed_seconds"] > 0
    assert rep["argv"][:3] == ["seqem", "hmm", "segment"]
    # the summary on stderr
    assert "GC content by state" in result.err and "converged" in result.err


def test_segment_is_deterministic_and_thread_independent(tmp_path, run, two_state):
    fasta, _ = two_state
    outputs = []
    for i, threads in enumerate(("1", "2", "2")):
        out = tmp_path / f"s{i}.bed"
        assert run("hmm", "segment", fasta, "-q", "--threads", threads, "-o", out).code == 0
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1] == outputs[2]


def test_segment_region_coordinates_and_stdout(run, two_state):
    fasta, truth = two_state
    result = run("hmm", "segment", fasta, "-q", "--region", "chr2:10,001-20,000")
    assert result.code == 0 and result.err == ""
    rows = bed_rows(result.out)
    assert {r[0] for r in rows} == {"chr2"}
    assert rows[0][1] == 10000 and rows[-1][2] == 20000
    found = np.concatenate([np.full(r[2] - r[1], int(r[3][-1])) for r in rows])
    assert np.mean(found == truth["chr2"][10000:20000]) > 0.9


def test_segment_from_stdin(run, two_state, monkeypatch):
    import io
    import sys

    fasta, _ = two_state
    with open(fasta, "rb") as fh:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(fh.read())))
    result = run("hmm", "segment", "-", "-q", "--region", "chr3")
    assert result.code == 0, result.err
    assert bed_rows(result.out)[-1][:3] == ("chr3", bed_rows(result.out)[-1][1], 30000)


def test_posterior_min_drops_uncertain_segments(run, two_state):
    fasta, _ = two_state
    every = bed_rows(run("hmm", "segment", fasta, "-q").out)
    sure = bed_rows(run("hmm", "segment", fasta, "-q", "--posterior-min", "0.99").out)
    assert set(sure) <= set(every)
    assert all(r[4] >= 990 for r in sure)


def test_not_converging_warns_in_one_line(tmp_path, run, two_state):
    fasta, _ = two_state
    result = run("hmm", "segment", fasta, "--max-iter", "1", "-o", tmp_path / "s.bed")
    assert result.code == 0
    warnings = [line for line in result.err.splitlines() if line.startswith("seqem: warning:")]
    assert len(warnings) == 1 and "did not converge" in warnings[0]
    quiet = run("hmm", "segment", fasta, "--max-iter", "1", "-q", "-o", tmp_path / "s.bed")
    assert quiet.err == ""


def test_verbose_logs_iterations(tmp_path, run, two_state):
    fasta, _ = two_state
    result = run("hmm", "segment", fasta, "-v", "--n-init", "1", "-o", tmp_path / "s.bed")
    assert result.code == 0
    lines = [line for line in result.err.splitlines() if "iteration" in line]
    assert lines and lines[0].startswith("segment: start 1/1, iteration 1, log-likelihood -")


def test_fit_then_decode(tmp_path, run):
    table = DATA / "example_signal.tsv"
    model_path, states = tmp_path / "m.json", tmp_path / "states.tsv"
    fit = run("hmm", "fit", table, "-n", "3", "--seq-col", "seq_id", "-o", model_path)
    assert fit.code == 0 and fit.out == ""
    assert "GaussianHMM with 3 states" in fit.err and "log-likelihood" in fit.err
    model = load_model(model_path)
    assert isinstance(model, GaussianHMM) and model.means_.shape == (3, 2)
    assert json.loads(model_path.read_text())["data"] == {
        "columns": ["x1", "x2"],
        "seq_col": "seq_id",
    }

    # the model file remembers columns and sequence column
    dec = run("hmm", "decode", model_path, table, "--posteriors", "-q", "-o", states)
    assert dec.code == 0 and dec.err == ""
    out = read_table(states, seq_col="seq_id")
    assert out.columns == ("row", "state", "posterior_0", "posterior_1", "posterior_2")
    assert out.seq_ids == ("s1", "s2", "s3", "s4", "s5", "s6")
    np.testing.assert_array_equal(out.X[:, 0], np.arange(1, out.n_rows + 1))
    np.testing.assert_allclose(out.X[:, 2:].sum(axis=1), 1.0, atol=1e-5)  # printed with 6 digits

    truth = read_table(DATA / "example_signal_truth.tsv", columns=["state"]).X[:, 0]
    found = out.X[:, 1].astype(int)
    counts = np.zeros((3, 3), int)
    np.add.at(counts, (found, truth.astype(int)), 1)
    # the simulated states are well separated: each fitted state is one true state
    assert np.all(counts.max(axis=1) / counts.sum(axis=1) > 0.95)
    assert sorted(counts.argmax(axis=1)) == [0, 1, 2]


def test_decode_to_stdout_without_seq_col(tmp_path, run):
    table = tmp_path / "t.csv"
    rng = np.random.default_rng(11)
    x = np.concatenate([rng.normal(0, 1, 200), rng.normal(6, 1, 200)])
    table.write_text("signal\n" + "\n".join(f"{v:.4f}" for v in x) + "\n")
    model_path = tmp_path / "m.json"
    assert run("hmm", "fit", table, "-q", "-o", model_path).code == 0
    dec = run("hmm", "decode", model_path, table, "-q")
    lines = dec.out.splitlines()
    assert lines[0] == "row\tstate" and len(lines) == 401
    states = np.array([int(line.split("\t")[1]) for line in lines[1:]])
    assert len(set(states[:150])) == 1 and len(set(states[250:])) == 1
    assert states[0] != states[-1]


def test_decode_checks_the_number_of_columns(tmp_path, run):
    model_path = tmp_path / "m.json"
    table = DATA / "example_signal.tsv"
    args = ["--seq-col", "seq_id", "-q"]
    assert run("hmm", "fit", table, "--columns", "x1", *args, "-o", model_path).code == 0
    result = run("hmm", "decode", model_path, table, "--columns", "x1,x2", "-q")
    assert result.code == 1
    assert result.err.startswith(f"seqem: error: {table}: the table gives 2 columns")


def test_decode_with_a_categorical_model(tmp_path, run, two_state):
    fasta, _ = two_state
    params = tmp_path / "p.json"
    assert (
        run("hmm", "segment", fasta, "-q", "--params", params, "-o", tmp_path / "s.bed").code == 0
    )
    table = tmp_path / "symbols.tsv"
    table.write_text("base\n" + "\n".join(["1", "2"] * 200 + ["0", "3"] * 200 + ["-1"]) + "\n")
    result = run("hmm", "decode", params, table, "-q")
    assert result.code == 0, result.err
    states = [int(line.split("\t")[1]) for line in result.out.splitlines()[1:]]
    assert states[100] == 1 and states[700] == 0  # GC-rich run, then AT-rich run


def test_demo(tmp_path, run):
    outdir = tmp_path / "demo"
    report = tmp_path / "run.json"
    result = run("demo", "-o", outdir, "--report", report)
    assert result.code == 0, result.err
    for name in ("segments.bed", "segments_params.json", "signal_model.json", "signal_states.tsv"):
        assert (outdir / name).stat().st_size > 0
    assert "bases whose Viterbi state is the simulated state" in result.out
    rep = json.loads(report.read_text())
    # the example data are clear simulations: the fits recover nearly all states
    assert rep["results"]["dna_fraction_in_true_state"] > 0.95
    assert rep["results"]["signal_fraction_in_true_state"] > 0.95
    assert set(rep["fit_results"]) == {"segment", "fit"}
    # the profile built from the example alignment finds every member, no decoy
    assert rep["results"]["profile_members_found"] == 30
    assert rep["results"]["profile_decoys_found"] == 0
    assert (outdir / "example_family.hmm").read_text().startswith("HMMER3/f")
    # haplotype frequencies of the cohort window are close to the simulated ones
    import re

    tvd = float(re.search(r"total variation distance ([0-9.]+)", result.out).group(1))
    right = float(re.search(r"best pair right for ([0-9.]+)%", result.out).group(1))
    assert tvd < 0.06 and right > 88  # measured 0.036 and 91.9%
    assert (outdir / "cohort_haplotypes.tsv").read_text().startswith("haplotype\tfrequency")
    # deconvolution of the simulated bulk samples
    assert rep["results"]["deconvolution_rmse"] < 0.025  # measured 0.0128
    # linkage of the simulated pedigrees: the peaks near the gene at 42 cM
    peak = rep["results"]["linkage_peak"]
    assert peak["lod"] > 3 and abs(peak["lod_cm"] - 42) <= 10  # measured 5.07 at 48
    assert peak["npl"] > 3 and abs(peak["npl_cm"] - 42) <= 10  # measured 4.65 at 50
    assert (outdir / "pedigree_lod.tsv").read_text().startswith("chrom\tcm\tlod")


def test_segment_plot(tmp_path, run, two_state):
    pytest.importorskip("matplotlib", reason="plots need matplotlib")
    fasta, _ = two_state
    png = tmp_path / "segments.png"
    res = run("hmm", "segment", fasta, "-q", "--plot", png, "-o", tmp_path / "s.bed")
    assert res.code == 0, res.err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = tmp_path / "segments.svg"
    assert run("hmm", "segment", fasta, "-q", "--plot", svg, "-o", "-").code == 0
    assert b"<svg" in svg.read_bytes()[:1000]


def test_segment_plot_refuses_unknown_format(tmp_path, run, two_state):
    fasta, _ = two_state
    res = run("hmm", "segment", fasta, "--plot", tmp_path / "x.gif", "-o", tmp_path / "s.bed")
    assert res.code == 1
    assert res.err.count("\n") == 1 and ".png, .pdf or .svg" in res.err
    assert not (tmp_path / "s.bed").exists()


# -- hmm input once read wrongly: duplicated or reordered columns, overlapping regions,
# sequences without bases, fewer observations than states, unknown model versions


def test_fit_refuses_a_column_named_twice(tmp_path, run):
    result = run("hmm", "fit", DATA / "example_signal.tsv", "--columns", "x1,x1", "-o",
                 tmp_path / "m.json")  # fmt: skip
    one_error(result, "argument --columns: column 'x1' is named twice in 'x1,x1'", code=2)
    from seqem.cli.hmm import fit_table
    from seqem.errors import ParameterError

    with pytest.raises(ParameterError, match="column 'x2' is named twice"):
        fit_table(str(DATA / "example_signal.tsv"), columns=["x2", "x1", "x2"])


def test_decode_refuses_columns_out_of_the_models_order(tmp_path, run):
    table = DATA / "example_signal.tsv"
    model_path = tmp_path / "m.json"
    assert run("hmm", "fit", table, "--columns", "x1,x2", "--seq-col", "seq_id", "-q", "-o",
               model_path).code == 0  # fmt: skip
    out = tmp_path / "states.tsv"
    result = run("hmm", "decode", model_path, table, "--columns", "x2,x1", "-o", out)
    one_error(result, "--columns x2,x1: the model was fitted to the columns x1,x2 in that order")
    assert not out.exists()
    same = run("hmm", "decode", model_path, table, "--columns", "x1,x2", "-q")
    default = run("hmm", "decode", model_path, table, "-q")
    assert same.code == 0 and same.out == default.out
    # other names (another table's columns) are taken in the order given
    renamed = tmp_path / "renamed.tsv"
    renamed.write_text(table.read_text().replace("x1\tx2", "a\tb", 1))
    other = run("hmm", "decode", model_path, renamed, "--columns", "a,b", "-q")
    assert other.code == 0 and other.out == default.out


@pytest.mark.parametrize(
    "regions,message",
    [
        (["chr1:1-1000", "chr1:1-1000"], "--region 'chr1:1-1000' is given twice"),
        (["chr1:1-1000", "chr1:500-1500"],
         "--region 'chr1:500-1500' overlaps --region 'chr1:1-1000'"),
        (["chr2:10-20", "chr2"], "--region 'chr2' overlaps --region 'chr2:10-20'"),
        (["chr1:abc"], "malformed region 'chr1:abc'"),
        (["chr1:1-1e3"], "malformed region 'chr1:1-1e3'"),
    ],
)  # fmt: skip
def test_segment_refuses_overlapping_or_malformed_regions(tmp_path, run, regions, message):
    out = tmp_path / "s.bed"
    args = [a for r in regions for a in ("--region", r)]
    one_error(run("hmm", "segment", DATA / "example.fa.gz", *args, "-o", out), message)
    assert not out.exists()


def test_segment_adjacent_regions_are_fine(tmp_path, run):
    result = run("hmm", "segment", DATA / "example.fa.gz", "--region", "chr1:1-1000",
                 "--region", "chr1:1001-2000", "-q")  # fmt: skip
    assert result.code == 0, result.err
    rows = bed_rows(result.out)
    assert rows[0][1] == 0 and rows[-1][2] == 2000


def test_segment_refuses_sequences_without_bases(tmp_path, run):
    """A whole input of N is refused (nothing to fit); so is a record or a region of N
    only, which would get state calls without any evidence."""
    fa = tmp_path / "n.fa"
    fa.write_bytes(b">s\nACGTNNNNNNNNNNNNNNNNNNNNACGGCGCGATATATACGGGCCA\n>t\nNNNNNNNN\n")
    one_error(run("hmm", "segment", fa), f"{fa}: record 't': the record has no A, C, G or T base")
    one_error(run("hmm", "segment", fa, "--region", "s:1-12", "--region", "s:13-20"),
              f"{fa}: region 's:13-20' has no A, C, G or T base")  # fmt: skip
    result = run("hmm", "segment", fa, "--region", "s", "-q")  # N runs inside a record: kept
    assert result.code == 0 and bed_rows(result.out)[-1][2] == 46


def test_fewer_observations_than_states(tmp_path, run):
    table = tmp_path / "three.tsv"
    table.write_text("x1\tx2\n1\t2\n3\t4\n5\t7\n")
    one_error(run("hmm", "fit", table, "-n", "50", "-o", tmp_path / "m.json"),
              "3 row(s) for 50 states; a fit needs at least one row per state")  # fmt: skip
    fa = tmp_path / "two.fa"
    fa.write_bytes(b">s\nACNN\n")
    one_error(run("hmm", "segment", fa, "-n", "5"), "2 A, C, G or T base(s) for 5 states")


def test_min_covar_must_be_positive_and_model_versions_known(tmp_path, run):
    table = DATA / "example_signal.tsv"
    one_error(run("hmm", "fit", table, "--min-covar", "0", "-o", tmp_path / "m.json"),
              "argument --min-covar: must be a number > 0", code=2)  # fmt: skip
    model_path = tmp_path / "m.json"
    assert run("hmm", "fit", table, "--seq-col", "seq_id", "-q", "-o", model_path).code == 0
    doc = json.loads(model_path.read_text())
    doc["version"] = 99
    model_path.write_text(json.dumps(doc))
    one_error(run("hmm", "decode", model_path, table),
              f"{model_path}: model format version 99 is not one this seqem reads (1)")  # fmt: skip
