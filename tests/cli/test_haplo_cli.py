"""``seqem haplo ld`` on the example cohort; bad input; the example data script."""

import gzip
import math

import numpy as np
import pytest

from seqem.cli.haplo import LD_COLUMNS, MAX_CLUSTERS

from .conftest import DATA, one_error

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


def cohort_truth(region_positions):
    """True haplotype frequencies and pairs of the example cohort over some SNPs."""
    from seqem.io.vcf import read_genotypes

    full = read_genotypes(str(COHORT))
    cols = np.searchsorted(full.positions, region_positions)
    text = (DATA / "example_cohort_truth.tsv").read_text()
    rows = [line.split("\t") for line in text.splitlines()[1:]]
    pairs = {r[0]: sorted("".join(r[k].strip()[c] for c in cols) for k in (1, 2)) for r in rows}
    counts = {}
    for a, b in pairs.values():
        counts[a] = counts.get(a, 0) + 1
        counts[b] = counts.get(b, 0) + 1
    total = sum(counts.values())
    return {h: c / total for h, c in counts.items()}, pairs


def test_freq_and_phase_against_the_simulated_truth(run, tmp_path):
    import json

    from seqem.io.vcf import read_genotypes

    haps, rep, phase = tmp_path / "haps.tsv", tmp_path / "run.json", tmp_path / "phase.tsv"
    region = "1:1-20000"
    result = run("haplo", "freq", COHORT, "--region", region, "-o", haps, "--report", rep)
    assert result.code == 0, result.err
    lines = haps.read_text().splitlines()
    assert lines[0].split("\t") == ["haplotype", "frequency", "se", "copies"]
    est = {r.split("\t")[0]: float(r.split("\t")[1]) for r in lines[1:]}
    assert sum(est.values()) == pytest.approx(1.0, abs=1e-6)
    report = json.loads(rep.read_text())
    g = read_genotypes(str(COHORT), region=region)
    assert report["results"]["snps"] == list(g.ids)
    assert all(len(h) == g.n_snps for h in est)
    from seqem.haplo.em import fit_haplotypes

    fit = fit_haplotypes(g.calls, random_state=1)
    assert report["loglik"] == pytest.approx(fit.loglik, abs=1e-9)
    assert report["results"]["loglik_mle"] >= report["loglik"]
    assert report["results"]["linkage_equilibrium_test"]["pvalue"] < 1e-10
    true_freq, true_pairs = cohort_truth(g.positions)
    keys = set(est) | set(true_freq)
    tvd = 0.5 * sum(abs(est.get(k, 0) - true_freq.get(k, 0)) for k in keys)
    assert tvd < 0.06, tvd  # measured 0.035 (400 people, 20 SNPs, 1% missing calls)

    result = run("haplo", "phase", COHORT, "--region", region, "-o", phase)
    assert result.code == 0, result.err
    rows = [r.split("\t") for r in phase.read_text().splitlines()]
    assert rows[0] == ["sample", "hap1", "hap2", "probability", "n_het", "n_missing"]
    right = ambiguous = 0
    for (name, a, b, prob, n_het, _), calls in zip(rows[1:], g.calls, strict=True):
        ok = calls >= 0
        total = np.array([int(x) for x in a]) + np.array([int(x) for x in b])
        assert np.array_equal(total[ok], calls[ok])  # consistent with every call
        assert 0 < float(prob) <= 1
        if int(n_het) >= 2:
            ambiguous += 1
            right += sorted((a, b)) == true_pairs[name]
    print(f"phase accuracy {right / ambiguous:.3f}")
    assert right / ambiguous > 0.88, right / ambiguous  # measured 0.915


def test_freq_to_stdout_with_min_freq(run):
    result = run("haplo", "freq", COHORT, "--region", "1:1-8000", "--min-freq", "0.05")
    assert result.code == 0, result.err
    rows = result.out.splitlines()
    assert rows[0].startswith("haplotype\t") and len(rows) > 2
    assert all(float(r.split("\t")[1]) >= 0.05 for r in rows[1:])


