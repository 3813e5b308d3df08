"""The search filters (MSV, composition bias, Viterbi, Forward).

References: enumeration of every parse on tiny models and sequences (the MSV
kernel's fixed-point scores within their stated rounding, the bias model's
Forward to 1e-10), the filters' pass rates on i.i.d. background sequences
against their P-value thresholds, and HMMER's default pipeline on the shared
benchmark database (the same hits at E <= 0.01).
"""

import itertools
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from seqem.errors import ParameterError
from seqem.io.hmmer import read_hmmer
from seqem.io.sequences import read_sequences
from seqem.profile import _kernels as K
from seqem.profile.calibrate import calibrate
from seqem.profile.model import AMINO
from seqem.profile.pipeline import Filters, bias_bits, model_composition, prefilter
from seqem.profile.search import (
    LN2,
    configure,
    msv_bits,
    null_score,
    viterbi_bits,
    viterbi_filter_bits,
)
from tests.profile.test_kernels import random_hmm

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data" / "profile"
needs_data = pytest.mark.skipif(
    not SHARED.is_dir(), reason="shared profile data (../shared/data/profile) not present"
)


def msv_by_enumeration(profile, x):
    """Best parse into ungapped segments (log, nats), every parse enumerated."""
    M, L = profile.M, len(x)
    with np.errstate(divide="ignore"):
        lxt = np.log(profile.specials(np.array([L]))[0])
    with np.errstate(divide="ignore"):
        lms = np.log(profile.msc)
    tbm = np.log(2.0 / (M * (M + 1.0)))
    best = -np.inf

    def segments(i, parts):
        # parts: (start residue, length, first node) so far; residues from i on are free
        nonlocal best
        if len(parts) > 1 and not profile.multihit:
            return  # one hit only
        if parts:
            first = parts[0][0]
            score = first * lxt[K.N_LOOP] + lxt[K.N_MOVE]
            for j, (s, n, k) in enumerate(parts):
                score += tbm + sum(lms[x[s + d], k + d] for d in range(n))
                if j + 1 < len(parts):
                    gap = parts[j + 1][0] - (s + n)
                    score += lxt[K.E_J] + gap * lxt[K.J_LOOP] + lxt[K.J_MOVE]
            last = parts[-1][0] + parts[-1][1]
            score += lxt[K.E_C] + (L - last) * lxt[K.C_LOOP] + lxt[K.C_MOVE]
            best = max(best, score)
        for s in range(i, L):
            for n in range(1, L - s + 1):
                for k in range(1, M - n + 2):
                    segments(s + n, parts + [(s, n, k)])

    segments(0, [])
    return best


@pytest.mark.parametrize("multihit", [True, False])
@pytest.mark.parametrize("M,L,seed", [(1, 3, 0), (2, 4, 1), (3, 5, 2), (4, 4, 3)])
def test_msv_against_enumeration(M, L, seed, multihit):
    rng = np.random.default_rng(seed)
    prof = configure(random_hmm(rng, M), multihit=multihit)
    for _ in range(3):
        x = rng.integers(0, 4, size=L).astype(np.uint8)
        bounds = np.array([0, L], dtype=np.int64)
        ref = (msv_by_enumeration(prof, list(x)) - null_score(np.array([L]))[0]) / LN2
        got = msv_bits(prof, x, bounds)[0]
        # at most 0.5/MSV_SCALE nats per matched residue and 2/MSV_SCALE per segment
        # (its entry, its exit and the loops), at most L segments
        assert got == pytest.approx(ref, abs=(0.5 * L + 2 * L) / K.MSV_SCALE / LN2 + 1e-12)


def test_msv_many_sequences_match_one_by_one():
    rng = np.random.default_rng(7)
    prof = configure(random_hmm(rng, 30, alphabet=AMINO))
    lengths = rng.integers(1, 120, size=40)
    bounds = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    x = rng.integers(0, 20, size=bounds[-1]).astype(np.uint8)
    together = msv_bits(prof, x, bounds)
    alone = [msv_bits(prof, x[a:b], np.array([0, b - a])) for a, b in itertools.pairwise(bounds)]
    assert np.array_equal(together, np.concatenate(alone))


