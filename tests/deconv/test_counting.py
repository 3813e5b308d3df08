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


def test_gzip_annotation_told_by_its_bytes(tmp_path):
    import gzip

    plain = read_annotation(str(GTF))
    for name in ("genes.gtf", "genes.gtf.gz"):
        path = tmp_path / name
        path.write_bytes(gzip.compress(GTF.read_bytes()))
        assert read_annotation(str(path)) == plain


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("a.gtf", b'c\ts\texon\t5\t9\t.\t+\t.\tgene_id "\xe9";\n', "a.gtf:1: not a text"),
        ("a.gtf", b'c\ts\texon\t0\t9\t.\t+\t.\tgene_id "g";\n', "a.gtf:1: start 0 is below 1"),
        ("a.gtf", b'c\ts\texon\t-3\t9\t.\t+\t.\tgene_id "g";\n', "a.gtf:1: start -3 is below 1"),
        ("a.gtf", b'c\ts\texon\t5\tx\t.\t+\t.\tgene_id "g";\n', "a.gtf:1: bad coordinates"),
        ("a.bed", b"c\t-1\t9\tg\n", "a.bed:1: start -1 is negative"),
        ("a.bed", b"c\t1\t9\t \n", "a.bed:1: blank region name"),
        ("a.gtf.gz", b"\x1f\x8b\x08\x00\x00\x00", "a.gtf.gz: truncated or corrupt gzip stream"),
    ],
)  # fmt: skip
def test_bad_annotation_named_with_its_line(tmp_path, name, content, message):
    from seqem.errors import InputFormatError

    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputFormatError) as info:
        read_annotation(str(path))
    assert str(info.value).startswith(str(tmp_path)) and message in str(info.value)


def test_no_chromosome_in_common_is_an_error(tmp_path):
    from seqem.errors import InputFormatError

    genes = [Gene("g", "1", "+", ((10, 50),))]  # the BAM's sequence is 'chrS'
    with pytest.raises(InputFormatError) as info:
        count_reads(str(BAM), genes, annotation="genes.gtf")
    text = str(info.value)
    assert (
        text.startswith(f"{BAM}: none of the chromosomes of genes.gtf ('1')") and "'chrS'" in text
    )
    # one chromosome in common is enough: the others count zero
    genes.append(Gene("h", "chrS", "+", ((1000, 1400),)))
    assert count_reads(str(BAM), genes).tolist()[0] == 0
