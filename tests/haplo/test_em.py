"""Exact haplotype EM: likelihood, counts, maximum and phase against enumeration."""

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqem import _jit
from seqem.haplo.em import (
    build_pairs,
    enumerate_pairs,
    expected_counts,
    fit_haplotypes,
    loglik,
    maximise,
    phase,
)


def compatible(row, a, b):
    return all(r < 0 or ((a >> j) & 1) + ((b >> j) & 1) == r for j, r in enumerate(row))


def brute(calls, freq_of):
    """ln L and expected counts by enumerating all ordered pairs of each person."""
    h = calls.shape[1]
    ll, counts = 0.0, {}
    for row in calls:
        if not (row >= 0).any():
            continue
        weights = {
            (a, b): freq_of.get(a, 0.0) * freq_of.get(b, 0.0)
            for a, b in itertools.product(range(2**h), repeat=2)
            if compatible(row, a, b)
        }
        total = sum(weights.values())
        ll += np.log(total)
        for (a, b), w in weights.items():
            counts[a] = counts.get(a, 0.0) + w / total
            counts[b] = counts.get(b, 0.0) + w / total
    return ll, counts


def random_calls(rng, n_max=8, h_max=5):
    shape = (int(rng.integers(2, n_max + 1)), int(rng.integers(1, h_max + 1)))
    calls = rng.integers(-1, 3, size=shape)
    calls = calls.astype(np.int8)
    calls[0, 0] = 1  # at least one call
    return calls


@pytest.mark.parametrize("seed", range(8))
def test_estep_equals_enumeration(seed):
    rng = np.random.default_rng(seed)
    calls = random_calls(rng)
    calls[-1] = calls[0]  # a repeated pattern
    pairs = enumerate_pairs(calls)
    f = rng.dirichlet(np.ones(pairs.codes.size))
    counts, ll = expected_counts(pairs, f)
    ll_ref, counts_ref = brute(calls, dict(zip(pairs.codes.tolist(), f, strict=True)))
    assert ll == pytest.approx(ll_ref, rel=1e-10)
    assert loglik(pairs, f) == pytest.approx(ll_ref, rel=1e-10)
    for code, c in zip(pairs.codes.tolist(), counts, strict=True):
        assert c == pytest.approx(counts_ref.get(code, 0.0), abs=1e-10)
    # every haplotype a compatible pair can use is enumerated
    h = calls.shape[1]
    used = {a for row in calls if (row >= 0).any() for a in range(2**h) for b in range(2**h)
            if compatible(row, a, b)}  # fmt: skip
    assert used == set(pairs.codes.tolist())


@pytest.mark.parametrize("seed", range(4))
def test_phase_is_the_best_enumerated_pair(seed):
    rng = np.random.default_rng(10 + seed)
    calls = random_calls(rng, n_max=8, h_max=4)
    calls[1] = -1  # a person without any call
    fit = fit_haplotypes(calls, n_init=2, min_count=0, random_state=seed)
    freq_of = dict(zip(fit.codes.tolist(), fit.frequencies, strict=True))
    h1, h2, prob = phase(fit)
    assert h1[1] == -1 and np.isnan(prob[1])
    h = calls.shape[1]
    for i, row in enumerate(calls):
        if not (row >= 0).any():
            continue
        share = {}
        for a, b in itertools.product(range(2**h), repeat=2):
            if compatible(row, a, b):
                key = (min(a, b), max(a, b))
                share[key] = share.get(key, 0.0) + freq_of.get(a, 0.0) * freq_of.get(b, 0.0)
        total = sum(share.values())
        best = max(share.values()) / total
        assert prob[i] == pytest.approx(best, abs=1e-10)
        assert share[(h1[i], h2[i])] / total == pytest.approx(best, abs=1e-10)
        assert compatible(row, h1[i], h2[i])


