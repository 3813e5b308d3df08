"""Profile HMMs of single sequences, from a substitution score matrix.

A query sequence becomes a profile HMM of one node per residue, as phmmer
and jackhmmer's first round make theirs: the score matrix ``s`` (BLOSUM62
by default) is read as log-odds of residue pairs, ``s(a, b) = log(p_ab /
(f_a f_b)) / lambda``, with ``f`` the null model's residue frequencies and
``lambda`` the positive root of ``sum_ab f_a f_b exp(lambda s(a, b)) = 1``.
The implied joint probabilities ``p_ab = f_a f_b exp(lambda s(a, b))``
give node ``k``'s match emissions: the row of the query residue ``a_k``,
normalised (``P(b | a_k)``); a degenerate query residue (``X``, ``B`` ...)
takes the sum of the rows of the residues it stands for, normalised.
Insert states emit the background; gaps open with probability ``popen``
(into an insert or a delete state) and extend with ``pextend``.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy as np

from ..errors import InputFormatError, ParameterError
from .model import AMINO, DD, DM, II, IM, MD, MI, MM, Alphabet, ProfileHMM

__all__ = ["ScoreSystem", "score_system", "single_sequence_model", "MATRICES"]

#: The score matrices a name selects (those of phmmer's --mx that come with Biopython).
MATRICES = ("BLOSUM45", "BLOSUM50", "BLOSUM62", "BLOSUM80", "BLOSUM90",
            "PAM30", "PAM70", "PAM250")  # fmt: skip

#: phmmer's and jackhmmer's gap open and extend probabilities for protein.
POPEN = 0.02
PEXTEND = 0.4


@dataclasses.dataclass(frozen=True)
class ScoreSystem:
    """A score matrix read as probabilities.

    Attributes
    ----------
    name : str
        The matrix's name (or its file's).
    scores : float64 array, shape (K, K)
        Scores of the canonical residues, in the alphabet's order.
    lam : float
        The scale: ``sum_ab f_a f_b exp(lam * scores[a, b]) = 1``.
    joint : float64 array, shape (K, K)
        ``f_a f_b exp(lam * scores[a, b])``.
    emissions : float64 array, shape (n_codes, K)
        For every residue code of the alphabet (canonical, then degenerate), the
        match emissions of a node made from that residue.
    popen, pextend : float
        Gap open and extend probabilities.
    """

    name: str
    alphabet: Alphabet
    scores: np.ndarray
    lam: float
    joint: np.ndarray
    emissions: np.ndarray
    popen: float = POPEN
    pextend: float = PEXTEND


def _matrix(matrix: str | os.PathLike[str], alphabet: Alphabet) -> tuple[str, np.ndarray]:
    """The scores of ``alphabet``'s canonical residues from a named matrix or a file in
    NCBI's format."""
    from Bio.Align import substitution_matrices

    text = os.fspath(matrix)
    if text.upper() in MATRICES:
        name = text.upper()
        table = substitution_matrices.load(name)
    else:
        name = os.path.basename(text)
        try:
            table = substitution_matrices.read(text)
        except FileNotFoundError:
            raise InputFormatError(
                f"no such score matrix file (the named matrices are {', '.join(MATRICES)})",
                path=text,
            ) from None
        except (ValueError, IndexError, KeyError, TypeError, AssertionError) as err:
            raise InputFormatError(
                f"not a score matrix in NCBI's format: {err}", path=text
            ) from None
    letters = "".join(str(a) for a in table.alphabet).upper()
    missing = [a for a in alphabet.symbols if a not in letters]
    if missing:
        raise InputFormatError(
            f"score matrix {name} has no scores for residue(s) {''.join(missing)}",
            path=None if name in MATRICES else text,
        )
    index = [letters.index(a) for a in alphabet.symbols]
    scores = np.asarray(table, dtype=np.float64)[np.ix_(index, index)]
    if not np.all(np.isfinite(scores)):
        raise InputFormatError(f"score matrix {name} has scores that are not numbers")
    return name, scores


def _scale(scores: np.ndarray, f: np.ndarray) -> float:
    """The positive root of ``f' exp(lam * scores) f = 1``, by bisection (the function
    is convex, negative between 0 and the root and positive beyond)."""

    def excess(lam: float) -> float:
        return float(f @ np.exp(lam * scores) @ f) - 1.0

    if not float(f @ scores @ f) < 0.0 or not np.any(scores > 0):
        raise ParameterError(
            "a score matrix needs a negative expected score and some positive scores "
            "to be read as log-odds"
        )
    lo, hi = 0.0, 1.0
    while excess(hi) <= 0.0:
        lo, hi = hi, 2.0 * hi
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if excess(mid) > 0.0:
            hi = mid
        else:
            lo = mid
    return hi


