"""Read and write HMMER3 profile HMM files.

A file holds one or more models, each from a ``HMMER3/f`` line to ``//``.
Numbers in the file are negative natural logarithms of probabilities, printed
with five decimals, and ``*`` stands for probability 0; :func:`read_hmmer`
turns them back into probabilities and :func:`write_hmmer` prints them the way
HMMER does, so its files load in ``hmmsearch`` and pyhmmer.  Older headers
(``HMMER3/a`` .. ``HMMER3/e``) are read too; models are always written as
``HMMER3/f``.

Header fields that have no attribute of their own on
:class:`~seqem.profile.model.ProfileHMM` are kept in its ``meta`` dict:
``DATE`` (str), ``COM`` (list of str, each line's text after the tag),
``CKSUM`` (int), ``MAXL`` (int), ``GA``/``TC``/``NC`` (tuple of float; Pfam's
closing ``;`` is accepted) and ``format`` (the first word of the record, such
as ``"HMMER3/f"``).

>>> import io
>>> import numpy as np
>>> from seqem.profile.model import DNA, ProfileHMM
>>> match = np.array([[0, 0, 0, 0], [0.7, 0.1, 0.1, 0.1]])
>>> insert = np.full((2, 4), 0.25)
>>> trans = np.array([[1, 0, 0, 1, 0, 1, 0], [1, 0, 0, 1, 0, 1, 0]], dtype=float)
>>> hmm = ProfileHMM(DNA, match, insert, trans, name="tiny")
>>> out = io.StringIO()
>>> write_hmmer(out, [hmm])
>>> print(out.getvalue().splitlines()[-4])
      1   0.35667  2.30259  2.30259  2.30259      - a - - -
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Iterable, Iterator
from typing import IO, Any

import numpy as np

from ..errors import InputFormatError, ParameterError
from ..profile.model import Alphabet, ProfileHMM, alphabet_named
from ._source import InputSource
from .atomic import atomic_output

__all__ = ["ModelText", "model_texts", "read_hmmer", "write_hmmer"]

#: Record magic -> per-node annotation columns after the match emissions
#: (CONS came with 3/e, MM with 3/f).
_FORMATS = {
    "HMMER3/f": ("MAP", "CONS", "RF", "MM", "CS"),
    "HMMER3/e": ("MAP", "CONS", "RF", "CS"),
    "HMMER3/d": ("MAP", "RF", "CS"),
    "HMMER3/c": ("MAP", "RF", "CS"),
    "HMMER3/b": ("MAP", "RF", "CS"),
    "HMMER3/a": ("MAP", "RF", "CS"),
}
_FLAGS = ("RF", "MM", "CONS", "CS", "MAP")
_STATS = {"MSV": "msv", "VITERBI": "viterbi", "FORWARD": "forward"}


# ---------------------------------------------------------------------------
# reading


class _Lines:
    """Numbered, stripped, non-blank lines of a text stream, one record at a time."""

    def __init__(self, handle: IO[str], name: str) -> None:
        self._it = enumerate(handle, start=1)
        self.name = name
        self.number = 0
        self.record: str | None = None

    def next(self) -> list[str] | None:
        """The next non-blank line split into words, or None at the end of the input."""
        for number, line in self._it:
            words = line.split()
            if words:
                self.number = number
                return words
        return None

    def error(self, message: str, *, line: int | None = None) -> InputFormatError:
        return InputFormatError(
            message,
            path=self.name,
            line=self.number if line is None else line,
            record=self.record,
        )

    def need(self, what: str) -> list[str]:
        """The next line; a truncated-file error if there is none."""
        words = self.next()
        if words is None:
            raise self.error(
                f"file ends inside a model (expected {what}); the file is truncated: "
                "every model must end with a '//' line"
            )
        if words[0] == "//":
            raise self.error(f"model ends early: expected {what}, found '//'")
        return words


def _neglogs(lines: _Lines, words: list[str], what: str, line: int | None = None) -> np.ndarray:
    """Probabilities from -ln p fields (``*`` is 0); errors name ``line``
    (default: the current line)."""
    try:
        values = np.array([math.inf if w == "*" else float(w) for w in words])
    except ValueError:
        bad = next(w for w in words if w != "*" and not _is_float(w))
        raise lines.error(
            f"corrupt number {bad!r} in {what}; expected -ln p or '*'", line=line
        ) from None
    if np.isnan(values).any() or (values < 0).any():
        raise lines.error(f"corrupt number in {what}; expected -ln p >= 0 or '*'", line=line)
    if np.count_nonzero(np.isinf(values)) != words.count("*"):
        raise lines.error(f"corrupt number in {what}; write probability 0 as '*'", line=line)
    return np.exp(-values)


class _Fields:
    """The -ln p fields of one model, converted together when it ends.

    Converting a model's thousands of numbers in one pass is several times
    faster than a line at a time; a bad field is then traced back to its
    line by :func:`_neglogs`, so errors read the same.
    """

    def __init__(self) -> None:
        self.words: list[str] = []
        self.groups: list[tuple[int, int, int, str]] = []  # start, stop, line, what

    def add(self, lines: _Lines, words: list[str], what: str) -> None:
        start = len(self.words)
        self.words.extend(words)
        self.groups.append((start, len(self.words), lines.number, what))

    def probabilities(self, lines: _Lines) -> np.ndarray:
        words = self.words
        try:
            values = np.fromiter(
                (math.inf if w == "*" else float(w) for w in words), dtype=float, count=len(words)
            )
            ok = not (np.isnan(values).any() or (values < 0).any())
            ok = ok and int(np.count_nonzero(np.isinf(values))) == words.count("*")
        except ValueError:
            ok = False
        if not ok:
            for start, stop, line, what in self.groups:
                _neglogs(lines, words[start:stop], what, line=line)
        return np.exp(-values)


def _is_float(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


def _count(lines: _Lines, words: list[str], expected: int, what: str) -> None:
    if len(words) != expected:
        raise lines.error(f"{what} has {len(words)} fields, expected {expected}")


def _read_header(lines: _Lines, first: list[str]) -> tuple[dict[str, Any], list[str]]:
    """Header tags up to (not including) the ``HMM`` line, and that line's words."""
    magic = first[0]
    if magic not in _FORMATS:
        raise lines.error(
            f"not a HMMER3 model: expected a 'HMMER3/f' line, found {' '.join(first)[:30]!r}"
        )
    header: dict[str, Any] = {"format": magic, "COM": []}
    while True:
        words = lines.next()
        if words is None or words[0] == "//":
            where = "file ends" if words is None else "model ends with '//'"
            raise lines.error(f"{where} before the 'HMM' line that starts the model parameters")
        tag = words[0]
        if tag == "HMM":
            return header, words
        value = " ".join(words[1:])
        if tag == "NAME":
            if len(words) < 2:
                raise lines.error("NAME line without a name")
            lines.record = words[1]
            header[tag] = words[1]
        elif tag == "STATS":
            if len(words) != 5 or words[1] != "LOCAL" or words[2] not in _STATS:
                raise lines.error(
                    "malformed STATS line; expected 'STATS LOCAL MSV|VITERBI|FORWARD x lambda'"
                )
            pair = _floats(lines, words[3:], "STATS")
            if not pair[1] > 0:
                raise lines.error(
                    f"STATS LOCAL {words[2]} lambda must be > 0, found {words[4]!r}; delete "
                    "the model's STATS lines (a search then calibrates it) or build it again"
                )
            header.setdefault("STATS", {})[_STATS[words[2]]] = (pair[0], pair[1])
        elif tag in ("LENG", "NSEQ", "MAXL", "CKSUM"):
            if len(words) != 2 or not words[1].isdigit():
                raise lines.error(f"{tag} must be one non-negative integer, found {value!r}")
            header[tag] = int(words[1])
        elif tag == "EFFN":
            if len(words) != 2:
                raise lines.error(f"EFFN must be one number, found {value!r}")
            header[tag] = _floats(lines, words[1:], "EFFN")[0]
        elif tag in ("GA", "TC", "NC"):
            # Pfam writes the cutoffs with a closing ';' ("GA    25.00 25.00;")
            values = " ".join(words[1:])
            values = values[:-1] if values.endswith(";") else values
            if not values.split():
                raise lines.error(f"{tag} line without values")
            header[tag] = tuple(_floats(lines, values.split(), tag))
        elif tag in _FLAGS:
            flag = value.lower()
            if flag not in ("yes", "no"):
                raise lines.error(f"{tag} must be 'yes' or 'no', found {value!r}")
            header[tag] = flag == "yes"
        elif tag == "COM":
            header["COM"].append(value)
        elif tag == "ALPH":
            try:
                header[tag] = alphabet_named(value)
            except ParameterError:
                raise lines.error(
                    f"unknown alphabet {value!r}; expected amino, DNA or RNA"
                ) from None
        else:  # ACC, DESC, DATE and tags other programs add
            header[tag] = value


