"""Impossible data stop the analyses with the family, the marker and the file."""

from __future__ import annotations

import numpy as np
import pytest

from seqem.errors import InputFormatError
from seqem.io.pedigree import read_merlin
from seqem.linkage.data import TraitModel
from seqem.linkage.lander_green import multipoint, twopoint
from seqem.linkage.mapping import estimate_recombination
from seqem.linkage.npl import npl

PED = (
    "F1 1 0 0 1 2 1/2 1/1 2/3\nF1 2 0 0 2 1 3/4 1/2 1/1\nF1 3 1 2 1 2 1/3 1/2 2/1\n"
    "F1 4 1 2 2 2 2/4 1/1 3/1\nF1 5 1 2 1 1 1/4 1/2 2/1\nF1 6 1 2 2 2 2/3 1/1 2/1\n"
)
# the father is 1/2 at m1 and m3; children 3 and 4 both have his allele 1 at m1 but
# different alleles of his at m3: possible only with a recombination between them
COLOCATED = (
    "F1 1 0 0 1 2 1/2 1/1 1/2\nF1 2 0 0 2 1 3/3 1/2 3/3\nF1 3 1 2 1 2 1/3 1/2 1/3\n"
    "F1 4 1 2 2 2 1/3 1/1 2/3\nF1 5 1 2 1 1 0/0 1/2 0/0\nF1 6 1 2 2 2 0/0 1/1 0/0\n"
)
MODEL = TraitModel("dis", 0.01, np.array([[0.01, 0.9, 0.9]]))


def data_set(tmp_path, ped, map_text="1 m1 10\n1 m2 20\n1 m3 30\n"):
    files = {
        "x.ped": ped,
        "x.dat": "A dis\nM m1\nM m2\nM m3\n",
        "x.map": map_text,
        "x.freq": "M m1\nF 0.25 0.25 0.25 0.25\nM m2\nF 0.5 0.5\nM m3\nF 0.3 0.3 0.4\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return read_merlin(*(str(tmp_path / f"x.{e}") for e in ("ped", "dat", "map", "freq")))


def test_mendelian_error_names_family_marker_and_file(tmp_path):
    data = data_set(tmp_path, PED.replace("F1 3 1 2 1 2 1/3", "F1 3 1 2 1 2 4/4"))
    want = r"x\.ped: family F1, marker m1: the genotypes are inconsistent with the pedigree"
    with pytest.raises(InputFormatError, match=want):
        multipoint(data, np.array([15.0]), model=MODEL, n_threads=1)
    with pytest.raises(InputFormatError, match=want):
        npl(data, np.array([15.0]), n_threads=1)
    with pytest.raises(InputFormatError, match=want):
        twopoint(data, "m1", np.array([0.1]), model=MODEL, n_threads=1)
    with pytest.raises(InputFormatError, match=want):
        estimate_recombination(data, ["m1", "m2"], [0.1], n_threads=1)
    # the other markers alone are fine
    assert multipoint(data, np.array([25.0]), model=MODEL, markers=[1, 2]).lod.shape == (1, 1)


def test_colocated_markers_that_need_a_recombination(tmp_path):
    data = data_set(tmp_path, COLOCATED, "1 m1 20\n1 m2 10\n1 m3 20\n")
    want = r"x\.ped: family F1: markers m1, m3 at 20 cM fit no inheritance vector together"
    with pytest.raises(InputFormatError, match=want):
        multipoint(data, np.array([5.0, 15.0, 25.0]), model=MODEL, n_threads=1)
    with pytest.raises(InputFormatError, match=want):
        npl(data, np.array([5.0]), n_threads=1)
    # 1 cM apart they are fine
    data = data_set(tmp_path, COLOCATED, "1 m1 20\n1 m2 10\n1 m3 21\n")
    assert np.all(np.isfinite(multipoint(data, np.array([15.0]), model=MODEL).lod))


def test_impossible_statuses_name_the_penetrances(tmp_path):
    data = data_set(tmp_path, PED)
    model = TraitModel("dis", 0.01, np.array([[0.0, 0.0, 0.0]]))
    with pytest.raises(InputFormatError, match=r"x\.ped: family F1: the affection statuses "
                       r"are impossible under the model \(penetrances 0,0,0\)"):  # fmt: skip
        multipoint(data, np.array([15.0]), model=model)
    with pytest.raises(InputFormatError, match="penetrances 0,0,0"):
        twopoint(data, "m2", np.array([0.1]), model=model)
