"""Lander-Green likelihoods against brute-force enumeration, FASTLINK and the
shared exact references (../shared/data/linkage)."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest

from seqem.io.pedigree import read_linkage, read_linkage_datafile, read_merlin
from seqem.linkage.data import Family, LinkageData, MarkerLocus, TraitModel, haldane
from seqem.linkage.lander_green import (
    InheritanceSpace,
    chain_loglik,
    marker_emission,
    multipoint,
    ordered_loglik,
    trait_emission,
    twopoint,
)

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "linkage"
needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason="shared linkage data (../shared/data/linkage) not present"
)
LN10 = math.log(10.0)


# ---------------------------------------------------------------- brute force


def brute_loglik(fam, loci, thetas):
    """ln L by enumeration: every meiosis pattern (no founder symmetry) at every
    locus, every founder allele at every locus; the chain over loci is the sum
    over all paths of patterns (recombination counted per meiosis)."""
    n = fam.n
    kids = [p for p in range(n) if fam.father[p] >= 0]
    order = list(fam.order())
    founders = [p for p in range(n) if fam.father[p] < 0]
    m = 2 * len(kids)
    patterns = list(itertools.product((0, 1), repeat=m))

    def genes_of(pattern):
        genes = {}
        bit = {kid: (pattern[2 * k], pattern[2 * k + 1]) for k, kid in enumerate(kids)}
        for p in order:
            if fam.father[p] < 0:
                f = founders.index(p)
                genes[p] = (2 * f, 2 * f + 1)
            else:
                genes[p] = (genes[fam.father[p]][bit[p][0]], genes[fam.mother[p]][bit[p][1]])
        return genes

    def emission(locus, pattern):
        genes = genes_of(pattern)
        kind, payload = locus
        if kind == "marker":
            calls, freqs = payload
            k = len(freqs)
            total = 0.0
            for alleles in itertools.product(range(1, k + 1), repeat=2 * len(founders)):
                prob = math.prod(freqs[a - 1] for a in alleles)
                for p in range(n):
                    a, b = calls[p]
                    if a == 0:
                        continue
                    x, y = alleles[genes[p][0]], alleles[genes[p][1]]
                    if sorted((x, y)) != sorted((a, b)):
                        prob = 0.0
                        break
                total += prob
            return total
        status, classes, model = payload
        total = 0.0
        for alleles in itertools.product((0, 1), repeat=2 * len(founders)):
            prob = math.prod(model.freq if a else 1 - model.freq for a in alleles)
            for p in range(n):
                if status[p] == 0:
                    continue
                d = alleles[genes[p][0]] + alleles[genes[p][1]]
                pen = model.penetrance[classes[p] - 1, d]
                prob *= pen if status[p] == 2 else 1 - pen
            total += prob
        return total

    e = np.array([[emission(locus, pat) for pat in patterns] for locus in loci])
    pats = np.array(patterns)
    dist = (pats[:, None, :] != pats[None, :, :]).sum(axis=2)
    v = np.full(len(patterns), 1.0 / len(patterns)) * e[0]
    for i, theta in enumerate(thetas):
        trans = theta**dist * (1 - theta) ** (m - dist)
        v = (v @ trans) * e[i + 1]
    return math.log(v.sum())


def random_family(rng, shape):
    if shape == "trio+":
        father = np.array([-1, -1, 0, 0, 0])
        mother = np.array([-1, -1, 1, 1, 1])
        sex = np.array([1, 2, 1, 2, 1])
    elif shape == "three generations":
        father = np.array([-1, -1, 0, -1, 3])
        mother = np.array([-1, -1, 1, -1, 2])
        sex = np.array([1, 2, 2, 1, 1])
    elif shape == "six, four loci":
        father = np.array([-1, -1, -1, 0, 0, 3])
        mother = np.array([-1, -1, -1, 1, 1, 2])
        sex = np.array([1, 2, 2, 1, 2, 1])
    else:  # half sibs
        father = np.array([-1, -1, -1, 0, 0])
        mother = np.array([-1, -1, -1, 1, 2])
        sex = np.array([1, 2, 2, 1, 2])
    ids = tuple(str(i + 1) for i in range(father.size))
    return Family("F", ids, father, mother, sex)


def simulate_calls(rng, fam, freqs, missing=0.2):
    """Genotypes passed down the pedigree (so they are Mendelian-consistent)."""
    n = fam.n
    genes = np.zeros((n, 2), dtype=int)
    for p in fam.order():
        if fam.father[p] < 0:
            genes[p] = rng.choice(len(freqs), size=2, p=freqs) + 1
        else:
            genes[p] = (
                genes[fam.father[p], rng.integers(2)],
                genes[fam.mother[p], rng.integers(2)],
            )
    genes[rng.random(n) < missing] = 0
    return genes


@pytest.mark.parametrize("shape", ["trio+", "three generations", "half sibs"])
@pytest.mark.parametrize("seed", [0, 1])
def test_chain_equals_brute_force(shape, seed):
    """Markers and a trait with liability classes, 3 loci, <= 5 persons:
    log10 L equal to enumeration to 1e-9 (the acceptance tolerance)."""
    rng = np.random.default_rng(seed)
    fam = random_family(rng, shape)
    f1 = rng.dirichlet(np.ones(3))
    f2 = rng.dirichlet(np.ones(2))
    calls = np.stack([simulate_calls(rng, fam, f1), simulate_calls(rng, fam, f2)], axis=1)
    model = TraitModel("t", 0.2, np.array([[0.05, 0.6, 0.9], [0.0, 0.3, 1.0]]))
    status = rng.integers(0, 3, size=fam.n).astype(np.int8)
    classes = rng.integers(1, 3, size=fam.n)
    thetas = [0.1, 0.3]
    space = InheritanceSpace.of(fam)
    emis = [
        marker_emission(space, calls[:, 0, :], f1, 1),
        trait_emission(space, status, classes, model, 1),
        marker_emission(space, calls[:, 1, :], f2, 1),
    ]
    got = chain_loglik(space, emis, thetas, 1)
    loci = [
        ("marker", (calls[:, 0, :], f1)),
        ("trait", (status, classes, model)),
        ("marker", (calls[:, 1, :], f2)),
    ]
    ref = brute_loglik(fam, loci, thetas)
    assert got / LN10 == pytest.approx(ref / LN10, abs=1e-9)


def test_six_persons_four_loci_equal_brute_force():
    """The acceptance's largest brute-force case: 6 persons, 3 markers and the trait."""
    rng = np.random.default_rng(7)
    fam = random_family(rng, "six, four loci")
    freqs = [rng.dirichlet(np.ones(3)) for _ in range(3)]
    calls = [simulate_calls(rng, fam, f, missing=0.15) for f in freqs]
    model = TraitModel("t", 0.1, np.array([[0.05, 0.7, 0.9]]))
    status = np.array([2, 1, 0, 2, 1, 2], dtype=np.int8)
    classes = np.ones(fam.n, dtype=int)
    thetas = [0.05, 0.2, 0.35]
    space = InheritanceSpace.of(fam)
    emis = [
        marker_emission(space, calls[0], freqs[0], 1),
        marker_emission(space, calls[1], freqs[1], 1),
        trait_emission(space, status, classes, model, 1),
        marker_emission(space, calls[2], freqs[2], 1),
    ]
    loci = [
        ("marker", (calls[0], freqs[0])),
        ("marker", (calls[1], freqs[1])),
        ("trait", (status, classes, model)),
        ("marker", (calls[2], freqs[2])),
    ]
    got = chain_loglik(space, emis, thetas, 1) / LN10
    assert got == pytest.approx(brute_loglik(fam, loci, thetas) / LN10, abs=1e-9)


