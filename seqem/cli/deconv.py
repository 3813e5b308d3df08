"""``seqem deconv``: cell-type proportions of bulk expression.

``run``: proportions of every bulk sample from reference profiles (a ready
signature, pure samples with labels, or a labelled single-cell reference),
by a robust heteroscedastic EM (the default), the multinomial-mixture EM or
NNLS.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ..errors import InputFormatError, ParameterError, SeqemError
from ._common import (
    COMMANDS,
    add_run_options,
    check_output_path,
    examples,
    finite_float,
    positive_int,
    write_text,
)

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from ..io.matrix import NamedMatrix
    from ._common import RunContext

#: A reference must share at least this share of its genes with the mixtures.
MIN_OVERLAP = 0.5
#: Degrees of freedom --nu takes.  Below, the t's tails are so heavy that EM
#: stalls (on the shared data sets 0.1 and 0.2 end with falls of the objective
#: or runs that do not converge; 0.5 never did); above, the errors are Gaussian
#: far below the data's precision.
NU_RANGE = (0.5, 1e6)
#: Largest log2 expression value (2^30, about 1e9, on the linear scale):
#: --scale auto reads a table whose values are all at most this as log2, and
#: --scale log2 refuses a table with larger values.
LOG2_MAX = 30.0
#: A table given on a linear scale looks log2 when its values are all at most
#: LOG2_MAX, not all whole numbers (counts are) and compressed as logarithms
#: are: its largest value at most this many times its median positive value.
#: On the shared data sets log2 tables have 1.6 to 3.1, linear ones (arrays,
#: counts, TPM) 18 to 38,600.
LOG_SPREAD = 8.0
#: ... judged only on tables of at least this many values (on a handful no
#: shape can be told).
LOG_JUDGED = 50
#: Reference profiles (columns scaled to unit length) whose smallest singular
#: value is below this are linearly dependent to the precision data files are
#: written with (5 to 6 significant digits): the split between the types
#: involved is arbitrary.  The shared data sets' references have 0.17 to 0.99.
RANK_TOL = 1e-4

RUN_DESCRIPTION = """\
Cell-type proportions of bulk expression samples.

