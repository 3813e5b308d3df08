"""``seqem hmm``: segment DNA, fit and decode Gaussian HMMs on tables.

The work of each verb is a function (:func:`segment_fasta`,
:func:`fit_table`, :func:`decode_table`) that the command wrapper and
``seqem demo`` share; the wrappers turn arguments into calls and results
into messages.  NumPy and the models are imported inside the functions.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ._common import (
    COMMANDS,
    add_fit_options,
    add_run_options,
    check_output_path,
    column_list,
    examples,
    nonnegative_float,
    positive_int,
    probability,
    write_text,
)

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from ..hmm.base import BaseHMM
    from ..hmm.models import CategoricalHMM, GaussianHMM
    from ..io.bed import BedRecord
    from ..io.fasta import DnaSequences
    from ..io.table import Observations
    from ._common import RunContext

Callback = Callable[[int, int, float], None] | None

#: Bases per batch when decoding, so that posteriors (bases x states floats)
#: stay a few hundred megabytes even for a whole genome.
DECODE_BATCH = 1 << 23


def register(commands: Any) -> None:
    """Add the ``hmm`` group and its verbs to the top-level subparsers."""
    group = commands.add_parser(
        "hmm",
        help=COMMANDS["hmm"],
        description="Hidden Markov models with categorical (DNA) or Gaussian emissions.",
        epilog=examples(
            "seqem hmm segment data/example.fa.gz -n 3 -o segments.bed",
            "seqem hmm fit data/example_signal.tsv -n 3 --seq-col seq_id -o model.json",
            "seqem hmm decode model.json data/example_signal.tsv -o states.tsv",
        ),
    )
    verbs = group.add_subparsers(dest="verb", metavar="VERB", title="verbs")
    _add_segment(verbs)
    _add_fit(verbs)
    _add_decode(verbs)
    group.set_defaults(_parser=group)


# ---------------------------------------------------------------------------
# segment


SEGMENT_DESCRIPTION = """\
Split DNA into compositional segments (GC isochores, CpG-rich regions ...)
with a categorical HMM over the bases A, C, G, T.

Each FASTA record (or --region) is one sequence.  N and the other IUPAC
ambiguity codes are missing observations: they carry no evidence and take
the state of their neighbours; a sequence without any A, C, G or T is an
error (leave it out with --region), as are regions that overlap.  Lowercase
(soft-masked) bases count as uppercase.  States are numbered by the GC
content of their emissions, state0 the lowest, so labels do not depend on
the random start.

