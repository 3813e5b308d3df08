"""Build a profile HMM from a multiple alignment, the way ``hmmbuild`` does.

The steps, each a function of its own, follow HMMER 3.3.2's defaults:

1. :func:`pb_weights`: Henikoff position-based sequence weights, normalised
   to sum to the number of sequences, computed over the columns of
   :func:`weighting_columns` (gap fraction below :data:`PB_SYMFRAC`, whatever
   the ``symfrac`` of the consensus columns, unweighted, ignoring the end gaps
   of rows that span fewer than ``ceil(fragthresh * alen)`` columns) or over
   the RF columns with ``use_rf``.
2. :func:`mark_fragments`: a row with at most ``fragthresh`` x alen residues
   is a fragment; its leading and trailing gaps become missing data (they
   say nothing about deletions).
3. :func:`match_columns`: consensus columns are those whose weighted residue
   fraction (missing data not counted) is at least ``symfrac``, or the
   columns marked in the ``#=GC RF`` line.
4. :func:`count_alignment`: each row is read as a path through the model
   (residue in a match column = M, gap = D, residue elsewhere = I, missing =
   X), the Plan7-forbidden D->I and I->D steps are merged into one M (left to
   right, as HMMER does), and weighted emissions and transitions are counted.
   A fragment's counts start and stop at its first and last match state.
5. :func:`entropy_weight`: the counts are scaled by ``effn / nseq`` where
   ``effn`` is found by bisection so that the mean relative entropy of the
   match emissions reaches the target: the larger of ``ere`` (0.59 bits for
   protein, 0.62 for nucleic acids) and ``(esigma - log2(2 / (M (M + 1)))) / M``.
6. :func:`estimate`: mean posterior estimates under the Dirichlet priors of
   :mod:`seqem.profile.priors`.

>>> import os, tempfile
>>> from seqem.io.msa import read_msa
>>> path = os.path.join(tempfile.mkdtemp(), "tiny.afa")
>>> with open(path, "w") as fh:
...     _ = fh.write(">a\\nACGT-A\\n>b\\nACGTTA\\n>c\\nAC-T-A\\n")
>>> hmm = build_from_msa(read_msa(path), name="tiny")
>>> hmm.M, hmm.consensus, hmm.map.tolist()
(5, 'acgta', [1, 2, 3, 4, 6])
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from ..errors import InputFormatError, ParameterError
from ..io.msa import GAP, MISSING, MSA
from .model import DD, DM, II, IM, MD, MI, MM, Alphabet, ProfileHMM
from .priors import ProfilePrior, default_prior, laplace_prior

__all__ = [
    "build_from_msa",
    "pb_weights",
    "weighting_columns",
    "blosum_weights",
    "identity_clusters",
    "mark_fragments",
    "match_columns",
    "count_alignment",
    "entropy_weight",
    "estimate",
    "mean_match_relative_entropy",
    "relative_entropy_target",
    "ETARGET_AMINO",
    "ETARGET_NUCLEIC",
]

#: Default minimum mean relative entropy per match state (bits), protein.
ETARGET_AMINO = 0.59
#: Default minimum mean relative entropy per match state (bits), DNA/RNA (HMMER 3.3.2).
ETARGET_NUCLEIC = 0.62
#: Bisection stops when the bracket on effn is narrower than this (as hmmbuild).
_EFFN_TOLERANCE = 0.01

# trace state codes
_NONE, _M, _I, _D, _X, _B, _E = range(7)


def _residue_matrix(alphabet: Alphabet) -> np.ndarray:
    """(256, K) float64: the count each byte code adds; degenerate codes split evenly."""
    _, mat = alphabet.degenerate_matrix()
    out = np.zeros((256, alphabet.K))
    out[: mat.shape[0]] = mat / mat.sum(axis=1, keepdims=True)
    return out


def _n_codes(alphabet: Alphabet) -> int:
    return len(alphabet.degenerate_matrix()[0])


#: Gap fraction below which a column counts for the position-based weights: fixed,
#: as in hmmbuild, whose ``--symfrac`` sets the consensus columns only (with
#: ``--symfrac 0.3 .. 0.9`` its models of the tutorial's fn3 and Pkinase
#: alignments are this module's only so).
PB_SYMFRAC = 0.5


def weighting_columns(
    codes: np.ndarray, alphabet: Alphabet, *, symfrac: float = 0.5, fragthresh: float = 0.5
) -> np.ndarray:
    """Columns the position-based weights look at (HMMER 3.3's rule, unweighted).

    A row whose residues span fewer than ``ceil(fragthresh * alen)`` columns
    is a fragment and its external gaps are not counted; a column is used
    when its gap fraction among residues plus gaps is below ``symfrac``.
    When no column qualifies, all are used.

    Parameters
    ----------
    codes : uint8 array, shape (nseq, alen)
    alphabet : Alphabet
    symfrac, fragthresh : float

    Returns
    -------
    bool array, shape (alen,)
    """
    nseq, alen = codes.shape
    res = codes < _n_codes(alphabet)
    gap = codes == GAP
    first, last, has = _span(res)
    frag = has & ((last - first + 1) < math.ceil(fragthresh * alen))
    col = np.arange(alen)
    inside = ~frag[:, None] | ((col >= first[:, None]) & (col <= last[:, None]))
    n_res = (res & inside).sum(axis=0)
    n_gap = (gap & inside).sum(axis=0)
    total = n_res + n_gap
    with np.errstate(divide="ignore", invalid="ignore"):
        out: np.ndarray = (total > 0) & (n_gap / np.maximum(total, 1) < symfrac)
    if not out.any():
        out = np.ones(alen, dtype=bool)
    return out


def _span(res: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First and last residue column of each row, and whether it has residues."""
    alen = res.shape[1]
    has: np.ndarray = np.asarray(res.any(axis=1))
    first = np.argmax(res, axis=1)
    last = alen - 1 - np.argmax(res[:, ::-1], axis=1)
    return first, last, has


def pb_weights(
    codes: np.ndarray, alphabet: Alphabet, columns: np.ndarray | None = None
) -> np.ndarray:
    """Henikoff & Henikoff (1994) position-based sequence weights.

    In each weighting column with r different canonical residues, a sequence
    whose residue occurs s times there gets 1 / (r s); a sequence's sum is
    divided by its number of canonical residues in those columns, and the
    weights are scaled to sum to nseq.  Degenerate residues and gaps are
    ignored.

    Parameters
    ----------
    codes : uint8 array, shape (nseq, alen)
        Residue codes as from :meth:`seqem.io.msa.MSA.codes`.
    alphabet : Alphabet
    columns : bool array of shape (alen,), optional
        Columns to use (hmmbuild: :func:`weighting_columns`); all by default.

    Returns
    -------
    float64 array, shape (nseq,)

    Examples
    --------
    >>> from seqem.profile.model import DNA
    >>> pb_weights(np.array([[0, 0], [0, 1], [0, 1]], dtype=np.uint8), DNA).round(4).tolist()
    [1.25, 0.875, 0.875]
    """
    nseq = codes.shape[0]
    if nseq == 1:
        return np.ones(1)
    if columns is not None:
        codes = codes[:, columns]
    alen = codes.shape[1]
    K = alphabet.K
    canonical = codes < K
    col = np.broadcast_to(np.arange(alen), codes.shape)
    nres = np.zeros((alen, K), dtype=np.int64)
    np.add.at(nres, (col[canonical], codes[canonical]), 1)
    ntypes = (nres > 0).sum(axis=1)
    contrib = np.zeros(codes.shape)
    c = codes[canonical]
    cc = col[canonical]
    contrib[canonical] = 1.0 / (ntypes[cc] * nres[cc, c])
    rlen = canonical.sum(axis=1)
    w = np.divide(contrib.sum(axis=1), rlen, out=np.zeros(nseq), where=rlen > 0)
    total = w.sum()
    if total <= 0:
        return np.ones(nseq)
    out: np.ndarray = w * (nseq / total)
    return out


#: Identity at which single-linkage clustering links two sequences (hmmbuild's
#: ``--wid`` and ``--eid``).
CLUSTER_ID = 0.62


def identity_clusters(codes: np.ndarray, alphabet: Alphabet, maxid: float) -> np.ndarray:
    """Single-linkage clusters of the rows of an alignment by fractional identity.

    Two rows are linked when their identity (identical canonical residues in
    the same column, over the number of canonical residues of the shorter
    row) is at least ``maxid``; clusters are the connected groups.  Returns
    each row's cluster number (0, 1, ... in order of first appearance).
    """
    nseq = codes.shape[0]
    canonical = codes < alphabet.K
    lengths = canonical.sum(axis=1)
    parent = list(range(nseq))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(nseq - 1):
        same = (codes[i + 1 :] == codes[i]) & canonical[i + 1 :] & canonical[i]
        shorter = np.minimum(lengths[i + 1 :], lengths[i])
        ident = np.divide(same.sum(axis=1), shorter, out=np.zeros(shorter.size),
                          where=shorter > 0)  # fmt: skip
        for j in np.flatnonzero(ident >= maxid) + i + 1:
            a, b = root(i), root(int(j))
            if a != b:
                parent[max(a, b)] = min(a, b)
    roots = [root(i) for i in range(nseq)]
    number = {r: n for n, r in enumerate(dict.fromkeys(roots))}
    return np.array([number[r] for r in roots], dtype=np.int64)


def blosum_weights(codes: np.ndarray, alphabet: Alphabet, maxid: float = CLUSTER_ID) -> np.ndarray:
    """BLOSUM weights (Henikoff & Henikoff 1992): each row of a single-linkage
    cluster at identity ``maxid`` (:func:`identity_clusters`) gets one over the
    cluster's size; scaled to sum to nseq (hmmbuild's ``--wblosum``)."""
    cluster = identity_clusters(codes, alphabet, maxid)
    size = np.bincount(cluster)
    w = 1.0 / size[cluster]
    out: np.ndarray = w * (codes.shape[0] / w.sum())
    return out


def mark_fragments(codes: np.ndarray, alphabet: Alphabet, fragthresh: float) -> np.ndarray:
    """Turn the terminal gaps of fragments into missing data.

    A row is a fragment when its number of residues is at most
    ``fragthresh`` x alen (hmmbuild's rule).

    Parameters
    ----------
    codes : uint8 array, shape (nseq, alen)
    alphabet : Alphabet
    fragthresh : float
        In [0, 1]; 0 marks no fragments.

    Returns
    -------
    uint8 array, shape (nseq, alen)
        A copy with :data:`~seqem.io.msa.MISSING` outside each fragment's span.
    """
    out = codes.copy()
    nseq, alen = codes.shape
    res = codes < _n_codes(alphabet)
    first, last, has = _span(res)
    frag = has & (res.sum(axis=1) <= fragthresh * alen)
    col = np.arange(alen)
    outside = frag[:, None] & ((col < first[:, None]) | (col > last[:, None]))
    out[outside] = MISSING
    return out


def match_columns(
    codes: np.ndarray, weights: np.ndarray, alphabet: Alphabet, symfrac: float
) -> np.ndarray:
    """Consensus columns by weighted residue fraction.

    Parameters
    ----------
    codes : uint8 array, shape (nseq, alen)
        After :func:`mark_fragments` (missing data is left out of the fraction).
    weights : float64 array, shape (nseq,)
    alphabet : Alphabet
    symfrac : float
        A column is a match column when its residue weight is positive and at
        least ``symfrac`` of its residue-plus-gap weight.

    Returns
    -------
    bool array, shape (alen,)
    """
    res = codes < _n_codes(alphabet)
    gap = codes == GAP
    r = weights @ res
    total = r + weights @ gap
    ratio = np.divide(r, total, out=np.zeros_like(r), where=total > 0)
    out: np.ndarray = (r > 0) & (ratio >= symfrac)
    return out


def _traces(codes: np.ndarray, is_match: np.ndarray, n_codes: int) -> tuple[np.ndarray, ...]:
    """All rows' paths, concatenated: (state, node, residue code, row) per step.

    Each row is ``B, its states in column order, E``; D->I and I->D steps
    are merged into M as HMMER's trace doctor does.
    """
    nseq, alen = codes.shape
    res = codes < n_codes
    state = np.zeros(codes.shape, dtype=np.int8)
    state[res & is_match] = _M
    state[res & ~is_match] = _I
    state[(codes == GAP) & is_match] = _D
    state[codes == MISSING] = _X
    node = np.cumsum(is_match)
    full = np.zeros((nseq, alen + 2), dtype=np.int8)
    full[:, 0] = _B
    full[:, -1] = _E
    full[:, 1:-1] = state
    rows, cols = np.nonzero(full)
    st = full[rows, cols]
    inner = (cols > 0) & (cols <= alen)
    k = np.zeros(st.size, dtype=np.int64)
    k[inner] = node[cols[inner] - 1]
    k[st == _E] = node[-1]
    code = np.zeros(st.size, dtype=np.int64)
    code[inner] = codes[rows[inner], cols[inner] - 1]

    # trace doctor: merge each D->I or I->D pair into one M, greedily from the left
    a, b = st[:-1], st[1:]
    chatter = ((a == _D) & (b == _I)) | ((a == _I) & (b == _D))
    if chatter.any():
        pos = np.arange(chatter.size)
        starts = chatter & ~np.concatenate([[False], chatter[:-1]])
        run_start = np.maximum.accumulate(np.where(starts, pos, -1))
        sel = np.flatnonzero(chatter & ((pos - run_start) % 2 == 0))
        d_first = st[sel] == _D
        k[sel] = np.where(d_first, k[sel], k[sel + 1])
        code[sel] = np.where(d_first, code[sel + 1], code[sel])
        st[sel] = _M
        keep = np.ones(st.size, dtype=bool)
        keep[sel + 1] = False
        st, k, code, rows = st[keep], k[keep], code[keep], rows[keep]
    return st, k, code, rows


# transition column for (state, next state); -1: not counted / not possible
_TRANSITION = np.full((7, 7), -1, dtype=np.int64)
_TRANSITION[_B, [_M, _I, _D]] = [MM, MI, MD]
_TRANSITION[_M, [_M, _I, _D, _E]] = [MM, MI, MD, MM]
_TRANSITION[_I, [_M, _I, _E]] = [IM, II, IM]
_TRANSITION[_D, [_M, _D, _E]] = [DM, DD, DM]


def count_alignment(
    codes: np.ndarray, weights: np.ndarray, is_match: np.ndarray, alphabet: Alphabet
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted emission and transition counts of the rows' paths.

    Parameters
    ----------
    codes : uint8 array, shape (nseq, alen)
        After :func:`mark_fragments`.
    weights : float64 array, shape (nseq,)
    is_match : bool array, shape (alen,)
    alphabet : Alphabet

    Returns
    -------
    match : float64 array, shape (M + 1, K)
        Match emission counts (row 0 zeros).
    insert : float64 array, shape (M + 1, K)
        Insert emission counts (row 0 = I0).
    transitions : float64 array, shape (M + 1, 7)
        Transition counts in :data:`~seqem.profile.model.TRANSITIONS` order;
        node 0 holds B->M1, B->I0, B->D1, I0->M1, I0->I0.
    """
    M = int(is_match.sum())
    n_codes = _n_codes(alphabet)
    st, k, code, rows = _traces(codes, is_match, n_codes)
    n = st.size
    pos = np.arange(n)
    begin = np.flatnonzero(st == _B)
    end = np.flatnonzero(st == _E)
    row_of = np.cumsum(st == _B) - 1
    # fragments (B->X or X->E) are counted only from their first to their last M
    z1 = begin.copy()
    z2 = end.copy()
    m_pos = np.flatnonzero(st == _M)
    m_row = row_of[m_pos]
    first_m = np.full(begin.size, -1)
    last_m = np.full(begin.size, -1)
    if m_pos.size:
        uniq, first_idx = np.unique(m_row, return_index=True)
        first_m[uniq] = m_pos[first_idx]
        uniq_r, last_idx = np.unique(m_row[::-1], return_index=True)
        last_m[uniq_r] = m_pos[::-1][last_idx]
    left = (st[begin + 1] == _X) & (first_m >= 0)
    right = (st[end - 1] == _X) & (last_m >= 0)
    z1[left] = first_m[left]
    z2[right] = last_m[right]
    in_range = (pos >= z1[row_of]) & (pos < z2[row_of])
    w = weights[rows]

    resmat = _residue_matrix(alphabet)[:n_codes]
    emissions = []
    for kind in (_M, _I):
        sel = in_range & (st == kind)
        flat = np.bincount(k[sel] * n_codes + code[sel], w[sel], minlength=(M + 1) * n_codes)
        emissions.append(flat.reshape(M + 1, n_codes) @ resmat)

    trans = np.zeros((M + 1, 7))
    zs = pos[:-1][in_range[:-1]]
    zs = zs[(st[zs] != _X) & (st[zs + 1] != _X)]
    kind = _TRANSITION[st[zs], st[zs + 1]]
    node = np.where(st[zs] == _B, 0, k[zs])
    # B -> M_k with k > 1 stands for B -> D_1 ... D_k-1 -> M_k
    wing = (st[zs] == _B) & (st[zs + 1] == _M) & (k[zs + 1] > 1)
    for z in zs[wing]:
        trans[0, MD] += w[z]
        trans[1 : k[z + 1] - 1, DD] += w[z]
        trans[k[z + 1] - 1, DM] += w[z]
    ok = (kind >= 0) & ~wing
    np.add.at(trans, (node[ok], kind[ok]), w[zs[ok]])
    return emissions[0], emissions[1], trans


def estimate(
    match: np.ndarray, insert: np.ndarray, transitions: np.ndarray, prior: ProfilePrior
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean posterior parameters from counts.

    Parameters
    ----------
    match, insert : float64 arrays, shape (M + 1, K)
    transitions : float64 array, shape (M + 1, 7)
    prior : ProfilePrior

    Returns
    -------
    match, insert, transitions : float64 arrays
        Probabilities with the Plan7 conventions of
        :class:`~seqem.profile.model.ProfileHMM` (match row 0 zeros; node M
        has MD = DD = 0 and DM = 1; node 0 has DM = 1, DD = 0).
    """
    M = match.shape[0] - 1
    mat = np.zeros_like(match, dtype=np.float64)
    mat[1:] = prior.match.mean_posterior(match[1:])
    ins = prior.insert.mean_posterior(insert)
    t = np.zeros((M + 1, 7))
    t[:, :3] = prior.match_transitions.mean_posterior(transitions[:, :3])
    t[M, MD] = 0.0
    t[M, :3] /= t[M, :3].sum()
    t[:, 3:5] = prior.insert_transitions.mean_posterior(transitions[:, 3:5])
    if M > 1:
        t[1:M, 5:7] = prior.delete_transitions.mean_posterior(transitions[1:M, 5:7])
    t[[0, M], DM] = 1.0
    t[[0, M], DD] = 0.0
    return mat, ins, t


def mean_match_relative_entropy(match: np.ndarray, background: np.ndarray) -> float:
    """Mean relative entropy of the match emissions to the background, in bits.

    Parameters
    ----------
    match : float64 array, shape (M + 1, K)
        Row 0 is ignored.
    background : float64 array, shape (K,)
    """
    p = match[1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log2(p / background), 0.0)
    return float(terms.sum(axis=1).mean())


def relative_entropy_target(M: int, ere: float, esigma: float) -> float:
    """hmmbuild's entropy target: max(ere, (esigma - log2(2 / (M (M + 1)))) / M) bits."""
    return max(ere, (esigma - math.log2(2.0 / (M * (M + 1.0)))) / M)


def entropy_weight(
    counts: tuple[np.ndarray, np.ndarray, np.ndarray],
    nseq: float,
    prior: ProfilePrior,
    background: np.ndarray,
    target: float,
) -> float:
    """Effective sequence number that brings the mean match relative entropy to ``target``.

    If the unscaled counts already give no more than ``target``, ``nseq`` is
    returned; otherwise effn in (0, nseq) is found by bisection, stopping when
    the bracket is narrower than 0.01 and returning its last midpoint (as
    hmmbuild does, so the printed figures agree).

    Parameters
    ----------
    counts : (match, insert, transitions) count arrays from :func:`count_alignment`
    nseq : float
        The total weight of the counts (the number of sequences).
    prior : ProfilePrior
    background : float64 array, shape (K,)
    target : float
        Bits per match state.

    Returns
    -------
    float
    """
    match = counts[0]

    def excess(neff: float) -> float:
        mat = prior.match.mean_posterior(match[1:] * (neff / nseq))
        full = np.vstack([np.zeros((1, match.shape[1])), mat])
        return mean_match_relative_entropy(full, background) - target

    if excess(nseq) <= 0:
        return float(nseq)
    lo, hi = 0.0, float(nseq)
    f_lo = excess(lo)
    mid = hi
    for _ in range(200):
        mid = (lo + hi) / 2.0
        f_mid = excess(mid)
        if f_mid == 0.0 or (hi - lo) < _EFFN_TOLERANCE:
            break
        if (f_lo > 0) == (f_mid > 0):
            lo, f_lo = mid, f_mid
        else:
            hi = mid
    return mid


def build_from_msa(
    msa: MSA,
    *,
    symfrac: float = 0.5,
    use_rf: bool = False,
    fragthresh: float = 0.5,
    weighting: Literal["pb", "blosum", "none"] = "pb",
    effn: Literal["entropy", "clust", "none"] | float = "entropy",
    ere: float | None = None,
    esigma: float = 45.0,
    prior: Literal["default", "laplace"] | ProfilePrior = "default",
    name: str | None = None,
    wid: float = CLUSTER_ID,
    eid: float = CLUSTER_ID,
) -> ProfileHMM:
    """Build a profile HMM from an alignment with hmmbuild's default recipe.

    Parameters
    ----------
    msa : MSA
    symfrac : float, default 0.5
        Minimum weighted residue fraction of a consensus column.
    use_rf : bool, default False
        Take consensus columns from the ``#=GC RF`` line (non-gap characters;
        hmmbuild's ``--hand``) or, for A2M input, from its match columns.
    fragthresh : float, default 0.5
        Rows spanning at most this fraction of the columns are fragments.
    weighting : {"pb", "blosum", "none"}, default "pb"
        Henikoff position-based weights, BLOSUM weights (single-linkage
        clusters at identity ``wid``, :func:`blosum_weights`), or all weights 1.
    effn : {"entropy", "clust", "none"} or float, default "entropy"
        Entropy weighting, the number of single-linkage clusters at identity
        ``eid``, no scaling (effn = nseq), or a given effn.
    ere : float, optional
        Minimum mean relative entropy per match state in bits (default 0.59
        for protein, 0.62 for DNA/RNA).
    esigma : float, default 45.0
        Minimum total relative entropy of the model in bits (with the
        log2 of the number of local alignments, as hmmbuild).
    prior : {"default", "laplace"} or ProfilePrior
    name : str, optional
        Model name (default: the alignment's ``#=GF ID``, else ``"model"``).
    wid, eid : float, default :data:`CLUSTER_ID`
        Identity thresholds of the BLOSUM weights and of the cluster count.

    Returns
    -------
    ProfileHMM
        With ``consensus``, ``map`` (1-based column of each node), ``nseq``,
        ``effn``, ``compo``, ``rf`` (when the alignment has one), and
        ``meta["re_per_position"]``: the mean match relative entropy in bits
        (hmmbuild's ``re/pos``).

    Raises
    ------
    InputFormatError
        No consensus column, or ``use_rf`` without an RF line.
    ParameterError
        An option out of range.
    """
    alphabet = msa.alphabet
    if not 0.0 <= symfrac <= 1.0:
        raise ParameterError(f"symfrac must be in [0, 1], got {symfrac}")
    if not 0.0 <= fragthresh <= 1.0:
        raise ParameterError(f"fragthresh must be in [0, 1], got {fragthresh}")
    if isinstance(prior, str):
        if prior not in ("default", "laplace"):
            raise ParameterError(f"prior must be 'default', 'laplace' or a ProfilePrior: {prior!r}")
        prior = default_prior(alphabet) if prior == "default" else laplace_prior(alphabet)
    codes = msa.codes()
    nseq = msa.nseq
    rf_columns = None
    if use_rf:
        if msa.rf is not None:
            rf_columns = ~np.isin(np.frombuffer(msa.rf.encode("latin-1"), np.uint8), list(b".-_~"))
        elif msa.match_columns is not None:
            rf_columns = msa.match_columns.copy()
        else:
            raise InputFormatError(
                "use_rf needs a '#=GC RF' line or A2M match columns; this alignment has neither"
            )
    if weighting == "pb":
        if rf_columns is None:
            wcols = weighting_columns(codes, alphabet, symfrac=PB_SYMFRAC, fragthresh=fragthresh)
        else:
            wcols = rf_columns
        weights = pb_weights(codes, alphabet, wcols)
    elif weighting == "none":
        weights = np.ones(nseq)
    elif weighting == "blosum":
        weights = blosum_weights(codes, alphabet, wid)
    else:
        raise ParameterError(f"weighting must be 'pb', 'blosum' or 'none', got {weighting!r}")
    raw = codes
    codes = mark_fragments(codes, alphabet, fragthresh)
    if rf_columns is not None:
        is_match = rf_columns
    else:
        is_match = match_columns(codes, weights, alphabet, symfrac)
    M = int(is_match.sum())
    if M == 0 and rf_columns is not None:
        raise InputFormatError(
            "no consensus columns: with use_rf=True they come from the '#=GC RF' line (or "
            "the A2M rows), and it marks none"
        )
    if M == 0:
        raise InputFormatError(
            "no consensus columns: no column reaches the residue fraction "
            f"symfrac={symfrac}; lower symfrac or mark columns with an RF line (use_rf=True)"
        )
    counts = count_alignment(codes, weights, is_match, alphabet)
    background = np.asarray(alphabet.background)
    if effn == "entropy":
        if ere is None:
            ere = ETARGET_AMINO if alphabet.name == "amino" else ETARGET_NUCLEIC
        target = relative_entropy_target(M, ere, esigma)
        neff = entropy_weight(counts, float(nseq), prior, background, target)
    elif effn == "none":
        neff = float(nseq)
    elif effn == "clust":
        neff = float(identity_clusters(raw, alphabet, eid).max() + 1)
    elif isinstance(effn, (int, float)) and effn > 0:
        neff = float(effn)
    else:
        raise ParameterError(
            f"effn must be 'entropy', 'clust', 'none' or a positive number: {effn!r}"
        )
    scale = neff / nseq
    mat, ins, t = estimate(counts[0] * scale, counts[1] * scale, counts[2] * scale, prior)
    columns = np.flatnonzero(is_match) + 1
    rf = None
    if msa.rf is not None:
        rf = "".join(msa.rf[c - 1] for c in columns)
    hmm = ProfileHMM(
        alphabet=alphabet,
        match=mat,
        insert=ins,
        transitions=t,
        name=name or msa.name or "model",
        accession=msa.accession,
        description=msa.description or None,
        nseq=nseq,
        effn=neff,
        rf=rf,
        map=columns.astype(np.int64),
        meta={"re_per_position": mean_match_relative_entropy(mat, background)},
    )
    hmm.derive_annotation()
    return hmm
