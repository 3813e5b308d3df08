"""Building profile HMMs from alignments, checked by hand and against hmmbuild."""

from __future__ import annotations

import gzip
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from seqem.errors import AlphabetError, InputFormatError
from seqem.io import hmmer
from seqem.io.msa import GAP, MISSING, read_msa, read_msas
from seqem.profile.build import (
    blosum_weights,
    build_from_msa,
    count_alignment,
    identity_clusters,
    mark_fragments,
    mean_match_relative_entropy,
    pb_weights,
    relative_entropy_target,
    weighting_columns,
)
from seqem.profile.model import AMINO, DD, DM, DNA, II, IM, MD, MI, MM

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data" / "profile"
TUTORIAL = SHARED / "tutorial"
needs_data = pytest.mark.skipif(
    not (TUTORIAL / "models").is_dir(),
    reason=f"profile reference data not found at {SHARED} (shared data folder absent)",
)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _dna(rows: list[str]) -> np.ndarray:
    table = {"A": 0, "C": 1, "G": 2, "T": 3, "-": GAP, "~": MISSING}
    return np.array([[table[c] for c in row] for row in rows], dtype=np.uint8)


# ---------------------------------------------------------------- weights


def test_pb_weights_by_hand() -> None:
    codes = _dna(["ACGT", "ACGA", "AT-A"])
    # column by column, 1 / (distinct residues r x copies s of the row's residue):
    #   col 1: A A A (r=1,s=3)  col 2: C C T (r=2)  col 3: G G - (r=1,s=2)  col 4: T A A (r=2)
    raw = [
        (Fraction(1, 3) + Fraction(1, 4) + Fraction(1, 2) + Fraction(1, 2)) / 4,
        (Fraction(1, 3) + Fraction(1, 4) + Fraction(1, 2) + Fraction(1, 4)) / 4,
        (Fraction(1, 3) + Fraction(1, 2) + Fraction(1, 4)) / 3,  # 3 residues
    ]
    expected = [float(w * 3 / sum(raw)) for w in raw]
    np.testing.assert_allclose(pb_weights(codes, DNA), expected, rtol=1e-14)
    # restricted to columns 1, 2 and 4
    cols = np.array([True, True, False, True])
    raw = [
        (Fraction(1, 3) + Fraction(1, 4) + Fraction(1, 2)) / 3,
        (Fraction(1, 3) + Fraction(1, 4) + Fraction(1, 4)) / 3,
        (Fraction(1, 3) + Fraction(1, 2) + Fraction(1, 4)) / 3,
    ]
    expected = [float(w * 3 / sum(raw)) for w in raw]
    np.testing.assert_allclose(pb_weights(codes, DNA, cols), expected, rtol=1e-14)
    assert pb_weights(codes[:1], DNA).tolist() == [1.0]


def test_weighting_columns_ignore_fragment_end_gaps() -> None:
    # row 3 spans 2 of 6 columns (< ceil(0.5 * 6)): its end gaps do not count
    codes = _dna(["ACGTAC", "AC-TAC", "--GT--", "A--TA-"])
    cols = weighting_columns(codes, DNA, symfrac=0.5, fragthresh=0.5)
    # gap fractions (the fragment's end gaps left out): 0, 1/3, 2/4, 0, 0, 1/3;
    # counting them would give 2/4 in columns 2 and 6 and drop those columns
    assert cols.tolist() == [True, True, False, True, True, True]


def test_mark_fragments_uses_residue_count() -> None:
    codes = _dna(["ACGTAC", "--GT--", "A----C"])
    marked = mark_fragments(codes, DNA, 0.5)
    assert marked[1].tolist() == [MISSING, MISSING, 2, 3, MISSING, MISSING]
    # 2 residues <= 3: a fragment, but its gaps are internal
    assert marked[2].tolist() == codes[2].tolist()
    assert marked[0].tolist() == codes[0].tolist()


# ---------------------------------------------------------------- counting


def test_counts_with_chatter_doctored_by_hand() -> None:
    # columns: match, insert, match
    codes = _dna(["ACG", "-CG", "A-G", "AC-"])
    is_match = np.array([True, False, True])
    mat, ins, t = count_alignment(codes, np.ones(4), is_match, DNA)
    # row 2: D1 I1 -> M1 (emits C); row 4: I1 D2 -> M2 (emits C)
    np.testing.assert_allclose(mat[1], [3, 1, 0, 0])
    np.testing.assert_allclose(mat[2], [0, 1, 3, 0])
    np.testing.assert_allclose(ins[1], [0, 1, 0, 0])
    np.testing.assert_allclose(ins[[0, 2]], 0)
    expected = np.zeros((3, 7))
    expected[0, MM] = 4
    expected[1, MM], expected[1, MI], expected[1, IM] = 3, 1, 1
    expected[2, MM] = 4  # M2 -> E
    np.testing.assert_allclose(t, expected)


