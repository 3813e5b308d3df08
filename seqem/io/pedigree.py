"""Pedigree files: MERLIN (.ped/.dat/.map/.freq/.model) and LINKAGE (pedfile + datafile).

Both readers return :class:`seqem.linkage.data.LinkageData`.  Every problem
is reported as an :class:`~seqem.errors.InputFormatError` naming the file,
line and, where there is one, the family and person.

MERLIN: ``.dat`` lists the columns after ``family person father mother sex``
(``A`` affection, ``M`` marker, ``T``/``C``/``Z`` one skipped column each,
``S[n]`` n skipped columns, ``E`` end); alleles are written ``1 2``, ``1/2``
or ``1/ 2`` (``0``, ``x`` or ``.`` missing), with any labels; ``.map`` holds
``CHROMOSOME MARKER POSITION`` (cM); ``.freq`` ``M name`` followed by ``F``
lines (frequencies of alleles 1..k) or ``A label freq`` lines; ``.model``
``AFFECTION disease_allele_freq f0,f1,f2 label`` (penetrance for 0, 1, 2
disease alleles).  Without ``.freq``, allele frequencies are counted in the
typed founders (everyone when no founder is typed; an allele seen only in
non-founders counts once).

LINKAGE: the datafile's loci are affection loci (with liability classes)
and numbered-allele loci; the pedfile is read pre-makeped (``ped person
father mother sex`` then the phenotypes in the datafile's input order) or
post-makeped (nine leading columns), told apart by the column count.
Recombination fractions between adjacent loci of the datafile's order line
become a Haldane map for the markers; a fraction of 1/2 between two markers
(unlinked) starts a new linkage group, numbered as a chromosome.

Models of a ``.model`` file are matched to the ``.dat``'s affection traits by
name.  Markers absent from the ``.freq`` file get frequencies counted in the
typed founders, as MERLIN does (and the reader says so in
``LinkageData.notes``).  Markers must be on autosomes, with positions in cM
(beyond 1000 cM a map is taken for base pairs and refused).
"""

from __future__ import annotations

import dataclasses
import gzip
import math
import os
import re
from collections.abc import Iterator

import numpy as np

from ..errors import InputFormatError, ParameterError
from ..linkage.data import Family, LinkageData, MarkerLocus, TraitModel, haldane_cm

__all__ = [
    "read_merlin",
    "read_model",
    "read_linkage",
    "LinkageDatafile",
    "read_linkage_datafile",
    "read_fam_vcf",
]

MISSING = {"0", "x", "X", "."}


def _lines(path: str) -> Iterator[tuple[int, str]]:
    if not os.path.exists(path):
        raise InputFormatError("no such file", path=path)
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rt") as fh:  # type: ignore[operator]
            for number, line in enumerate(fh, start=1):
                yield number, line.rstrip("\n")
    except (UnicodeDecodeError, OSError) as exc:
        raise InputFormatError(f"not a readable text file ({exc})", path=path) from None


@dataclasses.dataclass
class _Columns:
    affection: list[str]
    markers: list[str]
    layout: list[tuple[str, str, int]]  # (kind, name, n_fields) per item


def _read_dat(path: str) -> _Columns:
    layout: list[tuple[str, str, int]] = []
    affection: list[str] = []
    markers: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    for number, line in _lines(path):
        tokens = line.split()
        if not tokens:
            continue
        kind = tokens[0].upper()
        name = tokens[1] if len(tokens) > 1 else ""
        if kind == "E":
            break
        if kind == "A":
            layout.append(("A", name, 1))
            affection.append(name)
        elif kind == "M":
            layout.append(("M", name, 2))
            markers.append(name)
        elif kind in ("T", "C"):
            layout.append((kind, name, 1))
        elif kind == "Z":
            layout.append(("skip", name, 1))
        elif kind.startswith("S"):
            count = kind[1:] or (tokens[1] if len(tokens) > 1 else "1")
            n = int(count) if count.isdigit() else -1
            if n < 0:
                raise InputFormatError(f"bad skip item {line.strip()!r}", path=path, line=number)
            layout.append(("skip", "", n))
        else:
            raise InputFormatError(
                f"unknown item type {tokens[0]!r} (expected A, T, C, M, S, Z or E)",
                path=path,
                line=number,
            )
        if kind in ("A", "M", "T", "C"):
            if not name:
                raise InputFormatError(f"item {kind} without a name", path=path, line=number)
            what = "marker" if kind == "M" else "trait"
            if (what, name) in seen:
                raise InputFormatError(
                    f"{what} {name} is listed twice (lines {seen[what, name]} and {number})",
                    path=path,
                    line=number,
                )
            seen[what, name] = number
    return _Columns(affection, markers, layout)


def _split_alleles(tokens: list[str]) -> list[str]:
    """Tokens with ``a/b`` and ``a/ b`` forms split into single alleles."""
    out: list[str] = []
    for t in tokens:
        out += [p for p in t.split("/") if p != ""] if "/" in t else [t]
    return out


