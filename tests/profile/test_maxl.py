"""A model's MAXL (the longest stretch one pass through it covers) against an independent
computation and against hmmbuild's."""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from seqem.io.hmmer import read_hmmer
from seqem.profile.model import DNA, ProfileHMM

TUTORIAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "profile" / "tutorial"
needs_tutorial = pytest.mark.skipif(
    not TUTORIAL.is_dir(), reason="shared HMMER tutorial data (../shared/data/profile) not present"
)
needs_hmmer = pytest.mark.skipif(
    not (shutil.which("hmmbuild") and shutil.which("hmmemit")), reason="HMMER not installed"
)


def random_model(rng, M):
    t = np.empty((M + 1, 7))
    t[:, :3] = rng.dirichlet([8.0, 1.0, 1.0], size=M + 1)
    t[:, 3:5] = rng.dirichlet([2.0, 1.0], size=M + 1)
    t[:, 5:7] = rng.dirichlet([2.0, 1.0], size=M + 1)
    t[0, 5:7] = (1.0, 0.0)
    t[M, 0] = 1.0 - t[M, 1]
    t[M, 2] = 0.0
    t[M, 5:7] = (1.0, 0.0)
    e = rng.dirichlet(np.ones(4), size=M + 1)
    return ProfileHMM(DNA, e, e.copy(), t)


def length_tail_by_matrix(hmm, tail):
    """The smallest L at which the mass still inside the model after L residues (in
    any state but M_M and D_M, the states that lead to the end) falls below tail,
    from the core model written as one transition matrix over its emitting states
    (delete paths summed by a matrix inverse): an independent route to
    :meth:`ProfileHMM.max_length`, whose quantity this is (hmmbuild's MAXL)."""
    t, M = hmm.transitions, hmm.M
    # emitting states: M1..MM (0..M-1), I0..IM (M..2M); delete states D1..DM (0..M-1)
    n = 2 * M + 1
    A = np.zeros((n, n))  # emitting -> emitting, directly
    to_d = np.zeros((n, M))  # emitting -> delete
    for k in range(1, M + 1):
        A[k - 1, M + k] = t[k, 1]  # M_k -> I_k
        if k < M:
            A[k - 1, k] = t[k, 0]  # M_k -> M_k+1
            to_d[k - 1, k] = t[k, 2]  # M_k -> D_k+1
    for k in range(0, M + 1):
        A[M + k, M + k] = t[k, 4]  # I_k -> I_k
        if k < M:
            A[M + k, k] = t[k, 3]  # I_k -> M_k+1
    D = np.zeros((M, M))
    d_out = np.zeros((M, n))
    for k in range(1, M):
        D[k - 1, k] = t[k, 6]  # D_k -> D_k+1
        d_out[k - 1, k] = t[k, 5]  # D_k -> M_k+1
    closure = np.linalg.inv(np.eye(M) - D)  # expected visits to each delete state
    step = A + to_d @ closure @ d_out
    begin_d = np.zeros(M)
    begin_d[0] = t[0, 2]
    state = np.zeros(n)  # after the first residue
    state[0], state[M] = t[0, 0], t[0, 1]
    state = state + begin_d @ closure @ d_out
    inside = np.ones(n, dtype=bool)
    inside[M - 1] = False  # M_M
    for length in range(1, 100_000):
        deletes = (state @ to_d @ closure)[: M - 1].sum()
        if state[inside].sum() + deletes < tail:
            return length + 1
        state = state @ step
    raise AssertionError("no tail reached")


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("tail", [1e-3, 1e-7])
def test_max_length_against_the_transition_matrix(seed, tail):
    rng = np.random.default_rng(seed)
    hmm = random_model(rng, int(rng.integers(1, 12)))
    assert hmm.max_length(tail) == length_tail_by_matrix(hmm, tail)


def test_max_length_grows_as_the_tail_shrinks():
    hmm = random_model(np.random.default_rng(9), 10)
    lengths = [hmm.max_length(t) for t in (1e-2, 1e-4, 1e-7, 1e-10)]
    assert lengths == sorted(lengths) and lengths[0] < lengths[-1]
    with pytest.raises(Exception, match="tail"):
        hmm.max_length(0.0)


@needs_tutorial
def test_hmmer_maxl_of_the_tutorial_model():
    (made1,) = read_hmmer(TUTORIAL / "models" / "MADE1.hmm")
    assert made1.meta["MAXL"] == made1.max_length() == 278


@needs_hmmer
@needs_tutorial
@pytest.mark.parametrize("beta", [1e-7, 1e-5, 1e-3])
def test_maxl_as_hmmbuild_computes_it(tmp_path, beta):
    """hmmbuild's MAXL for models built from alignments emitted by MADE1 (two sizes),
    at three tails (--w_beta), against max_length of the model it wrote: equal on the
    tutorial's model (above), and otherwise never shorter and at most 2 longer
    (hmmbuild's own computation is not documented; over 45 such models here, 14
    equal, 27 one longer and 4 two longer).  Windows that overlap by seqem's MAXL
    thus overlap by at least hmmbuild's."""
    for n, seed in ((8, 1), (60, 2)):
        sto, hmm = tmp_path / f"e{n}.sto", tmp_path / f"e{n}.hmm"
        with open(sto, "w") as fh:
            subprocess.run(["hmmemit", "-a", "-N", str(n), "--seed", str(seed),
                            TUTORIAL / "models" / "MADE1.hmm"], stdout=fh, check=True)  # fmt: skip
        subprocess.run(["hmmbuild", "--w_beta", str(beta), "-o", "/dev/null", hmm, sto],
                       check=True)  # fmt: skip
        (model,) = read_hmmer(hmm)
        assert 0 <= model.max_length(beta) - model.meta["MAXL"] <= 2, (n, beta)


@needs_tutorial
def test_seqem_build_writes_maxl_for_nucleotide_models(tmp_path):
    from seqem.cli.main import main

    out = tmp_path / "made1.hmm"
    assert main(["profile", "build", str(TUTORIAL / "MADE1.sto"), "-o", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert "MAXL  278" in lines  # hmmbuild writes the same
    protein = tmp_path / "fn3.hmm"
    assert main(["profile", "build", str(TUTORIAL / "fn3.sto"), "-o", str(protein)]) == 0
    assert not any(line.startswith("MAXL") for line in protein.read_text().splitlines())
