"""``seqem profile build / search / emit`` on the example family, HMMER's data and bad input."""

import gzip
import os
import shutil
import subprocess

import numpy as np
import pytest

from seqem.io.hmmer import read_hmmer
from seqem.io.sequences import read_sequences

from .conftest import DATA, PYTHON, REPO, one_error

SHARED = REPO.parent / "shared" / "data" / "profile"
TUTORIAL = SHARED / "tutorial"
HEADER = (
    "target_name\ttarget_accession\tquery_name\tquery_accession\tevalue\tbits\tlength\tdescription"
)
PROFILE_OUTPUTS = (
    "example_family.hmm",
    "example_family.fa",
    "example_family.sto",
    "example_db.fa",
    "example_db_truth.tsv",
)


def read_hits(path):
    lines = path.read_text().splitlines()
    assert lines[0] == HEADER
    rows = [line.split("\t") for line in lines[1:]]
    assert all(len(r) == 8 for r in rows)
    return [(r[0], r[2], float(r[4]), float(r[5]), int(r[6])) for r in rows]


def truth():
    rows = [line.split("\t") for line in (DATA / "example_db_truth.tsv").read_text().splitlines()]
    return {r[0]: r[1] for r in rows[1:]}


def check_search(hits):
    """All 30 members at E <= 0.01; at most one decoy at E <= 1.

    With calibrated E-values the number of decoys at E <= 1 is about Poisson
    with mean 270 / 300 (the decoy share of Z = 300), so "at most one" is a
    property of this fixed data set rather than a law: it holds for the
    example data as made by data/make_profile_data.py.
    """
    kind = truth()
    members = {name for name, k in kind.items() if k == "member"}
    assert len(members) == 30
    found = {name for name, _, evalue, _, _ in hits if evalue <= 0.01}
    assert members <= found, sorted(members - found)
    decoys = [name for name, _, evalue, _, _ in hits if evalue <= 1 and kind[name] == "decoy"]
    assert len(decoys) <= 1, decoys
    evalues = [h[2] for h in hits]
    assert evalues == sorted(evalues)


def test_build_then_search_finds_the_members(run, tmp_path):
    model = tmp_path / "family.hmm"
    result = run("profile", "build", DATA / "example_family.sto", "-o", model)
    assert result.code == 0, result.err
    summary = result.err.strip().splitlines()[-1]
    assert "example_family: nseq 30, alen " in summary and ", M 60," in summary
    assert "eff_nseq" in summary and "re/pos" in summary
    text = model.read_text()
    assert text.startswith("HMMER3/f") and "STATS LOCAL FORWARD" in text
    (hmm,) = read_hmmer(model)
    assert hmm.M == 60 and hmm.nseq == 30 and set(hmm.stats) == {"msv", "viterbi", "forward"}

    hits = tmp_path / "hits.tsv"
    result = run("profile", "search", model, DATA / "example_db.fa", "-o", hits)
    assert result.code == 0, result.err
    check_search(read_hits(hits))


def test_train_from_unaligned_then_search(run, tmp_path):
    """Baum-Welch from the 40 unaligned members alone: the model finds the
    30 held-out members of the database as the alignment-built one does."""
    model = tmp_path / "trained.hmm"
    report = tmp_path / "run.json"
    result = run("profile", "train", DATA / "example_family.fa", "-o", model, "--report", report)
    assert result.code == 0, result.err
    assert "seqem profile train: example_family: nseq 40, M 60" in result.err
    (hmm,) = read_hmmer(model)
    assert hmm.M == 60 and set(hmm.stats) == {"msv", "viterbi", "forward"}
    import json

    fit = json.loads(report.read_text())["fit_results"]["train"]
    assert fit["converged"] and not fit["decreases"]
    hits = tmp_path / "hits.tsv"
    assert run("profile", "search", model, DATA / "example_db.fa", "-o", hits).code == 0
    check_search(read_hits(hits))


def test_build_with_rf_and_name(run, tmp_path):
    model = tmp_path / "rf.hmm"
    result = run(
        "profile", "build", DATA / "example_family.sto", "--hand", "--name", "fam", "-o", model
    )
    assert result.code == 0, result.err
    (hmm,) = read_hmmer(model)
    # the RF line marks one column per node of the true model
    assert hmm.name == "fam" and hmm.M == 60


def test_search_with_the_true_model(run, tmp_path):
    hits = tmp_path / "hits.tsv"
    result = run("profile", "search", DATA / "example_family.hmm", DATA / "example_db.fa",
                 "-o", hits)  # fmt: skip
    assert result.code == 0, result.err
    rows = read_hits(hits)
    check_search(rows)
    assert all(r[1] == "example_family" and r[2] <= 10 for r in rows)
    assert "1 model(s) x 300 sequence(s)" in result.err


def test_search_thresholds_and_stdout(run):
    db = DATA / "example_db.fa"
    model = DATA / "example_family.hmm"
    top = run("profile", "search", model, db, "--max-hits", "3")
    assert top.code == 0 and len(top.out.splitlines()) == 4
    strict = run("profile", "search", model, db, "-T", "25", "-q")
    assert strict.code == 0 and strict.err == ""
    assert all(float(line.split("\t")[5]) >= 25 for line in strict.out.splitlines()[1:])
    # -Z scales the E-values
    a = run("profile", "search", model, db, "--max-hits", "1").out.splitlines()[1].split("\t")
    b = run("profile", "search", model, db, "--max-hits", "1", "-Z", "3000")
    b_row = b.out.splitlines()[1].split("\t")
    assert float(b_row[4]) == pytest.approx(10 * float(a[4]), rel=1e-2)


def test_search_filters_and_max(run):
    """The default pipeline (MSV, bias, Viterbi, Forward filters) reports the
    same strong hits as --max; at -E 1e9 only --max scores every sequence."""
    db = DATA / "example_db.fa"
    model = DATA / "example_family.hmm"
    filtered = run("profile", "search", model, db, "-E", "0.01")
    everything = run("profile", "search", model, db, "-E", "0.01", "--max")
    assert filtered.code == 0 and everything.code == 0
    assert filtered.out == everything.out and len(filtered.out.splitlines()) > 10
    assert "passed MSV" in filtered.err and "passed MSV" not in everything.err
    loose = run("profile", "search", model, db, "-E", "1e9", "-q")
    all_rows = run("profile", "search", model, db, "-E", "1e9", "--max", "-q")
    assert len(all_rows.out.splitlines()) == 301
    assert len(loose.out.splitlines()) < 301
    wide = run("profile", "search", model, db, "-E", "1e9", "--F1", "1", "--F2", "1",
               "--F3", "1", "--nobias", "-q")  # fmt: skip
    assert wide.out == all_rows.out  # every filter open: the same as --max
    bad = run("profile", "search", model, db, "--F1", "0")
    assert bad.code == 2 and "--F1" in bad.err and "> 0" in bad.err


def test_emit(run, tmp_path):
    out = tmp_path / "samples.fa"
    result = run("profile", "emit", DATA / "example_family.hmm", "-N", "7", "-o", out)
    assert result.code == 0, result.err
    seqs = read_sequences(out)
    assert seqs.names == tuple(f"example_family-sample{i}" for i in range(1, 8))
    assert seqs.alphabet.name == "amino"
    again = tmp_path / "again.fa"
    assert run("profile", "emit", DATA / "example_family.hmm", "-N", "7", "-o", again).code == 0
    assert again.read_bytes() == out.read_bytes()  # same default seed, same sequences
    local = run("profile", "emit", DATA / "example_family.hmm", "-N", "50", "--local", "--seed", 3)
    assert local.code == 0 and local.out.count(">") == 50
    # emitted members score like members
    hits = tmp_path / "hits.tsv"
    assert run("profile", "search", DATA / "example_family.hmm", out, "-o", hits).code == 0
    assert len(read_hits(hits)) == 7


# -- bad input -----------------------------------------------------------------


def dna_model(path):
    text = (TUTORIAL / "models" / "MADE1.hmm") if TUTORIAL.exists() else None
    if text is not None:
        path.write_bytes(text.read_bytes())
        return
    import numpy as np

    from seqem.io.hmmer import write_hmmer
    from seqem.profile.model import DNA, ProfileHMM

    t = np.tile([0.9, 0.05, 0.05, 0.5, 0.5, 0.5, 0.5], (4, 1))
    t[3] = [0.95, 0.05, 0.0, 0.5, 0.5, 1.0, 0.0]
    match = np.vstack([np.zeros(4), np.eye(4)[:3] * 0.88 + 0.03])
    write_hmmer(path, ProfileHMM(DNA, match, np.full((4, 4), 0.25), t, name="dna"))