Output is BED6 (0-based, half-open): chrom, start, end, name (stateK), score
(1000 x the mean posterior probability of that state over the segment),
strand (.), after one '#' line naming the columns."""


def _add_segment(verbs: Any) -> None:
    p = verbs.add_parser(
        "segment",
        help="segment DNA into compositional states (BED output)",
        description=SEGMENT_DESCRIPTION,
        epilog=examples(
            "seqem hmm segment data/example.fa.gz -n 3 -o segments.bed",
            "seqem hmm segment data/example.fa.gz -n 3 --region chr1:1-30,000 | head",
            "seqem hmm segment data/example.fa.gz -n 3 --params params.json --report run.json "
            "-o segments.bed",
            "seqem hmm segment data/example.fa.gz -n 3 --plot segments.png -o segments.bed",
        ),
    )
    p.add_argument("fasta", metavar="FASTA", help="DNA FASTA, plain or gzip; '-' for stdin")
    p.add_argument(
        "-n",
        "--states",
        type=positive_int,
        default=2,
        metavar="N",
        help="number of hidden states (default: %(default)s)",
    )
    p.add_argument(
        "--region",
        action="append",
        metavar="R",
        help="segment only this region, NAME or NAME:START-END (1-based, inclusive; "
        "commas allowed); repeat for several",
    )
    p.add_argument(
        "-o", "--output", default="-", metavar="OUT.bed", help="BED output (default: stdout)"
    )
    p.add_argument(
        "--params",
        metavar="PARAMS.json",
        help="also write the fitted model (loadable by seqem) with the GC content of each state",
    )
    p.add_argument(
        "--segment-length",
        type=_length,
        default=1000.0,
        metavar="L",
        help="expected segment length in bases, used to start the transition probabilities "
        "(EM re-estimates them; default: %(default)g)",
    )
    p.add_argument(
        "--posterior-min",
        type=probability,
        default=0.0,
        metavar="P",
        help="leave out segments whose mean posterior is below P (default: %(default)s)",
    )
    p.add_argument(
        "--plot",
        metavar="FILE",
        help="draw GC content along each sequence (up to the first 8) shaded by state; "
        "the format follows the extension: .png, .pdf or .svg (needs matplotlib)",
    )
    add_fit_options(p, n_init=3)
    add_run_options(p)
    p.set_defaults(_run=_cmd_segment)


def _positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    value = nonnegative_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}")
    return value


def _columns(text: str) -> list[str]:
    """argparse type of ``--columns``: comma-separated column names, each once."""
    names = column_list(text)
    twice = [c for c in dict.fromkeys(names) if names.count(c) > 1]
    if twice:
        raise argparse.ArgumentTypeError(f"column {twice[0]!r} is named twice in {text!r}")
    return names


def _check_distinct(columns: Sequence[str] | None) -> None:
    from ..errors import ParameterError

    if columns is not None:
        twice = [c for c in dict.fromkeys(columns) if list(columns).count(c) > 1]
        if twice:
            raise ParameterError(f"column {twice[0]!r} is named twice in --columns")


def _length(text: str) -> float:
    value = nonnegative_float(text)
    if value < 1.0:
        raise argparse.ArgumentTypeError(f"must be a length >= 1, got {text!r}")
    return value


@dataclasses.dataclass
class Segmentation:
    """What :func:`segment_fasta` found."""

    model: CategoricalHMM
    seqs: DnaSequences
    states: np.ndarray  # int64 (n_bases,), Viterbi path, labels sorted by GC
    state_gc: np.ndarray  # float64 (n_states,)
    records: list[BedRecord]


def sort_states_by_gc(model: CategoricalHMM) -> np.ndarray:
    """Relabel ``model``'s states by increasing GC content; return the sorted GC values."""
    import numpy as np

    fitted: Any = model  # fitted attributes are set at run time

    emis = np.asarray(fitted.emissionprob_)
    gc = emis[:, 1] + emis[:, 2]
    order = np.argsort(gc, kind="stable")
    fitted.startprob_ = np.ascontiguousarray(np.asarray(fitted.startprob_)[order])
    fitted.transmat_ = np.ascontiguousarray(np.asarray(fitted.transmat_)[np.ix_(order, order)])
    fitted.emissionprob_ = np.ascontiguousarray(emis[order])
    return gc[order]


def sticky_start(n_states: int, segment_length: float) -> tuple[np.ndarray, np.ndarray]:
    """Uniform start probabilities and transitions that stay for ``segment_length`` on average.

    Compositional segments are long; EM started from transitions that switch
    often tends to settle on states that alternate base by base instead.
    """
    import numpy as np

    start = np.full(n_states, 1.0 / n_states)
    if n_states == 1:
        return start, np.ones((1, 1))
    leave = 1.0 / max(float(segment_length), 1.0)
    trans = np.full((n_states, n_states), leave / (n_states - 1))
    np.fill_diagonal(trans, 1.0 - leave)
    return start, trans


def _batches(bounds: np.ndarray, size: int) -> Iterator[tuple[int, int]]:
    """Runs of whole sequences ``[i, j)`` with about ``size`` rows each."""
    i, n = 0, len(bounds) - 1
    while i < n:
        j = i + 1
        while j < n and bounds[j + 1] - bounds[i] <= size:
            j += 1
        yield i, j
        i = j


