"""``seqem deconv``: cell-type proportions of bulk expression.

``run``: proportions of every bulk sample from reference profiles (a ready
signature, pure samples with labels, or a labelled single-cell reference),
by a robust heteroscedastic EM (the default), the multinomial-mixture EM or
NNLS.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ..errors import SeqemError
from ._common import add_run_options, check_output_path, examples, write_text

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from ..io.matrix import NamedMatrix
    from ._common import RunContext

#: A reference must share at least this share of its genes with the mixtures.
MIN_OVERLAP = 0.5

RUN_DESCRIPTION = """\
Cell-type proportions of bulk expression samples.

Input: MIXTURES, genes (rows) x samples (columns), and the reference
profiles, genes x cell types: --reference (a signature), --pure with
--pure-labels (pure samples, averaged per label), or --sc-counts with
--sc-labels (single cells, averaged per label).  Genes are matched by name
(the overlap is logged; below half of the reference's genes is an error).

Scale (--scale): linear, counts and tpm are used as they are; log2 values are
converted with 2^x; auto takes data whose largest value is at most 30 as
log2 (and says so).

--method robust (the default): the bulk is a non-negative combination of the
reference profiles plus Student-t errors (--nu degrees of freedom, default 4)
whose variance grows with the fitted mean (quasi-Poisson) and, with
--reference-var, with the reference's per-gene variances; fitted by EM (the
t's latent per-gene precisions), so genes the reference does not explain get
small weights.  --other reads the fit on the absolute scale (mixtures and
reference both TPM): 1 - sum of the coefficients is the expression of cells
without a profile, reported in an 'other' column.  --mrna-per-cell divides
each type's share by its mRNA per cell (a TSV of cell_type and value; a
'default' row for types not listed, an 'other' or 'otherCells' row for the
unknown cells; 0.4 when absent) before renormalising.  --se writes the
standard errors of the proportions (sandwich covariance, delta method).

