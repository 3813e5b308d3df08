"""``seqem profile seqsearch`` and ``seqem profile iterate``: search with sequences.

A query sequence becomes a profile HMM through a substitution score matrix
(:mod:`seqem.profile.seqmodel`), as phmmer makes its models; ``iterate``
then rebuilds the model from the alignment of what it found and searches
again, round after round, as jackhmmer does.  The searches are those of
``seqem profile search`` (:func:`~seqem.cli.profile.search_models`) and the
rebuilt models those of ``seqem profile build --hand``.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import TYPE_CHECKING, Any

from ..errors import AlphabetError, InputFormatError, ParameterError
from ._common import (
    add_run_options,
    check_output_path,
    examples,
    positive_int,
    probability,
    write_text,
)
from .profile import (
    Hit,
    Inclusion,
    _inclusion,
    _one_stdin,
    _ReportRules,
    _sequence_hit,
    add_calibration_options,
    add_hmmer_report_option,
    add_search_options,
    add_weighting_options,
    build_options_of,
    calibration_of,
    hits_table,
    inclusion_of,
    report_search,
    search_counts,
    search_models,
    search_settings,
    unique_row_names,
    with_unique_names_note,
    write_domain_tables,
)

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable

    import numpy as np

    from ..io.msa import MSA
    from ..profile.align import ProfileAlignment
    from ..profile.calibrate import Calibration
    from ..profile.model import ProfileHMM
    from ..profile.seqmodel import ScoreSystem
    from ._common import RunContext

#: jackhmmer's inclusion thresholds (stricter than a search's: what is included
#: shapes the next round's model).
ITERATE_INCLUSION = Inclusion(evalue=0.001, dom_evalue=0.001)


#: :data:`seqem.profile.seqmodel.MATRICES`, ``POPEN`` and ``PEXTEND`` (written out here so
#: that building the parser imports no numerics; a test checks that they agree).
MATRICES = ("BLOSUM45", "BLOSUM50", "BLOSUM62", "BLOSUM80", "BLOSUM90", "PAM30", "PAM70",
            "PAM250")  # fmt: skip
POPEN, PEXTEND = 0.02, 0.4


def add_score_system_options(p: argparse.ArgumentParser) -> None:
    """phmmer's options of the score system that turns a sequence into a model."""
    g = p.add_argument_group("score system of the query models (as phmmer's)")
    mx = g.add_mutually_exclusive_group()
    mx.add_argument(
        "--mx",
        default="BLOSUM62",
        type=str.upper,
        choices=MATRICES,
        metavar="NAME",
        help=f"substitution matrix: {', '.join(MATRICES)} (default: %(default)s)",
    )
    mx.add_argument(
        "--mxfile",
        metavar="FILE",
        help="substitution matrix from a file in NCBI's format (as BLAST reads them)",
    )
    g.add_argument(
        "--popen",
        type=probability,
        default=POPEN,
        metavar="X",
        help="gap open probability, below 0.5 (default: %(default)s)",
    )
    g.add_argument(
        "--pextend",
        type=probability,
        default=PEXTEND,
        metavar="X",
        help="gap extend probability, below 1 (default: %(default)s)",
    )


def _add_inputs(p: argparse.ArgumentParser, database_note: str) -> None:
    """The two positional arguments: the query sequences and the database."""
    p.add_argument("model", metavar="QUERY.fa", help="protein query sequence(s): FASTA, or '-'")
    p.add_argument(
        "database",
        metavar="DB.fa",
        help=f"protein sequences: FASTA or Swiss-Prot text, plain or gzip ({database_note})",
    )


def score_system_of(args: argparse.Namespace) -> ScoreSystem:
    from ..profile.seqmodel import score_system

    return score_system(args.mxfile or args.mx, popen=args.popen, pextend=args.pextend)


