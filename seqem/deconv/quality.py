"""How well a deconvolution explains each sample: the reconstruction's agreement with
the observed expression (CIBERSORT reports the same two figures per mixture)."""

from __future__ import annotations

import numpy as np

__all__ = ["fit_quality"]


def fit_quality(Y: np.ndarray, fitted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per sample (columns of ``Y``, genes x samples, and of ``fitted``, the same shape):
    the Pearson correlation of observed and fitted expression over the genes (NaN when
    either is constant) and the root mean squared difference relative to the mean
    observed expression."""
    y = np.asarray(Y, dtype=np.float64)
    f = np.asarray(fitted, dtype=np.float64)
    yc = y - y.mean(axis=0)
    fc = f - f.mean(axis=0)
    denominator = np.sqrt((yc * yc).sum(axis=0) * (fc * fc).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(denominator > 0, (yc * fc).sum(axis=0) / denominator, np.nan)
        rmse = np.sqrt(np.mean((y - f) ** 2, axis=0)) / y.mean(axis=0)
    return r, rmse
