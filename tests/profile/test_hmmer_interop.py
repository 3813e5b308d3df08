"""Models seqem writes, used by HMMER: hmmsearch and pyhmmer load them and
agree with seqem's own E-values.

Command: ``hmmsearch --cpu 0 --max --nonull2 -Z 300 --tblout T family.hmm
example_db.fa`` (HMMER 3.3, Debian's hmmer package), with the model seqem
built and calibrated from ``data/example_family.sto``.  Both sides use the
model's STATS lines and the same scoring mode, so the E-values of the 30
family members must agree within a factor of 2 (they differ only by
HMMER's single-precision arithmetic and its printed rounding).
"""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from seqem.io.hmmer import read_hmmer, write_hmmer
from seqem.io.msa import read_msa
from seqem.io.sequences import read_sequences
from seqem.profile.build import build_from_msa
from seqem.profile.calibrate import calibrate, forward_pvalue
from seqem.profile.search import configure, forward_bits

DATA = Path(__file__).resolve().parents[2] / "data"


@pytest.fixture(scope="module", params=["built", "trained"])
def family(request, tmp_path_factory):
    """The model file as ``seqem profile build`` (from the alignment) or ``seqem profile
    train`` (Baum-Welch from the unaligned members) writes it, and seqem's own E-values."""
    path = tmp_path_factory.mktemp("model") / "family.hmm"
    if request.param == "built":
        hmm = build_from_msa(read_msa(DATA / "example_family.sto"), name="example_family")
        calibrate(hmm)
        write_hmmer(path, [hmm])
    else:
        from seqem.cli.main import main

        source = str(DATA / "example_family.fa")
        assert main(["profile", "train", source, "-o", str(path), "--seed", "1", "-q"]) == 0
        (hmm,) = read_hmmer(path)
    db = read_sequences(DATA / "example_db.fa", hmm.alphabet)
    bits = forward_bits(configure(hmm), db.codes, db.bounds)
    tau, lam = hmm.stats["forward"]
    evalues = dict(zip(db.names, db.n_sequences * forward_pvalue(bits, tau, lam), strict=True))
    return path, evalues, hmm


@pytest.mark.skipif(shutil.which("hmmsearch") is None, reason="HMMER (hmmsearch) not installed")
def test_hmmsearch_finds_members_with_our_evalues(family, tmp_path):
    path, ours, _ = family
    table = tmp_path / "hits.tbl"
    subprocess.run(
        ["hmmsearch", "--cpu", "0", "--max", "--nonull2", "-Z", "300", "-E", "1e9",
         "--tblout", str(table), str(path), str(DATA / "example_db.fa")],
        check=True, capture_output=True,
    )  # fmt: skip
    theirs = {}
    for line in table.read_text().splitlines():
        if not line.startswith("#"):
            fields = line.split()
            theirs[fields[0]] = float(fields[4])
    members = [name for name in ours if name.startswith("member")]
    assert len(members) == 30
    for name in members:
        assert name in theirs, name
        assert theirs[name] <= 0.01
        ratio = theirs[name] / ours[name]
        assert 0.5 <= ratio <= 2.0, (name, theirs[name], ours[name])


def test_pyhmmer_loads_our_model(family):
    pyhmmer = pytest.importorskip("pyhmmer", reason="pyhmmer not installed")
    path, _, ours = family
    with pyhmmer.plan7.HMMFile(str(path)) as fh:
        (hmm,) = list(fh)
    assert hmm.M == ours.M and hmm.name in (ours.name, ours.name.encode())
    params = hmm.evalue_parameters
    tau, lam = ours.stats["forward"]
    # written with 4-5 decimals
    assert np.isclose(params.f_tau, tau, atol=1e-3) and np.isclose(params.f_lambda, lam, atol=1e-4)
    np.testing.assert_allclose(np.asarray(hmm.match_emissions)[1:], ours.match[1:], atol=1e-4)


def test_pyhmmer_finds_members_with_our_evalues(family):
    """pyhmmer's search (no filters, no null2: the scores seqem's E-values come from)
    with the model file gives the family members E-values within a factor of 2 of
    seqem's."""
    pyhmmer = pytest.importorskip("pyhmmer", reason="pyhmmer not installed")
    path, ours, _ = family
    with pyhmmer.plan7.HMMFile(str(path)) as fh:
        hmm = fh.read()
    with pyhmmer.easel.SequenceFile(
        str(DATA / "example_db.fa"), digital=True, alphabet=hmm.alphabet
    ) as fh:
        sequences = fh.read_block()
    pipeline = pyhmmer.plan7.Pipeline(
        hmm.alphabet, bias_filter=False, null2=False, F1=1.0, F2=1.0, F3=1.0, Z=300, E=1e9
    )
    theirs = {}
    for hit in pipeline.search_hmm(hmm, sequences):
        name = hit.name if isinstance(hit.name, str) else hit.name.decode()
        theirs[name] = hit.evalue
    members = [name for name in ours if name.startswith("member")]
    assert len(members) == 30
    for name in members:
        assert theirs[name] <= 0.01
        assert 0.5 <= theirs[name] / ours[name] <= 2.0, (name, theirs[name], ours[name])
