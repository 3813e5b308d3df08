"""Brute-force HMM references: every state path enumerated.

Exponential in the sequence length: for T <= 8 and N <= 3 only.  They use
no scaling and no recursion, so they share nothing with the kernels under
test but the definition of an HMM.
"""

from __future__ import annotations

import itertools

import numpy as np


def path_probabilities(startprob, transmat, frames):
    """Joint probability of the observations and each state path.

    Parameters
    ----------
    startprob : (N,) array
    transmat : (N, N) array
    frames : (T, N) array
        Likelihood of each observation under each state.

    Returns
    -------
    paths : (N**T, T) int array
    probs : (N**T,) float array
    """
    T, N = frames.shape
    paths = np.array(list(itertools.product(range(N), repeat=T)), dtype=np.int64)
    probs = np.empty(len(paths))
    for k, path in enumerate(paths):
        p = startprob[path[0]] * frames[0, path[0]]
        for t in range(1, T):
            p *= transmat[path[t - 1], path[t]] * frames[t, path[t]]
        probs[k] = p
    return paths, probs


def likelihood(startprob, transmat, frames):
    """P(observations)."""
    return path_probabilities(startprob, transmat, frames)[1].sum()


def posteriors(startprob, transmat, frames):
    """P(state at t = i | observations), shape (T, N)."""
    paths, probs = path_probabilities(startprob, transmat, frames)
    T, N = frames.shape
    out = np.zeros((T, N))
    for path, p in zip(paths, probs, strict=True):
        out[np.arange(T), path] += p
    return out / probs.sum()


def expected_transitions(startprob, transmat, frames):
    """Expected number of i -> j transitions given the observations, (N, N)."""
    paths, probs = path_probabilities(startprob, transmat, frames)
    N = frames.shape[1]
    out = np.zeros((N, N))
    for path, p in zip(paths, probs, strict=True):
        for a, b in zip(path[:-1], path[1:], strict=True):
            out[a, b] += p
    return out / probs.sum()


def best_path(startprob, transmat, frames):
    """The most probable path and its joint probability."""
    paths, probs = path_probabilities(startprob, transmat, frames)
    k = int(np.argmax(probs))
    return paths[k], probs[k]


def gaussian_frames(X, means, covars, covariance_type):
    """Gaussian densities of each row under each state, straight from the formula."""
    T, d = X.shape
    N = means.shape[0]
    out = np.empty((T, N))
    for i in range(N):
        C = np.diag(covars[i]) if covariance_type == "diag" else covars[i]
        inv = np.linalg.inv(C)
        norm = 1.0 / np.sqrt((2 * np.pi) ** d * np.linalg.det(C))
        for t in range(T):
            z = X[t] - means[i]
            out[t, i] = norm * np.exp(-0.5 * z @ inv @ z)
    return out
