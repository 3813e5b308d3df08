"""Compile (or load from the cache) every Numba kernel once.

Run as ``python -m seqem._warm`` before a test suite or a workflow, so that
later processes load compiled kernels from the on-disk cache instead of each
paying the compilation.
"""

from __future__ import annotations

import os
import time
import warnings


def _warm_profile() -> None:
    """Profile-HMM kernels: search scores, calibration, domains (Python and
    compiled drivers), alignment and Baum-Welch counts, with the argument
    types the commands pass."""
    import numpy as np

    from .profile.align import align
    from .profile.calibrate import calibrate
    from .profile.domains import define_domains, define_domains_many, viterbi_trace
    from .profile.model import AMINO, ProfileHMM
    from .profile.pipeline import Filters, prefilter
    from .profile.search import configure, forward_bits
    from .profile.train import train

    rng = np.random.default_rng(0)
    M, K = 6, AMINO.K
    match = np.zeros((M + 1, K))
    match[1:] = rng.dirichlet(np.ones(K), size=M)
    insert = np.tile(np.asarray(AMINO.background), (M + 1, 1))
    t = np.zeros((M + 1, 7))
    t[:, 0:3] = (0.9, 0.05, 0.05)
    t[:, 3:5] = (0.6, 0.4)
    t[:, 5:7] = (0.7, 0.3)
    t[0, 5:7] = (1.0, 0.0)
    t[M] = (0.95, 0.05, 0.0, 1.0 - 0.4, 0.4, 1.0, 0.0)
    hmm = ProfileHMM(AMINO, match, insert, t, name="warm")
    calibrate(hmm)
    codes = rng.integers(0, K, size=60).astype(np.uint8)
    bounds = np.array([0, 20, 60], dtype=np.int64)
    prof = configure(hmm)
    forward_bits(prof, codes, bounds)  # the search's single precision
    forward_bits(prof, codes, bounds, precision="double")
    prefilter(prof, codes, bounds, Filters(1.0, 1.0, 1.0))  # MSV, bias and Viterbi filters
    define_domains(prof, codes[:20], hmm.stats, Z=2)
    define_domains_many(prof, codes, bounds, hmm.stats, Z=2)
    viterbi_trace(prof, codes[:20])
    align(hmm, codes, bounds, ["a", "b"])
    train(codes, bounds, AMINO, M=4, n_init=1, max_iter=2, random_state=0)
    from .profile.priors import default_prior
    from .profile.train import cross_fit

    cross_fit(codes, bounds, hmm, default_prior(AMINO), n_groups=2, max_rounds=1)  # unweighted


