"""Letter heights of a profile HMM's match states, as sequence logos draw them.

The three height rules of HMMER's ``hmmlogo`` (Schuster-Böckler et al.
2004; Wheeler et al. 2014, Skylign), for each node ``k`` with match
emissions ``p`` and background ``f``:

- ``relent_all``: the stack is the node's relative entropy
  ``H_k = sum_a p_a log2(p_a / f_a)`` bits, shared by every residue in
  proportion to its probability (``p_a H_k``);
- ``relent_abovebg``: the same stack, shared only by the residues more
  probable than in the background, in proportion to their probabilities;
- ``score``: each residue's score ``log2(p_a / f_a)`` bits (negative
  scores below the axis).

:func:`indel_values` gives what logos draw under the letters: the
probability of an insertion after each node, the expected length of one,
and the probability that a path through the model uses the node's match
state.
"""

from __future__ import annotations

import numpy as np

from .model import II, MI, ProfileHMM

__all__ = ["HEIGHTS", "indel_values", "logo_heights", "relative_entropy"]

#: The height rules, as ``hmmlogo`` names them (``--height_...``).
HEIGHTS = ("relent_all", "relent_abovebg", "score")


def _scores(hmm: ProfileHMM) -> tuple[np.ndarray, np.ndarray]:
    """Match emissions of nodes 1..M and their log2 odds against the background."""
    p = np.asarray(hmm.match[1:], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return p, np.log2(p / np.asarray(hmm.alphabet.background, dtype=np.float64))


def relative_entropy(hmm: ProfileHMM) -> np.ndarray:
    """Relative entropy of each node's match emissions to the background, in bits, shape (M,)."""
    p, score = _scores(hmm)
    return np.where(p > 0, p * score, 0.0).sum(axis=1)


def logo_heights(hmm: ProfileHMM, rule: str = "relent_all") -> np.ndarray:
    """Letter heights in bits, shape (M, K): row ``k - 1`` for node ``k``, columns in the
    alphabet's order (see the module docstring for the rules)."""
    from ..errors import ParameterError

    if rule not in HEIGHTS:
        raise ParameterError(f"height rule must be one of {', '.join(HEIGHTS)}, got {rule!r}")
    p, score = _scores(hmm)
    if rule == "score":
        return score
    relent = relative_entropy(hmm)
    if rule == "relent_all":
        return p * relent[:, None]
    above = np.where(p > np.asarray(hmm.alphabet.background), p, 0.0)
    total = above.sum(axis=1)
    share = np.divide(above, total[:, None], out=np.zeros_like(above), where=total[:, None] > 0)
    return share * relent[:, None]


def indel_values(hmm: ProfileHMM) -> np.ndarray:
    """Per node (shape (M, 3)): the probability of an insertion after it, the expected
    length of an insertion there (``1 / (1 - t_II)``; both 0 after the last node, which
    has no insert state) and the occupancy of its match state
    (:func:`seqem.profile.search.match_occupancy`)."""
    from .search import match_occupancy

    t = np.asarray(hmm.transitions[1:], dtype=np.float64)
    with np.errstate(divide="ignore"):
        out = np.column_stack([t[:, MI], 1.0 / (1.0 - t[:, II]), match_occupancy(hmm)[1:]])
    out[-1, :2] = 0.0  # Plan7 has no insert state after the last node
    return out
