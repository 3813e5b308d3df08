"""Brute-force scores on the profile search topology: every path enumerated.

A path starts in N and ends after C; the recursion below walks every path
once (no memoisation, no scaling), adding up (or maximising) the product of
its transition and odds-ratio emission probabilities.  Exponential: for
models of 2-3 nodes and sequences of up to 4-5 residues only.
"""

from __future__ import annotations

import math

import numpy as np

from seqem.profile import _kernels as K
from seqem.profile.model import DD, DM, II, IM, MD, MI, MM


def path_total(profile, x, xt, combine=sum):
    """Sum (or max, with ``combine=max``) over paths of the odds probability.

    Parameters
    ----------
    profile : SearchProfile
    x : sequence of residue codes
    xt : the 8 special transitions for this sequence
    """
    M = profile.M
    L = len(x)
    tr, msc, isc = profile.tr, profile.msc, profile.isc
    bm, me, de = profile.bm, profile.me, profile.de

    def emit_m(k, i):
        if i >= L or msc[x[i], k] == 0:
            return 0.0
        return msc[x[i], k] * state(("M", k), i + 1)

    def emit_i(k, i):
        if i >= L or isc[x[i], k] == 0:
            return 0.0
        return isc[x[i], k] * state(("I", k), i + 1)

    def state(s, i):
        terms = []
        if s == "N":
            if i < L:
                terms.append(xt[K.N_LOOP] * state("N", i + 1))
            terms.append(xt[K.N_MOVE] * state("B", i))
        elif s == "B":
            terms += [bm[k] * emit_m(k, i) for k in range(1, M + 1) if bm[k] > 0]
        elif s == "E":
            terms.append(xt[K.E_C] * state("C", i))
            if xt[K.E_J] > 0:
                terms.append(xt[K.E_J] * state("J", i))
        elif s == "C":
            if i < L:
                terms.append(xt[K.C_LOOP] * state("C", i + 1))
            if i == L:
                terms.append(xt[K.C_MOVE])
        elif s == "J":
            if i < L and xt[K.J_LOOP] > 0:
                terms.append(xt[K.J_LOOP] * state("J", i + 1))
            if xt[K.J_MOVE] > 0:
                terms.append(xt[K.J_MOVE] * state("B", i))
        else:
            kind, k = s
            if kind == "M":
                if k < M:
                    terms += [
                        tr[MM, k] * emit_m(k + 1, i),
                        tr[MI, k] * emit_i(k, i),
                        tr[MD, k] * state(("D", k + 1), i),
                    ]
                if me[k] > 0:
                    terms.append(me[k] * state("E", i))
            elif kind == "I":
                terms += [tr[IM, k] * emit_m(k + 1, i), tr[II, k] * emit_i(k, i)]
            else:  # D
                if k < M:
                    terms += [tr[DM, k] * emit_m(k + 1, i), tr[DD, k] * state(("D", k + 1), i)]
                if de[k] > 0:
                    terms.append(de[k] * state("E", i))
        return combine(terms) if terms else 0.0

    return state("N", 0)


def log_total(profile, x, xt, viterbi=False):
    value = path_total(profile, x, xt, combine=max if viterbi else sum)
    return math.log(value) if value > 0 else -np.inf
