"""Solving a :class:`~territory_opt.model.TerritoryProblem`.

The exact path builds the mixed-integer model with PuLP and hands it to a
solver chosen by name (HiGHS by default, through highspy). The result always
carries the status, the objective, the best proven lower bound and the gap; an
incumbent found before a time limit is ``"feasible"``, never ``"optimal"``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pulp

from territory_opt.errors import InfeasibleError, InputError, SolverError
from territory_opt.model import (
    TerritoryProblem,
    Variables,
    build_model,
    elastic_slacks,
    check_feasibility,
    is_connected_plan,
    separator_cuts,
)
from territory_opt.progress import bar
from territory_opt.solution import Solution

logger = logging.getLogger(__name__)

INCUMBENT_SHARE = 0.2  # of the time limit, for the incumbent search of reduce=True
INCUMBENT_SECONDS = 10.0  # the incumbent search's budget when there is no time limit
FEASIBILITY_SHARE = 0.5  # of the time limit, to decide whether a connected plan exists
DIAGNOSIS_SECONDS = 30.0  # the elastic re-solve that explains an infeasible model


class _WarmHiGHS(pulp.HiGHS):  # type: ignore[misc,name-defined]
    """PuLP's highspy interface, handing HiGHS a starting solution when given one."""

    start: dict[str, float] | None = None

    def createAndConfigureSolver(self, lp: pulp.LpProblem) -> None:  # noqa: N802
        if self.msg:
            super().createAndConfigureSolver(lp)
        else:  # HiGHS prints a banner from C++ when its first model is created
            with _silenced_stdout():
                super().createAndConfigureSolver(lp)

    def callSolver(self, lp: pulp.LpProblem) -> None:  # noqa: N802 (PuLP's name)
        if self.start:
            import highspy

            values = [0.0] * lp.solverModel.getNumCol()
            for var in lp.variables():
                values[var.index] = self.start.get(var.name, 0.0)
            sol = highspy.HighsSolution()
            sol.col_value = values
            sol.value_valid = True
            lp.solverModel.setSolution(sol)
        _run_interruptible(lp.solverModel)


def _run_interruptible(highs: Any) -> None:
    """Run HiGHS in its own thread so that Ctrl-C (or SIGTERM, turned into
    KeyboardInterrupt by the CLI) stops it within a fraction of a second:
    the solver is asked to stop, is waited for, and the interrupt goes on up,
    so that nothing is written from a half-finished solve."""
    highs.HandleUserInterrupt = True
    thread = highs.startSolve()
    try:
        while not highs.wait(0.1)[0]:
            pass
    except KeyboardInterrupt:
        highs.cancelSolve()
        thread.join()
        raise
    finally:
        highs.HandleUserInterrupt = False


