"""Genotypes from VCF files: values, regions, samples, the stated rules and bad input."""

import gzip
import re
from pathlib import Path

import numpy as np
import pytest

from seqem.errors import InputFormatError
from seqem.io.vcf import read_genotypes

REPO = Path(__file__).resolve().parents[2]
COHORT = REPO / "data" / "example_cohort.vcf.gz"
KGP = REPO.parent / "shared" / "data" / "haplotype" / "kgp3_chr1_11.7M"

HEADER = (
    "##fileformat=VCFv4.2\n##contig=<ID=1,length=100000>\n"
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
    '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tA\tB\tC\n"
)


def vcf(tmp_path, body, header=HEADER, name="t.vcf"):
    path = tmp_path / name
    path.write_text(header + body)
    return path


def test_example_cohort_matches_its_truth():
    truth = [line.split("\t") for line in (REPO / "data" / "example_cohort_truth.tsv")
             .read_text().splitlines()[1:]]  # fmt: skip
    h1 = np.array([[int(c) for c in r[1]] for r in truth])
    h2 = np.array([[int(c) for c in r[2].strip()] for r in truth])
    g = read_genotypes(COHORT)
    assert g.calls.shape == (400, 200) and g.samples[0] == "S0001"
    called = g.calls >= 0
    np.testing.assert_array_equal(g.calls[called], (h1 + h2)[called])
    assert 0.005 < 1 - called.mean() < 0.015
    assert g.ids[9] == f"1:{g.positions[9]}" and g.ids[0].startswith("rs")


def test_region_and_samples_indexed_and_streamed(tmp_path):
    full = read_genotypes(COHORT)
    lo, hi = int(full.positions[20]), int(full.positions[59])
    part = read_genotypes(COHORT, region=f"1:{lo}-{hi}", samples=["S0003", "S0001"])
    assert part.n_snps == 40 and part.samples == ("S0003", "S0001")
    np.testing.assert_array_equal(part.calls, full.calls[[2, 0], 20:60])
    # the same from an unindexed plain-text copy (streamed and filtered)
    plain = tmp_path / "c.vcf"
    with gzip.open(COHORT, "rt") as src:
        plain.write_text(src.read())
    streamed = read_genotypes(plain, region=f"1:{lo}-{hi}", exclude_samples=["S0002"])
    np.testing.assert_array_equal(streamed.calls, full.calls[:, 20:60][[i for i in range(400)
                                                                       if i != 1]])  # fmt: skip


def test_rules_for_non_snps_filters_haploid_and_other_formats(tmp_path):
    body = (
        "1\t10\ts1\tA\tG\t.\tPASS\t.\tGT\t0|1\t1/1\t./.\n"
        "1\t20\ts2\tA\tG,T\t.\tPASS\t.\tGT\t0/1\t1/2\t0/0\n"
        "1\t30\ts3\tAT\tA\t.\tPASS\t.\tGT\t0/1\t0/0\t0/0\n"
        "1\t40\t.\tC\tT\t.\tq10\t.\tGT\t0/1\t0/0\t0/0\n"
        "1\t50\ts5\tC\tT\t.\tPASS\t.\tGT:DP\t1/0:3\t1:4\t0/.:2\n"
    )
    g = read_genotypes(vcf(tmp_path, body))
    assert g.ids == ("s1", "1:40", "s5")
    np.testing.assert_array_equal(g.calls, [[1, 1, 1], [2, 0, -1], [-1, 0, -1]])
    assert g.skipped == {"multi-allelic": 1, "not a SNP": 1, "haploid calls read as missing": 1}
    assert read_genotypes(vcf(tmp_path, body), pass_only=True).ids == ("s1", "s5")


def indexed(tmp_path, body, name="t.vcf"):
    """A bgzipped, tabix-indexed copy of ``HEADER + body``."""
    import pysam

    plain = vcf(tmp_path, body, name=name)
    return Path(pysam.tabix_index(str(plain), preset="vcf", force=True))