def _trait_both_ways(space, status, classes, model):
    import seqem.linkage.lander_green as LG

    walk = trait_emission(space, status, classes, model, 1)
    saved = LG.PEEL_WIDTH
    try:
        LG.PEEL_WIDTH = -1
        plain = trait_emission(space, status, classes, model, 1)
    finally:
        LG.PEEL_WIDTH = saved
    return walk, plain


def test_trait_walk_equals_per_state_sum():
    """The peeling trait walk equals the per-state component sum: a 12-bit
    pedigree with a married-in spouse, random statuses and liabilities."""
    father = np.array([-1, -1, 0, 0, 0, 0, 0, 0, -1, 2, 0])
    mother = np.array([-1, -1, 1, 1, 1, 1, 1, 1, -1, 8, 1])
    sex = np.array([1, 2, 1, 2, 1, 2, 1, 2, 2, 1, 1])
    fam = Family("F", tuple("abcdefghijk"), father, mother, sex)
    space = InheritanceSpace.of(fam)
    assert space.bits >= 12
    rng = np.random.default_rng(5)
    model = TraitModel("t", 0.05, np.array([[0.01, 0.5, 1.0], [0.1, 0.3, 0.9]]))
    for _ in range(5):
        status = rng.integers(0, 3, size=fam.n).astype(np.int8)
        classes = rng.integers(1, 3, size=fam.n)
        walk, plain = _trait_both_ways(space, status, classes, model)
        np.testing.assert_allclose(walk, plain, rtol=1e-12)


