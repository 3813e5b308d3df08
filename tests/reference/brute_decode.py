"""Brute-force posteriors and best paths on the profile search topology.

Every path from S to T is listed with its odds probability (no memoisation,
no scaling); posteriors are probability-weighted counts over that list, the
Viterbi path is its most probable member and the optimal-accuracy path the
member with the largest sum of posteriors of its emitted residues.
Exponential: models of 1-3 nodes and sequences of up to 4-5 residues only.

A path is a tuple of steps ``(state, node, residue)`` written like the
kernels' traces: states ``S N B M I D E C J T``, the node for M/I/D (else 0),
the 1-based residue emitted (0 for steps that emit nothing).
"""

from __future__ import annotations

import numpy as np

from seqem.profile import _kernels as K
from seqem.profile.model import DD, DM, II, IM, MD, MI, MM


def all_paths(profile, x, xt):
    """List of ``(probability, path)`` for every path with non-zero probability."""
    M = profile.M
    L = len(x)
    tr, msc, isc = profile.tr, profile.msc, profile.isc
    bm, me, de = profile.bm, profile.me, profile.de
    out = []

    def go(state, k, i, emitted, p, path):
        # ``i`` residues emitted so far; ``emitted``: this step emits residue i
        if p == 0.0:
            return
        path = path + ((state, k, i if emitted else 0),)
        moves = []  # (probability, state, node, emits next residue)
        if state in ("S",):
            moves.append((1.0, "N", 0, False))
        elif state == "N":
            moves.append((xt[K.N_LOOP], "N", 0, True))
            moves.append((xt[K.N_MOVE], "B", 0, False))
        elif state == "B":
            moves += [(bm[j], "M", j, True) for j in range(1, M + 1)]
        elif state == "E":
            moves.append((xt[K.E_C], "C", 0, False))
            moves.append((xt[K.E_J], "J", 0, False))
        elif state == "C":
            moves.append((xt[K.C_LOOP], "C", 0, True))
            if i == L:
                out.append((p * xt[K.C_MOVE], path + (("T", 0, 0),)))
        elif state == "J":
            moves.append((xt[K.J_LOOP], "J", 0, True))
            moves.append((xt[K.J_MOVE], "B", 0, False))
        elif state == "M":
            if k < M:
                moves += [(tr[MM, k], "M", k + 1, True), (tr[MI, k], "I", k, True)]
                moves.append((tr[MD, k], "D", k + 1, False))
            moves.append((me[k], "E", 0, False))
        elif state == "I":
            moves += [(tr[IM, k], "M", k + 1, True), (tr[II, k], "I", k, True)]
        elif state == "D":
            if k < M:
                moves += [(tr[DM, k], "M", k + 1, True), (tr[DD, k], "D", k + 1, False)]
            moves.append((de[k], "E", 0, False))
        for t, nxt, j, emits in moves:
            if t == 0.0:
                continue
            if emits:
                if i >= L:
                    continue
                if nxt == "M":
                    e = msc[x[i], j]
                elif nxt == "I":
                    e = isc[x[i], j]
                else:
                    e = 1.0
                go(nxt, j, i + 1, True, p * t * e, path)
            else:
                go(nxt, j, i, False, p * t, path)

    go("S", 0, 0, False, 1.0, ())
    return out


def posteriors(profile, x, xt):
    """Posterior arrays laid out like the kernel's, from the list of paths.

    Returns
    -------
    total : float
        Sum of path probabilities.
    pM, pI : (L + 1, M + 1)
    pX : (L + 1, 5), columns N, C, J (emission) and B, E (visits per row)
    """
    L, M = len(x), profile.M
    pM = np.zeros((L + 1, M + 1))
    pI = np.zeros((L + 1, M + 1))
    pX = np.zeros((L + 1, 5))
    col = {"N": 0, "C": 1, "J": 2}
    paths = all_paths(profile, x, xt)
    total = sum(p for p, _ in paths)
    for p, path in paths:
        row = 0
        for state, k, i in path:
            if i > 0:
                row = i
                if state == "M":
                    pM[i, k] += p
                elif state == "I":
                    pI[i, k] += p
                else:
                    pX[i, col[state]] += p
            elif state == "B":
                pX[row, 3] += p
            elif state == "E":
                pX[row, 4] += p
    return total, pM / total, pI / total, pX / total


def best_paths(profile, x, xt):
    """The most probable path and the optimal-accuracy path.

    Returns
    -------
    (viterbi_probability, viterbi_path), (oa_score, oa_path)
    """
    paths = all_paths(profile, x, xt)
    _, pM, pI, pX = posteriors(profile, x, xt)
    col = {"N": 0, "C": 1, "J": 2}

    def accuracy(path):
        s = 0.0
        for state, k, i in path:
            if i > 0:
                if state == "M":
                    s += pM[i, k]
                elif state == "I":
                    s += pI[i, k]
                else:
                    s += pX[i, col[state]]
        return s

    vit = max(paths, key=lambda item: item[0])
    oa = max(((accuracy(path), path) for _, path in paths), key=lambda item: item[0])
    return vit, oa
