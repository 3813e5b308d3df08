"""Search results as HMMER's ``--tblout`` / ``--domtblout`` tables, and as TSV.

The two HMMER tables are space-aligned text with ``#`` comment lines: three
header lines, one line per target (``--tblout``) or per domain
(``--domtblout``), and a footer.  Columns are those of HMMER 3.3 (described
in its user guide, "tabular output formats"), in the same order and widths,
``-`` for a missing accession or description; the description is the last
column and may contain spaces.  Tools that read HMMER's tables (split on
whitespace, at most 18 / 22 times) read these.

:func:`read_hmmer_table` reads either table (HMMER's or ours) back into
rows of strings keyed by column name.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Iterable, Sequence
from typing import IO, Any

from ..errors import InputFormatError
from ..profile.domains import Domain
from .atomic import atomic_output
from .table import write_tsv

__all__ = [
    "SequenceHit",
    "TBLOUT_COLUMNS",
    "DOMTBLOUT_COLUMNS",
    "TSV_COLUMNS",
    "write_tblout",
    "write_domtblout",
    "write_hits_tsv",
    "read_hmmer_table",
]

#: Column names of ``--tblout`` (HMMER 3.3 order).
TBLOUT_COLUMNS = (
    "target_name", "target_accession", "query_name", "query_accession",
    "evalue", "score", "bias", "best_dom_evalue", "best_dom_score", "best_dom_bias",
    "exp", "reg", "clu", "ov", "env", "dom", "rep", "inc", "description",
)  # fmt: skip
#: Column names of ``--domtblout`` (HMMER 3.3 order).
DOMTBLOUT_COLUMNS = (
    "target_name", "target_accession", "tlen", "query_name", "query_accession", "qlen",
    "evalue", "score", "bias", "dom_index", "dom_count", "c_evalue", "i_evalue",
    "dom_score", "dom_bias", "hmm_from", "hmm_to", "ali_from", "ali_to",
    "env_from", "env_to", "acc", "description",
)  # fmt: skip
#: Column names of :func:`write_hits_tsv` (one row per domain).
TSV_COLUMNS = (
    "target", "target_accession", "target_length", "query", "query_accession",
    "query_length", "seq_evalue", "seq_score", "seq_bias", "domain_index", "n_domains",
    "c_evalue", "i_evalue", "domain_score", "domain_bias", "hmm_from", "hmm_to",
    "ali_from", "ali_to", "env_from", "env_to", "acc", "description",
)  # fmt: skip

#: Default domain reporting (``--domE``) and inclusion (``--incdomE``) thresholds
#: on the conditional E-value, used for the ``rep`` and ``inc`` counts.
DOM_REPORT_E = 10.0
DOM_INCLUDE_E = 0.01
#: Default sequence inclusion threshold (``--incE``): only the domains of an
#: included sequence can be included.
SEQ_INCLUDE_E = 0.01


def _default_reported(domain: Domain) -> bool:
    return domain.c_evalue <= DOM_REPORT_E


def _default_included(hit: SequenceHit, domain: Domain) -> bool:
    return hit.evalue <= SEQ_INCLUDE_E and domain.c_evalue <= DOM_INCLUDE_E


@dataclasses.dataclass(frozen=True)
class SequenceHit:
    """One target sequence's result against one query model.

    Attributes
    ----------
    name : str
    length : int
        Target length (residues).
    evalue, score : float
        Whole-sequence E-value and bit score.
    domains : tuple of Domain
        The target's domains in sequence order.
    accession, description : str
        ``""`` when absent (written ``-``).
    bias : float
        Whole-sequence composition-bias correction (bits).
    expected_domains : float, optional
        Expected number of domains (``exp``); default: the number of domains.
    n_regions, n_clustered, n_overlaps, n_envelopes : int, optional
        Domain-definition counts (``reg clu ov env``); defaults: regions =
        envelopes = number of domains, none clustered or overlapping.
    """

    name: str
    length: int
    evalue: float
    score: float
    domains: tuple[Domain, ...] = ()
    accession: str = ""
    description: str = ""
    bias: float = 0.0
    expected_domains: float | None = None
    n_regions: int | None = None
    n_clustered: int | None = None
    n_overlaps: int | None = None
    n_envelopes: int | None = None


def _dash(text: str) -> str:
    text = text.replace("\n", " ").replace("\t", " ").strip()
    return text if text else "-"


def _widths(hits: Sequence[SequenceHit], query_name: str, query_accession: str):
    tw = max([20] + [len(h.name) for h in hits])
    aw = max([10] + [len(_dash(h.accession)) for h in hits])
    qw = max(20, len(query_name))
    qaw = max(10, len(_dash(query_accession)))
    return tw, aw, qw, qaw


def _footer(fh: IO[str], query_file: str | None, target_file: str | None, scan: bool) -> None:
    from .. import __version__

    fh.write("#\n")
    fh.write("# Program:         seqem\n")
    fh.write(f"# Version:         {__version__}\n")
    fh.write(f"# Pipeline mode:   {'SCAN' if scan else 'SEARCH'}\n")
    if query_file is not None:
        fh.write(f"# Query file:      {query_file}\n")
    if target_file is not None:
        fh.write(f"# Target file:     {target_file}\n")
    fh.write("# [ok]\n")


def _open(dest: str | os.PathLike[str] | IO[str], write) -> None:
    if isinstance(dest, str | os.PathLike):
        with atomic_output(dest) as fh:
            write(fh)
    else:
        write(dest)


def _best(hit: SequenceHit) -> Domain | None:
    return max(hit.domains, key=lambda d: d.bitscore) if hit.domains else None


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


def write_tblout(
    dest: str | os.PathLike[str] | IO[str],
    hits: Iterable[SequenceHit],
    *,
    query_name: str,
    query_accession: str = "",
    query_file: str | None = None,
    target_file: str | None = None,
    reported: Callable[[Domain], bool] | None = None,
    included: Callable[[SequenceHit, Domain], bool] | None = None,
    header: bool = True,
    footer: bool = True,
    scan: bool = False,
) -> None:
    """Write the per-sequence table (HMMER's ``--tblout``).

    Parameters
    ----------
    dest : str, os.PathLike or text file
        Output path (written atomically; ``"-"`` for standard output) or an
        open text handle.
    hits : iterable of SequenceHit
        In the order to write (HMMER: by E-value).
    query_name, query_accession : str
        The query model's name and accession (``""``: none).
    query_file, target_file : str, optional
        Named in the footer comment lines.
    reported : callable, optional
        Which domains count as reported (the ``rep`` column); default
        conditional E-value <= :data:`DOM_REPORT_E` (hmmsearch's ``--domE``).
    included : callable, optional
        Which domains of which sequences count as included (the ``inc``
        column); default, as hmmsearch's ``--incE`` and ``--incdomE``: the
        sequence's E-value is at most :data:`SEQ_INCLUDE_E` and the domain's
        conditional E-value at most :data:`DOM_INCLUDE_E`.
    header, footer : bool
        Write the column header lines, the footer lines (several queries
        in one file: the header before the first, the footer after the last).
    scan : bool
        The targets are models and the query a sequence (hmmscan's table):
        the footer says so; the caller gives each row the model's name,
        accession, length and description.
    """
    rows = list(hits)
    tw, aw, qw, qaw = _widths(rows, query_name, query_accession)
    is_reported = reported or _default_reported
    is_included = included or _default_included

    def write(fh: IO[str]) -> None:
        lead = tw + aw + qw + qaw + 4
        if header:
            fh.write(
                "#" + " " * (lead - 1) + "--- full sequence ---- --- best 1 domain ----"
                " --- domain number estimation ----\n"
            )
            fh.write(
                f"#{' target name':<{tw - 1}} {'accession':<{aw}} {'query name':<{qw}} "
                f"{'accession':<{qaw}} {'E-value':>9} {'score':>6} {'bias':>5} {'E-value':>9} "
                f"{'score':>6} {'bias':>5} {'exp':>5} reg clu  ov env dom rep inc "
                "description of target\n"
            )
            fh.write(
                f"#{'-' * (tw - 1)} {'-' * aw} {'-' * qw} {'-' * qaw} {'-' * 9} {'-' * 6} "
                f"{'-' * 5} {'-' * 9} {'-' * 6} {'-' * 5} {'---':>5}"
                + " ---" * 7
                + " "
                + "-" * 21
                + "\n"
            )
        for h in rows:
            best = _best(h)
            n = len(h.domains)
            rep = sum(is_reported(d) for d in h.domains)
            inc = sum(is_included(h, d) for d in h.domains)
            fh.write(
                f"{h.name:<{tw}} {_dash(h.accession):<{aw}} {query_name:<{qw}} "
                f"{_dash(query_accession):<{qaw}} {h.evalue:9.2g} {h.score:6.1f} {h.bias:5.1f} "
                f"{best.i_evalue if best else math.nan:9.2g} "
                f"{best.bitscore if best else math.nan:6.1f} {best.bias if best else 0.0:5.1f} "
                f"{_or(h.expected_domains, float(n)):5.1f} {_or(h.n_regions, n):3d} "
                f"{_or(h.n_clustered, 0):3d} {_or(h.n_overlaps, 0):3d} "
                f"{_or(h.n_envelopes, n):3d} {n:3d} {rep:3d} {inc:3d} "
                f"{_dash(h.description)}\n"
            )
        if footer:
            _footer(fh, query_file, target_file, scan)

    _open(dest, write)


def write_domtblout(
    dest: str | os.PathLike[str] | IO[str],
    hits: Iterable[SequenceHit],
    *,
    query_name: str,
    query_length: int,
    query_accession: str = "",
    query_file: str | None = None,
    target_file: str | None = None,
    reported: Callable[[Domain], bool] | None = None,
    header: bool = True,
    footer: bool = True,
    scan: bool = False,
) -> None:
    """Write the per-domain table (HMMER's ``--domtblout``), one line per reported domain.

    Parameters
    ----------
    dest : str, os.PathLike or text file
    hits : iterable of SequenceHit
    query_name : str
    query_length : int
        Number of match states of the query model.
    query_accession : str
    query_file, target_file : str, optional
        Named in the footer comment lines.
    reported : callable, optional
        Which domains are written, as in :func:`write_tblout`.  The ``#``
        and ``of`` columns count every domain of the target, as HMMER's do.
    header, footer, scan : bool
        As in :func:`write_tblout`.
    """
    rows = list(hits)
    tw, aw, qw, qaw = _widths(rows, query_name, query_accession)
    is_reported = reported or _default_reported

    def write(fh: IO[str]) -> None:
        lead = tw + aw + qw + qaw + 17
        if header:
            fh.write(
                "#" + " " * (lead - 1) + "--- full sequence --- -------------- this domain"
                " -------------   hmm coord   ali coord   env coord\n"
            )
            fh.write(
                f"#{' target name':<{tw - 1}} {'accession':<{aw}} {'tlen':>5} "
                f"{'query name':<{qw}} {'accession':<{qaw}} {'qlen':>5} {'E-value':>9} "
                f"{'score':>6} {'bias':>5} {'#':>3} {'of':>3} {'c-Evalue':>9} {'i-Evalue':>9} "
                f"{'score':>6} {'bias':>5} {'from':>5} {'to':>5} {'from':>5} {'to':>5} "
                f"{'from':>5} {'to':>5} {'acc':>4} description of target\n"
            )
            fh.write(
                f"#{'-' * (tw - 1)} {'-' * aw} {'-' * 5} {'-' * qw} {'-' * qaw} {'-' * 5} "
                f"{'-' * 9} {'-' * 6} {'-' * 5} --- --- {'-' * 9} {'-' * 9} {'-' * 6} {'-' * 5}"
                + f" {'-' * 5}" * 6
                + f" {'-' * 4} "
                + "-" * 21
                + "\n"
            )
        for h in rows:
            n = len(h.domains)
            for j, d in enumerate(h.domains, start=1):
                if not is_reported(d):
                    continue
                fh.write(
                    f"{h.name:<{tw}} {_dash(h.accession):<{aw}} {h.length:5d} "
                    f"{query_name:<{qw}} {_dash(query_accession):<{qaw}} {query_length:5d} "
                    f"{h.evalue:9.2g} {h.score:6.1f} {h.bias:5.1f} {j:3d} {n:3d} "
                    f"{d.c_evalue:9.2g} {d.i_evalue:9.2g} {d.bitscore:6.1f} {d.bias:5.1f} "
                    f"{d.hmm_from:5d} {d.hmm_to:5d} {d.ali_from:5d} {d.ali_to:5d} "
                    f"{d.env_from:5d} {d.env_to:5d} {d.acc:4.2f} {_dash(h.description)}\n"
                )
        if footer:
            _footer(fh, query_file, target_file, scan)

    _open(dest, write)


def write_hits_tsv(
    dest: str | os.PathLike[str] | IO[str],
    hits: Iterable[SequenceHit],
    *,
    query_name: str,
    query_length: int,
    query_accession: str = "",
) -> None:
    """Write one TSV row per domain (columns :data:`TSV_COLUMNS`, ``NA`` if missing).

    A hit without domains gets one row with the domain columns ``NA``.
    """
    na = None

    def rows() -> Iterable[list[Any]]:
        for h in hits:
            head = [h.name, h.accession or na, h.length, query_name, query_accession or na,
                    query_length, h.evalue, h.score, h.bias]  # fmt: skip
            tail = [h.description or na]
            if not h.domains:
                yield head + [na] * 13 + tail
            for j, d in enumerate(h.domains, start=1):
                yield head + [
                    j, len(h.domains), d.c_evalue, d.i_evalue, d.bitscore, d.bias,
                    d.hmm_from, d.hmm_to, d.ali_from, d.ali_to, d.env_from, d.env_to, d.acc,
                ] + tail  # fmt: skip

    write_tsv(dest, TSV_COLUMNS, rows())


def read_hmmer_table(path: str | os.PathLike[str], kind: str) -> list[dict[str, str]]:
    """Read a ``--tblout`` or ``--domtblout`` table (HMMER's or ours).

    Parameters
    ----------
    path : str or os.PathLike
    kind : {"tblout", "domtblout"}

    Returns
    -------
    list of dict
        One dict per data line, keyed by :data:`TBLOUT_COLUMNS` or
        :data:`DOMTBLOUT_COLUMNS`; values are the fields as written.

    Raises
    ------
    InputFormatError
        A data line with too few fields.
    """
    columns: tuple[str, ...]
    if kind == "tblout":
        columns = TBLOUT_COLUMNS
    elif kind == "domtblout":
        columns = DOMTBLOUT_COLUMNS
    else:
        raise ValueError(f"kind must be 'tblout' or 'domtblout', got {kind!r}")
    n = len(columns) - 1
    out = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if line.startswith("#") or not line.strip():
                continue
            fields = line.rstrip("\n").split(None, n)
            if len(fields) < n:
                raise InputFormatError(
                    f"expected {n + 1} columns of a --{kind} table, found {len(fields)}",
                    path=path,
                    line=lineno,
                )
            if len(fields) == n:
                fields.append("-")
            out.append(dict(zip(columns, fields, strict=True)))
    return out
