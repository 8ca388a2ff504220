"""Contiguity for the large path: repair a plan, then improve it by local search.

Every move keeps each territory connected and holding its root (the centre
unit, or the unit nearest the rep's base); see :func:`make_contiguous`.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable

import numpy as np

from territory_opt.errors import SolverError
from territory_opt.model import TerritoryProblem

logger = logging.getLogger(__name__)

MAX_BALANCE_MOVES = 200_000
PUSH_TARGETS = 8  # territories with room tried per push, nearest first


class _Plan:
    """A plan under repair: labels, per-territory sums and members, adjacency."""

    def __init__(self, problem: TerritoryProblem, territory: np.ndarray, cost: np.ndarray,
                 roots: np.ndarray, pinned: dict[int, int]) -> None:
        import networkx as nx

        self.n, self.k = cost.shape
        csr = nx.to_scipy_sparse_array(problem.adjacency, nodelist=range(self.n), format="csr")
        self.indptr, self.indices = csr.indptr, csr.indices
        self.label = np.array(territory, dtype=int)
        self.cost = cost
        self.roots = np.asarray(roots, dtype=int)
        self.fixed = np.zeros(self.n, dtype=bool)
        self.fixed[self.roots] = True
        self.fixed[list(pinned)] = True
        metrics = list(problem.bands)  # type: ignore[attr-defined]
        self.a = np.vstack([problem.values(m) for m in metrics]) if metrics \
            else np.zeros((0, self.n))
        bounds = [problem.bounds(m) for m in metrics]
        self.lower = np.array([b[0] for b in bounds]).reshape(len(metrics), self.k)
        self.upper = np.array([b[1] for b in bounds]).reshape(len(metrics), self.k)
        self.scale = np.maximum(np.abs(self.a).sum(axis=1) / self.k, 1e-12)[:, None]
        self.sums = np.vstack([np.bincount(self.label, weights=a, minlength=self.k)
                               for a in self.a]) if len(metrics) else np.zeros((0, self.k))
        self.members = [set(np.flatnonzero(self.label == t).tolist()) for t in range(self.k)]

    def neighbours(self, i: int) -> np.ndarray:
        return self.indices[self.indptr[i]:self.indptr[i + 1]]

    def violation(self, sums: np.ndarray) -> np.ndarray:
        """Per territory (columns of ``sums``): how far outside the bands, in targets."""
        over = np.maximum(sums - self.upper[:, :sums.shape[1]], 0)
        under = np.maximum(self.lower[:, :sums.shape[1]] - sums, 0)
        return ((over + under) / self.scale).sum(axis=0) if len(sums) else np.zeros(
            sums.shape[1])

    def viol_of(self, t: int, sums_t: np.ndarray) -> float:
        if not len(sums_t):
            return 0.0
        over = np.maximum(sums_t - self.upper[:, t], 0)
        under = np.maximum(self.lower[:, t] - sums_t, 0)
        return float(((over + under) / self.scale[:, 0]).sum())

    def reached(self, t: int, without: int = -1) -> set[int]:
        """Members of territory t connected to its root (optionally without one unit)."""
        members = self.members[t]
        return self.flood(int(self.roots[t]), lambda v: v != without and v in members)

    def flood(self, start: int, keep: Callable[[int], bool]) -> set[int]:
        """The units reached from ``start`` through units for which ``keep`` holds."""
        seen = {start}
        queue = deque([start])
        while queue:
            for v in self.neighbours(queue.popleft()):
                v = int(v)
                if v not in seen and keep(v):
                    seen.add(v)
                    queue.append(v)
        return seen

    def can_leave(self, i: int) -> bool:
        t = int(self.label[i])
        if self.fixed[i]:
            return False
        return len(self.reached(t, without=i)) == len(self.members[t]) - 1

    def move(self, i: int, s: int) -> None:
        t = int(self.label[i])
        self.members[t].discard(i)
        self.members[s].add(i)
        self.label[i] = s
        if len(self.a):
            self.sums[:, t] -= self.a[:, i]
            self.sums[:, s] += self.a[:, i]

    def other_labels(self, i: int) -> set[int]:
        own = int(self.label[i])
        return {int(self.label[v]) for v in self.neighbours(i)} - {own}


def make_contiguous(problem: TerritoryProblem, territory: np.ndarray, cost: np.ndarray,
                    roots: np.ndarray, *, pinned: dict[int, int] | None = None,
                    deadline: float | None = None) -> tuple[np.ndarray, dict[str, int]]:
    """Make every territory connected in the units' graph, within the bands.

    1. Pieces cut off from their territory's root join the neighbouring
       territory where they cost least (a whole piece at a time, so the
       receiver stays connected).
    2. While a territory is outside a band, the boundary unit whose move to (or
       from) a neighbouring territory reduces the violation at the least cost
       moves, if its old territory stays connected.
    3. Local search: any boundary unit moves to a neighbouring territory when
       that lowers the cost, keeps the bands and keeps its old territory
       connected; sweeps until none does (or the deadline).

    ``territory`` is each unit's position among the ``k`` territories,
    ``cost`` the ``(n, k)`` cost matrix and ``roots`` each territory's root
    unit. Returns the new positions and counts of the moves of each step.
    """
    plan = _Plan(problem, territory, cost, roots, pinned or {})
    counts = {"orphans": _rejoin_pieces(plan), "balance": _balance(plan, deadline)}
    counts["improve"] = _improve(plan, deadline)
    bad = np.flatnonzero(plan.violation(plan.sums) > 1e-9)
    logger.info("contiguity repair moves %s; %d territories outside the bands", counts, len(bad))
    if len(bad):
        raise SolverError(f"could not make territory {int(bad[0])} contiguous within the bands "
                          f"({len(bad)} territories outside them); widen the bands or solve "
                          "without contiguity")
    logger.info("contiguity repair: %s", counts)
    return plan.label, counts


def _rejoin_pieces(plan: _Plan) -> int:
    orphans: set[int] = set()
    for t in range(plan.k):
        orphans |= plan.members[t] - plan.reached(t)
    moved = len(orphans)
    while orphans:
        progress = False
        for piece in _pieces(plan, orphans):
            touching: dict[int, float] = {}
            for u in piece:
                for v in plan.neighbours(u):
                    v = int(v)
                    if v not in orphans:
                        touching.setdefault(int(plan.label[v]), 0.0)
            if not touching:
                continue
            idx = np.fromiter(piece, dtype=int)
            best = min(touching, key=lambda s: float(plan.cost[idx, s].sum()))
            for u in piece:
                plan.move(u, best)
            orphans -= piece
            progress = True
        if not progress:  # cannot happen on a connected graph
            raise SolverError("a piece of the units' graph touches no territory")
    return moved


def _pieces(plan: _Plan, orphans: set[int]) -> list[set[int]]:
    """Connected pieces of the orphans, each within one territory."""
    left = set(orphans)
    out = []
    while left:
        start = left.pop()
        label = plan.label[start]
        piece = plan.flood(start, lambda v, label=label: v in left and plan.label[v] == label)
        left -= piece
        out.append(piece)
    return out


def _balance(plan: _Plan, deadline: float | None) -> int:
    """Restore the bands: the cheapest move that lowers the violation, else a chain of
    moves along the shortest path of neighbouring territories to one with room."""
    moves = 0
    stuck: set[int] = set()
    while moves < MAX_BALANCE_MOVES:
        viol = plan.violation(plan.sums)
        viol[list(stuck)] = 0
        t = int(np.argmax(viol))
        if viol[t] <= 1e-12:
            return moves
        if deadline is not None and time.perf_counter() > deadline:
            return moves
        done = _direct_move(plan, t)
        if not done:
            done = _push(plan, t)

        if done:
            moves += done
            stuck.clear()
        else:
            stuck.add(t)
    return moves


def _direct_move(plan: _Plan, t: int) -> int:
    candidates = [(i, t, s) for i in _boundary(plan, t) for s in plan.other_labels(i)]
    for s in _neighbour_territories(plan, t):
        candidates += [(i, s, t) for i in _boundary(plan, s) if t in plan.other_labels(i)]
    scored = []
    for i, src, dst in candidates:
        a = plan.a[:, i]
        before = plan.viol_of(src, plan.sums[:, src]) + plan.viol_of(dst, plan.sums[:, dst])
        after = plan.viol_of(src, plan.sums[:, src] - a) + plan.viol_of(dst,
                                                                        plan.sums[:, dst] + a)
        dv = after - before
        if dv < -1e-12:
            scored.append((float(plan.cost[i, dst] - plan.cost[i, src]) / -dv, i, dst))
    scored.sort()
    for _, i, dst in scored:
        if plan.can_leave(i):
            plan.move(i, dst)
            return 1
    return 0


def _push(plan: _Plan, t: int) -> int:
    """Shift one boundary unit along each step of the shortest path from territory t
    (over its band) to the nearest territory with room, or the reverse (under)."""
    over = bool((plan.sums[:, t] > plan.upper[:, t]).any())
    m = int(np.argmax(np.maximum(plan.sums[:, t] - plan.upper[:, t], 0) if over
                      else np.maximum(plan.lower[:, t] - plan.sums[:, t], 0)))
    parent: dict[int, int | None] = {t: None}
    queue = deque([t])
    targets = []
    while queue and len(targets) < PUSH_TARGETS:
        p = queue.popleft()
        room = (plan.upper[m, p] - plan.sums[m, p]) if over else (plan.sums[m, p]
                                                                 - plan.lower[m, p])
        if p != t and room > 0:
            targets.append(p)
        for q in _neighbour_territories(plan, p):
            if q not in parent:
                parent[q] = p
                queue.append(q)
    for target in targets:
        path = [target]
        while parent[path[-1]] is not None:
            path.append(parent[path[-1]])  # type: ignore[arg-type]
        path.reverse()  # t ... target
        moved = _shift(plan, over, path)
        if moved:
            return moved
    return 0


def _shift(plan: _Plan, over: bool, path: list[int]) -> int:
    """Move one unit along each step of ``path`` (outwards if t is over its band,
    inwards if under); kept only if the total violation falls."""
    steps = list(zip(path[:-1], path[1:], strict=True)) if over else \
        list(zip(path[:0:-1], path[-2::-1], strict=True))
    total = float(plan.violation(plan.sums).sum())
    done: list[tuple[int, int]] = []
    for src, dst in steps:
        # the unit that leaves its territory (which has received its own) best within
        # the bands, then the cheapest
        options = sorted((round(plan.viol_of(src, plan.sums[:, src] - plan.a[:, i]), 12),
                          float(plan.cost[i, dst] - plan.cost[i, src]), i)
                         for i in _boundary(plan, src) if dst in plan.other_labels(i))
        for _, _, i in options:
            if plan.can_leave(i):
                plan.move(i, dst)
                done.append((i, src))
                break
        else:
            break
    if float(plan.violation(plan.sums).sum()) > total - 1e-12 or len(done) < len(steps):
        for i, src in reversed(done):  # undo: the plan before was connected
            plan.move(i, src)
        return 0
    return len(done)


def _boundary(plan: _Plan, t: int) -> list[int]:
    return [i for i in plan.members[t]
            if not plan.fixed[i] and any(plan.label[v] != t for v in plan.neighbours(i))]


def _neighbour_territories(plan: _Plan, t: int) -> set[int]:
    out: set[int] = set()
    for i in plan.members[t]:
        out |= plan.other_labels(i)
    return out


def _improve(plan: _Plan, deadline: float | None) -> int:
    moves = 0
    improved = True
    while improved:
        improved = False
        for i in range(plan.n):
            if plan.fixed[i]:
                continue
            t = int(plan.label[i])
            options = plan.other_labels(i)
            if not options:
                continue
            gains = sorted((float(plan.cost[i, s] - plan.cost[i, t]), s) for s in options)
            for delta, s in gains:
                if delta >= -1e-9:
                    break
                a = plan.a[:, i]
                if len(a) and (plan.viol_of(t, plan.sums[:, t] - a) > 1e-12
                               or plan.viol_of(s, plan.sums[:, s] + a) > 1e-12):
                    continue
                if plan.can_leave(i):
                    plan.move(i, s)
                    moves += 1
                    improved = True
                    break
            if deadline is not None and time.perf_counter() > deadline:
                return moves
    return moves