@pytest.mark.parametrize(
    "args,message",
    [
        (["--region", "1:1-100000", "--method", "ligation"], "haplotype EM takes at most 62"),
        (["--region", "1:1-500"], "no biallelic SNP in 1:1-500"),
        (["--region", "1:1-8000", "--n-init", "0"], "--n-init: must be an integer >= 1"),
        (["--region", "1:1-40000", "--method", "exact"], "--method exact takes at most 30"),
    ],
)
def test_freq_bad_input_one_line(run, tmp_path, args, message):
    out = tmp_path / "haps.tsv"
    result = run("haplo", "freq", COHORT, *args, "-o", out)
    assert result.code in (1, 2)
    errors = [line for line in result.err.splitlines() if "error" in line]
    assert len(errors) == 1 and message in errors[0] and "Traceback" not in result.err
    assert not out.exists()


def test_phase_unknown_samples_one_line(run, tmp_path):
    names = tmp_path / "names.txt"
    names.write_text("S0001\nNOBODY\n")
    out = tmp_path / "phase.tsv"
    result = run("haplo", "phase", COHORT, "--region", "1:1-8000", "--samples", names, "-o", out)
    assert result.code == 1 and "NOBODY" in result.err and "Traceback" not in result.err
    assert not out.exists()


def small_vcf(path, rows, fmt="GT"):
    header = (
        "##fileformat=VCFv4.2\n##contig=<ID=1>\n"
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
        '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tA\tB\tC\tD\n"
    )
    body = "".join(
        f"1\t{100 * (i + 1)}\trs{i + 1}\tA\tG\t.\tPASS\t.\t{fmt}\t" + "\t".join(calls) + "\n"
        for i, calls in enumerate(rows)
    )
    path.write_text(header + body)
    return path


def test_freq_leaves_out_snps_without_calls(run, tmp_path):
    import json

    vcf = small_vcf(tmp_path / "m.vcf", [
        ["0/0", "0/1", "1/1", "0/1"],
        ["./.", "./.", "./.", "./."],
        ["0/1", "0/0", "1/1", "0/1"],
    ])  # fmt: skip
    out, rep = tmp_path / "haps.tsv", tmp_path / "run.json"
    result = run("haplo", "freq", vcf, "-o", out, "--report", rep)
    assert result.code == 0, result.err
    assert "1 SNP(s) without a call left out of the haplotypes: rs2" in result.err
    rows = out.read_text().splitlines()[1:]
    assert rows and all(len(r.split("\t")[0]) == 2 for r in rows)
    report = json.loads(rep.read_text())
    assert report["results"]["snps"] == ["rs1", "rs3"]
    assert report["results"]["snps_without_calls"] == ["rs2"]


@pytest.mark.parametrize(
    "rows,fmt,message",
    [
        ([["./.", "./.", "./.", "./."]], "GT", "no SNP in the region has a call"),
        ([["0/0", "0/1/1", "1/1", "0/1"]], "GT", "3 alleles in the call of sample 'B'"),
        ([["5", "6", "7", "8"]], "DP", "without a GT field"),
    ],
)
def test_freq_bad_genotypes_one_line(run, tmp_path, rows, fmt, message):
    vcf = small_vcf(tmp_path / "bad.vcf", rows, fmt)
    out = tmp_path / "haps.tsv"
    result = run("haplo", "freq", vcf, "-o", out)
    assert result.code == 1, result.err
    errors = [line for line in result.err.splitlines() if line.startswith("seqem: error")]
    assert len(errors) == 1 and message in errors[0] and "Traceback" not in result.err
    assert not out.exists()


PL_VCF = """##fileformat=VCFv4.2
##contig=<ID=1>
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##FORMAT=<ID=PL,Number=G,Type=Integer,Description="Phred-scaled genotype likelihoods">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tA\tB\tC\tD
1\t100\trs1\tA\tG\t.\tPASS\t.\tGT:PL\t0/0:0,10,40\t0/1:20,0,20\t1/1:40,10,0\t./.:.
1\t200\trs2\tA\tC\t.\tPASS\t.\tGT:PL\t0/1:10,0,30\t0/0:0,3,20\t1/1:30,3,0\t0/1:20,0,20
1\t300\trs3\tC\tT\t.\tPASS\t.\tGT:PL\t0/0:0,6,30\t0/1:15,0,15\t0/1:20,0,10\t./.:0,0,0
"""


