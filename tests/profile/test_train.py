"""Baum-Welch training of profile HMMs: monotone objective, priors, recovery."""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqem.em import run_em
from seqem.errors import ParameterError
from seqem.profile.model import AMINO, DNA
from seqem.profile.priors import DirichletMixture, default_prior
from seqem.profile.train import (
    ProfileEM,
    check_model_length,
    initial_model,
    mm_step,
    shifted_log_density,
    train,
)


def random_seqs(rng, n, lo, hi, K=4):
    lengths = rng.integers(lo, hi + 1, size=n)
    dsq = rng.integers(0, K, size=int(lengths.sum())).astype(np.uint8)
    return dsq, np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)


def noisy_copies(rng, motif, n, flip=0.15):
    """``n`` copies of an amino-acid ``motif``, each residue replaced at random
    with probability ``flip``; concatenated codes and bounds."""
    seqs = []
    for _ in range(n):
        s = motif.copy()
        mask = rng.random(motif.size) < flip
        s[mask] = rng.integers(0, 20, size=int(mask.sum()))
        seqs.append(s)
    dsq = np.concatenate(seqs).astype(np.uint8)
    return dsq, np.concatenate([[0], np.cumsum([len(s) for s in seqs])]).astype(np.int64)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(0, 2**31 - 1),
    st.integers(1, 6),
    st.sampled_from(["DNA", "amino"]),
    st.sampled_from([None, "squarem"]),
)
def test_baum_welch_never_decreases(seed, M, alpha_name, accelerate):
    """The objective (log-likelihood + log prior) never falls, with the
    default Dirichlet-mixture priors, on random data and random starts."""
    rng = np.random.default_rng(seed)
    alphabet = DNA if alpha_name == "DNA" else AMINO
    dsq, bounds = random_seqs(rng, int(rng.integers(1, 6)), 1, 12, alphabet.K)
    start = initial_model(dsq[bounds[0] : bounds[1]], alphabet, M=M)
    problem = ProfileEM(dsq, bounds, start, default_prior(alphabet), noise=0.3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, fit = run_em(problem, max_iter=15, tol=0.0, random_state=seed, accelerate=accelerate)
    h = np.asarray(fit.history)
    assert np.all(np.diff(h) >= -1e-9 * np.abs(h[1:])), np.diff(h).min()
    assert fit.decreases == ()


def test_mm_step_increases_the_mixture_objective():
    rng = np.random.default_rng(3)
    mix = DirichletMixture(np.array([0.3, 0.7]), np.array([[0.5, 2.0, 1.0], [3.0, 0.2, 0.4]]))
    counts = rng.random((20, 3)) * 5
    p = rng.dirichlet(np.ones(3), size=20)
    for _ in range(10):
        new = mm_step(mix, counts, p)
        before = (counts * np.log(p)).sum(axis=1) + shifted_log_density(mix, p)
        after = (counts * np.log(new)).sum(axis=1) + shifted_log_density(mix, new)
        assert np.all(after >= before - 1e-12)
        p = new


def test_single_component_mode_is_hmmbuild_mean_posterior():
    mix = DirichletMixture(np.array([1.0]), np.array([[0.5, 2.0, 1.0]]))
    c = np.array([[3.0, 1.0, 0.0]])
    expected = (c + mix.alpha) / (c + mix.alpha).sum()
    np.testing.assert_allclose(mm_step(mix, c, np.full((1, 3), 1 / 3)), expected)


def test_training_recovers_a_planted_motif():
    """Sequences made of one noisy motif (M = 8, DNA): the trained model's
    consensus is the motif and it scores the family far above background."""
    rng = np.random.default_rng(11)
    motif = np.array([0, 1, 2, 3, 3, 2, 0, 1])
    seqs = []
    for _ in range(60):
        s = motif.copy()
        flip = rng.random(8) < 0.1
        s[flip] = rng.integers(0, 4, size=int(flip.sum()))
        if rng.random() < 0.3:  # an insertion
            pos = int(rng.integers(1, 8))
            s = np.insert(s, pos, rng.integers(0, 4))
        seqs.append(s)
    dsq = np.concatenate(seqs).astype(np.uint8)
    bounds = np.concatenate([[0], np.cumsum([len(s) for s in seqs])]).astype(np.int64)
    res = train(dsq, bounds, DNA, M=8, n_init=3, random_state=1, max_iter=200, tol=1e-4)
    consensus = res.hmm.match[1:].argmax(axis=1)
    np.testing.assert_array_equal(consensus, motif)
    assert res.fit.converged
    # the motif residue has frequency 0.925 in the data; position-based
    # weights favour the mutated sequences, so the default fit is flatter
    assert np.all(res.hmm.match[1:].max(axis=1) > 0.6)
    # unweighted maximum likelihood recovers the residue frequency
    raw = train(dsq, bounds, DNA, M=8, n_init=3, random_state=1, max_iter=200, tol=1e-4,
                effn="none", cross_fit_weight=None, weighting="none")  # fmt: skip
    np.testing.assert_allclose(raw.hmm.match[1:].max(axis=1), 0.925, atol=0.06)


def test_entropy_weighting_after_training():
    """With effn='entropy' the final model's mean match relative entropy is
    brought down to hmmbuild's target when the counts would exceed it."""
    from seqem.profile.build import relative_entropy_target
    from seqem.profile.calibrate import relative_entropy

    rng = np.random.default_rng(12)
    motif = rng.integers(0, 20, size=30)
    dsq, bounds = noisy_copies(rng, motif, 80)
    plain = train(dsq, bounds, AMINO, M=30, n_init=1, random_state=2, effn="none", temper="none")
    weighted = train(dsq, bounds, AMINO, M=30, n_init=1, random_state=2)
    target = relative_entropy_target(30, 0.59, 45.0)
    assert relative_entropy(plain.hmm) > target + 0.1
    assert relative_entropy(weighted.hmm) == pytest.approx(target, abs=0.02)
    assert 0 < weighted.hmm.effn < 80
    np.testing.assert_array_equal(
        weighted.hmm.match[1:].argmax(axis=1), plain.hmm.match[1:].argmax(axis=1)
    )


def test_cross_fit_scores_each_sequence_with_a_model_that_did_not_see_it():
    """Leave-one-out (as many groups as sequences): the cross-validated
    log-likelihood of a round is the sum of each sequence's log-likelihood
    under the mean-posterior model of the other sequences' previous counts."""
    from seqem.profile import _kernels as K
    from seqem.profile.build import estimate
    from seqem.profile.priors import default_prior
    from seqem.profile.train import cross_fit, initial_model

    rng = np.random.default_rng(3)
    dsq, bounds = random_seqs(rng, 6, 4, 9)
    seqs = [dsq[bounds[q] : bounds[q + 1]] for q in range(6)]
    prior = default_prior(DNA)
    start = initial_model(seqs[0], DNA, M=5)
    _, members = DNA.degenerate_matrix()

    def counts(h, x):
        emM = np.ascontiguousarray(members @ h[0].T)
        emI = np.ascontiguousarray(members @ h[1].T)
        one = np.ones(1)
        ll, cM, cI, cT = K.core_expected_counts(
            x, np.array([0, x.size]), np.array([0, 1]), emM, emI, members,
            np.ascontiguousarray(h[2].T), one,
        )  # fmt: skip
        return ll[0], (cM, cI, cT.T)

    w = 0.3
    own = [counts((start.match, start.insert, start.transitions), x)[1] for x in seqs]
    history = []
    for _ in range(2):  # two rounds by hand
        total = [sum(c[j] for c in own) for j in range(3)]
        new, ll = [], 0.0
        for q, x in enumerate(seqs):
            model = estimate(*[w * (total[j] - own[q][j]) for j in range(3)], prior)
            lq, cq = counts(model, x)
            ll += lq
            new.append(cq)
        own = new
        history.append(ll)
    res = cross_fit(dsq, bounds, start, prior, weight=w, max_rounds=2, tol=-np.inf)
    assert res.n_groups == 6 and res.n_rounds == 2
    np.testing.assert_allclose(res.history, history, rtol=1e-10)
    total = [sum(c[j] for c in own) for j in range(3)]
    m, i, t = estimate(*[w * total[j] for j in range(3)], prior)
    np.testing.assert_allclose(res.hmm.match, m, atol=1e-10)
    np.testing.assert_allclose(res.hmm.transitions, t, atol=1e-10)


def test_cross_fit_groups_and_threads():
    """More sequences than groups: random groups; 1 thread = 2 threads."""
    from seqem.profile.priors import default_prior
    from seqem.profile.train import cross_fit, initial_model

    rng = np.random.default_rng(4)
    dsq, bounds = random_seqs(rng, 30, 5, 12)
    start = initial_model(dsq[: bounds[1]], DNA, M=6)
    runs = [
        cross_fit(
            dsq, bounds, start, default_prior(DNA), n_groups=7, random_state=1, n_threads=t
        )  # fmt: skip
        for t in (1, 2)
    ]
    assert runs[0].n_groups == 7
    assert runs[0].history == runs[1].history
    np.testing.assert_array_equal(runs[0].hmm.match, runs[1].hmm.match)
    assert runs[0].loglik == max(runs[0].history)
    with pytest.raises(ParameterError):
        cross_fit(dsq, bounds, start, default_prior(DNA), weight=0.0)


@pytest.mark.parametrize("M", [9, 15])
def test_surgery_finds_the_family_length(M):
    """Sequences of one 12-residue motif: started 3 nodes short or long,
    training ends with M = 12 and the motif as consensus (surgery adds the
    insert that every sequence uses, removes the nodes that all delete)."""
    rng = np.random.default_rng(11)
    motif = rng.integers(0, 20, size=12)
    dsq, bounds = noisy_copies(rng, motif, 40)
    res = train(dsq, bounds, AMINO, M=M, n_init=2, random_state=1)
    assert res.hmm.M == 12
    np.testing.assert_array_equal(res.hmm.match[1:].argmax(axis=1), motif)
    fixed = train(dsq, bounds, AMINO, M=M, n_init=2, random_state=1, max_surgery=0)
    assert fixed.hmm.M == M


def test_surgery_keeps_a_model_that_fits():
    from seqem.profile.train import surgery

    rng = np.random.default_rng(2)
    motif = rng.integers(0, 4, size=6)
    dsq = np.tile(motif, 20).astype(np.uint8)
    bounds = np.arange(0, 121, 6, dtype=np.int64)
    hmm = initial_model(motif, DNA, M=6, weight=0.9)
    assert surgery(hmm, dsq, bounds) is None


@pytest.mark.parametrize("n_groups", [8, 3])
def test_cross_fit_sequence_weights(n_groups):
    """Weights multiply each sequence's counts: all weights 2 at cross-fit
    weight 0.1 is weight 0.2 unweighted (the held-out models see the same
    counts), with the cross-validated sum doubled; one group per sequence
    (8) and larger groups (3) take different paths."""
    from seqem.profile.priors import default_prior
    from seqem.profile.train import cross_fit, initial_model

    rng = np.random.default_rng(5)
    dsq, bounds = random_seqs(rng, 8, 5, 12)
    start = initial_model(dsq[: bounds[1]], DNA, M=6)
    prior = default_prior(DNA)
    kw = dict(n_groups=n_groups, random_state=1, max_rounds=3, tol=-np.inf)
    plain = cross_fit(dsq, bounds, start, prior, weight=0.2, **kw)
    doubled = cross_fit(dsq, bounds, start, prior, weight=0.1, weights=np.full(8, 2.0), **kw)
    np.testing.assert_allclose(doubled.history, 2 * np.asarray(plain.history), rtol=1e-9)
    np.testing.assert_allclose(doubled.hmm.match, plain.hmm.match, atol=1e-10)
    np.testing.assert_allclose(doubled.hmm.transitions, plain.hmm.transitions, atol=1e-10)
    with pytest.raises(ParameterError):
        cross_fit(dsq, bounds, start, prior, weights=np.ones(7))


def test_alignment_weights_favour_the_odd_sequence():
    """Three copies of one sequence and one different sequence: the
    position-based weights of their alignment to a model give the odd one
    the most weight, the copies equal weights, and the weights sum to n."""
    from seqem.profile.train import alignment_weights

    rng = np.random.default_rng(6)
    a = rng.integers(0, 20, size=20)
    b = a.copy()
    b[::2] = rng.integers(0, 20, size=10)
    dsq = np.concatenate([a, a, a, b]).astype(np.uint8)
    bounds = np.arange(0, 81, 20, dtype=np.int64)
    hmm = initial_model(a, AMINO, M=20, weight=0.9)
    w = alignment_weights(hmm, dsq, bounds)
    assert w.sum() == pytest.approx(4.0)
    assert w[0] == pytest.approx(w[1]) == pytest.approx(w[2])
    assert w[3] > 1.5 * w[0]


def test_a_model_far_longer_than_the_sequences_is_refused_before_training():
    """Every sequence runs through all M nodes of the glocal model; sequences of
    about 56 residues cannot run through 1000 (their likelihood underflows to
    zero), which is said as such, before any EM, not as a failed start."""
    rng = np.random.default_rng(5)
    dsq, bounds = random_seqs(rng, 4, 54, 58, K=20)
    with pytest.raises(ParameterError, match=r"model length 1000 is too large .*longest \d+"):
        check_model_length(dsq, bounds, AMINO, 1000)
    with pytest.raises(ParameterError, match=r"-M 1000 is too large.*median"):
        check_model_length(dsq, bounds, AMINO, 1000, given="-M")
    with pytest.raises(ParameterError, match="too large"):
        train(dsq, bounds, AMINO, M=1000, n_init=1, max_iter=2)
    for M in (None, 20, 54, 200):  # lengths a model can be
        check_model_length(dsq, bounds, AMINO, 56 if M is None else M)