def test_maximum_is_stationary_for_the_full_problem():
    """At the estimate: gradient 2N on the haplotypes in use, at most 2N elsewhere."""
    rng = np.random.default_rng(4)
    founders = rng.integers(0, 2, size=(6, 8))
    pick = rng.choice(6, size=(300, 2), p=[0.3, 0.25, 0.2, 0.1, 0.1, 0.05])
    calls = (founders[pick[:, 0]] + founders[pick[:, 1]]).astype(np.int8)
    calls[rng.random(calls.shape) < 0.03] = -1
    pairs = enumerate_pairs(calls)
    result = maximise(pairs, np.full(pairs.codes.size, 1.0 / pairs.codes.size), tol=1e-11)
    assert result.converged
    f = result.f
    # plain EM from the estimate does not move it
    counts, ll = expected_counts(pairs, f)
    assert np.abs(counts / counts.sum() - f).max() < 1e-6
    assert ll == pytest.approx(result.loglik, abs=1e-9)
    from seqem.haplo import _em_kernels as K

    post, ll, scale = np.empty(pairs.n_pairs), np.empty(pairs.weight.size), np.empty(f.size)
    scale = np.empty(pairs.weight.size)
    K.pair_posteriors(
        pairs.offsets, pairs.first, pairs.second, pairs.mult, pairs.weight, f, post, ll, scale
    )
    grad = K.pair_scores(pairs.offsets, pairs.first, pairs.second, pairs.mult, scale, f, f.size)
    two_n = 2 * pairs.n_people
    assert np.allclose(grad[f > 1e-9], two_n, rtol=1e-5)
    assert np.all(grad[f == 0] <= two_n * (1 + 1e-6))


def test_best_of_starts_reaches_the_exhaustive_em_maximum():
    """The fit equals long plain EM from the uniform start where that is the maximum."""
    rng = np.random.default_rng(8)
    calls = random_calls(rng, n_max=8, h_max=5)
    pairs = enumerate_pairs(calls)
    f = np.full(pairs.codes.size, 1.0 / pairs.codes.size)
    for _ in range(2000):
        counts, _ = expected_counts(pairs, f)
        f = counts / counts.sum()
    fit = fit_haplotypes(calls, n_init=10, min_count=0, random_state=1)
    assert fit.loglik >= loglik(pairs, f) - 1e-7


def test_one_thread_equals_two():
    rng = np.random.default_rng(5)
    founders = rng.integers(0, 2, size=(10, 12))
    pick = rng.integers(0, 10, size=(400, 2))
    calls = (founders[pick[:, 0]] + founders[pick[:, 1]]).astype(np.int8)
    fits = []
    for n in (1, 2):
        with _jit.threads(n):
            fits.append(fit_haplotypes(calls, n_init=3, random_state=7, n_threads=n))
    assert fits[0].haplotypes == fits[1].haplotypes
    assert np.abs(fits[0].frequencies - fits[1].frequencies).max() <= 1e-12
    assert fits[0].loglik == pytest.approx(fits[1].loglik, abs=1e-10)


def test_recovers_frequencies_with_standard_errors():
    rng = np.random.default_rng(3)
    haps = np.array([[0, 0, 1, 1], [1, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 1]])
    truth = np.array([0.4, 0.3, 0.2, 0.1])
    pick = rng.choice(4, size=(800, 2), p=truth)
    calls = (haps[pick[:, 0]] + haps[pick[:, 1]]).astype(np.int8)
    calls[rng.random(calls.shape) < 0.05] = -1
    fit = fit_haplotypes(calls, random_state=1)
    est = fit.as_dict()
    se = dict(zip(fit.haplotypes, fit.se, strict=True))
    for hap, p in zip(("0011", "1100", "1010", "0101"), truth, strict=True):
        # binomial standard error of a frequency from 1,600 haplotypes, inflated by phase
        # uncertainty; the estimate lies within 4 of its own standard errors
        assert 0.005 < se[hap] < 0.03
        assert abs(est[hap] - p) < 4 * se[hap]
    assert fit.lr_test["pvalue"] < 1e-10  # strong LD


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6))
def test_full_loglik_never_falls(seed):
    rng = np.random.default_rng(seed)
    calls = random_calls(rng, n_max=20, h_max=6)
    pairs = enumerate_pairs(calls)
    result = maximise(pairs, rng.dirichlet(np.ones(pairs.codes.size)), tol=1e-10)
    steps = np.diff(result.history)
    assert np.all(steps >= -1e-9 * np.abs(result.history[1:]))


