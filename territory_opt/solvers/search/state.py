"""The search's incremental state: a plan that costs O(degree) per move.

:class:`State` keeps, for each territory, its members (a linked list), its sums
per metric, its articulation points (recomputed for that territory alone when a
move has touched it) and the number of edges it shares with every other
territory; and for the search, each territory's best transfer, recomputed only
for the territories a move touched and their neighbours. The hot loops are the
compiled kernels of :mod:`~territory_opt.solvers.search.kernels`.
"""

from __future__ import annotations

import numpy as np

from territory_opt.plan import Plan
from territory_opt.solvers.search import kernels

__all__ = ["State"]


class State:
    """An incremental plan for the search.

    Parameters
    ----------
    plan
        The plan to start from (its bands, adjacency, locks and roots; copied).
    cost
        ``(units, territories)`` cost of each unit in each territory.
    connected
        Keep every territory connected (moves that would cut one are refused).
    moves, cap
        The realignment cap: ``(units, territories)`` amount each unit moves in
        each territory, and the most that may move (None: no cap).
    """

    def __init__(self, plan: Plan, *, cost: np.ndarray, connected: bool,
                 moves: np.ndarray | None = None, cap: float = 0.0) -> None:
        n, k = plan.n, plan.k
        self.n, self.k = n, k
        self.bands = plan.bands
        self.indptr = np.asarray(plan.indptr, dtype=np.int64)
        self.indices = np.asarray(plan.indices, dtype=np.int64)
        self.label = np.array(plan.label, dtype=np.int64)
        self.fixed = plan.fixed.copy()
        self.has_allowed = plan.allowed is not None
        self.allowed = plan.allowed if plan.allowed is not None else np.ones((1, 1), bool)
        self.roots = np.full(k, -1, dtype=np.int64) if plan.roots is None \
            else np.asarray(plan.roots, dtype=np.int64)
        self.cost = np.ascontiguousarray(cost, dtype=float)
        self.connected = connected
        self.a = np.ascontiguousarray(plan.a, dtype=float)
        self.lower = np.ascontiguousarray(self.bands.lower, dtype=float)
        self.upper = np.ascontiguousarray(self.bands.upper, dtype=float)
        self.share = np.asarray(self.bands.share, dtype=float)
        self.has_cap = moves is not None
        self.moves = np.ascontiguousarray(moves, dtype=float) if moves is not None \
            else np.zeros((1, 1))
        self.cap = float(cap)
        self.moved = float(self.moves[np.arange(n), self.label].sum()) if self.has_cap else 0.0
        # member lists, sums, edges between territories
        self.head = np.full(k, -1, dtype=np.int64)
        self.nxt = np.full(n, -1, dtype=np.int64)
        self.prv = np.full(n, -1, dtype=np.int64)
        for i in range(n - 1, -1, -1):
            t = self.label[i]
            if self.head[t] >= 0:
                self.prv[self.head[t]] = i
            self.nxt[i] = self.head[t]
            self.head[t] = i
        self.size = np.bincount(self.label, minlength=k).astype(np.int64)
        self.sums = np.ascontiguousarray(self.bands.sums(self.label), dtype=float)
        rows = np.repeat(np.arange(n), np.diff(self.indptr))
        a, b = self.label[rows], self.label[self.indices]
        cross = a != b
        self.tedge = np.zeros((k, k), dtype=np.int64)
        np.add.at(self.tedge, (a[cross], b[cross]), 1)
        # articulation points, per territory on demand
        self.cut = np.zeros(n, dtype=bool)
        self.cut_ok = np.zeros(k, dtype=bool)
        self.connected_t = np.zeros(k, dtype=bool)
        self._scratch = (np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(n, np.int64),
                         np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(n, np.int64),
                         np.zeros(1, np.int64))
        self.seen = np.zeros(n, dtype=np.int64)
        self.dirty = np.ones(k, dtype=bool)
        self.tabu = np.zeros((n, k), dtype=np.int64)
        self.skipped = np.zeros(n, dtype=bool)
        self.iteration = 0

    # ------------------------------------------------------------------ figures

    def _graph(self) -> tuple:
        return (self.indptr, self.indices, self.head, self.nxt, self.size, self.roots,
                self.cut, self.cut_ok, self.connected_t) + self._scratch

    def violations(self) -> np.ndarray:
        """Per territory: how far outside its bands, in shares."""
        return kernels.violation_all(self.sums, self.lower, self.upper, self.share)

    def cap_violation(self, moved: float | None = None) -> float:
        if not self.has_cap:
            return 0.0
        moved = self.moved if moved is None else moved
        return max(moved - self.cap, 0.0) / max(self.cap, 1.0)

    def violation(self) -> float:
        """The plan's band violation (in shares of a territory's average) and the cap's."""
        return float(self.violations().sum()) + self.cap_violation()

    def total_cost(self) -> float:
        return float(self.cost[np.arange(self.n), self.label].sum())

    def cut_units(self, t: int) -> set[int] | None:
        """Territory t's articulation points, None when it is not connected."""
        kernels.articulation(t, self.label, *self._graph())
        if not self.connected_t[t]:
            return None
        members = self.members(t)
        return {int(u) for u in members if self.cut[u]}

    def members(self, t: int) -> np.ndarray:
        out = []
        u = int(self.head[t])
        while u >= 0:
            out.append(u)
            u = int(self.nxt[u])
        return np.array(out, dtype=np.int64)

    def neighbours_of(self, t: int) -> np.ndarray:
        """The territories that share an edge with t."""
        return np.flatnonzero(self.tedge[t])

    # ------------------------------------------------------------------ moves

    def may_move(self, i: int, s: int, t: int) -> bool:
        return bool(kernels.may_move(i, s, t, self.connected, self.label, self.fixed,
                                     self.allowed, self.has_allowed, *self._graph()))

    def move(self, i: int, t: int) -> None:
        """Put unit i into territory t; what must be looked at again is marked (with a
        realignment cap, every territory: each move changes the cap's slack)."""
        if self.has_cap:
            self.moved += float(self.moves[i, t] - self.moves[i, self.label[i]])
            self.dirty[:] = True
        kernels.apply_move(i, t, self.label, self.head, self.nxt, self.prv, self.size,
                           self.sums, self.a, self.tedge, self.indptr, self.indices,
                           self.cut_ok, self.dirty)

    def arcs(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """The transfers territory t offers now: its units that may leave (not skipped)
        and where to."""
        return kernels.territory_arcs(t, self.connected, self.skipped, self.tabu, self.label,
                                      self.fixed, self.allowed, self.has_allowed,
                                      *self._graph())

    def border(self, x: int, y: int) -> tuple[np.ndarray, np.ndarray]:
        """The free members of x touching y that may join it, and which of them are
        articulation points of x."""
        return kernels.border(x, y, self.label, self.fixed, self.allowed, self.has_allowed,
                              *self._graph())

    def hanging(self, u: int) -> np.ndarray:
        """Unit u and the members of its territory it holds to the root (a composite
        move: they leave together, the territory stays connected); empty when a
        fixed unit would have to go along."""
        return kernels.hanging(int(self.label[u]), u, self.label, self.indptr, self.indices,
                               self.head, self.nxt, self.size, self.roots, self.fixed,
                               self._scratch[5], self._scratch[6], self._scratch[4])

    def best_of(self, m: int, weight: float, base: np.ndarray, tabu: bool
                ) -> tuple[float, float, float, int, int, int, int]:
        """The best single move out of m or pair through m (kernel's docstring)."""
        return kernels.best_of_territory(
            m, weight, tabu, self.iteration, self.tabu, self.skipped, self.connected,
            self.label, self.fixed, self.allowed, self.has_allowed, *self._graph(),
            self.sums, self.a, self.lower, self.upper, self.share, self.cost, self.moves,
            self.has_cap, self.moved, self.cap, self.seen, base)

    def set_labels(self, labels: np.ndarray) -> None:
        for i in np.flatnonzero(labels != self.label).tolist():
            self.move(i, int(labels[i]))

    def check(self) -> None:
        """Raise AssertionError unless the incremental state equals a recomputation
        from the labels (for the property tests)."""
        n, k = self.n, self.k
        fresh = State(_PlanView(self), cost=self.cost, connected=self.connected,
                      moves=self.moves if self.has_cap else None, cap=self.cap)
        assert np.array_equal(self.size, fresh.size)
        assert np.allclose(self.sums, fresh.sums)
        assert np.array_equal(self.tedge, fresh.tedge)
        for t in range(k):
            assert sorted(self.members(t).tolist()) == np.flatnonzero(self.label == t).tolist()
            assert self.cut_units(t) == fresh.cut_units(t)
        if self.has_cap:
            assert np.isclose(self.moved, fresh.moved)
        assert len(self.label) == n


class _PlanView:
    """What :class:`State` reads of a plan, taken from another state (for ``check``)."""

    def __init__(self, state: State) -> None:
        self.n, self.k, self.bands = state.n, state.k, state.bands
        self.indptr, self.indices = state.indptr, state.indices
        self.label = state.label.copy()
        self.fixed = state.fixed
        self.allowed = state.allowed if state.has_allowed else None
        self.roots = None if (state.roots < 0).all() else state.roots
        self.a = state.a
