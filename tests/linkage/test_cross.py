"""Genetic maps of experimental crosses: R/qtl's est.map, calc.genoprob and est.rf
on the shared crosses (../shared/data/linkage), brute-force likelihoods, EM
monotonicity and the reader's errors.

The references were made with R/qtl 1.58 (README of the shared folder, section 4):
``est.map(cross, error.prob=1e-4 or 0, map.function="haldane", tol=1e-6,
maxit=10000)``, ``calc.genoprob(cross, step=0, error.prob=1e-4)`` and
``est.rf(cross)``, printed with 7-12 significant digits.
"""

from __future__ import annotations

import csv
import itertools
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqem.errors import InputFormatError
from seqem.io.rqtl import read_cross
from seqem.linkage.cross import (
    AA,
    AB,
    BB,
    MISSING,
    NOT_AA,
    NOT_BB,
    chain_loglik,
    em_iterate,
    estimate_map,
    genotype_probabilities,
    pairwise_rf,
)
from seqem.linkage.data import haldane

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "linkage"
CROSSES = {
    "hyper": SHARED / "rqtl_hyper" / "hyper.csv",
    "fake.bc": SHARED / "rqtl_fake_bc" / "fake.bc.csv",
}


def _table(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return [
            {k: v.strip() for k, v in row.items()} for row in csv.DictReader(fh, delimiter="\t")
        ]


_cache: dict[str, object] = {}


def _cross(name: str):
    path = CROSSES[name]
    if not path.is_file():
        pytest.skip(f"shared cross {path.name} not present (../shared/data/linkage is absent)")
    if name not in _cache:
        _cache[name] = read_cross(path)
    return _cache[name]


# ------------------------------------------------------------ R/qtl est.map


@pytest.mark.parametrize("name", list(CROSSES))
@pytest.mark.parametrize("err", [1e-4, 0.0])
def test_estimate_map_equals_rqtl(name, err):
    cross = _cross(name)
    ref = CROSSES[name].parent / "reference"
    tag = "" if err else "err0_"
    summary = {r["chr"]: r for r in _table(ref / f"{name}_estmap_{tag}summary.tsv")}
    positions = _table(ref / f"{name}_estmap_{tag}haldane.tsv")
    maps = estimate_map(cross, error_prob=err)
    assert [m.chrom for m in maps] == list(summary)
    worst_ll = worst_cm = 0.0
    for m in maps:
        assert m.converged
        # printed with 10 significant digits (%.7f of a 3-digit number)
        worst_ll = max(worst_ll, abs(m.loglik - float(summary[m.chrom]["loglik_ln"])))
        rows = [r for r in positions if r["chr"] == m.chrom]
        assert [r["marker"] for r in rows] == list(m.markers)
        cm = np.array([float(r["pos_estmap_cM"]) for r in rows])
        worst_cm = max(worst_cm, float(np.max(np.abs(m.cm - cm))))
        assert np.all(np.diff(m.history) >= -1e-9)
        assert m.loglik >= m.history[-1] - 1e-9
    assert worst_ll < 1e-4
    assert worst_cm < 1e-3


@pytest.mark.parametrize("name", list(CROSSES))
def test_genotype_probabilities_equal_rqtl(name):
    cross = _cross(name)
    rows = _table(CROSSES[name].parent / "reference" / f"{name}_genoprob_chr1_ind1-5.tsv")
    gp = genotype_probabilities(cross, "1", error_prob=1e-4)
    cols = list(rows[0])[2:]
    assert tuple(cols) == gp.genotypes
    for r in rows:
        i = int(r["ind"]) - 1
        j = gp.markers.index(r["pos"])
        want = np.array([float(r[c]) for c in cols])
        # printed with 10 significant digits
        np.testing.assert_allclose(gp.prob[i, j], want, rtol=2e-9, atol=1e-15)


@pytest.mark.parametrize("name", list(CROSSES))
def test_pairwise_rf_equals_rqtl(name):
    cross = _cross(name)
    rows = _table(CROSSES[name].parent / "reference" / f"{name}_estrf_chr1.tsv")
    est = pairwise_rf(cross, "1")
    for r in rows:
        i, j = est.markers.index(r["m1"]), est.markers.index(r["m2"])
        assert est.rf[i, j] == pytest.approx(float(r["rf"]), abs=1e-10)
        assert est.lod[i, j] == pytest.approx(float(r["lod"]), abs=1e-8)


def test_reader_layout():
    hyper = _cross("hyper")
    assert hyper.cross_type == "bc"
    assert hyper.alleles == ("B", "A")
    assert hyper.n_individuals == 250
    assert hyper.phenotype_names == ("bp", "sex")
    assert [c.name for c in hyper.chromosomes][-2:] == ["19", "X"]
    assert sum(len(c.markers) for c in hyper.chromosomes) == 174
    x = hyper.chromosome("X")
    assert x.is_x and set(np.unique(x.genotypes)) == {MISSING, AA, AB}
    fake = _cross("fake.bc")
    assert fake.cross_type == "bc" and fake.alleles == ("A", "B")
    assert fake.chromosome("1").markers[0] == "D1M430"


# ------------------------------------------------------------ R/qtl itself, intercrosses

_RQTL_SCRIPT = r"""
library(qtl)
for (nm in c("listeria", "fake.f2")) {
  data(list = nm); x <- get(nm)
  write.cross(x, format = "csv", filestem = file.path(out, nm))
  m <- est.map(x, error.prob = 1e-4, map.function = "haldane", tol = 1e-6, maxit = 10000)
  tab <- do.call(rbind, lapply(names(m), function(ch) data.frame(chr = ch,
    marker = names(m[[ch]]), cm = sprintf("%.10f", as.numeric(m[[ch]])),
    loglik = sprintf("%.10f", attr(m[[ch]], "loglik")))))
  write.table(tab, file.path(out, paste0(nm, "_estmap.tsv")), sep = "\t", quote = FALSE,
    row.names = FALSE)
  rf <- est.rf(subset(x, chr = "1"))$rf
  write.table(format(rf, digits = 12), file.path(out, paste0(nm, "_rf.tsv")), sep = "\t",
    quote = FALSE)
}
"""


def _have_rqtl() -> bool:
    if shutil.which("Rscript") is None:
        return False
    probe = subprocess.run(
        ["Rscript", "-e", "library(qtl)"], capture_output=True, text=True, check=False
    )
    return probe.returncode == 0


@pytest.mark.skipif(not _have_rqtl(), reason="Rscript with the R/qtl package (r-cran-qtl) absent")
def test_intercrosses_equal_rqtl(tmp_path):
    """R/qtl's own intercrosses, exported and estimated by R/qtl in the same run:
    listeria (partly informative codes 'not CC', an all-female X) and fake.f2
    (sex and cross direction pgm, X of males and both directions).  Printed
    with %.10f; est.rf's EM stops at a relative change of 1e-6."""
    script = f"out <- {str(tmp_path)!r}\n" + _RQTL_SCRIPT
    subprocess.run(["Rscript", "-e", script], check=True, capture_output=True)
    for nm in ("listeria", "fake.f2"):
        cross = read_cross(tmp_path / f"{nm}.csv")
        assert cross.cross_type == "f2"
        maps = {m.chrom: m for m in estimate_map(cross)}
        ref = _table(tmp_path / f"{nm}_estmap.tsv")
        assert {r["chr"] for r in ref} == set(maps)
        for r in ref:
            m = maps[r["chr"]]
            assert m.cm[m.markers.index(r["marker"])] == pytest.approx(float(r["cm"]), abs=1e-6)
            assert m.loglik == pytest.approx(float(r["loglik"]), abs=1e-6)
        rf = np.genfromtxt(tmp_path / f"{nm}_rf.tsv", skip_header=1)[:, 1:]
        est = pairwise_rf(cross, "1")
        upper = np.triu_indices(len(est.markers), 1)
        # R/qtl: the LOD scores above the diagonal, the fractions below
        np.testing.assert_allclose(est.rf[upper], rf.T[upper], atol=5e-6)
        np.testing.assert_allclose(est.lod[upper], rf[upper], atol=1e-8)


# ------------------------------------------------------------ brute force


def _emission(code: int, state: tuple[int, ...], f2: bool, e: float) -> float:
    """P(observed code | true genotype): written from the model's definition."""
    if code == MISSING:
        return 1.0
    if not f2:
        return 1.0 - e if code == (AA if state[0] == 0 else AB) else e
    n_b = sum(state)  # B alleles: 0 AA, 1 AB/BA, 2 BB
    true = (AA, AB, BB)[n_b]
    if code in (AA, AB, BB):
        return 1.0 - e if code == true else e / 2
    excluded = BB if code == NOT_BB else AA
    return e if true == excluded else 1.0 - e / 2


def _brute_loglik(geno: np.ndarray, rf: np.ndarray, f2: bool, e: float) -> float:
    """Sum over every path of true genotypes (each meiosis's origin at each marker)."""
    n_mei = 2 if f2 else 1
    n_mar = geno.shape[1]
    total = 0.0
    for g in geno:
        like = 0.0
        for path in itertools.product(itertools.product((0, 1), repeat=n_mei), repeat=n_mar):
            p = 0.5**n_mei
            for j in range(n_mar):
                p *= _emission(int(g[j]), path[j], f2, e)
                if j:
                    for k in range(n_mei):
                        p *= rf[j - 1] if path[j][k] != path[j - 1][k] else 1.0 - rf[j - 1]
            like += p
        total += math.log(like)
    return total


@pytest.mark.parametrize("f2", [False, True])
@pytest.mark.parametrize("e", [0.0, 1e-3, 0.07])
def test_likelihood_equals_brute_force(f2, e):
    rng = np.random.default_rng(61)
    top = NOT_AA if f2 else AB
    geno = rng.integers(0, top + 1, size=(6, 4)).astype(np.int8)
    rf = np.array([0.02, 0.31, 0.5])
    got = chain_loglik(geno, rf, "f2" if f2 else "bc", error_prob=e)
    assert got == pytest.approx(_brute_loglik(geno, rf, f2, e), abs=1e-10)


def test_x_of_backcross_is_a_two_state_chain():
    rng = np.random.default_rng(62)
    geno = rng.integers(0, 3, size=(5, 3)).astype(np.int8)
    rf = np.array([0.1, 0.25])
    got = chain_loglik(geno, rf, "f2", error_prob=0.01, is_x=True)
    assert got == pytest.approx(_brute_loglik(geno, rf, False, 0.01), abs=1e-10)


def test_intercross_pairwise_rf_maximises_the_likelihood():
    rng = np.random.default_rng(63)
    n = 40
    # simulate two linked markers at r = 0.2, then hide some calls
    a = rng.integers(0, 2, size=(n, 2))
    b = np.where(rng.random((n, 2)) < 0.2, 1 - a, a)
    code = np.array([AA, AB, BB])
    g = np.stack([code[a.sum(1)], code[b.sum(1)]], axis=1).astype(np.int8)
    g[rng.random(g.shape) < 0.15] = NOT_BB
    g[rng.random(g.shape) < 0.1] = MISSING

    from seqem.linkage.cross import Cross, CrossChromosome

    chrom = CrossChromosome("1", False, ("m1", "m2"), np.array([0.0, 20.0]), g)
    cross = Cross("f2", ("A", "B"), tuple(map(str, range(n))), (), np.empty((n, 0), str), (chrom,))
    est = pairwise_rf(cross, "1")
    typed = g[(g != MISSING).all(axis=1)]
    grid = np.linspace(1e-6, 1.0 - 1e-6, 10001)
    ll = np.array([chain_loglik(typed, np.array([r]), "f2", error_prob=0.0) for r in grid])
    assert est.rf[0, 1] == pytest.approx(grid[ll.argmax()], abs=2e-4)
    null = chain_loglik(typed, np.array([0.5]), "f2", error_prob=0.0)
    assert est.lod[0, 1] * math.log(10) >= ll.max() - null - 1e-9


# ------------------------------------------------------------ EM


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    f2=st.booleans(),
    n_ind=st.integers(1, 12),
    n_mar=st.integers(2, 6),
    e=st.sampled_from([0.0, 1e-4, 0.05]),
)
def test_em_never_decreases_the_likelihood(seed, f2, n_ind, n_mar, e):
    rng = np.random.default_rng(seed)
    top = NOT_AA if f2 else AB
    geno = rng.integers(0, top + 1, size=(n_ind, n_mar)).astype(np.int8)
    start = rng.uniform(1e-3, 0.499, size=n_mar - 1)
    ctype = "f2" if f2 else "bc"
    rf, n_iter, _, ll, history = em_iterate(
        geno, start, ctype, error_prob=e, tol=1e-12, max_iter=40
    )
    steps = np.append(history, ll)
    assert np.all(np.diff(steps) >= -1e-9 * (1.0 + np.abs(steps[1:])))
    assert history[0] == pytest.approx(chain_loglik(geno, start, ctype, error_prob=e), abs=1e-9)
    assert ll == pytest.approx(chain_loglik(geno, rf, ctype, error_prob=e), abs=1e-9)
    assert np.all((rf > 0) & (rf < 0.5))


