"""Genotype likelihoods from reads at known SNPs (BAM), and haplotypes from them."""

import numpy as np
import pysam
import pytest

from seqem.errors import InputFormatError
from seqem.io.pileup import allele_likelihoods, read_bam_list

REF_LEN = 400
SNPS = [(60, "A", "G"), (120, "C", "T"), (180, "G", "A"), (240, "T", "C")]


def write_bam(path, reads, mapq=60, qual=30):
    """reads: list of (start0, sequence); a 1-based SNP at p is sequence[p - 1 - start0]."""
    header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": "1", "LN": REF_LEN}]}
    unsorted = str(path) + ".unsorted.bam"
    with pysam.AlignmentFile(unsorted, "wb", header=header) as out:
        for k, (start, seq) in enumerate(reads):
            a = pysam.AlignedSegment()
            a.query_name = f"r{k}"
            a.query_sequence = seq
            a.flag = 0
            a.reference_id = 0
            a.reference_start = start
            a.mapping_quality = mapq
            a.cigar = [(0, len(seq))]
            a.query_qualities = pysam.qualitystring_to_array(chr(qual + 33) * len(seq))
            out.write(a)
    pysam.sort("-o", str(path), unsorted)
    pysam.index(str(path))


def reference():
    rng = np.random.default_rng(0)
    seq = list(rng.choice(list("ACGT"), size=REF_LEN))
    for pos, ref, _ in SNPS:
        seq[pos - 1] = ref
    return seq


def reads_for(haplotypes, depth, rng, length=50):
    """Reads over each SNP, each drawn from one of the two haplotypes."""
    ref = reference()
    out = []
    for pos, _, _ in SNPS:
        for _ in range(depth):
            h = haplotypes[rng.integers(2)]
            start = pos - 1 - int(rng.integers(5, length - 5))
            seq = ref[start : start + length]
            for jj, (p2, _, a2) in enumerate(SNPS):
                if start <= p2 - 1 < start + length and h[jj] == 1:
                    seq[p2 - 1 - start] = a2
            out.append((start, "".join(seq)))
    return sorted(out)


def test_likelihoods_equal_the_formula(tmp_path):
    rng = np.random.default_rng(1)
    bam = tmp_path / "s.bam"
    write_bam(bam, reads_for([[0, 1, 1, 0], [0, 1, 0, 0]], 3, rng), qual=30)
    chrom = ["1"] * len(SNPS)
    pos = [p for p, _, _ in SNPS]
    gl, counts = allele_likelihoods(
        {"S": str(bam)}, chrom, pos, [r for _, r, _ in SNPS], [a for _, _, a in SNPS]
    )
    e = 10**-3
    for j in range(len(SNPS)):
        n_ref, n_alt = counts[0, j]
        assert n_ref + n_alt == 3
        log = [
            n_ref * np.log10(1 - e) + n_alt * np.log10(e / 3),
            (n_ref + n_alt) * np.log10(0.5 * (1 - e + e / 3)),
            n_ref * np.log10(e / 3) + n_alt * np.log10(1 - e),
        ]
        expected = 10 ** (np.array(log) - max(log))
        assert np.allclose(gl[0, j], expected, rtol=1e-9)
    assert tuple(counts[0, 1]) == (0, 3)  # both haplotypes carry ALT at the second SNP
    # low mapping quality: nothing counted
    low = tmp_path / "low.bam"
    write_bam(low, reads_for([[0, 0, 0, 0], [1, 1, 1, 1]], 3, rng), mapq=5)
    gl, counts = allele_likelihoods(
        {"L": str(low)}, chrom, pos, [r for _, r, _ in SNPS], [a for _, _, a in SNPS]
    )
    assert counts.sum() == 0 and np.all(gl == 1.0)


def test_freq_from_bams_recovers_the_haplotypes(tmp_path):
    from seqem.cli.main import main

    rng = np.random.default_rng(2)
    haps = np.array([[0, 0, 1, 1], [1, 1, 0, 0], [0, 1, 0, 1]])
    truth = np.array([0.5, 0.3, 0.2])
    vcf = tmp_path / "sites.vcf"
    lines = ["##fileformat=VCFv4.2", "##contig=<ID=1,length=400>",
             "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]  # fmt: skip
    lines += [f"1\t{p}\trs{p}\t{r}\t{a}\t.\tPASS\t." for p, r, a in SNPS]
    vcf.write_text("\n".join(lines) + "\n")
    listing = []
    for i in range(60):
        pick = rng.choice(3, size=2, p=truth)
        bam = tmp_path / f"s{i}.bam"
        write_bam(bam, reads_for([haps[pick[0]], haps[pick[1]]], 6, rng))
        listing.append(f"S{i}\ts{i}.bam")
    (tmp_path / "bams.txt").write_text("\n".join(listing) + "\n")
    out = tmp_path / "haps.tsv"
    code = main(["haplo", "freq", str(vcf), "--bam-list", str(tmp_path / "bams.txt"),
                 "-o", str(out), "-q"])  # fmt: skip
    assert code == 0
    est = {r.split("\t")[0]: float(r.split("\t")[1]) for r in out.read_text().splitlines()[1:]}
    for h, p in zip(("0011", "1100", "0101"), truth, strict=True):
        assert est.get(h, 0.0) == pytest.approx(p, abs=0.12)  # 120 haplotypes
    assert sum(v for k, v in est.items() if k not in ("0011", "1100", "0101")) < 0.05


def test_bam_list_errors(tmp_path):
    bad = tmp_path / "list.txt"
    bad.write_text("S1 a.bam extra\n")
    with pytest.raises(InputFormatError, match="expected 'sample path'"):
        read_bam_list(str(bad))
    bad.write_text("S1 missing.bam\n")
    bams = read_bam_list(str(bad))
    with pytest.raises(InputFormatError, match="no such file"):
        allele_likelihoods(bams, ["1"], [60], ["A"], ["G"])
