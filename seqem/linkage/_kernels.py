"""Numba kernels over inheritance vectors (Lander-Green).

A state ``u`` (an integer of ``bits`` bits) gives every non-founder's two
meioses: bit ``pat_bit[p]`` says which of the father's two genes person
``p`` received (0 his paternal, 1 his maternal gene), ``mat_bit[p]`` the
same for the mother; ``-1`` marks a meiosis fixed at 0 by founder symmetry.
Following the meioses from the founders down gives each person's two genes
as founder-gene numbers (founder ``f`` carries genes ``founder_gene[f]`` and
``founder_gene[f] + 1``).

Marker likelihoods sum over the founder-allele assignments consistent with
the typed persons (the founder-allele graph: a typed person is an edge
between its two founder genes, and each connected component has at most two
consistent assignments).  Trait likelihoods sum over the two disease-locus
alleles of every founder gene reached by a phenotyped person: a depth-first
walk over the meioses that sums out each founder gene as soon as no person
still to come can inherit it (peeling), or per state a component at a time
in Gray-code order.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._jit import JIT, PJIT

__all__ = ["marker_emissions", "trait_emissions", "transition"]

#: States per work chunk (scratch arrays are allocated once per chunk).
CHUNK = 4096


@njit(**JIT)
def _gene_flow(u, order, father, mother, pat_bit, mat_bit, founder_gene, genes):  # pragma: no cover
    for idx in range(order.size):
        p = order[idx]
        if father[p] < 0:
            genes[p, 0] = founder_gene[p]
            genes[p, 1] = founder_gene[p] + 1
        else:
            b = pat_bit[p]
            s = 0 if b < 0 else (u >> b) & 1
            genes[p, 0] = genes[father[p], s]
            b = mat_bit[p]
            s = 0 if b < 0 else (u >> b) & 1
            genes[p, 1] = genes[mother[p], s]


@njit(**JIT)
def _marker_likelihood(
    genes, typed, ga, gb, freqs, head, nxt, to, edge_of, comp, allele, order_nodes, parent_edge
):  # pragma: no cover - jitted
    """Sum over founder-allele assignments consistent with the typed persons."""
    n_genes = head.size
    t = typed.size
    for g in range(n_genes):
        head[g] = -1
        comp[g] = -1
    for e in range(t):
        p = typed[e]
        g1 = genes[p, 0]
        g2 = genes[p, 1]
        # two half-edges (one for a self-loop)
        to[2 * e] = g2
        edge_of[2 * e] = e
        nxt[2 * e] = head[g1]
        head[g1] = 2 * e
        if g1 != g2:
            to[2 * e + 1] = g1
            edge_of[2 * e + 1] = e
            nxt[2 * e + 1] = head[g2]
            head[g2] = 2 * e + 1
    total = 1.0
    n_comp = 0
    for e0 in range(t):
        root = genes[typed[e0], 0]
        if comp[root] >= 0:
            continue
        # breadth-first order of the component, with the edge each node was reached by
        c = n_comp
        n_comp += 1
        comp[root] = c
        order_nodes[0] = root
        parent_edge[0] = -1
        n_nodes = 1
        k = 0
        while k < n_nodes:
            g = order_nodes[k]
            h = head[g]
            while h >= 0:
                w = to[h]
                if comp[w] < 0:
                    comp[w] = c
                    order_nodes[n_nodes] = w
                    parent_edge[n_nodes] = h
                    n_nodes += 1
                h = nxt[h]
            k += 1
        a0 = ga[e0]
        b0 = gb[e0]
        s = 0.0
        for cand in range(2):
            start = a0 if cand == 0 else b0
            if cand == 1 and b0 == a0:
                break
            ok = True
            allele[root] = start
            for k in range(1, n_nodes):
                h = parent_edge[k]
                e = edge_of[h]
                # the node this half-edge leaves from
                src = genes[typed[e], h & 1]
                x = allele[src]
                if x == ga[e]:
                    allele[order_nodes[k]] = gb[e]
                elif x == gb[e]:
                    allele[order_nodes[k]] = ga[e]
                else:
                    ok = False
                    break
            if ok:
                for e in range(t):
                    p = typed[e]
                    if comp[genes[p, 0]] != c:
                        continue
                    x = allele[genes[p, 0]]
                    y = allele[genes[p, 1]]
                    if not ((x == ga[e] and y == gb[e]) or (x == gb[e] and y == ga[e])):
                        ok = False
                        break
            if ok:
                prob = 1.0
                for k in range(n_nodes):
                    prob *= freqs[allele[order_nodes[k]] - 1]
                s += prob
        total *= s
        if total == 0.0:
            return 0.0
    return total


@njit(**PJIT)
def marker_emissions(
    n_states, order, father, mother, pat_bit, mat_bit, founder_gene, n_genes, typed, ga, gb, freqs
):  # pragma: no cover - jitted
    """P(marker genotypes of the typed persons | state) for every state."""
    out = np.empty(n_states)
    n = order.size
    t = typed.size
    n_chunks = (n_states + CHUNK - 1) // CHUNK
    for ch in prange(n_chunks):
        genes = np.empty((n, 2), dtype=np.int64)
        head = np.empty(n_genes, dtype=np.int64)
        comp = np.empty(n_genes, dtype=np.int64)
        allele = np.zeros(n_genes, dtype=np.int64)
        order_nodes = np.empty(n_genes, dtype=np.int64)
        parent_edge = np.empty(n_genes, dtype=np.int64)
        nxt = np.empty(2 * t, dtype=np.int64)
        to = np.empty(2 * t, dtype=np.int64)
        edge_of = np.empty(2 * t, dtype=np.int64)
        for u in range(ch * CHUNK, min(n_states, (ch + 1) * CHUNK)):
            _gene_flow(u, order, father, mother, pat_bit, mat_bit, founder_gene, genes)
            out[u] = _marker_likelihood(
                genes, typed, ga, gb, freqs, head, nxt, to, edge_of, comp, allele,
                order_nodes, parent_edge,
            )  # fmt: skip
    return out


@njit(**JIT)
def _trait_likelihood(
    genes, pheno, factors, q, root, done, comp_nodes, node_start, edge_list, local, x
):  # pragma: no cover - jitted
    """Sum over disease alleles of the founder genes reached by phenotyped persons."""
    n_genes = root.size
    m = pheno.size
    # union-find over genes through phenotyped persons
    for g in range(n_genes):
        root[g] = g
        done[g] = False
    for e in range(m):
        p = pheno[e]
        a = genes[p, 0]
        while root[a] != a:
            a = root[a]
        b = genes[p, 1]
        while root[b] != b:
            b = root[b]
        if a != b:
            root[a] = b
    for g in range(n_genes):
        r = g
        while root[r] != r:
            r = root[r]
        root[g] = r
    ratio = q / (1.0 - q)
    total = 1.0
    for e0 in range(m):
        r = root[genes[pheno[e0], 0]]
        if done[r]:
            continue
        done[r] = True
        n_nodes = 0
        for g in range(n_genes):
            if root[g] == r:
                comp_nodes[n_nodes] = g
                local[g] = n_nodes
                n_nodes += 1
        # incident edges per node (a person is listed once per distinct gene)
        n_edges = 0
        for k in range(n_nodes):
            node_start[k] = n_edges
            g = comp_nodes[k]
            for e in range(m):
                p = pheno[e]
                if genes[p, 0] == g or genes[p, 1] == g:
                    edge_list[n_edges] = e
                    n_edges += 1
        node_start[n_nodes] = n_edges
        # every gene normal first, then Gray-code order: one gene changes per step
        prob_nodes = (1.0 - q) ** n_nodes
        nz = 1.0
        zeros = 0
        for e in range(m):
            p = pheno[e]
            if root[genes[p, 0]] != r:
                continue
            f = factors[e, 0]
            if f == 0.0:
                zeros += 1
            else:
                nz *= f
        for k in range(n_nodes):
            x[k] = 0
        s = prob_nodes * nz if zeros == 0 else 0.0
        for step in range(1, 1 << n_nodes):
            k = 0
            while not (step >> k) & 1:
                k += 1
            for h in range(node_start[k], node_start[k + 1]):
                p = pheno[edge_list[h]]
                f = factors[edge_list[h], x[local[genes[p, 0]]] + x[local[genes[p, 1]]]]
                if f == 0.0:
                    zeros -= 1
                else:
                    nz /= f
            if x[k] == 0:
                x[k] = 1
                prob_nodes *= ratio
            else:
                x[k] = 0
                prob_nodes /= ratio
            for h in range(node_start[k], node_start[k + 1]):
                p = pheno[edge_list[h]]
                f = factors[edge_list[h], x[local[genes[p, 0]]] + x[local[genes[p, 1]]]]
                if f == 0.0:
                    zeros += 1
                else:
                    nz *= f
            if zeros == 0:
                s += prob_nodes * nz
        total *= s
        if total == 0.0:
            return 0.0
    return total


@njit(**PJIT)
def trait_emissions(
    n_states, order, father, mother, pat_bit, mat_bit, founder_gene, n_genes, pheno, factors, q
):  # pragma: no cover - jitted
    """P(affection phenotypes | state) for every state.

    ``factors[e, d]``: probability of phenotyped person ``pheno[e]``'s status
    given ``d`` disease alleles; ``q``: disease allele frequency.
    """
    out = np.empty(n_states)
    n = order.size
    m = pheno.size
    n_chunks = (n_states + CHUNK - 1) // CHUNK
    for ch in prange(n_chunks):
        genes = np.empty((n, 2), dtype=np.int64)
        root = np.empty(n_genes, dtype=np.int64)
        done = np.zeros(n_genes, dtype=np.bool_)
        comp_nodes = np.empty(n_genes, dtype=np.int64)
        node_start = np.empty(n_genes + 1, dtype=np.int64)
        edge_list = np.empty(2 * m + 1, dtype=np.int64)
        local = np.empty(n_genes, dtype=np.int64)
        x = np.zeros(n_genes, dtype=np.int64)
        for u in range(ch * CHUNK, min(n_states, (ch + 1) * CHUNK)):
            _gene_flow(u, order, father, mother, pat_bit, mat_bit, founder_gene, genes)
            out[u] = _trait_likelihood(
                genes, pheno, factors, q, root, done, comp_nodes, node_start, edge_list, local, x
            )
    return out


#: States per block of the transition: butterflies that stay inside a block
#: run block by block (in cache, blocks in parallel).
BLOCK = 4096


@njit(**JIT)
def _butterfly(v, lo, hi, m, t):  # pragma: no cover - jitted
    """Mix every state ``u`` of ``[lo, hi)`` with ``u ^ m`` (a range aligned to,
    and at least as long as, twice ``m``'s highest bit)."""
    s = 1.0 - t
    if m == 1:
        for u in range(lo, hi, 2):
            a = v[u]
            b = v[u + 1]
            v[u] = s * a + t * b
            v[u + 1] = t * a + s * b
        return
    high = m
    while high & (high - 1):
        high &= high - 1
    low = m ^ high
    run = high if low == 0 else low & -low  # j ^ low is contiguous over aligned runs
    for base in range(lo, hi, 2 * high):
        for jb in range(0, high, run):
            _mix(v, base + jb, base + high + (jb ^ low), run, s, t)


@njit(**JIT)
def _mix(v, u0, w0, n, s, t):  # pragma: no cover - jitted
    """Mix the runs ``v[u0:u0 + n]`` and ``v[w0:w0 + n]`` element by element."""
    for i in range(n):
        a = v[u0 + i]
        b = v[w0 + i]
        v[u0 + i] = s * a + t * b
        v[w0 + i] = t * a + s * b


@njit(**JIT)
def _merged(masks, thetas):  # pragma: no cover - jitted
    """The distinct non-zero masks with their meioses' fractions combined
    (two factors on one mask make one: ``1 - 2 theta = prod (1 - 2 theta_k)``)."""
    mm = np.empty(masks.size, dtype=np.int64)
    keep = np.empty(masks.size)
    n = 0
    for k in range(masks.size):
        m = masks[k]
        if m == 0 or thetas[k] == 0.0:
            continue
        found = -1
        for i in range(n):
            if mm[i] == m:
                found = i
        if found < 0:
            mm[n] = m
            keep[n] = 1.0 - 2.0 * thetas[k]
            n += 1
        else:
            keep[found] *= 1.0 - 2.0 * thetas[k]
    return mm[:n], 0.5 * (1.0 - keep[:n])


@njit(**PJIT)
def transition(v, masks, thetas):  # pragma: no cover - jitted
    """Apply the recombination transition in place: one butterfly per meiosis.

    Factor ``k`` mixes each state ``u`` with ``u ^ masks[k]`` with weight
    ``thetas[k]``; the factors commute, and factors on one mask merge.
    Masks inside a block of :data:`BLOCK` states run block by block (in
    cache, blocks in parallel; masks 1, 2 and 4 together over eight
    neighbouring states).  One-bit masks beyond a block run three at a
    time (eight blocks of states loaded together: one pass over the vector
    for three meioses); other masks pair whole blocks, one mask a pass.  A
    mask of 0 (a meiosis founder symmetry makes uninformative) is skipped.
    """
    mm, tt = _merged(masks, thetas)
    n = v.size
    block = BLOCK if n > BLOCK else n
    n_blocks = n // block
    # the one-bit masks 1, 2 and 4 together, eight neighbouring states at a time
    t_low = np.zeros(3)
    for k in range(mm.size):
        for b in range(3):
            if mm[k] == 1 << b and block >= 8:
                t_low[b] = tt[k]
    for bl in prange(n_blocks):
        if t_low[0] + t_low[1] + t_low[2] > 0.0:
            _radix8(v, bl * block, block, 8, 1, 2, 4, t_low[0], t_low[1], t_low[2])
        for k in range(mm.size):
            m = mm[k]
            if m < block and not (block >= 8 and (m == 1 or m == 2 or m == 4)):
                _butterfly(v, bl * block, (bl + 1) * block, m, tt[k])
    # one-bit masks beyond a block, up to three per pass
    hb = np.empty(mm.size, dtype=np.int64)
    ht = np.empty(mm.size)
    n_hb = 0
    for k in range(mm.size):
        m = mm[k]
        if m >= block and m & (m - 1) == 0:
            hb[n_hb] = m
            ht[n_hb] = tt[k]
            n_hb += 1
    for first in range(0, n_hb, 3):
        r = min(3, n_hb - first)
        b0 = hb[first]
        b1 = hb[first + 1] if r > 1 else 0
        b2 = hb[first + 2] if r > 2 else 0
        t0 = ht[first]
        t1 = ht[first + 1] if r > 1 else 0.0
        t2 = ht[first + 2] if r > 2 else 0.0
        span = b0 | b1 | b2
        for bl in prange(n_blocks):
            lo = bl * block
            if lo & span:
                continue
            _radix8(v, lo, block, 1, b0, b1, b2, t0, t1, t2)
    # masks with several bits, some beyond a block: pairs of blocks
    for k in range(mm.size):
        m = mm[k]
        if m < block or m & (m - 1) == 0:
            continue
        high = m
        while high & (high - 1):
            high &= high - 1
        low = m & (block - 1)
        hi_part = m ^ low
        t = tt[k]
        s = 1.0 - t
        run = block if low == 0 else low & -low
        for bl in prange(n_blocks):
            lo = bl * block
            if lo & high:
                continue
            plo = lo ^ hi_part
            for jb in range(0, block, run):
                _mix(v, lo + jb, plo + (jb ^ low), run, s, t)


@njit(**JIT)
def _radix8(v, lo, length, step, b0, b1, b2, t0, t1, t2):  # pragma: no cover - jitted
    """Butterflies on one-bit masks ``b0, b1, b2`` (0: none) for the states
    ``j`` of ``range(lo, lo + length, step)`` (whose bits ``b0 | b1 | b2`` are
    clear) with their partners: eight states at a time, in registers.  Masks
    beyond a block: a block at ``lo``, step 1; masks 1, 2, 4: step 8."""
    s0 = 1.0 - t0
    s1 = 1.0 - t1
    s2 = 1.0 - t2
    for j in range(lo, lo + length, step):
        x0 = v[j]
        x1 = v[j + b0]
        # bit 0
        y0 = s0 * x0 + t0 * x1
        y1 = t0 * x0 + s0 * x1
        if b1 == 0:
            v[j] = y0
            v[j + b0] = y1
            continue
        x2 = v[j + b1]
        x3 = v[j + b1 + b0]
        y2 = s0 * x2 + t0 * x3
        y3 = t0 * x2 + s0 * x3
        # bit 1
        z0 = s1 * y0 + t1 * y2
        z2 = t1 * y0 + s1 * y2
        z1 = s1 * y1 + t1 * y3
        z3 = t1 * y1 + s1 * y3
        if b2 == 0:
            v[j] = z0
            v[j + b0] = z1
            v[j + b1] = z2
            v[j + b1 + b0] = z3
            continue
        x4 = v[j + b2]
        x5 = v[j + b2 + b0]
        x6 = v[j + b2 + b1]
        x7 = v[j + b2 + b1 + b0]
        y4 = s0 * x4 + t0 * x5
        y5 = t0 * x4 + s0 * x5
        y6 = s0 * x6 + t0 * x7
        y7 = t0 * x6 + s0 * x7
        z4 = s1 * y4 + t1 * y6
        z6 = t1 * y4 + s1 * y6
        z5 = s1 * y5 + t1 * y7
        z7 = t1 * y5 + s1 * y7
        # bit 2
        v[j] = s2 * z0 + t2 * z4
        v[j + b2] = t2 * z0 + s2 * z4
        v[j + b0] = s2 * z1 + t2 * z5
        v[j + b2 + b0] = t2 * z1 + s2 * z5
        v[j + b1] = s2 * z2 + t2 * z6
        v[j + b2 + b1] = t2 * z2 + s2 * z6
        v[j + b1 + b0] = s2 * z3 + t2 * z7
        v[j + b2 + b1 + b0] = t2 * z3 + s2 * z7


@njit(**JIT)
def _first_changed_level(w, level_of_wbit):  # pragma: no cover - jitted
    """The shallowest walk level whose meioses differ between ``w - 1`` and ``w``."""
    changed = w ^ (w - 1)
    top = 0
    while changed >> (top + 1):
        top += 1
    return level_of_wbit[top]


@njit(**JIT)
def _state_map(
    levels, wbit_of_pat, wbit_of_mat, pat_bit, mat_bit, n_bits, chunk
):  # pragma: no cover - jitted
    """The state bit of each walk bit, and the state bits of every walk
    position below ``chunk`` (a power of two): a position's state is the
    map of its low bits or'ed with that of its chunk's first position."""
    of_wbit = np.zeros(max(n_bits, 1), dtype=np.int64)
    for lev in range(levels.size):
        p = levels[lev]
        if wbit_of_pat[lev] >= 0:
            of_wbit[wbit_of_pat[lev]] = 1 << pat_bit[p]
        if wbit_of_mat[lev] >= 0:
            of_wbit[wbit_of_mat[lev]] = 1 << mat_bit[p]
    low = np.zeros(chunk, dtype=np.int64)
    for j in range(1, chunk):
        top = 0
        while j >> (top + 1):
            top += 1
        low[j] = low[j ^ (1 << top)] | of_wbit[top]
    return of_wbit, low


@njit(**JIT)
def _chunk_state(w0, of_wbit):  # pragma: no cover - jitted
    u = 0
    b = 0
    while w0 >> b:
        if (w0 >> b) & 1:
            u |= of_wbit[b]
        b += 1
    return u


@njit(**JIT)
def _peel_enter(
    lev, vec, live, n_live, work, cur, pos, intro, founder_gene, factors_of, q
):  # pragma: no cover - jitted
    """Copy the vector held before level ``lev`` into ``work`` and bring in the
    founders whose first child this level is; ``cur`` lists the genes held and
    ``pos`` their bit in ``work``'s index.  Returns their number and ``work``'s size."""
    n_cur = n_live[lev]
    size = 1 << n_cur
    for i in range(n_cur):
        cur[i] = live[lev, i]
    for x in range(size):
        work[x] = vec[lev, x]
    for j in range(2):
        r = intro[lev, j]
        if r < 0:
            continue
        g = founder_gene[r]
        c00 = (1.0 - q) * (1.0 - q) * factors_of[r, 0]
        c01 = (1.0 - q) * q * factors_of[r, 1]
        c11 = q * q * factors_of[r, 2]
        for x in range(size):
            a = work[x]
            work[x + size] = a * c01
            work[x + 2 * size] = a * c01
            work[x + 3 * size] = a * c11
            work[x] = a * c00
        cur[n_cur] = g
        cur[n_cur + 1] = g + 1
        n_cur += 2
        size <<= 2
    for i in range(n_cur):
        pos[cur[i]] = i
    return n_cur, size


@njit(**PJIT)
def trait_emissions_peel(
    n_states,
    levels,
    father,
    mother,
    pat_bit,
    mat_bit,
    founder_gene,
    wbit_of_pat,
    wbit_of_mat,
    level_of_wbit,
    factors_of,
    q,
    intro,
    pend_ptr,
    pend_slots,
    last,
    rest,
    max_live,
    max_work,
):  # pragma: no cover - jitted
    """P(affection phenotypes | state) by a depth-first walk that peels founder genes.

    The walk assigns the non-founders (``levels``) their meioses one person
    at a time.  Before level ``l`` it holds, for every disease-allele
    assignment of the *live* founder genes (those a person still to come can
    inherit), the sum over the other genes' alleles of their allele
    probabilities times the penetrance factors of the persons placed so far.
    Level ``l`` brings in the genes of the founders ``intro[l]`` whose first
    child it is (with their allele probabilities and own phenotypes),
    multiplies by person ``levels[l]``'s factor and sums out every gene that
    no pending slot carries any more: the slots ``pend_slots[pend_ptr[l]:
    pend_ptr[l + 1]]`` (person, side) of the persons with children still to
    come.  The vectors stay as small as the pedigree's peeling width allows,
    whatever the number of founders.  At level ``last`` (the last person
    whose phenotype or descendants matter) everything is summed, for the
    four outcomes of that person's meioses in one pass; ``rest`` is the
    factor of the founders never brought in.  Walk position ``w`` puts the
    first person's meioses in its highest bits, so consecutive positions
    share all but the last levels, and positions differing only below
    ``last`` share the value.
    """
    out = np.empty(n_states)
    n_persons = father.size
    n_genes = 2 * n_persons
    chunk = 1 << 12
    if chunk > n_states:
        chunk = n_states
    n_chunks = n_states // chunk
    of_wbit, low_state = _state_map(
        levels, wbit_of_pat, wbit_of_mat, pat_bit, mat_bit, level_of_wbit.size, chunk
    )
    for ch in prange(n_chunks):
        genes = np.empty((n_persons, 2), dtype=np.int64)
        for p in range(n_persons):
            if father[p] < 0:
                genes[p, 0] = founder_gene[p]
                genes[p, 1] = founder_gene[p] + 1
        vec = np.empty((last + 2, 1 << max_live))
        live = np.empty((last + 2, max_live + 1), dtype=np.int64)
        n_live = np.zeros(last + 2, dtype=np.int64)
        work = np.empty(1 << max_work)
        cur = np.empty(max_work + 1, dtype=np.int64)
        pos = np.full(n_genes, -1, dtype=np.int64)
        vec[0, 0] = 1.0
        table = np.zeros((2, 2))
        u_chunk = _chunk_state(ch * chunk, of_wbit)
        for w in range(ch * chunk, (ch + 1) * chunk):
            if w == ch * chunk:
                start = 0
            else:
                start = _first_changed_level(w, level_of_wbit)
            # levels before the last: genes, then the vector they leave
            for lev in range(start, last):
                p = levels[lev]
                b = wbit_of_pat[lev]
                s = 0 if b < 0 else (w >> b) & 1
                genes[p, 0] = genes[father[p], s]
                b = wbit_of_mat[lev]
                s = 0 if b < 0 else (w >> b) & 1
                genes[p, 1] = genes[mother[p], s]
                n_cur, size = _peel_enter(
                    lev, vec, live, n_live, work, cur, pos, intro, founder_gene, factors_of, q
                )
                i1 = pos[genes[p, 0]]
                i2 = pos[genes[p, 1]]
                fp = factors_of[p]
                keep = 0
                for k in range(pend_ptr[lev], pend_ptr[lev + 1]):
                    keep |= 1 << pos[genes[pend_slots[k, 0], pend_slots[k, 1]]]
                n_keep = 0
                for i in range(n_cur):
                    if (keep >> i) & 1:
                        live[lev + 1, n_keep] = cur[i]
                        n_keep += 1
                n_live[lev + 1] = n_keep
                nxt = vec[lev + 1]
                if n_keep == n_cur:
                    for x in range(size):
                        d = ((x >> i1) & 1) + ((x >> i2) & 1)
                        nxt[x] = work[x] * fp[d]
                else:
                    # y runs over the kept genes' alleles, z over the summed-out
                    # ones, x = their bits put in place (subsets in order: the
                    # next of a subset s of mask m is ((s | ~m) + 1) & m)
                    drop = (size - 1) ^ keep
                    xk = 0
                    for y in range(1 << n_keep):
                        acc = 0.0
                        xd = 0
                        for _z in range(size >> n_keep):
                            x = xk | xd
                            d = ((x >> i1) & 1) + ((x >> i2) & 1)
                            acc += work[x] * fp[d]
                            xd = ((xd | ~drop) + 1) & drop
                        nxt[y] = acc
                        xk = ((xk | ~keep) + 1) & keep
            # the last level: its four meiosis outcomes at once, kept while only
            # its own meioses change
            p = levels[last]
            if start <= last - 1 or w == ch * chunk:
                n_cur, size = _peel_enter(
                    last, vec, live, n_live, work, cur, pos, intro, founder_gene, factors_of, q
                )
                fa = father[p]
                mo = mother[p]
                ia0 = pos[genes[fa, 0]]
                ia1 = pos[genes[fa, 1]]
                ib0 = pos[genes[mo, 0]]
                ib1 = pos[genes[mo, 1]]
                fp = factors_of[p]
                t00 = 0.0
                t01 = 0.0
                t10 = 0.0
                t11 = 0.0
                for x in range(size):
                    a0 = (x >> ia0) & 1
                    a1 = (x >> ia1) & 1
                    b0 = (x >> ib0) & 1
                    b1 = (x >> ib1) & 1
                    wx = work[x]
                    d = a0 + b0
                    t00 += wx * fp[d]
                    d = a0 + b1
                    t01 += wx * fp[d]
                    d = a1 + b0
                    t10 += wx * fp[d]
                    d = a1 + b1
                    t11 += wx * fp[d]
                table[0, 0] = t00 * rest
                table[0, 1] = t01 * rest
                table[1, 0] = t10 * rest
                table[1, 1] = t11 * rest
            b = wbit_of_pat[last]
            s1 = 0 if b < 0 else (w >> b) & 1
            b = wbit_of_mat[last]
            s2 = 0 if b < 0 else (w >> b) & 1
            out[u_chunk | low_state[w - ch * chunk]] = table[s1, s2]
    return out


@njit(**JIT)
def _butterfly_derivative(v, dm, df, lo, hi, m, t, is_male):  # pragma: no cover - jitted
    high = m
    while high & (high - 1):
        high &= high - 1
    s = 1.0 - t
    for u in range(lo, hi):
        if u & high:
            continue
        w = u ^ m
        a = v[u]
        b = v[w]
        am = dm[u]
        bm = dm[w]
        af = df[u]
        bf = df[w]
        v[u] = s * a + t * b
        v[w] = t * a + s * b
        dm[u] = s * am + t * bm
        dm[w] = t * am + s * bm
        df[u] = s * af + t * bf
        df[w] = t * af + s * bf
        if is_male:
            dm[u] += b - a
            dm[w] += a - b
        else:
            df[u] += b - a
            df[w] += a - b


@njit(**PJIT)
def transition_derivative(v, dv_male, dv_female, masks, thetas, male):  # pragma: no cover
    """The transition applied to ``v`` with its derivatives in the male and female
    recombination fractions of the interval, in place.

    With ``B_k = (1 - theta_k) I + theta_k X_k`` per meiosis, ``T = prod_k B_k``
    and ``dT/dtheta_s = sum_{k of sex s} (prod_{j != k} B_j) (X_k - I)``:
    each factor maps ``(v, dv_s) -> (B_k v, B_k dv_s + [k of sex s] (X_k - I) v)``.
    The factors commute; they run blocked as in :func:`transition`.
    """
    n = v.size
    block = BLOCK if n > BLOCK else n
    n_blocks = n // block
    for bl in prange(n_blocks):
        for k in range(masks.size):
            m = masks[k]
            if m == 0 or m >= block:
                continue
            _butterfly_derivative(
                v, dv_male, dv_female, bl * block, (bl + 1) * block, m, thetas[k], male[k]
            )
    for k in range(masks.size):
        m = masks[k]
        if m < block:
            continue
        for bl in prange(n_blocks):
            _butterfly_derivative(
                v, dv_male, dv_female, bl * block, (bl + 1) * block, m, thetas[k], male[k]
            )


@njit(**PJIT)
def npl_scores(
    n_states, order, father, mother, pat_bit, mat_bit, founder_gene, n_genes, affected
):  # pragma: no cover - jitted
    """S_pairs and S_all of the affected persons for every state.

    S_pairs: sum over pairs of affected persons of the alleles they share
    identical by descent (the better of the two ways to match their genes).
    S_all (Whittemore and Halpern 1994): the mean over the ``2^a`` ways of
    picking one gene from each affected person of the product, over founder
    genes, of the factorial of how often the gene was picked; walked in
    Gray-code order, one person's pick changing per step.
    """
    out = np.empty((n_states, 2))
    n = order.size
    a = affected.size
    n_chunks = (n_states + CHUNK - 1) // CHUNK
    for ch in prange(n_chunks):
        genes = np.empty((n, 2), dtype=np.int64)
        count = np.zeros(n_genes, dtype=np.int64)
        pick = np.zeros(a, dtype=np.int64)
        for u in range(ch * CHUNK, min(n_states, (ch + 1) * CHUNK)):
            _gene_flow(u, order, father, mother, pat_bit, mat_bit, founder_gene, genes)
            pairs = 0.0
            for i in range(a):
                p = affected[i]
                for j in range(i + 1, a):
                    q = affected[j]
                    straight = (genes[p, 0] == genes[q, 0]) + (genes[p, 1] == genes[q, 1])
                    crossed = (genes[p, 0] == genes[q, 1]) + (genes[p, 1] == genes[q, 0])
                    pairs += straight if straight > crossed else crossed
            for g in range(n_genes):
                count[g] = 0
            prod = 1.0
            for i in range(a):
                pick[i] = 0
                g = genes[affected[i], 0]
                count[g] += 1
                prod *= count[g]
            total = prod
            for step in range(1, 1 << a):
                i = 0
                while not (step >> i) & 1:
                    i += 1
                p = affected[i]
                g_old = genes[p, pick[i]]
                prod /= count[g_old]
                count[g_old] -= 1
                pick[i] = 1 - pick[i]
                g_new = genes[p, pick[i]]
                count[g_new] += 1
                prod *= count[g_new]
                total += prod
            out[u, 0] = pairs
            out[u, 1] = total / (1 << a)
    return out


@njit(**PJIT)
def dot3(a, b, c):  # pragma: no cover - jitted
    """``sum(a * b * c)`` (in the kernels' thread pool, not BLAS's)."""
    s = 0.0
    for i in prange(a.size):
        s += a[i] * b[i] * c[i]
    return s


@njit(**PJIT)
def dot2(a, b):  # pragma: no cover - jitted
    """``sum(a * b)`` (in the kernels' thread pool, not BLAS's)."""
    s = 0.0
    for i in prange(a.size):
        s += a[i] * b[i]
    return s


@njit(**JIT)
def _component_weight(ncand, wt, r):  # pragma: no cover - jitted
    """The summed weight of component ``r``'s candidate assignments."""
    total = 0.0
    for c in range(ncand[r]):
        total += wt[c, r]
    return total


@njit(**JIT)
def _edge_ratio(root, alle, ncand, wt, g1, g2, a, b, freqs):  # pragma: no cover - jitted
    """The factor by which :func:`_add_edge` would change the product of the
    component weights (0: no assignment left), without changing anything."""
    r1 = root[g1]
    r2 = root[g2]
    if r1 < 0 and r2 < 0:
        if g1 == g2:
            return freqs[a - 1] if a == b else 0.0
        return freqs[a - 1] * freqs[b - 1] * (1.0 if a == b else 2.0)
    if r1 < 0 or r2 < 0:
        if r1 < 0:
            r, known = r2, g2
        else:
            r, known = r1, g1
        after = 0.0
        for c in range(ncand[r]):
            x = alle[c, known]
            if x == a:
                after += wt[c, r] * freqs[b - 1]
            elif x == b:
                after += wt[c, r] * freqs[a - 1]
        return after / _component_weight(ncand, wt, r)
    if r1 == r2:
        after = 0.0
        for c in range(ncand[r1]):
            x = alle[c, g1]
            y = alle[c, g2]
            if (x == a and y == b) or (x == b and y == a):
                after += wt[c, r1]
        return after / _component_weight(ncand, wt, r1)
    after = 0.0
    for c1 in range(ncand[r1]):
        x = alle[c1, g1]
        for c2 in range(ncand[r2]):
            y = alle[c2, g2]
            if (x == a and y == b) or (x == b and y == a):
                after += wt[c1, r1] * wt[c2, r2]
    return after / (_component_weight(ncand, wt, r1) * _component_weight(ncand, wt, r2))


@njit(**JIT)
def _add_edge(
    root, alle, ncand, wt, g1, g2, a, b, freqs, n_genes, tmp_al, tmp_wt
):  # pragma: no cover - jitted
    """Add the constraint {allele(g1), allele(g2)} = {a, b}; False if no assignment is left.

    ``root[g]``: the component of gene ``g`` (-1 unconstrained); per component
    root ``r``: ``ncand[r]`` candidate assignments (at most two), candidate
    ``c`` giving gene ``g`` allele ``alle[c, g]``, with the product of its
    genes' frequencies ``wt[c, r]``.
    """
    r1 = root[g1]
    r2 = root[g2]
    if r1 < 0 and r2 < 0:
        if g1 == g2:
            if a != b:
                return False
            root[g1] = g1
            alle[0, g1] = a
            wt[0, g1] = freqs[a - 1]
            ncand[g1] = 1
            return True
        root[g1] = g1
        root[g2] = g1
        alle[0, g1] = a
        alle[0, g2] = b
        wt[0, g1] = freqs[a - 1] * freqs[b - 1]
        if a != b:
            alle[1, g1] = b
            alle[1, g2] = a
            wt[1, g1] = wt[0, g1]
            ncand[g1] = 2
        else:
            ncand[g1] = 1
        return True
    if r1 < 0 or r2 < 0:
        # one gene new: it takes the allele its partner's candidates leave
        if r1 < 0:
            r, known, new = r2, g2, g1
        else:
            r, known, new = r1, g1, g2
        k = 0
        for c in range(ncand[r]):
            x = alle[c, known]
            if x == a:
                y = b
            elif x == b:
                y = a
            else:
                continue
            for g in range(n_genes):
                if root[g] == r:
                    alle[k, g] = alle[c, g]
            alle[k, new] = y
            wt[k, r] = wt[c, r] * freqs[y - 1]
            k += 1
        ncand[r] = k
        root[new] = r
        return k > 0
    if r1 == r2:
        k = 0
        for c in range(ncand[r1]):
            x = alle[c, g1]
            y = alle[c, g2]
            if (x == a and y == b) or (x == b and y == a):
                if k != c:
                    for g in range(n_genes):
                        if root[g] == r1:
                            alle[k, g] = alle[c, g]
                    wt[k, r1] = wt[c, r1]
                k += 1
        ncand[r1] = k
        return k > 0
    # two components join: pairs of candidates that satisfy the edge
    k = 0
    for c1 in range(ncand[r1]):
        for c2 in range(ncand[r2]):
            x = alle[c1, g1]
            y = alle[c2, g2]
            if (x == a and y == b) or (x == b and y == a):
                if k < 2:
                    for g in range(n_genes):
                        if root[g] == r1:
                            tmp_al[k, g] = alle[c1, g]
                        elif root[g] == r2:
                            tmp_al[k, g] = alle[c2, g]
                    tmp_wt[k] = wt[c1, r1] * wt[c2, r2]
                k += 1
    for g in range(n_genes):
        if root[g] == r2:
            root[g] = r1
    for c in range(min(k, 2)):
        for g in range(n_genes):
            if root[g] == r1:
                alle[c, g] = tmp_al[c, g]
        wt[c, r1] = tmp_wt[c]
    ncand[r1] = min(k, 2)
    return k > 0


@njit(**PJIT)
def marker_emissions_tree(
    n_states,
    levels,
    father,
    mother,
    pat_bit,
    mat_bit,
    founder_gene,
    n_genes,
    is_founder,
    calls,
    freqs,
    wbit_of_pat,
    wbit_of_mat,
    level_of_wbit,
    offsets,
):  # pragma: no cover - jitted
    """P(marker genotypes | state) by a depth-first walk over the meioses.

    The founder-allele graph of the persons placed so far is kept level by
    level (union-find over founder genes, at most two candidate assignments
    per component), so vectors that share their first persons' meioses
    share its construction, and a walk position whose graph has become
    inconsistent skips its whole subtree (those states stay 0).  Each level
    also keeps the product of its components' weights, which an edge
    changes only through its genes' components; the deepest typed person's
    edge is only weighed (:func:`_edge_ratio`), never built.  Layout of the
    walk as in :func:`trait_emissions_peel`; ``offsets[l]``: the lowest walk
    bit of level ``l`` (its subtree is everything below).
    """
    out = np.zeros(n_states)
    n_levels = levels.size
    n_persons = father.size
    chunk = 1 << 12
    if chunk > n_states:
        chunk = n_states
    n_chunks = n_states // chunk
    of_wbit, low_state = _state_map(
        levels, wbit_of_pat, wbit_of_mat, pat_bit, mat_bit, level_of_wbit.size, chunk
    )
    last_typed = -1
    for lev in range(n_levels):
        if calls[levels[lev], 0] > 0:
            last_typed = lev
    for ch in prange(n_chunks):
        genes = np.empty((n_persons, 2), dtype=np.int64)
        root = np.empty((n_levels + 1, n_genes), dtype=np.int64)
        alle = np.zeros((n_levels + 1, 2, n_genes), dtype=np.int64)
        ncand = np.zeros((n_levels + 1, n_genes), dtype=np.int64)
        wt = np.zeros((n_levels + 1, 2, n_genes))
        tmp_al = np.zeros((2, n_genes), dtype=np.int64)
        tmp_wt = np.zeros(2)
        u_chunk = _chunk_state(ch * chunk, of_wbit)
        ok = True
        # the founders
        for g in range(n_genes):
            root[0, g] = -1
        for p in range(n_persons):
            if is_founder[p]:
                genes[p, 0] = founder_gene[p]
                genes[p, 1] = founder_gene[p] + 1
                if calls[p, 0] > 0 and ok:
                    ok = _add_edge(
                        root[0], alle[0], ncand[0], wt[0], genes[p, 0], genes[p, 1],
                        calls[p, 0], calls[p, 1], freqs, n_genes, tmp_al, tmp_wt,
                    )  # fmt: skip
        if not ok:
            continue
        # prod[l]: the product over the components at level l of their
        # candidates' summed weights (genes not yet constrained give 1)
        prod = np.empty(n_levels + 1)
        prod[0] = 1.0
        for g in range(n_genes):
            if root[0, g] == g:
                prod[0] *= _component_weight(ncand[0], wt[0], g)
        w = ch * chunk
        end = (ch + 1) * chunk
        start = 0
        while w < end:
            dead = -1
            for lev in range(start, n_levels):
                p = levels[lev]
                b = wbit_of_pat[lev]
                s = 0 if b < 0 else (w >> b) & 1
                genes[p, 0] = genes[father[p], s]
                b = wbit_of_mat[lev]
                s = 0 if b < 0 else (w >> b) & 1
                genes[p, 1] = genes[mother[p], s]
                prod[lev + 1] = prod[lev]
                if lev > last_typed:
                    continue
                if lev == last_typed:
                    # no graph is needed below: the edge's factor alone
                    ratio = _edge_ratio(
                        root[lev], alle[lev], ncand[lev], wt[lev], genes[p, 0], genes[p, 1],
                        calls[p, 0], calls[p, 1], freqs,
                    )  # fmt: skip
                    if ratio == 0.0:
                        dead = lev
                        break
                    prod[lev + 1] = prod[lev] * ratio
                    continue
                root[lev + 1, :] = root[lev, :]
                alle[lev + 1, :, :] = alle[lev, :, :]
                ncand[lev + 1, :] = ncand[lev, :]
                wt[lev + 1, :, :] = wt[lev, :, :]
                if calls[p, 0] > 0:
                    # the edge changes only its genes' components
                    r1 = root[lev + 1, genes[p, 0]]
                    r2 = root[lev + 1, genes[p, 1]]
                    before = 1.0
                    if r1 >= 0:
                        before *= _component_weight(ncand[lev + 1], wt[lev + 1], r1)
                    if r2 >= 0 and r2 != r1:
                        before *= _component_weight(ncand[lev + 1], wt[lev + 1], r2)
                    if not _add_edge(
                        root[lev + 1], alle[lev + 1], ncand[lev + 1], wt[lev + 1],
                        genes[p, 0], genes[p, 1], calls[p, 0], calls[p, 1], freqs, n_genes,
                        tmp_al, tmp_wt,
                    ):  # fmt: skip
                        dead = lev
                        break
                    r = root[lev + 1, genes[p, 0]]
                    after = _component_weight(ncand[lev + 1], wt[lev + 1], r)
                    prod[lev + 1] = prod[lev] / before * after
            if dead >= 0:
                # every state below this person's meioses is impossible
                w = ((w >> offsets[dead]) + 1) << offsets[dead]
            else:
                out[u_chunk | low_state[w - ch * chunk]] = prod[n_levels]
                w += 1
            if w < end:
                start = _first_changed_level(w, level_of_wbit)
    return out
