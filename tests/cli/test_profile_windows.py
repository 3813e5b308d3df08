"""Long nucleotide sequences searched in overlapping windows (``--window``), as nhmmer
searches a chromosome."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqem.io.hmmer_tables import read_hmmer_table
from seqem.io.sequences import DigitalSequences, reverse_complement
from seqem.profile.model import DNA
from seqem.profile.targets import (
    default_window,
    on_sequence,
    search_targets,
    window_starts,
    without_duplicates,
)

from .test_profile_strands import NHMMER_MADE1, TUTORIAL, dna_family, needs_tutorial, strand_of


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 5000), st.integers(2, 600), st.data())
def test_every_stretch_up_to_the_overlap_lies_in_one_window(length, window, data):
    overlap = data.draw(st.integers(0, window - 1))
    starts = window_starts(length, window, overlap)
    ends = np.minimum(starts + window, length)
    assert starts[0] == 0 and ends[-1] == length and np.all(np.diff(starts) > 0)
    assert np.all(ends - starts == min(window, length))
    span = min(overlap, length)
    for a in range(0, length - span + 1, max(1, length // 97)):
        assert np.any((starts <= a) & (a + span <= ends)), (a, span)


def random_dna(rng, lengths):
    texts = ["".join(rng.choice(list("ACGTN"), size=n, p=[0.24] * 4 + [0.04])) for n in lengths]
    codes = np.array(["ACGTRYMKSWHBVDN".index(c) for c in "".join(texts)], dtype=np.uint8)
    bounds = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    names = tuple(f"s{i}" for i in range(len(lengths)))
    return DigitalSequences(names, ("",) * len(lengths), codes, bounds, DNA)


@pytest.mark.parametrize("strands", ["plus", "minus", "both"])
def test_targets_are_the_windows_of_each_strand(strands):
    """Every target is its window of the sequence or of its reverse complement (Biopython's
    equal, tests/cli/test_profile_strands.py); the batches hold them all, in order."""
    rng = np.random.default_rng(1)
    piece = random_dna(rng, [5, 900, 2500, 40, 1001])
    rc = reverse_complement(piece)
    batches = list(search_targets(piece, strands, window=400, overlap=50, batch_residues=1500))
    assert len(batches) > 1
    seen = []
    for targets, layout in batches:
        for t in range(targets.n_sequences):
            i, s = int(layout.origin[t]), int(layout.offset[t])
            source = rc if layout.minus[t] else piece
            whole = source.text(i)
            assert targets.text(t) == whole[s : s + 400]
            assert layout.length[t] == len(whole) and targets.names[t] == piece.names[i]
            seen.append((bool(layout.minus[t]), i, s))
    expected = [
        (side, i, int(s))
        for side in {"plus": [False], "minus": [True], "both": [False, True]}[strands]
        for i in range(piece.n_sequences)
        for s in window_starts(int(piece.lengths[i]), 400, 50)
    ]
    assert seen == expected
    # without windows: one batch, one target per sequence and strand
    ((targets, layout),) = search_targets(piece, strands, window=0)
    assert targets.n_sequences == piece.n_sequences * (2 if strands == "both" else 1)
    assert np.all(layout.offset == 0)


def test_domains_back_on_the_sequence_and_one_copy_each():
    from seqem.profile.domains import Domain

    rng = np.random.default_rng(2)
    piece = random_dna(rng, [3000])
    ((targets, layout),) = search_targets(
        piece, "both", window=1000, overlap=100, batch_residues=10**6
    )
    d = Domain(11, 60, 12, 58, 1, 40, 20.0, 1e-6, 1e-6, 1e-6, 0.9)
    for t in range(targets.n_sequences):
        back = on_sequence(d, layout, t)
        s = int(layout.offset[t])
        if layout.minus[t]:  # position p on the reverse complement is 3001 - p
            assert (back.env_from, back.ali_to) == (3001 - (s + 11), 3001 - (s + 58))
        else:
            assert (back.env_from, back.ali_to) == (s + 11, s + 58)
    a = Domain(950, 990, 950, 990, 1, 40, 20.0, 0, 0, 0, 0.9)
    b = Domain(960, 990, 960, 990, 10, 40, 15.0, 0, 0, 0, 0.9)  # the same hit cut short
    c = Domain(990, 950, 990, 950, 1, 40, 18.0, 0, 0, 0, 0.9)  # the other strand
    d2 = Domain(970, 1010, 970, 1010, 1, 40, 12.0, 0, 0, 0, 0.9)  # same target as a
    kept = without_duplicates([(b, "+", 1), (a, "+", 0), (c, "-", 2), (d2, "+", 0)])
    assert kept == [a, c, d2]  # by position (a and c both start at 950)


def plant(rng, length, copies):
    """Random DNA of ``length`` with the ``copies`` (start, text, strand) written in."""
    from Bio.Seq import Seq

    seq = list(rng.choice(list("ACGT"), size=length))
    for start, text, strand in copies:
        piece = text if strand == "+" else str(Seq(text).reverse_complement())
        seq[start : start + len(piece)] = piece
    return "".join(seq)


def strong_domains(path, evalue=1e-3):
    rows = read_hmmer_table(path, "domtblout")
    found = [
        (strand_of(r["ali_from"], r["ali_to"]), min(int(r["ali_from"]), int(r["ali_to"])),
         max(int(r["ali_from"]), int(r["ali_to"])), float(r["dom_score"]), float(r["i_evalue"]))
        for r in rows if float(r["i_evalue"]) <= evalue
    ]  # fmt: skip
    return sorted(found, key=lambda d: d[1])


def test_copies_found_once_wherever_the_windows_fall(run, tmp_path):
    """Copies planted in a 20 kb sequence searched in windows of 2,000 (overlap MAXL 71):
    one inside a window, one in the overlap of two windows (both find it), one whose
    end a window cuts (the next window sees part of it), two on the minus strand and
    one at the end; each is reported once, where it was planted, as by the search of
    the whole sequence; E-values count the windows of both strands."""
    from seqem.io.hmmer import read_hmmer
    from seqem.profile.calibrate import forward_pvalue

    model, texts = dna_family(tmp_path, 6)
    (hmm,) = read_hmmer(model)
    assert hmm.max_length() == 71
    rng = np.random.default_rng(8)
    copies = [(500, texts[0], "+"), (1935, texts[1], "+"), (3840, texts[2], "-"),
              (10000, texts[3], "-"), (19950, texts[4], "+")]  # fmt: skip
    db = tmp_path / "long.fa"
    db.write_text(f">chr\n{plant(rng, 20_000, copies)}\n")
    found = {}
    for window in ("2000", "0"):
        dom = tmp_path / f"w{window}.dtbl"
        out = tmp_path / f"w{window}.tsv"
        args = ("profile", "search", model, db, "--window", window, "--domtblout", dom)
        assert run(*args, "-o", out).code == 0
        assert len(out.read_text().splitlines()) == 2  # the sequence, once
        found[window] = strong_domains(dom)
    windowed = found["2000"]
    assert len(windowed) == len(copies)
    for (strand, a, b, _, _), (start, text, side) in zip(windowed, sorted(copies), strict=True):
        assert strand == side and start - 3 <= a - 1 and b <= start + len(text) + 3
    assert [d[:3] for d in windowed] == [d[:3] for d in found["0"]]
    # i-Evalue = P-value x the targets: 11 windows on each strand
    n_windows = len(window_starts(20_000, 2000, 71))
    assert n_windows == 11
    tau, lam = hmm.stats["forward"]
    for _, _, _, score, evalue in windowed:
        z = evalue / float(forward_pvalue(np.array([score]), tau, lam)[0])
        assert z == pytest.approx(2 * n_windows, rel=0.05)  # scores printed to 0.1 bit


def test_window_must_exceed_maxl(run, tmp_path):
    from .conftest import one_error

    model, texts = dna_family(tmp_path, 1)
    db = tmp_path / "s.fa"
    db.write_text(f">s\n{texts[0]}\n")
    result = run("profile", "search", model, db, "--window", "50", "-o", tmp_path / "x.tsv")
    one_error(result, "--window 50 must be longer than the models' MAXL (71)")


@needs_tutorial
def test_made1_scores_near_nhmmer_in_windows(run, tmp_path):
    """MADE1 on the 330 kb fragment: in windows (the default, 10,000 residues) the four
    copies nhmmer finds score within 1.5 bits of nhmmer's (39.9, 32.8, 31.0, 24.7 in
    the shared README), where the whole-sequence length model took about 5 bits off
    each; the alignments stay within 3 bases of nhmmer's."""
    nhmmer_bits = {302390: 39.9, 302466: 32.8, 174456: 31.0, 174493: 24.7}
    model, target = TUTORIAL / "models" / "MADE1.hmm", TUTORIAL / "dna_target.fa"
    assert default_window(278) == 10_000
    scores = {}
    for window in ("10000", "0"):
        dom = tmp_path / f"{window}.dtbl"
        assert run("profile", "search", model, target, "--window", window, "--domtblout", dom,
                   "-o", tmp_path / "h.tsv").code == 0  # fmt: skip
        rows = read_hmmer_table(dom, "domtblout")
        strong = [r for r in rows if float(r["i_evalue"]) <= 1e-5]
        assert len(strong) == len(NHMMER_MADE1)
        scores[window] = {
            a: next(float(r["dom_score"]) for r in strong if abs(int(r["ali_from"]) - a) <= 3)
            for a in nhmmer_bits
        }
    print("\nali_from  nhmmer  seqem windows  seqem whole")
    for a, bits in nhmmer_bits.items():
        print(f"{a}  {bits:5.1f}  {scores['10000'][a]:5.1f}  {scores['0'][a]:5.1f}")
        assert abs(scores["10000"][a] - bits) <= 1.5
        assert scores["0"][a] < bits - 3
