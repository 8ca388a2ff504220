"""Starts for the search: territories grown from their roots, and the plain
problem's plan (with its certified bound)."""

from __future__ import annotations

import heapq
import time
from collections import deque

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from territory_opt.checks import check_feasibility
from territory_opt.errors import SolverError
from territory_opt.graph import pieces
from territory_opt.plan import Plan
from territory_opt.problem import TerritoryProblem
from territory_opt.solvers.lagrange import CONTIGUOUS_UNITS, LARGE_PAIRS, solve_lagrange
from territory_opt.solvers.mip import solve_mip
from territory_opt.solvers.options import SolveOptions

__all__ = ["connect_roots", "grow_plan", "plain_start", "solve_clock"]


def connect_roots(plan: Plan) -> int:
    """Join each territory's root to the largest piece of the territory when they lie
    apart, and to every piece holding one of its locked units: the units on the
    cheapest path between them (by what each unit's cost rises when it joins the
    territory) join it. The plain plan can hold a root in a
    piece of one unit far from its territory's body (12 of 200 territories on the
    national ZIP codes); cutting the body off the root would hand the territory's
    whole workload to its neighbours. Units of other territories that the path
    cuts off are rejoined later, as every piece is. Returns the units moved."""
    if plan.roots is None or plan.cost is None:
        return 0
    n, label, indptr, indices = plan.n, plan.label, plan.indptr, plan.indices
    rows = np.repeat(np.arange(n), np.diff(indptr))
    piece = pieces(indptr, indices, label)
    size = np.bincount(piece)
    moved = 0
    for t, root in enumerate(plan.roots.tolist()):
        members = np.flatnonzero(label == t)
        if label[root] != t or not len(members):
            continue
        # the largest piece when the root's is smaller, and every piece holding a lock
        body = piece[members[np.argmax(size[piece[members]])]]
        ends = {int(piece[i]) for i in members if plan.fixed[i]} - {int(piece[root])}
        if body != piece[root] and size[body] > size[piece[root]]:
            ends.add(int(body))
        if not ends:
            continue
        # a unit's weight: what its cost rises by in t; units that may not join t barred
        rise = np.maximum(plan.cost[:, t] - plan.cost[np.arange(n), label], 0.0) + 1e-9
        barred = plan.fixed & (label != t)
        if plan.allowed is not None:
            barred |= ~plan.allowed[:, t]
        keep = ~barred[indices] & ~barred[rows]
        graph = csr_matrix((rise[indices[keep]], (rows[keep], indices[keep])), shape=(n, n))
        start = np.flatnonzero(piece == piece[root])
        dist, pred, _ = dijkstra(graph, indices=start, min_only=True,
                                 return_predecessors=True)
        for end_piece in sorted(ends):
            units = np.flatnonzero(piece == end_piece)
            end = int(units[np.argmin(dist[units])])
            if not np.isfinite(dist[end]):
                continue
            v = int(pred[end])
            while v >= 0 and plan.label[v] != t:
                plan.move(v, t)
                moved += 1
                v = int(pred[v])
        label = plan.label
    return moved


