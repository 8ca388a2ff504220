"""An editable plan: labels, sums per metric, band violation, pieces and moves.

:class:`Bands` holds a problem's balance bands as matrices and measures how far
sums lie outside them (vectorised, for the rounding of the Lagrangian path);
:class:`Plan` is an assignment that changes one unit at a time, keeping its sums
and member sets current in O(degree) per move, for the contiguity repair, local
search and hand edits.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from territory_opt.problem import TerritoryProblem

__all__ = ["Bands", "Plan"]


class Bands:
    """A problem's balance bands as matrices.

    Attributes
    ----------
    metrics
        The balanced metrics, in the problem's order.
    a
        ``(metrics, units)`` amounts.
    lower, upper
        ``(metrics, territories)`` bands (``-inf`` / ``inf`` where open).
    region, region_lower, region_upper
        Each territory's region position, and the ``(metrics, regions)`` region
        bands (open where none; no columns without regions). A metric balanced
        only on regions has open territory bands.
    share
        ``(metrics,)`` a territory's average amount of each metric (1 where 0):
        violations are counted in these shares, so that metrics of different
        sizes weigh alike.
    """

    def __init__(self, problem: TerritoryProblem) -> None:
        region_bands = problem.region_bands
        self.metrics: list[str] = list(problem.bands) + [
            m for m in region_bands if m not in problem.bands]
        k, n, nm = problem.n_territories, problem.n_units, len(self.metrics)
        self.a = np.vstack([problem.values(m) for m in self.metrics]) if nm \
            else np.zeros((0, n))
        open_band = (np.full(k, -np.inf), np.full(k, np.inf))
        bounds = [problem.bounds(m) if m in problem.bands else open_band
                  for m in self.metrics]
        self.lower = np.array([b[0] for b in bounds]).reshape(nm, k)
        self.upper = np.array([b[1] for b in bounds]).reshape(nm, k)
        self.region = problem.region_of
        n_regions = len(problem.regions) if region_bands and problem.regions else 0
        self.region_lower = np.full((nm, n_regions), -np.inf)
        self.region_upper = np.full((nm, n_regions), np.inf)
        for m, metric in enumerate(self.metrics):
            if metric in region_bands:
                self.region_lower[m], self.region_upper[m] = problem.region_bounds(metric)
        amount = np.abs(self.a).sum(axis=1) / k
        self.share = np.where(amount > 0, amount, 1.0)

    @property
    def n_regions(self) -> int:
        """Regions with bands (0 when no region band)."""
        return self.region_lower.shape[1]

    def region_sums(self, sums: np.ndarray) -> np.ndarray:
        """``(metrics, regions)`` sums of the regions, from the territories' sums."""
        return np.vstack([np.bincount(self.region, weights=row, minlength=self.n_regions)
                          for row in sums]) if len(sums) else np.zeros((0, self.n_regions))

    def region_violation(self, sums: np.ndarray) -> float:
        """How far the regions of territories' ``sums`` lie outside their bands, in shares."""
        if not self.n_regions:
            return 0.0
        return float(self.outside(self.region_sums(sums), self.region_lower,
                                  self.region_upper).sum())

    def sums(self, labels: np.ndarray) -> np.ndarray:
        """``(metrics, territories)`` sums of a plan given as each unit's territory."""
        k = self.lower.shape[1]
        return np.vstack([np.bincount(labels, weights=a, minlength=k) for a in self.a]) \
            if len(self.a) else np.zeros((0, k))

    def violation(self, sums: np.ndarray, territories: np.ndarray | None = None) -> np.ndarray:
        """How far ``sums`` lie outside the bands, in shares, summed over metrics.

        ``sums`` has the metrics first and territories last (``(metrics, k)``, or
        ``(metrics, ..., len(territories))``); ``territories`` names the
        territory of each last-axis entry (all of them, in order, when None).
        """
        lower, upper = self.lower, self.upper
        if territories is not None:
            lower, upper = lower[:, territories], upper[:, territories]
        return self.outside(sums, lower, upper)

    def outside(self, sums: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
        """How far ``sums`` (``(metrics, ..., m)``) lie outside the ``(metrics, m)``
        bands, in shares, summed over metrics: territories' or regions'."""
        middle = (1,) * (sums.ndim - 2)
        lower = lower.reshape(lower.shape[0], *middle, lower.shape[1])
        upper = upper.reshape(upper.shape[0], *middle, upper.shape[1])
        share = self.share.reshape((-1,) + (1,) * (sums.ndim - 1))
        return ((np.maximum(sums - upper, 0) + np.maximum(lower - sums, 0)) / share).sum(axis=0)


class Plan:
    """An assignment of units to territories that changes one unit at a time.

    Parameters
    ----------
    problem
        The problem (its bands and adjacency graph).
    labels
        Each unit's territory position (0 .. k-1).
    cost
        ``(units, territories)`` cost of each unit in each territory, for the
        searches that weigh moves (None when only sums and pieces are needed).
    roots
        Each territory's root unit (it never leaves), or None.
    fixed
        Units that never move (locks), besides the roots.
    keep_regions
        Every unit stays in its region (the region of its territory in
        ``labels``): moves keep the regions' sums, so a plan within its region
        bands stays within them.
    """

    def __init__(self, problem: TerritoryProblem, labels: np.ndarray, *,
                 cost: np.ndarray | None = None, roots: np.ndarray | None = None,
                 fixed: np.ndarray | list[int] = (), keep_regions: bool = False) -> None:
        import networkx as nx

        self.bands = Bands(problem)
        self.n, self.k = problem.n_units, problem.n_territories
        csr = nx.to_scipy_sparse_array(problem.adjacency, nodelist=range(self.n), format="csr")
        self.indptr, self.indices = csr.indptr, csr.indices
        self.label = np.array(labels, dtype=int)
        self.allowed = problem.eligible  # (units, territories) or None: every pair
        if keep_regions:
            region = problem.region_of
            same = region[self.label][:, None] == region[None, :]
            self.allowed = same if self.allowed is None else self.allowed & same
        self.cost = cost
        self.roots = None if roots is None else np.asarray(roots, dtype=int)
        self.fixed = np.zeros(self.n, dtype=bool)
        if self.roots is not None:
            self.fixed[self.roots] = True
        self.fixed[list(fixed)] = True
        self.sums = self.bands.sums(self.label)
        self.members = [set(np.flatnonzero(self.label == t).tolist()) for t in range(self.k)]
        self._cuts: list[set[int] | None | bool] = [False] * self.k  # False: not computed

    @property
    def a(self) -> np.ndarray:
        """``(metrics, units)`` amounts of the balanced metrics."""
        return self.bands.a

    def neighbours(self, i: int) -> np.ndarray:
        """The units adjacent to unit i."""
        return self.indices[self.indptr[i]:self.indptr[i + 1]]

    def violation(self) -> np.ndarray:
        """Per territory: how far outside its bands, in shares (0 inside)."""
        return self.bands.violation(self.sums)

    def violation_of(self, t: int, sums_t: np.ndarray) -> float:
        """Territory t's violation if its sums were ``sums_t``."""
        return float(self.bands.violation(sums_t[:, None], np.array([t]))[0])

    def move(self, i: int, t: int) -> None:
        """Put unit i into territory t (sums and members follow)."""
        s = int(self.label[i])
        self.members[s].discard(i)
        self.members[t].add(i)
        self.label[i] = t
        self._cuts[s] = self._cuts[t] = False
        if len(self.a):
            self.sums[:, s] -= self.a[:, i]
            self.sums[:, t] += self.a[:, i]

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

    def reached(self, t: int, without: int = -1) -> set[int]:
        """Members of territory t connected to its root (or, without roots, to its
        first member), leaving out unit ``without``."""
        members = self.members[t]
        if self.roots is not None:
            start = int(self.roots[t])
        else:
            start = min((m for m in members if m != without), default=-1)
            if start < 0:
                return set()
        return self.flood(start, lambda v: v != without and v in members)

    def pieces(self, t: int) -> list[set[int]]:
        """The connected pieces of territory t, the largest first."""
        left = set(self.members[t])
        out = []
        while left:
            piece = self.flood(min(left), lambda v: v in left)
            left -= piece
            out.append(piece)
        return sorted(out, key=len, reverse=True)

    def piece_counts(self) -> np.ndarray:
        """Per territory: how many connected pieces it is in, all territories at once
        (one connected-components pass over the edges inside territories)."""
        from territory_opt.graph import piece_counts

        return piece_counts(self.indptr, self.indices, self.label, self.k)

    def cut_units(self, t: int) -> set[int] | None:
        """The articulation points of territory t (the members whose leaving cuts it
        in two), or None when t is not connected. Computed for t alone (Tarjan's
        low-link, iterative) and kept until a move touches t."""
        cached = self._cuts[t]
        if cached is False:
            cached = self._cuts[t] = self._articulation(t)
        return cached  # type: ignore[return-value]

    def _articulation(self, t: int) -> set[int] | None:
        members = self.members[t]
        if not members:
            return set()
        label, indptr, indices = self.label, self.indptr, self.indices
        start = int(self.roots[t]) if self.roots is not None and self.roots[t] in members \
            else min(members)
        order = {start: 0}
        low = {start: 0}
        cuts: set[int] = set()
        root_children = 0
        stack = [(start, -1, iter(indices[indptr[start]:indptr[start + 1]].tolist()))]
        while stack:
            u, parent, it = stack[-1]
            for v in it:
                if label[v] != t:
                    continue
                if v not in order:
                    order[v] = low[v] = len(order)
                    stack.append((v, u, iter(indices[indptr[v]:indptr[v + 1]].tolist())))
                    break
                if v != parent and order[v] < low[u]:
                    low[u] = order[v]
            else:
                stack.pop()
                if parent < 0:
                    continue
                if low[u] < low[parent]:
                    low[parent] = low[u]
                if parent == start:
                    root_children += 1
                elif low[u] >= order[parent]:
                    cuts.add(parent)
        if len(order) != len(members):
            return None
        if root_children > 1:
            cuts.add(start)
        return cuts

    def can_leave(self, i: int) -> bool:
        """Whether unit i may move without cutting its territory in two (for a
        connected territory: i is no articulation point of it)."""
        if self.fixed[i]:
            return False
        t = int(self.label[i])
        cuts = self.cut_units(t)
        if cuts is not None:
            return i not in cuts
        return len(self.reached(t, without=i)) == len(self.members[t]) - 1

    def other_labels(self, i: int) -> set[int]:
        """The territories, other than its own, that unit i touches and may join (its
        segment among their reps'): where every search may move it."""
        own = int(self.label[i])
        out = {int(self.label[v]) for v in self.neighbours(i)} - {own}
        if self.allowed is not None:
            out = {t for t in out if self.allowed[i, t]}
        return out

    def may_join(self, i: int, t: int) -> bool:
        """Whether unit i may be in territory t (its segment among the rep's)."""
        return self.allowed is None or bool(self.allowed[i, t])
