"""Genotypes of biallelic SNPs from VCF/BCF files (pysam).

:func:`read_genotypes` returns a people x SNPs matrix of ALT allele counts
(0, 1, 2; -1 for a missing call) with the SNPs' ids and positions.  Rules,
each counted in :attr:`Genotypes.skipped` so that a caller can log them:

* only biallelic SNPs are kept (a single-base REF and a single-base ALT);
  multi-allelic sites, indels and symbolic alleles are skipped;
* with ``pass_only``, records whose FILTER is neither PASS nor ``.`` are
  skipped;
* phased and unphased calls are read alike (as unordered allele counts);
* a haploid call (one allele, as on male X/Y) is read as missing;
* a call with more than two alleles or with an allele index beyond the ALT
  allele, genotype likelihoods of the wrong number or sign, records out of
  order (each contig's records together, by position), a file without the GT
  field, unknown sample names, a malformed, truncated or corrupt file, an
  index that does not match its file, or a region without any biallelic SNP
  is an :class:`~seqem.errors.InputFormatError` naming the file (and the
  record, ``CHR:POS``, and the sample).

htslib's own messages are silenced: a file it cannot read is explained from
the file itself (:mod:`seqem.io._hts`; the first corrupt compressed block,
the first malformed header line or record, the first damaged BCF record:
:mod:`seqem.io._bcf`).  Indexed files (``.tbi``/``.csi``) are read from the
region only; unindexed files are streamed and filtered, and so are files
whose index is older than they are (with a warning).  htslib trusts an
index, so the records around each region read are checked against what the
index says (:func:`_check_index`): an index of another version of the file
is an error rather than a region with records left out.  An ordinary gzip
(not bgzip) file is decompressed into a pipe and streamed.

Calls written as the usual three characters (``0|1``, ``1/1``, ``./.``) in
files whose FORMAT is ``GT`` alone are parsed from the record text in bulk;
anything else is parsed from each record's text sample by sample (pysam
would read an allele index beyond the ALT alleles as missing).  A region of
an indexed bgzipped VCF whose records are all of that kind is read from the
raw text lines (no record objects), with the same rules; the first record
that is not sends the region to pysam.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import InputFormatError, ParameterError
from . import _bcf, _hts
from .regions import parse_region

__all__ = ["Genotypes", "read_genotypes"]


@dataclasses.dataclass(frozen=True)
class Genotypes:
    """Unphased genotypes of biallelic SNPs.

    Attributes
    ----------
    calls : int8 array (n_people, n_snps)
        ALT allele counts; -1 where the call is missing.
    ids : tuple of str
        VCF ids, or ``CHR:POS`` where the id is ``.``.
    chrom : tuple of str
    positions : int64 array (n_snps,), 1-based
    ref, alt : tuple of str
    samples : tuple of str
    path : str
    skipped : dict
        Records left out, by reason.
    likelihoods : float64 array (n_people, n_snps, 3), optional
        Genotype likelihoods of 0, 1 and 2 ALT alleles, scaled so that the
        largest is 1 (all 1 where the field is missing); read with
        ``likelihoods="PL"`` or ``"GL"``.
    """

    calls: np.ndarray
    ids: tuple[str, ...]
    chrom: tuple[str, ...]
    positions: np.ndarray
    ref: tuple[str, ...]
    alt: tuple[str, ...]
    samples: tuple[str, ...]
    path: str
    skipped: dict[str, int]
    likelihoods: np.ndarray | None = None

    @property
    def n_people(self) -> int:
        return int(self.calls.shape[0])

    @property
    def n_snps(self) -> int:
        return int(self.calls.shape[1])


# byte -> allele code for the fast path: 0 REF, 1 ALT, 2 missing, 255 anything else
_ALLELE = np.full(256, 255, dtype=np.uint8)
_ALLELE[ord("0")], _ALLELE[ord("1")], _ALLELE[ord(".")] = 0, 1, 2
# allele codes of the two haplotypes -> ALT count (-1 missing)
_DOSAGE = np.array([[0, 1, -1], [1, 2, -1], [-1, -1, -1]], dtype=np.int8)


def _fast_calls(text: str, n_all: int) -> np.ndarray | None:
    """ALT counts from the sample columns of a ``GT``-only record, or None.

    Works when every call is three characters (allele, separator, allele)
    with alleles 0, 1 or '.'; None sends the record to the slow path.
    """
    tab = -1
    for _ in range(9):
        tab = text.find("\t", tab + 1)
        if tab < 0:
            return None
    body = text[tab + 1 :].rstrip("\n").encode()
    if len(body) != 4 * n_all - 1:
        return None
    raw = np.frombuffer(body + b"\t", dtype=np.uint8).reshape(n_all, 4)
    sep = raw[:, 1]
    if not (((sep == 124) | (sep == 47)).all() and (raw[:, 3] == 9).all()):  # '|', '/', tab
        return None
    a, b = _ALLELE[raw[:, 0]], _ALLELE[raw[:, 2]]
    if (a == 255).any() or (b == 255).any():
        return None
    return _DOSAGE[a, b]


def _left_out(
    ref: str, alleles: tuple[str, ...], filters: tuple[str, ...], pass_only: bool
) -> str | None:
    """Why a record is not read (the module's rules), or None for a biallelic SNP to keep."""
    if len(alleles) != 1:
        return "multi-allelic" if len(alleles) > 1 else "no ALT allele"
    if len(ref) != 1 or len(alleles[0]) != 1 or alleles[0] in ("*", "."):
        return "not a SNP"
    if pass_only and filters and filters != ("PASS",):
        return "FILTER not PASS"
    return None


#: Records parsed from text per batch (bounds the text held in memory).
_TEXT_BATCH = 512


class _NotPlain(Exception):
    """The region has a record the text reader does not take: read it through pysam."""


@dataclasses.dataclass(frozen=True)
class _Tail:
    """Where a region read through the index ended: the file's virtual offset after
    it and the position of the last record it gave (checked by :func:`_check_index`)."""

    offset: int
    pos: int


# (allele byte | second allele byte << 8) -> ALT count (-1 missing, -2 not a call)
_PAIR = np.full(1 << 16, -2, dtype=np.int8)
for _x, _a in ((48, 0), (49, 1), (46, 2)):
    for _y, _b in ((48, 0), (49, 1), (46, 2)):
        _PAIR[_x | _y << 8] = _DOSAGE[_a, _b]
# the separator and tab bytes of a call as little-endian uint32: '|' or '/', then a tab
_PHASED, _UNPHASED = np.uint32(0x09007C00), np.uint32(0x09002F00)


def _text_batch(bodies: list[str], n_all: int) -> np.ndarray:
    """ALT counts (records x samples) from the sample columns of ``GT``-only records.

    Each call and the tab after it are one little-endian ``uint32``: allele,
    separator, allele, tab.
    """
    data = ("\t".join(bodies) + "\t").encode()
    if len(data) != 4 * n_all * len(bodies):
        raise _NotPlain
    word = np.frombuffer(data, dtype="<u4").reshape(len(bodies), n_all)
    frame = word & np.uint32(0xFF00FF00)
    if not ((frame == _PHASED) | (frame == _UNPHASED)).all():
        raise _NotPlain
    calls = _PAIR[(word & np.uint32(0xFF)) | ((word >> np.uint32(8)) & np.uint32(0xFF00))]
    if (calls == -2).any():
        raise _NotPlain
    return calls


def _text_region(
    name: str,
    chrom: str,
    start: int,
    end: int | None,
    n_all: int,
    pass_only: bool,
) -> tuple[
    list[np.ndarray], list[str], list[int], list[str], list[str], Counter[str], _Tail | None
]:
    """The region's biallelic SNPs straight from the indexed text (no record objects),
    and where the read ended (None when the index led to no record).

    Raises :class:`_NotPlain` at the first record that is not a GT-only
    record of three-character calls, or on anything unexpected; the caller
    then reads the region through pysam, which also reports malformed
    records.
    """
    import pysam

    try:
        with pysam.TabixFile(name) as tf:
            lines = tf.fetch(chrom, start, end)
            batches: list[np.ndarray] = []
            bodies: list[str] = []
            ids: list[str] = []
            positions: list[int] = []
            refs: list[str] = []
            alts: list[str] = []
            skipped: Counter[str] = Counter()
            last = 0
            for line in lines:
                fields = line.split("\t", 9)
                if len(fields) != 10 or fields[0] != chrom:
                    raise _NotPlain
                pos = int(fields[1])
                if pos < last or (end is not None and pos > end):
                    raise _NotPlain  # out of order or out of the region: the record reader says so
                last = pos
                if pos <= start:
                    continue
                ref, alt = fields[3], fields[4]
                alleles = () if alt == "." else tuple(alt.split(","))
                filters = () if fields[6] == "." else tuple(fields[6].split(";"))
                reason = _left_out(ref, alleles, filters, pass_only)
                if reason is not None:
                    skipped[reason] += 1
                    continue
                if fields[8] != "GT":
                    raise _NotPlain
                bodies.append(fields[9].rstrip("\n"))
                ids.append(fields[2] if fields[2] != "." else f"{chrom}:{pos}")
                positions.append(pos)
                refs.append(ref)
                alts.append(alt)
                if len(bodies) == _TEXT_BATCH:
                    batches.append(_text_batch(bodies, n_all))
                    bodies = []
            if bodies:
                batches.append(_text_batch(bodies, n_all))
            tail = _Tail(tf.tell(), last) if last else None
    except (OSError, ValueError, UnicodeError):
        raise _NotPlain from None
    return batches, ids, positions, refs, alts, skipped, tail


_ALLELE_INDEX = re.compile(r"^[0-9]+$")


def _text_calls(
    text: str, gt_index: int, columns: np.ndarray, names: Sequence[str], path: str, where: str
) -> tuple[np.ndarray, np.ndarray]:
    """ALT counts of the chosen samples from a record's text, and each call's ploidy.

    The text is read rather than pysam's GT values because pysam turns an
    allele index beyond the ALT alleles (``0/2`` with one ALT) into a
    missing allele.  Ploidy: 1 haploid, 2 diploid, 0 missing (``.``).
    """
    values = text.rstrip("\r\n").split("\t")[9:]
    if len(values) != len(names):
        raise InputFormatError(
            f"{len(values)} sample columns, but the header names {len(names)} samples",
            path=path,
            record=where,
        )
    out = np.empty(columns.size, dtype=np.int8)
    ploidy = np.zeros(columns.size, dtype=np.int8)
    for j, c in enumerate(columns):
        parts = values[int(c)].split(":")
        gt = parts[gt_index] if gt_index < len(parts) else "."
        alleles = gt.replace("|", "/").split("/")
        if len(alleles) > 2:
            raise InputFormatError(
                f"{len(alleles)} alleles in the call of sample {names[int(c)]!r}; only "
                "diploid (and haploid) calls are supported",
                path=path,
                record=where,
            )
        count = 0
        missing = False
        for allele in alleles:
            if allele == ".":
                missing = True
            elif _ALLELE_INDEX.match(allele):
                if int(allele) > 1:
                    raise InputFormatError(
                        f"sample {names[int(c)]!r}: allele {int(allele)} in GT {gt!r}, but the "
                        "record has one ALT allele",
                        path=path,
                        record=where,
                    )
                count += int(allele)
            else:
                raise InputFormatError(
                    f"bad GT {gt!r} of sample {names[int(c)]!r}; expected allele indices "
                    "separated by '/' or '|' (e.g. 0/1), or '.'",
                    path=path,
                    record=where,
                )
        ploidy[j] = 0 if gt == "." else len(alleles)
        out[j] = -1 if missing or len(alleles) == 1 else count
    return out, ploidy


def _likelihoods(
    rec,
    columns: np.ndarray,
    field: str,
    ploidy: np.ndarray | None,
    names: Sequence[str],
    path: str,
    where: str,
) -> np.ndarray:
    """Relative genotype likelihoods (max 1) of the chosen samples; 1s where missing.

    A call with two values (haploid, where the GT does not say diploid) or
    ``.`` carries no information; any other count than three values, a
    value missing among others, a negative PL or a positive GL is an error.
    """
    out = np.ones((columns.size, 3))
    samples = rec.samples
    for j, c in enumerate(columns):
        sample = names[int(c)]
        values = samples[int(c)].get(field)
        if values is not None and not isinstance(values, tuple):
            values = (values,)
        if values is None or all(v is None for v in values):
            continue
        shown = ",".join("." if v is None else f"{v:g}" for v in values)
        if any(v is None for v in values):
            raise InputFormatError(
                f"sample {sample!r}: {field} {shown} has missing values among others",
                path=path,
                record=where,
            )
        if len(values) == 2 and (ploidy is None or ploidy[j] != 2):
            continue  # a haploid call: no information
        if len(values) != 3:
            raise InputFormatError(
                f"sample {sample!r}: {len(values)} {field} values ({shown}); a diploid call "
                "of a biallelic SNP has 3",
                path=path,
                record=where,
            )
        v = np.asarray(values, dtype=np.float64)
        if not np.all(np.isfinite(v)):
            raise InputFormatError(
                f"sample {sample!r}: {field} {shown} is not finite", path=path, record=where
            )
        if field == "PL" and (v < 0).any():
            raise InputFormatError(
                f"sample {sample!r}: negative PL {shown}; PL values are phred-scaled "
                "likelihoods >= 0",
                path=path,
                record=where,
            )
        if field == "GL" and (v > 0).any():
            raise InputFormatError(
                f"sample {sample!r}: positive GL {shown}; GL values are log10 likelihoods <= 0",
                path=path,
                record=where,
            )
        log10 = -v / 10.0 if field == "PL" else v
        out[j] = 10.0 ** (log10 - log10.max())
    return out


def _select_samples(
    names: Sequence[str],
    samples: Iterable[str] | None,
    exclude: Iterable[str] | None,
    path: str,
) -> np.ndarray:
    index = {s: i for i, s in enumerate(names)}
    if samples is None:
        chosen = list(range(len(names)))
    else:
        wanted = list(samples)
        unknown = [s for s in wanted if s not in index]
        if unknown:
            raise InputFormatError(
                f"sample {unknown[0]!r} is not in the file"
                + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""),
                path=path,
            )
        twice = [s for s, n in Counter(wanted).items() if n > 1]
        if twice:
            raise ParameterError(f"sample {twice[0]!r} is asked for more than once")
        chosen = [index[s] for s in wanted]
    if exclude is not None:
        drop = set(exclude)
        unknown = sorted(drop - set(index))
        if unknown:
            raise InputFormatError(f"excluded sample {unknown[0]!r} is not in the file", path=path)
        chosen = [i for i in chosen if names[i] not in drop]
    if not chosen:
        raise InputFormatError("no samples left to read", path=path)
    return np.array(chosen, dtype=np.int64)