def test_msv_saturation_scores_inf_and_passes_the_filters():
    """The 16-bit MSV rows saturate at 256 nats: a sequence with such a segment
    scores +inf (and passes every filter threshold), a shorter one stays exact
    within the rounding bound, and the single-segment shortcut agrees."""
    M = 200
    rng = np.random.default_rng(11)
    hmm = random_hmm(rng, M, alphabet=AMINO)
    best = rng.integers(0, 20, M + 1)
    hmm.match[1:] = 0.001
    hmm.match[np.arange(1, M + 1), best[1:]] = 1.0 - 0.019  # about 3 nats a matched residue
    calibrate(hmm)
    prof = configure(hmm)
    odds = np.log(prof.msc[best[1:], np.arange(1, M + 1)])
    for n in (40, 150):  # well below and above 256 nats
        x = best[1 : n + 1].astype(np.uint8)
        bounds = np.array([0, n], dtype=np.int64)
        got = msv_bits(prof, x, bounds)[0]
        if odds[:n].sum() < 200.0:
            # the best parse is the whole sequence on nodes 1..n (any other
            # node a residue could sit at costs about 4 nats)
            lxt = np.log(prof.specials(np.array([n]))[0])
            tbm = np.log(2.0 / (M * (M + 1.0)))
            raw = lxt[K.N_MOVE] + tbm + odds[:n].sum() + lxt[K.E_C] + lxt[K.C_MOVE]
            ref = (raw - null_score(np.array([n]))[0]) / LN2
            assert got == pytest.approx(ref, abs=(0.5 * n + 2) / K.MSV_SCALE / LN2)
        else:
            assert odds[:n].sum() > 260.0 and got == np.inf
            passed = prefilter(prof, x, bounds, Filters(F1=1e-300, F2=1e-300))
            assert passed.passed["msv"] == 1


@pytest.mark.parametrize("multihit", [True, False])
def test_viterbi_filter_equals_viterbi_within_rounding(multihit):
    """The fixed-point Viterbi filter against the floating-point Viterbi (itself
    checked against enumeration in test_kernels.py): within 0.5/FIXED_SCALE nats
    per emission and transition of the best path (at most 3 per residue plus
    the entry, exit and flank moves)."""
    rng = np.random.default_rng(5 if multihit else 6)
    for M in (1, 7, 40, 70):
        prof = configure(random_hmm(rng, M, alphabet=AMINO), multihit=multihit)
        lengths = rng.integers(1, 150, size=30)
        bounds = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        x = rng.integers(0, 20, size=bounds[-1]).astype(np.uint8)
        exact = viterbi_bits(prof, x, bounds)
        fixed = viterbi_filter_bits(prof, x, bounds)
        bound = (3 * lengths + 6) * 0.5 / K.FIXED_SCALE / LN2
        assert np.all(np.abs(fixed - exact) <= bound), np.max(np.abs(fixed - exact) / bound)
    with pytest.raises(ParameterError, match="local"):
        viterbi_filter_bits(configure(random_hmm(rng, 3), mode="glocal"), x[:5], np.array([0, 5]))


def bias_by_enumeration(odds, stay, x):
    """log of the sum over every state path of the two-state composition model."""
    L = len(x)
    t = np.array([[L / (L + 1.0), 1.0 / (L + 1.0)], [1.0 - stay, stay]])
    emit = np.array([np.ones(len(odds)), odds])
    total = 0.0
    for path in itertools.product((0, 1), repeat=L):
        p = (0.999, 0.001)[path[0]] * emit[path[0], x[0]]
        for i in range(1, L):
            p *= t[path[i - 1], path[i]] * emit[path[i], x[i]]
        total += p
    return np.log(total)


@pytest.mark.parametrize("L", [1, 2, 5, 9])
def test_bias_model_against_enumeration(L):
    rng = np.random.default_rng(L)
    hmm = random_hmm(rng, 16, alphabet=AMINO)
    prof = configure(hmm)
    x = rng.integers(0, 20, size=L).astype(np.uint8)
    compo = model_composition(prof)
    odds = compo / np.asarray(AMINO.background)
    ref = bias_by_enumeration(odds, (16 / 8) / (16 / 8 + 1), list(x)) / LN2
    got = bias_bits(prof, x, np.array([0, L]))[0]
    assert got == pytest.approx(ref, rel=1e-10, abs=1e-10)


