"""HMMER's human-readable search report (what ``hmmsearch -o`` writes).

One block per query model: the ranked list of sequences, then each
sequence's domain table and the alignment of every reported domain (model
consensus, match line, target residues, posterior probabilities; the
model's RF and CS lines above them when it has them), then the pipeline's
counts.  The layout follows HMMER 3.3's so that its readers (people, and
parsers such as Biopython's ``hmmer3-text``) read it as they read
hmmsearch's.  Everything here formats; the numbers come from the search.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import IO, Any

import numpy as np

from .hmmer_tables import SequenceHit

__all__ = [
    "PipelineCounts",
    "ReportRow",
    "alignment_display",
    "write_query_report",
    "write_report_header",
]

#: HMMER's default text width (``--textw``).
TEXT_WIDTH = 120
#: Narrowest alignment chunk before the display stops wrapping to the width.
MIN_ALIGNMENT_WIDTH = 40


@dataclasses.dataclass(frozen=True)
class ReportRow:
    """One listed (sequence, model) pair: ``hit`` as the list shows it (a sequence
    for a search, a model for a scan), the pair's model and the sequence's name
    and length (the alignment's target row and coordinates)."""

    hit: SequenceHit
    hmm: Any
    sequence: str
    length: int


@dataclasses.dataclass(frozen=True)
class PipelineCounts:
    """What the summary at the end of a query's report says.

    ``query`` and ``targets``: the first two lines' (label, number, note);
    ``n_targets`` the comparisons the filters saw; ``passed``: how many
    passed each filter (``msv``, ``bias``, ``viterbi``, ``forward``), None
    when the filters were off (``--max``); ``thresholds`` their P-value
    thresholds; ``Z``/``domZ`` with whether they were set on the command line.
    """

    query: tuple[str, int, str]
    targets: tuple[str, int, str]
    n_targets: int
    Z: float
    domZ: float
    Z_given: bool = False
    domZ_given: bool = False
    passed: dict[str, int] | None = None
    thresholds: tuple[float, float, float] = (0.02, 1e-3, 1e-5)


def write_report_header(
    fh: IO[str], lines: Sequence[tuple[str, str]], *, verb: str = "search", like: str = "hmmsearch"
) -> None:
    """The report's opening comment lines: the program and ``(label, value)`` pairs.
    The first line names the HMMER program whose layout the report has (``like``),
    which is how readers of these reports tell which alignment row is the query."""
    from .. import __version__

    fh.write(
        f"# seqem profile {verb}, as {like} :: search profile(s) against a sequence database\n"
    )
    fh.write(f"# seqem {__version__}\n")
    fh.write("# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -\n")
    for label, value in lines:
        fh.write(f"# {label + ':':<33}{value}\n")
    fh.write("# - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -\n\n")


def _g(value: float) -> str:
    """C's ``%.2g``."""
    return f"{value:.2g}"


def alignment_display(
    hmm: Any,
    domain: Any,
    target_name: str,
    *,
    scores: np.ndarray,
    width: int | None = TEXT_WIDTH,
) -> str:
    """A domain's alignment as HMMER prints it (the block after ``== domain``).

    ``scores`` are the match log-odds of the configured model (codes x
    nodes): a residue that is not the consensus but scores above zero gets
    ``+`` on the match line.  ``width``: the lines' width (None: unwrapped).
    """
    from ..profile.align import posterior_codes

    path = domain.path
    codes_pp = posterior_codes(path.post)  # one character per residue
    symbols, _ = hmm.alphabet.degenerate_matrix()
    consensus = hmm.consensus or ""
    model, mline, aseq, pp, cs, rf = [], [], [], [], [], []

    def node(k: int, residue: int | None, post: str) -> None:
        c = consensus[k - 1] if k - 1 < len(consensus) else "x"
        model.append(c)
        cs.append(hmm.cs[k - 1] if hmm.cs else "")
        rf.append(hmm.rf[k - 1] if hmm.rf else "")
        if residue is None:
            aseq.append("-")
            mline.append(" ")
            pp.append(".")
            return
        letter = symbols[residue]
        aseq.append(letter.upper())
        if letter.upper() == c.upper():
            mline.append(c)
        elif scores[residue, k] > 0.0:
            mline.append("+")
        else:
            mline.append(" ")
        pp.append(post)

    k = domain.hmm_from - 1
    for residue, slot, is_match, post in zip(
        path.codes.tolist(), path.slot.tolist(), path.match.tolist(), codes_pp, strict=True
    ):
        if is_match:
            for deleted in range(k + 1, slot):
                node(deleted, None, ".")
            node(slot, residue, post)
            k = slot
        else:
            model.append(".")
            cs.append(".")
            rf.append(".")
            aseq.append(symbols[residue].lower())
            mline.append(" ")
            pp.append(post)
    for deleted in range(k + 1, domain.hmm_to + 1):
        node(deleted, None, ".")

    name_w = max(len(hmm.name), len(target_name))
    step = -1 if domain.ali_from > domain.ali_to else 1
    coord_w = max(len(str(v)) for v in (domain.hmm_from, domain.hmm_to, domain.ali_from,
                                        domain.ali_to))  # fmt: skip
    if width is None:
        ali_w = max(len(model), 1)
    else:
        ali_w = max(width - name_w - 2 * coord_w - 5, MIN_ALIGNMENT_WIDTH)
    lead = " " * (2 + name_w + 1 + coord_w + 1)
    out = []
    k1, i1 = domain.hmm_from, domain.ali_from
    n = len(model)
    for pos in range(0, n, ali_w):
        chunk = slice(pos, pos + ali_w)
        nk = sum(c != "." for c in model[chunk])
        ni = sum(c != "-" for c in aseq[chunk])
        if pos:
            out.append("\n")
        if hmm.rf:
            out.append(f"{lead}{''.join(rf[chunk])} RF\n")
        if hmm.cs:
            out.append(f"{lead}{''.join(cs[chunk])} CS\n")
        text = "".join(model[chunk])
        if nk:
            out.append(f"  {hmm.name:>{name_w}} {k1:>{coord_w}} {text} {k1 + nk - 1:<{coord_w}}\n")
        else:
            out.append(f"  {hmm.name:>{name_w}} {'-':>{coord_w}} {text} {'-':<{coord_w}}\n")
        out.append(f"{lead}{''.join(mline[chunk])}\n")
        text = "".join(aseq[chunk])
        if ni:
            last = i1 + step * (ni - 1)
            out.append(f"  {target_name:>{name_w}} {i1:>{coord_w}} {text} {last:<{coord_w}}\n")
        else:
            out.append(f"  {target_name:>{name_w}} {'-':>{coord_w}} {text} {'-':<{coord_w}}\n")
        out.append(f"{lead}{''.join(pp[chunk])} PP\n")
        k1 += nk
        i1 += step * ni
    return "".join(out)


def _ends(start: int, end: int, first: int, last: int) -> str:
    """HMMER's end marks: ``[`` / ``]`` where a range reaches an end, ``.`` where not."""
    low, high = min(start, end), max(start, end)
    return ("[" if low == first else ".") + ("]" if high == last else ".")


def write_query_report(
    fh: IO[str],
    query: tuple[str, str | None, str | None, str],
    rows: Sequence[ReportRow],
    *,
    reported: Callable[[ReportRow, Any], bool],
    sequence_included: Callable[[ReportRow], bool],
    included: Callable[[ReportRow, Any], bool],
    counts: PipelineCounts,
    scores: Callable[[Any], np.ndarray],
    scan: bool = False,
    width: int | None = TEXT_WIDTH,
    alignments: bool = True,
    header: str = "query",
    marks: Callable[[ReportRow], str] | None = None,
    end: str = "//\n",
) -> None:
    """One query's part of the report, from ``Query:`` to ``//``.

    ``query``: its name, accession, description and size (``"M=85"``,
    ``"L=2554"``).  ``rows`` in rank order (by E-value), each with its
    domains (defined, in sequence order); ``reported`` picks the domains
    listed and aligned, ``sequence_included`` and ``included`` mark the
    inclusion threshold in the list and the ``!``/``?`` of each domain.
    ``scores(hmm)``: the model's match log-odds (codes x nodes), for the
    match line.  ``scan``: hmmscan's layout (the listed targets are models).
    ``width``: the text width (HMMER's ``--textw``; None: no limit, ``--notextw``);
    ``alignments``: False leaves them out (``--noali``).  jackhmmer's rounds:
    ``header`` ``"query"`` (the ``Query:`` lines), ``"round"`` (them and a blank
    line: the first round) or ``"none"`` (the later rounds); ``marks(row)``
    the character before each listed row (``+`` newly included, ``-`` no
    longer included); ``end`` what follows the counts.
    """
    name, accession, description, size = query
    if header != "none":
        fh.write(f"Query:       {name}  [{size}]\n")
        if accession:
            fh.write(f"Accession:   {accession}\n")
        if description:
            fh.write(f"Description: {description}\n")
        if header == "round":
            fh.write("\n")
    hits = [row.hit for row in rows]
    name_w = max([8] + [len(h.name) for h in hits])
    desc_w = None if width is None else max(32, width - name_w - 61)
    fh.write(
        f"Scores for complete {'sequence' if scan else 'sequences'} (score includes all domains):\n"
    )
    fh.write("   --- full sequence ---   --- best 1 domain ---    -#dom-\n")
    fh.write(
        "    E-value  score  bias    E-value  score  bias    exp  N  "
        f"{'Model' if scan else 'Sequence':<{name_w}} Description\n"
    )
    fh.write(
        "    ------- ------ -----    ------- ------ -----   ---- --  "
        f"{'--------':<{name_w}} -----------\n"
    )
    threshold_shown = False
    for row in rows:
        h = row.hit
        if not threshold_shown and not sequence_included(row):
            fh.write("  ------ inclusion threshold ------\n")
            threshold_shown = True
        best = max(h.domains, key=lambda d: d.bitscore) if h.domains else None
        n_reported = sum(bool(reported(row, d)) for d in h.domains)
        expected = h.expected_domains if h.expected_domains is not None else len(h.domains)
        fh.write(
            f"{marks(row) if marks else ' '} {h.evalue:9.2g} {h.score:6.1f} {h.bias:5.1f}  "
            f"{best.i_evalue if best else float('nan'):9.2g} "
            f"{best.bitscore if best else float('nan'):6.1f} "
            f"{best.bias if best else 0.0:5.1f}  {expected:5.1f} {n_reported:2d}  "
            f"{h.name:<{name_w}}  {_flat(h.description)[:desc_w]}\n"
        )
    if not hits:
        fh.write("\n   [No hits detected that satisfy reporting thresholds]\n")
    fh.write(
        f"\n\nDomain annotation for each {'model' if scan else 'sequence'}"
        f"{' (and alignments)' if alignments else ''}:\n"
    )
    if not hits:
        fh.write("\n   [No targets detected that satisfy reporting thresholds]\n")
    for row in rows:
        h, hmm = row.hit, row.hmm
        fh.write(f">> {h.name}  {_flat(h.description)}\n")
        shown = [d for d in h.domains if reported(row, d)]
        if not shown:
            fh.write(
                "   [No individual domains that satisfy reporting thresholds (although "
                "complete target did)]\n\n"
            )
            continue
        fh.write(
            "   #    score  bias  c-Evalue  i-Evalue hmmfrom  hmm to    alifrom  ali to"
            "    envfrom  env to     acc\n"
            " ---   ------ ----- --------- --------- ------- -------    ------- -------"
            "    ------- -------    ----\n"
        )
        for i, d in enumerate(shown, start=1):
            fh.write(
                f" {i:3d} {'!' if included(row, d) else '?'} {d.bitscore:6.1f} {d.bias:5.1f} "
                f"{d.c_evalue:9.2g} {d.i_evalue:9.2g} {d.hmm_from:7d} {d.hmm_to:7d} "
                f"{_ends(d.hmm_from, d.hmm_to, 1, hmm.M)} {d.ali_from:7d} {d.ali_to:7d} "
                f"{_ends(d.ali_from, d.ali_to, 1, row.length)} {d.env_from:7d} {d.env_to:7d} "
                f"{_ends(d.env_from, d.env_to, 1, row.length)} {d.acc:4.2f}\n"
            )
        if not alignments:
            fh.write("\n")
            continue
        fh.write("\n  Alignments for each domain:\n")
        for i, d in enumerate(shown, start=1):
            fh.write(
                f"  == domain {i}  score: {d.bitscore:.1f} bits;  conditional E-value: "
                f"{_g(d.c_evalue)}\n"
            )
            if d.path is not None:
                fh.write(alignment_display(hmm, d, row.sequence, scores=scores(hmm), width=width))
            fh.write("\n")
    fh.write("\n\n")
    _write_counts(fh, counts)
    fh.write(end)


def _flat(text: str | None) -> str:
    """A description on one line (its spaces as they are, as HMMER prints them)."""
    return (text or "").replace("\t", " ").replace("\r", " ").replace("\n", " ")


def _write_counts(fh: IO[str], c: PipelineCounts) -> None:
    def line(label: str, value: int | float, rest: str) -> None:
        fh.write(f"{label:<29}{int(value):>15d}  {rest}\n")

    fh.write("Internal pipeline statistics summary:\n-------------------------------------\n")
    line(*c.query)
    line(*c.targets)
    total = max(c.n_targets, 1)
    stages = (("msv", "Passed MSV filter:", c.thresholds[0]),
              ("bias", "Passed bias filter:", c.thresholds[0]),
              ("viterbi", "Passed Vit filter:", c.thresholds[1]),
              ("forward", "Passed Fwd filter:", c.thresholds[2]))  # fmt: skip
    for key, label, p in stages:
        passed = c.n_targets if c.passed is None else c.passed.get(key, 0)
        p = 1.0 if c.passed is None else p
        line(label, passed, f"({passed / total:g}); expected {c.n_targets * p:.1f} ({_g(p)})")
    z_note = "[as set by --Z on cmdline]" if c.Z_given else "[actual number of targets]"
    line("Initial search space (Z):", c.Z, z_note)
    dz_note = (
        "[as set by --domZ on cmdline]"
        if c.domZ_given
        else "[number of targets reported over threshold]"
    )
    line("Domain search space  (domZ):", c.domZ, dz_note)
