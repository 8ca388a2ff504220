"""Model-chosen centres on the territory-design search (``method="search"``).

When the plan chooses the centres (``centres="model"``) and the problem is past the
exact model's reach, plans come from location-allocation with the search of
:mod:`~territory_opt.solvers.search` as the allocation, and the certificate from
the Lagrangian dual of the assignment rows (:mod:`~territory_opt.solvers.centres`),
which holds for every plan, connected or not:

1. **The bound first, centres to start from**: the Lagrangian dual (up to
   ``DUAL_UNITS`` units, ``BOUND_SHARE`` of the time), then location-allocation from
   its knapsacks' centres, spread (:meth:`~territory_opt.solvers.centres.CentreDual.spread`),
   and from k-means++ on the units' coordinates weighted by the objective's weight;
   then the dual again from its best prices, aimed at the best plan, and a plan from
   its centres (``AGAIN_SHARE`` each).
2. **Allocation** to given centres: from each unit's nearest centre (territories
   grown from the centres, cheapest frontier unit first, with contiguity), the
   search's ejection chains and tabu phases restore every band of ``balance:``
   (all measures in one penalty) and lower the cost; each centre stays in its
   territory (it is the territory's root).
3. **Location**: every territory's centre moves to the member about which its
   members cost least; the units are allocated again from the plan they are in
   (the new centre is a member, so the territory stays connected), until the
   centres repeat or a round does not improve.
4. **Multistart** (k-means++) until the time limit, or until a plan is within the
   gap asked of the bound. The best plan within every band is the answer; with
   ``infeasible="compromise"`` and none found, the nearest plan, status ``"relaxed"``.

Every stage counts against the time limit.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from territory_opt.checks import plan_faults
from territory_opt.errors import InfeasibleError, SolverError
from territory_opt.problem import TerritoryProblem
from territory_opt.solution import Solution, relative_gap
from territory_opt.solvers.centres import dual_bound
from territory_opt.solvers.lagrange import ALLOCATION_GAP, allocate_centres
from territory_opt.solvers.local import locate_allocate
from territory_opt.solvers.options import SolveOptions
from territory_opt.solvers.search.engine import search
from territory_opt.solvers.search.start import grow_plan, solve_clock

__all__ = ["Located", "locate", "locate_compromise", "seed_centres", "solve_locate"]

logger = logging.getLogger(__name__)

MIP_UNITS = 300  # model-centre problems up to this size go to the exact MIP (auto)
FIRST_SHARE = 0.5  # of the time limit, for the first location-allocation
BOUND_SHARE = 0.25  # of the time limit, for the Lagrangian bound
AGAIN_SHARE = 0.1  # ... and for each of it and a plan again, aimed at the best plan
DUAL_UNITS = 3000  # units up to which the bound is computed (its matrices are n x n)
ROUND_STALL = 2  # idle tabu rounds of each allocation inside location-allocation
STARTS = 6  # starts without a time limit
COMPROMISE_SHARE = 0.25  # of the time limit, the compromise's at least (when it is spent)


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
    from sklearn.cluster import kmeans_plusplus  # scikit-learn: 0.8 s to import, deferred

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

    got = allocate_centres(problem, centres, deadline=deadline, seed=random_state,
                           gap=ALLOCATION_GAP)
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


def solve_locate(problem: TerritoryProblem, options: SolveOptions, *,
                 proven: bool = False) -> Solution:
    """Solve a model-centres ``problem`` by location-allocation on the search (module
    docstring), within the options' time limit.

    The bound (up to ``DUAL_UNITS`` units) is the Lagrangian dual's, computed in
    ``BOUND_SHARE`` of the time limit; above, the plan has ``bound=None``. With
    ``proven`` (no plan holds every band: the compromise's case) at most ``STARTS``
    starts, whatever time is left. The status
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
    bound, prices, tried, steps = None, None, set(), 0
    plain = problem.relaxation()

    def until(share: float) -> float | None:
        if limit is None:
            return None
        return min(time.perf_counter() + share * limit, deadline)  # type: ignore[type-var]

    # the bound first, its knapsacks' centres (spread) start plans; then the bound again
    # from its best prices, aimed at the best plan, and a plan from its centres
    for bound_share, plan_share in ((BOUND_SHARE, FIRST_SHARE / 2),
                                    (AGAIN_SHARE, AGAIN_SHARE)):
        if problem.n_units > DUAL_UNITS or (deadline is not None
                                            and time.perf_counter() >= deadline):
            break
        inside = best is not None and best.violation <= 1e-9
        dual = dual_bound(plain, deadline=until(bound_share), make_plan=None,
                          upper=best.objective if inside else np.inf,  # type: ignore[union-attr]
                          plan=best.unit_centres if inside else None,  # type: ignore[union-attr]
                          target_gap=options.gap, prices=prices)
        steps += dual.iterations
        if not np.isfinite(dual.bound) or dual.spread is None:
            break
        bound, prices = max(bound or -np.inf, float(dual.bound)), dual.prices
        if inside and relative_gap(best.objective, bound) <= options.gap:  # type: ignore[union-attr]
            break
        key = tuple(sorted(dual.spread.tolist()))
        if key in tried:
            break
        tried.add(key)
        keep(locate(problem, np.sort(dual.spread), deadline=until(plan_share),
                    random_state=options.random_state), "the bound's centres, spread")
        if len(tried) == 1:  # and k-means++ (the spread centres can sit in a poor optimum)
            keep(locate(problem, seed_centres(problem, rng), deadline=until(plan_share),
                        random_state=options.random_state), "k-means++")
    if steps:
        info |= {"lagrangian_bound": bound, "lagrangian_steps": steps}
        seconds["presolve"] = time.perf_counter() - t0
    if best is None:
        keep(locate(problem, seed_centres(problem, rng), deadline=until(FIRST_SHARE),
                    random_state=options.random_state), "k-means++")
    target = None if bound is None or options.gap >= 1 else bound / (1 - options.gap)
    t0 = time.perf_counter()
    starts = 1
    while True:
        assert best is not None
        if target is not None and best.violation <= 1e-9 and best.objective <= target:
            break
        if (deadline is None or proven) and starts >= STARTS:
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
        why = SolverError(
            f"no plan within the bands found in {spent:.0f} s ({info['locate_starts']} "
            f"starts of location-allocation; the nearest is {best.violation:.3g} outside, in "
            "shares of a territory's average); give it more time (--time-limit), widen the "
            "bands, balance fewer measures, or use more, smaller units")
        if options.infeasible != "compromise" or plan_faults(problem, labels, bands=False):
            raise why
        logger.info("no plan holds every band: compromise with violation %.4g", best.violation)
        return Solution.relaxed(problem, labels, why, best.violation, seconds,
                                options.record("search") | info
                                | {"locate_rounds": best.rounds})
    if bound is not None:
        bound = min(bound, best.objective)
    status = "optimal" if bound is not None and \
        relative_gap(best.objective, bound) <= options.gap + 1e-12 else "feasible"
    return Solution.from_unit_centres(
        problem, labels, status=status, bound=bound, solver="HiGHS", seconds=seconds,
        options=options.record("search") | info | {
            "locate_rounds": best.rounds, "bound_from": None if bound is None else "lagrangian"})


def locate_compromise(problem: TerritoryProblem, options: SolveOptions, why: Exception, *,
                      spent: float = 0.0) -> Solution:
    """Model-chosen centres' compromise (``infeasible="compromise"``) when the method
    asked found no plan within the bands (``why``): :func:`solve_locate` for what is
    left of the time limit (``COMPROMISE_SHARE`` of it at least), its nearest plan
    with status ``"relaxed"``. Raises ``why`` when the checks refute the bands or no
    plan keeps the other rules."""
    limit = options.time_limit
    left = None if limit is None else max(limit - spent, COMPROMISE_SHARE * limit)
    try:
        return solve_locate(problem, replace(options, time_limit=left, infeasible="compromise"),
                            proven=isinstance(why, InfeasibleError))
    except (InfeasibleError, SolverError):
        raise why from None
