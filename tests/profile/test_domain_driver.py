"""Compiled domain definition over many targets against the one-target Python path.

``define_domains_many`` (two ``prange`` drivers) must give what
``define_domains`` gives target by target: the same envelopes, alignment and
model coordinates, and scores, E-values and accuracies within 1e-10 (both
run the same Forward and Backward rows, so they usually agree to the bit);
and the same results on one and two threads.
"""

import numba
import numpy as np
import pytest

from seqem.profile.domains import (
    define_domains,
    define_domains_many,
    rescore_envelopes,
    score_and_find_envelopes,
)
from seqem.profile.emit import emit
from seqem.profile.search import configure, forward_bits
from tests.profile.test_kernels import random_hmm

FIELDS = ("env_from", "env_to", "ali_from", "ali_to", "hmm_from", "hmm_to")


def _database(seed, M, n_members=6, n_random=6):
    """Family members with random flanks, some joined in pairs, and random sequences."""
    rng = np.random.default_rng(seed)
    hmm = random_hmm(rng, M)
    hmm.stats = {"forward": (-2.0, 0.7)}
    members, _ = emit(hmm, n_members, random_state=rng, mode="local")
    seqs = []
    for i in range(n_members):
        core = members.sequence(i)
        left = rng.integers(0, 4, size=rng.integers(0, 15))
        right = rng.integers(0, 4, size=rng.integers(0, 15))
        seqs.append(np.concatenate([left, core, right]))
    for i in range(0, n_members - 1, 2):  # two domains in one target
        seqs.append(np.concatenate([seqs[i], rng.integers(0, 4, size=5), seqs[i + 1]]))
    for _ in range(n_random):
        seqs.append(rng.integers(0, 4, size=rng.integers(1, 60)))
    seqs.append(rng.integers(0, 4, size=1))
    codes = np.concatenate(seqs).astype(np.uint8)
    bounds = np.concatenate([[0], np.cumsum([len(s) for s in seqs])]).astype(np.int64)
    return hmm, codes, bounds


def _same(ref, got):
    assert len(ref) == len(got)
    for r, g in zip(ref, got, strict=True):
        assert [getattr(r, f) for f in FIELDS] == [getattr(g, f) for f in FIELDS]
        assert g.bitscore == pytest.approx(r.bitscore, abs=1e-10)
        assert g.acc == pytest.approx(r.acc, abs=1e-10)
        assert g.i_evalue == pytest.approx(r.i_evalue, rel=1e-10)
        assert g.c_evalue == pytest.approx(r.c_evalue, rel=1e-10)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("mode", ["local", "glocal"])
def test_driver_equals_python_path(seed, mode):
    hmm, codes, bounds = _database(seed, M=3 + 2 * seed)
    prof = configure(hmm, mode=mode)
    many = define_domains_many(prof, codes, bounds, hmm.stats, Z=100, domZ=7)
    assert len(many) == bounds.size - 1
    n_found = 0
    for q in range(bounds.size - 1):
        ref = define_domains(prof, codes[bounds[q] : bounds[q + 1]], hmm.stats, Z=100, domZ=7)
        _same(ref, many[q])
        n_found += len(ref)
    assert n_found > 0  # the planted members are found


def test_scores_are_the_search_scores_and_threshold_skips_targets():
    hmm, codes, bounds = _database(11, M=8)
    prof = configure(hmm)
    bits, envs, decoded, counts = score_and_find_envelopes(prof, codes, bounds)
    np.testing.assert_array_equal(bits, forward_bits(prof, codes, bounds))
    assert decoded.all()
    floor = float(np.median(bits))
    bits2, envs2, decoded2, _ = score_and_find_envelopes(prof, codes, bounds, min_bits=floor)
    np.testing.assert_array_equal(bits2, bits)
    np.testing.assert_array_equal(decoded2, bits >= floor)
    # the envelopes of a decoded target do not depend on which others were decoded
    kept = envs.of(decoded2)
    for a, b in ((kept.target, envs2.target), (kept.start, envs2.start), (kept.end, envs2.end)):
        np.testing.assert_array_equal(a, b)


def test_one_thread_equals_two_threads():
    hmm, codes, bounds = _database(5, M=12, n_members=20, n_random=20)
    prof = configure(hmm)
    results = []
    previous = numba.get_num_threads()
    try:
        for n in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(n)
            bits, envs, _, _ = score_and_find_envelopes(prof, codes, bounds)
            doms = rescore_envelopes(prof, codes, bounds, envs, hmm.stats, Z=10)
            results.append((bits, envs, doms))
    finally:
        numba.set_num_threads(previous)
    (b1, e1, d1), (b2, e2, d2) = results
    np.testing.assert_array_equal(b1, b2)
    np.testing.assert_array_equal(e1.start, e2.start)
    assert d1 == d2  # dataclass equality: every field to the bit


def test_empty_inputs():
    hmm, _, _ = _database(0, M=3)
    prof = configure(hmm)
    codes = np.zeros(0, dtype=np.uint8)
    assert define_domains_many(prof, codes, np.array([0]), hmm.stats, Z=1) == []
    bits, envs, decoded, _ = score_and_find_envelopes(prof, codes, np.array([0, 0]))
    assert len(envs) == 0 and not decoded.any()


def test_domain_counts_equal_the_python_path():
    """``exp`` is the sum of the begin state's posteriors of the Python
    decoding, ``reg`` its regions, ``env`` the envelopes found; ``clu``
    counts the regions that pass HMMER's several-domain test (written out
    here), and every region cut into several envelopes is among them."""
    from seqem.profile.domains import RT3, decode, find_regions

    hmm, codes, bounds = _database(3, M=10, n_members=12, n_random=12)
    prof = configure(hmm)
    _, envs, decoded, counts = score_and_find_envelopes(prof, codes, bounds, precision="double")
    assert decoded.all()
    # the search's single precision: the same regions and envelopes here
    _, envs32, _, counts32 = score_and_find_envelopes(prof, codes, bounds)
    np.testing.assert_array_equal(envs32.start, envs.start)
    np.testing.assert_array_equal(envs32.end, envs.end)
    np.testing.assert_allclose(counts32.expected, counts.expected, rtol=1e-5)
    np.testing.assert_array_equal(counts32.regions, counts.regions)
    for q in range(bounds.size - 1):
        post = decode(prof, codes[bounds[q] : bounds[q + 1]])
        assert counts.expected[q] == pytest.approx(post.begins.sum(), rel=1e-12, abs=1e-300)
        regions = find_regions(post.mocc, post.begins, post.ends)
        assert counts.regions[q] == len(regions)
        mine = [(s, e) for t, s, e in zip(envs.target, envs.start, envs.end, strict=True) if t == q]
        assert counts.envelopes[q] == len(mine)
        ends, begins = post.ends, post.begins
        several = [
            max(min(ends[a : z + 1].sum(), begins[z : b + 1].sum()) for z in range(a, b + 1)) >= RT3
            for a, b in regions
        ]
        assert counts.clustered[q] == sum(several)
        cut = [sum(a <= s <= b for s, _ in mine) > 1 for a, b in regions]
        assert all(m for c, m in zip(cut, several, strict=True) if c)
    assert counts.envelopes.sum() == len(envs) and counts.regions.sum() > 0
    assert counts.clustered.sum() > 0  # some members carry several copies