def _warm_rest() -> None:
    """Every other kernel: HMMs, Gaussian mixtures, deconvolution, haplotypes, linkage."""
    import numpy as np

    from .hmm.models import CategoricalHMM, GaussianHMM

    rng = np.random.default_rng(0)
    Xc = rng.integers(-1, 4, size=40)
    Xc[Xc < 0] = 0
    m = CategoricalHMM(2, n_features=4, random_state=0, max_iter=2).fit(Xc, [20, 20])
    m.predict(Xc)
    m.score(Xc)
    m.sample(5, random_state=0)
    for cov in ("diag", "full"):
        Xg = rng.normal(size=(40, 2))
        g = GaussianHMM(2, covariance_type=cov, random_state=0, max_iter=2).fit(Xg)
        g.predict(Xg)
        g.score(Xg)
    from .mixture.gmm import GaussianMixture

    for d in (2, 6):  # the small-d loops and the BLAS kernels
        Xm = rng.normal(size=(40, d))
        for cov in ("full", "tied", "diag", "spherical"):
            GaussianMixture(2, covariance_type=cov, max_iter=1, random_state=0).fit(Xm)
        Xm.setflags(write=False)  # as np.load(..., mmap_mode="r") gives them
        for cov in ("full", "diag"):
            GaussianMixture(2, covariance_type=cov, max_iter=1, random_state=0).fit(Xm)
    from .haplo.ld import pairwise_ld

    pairwise_ld(rng.integers(-1, 3, size=(20, 4)).astype(np.int8))
    from .haplo.cluster import fit_clusters, haplotype_frequencies, phase_clusters

    calls = rng.integers(0, 3, size=(12, 6)).astype(np.int8)
    calls[0, 1] = -1  # a missing call: imputed from the clusters
    cfit = fit_clusters(calls, n_clusters=2, n_init=1, max_iter=2, random_state=0)
    phase_clusters(calls, cfit, n_samples=2, refine=1, n_ref=4)
    haplotype_frequencies(calls, cfit, method="sampled", n_samples=2)
    from .haplo import _em_kernels as HK
    from .haplo.em import fit_haplotypes, phase

    calls = rng.integers(-1, 3, size=(20, 4)).astype(np.int8)
    phase(fit_haplotypes(calls, n_init=2, random_state=0))
    likelihoods = rng.dirichlet(np.ones(3), size=(20, 4))
    fit_haplotypes(calls, n_init=1, max_iter=2, likelihoods=likelihoods, random_state=0)
    wide = rng.integers(0, 3, size=(20, 10)).astype(np.int8)  # more SNPs than a leaf: ligation
    fit_haplotypes(wide, n_init=1, max_iter=2, leaf=4, random_state=0, standard_errors=False)
    HK.pair_posteriors_parallel(  # the threaded E-step runs only on large problems
        np.array([0, 1]), np.zeros(1, np.int64), np.zeros(1, np.int64), np.ones(1),
        np.ones(1), np.ones(1), np.empty(1), np.empty(1), np.empty(1),
    )  # fmt: skip
    _warm_deconv()
    _warm_linkage()


