"""The robust heteroscedastic EM against the shared deconvolution baselines and simulations.

The shared sets live in ``../shared/data/deconvolution`` (skipped with the
reason where absent).  Each set's figure (Pearson r and RMSE over all
(sample, category) pairs, with the reference its README names) is printed
beside the README's baselines and checked against the goal; goals this
method does not reach are marked ``xfail(strict=True)`` with the measured
figure, so that reaching one shows up as a failure to update.
"""

from __future__ import annotations

import numpy as np
import pytest

from seqem.deconv.robust import robust_fit, select_markers
from seqem.errors import InputFormatError

from .test_mixture import SHARED, dataset, needs_data, table


def epic_extras(types: list[str]):
    """EPIC's per-gene variances on its signature genes and mRNA per cell."""
    d = SHARED / "epic_melanoma_gse93722"
    genes, _, _ = table(d / "mixtures_tpm.tsv")
    ref_genes, _, _ = table(d / "reference_tpm.tsv")
    var_genes, var_types, V = table(d / "reference_var.tsv")
    assert var_types == types
    signature = (d / "signature_genes.txt").read_text().split()
    both = [g for g in signature if g in set(genes) and g in set(ref_genes)]
    vi = {g: i for i, g in enumerate(var_genes)}
    names, _, mrna = table(d / "mrna_per_cell.tsv")
    value = dict(zip(names, mrna[:, 0], strict=True))
    return V[[vi[g] for g in both]], [value.get(t, value["default"]) for t in types], value


def figures(name: str, variant: str = "") -> tuple[float, float]:
    """seqem's r and RMSE over all (sample, truth category) pairs."""
    Y, S, types = dataset(name, variant)
    _, cols, truth = table(SHARED / name / "truth.tsv")
    if name == "epic_melanoma_gse93722":
        var, mrna, value = epic_extras(types)
        fit = robust_fit(Y, S, var=var, other=True, mrna=mrna, mrna_other=value["otherCells"])
        assert fit.other is not None
        est = np.column_stack([fit.proportions[:, types.index(c)] for c in cols[:4]] + [fit.other])
        truth = np.column_stack([truth[:, :4], truth[:, 4] + truth[:, 5]])  # other = unprofiled
    else:
        fit = robust_fit(Y, S)
        plain = [t.replace(" ", "") for t in types]
        est = fit.proportions[:, [plain.index(c) for c in cols]]
    assert np.all(np.isfinite(fit.se)) and all(not f.decreases for f in fit.fits)
    r = float(np.corrcoef(est.ravel(), truth.ravel())[0, 1])
    return r, float(np.sqrt(np.mean((est - truth) ** 2)))


def baselines(name: str, variant: str) -> list[str]:
    with open(SHARED / name / "reference" / f"baseline_metrics{variant}.tsv") as fh:
        rows = [line.rstrip("\n").split("\t") for line in fh][1:]
    return [f"{r[1]:>15} {float(r[4]):6.3f} {float(r[5]):7.4f}" for r in rows if r[2] == "ALL"]


def not_met(r: float, rmse: float) -> pytest.MarkDecorator:
    return pytest.mark.xfail(strict=True, reason=f"goal not met: measured r {r}, RMSE {rmse}")


# (name, variant, least r, largest RMSE); measured figures in docs/deconvolution.md
GOALS = [
    pytest.param("shen_orr_gse19830", "", 0.993, 0.035, marks=not_met(0.973, 0.0517)),
    pytest.param("abbas_gse11058", "", -1.0, 0.055, marks=not_met(0.900, 0.0678)),
    pytest.param("newman_pbmc_gse65133", "", 0.65, 0.085, marks=not_met(0.604, 0.0864)),
    pytest.param("epic_melanoma_gse93722", "", -1.0, 0.091),
    pytest.param("cdseq_pbmc_pseudobulk", "_all4types", -1.0, 0.09, marks=not_met(0.795, 0.170)),
    pytest.param(
        "cdseq_pbmc_pseudobulk", "_no_megakaryocyte", -1.0, 0.09, marks=not_met(0.867, 0.124)
    ),
]