#: Positions beyond this (cM) are no genetic map: no chromosome is that long.
MAX_CM = 1000.0

#: Chromosome names that are not autosomes (with or without a ``chr`` prefix).
_NOT_AUTOSOMES = frozenset({"X", "Y", "MT", "M"})


def _not_autosome(chrom: str) -> bool:
    """Whether a chromosome name is X, Y or mitochondrial (``chr`` prefix allowed)."""
    name = chrom.upper()
    return (name[3:] if name.startswith("CHR") else name) in _NOT_AUTOSOMES


def _autosomal(
    chrom: str,
    marker: str,
    path: str,
    line: int | None = None,
    *,
    fix: str = "leave its markers out",
) -> None:
    if _not_autosome(chrom):
        raise InputFormatError(
            f"marker {marker} is on chromosome {chrom}: only autosomes are analysed "
            f"(X-linked, Y and mitochondrial inheritance are not supported); {fix}",
            path=path,
            line=line,
        )


def _read_map(path: str) -> dict[str, tuple[str, float, int]]:
    """``marker -> (chromosome, position in cM, line)``."""
    out: dict[str, tuple[str, float, int]] = {}
    for number, line in _lines(path):
        tokens = line.split()
        if not tokens or tokens[0].startswith("#"):
            continue
        if len(tokens) < 3:
            raise InputFormatError("expected CHROMOSOME MARKER POSITION", path=path, line=number)
        try:
            pos = float(tokens[2])
        except ValueError:
            if number == 1 or tokens[0].upper().startswith("CHR"):
                continue  # header
            raise InputFormatError(
                f"position {tokens[2]!r} is not a number", path=path, line=number
            ) from None
        if not math.isfinite(pos):
            raise InputFormatError(f"position {tokens[2]!r} is not finite", path=path, line=number)
        if abs(pos) > MAX_CM:
            raise InputFormatError(
                f"marker {tokens[1]}: position {tokens[2]} cM is beyond the genetic length of "
                f"any chromosome ({MAX_CM:g} cM); the map looks like base pairs: give "
                "positions in cM",
                path=path,
                line=number,
            )
        if tokens[1] in out:
            raise InputFormatError(
                f"marker {tokens[1]} listed twice (lines {out[tokens[1]][2]} and {number})",
                path=path,
                line=number,
            )
        out[tokens[1]] = (tokens[0], pos, number)
    return out


def _read_freq(path: str) -> dict[str, tuple[list[str], list[float], int]]:
    """``marker -> (allele labels, frequencies, line of its M line)``."""
    out: dict[str, tuple[list[str], list[float], int]] = {}
    current: str | None = None
    for number, line in _lines(path):
        tokens = line.split()
        if not tokens or tokens[0].startswith("#"):
            continue
        kind = tokens[0].upper()
        if kind == "M":
            if len(tokens) < 2:
                raise InputFormatError("M line without a marker name", path=path, line=number)
            current = tokens[1]
            if current in out:
                raise InputFormatError(
                    f"marker {current} is listed twice (lines {out[current][2]} and {number})",
                    path=path,
                    line=number,
                )
            out[current] = ([], [], number)
        elif kind in ("F", "A"):
            if current is None:
                raise InputFormatError(f"{kind} line before any M line", path=path, line=number)
            labels, freqs, _ = out[current]
            if kind == "F":
                items = [(str(len(labels) + k + 1), t) for k, t in enumerate(tokens[1:])]
            elif len(tokens) == 3:
                items = [(tokens[1], tokens[2])]
            else:
                raise InputFormatError(
                    f"malformed line {line.strip()!r} (expected A LABEL FREQUENCY)",
                    path=path,
                    line=number,
                )
            for label, text in items:
                try:
                    value = float(text)
                except ValueError:
                    value = math.nan
                if not 0.0 <= value <= 1.0:
                    raise InputFormatError(
                        f"marker {current}: frequency {text!r} of allele {label} is not a "
                        "number in [0, 1]",
                        path=path,
                        line=number,
                    )
                if label in labels:
                    raise InputFormatError(
                        f"marker {current}: allele {label} is listed twice", path=path, line=number
                    )
                labels.append(label)
                freqs.append(value)
        else:
            raise InputFormatError(
                f"unknown line type {tokens[0]!r} (expected M, F or A)", path=path, line=number
            )
    if not out:
        raise InputFormatError(
            "no marker in the file (expected M NAME lines, each followed by F or A lines)",
            path=path,
        )
    for name, (labels, _, number) in out.items():
        if not labels:
            raise InputFormatError(
                f"marker {name} has no allele frequencies (F or A lines)", path=path, line=number
            )
    return out


