"""Readers and writers.

Readers return plain arrays plus metadata in frozen dataclasses, and report
bad input as :class:`seqem.errors.InputFormatError` naming the file, line and
record.  Writers go through :func:`seqem.io.atomic.atomic_output`, so that an
interrupted run never leaves a half-written file.

Modules
-------
atomic
    ``atomic_output``: write to a temporary file, rename on success.
fasta
    ``read_fasta``: DNA FASTA (plain or gzip) to integer codes.
regions
    ``parse_region``: ``chr1:1,000-2,000`` style regions.
table
    ``read_table`` / ``write_tsv``: numeric observation tables.
bed
    ``write_bed`` / ``read_bed``: BED6 segment files.
msa
    ``read_msa``: multiple alignments (Stockholm, aligned FASTA, A2M).
hmmer
    ``read_hmmer`` / ``write_hmmer``: HMMER3 profile HMM files.
sequences
    ``read_sequences``: protein/DNA/RNA FASTA and Swiss-Prot files to residue
    codes; ``read_bam_reads``: reads from BAM/CRAM.
"""
