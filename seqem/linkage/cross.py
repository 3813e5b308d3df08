"""Genetic maps of experimental crosses (backcross, intercross) by EM.

The hidden state along a chromosome is an individual's true genotype at each
marker; it is a Markov chain whose steps are the meioses' recombinations
between adjacent markers:

- **backcross** and **any X chromosome**: two states, one informative
  meiosis, so a step changes the state with probability ``r``.  In a
  backcross the states are ``AA`` and ``AB`` (``AY`` and ``BY`` in a
  hemizygous male); on the X chromosome of an intercross they are, as in
  R/qtl, ``AY``/``BY`` in males, ``AA``/``AB`` in females of cross direction
  0 and ``BB``/``AB`` in females of direction 1 (the reader's ``sex`` and
  ``pgm`` columns);
- **intercross** (F2 autosomes): the four phase-known states ``AA``, ``AB``,
  ``BA``, ``BB`` (paternal allele first); two independent meioses, so the
  step from ``AA`` to ``BB`` has probability ``r**2``.  Summing the two
  heterozygotes gives R/qtl's three genotypes with the same likelihood.

A genotype is observed correctly with probability ``1 - error_prob``; a
wrong call is spread evenly over the other calls (backcross: the other
genotype, ``error_prob``; intercross: ``error_prob / 2`` each), and the
partly informative intercross codes "not BB" and "not AA" have probability
``1 - error_prob / 2`` in the genotypes they allow and ``error_prob`` in the
one they exclude.  This is the model of R/qtl's ``est.map``.

EM for the recombination fractions: the E-step takes, for each individual and
interval, the two-slice posterior of the states at the two markers from a
scaled forward-backward pass and sums the expected recombinations (one per
meiosis that changes origin, divided by the meioses per individual); the
M-step divides the sums by the number of individuals.  As R/qtl does,
individuals with fewer than two typed markers on a chromosome are left out,
the fractions start from the input map (at least ``1e-14``), are kept in
``[tol / 1000, 1/2 - tol / 1000]`` (a boundary ``r = 0`` is approached to
that floor; the clamp cannot lower the expected complete-data likelihood, so
the likelihood still never decreases), and iteration stops when every
fraction changed by at most ``tol * (r + 100 tol)``.  The estimated map
starts at the first marker's input position.

Public API
----------
``seqem.io.rqtl.read_cross(path, cross_type=None) -> Cross``
    Read an R/qtl "csv" cross file.
:func:`estimate_map` ``(cross, *, error_prob=1e-4, map_function="haldane",
tol=1e-6, max_iter=10000, chromosomes=None) -> list[ChromosomeMap]``
    R/qtl's ``est.map``: per chromosome the estimated positions ``cm``, the
    natural-log likelihood ``loglik`` at the estimate, ``n_iter``,
    ``converged`` and the per-iteration ``history`` of ln L.
:func:`genotype_probabilities` ``(cross, chrom, *, error_prob=1e-4,
map_function="haldane") -> GenotypeProbabilities``
    R/qtl's ``calc.genoprob`` at the markers (step 0) on the input map.
:func:`pairwise_rf` ``(cross, chrom) -> PairwiseRF``
    R/qtl's ``est.rf``: recombination fraction and LOD score for every pair
    of markers of a chromosome.
:func:`chain_loglik` ``(genotypes, rf, cross_type, *, error_prob=1e-4,
is_x=False) -> float``
    ln L of one chromosome's genotype matrix at given fractions.

Examples
--------
>>> import numpy as np
>>> g = np.array([[1, 1, 2], [2, 2, 2], [1, 2, 2]], dtype=np.int8)
>>> round(chain_loglik(g, np.array([0.1, 0.2]), "bc", error_prob=0.0), 6)
-6.648473
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
from numba import njit

from .._jit import JIT
from ..errors import ParameterError
from .data import map_functions

__all__ = [
    "MISSING",
    "AA",
    "AB",
    "BB",
    "NOT_BB",
    "NOT_AA",
    "CrossChromosome",
    "Cross",
    "ChromosomeMap",
    "GenotypeProbabilities",
    "PairwiseRF",
    "estimate_map",
    "genotype_probabilities",
    "pairwise_rf",
    "chain_loglik",
    "em_iterate",
]

#: Genotype codes of :attr:`CrossChromosome.genotypes` (R/qtl's numbering).
#: On an X chromosome only 1 and 2 occur: the two states of its two-state
#: chain (backcross: carrying only the first allele, ``AA`` or ``AY``, and
#: carrying the second, ``AB`` or ``BY``; intercross: see the module
#: docstring).
MISSING, AA, AB, BB, NOT_BB, NOT_AA = 0, 1, 2, 3, 4, 5

CROSS_TYPES = ("bc", "f2")
MAP_FUNCTIONS = ("haldane", "kosambi")


# ---------------------------------------------------------------- containers


@dataclasses.dataclass(frozen=True)
class CrossChromosome:
    """The markers of one chromosome.

    Attributes
    ----------
    name : str
    is_x : bool
        The X chromosome (named ``X`` or ``x``).
    markers : tuple of str
        In map order.
    cm : float64 array, shape (n_markers,)
        Input positions (cM), non-decreasing.
    genotypes : int8 array, shape (n_individuals, n_markers)
        Codes :data:`MISSING` 0, :data:`AA` 1, :data:`AB` 2, :data:`BB` 3,
        :data:`NOT_BB` 4, :data:`NOT_AA` 5.
    """

    name: str
    is_x: bool
    markers: tuple[str, ...]
    cm: np.ndarray
    genotypes: np.ndarray


@dataclasses.dataclass(frozen=True)
class Cross:
    """An experimental cross: individuals, phenotypes and marker genotypes.

    Attributes
    ----------
    cross_type : {"bc", "f2"}
        Backcross or intercross.
    alleles : tuple of str
        The two allele letters; ``alleles[0]`` is the recurrent parent's in a
        backcross (genotype names ``alleles[0] * 2`` and ``alleles[0] +
        alleles[1]``).
    ids : tuple of str
        One label per individual (an ``id`` column if present, else 1, 2, ...).
    phenotype_names : tuple of str
    phenotypes : str array, shape (n_individuals, n_phenotypes)
        As written in the file.
    chromosomes : tuple of CrossChromosome
        Numbered chromosomes in numeric order, then the others, X last.
    path : str or None
        The file read.
    """

    cross_type: str
    alleles: tuple[str, str]
    ids: tuple[str, ...]
    phenotype_names: tuple[str, ...]
    phenotypes: np.ndarray
    chromosomes: tuple[CrossChromosome, ...]
    path: str | None = None

    @property
    def n_individuals(self) -> int:
        return len(self.ids)

    def chromosome(self, name: str) -> CrossChromosome:
        """The chromosome called ``name``."""
        for c in self.chromosomes:
            if c.name == str(name):
                return c
        known = ", ".join(c.name for c in self.chromosomes)
        raise ParameterError(f"no chromosome '{name}' in the cross (it has {known})")

    def genotype_names(self) -> tuple[str, ...]:
        """R/qtl's genotype names: (AA, AB) for a backcross, (AA, AB, BB) for an intercross."""
        a, b = self.alleles
        if self.cross_type == "bc":
            return (a + a, a + b)
        return (a + a, a + b, b + b)


