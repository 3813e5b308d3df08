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
from .model import DD, DM, II, IM, MD, MI, MM, ProfileHMM
from .priors import DirichletMixture, ProfilePrior, default_prior

__all__ = ["ProfileEM", "train", "initial_model", "shifted_log_density", "mm_step"]

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


def _model(
    params: Params, alphabet: Any, *, name: str = "trained", nseq: int | None = None
) -> ProfileHMM:
    """A ProfileHMM from EM parameters."""
    return ProfileHMM(
        alphabet,
        params["match"],
        params["insert"],
        params["transitions"],
        name=name,
        nseq=nseq,
    )


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """A trained model and how the fit went."""

    hmm: ProfileHMM
    fit: FitResult


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
    weighting: str = "none",
    temper: str | float = "entropy",
    accelerate: str | None = "squarem",
) -> TrainResult:
    """Train a profile HMM from unaligned sequences by Baum-Welch.

    Each of ``n_init`` runs starts from a different training sequence
    (:func:`initial_model`); the run with the best objective (log-likelihood
    plus log prior) wins.

    Parameters
    ----------
    dsq, bounds : arrays
        The training sequences (residue codes, concatenated) and their bounds.
    alphabet : Alphabet
    M : int, optional
        Model length; default the median training-sequence length.
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
        reported for the model before this step).  ``"none"``: keep the EM
        estimate.
    weighting : {"none", "pb"}
        ``"pb"``: after the fit, weight sequences by :func:`soft_pb_weights`
        on the fitted model and refit (measured no better on the bench
        families, so off by default).
    temper : "entropy", "none" or float
        Scale of the expected counts during EM (every sequence gets this
        weight), which sets how strongly the prior pulls.  ``"entropy"``
        (default): a preliminary fit at full weight gives the entropy-weighted
        effective sequence number ``effn``, and the runs use ``effn / n``: the
        same balance of data and prior that hmmbuild strikes, kept during
        training so that it shapes the alignment as well as the final
        estimate (on bench/fn3 this raised held-out positives found from
        44/50 to 49/50).  A float sets the scale directly; ``"none"`` is 1.
    """
    bounds = np.asarray(bounds, dtype=np.int64)
    lengths = np.diff(bounds)
    if lengths.size == 0 or np.any(lengths == 0):
        raise InputFormatError("training needs non-empty sequences")
    if M is None:
        M = int(np.median(lengths))
    prior = default_prior(alphabet) if prior is None else prior
    if tol is None:
        tol = 1e-5 * float(lengths.sum())
    rng = np.random.default_rng(random_state)
    # seeds: sequences whose length is closest to M, in random order among ties
    order = np.argsort(np.abs(lengths - M) + rng.random(lengths.size) * 0.5)
    n = lengths.size
    if temper == "entropy":
        q = int(order[0])
        start = initial_model(dsq[bounds[q] : bounds[q + 1]], alphabet, M=M)
        problem = ProfileEM(dsq, bounds, start, prior, n_threads=n_threads)
        params, _ = run_em(
            problem, max_iter=max_iter, tol=tol, random_state=0, accelerate=accelerate
        )
        preliminary = _model(params, alphabet)
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
    count_weights = np.full(n, scale)
    best: TrainResult | None = None
    for run in range(n_init):
        q = int(order[run % lengths.size])
        start = initial_model(dsq[bounds[q] : bounds[q + 1]], alphabet, M=M)
        problem = ProfileEM(dsq, bounds, start, prior, n_threads=n_threads, weights=count_weights)
        params, fit = run_em(
            problem,
            max_iter=max_iter,
            tol=tol,
            random_state=int(rng.integers(2**31)),
            accelerate=accelerate,
        )
        if best is None or fit.objective > best.fit.objective:
            hmm = _model(params, alphabet, name=name, nseq=int(lengths.size))
            best = TrainResult(hmm, fit)
    assert best is not None
    weights = None
    if weighting == "pb":
        weights = soft_pb_weights(best.hmm, dsq, bounds, n_threads) * scale
        problem = ProfileEM(dsq, bounds, best.hmm, prior, n_threads=n_threads, weights=weights)
        params, fit = run_em(
            problem, max_iter=max_iter, tol=tol, random_state=best.fit.seed, accelerate=accelerate
        )
        hmm = _model(params, alphabet, name=name, nseq=int(lengths.size))
        best = TrainResult(hmm, fit)
    elif weighting != "none":
        raise ParameterError(f"weighting must be 'pb' or 'none', got {weighting!r}")
    if effn == "entropy":
        final_weights = None if weights is None else weights / scale
        best = TrainResult(
            _entropy_reestimate(best.hmm, dsq, bounds, prior, n_threads, final_weights),
            best.fit,
        )
    elif effn != "none":
        raise ParameterError(f"effn must be 'entropy' or 'none', got {effn!r}")
    return best