def test_counts_of_a_fragment_stop_at_its_last_match() -> None:
    codes = mark_fragments(_dna(["ACGTAC", "ACGTAC", "--GT--"]), DNA, 0.5)
    mat, _, t = count_alignment(codes, np.ones(3), np.ones(6, dtype=bool), DNA)
    # the fragment is counted from M3 to M4: M3's emission and M3->M4 only (as hmmbuild)
    np.testing.assert_allclose(mat[1:].sum(axis=1), [2, 2, 3, 2, 2, 2])
    np.testing.assert_allclose(t[:, MM], [2, 2, 2, 3, 2, 2, 2])
    assert t[:, [MI, MD, IM, II, DM, DD]].sum() == 0


def test_counts_of_deletes_and_end_inserts() -> None:
    # columns: insert, match, match, insert (no fragment marking here)
    codes = _dna(["AAAA", "-A-A", "--A-"])
    is_match = np.array([False, True, True, False])
    mat, ins, t = count_alignment(codes, np.ones(3), is_match, DNA)
    # row 1: B I0 M1 M2 I2 E; row 2: B M1 D2 I2 E, doctored to B M1 M2 E; row 3: B D1 M2 E
    np.testing.assert_allclose(ins[0], [1, 0, 0, 0])
    np.testing.assert_allclose(ins[2], [1, 0, 0, 0])
    np.testing.assert_allclose(mat[1:].sum(axis=1), [2, 3])
    expected = np.zeros((3, 7))
    expected[0, [MM, MI, MD, IM]] = 1
    expected[1, [MM, DM]] = 2, 1
    expected[2, [MM, MI, IM]] = 2, 1, 1
    np.testing.assert_allclose(t, expected)


def test_entropy_target_rule() -> None:
    # esigma bits over the model plus log2 of the number of local alignments M (M + 1) / 2
    assert relative_entropy_target(80, 0.62, 45.0) == pytest.approx((45 + np.log2(3240)) / 80)
    assert relative_entropy_target(259, 0.59, 45.0) == 0.59


def test_build_small_model_is_valid(tmp_path: Path) -> None:
    path = _write(tmp_path, "tiny.afa", ">a\nMKV-LA\n>b\nMRVQLA\n>c\nMKI-LS\n")
    hmm = build_from_msa(read_msa(path), name="tiny")
    hmm.validate()
    assert hmm.M == 5 and hmm.name == "tiny" and hmm.nseq == 3
    assert hmm.map.tolist() == [1, 2, 3, 5, 6]
    assert hmm.consensus is not None and len(hmm.consensus) == 5
    assert hmm.effn is not None and 0 < hmm.effn <= 3
    re = mean_match_relative_entropy(hmm.match, np.asarray(AMINO.background))
    assert hmm.meta["re_per_position"] == pytest.approx(re)


# ---------------------------------------------------------------- against hmmbuild

# `hmmbuild --cpu 0 X.hmm X.sto` (HMMER 3.3.2); summary line: mlen, eff_nseq (%.2f), re/pos (%.3f)
HMMBUILD = [
    ("globins4", 149, 0.96, 0.589),
    ("fn3", 85, 12.20, 0.669),
    ("Pkinase", 259, 2.57, 0.590),
    ("MADE1", 80, 4.23, 0.708),
]


@needs_data
@pytest.mark.parametrize(("family", "mlen", "eff_nseq", "re_pos"), HMMBUILD)
def test_matches_hmmbuild(family: str, mlen: int, eff_nseq: float, re_pos: float) -> None:
    ref = hmmer.read_hmmer(TUTORIAL / "models" / f"{family}.hmm")[0]
    msa = read_msa(TUTORIAL / f"{family}.sto")
    hmm = build_from_msa(msa, name=family)
    assert hmm.M == mlen == ref.M
    assert hmm.effn == pytest.approx(eff_nseq, abs=0.005)  # printed with %.2f
    assert hmm.effn == pytest.approx(ref.effn, abs=1e-5)  # EFFN line, %f
    assert hmm.meta["re_per_position"] == pytest.approx(re_pos, abs=0.0006)  # printed with %.3f
    assert hmm.nseq == ref.nseq
    np.testing.assert_array_equal(hmm.map, ref.map)
    assert hmm.consensus == ref.consensus
    if ref.rf is not None:
        assert hmm.rf == ref.rf
    # the file holds -ln p with 5 decimals (relative error <= 5e-6) and HMMER computes in
    # single precision: 2e-5 absolute leaves room for both; measured max 5e-6
    np.testing.assert_allclose(hmm.match, ref.match, atol=2e-5)
    np.testing.assert_allclose(hmm.insert, ref.insert, atol=2e-5)
    np.testing.assert_allclose(hmm.transitions, ref.transitions, atol=2e-5)
    np.testing.assert_allclose(hmm.compo, ref.compo, atol=2e-5)


