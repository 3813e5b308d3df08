"""``seqem haplo``: haplotype analyses of genotype files (VCF/BCF).

``ld``: pairwise linkage disequilibrium (D, D', r2) of the SNPs in a region,
all pairs or one SNP against the others, as a TSV and optionally a heat map.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ..errors import SeqemError
from ._common import add_run_options, check_output_path, examples, write_text

if TYPE_CHECKING:  # pragma: no cover
    from ..haplo.ld import LDTable
    from ..io.vcf import Genotypes
    from ._common import RunContext

LD_COLUMNS = ("snp_a", "snp_b", "pos_a", "pos_b", "n", "d", "dprime", "r2")


def register(commands: Any) -> None:
    """Add the ``haplo`` group and its verbs to the top-level subparsers."""
    group = commands.add_parser(
        "haplo",
        help="haplotypes of genotype files: linkage disequilibrium",
        description="Haplotype analyses of unphased genotypes in VCF/BCF files.",
        epilog=examples("seqem haplo ld data/example_cohort.vcf.gz --region 1:1-200000 -o ld.tsv"),
    )
    verbs = group.add_subparsers(dest="verb", metavar="VERB", title="verbs")
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
    if path is None:
        return None
    try:
        with open(path) as fh:
            names = [w for line in fh for w in line.split()[:1]]
    except OSError as exc:
        raise SeqemError(f"{path}: {exc.strerror}") from None
    if not names:
        raise SeqemError(f"{path}: no sample names")
    return names


def load_genotypes(args: argparse.Namespace, ctx: RunContext) -> Genotypes:
    """Read the genotypes the options ask for and log what was left out."""
    from ..io.vcf import read_genotypes

    g = read_genotypes(
        args.vcf,
        region=args.region,
        samples=_names(args.samples),
        exclude_samples=_names(args.exclude_samples),
        pass_only=args.pass_only,
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
monomorphic SNP.  --plot draws the r2 (or --plot-measure dprime) matrix."""


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
        "--min-r2", type=float, default=0.0, metavar="R2", help="report pairs with r2 >= R2"
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


def ld_table(g: Genotypes, table: LDTable, *, min_r2: float = 0.0) -> str:
    """The LD pairs as TSV text with a header row (six decimals; NA where undefined)."""
    import numpy as np

    from ..haplo._ld_kernels import format_pairs

    keep = np.flatnonzero(np.ones(len(table), dtype=bool) if min_r2 <= 0 else table.r2 >= min_r2)
    encoded = [name.encode() for name in g.ids]
    names = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    offsets = np.concatenate([[0], np.cumsum([len(e) for e in encoded])]).astype(np.int64)
    body = format_pairs(
        table.a[keep], table.b[keep], names, offsets, g.positions,
        table.n[keep], table.d[keep], table.dprime[keep], table.r2[keep],
    )  # fmt: skip
    return "\t".join(LD_COLUMNS) + "\n" + body.tobytes().decode()


def _cmd_ld(args: argparse.Namespace, ctx: RunContext) -> int:
    from .._jit import threads
    from ..haplo.ld import pairwise_ld

    check_output_path(args.output)
    check_output_path(args.plot)
    if args.plot and args.snp is not None:
        raise SeqemError("--plot draws all pairs; leave out --snp")
    g = load_genotypes(args, ctx)
    against = None
    if args.snp is not None:
        matches = [i for i, s in enumerate(g.ids) if s == args.snp]
        if not matches:
            where = [f"{c}:{p}" for c, p in zip(g.chrom, g.positions, strict=True)]
            matches = [i for i, s in enumerate(where) if s == args.snp]
        if not matches:
            raise SeqemError(f"--snp {args.snp!r}: no such biallelic SNP in {args.vcf}")
        against = matches[0]
    with threads(args.threads):
        table = pairwise_ld(g.calls, against=against)
    write_text(args.output, ld_table(g, table, min_r2=args.min_r2))
    ctx.outputs.append(args.output)
    if args.plot:
        from ..plotting import plot_ld, save_figure

        values = table.r2 if args.plot_measure == "r2" else table.dprime
        ax = plot_ld(table.a, table.b, values, list(g.ids), measure=args.plot_measure)
        save_figure(ax.figure, args.plot)
        ctx.outputs.append(args.plot)
    ctx.results.update(n_pairs=len(table))
    ctx.info(
        f"seqem haplo ld: {len(table)} pair(s) of {g.n_snps} SNPs x {g.n_people} samples "
        f"-> {args.output}"
    )
    return 0