def _floats(lines: _Lines, words: list[str], what: str) -> list[float]:
    try:
        values = [float(w) for w in words]
    except ValueError:
        raise lines.error(f"corrupt number in {what}: {' '.join(words)!r}") from None
    if not all(math.isfinite(v) for v in values):
        raise lines.error(f"{what} must be finite, found {' '.join(words)!r}")
    return values


def _read_record(lines: _Lines, first: list[str]) -> ProfileHMM:
    start = lines.number
    lines.record = None
    header, hmm_words = _read_header(lines, first)
    for tag in ("NAME", "LENG", "ALPH"):
        if tag not in header:
            raise lines.error(f"header has no {tag} line (mandatory before 'HMM')")
    alphabet: Alphabet = header["ALPH"]
    M: int = header["LENG"]
    K = alphabet.K
    if M < 1:
        raise lines.error("LENG must be at least 1")
    if "".join(hmm_words[1:]).upper() != alphabet.symbols:
        raise lines.error(
            f"HMM line lists symbols {' '.join(hmm_words[1:])!r}; expected "
            f"{' '.join(alphabet.symbols)!r} for ALPH {alphabet.name}"
        )
    names = lines.need("the transition-names line after 'HMM'")
    if names[0].lower() != "m->m" or len(names) != 7:
        raise lines.error("expected the transition-names line 'm->m m->i ... d->d' after 'HMM'")

    fields = _Fields()
    has_compo = False
    words = lines.need("COMPO or the insert-0 emissions")
    if words[0] == "COMPO":
        _count(lines, words[1:], K, "COMPO line")
        fields.add(lines, words[1:], "COMPO")
        has_compo = True
        words = lines.need("the insert-0 emissions")
    _count(lines, words, K, "insert-0 emission line")
    fields.add(lines, words, "insert-0 emissions")
    words = lines.need("the node-0 transitions")
    _count(lines, words, 7, "node-0 transition line")
    fields.add(lines, words, "node-0 transitions")

    n_annot = len(_FORMATS[header["format"]])
    annot: list[list[str]] = []
    for k in range(1, M + 1):
        node = lines.next()
        if node is None:
            raise lines.error(
                f"file ends at node {k - 1} of {M}; the file is truncated: every model must end "
                "with a '//' line"
            )
        if node[0] == "//":
            raise lines.error(f"model ends after node {k - 1}, but LENG says {M} nodes")
        if node[0] != str(k):
            raise lines.error(f"expected node {k}, found {node[0]!r}; nodes must come in order")
        values = node[1:]
        if len(values) != K + n_annot:
            raise lines.error(
                f"node {k} match line has {len(values)} fields, expected {K + n_annot}"
            )
        fields.add(lines, values[:K], f"node {k} match emissions")
        annot.append(values[K:])
        words = lines.need(f"node {k} insert emissions")
        _count(lines, words, K, f"node {k} insert emission line")
        fields.add(lines, words, f"node {k} insert emissions")
        words = lines.need(f"node {k} transitions")
        _count(lines, words, 7, f"node {k} transition line")
        fields.add(lines, words, f"node {k} transitions")

    end = lines.next()
    if end is None:
        raise lines.error(
            "file ends without the '//' line that closes the model; the file is truncated"
        )
    if end[0] != "//":
        if end[0].isdigit():
            raise lines.error(f"node {end[0]} after node {M}, but LENG says {M} nodes")
        raise lines.error(f"expected '//' after node {M}, found {' '.join(end)[:30]!r}")
    probs = fields.probabilities(lines)
    compo = None
    if has_compo:
        compo, probs = probs[:K], probs[K:]
    match = np.zeros((M + 1, K))
    insert = np.zeros((M + 1, K))
    trans = np.zeros((M + 1, 7))
    insert[0], trans[0] = probs[:K], probs[K : K + 7]
    nodes = probs[K + 7 :].reshape(M, 2 * K + 7)
    match[1:], insert[1:], trans[1:] = nodes[:, :K], nodes[:, K : 2 * K], nodes[:, 2 * K :]

    hmm = ProfileHMM(
        alphabet,
        match,
        insert,
        trans,
        name=header["NAME"],
        accession=header.get("ACC") or None,
        description=header.get("DESC") or None,
        nseq=header.get("NSEQ"),
        effn=header.get("EFFN"),
        stats=dict(header.get("STATS", {})),
        compo=compo,
    )
    _set_annotation(lines, hmm, header, annot)
    hmm.meta = {
        key: header[key]
        for key in header
        if key
        not in {"NAME", "ACC", "DESC", "LENG", "ALPH", "NSEQ", "EFFN", "STATS", "COM", *_FLAGS}
    }
    if header["COM"]:
        hmm.meta["COM"] = list(header["COM"])
    if hmm.stats and len(hmm.stats) != 3:
        raise lines.error(
            "model has some but not all of the STATS LOCAL MSV/VITERBI/FORWARD lines",
            line=start,
        )
    try:
        hmm.validate(atol=1e-3)
    except ParameterError as exc:
        raise lines.error(f"invalid model: {exc.message}", line=start) from None
    return hmm


