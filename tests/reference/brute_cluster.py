"""Brute-force reference for the haplotype-cluster HMM.

Every cluster path of both haplotypes and every pair of haplotypes
consistent with the calls is enumerated, with no recursion and no scaling:
``K^(2M) 4^M`` terms, so only for ``M <= 4`` and ``K <= 3``.
"""

from __future__ import annotations

import itertools

import numpy as np


def _path_prob(z, alpha, jump):
    p = alpha[0, z[0]]
    for m in range(1, len(z)):
        p *= (1.0 - jump[m]) * (z[m] == z[m - 1]) + jump[m] * alpha[m, z[m]]
    return p


def person_terms(g, theta, alpha, jump):
    """Every (z1, z2, h1, h2) with its joint probability, for one person.

    Yields ``(z1, z2, h1, h2, weight)``: cluster paths, haplotypes (tuples)
    and ``P(z1) P(z2) P(h1 | z1) P(h2 | z2)`` for haplotypes whose sum is
    the genotype at every called SNP.
    """
    M, K = theta.shape
    paths = list(itertools.product(range(K), repeat=M))
    prob = {z: _path_prob(z, alpha, jump) for z in paths}
    haps = list(itertools.product((0, 1), repeat=M))
    for z1 in paths:
        for z2 in paths:
            w = prob[z1] * prob[z2]
            for h1 in haps:
                for h2 in haps:
                    if any(g[m] >= 0 and h1[m] + h2[m] != g[m] for m in range(M)):
                        continue
                    e = 1.0
                    for m in range(M):
                        e *= theta[m, z1[m]] if h1[m] else 1.0 - theta[m, z1[m]]
                        e *= theta[m, z2[m]] if h2[m] else 1.0 - theta[m, z2[m]]
                    yield z1, z2, h1, h2, w * e


def loglik(g, theta, alpha, jump):
    """ln P(calls of one person)."""
    return float(np.log(sum(t[-1] for t in person_terms(g, theta, alpha, jump))))


def expected_counts(g, theta, alpha, jump):
    """Expected counts of one person by enumeration.

    Returns ``occ, ones, jumps`` (n_snps, K): haplotypes in each cluster,
    those carrying ALT, and jumps landing in each cluster (a move from
    ``z[m-1]`` to ``z[m]`` is a jump with probability
    ``jump[m] alpha[m, z[m]] / P(z[m] | z[m-1])``; at SNP 0 every haplotype
    lands).
    """
    M, K = theta.shape
    terms = list(person_terms(g, theta, alpha, jump))
    total = sum(t[-1] for t in terms)
    occ = np.zeros((M, K))
    ones = np.zeros((M, K))
    jumps = np.zeros((M, K))
    for z1, z2, h1, h2, w in terms:
        p = w / total
        for z, h in ((z1, h1), (z2, h2)):
            for m in range(M):
                occ[m, z[m]] += p
                ones[m, z[m]] += p * h[m]
                if m == 0:
                    jumps[0, z[0]] += p
                else:
                    land = jump[m] * alpha[m, z[m]]
                    stay = (1.0 - jump[m]) * (z[m] == z[m - 1])
                    jumps[m, z[m]] += p * land / (land + stay)
    return occ, ones, jumps


def same_phase_probability(g, theta, alpha, jump, a, b):
    """P(the ALT alleles at heterozygous SNPs ``a`` and ``b`` share a haplotype)."""
    total = same = 0.0
    for _, _, h1, _, w in person_terms(g, theta, alpha, jump):
        total += w
        if h1[a] == h1[b]:
            same += w
    return same / total