@dataclasses.dataclass(frozen=True)
class ChromosomeMap:
    """The estimated map of one chromosome.

    Attributes
    ----------
    chrom : str
    markers : tuple of str
    cm : float64 array, shape (n_markers,)
        Estimated positions, starting at the first marker's input position.
    rf : float64 array, shape (n_markers - 1,)
        Estimated recombination fractions between adjacent markers.
    loglik : float
        Natural-log likelihood at the estimate.
    n_iter : int
    converged : bool
    history : float64 array, shape (n_iter,)
        ln L at the start of each iteration (never decreasing).
    n_individuals : int
        Individuals with at least two typed markers (the others carry no
        information on the map and are left out).
    """

    chrom: str
    markers: tuple[str, ...]
    cm: np.ndarray
    rf: np.ndarray
    loglik: float
    n_iter: int
    converged: bool
    history: np.ndarray
    n_individuals: int


@dataclasses.dataclass(frozen=True)
class GenotypeProbabilities:
    """Posterior genotype probabilities at the markers.

    ``prob`` has shape (n_individuals, n_markers, n_genotypes), genotypes in
    the order of ``genotypes`` (R/qtl's column names).
    """

    chrom: str
    markers: tuple[str, ...]
    genotypes: tuple[str, ...]
    prob: np.ndarray


