"""Alignment to a profile HMM: format round trips and accuracy on bench/fn3.

Accuracy is the sum-of-pairs measure of README section 2: residue pairs of
two test members put in the same match state, against pairs in the same
column of ``test_reference.sto`` (95,583 reference pairs for fn3).  HMMER's
``hmmalign`` with the hmmbuild model reaches recall 0.845 and precision
0.923; with the mafft route 0.780 / 0.877.
"""

from pathlib import Path

import numpy as np
import pytest

from seqem.errors import InputFormatError
from seqem.io.hmmer import read_hmmer
from seqem.io.msa import read_msa
from seqem.io.sequences import read_sequences
from seqem.profile.align import align, check_names, sum_of_pairs
from seqem.profile.build import build_from_msa
from seqem.profile.model import AMINO

DATA = Path(__file__).resolve().parents[2] / "data"
BENCH = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "profile" / "bench"


def test_alignment_round_trip(tmp_path):
    (hmm,) = read_hmmer(DATA / "example_family.hmm")
    seqs = read_sequences(DATA / "example_family.fa", hmm.alphabet)
    result = align(hmm, seqs.codes, seqs.bounds, seqs.names)
    for text, name in ((result.stockholm(), "a.sto"), (result.a2m(), "a.a2m")):
        (tmp_path / name).write_text(text)
        msa = read_msa(tmp_path / name)
        assert msa.nseq == seqs.n_sequences
        # every residue is kept, in order
        for i in range(msa.nseq):
            row = bytes(msa.rows[i]).decode().replace(".", "").replace("-", "").upper()
            assert row == "".join(result.rows_text[i]).upper()
    # the RF line marks the M match columns, so the alignment rebuilds an M-node model
    rebuilt = build_from_msa(read_msa(tmp_path / "a.sto"), use_rf=True)
    assert rebuilt.M == hmm.M
    # a posterior probability code under every residue (HMMER's #=GR PP), '.' under gaps
    rows, _ = result.columns()
    pp = result.posterior_rows()
    assert pp is not None and [len(r) for r in pp] == [len(r) for r in rows]
    for r, q in zip(rows, pp, strict=True):
        assert all((c.isalpha()) == (x in "0123456789*") for c, x in zip(r, q, strict=True))
    assert align(hmm, seqs.codes, seqs.bounds, seqs.names, method="viterbi").posteriors is None


@pytest.mark.parametrize(
    ("names", "stockholm", "record", "words"),
    [
        (["a", "b", "a"], True, "a", "sequences 1 and 3 have the same name"),
        (["a", "b", "a"], False, "a", "sequences 1 and 3 have the same name"),
        (["a", "#=GC"], True, "#=GC", "sequence 2's name"),
        (["#x", "b"], True, "#x", "sequence 1's name"),
        (["a", "//"], True, "//", "sequence 2's name"),
        (["a", "//b"], True, "//b", "sequence 2's name"),
    ],
)
def test_names_an_alignment_cannot_hold(names, stockholm, record, words):
    """Names that would not read back (duplicates; in Stockholm, markup-like names
    and the end-of-alignment line) are refused, by the writers too."""
    with pytest.raises(InputFormatError, match=words) as info:
        check_names(names, stockholm=stockholm)
    assert info.value.record == record
    (hmm,) = read_hmmer(DATA / "example_family.hmm")
    seqs = read_sequences(DATA / "example_family.fa", hmm.alphabet).subset(np.arange(len(names)))
    result = align(hmm, seqs.codes, seqs.bounds, names)
    with pytest.raises(InputFormatError, match=words):
        result.stockholm() if stockholm else result.a2m()
    check_names(["a", "#=GC", "//"], stockholm=False)  # A2M (FASTA) reads these back


def test_a2m_with_stockholm_markup_names_reads_back(tmp_path):
    (hmm,) = read_hmmer(DATA / "example_family.hmm")
    seqs = read_sequences(DATA / "example_family.fa", hmm.alphabet).subset(np.arange(3))
    result = align(hmm, seqs.codes, seqs.bounds, ["#=GC", "//", "a"])
    (tmp_path / "a.a2m").write_text(result.a2m())
    assert read_msa(tmp_path / "a.a2m").names == ("#=GC", "//", "a")


def test_posterior_codes():
    """HMMER's code: 0 below 0.05, then the nearest tenth, * from 0.95."""
    from seqem.profile.align import posterior_codes

    p = np.array([0.0, 0.04, 0.06, 0.14, 0.16, 0.5, 0.84, 0.86, 0.94, 0.96, 1.0])
    assert posterior_codes(p) == "001125899**"