--method em: each unit of expression comes from one cell type (a multinomial
mixture over the reference profiles normalised to sum one), fitted to its
unique maximum likelihood by Newton steps on the simplex (every sample at
once, over --threads); cell fractions are the expression fractions divided
by each profile's total.
--method refine: the multinomial mixture with the profiles refined jointly
across all the samples (EM for the posterior mode, URSM-style), under a
Dirichlet prior centred on the reference: with --sc-counts the labelled
cells' own counts (the single cells and the bulk estimate the profiles
together), otherwise the reference profiles weighted as much as the bulk's
average expression per type; --prior-weight scales the prior (default 1;
large: the fixed-reference fit).  --refined-reference writes the refined
profiles (genes x cell types, on the reference's scale).
--method nnls: non-negative least squares, renormalised.

--markers N keeps, for each cell type, the N genes it expresses most above
every other type (at least 2-fold).

Output: a TSV, samples (rows) x cell types (and 'other'), rows summing to one."""


def register(commands: Any) -> None:
    group = commands.add_parser(
        "deconv",
        help="bulk-expression deconvolution into cell-type proportions",
        description="Deconvolution of bulk expression with reference profiles.",
        epilog=examples(
            "seqem deconv run data/example_bulk.tsv --reference data/example_signature.tsv "
            "-o proportions.tsv"
        ),
    )
    verbs = group.add_subparsers(dest="verb", metavar="VERB", title="verbs")
    p = verbs.add_parser(
        "run",
        help="cell-type proportions of bulk samples",
        description=RUN_DESCRIPTION,
        epilog=examples(
            "seqem deconv run data/example_bulk.tsv --reference data/example_signature.tsv "
            "-o proportions.tsv",
            "seqem deconv run data/example_bulk.tsv --reference data/example_signature.tsv "
            "--method nnls",
            "seqem deconv run data/example_bulk.tsv --reference data/example_signature.tsv "
            "--other --se se.tsv -o proportions.tsv",
            "seqem deconv run data/example_bulk.tsv --reference data/example_signature.tsv "
            "--method refine --refined-reference refined.tsv -o proportions.tsv",
        ),
    )
    p.add_argument("mixtures", metavar="MIXTURES.tsv", help="genes x samples (TSV/CSV, gz)")
    ref = p.add_argument_group("reference (one of)")
    ref.add_argument("--reference", metavar="REF.tsv", help="genes x cell types")
    ref.add_argument("--pure", metavar="PURE.tsv", help="genes x pure samples")
    ref.add_argument("--pure-labels", metavar="LABELS.tsv", help="pure sample -> cell type")
    ref.add_argument("--sc-counts", metavar="CELLS.tsv", help="genes x single cells")
    ref.add_argument("--sc-labels", metavar="LABELS.tsv", help="cell -> cell type")
    p.add_argument(
        "--scale",
        choices=("auto", "linear", "log2", "tpm", "counts"),
        default="auto",
        help="scale of the mixtures and reference (default: %(default)s)",
    )
    p.add_argument(
        "--reference-var",
        metavar="VAR.tsv",
        help="per-gene variances of the --reference profiles (genes x cell types)",
    )
    p.add_argument("--genes", metavar="GENES.txt", help="use only these genes (one per line)")
    p.add_argument(
        "--markers",
        type=int,
        default=0,
        metavar="N",
        help="keep the N best marker genes of each cell type (default: all genes)",
    )
    p.add_argument(
        "--method",
        choices=("robust", "em", "refine", "nnls"),
        default="robust",
        help="(default: %(default)s)",
    )
    p.add_argument(
        "--prior-weight",
        type=float,
        default=1.0,
        metavar="W",
        help="--method refine: strength of the prior on the profiles (default: %(default)s)",
    )
    p.add_argument(
        "--refined-reference",
        metavar="REF.tsv",
        help="--method refine: write the refined profiles (genes x cell types)",
    )
    p.add_argument(
        "--nu",
        type=float,
        default=4.0,
        help="degrees of freedom of the robust errors (default: %(default)s)",
    )
    p.add_argument(
        "--other",
        action="store_true",
        help="estimate the fraction of cells without a reference profile",
    )
    p.add_argument(
        "--mrna-per-cell", metavar="MRNA.tsv", help="mRNA per cell of each type (cell_type, value)"
    )
    p.add_argument("--se", metavar="SE.tsv", help="write standard errors of the proportions")
    p.add_argument("-o", "--output", default="-", metavar="PROPORTIONS.tsv",
                   help="TSV (default: stdout)")  # fmt: skip
    p.add_argument("--plot", metavar="FILE.png", help="stacked bars of the proportions")
    add_run_options(p)
    p.set_defaults(_run=_cmd_run)
    _add_count(verbs)
    group.set_defaults(_parser=group)


COUNT_DESCRIPTION = """\
Reads per gene of BAM/CRAM files over an annotation (GTF, GFF3 or BED), as a
genes x samples table that 'seqem deconv run' takes.

A read is counted for a gene when it overlaps one of the gene's exons (by at
least one aligned base), once however many exons it touches; a read pair is
counted once.  Unmapped, secondary, supplementary and QC-failed reads are
never counted; --min-mapq leaves out poorly mapped reads; --multi skip (the
default) leaves out reads whose NH tag is above 1; --strand selects the
library type (forward: the read or first mate on the gene's strand; reverse:
dUTP).  Files are counted in parallel (--threads)."""


def _add_count(verbs: Any) -> None:
    p = verbs.add_parser(
        "count",
        help="reads per gene of BAM/CRAM files (genes x samples table)",
        description=COUNT_DESCRIPTION,
        epilog=examples(
            "seqem deconv count --annotation data/example_genes.gtf data/example_reads.bam "
            "-o counts.tsv",
        ),
    )
    p.add_argument("bams", nargs="+", metavar="BAM", help="indexed BAM or CRAM files")
    p.add_argument("--annotation", required=True, metavar="GTF|GFF3|BED")
    p.add_argument("--names", metavar="A,B", help="sample names (default: file names)")
    p.add_argument("--min-mapq", type=int, default=0, metavar="Q",
                   help="least mapping quality (default: %(default)s)")  # fmt: skip
    p.add_argument("--strand", choices=("none", "forward", "reverse"), default="none",
                   help="library strandedness (default: %(default)s)")  # fmt: skip
    p.add_argument("--multi", choices=("skip", "count"), default="skip",
                   help="reads with NH > 1 (default: %(default)s)")  # fmt: skip
    p.add_argument("--skip-duplicates", action="store_true", help="leave out flagged duplicates")
    p.add_argument("--reference", metavar="FASTA", help="reference for CRAM files")
    p.add_argument("-o", "--output", default="-", metavar="COUNTS.tsv",
                   help="TSV (default: stdout)")  # fmt: skip
    add_run_options(p)
    p.set_defaults(_run=_cmd_count)


def _cmd_count(args: argparse.Namespace, ctx: RunContext) -> int:
    import os
    from concurrent.futures import ThreadPoolExecutor

    from .._jit import resolve_threads
    from ..io.counting import count_reads, read_annotation

    check_output_path(args.output)
    genes = read_annotation(args.annotation)
    names = (
        args.names.split(",")
        if args.names
        else [os.path.basename(b).rsplit(".", 1)[0] for b in args.bams]
    )
    if len(names) != len(args.bams) or len(set(names)) != len(names):
        raise SeqemError("--names must give one distinct name per file")

    def one(bam: str) -> Any:
        return count_reads(
            bam, genes, min_mapq=args.min_mapq, strand=args.strand, multi=args.multi,
            skip_duplicates=args.skip_duplicates, reference=args.reference,
        )  # fmt: skip

    with ThreadPoolExecutor(max_workers=resolve_threads(args.threads)) as pool:
        columns = list(pool.map(one, args.bams))
    lines = ["gene\t" + "\t".join(names)]
    for i, g in enumerate(genes):
        lines.append(g.name + "\t" + "\t".join(str(int(c[i])) for c in columns))
    write_text(args.output, "\n".join(lines) + "\n")
    ctx.outputs.append(args.output)
    ctx.results.update(n_genes=len(genes), reads_counted=[int(c.sum()) for c in columns])
    ctx.info(f"seqem deconv count: {len(genes)} genes x {len(names)} files")
    return 0


def _linear(m: NamedMatrix, scale: str, ctx: RunContext, what: str) -> np.ndarray:
    import numpy as np

    values = m.values
    if scale == "auto":
        scale = "log2" if values.max() <= 30 else "linear"
        if scale == "log2":
            ctx.info(f"{m.path}: largest value {values.max():.3g}: read as log2, converted by 2^x")
    if scale == "log2":
        return np.asarray(2.0**values)
    if np.any(values < 0):
        row = int(np.argwhere(values < 0)[0, 0])
        raise SeqemError(
            f"{m.path}: negative {what} value in row {m.rows[row]!r} (log-scale data? "
            "use --scale log2)"
        )
    return values


def _profiles(
    args: argparse.Namespace, ctx: RunContext
) -> tuple[NamedMatrix, str, np.ndarray | None]:
    """The reference on the linear scale (genes x types), what it was built from, and for
    single cells their counts summed per label (``None`` otherwise).

    Pure samples and single cells are averaged per label on the linear scale.
    """
    import numpy as np

    from ..io.matrix import NamedMatrix, read_labels, read_matrix

    given = [x for x in (args.reference, args.pure, args.sc_counts) if x]
    if len(given) != 1:
        raise SeqemError("give one of --reference, --pure (with --pure-labels) or --sc-counts")
    if args.reference:
        m = read_matrix(args.reference)
        return NamedMatrix(m.rows, m.columns, _linear(m, args.scale, ctx, "reference"),
                           m.path), "signature", None  # fmt: skip
    path, label_path = (
        (args.pure, args.pure_labels) if args.pure else (args.sc_counts, args.sc_labels)
    )
    if not label_path:
        raise SeqemError("--pure needs --pure-labels and --sc-counts needs --sc-labels")
    m = read_matrix(path)
    labels = read_labels(label_path)
    missing = [c for c in m.columns if c not in labels]
    if missing:
        raise SeqemError(f"{label_path}: no label for {missing[0]!r} (and {len(missing) - 1} more)")
    types = list(dict.fromkeys(labels[c] for c in m.columns))
    linear = _linear(m, args.scale, ctx, "reference")
    members = [[i for i, c in enumerate(m.columns) if labels[c] == t] for t in types]
    means = np.stack([linear[:, i].mean(axis=1) for i in members], axis=1)
    sums = np.stack([linear[:, i].sum(axis=1) for i in members], axis=1) if args.sc_counts else None
    return NamedMatrix(m.rows, tuple(types), means, m.path), "mean per label", sums


def _read_mrna(path: str, types: tuple[str, ...]) -> tuple[list[float], float]:
    """mRNA per cell of each type and of the cells without a profile."""
    from ..io.matrix import read_matrix

    m = read_matrix(path)
    if len(m.columns) != 1:
        raise SeqemError(f"{path}: expected two columns, cell_type and mRNA per cell")
    value = {r: float(v) for r, v in zip(m.rows, m.values[:, 0], strict=True)}
    for i, (r, v) in enumerate(value.items()):
        if not v > 0:
            raise SeqemError(f"{path}: line {i + 2} ({r!r}): mRNA per cell must be positive")
    default = value.get("default")
    missing = [t for t in types if t not in value]
    if missing and default is None:
        raise SeqemError(f"{path}: no value for cell type {missing[0]!r} and no 'default' row")
    other = value.get("other", value.get("otherCells", default if default is not None else 0.4))
    return [value.get(t, default or 0.0) for t in types], other


def _check_reference(S: np.ndarray, ref: NamedMatrix, order: list[str]) -> None:
    """Refuse a reference that cannot separate its cell types on these genes."""
    import numpy as np

    zero = np.flatnonzero(S.sum(axis=0) <= 0)
    if zero.size:
        raise SeqemError(f"cell type {ref.columns[zero[0]]!r} has no expression in these genes")
    flat = np.flatnonzero(S.std(axis=0) <= 1e-12 * np.abs(S).max(axis=0))
    if flat.size and S.shape[0] > 1:
        raise SeqemError(
            f"{ref.path}: cell type {ref.columns[flat[0]]!r} has the same value in every gene "
            "(a zero-variance signature)"
        )
    informative = int(np.sum(S.std(axis=1) > 1e-12 * np.maximum(S.max(axis=1), 1e-300)))
    if S.shape[1] > 1 and informative <= S.shape[1]:
        raise SeqemError(
            f"{ref.path}: {S.shape[1]} cell types but only {informative} of the {len(order)} "
            "shared genes differ between them: use more genes or fewer cell types"
        )


def _cmd_run(args: argparse.Namespace, ctx: RunContext) -> int:
    import numpy as np

    from ..deconv.mixture import multinomial_em, nnls
    from ..deconv.refine import refine_fit
    from ..deconv.robust import robust_fit, select_markers
    from ..io.matrix import read_matrix

    check_output_path(args.output)
    check_output_path(args.plot, plot=True)
    check_output_path(args.se)
    if args.method != "robust":
        for flag, given in (("--other", args.other), ("--se", args.se),
                            ("--reference-var", args.reference_var)):  # fmt: skip
            if given:
                raise SeqemError(f"{flag} needs --method robust")
    if args.reference_var and not args.reference:
        raise SeqemError("--reference-var goes with --reference")
    if args.method != "refine" and args.refined_reference:
        raise SeqemError("--refined-reference needs --method refine")
    check_output_path(args.refined_reference)
    mix = read_matrix(args.mixtures)
    ref, source, cell_sums = _profiles(args, ctx)
    genes = set(ref.rows) & set(mix.rows)
    overlap = len(genes) / len(ref.rows)
    ctx.info(
        f"{len(genes)} genes shared by {args.mixtures} ({len(mix.rows)}) and the reference "
        f"({len(ref.rows)}, {len(ref.columns)} cell types, {source})"
    )
    if overlap < MIN_OVERLAP or len(genes) <= len(ref.columns):
        raise SeqemError(
            f"only {len(genes)} of the reference's {len(ref.rows)} genes are in {args.mixtures} "
            f"(need at least {MIN_OVERLAP:.0%} and more genes than cell types): check gene names"
        )
    if args.genes:
        try:
            with open(args.genes) as fh:
                wanted = set(fh.read().split())
        except OSError as exc:
            raise SeqemError(f"{args.genes}: {exc.strerror}") from None
        genes &= wanted
        ctx.info(f"{len(genes)} of them in {args.genes}")
        if len(genes) <= len(ref.columns):
            raise SeqemError(
                f"{args.genes}: only {len(genes)} of its genes are in both the mixtures and the "
                f"reference: need more than the {len(ref.columns)} cell types"
            )
    order = [g for g in ref.rows if g in genes]
    ri = {g: i for i, g in enumerate(ref.rows)}
    mi = {g: i for i, g in enumerate(mix.rows)}
    Y = _linear(mix, args.scale, ctx, "mixture")[[mi[g] for g in order]]
    S = ref.values[[ri[g] for g in order]]
    sums = None if cell_sums is None else cell_sums[[ri[g] for g in order]]
    var = None
    if args.reference_var:
        vm = read_matrix(args.reference_var)
        if vm.columns != ref.columns:
            raise SeqemError(f"{args.reference_var}: columns must be the reference's cell types")
        vi = {g: i for i, g in enumerate(vm.rows)}
        absent = [g for g in order if g not in vi]
        if absent:
            raise SeqemError(f"{args.reference_var}: no row for gene {absent[0]!r}")
        var = vm.values[[vi[g] for g in order]]
        if np.any(var < 0):
            row = order[int(np.argwhere(var < 0)[0, 0])]
            raise SeqemError(f"{args.reference_var}: negative variance in row {row!r}")
    if args.markers:
        chosen = select_markers(S, args.markers)
        ctx.info(f"{chosen.size} marker genes ({args.markers} per cell type at most)")
        order = [order[i] for i in chosen]
        Y, S = Y[chosen], S[chosen]
        var = None if var is None else var[chosen]
        sums = None if sums is None else sums[chosen]
    _check_reference(S, ref, order)
    columns = list(ref.columns)
    se = None
    if args.method == "robust":
        mrna, mrna_other = (None, 0.4)
        if args.mrna_per_cell:
            mrna, mrna_other = _read_mrna(args.mrna_per_cell, ref.columns)
        robust = robust_fit(Y, S, var=var, nu=args.nu, other=args.other, mrna=mrna,
                            mrna_other=mrna_other, n_threads=args.threads)  # fmt: skip
        props = robust.proportions
        if robust.other is not None:
            props = np.column_stack([props, robust.other])
            columns.append("other")
        se = robust.se
        ctx.results.update(
            loglik=[float(x) for x in robust.loglik],
            em_updates=[f.n_iter for f in robust.fits],
            sigma2=[float(x) for x in robust.sigma2],
            standard_errors=[[float(x) for x in row] for row in se],
        )
    elif args.method == "refine":
        if args.mrna_per_cell:
            raise SeqemError("--mrna-per-cell needs --method robust")
        refined = refine_fit(Y, S, cell_counts=sums, weight=args.prior_weight)
        props = refined.proportions
        ctx.info(
            f"profiles refined over {Y.shape[1]} samples in {refined.fit.n_iter} EM updates "
            f"(prior: {'the single cells' if sums is not None else 'the reference'}, "
            f"weight {args.prior_weight:g})"
        )
        ctx.results.update(objective=refined.objective, em_updates=refined.fit.n_iter)
        if args.refined_reference:
            ref_lines = ["gene\t" + "\t".join(columns)]
            for gene, row in zip(order, refined.profiles, strict=True):
                ref_lines.append(gene + "\t" + "\t".join(f"{x:.6g}" for x in row))
            write_text(args.refined_reference, "\n".join(ref_lines) + "\n")
            ctx.outputs.append(args.refined_reference)
    elif args.method == "em":
        if args.mrna_per_cell:
            raise SeqemError("--mrna-per-cell needs --method robust")
        fit = multinomial_em(Y, S, n_threads=args.threads)
        props = fit.proportions
        ctx.results.update(
            loglik=[float(x) for x in fit.loglik],
            em_updates=[f.n_iter for f in fit.fits],
        )
    else:
        if args.mrna_per_cell:
            raise SeqemError("--mrna-per-cell needs --method robust")
        props = nnls(Y, S)
    header = "sample\t" + "\t".join(columns)
    lines = [header]
    for name, row in zip(mix.columns, props, strict=True):
        lines.append(name + "\t" + "\t".join(f"{x:.6f}" for x in row))
    write_text(args.output, "\n".join(lines) + "\n")
    ctx.outputs.append(args.output)
    if args.se and se is not None:
        se_lines = [header]
        for name, row in zip(mix.columns, se, strict=True):
            se_lines.append(name + "\t" + "\t".join(f"{x:.6f}" for x in row))
        write_text(args.se, "\n".join(se_lines) + "\n")
        ctx.outputs.append(args.se)
    if args.plot:
        from ..plotting import plot_proportions, save_figure

        ax = plot_proportions(props, list(mix.columns), columns)
        save_figure(ax.figure, args.plot)
        ctx.outputs.append(args.plot)
    ctx.results.update(n_genes=len(order), cell_types=columns, method=args.method)
    return 0
