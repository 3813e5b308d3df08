"""Nucleotide searches on both strands (``--strand``), against nhmmer's figures."""

import shutil
import subprocess

import numpy as np
import pytest

from seqem.io.hmmer_tables import read_hmmer_table
from seqem.io.sequences import read_sequences, reverse_complement

from .conftest import DATA, REPO, one_error

TUTORIAL = REPO.parent / "shared" / "data" / "profile" / "tutorial"
needs_tutorial = pytest.mark.skipif(
    not TUTORIAL.is_dir(), reason="shared HMMER tutorial data (../shared/data/profile) not present"
)
#: nhmmer's MADE1 copies in dna_target.fa with E <= 1e-5 (the shared README, section 1):
#: (strand, ali from, ali to).
NHMMER_MADE1 = [("+", 302390, 302466), ("-", 302466, 302389), ("+", 174456, 174498),
                ("-", 174493, 174456)]  # fmt: skip


def domains(path):
    return [
        (r["ali_from"], r["ali_to"], float(r["i_evalue"]), float(r["dom_score"]), r)
        for r in read_hmmer_table(path, "domtblout")
    ]


def strand_of(a, b):
    return "+" if int(a) <= int(b) else "-"


def test_reverse_complement_matches_biopython(tmp_path):
    from Bio.Seq import Seq

    from seqem.profile.model import DNA

    rng = np.random.default_rng(3)
    path = tmp_path / "iupac.fa"
    path.write_text("".join(
        f">s{i}\n{''.join(rng.choice(list('ACGTRYMKSWHBVDN'), size=int(rng.integers(1, 40))))}\n"
        for i in range(30)
    ))  # fmt: skip
    seqs = read_sequences(path, DNA)
    rc = reverse_complement(seqs)
    assert rc.names == seqs.names
    for i in range(len(seqs)):
        assert rc.text(i) == str(Seq(seqs.text(i)).reverse_complement())


@needs_tutorial
def test_made1_copies_on_both_strands_as_nhmmer(run, tmp_path):
    """MADE1 against the 330 kb human fragment: the four copies nhmmer finds (two on
    each strand) are the domains with i-Evalue <= 1e-5, on the same strands, their
    alignments within 3 bases of nhmmer's at both ends."""
    out = tmp_path / "d.tbl"
    model, target = TUTORIAL / "models" / "MADE1.hmm", TUTORIAL / "dna_target.fa"
    result = run("profile", "search", model, target, "--domtblout", out, "-o", tmp_path / "h.tsv")
    assert result.code == 0, result.err
    strong = [(strand_of(a, b), int(a), int(b)) for a, b, e, _, _ in domains(out) if e <= 1e-5]
    assert len(strong) == len(NHMMER_MADE1)
    for strand, a, b in NHMMER_MADE1:
        near = [s for s in strong if s[0] == strand and abs(s[1] - a) <= 3 and abs(s[2] - b) <= 3]
        assert len(near) == 1, (strand, a, b, strong)
    table = (tmp_path / "h.tsv").read_text().splitlines()
    assert table[0].split("\t")[-2] == "strand" and table[1].split("\t")[-2] == "+"
    for strand in ("plus", "minus"):
        one = tmp_path / f"{strand}.tbl"
        args = ("profile", "search", model, target, "--strand", strand, "--domtblout", one)
        assert run(*args, "-o", tmp_path / "x.tsv").code == 0
        found = {strand_of(a, b) for a, b, e, _, _ in domains(one) if e <= 1e-5}
        assert found == {"+" if strand == "plus" else "-"}


@needs_tutorial
def test_minus_strand_is_the_search_of_the_reverse_complement(run, tmp_path):
    """The minus strand's domains are those found on the reverse complement written out
    (Biopython) and searched as given, at mirrored coordinates with the same scores; a
    search of both strands counts two targets per sequence in its E-values."""
    from Bio import SeqIO

    record = next(SeqIO.parse(TUTORIAL / "dna_target.fa", "fasta"))
    flipped = tmp_path / "rc.fa"
    flipped.write_text(f">{record.id}\n{record.seq.reverse_complement()}\n")
    model = TUTORIAL / "models" / "MADE1.hmm"
    minus, given = tmp_path / "minus.tbl", tmp_path / "given.tbl"
    run("profile", "search", model, TUTORIAL / "dna_target.fa", "--strand", "minus",
        "--domtblout", minus, "-o", tmp_path / "a.tsv")  # fmt: skip
    run("profile", "search", model, flipped, "--strand", "plus", "--domtblout", given,
        "-o", tmp_path / "b.tsv")  # fmt: skip
    L = len(record.seq)
    ours = sorted((L + 1 - int(a), L + 1 - int(b), s) for a, b, _, s, _ in domains(minus))
    theirs = sorted((int(a), int(b), s) for a, b, _, s, _ in domains(given))
    assert ours and ours == theirs
    both = tmp_path / "both.tsv"
    run("profile", "search", model, TUTORIAL / "dna_target.fa", "-o", both, "-E", "1e9")
    plus = tmp_path / "plus.tsv"
    run("profile", "search", model, TUTORIAL / "dna_target.fa", "-o", plus, "-E", "1e9",
        "--strand", "plus")  # fmt: skip
    row_both = both.read_text().splitlines()[1].split("\t")
    row_plus = plus.read_text().splitlines()[1].split("\t")
    assert row_both[5] == row_plus[5]  # the plus strand scores best
    assert float(row_both[4]) == pytest.approx(2 * float(row_plus[4]), rel=0.01)


