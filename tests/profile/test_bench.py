"""The search benchmark of ../shared/data/profile/bench: seqem's rows beside HMMER's.

For each family a model is made from the training members only (built from
the curated alignment ``train.sto`` as hmmbuild does, or trained by
Baum-Welch from the unaligned ``train.fa``), written as a HMMER3 file and
searched against ``db.fa`` (4,368 sequences) with ``seqem profile search -Z
4368 --null2``, measured as the README measured HMMER: positives, fragments
and false positives at E <= 0.01 from the default pipeline (filters on, as
``hmmsearch -E 10 --domE 10``), scores above the best negative and ROC50
from ``--max`` scores.  Negatives are every other sequence less the real
proteins that the whole-family model flags (README section 2).  The figures
printed beside HMMER's come from ``bench/reference/summary.tsv`` (hmmbuild /
mafft / clustalo routes).
"""

from pathlib import Path

import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "profile"
BENCH = SHARED / "bench"
pytestmark = pytest.mark.skipif(
    not BENCH.is_dir(), reason="shared profile benchmark (../shared/data/profile/bench) not present"
)


@pytest.fixture(scope="module")
def database():
    from seqem.io.sequences import read_sequences
    from seqem.profile.model import AMINO

    db = read_sequences(BENCH / "db.fa", AMINO)
    truth = {}
    for line in (BENCH / "truth.tsv").read_text().splitlines()[1:]:
        f = line.split("\t")
        truth[f[0]] = (f[1], f[2])
    flagged = {}
    for line in (BENCH / "reference" / "flagged_real.tsv").read_text().splitlines()[1:]:
        fam, name = line.split("\t")[:2]
        flagged.setdefault(fam, set()).add(name)
    return db, truth, flagged


def reference_rows(family):
    rows = {}
    lines = (BENCH / "reference" / "summary.tsv").read_text().splitlines()
    header = lines[0].split("\t")
    for line in lines[1:]:
        r = dict(zip(header, line.split("\t"), strict=True))
        if r["family"] == family:
            rows[(r["model"], r["positives"])] = r
    return rows


def tblout_rows(path):
    """``{target: (E-value, bits)}`` of a ``--tblout`` table (full-sequence columns)."""
    rows = {}
    for line in Path(path).read_text().splitlines():
        if line and not line.startswith("#"):
            f = line.split()
            rows[f[0]] = (float(f[4]), float(f[5]))
    return rows


def search_table(model_file, out, *options):
    """``seqem profile search`` as a user runs it, ``-Z 4368 --null2`` (null2 on, as
    hmmsearch's default): its ``--tblout`` rows."""
    from seqem.cli.main import main

    args = ["profile", "search", str(model_file), str(BENCH / "db.fa"), "-Z", "4368",
            "--null2", "--tblout", str(out), "-o", str(out) + ".tsv", "-q", *options]  # fmt: skip
    assert main(args) == 0
    return tblout_rows(out)


def evaluate(hmm, family, database, tmp_path):
    """The README's figures, measured as HMMER's were (README section 2): positives,
    fragments and false positives at E <= 0.01 from the default pipeline (filters on,
    ``-E 10 --domE 10``); scores above the best negative and ROC50 from the ``--max``
    scores of every target."""
    from seqem.io.hmmer import write_hmmer
    from seqem.profile.calibrate import calibrate

    db, truth, flagged = database
    calibrate(hmm)
    model_file = tmp_path / f"{family}.hmm"
    write_hmmer(model_file, hmm)
    default = search_table(model_file, tmp_path / "default.tbl", "-E", "10", "--domE", "10")
    every = search_table(model_file, tmp_path / "max.tbl", "--max", "-E", "1e9")
    names = np.array(db.names)
    # a target without a domain is not reported (as in hmmsearch): lowest score
    bits = np.array([every.get(n, (np.inf, -np.inf))[1] for n in names])
    evalue = np.array([default.get(n, (np.inf, 0.0))[0] for n in names])
    kind = np.array([truth[n][0] for n in names])
    fam = np.array([truth[n][1] for n in names])
    pos = (kind == "positive") & (fam == family)
    frag = (kind == "fragment") & (fam == family)
    neg = ~(pos | frag) & ~np.isin(names, sorted(flagged.get(family, ())))
    top_neg = np.sort(bits[neg])[::-1][:50]
    out = {"fp": int(np.sum(evalue[neg] <= 0.01)), "best_neg": float(top_neg[0])}
    for label, mask in (("positive", pos), ("fragment", frag)):
        s = bits[mask]
        out[label] = {
            "n": int(mask.sum()),
            "tp": int(np.sum(evalue[mask] <= 0.01)),
            "above": int(np.sum(s > top_neg[0])),
            "roc50": float(np.mean([np.mean(s > t) for t in top_neg])),
        }
    return out


