"""Reads per gene (seqem deconv count) against samtools view -c, and the counting rules."""

import shutil
import subprocess

import numpy as np
import pysam
import pytest

from seqem.io.counting import Gene, count_reads, read_annotation

from ..cli.conftest import DATA

BAM = DATA / "example_reads.bam"
GTF = DATA / "example_genes.gtf"


@pytest.mark.skipif(shutil.which("samtools") is None, reason="samtools not installed")
@pytest.mark.parametrize("mapq", [0, 10])
def test_counts_equal_samtools_view_c(mapq):
    genes = read_annotation(str(GTF))
    ours = count_reads(str(BAM), genes, min_mapq=mapq, multi="count")
    for gene, n in zip(genes, ours, strict=True):
        regions = [f"{gene.chrom}:{s + 1}-{e}" for s, e in gene.exons]
        out = subprocess.run(
            ["samtools", "view", "-c", "-M", "-F", "0xB04", "-q", str(mapq), str(BAM), *regions],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert int(out.stdout) == n, gene.name


def test_bed_annotation_and_cli(tmp_path):
    from seqem.cli.main import main

    bed = tmp_path / "genes.bed"
    genes = read_annotation(str(GTF))
    bed.write_text(
        "".join(
            f"{g.chrom}\t{g.exons[0][0]}\t{g.exons[0][1]}\t{g.name}\t0\t{g.strand}\n" for g in genes
        )  # fmt: skip
    )
    out = tmp_path / "counts.tsv"
    code = main(["deconv", "count", "--annotation", str(bed), str(BAM), str(BAM),
                 "--names", "a,b", "-o", str(out), "-q"])  # fmt: skip
    assert code == 0
    rows = [r.split("\t") for r in out.read_text().splitlines()]
    assert rows[0] == ["gene", "a", "b"] and len(rows) == 7
    first_exons = [Gene(g.name, g.chrom, g.strand, g.exons[:1]) for g in genes]
    expected = count_reads(str(BAM), first_exons)
    assert [int(r[1]) for r in rows[1:]] == expected.tolist()
    assert all(r[1] == r[2] for r in rows[1:])


def write_bam(path, reads):
    """reads: (name, flag, start, mapq, nh)."""
    header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": "c", "LN": 5000}]}
    with pysam.AlignmentFile(str(path), "wb", header=header) as fh:
        for name, flag, start, mapq, nh in sorted(reads, key=lambda r: r[2]):
            a = pysam.AlignedSegment()
            a.query_name, a.flag, a.reference_id, a.reference_start = name, flag, 0, start
            a.query_sequence = "C" * 40
            a.mapping_quality, a.cigar = mapq, [(0, 40)]
            a.query_qualities = pysam.qualitystring_to_array("I" * 40)
            if nh:
                a.set_tag("NH", nh)
            fh.write(a)
    pysam.index(str(path))


def test_pairs_once_multimappers_and_strand(tmp_path):
    bam = tmp_path / "t.bam"
    paired1, paired2 = 0x1 | 0x2 | 0x40 | 0x20, 0x1 | 0x2 | 0x80 | 0x10
    write_bam(bam, [
        ("p1", paired1, 100, 60, 0), ("p1", paired2, 300, 60, 0),  # pair in one gene: once
        ("s1", 0, 150, 60, 0),  # forward single read
        ("s2", 0x10, 200, 60, 0),  # reverse single read
        ("m1", 0, 250, 60, 3),  # multi-mapper
        ("dup", 0x400, 260, 60, 0),  # duplicate
        ("out", 0, 2000, 60, 0),  # outside
    ])  # fmt: skip
    gene = [Gene("g", "c", "+", ((50, 400),))]
    assert count_reads(str(bam), gene)[0] == 4  # p1, s1, s2, dup
    assert count_reads(str(bam), gene, multi="count")[0] == 5
    assert count_reads(str(bam), gene, skip_duplicates=True)[0] == 3
    # forward library on a + gene: p1 (first mate forward), s1, dup
    assert count_reads(str(bam), gene, strand="forward")[0] == 3
    assert count_reads(str(bam), gene, strand="reverse")[0] == 1  # s2


def test_bad_annotation_and_missing_index(tmp_path):
    from seqem.errors import InputFormatError

    bad = tmp_path / "x.gtf"
    bad.write_text('c\tsim\texon\t10\t5\t.\t+\t.\tgene_id "a";\n')
    with pytest.raises(InputFormatError, match="end before start"):
        read_annotation(str(bad))
    unindexed = tmp_path / "u.bam"
    shutil.copyfile(BAM, unindexed)
    with pytest.raises(InputFormatError, match="no index"):
        count_reads(str(unindexed), read_annotation(str(GTF)))


def test_make_reads_data_reproduces_the_counts(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_reads", DATA / "make_reads_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--out", str(tmp_path)])
    genes = read_annotation(str(GTF))
    a = count_reads(str(tmp_path / "example_reads.bam"), genes, min_mapq=10)
    b = count_reads(str(BAM), genes, min_mapq=10)
    assert np.array_equal(a, b)
    assert (tmp_path / "example_reads_truth.tsv").read_text() == (
        DATA / "example_reads_truth.tsv"
    ).read_text()
