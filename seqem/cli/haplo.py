"""``seqem haplo``: haplotype analyses of genotype files (VCF/BCF).

``freq``: haplotype frequencies of the SNPs in a region (exact EM), with
standard errors, the log-likelihood and a test of linkage equilibrium.
``phase``: each sample's most probable haplotype pair under those
frequencies.  ``ld``: pairwise linkage disequilibrium (D, D', r2) of the
SNPs in a region, all pairs or one SNP against the others, as a TSV and
optionally a heat map.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ..errors import SeqemError
from ._common import (
    COMMANDS,
    DEFAULT_SEED,
    add_run_options,
    check_output_path,
    examples,
    nonnegative_float,
    nonnegative_int,
    positive_int,
    probability,
    write_chunks,
    write_text,
)

if TYPE_CHECKING:  # pragma: no cover
    from ..haplo.em import HaploFit
    from ..haplo.ld import LDTable
    from ..io.vcf import Genotypes
    from ._common import RunContext

LD_COLUMNS = ("snp_a", "snp_b", "pos_a", "pos_b", "n", "d", "dprime", "r2")

#: Most haplotype clusters ``--clusters`` takes (as :data:`seqem.haplo.cluster.MAX_CLUSTERS`;
#: the fit's time and memory grow as the square of the number).
MAX_CLUSTERS = 200


def cluster_count(text: str) -> int:
    """argparse type of ``--clusters``: an integer from 1 to :data:`MAX_CLUSTERS`."""
    value = positive_int(text)
    if value > MAX_CLUSTERS:
        raise argparse.ArgumentTypeError(
            f"must be an integer between 1 and {MAX_CLUSTERS}, got {text!r} (the cluster "
            "model's time and memory grow as the square of the number of clusters)"
        )
    return value


def fraction(text: str) -> float:
    """argparse type of the thresholds on frequencies and r2: a number from 0 to 1."""
    try:
        return probability(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"must be a number between 0 and 1, got {text!r}"
        ) from None


def register(commands: Any) -> None:
    """Add the ``haplo`` group and its verbs to the top-level subparsers."""
    group = commands.add_parser(
        "haplo",
        help=COMMANDS["haplo"],
        description="Haplotype analyses of unphased genotypes in VCF/BCF files.",
        epilog=examples(
            "seqem haplo freq data/example_cohort.vcf.gz --region 1:1-20000 -o haps.tsv",
            "seqem haplo phase data/example_cohort.vcf.gz --region 1:1-20000 -o phase.tsv",
            "seqem haplo ld data/example_cohort.vcf.gz --region 1:1-200000 -o ld.tsv",
        ),
    )
    verbs = group.add_subparsers(dest="verb", metavar="VERB", title="verbs")
    _add_freq(verbs)
    _add_phase(verbs)
    _add_ld(verbs)
    group.set_defaults(_parser=group)


def add_genotype_options(p: argparse.ArgumentParser) -> None:
    """The input options every ``haplo`` verb shares."""
    p.add_argument("vcf", metavar="VCF", help="VCF or BCF (plain, gzip or bgzip; indexed or not)")
    p.add_argument(
        "--region",
        metavar="CHR:START-END",
        help="region to read (1-based, inclusive); default: the whole file",
    )
    p.add_argument("--samples", metavar="FILE", help="read only these samples (one per line)")
    p.add_argument(
        "--exclude-samples", metavar="FILE", help="leave out these samples (one per line)"
    )
    p.add_argument(
        "--pass-only", action="store_true", help="keep only records whose FILTER is PASS"
    )


def _names(path: str | None) -> list[str] | None:
    """The sample names of a file with one per line (blank lines skipped), each once."""
    from ..errors import InputFormatError

    if path is None:
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError as exc:
        raise InputFormatError(exc.strerror or "cannot be read", path=path) from None
    except UnicodeDecodeError:
        raise InputFormatError("not a text file of sample names", path=path) from None
    names: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        words = line.split()
        if not words:
            continue
        if len(words) > 1:
            raise InputFormatError(
                f"expected one sample name per line, got {line.strip()!r}", path=path, line=number
            )
        if words[0] in names:
            raise InputFormatError(
                f"sample {words[0]!r} is listed twice (also on line {names[words[0]]})",
                path=path,
                line=number,
            )
        names[words[0]] = number
    if not names:
        raise InputFormatError("no sample names", path=path)
    return list(names)


def load_genotypes(args: argparse.Namespace, ctx: RunContext) -> Genotypes:
    """Read the genotypes the options ask for and log what was left out."""
    from ..io.pileup import read_bam_list
    from ..io.vcf import read_genotypes

    g = read_genotypes(
        args.vcf,
        region=args.region,
        samples=_names(args.samples),
        exclude_samples=_names(args.exclude_samples),
        pass_only=args.pass_only,
        likelihoods=getattr(args, "likelihoods", None),
        bams=read_bam_list(args.bam_list) if getattr(args, "bam_list", None) else None,
        min_base_quality=getattr(args, "min_bq", 20),
        min_mapping_quality=getattr(args, "min_mapq", 20),
    )
    skipped = ", ".join(f"{n} {why}" for why, n in sorted(g.skipped.items()))
    ctx.info(
        f"{args.vcf}: {g.n_snps} biallelic SNPs x {g.n_people} samples"
        + (f" (skipped: {skipped})" if skipped else "")
    )
    missing = (g.calls < 0).all(axis=0)
    if missing.any():
        ctx.info(f"{int(missing.sum())} SNP(s) have no call at all (their pairs are NA)")
    ctx.results.update(n_snps=g.n_snps, n_samples=g.n_people, skipped=g.skipped)
    return g


# ---------------------------------------------------------------------------
# freq and phase

#: Above this many SNPs ``--method auto`` uses the haplotype-cluster model.
AUTO_CLUSTER_SNPS = 50


@dataclasses.dataclass
class WindowHaplotypes:
    """What ``freq`` and ``phase`` write, from any of the methods."""

    method: str
    haplotypes: tuple[str, ...]
    frequencies: Any
    se: Any
    n_people: int
    hap1: list[str | None]
    hap2: list[str | None]
    probability: Any


FREQ_DESCRIPTION = """\
Haplotype frequencies of the biallelic SNPs of a region from unphased
genotypes by EM (Excoffier & Slatkin), missing calls summed over, from
several starts to a stationary point of the likelihood.

