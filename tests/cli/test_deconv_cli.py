"""``seqem deconv run`` on the example data and the shared sets; bad input."""

import numpy as np
import pytest

from .conftest import DATA

BULK = DATA / "example_bulk.tsv"
SIGNATURE = DATA / "example_signature.tsv"


def read_props(path):
    lines = path.read_text().splitlines()
    header = lines[0].split("\t")
    rows = [line.split("\t") for line in lines[1:]]
    return header, [r[0] for r in rows], np.array([[float(x) for x in r[1:]] for r in rows])


def test_example_bulk_recovers_the_simulated_proportions(run, tmp_path):
    out = tmp_path / "props.tsv"
    result = run("deconv", "run", BULK, "--reference", SIGNATURE, "-o", out)
    assert result.code == 0, result.err
    header, samples, props = read_props(out)
    _, _, truth = read_props(DATA / "example_bulk_truth.tsv")
    assert header[0] == "sample" and len(samples) == 30
    assert np.allclose(props.sum(axis=1), 1.0, atol=1e-5)
    rmse = float(np.sqrt(((props - truth) ** 2).mean()))
    assert rmse < 0.025, rmse  # measured 0.0128 (log-normal noise, sd 0.2)
    png = tmp_path / "props.png"
    result = run("deconv", "run", BULK, "--reference", SIGNATURE, "--method", "nnls", "-o", out,
                 "--plot", png)  # fmt: skip
    assert result.code == 0, result.err
    assert png.stat().st_size > 1000


def test_pure_samples_as_reference(run, tmp_path):
    """Shen-Orr (log2 arrays, pure samples averaged per tissue): the README's em estimates."""
    shared = DATA.parent.parent / "shared" / "data" / "deconvolution" / "shen_orr_gse19830"
    if not shared.is_dir():
        pytest.skip("shared deconvolution data (../shared/data/deconvolution) absent")
    out = tmp_path / "props.tsv"
    result = run("deconv", "run", shared / "mixtures_log2.tsv", "--pure", shared / "pure_log2.tsv",
                 "--pure-labels", shared / "pure_labels.tsv", "--method", "em",
                 "-o", out)  # fmt: skip
    assert result.code == 0, result.err
    assert "read as log2" in result.err
    header, samples, props = read_props(out)
    ref_header, ref_samples, ref = read_props(shared / "reference" / "em_estimates.tsv")
    assert samples == ref_samples
    idx = [header.index(c) - 1 for c in ref_header[1:]]
    assert np.abs(props[:, idx] - ref).max() < 1e-4


def write(path, text):
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "mixtures,reference,extra,message",
    [
        ("gene\ts1\nA\t1\nB\t2\nC\t3\n", "gene\tt1\tt2\nX\t1\t2\nY\t2\t1\nZ\t3\t3\n", [],
         "only 0 of the reference's 3 genes"),
        ("gene\ts1\nA\t1\nB\tnan\nC\t3\n", "gene\tt1\nA\t1\nB\t2\nC\t1\n", [],
         "line 3 ('B'): NaN or infinite value"),
        ("gene\ts1\nA\t1\nA\t2\nC\t3\n", "gene\tt1\nA\t1\nC\t2\n", [], "row 'A' appears twice"),
        ("gene\ts1\nA\t-1\nB\t2\nC\t3\n", "gene\tt1\tt2\nA\t1\t3\nB\t2\t1\nC\t1\t1\n",
         ["--scale", "linear"], "negative mixture value in row 'A'"),
        ("gene\ts1\nA\t1\nB\t2\nC\t3\n", "gene\tt1\tt2\nA\t1\t0\nB\t2\t0\nC\t1\t0\n",
         ["--scale", "linear"], "cell type 't2' has no expression"),
        ("gene\ts1\nA\t1\nB\t2\nC\t3\n", "gene\tt1\tt2\nA\t1\t2\nB\t2\t2\nC\t1\t2\n",
         ["--scale", "linear"], "cell type 't2' has the same value in every gene"),
        ("gene\ts1\nA\t1\nB\t2\nC\t3\nD\t1\n",
         "gene\tt1\tt2\tt3\nA\t1\t2\t3\nB\t2\t2\t2\nC\t3\t3\t3\nD\t5\t5\t5\n",
         ["--scale", "linear"], "only 1 of the 4 shared genes differ"),
        ("gene\ts1\nA\t1\nB\t2\nC\t3\n", "gene\tt1\tt2\nA\t1\t3\nB\t2\t1\nC\t1\t1\n",
         ["--method", "em", "--other"], "--other needs --method robust"),
    ],
)  # fmt: skip
def test_bad_input_one_line(run, tmp_path, mixtures, reference, extra, message):
    mix = write(tmp_path / "mix.tsv", mixtures)
    ref = write(tmp_path / "ref.tsv", reference)
    out = tmp_path / "out.tsv"
    result = run("deconv", "run", mix, "--reference", ref, *extra, "-o", out)
    assert result.code == 1, result.err
    errors = [line for line in result.err.splitlines() if line.startswith("seqem: error")]
    assert len(errors) == 1 and message in errors[0] and "Traceback" not in result.err
    assert not out.exists()