def test_genotype_likelihoods_from_pl(run, tmp_path):
    from seqem.io.vcf import read_genotypes

    vcf = tmp_path / "pl.vcf"
    vcf.write_text(PL_VCF)
    g = read_genotypes(str(vcf), likelihoods="PL")
    assert g.likelihoods.shape == (4, 3, 3)
    assert np.allclose(g.likelihoods[0, 0], [1.0, 0.1, 1e-4])
    assert np.all(g.likelihoods[3, 0] == 1.0)  # '.': no information
    assert np.all(g.likelihoods[3, 2] == 1.0)  # all equal: no information
    out = tmp_path / "haps.tsv"
    result = run("haplo", "freq", vcf, "--likelihoods", "PL", "-o", out)
    assert result.code == 0, result.err
    freqs = [float(r.split("\t")[1]) for r in out.read_text().splitlines()[1:]]
    assert sum(freqs) == pytest.approx(1.0, abs=1e-6)
    result = run("haplo", "freq", vcf, "--likelihoods", "GL", "-o", out)
    assert result.code == 1 and "has no GL field" in result.err


def test_long_window_uses_the_cluster_model(run, tmp_path):
    import json

    from seqem.io.vcf import read_genotypes

    haps, rep, phase = tmp_path / "haps.tsv", tmp_path / "run.json", tmp_path / "phase.tsv"
    region = "1:1-120000"
    result = run("haplo", "freq", COHORT, "--region", region, "-o", haps, "--report", rep)
    assert result.code == 0, result.err
    report = json.loads(rep.read_text())
    assert report["results"]["method"] == "cluster" and "loglik" in report
    est = {r.split("\t")[0]: float(r.split("\t")[1]) for r in haps.read_text().splitlines()[1:]}
    assert sum(est.values()) == pytest.approx(1.0, abs=1e-9)
    g = read_genotypes(str(COHORT), region=region)
    true_freq, _ = cohort_truth(g.positions)
    tvd = 0.5 * sum(abs(est.get(k, 0) - true_freq.get(k, 0)) for k in set(est) | set(true_freq))
    # 123 SNPs, 400 people, nearly every true haplotype unique: measured 0.48
    assert tvd < 0.6, tvd

    core = "1:50001-100000"
    result = run("haplo", "phase", COHORT, "--region", core, "--flank", "20000", "-o", phase,
                 "--method", "cluster")  # fmt: skip
    assert result.code == 0, result.err
    g = read_genotypes(str(COHORT), region=core)
    _, true_pairs = cohort_truth(g.positions)
    rows = [r.split("\t") for r in phase.read_text().splitlines()[1:]]
    right = ambiguous = 0
    for (name, a, b, prob, n_het, _), calls in zip(rows, g.calls, strict=True):
        ok = calls >= 0
        total = np.array([int(x) for x in a]) + np.array([int(x) for x in b])
        assert np.array_equal(total[ok], calls[ok])
        assert 0 < float(prob) <= 1.0
        if int(n_het) >= 2:
            ambiguous += 1
            right += sorted((a, b)) == true_pairs[name]
    assert right / ambiguous > 0.55, right / ambiguous  # measured 0.65 (54 SNPs)


def test_cluster_model_refuses_likelihoods(run, tmp_path):
    vcf = tmp_path / "pl.vcf"
    vcf.write_text(PL_VCF)
    result = run("haplo", "freq", vcf, "--likelihoods", "PL", "--method", "cluster")
    assert result.code == 1 and "the cluster model works from genotype calls" in result.err