def grow_plan(problem: TerritoryProblem, *, random_state: int = 0,
              cost: np.ndarray | None = None, roots: np.ndarray | None = None) -> np.ndarray:
    """A connected start: territories grow from their roots (and locked units), the
    cheapest frontier unit first, a territory stopping at its upper band while another
    can take the unit; every unit joins a territory it touches. ``cost`` (units x
    territories) and ``roots`` default to the problem's (model centres: give both,
    for the chosen centre units)."""
    rng = np.random.default_rng(random_state)
    n, k = problem.n_units, problem.n_territories
    base = problem.costs if cost is None else cost
    roots = problem.roots if roots is None else roots
    cost = base * (1 + 0.05 * rng.random((n, k)))
    plan = Plan(problem, np.zeros(n, dtype=int))
    label = np.full(n, -1)
    sums = np.zeros_like(plan.sums)
    a, upper = plan.a, plan.bands.upper
    heap: list[tuple[float, int, int]] = []
    seeds = dict(problem.locked)
    if roots is not None:
        seeds |= {int(r): t for t, r in enumerate(roots)}

    def add(i: int, t: int) -> None:
        label[i] = t
        if len(a):
            sums[:, t] += a[:, i]
        for v in plan.neighbours(i).tolist():
            if label[v] < 0 and plan.may_join(v, t):
                heapq.heappush(heap, (float(cost[v, t]), v, t))

    for i, t in seeds.items():
        add(i, t)
    if problem.contiguity and roots is not None:
        for i, t in seeds.items():  # a locked unit apart from its root: a path joins them
            for v in _path_to(plan, label, int(roots[t]), i, t):
                add(v, t)
    for t in range(k):  # a territory without a root (no contiguity) starts at its cheapest
        if not (label == t).any():
            free = np.flatnonzero(label < 0)
            add(int(free[np.argmin(cost[free, t])]), t)
    # units that would overfill a territory: a territory's sums only grow, so they stay
    # waiting until no frontier is left; then the cheapest of them overfills
    waiting: list[tuple[float, int, int]] = []
    while heap or waiting:
        if not heap:
            c, i, t = heapq.heappop(waiting)
            if label[i] < 0:
                add(i, t)
            continue
        c, i, t = heapq.heappop(heap)
        if label[i] >= 0:
            continue
        if len(a) and (sums[:, t] + a[:, i] > upper[:, t] + 1e-9).any():
            heapq.heappush(waiting, (c, i, t))
            continue
        add(i, t)
    if (label < 0).any():  # a piece of the graph no territory reaches (segments)
        free = np.flatnonzero(label < 0)
        allowed = np.ones((len(free), k), dtype=bool) if problem.eligible is None \
            else problem.eligible[free]
        label[free] = np.argmin(np.where(allowed, base[free], np.inf), axis=1)
    return label


def _path_to(plan: Plan, label: np.ndarray, source: int, target: int, t: int) -> list[int]:
    """The free units (``label < 0``) on a shortest path from territory t's units
    around ``source`` to unit ``target`` (breadth first through units that may join
    t); empty when they already touch or no such path exists."""
    piece = plan.flood(source, lambda v: label[v] == t)
    if target in piece:
        return []
    came: dict[int, int] = {u: -1 for u in piece}
    queue = deque(piece)
    while queue:
        u = queue.popleft()
        for v in plan.neighbours(u).tolist():
            if v in came or not (label[v] < 0 or v == target) or not plan.may_join(v, t):
                continue
            came[v] = u
            if v == target:  # walk back to the piece
                path = []
                while (u := came[v]) not in piece:
                    path.append(u)
                    v = u
                return path
            queue.append(v)
    return []


def plain_start(problem: TerritoryProblem, options: SolveOptions
                ) -> tuple[np.ndarray | None, float | None, str]:
    """The plain problem's plan (roots locked in), its certified bound and the
    method that solved it; (None, None, why) when it found no plan in its time."""
    relaxed = problem.relaxation()
    # the Lagrangian path above a million pairs, and above the flow model's size, where
    # it gives the start and bound in a fifth of the MIP's time (5,622 ZIP codes x 40
    # at 0.1 %: 5.4 s against 26.9 s)
    large = relaxed.n_units > CONTIGUOUS_UNITS or \
        relaxed.n_units * relaxed.n_columns > LARGE_PAIRS
    name = "lagrange" if large else "mip"
    try:
        plain = (solve_lagrange if large else solve_mip)(relaxed, options)
    except SolverError as exc:
        return None, None, str(exc)
    bound = plain.bound
    return plain.unit_centres(), bound, name



def solve_clock(problem: TerritoryProblem, options: SolveOptions
                ) -> tuple[float, float | None, dict[str, float]]:
    """The start of a search's solve: its clock, the deadline of the options' time
    limit, and the seconds by stage, the checks before any solve done (they raise
    :class:`InfeasibleError` on a conflict)."""
    clock = time.perf_counter()
    deadline = None if options.time_limit is None else clock + options.time_limit
    seconds: dict[str, float] = {"check": 0.0, "build": 0.0, "presolve": 0.0, "solve": 0.0}
    check_feasibility(problem)
    seconds["check"] = time.perf_counter() - clock
    return clock, deadline, seconds
