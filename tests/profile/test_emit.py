"""Sampling from a profile HMM: emissions, lengths and scores match the model."""

from pathlib import Path

import numpy as np
import pytest

from seqem.errors import ParameterError
from seqem.profile.emit import FLANK, INSERT, MATCH, consensus_sequence, emit
from seqem.profile.model import AMINO, DD, DM, DNA, II, IM, MD, MI, MM, ProfileHMM
from seqem.profile.search import configure, forward_bits


def random_model(rng, M, alphabet=AMINO, sharpen=8.0):
    """A random Plan7 model: sharpened match emissions, background inserts."""
    bg = np.asarray(alphabet.background)
    K = alphabet.K
    match = np.zeros((M + 1, K))
    for k in range(1, M + 1):
        alpha = 5.0 * bg
        alpha[rng.choice(K, p=bg)] += sharpen
        match[k] = rng.dirichlet(alpha)
    t = np.zeros((M + 1, 7))
    for k in range(M + 1):
        t[k, [MM, MI, MD]] = rng.dirichlet([90.0, 5.0, 5.0])
        t[k, [IM, II]] = rng.dirichlet([6.0, 4.0])
        t[k, [DM, DD]] = rng.dirichlet([6.0, 4.0])
    t[0, [DM, DD]] = (1.0, 0.0)
    t[M, MM] += t[M, MD]
    t[M, [MD, DM, DD]] = (0.0, 1.0, 0.0)
    return ProfileHMM(alphabet, match, np.tile(bg, (M + 1, 1)), t, name="rand")


def expected_length(hmm):
    """Expected number of residues of a glocal path, from the transitions.

    pM[k], pD[k]: probability that the path visits M_k, D_k.  B enters M_1
    directly (MM) or through I_0 (MI; I_0 can only go on to M_1), D_1 (MD).
    A visit to I_k emits a geometric number of residues with mean 1 / (1 - II).
    """
    t = hmm.transitions
    M = hmm.M
    pM = np.zeros(M + 1)
    pD = np.zeros(M + 1)
    pM[1], pD[1] = t[0, MM] + t[0, MI], t[0, MD]
    for k in range(1, M):
        pM[k + 1] = pM[k] * (t[k, MM] + t[k, MI]) + pD[k] * t[k, DM]
        pD[k + 1] = pM[k] * t[k, MD] + pD[k] * t[k, DD]
    inserts = t[0, MI] / (1 - t[0, II]) + np.sum(pM[1:] * t[1:, MI] / (1 - t[1:, II]))
    return pM[1:].sum() + inserts


@pytest.fixture(scope="module")
def model():
    return random_model(np.random.default_rng(7), 12)


def test_match_emissions_converge_to_the_model(model):
    seqs, paths = emit(model, 4000, random_state=np.random.default_rng(11))
    nodes = paths.nodes
    chi2, df = 0.0, 0
    for k in range(1, model.M + 1):
        observed = np.bincount(seqs.codes[nodes == k], minlength=AMINO.K).astype(float)
        expected = observed.sum() * model.match[k]
        # residues expected fewer than 5 times are pooled into one cell, so that
        # every cell has the expected count the chi-square approximation needs
        rare = expected < 5
        observed = np.append(observed[~rare], observed[rare].sum())
        expected = np.append(expected[~rare], expected[rare].sum())
        cells = expected > 0
        chi2 += float(np.sum((observed[cells] - expected[cells]) ** 2 / expected[cells]))
        df += int(cells.sum()) - 1
    # Pearson's statistic summed over nodes is ~ chi-square with df degrees of
    # freedom (mean df, variance 2 df); 5 standard deviations above the mean
    # fails by chance with probability < 1e-4.
    assert chi2 < df + 5 * np.sqrt(2 * df), (chi2, df)


def test_lengths_match_the_expected_length(model):
    seqs, _ = emit(model, 4000, random_state=np.random.default_rng(12))
    lengths = seqs.lengths
    expected = expected_length(model)
    # the mean of 4000 lengths is within 5 standard errors of its expectation
    assert abs(lengths.mean() - expected) < 5 * lengths.std() / np.sqrt(lengths.size)


def test_paths_are_consistent(model):
    seqs, paths = emit(model, 300, random_state=np.random.default_rng(13))
    assert paths.bounds.tolist() == seqs.bounds.tolist()
    for i in range(len(seqs)):
        kinds, pos = paths.sequence(i)
        assert set(kinds.tolist()) <= {MATCH, INSERT}
        m = pos[kinds == MATCH]
        assert np.all(np.diff(m) > 0) and m.min(initial=1) >= 1 and m.max(initial=1) <= model.M
        # residues appear in path order: node numbers never decrease
        assert np.all(np.diff(pos) >= 0)
        ins = kinds == INSERT
        assert np.all(pos[ins] <= model.M)
    assert np.all(paths.starts == 1) and np.all(paths.ends == model.M)
    assert np.all(paths.nodes[paths.kinds != MATCH] == 0)


