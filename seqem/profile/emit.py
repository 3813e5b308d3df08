"""Sample sequences from a profile HMM, with the path that made each residue.

:func:`emit` draws sequences from the Plan7 core model (as ``hmmemit`` does
for the core model) and returns, beside the sequences, the true alignment:
the state that emitted every residue.  Simulations with a known truth use it
to check search sensitivity and alignment accuracy.

Paths
-----
A **glocal** path starts in the begin state ``B``, which moves with the
node-0 transitions to ``M_1`` (``MM``), ``I_0`` (``MI``) or ``D_1``
(``MD``); each node then moves by its own transitions, and the path ends
after node ``M`` (``M_M -> E``, ``I_M -> E``, ``D_M -> E``).

A **local** path is a uniform fragment of the model: a start node ``i`` and
an end node ``j >= i`` are drawn uniformly among the ``M (M + 1) / 2``
pairs, the path enters at ``M_i``, follows the node transitions and stops on
reaching node ``j`` (after emitting there if it is in ``M_j``).

**Flanks** (``flank_length > 0``) are background residues before and after
the core path, each flank's length geometric with mean ``flank_length``
(the ``N`` and ``C`` states of a search profile).

>>> import numpy as np
>>> from seqem.profile.model import DNA, ProfileHMM
>>> t = np.tile([0.9, 0.05, 0.05, 0.5, 0.5, 0.5, 0.5], (4, 1))
>>> t[3] = [0.95, 0.05, 0.0, 0.5, 0.5, 1.0, 0.0]
>>> match = np.vstack([np.zeros(4), np.eye(4)[:3] * 0.88 + 0.03])
>>> hmm = ProfileHMM(DNA, match, np.full((4, 4), 0.25), t)
>>> consensus_sequence(hmm)
'ACG'
>>> seqs, paths = emit(hmm, 5, random_state=0)
>>> len(seqs), int(paths.nodes.max()) <= 3
(5, True)
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import numpy as np

from ..errors import ParameterError
from ..io.sequences import DigitalSequences
from .model import DM, II, MI, MM, ProfileHMM

__all__ = ["EmissionPaths", "emit", "consensus_sequence", "FLANK", "MATCH", "INSERT"]

#: State kind of a residue emitted by a flanking (background) state.
FLANK = 0
#: State kind of a residue emitted by a match state.
MATCH = 1
#: State kind of a residue emitted by an insert state.
INSERT = 2

# states of the path sampler
_M, _I, _D = range(3)
#: Uniform numbers drawn at a time by the path sampler.
_BLOCK = 4096
#: Most sequences one call can emit: NumPy's limit on the bytes of one array
#: of a 64-bit number per sequence (a larger count cannot be allocated at all).
_MAX_SEQUENCES = np.iinfo(np.intp).max // 8 - 1


@dataclasses.dataclass(frozen=True, eq=False)
class EmissionPaths:
    """The true alignment of emitted sequences, one entry per residue.

    Attributes
    ----------
    kinds : uint8 array, shape (n_residues,)
        :data:`FLANK`, :data:`MATCH` or :data:`INSERT`.
    positions : int64 array, shape (n_residues,)
        Node ``k`` of the state ``M_k`` or ``I_k`` that emitted the residue
        (``I_0`` is the insert before node 1); 0 for flanks.
    bounds : int64 array, shape (n_sequences + 1,)
        The same bounds as the sequences'.
    starts, ends : int64 arrays, shape (n_sequences,)
        First and last node of each core path (1 and M in glocal mode).
    """

    kinds: np.ndarray
    positions: np.ndarray
    bounds: np.ndarray
    starts: np.ndarray
    ends: np.ndarray

    @property
    def nodes(self) -> np.ndarray:
        """Node of each match residue, 0 for insert and flank residues (int64, (n_residues,))."""
        return np.where(self.kinds == MATCH, self.positions, 0)

    def sequence(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """``(kinds, positions)`` of sequence ``i`` (views)."""
        lo, hi = int(self.bounds[i]), int(self.bounds[i + 1])
        return self.kinds[lo:hi], self.positions[lo:hi]


class _Uniforms:
    """Uniform numbers from a generator, drawn in blocks."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.buffer = rng.random(_BLOCK)
        self.i = 0

    def __call__(self) -> float:
        if self.i == _BLOCK:
            self.buffer = self.rng.random(_BLOCK)
            self.i = 0
        value = float(self.buffer[self.i])
        self.i += 1
        return value


def _core_path(
    t: np.ndarray, M: int, draw: _Uniforms, start: int, end: int, local: bool
) -> list[tuple[int, int]]:
    """States ``(kind, node)`` of one path that emit residues (M and I only)."""
    out: list[tuple[int, int]] = []
    if local:
        state, k = _M, start
    else:
        u = draw()
        row = t[0]
        k = 0
        if u < row[MM]:
            state, k = _M, 1
        elif u < row[MM] + row[MI]:
            state = _I
        else:
            state, k = _D, 1
    while True:
        if state == _M:
            out.append((MATCH, k))
            if local and k >= end:
                return out
        elif state == _I:
            out.append((INSERT, k))
        elif local and k >= end:
            return out
        row = t[k]
        u = draw()
        if state == _M:
            if u < row[MM]:
                nxt, k = _M, k + 1
            elif u < row[MM] + row[MI]:
                nxt = _I
            else:
                nxt, k = _D, k + 1
        elif state == _I:
            nxt, k = (_I, k) if u < row[II] else (_M, k + 1)
        else:
            nxt, k = (_M, k + 1) if u < row[DM] or k == M else (_D, k + 1)
        if k > M:  # E
            return out
        state = nxt


