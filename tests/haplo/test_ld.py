"""Pairwise LD: the two-locus maximum-likelihood estimate against a grid, the
genotype tables against counting, PLINK 1.9 and the phased truth."""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from seqem.haplo.ld import loglik as _loglik
from seqem.haplo.ld import pair_counts, pairwise_ld, two_locus

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "haplotype"
KGP = SHARED / "kgp3_chr1_11.7M"
needs_shared = pytest.mark.skipif(
    not KGP.is_dir(), reason="shared haplotype data (../shared/data/haplotype) not present"
)


def haplotype_counts(c):
    x11 = 2 * c[8] + c[7] + c[5]
    x12 = 2 * c[6] + c[7] + c[3]
    x21 = 2 * c[2] + c[5] + c[1]
    x22 = 2 * c[0] + c[1] + c[3]
    return x11, x12, x21, x22, c[4]


def test_two_locus_is_the_maximum_over_a_fine_grid():
    """On random 3 x 3 tables (many with empty cells, so optima on the
    boundary) no point of a 20,001-point grid over the feasible interval has
    a higher likelihood than the solution."""
    rng = np.random.default_rng(0)
    for _ in range(300):
        c = rng.integers(0, 6, size=9).astype(float)
        c[rng.integers(0, 9, size=int(rng.integers(0, 5)))] = 0
        p, pa, pb, n = two_locus(*c)
        if n == 0:
            assert np.isnan(p)
            continue
        counts = haplotype_counts(c)
        lo, hi = max(0.0, pa + pb - 1), min(pa, pb)
        assert lo - 1e-12 <= p <= hi + 1e-12
        grid = np.linspace(lo, hi, 20001)
        best = float(np.max(_loglik(grid, *counts, pa, pb)))
        assert float(_loglik(p, *counts, pa, pb)) >= best - 1e-9


def test_em_converges_to_the_same_frequency():
    """Plain EM (the double heterozygotes split by their phase posterior),
    run to convergence, lands on the cubic's solution."""
    c = np.array([30, 20, 5, 15, 25, 10, 3, 9, 12], dtype=float)
    p, pa, pb, n = two_locus(*c)
    x11, _, _, _, nd = haplotype_counts(c)
    q = pa * pb
    for _ in range(5000):
        pab = 1 - pa - pb + q
        share = q * pab / (q * pab + (pa - q) * (pb - q))
        q = (x11 + nd * share) / (2 * n)
    assert q == pytest.approx(p, abs=1e-12)


@pytest.mark.parametrize("sparse", [0, 4, None, 10**6])
@pytest.mark.parametrize("missing", [False, True])
def test_pair_counts_equal_counting(missing, sparse):
    """Rare and common SNPs, counted by products (sparse=0), from their
    carriers (sparse above every SNP's count) or a mix, on diagonal,
    off-diagonal and one-row blocks."""
    rng = np.random.default_rng(1)
    maf = rng.choice([0.01, 0.05, 0.4], size=12)
    g = (rng.random((60, 12)) < maf).astype(np.int8) + (rng.random((60, 12)) < maf)
    if missing:
        g[rng.random((60, 12)) < rng.choice([0.0, 0.03, 0.3], size=12)] = -1
    blocks = ((np.arange(12), np.arange(12)), (np.arange(4), np.arange(2, 12)),
              (np.array([5]), np.arange(12)), (np.array([9, 1, 7]), np.array([0, 9])))  # fmt: skip
    for rows, cols in blocks:
        tables = pair_counts(g, rows, cols, sparse=sparse)
        for u, i in enumerate(rows):
            for v, j in enumerate(cols):
                ok = (g[:, i] >= 0) & (g[:, j] >= 0)
                ref = np.zeros(9)
                np.add.at(ref, 3 * g[ok, i] + g[ok, j], 1)
                np.testing.assert_array_equal(tables[u, v], ref)