@dataclasses.dataclass(frozen=True)
class PairwiseRF:
    """Recombination fraction and LOD score of every pair of markers.

    ``rf`` and ``lod`` are symmetric (n_markers, n_markers) arrays; the
    diagonal is NaN, and so is a pair typed together in no individual.
    """

    chrom: str
    markers: tuple[str, ...]
    rf: np.ndarray
    lod: np.ndarray


# ---------------------------------------------------------------- kernels

# the shared Numba options, spelled out so that the type checker sees njit's keywords
_kernel = njit(cache=JIT["cache"], nogil=JIT["nogil"])


@_kernel
def _transitions(rf: np.ndarray, n_states: int, out: np.ndarray) -> None:
    """Transition matrices of each interval.

    rf: float64 (n_int,); out: float64 (n_int, S, S), S = 2 (one meiosis,
    state = origin) or 4 (two meioses, state = 2 * paternal + maternal).
    """
    for j in range(rf.shape[0]):
        r = rf[j]
        if n_states == 2:
            out[j, 0, 0] = 1.0 - r
            out[j, 0, 1] = r
            out[j, 1, 0] = r
            out[j, 1, 1] = 1.0 - r
        else:
            for u in range(4):
                for v in range(4):
                    p = r if (u >> 1) != (v >> 1) else 1.0 - r
                    m = r if (u & 1) != (v & 1) else 1.0 - r
                    out[j, u, v] = p * m


@_kernel
def _forward_backward(
    g: np.ndarray,
    emit: np.ndarray,
    init: np.ndarray,
    trans: np.ndarray,
    alpha: np.ndarray,
    beta: np.ndarray,
    scale: np.ndarray,
    backward: bool,
) -> float:
    """Scaled forward (and backward) pass of one individual; returns ln L.

    g: int8 (n_mar,) codes; emit: float64 (6, S); init: float64 (S,);
    trans: float64 (n_mar - 1, S, S); alpha, beta: float64 (n_mar, S) work
    (alpha[j] = P(state_j | g[:j+1]), beta[j] = P(g[j+1:] | state_j) /
    prod(scale[j+1:])); scale: float64 (n_mar,) = P(g[j] | g[:j]).
    Returns -inf when the genotypes are impossible.
    """
    n_mar = g.shape[0]
    S = init.shape[0]
    s = 0.0
    for v in range(S):
        x = init[v] * emit[g[0], v]
        alpha[0, v] = x
        s += x
    if not s > 0.0:
        return -np.inf
    scale[0] = s
    ll = math.log(s)
    for v in range(S):
        alpha[0, v] /= s
    for j in range(1, n_mar):
        s = 0.0
        for v in range(S):
            x = 0.0
            for u in range(S):
                x += alpha[j - 1, u] * trans[j - 1, u, v]
            x *= emit[g[j], v]
            alpha[j, v] = x
            s += x
        if not s > 0.0:
            return -np.inf
        scale[j] = s
        ll += math.log(s)
        for v in range(S):
            alpha[j, v] /= s
    if backward:
        for v in range(S):
            beta[n_mar - 1, v] = 1.0
        for j in range(n_mar - 2, -1, -1):
            for u in range(S):
                x = 0.0
                for v in range(S):
                    x += trans[j, u, v] * emit[g[j + 1], v] * beta[j + 1, v]
                beta[j, u] = x / scale[j + 1]
    return ll


@_kernel
def _loglik_kernel(geno: np.ndarray, emit: np.ndarray, init: np.ndarray, rf: np.ndarray) -> float:
    """ln L of every individual's chain, summed.

    geno: int8 (n_ind, n_mar); emit: float64 (6, S); init: float64 (S,);
    rf: float64 (n_mar - 1,).
    """
    n_ind, n_mar = geno.shape
    S = init.shape[0]
    trans = np.empty((max(n_mar - 1, 0), S, S))
    _transitions(rf, S, trans)
    alpha = np.empty((n_mar, S))
    beta = np.empty((n_mar, S))
    scale = np.empty(n_mar)
    total = 0.0
    for i in range(n_ind):
        total += _forward_backward(geno[i], emit, init, trans, alpha, beta, scale, False)
    return total


