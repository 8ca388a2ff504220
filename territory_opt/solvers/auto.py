"""``method="auto"``: which method a problem gets, and the one composite of them.

:func:`choose_method` names the method by the problem's shape; :func:`solve_auto`
runs it. The composite is for contiguity with fixed centres up to the flow model's
size: the search (:mod:`~territory_opt.solvers.search`) gives a connected plan and
the plain bound, then the exact flow MIP (:mod:`~territory_opt.solvers.mip`) starts
from that plan for the time left while the gap is above the one asked; the better
plan and the better bound are kept. The methods themselves are leaves: none of them
chooses another.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from territory_opt.errors import InfeasibleError, SolverError
from territory_opt.problem import TerritoryProblem
from territory_opt.solution import Solution, relative_gap
from territory_opt.solvers import lagrange, locate
from territory_opt.solvers.lagrange import CONTIGUOUS_UNITS, solve_lagrange
from territory_opt.solvers.locate import solve_locate
from territory_opt.solvers.mip import solve_mip
from territory_opt.solvers.options import SolveOptions
from territory_opt.solvers.search import solve_search

__all__ = ["choose_method", "search_method", "solve_auto"]

logger = logging.getLogger(__name__)

SEARCH_SHARE = 0.5  # with a MIP after it: the search's share of the time left
POLISH_SECONDS = 5.0  # time left below which the search's plan is not handed to the MIP
POLISH_MARGIN = 0.75  # of the time left, for the MIP (its model building overruns a little)


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
    if name != "search":
        return {"mip": solve_mip, "lagrange": solve_lagrange}[name](problem, options)
    small = problem.contiguity and problem.centres == "fixed" \
        and problem.n_units <= CONTIGUOUS_UNITS
    if not small:
        return search_method(problem, options)
    clock = time.perf_counter()
    deadline = None if options.time_limit is None else clock + options.time_limit
    found: Solution | None = None
    try:
        found = solve_search(problem, options, share=SEARCH_SHARE)
    except InfeasibleError:  # the exact model names what contiguity adds
        left = None if deadline is None else max(1.0, deadline - time.perf_counter())
        return solve_mip(problem, replace(options, time_limit=left))
    except SolverError as exc:
        missed = exc
    left = None if deadline is None else deadline - time.perf_counter()
    if (found is not None and found.gap is not None and found.gap <= options.gap) or (
            left is not None and left < POLISH_SECONDS):
        if found is None:
            raise missed
        return found
    t0 = time.perf_counter()
    bound = None if found is None else found.bound
    logger.info("the flow MIP from the search's plan (gap %s) for %s s",
                None if found is None else f"{found.gap:.3%}",
                "no limit" if left is None else f"{POLISH_MARGIN * left:.1f}")
    exact = solve_mip(problem, replace(options, time_limit=None if left is None
                                       else POLISH_MARGIN * left),
                      start=None if found is None else found.unit_centres(),
                      start_bound=bound)
    if exact.bound is not None:
        bound = exact.bound if bound is None else max(bound, min(exact.bound, exact.objective))
    best = exact if found is None or exact.objective < found.objective else found
    if bound is not None:
        bound = min(bound, best.objective)
    status = "optimal" if bound is not None and \
        relative_gap(best.objective, bound) <= options.gap + 1e-12 else "feasible"
    seconds = dict(found.seconds) if found is not None else dict(exact.seconds)
    seconds["polish"] = time.perf_counter() - t0
    record = (found.options if found is not None else {}) | {
        "method": "search+mip", "mip_bound": exact.bound, "plain_bound": bound}
    return Solution.from_unit_centres(problem, best.unit_centres(), status=status,
                                      bound=bound, solver="HiGHS", seconds=seconds,
                                      options=record)