def _set_annotation(
    lines: _Lines, hmm: ProfileHMM, header: dict[str, Any], annot: list[list[str]]
) -> None:
    """Fill the per-node MAP, CONS, RF, MM and CS columns that the header flags as valid."""
    order = _FORMATS[header["format"]]
    columns = {tag: [row[i] for row in annot] for i, tag in enumerate(order)}
    if header.get("MAP") and "MAP" in columns:
        try:
            hmm.map = np.array([int(v) for v in columns["MAP"]], dtype=np.int64)
        except ValueError:
            raise lines.error("MAP is 'yes' but a node's MAP column is not an integer") from None
    for tag, attr in (("CONS", "consensus"), ("RF", "rf"), ("MM", "mm"), ("CS", "cs")):
        if header.get(tag) and tag in columns:
            values = columns[tag]
            if any(len(v) != 1 for v in values):
                raise lines.error(f"{tag} column must hold one character per node")
            setattr(hmm, attr, "".join(values))


def _records(lines: _Lines) -> Iterator[ProfileHMM]:
    while True:
        first = lines.next()
        if first is None:
            return
        yield _read_record(lines, first)


def read_hmmer(path: str | os.PathLike[str], *, pressed: bool = True) -> list[ProfileHMM]:
    """Read every model of a HMMER3 profile HMM file.

    Parameters
    ----------
    path : str or os.PathLike
        A HMMER3 ``.hmm`` file, plain or gzip-compressed (detected from its
        content), or ``"-"`` for standard input.
    pressed : bool
        Read the models from the file's pressed form (``path + ".npz"``,
        :func:`seqem.io.pressed.press`) when there is a current one
        (default); False always parses the text.

    Returns
    -------
    list of ProfileHMM
        The models in file order, parameters as probabilities.

    Raises
    ------
    InputFormatError
        Empty or truncated input, a record that is not HMMER3, a missing
        mandatory header line or ``HMM`` line, an unknown alphabet, corrupt
        numbers, wrong field counts, nodes out of order or not matching
        ``LENG``, a STATS lambda that is not positive, or distributions that
        do not sum to one.  The message names the file, the line and the
        model.
    OSError
        The file cannot be opened.
    """
    if pressed:
        from .pressed import read_pressed

        fast = read_pressed(path)
        if fast is not None:
            return fast
    source = InputSource(path)
    with source.gzip_errors(), source.open_text() as handle:
        models = list(_records(_Lines(handle, source.name)))
    if not models:
        raise InputFormatError("empty file; expected HMMER3 models", path=source.name)
    return models