--method auto (the default): ligation up to 50 SNPs, cluster above.
--method ligation: partition-ligation (Niu et al. 2002).  Windows of up to
8 SNPs are estimated over every phase configuration; a longer window is
split in halves, each estimated recursively, haplotypes below 0.1% dropped
from each, and the whole window estimated over the haplotypes joined from
the halves'.  It trims rare haplotypes that only ambiguous people support
and reaches windows of 40-60 SNPs.
--method exact: every phase configuration of the whole window (the
maximum-likelihood estimate over all haplotypes; up to about 20-25 SNPs, as
the configurations grow as 2^(heterozygous sites) per person).
--method cluster: a haplotype-cluster hidden Markov model along the SNPs
(fastPHASE model, refined by a copying model); everyone is phased and the
window's haplotypes counted (se: counting error only).  For 50 to
thousands of SNPs; --flank adds neighbouring SNPs to the fit.

Output: a TSV with columns haplotype (one character per SNP in position
order, 0 = REF, 1 = ALT), frequency, se (from the empirical information;
NA beyond the 400 most frequent haplotypes) and copies (expected number in
the sample), most frequent first.  The SNPs, the log-likelihood (loglik),
the method and a likelihood-ratio test of linkage equilibrium go to the
--report JSON."""

PHASE_DESCRIPTION = """\
Each sample's most probable pair of haplotypes over the SNPs of a region,
under the haplotype frequencies 'seqem haplo freq' estimates (same options).

