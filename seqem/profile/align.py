"""Align sequences to a profile HMM and write the alignment.

Each sequence is aligned on its own to the model configured glocal and
unihit (the whole model, one copy per sequence, flanking residues allowed
at either end), by maximum expected accuracy (the path through the model
with the largest sum of posterior probabilities of its residues; default)
or by Viterbi (the single most probable path).  The alignments combine into
one multiple alignment: one column per match state, residues assigned to
insert states (and flanks) in lower case between them.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import ParameterError
from .domains import decode, optimal_accuracy_trace, viterbi_trace
from .model import ProfileHMM
from .search import configure

__all__ = ["ProfileAlignment", "align", "sum_of_pairs"]


@dataclasses.dataclass(frozen=True)
class ProfileAlignment:
    """Sequences aligned to a model.

    Attributes
    ----------
    names : tuple of str
    match : int array, shape (n_seq, M)
        1-based position of the residue in each match state, 0 for a deletion.
    inserts : tuple of tuple of str
        ``inserts[s][k]``: residues of sequence ``s`` inserted after node k
        (k = 0 before the first node, k = M after the last; flanks included).
    rows_text : tuple of str
        Each sequence's residues as text (for writing).
    M : int
    """

    names: tuple[str, ...]
    match: np.ndarray
    inserts: tuple[tuple[str, ...], ...]
    rows_text: tuple[str, ...]
    M: int

    def columns(self) -> tuple[list[str], str]:
        """Aligned rows (Stockholm/A2M padding) and the RF line (x = match, . = insert)."""
        widths = [max(len(ins[k]) for ins in self.inserts) for k in range(self.M + 1)]
        rows = []
        for s, text in enumerate(self.rows_text):
            parts = []
            for k in range(self.M + 1):
                ins = self.inserts[s][k].lower()
                parts.append(ins + "." * (widths[k] - len(ins)))
                if k < self.M:
                    pos = int(self.match[s, k])
                    parts.append(text[pos - 1].upper() if pos > 0 else "-")
            rows.append("".join(parts))
        rf = []
        for k in range(self.M + 1):
            rf.append("." * widths[k])
            if k < self.M:
                rf.append("x")
        return rows, "".join(rf)

    def stockholm(self) -> str:
        """The alignment as Stockholm text with an RF line."""
        rows, rf = self.columns()
        width = max(len(n) for n in (*self.names, "#=GC RF")) + 1
        lines = ["# STOCKHOLM 1.0", ""]
        lines += [f"{n:<{width}}{r}" for n, r in zip(self.names, rows, strict=True)]
        lines += [f"{'#=GC RF':<{width}}{rf}", "//", ""]
        return "\n".join(lines)

    def a2m(self) -> str:
        """The alignment as A2M: match columns upper case or '-', inserts lower case."""
        out = []
        for s, name in enumerate(self.names):
            text = self.rows_text[s]
            parts = []
            for k in range(self.M + 1):
                parts.append(self.inserts[s][k].lower())
                if k < self.M:
                    pos = int(self.match[s, k])
                    parts.append(text[pos - 1].upper() if pos > 0 else "-")
            seq = "".join(parts)
            out.append(f">{name}")
            out += [seq[i : i + 60] for i in range(0, len(seq), 60)] or [""]
        return "\n".join(out) + "\n"


def align(
    hmm: ProfileHMM,
    codes: np.ndarray,
    bounds: np.ndarray,
    names: tuple[str, ...] | list[str],
    *,
    method: str = "mea",
) -> ProfileAlignment:
    """Align every sequence to ``hmm``.

    Parameters
    ----------
    hmm : ProfileHMM
    codes : uint8 array, shape (T,)
        Residue codes of all sequences, concatenated.
    bounds : int64 array, shape (n_seq + 1,)
    names : sequence of str
    method : {"mea", "viterbi"}
        Maximum expected accuracy (posterior) or Viterbi alignment.
    """
    if method not in ("mea", "viterbi"):
        raise ParameterError(f"method must be 'mea' or 'viterbi', got {method!r}")
    profile = configure(hmm, mode="glocal", multihit=False)
    letters, _ = hmm.alphabet.degenerate_matrix()
    M = hmm.M
    n = len(bounds) - 1
    match = np.zeros((n, M), dtype=np.int64)
    inserts: list[tuple[str, ...]] = []
    texts: list[str] = []
    for s in range(n):
        dsq = np.ascontiguousarray(codes[bounds[s] : bounds[s + 1]], dtype=np.uint8)
        text = "".join(letters[c] for c in dsq)
        texts.append(text)
        if method == "mea":
            trace = optimal_accuracy_trace(profile, decode(profile, dsq))
        else:
            trace = viterbi_trace(profile, dsq)
        ins: list[list[str]] = [[] for _ in range(M + 1)]
        last_node = 0
        for state, node, pos in zip(trace.states, trace.nodes, trace.positions, strict=True):
            if pos <= 0:
                if state == "M" or state == "D":
                    last_node = int(node)
                continue
            if state == "M":
                match[s, int(node) - 1] = int(pos)
                last_node = int(node)
            elif state == "I":
                ins[int(node)].append(text[pos - 1])
            elif state == "N":
                ins[0].append(text[pos - 1])
            else:  # C (or J, unused in unihit)
                ins[M if state == "C" else last_node].append(text[pos - 1])
        inserts.append(tuple("".join(x) for x in ins))
    return ProfileAlignment(tuple(names), match, tuple(inserts), tuple(texts), M)


def sum_of_pairs(predicted: np.ndarray, reference: np.ndarray) -> tuple[int, int, int]:
    """Residue pairs aligned alike in two alignments of the same sequences.

    Parameters
    ----------
    predicted, reference : int arrays, shape (n_seq, L_max)
        Column (or match state) of each residue of each sequence, -1 where a
        residue is not in any scored column; rows padded with -2.

    Returns
    -------
    ref_pairs, predicted_pairs, correct_pairs : int
        Pairs of residues of two sequences in the same reference column, in
        the same predicted column, and in both.
    """
    n = predicted.shape[0]
    ref_pairs = pred_pairs = correct = 0
    for a in range(n):
        for b in range(a + 1, n):
            partner_ref = _partners(reference[a], reference[b])
            partner_pred = _partners(predicted[a], predicted[b])
            ref_pairs += int(np.sum(partner_ref >= 0))
            pred_pairs += int(np.sum(partner_pred >= 0))
            correct += int(np.sum((partner_ref >= 0) & (partner_ref == partner_pred)))
    return ref_pairs, pred_pairs, correct


def _partners(col_a: np.ndarray, col_b: np.ndarray) -> np.ndarray:
    """For each residue of a: the residue of b in the same column, or -1."""
    lookup = {int(c): i for i, c in enumerate(col_b) if c >= 0}
    return np.array([lookup.get(int(c), -1) if c >= 0 else -1 for c in col_a], dtype=np.int64)
