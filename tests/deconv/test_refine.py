"""Proportions with the profiles refined jointly across the samples (``refine_fit``).

Checked against: the objective written out here (log-likelihood plus the
Dirichlet prior's log density), its stationarity by finite differences along
the simplex at the fit, the fixed-reference fit when the prior dominates,
simulations whose reference is wrong on some genes (known truth), and EM's
monotone climb on random problems (hypothesis).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqem.deconv.mixture import multinomial_em
from seqem.deconv.refine import refine_fit
from seqem.errors import InputFormatError

from .test_mixture import SHARED, dataset, labels, needs_data, table


def objective(Y, pi, q, prior):
    """sum_gj y ln (q pi^T)_gj + sum_gk a ln q, written independently of the fit."""
    m = q @ pi.T
    seen = Y > 0
    use = prior > 0
    return float(np.sum(Y[seen] * np.log(m[seen])) + np.sum(prior[use] * np.log(q[use])))


def problem(rng, genes=30, k=3, n=6, depth=200.0):
    S = rng.gamma(0.7, 1.0, size=(genes, k)) + 1e-3
    S *= rng.uniform(0.5, 2.0, size=k) / S.sum(axis=0)
    cells = rng.dirichlet(np.ones(k), size=n)
    Y = rng.poisson(depth * genes * (S @ cells.T)).astype(float)
    Y[:, Y.sum(axis=0) == 0] = 1.0
    return Y, S


def test_objective_is_the_posterior_at_the_fit():
    rng = np.random.default_rng(0)
    Y, S = problem(rng)
    counts = rng.poisson(50.0 * S / S.sum(axis=0), size=S.shape).astype(float)
    for kw in ({}, {"cell_counts": counts, "weight": 2.0}):
        fit = refine_fit(Y, S, **kw)
        q = fit.profiles / S.sum(axis=0)
        prior = 2.0 * counts if kw else Y.sum() / S.shape[1] * S / S.sum(axis=0)
        assert fit.objective == pytest.approx(objective(Y, fit.expression_fractions, q, prior),
                                              rel=1e-12)  # fmt: skip
        assert np.allclose(fit.profiles.sum(axis=0), S.sum(axis=0))  # totals per cell kept
        assert np.allclose(fit.proportions.sum(axis=1), 1.0)


def test_the_fit_is_stationary_on_the_simplex():
    """Finite differences of the objective along directions that stay on the simplex:
    zero between positive coordinates, never positive towards a zero one."""
    rng = np.random.default_rng(1)
    Y, S = problem(rng, genes=12, k=3, n=4)
    fit = refine_fit(Y, S, weight=0.5, tol=1e-14, max_iter=20000)
    pi, q = fit.expression_fractions.copy(), fit.profiles / S.sum(axis=0)
    prior = 0.5 * Y.sum() / 3 * S / S.sum(axis=0)
    h = 1e-6
    scale = abs(objective(Y, pi, q, prior))

    def slope(which, i, a, b):
        arrays = {"pi": pi, "q": q}
        x = arrays[which]
        up = x.copy()
        down = x.copy()
        if which == "pi":
            up[i, a] += h
            up[i, b] -= h
            down[i, a] -= h
            down[i, b] += h
        else:
            up[a, i] += h
            up[b, i] -= h
            down[a, i] -= h
            down[b, i] += h
        f = {**arrays, which: up}
        g = {**arrays, which: down}
        rise = objective(Y, f["pi"], f["q"], prior) - objective(Y, g["pi"], g["q"], prior)
        return rise / (2 * h)

    for j in range(pi.shape[0]):
        for a in range(3):
            for b in range(3):
                if a != b and pi[j, b] > 1e-4:
                    d = slope("pi", j, a, b)
                    assert d < 1e-5 * scale if pi[j, a] < 1e-8 else abs(d) < 1e-5 * scale
    for k in range(3):
        for g in range(0, 12, 3):
            if q[g, k] > 1e-4 and q[g + 1, k] > 1e-4:
                assert abs(slope("q", k, g, g + 1)) < 1e-5 * scale


def test_a_strong_prior_gives_the_fixed_reference_fit():
    rng = np.random.default_rng(2)
    Y, S = problem(rng)
    fixed = multinomial_em(Y, S)
    fit = refine_fit(Y, S, weight=1e9)
    assert np.abs(fit.proportions - fixed.proportions).max() < 1e-5
    assert np.abs(fit.profiles - S).max() < 1e-6 * S.max()


@pytest.mark.parametrize("seed", range(3))
def test_refinement_recovers_a_reference_wrong_on_some_genes(seed):
    """Bulk counts from the true profiles; the reference is off by a factor e^N(0, 1) on
    15% of its entries.  The fixed-reference fit inherits that bias; refined with a light
    prior (weight 0.1) the error falls by more than half (measured 0.0186 -> 0.0056,
    0.0202 -> 0.0036, 0.0355 -> 0.0141 for seeds 0-2) and the profiles move towards the
    truth."""
    rng = np.random.default_rng(seed)
    genes, k, n = 300, 4, 60
    P = rng.gamma(0.6, 1.0, size=(genes, k))
    P *= rng.uniform(0.5, 2.0, size=k) * 1e4 / P.sum(axis=0)
    R = P.copy()
    off = rng.random((genes, k)) < 0.15
    R[off] *= np.exp(rng.normal(0.0, 1.0, size=off.sum()))
    R *= P.sum(axis=0) / R.sum(axis=0)
    cells = rng.dirichlet(np.ones(k), size=n) * rng.integers(50, 200, size=(n, 1))
    Y = rng.poisson(P @ cells.T).astype(float)
    truth = cells / cells.sum(axis=1, keepdims=True)
    fixed = multinomial_em(Y, R).proportions
    fit = refine_fit(Y, R, weight=0.1)
    rmse_fixed = np.sqrt(np.mean((fixed - truth) ** 2))
    rmse = np.sqrt(np.mean((fit.proportions - truth) ** 2))
    print(f"\nseed {seed}: RMSE fixed reference {rmse_fixed:.4f}, refined {rmse:.4f}")
    assert rmse < 0.5 * rmse_fixed, (rmse, rmse_fixed)
    assert np.abs(fit.profiles - P).sum() < np.abs(R - P).sum()
    assert not fit.fit.decreases


@pytest.mark.filterwarnings("ignore::seqem.errors.ConvergenceWarning")  # short budgets
@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    k=st.integers(1, 4),
    n=st.integers(1, 6),
    weight=st.sampled_from([0.01, 1.0, 50.0]),
    cells=st.booleans(),
)
def test_the_objective_never_falls(seed, k, n, weight, cells):
    rng = np.random.default_rng(seed)
    Y, S = problem(rng, genes=int(rng.integers(k + 2, 25)), k=k, n=n, depth=5.0)
    counts = rng.poisson(20.0 * S / S.sum(axis=0), size=S.shape).astype(float) if cells else None
    fit = refine_fit(Y, S, cell_counts=counts, weight=weight, max_iter=300)
    history = np.array(fit.fit.history)
    assert not fit.fit.decreases
    assert np.all(np.diff(history) >= -1e-9 * np.abs(history[1:]))


def test_bad_prior():
    rng = np.random.default_rng(3)
    Y, S = problem(rng)
    with pytest.raises(InputFormatError):
        refine_fit(Y, S, weight=0.0)
    with pytest.raises(InputFormatError):
        refine_fit(Y, S, cell_counts=-np.ones_like(S))


@needs_data
@pytest.mark.parametrize("variant", ["_all4types", "_no_megakaryocyte"])
def test_cdseq_with_the_single_cells_as_prior(variant):
    """The single-cell set, the labelled cells' counts as the prior (URSM's use).  Refined,
    the figures are worse than the fixed reference's here (as documented): the bulk's
    cells differ from the labelled ones in more than the profiles' noise."""
    Y, S, types = dataset("cdseq_pbmc_pseudobulk", variant)
    d = SHARED / "cdseq_pbmc_pseudobulk"
    _, cells, C = table(d / "sc_counts.tsv")
    lab = labels(d / "sc_labels.tsv")
    counts = np.stack([C[:, [i for i, c in enumerate(cells) if lab[c] == t]].sum(axis=1)
                       for t in types], axis=1)  # fmt: skip
    _, cols, truth = table(d / "truth.tsv")
    plain = [t.replace(" ", "") for t in types]
    fit = refine_fit(Y, S, cell_counts=counts)
    est = fit.proportions[:, [plain.index(c) for c in cols]]
    r = float(np.corrcoef(est.ravel(), truth.ravel())[0, 1])
    rmse = float(np.sqrt(np.mean((est - truth) ** 2)))
    print(f"\ncdseq{variant} refined: r {r:.3f}, RMSE {rmse:.4f}")
    documented = {"_all4types": (0.585, 0.2326), "_no_megakaryocyte": (0.682, 0.1857)}[variant]
    assert abs(r - documented[0]) < 5e-3 and abs(rmse - documented[1]) < 5e-4
    assert not fit.fit.decreases
