"""Haplotype-cluster HMM: kernels against enumeration, EM, phasing, a simulation."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqem import _jit
from seqem.errors import InputFormatError, ParameterError
from seqem.haplo import _cluster_kernels as CK
from seqem.haplo.cluster import (
    ClusterParams,
    _chunks,
    _floored_simplex,
    cluster_loglik,
    fit_clusters,
    haplotype_frequencies,
    phase_clusters,
)
from tests.reference import brute_cluster as brute


def random_params(rng, M, K):
    theta = rng.uniform(0.05, 0.95, size=(M, K))
    alpha = rng.dirichlet(np.ones(K), size=M)
    jump = rng.uniform(0.05, 0.95, size=M)
    jump[0] = 1.0
    return theta, alpha, jump


TINY = np.array([[1, -1, 1, 0], [2, 1, 0, 1], [1, 1, 2, -1]], dtype=np.int8)


@pytest.mark.parametrize("M,K", [(3, 2), (4, 2), (3, 3)])
def test_forward_equals_enumeration(M, K):
    rng = np.random.default_rng(10 * M + K)
    theta, alpha, jump = random_params(rng, M, K)
    calls = TINY[:, :M].copy()
    ll = cluster_loglik(calls, ClusterParams(theta, alpha, jump))
    for i, row in enumerate(calls):
        assert ll[i] == pytest.approx(brute.loglik(row, theta, alpha, jump), rel=1e-10, abs=1e-10)


@pytest.mark.parametrize("M,K", [(3, 2), (3, 3)])
def test_expected_counts_equal_enumeration(M, K):
    rng = np.random.default_rng(20 + M + K)
    theta, alpha, jump = random_params(rng, M, K)
    calls = TINY[:, :M].copy()
    _, occ, ones, jumps = CK.cluster_estep(calls, theta, alpha, jump, _chunks(calls.shape[0]))
    ref = [np.zeros((M, K)) for _ in range(3)]
    for row in calls:
        for total, part in zip(ref, brute.expected_counts(row, theta, alpha, jump), strict=True):
            total += part
    np.testing.assert_allclose(occ, ref[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ones, ref[1], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(jumps, ref[2], rtol=1e-10, atol=1e-12)


def test_genotype_posteriors_sum_to_one_and_match_enumeration():
    rng = np.random.default_rng(5)
    theta, alpha, jump = random_params(rng, 4, 2)
    calls = TINY.copy()
    rows = np.arange(3, dtype=np.int64)
    post = CK.genotype_posteriors(calls, theta, alpha, jump, rows, _chunks(3))
    np.testing.assert_allclose(post.sum(axis=2), 1.0, atol=1e-12)
    # person 0, SNP 1 is missing: P(g) by enumeration
    terms = list(brute.person_terms(calls[0], theta, alpha, jump))
    total = sum(t[-1] for t in terms)
    for value in range(3):
        p = sum(t[-1] for t in terms if t[2][1] + t[3][1] == value) / total
        assert post[0, 1, value] == pytest.approx(p, rel=1e-10)


def test_posterior_draws_match_enumeration():
    # the share of draws in which two heterozygous SNPs are in phase is a
    # binomial proportion: 4000 draws give a standard error <= 0.008; allow 4 SE
    rng = np.random.default_rng(8)
    theta, alpha, jump = random_params(rng, 4, 3)
    calls = np.array([[1, 0, 1, 1]], dtype=np.int8)
    same = np.zeros((1, 4))
    n = 4000
    seed = np.uint64(3)  # as the library passes it (one compiled signature)
    none = np.zeros((0, 0, 0, 0), np.int8)
    CK.sample_phase(calls, theta, alpha, jump, n, seed, _chunks(1), same, none)
    for a, b in ((0, 2), (2, 3)):
        p = brute.same_phase_probability(calls[0], theta, alpha, jump, a, b)
        assert same[0, b] / n == pytest.approx(p, abs=4 * np.sqrt(p * (1 - p) / n) + 1e-3)


def test_floored_simplex_is_the_constrained_maximum():
    rng = np.random.default_rng(2)
    counts = rng.exponential(size=(20, 5)) * (rng.random((20, 5)) < 0.6)
    counts[0] = 0.0
    floor = 0.05
    fallback = np.full((20, 5), 0.2)
    a = _floored_simplex(counts, floor, fallback)
    np.testing.assert_allclose(a.sum(axis=1), 1.0)
    assert np.all(a >= floor - 1e-15)
    np.testing.assert_array_equal(a[0], fallback[0])
    for m in range(1, 20):
        best = np.sum(counts[m] * np.log(a[m]))
        for _ in range(50):  # random feasible points never do better
            b = floor + (1 - 5 * floor) * rng.dirichlet(np.ones(5))
            assert np.sum(counts[m] * np.log(b)) <= best + 1e-12


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(2, 8),
    M=st.integers(1, 6),
    K=st.integers(1, 3),
)
def test_em_never_decreases(seed, n, M, K):
    rng = np.random.default_rng(seed)
    calls = rng.integers(-1, 3, size=(n, M)).astype(np.int8)
    calls[0, 0] = 1
    fit = fit_clusters(calls, n_clusters=K, n_init=2, max_iter=12, tol=0.0, random_state=seed)
    for history in fit.history:
        h = np.asarray(history)
        assert np.all(np.diff(h) >= -1e-9 * np.abs(h[1:]))
    assert all(not f.decreases for f in fit.fits)


def test_one_thread_equals_two_threads():
    rng = np.random.default_rng(4)
    calls = rng.integers(-1, 3, size=(150, 12)).astype(np.int8)
    theta, alpha, jump = random_params(rng, 12, 4)
    out = {}
    for n in (1, 2):
        with _jit.threads(n):
            stats = CK.cluster_estep(calls, theta, alpha, jump, _chunks(150))
        fit = fit_clusters(calls, n_clusters=3, n_init=2, max_iter=3, random_state=1, n_threads=n)
        ph = phase_clusters(calls, fit, n_samples=5, refine=2, n_ref=8, n_threads=n)
        out[n] = (stats, fit, ph)
    (s1, f1, p1), (s2, f2, p2) = out[1], out[2]
    for a, b in zip(s1, s2, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=0)
    np.testing.assert_allclose(f1.logliks, f2.logliks, rtol=1e-12)
    np.testing.assert_array_equal(p1.hap1, p2.hap1)
    np.testing.assert_array_equal(p1.hap2, p2.hap2)


def simulate(rng, n_people, M, n_founders=4, switch=0.02, mutation=0.002):
    """People whose haplotypes are mosaics of a few founders."""
    founders = (rng.random((n_founders, M)) < 0.4).astype(np.int8)
    weights = rng.dirichlet(np.full(n_founders, 2.0))
    haps = np.empty((2 * n_people, M), dtype=np.int8)
    for h in range(2 * n_people):
        f = rng.choice(n_founders, p=weights)
        for m in range(M):
            if m > 0 and rng.random() < switch:
                f = rng.choice(n_founders, p=weights)
            haps[h, m] = founders[f, m]
    haps ^= (rng.random(haps.shape) < mutation).astype(np.int8)
    return haps[0::2], haps[1::2]


def switch_rate(hap1, calls, true1):
    switches = pairs = 0
    for i in range(calls.shape[0]):
        het = np.flatnonzero(calls[i] == 1)
        if het.size < 2:
            continue
        agree = hap1[i, het] == true1[i, het]
        switches += int(np.sum(agree[1:] != agree[:-1]))
        pairs += het.size - 1
    return switches / pairs


@pytest.fixture(scope="module")
def simulated():
    rng = np.random.default_rng(11)
    t1, t2 = simulate(rng, 300, 60)
    calls = (t1 + t2).astype(np.int8)
    masked = calls.copy()
    masked[rng.random(calls.shape) < 0.02] = -1
    fit = fit_clusters(masked, n_clusters=6, n_init=3, max_iter=25, random_state=3)
    phased = phase_clusters(masked, fit, n_samples=10, refine=2, n_ref=24, random_state=1)
    return t1, t2, calls, masked, fit, phased


def test_phase_is_consistent_with_the_calls(simulated):
    _, _, calls, masked, _, ph = simulated
    called = masked >= 0
    total = ph.hap1.astype(int) + ph.hap2
    np.testing.assert_array_equal(total[called], masked[called])
    assert set(np.unique(ph.hap1)) <= {0, 1} and set(np.unique(ph.hap2)) <= {0, 1}
    np.testing.assert_array_equal(ph.imputed, masked < 0)
    np.testing.assert_array_equal(ph.genotypes, total)
    # founders at this divergence make imputation easy: 2% of calls were
    # masked, and well over 90% of them come back
    assert np.mean(ph.genotypes[~called] == calls[~called]) > 0.9


def test_simulation_recovers_phase_and_frequencies(simulated):
    t1, t2, calls, masked, fit, ph = simulated
    # four founders, 2% switching and 0.2% mutation per SNP: the mosaics are
    # easy to phase; a model that phased at random would switch at ~50%
    assert switch_rate(ph.hap1, calls, t1) < 0.05
    first, last = 20, 39
    est = haplotype_frequencies(masked, fit, first=first, last=last, phased=ph).as_dict()
    true = {}
    for h in np.concatenate([t1, t2])[:, first : last + 1]:
        key = "".join(map(str, h))
        true[key] = true.get(key, 0) + 1 / (2 * len(t1))
    tvd = 0.5 * sum(abs(est.get(k, 0.0) - true.get(k, 0.0)) for k in set(est) | set(true))
    # with a switch rate under 5% and ~6 heterozygous SNPs per person in 20
    # SNPs, under a fifth of the window haplotypes can be wrong
    assert tvd < 0.2
    assert sum(est.values()) == pytest.approx(1.0)
    assert fit.n_clusters == 6 and fit.n_snps == 60 and len(fit.params) == 3


def test_sampled_frequencies_sum_to_one(simulated):
    _, _, _, masked, fit, _ = simulated
    hf = haplotype_frequencies(masked, fit, first=0, last=9, method="sampled", n_samples=4)
    assert hf.frequencies.sum() == pytest.approx(1.0)
    assert all(len(h) == 10 for h in hf.haplotypes)
    assert np.all(np.diff(hf.frequencies) <= 0)


@pytest.mark.parametrize(
    "calls,message",
    [
        (np.array([[3, 0]], dtype=np.int8), "0, 1, 2 or -1"),
        (np.zeros((0, 3), dtype=np.int8), "people x SNPs"),
        (np.zeros(3, dtype=np.int8), "people x SNPs"),
        (np.array([[0.5, 1.0]]), "integers"),
        (np.full((2, 3), -1, dtype=np.int8), "no person has a call"),
    ],
)
def test_bad_calls(calls, message):
    with pytest.raises(InputFormatError, match=message):
        fit_clusters(calls, n_clusters=2, n_init=1, max_iter=1)


def test_bad_parameters_and_shapes():
    calls = np.array([[0, 1, 2], [1, 1, 0]], dtype=np.int8)
    with pytest.raises(ParameterError, match="n_clusters"):
        fit_clusters(calls, n_clusters=0)
    from seqem.cli.haplo import MAX_CLUSTERS as CLI_MAX_CLUSTERS
    from seqem.haplo.cluster import MAX_CLUSTERS

    assert CLI_MAX_CLUSTERS == MAX_CLUSTERS
    with pytest.raises(
        ParameterError, match=f"n_clusters must be an integer from 1 to {MAX_CLUSTERS}"
    ):
        fit_clusters(calls, n_clusters=MAX_CLUSTERS + 1)
    with pytest.raises(ParameterError, match="alpha_floor"):
        fit_clusters(calls, n_clusters=4, alpha_floor=0.3)
    fit = fit_clusters(calls, n_clusters=2, n_init=1, max_iter=2, random_state=0)
    with pytest.raises(ParameterError, match="same SNPs"):
        phase_clusters(calls[:, :2], fit)
    with pytest.raises(ParameterError, match="outside"):
        haplotype_frequencies(calls, fit, first=2, last=5)
    with pytest.raises(ParameterError, match="copy_jump"):
        phase_clusters(calls, fit, copy_jump=np.array([0.1, 0.2]))
    with pytest.raises(ParameterError, match="method"):
        haplotype_frequencies(calls, fit, method="mode")