Output: a TSV with columns sample, hap1, hap2 (one character per SNP in
position order, 0 = REF, 1 = ALT; hap1 <= hap2 as binary strings read from
the first SNP), probability (posterior probability of that unordered pair),
n_het (heterozygous calls) and n_missing; NA for a sample without any call."""


def _add_regions_file(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--regions-file",
        metavar="BED",
        help="one window per BED line, each read and estimated on its own (index the VCF "
        "so that only the window is read); the output gains a first column 'window'",
    )


def _add_estimation_options(p: argparse.ArgumentParser) -> None:
    group = p.add_argument_group("estimation")
    group.add_argument(
        "--likelihoods",
        choices=("PL", "GL"),
        help="use the genotype likelihoods of this FORMAT field instead of the GT calls "
        "(low-coverage data; GT then optional)",
    )
    group.add_argument(
        "--bam-list",
        metavar="FILE",
        help="'sample path' per line: genotype likelihoods from these BAM/CRAM files' reads "
        "at the VCF's SNPs (the VCF then only gives the sites)",
    )
    group.add_argument(
        "--min-bq",
        type=nonnegative_int,
        default=20,
        metavar="Q",
        help="with --bam-list: least base quality (default: %(default)s)",
    )
    group.add_argument(
        "--min-mapq",
        type=nonnegative_int,
        default=20,
        metavar="Q",
        help="with --bam-list: least mapping quality (default: %(default)s)",
    )
    group.add_argument(
        "--method",
        choices=("auto", "ligation", "exact", "cluster"),
        default="auto",
        help="partition-ligation EM, exact EM over every phase configuration, or the "
        f"haplotype-cluster HMM; auto: ligation up to {AUTO_CLUSTER_SNPS} SNPs, the cluster "
        "model above (default: %(default)s)",
    )
    group.add_argument(
        "--flank",
        type=nonnegative_int,
        default=0,
        metavar="BP",
        help="cluster model: also fit and phase the SNPs within BP bases of the region, "
        "then count haplotypes in the region (default: %(default)s)",
    )
    group.add_argument(
        "--clusters",
        type=cluster_count,
        default=12,
        metavar="K",
        help=f"cluster model: number of haplotype clusters, at most {MAX_CLUSTERS} "
        "(default: %(default)s)",
    )
    group.add_argument(
        "--min-count",
        type=nonnegative_float,
        default=0.0,
        metavar="X",
        help="also remove haplotypes with fewer expected copies where each costs at most "
        "X log-likelihood units (default: %(default)s, off)",
    )
    group.add_argument(
        "--n-init",
        type=positive_int,
        default=None,
        metavar="N",
        help="EM starts, the first uniform, the others random (default: 5; 20 with --method exact)",
    )
    group.add_argument(
        "--seed",
        type=nonnegative_int,
        default=DEFAULT_SEED,
        metavar="S",
        help="seed of the random starts (default: %(default)s)",
    )
    group.add_argument(
        "--tol",
        type=nonnegative_float,
        default=1e-9,
        metavar="X",
        help="stop when the log-likelihood rises by less than this (default: %(default)s)",
    )


def _add_freq(verbs: Any) -> None:
    p = verbs.add_parser(
        "freq",
        help="haplotype frequencies of the SNPs in a region (exact EM)",
        description=FREQ_DESCRIPTION,
        epilog=examples(
            "seqem haplo freq data/example_cohort.vcf.gz --region 1:1-20000 -o haps.tsv",
            "seqem haplo freq data/example_cohort.vcf.gz --region 1:1-40000 --report run.json",
            "seqem haplo freq data/example_cohort.vcf.gz --region 1:1-12000 --method exact",
        ),
    )
    add_genotype_options(p)
    _add_regions_file(p)
    p.add_argument("-o", "--output", default="-", metavar="HAPS.tsv", help="TSV (default: stdout)")
    p.add_argument(
        "--min-freq",
        type=fraction,
        default=0.0,
        metavar="F",
        help="write only haplotypes with frequency >= F, between 0 and 1 (default: all)",
    )
    _add_estimation_options(p)
    add_run_options(p)
    p.set_defaults(_run=_cmd_freq)


def _add_phase(verbs: Any) -> None:
    p = verbs.add_parser(
        "phase",
        help="each sample's most probable haplotype pair in a region",
        description=PHASE_DESCRIPTION,
        epilog=examples(
            "seqem haplo phase data/example_cohort.vcf.gz --region 1:1-20000 -o phase.tsv",
        ),
    )
    add_genotype_options(p)
    _add_regions_file(p)
    p.add_argument("-o", "--output", default="-", metavar="PHASE.tsv", help="TSV (default: stdout)")
    p.add_argument("--haplotypes", metavar="HAPS.tsv", help="also write the frequencies here")
    _add_estimation_options(p)
    add_run_options(p)
    p.set_defaults(_run=_cmd_phase)


def drop_uncalled_snps(g: Genotypes, ctx: RunContext) -> Genotypes:
    """Leave out SNPs without any call (nothing can be said of their alleles); log them.

    With genotype likelihoods, which the estimate uses instead of the calls,
    a SNP without a call is one whose likelihoods are all equal (or missing)
    for everybody.
    """
    import dataclasses

    import numpy as np

    if g.likelihoods is not None:
        empty = (g.likelihoods >= 1.0).all(axis=(0, 2))
        what = "genotype likelihoods that tell the genotypes apart"
    else:
        empty = (g.calls < 0).all(axis=0)
        what = "a call"
    if not empty.any():
        return g
    names = [g.ids[i] for i in np.flatnonzero(empty)]
    shown = ", ".join(names[:5]) + (" ..." if len(names) > 5 else "")
    if empty.all():
        raise SeqemError(f"{g.path}: no SNP in the region has {what} ({shown})")
    ctx.info(f"{len(names)} SNP(s) without {what} left out of the haplotypes: {shown}")
    ctx.results["snps_without_calls"] = names
    keep = np.flatnonzero(~empty)
    return dataclasses.replace(
        g,
        calls=np.ascontiguousarray(g.calls[:, keep]),
        ids=tuple(g.ids[i] for i in keep),
        chrom=tuple(g.chrom[i] for i in keep),
        positions=g.positions[keep],
        ref=tuple(g.ref[i] for i in keep),
        alt=tuple(g.alt[i] for i in keep),
        likelihoods=None if g.likelihoods is None else g.likelihoods[:, keep],
    )


def resolve_method(args: argparse.Namespace, n_snps: int) -> str:
    if args.method != "auto":
        return str(args.method)
    return "cluster" if n_snps > AUTO_CLUSTER_SNPS else "ligation"


def estimate_haplotypes(
    g: Genotypes, args: argparse.Namespace, ctx: RunContext, *, core: Any = None
) -> WindowHaplotypes:
    """Estimate the window's haplotypes by the chosen method; record the fit in the report.

    ``g`` must not hold SNPs without any call (:func:`drop_uncalled_snps`);
    ``core`` (bool over SNPs, cluster model only) is the window within
    flanking SNPs.
    """
    from ..errors import ParameterError
    from ..haplo.em import MAX_SNPS

    method = resolve_method(args, g.n_snps)
    if method == "exact" and g.n_snps > MAX_SNPS:
        raise SeqemError(
            f"{args.vcf}: {g.n_snps} SNPs in the region; --method exact takes at most "
            f"{MAX_SNPS}: give a smaller --region"
        )
    if method in ("ligation", "exact"):
        try:
            return _estimate_em(g, args, ctx, method)
        except ParameterError as exc:
            if args.method != "auto":
                raise
            ctx.info(f"partition-ligation not possible ({exc}); using the cluster model")
    return _estimate_cluster(g, args, ctx, core)


def _estimate_em(
    g: Genotypes, args: argparse.Namespace, ctx: RunContext, method: str
) -> WindowHaplotypes:
    import numpy as np

    from .._jit import threads
    from ..haplo.em import (
        LIGATE_LEAF,
        LIGATE_MIN_FREQ,
        LIGATE_STARTS,
        _strings,
        fit_haplotypes,
        phase,
    )

    with threads(args.threads):
        fit = fit_haplotypes(
            g.calls, n_init=args.n_init, method=method, min_count=args.min_count,
            likelihoods=g.likelihoods, tol=args.tol, random_state=args.seed,
            n_threads=args.threads,
        )  # fmt: skip
    ctx.fit_results["haplotypes"] = fit.fit.to_dict()
    ctx.results.update(
        snps=list(g.ids),
        positions=g.positions.tolist(),
        n_people_called=fit.n_people,
        n_haplotypes=len(fit.haplotypes),
        loglik=fit.loglik,
        loglik_mle=fit.loglik_mle,
        method=fit.method,
        rare_haplotypes={
            "partition_ligation": None
            if fit.method == "exact"
            else {
                "rule": "windows above leaf SNPs are split in halves; haplotypes below "
                "min_freq in every start of a half's estimate are dropped before ligation",
                "leaf": LIGATE_LEAF,
                "min_freq": LIGATE_MIN_FREQ,
                "starts": LIGATE_STARTS,
            },
            "min_count": {
                "rule": "removed where expected copies < min_count and the log-likelihood "
                "falls by at most min_count per removed haplotype",
                "min_count": args.min_count,
                "removed": fit.n_removed,
                "loglik_cost": fit.loglik_mle - fit.loglik,
            },
        },
        starts_loglik=fit.starts,
        linkage_equilibrium_test=fit.lr_test,
        pairs_enumerated=fit.pairs.n_pairs,
        genotype_patterns=int(fit.pairs.weight.size),
    )
    removed = f"; {fit.n_removed} rare haplotype(s) removed" if fit.n_removed else ""
    ctx.info(
        f"haplotype EM ({fit.method}): {len(fit.haplotypes)} haplotypes, ln L {fit.loglik:.4f}"
        f"{removed}, {fit.fit.n_iter} iterations, {fit.fit.elapsed:.2f} s"
    )
    if not fit.fit.converged:
        ctx.info("seqem: warning: EM stopped before --tol was met (see the report)")
    h1, h2, prob = phase(fit)
    names: dict[int, str] = {}

    def text(code: int) -> str | None:
        if code < 0:
            return None
        if code not in names:
            names[code] = _strings(np.array([code]), g.n_snps)[0]
        return names[code]

    pairs = [sorted((text(int(a)) or "", text(int(b)) or "")) for a, b in zip(h1, h2, strict=True)]
    return WindowHaplotypes(
        method=fit.method,
        haplotypes=fit.haplotypes,
        frequencies=fit.frequencies,
        se=fit.se,
        n_people=fit.n_people,
        hap1=[p[0] if a >= 0 else None for p, a in zip(pairs, h1, strict=True)],
        hap2=[p[1] if a >= 0 else None for p, a in zip(pairs, h1, strict=True)],
        probability=prob,
    )


def _estimate_cluster(
    g: Genotypes, args: argparse.Namespace, ctx: RunContext, core: Any
) -> WindowHaplotypes:
    import numpy as np

    from .._jit import threads
    from ..haplo.cluster import fit_clusters, phase_clusters

    if g.likelihoods is not None:
        raise SeqemError(
            "the cluster model works from genotype calls; genotype likelihoods "
            "(--likelihoods, --bam-list) need --method ligation or exact"
        )
    with threads(args.threads):
        fit = fit_clusters(
            g.calls, n_clusters=args.clusters, random_state=args.seed, n_threads=args.threads
        )
        phased = phase_clusters(g.calls, fit, random_state=args.seed, n_threads=args.threads)
    core = np.ones(g.n_snps, dtype=bool) if core is None else np.asarray(core)
    cols = np.flatnonzero(core)
    h1 = phased.hap1[:, cols]
    h2 = phased.hap2[:, cols]
    informative = np.asarray((g.calls[:, cols] >= 0).any(axis=1))
    rows = np.concatenate([h1[informative], h2[informative]])
    strings = ["".join("1" if x else "0" for x in r) for r in rows]
    counts: dict[str, int] = {}
    for s_ in strings:
        counts[s_] = counts.get(s_, 0) + 1
    order = sorted(counts, key=lambda k: (-counts[k], k))
    total = len(strings)
    freq = np.array([counts[k] / total for k in order])
    se = np.sqrt(freq * (1 - freq) / total)  # counting error only (phase taken as known)
    # probability of the pair: the product of the phase confidences of each heterozygous
    # SNP relative to the previous one, within the window (the first one's is outside it)
    het = phased.genotypes[:, cols] == 1
    conf = np.where(het, phased.confidence[:, cols], np.nan)
    first = np.argmax(het, axis=1)
    conf[np.arange(conf.shape[0]), first] = np.nan
    prob = np.where(np.isnan(conf), 1.0, conf).prod(axis=1)
    pair_text = [
        sorted(("".join(map(str, a)), "".join(map(str, b))))
        for a, b in zip(h1.tolist(), h2.tolist(), strict=True)
    ]
    ctx.fit_results["haplotypes"] = fit.fits[int(np.argmax(fit.logliks))].to_dict()
    ctx.results.update(
        snps=[g.ids[i] for i in cols],
        positions=g.positions[cols].tolist(),
        flanking_snps=int(g.n_snps - cols.size),
        n_people_called=int(informative.sum()),
        n_haplotypes=len(order),
        loglik=float(fit.loglik),
        loglik_definition="cluster model: sum over people of ln P(genotypes), all fitted SNPs",
        method="cluster",
        cluster_model={
            "clusters": args.clusters,
            "starts": len(fit.params),
            "starts_loglik": [float(x) for x in fit.logliks],
            "phase": "posterior draws of every start vote on each pair of consecutive "
            "heterozygous SNPs, then rounds of copying-model refinement",
            "imputed_calls": int(phased.imputed[:, cols].sum()),
        },
    )
    ctx.info(
        f"haplotype-cluster HMM: K={args.clusters}, {g.n_snps} SNPs fitted"
        + (f" ({g.n_snps - cols.size} flanking)" if cols.size < g.n_snps else "")
        + f", {len(order)} haplotypes in the window, ln L {fit.loglik:.2f}, {fit.elapsed:.1f} s"
    )
    return WindowHaplotypes(
        method="cluster",
        haplotypes=tuple(order),
        frequencies=freq,
        se=se,
        n_people=int(informative.sum()),
        hap1=[p[0] if ok else None for p, ok in zip(pair_text, informative, strict=True)],
        hap2=[p[1] if ok else None for p, ok in zip(pair_text, informative, strict=True)],
        probability=np.where(informative, prob, np.nan),
    )


def haplotype_table(result: WindowHaplotypes | HaploFit, *, min_freq: float = 0.0) -> str:
    """The frequencies as TSV text: haplotype, frequency, se, copies."""
    import math

    lines = ["haplotype\tfrequency\tse\tcopies"]
    two_n = 2 * result.n_people
    for hap, f, se in zip(result.haplotypes, result.frequencies, result.se, strict=True):
        if f < min_freq:
            continue
        se_text = "NA" if math.isnan(se) else f"{se:.6g}"
        lines.append(f"{hap}\t{f:.8g}\t{se_text}\t{f * two_n:.4f}")
    return "\n".join(lines) + "\n"


def phase_table(g: Genotypes, result: WindowHaplotypes, *, core: Any = None) -> str:
    """Each sample's best pair as TSV text."""
    import math

    calls = g.calls if core is None else g.calls[:, core]
    het = (calls == 1).sum(axis=1)
    miss = (calls < 0).sum(axis=1)
    lines = ["sample\thap1\thap2\tprobability\tn_het\tn_missing"]
    for i, name in enumerate(g.samples):
        a, b, p = result.hap1[i], result.hap2[i], result.probability[i]
        if a is None:
            lines.append(f"{name}\tNA\tNA\tNA\t0\t{miss[i]}")
            continue
        p_text = "NA" if math.isnan(p) else f"{p:.6f}"
        lines.append(f"{name}\t{a}\t{b}\t{p_text}\t{het[i]}\t{miss[i]}")
    return "\n".join(lines) + "\n"


