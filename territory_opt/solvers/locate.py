"""Model-chosen centres on the territory-design search (``method="search"``).

When the plan chooses the centres (``centres="model"``) and the problem is past the
exact model's reach, plans come from location-allocation with the search of
:mod:`~territory_opt.solvers.search` as the allocation, and the certificate from
the Lagrangian dual of the assignment rows (:mod:`~territory_opt.solvers.centres`),
which holds for every plan, connected or not:

1. **Centres to start from**: k-means++ on the units' coordinates, weighted by the
   objective's weight (each start with its own seed), and the centres of the dual's
   knapsacks while it climbs.
2. **Allocation** to given centres: from each unit's nearest centre (territories
   grown from the centres, cheapest frontier unit first, with contiguity), the
   search's ejection chains and tabu phases restore every band of ``balance:``
   (all measures in one penalty) and lower the cost; each centre stays in its
   territory (it is the territory's root).
3. **Location**: every territory's centre moves to the member about which its
   members cost least; the units are allocated again from the plan they are in
   (the new centre is a member, so the territory stays connected), until the
   centres repeat or a round does not improve.
4. **Multistart** until the time limit, or until a plan is within the gap asked
   of the bound. The best plan within every band is the answer.

Every stage counts against the time limit; the bound's share is ``BOUND_SHARE``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from territory_opt.errors import SolverError
from territory_opt.problem import TerritoryProblem, plan_faults
from territory_opt.solution import Solution, relative_gap
from territory_opt.solvers.centres import dual_bound
from territory_opt.solvers.lagrange import allocate_centres
from territory_opt.solvers.local import locate_allocate
from territory_opt.solvers.options import SolveOptions
from territory_opt.solvers.search.engine import search
from territory_opt.solvers.search.start import grow_plan, solve_clock

__all__ = ["Located", "locate", "seed_centres", "solve_locate"]

logger = logging.getLogger(__name__)

MIP_UNITS = 300  # model-centre problems up to this size go to the exact MIP (auto)
FIRST_SHARE = 0.5  # of the time limit, for the first location-allocation
BOUND_SHARE = 0.25  # of the time limit, for the Lagrangian bound (and its plans)
DUAL_UNITS = 3000  # units up to which the bound is computed (its matrices are n x n)
ROUND_STALL = 2  # idle tabu rounds of each allocation inside location-allocation
PLAN_SECONDS = 3.0  # at most, for each plan from the bound's knapsack centres
STARTS = 6  # starts without a time limit


@dataclass
class Located:
    """A plan of location-allocation: its centre units, each unit's position among
    them, its band violation (0: every band holds) and cost."""

    centres: np.ndarray
    labels: np.ndarray
    violation: float
    objective: float
    rounds: int

    def better_than(self, other: Located | None) -> bool:
        if other is None:
            return True
        (mine, cost), (theirs, rival) = _rank(self), _rank(other)
        return mine < theirs or (mine == theirs and cost < rival - 1e-9)

    @property
    def unit_centres(self) -> np.ndarray:
        return self.centres[self.labels]


def _key(violation: float) -> float:
    return 0.0 if violation <= 1e-9 else round(violation, 9)


def seed_centres(problem: TerritoryProblem, rng: np.random.Generator) -> np.ndarray:
    """k distinct centre units by k-means++ on the coordinates, weighted by the
    objective's weight."""
    from sklearn.cluster import kmeans_plusplus

    xy = problem.units[["x", "y"]].to_numpy(dtype=float)
    w = problem.values(problem.weight)
    w = w + 1e-3 * max(float(w.mean()), 1e-9)  # every unit may be drawn
    _, idx = kmeans_plusplus(xy, problem.n_territories, sample_weight=w,
                             random_state=int(rng.integers(2**31 - 1)))
    centres = list(dict.fromkeys(int(i) for i in idx))
    free = np.setdiff1d(np.arange(problem.n_units), centres)
    rng.shuffle(free)
    return np.array(centres + free[:problem.n_territories - len(centres)].tolist(), dtype=int)


def allocate(problem: TerritoryProblem, centres: np.ndarray, labels: np.ndarray | None, *,
             deadline: float | None, random_state: int, stall: int
             ) -> tuple[np.ndarray, float]:
    """Each unit's position among ``centres`` (step 2) and the plan's band violation
    (0: every band holds): the balanced assignment of the Lagrangian path's
    :class:`~territory_opt.solvers.lagrange.Allocator` (its LP and rounding MIP hold
    every band at once); with contiguity, the search then connects it (pieces cut off
    from their centre join a neighbour, the bands are restored). When the allocator
    finds none in its time, the search starts from ``labels`` (None: territories grown
    from the centres, or each unit's nearest centre)."""

    got = allocate_centres(problem, centres, deadline=deadline, seed=random_state)
    if got is not None:
        labels = got[1].territory
        if not problem.contiguity:
            return labels, 0.0
    elif labels is None:
        cost = problem.cost_block(np.arange(problem.n_units), centres)
        if problem.contiguity:
            labels = grow_plan(problem, random_state=random_state, cost=cost, roots=centres)
        else:
            labels = np.argmin(cost, axis=1)
            labels[centres] = np.arange(len(centres))
    labels, violation, _ = search(problem, labels, deadline=deadline, centres=centres,
                                  random_state=random_state, stall=stall)
    return labels, violation