def segments_from_path(
    states: np.ndarray,
    post_of_state: np.ndarray,
    name: str,
    offset: int,
    posterior_min: float = 0.0,
) -> list[BedRecord]:
    """BED records for the runs of equal states in one sequence.

    Parameters
    ----------
    states : int64 array, shape (T,)
        State path of the sequence.
    post_of_state : float64 array, shape (T,)
        Posterior probability of ``states[t]`` at each ``t``.
    name : str
        Chromosome (record) name.
    offset : int
        0-based position of the first base in the record.
    posterior_min : float
        Runs whose mean posterior is below this are left out.
    """
    import numpy as np

    from ..io.bed import BedRecord

    change = np.flatnonzero(states[1:] != states[:-1]) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [states.size]])
    cum = np.concatenate([[0.0], np.cumsum(post_of_state)])
    mean = (cum[ends] - cum[starts]) / (ends - starts)
    scores = np.clip(np.rint(1000.0 * mean), 0, 1000).astype(np.int64)
    return [
        BedRecord(name, offset + int(s), offset + int(e), f"state{int(states[s])}", int(sc), ".")
        for s, e, m, sc in zip(starts, ends, mean, scores, strict=True)
        if m >= posterior_min
    ]


def check_sequences(
    seqs: DnaSequences, regions: Sequence[str] | None, path: str, n_states: int
) -> None:
    """Refuse overlapping regions, a sequence without data, fewer bases than states.

    Bases given twice would count twice in the fit and give overlapping BED
    lines; a sequence of N only would get state calls without any evidence.
    """
    import numpy as np

    from ..errors import InputFormatError, ParameterError

    labels = list(regions) if regions is not None else list(seqs.names)
    spans = sorted(
        (seqs.names[k], int(seqs.starts[k]), int(seqs.starts[k] + seqs.lengths[k]), k)
        for k in range(seqs.n_sequences)
    )
    for (name_a, _, end_a, a), (name_b, start_b, _, b) in zip(spans, spans[1:], strict=False):
        if name_a == name_b and start_b < end_a:
            first, second = sorted((a, b))
            same = labels[first].strip() == labels[second].strip()
            raise ParameterError(
                f"--region {labels[second]!r} "
                + ("is given twice" if same else f"overlaps --region {labels[first]!r}")
                + "; give each base once"
            )
    for k in range(seqs.n_sequences):
        lo, hi = int(seqs.bounds[k]), int(seqs.bounds[k + 1])
        if not np.any(seqs.codes[lo:hi] >= 0):
            what = f"region {labels[k]!r} has" if regions is not None else "the record has"
            raise InputFormatError(
                f"{what} no A, C, G or T base (all N or other ambiguity codes): nothing to "
                "segment; leave it out"
                + (" (choose the other records with --region)" if regions is None else ""),
                path=path,
                record=None if regions is not None else seqs.names[k],
            )
    n_observed = int(seqs.codes.size - seqs.n_ambiguous)
    if n_observed < n_states:
        raise ParameterError(
            f"{n_observed} A, C, G or T base(s) for {n_states} states; a fit needs at least "
            "one base per state: decrease -n or give more sequence"
        )


def segment_fasta(
    fasta: str,
    *,
    n_states: int = 2,
    regions: Sequence[str] | None = None,
    n_init: int = 3,
    seed: int = 1,
    max_iter: int = 100,
    tol: float = 1e-3,
    threads: int = 0,
    posterior_min: float = 0.0,
    segment_length: float = 1000.0,
    callback: Callback = None,
) -> Segmentation:
    """Read DNA, fit a categorical HMM, decode, and build BED records.

    Every start has the transitions of :func:`sticky_start` and random
    emissions; states are then relabelled by GC content
    (:func:`sort_states_by_gc`).
    """
    import numpy as np

    from ..errors import InputFormatError
    from ..hmm.models import CategoricalHMM
    from ..io.fasta import read_fasta

    seqs = read_fasta(fasta, region=regions)
    name = "<stdin>" if fasta == "-" else fasta
    if seqs.n_ambiguous == seqs.codes.size:
        raise InputFormatError(
            "no A, C, G or T bases to fit: every base is N or another ambiguity code",
            path=name,
        )
    check_sequences(seqs, regions, name, n_states)
    model = CategoricalHMM(
        n_states,
        n_features=4,
        n_init=n_init,
        random_state=seed,
        max_iter=max_iter,
        tol=tol,
        n_threads=threads,
        callback=callback,
        init_params="e",
    )
    model.startprob_, model.transmat_ = sticky_start(n_states, segment_length)
    lengths = seqs.lengths
    model.fit(seqs.codes, lengths)
    model.callback = None
    state_gc = sort_states_by_gc(model)

    states = np.empty(seqs.codes.size, dtype=np.int64)
    records: list[BedRecord] = []
    bounds = seqs.bounds
    for i, j in _batches(bounds, DECODE_BATCH):
        lo, hi = int(bounds[i]), int(bounds[j])
        X = seqs.codes[lo:hi]
        lens = lengths[i:j]
        path = model.predict(X, lens)
        post = model.predict_proba(X, lens)
        states[lo:hi] = path
        chosen = post[np.arange(path.size), path]
        for k in range(i, j):
            a, b = int(bounds[k]) - lo, int(bounds[k + 1]) - lo
            records.extend(
                segments_from_path(
                    path[a:b], chosen[a:b], seqs.names[k], int(seqs.starts[k]), posterior_min
                )
            )
    return Segmentation(model, seqs, states, state_gc, records)


