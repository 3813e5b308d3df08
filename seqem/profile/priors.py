"""Dirichlet-mixture priors and mean posterior estimates for profile HMMs.

A Dirichlet mixture has Q components with mixture coefficients ``q`` and
parameter vectors ``alpha`` (Q, K).  Given a count vector ``c`` (weighted
observations), the posterior probability of component j is

.. math::

    P(j \\mid c) \\propto q_j \\,
    \\frac{\\Gamma(|\\alpha_j|)}{\\Gamma(|\\alpha_j| + |c|)}
    \\prod_x \\frac{\\Gamma(\\alpha_{jx} + c_x)}{\\Gamma(\\alpha_{jx})}

(the multinomial coefficient is the same for every component and cancels),
computed in log space with ``gammaln``; the mean posterior probability vector
is :math:`\\hat p_x = \\sum_j P(j \\mid c) (c_x + \\alpha_{jx}) / (|c| + |\\alpha_j|)`.

Default priors are the published ones HMMER 3 uses:

- protein match emissions: the nine-component mixture of Sjolander et al.
  (1996, CABIOS 12:327) trained on Blocks ("Blocks9");
- protein insert emissions: one Dirichlet with large, slightly polar-biased
  alphas trained on Pfam 1.0, which pins insert emissions near a fixed
  composition;
- transitions: single Dirichlets (protein M->M,I,D 0.7939, 0.0278, 0.0135;
  I->M,I 0.1551, 0.1331; D->M,D 0.9002, 0.5630; nucleic 2.0, 0.1, 0.1;
  0.12, 0.4; 0.5, 1.0);
- nucleic match emissions: a four-component mixture trained by T. Wheeler on
  the Rmark benchmark (coefficients 0.24, 0.26, 0.08, 0.42), nucleic insert
  emissions a flat Dirichlet (all alphas 1).

>>> prior = DirichletMixture(np.array([1.0]), np.array([[1.0, 1.0]]))
>>> prior.mean_posterior(np.array([3.0, 1.0])).tolist()
[0.6666666666666666, 0.3333333333333333]
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.special import gammaln, logsumexp

from ..errors import ParameterError
from .model import Alphabet

__all__ = [
    "DirichletMixture",
    "ProfilePrior",
    "BLOCKS9",
    "AMINO_INSERT",
    "NUCLEIC_MATCH",
    "default_prior",
    "laplace_prior",
]


@dataclasses.dataclass(frozen=True, eq=False)
class DirichletMixture:
    """A mixture of Dirichlet densities.

    Parameters
    ----------
    weights : float64 array, shape (Q,)
        Mixture coefficients (non-negative, summing to 1 within 1e-6; they
        are renormalised exactly).
    alpha : float64 array, shape (Q, K)
        Positive Dirichlet parameters of each component.
    """

    weights: np.ndarray
    alpha: np.ndarray

    def __post_init__(self) -> None:
        weights = np.asarray(self.weights, dtype=np.float64).reshape(-1)
        alpha = np.atleast_2d(np.asarray(self.alpha, dtype=np.float64))
        if alpha.shape[0] != weights.size:
            raise ParameterError(
                f"{weights.size} mixture weights but {alpha.shape[0]} alpha vectors"
            )
        if np.any(alpha <= 0) or not np.all(np.isfinite(alpha)):
            raise ParameterError("Dirichlet parameters must be positive and finite")
        if np.any(weights < 0) or abs(weights.sum() - 1.0) > 1e-6:
            raise ParameterError("mixture weights must be non-negative and sum to 1")
        weights = weights / weights.sum()  # published coefficients are rounded
        weights.flags.writeable = False
        alpha.flags.writeable = False
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "alpha", alpha)

    @property
    def K(self) -> int:
        """Length of the probability vectors."""
        return int(self.alpha.shape[1])

    @property
    def n_components(self) -> int:
        """Number of mixture components Q."""
        return int(self.alpha.shape[0])

    @property
    def mean(self) -> np.ndarray:
        """Prior mean probability vector (float64, shape (K,))."""
        return self.weights @ (self.alpha / self.alpha.sum(axis=1, keepdims=True))

    def _counts(self, counts: np.ndarray) -> np.ndarray:
        c = np.asarray(counts, dtype=np.float64)
        if c.shape[-1] != self.K:
            raise ParameterError(f"counts must have {self.K} values on the last axis")
        if np.any(c < 0) or not np.all(np.isfinite(c)):
            raise ParameterError("counts must be finite and non-negative")
        return c

    def log_likelihoods(self, counts: np.ndarray) -> np.ndarray:
        """Log P(c | component j) up to the multinomial coefficient.

        Parameters
        ----------
        counts : float64 array, shape (..., K)

        Returns
        -------
        float64 array, shape (..., Q)
        """
        c = self._counts(counts)[..., None, :]  # (..., 1, K)
        a = self.alpha  # (Q, K)
        asum = a.sum(axis=1)
        out: np.ndarray = (
            gammaln(asum)
            - gammaln(asum + c.sum(axis=-1))
            + (gammaln(a + c) - gammaln(a)).sum(axis=-1)
        )
        return out

    def posterior_weights(self, counts: np.ndarray) -> np.ndarray:
        """Posterior component probabilities P(j | c).

        Parameters
        ----------
        counts : float64 array, shape (..., K)

        Returns
        -------
        float64 array, shape (..., Q)
            Each row sums to 1; zero counts give the prior ``weights``.
        """
        with np.errstate(divide="ignore"):
            logp = np.log(self.weights) + self.log_likelihoods(counts)
        out: np.ndarray = np.exp(logp - logsumexp(logp, axis=-1, keepdims=True))
        return out

    def mean_posterior(self, counts: np.ndarray) -> np.ndarray:
        """Mean posterior probability vectors.

        Parameters
        ----------
        counts : float64 array, shape (..., K)

        Returns
        -------
        float64 array, shape (..., K)
            Probability vectors (each sums to 1); zero counts give
            :attr:`mean`.
        """
        c = self._counts(counts)
        mix = self.posterior_weights(c)  # (..., Q)
        per = (c[..., None, :] + self.alpha) / (
            c.sum(axis=-1)[..., None, None] + self.alpha.sum(axis=1)[:, None]
        )  # (..., Q, K)
        p = np.einsum("...q,...qk->...k", mix, per)
        out: np.ndarray = p / p.sum(axis=-1, keepdims=True)
        return out


def _single(alpha: list[float]) -> DirichletMixture:
    return DirichletMixture(np.array([1.0]), np.array([alpha]))


#: Sjolander et al. (1996) nine-component match-emission mixture, ACDEFGHIKLMNPQRSTVWY.
BLOCKS9 = DirichletMixture(
    np.array([0.178091, 0.056591, 0.0960191, 0.0781233, 0.0834977,
              0.0904123, 0.114468, 0.0682132, 0.234585]),
    np.array([
        [0.270671, 0.039848, 0.017576, 0.016415, 0.014268, 0.131916, 0.012391, 0.022599,
         0.020358, 0.030727, 0.015315, 0.048298, 0.053803, 0.020662, 0.023612, 0.216147,
         0.147226, 0.065438, 0.003758, 0.009621],
        [0.021465, 0.010300, 0.011741, 0.010883, 0.385651, 0.016416, 0.076196, 0.035329,
         0.013921, 0.093517, 0.022034, 0.028593, 0.013086, 0.023011, 0.018866, 0.029156,
         0.018153, 0.036100, 0.071770, 0.419641],
        [0.561459, 0.045448, 0.438366, 0.764167, 0.087364, 0.259114, 0.214940, 0.145928,
         0.762204, 0.247320, 0.118662, 0.441564, 0.174822, 0.530840, 0.465529, 0.583402,
         0.445586, 0.227050, 0.029510, 0.121090],
        [0.070143, 0.011140, 0.019479, 0.094657, 0.013162, 0.048038, 0.077000, 0.032939,
         0.576639, 0.072293, 0.028240, 0.080372, 0.037661, 0.185037, 0.506783, 0.073732,
         0.071587, 0.042532, 0.011254, 0.028723],
        [0.041103, 0.014794, 0.005610, 0.010216, 0.153602, 0.007797, 0.007175, 0.299635,
         0.010849, 0.999446, 0.210189, 0.006127, 0.013021, 0.019798, 0.014509, 0.012049,
         0.035799, 0.180085, 0.012744, 0.026466],
        [0.115607, 0.037381, 0.012414, 0.018179, 0.051778, 0.017255, 0.004911, 0.796882,
         0.017074, 0.285858, 0.075811, 0.014548, 0.015092, 0.011382, 0.012696, 0.027535,
         0.088333, 0.944340, 0.004373, 0.016741],
        [0.093461, 0.004737, 0.387252, 0.347841, 0.010822, 0.105877, 0.049776, 0.014963,
         0.094276, 0.027761, 0.010040, 0.187869, 0.050018, 0.110039, 0.038668, 0.119471,
         0.065802, 0.025430, 0.003215, 0.018742],
        [0.452171, 0.114613, 0.062460, 0.115702, 0.284246, 0.140204, 0.100358, 0.550230,
         0.143995, 0.700649, 0.276580, 0.118569, 0.097470, 0.126673, 0.143634, 0.278983,
         0.358482, 0.661750, 0.061533, 0.199373],
        [0.005193, 0.004039, 0.006722, 0.006121, 0.003468, 0.016931, 0.003647, 0.002184,
         0.005019, 0.005990, 0.001473, 0.004158, 0.009055, 0.003630, 0.006583, 0.003172,
         0.003690, 0.002967, 0.002772, 0.002686],
    ]),
)  # fmt: skip

#: Single-Dirichlet protein insert-emission prior (Pfam 1.0 insert composition).
AMINO_INSERT = _single(
    [681.0, 120.0, 623.0, 651.0, 313.0, 902.0, 241.0, 371.0, 687.0, 676.0,
     143.0, 548.0, 647.0, 415.0, 551.0, 926.0, 623.0, 505.0, 102.0, 269.0]
)  # fmt: skip

#: Four-component nucleotide match-emission mixture (ACGT / ACGU).
NUCLEIC_MATCH = DirichletMixture(
    np.array([0.24, 0.26, 0.08, 0.42]),
    np.array([
        [0.16, 0.45, 0.12, 0.39],
        [0.09, 0.03, 0.09, 0.04],
        [1.29, 0.40, 6.58, 0.51],
        [1.74, 1.49, 1.57, 1.95],
    ]),
)  # fmt: skip


@dataclasses.dataclass(frozen=True, eq=False)
class ProfilePrior:
    """Priors on every parameter of a profile HMM.

    Attributes
    ----------
    match, insert : DirichletMixture
        Match- and insert-emission priors (K values).
    match_transitions : DirichletMixture
        Prior on (M->M, M->I, M->D).
    insert_transitions : DirichletMixture
        Prior on (I->M, I->I).
    delete_transitions : DirichletMixture
        Prior on (D->M, D->D).
    """

    match: DirichletMixture
    insert: DirichletMixture
    match_transitions: DirichletMixture
    insert_transitions: DirichletMixture
    delete_transitions: DirichletMixture


def default_prior(alphabet: Alphabet) -> ProfilePrior:
    """HMMER 3's default prior for ``alphabet`` (amino, DNA or RNA)."""
    if alphabet.name == "amino":
        return ProfilePrior(
            match=BLOCKS9,
            insert=AMINO_INSERT,
            match_transitions=_single([0.7939, 0.0278, 0.0135]),
            insert_transitions=_single([0.1551, 0.1331]),
            delete_transitions=_single([0.9002, 0.5630]),
        )
    if alphabet.K == 4:
        return ProfilePrior(
            match=NUCLEIC_MATCH,
            insert=_single([1.0] * 4),
            match_transitions=_single([2.0, 0.1, 0.1]),
            insert_transitions=_single([0.12, 0.4]),
            delete_transitions=_single([0.5, 1.0]),
        )
    raise ParameterError(f"no default prior for the {alphabet.name} alphabet")


def laplace_prior(alphabet: Alphabet) -> ProfilePrior:
    """The plus-one (Laplace) prior: every alpha is 1."""
    return ProfilePrior(
        match=_single([1.0] * alphabet.K),
        insert=_single([1.0] * alphabet.K),
        match_transitions=_single([1.0] * 3),
        insert_transitions=_single([1.0] * 2),
        delete_transitions=_single([1.0] * 2),
    )