@pytest.mark.parametrize("shape", ["loop", "three generations", "many founders"])
def test_trait_walk_equals_per_state_sum_any_shape(shape):
    """Loops (a cousin marriage), founders married in at every generation (more
    founder genes than the walk ever holds at once), unphenotyped branches."""
    if shape == "loop":
        # 0 x 1 -> 2, 3; 2 x 4 -> 6; 3 x 5 -> 7; cousins 6 x 7 -> 8, 9
        father = np.array([-1, -1, 0, 0, -1, -1, 2, 3, 6, 6])
        mother = np.array([-1, -1, 1, 1, -1, -1, 4, 5, 7, 7])
        sex = np.array([1, 2, 1, 1, 2, 2, 1, 2, 1, 2])
    elif shape == "three generations":
        father = np.array([-1, -1, 0, 0, 0, -1, -1, 2, 2, 5, 5, 4])
        mother = np.array([-1, -1, 1, 1, 1, -1, -1, 6, 6, 3, 3, 6])
        sex = np.array([1, 2, 1, 2, 1, 1, 2, 1, 2, 1, 2, 1])
    else:
        # a chain of marriages: every generation marries a new founder
        father = np.array([-1, -1, 0, -1, 2, 2, -1, 4, 4, -1, 7, 7, -1, 10, 10, -1, 13])
        mother = np.array([-1, -1, 1, -1, 3, 3, -1, 6, 6, -1, 9, 9, -1, 12, 12, -1, 15])
        sex = np.array([1, 2, 1, 2, 1, 2, 2, 1, 2, 2, 1, 2, 2, 1, 2, 2, 1])
    fam = Family("F", tuple(f"p{i}" for i in range(father.size)), father, mother, sex)
    space = InheritanceSpace.of(fam, max_bits=24)
    if shape == "many founders":
        assert space.n_genes > 12
    rng = np.random.default_rng(len(shape))
    for _ in range(4):
        model = TraitModel("t", rng.uniform(0.01, 0.4), rng.uniform(0.0, 1.0, size=(1, 3)))
        status = rng.choice(np.array([0, 0, 1, 2], dtype=np.int8), size=fam.n)
        walk, plain = _trait_both_ways(space, status, np.ones(fam.n, dtype=int), model)
        np.testing.assert_allclose(walk, plain, rtol=1e-11, atol=1e-300)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_marker_walk_equals_per_state_sum(seed):
    """The depth-first marker kernel (used from 12 bits, pruning impossible subtrees)
    equals the per-state founder-allele graph: 4-allele and biallelic markers,
    missing genotypes, a Mendelian-inconsistent marker."""
    import seqem.linkage.lander_green as LG

    father = np.array([-1, -1, 0, 0, 0, 0, 0, 0, -1, 2, 0, 9])
    mother = np.array([-1, -1, 1, 1, 1, 1, 1, 1, -1, 8, 1, 3])
    sex = np.array([1, 2, 1, 2, 1, 2, 1, 2, 2, 1, 1, 2])
    fam = Family("F", tuple("abcdefghijkl"), father, mother, sex)
    space = InheritanceSpace.of(fam)
    assert space.bits >= 12
    rng = np.random.default_rng(seed)
    for k in (4, 2):
        freqs = rng.dirichlet(np.ones(k))
        calls = simulate_calls(rng, fam, freqs, missing=0.25)
        if seed == 2 and k == 2:
            calls[5] = (2, 2)
            calls[0] = calls[1] = (1, 1)  # child 5 cannot carry allele 2
        walk = marker_emission(space, calls, freqs, 1)
        saved = LG.TREE_MARKERS
        try:
            LG.TREE_MARKERS = False
            plain = marker_emission(space, calls, freqs, 1)
        finally:
            LG.TREE_MARKERS = saved
        np.testing.assert_allclose(walk, plain, rtol=1e-12, atol=0)


