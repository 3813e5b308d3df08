"""``seqem deconv run`` on the example data and the shared sets; bad input."""

import numpy as np
import pytest

from .conftest import DATA, one_error

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


def test_stats_report_the_reconstruction(run, tmp_path):
    """--stats: observed against reconstructed expression per sample, from each method's
    own fit, computed here independently (NumPy's correlation; SciPy's NNLS)."""
    from scipy.optimize import nnls

    from seqem.deconv.mixture import multinomial_em
    from seqem.deconv.robust import robust_fit
    from seqem.io.matrix import read_matrix

    Y, S = read_matrix(str(BULK)).values, read_matrix(str(SIGNATURE)).values
    robust, em = robust_fit(Y, S), multinomial_em(Y, S)
    fitted = {
        "robust": S @ robust.coefficients.T,
        "em": (S / S.sum(axis=0)) @ em.expression_fractions.T * Y.sum(axis=0),
        "nnls": S @ np.array([nnls(S, y)[0] for y in Y.T]).T,
    }
    for method, f in fitted.items():
        out, stats = tmp_path / f"{method}.tsv", tmp_path / f"{method}_stats.tsv"
        result = run("deconv", "run", BULK, "--reference", SIGNATURE, "--method", method,
                     "-o", out, "--stats", stats)  # fmt: skip
        assert result.code == 0, result.err
        rows = [line.split("\t") for line in stats.read_text().splitlines()]
        assert rows[0] == ["sample", "r", "relative_rmse", "loglik", "em_updates", "converged",
                           "sigma2"]  # fmt: skip
        assert [r[0] for r in rows[1:]] == read_props(out)[1]
        r = [np.corrcoef(Y[:, j], f[:, j])[0, 1] for j in range(Y.shape[1])]
        rmse = np.sqrt(((Y - f) ** 2).mean(axis=0)) / Y.mean(axis=0)
        assert np.allclose([float(x[1]) for x in rows[1:]], r, atol=2e-6)
        assert np.allclose([float(x[2]) for x in rows[1:]], rmse, rtol=1e-5)
        if method == "nnls":
            assert all(x[3:] == ["NA"] * 4 for x in rows[1:])
        else:
            fit = robust if method == "robust" else em
            assert np.allclose([float(x[3]) for x in rows[1:]], fit.loglik, rtol=1e-6)
            assert [int(x[4]) for x in rows[1:]] == [f.n_iter for f in fit.fits]
            assert all(x[5] == "True" for x in rows[1:])
        if method == "robust":
            assert np.allclose([float(x[6]) for x in rows[1:]], robust.sigma2, rtol=1e-5)


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
         "mix.tsv:3: row 'B': NaN or infinite value"),
        ("gene\ts1\nA\t1\nA\t2\nC\t3\n", "gene\tt1\nA\t1\nC\t2\n", [], "row 'A' appears twice"),
        ("gene\ts1\nA\t1_000\nB\t2\nC\t3\n", "gene\tt1\nA\t1\nB\t2\nC\t1\n", [],
         "mix.tsv:2: row 'A': a value is not a number"),
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
    mrna.write_text(f"cell_type\tvalue\n{types[0]}\t1\n")
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


# -- malformed input, wrong scales and references that cannot work -----------


def scaled(src, dest, factor=None, fmt="{:.17g}", transform=None):
    """``src`` (a named matrix) with every value times ``factor`` or through ``transform``."""
    lines = src.read_text().splitlines()
    out = [lines[0]]
    for line in lines[1:]:
        name, *cells = line.split("\t")
        values = [float(c) * factor if factor is not None else transform(float(c)) for c in cells]
        out.append("\t".join([name, *(fmt.format(v) for v in values)]))
    dest.write_text("\n".join(out) + "\n")
    return dest