def report(family, label, res):
    rows = reference_rows(family)
    lines = [f"\n{family}: positives / fragments at E <= 0.01 (FP), above best negative, ROC50"]
    for model in ("hmmbuild", "mafft", "clustalo"):
        if (model, "positive") in rows:
            p, f = rows[(model, "positive")], rows[(model, "fragment")]
            lines.append(
                f"  HMMER {model:<9} {p['tp_E001']:>3}/{p['n_pos']} ({p['fp_E001']})  "
                f"{f['tp_E001']:>3}/{f['n_pos']} ({f['fp_E001']})  "
                f"above {p['tp_above_best_neg']:>3} / {f['tp_above_best_neg']:>3}  "
                f"ROC50 {float(f['roc50']):.3f}"
            )
    p, f = res["positive"], res["fragment"]
    lines.append(
        f"  seqem {label:<9} {p['tp']:>3}/{p['n']} ({res['fp']})  {f['tp']:>3}/{f['n']} "
        f"({res['fp']})  above {p['above']:>3} / {f['above']:>3}  ROC50 {f['roc50']:.3f}"
    )
    print("\n".join(lines))


# what hmmbuild reaches on the curated alignment (README section 2)
BUILD_TARGETS = {"fn3": (50, 14), "Pkinase": (14, 13)}


@pytest.mark.parametrize("family", sorted(BUILD_TARGETS))
def test_built_from_curated_alignment_matches_hmmbuild(family, database, tmp_path):
    from seqem.io.msa import read_msa
    from seqem.profile.build import build_from_msa

    hmm = build_from_msa(read_msa(BENCH / family / "train.sto"), name=family)
    res = evaluate(hmm, family, database, tmp_path)
    report(family, "build", res)
    pos, frag = BUILD_TARGETS[family]
    assert res["positive"]["tp"] >= pos and res["fragment"]["tp"] >= frag
    assert res["fp"] == 0


# Training from unaligned sequences: the goal is the hmmbuild row (fn3
# 50/50 and >= 14/50 fragments, ROC50 >= 0.75).  Reached for globin and
# Pkinase; fn3 stands at 50/50 and 12/50 (ROC50 0.752).  These floors guard
# what is reached against regressions (one fragment of slack).
TRAIN_FLOORS = {"globin": (20, 20, 0.95), "Pkinase": (14, 13, 0.9), "fn3": (50, 11, 0.72)}


@pytest.mark.parametrize("family", sorted(TRAIN_FLOORS))
def test_trained_from_unaligned_sequences(family, database, tmp_path):
    from seqem.io.sequences import read_sequences
    from seqem.profile.model import AMINO
    from seqem.profile.train import train

    seqs = read_sequences(BENCH / family / "train.fa", AMINO)
    result = train(seqs.codes, seqs.bounds, AMINO, n_init=4, random_state=1, name=family)
    res = evaluate(result.hmm, family, database, tmp_path)
    report(family, "train", res)
    pos, frag, roc = TRAIN_FLOORS[family]
    assert res["positive"]["tp"] >= pos
    assert res["fragment"]["tp"] >= frag
    assert res["fragment"]["roc50"] >= roc
    assert res["fp"] == 0
    assert not result.fit.decreases
