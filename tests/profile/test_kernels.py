"""Profile search kernels against brute-force path enumeration."""

import numpy as np
import pytest

from seqem.profile.model import AMINO, DNA, ProfileHMM
from seqem.profile.search import configure, forward_bits, null_score, viterbi_bits
from tests.reference.brute_profile import log_total


def random_hmm(rng, M, alphabet=DNA, sparse=False):
    Kx = alphabet.K
    match = np.zeros((M + 1, Kx))
    match[1:] = rng.dirichlet(np.ones(Kx), size=M)
    insert = rng.dirichlet(np.ones(Kx), size=M + 1)
    t = np.zeros((M + 1, 7))
    t[:, 0:3] = rng.dirichlet(np.ones(3), size=M + 1)
    t[:, 3:5] = rng.dirichlet(np.ones(2), size=M + 1)
    t[:, 5:7] = rng.dirichlet(np.ones(2), size=M + 1)
    t[0, 5:7] = (1.0, 0.0)
    t[M, 0:3] = (1.0 - t[M, 1], t[M, 1], 0.0)
    t[M, 5:7] = (1.0, 0.0)
    if sparse:
        match[1, 0] = 0.0
        match[1] /= match[1].sum()
    hmm = ProfileHMM(alphabet, match, insert, t, name="rand")
    hmm.validate()
    return hmm


CASES = [
    (M, L, mode, multihit, seed)
    for M in (1, 2, 3)
    for L in (1, 2, 4)
    for mode in ("local", "glocal")
    for multihit in (True, False)
    for seed in (0,)
]


@pytest.mark.parametrize("M,L,mode,multihit,seed", CASES)
def test_forward_and_viterbi_against_enumeration(M, L, mode, multihit, seed):
    rng = np.random.default_rng(1000 * M + 10 * L + seed)
    hmm = random_hmm(rng, M)
    for insert_odds in ("background", "model"):
        prof = configure(hmm, mode=mode, multihit=multihit, insert_odds=insert_odds)
        x = rng.integers(0, 4, size=L).astype(np.uint8)
        bounds = np.array([0, L], dtype=np.int64)
        xt = prof.specials(np.array([L]))
        ref = (log_total(prof, list(x), xt[0]) - null_score(np.array([L]))[0]) / np.log(2)
        got = forward_bits(prof, x, bounds, precision="double")[0]
        assert got == pytest.approx(ref, rel=1e-10, abs=1e-10)
        # the same kernel on single-precision rows (the search's default)
        single = forward_bits(prof, x, bounds)[0]
        assert single == pytest.approx(ref, rel=1e-5, abs=1e-5)
        vref = log_total(prof, list(x), xt[0], viterbi=True)
        vbits = viterbi_bits(prof, x, bounds)[0]
        assert vbits == pytest.approx((vref - null_score(np.array([L]))[0]) / np.log(2), rel=1e-10)
        fbits = forward_bits(prof, x, bounds)[0]
        assert fbits >= vbits - 1e-9


def test_degenerate_residue_and_zero_probability():
    rng = np.random.default_rng(3)
    hmm = random_hmm(rng, 2, sparse=True)
    prof = configure(hmm)
    codes, _ = DNA.degenerate_matrix()
    n = codes.index("N")
    x = np.array([0, n, 2], dtype=np.uint8)
    xt = prof.specials(np.array([3]))
    ref = (log_total(prof, list(x), xt[0]) - null_score(np.array([3]))[0]) / np.log(2)
    got = forward_bits(prof, x, np.array([0, 3]), precision="double")[0]
    assert got == pytest.approx(ref, rel=1e-10)
    # node 1 cannot emit A: its odds are 0
    assert prof.msc[0, 1] == 0.0


def test_many_sequences_in_parallel_match_one_by_one():
    rng = np.random.default_rng(4)
    hmm = random_hmm(rng, 12, alphabet=AMINO)
    prof = configure(hmm)
    lengths = rng.integers(1, 60, size=30)
    dsq = rng.integers(0, 20, size=int(lengths.sum())).astype(np.uint8)
    bounds = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    all_at_once = forward_bits(prof, dsq, bounds)
    one_by_one = [
        forward_bits(prof, dsq[bounds[i] : bounds[i + 1]], np.array([0, lengths[i]]))[0]
        for i in range(30)
    ]
    np.testing.assert_allclose(all_at_once, one_by_one, rtol=1e-12)


def test_long_sequence_no_underflow():
    rng = np.random.default_rng(5)
    hmm = random_hmm(rng, 20, alphabet=AMINO)
    prof = configure(hmm)
    dsq = rng.integers(0, 20, size=200_000).astype(np.uint8)
    score = forward_bits(prof, dsq, np.array([0, dsq.size]))[0]
    assert np.isfinite(score)