def test_gene_list_plain_gzip_or_not_text(run, tmp_path):
    import gzip

    genes = [line.split("\t")[0] for line in SIGNATURE.read_text().splitlines()[1:60]]
    plain, packed = tmp_path / "genes.txt", tmp_path / "genes.bin"  # gzip told by its bytes
    plain.write_text("\n".join(genes) + "\n")
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    outs = []
    for path in (plain, packed):
        out = tmp_path / f"{path.name}.tsv"
        result = run("deconv", "run", BULK, "--reference", SIGNATURE, "--genes", path, "-o", out)
        assert result.code == 0, result.err
        outs.append(out.read_text())
    assert outs[0] == outs[1]
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"GENE0001\n\xff\xfe\x00\x01\n")
    out = tmp_path / "x.tsv"
    result = run("deconv", "run", BULK, "--reference", SIGNATURE, "--genes", binary, "-o", out)
    one_error(result, f"{binary}:2: not a text list of gene names")
    assert not out.exists()


@pytest.mark.parametrize(
    "option,value,message",
    [
        ("--nu", "1e300", "argument --nu: must be a number from 0.5 to 1e+06"),
        ("--nu", "1e-300", "argument --nu: must be a number from 0.5 to 1e+06"),
        ("--nu", "0", "argument --nu"),
        ("--nu", "nan", "argument --nu: expected a finite number"),
        ("--markers", "-1", "argument --markers: must be an integer >= 1"),
        ("--markers", "0", "argument --markers: must be an integer >= 1"),
    ],
)
def test_option_ranges_are_usage_errors(run, tmp_path, option, value, message):
    out = tmp_path / "x.tsv"
    result = run("deconv", "run", BULK, "--reference", SIGNATURE, option, value, "-o", out)
    one_error(result, message, code=2)
    assert not out.exists()


@pytest.mark.parametrize("method", ["robust", "em", "nnls"])
@pytest.mark.parametrize("factor", [1e-300, 1e300])
def test_tiny_and_huge_values_give_the_same_proportions(run, tmp_path, method, factor):
    """Every value times 1e-300 (or 1e300) on both sides: the same proportions (the
    fits are scale-equivariant; the robust fit and NNLS rescale such data first)."""
    out, ref_out = tmp_path / "p.tsv", tmp_path / "ref.tsv"
    mix = scaled(BULK, tmp_path / "mix.tsv", factor)
    sig = scaled(SIGNATURE, tmp_path / "sig.tsv", factor)
    result = run("deconv", "run", mix, "--reference", sig, "--scale", "linear",
                 "--method", method, "-o", out)  # fmt: skip
    assert result.code == 0, result.err
    result = run("deconv", "run", BULK, "--reference", SIGNATURE, "--method", method,
                 "-o", ref_out)  # fmt: skip
    assert result.code == 0, result.err
    assert np.abs(read_props(out)[2] - read_props(ref_out)[2]).max() <= 2e-6  # printed %.6f


@pytest.mark.parametrize("method", ["robust", "em", "refine", "nnls"])
def test_sample_without_expression_is_named(run, tmp_path, method):
    lines = BULK.read_text().splitlines()
    header = lines[0].split("\t")
    rows = [line.split("\t") for line in lines[1:]]
    for row in rows:
        row[3] = "0"
    mix = tmp_path / "mix.tsv"
    mix.write_text("\n".join(["\t".join(header)] + ["\t".join(r) for r in rows]) + "\n")
    out = tmp_path / "out.tsv"
    result = run("deconv", "run", mix, "--reference", SIGNATURE, "--method", method, "-o", out)
    one_error(result, f"{mix}: sample {header[3]!r} has no expression in the 200 genes used")
    assert not out.exists()