def _window(args: argparse.Namespace, ctx: RunContext) -> tuple[Genotypes, WindowHaplotypes, Any]:
    """Read the region (with flanks for the cluster model) and estimate its haplotypes."""
    import numpy as np

    from ..io.regions import parse_region

    g = drop_uncalled_snps(one_contig(load_genotypes(args, ctx), args), ctx)
    core = None
    if args.flank > 0 and resolve_method(args, g.n_snps) == "cluster":
        if args.region is None:
            raise SeqemError("--flank needs --region")
        chrom, start, end = parse_region(args.region)
        if end is None:
            raise SeqemError("--flank needs a region with an end (CHR:START-END)")
        wide = argparse.Namespace(**vars(args))
        wide.region = f"{chrom}:{max(1, start + 1 - args.flank)}-{end + args.flank}"
        g = drop_uncalled_snps(load_genotypes(wide, ctx), ctx)
        core = (g.positions > start) & (g.positions <= end)
        if not core.any():
            raise SeqemError(f"{args.vcf}: no SNP with a call in {args.region}")
    result = estimate_haplotypes(g, args, ctx, core=core)
    if core is not None:
        keep = np.flatnonzero(core)
        g = dataclasses.replace(g, calls=np.ascontiguousarray(g.calls[:, keep]))
    return g, result, core