def test_bias_is_small_on_background_and_large_on_model_composition():
    rng = np.random.default_rng(3)
    hmm = random_hmm(rng, 40, alphabet=AMINO)
    prof = configure(hmm)
    bg = np.asarray(AMINO.background)
    compo = model_composition(prof)
    plain = rng.choice(20, size=300, p=bg).astype(np.uint8)
    biased = rng.choice(20, size=300, p=compo).astype(np.uint8)
    b = bias_bits(prof, np.concatenate([plain, biased]), np.array([0, 300, 600]))
    assert abs(b[0]) < 2.0
    assert b[1] > b[0] + 5.0


def test_thresholds_are_checked():
    with pytest.raises(ParameterError, match="F1"):
        Filters(F1=0.0)
    with pytest.raises(ParameterError, match="F3"):
        Filters(F3=1.5)


def test_pass_rates_on_background_sequences():
    """On i.i.d. background sequences each stage passes about its threshold's
    share: MSV F1 = 0.02 of 20,000 (expected 400), Viterbi 0.001 of them
    (expected 20); we allow a factor 2 (the locations come from 200 sampled
    sequences) and Poisson spread."""
    (hmm,) = read_hmmer(REPO / "data" / "example_family.hmm")
    prof = configure(hmm)
    rng = np.random.default_rng(11)
    n, length = 20_000, 200
    bg = np.asarray(hmm.alphabet.background)
    x = rng.choice(bg.size, size=n * length, p=bg).astype(np.uint8)
    bounds = np.arange(0, n * length + 1, length, dtype=np.int64)
    out = prefilter(prof, x, bounds, Filters())
    assert 200 <= out.passed["msv"] <= 800, out.passed
    assert out.passed["bias"] >= 0.8 * out.passed["msv"]  # background is not biased
    assert 5 <= out.passed["viterbi"] <= 60, out.passed
    assert np.all(np.diff(out.index) > 0) and out.bias.shape == out.index.shape
    nobias = prefilter(prof, x, bounds, Filters(bias=False))
    assert nobias.passed["bias"] == nobias.passed["msv"] and np.all(nobias.bias == 0)


def test_prefilter_needs_calibration():
    rng = np.random.default_rng(0)
    prof = configure(random_hmm(rng, 5))
    x = np.zeros(10, dtype=np.uint8)
    with pytest.raises(ParameterError, match="calibrated"):
        prefilter(prof, x, np.array([0, 10]), Filters())
    calibrate(prof.hmm)
    assert prefilter(prof, x, np.array([0, 10]), Filters()).passed["total"] == 1


def reported(path, column):
    rows = [line.split() for line in open(path) if not line.startswith("#")]
    return {r[column] for r in rows if r}


@needs_data
@pytest.mark.skipif(not shutil.which("hmmsearch"), reason="HMMER's hmmsearch not installed")
@pytest.mark.parametrize("name", ["fn3", "Pkinase", "globins4"])
def test_same_hits_as_hmmsearch_default_pipeline(name, tmp_path):
    """HMMER's models on the benchmark database (4,368 sequences): the
    sequences reported at E <= 0.01 by seqem's default pipeline equal
    hmmsearch's (default pipeline) and seqem's --max search."""
    from seqem.cli.profile import search_models

    model = SHARED / "tutorial" / "models" / f"{name}.hmm"
    db = SHARED / "bench" / "db.fa"
    tbl = tmp_path / "h.tbl"
    subprocess.run(
        ["hmmsearch", "--cpu", "0", "-E", "0.01", "-Z", "4368", "--tblout", str(tbl),
         str(model), str(db)],
        check=True, capture_output=True,
    )  # fmt: skip
    theirs = reported(tbl, 0)
    models = read_hmmer(model)
    report: list = []
    hits, n = search_models(models, str(db), evalue=0.01, threads=2, filters=Filters(),
                            report=report)  # fmt: skip
    ours = {h.target_name for h in hits}
    everything, _ = search_models(read_hmmer(model), str(db), evalue=0.01, threads=2)
    print(f"\n{name}: passed {report[0]}; hmmsearch {len(theirs)}, seqem {len(ours)}")
    assert n == 4368 and ours == theirs
    assert ours == {h.target_name for h in everything}
    assert report[0]["forward"] >= len(ours)