@_kernel
def _em_kernel(
    geno: np.ndarray,
    emit: np.ndarray,
    init: np.ndarray,
    nrec: np.ndarray,
    rf: np.ndarray,
    tol: float,
    max_iter: int,
    history: np.ndarray,
    upper: float,
) -> tuple[int, bool, float]:
    """EM for the recombination fractions of one chromosome, in place.

    geno: int8 (n_ind, n_mar), n_ind >= 1, n_mar >= 2; emit: float64 (6, S);
    init: float64 (S,); nrec: float64 (S, S) recombinations per meiosis of a
    step u -> v; rf: float64 (n_mar - 1,) start, overwritten by the estimate;
    history: float64 (max_iter,) receives ln L at the start of each
    iteration; fractions are kept in [tol / 1000, upper - tol / 1000].
    Returns (iterations, converged, ln L at the estimate).
    """
    n_ind, n_mar = geno.shape
    S = init.shape[0]
    n_int = n_mar - 1
    trans = np.empty((n_int, S, S))
    alpha = np.empty((n_mar, S))
    beta = np.empty((n_mar, S))
    scale = np.empty(n_mar)
    cur = np.empty(n_int)
    acc = np.empty(n_int)
    lo = tol / 1000.0
    hi = upper - tol / 1000.0
    converged = False
    it = 0
    while it < max_iter:
        for j in range(n_int):
            cur[j] = rf[j]
            acc[j] = 0.0
        _transitions(cur, S, trans)
        ll = 0.0
        for i in range(n_ind):
            g = geno[i]
            ll += _forward_backward(g, emit, init, trans, alpha, beta, scale, True)
            for j in range(n_int):
                tot = 0.0
                rec = 0.0
                for u in range(S):
                    a = alpha[j, u]
                    for v in range(S):
                        x = a * trans[j, u, v] * emit[g[j + 1], v] * beta[j + 1, v]
                        tot += x
                        rec += nrec[u, v] * x
                acc[j] += rec / tot
        history[it] = ll
        it += 1
        for j in range(n_int):
            r = acc[j] / n_ind
            if r < lo:
                r = lo
            elif r > hi:
                r = hi
            rf[j] = r
        moved = False
        for j in range(n_int):
            if abs(rf[j] - cur[j]) > tol * (cur[j] + tol * 100.0):
                moved = True
                break
        if not moved:
            converged = True
            break
    return it, converged, _loglik_kernel(geno, emit, init, rf)


@_kernel
def _posterior_kernel(
    geno: np.ndarray, emit: np.ndarray, init: np.ndarray, rf: np.ndarray, out: np.ndarray
) -> None:
    """Posterior state probabilities at every marker.

    geno: int8 (n_ind, n_mar); out: float64 (n_ind, n_mar, S).
    """
    n_ind, n_mar = geno.shape
    S = init.shape[0]
    trans = np.empty((max(n_mar - 1, 0), S, S))
    _transitions(rf, S, trans)
    alpha = np.empty((n_mar, S))
    beta = np.empty((n_mar, S))
    scale = np.empty(n_mar)
    for i in range(n_ind):
        _forward_backward(geno[i], emit, init, trans, alpha, beta, scale, True)
        for j in range(n_mar):
            s = 0.0
            for v in range(S):
                s += alpha[j, v] * beta[j, v]
            for v in range(S):
                out[i, j, v] = alpha[j, v] * beta[j, v] / s


# ---------------------------------------------------------------- model tables


def _n_states(cross_type: str, is_x: bool) -> int:
    return 4 if cross_type == "f2" and not is_x else 2


