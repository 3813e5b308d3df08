"""``seqem profile``: build profile HMMs from alignments, search databases, emit sequences.

The work of each verb is a function (:func:`build_models`, :func:`search_models`,
:func:`emit_fasta`) that the command wrapper calls; the wrappers turn
arguments into calls and results into messages.  NumPy, Numba and the models
are imported inside the functions, so that ``seqem --help`` stays fast.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import TYPE_CHECKING, Any, NamedTuple

from ..errors import InputFormatError, ParameterError, SeqemError
from ._common import (
    COMMANDS,
    DEFAULT_SEED,
    add_fit_options,
    add_run_options,
    check_output_path,
    examples,
    finite_float,
    int_range,
    nonnegative_float,
    nonnegative_int,
    positive_float,
    positive_int,
    positive_probability,
    probability,
    write_text,
)

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable, Iterator

    from ..io.msa import MSA
    from ..io.sequences import DigitalSequences
    from ..profile.calibrate import Calibration
    from ..profile.model import ProfileHMM
    from ..profile.pipeline import Filters
    from ..profile.targets import Layout
    from ._common import RunContext

#: Columns of the ``seqem profile search`` table.
HIT_COLUMNS = (
    "target_name",
    "target_accession",
    "query_name",
    "query_accession",
    "evalue",
    "bits",
    "length",
    "description",
)

#: ``--strand`` choices: which strands of a nucleotide database are searched.
STRANDS = ("both", "plus", "minus")


def register(commands: Any) -> None:
    """Add the ``profile`` group and its verbs to the top-level subparsers."""
    group = commands.add_parser(
        "profile",
        help=COMMANDS["profile"],
        description="Profile hidden Markov models of sequence families (HMMER3 model files).",
        epilog=examples(
            "seqem profile build data/example_family.sto -o family.hmm",
            "seqem profile train data/example_family.fa -o trained.hmm",
            "seqem profile align data/example_family.hmm data/example_family.fa -o aligned.sto",
            "seqem profile search data/example_family.hmm data/example_db.fa -o hits.tsv",
            "seqem profile scan data/example_family.hmm data/example_family.fa -o domains.tsv",
            "seqem profile seqsearch data/example_query.fa data/example_db.fa -o hits.tsv",
            "seqem profile iterate data/example_query.fa data/example_db.fa -o hits.tsv",
            "seqem profile press family.hmm",
            "seqem profile fetch data/example_family.hmm example_family -o one.hmm",
            "seqem profile stat data/example_family.hmm",
            "seqem profile emit data/example_family.hmm -N 10 -o samples.fa",
            "seqem profile logo data/example_family.hmm -o logo.png",
        ),
    )
    verbs = group.add_subparsers(dest="verb", metavar="VERB", title="verbs")
    _add_build(verbs)
    _add_train(verbs)
    _add_align(verbs)
    _add_search(verbs)
    _add_scan(verbs)
    from .profile_query import _add_iterate, _add_seqsearch

    _add_seqsearch(verbs)
    _add_iterate(verbs)
    _add_press(verbs)
    _add_fetch(verbs)
    _add_stat(verbs)
    _add_emit(verbs)
    _add_logo(verbs)
    group.set_defaults(_parser=group)


def read_models(path: str) -> list[ProfileHMM]:
    """The models of a HMMER3 file."""
    from ..io.hmmer import read_hmmer

    return read_hmmer(path)


# ---------------------------------------------------------------------------
# build


BUILD_DESCRIPTION = """\
Build a profile HMM from a multiple alignment, the way hmmbuild does:
position-based sequence weights, consensus columns by residue fraction
(--symfrac) or from the '#=GC RF' line (--hand), entropy weighting and
Dirichlet priors.  The model is calibrated for E-values and written as a
HMMER3/f file (with STATS lines) that HMMER and 'seqem profile search' read.

The alignment is Stockholm, aligned FASTA or A2M (told by the file name,
else the content), plain or gzip.  A Stockholm file of several alignments
gives one model per alignment, all in the one output file, as hmmbuild
does: each is named by its '#=GF ID' line (numbered after the file name
when it has none), and the names must differ.  A summary like hmmbuild's
goes to stderr for each model: name, number of sequences, alignment length,
model length M, effective number of sequences and mean relative entropy per
match state (bits)."""


def _add_build(verbs: Any) -> None:
    p = verbs.add_parser(
        "build",
        help="build a profile HMM from a multiple alignment (HMMER3 output)",
        description=BUILD_DESCRIPTION,
        epilog=examples(
            "seqem profile build data/example_family.sto -o family.hmm",
            "seqem profile build data/example_family.sto --hand --name fam -o family_rf.hmm",
            "seqem profile build data/example_family.sto --EfN 2000 --seed 7 -o family.hmm",
        ),
    )
    p.add_argument("alignment", metavar="ALIGNMENT", help="Stockholm, aligned FASTA or A2M")
    p.add_argument("-o", "--output", required=True, metavar="MODEL.hmm", help="HMMER3 model file")
    p.add_argument(
        "--name",
        metavar="N",
        help="model name (default: the alignment's #=GF ID, else the file name without "
        "its extension; only for a file of one alignment)",
    )
    p.add_argument(
        "--symfrac",
        type=probability,
        default=0.5,
        metavar="F",
        help="a column is a consensus (match) column when its weighted residue fraction "
        "is at least F (default: %(default)s)",
    )
    p.add_argument(
        "--hand",
        action="store_true",
        help="take the consensus columns from the '#=GC RF' line (A2M: its match columns)",
    )
    kind = p.add_mutually_exclusive_group()
    for flag, name in (("--amino", "amino"), ("--dna", "DNA"), ("--rna", "RNA")):
        kind.add_argument(
            flag,
            dest="alphabet",
            action="store_const",
            const=name,
            help=f"the alignment is {name if name != 'amino' else 'protein'} (default: guessed "
            "from its residues)",
        )
    add_weighting_options(p)
    add_calibration_options(p, seed=True)
    add_run_options(p, threads=False)
    p.set_defaults(_run=_cmd_build)


def add_weighting_options(p: argparse.ArgumentParser) -> None:
    """hmmbuild's options of sequence weighting, effective sequence number and prior
    (read back by :func:`build_options_of`)."""
    g = p.add_argument_group("hmmbuild's weighting and prior options")
    weights = g.add_mutually_exclusive_group()
    weights.add_argument(
        "--wnone",
        dest="weighting",
        action="store_const",
        const="none",
        default="pb",
        help="give every sequence weight 1 (default: position-based weights, --wpb)",
    )
    weights.add_argument(
        "--wblosum",
        dest="weighting",
        action="store_const",
        const="blosum",
        help="BLOSUM weights: one over the size of each sequence's single-linkage cluster at "
        "identity --wid",
    )
    g.add_argument(
        "--wid",
        type=probability,
        default=0.62,
        metavar="X",
        help="identity of --wblosum's clusters (default: %(default)s)",
    )
    effn = g.add_mutually_exclusive_group()
    effn.add_argument(
        "--enone",
        action="store_true",
        help="no entropy weighting: the effective number of sequences is their number",
    )
    effn.add_argument(
        "--eclust",
        action="store_true",
        help="the effective number of sequences is the number of single-linkage clusters at "
        "identity --eid",
    )
    effn.add_argument(
        "--eset",
        type=positive_float,
        metavar="X",
        help="set the effective number of sequences to X (default: entropy weighting)",
    )
    g.add_argument(
        "--eid",
        type=probability,
        default=0.62,
        metavar="X",
        help="identity of --eclust's clusters (default: %(default)s)",
    )
    g.add_argument(
        "--ere",
        type=positive_float,
        metavar="X",
        help="entropy weighting's target mean relative entropy per match state, bits "
        "(default: 0.59 for protein, 0.62 for DNA/RNA)",
    )
    g.add_argument(
        "--esigma",
        type=positive_float,
        default=45.0,
        metavar="X",
        help="entropy weighting's least total relative entropy of the model, bits "
        "(default: %(default)s)",
    )
    g.add_argument(
        "--fragthresh",
        type=probability,
        default=0.5,
        metavar="X",
        help="a row spanning at most X of the columns is a fragment (default: %(default)s)",
    )
    g.add_argument(
        "--plaplace",
        action="store_true",
        help="a Laplace (+1) prior instead of the default Dirichlet mixture priors",
    )


def build_options_of(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of :func:`~seqem.profile.build.build_from_msa` that
    :func:`add_weighting_options` sets."""
    effn: str | float = "entropy" if args.eset is None else args.eset
    if args.enone or args.eclust:
        effn = "none" if args.enone else "clust"
    return {
        "weighting": args.weighting,
        "wid": args.wid,
        "effn": effn,
        "eid": args.eid,
        "ere": args.ere,
        "esigma": args.esigma,
        "fragthresh": args.fragthresh,
        "prior": "laplace" if args.plaplace else "default",
    }


#: hmmbuild's calibration defaults, as :class:`~seqem.profile.calibrate.Calibration` holds
#: them (written out here so that building the parser imports no numerics; a test checks
#: that they agree).
CALIBRATION_DEFAULTS = {"EmL": 200, "EmN": 200, "EvL": 200, "EvN": 200, "EfL": 100,
                        "EfN": 200, "Eft": 0.04, "seed": 42}  # fmt: skip


def add_calibration_options(p: argparse.ArgumentParser, *, seed: bool) -> None:
    """hmmbuild's options of the E-value calibration (:class:`~seqem.profile.calibrate.
    Calibration`), with its defaults."""
    d = CALIBRATION_DEFAULTS
    g = p.add_argument_group(
        "E-value calibration (as hmmbuild's; more sequences: less simulation noise)"
    )
    for which, what in (("m", "MSV"), ("v", "Viterbi"), ("f", "Forward")):
        g.add_argument(f"--E{which}L", type=positive_int, default=d[f"E{which}L"],
                       metavar="N", help=f"length of the sequences simulated for the {what} "
                       "fit (default: %(default)s)")  # fmt: skip
        g.add_argument(f"--E{which}N", type=positive_int, default=d[f"E{which}N"],
                       metavar="N", help=f"number of sequences simulated for the {what} fit "
                       "(default: %(default)s)")  # fmt: skip
    g.add_argument("--Eft", type=positive_probability, default=d["Eft"], metavar="X",
                   help="tail mass at which the Forward tau is read, below 1 (default: "
                   "%(default)s)")  # fmt: skip
    if seed:
        g.add_argument("--seed", type=nonnegative_int, default=d["seed"], metavar="S",
                       help="seed of the simulated sequences (default: %(default)s)")  # fmt: skip


def calibration_of(args: argparse.Namespace, *, seed: bool) -> Calibration:
    """The :class:`~seqem.profile.calibrate.Calibration` a command's options ask for."""
    from ..profile.calibrate import Calibration

    names = ("EmL", "EmN", "EvL", "EvN", "EfL", "EfN", "Eft")
    chosen = {n: getattr(args, n) for n in names}
    if seed:
        chosen["seed"] = args.seed
    return Calibration(**chosen)


def default_model_name(path: str) -> str:
    """hmmbuild's default name: the file name without folders and extensions.

    >>> default_model_name("aln/globins4.sto.gz")
    'globins4'
    """
    import os

    base = os.path.basename(path)
    if base in ("", "-"):
        return "model"
    for ext in (".gz", ".sto", ".stk", ".sth", ".stockholm", ".a2m", ".afa", ".fasta", ".fa"):
        if base.lower().endswith(ext) and len(base) > len(ext):
            base = base[: -len(ext)]
    word = "_".join(base.split())
    return word or "model"


def build_models(
    alignment: str,
    *,
    name: str | None = None,
    symfrac: float = 0.5,
    hand: bool = False,
    calibration: Calibration | None = None,
    options: dict[str, Any] | None = None,
    alphabet: str | None = None,
) -> list[tuple[ProfileHMM, int, int]]:
    """Read the alignments of a file, build and calibrate a model from each; return each
    model with its alignment's nseq and alen, in file order (``options``: more keyword
    arguments of :func:`~seqem.profile.build.build_from_msa`; ``alphabet``: ``"amino"``,
    ``"DNA"`` or ``"RNA"`` instead of each alignment's guessed one).

    As hmmbuild: a Stockholm file of several alignments gives one model per
    alignment, named by its ``#=GF ID`` (numbered after the file name when it
    has none); two models of one name are an error, and so is ``name`` with
    several alignments.
    """
    from ..io.msa import read_msas
    from ..profile.calibrate import calibrate

    if name is not None and len(name.split()) != 1:
        raise ParameterError(f"--name {name!r}: a model name must be one word")
    from ..profile.model import alphabet_named

    msas = read_msas(alignment, alphabet=None if alphabet is None else alphabet_named(alphabet))
    if name is not None and len(msas) > 1:
        raise ParameterError(
            f"--name names one model, but {_shown(alignment)} holds {len(msas)} alignments; "
            "name each with a '#=GF ID' line instead"
        )
    names = []
    for i, msa in enumerate(msas, start=1):
        if name is not None:
            names.append(name)
        elif msa.name:
            names.append(msa.name)
        elif len(msas) == 1:
            names.append(default_model_name(alignment))
        else:
            names.append(f"{default_model_name(alignment)}_{i}")
    first: dict[str, int] = {}
    for i, model_name in enumerate(names, start=1):
        if model_name in first:
            raise InputFormatError(
                f"alignments {first[model_name]} and {i} of the file are both named "
                f"{model_name!r}; the models of one file need different names (#=GF ID)",
                path=_shown(alignment),
            )
        first[model_name] = i
    built = []
    for msa, model_name in zip(msas, names, strict=True):
        hmm = _build_one(msa, alignment, name=model_name, symfrac=symfrac, hand=hand,
                         options=options)  # fmt: skip
        calibrate(hmm, settings=calibration)
        built.append((hmm, msa.nseq, msa.alen))
    return built


