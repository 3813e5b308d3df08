"""The glocal core profile model by path enumeration: likelihood and
expected counts.  For M <= 3 and sequences of up to 4 residues."""

from __future__ import annotations

import numpy as np

from seqem.profile.model import DD, DM, II, IM, MD, MI, MM


def enumerate_paths(match, insert, t, x):
    """Every path emitting ``x`` from B to E, as (probability, events).

    ``events`` lists ("T", kind, node) transitions and ("M"|"I", node, residue)
    emissions.  ``match``/``insert`` are (M + 1, K) probabilities, ``t`` the
    (M + 1, 7) core transitions.
    """
    M = match.shape[0] - 1
    L = len(x)
    out = []

    def go(state, k, i, p, events):
        # state in {"B", "M", "I", "D"} at node k, i residues emitted so far
        if p == 0.0:
            return
        node = 0 if state == "B" else k
        moves = []
        if state in ("B", "M"):
            moves = [(MM, "M", node + 1), (MI, "I", node), (MD, "D", node + 1)]
        elif state == "I":
            moves = [(IM, "M", node + 1), (II, "I", node)]
        elif state == "D":
            moves = [(DM, "M", node + 1), (DD, "D", node + 1)]
        for kind, nxt, kk in moves:
            q = t[node, kind]
            if q == 0.0:
                continue
            ev = [*events, ("T", kind, node)]
            if nxt == "M" and kk == M + 1:  # node M's "MM"/"IM"/"DM" is the exit
                if i == L:
                    out.append((p * q, ev))
                continue
            if nxt == "D" and kk > M:
                continue
            if nxt in ("M", "I"):
                if i == L:
                    continue
                em = match[kk, x[i]] if nxt == "M" else insert[kk, x[i]]
                go(nxt, kk, i + 1, p * q * em, [*ev, (nxt, kk, x[i])])
            else:
                go(nxt, kk, i, p * q, ev)

    go("B", 0, 0, 1.0, [])
    return out


def expected_counts(match, insert, t, x):
    paths = enumerate_paths(match, insert, t, x)
    total = sum(p for p, _ in paths)
    M1, K = match.shape
    cM = np.zeros((M1, K))
    cI = np.zeros((M1, K))
    cT = np.zeros((7, M1))
    for p, events in paths:
        w = p / total
        for ev in events:
            if ev[0] == "T":
                cT[ev[1], ev[2]] += w
            elif ev[0] == "M":
                cM[ev[1], ev[2]] += w
            else:
                cI[ev[1], ev[2]] += w
    return np.log(total), cM, cI, cT
