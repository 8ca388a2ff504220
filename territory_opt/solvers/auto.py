"""``method="auto"``: which method a problem gets, and the composites of them.

:func:`choose_method` names the method by the problem's shape; :func:`solve_auto`
runs it. Two composites, both "the plain plan first":

- contiguity with fixed centres (:func:`solve_connected`): the search
  (:mod:`~territory_opt.solvers.search`) from the plain problem's plan gives a
  connected plan and the plain bound; up to ``EXACT_UNITS`` units the flow MIP
  (:mod:`~territory_opt.solvers.mip`) then starts from it for the time left, and its
  bound, when above the plain one, is the certificate (``options["bound_from"]`` says
  whose); exact windows (:mod:`~territory_opt.solvers.windows`) improve the plan
  where it costs most above the plain plan, on maps of any size;
- contiguity with model-chosen centres up to the MIP's size
  (:func:`solve_model_contiguous`): the plain optimum when it is connected, else the
  flow MIP started from the plain plan connected by location-allocation.

The methods themselves are leaves: none of them chooses another.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

import numpy as np

from territory_opt.checks import check_feasibility, plan_faults
from territory_opt.errors import InfeasibleError, SolverError
from territory_opt.problem import TerritoryProblem
from territory_opt.solution import Solution, relative_gap
from territory_opt.solvers import lagrange, locate
from territory_opt.solvers.lagrange import CONTIGUOUS_UNITS, solve_lagrange
from territory_opt.solvers.locate import solve_locate
from territory_opt.solvers.mip import solve_mip
from territory_opt.solvers.options import SolveOptions
from territory_opt.solvers.search import run_search, searched_solution, solve_search
from territory_opt.solvers.windows import MIN_SECONDS, improve_by_windows

__all__ = ["choose_method", "search_method", "solve_auto", "solve_connected",
           "solve_model_contiguous"]

logger = logging.getLogger(__name__)

SEARCH_SHARE = 0.5  # with a MIP after it: the search's share of the time left
# contiguity, fixed centres: units up to which the whole flow MIP runs after the search
# (then the windows); above, the windows alone. Measured: the top-down regions of the
# demo (about 320 units x 4) close the gap in 8.4 s by the MIP, in 17 s by windows.
EXACT_UNITS = CONTIGUOUS_UNITS
POLISH_SECONDS = 5.0  # time left below which the search's plan is not handed to the MIP
POLISH_MARGIN = 0.75  # of the time left, for the MIP (its model building overruns a little)
PLAIN_SHARE = 0.5  # model centres with contiguity: of the time limit, for the plain plan
LOCATE_SHARE = 0.1  # ... and of the time left, for connecting it by location-allocation


def choose_method(problem: TerritoryProblem) -> str:
    """The method ``method="auto"`` picks: with contiguity and fixed centres the search
    (then the flow MIP from its plan while time is left and the gap is above the one
    asked, up to ``lagrange.CONTIGUOUS_UNITS`` units); otherwise the Lagrangian path
    above a million unit-centre pairs (units x territories, or units^2 with model
    centres), or with contiguity above ``lagrange.CONTIGUOUS_UNITS`` units (the MIP's
    flow model finds no plan there in minutes: 5,622 ZIP codes x 40, none in 289 s),
    else the MIP. Model-chosen centres between ``locate.MIP_UNITS`` and
    ``locate.DUAL_UNITS`` units with contiguity or several balanced measures take the
    search's location-allocation (there the MIP's units^2 model overran a 30 s limit
    3.5x without a plan on Georgia's 949 units, three measures +-5 %); with one
    measure the MIP keeps its proofs."""
    if problem.contiguity and problem.centres == "fixed":
        return "search"
    if problem.centres == "model" and locate.MIP_UNITS < problem.n_units <= locate.DUAL_UNITS \
            and (problem.contiguity or len(problem.bands) > 1):
        return "search"
    if problem.contiguity and problem.n_units > lagrange.CONTIGUOUS_UNITS:
        return "lagrange"
    return "lagrange" if problem.n_units * problem.n_columns > lagrange.LARGE_PAIRS else "mip"


def search_method(problem: TerritoryProblem, options: SolveOptions) -> Solution:
    """``method="search"``: the territory-design search with fixed centres,
    location-allocation on it with model-chosen centres."""
    if problem.centres == "model":
        return solve_locate(problem, options)
    return solve_search(problem, options)


def solve_auto(problem: TerritoryProblem, options: SolveOptions) -> Solution:
    """Solve by the method :func:`choose_method` names; for contiguity with fixed
    centres up to ``CONTIGUOUS_UNITS`` units, the search then the flow MIP from its
    plan (module docstring). Raises as the methods do; a plan the search misses but
    the MIP finds is returned, and when the plain problem is infeasible the exact
    model's diagnosis is raised (it names what contiguity adds)."""
    name = choose_method(problem)
    if name == "mip" and problem.centres == "model" and problem.contiguity \
            and problem.contiguity_method == "flow":
        return solve_model_contiguous(problem, options)
    if name != "search":
        return {"mip": solve_mip, "lagrange": solve_lagrange}[name](problem, options)
    if not (problem.contiguity and problem.centres == "fixed"):
        return search_method(problem, options)
    return solve_connected(problem, options)