def test_em_reaches_the_boundary_and_simulated_truth():
    """Simulated backcross: a zero interval is estimated near 0 (held at the
    tol/1000 floor), the others near the truth (binomial sd of r over 2000
    meioses is at most 0.011; 4 sd allowed)."""
    rng = np.random.default_rng(64)
    truth = np.array([0.0, 0.1, 0.3])
    n = 2000
    state = np.empty((n, 4), dtype=np.int8)
    state[:, 0] = rng.integers(0, 2, size=n)
    for j, r in enumerate(truth):
        state[:, j + 1] = np.where(rng.random(n) < r, 1 - state[:, j], state[:, j])
    geno = (state + 1).astype(np.int8)
    geno[rng.random(geno.shape) < 0.1] = MISSING
    rf, _, conv, _, _ = em_iterate(geno, haldane(np.full(3, 10.0)), "bc", error_prob=1e-4)
    assert conv
    assert rf[0] < 1e-6
    np.testing.assert_allclose(rf[1:], truth[1:], atol=0.045)


# ------------------------------------------------------------ reader errors

_GOOD = [
    "pheno,m1,m2,m3",
    ",1,1,1",
    ",0,10,20",
    "1.5,A,H,-",
    "2.5,H,H,A",
]


def _write(tmp_path: Path, lines: list[str]) -> Path:
    p = tmp_path / "cross.csv"
    p.write_text("\n".join(lines) + "\n")
    return p


