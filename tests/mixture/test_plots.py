"""The mixture plots draw what the model says: ellipses against the closed form of a
2x2 covariance's axes, densities against SciPy, BIC lines against the table."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from seqem.mixture.gmm import GaussianMixture, select  # noqa: E402
from seqem.plotting import ellipse_axes, plot_bic, plot_mixture  # noqa: E402


def closed_form(a: float, b: float, c: float) -> tuple[float, float, float]:
    """Axes and angle of the 1-sd ellipse of [[a, b], [b, c]], by the 2x2 formulas."""
    mid, half = (a + c) / 2, np.hypot((a - c) / 2, b)
    angle = 0.5 * np.degrees(np.arctan2(2 * b, a - c))
    return float(np.sqrt(mid + half)), float(np.sqrt(mid - half)), float(angle)


def same_angle(x: float, y: float) -> bool:
    """Equal as directions of an axis (modulo 180 degrees)."""
    d = (x - y) % 180.0
    return min(d, 180.0 - d) < 1e-8


@pytest.mark.parametrize("a,b,c", [(4.0, 1.5, 1.0), (1.0, -0.7, 3.0), (2.0, 0.0, 1.0)])
def test_ellipse_axes_equal_the_closed_form(a, b, c):
    got = ellipse_axes(np.array([[a, b], [b, c]]))
    want = closed_form(a, b, c)
    assert np.allclose(got[:2], want[:2], rtol=1e-12)
    assert same_angle(got[2], want[2])


def fitted(covariance_type: str, d: int = 3) -> tuple[GaussianMixture, np.ndarray]:
    rng = np.random.default_rng(4)
    A = rng.normal(size=(d, d))
    X = np.vstack([rng.normal(size=(300, d)) @ A, rng.normal(size=(200, d)) + 5.0])
    return GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X), X


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_ellipses_are_the_components_marginal_covariances(covariance_type):
    from matplotlib.patches import Ellipse

    gm, X = fitted(covariance_type)
    ax = plot_mixture(gm, X, dims=(2, 0))
    ellipses = [p for p in ax.patches if isinstance(p, Ellipse)]
    assert len(ellipses) == 2 * 2  # two radii per component
    # the component's covariance, built here from the fitted attributes
    cov = np.asarray(gm.covariances_)
    for k in range(2):
        if covariance_type == "full":
            full = cov[k]
        elif covariance_type == "tied":
            full = cov
        elif covariance_type == "diag":
            full = np.diag(cov[k])
        else:
            full = cov[k] * np.eye(3)
        major, minor, angle = closed_form(full[2, 2], full[2, 0], full[0, 0])
        for radius, e in zip((1.0, 2.0), ellipses[2 * k : 2 * k + 2], strict=True):
            assert np.allclose(e.center, gm.means_[k, [2, 0]])
            assert np.isclose(e.width, 2 * radius * major)
            assert np.isclose(e.height, 2 * radius * minor)
            if major - minor > 1e-9 * major:  # a circle has no direction
                assert same_angle(e.angle, angle)


def test_one_feature_draws_the_densities():
    from scipy.stats import norm

    gm, X = fitted("full")
    ax = plot_mixture(gm, X, dims=(1,))
    lines = {line.get_label(): line for line in ax.get_lines()}
    x, total = lines["mixture"].get_data()
    want = sum(
        w * norm.pdf(x, m[1], np.sqrt(c[1, 1]))
        for w, m, c in zip(gm.weights_, gm.means_, gm.full_covariances(), strict=True)
    )
    assert np.allclose(total, want, rtol=1e-12)


def test_bad_features_are_refused():
    from seqem.errors import ParameterError

    gm, X = fitted("diag")
    with pytest.raises(ParameterError, match="not distinct features"):
        plot_mixture(gm, X, dims=(0, 3))
    with pytest.raises(ParameterError, match="not distinct features"):
        plot_mixture(gm, X, dims=(1, 1))


def test_bic_lines_are_the_table():
    _, X = fitted("full")
    rows = select(X, [1, 2, 3], ["full", "spherical"], random_state=0)
    ax = plot_bic(rows)
    lines = {line.get_label(): line for line in ax.get_lines()}
    for ct in ("full", "spherical"):
        k, bic = lines[ct].get_data()
        mine = [r for r in rows if r["covariance_type"] == ct]
        assert list(k) == [r["n_components"] for r in mine]
        assert np.allclose(bic, [r["bic"] for r in mine])
    best = min(rows, key=lambda r: r["bic"])
    (marked,) = [line for name, line in lines.items() if name.startswith("best")]
    assert marked.get_data()[1][0] == best["bic"]