@dataclasses.dataclass(frozen=True)
class ModelText:
    """One model of a HMMER3 file as its text (``//`` line included), with the
    ``NAME`` and ``ACC`` of its header (``None`` when it has no ``ACC``)."""

    name: str
    accession: str | None
    text: str


def model_texts(path: str | os.PathLike[str]) -> Iterator[ModelText]:
    """The models of a HMMER3 file (plain or gzip, ``"-"`` for standard input) as text,
    unparsed, in file order: what ``hmmfetch`` copies out of a library.

    Raises
    ------
    InputFormatError
        A record that does not start with a ``HMMER3`` line, one without a
        ``NAME`` line, or a file that ends inside a model (no ``//``); the
        message names the file and the line.
    """
    source = InputSource(path)
    with source.gzip_errors(), source.open_text() as handle:
        lines: list[str] = []
        name: str | None = None
        accession: str | None = None
        start = 0
        for number, line in enumerate(handle, start=1):
            words = line.split()
            if not lines:
                if not words:
                    continue
                if not words[0].startswith("HMMER3"):
                    raise InputFormatError(
                        f"expected a HMMER3 model, found {line.strip()[:40]!r}",
                        path=source.name, line=number,
                    )  # fmt: skip
                start = number
            lines.append(line)
            if words and words[0] == "NAME" and len(words) > 1 and name is None:
                name = words[1]
            elif words and words[0] == "ACC" and len(words) > 1 and accession is None:
                accession = words[1]
            elif words and words[0] == "//":
                if name is None:
                    raise InputFormatError(
                        "model without a NAME line", path=source.name, line=start
                    )
                yield ModelText(name, accession, "".join(lines))
                lines, name, accession = [], None, None
        if lines:
            raise InputFormatError(
                "file ends inside a model (no '//' line); the file is truncated",
                path=source.name, line=start, record=name,
            )  # fmt: skip