def test_reference_types_that_cannot_be_told_apart(run, tmp_path):
    """Identical profiles, or one a combination of others: any split fits as well."""
    header, genes, sig = read_props(SIGNATURE)

    def write_sig(name, values):
        path = tmp_path / name
        path.write_text("\t".join(header) + "\n" + "".join(
            g + "\t" + "\t".join(f"{x:.6g}" for x in row) + "\n"
            for g, row in zip(genes, values, strict=True)))  # fmt: skip
        return path

    same = sig.copy()
    same[:, 3] = same[:, 0]  # NK_cell a copy of T_cell
    combined = sig.copy()
    combined[:, 4] = sig[:, 0] + 0.5 * sig[:, 1]  # Neutrophil = T_cell + B_cell / 2
    for path, named in (
        (write_sig("same.tsv", same), "'T_cell' and 'NK_cell'"),
        (write_sig("combined.tsv", combined), "'T_cell', 'B_cell' and 'Neutrophil'"),
    ):
        for method in ("robust", "nnls"):
            out = tmp_path / "out.tsv"
            result = run("deconv", "run", BULK, "--reference", path, "--method", method,
                         "-o", out)  # fmt: skip
            line = one_error(result, f"{path}: cell types {named} cannot be told apart")
            assert "on the 200 genes used" in line
            assert not out.exists()


def log2_of(src, dest):
    import math

    return scaled(src, dest, transform=lambda v: math.log2(1 + v), fmt="{:.6f}")


def test_scales_that_disagree_or_look_log2(run, tmp_path):
    out = tmp_path / "out.tsv"
    # a linear mixture scaled to fractions: auto reads it as log2, the reference as linear
    small = scaled(BULK, tmp_path / "fractions.tsv", 1e-3, fmt="{:.6g}")
    result = run("deconv", "run", small, "--reference", SIGNATURE, "-o", out)
    one_error(result, f"--scale auto reads {small} as log2 (largest value 0.7138) but "
              f"{SIGNATURE} as linear (largest value 1095): pass --scale")  # fmt: skip
    # given as linear it is used as it is (the proportions do not depend on the scale)
    result = run("deconv", "run", small, "--reference", SIGNATURE, "--scale", "linear", "-o", out)
    assert result.code == 0, result.err
    # a log2 mixture given as linear, against a linear reference
    logged = log2_of(BULK, tmp_path / "mix_log2.tsv")
    out.unlink()
    result = run("deconv", "run", logged, "--reference", SIGNATURE, "--scale", "linear",
                 "-o", out)  # fmt: skip
    one_error(result, f"{logged}: looks like log2 data given as linear")
    assert not out.exists()
    # both sides log2 (pure samples with labels) given as linear
    pure = log2_of(SIGNATURE, tmp_path / "pure_log2.tsv")
    labels = tmp_path / "labels.tsv"
    types = SIGNATURE.read_text().split("\n", 1)[0].split("\t")[1:]
    labels.write_text("sample\tcell_type\n" + "".join(f"{t}\t{t}\n" for t in types))
    result = run("deconv", "run", logged, "--pure", pure, "--pure-labels", labels,
                 "--scale", "linear", "-o", out)  # fmt: skip
    one_error(result, f"{pure}: looks like log2 data given as linear")
    # ... and read right as log2
    result = run("deconv", "run", logged, "--pure", pure, "--pure-labels", labels, "-o", out)
    assert result.code == 0, result.err
    # linear data given as log2: refused before 2^x overflows
    out.unlink()
    result = run("deconv", "run", BULK, "--reference", SIGNATURE, "--scale", "log2", "-o", out)
    line = one_error(result, f"{SIGNATURE}: values too large for log2 (largest 1095")
    assert "--scale linear" in line and "warning" not in result.err
    assert not out.exists()


PURE = "gene\tp1\tp2\tp3\tp4\nA\t10\t1\t9\t2\nB\t1\t10\t2\t9\nC\t5\t5\t6\t4\nD\t2\t7\t3\t6\n"


