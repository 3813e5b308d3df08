"""Posterior decoding, alignments, domain definition and HMMER tables.

Kernels are checked against brute-force path enumeration
(``tests/reference/brute_decode.py``); domain definition against HMMER 3.3.2
on its tutorial data (``hmmsearch --cpu 0 --tblout X.tbl --domtblout
X.domtbl MODEL.hmm TARGET``, outputs in ``tutorial/reference/``).
"""

import io
from pathlib import Path

import numpy as np
import pytest

from seqem.io.hmmer_tables import (
    DOMTBLOUT_COLUMNS,
    TBLOUT_COLUMNS,
    TSV_COLUMNS,
    SequenceHit,
    read_hmmer_table,
    write_domtblout,
    write_hits_tsv,
    write_tblout,
)
from seqem.profile import _decode_kernels as DK
from seqem.profile.domains import (
    Domain,
    decode,
    define_domains,
    find_regions,
    optimal_accuracy_trace,
    viterbi_trace,
)
from seqem.profile.search import configure, forward_bits
from tests.profile.test_kernels import random_hmm
from tests.reference.brute_decode import all_paths, best_paths, posteriors

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "profile"
TUTORIAL = SHARED / "tutorial"
REFERENCE = TUTORIAL / "reference"
needs_data = pytest.mark.skipif(
    not SHARED.is_dir(), reason="shared profile data (../shared/data/profile) not present"
)

CASES = [
    (M, L, mode, multihit)
    for M in (1, 2, 3)
    for L in (1, 3, 5)
    for mode in ("local", "glocal")
    for multihit in (True, False)
    if not (M == 3 and L == 5 and multihit)  # keep enumeration fast
]


def _case(M, L, mode, multihit, seed=0):
    rng = np.random.default_rng(7000 + 100 * M + 10 * L + (mode == "local") * 2 + multihit)
    hmm = random_hmm(rng, M)
    prof = configure(hmm, mode=mode, multihit=multihit, insert_odds="model")
    x = rng.integers(0, 4, size=L).astype(np.uint8)
    xt = prof.specials(np.array([L]))[0]
    return prof, x, xt


