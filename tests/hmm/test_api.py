"""The estimator API: parameters, letters, priors, persistence, errors."""

import warnings

import numpy as np
import pytest

import seqem
from seqem import CategoricalHMM, GaussianHMM, load_model
from seqem.errors import InputFormatError, NotFittedError, ParameterError


def set_params(model, **params):
    for k, v in params.items():
        setattr(model, k, np.asarray(v, dtype=float))
    return model


def small_categorical(**kw):
    return set_params(
        CategoricalHMM(2, n_features=3, init_params="", **kw),
        startprob_=[0.6, 0.4],
        transmat_=[[0.8, 0.2], [0.3, 0.7]],
        emissionprob_=[[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]],
    )


X3 = np.array([0, 1, 2, 2, 1, 0, 0, 2, 2, 2, 1])


def quiet_fit(model, X, lengths=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X, lengths)


def test_params_letters_hold_parameters():
    model = small_categorical(params="e", max_iter=3)
    start, trans = model.startprob_.copy(), model.transmat_.copy()
    quiet_fit(model, X3)
    np.testing.assert_array_equal(model.startprob_, start)
    np.testing.assert_array_equal(model.transmat_, trans)


def test_fixed_by_name():
    model = small_categorical(fixed=["emissionprob_", "startprob"], max_iter=3)
    emis = model.emissionprob_.copy()
    quiet_fit(model, X3)
    np.testing.assert_array_equal(model.emissionprob_, emis)
    assert model.n_free_parameters() == 2  # transitions only


def test_unknown_fixed_name():
    with pytest.raises(ParameterError, match="fixed"):
        small_categorical(fixed=["means"]).fit(X3)


def test_init_params_requires_user_values():
    model = CategoricalHMM(2, n_features=3, init_params="se")
    with pytest.raises(ParameterError, match="transmat_ is not set"):
        model.fit(X3)


def test_dirichlet_prior_is_map():
    """One update with pseudocounts equals (counts + a - 1), normalised."""
    plain = small_categorical(max_iter=1, tol=0)
    map_ = small_categorical(max_iter=1, tol=0, emissionprob_prior=3.0, transmat_prior=2.0)
    lp, post = plain.score_samples(X3)
    counts = np.zeros((2, 3))
    for t, x in enumerate(X3):
        counts[:, x] += post[t]
    quiet_fit(map_, X3)
    expected = (counts + 2.0) / (counts + 2.0).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(map_.emissionprob_, expected, atol=1e-12)
    # the MAP objective includes the prior
    res = map_.fit_result_
    assert res.objective != res.loglik


def test_prior_below_one_refused():
    with pytest.raises(ParameterError, match=">= 1"):
        small_categorical(transmat_prior=0.5).fit(X3)


@pytest.mark.parametrize("n", [0, -1, 1.5, True])
def test_bad_n_components(n):
    with pytest.raises(ParameterError, match="n_components"):
        CategoricalHMM(n).fit(X3)


@pytest.mark.parametrize(
    "X,lengths,match",
    [
        (np.array([0, 1, 5]), None, "out of range"),
        (np.array([0, -2]), None, "negative"),
        (np.array([0.0, np.nan]), None, "NaN"),
        (np.array([0.5, 1.0]), None, "integers"),
        (np.array([], dtype=int), None, "empty"),
        (X3, [5, 5], "lengths sum to 10 but X has 11 rows"),
        (X3, [12, -1], ">= 0"),
    ],
)
def test_bad_categorical_input(X, lengths, match):
    model = small_categorical()
    with pytest.raises(InputFormatError, match=match) as info:
        model.score(X, lengths)
    assert isinstance(info.value, ValueError)


def test_bad_gaussian_input():
    model = GaussianHMM(2)
    with pytest.raises(ValueError, match="NaN"):
        model.fit(np.array([[0.0], [np.nan], [1.0]]))
    with pytest.raises(ValueError, match="lengths"):
        model.fit(np.zeros((5, 1)), lengths=[2, 2])


def test_bad_user_parameters():
    model = small_categorical()
    model.transmat_ = np.array([[0.5, 0.6], [0.5, 0.5]])
    with pytest.raises(ParameterError, match="sum to 1"):
        model.score(X3)


def test_not_fitted():
    with pytest.raises(NotFittedError):
        CategoricalHMM(2).score(X3)