# bench/ models: `hmmbuild --cpu 0 M.hmm train.sto` and hmmbuild on the mafft / clustalo
# aligned FASTA of the same training sequences (bench/reference/FAMILY/*.hmm)
BENCH = [
    ("fn3", "hmmbuild", "fn3/train.sto"),
    ("fn3", "mafft", "reference/fn3/train.mafft.afa"),
    ("fn3", "clustalo", "reference/fn3/train.clustalo.afa"),
    ("Pkinase", "hmmbuild", "Pkinase/train.sto"),
    ("Pkinase", "mafft", "reference/Pkinase/train.mafft.afa"),
    ("Pkinase", "clustalo", "reference/Pkinase/train.clustalo.afa"),
    ("globin", "mafft", "reference/globin/train.mafft.afa"),
    ("globin", "clustalo", "reference/globin/train.clustalo.afa"),
]


@needs_data
@pytest.mark.parametrize(("family", "route", "alignment"), BENCH)
def test_matches_hmmbuild_on_bench_alignments(family: str, route: str, alignment: str) -> None:
    bench = SHARED / "bench"
    ref = hmmer.read_hmmer(bench / "reference" / family / f"{route}.hmm")[0]
    hmm = build_from_msa(read_msa(bench / alignment))
    assert hmm.M == ref.M
    np.testing.assert_array_equal(hmm.map, ref.map)
    assert hmm.consensus == ref.consensus
    assert hmm.effn == pytest.approx(ref.effn, abs=1e-5)
    for ours, theirs in [(hmm.match, ref.match), (hmm.insert, ref.insert)]:
        np.testing.assert_allclose(ours, theirs, atol=2e-5)  # as in test_matches_hmmbuild
    np.testing.assert_allclose(hmm.transitions, ref.transitions, atol=2e-5)


@needs_data
def test_deep_simulated_alignment() -> None:
    # `hmmbuild` on the true alignment of 1,000 emitted kinases gives M = 269 (README, section 3)
    msa = read_msa(SHARED / "sim" / "pkinase_sim_train_true.sto")
    hmm = build_from_msa(msa)
    assert (msa.nseq, hmm.M) == (1000, 269)
    assert hmm.meta["re_per_position"] == pytest.approx(0.59, abs=0.001)