@contextlib.contextmanager
def _silenced_stdout() -> Iterator[None]:
    """Send what C/C++ code writes to file descriptor 1 to /dev/null."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # no real stdout (e.g. captured)
        yield
        return
    sys.stdout.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


def make_solver(name: str, *, time_limit: float | None, gap: float, threads: int | None,
                random_state: int, msg: bool, mip: bool = True) -> Any:
    """A PuLP solver by name (``pulp.listSolvers(onlyAvailable=True)`` lists them)."""
    options: dict[str, Any] = {"msg": msg, "timeLimit": time_limit, "mip": mip}
    if mip:
        options["gapRel"] = gap
    if threads is not None:
        options["threads"] = threads
    if name == "HiGHS":
        return _WarmHiGHS(random_seed=int(random_state), **options)
    try:
        solver = pulp.getSolver(name, **options)
    except pulp.PulpSolverError:
        raise InputError(f"unknown solver {name!r}; available here: "
                         f"{', '.join(pulp.listSolvers(onlyAvailable=True))}") from None
    if not solver.available():
        raise InputError(f"solver {name!r} is not installed here; available: "
                         f"{', '.join(pulp.listSolvers(onlyAvailable=True))} (HiGHS comes "
                         "with the highspy package)")
    return solver


def solve(
    problem: TerritoryProblem,
    *,
    solver: str = "HiGHS",
    time_limit: float | None = None,
    gap: float = 1e-4,
    threads: int | None = None,
    random_state: int = 0,
    msg: bool = False,
    reduce: bool = True,
    diagnose: bool = True,
    method: str = "auto",
) -> Solution:
    """Solve ``problem`` exactly, within a relative gap and time limit.

    The default strategy (``reduce=True``) is exact and faster than handing
    the whole model to the solver: it solves the LP relaxation (lower bound
    ``LB`` and reduced costs ``r``), builds an incumbent of value ``UB`` by
    re-solving near the LP optimum, fixes to 0 every variable with
    ``LB + r > UB`` (no plan better than the incumbent can use it), and solves
    the reduced model started from the incumbent. The reported bound is
    ``min(UB, bound of the reduced model)``, valid for the full problem.

    With contiguity, the model is solved without it, and every territory that
    comes out disconnected adds separator cuts (see
    :func:`territory_opt.model.separator_cuts`); the model is re-solved until
    every territory is connected. Each round solves a relaxation of the
    contiguous problem, so the last round's bound is valid for it.

    Parameters
    ----------
    problem
        The territory problem.
    solver
        PuLP solver name; ``"HiGHS"`` (default) reports its proven bound.
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
        Use the LP / incumbent / reduced-cost fixing strategy above; False
        hands the full model to the solver.
    diagnose
        When the solver proves the problem infeasible, re-solve it with elastic
        bands (up to 30 s) so that the error says which bands must give, and by
        how much.
    method
        ``"exact"``: the MIP; ``"large"``: the large-instance path of
        :mod:`territory_opt.large` (dual bound over all pairs, rounding, repair);
        ``"auto"`` (default): large above a million unit-centre pairs.

    Returns
    -------
    Solution
        With ``status`` ``"optimal"`` (proven within ``gap``) or ``"feasible"``
        (stopped by the time limit; ``gap`` says how far from proven).

    Raises
    ------
    InfeasibleError
        If no assignment meets the bands, locks and contiguity (checked before
        the model is built where possible, else proven by the solver).
    SolverError
        If the solver stops without any feasible assignment.
    """
    if not 0 <= gap < 1:
        raise InputError(f"gap must be a share between 0 and 1 (1e-3 = 0.1 %), got {gap!r}")
    if time_limit is not None and time_limit <= 0:
        raise InputError(f"time_limit must be a positive number of seconds, got {time_limit!r}")
    if method not in ("auto", "exact", "large"):
        raise InputError(f"method must be 'auto', 'exact' or 'large', got {method!r}")
    from territory_opt.large import is_large, solve_large

    if method == "large" or (method == "auto" and is_large(problem)):
        return solve_large(problem, time_limit=time_limit, gap=gap, threads=threads,
                           random_state=random_state, msg=msg)
    seconds: dict[str, float] = {"check": 0.0, "build": 0.0, "presolve": 0.0, "solve": 0.0}
    clock = time.perf_counter()
    check_feasibility(problem)
    _ = problem.costs
    seconds["check"] = time.perf_counter() - clock
    t0 = time.perf_counter()
    lp, x = build_model(problem)
    seconds["build"] = time.perf_counter() - t0
    logger.info("model: %d variables, %d constraints", len(x), len(lp.constraints()))

    def left() -> float | None:
        return None if time_limit is None else max(1.0, time_limit - (time.perf_counter() - clock))

    def run(mip: bool, start: dict[str, float] | None = None,
            cap: float | None = None) -> tuple[str, float | None]:
        limit = left()
        if cap is not None:
            limit = cap if limit is None else min(limit, cap)
        engine = make_solver(solver, time_limit=limit, gap=gap, threads=threads,
                             random_state=random_state, msg=msg, mip=mip)
        if start is not None and isinstance(engine, _WarmHiGHS):
            engine.start = start
        try:
            lp.solve(engine)
        except pulp.PulpSolverError as exc:
            raise SolverError(f"solver {solver!r} failed: {exc}") from None
        return _status_and_bound(lp, solver)

    plain_bound = None
    seed: np.ndarray | str | None = None  # a connected plan, when one is known
    lp_status = None  # the LP, when already solved (its values and duals stay on x)
    if problem.contiguity and problem.contiguity_method == "flow":
        t0 = time.perf_counter()
        # An infeasible flow LP proves the contiguous problem infeasible at once.
        lp_status = run(mip=False)[0]
        if lp_status == "infeasible":
            raise _infeasible(problem, 0, _diagnose(problem, left) if diagnose else None)
        # Every connected plan is a plan: a connected plain optimum (with the roots
        # in their territories, as the contiguous model has them) is the answer, and
        # the plain bound is valid here too. (Adding it as a constraint was measured
        # to slow HiGHS down: AR 50 s -> over 200 s.)
        # (If even the plain problem is infeasible, its error, which says why, holds for
        # the contiguous one too.)
        relaxed = problem.with_options(contiguity=False)
        if problem.roots is not None:  # each territory holds its root: so must the plan
            reps = problem.territories["rep_id"].to_numpy()
            relaxed = problem.with_options(contiguity=False, locks=dict(problem.locks) | {
                problem.unit_ids[r]: str(reps[t]) for t, r in enumerate(problem.roots)})
        plain = solve(relaxed, solver=solver,
                      time_limit=None if time_limit is None else time_limit / 2, gap=gap,
                      threads=threads, random_state=random_state, msg=msg,
                      reduce=reduce, diagnose=diagnose, method="exact")
        seconds["presolve"] += time.perf_counter() - t0
        if plain.status == "optimal" and is_connected_plan(problem, plain.columns()):
            logger.info("the plain optimum is connected: it is the contiguous optimum")
            return Solution.from_columns(
                problem, plain.columns(), status="optimal", objective=plain.objective,
                bound=plain.bound, gap=plain.gap, solver=solver, seconds=seconds,
                options=plain.options | {"contiguity_rounds": 0, "plain_bound": plain.bound})
        plain_bound = plain.bound if plain.status == "optimal" else None
        if problem.centres == "model":
            # Does any connected plan exist? Asked without the objective and with each
            # partition counted once, this is decided far sooner than by the full model.
            t0 = time.perf_counter()
            engine = make_solver(solver, time_limit=None if time_limit is None else
                                 max(1.0, FEASIBILITY_SHARE * time_limit), gap=0.99,
                                 threads=threads, random_state=random_state, msg=msg)
            seed = _connected_plan(problem, engine, solver)
            seconds["presolve"] += time.perf_counter() - t0
            if isinstance(seed, str):
                raise _infeasible(problem, 0, _diagnose(problem, left) if diagnose else None)
    rounds, n_cuts = 0, 0
    while True:
        columns, status, bound, info = _solve_round(problem, lp, x, run, reduce, seconds,
                                                     time_limit, lp_status, seed)
        seed = None
        lp_status = None  # later rounds add cuts: their LP differs
        if status == "infeasible":
            raise _infeasible(problem, rounds, _diagnose(problem, left) if diagnose else None)
        if columns is None:
            raise SolverError(f"the solver stopped (time limit {time_limit} s) before finding "
                              "any assignment; give it more time (--time-limit) or a larger gap")
        if not problem.contiguity or is_connected_plan(problem, columns):
            break
        if problem.contiguity_method == "flow":
            raise SolverError("the flow model returned a disconnected territory; this is a "
                              "bug, please report it (contiguity_method='cuts' avoids it)")
        cuts = separator_cuts(problem, x, columns)
        if time_limit is not None and time.perf_counter() - clock > time_limit:
            raise SolverError(f"the time limit ({time_limit} s) ran out after {rounds + 1} "
                              "rounds of contiguity cuts without a connected plan; give it "
                              "more time (--time-limit)")
        for cut in cuts:
            lp += cut
        rounds, n_cuts = rounds + 1, n_cuts + len(cuts)
        logger.info("contiguity round %d: %d cuts added", rounds, len(cuts))
    objective = problem.objective_of(columns)
    if plain_bound is not None:
        bound = plain_bound if bound is None else max(bound, min(plain_bound, objective))
    if bound is None:
        logger.info("%s reports no lower bound: bound and gap are unknown", solver)
    gap_value = None if bound is None else max(0.0, (objective - bound) / max(abs(objective), 1e-9))
    return Solution.from_columns(
        problem, columns, status=status, objective=objective, bound=bound, gap=gap_value,
        solver=solver, seconds=seconds,
        options={"time_limit": time_limit, "gap": gap, "threads": threads, "reduce": reduce,
                 "random_state": random_state, "contiguity_rounds": rounds,
                 "contiguity_cuts": n_cuts, "plain_bound": plain_bound} | info)


def _solve_round(problem: TerritoryProblem, lp: pulp.LpProblem, x: Variables, run: Any,
                 reduce: bool, seconds: dict[str, float], time_limit: float | None,
                 lp_status: str | None = None, seed: np.ndarray | None = None,
                 ) -> tuple[np.ndarray | None, str, float | None, dict[str, Any]]:
    """Solve the current model once: (columns per unit, status, bound, info).

    ``lp_status`` is the status of the model's LP relaxation when it was just
    solved (its values and reduced costs are still on ``x``), so it is reused.
    ``seed`` is a known plan of the model, an incumbent if no better is found.
    """
    incumbent: np.ndarray | None = None
    lp_bound: float | None = None
    fixed: list[pulp.LpVariable] = []
    t0 = time.perf_counter()
    if reduce and len(x) > problem.n_units:
        status = lp_status if lp_status is not None else run(mip=False)[0]
        if status == "infeasible":
            return None, "infeasible", None, {}
        if status == "optimal":
            lp_bound = float(pulp.value(lp.objective))
            values = {key: v.varValue or 0.0 for key, v in x.items()}
            dj = {key: v.dj or 0.0 for key, v in x.items()}
            budget = INCUMBENT_SHARE * (time_limit if time_limit is not None
                                        else INCUMBENT_SECONDS / INCUMBENT_SHARE)
            if problem.centres == "model":
                incumbent = _locate_allocate(problem, x, values, run, budget / 2)
            if incumbent is None:
                incumbent = _round_lp(problem, lp, x, values, dj, run, budget)
            if seed is not None and all((i, c) in x for i, c in enumerate(seed)) and (
                    incumbent is None
                    or problem.objective_of(seed) < problem.objective_of(incumbent)):
                incumbent = seed
            if incumbent is not None:
                upper = problem.objective_of(incumbent)
                fixed = _fix_by_reduced_costs(problem, x, values, dj, lp_bound, upper)
                logger.info("LP bound %.6g, incumbent %.6g, %d of %d variables fixed",
                            lp_bound, upper, len(fixed), len(x))
    seconds["presolve"] += time.perf_counter() - t0
    t0 = time.perf_counter()
    start = None if incumbent is None else {x[i, c].name: 1.0 for i, c in enumerate(incumbent)}
    try:
        status, bound = run(mip=True, start=start)
        columns = _read_columns(problem, x) if status in ("optimal", "feasible") else None
    finally:
        for v in fixed:  # the next round (with cuts) starts from the whole model again
            v.lowBound, v.upBound = 0, 1
    seconds["solve"] += time.perf_counter() - t0
    if incumbent is not None:
        upper = problem.objective_of(incumbent)
        # The reduced model holds every plan better than the incumbent: if it has
        # none, the incumbent is optimal; its bound is valid up to UB.
        if status == "infeasible":
            status, bound, columns = "optimal", upper, incumbent
        elif status == "no_solution":
            status, bound, columns = "feasible", lp_bound, incumbent
        elif bound is not None:
            bound = min(bound, upper)
        if columns is None or upper < problem.objective_of(columns):
            columns = incumbent
    if status == "no_solution":
        columns = None
    return columns, status, bound, {"lp_bound": lp_bound, "fixed_variables": len(fixed)}


def _fix_by_reduced_costs(problem: TerritoryProblem, x: Variables,
                          values: dict[tuple[int, int], float],
                          dj: dict[tuple[int, int], float], lp_bound: float,
                          upper: float) -> list[pulp.LpVariable]:
    """Fix the variables that no plan better than ``upper`` can set otherwise.

    For any plan ``x``, ``cost(x) = LB + sum_v d_v (x_v - x*_v)`` summed over
    the variables and slacks, and every term is >= 0 (a variable at its lower
    bound has ``d >= 0`` and can only rise; at its upper bound ``d <= 0``). So
    any subset of the terms bounds the cost from below. Setting ``x[i, c] = 1``
    costs at least its own term, plus the terms of unit i's columns at 1 in
    the LP (they must drop to 0), plus, with model centres, the term of
    opening centre c when the LP has it closed. Symmetrically a centre the LP
    opens at 1 is fixed open when closing it costs more than the gap.
    Returns the variables whose bounds were changed (restore them to [0, 1]).
    """
    margin = 1e-7 * max(abs(upper), 1.0)
    slack = upper + margin - lp_bound
    leaving = np.zeros(problem.n_units)  # cost of unit i leaving its LP column(s) at 1
    for (i, c), value in values.items():
        if value > 1 - 1e-9 and dj[i, c] < 0:
            leaving[i] -= dj[i, c]
    model = problem.centres == "model"
    fixed = []
    for (i, c), v in x.items():
        if v.lowBound == v.upBound:
            continue
        if values[i, c] < 1e-9:
            cost = max(dj[i, c], 0.0) + leaving[i]
            if model and i != c and values.get((c, c), 1.0) < 1e-9:
                cost += max(dj[c, c], 0.0)
            if cost > slack:
                v.upBound = 0
                fixed.append(v)
        elif model and i == c and values[i, c] > 1 - 1e-9 and -dj[i, c] > slack:
            v.lowBound = 1
            fixed.append(v)
    return fixed


def _connected_plan(problem: TerritoryProblem, engine: Any,
                    solver: str) -> np.ndarray | str | None:
    """A connected plan (centre columns), "infeasible" if none exists, or None if
    the solver's time ran out first (see ``build_model(feasibility=True)``)."""
    lp, x = build_model(problem, feasibility=True)
    try:
        lp.solve(engine)
    except pulp.PulpSolverError as exc:
        raise SolverError(f"solver {solver!r} failed: {exc}") from None
    status, _ = _status_and_bound(lp, solver)
    logger.info("is there a connected plan? %s", status)
    if status == "infeasible":
        return "infeasible"
    if status not in ("optimal", "feasible"):
        return None
    columns = _read_columns(problem, x)
    cost = problem.costs
    for root in np.unique(columns):  # each territory's best centre for the objective
        members = np.flatnonzero(columns == root)
        columns[members] = members[int(np.argmin(cost[np.ix_(members, members)].sum(axis=0)))]
    return columns


