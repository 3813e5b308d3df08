"""Pedigrees, loci and phenotypes: what the linkage readers return.

A :class:`Family` is a set of persons with parents (indices, ``-1`` for a
founder) and sexes; :func:`check_family` finds the structural errors a user
can make (a missing parent, a parent of the wrong sex, a person who is their
own ancestor, persons unconnected to the rest, marriage or inbreeding loops).
:class:`LinkageData` holds families, marker loci on a map (cM), each
person's marker genotypes (allele indices, 0 missing) and affection status
with liability class, and the disease model (:class:`TraitModel`).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..errors import InputFormatError, ParameterError

__all__ = [
    "Family",
    "MarkerLocus",
    "TraitModel",
    "LinkageData",
    "check_family",
    "find_loop",
    "haldane",
    "kosambi",
    "haldane_cm",
    "kosambi_cm",
    "map_functions",
]


@dataclasses.dataclass(frozen=True)
class Family:
    """One pedigree.

    Attributes
    ----------
    id : str
    persons : tuple of str
        Person ids, in file order.
    father, mother : int arrays
        Parent indices into ``persons``; ``-1`` for a founder (both parents
        unknown).
    sex : int array
        1 male, 2 female, 0 unknown.
    """

    id: str
    persons: tuple[str, ...]
    father: np.ndarray
    mother: np.ndarray
    sex: np.ndarray

    @property
    def n(self) -> int:
        return len(self.persons)

    @property
    def founders(self) -> np.ndarray:
        return np.flatnonzero(self.father < 0)

    @property
    def nonfounders(self) -> np.ndarray:
        return np.flatnonzero(self.father >= 0)

    def bits(self) -> int:
        """Bits of the inheritance space: 2 x non-founders - founders with children."""
        parents = set(self.father[self.father >= 0].tolist()) | set(
            self.mother[self.mother >= 0].tolist()
        )
        with_children = sum(1 for f in self.founders.tolist() if f in parents)
        return 2 * len(self.nonfounders) - with_children

    def order(self) -> np.ndarray:
        """Persons with parents before children (stable otherwise)."""
        done = np.zeros(self.n, dtype=bool)
        out: list[int] = []
        while len(out) < self.n:
            progress = False
            for i in range(self.n):
                if done[i]:
                    continue
                f, m = int(self.father[i]), int(self.mother[i])
                if f < 0 or (done[f] and done[m]):
                    done[i] = True
                    out.append(i)
                    progress = True
            if not progress:  # pragma: no cover - check_family refuses cycles first
                raise InputFormatError("a person is their own ancestor", record=self.id)
        return np.array(out, dtype=np.int64)


def find_loop(family: Family) -> list[str] | None:
    """A marriage or inbreeding loop as a list of person ids, or None.

    The pedigree graph joins each child to a mating node of its parents and
    each parent to that node; a cycle in this graph is a loop.
    """
    # nodes: persons 0..n-1, matings n.. ; edges person-mating
    matings: dict[tuple[int, int], int] = {}
    edges: list[tuple[int, int]] = []
    for c in family.nonfounders.tolist():
        key = (int(family.father[c]), int(family.mother[c]))
        if key not in matings:
            node = family.n + len(matings)
            matings[key] = node
            edges += [(key[0], node), (key[1], node)]
        edges.append((c, matings[key]))
    size = family.n + len(matings)
    parent = list(range(size))

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    adjacency: dict[int, list[int]] = {}
    for a, b in edges:
        ra, rb = root(a), root(b)
        if ra == rb:
            # the path between a and b closes a cycle
            path = _path(adjacency, a, b)
            people = [family.persons[v] for v in path + [a] if v < family.n]
            return list(dict.fromkeys(people))
        parent[ra] = rb
        adjacency.setdefault(a, []).append(b)
        adjacency.setdefault(b, []).append(a)
    return None


def _path(adjacency: dict[int, list[int]], start: int, goal: int) -> list[int]:
    previous = {start: start}
    queue = [start]
    while queue:
        v = queue.pop(0)
        if v == goal:
            break
        for w in adjacency.get(v, []):
            if w not in previous:
                previous[w] = v
                queue.append(w)
    path = [goal]
    while path[-1] != start:
        path.append(previous[path[-1]])
    return path[::-1]


def check_family(family: Family, path: str | None = None, *, allow_loops: bool = False) -> None:
    """Refuse structural errors with a message naming the family and person."""
    fam = family.id
    for i, pid in enumerate(family.persons):
        f, m = int(family.father[i]), int(family.mother[i])
        if (f < 0) != (m < 0):
            raise InputFormatError(
                f"family {fam}: person {pid} has one parent given and one unknown "
                "(give both or neither)",
                path=path,
            )
        if f >= 0:
            if family.sex[f] == 2:
                raise InputFormatError(
                    f"family {fam}: person {family.persons[f]} is the father of {pid} "
                    "but is female",
                    path=path,
                )
            if family.sex[m] == 1:
                raise InputFormatError(
                    f"family {fam}: person {family.persons[m]} is the mother of {pid} but is male",
                    path=path,
                )
            if f == m:
                raise InputFormatError(
                    f"family {fam}: person {pid} has the same person as father and mother",
                    path=path,
                )
    # a person who is their own ancestor
    state = np.zeros(family.n, dtype=np.int8)  # 0 new, 1 on the stack, 2 done
    for start in range(family.n):
        if state[start]:
            continue
        stack = [(start, 0)]
        while stack:
            v, k = stack.pop()
            if k == 0:
                state[v] = 1
            parents = [int(family.father[v]), int(family.mother[v])]
            parents = [p for p in parents if p >= 0]
            if k < len(parents):
                stack.append((v, k + 1))
                p = parents[k]
                if state[p] == 1:
                    raise InputFormatError(
                        f"family {fam}: person {family.persons[p]} is their own ancestor",
                        path=path,
                    )
                if state[p] == 0:
                    stack.append((p, 0))
            else:
                state[v] = 2
    # connected
    if family.n > 1:
        parent = list(range(family.n))

        def root(x: int) -> int:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for c in family.nonfounders.tolist():
            for p in (int(family.father[c]), int(family.mother[c])):
                parent[root(c)] = root(p)
        roots = {root(i) for i in range(family.n)}
        if len(roots) > 1:
            alone = [family.persons[i] for i in range(family.n) if root(i) != root(0)]
            raise InputFormatError(
                f"family {fam}: persons {', '.join(alone[:5])} are not connected to "
                f"person {family.persons[0]} (split the family or fix the parents)",
                path=path,
            )
    if not allow_loops:
        loop = find_loop(family)
        if loop is not None:
            raise InputFormatError(
                f"family {fam}: the pedigree has a loop through persons {', '.join(loop)}; "
                "exact multipoint analysis over inheritance vectors handles loops, "
                "run with --allow-loops",
                path=path,
            )


@dataclasses.dataclass(frozen=True)
class MarkerLocus:
    """A marker with numbered alleles ``1..k`` (``labels`` as in the files)."""

    name: str
    labels: tuple[str, ...]
    freqs: np.ndarray
    chrom: str = ""
    cm: float = math.nan

    @property
    def n_alleles(self) -> int:
        return len(self.labels)


@dataclasses.dataclass(frozen=True)
class TraitModel:
    """A biallelic disease locus: allele 2 is the disease allele.

    ``penetrance[c, k]`` is P(affected | k disease alleles) in liability
    class ``c`` (classes numbered from 1 in the files, rows from 0 here).
    """

    name: str
    freq: float
    penetrance: np.ndarray
    label: str = ""

    def __post_init__(self) -> None:
        if not 0.0 < self.freq < 1.0:
            raise ParameterError(f"disease allele frequency must be in (0, 1), got {self.freq}")
        pen = np.asarray(self.penetrance, dtype=float)
        if pen.ndim != 2 or pen.shape[1] != 3:
            raise ParameterError("penetrances must be three probabilities per liability class")
        bad = ~((pen >= 0.0) & (pen <= 1.0))  # NaN included
        if np.any(bad):
            value = pen[bad][0]
            raise ParameterError(
                f"penetrance {value:g} is not a probability (three numbers in [0, 1] per "
                "liability class: P(affected | 0, 1, 2 disease alleles))"
            )


@dataclasses.dataclass
class LinkageData:
    """Families with their marker genotypes and affection phenotypes.

    Attributes
    ----------
    families : list of Family
    markers : list of MarkerLocus
        In map order.
    genotypes : list of int16 arrays (persons, markers, 2)
        Allele indices ``1..k`` (0 missing), per family.
    affection : list of int8 arrays (persons,)
        0 unknown, 1 unaffected, 2 affected.
    liability : list of int arrays (persons,)
        Liability class, from 1.
    trait : TraitModel or None
    trait_name : str
    source : str
        The file the persons were read from (named in error messages).
    notes : list of str
        What the reader decided on the user's behalf (frequencies estimated
        for markers absent from the frequency file, persons without a VCF
        sample ...): one line each, for the caller to show.
    """

    families: list[Family]
    markers: list[MarkerLocus]
    genotypes: list[np.ndarray]
    affection: list[np.ndarray]
    liability: list[np.ndarray]
    trait: TraitModel | None = None
    trait_name: str = "trait"
    source: str = ""
    notes: list[str] = dataclasses.field(default_factory=list)

    def marker_index(self, name: str) -> int:
        for i, m in enumerate(self.markers):
            if m.name == name:
                return i
        raise ParameterError(f"no marker named {name!r}")


def haldane(cm: np.ndarray | float) -> np.ndarray:
    """Recombination fraction of a map distance in cM (Haldane)."""
    d = np.asarray(cm, dtype=float) / 100.0
    return 0.5 * (1.0 - np.exp(-2.0 * np.abs(d)))


def haldane_cm(theta: np.ndarray | float) -> np.ndarray:
    """Map distance in cM of a recombination fraction (Haldane)."""
    t = np.minimum(np.asarray(theta, dtype=float), 0.5)
    with np.errstate(divide="ignore"):
        return -50.0 * np.log(1.0 - 2.0 * t)


def kosambi(cm: np.ndarray | float) -> np.ndarray:
    """Recombination fraction of a map distance in cM (Kosambi)."""
    d = np.asarray(cm, dtype=float) / 100.0
    return 0.5 * np.tanh(2.0 * np.abs(d))


def kosambi_cm(theta: np.ndarray | float) -> np.ndarray:
    """Map distance in cM of a recombination fraction (Kosambi)."""
    t = np.minimum(np.asarray(theta, dtype=float), 0.5)
    with np.errstate(divide="ignore"):
        return 25.0 * np.log((1.0 + 2.0 * t) / (1.0 - 2.0 * t))


def map_functions(name: str):  # type: ignore[no-untyped-def]
    """``(cM -> recombination fraction, recombination fraction -> cM)`` of a map function."""
    if name == "haldane":
        return haldane, haldane_cm
    if name == "kosambi":
        return kosambi, kosambi_cm
    raise ParameterError(f"map function must be 'haldane' or 'kosambi', got {name!r}")
