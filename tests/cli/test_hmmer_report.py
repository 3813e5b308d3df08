"""``--hmmer-report``: hmmsearch's and phmmer's human-readable report, line by line."""

import re
import shutil
import subprocess
import warnings

import pytest

from .conftest import DATA, REPO

TUTORIAL = REPO.parent / "shared" / "data" / "profile" / "tutorial"
needs_tutorial = pytest.mark.skipif(
    not TUTORIAL.is_dir(), reason="shared HMMER tutorial data (../shared/data/profile) not present"
)
#: (model, database, HMMER's report on them in the shared data)
CASES = [
    ("fn3", "7LESS_DROME", "fn3_vs_7LESS"),
    ("Pkinase", "7LESS_DROME", "Pkinase_vs_7LESS"),
    ("globins4", "globins45.fa", "globins4_vs_globins45"),
]
NUMBER = re.compile(r"^-?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$")


def body(text):
    """The lines from ``Query:`` on, without HMMER's timing lines (which vary)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Query:"))
    return [line for line in lines[start:] if not line.startswith(("# CPU", "# Mc/sec"))]


def parsed(path):
    from Bio import SearchIO

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return list(SearchIO.parse(str(path), "hmmer3-text"))


def same_alignments(ours, theirs):
    """Biopython's reading of two reports: the same hits, in order, with the same
    domains (coordinates, envelopes, aligned residues, PP/CS lines)."""
    (a,), (b,) = ours, theirs
    assert [h.id for h in a] == [h.id for h in b]
    n = 0
    for ha, hb in zip(a, b, strict=True):
        assert len(ha.hsps) == len(hb.hsps), ha.id
        for x, y in zip(ha.hsps, hb.hsps, strict=True):
            fields = ("hit_start", "hit_end", "query_start", "query_end", "env_start", "env_end")
            assert [getattr(x, f) for f in fields] == [getattr(y, f) for f in fields], ha.id
            assert str(x.hit.seq) == str(y.hit.seq) and str(x.query.seq) == str(y.query.seq)
            assert x.aln_annotation == y.aln_annotation, ha.id
            n += 1
    return n


@needs_tutorial
@pytest.mark.parametrize("model,database,reference", CASES, ids=[c[2] for c in CASES])
def test_report_reads_as_hmmsearchs(run, tmp_path, model, database, reference):
    """With --null2 (hmmsearch's default scoring) on HMMER's tutorial: as many lines as
    hmmsearch's report, and Biopython's hmmer3-text reader finds the same hits and
    domains in both, alignments and posterior lines included."""
    out = tmp_path / "report.out"
    result = run("profile", "search", TUTORIAL / "models" / f"{model}.hmm", TUTORIAL / database,
                 "--null2", "--hmmer-report", out, "-o", tmp_path / "hits.tsv")  # fmt: skip
    assert result.code == 0, result.err
    ref = TUTORIAL / "reference" / f"{reference}.out"
    ours, theirs = body(out.read_text()), body(ref.read_text())
    assert len(ours) == len(theirs)
    differ = [(a, b) for a, b in zip(ours, theirs, strict=True) if a != b]
    print(f"\n{reference}: {len(differ)} of {len(ours)} lines differ (numbers only)")
    for a, b in differ:  # only numbers: null2 and E-value rounding
        ta, tb = a.split(), b.split()
        assert len(ta) == len(tb)
        assert all(
            x == y or (NUMBER.match(x) and NUMBER.match(y)) for x, y in zip(ta, tb, strict=True)
        )
    assert len(differ) <= 3
    assert same_alignments(parsed(out), parsed(ref)) >= 1


def hmmsearch_lines_agree(ours, theirs):
    """Line for line: equal, or differing in numbers only, scores within 0.15 bits and
    E-values within 30% (the last printed digit)."""
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        if a == b:
            continue
        ta, tb = a.split(), b.split()
        assert len(ta) == len(tb), (a, b)
        for x, y in zip(ta, tb, strict=True):
            if x == y:
                continue
            assert NUMBER.match(x) and NUMBER.match(y), (a, b)
            fx, fy = float(x), float(y)
            if "e" in x + y or fx < 1 or fy < 1:  # an E-value
                assert max(fx, fy) <= 1.3 * min(fx, fy), (a, b)
            else:
                assert abs(fx - fy) <= 0.15, (a, b)


@needs_tutorial
@pytest.mark.skipif(not shutil.which("hmmsearch"), reason="HMMER's hmmsearch not installed")
@pytest.mark.parametrize("model,database,reference", CASES, ids=[c[2] for c in CASES])
def test_report_equals_hmmsearch_nonull2(run, tmp_path, model, database, reference):
    """seqem's default scoring is hmmsearch --nonull2's: run both here, the reports
    agree line for line (numbers to their last printed digit)."""
    hmm = TUTORIAL / "models" / f"{model}.hmm"
    ref = tmp_path / "hmmsearch.out"
    subprocess.run(["hmmsearch", "--nonull2", "--cpu", "1", "-o", ref, hmm, TUTORIAL / database],
                   check=True)  # fmt: skip
    out = tmp_path / "report.out"
    result = run("profile", "search", hmm, TUTORIAL / database, "--hmmer-report", out,
                 "-o", tmp_path / "hits.tsv")  # fmt: skip
    assert result.code == 0, result.err
    hmmsearch_lines_agree(body(out.read_text()), body(ref.read_text()))
    assert same_alignments(parsed(out), parsed(ref)) >= 1


@pytest.mark.skipif(not shutil.which("phmmer"), reason="HMMER's phmmer not installed")
def test_seqsearch_report_as_phmmers(run, tmp_path):
    """seqsearch writes phmmer's layout ([L=...]); the alignments equal phmmer's."""
    query, db = DATA / "example_query.fa", DATA / "example_db.fa"
    ref = tmp_path / "phmmer.out"
    subprocess.run(["phmmer", "--cpu", "1", "-o", ref, query, db], check=True)
    out = tmp_path / "report.out"
    result = run("profile", "seqsearch", query, db, "--hmmer-report", out, "-o", tmp_path / "x")
    assert result.code == 0, result.err
    text = out.read_text()
    assert text.startswith("# seqem profile seqsearch, as phmmer ::")
    assert "Query:       family_001  [L=54]" in text
    assert same_alignments(parsed(out), parsed(ref)) >= 1


def test_report_without_hits(run, tmp_path):
    out = tmp_path / "report.out"
    result = run("profile", "search", DATA / "example_family.hmm", DATA / "example_db.fa",
                 "-T", "1000", "--hmmer-report", out, "-o", tmp_path / "x.tsv")  # fmt: skip
    assert result.code == 0, result.err
    text = out.read_text()
    assert "[No hits detected that satisfy reporting thresholds]" in text
    assert "Target sequences:                        300" in text
    assert text.endswith("//\n[ok]\n") and parsed(out)[0].id == "example_family"


def test_minus_strand_alignment_counts_down(run, tmp_path):
    """A domain on the minus strand is displayed with its target coordinates running
    from high to low, each wrapped line starting where the last ended."""
    import numpy as np
    from Bio.Seq import Seq

    from .test_profile_strands import dna_family

    model, texts = dna_family(tmp_path, 1)
    rng = np.random.default_rng(5)
    flank = "".join(rng.choice(list("ACGT"), size=300))
    query = tmp_path / "q.fa"
    query.write_text(f">q\n{flank}{Seq(texts[0]).reverse_complement()}{flank}\n")
    out = tmp_path / "report.out"
    result = run("profile", "search", model, query, "--hmmer-report", out, "-o", tmp_path / "x")
    assert result.code == 0, result.err
    lines = out.read_text().splitlines()
    rows = [line.split() for line in lines if re.match(r"^ +q \d+ ", line)]
    assert rows and all(int(r[1]) > int(r[3]) for r in rows)
    for a, b in zip(rows, rows[1:], strict=False):
        assert int(b[1]) == int(a[3]) - 1


def hmmscan_report(tmp_path, models, queries, *options):
    """hmmscan's report of ``queries`` against a pressed copy of ``models``."""
    library = tmp_path / "library.hmm"
    library.write_text("".join(m.read_text() for m in models))
    subprocess.run(["hmmpress", "-f", library], check=True, capture_output=True)
    ref = tmp_path / "hmmscan.out"
    subprocess.run(["hmmscan", "--cpu", "1", *options, "-o", ref, library, queries], check=True)
    return library, ref


@pytest.mark.skipif(not shutil.which("hmmscan"), reason="HMMER's hmmscan not installed")
def test_scan_report_equals_hmmscans(run, tmp_path):
    """hmmscan's layout, one block per query sequence (those without hits too): 40
    sequences of the example database against the example model, every line equal to
    hmmscan --nonull2's (its comment lines aside)."""
    from Bio import SeqIO

    queries = tmp_path / "q.fa"
    records = list(SeqIO.parse(DATA / "example_db.fa", "fasta"))[:40]
    queries.write_text("".join(f">{r.description}\n{r.seq}\n" for r in records))
    library, ref = hmmscan_report(tmp_path, [DATA / "example_family.hmm"], queries, "--nonull2")
    out = tmp_path / "report.out"
    result = run("profile", "scan", library, queries, "--hmmer-report", out, "-o", tmp_path / "x")
    assert result.code == 0, result.err

    def lines(path):
        return [line for line in path.read_text().splitlines() if not line.startswith("#")]

    assert lines(out) == lines(ref)
    assert sum(line.startswith("Query:") for line in lines(out)) == 40


@needs_tutorial
@pytest.mark.skipif(not shutil.which("hmmscan"), reason="HMMER's hmmscan not installed")
def test_scan_report_of_sevenless_as_hmmscans(run, tmp_path):
    """fn3 and Pkinase as a library, the sevenless protein as the query: the report
    agrees with hmmscan --nonull2's line for line, and Biopython reads both alike."""
    models = [TUTORIAL / "models" / f"{m}.hmm" for m in ("fn3", "Pkinase")]
    library, ref = hmmscan_report(tmp_path, models, TUTORIAL / "7LESS_DROME", "--nonull2")
    out = tmp_path / "report.out"
    result = run("profile", "scan", library, TUTORIAL / "7LESS_DROME", "--hmmer-report", out,
                 "-o", tmp_path / "x")  # fmt: skip
    assert result.code == 0, result.err
    assert out.read_text().startswith("# seqem profile scan, as hmmscan ::")
    hmmsearch_lines_agree(body(out.read_text()), body(ref.read_text()))
    assert same_alignments(parsed(out), parsed(ref)) == 10


@needs_tutorial
@pytest.mark.skipif(not shutil.which("hmmsearch"), reason="HMMER's hmmsearch not installed")
@pytest.mark.parametrize(
    "ours,theirs",
    [
        (["--noali"], ["--noali"]),
        (["--textw", "150"], ["--textw", "150"]),
        (["--textw", "0"], ["--notextw"]),
    ],  # fmt: skip
    ids=["noali", "textw150", "notextw"],
)
def test_report_options_as_hmmsearchs(run, tmp_path, ours, theirs):
    """--noali and --textw (0: hmmsearch's --notextw) lay the report out as hmmsearch's
    options do: fn3 against sevenless, every line equal (comment lines aside)."""
    hmm, target = TUTORIAL / "models" / "fn3.hmm", TUTORIAL / "7LESS_DROME"
    ref = tmp_path / "hmmsearch.out"
    subprocess.run(["hmmsearch", "--nonull2", "--cpu", "1", *theirs, "-o", ref, hmm, target],
                   check=True)  # fmt: skip
    out = tmp_path / "report.out"
    result = run("profile", "search", hmm, target, *ours, "--hmmer-report", out, "-o",
                 tmp_path / "x")  # fmt: skip
    assert result.code == 0, result.err

    def lines(path):
        return [line for line in path.read_text().splitlines() if not line.startswith("#")]

    assert lines(out) == lines(ref)


def test_textw_below_120_is_a_usage_error(run, tmp_path):
    model, db = DATA / "example_family.hmm", DATA / "example_db.fa"
    out = ["--hmmer-report", tmp_path / "r", "-o", tmp_path / "x"]
    result = run("profile", "search", model, db, "--textw", "80", *out)
    assert result.code == 2 and "at least 120" in result.err


def shape(text):
    """A report's lines with every number replaced and runs of spaces closed up: what
    remains is its layout and words (names, marks, alignments' residues)."""
    number = re.compile(r"(?<![\w.])-?\d+(\.\d+)?(e[-+]?\d+)?(?![\w.])")
    return [
        " ".join(number.sub("N", line).split())
        for line in text.splitlines()
        if not (line.startswith("# ") or line == "#")
    ]


@needs_tutorial
@pytest.mark.skipif(not shutil.which("jackhmmer"), reason="HMMER's jackhmmer not installed")
def test_iterate_report_as_jackhmmers(run, tmp_path):
    """The human beta globin against the 45 globins, three rounds: jackhmmer's layout
    (round headers, + marks of newly included targets, the @@ lines, the alignments of
    each round's model named NAME-iN), the same words and residues in every one of its
    lines; only numbers differ (the E-values of the first round's calibration)."""
    query, db = TUTORIAL / "HBB_HUMAN", TUTORIAL / "globins45.fa"
    ref = tmp_path / "jackhmmer.out"
    subprocess.run(["jackhmmer", "--cpu", "1", "-N", "3", "-o", ref, query, db], check=True)
    out = tmp_path / "report.out"
    result = run("profile", "iterate", "-N", "3", "--null2", query, db, "--hmmer-report", out,
                 "-o", tmp_path / "x")  # fmt: skip
    assert result.code == 0, result.err
    ours, theirs = shape(out.read_text()), shape(ref.read_text())
    assert ours == theirs
    assert "@@ CONVERGED (in 2 rounds)." in out.read_text()