def test_founder_symmetry_bits():
    fam = random_family(None, "trio+")
    assert InheritanceSpace.of(fam).bits == fam.bits() == 2 * 3 - 2


# ---------------------------------------------------------------- shared data


def merlin(prefix="parametric"):
    d = SHARED / "merlin_parametric"
    return read_merlin(
        *(str(d / f"{prefix}.{ext}") for ext in ("ped", "dat", "map", "freq", "model"))
    )


def read_tsv(path, skip=1):
    rows = [line.split("\t") for line in path.read_text().splitlines()[skip:] if line.strip()]
    return rows


@needs_shared
def test_tiny_cases_equal_brute_force():
    """tiny_cases.tsv: log10 L by enumeration (10 decimals), both formats."""
    t = SHARED / "tiny_cases"
    case_a = read_linkage(str(t / "caseA_linkage.ped"), str(t / "caseA_linkage.dat"))
    df = read_linkage_datafile(str(t / "caseA_linkage.dat"))
    order_a = [df.names[i] for i in df.order]
    case_b = read_merlin(*(str(t / f"caseB.{e}") for e in ("ped", "dat", "map", "freq", "model")))
    case_b_linkage = read_linkage(str(t / "caseB_linkage.ped"), str(t / "caseB_linkage.dat"))
    for row in read_tsv(t / "tiny_cases.tsv"):
        thetas = [float(x) for x in row[4].strip("[]").split(",")]
        ref = float(row[5])
        if row[0] == "A":
            got = ordered_loglik(case_a, order_a, thetas, n_threads=1).sum() / LN10
            assert got == pytest.approx(ref, abs=1e-9)
        else:
            for data in (case_b, case_b_linkage):
                loci = [data.trait_name, data.markers[0].name]
                got = ordered_loglik(data, loci, thetas, n_threads=1).sum() / LN10
                assert got == pytest.approx(ref, abs=1e-9)


@needs_shared
def test_merlin_example_likelihoods_and_full_curve():
    """log10 L(markers) -83.546745, L(trait) -10.709704; the 10-marker curve
    every cM equals the exact reference (printed to 6 decimals), maximum
    2.407207 at 45 cM."""
    data = merlin()
    space = InheritanceSpace.of(data.families[0])
    assert space.bits == 17
    positions = np.arange(0.0, 101.0)
    mp = multipoint(data, positions, n_threads=1)
    assert mp.loglik_markers[0] / LN10 == pytest.approx(-83.546745, abs=1e-6)
    assert mp.loglik_trait[0] / LN10 == pytest.approx(-10.709704, abs=1e-6)
    ref = np.array([float(r[2]) for r in read_tsv(SHARED / "merlin_parametric" / "reference"
                                                 / "multipoint_lod_lgref.tsv")])  # fmt: skip
    assert np.abs(mp.total - ref).max() < 1e-6
    best = int(np.argmax(mp.total))
    assert positions[best] == 45.0
    assert mp.total[best] == pytest.approx(2.407207, abs=1e-5)