def one_contig(g: Genotypes, args: argparse.Namespace) -> Genotypes:
    """``g``, if its SNPs are on one contig: a haplotype does not span two."""
    contigs = list(dict.fromkeys(g.chrom))
    if len(contigs) > 1:
        shown = ", ".join(contigs[:5]) + (" ..." if len(contigs) > 5 else "")
        raise SeqemError(
            f"{args.vcf}: the SNPs are on {len(contigs)} contigs ({shown}) and a haplotype "
            "lies on one: choose it with --region CHR or CHR:START-END (or --regions-file)"
        )
    return g


def _windows(args: argparse.Namespace) -> list[str | None]:
    """The regions to estimate: --region, or every line of --regions-file."""
    if args.regions_file is None:
        return [args.region]
    if args.region is not None:
        raise SeqemError("give --region or --regions-file, not both")
    from ..io.bed import read_bed

    records = read_bed(args.regions_file)
    if not records:
        raise SeqemError(f"{args.regions_file}: no regions")
    return [f"{r.chrom}:{r.start + 1}-{r.end}" for r in records]


def _each_window(args: argparse.Namespace, ctx: RunContext) -> Any:
    """(region, genotypes, result) of every window; per-window results go to the report."""
    regions = _windows(args)
    if len(regions) == 1:
        one = argparse.Namespace(**vars(args))
        one.region = regions[0]
        g, result, _ = _window(one, ctx)
        yield regions[0], g, result
        return
    summaries = []
    for region in regions:
        one = argparse.Namespace(**vars(args))
        one.region = region
        g, result, _ = _window(one, ctx)
        keys = ("method", "loglik", "n_haplotypes", "n_people_called", "snps")
        summaries.append({"window": region, **{k: ctx.results.get(k) for k in keys}})
        yield region, g, result
    for k in ("snps", "positions", "loglik", "loglik_mle", "n_haplotypes", "method"):
        ctx.results.pop(k, None)
    ctx.results["windows"] = summaries