def test_sample_shapes_and_reproducible():
    model = small_categorical()
    X, Z = model.sample(500, random_state=3)
    X2, Z2 = model.sample(500, random_state=3)
    assert X.shape == (500, 1) and Z.shape == (500,)
    np.testing.assert_array_equal(X, X2)
    assert set(np.unique(X)) <= {0, 1, 2}
    g = set_params(
        GaussianHMM(2, covariance_type="full", init_params=""),
        startprob_=[0.5, 0.5],
        transmat_=[[0.9, 0.1], [0.1, 0.9]],
        means_=[[0.0, 0.0], [5.0, 5.0]],
        covars_=[np.eye(2), [[2.0, 0.5], [0.5, 1.0]]],
    )
    Xg, Zg = g.sample(20000, random_state=1)
    assert Xg.shape == (20000, 2)
    np.testing.assert_allclose(np.cov(Xg[Zg == 1].T), [[2.0, 0.5], [0.5, 1.0]], atol=0.1)


def test_aic_bic():
    model = small_categorical()
    k = model.n_free_parameters()
    assert k == 1 + 2 + 4
    ll = model.score(X3)
    assert model.aic(X3) == pytest.approx(-2 * ll + 2 * k)
    assert model.bic(X3) == pytest.approx(-2 * ll + k * np.log(len(X3)))


@pytest.mark.parametrize("covariance_type", ["diag", "full"])
def test_save_load_round_trip(tmp_path, covariance_type):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 2))
    model = quiet_fit(
        GaussianHMM(2, covariance_type=covariance_type, random_state=1, max_iter=5), X
    )
    path = tmp_path / "model.json"
    model.save(path)
    again = load_model(path)
    assert type(again) is GaussianHMM
    assert again.covariance_type == covariance_type
    np.testing.assert_array_equal(again.means_, model.means_)
    np.testing.assert_array_equal(again.covars_, model.covars_)
    assert again.score(X) == model.score(X)
    cat = quiet_fit(CategoricalHMM(2, random_state=1, max_iter=3), X3)
    cat.save(tmp_path / "cat.json")
    assert load_model(tmp_path / "cat.json").score(X3) == cat.score(X3)


def test_load_rejects_other_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputFormatError, match="bad.json"):
        load_model(bad)
    other = tmp_path / "other.json"
    other.write_text('{"a": 1}')
    with pytest.raises(InputFormatError, match="not a seqem HMM model"):
        load_model(other)


@pytest.mark.parametrize("version", [99, 0, "1", None, 1.5])
def test_load_refuses_unknown_format_versions(tmp_path, version):
    import json

    model = quiet_fit(CategoricalHMM(2, random_state=1, max_iter=3), X3)
    path = tmp_path / "m.json"
    model.save(path)
    doc = json.loads(path.read_text())
    assert doc["version"] == 1
    if version is None:
        del doc["version"]
    else:
        doc["version"] = version
    path.write_text(json.dumps(doc))
    with pytest.raises(InputFormatError, match=f"model format version {version!r} is not one"):
        load_model(path)


def test_fit_from_user_start_and_continue():
    """init_params='' starts from the set parameters; refitting continues."""
    model = small_categorical(max_iter=2, tol=0)
    quiet_fit(model, X3)
    first = model.fit_result_.history[-1]
    quiet_fit(model, X3)
    assert model.fit_result_.history[0] == pytest.approx(first, rel=1e-12)


def test_callback_sees_every_update():
    seen = []
    model = small_categorical(max_iter=4, tol=0, callback=lambda r, i, o: seen.append((r, i, o)))
    quiet_fit(model, X3)
    assert [i for _, i, _ in seen] == [1, 2, 3, 4]


def test_lazy_top_level_import():
    assert seqem.CategoricalHMM is CategoricalHMM
    with pytest.raises(AttributeError):
        seqem.NoSuchThing  # noqa: B018


def test_squarem_reaches_same_likelihood():
    truth = small_categorical()
    X, _ = truth.sample(3000, random_state=2)
    plain = quiet_fit(CategoricalHMM(2, random_state=5, max_iter=2000, tol=1e-7), X)
    fast = quiet_fit(
        CategoricalHMM(2, random_state=5, max_iter=2000, tol=1e-7, accelerate="squarem"), X
    )
    assert fast.fit_result_.loglik == pytest.approx(plain.fit_result_.loglik, abs=1e-3)
    assert fast.fit_result_.n_iter < plain.fit_result_.n_iter