def test_freq_and_phase_over_bed_windows(run, tmp_path):
    import json

    bed = tmp_path / "w.bed"
    bed.write_text("1\t0\t8000\n1\t8000\t16000\n")
    out, rep, phase = tmp_path / "haps.tsv", tmp_path / "run.json", tmp_path / "phase.tsv"
    result = run("haplo", "freq", COHORT, "--regions-file", bed, "-o", out, "--report", rep)
    assert result.code == 0, result.err
    rows = [r.split("\t") for r in out.read_text().splitlines()]
    assert rows[0] == ["window", "haplotype", "frequency", "se", "copies"]
    by_window = {}
    for r in rows[1:]:
        by_window.setdefault(r[0], []).append(float(r[2]))
    assert list(by_window) == ["1:1-8000", "1:8001-16000"]
    assert all(sum(v) == pytest.approx(1.0, abs=1e-6) for v in by_window.values())
    windows = json.loads(rep.read_text())["results"]["windows"]
    assert [w["window"] for w in windows] == list(by_window)
    result = run("haplo", "phase", COHORT, "--regions-file", bed, "-o", phase)
    assert result.code == 0, result.err
    lines = phase.read_text().splitlines()
    assert lines[0].startswith("window\tsample\thap1") and len(lines) == 1 + 2 * 400
    result = run("haplo", "freq", COHORT, "--regions-file", bed, "--region", "1:1-10")
    assert result.code == 1 and "not both" in result.err


def test_ld_table_blocks_on_threads_equal_one_thread():
    """More rows than one formatting block (65,536), formatted on one and on three
    threads, with and without a threshold: the same bytes; and the rows match the table."""
    from seqem.cli.haplo import ld_table
    from seqem.haplo.ld import pairwise_ld
    from seqem.io.vcf import Genotypes

    rng = np.random.default_rng(3)
    m = 380  # 72,010 pairs
    calls = rng.integers(0, 3, size=(30, m)).astype(np.int8)
    calls[rng.random(calls.shape) < 0.05] = -1
    g = Genotypes(calls=calls, ids=tuple(f"rs{i}" if i % 7 else "." for i in range(m)),
                  chrom=("1",) * m, positions=np.arange(m, dtype=np.int64) * 10 + 100,
                  ref=("A",) * m, alt=("G",) * m, samples=tuple(f"S{i}" for i in range(30)),
                  path="x.vcf", skipped={})  # fmt: skip
    table = pairwise_ld(calls)
    for min_r2 in (0.0, 0.05):
        one = b"".join(ld_table(g, table, min_r2=min_r2, n_threads=1))
        three = b"".join(ld_table(g, table, min_r2=min_r2, n_threads=3))
        assert one == three
    rows = one.decode().splitlines()[1:]
    keep = np.flatnonzero(table.r2 >= 0.05)
    assert len(rows) == keep.size
    last = rows[-1].split("\t")
    t = keep[-1]
    assert last[0] == g.ids[table.a[t]] and last[1] == g.ids[table.b[t]]
    assert float(last[7]) == pytest.approx(table.r2[t], abs=5e-7)


# -- input once read wrongly or with a traceback


def test_ordinary_gzip_is_read_by_every_verb(run, tmp_path):
    """A gzip (not bgzip) VCF gives what the bgzipped one gives, region included."""
    copy = tmp_path / "pg.vcf.gz"
    with gzip.open(COHORT, "rb") as src:
        copy.write_bytes(gzip.compress(src.read()))
    for verb in ("ld", "freq", "phase"):
        want = run("haplo", verb, COHORT, "--region", "1:1-9000", "-q")
        got = run("haplo", verb, copy, "--region", "1:1-9000", "-q")
        assert got.code == 0 and got.err == "", got.err
        assert got.out == want.out and want.out.count("\n") > 3
    result = run("haplo", "ld", copy, "-o", tmp_path / "ld.tsv")
    assert result.code == 0, result.err
    assert len(read_ld(tmp_path / "ld.tsv")) == 200 * 199 // 2