def query_models(
    path: str, system: ScoreSystem, calibration: Calibration | None = None
) -> list[tuple[ProfileHMM, np.ndarray]]:
    """A calibrated single-sequence model of each sequence of a protein FASTA file, with
    the sequence's codes; names must differ (they name the queries in the tables)."""
    from ..io.sequences import read_sequences
    from ..profile.calibrate import calibrate
    from ..profile.model import AMINO
    from ..profile.seqmodel import single_sequence_model

    seqs = read_sequences(path)
    where = None if path == "-" else path
    if seqs.n_sequences == 0:
        raise InputFormatError("no query sequence", path=where)
    if seqs.alphabet.name != AMINO.name:
        raise AlphabetError(
            f"the query sequences look like {seqs.alphabet.name}; seqsearch and iterate take "
            "protein queries (phmmer's and jackhmmer's models are made from a protein matrix)",
            path=where,
        )
    seen: set[str] = set()
    out = []
    for i, name in enumerate(seqs.names):
        if name in seen:
            raise InputFormatError(
                f"two query sequences are named {name!r}; the queries need different names",
                path=where,
            )
        seen.add(name)
        codes = seqs.codes[seqs.bounds[i] : seqs.bounds[i + 1]]
        hmm = single_sequence_model(codes, system, name=name, description=seqs.descriptions[i])
        calibrate(hmm, settings=calibration)
        out.append((hmm, codes))
    return out


# ---------------------------------------------------------------------------
# seqsearch

SEQSEARCH_DESCRIPTION = """\
Search a protein database with protein query sequences, as phmmer does: each
query becomes a profile HMM of one node per residue, its match emissions the
conditional probabilities that a substitution matrix implies (BLOSUM62 by
default, read as log-odds under the null model's composition), its gaps opened
with probability --popen and extended with --pextend; the model is calibrated
and searched with as 'seqem profile search' (the same filters, Forward scores,
E-values, domains, tables and options).  The models equal the ones phmmer and
jackhmmer make of the same sequences.

Output: the TSV of 'seqem profile search', one row per (target, query) hit;
--tblout/--domtblout write HMMER's tables and -A the alignment of the
included domains to each query."""


def _add_seqsearch(verbs: Any) -> None:
    p = verbs.add_parser(
        "seqsearch",
        help="search a protein database with query sequences (as phmmer; TSV of hits)",
        description=SEQSEARCH_DESCRIPTION,
        epilog=examples(
            "seqem profile seqsearch data/example_query.fa data/example_db.fa -o hits.tsv",
            "seqem profile seqsearch --null2 data/example_query.fa data/example_db.fa "
            "--tblout hits.tbl --domtblout hits.domtbl -o hits.tsv",
            "seqem profile seqsearch --mx BLOSUM45 --popen 0.03 data/example_query.fa "
            "data/example_db.fa -o hits.tsv",
        ),
    )
    _add_inputs(p, "'-' for stdin")
    add_search_options(p, cutoffs=False, strands=False)
    add_hmmer_report_option(p, "phmmer")
    p.add_argument(
        "-A",
        dest="alignment",
        metavar="FILE.sto",
        help="also save the alignment of every included domain to its query, as phmmer -A",
    )
    add_score_system_options(p)
    add_calibration_options(p, seed=True)
    add_run_options(p)
    p.set_defaults(_run=_cmd_seqsearch)


def _cmd_seqsearch(args: argparse.Namespace, ctx: RunContext) -> int:
    from .profile import _searched

    _one_stdin(args.model, args.database, "database")
    system = score_system_of(args)
    models = [hmm for hmm, _ in query_models(args.model, system, calibration_of(args, seed=True))]
    models, hits, n_seq, report = _searched(args, ctx, scan=False, models=models)
    return report_search(args, ctx, models, hits, n_seq, report, verb="seqsearch")


# ---------------------------------------------------------------------------
# iterate


@dataclasses.dataclass
class Round:
    """One round of an iterative search.

    ``model`` searched the database and found ``hits``; ``alignment`` is the
    query and the included domains aligned to ``model``, from which the next
    round's model is built; ``new`` counts the included targets that the
    round before had not included.
    """

    number: int
    model: ProfileHMM
    hits: list[Hit]
    n_sequences: int
    alignment: MSA
    aligned: ProfileAlignment
    included: frozenset[str]
    new: int
    converged: bool = False
    #: whether the rows had to be numbered (:func:`~seqem.cli.profile.unique_row_names`)
    numbered: bool = False
    #: sequences past each filter (None with the filters off), and residues searched
    passed: dict[str, int] | None = None
    residues: int = 0

    def stockholm(self) -> str:
        """The alignment as Stockholm text, with hmmsearch -A's note when its rows were
        numbered."""
        text = self.aligned.stockholm(name=self.alignment.name)
        return with_unique_names_note(text) if self.numbered else text


