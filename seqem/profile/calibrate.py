"""E-value calibration of a profile HMM, as HMMER calibrates its models.

Scores of random sequences drawn from the background follow known
distributions: the Viterbi and MSV scores a Gumbel (extreme value)
distribution, the Forward score an exponential tail, all with the same slope
``lambda``.  ``lambda`` is set from the model's relative entropy (Eddy 2008:
``ln 2 + 1.44 / (M H)``); the locations come from scoring simulated
sequences:

* MSV and Viterbi ``mu``: Gumbel location with ``lambda`` fixed, fitted to
  200 background sequences of length 200;
* Forward ``tau``: a complete Gumbel fit to 200 sequences of length 100,
  then ``tau`` = the fitted Gumbel's 1 - 0.04 quantile plus
  ``ln(0.04) / lambda``.

P-values: Forward ``P(S > x) = exp(-lambda (x - tau))``; Viterbi and MSV
``P = 1 - exp(-exp(-lambda (x - mu)))``.
"""

from __future__ import annotations

import numpy as np

from .model import ProfileHMM
from .search import configure

__all__ = [
    "calibrate",
    "relative_entropy",
    "forward_pvalue",
    "gumbel_pvalue",
    "msv_bits",
]

N_SEQ = 200
L_VITERBI = 200
L_FORWARD = 100
TAIL_MASS = 0.04


def relative_entropy(hmm: ProfileHMM) -> float:
    """Mean relative entropy of the match emissions against the background (bits)."""
    bg = np.asarray(hmm.alphabet.background)
    p = hmm.match[1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log2(p / bg), 0.0)
    return float(terms.sum(axis=1).mean())


def msv_bits(hmm: ProfileHMM, dsq: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """MSV scores in bits (ungapped local segments, multihit); see
    :func:`seqem.profile.search.msv_bits`."""
    from .search import msv_bits as profile_msv_bits

    return profile_msv_bits(configure(hmm), dsq, bounds)


def _random_background(hmm: ProfileHMM, n: int, length: int, rng: np.random.Generator):
    bg = np.asarray(hmm.alphabet.background)
    dsq = rng.choice(len(bg), size=n * length, p=bg).astype(np.uint8)
    bounds = np.arange(0, n * length + 1, length, dtype=np.int64)
    return dsq, bounds


def _gumbel_mu(scores: np.ndarray, lam: float) -> float:
    """ML location of a Gumbel with known slope ``lam``."""
    x = np.asarray(scores, dtype=np.float64)
    m = x.min()
    return float(m - np.log(np.mean(np.exp(-lam * (x - m)))) / lam)


def _gumbel_fit(scores: np.ndarray) -> tuple[float, float]:
    """ML location and slope of a Gumbel (Newton on the slope)."""
    x = np.asarray(scores, dtype=np.float64)
    lam = np.pi / np.sqrt(6.0 * x.var())  # moment estimate to start
    for _ in range(100):
        w = np.exp(-lam * (x - x.max()))
        s0, s1, s2 = w.sum(), (w * x).sum(), (w * x * x).sum()
        f = 1.0 / lam - x.mean() + s1 / s0
        df = -1.0 / lam**2 - s2 / s0 + (s1 / s0) ** 2
        step = f / df
        lam_new = lam - step
        if lam_new <= 0:
            lam_new = lam / 2.0
        if abs(lam_new - lam) < 1e-10 * lam:
            lam = lam_new
            break
        lam = lam_new
    return _gumbel_mu(x, lam), float(lam)


def calibrate(hmm: ProfileHMM, *, seed: int = 42) -> dict[str, tuple[float, float]]:
    """E-value parameters ``{"msv": (mu, lam), "viterbi": (mu, lam), "forward": (tau, lam)}``.

    Also stores them in ``hmm.stats``.
    """
    from .search import forward_bits, viterbi_bits

    rng = np.random.default_rng(seed)
    M = hmm.M
    H = relative_entropy(hmm)
    lam = float(np.log(2.0) + 1.44 / (M * max(H, 1e-6)))
    prof = configure(hmm)
    dsq, bounds = _random_background(hmm, N_SEQ, L_VITERBI, rng)
    msv_mu = _gumbel_mu(msv_bits(hmm, dsq, bounds), lam)
    vit_mu = _gumbel_mu(viterbi_bits(prof, dsq, bounds), lam)
    dsq, bounds = _random_background(hmm, N_SEQ, L_FORWARD, rng)
    fwd = forward_bits(prof, dsq, bounds)
    g_mu, g_lam = _gumbel_fit(fwd)
    quantile = g_mu - np.log(-np.log(1.0 - TAIL_MASS)) / g_lam
    tau = float(quantile + np.log(TAIL_MASS) / lam)
    stats = {"msv": (msv_mu, lam), "viterbi": (vit_mu, lam), "forward": (tau, lam)}
    hmm.stats = dict(stats)
    return stats


def forward_pvalue(bits: np.ndarray, tau: float, lam: float) -> np.ndarray:
    """P-value of Forward scores: exponential tail, capped at 1."""
    x = np.asarray(bits, dtype=np.float64)
    return np.minimum(1.0, np.exp(-lam * (x - tau)))


def gumbel_pvalue(bits: np.ndarray, mu: float, lam: float) -> np.ndarray:
    """P-value of Viterbi/MSV scores under a Gumbel distribution."""
    x = np.asarray(bits, dtype=np.float64)
    return -np.expm1(-np.exp(-lam * (x - mu)))