def score_system(
    matrix: str | os.PathLike[str] = "BLOSUM62",
    alphabet: Alphabet = AMINO,
    *,
    popen: float = POPEN,
    pextend: float = PEXTEND,
) -> ScoreSystem:
    """A score matrix (a name in :data:`MATRICES` or an NCBI-format file) read as
    probabilities under ``alphabet``'s background.

    Raises
    ------
    InputFormatError
        The file is missing, unreadable or lacks residues of the alphabet.
    ParameterError
        ``popen`` not in (0, 0.5), ``pextend`` not in [0, 1), or scores that are
        not log-odds (no negative expectation).
    """
    if not 0.0 < popen < 0.5:
        raise ParameterError(f"the gap open probability must be in (0, 0.5), got {popen}")
    if not 0.0 <= pextend < 1.0:
        raise ParameterError(f"the gap extend probability must be in [0, 1), got {pextend}")
    name, scores = _matrix(matrix, alphabet)
    f = np.asarray(alphabet.background, dtype=np.float64)
    lam = _scale(scores, f)
    joint = np.outer(f, f) * np.exp(lam * scores)
    _, stands_for = alphabet.degenerate_matrix()
    rows = stands_for @ joint  # a degenerate code: the rows of what it stands for, summed
    emissions = rows / rows.sum(axis=1, keepdims=True)
    return ScoreSystem(name, alphabet, scores, lam, joint, emissions, popen, pextend)


def single_sequence_model(
    codes: np.ndarray,
    system: ScoreSystem,
    *,
    name: str = "query",
    description: str | None = None,
    text: str | None = None,
) -> ProfileHMM:
    """The profile HMM of one sequence (phmmer's model of a query).

    Parameters
    ----------
    codes : uint8 array
        The sequence's residue codes in ``system.alphabet`` (degenerate codes
        allowed).
    system : ScoreSystem
        From :func:`score_system`.
    name, description : str
        The model's NAME and DESC (the sequence's).
    text : str, optional
        The sequence as letters, for the consensus line (default: from the codes).

    Returns
    -------
    ProfileHMM
        Not calibrated (:func:`~seqem.profile.calibrate.calibrate` adds the STATS).
    """
    codes = np.asarray(codes, dtype=np.uint8)
    M = int(codes.size)
    if M == 0:
        raise InputFormatError(f"sequence '{name}' is empty: no model can be made from it")
    alphabet = system.alphabet
    letters, _ = alphabet.degenerate_matrix()
    if int(codes.max()) >= len(letters):
        raise InputFormatError(f"sequence '{name}' has residue codes outside its alphabet")
    K = alphabet.K
    match = np.zeros((M + 1, K))
    match[1:] = system.emissions[codes]
    insert = np.tile(np.asarray(alphabet.background, dtype=np.float64), (M + 1, 1))
    popen, pextend = system.popen, system.pextend
    t = np.zeros((M + 1, 7))
    t[:, MM], t[:, MI], t[:, MD] = 1.0 - 2.0 * popen, popen, popen
    t[:, IM], t[:, II] = 1.0 - pextend, pextend
    t[:, DM], t[:, DD] = 1.0 - pextend, pextend
    t[M, MM], t[M, MD], t[M, DM], t[M, DD] = 1.0 - popen, 0.0, 1.0, 0.0
    hmm = ProfileHMM(alphabet, match, insert, t, name=name, description=description or None,
                     nseq=1)  # fmt: skip
    # the consensus is the sequence, in upper case where the residue is canonical and
    # the node's most likely residue has probability >= 0.5 (hmmbuild's threshold for
    # protein), as phmmer writes it
    seq = text if text is not None else "".join(letters[c] for c in codes)
    threshold = 0.5 if alphabet.name == "amino" else 0.9
    upper = (match[1:].max(axis=1) >= threshold) & (codes < K)
    hmm.consensus = "".join(
        ch.upper() if up else ch.lower() for ch, up in zip(seq, upper, strict=True)
    )
    hmm.compo = hmm.mean_composition()
    hmm.meta["COM"] = ["[1] [HMM created from a query sequence]"]
    return hmm


def models_of_sequences(seqs: Any, system: ScoreSystem) -> list[ProfileHMM]:
    """One :func:`single_sequence_model` per sequence of a
    :class:`~seqem.io.sequences.DigitalSequences`."""
    out = []
    for i in range(seqs.n_sequences):
        codes = seqs.codes[seqs.bounds[i] : seqs.bounds[i + 1]]
        out.append(
            single_sequence_model(
                codes, system, name=seqs.names[i], description=seqs.descriptions[i]
            )
        )
    return out
