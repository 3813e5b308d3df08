"""``seqem demo``: run the HMM commands on the bundled example data.

The examples are simulated with known truth (see ``data/README.md`` in the
source tree), so the demo can say how much of it the fits recover.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import itertools
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ._common import COMMANDS, add_run_options, examples, nonnegative_int, write_chunks, write_text

if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path

    import numpy as np

    from ._common import RunContext

FASTA = "example.fa.gz"
FASTA_TRUTH = "example_truth.bed"
SIGNAL = "example_signal.tsv"
SIGNAL_TRUTH = "example_signal_truth.tsv"
#: States of the simulations behind the examples.
FAMILY_STO = "example_family.sto"
FAMILY_DB = "example_db.fa"
COHORT = "example_cohort.vcf.gz"
COHORT_TRUTH = "example_cohort_truth.tsv"
BULK, SIGNATURE, BULK_TRUTH = "example_bulk.tsv", "example_signature.tsv", "example_bulk_truth.tsv"
COHORT_REGION = "1:1-60000"
COHORT_HAP_REGION = "1:1-20000"

N_DNA_STATES = 3
N_SIGNAL_STATES = 3

DESCRIPTION = """\
Run seqem on the bundled examples and write the outputs to OUTDIR: 'seqem hmm
segment' on DNA, 'seqem hmm fit' + 'decode' on a numeric table, 'seqem profile
build' + 'search' on a protein family, 'seqem haplo freq' and 'ld' on a cohort
VCF, 'seqem deconv run' on bulk expression, 'seqem linkage lod' and 'npl' on
pedigrees; each result is compared with the simulated truth."""


def register(commands: Any) -> None:
    """Add the ``demo`` command."""
    p = commands.add_parser(
        "demo",
        help=COMMANDS["demo"],
        description=DESCRIPTION,
        epilog=examples("seqem demo", "seqem demo -o my_demo --report my_demo/run.json"),
    )
    p.add_argument(
        "-o",
        "--output",
        default="seqem_demo",
        metavar="OUTDIR",
        help="folder for the outputs, created if needed (default: %(default)s)",
    )
    p.add_argument(
        "--seed",
        type=nonnegative_int,
        default=1,
        metavar="S",
        help="seed of the random starting points (default: %(default)s)",
    )
    add_run_options(p)
    p.set_defaults(_run=_cmd_demo, _stage_outputs=False)


@contextlib.contextmanager
def example_data() -> Iterator[Path]:
    """The folder of bundled example files (a real path while the context lasts)."""
    from importlib import resources
    from pathlib import Path

    with resources.as_file(resources.files("seqem") / "data") as path:
        yield Path(path)


def truth_per_base(bed_path: Path, names: tuple[str, ...], bounds: np.ndarray) -> np.ndarray:
    """True state of every base (int64, concatenated in ``names`` order; -1 if unlabelled)."""
    import numpy as np

    from ..io.bed import read_bed

    index = {name: i for i, name in enumerate(names)}
    truth = np.full(int(bounds[-1]), -1, dtype=np.int64)
    for r in read_bed(bed_path):
        i = index.get(r.chrom)
        if i is None:
            continue
        lo = int(bounds[i])
        truth[lo + r.start : lo + r.end] = int(r.name.removeprefix("state"))
    return truth


def best_matching_agreement(found: np.ndarray, truth: np.ndarray, n: int) -> float:
    """Fraction of equal labels under the best one-to-one relabelling of ``found``."""
    import numpy as np

    table = np.zeros((n, max(n, int(truth.max()) + 1)), dtype=np.int64)
    np.add.at(table, (found, truth), 1)
    best = max(
        sum(table[i, perm[i]] for i in range(n))
        for perm in itertools.permutations(range(table.shape[1]), n)
    )
    return float(best) / found.size


def _read_signal_truth(path: Path) -> np.ndarray:
    import numpy as np

    from ..io.table import read_table

    obs = read_table(path, columns=["state"])
    return obs.X[:, 0].astype(np.int64)


def _cmd_demo(args: argparse.Namespace, ctx: RunContext) -> int:
    import numpy as np

    from ..io.bed import write_bed
    from ..io.table import write_tsv
    from .hmm import (
        decode_rows,
        decode_table,
        fit_table,
        model_document,
        plot_segmentation_file,
        segment_fasta,
    )

    outdir = args.output
    os.makedirs(outdir, exist_ok=True)
    out = {
        "segments": os.path.join(outdir, "segments.bed"),
        "params": os.path.join(outdir, "segments_params.json"),
        "model": os.path.join(outdir, "signal_model.json"),
        "states": os.path.join(outdir, "signal_states.tsv"),
    }
    with example_data() as data:
        seg = segment_fasta(
            str(data / FASTA),
            n_states=N_DNA_STATES,
            seed=args.seed,
            threads=args.threads,
            callback=ctx.progress("segment", 3),
        )
        ctx.finish_progress()
        write_bed(out["segments"], seg.records)
        gc = [round(float(g), 6) for g in seg.state_gc]
        write_text(out["params"], model_document(seg.model, alphabet="ACGT", state_gc=gc))
        plot_path = os.path.join(outdir, "segments.png")
        if importlib.util.find_spec("matplotlib") is not None:
            plot_segmentation_file(seg, plot_path)
            out["plot"] = plot_path
        truth = truth_per_base(data / FASTA_TRUTH, seg.seqs.names, seg.seqs.bounds)
        labelled = truth >= 0
        dna_agree = float(np.mean(seg.states[labelled] == truth[labelled]))
        observed = seg.seqs.codes >= 0
        true_gc = [
            float(np.mean(np.isin(seg.seqs.codes[observed & (truth == k)], (1, 2))))
            for k in range(N_DNA_STATES)
        ]

        fitted = fit_table(
            str(data / SIGNAL),
            n_states=N_SIGNAL_STATES,
            seq_col="seq_id",
            seed=args.seed,
            threads=args.threads,
            callback=ctx.progress("fit", 3),
        )
        ctx.finish_progress()
        write_text(
            out["model"],
            model_document(
                fitted.model, data={"columns": list(fitted.obs.columns), "seq_col": "seq_id"}
            ),
        )
        decoded = decode_table(
            out["model"], str(data / SIGNAL), posteriors=True, threads=args.threads
        )
        header, rows = decode_rows(decoded)
        write_tsv(out["states"], header, rows)
        signal_truth = _read_signal_truth(data / SIGNAL_TRUTH)
        signal_agree = best_matching_agreement(decoded.states, signal_truth, N_SIGNAL_STATES)

        from ..io.hmmer import write_hmmer
        from ..profile.pipeline import Filters
        from .profile import build_model, hits_table, search_models

        out["profile"] = os.path.join(outdir, "example_family.hmm")
        out["hits"] = os.path.join(outdir, "example_hits.tsv")
        family, nseq, alen = build_model(str(data / FAMILY_STO), name="example_family")
        write_hmmer(out["profile"], [family])
        hits, n_db = search_models(
            [family], str(data / FAMILY_DB), threads=args.threads, filters=Filters()
        )
        write_text(out["hits"], hits_table(hits))
        significant = [h for h in hits if h.evalue <= 0.01]
        members = sum(h.target_name.startswith("member") for h in significant)
        decoys = len(significant) - members
        with open(data / FAMILY_DB) as fh:
            n_members = sum(line.startswith(">member") for line in fh)
        cohort_lines = _demo_ld(data, outdir, out, args.threads)
        deconv_lines, deconv_rmse = _demo_deconv(data, outdir, out)
        linkage_lines, linkage_peak = _demo_linkage(data, outdir, out, args.threads)
        data_dir = str(data)
    fasta, signal = os.path.join(data_dir, FASTA), os.path.join(data_dir, SIGNAL)

    ctx.outputs.extend(out.values())
    ctx.fit_results["segment"] = seg.model.fit_result_.to_dict()
    ctx.fit_results["fit"] = fitted.model.fit_result_.to_dict()
    ctx.results.update(
        dna_fraction_in_true_state=dna_agree,
        dna_state_gc=gc,
        dna_true_state_gc=true_gc,
        signal_fraction_in_true_state=signal_agree,
        profile_members_found=members,
        profile_decoys_found=decoys,
        deconvolution_rmse=deconv_rmse,
        linkage_peak=linkage_peak,
    )
    seqs = seg.seqs
    lines = [
        f"seqem demo: example data from {data_dir}",
        "",
        f"1. DNA segmentation: {N_DNA_STATES}-state categorical HMM on {FASTA} "
        f"({seqs.codes.size:,} bases in {seqs.n_sequences} records)",
        f"   segments:   {out['segments']} ({len(seg.records)} segments)",
        f"   parameters: {out['params']}",
        f"   plot:       {out['plot']}"
        if "plot" in out
        else "   plot:       (pip install matplotlib to draw segments.png)",
        "   GC content by state, fitted vs in the simulated segments: "
        + ", ".join(
            f"state{k} {g:.3f} vs {t:.3f}" for k, (g, t) in enumerate(zip(gc, true_gc, strict=True))
        ),
        f"   bases whose Viterbi state is the simulated state: {100 * dna_agree:.1f}%",
        "",
        f"2. Gaussian HMM: {N_SIGNAL_STATES} states fitted to {SIGNAL} "
        f"({fitted.obs.n_rows:,} rows in {fitted.obs.lengths.size} sequences)",
        f"   model:  {out['model']}",
        f"   states: {out['states']} (with posteriors)",
        f"   rows whose Viterbi state is the simulated state: {100 * signal_agree:.1f}% "
        "(fitted labels matched to the simulated ones)",
        "",
        f"3. Profile HMM: built from {FAMILY_STO} ({nseq} sequences, {alen} columns, "
        f"{family.M} match states), searched against {FAMILY_DB} ({n_db} sequences)",
        f"   model: {out['profile']} (HMMER3/f, calibrated)",
        f"   hits:  {out['hits']}",
        f"   at E <= 0.01: {members} of {n_members} family members, {decoys} decoys",
        "",
        *cohort_lines,
        "",
        *deconv_lines,
        "",
        *linkage_lines,
        "",
        "The same with the commands:",
        f"   seqem hmm segment {fasta} -n {N_DNA_STATES} -o {out['segments']}"
        + (f" --plot {out['plot']}" if "plot" in out else ""),
        f"   seqem hmm fit {signal} -n {N_SIGNAL_STATES} --seq-col seq_id -o {out['model']}",
        f"   seqem hmm decode {out['model']} {signal} --posteriors -o {out['states']}",
        f"   seqem profile build {os.path.join(data_dir, FAMILY_STO)} -o {out['profile']}",
        f"   seqem profile search {out['profile']} {os.path.join(data_dir, FAMILY_DB)} "
        f"-o {out['hits']}",
        f"   seqem deconv run {os.path.join(data_dir, BULK)} --reference "
        f"{os.path.join(data_dir, SIGNATURE)} -o {out['proportions']}",
        f"   seqem haplo freq {os.path.join(data_dir, COHORT)} --region {COHORT_HAP_REGION} "
        f"-o {out['haps']}",
        f"   seqem haplo ld {os.path.join(data_dir, COHORT)} --region {COHORT_REGION} "
        f"-o {out['ld']}" + (f" --plot {out['ld_plot']}" if "ld_plot" in out else ""),
        "   seqem linkage lod " + _pedigree_args(data_dir) + f" --model "
        f"{os.path.join(data_dir, PEDIGREE + '.model')} --step 2 -o {out['lod']}",
        "   seqem linkage npl " + _pedigree_args(data_dir) + f" --step 2 -o {out['npl']}",
    ]
    if not ctx.quiet:
        print("\n".join(lines))
    return 0


PEDIGREE = "example_pedigree"
PEDIGREE_GENE = ("1", 42.0)


def _pedigree_args(data_dir: str) -> str:
    return " ".join(
        f"--{ext} {os.path.join(data_dir, PEDIGREE + '.' + ext)}"
        for ext in ("ped", "dat", "map", "freq")
    )


def _demo_linkage(
    data: Path, outdir: str, out: dict[str, str], threads: int
) -> tuple[list[str], dict[str, float]]:
    """Part 6: parametric and nonparametric linkage of simulated pedigrees."""
    import numpy as np

    from ..io.pedigree import read_merlin
    from ..linkage.lander_green import multipoint
    from ..linkage.npl import npl

    files = [str(data / f"{PEDIGREE}.{e}") for e in ("ped", "dat", "map", "freq", "model")]
    d = read_merlin(*files)
    chrom, gene = PEDIGREE_GENE
    idx = [i for i, m in enumerate(d.markers) if m.chrom == chrom]
    cm = np.array([d.markers[i].cm for i in idx])
    positions = np.arange(cm.min(), cm.max() + 1e-9, 2.0)
    mp = multipoint(d, positions, markers=idx, n_threads=threads)
    hlod, alpha = mp.hlod()
    res = npl(d, positions, markers=idx, n_threads=threads)
    out["lod"] = os.path.join(outdir, "pedigree_lod.tsv")
    out["npl"] = os.path.join(outdir, "pedigree_npl.tsv")
    write_text(out["lod"], "chrom\tcm\tlod\thlod\talpha\n" + "".join(
        f"{chrom}\t{x:g}\t{v:.6f}\t{h:.6f}\t{a:.6f}\n"
        for x, v, h, a in zip(positions, mp.total, hlod, alpha, strict=True)))  # fmt: skip
    write_text(out["npl"], "chrom\tcm\tnpl\tp\tkc_lod\n" + "".join(
        f"{chrom}\t{x:g}\t{z:.6f}\t{p:.4g}\t{k:.6f}\n"
        for x, z, p, k in zip(positions, res.z, res.p, res.kc_lod, strict=True)))  # fmt: skip
    best = int(np.argmax(mp.total))
    best_npl = int(np.argmax(res.z))
    peak = {"lod": float(mp.total[best]), "lod_cm": float(positions[best]),
            "npl": float(res.z[best_npl]), "npl_cm": float(positions[best_npl])}  # fmt: skip
    return [
        f"6. Linkage: {len(d.families)} simulated pedigrees of {PEDIGREE}.ped, "
        f"{len(idx)} markers on chromosome {chrom}; the disease gene is at {gene:g} cM",
        f"   multipoint LOD: {out['lod']}; maximum {peak['lod']:.2f} at {peak['lod_cm']:g} cM "
        f"(HLOD {hlod[best]:.2f}, alpha {alpha[best]:.2f})",
        f"   NPL (S_all):    {out['npl']}; maximum {peak['npl']:.2f} at {peak['npl_cm']:g} cM "
        f"(p {res.p[best_npl]:.2g})",
    ], peak


def _demo_deconv(data: Path, outdir: str, out: dict[str, str]) -> tuple[list[str], float]:
    """Part 5: cell-type proportions of simulated bulk samples, against the truth."""
    import numpy as np

    from ..deconv.mixture import multinomial_em
    from ..io.matrix import read_matrix

    bulk = read_matrix(str(data / BULK))
    sig = read_matrix(str(data / SIGNATURE))
    truth = read_matrix(str(data / BULK_TRUTH))
    fit = multinomial_em(bulk.values, sig.values)
    out["proportions"] = os.path.join(outdir, "bulk_proportions.tsv")
    lines = ["sample\t" + "\t".join(sig.columns)]
    for name, row in zip(bulk.columns, fit.proportions, strict=True):
        lines.append(name + "\t" + "\t".join(f"{x:.6f}" for x in row))
    write_text(out["proportions"], "\n".join(lines) + "\n")
    err = fit.proportions - truth.values
    rmse = float(np.sqrt((err**2).mean()))
    r = float(np.corrcoef(fit.proportions.ravel(), truth.values.ravel())[0, 1])
    return [
        f"5. Deconvolution: {len(bulk.columns)} bulk samples of {BULK} ({len(bulk.rows)} genes) "
        f"into the {len(sig.columns)} cell types of {SIGNATURE}",
        f"   proportions: {out['proportions']}",
        f"   against the simulated proportions: r {r:.3f}, RMSE {rmse:.4f}",
    ], rmse


def _demo_haplotypes(
    data: Path, outdir: str, out: dict[str, str], threads: int, haps: Any, full: Any
) -> list[str]:
    """Part 4a: haplotype frequencies and phase of a window, against the true haplotypes."""
    import numpy as np

    from .._jit import threads as numba_threads
    from ..haplo.em import _strings, fit_haplotypes, phase
    from ..io.vcf import read_genotypes
    from .haplo import haplotype_table

    g = read_genotypes(data / COHORT, region=COHORT_HAP_REGION)
    with numba_threads(threads):
        fit = fit_haplotypes(g.calls, random_state=1, n_threads=threads)
    out["haps"] = os.path.join(outdir, "cohort_haplotypes.tsv")
    write_text(out["haps"], haplotype_table(fit))
    cols = np.searchsorted(full.positions, g.positions)
    true = ["".join(str(int(x)) for x in row) for row in haps[:, cols]]
    counts: dict[str, int] = {}
    for h in true:
        counts[h] = counts.get(h, 0) + 1
    est = fit.as_dict()
    tvd = 0.5 * sum(abs(est.get(h, 0.0) - counts.get(h, 0) / len(true)) for h in {*est, *counts})
    h1, h2, _ = phase(fit)
    right = ambiguous = 0
    for i in range(g.n_people):
        if (g.calls[i] == 1).sum() >= 2 and h1[i] >= 0:
            ambiguous += 1
            pair = sorted(_strings(np.array([h1[i], h2[i]]), g.n_snps))
            right += pair == sorted(true[2 * i : 2 * i + 2])
    return [
        f"4. Haplotypes: {g.n_snps} SNPs x {g.n_people} people of {COHORT} "
        f"({COHORT_HAP_REGION}), {len(fit.haplotypes)} haplotypes ({fit.method} EM)",
        f"   frequencies: {out['haps']}",
        f"   against the simulated haplotypes: total variation distance {tvd:.3f}; "
        f"best pair right for {100 * right / max(ambiguous, 1):.1f}% of the {ambiguous} people "
        "with >= 2 heterozygous SNPs",
    ]


def _demo_ld(data: Path, outdir: str, out: dict[str, str], threads: int) -> list[str]:
    """Part 4: haplotypes and pairwise LD of the example cohort, against its true haplotypes."""
    import numpy as np

    from ..haplo.ld import pairwise_ld
    from ..io.vcf import read_genotypes
    from .haplo import ld_table

    g = read_genotypes(data / COHORT, region=COHORT_REGION)
    from .._jit import threads as numba_threads

    with numba_threads(threads):
        table = pairwise_ld(g.calls)
    out["ld"] = os.path.join(outdir, "cohort_ld.tsv")
    write_chunks(out["ld"], ld_table(g, table, n_threads=threads))
    if importlib.util.find_spec("matplotlib") is not None:
        from ..plotting import plot_ld, save_figure

        out["ld_plot"] = os.path.join(outdir, "cohort_ld.png")
        ax = plot_ld(table.a, table.b, table.r2, list(g.ids))
        save_figure(ax.figure, out["ld_plot"])
    # r2 counted from the true haplotypes of the simulation
    rows = [line.split("\t") for line in (data / COHORT_TRUTH).read_text().splitlines()[1:]]
    haps = np.array([[int(c) for c in r[k].strip()] for r in rows for k in (1, 2)], dtype=float)
    full = read_genotypes(data / COHORT)  # the region's SNPs among all of them
    cols = np.searchsorted(full.positions, g.positions)
    h = haps[:, cols]
    with np.errstate(invalid="ignore", divide="ignore"):
        true_r2 = np.corrcoef(h, rowvar=False) ** 2
    ok = np.isfinite(table.r2) & np.isfinite(true_r2[table.a, table.b])
    diff = np.abs(table.r2[ok] - true_r2[table.a, table.b][ok])
    hap_lines = _demo_haplotypes(data, outdir, out, threads, haps, full)
    return [
        *hap_lines,
        f"   Linkage disequilibrium: {g.n_snps} SNPs x {g.n_people} people of {COHORT} "
        f"({COHORT_REGION}), {len(table)} pairs",
        f"   table: {out['ld']}" + (f"\n   plot:  {out['ld_plot']}" if "ld_plot" in out else ""),
        f"   r2 against the simulated (phased) haplotypes: mean |difference| {diff.mean():.4f}, "
        f"largest {diff.max():.3f}",
    ]