def one_by_one(hmm, codes, bounds, method):
    """The alignment assembled from each sequence's own trace
    (``decode`` + ``optimal_accuracy_trace``, or ``viterbi_trace``)."""
    from seqem.profile.domains import decode, optimal_accuracy_trace, viterbi_trace
    from seqem.profile.search import configure

    profile = configure(hmm, mode="glocal", multihit=False)
    M, n = hmm.M, len(bounds) - 1
    match = np.zeros((n, M), dtype=np.int64)
    inserts = []
    for s in range(n):
        dsq = np.ascontiguousarray(codes[bounds[s] : bounds[s + 1]], dtype=np.uint8)
        if method == "mea":
            trace = optimal_accuracy_trace(profile, decode(profile, dsq))
        else:
            trace = viterbi_trace(profile, dsq)
        ins = [[] for _ in range(M + 1)]
        for state, node, pos in zip(trace.states, trace.nodes, trace.positions, strict=True):
            if pos <= 0:
                continue
            if state == "M":
                match[s, node - 1] = pos
            else:  # I after its node, N before the first, C after the last
                ins[{"I": int(node), "N": 0, "C": M}[state]].append(int(dsq[pos - 1]))
        inserts.append(ins)
    return match, inserts


@pytest.mark.parametrize("method", ["mea", "viterbi"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_batched_alignment_equals_each_sequence_traced(method, seed):
    """The compiled pass over all sequences (one or two threads) places every
    residue where the sequence's own trace puts it."""
    from tests.profile.test_kernels import random_hmm

    rng = np.random.default_rng(300 + seed)
    hmm = random_hmm(rng, 4 + 3 * seed)
    lengths = rng.integers(1, 30, size=25)
    codes = rng.integers(0, 4, size=lengths.sum()).astype(np.uint8)
    bounds = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    names = [f"s{i}" for i in range(lengths.size)]
    match, inserts = one_by_one(hmm, codes, bounds, method)
    letters, _ = hmm.alphabet.degenerate_matrix()
    for threads in (1, 2):
        result = align(hmm, codes, bounds, names, method=method, threads=threads)
        np.testing.assert_array_equal(result.match, match)
        for s in range(lengths.size):
            want = tuple("".join(letters[c] for c in ins) for ins in inserts[s])
            assert result.inserts[s] == want


def test_sum_of_pairs_by_hand():
    ref = np.array([[0, 1, 2], [0, 2, -2]])
    pred = np.array([[0, 1, 2], [0, 1, -2]])
    # reference pairs: (a0,b0), (a2,b1); predicted: (a0,b0), (a1,b1)
    assert sum_of_pairs(pred, ref) == (2, 2, 1)


def columns_of(msa, names):
    index = {n: i for i, n in enumerate(msa.names)}
    rows = []
    for n in names:
        row = msa.rows[index[n]]
        rows.append([c for c, ch in enumerate(row) if chr(ch) not in ".-"])
    return rows


def pad(lists):
    out = np.full((len(lists), max(len(x) for x in lists)), -2)
    for i, x in enumerate(lists):
        out[i, : len(x)] = x
    return out


@pytest.mark.skipif(not BENCH.is_dir(), reason="shared bench data not present")
@pytest.mark.parametrize(
    "source,mode,recall,precision",
    [
        ("build", "glocal", 0.90, 0.90),
        ("train", "glocal", 0.80, 0.82),
        ("build", "local", 0.84, 0.92),
        ("train", "local", 0.76, 0.85),
    ],
)
def test_fn3_alignment_accuracy(source, mode, recall, precision):
    """Floors at what is reached today: built from train.sto, recall 0.922 and
    precision 0.927 (above hmmalign's 0.845 / 0.923); trained from train.fa,
    0.830 / 0.843 (the goal is >= 0.80 / >= 0.88).  Local alignment (as
    hmmalign aligns) trades recall for precision: 0.844 / 0.923 and 0.773 /
    0.857."""
    from seqem.profile.train import train

    test = read_sequences(BENCH / "fn3" / "test_domains.fa", AMINO)
    if source == "build":
        hmm = build_from_msa(read_msa(BENCH / "fn3" / "train.sto"))
    else:
        seqs = read_sequences(BENCH / "fn3" / "train.fa", AMINO)
        hmm = train(seqs.codes, seqs.bounds, AMINO, n_init=4, random_state=1).hmm
    result = align(hmm, test.codes, test.bounds, test.names, mode=mode)
    predicted = []
    for s in range(len(test.names)):
        col = np.full(int(test.bounds[s + 1] - test.bounds[s]), -1)
        for k in range(hmm.M):
            if result.match[s, k] > 0:
                col[result.match[s, k] - 1] = k
        predicted.append(list(col))
    ref = read_msa(BENCH / "fn3" / "test_reference.sto")
    r, p, c = sum_of_pairs(pad(predicted), pad(columns_of(ref, test.names)))
    print(f"\nfn3 {source} {mode}: SP recall {c / r:.3f}, precision {c / p:.3f} ({r} pairs)")
    assert r == 95583
    assert c / r >= recall and c / p >= precision