def _with_window(text: str, region: str | None, first: bool) -> str:
    """Prefix every line of a table with the window (the header with 'window')."""
    lines = text.splitlines()
    if region is None:
        return text
    head = ["window\t" + lines[0]] if first else []
    return "\n".join(head + [f"{region}\t{line}" for line in lines[1:]]) + "\n"


def _cmd_freq(args: argparse.Namespace, ctx: RunContext) -> int:
    check_output_path(args.output)
    multi = args.regions_file is not None
    parts = [
        _with_window(
            haplotype_table(result, min_freq=args.min_freq), region if multi else None, i == 0
        )  # fmt: skip
        for i, (region, _, result) in enumerate(_each_window(args, ctx))
    ]
    write_text(args.output, "".join(parts))
    ctx.outputs.append(args.output)
    return 0


def _cmd_phase(args: argparse.Namespace, ctx: RunContext) -> int:
    check_output_path(args.output)
    check_output_path(args.haplotypes)
    multi = args.regions_file is not None
    phases, haps = [], []
    for i, (region, g, result) in enumerate(_each_window(args, ctx)):
        phases.append(_with_window(phase_table(g, result), region if multi else None, i == 0))
        haps.append(_with_window(haplotype_table(result), region if multi else None, i == 0))
    write_text(args.output, "".join(phases))
    ctx.outputs.append(args.output)
    if args.haplotypes:
        write_text(args.haplotypes, "".join(haps))
        ctx.outputs.append(args.haplotypes)
    return 0