def test_built_model_round_trips_through_a_hmmer_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "tiny.sto", STO)
    hmm = build_from_msa(read_msa(path))
    out = tmp_path / "tiny.hmm"
    hmmer.write_hmmer(out, [hmm])
    back = hmmer.read_hmmer(out)[0]
    assert back.M == hmm.M and back.consensus == hmm.consensus and back.rf == hmm.rf
    np.testing.assert_allclose(back.match, hmm.match, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(back.transitions, hmm.transitions, rtol=1e-4, atol=1e-6)


@needs_data
def test_made1_rf_columns_give_the_same_model() -> None:
    # MADE1's RF line marks the same 80 columns that the default symfrac rule picks
    msa = read_msa(TUTORIAL / "MADE1.sto")
    by_rf = build_from_msa(msa, use_rf=True)
    default = build_from_msa(msa)
    np.testing.assert_array_equal(by_rf.map, default.map)
    np.testing.assert_allclose(by_rf.match, default.match)


# ---------------------------------------------------------------- alignment reader

STO = """# STOCKHOLM 1.0
#=GF ID   tiny
#=GF DE   a tiny family

seq1  AC-G
seq2  ACTG
#=GC RF xx.x

seq1  T.A
seq2  TTA
#=GC RF x.x
//
"""


def test_stockholm_blocks_and_rf(tmp_path: Path) -> None:
    msa = read_msa(_write(tmp_path, "a.sto", STO))
    assert msa.names == ("seq1", "seq2") and msa.format == "stockholm"
    assert msa.text(0) == "AC-GT.A" and msa.rf == "xx.xx.x"
    assert msa.name == "tiny" and msa.description == "a tiny family"
    assert msa.alphabet is DNA
    assert msa.codes()[0, 2] == GAP


def test_gzip_and_format_from_content(tmp_path: Path) -> None:
    path = tmp_path / "a.txt.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(STO)
    assert read_msa(path).rf == "xx.xx.x"
    afa = _write(tmp_path, "b.txt", ">x\nMK-V\n>y\nMKLV\n")
    msa = read_msa(afa)
    assert msa.format == "afa" and msa.alphabet is AMINO and msa.match_columns is None


def test_a2m_inserts_are_padded(tmp_path: Path) -> None:
    path = _write(tmp_path, "a.a2m", ">x\nACgtT-\n>y\nAaCTG\n>z\nACTG\n")
    msa = read_msa(path)
    assert [msa.text(i) for i in range(3)] == ["A.CgtT-", "AaC..TG", "A.C..TG"]
    assert msa.match_columns.tolist() == [True, False, True, False, False, True, True]
    hmm = build_from_msa(msa, use_rf=True)
    assert hmm.map.tolist() == [1, 3, 6, 7]


# Stockholm's end of alignment: a missing '//' is a truncated file, not an alignment taken in
# part; after '//' come only blank lines or the header of the next alignment
ENDS = [
    ("no_end.sto", "# STOCKHOLM 1.0\na AC\nb AC\n", None, "file ends without '//' (truncated)"),
    ("end_in_block.sto", "# STOCKHOLM 1.0\na AC\n\na GT\n", None, "truncated"),
    ("after_end.sto", "# STOCKHOLM 1.0\na AC\n//\n\nb GT\n", 5, "text after '//'"),
    ("no_end_before_next.sto", "# STOCKHOLM 1.0\na AC\n# STOCKHOLM 1.0\nb AC\n//\n", 3,
     "before the '//'"),
    ("id_two_words.sto", "# STOCKHOLM 1.0\n#=GF ID a b\ns ACDE\n//\n", 2,
     "#=GF ID must be one word"),
    ("two.sto", "# STOCKHOLM 1.0\na AC\n//\n# STOCKHOLM 1.0\na GT\n//\n", None,
     "holds 2 alignments"),
    ("second_empty.sto", "# STOCKHOLM 1.0\na AC\n//\n# STOCKHOLM 1.0\n//\n", 4, "no sequences"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "text", "error", "line", "record", "words"),
    [(name, text, InputFormatError, line, None, words) for name, text, line, words in ENDS]
    + [
        ("ragged.afa", ">a\nACGT\n>b\nACG\n", InputFormatError, 3, "b", "columns"),
        ("ragged.sto", "# STOCKHOLM 1.0\na ACGT\nb ACG\n//\n", InputFormatError, 3, "b", "columns"),
        ("bad.afa", ">a\nACGT\n>b\nAC\nA1\n", AlphabetError, 5, "b", "column 4"),
        ("bad.sto", "# STOCKHOLM 1.0\na ACGT\nb AC!T\n//\n", AlphabetError, 3, "b", "'!'"),
        ("empty.afa", "", InputFormatError, None, None, "empty"),
        ("empty.sto", "# STOCKHOLM 1.0\n//\n", InputFormatError, 1, None, "no sequences"),
        ("dup.afa", ">a\nAC\n>a\nAC\n", InputFormatError, 3, "a", "duplicate"),
        ("dup.sto", "# STOCKHOLM 1.0\na AC\na AC\n//\n", InputFormatError, 3, "a", "duplicate"),
        ("rf.sto", "# STOCKHOLM 1.0\na AC\n#=GC RF x\n//\n", InputFormatError, 3, None, "RF"),
        ("a2m.a2m", ">a\nACg\n>b\nAaaa\n", InputFormatError, 3, "b", "match characters"),
        ("junk.fa", "hello\n", InputFormatError, 1, None, "not an alignment"),
    ],
)
def test_malformed_alignments(
    tmp_path: Path,
    name: str,
    text: str,
    error: type[Exception],
    line: int | None,
    record: str | None,
    words: str,
) -> None:
    path = _write(tmp_path, name, text)
    with pytest.raises(error) as info:
        read_msa(path)
    err = info.value
    assert err.path == str(path)  # type: ignore[attr-defined]
    assert err.line == line  # type: ignore[attr-defined]
    assert err.record == record  # type: ignore[attr-defined]
    assert words in str(err) and "\n" not in str(err)


def test_several_alignments(tmp_path: Path) -> None:
    """A Stockholm file of several alignments: each read on its own (names, RF lines,
    alphabets), blank lines between them allowed; FASTA holds one."""
    dna = STO.replace("#=GF ID   tiny", "#=GF ID   first")
    text = dna + "\n\n# STOCKHOLM 1.0\n#=GF AC PF0001\nx MKVL-\ny MKIL.\n//\n" + STO
    msas = read_msas(_write(tmp_path, "three.sto", text))
    assert [m.name for m in msas] == ["first", None, "tiny"]
    assert [m.names for m in msas] == [("seq1", "seq2"), ("x", "y"), ("seq1", "seq2")]
    assert [m.alphabet for m in msas] == [DNA, AMINO, DNA]
    assert msas[0].rf == msas[2].rf == "xx.xx.x" and msas[1].rf is None
    assert msas[1].accession == "PF0001" and msas[1].text(0) == "MKVL-"
    one = _write(tmp_path, "one.afa", ">x\nMK-V\n>y\nMKLV\n")
    assert [m.names for m in read_msas(one)] == [("x", "y")]
    assert read_msa(_write(tmp_path, "tiny.sto", STO + "\n\n")).name == "tiny"


@needs_data
@pytest.mark.parametrize(
    "path",
    [*sorted(SHARED.glob("**/*.sto")), REPO / "data" / "example_family.sto"],
    ids=lambda p: p.name,
)
def test_every_stockholm_file_at_hand_reads(path: Path) -> None:
    """The stricter end-of-alignment checks still read every well-formed file."""
    (msa,) = read_msas(path)
    assert msa.nseq > 0 and msa.alen > 0


def test_build_errors(tmp_path: Path) -> None:
    # every column has a gap in a row of positive weight (hmmbuild --symfrac 1.0: "no
    # consensus columns")
    msa = read_msa(_write(tmp_path, "a.afa", ">a\nAC-\n>b\n-CG\n>c\nA-G\n"))
    with pytest.raises(InputFormatError, match="no consensus columns"):
        build_from_msa(msa, symfrac=1.0, fragthresh=0.0)
    # here b has no residue in the columns the weights look at (at most half gaps), so
    # weight 0, and the column where only b has a gap is a consensus column: M = 1, as
    # hmmbuild --symfrac 1.0 --fragthresh 0 builds it
    msa = read_msa(_write(tmp_path, "a.afa", ">a\nAC-\n>b\n--G\n>c\n-T-\n"))
    assert build_from_msa(msa, symfrac=1.0, fragthresh=0.0).M == 1
    with pytest.raises(InputFormatError, match="RF"):
        build_from_msa(msa, use_rf=True)
    # an RF line of gaps only marks no column: said as such, not as a symfrac problem
    gaps = read_msa(_write(tmp_path, "gaps.sto", "# STOCKHOLM 1.0\na AC\n#=GC RF ..\n//\n"))
    with pytest.raises(InputFormatError, match="RF' line .* marks none"):
        build_from_msa(gaps, use_rf=True)


def test_identity_clusters_and_blosum_weights_by_hand() -> None:
    from seqem.io.msa import GAP

    """Single linkage: a and b share 7 of 10 residues, b and c 7 of 10, a and c 4;
    at 0.7 all three are one cluster (through b), at 0.75 none links. d matches a
    on its 3 residues (identity over the shorter row: 1.0) and no other. BLOSUM weights are one
    over the cluster size, scaled to sum to the number of rows."""
    a = [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]
    b = [0, 1, 2, 3, 0, 1, 2, 0, 1, 2]
    c = [1, 2, 3, 3, 0, 1, 2, 0, 1, 2]
    d = [GAP] * 7 + [3, 0, 1]  # a's last three residues, where b and c differ
    codes = np.array([a, b, c], dtype=np.uint8)
    same = [(np.array(x) == np.array(y)).sum() for x, y in ((a, b), (b, c), (a, c))]
    assert same == [7, 7, 4]
    assert identity_clusters(codes, DNA, 0.7).tolist() == [0, 0, 0]
    assert identity_clusters(codes, DNA, 0.75).tolist() == [0, 1, 2]
    codes = np.array([a, b, c, d], dtype=np.uint8)
    assert identity_clusters(codes, DNA, 0.75).tolist() == [0, 1, 2, 0]
    w = blosum_weights(codes, DNA, 0.75)
    np.testing.assert_allclose(w, np.array([0.5, 1.0, 1.0, 0.5]) * 4 / 3.0)