def _diagnose(problem: TerritoryProblem, left: Any) -> list[str] | None:
    """Solve the elastic model: the smallest relative change of the bands that works.

    Returns one line per band that must give, [] if even relaxed bands cannot
    help (locks or contiguity are at fault), None if the diagnosis ran out of
    time.
    """
    elastic, _ = build_model(problem, elastic=True)
    limit = left()
    engine = make_solver("HiGHS", time_limit=min(DIAGNOSIS_SECONDS, limit or DIAGNOSIS_SECONDS),
                         gap=1e-3, threads=None, random_state=0, msg=False)
    try:
        elastic.solve(engine)
    except pulp.PulpSolverError:
        return None
    status, _ = _status_and_bound(elastic, "HiGHS")
    if status == "infeasible":
        return []
    if status not in ("optimal", "feasible"):
        return None
    return elastic_slacks(problem, elastic) or None


def _infeasible(problem: TerritoryProblem, rounds: int,
                diagnosis: list[str] | None = None) -> InfeasibleError:
    bands = ", ".join(b.describe().removeprefix("the ")
                      for b in problem.bands.values())  # type: ignore[attr-defined]
    parts = ["every band"] + (["lock"] if problem.locks else [])
    cut_rounds = (f" ({rounds} rounds of contiguity cuts)"
                  if problem.contiguity_method == "cuts" else "")
    extra = f", with every territory connected{cut_rounds}" if problem.contiguity else ""
    fixes = [f"widen the tightest band ({bands})"] + (["remove locks"] if problem.locks else []) \
        + (["drop contiguity"] if problem.contiguity else []) \
        + (["change the number of territories"] if problem.centres == "model" else [])
    if diagnosis:
        shown = "; ".join(diagnosis[:6]) + (f"; and {len(diagnosis) - 6} more"
                                            if len(diagnosis) > 6 else "")
        advice = f"the smallest change of the bands that works: {shown}"
    elif diagnosis == []:
        advice = ("no change of the bands alone helps: the locks" +
                  (" or contiguity" if problem.contiguity else "") + " must change")
    else:
        advice = ", or ".join(fixes)
    return InfeasibleError(
        f"no assignment holds {' and '.join(parts)} at once{extra} (proven by the solver), "
        f"although each passes the checks on its own; {advice}")