# -- opening, and saying what is wrong when htslib cannot read a file ---------

_FIXED_COLUMNS = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]
_GT_TEXT = re.compile(r"^(?:\.|[0-9]+)(?:[/|](?:\.|[0-9]+))*$")


def _header_problem(path: str) -> InputFormatError | None:
    """What is wrong with a text VCF's header lines, or None (also for BCF)."""
    number = 0
    for number, line in enumerate(_hts.text_lines(path), start=1):
        if number == 1:
            if line.startswith("BCF"):
                return None
            if not line.startswith("##fileformat=VCF"):
                return InputFormatError(
                    "not a VCF file: the first line must be '##fileformat=VCFv4.x'",
                    path=path,
                    line=1,
                )
        if line.startswith("##"):
            continue
        fields = line.rstrip("\r\n").split("\t")
        if fields[0] != "#CHROM":
            return InputFormatError("no '#CHROM' header line before the records", path=path)
        if (
            fields[:8] != _FIXED_COLUMNS
            or len(fields) == 9
            or (len(fields) > 9 and fields[8] != "FORMAT")
        ):
            return InputFormatError(
                "malformed '#CHROM' line: expected the tab-separated columns "
                + " ".join(_FIXED_COLUMNS)
                + " and, with samples, FORMAT and one column per sample",
                path=path,
                line=number,
            )
        counts = Counter(fields[9:])
        twice = [s for s in fields[9:] if counts[s] > 1]
        if twice:
            return InputFormatError(
                f"sample name {twice[0]!r} appears {counts[twice[0]]} times in the '#CHROM' "
                "line; sample names must be unique",
                path=path,
                line=number,
            )
        return None
    if number == 0:
        return InputFormatError("empty file; expected a VCF or BCF file", path=path)
    return InputFormatError("no '#CHROM' header line", path=path)