def build_model(
    alignment: str, *, name: str | None = None, symfrac: float = 0.5, hand: bool = False
) -> tuple[ProfileHMM, int, int]:
    """Read an alignment, build and calibrate a model; return it with nseq and alen.

    The file must hold one alignment (:func:`build_models` builds one model
    per alignment of a file that holds several).
    """
    from ..io.msa import read_msa
    from ..profile.calibrate import calibrate

    if name is not None and len(name.split()) != 1:
        raise ParameterError(f"--name {name!r}: a model name must be one word")
    msa = read_msa(alignment)
    if name is None and not msa.name:
        name = default_model_name(alignment)
    hmm = _build_one(msa, alignment, name=name, symfrac=symfrac, hand=hand)
    calibrate(hmm)
    return hmm, msa.nseq, msa.alen


def _shown(path: str) -> str:
    """``path`` as messages name it (standard input is ``<stdin>``)."""
    return "<stdin>" if path == "-" else path


def _build_one(
    msa: MSA,
    alignment: str,
    *,
    name: str | None,
    symfrac: float,
    hand: bool,
    options: dict[str, Any] | None = None,
) -> ProfileHMM:
    """One model from one alignment of the file ``alignment``; errors name the file
    and the command-line options."""
    import numpy as np

    from ..profile.build import build_from_msa

    where = _shown(alignment)
    label = f"alignment {msa.name!r}" if msa.name else "the alignment"
    if hand:
        if msa.rf is not None:
            gaps = np.frombuffer(b".-_~", np.uint8)
            if np.isin(np.frombuffer(msa.rf.encode("latin-1"), np.uint8), gaps).all():
                raise InputFormatError(
                    f"--hand: the '#=GC RF' line of {label} marks no consensus column (it is "
                    "all gaps)",
                    path=where,
                )
        elif msa.match_columns is None:
            raise InputFormatError(
                f"--hand takes the consensus columns from a '#=GC RF' line (or the match "
                f"columns of an A2M file), and {label} has none; add one, or leave out --hand",
                path=where,
            )
        elif not msa.match_columns.any():
            raise InputFormatError(
                "--hand: the A2M rows have no match column (upper-case letters or '-')",
                path=where,
            )
    try:
        return build_from_msa(msa, symfrac=symfrac, use_rf=hand, name=name, **(options or {}))
    except InputFormatError as exc:
        if exc.path is not None:
            raise
        message = exc.message
        if not hand and message.startswith("no consensus columns"):
            message = (
                f"{label} has no consensus column: no column has a weighted residue "
                f"fraction of at least --symfrac {symfrac:g}; lower --symfrac, or mark the "
                "consensus columns with a '#=GC RF' line and use --hand"
            )
        raise InputFormatError(message, path=where) from None


def _cmd_build(args: argparse.Namespace, ctx: RunContext) -> int:
    from ..io.hmmer import write_hmmer

    check_output_path(args.output)
    calibration = calibration_of(args, seed=True)  # before the work
    options = build_options_of(args)
    built = build_models(
        args.alignment, name=args.name, symfrac=args.symfrac, hand=args.hand,
        calibration=calibration, options=options, alphabet=args.alphabet,
    )  # fmt: skip
    write_hmmer(args.output, [hmm for hmm, _, _ in built])
    ctx.outputs.append(args.output)
    rows = []
    for hmm, nseq, alen in built:
        re_pos = float(hmm.meta.get("re_per_position", float("nan")))
        effn = float(hmm.effn) if hmm.effn is not None else float("nan")
        rows.append(
            dict(name=hmm.name, nseq=nseq, alen=alen, M=hmm.M, eff_nseq=effn,
                 re_per_position=re_pos)
        )  # fmt: skip
        ctx.info(
            f"seqem profile build: {hmm.name}: nseq {nseq}, alen {alen}, M {hmm.M}, "
            f"eff_nseq {effn:.2f}, re/pos {re_pos:.3f} -> {args.output}"
        )
    if len(rows) == 1:
        ctx.results.update(rows[0])
    else:
        ctx.results.update(n_models=len(rows), models=rows)
    return 0


TRAIN_DESCRIPTION = """\
Train a profile HMM from unaligned sequences of one family by Baum-Welch
(no alignment needed) and write it as HMMER3/f with calibrated E-value
parameters.

The model is the glocal Plan7 core model with HMMER's default Dirichlet-
mixture priors.  Each start begins from a different training sequence and is
fitted by Baum-Welch, then refined by cross-fitting (every sequence aligned
to the model estimated from the others) and by model surgery (match states
that most sequences delete are removed, inserts that most sequences use
become match states; a change is kept when the cross-validated likelihood
rises).  The start with the best cross-validated likelihood wins, and its
final parameters are entropy-weighted mean posterior estimates, as hmmbuild
makes them from an alignment.  -M sets the starting model length (default:
the median sequence length)."""


def _add_train(verbs: Any) -> None:
    p = verbs.add_parser(
        "train",
        help="train a profile HMM from unaligned sequences (Baum-Welch; HMMER3 output)",
        description=TRAIN_DESCRIPTION,
        epilog=examples(
            "seqem profile train data/example_family.fa -o trained.hmm",
            "seqem profile train data/example_family.fa -M 60 --n-init 8 --seed 3 -o trained.hmm",
        ),
    )
    p.add_argument("sequences", metavar="SEQS", help="unaligned FASTA (gzip ok); '-' for stdin")
    p.add_argument("-o", "--output", required=True, metavar="MODEL.hmm", help="HMMER3 model file")
    p.add_argument(
        "-M",
        "--length",
        type=positive_int,
        metavar="M",
        help="starting number of match states (default: the median sequence length)",
    )
    p.add_argument(
        "--max-surgery",
        type=nonnegative_int,
        default=3,
        metavar="N",
        help="rounds of model surgery (default 3; 0 keeps M fixed)",
    )
    p.add_argument(
        "--no-cross-fit",
        action="store_true",
        help="skip the cross-fitted refinement (and surgery): plain Baum-Welch",
    )
    p.add_argument("--name", metavar="N", help="model name (default: the file name)")
    add_fit_options(p, n_init=4)
    add_calibration_options(p, seed=False)
    add_run_options(p)
    p.set_defaults(_run=_cmd_train)


def _add_align(verbs: Any) -> None:
    p = verbs.add_parser(
        "align",
        help="align sequences to a profile HMM (Stockholm or A2M output)",
        description="Align each sequence to the model (glocal, one copy per sequence) by "
        "maximum expected accuracy (default) or Viterbi, and write the multiple alignment: "
        "one column per match state, inserted and flanking residues in lower case.",
        epilog=examples(
            "seqem profile align data/example_family.hmm data/example_family.fa -o aligned.sto",
            "seqem profile align data/example_family.hmm data/example_family.fa "
            "--viterbi -o aligned.a2m",
        ),
    )
    p.add_argument("model", metavar="MODEL.hmm", help="HMMER3 model file (its first model)")
    p.add_argument("sequences", metavar="SEQS", help="FASTA (gzip ok); '-' for stdin")
    p.add_argument(
        "-o",
        "--output",
        default="-",
        metavar="OUT.sto",
        help="output; '.a2m' or '.fa' names give A2M, anything else Stockholm (default: stdout)",
    )
    p.add_argument("--viterbi", action="store_true", help="Viterbi instead of posterior (MEA)")
    p.add_argument(
        "--local",
        action="store_true",
        help="align each sequence to its best local segment of the model, the residues "
        "outside it unaligned, as hmmalign does (default: the whole model, glocal)",
    )
    p.add_argument(
        "--trim",
        action="store_true",
        help="leave out the residues before the first node and after the last (the "
        "unaligned flanks), as hmmalign --trim",
    )
    add_run_options(p)
    p.set_defaults(_run=_cmd_align)


def _one_stdin(model: str, sequences: str, what: str) -> None:
    """Standard input can hold the model file or the sequences (``what``), not both."""
    if model == "-" and sequences == "-":
        raise ParameterError(
            f"standard input ('-') cannot be both the model file and the {what}; "
            "give one of them as a file"
        )


def _cmd_align(args: argparse.Namespace, ctx: RunContext) -> int:
    from ..profile.align import align, check_names

    check_output_path(args.output)
    _one_stdin(args.model, args.sequences, "sequences")
    hmm = read_models(args.model)[0]
    seqs = read_database(args.sequences, hmm)
    a2m = args.output.lower().endswith((".a2m", ".fa", ".fasta", ".afa"))
    # Stockholm rows are numbered when their names could not name them, as hmmalign
    # (Easel's writer) numbers duplicates; A2M needs unique names to read back
    if a2m:
        try:  # before the work
            check_names(seqs.names, stockholm=False)
        except InputFormatError as exc:
            raise InputFormatError(
                exc.message + " (or write Stockholm, whose rows are then numbered)",
                path=_shown(args.sequences),
                record=exc.record,
            ) from None
        rows, reason = list(seqs.names), None
    else:
        rows, reason = unique_row_names(list(seqs.names))
    result = align(
        hmm, seqs.codes, seqs.bounds, rows, method="viterbi" if args.viterbi else "mea",
        threads=args.threads, mode="local" if args.local else "glocal",
    )  # fmt: skip
    if args.trim:
        result = result.trimmed()
    text = result.a2m() if a2m else result.stockholm()
    if reason is not None:
        text = with_unique_names_note(text)
        ctx.info(
            f"{args.output}: {reason}, so the rows are numbered N|NAME, as hmmalign numbers "
            "rows whose names are not unique"
        )
    write_text(args.output, text)
    ctx.outputs.append(args.output)
    ctx.results.update(n_sequences=seqs.n_sequences, M=hmm.M)
    ctx.info(
        f"seqem profile align: {seqs.n_sequences} sequence(s) aligned to {hmm.name} "
        f"(M {hmm.M}) -> {args.output}"
    )
    return 0


def _cmd_train(args: argparse.Namespace, ctx: RunContext) -> int:
    import numpy as np

    from ..io.hmmer import write_hmmer
    from ..io.sequences import read_sequences
    from ..profile.calibrate import calibrate
    from ..profile.train import check_model_length, train

    check_output_path(args.output)
    calibration = calibration_of(args, seed=False)
    if args.name is not None and len(args.name.split()) != 1:
        raise ParameterError(f"--name {args.name!r}: a model name must be one word")
    seqs = read_sequences(args.sequences)
    name = args.name or ("trained" if args.sequences == "-" else default_model_name(args.sequences))
    try:
        M = int(np.median(seqs.lengths)) if args.length is None else args.length
        check_model_length(
            seqs.codes, seqs.bounds, seqs.alphabet, M, n_threads=args.threads,
            given="model length" if args.length is None else "-M",
        )  # fmt: skip
    except ParameterError as exc:
        raise ParameterError(exc.message, path=_shown(args.sequences)) from None
    result = train(
        seqs.codes,
        seqs.bounds,
        seqs.alphabet,
        M=args.length,
        n_init=args.n_init,
        max_iter=args.max_iter,
        tol=args.tol,
        random_state=args.seed,
        n_threads=args.threads,
        name=name,
        cross_fit_weight=None if args.no_cross_fit else 0.1,
        max_surgery=args.max_surgery,
    )
    hmm = result.hmm
    calibrate(hmm, settings=calibration)
    write_hmmer(args.output, hmm)
    ctx.outputs.append(args.output)
    ctx.fit_results["train"] = result.fit.to_dict()
    ctx.results.update(name=hmm.name, nseq=seqs.n_sequences, M=hmm.M, eff_nseq=hmm.effn)
    if result.cross_fit is not None:
        ctx.results.update(
            cross_validated_loglik=result.cross_fit.loglik,
            cross_fit_rounds=result.cross_fit.n_rounds,
        )
    status = "converged" if result.fit.converged else f"not converged ({result.fit.stop_reason})"
    ctx.info(
        f"seqem profile train: {hmm.name}: nseq {seqs.n_sequences}, M {hmm.M}, "
        f"eff_nseq {hmm.effn:.2f}, {status} after {result.fit.n_iter} iterations, "
        f"log-likelihood {result.fit.loglik:.2f} -> {args.output}"
    )
    return 0


# ---------------------------------------------------------------------------
# search


SEARCH_DESCRIPTION = """\
Score every sequence of a database with every model of a HMMER3 file
(models built by 'seqem profile build' or by HMMER's hmmbuild) and report
the sequences that reach the reporting threshold.

The score is the Forward log-odds score in bits of the model configured for
multihit local alignment, with its length model set to each target, against
the background null model (as hmmsearch --nonull2; with --null2, HMMER's
null2 correction is subtracted from sequence and domain scores, as
hmmsearch does by default).  E-value = Z x P-value, the P-value from the
model's Forward STATS (an uncalibrated model is calibrated first) and Z the
number of database sequences unless -Z is given.

As in hmmsearch, sequences reach Forward through filters of increasing cost,
each a P-value threshold per sequence: MSV (ungapped segments, --F1), a
composition-bias check (--nobias turns it off), Viterbi (--F2), and Forward
itself (--F3).  Unrelated sequences stop early, which makes a search many
times faster; --max turns every filter off (every sequence scored by Forward,
as hmmsearch --max).  The log says how many sequences passed each filter.

Output: a TSV, one row per reported (sequence, model) pair, per model sorted
by E-value, columns target_name, target_accession, query_name,
query_accession, evalue, bits, length (of the target), description (of the
target); NA where there is none.  With --tblout/--domtblout the domains of
every reported sequence are defined too (envelopes, optimal-accuracy
alignments, conditional and independent E-values) and HMMER's tables are
written; sequences that cannot be reported are not decoded, and, as in
hmmsearch, a sequence in which no domain is found is not reported (without
the tables no domains are defined, and every sequence past the threshold
is listed).

Nucleotide models search both strands, as nhmmer does (--strand): each
sequence is reported once, with its better strand's score and a strand
column (+ or -) before the description, and the domains of every strand
that reaches the threshold; a minus-strand domain's coordinates run from
high to low on the sequence as given.  A sequence longer than the window
(--window: 10,000 residues, or 4 x the model's MAXL if longer) is searched
in windows that overlap by MAXL, as nhmmer searches a genome: memory
follows the window, each window is scored with its own length and counts as
a target for the E-values, the sequence's score is its best window's, and a
hit found by two windows is reported once.

The database is read in pieces of about 8 million residues, each searched by
every model while the next is read, so memory does not grow with the
database (standard input is streamed the same way); on a terminal a status
line shows how far the search has gone."""