def test_other_fraction_and_standard_errors(run, tmp_path):
    """--other on the example data (no unprofiled cells): 'other' near zero; SE written."""
    out, se, mrna = tmp_path / "props.tsv", tmp_path / "se.tsv", tmp_path / "mrna.tsv"
    header, _, _ = read_props(SIGNATURE)
    types = header[1:]
    mrna.write_text("cell_type\tvalue\n" + "".join(f"{t}\t1\n" for t in types) + "other\t1\n")
    result = run("deconv", "run", BULK, "--reference", SIGNATURE, "--other", "--se", se,
                 "--mrna-per-cell", mrna, "-o", out)  # fmt: skip
    assert result.code == 0, result.err
    header, samples, props = read_props(out)
    assert header[-1] == "other" and np.allclose(props.sum(axis=1), 1.0, atol=1e-5)
    se_header, se_samples, errors = read_props(se)
    assert se_header == header and se_samples == samples and np.all(errors >= 0)
    mrna.write_text("cell_type\tvalue\nnobody\t1\n")
    result = run("deconv", "run", BULK, "--reference", SIGNATURE, "--mrna-per-cell", mrna,
                 "-o", tmp_path / "x.tsv")  # fmt: skip
    assert result.code == 1 and "no 'default' row" in result.err


def test_needs_one_reference(run, tmp_path):
    result = run("deconv", "run", BULK, "-o", tmp_path / "x.tsv")
    assert result.code == 1 and "give one of --reference" in result.err


def test_make_bulk_data_reproduces_the_files(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_bulk", DATA / "make_bulk_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--out", str(tmp_path)])
    for name in module.FILES:
        assert (tmp_path / name).read_text() == (DATA / name).read_text()


def test_refine_with_a_signature_and_with_single_cells(run, tmp_path):
    """--method refine on the example data (the refined profiles keep each type's total)
    and with a labelled single-cell reference, whose cells are the prior."""
    out, refined = tmp_path / "props.tsv", tmp_path / "refined.tsv"
    result = run("deconv", "run", BULK, "--reference", SIGNATURE, "--method", "refine",
                 "--refined-reference", refined, "-o", out)  # fmt: skip
    assert result.code == 0, result.err
    assert "profiles refined over 30 samples" in result.err
    header, samples, props = read_props(out)
    _, _, truth = read_props(DATA / "example_bulk_truth.tsv")
    assert np.allclose(props.sum(axis=1), 1.0, atol=1e-5)
    assert np.sqrt(((props - truth) ** 2).mean()) < 0.03
    ref_header, genes, profiles = read_props(refined)
    sig_header, sig_genes, signature = read_props(SIGNATURE)
    assert ref_header[1:] == sig_header[1:] and genes == sig_genes
    assert np.allclose(profiles.sum(axis=0), signature.sum(axis=0), rtol=1e-5)

    # single cells: 3 types x 20 cells drawn from the signature's first three profiles
    rng = np.random.default_rng(0)
    cells, names, labels = [], [], []
    for k, t in enumerate(sig_header[1:4]):
        for i in range(20):
            cells.append(rng.poisson(signature[:, k] / signature[:, k].sum() * 2000))
            names.append(f"{t}_{i}")
            labels.append(t)
    counts = np.array(cells).T
    sc = tmp_path / "cells.tsv"
    sc.write_text("gene\t" + "\t".join(names) + "\n" + "".join(
        g + "\t" + "\t".join(str(int(x)) for x in row) + "\n"
        for g, row in zip(genes, counts, strict=True)))  # fmt: skip
    lab = tmp_path / "labels.tsv"
    rows = "".join(f"{n}\t{t}\n" for n, t in zip(names, labels, strict=True))
    lab.write_text("cell\tcell_type\n" + rows)
    mix = np.array([rng.poisson(counts[:, :20].sum(axis=1) * a + counts[:, 20:40].sum(axis=1)
                                * (1 - a)) for a in (0.2, 0.5, 0.8)]).T  # fmt: skip
    bulk = tmp_path / "bulk.tsv"
    bulk.write_text("gene\ts1\ts2\ts3\n" + "".join(
        g + "\t" + "\t".join(str(int(x)) for x in row) + "\n"
        for g, row in zip(genes, mix, strict=True)))  # fmt: skip
    result = run("deconv", "run", bulk, "--sc-counts", sc, "--sc-labels", lab, "--scale", "counts",
                 "--method", "refine", "-o", out)  # fmt: skip
    assert result.code == 0, result.err
    assert "prior: the single cells" in result.err
    header, _, props = read_props(out)
    first, second = header.index(sig_header[1]) - 1, header.index(sig_header[2]) - 1
    assert np.abs(props[:, first] - [0.2, 0.5, 0.8]).max() < 0.05
    assert np.abs(props[:, second] - [0.8, 0.5, 0.2]).max() < 0.05


def test_refine_options_need_the_method(run, tmp_path):
    result = run("deconv", "run", BULK, "--reference", SIGNATURE, "--refined-reference",
                 tmp_path / "r.tsv")  # fmt: skip
    assert result.code != 0 and "--refined-reference needs --method refine" in result.err
    result = run("deconv", "run", BULK, "--reference", SIGNATURE, "--method", "refine",
                 "--prior-weight", "0")  # fmt: skip
    assert result.code != 0 and "prior weight must be a positive number" in result.err
    assert "Traceback" not in result.err
