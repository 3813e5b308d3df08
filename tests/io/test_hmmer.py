"""read_hmmer / write_hmmer: HMMER3/f models, round trips, errors, HMMER and pyhmmer loading."""

import gzip
import io
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from seqem.errors import InputFormatError, ParameterError
from seqem.io.hmmer import read_hmmer, write_hmmer
from seqem.profile.model import AMINO, DNA

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "profile"
TUTORIAL = sorted((DATA / "tutorial" / "models").glob("*.hmm"))
FULL = sorted((DATA / "bench" / "fullmodels").glob("*.hmm"))
GLOBINS4 = DATA / "tutorial" / "models" / "globins4.hmm"

needs_data = pytest.mark.skipif(
    not GLOBINS4.exists(), reason="shared profile test data (shared/data/profile) not present"
)

# Header facts copied from the files themselves: name, M, alphabet, EFFN, MSV, VITERBI, FORWARD.
EXPECTED = {
    "tutorial/models/globins4.hmm": (
        "globins4", 149, "amino", 0.964844,
        (-9.8664, 0.70955), (-10.7223, 0.70955), (-4.1641, 0.70955),
    ),
    "tutorial/models/MADE1.hmm": (
        "MADE1", 80, "DNA", 4.226685,
        (-8.5634, 0.71857), (-9.3577, 0.71857), (-3.4626, 0.71857),
    ),
    "tutorial/models/Pkinase.hmm": (
        "Pkinase", 259, "amino", 2.565186,
        (-10.9395, 0.70257), (-11.6760, 0.70257), (-5.2170, 0.70257),
    ),
    "tutorial/models/fn3.hmm": (
        "fn3", 85, "amino", 12.199158,
        (-9.2761, 0.71848), (-9.6475, 0.71848), (-3.9087, 0.71848),
    ),
    "bench/fullmodels/Pkinase.hmm": (
        "Pkinase", 260, "amino", 3.358521,
        (-10.7215, 0.70254), (-11.6541, 0.70254), (-5.2305, 0.70254),
    ),
    "bench/fullmodels/fn3.hmm": (
        "fn3", 86, "amino", 11.415833,
        (-9.4043, 0.71847), (-9.7737, 0.71847), (-3.8341, 0.71847),
    ),
    "bench/fullmodels/globin.hmm": (
        "globin", 147, "amino", 1.288147,
        (-9.8969, 0.70975), (-10.6776, 0.70975), None,
    ),
}  # fmt: skip


def _path(rel: str) -> Path:
    path = DATA / rel
    if not path.exists():
        pytest.skip(f"{rel} not in the shared profile test data")
    return path


@pytest.mark.parametrize("rel", sorted(EXPECTED))
def test_header_values(rel):
    name, M, alph, effn, msv, vit, fwd = EXPECTED[rel]
    (hmm,) = read_hmmer(_path(rel))
    assert hmm.name == name
    assert hmm.M == M
    assert hmm.alphabet.name == alph
    assert hmm.effn == pytest.approx(effn, abs=1e-6)
    assert hmm.stats["msv"] == pytest.approx(msv, abs=1e-4)
    assert hmm.stats["viterbi"] == pytest.approx(vit, abs=1e-4)
    if fwd is not None:
        assert hmm.stats["forward"] == pytest.approx(fwd, abs=1e-4)
    assert hmm.match.shape == (M + 1, hmm.alphabet.K)
    assert np.all(hmm.match[0] == 0)
    hmm.validate()


@pytest.mark.parametrize("path", TUTORIAL + FULL, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_number_matches_the_file(path):
    """Each probability is exp(-x) of the printed x; '*' is 0."""
    (hmm,) = read_hmmer(path)
    lines = path.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("HMM "))
    body = [line.split() for line in lines[start + 2 : -1]]
    if body[0][0] == "COMPO":
        np.testing.assert_allclose(-np.log(hmm.compo), [float(x) for x in body[0][1:]], atol=1e-9)
        body = body[1:]
    K = hmm.alphabet.K

    def probs(words):
        return [0.0 if w == "*" else math.exp(-float(w)) for w in words]

    np.testing.assert_allclose(hmm.insert[0], probs(body[0]), rtol=1e-12)
    np.testing.assert_allclose(hmm.transitions[0], probs(body[1]), rtol=1e-12)
    for k in range(1, hmm.M + 1):
        match, ins, trans = body[3 * k - 1 : 3 * k + 2]
        assert match[0] == str(k)
        np.testing.assert_allclose(hmm.match[k], probs(match[1 : K + 1]), rtol=1e-12)
        np.testing.assert_allclose(hmm.insert[k], probs(ins), rtol=1e-12)
        np.testing.assert_allclose(hmm.transitions[k], probs(trans), rtol=1e-12)