def add_search_options(
    p: argparse.ArgumentParser, *, scan: bool = False, cutoffs: bool = True, strands: bool = True
) -> None:
    """The options 'search' and 'scan' share (``scan``: the targets are the models;
    ``cutoffs``: the --cut_ga/_tc/_nc options, for models that may have cutoff lines;
    ``strands``: --strand, for models that may be nucleotide models)."""
    p.add_argument(
        "-o", "--output", default="-", metavar="HITS.tsv", help="TSV output (default: stdout)"
    )
    p.add_argument(
        "-E",
        dest="evalue",
        type=nonnegative_float,
        default=10.0,
        metavar="X",
        help=f"report {'models' if scan else 'sequences'} with an E-value <= X "
        "(default: %(default)g)",
    )
    p.add_argument(
        "-T",
        dest="bits",
        type=finite_float,
        default=None,
        metavar="BITS",
        help=f"report {'models' if scan else 'sequences'} with a score >= BITS instead "
        "(overrides -E)",
    )
    p.set_defaults(cutoff=None)
    cut = p.add_mutually_exclusive_group() if cutoffs else p
    for tag, what in (("ga", "gathering"), ("tc", "trusted"), ("nc", "noise")) * cutoffs:
        cut.add_argument(
            f"--cut_{tag}",
            dest="cutoff",
            action="store_const",
            const=tag.upper(),
            help=f"thresholds from each model's {tag.upper()} line ({what} cutoffs, as in "
            "Pfam): sequences scoring >= the first value, and of them the domains scoring "
            ">= the second (overrides -E and -T)",
        )
    p.add_argument(
        "--domE",
        dest="dom_evalue",
        type=nonnegative_float,
        default=10.0,
        metavar="X",
        help="report domains of reported sequences with a conditional E-value <= X in "
        "--domtblout (default: %(default)g)",
    )
    p.add_argument(
        "--domT",
        dest="dom_bits",
        type=finite_float,
        default=None,
        metavar="BITS",
        help="report domains scoring >= BITS instead (overrides --domE)",
    )
    p.add_argument(
        "--incE",
        dest="inc_evalue",
        type=nonnegative_float,
        default=0.01,
        metavar="X",
        help=f"include {'models' if scan else 'sequences'} with an E-value <= X (the tables' "
        f"inc column{'' if scan else ', -A'}; default: %(default)g)",
    )
    p.add_argument(
        "--incdomE",
        dest="inc_dom_evalue",
        type=nonnegative_float,
        default=0.01,
        metavar="X",
        help=f"include domains of included {'models' if scan else 'sequences'} with a "
        "conditional E-value <= X (default: %(default)g)",
    )
    p.add_argument(
        "--incT",
        dest="inc_bits",
        type=finite_float,
        default=None,
        metavar="BITS",
        help=f"include {'models' if scan else 'sequences'} scoring >= BITS instead "
        "(overrides --incE)",
    )
    p.add_argument(
        "--incdomT",
        dest="inc_dom_bits",
        type=finite_float,
        default=None,
        metavar="BITS",
        help="include domains scoring >= BITS instead (overrides --incdomE)",
    )
    p.add_argument(
        "-Z",
        dest="Z",
        type=positive_int,
        default=None,
        metavar="N",
        help="number of models for E-values (default: the number of models in MODELS)"
        if scan
        else "database size for E-values (default: the number of sequences searched)",
    )
    p.add_argument(
        "--domZ",
        dest="domZ",
        type=positive_float,
        default=None,
        metavar="X",
        help="number of targets for the domains' conditional E-values (default: the "
        + (
            "number of models reported for the sequence)"
            if scan
            else "number of sequences reported for the model); with -Z, a database searched "
            "in pieces then gives the E-values of one search of the whole"
        ),
    )
    p.add_argument(
        "--max-hits",
        type=positive_int,
        default=None,
        metavar="N",
        help="report at most the N best "
        + ("models per sequence" if scan else "sequences per model"),
    )
    p.set_defaults(strand="both")
    if strands:
        p.add_argument(
            "--strand",
            choices=STRANDS,
            default="both",
            help="strands of nucleotide sequences to search (nucleotide models only): both "
            "(default, as nhmmer), plus (as given, nhmmer's --watson) or minus (the reverse "
            "complement, --crick); a minus-strand domain's coordinates run from high to low "
            "on the sequence as given, and with both strands E-values count two targets per "
            "sequence",
        )
    p.set_defaults(window=0)
    if strands and not scan:
        p.add_argument(
            "--window",
            type=nonnegative_int,
            default=None,
            metavar="N",
            help="search nucleotide sequences longer than N residues in windows of N that "
            "overlap by the model's MAXL, as nhmmer searches a chromosome: each window is "
            "scored with its own length and counts as a target in the E-values (default: "
            "the larger of 10,000 and 4 x MAXL; 0: whole sequences)",
        )
    p.add_argument(
        "--max",
        action="store_true",
        help="turn off the MSV, bias, Viterbi and Forward filters: score every sequence "
        "by Forward (as hmmsearch --max; slower, most sensitive)",
    )
    for name, default, what in (
        ("F1", 0.02, "MSV filter threshold: P-value per sequence"),
        ("F2", 1e-3, "Viterbi filter threshold"),
        ("F3", 1e-5, "Forward filter threshold"),
    ):
        p.add_argument(
            f"--{name}",
            type=positive_probability,
            default=default,
            metavar="P",
            help=f"{what} (default: %(default)g)",
        )
    p.add_argument(
        "--nobias",
        action="store_true",
        help="turn off the composition bias filter",
    )
    p.add_argument(
        "--null2",
        action="store_true",
        help="correct scores for biased composition (HMMER's null2; defines the domains of "
        "every candidate, so it costs about as much as --domtblout)",
    )
    p.add_argument(
        "--tblout",
        metavar="FILE",
        help=f"also write HMMER's per-sequence table ({'hmmscan' if scan else 'hmmsearch'} "
        "--tblout columns)",
    )
    p.add_argument(
        "--domtblout",
        metavar="FILE",
        help=f"also write HMMER's per-domain table ({'hmmscan' if scan else 'hmmsearch'} "
        "--domtblout columns): envelopes, alignment and model coordinates, c- and i-Evalues",
    )


def _add_search(verbs: Any) -> None:
    p = verbs.add_parser(
        "search",
        help="search a sequence database with profile HMMs (TSV of hits)",
        description=SEARCH_DESCRIPTION,
        epilog=examples(
            "seqem profile search data/example_family.hmm data/example_db.fa -o hits.tsv",
            "seqem profile search data/example_family.hmm data/example_db.fa -E 0.01 | head",
            "seqem profile search data/example_family.hmm data/example_db.fa -T 20 --max-hits 5",
            "seqem profile search --max data/example_family.hmm data/example_db.fa -E 1e9 "
            "-o all.tsv",
            "seqem profile search data/example_family.hmm data/example_db.fa -E 0.01 "
            "--tblout hits.tbl --domtblout hits.domtbl -o hits.tsv",
            "seqem profile search data/example_family.hmm data/example_db.fa -A hits.sto "
            "-o hits.tsv",
        ),
    )
    p.add_argument("model", metavar="MODEL.hmm", help="HMMER3 model file (one or more models)")
    p.add_argument(
        "database",
        metavar="DB.fa",
        help="sequences: FASTA or Swiss-Prot text, plain or gzip; '-' for stdin; "
        "or sequencing reads from a BAM/CRAM file (.bam/.cram, nucleotide models)",
    )
    add_search_options(p)
    add_hmmer_report_option(p)
    p.add_argument(
        "-A",
        dest="alignment",
        metavar="FILE.sto",
        help="also save the alignment of every included domain (see --incE, --incdomE; "
        "or the models' cutoffs) to its model, as "
        "hmmsearch -A: Stockholm, one block per model, rows named TARGET/FROM-TO (each "
        "numbered, N|TARGET/FROM-TO, in a block where two would have the same name)",
    )
    add_run_options(p)
    p.set_defaults(_run=_cmd_search)


@dataclasses.dataclass(frozen=True)
class Hit:
    """One reported (sequence, model) pair; ``domains`` when they were defined."""

    target_name: str
    target_accession: str | None
    query_name: str
    query_accession: str | None
    evalue: float
    bits: float
    length: int
    description: str | None
    domains: tuple[Any, ...] | None = None
    bias: float = 0.0
    #: ``(expected, regions, clustered, envelopes)`` of domain definition
    #: (:class:`~seqem.profile.domains.DomainCounts`), when domains were defined.
    counts: tuple[float, int, int, int] | None = None
    #: The target's place in the database (0 for the first sequence).
    target_index: int = 0
    #: The query model's place in the list of models searched.
    model_index: int = 0
    #: ``"+"`` or ``"-"``: the strand of the score (a nucleotide search); None for protein.
    strand: str | None = None


def n_strands(strand: str, hmm: ProfileHMM) -> int:
    """How many targets each sequence is to ``hmm`` under ``--strand strand``: two when
    a nucleotide model searches both strands, else one."""
    return 2 if strand == "both" and _nucleic(hmm.alphabet.name) else 1


def _nucleic(name: str) -> bool:
    return name in ("DNA", "RNA")


def _reads_alphabet(path: str, hmm: ProfileHMM) -> None:
    """BAM/CRAM reads are a nucleotide database: an error for other models."""
    from ..errors import AlphabetError

    if not _nucleic(hmm.alphabet.name):
        raise AlphabetError(
            f"alphabet mismatch: model '{hmm.name}' is {hmm.alphabet.name} but BAM/CRAM "
            "reads are DNA; search reads with nucleotide models",
            path=path,
        )


def _in_alphabet(seqs: DigitalSequences, hmm: ProfileHMM, path: str) -> DigitalSequences:
    """``seqs`` in ``hmm``'s alphabet; a different alphabet is an error."""
    from ..errors import AlphabetError

    want = hmm.alphabet
    if seqs.alphabet.name == want.name:
        return seqs
    if _nucleic(seqs.alphabet.name) and _nucleic(want.name):
        # T and U have the same code, as do the IUPAC codes: only the name differs
        return dataclasses.replace(seqs, alphabet=want)
    raise AlphabetError(
        f"alphabet mismatch: model '{hmm.name}' is {want.name} but the sequences look like "
        f"{seqs.alphabet.name}; search protein with protein models and DNA/RNA with "
        "nucleotide models",
        path=None if path == "-" else path,
    )


def read_database(path: str, hmm: ProfileHMM) -> DigitalSequences:
    """Database sequences in ``hmm``'s alphabet; a different alphabet is an error."""
    from ..io.sequences import read_bam_reads, read_sequences

    if path.lower().endswith((".bam", ".cram")):
        _reads_alphabet(path, hmm)
        return dataclasses.replace(read_bam_reads(path), alphabet=hmm.alphabet)
    return _in_alphabet(read_sequences(path), hmm, path)


def database_pieces(
    path: str, hmm: ProfileHMM, piece_residues: int | None = None
) -> Iterator[DigitalSequences]:
    """:func:`read_database` piece by piece: FASTA databases in pieces of whole
    records (:func:`~seqem.io.sequences.iter_sequences`), BAM/CRAM reads in
    pieces of whole reads (:func:`~seqem.io.sequences.iter_bam_reads`), so
    memory stays bounded."""
    from ..io.sequences import iter_bam_reads, iter_sequences

    if path.lower().endswith((".bam", ".cram")):
        _reads_alphabet(path, hmm)
        for piece in iter_bam_reads(path, piece_residues=piece_residues):
            yield dataclasses.replace(piece, alphabet=hmm.alphabet)
        return
    for piece in iter_sequences(path, piece_residues=piece_residues):
        yield _in_alphabet(piece, hmm, path)


def _windows(window: int | None, models: list[ProfileHMM], strands: str | None) -> tuple[int, int]:
    """Window length and overlap for a search of nucleotide ``strands`` by ``models``
    (0, 0 for protein, or ``window`` 0): the overlap is the models' largest ``MAXL``."""
    from ..profile.targets import default_window

    if strands is None or window == 0:
        return 0, 0
    overlap = max(int(m.meta.get("MAXL") or m.max_length()) for m in models)
    cut = default_window(overlap) if window is None else window
    if cut <= overlap:
        raise SeqemError(
            f"--window {cut} must be longer than the models' MAXL ({overlap}), by which "
            "windows overlap"
        )
    return cut, overlap


_END = object()