@pytest.mark.parametrize("extra_format", [False, True])
def test_text_reader_equals_the_record_reader(tmp_path, monkeypatch, extra_format):
    """Indexed GT-only regions are parsed from the text; the result equals the
    record-by-record reader's, rules and skipped counts included; a record with
    other FORMAT fields sends the whole region to the record reader."""
    import seqem.io.vcf as vcf_module

    body = (
        "1\t10\ts1\tA\tG\t.\tPASS\t.\tGT\t0|1\t1/1\t./.\n"
        "1\t20\ts2\tA\tG,T\t.\tPASS\t.\tGT\t0/1\t1/2\t0/0\n"
        "1\t30\ts3\tAT\tA\t.\tPASS\t.\tGT\t0/1\t0/0\t0/0\n"
        "1\t35\ts4\tA\t.\t.\tPASS\t.\tGT\t0/0\t0/0\t0/0\n"
        "1\t40\t.\tC\tT\t.\tq10\t.\tGT\t0/1\t.|1\t0/0\n"
        "1\t45\ts6\tC\t*\t.\t.\t.\tGT\t0/1\t0/0\t0/0\n"
        "1\t50\ts7\tC\tT\t.\tPASS\t.\tGT\t1/0\t1|1\t0/.\n"
    )
    if extra_format:
        body += "1\t60\ts8\tC\tT\t.\tPASS\t.\tGT:DP\t1/0:3\t1:4\t0/.:2\n"
    path = indexed(tmp_path, body)
    used = []
    real = vcf_module._text_region

    def spy(*args, **kwargs):
        used.append(True)
        return real(*args, **kwargs)

    def record_reader(*args, **kwargs):
        raise vcf_module._NotPlain

    for kwargs in ({"region": "1:1-100"}, {"region": "1:15-55", "samples": ["C", "A"]},
                   {"region": "1", "pass_only": True}):  # fmt: skip
        monkeypatch.setattr(vcf_module, "_text_region", spy)
        got = read_genotypes(path, **kwargs)
        monkeypatch.setattr(vcf_module, "_text_region", record_reader)
        want = read_genotypes(path, **kwargs)
        for field in ("ids", "chrom", "ref", "alt", "samples", "skipped"):
            assert getattr(got, field) == getattr(want, field), field
        np.testing.assert_array_equal(got.calls, want.calls)
        np.testing.assert_array_equal(got.positions, want.positions)
    assert used
    full = read_genotypes(path, region="1:1-100")
    assert full.ids[:3] == ("s1", "1:40", "s7")
    np.testing.assert_array_equal(full.calls[:, :3], [[1, 1, 1], [2, -1, 2], [-1, 0, -1]])
    assert full.skipped["no ALT allele"] == 1 and full.skipped["not a SNP"] == 2


@pytest.mark.parametrize(
    "case,body,header,kwargs,message",
    [
        ("polyploid", "1\t10\ts\tA\tG\t.\t.\t.\tGT\t0/1/1\t0/0\t0/0\n", HEADER, {},
         "record '1:10': 3 alleles"),
        ("no GT", "1\t10\ts\tA\tG\t.\t.\t.\tDP\t3\t4\t5\n",
         HEADER.replace('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n', ""),
         {}, "no GT"),
        ("unknown sample", "1\t10\ts\tA\tG\t.\t.\t.\tGT\t0/1\t0/0\t0/0\n", HEADER,
         {"samples": ["A", "Z"]}, "sample 'Z' is not in the file"),
        ("empty region", "1\t10\ts\tA\tG\t.\t.\t.\tGT\t0/1\t0/0\t0/0\n", HEADER,
         {"region": "1:500-900"}, "no biallelic SNP in 1:500-900"),
        ("malformed", "1\tten\ts\tA\tG\t.\t.\t.\tGT\t0/1\t0/0\t0/0\n", HEADER, {},
         "record '1:ten': bad POS 'ten'"),
        ("no records", "", HEADER, {}, "no biallelic SNP"),
    ],
)  # fmt: skip
def test_bad_input_is_one_clear_error(tmp_path, case, body, header, kwargs, message):
    path = vcf(tmp_path, body, header)
    with pytest.raises(InputFormatError) as err:
        read_genotypes(path, **kwargs)
    text = str(err.value)
    assert message in text and str(path) in text and "\n" not in text


def test_not_a_vcf_and_truncated_gzip(tmp_path):
    junk = tmp_path / "junk.vcf"
    junk.write_text("hello\n")
    with pytest.raises(InputFormatError):
        read_genotypes(junk)
    cut = tmp_path / "cut.vcf.gz"
    cut.write_bytes(COHORT.read_bytes()[:9000])
    with pytest.raises(InputFormatError):
        read_genotypes(cut)


@pytest.mark.skipif(not KGP.is_dir(), reason="shared haplotype data not present")
def test_unphased_file_equals_the_phased_truth_summed():
    """The shared EUR unphased VCF (phase dropped) read by seqem equals the
    allele sums of the phased 1000 Genomes calls at the same sites."""
    samples = (KGP / "EUR" / "samples.txt").read_text().split()
    unphased = read_genotypes(KGP / "EUR" / "unphased.vcf.gz", region="1:11697036-11720000")
    phased = read_genotypes(KGP / "chr1_11697036-11836540.kgp3.vcf.gz",
                            region="1:11697036-11720000", samples=samples)  # fmt: skip
    where = np.isin(phased.positions, unphased.positions)
    assert unphased.samples == tuple(samples)
    np.testing.assert_array_equal(unphased.calls, phased.calls[:, where])