def _tables(
    cross_type: str, is_x: bool, error_prob: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Emission (6, S), initial (S,) and recombination-count (S, S) tables."""
    e = float(error_prob)
    if _n_states(cross_type, is_x) == 2:
        emit = np.ones((6, 2))
        emit[AA] = (1.0 - e, e)
        emit[AB] = (e, 1.0 - e)
        emit[BB:] = 0.0  # never passed: the reader refuses these codes here
        nrec = np.array([[0.0, 1.0], [1.0, 0.0]])
        return emit, np.full(2, 0.5), nrec
    # states AA, AB, BA, BB (2 * paternal + maternal); AB and BA are both called AB
    emit = np.empty((6, 4))
    emit[MISSING] = 1.0
    emit[AA] = (1.0 - e, e / 2, e / 2, e / 2)
    emit[AB] = (e / 2, 1.0 - e, 1.0 - e, e / 2)
    emit[BB] = (e / 2, e / 2, e / 2, 1.0 - e)
    emit[NOT_BB] = (1.0 - e / 2, 1.0 - e / 2, 1.0 - e / 2, e)
    emit[NOT_AA] = (e, 1.0 - e / 2, 1.0 - e / 2, 1.0 - e / 2)
    nrec = np.empty((4, 4))
    for u in range(4):
        for v in range(4):
            nrec[u, v] = (((u >> 1) != (v >> 1)) + ((u & 1) != (v & 1))) / 2.0
    return emit, np.full(4, 0.25), nrec


def _check_options(cross_type: str, error_prob: float, map_function: str) -> None:
    if cross_type not in CROSS_TYPES:
        raise ParameterError(f"cross_type must be 'bc' or 'f2', got {cross_type!r}")
    if not 0.0 <= error_prob < 1.0:
        raise ParameterError(f"error_prob must be in [0, 1), got {error_prob}")
    if map_function not in MAP_FUNCTIONS:
        raise ParameterError(f"map_function must be 'haldane' or 'kosambi', got {map_function!r}")


def _genotype_matrix(genotypes: np.ndarray, cross_type: str, is_x: bool) -> np.ndarray:
    g = np.ascontiguousarray(genotypes, dtype=np.int8)
    if g.ndim != 2:
        raise ParameterError(f"genotypes must be 2-d (individuals x markers), got {g.ndim}-d")
    top = AB if _n_states(cross_type, is_x) == 2 else NOT_AA
    if g.size and (g.min() < 0 or g.max() > top):
        raise ParameterError(
            f"genotype codes of a {'backcross' if top == AB else 'intercross'} "
            f"must be in 0..{top}, got {int(g.min())}..{int(g.max())}"
        )
    return g


def _start_rf(cm: np.ndarray, map_function: str) -> np.ndarray:
    mf, _ = map_functions(map_function)
    rf = np.asarray(mf(np.diff(np.asarray(cm, dtype=float))), dtype=float)
    return np.ascontiguousarray(np.maximum(rf, 1e-14))


# ---------------------------------------------------------------- public functions


def chain_loglik(
    genotypes: np.ndarray,
    rf: np.ndarray,
    cross_type: str,
    *,
    error_prob: float = 1e-4,
    is_x: bool = False,
) -> float:
    """Natural-log likelihood of one chromosome's genotypes.

    Parameters
    ----------
    genotypes : int array, shape (n_individuals, n_markers)
        Codes as in :class:`CrossChromosome`.
    rf : float array, shape (n_markers - 1,)
        Recombination fractions between adjacent markers, in [0, 1/2].
    cross_type : {"bc", "f2"}
    error_prob : float
    is_x : bool
        The X chromosome (a two-state chain in either cross type).

    Returns
    -------
    float
        ln L summed over individuals (``-inf`` if the genotypes are impossible).
    """
    _check_options(cross_type, error_prob, "haldane")
    g = _genotype_matrix(genotypes, cross_type, is_x)
    r = np.ascontiguousarray(rf, dtype=float)
    if r.shape != (max(g.shape[1] - 1, 0),):
        raise ParameterError(f"rf must have {g.shape[1] - 1} entries, got shape {r.shape}")
    if g.shape[1] == 0:
        return 0.0
    emit, init, _ = _tables(cross_type, is_x, error_prob)
    return float(_loglik_kernel(g, emit, init, r))


def em_iterate(
    genotypes: np.ndarray,
    rf: np.ndarray,
    cross_type: str,
    *,
    error_prob: float = 1e-4,
    is_x: bool = False,
    tol: float = 1e-6,
    max_iter: int = 10000,
) -> tuple[np.ndarray, int, bool, float, np.ndarray]:
    """Run EM for the fractions of one chromosome from ``rf``.

    Returns ``(rf, n_iter, converged, loglik, history)``: the new fractions,
    the iterations run, whether the stopping rule was met (rather than the
    ``max_iter`` budget spent), ln L at the new fractions and ln L at the
    start of each iteration.  All individuals are used (see
    :func:`estimate_map` for the omission of nearly untyped ones).
    """
    _check_options(cross_type, error_prob, "haldane")
    if tol <= 0 or max_iter < 1:
        raise ParameterError(f"tol must be > 0 and max_iter >= 1, got {tol}, {max_iter}")
    g = _genotype_matrix(genotypes, cross_type, is_x)
    r = np.array(rf, dtype=float)
    if g.shape[1] < 2 or g.shape[0] == 0 or r.shape != (g.shape[1] - 1,):
        raise ParameterError(
            "em_iterate needs at least one individual, two markers and one fraction per interval"
        )
    emit, init, nrec = _tables(cross_type, is_x, error_prob)
    history = np.zeros(int(max_iter))
    it, conv, ll = _em_kernel(g, emit, init, nrec, r, float(tol), int(max_iter), history, 0.5)
    return r, int(it), bool(conv), float(ll), history[: int(it)].copy()


def _selected(cross: Cross, chromosomes: Sequence[str] | None) -> list[CrossChromosome]:
    if chromosomes is None:
        return list(cross.chromosomes)
    return [cross.chromosome(str(c)) for c in chromosomes]


def estimate_map(
    cross: Cross,
    *,
    error_prob: float = 1e-4,
    map_function: str = "haldane",
    tol: float = 1e-6,
    max_iter: int = 10000,
    chromosomes: Sequence[str] | None = None,
) -> list[ChromosomeMap]:
    """Estimate the genetic map of each chromosome (R/qtl's ``est.map``).

    Parameters
    ----------
    cross : Cross
        From :func:`seqem.io.rqtl.read_cross`.
    error_prob : float
        Genotyping error rate, in [0, 1).
    map_function : {"haldane", "kosambi"}
        Converts the input positions to starting fractions and the estimated
        fractions to cM.
    tol : float
        Relative change of every fraction below which EM stops (R/qtl's rule,
        see the module docstring).
    max_iter : int
        Iteration budget per chromosome; ``converged`` is False when it is
        spent.
    chromosomes : sequence of str, optional
        Names of the chromosomes to estimate (default all, in file order).

    Returns
    -------
    list of ChromosomeMap
    """
    _check_options(cross.cross_type, error_prob, map_function)
    if not tol > 0 or max_iter < 1:
        raise ParameterError(f"tol must be > 0 and max_iter >= 1, got {tol}, {max_iter}")
    _, imf = map_functions(map_function)
    out = []
    for chrom in _selected(cross, chromosomes):
        g = _genotype_matrix(chrom.genotypes, cross.cross_type, chrom.is_x)
        g = np.ascontiguousarray(g[(g != MISSING).sum(axis=1) > 1])
        n_mar = g.shape[1]
        first = float(chrom.cm[0]) if n_mar else 0.0
        if n_mar < 2 or g.shape[0] == 0:
            rf = _start_rf(chrom.cm, map_function) if n_mar >= 2 else np.zeros(0)
            out.append(
                ChromosomeMap(
                    chrom.name,
                    chrom.markers,
                    np.asarray(chrom.cm, dtype=float).copy(),
                    rf,
                    0.0,
                    0,
                    True,
                    np.zeros(0),
                    int(g.shape[0]),
                )
            )
            continue
        rf, it, conv, ll, hist = em_iterate(
            g,
            _start_rf(chrom.cm, map_function),
            cross.cross_type,
            error_prob=max(error_prob, 1e-50),
            is_x=chrom.is_x,
            tol=tol,
            max_iter=max_iter,
        )
        cm = first + np.concatenate([[0.0], np.cumsum(imf(rf))])
        out.append(
            ChromosomeMap(chrom.name, chrom.markers, cm, rf, ll, it, conv, hist, int(g.shape[0]))
        )
    return out


def genotype_probabilities(
    cross: Cross, chrom: str, *, error_prob: float = 1e-4, map_function: str = "haldane"
) -> GenotypeProbabilities:
    """Posterior genotype probabilities at the markers of ``chrom`` on its input map.

    R/qtl's ``calc.genoprob(cross, step=0, error.prob=...)``; intercross
    probabilities are given for AA, AB, BB (the two phases summed); on an X
    chromosome the two columns ``"1"`` and ``"2"`` are the states of its
    two-state chain (see :class:`CrossChromosome`).
    """
    _check_options(cross.cross_type, error_prob, map_function)
    c = cross.chromosome(chrom)
    g = _genotype_matrix(c.genotypes, cross.cross_type, c.is_x)
    emit, init, _ = _tables(cross.cross_type, c.is_x, max(error_prob, 1e-50))
    S = init.shape[0]
    post = np.empty((g.shape[0], g.shape[1], S))
    _posterior_kernel(g, emit, init, _start_rf(c.cm, map_function), post)
    if S == 4:
        post = np.stack([post[..., 0], post[..., 1] + post[..., 2], post[..., 3]], axis=-1)
    names = ("1", "2") if c.is_x else cross.genotype_names()
    return GenotypeProbabilities(c.name, c.markers, names, post)


def _pair_f2(g1: np.ndarray, g2: np.ndarray) -> tuple[float, float]:
    """ML fraction and LOD of two intercross markers (error-free model)."""
    both = (g1 != MISSING) & (g2 != MISSING)
    g = np.ascontiguousarray(np.stack([g1[both], g2[both]], axis=1), dtype=np.int8)
    emit, init, nrec = _tables("f2", False, 0.0)
    history = np.zeros(100000)
    best_r, best_ll = 0.5, -math.inf
    # as R/qtl's est.rf, fractions above 1/2 are allowed (they flag markers
    # out of place); the likelihood may have more than one local maximum in
    # [0, 1], so EM starts from several points and keeps the best
    for start in (0.01, 0.25, 0.49, 0.75, 0.99):
        r = np.array([start])
        _, _, ll = _em_kernel(g, emit, init, nrec, r, 1e-12, 100000, history, 1.0)
        if ll > best_ll:
            best_r, best_ll = float(r[0]), ll
    null = float(_loglik_kernel(g, emit, init, np.array([0.5])))
    return best_r, (best_ll - null) / math.log(10.0)


def pairwise_rf(cross: Cross, chrom: str) -> PairwiseRF:
    """Recombination fraction and LOD score of every pair of markers of ``chrom``.

    R/qtl's ``est.rf``: for each pair, the individuals typed at both markers
    give the maximum-likelihood fraction in [0, 1] without genotyping errors
    (a backcross: recombinants / typed; an intercross: EM over the
    phase-known genotypes) and the LOD score ``log10 L(r) - log10 L(1/2)``.
    A fraction above 1/2 suggests a marker out of place or with its alleles
    swapped.
    """
    _check_options(cross.cross_type, 0.0, "haldane")
    c = cross.chromosome(chrom)
    g = np.asarray(c.genotypes)
    n = g.shape[1]
    rf = np.full((n, n), np.nan)
    lod = np.full((n, n), np.nan)
    two_state = _n_states(cross.cross_type, c.is_x) == 2
    for i in range(n):
        for j in range(i + 1, n):
            if two_state:
                both = (g[:, i] != MISSING) & (g[:, j] != MISSING)
                m = int(both.sum())
                if m == 0:
                    continue
                k = int((g[both, i] != g[both, j]).sum())
                r = k / m
                ll = m * math.log10(2.0)
                if k:
                    ll += k * math.log10(r)
                if k < m:
                    ll += (m - k) * math.log10(1.0 - r)
                rf[i, j] = rf[j, i] = r
                lod[i, j] = lod[j, i] = ll
            else:
                both = (g[:, i] != MISSING) & (g[:, j] != MISSING)
                if not both.any():
                    continue
                r, ll = _pair_f2(g[:, i], g[:, j])
                rf[i, j] = rf[j, i] = r
                lod[i, j] = lod[j, i] = ll
    return PairwiseRF(c.name, c.markers, rf, lod)