def test_reader_small_file(tmp_path):
    c = read_cross(_write(tmp_path, _GOOD))
    assert c.cross_type == "bc"
    np.testing.assert_array_equal(c.chromosome("1").genotypes, [[1, 2, 0], [2, 2, 1]])
    c2 = read_cross(_write(tmp_path, _GOOD[:3] + ["1,A,B,D", "2,C,H,NA"]))
    assert c2.cross_type == "f2"
    np.testing.assert_array_equal(c2.chromosome("1").genotypes, [[1, 3, 4], [5, 2, 0]])
    assert read_cross(_write(tmp_path, _GOOD), cross_type="f2").cross_type == "f2"


@pytest.mark.parametrize(
    ("lines", "line", "words"),
    [
        (_GOOD[:4] + ["2.5,H,H"], 5, ["individual 2", "3 fields", "4"]),
        (_GOOD[:4] + ["2.5,H,Q,A"], 5, ["individual 2", "m2", "'Q'"]),
        (_GOOD[:2] + [",0,ten,20"] + _GOOD[3:], 3, ["m2", "'ten'", "not a number"]),
        (_GOOD[:2] + [",0,30,20"] + _GOOD[3:], 3, ["m3", "out of map order"]),
        (_GOOD[:4] + ["2.5,H,BB,A"], 4, ["individual 1", "'A'", "mixed", "'BB'"]),
        (["pheno,m1,m1,m3"] + _GOOD[1:], 1, ["m1", "twice"]),
        (["pheno,m1,m2,m3", ",1,1,1", "1.5,A,H,-"], 3, ["position", "pheno"]),
    ],
)
def test_reader_errors(tmp_path, lines, line, words):
    path = _write(tmp_path, lines)
    with pytest.raises(InputFormatError) as info:
        read_cross(path)
    msg = str(info.value)
    assert "\n" not in msg
    assert f"cross.csv:{line}" in msg
    for w in words:
        assert w in msg


