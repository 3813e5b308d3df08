"""Lander-Green likelihoods: a hidden Markov model over inheritance vectors.

At each locus the hidden state is the inheritance vector of a family (which
grandparental gene every non-founder received from each parent).  Founder
symmetry removes one meiosis per founder with children (swapping a
founder's two genes changes no likelihood), leaving ``2 n - f`` bits.
Between loci every meiosis recombines independently with the interval's
recombination fraction, so the transition is a product of one two-state
butterfly per meiosis (a Walsh-Hadamard-type transform, ``O(bits 2^bits)``);
a meiosis removed by symmetry acts through the founder's other meioses.
The forward and backward passes are scaled: every vector is divided by its
sum and the log-likelihood is the sum of the logs of those sums.

Vectors are float64 of ``2^bits`` entries (8 MiB at 20 bits, 128 MiB at 24).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from .. import _jit
from ..errors import InputFormatError, ParameterError
from . import _kernels as K
from .data import Family, LinkageData, TraitModel, check_family, map_functions

__all__ = [
    "InheritanceSpace",
    "MAX_BITS",
    "marker_emission",
    "trait_emission",
    "chain_loglik",
    "Multipoint",
    "multipoint",
    "hlod",
    "map_function",
]

#: Largest inheritance space analysed (2^24 float64 = 128 MiB per vector).
MAX_BITS = 24

#: Bytes the forward vectors and emissions of a family's markers may take
#: before the scan keeps checkpoints instead (about 4 sqrt(markers) vectors).
MEMORY_BUDGET = 4 * 2**30

#: Marker likelihoods by the depth-first walk (from 12 bits); False: per state.
TREE_MARKERS = True

#: Positions closer than this (cM) to a marker are taken at the marker.
SNAP = 1e-6

#: Founder genes a trait walk may hold at once (its vectors have 2^genes
#: entries); pedigrees wider than that sum a component at a time per state.
PEEL_WIDTH = 20


def map_function(name: str):
    """Recombination fraction as a function of cM: ``"haldane"`` or ``"kosambi"``."""
    return map_functions(name)[0]


@dataclasses.dataclass(frozen=True)
class InheritanceSpace:
    """The bit layout of one family's inheritance vectors.

    Attributes
    ----------
    bits : int
    order : int array
        Persons, parents before children.
    pat_bit, mat_bit : int arrays
        State bit of each person's paternal / maternal meiosis (-1 founder,
        or fixed by symmetry).
    founder_gene : int array
        First founder-gene number of each founder (-1 for non-founders).
    n_genes : int
    masks : int array
        One per meiosis: the states a recombination in it flips.
    male : bool array
        Whether each meiosis is paternal (for sex-specific maps).
    """

    family: Family
    bits: int
    order: np.ndarray
    pat_bit: np.ndarray
    mat_bit: np.ndarray
    founder_gene: np.ndarray
    n_genes: int
    masks: np.ndarray
    male: np.ndarray

    @property
    def n_states(self) -> int:
        return 1 << self.bits

    @classmethod
    def of(cls, family: Family, *, max_bits: int = MAX_BITS) -> InheritanceSpace:
        check_family(family, allow_loops=True)
        order = family.order()
        n = family.n
        founder_gene = np.full(n, -1, dtype=np.int64)
        for k, f in enumerate(family.founders.tolist()):
            founder_gene[f] = 2 * k
        # meioses in person order: (child, 0 paternal / 1 maternal)
        meioses: list[tuple[int, int]] = []
        for p in order.tolist():
            if family.father[p] >= 0:
                meioses += [(p, 0), (p, 1)]
        designated: dict[int, tuple[int, int]] = {}  # founder -> its first meiosis
        for p, side in meioses:
            parent = int(family.father[p] if side == 0 else family.mother[p])
            if family.father[parent] < 0 and parent not in designated:
                designated[parent] = (p, side)
        fixed = set(designated.values())
        # meioses from founders in the highest bits, a founder's together: the
        # mask through which a founder's fixed meiosis acts is then one run of bits
        founder_rank = {f: k for k, f in enumerate(family.founders.tolist())}

        def parent_of(m: tuple[int, int]) -> int:
            return int(family.father[m[0]] if m[1] == 0 else family.mother[m[0]])

        free = sorted(
            (m for m in meioses if m not in fixed),
            key=lambda m: founder_rank.get(parent_of(m), -1),
        )
        bits = len(free)
        if bits > max_bits:
            raise InputFormatError(
                f"family {family.id} needs {bits} bits (2 x non-founders - founders), more than "
                f"the limit of {max_bits}; split it or raise the limit",
            )
        bit_of = {m: b for b, m in enumerate(free)}
        pat_bit = np.full(n, -1, dtype=np.int64)
        mat_bit = np.full(n, -1, dtype=np.int64)
        for (p, side), b in bit_of.items():
            (pat_bit if side == 0 else mat_bit)[p] = b
        masks = np.zeros(len(meioses), dtype=np.int64)
        male = np.zeros(len(meioses), dtype=bool)
        for k, (p, side) in enumerate(meioses):
            parent = int(family.father[p] if side == 0 else family.mother[p])
            male[k] = side == 0
            if (p, side) in bit_of:
                masks[k] = 1 << bit_of[(p, side)]
            else:
                # the founder's other meioses flip instead (the state stays canonical)
                m = 0
                for q, s in meioses:
                    par = int(family.father[q] if s == 0 else family.mother[q])
                    if par == parent and (q, s) in bit_of:
                        m |= 1 << bit_of[(q, s)]
                masks[k] = m
        return cls(
            family, bits, order, pat_bit, mat_bit, founder_gene, 2 * len(family.founders),
            masks, male,
        )  # fmt: skip

    def _args(self) -> tuple:
        f = self.family
        return (
            self.n_states, self.order, f.father.astype(np.int64), f.mother.astype(np.int64),
            self.pat_bit, self.mat_bit, self.founder_gene, self.n_genes,
        )  # fmt: skip

    def thetas(self, theta: float, theta_female: float | None = None) -> np.ndarray:
        """Per-meiosis recombination fractions of one interval."""
        female = theta if theta_female is None else theta_female
        return np.where(self.male, theta, female).astype(np.float64)

    def transition(
        self, v: np.ndarray, theta: float, theta_female: float | None = None
    ) -> np.ndarray:
        """``v`` moved across an interval (in place; returned)."""
        K.transition(v, self.masks, self.thetas(theta, theta_female))
        return v


@dataclasses.dataclass(frozen=True)
class _Walk:
    """The depth-first walk's layout: non-founders (parents first) as levels, the
    first level's meioses in the walk position's highest bits."""

    levels: np.ndarray
    wpat: np.ndarray
    wmat: np.ndarray
    level_of_wbit: np.ndarray
    offsets: np.ndarray


def _walk(space: InheritanceSpace, levels: np.ndarray | None = None) -> _Walk:
    f = space.family
    if levels is None:
        levels = np.array([p for p in space.order.tolist() if f.father[p] >= 0], dtype=np.int64)
    free = [int(space.pat_bit[p] >= 0) + int(space.mat_bit[p] >= 0) for p in levels.tolist()]
    offsets = np.concatenate([np.cumsum(free[::-1])[::-1][1:], [0]]).astype(np.int64)
    wpat = np.full(levels.size, -1, dtype=np.int64)
    wmat = np.full(levels.size, -1, dtype=np.int64)
    level_of_wbit = np.zeros(max(space.bits, 1), dtype=np.int64)
    for lev, p in enumerate(levels.tolist()):
        at = int(offsets[lev])
        if space.pat_bit[p] >= 0:
            wpat[lev] = at
            level_of_wbit[at] = lev
            at += 1
        if space.mat_bit[p] >= 0:
            wmat[lev] = at
            level_of_wbit[at] = lev
    return _Walk(levels, wpat, wmat, level_of_wbit, offsets)


def marker_emission(
    space: InheritanceSpace, calls: np.ndarray, freqs: np.ndarray, n_threads: int | None = None
) -> np.ndarray:
    """P(the family's genotypes at one marker | inheritance vector), every vector.

    ``calls``: (persons, 2) allele indices from 1, 0 missing.
    """
    typed = np.flatnonzero(calls[:, 0] > 0).astype(np.int64)
    if typed.size == 0:
        return np.ones(space.n_states)
    if space.bits >= 12 and TREE_MARKERS:
        walk = _walk(space)
        f = space.family
        with _jit.threads(n_threads):
            return K.marker_emissions_tree(
                space.n_states, walk.levels, f.father.astype(np.int64), f.mother.astype(np.int64),
                space.pat_bit, space.mat_bit, space.founder_gene, space.n_genes, f.father < 0,
                np.ascontiguousarray(calls, dtype=np.int64),
                np.ascontiguousarray(freqs, dtype=np.float64),
                walk.wpat, walk.wmat, walk.level_of_wbit, walk.offsets,
            )  # fmt: skip
    ga = calls[typed, 0].astype(np.int64)
    gb = calls[typed, 1].astype(np.int64)
    with _jit.threads(n_threads):
        return K.marker_emissions(
            *space._args(), typed, ga, gb, np.ascontiguousarray(freqs, dtype=np.float64)
        )


def trait_emission(
    space: InheritanceSpace,
    status: np.ndarray,
    classes: np.ndarray,
    model: TraitModel,
    n_threads: int | None = None,
) -> np.ndarray:
    """P(the family's affection statuses | inheritance vector), every vector."""
    pheno = np.flatnonzero(status > 0).astype(np.int64)
    if pheno.size == 0:
        return np.ones(space.n_states)
    pen = np.asarray(model.penetrance, dtype=float)
    cls = np.asarray(classes)[pheno] - 1
    if np.any(cls < 0) or np.any(cls >= pen.shape[0]):
        raise ParameterError("liability class out of the model's range")
    affected = pen[cls]
    factors = np.where((status[pheno] == 2)[:, None], affected, 1.0 - affected)
    q = float(model.freq)
    factors_of = np.ones((space.family.n, 3))
    factors_of[pheno] = factors
    plan = _PeelPlan.of(space, status > 0)
    const = factors_of @ np.array([(1 - q) ** 2, 2 * q * (1 - q), q * q])
    rest = float(np.prod(const[plan.never]))
    if plan.last < 0:
        return np.full(space.n_states, rest)
    if plan.max_work <= PEEL_WIDTH:
        walk = _walk(space, plan.levels)
        f = space.family
        with _jit.threads(n_threads):
            return K.trait_emissions_peel(
                space.n_states, walk.levels, f.father.astype(np.int64),
                f.mother.astype(np.int64), space.pat_bit, space.mat_bit, space.founder_gene,
                walk.wpat, walk.wmat, walk.level_of_wbit, factors_of, q, plan.intro,
                plan.pend_ptr, plan.pend_slots, plan.last, rest, plan.max_live, plan.max_work,
            )  # fmt: skip
    with _jit.threads(n_threads):
        return K.trait_emissions(*space._args(), pheno, np.ascontiguousarray(factors), q)


#: Partial orders kept by the search for a trait walk's person order.
PEEL_BEAM = 16


_PEEL_ORDERS: dict[tuple, list[int]] = {}


def _peel_order(f: Family, todo: list[int], n_rel: list[int], free: list[int]) -> list[int]:
    """:func:`_search_peel_order`, remembered for pedigrees seen before."""
    key = (f.father.tobytes(), f.mother.tobytes(), tuple(todo), tuple(n_rel), tuple(free))
    if key not in _PEEL_ORDERS:
        if len(_PEEL_ORDERS) > 1024:
            _PEEL_ORDERS.clear()
        _PEEL_ORDERS[key] = _search_peel_order(f, todo, n_rel, free)
    return list(_PEEL_ORDERS[key])


def _search_peel_order(f: Family, todo: list[int], n_rel: list[int], free: list[int]) -> list[int]:
    """An order of the persons ``todo`` (parents first) for the trait walk.

    Level ``l`` is redone for each of the ``2^B`` outcomes of the meioses
    placed up to it (``B`` bits) and costs about ``2^W`` for the ``W`` founder
    genes it holds, so the order should hold many genes only near the top.
    A beam search over partial orders keeps the :data:`PEEL_BEAM` cheapest
    by ``sum 2^B (2^W + 8)`` (one per set of placed persons).
    """
    founder = f.father < 0
    # a partial order: (cost, bits, live bound, pending persons, placed, remaining children)
    State = tuple[float, int, int, int, tuple[int, ...], tuple[int, ...]]
    beam: list[State] = [(0.0, 0, 0, 0, (), tuple(n_rel))]
    for _ in range(len(todo)):
        nxt: dict[frozenset[int], State] = {}
        for cost, bits, live, pending, placed, remaining in beam:
            done = set(placed)
            for p in todo:
                if p in done:
                    continue
                parents = (int(f.father[p]), int(f.mother[p]))
                if any(not founder[r] and r not in done for r in parents):
                    continue
                rem = list(remaining)
                work = live
                now_pending = pending + (rem[p] > 0)
                for r in set(parents):
                    held = not founder[r] or rem[r] < n_rel[r]
                    work += 0 if held else 2
                    was = held and rem[r] > 0
                    rem[r] -= parents.count(r)
                    now_pending += int(rem[r] > 0) - int(was)
                b = bits + free[p]
                cand = (cost + 2.0**b * (2.0**work + 8.0), b, min(work, 2 * now_pending),
                        now_pending, (*placed, p), tuple(rem))  # fmt: skip
                key = frozenset(cand[4])
                if key not in nxt or cand[0] < nxt[key][0]:
                    nxt[key] = cand
        beam = sorted(nxt.values(), key=lambda c: c[0])[:PEEL_BEAM]
    return list(beam[0][4]) if beam else []


@dataclasses.dataclass(frozen=True)
class _PeelPlan:
    """The order in which a trait walk places the non-founders, and what it holds.

    Only persons who are phenotyped or have phenotyped descendants matter;
    they come first (``last`` is the index of the last of them), in the
    order :func:`_peel_order` finds.  The walk holds the founder genes of the
    slots of the *pending* persons (placed, or founders brought in, with
    relevant children still to place).  ``intro[l]``: founders
    whose first relevant child is level ``l`` (-1 none); the slots pending
    after level ``l`` are ``pend_slots[pend_ptr[l]:pend_ptr[l + 1]]``;
    ``never``: founders with no relevant child; ``max_live`` / ``max_work``:
    bounds on the genes held between levels / within one.
    """

    levels: np.ndarray
    last: int
    intro: np.ndarray
    pend_ptr: np.ndarray
    pend_slots: np.ndarray
    never: np.ndarray
    max_live: int
    max_work: int

    @classmethod
    def of(cls, space: InheritanceSpace, phenotyped: np.ndarray) -> _PeelPlan:
        f = space.family
        order = space.order.tolist()
        founder = f.father < 0
        children: list[list[int]] = [[] for _ in range(f.n)]
        for c in range(f.n):
            if not founder[c]:
                children[int(f.father[c])].append(c)
                children[int(f.mother[c])].append(c)
        relevant = np.asarray(phenotyped, dtype=bool).copy()
        for p in reversed(order):
            if any(relevant[c] for c in children[p]):
                relevant[p] = True
        todo = [p for p in order if not founder[p] and relevant[p]]
        n_rel = [sum(1 for c in children[p] if relevant[c]) for p in range(f.n)]
        free = [int(space.pat_bit[p] >= 0) + int(space.mat_bit[p] >= 0) for p in range(f.n)]
        placed = _peel_order(f, todo, n_rel, free)
        held = np.zeros(f.n, dtype=bool)  # placed non-founders and founders brought in
        remaining = list(n_rel)
        intro: list[list[int]] = []
        pend: list[list[int]] = []
        for p in placed:
            parents = (int(f.father[p]), int(f.mother[p]))
            intro.append([r for r in parents if founder[r] and not held[r]])
            for r in parents:
                held[r] = True
                remaining[r] -= 1
            held[p] = True
            pend.append([r for r in range(f.n) if held[r] and remaining[r] > 0])
        never = np.array([r for r in range(f.n) if founder[r] and not held[r]], dtype=np.int64)
        rest = [p for p in order if not founder[p] and not relevant[p]]
        levels = np.array(placed + rest, dtype=np.int64)
        n_levels = len(placed)
        intro_arr = np.full((max(n_levels, 1), 2), -1, dtype=np.int64)
        live, max_live, max_work = 0, 0, 0
        for lev in range(n_levels):
            intro_arr[lev, : len(intro[lev])] = intro[lev]
            work = live + 2 * len(intro[lev])
            max_work = max(max_work, work)
            live = min(work, 2 * len(pend[lev]))
            max_live = max(max_live, live)
        slots = [(r, s) for rs in pend for r in rs for s in (0, 1)]
        pend_ptr = np.concatenate([[0], np.cumsum([2 * len(rs) for rs in pend])]).astype(np.int64)
        return cls(
            levels, n_levels - 1, intro_arr, pend_ptr,
            np.array(slots, dtype=np.int64).reshape(-1, 2), never, max_live, max_work,
        )  # fmt: skip


def chain_loglik(
    space: InheritanceSpace,
    emissions: list[np.ndarray],
    thetas: list[float],
    n_threads: int | None = None,
) -> float:
    """Natural-log likelihood of loci in order with recombination fractions between them."""
    if len(thetas) != len(emissions) - 1:
        raise ParameterError("one recombination fraction per interval is needed")
    v = np.full(space.n_states, 1.0 / space.n_states)
    total = 0.0
    with _jit.threads(n_threads):
        for i, e in enumerate(emissions):
            if i:
                space.transition(v, float(thetas[i - 1]))
            v *= e
            s = float(v.sum())
            if not s > 0.0:
                return -math.inf
            total += math.log(s)
            v /= s
    return total


@dataclasses.dataclass
class Multipoint:
    """Per-family multipoint LODs at trait positions.

    ``lod[f, j]`` is family ``f``'s LOD at ``positions[j]`` (cM);
    ``loglik_markers[f]`` and ``loglik_trait[f]`` natural logs.
    """

    positions: np.ndarray
    lod: np.ndarray
    loglik_markers: np.ndarray
    loglik_trait: np.ndarray
    families: list[str]

    @property
    def total(self) -> np.ndarray:
        return self.lod.sum(axis=0)

    def hlod(self) -> tuple[np.ndarray, np.ndarray]:
        """Heterogeneity LOD and the admixture proportion alpha at each position."""
        return hlod(self.lod)


def hlod(lod: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """HLOD ``max_alpha sum_f log10(alpha 10^LOD_f + 1 - alpha)`` and its alpha.

    ``lod``: (families, positions).  A grid of 1,001 alphas, refined by golden
    section around the best; HLOD is at least 0 (alpha 0).
    """
    grid = np.linspace(0.0, 1.0, 1001)
    ratio = 10.0 ** np.clip(np.asarray(lod, dtype=float), -300, 300)  # (families, positions)
    values = np.log10(grid[:, None, None] * ratio[None] + (1.0 - grid[:, None, None])).sum(axis=1)
    best = np.argmax(values, axis=0)
    alpha = grid[best]
    out = values[best, np.arange(values.shape[1])]
    for j in range(out.size):
        lo, hi = max(0.0, alpha[j] - 1e-3), min(1.0, alpha[j] + 1e-3)

        def f(a: float, j: int = j) -> float:
            return float(np.log10(a * ratio[:, j] + 1.0 - a).sum())

        for _ in range(60):
            m1, m2 = lo + 0.382 * (hi - lo), lo + 0.618 * (hi - lo)
            if f(m1) < f(m2):
                lo = m1
            else:
                hi = m2
        a = 0.5 * (lo + hi)
        if f(a) > out[j]:
            alpha[j], out[j] = a, f(a)
    return np.maximum(out, 0.0), alpha


def _marker_theta(map_fn, a: float, b: float) -> float:
    return float(map_fn(abs(b - a)))


def multipoint(
    data: LinkageData,
    positions: np.ndarray,
    *,
    model: TraitModel | None = None,
    map_name: str = "haldane",
    markers: list[int] | None = None,
    n_threads: int | None = None,
    max_bits: int = MAX_BITS,
) -> Multipoint:
    """Multipoint parametric LOD of the trait at each position (cM), per family.

    The markers (all, or the indices given) are placed at their map
    positions; the trait is inserted at each position in turn.  LOD =
    log10 L(trait at x, markers) - log10 L(markers) - log10 L(trait).
    """
    model = model if model is not None else data.trait
    if model is None:
        raise ParameterError("a disease model is needed (--model)")
    map_fn = map_function(map_name)
    idx = list(range(len(data.markers))) if markers is None else list(markers)
    locs = [data.markers[i] for i in idx]
    cm = np.array([m.cm for m in locs], dtype=float)
    if locs and (np.any(~np.isfinite(cm)) or np.any(np.diff(cm) < 0)):
        raise ParameterError("marker positions must be known and in map order")
    positions = np.asarray(positions, dtype=float).copy()
    if cm.size:
        # a position within SNAP cM of a marker is the marker's (maps written from
        # rounded recombination fractions miss by ~1e-10 cM, and the LOD right
        # next to an incompatible marker changes fast)
        near = np.abs(positions[:, None] - cm[None, :])
        k = np.argmin(near, axis=1)
        snap = near[np.arange(positions.size), k] < SNAP
        positions[snap] = cm[k[snap]]
    names = [m.name for m in locs]
    lod = np.zeros((len(data.families), positions.size))
    ll_m = np.zeros(len(data.families))
    ll_t = np.zeros(len(data.families))
    for f, fam in enumerate(data.families):
        space = InheritanceSpace.of(fam, max_bits=max_bits)
        trait = trait_emission(space, data.affection[f], data.liability[f], model, n_threads)
        mean_t = float(trait.mean())
        if not mean_t > 0:
            raise InputFormatError(
                f"family {fam.id}: the affection statuses are impossible under the model "
                f"(penetrances {_penetrances(model)})",
                path=data.source or None,
            )
        ll_t[f] = math.log(mean_t)

        def emis(k: int, f: int = f, space: InheritanceSpace = space) -> np.ndarray:
            e = marker_emission(space, data.genotypes[f][:, idx[k], :], locs[k].freqs, n_threads)
            _consistent(e, space, locs[k].name, data.source)
            return e

        lod[f], ll_m[f] = _family_curve(
            space, emis, cm, positions, trait, map_fn, n_threads, names, data.source
        )
        lod[f] -= ll_t[f] / math.log(10.0)
    return Multipoint(positions, lod, ll_m, ll_t, [fam.id for fam in data.families])


def _family_curve(space, emis, cm, positions, trait, map_fn, n_threads, names=None, path=""):
    """log10 L(trait at x, markers) - log10 L(markers), and ln L(markers)."""
    out = np.empty(positions.size)
    if len(cm) == 0:
        return np.full(positions.size, math.log10(float(trait.mean()))), 0.0
    ln10 = math.log(10.0)

    def visit(j: int, left: np.ndarray, right: np.ndarray, den: float) -> None:
        num = float(K.dot3(left, trait, right))
        out[j] = (math.log(num) - math.log(den)) / ln10 if num > 0 else -math.inf

    loglik = scan_positions(
        space, emis, cm, positions, map_fn, visit, n_threads, names=names, path=path
    )
    return out, loglik


def scan_positions(
    space, emis, cm, positions, map_fn, visit, n_threads=None, *, names=None, path=""
) -> float:
    """Call ``visit(j, left, right, den)`` for every position; return ln L(markers).

    ``left * right`` is proportional to the posterior of the inheritance
    vector at ``positions[j]`` given all markers, ``left`` carrying the
    markers up to the position and ``right`` those beyond; ``den`` is the
    trait-free likelihood on the same scale.

    ``emis`` is a list of marker emission vectors or a function of the marker
    index that computes one.  When the forward vectors and emissions of all
    markers fit in :data:`MEMORY_BUDGET` they are kept; otherwise the forward
    pass keeps a checkpoint every ``ceil(sqrt(K))`` markers and the backward
    sweep recomputes one segment at a time (emissions computed again as
    needed, those of the segment recomputed last kept for the backward
    step), so memory is about ``5 sqrt(K)`` vectors.

    ``names`` (of the markers) and ``path`` (of the data) are named when the
    genotypes of markers at one position admit no inheritance vector together.
    """
    n = space.n_states
    k = len(cm)
    if k == 0:
        raise ParameterError("no markers to scan")
    get = emis if callable(emis) else emis.__getitem__
    fits = 8.0 * n * (2 * k + 4) <= MEMORY_BUDGET
    stride = 1 if fits else max(1, math.isqrt(max(k - 1, 0)) + 1)
    stored: dict[int, np.ndarray] = {}  # emissions kept when everything fits

    def emission(i: int) -> np.ndarray:
        if i in stored:
            return stored[i]
        e = get(i)
        if fits:
            stored[i] = e
        return e

    segment: dict[int, np.ndarray] = {}  # the emissions of the segment recomputed last

    def theta(i: int) -> float:
        return _marker_theta(map_fn, cm[i], cm[i + 1])

    right_of = np.searchsorted(cm, positions, side="right")
    right_of[positions == cm[0]] = 0  # at the first marker: its left end, as before it
    groups: dict[int, list[int]] = {}
    for j, r in enumerate(right_of.tolist()):
        groups.setdefault(int(r), []).append(j)
    # positions only before the first marker (the trait off the end of the map)
    # need no forward pass: the likelihood comes from the backward one
    need_forward = bool(np.any(right_of > 0))
    with _jit.threads(n_threads):
        # forward pass: normalised vectors at checkpoints, and the log-likelihood
        ckpt: dict[int, np.ndarray] = {}
        scale = 0.0
        v = np.empty(0)
        for i in range(k if need_forward else 0):
            # the prior is uniform over the vectors
            v = space.transition(v, theta(i - 1)) * emission(i) if i else emission(i) / n
            s = float(v.sum())
            if not s > 0:
                _inconsistent(space, cm, i, names, path)
            scale += math.log(s)
            v /= s
            if i % stride == 0:
                ckpt[i] = v.copy()
        fwd: dict[int, np.ndarray] = {}

        def forward(i: int) -> np.ndarray:
            if i in ckpt:
                return ckpt[i]
            if i not in fwd:  # recompute the segment from its checkpoint
                fwd.clear()
                segment.clear()
                start = i - i % stride
                w = ckpt[start]
                for m in range(start + 1, min(start + stride, k)):
                    segment[m] = emission(m)
                    w = space.transition(w.copy(), theta(m - 1)) * segment[m]
                    w /= float(w.sum())
                    fwd[m] = w
            return fwd[i]

        # backward sweep: bwd_next = P(markers after i + 1 | state at i + 1), normalised
        bwd_next = np.ones(n)
        bwd_scale = 0.0
        e_next: np.ndarray | None = None
        for i in range(k - 1, -1, -1):
            js = groups.get(i + 1, [])
            if i == k - 1:
                for j in js:
                    left = space.transition(forward(i).copy(), float(map_fn(positions[j] - cm[i])))
                    visit(j, left, np.ones(n), 1.0)
                bwd = np.ones(n)
            else:
                assert e_next is not None
                base_right = e_next * bwd_next
                if js:
                    f_i = forward(i)
                    base_left = space.transition(f_i.copy(), theta(i))
                    den = float(K.dot2(base_left, base_right))
                    for j in js:
                        x = positions[j]
                        left = space.transition(f_i.copy(), float(map_fn(x - cm[i])))
                        right = space.transition(base_right.copy(), float(map_fn(cm[i + 1] - x)))
                        visit(j, left, right, den)
                bwd = space.transition(base_right, theta(i))
                s_b = float(bwd.sum())
                if not s_b > 0:  # base_right, from marker i + 1 on, is zero
                    _inconsistent(space, cm, i + 1, names, path)
                bwd_scale += math.log(s_b)
                bwd /= s_b
            bwd_next = bwd
            e_next = segment.pop(i) if i in segment else emission(i)
        js = groups.get(0, [])
        if js or not need_forward:
            assert e_next is not None
            base_right = e_next * bwd_next
            den = float(base_right.sum()) / n
            if not need_forward:
                if not den > 0:
                    _inconsistent(space, cm, 0, names, path)
                scale = math.log(den) + bwd_scale
            uniform = np.full(n, 1.0 / n)
            for j in js:
                right = space.transition(base_right.copy(), float(map_fn(cm[0] - positions[j])))
                visit(j, uniform, right, den)
    return scale


def _penetrances(model: TraitModel) -> str:
    return "; ".join(",".join(f"{x:g}" for x in row) for row in np.asarray(model.penetrance))


def _consistent(emission: np.ndarray, space: InheritanceSpace, marker: str, path: str) -> None:
    """Refuse a marker whose genotypes no inheritance vector allows (a Mendelian error)."""
    if not float(emission.max()) > 0:
        raise InputFormatError(
            f"family {space.family.id}, marker {marker}: the genotypes are inconsistent with "
            "the pedigree (Mendelian error; 'seqem linkage check' names the persons, "
            "--zero-mendelian sets them missing)",
            path=path or None,
        )


def _inconsistent(
    space: InheritanceSpace, cm: np.ndarray, i: int, names: list[str] | None, path: str
) -> None:
    """Markers at one position whose genotypes fit no inheritance vector together."""
    at = float(cm[i])
    here = [names[m] for m in range(len(cm)) if cm[m] == at] if names else []
    which = f"markers {', '.join(here)}" if len(here) > 1 else "the markers"
    raise InputFormatError(
        f"family {space.family.id}: {which} at {at:g} cM fit no inheritance vector together "
        "(no recombination between markers at one position: a Mendelian error across them; "
        "move them apart on the map or set the genotypes missing)",
        path=path or None,
    )


def ordered_loglik(
    data: LinkageData,
    loci: list[str],
    thetas: list[float],
    *,
    model: TraitModel | None = None,
    n_threads: int | None = None,
    max_bits: int = MAX_BITS,
) -> np.ndarray:
    """Natural-log likelihood of each family for loci in a given order.

    ``loci`` names markers of ``data`` and, optionally, the trait
    (``data.trait_name``); ``thetas`` are the recombination fractions
    between adjacent loci (the way a LINKAGE datafile gives them).
    """
    model = model if model is not None else data.trait
    out = np.empty(len(data.families))
    for f, fam in enumerate(data.families):
        space = InheritanceSpace.of(fam, max_bits=max_bits)
        emis = locus_emissions(data, f, space, loci, model, n_threads)
        out[f] = chain_loglik(space, emis, list(thetas), n_threads)
    return out


def locus_emissions(
    data: LinkageData,
    f: int,
    space: InheritanceSpace,
    loci: list[str],
    model: TraitModel | None,
    n_threads: int | None = None,
) -> list[np.ndarray]:
    """Family ``f``'s emission vector at each named locus (markers, or the trait).

    A marker whose genotypes no inheritance vector allows is refused, naming
    the family and the marker.
    """
    out = []
    for name in loci:
        if name == data.trait_name:
            if model is None:
                raise ParameterError("a disease model is needed for the trait locus")
            status, classes = data.affection[f], data.liability[f]
            out.append(trait_emission(space, status, classes, model, n_threads))
            continue
        i = data.marker_index(name)
        e = marker_emission(space, data.genotypes[f][:, i, :], data.markers[i].freqs, n_threads)
        _consistent(e, space, name, data.source)
        out.append(e)
    return out


def twopoint(
    data: LinkageData,
    marker: str,
    thetas: np.ndarray,
    *,
    model: TraitModel | None = None,
    n_threads: int | None = None,
    max_bits: int = MAX_BITS,
) -> np.ndarray:
    """Two-point LOD of the trait against one marker at each recombination fraction.

    Returns an array (families, thetas): log10 L(theta) - log10 L(1/2).
    """
    model = model if model is not None else data.trait
    if model is None:
        raise ParameterError("a disease model is needed (--model)")
    thetas = np.asarray(thetas, dtype=float)
    if np.any(thetas < 0) or np.any(thetas > 0.5):
        raise ParameterError("recombination fractions must be in [0, 0.5]")
    i = data.marker_index(marker)
    out = np.empty((len(data.families), thetas.size))
    for f, fam in enumerate(data.families):
        space = InheritanceSpace.of(fam, max_bits=max_bits)
        trait = trait_emission(space, data.affection[f], data.liability[f], model, n_threads)
        emis = marker_emission(space, data.genotypes[f][:, i, :], data.markers[i].freqs, n_threads)
        _consistent(emis, space, marker, data.source)
        if not float(trait.mean()) > 0:
            raise InputFormatError(
                f"family {fam.id}: the affection statuses are impossible under the model "
                f"(penetrances {_penetrances(model)})",
                path=data.source or None,
            )
        base = float(emis.mean()) * float(trait.mean())
        with _jit.threads(n_threads):
            for j, theta in enumerate(thetas):
                moved = trait.copy()
                space.transition(moved, float(theta))
                value = float(K.dot2(emis, moved)) / space.n_states
                out[f, j] = math.log10(value / base) if value > 0 else -math.inf
    return out