Input: MIXTURES, genes (rows) x samples (columns), and the reference
profiles, genes x cell types: --reference (a signature), --pure with
--pure-labels (pure samples, averaged per label), or --sc-counts with
--sc-labels (single cells, averaged per label).  Genes are matched by name
(the overlap is logged; below half of the reference's genes is an error).

Scale (--scale, the same for the mixtures and the reference): linear, counts
and tpm are used as they are; log2 values are converted with 2^x; auto takes
a table whose largest value is at most 30 as log2 (and says so), and refuses
a mixtures table and a reference that it reads at different scales.  A table
given as log2 must not hold values above 30; one given on a linear scale
must not look log2 (at least 50 values, all at most 30, not all whole
numbers, the largest at most 8 times the median).

The reference must tell its cell types apart on the genes used: every type
expressed, no type a linear combination of others (identical profiles
included).

--method robust (the default): the bulk is a non-negative combination of the
reference profiles plus Student-t errors (--nu degrees of freedom, default 4,
from 0.5 for the heaviest tails to 1e6 for practically Gaussian errors)
whose variance grows with the fitted mean (quasi-Poisson) and, with
--reference-var, with the reference's per-gene variances; fitted by EM (the
t's latent per-gene precisions), so genes the reference does not explain get
small weights.  --other reads the fit on the absolute scale (mixtures and
reference both TPM): 1 - sum of the coefficients is the expression of cells
without a profile, reported in an 'other' column.  --mrna-per-cell divides
each type's share by its mRNA per cell (a TSV of cell_type and value; a
'default' row for the types not listed, an 'other' or 'otherCells' row for
the unknown cells, 0.4 when absent; rows of other types are ignored, but one
that looks like a misspelling of a type without a row is an error) before
renormalising.  --se writes the
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
        help=COMMANDS["deconv"],
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
    p.add_argument("--genes", metavar="GENES.txt",
                   help="use only these genes (one per line; plain or gzip)")  # fmt: skip
    p.add_argument(
        "--markers",
        type=positive_int,
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
        type=_degrees_of_freedom,
        default=4.0,
        help=f"degrees of freedom of the robust errors, {NU_RANGE[0]:g} to {NU_RANGE[1]:g} "
        "(default: %(default)s)",
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
    p.add_argument("--stats", metavar="STATS.tsv",
                   help="per-sample fit statistics: the correlation and relative RMSE of observed "
                   "and reconstructed expression, log-likelihood, EM updates, convergence, "
                   "error scale")  # fmt: skip
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
    p.add_argument("--names", type=_sample_names, metavar="A,B",
                   help="sample names (default: file names)")  # fmt: skip
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


# -- argument types -----------------------------------------------------------


def _degrees_of_freedom(text: str) -> float:
    """argparse type: --nu, a number in :data:`NU_RANGE`."""
    value = finite_float(text)
    lo, hi = NU_RANGE
    if not lo <= value <= hi:
        raise argparse.ArgumentTypeError(f"must be a number from {lo:g} to {hi:g}, got {text!r}")
    return value


def _sample_names(text: str) -> list[str]:
    """argparse type: --names, comma-separated distinct names that fit in a TSV header."""
    names = text.split(",")
    for name in names:
        if not name.strip():
            raise argparse.ArgumentTypeError(f"empty name in {text!r}")
        if any(c in name for c in "\t\n\r"):
            raise argparse.ArgumentTypeError(f"name {name!r} holds a tab or a line break")
        if name != name.strip():
            raise argparse.ArgumentTypeError(f"name {name!r} starts or ends with white space")
    dup = [n for n in dict.fromkeys(names) if names.count(n) > 1]
    if dup:
        raise argparse.ArgumentTypeError(f"name {dup[0]!r} is given twice")
    return names


# -- count --------------------------------------------------------------------


def _cmd_count(args: argparse.Namespace, ctx: RunContext) -> int:
    import os
    from concurrent.futures import ThreadPoolExecutor

    from .._jit import resolve_threads
    from ..io.counting import count_reads, read_annotation

    check_output_path(args.output)
    names = args.names or [os.path.basename(b).rsplit(".", 1)[0] for b in args.bams]
    if len(names) != len(args.bams):
        n = len(args.bams)
        raise ParameterError(
            f"--names gives {len(names)} names for {n} file{'s' if n > 1 else ''}: "
            "give one per file"
        )
    odd = [n for n in names if not n.strip() or any(c in n for c in "\t\n\r")]
    if odd:
        raise ParameterError(f"file name {odd[0]!r} cannot be a column name: give --names")
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise ParameterError(f"two files would be named {dup!r}: give distinct --names")
    genes = read_annotation(args.annotation)

    def one(bam: str) -> Any:
        return count_reads(
            bam, genes, min_mapq=args.min_mapq, strand=args.strand, multi=args.multi,
            skip_duplicates=args.skip_duplicates, reference=args.reference,
            annotation=args.annotation,
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


# -- scales -------------------------------------------------------------------


def _detected(m: NamedMatrix) -> str:
    """The scale --scale auto reads ``m`` at."""
    return "log2" if m.values.max() <= LOG2_MAX else "linear"


def _scales(mix: NamedMatrix, ref: NamedMatrix, scale: str) -> tuple[str, str]:
    """The scales of the mixtures and of the reference; auto must read both alike."""
    if scale != "auto":
        return scale, scale
    a, b = _detected(mix), _detected(ref)
    if a != b:
        raise SeqemError(
            f"--scale auto reads {mix.path} as {a} (largest value {mix.values.max():.4g}) but "
            f"{ref.path} as {b} (largest value {ref.values.max():.4g}): pass --scale for both "
            "(and convert one of them if they really differ)"
        )
    return a, b


def _looks_log2(values: np.ndarray) -> float | None:
    """The spread (largest / median positive value) of a table that looks log2, else None."""
    import numpy as np

    top = float(values.max())
    if values.size < LOG_JUDGED or top > LOG2_MAX or np.all(values == np.round(values)):
        return None
    positive = values[values > 0]
    if positive.size == 0:
        return None
    spread = top / float(np.median(positive))
    return spread if spread <= LOG_SPREAD else None


def _linear(
    m: NamedMatrix, scale: str, ctx: RunContext, what: str, *, detected: bool
) -> np.ndarray:
    """The values of ``m`` on the linear scale (``scale``: what they are, ``detected``
    by --scale auto or given)."""
    import numpy as np

    values = m.values
    top = float(values.max())
    if scale == "log2":
        if top > LOG2_MAX:
            raise SeqemError(
                f"{m.path}: values too large for log2 (largest {top:.4g}, 2^{top:.4g} on the "
                f"linear scale; log2 expression stays below {LOG2_MAX:g}): are they linear? "
                "pass --scale linear"
            )
        if detected:
            ctx.info(f"{m.path}: largest value {top:.3g}: read as log2, converted by 2^x")
        return np.asarray(2.0**values)
    if np.any(values < 0):
        row = int(np.argwhere(values < 0)[0, 0])
        raise InputFormatError(
            f"negative {what} value in row {m.rows[row]!r} (log-scale data? use --scale log2)",
            path=m.path,
            line=m.line_of(row),
        )
    spread = _looks_log2(values)
    if spread is not None:
        raise SeqemError(
            f"{m.path}: looks like log2 data given as {scale} (every value at most {LOG2_MAX:g}, "
            f"largest {top:.4g}, only {spread:.2g} times the median): pass --scale log2 or "
            "--scale auto"
        )
    return values


# -- inputs -------------------------------------------------------------------


def _reference_table(
    args: argparse.Namespace,
) -> tuple[NamedMatrix, dict[str, str] | None]:
    """The reference as read (a signature, pure samples or single cells) and, for pure
    samples and single cells, their labels."""
    from ..io.matrix import read_labels, read_matrix

    given = [x for x in (args.reference, args.pure, args.sc_counts) if x]
    if len(given) != 1:
        raise SeqemError("give one of --reference, --pure (with --pure-labels) or --sc-counts")
    if args.reference:
        return read_matrix(args.reference), None
    path, label_path = (
        (args.pure, args.pure_labels) if args.pure else (args.sc_counts, args.sc_labels)
    )
    if not label_path:
        raise SeqemError("--pure needs --pure-labels and --sc-counts needs --sc-labels")
    m = read_matrix(path)
    labels = read_labels(label_path, samples=m.columns, samples_path=m.path)
    missing = [c for c in m.columns if c not in labels]
    if missing:
        raise SeqemError(
            f"{label_path}: no label for {missing[0]!r} of {m.path} (and {len(missing) - 1} more)"
        )
    return m, labels


def _profiles(
    m: NamedMatrix, labels: dict[str, str] | None, linear: np.ndarray, cells: bool
) -> tuple[NamedMatrix, str, np.ndarray | None]:
    """The reference on the linear scale (genes x types), what it was built from, and for
    single cells (``cells``) their counts summed per label (``None`` otherwise).

    Pure samples and single cells are averaged per label on the linear scale.
    """
    import numpy as np

    from ..io.matrix import NamedMatrix

    if labels is None:
        return NamedMatrix(m.rows, m.columns, linear, m.path, m.lines), "signature", None
    types = list(dict.fromkeys(labels[c] for c in m.columns))
    members = [[i for i, c in enumerate(m.columns) if labels[c] == t] for t in types]
    means = np.stack([linear[:, i].mean(axis=1) for i in members], axis=1)
    sums = np.stack([linear[:, i].sum(axis=1) for i in members], axis=1) if cells else None
    return NamedMatrix(m.rows, tuple(types), means, m.path, m.lines), "mean per label", sums


def _read_genes(path: str) -> set[str]:
    from ..io.matrix import read_names

    return set(read_names(path, "gene names"))


def _read_mrna(path: str, types: tuple[str, ...], ctx: RunContext) -> tuple[list[float], float]:
    """mRNA per cell of each type and of the cells without a profile.

    Rows for types the reference does not have are ignored (a table may
    cover more types than one reference: EPIC's does), and said so, unless
    one looks like a misspelling of a type left to the 'default' row, or no
    row names a type of the reference: those are errors naming the row.
    """
    import difflib

    from ..io.matrix import read_matrix

    m = read_matrix(path)
    if len(m.columns) != 1:
        raise InputFormatError("expected two columns, cell_type and mRNA per cell", path=m.path)
    special = ("default", "other", "otherCells")
    value = {}
    for i, (r, v) in enumerate(zip(m.rows, m.values[:, 0], strict=True)):
        if not v > 0:
            raise InputFormatError(
                f"{r!r}: mRNA per cell must be positive", path=m.path, line=m.line_of(i)
            )
        value[r] = float(v)
    unknown = [i for i, r in enumerate(m.rows) if r not in types and r not in special]
    missing = [t for t in types if t not in value]
    default = value.get("default")
    for i in unknown:
        row = m.rows[i]
        near = [t for t in missing if t.lower() == row.lower()]
        near = near or difflib.get_close_matches(row, missing, n=1, cutoff=0.75)
        if near:
            raise InputFormatError(
                f"{row!r} is not a cell type of the reference; a misspelling of {near[0]!r} "
                f"(which has no row{' and would take the default' if default else ''})?",
                path=m.path,
                line=m.line_of(i),
            )
    if unknown and len(missing) == len(types):
        raise InputFormatError(
            f"no row names a cell type of the reference ({', '.join(types)}); the first, "
            f"{m.rows[unknown[0]]!r}, is not one",
            path=m.path,
            line=m.line_of(unknown[0]),
        )
    if missing and default is None:
        raise InputFormatError(
            f"no value for cell type {missing[0]!r} and no 'default' row", path=m.path
        )
    if unknown:
        ctx.info(
            f"{m.path}: rows for types not in the reference ignored: "
            + ", ".join(m.rows[i] for i in unknown)
        )
    other = value.get("other", value.get("otherCells", default if default is not None else 0.4))
    return [value.get(t, default or 0.0) for t in types], other


def _check_mixtures(Y: np.ndarray, mix: NamedMatrix, n_genes: int) -> None:
    """Refuse a sample without expression in the genes used (it has no proportions)."""
    import numpy as np

    empty = np.flatnonzero(~np.any(Y > 0, axis=0))
    if empty.size:
        raise InputFormatError(
            f"sample {mix.columns[empty[0]]!r} has no expression in the {n_genes} genes used "
            "(it has no proportions: leave it out)",
            path=mix.path,
        )


def _check_reference(S: np.ndarray, ref: NamedMatrix, order: list[str]) -> None:
    """Refuse a reference that cannot separate its cell types on these genes.

    The checks do not depend on the reference's scale (each is made on the
    profiles scaled to a largest value of one).
    """
    import numpy as np

    n = len(order)
    zero = np.flatnonzero(~np.any(S > 0, axis=0))
    if zero.size:
        raise InputFormatError(
            f"cell type {ref.columns[zero[0]]!r} has no expression in the {n} genes used",
            path=ref.path,
        )
    unit = S / S.max(axis=0)  # each type's largest value 1
    flat = np.flatnonzero(unit.std(axis=0) <= 1e-12)
    if flat.size and S.shape[0] > 1:
        raise InputFormatError(
            f"cell type {ref.columns[flat[0]]!r} has the same value in every gene "
            "(a zero-variance signature)",
            path=ref.path,
        )
    whole = S / S.max()  # the largest value 1
    top = whole.max(axis=1)
    informative = int(np.sum(whole.std(axis=1) > 1e-12 * np.where(top > 0, top, 1.0)))
    if S.shape[1] > 1 and informative <= S.shape[1]:
        raise InputFormatError(
            f"{S.shape[1]} cell types but only {informative} of the {n} "
            "shared genes differ between them: use more genes or fewer cell types",
            path=ref.path,
        )
    if S.shape[1] > 1:
        a = unit / np.linalg.norm(unit, axis=0)  # (scaled first: no squares underflow)
        _, sv, vt = np.linalg.svd(a, full_matrices=False)
        weak = sv < RANK_TOL * sv[0]
        if np.any(weak):
            # the types that take part in the dependencies (the null directions)
            null = np.abs(vt[weak])
            involved = np.flatnonzero((null > 0.01 * null.max(axis=1, keepdims=True)).any(axis=0))
            names = [repr(ref.columns[i]) for i in involved]
            listed = ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]
            raise InputFormatError(
                f"cell types {listed} cannot be told apart on the {n} genes used: their "
                "profiles are linearly dependent (identical, or one a combination of the others), "
                "so any split between them fits as well; leave one out or use more genes",
                path=ref.path,
            )


# -- run ----------------------------------------------------------------------


#: Columns of ``--stats``.
STATS_COLUMNS = ("sample", "r", "relative_rmse", "loglik", "em_updates", "converged", "sigma2")


def _stats_table(samples: list[str], Y: Any, fitted: Any, per_sample: list[tuple]) -> str:
    """``--stats``: each sample's agreement of observed and reconstructed expression over
    the genes used (:func:`seqem.deconv.quality.fit_quality`) and its fit record."""
    from ..deconv.quality import fit_quality

    def cell(value: Any, fmt: str) -> str:
        if value is None or (isinstance(value, float) and value != value):
            return "NA"
        return format(value, fmt)

    r, rmse = fit_quality(Y, fitted)
    lines = ["\t".join(STATS_COLUMNS)]
    for name, rj, ej, (ll, updates, converged, s2) in zip(samples, r, rmse, per_sample,
                                                           strict=True):  # fmt: skip
        lines.append("\t".join([
            name, cell(float(rj), ".6f"), cell(float(ej), ".6f"),
            cell(None if ll is None else float(ll), ".6f"), cell(updates, "d"),
            "NA" if converged is None else str(bool(converged)),
            cell(None if s2 is None else float(s2), ".6g"),
        ]))  # fmt: skip
    return "\n".join(lines) + "\n"


def _cmd_run(args: argparse.Namespace, ctx: RunContext) -> int:
    import numpy as np

    from ..deconv.mixture import multinomial_em, nnls
    from ..deconv.refine import refine_fit
    from ..deconv.robust import robust_fit, select_markers
    from ..io.matrix import read_matrix

    check_output_path(args.output)
    check_output_path(args.plot, plot=True)
    check_output_path(args.se)
    check_output_path(args.stats)
    if args.method != "robust":
        for flag, given in (("--other", args.other), ("--se", args.se),
                            ("--reference-var", args.reference_var),
                            ("--mrna-per-cell", args.mrna_per_cell)):  # fmt: skip
            if given:
                raise SeqemError(f"{flag} needs --method robust")
    if args.reference_var and not args.reference:
        raise SeqemError("--reference-var goes with --reference")
    if args.method != "refine" and args.refined_reference:
        raise SeqemError("--refined-reference needs --method refine")
    check_output_path(args.refined_reference)
    mix = read_matrix(args.mixtures)
    raw, labels = _reference_table(args)
    mix_scale, ref_scale = _scales(mix, raw, args.scale)
    auto = args.scale == "auto"
    ref, source, cell_sums = _profiles(
        raw, labels, _linear(raw, ref_scale, ctx, "reference", detected=auto),
        bool(args.sc_counts),
    )  # fmt: skip
    mix_linear = _linear(mix, mix_scale, ctx, "mixture", detected=auto)
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
        genes &= _read_genes(args.genes)
        ctx.info(f"{len(genes)} of them in {args.genes}")
        if len(genes) <= len(ref.columns):
            raise SeqemError(
                f"{args.genes}: only {len(genes)} of its genes are in both the mixtures and the "
                f"reference: need more than the {len(ref.columns)} cell types"
            )
    order = [g for g in ref.rows if g in genes]
    ri = {g: i for i, g in enumerate(ref.rows)}
    mi = {g: i for i, g in enumerate(mix.rows)}
    Y = mix_linear[[mi[g] for g in order]]
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
    _check_mixtures(Y, mix, len(order))
    columns = list(ref.columns)
    se = None
    # per sample: log-likelihood, EM updates, converged, error scale (None: not defined)
    per_sample: list[tuple] = [(None, None, None, None)] * Y.shape[1]
    if args.method == "robust":
        mrna, mrna_other = (None, 0.4)
        if args.mrna_per_cell:
            mrna, mrna_other = _read_mrna(args.mrna_per_cell, ref.columns, ctx)
        robust = robust_fit(Y, S, var=var, nu=args.nu, other=args.other, mrna=mrna,
                            mrna_other=mrna_other, n_threads=args.threads,
                            standard_errors=bool(args.se or args.report))  # fmt: skip
        props = robust.proportions
        if robust.other is not None:
            props = np.column_stack([props, robust.other])
            columns.append("other")
        se = robust.se
        fitted = S @ robust.coefficients.T
        per_sample = [(ll, f.n_iter, f.converged, s2) for ll, f, s2 in
                      zip(robust.loglik, robust.fits, robust.sigma2, strict=True)]  # fmt: skip
        ctx.results.update(
            loglik=[float(x) for x in robust.loglik],
            em_updates=[f.n_iter for f in robust.fits],
            sigma2=[float(x) for x in robust.sigma2],
        )
        if se is not None:
            ctx.results["standard_errors"] = [[float(x) for x in row] for row in se]
    elif args.method == "refine":
        refined = refine_fit(Y, S, cell_counts=sums, weight=args.prior_weight)
        props = refined.proportions
        shares = refined.profiles / refined.profiles.sum(axis=0)
        fitted = shares @ refined.expression_fractions.T * Y.sum(axis=0)
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
        fit = multinomial_em(Y, S, n_threads=args.threads)
        props = fit.proportions
        fitted = (S / S.sum(axis=0)) @ fit.expression_fractions.T * Y.sum(axis=0)
        per_sample = [(ll, f.n_iter, f.converged, None)
                      for ll, f in zip(fit.loglik, fit.fits, strict=True)]  # fmt: skip
        ctx.results.update(
            loglik=[float(x) for x in fit.loglik],
            em_updates=[f.n_iter for f in fit.fits],
        )
    else:
        props = nnls(Y, S)
        # the NNLS fit is the proportions' direction at its least-squares scale
        shape = S @ props.T
        fitted = shape * ((Y * shape).sum(axis=0) / (shape * shape).sum(axis=0))
    if not np.all(np.isfinite(props)):
        j = int(np.argwhere(~np.isfinite(props))[0, 0])
        raise SeqemError(
            f"{mix.path}: sample {mix.columns[j]!r}: the {args.method} fit gave no proportions "
            "(a numerical failure)"
        )
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
    if args.stats:
        write_text(args.stats, _stats_table(list(mix.columns), Y, fitted, per_sample))
        ctx.outputs.append(args.stats)
    if args.plot:
        from ..plotting import plot_proportions, save_figure

        ax = plot_proportions(props, list(mix.columns), columns)
        save_figure(ax.figure, args.plot)
        ctx.outputs.append(args.plot)
    ctx.results.update(n_genes=len(order), cell_types=columns, method=args.method)
    return 0
