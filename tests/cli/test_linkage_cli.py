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


# -- bad input found by an audit: one line, the right culprit, no output -----

# six persons of one family, three markers (m1 four alleles, m2 two, m3 three)
SMALL = {
    "ok.ped": "F1 1 0 0 1 2 1/2 1/1 2/3\nF1 2 0 0 2 1 3/4 1/2 1/1\nF1 3 1 2 1 2 1/3 1/2 2/1\n"
    "F1 4 1 2 2 2 2/4 1/1 3/1\nF1 5 1 2 1 1 1/4 1/2 2/1\nF1 6 1 2 2 2 2/3 1/1 2/1\n",
    "ok.dat": "A dis\nM m1\nM m2\nM m3\n",
    "ok.map": "1 m1 10\n1 m2 20\n1 m3 30\n",
    "ok.freq": "M m1\nF 0.25 0.25 0.25 0.25\nM m2\nF 0.5 0.5\nM m3\nF 0.3 0.3 0.4\n",
    "ok.model": "dis 0.01 0.01,0.9,0.9 dom\n",
}
# the father 1/2 at m1 and m3, both children receive his allele 1 at m1 but different
# alleles at m3: impossible when m1 and m3 share a position
COLOCATED_PED = (
    "F1 1 0 0 1 2 1/2 1/1 1/2\nF1 2 0 0 2 1 3/3 1/2 3/3\nF1 3 1 2 1 2 1/3 1/2 1/3\n"
    "F1 4 1 2 2 2 1/3 1/1 2/3\nF1 5 1 2 1 1 0/0 1/2 0/0\nF1 6 1 2 2 2 0/0 1/1 0/0\n"
)
VCF_HEADER = (
    "##fileformat=VCFv4.2\n##contig=<ID=1>\n##contig=<ID=X>\n"
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t1\t2\t3\t4\t99\n"
    "1\t1000000\trs1\tA\tG\t.\tPASS\t.\tGT\t0/1\t0/0\t0/1\t0/0\t1/1\n"
    "1\t5000000\trs2\tA\tG\t.\tPASS\t.\tGT\t0/1\t1/1\t1/1\t0/1\t0/0\n"
)
MERLIN_SET = "--ped {d}/ok.ped --dat {d}/ok.dat --map {d}/ok.map --freq {d}/ok.freq"
FAM_SET = "--fam {d}/ok.fam --vcf {d}/ok.vcf"


def small_set(tmp: Path, **files: str) -> Path:
    """The six-person data set in ``tmp`` (``name_ext=text`` replaces or adds a file)."""
    from .conftest import DATA

    texts = dict(SMALL)
    texts["ok.fam"] = "".join(" ".join(line.split()[:6]) + "\n"
                              for line in SMALL["ok.ped"].splitlines())  # fmt: skip
    texts["ok.vcf"] = VCF_HEADER
    lines = (DATA / "example_pedigree_linkage.dat").read_text().splitlines()
    texts["ln.dat"] = "\n".join(lines[:-2] + [lines[-2].replace(" 0.0739281055 ", " nan ", 1),
                                              lines[-1]]) + "\n"  # fmt: skip
    texts["ldup.dat"] = "\n".join(lines).replace("# D1S02", "# D1S01") + "\n"
    # the fractions: disease-D1S01, D1S01-D1S02, D1S02-D1S03 (unlinked here), ...
    texts["lunlinked.dat"] = "\n".join(lines[:-2] + [
        lines[-2].replace(" 0.0739281055 0.0739281055 ", " 0.0739281055 0.5 ", 1), lines[-1]
    ]) + "\n"  # fmt: skip
    rows = (DATA / "example_cross.csv").read_text().splitlines()
    cells = [row.split(",") for row in rows]
    markers = [k for k, c in enumerate(cells[1]) if c]
    texts["missing.csv"] = "\n".join(
        rows[:3] + [",".join("-" if k in markers else c for k, c in enumerate(row))
                    for row in cells[3:]]) + "\n"  # fmt: skip
    texts["missing1.csv"] = "\n".join(
        rows[:3] + [",".join("-" if k == markers[2] else c for k, c in enumerate(row))
                    for row in cells[3:]]) + "\n"  # fmt: skip
    # a LINKAGE pair whose trait has two liability classes
    texts["lc.dat"] = (
        "2 0 0 5\n0 0.0 0.0 0\n1 2\n1 2 # dis\n0.99 0.01\n2\n0.01 0.9 0.9\n0.05 0.5 0.5\n"
        "3 2 # a\n0.5 0.5\n0 0\n0.1\n1 0.1 0.5\n"
    )
    texts["lc.ped"] = "1 1 0 0 1 2 1 1 2\n1 2 0 0 2 1 2 2 2\n1 3 1 2 1 2 2 1 2\n"
    for name, text in files.items():
        texts[name.replace("_", ".")] = text
    for name, text in texts.items():
        (tmp / name).write_text(text)
    return tmp