def included_alignment(
    hmm: ProfileHMM,
    hits: list[Hit],
    rule: Callable[[float, float, Any], bool],
    query: np.ndarray,
    *,
    query_name: str,
    name: str,
) -> tuple[MSA, ProfileAlignment, frozenset[str], bool]:
    """The query (one residue per node) and every included domain aligned to ``hmm``
    (its optimal-accuracy path, rows named ``TARGET/ALI_FROM-ALI_TO`` as in ``-A``), as
    an MSA named ``name`` whose RF line marks the model's nodes, as the alignment it
    was laid out from, the included targets' names and whether the rows had to be
    numbered to be unique."""
    import numpy as np

    from ..io.msa import MSA
    from ..profile.align import assemble

    names = [query_name]
    codes = [np.asarray(query, dtype=np.uint8)]
    slots = [np.arange(1, hmm.M + 1, dtype=np.int32)]
    in_match = [np.ones(hmm.M, dtype=bool)]
    posts = [np.ones(hmm.M)]
    targets = set()
    for h in hits:
        for d in h.domains or ():
            if d.path is not None and rule(h.evalue, h.bits, d):
                names.append(f"{h.target_name}/{d.ali_from}-{d.ali_to}")
                codes.append(d.path.codes)
                slots.append(d.path.slot)
                in_match.append(d.path.match)
                posts.append(d.path.post)
                targets.add(h.target_name)
    rows, reason = unique_row_names(names)
    bounds = np.zeros(len(codes) + 1, dtype=np.int64)
    np.cumsum([c.size for c in codes], out=bounds[1:])
    aligned = assemble(
        hmm, rows, np.concatenate(codes), bounds, np.concatenate(slots),
        np.concatenate(in_match), np.concatenate(posts),
    )  # fmt: skip
    assert aligned.posteriors is not None
    aligned = dataclasses.replace(
        aligned, posteriors=("", *aligned.posteriors[1:]), match_posteriors=None
    )
    lines, rf = aligned.columns()
    msa = MSA(
        tuple(rows),
        np.frombuffer("".join(lines).encode("ascii"), dtype=np.uint8).reshape(len(lines), -1),
        hmm.alphabet,
        rf=rf,
        format="stockholm",
        name=name,
    )
    return msa, aligned, frozenset(targets), reason is not None


def iterate_search(
    query: ProfileHMM,
    codes: np.ndarray,
    database: str,
    *,
    rounds: int = 5,
    inc: Inclusion = ITERATE_INCLUSION,
    build: dict[str, Any] | None = None,
    calibration: Calibration | None = None,
    on_round: Callable[[Round], None] | None = None,
    **search: Any,
) -> list[Round]:
    """Search ``database`` with the single-sequence model ``query`` (of the sequence
    ``codes``), then with models rebuilt from what each round includes, as jackhmmer.

    Each round searches with its model (:func:`~seqem.cli.profile.search_models`
    with ``search``'s options, domains defined), aligns the query (one residue
    per node) and every domain that passes ``inc`` (the sequence's E-value
    and the domain's conditional E-value at most 0.001 by default, as
    jackhmmer), and builds the next model from that alignment with its RF
    line as the consensus columns (so every model has the query's length;
    ``build``: more options of :func:`~seqem.profile.build.build_from_msa`),
    then calibrates it.  The search stops after ``rounds`` rounds, or
    converged when a round includes no target the round before had not and
    its alignment has no more rows.  ``on_round`` sees each round as it ends.
    """
    from ..profile.build import build_from_msa
    from ..profile.calibrate import calibrate

    if rounds < 1:
        raise ParameterError(f"the number of rounds must be at least 1, got {rounds}")
    name = query.name
    hmm = query
    done: list[Round] = []
    for number in range(1, rounds + 1):
        report: list[dict[str, int]] = []
        totals: dict[str, int] = {}
        hits, n_seq = search_models(
            [hmm], database, domains=True, report=report, totals=totals, **search
        )
        rule = _inclusion(hmm, None, inc)
        msa, aligned, included, numbered = included_alignment(
            hmm, hits, rule, codes, query_name=name, name=f"{name}-i{number}"
        )
        previous = done[-1] if done else None
        new = len(included - previous.included) if previous is not None else len(included)
        converged = previous is not None and new == 0 and msa.nseq <= previous.alignment.nseq
        if previous is None and not included:
            converged = True  # nothing to build a new model from
        this = Round(
            number, hmm, hits, n_seq, msa, aligned, included, new, converged, numbered,
            report[0] if report else None, totals.get("residues", 0),
        )  # fmt: skip
        done.append(this)
        if on_round is not None:
            on_round(this)
        if converged or number == rounds:
            break
        hmm = build_from_msa(msa, use_rf=True, name=name, **(build or {}))
        hmm.description = query.description
        calibrate(hmm, settings=calibration)
    return done