def model_document(model: BaseHMM, **extra: Any) -> str:
    """The model as JSON text (the format ``load_model`` reads) with extra keys."""
    doc = model.to_dict()
    doc.update(extra)
    return json.dumps(doc, indent=1) + "\n"


def _fit_summary(model: BaseHMM) -> str:
    r = model.fit_result_
    status = (
        f"converged after {r.n_iter} iterations"
        if r.converged
        else f"not converged after {r.n_iter} iterations ({r.stop_reason})"
    )
    return f"log-likelihood {r.loglik:.4f}, {status}, best of {r.n_init} start(s), seed {r.seed}"


def _cmd_segment(args: argparse.Namespace, ctx: RunContext) -> int:
    from ..io.bed import write_bed

    check_output_path(args.output)
    check_output_path(args.params)
    check_output_path(args.plot, plot=True)
    result = segment_fasta(
        args.fasta,
        n_states=args.states,
        regions=args.region,
        n_init=args.n_init,
        seed=args.seed,
        max_iter=args.max_iter,
        tol=args.tol,
        threads=args.threads,
        posterior_min=args.posterior_min,
        segment_length=args.segment_length,
        callback=ctx.progress("segment", args.n_init),
    )
    ctx.finish_progress()
    write_bed(args.output, result.records)
    ctx.outputs.append(args.output)
    gc = [round(float(g), 6) for g in result.state_gc]
    if args.params:
        write_text(
            args.params,
            model_document(
                result.model,
                alphabet="ACGT",
                state_gc=gc,
                state_order="states sorted by increasing GC content of their emissions",
            ),
        )
        ctx.outputs.append(args.params)
    if args.plot:
        plot_segmentation_file(result, args.plot)
        ctx.outputs.append(args.plot)
    seqs = result.seqs
    ctx.fit_results["segment"] = result.model.fit_result_.to_dict()
    ctx.results.update(
        n_sequences=seqs.n_sequences,
        n_bases=int(seqs.codes.size),
        n_ambiguous=seqs.n_ambiguous,
        n_segments=len(result.records),
        state_gc=gc,
        bases_per_state=[int(c) for c in _bincount(result.states, args.states)],
    )
    ctx.info(
        f"seqem hmm segment: {seqs.n_sequences} sequence(s), {seqs.codes.size:,} bases "
        f"({seqs.n_ambiguous:,} ambiguous, treated as missing) -> {len(result.records):,} "
        f"segments in {args.states} states"
    )
    ctx.info("  GC content by state: " + ", ".join(f"state{k} {g:.3f}" for k, g in enumerate(gc)))
    ctx.info("  " + _fit_summary(result.model))
    return 0


#: Records drawn by ``--plot`` (one panel each).
PLOT_MAX_RECORDS = 8