# -- regressions: ordinary gzip, order, allele indices, likelihoods, htslib's
# messages, damaged files and indexes, regions


def test_ordinary_gzip_is_streamed(tmp_path):
    """A gzip (not bgzip) copy reads as the bgzipped file, whole and by region."""
    plain_gzip = tmp_path / "c.vcf.gz"
    with gzip.open(COHORT, "rb") as src:
        plain_gzip.write_bytes(gzip.compress(src.read()))
    full = read_genotypes(COHORT)
    got = read_genotypes(plain_gzip)
    np.testing.assert_array_equal(got.calls, full.calls)
    assert got.ids == full.ids
    part = read_genotypes(plain_gzip, region="1:1-20000")
    np.testing.assert_array_equal(part.calls, read_genotypes(COHORT, region="1:1-20000").calls)


def test_ordinary_gzip_corrupt_or_cut(tmp_path):
    with gzip.open(COHORT, "rb") as src:
        data = gzip.compress(src.read())
    cut = tmp_path / "cut.vcf.gz"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputFormatError, match="truncated file: the compressed data ends early"):
        read_genotypes(cut)
    bad = bytearray(data)
    bad[len(data) // 2 : len(data) // 2 + 40] = bytes(40)
    corrupt = tmp_path / "bad.vcf.gz"
    corrupt.write_bytes(bytes(bad))
    with pytest.raises(InputFormatError, match="corrupt compressed data"):
        read_genotypes(corrupt)


@pytest.mark.parametrize(
    "body,message",
    [
        ("1\t20\ta\tA\tG\t.\t.\t.\tGT\t0/1\t0/0\t0/0\n1\t10\tb\tA\tG\t.\t.\t.\tGT\t0/1\t0/0\t0/0\n",
         "record 1:10 out of order after 1:20"),
        ("1\t10\ta\tA\tG\t.\t.\t.\tGT\t0/1\t0/0\t0/0\n2\t10\tb\tA\tG\t.\t.\t.\tGT\t0/1\t0/0\t0/0\n"
         "1\t30\tc\tA\tG\t.\t.\t.\tGT\t0/1\t0/0\t0/0\n",
         "record 1:30 out of order after 2:10: the records of '1' are not all together"),
    ],
)  # fmt: skip
def test_unsorted_files_are_refused(tmp_path, body, message):
    path = vcf(tmp_path, body, HEADER.replace("\n##FORMAT", "\n##contig=<ID=2>\n##FORMAT", 1))
    for kwargs in ({}, {"region": "1"}):
        with pytest.raises(InputFormatError, match=message) as err:
            read_genotypes(path, **kwargs)
        assert str(path) in str(err.value)


def test_allele_index_beyond_alt_is_refused(tmp_path):
    body = (
        "1\t10\ta\tA\tG\t.\t.\t.\tGT\t0/1\t0/0\t0/0\n1\t20\tb\tA\tG\t.\t.\t.\tGT\t0/2\t0/1\t0/0\n"
    )
    for path in (vcf(tmp_path, body), indexed(tmp_path, body, name="i.vcf")):
        for kwargs in ({}, {"region": "1:1-100"}):
            with pytest.raises(InputFormatError) as err:
                read_genotypes(path, **kwargs)
            text = str(err.value)
            assert text.startswith(str(path)) and "record '1:20'" in text
            assert "sample 'A': allele 2 in GT '0/2', but the record has one ALT allele" in text


PL_HEADER = HEADER.replace(
    "##FORMAT=<ID=DP",
    '##FORMAT=<ID=PL,Number=G,Type=Integer,Description="PL">\n'
    '##FORMAT=<ID=GL,Number=G,Type=Float,Description="GL">\n##FORMAT=<ID=DP',
)


@pytest.mark.parametrize(
    "calls,field,message",
    [
        ("0/1:0,-10,20\t0/0:0,10,20\t0/0:0,10,20", "PL", "sample 'A': negative PL 0,-10,20"),
        ("0/1:0,10\t0/0:0,10,20\t0/0:0,10,20", "PL", "sample 'A': 2 PL values (0,10)"),
        ("0/1:0,10,20,30\t0/0:0,10,20\t0/0:0,10,20", "PL", "sample 'A': 4 PL values"),
        ("0/1:0,.,20\t0/0:0,10,20\t0/0:0,10,20", "PL", "has missing values among others"),
        ("0/1:0,0.5,-2\t0/0:0,-1,-2\t0/0:0,-1,-2", "GL", "sample 'A': positive GL 0,0.5,-2"),
    ],
)
def test_bad_likelihoods_name_the_record_and_sample(tmp_path, calls, field, message):
    body = f"1\t10\ta\tA\tG\t.\t.\t.\tGT:{field}\t{calls}\n"
    path = vcf(tmp_path, body, PL_HEADER)
    with pytest.raises(InputFormatError, match=re.escape(message)) as err:
        read_genotypes(path, likelihoods=field)
    assert str(err.value).startswith(f"{path}: record '1:10': ")


def test_likelihoods_haploid_missing_and_absent(tmp_path):
    body = (
        "1\t10\ta\tA\tG\t.\t.\t.\tGT:PL\t1:20,0\t0/0:.\t./.:0,10,20\n"
        "1\t20\tb\tA\tG\t.\t.\t.\tGT\t0/1\t0/0\t0/0\n"
    )
    path = vcf(tmp_path, body, PL_HEADER)
    with pytest.raises(InputFormatError, match="record '1:20': no PL field in this record"):
        read_genotypes(path, likelihoods="PL")
    g = read_genotypes(vcf(tmp_path, body.splitlines(True)[0], PL_HEADER), likelihoods="PL")
    assert np.all(g.likelihoods[:2] == 1.0)  # haploid, and '.': no information
    np.testing.assert_allclose(g.likelihoods[2, 0], [1.0, 0.1, 0.01])


def test_htslib_says_nothing_on_stderr(tmp_path, capfd):
    """Unindexed bgzip and BCF, undefined FILTER and contig: our result, no htslib lines."""
    import pysam

    body = (
        "1\t10\ta\tA\tG\t.\tq10\t.\tGT\t0/1\t0/0\t0/0\n"
        "7\t20\tb\tA\tG\t.\tPASS\t.\tGT\t0/1\t1/1\t0/0\n"
    )
    plain = vcf(tmp_path, body)
    bgz = tmp_path / "t.vcf.gz"
    pysam.tabix_compress(str(plain), str(bgz))
    # (a BCF file cannot hold an undefined FILTER or contig)
    declared = vcf(tmp_path, body, HEADER.replace(
        "##FORMAT", '##contig=<ID=7>\n##FILTER=<ID=q10,Description="low">\n##FORMAT', 1
    ), name="declared.vcf")  # fmt: skip
    bcf = tmp_path / "t.bcf"
    with pysam.VariantFile(str(declared)) as src:
        with pysam.VariantFile(str(bcf), "wb", header=src.header) as out:
            for rec in src:
                out.write(rec)
    capfd.readouterr()
    for path in (plain, bgz, bcf):
        g = read_genotypes(path, pass_only=True)
        assert g.ids == ("b",)
        g = read_genotypes(path, region="7")
        assert g.ids == ("b",)
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""


@pytest.mark.parametrize(
    "case,body,header,message",
    [
        ("duplicate samples", "", HEADER.replace("\tB\tC\n", "\tA\tC\n"),
         ":5: sample name 'A' appears 2 times in the '#CHROM' line"),
        ("bad GT", "1\t10\ta\tA\tG\t.\t.\t.\tGT\t0/1\t0/0\t0/0\n"
         "1\t20\tb\tA\tG\t.\t.\t.\tGT\t0/1\t0/X\t0/0\n", HEADER,
         ":7: record '1:20': bad GT '0/X' of sample 'B'"),
        ("bad POS", "1\t10\ta\tA\tG\t.\t.\t.\tGT\t0/1\t0/0\t0/0\n"
         "1\t2x0\tb\tA\tG\t.\t.\t.\tGT\t0/1\t0/1\t0/0\n", HEADER,
         ":7: record '1:2x0': bad POS '2x0'"),
        ("columns", "1\t10\ta\tA\tG\t.\t.\t.\tGT\t0/1\t0/0\t0/0\n"
         "1\t20\tb\tA\tG\t.\t.\t.\tGT\t0/1\t0/0\n", HEADER,
         ":7: record '1:20': 2 sample columns, but the header names 3 samples"),
        ("not a VCF", "", "hello\n", ":1: not a VCF file"),
        ("empty", "", "", ": empty file"),
    ],
)  # fmt: skip
def test_malformed_files_one_line_of_ours(tmp_path, capfd, case, body, header, message):
    path = vcf(tmp_path, body, header)
    capfd.readouterr()
    with pytest.raises(InputFormatError) as err:
        read_genotypes(path)
    text = str(err.value)
    assert text.startswith(f"{path}{message}"), text
    assert "b'" not in text and "\n" not in text
    assert capfd.readouterr().err == ""


def test_a_directory_is_not_a_vcf(tmp_path, capfd):
    with pytest.raises(InputFormatError, match="is a directory, expected a VCF or BCF file"):
        read_genotypes(tmp_path)
    assert capfd.readouterr().err == ""


def bgzf_blocks(data):
    """Offsets of the BGZF blocks of ``data``."""
    at, out = 0, []
    while at < len(data):
        out.append(at)
        at += int.from_bytes(data[at + 16 : at + 18], "little") + 1
    return out


@pytest.mark.parametrize("region", [None, "1:1-250000"])
def test_corrupt_or_cut_bgzip_blocks(tmp_path, region):
    data = COHORT.read_bytes()
    third = bgzf_blocks(data)[3]
    cases = {
        "crc.vcf.gz": (third + 200, bytes(50), f"corrupt compressed block at byte {third}"),
        "head.vcf.gz": (third, b"XXXX", f"corrupt compressed block at byte {third}"),
    }
    for name, (at, junk, message) in cases.items():
        bad = bytearray(data)
        bad[at : at + len(junk)] = junk
        path = tmp_path / name
        path.write_bytes(bytes(bad))
        (tmp_path / (name + ".tbi")).write_bytes((REPO / "data" / "example_cohort.vcf.gz.tbi")
                                                 .read_bytes())  # fmt: skip
        with pytest.raises(InputFormatError, match=message):
            read_genotypes(path, region=region)
    cut = tmp_path / "cut.vcf.gz"
    cut.write_bytes(data[: third + 100])
    with pytest.raises(InputFormatError, match=f"truncated file: cut inside the compressed block "
                                               f"at byte {third}"):  # fmt: skip
        read_genotypes(cut)


BCF_HEADER = HEADER.replace(
    "##FORMAT", '##INFO=<ID=AC,Number=A,Type=Integer,Description="Count">\n##FORMAT', 1
)
BCF_BODY = "".join(f"1\t{p}\tr{p}\tA\tG\t30\tPASS\tAC=2\tGT:DP\t0/1:3\t0/0:4\t1/1:5\n"
                   for p in range(100, 1100, 100))  # fmt: skip


def bcf_bytes(tmp_path):
    """Uncompressed BCF of ten records at 1:100 .. 1:1000 (pysam writes it), and the
    offset of each record in it."""
    import struct

    import pysam

    src = vcf(tmp_path, BCF_BODY, BCF_HEADER, name="src.vcf")
    out = tmp_path / "src.bcf"
    with pysam.VariantFile(str(src)) as fh:
        with pysam.VariantFile(str(out), "wb", header=fh.header) as dst:
            for rec in fh:
                dst.write(rec)
    data = gzip.decompress(out.read_bytes())
    at, starts = 9 + struct.unpack_from("<I", data, 5)[0], []
    while at < len(data):
        starts.append(at)
        at += 8 + sum(struct.unpack_from("<II", data, at))
    return data, starts


def write_bgzf(path, data):
    """``data`` as BGZF blocks of stored (uncompressed) deflate data, so that the
    blocks of two files of the same length lie at the same offsets."""
    import pysam

    with pysam.libcbgzf.BGZFile(str(path), "wb0") as fh:
        fh.write(data)
    return path


@pytest.mark.parametrize("compressed", [False, True])
@pytest.mark.parametrize(
    "where,junk,message",
    [
        ("contig", b"\xff", ": BCF record 4 of the file (after record 1:300) is damaged: its "
         "contig id 255 is not defined in the header"),
        ("shared length", b"\x7f", ": record '1:400': BCF record 4 of the file is damaged: "
         "its lengths (2130706471 + 15 bytes) run past the end of the file"),
        ("individual length", b"\xff", ": record '1:400': BCF record 4 of the file is "
         "damaged: its individual part is 255 bytes long but its fields take 15"),
        ("ID", b"\xff", ": record '1:400': BCF record 4 of the file is damaged: the ID is not "
         "text (byte 0xff is not UTF-8)"),
        ("FORMAT key", b"\x7f", ": record '1:400': BCF record 4 of the file is damaged: "
         "FORMAT id 127 is not defined in the header"),
        ("REF", b"\x00", ": record '1:400': an empty REF or ALT allele"),
    ],
)  # fmt: skip
def test_damaged_bcf_record_is_named(tmp_path, capfd, compressed, where, junk, message):
    """Damage inside a BCF record (the compressed blocks, if any, intact): one line
    naming the record, by CHROM:POS where its contig and position can be read and
    always by its number in the file."""
    data, starts = bcf_bytes(tmp_path)
    record = starts[3]  # 1:400
    l_shared = int.from_bytes(data[record : record + 4], "little")
    at = {"contig": 8, "shared length": 3, "individual length": 4, "ID": 33,
          "FORMAT key": 8 + l_shared + 1, "REF": 38}[where]  # fmt: skip
    bad = bytearray(data)
    bad[record + at : record + at + len(junk)] = junk
    path = tmp_path / "bad.bcf"
    write_bgzf(path, bytes(bad)) if compressed else path.write_bytes(bytes(bad))
    capfd.readouterr()
    with pytest.raises(InputFormatError) as err:
        read_genotypes(path)
    text = str(err.value)
    assert text.startswith(f"{path}{message}"), text
    assert "\n" not in text and capfd.readouterr().err == ""


def test_truncated_bcf_names_the_record_cut(tmp_path):
    data, starts = bcf_bytes(tmp_path)
    path = tmp_path / "cut.bcf"
    for cut, message in ((starts[3] + 20, "BCF record 4 of the file (after record 1:300) is "
                          "damaged: the file ends inside it (a truncated file)"),
                         (starts[3] + 40, "record '1:400': BCF record 4 of the file is "
                          "damaged: its lengths (39 + 15 bytes) run past the end of the "
                          "file")):  # fmt: skip
        path.write_bytes(data[:cut])
        with pytest.raises(InputFormatError, match=re.escape(f"{path}: {message}")):
            read_genotypes(path)


def test_every_damaged_byte_of_a_bcf_record_is_an_error_or_a_read(tmp_path):
    """Each byte of a record set to 0x00, 0x7f or 0xff in turn: the file reads (what
    the bytes now say: the damage made another valid record) or is one line naming
    the file and the damaged record, never another exception."""
    data, starts = bcf_bytes(tmp_path)
    record, end = starts[3], starts[4]
    path = tmp_path / "bad.bcf"
    outcomes = set()
    for at in range(record, end):
        for value in (0x00, 0x7F, 0xFF):
            if data[at] == value:
                continue
            bad = bytearray(data)
            bad[at] = value
            path.write_bytes(bytes(bad))
            try:
                g = read_genotypes(path)
            except InputFormatError as err:
                text = str(err)
                assert text.startswith(f"{path}: ") and "\n" not in text, text
                # the record by number, or by position (an out-of-order position is
                # the position the damaged record now has)
                assert re.search(r"BCF record 4 |record '1:400'|after 1:\d+", text), text
                outcomes.add("error")
            else:
                assert g.n_snps == 10 and g.calls.shape == (3, 10)
                outcomes.add("read")
    assert outcomes == {"error", "read"}


def test_damaged_bcf_record_in_an_indexed_region(tmp_path):
    """A region read through a CSI index that meets the damaged record names it too
    (the file is walked from its first record)."""
    import shutil

    import pysam

    data, starts = bcf_bytes(tmp_path)
    good = write_bgzf(tmp_path / "good.bcf", data)
    pysam.tabix_index(str(good), preset="bcf", force=True)
    bad = bytearray(data)
    bad[starts[3] + 33] = 0xFF  # the ID of 1:400
    path = write_bgzf(tmp_path / "bad.bcf", bytes(bad))
    shutil.copy(str(good) + ".csi", str(path) + ".csi")
    assert read_genotypes(good, region="1:300-500").ids == ("r300", "r400", "r500")
    message = f"{path}: record '1:400': BCF record 4 of the file is damaged: the ID is not text"
    with pytest.raises(InputFormatError, match=re.escape(message)):
        read_genotypes(path, region="1:300-500")


def test_stale_indexes(tmp_path):
    """An index older than its file is not used (a warning says so); an index of
    another file is found out when its offsets lead elsewhere."""
    import os
    import shutil

    import pysam

    lines = gzip.open(COHORT, "rt").read().splitlines(True)
    head = [x for x in lines if x.startswith("#")]
    body = [x for x in lines if not x.startswith("#")]
    plain = tmp_path / "later.vcf"
    plain.write_text("".join(head + body[100:]))
    later = tmp_path / "later.vcf.gz"
    pysam.tabix_compress(str(plain), str(later))
    index = tmp_path / "later.vcf.gz.tbi"
    shutil.copy(REPO / "data" / "example_cohort.vcf.gz.tbi", index)
    full = read_genotypes(COHORT)
    with pytest.raises(InputFormatError, match="the index later.vcf.gz.tbi does not match the "
                                               r"file \(re-index it"):  # fmt: skip
        read_genotypes(later, region="1:120000-200000")
    os.utime(index, (1, 1))  # older than the file
    with pytest.warns(UserWarning, match="later.vcf.gz.tbi is older than the file"):
        g = read_genotypes(later, region="1:120000-200000")
    want = (full.positions >= 120000) & (full.positions <= 200000)
    np.testing.assert_array_equal(g.calls, full.calls[:, want])


LONG_HEADER = HEADER.replace("length=100000", "length=1000000")
SHIFT_CALLS = ("0|1\t1/1\t0/0", "1|1\t0/1\t0/0", "0/0\t0|0\t1/0")


def records_every_100(n, shift=0):
    """VCF records of contig 1 at 200,000 + 100 i + ``shift`` (six digits each, so that
    files of different shifts have records of the same length)."""
    return "".join(f"1\t{200000 + 100 * i + shift}\t.\tA\tG\t.\t.\t.\tGT\t{SHIFT_CALLS[i % 3]}\n"
                   for i in range(n))  # fmt: skip


def as_bcf(path, text):
    """``text`` (a VCF) as a BCF file of stored BGZF blocks (:func:`write_bgzf`)."""
    import pysam

    src = path.with_suffix(".src.vcf")
    src.write_text(text)
    packed = path.with_suffix(".packed.bcf")
    with pysam.VariantFile(str(src)) as fh:
        with pysam.VariantFile(str(packed), "wb", header=fh.header) as dst:
            for rec in fh:
                dst.write(rec)
    return write_bgzf(path, gzip.decompress(packed.read_bytes()))


@pytest.mark.parametrize("reader", ["text", "records"])
def test_index_of_a_file_with_records_elsewhere_is_found_out(tmp_path, monkeypatch, reader):
    """Files laid out byte for byte alike but with their records 50 kb further on or
    back, each given the first one's index: its offsets fall on whole records of the
    same contig at other positions, and htslib, which keeps the records it reads that
    overlap the region, would give part of the region without an error (measured:
    the records from 1:600,100 to 1:639,800 left out of 1:600,001-700,000, or those
    after 1:654,500).  The index is found out by the records around the read, by
    the text reader and the record reader alike."""
    import shutil

    import pysam

    import seqem.io.vcf as vcf_module

    if reader == "records":

        def record_reader(*args, **kwargs):
            raise vcf_module._NotPlain

        monkeypatch.setattr(vcf_module, "_text_region", record_reader)
    own = write_bgzf(tmp_path / "own.vcf.gz", (LONG_HEADER + records_every_100(7000)).encode())
    pysam.tabix_index(str(own), preset="vcf", force=True)
    region = "1:600001-700000"
    g = read_genotypes(own, region=region)
    assert g.n_snps == 1000 and (g.positions[0], g.positions[-1]) == (600100, 700000)
    cases = {
        "later": (50000, "record 1:623500 lies where it has only records of '1' before "
                  "position 589825"),
        "earlier": (-50000, "it leaves out record 1:654600 of the region"),
    }  # fmt: skip
    for name, (shift, detail) in cases.items():
        path = tmp_path / f"{name}.vcf.gz"
        write_bgzf(path, (LONG_HEADER + records_every_100(7000, shift)).encode())
        shutil.copy(str(own) + ".tbi", str(path) + ".tbi")
        message = (f"{path}: the index {name}.vcf.gz.tbi does not match the file: {detail}, "
                   "so it is out of date or was made for another file (re-index it")  # fmt: skip
        with pytest.raises(InputFormatError, match=re.escape(message)) as err:
            read_genotypes(path, region=region)
        assert "\n" not in str(err.value)


@pytest.mark.parametrize("kind", ["vcf", "bcf"])
def test_index_made_before_records_were_added(tmp_path, kind):
    """The index of a file given to the file with records added at the end of its
    contig: a region past the old end, or across it, is an error naming the index
    (htslib would give no records, or stop at the old end), and so is a region the
    old index still covers (the file is not the index's)."""
    import shutil

    import pysam

    suffix = "vcf.gz" if kind == "vcf" else "bcf"
    paths = {}
    for name, n in (("own", 4000), ("grown", 7000)):
        path = tmp_path / f"{name}.{suffix}"
        text = LONG_HEADER + records_every_100(n)
        paths[name] = write_bgzf(path, text.encode()) if kind == "vcf" else as_bcf(path, text)
    pysam.tabix_index(str(paths["own"]), preset=kind, force=True)
    index = ".tbi" if kind == "vcf" else ".csi"
    shutil.copy(str(paths["own"]) + index, str(paths["grown"]) + index)
    assert read_genotypes(paths["own"], region="1:500001-600000").n_snps == 999
    for region in ("1:550001-650000", "1:700001-800000", "1:300001-400000"):
        with pytest.raises(InputFormatError) as err:
            read_genotypes(paths["grown"], region=region)
        text = str(err.value)
        assert text.startswith(f"{paths['grown']}: the index grown.{suffix}{index} does not "
                               "match the file: ") and "\n" not in text  # fmt: skip
        assert "so it is out of date or was made for another file (re-index it" in text


def test_a_file_and_its_own_index_give_what_streaming_gives(tmp_path):
    """Contigs with gaps, deletions and a symbolic deletion with END spanning index
    windows, indexed as .tbi, as .csi and as BCF: every region read through the index
    passes the index checks and equals the same region streamed from the plain file
    (a fixed seed; regions from 10 bp to 2 Mb)."""
    import pysam

    rng = np.random.default_rng(11)
    header = (
        "##fileformat=VCFv4.2\n##contig=<ID=1,length=3000000>\n##contig=<ID=2,length=500000>\n"
        '##INFO=<ID=END,Number=1,Type=Integer,Description="End">\n'
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tA\tB\n"
    )
    lengths = {"1": 3_000_000, "2": 500_000}
    steps = np.array([1, 30, 100, 500, 3000, 40000, 250000])
    lines = []
    for chrom, length in lengths.items():
        pos = int(rng.integers(1, 50000))
        while pos < length - 100000:
            kind = rng.random()
            ref, alt, info = "A", "G", "."
            if kind < 0.05:
                ref, alt = "A" * int(rng.integers(2, 40)), "A"
            elif kind < 0.07:
                alt, info = "<DEL>", f"END={pos + int(rng.integers(100, 60000))}"
            calls = "\t".join(rng.choice(["0/0", "0/1", "1/1", "./.", "0|1"], size=2))
            lines.append(f"{chrom}\t{pos}\t.\t{ref}\t{alt}\t.\t.\t{info}\tGT\t{calls}\n")
            pos += int(rng.choice(steps, p=[0.2, 0.2, 0.3, 0.15, 0.1, 0.04, 0.01]))
    plain = tmp_path / "p.vcf"
    plain.write_text(header + "".join(lines))
    tbi = pysam.tabix_index(str(plain), preset="vcf", force=True, keep_original=True)
    csi_dir = tmp_path / "csi"
    csi_dir.mkdir()
    csi_plain = csi_dir / "p.vcf"
    csi_plain.write_text(plain.read_text())
    csi = pysam.tabix_index(str(csi_plain), preset="vcf", force=True, csi=True)
    bcf = tmp_path / "p.bcf"
    with pysam.VariantFile(str(plain)) as src:
        with pysam.VariantFile(str(bcf), "wb", header=src.header) as dst:
            for rec in src:
                dst.write(rec)
    pysam.tabix_index(str(bcf), preset="bcf", force=True)
    n_data = 0
    for _ in range(40):
        chrom = str(rng.choice(list(lengths)))
        start = int(rng.integers(1, lengths[chrom]))
        region = f"{chrom}:{start}-{start + int(rng.choice([10, 1000, 50000, 300000, 2000000]))}"
        try:
            want = read_genotypes(plain, region=region)
        except InputFormatError as err:
            assert "no biallelic SNP" in str(err)
            for path in (tbi, csi, bcf):
                with pytest.raises(InputFormatError, match="no biallelic SNP"):
                    read_genotypes(path, region=region)
            continue
        n_data += 1
        for path in (tbi, csi, bcf):
            got = read_genotypes(path, region=region)
            np.testing.assert_array_equal(got.positions, want.positions)
            np.testing.assert_array_equal(got.calls, want.calls)
    assert n_data >= 20


@pytest.mark.parametrize("indexed_file", [False, True])
@pytest.mark.parametrize(
    "region,error,message",
    [
        ("1:abc", "ParameterError", "malformed region '1:abc'"),
        ("1:1-1e3", "ParameterError", "malformed region '1:1-1e3'"),
        ("1:99999999999-99999999999", "InputFormatError",
         "region '1:99999999999-99999999999' starts past the end of contig '1' (length 100000)"),
        ("1:100001", "InputFormatError", "starts past the end of contig '1'"),
        ("2:1-10", "InputFormatError", "no records on '2'"),
    ],
)  # fmt: skip
def test_bad_regions(tmp_path, indexed_file, region, error, message):
    body = "1\t10\ta\tA\tG\t.\t.\t.\tGT\t0/1\t0/0\t0/0\n"
    path = indexed(tmp_path, body) if indexed_file else vcf(tmp_path, body)
    with pytest.raises(ValueError, match=re.escape(message)) as err:
        read_genotypes(path, region=region)
    assert type(err.value).__name__ == error


def test_region_beyond_an_index_without_contig_lengths(tmp_path):
    body = "1\t10\ta\tA\tG\t.\t.\t.\tGT\t0/1\t0/0\t0/0\n"
    path = indexed(tmp_path, body)
    bare = tmp_path / "bare.vcf"
    bare.write_text(HEADER.replace("##contig=<ID=1,length=100000>\n", "") + body)
    import pysam

    bare_gz = pysam.tabix_index(str(bare), preset="vcf", force=True)
    with pytest.raises(InputFormatError, match="coordinates out of range for the index"):
        read_genotypes(bare_gz, region="1:99999999999-99999999999")
    assert read_genotypes(path, region="1:5-20").ids == ("a",)


def test_samples_asked_for_twice(tmp_path):
    from seqem.errors import ParameterError

    path = vcf(tmp_path, "1\t10\ta\tA\tG\t.\t.\t.\tGT\t0/1\t0/0\t0/0\n")
    with pytest.raises(ParameterError, match="sample 'A' is asked for more than once"):
        read_genotypes(path, samples=["A", "B", "A"])
