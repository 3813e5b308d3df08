"""GaussianMixture against scikit-learn, brute-force densities and simulations."""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.stats import multivariate_normal

from seqem.errors import InputFormatError, NotFittedError, ParameterError
from seqem.mixture.gmm import GaussianMixture

TYPES = ["full", "tied", "diag", "spherical"]


def three_blobs(seed=0, n=(200, 150, 150)):
    rng = np.random.default_rng(seed)
    return np.concatenate([
        rng.normal(0, 1, (n[0], 3)),
        rng.normal(3, 0.5, (n[1], 3)),
        rng.normal([0, 4, -2], 1, (n[2], 3)),
    ])  # fmt: skip


@pytest.mark.parametrize("covariance_type", TYPES)
def test_equals_scikit_learn_iteration_by_iteration(covariance_type):
    from sklearn.mixture import GaussianMixture as SK

    X = three_blobs()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = SK(3, covariance_type=covariance_type, max_iter=1, random_state=0).fit(X)
        init = dict(weights_init=start.weights_, means_init=start.means_,
                    precisions_init=start.precisions_)  # fmt: skip
        for n_iter in (1, 4, 8):
            sk = SK(3, covariance_type=covariance_type, max_iter=n_iter, tol=0, **init).fit(X)
            ours = GaussianMixture(3, covariance_type=covariance_type, max_iter=n_iter, tol=0,
                                   **init).fit(X)  # fmt: skip
            assert len(ours.lower_bounds_) == len(sk.lower_bounds_) == n_iter
            assert np.allclose(ours.lower_bounds_, sk.lower_bounds_, rtol=0, atol=1e-8)
            for name in ("weights_", "means_", "covariances_", "precisions_cholesky_",
                         "precisions_"):  # fmt: skip
                assert np.allclose(getattr(ours, name), getattr(sk, name), rtol=0, atol=1e-8)
            assert ours.score(X) == pytest.approx(sk.score(X), abs=1e-10)
            assert np.allclose(ours.predict_proba(X), sk.predict_proba(X), atol=1e-10)
            assert ours.bic(X) == pytest.approx(sk.bic(X), abs=1e-7)
            assert ours.aic(X) == pytest.approx(sk.aic(X), abs=1e-7)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_density_equals_the_sum_of_gaussians(covariance_type):
    rng = np.random.default_rng(1)
    X = three_blobs(1, (20, 15, 15))
    gm = GaussianMixture(2, covariance_type=covariance_type, max_iter=5, tol=1.0, random_state=0)
    gm.fit(X)
    points = rng.normal(size=(6, 3))
    ref = np.zeros(6)
    for k in range(2):
        cov = {
            "full": lambda k: gm.covariances_[k],
            "tied": lambda k: gm.covariances_,
            "diag": lambda k: np.diag(gm.covariances_[k]),
            "spherical": lambda k: np.eye(3) * gm.covariances_[k],
        }[covariance_type](k)
        ref += gm.weights_[k] * multivariate_normal(gm.means_[k], cov).pdf(points)
    assert np.allclose(gm.score_samples(points), np.log(ref), rtol=0, atol=1e-10)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), covariance_type=st.sampled_from(TYPES),
       k=st.integers(1, 4))  # fmt: skip