ITERATE_DESCRIPTION = """\
Iterative search from protein query sequences, as jackhmmer does.  The first
round is 'seqem profile seqsearch': the query becomes a profile HMM through a
substitution matrix.  After each round the query and every included domain
(sequence E-value and conditional domain E-value <= 0.001 by default,
--incE/--incdomE) are aligned to the round's model, and the next round's
model is built from that alignment as 'seqem profile build --hand' builds
(the query's length; position-based weights, entropy weighting, Dirichlet
priors) and calibrated.  The search stops after -N rounds, or when a round
includes no new target (converged).

Outputs describe the last round: the TSV of hits, --tblout/--domtblout
(HMMER's tables) and -A (its alignment of the query and the included
domains).  --chkhmm PREFIX and --chkali PREFIX save every round's model and
alignment as PREFIX-N.hmm and PREFIX-N.sto, as jackhmmer's checkpoints.  A
table of the rounds goes to stderr."""


def _add_iterate(verbs: Any) -> None:
    p = verbs.add_parser(
        "iterate",
        help="iterative search from query sequences (as jackhmmer; TSV of hits)",
        description=ITERATE_DESCRIPTION,
        epilog=examples(
            "seqem profile iterate data/example_query.fa data/example_db.fa -o hits.tsv",
            "seqem profile iterate -N 3 --null2 data/example_query.fa data/example_db.fa "
            "--tblout hits.tbl -A family.sto -o hits.tsv",
            "seqem profile iterate data/example_query.fa data/example_db.fa --chkhmm rounds "
            "--chkali rounds -o hits.tsv",
        ),
    )
    _add_inputs(p, "read once per round")
    p.add_argument(
        "-N",
        dest="rounds",
        type=positive_int,
        default=5,
        metavar="N",
        help="at most N rounds (default: %(default)s)",
    )
    add_search_options(p, cutoffs=False, strands=False)
    p.set_defaults(inc_evalue=ITERATE_INCLUSION.evalue, inc_dom_evalue=ITERATE_INCLUSION.dom_evalue)
    add_hmmer_report_option(p, "jackhmmer")
    p.add_argument(
        "-A",
        dest="alignment",
        metavar="FILE.sto",
        help="also save the last round's alignment of the query and the included domains",
    )
    p.add_argument("--chkhmm", metavar="PREFIX", help="save each round's model as PREFIX-N.hmm")
    p.add_argument("--chkali", metavar="PREFIX", help="save each round's alignment as PREFIX-N.sto")
    add_score_system_options(p)
    add_weighting_options(p)
    add_calibration_options(p, seed=True)
    add_run_options(p)
    p.set_defaults(_run=_cmd_iterate)


ROUND_COLUMNS = ("query", "round", "model_length", "hits", "included", "new", "rows", "converged")


