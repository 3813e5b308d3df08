"""Genotypes from VCF files: values, regions, samples, the stated rules and bad input."""

import gzip
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
         "malformed or truncated"),
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
