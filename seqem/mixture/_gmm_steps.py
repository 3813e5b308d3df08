"""The Gaussian mixture's E-step as sufficient statistics, and the M-step.

:func:`sufficient_statistics` runs one kernel pass over the samples (see
:mod:`._kernels`) and returns the weighted log-likelihood and, per
component, ``nk = sum_i r_ik``, the first moments ``sum_i r_ik (x_i - s_k)``
and the second moments about the same shifts ``s_k`` (matrices for full
covariances, vectors for diag and spherical, none for tied).  Statistics of
disjoint sets of samples add up (:func:`add_statistics`), so data larger
than memory can be passed block by block.  :func:`params_from_stats` is the
M-step.

The shifts keep the second moments accurate: for full covariances they are
the current means (the new means are close to them), for the others the
weighted mean of the data.
"""

from __future__ import annotations

import math

import numpy as np

from . import _kernels as GK

#: Rows per parallel chunk: at least this many, at most MAX_CHUNKS chunks
#: (fixed by ``n`` alone, so any thread count gives the same sums).
MIN_CHUNK = 16384
MAX_CHUNKS = 64
#: Below this many features, loops beat BLAS products.
SMALL_D_FULL = 5
SMALL_D_DIAG = 4
LOG_2PI = math.log(2 * math.pi)
STAT_KEYS = ("nk", "sx", "sxx", "shift")