def solve_connected(problem: TerritoryProblem, options: SolveOptions) -> Solution:
    """Fixed centres with contiguity (module docstring): the search from the plain
    plan; up to ``EXACT_UNITS`` units the whole flow MIP from its plan (or alone, when
    the search found none) for most of the time left, whose bound, when above the
    plain one, is the certificate; then exact windows on the best plan while the gap
    is above the one asked. When the plain problem is infeasible the exact model's
    diagnosis is raised (it names what contiguity adds)."""
    clock = time.perf_counter()
    deadline = None if options.time_limit is None else clock + options.time_limit
    whole = problem.n_units <= EXACT_UNITS

    def left() -> float | None:
        return None if deadline is None else deadline - time.perf_counter()

    try:
        found = run_search(problem, options, share=SEARCH_SHARE)
    except InfeasibleError:  # the exact model names what contiguity adds
        if problem.n_units > CONTIGUOUS_UNITS:
            raise
        return solve_mip(problem, replace(options, time_limit=max(1.0, left() or 0.0)
                                          if deadline is not None else None))
    seconds, info, bound = found.seconds, found.info, found.bound
    plan = found.labels if found.valid(problem) else None
    bound_from = "plain"
    if plan is not None and bound is not None and \
            relative_gap(problem.objective_of(plan), bound) <= options.gap:
        return searched_solution(problem, options, plan, bound, seconds, info)
    rest = left()
    if whole and (rest is None or rest >= POLISH_SECONDS):
        t0 = time.perf_counter()
        logger.info("the flow MIP from the search's plan (%s) for %s s",
                    "none" if plan is None else f"{problem.objective_of(plan):.8g}",
                    "no limit" if rest is None else f"{POLISH_MARGIN * rest:.1f}")
        try:
            exact = solve_mip(problem, replace(options, time_limit=None if rest is None
                                               else POLISH_MARGIN * rest),
                              start=plan, start_bound=bound)
        except SolverError:
            if plan is None:
                raise
        else:
            own = exact.options.get("model_bound")
            if own is not None and (bound is None or own > bound):
                bound, bound_from = own, "model"
            if plan is None or exact.objective < problem.objective_of(plan) - 1e-9:
                plan = exact.unit_centres()
            info = info | {"mip_bound": own}
        seconds["polish"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    if plan is not None and (bound is None or relative_gap(problem.objective_of(plan), bound)
                             > options.gap) and ((more := left()) is None
                                                 or more >= MIN_SECONDS):
        # the windows: where the search stalls on larger maps, after the MIP on small
        plan, counts = improve_by_windows(problem, plan, options, reference=found.start,
                                          deadline=deadline)
        info = info | counts
        seconds["windows"] = time.perf_counter() - t0
    if plan is None:
        raise SolverError(f"no connected plan within the bands found in "
                          f"{time.perf_counter() - clock:.0f} s; give it more time "
                          "(--time-limit), widen the bands, or solve with method='mip', "
                          "which can prove whether one exists")
    method = "search" + ("+windows" if info.get("windows") else "") \
        + ("+mip" if "mip_bound" in info else "")
    return searched_solution(problem, options, plan, bound, seconds,
                             info | {"plain_bound": found.bound}, bound_from=bound_from,
                             method=method)


def solve_model_contiguous(problem: TerritoryProblem, options: SolveOptions) -> Solution:
    """Model-chosen centres with contiguity, by the flow MIP, the plain plan first.

    The plain problem (no contiguity) is solved in at most ``PLAIN_SHARE`` of the time
    limit: when its optimum is connected it is the answer, proven by its own bound;
    otherwise location-allocation on the search (:func:`~territory_opt.solvers.locate.locate`)
    connects it from the plain plan's centres, and that connected plan starts the flow
    MIP for the time left, the plain bound holding for it. When no connected plan is
    found that way, the flow MIP decides alone whether one exists (its feasibility
    model). A plain problem with no plan has no connected one either: its error
    (which says why) is raised.
    """
    clock = time.perf_counter()
    limit = options.time_limit
    deadline = None if limit is None else clock + limit
    check_feasibility(problem)  # what contiguity adds (islands) is named first
    plain = solve_mip(problem.relaxation(), replace(
        options, time_limit=None if limit is None else PLAIN_SHARE * limit))
    plan = plain.unit_centres()
    if plain.status == "optimal" and not plan_faults(problem, plan):
        logger.info("the plain optimum is connected: it is the contiguous optimum")
        return Solution.from_unit_centres(
            problem, plan, status="optimal", bound=plain.bound, solver=plain.solver,
            seconds=plain.seconds, options=plain.options | {
                "contiguity_rounds": 0, "plain_bound": plain.bound, "bound_from": "plain"})
    t0 = time.perf_counter()
    left = None if deadline is None else deadline - t0
    stop = None if left is None else t0 + LOCATE_SHARE * left
    try:
        found = locate.locate(problem, np.unique(plan), deadline=stop,
                       random_state=options.random_state)
        start = found.unit_centres if found.violation <= 1e-9 and \
            not plan_faults(problem, found.unit_centres) else None
    except SolverError:  # a piece it cannot join: the flow MIP decides
        start = None
    logger.info("the plain plan connected by location-allocation in %.1f s: %s",
                time.perf_counter() - t0, "none" if start is None
                else f"{problem.objective_of(start):.8g}")
    left = None if deadline is None else max(1.0, deadline - time.perf_counter())
    if start is None:  # the flow MIP decides whether a connected plan exists
        return solve_mip(problem, replace(options, time_limit=left), plain=plain)
    exact = solve_mip(problem, replace(options, time_limit=left), start=start,
                      start_bound=plain.bound)
    seconds = dict(exact.seconds)
    seconds["presolve"] += time.perf_counter() - clock - sum(exact.seconds.values())
    return Solution.from_unit_centres(
        problem, exact.unit_centres(), status=exact.status, bound=exact.bound,
        solver=exact.solver, seconds=seconds,
        options=exact.options | {"start": "plain plan, connected", "plain_bound": plain.bound})