def _locate_allocate(problem: TerritoryProblem, x: Variables,
                     values: dict[tuple[int, int], float], run: Any,
                     budget: float) -> np.ndarray | None:
    """An incumbent for model-chosen centres by alternating location and allocation.

    Start from the k units the LP opens most; allocate the units to these
    centres (the fixed-centre model, small); move every centre to the unit of
    its territory that minimises the territory's cost; repeat until the
    centres stop moving or ``budget`` seconds are spent.
    """
    k, n = problem.n_territories, problem.n_units
    opened = np.array([values.get((j, j), 0.0) for j in range(n)])
    tiebreak = problem.costs.sum(axis=0)
    centres = frozenset(np.lexsort((tiebreak, -opened))[:k].tolist())
    saved = {key: (v.lowBound, v.upBound) for key, v in x.items()}
    best: np.ndarray | None = None
    seen: set[frozenset[int]] = set()
    t0 = time.perf_counter()
    try:
        while centres not in seen and time.perf_counter() - t0 < budget:
            seen.add(centres)
            for (i, c), v in x.items():
                if c not in centres:
                    v.lowBound, v.upBound = 0, 0
                else:
                    v.lowBound, v.upBound = (1, 1) if i == c else saved[(i, c)]
            status, _ = run(mip=True, cap=max(0.5, budget - (time.perf_counter() - t0)))
            if status not in ("optimal", "feasible"):
                break
            columns = _read_columns(problem, x)
            if best is None or problem.objective_of(columns) < problem.objective_of(best):
                best = columns
            moved = []
            for c in np.unique(columns):
                members = np.flatnonzero(columns == c)
                allowed = [j for j in members if all((i, j) in x for i in members)]
                cost = problem.costs[np.ix_(members, allowed)].sum(axis=0)
                moved.append(int(allowed[int(np.argmin(cost))]))
            centres = frozenset(moved)
    finally:
        for key, v in x.items():
            v.lowBound, v.upBound = saved[key]
    logger.info("locate-allocate: %d rounds, incumbent %s in %.1f s", len(seen),
                "found" if best is not None else "not found", time.perf_counter() - t0)
    return best