def read_model(
    path: str, traits: list[str] | None = None, *, where: str = "the data file"
) -> dict[str, TraitModel]:
    """Disease models of a MERLIN ``.model`` file, by trait name.

    Each line is ``TRAIT disease_allele_freq f0,f1,f2 [label]``.  With
    ``traits`` (the affection traits of the data file ``where``), a model of
    any other trait is refused; a second model for one trait is refused too
    (one model is analysed per run).
    """
    path = os.fspath(path)
    models: dict[str, tuple[TraitModel, int]] = {}
    for number, line in _lines(path):
        tokens = line.split()
        if not tokens or tokens[0].startswith("#"):
            continue
        if len(tokens) < 3:
            raise InputFormatError(
                "expected TRAIT disease_allele_freq f0,f1,f2 [label]", path=path, line=number
            )
        name = tokens[0]
        if traits is not None and name not in traits:
            known = ", ".join(traits) if traits else "none"
            raise InputFormatError(
                f"trait {name!r} is not an affection trait of {where} (its A items: {known})",
                path=path,
                line=number,
            )
        if name in models:
            raise InputFormatError(
                f"a second model for trait {name} (line {models[name][1]} has one; one model "
                "per trait is analysed: keep one line)",
                path=path,
                line=number,
            )
        try:
            freq = float(tokens[1])
            pen = [float(x) for x in tokens[2].split(",")]
        except ValueError:
            raise InputFormatError(
                f"malformed model {line.strip()!r}", path=path, line=number
            ) from None
        if len(pen) != 3:
            raise InputFormatError("three penetrances are needed (0, 1, 2 disease alleles)",
                                   path=path, line=number)  # fmt: skip
        try:
            model = TraitModel(name, freq, np.array([pen]), " ".join(tokens[3:]) or name)
        except ValueError as exc:
            raise InputFormatError(str(exc), path=path, line=number) from None
        models[name] = (model, number)
    if not models:
        raise InputFormatError("no model in the file", path=path)
    return {name: m for name, (m, _) in models.items()}


def _check_numbers(rows: list[tuple[int, list[str]]], columns: _Columns, path: str) -> None:
    """Refuse a quantitative trait or covariate value that is neither a number nor missing."""
    at = 5
    numeric = []
    for kind, name, n in columns.layout:
        if kind in ("T", "C"):
            numeric.append((at, "trait" if kind == "T" else "covariate", name))
        at += n
    for number, tokens in rows:
        for col, what, name in numeric:
            value = tokens[col]
            if value in MISSING:
                continue
            try:
                ok = math.isfinite(float(value))
            except ValueError:
                ok = False
            if not ok:
                raise InputFormatError(
                    f"family {tokens[0]}: person {tokens[1]}: {what} {name} value {value!r} is "
                    "not a number (x for missing)",
                    path=path,
                    line=number,
                )


def read_merlin(
    ped: str,
    dat: str,
    map: str | None = None,  # noqa: A002 - the file's name
    freq: str | None = None,
    model: str | None = None,
    *,
    trait: str | None = None,
) -> LinkageData:
    """Read a MERLIN data set (markers in map order; the first affection trait, or ``trait``).

    A model file must name affection traits of the data file, one model each,
    and have one for the trait analysed.  Markers absent from the frequency
    file get frequencies counted in the typed founders, as MERLIN does;
    that, and markers of the frequency file that the data file lacks, are
    told in :attr:`LinkageData.notes`.  Markers must be on autosomes.
    """
    ped, dat = os.fspath(ped), os.fspath(dat)
    columns = _read_dat(dat)
    n_fields = sum(n for _, _, n in columns.layout)
    rows: list[tuple[int, list[str]]] = []
    for number, line in _lines(ped):
        tokens = _split_alleles(line.split())
        if not tokens or tokens[0].lower() == "end" or tokens[0].startswith("#"):
            continue
        if len(tokens) != 5 + n_fields:
            raise InputFormatError(
                f"{len(tokens)} fields where {dat} implies {5 + n_fields} "
                "(family person father mother sex, then the data items)",
                path=ped,
                line=number,
            )
        rows.append((number, tokens))
    if not rows:
        raise InputFormatError("no persons in the file", path=ped)
    _check_numbers(rows, columns, ped)
    affection_col = None
    chosen = trait if trait is not None else (columns.affection[0] if columns.affection else None)
    marker_cols: dict[str, int] = {}
    at = 5
    for kind, name, n in columns.layout:
        if kind == "A" and name == chosen:
            affection_col = at
        if kind == "M":
            marker_cols[name] = at
        at += n
    if trait is not None and affection_col is None:
        raise InputFormatError(f"no affection trait named {trait!r}", path=dat)
    trait_model = None
    if model:
        models = read_model(model, columns.affection, where=dat)
        if chosen not in models:
            raise InputFormatError(
                f"no model for trait {chosen} (the file has models for {', '.join(models)})",
                path=model,
            )
        trait_model = models[chosen]
    notes: list[str] = []
    names = columns.markers
    mapped = _read_map(map) if map else {}
    if map:
        missing = [m for m in names if m not in mapped]
        if missing:
            raise InputFormatError(
                f"markers {', '.join(missing[:5])} of {dat} are not in the map", path=map
            )
        for m in names:
            _autosomal(mapped[m][0], m, map, mapped[m][2])
        names = sorted(names, key=lambda m: (mapped[m][0], mapped[m][1]))
    freqs = _read_freq(freq) if freq else {}
    if freq:
        extra = [m for m in freqs if m not in marker_cols]
        if extra:
            more = " ..." if len(extra) > 5 else ""
            notes.append(f"{freq}: {len(extra)} marker(s) not in {dat} ignored: "
                         f"{', '.join(extra[:5])}{more}")  # fmt: skip
    raw = {m: [(row[0], row[1][marker_cols[m]], row[1][marker_cols[m] + 1]) for row in rows]
           for m in names}  # fmt: skip
    founder_rows = [i for i, (_, t) in enumerate(rows) if t[2] in MISSING and t[3] in MISSING]
    markers = []
    freq_source: dict[str, str] = {}
    for m in names:
        chrom, cm, _ = mapped.get(m, ("", math.nan, 0))
        if m in freqs:
            labels, fr, number = freqs[m]
            f = np.array(fr, dtype=float)
            if not math.isclose(f.sum(), 1.0, abs_tol=1e-3):
                raise InputFormatError(
                    f"allele frequencies of {m} sum to {f.sum():g}, not to one",
                    path=freq,
                    line=number,
                )
            freq_source[m] = str(freq)
        else:
            labels, f = _estimate_frequencies(raw[m], [raw[m][i] for i in founder_rows], m, ped)
            if freq:
                notes.append(f"{freq}: no frequencies for marker {m}: counted in the typed "
                             "founders")  # fmt: skip
        markers.append(MarkerLocus(m, tuple(labels), f / f.sum(), chrom, cm))
    families, genotypes, affection, liability = _build_families(
        rows, ped, markers, raw, affection_col, pre_columns=5
    )
    _check_observed_alleles(markers, families, genotypes, freq_source)
    return LinkageData(
        families, markers, genotypes, affection, liability, trait_model,
        trait_name=chosen or "trait", source=ped, notes=notes,
    )  # fmt: skip