def prefetched(items: Iterator[Any]) -> Iterator[Any]:
    """The items of ``items``, each read by a second thread while the caller works on
    the one before (reading and digitising a piece of the database overlaps its
    search: the kernels release the GIL).  Errors come when their item would."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(next, items, _END)
        try:
            while True:
                item = pending.result()
                if item is _END:
                    return
                pending = pool.submit(next, items, _END)
                yield item
        finally:
            # let a read in progress finish before the source is closed
            if not pending.cancel():
                pending.exception()
            close = getattr(items, "close", None)
            if close is not None:
                close()


def _min_bits(evalue: float, bits: float | None, Z: float, tau: float, lam: float) -> float:
    """Lowest score a sequence can have and still be reported (-inf: any)."""
    import math

    if bits is not None:
        return bits
    if evalue >= Z:
        return -math.inf  # every P-value is at most 1
    if evalue <= 0.0:
        return math.inf
    return tau - math.log(evalue / Z) / lam


def cutoffs(hmm: ProfileHMM, tag: str, *, path: str | None = None) -> tuple[float, float]:
    """The sequence and domain thresholds (bits) of the model's ``tag`` line
    (``"GA"``, ``"TC"`` or ``"NC"``; one value serves for both); ``path``, the
    model file, is named in the error when the model has no such line."""
    values = hmm.meta.get(tag)
    if not values:
        raise InputFormatError(
            f"model '{hmm.name}' has no {tag} line: --cut_{tag.lower()} needs the cutoffs in "
            "every model",
            path=None if path is None else _shown(path),
        )
    return float(values[0]), float(values[1 if len(values) > 1 else 0])


#: Searches of at most this many models keep every model configured from one
#: piece of the database to the next (a configured Pfam-size model takes
#: about 100 kB, for a few tens of microseconds' work).
_KEEP_CONFIGURED = 256
#: A large library reports its progress within a piece every this many models.
_PROGRESS_MODELS = 500
#: Cells (residues x nodes) below which a model's search runs on one thread.
_THREADED_CELLS = 1_000_000


@dataclasses.dataclass
class _PieceTally:
    """The sequences of one piece of the database as given (not their strands) and, for
    each, how many (model, strand) targets passed MSV, bias, Viterbi and Forward."""

    names: tuple[str, ...]
    accessions: tuple[str, ...]
    descriptions: tuple[str, ...]
    lengths: Any
    tally: Any

    @classmethod
    def of(cls, seqs: DigitalSequences, n: int) -> _PieceTally:
        import numpy as np

        return cls(
            seqs.names[:n],
            seqs.accessions[:n],
            seqs.descriptions[:n],
            seqs.lengths[:n].copy(),
            np.zeros((n, 4), dtype=np.int64),
        )


@dataclasses.dataclass
class _Candidates:
    """What one model's search keeps of the sequences that may be reported.

    Pieces of the database are searched one after another; a sequence is
    kept when it passes the threshold with the number of sequences read so
    far (a lower bar than the final one, which needs them all), and the
    final E-values and the threshold are applied by :func:`_reported_hits`.
    """

    hmm: ProfileHMM
    profile: Any  # the search configuration, or None: configured for each piece
    tau: float
    lam: float
    bits: float | None
    names: list[str] = dataclasses.field(default_factory=list)
    ordinals: list[int] = dataclasses.field(default_factory=list)  # in the database
    accessions: list[str | None] = dataclasses.field(default_factory=list)
    descriptions: list[str] = dataclasses.field(default_factory=list)
    lengths: list[int] = dataclasses.field(default_factory=list)
    scores: list[float] = dataclasses.field(default_factory=list)
    bias: list[float] = dataclasses.field(default_factory=list)
    domains: list[Any] = dataclasses.field(default_factory=list)
    counts: list[Any] = dataclasses.field(default_factory=list)
    strands: list[str | None] = dataclasses.field(default_factory=list)
    passed: dict[str, int] = dataclasses.field(default_factory=dict)


def search_models(
    models: list[ProfileHMM],
    database: str,
    *,
    evalue: float = 10.0,
    bits: float | None = None,
    Z: int | None = None,
    domZ: float | None = None,
    max_hits: int | None = None,
    threads: int = 0,
    domains: bool = False,
    null2: bool = False,
    filters: Filters | None = None,
    report: list[dict[str, int]] | None = None,
    cutoff: str | None = None,
    piece_residues: int | None = None,
    progress: Callable[[str], None] | None = None,
    strand: str = "both",
    window: int | None = None,
    totals: dict[str, int] | None = None,
    per_sequence: dict[int, _PieceTally] | None = None,
) -> tuple[list[Hit], int]:
    """Score every database sequence with every model; return the reported hits and n_seq.

    The database is read in pieces of whole records (about
    ``piece_residues`` residues, :data:`~seqem.io.sequences.PIECE_RESIDUES`
    by default), each searched by every model while a second thread reads the
    next (:func:`prefetched`), so memory does not grow with the database; the
    results do not depend on the piece size.  ``progress``, when given,
    receives a line of text after each piece.

    With ``filters`` (HMMER's default pipeline, :mod:`seqem.profile.pipeline`)
    only the sequences that pass the MSV, bias and Viterbi filters are
    scored by Forward, and only those whose Forward score passes ``F3`` can
    be reported; ``None`` scores every sequence (``--max``).  ``report``,
    when given, receives one dict per model with the number of sequences
    past each stage.

    ``cutoff`` (``"GA"``, ``"TC"`` or ``"NC"``) takes the thresholds from
    each model's line of that name (Pfam's curated cutoffs): a sequence is
    reported when its score reaches the first value (the second, the domain
    threshold, applies when the tables are written: :func:`write_domain_tables`).

    With ``domains``, the domains of each reported hit are defined too
    (``Hit.domains``): one Forward pass per target gives its score and, for
    targets that may reach the reporting threshold, the envelopes, which
    are then rescored.

    The domains' conditional E-values use ``domZ`` targets, by default the
    number of sequences reported for the model (hmmsearch's ``--domZ``).

    With ``null2`` (implies ``domains``), sequence and domain scores get
    HMMER's composition-bias correction: the domains of every target whose
    uncorrected score reaches the threshold are defined, each sequence score
    loses ``ln(1 + exp(S) / 256) / ln 2`` bits, S the summed log null2 odds
    of its domains' envelopes (``Hit.bias``), and the threshold is applied
    to the corrected scores.  With domains defined, a sequence's score is
    hmmsearch's: the higher of that and the reconstruction from its domains
    (:func:`~seqem.profile.domains.sequence_score`).

    Nucleotide models search the ``strand`` (:data:`STRANDS`) of each
    sequence: ``"both"`` scores the sequence as given and its reverse
    complement as two targets (E-values count both: twice ``Z``, or twice
    the number of sequences), and reports each sequence once, with its
    better strand's score (``Hit.strand``) and the domains of every strand
    that reaches the threshold; a minus-strand domain's coordinates are on
    the sequence as given, from high to low (as nhmmer's).  A strand longer
    than ``window`` residues (default: :func:`~seqem.profile.targets.default_window`
    of the models' largest ``MAXL``; 0 for whole sequences) is searched in
    windows that overlap by that ``MAXL`` (:mod:`seqem.profile.targets`), each
    window a target: scores use the window's length, E-values count the
    windows (unless ``Z`` is given), the sequence's score is its best
    window's, and a hit that two windows find is reported once.

    ``totals``, when given, receives the number of residues read
    (``"residues"``) and of targets searched (``"targets"``: strands and
    windows; of the database's last read, once per alphabet group).
    ``per_sequence``, when given, receives for each piece of the database
    (keyed by the ordinal of its first sequence) its sequences and the number
    of (model, strand) targets of each that passed MSV, bias, Viterbi and
    Forward (:class:`_PieceTally`; what a scan reports per query).
    """
    from ..io.sequences import PIECE_RESIDUES
    from ..profile.calibrate import calibrate
    from ..profile.search import configure
    from ..profile.targets import search_targets

    if strand not in STRANDS:
        raise SeqemError(f"strand must be one of {', '.join(STRANDS)}, got {strand!r}")
    if strand != "both" and not _stranded_search(models):
        raise SeqemError(
            f"--strand {strand}: the models are protein models, and protein sequences have "
            "no strands"
        )
    domains = domains or null2
    if database == "-" and len({_nucleic(m.alphabet.name) for m in models}) > 1:
        raise SeqemError("models of different alphabets cannot search standard input")
    kept: list[_Candidates] = []
    groups: dict[str, list[int]] = {}
    for m, hmm in enumerate(models):
        if "forward" not in hmm.stats:
            calibrate(hmm)
        tau, lam = hmm.stats["forward"]
        cut = None if cutoff is None else cutoffs(hmm, cutoff)[0]
        # a large library is configured piece by piece rather than held configured
        profile = configure(hmm) if len(models) <= _KEEP_CONFIGURED else None
        kept.append(_Candidates(hmm, profile, tau, lam, bits if cut is None else cut))
        key = "nucleic" if _nucleic(hmm.alphabet.name) else hmm.alphabet.name
        groups.setdefault(key, []).append(m)
    n_seq = 0
    searched: dict[int, int] = {}  # targets per model
    for members in groups.values():
        seen = residues = n_targets = 0
        which = strand if _nucleic(models[members[0]].alphabet.name) else None
        strands = n_strands(strand, models[members[0]])
        cut, overlap = _windows(window, [models[m] for m in members], which)
        pieces = database_pieces(database, models[members[0]], piece_residues)
        for piece in prefetched(pieces):
            seen += piece.n_sequences
            residues += piece.n_residues
            first = seen - piece.n_sequences
            if per_sequence is not None and first not in per_sequence:
                per_sequence[first] = _PieceTally.of(piece, piece.n_sequences)
            batches = search_targets(piece, which, window=cut, overlap=overlap,
                                     batch_residues=piece_residues or PIECE_RESIDUES)  # fmt: skip
            for targets, layout in batches:
                n_targets += targets.n_sequences
                for done, m in enumerate(members, start=1):
                    _search_piece(
                        kept[m], targets, n_targets if Z is None else Z * strands,
                        evalue=evalue, threads=threads, domains=domains, null2=null2,
                        filters=filters, first=first, layout=layout,
                        tally=None if per_sequence is None else per_sequence[first],
                    )  # fmt: skip
                    if progress is not None and done % _PROGRESS_MODELS == 0 < len(members) - done:
                        progress(
                            f"search: {seen:,} sequences ({residues:,} residues) x model "
                            f"{done:,} of {len(members):,}"
                        )
            if progress is not None:
                progress(
                    f"search: {seen:,} sequences ({residues:,} residues) x {len(members):,} "
                    f"model(s), {sum(len(kept[m].scores) for m in members):,} candidate hit(s)"
                )
        n_seq = seen
        searched.update((m, n_targets) for m in members)
        if totals is not None:
            totals["residues"] = residues
            totals["targets"] = n_targets
    hits: list[Hit] = []
    for m, found in enumerate(kept):
        hits.extend(
            _reported_hits(
                found,
                searched.get(m, 0) if Z is None else Z * n_strands(strand, found.hmm),
                model_index=m,
                dom_z=domZ,
                evalue=evalue,
                max_hits=max_hits,
                domains=domains,
                null2=null2,
            )  # fmt: skip
        )
        if report is not None and filters is not None:
            report.append(found.passed)
    return hits, n_seq


def _search_piece(
    found: _Candidates,
    seqs: DigitalSequences,
    z: int,
    *,
    evalue: float,
    threads: int,
    domains: bool,
    null2: bool,
    filters: Filters | None,
    first: int = 0,
    layout: Layout | None = None,
    tally: _PieceTally | None = None,
) -> None:
    """Search targets of one piece of the database (its first sequence the database's
    ``first``); keep the targets that pass with ``z`` targets.  ``layout``
    (:func:`~seqem.profile.targets.search_targets`; default: each target a whole
    protein sequence of the piece) says where each target comes from; ``tally``
    receives the filters' counts of the piece's sequences (see
    :func:`search_models`, ``per_sequence``)."""
    import numpy as np

    from .._jit import threads as numba_threads
    from ..profile.calibrate import forward_pvalue
    from ..profile.domains import sequence_score
    from ..profile.pipeline import forward_filter, prefilter
    from ..profile.search import configure, forward_bits
    from ..profile.targets import Layout, on_sequence

    profile = found.profile if found.profile is not None else configure(found.hmm)
    tau, lam, bits = found.tau, found.lam, found.bits
    target = seqs
    # a small search (one query against a model library) is faster on one
    # thread than it is to wake the others for each model
    n_threads = threads if seqs.n_residues * found.hmm.M >= _THREADED_CELLS else 1
    with numba_threads(n_threads):
        if filters is not None:
            outcome = prefilter(profile, seqs.codes, seqs.bounds, filters)
            target = seqs.subset(outcome.index)
        if domains:
            from ..profile.domains import score_and_find_envelopes

            floor = _min_bits(evalue, bits, z, tau, lam)
            if filters is not None and outcome.index.size:
                # nothing below the Forward filter's threshold can be reported
                lowest = float(min(0.0, outcome.bias.min()))
                floor = max(floor, tau - np.log(filters.F3) / lam + lowest)
            scores, envelopes, decoded, tallies = score_and_find_envelopes(
                profile, target.codes, target.bounds, min_bits=floor
            )
        else:
            scores = forward_bits(profile, target.codes, target.bounds)
    evalues = z * forward_pvalue(scores, tau, lam)
    keep = scores >= bits if bits is not None else evalues <= evalue
    if filters is not None:
        passed_forward = forward_filter(scores, outcome.bias, tau, lam, filters.F3)
        keep &= passed_forward
        counts = dict(outcome.passed, forward=int(passed_forward.sum()))
        for stage, count in counts.items():
            found.passed[stage] = found.passed.get(stage, 0) + count
    if layout is None:
        n = seqs.n_sequences
        layout = Layout(np.arange(n), None, np.zeros(n, np.int64), seqs.lengths)
    origin = layout.origin  # each target's sequence in the piece as given
    if tally is not None:
        stages = np.zeros((seqs.n_sequences, 4), dtype=int)
        if filters is None:
            stages[:] = 1
        else:
            assert outcome.stage is not None
            stages[:, :3] = outcome.stage[:, None] > np.arange(3)
            stages[outcome.index, 3] = passed_forward
        np.add.at(tally.tally, origin, stages)
    index = np.flatnonzero(keep)
    if domains:
        per_target, tallies = _reported_domains(
            profile, target, found.hmm.stats, index, envelopes, decoded, tallies, Z=z,
            threads=n_threads, null2=null2,
        )  # fmt: skip
    lengths = target.lengths
    for i in index:
        at = int(outcome.index[i] if filters is not None else i)  # in the piece
        found.names.append(target.names[i])
        found.ordinals.append(first + int(origin[at]))
        found.accessions.append(target.accessions[i] if target.accessions else None)
        found.descriptions.append(target.descriptions[i])
        found.lengths.append(int(layout.length[at]))
        doms = per_target[i] if domains else None
        score, bias = float(scores[i]), 0.0
        if doms:
            score, bias = sequence_score(score, int(lengths[i]), doms, null2=null2)
            doms = [on_sequence(d, layout, at) for d in doms]
        found.strands.append(layout.strand(at))
        found.scores.append(score)
        found.bias.append(bias)
        found.domains.append(doms)
        found.counts.append(tallies.row(int(i)) if domains else None)


def _reported_hits(
    found: _Candidates,
    z: int,
    *,
    dom_z: float | None = None,
    model_index: int = 0,
    evalue: float,
    max_hits: int | None,
    domains: bool,
    null2: bool,
) -> list[Hit]:
    """The hits among one model's candidates, best first, with their final E-values.

    With ``null2`` the scores are corrected before the threshold; the
    domains' c-Evalues use ``dom_z`` (default: domZ, the number of hits
    reported), and their i-Evalues ``z``, as in hmmsearch.  With ``domains``, a candidate in
    which no domain was found is not reported (hmmsearch drops it too).
    """
    import numpy as np

    from ..profile.calibrate import forward_pvalue

    bias = np.asarray(found.bias, dtype=np.float64)
    scores = np.asarray(found.scores, dtype=np.float64) - (bias if null2 else 0.0)
    evalues = z * forward_pvalue(scores, found.tau, found.lam)
    keep = scores >= found.bits if found.bits is not None else evalues <= evalue
    found = _one_hit_per_sequence(found, scores, keep)
    if domains:
        # as hmmsearch: a sequence in which domain definition finds no domain
        # is not reported, whatever its score (nor counted in domZ)
        keep &= np.array([bool(d) for d in found.domains], dtype=bool)
    index = np.flatnonzero(keep)
    index = index[np.lexsort((-scores[index], evalues[index]))]
    if max_hits is not None:
        index = index[:max_hits]
    if dom_z is None:
        dom_z = max(1, len(index))
    hits = []
    for i in index:
        doms = None
        if domains:
            doms = tuple(
                dataclasses.replace(d, c_evalue=d.pvalue * dom_z, i_evalue=d.pvalue * float(z))
                for d in found.domains[i] or ()
            )
        hits.append(
            Hit(
                found.names[i],
                found.accessions[i],
                found.hmm.name,
                found.hmm.accession,
                float(evalues[i]),
                float(scores[i]),
                found.lengths[i],
                found.descriptions[i] or None,
                doms,
                float(bias[i]) if null2 else 0.0,
                found.counts[i],
                found.ordinals[i],
                model_index,
                found.strands[i] if found.strands else None,
            )
        )
    return hits


def _one_hit_per_sequence(found: _Candidates, scores: Any, keep: Any) -> _Candidates:
    """Where several targets of a sequence are candidates (strands and windows of a
    nucleotide sequence), the best-scoring one stands for the sequence and takes the
    domains (in the order of their positions, one copy of a hit that two windows
    found: :func:`~seqem.profile.targets.without_duplicates`) and domain counts of
    every target that passes ``keep``; the others are left with no domains and out of
    ``keep``."""
    from ..profile.targets import without_duplicates

    order: dict[int, list[int]] = {}
    for i, ordinal in enumerate(found.ordinals):
        order.setdefault(ordinal, []).append(i)
    pairs = [group for group in order.values() if len(group) > 1]
    if not pairs:
        return found
    merged = dataclasses.replace(found, domains=list(found.domains), counts=list(found.counts))
    for group in pairs:
        best = max(group, key=lambda i: scores[i])
        passing = [i for i in group if keep[i]]
        dropped = 0
        if found.domains[best] is not None:
            doms = [(d, found.strands[i], i) for i in passing for d in found.domains[i] or ()]
            merged.domains[best] = without_duplicates(doms)
            dropped = len(doms) - len(merged.domains[best])
        if found.counts[best] is not None and len(passing) > 1:
            counts = [
                type(found.counts[best][k])(sum(found.counts[i][k] for i in passing))
                for k in range(len(found.counts[best]))
            ]
            counts[-1] -= dropped  # the envelopes: a hit two windows found counts once
            merged.counts[best] = tuple(counts)
        for i in group:
            if i != best:
                merged.domains[i] = None if found.domains[i] is None else []
                keep[i] = False
    return merged


def _reported_domains(
    profile: Any,
    seqs: DigitalSequences,
    stats: Any,
    index: Any,
    envelopes: Any,
    decoded: Any,
    counts: Any,
    *,
    Z: int,
    threads: int,
    null2: bool = False,
) -> tuple[list[Any], Any]:
    """Domains of the reported targets ``index`` (None for the others), and the
    domain counts of every target (:class:`~seqem.profile.domains.DomainCounts`).

    ``domZ`` (for c-Evalues) is the number of reported targets, as in
    hmmsearch.  A reported target that was not decoded (its score fell just
    under the threshold the scoring pass used) is decoded here.
    """
    import numpy as np

    from .._jit import threads as numba_threads
    from ..profile.domains import (
        DomainCounts,
        Envelopes,
        rescore_envelopes,
        score_and_find_envelopes,
    )

    reported = np.zeros(seqs.n_sequences, dtype=bool)
    reported[index] = True
    envs = envelopes.of(reported)
    with numba_threads(threads):
        missing = np.flatnonzero(reported & ~decoded)
        if missing.size:
            codes = np.concatenate(
                [seqs.codes[seqs.bounds[i] : seqs.bounds[i + 1]] for i in missing]
            )
            sub_bounds = np.concatenate([[0], np.cumsum(seqs.lengths[missing])])
            _, extra, _, extra_counts = score_and_find_envelopes(profile, codes, sub_bounds)
            counts = DomainCounts(*(
                np.copy(getattr(counts, f.name)) for f in dataclasses.fields(counts)
            ))  # fmt: skip
            for f in dataclasses.fields(counts):
                getattr(counts, f.name)[missing] = getattr(extra_counts, f.name)
            envs = Envelopes(
                np.concatenate([envs.target, missing[extra.target]]),
                np.concatenate([envs.start, extra.start]),
                np.concatenate([envs.end, extra.end]),
            )
            order = np.lexsort((envs.start, envs.target))
            envs = Envelopes(envs.target[order], envs.start[order], envs.end[order])
        per_target = rescore_envelopes(
            profile, seqs.codes, seqs.bounds, envs, stats, Z=Z, domZ=max(1, len(index)),
            null2=null2,
        )  # fmt: skip
    return [per_target[i] if reported[i] else None for i in range(seqs.n_sequences)], counts


def _tsv_field(value: Any) -> str:
    """A text field of a TSV output: whitespace runs as one space, NA when empty."""
    text = "" if value is None else " ".join(str(value).split())
    return text or "NA"


def hits_table(hits: list[Hit], *, strands: bool = False) -> str:
    """The hits as TSV text with a header row; ``strands`` (a nucleotide search) adds a
    ``strand`` column before the description."""

    text = _tsv_field
    columns = _with_strand(HIT_COLUMNS) if strands else HIT_COLUMNS
    lines = ["\t".join(columns)]
    for h in hits:
        fields = [h.target_name, text(h.target_accession), h.query_name,
                  text(h.query_accession), f"{h.evalue:.3g}", f"{h.bits:.2f}",
                  str(h.length)]  # fmt: skip
        if strands:
            fields.append(text(h.strand))
        fields.append(text(h.description))
        lines.append("\t".join(fields))
    return "\n".join(lines) + "\n"


def _with_strand(columns: tuple[str, ...]) -> tuple[str, ...]:
    """A table's columns with ``strand`` before the last (the description)."""
    return (*columns[:-1], "strand", columns[-1])


def _stranded_search(models: list[ProfileHMM]) -> bool:
    """Whether a search with ``models`` has strands (a nucleotide model among them)."""
    return any(_nucleic(m.alphabet.name) for m in models)


def _sequence_hit(h: Hit) -> Any:
    """A hit as :class:`~seqem.io.hmmer_tables.SequenceHit`, what HMMER's tables and
    report are written from."""
    from ..io.hmmer_tables import SequenceHit

    return SequenceHit(
        name=h.target_name, accession=h.target_accession or "", length=h.length,
        evalue=h.evalue, score=h.bits, bias=h.bias, domains=tuple(h.domains or ()),
        description=h.description or "", **_counts(h),
    )  # fmt: skip


def _as_model_row(h: Hit, hmm: ProfileHMM) -> Any:
    """A scan's hit as hmmscan lists it: the model (name, accession, length,
    description) in the place of the target."""
    return dataclasses.replace(
        _sequence_hit(h), name=hmm.name, accession=hmm.accession or "", length=hmm.M,
        description=hmm.description or "",
    )  # fmt: skip


def _counts(hit: Hit) -> dict[str, Any]:
    """The domain-number columns of ``hit`` for :class:`~seqem.io.hmmer_tables.SequenceHit`."""
    if hit.counts is None:
        return {}
    expected, regions, clustered, envelopes = hit.counts
    return dict(expected_domains=expected, n_regions=regions, n_clustered=clustered,
                n_overlaps=0, n_envelopes=envelopes)  # fmt: skip


class Inclusion(NamedTuple):
    """Inclusion thresholds (hmmsearch's --incE, --incdomE, --incT, --incdomT): a
    sequence is included when its E-value is at most ``evalue``, or its score at least
    ``bits`` when that is given; a domain of an included sequence when its conditional
    E-value is at most ``dom_evalue``, or its score at least ``dom_bits``."""

    evalue: float = 0.01
    dom_evalue: float = 0.01
    bits: float | None = None
    dom_bits: float | None = None


#: hmmsearch's default inclusion thresholds.
HMMSEARCH_INCLUSION = Inclusion()


def inclusion_of(args: argparse.Namespace) -> Inclusion:
    """The inclusion thresholds of a search or scan command line."""
    return Inclusion(args.inc_evalue, args.inc_dom_evalue, args.inc_bits, args.inc_dom_bits)


def _inclusion(
    hmm: ProfileHMM, cutoff: str | None, inc: Inclusion = HMMSEARCH_INCLUSION
) -> Callable[[float, float, Any], bool]:
    """Whether a domain is included, from its sequence's E-value and score: ``inc``
    (by default the sequence E-value and the domain's conditional E-value at most
    0.01 both, as hmmsearch), or the model's cutoffs (--cut_ga, _tc, _nc set the
    inclusion thresholds too)."""
    if cutoff is None:
        seq_e, dom_e, seq_t, dom_t = inc

        def sequence(evalue: float, score: float) -> bool:
            return score >= seq_t if seq_t is not None else evalue <= seq_e

        def domain(d: Any) -> bool:
            return d.bitscore >= dom_t if dom_t is not None else d.c_evalue <= dom_e

        return lambda evalue, score, d: sequence(evalue, score) and domain(d)
    seq, dom = cutoffs(hmm, cutoff)
    return lambda evalue, score, d: score >= seq and d.bitscore >= dom


#: The line Easel's Stockholm writer (so hmmsearch -A and hmmalign) adds after the
#: header when it has numbered the rows to make their names unique.
UNIQUE_NAMES_NOTE = '# WARNING: seq names have been made unique by adding a prefix of "<seq#>|"'


def with_unique_names_note(stockholm: str) -> str:
    """A Stockholm block with :data:`UNIQUE_NAMES_NOTE` after its header line."""
    header, rest = stockholm.split("\n", 1)
    return f"{header}\n{UNIQUE_NAMES_NOTE}\n{rest}"


def unique_row_names(names: list[str]) -> tuple[list[str], str | None]:
    """Row names for one Stockholm block of hits, numbered as HMMER numbers them when
    they cannot name the rows as they are; and why they were numbered (or None).

    ``TARGET/FROM-TO`` names two rows alike when the database holds two
    records of one name with domains at the same residues (the same sequence
    entered twice, say), and Stockholm needs one name per row.  hmmsearch
    ``-A`` (Easel's Stockholm writer) then prefixes every row of the block
    with its number, from 0, padded to the width of the number of rows, and
    a bar (``0|A/5-60``, ``1|A/5-60``, ...) and notes it in the file
    (:data:`UNIQUE_NAMES_NOTE`); so do we, and the file is hmmsearch's.  We
    do the same for a target name that Stockholm would read as markup or as
    the end of the alignment (starting with ``#`` or ``//``:
    :func:`~seqem.profile.align.check_names`), where hmmsearch writes a file
    that does not read back.

    >>> unique_row_names(["a/5-60", "b/3-40"])
    (['a/5-60', 'b/3-40'], None)
    >>> unique_row_names(["a/5-60", "b/3-40", "a/5-60"])[0]
    ['0|a/5-60', '1|b/3-40', '2|a/5-60']
    """
    from ..profile.align import check_names

    try:
        check_names(names, stockholm=True)
    except InputFormatError:
        twice = next((n for n in names if names.count(n) > 1), None)
        if twice is not None:
            reason = f"two rows would be named {twice!r}"
        else:
            bad = next(n for n in names if n.startswith(("#", "//")) or len(n.split()) != 1)
            reason = f"the row name {bad!r} would not read back as a name"
        width = len(str(len(names)))
        return [f"{i:0{width}d}|{name}" for i, name in enumerate(names)], reason
    return list(names), None


def write_domain_alignment(
    models: list[ProfileHMM],
    hits: list[Hit],
    path: str,
    *,
    cutoff: str | None = None,
    inc: Inclusion = HMMSEARCH_INCLUSION,
) -> tuple[int, list[str]]:
    """Write the included domains' alignments to their models (hmmsearch ``-A``); return
    how many domains were written and, for each model whose rows had to be numbered
    (:func:`unique_row_names`), why.

    Each row is the domain's aligned residues (``ali_from .. ali_to``) placed by its
    optimal-accuracy path, named ``TARGET/ALI_FROM-ALI_TO``; one Stockholm block per
    model with an included domain (an empty file when there is none).
    """
    import numpy as np

    from ..io.atomic import atomic_output
    from ..profile.align import assemble

    blocks = []
    count = 0
    numbered: list[str] = []
    for hmm in models:
        rule = _inclusion(hmm, cutoff, inc)
        names, paths = [], []
        for h in hits:
            if h.query_name != hmm.name:
                continue
            for d in h.domains or ():
                if d.path is not None and rule(h.evalue, h.bits, d):
                    names.append(f"{h.target_name}/{d.ali_from}-{d.ali_to}")
                    paths.append(d.path)
        if not paths:
            continue
        count += len(paths)
        rows, reason = unique_row_names(names)
        bounds = np.zeros(len(paths) + 1, dtype=np.int64)
        np.cumsum([p.codes.size for p in paths], out=bounds[1:])
        aligned = assemble(
            hmm, rows, np.concatenate([p.codes for p in paths]), bounds,
            np.concatenate([p.slot for p in paths]), np.concatenate([p.match for p in paths]),
            np.concatenate([p.post for p in paths]),
        )  # fmt: skip
        # no PP_cons line: hmmsearch's means of its single-precision posteriors fall in
        # another tenth than these in a few columns (sevenless against fn3: 5 of 85)
        aligned = dataclasses.replace(aligned, match_posteriors=None)
        text = aligned.stockholm(name=hmm.name, accession=hmm.accession)
        if reason is not None:
            numbered.append(f"model '{hmm.name}': {reason}")
            text = with_unique_names_note(text)
        blocks.append(text)
    with atomic_output(path) as fh:
        fh.write("".join(blocks))
    return count, numbered


def _domain_rule(
    hmm: ProfileHMM, cutoff: str | None, dom_evalue: float, dom_bits: float | None
) -> Callable[[Any], bool]:
    """Whether a domain is reported: the model's cutoff (second value), ``--domT`` or
    ``--domE``, in that order of precedence."""
    if cutoff is not None:
        floor = cutoffs(hmm, cutoff)[1]
        return lambda d: d.bitscore >= floor
    if dom_bits is not None:
        return lambda d: d.bitscore >= dom_bits
    return lambda d: d.c_evalue <= dom_evalue


def write_domain_tables(
    models: list[ProfileHMM],
    hits: list[Hit],
    *,
    tblout: str | None,
    domtblout: str | None,
    dom_evalue: float = 10.0,
    dom_bits: float | None = None,
    cutoff: str | None = None,
    inc: Inclusion = HMMSEARCH_INCLUSION,
) -> int:
    """Write HMMER's tables of hits whose domains were defined (``search_models(...,
    domains=True)``); return the number of domains reported.

    A domain is reported (written to ``domtblout``, counted in ``rep``) when
    its conditional E-value is at most ``dom_evalue``, or its score at least
    ``dom_bits`` when that is given, or at least the second value of the
    model's ``cutoff`` line (``"GA"``, ``"TC"``, ``"NC"``), as hmmsearch's
    ``--domE``, ``--domT`` and ``--cut_ga`` do.
    """
    from ..io.atomic import atomic_output
    from ..io.hmmer_tables import write_domtblout, write_tblout

    def rule(hmm: ProfileHMM) -> Any:
        return _domain_rule(hmm, cutoff, dom_evalue, dom_bits)

    def inclusion(hmm: ProfileHMM) -> Any:
        rule = _inclusion(hmm, cutoff, inc)
        return lambda h, d: rule(h.evalue, h.score, d)

    tables = []
    n_domains = 0
    for hmm in models:
        reported = rule(hmm)
        rows = []
        for h in hits:
            if h.query_name != hmm.name:
                continue
            doms = h.domains or ()
            n_domains += sum(bool(reported(d)) for d in doms)
            rows.append(_sequence_hit(h))
        tables.append((hmm, rows, reported))
    for path, writer in ((tblout, "tbl"), (domtblout, "domtbl")):
        if path is None:
            continue
        with atomic_output(path) as fh:
            for hmm, rows, reported in tables:
                if writer == "tbl":
                    write_tblout(fh, rows, query_name=hmm.name,
                                 query_accession=hmm.accession or "",
                                 reported=reported, included=inclusion(hmm))  # fmt: skip
                else:
                    write_domtblout(fh, rows, query_name=hmm.name, query_length=hmm.M,
                                    query_accession=hmm.accession or "",
                                    reported=reported)  # fmt: skip
    return n_domains


def add_hmmer_report_option(p: argparse.ArgumentParser, like: str = "hmmsearch") -> None:
    """``--hmmer-report``: the human-readable report of the HMMER program ``like``."""
    listed = "models" if like == "hmmscan" else "sequences"
    p.add_argument(
        "--hmmer-report",
        metavar="FILE",
        help=f"also write the report {like} writes (its -o): for each query the ranked "
        f"{listed}, their domains and the alignment of every reported domain (model "
        "consensus, match line, residues, posterior probabilities), and the filters' counts",
    )
    p.add_argument(
        "--noali",
        action="store_true",
        help=f"leave the alignments out of --hmmer-report (as {like} --noali)",
    )
    p.add_argument(
        "--textw",
        type=_text_width,
        default=120,
        metavar="N",
        help="width of --hmmer-report's lines, at least 120 (default); 0 for no limit (as "
        f"{like} --textw, --notextw)",
    )


def _text_width(text: str) -> int:
    """``--textw``: 0 (no limit) or at least 120, as HMMER allows."""
    value = nonnegative_int(text)
    if 0 < value < 120:
        raise argparse.ArgumentTypeError(f"must be 0 (no limit) or at least 120, got {value}")
    return value


class _ReportRules:
    """What a ``--hmmer-report`` needs of each model, made once per model: which domains
    are reported and included, which pairs included, and the match log-odds."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.inc = inclusion_of(args)
        self._made: dict[int, tuple[Any, Any, Any, Any]] = {}

    def _of(self, hmm: ProfileHMM) -> tuple[Any, Any, Any, Any]:
        made = self._made.get(id(hmm))
        if made is None:
            import numpy as np

            from ..profile.search import configure

            a = self.args
            with np.errstate(divide="ignore"):
                scores = np.log(configure(hmm).msc)
            made = (
                _domain_rule(hmm, a.cutoff, a.dom_evalue, a.dom_bits),
                _inclusion(hmm, a.cutoff, self.inc),
                _sequence_inclusion(hmm, a.cutoff, self.inc),
                scores,
            )
            self._made[id(hmm)] = made
        return made

    def reported(self, row: Any, d: Any) -> bool:
        return bool(self._of(row.hmm)[0](d))

    def included(self, row: Any, d: Any) -> bool:
        return bool(self._of(row.hmm)[1](row.hit.evalue, row.hit.score, d))

    def sequence_included(self, row: Any) -> bool:
        return bool(self._of(row.hmm)[2](row.hit))

    def scores(self, hmm: ProfileHMM) -> Any:
        return self._of(hmm)[3]

    def write(
        self, fh: Any, query: Any, rows: Any, counts: Any, *, scan: bool = False, **layout: Any
    ) -> None:
        """One query's report (``layout``: jackhmmer's round options of
        :func:`~seqem.io.hmmer_report.write_query_report`)."""
        from ..io.hmmer_report import write_query_report

        a = self.args
        write_query_report(
            fh, query, rows, reported=self.reported, sequence_included=self.sequence_included,
            included=self.included, counts=counts, scores=self.scores, scan=scan,
            width=a.textw or None, alignments=not a.noali, **layout,
        )  # fmt: skip


def _filter_thresholds(args: argparse.Namespace) -> tuple[float, float, float] | None:
    return None if args.max else (args.F1, args.F2, args.F3)


def search_counts(
    args: argparse.Namespace,
    hmm: ProfileHMM,
    n_seq: int,
    n_residues: int,
    n_hits: int,
    passed: dict[str, int] | None,
    strands: int = 1,
    targets: int | None = None,
) -> Any:
    """The summary counts of one model's search, for its ``--hmmer-report`` (``targets``:
    how many were searched, when windows made them more than the strands)."""
    from ..io.hmmer_report import PipelineCounts

    filters = _filter_thresholds(args)
    return PipelineCounts(
        query=("Query model(s):", 1, f"({hmm.M} nodes)"),
        targets=("Target sequences:", n_seq * strands,
                 f"({n_residues * strands} residues searched)"),
        n_targets=n_seq * strands,
        Z=args.Z * strands if args.Z is not None else targets or n_seq * strands,
        domZ=args.domZ if args.domZ is not None else n_hits,
        Z_given=args.Z is not None, domZ_given=args.domZ is not None,
        passed=passed if filters is not None else None,
        thresholds=filters or (1.0, 1.0, 1.0),
    )  # fmt: skip


def write_hmmer_report(
    args: argparse.Namespace,
    models: list[ProfileHMM],
    hits: list[Hit],
    report: list[dict[str, int]],
    *,
    n_seq: int,
    n_residues: int,
    n_targets: int | None = None,
    verb: str = "search",
) -> None:
    """The ``--hmmer-report`` of 'seqem profile VERB' (:mod:`seqem.io.hmmer_report`),
    in hmmsearch's layout (phmmer's for seqsearch); ``n_targets``: the targets
    searched (strands and windows)."""
    from ..io.atomic import atomic_output
    from ..io.hmmer_report import ReportRow, write_report_header

    rules = _ReportRules(args)
    seqsearch = verb == "seqsearch"
    with atomic_output(args.hmmer_report) as fh:
        write_report_header(
            fh, [("query " + ("sequence" if seqsearch else "HMM") + " file", args.model),
                 ("target sequence database", args.database)],
            verb=verb, like="phmmer" if seqsearch else "hmmsearch",
        )  # fmt: skip
        for m, hmm in enumerate(models):
            strands = n_strands(args.strand, hmm)
            rows = [
                ReportRow(_sequence_hit(h), hmm, h.target_name, h.length)
                for h in hits
                if h.model_index == m
            ]
            passed = report[m] if m < len(report) else None
            counts = search_counts(args, hmm, n_seq, n_residues, len(rows), passed, strands,
                                   n_targets)  # fmt: skip
            size = f"{'L' if seqsearch else 'M'}={hmm.M}"
            rules.write(fh, (hmm.name, hmm.accession, hmm.description, size), rows, counts)
        fh.write("[ok]\n")


def write_scan_report(
    args: argparse.Namespace,
    models: list[ProfileHMM],
    pairs: list[tuple[Hit, ProfileHMM]],
    per_sequence: dict[int, Any],
) -> None:
    """The ``--hmmer-report`` of a scan, in hmmscan's layout: one block per query
    sequence (every sequence of the file, with hits or not)."""
    from ..io.atomic import atomic_output
    from ..io.hmmer_report import PipelineCounts, ReportRow, write_report_header

    rules = _ReportRules(args)
    filters = _filter_thresholds(args)
    by_sequence: dict[int, list[tuple[Hit, ProfileHMM]]] = {}
    for h, hmm in pairs:
        by_sequence.setdefault(h.target_index, []).append((h, hmm))
    strands = max(n_strands(args.strand, m) for m in models)
    n_models = len(models)
    nodes = sum(m.M for m in models)
    with atomic_output(args.hmmer_report) as fh:
        write_report_header(
            fh, [("query sequence file", args.database), ("target HMM database", args.model)],
            verb="scan", like="hmmscan",
        )  # fmt: skip
        for first in sorted(per_sequence):
            piece = per_sequence[first]
            for k, name in enumerate(piece.names):
                ordinal = first + k
                found = by_sequence.get(ordinal, [])
                rows = [
                    ReportRow(_as_model_row(h, hmm), hmm, h.target_name, h.length)
                    for h, hmm in found
                ]
                length = int(piece.lengths[k])
                passed = None
                if filters is not None:
                    tally = piece.tally[k]
                    passed = dict(zip(("msv", "bias", "viterbi", "forward"),
                                      (int(x) for x in tally), strict=True))  # fmt: skip
                counts = PipelineCounts(
                    query=("Query sequence(s):", 1, f"({length * strands} residues searched)"),
                    targets=("Target model(s):", n_models, f"({nodes} nodes)"),
                    n_targets=n_models * strands,
                    Z=(args.Z if args.Z is not None else n_models) * strands,
                    domZ=args.domZ if args.domZ is not None else len(rows),
                    Z_given=args.Z is not None, domZ_given=args.domZ is not None,
                    passed=passed, thresholds=filters or (1.0, 1.0, 1.0),
                )  # fmt: skip
                query = (name, piece.accessions[k] if piece.accessions else None,
                         piece.descriptions[k], f"L={length}")  # fmt: skip
                rules.write(fh, query, rows, counts, scan=True)
        fh.write("[ok]\n")


def _sequence_inclusion(
    hmm: ProfileHMM, cutoff: str | None, inc: Inclusion
) -> Callable[[Any], bool]:
    """Whether a sequence (anything with ``evalue`` and ``score``) is included: the
    model's cutoff, ``inc.bits`` or ``inc.evalue``, in that order of precedence."""
    if cutoff is not None:
        floor = cutoffs(hmm, cutoff)[0]
        return lambda h: h.score >= floor
    if inc.bits is not None:
        bits = inc.bits
        return lambda h: h.score >= bits
    return lambda h: h.evalue <= inc.evalue