def _round_lp(problem: TerritoryProblem, lp: pulp.LpProblem, x: Variables,
              values: dict[tuple[int, int], float], dj: dict[tuple[int, int], float],
              run: Any, budget: float) -> np.ndarray | None:
    """An incumbent near the LP optimum (a relaxation-induced neighbourhood).

    Every unit may keep the columns the LP gives it; besides, the moves with
    the smallest reduced costs are allowed (the cheapest ways to trade units
    between territories). The neighbourhood grows fourfold until the
    restricted model has a solution, within ``budget`` seconds and at most half
    of the variables (a weak LP makes a large neighbourhood no easier than the
    whole model).
    """
    support = {key for key, val in values.items() if val > 1e-6}
    moves = sorted((d, key) for key, d in dj.items() if key not in support)
    n_moves = max(20 * problem.n_territories, problem.n_units // 4)
    saved = {key: (v.lowBound, v.upBound) for key, v in x.items()}
    result = None
    t0 = time.perf_counter()
    try:
        while result is None and n_moves <= max(len(x) // 2, 1):
            remaining = budget - (time.perf_counter() - t0)
            if remaining <= 0.5:
                break
            allowed = support | {key for _, key in moves[:n_moves]}
            for key, v in x.items():
                v.lowBound, v.upBound = (saved[key] if key in allowed else (0, 0))
            status, _ = run(mip=True, cap=remaining)
            if status in ("optimal", "feasible"):
                result = _read_columns(problem, x)
            n_moves *= 4
    finally:
        for key, v in x.items():
            v.lowBound, v.upBound = saved[key]
    logger.info("LP support %d pairs for %d units; incumbent %s in %.1f s",
                len(support), problem.n_units, "found" if result is not None else "not found",
                time.perf_counter() - t0)
    return result


def _status_and_bound(lp: pulp.LpProblem, solver: str) -> tuple[str, float | None]:
    """Map the solver's outcome to optimal / feasible / infeasible / no_solution."""
    model = getattr(lp, "solverModel", None)
    if model is not None and type(model).__module__.startswith("highspy"):
        import highspy

        st = model.getModelStatus()
        info = model.getInfo()
        has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
        if st in (highspy.HighsModelStatus.kInfeasible,
                  highspy.HighsModelStatus.kUnboundedOrInfeasible):
            return "infeasible", None
        if not has_solution:
            return "no_solution", None
        bound = float(info.mip_dual_bound)
        bound = bound if np.isfinite(bound) else None
        return ("optimal" if st == highspy.HighsModelStatus.kOptimal else "feasible"), bound
    status = pulp.LpStatus.get(lp.status, "Undefined")
    if status == "Infeasible":
        return "infeasible", None
    if lp.sol_status == pulp.LpSolutionOptimal:
        return "optimal", None
    if lp.sol_status == pulp.LpSolutionIntegerFeasible:
        return "feasible", None
    return "no_solution", None


def _read_columns(problem: TerritoryProblem, x: Variables) -> np.ndarray:
    """Each unit's centre column in the solver's solution."""
    columns = np.full(problem.n_units, -1, dtype=int)
    for (i, c), v in x.items():
        if (v.varValue or 0.0) > 0.5:
            if columns[i] != -1:
                raise SolverError(f"solver returned unit {i} in two territories")
            columns[i] = c
    if (columns < 0).any():
        raise SolverError("solver returned a solution leaving units unassigned")
    return columns


def size_headcount(
    units: Any,
    *,
    max_workload: float,
    k_values: Any = None,
    metric: str = "workload",
    extra_k: int = 3,
    time_limit: float | None = 60.0,
    gap: float = 1e-3,
    progress: bool | None = None,
    **problem_options: Any,
) -> pd.DataFrame:
    """The smallest number of territories that keeps each under a workload maximum.

    Solves the territory problem with model-chosen centres and an absolute
    band ``{metric: {"max": max_workload}}`` for k from ``ceil(total /
    max_workload)`` upward until one is feasible, then ``extra_k`` more, so that
    the table shows what each extra head buys.

    Parameters
    ----------
    units
        Planning units. Model centres make a variable per pair of units: keep
        to a few hundred units (clusters) for sizing.
    max_workload
        The most ``metric`` one territory (one rep) may carry.
    k_values
        The k to try instead (an iterable of ints).
    metric
        The unit column the maximum applies to.
    extra_k
        Further k to solve after the smallest feasible one.
    time_limit, gap
        Per solve.
    progress
        Progress bar over the headcounts (None: in a terminal or notebook only).
    **problem_options
        Further :class:`TerritoryProblem` options (``power``, ``distance``,
        ``contiguity``, ``graph``; more bands via ``balance``).

    Returns
    -------
    pandas.DataFrame
        One row per k: ``k, status, objective, bound, gap, largest`` (the
        largest territory's ``metric``) and ``smallest`` (True on the smallest
        feasible k); ``reason`` for an infeasible k.
    """
    import math

    if not max_workload > 0:
        raise InputError(f"max_workload must be above 0, got {max_workload!r}")
    total = float(units[metric].sum())
    start = max(1, math.ceil(total / max_workload - 1e-9))
    balance = dict(problem_options.pop("balance", {})) | {metric: {"max": max_workload}}
    candidates = list(k_values) if k_values is not None else None
    rows: list[dict[str, Any]] = []
    k, first_feasible = start, None
    shown = bar(total=len(candidates) if candidates is not None else None,
                desc="headcounts", unit="k", progress=progress)
    while True:
        if candidates is not None:
            if not candidates:
                break
            k = candidates.pop(0)
        elif first_feasible is not None and k > first_feasible + extra_k:
            break
        elif k > len(units):
            break
        row: dict[str, Any] = {"k": k}
        try:
            problem = TerritoryProblem(units, k=k, centres="model", balance=balance,
                                       **problem_options)
            sol = solve(problem, time_limit=time_limit, gap=gap)
            row |= {"status": sol.status, "objective": sol.objective, "bound": sol.bound,
                    "gap": sol.gap, "largest": float(sol.sums(metric).max()), "reason": ""}
            if first_feasible is None:
                first_feasible = k
        except InfeasibleError as exc:
            row |= {"status": "infeasible", "reason": str(exc)}
        except SolverError as exc:
            row |= {"status": "undecided", "reason": str(exc)}
        rows.append(row)
        shown.update(1)
        shown.set_postfix_str(f"k={k} {row['status']}")
        k += 1
    shown.close()
    table = pd.DataFrame(rows, columns=["k", "status", "objective", "bound", "gap",
                                        "largest", "reason"])
    table["smallest"] = table["k"] == first_feasible
    return table
