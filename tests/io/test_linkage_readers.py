"""The pedigree and cross readers refuse what would give a wrong answer, naming the
file, line and record, and say in ``notes`` what they decide for the user."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from seqem.errors import InputFormatError, ParameterError
from seqem.io.pedigree import (
    read_linkage,
    read_linkage_datafile,
    read_merlin,
    read_model,
)
from seqem.io.rqtl import read_cross
from seqem.linkage.data import TraitModel

PED = (
    "F1 1 0 0 1 2 1/2 1/1 2/3\nF1 2 0 0 2 1 3/4 1/2 1/1\nF1 3 1 2 1 2 1/3 1/2 2/1\n"
    "F1 4 1 2 2 2 2/4 1/1 3/1\nF1 5 1 2 1 1 1/4 1/2 2/1\nF1 6 1 2 2 2 2/3 1/1 2/1\n"
)
DAT = "A dis\nM m1\nM m2\nM m3\n"
MAP = "1 m1 10\n1 m2 20\n1 m3 30\n"
FREQ = "M m1\nF 0.25 0.25 0.25 0.25\nM m2\nF 0.5 0.5\nM m3\nF 0.3 0.3 0.4\n"
MODEL = "dis 0.01 0.01,0.9,0.9 dom\n"

# a LINKAGE datafile: trait, then markers a and b (2 and 3 alleles)
DATAFILE = """3 0 0 5
0 0.0 0.0 0
1 2 3
1 2 # dis
0.99 0.01
1
0.01 0.9 0.9
3 2 # a
0.5 0.5
3 3 # b
0.2 0.3 0.5
0 0
0.5 THETA
1 0.1 0.5
"""
PEDFILE = "1 1 0 0 1 2 1 2 1 3\n1 2 0 0 2 1 2 2 2 3\n1 3 1 2 1 2 1 2 1 2\n"


def merlin(tmp: Path, **texts: str):
    files = {"ped": PED, "dat": DAT, "map": MAP, "freq": FREQ, "model": MODEL}
    files.update(texts)
    paths = {}
    for ext, text in files.items():
        paths[ext] = tmp / f"x.{ext}"
        paths[ext].write_text(text)
    return [str(paths[e]) for e in ("ped", "dat", "map", "freq", "model")]


def test_traitmodel_refuses_nan_penetrance():
    with pytest.raises(ParameterError, match="penetrance nan"):
        TraitModel("dis", 0.01, np.array([[np.nan, 0.5, 0.5]]))
    with pytest.raises(ParameterError, match="disease allele frequency"):
        TraitModel("dis", np.nan, np.array([[0.1, 0.5, 0.5]]))


def test_models_are_matched_by_trait_name(tmp_path):
    ped = "".join(" ".join(x.split()[:6] + ["1"] + x.split()[6:]) + "\n" for x in PED.splitlines())
    files = merlin(tmp_path, ped=ped, dat="A dis\nA dis2\nM m1\nM m2\nM m3\n",
                   model="dis2 0.3 0.2,0.5,0.5\ndis 0.01 0.01,0.9,0.9\n")  # fmt: skip
    assert read_merlin(*files).trait.freq == 0.01
    assert read_merlin(*files, trait="dis2").trait.freq == 0.3
    models = read_model(files[4], ["dis", "dis2"])
    assert list(models) == ["dis2", "dis"]
    with pytest.raises(InputFormatError, match=r"x\.model:1: trait 'dis2' is not an affection"):
        read_model(files[4], ["dis"], where="x.dat")
    Path(files[4]).write_text("dis 0.01 0.01,0.9,0.9\n")
    with pytest.raises(InputFormatError, match=r"x\.model: no model for trait dis2"):
        read_merlin(*files, trait="dis2")
    Path(files[4]).write_text("dis 0.01 0.01,0.9,0.9\ndis 0.1 0.1,0.9,0.9\n")
    with pytest.raises(InputFormatError, match=r"x\.model:2: a second model for trait dis"):
        read_merlin(*files)


def test_frequency_file_gaps_are_noted(tmp_path):
    files = merlin(tmp_path, freq="M m1\nF 0.25 0.25 0.25 0.25\nM zz\nF 0.5 0.5\n")
    data = read_merlin(*files)
    assert any("no frequencies for marker m2" in n for n in data.notes)
    assert any("no frequencies for marker m3" in n for n in data.notes)
    assert any("1 marker(s) not in" in n and "zz" in n for n in data.notes)
    assert data.markers[0].freqs.tolist() == [0.25] * 4


@pytest.mark.parametrize(
    "ext,text,where,words",
    [
        ("freq", "", "x.freq", ["no marker"]),
        ("freq", "M m1\nF 0.5 0.5\nM m1\nF 0.5 0.5\n", "x.freq:3", ["m1", "lines 1 and 3"]),
        ("freq", "M m1\nA 1 0.5\nA 1 0.5\n", "x.freq:3", ["allele 1", "twice"]),
        ("freq", "M m1\nF 0.5 inf\n", "x.freq:2", ["'inf'"]),
        ("freq", "M m1\n", "x.freq:1", ["m1", "no allele frequencies"]),
        ("freq", "M m1\nF 0.5 0.1 0.1 0.1\n", "x.freq:1", ["sum to 0.8"]),
        ("freq", FREQ.replace("F 0.25 0.25 ", "F 0.5 0 "), "x.freq", ["allele 2", "frequency 0"]),
        ("dat", "A dis\nM m1\nM m2\nM m1\n", "x.dat:4", ["marker m1", "lines 2 and 4"]),
        ("map", "1 m1 10\n1 m2 20\n1 m1 30\n", "x.map:3", ["m1", "lines 1 and 3"]),
        ("map", "1 m1 10\n1 m2 20\nchrX m3 30\n", "x.map:3", ["m3", "chromosome chrX"]),
        ("map", "1 m1 10\n1 m2 2e6\n1 m3 3e6\n", "x.map:2", ["m2", "base pairs"]),
        ("model", "dis 0.01 0.01,0.9,1.5\n", "x.model:1", ["penetrance 1.5"]),
        ("model", "other 0.01 0.01,0.9,0.9\n", "x.model:1", ["'other'"]),
    ],
)
def test_merlin_errors_name_file_and_line(tmp_path, ext, text, where, words):
    files = merlin(tmp_path, **{ext: text})
    with pytest.raises(InputFormatError) as info:
        read_merlin(*files)
    msg = str(info.value)
    assert "\n" not in msg and f"{where}: " in msg, msg
    for w in words:
        assert w in msg, (w, msg)


def test_quantitative_values_must_be_numbers(tmp_path):
    ped = "".join(
        " ".join(x.split()[:6] + ["2.5"] + x.split()[6:]) + "\n" for x in PED.splitlines()
    )
    files = merlin(tmp_path, ped=ped, dat="A dis\nT q\nM m1\nM m2\nM m3\n")
    read_merlin(*files)
    Path(files[0]).write_text(
        ped.replace("2.5", "x", 1).replace("F1 2 0 0 2 1 2.5", "F1 2 0 0 2 1 -")
    )
    with pytest.raises(InputFormatError, match=r"x\.ped:2: family F1: person 2: trait q value '-'"):
        read_merlin(*files)


def test_linkage_datafile_checks(tmp_path):
    dat = tmp_path / "d.dat"
    dat.write_text(DATAFILE.replace("THETA", "0.1"))
    assert read_linkage_datafile(str(dat)).thetas.tolist() == [0.5, 0.1]
    dat.write_text(DATAFILE.replace("THETA", "nan"))
    with pytest.raises(InputFormatError, match=r"d\.dat:13: recombination fraction 'nan' "
                       r"between a and b"):  # fmt: skip
        read_linkage_datafile(str(dat))
    dat.write_text(DATAFILE.replace("THETA", "0.1").replace("# b", "# a"))
    with pytest.raises(InputFormatError, match=r"d\.dat:10: locus name a is used twice"):
        read_linkage_datafile(str(dat))
    dat.write_text(DATAFILE.replace("THETA", "0.1").replace("0.2 0.3 0.5", "0.2 0.3 nan"))
    with pytest.raises(InputFormatError, match=r"d\.dat:11: locus b: allele frequency nan"):
        read_linkage_datafile(str(dat))
    dat.write_text(DATAFILE.replace("THETA", "0.1").replace("0.2 0.3 0.5", "0.2 0.3 0.6"))
    with pytest.raises(InputFormatError, match=r"d\.dat:11: locus b: allele frequencies sum"):
        read_linkage_datafile(str(dat))
    dat.write_text(DATAFILE.replace("THETA", "0.1").replace("0.01 0.9 0.9", "nan 0.9 0.9"))
    with pytest.raises(InputFormatError, match=r"d\.dat:4: penetrance nan"):
        read_linkage_datafile(str(dat))
    dat.write_text(DATAFILE.replace("THETA", "0.1").replace("3 3 # b", "x 3 # b"))
    with pytest.raises(InputFormatError, match=r"d\.dat:10: locus 3: .*expected numbers"):
        read_linkage_datafile(str(dat))


def test_unlinked_markers_start_a_linkage_group(tmp_path):
    dat, ped = tmp_path / "d.dat", tmp_path / "p.ped"
    ped.write_text(PEDFILE)
    dat.write_text(DATAFILE.replace("THETA", "0.5"))
    data = read_linkage(str(ped), str(dat))
    assert [(m.chrom, m.cm) for m in data.markers] == [("1", 0.0), ("2", 0.0)]
    assert "between a and b: unlinked" in data.notes[0]
    dat.write_text(DATAFILE.replace("THETA", "0.1"))
    data = read_linkage(str(ped), str(dat))
    assert [m.chrom for m in data.markers] == ["1", "1"] and data.markers[1].cm > 11
    assert data.notes == []


def test_linkage_zero_frequency_of_a_carried_allele(tmp_path):
    dat, ped = tmp_path / "d.dat", tmp_path / "p.ped"
    ped.write_text(PEDFILE)
    dat.write_text(DATAFILE.replace("THETA", "0.1").replace("0.2 0.3 0.5", "0.5 0.5 0.0"))
    with pytest.raises(InputFormatError, match=r"d\.dat: marker b: allele 3 has frequency 0 "
                       r"but family 1: person 1 carries it"):  # fmt: skip
        read_linkage(str(ped), str(dat))


def test_cross_with_every_genotype_missing(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text("id,m1,m2\n,1,1\n,0,10\n1,-,NA\n2,,-\n")
    with pytest.raises(InputFormatError, match=r"c\.csv: every genotype of the 2 individuals"):
        read_cross(p)