@needs_data
def test_filters_keep_the_benchmark_positives():
    """A model built by seqem from the curated fn3 alignment, default
    pipeline: every positive and at least 14 of the 50 fragments at E <= 0.01
    (the README's hmmbuild row, measured with hmmsearch's default pipeline;
    without filters seqem finds 15), nothing the unfiltered search does not
    report."""
    from seqem.cli.profile import search_models
    from seqem.io.msa import read_msa
    from seqem.profile.build import build_from_msa

    hmm = build_from_msa(read_msa(SHARED / "bench" / "fn3" / "train.sto"))
    calibrate(hmm)
    db = str(SHARED / "bench" / "db.fa")
    filtered, _ = search_models([hmm], db, evalue=0.01, threads=2, filters=Filters())
    everything, _ = search_models([hmm], db, evalue=0.01, threads=2)
    names = {h.target_name for h in filtered}
    assert names <= {h.target_name for h in everything}
    assert sum(n.startswith("pos|fn3") for n in names) == 50
    assert sum(n.startswith("frag|fn3") for n in names) >= 14
    assert all(n.split("|")[1] == "fn3" for n in names)


def test_subset_of_sequences():
    seqs = read_sequences(REPO / "data" / "example_db.fa", AMINO)
    sub = seqs.subset(np.array([5, 2]))
    assert sub.names == (seqs.names[5], seqs.names[2])
    assert np.array_equal(sub.sequence(0), seqs.sequence(5))
    assert np.array_equal(sub.sequence(1), seqs.sequence(2))
    empty = seqs.subset(np.array([], dtype=np.int64))
    assert empty.n_sequences == 0 and empty.bounds.tolist() == [0]


@needs_data
def test_msv_single_segment_shortcut_is_exact():
    """msv_bits scores most sequences by the single best segment (SSV) and runs
    MSV's recurrence only where the J state could have added a segment: the
    scores equal MSV's recurrence on every sequence, bit for bit, on members of
    the family with several domains (the J state used) and on background."""
    from seqem.profile.emit import emit
    from seqem.profile.search import msv_table

    (hmm,) = read_hmmer(SHARED / "tutorial" / "models" / "fn3.hmm")
    prof = configure(hmm)
    members, _ = emit(hmm, 30, random_state=1, flank_length=20)
    rng = np.random.default_rng(2)
    # members joined in threes: several domains in one sequence
    parts = [members.sequence(i) for i in range(members.n_sequences)]
    linker = rng.integers(0, 20, 10).astype(np.uint8)
    joined = [
        np.concatenate([a, linker, b, linker, c])
        for a, b, c in zip(parts[:-2], parts[1:-1], parts[2:], strict=True)
    ]
    background = [rng.integers(0, 20, int(n)).astype(np.uint8) for n in rng.integers(5, 400, 300)]
    seqs = joined + parts + background
    bounds = np.concatenate([[0], np.cumsum([len(x) for x in seqs])]).astype(np.int64)
    codes = np.concatenate(seqs)
    lengths = np.diff(bounds)
    with np.errstate(divide="ignore"):
        lxt = np.log(prof.specials(lengths))
    tbm = float(np.log(2.0 / (prof.M * (prof.M + 1.0))))
    table = msv_table(prof)
    shortcut = K.msv_scores(codes, bounds, table, tbm, lxt, True)
    assert 0 < np.isnan(shortcut).sum() < len(seqs) // 2  # both routes are taken
    full = K.msv_scores(codes, bounds, table, tbm, lxt, False)
    assert np.array_equal(shortcut[~np.isnan(shortcut)], full[~np.isnan(shortcut)])
    no_j = lxt.copy()
    no_j[:, K.E_J] = -np.inf  # floored: the J state never used
    assert np.sum(full > K.msv_scores(codes, bounds, table, tbm, no_j, False)) >= 5
    expected = (full - null_score(lengths)) / LN2
    assert np.array_equal(msv_bits(prof, codes, bounds), expected)
