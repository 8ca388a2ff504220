"""Model-chosen centres past the dense dual: the Lagrangian bound over candidate pairs.

:mod:`~territory_opt.solvers.centres` keeps ``n x n`` matrices, so it stops at a few
thousand units (the national 40,457 ZIP codes would need 13 GB per matrix). Here each
unit lists only its ``m`` nearest units as possible centres (a k-d tree on the
coordinates the distances are measured on) and the bound stays valid for *every* pair:

- the price of unit ``i`` is capped at ``cap_i``, a lower bound of its cost to any
  centre it does not list (its cost to the ``(m+1)``-th nearest, the distance shrunk
  by ``DISTANCE_SLACK`` where the chord order is not quite the great-circle one).
  So a pair not listed has reduced cost ``s_i = cap_i - lambda_i >= 0`` at least;
- each candidate centre ``j``'s knapsack (the band on the narrowest measure, as in
  :class:`~territory_opt.solvers.centres.BandKnapsack`) is bounded by its Lagrangian
  in the band row at a price ``nu_j``: its listed units at their reduced costs, every
  other unit at ``s_i`` (what it costs at least), summed over all units at once
  through the units sorted by ``s_i / a_i``;
- the dual function ``sum_i lambda_i + (sum of the k smallest knapsack bounds)`` is
  then a lower bound of every plan's cost whatever the prices, and the subgradient
  method raises it (Polyak steps towards the best plan), each ``nu_j`` set by an
  exact line search over its listed units for the centres that count.

The knapsacks run compiled (numba) over the pairs sorted by centre. Only distances
measured from coordinates (euclidean or great-circle) and costs without a move
penalty take this path; others get no bound above :data:`~territory_opt.solvers.
locate.DUAL_UNITS` units, as before.

Measured (2 cores): it is valid but loose. The national 40,457 ZIP codes x 200 (16.3
million pairs, 404 per unit, listed in 7-8 s, about 0.1 s a step) state a gap of
about 40 % after 30-40 s; on 2,294 ZIP codes x 40 (GA, AL, SC) it ends at 68,330
where the dense dual reaches 79,866 (plan 89,158): the caps bind, because a unit's
price also carries its band price (``|nu_j| a_i``), far above its cost to the
``m``-th nearest unit. Listing 1,000 per unit gives 71,154, every pair 76,578.
Lifting the caps (every unit not listed at ``s_i < 0`` in every knapsack) measured
worse (47,710): far centres then see every such unit as cheap. The way on: price
the knapsacks that count exactly against all units (chunks of distances, no
lists), with the listed bound only to order the rest.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
from numba import njit
from scipy.spatial import cKDTree

from territory_opt.problem import TerritoryProblem
from territory_opt.solvers.centres import band_metric

__all__ = ["CandidateDual", "candidate_bound", "takes_candidates"]

logger = logging.getLogger(__name__)

PER_TERRITORY = 2.0  # each unit lists this many times the average territory's units ...
MIN_CANDIDATES = 50  # ... and at least this many
DISTANCE_SLACK = 0.01  # great-circle: a unit not listed is at least this much less far
ITERATIONS = 2000
STALL = 10  # steps without a better bound before the step halves
MIN_STEP = 2e-3
GOAL = 0.05  # without a plan, the Polyak step aims this far above the best bound


def takes_candidates(problem: TerritoryProblem) -> bool:
    """Whether the candidate-pair bound applies: model centres, distances from
    coordinates, no move penalty, no eligibility, and a band with no negative amounts."""
    return (problem.centres == "model" and isinstance(problem.distance, str)
            and (problem.moves is None or not problem.move_penalty)
            and problem.eligible is None and band_metric(problem)[0] is not None)


@njit(cache=True)
def _knapsacks(cols, indptr, unit, cost, lam, slack, a, nu, lo, hi, fill_ratio, fill_s,
               fill_a):
    """The knapsack bound of centres ``cols`` at prices ``lam`` and band prices ``nu``
    (module doc): listed units at ``cost - lam - nu a``, every other unit at
    ``slack - nu a`` (its least reduced cost), the centre itself in; the larger of
    that and the band dropped (``nu = 0``), both lower bounds."""
    out = np.empty(len(cols))
    for c in range(len(cols)):
        j = cols[c]
        v = nu[j]
        dropped = -lam[j]
        total = -lam[j]  # the centre's own pair costs 0 (every unit lists itself)
        if v > 0:
            total += v * (lo - a[j])
            # every unit at its least reduced cost: those of ratio below nu add ...
            q = np.searchsorted(fill_ratio, v)
            total += fill_s[q] - v * fill_a[q]
            # ... but the centre itself and the listed ones count at their own cost
            u = slack[j] - v * a[j]
            if u < 0:
                total -= u
        elif v < 0:
            total += v * (hi - a[j])
        for p in range(indptr[j], indptr[j + 1]):
            i = unit[p]
            if i == j:
                continue
            r = cost[p] - lam[i]
            if r < 0:
                dropped += r
            t = r - v * a[i]
            if t < 0:
                total += t
            if v > 0:
                u = slack[i] - v * a[i]
                if u < 0:
                    total -= u
        out[c] = max(total, dropped)
    return out


@njit(cache=True)
def _line_search(indptr, unit, cost, lam, a, lo, hi, cols, nu):
    """``nu_j`` for centres ``cols``: the best band price over the listed units (the
    LP knapsack's), in place."""
    for c in range(len(cols)):
        j = cols[c]
        start, end = indptr[j], indptr[j + 1]
        m = end - start
        ratio = np.full(m, np.inf)
        weight = np.zeros(m)
        now = 0.0
        for p in range(start, end):
            i = unit[p]
            if i == j:
                continue
            r = cost[p] - lam[i]
            w = a[i]
            ratio[p - start] = r / w if w > 0 else np.inf
            weight[p - start] = w
            if r < 0:
                now += w
        order = np.argsort(ratio)
        low, high = lo - a[j], hi - a[j]
        best = 0.0
        if now < low:
            cum = 0.0
            for q in order:
                if not np.isfinite(ratio[q]):
                    break
                cum += weight[q]
                if cum >= low:
                    best = max(ratio[q], 0.0)
                    break
        elif now > high:
            cum = 0.0
            for q in order:
                cum += weight[q]
                if cum > high:
                    best = min(ratio[q], 0.0)
                    break
        nu[j] = best


@njit(cache=True)
def _members(indptr, unit, cost, lam, a, nu, cols, counts):
    """Add each chosen centre's knapsack members (reduced cost below 0) to ``counts``."""
    for c in range(len(cols)):
        j = cols[c]
        counts[j] += 1.0
        for p in range(indptr[j], indptr[j + 1]):
            i = unit[p]
            if i != j and cost[p] - lam[i] - nu[j] * a[i] < 0:
                counts[i] += 1.0


class CandidateDual:
    """The dual over candidate pairs of a model-centres ``problem`` (module doc)."""

    def __init__(self, problem: TerritoryProblem, per_unit: int | None = None) -> None:
        n, k = problem.n_units, problem.n_territories
        self.n, self.k = n, k
        metric, lower, upper = band_metric(problem)
        assert metric is not None, "takes_candidates() says when this applies"
        self.a = problem.values(metric)
        self.lo, self.hi = lower, upper
        m = per_unit or max(MIN_CANDIDATES, int(PER_TERRITORY * n / k))
        m = min(m, n - 1)
        units = problem.unit_coords
        _, near = cKDTree(units).query(units, k=m + 1, workers=-1)
        near = np.asarray(near, dtype=np.int64)
        # every unit lists itself (co-located units may come first): where it is not
        # among its m nearest, it takes the m-th place, and the m-th is the first not listed
        own = (near[:, :m] == np.arange(n)[:, None]).any(axis=1)
        first_out = np.where(own, near[:, m], near[:, m - 1])
        near[~own, m - 1] = np.flatnonzero(~own)
        rows = np.repeat(np.arange(n), m)
        cols = near[:, :m].ravel()
        w = problem.values(problem.weight)
        edge = problem.pair_distances(np.arange(n), first_out)
        slack = DISTANCE_SLACK if problem.distance == "great_circle" else 0.0
        self.cap = w * (edge * (1.0 - slack)) ** problem.power
        typical = near[:, min(m - 1, max(1, n // k))]  # the (n/k)-th nearest
        self.first = np.minimum(problem.pair_costs(np.arange(n), typical), self.cap)
        order = np.argsort(cols, kind="stable")
        self.unit = rows[order]
        self.centre = cols[order]
        self.cost = problem.pair_costs(self.unit, self.centre)
        self.indptr = np.searchsorted(self.centre, np.arange(n + 1))
        self.nu = np.zeros(n)
        self.pairs = len(order)

    def start(self) -> np.ndarray:
        """First prices: each unit's cost to its (n/k)-th nearest unit, capped."""
        return self.first.copy()

    def values(self, lam: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """The knapsack bounds of centres ``cols`` at prices ``lam`` (at most the caps)."""
        slack = self.cap - lam  # 0 or more: the prices stay within their caps
        ratio = np.where(self.a > 0, slack / np.where(self.a > 0, self.a, 1.0), np.inf)
        order = np.argsort(ratio, kind="stable")
        fill_ratio = ratio[order]
        fill_s = np.r_[0.0, np.cumsum(slack[order])]
        fill_a = np.r_[0.0, np.cumsum(self.a[order])]
        return _knapsacks(cols.astype(np.int64), self.indptr, self.unit, self.cost, lam,
                          slack, self.a, self.nu, self.lo, self.hi, fill_ratio, fill_s, fill_a)

    def evaluate(self, lam: np.ndarray) -> tuple[float, np.ndarray]:
        """The dual function at ``lam`` and its k centres. Every centre's bound at its
        last band price first; then, while a centre among the k smallest has not had
        its band price set at these prices, the 2k smallest such get theirs by line
        search (as the dense dual solves its knapsacks in order)."""
        k = self.k
        values = self.values(lam, np.arange(self.n))
        fresh = np.zeros(self.n, dtype=bool)
        while True:
            smallest = np.argpartition(values, k - 1)[:k]
            if fresh[smallest].all():
                break
            stale = np.flatnonzero(~fresh)
            cols = stale[np.argsort(values[stale], kind="stable")[:2 * k]]
            _line_search(self.indptr, self.unit, self.cost, lam, self.a, self.lo, self.hi,
                         cols.astype(np.int64), self.nu)
            values[cols] = self.values(lam, cols)
            fresh[cols] = True
        return float(lam.sum() + values[smallest].sum()), smallest

    def gradient(self, lam: np.ndarray, chosen: np.ndarray) -> np.ndarray:
        counts = np.zeros(self.n)
        _members(self.indptr, self.unit, self.cost, lam, self.a, self.nu,
                 chosen.astype(np.int64), counts)
        return 1.0 - counts


@dataclass
class CandidateBound:
    bound: float
    iterations: int
    pairs: int


def candidate_bound(problem: TerritoryProblem, *, deadline: float | None,
                    plan: np.ndarray | None = None, target_gap: float = 1e-4,
                    per_unit: int | None = None) -> CandidateBound:
    """Maximise the candidate-pair dual (module doc) until the deadline, ``ITERATIONS``
    steps, the step below ``MIN_STEP`` or the gap to the cost of ``plan`` (each unit's
    centre unit) within ``target_gap``; the plan's cost is the Polyak steps' aim.
    ``per_unit``: how many centres each unit lists (default: module constants)."""
    t0 = time.perf_counter()
    dual = CandidateDual(problem, per_unit)
    lam = dual.start()
    upper = np.inf if plan is None else problem.objective_of(plan)
    best, step, stall, it = -np.inf, 2.0, 0, 0
    logger.info("candidate pairs: %d (%d per unit) in %.1f s", dual.pairs,
                dual.pairs // dual.n, time.perf_counter() - t0)
    for it in range(1, ITERATIONS + 1):
        value, chosen = dual.evaluate(lam)
        if value > best + 1e-9 * max(abs(value), 1.0):
            best, stall = value, 0
        else:
            stall += 1
            if stall >= STALL:
                step, stall = step / 2, 0
        if it % 25 == 0:
            logger.debug("candidate dual step %d: %.8g (best %.8g, step %.3g)", it, value,
                         best, step)
        if step < MIN_STEP or (np.isfinite(upper) and upper - best
                               <= target_gap * max(abs(upper), 1e-9)):
            break
        if deadline is not None and time.perf_counter() > deadline:
            break
        grad = dual.gradient(lam, chosen)
        norm = float(grad @ grad)
        if norm < 1e-12:
            break
        goal = upper if np.isfinite(upper) else best + GOAL * abs(best) + 1.0
        # the step aims from the best bound, not from a value that fell below it (else
        # a poor step feeds a larger one)
        lam = np.minimum(lam + step * max(goal - best, 1e-9 * max(abs(goal), 1.0)) / norm
                         * grad, dual.cap)
    logger.info("candidate-pair bound %.8g after %d steps in %.1f s", best, it,
                time.perf_counter() - t0)
    return CandidateBound(best, it, dual.pairs)
