"""seqem: expectation-maximization for sequence and genomics data.

The public models are imported lazily, so that ``import seqem`` (and the
``seqem --help`` command) does not pay for NumPy and Numba until a model is
used.

>>> import seqem
>>> seqem.__version__
'0.1.0'
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "CategoricalHMM": "seqem.hmm.models",
    "GaussianHMM": "seqem.hmm.models",
    "load_model": "seqem.hmm.models",
    "GaussianMixture": "seqem.mixture.gmm",
    "FitResult": "seqem.em.engine",
    "SeqemError": "seqem.errors",
    "InputFormatError": "seqem.errors",
    "AlphabetError": "seqem.errors",
    "ParameterError": "seqem.errors",
    "NotFittedError": "seqem.errors",
    "ConvergenceWarning": "seqem.errors",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'seqem' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