def _check_observed_alleles(
    markers: list[MarkerLocus],
    families: list[Family],
    genotypes: list[np.ndarray],
    source: dict[str, str],
) -> None:
    """Refuse an allele that someone carries but whose frequency is 0 (no founder could pass
    it on: every likelihood would be 0)."""
    for j, m in enumerate(markers):
        zero = np.flatnonzero(np.asarray(m.freqs) <= 0.0) + 1
        if zero.size == 0:
            continue
        for fam, calls in zip(families, genotypes, strict=True):
            hit = np.argwhere(np.isin(calls[:, j, :], zero))
            if hit.size:
                p, h = hit[0]
                allele = m.labels[int(calls[p, j, h]) - 1]
                raise InputFormatError(
                    f"marker {m.name}: allele {allele} has frequency 0 but family {fam.id}: "
                    f"person {fam.persons[p]} carries it (give it a frequency > 0)",
                    path=source.get(m.name),
                )


def _estimate_frequencies(
    calls: list[tuple[int, str, str]],
    founder_calls: list[tuple[int, str, str]],
    marker: str,
    path: str,
) -> tuple[list[str], np.ndarray]:
    """Allele frequencies counted in the typed founders (everyone if no founder is typed).

    Every allele seen in anyone is listed; one seen only in non-founders
    counts once.
    """

    def count(rows: list[tuple[int, str, str]]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for _, a, b in rows:
            for x in (a, b):
                if x not in MISSING:
                    counts[x] = counts.get(x, 0) + 1
        return counts

    everyone = count(calls)
    if not everyone:
        raise InputFormatError(f"marker {marker} has no typed allele", path=path)
    founders = count(founder_calls) or everyone

    def key(label: str) -> tuple[int, float, str]:
        try:
            return (0, float(label), label)
        except ValueError:
            return (1, 0.0, label)

    labels = sorted(everyone, key=key)
    f = np.array([max(founders.get(x, 0), 1) for x in labels], dtype=float)
    return labels, f / f.sum()


def _build_families(
    rows: list[tuple[int, list[str]]],
    path: str,
    markers: list[MarkerLocus],
    raw: dict[str, list[tuple[int, str, str]]],
    affection_col: int | None,
    *,
    pre_columns: int,
    liability_col: int | None = None,
    sex_col: int = 4,
    person_order: list[int] | None = None,
) -> tuple[list[Family], list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    by_family: dict[str, list[int]] = {}
    for i, (_, t) in enumerate(rows):
        by_family.setdefault(t[0], []).append(i)
    families, genotypes, affection, liability = [], [], [], []
    index = {m.name: {label: k + 1 for k, label in enumerate(m.labels)} for m in markers}
    for fam, members in by_family.items():
        ids = [rows[i][1][1] for i in members]
        if len(set(ids)) != len(ids):
            dup = next(x for x in ids if ids.count(x) > 1)
            raise InputFormatError(f"family {fam}: person {dup} listed twice", path=path)
        pos = {pid: k for k, pid in enumerate(ids)}
        father = np.full(len(ids), -1, dtype=np.int64)
        mother = np.full(len(ids), -1, dtype=np.int64)
        sex = np.zeros(len(ids), dtype=np.int64)
        status = np.zeros(len(ids), dtype=np.int8)
        classes = np.ones(len(ids), dtype=np.int64)
        calls = np.zeros((len(ids), len(markers), 2), dtype=np.int16)
        for k, i in enumerate(members):
            number, t = rows[i]
            for col, arr in ((2, father), (3, mother)):
                if t[col] not in MISSING:
                    if t[col] not in pos:
                        which = "father" if col == 2 else "mother"
                        raise InputFormatError(
                            f"family {fam}: {which} {t[col]} of person {t[1]} is not in the family",
                            path=path,
                            line=number,
                        )
                    arr[k] = pos[t[col]]
            s = t[sex_col]
            if s not in ("0", "1", "2", "x", "X"):
                raise InputFormatError(
                    f"family {fam}: person {t[1]}: sex {s!r} is not 1, 2 or 0",
                    path=path,
                    line=number,
                )
            sex[k] = int(s) if s.isdigit() else 0
            if affection_col is not None:
                a = t[affection_col]
                if a in MISSING or a == "-9":
                    status[k] = 0
                elif a in ("1", "2"):
                    status[k] = int(a)
                else:
                    raise InputFormatError(
                        f"family {fam}: person {t[1]}: affection {a!r} is not 1, 2 or 0",
                        path=path,
                        line=number,
                    )
                if liability_col is not None:
                    try:
                        classes[k] = int(t[liability_col])
                    except ValueError:
                        raise InputFormatError(
                            f"family {fam}: person {t[1]}: liability class {t[liability_col]!r}",
                            path=path,
                            line=number,
                        ) from None
            for j, m in enumerate(markers):
                _, a, b = raw[m.name][i]
                if (a in MISSING) != (b in MISSING):
                    raise InputFormatError(
                        f"family {fam}: person {t[1]}: marker {m.name} has one allele missing",
                        path=path,
                        line=number,
                    )
                if a in MISSING:
                    continue
                for h, x in enumerate((a, b)):
                    if x not in index[m.name]:
                        raise InputFormatError(
                            f"family {fam}: person {t[1]}: allele {x} of marker {m.name} is not "
                            f"in its allele list ({', '.join(m.labels)})",
                            path=path,
                            line=number,
                        )
                    calls[k, j, h] = index[m.name][x]
        families.append(Family(fam, tuple(ids), father, mother, sex))
        genotypes.append(calls)
        affection.append(status)
        liability.append(classes)
    return families, genotypes, affection, liability


@dataclasses.dataclass
class LinkageDatafile:
    """The loci of a LINKAGE datafile, in input order, with the order line and map."""

    names: list[str]
    kinds: list[str]  # "affection" or "marker"
    markers: dict[str, MarkerLocus]
    trait: TraitModel | None
    order: list[int]  # input-order indices, as the order line gives them
    thetas: np.ndarray  # between adjacent loci of the order line
    sex_linked: bool


def _datafile_lines(path: str) -> list[tuple[int, list[str], str]]:
    out = []
    for number, line in _lines(path):
        body, _, comment = line.partition("<<")
        tokens = body.split()
        if tokens:
            out.append((number, tokens, comment))
    return out


def read_linkage_datafile(path: str) -> LinkageDatafile:
    """Parse a LINKAGE datafile (affection and numbered-allele loci)."""
    path = os.fspath(path)
    lines = _datafile_lines(path)
    pos = 0

    def take(what: str) -> tuple[int, list[str], str]:
        nonlocal pos
        if pos >= len(lines):
            raise InputFormatError(f"file ends where {what} was expected", path=path)
        pos += 1
        return lines[pos - 1]

    def numbers(entry: tuple[int, list[str], str], count: int | None, what: str) -> list[float]:
        number, tokens, _ = entry
        try:
            values = [float(t) for t in (tokens if count is None else tokens[:count])]
        except ValueError:
            raise InputFormatError(f"{what}: expected numbers", path=path, line=number) from None
        if count is not None and len(values) < count:
            raise InputFormatError(
                f"{what}: expected {count} numbers, found {len(values)}", path=path, line=number
            )
        return values

    def integers(entry: tuple[int, list[str], str], count: int, what: str) -> list[int]:
        values = numbers(entry, count, what)
        if not all(math.isfinite(v) and v == int(v) for v in values):
            raise InputFormatError(f"{what}: expected whole numbers", path=path, line=entry[0])
        return [int(v) for v in values]

    head = integers(take("the number of loci"), 4, "first line")
    n_loci, sex_linked = head[0], bool(head[2])
    if n_loci < 1:
        raise InputFormatError(f"first line: {n_loci} loci", path=path, line=lines[0][0])
    numbers(take("the mutation line"), 4, "second line")
    order_entry = take("the locus order")
    order = [x - 1 for x in integers(order_entry, n_loci, "order line")]
    if sorted(order) != list(range(n_loci)):
        raise InputFormatError(
            f"the order line is not a permutation of 1..{n_loci}", path=path, line=order_entry[0]
        )
    names: list[str] = []
    kinds: list[str] = []
    markers: dict[str, MarkerLocus] = {}
    trait: TraitModel | None = None
    for locus in range(n_loci):
        entry = take(f"locus {locus + 1}")
        number, tokens, comment = entry
        if len(tokens) < 2:
            raise InputFormatError("expected: locus type and number of alleles", path=path,
                                   line=number)  # fmt: skip
        kind, n_alleles = integers(entry, 2, f"locus {locus + 1}: locus type and allele count")
        name = ""
        if "#" in tokens:
            name = " ".join(tokens[tokens.index("#") + 1 :])
        if not name:
            found = re.search(r"Locus\s+(\S+)", comment)
            name = found.group(1) if found else f"locus{locus + 1}"
        if name in names:
            raise InputFormatError(
                f"locus name {name} is used twice (loci {names.index(name) + 1} and "
                f"{locus + 1}); give each locus its own name",
                path=path,
                line=number,
            )
        if n_alleles < 1:
            raise InputFormatError(f"locus {name}: {n_alleles} alleles", path=path, line=number)
        freq_entry = take(f"allele frequencies of {name}")
        freqs = np.array(numbers(freq_entry, n_alleles, name))
        bad = ~((freqs >= 0.0) & (freqs <= 1.0))
        if np.any(bad):
            raise InputFormatError(
                f"locus {name}: allele frequency {freqs[bad][0]:g} is not a number in [0, 1]",
                path=path,
                line=freq_entry[0],
            )
        if not math.isclose(float(freqs.sum()), 1.0, abs_tol=1e-3):
            raise InputFormatError(
                f"locus {name}: allele frequencies sum to {freqs.sum():g}, not to one",
                path=path,
                line=freq_entry[0],
            )
        if kind == 1:
            n_classes = integers(take("the number of liability classes"), 1, name)[0]
            if n_classes < 1:
                raise InputFormatError(f"affection locus {name}: {n_classes} liability classes",
                                       path=path, line=number)  # fmt: skip
            pen = np.array([numbers(take("penetrances"), 3, name) for _ in range(n_classes)])
            if n_alleles != 2:
                raise InputFormatError(f"affection locus {name}: only two alleles are supported",
                                       path=path, line=number)  # fmt: skip
            if trait is not None:
                raise InputFormatError("more than one affection locus", path=path, line=number)
            try:
                trait = TraitModel(name, float(freqs[1] / freqs.sum()), pen, name)
            except ValueError as exc:
                raise InputFormatError(str(exc), path=path, line=number) from None
            kinds.append("affection")
        elif kind == 3:
            labels = tuple(str(k + 1) for k in range(n_alleles))
            markers[name] = MarkerLocus(name, labels, freqs / freqs.sum())
            kinds.append("marker")
        else:
            what = {0: "quantitative", 2: "binary-factor"}.get(kind, f"type {kind}")
            raise InputFormatError(
                f"locus {name}: {what} loci are not supported (affection and numbered alleles are)",
                path=path,
                line=number,
            )
        names.append(name)
    sexdif = numbers(take("the sex-difference line"), 2, "sex difference")
    theta_entry = take("the recombination fractions")
    thetas = np.array(numbers(theta_entry, n_loci - 1, "thetas"))
    if sexdif[0] != 0:
        raise InputFormatError("sex-specific recombination in the datafile is not supported",
                               path=path)  # fmt: skip
    for k, theta in enumerate(thetas.tolist()):
        if not 0.0 <= theta <= 0.5:
            left, right = names[order[k]], names[order[k + 1]]
            raise InputFormatError(
                f"recombination fraction {theta_entry[1][k]!r} between {left} and {right} is "
                "not a number in [0, 0.5]",
                path=path,
                line=theta_entry[0],
            )
    return LinkageDatafile(names, kinds, markers, trait, order, thetas, sex_linked)


def read_linkage(ped: str, dat: str) -> LinkageData:
    """Read a LINKAGE pedfile (pre- or post-makeped) with its datafile.

    The markers come in the order line's order, placed on a Haldane map from
    the datafile's recombination fractions between adjacent markers (the
    trait's place in the order line is ignored: its position is what a LOD
    analysis varies).  Markers with a fraction of 1/2 between them are unlinked:
    each such break starts a new linkage group (chromosome 2, 3, ...).
    """
    ped, dat = os.fspath(ped), os.fspath(dat)
    df = read_linkage_datafile(dat)
    if df.sex_linked:
        raise InputFormatError("sex-linked (X) data are not supported", path=dat)
    widths = []
    for kind in df.kinds:
        if kind == "marker":
            widths.append(2)
        else:
            assert df.trait is not None
            widths.append(2 if df.trait.penetrance.shape[0] > 1 else 1)
    n_pheno = sum(widths)
    rows: list[tuple[int, list[str]]] = []
    post: bool | None = None
    for number, line in _lines(ped):
        tokens = line.split()
        if not tokens:
            continue
        if post is None:
            if len(tokens) == 5 + n_pheno:
                post = False
            elif len(tokens) >= 9 + n_pheno:
                post = True
            else:
                raise InputFormatError(
                    f"{len(tokens)} columns: {dat} implies {5 + n_pheno} (pre-makeped) or at "
                    f"least {9 + n_pheno} (post-makeped)",
                    path=ped,
                    line=number,
                )
        want = 9 + n_pheno if post else 5 + n_pheno
        if len(tokens) < want or (not post and len(tokens) != want):
            raise InputFormatError(
                f"{len(tokens)} columns where the first line had {want}", path=ped, line=number
            )
        if post:
            if tokens[8] not in ("0", "1"):
                raise InputFormatError(
                    f"family {tokens[0]}: person {tokens[1]} is a loop-breaker copy (proband "
                    f"{tokens[8]}); give the pedigree without copies",
                    path=ped,
                    line=number,
                )
            tokens = tokens[:4] + [tokens[7]] + tokens[9 : 9 + n_pheno]
        rows.append((number, tokens))
    if not rows:
        raise InputFormatError("no persons in the file", path=ped)
    # phenotype columns in input order
    at = 5
    affection_col = liability_col = None
    marker_col: dict[str, int] = {}
    for name, kind, w in zip(df.names, df.kinds, widths, strict=True):
        if kind == "affection":
            affection_col = at
            liability_col = at + 1 if w == 2 else None
        else:
            marker_col[name] = at
        at += w
    ordered = [df.names[i] for i in df.order]
    marker_names = [n for n in ordered if n in df.markers]
    notes: list[str] = []
    group, cm = 1, 0.0
    positions: dict[str, tuple[str, float]] = {}
    previous = None
    for k, name in enumerate(ordered):
        if name in df.markers:
            if previous is not None:
                # recombination between the two markers across any locus between them
                thetas = df.thetas[previous:k]
                theta = 0.5 * (1.0 - float(np.prod(1.0 - 2.0 * thetas)))
                if theta >= 0.5:
                    group += 1
                    cm = 0.0
                    notes.append(
                        f"{dat}: recombination fraction 1/2 between {ordered[previous]} and "
                        f"{name}: unlinked; {name} starts linkage group {group} (chrom {group})"
                    )
                else:
                    cm += float(haldane_cm(theta))
            positions[name] = (str(group), cm)
            previous = k
    markers = [
        dataclasses.replace(df.markers[n], chrom=positions[n][0], cm=positions[n][1])
        for n in marker_names
    ]
    raw = {n: [(r[0], r[1][marker_col[n]], r[1][marker_col[n] + 1]) for r in rows]
           for n in marker_names}  # fmt: skip
    families, genotypes, affection, liability = _build_families(
        rows, ped, markers, raw, affection_col, pre_columns=5, liability_col=liability_col
    )
    if df.trait is not None:
        n_classes = df.trait.penetrance.shape[0]
        for fam, classes in zip(families, liability, strict=True):
            bad = np.flatnonzero((classes < 1) | (classes > n_classes))
            if bad.size:
                raise InputFormatError(
                    f"family {fam.id}: person {fam.persons[bad[0]]}: liability class "
                    f"{classes[bad[0]]} (the datafile has {n_classes})",
                    path=ped,
                )
    _check_observed_alleles(markers, families, genotypes, {m.name: dat for m in markers})
    return LinkageData(
        families, markers, genotypes, affection, liability, df.trait,
        trait_name=df.trait.name if df.trait else "trait", source=ped, notes=notes,
    )  # fmt: skip


def read_fam_vcf(
    fam: str,
    vcf: str,
    *,
    region: str | None = None,
    map: str | None = None,  # noqa: A002 - the file's name
    cm_per_mb: float = 1.0,
) -> LinkageData:
    """Pedigrees from a PLINK ``.fam`` file with biallelic SNP genotypes from a VCF/BCF.

    ``.fam`` columns: ``FID IID PAT MAT SEX PHENO`` (``0`` unknown parent;
    sex 1/2/0; PHENO 1 unaffected, 2 affected, 0 or -9 missing).  VCF samples
    are matched by IID (or ``FID_IID``); persons without a VCF column are
    untyped (how many, and how many VCF samples are not in the pedigree, is
    told in :attr:`LinkageData.notes`).  Markers are the region's biallelic
    SNPs (ids, or ``CHR:POS`` where the id is ``.``) on autosomes, placed by a
    MERLIN map file when given (by name) or at ``cm_per_mb`` cM per Mb;
    alleles are REF (1) and ALT (2), with frequencies counted in the typed
    founders.
    """
    from .vcf import read_genotypes

    fam, vcf = os.fspath(fam), os.fspath(vcf)
    if not (math.isfinite(cm_per_mb) and cm_per_mb > 0):
        raise ParameterError(f"cM per Mb must be a finite number > 0, got {cm_per_mb}")
    rows: list[tuple[int, list[str]]] = []
    for number, line in _lines(fam):
        tokens = line.split()
        if not tokens:
            continue
        if len(tokens) != 6:
            raise InputFormatError(
                f"{len(tokens)} columns where a .fam line has 6 (FID IID PAT MAT SEX PHENO)",
                path=fam,
                line=number,
            )
        pheno = tokens[5]
        if pheno not in ("0", "-9", "1", "2"):
            raise InputFormatError(
                f"family {tokens[0]}: person {tokens[1]}: phenotype {pheno!r} is not 1, 2, 0 or "
                "-9 (affection status)",
                path=fam,
                line=number,
            )
        rows.append((number, tokens))
    if not rows:
        raise InputFormatError("no persons in the file", path=fam)
    import pysam

    try:
        with pysam.VariantFile(vcf) as vf:
            names = list(vf.header.samples)
    except (OSError, ValueError) as exc:
        raise InputFormatError(f"not a readable VCF/BCF file ({exc})", path=vcf) from None
    column: dict[int, str] = {}
    for i, (_, t) in enumerate(rows):
        for key in (t[1], f"{t[0]}_{t[1]}"):
            if key in names:
                column[i] = key
                break
    if not column:
        raise InputFormatError(
            f"no person of {fam} is a sample of the VCF (samples are matched by IID or FID_IID)",
            path=vcf,
        )
    notes: list[str] = []
    untyped = [f"{t[0]}:{t[1]}" for i, (_, t) in enumerate(rows) if i not in column]
    unused = [s for s in names if s not in set(column.values())]
    if untyped or unused:
        more_p = " ..." if len(untyped) > 5 else ""
        more_s = " ..." if len(unused) > 5 else ""
        notes.append(
            f"{vcf}: {len(untyped)} of {len(rows)} persons of {fam} have no VCF sample "
            f"(untyped{': ' + ', '.join(untyped[:5]) + more_p if untyped else ''}); "
            f"{len(unused)} of {len(names)} VCF samples are not in the pedigree"
            f"{' (' + ', '.join(unused[:5]) + more_s + ')' if unused else ''}"
        )
    wanted = list(dict.fromkeys(column.values()))
    g = read_genotypes(vcf, region=region, samples=wanted)
    sample_index = {s: k for k, s in enumerate(g.samples)}
    mapped = _read_map(map) if map else {}
    markers = []
    keep = []
    for j, name in enumerate(g.ids):
        if map:
            if name not in mapped:
                continue
            chrom, cm, map_line = mapped[name]
            _autosomal(chrom, name, map, map_line)
        else:
            chrom, cm = g.chrom[j], float(g.positions[j]) * cm_per_mb / 1e6
            _autosomal(chrom, name, vcf, fix="choose a region of an autosome")
            if cm > MAX_CM:
                raise InputFormatError(
                    f"SNP {name} at {chrom}:{int(g.positions[j])} would be at {cm:g} cM with "
                    f"{cm_per_mb:g} cM per Mb, beyond the genetic length of any chromosome "
                    f"({MAX_CM:g} cM): lower --cm-per-mb or give --map",
                    path=vcf,
                )
        keep.append(j)
        markers.append((name, chrom, cm, g.ref[j], g.alt[j]))
    if not markers:
        raise InputFormatError("no SNP of the VCF is on the map", path=map or vcf)
    order = sorted(range(len(markers)), key=lambda k: (markers[k][1], markers[k][2]))
    calls = g.calls[:, [keep[k] for k in order]]
    markers = [markers[k] for k in order]
    founder = [i for i, (_, t) in enumerate(rows) if t[2] == "0" and t[3] == "0"]
    typed_founders = [sample_index[column[i]] for i in founder if i in column]
    loci = []
    for k, (name, chrom, cm, ref, alt) in enumerate(markers):
        col = calls[:, k]
        pool = col[typed_founders] if typed_founders else col
        pool = pool[pool >= 0]
        if pool.size == 0:
            pool = col[col >= 0]
        alt_freq = float(pool.sum()) / (2 * pool.size) if pool.size else 0.5
        alt_freq = min(
            max(alt_freq, 1.0 / (2 * max(pool.size, 1) + 2)), 1 - 1.0 / (2 * max(pool.size, 1) + 2)
        )
        loci.append(MarkerLocus(name, (ref, alt), np.array([1 - alt_freq, alt_freq]), chrom, cm))
    raw: dict[str, list[tuple[int, str, str]]] = {}
    pair = {0: ("1", "1"), 1: ("1", "2"), 2: ("2", "2"), -1: ("0", "0")}
    for k, locus in enumerate(loci):
        entries = []
        for i, (number, _) in enumerate(rows):
            value = int(calls[sample_index[column[i]], k]) if i in column else -1
            a, b = pair[value]
            entries.append((number, a, b))
        raw[locus.name] = entries
    labelled = [dataclasses.replace(m, labels=("1", "2")) for m in loci]
    families, genotypes, affection, liability = _build_families(
        [(n, t[:5] + [t[5] if t[5] != "-9" else "0"]) for n, t in rows], fam, labelled, raw, 5,
        pre_columns=5,
    )  # fmt: skip
    return LinkageData(families, loci, genotypes, affection, liability, None, trait_name="PHENO",
                       source=fam, notes=notes)  # fmt: skip