def _record_problem(path: str) -> InputFormatError | None:
    """The first record of a text VCF that htslib cannot parse, explained; or None."""
    n_samples = 0
    for number, line in enumerate(_hts.text_lines(path), start=1):
        if line.startswith("#"):
            if line.startswith("#CHROM"):
                names = line.rstrip("\r\n").split("\t")[9:]
                n_samples = len(names)
            continue
        fields = line.rstrip("\r\n").split("\t")
        if len(fields) < 8:
            return InputFormatError(
                f"{len(fields)} tab-separated columns; a VCF record has at least 8",
                path=path,
                line=number,
            )
        chrom, pos = fields[0], fields[1]
        if not _ALLELE_INDEX.match(pos):
            return InputFormatError(
                f"bad POS {pos!r}; expected a whole number", path=path, line=number,
                record=f"{chrom}:{pos}",
            )  # fmt: skip
        where = f"{chrom}:{pos}"
        qual = fields[5]
        if qual != ".":
            try:
                float(qual)
            except ValueError:
                return InputFormatError(
                    f"bad QUAL {qual!r}; expected a number or '.'", path=path, line=number,
                    record=where,
                )  # fmt: skip
        if len(fields) - 9 != n_samples and (n_samples or len(fields) > 9):
            return InputFormatError(
                f"{max(len(fields) - 9, 0)} sample columns, but the header names "
                f"{n_samples} samples",
                path=path,
                line=number,
                record=where,
            )
        keys = fields[8].split(":") if n_samples else []
        for sample, value in zip(names, fields[9:], strict=True):
            if value.count(":") >= len(keys):
                return InputFormatError(
                    f"sample {sample!r}: {value!r} has more ':'-separated values than the "
                    f"FORMAT column {fields[8]!r} names",
                    path=path,
                    line=number,
                    record=where,
                )
        if "GT" in keys:
            k = keys.index("GT")
            for sample, value in zip(names, fields[9:], strict=True):
                parts = value.split(":")
                gt = parts[k] if k < len(parts) else "."
                if not _GT_TEXT.match(gt):
                    return InputFormatError(
                        f"bad GT {gt!r} of sample {sample!r}", path=path, line=number,
                        record=where,
                    )  # fmt: skip
    return None