@needs_data
@pytest.mark.parametrize("name,variant,least_r,largest_rmse", GOALS)
def test_goal_figures_beside_the_baselines(name, variant, least_r, largest_rmse):
    r, rmse = figures(name, variant)
    print(f"\n{name}{variant}: method r (all) RMSE (all)")
    print("\n".join(baselines(name, variant)))
    print(
        f"{'seqem robust':>15} {r:6.3f} {rmse:7.4f}   (goal r >= {least_r}, RMSE <= {largest_rmse})"
    )
    assert r >= least_r and rmse <= largest_rmse


# Figures measured when the method was written; a change beyond round-off means the
# method changed and the docs' table must be redone.
MEASURED = [
    ("shen_orr_gse19830", "", 0.9728, 0.0517),
    ("abbas_gse11058", "", 0.9000, 0.0678),
    ("newman_pbmc_gse65133", "", 0.6040, 0.0864),
    ("epic_melanoma_gse93722", "", 0.9747, 0.0675),
    ("cdseq_pbmc_pseudobulk", "_all4types", 0.7950, 0.1698),
    ("cdseq_pbmc_pseudobulk", "_no_megakaryocyte", 0.8666, 0.1236),
]


@needs_data
@pytest.mark.parametrize("name,variant,r_then,rmse_then", MEASURED)
def test_figures_as_documented(name, variant, r_then, rmse_then):
    r, rmse = figures(name, variant)
    assert abs(r - r_then) < 5e-4 and abs(rmse - rmse_then) < 5e-4, (r, rmse)


@needs_data
@pytest.mark.parametrize("variant", ["_all4types", "_no_megakaryocyte"])
@pytest.mark.parametrize("batched", [True, False])
def test_every_cdseq_sample_settles(variant, batched, monkeypatch):
    """The variance-shape refreshes reach a fixed point for every sample: the
    runs end before the limit (:data:`OUTER`).  Undamped, one sample of each
    set cycles between two points for all the runs (shown here), so that its
    answer depended on the parity of the last run."""
    from seqem.deconv import robust
    from seqem.deconv.robust import OUTER

    Y, S, _ = dataset("cdseq_pbmc_pseudobulk", variant)
    fit = robust_fit(Y, S, batched=batched)
    runs = [len(f.history) - f.n_iter for f in fit.fits]
    assert max(runs) < OUTER, runs
    monkeypatch.setattr(robust, "SHAPE_DAMPING", 1.0)  # the plain refresh
    plain = robust_fit(Y, S, batched=batched)
    stuck = [j for j, f in enumerate(plain.fits) if len(f.history) - f.n_iter == OUTER]
    assert len(stuck) == 1
    # and the point it stopped at is not the fixed point
    j = stuck[0]
    assert abs(plain.proportions[j] - fit.proportions[j]).max() > 0.01


def simulate(rng: np.random.Generator, n_genes=400, n_types=5, n_samples=20, depth=20.0):
    """TPM-like profiles, absolute mixtures (columns sum to 1e6) with Poisson noise."""
    S = rng.gamma(0.5, 1.0, size=(n_genes, n_types))
    S *= 1e6 / S.sum(axis=0)
    truth = rng.dirichlet(np.ones(n_types), size=n_samples)
    mean = S @ truth.T
    Y = rng.poisson(mean * depth / 1e3) * 1e3 / depth  # about depth reads per 1000 TPM
    return S, truth, mean, Y