def test_a_regions_file_of_one_line_is_that_window(run, tmp_path):
    bed = tmp_path / "one.bed"
    bed.write_text("1\t0\t5000\n")
    result = run("haplo", "freq", COHORT, "--regions-file", bed, "-q")
    assert result.code == 0, result.err
    rows = [r.split("\t") for r in result.out.splitlines()]
    assert rows[0][0] == "window" and {r[0] for r in rows[1:]} == {"1:1-5000"}
    assert {len(r[1]) for r in rows[1:]} == {4}  # the 4 SNPs of 1:1-5000, not all 200
    alone = run("haplo", "freq", COHORT, "--region", "1:1-5000", "-q")
    assert [r[1:] for r in rows[1:]] == [r.split("\t") for r in alone.out.splitlines()[1:]]
    bed.write_text("7\t0\t5000\n")
    out = tmp_path / "haps.tsv"
    one_error(run("haplo", "freq", COHORT, "--regions-file", bed, "-o", out), "no records on '7'")
    assert not out.exists()


def shuffled_vcf(path, body_lines):
    with gzip.open(COHORT, "rt") as src:
        lines = src.read().splitlines(True)
    head = [x for x in lines if x.startswith("#")]
    head.insert(3, "##contig=<ID=2,length=250000>\n")
    path.write_text("".join(head + body_lines(lines[len(head) - 1 :])))
    return path


def test_an_unsorted_file_is_refused(run, tmp_path):
    vcf = shuffled_vcf(tmp_path / "u.vcf", lambda body: [body[1], body[0]] + body[2:6])
    for verb in ("freq", "ld"):
        line = one_error(run("haplo", verb, vcf), "record 1:2671 out of order after 1:2941")
        assert str(vcf) in line


def two_contigs(body):
    """The first three SNPs on contig 1, the next three on contig 2."""
    return body[:3] + ["2" + line[1:] for line in body[3:6]]


def test_haplotypes_do_not_span_contigs(run, tmp_path):
    vcf = shuffled_vcf(tmp_path / "two.vcf", two_contigs)
    for verb in ("freq", "phase"):
        one_error(run("haplo", verb, vcf), "the SNPs are on 2 contigs (1, 2) and a haplotype lies "
                                           "on one: choose it with --region")  # fmt: skip
    result = run("haplo", "freq", vcf, "--region", "2", "-q")
    assert result.code == 0 and all(len(r.split("\t")[0]) == 3 for r in result.out.splitlines()[1:])


def test_ld_pairs_within_each_contig_and_names_it(run, tmp_path):
    vcf = shuffled_vcf(tmp_path / "two.vcf", two_contigs)
    result = run("haplo", "ld", vcf, "-q")
    assert result.code == 0, result.err
    rows = [r.split("\t") for r in result.out.splitlines()]
    assert rows[0] == ["chrom", "snp_a", "snp_b", "pos_a", "pos_b", "n", "d", "dprime", "r2"]
    assert [r[0] for r in rows[1:]] == ["1"] * 3 + ["2"] * 3
    ids = {
        "1": {"rs9000000", "rs9000001", "rs9000002"},
        "2": {"rs9000003", "rs9000004", "rs9000005"},
    }
    assert all({r[1], r[2]} <= ids[r[0]] for r in rows[1:])
    result = run("haplo", "ld", vcf, "--snp", "rs9000004", "-q")
    assert [(r[0], r[2]) for r in (x.split("\t") for x in result.out.splitlines()[1:])] == [
        ("2", "rs9000003"), ("2", "rs9000005")]  # fmt: skip
    one_error(run("haplo", "ld", vcf, "--plot", tmp_path / "ld.png"), "--plot draws the pairs "
                                                                       "of one contig")  # fmt: skip
    single = run("haplo", "ld", vcf, "--region", "1", "-q")  # one contig: no chrom column
    assert single.out.splitlines()[0].split("\t") == list(LD_COLUMNS)


@pytest.mark.parametrize(
    "text,message",
    [
        ("S0001\nS0002\nS0001\n", ":3: sample 'S0001' is listed twice (also on line 1)"),
        ("S0001\nS0002 S0003\n", ":2: expected one sample name per line, got 'S0002 S0003'"),
        ("\n\n", ": no sample names"),
    ],
)
def test_sample_files_are_read_strictly(run, tmp_path, text, message):
    names = tmp_path / "names.txt"
    names.write_text(text)
    for option in ("--samples", "--exclude-samples"):
        one_error(run("haplo", "freq", COHORT, "--region", "1:1-5000", option, names),
                  f"{names}{message}")  # fmt: skip


