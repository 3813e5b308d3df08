"""fit_quality: correlation and relative RMSE of observed and reconstructed expression."""

import numpy as np

from seqem.deconv.quality import fit_quality


def test_against_numpy_and_degenerate_columns():
    rng = np.random.default_rng(3)
    Y = rng.gamma(2.0, 10.0, size=(50, 4))
    F = Y + rng.normal(0, 2.0, size=Y.shape)
    F[:, 3] = 7.0  # a constant reconstruction has no correlation
    r, rmse = fit_quality(Y, F)
    for j in range(3):
        assert np.isclose(r[j], np.corrcoef(Y[:, j], F[:, j])[0, 1], rtol=1e-12)
    assert np.isnan(r[3])
    assert np.allclose(rmse, np.sqrt(((Y - F) ** 2).mean(axis=0)) / Y.mean(axis=0), rtol=1e-12)
    r, rmse = fit_quality(Y, Y)
    assert np.allclose(r, 1.0) and np.all(rmse == 0.0)