def test_threaded_estep_equals_serial():
    from seqem.haplo import _em_kernels as K

    rng = np.random.default_rng(6)
    calls = rng.integers(0, 3, size=(300, 10)).astype(np.int8)
    pairs = enumerate_pairs(calls)
    f = rng.dirichlet(np.ones(pairs.codes.size))
    args = (pairs.offsets, pairs.first, pairs.second, pairs.mult, pairs.weight, f)
    out = []
    for n, kernel in ((1, K.pair_posteriors_serial), (1, K.pair_posteriors_parallel),
                      (2, K.pair_posteriors_parallel)):  # fmt: skip
        post, ll, scale = (
            np.empty(pairs.n_pairs),
            np.empty(pairs.weight.size),
            np.empty(pairs.weight.size),
        )
        with _jit.threads(n):
            kernel(*args, post, ll, scale)
        out.append((post, ll, scale))
    for post, ll, scale in out[1:]:
        assert np.array_equal(post, out[0][0]) and np.array_equal(ll, out[0][1])
        assert np.array_equal(scale, out[0][2])


def test_partition_ligation_pairs_and_likelihood_are_exact_ones():
    """Ligated pairs are compatible; its log-likelihood is the full one at the estimate."""
    rng = np.random.default_rng(9)
    founders = rng.integers(0, 2, size=(8, 14))
    pick = rng.choice(8, size=(250, 2))
    calls = (founders[pick[:, 0]] + founders[pick[:, 1]]).astype(np.int8)
    calls[rng.random(calls.shape) < 0.02] = -1
    calls[3, :7] = -1  # no call in the left half
    ligated, method = build_pairs(calls, leaf=4)
    assert method == "partition-ligation"
    exact = enumerate_pairs(calls)
    exact_set = {
        (int(exact.codes[a]), int(exact.codes[b]), int(p))
        for p in range(exact.weight.size)
        for a, b in zip(
            exact.first[exact.offsets[p] : exact.offsets[p + 1]],
            exact.second[exact.offsets[p] : exact.offsets[p + 1]],
            strict=True,
        )
    }
    assert np.array_equal(ligated.patterns, exact.patterns)
    for p in range(ligated.weight.size):
        lo, hi = ligated.offsets[p], ligated.offsets[p + 1]
        assert hi > lo
        for a, b in zip(ligated.first[lo:hi], ligated.second[lo:hi], strict=True):
            assert (int(ligated.codes[a]), int(ligated.codes[b]), p) in exact_set
    fit = fit_haplotypes(calls, leaf=4, random_state=2)
    assert fit.method == "partition-ligation"
    f_exact = np.zeros(exact.codes.size)
    where = np.searchsorted(exact.codes, fit.codes)
    f_exact[where] = fit.frequencies
    assert loglik(exact, f_exact) == pytest.approx(fit.loglik, abs=1e-8)
    # the exact maximum is at least as high
    best = fit_haplotypes(calls, method="exact", random_state=2)
    assert best.loglik >= fit.loglik - 1e-8


def brute_gl(gl, freq_of):
    """ln L with genotype likelihoods: every ordered pair weighted by its genotypes' GL."""
    n, h, _ = gl.shape
    ll = 0.0
    for i in range(n):
        if np.all(gl[i] == gl[i].max()):
            continue  # no information
        total = 0.0
        for a, b in itertools.product(range(2**h), repeat=2):
            w = np.prod([gl[i, j, ((a >> j) & 1) + ((b >> j) & 1)] for j in range(h)])
            total += freq_of.get(a, 0.0) * freq_of.get(b, 0.0) * w
        ll += np.log(total)
    return ll