@needs_data
def test_profiles_fitted_to_the_truth_miss_the_cdseq_goal():
    """Why the CDSeq goal (RMSE 0.09) is out of reach of a fixed reference.

    The profiles that fit the bulk best *given the true proportions* (per
    gene non-negative least squares of the 30 mixtures on the true
    proportions times each sample's cell number, the numbers refitted in
    turn) still leave 12% of the bulk unexplained, and deconvolving with
    them misses the truth by RMSE 0.124 (NNLS) and 0.127
    (robust fit): more than the labelled cells' reference gives.  The
    mixtures are not a fixed combination of three profiles (the unexplained
    part is spread over the most expressed genes, MALAT1, FTL and TMSB4X
    first); reaching the goal needs profiles that vary from one mixture to
    the next.
    """
    from scipy.optimize import nnls

    Y, S, types = dataset("cdseq_pbmc_pseudobulk", "_no_megakaryocyte")
    _, cols, truth = table(SHARED / "cdseq_pbmc_pseudobulk" / "truth.tsv")
    P = truth[:, [cols.index(t.replace(" ", "")) for t in types]]
    n = Y.sum(axis=0) / Y.sum(axis=0).mean()
    for _ in range(200):
        best = np.array([nnls(n[:, None] * P, row)[0] for row in Y])
        fitted = best @ P.T
        n = (fitted * Y).sum(axis=0) / (fitted * fitted).sum(axis=0)
    unexplained = np.linalg.norm(Y - best @ (n[:, None] * P).T) / np.linalg.norm(Y)

    def rmse(est: np.ndarray) -> float:
        return float(np.sqrt(np.mean((est - P) ** 2)))

    coef = np.array([nnls(best, column)[0] for column in Y.T])
    oracle_nnls = rmse(coef / coef.sum(axis=1, keepdims=True))
    oracle_robust = rmse(robust_fit(Y, best).proportions)
    labelled = rmse(robust_fit(Y, S).proportions)
    print(f"\nCDSeq without Mk: profiles fitted to the true proportions leave {unexplained:.3f} "
          f"of the bulk; RMSE with them: NNLS {oracle_nnls:.4f}, robust {oracle_robust:.4f}; "
          f"robust with the labelled cells' reference {labelled:.4f}; goal 0.09")  # fmt: skip
    assert unexplained > 0.1
    assert min(oracle_nnls, oracle_robust) > 0.12 > 0.09
    assert labelled < oracle_robust

    # nor do extra profiles learned from the bulk: a Poisson factorisation with
    # the reference fixed and ``free`` profiles learned, each free profile's
    # cells given to the reference type it correlates with best
    k, rng = S.shape[1], np.random.default_rng(0)
    found = []
    for free in range(4):
        W = np.hstack([S, rng.uniform(0.5, 1.5, (S.shape[0], free)) * S.mean(1, keepdims=True)])
        H = np.ones((k + free, Y.shape[1])) * Y.sum(axis=0) / W.sum()
        for _ in range(3000):  # multiplicative (EM) updates of the Poisson likelihood
            H *= (W.T @ (Y / (W @ H))) / W.sum(axis=0)[:, None]
            W[:, k:] *= ((Y / (W @ H)) @ H[k:].T) / H[k:].sum(axis=1)
        cells = H[:k].T.copy()
        for f in range(free):
            w = W[:, k + f]
            to = int(np.argmax([np.corrcoef(np.log1p(w), np.log1p(s))[0, 1] for s in S.T]))
            cells[:, to] += H[k + f] * w.sum() / S[:, to].sum()
        found.append(rmse(cells / cells.sum(axis=1, keepdims=True)))
    print("free profiles 0-3 learned from the bulk: RMSE " + ", ".join(f"{x:.4f}" for x in found))
    assert min(found[1:]) > found[0] > 0.09


def test_other_recovers_a_withheld_cell_type():
    """The share of a type left out of the reference comes back as 'other'.

    Tolerance: the error of the noise-free fit (what the other profiles can
    imitate of the missing one, a bias no noise model removes) plus three
    standard errors of the noisy fit.
    """
    rng = np.random.default_rng(5)
    S, truth, mean, Y = simulate(rng)
    noisy = robust_fit(Y, S[:, :4], other=True)
    exact = robust_fit(mean, S[:, :4], other=True)
    assert noisy.other is not None and exact.other is not None
    bias = np.abs(exact.other - truth[:, 4])
    err = np.abs(noisy.other - truth[:, 4])
    assert np.all(err <= bias + 3 * noisy.se[:, 4] + 1e-6), (err, bias, noisy.se[:, 4])
    assert np.abs(noisy.proportions - truth[:, :4]).max() < 0.05  # measured 0.030
    print(f"other: largest error {err.max():.4f}, noise-free bias up to {bias.max():.4f}")


def test_full_reference_recovers_the_proportions_and_se_are_calibrated():
    """With every type profiled the fit is unbiased; the sandwich SE matches the spread."""
    rng = np.random.default_rng(11)
    S, truth, mean, _ = simulate(rng, n_samples=1)
    draws = np.stack([rng.poisson(mean[:, 0] * 20 / 1e3) * 1e3 / 20 for _ in range(200)], axis=1)
    fit = robust_fit(draws, S)
    spread = fit.proportions.std(axis=0)
    assert np.abs(fit.proportions.mean(axis=0) - truth[0]).max() < 3 * spread.max()
    ratio = fit.se.mean(axis=0) / spread
    # 200 draws: the spread's relative error is about 1/sqrt(2 * 200) = 5%; the sandwich
    # ignores that the variance shape depends on the fit (measured ratios 0.84-1.00)
    assert np.all((ratio > 0.8) & (ratio < 1.5)), ratio