@needs_data
def test_globins4_details():
    (hmm,) = read_hmmer(GLOBINS4)
    assert hmm.alphabet is AMINO
    assert hmm.accession is None and hmm.description is None
    assert hmm.nseq == 4
    assert hmm.meta["CKSUM"] == 2027839109
    assert hmm.meta["DATE"] == "Sun Nov 22 19:58:01 2026"
    # node 1: "1.75819 ... 9 v - - -"; node 0: "0.55970 1.87270 1.29132 1.73023 0.19509 0.00000 *"
    assert hmm.match[1, 0] == pytest.approx(math.exp(-1.75819), rel=1e-12)
    assert hmm.transitions[0].tolist() == pytest.approx(
        [math.exp(-x) for x in (0.55970, 1.87270, 1.29132, 1.73023, 0.19509, 0.0)] + [0.0]
    )
    assert hmm.compo[0] == pytest.approx(math.exp(-2.36800))
    assert hmm.map[:3].tolist() == [9, 10, 11]
    assert hmm.map[-1] == 165
    assert hmm.consensus[:3] == "vvL"  # nodes 1-3: "9 v", "10 v", "11 L"
    assert len(hmm.consensus) == hmm.M
    assert hmm.rf is None and hmm.mm is None and hmm.cs is None
    # node M: "0.21295 1.65128 * 1.49930 0.25268 0.00000 *"
    assert hmm.transitions[-1, 2] == 0.0 and hmm.transitions[-1, 6] == 0.0
    assert hmm.transitions[-1, 5] == 1.0


def test_made1_dna_annotations():
    (hmm,) = read_hmmer(_path("tutorial/models/MADE1.hmm"))
    assert hmm.alphabet is DNA
    assert hmm.accession == "DF0000629.2"
    assert hmm.description == "MADE1 (MAriner Derived Element 1), a TcMar-Mariner DNA transposon"
    assert hmm.meta["MAXL"] == 278
    assert hmm.meta["GA"] == (15.98,)
    assert hmm.meta["TC"] == (32.0,)
    assert hmm.rf is not None and len(hmm.rf) == 80
    assert hmm.cs is None


def test_pkinase_cutoffs_and_cs():
    (hmm,) = read_hmmer(_path("tutorial/models/Pkinase.hmm"))
    assert hmm.accession == "PF00069.24"
    assert hmm.meta["GA"] == (27.0, 27.0)
    assert hmm.meta["NC"] == (26.9, 26.9)
    assert hmm.cs is not None and len(hmm.cs) == hmm.M


@needs_data
def test_pfam_cutoffs_with_semicolons(tmp_path):
    """Pfam-A.hmm ends its cutoff lines with ';' (``GA    27.00 27.00;``)."""
    text = _path("tutorial/models/Pkinase.hmm").read_text()
    text = _edit(text, "GA    27.00 27.00\n", "GA    27.00 27.00;\n")
    text = _edit(text, "TC    27.00 27.00\n", "TC    27.00 27.00 ;\n")
    text = _edit(text, "NC    26.90 26.90\n", "NC    26.90;\n")
    path = tmp_path / "pfam.hmm"
    path.write_text(text)
    (hmm,) = read_hmmer(path)
    assert hmm.meta["GA"] == (27.0, 27.0) and hmm.meta["TC"] == (27.0, 27.0)
    assert hmm.meta["NC"] == (26.9,)


def _assert_same(a, b):
    assert a.name == b.name and a.accession == b.accession and a.description == b.description
    assert a.alphabet is b.alphabet
    for attr in ("match", "insert", "transitions", "compo", "map"):
        x, y = getattr(a, attr), getattr(b, attr)
        if x is None:
            assert y is None
        else:
            np.testing.assert_array_equal(x, y)
    for attr in ("nseq", "effn", "stats", "consensus", "rf", "mm", "cs", "meta"):
        assert getattr(a, attr) == getattr(b, attr), attr