def _sample_codes(probs: np.ndarray, rows: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF draws: ``probs[rows[i]]`` sampled with uniform ``u[i]`` (uint8)."""
    cdf = np.cumsum(probs, axis=1)
    total = cdf[:, -1:].copy()
    total[total <= 0] = 1.0  # unused rows (match row 0)
    cdf /= total
    K = probs.shape[1]
    codes = (u[:, None] >= cdf[rows]).sum(axis=1)
    return np.minimum(codes, K - 1).astype(np.uint8)


def emit(
    hmm: ProfileHMM,
    n: int,
    *,
    random_state: int | np.random.Generator | None = None,
    mode: Literal["glocal", "local"] = "glocal",
    flank_length: float = 0,
    name_prefix: str | None = None,
) -> tuple[DigitalSequences, EmissionPaths]:
    """Sample ``n`` sequences from ``hmm`` with their true paths.

    Parameters
    ----------
    hmm : ProfileHMM
        The core model; match residues come from ``hmm.match``, inserted
        ones from ``hmm.insert``, flanks from the alphabet's background.
    n : int
        Number of sequences (>= 0).
    random_state : int, numpy.random.Generator or None
        Seed or generator; the same seed gives the same sequences.
    mode : {"glocal", "local"}
        The whole model, or a uniform fragment of it (see the module notes).
    flank_length : float
        Mean length of the background flank on each side (0: none).
    name_prefix : str, optional
        Sequences are named ``{prefix}-sample{i}`` (1-based; HMMER's
        convention); default the model name.

    Returns
    -------
    sequences : DigitalSequences
        Canonical residue codes ``0..K-1``; empty descriptions.
    paths : EmissionPaths
        The state behind every residue.

    Raises
    ------
    ParameterError
        ``n < 0`` or too large for NumPy to allocate, an unknown mode, a negative
        flank length, or a model that does not validate.

    Notes
    -----
    A glocal path may, rarely, pass only through delete states and emit no
    residue; such a path is drawn again, so every sequence has at least one
    residue (with flanks, only a sequence empty as a whole is drawn again).
    """
    if n < 0:
        raise ParameterError(f"n must be >= 0, got {n}")
    if n > _MAX_SEQUENCES:
        raise ParameterError(
            f"n = {n} is too large: its arrays would exceed the largest size NumPy can "
            f"allocate (n at most {_MAX_SEQUENCES})"
        )
    if mode not in ("glocal", "local"):
        raise ParameterError(f"mode must be 'glocal' or 'local', got {mode!r}")
    if not flank_length >= 0:
        raise ParameterError(f"flank_length must be >= 0, got {flank_length}")
    hmm.validate(atol=1e-3)
    rng = np.random.default_rng(random_state)
    draw = _Uniforms(rng)
    M = hmm.M
    t = np.asarray(hmm.transitions, dtype=np.float64)
    local = mode == "local"

    kinds: list[np.ndarray] = []
    positions: list[np.ndarray] = []
    starts = np.empty(n, dtype=np.int64)
    ends = np.empty(n, dtype=np.int64)
    for s in range(n):
        while True:
            if local:
                # uniform over pairs i <= j: P(j) grows as j, then i uniform in 1..j
                j = int(np.sqrt(2.0 * (draw() * M * (M + 1) / 2.0) + 0.25) + 0.5)
                j = min(max(j, 1), M)
                i = 1 + min(int(draw() * j), j - 1)
            else:
                i, j = 1, M
            path = _core_path(t, M, draw, i, j, local)
            left = right = 0
            if flank_length > 0:
                p = 1.0 / (flank_length + 1.0)
                left, right = (int(x) - 1 for x in rng.geometric(p, size=2))
            if path or left or right:
                break
        core = np.array(path, dtype=np.int64).reshape(-1, 2)
        kind = np.full(left + core.shape[0] + right, FLANK, dtype=np.uint8)
        kind[left : left + core.shape[0]] = core[:, 0]
        position = np.zeros(kind.size, dtype=np.int64)
        position[left : left + core.shape[0]] = core[:, 1]
        kinds.append(kind)
        positions.append(position)
        starts[s], ends[s] = i, j

    bounds = np.zeros(n + 1, dtype=np.int64)
    np.cumsum([k.size for k in kinds], out=bounds[1:])
    all_kinds = np.concatenate(kinds) if kinds else np.zeros(0, dtype=np.uint8)
    all_pos = np.concatenate(positions) if positions else np.zeros(0, dtype=np.int64)
    u = rng.random(all_kinds.size)
    codes = np.empty(all_kinds.size, dtype=np.uint8)
    background = np.asarray(hmm.alphabet.background, dtype=np.float64)[None, :]
    for which, table in ((MATCH, hmm.match), (INSERT, hmm.insert), (FLANK, background)):
        sel = np.flatnonzero(all_kinds == which)
        if sel.size:
            rows = all_pos[sel] if which != FLANK else np.zeros(sel.size, dtype=np.int64)
            codes[sel] = _sample_codes(np.asarray(table, dtype=np.float64), rows, u[sel])

    prefix = hmm.name if name_prefix is None else name_prefix
    sequences = DigitalSequences(
        names=tuple(f"{prefix}-sample{s + 1}" for s in range(n)),
        descriptions=("",) * n,
        codes=codes,
        bounds=bounds,
        alphabet=hmm.alphabet,
    )
    paths = EmissionPaths(all_kinds, all_pos, bounds.copy(), starts, ends)
    return sequences, paths


def consensus_sequence(hmm: ProfileHMM) -> str:
    """The most probable residue of every match state, one letter per node.

    Ties go to the first residue in the alphabet's order.

    Returns
    -------
    str
        Upper-case letters, length M.
    """
    symbols = hmm.alphabet.symbols
    return "".join(symbols[int(c)] for c in np.argmax(hmm.match[1:], axis=1))