# ---------------------------------------------------------------------------
# ld

LD_DESCRIPTION = """\
Pairwise linkage disequilibrium between the biallelic SNPs of a region.

For each pair, the haplotype frequencies are the maximum-likelihood estimate
from the people called at both SNPs (the two-locus likelihood solved exactly:
the stationary points are the roots of a cubic, and the best of them or of
the interval ends is taken), as PLINK 1.9's --r2 dprime computes them.

Output: a TSV with columns snp_a, snp_b (VCF ids, or CHR:POS where the id is
'.'), pos_a, pos_b, n (people called at both), d (D = p_AB - p_A p_B, A and B
the ALT alleles), dprime (|D| / Dmax) and r2; NA for pairs with a
monomorphic SNP.  SNPs are paired within a contig only; when the SNPs lie on
several contigs, a first column chrom names the pair's contig.  --plot draws
the r2 (or --plot-measure dprime) matrix of one contig."""


def _add_ld(verbs: Any) -> None:
    p = verbs.add_parser(
        "ld",
        help="pairwise LD (D, D', r2) of the SNPs in a region",
        description=LD_DESCRIPTION,
        epilog=examples(
            "seqem haplo ld data/example_cohort.vcf.gz --region 1:1-200000 -o ld.tsv",
            "seqem haplo ld data/example_cohort.vcf.gz --region 1:1-200000 --plot ld.png -o ld.tsv",
            "seqem haplo ld data/example_cohort.vcf.gz --snp rs9000008 --min-r2 0.2",
        ),
    )
    add_genotype_options(p)
    p.add_argument("-o", "--output", default="-", metavar="LD.tsv", help="TSV (default: stdout)")
    p.add_argument(
        "--snp",
        metavar="ID",
        help="pair this SNP (id or CHR:POS) with every other SNP instead of all pairs",
    )
    p.add_argument(
        "--min-r2",
        type=fraction,
        default=0.0,
        metavar="R2",
        help="report pairs with r2 >= R2, between 0 and 1 (default: all pairs)",
    )
    p.add_argument("--plot", metavar="FILE.png", help="heat map of the pairs (png, pdf or svg)")
    p.add_argument(
        "--plot-measure",
        choices=("r2", "dprime"),
        default="r2",
        help="what the heat map shows (default: %(default)s)",
    )
    add_run_options(p)
    p.set_defaults(_run=_cmd_ld)