def plot_segmentation_file(result: Segmentation, path: str) -> None:
    """One panel per record (the first :data:`PLOT_MAX_RECORDS`): GC and states."""
    import numpy as np

    from ..plotting import _pyplot, plot_segmentation, save_figure

    plt = _pyplot()
    seqs = result.seqs
    n = min(seqs.n_sequences, PLOT_MAX_RECORDS)
    fig, axes = plt.subplots(n, 1, figsize=(10, 2.4 * n), squeeze=False)
    n_states = len(result.state_gc)
    for k in range(n):
        lo, hi = int(seqs.bounds[k]), int(seqs.bounds[k + 1])
        states = result.states[lo:hi]
        change = np.flatnonzero(states[1:] != states[:-1]) + 1
        starts = np.concatenate([[0], change])
        ends = np.concatenate([change, [states.size]])
        segments = [(int(a), int(b), int(states[a])) for a, b in zip(starts, ends, strict=True)]
        plot_segmentation(
            seqs.codes[lo:hi],
            segments,
            n_states=n_states,
            offset=int(seqs.starts[k]),
            title=seqs.names[k],
            ax=axes[k, 0],
        )
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def _bincount(states: np.ndarray, n: int) -> np.ndarray:
    import numpy as np

    return np.bincount(states, minlength=n)


# ---------------------------------------------------------------------------
# fit


FIT_DESCRIPTION = """\
Fit a Gaussian HMM to a numeric table (TSV or CSV, plain or gzip) and save the
model as JSON.

The first line of the table names the columns; each other line is one
observation.  With --seq-col, consecutive rows with the same id form one
sequence (each sequence's rows must be contiguous).  Missing values are not
supported: remove or impute them first.  The model file records the columns
used, so 'seqem hmm decode' picks the same ones."""


def _add_fit(verbs: Any) -> None:
    p = verbs.add_parser(
        "fit",
        help="fit a Gaussian HMM to a numeric table (model JSON output)",
        description=FIT_DESCRIPTION,
        epilog=examples(
            "seqem hmm fit data/example_signal.tsv -n 3 --seq-col seq_id -o model.json",
            "seqem hmm fit data/example_signal.tsv -n 3 --seq-col seq_id --columns x1,x2 "
            "--covariance-type full -o model_full.json --report run.json",
        ),
    )
    p.add_argument("table", metavar="TABLE", help="TSV/CSV with a header row; '-' for stdin")
    p.add_argument(
        "-n",
        "--states",
        type=positive_int,
        default=2,
        metavar="N",
        help="number of hidden states (default: %(default)s)",
    )
    p.add_argument(
        "-o", "--output", required=True, metavar="MODEL.json", help="model file to write"
    )
    p.add_argument(
        "--covariance-type",
        choices=("diag", "full"),
        default="diag",
        help="covariance of each state's Gaussian (default: %(default)s)",
    )
    p.add_argument(
        "--min-covar",
        type=_positive_float,
        default=1e-3,
        metavar="X",
        help="floor on the variances, > 0 (default: %(default)s)",
    )
    _add_table_options(p)
    add_fit_options(p, n_init=3)
    add_run_options(p)
    p.set_defaults(_run=_cmd_fit)


def _add_table_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--columns",
        type=_columns,
        metavar="A,B",
        help="columns to use, comma-separated (default: all but the sequence column)",
    )
    p.add_argument(
        "--seq-col",
        metavar="NAME",
        help="column whose value changes mark sequence boundaries (default: one sequence)",
    )


@dataclasses.dataclass
class TableFit:
    """What :func:`fit_table` found."""

    model: GaussianHMM
    obs: Observations


