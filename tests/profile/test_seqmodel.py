"""Single-sequence models (phmmer's and jackhmmer's first round) and iterative search.

References: brute-force sums over the score matrix for the probabilities;
jackhmmer's checkpoint models (``--chkhmm``, HMMER 3.3 from apt ``hmmer``)
for the models of query sequences and of every round's alignment; phmmer's
and jackhmmer's tables for the hits.
"""

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from seqem.errors import InputFormatError, ParameterError
from seqem.io.hmmer import read_hmmer
from seqem.io.sequences import read_sequences
from seqem.profile.model import AMINO
from seqem.profile.seqmodel import score_system, single_sequence_model

from .test_bench import tblout_rows as tblout

DATA = Path(__file__).resolve().parents[2] / "data"
BENCH = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "profile" / "bench"
needs_jackhmmer = pytest.mark.skipif(
    shutil.which("jackhmmer") is None, reason="HMMER's jackhmmer (apt hmmer) not installed"
)


def first_member(tmp_path, extra=""):
    """The example family's first sequence (with ``extra`` residues appended) as FASTA."""
    lines = (DATA / "example_family.fa").read_text().split(">")[1].splitlines()
    path = tmp_path / "query.fa"
    path.write_text(f">{lines[0].split()[0]}\n{''.join(lines[1:])}{extra}\n")
    return path


def test_score_system_is_the_matrix_read_as_probabilities():
    system = score_system("BLOSUM62")
    f = np.asarray(AMINO.background)
    # lambda solves sum_ab f_a f_b exp(lambda s_ab) = 1, and the joint sums to 1
    total = sum(
        f[a] * f[b] * np.exp(system.lam * system.scores[a, b]) for a in range(20) for b in range(20)
    )
    assert total == pytest.approx(1.0, abs=1e-12)
    assert system.joint.sum() == pytest.approx(1.0, abs=1e-12)
    # half-bit BLOSUM62: lambda near ln 2 / 2 under this background
    assert 0.30 < system.lam < 0.35
    np.testing.assert_allclose(system.emissions.sum(axis=1), 1.0, atol=1e-12)
    letters, stands_for = AMINO.degenerate_matrix()
    for code, letter in enumerate(letters):
        rows = [AMINO.symbols.index(s) for s in AMINO.degenerate.get(letter, letter)]
        expect = system.joint[rows].sum(axis=0)
        np.testing.assert_allclose(system.emissions[code], expect / expect.sum(), atol=1e-14)


def test_parser_defaults_agree_with_the_library():
    from seqem.cli import profile_query
    from seqem.profile import seqmodel

    assert profile_query.MATRICES == seqmodel.MATRICES
    assert (profile_query.POPEN, profile_query.PEXTEND) == (seqmodel.POPEN, seqmodel.PEXTEND)


def test_single_sequence_model_layout():
    system = score_system(popen=0.03, pextend=0.5)
    codes = np.array([AMINO.symbols.index(c) for c in "MKVW"], dtype=np.uint8)
    hmm = single_sequence_model(codes, system, name="q")
    hmm.validate()
    assert hmm.M == 4 and hmm.nseq == 1
    np.testing.assert_allclose(hmm.transitions[1], [0.94, 0.03, 0.03, 0.5, 0.5, 0.5, 0.5])
    np.testing.assert_allclose(hmm.transitions[4], [0.97, 0.03, 0.0, 0.5, 0.5, 1.0, 0.0])
    np.testing.assert_allclose(hmm.insert, np.tile(AMINO.background, (5, 1)))
    # no BLOSUM62 row gives a residue 0.5: all lower case (PAM30's W row does)
    assert hmm.consensus == "mkvw"
    strict = single_sequence_model(codes, score_system("PAM30"), name="q")
    assert strict.consensus[3] == "W" and strict.match[4].max() >= 0.5
    with pytest.raises(InputFormatError, match="empty"):
        single_sequence_model(np.zeros(0, dtype=np.uint8), system, name="e")