@pytest.mark.parametrize("seed", range(4))
def test_likelihood_mode_equals_enumeration(seed):
    rng = np.random.default_rng(30 + seed)
    n, h = int(rng.integers(2, 7)), int(rng.integers(1, 5))
    gl = rng.random((n, h, 3)) ** 3
    gl[0, 0] = [1.0, 0.2, 0.01]
    gl[-1] = 1.0  # a person without information
    calls = np.full((n, h), -1, dtype=np.int8)
    pairs = enumerate_pairs(calls, likelihoods=gl, threshold=0.0)
    assert pairs.person[-1] == -1
    f = rng.dirichlet(np.ones(pairs.codes.size))
    gl_scaled = gl / gl.max(axis=2, keepdims=True)
    ref = brute_gl(gl_scaled, dict(zip(pairs.codes.tolist(), f, strict=True)))
    assert loglik(pairs, f) == pytest.approx(ref, rel=1e-10)


def test_likelihood_mode_with_certain_genotypes_equals_calls():
    rng = np.random.default_rng(12)
    founders = rng.integers(0, 2, size=(5, 10))
    pick = rng.choice(5, size=(200, 2))
    calls = (founders[pick[:, 0]] + founders[pick[:, 1]]).astype(np.int8)
    calls[rng.random(calls.shape) < 0.03] = -1
    gl = np.zeros((*calls.shape, 3))
    gl[calls < 0] = 1.0
    for g in range(3):
        gl[calls == g, g] = 1.0
    by_calls = fit_haplotypes(calls, random_state=3)
    by_gl = fit_haplotypes(np.full_like(calls, -1), likelihoods=gl, leaf=8, random_state=3)
    assert by_gl.loglik == pytest.approx(by_calls.loglik, abs=1e-8)
    assert by_gl.as_dict().keys() == by_calls.as_dict().keys()
    for hap, f in by_calls.as_dict().items():
        assert by_gl.as_dict()[hap] == pytest.approx(f, abs=1e-7)


def test_likelihood_mode_beats_hard_calls_at_low_coverage():
    """Reads simulated at 2x depth: GL-based frequencies are closer to the truth."""
    rng = np.random.default_rng(21)
    founders = rng.integers(0, 2, size=(4, 8))
    truth = np.array([0.45, 0.3, 0.15, 0.1])
    pick = rng.choice(4, size=(600, 2), p=truth)
    genotypes = founders[pick[:, 0]] + founders[pick[:, 1]]
    err = 0.01
    depth = rng.poisson(2.0, size=genotypes.shape)
    alt_reads = rng.binomial(depth, np.clip(genotypes / 2, err, 1 - err))
    ref_reads = depth - alt_reads
    p_alt = np.array([err, 0.5, 1 - err])  # P(read shows ALT | genotype)
    gl = (p_alt[None, None, :] ** alt_reads[..., None]) * (
        (1 - p_alt[None, None, :]) ** ref_reads[..., None]
    )
    hard = np.argmax(gl, axis=2).astype(np.int8)
    hard[depth == 0] = -1
    true_freq = {"".join(map(str, founders[k])): truth[k] for k in range(4)}

    def tvd(est):
        keys = set(est) | set(true_freq)
        return 0.5 * sum(abs(est.get(k, 0) - true_freq.get(k, 0)) for k in keys)

    by_gl = fit_haplotypes(np.full_like(hard, -1), likelihoods=gl, random_state=1)
    by_calls = fit_haplotypes(hard, random_state=1)
    # measured 0.054 against 0.54 from the most likely genotypes (hets called homozygous)
    assert tvd(by_gl.as_dict()) < 0.08
    assert tvd(by_gl.as_dict()) < tvd(by_calls.as_dict()) / 4
