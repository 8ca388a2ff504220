"""The search as a method: ``solve(problem, method="search")``, and the compromise
plan when no plan holds every band."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from territory_opt.checks import heavy_widening, plan_faults
from territory_opt.errors import InfeasibleError, SolverError
from territory_opt.plan import Bands
from territory_opt.problem import TerritoryProblem
from territory_opt.rules import bands_in_words
from territory_opt.solution import Solution, relative_gap
from territory_opt.solvers.mip import nearest_plan
from territory_opt.solvers.options import SolveOptions
from territory_opt.solvers.search.engine import search
from territory_opt.solvers.search.start import grow_plan, plain_start, solve_clock

__all__ = ["Searched", "run_search", "searched_solution", "solve_compromise", "solve_search"]

logger = logging.getLogger(__name__)

START_SHARE = 0.5  # of the time limit, for the plain solve that gives the start and bound
PLAIN_GAP_SHARE = 1 / 3  # of the gap asked, for the plain solve's own gap
PLAIN_GAP_FLOOR = 1e-3  # ... but no tighter than this (nor than the gap asked)
COMPROMISE_SHARE = 0.05  # of the time limit, the compromise's at least (when it is spent)
ELASTIC_UNITS = 500  # units up to which the elastic model bounds the compromise's violation
ELASTIC_SHARE = 0.25  # of the compromise's time, for that bound
ELASTIC_SECONDS = 10.0  # the bound's time at most
WIDENED_SHARE = 0.4  # of the compromise's time left, for the plan of the widened bands


@dataclass
class Searched:
    """What :func:`run_search` found: the best plan (``violation`` 0 when it holds every
    band), the plain problem's plan it started from (None: grown from the roots) and
    bound, counts, and the seconds by stage since ``clock``."""

    labels: np.ndarray
    violation: float
    bound: float | None
    start: np.ndarray | None
    info: dict[str, Any]
    seconds: dict[str, float]
    clock: float

    def valid(self, problem: TerritoryProblem) -> bool:
        return self.violation <= 1e-9 and not plan_faults(problem, self.labels)


def run_search(problem: TerritoryProblem, options: SolveOptions, *,
               share: float = 1.0) -> Searched:
    """The plain problem's plan and bound, then the search from that plan (the
    method of :func:`solve_search`); the search takes ``share`` of the time left.
    Raises :class:`InfeasibleError` when the plain problem is infeasible."""
    clock, deadline, seconds = solve_clock(problem, options)
    limit = options.time_limit
    t0 = time.perf_counter()
    # the plain bound certifies the connected plan: proven to a third of the gap asked
    # (0.1 % at least), so that most of the gap is left for what connecting costs
    start_options = replace(options, gap=min(options.gap, max(options.gap * PLAIN_GAP_SHARE,
                                                              PLAIN_GAP_FLOOR)),
                            time_limit=None if limit is None else
                            max(1.0, START_SHARE * (limit - seconds["check"])))
    start, bound, how = plain_start(problem, start_options)
    plain = start
    if start is None:
        logger.info("no plain plan (%s): territories grow from their roots", how)
        start, how = grow_plan(problem, random_state=options.random_state), "growth"
    seconds["presolve"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    until = deadline
    if share < 1 and deadline is not None:
        until = time.perf_counter() + share * max(deadline - time.perf_counter(), 0.0)
    # a plan within the gap asked ends the search
    target = None if bound is None or options.gap >= 1 else bound / (1 - options.gap)
    try:
        labels, violation, info = search(problem, start, deadline=deadline, until=until,
                                         random_state=options.random_state,
                                         target=target)
    except SolverError as exc:  # no start it can work from
        labels, violation, info = start, np.inf, {"search_error": str(exc)}
    seconds["solve"] = time.perf_counter() - t0
    return Searched(labels, violation, bound, plain, info | {"start": how}, seconds, clock)


def solve_search(problem: TerritoryProblem, options: SolveOptions, *,
                 share: float = 1.0) -> Solution:
    """Solve ``problem`` by the territory-design search (``method="search"``).

    The start and the bound come from the plain problem (roots locked in), solved in
    at most half the time limit; the search takes ``share`` of the rest (the rest is
    for what the caller runs after it). The status is ``"optimal"`` only when the
    plan is within the options' gap of the bound, the plain problem's
    (``options["bound_from"]`` says so). Fixed centres only (model-chosen centres:
    :func:`~territory_opt.solvers.locate.solve_locate`).

    Raises
    ------
    InfeasibleError
        When the plain problem is infeasible (so is the connected one).
    SolverError
        When no connected plan within the bands is found in the time.
    """
    found = run_search(problem, options, share=share)
    if not found.valid(problem):
        spent = time.perf_counter() - found.clock
        raise SolverError(f"the search found no {'connected ' if problem.contiguity else ''}"
                          f"plan within the bands in {spent:.0f} s; give it more time "
                          "(--time-limit), widen the bands, or solve with method='mip', "
                          "which can prove whether one exists")
    return searched_solution(problem, options, found.labels, found.bound, found.seconds,
                             found.info | {"plain_bound": found.bound})


def searched_solution(problem: TerritoryProblem, options: SolveOptions, labels: np.ndarray,
                      bound: float | None, seconds: dict[str, float], info: dict[str, Any],
                      *, bound_from: str = "plain", method: str = "search") -> Solution:
    """The solution of a valid plan ``labels`` with the bound known for it (the
    problem's ``bound_from``): optimal when within the options' gap of it."""
    objective = problem.objective_of(labels)
    if bound is not None:
        bound = min(bound, objective)
    status = "optimal" if bound is not None and \
        relative_gap(objective, bound) <= options.gap + 1e-12 else "feasible"
    return Solution.from_unit_centres(
        problem, labels, status=status, bound=bound, solver="HiGHS", seconds=seconds,
        options=options.record(method) | info
        | {"bound_from": None if bound is None else bound_from})


def solve_compromise(problem: TerritoryProblem, options: SolveOptions, why: Exception, *,
                     spent: float = 0.0) -> Solution:
    """The plan nearest the bands when no plan was found that holds them all (``why``:
    the error that said so): connected when contiguity is asked, locks and segments
    kept, the least total band violation (each territory's distance outside each of
    its bands, as a share of the band's average target, summed), then the least cost.

    Territories grow from their roots (and locked units), then the search of the
    module docstring minimises violation first. The status is ``"relaxed"``: no
    bound, no gap, never optimal; ``options["relaxed_because"]`` keeps ``why``'s
    message, ``options["violation"]`` the total and ``options["violation_bound"]`` a
    proven lower bound on it (the elastic model's, up to ``ELASTIC_UNITS`` units; None
    otherwise). Runs for what is left of the time limit after ``spent`` seconds (5 %
    of the limit at least).

    Raises ``why`` again when no compromise exists: model centres or region bands
    (not searched here), or a unit that no territory can join connected, or locks
    and segments that no connected plan can keep.
    """
    if problem.centres == "model" or problem.region_bands:
        raise why
    clock = time.perf_counter()
    limit = options.time_limit
    left = None if limit is None else max(limit - spent, COMPROMISE_SHARE * limit)
    deadline = None if left is None else clock + left
    bands = Bands(problem)
    seeds: list[tuple[np.ndarray, str]] = []  # (plan, how) to search from, best first
    bound = widened = None
    if problem.n_units <= ELASTIC_UNITS:
        nearest = nearest_plan(problem, ELASTIC_SECONDS if left is None
                               else min(ELASTIC_SHARE * left, ELASTIC_SECONDS))
        bound = nearest.bound
        if nearest.plan is not None and not plan_faults(problem, nearest.plan, bands=False):
            seeds.append((nearest.plan, "elastic model"))
        if nearest.balance is not None:  # the bands the diagnosis names, widened alike
            widened = problem.with_options(balance=nearest.balance)
    if widened is None and (heavy := heavy_widening(problem)):  # the width the checks name
        widened = problem.with_options(balance=dict(problem.balance) | heavy)
    if widened is not None:
        share = None if deadline is None else WIDENED_SHARE * (deadline - time.perf_counter())
        try:
            found = run_search(widened, replace(options, time_limit=share))
        except (InfeasibleError, SolverError):
            found = None
        if found is not None and found.valid(widened):
            seeds.append((found.labels, f"widened bands ({_widths(widened)})"))
    seeds.append((grow_plan(problem, random_state=options.random_state), "growth"))

    def key(labels: np.ndarray) -> tuple[float, float]:
        return _rank(bands, labels), problem.objective_of(labels)

    seeds.sort(key=lambda seed: key(seed[0]))
    try:
        labels, violation, info = search(problem, seeds[0][0], deadline=deadline,
                                         random_state=options.random_state)
    except SolverError:
        raise why from None
    how = seeds[0][1]
    if plan_faults(problem, labels, bands=False) or key(seeds[0][0]) < key(labels):
        labels = seeds[0][0]  # the search kept no better plan than its start
    violation = _rank(bands, labels)
    if plan_faults(problem, labels, bands=False):  # no connected plan keeps the rules
        raise why
    seconds = {"check": 0.0, "build": 0.0, "presolve": spent,
               "solve": time.perf_counter() - clock}
    record = options.record("search") | info | {"start": how}
    if violation <= 1e-9:  # the search found what the first method did not
        return Solution.from_unit_centres(problem, labels, status="feasible", bound=None,
                                          solver="HiGHS", seconds=seconds, options=record)
    logger.info("no plan holds every band (%s): compromise with violation %.4g from %s",
                why, violation, how)
    return Solution.relaxed(problem, labels, why, violation, seconds, record,
                            violation_bound=bound,
                            widened_bands=None if widened is None else _widths(widened))


def _rank(bands: Bands, labels: np.ndarray) -> float:
    """A plan's total band violation, 0 inside every band (rounding aside)."""
    total = float(bands.violation(bands.sums(labels)).sum())
    return 0.0 if total <= 1e-9 else round(total, 9)


def _widths(problem: TerritoryProblem) -> str:
    """The bands of ``problem`` in words, e.g. ``workload +-31 %``."""
    return bands_in_words(problem.bands.values())