def _failure(
    path: str,
    is_bcf: bool,
    after: str | None,
    index: str | None,
    exc: BaseException,
    *,
    header: Any = None,
    first: int = 1,
) -> InputFormatError:
    """One clear error for a file htslib failed to read after record ``after``.

    Looks, in turn, for a corrupt or cut-short compressed block, a malformed
    header or record (text VCF), a damaged record (BCF, given its ``header``:
    :func:`._bcf.record_problem`, from record number ``first`` on), and, for
    a region read through an index, an index that does not match the file.
    """
    try:
        problem = _hts.compression_problem(path)
        if problem is not None:
            return InputFormatError(problem, path=path)
        if not (is_bcf or _hts.is_bcf(path)):
            found = _header_problem(path) if after is None else None
            found = found or _record_problem(path)
            if found is not None:
                return found
        elif header is not None:
            found = _bcf.record_problem(path, _bcf.Layout.of(header), first=first)
            if found is not None:
                return found
    except OSError as err:
        return InputFormatError(
            f"cannot be read ({err.strerror or _hts.clean_message(err)})", path=path
        )
    if index is not None:
        return _index_mismatch(path, index)
    kind = "BCF" if is_bcf else "VCF"
    place = f"after record {after}" if after else "before the first record"
    return InputFormatError(
        f"not a readable {kind} file: malformed {place} ({_hts.clean_message(exc)})", path=path
    )


