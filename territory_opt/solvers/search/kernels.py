"""Compiled kernels of the search's incremental state (numba, cached on disk).

Every kernel works on one or two territories, never on the whole plan: a
territory's members are a doubly linked list (``head``, ``nxt``, ``prv``), its
articulation points are recomputed for it alone (iterative Tarjan on the CSR
adjacency, restricted to the territory's label), and the best transfers it
offers are scored against its neighbours' sums. A move costs O(degree) to
apply; the territories it touches are marked for their next evaluation.

Band violation is measured as in :class:`~territory_opt.plan.Bands`: how far a
territory's sums lie outside its bands, in shares of a territory's average,
summed over metrics.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "apply_move", "articulation", "best_of_territory", "border", "boundary_arcs", "hanging",
    "may_move",
    "territory_arcs", "violation_all",
]

_NO = -1


@njit(cache=True, inline="always")
def _outside(value: float, lo: float, hi: float) -> float:
    if value > hi:
        return value - hi
    if value < lo:
        return lo - value
    return 0.0


@njit(cache=True)
def _viol(t, sums, a, lower, upper, share, i, si, j, sj):
    """Territory t's violation with unit i added ``si`` times and unit j ``sj`` times
    (si, sj in -1, 0, 1; i or j unused when their sign is 0)."""
    total = 0.0
    for m in range(sums.shape[0]):
        value = sums[m, t]
        if si != 0:
            value += si * a[m, i]
        if sj != 0:
            value += sj * a[m, j]
        total += _outside(value, lower[m, t], upper[m, t]) / share[m]
    return total


@njit(cache=True)
def violation_all(sums, lower, upper, share):
    """Per territory: how far outside its bands (the same measure as :class:`Bands`)."""
    k = sums.shape[1]
    out = np.zeros(k)
    for t in range(k):
        out[t] = _viol(t, sums, sums, lower, upper, share, 0, 0, 0, 0)
    return out


@njit(cache=True, inline="always")
def _cap_change(moved, dm, cap, has_cap):
    """The realignment cap's violation change when ``dm`` more is moved."""
    if not has_cap:
        return 0.0
    scale = max(cap, 1.0)
    return (max(moved + dm - cap, 0.0) - max(moved - cap, 0.0)) / scale


@njit(cache=True)
def articulation(t, label, indptr, indices, head, nxt, size, roots, cut, cut_ok, connected,
                 order, low, parent, edge_pos, stack, stamp, clock):
    """Articulation points of territory t alone, into ``cut`` for its members;
    ``connected[t]`` says whether every member is reached from its root (its first
    member without roots). Scratch arrays (``order``, ``low``, ``parent``,
    ``edge_pos``, ``stack``) are valid where ``stamp == clock[0]``. O(territory)."""
    clock[0] += 1
    now = clock[0]
    cut_ok[t] = True
    if size[t] == 0:
        connected[t] = True
        return
    start = roots[t] if roots[t] >= 0 and label[roots[t]] == t else head[t]
    u = head[t]
    while u != _NO:
        cut[u] = False
        u = nxt[u]
    count = 1
    stamp[start] = now
    order[start] = low[start] = 0
    parent[start] = _NO
    edge_pos[start] = indptr[start]
    stack[0] = start
    top = 1
    root_children = 0
    while top > 0:
        u = stack[top - 1]
        advanced = False
        while edge_pos[u] < indptr[u + 1]:
            v = indices[edge_pos[u]]
            edge_pos[u] += 1
            if label[v] != t:
                continue
            if stamp[v] != now:
                stamp[v] = now
                order[v] = low[v] = count
                count += 1
                parent[v] = u
                edge_pos[v] = indptr[v]
                stack[top] = v
                top += 1
                advanced = True
                break
            if v != parent[u] and order[v] < low[u]:
                low[u] = order[v]
        if advanced:
            continue
        top -= 1
        p = parent[u]
        if p == _NO:
            continue
        low[p] = min(low[p], low[u])
        if p == start:
            root_children += 1
        elif low[u] >= order[p]:
            cut[p] = True
    if root_children > 1:
        cut[start] = True
    connected[t] = count == size[t]
    if count != size[t]:  # members cut off from the root: none may leave
        u = head[t]
        while u != _NO:
            cut[u] = True
            u = nxt[u]