@pytest.mark.parametrize(
    "rows,fmt,message",
    [
        ([["0/0", "0/1", "1/1", "0/1"], ["0/2", "0/1", "1/1", "0/1"]], "GT",
         "record '1:200': sample 'A': allele 2 in GT '0/2', but the record has one ALT allele"),
        ([["0/0", "0/1", "1/1", "0/1"], ["0/X", "0/1", "1/1", "0/1"]], "GT",
         "record '1:200': bad GT '0/X' of sample 'A'"),
    ],
)  # fmt: skip
def test_bad_calls_name_file_record_and_sample(run, tmp_path, rows, fmt, message):
    vcf = small_vcf(tmp_path / "bad.vcf", rows, fmt)
    line = one_error(run("haplo", "freq", vcf, "-o", tmp_path / "haps.tsv"), message)
    assert str(vcf) in line and not (tmp_path / "haps.tsv").exists()


def pl_vcf(path, pls, fmt="GT:PL"):
    """Records of the calls in ``pls``, each list of calls or (FORMAT, calls)."""
    lines = PL_VCF.splitlines(True)[:5]
    for i, calls in enumerate(pls):
        row_fmt, calls = calls if isinstance(calls, tuple) else (fmt, calls)
        lines.append(f"1\t{100 * (i + 1)}\trs{i + 1}\tA\tG\t.\tPASS\t.\t{row_fmt}\t"
                     + "\t".join(calls) + "\n")  # fmt: skip
    path.write_text("".join(lines))
    return path


GOOD = ["0/0:0,10,40", "0/1:20,0,20", "1/1:40,10,0", "0/1:20,0,20"]


@pytest.mark.parametrize(
    "pls,fmt,message",
    [
        ([GOOD, ["0/0:0,-10,40"] + GOOD[1:]], "GT:PL",
         "record '1:200': sample 'A': negative PL 0,-10,40"),
        ([GOOD, ["0/0:0,10"] + GOOD[1:]], "GT:PL", "record '1:200': sample 'A': 2 PL values"),
        ([GOOD, ("GT", ["0/0", "0/1", "1/1", "0/1"])], "GT:PL",
         "record '1:200': no PL field in this record"),
        ([[".", ".", ".", "."], [".", ".", ".", "."]], "PL",
         "no SNP in the region has genotype likelihoods that tell the genotypes apart "
         "(rs1, rs2)"),
    ],
)  # fmt: skip
def test_bad_likelihoods_name_file_and_record(run, tmp_path, pls, fmt, message):
    vcf = pl_vcf(tmp_path / "pl.vcf", pls, fmt)
    line = one_error(run("haplo", "freq", vcf, "--likelihoods", "PL"), message)
    assert str(vcf) in line


def test_a_snp_without_likelihoods_is_left_out_even_with_calls(run, tmp_path):
    """The estimate uses the likelihoods, not the calls: a SNP whose PL are all
    missing has no information even where its GT are called."""
    vcf = pl_vcf(tmp_path / "pl.vcf", [GOOD, ["0/0:.", "0/1:.", "1/1:.", "0/1:."], GOOD])
    result = run("haplo", "freq", vcf, "--likelihoods", "PL", "-o", tmp_path / "h.tsv")
    assert result.code == 0, result.err
    assert "1 SNP(s) without genotype likelihoods that tell the genotypes apart left out " \
        "of the haplotypes: rs2" in result.err  # fmt: skip


@pytest.mark.parametrize(
    "verb,args,message",
    [
        ("ld", ["--min-r2", "nan"], "argument --min-r2: must be a number between 0 and 1"),
        ("ld", ["--min-r2", "2"], "argument --min-r2: must be a number between 0 and 1"),
        ("freq", ["--min-freq", "2"], "argument --min-freq: must be a number between 0 and 1"),
        ("freq", ["--min-freq", "-0.1"], "argument --min-freq: must be a number between 0 and 1"),
        ("freq", ["--min-bq", "-5"], "argument --min-bq: must be an integer >= 0"),
        ("phase", ["--min-mapq", "-5"], "argument --min-mapq: must be an integer >= 0"),
        ("freq", ["--seed", "-1"], "argument --seed: must be an integer >= 0"),
        ("freq", ["--flank", "-1"], "argument --flank: must be an integer >= 0"),
        ("freq", ["--method", "cluster", "--clusters", "10000"],
         f"argument --clusters: must be an integer between 1 and {MAX_CLUSTERS}"),
    ],
)  # fmt: skip
def test_out_of_range_options_are_usage_errors(run, verb, args, message):
    one_error(run("haplo", verb, COHORT, "--region", "1:1-5000", *args), message, code=2)