def _index_mismatch(path: str, index: str, detail: str | None = None) -> InputFormatError:
    """The error for an index (``"index"`` when its file is not known) that does not
    match its data file, with what showed it."""
    label = os.path.basename(index) + " " if index != "index" else ""
    why = f": {detail}, so it is out of date or was made for another file" if detail else ""
    return InputFormatError(
        f"the index {label}does not match the file{why} (re-index it: 'tabix -f -p vcf "
        "FILE' or 'bcftools index -f FILE')",
        path=path,
    )


#: Records read at most to check where the index starts a region (a window's worth).
_CHECK_RECORDS = 100_000


def _check_index(
    path: str,
    index: str,
    chrom: str,
    contig_id: int | None,
    start: int,
    end: int | None,
    tail: _Tail | None,
) -> None:
    """Raise :class:`~seqem.errors.InputFormatError` when the records around a region
    read through ``index`` show that the index does not match the file.

    htslib trusts the index: it reads the records between the offsets the
    index gives and keeps those that overlap the region, so an index of
    another version of the file (records added, removed or moved) gives a
    region without some of its records and no error.  Three cheap checks, each
    true of a file and its own index whatever their history:

    * the record after the last one of the contig (by the index) is not of the
      contig;
    * no record between the offset the index gives for a window before the
      region's start and the offset it gives for that window (where htslib
      starts reading) starts in that window or later, and the second offset
      is one of those records' ends;
    * the record after the end of the read (``tail``) neither starts inside
      the region nor comes before the read's last record.

    ``index`` is ``"index"`` when htslib found the index elsewhere than
    beside the file: only the last check is made then.
    """
    import pysam

    found = _hts.contig_index(index, chrom, contig_id) if index != "index" else None
    try:
        with pysam.VariantFile(path, drop_samples=True) as vf:

            def record_at(offset: int) -> Any:
                vf.seek(offset)
                return next(vf, None)

            detail = _index_problem(vf, record_at, found, chrom, start, end, tail)
    except (OSError, ValueError):
        # the region itself was read: what fails is reading where the index points
        problem = _hts.compression_problem(path)
        if problem is not None:
            raise InputFormatError(problem, path=path) from None
        detail = "its offsets do not fall on the file's records"
    if detail is not None:
        raise _index_mismatch(path, index, detail)


def _index_problem(
    vf: Any,
    record_at: Callable[[int], Any],
    found: _hts.ContigIndex | None,
    chrom: str,
    start: int,
    end: int | None,
    tail: _Tail | None,
) -> str | None:
    """What :func:`_check_index` finds wrong, or None."""
    import bisect

    if tail is not None:
        after = record_at(tail.offset)
        if after is not None and after.chrom == chrom:
            if after.pos < tail.pos:
                return f"it leads to record {chrom}:{after.pos} after {chrom}:{tail.pos}"
            if after.start >= start and (end is None or after.start < end):
                return f"it leaves out record {chrom}:{after.pos} of the region"
    if found is None:
        return None
    if found.end:
        after = record_at(found.end)
        if after is not None and after.chrom == chrom:
            return f"record {chrom}:{after.pos} follows the last record of {chrom!r} it knows of"
    windows = [w for w, _ in found.anchors]
    i = bisect.bisect_right(windows, start >> found.shift) - 1
    if i < 0:
        return None
    window, target = found.anchors[i]
    begin = next((o for _, o in reversed(found.anchors[:i]) if o < target), None)
    if begin is None and 0 < found.first < target:
        begin = found.first
    if begin is None:
        return None
    limit = window << found.shift
    there = record_at(target)
    if there is None:
        return f"it has records of {chrom!r} past the end of the file"
    if there.chrom != chrom:
        return f"it has records of {chrom!r} where the file has {there.chrom}:{there.pos}"
    stop = vf.tell()
    vf.seek(begin)
    for n, rec in enumerate(vf):
        at = vf.tell()
        if at == stop:
            return None  # the record the index leads to
        if rec.chrom != chrom or rec.start >= limit:
            return (
                f"record {rec.chrom}:{rec.pos} lies where it has only records of {chrom!r} "
                f"before position {limit + 1}"
            )
        if at > stop or n >= _CHECK_RECORDS:
            break
    else:
        return f"it has records of {chrom!r} past the end of the file"
    return None if n >= _CHECK_RECORDS else "its offsets do not fall between the file's records"