def dna_family(tmp_path, n):
    """A sharp DNA model (its file) and ``n`` sequences emitted from it."""
    from seqem.io.hmmer import write_hmmer
    from seqem.profile.calibrate import calibrate
    from seqem.profile.emit import emit
    from seqem.profile.model import DNA, ProfileHMM

    rng = np.random.default_rng(11)
    M = 40
    match = np.zeros((M + 1, 4))
    match[1:] = rng.dirichlet(np.full(4, 0.05), size=M)
    t = np.tile([0.96, 0.02, 0.02, 0.5, 0.5, 0.7, 0.3], (M + 1, 1))
    t[0, 5:7] = (1.0, 0.0)
    t[M] = (0.98, 0.02, 0.0, 0.5, 0.5, 1.0, 0.0)
    hmm = ProfileHMM(DNA, match, np.full((M + 1, 4), 0.25), t, name="dnafam")
    calibrate(hmm)
    model = tmp_path / "dna.hmm"
    write_hmmer(model, [hmm])
    family = emit(hmm, n, random_state=2)
    seqs = family[0] if isinstance(family, tuple) else family
    return model, [seqs.text(i) for i in range(n)]


def test_reads_on_either_strand_are_found(run, tmp_path):
    """Reads emitted from a DNA model, half of them reverse-complemented: all found,
    each on its strand; random reads are not."""
    from Bio.Seq import Seq

    model, texts = dna_family(tmp_path, 8)
    rng = np.random.default_rng(12)
    lines = [f">fam{i}\n{t if i % 2 == 0 else Seq(t).reverse_complement()}\n"
             for i, t in enumerate(texts)]  # fmt: skip
    lines += [f">rnd{i}\n{''.join(rng.choice(list('ACGT'), size=60))}\n" for i in range(20)]
    db = tmp_path / "reads.fa"
    db.write_text("".join(lines))
    hits = tmp_path / "hits.tsv"
    assert run("profile", "search", model, db, "-E", "0.01", "-o", hits).code == 0
    rows = [line.split("\t") for line in hits.read_text().splitlines()[1:]]
    assert {(r[0], r[7]) for r in rows} == {
        (f"fam{i}", "+" if i % 2 == 0 else "-") for i in range(8)
    }


def test_scan_of_a_dna_sequence_reports_strands(run, tmp_path):
    """hmmscan's direction (one sequence, a library of models) has strands too: a copy
    reverse-complemented inside random sequence is found on the minus strand, with
    its alignment's coordinates from high to low."""
    from Bio.Seq import Seq

    model, texts = dna_family(tmp_path, 1)
    rng = np.random.default_rng(5)
    flank = "".join(rng.choice(list("ACGT"), size=300))
    query = tmp_path / "q.fa"
    query.write_text(f">q\n{flank}{Seq(texts[0]).reverse_complement()}{flank}\n")
    out, dom = tmp_path / "scan.tsv", tmp_path / "scan.dtbl"
    assert run("profile", "scan", model, query, "--domtblout", dom, "-o", out).code == 0
    rows = [line.split("\t") for line in out.read_text().splitlines()]
    assert rows[0][-2] == "strand" and rows[1][-2] == "-"
    ((a, b, _, _, _),) = domains(dom)
    assert int(a) > int(b) and int(b) >= 300 and int(a) <= 300 + len(texts[0]) + 1


def test_strand_option_refused_for_protein_models(run, tmp_path):
    result = run("profile", "search", DATA / "example_family.hmm", DATA / "example_db.fa",
                 "--strand", "minus", "-o", tmp_path / "x.tsv")  # fmt: skip
    one_error(result, "protein sequences have no strands")
    assert not (tmp_path / "x.tsv").exists()
    plain = tmp_path / "p.tsv"
    assert run("profile", "search", DATA / "example_family.hmm", DATA / "example_db.fa",
               "-o", plain).code == 0  # fmt: skip
    assert "strand" not in plain.read_text().splitlines()[0]


@pytest.mark.skipif(not shutil.which("nhmmer"), reason="HMMER's nhmmer not installed")
@needs_tutorial
def test_nhmmer_on_the_same_files(tmp_path):
    """nhmmer run here (apt hmmer) finds its copies on the strands seqem finds them."""
    out = tmp_path / "nh.tbl"
    subprocess.run(
        ["nhmmer", "--cpu", "1", "--tblout", out, TUTORIAL / "models" / "MADE1.hmm",
         TUTORIAL / "dna_target.fa"],  # fmt: skip
        check=True, capture_output=True,
    )  # fmt: skip
    rows = [line.split() for line in out.read_text().splitlines() if not line.startswith("#")]
    strong = sorted((r[11], int(r[6]), int(r[7])) for r in rows if float(r[12]) <= 1e-5)
    assert strong == sorted(NHMMER_MADE1)