@pytest.mark.parametrize(
    "pure,labels,message",
    [
        (PURE, "sample\ttype\np1\tx\np2\ty\np3\tx\np4\ty\np1\ty\n",
         "labels.tsv:6: 'p1' is labelled 'y' here and 'x' at line 2"),
        (PURE, "sample\ttype\np1\tx\np2\t \np3\tx\np4\ty\n",
         "labels.tsv:3: 'p2' has a blank label"),
        (PURE, "sample\ttype\np1\tx\np2\ty\np3\tx\np4\ty\np9\tx\n",
         "labels.tsv:6: 'p9' is not a column of"),
        (PURE, "sample\ttype\np1\tx\n \ty\n", "labels.tsv:3: the name (first field) is blank"),
        (PURE, "sample\ttype\np1\tx\np2\ty\n", "no label for 'p3'"),
        (PURE.replace("\nC\t", "\n  \t"), "sample\ttype\np1\tx\np2\ty\np3\tx\np4\ty\n",
         "pure.tsv:4: the row has no name"),
        (PURE.replace("p2", " "), "sample\ttype\np1\tx\np3\tx\np4\ty\n",
         "pure.tsv:1: column 3 of the header has no name"),
    ],
)  # fmt: skip
def test_bad_labels_and_blank_names(run, tmp_path, pure, labels, message):
    mix = write(tmp_path / "mix.tsv", "gene\ts1\ts2\nA\t5\t3\nB\t6\t7\nC\t5\t5\nD\t4\t5\n")
    pure_path = write(tmp_path / "pure.tsv", pure)
    label_path = write(tmp_path / "labels.tsv", labels)
    out = tmp_path / "out.tsv"
    result = run("deconv", "run", mix, "--pure", pure_path, "--pure-labels", label_path,
                 "--scale", "linear", "-o", out)  # fmt: skip
    one_error(result, message)
    assert not out.exists()


def test_mrna_per_cell_rows_must_name_reference_types(run, tmp_path):
    mrna, out = tmp_path / "mrna.tsv", tmp_path / "out.tsv"
    mrna.write_text("cell_type\tvalue\nT_cel\t2\ndefault\t0.5\n")  # a misspelt T_cell
    result = run("deconv", "run", BULK, "--reference", SIGNATURE, "--mrna-per-cell", mrna,
                 "-o", out)  # fmt: skip
    one_error(result, f"{mrna}:2: 'T_cel' is not a cell type of the reference; a misspelling "
              "of 'T_cell'")  # fmt: skip
    mrna.write_text("cell_type\tvalue\nLiver\t2\nBrain\t1\ndefault\t0.5\n")  # another reference
    result = run("deconv", "run", BULK, "--reference", SIGNATURE, "--mrna-per-cell", mrna,
                 "-o", out)  # fmt: skip
    one_error(result, f"{mrna}:2: no row names a cell type of the reference")
    assert not out.exists()
    # a table covering more types than the reference (as EPIC's) is fine, and says so
    mrna.write_text("cell_type\tvalue\nT_cell\t2\nHepatocyte\t3\ndefault\t0.5\n")
    result = run("deconv", "run", BULK, "--reference", SIGNATURE, "--mrna-per-cell", mrna,
                 "-o", out)  # fmt: skip
    assert result.code == 0, result.err
    assert "rows for types not in the reference ignored: Hepatocyte" in result.err


def test_messages_name_the_file(run, tmp_path):
    mix = write(tmp_path / "mix.tsv", "gene\ts1\nA\t1\nB\t2\nC\t3\n")
    ref = write(tmp_path / "ref.tsv", "gene\tt1\tt2\nA\t1\t0\nB\t2\t0\nC\t1\t0\n")
    result = run("deconv", "run", mix, "--reference", ref, "--scale", "linear")
    one_error(result, f"{ref}: cell type 't2' has no expression in the 3 genes used")


# -- deconv count --------------------------------------------------------------

BAM = DATA / "example_reads.bam"
GTF = DATA / "example_genes.gtf"