def truncated_hmm(path):
    lines = (DATA / "example_family.hmm").read_text().splitlines(keepends=True)
    path.write_text("".join(lines[: len(lines) // 2]))


def write(content):
    def writer(path):
        path.write_bytes(content)

    return writer


def edited_model(old, new):
    def writer(path):
        text = (DATA / "example_family.hmm").read_text()
        assert old in text
        path.write_text(text.replace(old, new, 1))

    return writer


def family_lines(n):
    """The first ``n`` lines of the example family's unaligned FASTA (4 sequences of
    54 to 58 residues for n = 8)."""
    lines = (DATA / "example_family.fa").read_text().splitlines(keepends=True)
    return write("".join(lines[:n]).encode())


SWISS_SHORT = (
    b"ID   TEST_HUMAN              Reviewed;          20 AA.\n"
    b"AC   P99999;\n"
    b"DE   RecName: Full=Test protein;\n"
    b"SQ   SEQUENCE   20 AA;  2000 MW;  0000000000000000 CRC64;\n"
    b"     MKVLAAGIVG KVLAAGIVG\n"
    b"//\n"
)
TWO_FAMILIES = (
    b"# STOCKHOLM 1.0\n#=GF ID fam\ns1 ACDE\n//\n# STOCKHOLM 1.0\n#=GF ID fam\ns1 ACDE\n//\n"
)

# name: (argv with {db}, {model}, {aln}, {out}; writers of the files; message part)
ERRORS = {
    "unknown_residue_in_db": (
        ["profile", "search", "{model}", "{db}", "-o", "{out}"],
        {"db": write(b">ok\nMKVLAAGIVG\n>bad\nMKVL1AGIVG\n"), "model": None},
        "record 'bad': invalid character '1'",
    ),
    "alphabet_mismatch_dna_model": (
        ["profile", "search", "{model}", "{db}", "-o", "{out}"],
        {"db": None, "model": dna_model},
        "alphabet mismatch",
    ),
    "truncated_hmm": (
        ["profile", "search", "{model}", "{db}", "-o", "{out}"],
        {"db": None, "model": truncated_hmm},
        "{model}",
    ),
    "empty_fasta": (
        ["profile", "search", "{model}", "{db}", "-o", "{out}"],
        {"db": write(b""), "model": None},
        "{db}: empty file",
    ),
    "ragged_alignment": (
        ["profile", "build", "{aln}", "-o", "{out}"],
        {"aln": write(b"# STOCKHOLM 1.0\ns1 ACDEFG\ns2 ACDEF\n//\n")},
        "every row of an alignment needs the same length",
    ),
    "emit_truncated_hmm": (
        ["profile", "emit", "{model}", "-o", "{out}"],
        {"model": truncated_hmm},
        "{model}",
    ),
    "build_name_two_words": (
        ["profile", "build", "{aln}", "--name", "two words", "-o", "{out}"],
        {"aln": None},
        "one word",
    ),
    "build_stockholm_without_end": (
        ["profile", "build", "{aln}", "-o", "{out}"],
        {"aln": write(b"# STOCKHOLM 1.0\ns1 ACDEFG\ns2 ACDEFG\n")},
        "{aln}: file ends without '//' (truncated)",
    ),
    "build_text_after_end": (
        ["profile", "build", "{aln}", "-o", "{out}"],
        {"aln": write(b"# STOCKHOLM 1.0\ns1 ACDEFG\n//\ngarbage\n")},
        "{aln}:4: text after '//' that is not a new '# STOCKHOLM 1.0' header",
    ),
    "build_two_alignments_one_name": (
        ["profile", "build", "{aln}", "-o", "{out}"],
        {"aln": write(TWO_FAMILIES)},
        "{aln}: alignments 1 and 2 of the file are both named 'fam'",
    ),
    "build_name_for_two_alignments": (
        ["profile", "build", "{aln}", "--name", "x", "-o", "{out}"],
        {
            "aln": write(
                TWO_FAMILIES.replace(b"ID fam\ns1 ACDE\n//\n", b"ID other\ns1 ACDE\n//\n", 1)
            )
        },
        "--name names one model, but {aln} holds 2 alignments",
    ),
    "build_id_two_words": (
        ["profile", "build", "{aln}", "-o", "{out}"],
        {"aln": write(b"# STOCKHOLM 1.0\n#=GF ID a b\ns1 ACDEFG\n//\n")},
        "{aln}:2: #=GF ID must be one word",
    ),
    "build_hand_without_rf": (
        ["profile", "build", "{aln}", "--hand", "-o", "{out}"],
        {"aln": write(b"# STOCKHOLM 1.0\ns1 ACDEFG\ns2 ACDEFG\n//\n")},
        "{aln}: --hand takes the consensus columns from a '#=GC RF' line",
    ),
    "build_hand_rf_all_gaps": (
        ["profile", "build", "{aln}", "--hand", "-o", "{out}"],
        {"aln": write(b"# STOCKHOLM 1.0\ns1 ACDEFG\n#=GC RF ......\n//\n")},
        "{aln}: --hand: the '#=GC RF' line of the alignment marks no consensus column",
    ),
    "search_forward_lambda_zero": (
        ["profile", "search", "{model}", "{db}", "-o", "{out}"],
        {"model": edited_model("-5.7627  0.70582", "-5.7627  0"), "db": None},
        "{model}:14: record 'example_family': STATS LOCAL FORWARD lambda must be > 0",
    ),
    "search_msv_lambda_negative": (
        ["profile", "search", "{model}", "{db}", "-o", "{out}"],
        {"model": edited_model("-7.9213  0.70582", "-7.9213  -1"), "db": None},
        "{model}:12: record 'example_family': STATS LOCAL MSV lambda must be > 0",
    ),
    "search_cut_ga_names_the_model_file": (
        ["profile", "search", "--cut_ga", "{model}", "{db}", "-o", "{out}"],
        {"model": None, "db": None},
        "{model}: model 'example_family' has no GA line",
    ),
    "search_stdin_twice": (
        ["profile", "search", "-", "-", "-o", "{out}"],
        {},
        "standard input ('-') cannot be both the model file and the database",
    ),
    "align_stdin_twice": (
        ["profile", "align", "-", "-", "-o", "{out}"],
        {},
        "standard input ('-') cannot be both the model file and the sequences",
    ),
    "search_swiss_prot_shorter_than_sq": (
        ["profile", "search", "{model}", "{db}", "-o", "{out}"],
        {"model": None, "db": write(SWISS_SHORT)},
        "{db}:1: record 'TEST_HUMAN': the SQ line declares 20 residues but the entry's "
        "sequence has 19",
    ),
    "build_tail_mass_one": (
        ["profile", "build", "{aln}", "--Eft", "1", "-o", "{out}"],
        {},
        "--Eft must be between 0 and 1, got 1.0",
    ),
    "build_too_few_forward_sequences": (
        ["profile", "build", "{aln}", "--EfN", "5", "-o", "{out}"],
        {},
        "--EfN must be at least 10 (sequences for a fit), got 5",
    ),
    "train_too_many_simulated_residues": (
        ["profile", "train", "{db}", "--EmN", "1000000", "--EmL", "1000", "-o", "{out}"],
        {"db": family_lines(8)},
        "--EmN x --EmL is 1,000,000,000 residues; at most 100,000,000 are simulated",
    ),
    "align_a2m_duplicate_names": (
        ["profile", "align", "{model}", "{db}", "-o", "{out}.a2m"],
        {"model": None, "db": write(b">a\nACDEFGHIKL\n>a\nMNPQRSTVWY\n")},
        "{db}: record 'a': sequences 1 and 2 have the same name; the rows of an alignment "
        "need unique names: rename one (or write Stockholm, whose rows are then numbered)",
    ),
    "train_model_longer_than_the_sequences": (
        ["profile", "train", "{db}", "-M", "1000", "-o", "{out}"],
        {"db": family_lines(8)},
        "{db}: -M 1000 is too large for sequences of these lengths (longest 58 residues, "
        "median 56.5)",
    ),
    "emit_too_many": (
        ["profile", "emit", "{model}", "-N", str(2**53), "-o", "{out}"],
        {"model": None},
        "out of memory",
    ),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_bad_input_is_one_line_and_no_output(run, tmp_path, case):
    argv, writers, message = ERRORS[case]
    files = {
        "db": DATA / "example_db.fa",
        "model": DATA / "example_family.hmm",
        "aln": DATA / "example_family.sto",
    }
    for key, writer in writers.items():
        if writer is not None:
            files[key] = tmp_path / f"input_{key}"
            writer(files[key])
    out = tmp_path / "out.txt"
    words = [w.format(out=out, **files) for w in argv]
    result = run(*words)
    assert result.code == 1, result.err
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("seqem: error: "), result.err
    assert message.format(**files) in lines[0]
    assert "Traceback" not in result.err
    assert not out.exists() and list(tmp_path.iterdir()) == sorted(
        p for p in tmp_path.iterdir() if p.name.startswith("input_")
    )


# -- HMMER's tutorial data -----------------------------------------------------


@pytest.mark.skipif(not TUTORIAL.exists(), reason="the shared profile reference data is absent")
def test_globins4_search_matches_hmmsearch(run, tmp_path):
    """Reference: ``hmmsearch --cpu 0 --max --nonull2 -E 1e9 --tblout
    globins4_vs_globins45.max_nonull2.tbl globins4.hmm globins45.fa`` (HMMER
    3.3.2): plain Forward scores, printed with %6.1f; we print %.2f and allow
    0.1 bit."""
    ref = {}
    for line in (TUTORIAL / "reference" / "globins4_vs_globins45.max_nonull2.tbl").open():
        if not line.startswith("#"):
            words = line.split()
            ref[words[0]] = (float(words[4]), float(words[5]))
    hits = tmp_path / "hits.tsv"
    result = run("profile", "search", TUTORIAL / "models" / "globins4.hmm",
                 TUTORIAL / "globins45.fa", "-o", hits)  # fmt: skip
    assert result.code == 0, result.err
    rows = read_hits(hits)
    assert len(ref) == 45 and {r[0] for r in rows} == set(ref)
    for name, _, evalue, bits, _ in rows:
        assert bits == pytest.approx(ref[name][1], abs=0.1), name  # printed with %.1f
        assert evalue <= 1e-30


def domain_number_columns(path):
    """The ``exp reg clu ov env dom rep inc`` columns of a --tblout, by target."""
    rows = [line.split() for line in path.open() if not line.startswith("#")]
    return {r[0]: tuple(r[10:18]) for r in rows}


@pytest.mark.skipif(not TUTORIAL.exists(), reason="the shared profile reference data is absent")
@pytest.mark.parametrize("model", ["fn3", "Pkinase"])
def test_domain_number_columns_match_hmmsearch(run, tmp_path, model):
    """``hmmsearch --cpu 0 --tblout MODEL_vs_7LESS.tbl MODEL.hmm 7LESS_DROME``: the
    expected number of domains, regions, clustered regions, overlaps,
    envelopes, domains, reported and included domains are HMMER's (9.8 9 1 0
    9 9 9 7 for the nine fn3 domains of sevenless)."""
    tbl = tmp_path / "s.tbl"
    hmm, target = TUTORIAL / "models" / f"{model}.hmm", TUTORIAL / "7LESS_DROME"
    result = run("profile", "search", hmm, target, "--null2", "--tblout", tbl,
                 "-o", tmp_path / "h.tsv")  # fmt: skip
    assert result.code == 0, result.err
    ref = domain_number_columns(TUTORIAL / "reference" / f"{model}_vs_7LESS.tbl")
    assert domain_number_columns(tbl) == ref
    # the target's accession, from the Swiss-Prot entry's AC line, as hmmsearch prints it
    rows = [line.split() for line in tbl.open() if not line.startswith("#")]
    assert [r[1] for r in rows] == ["P13368"]


@pytest.mark.skipif(not TUTORIAL.exists(), reason="the shared profile reference data is absent")
@pytest.mark.skipif(not shutil.which("hmmsearch"), reason="HMMER's hmmsearch not installed")
def test_dom_z_sets_the_conditional_evalues_as_hmmsearch(run, tmp_path):
    """``--domZ X``: every domain's conditional E-value is its P-value times X (the
    default counts the one reported target, sevenless), and the domains reported
    and included (``rep``, ``inc``) follow, as ``hmmsearch --domZ X`` has them on
    the nine fn3 domains of sevenless."""
    hmm, target = TUTORIAL / "models" / "fn3.hmm", TUTORIAL / "7LESS_DROME"

    def ours(*options):
        tbl, dtbl = tmp_path / "s.tbl", tmp_path / "s.dtbl"
        result = run("profile", "search", "--null2", hmm, target, "--tblout", tbl,
                     "--domtblout", dtbl, "-o", tmp_path / "h.tsv", *options)  # fmt: skip
        assert result.code == 0, result.err
        return tbl, dtbl

    def rows(path):
        return [line.split() for line in path.read_text().splitlines() if line[0] != "#"]

    tbl, dtbl = ours()
    default = [float(r[11]) for r in rows(dtbl)]
    assert len(default) == 9
    tbl, dtbl = ours("--domZ", "5000")
    scaled = [float(r[11]) for r in rows(dtbl)]
    assert len(scaled) < len(default)  # the weakest pass --domE 10 with domZ 1 only
    # both printed to two significant digits
    assert scaled == pytest.approx([e * 5000 for e in default if e * 5000 <= 10], rel=0.1)
    from seqem.cli.profile import read_models, search_models

    hits, _ = search_models(read_models(str(hmm)), str(target), domZ=5000.0, null2=True)
    assert [d.c_evalue for d in hits[0].domains] == [d.pvalue * 5000.0 for d in hits[0].domains]
    theirs_tbl, theirs_dtbl = tmp_path / "h.tbl", tmp_path / "h.dtbl"
    subprocess.run(["hmmsearch", "--cpu", "0", "--domZ", "5000", "--tblout", str(theirs_tbl),
                    "--domtblout", str(theirs_dtbl), "-o", os.devnull, str(hmm), str(target)],
                   check=True)  # fmt: skip
    assert [r[16:18] for r in rows(tbl)] == [r[16:18] for r in rows(theirs_tbl)]
    theirs = [float(r[11]) for r in rows(theirs_dtbl)]
    assert scaled == pytest.approx(theirs, rel=0.1)


@pytest.mark.skipif(not TUTORIAL.exists(), reason="the shared profile reference data is absent")
@pytest.mark.skipif(not shutil.which("hmmsearch"), reason="HMMER's hmmsearch not installed")
@pytest.mark.parametrize(
    "options", [("--incdomT", "20"), ("--incT", "200"), ("--incT", "100", "--incdomT", "10")]
)
def test_inclusion_by_score_as_hmmsearch(run, tmp_path, options):
    """``--incT`` and ``--incdomT`` include sequences and domains by score instead of
    E-value: the ``rep`` and ``inc`` columns of sevenless against fn3 are
    hmmsearch's with the same options (4, 0 and 5 of its nine domains included),
    and ``-A`` saves the included domains."""
    hmm, target = TUTORIAL / "models" / "fn3.hmm", TUTORIAL / "7LESS_DROME"
    ours, theirs, sto = tmp_path / "s.tbl", tmp_path / "h.tbl", tmp_path / "s.sto"
    result = run("profile", "search", "--null2", hmm, target, "--tblout", ours, "-A", sto,
                 "-o", tmp_path / "s.tsv", *options)  # fmt: skip
    assert result.code == 0, result.err
    subprocess.run(["hmmsearch", "--cpu", "0", *options, "--tblout", str(theirs), "-o",
                    os.devnull, str(hmm), str(target)], check=True)  # fmt: skip

    def rep_inc(path):
        return [tuple(line.split()[16:18]) for line in path.open() if line[0] != "#"]

    assert rep_inc(ours) == rep_inc(theirs)
    included = int(rep_inc(ours)[0][1])
    rows = {line.split()[0] for line in sto.open() if line.strip() and line[0] not in "#/"}
    assert len(rows) == included


@pytest.mark.skipif(not TUTORIAL.exists(), reason="the shared profile reference data is absent")
def test_a_database_searched_in_pieces_with_z_and_dom_z_gives_one_search(run, tmp_path):
    """The 45 globins in two pieces, each searched with ``-Z 45 --domZ 45``: the
    two domain tables hold the lines of one search of all 45 with the same
    options; without ``--domZ`` each piece's conditional E-values count only its
    own reported targets."""
    hmm = TUTORIAL / "models" / "globins4.hmm"
    records = (TUTORIAL / "globins45.fa").read_text().split(">")[1:]
    pieces = [tmp_path / "a.fa", tmp_path / "b.fa"]
    pieces[0].write_text("".join(">" + r for r in records[:20]))
    pieces[1].write_text("".join(">" + r for r in records[20:]))

    def lines(db, *options):
        dtbl = tmp_path / "s.dtbl"
        result = run("profile", "search", hmm, db, "--domtblout", dtbl, "-Z", "45",
                     "-o", tmp_path / "h.tsv", *options)  # fmt: skip
        assert result.code == 0, result.err
        return sorted(line for line in dtbl.read_text().splitlines() if line[0] != "#")

    whole = lines(TUTORIAL / "globins45.fa", "--domZ", "45")
    assert len(whole) == 45
    assert sorted(lines(pieces[0], "--domZ", "45") + lines(pieces[1], "--domZ", "45")) == whole
    assert sorted(lines(pieces[0]) + lines(pieces[1])) != sorted(lines(TUTORIAL / "globins45.fa"))


@pytest.mark.skipif(not TUTORIAL.exists(), reason="the shared profile reference data is absent")
def test_domains_of_several_equal_hmmsearch(run, tmp_path):
    """The nine fn3 domains of sevenless (the tutorial's reference table of
    ``hmmsearch fn3.hmm 7LESS_DROME``): every domain column is HMMER's, envelopes,
    alignment and model coordinates, E-values, scores, bias and ``acc`` (the
    optimal-accuracy score over the envelope length, flanking residues
    included).  Only the whole sequence's bias differs: HMMER takes the
    composition of the region holding several domains from sampled paths."""
    dtbl = tmp_path / "s.dtbl"
    result = run("profile", "search", "--null2", TUTORIAL / "models" / "fn3.hmm",
                 TUTORIAL / "7LESS_DROME", "--domtblout", dtbl,
                 "-o", tmp_path / "h.tsv")  # fmt: skip

    def domain_columns(path):
        rows = [line.split() for line in path.read_text().splitlines() if line[0] != "#"]
        return [r[:6] + r[9:11] + r[13:22] for r in rows], [r[11:13] for r in rows]

    assert result.code == 0, result.err
    ours, our_evalues = domain_columns(dtbl)
    theirs, their_evalues = domain_columns(TUTORIAL / "reference" / "fn3_vs_7LESS.domtbl")
    assert len(ours) == 9
    assert ours == theirs
    # E-values to their two printed digits (one ends 9.9e-05 here, 9.8e-05 there)
    assert np.array(our_evalues, float) == pytest.approx(np.array(their_evalues, float), rel=0.02)


@pytest.mark.skipif(not TUTORIAL.exists(), reason="the shared profile reference data is absent")
def test_tables_equal_hmmsearch_byte_for_byte(run, tmp_path):
    """``hmmsearch --cpu 0 --tblout --domtblout Pkinase.hmm 7LESS_DROME`` (HMMER
    3.3.2, the tutorial's reference tables): with --null2 every data line of
    both tables is the same text, the Swiss-Prot accession and description
    (its DE lines joined as hmmsearch joins them) included."""

    def data(path):
        return [line for line in path.read_text().splitlines() if not line.startswith("#")]

    tbl, dtbl = tmp_path / "s.tbl", tmp_path / "s.dtbl"
    result = run("profile", "search", "--null2", TUTORIAL / "models" / "Pkinase.hmm",
                 TUTORIAL / "7LESS_DROME", "--tblout", tbl, "--domtblout", dtbl,
                 "-o", tmp_path / "h.tsv")  # fmt: skip
    assert result.code == 0, result.err
    assert data(tbl) == data(TUTORIAL / "reference" / "Pkinase_vs_7LESS.tbl")
    assert data(dtbl) == data(TUTORIAL / "reference" / "Pkinase_vs_7LESS.domtbl")
    assert len(data(tbl)) == 1 and len(data(dtbl)) == 1


@pytest.mark.skipif(not SHARED.exists(), reason="the shared profile benchmark data is absent")
@pytest.mark.skipif(not shutil.which("hmmsearch"), reason="HMMER's hmmsearch not installed")
def test_domain_number_columns_on_the_benchmark_database(run, tmp_path):
    """hmmbuild's fn3 model against ``bench/db.fa``, default pipelines on both
    sides (``hmmsearch --cpu 0 -Z 4368``; seqem with --null2): hmmsearch's 68
    targets and one more (a fragment that hmmsearch's filters stop and its
    ``--max`` search reports at the same E-value, 0.0078) and, of the common
    ones, the same ``inc`` everywhere; all eight domain-number columns agree
    on 67 of 68 (measured; the other is a fragment where hmmsearch's
    sampled-path clustering keeps two envelopes that seqem merges)."""
    model = SHARED / "bench" / "reference" / "fn3" / "hmmbuild.hmm"
    db = SHARED / "bench" / "db.fa"
    theirs, ours = tmp_path / "h.tbl", tmp_path / "s.tbl"
    subprocess.run(["hmmsearch", "--cpu", "0", "-Z", "4368", "--tblout", str(theirs),
                    "-o", os.devnull, str(model), str(db)], check=True)  # fmt: skip
    result = run("profile", "search", model, db, "-Z", "4368", "--null2", "--tblout", ours,
                 "-o", tmp_path / "h.tsv")  # fmt: skip
    assert result.code == 0, result.err
    ref, got = domain_number_columns(theirs), domain_number_columns(ours)
    common = set(ref) & set(got)
    assert len(common) >= 0.98 * len(ref)
    assert all(got[t][7] == ref[t][7] for t in common)
    assert sum(got[t] == ref[t] for t in common) >= 0.95 * len(common)


def stockholm_places(path):
    """Rows of a Stockholm file (blocks joined) as {name: [(residue, column)]}: the
    match column (1-based among the RF columns) of each residue, or minus one
    less the match columns before an inserted one."""
    rows, rf, pp = {}, "", {}
    for line in path.open():
        if line.startswith("#=GC RF"):
            rf += line.split()[2]
        elif line.startswith("#=GR") and line.split()[2] == "PP":
            name, text = line.split()[1], line.split()[3]
            pp[name] = pp.get(name, "") + text
        elif line.strip() and not line.startswith(("#", "//")):
            name, text = line.split()
            rows[name] = rows.get(name, "") + text
    out = {}
    for name, text in rows.items():
        col, res, places = 0, 0, []
        for c, x in zip(text, rf, strict=True):
            col += x == "x"
            if c.isalpha():
                places.append((res, col if x == "x" else -col - 1))
                res += 1
        codes = "".join(q for c, q in zip(text, pp.get(name, ""), strict=False) if c.isalpha())
        out[name] = (places, "".join(c for c in text if c.isalpha()).upper(), codes)
    return out


def column_pairs(places):
    """Pairs of residues of two rows in the same match column."""
    by_col: dict = {}
    for name, (cols, _, _) in places.items():
        for i, c in cols:
            if c > 0:
                by_col.setdefault(c, []).append((name, i))
    return {(a, b) for members in by_col.values() for a in members for b in members if a < b}


@pytest.mark.skipif(not TUTORIAL.exists(), reason="the shared profile reference data is absent")
@pytest.mark.skipif(not shutil.which("hmmsearch"), reason="HMMER's hmmsearch not installed")
@pytest.mark.parametrize(
    "model,target,options",
    [
        ("fn3", "7LESS_DROME", []),
        ("fn3", "7LESS_DROME", ["--incdomE", "1"]),  # all nine domains
        ("Pkinase", "7LESS_DROME", []),
        ("globins4", "globins45.fa", []),
    ],
)
def test_domain_alignment_equals_hmmsearch_A(run, tmp_path, model, target, options):
    """``hmmsearch -A``: the same included domains (rows named TARGET/FROM-TO),
    the same residues, every residue in the same match column or insert
    (measured: all 1,175 residue pairs of the seven fn3 domains of
    sevenless, all 139,365 of the 45 globins) with the same posterior
    probability code; and the rows themselves, laid out as HMMER lays them
    out, are the same text."""
    hmm = TUTORIAL / "models" / f"{model}.hmm"
    theirs, ours = tmp_path / "h.sto", tmp_path / "s.sto"
    subprocess.run(["hmmsearch", "--cpu", "0", *options, "-A", str(theirs), "-o", os.devnull,
                    str(hmm), str(TUTORIAL / target)], check=True)  # fmt: skip
    result = run("profile", "search", *options, hmm, TUTORIAL / target, "-A", ours,
                 "-o", tmp_path / "h.tsv")  # fmt: skip
    assert result.code == 0, result.err
    a, b = stockholm_places(theirs), stockholm_places(ours)
    assert set(a) == set(b) and len(a) >= 1
    assert len(a) == 9 or "--incdomE" not in options
    assert all(a[n][1] == b[n][1] for n in a)  # residues
    assert column_pairs(a) == column_pairs(b)
    inserted = {(n, i) for n, (cols, _, _) in a.items() for i, c in cols if c < 0}
    assert inserted == {(n, i) for n, (cols, _, _) in b.items() for i, c in cols if c < 0}
    assert f"#=GF ID {model}" in ours.read_text()
    # each residue's posterior probability code (#=GR PP), as hmmsearch writes it
    assert all(a[n][2] == b[n][2] and len(b[n][2]) == len(b[n][1]) for n in a)
    assert stockholm_rows(ours) == stockholm_rows(theirs)


def stockholm_rows(path):
    """Rows (blocks joined) and the RF and PP lines of a Stockholm file, by name."""
    rows: dict = {}
    for line in path.open():
        words = line.split()
        if line.startswith("#=GC RF"):
            rows["RF"] = rows.get("RF", "") + words[2]
        elif line.startswith("#=GR") and words[2] == "PP":
            rows[("PP", words[1])] = rows.get(("PP", words[1]), "") + words[3]
        elif line.strip() and not line.startswith(("#", "//")):
            rows[words[0]] = rows.get(words[0], "") + words[1]
    return rows


def consensus_line(path):
    """The ``#=GC PP_cons`` line of a Stockholm file (blocks joined)."""
    return "".join(line.split()[2] for line in path.open() if line.startswith("#=GC PP_cons"))


@pytest.mark.skipif(not SHARED.exists(), reason="the shared profile benchmark data is absent")
@pytest.mark.skipif(not shutil.which("hmmalign"), reason="HMMER's hmmalign not installed")
def test_local_alignment_equals_hmmalign(run, tmp_path):
    """``hmmalign`` (unihit local, optimal accuracy) of the 50 fn3 test domains to
    hmmbuild's model: ``seqem profile align --local`` writes the same rows,
    residue for residue and gap for gap, the same RF line and the same
    posterior probability codes (measured: all 50 rows identical)."""
    model = SHARED / "bench" / "reference" / "fn3" / "hmmbuild.hmm"
    seqs = SHARED / "bench" / "fn3" / "test_domains.fa"
    theirs, ours = tmp_path / "h.sto", tmp_path / "s.sto"
    subprocess.run(["hmmalign", "-o", str(theirs), str(model), str(seqs)], check=True)
    result = run("profile", "align", "--local", model, seqs, "-o", ours)
    assert result.code == 0, result.err
    assert stockholm_rows(ours) == stockholm_rows(theirs)
    assert len(stockholm_rows(ours)) == 2 * 50 + 1
    # the consensus posterior line: each match column's mean posterior, as hmmalign's
    assert consensus_line(ours) == consensus_line(theirs)
    assert len(consensus_line(ours)) == len(stockholm_rows(ours)["RF"])


@pytest.mark.skipif(not SHARED.exists(), reason="the shared profile benchmark data is absent")
@pytest.mark.skipif(not shutil.which("hmmalign"), reason="HMMER's hmmalign not installed")
def test_trimmed_alignment_equals_hmmalign_trim(run, tmp_path):
    """``hmmalign --trim``: without the flanks the model leaves unaligned, the same
    rows, RF line and posterior codes (the 50 fn3 test domains, hmmbuild's model);
    the trimmed A2M rows hold no residue outside the model's first and last node."""
    model = SHARED / "bench" / "reference" / "fn3" / "hmmbuild.hmm"
    seqs = SHARED / "bench" / "fn3" / "test_domains.fa"
    theirs, ours = tmp_path / "h.sto", tmp_path / "s.sto"
    subprocess.run(["hmmalign", "--trim", "-o", str(theirs), str(model), str(seqs)], check=True)
    result = run("profile", "align", "--local", "--trim", model, seqs, "-o", ours)
    assert result.code == 0, result.err
    assert stockholm_rows(ours) == stockholm_rows(theirs)
    assert consensus_line(ours) == consensus_line(theirs) != ""
    untrimmed = tmp_path / "u.sto"
    assert run("profile", "align", "--local", model, seqs, "-o", untrimmed).code == 0
    assert stockholm_rows(untrimmed) != stockholm_rows(ours)
    a2m = tmp_path / "s.a2m"
    assert run("profile", "align", "--trim", model, seqs, "-o", a2m).code == 0
    for record in a2m.read_text().split(">")[1:]:
        row = "".join(record.splitlines()[1:])
        assert not row[0].islower() and not row[-1].islower()


def test_domain_alignment_empty_when_nothing_is_included(run, tmp_path):
    out = tmp_path / "a.sto"
    result = run("profile", "search", DATA / "example_family.hmm", DATA / "example_db.fa",
                 "-E", "1e-300", "-A", out, "-o", tmp_path / "h.tsv")  # fmt: skip
    assert result.code == 0, result.err
    assert out.read_text() == "" and "inclusion thresholds" in result.err


def fasta_records(path):
    """The records of a FASTA file as ``{name: text of the record}``, in order."""
    return {chunk.split()[0]: ">" + chunk for chunk in path.read_text().split(">")[1:]}


def test_domain_alignment_numbers_rows_whose_names_are_not_unique(run, tmp_path):
    """A database holding one sequence twice under one name gives two included
    domains named TARGET/FROM-TO alike, which Stockholm cannot hold: as hmmsearch
    -A does (Easel's writer), every row of the block is numbered ``N|`` (from 0)
    and a line says so; the search and its other outputs are unchanged, and the
    file reads back.  A target named like markup (``#...``) is numbered too (where
    hmmsearch would write a file that does not read back)."""
    from seqem.io.msa import read_msa

    members = [r for n, r in fasta_records(DATA / "example_db.fa").items()
               if n.startswith("member")]  # fmt: skip
    once, twice = tmp_path / "once.fa", tmp_path / "twice.fa"
    once.write_text(members[0] + members[1])
    twice.write_text(members[0] + members[0] + members[1])
    results = {}
    for db in (once, twice):
        sto = tmp_path / f"{db.stem}.sto"
        result = run("profile", "search", DATA / "example_family.hmm", db, "-A", sto,
                     "-Z", 3, "-o", tmp_path / f"{db.stem}.tsv")  # fmt: skip
        assert result.code == 0, result.err
        results[db.stem] = (result, stockholm_rows(sto), sto)
    plain, numbered = results["once"][1], results["twice"][1]
    assert numbered["RF"] == plain["RF"]
    names = [n for n in plain if isinstance(n, str) and n != "RF"]
    assert len(names) == 2 and not any("|" in n for n in names)
    first = next(n for n in names if n.startswith(members[0][1:].split()[0] + "/"))
    # the first record's row twice and the second's, each numbered by its place
    rows = [n for n in numbered if isinstance(n, str) and n != "RF"]
    assert [n.split("|", 1)[0] for n in rows] == ["0", "1", "2"]
    assert sorted(n.split("|", 1)[1] for n in rows) == sorted([first, *names])
    for n in rows:
        assert numbered[n] == plain[n.split("|", 1)[1]]
        assert numbered[("PP", n)] == plain[("PP", n.split("|", 1)[1])]
    text = results["twice"][2].read_text().splitlines()
    assert text[:2] == ["# STOCKHOLM 1.0", UNIQUE_NOTE]
    assert read_msa(results["twice"][2]).names == tuple(rows)
    err = results["twice"][0].err
    assert f"two rows would be named '{first}'" in err and "numbered N|TARGET/FROM-TO" in err
    assert (tmp_path / "once.tsv").read_text().count("\n") + 1 == (
        tmp_path / "twice.tsv").read_text().count("\n")  # fmt: skip
    # a name that Stockholm would read as markup
    marked = tmp_path / "marked.fa"
    marked.write_text(members[0].replace(">", ">#", 1))
    result = run("profile", "search", DATA / "example_family.hmm", marked, "-A",
                 tmp_path / "m.sto", "-o", tmp_path / "m.tsv")  # fmt: skip
    assert result.code == 0, result.err
    names = read_msa(tmp_path / "m.sto").names
    assert len(names) == 1 and names[0].startswith("0|#member")


UNIQUE_NOTE = '# WARNING: seq names have been made unique by adding a prefix of "<seq#>|"'


@pytest.mark.parametrize(
    "names,reason",
    [
        (["a", "b", "a"], "two rows would be named 'a'"),
        (["a", "#=GC"], "the row name '#=GC' would not read back as a name"),
        (["//", "b"], "the row name '//' would not read back as a name"),
    ],
)
def test_align_numbers_stockholm_rows_whose_names_cannot_name_them(run, tmp_path, names, reason):
    """As hmmalign (Easel's Stockholm writer) numbers the rows of sequences that share
    a name, ``N|NAME`` from 0 with a note after the header, so does ``seqem profile
    align``; a name Stockholm would read as markup or as the end is numbered too, so
    the file reads back.  The alignment itself is the one of the names as given."""
    from seqem.io.msa import read_msa

    members = [r.split("\n", 1)[1] for r in fasta_records(DATA / "example_family.fa").values()]
    db = tmp_path / "db.fa"
    db.write_text("".join(f">{n}\n{members[i]}" for i, n in enumerate(names)))
    plain = tmp_path / "plain.fa"
    plain.write_text("".join(f">s{i}\n{members[i]}" for i in range(len(names))))
    result = run("profile", "align", DATA / "example_family.hmm", db, "-o", tmp_path / "n.sto")
    assert result.code == 0, result.err
    assert reason in result.err and "numbered N|NAME" in result.err
    assert run("profile", "align", DATA / "example_family.hmm", plain, "-o",
               tmp_path / "p.sto").code == 0  # fmt: skip
    text = (tmp_path / "n.sto").read_text().splitlines()
    assert text[:2] == ["# STOCKHOLM 1.0", UNIQUE_NOTE]
    numbered, reference = read_msa(tmp_path / "n.sto"), read_msa(tmp_path / "p.sto")
    assert numbered.names == tuple(f"{i}|{n}" for i, n in enumerate(names))
    assert [bytes(r) for r in numbered.rows] == [bytes(r) for r in reference.rows]


@pytest.mark.skipif(not shutil.which("hmmalign"), reason="HMMER's hmmalign not installed")
def test_align_row_names_equal_hmmalign_for_shared_names(run, tmp_path):
    """Reference: ``hmmalign data/example_family.hmm twice.fa`` (HMMER 3.3.2) with the
    first member twice: the same numbered row names and note."""
    from seqem.io.msa import read_msa

    records = list(fasta_records(DATA / "example_family.fa").values())
    db = tmp_path / "twice.fa"
    db.write_text(records[0] + records[1] + records[0])
    theirs = tmp_path / "h.sto"
    with theirs.open("w") as fh:
        subprocess.run(["hmmalign", str(DATA / "example_family.hmm"), str(db)], stdout=fh,
                       check=True)  # fmt: skip
    ours = tmp_path / "s.sto"
    assert run("profile", "align", DATA / "example_family.hmm", db, "-o", ours).code == 0
    assert read_msa(ours).names == read_msa(theirs).names
    assert theirs.read_text().splitlines()[1] == ours.read_text().splitlines()[1] == UNIQUE_NOTE


@pytest.mark.skipif(not shutil.which("hmmsearch"), reason="HMMER's hmmsearch not installed")
def test_domain_alignment_of_records_sharing_a_name_equals_hmmsearch_A(run, tmp_path):
    """Reference: ``hmmsearch -Z 4 -A h.sto -o h.out data/example_family.hmm
    twice.fa`` (HMMER 3.3.2), the database the first member twice and two more
    members: the same numbered rows, residue for residue, with the same
    posterior probability codes and RF line, and the same note after the header."""
    members = [r for n, r in fasta_records(DATA / "example_db.fa").items()
               if n.startswith("member")]  # fmt: skip
    db = tmp_path / "twice.fa"
    db.write_text(members[0] + members[1] + members[0] + members[2])
    theirs, ours = tmp_path / "h.sto", tmp_path / "s.sto"
    subprocess.run(["hmmsearch", "--cpu", "0", "-Z", "4", "-A", str(theirs), "-o",
                    str(tmp_path / "h.out"), str(DATA / "example_family.hmm"), str(db)],
                   check=True)  # fmt: skip
    result = run("profile", "search", DATA / "example_family.hmm", db, "-Z", 4, "-A", ours,
                 "-o", tmp_path / "s.tsv")  # fmt: skip
    assert result.code == 0, result.err
    rows = stockholm_rows(ours)
    assert rows == stockholm_rows(theirs)
    assert sum(isinstance(n, str) and "|" in n for n in rows) == 4
    assert theirs.read_text().splitlines()[1] == ours.read_text().splitlines()[1] == UNIQUE_NOTE


@pytest.mark.skipif(not TUTORIAL.exists(), reason="the shared profile reference data is absent")
def test_null2_matches_hmmsearch_default_scores(run, tmp_path):
    """Reference: ``hmmsearch --cpu 0 --tblout globins4_vs_globins45.tbl
    --domtblout globins4_vs_globins45.domtbl globins4.hmm globins45.fa``
    (HMMER 3.3.2's default pipeline, null2 on): with --null2 every sequence
    score, sequence bias, domain score and domain bias equals HMMER's as
    printed (one decimal)."""

    def table(path, columns):
        rows = {}
        for line in path.open():
            if not line.startswith("#"):
                words = line.split()
                rows[words[0]] = tuple(float(words[c]) for c in columns)
        return rows

    tbl, domtbl = tmp_path / "s.tbl", tmp_path / "s.domtbl"
    result = run("profile", "search", TUTORIAL / "models" / "globins4.hmm",
                 TUTORIAL / "globins45.fa", "--null2", "--tblout", tbl, "--domtblout", domtbl,
                 "-o", tmp_path / "hits.tsv")  # fmt: skip
    assert result.code == 0, result.err
    ref = table(TUTORIAL / "reference" / "globins4_vs_globins45.tbl", (5, 6))
    ours = table(tbl, (5, 6))
    assert set(ours) == set(ref) and len(ref) == 45
    for name, (score, bias) in ref.items():
        assert ours[name][0] == pytest.approx(score, abs=0.051), name
        assert ours[name][1] == pytest.approx(bias, abs=0.051), name
    assert max(b for _, b in ref.values()) >= 2.0  # some sequences are corrected
    ref_dom = table(TUTORIAL / "reference" / "globins4_vs_globins45.domtbl", (13, 14))
    ours_dom = table(domtbl, (13, 14))
    for name, (score, bias) in ref_dom.items():
        assert ours_dom[name] == pytest.approx((score, bias), abs=0.051), name
    # without --null2 the scores are the plain Forward scores (bias 0)
    plain = tmp_path / "plain.tbl"
    run("profile", "search", TUTORIAL / "models" / "globins4.hmm", TUTORIAL / "globins45.fa",
        "--tblout", plain, "-o", tmp_path / "h2.tsv")  # fmt: skip
    assert all(b == 0.0 for _, b in table(plain, (5, 6)).values())
    # the threshold applies to corrected scores: MYG_ESCGI scores 217.0
    # uncorrected and 214.0 after its 3.0-bit correction
    for flags, present in (((), True), (("--null2",), False)):
        out = tmp_path / "t.tsv"
        run("profile", "search", TUTORIAL / "models" / "globins4.hmm", TUTORIAL / "globins45.fa",
            "-T", "215.5", *flags, "-o", out)  # fmt: skip
        assert ("MYG_ESCGI" in {r[0] for r in read_hits(out)}) is present


def test_null2_bias_grows_with_composition_bias():
    """The correction is about 0 for a background-like sequence and large for
    a sequence made of one residue the model likes."""
    import numpy as np

    from seqem.profile.domains import null2_bias

    assert float(null2_bias(0.0)) == pytest.approx(np.log2(1 + 1 / 256))
    assert float(null2_bias(-50.0)) == pytest.approx(0.0, abs=1e-12)
    assert float(null2_bias(100.0)) == pytest.approx((100 - 8 * np.log(2)) / np.log(2), rel=1e-6)


# -- the example data ------------------------------------------------------------


@pytest.mark.parametrize("name", PROFILE_OUTPUTS)
def test_package_copy_is_identical(name):
    assert (DATA / name).read_bytes() == (REPO / "seqem" / "data" / name).read_bytes()


def test_make_profile_data_reproduces_the_files(tmp_path):
    proc = subprocess.run(
        [PYTHON, str(DATA / "make_profile_data.py"), "--outdir", str(tmp_path),
         "--no-package-copy"],
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    for name in PROFILE_OUTPUTS:
        made, kept = (tmp_path / name).read_bytes(), (DATA / name).read_bytes()
        if name.endswith(".hmm"):  # the first line names the seqem version that wrote it
            made, kept = made.split(b"\n", 1)[1], kept.split(b"\n", 1)[1]
        assert made == kept, name


def test_search_writes_hmmer_tables(run, tmp_path):
    """--tblout/--domtblout: HMMER's columns; every member's envelope covers
    most of its true (embedded) domain."""
    from seqem.io.hmmer_tables import read_hmmer_table

    tbl, dom = tmp_path / "h.tbl", tmp_path / "h.domtbl"
    model, db = DATA / "example_family.hmm", DATA / "example_db.fa"
    options = ["-E", "0.01", "--tblout", tbl, "--domtblout", dom, "-o", tmp_path / "h.tsv"]
    result = run("profile", "search", model, db, *options)
    assert result.code == 0, result.err
    seq_rows = read_hmmer_table(tbl, "tblout")
    dom_rows = read_hmmer_table(dom, "domtblout")
    assert len(seq_rows) >= 30
    rows = [line.split("\t") for line in (DATA / "example_db_truth.tsv").read_text().splitlines()]
    true = {r[0]: (int(r[2]), int(r[3])) for r in rows[1:] if r[1] == "member"}
    best = {}
    for r in dom_rows:
        name = r["target_name"] if isinstance(r, dict) else r[0]
        env = (
            (int(r["env_from"]), int(r["env_to"]))
            if isinstance(r, dict)
            else (int(r[19]), int(r[20]))
        )
        best.setdefault(name, []).append(env)
    for name, (start, end) in true.items():
        covered = max(min(end, b) - max(start, a) + 1 for a, b in best[name])
        assert covered >= 0.8 * (end - start + 1), (name, best[name], (start, end))


def test_align_writes_stockholm_and_a2m(run, tmp_path):
    sto, a2m = tmp_path / "a.sto", tmp_path / "a.a2m"
    model, seqs = DATA / "example_family.hmm", DATA / "example_family.fa"
    assert run("profile", "align", model, seqs, "-o", sto).code == 0
    assert run("profile", "align", model, seqs, "--viterbi", "-o", a2m).code == 0
    assert sto.read_text().startswith("# STOCKHOLM 1.0") and "#=GC RF" in sto.read_text()
    assert a2m.read_text().startswith(">")
    bad = tmp_path / "dna.fa"
    bad.write_text(">x\nACGTACGTACGTACGTACGT\n")
    result = run("profile", "align", model, bad, "-o", tmp_path / "x.sto")
    assert result.code == 1 and result.err.count("\n") == 1
    assert not (tmp_path / "x.sto").exists()


def test_search_reads_from_bam(run, tmp_path):
    """A DNA model searched against reads of a BAM file: the reads emitted
    from the model are found, random reads are not."""
    import numpy as np
    import pysam

    from seqem.io.hmmer import write_hmmer
    from seqem.profile.calibrate import calibrate
    from seqem.profile.emit import emit
    from seqem.profile.model import DNA, ProfileHMM

    rng = np.random.default_rng(7)
    M = 40
    match = np.zeros((M + 1, 4))
    match[1:] = rng.dirichlet(np.full(4, 0.05), size=M)  # a sharp family: reads stand out
    insert = np.full((M + 1, 4), 0.25)
    t = np.tile([0.96, 0.02, 0.02, 0.5, 0.5, 0.7, 0.3], (M + 1, 1))
    t[0, 5:7] = (1.0, 0.0)
    t[M] = (0.98, 0.02, 0.0, 0.5, 0.5, 1.0, 0.0)
    hmm = ProfileHMM(DNA, match, insert, t, name="dnafam")
    calibrate(hmm)
    model = tmp_path / "dna.hmm"
    write_hmmer(model, [hmm])
    family = emit(hmm, 5, random_state=1)
    seqs = family[0] if isinstance(family, tuple) else family
    header = pysam.AlignmentHeader.from_dict({"HD": {"VN": "1.6", "SO": "unsorted"}})
    bam = tmp_path / "reads.bam"
    with pysam.AlignmentFile(str(bam), "wb", header=header) as out:
        reads = [(f"fam{i}", seqs.text(i)) for i in range(5)]
        reads += [(f"rnd{i}", "".join(rng.choice(list("ACGT"), size=60))) for i in range(20)]
        for name, text in reads:
            rec = pysam.AlignedSegment(header)
            rec.query_name = name
            rec.query_sequence = text
            rec.flag = 4
            rec.query_qualities = pysam.qualitystring_to_array("I" * len(text))
            out.write(rec)
    hits = tmp_path / "hits.tsv"
    result = run("profile", "search", model, bam, "-E", "1e9", "--max", "-o", hits)
    assert result.code == 0, result.err
    rows = [line.split("\t") for line in hits.read_text().splitlines()[1:]]
    assert len(rows) == 25  # every read scored
    ranked = [r[0] for r in rows]  # sorted by E-value
    assert set(ranked[:5]) == {f"fam{i}" for i in range(5)}
    assert all(float(r[4]) > 0.01 for r in rows if r[0].startswith("rnd"))
    protein = run("profile", "search", DATA / "example_family.hmm", bam, "-o", tmp_path / "x.tsv")
    assert protein.code == 1 and "alphabet mismatch" in protein.err


@pytest.mark.parametrize(
    "options",
    [
        {"evalue": 0.01},
        {"evalue": 10.0, "max_hits": 12},
        {"bits": 15.0},
        {"evalue": 1e9, "Z": 4368},
        {"evalue": 0.0},
    ],
)
def test_search_domains_equal_define_domains_of_each_hit(options):
    """search_models(domains=True) reports the hits of the search without
    domains in which define_domains finds a domain (as hmmsearch, which drops
    the others), each with those domains (domZ = hits reported)."""
    from seqem.cli.profile import search_models
    from seqem.profile.domains import define_domains
    from seqem.profile.search import configure

    model, db = str(DATA / "example_family.hmm"), str(DATA / "example_db.fa")
    (hmm,) = read_hmmer(model)
    unlimited = {k: v for k, v in options.items() if k != "max_hits"}
    plain, n_seq = search_models([hmm], db, threads=1, **unlimited)
    hits, _ = search_models([hmm], db, threads=2, domains=True, **options)
    seqs = read_sequences(db, hmm.alphabet)
    index = {name: i for i, name in enumerate(seqs.names)}
    prof = configure(hmm)
    z = options.get("Z", n_seq)
    with_domains = [
        h
        for h in plain
        if define_domains(prof, seqs.sequence(index[h.target_name]), hmm.stats, Z=z)
    ]
    if options.get("evalue") == 1e9:
        assert len(with_domains) < len(plain)  # sequences without a domain exist here
    assert [(h.target_name, h.bits, h.evalue) for h in hits] == [
        (h.target_name, h.bits, h.evalue) for h in with_domains[: options.get("max_hits")]
    ]
    for h in hits:
        ref = define_domains(prof, seqs.sequence(index[h.target_name]), hmm.stats, Z=z,
                             domZ=max(1, len(hits)))  # fmt: skip
        assert h.domains is not None and len(h.domains) == len(ref)
        for d, r in zip(h.domains, ref, strict=True):
            assert (d.env_from, d.env_to, d.ali_from, d.ali_to, d.hmm_from, d.hmm_to) == (
                r.env_from, r.env_to, r.ali_from, r.ali_to, r.hmm_from, r.hmm_to,
            )  # fmt: skip
            assert d.bitscore == pytest.approx(r.bitscore, abs=1e-10)
            assert d.c_evalue == pytest.approx(r.c_evalue, rel=1e-10)


def test_reporting_floor_from_thresholds():
    import math

    from seqem.cli.profile import _min_bits
    from seqem.profile.calibrate import forward_pvalue

    tau, lam, Z = -3.0, 0.7, 500
    floor = _min_bits(0.01, None, Z, tau, lam)
    assert Z * forward_pvalue(floor, tau, lam) == pytest.approx(0.01)
    assert _min_bits(1e9, None, Z, tau, lam) == -math.inf
    assert _min_bits(0.0, None, Z, tau, lam) == math.inf
    assert _min_bits(10.0, 25.0, Z, tau, lam) == 25.0


@pytest.mark.skipif(not SHARED.exists(), reason="the shared profile reference data is absent")
@pytest.mark.skipif(shutil.which("hmmsearch") is None, reason="HMMER's hmmsearch not installed")
@pytest.mark.parametrize("model", ["bench/fullmodels/fn3.hmm", "tutorial/models/Pkinase.hmm"])
def test_cut_ga_matches_hmmsearch(run, tmp_path, model):
    """Pfam's gathering cutoffs (GA lines) on the benchmark database: the
    same sequences and the same number of domains as hmmsearch --cut_ga
    (seqem with --null2, HMMER's default scoring)."""
    path, db = SHARED / model, SHARED / "bench" / "db.fa"
    subprocess.run(
        ["hmmsearch", "--cut_ga", "--cpu", "0", "--tblout", str(tmp_path / "h.tbl"),
         "--domtblout", str(tmp_path / "h.dtbl"), "-o", str(tmp_path / "h.out"), str(path),
         str(db)],
        check=True,
    )  # fmt: skip
    result = run("profile", "search", "--cut_ga", "--null2", path, db,
                 "--tblout", tmp_path / "s.tbl", "--domtblout", tmp_path / "s.dtbl",
                 "-o", tmp_path / "s.tsv")  # fmt: skip
    assert result.code == 0, result.err
    assert "GA cutoffs" in result.err

    def rows(name):
        return [line.split() for line in open(tmp_path / name) if not line.startswith("#")]

    theirs, ours = rows("h.tbl"), rows("s.tbl")
    assert len(theirs) > 20 and {r[0] for r in ours} == {r[0] for r in theirs}
    assert len(rows("s.dtbl")) == len(rows("h.dtbl"))
    (hmm,) = read_hmmer(path)
    assert all(float(r[13]) >= hmm.meta["GA"][1] for r in rows("s.dtbl"))


def test_cut_ga_needs_the_lines(run, tmp_path):
    db, model = DATA / "example_db.fa", DATA / "example_family.hmm"
    result = run("profile", "search", "--cut_ga", model, db, "-o", tmp_path / "x.tsv")
    assert result.code == 1 and "has no GA line" in result.err
    assert len(result.err.strip().splitlines()) == 1 and not (tmp_path / "x.tsv").exists()
    both = run("profile", "search", "--cut_ga", "--cut_tc", model, db)
    assert both.code == 2 and "not allowed with" in both.err


def test_cli_press_then_search(run, tmp_path):
    from seqem.io.pressed import pressed_path, read_pressed

    model = tmp_path / "family.hmm"
    shutil.copy(DATA / "example_family.hmm", model)
    db = DATA / "example_db.fa"
    before = run("profile", "search", model, db, "-E", "0.01").out
    result = run("profile", "press", model)
    assert result.code == 0, result.err
    assert "1 model(s)" in result.err and os.path.exists(pressed_path(model))
    assert read_pressed(model) is not None
    assert run("profile", "search", model, db, "-E", "0.01").out == before


@pytest.mark.skipif(not SHARED.exists(), reason="the shared profile reference data is absent")
@pytest.mark.skipif(shutil.which("hmmsearch") is None, reason="HMMER's hmmsearch not installed")
def test_domain_reporting_thresholds_as_hmmsearch(run, tmp_path):
    """--domE (default 10, on the conditional E-value) and --domT decide which
    domains --domtblout lists, as in hmmsearch: with HMMER's fn3 model on the
    benchmark database the domains listed per sequence equal hmmsearch's
    (default pipeline) but for at most two sequences, where the domain
    definitions differ (HMMER's stochastic traceback clustering)."""
    from collections import Counter

    model, db = TUTORIAL / "models" / "fn3.hmm", SHARED / "bench" / "db.fa"
    subprocess.run(
        ["hmmsearch", "--cpu", "0", "-Z", "4368", "--domtblout", str(tmp_path / "h.dtbl"),
         "-o", str(tmp_path / "h.out"), str(model), str(db)],
        check=True,
    )  # fmt: skip

    def rows(name):
        return [line.split() for line in open(tmp_path / name) if not line.startswith("#")]

    result = run("profile", "search", "--null2", model, db, "-Z", "4368",
                 "--domtblout", tmp_path / "s.dtbl", "-o", tmp_path / "s.tsv")  # fmt: skip
    assert result.code == 0, result.err
    ours, theirs = Counter(r[0] for r in rows("s.dtbl")), Counter(r[0] for r in rows("h.dtbl"))
    assert set(ours) == set(theirs)
    assert sum(ours[k] != theirs[k] for k in ours) <= 2
    assert all(float(r[11]) <= 10 for r in rows("s.dtbl"))
    every = run("profile", "search", "--null2", model, db, "-Z", "4368", "--domE", "1e9",
                "--domtblout", tmp_path / "all.dtbl", "-o", tmp_path / "s.tsv")  # fmt: skip
    assert every.code == 0 and len(rows("all.dtbl")) > len(rows("s.dtbl"))
    strong = run("profile", "search", "--null2", model, db, "-Z", "4368", "--domT", "20",
                 "--domtblout", tmp_path / "t.dtbl", "-o", tmp_path / "s.tsv")  # fmt: skip
    assert strong.code == 0 and rows("t.dtbl")
    assert all(float(r[13]) >= 20 for r in rows("t.dtbl"))


@pytest.mark.parametrize(
    "options",
    [
        {"evalue": 10.0, "domains": True, "filters": "default"},
        {"evalue": 10.0, "null2": True, "filters": "default", "max_hits": 7},
        {"evalue": 1e9, "domains": True},
        {"bits": 5.0, "domains": True, "Z": 1000},
        {"evalue": 1.0},
    ],
)
def test_search_results_do_not_depend_on_the_piece_size(options):
    """The database read in pieces of a few records gives the same hits,
    scores, E-values and domains (c- and i-Evalues included) as in one piece:
    E-values need the number of sequences of the whole database, known only
    at the end."""
    from seqem.cli.profile import search_models
    from seqem.profile.pipeline import Filters

    options = dict(options)
    if options.pop("filters", None):
        options["filters"] = Filters()
    model, db = str(DATA / "example_family.hmm"), str(DATA / "example_db.fa")
    (hmm,) = read_hmmer(model)
    whole, n_whole = search_models([hmm], db, threads=1, **options)
    report: list = []
    lines: list[str] = []
    pieces, n_pieces = search_models(
        [hmm], db, threads=1, piece_residues=700, report=report, progress=lines.append, **options
    )
    assert n_whole == n_pieces and whole == pieces and len(whole) > 0
    assert len(lines) > 50 and lines[-1].startswith(f"search: {n_whole:,} sequences")
    if "filters" in options:
        assert report[0]["total"] == n_whole


def test_prefetched_keeps_order_errors_and_closes_the_source():
    """The next item is read ahead by a second thread: items come in order, an
    error comes when its item would, and stopping early closes the source
    after the read in progress."""
    from seqem.cli.profile import prefetched

    assert list(prefetched(iter(range(5)))) == [0, 1, 2, 3, 4]
    closed = []

    def source():
        try:
            yield 1
            yield 2
            raise ValueError("bad record")
        finally:
            closed.append(True)

    got = []
    with pytest.raises(ValueError, match="bad record"):
        for item in prefetched(source()):
            got.append(item)
    assert got == [1, 2] and closed == [True]
    closed.clear()
    early = prefetched(source())
    assert next(early) == 1
    early.close()
    assert closed == [True]


def test_large_libraries_are_configured_piece_by_piece(monkeypatch):
    """Past a few hundred models the search configures each model again for each
    piece of the database instead of holding them configured: same results."""
    import seqem.cli.profile as cli_profile
    from seqem.profile.pipeline import Filters

    (hmm,) = read_hmmer(DATA / "example_family.hmm")
    db = str(DATA / "example_db.fa")
    held, _ = cli_profile.search_models([hmm], db, threads=1, filters=Filters(), domains=True)
    monkeypatch.setattr(cli_profile, "_KEEP_CONFIGURED", 0)
    again, _ = cli_profile.search_models(
        [hmm], db, threads=1, filters=Filters(), domains=True, piece_residues=2000
    )
    assert held == again and len(held) > 0


def test_large_libraries_report_progress_within_a_piece(monkeypatch):
    """A library of many models reports its progress every so many models."""
    import dataclasses

    import seqem.cli.profile as cli_profile

    (hmm,) = read_hmmer(DATA / "example_family.hmm")
    models = [dataclasses.replace(hmm, name=f"m{i}") for i in range(5)]
    monkeypatch.setattr(cli_profile, "_PROGRESS_MODELS", 2)
    lines: list[str] = []
    cli_profile.search_models(models, str(DATA / "example_db.fa"), threads=1, progress=lines.append)
    assert lines[:2] == [
        "search: 300 sequences (77,253 residues) x model 2 of 5",
        "search: 300 sequences (77,253 residues) x model 4 of 5",
    ]
    assert lines[2].startswith("search: 300 sequences (77,253 residues) x 5 model(s), ")


def test_damaged_press_is_one_line_for_every_reader(run, tmp_path):
    """A cut-off (BadZipFile) or bit-flipped (Bad CRC-32) pressed file is the one-line
    'press again' error in search, emit and align, never a traceback."""
    model = tmp_path / "p.hmm"
    shutil.copy(DATA / "example_family.hmm", model)
    assert run("profile", "press", model).code == 0
    packed = tmp_path / "p.hmm.npz"
    whole = packed.read_bytes()
    flipped = bytearray(whole)
    flipped[len(whole) // 2] ^= 0x01
    for data in (whole[:1000], bytes(flipped)):
        packed.write_bytes(data)
        for argv in (
            ["search", model, DATA / "example_db.fa"],
            ["emit", model, "-N", "2"],
            ["align", model, DATA / "example_family.fa"],
        ):
            result = run("profile", *argv)
            assert result.code == 1 and result.out == ""
            assert result.err == f"seqem: error: {packed}: unreadable pressed models " + (
                "(BadZipFile); delete it or press again\n"
            )


def test_press_onto_a_directory_fails_before_any_success_line(run, tmp_path):
    model = tmp_path / "m2.hmm"
    shutil.copy(DATA / "example_family.hmm", model)
    (tmp_path / "m2.hmm.npz").mkdir()
    result = run("profile", "press", model)
    assert result.code == 1 and "->" not in result.err
    assert result.err.splitlines() == [
        f"seqem: error: {model}.npz: is a directory, expected a file name"
    ]


@pytest.mark.parametrize("option", ["-T", "--domT", "-E", "--domE", "--incE", "--incdomE"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_search_number_options_must_be_finite(run, option, value):
    result = run("profile", "search", DATA / "example_family.hmm", DATA / "example_db.fa",
                 f"{option}={value}")  # fmt: skip
    assert result.code == 2 and result.out == ""
    assert option in result.err and len(result.err.splitlines()) == 1


def test_build_one_model_per_alignment(run, tmp_path):
    """As hmmbuild: a Stockholm file of several alignments gives one model per
    alignment in the one output file, each as built from its alignment alone, named
    by its #=GF ID or, without one, numbered after the file name."""
    family = (DATA / "example_family.sto").read_text()
    other = family.replace("#=GF ID example_family\n", "#=GF ID other_family\n")
    unnamed = family.replace("#=GF ID example_family\n", "")
    aln = tmp_path / "several.sto"
    aln.write_text(family + "\n" + other + unnamed)
    out = tmp_path / "several.hmm"
    result = run("profile", "build", aln, "-o", out)
    assert result.code == 0, result.err
    names = ["example_family", "other_family", "several_3"]
    assert [line.split(":")[1].strip() for line in result.err.splitlines()] == names
    models = read_hmmer(out)
    assert [m.name for m in models] == names
    single = tmp_path / "single.hmm"
    assert run("profile", "build", DATA / "example_family.sto", "-o", single).code == 0
    (alone,) = read_hmmer(single)
    for hmm in models:
        assert hmm.M == alone.M and hmm.stats == alone.stats
        assert (hmm.match == alone.match).all() and (hmm.transitions == alone.transitions).all()


@pytest.mark.skipif(not TUTORIAL.exists(), reason="the shared profile reference data is absent")
@pytest.mark.skipif(shutil.which("hmmbuild") is None, reason="HMMER's hmmbuild not installed")
def test_several_alignments_as_hmmbuild(run, tmp_path):
    # `hmmbuild two.hmm two.sto` (HMMER 3.3.2) on fn3.sto and Pkinase.sto concatenated
    aln = tmp_path / "two.sto"
    aln.write_bytes((TUTORIAL / "fn3.sto").read_bytes() + (TUTORIAL / "Pkinase.sto").read_bytes())
    subprocess.run(["hmmbuild", tmp_path / "h.hmm", aln], check=True, capture_output=True)
    assert run("profile", "build", aln, "-o", tmp_path / "s.hmm").code == 0
    ours, theirs = read_hmmer(tmp_path / "s.hmm"), read_hmmer(tmp_path / "h.hmm")
    assert [(m.name, m.M, m.nseq) for m in ours] == [(m.name, m.M, m.nseq) for m in theirs]
    for a, b in zip(ours, theirs, strict=True):
        assert a.effn == pytest.approx(b.effn, abs=1e-5)  # EFFN line, %f


def test_logo(run, tmp_path):
    """`profile logo` draws a model (logo, score logo, heat map) and writes the letter
    heights it draws; several models need --name; bad node ranges are one-line errors."""
    import numpy as np

    from seqem.profile.logo import indel_values, logo_heights

    model = DATA / "example_family.hmm"
    hmm = read_hmmer(str(model))[0]
    for name, extra in (("a.png", ()), ("b.svg", ("--height", "score", "--nodes", "3-9")),
                        ("c.pdf", ("--heatmap", "--no-indels"))):  # fmt: skip
        result = run("profile", "logo", model, "-o", tmp_path / name, *extra)
        assert result.code == 0, result.err
        assert (tmp_path / name).stat().st_size > 5000
    table = tmp_path / "h.tsv"
    result = run("profile", "logo", model, "--table", table, "--height", "relent_abovebg",
                 "--nodes", "10-20")  # fmt: skip
    assert result.code == 0, result.err
    rows = [line.split("\t") for line in table.read_text().splitlines()]
    assert rows[0][:3] == ["node", "A", "C"] and rows[0][-1] == "occupancy"
    assert [int(r[0]) for r in rows[1:]] == list(range(10, 21))
    got = np.array([[float(x) for x in r[1:]] for r in rows[1:]])
    K = hmm.alphabet.K
    assert np.allclose(got[:, :K], logo_heights(hmm, "relent_abovebg")[9:20], atol=5e-5)
    assert np.allclose(got[:, K], logo_heights(hmm, "relent_all")[9:20].sum(axis=1), atol=5e-5)
    assert np.allclose(got[:, K + 1 :], indel_values(hmm)[9:20], atol=5e-5)
    two = tmp_path / "two.hmm"
    two.write_text(model.read_text() + model.read_text().replace("NAME  example_family",
                                                                 "NAME  other"))  # fmt: skip
    one_error(run("profile", "logo", two, "-o", tmp_path / "x.png"), "choose one with --name")
    assert run("profile", "logo", two, "--name", "other", "-o", tmp_path / "x.png").code == 0
    one_error(run("profile", "logo", two, "--name", "nope", "-o", tmp_path / "y.png"),
              "no model named 'nope'")  # fmt: skip
    one_error(run("profile", "logo", model, "--nodes", "50-61", "-o", tmp_path / "y.png"),
              "has 60 nodes")  # fmt: skip
    one_error(run("profile", "logo", model, "--nodes", "x-3", "-o", tmp_path / "y.png"),
              "expected a number or a range")  # fmt: skip
    one_error(run("profile", "logo", model), "nothing to write")
    assert not (tmp_path / "y.png").exists()


# -- scan ---------------------------------------------------------------------


def table_lines(path):
    """A HMMER table's data lines and its comment lines, apart."""
    lines = path.read_text().splitlines()
    return [x for x in lines if x[0] != "#"], [x for x in lines if x[0] == "#"]


@pytest.mark.skipif(not TUTORIAL.exists(), reason="the shared profile reference data is absent")
@pytest.mark.skipif(not shutil.which("hmmscan"), reason="HMMER's hmmscan not installed")
@pytest.mark.parametrize("query", ["7LESS_DROME", "globins"])
def test_scan_tables_equal_hmmscan(run, tmp_path, query):
    """``hmmscan --cpu 0`` with a pressed library of the tutorial's Pkinase and
    globins4 models: sevenless (Swiss-Prot text) and eight globins (FASTA, eight
    queries in one file) give the same data lines in both tables, byte for byte
    (with --null2, hmmscan's default scoring), and the same column headers,
    written once for all queries, as hmmscan writes them."""
    library = tmp_path / "lib.hmm"
    library.write_text(
        (TUTORIAL / "models" / "Pkinase.hmm").read_text()
        + (TUTORIAL / "models" / "globins4.hmm").read_text()
    )
    if query == "globins":
        records = (TUTORIAL / "globins45.fa").read_text().split(">")[1:9]
        seqs = tmp_path / "q.fa"
        seqs.write_text("".join(">" + r for r in records))
    else:
        seqs = TUTORIAL / query
    subprocess.run(["hmmpress", str(library)], check=True, capture_output=True)
    theirs = tmp_path / "h.tbl", tmp_path / "h.dtbl"
    subprocess.run(["hmmscan", "--cpu", "0", "--tblout", str(theirs[0]), "--domtblout",
                    str(theirs[1]), "-o", os.devnull, str(library), str(seqs)],
                   check=True)  # fmt: skip
    ours = tmp_path / "s.tbl", tmp_path / "s.dtbl"
    result = run("profile", "scan", "--null2", library, seqs, "--tblout", ours[0],
                 "--domtblout", ours[1], "-o", tmp_path / "s.tsv")  # fmt: skip
    assert result.code == 0, result.err
    for mine, reference in zip(ours, theirs, strict=True):
        data, comments = table_lines(mine)
        their_data, their_comments = table_lines(reference)
        assert data == their_data
        assert len(data) == (1 if query == "7LESS_DROME" else 8)
        assert comments[:3] == their_comments[:3]
        assert sum(line.startswith("# Pipeline mode:   SCAN") for line in comments) == 1


@pytest.mark.skipif(not TUTORIAL.exists(), reason="the shared profile reference data is absent")
def test_scan_reports_the_pairs_of_a_search_per_sequence(run, tmp_path):
    """A scan scores the (sequence, model) pairs as a search does: the same bits,
    E-values with Z the number of models, each sequence's models best first in
    the order of the sequence file (two sequences of one name stay apart);
    --max-hits keeps the best models of each sequence and --domZ sets the
    conditional E-values."""
    library = tmp_path / "lib.hmm"
    library.write_text(
        (TUTORIAL / "models" / "globins4.hmm").read_text()
        + (TUTORIAL / "models" / "fn3.hmm").read_text()
        + (TUTORIAL / "models" / "Pkinase.hmm").read_text()
    )
    records = (TUTORIAL / "globins45.fa").read_text().split(">")[1:4]
    seqs = tmp_path / "q.fa"
    seqs.write_text("".join(">" + r for r in records) + ">" + records[0])  # a name twice
    result = run("profile", "scan", library, seqs, "-E", "1e9", "--max", "-o", "-")
    assert result.code == 0, result.err
    rows = [line.split("\t") for line in result.out.splitlines()]
    assert rows[0][:4] == ["query_name", "query_accession", "target_name", "target_accession"]
    names = [r.split()[0] for r in records] + [records[0].split()[0]]
    assert [r[0] for r in rows[1::3]] == names  # three models each, sequence by sequence
    for i in range(len(names)):
        group = rows[1 + 3 * i : 4 + 3 * i]
        assert {r[0] for r in group} == {names[i]}
        assert group[0][2] == "globins4"
        evalues = [float(r[4]) for r in group]
        assert evalues == sorted(evalues)
    # the same pairs through search, E-values over 3 models
    for model in ("globins4", "fn3", "Pkinase"):
        result = run("profile", "search", TUTORIAL / "models" / f"{model}.hmm", seqs,
                     "-E", "1e9", "--max", "-Z", "3", "-o", "-")  # fmt: skip
        assert result.code == 0, result.err
        searched = sorted(
            (r[0], r[4], r[5]) for r in (x.split("\t") for x in result.out.splitlines()[1:])
        )
        scanned = sorted((r[0], r[4], r[5]) for r in rows[1:] if r[2] == model)
        assert scanned == searched
    result = run("profile", "scan", library, seqs, "-E", "1e9", "--max", "--max-hits", "1",
                 "-o", "-")  # fmt: skip
    best = [line.split("\t") for line in result.out.splitlines()[1:]]
    assert [(r[0], r[2]) for r in best] == [(n, "globins4") for n in names]
    dtbl = tmp_path / "s.dtbl"
    for dom_z in ("1", "1000"):
        result = run("profile", "scan", library, seqs, "--domtblout", dtbl, "--domZ", dom_z,
                     "-o", tmp_path / "s.tsv")  # fmt: skip
        assert result.code == 0, result.err
        data, _ = table_lines(dtbl)
        conditional = [float(line.split()[11]) for line in data]
        independent = [float(line.split()[12]) for line in data]  # P x Z, Z = 3 models
        assert len(data) == len(names)
        assert conditional == pytest.approx([e * float(dom_z) / 3 for e in independent], rel=0.1)


def test_scan_without_hits_writes_empty_tables(run, tmp_path):
    """Sequences that no model reports: the TSV header, and tables of their header and
    footer lines alone."""
    seqs = tmp_path / "q.fa"
    seqs.write_text(">repeat\n" + "WQERTYPLKH" * 12 + "\n")
    tbl, dtbl = tmp_path / "s.tbl", tmp_path / "s.dtbl"
    result = run("profile", "scan", DATA / "example_family.hmm", seqs, "--tblout", tbl,
                 "--domtblout", dtbl, "-o", tmp_path / "s.tsv")  # fmt: skip
    assert result.code == 0, result.err
    assert (tmp_path / "s.tsv").read_text().splitlines() == [
        "query_name\tquery_accession\ttarget_name\ttarget_accession\tevalue\tbits\tlength\t"
        "description"
    ]
    for path in (tbl, dtbl):
        data, comments = table_lines(path)
        assert data == [] and len(comments) > 3 and comments[-1] == "# [ok]"


# -- stat ---------------------------------------------------------------------


@pytest.mark.skipif(not TUTORIAL.exists(), reason="the shared profile reference data is absent")
@pytest.mark.skipif(not shutil.which("hmmstat"), reason="HMMER's hmmstat not installed")
@pytest.mark.parametrize(
    "models",
    [
        ("tutorial/models/fn3.hmm", "tutorial/models/Pkinase.hmm", "tutorial/models/globins4.hmm"),
        ("tutorial/models/MADE1.hmm",),
        ("bench/fullmodels/fn3.hmm", "bench/fullmodels/Pkinase.hmm", "bench/fullmodels/globin.hmm"),
        ("bench/reference/fn3/hmmbuild.hmm", "bench/reference/fn3/clustalo.hmm"),
    ],
)
def test_stat_equals_hmmstat(run, tmp_path, models):
    """``hmmstat`` on the same file (protein models of several families in one, a
    DNA model, Pfam's full-family models, models built by hmmbuild): every
    column of every row equals hmmstat's to its printed precision (two
    decimals; ``p relE`` counts the gap costs, ``compKL`` is symmetric)."""
    library = tmp_path / "lib.hmm"
    library.write_text("".join((SHARED / m).read_text() for m in models))
    result = run("profile", "stat", library, "-o", "-")
    assert result.code == 0, result.err
    rows = [line.split("\t") for line in result.out.splitlines()]
    assert rows[0] == ["idx", "name", "accession", "nseq", "eff_nseq", "M", "relent", "info",
                       "p_relE", "compKL"]  # fmt: skip
    done = subprocess.run(["hmmstat", str(library)], check=True, capture_output=True, text=True)
    theirs = [line.split() for line in done.stdout.splitlines() if line and line[0] != "#"]
    assert len(rows) - 1 == len(theirs) == len(models)
    for ours, ref in zip(rows[1:], theirs, strict=True):
        assert ours[:2] == ref[:2] and ours[2] == (ref[2] if ref[2] != "-" else "NA")
        assert ours[3] == ref[3] and ours[5] == ref[5]
        for a, b in zip(ours[4:5] + ours[6:], ref[4:5] + ref[6:], strict=True):
            assert abs(float(a) - float(b)) <= 0.005 + 1e-9, (ours, ref)


# -- fetch --------------------------------------------------------------------


@pytest.fixture
def library(tmp_path):
    """The tutorial's fn3, Pkinase and globins4 models in one file."""
    path = tmp_path / "lib.hmm"
    path.write_text("".join((TUTORIAL / "models" / f"{m}.hmm").read_text()
                            for m in ("fn3", "Pkinase", "globins4")))  # fmt: skip
    return path


@pytest.mark.skipif(not TUTORIAL.exists(), reason="the shared profile reference data is absent")
@pytest.mark.skipif(not shutil.which("hmmfetch"), reason="HMMER's hmmfetch not installed")
@pytest.mark.parametrize("key", ["globins4", "Pkinase", "PF00041.20"])
def test_fetch_equals_hmmfetch(run, tmp_path, library, key):
    """``hmmfetch lib.hmm KEY`` by name or accession: the same bytes."""
    out = tmp_path / "one.hmm"
    result = run("profile", "fetch", library, key, "-o", out)
    assert result.code == 0, result.err
    theirs = subprocess.run(["hmmfetch", str(library), key], check=True, capture_output=True)
    assert out.read_bytes() == theirs.stdout


@pytest.mark.skipif(not TUTORIAL.exists(), reason="the shared profile reference data is absent")
def test_fetch_keys_accessions_and_errors(run, tmp_path, library):
    """Keys from the command line and a key file, in their order, an accession
    without its version, a gzip library; keys that name no model are one error
    listing them, with nothing written; a truncated library is an error naming
    the file and the model."""
    texts = {m: (TUTORIAL / "models" / f"{m}.hmm").read_text() for m in ("fn3", "Pkinase")}
    keys = tmp_path / "keys.txt"
    keys.write_text("# wanted\nPF00041 first word only\n\n")
    packed = tmp_path / "lib.hmm.gz"
    packed.write_bytes(gzip.compress(library.read_bytes()))
    out = tmp_path / "two.hmm"
    result = run("profile", "fetch", packed, "Pkinase", "-f", keys, "-o", out)
    assert result.code == 0, result.err
    assert out.read_text() == texts["Pkinase"] + texts["fn3"]
    read = read_hmmer(out)
    assert [h.name for h in read] == ["Pkinase", "fn3"]
    result = run("profile", "fetch", library, "fn3", "nope", "PF9", "-o", tmp_path / "x.hmm")
    one_error(result, "2 keys name no model (by NAME or ACC): nope, PF9")
    assert not (tmp_path / "x.hmm").exists()
    truncated = tmp_path / "cut.hmm"
    truncated.write_text(library.read_text()[:5000])
    line = one_error(run("profile", "fetch", truncated, "fn3"), "the file is truncated")
    assert "cut.hmm" in line and "'fn3'" in line


@pytest.mark.skipif(not TUTORIAL.exists(), reason="the shared profile reference data is absent")
@pytest.mark.skipif(not shutil.which("hmmemit"), reason="HMMER's hmmemit not installed")
@pytest.mark.parametrize(
    "models",
    [("tutorial/models/fn3.hmm", "tutorial/models/Pkinase.hmm", "tutorial/models/globins4.hmm"),
     ("tutorial/models/MADE1.hmm",), ("bench/fullmodels/globin.hmm",)],
)  # fmt: skip
def test_emit_consensus_equals_hmmemit(run, tmp_path, models):
    """``emit --consensus``: each model's majority-rule consensus, the same FASTA as
    ``hmmemit -c`` (protein models of three families in one file, a DNA model)."""
    library = tmp_path / "lib.hmm"
    library.write_text("".join((SHARED / m).read_text() for m in models))
    result = run("profile", "emit", "--consensus", library, "-o", "-")
    assert result.code == 0, result.err
    theirs = subprocess.run(["hmmemit", "-c", str(library)], check=True, capture_output=True)
    assert result.out == theirs.stdout.decode()
    assert result.out.count(">") == len(models)


@pytest.mark.skipif(not TUTORIAL.exists(), reason="the shared profile reference data is absent")
@pytest.mark.skipif(shutil.which("hmmbuild") is None, reason="HMMER's hmmbuild not installed")
@pytest.mark.parametrize("family", ["fn3", "Pkinase", "MADE1"])
@pytest.mark.parametrize(
    "options",
    [("--symfrac", "0.3"), ("--symfrac", "0.7"), ("--symfrac", "0.9"), ("--wnone",),
     ("--enone",), ("--eset", "5"), ("--ere", "0.7"), ("--esigma", "60"),
     ("--fragthresh", "0.3"), ("--plaplace",), ("--wnone", "--eset", "3", "--plaplace"),
     ("--wblosum",), ("--wblosum", "--wid", "0.4"), ("--eclust", "--eid", "0.5"),
     ("--wblosum", "--wid", "0.5", "--eclust", "--eid", "0.7")],
)  # fmt: skip
def test_build_options_as_hmmbuild(run, tmp_path, family, options):
    """hmmbuild's consensus, weighting, effective-number and prior options: the same
    model as ``hmmbuild`` with them (length, consensus columns, EFFN and every
    probability to the file's precision).  ``--symfrac`` sets the consensus
    columns only: the position-based weights always look at the columns with
    at most half gaps, as hmmbuild's do."""
    aln = TUTORIAL / f"{family}.sto"
    subprocess.run(["hmmbuild", *options, tmp_path / "h.hmm", aln], check=True,
                   capture_output=True)  # fmt: skip
    result = run("profile", "build", aln, "-o", tmp_path / "s.hmm", *options)
    assert result.code == 0, result.err
    ours, theirs = read_hmmer(tmp_path / "s.hmm")[0], read_hmmer(tmp_path / "h.hmm")[0]
    assert ours.M == theirs.M
    assert list(ours.map) == list(theirs.map)
    assert ours.effn == pytest.approx(theirs.effn, abs=1e-5)  # EFFN line, %f
    for a, b in ((ours.match, theirs.match), (ours.insert, theirs.insert),
                 (ours.transitions, theirs.transitions)):  # fmt: skip
        np.testing.assert_allclose(a, b, atol=2e-5)  # as tests/profile/test_build.py


@pytest.mark.skipif(shutil.which("hmmbuild") is None, reason="HMMER's hmmbuild not installed")
@pytest.mark.parametrize("flag", ["--amino", "--dna", "--rna"])
def test_build_alphabet_options_as_hmmbuild(run, tmp_path, flag):
    """``--amino``/``--dna``/``--rna`` override the guess (a protein alignment of the
    letters ACGT only reads as DNA without ``--amino``): the model's alphabet and
    probabilities are hmmbuild's with the same flag."""
    aln = tmp_path / "acgt.afa"
    aln.write_text(">s1\nACGTACGTAAGT\n>s2\nACGTTCGTAAGT\n>s3\nACCTACGTAGGT\n")
    if flag == "--rna":
        aln.write_text(aln.read_text().replace("T", "U"))
    subprocess.run(["hmmbuild", flag, tmp_path / "h.hmm", aln], check=True, capture_output=True)
    result = run("profile", "build", flag, aln, "-o", tmp_path / "s.hmm")
    assert result.code == 0, result.err
    ours, theirs = read_hmmer(tmp_path / "s.hmm")[0], read_hmmer(tmp_path / "h.hmm")[0]
    assert ours.alphabet.name == theirs.alphabet.name
    np.testing.assert_allclose(ours.match, theirs.match, atol=2e-5)
    np.testing.assert_allclose(ours.transitions, theirs.transitions, atol=2e-5)
    guessed = run("profile", "build", aln, "-o", tmp_path / "g.hmm")
    assert guessed.code == 0, guessed.err
    assert read_hmmer(tmp_path / "g.hmm")[0].alphabet.name == ("RNA" if flag == "--rna" else "DNA")