@njit(cache=True)
def _fresh(t, label, indptr, indices, head, nxt, size, roots, cut, cut_ok, connected,
           order, low, parent, edge_pos, stack, stamp, clock):
    if not cut_ok[t]:
        articulation(t, label, indptr, indices, head, nxt, size, roots, cut, cut_ok,
                     connected, order, low, parent, edge_pos, stack, stamp, clock)


@njit(cache=True)
def apply_move(i, t, label, head, nxt, prv, size, sums, a, tedge, indptr, indices, cut_ok,
               dirty):
    """Put unit i into territory t: member lists, sums, the count of edges between
    territories, and the marks of what must be looked at again (the two territories'
    articulation points; the best transfers of both and of their neighbours)."""
    s = label[i]
    if s == t:
        return s
    # unlink from s
    if prv[i] != _NO:
        nxt[prv[i]] = nxt[i]
    else:
        head[s] = nxt[i]
    if nxt[i] != _NO:
        prv[nxt[i]] = prv[i]
    size[s] -= 1
    # link into t
    prv[i] = _NO
    nxt[i] = head[t]
    if head[t] != _NO:
        prv[head[t]] = i
    head[t] = i
    size[t] += 1
    label[i] = t
    for m in range(sums.shape[0]):
        sums[m, s] -= a[m, i]
        sums[m, t] += a[m, i]
    for e in range(indptr[i], indptr[i + 1]):
        w = label[indices[e]]
        if w != s:
            tedge[s, w] -= 1
            tedge[w, s] -= 1
        if w != t:
            tedge[t, w] += 1
            tedge[w, t] += 1
    cut_ok[s] = False
    cut_ok[t] = False
    k = tedge.shape[0]
    dirty[s] = True
    dirty[t] = True
    for x in range(k):
        if tedge[s, x] > 0 or tedge[t, x] > 0:
            dirty[x] = True
    return s


@njit(cache=True)
def may_move(i, s, t, connected_mode, label, fixed, allowed, has_allowed, indptr, indices,
             head, nxt, size, roots, cut, cut_ok, connected, order, low, parent, edge_pos,
             stack, stamp, clock):
    """Whether unit i may go from s to t now: still in s, free, allowed in t, and (when
    territories stay connected) no articulation point of s and touching t."""
    if label[i] != s or fixed[i] or s == t:
        return False
    if has_allowed and not allowed[i, t]:
        return False
    if not connected_mode:
        return True
    _fresh(s, label, indptr, indices, head, nxt, size, roots, cut, cut_ok, connected,
           order, low, parent, edge_pos, stack, stamp, clock)
    if cut[i] or size[s] <= 1:
        return False
    for e in range(indptr[i], indptr[i + 1]):
        if label[indices[e]] == t:
            return True
    return False


@njit(cache=True)
def _out_arcs(t, connected_mode, tabu_mode, iteration, tabu, skipped, label, fixed, allowed,
              has_allowed, indptr, indices, head, nxt, size, cut):
    """(unit, destination) for every free member of territory t that may leave (no
    articulation point, not skipped) and a neighbouring territory it may join (not tabu
    with ``tabu_mode``); t's articulation points must be current."""
    n_out = 0
    units = np.empty(16, dtype=np.int64)
    dsts = np.empty(16, dtype=np.int64)
    u = head[t]
    while u != _NO:
        if not fixed[u] and not skipped[u] and not (connected_mode
                                                    and (cut[u] or size[t] <= 1)):
            for e in range(indptr[u], indptr[u + 1]):
                r = label[indices[e]]
                if r == t or (has_allowed and not allowed[u, r]):
                    continue
                if tabu_mode and tabu[u, r] > iteration:
                    continue
                dup = False
                for q in range(n_out - 1, -1, -1):
                    if units[q] != u:
                        break
                    if dsts[q] == r:
                        dup = True
                        break
                if dup:
                    continue
                if n_out == len(units):
                    units = np.concatenate((units, np.empty(len(units), dtype=np.int64)))
                    dsts = np.concatenate((dsts, np.empty(len(dsts), dtype=np.int64)))
                units[n_out] = u
                dsts[n_out] = r
                n_out += 1
        u = nxt[u]
    return units[:n_out], dsts[:n_out]