def with_column(value: str) -> str:
    """The six persons with one more field after the affection status."""
    return "".join(" ".join(line.split()[:6] + [value] + line.split()[6:]) + "\n"
                   for line in SMALL["ok.ped"].splitlines())  # fmt: skip


def argv(template: str, d: Path) -> list[str]:
    return template.format(d=d, data=Path(__file__).resolve().parents[2] / "data").split()


BAD_INPUT = [
    # (id, files replaced, command, words the one-line message holds)
    (
        "lod-no-map",
        {},
        "lod --ped {d}/ok.ped --dat {d}/ok.dat --model {d}/ok.model",
        ["need the markers' positions", "--map", "--twopoint"],
    ),
    ("npl-no-map", {}, "npl --ped {d}/ok.ped --dat {d}/ok.dat", ["--map"]),
    (
        "model-unknown-trait",
        {"ok_model": "other 0.01 0.01,0.9,0.9 dom\n"},
        "lod " + MERLIN_SET + " --model {d}/ok.model",
        ["ok.model:1", "'other'", "ok.dat", "dis"],
    ),
    (
        "model-twice",
        {"ok_model": "dis 0.01 0.01,0.9,0.9 a\ndis 0.2 0.5,0.5,0.5 b\n"},
        "lod " + MERLIN_SET + " --model {d}/ok.model",
        ["ok.model:2", "second model", "dis"],
    ),
    (
        "model-for-other-trait",
        {"ok_dat": "A dis\nA dis2\nM m1\nM m2\nM m3\n", "ok_ped": with_column("1")},
        "lod " + MERLIN_SET + " --model {d}/ok.model --trait dis2",
        ["ok.model", "dis2"],
    ),
    (
        "model-nan-penetrance",
        {"ok_model": "dis 0.01 nan,0.9,0.9 dom\n"},
        "lod " + MERLIN_SET + " --model {d}/ok.model",
        ["ok.model:1", "penetrance nan"],
    ),
    (
        "freq-empty",
        {"ok_freq": ""},
        "lod " + MERLIN_SET + " --model {d}/ok.model",
        ["ok.freq", "no marker"],
    ),
    (
        "freq-marker-twice",
        {"ok_freq": "M m1\nF 0.5 0.5\nM m1\nF 0.5 0.5\n"},
        "lod " + MERLIN_SET + " --model {d}/ok.model",
        ["ok.freq:3", "m1", "twice"],
    ),
    (
        "freq-allele-twice",
        {"ok_freq": "M m1\nA 1 0.5\nA 1 0.5\n"},
        "lod " + MERLIN_SET + " --model {d}/ok.model",
        ["ok.freq:3", "allele 1", "twice"],
    ),
    (
        "freq-nan",
        {"ok_freq": "M m1\nF nan 0.25 0.25 0.5\n"},
        "lod " + MERLIN_SET + " --model {d}/ok.model",
        ["ok.freq:2", "'nan'"],
    ),
    (
        "freq-zero-observed",
        {"ok_freq": SMALL["ok.freq"].replace("F 0.25 0.25 ", "F 0.5 0 ")},
        "lod " + MERLIN_SET + " --model {d}/ok.model",
        ["ok.freq", "marker m1", "allele 2 has frequency 0", "person 1"],
    ),
    (
        "dat-marker-twice",
        {"ok_dat": "A dis\nM m1\nM m2\nM m1\n"},
        "lod " + MERLIN_SET + " --model {d}/ok.model",
        ["ok.dat:4", "marker m1", "twice"],
    ),
    (
        "ped-trait-not-a-number",
        {"ok_dat": "A dis\nT q\nM m1\nM m2\nM m3\n", "ok_ped": with_column("abc")},
        "lod " + MERLIN_SET + " --model {d}/ok.model",
        ["ok.ped:1", "trait q", "'abc'"],
    ),
    (
        "map-x",
        {"ok_map": "1 m1 10\n1 m2 20\nX m3 30\n"},
        "lod " + MERLIN_SET + " --model {d}/ok.model",
        ["ok.map:3", "chromosome X", "autosomes"],
    ),
    (
        "map-in-bp",
        {"ok_map": "1 m1 1000000\n1 m2 2000000\n1 m3 3000000\n"},
        "lod " + MERLIN_SET + " --model {d}/ok.model",
        ["ok.map:1", "base pairs"],
    ),
    (
        "lod-mendelian",
        {"ok_ped": SMALL["ok.ped"].replace("F1 3 1 2 1 2 1/3", "F1 3 1 2 1 2 4/4")},
        "lod " + MERLIN_SET + " --model {d}/ok.model",
        ["ok.ped", "family F1, marker m1", "Mendelian", "seqem linkage check"],
    ),
    (
        "npl-mendelian",
        {"ok_ped": SMALL["ok.ped"].replace("F1 3 1 2 1 2 1/3", "F1 3 1 2 1 2 4/4")},
        "npl " + MERLIN_SET,
        ["ok.ped", "family F1, marker m1", "Mendelian"],
    ),
    (
        "twopoint-mendelian",
        {"ok_ped": SMALL["ok.ped"].replace("F1 3 1 2 1 2 1/3", "F1 3 1 2 1 2 4/4")},
        "lod " + MERLIN_SET + " --model {d}/ok.model --twopoint 0.1",
        ["ok.ped", "family F1, marker m1", "Mendelian"],
    ),
    (
        "colocated-markers",
        {"ok_ped": COLOCATED_PED, "ok_map": "1 m1 20\n1 m2 10\n1 m3 20\n"},
        "lod " + MERLIN_SET + " --model {d}/ok.model",
        ["ok.ped", "markers m1, m3 at 20 cM"],
    ),
    (
        "linkage-nan-theta",
        {},
        "lod --linkage-ped {data}/example_pedigree_linkage.ped --linkage-dat {d}/ln.dat",
        ["ln.dat:", "recombination fraction 'nan'", "D1S01 and D1S02"],
    ),
    (
        "linkage-duplicate-locus",
        {},
        "lod --linkage-ped {data}/example_pedigree_linkage.ped --linkage-dat {d}/ldup.dat",
        ["ldup.dat:", "D1S01", "twice"],
    ),
    (
        "preset-with-liability-classes",
        {},
        "lod --linkage-ped {d}/lc.ped --linkage-dat {d}/lc.dat --preset dominant --twopoint 0.1",
        ["lc.ped", "--preset", "classes up to 2"],
    ),
    (
        "linkage-other-trait",
        {},
        "lod --linkage-ped {d}/lc.ped --linkage-dat {d}/lc.dat --trait other --twopoint 0.1",
        ["--trait other", "lc.dat", "(dis)"],
    ),
    ("cross-all-missing", {}, "map --cross {d}/missing.csv", ["missing.csv", "every genotype"]),
    (
        "cross-marker-missing",
        {},
        "map --cross {d}/missing1.csv",
        ["missing1.csv", "C1M03", "no typed individual"],
    ),
    (
        "vcf-x",
        {"ok_vcf": VCF_HEADER + "X\t9000000\trs3\tA\tG\t.\tPASS\t.\tGT\t0/1\t1/1\t1/1\t0/1\t0/0\n"},
        "lod " + FAM_SET + " --preset dominant",
        ["ok.vcf", "rs3", "chromosome X"],
    ),
    (
        "vcf-cm-per-mb-too-large",
        {},
        "lod " + FAM_SET + " --preset dominant --cm-per-mb 1000",
        ["ok.vcf", "rs2", "--cm-per-mb"],
    ),
    ("fam-freq", {}, "lod " + FAM_SET + " --preset dominant --freq {d}/ok.freq", ["--freq"]),
    (
        "fam-two-models",
        {"ok_model": "a 0.01 0.01,0.9,0.9\nb 0.01 0.01,0.9,0.9\n"},
        "lod " + FAM_SET + " --model {d}/ok.model",
        ["ok.model", "2 models", "PHENO"],
    ),
]


