"""Solving a :class:`~territory_opt.problem.TerritoryProblem`: one entry, many methods.

:func:`solve` checks the options once and hands the problem to a method; every
method takes ``(problem, options)`` and returns a :class:`~territory_opt.Solution`
whose status, objective, bound and gap mean the same whatever the method
(networkx's ``maximum_flow(..., flow_func=...)`` is the model):

- ``"mip"`` (:mod:`~territory_opt.solvers.mip`): the exact mixed-integer model
  through PuLP and HiGHS;
- ``"lagrange"`` (:mod:`~territory_opt.solvers.lagrange`): the Lagrangian dual of
  the bands, rounding and repair, for national sizes, with a certified bound;
- ``"search"`` (:mod:`~territory_opt.solvers.search`): connected plans by ejection
  chains and tabu search, certified by the plain problem's bound.

The HiGHS adapter (:mod:`~territory_opt.solvers.highs`) and the local searches on
a :class:`~territory_opt.plan.Plan` (:mod:`~territory_opt.solvers.local`) serve
both.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from territory_opt.checks import plan_faults
from territory_opt.errors import InfeasibleError, InputError, SolverError
from territory_opt.problem import TerritoryProblem
from territory_opt.solution import Solution
from territory_opt.solvers.auto import choose_method, search_method, solve_auto
from territory_opt.solvers.lagrange import solve_lagrange
from territory_opt.solvers.locate import locate_compromise
from territory_opt.solvers.mip import solve_mip
from territory_opt.solvers.options import SolveOptions
from territory_opt.solvers.regions import solve_top_down
from territory_opt.solvers.search import solve_compromise

__all__ = ["METHODS", "SolveOptions", "choose_method", "solve"]

METHODS: dict[str, Callable[[TerritoryProblem, SolveOptions], Solution]] = {
    "mip": solve_mip,
    "lagrange": solve_lagrange,
    "search": search_method,
}
# the names of earlier releases
ALIASES = {"exact": "mip", "large": "lagrange"}


def solve(
    problem: TerritoryProblem,
    *,
    method: str = "auto",
    solver: str = "HiGHS",
    time_limit: float | None = None,
    gap: float = 1e-4,
    threads: int | None = None,
    random_state: int = 0,
    msg: bool = False,
    reduce: bool = True,
    diagnose: bool = True,
    infeasible: str = "refuse",
    regions: str = "joint",
    workers: int | None = None,
) -> Solution:
    """Solve ``problem`` within a relative gap and time limit.

    Parameters
    ----------
    problem
        The territory problem.
    method
        ``"mip"``: the exact MIP (:func:`territory_opt.solvers.mip.solve_mip`);
        ``"lagrange"``: the Lagrangian path for national sizes
        (:func:`territory_opt.solvers.lagrange.solve_lagrange`); ``"auto"``
        (default): see :func:`choose_method`. ``"exact"`` and ``"large"`` are
        the older names of the two.
    solver
        PuLP solver name for the MIP; ``"HiGHS"`` (default) reports its proven
        bound. The Lagrangian path always uses HiGHS.
    time_limit
        Seconds for all solver stages together; None for no limit.
    gap
        Relative optimality gap at which the solver may stop (1e-4 = 0.01 %).
    threads
        Solver threads; None lets the solver decide.
    random_state
        Solver seed, for reproducible runs.
    msg
        Show the solver's log.
    reduce
        MIP: solve the LP, find an incumbent near it and fix variables by
        reduced costs before the MIP; False hands the full model to the solver.
    diagnose
        MIP: when the solver proves the problem infeasible, re-solve it with
        elastic bands (up to 30 s) so that the error says which bands must
        give, and by how much.
    infeasible
        When no plan holds every band (proven, or none found in the time):
        ``"refuse"`` (default) raises :class:`InfeasibleError` (or
        :class:`SolverError`) with the diagnosis; ``"compromise"`` returns the plan
        nearest the bands instead (:func:`~territory_opt.solvers.search.solve_compromise`:
        connected when contiguity is asked, locks and segments kept; with model-chosen
        centres location-allocation's nearest plan,
        :func:`~territory_opt.solvers.locate.locate_compromise`), with status
        ``"relaxed"``; it still raises when no such plan exists (a unit no territory
        can join connected).
    regions
        With reps in regions: ``"joint"`` (default) solves both levels in one
        model (``method`` as above); ``"top_down"`` solves the regions first,
        then each region's territories in parallel
        (:mod:`~territory_opt.solvers.regions`), each level by ``method``.
    workers
        Top-down: Dask worker processes for the regions' sub-problems (None:
        one per core; 1: in this process, one after another).

    Returns
    -------
    Solution
        With ``status`` ``"optimal"`` (proven within ``gap``), ``"feasible"``
        (a valid plan not proven optimal; ``gap`` says how far, None without a
        bound) or, with ``infeasible="compromise"``, ``"relaxed"`` (outside some
        bands: no bound, no gap); ``options["method"]`` names the method used.

    Raises
    ------
    InfeasibleError
        If no assignment meets the bands, locks and contiguity (checked before
        the model is built where possible, else proven by the solver).
    SolverError
        If the solver stops without any feasible assignment. Every plan is
        re-checked (:func:`~territory_opt.checks.plan_faults`: bands, locks,
        contiguity, centres) before it is returned; a broken one is never handed on.
    """
    options = SolveOptions(solver=solver, time_limit=time_limit, gap=gap, threads=threads,
                           random_state=random_state, msg=msg, reduce=reduce,
                           diagnose=diagnose, infeasible=infeasible)
    name = ALIASES.get(method, method)
    if name not in (*METHODS, "auto"):
        raise InputError(f"method must be 'auto', {', '.join(map(repr, METHODS))}, got "
                         f"{method!r}")
    if regions not in ("joint", "top_down"):
        raise InputError(f"regions must be 'joint' (one model) or 'top_down' (regions "
                         f"first, then each region's territories), got {regions!r}")
    clock = time.perf_counter()
    try:
        if regions == "top_down":
            solution = solve_top_down(problem, options, solve=solve, method=name,
                                      workers=workers)
            name = "top_down"
        elif name == "auto":
            name = choose_method(problem)
            solution = solve_auto(problem, options)
        else:
            solution = METHODS[name](problem, options)
    except (InfeasibleError, SolverError) as exc:
        if infeasible != "compromise":
            raise
        compromise = locate_compromise if problem.centres == "model" and \
            not problem.region_bands else solve_compromise
        solution = compromise(problem, options, exc, spent=time.perf_counter() - clock)
        name = "search"
    faults = plan_faults(problem, solution.unit_centres(),
                         bands=solution.status != "relaxed")
    if faults:  # never hand on a broken plan
        raise SolverError(f"method {name!r} returned a plan that breaks {', '.join(faults[:5])}"
                          f"{' and more' if len(faults) > 5 else ''}; this is a bug, please "
                          "report it (another method may solve it meanwhile)")
    return solution