def test_pairwise_ld_layout_and_degenerate_snps():
    rng = np.random.default_rng(2)
    g = rng.integers(0, 3, size=(40, 6)).astype(np.int8)
    g[:, 3] = 0  # monomorphic
    table = pairwise_ld(g, block=4)  # several blocks
    assert len(table) == 15
    assert sorted(zip(table.a.tolist(), table.b.tolist(), strict=True)) == [
        (i, j) for i in range(6) for j in range(i + 1, 6)
    ]
    mono = (table.a == 3) | (table.b == 3)
    assert np.all(np.isnan(table.r2[mono])) and np.all(np.isnan(table.dprime[mono]))
    ok = ~mono
    assert np.all((table.r2[ok] >= 0) & (table.r2[ok] <= 1 + 1e-12))
    assert np.all((table.dprime[ok] >= 0) & (table.dprime[ok] <= 1))
    one = pairwise_ld(g, against=1)
    assert one.a.tolist() == [1] * 5 and one.b.tolist() == [0, 2, 3, 4, 5]
    full = {(a, b): r for a, b, r in zip(table.a, table.b, table.r2, strict=True)}
    for b, r in zip(one.b, one.r2, strict=True):
        np.testing.assert_equal(r, full[(min(1, b), max(1, b))])
    # a perfectly linked pair: D' = 1, r2 = 1
    h = np.stack([g[:, 0], g[:, 0]], axis=1)
    t = pairwise_ld(h)
    assert t.dprime[0] == pytest.approx(1.0) and t.r2[0] == pytest.approx(1.0)


def test_blocks_and_chunks_do_not_change_the_answer(monkeypatch):
    """Several product blocks and several solve chunks give the same table,
    bit for bit, as one block solved at once (rare and common SNPs, missing calls)."""
    import seqem.haplo.ld as ld_module

    rng = np.random.default_rng(5)
    maf = rng.choice([0.01, 0.1, 0.4], size=30)
    g = ((rng.random((200, 30)) < maf).astype(np.int8) + (rng.random((200, 30)) < maf)).astype(
        np.int8
    )
    g[rng.random(g.shape) < 0.02] = -1
    whole = pairwise_ld(g)
    monkeypatch.setattr(ld_module, "_PAIR_CHUNK", 7)
    for table in (pairwise_ld(g), pairwise_ld(g, block=8)):
        order = np.lexsort((table.b, table.a))
        np.testing.assert_array_equal(table.a[order], whole.a)
        np.testing.assert_array_equal(table.b[order], whole.b)
        for field in ("d", "dprime", "r2", "n"):
            np.testing.assert_array_equal(getattr(table, field)[order], getattr(whole, field))
    one = pairwise_ld(g, against=4)
    monkeypatch.setattr(ld_module, "_PAIR_CHUNK", 1 << 16)
    np.testing.assert_array_equal(one.r2, pairwise_ld(g, against=4).r2)


def test_groups_pair_snps_within_their_group_only():
    """With a label per SNP (its contig), the pairs are those of each group's own
    table, with the SNP indices of the whole matrix; against pairs within its group."""
    from seqem.errors import ParameterError

    rng = np.random.default_rng(11)
    g = rng.integers(-1, 3, size=(60, 13)).astype(np.int8)
    groups = np.array([0] * 5 + [3] * 6 + [1] * 2)
    table = pairwise_ld(g, groups=groups, block=4)
    order = np.lexsort((table.b, table.a))  # (blocks of 4 SNPs come in their own order)
    table = type(table)(*(getattr(table, f)[order] for f in ("a", "b", "d", "dprime", "r2", "n")))
    assert np.all(groups[table.a] == groups[table.b])
    for lo, hi in ((0, 5), (5, 11), (11, 13)):
        own = pairwise_ld(g[:, lo:hi])
        mine = (table.a >= lo) & (table.a < hi)
        np.testing.assert_array_equal(table.a[mine], own.a + lo)
        np.testing.assert_array_equal(table.b[mine], own.b + lo)
        np.testing.assert_array_equal(table.r2[mine], own.r2)
    assert len(table) == 10 + 15 + 1
    one = pairwise_ld(g, against=6, groups=groups)
    assert one.a.tolist() == [6] * 5 and one.b.tolist() == [5, 7, 8, 9, 10]
    np.testing.assert_array_equal(one.r2, pairwise_ld(g[:, 5:11], against=1).r2)
    with pytest.raises(ParameterError, match="contiguous"):
        pairwise_ld(g, groups=np.array([0, 1] * 6 + [0]))
    with pytest.raises(ParameterError, match="one label per SNP"):
        pairwise_ld(g, groups=np.zeros(3))