# ---------------------------------------------------------------------------
# writing


def _field(p: float) -> str:
    """One probability as HMMER prints it: -ln p with 5 decimals, 0 as ``*``."""
    if p <= 0.0:
        return "       *"
    value = -math.log(p) if p < 1.0 else 0.0
    return f"{value:8.5f}"


def _row(values: np.ndarray) -> str:
    return " ".join(_field(float(p)) for p in values)


def _format_model(hmm: ProfileHMM) -> Iterator[str]:
    from .. import __version__

    hmm.validate(atol=1e-3)
    meta = hmm.meta
    M = hmm.M
    alphabet = hmm.alphabet
    name = hmm.name.split()
    if len(name) != 1:
        raise ParameterError(f"model name must be one word, got {hmm.name!r}")

    yield f"HMMER3/f [seqem {__version__}]"
    yield f"NAME  {name[0]}"
    if hmm.accession and hmm.accession.strip():
        yield f"ACC   {hmm.accession.strip()}"
    if hmm.description and hmm.description.strip():
        yield f"DESC  {' '.join(hmm.description.split())}"
    yield f"LENG  {M}"
    if meta.get("MAXL") is not None:
        yield f"MAXL  {int(meta['MAXL'])}"
    yield f"ALPH  {alphabet.name}"
    # HMMER searches only with a consensus: a model without one (trained, or read from a
    # 3/a-3/d file) gets it from its emissions, as HMMER derives it
    consensus = hmm.emission_consensus() if hmm.consensus is None else hmm.consensus
    compo = hmm.compo
    if compo is None:
        with np.errstate(divide="ignore", invalid="ignore"):
            compo = hmm.mean_composition()
        compo = compo if np.all(np.isfinite(compo)) else None  # the line is optional
    flags = {
        "RF": hmm.rf,
        "MM": hmm.mm,
        "CONS": consensus,
        "CS": hmm.cs,
        "MAP": hmm.map,
    }
    for tag, value in flags.items():
        if value is not None and len(value) != M:
            raise ParameterError(f"{tag} annotation must have one entry per node ({M})")
        yield f"{tag:<5} {'no' if value is None else 'yes'}"
    yield f"DATE  {meta.get('DATE') or time.ctime()}"
    for com in meta.get("COM", ()):
        yield f"COM   {com}"
    if hmm.nseq is not None:
        yield f"NSEQ  {int(hmm.nseq)}"
    if hmm.effn is not None:
        yield f"EFFN  {float(hmm.effn):f}"
    if meta.get("CKSUM") is not None:
        yield f"CKSUM {int(meta['CKSUM'])}"
    for tag in ("GA", "TC", "NC"):
        if meta.get(tag) is not None:
            yield f"{tag:<5} " + " ".join(f"{float(v):.2f}" for v in meta[tag])
    if hmm.stats:
        missing = {"msv", "viterbi", "forward"} - set(hmm.stats)
        if missing:
            raise ParameterError(f"stats lack {sorted(missing)}; give all three or none")
        for key, label in (("msv", "MSV    "), ("viterbi", "VITERBI"), ("forward", "FORWARD")):
            loc, lam = hmm.stats[key]
            yield f"STATS LOCAL {label}  {loc:8.4f} {lam:8.5f}"

    yield "HMM     " + "".join(f"     {s}   " for s in alphabet.symbols)
    yield "        " + " ".join(
        f"{t:>8}" for t in ("m->m", "m->i", "m->d", "i->m", "i->i", "d->m", "d->d")
    )
    if compo is not None:
        yield "  COMPO  " + _row(np.asarray(compo))
    yield "         " + _row(hmm.insert[0])
    yield "         " + _row(hmm.transitions[0])
    cols = {tag: value for tag, value in flags.items() if tag != "MAP"}
    for k in range(1, M + 1):
        where = "-" if hmm.map is None else str(int(hmm.map[k - 1]))
        marks = " ".join(
            "-" if v is None else str(v[k - 1])
            for v in (cols["CONS"], cols["RF"], cols["MM"], cols["CS"])
        )
        yield f"{k:>7}  {_row(hmm.match[k])} {where:>6} {marks}"
        yield "         " + _row(hmm.insert[k])
        yield "         " + _row(hmm.transitions[k])
    yield "//"


