r"""The exact path: the mixed-integer model with PuLP (``method="mip"``).

The formulation of a :class:`~territory_opt.problem.TerritoryProblem`. Binary
:math:`x_{it}`: unit i in territory t (fixed centres: one territory per rep); with
model-chosen centres :math:`x_{ij}`: unit i in the territory centred at unit j,
:math:`x_{jj} = 1` when j is a centre (read t as j below and add the centre rows)::

    min   sum_{i,t} w_i * d_{it}^p * x_{it}  +  pi * sum_{i,t} m_{it} x_{it}
    s.t.  sum_t x_{it} = 1                                      every unit i
          L_{mt} <= sum_i a_{im} x_{it} <= U_{mt}      every band m, territory t
          x_{it} = 1                                  every unit i locked to t
          sum_{i,t} m_{it} x_{it} <= mu * M                    (realignment cap)
          L_{mr} <= sum_{i, t in r} a_{im} x_{it} <= U_{mr}   every region band m, r
    model centres:  x_{ij} <= x_{jj},   sum_j x_{jj} = k,
          L_m x_{jj} <= sum_i a_{im} x_{ij} <= U_m x_{jj}
    contiguity: every territory induces a connected subgraph of the units'
          adjacency graph, exactly: by flows f_{uv}^c >= 0 on the graph's arcs,
          one commodity per centre column c with root r_c (the centre unit, or
          the unit nearest the rep's base), where every other unit i of the
          territory consumes one unit of flow,
              sum_u f_{ui}^c - sum_v f_{iv}^c = x_{ic},  sum_u f_{ui}^c <= M x_{ic},
          no flow enters r_c, and M bounds a territory's units (Shirabe 2009);
          or by separator cuts added in rounds (contiguity_method="cuts");
          region contiguity: one more commodity per region, rooted at its first
          territory's root, on y_{ir} = sum_{t in r} x_{it}
    x binary

where :math:`w_i` is the unit's weight (``weight`` column), :math:`d` the distance
(km, or the user matrix's unit) to the territory's centre, :math:`p` the ``power``
(1: weighted distance, 2: moment of inertia), :math:`a_{im}` the unit's amount of
metric m, :math:`m_{it}` what moving unit i to territory t moves (its accounts, or
workload, currently with other reps), :math:`\pi` the ``move_penalty``, :math:`\mu`
the ``max_moved`` share and :math:`M` the total. A tolerance band is
:math:`(1 \pm \tau_m) T_{mt}` around the target :math:`T_{mt}` (the metric's total
shared by the reps' FTE); an absolute band gives ``min`` and/or ``max``.

:func:`build_model` assembles this model from named builders: assignment variables
and rows, centres, bands, contiguity flows and the realignment cap. :func:`solve_mip`
solves it exactly: LP bound, an incumbent near the LP, reduced-cost fixing, then
the reduced MIP; contiguity by flows in the model or separator cuts added in
rounds. With model-chosen centres, the Lagrangian bound of the assignment rows
(:mod:`territory_opt.solvers.centres`) comes first: its plan is the incumbent,
and the pairs it closes never enter the model. The solver is chosen by name (HiGHS by default, through the one adapter
:mod:`territory_opt.solvers.highs`). Only this module imports PuLP.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field, replace
from typing import Any

import networkx as nx
import numpy as np
import pulp

from territory_opt.checks import (
    check_feasibility,
    is_connected_plan,
    max_units_per_territory,
    reachable_units,
    regions_connected,
)
from territory_opt.errors import InfeasibleError, InputError, SolverError
from territory_opt.problem import TerritoryProblem
from territory_opt.rules import bands_in_words, format_amount, parse_band
from territory_opt.solution import Solution, relative_gap
from territory_opt.solvers import highs
from territory_opt.solvers.centres import DualBound, allowed_pairs, dual_bound
from territory_opt.solvers.lagrange import model_centres_dual
from territory_opt.solvers.local import locate_allocate
from territory_opt.solvers.options import SolveOptions

__all__ = ["Variables", "build_model", "connected_plan", "elastic_slacks", "make_solver",
           "separator_cuts", "solve_mip"]

logger = logging.getLogger(__name__)

INCUMBENT_SHARE = 0.2  # of the time limit, for the incumbent search of reduce=True
INCUMBENT_SECONDS = 10.0  # the incumbent search's budget when there is no time limit
FEASIBILITY_SHARE = 0.5  # of the time limit, to decide whether a connected plan exists
FEASIBILITY_SHARE_AFTER_PLAIN = 0.65  # ... of the time left, when the plain plan was given
DIAGNOSIS_SECONDS = 30.0  # the elastic re-solve that explains an infeasible model
DUAL_FIRST_UNITS = 200  # model centres: above, the Lagrangian bound and its plans come first
MIP_PAIRS = 300_000  # pairs left open by the Lagrangian bound above which the MIP is skipped
PAIRS_PER_SECOND = 5_000  # and above this many per second left of the time limit

Variables = dict[tuple[int, int], pulp.LpVariable]


class _WarmHiGHS(pulp.HiGHS):  # type: ignore[misc,name-defined]
    """PuLP's highspy interface, quiet, interruptible, and handing HiGHS a starting
    solution when given one."""

    start: dict[str, float] | None = None

    def createAndConfigureSolver(self, lp: pulp.LpProblem) -> None:  # noqa: N802
        if self.msg:
            super().createAndConfigureSolver(lp)
        else:
            with highs.silenced_stdout():
                super().createAndConfigureSolver(lp)

    def callSolver(self, lp: pulp.LpProblem) -> None:  # noqa: N802 (PuLP's name)
        if self.start:
            values = [0.0] * lp.solverModel.getNumCol()
            for var in lp.variables():
                values[var.index] = self.start.get(var.name, 0.0)
            highs.set_start(lp.solverModel, values)
        highs.run_interruptible(lp.solverModel)


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


def _status_and_bound(lp: pulp.LpProblem) -> tuple[str, float | None]:
    """The outcome of ``lp.solve`` as one of :data:`highs.STATUSES`, and the bound."""
    model = getattr(lp, "solverModel", None)
    if model is not None and type(model).__module__.startswith("highspy"):
        return highs.outcome(model)
    status = pulp.LpStatus.get(lp.status, "Undefined")
    if status == "Infeasible":
        return "infeasible", None
    if lp.sol_status == pulp.LpSolutionOptimal:
        return "optimal", None
    if lp.sol_status == pulp.LpSolutionIntegerFeasible:
        return "feasible", None
    return "no_solution", None


def _solve_lp(lp: pulp.LpProblem, engine: Any, solver: str) -> tuple[str, float | None]:
    try:
        lp.solve(engine)
    except pulp.PulpSolverError as exc:
        raise SolverError(f"solver {solver!r} failed: {exc}") from None
    return _status_and_bound(lp)


# --------------------------------------------------------------------------- the model


def build_model(problem: TerritoryProblem, *, elastic: bool = False,
                feasibility: bool = False,
                closed: np.ndarray | None = None) -> tuple[pulp.LpProblem, Variables]:
    """The PuLP model of ``problem`` (formulation in :class:`TerritoryProblem`).

    Returns the model and its variables ``x[(i, c)]``: unit i with centre column
    c (a territory with fixed centres, a centre unit with model centres). With
    contiguity by cuts, :func:`separator_cuts` adds contiguity in rounds.

    With ``feasibility=True`` (model centres only), each territory is rooted at
    its first unit in a fixed order (largest weight first), so that every
    partition appears once instead of once per choice of centre: the model has
    a plan exactly when the problem has one (its objective, the cost about the
    root, only steers the search towards compact plans).

    With ``elastic=True``, every band and the realignment cap get slack
    variables (named ``slack_...``), and the objective becomes their sum, each
    divided by its band's scale: the smallest relative change of the bands that
    makes the problem feasible (see :func:`elastic_slacks`).

    ``closed`` (model centres, ``(n, n)``) leaves out the pairs (unit, centre)
    that no plan of interest uses (:meth:`~territory_opt.solvers.centres.DualBound.closed_pairs`).
    """
    lp = pulp.LpProblem("territories", pulp.LpMinimize)
    x = _assignment_variables(problem, lp, elastic=elastic, feasibility=feasibility,
                              closed=closed)
    if not elastic:
        cost = problem.costs
        lp += pulp.LpAffineExpression([(v, float(cost[i, c])) for (i, c), v in x.items()])
    slacks = _Slacks(lp, elastic)
    by_col = _assignment_rows(problem, lp, x)
    centre = _centre_rows(problem, lp, x, by_col) if problem.centres == "model" else None
    _band_rows(problem, lp, by_col, centre, slacks)
    _region_rows(problem, lp, by_col, slacks)
    if problem.contiguity and (problem.contiguity_method == "flow" or elastic):
        _add_flows(problem, lp, x, by_col, relaxed=elastic)
    if problem.region_contiguity:
        _add_region_flows(problem, lp, x)
    _move_cap_row(problem, lp, x, slacks)
    if elastic:
        lp += pulp.LpAffineExpression(slacks.terms)
    return lp, x


def _assignment_variables(problem: TerritoryProblem, lp: pulp.LpProblem, *, elastic: bool,
                          feasibility: bool, closed: np.ndarray | None = None) -> Variables:
    """``x[i, c]`` for every pair the bands, locks, segments and contiguity allow."""
    n, k = problem.n_units, problem.n_territories
    x: Variables = {}
    # pruning by the bands is exact, but not when the bands are what may give
    reach = reachable_units(problem) if problem.contiguity and not elastic else None
    if problem.centres == "fixed":
        fixed = dict(problem.locked)
        if problem.roots is not None:
            fixed |= {int(i): t for t, i in enumerate(problem.roots)}
        elig = problem.eligible
        for i in range(n):
            for t in ([fixed[i]] if i in fixed else range(k)):
                if reach is not None and i not in reach[t] and i not in fixed:
                    continue
                if elig is not None and not elig[i, t]:  # never a rep who may not serve it
                    continue
                x[i, t] = lp.add_variable(f"x_{i}_{t}", lowBound=1 if i in fixed else 0,
                                          upBound=1, cat=pulp.LpBinary)
        return x
    # two that exceed a band never meet (unless the bands are what may give)
    pair_ok = np.ones((n, n), dtype=bool) if elastic else allowed_pairs(problem)
    if closed is not None:
        pair_ok &= ~closed
    centre_ok = np.diagonal(pair_ok).copy()
    rank = np.empty(n, dtype=int)  # root = the member that comes first
    rank[np.argsort(-problem.values(problem.weight), kind="stable")] = np.arange(n)
    for j in np.flatnonzero(centre_ok):
        for i in np.flatnonzero(pair_ok[:, j]):
            if reach is not None and int(i) not in reach[int(j)]:
                continue
            if feasibility and rank[i] < rank[j]:
                continue
            x[int(i), int(j)] = lp.add_variable(f"x_{i}_{j}", lowBound=0, upBound=1,
                                                cat=pulp.LpBinary)
    return x


@dataclass
class _Slacks:
    """Slack variables of the elastic model (none otherwise), with their weights."""

    lp: pulp.LpProblem
    elastic: bool
    terms: list[tuple[pulp.LpVariable, float]] = field(default_factory=list)

    def __call__(self, name: str, scale: float) -> pulp.LpAffineExpression | float:
        if not self.elastic:
            return 0.0
        var = self.lp.add_variable(f"slack_{name}", lowBound=0)
        self.terms.append((var, 1.0 / max(scale, 1e-9)))
        return var


def _assignment_rows(problem: TerritoryProblem, lp: pulp.LpProblem,
                     x: Variables) -> dict[int, list[tuple[int, pulp.LpVariable]]]:
    """Every unit in exactly one territory; returns the variables by centre column."""
    by_unit: list[list[pulp.LpVariable]] = [[] for _ in range(problem.n_units)]
    by_col: dict[int, list[tuple[int, pulp.LpVariable]]] = {}
    for (i, c), v in x.items():
        by_unit[i].append(v)
        by_col.setdefault(c, []).append((i, v))
    for i, row in enumerate(by_unit):
        if not row and problem.contiguity:
            raise InfeasibleError(
                f"contiguity: unit {problem.unit_ids[i]!r} can join no territory: every path "
                "from a territory's root to it carries more than a band allows (each unit on "
                "the path belongs to the territory); widen the band or drop contiguity")
        if not row:
            raise InfeasibleError(f"unit {problem.unit_ids[i]!r} fits in no territory: with "
                                  "every possible centre it breaks a band; widen the band")
        lp += pulp.LpAffineExpression([(v, 1.0) for v in row]) == 1, f"assign_{i}"
    return by_col


def _centre_rows(problem: TerritoryProblem, lp: pulp.LpProblem, x: Variables,
                 by_col: dict[int, list[tuple[int, pulp.LpVariable]]]
                 ) -> dict[int, pulp.LpVariable]:
    """Model centres: a unit joins only an open centre; k centres open."""
    centre = {j: x[j, j] for j in by_col}
    for (i, j), v in x.items():
        if i != j:
            lp += v - centre[j] <= 0, f"open_{i}_{j}"
    lp += pulp.LpAffineExpression([(v, 1.0) for v in centre.values()]) \
        == problem.n_territories, "k"
    return centre


def _band_rows(problem: TerritoryProblem, lp: pulp.LpProblem,
               by_col: dict[int, list[tuple[int, pulp.LpVariable]]],
               centre: dict[int, pulp.LpVariable] | None, slack: _Slacks) -> None:
    """Each balanced metric within its band in every territory (scaled by the
    centre's opening with model centres)."""
    for m, metric in enumerate(problem.bands):
        a = problem.values(metric)
        lower, upper = problem.bounds(metric)
        scale = float(np.mean(problem.targets(metric))) or 1.0
        for c, members in by_col.items():
            expr = pulp.LpAffineExpression([(v, float(a[i])) for i, v in members if a[i]])
            if centre is None:
                if np.isfinite(lower[c]) and lower[c] > 0:
                    lp += expr + slack(f"lo_{m}_{c}", scale) >= float(lower[c]), f"lo_{m}_{c}"
                if np.isfinite(upper[c]):
                    lp += expr - slack(f"up_{m}_{c}", scale) <= float(upper[c]), f"up_{m}_{c}"
            else:
                if np.isfinite(lower[0]) and lower[0] > 0:
                    lp += (expr - float(lower[0]) * centre[c] + slack(f"lo_{m}_{c}", scale)
                           >= 0), f"lo_{m}_{c}"
                if np.isfinite(upper[0]):
                    lp += (expr - float(upper[0]) * centre[c] - slack(f"up_{m}_{c}", scale)
                           <= 0), f"up_{m}_{c}"


def _region_rows(problem: TerritoryProblem, lp: pulp.LpProblem,
                 by_col: dict[int, list[tuple[int, pulp.LpVariable]]], slack: _Slacks) -> None:
    """Each region's metric within its region band: the sum over its territories."""
    for m, metric in enumerate(problem.region_bands):
        a = problem.values(metric)
        lower, upper = problem.region_bounds(metric)
        for r in range(len(lower)):
            terms = [(v, float(a[i])) for t in np.flatnonzero(problem.region_of == r)
                     for i, v in by_col.get(int(t), []) if a[i]]
            expr = pulp.LpAffineExpression(terms)
            scale = float(max(abs(lower[r]) if np.isfinite(lower[r]) else 0.0,
                              abs(upper[r]) if np.isfinite(upper[r]) else 0.0)) or 1.0
            if np.isfinite(lower[r]) and lower[r] > 0:
                lp += expr + slack(f"rlo_{m}_{r}", scale) >= float(lower[r]), f"rlo_{m}_{r}"
            if np.isfinite(upper[r]):
                lp += expr - slack(f"rup_{m}_{r}", scale) <= float(upper[r]), f"rup_{m}_{r}"


def _move_cap_row(problem: TerritoryProblem, lp: pulp.LpProblem, x: Variables,
                  slack: _Slacks) -> None:
    """Realignment: at most ``max_moved`` of the accounts (or workload) move."""
    if problem.moves is None or problem.max_moved is None:
        return
    cap = problem.max_moved * problem.move_total
    moved = [(v, float(problem.moves[i, c])) for (i, c), v in x.items() if problem.moves[i, c]]
    lp += (pulp.LpAffineExpression(moved) - slack("max_moved", max(problem.move_total, 1.0))
           <= cap + 1e-9), "max_moved"


def elastic_slacks(problem: TerritoryProblem, lp: pulp.LpProblem) -> list[str]:
    """What the solved elastic model says must give, one line per band broken."""
    terr = problem.territories
    bands = list(problem.bands)
    lines = []
    for var in lp.variables():
        if not var.name.startswith("slack_") or (var.varValue or 0.0) <= 1e-6:
            continue
        amount = float(var.varValue)
        if var.name == "slack_max_moved":
            if problem.move_measure == "accounts":  # whole accounts move
                amount = float(math.ceil(amount - 1e-6))
            share = amount / max(problem.move_total, 1e-9)
            more = (f"{amount:,.0f} more account{'' if amount == 1 else 's'}"
                    if problem.move_measure == "accounts" else f"{amount:,.1f} more workload")
            lines.append(f"the realignment cap must allow {more} to move ({share:.1%} of "
                         f"all; max_moved at least "
                         f"{problem.max_moved + share:.3f})")  # type: ignore[operator]
            continue
        side, m, c = var.name.split("_")[1:4]
        if side in ("rlo", "rup"):
            metric = list(problem.region_bands)[int(m)]
            r = int(c)
            bound = problem.region_bounds(metric)[0 if side == "rlo" else 1][r]
            word = "below its minimum" if side == "rlo" else "above its maximum"
            lines.append(f"region {problem.regions[r]!r}: {metric} "  # type: ignore[index]
                         f"{format_amount(amount)} {word} {format_amount(bound)} "
                         f"({amount / max(abs(bound), 1e-9):.1%})")
            continue
        metric = bands[int(m)]
        lower, upper = problem.bounds(metric)
        t = int(c)
        if problem.centres == "fixed":
            who = f"territory {terr['territory'][t]!r} (rep {terr['rep_id'][t]!r})"
            bound = lower[t] if side == "lo" else upper[t]
        else:
            who = f"the territory centred on unit {problem.unit_ids[t]!r}"
            bound = lower[0] if side == "lo" else upper[0]
        word = "below its minimum" if side == "lo" else "above its maximum"
        lines.append(f"{who}: {metric} {format_amount(amount)} {word} {format_amount(bound)} "
                     f"({amount / max(abs(bound), 1e-9):.1%})")
    return lines


def _add_flows(problem: TerritoryProblem, lp: pulp.LpProblem, x: Variables,
               by_col: dict[int, list[tuple[int, pulp.LpVariable]]],
               relaxed: bool = False) -> None:
    """Shirabe's flow constraints: each territory is reached from its root."""
    most = (problem.n_units - problem.n_territories + 1 if relaxed
            else max_units_per_territory(problem))
    for c, members in by_col.items():
        _rooted_flow(problem, lp, problem.root_of(c), {i: v for i, v in members},
                     float(most - 1), f"{c}")


def _add_region_flows(problem: TerritoryProblem, lp: pulp.LpProblem, x: Variables) -> None:
    """Each region connected: the same flow from its first territory's root, on
    ``y_ir = sum_{t in r} x_it``."""
    roots = problem.roots
    assert roots is not None  # region contiguity needs contiguity
    for r in range(len(problem.regions or [])):
        terrs = set(np.flatnonzero(problem.region_of == r).tolist())
        y: dict[int, list[tuple[pulp.LpVariable, float]]] = {}
        for (i, t), v in x.items():
            if t in terrs:
                y.setdefault(i, []).append((v, 1.0))
        _rooted_flow(problem, lp, int(roots[min(terrs)]),
                     {i: pulp.LpAffineExpression(row) for i, row in y.items()},
                     float(problem.n_units - 1), f"r{r}")


def _rooted_flow(problem: TerritoryProblem, lp: pulp.LpProblem, root: int,
                 member: dict[int, Any], big_m: float, tag: str) -> None:
    """Flow ``f >= 0`` on the arcs among the possible members, none into ``root``:
    every other member consumes one unit, ``inflow - outflow = member_i``, and
    flow enters only members, ``inflow <= big_m * member_i``."""
    flow = {}
    for u, v in problem.adjacency.edges:
        if u in member and v in member:
            for a, b in ((u, v), (v, u)):
                if b != root:
                    flow[a, b] = lp.add_variable(f"f_{tag}_{a}_{b}", lowBound=0)
    into: dict[int, list[pulp.LpVariable]] = {}
    out: dict[int, list[pulp.LpVariable]] = {}
    for (a, b), f in flow.items():
        out.setdefault(a, []).append(f)
        into.setdefault(b, []).append(f)
    for i, var in member.items():
        if i == root:
            continue
        inflow = [(f, 1.0) for f in into.get(i, [])]
        net = pulp.LpAffineExpression(inflow + [(f, -1.0) for f in out.get(i, [])])
        lp += net - var == 0, f"flow_{tag}_{i}"
        lp += pulp.LpAffineExpression(inflow) - big_m * var <= 0, f"cap_{tag}_{i}"


def separator_cuts(problem: TerritoryProblem, x: Variables,
                   columns: np.ndarray) -> list[pulp.LpConstraint]:
    """Cuts excluding the disconnected territories of a plan.

    For every piece C of a territory that does not hold the territory's root,
    and every unit a in C: ``x[a, c] <= sum of x[v, c] over the neighbours v of
    C``, for the territory's column c and every other column whose root is
    outside C and its neighbours (any path from a to such a root leaves C
    through a neighbour). Empty when every territory is connected.
    """
    graph = problem.adjacency
    cols_of_unit: dict[int, list[int]] = {}
    for (i, c) in x:
        cols_of_unit.setdefault(i, []).append(c)
    cuts = []
    for c in np.unique(columns).tolist():
        root = problem.root_of(c)
        members = set(np.flatnonzero(columns == c).tolist())
        for piece in nx.connected_components(graph.subgraph(members)):
            if root in piece:
                continue
            border = {v for u in piece for v in graph[u]} - piece
            for a in piece:
                for c2 in cols_of_unit[a]:
                    r2 = problem.root_of(c2)
                    if r2 in piece or r2 in border:
                        continue
                    rhs = [(x[v, c2], 1.0) for v in border if (v, c2) in x]
                    cuts.append(x[a, c2] - pulp.LpAffineExpression(rhs) <= 0)
    return cuts


# --------------------------------------------------------------------------- solving


@dataclass
class _Runner:
    """Runs one PuLP model with the options, within what is left of the time limit."""

    lp: pulp.LpProblem
    options: SolveOptions
    clock: float = field(default_factory=time.perf_counter)

    def left(self) -> float | None:
        """Seconds left of the time limit (at least 1), None without one."""
        limit = self.options.time_limit
        return None if limit is None else max(1.0, limit - (time.perf_counter() - self.clock))

    def run(self, *, mip: bool, start: dict[str, float] | None = None,
            cap: float | None = None) -> tuple[str, float | None]:
        """Solve the model (or its LP relaxation), at most ``cap`` seconds."""
        o = self.options
        limit = self.left()
        if cap is not None:
            limit = cap if limit is None else min(limit, cap)
        engine = make_solver(o.solver, time_limit=limit, gap=o.gap, threads=o.threads,
                             random_state=o.random_state, msg=o.msg, mip=mip)
        if start is not None and isinstance(engine, _WarmHiGHS):
            engine.start = start
        status, bound = _solve_lp(self.lp, engine, o.solver)
        if mip and start is not None and status == "optimal" and bound is not None \
                and relative_gap(float(pulp.value(self.lp.objective)), bound) > o.gap + 1e-6:
            # HiGHS 1.16 can take a start as optimal in its presolved space while losing
            # the objective offset (seen on a 6-unit model): ask again without the start
            logger.warning("HiGHS called the start plan optimal at a gap; solving again "
                           "without it")
            return self.run(mip=True, cap=cap)
        return status, bound


def solve_mip(problem: TerritoryProblem, options: SolveOptions, *,
              start: np.ndarray | None = None, start_bound: float | None = None,
              plain: Solution | None = None) -> Solution:
    """Solve ``problem`` exactly with the MIP, within the options' gap and time limit.

    With ``options.reduce`` (the default) it solves the LP relaxation (lower
    bound ``LB`` and reduced costs ``r``), builds an incumbent of value ``UB``
    by re-solving near the LP optimum (by location-allocation first, with model
    centres), fixes to 0 every variable with ``LB + r > UB`` (no plan better
    than the incumbent can use it), and solves the reduced model started from
    the incumbent. The reported bound is ``min(UB, bound of the reduced
    model)``, valid for the full problem.

    With contiguity by flows, the problem is first solved without contiguity
    (each territory holding its root): a connected optimum is the answer, and
    otherwise its bound holds. With model centres, a feasibility model then
    decides whether any connected plan exists. With contiguity by cuts, every
    territory that comes out disconnected adds separator cuts
    (:func:`separator_cuts`) and the model is re-solved until every territory
    is connected; each round's bound is valid for the contiguous problem.

    ``start`` is a valid plan (each unit's centre column) to start from, such as the
    search's, and ``start_bound`` a bound already proven for the problem (the plain
    problem's): then the plain problem is not solved again, and the start is the
    incumbent that the reduced-cost fixing works against (with model centres, a
    seed: the MIP's own incumbent replaces it when better). ``plain`` is the plain
    problem's solution when the caller has it already (contiguity by flows): it is not
    solved again.
    """
    seconds: dict[str, float] = {"check": 0.0, "build": 0.0, "presolve": 0.0, "solve": 0.0}
    clock = time.perf_counter()
    check_feasibility(problem)
    _ = problem.costs
    seconds["check"] = time.perf_counter() - clock
    dual = None
    if problem.centres == "model" and options.reduce and not problem.contiguity \
            and problem.n_units > DUAL_FIRST_UNITS:
        t0 = time.perf_counter()
        dual = model_centres_dual(problem, options)
        seconds["presolve"] += time.perf_counter() - t0
    closed = dual.closed_pairs() if dual is not None and dual.plan is not None else None
    left = None if options.time_limit is None else \
        options.time_limit - (time.perf_counter() - clock)
    most = MIP_PAIRS if left is None else min(MIP_PAIRS, PAIRS_PER_SECOND * max(left, 0.0))
    if closed is not None and (relative_gap(dual.upper, dual.bound) <= options.gap  # type: ignore[union-attr]
                               or (~closed).sum() > most):
        # proven by the bound, or the model left is too large to improve on the plan
        assert dual is not None and dual.plan is not None
        gap_closed = relative_gap(dual.upper, dual.bound) <= options.gap
        logger.info("Lagrangian plan taken: %s", "gap closed" if gap_closed else
                    f"{int((~closed).sum())} pairs left open")
        return Solution.from_unit_centres(
            problem, dual.plan, status="optimal" if gap_closed else "feasible",
            bound=min(dual.bound, dual.upper), solver=options.solver, seconds=seconds,
            options=options.record("mip") | _dual_info(dual, closed)
            | {"bound_from": "lagrangian"})
    t0 = time.perf_counter()
    lp, x = build_model(problem, closed=closed)
    seconds["build"] = time.perf_counter() - t0
    logger.info("model: %d variables, %d constraints", len(x), len(lp.constraints()))
    runner = _Runner(lp, options, clock)
    time_limit, diagnose = options.time_limit, options.diagnose

    plain_bound = None
    seed: np.ndarray | None = None  # a connected plan, when one is known
    lp_status = None  # the LP, when already solved (its values and duals stay on x)
    if start is not None:
        plain_bound = start_bound
        if problem.centres == "model":  # a seed: the MIP's own incumbent may do better
            seed, start = start, None
    elif problem.contiguity and problem.contiguity_method == "flow":
        t0 = time.perf_counter()
        # An infeasible flow LP proves the contiguous problem infeasible at once.
        lp_status = runner.run(mip=False)[0]
        if lp_status == "infeasible":
            raise _infeasible(problem, 0, _diagnose(problem, runner) if diagnose else None)
        # Every connected plan is a plan: a connected plain optimum (with the roots
        # in their territories, as the contiguous model has them) is the answer, and
        # the plain bound is valid here too. (Adding it as a constraint was measured
        # to slow HiGHS down: AR 50 s -> over 200 s.)
        # (If even the plain problem is infeasible, its error, which says why, holds for
        # the contiguous one too.)
        given = plain
        if plain is None:  # each territory holds its root: so must the plan
            plain = solve_mip(problem.relaxation(), replace(
                options, time_limit=None if time_limit is None else time_limit / 2))
        seconds["presolve"] += time.perf_counter() - t0
        if plain.status == "optimal" and is_connected_plan(problem, plain.unit_centres()) \
                and regions_connected(problem, plain.unit_centres()):
            logger.info("the plain optimum is connected: it is the contiguous optimum")
            return Solution.from_unit_centres(
                problem, plain.unit_centres(), status="optimal", bound=plain.bound,
                solver=options.solver, seconds=seconds,
                options=plain.options | {"contiguity_rounds": 0, "plain_bound": plain.bound,
                                         "bound_from": "plain"})
        plain_bound = plain.bound if plain.status == "optimal" else None
        if problem.centres == "model":
            # Does any connected plan exist? Asked without the objective and with each
            # partition counted once, this is decided far sooner than by the full model.
            t0 = time.perf_counter()
            share = FEASIBILITY_SHARE if given is None else FEASIBILITY_SHARE_AFTER_PLAIN
            engine = make_solver(options.solver, time_limit=None if time_limit is None else
                                 max(1.0, share * time_limit), gap=0.99,
                                 threads=options.threads, random_state=options.random_state,
                                 msg=options.msg)
            found = connected_plan(problem, engine, options.solver)
            seconds["presolve"] += time.perf_counter() - t0
            if isinstance(found, str):
                raise _infeasible(problem, 0, _diagnose(problem, runner) if diagnose else None)
            seed = found
    rounds, n_cuts = 0, 0
    while True:
        unit_centres, status, bound, info = _solve_round(
            problem, runner, x, seconds, lp_status, seed,
            known=start if start is not None else
            None if dual is None or closed is None else dual.plan)
        start = None
        seed = None
        lp_status = None  # later rounds add cuts: their LP differs
        if status == "infeasible":
            raise _infeasible(problem, rounds, _diagnose(problem, runner) if diagnose else None)
        if unit_centres is None:
            raise SolverError(f"the solver stopped (time limit {time_limit} s) before finding "
                              "any assignment; give it more time (--time-limit) or a larger gap")
        if not problem.contiguity or is_connected_plan(problem, unit_centres):
            break
        if problem.contiguity_method == "flow":
            raise SolverError("the flow model returned a disconnected territory; this is a "
                              "bug, please report it (contiguity_method='cuts' avoids it)")
        cuts = separator_cuts(problem, x, unit_centres)
        if time_limit is not None and time.perf_counter() - clock > time_limit:
            raise SolverError(f"the time limit ({time_limit} s) ran out after {rounds + 1} "
                              "rounds of contiguity cuts without a connected plan; give it "
                              "more time (--time-limit)")
        for cut in cuts:
            lp += cut
        rounds, n_cuts = rounds + 1, n_cuts + len(cuts)
        logger.info("contiguity round %d: %d cuts added", rounds, len(cuts))
    objective = problem.objective_of(unit_centres)
    own, bound_from = bound, None if bound is None else "model"
    for known, name in ((plain_bound, "plain"),
                        (None if dual is None else dual.bound, "lagrangian")):
        if known is not None and (bound is None or min(known, objective) > bound):
            # bounds of relaxations hold here too
            bound, bound_from = min(known, objective), name
            if status == "feasible" and relative_gap(objective, bound) <= options.gap:
                status = "optimal"
    if bound is None:
        logger.info("%s reports no lower bound: bound and gap are unknown", options.solver)
    return Solution.from_unit_centres(
        problem, unit_centres, status=status, bound=bound, solver=options.solver,
        seconds=seconds,
        options=options.record("mip") | {"contiguity_rounds": rounds, "contiguity_cuts": n_cuts,
                                         "plain_bound": plain_bound} | info
        | _dual_info(dual, closed) | {"model_bound": own, "bound_from": bound_from})


def _dual_info(dual: DualBound | None, closed: np.ndarray | None) -> dict[str, Any]:
    if dual is None:
        return {}
    return {"lagrangian_bound": dual.bound, "lagrangian_steps": dual.iterations,
            "lagrangian_closed": None if closed is None else int(closed.sum())}


def _solve_round(problem: TerritoryProblem, runner: _Runner, x: Variables,
                 seconds: dict[str, float], lp_status: str | None = None,
                 seed: np.ndarray | None = None, known: np.ndarray | None = None,
                 ) -> tuple[np.ndarray | None, str, float | None, dict[str, Any]]:
    """Solve the current model once: (each unit's centre column, status, bound, info).

    ``lp_status`` is the status of the model's LP relaxation when it was just
    solved (its values and reduced costs are still on ``x``), so it is reused.
    ``seed`` is a known plan of the model, an incumbent if no better is found;
    ``known`` a good plan that the model was reduced around (the Lagrangian
    bound's): the incumbent, without the LP's heuristics.
    """
    incumbent = known if known is None or all((i, c) in x for i, c in enumerate(known)) \
        else None
    info: dict[str, Any] = {}
    lp_bound: float | None = None
    fixed: list[pulp.LpVariable] = []
    t0 = time.perf_counter()
    time_limit = runner.options.time_limit
    if runner.options.reduce and len(x) > problem.n_units:
        status = lp_status if lp_status is not None else runner.run(mip=False)[0]
        if status == "infeasible":
            return None, "infeasible", None, {}
        if status == "optimal":
            lp_bound = float(pulp.value(runner.lp.objective))
            values = {key: v.varValue or 0.0 for key, v in x.items()}
            dj = {key: v.dj or 0.0 for key, v in x.items()}
            budget = INCUMBENT_SHARE * (time_limit if time_limit is not None
                                        else INCUMBENT_SECONDS / INCUMBENT_SHARE)
            if problem.centres == "model" and incumbent is None:
                incumbent = _locate_allocate_incumbent(problem, runner, x, values, budget / 2)
            if incumbent is None:
                incumbent = _round_lp(problem, runner, x, values, dj, budget)
            if seed is not None and all((i, c) in x for i, c in enumerate(seed)) and (
                    incumbent is None
                    or problem.objective_of(seed) < problem.objective_of(incumbent)):
                incumbent = seed
            if incumbent is not None:
                upper = problem.objective_of(incumbent)
                fixed = _fix_by_reduced_costs(problem, x, values, dj, lp_bound, upper)
                logger.info("LP bound %.6g, incumbent %.6g, %d of %d variables fixed",
                            lp_bound, upper, len(fixed), len(x))
                if problem.centres == "model" and not problem.contiguity and known is None:
                    dual = dual_bound(problem, deadline=None, make_plan=lambda _: None,
                                      upper=upper, plan=incumbent,
                                      target_gap=runner.options.gap)
                    closed = dual.closed_pairs()
                    for (i, c), v in x.items():
                        if closed[i, c] and v.upBound != 0:
                            v.upBound = 0
                            fixed.append(v)
                    info = _dual_info(dual, closed)
    seconds["presolve"] += time.perf_counter() - t0
    t0 = time.perf_counter()
    start = None if incumbent is None else {x[i, c].name: 1.0 for i, c in enumerate(incumbent)}
    try:
        status, bound = runner.run(mip=True, start=start)
        unit_centres = _read_plan(problem, x) if status in ("optimal", "feasible") else None
    finally:
        for v in fixed:  # the next round (with cuts) starts from the whole model again
            v.lowBound, v.upBound = 0, 1
    seconds["solve"] += time.perf_counter() - t0
    if incumbent is not None:
        upper = problem.objective_of(incumbent)
        # The reduced model holds every plan better than the incumbent: if it has
        # none, the incumbent is optimal; its bound is valid up to UB.
        if status == "infeasible":
            status, bound, unit_centres = "optimal", upper, incumbent
        elif status == "no_solution":
            status, bound, unit_centres = "feasible", lp_bound, incumbent
        elif bound is not None:
            bound = min(bound, upper)
        if info.get("lagrangian_bound") is not None and status != "optimal":
            bound = max(bound if bound is not None else -np.inf,
                        min(info["lagrangian_bound"], upper))
        if unit_centres is None or upper < problem.objective_of(unit_centres):
            unit_centres = incumbent
    if status == "no_solution":
        unit_centres = None
    return unit_centres, status, bound, {"lp_bound": lp_bound,
                                         "fixed_variables": len(fixed)} | info


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


def connected_plan(problem: TerritoryProblem, engine: Any,
                   solver: str) -> np.ndarray | str | None:
    """A connected plan (each unit's centre column), "infeasible" if none exists,
    or None if the solver's time ran out first (see ``build_model(feasibility=True)``)."""
    lp, x = build_model(problem, feasibility=True)
    status, _ = _solve_lp(lp, engine, solver)
    logger.info("is there a connected plan? %s", status)
    if status == "infeasible":
        return "infeasible"
    if status not in ("optimal", "feasible"):
        return None
    unit_centres = _read_plan(problem, x)
    for root in np.unique(unit_centres):  # each territory's best centre for the objective
        members = np.flatnonzero(unit_centres == root)
        unit_centres[members] = problem.best_centre(members)
    return unit_centres


def _diagnose(problem: TerritoryProblem, runner: _Runner) -> list[str] | None:
    """Solve the elastic model: the smallest relative change of the bands that works.

    Returns one line per band that must give, [] if even relaxed bands cannot
    help (locks or contiguity are at fault), None if the diagnosis ran out of
    time.
    """
    elastic, _ = build_model(problem, elastic=True)
    limit = runner.left()
    engine = make_solver("HiGHS", time_limit=min(DIAGNOSIS_SECONDS, limit or DIAGNOSIS_SECONDS),
                         gap=1e-3, threads=None, random_state=0, msg=False)
    try:
        status, _ = _solve_lp(elastic, engine, "HiGHS")
    except SolverError:
        return None
    if status == "infeasible":
        return []
    if status not in ("optimal", "feasible"):
        return None
    lines = elastic_slacks(problem, elastic)
    wide = widened_balance(problem, elastic)
    if lines and wide is not None:  # the same plan, as bands a planner sets
        words = bands_in_words(parse_band(m, spec) for m, spec in wide.items()
                               if spec != problem.balance.get(m))
        lines.append(f"or, alike for every territory: {words}")
    return lines or None


@dataclass
class Nearest:
    """The elastic model solved (:func:`nearest_plan`): its plan, each unit's centre
    column (None when it found none in its time), a proven lower bound on the least
    total band violation (None when it gives none), and the problem's ``balance``
    widened alike for every territory as far as that plan needs (None when the bands
    are limits of a sub-problem, or nothing must give)."""

    plan: np.ndarray | None
    bound: float | None
    balance: dict[str, object] | None


def nearest_plan(problem: TerritoryProblem, time_limit: float) -> Nearest:
    """Solve the elastic model (every band may give, at a price of its relative miss;
    contiguity and the other rules kept) for at most ``time_limit`` seconds: the
    plan nearest the bands it finds, the proven least violation (in the search's
    measure: each band's distance as a share of the metric's average territory), and
    the bands widened alike as that plan needs. Nothing (``Nearest(None, None,
    None)``) with a cap on moves, whose slack is measured otherwise, or when no plan
    keeps the other rules (a unit no territory can join)."""
    none = Nearest(None, None, None)
    if problem.max_moved is not None:
        return none
    engine = make_solver("HiGHS", time_limit=max(time_limit, 0.5), gap=1e-4, threads=None,
                         random_state=0, msg=False)
    try:  # no model (a unit no territory can join): no bound; the search says why
        elastic, x = build_model(problem, elastic=True)
        status, bound = _solve_lp(elastic, engine, "HiGHS")
    except (SolverError, InfeasibleError):
        return none
    if status == "optimal" and bound is None:
        bound = pulp.value(elastic.objective)
    found = status in ("optimal", "feasible")
    return Nearest(_read_plan(problem, x) if found else None,
                   None if bound is None else max(float(bound), 0.0),
                   widened_balance(problem, elastic) if found else None)


def violation_bound(problem: TerritoryProblem, time_limit: float) -> float | None:
    """A proven lower bound on the least total band violation of any plan that keeps
    the other rules (contiguity included): :func:`nearest_plan`'s."""
    return nearest_plan(problem, time_limit).bound


def widened_balance(problem: TerritoryProblem, lp: pulp.LpProblem) -> dict[str, object] | None:
    """The ``balance`` of ``problem`` with each band that the solved elastic model
    ``lp`` breaks widened alike for every territory, just enough for its plan: a
    tolerance raised to the largest relative miss (rounded up to a whole percent),
    an absolute min or max moved by the largest miss. None when nothing must give, a
    band is a sub-problem's per-territory limits (they cannot widen alike), or a
    tolerance would reach 100 %."""
    bands = list(problem.bands)
    need: dict[str, list[float]] = {}
    for var in lp.variables():
        amount = var.varValue or 0.0
        if not var.name.startswith("slack_") or var.name == "slack_max_moved" \
                or amount <= 1e-6:
            continue
        side, m, c = var.name.split("_")[1:4]
        if side not in ("lo", "up"):
            continue
        metric = bands[int(m)]
        if metric not in problem.balance:
            return None
        lower, upper = problem.bounds(metric)
        c = 0 if problem.centres == "model" else int(c)
        target = float(problem.targets(metric)[c])
        band = problem.bands[metric]
        if band.tolerance is not None:
            edge = upper[c] + amount if side == "up" else lower[c] - amount
            need.setdefault(metric, []).append(abs(edge / max(target, 1e-300) - 1))
        else:
            need.setdefault(metric, []).append((-1 if side == "lo" else 1) * amount)
    if not need:
        return None
    balance = dict(problem.balance)
    for metric, misses in need.items():
        band = problem.bands[metric]
        if band.tolerance is not None:
            widest = math.ceil(100 * max(misses) - 1e-9) / 100
            if widest >= 1:  # a territory at nothing: no tolerance band holds it
                return None
            balance[metric] = widest
            continue
        lows, highs = [-v for v in misses if v < 0], [v for v in misses if v > 0]
        spec: dict[str, float] = {}
        if band.lower is not None:
            spec["min"] = band.lower - max(lows, default=0.0)
        if band.upper is not None:
            spec["max"] = band.upper + max(highs, default=0.0)
        balance[metric] = spec
    return balance


def _infeasible(problem: TerritoryProblem, rounds: int,
                diagnosis: list[str] | None = None) -> InfeasibleError:
    bands = bands_in_words(problem.bands.values())
    parts = ["every band"] + (["lock"] if problem.locks else [])
    cut_rounds = (f" ({rounds} rounds of contiguity cuts)"
                  if problem.contiguity_method == "cuts" else "")
    extra = f", with every territory connected{cut_rounds}" if problem.contiguity else ""
    fixes = [f"widen the tightest band ({bands})"] + (["remove locks"] if problem.locks else []) \
        + (["drop contiguity"] if problem.contiguity else []) \
        + (["change the number of territories"] if problem.centres == "model" else [])
    if diagnosis:
        alike = [line for line in diagnosis[-1:] if line.startswith("or, alike")]
        lines = diagnosis[:len(diagnosis) - len(alike)]
        shown = "; ".join(lines[:6]) + (f"; and {len(lines) - 6} more"
                                        if len(lines) > 6 else "") \
            + "".join(f"; {line}" for line in alike)
        advice = f"the smallest change of the bands that works: {shown}"
    elif diagnosis == []:
        advice = ("no change of the bands alone helps: the locks" +
                  (" or contiguity" if problem.contiguity else "") + " must change")
    else:
        advice = ", or ".join(fixes)
    return InfeasibleError(
        f"no assignment holds {' and '.join(parts)} at once{extra} (proven by the solver), "
        f"although each passes the checks on its own; {advice}")


def _locate_allocate_incumbent(problem: TerritoryProblem, runner: _Runner, x: Variables,
                               values: dict[tuple[int, int], float],
                               budget: float) -> np.ndarray | None:
    """An incumbent for model-chosen centres by :func:`locate_allocate`: from the k
    units the LP opens most, each allocation the MIP restricted to those centres
    (small), each centre moved among the units every member may join."""
    k, n = problem.n_territories, problem.n_units
    opened = np.array([values.get((j, j), 0.0) for j in range(n)])
    tiebreak = problem.costs.sum(axis=0)
    start = np.sort(np.lexsort((tiebreak, -opened))[:k])
    saved = {key: (v.lowBound, v.upBound) for key, v in x.items()}
    deadline = time.perf_counter() + budget

    def allocate(centres: np.ndarray) -> np.ndarray | None:
        chosen = set(centres.tolist())
        for (i, c), v in x.items():
            if c not in chosen:
                v.lowBound, v.upBound = 0, 0
            else:
                v.lowBound, v.upBound = (1, 1) if i == c else saved[(i, c)]
        status, _ = runner.run(mip=True, cap=max(0.5, deadline - time.perf_counter()))
        if status not in ("optimal", "feasible"):
            return None
        position = {c: t for t, c in enumerate(centres.tolist())}
        return np.array([position[c] for c in _read_plan(problem, x).tolist()])

    def candidates(members: np.ndarray) -> np.ndarray:
        return np.array([j for j in members if all((i, j) in x for i in members)])

    t0 = time.perf_counter()
    try:
        found = locate_allocate(problem, start, allocate, candidates=candidates,
                                deadline=deadline)
    finally:
        for key, v in x.items():
            v.lowBound, v.upBound = saved[key]
    logger.info("locate-allocate: incumbent %s in %.1f s",
                "found" if found is not None else "not found", time.perf_counter() - t0)
    return None if found is None else found[0][found[1]]


def _round_lp(problem: TerritoryProblem, runner: _Runner, x: Variables,
              values: dict[tuple[int, int], float], dj: dict[tuple[int, int], float],
              budget: float) -> np.ndarray | None:
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
            status, _ = runner.run(mip=True, cap=remaining)
            if status in ("optimal", "feasible"):
                result = _read_plan(problem, x)
            n_moves *= 4
    finally:
        for key, v in x.items():
            v.lowBound, v.upBound = saved[key]
    logger.info("LP support %d pairs for %d units; incumbent %s in %.1f s",
                len(support), problem.n_units, "found" if result is not None else "not found",
                time.perf_counter() - t0)
    return result


def _read_plan(problem: TerritoryProblem, x: Variables) -> np.ndarray:
    """Each unit's centre column in the solver's solution."""
    unit_centres = np.full(problem.n_units, -1, dtype=int)
    for (i, c), v in x.items():
        if (v.varValue or 0.0) > 0.5:
            if unit_centres[i] != -1:
                raise SolverError(f"solver returned unit {i} in two territories")
            unit_centres[i] = c
    if (unit_centres < 0).any():
        raise SolverError("solver returned a solution leaving units unassigned")
    return unit_centres