@pytest.mark.parametrize(
    "files,command,words", [c[1:] for c in BAD_INPUT], ids=[c[0] for c in BAD_INPUT]
)
def test_bad_input_is_one_line_naming_the_culprit(run, tmp_path, files, command, words):
    d = small_set(tmp_path, **files)
    out = tmp_path / "out.tsv"
    result = run("linkage", *argv(command, d), "-o", out, "-q")
    assert result.code == 1, result.err
    assert "Traceback" not in result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("seqem: error: "), result.err
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert not out.exists()


BAD_OPTIONS = [
    ("lod", "--step nan", "--step"),
    ("lod", "--step 0", "--step"),
    ("lod", "--flank nan", "--flank"),
    ("lod", "--flank -5", "--flank"),
    ("npl", "--flank nan", "--flank"),
    ("npl", "--step -1", "--step"),
    ("npl", "--cm-per-mb nan", "--cm-per-mb"),
    ("npl", "--cm-per-mb -1", "--cm-per-mb"),
    ("npl", "--cm-per-mb 0", "--cm-per-mb"),
    ("lod", "--twopoint=", "--twopoint"),
    ("lod", "--twopoint nan", "--twopoint"),
    ("lod", "--twopoint 0.1,,0.2", "--twopoint"),
    ("lod", "--twopoint 0.6", "--twopoint"),
    ("npl", "--positions 5,nan", "--positions"),
    ("npl", "--positions=inf", "--positions"),
    ("lod", "--penetrance nan,0.5,0.5", "--penetrance"),
    ("lod", "--penetrance 0.1,0.5", "--penetrance"),
    ("lod", "--penetrance 0.1,0.5,1.5", "--penetrance"),
    ("lod", "--disease-freq nan", "--disease-freq"),
    ("lod", "--disease-freq 1", "--disease-freq"),
    ("map", "--error-prob nan", "--error-prob"),
    ("map", "--error-prob 1", "--error-prob"),
    ("map", "--tol -1", "--tol"),
    ("map", "--tol nan", "--tol"),
]


