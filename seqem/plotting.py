"""Plots, drawn with matplotlib (imported only when a plot is made).

Every function takes ``ax=None`` (a new figure is made when it is None) and
returns the Axes it drew on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "plot_bic",
    "plot_ld",
    "plot_lod",
    "plot_logo",
    "plot_mixture",
    "plot_profile",
    "plot_segmentation",
    "save_figure",
]


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the install
        from .errors import SeqemError

        raise SeqemError("plots need matplotlib: pip install matplotlib") from exc
    return plt


def window_gc(codes: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """GC fraction of the unambiguous bases in consecutive windows.

    Parameters
    ----------
    codes : int array, shape (T,)
        Bases coded A=0, C=1, G=2, T=3, ambiguous = -1.
    window : int
        Window length in bases.

    Returns
    -------
    centres : float64 array
        Window centres (0-based offsets).
    gc : float64 array
        GC fraction per window (NaN where a window has no unambiguous base).

    >>> window_gc(np.array([0, 1, 2, 3, -1, 1]), 3)[1].round(3)
    array([0.667, 0.5  ])
    """
    n = codes.size // window
    if n == 0:
        return np.array([codes.size / 2.0]), np.array([np.nan])
    c = codes[: n * window].reshape(n, window)
    known = (c >= 0).sum(axis=1)
    gc = ((c == 1) | (c == 2)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(known > 0, gc / np.maximum(known, 1), np.nan)
    centres = (np.arange(n) + 0.5) * window
    return centres, frac


def plot_segmentation(
    codes: np.ndarray,
    segments: Sequence[tuple[int, int, int]],
    *,
    n_states: int,
    offset: int = 0,
    title: str | None = None,
    window: int | None = None,
    ax: Any = None,
) -> Any:
    """GC content along one sequence over its segments, shaded by state.

    Parameters
    ----------
    codes : int array, shape (T,)
        The sequence, coded as in :func:`window_gc`.
    segments : sequence of (start, end, state)
        Half-open segment coordinates relative to the sequence start.
    n_states : int
        Number of states (fixes the colours).
    offset : int
        Position of the first base, for the x axis.
    title : str, optional
    window : int, optional
        GC window length (default: about 1/400 of the sequence, at least 100).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 2.6))
    if window is None:
        window = max(100, codes.size // 400)
    cmap = plt.get_cmap("viridis", max(n_states, 2))
    scale, unit = (1e6, "Mb") if offset + codes.size > 5e6 else (1e3, "kb")
    for start, end, state in segments:
        ax.axvspan(
            (offset + start) / scale,
            (offset + end) / scale,
            color=cmap(state),
            alpha=0.25,
            lw=0,
        )
    centres, gc = window_gc(codes, window)
    ax.plot((offset + centres) / scale, gc, color="black", lw=0.8)
    ax.set_xlim(offset / scale, (offset + codes.size) / scale)
    ax.set_ylabel(f"GC ({window:,} bp windows)")
    ax.set_xlabel(f"position ({unit})")
    handles = [
        plt.Rectangle((0, 0), 1, 1, color=cmap(k), alpha=0.4, label=f"state{k}")
        for k in range(n_states)
    ]
    ax.legend(
        handles=handles,
        loc="lower right",
        bbox_to_anchor=(1.0, 1.0),
        fontsize="small",
        ncol=n_states,
        frameon=False,
        borderaxespad=0.1,
    )
    if title:
        ax.set_title(title, fontsize="medium", loc="left")
    return ax


def save_figure(fig: Any, path: str) -> None:
    """Save a figure atomically; the format follows the extension (png, pdf, svg)."""
    import os

    from .io.atomic import atomic_output

    fmt = (os.path.splitext(path)[1][1:] or "png").lower()
    with atomic_output(path, "wb", compress=False) as fh:
        fig.savefig(fh, format=fmt, dpi=120, bbox_inches="tight")


def plot_profile(hmm: Any, *, ax: Any = None, start: int = 1, end: int | None = None) -> Any:
    """Heat map of a profile HMM's match emissions (residues x nodes).

    When no Axes is given, a figure with two panels is made: the relative
    entropy of each node's match emissions (bits) above the heat map.

    Parameters
    ----------
    hmm : ProfileHMM
    ax : matplotlib Axes, optional
        Draw only the heat map on this Axes.
    start, end : int
        Nodes to draw (1-based, inclusive; default all).

    Returns
    -------
    matplotlib Axes
        The heat map's Axes.
    """
    plt = _pyplot()
    end = hmm.M if end is None else min(end, hmm.M)
    nodes = np.arange(start, end + 1)
    p = hmm.match[start : end + 1]
    if ax is None:
        width = min(16.0, 3.0 + 0.12 * nodes.size)
        fig, (top, ax) = plt.subplots(
            2, 1, figsize=(width, 5.2), sharex=True, gridspec_kw={"height_ratios": [1, 3]}
        )
        from .profile.logo import relative_entropy

        top.bar(nodes, relative_entropy(hmm)[start - 1 : end], width=0.9, color="tab:blue")
        top.set_ylabel("bits")
        top.set_title(
            f"{hmm.name}: M = {hmm.M}, relative entropy per node and match emissions",
            fontsize="medium",
            loc="left",
        )
    symbols = hmm.alphabet.symbols
    image = ax.imshow(
        p.T,
        aspect="auto",
        cmap="magma_r",
        vmin=0.0,
        vmax=1.0,
        extent=(start - 0.5, end + 0.5, len(symbols) - 0.5, -0.5),
        interpolation="nearest",
    )
    ax.set_yticks(range(len(symbols)))
    ax.set_yticklabels(list(symbols), fontsize="x-small")
    ax.set_xlabel("node")
    ax.set_ylabel("residue")
    cbar = ax.figure.colorbar(image, ax=ax, pad=0.01, fraction=0.03)
    cbar.set_label("probability")
    return ax


def plot_ld(
    a: np.ndarray,
    b: np.ndarray,
    values: np.ndarray,
    labels: Sequence[str],
    *,
    ax: Any = None,
    measure: str = "r2",
) -> Any:
    """Heat map of a pairwise LD measure (the lower triangle of the SNP x SNP matrix).

    Parameters
    ----------
    a, b : int arrays
        SNP indices of each pair.
    values : float array
        The measure of each pair (NaN drawn blank).
    labels : sequence of str
        SNP names, in index order (shown when there are at most 60).
    measure : str
        Name for the colour bar.
    """
    plt = _pyplot()
    n = len(labels)
    grid = np.full((n, n), np.nan)
    grid[np.maximum(a, b), np.minimum(a, b)] = values
    if ax is None:
        size = min(10.0, 3.0 + 0.08 * n)
        _, ax = plt.subplots(figsize=(size + 1.0, size))
    image = ax.imshow(grid, cmap="Reds", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.figure.colorbar(image, ax=ax, shrink=0.8, label=measure)
    if n <= 60:
        ax.set_xticks(range(n), labels, rotation=90, fontsize=6)
        ax.set_yticks(range(n), labels, fontsize=6)
    else:
        ax.set_xlabel("SNP (position order)")
        ax.set_ylabel("SNP (position order)")
    ax.set_title(f"pairwise LD ({measure}), {n} SNPs")
    return ax


def plot_proportions(
    proportions: np.ndarray, samples: Sequence[str], types: Sequence[str], *, ax: Any = None
) -> Any:
    """Stacked bars of cell-type proportions, one bar per sample."""
    plt = _pyplot()
    if ax is None:
        width = min(16.0, 3.0 + 0.25 * len(samples))
        _, ax = plt.subplots(figsize=(width, 4.5))
    bottom = np.zeros(len(samples))
    cmap = plt.get_cmap("tab20" if len(types) > 10 else "tab10")
    x = np.arange(len(samples))
    for k, name in enumerate(types):
        ax.bar(x, proportions[:, k], bottom=bottom, color=cmap(k % cmap.N), label=name, width=0.85)
        bottom += proportions[:, k]
    ax.set_xticks(x)
    ax.set_xticklabels(samples, rotation=90, fontsize=7)
    ax.set_ylabel("proportion")
    ax.set_ylim(0, 1)
    ax.legend(bbox_to_anchor=(1.01, 1), loc="upper left", fontsize=8, frameon=False)
    ax.figure.tight_layout()
    return ax


def plot_lod(curves: Sequence[tuple], *, ax: Any = None) -> Any:
    """LOD (and HLOD) along each chromosome; markers as ticks on the axis.

    ``curves``: (chrom, positions, lod, hlod, marker_cm, marker_names) per chromosome,
    drawn one after another along the x axis.
    """
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(max(6.0, 3.0 * len(curves)), 3.8))
    # one chromosome on its own map; several laid end to end
    offset = 0.0
    for k, (chrom, pos, lod, hlod, cm, _names) in enumerate(curves):
        shift = 0.0 if len(curves) == 1 else offset - float(np.min(pos))
        x = np.asarray(pos) + shift
        ax.plot(x, lod, color="C0", lw=1.5, label="LOD" if k == 0 else None)
        ax.plot(x, hlod, color="C1", lw=1.0, ls="--", label="HLOD" if k == 0 else None)
        ticks = np.asarray(cm) + shift
        ax.plot(ticks, np.full(ticks.size, ax.get_ylim()[0]), "|", color="0.4", ms=8)
        if len(curves) > 1:
            ax.text(x.mean(), 1.02, str(chrom), transform=ax.get_xaxis_transform(), ha="center")
        offset = float(x.max()) + 10.0
    ax.axhline(3.0, color="0.6", lw=0.8, ls=":")
    ax.set_xlabel("position (cM)")
    ax.set_ylabel("LOD")
    ax.legend(frameon=False, fontsize=8)
    ax.figure.tight_layout()
    return ax


def ellipse_axes(cov: np.ndarray) -> tuple[float, float, float]:
    """Half-lengths of the major and minor axes of a 2x2 covariance's one-standard-deviation
    ellipse (``x^T cov^-1 x = 1``), and the major axis' angle to the x axis in degrees."""
    values, vectors = np.linalg.eigh(np.asarray(cov, dtype=np.float64))
    major = vectors[:, 1]
    angle = float(np.degrees(np.arctan2(major[1], major[0])))
    return float(np.sqrt(max(values[1], 0.0))), float(np.sqrt(max(values[0], 0.0))), angle


def plot_mixture(
    model: Any,
    X: np.ndarray,
    *,
    dims: Sequence[int] = (0, 1),
    names: Sequence[str] | None = None,
    max_points: int = 20_000,
    ax: Any = None,
) -> Any:
    """A fitted Gaussian mixture over its data.

    Two features (``dims``): the rows as points coloured by their most
    probable component, each component's mean and its one- and
    two-standard-deviation ellipses (the component's covariance over those
    two features).  One feature (data of one column, or ``dims`` of one):
    a histogram of the rows with the mixture's density and each weighted
    component's.

    Parameters
    ----------
    model : GaussianMixture (fitted)
    X : array, shape (n, d)
    dims : the one or two features (columns of ``X``) to draw
    names : the features' names (axis labels)
    max_points : at most this many points are drawn (an even subsample, so
        that a large table still plots quickly)
    """
    from .errors import ParameterError

    plt = _pyplot()
    X = np.asarray(X, dtype=np.float64)
    d = X.shape[1]
    drawn = tuple(int(j) for j in list(dims)[: 1 if d == 1 else 2])
    if any(j < 0 or j >= d for j in drawn) or len(set(drawn)) != len(drawn):
        raise ParameterError(f"features to draw {drawn} are not distinct features of {d}")
    label = [str(names[j]) if names is not None else f"feature {j + 1}" for j in drawn]
    covs = model.full_covariances()
    K = len(model.weights_)
    colours = plt.get_cmap("tab10" if K <= 10 else "tab20")
    if ax is None:
        _, ax = plt.subplots(figsize=(6.0, 4.8 if len(drawn) == 2 else 3.8))
    title = f"{K} components ({model.covariance_type}), {X.shape[0]} rows"
    if len(drawn) == 1:
        j = drawn[0]
        x = X[:, j]
        ax.hist(x, bins=min(80, max(10, int(np.sqrt(x.size)))), density=True, color="0.8")
        grid = np.linspace(x.min(), x.max(), 400)
        total = np.zeros_like(grid)
        for k in range(K):
            sd = float(np.sqrt(covs[k, j, j]))
            dens = model.weights_[k] * np.exp(-0.5 * ((grid - model.means_[k, j]) / sd) ** 2)
            dens /= sd * np.sqrt(2 * np.pi)
            total += dens
            ax.plot(grid, dens, color=colours(k % colours.N), lw=1.0,
                    label=f"{k}: weight {model.weights_[k]:.2f}")  # fmt: skip
        ax.plot(grid, total, color="black", lw=1.5, label="mixture")
        ax.set_xlabel(label[0])
        ax.set_ylabel("density")
    else:
        from matplotlib.patches import Ellipse

        i, j = drawn
        rows = np.arange(X.shape[0])
        if rows.size > max_points:
            rows = rows[:: -(-rows.size // max_points)]
        which = model.predict(X[rows])
        ax.scatter(X[rows, i], X[rows, j], s=4, c=[colours(k % colours.N) for k in which],
                   alpha=0.5, linewidths=0, rasterized=True)  # fmt: skip
        for k in range(K):
            colour = colours(k % colours.N)
            a, b, angle = ellipse_axes(covs[k][np.ix_(drawn, drawn)])
            for radius in (1.0, 2.0):
                ax.add_patch(Ellipse((model.means_[k, i], model.means_[k, j]), 2 * radius * a,
                                     2 * radius * b, angle=angle, fill=False, color=colour,
                                     lw=1.5 if radius == 1.0 else 0.8))  # fmt: skip
            ax.plot(model.means_[k, i], model.means_[k, j], "x", color="black", ms=7)
            ax.plot([], [], color=colour, lw=1.5, label=f"{k}: weight {model.weights_[k]:.2f}")
        ax.set_xlabel(label[0])
        ax.set_ylabel(label[1])
    ax.set_title(title, fontsize="medium", loc="left")
    ax.legend(frameon=False, fontsize=8)
    ax.figure.tight_layout()
    return ax


def plot_bic(rows: Sequence[dict], *, ax: Any = None) -> Any:
    """BIC against the number of components, one line per covariance type (lower is
    better), the lowest marked: the rows of :func:`seqem.mixture.gmm.select`."""
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(6.0, 4.0))
    best = min(rows, key=lambda r: r["bic"])
    types = list(dict.fromkeys(r["covariance_type"] for r in rows))
    for n, ct in enumerate(types):
        mine = sorted(
            (r for r in rows if r["covariance_type"] == ct), key=lambda r: r["n_components"]
        )
        ax.plot([r["n_components"] for r in mine], [r["bic"] for r in mine], "o-", ms=4,
                color=f"C{n}", label=ct)  # fmt: skip
    ax.plot(best["n_components"], best["bic"], "o", ms=12, mfc="none", mec="black",
            label=f"best: K = {best['n_components']} ({best['covariance_type']})")  # fmt: skip
    ax.set_xlabel("components (K)")
    ax.set_ylabel("BIC (lower is better)")
    ks = sorted({r["n_components"] for r in rows})
    ax.set_xticks(ks)
    ax.legend(frameon=False, fontsize=8)
    ax.figure.tight_layout()
    return ax


#: Residue colours of a logo: WebLogo's "chemistry" scheme for amino acids (polar
#: green, amide purple, basic blue, acidic red, hydrophobic black) and the usual
#: four colours for nucleotides.
LOGO_COLOURS = {
    **dict.fromkeys("GSTYC", "#1b9e3a"),
    **dict.fromkeys("NQ", "#7b3294"),
    **dict.fromkeys("KRH", "#2166ac"),
    **dict.fromkeys("DE", "#d6301d"),
    **dict.fromkeys("AVLIPWFM", "#222222"),
}
NUCLEOTIDE_COLOURS = {
    "A": "#1b9e3a",
    "C": "#2166ac",
    "G": "#f0a30a",
    "T": "#d6301d",
    "U": "#d6301d",
}


def _glyph(char: str, cache: dict) -> Any:
    """The outline of a bold letter (cached), with its bounding box."""
    if char not in cache:
        from matplotlib.font_manager import FontProperties
        from matplotlib.textpath import TextPath

        path = TextPath((0, 0), char, size=1, prop=FontProperties(family="DejaVu Sans",
                                                                   weight="bold"))  # fmt: skip
        cache[char] = (path, path.get_extents())
    return cache[char]


def _letter(ax: Any, glyph: tuple, x: float, y: float, height: float, colour: str) -> None:
    """Draw a letter in the box 0.9 wide centred on ``x``, from ``y`` to ``y + height``."""
    from matplotlib.patches import PathPatch
    from matplotlib.transforms import Affine2D

    path, box = glyph
    place = (
        Affine2D()
        .translate(-box.x0, -box.y0)
        .scale(0.9 / box.width, height / box.height)
        .translate(x - 0.45, y)
    )
    ax.add_patch(PathPatch(place.transform_path(path), lw=0, color=colour))


def plot_logo(
    hmm: Any,
    *,
    rule: str = "relent_all",
    start: int = 1,
    end: int | None = None,
    indels: bool = True,
    ax: Any = None,
) -> Any:
    """Sequence logo of a profile HMM's match states (an HMM logo, as Skylign draws one).

    Each node's letters are stacked by height, the tallest on top; heights
    come from :func:`seqem.profile.logo.logo_heights` with ``rule``
    (``"score"`` stacks negative scores below the axis).  Without an Axes,
    and with ``indels``, a second panel below shows each node's match
    occupancy and the probability of an insertion after it
    (:func:`seqem.profile.logo.indel_values`).

    Returns
    -------
    matplotlib Axes
        The logo's Axes; each letter is a ``PathPatch`` whose bounding box
        is the letter's place: the node's width (0.9) and its height.
    """
    from .profile.logo import indel_values, logo_heights

    plt = _pyplot()
    end = hmm.M if end is None else min(end, hmm.M)
    heights = logo_heights(hmm, rule)[start - 1 : end]
    nodes = np.arange(start, end + 1)
    symbols = hmm.alphabet.symbols
    colours = NUCLEOTIDE_COLOURS if len(symbols) == 4 else LOGO_COLOURS
    if ax is None:
        width = min(60.0, max(6.0, 1.5 + 0.22 * nodes.size))
        if indels:
            fig, (ax, low) = plt.subplots(2, 1, figsize=(width, 4.6), sharex=True,
                                          gridspec_kw={"height_ratios": [4, 1]})  # fmt: skip
            values = indel_values(hmm)[start - 1 : end]
            low.bar(nodes, values[:, 0], width=0.8, color="#f0a30a", label="insert probability")
            low.plot(nodes, values[:, 2], color="#2166ac", lw=1.2, label="occupancy")
            low.set_ylim(0, 1.05)
            low.set_ylabel("prob.")
            low.set_xlabel("node")
            low.legend(frameon=False, fontsize=7, ncol=2, loc="lower left")
        else:
            fig, ax = plt.subplots(figsize=(width, 3.6))
            ax.set_xlabel("node")
    cache: dict = {}
    top = bottom = 0.0
    for node, row in zip(nodes, heights, strict=True):
        finite = np.where(np.isfinite(row), row, 0.0)
        up = [(h, symbols[a]) for a, h in enumerate(finite) if h > 1e-3]
        down = [(h, symbols[a]) for a, h in enumerate(finite) if h < -1e-3]
        y = 0.0
        for h, char in sorted(up):  # the smallest at the bottom, the tallest on top
            _letter(ax, _glyph(char, cache), node, y, h, colours.get(char, "#555555"))
            y += h
        top = max(top, y)
        y = 0.0
        for h, char in sorted(down, reverse=True):  # the largest magnitude at the bottom
            y += h
            _letter(ax, _glyph(char, cache), node, y, -h, colours.get(char, "#555555"))
        bottom = min(bottom, y)
    ax.set_xlim(start - 0.6, end + 0.6)
    ax.set_ylim(bottom * 1.05, max(top * 1.05, 0.1))
    if bottom < 0:
        ax.axhline(0.0, color="0.5", lw=0.6)
    ax.set_ylabel("score (bits)" if rule == "score" else "bits")
    ax.set_title(f"{hmm.name}: M = {hmm.M}, letter heights {rule}", fontsize="medium", loc="left")
    ax.figure.tight_layout()
    return ax