def _searched(
    args: argparse.Namespace,
    ctx: RunContext,
    *,
    scan: bool,
    models: list[ProfileHMM] | None = None,
    per_sequence: dict[int, _PieceTally] | None = None,
) -> tuple[list[ProfileHMM], list[Hit], int, list[dict[str, int]]]:
    """What 'search', 'scan' and 'seqsearch' share: the options checked, the models read
    (or ``models``, made by the caller from ``args.model``) and every pair scored (a
    scan's E-values over the models, its domZ and --max-hits applied per sequence
    later, by :func:`scan_hits`); returns the models, the hits, the number of
    sequences and the filters' counts per model (empty with --max)."""
    outputs = (args.output, args.tblout, args.domtblout, getattr(args, "alignment", None),
               getattr(args, "hmmer_report", None))  # fmt: skip
    for path in outputs:
        check_output_path(path)
    _one_stdin(args.model, args.database, "sequence" if scan else "database")
    if models is None:
        models = read_models(args.model)
    if args.cutoff is not None:
        for hmm in models:  # before the search, naming the model file
            cutoffs(hmm, args.cutoff, path=args.model)
    report: list[dict[str, int]] = []
    totals: dict[str, int] = {}
    hits, n_seq = search_models(
        models,
        args.database,
        Z=len(models) if scan and args.Z is None else args.Z,
        domZ=None if scan else args.domZ,
        max_hits=None if scan else args.max_hits,
        domains=any(outputs[1:]),
        report=report,
        progress=ctx.status(),
        totals=totals,
        per_sequence=per_sequence,
        **search_settings(args),
    )
    ctx.finish_progress()
    ctx.results.update(n_residues=totals.get("residues", 0), n_targets=totals.get("targets", 0))
    return models, hits, n_seq, report