@pytest.mark.parametrize("verb,option,name", BAD_OPTIONS)
def test_bad_option_values_are_usage_errors(run, tmp_path, verb, option, name):
    d = small_set(tmp_path)
    result = run("linkage", verb, *argv(MERLIN_SET, d), *option.split(), "-o", tmp_path / "x")
    assert result.code == 2
    assert f"argument {name}" in result.err and "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_frequency_gaps_are_logged(run, tmp_path):
    """As in MERLIN, a marker missing from the .freq gets estimated frequencies: said once."""
    freq = "M m1\nF 0.25 0.25 0.25 0.25\nM m3\nF 0.3 0.3 0.4\nM m9\nF 0.5 0.5\n"
    d = small_set(tmp_path, ok_freq=freq)
    out, rep = tmp_path / "lod.tsv", tmp_path / "r.json"
    result = run("linkage", "lod", *argv(MERLIN_SET, d), "--model", d / "ok.model", "-o", out,
                 "--report", rep)  # fmt: skip
    assert result.code == 0, result.err
    assert "ok.freq: no frequencies for marker m2: counted in the typed founders" in result.err
    assert "ok.freq: 1 marker(s) not in" in result.err and "m9" in result.err
    assert "m2" in rep.read_text()


def test_model_is_matched_by_trait_name(run, tmp_path):
    """Two traits, a model for each: --trait picks its own model, not the first line."""
    ped = with_column("1")
    model = "dis2 0.3 0.2,0.5,0.5 other\ndis 0.01 0.01,0.9,0.9 dom\n"
    d = small_set(tmp_path, ok_dat="A dis\nA dis2\nM m1\nM m2\nM m3\n", ok_ped=ped,
                  ok_model=model)  # fmt: skip
    a, b = tmp_path / "a.tsv", tmp_path / "b.tsv"
    common = [*argv(MERLIN_SET, d), "--positions", "15", "-q"]
    assert run("linkage", "lod", *common, "--model", d / "ok.model", "-o", a).code == 0
    r = run("linkage", "lod", *common, "--penetrance", "0.01,0.9,0.9", "--disease-freq", "0.01",
            "-o", b)  # fmt: skip
    assert r.code == 0, r.err
    assert a.read_text() == b.read_text()