def _index_path(path: str) -> str | None:
    for ext in (".tbi", ".csi"):
        if os.path.isfile(path + ext):
            return path + ext
    return None


@contextlib.contextmanager
def _variant_file(path: str) -> Iterator[Any]:
    """The open ``pysam.VariantFile`` (an ordinary gzip file streamed through a pipe).

    Closes it on leaving; a corrupt gzip stream found by the pipe is the
    error then raised, as it explains whatever the reader met.
    """
    import pysam

    try:
        kind = _hts.compression(path)
    except OSError as exc:
        raise InputFormatError(f"cannot be read ({exc.strerror})", path=path) from None
    pipe = _hts.GzipPipe(path) if kind == "gzip" else None
    try:
        vf = pysam.VariantFile(pipe.reader if pipe is not None else path)
    except (OSError, ValueError) as exc:
        if pipe is not None:
            pipe.close()
            if pipe.error is not None:
                raise InputFormatError(pipe.error, path=path) from None
        raise _failure(path, False, None, None, exc) from None
    try:
        yield vf
    finally:
        with contextlib.suppress(OSError, ValueError):
            vf.close()
        if pipe is not None:
            pipe.close()
            if pipe.error is not None:
                raise InputFormatError(pipe.error, path=path) from None


def _region_bounds(vf, path: str, region: str, contigs: set[str]) -> tuple[str, int, int | None]:
    """The region's contig and 0-based half-open bounds, checked against the header."""
    chrom, start, end = parse_region(region, names=contigs)
    length = vf.header.contigs[chrom].length if chrom in vf.header.contigs else None
    if length is not None and start >= length:
        raise InputFormatError(
            f"region {region!r} starts past the end of contig {chrom!r} (length {length})",
            path=path,
        )
    return chrom, start, end


def read_genotypes(
    path: str | os.PathLike[str],
    *,
    region: str | None = None,
    samples: Iterable[str] | None = None,
    exclude_samples: Iterable[str] | None = None,
    pass_only: bool = False,
    likelihoods: str | None = None,
    bams: Mapping[str, str] | None = None,
    min_base_quality: int = 20,
    min_mapping_quality: int = 20,
) -> Genotypes:
    """Read the biallelic SNPs of a VCF/BCF (region and samples optional).

    Parameters
    ----------
    path : str or path
        VCF (plain, gzip or bgzip) or BCF.  An ordinary gzip (not bgzip)
        file is streamed, so a region is then found by reading the whole file.
    region : str, optional
        ``CHR``, ``CHR:START-END`` or ``CHR:START`` (1-based, inclusive).
    samples, exclude_samples : iterables of str, optional
        Samples to keep (in that order, each once) or to leave out.
    pass_only : bool
        Keep only records whose FILTER is PASS (or ``.``).
    likelihoods : {"PL", "GL"}, optional
        Also read genotype likelihoods from this FORMAT field (PL: phred
        scaled; GL: log10), which every record must have; GT is then
        optional (calls are -1 without it).
    bams : mapping of sample name to BAM/CRAM path, optional
        Take only the SNPs from the file (it may have no samples) and the
        genotype likelihoods of these samples from their reads at those SNPs
        (:mod:`seqem.io.pileup`, with the base and mapping quality
        thresholds); the calls are then all -1.

    Raises
    ------
    InputFormatError
        Among others: records out of order (the file must be sorted, each
        contig in one run), an allele index beyond the record's ALT allele,
        likelihoods of the wrong number or sign, a corrupt compressed block,
        an index that does not match the file.
    ParameterError
        A malformed region, a sample asked for twice, bad thresholds.
    """
    name = os.fspath(path)
    if likelihoods not in (None, "PL", "GL"):
        raise ParameterError(f"likelihoods must be 'PL' or 'GL', got {likelihoods!r}")
    for label, value in (("min_base_quality", min_base_quality),
                         ("min_mapping_quality", min_mapping_quality)):  # fmt: skip
        if value < 0:
            raise ParameterError(f"{label} must be >= 0, got {value}")
    if os.path.isdir(name):
        raise InputFormatError("is a directory, expected a VCF or BCF file", path=name)
    if not os.path.exists(name):
        raise InputFormatError("no such file", path=name)
    with _hts.quiet(), _variant_file(name) as vf:
        return _read(
            vf, name, region=region, samples=samples, exclude_samples=exclude_samples,
            pass_only=pass_only, likelihoods=likelihoods, bams=bams,
            min_base_quality=min_base_quality, min_mapping_quality=min_mapping_quality,
        )  # fmt: skip