@needs_shared
def test_window_multipoint_and_twopoint_equal_fastlink():
    """Trait + MRK4..MRK7 at 25..75 cM and two-point LODs at 7 thetas for all
    10 markers: FASTLINK's values (and the exact reference) to 1e-6."""
    data = merlin()
    ref_dir = SHARED / "merlin_parametric" / "reference"
    rows = read_tsv(ref_dir / "window_multipoint_lod.tsv", skip=2)
    positions = np.array([float(r[0]) for r in rows])
    idx = [data.marker_index(m) for m in ("MRK4", "MRK5", "MRK6", "MRK7")]
    mp = multipoint(data, positions, markers=idx, n_threads=1)
    assert np.abs(mp.total - np.array([float(r[2]) for r in rows])).max() < 1e-6
    thetas = np.array([0, 0.01, 0.05, 0.1, 0.2, 0.3, 0.4])
    for row in read_tsv(ref_dir / "twopoint_lod.tsv"):
        if row[1] != "FASTLINK_mlink":
            continue
        got = twopoint(data, row[0], thetas, n_threads=1).sum(axis=0)
        # FASTLINK prints its LODs to 6 decimals (one last digit differs from exact)
        assert np.abs(got - np.array([float(x) for x in row[2:9]])).max() < 1.5e-6


@needs_shared
def test_same_data_in_merlin_and_linkage_formats_gives_the_same_lods():
    data = merlin()
    d = SHARED / "merlin_parametric" / "linkage_format"
    positions = np.array([15.0, 45.0, 47.5, 80.0])
    ref = multipoint(data, positions, n_threads=1).total
    for ped in ("parametric_pre.ped", "parametric_post.ped"):
        other = read_linkage(str(d / ped), str(d / "parametric.dat"))
        assert [m.name for m in other.markers] == [m.name for m in data.markers]
        # the datafile's map starts at its first marker (0 cM); the .map file's at 5 cM
        shift = data.markers[0].cm - other.markers[0].cm
        np.testing.assert_allclose([m.cm + shift for m in other.markers],
                                   [m.cm for m in data.markers], atol=1e-6)  # fmt: skip
        got = multipoint(other, positions - shift, n_threads=1).total
        np.testing.assert_allclose(got, ref, atol=1e-9)


@needs_shared
def test_fastlink_example_both_pedigrees():
    """MLINK on the LINKAGE example: ln L per pedigree at theta2 in {.5, .125,
    .25, .375} (ped 1 is the 25-bit case), FASTLINK's printed ln L to 1e-6."""
    f = SHARED / "fastlink_example"
    data = read_linkage(str(f / "pedfile.dat"), str(f / "datafile.dat"))
    df = read_linkage_datafile(str(f / "datafile.dat"))
    order = [df.names[i] for i in df.order]
    expected = {
        0.5: (-42.469073, -33.148002),
        0.125: (-41.974522, -33.265532),
        0.25: (-42.135568, -34.079644),
        0.375: (-42.359604, -33.891978),
    }
    for k, fam in enumerate(data.families):
        space = InheritanceSpace.of(fam, max_bits=25)
        assert space.bits == (25 if k == 0 else 16)
        emis = []
        for name in order:
            if name == data.trait_name:
                emis.append(trait_emission(space, data.affection[k], data.liability[k], data.trait))
            else:
                i = data.marker_index(name)
                emis.append(
                    marker_emission(space, data.genotypes[k][:, i, :], data.markers[i].freqs)
                )
        for theta2, lnl in expected.items():
            assert chain_loglik(space, emis, [0.1197, theta2]) == pytest.approx(lnl[k], abs=1e-6)


def test_haldane_round_trip():
    from seqem.linkage.data import haldane_cm, kosambi, kosambi_cm

    cm = np.array([0.0, 1.0, 10.0, 55.5])
    np.testing.assert_allclose(haldane_cm(haldane(cm)), cm, atol=1e-9)
    np.testing.assert_allclose(kosambi_cm(kosambi(cm)), cm, atol=1e-9)
    assert float(haldane(10.0)) == pytest.approx(0.09063462346)