def test_backcross_refuses_intercross_codes(tmp_path):
    path = _write(tmp_path, _GOOD[:4] + ["2.5,H,B,A"])
    with pytest.raises(InputFormatError, match=r"cross.csv:5: individual 2, marker m2.*'B'"):
        read_cross(path, cross_type="bc")


def test_intercross_x_uses_sex_and_direction(tmp_path):
    lines = [
        "sex,pgm,m1,m2,x1,x2",
        ",,1,1,X,X",
        ",,0,10,0,5",
        "female,0,AA,BB,AA,AB",
        "female,1,AB,not BB,BB,AB",
        "male,0,not AA,AA,AA,BB",
    ]
    c = read_cross(_write(tmp_path, lines))
    assert c.cross_type == "f2"
    np.testing.assert_array_equal(
        c.chromosome("1").genotypes, [[AA, BB], [AB, NOT_BB], [NOT_AA, AA]]
    )
    np.testing.assert_array_equal(c.chromosome("X").genotypes, [[AA, AB], [AA, AB], [AA, AB]])
    bad = lines[:5] + ["male,0,AA,AA,AB,BB"]
    with pytest.raises(InputFormatError, match=r"cross.csv:6: individual 3, marker x1: .*male"):
        read_cross(_write(tmp_path, bad))


def test_two_letter_codes_and_x(tmp_path):
    lines = [
        "id,m1,m2,x1,x2",
        ",1,1,X,X",
        ",0,10,0,5",
        "a,BB,BA,BB,AA",
        "b,BA,-,AA,BA",
    ]
    c = read_cross(_write(tmp_path, lines))
    assert c.cross_type == "bc" and c.alleles == ("B", "A") and c.ids == ("a", "b")
    np.testing.assert_array_equal(c.chromosome("1").genotypes, [[AA, AB], [AB, MISSING]])
    np.testing.assert_array_equal(c.chromosome("X").genotypes, [[AA, AB], [AB, AB]])
    assert c.genotype_names() == ("BB", "BA")