@njit(cache=True)
def territory_arcs(t, connected_mode, skipped, tabu, label, fixed, allowed, has_allowed,
                   indptr, indices, head, nxt, size, roots, cut, cut_ok, connected, order,
                   low, parent, edge_pos, stack, stamp, clock):
    """The transfers territory t offers: (unit, destination) for every free member
    that may leave (no articulation point, not skipped) and a neighbouring territory
    it may join."""
    if connected_mode:
        _fresh(t, label, indptr, indices, head, nxt, size, roots, cut, cut_ok, connected,
               order, low, parent, edge_pos, stack, stamp, clock)
    return _out_arcs(t, connected_mode, False, 0, tabu, skipped, label, fixed, allowed, has_allowed, indptr, indices, head, nxt,
                     size, cut)


@njit(cache=True)
def boundary_arcs(label, indptr, indices, k):
    """Every (unit, neighbouring territory) pair of the plan: for figures taken once."""
    n = len(label)
    units = []
    dsts = []
    seen = np.full(k, -1, dtype=np.int64)
    for u in range(n):
        for e in range(indptr[u], indptr[u + 1]):
            r = label[indices[e]]
            if r != label[u] and seen[r] != u:
                seen[r] = u
                units.append(u)
                dsts.append(r)
    return np.array(units, dtype=np.int64), np.array(dsts, dtype=np.int64)


@njit(cache=True)
def best_of_territory(m, weight, tabu_mode, iteration, tabu, skipped, connected_mode,
                      label, fixed, allowed, has_allowed, indptr, indices, head, nxt, size,
                      roots, cut, cut_ok, connected, order, low, parent, edge_pos, stack,
                      stamp, clock, sums, a, lower, upper, share, cost, moves, has_cap,
                      moved, cap, seen, base):
    """The best transfer centred on territory m, by ``cost + weight * violation``:
    a single move out of m, or a pair through m (a unit of a neighbour s joins m
    and a unit of m joins a neighbour r; r == s is a swap). Returns (score, cost
    change, violation change, i, s, j, r): j = -1 for a single move (i from s = m
    to r); i = -1 when m offers nothing; the violation change is unweighted. ``base`` is every territory's violation
    now. With ``tabu_mode`` a unit may not join a territory it left before
    ``tabu[unit, territory]``; ``skipped`` units are left out."""
    best = np.inf
    best_dc = 0.0
    best_dv = 0.0
    bi, bs, bj, br = -1, -1, -1, -1
    if size[m] == 0:
        return best, best_dc, best_dv, bi, bs, bj, br
    if connected_mode:
        _fresh(m, label, indptr, indices, head, nxt, size, roots, cut, cut_ok, connected,
               order, low, parent, edge_pos, stack, stamp, clock)
    base_m = base[m]
    # out-arcs: free members of m that may leave, with a neighbouring territory r
    out_j, out_r = _out_arcs(m, connected_mode, tabu_mode, iteration, tabu, skipped, label,
                             fixed, allowed, has_allowed, indptr, indices, head, nxt, size, cut)
    n_out = len(out_j)
    out_dc = np.empty(n_out)
    out_dr = np.empty(n_out)  # r's violation change when j joins it
    out_dm = np.empty(n_out)  # m's violation change when j leaves it
    out_mv = np.zeros(n_out)
    out_only = np.full(n_out, -1, dtype=np.int64)  # j's only neighbour in r, if one
    for q in range(n_out):
        j, r = out_j[q], out_r[q]
        out_dc[q] = cost[j, r] - cost[j, m]
        out_dr[q] = _viol(r, sums, a, lower, upper, share, j, 1, 0, 0) - base[r]
        out_dm[q] = _viol(m, sums, a, lower, upper, share, j, -1, 0, 0) - base_m
        if has_cap:
            out_mv[q] = moves[j, r] - moves[j, m]
        count = 0
        for e in range(indptr[j], indptr[j + 1]):
            if label[indices[e]] == r:
                count += 1
                out_only[q] = indices[e]
        if count > 1:
            out_only[q] = -1
        score = out_dc[q] + weight * (out_dm[q] + out_dr[q]
                                      + _cap_change(moved, out_mv[q], cap, has_cap))
        if score < best:
            best = score
            best_dc = out_dc[q]
            best_dv = out_dm[q] + out_dr[q] + _cap_change(moved, out_mv[q], cap, has_cap)
            bi, bs, bj, br = j, m, -1, r
    # in-arcs: units of neighbouring territories that may leave theirs and join m
    clock[0] += 1
    now = clock[0]
    in_i = np.empty(16, dtype=np.int64)
    n_in = 0
    u = head[m]
    while u != _NO:
        for e in range(indptr[u], indptr[u + 1]):
            v = indices[e]
            if label[v] == m or seen[v] == now:
                continue
            seen[v] = now
            if fixed[v] or skipped[v] or (has_allowed and not allowed[v, m]):
                continue
            if tabu_mode and tabu[v, m] > iteration:
                continue
            if n_in == len(in_i):
                in_i = np.concatenate((in_i, np.empty(len(in_i), dtype=np.int64)))
            in_i[n_in] = v
            n_in += 1
        u = nxt[u]
    if n_in == 0 or n_out == 0:
        return best, best_dc, best_dv, bi, bs, bj, br
    for p in range(n_in):
        i = in_i[p]
        s = label[i]
        if connected_mode:
            _fresh(s, label, indptr, indices, head, nxt, size, roots, cut, cut_ok,
                   connected, order, low, parent, edge_pos, stack, stamp, clock)
            if cut[i] or size[s] <= 1:
                continue
        # i's neighbours in m: a single one may not be the unit that leaves
        count = 0
        only = -1
        for e in range(indptr[i], indptr[i + 1]):
            if label[indices[e]] == m:
                count += 1
                only = indices[e]
        if count > 1:
            only = -1
        dc_i = cost[i, m] - cost[i, s]
        dv_s = _viol(s, sums, a, lower, upper, share, i, -1, 0, 0) - base[s]
        mv_i = moves[i, m] - moves[i, s] if has_cap else 0.0
        for q in range(n_out):
            j, r = out_j[q], out_r[q]
            if j == only:
                continue
            if r == s:  # a swap: j must touch s without i
                if out_only[q] == i:
                    continue
                ends = _viol(s, sums, a, lower, upper, share, i, -1, j, 1) - base[s]
            else:
                ends = dv_s + out_dr[q]
            mid = _viol(m, sums, a, lower, upper, share, i, 1, j, -1) - base_m
            dv = ends + mid + _cap_change(moved, mv_i + out_mv[q], cap, has_cap)
            score = dc_i + out_dc[q] + weight * dv
            if score < best:
                best = score
                best_dc = dc_i + out_dc[q]
                best_dv = dv
                bi, bs, bj, br = i, s, j, r
    return best, best_dc, best_dv, bi, bs, bj, br


