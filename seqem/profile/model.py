"""The profile HMM: a Plan7 core model and its alphabet.

The core model follows HMMER's Plan7 layout so that HMMER3 files map onto it
one to one.  Nodes are numbered 1..M; node 0 holds the begin state's
transitions and the insert state I0.

Transitions are stored per node ``k`` in the order of HMMER files::

    0 MM  M_k -> M_k+1      (node 0: B -> M_1)
    1 MI  M_k -> I_k        (node 0: B -> I_0)
    2 MD  M_k -> D_k+1      (node 0: B -> D_1)
    3 IM  I_k -> M_k+1
    4 II  I_k -> I_k
    5 DM  D_k -> M_k+1      (node 0: 1.0, unused)
    6 DD  D_k -> D_k+1      (node 0: 0.0, unused)

At node M, ``M_M -> M_M+1`` means ``M_M -> E``, ``MD`` and ``DD`` are 0 and
``DM`` (``D_M -> E``) is 1.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ..errors import ParameterError

__all__ = ["Alphabet", "AMINO", "DNA", "RNA", "ProfileHMM", "TRANSITIONS", "alphabet_named"]

TRANSITIONS = ("MM", "MI", "MD", "IM", "II", "DM", "DD")
MM, MI, MD, IM, II, DM, DD = range(7)
#: Tail probability that sets a model's ``MAXL`` (hmmbuild's default ``--w_beta``).
MAXL_TAIL = 1e-7
#: Longest ``MAXL`` computed (a model whose inserts never end would run for ever).
MAXL_CAP = 1_000_000


@dataclasses.dataclass(frozen=True)
class Alphabet:
    """A biological alphabet: canonical symbols, degenerate codes, background.

    Attributes
    ----------
    name : str
        ``"amino"``, ``"DNA"`` or ``"RNA"`` (as in HMMER's ``ALPH`` line).
    symbols : str
        The K canonical symbols in HMMER's order.
    degenerate : dict of str to str
        Each degenerate code and the canonical symbols it stands for
        (``"X"``/``"N"``: any).
    background : tuple of float
        Null-model residue frequencies (K values summing to 1).
    """

    name: str
    symbols: str
    degenerate: dict[str, str]
    background: tuple[float, ...]

    @property
    def K(self) -> int:
        return len(self.symbols)

    def degenerate_matrix(self) -> tuple[str, np.ndarray]:
        """All accepted codes and a (n_codes, K) 0/1 matrix of what each stands for.

        Codes ``0..K-1`` are the canonical symbols; the rest are the
        degenerate codes in a fixed order.
        """
        codes = self.symbols + "".join(self.degenerate)
        mat = np.zeros((len(codes), self.K))
        for i, ch in enumerate(codes):
            for s in self.degenerate.get(ch, ch):
                mat[i, self.symbols.index(s)] = 1.0
        return codes, mat


# Null-model frequencies of HMMER's amino alphabet (Easel's BLOSUM62
# background composition), in the order ACDEFGHIKLMNPQRSTVWY.
_AMINO_BG = (
    0.0787945, 0.0151600, 0.0535222, 0.0668298, 0.0397062,
    0.0695071, 0.0229198, 0.0590092, 0.0594422, 0.0963728,
    0.0237718, 0.0414386, 0.0482904, 0.0395639, 0.0540978,
    0.0683364, 0.0540687, 0.0673417, 0.0114135, 0.0304133,
)  # fmt: skip

AMINO = Alphabet(
    "amino",
    "ACDEFGHIKLMNPQRSTVWY",
    {
        "B": "DN",
        "J": "IL",
        "Z": "EQ",
        "O": "K",  # pyrrolysine, scored as lysine
        "U": "C",  # selenocysteine, scored as cysteine
        "X": "ACDEFGHIKLMNPQRSTVWY",
    },
    tuple(v / sum(_AMINO_BG) for v in _AMINO_BG),
)

_NUC_DEGENERATE = {
    "R": "AG",
    "Y": "CT",
    "M": "AC",
    "K": "GT",
    "S": "CG",
    "W": "AT",
    "H": "ACT",
    "B": "CGT",
    "V": "ACG",
    "D": "AGT",
    "N": "ACGT",
}

DNA = Alphabet("DNA", "ACGT", dict(_NUC_DEGENERATE), (0.25, 0.25, 0.25, 0.25))
RNA = Alphabet(
    "RNA",
    "ACGU",
    {k: v.replace("T", "U") for k, v in _NUC_DEGENERATE.items()},
    (0.25, 0.25, 0.25, 0.25),
)


def alphabet_named(name: str) -> Alphabet:
    """The alphabet of a HMMER ``ALPH`` value (case-insensitive)."""
    key = name.strip().lower()
    for alpha in (AMINO, DNA, RNA):
        if alpha.name.lower() == key:
            return alpha
    raise ParameterError(f"unknown alphabet {name!r}; expected amino, DNA or RNA")


@dataclasses.dataclass
class ProfileHMM:
    """A Plan7 core profile HMM (probabilities, not scores).

    Attributes
    ----------
    alphabet : Alphabet
    match : float64 array, shape (M + 1, K)
        Match emission probabilities; row 0 is unused (zeros).
    insert : float64 array, shape (M + 1, K)
        Insert emission probabilities; row 0 is I0.
    transitions : float64 array, shape (M + 1, 7)
        Per-node transition probabilities in :data:`TRANSITIONS` order.
    name : str
    accession, description : str or None
    nseq : int or None
        Number of sequences the model was built from.
    effn : float or None
        Effective number of sequences.
    stats : dict
        E-value parameters: ``{"msv": (mu, lambda), "viterbi": (mu, lambda),
        "forward": (tau, lambda)}``, or empty when not calibrated.
    consensus : str or None
        One consensus character per node (length M).
    rf, mm, cs : str or None
        Per-node reference, model-mask and structure annotation (length M).
    map : int array of shape (M,) or None
        Alignment column of each node (1-based).
    compo : float64 array of shape (K,) or None
        Mean match emission composition.
    meta : dict
        Other header fields kept for writing back (``DATE``, ``COM``,
        ``CKSUM``, ``GA``, ``TC``, ``NC``, ``MAXL`` ...).
    """

    alphabet: Alphabet
    match: np.ndarray
    insert: np.ndarray
    transitions: np.ndarray
    name: str = "model"
    accession: str | None = None
    description: str | None = None
    nseq: int | None = None
    effn: float | None = None
    stats: dict[str, tuple[float, float]] = dataclasses.field(default_factory=dict)
    consensus: str | None = None
    rf: str | None = None
    mm: str | None = None
    cs: str | None = None
    map: np.ndarray | None = None
    compo: np.ndarray | None = None
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def M(self) -> int:
        """Number of nodes (match states)."""
        return int(self.match.shape[0] - 1)

    def emission_consensus(self) -> str:
        """One character per node from the match emissions, as HMMER makes a model's
        consensus when no sequence gives it: each node's most probable residue, in
        upper case where its probability is at least 0.5 (amino acids) or 0.9
        (nucleotides), else in lower case."""
        best = np.argmax(self.match[1:], axis=1)
        top = self.match[1:][np.arange(best.size), best]
        threshold = 0.5 if self.alphabet.name == "amino" else 0.9
        symbols = self.alphabet.symbols
        return "".join(
            symbols[b] if p >= threshold else symbols[b].lower()
            for b, p in zip(best, top, strict=True)
        )

    def derive_annotation(self) -> None:
        """Set the consensus and the composition from the parameters, as hmmbuild gives
        every model both (HMMER cannot search with a model that has no consensus), and
        for a nucleotide model its ``MAXL`` (:meth:`max_length`), as hmmbuild does."""
        self.consensus = self.emission_consensus()
        self.compo = self.mean_composition()
        if self.alphabet.name != "amino":
            self.meta["MAXL"] = self.max_length()

    def max_length(self, tail: float = MAXL_TAIL) -> int:
        """The longest stretch of sequence one pass through the core model covers
        (HMMER's ``MAXL``): the smallest length ``L`` at which the probability of
        being still inside the model (not in M_M or D_M, the states that lead to
        its end) after ``L - 1`` residues, the model entered at node 1, falls
        below ``tail`` (hmmbuild's ``--w_beta``).  hmmbuild's value for MADE1
        is the same; for other models seqem's is equal or one or two longer.
        Searches of long nucleotide sequences cut them into windows that overlap
        by this much, so that no hit is cut in two."""
        from ._kernels import max_emitted_length

        if not 0.0 < tail < 1.0:
            raise ParameterError(f"tail must lie strictly between 0 and 1, got {tail}")
        t = np.ascontiguousarray(self.transitions, dtype=np.float64)
        return int(max_emitted_length(t, float(tail), MAXL_CAP))

    def mean_composition(self) -> np.ndarray:
        """Mean residue composition of the core model's emissions (HMMER's ``COMPO``):
        match and insert emissions weighted by the expected number of visits to each
        state in one pass through the model."""
        t, match, insert = self.transitions, self.match, self.insert
        M = self.M
        mocc = np.zeros(M + 1)  # probability of passing through match state k
        mocc[1] = t[0, MI] + t[0, MM]
        for k in range(2, M + 1):
            mocc[k] = (
                mocc[k - 1] * (t[k - 1, MM] + t[k - 1, MI]) + (1.0 - mocc[k - 1]) * t[k - 1, DM]
            )
        iocc = np.zeros(M + 1)  # expected residues emitted by insert state k
        iocc[0] = t[0, MI] / t[0, IM]
        iocc[1:] = mocc[1:] * t[1:, MI] / t[1:, IM]
        compo = iocc[0] * insert[0] + mocc[1:] @ match[1:] + iocc[1:] @ insert[1:]
        out: np.ndarray = compo / compo.sum()
        return out

    def validate(self, *, atol: float = 1e-4) -> None:
        """Check shapes and that every distribution sums to one.

        Raises
        ------
        ParameterError
        """
        M, K = self.M, self.alphabet.K
        if M < 1:
            raise ParameterError("a profile HMM needs at least one node")
        for name, arr, shape in (
            ("match", self.match, (M + 1, K)),
            ("insert", self.insert, (M + 1, K)),
            ("transitions", self.transitions, (M + 1, 7)),
        ):
            if arr.shape != shape:
                raise ParameterError(f"{name} must have shape {shape}, got {arr.shape}")
            if not np.all(np.isfinite(arr)) or np.any(arr < 0):
                raise ParameterError(f"{name} must hold finite non-negative probabilities")
        t = self.transitions
        checks = [  # (what, sums, number of the first node checked)
            ("match emissions", self.match[1:].sum(axis=1), 1),
            ("insert emissions", self.insert.sum(axis=1), 0),
            ("M transitions", t[:, :3].sum(axis=1), 0),
            ("I transitions", t[:, 3:5].sum(axis=1), 0),
            ("D transitions", t[1:, 5:7].sum(axis=1), 1),
        ]
        for what, sums, first in checks:
            bad = np.flatnonzero(np.abs(sums - 1.0) > atol)
            if bad.size:
                raise ParameterError(
                    f"{what} of node {int(bad[0]) + first} sum to {sums[bad[0]]:.6f}, not 1"
                )
        if t[M, MD] != 0 or t[M, DD] != 0:
            raise ParameterError("node M cannot move to a delete state (MD and DD must be 0)")