def chunking(n: int) -> tuple[int, int]:
    """(rows per chunk, number of chunks) for ``n`` samples."""
    n_chunks = max(1, min(MAX_CHUNKS, -(-n // MIN_CHUNK)))
    chunk = -(-n // n_chunks)
    return chunk, -(-n // chunk)


def _block(width: int) -> int:
    """Rows per block: a block's temporaries (``width`` doubles a row) take
    about 1 MiB, with 64 to 256 rows (fewer rows make the per-block sums and
    BLAS calls dominate; more spill the cache)."""
    return int(min(256, max(64, (131072 // max(width, 1)) // 16 * 16)))


#: Features per piece of the triangular products (see ``full_stats_blas``):
#: smaller pieces save arithmetic, larger ones keep the products efficient.
PIECE = 8


def piece_cuts(d: int) -> np.ndarray:
    """Cut points of ``d`` features into pieces of about :data:`PIECE` (one piece below 2 PIECE)."""
    n_pieces = max(1, d // PIECE)
    return np.round(np.linspace(0, d, n_pieces + 1)).astype(np.int64)


def triangular_pieces(factors: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """The kernels' packed pieces of upper-triangular factors (F, d, d): for each
    piece ``r``, ``[L_f[:cuts[r+1], cuts[r]:cuts[r+1]]^T for f]`` stacked (C order)."""
    parts = []
    for r in range(cuts.size - 1):
        lo, hi = int(cuts[r]), int(cuts[r + 1])
        block = factors[:, :hi, lo:hi].transpose(0, 2, 1)  # (F, h, hi)
        parts.append(block.reshape(-1))
    return np.ascontiguousarray(np.concatenate(parts))


def scatter(X: np.ndarray, w: np.ndarray, center: np.ndarray) -> np.ndarray:
    """``sum_i w_i (x_i - c)(x_i - c)^T`` by blocks."""
    d = X.shape[1]
    out = np.zeros((d, d))
    for lo in range(0, X.shape[0], 65536):
        Z = X[lo : lo + 65536] - center
        out += (Z * w[lo : lo + 65536, None]).T @ Z
    return out


def sufficient_statistics(
    X: np.ndarray,
    w: np.ndarray,
    params: dict[str, np.ndarray],
    covariance_type: str,
    center: np.ndarray,
) -> tuple[dict[str, np.ndarray], float]:
    """E-step: the statistics of ``X`` (float64 (n, d), C order) with sample
    weights ``w`` at ``params``, and the weighted log-likelihood."""
    n, d = X.shape
    means = np.ascontiguousarray(params["means"], dtype=np.float64)
    K = means.shape[0]
    pc = params["prec_chol"]
    with np.errstate(divide="ignore"):
        log_w = np.log(params["weights"])
    chunk, n_chunks = chunking(n)
    nk = np.zeros((n_chunks, K))
    ll = np.zeros(n_chunks)
    if covariance_type in ("full", "tied"):
        tied = covariance_type == "tied"
        chol = np.broadcast_to(pc, (K, d, d)) if tied else pc
        log_det = np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
        const = log_w + log_det - 0.5 * d * LOG_2PI
        shift = means if not tied else np.broadcast_to(center, (K, d))
        # writeable C arrays (a broadcast of one component is contiguous but read-only,
        # which would be a compiled signature of its own)
        shift = np.require(shift, requirements=["C", "W"])
        sx = np.zeros((n_chunks, K, d))
        second = not tied
        if d < SMALL_D_FULL:
            sxx = np.zeros((n_chunks, K, d, d) if second else (1, 1, 1, 1))
            chol = np.require(chol, requirements=["C", "W"])
            GK.full_stats_loops(X, w, means, chol, const, shift, tied, second, chunk, nk, sx,
                                sxx, ll)  # fmt: skip
        else:
            sxx = np.zeros((n_chunks, K * d, d) if second else (1, 1, 1))
            muL = np.einsum("kl,klj->kj", means - center, chol)
            cuts = piece_cuts(d)
            pieces = triangular_pieces(pc[None] if tied else pc, cuts)
            block = _block((K + 1) * d + K)
            GK.full_stats_blas(X, w, center, pieces, cuts, muL, const, shift, tied, second,
                               chunk, block, nk, sx, sxx, ll)  # fmt: skip
            if second:  # sum r (x - s)(x - c)^T - sum r (x - s) (s - c)^T: lower, mirrored
                S = sxx.sum(axis=0).reshape(K, d, d)
                S -= np.einsum("ki,kj->kij", sx.sum(axis=0), shift - center)
                sxx = (np.tril(S) + np.tril(S, -1).transpose(0, 2, 1))[None]
        stats = {"nk": nk.sum(axis=0), "sx": sx.sum(axis=0), "shift": shift}
        if second:
            stats["sxx"] = sxx.sum(axis=0)
        return stats, float(ll.sum())
    # diag and spherical
    prec = pc**2
    if covariance_type == "spherical":
        prec = np.repeat(prec[:, None], d, axis=1)
    const = log_w + 0.5 * np.log(prec).sum(axis=1) - 0.5 * d * LOG_2PI
    s12 = np.zeros((n_chunks, K, 2 * d))
    if d < SMALL_D_DIAG:
        GK.diag_stats_loops(X, w, center, means, np.ascontiguousarray(prec), const, chunk,
                            nk, s12, ll)  # fmt: skip
    else:
        dm = means - center
        W = np.concatenate([prec * dm, -0.5 * prec], axis=1)
        const = const - 0.5 * (prec * dm**2).sum(axis=1)
        GK.diag_stats_blas(X, w, center, W, const, chunk, _block(4 * d + K), nk, s12, ll)
    s12 = s12.sum(axis=0)
    stats = {
        "nk": nk.sum(axis=0),
        "sx": s12[:, :d],
        "sxx": s12[:, d:],
        "shift": np.broadcast_to(center, (K, d)),
    }
    return stats, float(ll.sum())


def add_statistics(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Statistics of the union of two disjoint sets of samples (same shifts)."""
    out = {"shift": a["shift"]}
    for key in a:
        if key != "shift":
            out[key] = a[key] + b[key]
    return out


def params_from_stats(
    stats: dict[str, np.ndarray],
    reg_covar: float,
    covariance_type: str,
    data_scatter: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """M-step: weights, means and covariances from the statistics.

    ``data_scatter`` (tied only) is ``sum_i w_i (x_i - s)(x_i - s)^T`` about
    the shift ``s`` of the statistics.  As scikit-learn, ``nk`` gets
    ``10 eps`` so that an empty component does not divide by zero.
    """
    raw = stats["nk"]
    nk = raw + 10 * np.finfo(np.float64).eps
    shift = stats["shift"]
    sx = stats["sx"]
    means = shift + sx / nk[:, None]
    a = means - shift  # sum_i r (x_i - m)(x_i - m)^T = S - sx a^T - a sx^T + raw a a^T
    d = means.shape[1]
    if covariance_type == "full":
        S = stats["sxx"]
        cross = np.einsum("ki,kj->kij", sx, a)
        cov = (
            S
            - cross
            - cross.transpose(0, 2, 1)
            + raw[:, None, None] * np.einsum("ki,kj->kij", a, a)
        )
        cov /= nk[:, None, None]
        cov[:, np.arange(d), np.arange(d)] += reg_covar
    elif covariance_type == "tied":
        assert data_scatter is not None
        cov = data_scatter - (nk[:, None] * a).T @ a
        cov /= nk.sum()
        cov.flat[:: d + 1] += reg_covar
    else:
        S = stats["sxx"]
        cov = (S - 2 * a * sx + raw[:, None] * a * a) / nk[:, None] + reg_covar
        if covariance_type == "spherical":
            cov = cov.mean(axis=1)
    return nk / nk.sum(), means, cov