@pytest.mark.parametrize("path", TUTORIAL + FULL, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_round_trip_is_exact(path, tmp_path):
    (hmm,) = read_hmmer(path)
    out = tmp_path / "out.hmm"
    write_hmmer(out, [hmm])
    (again,) = read_hmmer(out)
    _assert_same(hmm, again)
    # the text is HMMER's own, apart from the program named on the first line
    original = path.read_text().splitlines()
    written = out.read_text().splitlines()
    assert written[0].startswith("HMMER3/f ")
    assert written[1:] == original[1:]


@needs_data
def test_multi_record_file_and_gzip(tmp_path):
    if len(TUTORIAL) < 4:
        pytest.skip("needs the four tutorial models in ../shared/data/profile/tutorial/models")
    text = "".join(p.read_text() for p in TUTORIAL)
    plain = tmp_path / "all.hmm"
    plain.write_text(text)
    models = read_hmmer(plain)
    assert [m.name for m in models] == ["MADE1", "Pkinase", "fn3", "globins4"]
    packed = tmp_path / "all_no_suffix"
    packed.write_bytes(gzip.compress(text.encode()))
    for a, b in zip(models, read_hmmer(packed), strict=True):
        _assert_same(a, b)
    out = tmp_path / "again.hmm.gz"
    write_hmmer(out, models)
    assert out.read_bytes()[:2] == b"\x1f\x8b"
    for a, b in zip(models, read_hmmer(out), strict=True):
        _assert_same(a, b)


@needs_data
def test_stdin_and_stdout(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(GLOBINS4.read_bytes())))
    (hmm,) = read_hmmer("-")
    assert hmm.name == "globins4"
    write_hmmer("-", hmm)
    assert capsys.readouterr().out.splitlines()[1:] == GLOBINS4.read_text().splitlines()[1:]


@needs_data
def test_writer_omits_empty_fields_and_checks_stats():
    (hmm,) = read_hmmer(GLOBINS4)
    hmm.accession, hmm.description = "", "  "
    hmm.meta = {}
    handle = io.StringIO()
    write_hmmer(handle, hmm)
    lines = handle.getvalue().splitlines()
    tags = [
        line.split()[0]
        for line in lines[: lines.index(next(x for x in lines if x.startswith("HMM ")))]
    ]
    assert "ACC" not in tags and "DESC" not in tags and "CKSUM" not in tags
    assert tags[1:5] == ["NAME", "LENG", "ALPH", "RF"]
    assert "DATE" in tags
    hmm.stats = {"msv": (-9.0, 0.7)}
    with pytest.raises(ParameterError, match="all three"):
        write_hmmer(io.StringIO(), hmm)
    hmm.stats = {}
    handle = io.StringIO()
    write_hmmer(handle, hmm)
    assert "STATS" not in handle.getvalue()
    assert len(read_hmmer_text(handle.getvalue())[0].stats) == 0


def read_hmmer_text(text, tmp=None):
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".hmm", delete=False) as fh:
        fh.write(text)
    try:
        return read_hmmer(fh.name)
    finally:
        Path(fh.name).unlink()


def _edit(text, old, new, count=1):
    assert old in text, old
    return text.replace(old, new, count)


def _drop_last_lines(n):
    return lambda t: "\n".join(t.splitlines()[:-n]) + "\n"