def test_no_htslib_lines_on_stderr(tmp_path, capfd):
    """htslib's own messages ('[E::...]', '[W::...]') never reach stderr: not for
    valid unindexed files, nor for the problems seqem reports in one line."""
    import pysam

    from seqem.cli.main import main

    plain = tmp_path / "c.vcf"
    with gzip.open(COHORT, "rt") as src:
        plain.write_text(src.read())
    bgz = tmp_path / "c.vcf.gz"
    pysam.tabix_compress(str(plain), str(bgz))
    bcf = tmp_path / "c.bcf"
    with pysam.VariantFile(str(plain)) as src:
        with pysam.VariantFile(str(bcf), "wb", header=src.header) as out:
            for rec in src:
                out.write(rec)
    undefined = small_vcf(tmp_path / "u.vcf", [["0/0", "0/1", "1/1", "0/1"]] * 2)
    undefined.write_text(undefined.read_text().replace("##contig=<ID=1>\n", "")
                         .replace("PASS", "q10"))  # fmt: skip
    capfd.readouterr()
    for path in (bgz, bcf, undefined):
        assert main(["haplo", "ld", str(path), "--region", "1:1-5000", "-q"]) == 0
        captured = capfd.readouterr()
        assert captured.err == "" and captured.out.startswith("snp_a\t")
    dup = small_vcf(tmp_path / "dup.vcf", [["0/0", "0/1", "1/1", "0/1"]])
    dup.write_text(dup.read_text().replace("\tA\tB\tC\tD", "\tA\tB\tA\tD"))
    cols = small_vcf(tmp_path / "cols.vcf", [["0/0", "0/1", "1/1", "0/1"], ["0/0", "0/1"]])
    cases = [
        (dup, "sample name 'A' appears 2 times"),
        (cols, "record '1:200': 2 sample columns, but the header names 4 samples"),
        (tmp_path, "is a directory, expected a VCF or BCF file"),
    ]
    for path, message in cases:
        assert main(["haplo", "ld", str(path)]) == 1
        err = capfd.readouterr().err
        assert err.count("\n") == 1 and message in err, err
        assert err.startswith(f"seqem: error: {path}") and "b'" not in err


def test_damaged_bcf_record_one_line_and_no_output(run, tmp_path):
    """A byte of a BCF record's ID damaged (the compressed blocks intact): one line
    naming the file and the record, exit 1, no output file."""
    import pysam

    plain = tmp_path / "c.vcf"
    with gzip.open(COHORT, "rt") as src:
        plain.write_text(src.read())
    bcf = tmp_path / "c.bcf"
    with pysam.VariantFile(str(plain)) as src:
        with pysam.VariantFile(str(bcf), "wb", header=src.header) as out:
            for rec in src:
                out.write(rec)
    data = gzip.decompress(bcf.read_bytes())
    at = data.index(b"rs9000008")  # the ID of the ninth record
    pos = next(line.split("\t")[1] for line in plain.read_text().splitlines()
               if "\trs9000008\t" in line)  # fmt: skip
    bad = tmp_path / "bad.bcf"
    bad.write_bytes(data[:at] + b"\xff" + data[at + 1 :])  # uncompressed BCF
    out = tmp_path / "ld.tsv"
    one_error(run("haplo", "ld", bad, "-o", out),
              f"{bad}: record '1:{pos}': BCF record 9 of the file is damaged: the ID is not "
              "text (byte 0xff is not UTF-8)")  # fmt: skip
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == [
        "bad.bcf", "c.bcf", "c.vcf"]  # fmt: skip


