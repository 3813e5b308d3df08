"""Profile-HMM logos: letter heights and indel values against HMMER's hmmlogo (apt
hmmer), the heights against their definitions, and the drawing against the heights."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from seqem.io.hmmer import read_hmmer
from seqem.profile.logo import HEIGHTS, indel_values, logo_heights

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "data" / "example_family.hmm"
TUTORIAL = REPO.parent / "shared" / "data" / "profile" / "tutorial" / "models"
MODELS = [EXAMPLE, TUTORIAL / "globins4.hmm", TUTORIAL / "MADE1.hmm"]


def hmmlogo(path: Path, rule: str) -> tuple[np.ndarray, np.ndarray]:
    """hmmlogo's residue heights (with the stack total, for the relative-entropy rules)
    and indel values."""
    out = subprocess.run(["hmmlogo", f"--height_{rule}", str(path)], check=True,
                         capture_output=True, text=True).stdout  # fmt: skip
    rows: dict[str, list] = {"Residue heights": [], "Indel values": []}
    section = None
    for line in out.splitlines():
        if line in rows:
            section = line
        elif section and ":" in line:
            rows[section].append([float(x) for x in line.split(":", 1)[1].strip(" ()").replace(
                "(", "").replace(")", "").split()])  # fmt: skip
    return np.array(rows["Residue heights"]), np.array(rows["Indel values"])


@pytest.mark.skipif(shutil.which("hmmlogo") is None, reason="hmmlogo (apt hmmer) not installed")
@pytest.mark.parametrize("rule", HEIGHTS)
@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_equal_to_hmmlogo(path, rule):
    if not path.exists():
        pytest.skip(f"{path} not here (the shared profile data)")
    hmm = read_hmmer(str(path))[0]
    theirs, indels = hmmlogo(path, rule)
    ours = logo_heights(hmm, rule)
    K = hmm.alphabet.K
    assert theirs.shape[0] == hmm.M
    # hmmlogo prints three decimals; a residue of probability 0 scores -inf ("-inf" there)
    both = np.isfinite(theirs[:, :K])
    assert np.array_equal(both, np.isfinite(ours))
    assert np.max(np.abs(theirs[:, :K][both] - ours[both])) <= 5e-4 + 1e-9
    if rule != "score":  # the stack's total, printed in brackets
        assert np.max(np.abs(theirs[:, K] - ours.sum(axis=1))) <= 5e-4 + 1e-9
    assert np.max(np.abs(indels - indel_values(hmm))) <= 5e-4 + 1e-9


def test_the_command_offers_the_library_rules():
    from seqem.cli.profile import HEIGHT_RULES

    assert HEIGHT_RULES == HEIGHTS


def test_heights_by_definition():
    """relent_all stacks sum to the relative entropy, each residue's share its probability;
    relent_abovebg uses only the residues above background; score is log2(p / f)."""
    hmm = read_hmmer(str(EXAMPLE))[0]
    p, f = hmm.match[1:], np.asarray(hmm.alphabet.background)
    relent = (p * np.log2(p / f)).sum(axis=1)
    allh = logo_heights(hmm, "relent_all")
    assert np.allclose(allh.sum(axis=1), relent) and np.allclose(allh / relent[:, None], p)
    above = logo_heights(hmm, "relent_abovebg")
    assert np.all(above[p <= f] == 0.0) and np.allclose(above.sum(axis=1), relent)
    k = 7
    sel = p[k] > f
    assert np.allclose(above[k, sel] / above[k, sel].sum(), p[k, sel] / p[k, sel].sum())
    assert np.allclose(logo_heights(hmm, "score"), np.log2(p / f))
    t = hmm.transitions
    ind = indel_values(hmm)
    assert np.allclose(ind[:-1, 0], t[1:-1, 1]) and np.allclose(ind[:-1, 1], 1 / (1 - t[1:-1, 4]))
    assert np.all(ind[-1, :2] == 0.0) and np.all((ind[:, 2] > 0) & (ind[:, 2] <= 1))


@pytest.mark.parametrize("rule", HEIGHTS)
def test_letters_drawn_are_the_heights(rule):
    pytest.importorskip("matplotlib")
    from matplotlib.patches import PathPatch

    from seqem.plotting import plot_logo

    hmm = read_hmmer(str(EXAMPLE))[0]
    ax = plot_logo(hmm, rule=rule, start=5, end=12)
    boxes = [p.get_path().get_extents() for p in ax.patches if isinstance(p, PathPatch)]
    heights = logo_heights(hmm, rule)[4:12]
    drawn = heights[np.isfinite(heights) & (np.abs(heights) > 1e-3)]
    assert len(boxes) == drawn.size
    got = sorted(round(b.height, 9) for b in boxes)
    assert np.allclose(got, sorted(np.abs(drawn)), atol=1e-9)
    for node in range(5, 13):  # each node's stack spans its positive (negative) total
        mine = [b for b in boxes if abs((b.x0 + b.x1) / 2 - node) < 0.01]
        row = heights[node - 5]
        row = row[np.isfinite(row) & (np.abs(row) > 1e-3)]
        assert np.isclose(max([b.y1 for b in mine] + [0.0]), row[row > 0].sum())
        assert np.isclose(min([b.y0 for b in mine] + [0.0]), row[row < 0].sum())
        assert all(np.isclose(b.x1 - b.x0, 0.9) for b in mine)