def test_map_without_a_map_says_what_it_assumes(run, tmp_path):
    d = small_set(tmp_path)
    out = tmp_path / "map.tsv"
    result = run("linkage", "map", "--ped", d / "ok.ped", "--dat", d / "ok.dat", "-o", out)
    assert result.code == 0, result.err
    assert "no --map: the markers are taken as one chromosome (1) in the order of" in result.err
    assert [r.split("\t")[:2] for r in out.read_text().splitlines()[1:]] == [
        ["1", "m1"], ["1", "m2"], ["1", "m3"]
    ]  # fmt: skip


def test_twopoint_needs_no_map(run, tmp_path):
    d = small_set(tmp_path)
    out = tmp_path / "tp.tsv"
    result = run("linkage", "lod", "--ped", d / "ok.ped", "--dat", d / "ok.dat", "--model",
                 d / "ok.model", "--twopoint", "0,0.5", "-o", out, "-q")  # fmt: skip
    assert result.code == 0, result.err
    assert len(out.read_text().splitlines()) == 1 + 2 * 3


def test_vcf_samples_that_partly_match_are_counted(run, tmp_path):
    d = small_set(tmp_path)
    result = run("linkage", "lod", *argv(FAM_SET, d), "--preset", "dominant", "-o",
                 tmp_path / "lod.tsv")  # fmt: skip
    assert result.code == 0, result.err
    line = next(x for x in result.err.splitlines() if "no VCF sample" in x)
    assert "2 of 6 persons" in line and "F1:5, F1:6" in line
    assert "1 of 5 VCF samples are not in the pedigree (99)" in line


def test_unlinked_markers_of_a_linkage_datafile_are_two_groups(run, tmp_path):
    """A fraction of 1/2 between two markers: the rest is a second linkage group."""
    from .conftest import DATA

    d = small_set(tmp_path)
    out = tmp_path / "lod.tsv"
    result = run("linkage", "lod", "--linkage-ped", DATA / "example_pedigree_linkage.ped",
                 "--linkage-dat", d / "lunlinked.dat", "--step", "5", "-o", out)  # fmt: skip
    assert result.code == 0, result.err
    assert "between D1S02 and D1S03: unlinked; D1S03 starts linkage group 2" in result.err
    rows = [line.split("\t") for line in out.read_text().splitlines()[1:]]
    assert [r[1] for r in rows if r[0] == "1"] == ["0", "5"]  # D1S01 and D1S02, 8 cM apart
    assert [r[1] for r in rows if r[0] == "2"][:2] == ["0", "5"]
    assert all(np.isfinite(float(r[2])) for r in rows)
