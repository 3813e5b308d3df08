"""E-value calibration of a profile HMM, as HMMER calibrates its models.

Scores of random sequences drawn from the background follow known
distributions: the Viterbi and MSV scores a Gumbel (extreme value)
distribution, the Forward score an exponential tail, all with the same slope
``lambda``.  ``lambda`` is set from the model's relative entropy (Eddy 2008:
``ln 2 + 1.44 / (M H)``); the locations come from scoring simulated
sequences:

* MSV and Viterbi ``mu``: Gumbel location with ``lambda`` fixed, fitted to
  200 background sequences of length 200, scored as HMMER's SIMD filters
  score them: the flanking N, C and J residues free and a fixed 3 nats off
  (``flanks="fixed"``), so that the ``STATS`` lines mean what hmmbuild's
  mean (the search pipeline's filters score the flanks by the length model,
  as they do with HMMER's own models: a full-length homolog gets up to 3
  nats more than from HMMER's filters, a random sequence a few tenths of a
  bit, so the filters pass slightly more than their nominal P-values);
* Forward ``tau``: a complete Gumbel fit to 200 sequences of length 100,
  then ``tau`` = the fitted Gumbel's 1 - 0.04 quantile plus
  ``ln(0.04) / lambda``.

P-values: Forward ``P(S > x) = exp(-lambda (x - tau))``; Viterbi and MSV
``P = 1 - exp(-exp(-lambda (x - mu)))``.

These numbers and the seed (42) are hmmbuild's defaults; :class:`Calibration`
changes them as hmmbuild's ``--EmL --EmN --EvL --EvN --EfL --EfN --Eft
--seed`` do (more sequences: locations with less simulation noise).  With
the same number and length for MSV and Viterbi, both are fitted to the same
sequences.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import ParameterError
from .model import ProfileHMM
from .search import configure

__all__ = [
    "Calibration",
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


#: Most residues simulated for one fit (a bound on memory and time).
MAX_RESIDUES = 100_000_000


@dataclasses.dataclass(frozen=True)
class Calibration:
    """Simulation settings of :func:`calibrate`, named as hmmbuild's options.

    Attributes
    ----------
    EmL, EmN : int
        Length and number of the sequences of the MSV location fit.
    EvL, EvN : int
        The same for the Viterbi location.
    EfL, EfN : int
        The same for the Forward tail.
    Eft : float
        Tail mass at which the Forward ``tau`` is read, in (0, 1).
    seed : int
        Seed of the simulated sequences.
    """

    EmL: int = L_VITERBI
    EmN: int = N_SEQ
    EvL: int = L_VITERBI
    EvN: int = N_SEQ
    EfL: int = L_FORWARD
    EfN: int = N_SEQ
    Eft: float = TAIL_MASS
    seed: int = 42

    def __post_init__(self) -> None:
        for which in ("m", "v", "f"):
            length, number = getattr(self, f"E{which}L"), getattr(self, f"E{which}N")
            if length < 1:
                raise ParameterError(f"--E{which}L must be at least 1, got {length}")
            if number < 10:
                raise ParameterError(
                    f"--E{which}N must be at least 10 (sequences for a fit), got {number}"
                )
            if length * number > MAX_RESIDUES:
                raise ParameterError(
                    f"--E{which}N x --E{which}L is {length * number:,} residues; at most "
                    f"{MAX_RESIDUES:,} are simulated for a fit"
                )
        if not 0.0 < self.Eft < 1.0:
            raise ParameterError(f"--Eft must be between 0 and 1, got {self.Eft}")


def relative_entropy(hmm: ProfileHMM) -> float:
    """Mean relative entropy of the match emissions against the background (bits)."""
    bg = np.asarray(hmm.alphabet.background)
    p = hmm.match[1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log2(p / bg), 0.0)
    return float(terms.sum(axis=1).mean())


def msv_bits(
    hmm: ProfileHMM, dsq: np.ndarray, bounds: np.ndarray, *, flanks: str = "length"
) -> np.ndarray:
    """MSV scores in bits (ungapped local segments, multihit); see
    :func:`seqem.profile.search.msv_bits`."""
    from .search import msv_bits as profile_msv_bits

    return profile_msv_bits(configure(hmm), dsq, bounds, flanks=flanks)


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


def calibrate(
    hmm: ProfileHMM, *, seed: int | None = None, settings: Calibration | None = None
) -> dict[str, tuple[float, float]]:
    """E-value parameters ``{"msv": (mu, lam), "viterbi": (mu, lam), "forward": (tau, lam)}``.

    Also stores them in ``hmm.stats``.  ``settings`` (default: hmmbuild's)
    sets the simulation; ``seed``, when given, replaces its seed.
    """
    from .search import forward_bits, viterbi_bits
    from .search import msv_bits as profile_msv_bits

    s = Calibration() if settings is None else settings
    rng = np.random.default_rng(s.seed if seed is None else seed)
    M = hmm.M
    H = relative_entropy(hmm)
    lam = float(np.log(2.0) + 1.44 / (M * max(H, 1e-6)))
    prof = configure(hmm)
    dsq, bounds = _random_background(hmm, s.EmN, s.EmL, rng)
    msv_mu = _gumbel_mu(profile_msv_bits(prof, dsq, bounds, flanks="fixed"), lam)
    if (s.EvN, s.EvL) != (s.EmN, s.EmL):
        dsq, bounds = _random_background(hmm, s.EvN, s.EvL, rng)
    vit_mu = _gumbel_mu(viterbi_bits(prof, dsq, bounds, flanks="fixed"), lam)
    dsq, bounds = _random_background(hmm, s.EfN, s.EfL, rng)
    fwd = forward_bits(prof, dsq, bounds)
    g_mu, g_lam = _gumbel_fit(fwd)
    quantile = g_mu - np.log(-np.log(1.0 - s.Eft)) / g_lam
    tau = float(quantile + np.log(s.Eft) / lam)
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
