"""Reader of experimental crosses in R/qtl's "csv" layout.

Row 1 holds the column names (phenotypes, then markers); row 2 the
chromosome of each marker (blank for the phenotypes); row 3 each marker's
position in cM (blank for the phenotypes); then one row per individual.
Genotype codes:

- one letter, R/qtl's defaults: ``A`` (AA), ``H`` (AB), ``B`` (BB), ``D``
  (not BB), ``C`` (not AA);
- two letters, as ``write.cross`` writes them with the cross's allele
  letters: a homozygote ``xx`` and a heterozygote ``xy`` (the first letter of
  the heterozygote is the first allele, so R/qtl's ``hyper`` writes ``BB`` and
  ``BA``); on the X chromosome of a backcross the hemizygous males are
  written as homozygotes of either allele;
- ``-``, ``NA`` or an empty field: missing.

The cross type is a backcross unless the autosomes hold both homozygotes or a
partly informative code (then an intercross); ``cross_type`` overrides.
Markers are grouped by chromosome (numbered ones in numeric order, then the
others, X last) and must be in map order within a chromosome.  Problems are
:class:`~seqem.errors.InputFormatError` s naming the file, line and the
individual or marker: ragged rows, unknown codes, non-numeric or decreasing
positions, duplicate markers.

>>> from seqem.io.rqtl import read_cross  # doctest: +SKIP
>>> cross = read_cross("hyper.csv")  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import os
import re

import numpy as np

from ..errors import InputFormatError, ParameterError
from ..linkage.cross import AA, AB, BB, NOT_AA, NOT_BB, Cross, CrossChromosome

__all__ = ["read_cross"]

_MISSING_CODES = frozenset({"", "-", "NA"})
_ONE_LETTER = {"A": AA, "H": AB, "B": BB, "D": NOT_BB, "C": NOT_AA}
_TWO_LETTER = re.compile(r"^(?:not )?([A-Za-z]{2})$")
_FEMALE = frozenset({"0", "f", "female"})
_MALE = frozenset({"1", "m", "male"})


def _open_text(path: str) -> io.TextIOBase:
    if path.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")  # noqa: SIM115


def _is_x(name: str) -> bool:
    return name in ("X", "x")


def _chrom_key(name: str, first: int) -> tuple[int, float, int]:
    if _is_x(name):
        return (2, 0.0, first)
    try:
        return (0, float(name), first)
    except ValueError:
        return (1, 0.0, first)


def _alleles(codes: set[str]) -> tuple[str, str] | None:
    """The allele letters of the two-letter codes seen on the autosomes."""
    letters = sorted({ch for c in codes for ch in c})
    if not letters:
        return None
    if len(letters) > 2:
        return None
    hets = [c for c in codes if c[0] != c[1]]
    if hets:
        return hets[0][0], hets[0][1]
    homs = sorted(codes)
    if len(homs) == 1:
        other = "B" if homs[0][0] != "B" else "A"
        return homs[0][0], other
    return letters[0], letters[1]


def read_cross(path: str | os.PathLike[str], cross_type: str | None = None) -> Cross:
    """Read an R/qtl "csv" cross file (plain or gzip).

    Parameters
    ----------
    path : str or path-like
    cross_type : {"bc", "f2"}, optional
        Backcross or intercross; detected from the codes when not given.

    Returns
    -------
    Cross
    """
    p = os.fspath(path)
    if cross_type is not None and cross_type not in ("bc", "f2"):
        raise ParameterError(f"cross_type must be 'bc' or 'f2', got {cross_type!r}")
    try:
        with _open_text(p) as fh:
            rows = [
                (reader.line_num, [f.strip() for f in row])
                for reader in [csv.reader(fh)]
                for row in reader
                if any(f.strip() for f in row)
            ]
    except UnicodeDecodeError as err:
        raise InputFormatError(f"not a text file ({err.reason})", path=p) from None
    except csv.Error as err:
        raise InputFormatError(f"not readable as CSV ({err})", path=p) from None
    if len(rows) < 3:
        raise InputFormatError(
            "expected a header row, a chromosome row and a position row (R/qtl csv layout)",
            path=p,
        )
    (l_names, names), (l_chr, chroms), (l_pos, positions) = rows[:3]
    width = len(names)
    for line, row in rows[1:]:
        if len(row) != width:
            label = {l_chr: "the chromosome row", l_pos: "the position row"}.get(line)
            if label is None:
                label = f"individual {_row_label(rows, line, names)}"
            raise InputFormatError(
                f"{label} has {len(row)} fields, the header has {width}", path=p, line=line
            )
    # phenotype columns: leading blanks of the chromosome row
    n_pheno = 0
    while n_pheno < width and chroms[n_pheno] == "":
        n_pheno += 1
    if n_pheno == width:
        raise InputFormatError(
            "no marker columns: row 2 must give each marker's chromosome", path=p, line=l_chr
        )
    seen: dict[str, int] = {}
    for k in range(width):
        if names[k] == "":
            raise InputFormatError(f"column {k + 1} has no name", path=p, line=l_names)
        if names[k] in seen:
            raise InputFormatError(
                f"column name '{names[k]}' appears twice (columns {seen[names[k]] + 1} "
                f"and {k + 1})",
                path=p,
                line=l_names,
            )
        seen[names[k]] = k
    for k in range(n_pheno):
        if positions[k] != "":
            raise InputFormatError(
                "row 3 must hold the markers' positions in cM (blank for phenotypes); "
                "files without a map are not read",
                path=p,
                line=l_pos,
                record=names[k],
            )

    cm = np.empty(width - n_pheno)
    for k in range(n_pheno, width):
        if chroms[k] == "":
            raise InputFormatError(
                "no chromosome given (markers must follow all phenotype columns)",
                path=p,
                line=l_chr,
                record=names[k],
            )
        try:
            x = float(positions[k])
        except ValueError:
            x = math.nan
        if not math.isfinite(x):
            raise InputFormatError(
                f"position '{positions[k]}' is not a number (cM expected)",
                path=p,
                line=l_pos,
                record=names[k],
            )
        cm[k - n_pheno] = x
    # group the markers by chromosome, keeping file order within each
    order: dict[str, list[int]] = {}
    for k in range(n_pheno, width):
        order.setdefault(chroms[k], []).append(k)
    for chrom, cols in order.items():
        for left, right in zip(cols, cols[1:], strict=False):
            if cm[right - n_pheno] < cm[left - n_pheno]:
                raise InputFormatError(
                    f"marker out of map order on chromosome {chrom}: {cm[right - n_pheno]:g} cM "
                    f"after {names[left]} at {cm[left - n_pheno]:g} cM",
                    path=p,
                    line=l_pos,
                    record=names[right],
                )

    body = rows[3:]
    if not body:
        raise InputFormatError("no individuals after the three header rows", path=p)
    cells = [row for _, row in body]
    # the codes used, to tell the cross type and the allele letters
    auto_codes: set[str] = set()
    all_codes: set[str] = set()
    for k in range(n_pheno, width):
        x = _is_x(chroms[k])
        for row in cells:
            c = row[k]
            if c in _MISSING_CODES:
                continue
            all_codes.add(c)
            if not x:
                auto_codes.add(c)
    if not all_codes:
        raise InputFormatError(
            f"every genotype of the {len(cells)} individuals is missing: nothing to map",
            path=p,
        )
    two = {c for c in all_codes if _TWO_LETTER.match(c)}
    one = {c for c in all_codes if c in _ONE_LETTER}
    pairs = {_pair(c) for c in two}
    alleles = _alleles({_pair(c) for c in auto_codes if c in two}) or _alleles(pairs) or ("A", "B")
    if two and one:
        bad = sorted(one)[0]
        _raise_code(
            p,
            body,
            cells,
            names,
            n_pheno,
            bad,
            f"one-letter codes mixed with two-letter codes such as '{sorted(two)[0]}'",
        )
    a, b = alleles
    lookup: dict[str, int] = dict(_ONE_LETTER)
    if two:
        lookup = {a + a: AA, a + b: AB, b + a: AB, b + b: BB}
        lookup.update({f"not {b}{b}": NOT_BB, f"not {a}{a}": NOT_AA})
    unknown = sorted(all_codes - set(lookup))
    if unknown:
        _raise_code(p, body, cells, names, n_pheno, unknown[0], _expected(lookup))
    auto_classes = {lookup[c] for c in auto_codes}
    detected = "f2" if auto_classes & {BB, NOT_BB, NOT_AA} else "bc"
    ctype = cross_type or detected
    if ctype == "bc":
        bad_auto = sorted(c for c in auto_codes if lookup[c] not in (AA, AB))
        if bad_auto:
            _raise_code(
                p,
                body,
                cells,
                names,
                n_pheno,
                bad_auto[0],
                "a backcross has two genotypes: " + _expected(lookup, (AA, AB)),
                autosomes=chroms,
            )

    sex, pgm = _sex_pgm(p, names, n_pheno, cells, body)
    chrom_list = []
    for chrom in sorted(order, key=lambda c: _chrom_key(c, order[c][0])):
        cols = order[chrom]
        geno = np.zeros((len(cells), len(cols)), dtype=np.int8)
        x = _is_x(chrom)
        if x:
            bad_x = sorted(
                {row[k] for row in cells for k in cols if lookup.get(row[k]) in (NOT_BB, NOT_AA)}
            )
            if bad_x:
                _raise_code(
                    p, body, cells, names, n_pheno, bad_x[0], "not allowed on the X chromosome"
                )
        if x and ctype == "f2":
            _fill_x_f2(p, body, cells, names, cols, lookup, sex, pgm, geno)
        else:
            table = dict(lookup)
            if x:
                # a backcross's X: hemizygous males written as homozygotes; the
                # state carrying the second allele is AB
                table.update({k: (AA if v == AA else AB) for k, v in lookup.items()})
            for jj, k in enumerate(cols):
                for i, row in enumerate(cells):
                    c = row[k]
                    if c not in _MISSING_CODES:
                        geno[i, jj] = table[c]
        chrom_list.append(
            CrossChromosome(
                name=chrom,
                is_x=x,
                markers=tuple(names[k] for k in cols),
                cm=cm[[k - n_pheno for k in cols]].copy(),
                genotypes=geno,
            )
        )

    id_col = next((k for k in range(n_pheno) if names[k].lower() == "id"), None)
    ids = tuple(row[id_col] if id_col is not None else str(i + 1) for i, row in enumerate(cells))
    pheno = np.array([row[:n_pheno] for row in cells], dtype=str).reshape(len(cells), n_pheno)
    return Cross(
        cross_type=ctype,
        alleles=(a, b),
        ids=ids,
        phenotype_names=tuple(names[:n_pheno]),
        phenotypes=pheno,
        chromosomes=tuple(chrom_list),
        path=p,
    )


def _pair(code: str) -> str:
    """The two letters of a two-letter code (``not xx`` gives ``xx``)."""
    m = _TWO_LETTER.match(code)
    return m.group(1) if m else code


def _sex_pgm(
    path: str,
    names: list[str],
    n_pheno: int,
    cells: list[list[str]],
    body: list[tuple[int, list[str]]],
) -> tuple[np.ndarray, np.ndarray]:
    """Sex (True for male) and cross direction (pgm) of each individual.

    From phenotype columns ``sex`` (0/f/female, 1/m/male) and ``pgm`` (0/1);
    without them every individual is a female of direction 0, as in R/qtl.
    """
    n = len(cells)
    male = np.zeros(n, dtype=bool)
    pgm = np.zeros(n, dtype=bool)
    cols = {names[k].lower(): k for k in range(n_pheno)}
    for i, row in enumerate(cells):
        if "sex" in cols:
            v = row[cols["sex"]].lower()
            if v in _MALE:
                male[i] = True
            elif v not in _FEMALE:
                raise InputFormatError(
                    f"individual {i + 1}: sex '{row[cols['sex']]}' (expected female/male, f/m "
                    "or 0/1)",
                    path=path,
                    line=body[i][0],
                )
        if "pgm" in cols:
            v = row[cols["pgm"]]
            if v not in ("0", "1"):
                raise InputFormatError(
                    f"individual {i + 1}: pgm '{v}' (expected 0 or 1, the cross direction)",
                    path=path,
                    line=body[i][0],
                )
            pgm[i] = v == "1"
    return male, pgm


def _fill_x_f2(
    path: str,
    body: list[tuple[int, list[str]]],
    cells: list[list[str]],
    names: list[str],
    cols: list[int],
    lookup: dict[str, int],
    male: np.ndarray,
    pgm: np.ndarray,
    geno: np.ndarray,
) -> None:
    """X genotypes of an intercross as two-state codes (R/qtl's): males AY 1,
    BY 2; females of direction 0 AA 1, AB 2; of direction 1 BB 1, AB 2."""
    for i, row in enumerate(cells):
        if male[i]:
            allowed = {AA: AA, BB: AB}
            who = "a male (hemizygous: AA or BB)"
        elif pgm[i]:
            allowed = {BB: AA, AB: AB}
            who = "a female of cross direction 1 (pgm 1: AB or BB)"
        else:
            allowed = {AA: AA, AB: AB}
            who = "a female of cross direction 0 (pgm 0: AA or AB)"
        for jj, k in enumerate(cols):
            c = row[k]
            if c in _MISSING_CODES:
                continue
            state = allowed.get(lookup[c])
            if state is None:
                raise InputFormatError(
                    f"individual {i + 1}, marker {names[k]}: X genotype '{c}' is impossible "
                    f"for {who}; set it to '-'",
                    path=path,
                    line=body[i][0],
                )
            geno[i, jj] = state


def _row_label(rows: list[tuple[int, list[str]]], line: int, names: list[str]) -> str:
    """Individual label of a data row: its id column or its ordinal."""
    idx = [ln for ln, _ in rows[3:]].index(line)
    id_col = next((k for k, n in enumerate(names) if n.lower() == "id"), None)
    row = rows[3 + idx][1]
    if id_col is not None and id_col < len(row):
        return f"'{row[id_col]}'"
    return str(idx + 1)


def _expected(lookup: dict[str, int], classes: tuple[int, ...] | None = None) -> str:
    codes = [c for c, v in lookup.items() if classes is None or v in classes]
    return "expected " + ", ".join(codes) + " or -/NA for missing"


def _raise_code(
    path: str,
    body: list[tuple[int, list[str]]],
    cells: list[list[str]],
    names: list[str],
    n_pheno: int,
    code: str,
    why: str,
    autosomes: list[str] | None = None,
) -> None:
    """Raise an error at the first cell holding ``code``."""
    id_col = next((k for k in range(n_pheno) if names[k].lower() == "id"), None)
    for i, row in enumerate(cells):
        for k in range(n_pheno, len(names)):
            if autosomes is not None and _is_x(autosomes[k]):
                continue
            if row[k] == code:
                who = row[id_col] if id_col is not None else str(i + 1)
                raise InputFormatError(
                    f"individual {who}, marker {names[k]}: unknown genotype '{code}' ({why})",
                    path=path,
                    line=body[i][0],
                )
    raise InputFormatError(f"unknown genotype '{code}' ({why})", path=path)  # pragma: no cover