def _warm_deconv() -> None:
    """Deconvolution: the multinomial EM (plain and Newton-accelerated), the
    robust EM on both of its paths (sample by sample compiled, and blocks of
    samples for large references) and the refined profiles."""
    import numpy as np

    from .deconv.mixture import multinomial_em
    from .deconv.refine import refine_fit
    from .deconv.robust import COMPILED_WORK, robust_fit

    rng = np.random.default_rng(0)
    for genes in (30, COMPILED_WORK // 6 + 1):  # three types: 6 packed products a gene
        S = rng.gamma(2.0, size=(genes, 3)) + 0.1
        Y = S @ rng.dirichlet(np.ones(3), size=4).T * 100.0
        robust_fit(Y, S, max_iter=3)
        robust_fit(Y, S, var=0.1 * S**2, other=True, mrna=np.ones(3), max_iter=3)
    S = rng.gamma(2.0, size=(30, 3)) + 0.1
    Y = np.round(S @ rng.dirichlet(np.ones(3), size=4).T * 100.0)
    multinomial_em(Y, S, max_iter=5)
    multinomial_em(Y, S, max_iter=5, accelerate=None)
    refine_fit(Y, S, max_iter=3)
    robust_fit(Y, S, max_iter=3, batched=False)  # sample by sample through the EM engine
    from .deconv.mixture import newton_simplex

    q = S / S.sum(axis=0)
    newton_simplex(Y[:, 0], q, np.full(3, 1.0 / 3.0), max_iter=2)


#: The kernel groups, compiled in parallel processes (the profile group is
#: about as long to compile as all the others together).
GROUPS = {"profile": _warm_profile, "rest": _warm_rest}


def _run(group: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        GROUPS[group]()


def warm(processes: int = 2) -> float:
    """Exercise every kernel on tiny inputs; return the seconds it took.

    The groups compile in ``processes`` worker processes at once (compiling
    is single-threaded; each group's kernels are its own files in the
    cache).  Stale kernels are dropped here, before any worker caches.
    """
    from . import _jit  # noqa: F401  (drops the kernels of older sources)

    start = time.perf_counter()
    if processes > 1 and (os.cpu_count() or 1) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures.process import BrokenProcessPool

        try:
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(min(processes, len(GROUPS)), mp_context=ctx) as pool:
                list(pool.map(_run, GROUPS))
            return time.perf_counter() - start
        except (OSError, BrokenProcessPool):  # no worker processes here: one at a time
            pass
    for group in GROUPS:
        _run(group)
    return time.perf_counter() - start


def _warm_linkage() -> None:
    """Lander-Green kernels: markers, both trait kernels, transitions."""
    import numpy as np

    import seqem.linkage.lander_green as LG

    from .linkage.data import Family, TraitModel

    # two founders with six children: 10 bits (per-state trait kernel) and
    # seven children: 12 bits (depth-first trait kernel)
    for kids in (6, 7):
        n = 2 + kids
        fam = Family(
            "w", tuple(str(i) for i in range(n)), np.array([-1, -1] + [0] * kids),
            np.array([-1, -1] + [1] * kids), np.array([1, 2] + [1] * kids),
        )  # fmt: skip
        space = LG.InheritanceSpace.of(fam)
        calls = np.ones((n, 2), dtype=np.int16)
        e = LG.marker_emission(space, calls, np.array([0.5, 0.5]))
        status, classes = np.full(n, 2, dtype=np.int8), np.ones(n, dtype=np.int64)
        model = TraitModel("t", 0.01, np.array([[0.01, 0.9, 0.9]]))
        t = LG.trait_emission(space, status, classes, model)
        # and the general kernel, which pedigrees too wide to peel take
        saved, LG.PEEL_WIDTH = LG.PEEL_WIDTH, -1
        try:
            LG.trait_emission(space, status, classes, model)
        finally:
            LG.PEEL_WIDTH = saved
        LG.chain_loglik(space, [e, t], [0.1])
        from .linkage import _kernels as LK

        LK.dot2(e, t)
        LK.dot3(e, t, e)
    _warm_map()
    import warnings as _w

    from .linkage import cross as C

    with _w.catch_warnings():
        _w.simplefilter("ignore")
        for kind, codes in (("bc", (1, 2)), ("f2", (1, 2, 3))):
            g = np.array([[codes[(i + j) % len(codes)] for j in range(4)] for i in range(6)])
            rf = np.full(3, 0.1)
            C.chain_loglik(g, rf, kind)
            C.em_iterate(g, rf, kind)
        bc = np.arange(24).reshape(6, 4) % 2 + 1  # backcross genotypes (codes 1, 2)
        chrom = C.CrossChromosome("1", False, ("a", "b", "c", "d"), np.arange(4.0) * 10.0, bc)
        cross = C.Cross("bc", ("A", "B"), tuple("uvwxyz"), (), np.empty((6, 0)), (chrom,))
        C.genotype_probabilities(cross, "1")


def _warm_map() -> None:
    """The derivative transition of the pedigree map EM and the NPL scores, on a tiny family."""
    import numpy as np

    from .linkage.data import Family, LinkageData, MarkerLocus
    from .linkage.mapping import estimate_recombination

    fam = Family("w", ("1", "2", "3", "4"), np.array([-1, -1, 0, 0]), np.array([-1, -1, 1, 1]),
                 np.array([1, 2, 1, 2]))  # fmt: skip
    calls = np.array([[[1, 2]] * 2, [[1, 1]] * 2, [[1, 1]] * 2, [[2, 1]] * 2], dtype=np.int16)
    marker = [MarkerLocus(f"M{j}", ("1", "2"), np.array([0.5, 0.5]), "1", 10.0 * j) for j in (0, 1)]
    data = LinkageData([fam], marker, [calls], [np.zeros(4, np.int8)], [np.ones(4, int)])
    estimate_recombination(data, ["M0", "M1"], [0.2], max_iter=2)
    from .linkage.npl import npl

    sick = np.array([0, 0, 2, 2], dtype=np.int8)  # two affected sibs: NPL scores
    npl(LinkageData([fam], marker, [calls], [sick], [np.ones(4, int)]), np.array([5.0]))


if __name__ == "__main__":
    from seqem._warm import warm as _warm  # the workers find the groups by this module's name

    print(f"numba kernels ready in {_warm():.1f} s")