def _read(
    vf,
    name: str,
    *,
    region: str | None,
    samples: Iterable[str] | None,
    exclude_samples: Iterable[str] | None,
    pass_only: bool,
    likelihoods: str | None,
    bams: Mapping[str, str] | None,
    min_base_quality: int,
    min_mapping_quality: int,
) -> Genotypes:
    """:func:`read_genotypes` on an open file."""
    is_bcf = vf.format == "BCF"
    if bams is not None:
        likelihoods = None
    elif likelihoods is not None and likelihoods not in vf.header.formats:
        raise InputFormatError(f"the file has no {likelihoods} field", path=name)
    if bams is None and likelihoods is None and "GT" not in vf.header.formats:
        raise InputFormatError("the file has no GT (genotype) field", path=name)
    names = list(vf.header.samples) if bams is None else list(bams)
    if not names:
        raise InputFormatError("the file has no samples", path=name)
    columns = _select_samples(names, samples, exclude_samples, name)
    sites_only = bams is not None
    index_path = _index_path(name) if vf.index is not None else None
    use_index = region is not None and vf.index is not None
    if (
        use_index
        and index_path is not None
        and os.path.getmtime(index_path) < os.path.getmtime(name)
    ):
        warnings.warn(
            f"{name}: the index {os.path.basename(index_path)} is older than the file and "
            "may not match it: reading the whole file instead (re-index it)",
            stacklevel=3,
        )
        use_index = False
    chrom_want, start, end = None, 0, None
    if region is not None:
        contigs = set(vf.header.contigs)
        if vf.index is not None:
            contigs |= set(vf.index)
        chrom_want, start, end = _region_bounds(vf, name, region, contigs)
    records: Iterable = vf
    if use_index:
        try:
            records = vf.fetch(chrom_want, start, end)
        except ValueError as exc:
            if "out of range" in str(exc):
                raise InputFormatError(
                    f"region {region!r}: coordinates out of range for the index", path=name
                ) from None
            raise InputFormatError(f"no records on {chrom_want!r}", path=name) from None
    plain = use_index and not is_bcf and bams is None and likelihoods is None
    if plain:
        assert chrom_want is not None
        try:
            batches, ids_, pos_, refs_, alts_, skipped_, tail_ = _text_region(
                name, chrom_want, start, end, n_all=len(names), pass_only=pass_only
            )
        except _NotPlain:
            plain = False
    index_used = (index_path or "index") if use_index else None
    contig_id = None
    if use_index and chrom_want in vf.header.contigs:
        contig_id = vf.header.contigs[chrom_want].id
    if plain and ids_:
        assert chrom_want is not None and index_used is not None
        _check_index(name, index_used, chrom_want, contig_id, start, end, tail_)
        every = np.concatenate(batches, axis=0)
        calls_matrix = np.ascontiguousarray(every[:, columns].T)
        return Genotypes(
            calls=calls_matrix,
            ids=tuple(ids_),
            chrom=(str(chrom_want),) * len(ids_),
            positions=np.array(pos_, dtype=np.int64),
            ref=tuple(refs_),
            alt=tuple(alts_),
            samples=tuple(names[i] for i in columns),
            path=name,
            skipped=dict(skipped_),
        )
    skipped: Counter[str] = Counter()
    rows: list[np.ndarray] = []
    ids: list[str] = []
    chroms: list[str] = []
    positions: list[int] = []
    refs: list[str] = []
    alts: list[str] = []
    gl_rows: list[np.ndarray] = []
    n_all = len(names)
    everyone = columns.size == n_all and bool(np.all(columns == np.arange(n_all)))
    where: str | None = None
    last_chrom, last_pos = None, 0
    finished: set[str] = set()  # contigs whose run of records has ended
    seen_want = False
    seen = 0  # records read (the file's first ones, unless read through the index)
    try:
        for rec in records:
            seen += 1
            chrom, pos = rec.chrom, rec.pos
            if chrom != last_chrom:
                if last_chrom is not None:
                    finished.add(last_chrom)
                if chrom in finished:
                    raise InputFormatError(
                        f"record {chrom}:{pos} out of order after {where}: the records of "
                        f"{chrom!r} are not all together (sort the file, e.g. bcftools sort)",
                        path=name,
                    )
                last_chrom = chrom
            elif pos < last_pos:
                if index_used is not None:  # an indexed file is sorted: not the index's file
                    raise _index_mismatch(
                        name, index_used, f"it leads to record {chrom}:{pos} after {where}"
                    )
                raise InputFormatError(
                    f"record {chrom}:{pos} out of order after {where} (sort the file, "
                    "e.g. bcftools sort)",
                    path=name,
                )
            last_pos = pos
            where = f"{chrom}:{pos}"
            if chrom_want is not None:
                if chrom != chrom_want:
                    if index_used is not None:  # a region's records come from another contig
                        raise _failure(name, is_bcf, where, index_used, ValueError(chrom))
                    continue
                seen_want = True
                if end is not None and pos > end and index_used is not None:
                    raise _index_mismatch(
                        name, index_used, f"it gives record {where} for region {region}"
                    )
                if pos <= start or (end is not None and pos > end):
                    continue
            alleles: tuple[str, ...] = tuple(rec.alts or ())
            if not rec.ref or "" in alleles:  # text VCF reads an empty field as '.'
                raise InputFormatError(
                    "an empty REF or ALT allele (a damaged BCF record?); an allele has at "
                    "least one base",
                    path=name,
                    record=where,
                )
            filters = tuple(rec.filter.keys()) if pass_only else ()
            reason = _left_out(rec.ref, alleles, filters, pass_only)
            if reason is not None:
                skipped[reason] += 1
                continue
            fmt = [] if sites_only else list(rec.format.keys())
            ploidy = None
            if sites_only or (likelihoods is not None and "GT" not in fmt):
                calls = np.full(columns.size, -1, dtype=np.int8)
            elif "GT" not in fmt:
                raise InputFormatError("record without a GT field", path=name, record=where)
            else:
                fast = _fast_calls(str(rec), n_all) if fmt == ["GT"] else None
                if fast is not None:
                    calls = fast if everyone else fast[columns]
                else:
                    calls, ploidy = _text_calls(
                        str(rec), fmt.index("GT"), columns, names, name, where
                    )
                    haploid = int(np.count_nonzero(ploidy == 1))
                    if haploid:
                        skipped["haploid calls read as missing"] += haploid
            if likelihoods is not None:
                if likelihoods not in fmt:
                    raise InputFormatError(
                        f"no {likelihoods} field in this record; --likelihoods {likelihoods} "
                        "reads it from every record (or leave the option out to use the "
                        "GT calls)",
                        path=name,
                        record=where,
                    )
                gl_rows.append(_likelihoods(rec, columns, likelihoods, ploidy, names, name, where))
            rows.append(calls)
            ids.append(rec.id if rec.id not in (None, ".") else where)
            chroms.append(chrom)
            positions.append(pos)
            refs.append(rec.ref)
            alts.append(alleles[0])
    except (OSError, ValueError) as exc:
        if isinstance(exc, (InputFormatError, ParameterError)):
            raise
        # the damage is in the record last read or the next one (counted in the file
        # only when it is read from its start)
        first = 1 if use_index else max(seen, 1)
        raise _failure(
            name, is_bcf, where, index_used, exc, header=vf.header, first=first
        ) from None
    if index_used is not None:
        assert chrom_want is not None
        tail = _Tail(vf.tell(), last_pos) if seen else None
        _check_index(name, index_used, chrom_want, contig_id, start, end, tail)
    if not rows:
        if chrom_want is not None and not use_index and not seen_want:
            raise InputFormatError(f"no records on {chrom_want!r}", path=name)
        place = f" in {region}" if region is not None else ""
        raise InputFormatError(f"no biallelic SNP{place}", path=name)
    calls_matrix = np.ascontiguousarray(np.stack(rows, axis=1))
    gl = np.ascontiguousarray(np.stack(gl_rows, axis=1)) if likelihoods else None
    if bams is not None:
        from .pileup import allele_likelihoods

        chosen = {names[i]: bams[names[i]] for i in columns}
        gl, _ = allele_likelihoods(
            chosen, chroms, positions, refs, alts, min_base_quality=min_base_quality,
            min_mapping_quality=min_mapping_quality,
        )  # fmt: skip
    return Genotypes(
        calls=calls_matrix,
        ids=tuple(ids),
        chrom=tuple(chroms),
        positions=np.array(positions, dtype=np.int64),
        ref=tuple(refs),
        alt=tuple(alts),
        samples=tuple(names[i] for i in columns),
        path=name,
        skipped=dict(skipped),
        likelihoods=gl,
    )
