"""The filter pipeline of a database search: MSV, composition bias, Viterbi, Forward.

Most database sequences are not homologous to a model, and the full Forward
pass costs far more than the question needs to reject them.  As HMMER's
``hmmsearch`` does by default, each sequence therefore goes through filters
of increasing cost, each with a P-value threshold from the model's
calibration (``STATS LOCAL`` lines):

1. **MSV** (``F1``, default 0.02): the best set of ungapped local segments,
   Gumbel P-value with the model's MSV location.  Fixed-point scores, about
   ten times the Forward rate (:func:`seqem.profile.search.msv_bits`).
2. **Composition bias** (on by default): the MSV score taken again against a
   null model that may switch into the model's own mean residue composition
   (a two-state HMM: background residues, or stretches of mean length
   ``M / 8`` drawn from the model's composition), and ``F1`` applied again.
   Sequences that pass MSV only because they share the model's composition
   (low-complexity and biased regions) stop here.  This null is used only
   to filter: reported scores are never corrected by it.
3. **Viterbi** (``F2``, default 0.001): the best gapped path, Gumbel P-value
   with the model's Viterbi location, against the same filter null
   (fixed-point scores, :func:`seqem.profile.search.viterbi_filter_bits`).
4. **Forward** (``F3``, default 1e-5): applied by the caller to the Forward
   score (also against the filter null), exponential-tail P-value.

``--max`` in the command line (``filters=None`` in the API) turns every
filter off: every sequence is scored by Forward.  The thresholds are
P-values per sequence, so the expected number of unrelated sequences that
pass a stage is its threshold times the number of sequences.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import ParameterError
from ..io.sequences import take_sequences
from . import _kernels as K
from .search import LN2, SearchProfile, msv_bits, viterbi_filter_bits

__all__ = [
    "Filters",
    "FilterOutcome",
    "bias_bits",
    "forward_filter",
    "model_composition",
    "prefilter",
]


@dataclasses.dataclass(frozen=True)
class Filters:
    """P-value thresholds of the filter stages (HMMER's defaults) and the bias filter switch."""

    F1: float = 0.02
    F2: float = 1e-3
    F3: float = 1e-5
    bias: bool = True

    def __post_init__(self) -> None:
        for name in ("F1", "F2", "F3"):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise ParameterError(f"filter threshold {name} must be in (0, 1], got {value}")


@dataclasses.dataclass(frozen=True)
class FilterOutcome:
    """Which sequences passed the filters before Forward.

    Attributes
    ----------
    index : int64 array
        The sequences that passed MSV, bias and Viterbi, in database order.
    bias : float64 array, same length
        Their filter-null correction in bits (0 without the bias filter):
        the Forward filter compares ``forward bits - bias`` with ``F3``.
    passed : dict
        Number of sequences past each stage: ``"msv"``, ``"bias"``,
        ``"viterbi"`` (of ``"total"``).
    stage : uint8 array, one per sequence
        How many of the three filters each sequence passed (0 to 3).
    """

    index: np.ndarray
    bias: np.ndarray
    passed: dict[str, int]
    stage: np.ndarray | None = None


def model_composition(profile: SearchProfile) -> np.ndarray:
    """The model's mean residue composition (``COMPO``), computed when absent."""
    hmm = profile.hmm
    compo = hmm.mean_composition() if hmm.compo is None else np.asarray(hmm.compo, dtype=float)
    return compo / compo.sum()


def bias_bits(profile: SearchProfile, dsq: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Filter-null correction in bits of each sequence.

    The log-odds, against the background null, of the two-state composition
    null model described in the module docstring: about 0 for sequences of
    background composition, larger the more a sequence resembles the
    model's mean composition.
    """
    hmm = profile.hmm
    alphabet = hmm.alphabet
    bg = np.asarray(alphabet.background, dtype=np.float64)
    compo = model_composition(profile)
    _, members = alphabet.degenerate_matrix()
    members = np.asarray(members, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        odds = (members @ compo) / (members @ bg)
    odds = np.ascontiguousarray(np.where(np.isfinite(odds), odds, 1.0))
    mean_length = hmm.M / 8.0
    stay = mean_length / (mean_length + 1.0)
    dsq = np.ascontiguousarray(dsq, dtype=np.uint8)
    bounds = np.ascontiguousarray(bounds, dtype=np.int64)
    return K.bias_scores(dsq, bounds, odds, stay) / LN2


def _gumbel_survival(bits: np.ndarray, mu: float, lam: float) -> np.ndarray:
    return -np.expm1(-np.exp(-lam * (bits - mu)))


def prefilter(
    profile: SearchProfile,
    dsq: np.ndarray,
    bounds: np.ndarray,
    filters: Filters,
) -> FilterOutcome:
    """Run the MSV, bias and Viterbi filters; see the module docstring.

    The model must carry its ``"msv"`` and ``"viterbi"`` statistics
    (:func:`seqem.profile.calibrate.calibrate`).
    """
    stats = profile.hmm.stats
    if "msv" not in stats or "viterbi" not in stats:
        raise ParameterError("the filters need a calibrated model (MSV and Viterbi statistics)")
    bounds = np.ascontiguousarray(bounds, dtype=np.int64)
    n = len(bounds) - 1
    msv = msv_bits(profile, dsq, bounds)
    mu, lam = stats["msv"]
    index = np.flatnonzero(_gumbel_survival(msv, mu, lam) <= filters.F1)
    passed = {"total": n, "msv": int(index.size)}
    stage = np.zeros(n, dtype=np.uint8)
    stage[index] = 1
    sub, sub_bounds = take_sequences(dsq, bounds, index)
    bias = np.zeros(index.size)
    if filters.bias and index.size:
        bias = bias_bits(profile, sub, sub_bounds)
        keep = np.flatnonzero(_gumbel_survival(msv[index] - bias, mu, lam) <= filters.F1)
        if keep.size < index.size:
            index, bias = index[keep], bias[keep]
            sub, sub_bounds = take_sequences(dsq, bounds, index)
    passed["bias"] = int(index.size)
    stage[index] = 2
    if index.size:
        vit = viterbi_filter_bits(profile, sub, sub_bounds)
        mu, lam = stats["viterbi"]
        keep = np.flatnonzero(_gumbel_survival(vit - bias, mu, lam) <= filters.F2)
        index, bias = index[keep], bias[keep]
    passed["viterbi"] = int(index.size)
    stage[index] = 3
    return FilterOutcome(index.astype(np.int64), bias, passed, stage)


def forward_filter(bits: np.ndarray, bias: np.ndarray, tau: float, lam: float, F3: float):
    """Mask of the sequences whose Forward score, against the filter null, has P <= F3."""
    p = np.minimum(1.0, np.exp(-lam * (np.asarray(bits) - bias - tau)))
    return p <= F3