def fit_table(
    table: str,
    *,
    n_states: int = 2,
    columns: Sequence[str] | None = None,
    seq_col: str | None = None,
    covariance_type: str = "diag",
    min_covar: float = 1e-3,
    n_init: int = 3,
    seed: int = 1,
    max_iter: int = 100,
    tol: float = 1e-3,
    threads: int = 0,
    callback: Callback = None,
) -> TableFit:
    """Read a table and fit a Gaussian HMM to it."""
    from ..errors import ParameterError
    from ..hmm.models import GaussianHMM
    from ..io.table import read_table

    _check_distinct(columns)
    obs = read_table(table, columns=columns, seq_col=seq_col)
    if obs.n_rows < n_states:
        raise ParameterError(
            f"{obs.n_rows} row(s) for {n_states} states; a fit needs at least one row per "
            "state: decrease -n or give more rows"
        )
    model = GaussianHMM(
        n_states,
        covariance_type=covariance_type,
        min_covar=min_covar,
        n_init=n_init,
        random_state=seed,
        max_iter=max_iter,
        tol=tol,
        n_threads=threads,
        callback=callback,
    )
    model.fit(obs.X, obs.lengths)
    model.callback = None
    return TableFit(model, obs)


def _cmd_fit(args: argparse.Namespace, ctx: RunContext) -> int:
    check_output_path(args.output)
    result = fit_table(
        args.table,
        n_states=args.states,
        columns=args.columns,
        seq_col=args.seq_col,
        covariance_type=args.covariance_type,
        min_covar=args.min_covar,
        n_init=args.n_init,
        seed=args.seed,
        max_iter=args.max_iter,
        tol=args.tol,
        threads=args.threads,
        callback=ctx.progress("fit", args.n_init),
    )
    ctx.finish_progress()
    obs = result.obs
    write_text(
        args.output,
        model_document(result.model, data={"columns": list(obs.columns), "seq_col": args.seq_col}),
    )
    ctx.outputs.append(args.output)
    ctx.fit_results["fit"] = result.model.fit_result_.to_dict()
    ctx.results.update(
        n_rows=obs.n_rows, n_sequences=int(obs.lengths.size), columns=list(obs.columns)
    )
    ctx.info(
        f"seqem hmm fit: GaussianHMM with {args.states} states ({args.covariance_type} "
        f"covariances) on {obs.n_rows:,} rows x {len(obs.columns)} columns "
        f"({', '.join(obs.columns)}) in {obs.lengths.size} sequence(s)"
    )
    ctx.info("  " + _fit_summary(result.model))
    return 0


# ---------------------------------------------------------------------------
# decode


DECODE_DESCRIPTION = """\
Decode a numeric table with a model saved by 'seqem hmm fit': the most
probable state of every row (Viterbi path), and with --posteriors the
posterior probability of each state.

Output is TSV: seq_id (with a sequence column), row (1-based data row of the
input), state, and posterior_0, posterior_1, ... with --posteriors.  The
columns and sequence column recorded in the model file are used unless
--columns / --seq-col say otherwise."""


def _add_decode(verbs: Any) -> None:
    p = verbs.add_parser(
        "decode",
        help="most probable states of a table's rows under a saved model (TSV output)",
        description=DECODE_DESCRIPTION,
        epilog=examples(
            "seqem hmm fit data/example_signal.tsv -n 3 --seq-col seq_id -o model.json",
            "seqem hmm decode model.json data/example_signal.tsv -o states.tsv",
            "seqem hmm decode model.json data/example_signal.tsv --posteriors | head",
        ),
    )
    p.add_argument("model", metavar="MODEL.json", help="model file written by 'seqem hmm fit'")
    p.add_argument("table", metavar="TABLE", help="TSV/CSV with a header row; '-' for stdin")
    p.add_argument(
        "-o", "--output", default="-", metavar="OUT.tsv", help="TSV output (default: stdout)"
    )
    p.add_argument(
        "--posteriors", action="store_true", help="add a posterior_K column for every state"
    )
    _add_table_options(p)
    add_run_options(p)
    p.set_defaults(_run=_cmd_decode)


@dataclasses.dataclass
class Decoding:
    """What :func:`decode_table` found."""

    model: BaseHMM
    obs: Observations
    states: np.ndarray  # int64 (n_rows,)
    posteriors: np.ndarray | None  # float64 (n_rows, n_states)
    viterbi_logprob: float
    loglik: float | None


def _model_data_section(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh).get("data", {})
    return data if isinstance(data, dict) else {}