@needs_jackhmmer
@pytest.mark.parametrize(
    "matrix,popen,pextend", [("BLOSUM62", 0.02, 0.4), ("PAM30", 0.03, 0.5), ("BLOSUM45", 0.02, 0.4)]
)
def test_query_model_equals_jackhmmer_first_round(tmp_path, matrix, popen, pextend):
    query = first_member(tmp_path, extra="XBZJUO")
    subprocess.run(
        ["jackhmmer", "-N", "1", "--mx", matrix, "--popen", str(popen), "--pextend",
         str(pextend), "--chkhmm", str(tmp_path / "chk"), "-o", "/dev/null", str(query),
         str(query)],
        check=True, capture_output=True,
    )  # fmt: skip
    (theirs,) = read_hmmer(tmp_path / "chk-1.hmm")
    seqs = read_sequences(query, AMINO)
    system = score_system(matrix, popen=popen, pextend=pextend)
    ours = single_sequence_model(seqs.codes, system, name=seqs.names[0])
    # HMMER's file holds -log probabilities to 5 decimals
    np.testing.assert_allclose(ours.match[1:], theirs.match[1:], rtol=2e-5, atol=1e-7)
    np.testing.assert_allclose(ours.insert, theirs.insert, rtol=2e-5)
    np.testing.assert_allclose(ours.transitions, theirs.transitions, rtol=2e-5, atol=1e-7)
    np.testing.assert_allclose(ours.compo, theirs.compo, rtol=2e-5)
    assert ours.consensus == theirs.consensus


def test_matrix_file_and_bad_matrices(tmp_path):
    from Bio.Align import substitution_matrices

    path = tmp_path / "b62.txt"
    path.write_text(str(substitution_matrices.load("BLOSUM62")))
    named, read = score_system("BLOSUM62"), score_system(path)
    np.testing.assert_allclose(read.emissions, named.emissions, atol=1e-15)
    (tmp_path / "bad.txt").write_text("not a matrix\n")
    with pytest.raises(InputFormatError, match=r"bad\.txt"):
        score_system(tmp_path / "bad.txt")
    with pytest.raises(InputFormatError, match="no such score matrix"):
        score_system(tmp_path / "absent.txt")
    small = tmp_path / "small.txt"
    small.write_text("   A  C\nA  4 -1\nC -1  9\n")
    with pytest.raises(InputFormatError, match="no scores for residue"):
        score_system(small)
    for popen, pextend in ((0.5, 0.4), (0.0, 0.4), (0.02, 1.0)):
        with pytest.raises(ParameterError):
            score_system(popen=popen, pextend=pextend)


def globin_query(tmp_path):
    """The first globin of the benchmark's training set, as FASTA."""
    text = (BENCH / "globin" / "train.fa").read_text().split(">")[1]
    query = tmp_path / "query.fa"
    query.write_text(">" + text)
    return query


@pytest.mark.skipif(shutil.which("phmmer") is None, reason="HMMER's phmmer not installed")
@pytest.mark.parametrize("case", ["example", "bench"])
def test_seqsearch_equals_phmmer(tmp_path, case):
    """The hits of phmmer (null2 on, as its default) with the same bits; E-values
    through each program's own calibration of the same model."""
    from seqem.cli.main import main

    if case == "bench" and not BENCH.is_dir():
        pytest.skip("shared profile benchmark (../shared/data/profile/bench) not present")
    query, db, least = (
        (first_member(tmp_path), DATA / "example_db.fa", 2)
        if case == "example"
        else (globin_query(tmp_path), BENCH / "db.fa", 20)
    )
    subprocess.run(["phmmer", "--cpu", "1", "--tblout", str(tmp_path / "p.tbl"), "-o",
                    "/dev/null", str(query), str(db)], check=True)  # fmt: skip
    args = ["profile", "seqsearch", "--null2", str(query), str(db), "--tblout",
            str(tmp_path / "s.tbl"), "-o", str(tmp_path / "s.tsv"), "-q"]  # fmt: skip
    assert main(args) == 0
    theirs, ours = tblout(tmp_path / "p.tbl"), tblout(tmp_path / "s.tbl")
    strong = {t for t, (e, _) in theirs.items() if e <= 0.1}
    assert len(strong) >= least and strong <= set(ours)
    for target in set(theirs) & set(ours):
        assert ours[target][1] == pytest.approx(theirs[target][1], abs=0.15)
        assert 0.5 <= ours[target][0] / theirs[target][0] <= 2.0


def run_iterate(tmp_path, query, db, *options):
    from seqem.cli.main import main

    prefix = tmp_path / "ours"
    args = ["profile", "iterate", "--null2", str(query), str(db), "--chkhmm", str(prefix),
            "--chkali", str(prefix), "--tblout", str(tmp_path / "ours.tbl"), "-A",
            str(tmp_path / "final.sto"), "-o", str(tmp_path / "ours.tsv"), "-q",
            *options]  # fmt: skip
    assert main(args) == 0
    return prefix