def test_index_of_a_file_with_records_elsewhere_one_line(run, tmp_path):
    """--region through the index of a file laid out byte for byte alike but with its
    records 50 kb back (the index's offsets fall on whole records at other
    positions): one line naming the index, exit 1, no output file."""
    import shutil

    import pysam

    header = (
        "##fileformat=VCFv4.2\n##contig=<ID=1,length=1000000>\n"
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tA\tB\tC\tD\n"
    )
    calls = ("0|1\t1/1\t0/0\t0/1", "1|1\t0/1\t0/0\t0/0", "0/0\t0|0\t1/0\t1/1")
    paths = []
    for name, shift in (("own.vcf.gz", 0), ("other.vcf.gz", -50000)):
        body = "".join(f"1\t{200000 + 100 * i + shift}\t.\tA\tG\t.\t.\t.\tGT\t{calls[i % 3]}\n"
                       for i in range(7000))  # fmt: skip
        path = tmp_path / name
        with pysam.libcbgzf.BGZFile(str(path), "wb0") as fh:  # stored blocks: same offsets
            fh.write((header + body).encode())
        paths.append(path)
    pysam.tabix_index(str(paths[0]), preset="vcf", force=True)
    shutil.copy(str(paths[0]) + ".tbi", str(paths[1]) + ".tbi")
    out = tmp_path / "ld.tsv"
    one_error(run("haplo", "ld", paths[1], "--region", "1:600001-700000", "-o", out),
              f"{paths[1]}: the index other.vcf.gz.tbi does not match the file: it leaves out "
              "record 1:654600 of the region, so it is out of date or was made for another "
              "file (re-index it")  # fmt: skip
    assert not out.exists()


def test_damaged_files_and_indexes_one_line(run, tmp_path):
    import os
    import shutil

    data = COHORT.read_bytes()
    block = 11820  # the fourth BGZF block of the example file
    assert data[block : block + 4] == b"\x1f\x8b\x08\x04"
    bad = bytearray(data)
    bad[block + 200 : block + 250] = bytes(50)
    corrupt = tmp_path / "corrupt.vcf.gz"
    corrupt.write_bytes(bytes(bad))
    shutil.copy(str(COHORT) + ".tbi", str(corrupt) + ".tbi")
    for region in ([], ["--region", "1:1-250000"]):
        one_error(run("haplo", "ld", corrupt, *region),
                  f"{corrupt}: corrupt compressed block at byte {block}")  # fmt: skip
    # an index made for another file
    with gzip.open(COHORT, "rt") as src:
        lines = src.read().splitlines(True)
    head = [x for x in lines if x.startswith("#")]
    other = tmp_path / "other.vcf"
    other.write_text("".join(head + lines[len(head) + 100 :]))
    import pysam

    other_gz = tmp_path / "other.vcf.gz"
    pysam.tabix_compress(str(other), str(other_gz))
    index = tmp_path / "other.vcf.gz.tbi"
    shutil.copy(str(COHORT) + ".tbi", index)
    one_error(run("haplo", "ld", other_gz, "--region", "1:120000-200000"),
              "index other.vcf.gz.tbi does not match the file (re-index it")  # fmt: skip
    os.utime(index, (1, 1))
    result = run("haplo", "ld", other_gz, "--region", "1:120000-200000", "-o", tmp_path / "x")
    assert result.code == 0
    assert "seqem: warning: " in result.err and "is older than the file" in result.err


@pytest.mark.parametrize(
    "region,message",
    [
        ("1:abc", "malformed region '1:abc'; expected NAME:START-END"),
        ("1:1-1e3", "malformed region '1:1-1e3'"),
        ("1:99999999999-99999999999", "region '1:99999999999-99999999999' starts past the end "
         "of contig '1' (length 250000)"),
    ],
)  # fmt: skip
def test_bad_region_strings(run, tmp_path, region, message):
    plain = tmp_path / "c.vcf"
    with gzip.open(COHORT, "rt") as src:
        plain.write_text(src.read())
    for path in (COHORT, plain):
        one_error(run("haplo", "ld", path, "--region", region), message)