def test_mendelian_error_is_reported():
    fam = random_family(None, "trio+")
    calls = np.zeros((5, 1, 2), dtype=np.int16)
    calls[0, 0] = (1, 1)
    calls[1, 0] = (1, 1)
    calls[2, 0] = (2, 2)  # impossible child
    marker = MarkerLocus("M1", ("1", "2"), np.array([0.5, 0.5]), "1", 10.0)
    model = TraitModel("t", 0.01, np.array([[0.0, 1.0, 1.0]]))
    data = LinkageData([fam], [marker], [calls], [np.zeros(5, np.int8)], [np.ones(5, int)], model)
    with pytest.raises(ValueError, match="inconsistent"):
        multipoint(data, np.array([10.0]), n_threads=1)


@needs_shared
def test_checkpointed_scan_equals_the_stored_one(monkeypatch):
    """Over the memory budget the scan keeps checkpoints and recomputes: same curve."""
    import seqem.linkage.lander_green as LG

    data = merlin()
    positions = np.array([0.0, 5.0, 12.5, 45.0, 47.0, 71.0, 95.0, 100.0])
    stored = multipoint(data, positions, n_threads=1).total
    monkeypatch.setattr(LG, "MEMORY_BUDGET", 1)
    checkpointed = multipoint(data, positions, n_threads=1).total
    np.testing.assert_allclose(checkpointed, stored, rtol=0, atol=1e-10)


def test_hlod_is_the_maximum_over_alpha():
    """HLOD against a 1,000,001-point grid over alpha, for random family LODs."""
    from seqem.linkage.lander_green import hlod

    rng = np.random.default_rng(8)
    lod = rng.normal(0.2, 1.0, size=(6, 40))
    lod[:, 0] = -2.0  # every family against linkage: HLOD 0 at alpha 0
    het, alpha = hlod(lod)
    grid = np.linspace(0.0, 1.0, 1_000_001)
    for j in range(lod.shape[1]):
        values = np.log10(grid[:, None] * 10.0 ** lod[None, :, j] + 1 - grid[:, None]).sum(axis=1)
        assert het[j] == pytest.approx(max(values.max(), 0.0), abs=1e-9)
        assert het[j] >= values.max() - 1e-12
        assert np.log10(alpha[j] * 10.0 ** lod[:, j] + 1 - alpha[j]).sum() == pytest.approx(
            het[j], abs=1e-9
        )
    assert het[0] == 0.0 and alpha[0] == 0.0


@pytest.mark.parametrize("bits", [3, 9, 13, 16])
def test_transition_equals_dense_products(bits):
    """The blocked, merged and fused transition equals the product of the per-meiosis
    matrices applied one by one: one-bit and many-bit masks, repeated masks, masks
    inside and beyond a block, zero masks and zero fractions."""
    from seqem.linkage import _kernels as K

    rng = np.random.default_rng(bits)
    n = 1 << bits
    for _ in range(4):
        masks = [1 << int(b) for b in rng.integers(0, bits, size=bits + 2)]
        masks += [int(m) for m in rng.integers(0, n, size=3)] + [0, masks[0]]
        thetas = rng.uniform(0.0, 0.5, size=len(masks))
        thetas[1] = 0.0
        v = rng.random(n)
        want = v.copy()
        idx = np.arange(n)
        for m, t in zip(masks, thetas, strict=True):
            want = (1.0 - t) * want + t * want[idx ^ m]
        K.transition(v, np.array(masks, dtype=np.int64), thetas)
        np.testing.assert_allclose(v, want, rtol=1e-12)


@needs_shared
def test_positions_before_the_first_marker_alone_equal_the_full_scan():
    """With every position before the first marker the scan skips the forward pass
    (the markers' likelihood from the backward one): the same LODs and likelihood
    as when a position after it makes the forward pass run."""
    data = merlin()
    idx = [data.marker_index(f"MRK{j}") for j in range(3, 8)]
    first = data.markers[idx[0]].cm
    before = first - np.array([0.0, 3.0, 11.0, 40.0])
    alone = multipoint(data, before, markers=idx, n_threads=1)
    both = multipoint(data, np.append(before, first + 5.0), markers=idx, n_threads=1)
    np.testing.assert_allclose(alone.lod[0], both.lod[0, :-1], rtol=1e-10, atol=1e-10)
    assert alone.loglik_markers[0] == pytest.approx(both.loglik_markers[0], rel=1e-12)