def test_gaussian_limit_equals_weighted_nnls():
    """nu = inf with a fixed variance shape is weighted least squares."""
    rng = np.random.default_rng(3)
    S, _, mean, Y = simulate(rng, n_samples=3)
    fit = robust_fit(Y, S, nu=1e12)
    from scipy.optimize import nnls

    for j in range(3):
        mu = S @ fit.coefficients[j]
        w = 1 / np.maximum(mu, 1e-3 * mu.mean())
        coef, _ = nnls(S * np.sqrt(w)[:, None], Y[:, j] * np.sqrt(w))
        assert np.allclose(coef, fit.coefficients[j], rtol=1e-5, atol=1e-6)


def test_select_markers():
    S = np.array([[10, 1, 1], [1, 10, 1], [1, 1, 10], [5, 4, 5], [8, 1, 2.0]])
    assert select_markers(S, 1).tolist() == [0, 1, 2]
    assert select_markers(S, 2).tolist() == [0, 1, 2, 4]


def test_bad_input():
    S = np.abs(np.random.default_rng(0).normal(size=(6, 2)))
    with pytest.raises(InputFormatError, match="more genes than types"):
        robust_fit(np.ones((2, 1)), S[:2])
    with pytest.raises(InputFormatError, match="variances"):
        robust_fit(np.ones((6, 1)), S, var=-np.ones((6, 2)))
    with pytest.raises(InputFormatError, match="mRNA"):
        robust_fit(np.ones((6, 1)), S, mrna=[1.0, 0.0])
    with pytest.raises(InputFormatError, match="no expression"):
        robust_fit(np.zeros((6, 1)), S)


@pytest.mark.parametrize("ey,es", [(-1000, -1000), (-990, 0), (0, -990), (1000, 1000), (-600, 600)])
@pytest.mark.parametrize("batched", [True, False])
def test_tiny_and_huge_values_are_fitted_as_scaled(ey, es, batched):
    """Bulk times 2^ey and reference times 2^es (exact): the same proportions and
    standard errors, coefficients times 2^(ey - es), sigma^2 times 2^ey and the
    log-likelihood lower by genes * ey * ln 2 (the density of a scaled value)."""
    rng = np.random.default_rng(13)
    S, _, _, Y = simulate(rng, n_genes=150, n_samples=4)
    fit = robust_fit(Y, S, batched=batched)
    odd = robust_fit(np.ldexp(Y, ey), np.ldexp(S, es), batched=batched)
    assert np.allclose(odd.proportions, fit.proportions, rtol=0, atol=1e-9)
    assert np.allclose(odd.se, fit.se, rtol=1e-6, atol=1e-12)
    assert np.allclose(odd.coefficients, np.ldexp(fit.coefficients, ey - es), rtol=1e-9)
    assert np.allclose(odd.sigma2, np.ldexp(fit.sigma2, ey), rtol=1e-9)
    assert np.allclose(odd.loglik, fit.loglik - S.shape[0] * ey * np.log(2), rtol=1e-9)
    assert [f.loglik for f in odd.fits] == pytest.approx(list(odd.loglik), rel=1e-12)


def test_tiny_values_with_other_keep_the_absolute_scale():
    """With --other the coefficients are absolute: a bulk 2^-990 times the reference's
    scale is all 'other' (and nothing fails)."""
    rng = np.random.default_rng(13)
    S, _, _, Y = simulate(rng, n_genes=150, n_samples=3)
    fit = robust_fit(np.ldexp(Y, -990), S, other=True)
    assert fit.other is not None and np.allclose(fit.other, 1.0)
    assert np.all(np.isfinite(fit.se))


def test_degrees_of_freedom_out_of_range():
    from seqem.errors import ParameterError

    rng = np.random.default_rng(1)
    S, _, _, Y = simulate(rng, n_genes=60, n_samples=1)
    for nu in (0.0, -1.0, 1e300, float("inf"), float("nan")):
        with pytest.raises(ParameterError, match="nu"):
            robust_fit(Y, S, nu=nu)