def search_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of :func:`search_models` that :func:`add_search_options`
    sets, less those a scan counts differently (-Z, --domZ, --max-hits)."""
    from ..profile.pipeline import Filters

    return dict(
        evalue=args.evalue,
        bits=args.bits,
        cutoff=args.cutoff,
        threads=args.threads,
        null2=args.null2,
        strand=args.strand,
        window=args.window,
        filters=None if args.max else Filters(args.F1, args.F2, args.F3, bias=not args.nobias),
    )


def _filter_counts(passed: dict[str, int], what: str) -> str:
    """How many of ``passed['total']`` passed each filter, as a log line."""
    total = max(passed["total"], 1)
    stages = ", ".join(
        f"{label} {passed[key]} ({passed[key] / total:.3g})"
        for key, label in (("msv", "MSV"), ("bias", "bias"), ("viterbi", "Viterbi"),
                           ("forward", "Forward"))
    )  # fmt: skip
    return f"of {passed['total']} {what} passed {stages}"


def _cmd_search(args: argparse.Namespace, ctx: RunContext) -> int:
    models, hits, n_seq, report = _searched(args, ctx, scan=False)
    return report_search(args, ctx, models, hits, n_seq, report, verb="search")


def report_search(
    args: argparse.Namespace,
    ctx: RunContext,
    models: list[ProfileHMM],
    hits: list[Hit],
    n_seq: int,
    report: list[dict[str, int]],
    *,
    verb: str,
) -> int:
    """Write what a search found (the TSV, and the tables and -A alignment asked for)
    and log it, for 'seqem profile VERB'."""
    if args.tblout or args.domtblout:
        n_domains = write_domain_tables(
            models, hits, tblout=args.tblout, domtblout=args.domtblout,
            dom_evalue=args.dom_evalue, dom_bits=args.dom_bits, cutoff=args.cutoff,
            inc=inclusion_of(args),
        )  # fmt: skip
        ctx.outputs.extend(p for p in (args.tblout, args.domtblout) if p)
        ctx.results.update(n_domains=n_domains)
    if args.alignment:
        n_aligned, numbered = write_domain_alignment(
            models, hits, args.alignment, cutoff=args.cutoff,
            inc=inclusion_of(args),
        )  # fmt: skip
        ctx.outputs.append(args.alignment)
        ctx.results.update(n_aligned_domains=n_aligned)
        if not n_aligned:
            ctx.info(f"no domain satisfies the inclusion thresholds: {args.alignment} is empty")
        for why in numbered:
            ctx.info(
                f"{args.alignment}: {why}, so the rows of its block are numbered "
                "N|TARGET/FROM-TO, as hmmsearch -A numbers rows whose names are not unique"
            )
    if getattr(args, "hmmer_report", None):
        write_hmmer_report(args, models, hits, report, n_seq=n_seq,
                           n_residues=int(ctx.results.get("n_residues", 0)),
                           n_targets=int(ctx.results.get("n_targets", 0)) or None,
                           verb=verb)  # fmt: skip
        ctx.outputs.append(args.hmmer_report)
    write_text(args.output, hits_table(hits, strands=_stranded_search(models)))
    ctx.outputs.append(args.output)
    ctx.results.update(n_models=len(models), n_sequences=n_seq, n_hits=len(hits))
    for hmm, passed in zip(models, report, strict=False):  # empty with --max
        ctx.info(f"{hmm.name}: {_filter_counts(passed, 'sequences')}")
    threshold = f"score >= {args.bits:g} bits" if args.bits is not None else f"E <= {args.evalue:g}"
    if args.cutoff is not None:
        threshold = f"the models' {args.cutoff} cutoffs"
    ctx.info(
        f"seqem profile {verb}: {len(models)} model(s) x {n_seq} sequence(s) -> "
        f"{len(hits)} hit(s) at {threshold}"
    )
    return 0


# ---------------------------------------------------------------------------
# scan

SCAN_DESCRIPTION = """\
Annotate sequences with a library of profile HMMs (Pfam, say), as hmmscan
does: each sequence is the query, every model of MODELS.hmm a target.  The
scores are those of 'seqem profile search' on the same pairs (the same
filters, Forward score, domains and null2 correction): only the
bookkeeping of a scan differs.  E-value = Z x P-value with Z the number of
models in the library (-Z to set it); a domain's conditional E-value counts
the models reported for its sequence (--domZ to set it).

