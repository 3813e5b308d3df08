"""Allele counts from BAM/CRAM at known SNPs, turned into genotype likelihoods.

For each sample (one alignment file each) the reads covering each SNP are
piled up (pysam), reads below a mapping quality and bases below a base
quality left out, and the REF and ALT bases counted with their qualities.
The likelihood of a genotype with ``g`` ALT alleles is the product over the
bases of ``((2 - g) P(b | REF) + g P(b | ALT)) / 2``, where
``P(b | allele) = 1 - e`` when the base shows that allele and ``e / 3``
otherwise, ``e = 10^(-Q/10)`` from the base quality ``Q`` (the usual
diploid genotype likelihood, as in samtools/bcftools).  Bases that are
neither REF nor ALT are left out.  Likelihoods are scaled so that the
largest is 1; a SNP without any read gets 1 for every genotype.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import InputFormatError, ParameterError
from ._hts import clean_message as _clean
from ._hts import compression_problem

__all__ = ["allele_likelihoods", "read_bam_list"]


def read_bam_list(path: str) -> dict[str, str]:
    """``sample path`` per line (paths relative to the list's folder); '#' comments."""
    out: dict[str, str] = {}
    try:
        with open(path) as fh:
            lines = fh.read().splitlines()
    except OSError as exc:
        raise InputFormatError(exc.strerror or "cannot be read", path=path) from None
    base = os.path.dirname(os.path.abspath(path))
    for number, line in enumerate(lines, 1):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if len(words) != 2:
            raise InputFormatError(
                f"line {number}: expected 'sample path', got {line.strip()!r}", path=path
            )
        sample, bam = words
        if sample in out:
            raise InputFormatError(f"line {number}: sample {sample!r} listed twice", path=path)
        out[sample] = bam if os.path.isabs(bam) else os.path.join(base, bam)
    if not out:
        raise InputFormatError("no samples listed", path=path)
    return out


def allele_likelihoods(
    bams: Mapping[str, str],
    chrom: Sequence[str],
    positions: Sequence[int],
    ref: Sequence[str],
    alt: Sequence[str],
    *,
    min_base_quality: int = 20,
    min_mapping_quality: int = 20,
    reference: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Genotype likelihoods (samples x SNPs x 3) and REF/ALT base counts (x 2).

    ``positions`` are 1-based; the SNPs must be sorted by position within a
    chromosome.  ``reference`` is the FASTA a CRAM file needs.
    """
    from ._hts import quiet

    if min_base_quality < 0 or min_mapping_quality < 0:
        raise ParameterError(
            "base and mapping quality thresholds must be >= 0, got "
            f"{min_base_quality} and {min_mapping_quality}"
        )
    with quiet():  # htslib's own messages would be extra lines on stderr
        return _allele_likelihoods(
            bams, chrom, positions, ref, alt, min_base_quality=min_base_quality,
            min_mapping_quality=min_mapping_quality, reference=reference,
        )  # fmt: skip


def _allele_likelihoods(
    bams: Mapping[str, str],
    chrom: Sequence[str],
    positions: Sequence[int],
    ref: Sequence[str],
    alt: Sequence[str],
    *,
    min_base_quality: int,
    min_mapping_quality: int,
    reference: str | None,
) -> tuple[np.ndarray, np.ndarray]:
    import pysam

    n, m = len(bams), len(positions)
    log_gl = np.zeros((n, m, 3))
    counts = np.zeros((n, m, 2), dtype=np.int64)
    index = {(c, int(p)): j for j, (c, p) in enumerate(zip(chrom, positions, strict=True))}
    spans: dict[str, tuple[int, int]] = {}
    for c, p in zip(chrom, positions, strict=True):
        lo, hi = spans.get(c, (int(p), int(p)))
        spans[c] = (min(lo, int(p)), max(hi, int(p)))
    for i, (sample, path) in enumerate(bams.items()):
        if not os.path.exists(path):
            raise InputFormatError(f"alignment file of sample {sample!r}: no such file", path=path)
        if os.path.isdir(path):
            raise InputFormatError(
                f"alignment file of sample {sample!r}: is a directory, expected a BAM/CRAM file",
                path=path,
            )
        try:
            aln = pysam.AlignmentFile(path, reference_filename=reference)
        except (OSError, ValueError) as exc:
            raise InputFormatError(
                f"alignment file of sample {sample!r}: not a readable BAM/CRAM file "
                f"({_clean(exc)})",
                path=path,
            ) from None
        with aln:
            if not aln.has_index():
                raise InputFormatError("no index (.bai/.crai): run 'samtools index'", path=path)
            for c, (lo, hi) in spans.items():
                if c not in aln.references:
                    raise InputFormatError(f"no reference sequence named {c!r}", path=path)
                columns = aln.pileup(
                    c, lo - 1, hi, truncate=True, min_base_quality=0, ignore_orphans=False,
                    ignore_overlaps=False, stepper="nofilter",
                )  # fmt: skip
                try:
                    for col in columns:
                        j = index.get((c, col.reference_pos + 1))
                        if j is None:
                            continue
                        _add_bases(
                            log_gl[i, j], counts[i, j], col.get_query_sequences(),
                            col.get_query_qualities(), col.get_mapping_qualities(),
                            ref[j], alt[j], min_base_quality, min_mapping_quality,
                        )  # fmt: skip
                except (OSError, ValueError) as exc:
                    problem = compression_problem(path)
                    raise InputFormatError(
                        problem or f"malformed or truncated alignment file ({_clean(exc)})",
                        path=path,
                    ) from None
    gl = 10.0 ** (log_gl - log_gl.max(axis=2, keepdims=True))
    return gl, counts


def _add_bases(
    log_gl: np.ndarray,
    counts: np.ndarray,
    bases: list,
    quals: list,
    mapqs: list,
    ref: str,
    alt: str,
    min_bq: int,
    min_mapq: int,
) -> None:
    ref_u, alt_u = ref.upper(), alt.upper()
    for b, q, mq in zip(bases, quals, mapqs, strict=True):
        if not b or q < min_bq or mq < min_mapq:
            continue  # a deletion or reference skip, or a base or read below the thresholds
        b = b.upper()
        if b not in (ref_u, alt_u):
            continue
        e = 10.0 ** (-q / 10.0)
        p_ref = 1.0 - e if b == ref_u else e / 3.0
        p_alt = 1.0 - e if b == alt_u else e / 3.0
        log_gl[0] += np.log10(p_ref)
        log_gl[1] += np.log10(0.5 * (p_ref + p_alt))
        log_gl[2] += np.log10(p_alt)
        counts[0 if b == ref_u else 1] += 1
