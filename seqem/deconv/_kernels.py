"""Numba kernels of the deconvolution fits: small per-sample problems, many samples.

The passes over the expression matrix are BLAS products (:mod:`._blocks`);
what is left per sample is a problem in the number of cell types ``k``
(20 or so): a quadratic program on the simplex for each Newton step of the
multinomial mixture, a non-negative least-squares fit on the normal
equations for each EM update of the robust regression.  These kernels solve
one such problem per sample, ``prange`` over samples (each writes its own
row).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._jit import JIT, PJIT


@njit(**JIT)
def _cholesky(a, use, m, lower):
    """Lower Cholesky factor of ``a[use[:m]][:, use[:m]]`` into ``lower[:m, :m]``.

    Returns False when a pivot is not positive (the matrix is not positive
    definite to working precision).
    """
    for i in range(m):
        for j in range(i + 1):
            s = a[use[i], use[j]]
            for p in range(j):
                s -= lower[i, p] * lower[j, p]
            if i == j:
                if not s > 0.0:
                    return False
                lower[i, i] = np.sqrt(s)
            else:
                lower[i, j] = s / lower[j, j]
    return True


@njit(**JIT)
def _cho_solve(lower, b, m, out):
    """Solve ``L L^T x = b`` (first ``m`` entries) into ``out``."""
    for i in range(m):
        s = b[i]
        for p in range(i):
            s -= lower[i, p] * out[p]
        out[i] = s / lower[i, i]
    for i in range(m - 1, -1, -1):
        s = out[i]
        for p in range(i + 1, m):
            s -= lower[p, i] * out[p]
        out[i] = s / lower[i, i]


@njit(**JIT)
def simplex_step(h, g, base, out):
    """Minimise ``d'hd/2 - g'd`` over the steps ``d`` that keep ``base + d`` on the simplex.

    Parameters
    ----------
    h : float64 (k, k), positive definite.
    g : float64 (k,).
    base : float64 (k,), a point of the simplex.
    out : float64 (k,), out: the minimising step.

    A primal active-set method on ``z = base + d`` (``d = 0`` to start, the
    coordinates with ``base > 0`` free).  Each round solves the problem on
    the free coordinates with the sum constraint, the others held at zero
    (the multiplier eliminated through a Cholesky factor; least squares
    where the factor fails); a solution with a negative coordinate is
    approached only up to the boundary, where that coordinate leaves; a
    feasible solution is optimal unless a held coordinate has a negative
    multiplier, which is then freed.  The systems are solved for the step,
    not the point, so a small step keeps its relative precision.
    """
    k = g.size
    d = np.zeros(k)
    z = base.copy()
    free = z > 0
    scale = max(1.0, np.abs(g).max())
    use = np.empty(k, np.int64)
    lower = np.zeros((k, k))
    rhs = np.empty(k)
    ones = np.ones(k)
    hc = np.empty(k)
    h1 = np.empty(k)
    for _ in range(20 * k + 20):
        m = 0
        held = 0.0
        for j in range(k):
            if free[j]:
                use[m] = j
                m += 1
            else:
                d[j] = -base[j]
                held += d[j]
        for i in range(m):  # g on the free coordinates, less the pull of the held ones
            r = g[use[i]]
            for j in range(k):
                if not free[j]:
                    r -= h[use[i], j] * d[j]
            rhs[i] = r
        if _cholesky(h, use, m, lower):
            _cho_solve(lower, rhs, m, hc)
            _cho_solve(lower, ones, m, h1)
        else:
            sub = np.empty((m, m))
            for i in range(m):
                for j in range(m):
                    sub[i, j] = h[use[i], use[j]]
            hc[:m] = np.linalg.lstsq(sub, rhs[:m].copy())[0]
            h1[:m] = np.linalg.lstsq(sub, ones[:m].copy())[0]
        lam = (hc[:m].sum() + held) / h1[:m].sum()  # the free steps sum to -held
        step = hc[:m] - lam * h1[:m]
        feasible = True
        for i in range(m):
            if base[use[i]] + step[i] < 0:
                feasible = False
        if feasible:
            for i in range(m):
                d[use[i]] = step[i]
                z[use[i]] = base[use[i]] + step[i]
            best = 0.0
            arg = -1
            for j in range(k):  # multipliers of the constraints z_j >= 0
                if free[j]:
                    continue
                mult = lam - g[j]
                for p in range(k):
                    mult += h[j, p] * d[p]
                if arg < 0 or mult < best:
                    best, arg = mult, j
            if arg < 0 or best >= -1e-12 * scale:
                out[:] = d
                return
            free[arg] = True
            continue
        alpha = np.inf
        for i in range(m):
            w = base[use[i]] + step[i]
            if w < 0:
                zi = z[use[i]]
                alpha = min(alpha, zi / (zi - w))
        zmax = 1.0
        for i in range(m):
            zi = z[use[i]]
            z[use[i]] = max(zi + alpha * (base[use[i]] + step[i] - zi), 0.0)
            zmax = max(zmax, z[use[i]])
        for i in range(m):
            if base[use[i]] + step[i] < 0 and z[use[i]] <= 1e-15 * zmax:
                z[use[i]] = 0.0
        for j in range(k):
            if not free[j]:
                z[j] = 0.0
        z /= z.sum()
        free = z > 0
        for j in range(k):
            d[j] = z[j] - base[j]
    out[:] = d


@njit(**JIT)
def simplex_qp(h, c, z0, out):
    """Minimise ``z'hz / 2 - c'z`` over the probability simplex from a feasible ``z0``.

    ``h`` float64 (k, k) positive definite, ``c`` and ``z0`` float64 (k,);
    the minimiser goes to ``out``.  :func:`simplex_step` with
    ``g = c - h z0``.
    """
    simplex_step(h, c - h @ z0, z0, out)
    out += z0


@njit(**JIT)
def _newton_target(hess, grad, pi, ridge, out):
    h = hess.copy()
    for j in range(h.shape[0]):
        h[j, j] += ridge
    simplex_step(h, grad, pi, out)


@njit(**PJIT)
def newton_steps(hess, grad, pi, ridge, out):
    """Steps to the maximisers of many samples' second-order models over the simplex.

    Parameters
    ----------
    hess : float64 (n, k, k), minus the Hessians of the log-likelihoods
        (positive semi-definite).
    grad : float64 (n, k), gradients at ``pi``.
    pi : float64 (n, k), current points (on the simplex).
    ridge : float64 (n,), added to each diagonal.
    out : float64 (n, k), out: the Newton steps, ``argmin d'hd/2 - grad'd``
        over the steps that keep ``pi + d`` on the simplex.
    """
    for i in prange(grad.shape[0]):
        _newton_target(hess[i], grad[i], pi[i], ridge[i], out[i])


@njit(**JIT)
def newton_steps_serial(hess, grad, pi, ridge, out):
    """:func:`newton_steps` on one thread (few samples: no parallel start-up)."""
    for i in range(grad.shape[0]):
        _newton_target(hess[i], grad[i], pi[i], ridge[i], out[i])


@njit(**JIT)
def nnls_gram(a, b, max_iter, out):
    """Non-negative least squares from the normal equations (Lawson and Hanson).

    Minimises ``|X c - y|^2`` over ``c >= 0`` given ``a = X'X`` and ``b = X'y``.

    Parameters
    ----------
    a : float64 (k, k), positive semi-definite.
    b : float64 (k,).
    max_iter : int, most passive-set solves.
    out : float64 (k,), out: the coefficients.

    The passive set grows by the coordinate with the largest gradient
    ``b - a c`` until no gradient is positive (relative to ``max |b|``); each
    solve on the passive set that turns a coefficient non-positive is
    interpolated back to the boundary, which drops it.
    """
    nnls_gram_from(a, b, max_iter, np.zeros(b.size), out)


@njit(**JIT)
def nnls_gram_from(a, b, max_iter, start, out):
    """:func:`nnls_gram` started from the feasible point ``start`` (float64 (k,),
    non-negative): the passive set begins as its positive coordinates.

    An EM M-step starts from the current coefficients, which usually have
    the optimum's passive set already: one solve instead of one per
    coordinate in use.  The optimum is the same (unique when ``a`` is
    positive definite).
    """
    k = b.size
    nnls_gram_work(a, b, max_iter, start, out, np.empty((k + 3, k)), np.empty((2, k), np.int64))


@njit(**JIT)
def nnls_gram_work(a, b, max_iter, start, out, work, iwork):
    """:func:`nnls_gram_from` with its scratch space given, float64 ``work``
    (k + 3, k) and int64 ``iwork`` (2, k), for callers that solve many small
    problems (``start`` may be ``out``)."""
    k = b.size
    lower = work[:k]
    c = work[k]
    rhs = work[k + 1]
    s = work[k + 2]
    passive = iwork[0]
    use = iwork[1]
    warm = False
    for j in range(k):
        c[j] = max(start[j], 0.0)
        passive[j] = 1 if c[j] > 0.0 else 0
        warm = warm or c[j] > 0.0
    lower[:, :] = 0.0
    tol = 1e-12 * max(np.abs(b).max(), 1e-300)
    it = 0
    while it < max_iter:
        if warm:  # solve on the starting passive set first
            warm = False
        else:
            best = tol
            arg = -1
            for j in range(k):  # the most promising coordinate outside the passive set
                if passive[j] != 0:
                    continue
                w = b[j]
                for p in range(k):
                    w -= a[j, p] * c[p]
                if w > best:
                    best, arg = w, j
            if arg < 0:
                break
            passive[arg] = 1
        while it < max_iter:
            it += 1
            m = 0
            for j in range(k):
                if passive[j] != 0:
                    use[m] = j
                    rhs[m] = b[j]
                    m += 1
            if m == 0:
                break
            if not _cholesky(a, use, m, lower):
                sub = np.empty((m, m))
                for i in range(m):
                    for j in range(m):
                        sub[i, j] = a[use[i], use[j]]
                s[:m] = np.linalg.lstsq(sub, rhs[:m].copy())[0]
            else:
                _cho_solve(lower, rhs, m, s)
            positive = True
            for i in range(m):
                if s[i] <= 0:
                    positive = False
            if positive:
                for i in range(m):
                    c[use[i]] = s[i]
                break
            alpha = np.inf
            for i in range(m):
                if s[i] <= 0:
                    ci = c[use[i]]
                    alpha = min(alpha, ci / (ci - s[i]))
            for i in range(m):
                j = use[i]
                c[j] += alpha * (s[i] - c[j])
                if c[j] <= 0 or (s[i] <= 0 and c[j] <= 1e-15 * abs(s[i])):
                    c[j] = 0.0
                    passive[j] = 0
    out[:] = c


@njit(**JIT)
def nnls_many_from(a, b, max_iter, start, out):
    """:func:`nnls_gram_from` for many samples: ``a`` float64 (n, k, k); ``b``,
    ``start`` and ``out`` (n, k)."""
    for i in range(b.shape[0]):
        nnls_gram_from(a[i], b[i], max_iter, start[i], out[i])


@njit(**JIT)
def sandwich_many(bread, meat, coefs, cov):
    """Sandwich covariances ``A^+ B A^+`` of each sample's coefficients in use.

    ``bread`` (A) and ``meat`` (B) float64 (n, k, k); ``coefs`` (n, k): the
    coefficients, in use where positive; ``cov`` (n, k, k), out: zero rows and
    columns for the coefficients not in use.
    """
    n, k = coefs.shape
    for j in range(n):
        cov[j] = 0.0
        use = np.flatnonzero(coefs[j] > 0)
        m = use.size
        if m == 0:
            continue
        a = np.empty((m, m))
        b = np.empty((m, m))
        for i in range(m):
            for l in range(m):
                a[i, l] = bread[j, use[i], use[l]]
                b[i, l] = meat[j, use[i], use[l]]
        ainv = np.linalg.pinv(a)
        c = ainv @ b @ ainv
        for i in range(m):
            for l in range(m):
                cov[j, use[i], use[l]] = c[i, l]


@njit(**JIT)
def t_scale(y, mu, w, before, rows, g0, acc, curv):
    """Add ``sum_g w_g r_g^2`` over a chunk of genes to ``acc`` (the M-step's ``sigma^2``)
    and the step's curvature ``sum_g w_g (mu_g - before_g)^2`` to ``curv``.

    Parameters
    ----------
    y, w : float64 (nb, genes), the block's samples and EM weights (one sample a row).
    mu : float64 (m, chunk), fitted values of the samples ``rows`` on genes ``g0 + [0, chunk)``.
    before : float64 (nb, genes), the fitted values at the last E-step.
    rows : int64 (m,), rows of the block.
    g0 : int, first gene of the chunk.
    acc, curv : float64 (m,), in/out.
    """
    for i in range(rows.size):
        j = rows[i]
        total = 0.0
        bend = 0.0
        for g in range(mu.shape[1]):
            r = y[j, g0 + g] - mu[i, g]
            total += w[j, g0 + g] * (r * r)
            step = mu[i, g] - before[j, g0 + g]
            bend += w[j, g0 + g] * (step * step)
        acc[i] += total
        curv[i] += bend


@njit(**JIT)
def t_estep(y, mu, iv, rows, g0, nu, products, sigma2, w, wc, wr, logsum, usum, keep):
    """E-step of the robust regression (Student-t errors) on a chunk of genes.

    Parameters
    ----------
    y : float64 (nb, genes), the block's samples (one a row).
    mu : float64 (m, chunk), fitted values of the samples ``rows`` on genes ``g0 + [0, chunk)``.
    iv : float64 (nb, genes), reciprocal variance shapes ``1 / v``.
    rows : int64 (m,), rows of the block.
    g0 : int, first gene of the chunk.
    nu : float, degrees of freedom.
    products : bool, sum the logarithms as the logarithms of running products
        (kept below 1e150: no overflow), one logarithm for many genes; each
        gene then adds up to two units of round-off (``2^-52``) to the sum,
        which the log-likelihood multiplies by ``(nu + 1) / 2``: for small
        ``nu`` only.  Otherwise one logarithm per gene, each to a few units
        of round-off of itself.
    sigma2 : float64 (nb,), scales.
    w : float64 (nb, genes), out: the EM weights ``u_g / v_g``.
    wc, wr : float64 (m, chunk), out: the weights and the weights times the
        residuals ``y - mu`` of the chunk (for the Gram and gradient products).
    logsum : float64 (m,), in/out: ``sum_g ln(1 + r_g^2 / (nu sigma^2 v_g))`` is added.
    usum : float64 (m,), in/out: ``sum_g u_g`` is added (``sigma^2``'s M-step divides by it).
    keep : float64 (nb, genes), out: the fitted values are copied here.
    """
    for i in range(rows.size):
        j = rows[i]
        is2 = 1.0 / sigma2[j]
        inu = is2 / nu
        total = 0.0
        prod = 1.0
        weights = 0.0
        for g in range(mu.shape[1]):
            yg = y[j, g0 + g]
            r = yg - mu[i, g]
            q = r * r * iv[j, g0 + g]
            ug = (nu + 1.0) / (nu + q * is2)
            weights += ug
            wg = ug * iv[j, g0 + g]
            w[j, g0 + g] = wg
            wc[i, g] = wg
            wr[i, g] = wg * r
            keep[j, g0 + g] = mu[i, g]
            x = q * inu
            f = 1.0 + x
            if not products:
                total += np.log1p(x)
            elif f > 1e150:
                total += np.log(f)
            else:
                prod *= f
                if prod > 1e150:
                    total += np.log(prod)
                    prod = 1.0
        logsum[i] += total + np.log(prod)
        usum[i] += weights


@njit(**JIT)
def t_sandwich(y, mu, iv, rows, g0, nu, sigma2, bread, meat):
    """Per-gene weights of the sandwich covariance at the fit, on a chunk of genes.

    ``y``, ``iv``, ``rows``, ``g0``, ``mu``, ``sigma2`` as in :func:`t_estep`;
    out, float64 (m, chunk): ``bread``, the slope of the t estimating function
    ``u(r) r`` over ``sigma^2 v``, and ``meat``, the squared score
    ``(u r / (sigma^2 v))^2``.
    """
    for i in range(rows.size):
        j = rows[i]
        for g in range(mu.shape[1]):
            r = y[j, g0 + g] - mu[i, g]
            ivar = iv[j, g0 + g] / sigma2[j]
            z = r * r * ivar
            u = (nu + 1.0) / (nu + z)
            bread[i, g] = max((nu + 1.0) * (nu - z) / (nu + z) ** 2, 0.0) * ivar
            score = u * ivar * r
            meat[i, g] = score * score


@njit(**JIT)
def t_shape(mu, floor, extra, rows, iv, logv):
    """Variance shapes ``v = max(mu, floor) + extra`` of some samples of a block.

    Parameters
    ----------
    mu : float64 (m, genes), fitted values of the samples ``rows``.
    floor : float64 (m,), each sample's floor.
    extra : float64 (m, genes) added to the shapes, or (m, 0) for none.
    rows : int64 (m,), rows of the block.
    iv : float64 (nb, genes), out: ``1 / v``.
    logv : float64 (nb,), out: ``sum_g ln v_g``, as logarithms of running
        products kept within 1e-150 and 1e150 (a unit of round-off per gene).
    """
    add = extra.shape[1] > 0
    for i in range(rows.size):
        j = rows[i]
        total = 0.0
        prod = 1.0
        for g in range(mu.shape[1]):
            v = max(mu[i, g], floor[i])
            if add:
                v += extra[i, g]
            iv[j, g] = 1.0 / v
            if v > 1e150 or v < 1e-150:
                total += np.log(v)
            else:
                prod *= v
                if prod > 1e150 or prod < 1e-150:
                    total += np.log(prod)
                    prod = 1.0
        logv[j] = total + np.log(prod)