TRANSITION_NAMES = "        " + " ".join(
    f"{t:>8}" for t in "m->m m->i m->d i->m i->i d->m d->d".split()
)
MALFORMED = [
    # (id, edit of globins4.hmm, expected words in the message, message names the model)
    ("truncated_no_end", _drop_last_lines(1), "truncated", True),
    ("truncated_mid_node", _drop_last_lines(5), "truncated", True),
    ("corrupt_number", lambda t: _edit(t, "1.75819", "1.7x819"), "corrupt number", True),
    ("nan_number", lambda t: _edit(t, "1.75819", "nan"), "corrupt number", True),
    ("negative_number", lambda t: _edit(t, "1.75819", "-1.75819"), "corrupt number", True),
    (
        "missing_HMM_line",
        lambda t: "\n".join(x for x in t.splitlines() if not x.startswith("HMM ")),
        "'HMM' line",
        True,
    ),
    ("node_order", lambda t: _edit(t, "\n      2   ", "\n      3   "), "must come in order", True),
    ("unknown_alphabet", lambda t: _edit(t, "ALPH  amino", "ALPH  coin"), "unknown alphabet", True),
    ("wrong_symbols", lambda t: _edit(t, "ALPH  amino", "ALPH  DNA"), "expected 'A C G T'", True),
    ("leng_too_big", lambda t: _edit(t, "LENG  149", "LENG  150"), "LENG says 150", True),
    ("leng_too_small", lambda t: _edit(t, "LENG  149", "LENG  148"), "LENG says 148", True),
    ("leng_not_int", lambda t: _edit(t, "LENG  149", "LENG  1.5e2"), "LENG", True),
    ("missing_name", lambda t: _edit(t, "NAME  globins4\n", ""), "no NAME line", False),
    ("bad_flag", lambda t: _edit(t, "CONS  yes", "CONS  maybe"), "'yes' or 'no'", True),
    ("short_transitions", lambda t: _edit(t, "0.03182 ", ""), "expected 7", True),
    ("short_match_line", lambda t: _edit(t, " 1.75819", ""), "fields, expected 25", True),
    ("bad_stats", lambda t: _edit(t, "STATS LOCAL MSV", "STATS GLOBAL MSV"), "STATS", True),
    ("bad_effn", lambda t: _edit(t, "EFFN  0.964844", "EFFN  lots"), "corrupt number", True),
    ("not_normalized", lambda t: _edit(t, "0.03182", "3.03182"), "sum to", True),
    ("not_hmmer", lambda t: "HMMER2.0 [2.3]\n" + t, "not a HMMER3 model", False),
    ("not_hmmer_text", lambda t: "hello world\n", "not a HMMER3 model", False),
    ("no_transition_names", lambda t: _edit(t, TRANSITION_NAMES, ""), "transition-names", True),
    # a lambda <= 0 would make every P-value 1: a search would report nothing
    ("forward_lambda_zero", lambda t: _edit(t, "-4.1641  0.70955", "-4.1641  0"),
     "STATS LOCAL FORWARD lambda must be > 0, found '0'", True),
    ("msv_lambda_negative", lambda t: _edit(t, "-9.8664  0.70955", "-9.8664  -0.70955"),
     "STATS LOCAL MSV lambda must be > 0", True),
    ("viterbi_lambda_zero", lambda t: _edit(t, "-10.7223  0.70955", "-10.7223  0.00000"),
     "STATS LOCAL VITERBI lambda must be > 0", True),
    ("cutoff_only_semicolon", lambda t: _edit(t, "CKSUM", "GA    ;\nCKSUM"), "GA line without",
     True),
    ("cutoff_two_semicolons", lambda t: _edit(t, "CKSUM", "GA    25.0 25.0;;\nCKSUM"),
     "corrupt number in GA", True),
]  # fmt: skip


@needs_data
@pytest.mark.parametrize(
    ("edit", "words", "named"), [c[1:] for c in MALFORMED], ids=[c[0] for c in MALFORMED]
)
def test_malformed_inputs(tmp_path, edit, words, named):
    bad = tmp_path / "bad.hmm"
    bad.write_text(edit(GLOBINS4.read_text()))
    with pytest.raises(InputFormatError) as info:
        read_hmmer(bad)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{bad}:")  # path and line
    assert info.value.line is not None and info.value.line >= 1
    assert words in message
    if named:
        assert "'globins4'" in message


@needs_data
@pytest.mark.parametrize(("magic", "keep"), [("HMMER3/e", [0, 1, 2, 4]), ("HMMER3/b", [0, 2, 4])])
def test_older_formats(tmp_path, magic, keep):
    """3/e files lack the MM column, 3/a to 3/d also the CONS column."""
    (new,) = read_hmmer(GLOBINS4)
    lines = GLOBINS4.read_text().splitlines()
    lines[0] = f"{magic} [3.1b1 | May 2013]"
    lines = [x for x in lines if not x.startswith("MM ")]
    for i, line in enumerate(lines):
        words = line.split()
        if len(words) == 26 and words[0].isdigit():
            annot = [words[21:][j] for j in keep]
            lines[i] = " ".join(words[:21] + annot)
    path = tmp_path / "old.hmm"
    path.write_text("\n".join(lines) + "\n")
    (old,) = read_hmmer(path)
    np.testing.assert_array_equal(old.match, new.match)
    np.testing.assert_array_equal(old.map, new.map)
    assert old.consensus == (new.consensus if magic == "HMMER3/e" else None)
    assert old.meta["format"] == magic
    text = io.StringIO()
    write_hmmer(text, old)
    assert text.getvalue().startswith("HMMER3/f")