def test_count_reads_a_gzip_annotation_whatever_its_name(run, tmp_path):
    import gzip

    plain, packed = tmp_path / "plain.tsv", tmp_path / "packed.tsv"
    gtf = tmp_path / "genes.gtf"  # gzip without .gz
    gtf.write_bytes(gzip.compress(GTF.read_bytes()))
    assert run("deconv", "count", "--annotation", GTF, BAM, "-o", plain).code == 0
    result = run("deconv", "count", "--annotation", gtf, BAM, "-o", packed)
    assert result.code == 0, result.err
    assert packed.read_text() == plain.read_text()


def truncated_gzip(path):
    import gzip

    data = gzip.compress(GTF.read_bytes() * 20)
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("cut.gtf.gz", truncated_gzip, "{file}: truncated or corrupt gzip stream"),
        ("cut.gtf", truncated_gzip, "{file}: truncated or corrupt gzip stream"),
        ("latin1.gtf", b'chrS\tsim\texon\t1\t50\t.\t+\t.\tgene_id "\xe9";\n',
         "{file}:1: not a text annotation"),
        ("zero.gtf", b'chrS\tsim\texon\t0\t50\t.\t+\t.\tgene_id "g";\n',
         "{file}:1: start 0 is below 1 (GTF/GFF3 positions are 1-based)"),
        ("negative.gtf", b'chrS\tsim\texon\t10\t50\t.\t+\t.\tgene_id "g";\n'
         b'chrS\tsim\texon\t-5\t50\t.\t+\t.\tgene_id "g";\n', "{file}:2: start -5 is below 1"),
        ("negative.bed", b"chrS\t-1\t50\tg\n", "{file}:1: start -1 is negative"),
        ("other.gtf", b'chrZ\tsim\texon\t10\t50\t.\t+\t.\tgene_id "g";\n',
         "none of the chromosomes of {file} ('chrZ') is a reference sequence"),
    ],
)  # fmt: skip
def test_count_bad_annotation_one_line(run, tmp_path, name, content, message):
    path = tmp_path / name
    if callable(content):
        content(path)
    else:
        path.write_bytes(content)
    out = tmp_path / "counts.tsv"
    result = run("deconv", "count", "--annotation", path, BAM, "-o", out)
    line = one_error(result, message.format(file=path))
    assert "malformed or truncated alignment file" not in line  # not blamed on the BAM
    assert not out.exists()


@pytest.mark.parametrize(
    "names,message",
    [
        ("", "argument --names: empty name"),
        ("a,", "argument --names: empty name"),
        (" a", "argument --names: name ' a' starts or ends with white space"),
        ("a\tb", "argument --names: name 'a\\tb' holds a tab or a line break"),
        ("a\nb", "holds a tab or a line break"),
    ],
)
def test_count_names_usage_errors(run, tmp_path, names, message):
    out = tmp_path / "counts.tsv"
    result = run("deconv", "count", "--annotation", GTF, BAM, "--names", names, "-o", out)
    one_error(result, message, code=2)
    assert not out.exists()


@pytest.mark.parametrize("kind", ["garbage", "directory"])
def test_count_of_a_file_htslib_cannot_open_is_one_line(tmp_path, kind):
    """htslib's own messages ([E::hts_open_format] ...) go to the process's stderr
    directly, so this runs the program: stderr must hold seqem's line alone."""
    import subprocess

    from .conftest import PYTHON, subprocess_env

    bam = tmp_path / "reads.bam"
    if kind == "garbage":
        bam.write_bytes(bytes(range(256)) * 8)
    else:
        bam.mkdir()
    proc = subprocess.run(
        [PYTHON, "-m", "seqem", "deconv", "count", "--annotation", DATA / "example_genes.gtf",
         bam, "-o", tmp_path / "counts.tsv"],  # fmt: skip
        capture_output=True, text=True, env=subprocess_env(), timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("seqem: error:"), proc.stderr
    assert str(bam) in proc.stderr and not (tmp_path / "counts.tsv").exists()