@needs_jackhmmer
@pytest.mark.skipif(not BENCH.is_dir(), reason="shared profile benchmark not present")
def test_iterate_equals_jackhmmer_round_by_round(tmp_path):
    """A globin query against the benchmark database: jackhmmer converges in three
    rounds (22, then 18 new targets, then none); so does seqem, with every
    round's model equal to jackhmmer's checkpoint and the same final hits."""
    query = globin_query(tmp_path)
    db = BENCH / "db.fa"
    subprocess.run(
        ["jackhmmer", "--cpu", "1", "--chkhmm", str(tmp_path / "jk"), "--tblout",
         str(tmp_path / "jk.tbl"), "-o", "/dev/null", str(query), str(db)],
        check=True, capture_output=True,
    )  # fmt: skip
    prefix = run_iterate(tmp_path, query, db)
    rounds = sorted(tmp_path.glob("jk-*.hmm"))
    assert len(rounds) == 3
    assert len(sorted(tmp_path.glob("ours-*.hmm"))) == 3
    for i in range(1, 4):
        (theirs,) = read_hmmer(tmp_path / f"jk-{i}.hmm")
        (ours,) = read_hmmer(f"{prefix}-{i}.hmm")
        assert (ours.name, ours.M, ours.nseq) == (theirs.name, theirs.M, theirs.nseq)
        np.testing.assert_allclose(ours.match[1:], theirs.match[1:], atol=1e-4)
        np.testing.assert_allclose(ours.transitions, theirs.transitions, atol=1e-4)
        if i > 1:
            assert ours.effn == pytest.approx(theirs.effn, abs=1e-3)
    theirs, ours = tblout(tmp_path / "jk.tbl"), tblout(tmp_path / "ours.tbl")
    assert set(ours) == set(theirs) and len(ours) == 40
    for target, (evalue, bits) in theirs.items():
        assert ours[target][1] == pytest.approx(bits, abs=0.15)
        assert 0.33 <= ours[target][0] / evalue <= 3.0


def test_iterate_on_the_example_family(tmp_path):
    from seqem.io.msa import read_msa

    query = first_member(tmp_path)
    report = tmp_path / "run.json"
    db = DATA / "example_db.fa"
    prefix = run_iterate(tmp_path, query, db, "-N", "4", "--report", str(report))
    models = sorted(Path(tmp_path).glob("ours-*.hmm"))
    assert 2 <= len(models) <= 4
    rounds = json.loads(report.read_text())["results"]["rounds"]
    assert [r["round"] for r in rounds] == list(range(1, len(models) + 1))
    assert all(r["model_length"] == 54 and r["rows"] >= r["included"] + 1 for r in rounds)
    assert rounds[0]["new"] == rounds[0]["included"]
    assert sum(r["converged"] for r in rounds) <= 1 and rounds[-1]["included"] >= 25
    final = read_msa(tmp_path / "final.sto")
    M = read_hmmer(models[-1])[0].M
    assert final.names[0] == "family_001" and final.rf is not None
    assert final.rf.count("x") == M == 54
    # the query fills every node
    assert bytes(final.rows[0][np.frombuffer(final.rf.encode(), np.uint8) == ord("x")]).isalpha()
    members = {t for t in tblout(tmp_path / "ours.tbl") if t.startswith("member_")}
    truth = (DATA / "example_db_truth.tsv").read_text()
    assert len(members) >= 25 and all(m in truth for m in members)
    assert Path(f"{prefix}-1.sto").read_text().startswith("# STOCKHOLM 1.0")


def test_iterate_and_seqsearch_refuse_bad_input(tmp_path, capsys):
    from seqem.cli.main import main

    query = first_member(tmp_path)
    db = str(DATA / "example_db.fa")
    out = str(tmp_path / "o.tsv")
    assert main(["profile", "iterate", str(query), "-", "-o", out]) != 0
    assert "give a file" in capsys.readouterr().err
    empty = tmp_path / "empty.fa"
    empty.write_text("")
    assert main(["profile", "seqsearch", str(empty), db, "-o", out]) != 0
    assert "empty.fa" in capsys.readouterr().err
    twice = tmp_path / "twice.fa"
    twice.write_text(query.read_text() * 2)
    assert main(["profile", "iterate", str(twice), db, "-o", out]) != 0
    assert "two query sequences are named 'family_001'" in capsys.readouterr().err
    dna = tmp_path / "dna.fa"
    dna.write_text(">d\nACGTTGCAACGTTGCA\n")
    assert main(["profile", "seqsearch", str(query), str(dna), "-o", out]) != 0
    assert "alphabet" in capsys.readouterr().err
    assert main(["profile", "seqsearch", str(dna), db, "-o", out]) != 0
    assert "dna.fa: the query sequences look like DNA" in capsys.readouterr().err
    assert main(["profile", "seqsearch", "--mxfile", str(dna), str(query), db, "-o", out]) != 0
    assert "dna.fa" in capsys.readouterr().err
    assert main(["profile", "iterate", "--cut_ga", str(query), db, "-o", out]) != 0
    assert "unrecognized arguments: --cut_ga" in capsys.readouterr().err
    assert not Path(out).exists()