def test_empty_and_blank_files(tmp_path):
    for content in (b"", b"\n  \n"):
        path = tmp_path / "empty.hmm"
        path.write_bytes(content)
        with pytest.raises(InputFormatError, match="empty file"):
            read_hmmer(path)


@needs_data
def test_truncated_gzip(tmp_path):
    path = tmp_path / "cut.hmm.gz"
    path.write_bytes(gzip.compress(GLOBINS4.read_bytes())[:-200])
    with pytest.raises(InputFormatError, match="gzip") as info:
        read_hmmer(path)
    assert str(path) in str(info.value)


@needs_data
def test_second_record_error_names_its_line(tmp_path):
    text = GLOBINS4.read_text()
    path = tmp_path / "two.hmm"
    path.write_text(text + _edit(text, "1.75819", "oops"))
    with pytest.raises(InputFormatError) as info:
        read_hmmer(path)
    assert info.value.line == len(text.splitlines()) + 22  # node 1 of the second copy


@needs_data
@pytest.mark.skipif(shutil.which("hmmsearch") is None, reason="HMMER's hmmsearch is not installed")
def test_hmmsearch_loads_written_model(tmp_path):
    """hmmsearch finds all 45 globins with our copy of globins4, scoring like the original.

    Command: hmmsearch --cpu 0 --tblout T OUT.hmm tutorial/globins45.fa
    """
    targets = DATA / "tutorial" / "globins45.fa"
    (hmm,) = read_hmmer(GLOBINS4)
    ours = tmp_path / "ours.hmm"
    write_hmmer(ours, [hmm])

    def search(model):
        table = tmp_path / f"{model.stem}.tbl"
        subprocess.run(
            ["hmmsearch", "--cpu", "0", "--tblout", str(table), str(model), str(targets)],
            check=True,
            capture_output=True,
        )
        rows = [line.split() for line in table.read_text().splitlines() if line[:1] != "#"]
        return {row[0]: float(row[5]) for row in rows}  # target -> full-sequence score

    hits = search(ours)
    names = {line[1:].split()[0] for line in targets.read_text().splitlines() if line[:1] == ">"}
    assert len(names) == 45
    assert set(hits) == names
    reference = search(GLOBINS4)
    assert hits == reference  # same model to the printed precision: identical scores


@needs_data
@pytest.mark.parametrize("files", [("globins4", "Pkinase", "fn3"), ("MADE1",)])
def test_pyhmmer_loads_written_model(tmp_path, files):
    plan7 = pytest.importorskip("pyhmmer.plan7", reason="pyhmmer is not installed")
    models = [read_hmmer(_path(f"tutorial/models/{name}.hmm"))[0] for name in files]
    out = tmp_path / "models.hmm"
    write_hmmer(out, models)  # one alphabet per file, as pyhmmer expects
    with plan7.HMMFile(str(out)) as fh:
        loaded = list(fh)
    names = [h.name.decode() if isinstance(h.name, bytes) else h.name for h in loaded]
    assert names == list(files)
    for ours, theirs in zip(models, loaded, strict=True):
        assert theirs.M == ours.M
        # printed with %.5f of -ln p: relative error below 1e-5
        np.testing.assert_allclose(
            np.asarray(theirs.match_emissions)[1:], ours.match[1:], rtol=1e-5
        )
        np.testing.assert_allclose(np.asarray(theirs.insert_emissions), ours.insert, rtol=1e-5)
        np.testing.assert_allclose(
            np.asarray(theirs.transition_probabilities), ours.transitions, rtol=1e-5
        )
        assert theirs.checksum == ours.meta["CKSUM"]
        assert theirs.nseq == ours.nseq