def locate(problem: TerritoryProblem, centres: np.ndarray, *, deadline: float | None,
           random_state: int = 0, stall: int = ROUND_STALL) -> Located:
    """Location-allocation from ``centres`` (steps 2 and 3, the loop of
    :func:`~territory_opt.solvers.local.locate_allocate`): the best plan it passes
    (violation first, then cost); each allocation starts from the plan before."""

    passed: list[Located] = []

    def allocation(at: np.ndarray) -> np.ndarray | None:
        labels, violation = allocate(problem, at, passed[-1].labels if passed else None,
                                     deadline=deadline, stall=stall,
                                     random_state=random_state + len(passed) + 1)
        found = Located(at, labels, violation, problem.objective_of(at[labels]),
                        len(passed) + 1)
        better = found.better_than(min(passed, key=_rank) if passed else None)
        passed.append(found)
        return labels if better else None  # None ends the loop: this round did not improve

    locate_allocate(problem, np.asarray(centres, dtype=int), allocation, deadline=deadline)
    best = min(passed, key=_rank)
    best.rounds = len(passed)
    return best


def _rank(found: Located) -> tuple[float, float]:
    """Plans in order of preference: violation first, then cost."""
    return _key(found.violation), found.objective


def solve_locate(problem: TerritoryProblem, options: SolveOptions) -> Solution:
    """Solve a model-centres ``problem`` by location-allocation on the search (module
    docstring), within the options' time limit.

    The bound (up to ``DUAL_UNITS`` units) is the Lagrangian dual's, computed in
    ``BOUND_SHARE`` of the time limit; above, the plan has ``bound=None``. The status
    is ``"optimal"`` only when the plan is within the options' gap of the bound.

    Raises
    ------
    InfeasibleError
        When the checks before any solve find a conflict (the bands cannot hold the
        total, a unit heavier than a territory may be).
    SolverError
        When no plan within the bands is found in the time.
    """

    clock, deadline, seconds = solve_clock(problem, options)
    limit = options.time_limit
    rng = np.random.default_rng(options.random_state)
    info: dict[str, Any] = {"start": "k-means++", "locate_starts": 0}
    best: Located | None = None

    def keep(found: Located, how: str) -> None:
        nonlocal best
        info["locate_starts"] += 1
        if found.better_than(best):
            best = found
            info["start"] = how
            logger.info("locate (%s): violation %.3g, objective %.8g", how, found.violation,
                        found.objective)

    t0 = time.perf_counter()
    first = None if limit is None else clock + FIRST_SHARE * limit
    keep(locate(problem, seed_centres(problem, rng), deadline=first,
                random_state=options.random_state), "k-means++")
    bound = None
    if problem.n_units <= DUAL_UNITS:
        stop = None if limit is None else time.perf_counter() + BOUND_SHARE * limit
        if deadline is not None:
            stop = min(stop, deadline)  # type: ignore[type-var]

        def make_plan(centres: np.ndarray) -> np.ndarray | None:
            end = time.perf_counter() + PLAN_SECONDS
            found = locate(problem, centres, deadline=end if stop is None else min(end, stop),
                           random_state=options.random_state)
            keep(found, "knapsack centres")
            return found.unit_centres if found.violation <= 1e-9 else None

        assert best is not None
        inside = best.violation <= 1e-9
        dual = dual_bound(problem.relaxation(), deadline=stop, make_plan=make_plan,
                          upper=best.objective if inside else np.inf,
                          plan=best.unit_centres if inside else None, target_gap=options.gap)
        if np.isfinite(dual.bound):
            bound = float(dual.bound)
        info |= {"lagrangian_bound": bound, "lagrangian_steps": dual.iterations}
        seconds["presolve"] = time.perf_counter() - t0
    target = None if bound is None or options.gap >= 1 else bound / (1 - options.gap)
    t0 = time.perf_counter()
    starts = 1
    while True:
        assert best is not None
        if target is not None and best.violation <= 1e-9 and best.objective <= target:
            break
        if deadline is None and starts >= STARTS:
            break
        if deadline is not None and time.perf_counter() >= deadline:
            break
        starts += 1
        keep(locate(problem, seed_centres(problem, rng), deadline=deadline,
                    random_state=options.random_state + 1000 * starts), "k-means++")
    seconds["solve"] = time.perf_counter() - t0
    assert best is not None
    spent = time.perf_counter() - clock
    labels = best.unit_centres
    if best.violation > 1e-9 or plan_faults(problem, labels):
        raise SolverError(
            f"no plan within the bands found in {spent:.0f} s ({info['locate_starts']} "
            f"starts of location-allocation; the nearest is {best.violation:.3g} outside, in "
            "shares of a territory's average); give it more time (--time-limit), widen the "
            "bands, balance fewer measures, or use more, smaller units")
    if bound is not None:
        bound = min(bound, best.objective)
    status = "optimal" if bound is not None and \
        relative_gap(best.objective, bound) <= options.gap + 1e-12 else "feasible"
    return Solution.from_unit_centres(
        problem, labels, status=status, bound=bound, solver="HiGHS", seconds=seconds,
        options=options.record("search") | info | {
            "locate_rounds": best.rounds, "bound_from": None if bound is None else "lagrangian"})