def _cmd_iterate(args: argparse.Namespace, ctx: RunContext) -> int:
    from ..io.atomic import atomic_output
    from ..io.hmmer import write_hmmer

    if args.database == "-":
        raise ParameterError("iterate reads the database once per round: give a file, not '-'")
    for path in (args.output, args.tblout, args.domtblout, args.alignment, args.hmmer_report):
        check_output_path(path)
    system = score_system_of(args)
    calibration = calibration_of(args, seed=True)
    queries = query_models(args.model, system, calibration)
    settings = search_settings(args)
    settings.update(Z=args.Z, domZ=args.domZ, max_hits=args.max_hits)
    build = build_options_of(args)
    inc = inclusion_of(args)
    status = ctx.status()
    rows: list[dict[str, Any]] = []
    finals: list[Round] = []
    every: list[list[Round]] = []

    def saw(r: Round) -> None:
        if status is not None:
            status(f"iterate: {r.model.name} round {r.number}: {len(r.included)} included")
        values = (r.model.name, r.number, r.model.M, len(r.hits), len(r.included), r.new,
                  r.alignment.nseq, r.converged)  # fmt: skip
        rows.append(dict(zip(ROUND_COLUMNS, values, strict=True)))
        if args.chkhmm:
            saved = dataclasses.replace(r.model)
            if r.number > 1:
                saved.name = f"{r.model.name}-i{r.number - 1}"
            write_hmmer(f"{args.chkhmm}-{r.number}.hmm", saved)
        if args.chkali:
            with atomic_output(f"{args.chkali}-{r.number}.sto") as fh:
                fh.write(r.stockholm())

    for hmm, codes in queries:
        rounds = iterate_search(
            hmm, codes, args.database, rounds=args.rounds, inc=inc, build=build,
            calibration=calibration, on_round=saw, **settings,
        )  # fmt: skip
        finals.append(rounds[-1])
        every.append(rounds)
        last = rounds[-1]
        state = "converged" if last.converged else "stopped"
        ctx.info(
            f"{hmm.name}: {state} after {last.number} round(s); {len(last.included)} target(s) "
            f"included in the last"
        )
    ctx.finish_progress()
    models = [r.model for r in finals]
    hits = [h for r in finals for h in r.hits]
    n_seq = finals[0].n_sequences
    if args.tblout or args.domtblout:
        n_domains = write_domain_tables(
            models, hits, tblout=args.tblout, domtblout=args.domtblout,
            dom_evalue=args.dom_evalue, dom_bits=args.dom_bits, inc=inc,
        )  # fmt: skip
        ctx.outputs.extend(p for p in (args.tblout, args.domtblout) if p)
        ctx.results.update(n_domains=n_domains)
    if args.alignment:
        with atomic_output(args.alignment) as fh:
            fh.write("".join(r.stockholm() for r in finals))
        ctx.outputs.append(args.alignment)
    if args.hmmer_report:
        write_rounds_report(args, every)
        ctx.outputs.append(args.hmmer_report)
    write_text(args.output, hits_table(hits))
    ctx.outputs.append(args.output)
    table = ["\t".join(ROUND_COLUMNS)]
    for row in rows:
        shown = [("yes" if v else "no") if isinstance(v, bool) else str(v) for v in row.values()]
        table.append("\t".join(shown))
    ctx.info("rounds:\n" + "\n".join(table))
    ctx.results.update(
        n_queries=len(finals), n_sequences=n_seq, n_hits=len(hits),
        rounds=rows,
    )  # fmt: skip
    return 0


def write_rounds_report(args: argparse.Namespace, every: list[list[Round]]) -> None:
    """The ``--hmmer-report`` of an iterative search, in jackhmmer's layout: each round's
    list (``+`` newly included, ``-`` no longer), domains and counts, with the ``@@``
    lines between rounds."""
    from ..io.atomic import atomic_output
    from ..io.hmmer_report import ReportRow, write_report_header

    rules = _ReportRules(args)
    with atomic_output(args.hmmer_report) as fh:
        write_report_header(
            fh, [("query sequence file", args.model), ("target sequence database", args.database),
                 ("maximum iterations set to", str(args.rounds))],
            verb="iterate", like="jackhmmer",
        )  # fmt: skip
        for rounds in every:
            before: frozenset[str] = frozenset()
            rows_before = 1  # the query alone
            for r in rounds:
                model = dataclasses.replace(r.model)
                if r.number > 1:
                    model.name = f"{r.model.name}-i{r.number - 1}"
                rows = [ReportRow(_sequence_hit(h), model, h.target_name, h.length)
                        for h in r.hits]  # fmt: skip
                now = r.included

                def mark(row: ReportRow, now: frozenset = now, before: frozenset = before) -> str:
                    name = row.hit.name
                    return "+" if name in now - before else "-" if name in before - now else " "

                nseq = r.alignment.nseq
                tail = (f"\n@@ New targets included:   {r.new}\n"
                        f"@@ New alignment includes: {nseq} subseqs (was {rows_before}), "
                        "including original query\n")  # fmt: skip
                if r.converged:
                    tail += f"@@\n@@ CONVERGED (in {r.number} rounds). \n@@\n\n//\n"
                elif r is rounds[-1]:
                    tail += "//\n"
                else:
                    tail += (
                        f"@@ Continuing to next round.\n\n@@\n@@ Round:                  "
                        f"{r.number + 1}\n@@ Included in MSA:        {nseq} subsequences "
                        f"(query + {nseq - 1} subseqs from {len(now)} targets)\n"
                        f"@@ Model size:             {r.model.M} positions\n@@\n\n"
                    )
                counts = search_counts(args, model, r.n_sequences, r.residues, len(rows), r.passed)
                query = (r.model.name, r.model.accession, r.model.description, f"L={r.model.M}")
                rules.write(
                    fh, query, rows, counts, header="round" if r.number == 1 else "none",
                    marks=mark, end=tail,
                )  # fmt: skip
                before, rows_before = now, nseq
        fh.write("[ok]\n")


__all__ = [
    "ITERATE_INCLUSION",
    "Round",
    "included_alignment",
    "iterate_search",
    "query_models",
]