def soft_pb_weights(
    hmm: ProfileHMM,
    dsq: np.ndarray,
    bounds: np.ndarray,
    n_threads: int | None = None,
) -> np.ndarray:
    """Henikoff position-based weights on the model's posterior alignment.

    Each sequence's expected match emissions at node k play the part of its
    residue in alignment column k: a sequence gets ``1 / (r_k n_k(a))`` per
    expected residue ``a`` at node k (``n_k(a)`` the expected number of
    sequences with ``a`` there, ``r_k`` the number of distinct residues, taken
    as the exponential of the column entropy), averaged over nodes and
    normalised to a mean of 1.

    Returns
    -------
    float64 array, shape (n_seq,)
    """
    prior_free = ProfileEM(dsq, bounds, hmm, default_prior(hmm.alphabet), n_threads=n_threads)
    emM = np.ascontiguousarray(prior_free.members @ hmm.match.T)
    emI = np.ascontiguousarray(prior_free.members @ hmm.insert.T)
    tr = np.ascontiguousarray(hmm.transitions.T)
    n = len(bounds) - 1
    per_seq = np.empty((n, hmm.M, hmm.alphabet.K))
    one = np.ones(1)
    for q in range(n):
        seg = np.ascontiguousarray(dsq[bounds[q] : bounds[q + 1]])
        _, cM, _, _ = K.core_expected_counts(
            seg, np.array([0, seg.size]), np.array([0, 1]), emM, emI, prior_free.members, tr, one
        )
        per_seq[q] = cM[1:]
    column = per_seq.sum(axis=0)  # (M, K) expected residue counts per node
    freq = column / np.maximum(column.sum(axis=1, keepdims=True), 1e-300)
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.where(freq > 0, freq * np.log(freq), 0.0).sum(axis=1)
    r = np.exp(entropy)  # effective number of distinct residues
    share = per_seq / np.maximum(r[None, :, None] * column[None], 1e-300)
    w = share.sum(axis=2).mean(axis=1)
    return w * (n / w.sum())


def _entropy_reestimate(
    hmm: ProfileHMM,
    dsq: np.ndarray,
    bounds: np.ndarray,
    prior: ProfilePrior,
    n_threads: int | None,
    weights: np.ndarray | None = None,
) -> ProfileHMM:
    """Mean-posterior parameters from entropy-weighted expected counts."""
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
    ere = ETARGET_AMINO if hmm.alphabet.name == "amino" else ETARGET_NUCLEIC
    target = relative_entropy_target(hmm.M, ere, 45.0)
    neff = entropy_weight(counts, n, prior, np.asarray(hmm.alphabet.background), target)
    f = neff / n
    match, insert, t = estimate(counts[0] * f, counts[1] * f, counts[2] * f, prior)
    out = ProfileHMM(hmm.alphabet, match, insert, t, name=hmm.name, nseq=hmm.nseq, effn=float(neff))
    out.meta["em_effn"] = "entropy"
    return out