@njit(cache=True)
def hanging(t, u, label, indptr, indices, head, nxt, size, roots, fixed, stamp, clock, stack):
    """The members of territory t that unit u holds to its root: those no longer
    reached from the root (its first member without roots) when u leaves, u first.
    Empty when u is the root or when u or one of them is fixed (the set may not move)."""
    clock[0] += 1
    now = clock[0]
    start = roots[t] if roots[t] >= 0 and label[roots[t]] == t else head[t]
    if start == u or fixed[u]:
        return np.empty(0, dtype=np.int64)
    stamp[u] = now
    stamp[start] = now
    stack[0] = start
    top = 1
    count = 1
    while top > 0:
        top -= 1
        w = stack[top]
        for e in range(indptr[w], indptr[w + 1]):
            v = indices[e]
            if label[v] == t and stamp[v] != now:
                stamp[v] = now
                stack[top] = v
                top += 1
                count += 1
    out = np.empty(size[t] - count + 1, dtype=np.int64)
    out[0] = u
    q = 1
    w = head[t]
    while w != _NO:
        if stamp[w] != now:
            if fixed[w]:
                return np.empty(0, dtype=np.int64)
            out[q] = w
            q += 1
        w = nxt[w]
    return out[:q]


@njit(cache=True)
def border(x, y, label, fixed, allowed, has_allowed, indptr, indices, head, nxt, size, roots,
           cut, cut_ok, connected, order, low, parent, edge_pos, stack, stamp, clock):
    """The free members of territory x that touch territory y and may join it, and
    whether each is an articulation point of x."""
    _fresh(x, label, indptr, indices, head, nxt, size, roots, cut, cut_ok, connected,
           order, low, parent, edge_pos, stack, stamp, clock)
    out = np.empty(size[x], dtype=np.int64)
    q = 0
    u = head[x]
    while u != _NO:
        if not fixed[u] and not (has_allowed and not allowed[u, y]):
            for e in range(indptr[u], indptr[u + 1]):
                if label[indices[e]] == y:
                    out[q] = u
                    q += 1
                    break
        u = nxt[u]
    units = out[:q]
    is_cut = np.empty(q, dtype=np.bool_)
    for p in range(q):
        is_cut[p] = cut[units[p]]
    return units, is_cut
