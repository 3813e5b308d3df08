"""Reads per gene from BAM/CRAM files over an annotation (pysam).

A gene is the union of its exons (GTF/GFF3 ``exon`` lines grouped by gene,
or one BED line per region, named by its fourth column).  A read is counted
for a gene when it overlaps any of the gene's exons by at least one aligned
base position, once however many exons it touches; with paired reads a
fragment is counted once (by name) however many of its mates overlap.
Rules, each an option:

* reads that are unmapped, secondary, supplementary or fail QC are never
  counted; duplicates are counted unless ``skip_duplicates``;
* reads below ``min_mapq`` are left out;
* ``multi``: reads with an ``NH`` tag above 1 are left out (``"skip"``,
  the default) or counted for every gene they overlap (``"count"``);
* ``strand``: ``"none"``, ``"forward"`` (the read, or the first mate, on the
  gene's strand) or ``"reverse"`` (dUTP libraries).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

import numpy as np

from ..errors import InputFormatError
from ._hts import clean_message, quiet

__all__ = ["Gene", "count_reads", "read_annotation"]

EXCLUDE_FLAGS = 0x4 | 0x100 | 0x200 | 0x800  # unmapped, secondary, QC fail, supplementary


@dataclasses.dataclass(frozen=True)
class Gene:
    name: str
    chrom: str
    strand: str
    exons: tuple[tuple[int, int], ...]  # 0-based half-open


def _attributes(text: str, gff3: bool) -> dict[str, str]:
    out = {}
    for part in text.strip().strip(";").split(";"):
        part = part.strip()
        if not part:
            continue
        if gff3 and "=" in part:
            key, value = part.split("=", 1)
        elif " " in part:
            key, value = part.split(" ", 1)
        else:
            continue
        out[key.strip()] = value.strip().strip('"')
    return out


def _annotation_lines(path: str) -> list[str]:
    """The lines of an annotation file, plain or gzip (detected from its content)."""
    from ._source import InputSource

    return InputSource(path).read_text("annotation (GTF, GFF3 or BED)").splitlines()


def read_annotation(path: str) -> list[Gene]:
    """Genes from a GTF, GFF3 or BED file (plain or gzip, detected from the content).

    The format is told by the name (``.bed``, ``.gff``/``.gff3``, else GTF,
    each optionally with ``.gz``).  Coordinates are checked: GTF/GFF3 starts
    are 1-based (at least 1), BED starts 0-based (at least 0), and every
    region ends after it starts.
    """
    lines = _annotation_lines(path)
    low = path.lower().removesuffix(".gz")
    bed = low.endswith(".bed")
    exons: dict[str, list] = {}
    info: dict[str, tuple[str, str]] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.startswith(("#", "track", "browser")):
            continue
        f = line.rstrip("\r").split("\t")
        if bed:
            if len(f) < 3:
                raise InputFormatError(
                    "expected at least 3 tab-separated fields (BED)", path=path, line=number
                )
            try:
                start, end = int(f[1]), int(f[2])
            except ValueError:
                raise InputFormatError(
                    f"bad coordinates {f[1]!r}, {f[2]!r}: expected integers", path=path, line=number
                ) from None
            if start < 0:
                raise InputFormatError(
                    f"start {start} is negative (BED starts are 0-based)", path=path, line=number
                )
            name = f[3].strip() if len(f) > 3 else f"{f[0]}:{start + 1}-{end}"
            strand = f[5] if len(f) > 5 else "."
            if not name:
                raise InputFormatError("blank region name (fourth field)", path=path, line=number)
        else:
            if len(f) < 9:
                raise InputFormatError(
                    f"expected 9 tab-separated fields (GTF/GFF3), found {len(f)}",
                    path=path,
                    line=number,
                )
            if f[2] != "exon":
                continue
            attrs = _attributes(f[8], gff3=low.endswith((".gff3", ".gff")))
            name = attrs.get("gene_id") or attrs.get("gene") or attrs.get("Parent") or ""
            if not name.strip():
                raise InputFormatError("exon without gene_id/Parent", path=path, line=number)
            try:
                first, end = int(f[3]), int(f[4])
            except ValueError:
                raise InputFormatError(
                    f"bad coordinates {f[3]!r}, {f[4]!r}: expected integers", path=path, line=number
                ) from None
            if first < 1:
                raise InputFormatError(
                    f"start {first} is below 1 (GTF/GFF3 positions are 1-based)",
                    path=path,
                    line=number,
                )
            start = first - 1
            strand = f[6]
        if end <= start:
            raise InputFormatError("end before start", path=path, line=number)
        chrom = f[0]
        if not chrom.strip():
            raise InputFormatError("blank chromosome name", path=path, line=number)
        if name in info and info[name][0] != chrom:
            raise InputFormatError(f"gene {name!r} on two chromosomes", path=path, line=number)
        info.setdefault(name, (chrom, strand))
        exons.setdefault(name, []).append((start, end))
    if not exons:
        raise InputFormatError("no exons or regions", path=path)
    return [
        Gene(n, info[n][0], info[n][1], tuple(sorted(set(map(tuple, exons[n]))))) for n in exons
    ]


def count_reads(
    bam: str,
    genes: Sequence[Gene],
    *,
    min_mapq: int = 0,
    strand: str = "none",
    multi: str = "skip",
    skip_duplicates: bool = False,
    reference: str | None = None,
    annotation: str = "the annotation",
) -> np.ndarray:
    """Reads (fragments) per gene of one alignment file.

    ``annotation`` names where the genes come from, for messages.  An
    alignment file none of whose reference sequences holds a gene is an
    error (different chromosome names: ``chr1`` or ``1``), not a column of
    zeros.
    """

    if strand not in ("none", "forward", "reverse"):
        raise InputFormatError(f"strand must be none, forward or reverse, got {strand!r}")
    if multi not in ("skip", "count"):
        raise InputFormatError(f"multi must be skip or count, got {multi!r}")
    if not os.path.exists(bam):
        raise InputFormatError("no such file", path=bam)
    if os.path.isdir(bam):
        raise InputFormatError("is a directory, expected a BAM/CRAM file", path=bam)
    with quiet():  # htslib's own messages would be extra lines on stderr
        return _count(
            bam, genes, min_mapq=min_mapq, strand=strand, multi=multi,
            skip_duplicates=skip_duplicates, reference=reference, annotation=annotation,
        )  # fmt: skip


def _count(
    bam: str,
    genes: Sequence[Gene],
    *,
    min_mapq: int,
    strand: str,
    multi: str,
    skip_duplicates: bool,
    reference: str | None,
    annotation: str,
) -> np.ndarray:
    """:func:`count_reads` once its arguments are checked."""
    import pysam

    try:
        aln = pysam.AlignmentFile(bam, reference_filename=reference)
    except (OSError, ValueError) as exc:
        raise InputFormatError(
            f"not a readable BAM/CRAM file ({clean_message(exc)})", path=bam
        ) from None
    flags = EXCLUDE_FLAGS | (0x400 if skip_duplicates else 0)
    out = np.zeros(len(genes), dtype=np.int64)
    with aln:
        if not aln.has_index():
            raise InputFormatError("no index (.bai/.crai): run 'samtools index'", path=bam)
        refs = set(aln.references)
        if not any(gene.chrom in refs for gene in genes):
            ours = list(dict.fromkeys(g.chrom for g in genes))
            raise InputFormatError(
                f"none of the chromosomes of {annotation} ({_some(ours)}) is a reference "
                f"sequence of this alignment file ({_some(list(aln.references))}): do the two "
                "name chromosomes the same way ('chr1' or '1')?",
                path=bam,
            )
        for i, gene in enumerate(genes):
            if gene.chrom not in refs:
                continue
            seen: set[str] = set()
            for start, end in gene.exons:
                try:
                    reads = aln.fetch(gene.chrom, start, end)
                    for r in reads:
                        if r.flag & flags or r.mapping_quality < min_mapq:
                            continue
                        if multi == "skip" and r.has_tag("NH") and int(r.get_tag("NH")) > 1:
                            continue
                        if (
                            strand != "none"
                            and gene.strand in "+-"
                            and not _on_strand(r, gene.strand, strand)
                        ):
                            continue
                        key = r.query_name or ""
                        if key in seen:
                            continue
                        if r.get_overlap(start, end) == 0:
                            continue
                        seen.add(key)
                except (OSError, ValueError) as exc:
                    raise InputFormatError(
                        f"malformed or truncated alignment file ({clean_message(exc)})", path=bam
                    ) from None
            out[i] = len(seen)
    return out


def _some(names: list[str], most: int = 3) -> str:
    """A few names for a message: ``a, b, c and 4 more``."""
    if not names:
        return "none"
    shown = ", ".join(repr(n) for n in names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def _on_strand(read, gene_strand: str, library: str) -> bool:
    """Whether the fragment comes from the gene's strand for this library type."""
    forward = not read.is_reverse
    if read.is_paired and read.is_read2:
        forward = not forward
    if library == "reverse":
        forward = not forward
    return forward == (gene_strand == "+")