Output: a TSV, one row per reported (sequence, model) pair, grouped by
sequence in the order of SEQS.fa and sorted by E-value, columns query_name,
query_accession, target_name, target_accession, evalue, bits, length (of
the model), description (of the model); NA where there is none.
--tblout/--domtblout write hmmscan's tables (the model is the target, the
sequence the query).  'seqem profile press' makes a large library fast to
read."""


def _add_scan(verbs: Any) -> None:
    p = verbs.add_parser(
        "scan",
        help="annotate sequences with a library of profile HMMs (as hmmscan; TSV of hits)",
        description=SCAN_DESCRIPTION,
        epilog=examples(
            "seqem profile scan data/example_family.hmm data/example_family.fa -o domains.tsv",
            "seqem profile seqsearch data/example_query.fa data/example_db.fa -o hits.tsv",
            "seqem profile iterate data/example_query.fa data/example_db.fa -o hits.tsv",
            "seqem profile scan data/example_family.hmm data/example_family.fa --null2 "
            "--tblout seqs.tbl --domtblout domains.domtbl -o domains.tsv",
        ),
    )
    p.add_argument("model", metavar="MODELS.hmm", help="HMMER3 model file (the library)")
    p.add_argument(
        "database",
        metavar="SEQS.fa",
        help="query sequences: FASTA or Swiss-Prot text, plain or gzip; '-' for stdin",
    )
    add_search_options(p, scan=True)
    add_hmmer_report_option(p, "hmmscan")
    add_run_options(p)
    p.set_defaults(_run=_cmd_scan)


#: Columns of ``seqem profile scan``'s TSV.
SCAN_COLUMNS = ("query_name", "query_accession", "target_name", "target_accession", "evalue",
                "bits", "length", "description")  # fmt: skip


def scan_hits(hits: list[Hit], models: list[ProfileHMM], *, dom_z: float | None = None,
              max_hits: int | None = None) -> list[tuple[Hit, ProfileHMM]]:  # fmt: skip
    """The hits of a search (``Z`` the number of models) as a scan reports them:
    grouped by sequence in database order, each group by E-value (the better
    score first on a tie), at most ``max_hits`` per sequence, each with its
    model; the domains' conditional E-values count ``dom_z`` targets, by
    default the models reported for the sequence (hmmscan's domZ)."""
    groups: dict[int, list[tuple[Hit, ProfileHMM]]] = {}
    for h in hits:
        groups.setdefault(h.target_index, []).append((h, models[h.model_index]))
    out = []
    for index in sorted(groups):
        group = sorted(groups[index], key=lambda pair: (pair[0].evalue, -pair[0].bits))
        if max_hits is not None:
            group = group[:max_hits]
        z = float(len(group)) if dom_z is None else dom_z
        for h, hmm in group:
            if h.domains is not None:
                doms = tuple(dataclasses.replace(d, c_evalue=d.pvalue * z) for d in h.domains)
                h = dataclasses.replace(h, domains=doms)
            out.append((h, hmm))
    return out


def scan_table(pairs: list[tuple[Hit, ProfileHMM]], *, strands: bool = False) -> str:
    """A scan's hits as TSV text with a header row (:data:`SCAN_COLUMNS`; ``strands``:
    as :func:`hits_table`)."""

    text = _tsv_field
    lines = ["\t".join(_with_strand(SCAN_COLUMNS) if strands else SCAN_COLUMNS)]
    for h, hmm in pairs:
        fields = [h.target_name, text(h.target_accession), hmm.name, text(hmm.accession),
                  f"{h.evalue:.3g}", f"{h.bits:.2f}", str(hmm.M)]  # fmt: skip
        if strands:
            fields.append(text(h.strand))
        fields.append(text(hmm.description))
        lines.append("\t".join(fields))
    return "\n".join(lines) + "\n"


def write_scan_tables(
    pairs: list[tuple[Hit, ProfileHMM]],
    *,
    tblout: str | None,
    domtblout: str | None,
    dom_evalue: float = 10.0,
    dom_bits: float | None = None,
    cutoff: str | None = None,
    inc: Inclusion = HMMSEARCH_INCLUSION,
) -> int:
    """Write hmmscan's tables of a scan's hits (:func:`scan_hits`, domains defined):
    one block of rows per sequence, the models as targets, the header before the
    first and the footer after the last; return the number of domains reported
    (the rules of :func:`write_domain_tables`, each model's own)."""
    from ..io.atomic import atomic_output
    from ..io.hmmer_tables import SequenceHit, write_domtblout, write_tblout

    reported: dict[int, bool] = {}  # by id() of each domain
    included: dict[int, Callable[[float, float, Any], bool]] = {}  # by id() of each row
    blocks: list[tuple[Hit, list[SequenceHit]]] = []
    for h, hmm in pairs:
        doms = h.domains or ()
        report = _domain_rule(hmm, cutoff, dom_evalue, dom_bits)
        reported.update((id(d), bool(report(d))) for d in doms)
        row = SequenceHit(name=hmm.name, accession=hmm.accession or "", length=hmm.M,
                          evalue=h.evalue, score=h.bits, bias=h.bias, domains=tuple(doms),
                          description=hmm.description or "", **_counts(h))  # fmt: skip
        included[id(row)] = _inclusion(hmm, cutoff, inc)
        if not blocks or blocks[-1][0].target_index != h.target_index:
            blocks.append((h, []))
        blocks[-1][1].append(row)

    def is_reported(d: Any) -> bool:
        return reported[id(d)]

    def is_included(row: SequenceHit, d: Any) -> bool:
        return included[id(row)](row.evalue, row.score, d)

    for path, table in ((tblout, "tbl"), (domtblout, "domtbl")):
        if path is None:
            continue
        with atomic_output(path) as fh:
            # no hit: the header and footer alone
            written: list[tuple[Hit | None, list[SequenceHit]]] = [*blocks] or [(None, [])]
            last = len(written) - 1
            for b, (seq, rows) in enumerate(written):
                name = "-" if seq is None else seq.target_name
                acc = "" if seq is None else seq.target_accession or ""
                first, final = b == 0, b == last
                if table == "tbl":
                    write_tblout(fh, rows, query_name=name, query_accession=acc,
                                 reported=is_reported, included=is_included, header=first,
                                 footer=final, scan=True)  # fmt: skip
                else:
                    write_domtblout(fh, rows, query_name=name, query_accession=acc,
                                    query_length=0 if seq is None else seq.length,
                                    reported=is_reported, header=first, footer=final,
                                    scan=True)  # fmt: skip
    return sum(reported.values())


def _cmd_scan(args: argparse.Namespace, ctx: RunContext) -> int:
    per_sequence: dict[int, _PieceTally] | None = {} if args.hmmer_report else None
    models, hits, n_seq, report = _searched(args, ctx, scan=True, per_sequence=per_sequence)
    pairs = scan_hits(hits, models, dom_z=args.domZ, max_hits=args.max_hits)
    if per_sequence is not None:
        write_scan_report(args, models, pairs, per_sequence)
        ctx.outputs.append(args.hmmer_report)
    if args.tblout or args.domtblout:
        n_domains = write_scan_tables(
            pairs, tblout=args.tblout, domtblout=args.domtblout, dom_evalue=args.dom_evalue,
            dom_bits=args.dom_bits, cutoff=args.cutoff, inc=inclusion_of(args),
        )  # fmt: skip
        ctx.outputs.extend(p for p in (args.tblout, args.domtblout) if p)
        ctx.results.update(n_domains=n_domains)
    write_text(args.output, scan_table(pairs, strands=_stranded_search(models)))
    ctx.outputs.append(args.output)
    n_annotated = len({h.target_index for h, _ in pairs})
    ctx.results.update(n_models=len(models), n_sequences=n_seq, n_hits=len(pairs))
    if report:
        summed = {key: sum(r[key] for r in report) for key in report[0]}
        ctx.info(_filter_counts(summed, "(sequence, model) pairs"))
    ctx.info(
        f"seqem profile scan: {n_seq} sequence(s) x {len(models)} model(s) -> {len(pairs)} "
        f"hit(s) on {n_annotated} sequence(s)"
    )
    return 0


# ---------------------------------------------------------------------------
# fetch

FETCH_DESCRIPTION = """\
Copy models out of a HMMER3 library (Pfam-A.hmm, say; plain or gzip), as
hmmfetch does: each KEY is a model's NAME or its ACC, with or without the
version (PF00041 finds PF00041.20).  The models are written as they stand
in the library, in the order of the keys; a key that names no model is an
error that lists every such key, and nothing is written."""


def _add_fetch(verbs: Any) -> None:
    p = verbs.add_parser(
        "fetch",
        help="copy models out of a library by name or accession (as hmmfetch)",
        description=FETCH_DESCRIPTION,
        epilog=examples(
            "seqem profile fetch data/example_family.hmm example_family -o one.hmm",
            "seqem profile fetch data/example_family.hmm example_family | head -3",
        ),
    )
    p.add_argument("model", metavar="MODELS.hmm", help="HMMER3 model file (the library)")
    p.add_argument("keys", nargs="*", metavar="KEY", help="model names or accessions")
    p.add_argument(
        "-f",
        dest="keyfile",
        metavar="KEYS.txt",
        help="also the keys in this file, the first word of each line ('#' lines skipped)",
    )
    p.add_argument(
        "-o", "--output", default="-", metavar="OUT.hmm", help="output (default: stdout)"
    )
    add_run_options(p)
    p.set_defaults(_run=_cmd_fetch)


def fetch_models(path: str, keys: list[str]) -> str:
    """The text of the models ``keys`` name (NAME, ACC, or ACC without its version),
    in the order of the keys; a :class:`SeqemError` lists the keys that name none."""
    from ..io.hmmer import model_texts

    wanted = dict.fromkeys(keys)
    found: dict[str, str] = {}
    for model in model_texts(path):
        names = [model.name]
        if model.accession:
            names += [model.accession, model.accession.split(".")[0]]
        for name in names:
            if name in wanted and name not in found:
                found[name] = model.text
        if len(found) == len(wanted):
            break
    missing = [key for key in wanted if key not in found]
    if missing:
        shown = ", ".join(missing[:10])
        if len(missing) > 10:
            shown += f" and {len(missing) - 10} more"
        raise SeqemError(
            f"{path}: no model named or with the accession {shown}"
            if len(missing) == 1
            else f"{path}: {len(missing)} keys name no model (by NAME or ACC): {shown}"
        )
    return "".join(found[key] for key in keys)


def _read_keys(path: str) -> list[str]:
    """The first word of each non-blank, non-``#`` line of a key file."""
    from ..io._source import InputSource

    source = InputSource(path)
    with source.gzip_errors(), source.open_text() as handle:
        return [line.split()[0] for line in handle if line.split() and line[0] != "#"]


def _cmd_fetch(args: argparse.Namespace, ctx: RunContext) -> int:
    check_output_path(args.output)
    keys = list(args.keys)
    if args.keyfile:
        keys += _read_keys(args.keyfile)
    if not keys:
        raise SeqemError("no key given: name models (or their accessions) or give -f KEYS.txt")
    write_text(args.output, fetch_models(args.model, keys))
    ctx.outputs.append(args.output)
    ctx.results.update(n_models=len(keys))
    ctx.info(f"seqem profile fetch: {len(keys)} model(s) from {args.model}")
    return 0


# ---------------------------------------------------------------------------
# stat

STAT_DESCRIPTION = """\
Summary statistics of each model of a HMMER3 file, one row each, as hmmstat
reports them (in bits): relent, the mean relative entropy of the match
emissions to the background; info, their mean information content; p_relE,
the mean score per consensus position, occupancy-weighted, with the log-odds
of the transitions into each position; compKL, the symmetric Kullback-Leibler
distance of the mean match composition from the background (composition
bias).  Also the model's name, accession, number of sequences, effective
number of sequences (EFFN) and length."""


def _add_stat(verbs: Any) -> None:
    p = verbs.add_parser(
        "stat",
        help="summary statistics of profile HMMs (as hmmstat; TSV)",
        description=STAT_DESCRIPTION,
        epilog=examples(
            "seqem profile stat data/example_family.hmm",
            "seqem profile stat data/example_family.hmm -o stats.tsv",
        ),
    )
    p.add_argument("model", metavar="MODELS.hmm", help="HMMER3 model file (one or more models)")
    p.add_argument(
        "-o", "--output", default="-", metavar="STATS.tsv", help="TSV output (default: stdout)"
    )
    add_run_options(p)
    p.set_defaults(_run=_cmd_stat)


def stat_table(models: list[ProfileHMM]) -> str:
    """The statistics of ``models`` as TSV text with a header row."""
    from ..profile.modelstats import STAT_COLUMNS, model_statistics

    def text(value: Any) -> str:
        return f"{value:.4f}" if isinstance(value, float) else _tsv_field(value)

    lines = ["\t".join(STAT_COLUMNS)]
    for i, hmm in enumerate(models, start=1):
        row = dict(model_statistics(hmm), idx=i)
        lines.append("\t".join(text(row[c]) for c in STAT_COLUMNS))
    return "\n".join(lines) + "\n"


def _cmd_stat(args: argparse.Namespace, ctx: RunContext) -> int:
    check_output_path(args.output)
    models = read_models(args.model)
    write_text(args.output, stat_table(models))
    ctx.outputs.append(args.output)
    ctx.results.update(n_models=len(models))
    return 0


# ---------------------------------------------------------------------------
# press

PRESS_DESCRIPTION = """\
Write the models of a HMMER3 file in binary form next to it (MODELS.hmm.npz),
as hmmpress does for hmmscan: 'seqem profile search' and 'align' then read
the models from it, tens of times faster than parsing the text (which
matters for libraries such as Pfam's 20,000 models).  The pressed file is
stamped with the text file's size and modification time and ignored once
they change, so an edited model file is never shadowed by a stale press."""


def _add_press(verbs: Any) -> None:
    p = verbs.add_parser(
        "press",
        help="pre-process a model library for fast reading (as hmmpress)",
        description=PRESS_DESCRIPTION,
        epilog=examples(
            "seqem profile build data/example_family.sto -o family.hmm",
            "seqem profile press family.hmm",
        ),
    )
    p.add_argument("model", metavar="MODELS.hmm", help="HMMER3 model file")
    add_run_options(p, threads=False)
    p.set_defaults(_run=_cmd_press)


def _cmd_press(args: argparse.Namespace, ctx: RunContext) -> int:
    from ..io.pressed import press, pressed_path

    out = pressed_path(args.model)
    check_output_path(out)  # before the work: a directory of that name fails here
    n = press(args.model)
    ctx.outputs.append(out)
    ctx.results.update(n_models=n)
    ctx.info(f"seqem profile press: {n} model(s) -> {out}")
    return 0


# ---------------------------------------------------------------------------
# emit


EMIT_DESCRIPTION = """\
Sample sequences from the models of a HMMER3 file (FASTA output): N per
model, named MODEL-sampleI.  By default each sequence is a path through the
whole model (glocal); with --local it is a uniform fragment of the model."""


def _add_emit(verbs: Any) -> None:
    p = verbs.add_parser(
        "emit",
        help="sample sequences from profile HMMs (FASTA output)",
        description=EMIT_DESCRIPTION,
        epilog=examples(
            "seqem profile emit data/example_family.hmm -N 10 -o samples.fa",
            "seqem profile emit data/example_family.hmm -N 5 --local --seed 7 | head",
            "seqem profile emit data/example_family.hmm --consensus",
        ),
    )
    p.add_argument("model", metavar="MODEL.hmm", help="HMMER3 model file")
    p.add_argument(
        "-N",
        dest="n",
        type=nonnegative_int,
        default=10,
        metavar="n",
        help="sequences per model (default: %(default)s)",
    )
    p.add_argument(
        "--seed",
        type=nonnegative_int,
        default=DEFAULT_SEED,
        metavar="S",
        help="random seed (default: %(default)s)",
    )
    p.add_argument(
        "--local", action="store_true", help="emit uniform fragments of the model (local paths)"
    )
    p.add_argument(
        "--consensus",
        action="store_true",
        help="write each model's majority-rule consensus instead (the most probable residue "
        "of each match state, as hmmemit -c), named MODEL-consensus",
    )
    p.add_argument(
        "-o", "--output", default="-", metavar="OUT.fa", help="FASTA output (default: stdout)"
    )
    add_run_options(p, threads=False)
    p.set_defaults(_run=_cmd_emit)


def _fasta_record(name: str, text: str) -> str:
    """A FASTA record, 60 residues a line (as HMMER writes them)."""
    return f">{name}\n" + "".join(text[j : j + 60] + "\n" for j in range(0, len(text), 60))


def emit_fasta(models: list[ProfileHMM], n: int, *, seed: int, local: bool) -> str:
    """FASTA text of ``n`` sequences sampled from each model."""
    import numpy as np

    from ..profile.emit import emit

    rng = np.random.default_rng(seed)
    out: list[str] = []
    for hmm in models:
        seqs, _ = emit(hmm, n, random_state=rng, mode="local" if local else "glocal")
        out.extend(_fasta_record(seqs.names[i], seqs.text(i)) for i in range(seqs.n_sequences))
    return "".join(out)


def consensus_fasta(models: list[ProfileHMM]) -> str:
    """Each model's majority-rule consensus: the most probable residue of each match
    state (the first of equals), as ``hmmemit -c`` writes it."""
    import numpy as np

    out = []
    for hmm in models:
        best = np.argmax(np.asarray(hmm.match[1:]), axis=1)
        symbols = hmm.alphabet.symbols
        out.append(_fasta_record(f"{hmm.name}-consensus", "".join(symbols[i] for i in best)))
    return "".join(out)


def _cmd_emit(args: argparse.Namespace, ctx: RunContext) -> int:
    check_output_path(args.output)
    models = read_models(args.model)
    if args.consensus:
        write_text(args.output, consensus_fasta(models))
        ctx.outputs.append(args.output)
        ctx.results.update(n_models=len(models), n_sequences=len(models))
        ctx.info(f"seqem profile emit: the consensus of {len(models)} model(s) -> {args.output}")
        return 0
    write_text(args.output, emit_fasta(models, args.n, seed=args.seed, local=args.local))
    ctx.outputs.append(args.output)
    ctx.results.update(n_models=len(models), n_sequences=args.n * len(models))
    mode = "local" if args.local else "glocal"
    ctx.info(
        f"seqem profile emit: {args.n * len(models)} {mode} sequence(s) from "
        f"{len(models)} model(s), seed {args.seed} -> {args.output}"
    )
    return 0


# ---------------------------------------------------------------------------
# logo

LOGO_DESCRIPTION = """\
Draw a profile HMM as a sequence logo (an HMM logo): one stack of letters
per node, the tallest on top, with HMMER's hmmlogo height rules
(--height): relent_all (default; the stack is the node's relative entropy
in bits, shared by every residue in proportion to its probability),
relent_abovebg (shared only by the residues above their background
frequency) or score (each residue's log-odds score in bits, negative
scores below the axis).  A panel below shows each node's match occupancy
and the probability of an insertion after it (--no-indels: none).
--heatmap draws the match emission probabilities as a heat map instead,
under each node's relative entropy.  --table writes the numbers drawn (one
row per node: the residues' heights, the relative entropy, the insertion
probability and expected length, and the occupancy; hmmlogo's numbers)."""


def _add_logo(verbs: Any) -> None:
    p = verbs.add_parser(
        "logo",
        help="draw a profile HMM as a sequence logo or heat map (and its letter heights)",
        description=LOGO_DESCRIPTION,
        epilog=examples(
            "seqem profile logo data/example_family.hmm -o logo.png",
            "seqem profile logo data/example_family.hmm --nodes 1-30 --height score -o s.svg",
            "seqem profile logo data/example_family.hmm --table heights.tsv",
        ),
    )
    p.add_argument("model", metavar="MODEL.hmm", help="HMMER3 model file")
    p.add_argument("-o", "--output", metavar="FILE.png", help="the picture (png, pdf or svg)")
    p.add_argument(
        "--table", metavar="HEIGHTS.tsv", help="the letter heights as a TSV ('-': stdout)"
    )
    p.add_argument(
        "--name", metavar="NAME", help="the model to draw (needed when the file has several)"
    )
    p.add_argument("--nodes", metavar="A-B", help="nodes to draw (default: all)")
    p.add_argument("--height", choices=HEIGHT_RULES, default="relent_all",
                   help="letter height rule (default: %(default)s)")  # fmt: skip
    p.add_argument("--heatmap", action="store_true", help="a heat map of the match emissions")
    p.add_argument("--no-indels", action="store_true", help="no occupancy and insertion panel")
    add_run_options(p, threads=False)
    p.set_defaults(_run=_cmd_logo)


#: hmmlogo's height rules (``seqem.profile.logo.HEIGHTS``; kept here so that the
#: parser needs no NumPy).
HEIGHT_RULES = ("relent_all", "relent_abovebg", "score")


def _chosen_model(models: list[ProfileHMM], name: str | None, path: str) -> ProfileHMM:
    """The model ``name`` of a file (the only one when ``name`` is None)."""
    if name is None:
        if len(models) > 1:
            names = ", ".join(m.name for m in models[:5]) + (", ..." if len(models) > 5 else "")
            raise SeqemError(f"{path}: {len(models)} models ({names}): choose one with --name")
        return models[0]
    for m in models:
        if m.name == name:
            return m
    raise SeqemError(f"{path}: no model named {name!r}")


def logo_table(hmm: ProfileHMM, rule: str, start: int = 1, end: int | None = None) -> str:
    """The letter heights and indel values of nodes ``start..end`` (all by default) as TSV
    text with a header row."""
    from ..profile.logo import indel_values, logo_heights, relative_entropy

    heights = logo_heights(hmm, rule)
    indels = indel_values(hmm)
    relent = relative_entropy(hmm)
    head = ["node", *hmm.alphabet.symbols, "relative_entropy", "insert_probability",
            "insert_length", "occupancy"]  # fmt: skip
    lines = ["\t".join(head)]
    for k in range(start - 1, hmm.M if end is None else end):
        cells = [f"{h:.4f}" for h in heights[k]] + [f"{relent[k]:.4f}"]
        cells += [f"{v:.4f}" for v in indels[k]]
        lines.append("\t".join([str(k + 1), *cells]))
    return "\n".join(lines) + "\n"


def _cmd_logo(args: argparse.Namespace, ctx: RunContext) -> int:
    if args.output is None and args.table is None:
        raise SeqemError("nothing to write: give -o FILE.png and/or --table HEIGHTS.tsv")
    check_output_path(args.output, plot=True)
    check_output_path(args.table)
    models = read_models(args.model)
    hmm = _chosen_model(models, args.name, args.model)
    start, end = 1, hmm.M
    if args.nodes is not None:
        start, end = int_range(args.nodes, "--nodes")
        if end > hmm.M:
            raise SeqemError(f"--nodes {args.nodes}: the model {hmm.name} has {hmm.M} nodes")
    if args.table is not None:
        write_text(args.table, logo_table(hmm, args.height, start, end))
        ctx.outputs.append(args.table)
    if args.output is not None:
        from ..plotting import plot_logo, plot_profile, save_figure

        if args.heatmap:
            ax = plot_profile(hmm, start=start, end=end)
        else:
            ax = plot_logo(hmm, rule=args.height, start=start, end=end, indels=not args.no_indels)
        save_figure(ax.figure, args.output)
        ctx.outputs.append(args.output)
    ctx.results.update(model=hmm.name, M=hmm.M, nodes=[start, end], height=args.height)
    return 0


__all__ = [
    "register",
    "build_model",
    "build_models",
    "search_models",
    "emit_fasta",
    "hits_table",
    "logo_table",
    "Hit",
    "HIT_COLUMNS",
]