def test_local_fragments_are_uniform_and_within_bounds(model):
    n = 6000
    seqs, paths = emit(model, n, random_state=np.random.default_rng(14), mode="local")
    M = model.M
    assert np.all((1 <= paths.starts) & (paths.starts <= paths.ends) & (paths.ends <= M))
    for i in range(200):
        kinds, pos = paths.sequence(i)
        assert kinds[0] == MATCH and pos[0] == paths.starts[i]
        assert np.all((pos >= paths.starts[i]) & (pos <= paths.ends[i]))
    # (start, end) uniform over the M (M + 1) / 2 pairs: chi-square over pairs
    pairs = M * (M + 1) // 2
    index = (paths.ends - 1) * paths.ends // 2 + (paths.starts - 1)
    observed = np.bincount(index, minlength=pairs)
    expected = n / pairs
    chi2 = np.sum((observed - expected) ** 2 / expected)
    df = pairs - 1
    assert chi2 < df + 5 * np.sqrt(2 * df)


def test_flanks_are_background_with_the_mean_length(model):
    n, flank = 2000, 30
    seqs, paths = emit(model, n, random_state=np.random.default_rng(15), flank_length=flank)
    n_flank = np.add.reduceat((paths.kinds == FLANK).astype(np.int64), seqs.bounds[:-1])
    # two geometric flanks of mean 30 (sd ~ 30.5 each): 5 standard errors
    assert abs(n_flank.mean() - 2 * flank) < 5 * np.sqrt(2 * flank * (flank + 1) / n)
    for i in range(50):
        kinds, _ = paths.sequence(i)
        core = np.flatnonzero(kinds != FLANK)
        assert np.all(kinds[core[0] : core[-1] + 1] != FLANK)
    residues = seqs.codes[paths.kinds == FLANK]
    observed = np.bincount(residues, minlength=AMINO.K)
    expected = residues.size * np.asarray(AMINO.background)
    chi2 = np.sum((observed - expected) ** 2 / expected)
    assert chi2 < 19 + 5 * np.sqrt(2 * 19)


def test_emitted_sequences_outscore_background():
    rng = np.random.default_rng(16)
    hmm = random_model(rng, 40)
    seqs, _ = emit(hmm, 200, random_state=rng, mode="glocal")
    lengths = seqs.lengths
    bg = np.asarray(AMINO.background)
    background = rng.choice(AMINO.K, size=int(lengths.sum()), p=bg).astype(np.uint8)
    profile = configure(hmm)
    member_bits = forward_bits(profile, seqs.codes, seqs.bounds)
    null_bits = forward_bits(profile, background, seqs.bounds)  # same lengths
    # background sequences score around zero (a few bits at most); members of a
    # 40-node family with sharpened emissions score tens of bits
    assert member_bits.mean() - null_bits.mean() > 20
    assert np.mean(member_bits > null_bits.max()) >= 0.95


def test_same_seed_same_sequences(model):
    a, pa = emit(model, 20, random_state=5, mode="local", flank_length=3)
    b, pb = emit(model, 20, random_state=5, mode="local", flank_length=3)
    assert a.codes.tolist() == b.codes.tolist() and pa.positions.tolist() == pb.positions.tolist()
    assert a.names[0] == "rand-sample1"


def test_dna_model_and_consensus():
    hmm = random_model(np.random.default_rng(17), 6, alphabet=DNA, sharpen=40.0)
    cons = consensus_sequence(hmm)
    assert len(cons) == 6 and set(cons) <= set("ACGT")
    assert cons == "".join("ACGT"[i] for i in hmm.match[1:].argmax(axis=1))
    seqs, _ = emit(hmm, 10, random_state=1)
    assert seqs.alphabet is DNA and int(seqs.codes.max()) < 4


def test_zero_sequences(model):
    seqs, paths = emit(model, 0, random_state=1)
    assert len(seqs) == 0 and seqs.bounds.tolist() == [0] and paths.kinds.size == 0


@pytest.mark.parametrize(
    "kwargs", [{"n": -1}, {"n": 2, "mode": "semiglobal"}, {"n": 2, "flank_length": -1}]
)
def test_bad_arguments(model, kwargs):
    n = kwargs.pop("n")
    with pytest.raises(ParameterError):
        emit(model, n, **kwargs)


@pytest.mark.parametrize("n", [2**62, 2**63 // 8])
def test_counts_too_large_to_allocate(model, n):
    """A count whose arrays NumPy cannot even size ("array is too big", a ValueError
    of its own) is a ParameterError saying so, raised before any work."""
    with pytest.raises(ParameterError, match="too large"):
        emit(model, n, random_state=1)


def test_plot_profile(tmp_path):
    pytest.importorskip("matplotlib", reason="plots need matplotlib")
    from seqem.io.hmmer import read_hmmer
    from seqem.plotting import plot_profile, save_figure

    (hmm,) = read_hmmer(Path(__file__).resolve().parents[2] / "data" / "example_family.hmm")
    ax = plot_profile(hmm)
    assert ax.get_xlabel() == "node"
    save_figure(ax.figure, str(tmp_path / "p.png"))
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