def decode_table(
    model_path: str,
    table: str,
    *,
    columns: Sequence[str] | None = None,
    seq_col: str | None = None,
    posteriors: bool = False,
    threads: int = 0,
) -> Decoding:
    """Load a model, read a table, and decode it."""
    import numpy as np

    from ..errors import InputFormatError, ParameterError
    from ..hmm.models import CategoricalHMM, load_model
    from ..io.table import read_table

    model = load_model(model_path)
    saved = _model_data_section(model_path)
    _check_distinct(columns)
    recorded = [str(c) for c in saved.get("columns") or []]
    if columns is None and recorded:
        columns = recorded
    elif columns is not None and recorded:
        moved = [c for i, c in enumerate(columns) if c in recorded and recorded.index(c) != i]
        if moved:
            raise ParameterError(
                f"--columns {','.join(columns)}: the model was fitted to the columns "
                f"{','.join(recorded)} in that order, and {moved[0]!r} is not in its place; "
                "give them in the model's order"
            )
    if seq_col is None and saved.get("seq_col"):
        seq_col = str(saved["seq_col"])
    obs = read_table(table, columns=columns, seq_col=seq_col)
    name = "<stdin>" if table == "-" else table
    X: np.ndarray = obs.X
    if isinstance(model, CategoricalHMM):
        if X.shape[1] != 1 or np.any(X != np.round(X)):
            raise InputFormatError(
                "a categorical model decodes one column of integer symbols (-1 = missing); "
                "choose it with --columns",
                path=name,
            )
        X = X[:, 0].astype(np.int64)
    else:
        d = getattr(model, "n_features", None)
        if d is not None and X.shape[1] != d:
            raise InputFormatError(
                f"the table gives {X.shape[1]} columns ({', '.join(obs.columns)}) but the model "
                f"was fitted to {d}; choose them with --columns",
                path=name,
            )
    model.n_threads = threads
    logprob, states = model.decode(X, obs.lengths)
    post = None
    loglik = None
    if posteriors:
        loglik, post = model.score_samples(X, obs.lengths)
    return Decoding(model, obs, states, post, float(logprob), loglik)


def decode_rows(result: Decoding) -> tuple[list[str], Iterator[list[Any]]]:
    """Header and rows of the decode table."""
    import numpy as np

    obs = result.obs
    header = ["row", "state"]
    ids: Sequence[str] | None = None
    if obs.seq_ids is not None:
        header.insert(0, "seq_id")
        ids = np.repeat(np.asarray(obs.seq_ids, dtype=object), obs.lengths).tolist()
    post = result.posteriors
    if post is not None:
        header += [f"posterior_{k}" for k in range(post.shape[1])]
    states = result.states.tolist()
    post_rows = post.tolist() if post is not None else None

    def rows() -> Iterator[list[Any]]:
        for t, state in enumerate(states):
            row: list[Any] = [t + 1, state]
            if ids is not None:
                row.insert(0, ids[t])
            if post_rows is not None:
                row.extend(post_rows[t])
            yield row

    return header, rows()


def _cmd_decode(args: argparse.Namespace, ctx: RunContext) -> int:
    from ..io.table import write_tsv

    check_output_path(args.output)
    result = decode_table(
        args.model,
        args.table,
        columns=args.columns,
        seq_col=args.seq_col,
        posteriors=args.posteriors,
        threads=args.threads,
    )
    header, rows = decode_rows(result)
    write_tsv(args.output, header, rows)
    ctx.outputs.append(args.output)
    obs = result.obs
    counts = _bincount(result.states, result.model.n_components)
    ctx.results.update(
        n_rows=obs.n_rows,
        n_sequences=int(obs.lengths.size),
        columns=list(obs.columns),
        viterbi_logprob=result.viterbi_logprob,
        loglik=result.loglik,
        rows_per_state=[int(c) for c in counts],
    )
    ctx.info(
        f"seqem hmm decode: {obs.n_rows:,} rows in {obs.lengths.size} sequence(s); rows per "
        "state: " + ", ".join(f"state{k} {int(c):,}" for k, c in enumerate(counts))
    )
    return 0
