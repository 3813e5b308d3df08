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
* a call with more than two alleles, a file without the GT field, unknown
  sample names, a malformed or truncated file, or a region without any
  biallelic SNP is an :class:`~seqem.errors.InputFormatError` naming the
  file (and the record, ``CHR:POS``).

Indexed files (``.tbi``/``.csi``) are read from the region only; unindexed
files are streamed and filtered.  Calls written as the usual three
characters (``0|1``, ``1/1``, ``./.``) in files whose FORMAT is ``GT`` alone
are parsed from the record text in bulk; anything else goes through pysam
sample by sample.  A region of an indexed bgzipped VCF whose records are all
of that kind is read from the raw text lines (no record objects), with the
same rules; the first record that is not sends the region to pysam.
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from ..errors import InputFormatError, ParameterError
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
) -> tuple[list[np.ndarray], list[str], list[int], list[str], list[str], Counter[str]]:
    """The region's biallelic SNPs straight from the indexed text (no record objects).

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
            for line in lines:
                fields = line.split("\t", 9)
                if len(fields) != 10 or fields[0] != chrom:
                    raise _NotPlain
                pos = int(fields[1])
                if pos <= start or (end is not None and pos > end):
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
    except (OSError, ValueError, UnicodeError):
        raise _NotPlain from None
    return batches, ids, positions, refs, alts, skipped


def _slow_calls(rec, columns: np.ndarray, path: str, where: str) -> tuple[np.ndarray, int]:
    """ALT counts through pysam, one sample at a time; also the haploid calls seen."""
    out = np.empty(columns.size, dtype=np.int8)
    haploid = 0
    samples = rec.samples
    for j, c in enumerate(columns):
        gt = samples[int(c)].get("GT")
        if gt is None or len(gt) == 0:
            out[j] = -1
            continue
        if len(gt) == 1:
            haploid += 1
            out[j] = -1
            continue
        if len(gt) > 2:
            raise InputFormatError(
                f"{len(gt)} alleles in the call of sample {samples[int(c)].name!r}; only "
                "diploid (and haploid) calls are supported",
                path=path,
                record=where,
            )
        if gt[0] is None or gt[1] is None:
            out[j] = -1
        else:
            out[j] = int(gt[0] > 0) + int(gt[1] > 0)
    return out, haploid


def _likelihoods(rec, columns: np.ndarray, field: str) -> np.ndarray:
    """Relative genotype likelihoods (max 1) of the chosen samples; 1s where absent."""
    out = np.ones((columns.size, 3))
    samples = rec.samples
    for j, c in enumerate(columns):
        try:
            values = samples[int(c)].get(field)
        except (KeyError, ValueError):
            values = None
        if values is None or len(values) != 3 or any(v is None for v in values):
            continue  # missing, or a haploid call: no information
        v = np.asarray(values, dtype=np.float64)
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
        VCF (plain, gzip or bgzip) or BCF.
    region : str, optional
        ``CHR``, ``CHR:START-END`` or ``CHR:START`` (1-based, inclusive).
    samples, exclude_samples : iterables of str, optional
        Samples to keep (in that order) or to leave out.
    pass_only : bool
        Keep only records whose FILTER is PASS (or ``.``).
    likelihoods : {"PL", "GL"}, optional
        Also read genotype likelihoods from this FORMAT field (PL: phred
        scaled; GL: log10); GT is then optional (calls are -1 without it).
    bams : mapping of sample name to BAM/CRAM path, optional
        Take only the SNPs from the file (it may have no samples) and the
        genotype likelihoods of these samples from their reads at those SNPs
        (:mod:`seqem.io.pileup`, with the base and mapping quality
        thresholds); the calls are then all -1.
    """
    import pysam

    name = os.fspath(path)
    if not os.path.exists(name):
        raise InputFormatError("no such file", path=name)
    try:
        vf = pysam.VariantFile(name)
    except (OSError, ValueError) as exc:
        raise InputFormatError(f"not a readable VCF/BCF file ({exc})", path=name) from None
    if likelihoods not in (None, "PL", "GL"):
        raise ParameterError(f"likelihoods must be 'PL' or 'GL', got {likelihoods!r}")
    with vf:
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
        chrom_want, start, end = (None, 0, None) if region is None else parse_region(region)
        try:
            if region is not None and vf.index is not None:
                records: Iterable = vf.fetch(chrom_want, start, end)
            else:
                records = vf
        except ValueError:
            raise InputFormatError(f"no records on {chrom_want!r}", path=name) from None
        plain = (
            region is not None
            and vf.index is not None
            and vf.format == "VCF"
            and bams is None
            and likelihoods is None
        )
        if plain:
            assert chrom_want is not None
            try:
                batches, ids_, pos_, refs_, alts_, skipped_ = _text_region(
                    name, chrom_want, start, end, n_all=len(names), pass_only=pass_only
                )
            except _NotPlain:
                plain = False
        if plain and ids_:
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
        where = "the first record"
        try:
            for rec in records:
                where = f"{rec.chrom}:{rec.pos}"
                if chrom_want is not None:
                    if rec.chrom != chrom_want or rec.pos <= start:
                        continue
                    if end is not None and rec.pos > end:
                        continue
                alleles: tuple[str, ...] = tuple(rec.alts or ())
                filters = tuple(rec.filter.keys()) if pass_only else ()
                reason = _left_out(rec.ref, alleles, filters, pass_only)
                if reason is not None:
                    skipped[reason] += 1
                    continue
                fmt = [] if sites_only else list(rec.format.keys())
                if likelihoods is not None:
                    gl_rows.append(_likelihoods(rec, columns, likelihoods))
                if sites_only or (likelihoods is not None and "GT" not in fmt):
                    calls = np.full(columns.size, -1, dtype=np.int8)
                elif "GT" not in fmt:
                    raise InputFormatError("record without a GT field", path=name, record=where)
                else:
                    fast = _fast_calls(str(rec), n_all) if fmt == ["GT"] else None
                    if fast is not None:
                        calls = fast if everyone else fast[columns]
                    else:
                        calls, haploid = _slow_calls(rec, columns, name, where)
                        if haploid:
                            skipped["haploid calls read as missing"] += haploid
                rows.append(calls)
                ids.append(rec.id if rec.id not in (None, ".") else where)
                chroms.append(rec.chrom)
                positions.append(rec.pos)
                refs.append(rec.ref)
                alts.append(alleles[0])
        except (OSError, ValueError) as exc:
            if isinstance(exc, (InputFormatError, ParameterError)):
                raise
            raise InputFormatError(
                f"malformed or truncated file after {where} ({exc})", path=name
            ) from None
    if not rows:
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
