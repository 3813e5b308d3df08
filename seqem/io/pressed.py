"""Pressed model files: a HMMER3 file's models in binary form, read in a blink.

A large model library (Pfam holds about 20,000 models) takes many seconds to
parse as text on every search, as it does for ``hmmscan``, which needs
``hmmpress`` first.  :func:`press` writes the models of ``MODELS.hmm`` to
``MODELS.hmm.npz`` (NumPy arrays and one JSON index, no pickles), stamped
with the text file's size and modification time; :func:`read_pressed`
returns them when the stamp still matches, so an edited or replaced text
file is never shadowed by a stale press.

>>> import os, shutil, tempfile
>>> from importlib.resources import files
>>> path = os.path.join(tempfile.mkdtemp(), "family.hmm")
>>> _ = shutil.copy(files("seqem") / "data" / "example_family.hmm", path)
>>> press(path)
1
>>> [m.name for m in read_pressed(path)]
['example_family']
"""

from __future__ import annotations

import json
import os
import struct
import tokenize
import zipfile
import zlib
from typing import Any

import numpy as np

from ..errors import InputFormatError
from ..profile.model import ProfileHMM, alphabet_named
from .atomic import atomic_output

__all__ = ["press", "pressed_path", "read_pressed"]

#: Version of the pressed layout (a different one is ignored, not misread).
VERSION = 1

#: What reading a damaged or truncated pressed file raises: the zip layer's
#: errors (a cut-off file, a bad CRC-32, a mangled header, a compression
#: method it does not know) and those of NumPy's array headers (Python
#: literals, tokenized) besides NumPy's and JSON's.
_DAMAGED = (
    OSError,
    ValueError,
    KeyError,
    EOFError,
    zipfile.BadZipFile,
    zlib.error,
    NotImplementedError,
    RuntimeError,
    struct.error,
    SyntaxError,
    tokenize.TokenError,
)


def pressed_path(path: str | os.PathLike[str]) -> str:
    """Where the pressed form of ``path`` lives: the same name plus ``.npz``."""
    return os.fspath(path) + ".npz"


def _stamp(path: str) -> dict[str, int]:
    info = os.stat(path)
    return {"size": int(info.st_size), "mtime_ns": int(info.st_mtime_ns)}


def _plain(value: Any) -> Any:
    """JSON-ready copy of a header value (tuples become lists, numbers stay)."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    return value


def press(path: str | os.PathLike[str]) -> int:
    """Write the pressed form of the HMMER3 file ``path``; return the number of models.

    Raises
    ------
    InputFormatError
        The text file is not a valid HMMER3 file (as :func:`~seqem.io.hmmer.read_hmmer`).
    """
    from .hmmer import read_hmmer

    path = os.fspath(path)
    if path == "-":
        raise InputFormatError("cannot press standard input; give a file", path="<stdin>")
    stamp = _stamp(path)
    models = read_hmmer(path, pressed=False)
    values: list[np.ndarray] = []
    maps: list[np.ndarray] = []
    index = []
    for hmm in models:
        parts = [hmm.match.ravel(), hmm.insert.ravel(), hmm.transitions.ravel()]
        if hmm.compo is not None:
            parts.append(np.asarray(hmm.compo, dtype=np.float64))
        values.extend(parts)
        if hmm.map is not None:
            maps.append(np.asarray(hmm.map, dtype=np.int64))
        index.append(
            {
                "alphabet": hmm.alphabet.name,
                "M": hmm.M,
                "compo": hmm.compo is not None,
                "map": hmm.map is not None,
                "name": hmm.name,
                "accession": hmm.accession,
                "description": hmm.description,
                "nseq": hmm.nseq,
                "effn": hmm.effn,
                "stats": {k: list(v) for k, v in hmm.stats.items()},
                "consensus": hmm.consensus,
                "rf": hmm.rf,
                "mm": hmm.mm,
                "cs": hmm.cs,
                "meta": {k: _plain(v) for k, v in hmm.meta.items()},
            }
        )
    header = {"version": VERSION, "source": stamp, "models": index}
    with atomic_output(pressed_path(path), "wb") as fh:
        np.savez(
            fh,
            index=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
            values=np.concatenate(values) if values else np.zeros(0),
            maps=np.concatenate(maps) if maps else np.zeros(0, dtype=np.int64),
        )
    return len(models)


def _stats(stats: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """The E-value parameters of one pressed model (each lambda finite and > 0)."""
    out = {}
    for key, (tau, lam) in stats.items():
        tau, lam = float(tau), float(lam)
        if not (np.isfinite(tau) and np.isfinite(lam) and lam > 0):
            raise ValueError(f"{key} E-value parameters {tau}, {lam}")
        out[key] = (tau, lam)
    return out


def read_pressed(path: str | os.PathLike[str]) -> list[ProfileHMM] | None:
    """The models of ``path`` from its pressed form, or None when there is no
    current one (absent, or pressed from a different version of the file)."""
    path = os.fspath(path)
    packed = pressed_path(path)
    if path == "-" or not os.path.isfile(packed) or not os.path.isfile(path):
        return None
    try:
        with np.load(packed, allow_pickle=False) as data:
            header = json.loads(data["index"].tobytes().decode())
            if not isinstance(header, dict):
                raise ValueError("the index is not a JSON object")
            if header.get("version") != VERSION or header.get("source") != _stamp(path):
                return None
            values, maps = data["values"], data["maps"]
    except _DAMAGED as exc:
        raise InputFormatError(
            f"unreadable pressed models ({type(exc).__name__}); delete it or press again",
            path=packed,
        ) from None
    models = []
    at = mat = 0
    try:
        for entry in header["models"]:
            alphabet = alphabet_named(entry["alphabet"])
            M, K = int(entry["M"]), alphabet.K
            shapes = [(M + 1, K), (M + 1, K), (M + 1, 7)] + ([(K,)] if entry["compo"] else [])
            arrays = []
            for shape in shapes:
                size = int(np.prod(shape))
                if at + size > values.size:
                    raise ValueError("values end early")
                arrays.append(values[at : at + size].reshape(shape))
                at += size
            node_map = None
            if entry["map"]:
                node_map = maps[mat : mat + M]
                mat += M
            meta = {k: tuple(v) if k in ("GA", "TC", "NC") else v for k, v in entry["meta"].items()}
            models.append(
                ProfileHMM(
                    alphabet,
                    arrays[0],
                    arrays[1],
                    arrays[2],
                    name=entry["name"],
                    accession=entry["accession"],
                    description=entry["description"],
                    nseq=entry["nseq"],
                    effn=entry["effn"],
                    stats=_stats(entry["stats"]),
                    consensus=entry["consensus"],
                    rf=entry["rf"],
                    mm=entry["mm"],
                    cs=entry["cs"],
                    map=node_map,
                    compo=arrays[3] if entry["compo"] else None,
                    meta=meta,
                )
            )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputFormatError(
            f"corrupt pressed models ({exc}); delete it or press again", path=packed
        ) from None
    if at != values.size or mat != maps.size:
        raise InputFormatError("corrupt pressed models (sizes disagree); press again", path=packed)
    return models