def test_em_never_decreases(seed, covariance_type, k):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(60, 2)) * rng.uniform(0.5, 3, size=2) + rng.integers(0, 3, (60, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm = GaussianMixture(k, covariance_type=covariance_type, max_iter=30, tol=0,
                             init_params="random", random_state=seed).fit(X)  # fmt: skip
    assert not gm.fit_result_.decreases
    lb = np.array(gm.lower_bounds_ + [gm.lower_bound_])
    assert np.all(np.diff(lb) >= -1e-10 * np.abs(lb[1:]))


def test_recovers_a_simulated_mixture():
    """Means within 4 standard errors, weights within 4 binomial standard errors."""
    rng = np.random.default_rng(5)
    means = np.array([[0.0, 0.0], [4.0, 1.0], [-3.0, 4.0]])
    weights = np.array([0.5, 0.3, 0.2])
    n = 6000
    z = rng.choice(3, size=n, p=weights)
    X = means[z] + rng.normal(size=(n, 2))
    gm = GaussianMixture(3, random_state=1, n_init=2).fit(X)
    order = np.argsort(gm.means_[:, 0])
    truth = np.argsort(means[:, 0])
    for a, b in zip(order, truth, strict=True):
        assert np.all(np.abs(gm.means_[a] - means[b]) < 4 / np.sqrt(n * weights[b]))
        se = np.sqrt(weights[b] * (1 - weights[b]) / n)
        assert abs(gm.weights_[a] - weights[b]) < 4 * se
    assert gm.converged_


def test_integer_sample_weights_equal_repeated_rows():
    X = three_blobs(2, (30, 20, 20))
    counts = np.random.default_rng(3).integers(1, 4, size=X.shape[0])
    for ct in TYPES:
        start = GaussianMixture(3, covariance_type=ct, max_iter=2, tol=0, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start.fit(X)
            # 6 updates: later, the tied fit's lower bound changes by round-off only, and
            # tol=0 stops a run at its first round-off fall (the two sums round differently)
            init = dict(weights_init=start.weights_, means_init=start.means_,
                        precisions_init=start.precisions_, max_iter=6, tol=0)  # fmt: skip
            a = GaussianMixture(3, covariance_type=ct, **init).fit(X, sample_weight=counts)
            b = GaussianMixture(3, covariance_type=ct, **init).fit(np.repeat(X, counts, axis=0))
        for name in ("weights_", "means_", "covariances_"):
            assert np.allclose(getattr(a, name), getattr(b, name), rtol=0, atol=1e-10), ct
        assert a.lower_bound_ == pytest.approx(b.lower_bound_, abs=1e-10)


def test_bad_input_and_parameters():
    X = three_blobs()
    bad = X.copy()
    bad[7, 1] = np.nan
    with pytest.raises(InputFormatError, match="row 8"):
        GaussianMixture(2).fit(bad)
    with pytest.raises(ParameterError, match="covariance_type"):
        GaussianMixture(2, covariance_type="banded").fit(X)
    with pytest.raises(ParameterError, match="more than"):
        GaussianMixture(600).fit(X)
    with pytest.raises(NotFittedError):
        GaussianMixture(2).predict(X)
    with pytest.raises(InputFormatError, match="features"):
        GaussianMixture(2, random_state=0).fit(X).predict(X[:, :2])
    with pytest.raises(InputFormatError, match="sample_weight"):
        GaussianMixture(2).fit(X, sample_weight=-np.ones(len(X)))


def test_sample_draws_from_the_model():
    gm = GaussianMixture(2, random_state=0).fit(three_blobs())
    Y, labels = gm.sample(20000, random_state=1)
    assert np.allclose(np.bincount(labels) / 20000, gm.weights_, atol=0.015)
    assert np.allclose(Y[labels == 0].mean(axis=0), gm.means_[0], atol=0.05)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_blocked_kernels_equal_scikit_learn_with_one_and_two_threads(covariance_type):
    """Six features (the BLAS kernels, not the small-d loops), three chunks with a
    partial last block, data far from the origin; 1 and 2 threads give the same bits."""
    from sklearn.mixture import GaussianMixture as SK

    from seqem.mixture import _gmm_steps

    rng = np.random.default_rng(11)
    n, d = 40_003, 6
    assert d >= max(_gmm_steps.SMALL_D_FULL, _gmm_steps.SMALL_D_DIAG)
    assert _gmm_steps.chunking(n)[1] == 3
    X = rng.normal(size=(n, d)) * rng.uniform(0.3, 2, size=d) + rng.integers(0, 4, (n, 1)) + 50
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = SK(4, covariance_type=covariance_type, max_iter=1, random_state=0).fit(X[:2000])
        init = dict(weights_init=start.weights_, means_init=start.means_,
                    precisions_init=start.precisions_, max_iter=3, tol=0)  # fmt: skip
        sk = SK(4, covariance_type=covariance_type, **init).fit(X)
        fits = [GaussianMixture(4, covariance_type=covariance_type, n_threads=t, **init).fit(X)
                for t in (1, 2)]  # fmt: skip
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        assert np.allclose(getattr(fits[0], name), getattr(sk, name), rtol=0, atol=1e-8)
        assert np.array_equal(getattr(fits[0], name), getattr(fits[1], name))
    assert np.allclose(fits[0].lower_bounds_, sk.lower_bounds_, rtol=0, atol=1e-8)


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
@pytest.mark.parametrize("piece", [1, 2, 4])
def test_triangular_pieces_equal_scikit_learn(monkeypatch, covariance_type, piece):
    """Seven features cut into pieces of 1, 2 or 4 (unequal pieces; the
    kernel's triangular products) give scikit-learn's fit."""
    from sklearn.mixture import GaussianMixture as SK

    from seqem.mixture import _gmm_steps

    monkeypatch.setattr(_gmm_steps, "PIECE", piece)
    assert _gmm_steps.piece_cuts(7).size - 1 == max(1, 7 // piece)
    rng = np.random.default_rng(12)
    A = rng.normal(size=(7, 7))
    X = rng.normal(size=(3000, 7)) @ A + rng.integers(0, 3, (3000, 1)) * 3 + 20
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = SK(3, covariance_type=covariance_type, max_iter=1, random_state=0).fit(X)
        init = dict(weights_init=start.weights_, means_init=start.means_,
                    precisions_init=start.precisions_, max_iter=4, tol=0)  # fmt: skip
        sk = SK(3, covariance_type=covariance_type, **init).fit(X)
        ours = GaussianMixture(3, covariance_type=covariance_type, **init).fit(X)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        assert np.allclose(getattr(ours, name), getattr(sk, name), rtol=0, atol=1e-8)
    assert np.allclose(ours.lower_bounds_, sk.lower_bounds_, rtol=0, atol=1e-8)


def test_fits_a_memory_map_as_the_array(tmp_path):
    X = three_blobs(4, (300, 200, 200)) * [1.0, 2.0, 0.5]
    np.save(tmp_path / "x.npy", X)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_iter reached
        a = GaussianMixture(3, max_iter=5, tol=0, random_state=0).fit(X)
        b = GaussianMixture(3, max_iter=5, tol=0, random_state=0).fit(mapped)
    assert np.array_equal(a.means_, b.means_)
    assert np.array_equal(a.covariances_, b.covariances_)


def test_values_whose_squares_overflow_are_refused():
    """Around 1e200 the squared distances overflow (k-means++ then drew from NaN
    probabilities): refused, naming the value, its column and row."""
    from seqem.mixture.gmm import MAX_ABS

    X = three_blobs()
    big = X * 1e200
    with pytest.raises(InputFormatError) as info:
        GaussianMixture(2).fit(big)
    assert "row 1" in str(info.value) and "too large for a Gaussian mixture" in str(info.value)
    # the largest magnitude taken is fitted as the data scaled down are (reg_covar,
    # a variance, scaled with them)
    unit = X / np.abs(X).max()
    a = GaussianMixture(3, random_state=0, reg_covar=1e-6 * MAX_ABS**2).fit(unit * MAX_ABS)
    b = GaussianMixture(3, random_state=0).fit(unit)
    assert np.allclose(a.means_ / MAX_ABS, b.means_, rtol=1e-6)


def test_select_skips_models_with_as_many_parameters_as_rows():
    from seqem.mixture.gmm import free_parameters, select

    X = three_blobs(n=(4, 3, 3))  # 10 rows, 3 features
    skipped = []
    rows = select(X, [1, 2, 3, 3], ["diag", "full", "diag"], skipped=skipped, random_state=0)
    fitted = [(r["n_components"], r["covariance_type"]) for r in rows]
    # K=1: 6 (diag) and 9 (full) parameters < 10 rows; K=2: 13 and 19; each pair once
    assert fitted == [(1, "diag"), (1, "full")]
    assert skipped == [(2, "diag"), (3, "diag"), (2, "full"), (3, "full")]
    for k, ct in skipped:
        assert free_parameters(k, 3, ct) >= 10


def write_model(path, **changes):
    import json

    X = three_blobs()
    from seqem.mixture.gmm import model_document

    doc = model_document(GaussianMixture(2, random_state=0).fit(X), ["a", "b", "c"])
    for key, value in changes.items():
        if value is KeyError:
            del doc[key]
        else:
            doc[key] = value
    path.write_text(json.dumps(doc))
    return doc


GOOD = {"weights": [0.25, 0.75], "means": [[0, 0, 0], [1, 1, 1]]}


@pytest.mark.parametrize(
    "changes,field,message",
    [
        ({"weights": [1.0]}, "weights", "expected 2 numbers, got a list of 1"),
        ({"weights": [0.5, "0.5"]}, "weights", "'0.5' is not a number"),
        ({"weights": [-0.5, 1.5]}, "weights", "weight -0.5 is not positive"),
        ({"weights": [0.0, 1.0]}, "weights", "weight 0 is not positive"),
        ({"weights": [float("nan"), 1.0]}, "weights", "NaN or infinite value"),
        ({"weights": [0.5, 0.6]}, "weights", "the weights sum to 1.1, not 1"),
        ({"weights": True}, "weights", "expected 2 numbers"),
        ({"means": [[0, 0, float("nan")], [1, 1, 1]]}, "means", "NaN or infinite value"),
        ({"means": [[0, 0, 0], [1, 1]]}, "means", "expected 2 x 3 numbers, got a list of 2"),
        ({"means": [[0, 0, 1e300], [1, 1, 1]]}, "means", "its square overflows"),
        ({"n_components": 3}, "means", "2 means but n_components is 3"),
        ({"n_components": "2"}, "n_components", "expected an integer >= 1"),
        ({"n_components": True}, "n_components", "expected an integer >= 1"),
        ({"covariances": [[[1, 0, 0], [0, 1, 0], [0, 0, 1]]]}, "covariances",
         "expected 2 x 3 x 3 numbers, got a list of 1"),
        ({"covariances": [[[1, 2, 0], [2, 1, 0], [0, 0, 1]]] * 2}, "covariances",
         "not positive definite"),
        ({"covariances": [[[1, 0.5, 0], [0, 1, 0], [0, 0, 1]]] * 2}, "covariances",
         "not symmetric"),
        ({"covariance_type": "banded"}, "covariance_type", "expected one of"),
        ({"reg_covar": -1}, "reg_covar", "expected a number >= 0"),
        ({"lower_bound": "abc"}, "lower_bound", "expected a finite number, got 'abc'"),
        ({"converged": "yes"}, "converged", "expected true or false"),
        ({"n_iter": -2}, "n_iter", "expected an integer >= 0"),
        ({"columns": ["a", "b"]}, "columns", "2 names for means of 3 features"),
        ({"columns": ["a", "a", "b"]}, "columns", "a column name appears twice"),
        ({"version": 2}, "version", "model format version 2"),
        ({"weights": KeyError}, "weights", "missing"),
    ],
)  # fmt: skip
def test_load_gmm_checks_every_field(tmp_path, changes, field, message):
    from seqem.mixture.gmm import load_gmm

    path = tmp_path / "model.json"
    write_model(path, **changes)
    with pytest.raises(InputFormatError) as info:
        load_gmm(str(path))
    text = str(info.value)
    assert text.startswith(f"{path}: field {field!r}: ") and message in text, text
    assert "\n" not in text


def test_load_gmm_round_trip_and_binary(tmp_path):
    from seqem.mixture.gmm import load_gmm

    path = tmp_path / "model.json"
    X = three_blobs()
    write_model(path)
    gm = GaussianMixture(2, random_state=0).fit(X)
    loaded, columns = load_gmm(str(path))
    assert columns == ["a", "b", "c"]
    assert np.allclose(loaded.score_samples(X), gm.score_samples(X), rtol=1e-12)
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe")
    with pytest.raises(InputFormatError, match="not a JSON model file"):
        load_gmm(str(path))
