"""The robust deconvolution EM of whole samples in compiled code (few genes).

:class:`.robust._Block` drives the EM of a block of samples from Python and
does its passes over the genes as BLAS products, which pays off when the
genes are many (the products dominate).  With a few hundred genes the
products are microseconds and the Python driver's bookkeeping is most of the
time, so here the same EM runs sample by sample inside one compiled call,
``prange`` over the samples: the same starting point, runs, variance-shape
refreshes, Newton M-steps from a kept Gram matrix and stopping rules, with
the per-gene passes of :mod:`._kernels` (each applied to one sample, a
``(1, genes)`` view) and the small products as loops.  Each sample takes the
updates it takes in :func:`.robust._fit_sample`, the reference.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._jit import JIT, PJIT
from ._kernels import nnls_gram_work, t_estep, t_sandwich, t_scale, t_shape

#: Entries of the integer record of a sample (``info`` columns).
N_ITER, RUNS, CONVERGED, HIST_LEN, DEC_LEN, UNCONVERGED, STATUS = range(7)
#: Entries of the float record of a sample (``finfo`` columns).
SIGMA2, LOGLIK, LAST_RUN, LAST_CHANGE = range(4)
#: ``STATUS`` values: the log-likelihood became NaN; the start has zero likelihood.
NAN_LOGLIK, ZERO_START = 1, 2


@njit(**JIT)
def _fitted(st, c, mu):
    """``mu = S c`` from ``st = S^T`` (types x genes)."""
    mu[:] = 0.0
    for p in range(c.size):
        cp = c[p]
        if cp != 0.0:
            for g in range(mu.size):
                mu[g] += cp * st[p, g]


@njit(cache=True, nogil=True, fastmath={"reassoc"})
def _dot(a, b):
    """``sum_i a_i b_i`` in SIMD lanes (reassociation only: the order of the sum
    is the compiler's)."""
    total = 0.0
    for i in range(a.size):
        total += a[i] * b[i]
    return total


@njit(**JIT)
def _gradient(wr, st, grad):
    """``grad = S^T wr`` from ``st = S^T``."""
    for p in range(grad.size):
        grad[p] = _dot(wr, st[p])


@njit(**JIT)
def _packed_gram(w, aa, iu, ju, gram):
    """``gram = S^T diag(w) S`` from the packed products ``aa`` (genes x k(k+1)/2)."""
    width = aa.shape[1]
    packed = np.zeros(width)
    for g in range(w.size):
        wg = w[g]
        for q in range(width):
            packed[q] += wg * aa[g, q]
    for q in range(width):
        gram[iu[q], ju[q]] = packed[q]
        gram[ju[q], iu[q]] = packed[q]


@njit(**JIT)
def _solve(gram, c0, grad, c, b, work, iwork):
    """The M-step's NNLS started from ``c0``: normal equations ``gram``, right side
    ``gram c0 + grad``
    (``b``, ``work`` and ``iwork``: scratch, see :func:`._kernels.nnls_gram_work`)."""
    k = c0.size
    for p in range(k):
        total = grad[p]
        for q in range(k):
            total += gram[p, q] * c0[q]
        b[p] = total
    nnls_gram_work(gram, b, 50 * k, c0, c, work, iwork)


@njit(**JIT)
def _append(buffer, length, value):
    """Store ``value`` at ``length`` if the buffer has room; the new length either way."""
    if length < buffer.size:
        buffer[length] = value
    return length + 1


@njit(**JIT)
def _shape(st, cs, vt, sig, var_floor, mu, floor, extra, rows, iv, logv):
    """Variance shape (``iv``, ``logv``) from the fitted values of coefficients ``cs``
    (``mu``, ``floor``, ``extra``: scratch), as :meth:`.robust._Block._shape`."""
    _fitted(st, cs, mu[0])
    floor[0] = var_floor * max(mu[0].mean(), 1e-300)
    if vt.shape[0]:
        for g in range(mu.shape[1]):
            e = 0.0
            for p in range(cs.size):
                e += cs[p] * cs[p] * vt[p, g]
            extra[0, g] = e / sig[0]
    t_shape(mu, floor, extra, rows, iv, logv)


@njit(**JIT)
def _estep(y, mu, iv, rows, nu, products, const, sig, logv, w, wr, logsum, usum, keep):
    """E-step at the fitted values ``mu``: weights ``w``, weighted residuals ``wr``,
    ``usum``, ``keep = mu``; returns the log-likelihood (as :meth:`.robust._Block._estep`)."""
    logsum[0] = 0.0
    usum[0] = 0.0
    t_estep(y, mu, iv, rows, 0, nu, products, sig, w, w, wr, logsum, usum, keep)
    return y.shape[1] * (const - 0.5 * np.log(sig[0])) - 0.5 * logv[0] - (nu + 1) / 2 * logsum[0]


@njit(**JIT)
def robust_one(y, s, st, aa, iu, ju, vt, nu, products, const, tol, max_iter, settings,
               c_out, packed_out, hist, dec, info_out, finfo_out):  # fmt: skip
    """The whole robust EM of one sample (``y``: float64 (1, genes)).

    Parameters
    ----------
    s, st : float64 (genes, k) and its transpose.
    aa : float64 (genes, k(k+1)/2), the packed products ``S_gk S_gl``; ``iu``,
        ``ju`` their rows and columns.
    vt : float64 (k, genes), the reference variances transposed, or (0, genes).
    nu, products, const : the t's degrees of freedom, :func:`._kernels.t_estep`'s
        ``products``, and the t density's constant.
    tol : float, the stopping tolerance of a run (per sample, not per gene).
    max_iter : int, updates per run.
    settings : float64 (9,): the first run's tolerance (per sample), most runs,
        :data:`.robust.SETTLED`, :data:`.robust.SHAPE_DAMPING`,
        :data:`.robust.MODEL_SHARE`, the stale-Gram jump (per sample),
        :data:`.robust.VAR_FLOOR`, and the engine's relative and absolute
        round-off allowances.
    c_out : float64 (k,), out: the coefficients.
    packed_out : float64 (2, k(k+1)/2), out: the sandwich's bread and meat, packed.
    hist : float64 (cap,), out: the log-likelihood at the start of each run and
        after each update (as many as fit; ``info``'s history length counts them all).
    dec : int64 (cap,), out: the updates after which it fell (as many as fit).
    info_out : int64 (7,), out: updates, runs, converged, history length,
        number of falls, runs ended unconverged, status (0: done).
    finfo_out : float64 (4,), out: sigma^2, final log-likelihood, the
        log-likelihood the last run ended with, the last change of an
        unconverged run.

    The outputs are written once, at the end (the rows of neighbouring
    samples share cache lines; the work is in arrays of this sample's own).
    """
    info = np.zeros(7, np.int64)
    finfo = np.zeros(4)
    info[STATUS] = _robust_em(y, s, st, aa, iu, ju, vt, nu, products, const, tol,
                              max_iter, settings, c_out.size, hist, dec, info, finfo,
                              c_out, packed_out)  # fmt: skip
    info_out[:] = info
    finfo_out[:] = finfo


@njit(**JIT)
def _robust_em(y, s, st, aa, iu, ju, vt, nu, products, const, tol, max_iter, settings, k,
               hist, dec, info, finfo, c_out, packed_out):  # fmt: skip
    """:func:`robust_one`'s work; returns its status."""
    first_tol, outer, settled, damping = settings[0], settings[1], settings[2], settings[3]
    model_share, stale, var_floor = settings[4], settings[5], settings[6]
    roundoff_rel, roundoff_abs = settings[7], settings[8]
    genes = s.shape[0]
    rows = np.zeros(1, np.int64)
    mu = np.empty((1, genes))
    keep = np.empty((1, genes))
    w = np.empty((1, genes))
    wr = np.empty((1, genes))
    iv = np.empty((1, genes))
    extra = np.empty((1, genes if vt.shape[0] else 0))
    gram = np.empty((k, k))
    grad = np.empty(k)
    c0 = np.empty(k)
    g0 = np.empty(k)
    shape_c = np.zeros(k)
    last_step = np.zeros(k)
    c_run = np.empty(k)
    sig = np.empty(1)
    logv = np.empty(1)
    logsum = np.empty(1)
    usum = np.empty(1)
    acc = np.empty(1)
    curv = np.empty(1)
    floor = np.empty(1)
    b = np.zeros(k)
    work = np.empty((k + 3, k))
    iwork = np.empty((2, k), np.int64)
    c = np.empty(k)
    packed = np.zeros((2, aa.shape[1]))

    # Poisson-weighted start: weights 1 / max(y, floor), then sigma^2 from the fit
    lowest = var_floor * max(y[0].mean(), 1e-300)
    for g in range(genes):
        keep[0, g] = 1.0 / max(y[0, g], lowest)
    _packed_gram(keep[0], aa, iu, ju, gram)
    for g in range(genes):
        wy = keep[0, g] * y[0, g]
        for p in range(k):
            b[p] += wy * s[g, p]
    c[:] = 0.0
    nnls_gram_work(gram, b, 50 * k, c, c, work, iwork)
    _fitted(st, c, mu[0])
    total = 0.0
    for g in range(genes):
        r = y[0, g] - mu[0, g]
        total += r * r / max(mu[0, g], lowest)
    sig[0] = max(total / genes, 1e-300)

    ll = 0.0
    last_run = 0.0
    share = 1.0
    runs = 0
    n_iter = 0
    updates = 0
    n_hist = 0
    n_dec = 0
    run_tol = tol
    converged = False
    fresh = False
    while True:
        # a new run: variance shape from shape_c, E-step at c, Gram matrix if needed
        first = runs == 0
        dot_sl = 0.0
        dot_ss = 0.0
        dot_ll = 0.0
        for p in range(k):
            step = c[p] - shape_c[p]
            dot_sl += step * last_step[p]
            dot_ss += step * step
            dot_ll += last_step[p] * last_step[p]
        if dot_sl < 0.0 and dot_ss > 0.25 * dot_ll:
            share = damping
        for p in range(k):
            step = c[p] - shape_c[p]
            if first:
                shape_c[p] = c[p]
                last_step[p] = 0.0
            else:
                shape_c[p] += share * step
                last_step[p] = step
        _shape(st, shape_c, vt, sig, var_floor, mu, floor, extra, rows, iv, logv)
        _fitted(st, c, mu[0])
        ll = _estep(y, mu, iv, rows, nu, products, const, sig, logv, w, wr, logsum, usum, keep)
        if np.isnan(ll):
            return NAN_LOGLIK
        _gradient(wr[0], st, grad)
        fresh = False
        if first or abs(ll - last_run) > stale:
            _packed_gram(w[0], aa, iu, ju, gram)
            fresh = True
        if not np.isfinite(ll):
            return ZERO_START
        run_tol = max(tol, first_tol) if first else tol
        c_run[:] = c
        updates = 0
        n_hist = _append(hist, n_hist, ll)
        if max_iter == 0:
            runs = 1
            last_run = ll
            break
        ended = False
        while not ended:
            old = ll
            # M-step: Newton step on the kept Gram matrix, checked unless it is fresh
            c0[:] = c
            g0[:] = grad
            _solve(gram, c0, g0, c, b, work, iwork)
            _fitted(st, c, mu[0])
            acc[0] = 0.0
            curv[0] = 0.0
            t_scale(y, mu, w, keep, rows, 0, acc, curv)
            if not fresh:
                gain = 0.0
                quad = 0.0
                for p in range(k):
                    d = c[p] - c0[p]
                    gain += g0[p] * d
                    for q in range(k):
                        quad += d * gram[p, q] * (c[q] - c0[q])
                if gain - 0.5 * curv[0] < model_share * (gain - 0.5 * quad):
                    _packed_gram(w[0], aa, iu, ju, gram)
                    _solve(gram, c0, g0, c, b, work, iwork)
                    _fitted(st, c, mu[0])
                    acc[0] = 0.0
                    curv[0] = 0.0
                    t_scale(y, mu, w, keep, rows, 0, acc, curv)
            sig[0] = max(acc[0] / usum[0], 1e-300)
            # E-step at the new point
            ll = _estep(y, mu, iv, rows, nu, products, const, sig, logv, w, wr, logsum, usum,
                        keep)  # fmt: skip
            if np.isnan(ll):
                return NAN_LOGLIK
            _gradient(wr[0], st, grad)
            fresh = False
            updates += 1
            n_iter += 1
            # a fall beyond round-off is never convergence (as in the EM engine)
            fell = ll - old < -(roundoff_rel * max(abs(old), abs(ll)) + roundoff_abs)
            converged = not fell and ll - old < run_tol
            n_hist = _append(hist, n_hist, ll)
            if fell:
                n_dec = _append(dec, n_dec, n_iter)
            ended = converged or updates >= max_iter
        runs += 1
        last_run = ll
        if not converged:
            info[UNCONVERGED] += 1
            finfo[LAST_CHANGE] = hist[n_hist - 1] - hist[n_hist - 2]
        top = 1e-300
        change = 0.0
        for p in range(k):
            top = max(top, abs(c[p]))
            change = max(change, abs(c[p] - c_run[p]))
        if (change / top < settled and run_tol <= tol) or runs >= outer:
            break

    # the final shape and E-step at the end point, then the sandwich's parts
    _shape(st, c, vt, sig, var_floor, mu, floor, extra, rows, iv, logv)
    ll = _estep(y, mu, iv, rows, nu, products, const, sig, logv, w, wr, logsum, usum, keep)
    if np.isnan(ll):
        return NAN_LOGLIK
    t_sandwich(y, mu, iv, rows, 0, nu, sig, w, wr)
    for g in range(genes):
        bg = w[0, g]
        mg = wr[0, g]
        for q in range(aa.shape[1]):
            packed[0, q] += bg * aa[g, q]
            packed[1, q] += mg * aa[g, q]
    info[N_ITER] = n_iter
    info[RUNS] = runs
    info[CONVERGED] = converged
    info[HIST_LEN] = n_hist
    info[DEC_LEN] = n_dec
    finfo[SIGMA2] = sig[0]
    finfo[LOGLIK] = ll
    finfo[LAST_RUN] = last_run
    c_out[:] = c
    packed_out[:] = packed
    return 0


@njit(**PJIT)
def robust_many(y, s, st, aa, iu, ju, vt, nu, products, const, tol, max_iter, settings,
                c, packed, hist, dec, info, finfo):  # fmt: skip
    """:func:`robust_one` for every sample (rows of ``y``), on Numba's threads."""
    for j in prange(y.shape[0]):
        robust_one(y[j : j + 1], s, st, aa, iu, ju, vt, nu, products, const, tol, max_iter,
                   settings, c[j], packed[j], hist[j], dec[j], info[j], finfo[j])  # fmt: skip
