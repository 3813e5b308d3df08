"""Baum-Welch training of a profile HMM from unaligned sequences.

The model is the glocal Plan7 core model (every sequence runs from node 1 to
node M, with inserts and deletes); expected counts come from the scaled
forward-backward kernel :func:`seqem.profile._kernels.core_expected_counts`
and the fit runs through the shared EM engine (:func:`seqem.em.run_em`), so
restarts, the stopping rule, the monotonicity check and SQUAREM-free history
reporting are those of every other seqem model.

Priors
------
Each distribution (a node's match emissions, its insert emissions, its three
groups of transitions) has a Dirichlet-mixture prior (the defaults of
:mod:`seqem.profile.priors`, as hmmbuild uses).  Training maximises the
log-likelihood plus the log density of the mixture of ``Dirichlet(alpha_j +
1)`` components: the density whose single-component mode is hmmbuild's mean
posterior estimate ``(c + alpha) / (|c| + |alpha|)``.  The M-step is one
minorise-maximise step on the mixture (component weights from the current
probabilities, then the weighted mode), so the objective never falls.

Sequence weights
----------------
A family's training set is rarely an even sample: subfamilies with many
close members would otherwise outvote the divergent ones, which then get
aligned to the majority's register.  As hmmbuild weights the rows of an
alignment, training weights each sequence by Henikoff position-based
weights (:func:`alignment_weights`), computed from the alignment of the
training sequences to the current model (maximum expected accuracy, as
``seqem profile align`` makes it); the weights are recomputed from each
refined model until they settle (:func:`train`, ``reweight``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from scipy.special import gammaln, logsumexp

from .. import _jit
from ..em.engine import FitResult, run_em
from ..errors import InputFormatError, ParameterError
from ..hmm._kernels import sequence_chunks
from . import _kernels as K
from ._train_kernels import weighted_group_counts
from .model import DD, DM, II, IM, MD, MI, MM, ProfileHMM
from .priors import DirichletMixture, ProfilePrior, default_prior

__all__ = [
    "ProfileEM",
    "train",
    "check_model_length",
    "cross_fit",
    "surgery",
    "initial_model",
    "shifted_log_density",
    "mm_step",
    "alignment_weights",
]

Params = dict[str, np.ndarray]


def shifted_log_density(mix: DirichletMixture, p: np.ndarray) -> np.ndarray:
    """Log density of rows ``p`` under the mixture of Dirichlet(alpha_j + 1).

    Parameters
    ----------
    mix : DirichletMixture
        Components ``alpha`` (Q, K) and weights ``q`` (Q,).
    p : float64 array, shape (n, K)

    Returns
    -------
    float64 array, shape (n,)
    """
    alpha = np.asarray(mix.alpha, dtype=np.float64)
    q = np.asarray(mix.weights, dtype=np.float64)
    with np.errstate(divide="ignore"):
        logp = np.log(p)
    K_ = alpha.shape[1]
    # log normaliser of Dirichlet(alpha + 1)
    lognorm = gammaln(alpha.sum(axis=1) + K_) - gammaln(alpha + 1.0).sum(axis=1)
    with np.errstate(invalid="ignore"):
        terms = np.where(alpha[None, :, :] > 0, alpha[None, :, :] * logp[:, None, :], 0.0)
    comp = np.log(q)[None, :] + lognorm[None, :] + terms.sum(axis=2)
    return logsumexp(comp, axis=1)


def mm_step(mix: DirichletMixture, counts: np.ndarray, current: np.ndarray) -> np.ndarray:
    """One minorise-maximise step for ``counts . log p + log prior(p)``.

    Component responsibilities are computed at ``current``; the new rows are
    ``(c + sum_j r_j alpha_j)`` normalised.  Rows with nothing (no counts and
    no prior mass) keep ``current``.
    """
    alpha = np.asarray(mix.alpha, dtype=np.float64)
    q = np.asarray(mix.weights, dtype=np.float64)
    if alpha.shape[0] == 1:
        pseudo = np.broadcast_to(alpha[0], counts.shape)
    else:
        with np.errstate(divide="ignore"):
            logp = np.log(current)
        K_ = alpha.shape[1]
        lognorm = gammaln(alpha.sum(axis=1) + K_) - gammaln(alpha + 1.0).sum(axis=1)
        with np.errstate(invalid="ignore"):
            terms = np.where(alpha[None] > 0, alpha[None] * logp[:, None, :], 0.0)
        comp = np.log(q)[None, :] + lognorm[None, :] + terms.sum(axis=2)
        r = np.exp(comp - logsumexp(comp, axis=1, keepdims=True))
        pseudo = r @ alpha
    num = counts + pseudo
    sums = num.sum(axis=1, keepdims=True)
    return np.where(sums > 0, num / np.where(sums > 0, sums, 1.0), current)


class ProfileEM:
    """Baum-Welch for the glocal core model, as an EM-engine problem."""

    def __init__(
        self,
        dsq: np.ndarray,
        bounds: np.ndarray,
        start: ProfileHMM,
        prior: ProfilePrior,
        *,
        n_threads: int | None = None,
        noise: float = 0.0,
        weights: np.ndarray | None = None,
    ) -> None:
        self.dsq = np.ascontiguousarray(dsq, dtype=np.uint8)
        self.bounds = np.ascontiguousarray(bounds, dtype=np.int64)
        self.chunks = sequence_chunks(self.bounds)
        self.start = start
        self.prior = prior
        self.alphabet = start.alphabet
        _, members = self.alphabet.degenerate_matrix()
        self.members = np.ascontiguousarray(members)
        self.n_threads = n_threads
        self.noise = noise
        n = len(self.bounds) - 1
        self.weights = (
            np.ones(n) if weights is None else np.ascontiguousarray(weights, dtype=np.float64)
        )

    # -- EMProblem ---------------------------------------------------------

    def initial_params(self, rng: np.random.Generator) -> Params:
        p = {
            "match": self.start.match.copy(),
            "insert": self.start.insert.copy(),
            "transitions": self.start.transitions.copy(),
        }
        if self.noise > 0:
            # perturb match emissions: a Dirichlet draw around each row
            rows = p["match"][1:]
            conc = np.maximum(rows, 1e-3) / self.noise
            p["match"][1:] = np.array([rng.dirichlet(c) for c in conc])
        return p

    def e_step(self, params: Params) -> tuple[dict[str, np.ndarray], float]:
        emM = np.ascontiguousarray(self.members @ params["match"].T)
        emI = np.ascontiguousarray(self.members @ params["insert"].T)
        tr = np.ascontiguousarray(params["transitions"].T)
        with _jit.threads(self.n_threads):
            loglik, cM, cI, cT = K.core_expected_counts(
                self.dsq, self.bounds, self.chunks, emM, emI, self.members, tr, self.weights
            )
        self.last_loglik = loglik
        total = float(np.dot(self.weights, loglik)) if np.all(np.isfinite(loglik)) else -np.inf
        return {"match": cM, "insert": cI, "transitions": cT.T.copy()}, total

    def m_step(self, stats: dict[str, np.ndarray], params: Params) -> Params:
        prior = self.prior
        M = params["match"].shape[0] - 1
        match = params["match"].copy()
        match[1:] = mm_step(prior.match, stats["match"][1:], params["match"][1:])
        insert = mm_step(prior.insert, stats["insert"], params["insert"])
        t = params["transitions"].copy()
        ct = stats["transitions"]
        t[:M, 0:3] = mm_step(prior.match_transitions, ct[:M, 0:3], t[:M, 0:3])
        # node M: M_M -> E or I_M only
        exits = _sub(prior.match_transitions, [0, 1])
        t[M, 0:2] = mm_step(exits, ct[M, 0:2][None], t[M, 0:2][None])[0]
        t[M, MD] = 0.0
        t[:, 3:5] = mm_step(prior.insert_transitions, ct[:, 3:5], t[:, 3:5])
        if M > 1:
            t[1:M, 5:7] = mm_step(prior.delete_transitions, ct[1:M, 5:7], t[1:M, 5:7])
        t[[0, M], DM] = 1.0
        t[[0, M], DD] = 0.0
        return {"match": match, "insert": insert, "transitions": t}

    def to_vector(self, params: Params) -> np.ndarray:
        """Free parameters as one vector (for SQUAREM)."""
        return np.concatenate(
            [params["match"][1:].ravel(), params["insert"].ravel(), params["transitions"].ravel()]
        )

    def from_vector(self, vector: np.ndarray, like: Params) -> Params | None:
        """Parameters from a SQUAREM extrapolation, or None if a probability is negative."""
        M1, K_ = like["match"].shape
        n_m, n_i = (M1 - 1) * K_, M1 * K_
        if not np.all(np.isfinite(vector)) or np.any(vector < 0):
            return None
        match = np.zeros((M1, K_))
        match[1:] = vector[:n_m].reshape(M1 - 1, K_)
        insert = vector[n_m : n_m + n_i].reshape(M1, K_).copy()
        t = vector[n_m + n_i :].reshape(M1, 7).copy()
        M = M1 - 1
        match[1:] /= match[1:].sum(axis=1, keepdims=True)
        insert /= insert.sum(axis=1, keepdims=True)
        for lo, hi, rows in ((0, 3, slice(0, M + 1)), (3, 5, slice(0, M + 1)), (5, 7, slice(1, M))):
            block = t[rows, lo:hi]
            sums = block.sum(axis=1, keepdims=True)
            if np.any(sums <= 0):
                return None
            t[rows, lo:hi] = block / sums
        t[[0, M], DM] = 1.0
        t[[0, M], DD] = 0.0
        if not (np.all(np.isfinite(match)) and np.all(np.isfinite(insert))):
            return None
        return {"match": match, "insert": insert, "transitions": t}

    def log_prior(self, params: Params) -> float:
        prior = self.prior
        M = params["match"].shape[0] - 1
        t = params["transitions"]
        lp = shifted_log_density(prior.match, params["match"][1:]).sum()
        lp += shifted_log_density(prior.insert, params["insert"]).sum()
        lp += shifted_log_density(prior.match_transitions, t[:M, 0:3]).sum()
        lp += shifted_log_density(_sub(prior.match_transitions, [0, 1]), t[M, 0:2][None]).sum()
        lp += shifted_log_density(prior.insert_transitions, t[:, 3:5]).sum()
        if M > 1:
            lp += shifted_log_density(prior.delete_transitions, t[1:M, 5:7]).sum()
        return float(lp)


def _sub(mix: DirichletMixture, columns: list[int]) -> DirichletMixture:
    """The mixture restricted to some of its coordinates (for node M's exits)."""
    return DirichletMixture(np.asarray(mix.weights), np.asarray(mix.alpha)[:, columns])


def surgery(
    hmm: ProfileHMM,
    dsq: np.ndarray,
    bounds: np.ndarray,
    *,
    threshold: float = 0.5,
    n_threads: int | None = None,
    weights: np.ndarray | None = None,
) -> ProfileHMM | None:
    """Model surgery (Krogh et al. 1994): remove unused match states, add used inserts.

    From the expected counts of the training sequences under ``hmm``: a
    match state that fewer than ``threshold`` of the sequences pass through
    (the rest delete it) is removed; an insert state that more than
    ``threshold`` of the sequences enter becomes new match states, as many
    as its mean length, with match emissions from its expected residue
    counts.  Kept nodes keep their parameters; new nodes start from typical
    transitions.  The result needs refitting.  With ``weights`` (one per
    sequence) the fractions are weighted.

    Returns
    -------
    ProfileHMM or None
        The new model, or None when no node qualifies.
    """
    prior = default_prior(hmm.alphabet)
    problem = ProfileEM(dsq, bounds, hmm, prior, n_threads=n_threads, weights=weights)
    stats, _ = problem.e_step(
        {"match": hmm.match, "insert": hmm.insert, "transitions": hmm.transitions}
    )
    cM, cI, cT = stats["match"], stats["insert"], stats["transitions"]
    n = float(len(bounds) - 1) if weights is None else float(np.sum(weights))
    M = hmm.M
    used = cM[1:].sum(axis=1) / n
    remove = set((np.flatnonzero(used < threshold) + 1).tolist())
    entries = cT[:, MI]
    add = {
        int(k): max(1, int(round(cI[k].sum() / entries[k])))
        for k in np.flatnonzero(entries / n > threshold)
    }
    if not remove and not add:
        return None
    if len(remove) == M and not add:
        return None
    bg = np.asarray(hmm.alphabet.background)
    typical = np.array([0.9, 0.05, 0.05, 0.6, 0.4, 0.6, 0.4])
    nodes: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def added(k: int) -> None:
        emission = (cI[k] + bg) / (cI[k].sum() + 1.0)
        nodes.extend((emission, bg.copy(), typical.copy()) for _ in range(add.get(k, 0)))

    added(0)
    for k in range(1, M + 1):
        if k not in remove:
            nodes.append((hmm.match[k], hmm.insert[k], hmm.transitions[k]))
        added(k)
    new_M = len(nodes)
    K_ = hmm.alphabet.K
    match = np.zeros((new_M + 1, K_))
    insert = np.zeros((new_M + 1, K_))
    t = np.zeros((new_M + 1, 7))
    insert[0] = hmm.insert[0]
    t[0] = hmm.transitions[0]
    for i, (m, ins, tr) in enumerate(nodes, start=1):
        match[i], insert[i], t[i] = m, ins, tr
    # a former last node now inside the model has no delete transitions
    interior = np.arange(1, new_M)
    empty = interior[np.any(t[interior] <= 0.0, axis=1)]
    t[empty] = typical
    t[new_M, MM] += t[new_M, MD]
    t[new_M, MD] = 0.0
    t[new_M, :3] /= t[new_M, :3].sum()
    t[[0, new_M], DM] = 1.0
    t[[0, new_M], DD] = 0.0
    return ProfileHMM(hmm.alphabet, match, insert, t, name=hmm.name, nseq=hmm.nseq)


def initial_model(
    seed_codes: np.ndarray,
    alphabet: Any,
    *,
    M: int | None = None,
    weight: float = 0.5,
) -> ProfileHMM:
    """A starting model whose match states follow one training sequence.

    Each match state emits the seed's residue with probability ``weight``
    plus its share of the background; transitions start at typical values
    (M->M 0.9, I->I 0.4, D->D 0.4).

    Parameters
    ----------
    seed_codes : uint8 array
        The seed sequence (canonical residue codes; degenerate ones count as
        background).
    alphabet : Alphabet
    M : int, optional
        Model length; default the seed's length.  Longer seeds are
        subsampled evenly, shorter ones repeated.
    weight : float
        Weight of the seed residue in each match state.
    """
    K_ = alphabet.K
    bg = np.asarray(alphabet.background)
    L = len(seed_codes)
    M = L if M is None else int(M)
    if M < 1:
        raise ParameterError("model length must be >= 1")
    pick = np.minimum((np.arange(M) * L) // M, L - 1)
    match = np.zeros((M + 1, K_))
    for k, pos in enumerate(pick, start=1):
        x = int(seed_codes[pos])
        match[k] = (1.0 - weight) * bg
        if x < K_:
            match[k, x] += weight
        else:
            match[k] += weight * bg
    insert = np.tile(bg, (M + 1, 1))
    t = np.zeros((M + 1, 7))
    t[:, MM], t[:, MI], t[:, MD] = 0.9, 0.05, 0.05
    t[:, IM], t[:, II] = 0.6, 0.4
    t[:, DM], t[:, DD] = 0.6, 0.4
    t[M, MM], t[M, MI], t[M, MD] = 0.95, 0.05, 0.0
    t[[0, M], DM] = 1.0
    t[[0, M], DD] = 0.0
    return ProfileHMM(alphabet, match, insert, t, name="trained")


def check_model_length(
    dsq: np.ndarray,
    bounds: np.ndarray,
    alphabet: Any,
    M: int,
    *,
    n_threads: int | None = None,
    given: str = "model length",
) -> None:
    """Raise :class:`~seqem.errors.ParameterError` when ``M`` nodes are too many
    for the training sequences.

    The core model is glocal: every sequence runs through all ``M`` nodes,
    deleting the ones it does not fill.  A sequence far shorter than ``M``
    then has a likelihood below the smallest double (zero), and training
    cannot start from it; this finds such sequences with one pass of the
    starting model (:func:`initial_model`) over all of them.

    Parameters
    ----------
    dsq, bounds : arrays
        The training sequences (residue codes, concatenated) and their bounds.
    alphabet : Alphabet
    M : int
        Model length.
    given : str
        How the message names the model length (the command line says ``-M``).
    """
    bounds = np.asarray(bounds, dtype=np.int64)
    lengths = np.diff(bounds)
    if lengths.size == 0 or M <= int(lengths.min()):
        return  # no sequence needs to delete a node
    q = int(np.argmax(lengths))
    start = initial_model(dsq[bounds[q] : bounds[q + 1]], alphabet, M=M)
    problem = ProfileEM(dsq, bounds, start, default_prior(alphabet), n_threads=n_threads)
    problem.e_step(problem.initial_params(np.random.default_rng(0)))
    zero = ~np.isfinite(problem.last_loglik)
    if not zero.any():
        return
    raise ParameterError(
        f"{given} {M} is too large for sequences of these lengths (longest "
        f"{int(lengths.max())} residues, median {float(np.median(lengths)):g}): every "
        f"sequence must run through all {M} nodes of the model, which for {int(zero.sum())} "
        f"of the {lengths.size} is so unlikely that their likelihood is 0; choose a model "
        "length near the median sequence length, or leave out the shortest sequences"
    )


def _model(
    params: Params, alphabet: Any, *, name: str = "trained", nseq: int | None = None
) -> ProfileHMM:
    """A ProfileHMM from EM parameters, with its consensus and composition."""
    hmm = ProfileHMM(
        alphabet,
        params["match"],
        params["insert"],
        params["transitions"],
        name=name,
        nseq=nseq,
    )
    hmm.derive_annotation()
    return hmm


@dataclasses.dataclass(frozen=True)
class CrossFit:
    """The outcome of :func:`cross_fit`.

    Attributes
    ----------
    hmm : ProfileHMM
        Estimated from every group's counts.
    loglik : float
        Cross-validated log-likelihood: the sum over training sequences of
        each one's log-likelihood under the model estimated without its group
        (of the best round).
    history : tuple of float
        ``loglik`` after every round.
    n_rounds : int
    converged : bool
        True if the last round improved ``loglik`` by less than the tolerance.
    n_groups : int
    """

    hmm: ProfileHMM
    loglik: float
    history: tuple[float, ...]
    n_rounds: int
    converged: bool
    n_groups: int


def cross_fit(
    dsq: np.ndarray,
    bounds: np.ndarray,
    start: ProfileHMM,
    prior: ProfilePrior,
    *,
    weight: float = 0.1,
    n_groups: int = 50,
    max_rounds: int = 50,
    tol: float | None = None,
    random_state: Any = None,
    n_threads: int | None = None,
    weights: np.ndarray | None = None,
) -> CrossFit:
    """Cross-fitted refinement: align each sequence to a model trained without it.

    In Baum-Welch every sequence is aligned to a model that its own residues
    helped to estimate, so a fit can entrench an alignment that suits the
    training sequences and no others (most visibly in variable loops).  Here
    the training sequences are split into ``n_groups`` groups (one sequence
    per group when there are no more sequences than that: leave-one-out), and
    each round aligns every group to the model estimated, as mean posterior
    under ``prior``, from the expected counts of all other groups with each
    sequence counted ``weight`` times; the next round's counts are those
    alignments' expected counts.  This is the predictive update of the Gibbs
    motif sampler (Lawrence et al. 1993) and of leave-one-out refinement of
    multiple alignments, made deterministic with posterior counts.  Rounds
    run until the cross-validated log-likelihood (every sequence scored by
    the model that did not see it) rises by less than ``tol``; the returned
    model is estimated from the best round's counts of every group.

    Parameters
    ----------
    dsq, bounds : arrays
        Training sequences (codes, concatenated) and their bounds.
    start : ProfileHMM
        The model the first round's counts come from (every group).
    prior : ProfilePrior
    weight : float
        Weight of each sequence's counts in the held-out models (default
        0.1: the held-out models lean on the prior, which is what lets a
        sequence's alignment move; on bench/fn3, 0.05 and 0.2 did worse).
    n_groups : int
        Maximum number of groups.
    max_rounds : int
    tol : float, optional
        Default ``1e-5`` per training residue.
    random_state : seed for the assignment of sequences to groups.
    n_threads : int, optional
    weights : float64 array, shape (n_seq,), optional
        Sequence weights: each sequence's counts (and its log-likelihood in
        the cross-validated sum) are multiplied by its weight.

    Returns
    -------
    CrossFit
    """
    from .build import estimate

    bounds = np.asarray(bounds, dtype=np.int64)
    lengths = np.diff(bounds)
    n = lengths.size
    if not 0 < weight <= 1:
        raise ParameterError(f"cross-fit weight must be in (0, 1], got {weight}")
    if tol is None:
        tol = 1e-5 * float(lengths.sum())
    G = max(1, min(n, int(n_groups)))
    if G == n:
        group = np.arange(n)
    else:
        group = np.random.default_rng(random_state).permutation(n) % G
    order = np.argsort(group, kind="stable")
    gdsq = np.ascontiguousarray(np.concatenate([dsq[bounds[q] : bounds[q + 1]] for q in order]))
    gbounds = np.concatenate([[0], np.cumsum(lengths[order])]).astype(np.int64)
    groups = np.concatenate([[0], np.cumsum(np.bincount(group, minlength=G))]).astype(np.int64)
    alphabet = start.alphabet
    _, members = alphabet.degenerate_matrix()
    members = np.ascontiguousarray(members)
    M = start.M

    gweights = None
    if weights is not None:
        gweights = np.asarray(weights, dtype=np.float64)
        if gweights.shape != (n,) or np.any(gweights < 0):
            raise ParameterError("cross-fit weights must be one non-negative number per sequence")
        gweights = np.ascontiguousarray(gweights[order])

    def group_counts(models: list[tuple[np.ndarray, np.ndarray, np.ndarray]]):
        # C order whatever np.stack makes of the transposes: one compiled signature
        emM = np.ascontiguousarray(np.stack([members @ m.T for m, _, _ in models]))
        emI = np.ascontiguousarray(np.stack([members @ i.T for _, i, _ in models]))
        tr = np.ascontiguousarray(np.stack([t.T for _, _, t in models]))
        with _jit.threads(n_threads):
            if gweights is None:
                ll, cM, cI, cT = K.core_group_counts(gdsq, gbounds, groups, emM, emI, members, tr)
                return float(ll.sum()), cM, cI, cT.transpose(0, 2, 1)
            ll, cM, cI, cT = weighted_group_counts(
                gdsq, gbounds, groups, emM, emI, members, tr, gweights
            )
        return float(np.dot(gweights, ll)), cM, cI, cT.transpose(0, 2, 1)

    params = (start.match, start.insert, start.transitions)
    _, cM, cI, cT = group_counts([params] * G)
    best: tuple[float, np.ndarray, np.ndarray, np.ndarray] | None = None
    history: list[float] = []
    converged = False
    for _ in range(max_rounds):
        tM, tI, tT = cM.sum(axis=0), cI.sum(axis=0), cT.sum(axis=0)
        models = [
            estimate(weight * (tM - cM[g]), weight * (tI - cI[g]), weight * (tT - cT[g]), prior)
            for g in range(G)
        ]
        loglik, cM, cI, cT = group_counts(models)
        history.append(loglik)
        if best is not None and not loglik > best[0] + tol:
            converged = True
            if loglik > best[0]:
                best = (loglik, cM, cI, cT)
            break
        best = (loglik, cM, cI, cT)
    assert best is not None
    loglik, cM, cI, cT = best
    match, insert, t = estimate(
        weight * cM.sum(axis=0), weight * cI.sum(axis=0), weight * cT.sum(axis=0), prior
    )
    if match.shape[0] != M + 1:  # pragma: no cover - estimate keeps the shape
        raise AssertionError("model length changed")
    hmm = ProfileHMM(alphabet, match, insert, t, name=start.name, nseq=start.nseq)
    return CrossFit(hmm, loglik, tuple(history), len(history), converged, G)


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """A trained model and how the fit went.

    ``fit`` is the Baum-Welch fit of the chosen run; ``cross_fit`` its
    cross-fitted refinement (None when that step is off).
    """

    hmm: ProfileHMM
    fit: FitResult
    cross_fit: CrossFit | None = None


def train(
    dsq: np.ndarray,
    bounds: np.ndarray,
    alphabet: Any,
    *,
    M: int | None = None,
    n_init: int = 4,
    max_iter: int = 200,
    tol: float | None = None,
    random_state: Any = None,
    prior: ProfilePrior | None = None,
    n_threads: int | None = None,
    name: str = "trained",
    effn: str = "entropy",
    temper: str | float = "entropy",
    accelerate: str | None = "squarem",
    cross_fit_weight: float | None = 0.1,
    max_surgery: int = 3,
    weighting: str = "pb",
    reweight: int = 3,
) -> TrainResult:
    """Train a profile HMM from unaligned sequences.

    A preliminary fit gives the sequence weights and the scale of the
    counts.  Each of ``n_init`` runs starts from a different training
    sequence (:func:`initial_model`), is fitted by Baum-Welch (MAP under the
    prior, through the EM engine) and then refined by :func:`cross_fit`; the
    run with the best cross-validated log-likelihood wins (the best EM
    objective when the refinement is off) and goes through model surgery.
    The weights are then recomputed from the winner and the winner refitted
    until they settle.  The final parameters are re-estimated from
    entropy-weighted expected counts, as hmmbuild estimates from alignment
    counts.

    Parameters
    ----------
    dsq, bounds : arrays
        The training sequences (residue codes, concatenated) and their bounds.
    alphabet : Alphabet
    M : int, optional
        Model length; default the median training-sequence length.  A
        length that some sequences are far too short to span is an error
        (:func:`check_model_length`).
    tol : float, optional
        Stop when the objective rises by less than this in one iteration;
        default ``1e-5`` per training residue.
    accelerate : {"squarem", None}
        SQUAREM acceleration of EM (default on: profile EM crawls on large
        training sets; the engine falls back to a plain step whenever an
        extrapolation would lower the objective).
    effn : {"entropy", "none"}
        ``"entropy"`` (default): after training, the expected counts of the
        final model are scaled to an effective sequence number by entropy
        weighting and the parameters re-estimated as mean posteriors, as
        hmmbuild does with alignment counts (the fitted EM objective is
        reported for the model before this step).  ``"none"``: keep the
        estimate.
    temper : "entropy", "none" or float
        Scale of the expected counts during EM (every sequence gets this
        weight), which sets how strongly the prior pulls.  ``"entropy"``
        (default): a preliminary fit at full weight gives the entropy-weighted
        effective sequence number ``effn``, and the runs use ``effn / n``: the
        same balance of data and prior that hmmbuild strikes.  A float sets
        the scale directly; ``"none"`` is 1.
    cross_fit_weight : float or None
        Weight of :func:`cross_fit` (default 0.1); None skips the refinement.
        On bench/fn3 the refinement raised held-out fragments found at
        E <= 0.01 from 10/50 to 12-14/50 (ROC50 0.65 to about 0.75).
    max_surgery : int
        Rounds of :func:`surgery` on the winning run (default 3; 0 for none;
        only with the refinement, whose cross-validated log-likelihood
        decides whether a changed model is kept: each operated model is
        refitted by Baum-Welch and refined, and kept only if that likelihood
        rises).  ``M`` is then where training starts.
    weighting : {"pb", "none"}
        ``"pb"`` (default): sequence weights by :func:`alignment_weights`
        (Henikoff position-based weights of the training sequences aligned
        to the model), first from the preliminary fit, used in every run,
        in :func:`cross_fit`, :func:`surgery` and the final estimate.
        ``"none"``: every sequence weighs 1.  On bench/fn3 the weights
        raised the positives found at E <= 0.01 from 49/50 to 50/50 and
        the fragments' ROC50 from 0.74 to 0.75 (Pkinase and globin alike).
    reweight : int
        With ``weighting="pb"``: at most this many rounds (default 3) of
        recomputing the weights from the chosen model and refitting it
        (Baum-Welch, then :func:`cross_fit`) from where it stands; the
        rounds stop once the weights change by less than 0.02 on average
        (they sum to the number of sequences).
    """
    bounds = np.asarray(bounds, dtype=np.int64)
    lengths = np.diff(bounds)
    if lengths.size == 0 or np.any(lengths == 0):
        raise InputFormatError("training needs non-empty sequences")
    if M is None:
        M = int(np.median(lengths))
    check_model_length(dsq, bounds, alphabet, M, n_threads=n_threads)
    prior = default_prior(alphabet) if prior is None else prior
    if tol is None:
        tol = 1e-5 * float(lengths.sum())
    if effn not in ("entropy", "none"):
        raise ParameterError(f"effn must be 'entropy' or 'none', got {effn!r}")
    if cross_fit_weight is not None and not 0 < cross_fit_weight <= 1:
        raise ParameterError(f"cross_fit_weight must be in (0, 1], got {cross_fit_weight}")
    if weighting not in ("pb", "none"):
        raise ParameterError(f"weighting must be 'pb' or 'none', got {weighting!r}")
    rng = np.random.default_rng(random_state)
    # seeds: sequences whose length is closest to M, in random order among ties
    order = np.argsort(np.abs(lengths - M) + rng.random(lengths.size) * 0.5)
    n = lengths.size
    weights = None
    if temper == "entropy" or weighting == "pb":
        q = int(order[0])
        start = initial_model(dsq[bounds[q] : bounds[q + 1]], alphabet, M=M)
        problem = ProfileEM(dsq, bounds, start, prior, n_threads=n_threads)
        params, _ = run_em(
            problem, max_iter=max_iter, tol=tol, random_state=0, accelerate=accelerate
        )
        preliminary = _model(params, alphabet)
        if weighting == "pb":
            weights = alignment_weights(preliminary, dsq, bounds)
    if temper == "entropy":
        neff = _entropy_reestimate(preliminary, dsq, bounds, prior, n_threads).effn
        scale = min(1.0, float(neff or n) / n)
    elif temper == "none":
        scale = 1.0
    elif isinstance(temper, (int, float)) and 0 < float(temper) <= 1:
        scale = float(temper)
    else:
        raise ParameterError(
            f"temper must be 'entropy', 'none' or a number in (0, 1], got {temper!r}"
        )
    count_weights = np.full(n, scale) if weights is None else scale * weights
    best: TrainResult | None = None
    best_score = -np.inf
    for run in range(n_init):
        q = int(order[run % lengths.size])
        start = initial_model(dsq[bounds[q] : bounds[q + 1]], alphabet, M=M)
        problem = ProfileEM(dsq, bounds, start, prior, n_threads=n_threads, weights=count_weights)
        seed = int(rng.integers(2**31))
        params, fit = run_em(
            problem, max_iter=max_iter, tol=tol, random_state=seed, accelerate=accelerate
        )
        hmm = _model(params, alphabet, name=name, nseq=n)
        refined = None
        score = fit.objective
        if cross_fit_weight is not None:
            refined = cross_fit(
                dsq, bounds, hmm, prior, weight=cross_fit_weight, tol=tol,
                random_state=seed, n_threads=n_threads, weights=weights,
            )  # fmt: skip
            hmm, score = refined.hmm, refined.loglik
        if best is None or score > best_score:
            best, best_score = TrainResult(hmm, fit, refined), score
    assert best is not None
    if cross_fit_weight is not None:
        seed = best.fit.seed
        for _ in range(max_surgery):
            operated = surgery(best.hmm, dsq, bounds, n_threads=n_threads, weights=weights)
            if operated is None:
                break
            problem = ProfileEM(
                dsq, bounds, operated, prior, n_threads=n_threads, weights=count_weights
            )
            params, fit = run_em(
                problem, max_iter=max_iter, tol=tol, random_state=seed, accelerate=accelerate
            )
            refined = cross_fit(
                dsq, bounds, _model(params, alphabet, name=name, nseq=n), prior,
                weight=cross_fit_weight, tol=tol, random_state=seed, n_threads=n_threads,
                weights=weights,
            )  # fmt: skip
            if not refined.loglik > best_score:
                break
            best, best_score = TrainResult(refined.hmm, fit, refined), refined.loglik
    assert best is not None
    for _ in range(reweight if weights is not None else 0):
        # the weights of the chosen model's alignment; refit until they settle
        new = alignment_weights(best.hmm, dsq, bounds)
        if np.mean(np.abs(new - weights)) < 0.02:
            break
        weights = new
        problem = ProfileEM(
            dsq, bounds, best.hmm, prior, n_threads=n_threads, weights=scale * weights
        )
        params, fit = run_em(
            problem, max_iter=max_iter, tol=tol, random_state=best.fit.seed,
            accelerate=accelerate,
        )  # fmt: skip
        hmm = _model(params, alphabet, name=name, nseq=n)
        refined = None
        if cross_fit_weight is not None:
            refined = cross_fit(
                dsq, bounds, hmm, prior, weight=cross_fit_weight, tol=tol,
                random_state=best.fit.seed, n_threads=n_threads, weights=weights,
            )  # fmt: skip
            hmm = refined.hmm
        best = TrainResult(hmm, fit, refined)
    if effn == "entropy":
        final = _entropy_reestimate(best.hmm, dsq, bounds, prior, n_threads, weights=weights)
        best = dataclasses.replace(best, hmm=final)
    elif best.cross_fit is not None:
        # the refined alignment, counted at the weight the EM runs used
        final = _entropy_reestimate(
            best.hmm, dsq, bounds, prior, n_threads, scale=scale, weights=weights
        )
        final.effn = None
        best = dataclasses.replace(best, hmm=final)
    return best


def _entropy_reestimate(
    hmm: ProfileHMM,
    dsq: np.ndarray,
    bounds: np.ndarray,
    prior: ProfilePrior,
    n_threads: int | None,
    scale: float | None = None,
    weights: np.ndarray | None = None,
) -> ProfileHMM:
    """Mean-posterior parameters from the expected counts under ``hmm``.

    The counts (each sequence's times its weight, when ``weights`` are
    given) are scaled to the entropy-weighted effective sequence number
    (``scale`` None) or by ``scale``.
    """
    from .build import (
        ETARGET_AMINO,
        ETARGET_NUCLEIC,
        entropy_weight,
        estimate,
        relative_entropy_target,
    )

    problem = ProfileEM(dsq, bounds, hmm, prior, n_threads=n_threads, weights=weights)
    params = {"match": hmm.match, "insert": hmm.insert, "transitions": hmm.transitions}
    stats, _ = problem.e_step(params)
    counts = (stats["match"], stats["insert"], stats["transitions"])
    n = float(len(bounds) - 1)
    if scale is None:
        ere = ETARGET_AMINO if hmm.alphabet.name == "amino" else ETARGET_NUCLEIC
        target = relative_entropy_target(hmm.M, ere, 45.0)
        neff = entropy_weight(counts, n, prior, np.asarray(hmm.alphabet.background), target)
    else:
        neff = scale * n
    f = neff / n
    match, insert, t = estimate(counts[0] * f, counts[1] * f, counts[2] * f, prior)
    out = ProfileHMM(hmm.alphabet, match, insert, t, name=hmm.name, nseq=hmm.nseq, effn=float(neff))
    out.derive_annotation()
    if scale is None:
        out.meta["em_effn"] = "entropy"
    return out


def alignment_weights(hmm: ProfileHMM, dsq: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Position-based weights of sequences aligned to ``hmm``.

    Each sequence is aligned to the model by maximum expected accuracy (as
    :func:`seqem.profile.align.align`); the residues in the M match states
    make an alignment of M columns, and the weights are hmmbuild's Henikoff
    position-based weights of its rows (:func:`seqem.profile.build.pb_weights`).

    Parameters
    ----------
    hmm : ProfileHMM
    dsq : uint8 array, shape (T,)
        Residue codes of all sequences, concatenated.
    bounds : int64 array, shape (n_seq + 1,)

    Returns
    -------
    float64 array, shape (n_seq,)
        Weights summing to ``n_seq``.
    """
    import numba

    from .align import align
    from .build import pb_weights

    n = len(bounds) - 1
    # on the threads the caller gave Numba (the training's --threads)
    aligned = align(hmm, dsq, bounds, [str(q) for q in range(n)], threads=numba.get_num_threads())
    codes = np.full((n, hmm.M), 255, dtype=np.uint8)  # 255: no residue (ignored)
    for q in range(n):
        pos = aligned.match[q]
        k = np.flatnonzero(pos > 0)
        codes[q, k] = dsq[bounds[q] + pos[k] - 1]
    w = pb_weights(codes, hmm.alphabet)
    out: np.ndarray = w * (n / w.sum())
    return out
