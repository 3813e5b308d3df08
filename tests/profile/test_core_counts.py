"""Expected counts of the glocal core model against path enumeration."""

import numpy as np
import pytest

from seqem.profile import _kernels as K
from seqem.profile.model import DNA
from tests.profile.test_kernels import random_hmm
from tests.reference.brute_core import expected_counts


def kernel_inputs(hmm):
    codes, members = DNA.degenerate_matrix()
    emM = members @ hmm.match.T  # (n_codes, M + 1): sum over a code's residues
    emI = members @ hmm.insert.T
    return (np.ascontiguousarray(emM), np.ascontiguousarray(emI), np.ascontiguousarray(members),
            np.ascontiguousarray(hmm.transitions.T))  # fmt: skip


@pytest.mark.parametrize("M", [1, 2, 3])
@pytest.mark.parametrize("L", [1, 2, 3, 4])
@pytest.mark.parametrize("seed", [0, 1])
def test_core_counts_against_enumeration(M, L, seed):
    rng = np.random.default_rng(77 * M + 7 * L + seed)
    hmm = random_hmm(rng, M)
    x = rng.integers(0, 4, size=L).astype(np.uint8)
    ll_ref, cM_ref, cI_ref, cT_ref = expected_counts(hmm.match, hmm.insert, hmm.transitions, x)
    bounds = np.array([0, L], dtype=np.int64)
    ll, cM, cI, cT = K.core_expected_counts(
        x, bounds, np.array([0, 1]), *kernel_inputs(hmm), np.ones(1)
    )
    assert ll[0] == pytest.approx(ll_ref, rel=1e-10)
    np.testing.assert_allclose(cM, cM_ref, rtol=0, atol=1e-10)
    np.testing.assert_allclose(cI, cI_ref, rtol=0, atol=1e-10)
    np.testing.assert_allclose(cT, cT_ref, rtol=0, atol=1e-10)


def test_degenerate_codes_split_counts():
    rng = np.random.default_rng(5)
    hmm = random_hmm(rng, 2)
    codes, members = DNA.degenerate_matrix()
    r = codes.index("R")  # A or G
    x = np.array([r, 1, r], dtype=np.uint8)
    ll, cM, cI, cT = K.core_expected_counts(x, np.array([0, 3]), np.array([0, 1]),
                                            *kernel_inputs(hmm), np.ones(1))  # fmt: skip
    # a degenerate residue is the sum over its residues: enumerate both choices
    total = 0.0
    for a in (0, 2):
        for b in (0, 2):
            total += np.exp(expected_counts(hmm.match, hmm.insert, hmm.transitions,
                                            np.array([a, 1, b]))[0])  # fmt: skip
    assert ll[0] == pytest.approx(np.log(total), rel=1e-10)
    assert cM.sum() + cI.sum() == pytest.approx(3.0)


def test_chunks_and_sequences_add_up():
    rng = np.random.default_rng(6)
    hmm = random_hmm(rng, 5)
    lengths = rng.integers(1, 30, size=12)
    dsq = rng.integers(0, 4, size=int(lengths.sum())).astype(np.uint8)
    bounds = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    args = kernel_inputs(hmm)
    one = K.core_expected_counts(dsq, bounds, np.array([0, 12]), *args, np.ones(12))
    many = K.core_expected_counts(dsq, bounds, np.array([0, 3, 7, 12]), *args, np.ones(12))
    for a, b in zip(one, many, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    # expected emissions add up to the number of residues
    assert one[1].sum() + one[2].sum() == pytest.approx(lengths.sum())


def test_weights_scale_each_sequence():
    rng = np.random.default_rng(8)
    hmm = random_hmm(rng, 4)
    dsq = rng.integers(0, 4, size=21).astype(np.uint8)
    bounds = np.array([0, 5, 14, 21])
    args = kernel_inputs(hmm)
    w = np.array([0.5, 2.0, 0.0])
    got = K.core_expected_counts(dsq, bounds, np.array([0, 3]), *args, w)
    parts = [
        K.core_expected_counts(dsq[a:b], np.array([0, b - a]), np.array([0, 1]), *args, np.ones(1))
        for a, b in zip(bounds[:-1], bounds[1:], strict=True)
    ]
    for j in (1, 2, 3):
        expected = sum(wq * part[j] for wq, part in zip(w, parts, strict=True))
        np.testing.assert_allclose(got[j], expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got[0], [p[0][0] for p in parts], rtol=1e-12)


@pytest.mark.parametrize("threads", [1, 2])
def test_group_counts_equal_enumeration_under_each_groups_model(threads):
    """core_group_counts: every group scored and counted under its own model."""
    from seqem import _jit

    rng = np.random.default_rng(8)
    M = 3
    models = [random_hmm(rng, M) for _ in range(3)]
    groups = np.array([0, 2, 3, 5], dtype=np.int64)
    seqs = [rng.integers(0, 4, size=int(n)).astype(np.uint8) for n in (2, 4, 1, 3, 4)]
    dsq = np.concatenate(seqs)
    bounds = np.concatenate([[0], np.cumsum([len(s) for s in seqs])]).astype(np.int64)
    inputs = [kernel_inputs(h) for h in models]
    emM = np.stack([i[0] for i in inputs])
    emI = np.stack([i[1] for i in inputs])
    tr = np.stack([i[3] for i in inputs])
    with _jit.threads(threads):
        ll, cM, cI, cT = K.core_group_counts(dsq, bounds, groups, emM, emI, inputs[0][2], tr)
    for g, h in enumerate(models):
        ref = [np.zeros_like(cM[g]), np.zeros_like(cI[g]), np.zeros_like(cT[g])]
        for q in range(groups[g], groups[g + 1]):
            ll_ref, *counts = expected_counts(h.match, h.insert, h.transitions, seqs[q])
            assert ll[q] == pytest.approx(ll_ref, rel=1e-10)
            for acc, c in zip(ref, counts, strict=True):
                acc += c
        np.testing.assert_allclose(cM[g], ref[0], rtol=0, atol=1e-10)
        np.testing.assert_allclose(cI[g], ref[1], rtol=0, atol=1e-10)
        np.testing.assert_allclose(cT[g], ref[2], rtol=0, atol=1e-10)
