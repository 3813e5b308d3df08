"""``seqem linkage check | lod`` on pedigrees written by the tests; bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "linkage"

# family 1: founders 1, 2 (1 affected) with children 3-6; 3 marries founder 7: children 8, 9
PEDIGREE = [
    ("1", "0", "0", "1", "2"),
    ("2", "0", "0", "2", "1"),
    ("3", "1", "2", "1", "2"),
    ("4", "1", "2", "2", "2"),
    ("5", "1", "2", "1", "1"),
    ("6", "1", "2", "2", "2"),
    ("7", "0", "0", "2", "1"),
    ("8", "3", "7", "1", "2"),
    ("9", "3", "7", "2", "1"),
]
MAP = [("M1", 10.0), ("M2", 20.0), ("M3", 30.0)]


def simulate(seed=0):
    """Marker genotypes passed down the pedigree; the disease allele sits at M2."""
    rng = np.random.default_rng(seed)
    index = {p[0]: k for k, p in enumerate(PEDIGREE)}
    haps = {}
    for pid, fa, mo, _, _ in PEDIGREE:
        if fa == "0":
            haps[pid] = [rng.integers(1, 5, size=len(MAP)) for _ in range(2)]
        else:
            kid = []
            for parent in (fa, mo):
                h = haps[parent]
                side = rng.integers(2)
                chrom = np.array([h[side][j] for j in range(len(MAP))])
                kid.append(chrom)
            haps[pid] = kid
    return [(p, haps[p[0]]) for p in PEDIGREE], index


def write_merlin(tmp: Path, rows=None, extra_line=None):
    people, _ = simulate()
    ped = tmp / "fam.ped"
    lines = []
    for (pid, fa, mo, sex, aff), h in rows or people:
        alleles = " ".join(f"{h[0][j]}/{h[1][j]}" for j in range(len(MAP)))
        lines.append(f"F1 {pid} {fa} {mo} {sex} {aff} {alleles}")
    if extra_line:
        lines.append(extra_line)
    ped.write_text("\n".join(lines) + "\n")
    (tmp / "fam.dat").write_text("A disease\n" + "".join(f"M {m}\n" for m, _ in MAP))
    (tmp / "fam.map").write_text("CHR MARKER POS\n" + "".join(f"1 {m} {c}\n" for m, c in MAP))
    (tmp / "fam.freq").write_text("".join(f"M {m}\nF 0.25 0.25 0.25 0.25\n" for m, _ in MAP))
    (tmp / "fam.model").write_text("disease 0.001 0.001,0.9,0.9 dominant\n")
    return [str(tmp / f"fam.{e}") for e in ("ped", "dat", "map", "freq", "model")]


def merlin_args(files):
    ped, dat, map_, freq, model = files
    return ["--ped", ped, "--dat", dat, "--map", map_, "--freq", freq, "--model", model]


def test_lod_curve_per_family_plot_and_report(run, tmp_path):
    files = write_merlin(tmp_path)
    out, fam, png, rep = (tmp_path / n for n in ("lod.tsv", "fam.tsv", "lod.png", "r.json"))
    result = run("linkage", "lod", *merlin_args(files), "--step", "2", "--flank", "4",
                 "-o", out, "--per-family", fam, "--plot", png, "--report", rep)  # fmt: skip
    assert result.code == 0, result.err
    lines = out.read_text().splitlines()
    assert lines[0].split("\t") == ["chrom", "cm", "lod", "hlod", "alpha"]
    rows = [line.split("\t") for line in lines[1:]]
    assert [float(r[1]) for r in rows] == list(np.arange(6.0, 35.0, 2.0))
    lods = np.array([float(r[2]) for r in rows])
    hlods = np.array([float(r[3]) for r in rows])
    assert np.all(hlods >= np.maximum(lods, 0) - 1e-9)
    assert len(fam.read_text().splitlines()) == 1 + len(rows)
    assert png.stat().st_size > 1000 and '"max_lod"' in rep.read_text()


def test_two_formats_give_the_same_lods(run, tmp_path):
    """The same family as MERLIN files and as a LINKAGE pedfile + datafile."""
    files = write_merlin(tmp_path)
    people, _ = simulate()
    ped = tmp_path / "pedfile.pre"
    ped.write_text(
        "".join(
            f"1 {pid} {fa} {mo} {sex} {aff} "
            + " ".join(f"{h[0][j]} {h[1][j]}" for j in range(len(MAP)))
            + "\n"
            for (pid, fa, mo, sex, aff), h in people
        )
    )
    dat = tmp_path / "datafile.dat"
    dat.write_text(
        "4 0 0 5\n0 0.0 0.0 0\n1 2 3 4\n1 2 # disease\n0.999 0.001\n1\n0.001 0.9 0.9\n"
        + "".join(f"3 4 # {m}\n0.25 0.25 0.25 0.25\n" for m, _ in MAP)
        + "0 0\n0.5 0.0906346234610 0.0906346234610\n1 0.1 0.5\n"
    )
    a, b = tmp_path / "a.tsv", tmp_path / "b.tsv"
    assert run("linkage", "lod", *merlin_args(files), "--positions", "12,20,27.5", "-o", a,
               "-q").code == 0  # fmt: skip
    result = run("linkage", "lod", "--linkage-ped", ped, "--linkage-dat", dat,
                 "--positions", "2,10,17.5", "-o", b, "-q")  # fmt: skip
    assert result.code == 0, result.err
    lod_a = [float(x.split("\t")[2]) for x in a.read_text().splitlines()[1:]]
    lod_b = [float(x.split("\t")[2]) for x in b.read_text().splitlines()[1:]]
    np.testing.assert_allclose(lod_a, lod_b, atol=2e-6)


def test_twopoint_and_presets(run, tmp_path):
    files = write_merlin(tmp_path)
    out = tmp_path / "tp.tsv"
    result = run("linkage", "lod", *merlin_args(files)[:8], "--preset", "dominant",
                 "--twopoint", "0,0.1,0.5", "-o", out)  # fmt: skip
    assert result.code == 0, result.err
    rows = [line.split("\t") for line in out.read_text().splitlines()]
    assert rows[0] == ["marker", "theta", "lod", "hlod", "alpha"]
    assert len(rows) == 1 + 3 * len(MAP)
    # theta = 1/2 is the null: LOD 0
    assert all(abs(float(r[2])) < 1e-12 for r in rows[1:] if r[1] == "0.5")


def test_check_reports_a_mendelian_error(run, tmp_path):
    people, _ = simulate()
    (pid, fa, mo, sex, aff), h = people[7]  # person 8, child of 3 and 7
    bad = [np.array(h[0]), np.array(h[1])]
    parents = {people[2][1][0][1], people[2][1][1][1], people[6][1][0][1], people[6][1][1][1]}
    wrong = next(a for a in (1, 2, 3, 4) if a not in parents)
    bad[0][1] = bad[1][1] = wrong
    rows = list(people)
    rows[7] = ((pid, fa, mo, sex, aff), bad)
    files = write_merlin(tmp_path, rows=rows)
    out = tmp_path / "errors.tsv"
    result = run("linkage", "check", *merlin_args(files)[:6], "-o", out)
    assert result.code == 1
    lines = out.read_text().splitlines()
    assert lines[0] == "family\tmarker\tpersons\tproblem"
    fields = lines[1].split("\t")
    assert fields[0] == "F1" and fields[1] == "M2" and "8" in fields[2].split(",")
    # lod refuses the family with a one-line error
    result = run("linkage", "lod", *merlin_args(files), "-o", tmp_path / "x.tsv")
    assert result.code != 0 and "inconsistent" in result.err and "Traceback" not in result.err


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda r: r.__setitem__(2, (("3", "1", "0", "1", "2"), r[2][1])), "one parent"),
        (lambda r: r.__setitem__(0, (("1", "0", "0", "2", "2"), r[0][1])), "is female"),
        (lambda r: r.__setitem__(0, (("1", "3", "2", "1", "2"), r[0][1])), "own ancestor"),
        (lambda r: r.__setitem__(2, (("3", "1", "99", "1", "2"), r[2][1])), "not in the family"),
        (lambda r: r.append((("10", "0", "0", "1", "1"), r[0][1])), "not connected"),
        (lambda r: r.append((("10", "5", "9", "1", "1"), r[0][1])), "loop"),
    ],
)
def test_pedigree_errors_are_one_line(run, tmp_path, change, message):
    people, _ = simulate()
    rows = list(people)
    change(rows)
    files = write_merlin(tmp_path, rows=rows)
    result = run("linkage", "check", *merlin_args(files)[:6], "-o", tmp_path / "e.tsv")
    assert result.code != 0
    assert message in result.err and "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) <= 2


def test_file_errors_name_file_and_line(run, tmp_path):
    files = write_merlin(tmp_path, extra_line="F1 10 0 0 1 2 1/2 3/4")
    result = run("linkage", "lod", *merlin_args(files), "-o", tmp_path / "x.tsv")
    assert result.code != 0 and "fam.ped:10" in result.err and "fields" in result.err
    files = write_merlin(tmp_path)
    text = Path(files[0]).read_text().replace(" 1/", " 7/", 1)
    Path(files[0]).write_text(text)
    result = run("linkage", "lod", *merlin_args(files), "-o", tmp_path / "x.tsv")
    assert result.code != 0 and "allele 7" in result.err
    result = run("linkage", "lod", "--ped", files[0], "-o", tmp_path / "x.tsv")
    assert result.code != 0 and "--dat" in result.err


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared linkage data not present")
def test_merlin_example_maximum(run, tmp_path):
    d = SHARED / "merlin_parametric"
    out = tmp_path / "lod.tsv"
    result = run("linkage", "lod", *merlin_args([str(d / f"parametric.{e}") for e in
                 ("ped", "dat", "map", "freq", "model")]), "-o", out)  # fmt: skip
    assert result.code == 0, result.err
    rows = [line.split("\t") for line in out.read_text().splitlines()[1:]]
    best = max(rows, key=lambda r: float(r[2]))
    assert best[1] == "45" and abs(float(best[2]) - 2.407207) < 1e-5


def test_example_data_finds_the_disease_gene(run, tmp_path):
    """The bundled example: maximum LOD on chromosome 1 within 10 cM of the gene
    (42 cM), above 3; nothing above 0 on chromosome 2."""
    from .conftest import DATA

    out = tmp_path / "lod.tsv"
    files = [str(DATA / f"example_pedigree.{e}") for e in ("ped", "dat", "map", "freq", "model")]
    result = run("linkage", "lod", *merlin_args(files), "--step", "2", "-o", out, "-q")
    assert result.code == 0, result.err
    rows = [line.split("\t") for line in out.read_text().splitlines()[1:]]
    chr1 = [r for r in rows if r[0] == "1"]
    best = max(chr1, key=lambda r: float(r[2]))
    assert float(best[2]) > 3 and abs(float(best[1]) - 42) <= 10
    assert max(float(r[2]) for r in rows if r[0] == "2") <= 0


@pytest.mark.parametrize("script", ["make_pedigree_data.py", "make_cross_data.py"])
def test_data_scripts_reproduce_the_files(tmp_path, script):
    import importlib.util

    from .conftest import DATA

    spec = importlib.util.spec_from_file_location(script[:-3], DATA / script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--out", str(tmp_path)])
    for name in module.FILES:
        assert (tmp_path / name).read_text() == (DATA / name).read_text()
        assert (DATA / name).read_bytes() == (DATA.parent / "seqem" / "data" / name).read_bytes()


def test_map_of_the_example_pedigrees_with_report(run, tmp_path):
    from .conftest import DATA

    out, rep = tmp_path / "map.tsv", tmp_path / "map.json"
    files = [str(DATA / f"example_pedigree.{e}") for e in ("ped", "dat", "map", "freq")]
    result = run("linkage", "map", "--ped", files[0], "--dat", files[1], "--map", files[2],
                 "--freq", files[3], "-o", out, "--report", rep, "--threads", "1")  # fmt: skip
    assert result.code == 0, result.err
    rows = [line.split("\t") for line in out.read_text().splitlines()]
    assert rows[0] == ["chrom", "marker", "cm"] and len(rows) == 19
    cm1 = [float(r[2]) for r in rows[1:] if r[0] == "1"]
    assert cm1[0] == 2.0 and np.all(np.diff(cm1) >= 0)
    assert abs(cm1[-1] - cm1[0] - 88.0) < 40  # simulated: 88 cM
    import json

    report = json.loads(rep.read_text())
    assert report["loglik"] < 0 and report["results"]["chromosomes"]["1"]["converged"]


def test_map_of_the_example_cross(run, tmp_path):
    from .conftest import DATA

    out = tmp_path / "cross.tsv"
    result = run("linkage", "map", "--cross", DATA / "example_cross.csv", "--error-prob", "0.005",
                 "-o", out, "-q")  # fmt: skip
    assert result.code == 0, result.err
    got = [line.split("\t") for line in out.read_text().splitlines()[1:]]
    truth_text = (DATA / "example_cross_truth.tsv").read_text()
    truth = [line.split("\t") for line in truth_text.splitlines()[1:]]
    assert [r[1] for r in got] == [r[1] for r in truth]
    for c in ("1", "2"):
        est = [float(r[2]) for r in got if r[0] == c]
        true = [float(r[2]) for r in truth if r[0] == c]
        assert abs((est[-1] - est[0]) - (true[-1] - true[0])) < 25
    result = run("linkage", "map", "--cross", DATA / "example_cross.csv", "--sex-specific")
    assert result.code != 0 and "pedigrees" in result.err


def test_npl_of_the_example_pedigrees(run, tmp_path):
    from .conftest import DATA

    out, fam = tmp_path / "npl.tsv", tmp_path / "fam.tsv"
    files = [str(DATA / f"example_pedigree.{e}") for e in ("ped", "dat", "map", "freq")]
    inputs = ["--ped", files[0], "--dat", files[1], "--map", files[2], "--freq", files[3]]
    result = run("linkage", "npl", *inputs, "--step", "4", "-o", out, "--per-family", fam, "-q")
    assert result.code == 0, result.err
    rows = [line.split("\t") for line in out.read_text().splitlines()]
    assert rows[0] == ["chrom", "cm", "npl", "p", "kc_lod", "kc_p"]
    chr1 = [r for r in rows[1:] if r[0] == "1"]
    best = max(chr1, key=lambda r: float(r[2]))
    assert float(best[2]) > 3 and abs(float(best[1]) - 42) <= 10 and float(best[3]) < 1e-3
    assert max(float(r[2]) for r in rows[1:] if r[0] == "2") < 2
    assert len(fam.read_text().splitlines()) > len(rows)


def test_zero_mendelian_and_loops_options(run, tmp_path):
    people, _ = simulate()
    rows = list(people)
    (pid, fa, mo, sex, aff), h = rows[7]
    parents = {rows[2][1][0][1], rows[2][1][1][1], rows[6][1][0][1], rows[6][1][1][1]}
    wrong = next(a for a in (1, 2, 3, 4) if a not in parents)
    bad = [np.array(h[0]), np.array(h[1])]
    bad[0][1] = bad[1][1] = wrong
    rows[7] = ((pid, fa, mo, sex, aff), bad)
    files = write_merlin(tmp_path, rows=rows)
    out = tmp_path / "lod.tsv"
    result = run("linkage", "lod", *merlin_args(files), "--zero-mendelian", "-o", out)
    assert result.code == 0, result.err
    assert "family F1, marker M2: genotypes set to missing" in result.err
    # a loop (a child of persons 5 and 9: uncle and niece) is refused unless allowed
    rows = list(people)
    rows.append((("10", "5", "9", "1", "2"), people[0][1]))
    files = write_merlin(tmp_path, rows=rows)
    result = run("linkage", "lod", *merlin_args(files), "-o", out)
    assert result.code != 0 and "loop" in result.err and "--allow-loops" in result.err
    result = run("linkage", "lod", *merlin_args(files), "--allow-loops", "--zero-mendelian",
                 "-o", out)  # fmt: skip
    assert result.code == 0, result.err


def test_plink_fam_with_vcf_equals_merlin(run, tmp_path):
    """The same biallelic genotypes as .fam + VCF and as MERLIN files: equal LODs."""
    rng = np.random.default_rng(4)
    people, _ = simulate()
    n_snps = 6
    cm = [10.0 + 2.0 * k for k in range(n_snps)]
    calls = {}
    for (pid, fa, mo, _, _), _h in people:
        if fa == "0":
            calls[pid] = rng.integers(0, 2, size=(2, n_snps))
        else:
            calls[pid] = np.stack([calls[fa][rng.integers(2)], calls[mo][rng.integers(2)]])
    fam = tmp_path / "f.fam"
    fam.write_text("".join(f"F1 {pid} {fa} {mo} {sex} {aff}\n"
                           for (pid, fa, mo, sex, aff), _ in people))  # fmt: skip
    header = "##fileformat=VCFv4.2\n##contig=<ID=1>\n"
    header += '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
    ids = [p[0][0] for p in people]
    lines = [header + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(ids)]
    for k in range(n_snps):
        gts = "\t".join(f"{calls[i][0, k]}/{calls[i][1, k]}" for i in ids)
        lines.append(f"1\t{int(cm[k] * 1e6)}\trs{k}\tA\tG\t.\tPASS\t.\tGT\t{gts}")
    vcf = tmp_path / "g.vcf"
    vcf.write_text("\n".join(lines) + "\n")
    ped = tmp_path / "m.ped"
    ped.write_text("".join(
        f"F1 {pid} {fa} {mo} {sex} {aff} "
        + " ".join(f"{calls[pid][0, k] + 1}/{calls[pid][1, k] + 1}" for k in range(n_snps)) + "\n"
        for (pid, fa, mo, sex, aff), _ in people))  # fmt: skip
    (tmp_path / "m.dat").write_text("A PHENO\n" + "".join(f"M rs{k}\n" for k in range(n_snps)))
    (tmp_path / "m.map").write_text("".join(f"1 rs{k} {cm[k]}\n" for k in range(n_snps)))
    a, b = tmp_path / "a.tsv", tmp_path / "b.tsv"
    common = ["--preset", "dominant", "--disease-freq", "0.01", "--positions", "9,12.5,20", "-q"]
    r1 = run("linkage", "lod", "--fam", fam, "--vcf", vcf, *common, "-o", a)
    assert r1.code == 0, r1.err
    r2 = run("linkage", "lod", "--ped", ped, "--dat", tmp_path / "m.dat", "--map",
             tmp_path / "m.map", *common, "-o", b)  # fmt: skip
    assert r2.code == 0, r2.err
    assert a.read_text() == b.read_text()