def read_window(vcf, n_snps, phased=False, samples=None):
    """Genotypes of the first n_snps records (a reader of the test's own)."""
    pysam = pytest.importorskip("pysam")
    with pysam.VariantFile(str(vcf)) as f:
        if samples is not None:
            f.subset_samples(samples)
        rows, positions = [], []
        for rec in f:
            gts = [s["GT"] for s in rec.samples.values()]
            if phased:
                rows.append([a for gt in gts for a in gt])
            else:
                rows.append([-1 if None in gt else sum(gt) for gt in gts])
            positions.append(rec.pos)
            if len(rows) == n_snps:
                break
    return np.array(rows, dtype=np.int8).T, positions


@needs_shared
@pytest.mark.skipif(shutil.which("plink1.9") is None, reason="plink1.9 (Debian) not installed")
@pytest.mark.parametrize("vcf", ["unphased.vcf.gz", "unphased_miss.vcf.gz"])
def test_agrees_with_plink_on_a_100_snp_window(vcf, tmp_path):
    """PLINK 1.9 --r2 dprime on the first 100 EUR SNPs (4,950 pairs; with 2%
    missing calls too): r2 and D' equal to PLINK's printed precision."""
    path = KGP / "EUR" / vcf
    g, pos = read_window(path, 100)
    out = tmp_path / "pl"
    subprocess.run(
        ["plink1.9", "--vcf", str(path), "--double-id", "--chr", "1",
         "--from-bp", str(pos[0]), "--to-bp", str(pos[-1]), "--r2", "dprime",
         "--ld-window", "999999", "--ld-window-kb", "999999", "--ld-window-r2", "0",
         "--out", str(out)],
        check=True, capture_output=True,
    )  # fmt: skip
    index = {p: i for i, p in enumerate(pos)}
    ref = {}
    for line in (out.with_suffix(".ld")).read_text().splitlines()[1:]:
        w = line.split()
        ref[(index[int(w[1])], index[int(w[4])])] = (float(w[6]), float(w[7]))
    table = pairwise_ld(g)
    assert len(ref) == len(table) == 4950
    worst = 0.0
    for a, b, r2, dp in zip(table.a, table.b, table.r2, table.dprime, strict=True):
        r2_ref, dp_ref = ref[(a, b)]
        worst = max(worst, abs(r2 - r2_ref), abs(dp - dp_ref))
    print(f"\n{vcf}: largest |difference| from PLINK 1.9 (r2 and D'): {worst:.2g}")
    assert worst <= 1e-5


@needs_shared
def test_r2_close_to_the_phased_truth():
    """The first 50 EUR SNPs: estimated r2 against r2 counted from the true
    (phased) haplotypes; README: mean |difference| 0.003, largest 0.024."""
    samples = (KGP / "EUR" / "samples.txt").read_text().split()
    g, pos = read_window(KGP / "EUR" / "unphased.vcf.gz", 50)
    positions = set(pos)
    pysam = pytest.importorskip("pysam")
    haps = []
    with pysam.VariantFile(str(KGP / "chr1_11697036-11836540.kgp3.vcf.gz")) as f:
        f.subset_samples(samples)
        for rec in f.fetch("1", pos[0] - 1, pos[-1]):
            if rec.pos in positions:
                haps.append([a for s in rec.samples.values() for a in s["GT"]])
    h = np.array(haps, dtype=float).T  # (2 * people, 50)
    assert h.shape[1] == 50
    true_r2 = np.corrcoef(h, rowvar=False) ** 2
    table = pairwise_ld(g)
    diff = np.abs(table.r2 - true_r2[table.a, table.b])
    print(f"\nr2 vs truth: mean |diff| {diff.mean():.4f}, max {diff.max():.4f}")
    assert diff.mean() < 0.005 and diff.max() < 0.05