def _cores() -> int:
    """Cores this process may run on (without importing the JIT compiler)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def ld_table(
    g: Genotypes,
    tables: LDTable | Iterable[LDTable],
    *,
    min_r2: float = 0.0,
    n_threads: int = 1,
    chrom: bool = False,
) -> Iterator[bytes]:
    """The LD pairs as TSV bytes: the header row, then blocks of rows in order.

    ``tables``: one table, or its pieces in order (as
    :func:`~seqem.haplo.ld.iter_pairwise_ld` yields them, computed as they
    are asked for).  Six decimals; NA where undefined.  ``chrom`` adds a
    first column with the pair's contig.  Blocks are formatted
    by ``n_threads`` threads (NumPy lets go of the interpreter lock inside
    each array operation), a few blocks ahead of the writer, so memory stays
    bounded and the next piece is computed while the last is formatted.
    """
    import numpy as np

    from ..haplo.ld import LDTable
    from ..io.fastformat import Fixed, Int, Text, format_rows, text_matrix

    names = text_matrix(list(g.ids))
    positions = text_matrix([str(p) for p in g.positions])
    contigs = text_matrix(list(g.chrom)) if chrom else None
    step = 1 << 16  # rows per block

    def blocks() -> Iterator[tuple[LDTable, Any]]:
        for table in [tables] if isinstance(tables, LDTable) else tables:
            keep = None if min_r2 <= 0 else np.flatnonzero(table.r2 >= min_r2)
            n_rows = len(table) if keep is None else int(keep.size)
            for start in range(0, n_rows, step):
                rows = slice(start, start + step) if keep is None else keep[start : start + step]
                yield table, rows

    def block(job: tuple[LDTable, Any]) -> bytes:
        table, rows = job
        a, b = table.a[rows], table.b[rows]
        first = [] if contigs is None else [Text(contigs[a])]
        return format_rows(
            first + [
                Text(names[a]), Text(names[b]), Text(positions[a]), Text(positions[b]),
                Int(table.n[rows]), Fixed(table.d[rows]), Fixed(table.dprime[rows]),
                Fixed(table.r2[rows]),
            ]
        )  # fmt: skip

    yield ("\t".join((("chrom",) if chrom else ()) + LD_COLUMNS) + "\n").encode()
    if n_threads <= 1:
        yield from map(block, blocks())
        return
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(n_threads) as pool:
        pending: deque = deque()
        for job in blocks():
            pending.append(pool.submit(block, job))
            while pending and (pending[0].done() or len(pending) > 2 * n_threads):
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _cmd_ld(args: argparse.Namespace, ctx: RunContext) -> int:
    # plain NumPy throughout: starting the JIT would cost more than the work
    from ..haplo.ld import iter_pairwise_ld

    check_output_path(args.output)
    check_output_path(args.plot, plot=True)
    if args.plot and args.snp is not None:
        raise SeqemError("--plot draws all pairs; leave out --snp")
    import numpy as np

    g = load_genotypes(args, ctx)
    contigs = list(dict.fromkeys(g.chrom))
    several = len(contigs) > 1
    if several and args.plot:
        raise SeqemError(
            f"{args.vcf}: --plot draws the pairs of one contig and the SNPs are on "
            f"{len(contigs)} ({', '.join(contigs[:5])}{' ...' if len(contigs) > 5 else ''}): "
            "choose one with --region"
        )
    label = {c: k for k, c in enumerate(contigs)}
    groups = np.array([label[c] for c in g.chrom]) if several else None
    against = None
    if args.snp is not None:
        matches = [i for i, s in enumerate(g.ids) if s == args.snp]
        if not matches:
            where = [f"{c}:{p}" for c, p in zip(g.chrom, g.positions, strict=True)]
            matches = [i for i, s in enumerate(where) if s == args.snp]
        if not matches:
            raise SeqemError(f"--snp {args.snp!r}: no such biallelic SNP in {args.vcf}")
        against = matches[0]
    # pieces computed as the writer asks for them and formatted on the other
    # threads; kept only for a plot, so a window of any size streams through
    pieces: list[LDTable] = []
    n_pairs = 0

    def computed() -> Iterator[LDTable]:
        nonlocal n_pairs
        for piece in iter_pairwise_ld(g.calls, against=against, groups=groups):
            n_pairs += len(piece)
            if args.plot:
                pieces.append(piece)
            yield piece

    n_threads = args.threads or _cores()
    write_chunks(
        args.output,
        ld_table(g, computed(), min_r2=args.min_r2, n_threads=n_threads, chrom=several),
    )
    ctx.outputs.append(args.output)
    if args.plot:
        from ..plotting import plot_ld, save_figure

        fields = ("a", "b", "r2" if args.plot_measure == "r2" else "dprime")
        a, b, values = (np.concatenate([getattr(p, f) for p in pieces]) for f in fields)
        ax = plot_ld(a, b, values, list(g.ids), measure=args.plot_measure)
        save_figure(ax.figure, args.plot)
        ctx.outputs.append(args.plot)
    ctx.results.update(n_pairs=n_pairs)
    ctx.info(
        f"seqem haplo ld: {n_pairs} pair(s) of {g.n_snps} SNPs x {g.n_people} samples "
        f"-> {args.output}"
    )
    return 0