def write_hmmer(
    path_or_handle: str | os.PathLike[str] | IO[str],
    models: ProfileHMM | Iterable[ProfileHMM],
) -> None:
    """Write models as HMMER3/f records that HMMER and pyhmmer load.

    Parameters
    ----------
    path_or_handle : str, os.PathLike or text file object
        Target file (written atomically; a name ending in ``.gz`` is
        gzip-compressed), ``"-"`` for standard output, or an open text
        handle to write to.
    models : ProfileHMM or iterable of ProfileHMM
        The models, written in order.

    Raises
    ------
    ParameterError
        A model that does not validate, has a name that is not one word,
        annotation of the wrong length, or only some of the three STATS.

    Notes
    -----
    ``hmmsearch`` reports no hits for a model without E-value parameters,
    so give ``stats`` before searching with HMMER.  The header gets ``DATE``
    from ``meta`` (the current time if absent) and ``CKSUM``, ``COM``,
    ``MAXL``, ``GA``, ``TC``, ``NC`` when ``meta`` holds them.  HMMER cannot
    search with a model that has no consensus line: a model without
    ``consensus`` (one trained by Baum-Welch, or read from a 3/a-3/d file) is
    written with the consensus of its emissions
    (:meth:`~seqem.profile.model.ProfileHMM.emission_consensus`), and one
    without ``compo`` with its mean composition.
    """
    items = [models] if isinstance(models, ProfileHMM) else list(models)
    text = "".join(line + "\n" for hmm in items for line in _format_model(hmm))
    if hasattr(path_or_handle, "write"):
        path_or_handle.write(text)  # type: ignore[union-attr]
        return
    with atomic_output(path_or_handle) as handle:  # type: ignore[arg-type]
        handle.write(text)
