"""Dirichlet-mixture priors: posterior weights and mean posterior estimates."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from seqem.errors import ParameterError
from seqem.profile.model import AMINO, DNA, RNA
from seqem.profile.priors import (
    AMINO_INSERT,
    BLOCKS9,
    NUCLEIC_MATCH,
    DirichletMixture,
    default_prior,
    laplace_prior,
)


def _brute_weights(mix: DirichletMixture, c: np.ndarray) -> np.ndarray:
    """P(j | c) from the Dirichlet-multinomial marginal, term by term with math.lgamma."""
    logs = []
    for q, a in zip(mix.weights, mix.alpha, strict=True):
        value = math.log(q) + math.lgamma(a.sum()) - math.lgamma(a.sum() + c.sum())
        value += sum(math.lgamma(ax + cx) - math.lgamma(ax) for ax, cx in zip(a, c, strict=True))
        logs.append(value)
    top = max(logs)
    w = np.array([math.exp(v - top) for v in logs])
    return w / w.sum()


def test_single_component_mean_is_pseudocount_formula() -> None:
    alpha = np.array([0.5, 1.5, 2.0, 0.25])
    mix = DirichletMixture(np.array([1.0]), alpha[None, :])
    counts = np.array([3.0, 0.0, 1.5, 7.0])
    expected = (counts + alpha) / (counts.sum() + alpha.sum())
    np.testing.assert_allclose(mix.mean_posterior(counts), expected, rtol=1e-14)
    np.testing.assert_allclose(mix.posterior_weights(counts), [1.0])


def test_mixture_weights_match_direct_computation() -> None:
    rng = np.random.default_rng(20240601)
    counts = rng.gamma(1.0, 3.0, size=(25, 20)) * (rng.random((25, 20)) < 0.6)
    got = BLOCKS9.posterior_weights(counts)
    assert got.shape == (25, 9)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, rtol=1e-12)
    for row, c in zip(got, counts, strict=True):
        np.testing.assert_allclose(row, _brute_weights(BLOCKS9, c), rtol=1e-9, atol=1e-15)
    # the posterior mean is the posterior-weighted average of each component's mean
    c = counts[3]
    w = _brute_weights(BLOCKS9, c)
    per = (c + BLOCKS9.alpha) / (c.sum() + BLOCKS9.alpha.sum(axis=1, keepdims=True))
    np.testing.assert_allclose(BLOCKS9.mean_posterior(c), w @ per, rtol=1e-10)


def test_two_component_beta_mixture_against_numerical_integration() -> None:
    # K = 2: the posterior mean of p_0 is an integral over p in (0, 1)
    mix = DirichletMixture(np.array([0.3, 0.7]), np.array([[0.5, 4.0], [3.0, 1.2]]))
    c = np.array([2.0, 5.0])

    def density(p: float) -> float:
        return sum(
            q
            * p ** (a0 - 1 + c[0])
            * (1 - p) ** (a1 - 1 + c[1])
            / math.exp(math.lgamma(a0) + math.lgamma(a1) - math.lgamma(a0 + a1))
            for q, (a0, a1) in zip(mix.weights, mix.alpha, strict=True)
        )

    norm, _ = integrate.quad(density, 0.0, 1.0, epsabs=1e-13, epsrel=1e-12)
    first, _ = integrate.quad(lambda p: p * density(p), 0.0, 1.0, epsabs=1e-13, epsrel=1e-12)
    np.testing.assert_allclose(mix.mean_posterior(c)[0], first / norm, rtol=1e-8)


@pytest.mark.parametrize("mix", [BLOCKS9, NUCLEIC_MATCH, AMINO_INSERT])
def test_zero_counts_give_prior(mix: DirichletMixture) -> None:
    zero = np.zeros((3, mix.K))
    np.testing.assert_allclose(mix.posterior_weights(zero), np.tile(mix.weights, (3, 1)))
    np.testing.assert_allclose(mix.mean_posterior(zero), np.tile(mix.mean, (3, 1)), rtol=1e-12)
    np.testing.assert_allclose(mix.mean.sum(), 1.0)


def test_large_counts_dominate_the_prior() -> None:
    c = np.zeros(20)
    c[9] = 1e6  # all leucine
    p = BLOCKS9.mean_posterior(c)
    assert p[9] > 0.9999
    assert np.all(np.isfinite(BLOCKS9.posterior_weights(c)))


def test_default_priors_have_the_published_shapes() -> None:
    amino = default_prior(AMINO)
    assert amino.match.alpha.shape == (9, 20)
    np.testing.assert_allclose(amino.match.weights.sum(), 1.0, atol=1e-6)
    np.testing.assert_allclose(amino.match_transitions.alpha[0], [0.7939, 0.0278, 0.0135])
    np.testing.assert_allclose(amino.insert_transitions.alpha[0], [0.1551, 0.1331])
    np.testing.assert_allclose(amino.delete_transitions.alpha[0], [0.9002, 0.5630])
    for alphabet in (DNA, RNA):
        nuc = default_prior(alphabet)
        assert nuc.match.alpha.shape == (4, 4)
        np.testing.assert_allclose(nuc.match_transitions.alpha[0], [2.0, 0.1, 0.1])
        np.testing.assert_allclose(nuc.insert_transitions.alpha[0], [0.12, 0.4])
        np.testing.assert_allclose(nuc.delete_transitions.alpha[0], [0.5, 1.0])
    flat = laplace_prior(AMINO)
    np.testing.assert_allclose(flat.match.mean_posterior(np.zeros(20)), np.full(20, 0.05))


@pytest.mark.parametrize(
    ("weights", "alpha"),
    [
        ([0.5, 0.5], [[1.0, 1.0]]),  # one alpha vector for two weights
        ([1.0], [[0.0, 1.0]]),  # alpha must be positive
        ([0.2, 0.2], [[1.0, 1.0], [2.0, 2.0]]),  # weights must sum to 1
    ],
)
def test_invalid_mixtures_are_rejected(weights: list[float], alpha: list[list[float]]) -> None:
    with pytest.raises(ParameterError):
        DirichletMixture(np.array(weights), np.array(alpha))


def test_invalid_counts_are_rejected() -> None:
    with pytest.raises(ParameterError, match="20 values"):
        BLOCKS9.mean_posterior(np.zeros(4))
    with pytest.raises(ParameterError, match="non-negative"):
        BLOCKS9.mean_posterior(-np.ones(20))