@pytest.mark.parametrize("M,L,mode,multihit", CASES)
def test_posteriors_against_enumeration(M, L, mode, multihit):
    prof, x, xt = _case(M, L, mode, multihit)
    total, rM, rI, rX = posteriors(prof, list(x), xt)
    post = decode(prof, x)
    assert post.loglik == pytest.approx(np.log(total), rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(post.match, rM, rtol=0, atol=1e-10)
    np.testing.assert_allclose(post.insert, rI, rtol=0, atol=1e-10)
    np.testing.assert_allclose(post.special, rX, rtol=0, atol=1e-10)
    # every residue is emitted by exactly one state
    per_residue = post.match[1:].sum(1) + post.insert[1:].sum(1) + post.special[1:, :3].sum(1)
    np.testing.assert_allclose(per_residue, 1.0, atol=1e-12)
    # each domain has one B and one E
    assert post.special[:, DK.PB].sum() == pytest.approx(post.special[:, DK.PE].sum(), abs=1e-12)


@pytest.mark.parametrize("M,L,mode,multihit", CASES)
def test_backward_total_equals_forward(M, L, mode, multihit):
    prof, x, xt = _case(M, L, mode, multihit)
    n = L + 1
    f = [np.empty((n, M + 1)) for _ in range(3)]
    fX, scale = np.empty((n, 5)), np.empty(n)
    args = (x, prof.msc, prof.isc, prof.tr, prof.bm, prof.me, prof.de, xt)
    fwd = DK.forward_full(*args, *f, fX, scale)
    b = [np.empty((n, M + 1)) for _ in range(3)]
    bwd = DK.backward_full(*args, scale, *b, np.empty((n, 5)))
    assert bwd == pytest.approx(fwd, rel=1e-12)
    # the same number as the search kernel in double precision; single
    # precision (the search's default) within its round-off
    full = (fwd - (L * np.log(L / (L + 1.0)) + np.log(1 / (L + 1.0)))) / np.log(2)
    bits = forward_bits(prof, x, np.array([0, L]), precision="double")[0]
    assert full == pytest.approx(bits, rel=1e-12, abs=1e-12)
    single = forward_bits(prof, x, np.array([0, L]))[0]
    assert single == pytest.approx(bits, rel=1e-5, abs=1e-5)


def _steps(trace):
    return tuple(zip(trace.states, trace.nodes.tolist(), trace.positions.tolist(), strict=True))


@pytest.mark.parametrize("M,L,mode,multihit", CASES)
def test_viterbi_and_optimal_accuracy_against_enumeration(M, L, mode, multihit):
    prof, x, xt = _case(M, L, mode, multihit)
    paths = dict((path, p) for p, path in all_paths(prof, list(x), xt))
    (vp, _), (oa_score, _) = best_paths(prof, list(x), xt)
    vt = viterbi_trace(prof, x)
    assert vt.score == pytest.approx(np.log(vp), rel=1e-12, abs=1e-12)
    assert paths[_steps(vt)] == pytest.approx(vp, rel=1e-12)  # a real path, the best one
    post = decode(prof, x)
    ot = optimal_accuracy_trace(prof, post)
    assert ot.score == pytest.approx(oa_score, abs=1e-10)
    assert _steps(ot) in paths  # only possible transitions are used


def test_long_sequence_posteriors_stay_finite():
    rng = np.random.default_rng(11)
    hmm = random_hmm(rng, 5)
    prof = configure(hmm)
    x = rng.integers(0, 4, size=3000).astype(np.uint8)
    post = decode(prof, x)
    assert np.isfinite(post.loglik)
    total = post.match[1:].sum(1) + post.insert[1:].sum(1) + post.special[1:, :3].sum(1)
    np.testing.assert_allclose(total, 1.0, atol=1e-9)


def test_find_regions_simple_profile():
    mocc = np.array([0, 0, 1, 1, 1, 0, 0, 0.9, 0.9, 0.0])
    b = np.array([0, 0, 1, 0, 0, 0, 0, 0.9, 0, 0])
    e = np.array([0, 0, 0, 0, 1, 0, 0, 0, 0.9, 0])
    assert find_regions(mocc, b, e) == [(2, 4), (7, 8)]


def test_multidomain_region_is_cut_only_where_no_domain_spans():
    # two certain domains 0..3 and 4..7 touching: one region, cut between them
    mocc = np.ones(8)
    b = np.array([1.0, 0, 0, 0, 1, 0, 0, 0])
    e = np.array([0, 0, 0, 1.0, 0, 0, 0, 1])
    assert find_regions(mocc, b, e) == [(0, 3), (4, 7)]
    # the same with fuzzy ends: found as one region, then split by _split
    from seqem.profile.domains import _split

    e2 = np.array([0, 0, 0.5, 0.5, 0, 0, 0, 1])
    b2 = np.array([1.0, 0, 0, 0.5, 0.5, 0, 0, 0])
    mocc2 = np.array([1.0, 1, 1, 1, 1, 1, 1, 1])
    assert _split(mocc2, b2, e2, 0, 7, 0.2) == [(0, 7)]  # a domain spans every cut
    mocc2[3] = 0.5 + 1e-3  # now almost nothing runs from residue 3 to 4 ...
    b2 = np.array([1.0, 0, 0, 0, 1.0, 0, 0, 0])
    e2 = np.array([0, 0, 0, 0.5, 0, 0, 0, 1])
    assert _split(mocc2, b2, e2, 0, 7, 0.2) == [(0, 3), (4, 7)]


# ---------------------------------------------------------------- HMMER data


def _hmm_and_target(model, target):
    from seqem.io.hmmer import read_hmmer
    from seqem.io.sequences import read_sequences

    (hmm,) = read_hmmer(TUTORIAL / "models" / f"{model}.hmm")
    seqs = read_sequences(TUTORIAL / target, hmm.alphabet)
    return hmm, seqs


def _ref_domains(name):
    return read_hmmer_table(REFERENCE / name, "domtblout")


ENV_TOL = 0  # residues; measured agreement is exact (see below)


@needs_data
@pytest.mark.parametrize(
    "model,target,table",
    [("fn3", "7LESS_DROME", "fn3_vs_7LESS.domtbl"), ("Pkinase", "7LESS_DROME",
                                                    "Pkinase_vs_7LESS.domtbl")],
)  # fmt: skip
def test_domains_match_hmmsearch(model, target, table):
    """``hmmsearch --cpu 0 --tblout ... --domtblout ... MODEL.hmm 7LESS_DROME``.

    Measured: the same envelopes, alignment and model coordinates for all 9
    fn3 domains and the kinase domain; scores within 0.05 bit except where
    HMMER subtracts a null2 bias (printed in the bias column); acc within 0.05.
    """
    hmm, seqs = _hmm_and_target(model, target)
    ref = _ref_domains(table)
    doms = define_domains(configure(hmm), seqs.sequence(0), hmm.stats, Z=1)
    assert len(doms) == len(ref)
    for d, r in zip(doms, ref, strict=True):
        got = (d.env_from, d.env_to)
        want = (int(r["env_from"]), int(r["env_to"]))
        assert abs(got[0] - want[0]) <= ENV_TOL and abs(got[1] - want[1]) <= ENV_TOL, (got, want)
        assert (d.ali_from, d.ali_to) == (int(r["ali_from"]), int(r["ali_to"]))
        assert (d.hmm_from, d.hmm_to) == (int(r["hmm_from"]), int(r["hmm_to"]))
        # score printed with %.1f; HMMER's also has the null2 bias subtracted
        assert d.bitscore == pytest.approx(
            float(r["dom_score"]) + float(r["dom_bias"]), abs=0.1 + 0.05
        )
        assert d.acc == pytest.approx(float(r["acc"]), abs=0.05)
        if float(r["dom_bias"]) == 0.0:
            # E-values printed with 2 digits
            assert d.i_evalue == pytest.approx(float(r["i_evalue"]), rel=0.15)
    significant = [(d.env_from, d.env_to) for d in doms if d.i_evalue < 0.01]
    want_sig = [(int(r["env_from"]), int(r["env_to"])) for r in ref if float(r["i_evalue"]) < 0.01]
    assert significant == want_sig


@needs_data
def test_globins_one_domain_each():
    """``hmmsearch --cpu 0 --domtblout ... globins4.hmm globins45.fa``: one domain
    per globin; envelopes, alignments and model coordinates identical for all 45."""
    hmm, seqs = _hmm_and_target("globins4", "globins45.fa")
    ref = {r["target_name"]: r for r in _ref_domains("globins4_vs_globins45.domtbl")}
    prof = configure(hmm)
    for i, name in enumerate(seqs.names):
        doms = define_domains(prof, seqs.sequence(i), hmm.stats, Z=45)
        assert len(doms) == 1, name
        r = ref[name]
        assert abs(doms[0].env_from - int(r["env_from"])) <= ENV_TOL, name
        assert abs(doms[0].env_to - int(r["env_to"])) <= ENV_TOL, name
        assert (doms[0].hmm_from, doms[0].hmm_to) == (int(r["hmm_from"]), int(r["hmm_to"]))
        assert (doms[0].ali_from, doms[0].ali_to) == (int(r["ali_from"]), int(r["ali_to"]))
        assert doms[0].acc == pytest.approx(float(r["acc"]), abs=0.01)  # measured <= 0.006
        # %.1f, and HMMER's score has its null2 bias subtracted (measured <= 0.1)
        assert doms[0].bitscore == pytest.approx(
            float(r["dom_score"]) + float(r["dom_bias"]), abs=0.15
        )


@needs_data
def test_max_search_reports_what_hmmsearch_reports():
    """``hmmsearch --cpu 0 --max -E 1e9 -Z 4368`` with hmmbuild's fn3 model on
    the benchmark database (``bench/reference/fn3/hmmbuild.max.tbl.gz``, 2,466
    targets): every sequence passes ``-E 1e9``, so the reported ones are those
    in which domain definition finds a domain.

    Measured: all of hmmsearch's targets and 11 more (E 1,100-2,500, where the
    posterior domain occupancy is at the region threshold); 98.4% of the
    common scores within 0.1 bit (the table's precision), and the targets with
    E <= 1 within 0.6 bit (envelope boundaries of multi-domain regions).
    Before, seqem also listed the 1,891 targets without a domain.
    """
    import gzip

    from seqem.cli.profile import search_models
    from seqem.io.hmmer import read_hmmer

    ref = SHARED / "bench" / "reference" / "fn3"
    with gzip.open(ref / "hmmbuild.max.tbl.gz", "rt") as fh:
        theirs = {
            w[0]: (float(w[4]), float(w[5]))
            for w in (line.split() for line in fh if not line.startswith("#"))
        }
    hits, _ = search_models(
        read_hmmer(ref / "hmmbuild.hmm"), str(SHARED / "bench" / "db.fa"), evalue=1e9, Z=4368,
        threads=2, domains=True, null2=True,
    )  # fmt: skip
    ours = {h.target_name: (h.evalue, h.bits) for h in hits}
    assert all(h.domains for h in hits)
    assert set(theirs) <= set(ours)
    extra = set(ours) - set(theirs)
    assert len(extra) <= 0.01 * len(theirs)
    assert all(ours[t][0] > 100 for t in extra)
    diff = np.array([abs(ours[t][1] - theirs[t][1]) for t in theirs])
    assert np.mean(diff <= 0.1 + 1e-9) >= 0.98
    significant = [t for t in theirs if theirs[t][0] <= 1]
    assert max(abs(ours[t][1] - theirs[t][1]) for t in significant) <= 0.7


# ------------------------------------------------------------------ tables


def _hits_from_domtbl(rows):
    hits: dict[str, SequenceHit] = {}
    doms: dict[str, list[Domain]] = {}
    for r in rows:
        d = Domain(
            env_from=int(r["env_from"]), env_to=int(r["env_to"]), ali_from=int(r["ali_from"]),
            ali_to=int(r["ali_to"]), hmm_from=int(r["hmm_from"]), hmm_to=int(r["hmm_to"]),
            bitscore=float(r["dom_score"]), pvalue=float(r["i_evalue"]),
            c_evalue=float(r["c_evalue"]), i_evalue=float(r["i_evalue"]), acc=float(r["acc"]),
            bias=float(r["dom_bias"]),
        )  # fmt: skip
        doms.setdefault(r["target_name"], []).append(d)
        hits[r["target_name"]] = SequenceHit(
            name=r["target_name"], length=int(r["tlen"]), evalue=float(r["evalue"]),
            score=float(r["score"]), bias=float(r["bias"]),
            accession="" if r["target_accession"] == "-" else r["target_accession"],
            description="" if r["description"] == "-" else r["description"],
        )  # fmt: skip
    return [SequenceHit(**{**h.__dict__, "domains": tuple(doms[n])}) for n, h in hits.items()]


def _data_lines(path):
    return [line.rstrip("\n") for line in open(path) if not line.startswith("#")]


def _header(path):
    return [line.rstrip("\n") for line in open(path)][:3]


@needs_data
@pytest.mark.parametrize("stem", ["fn3_vs_7LESS", "globins4_vs_globins45"])
def test_domtblout_writer_reproduces_hmmer(stem, tmp_path):
    ref_path = REFERENCE / f"{stem}.domtbl"
    rows = read_hmmer_table(ref_path, "domtblout")
    assert rows and all(len(r) == len(DOMTBLOUT_COLUMNS) for r in rows)
    hits = _hits_from_domtbl(rows)
    out = tmp_path / "out.domtbl"
    write_domtblout(out, hits, query_name=rows[0]["query_name"], query_length=int(rows[0]["qlen"]),
                    query_accession="" if rows[0]["query_accession"] == "-"
                    else rows[0]["query_accession"])  # fmt: skip
    assert _header(out) == _header(ref_path)
    again = read_hmmer_table(out, "domtblout")
    assert [tuple(r.values()) for r in again] == [tuple(r.values()) for r in rows]
    # line for line, byte for byte
    assert _data_lines(out)[: len(rows)] == _data_lines(ref_path)[: len(rows)]


@needs_data
@pytest.mark.parametrize("stem", ["fn3_vs_7LESS", "Pkinase_vs_7LESS"])
def test_tblout_writer_reproduces_hmmer(stem, tmp_path):
    ref_rows = read_hmmer_table(REFERENCE / f"{stem}.tbl", "tblout")
    dom_rows = read_hmmer_table(REFERENCE / f"{stem}.domtbl", "domtblout")
    (hit,) = _hits_from_domtbl(dom_rows)
    r = ref_rows[0]
    hit = SequenceHit(**{**hit.__dict__, "expected_domains": float(r["exp"]),
                         "n_regions": int(r["reg"]), "n_clustered": int(r["clu"]),
                         "n_overlaps": int(r["ov"]), "n_envelopes": int(r["env"])})  # fmt: skip
    out = tmp_path / "out.tbl"
    write_tblout(out, [hit], query_name=r["query_name"], query_accession=r["query_accession"])
    assert _header(out) == _header(REFERENCE / f"{stem}.tbl")
    (mine,) = read_hmmer_table(out, "tblout")
    assert tuple(mine) == TBLOUT_COLUMNS and mine == r
    assert _data_lines(out)[:1] == _data_lines(REFERENCE / f"{stem}.tbl")[:1]  # byte for byte


def test_tsv_writer_and_missing_values():
    d = Domain(1, 10, 2, 9, 1, 8, 12.5, 1e-5, 1e-5, 2e-5, 0.9)
    hits = [SequenceHit("a", 10, 1e-5, 12.5, (d,)), SequenceHit("b", 5, 3.0, -1.0)]
    buf = io.StringIO()
    write_hits_tsv(buf, hits, query_name="q", query_length=8)
    lines = buf.getvalue().splitlines()
    assert lines[0].split("\t") == list(TSV_COLUMNS)
    assert len(lines) == 3
    assert lines[1].split("\t")[TSV_COLUMNS.index("env_to")] == "10"
    assert lines[2].split("\t")[TSV_COLUMNS.index("env_from")] == "NA"
    buf = io.StringIO()
    write_tblout(buf, hits, query_name="q")
    assert [line.split()[1] for line in buf.getvalue().splitlines() if line[0] != "#"] == ["-", "-"]


def test_read_hmmer_table_rejects_short_lines(tmp_path):
    from seqem.errors import InputFormatError

    bad = tmp_path / "bad.tbl"
    bad.write_text("# header\nname - q - 1e-5 10.0\n")
    with pytest.raises(InputFormatError, match="columns"):
        read_hmmer_table(bad, "tblout")


def test_sequence_score_takes_the_reconstruction_when_higher():
    """hmmsearch's sequence score (p7_Pipeline): the Forward score less the
    correction of every domain, or, when higher, the reconstruction from the
    domains that stay positive after their own correction.  Checked against
    the formula written out by hand, with a weak, strongly biased second
    domain that only the reconstruction leaves out."""
    import math

    from seqem.profile.domains import NULL2_OMEGA, sequence_score

    n = 1000
    strong = Domain(101, 200, 101, 200, 1, 100, 0.0, 1.0, 1.0, 1.0, 0.9, null2=0.5, envsc=30.0)
    weak = Domain(501, 550, 501, 550, 1, 50, 0.0, 1.0, 1.0, 1.0, 0.9, null2=8.0, envsc=1.0)

    def bias(s):
        return math.log1p(NULL2_OMEGA * math.exp(s)) / math.log(2)

    null = n * math.log(n / (n + 1)) + math.log(1 / (n + 1))
    recon = (30.0 + (n - 100) * math.log(n / (n + 3)) - null) / math.log(2)
    # Forward score below the reconstruction once both corrections are taken
    fwd = recon + 1.0
    pre, b = sequence_score(fwd, n, [strong, weak], null2=True)
    assert fwd - bias(8.5) < recon - bias(0.5)
    assert pre == pytest.approx(recon, abs=1e-12) and b == pytest.approx(bias(0.5), abs=1e-12)
    # a Forward score well above: kept, with every domain's correction
    pre, b = sequence_score(recon + 10.0, n, [strong, weak], null2=True)
    assert pre == recon + 10.0 and b == pytest.approx(bias(8.5), abs=1e-12)
    # without null2: domains with envsc > 0 count (both here), no correction
    both = (31.0 + (n - 150) * math.log(n / (n + 3)) - null) / math.log(2)
    assert sequence_score(both - 1.0, n, [strong, weak], null2=False) == pytest.approx((both, 0.0))
    assert sequence_score(both + 1.0, n, [strong, weak], null2=False) == (both + 1.0, 0.0)
    # nothing positive: the Forward score stands
    assert sequence_score(5.0, n, [weak], null2=True) == (5.0, pytest.approx(bias(8.0)))
