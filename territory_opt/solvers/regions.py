"""Regions planned top-down: the regions first, then each region's territories.

A region is the union of its reps' territories. The joint model (every
method's default) balances both levels in one model: region band rows in the
MIP, region duals added to the territories' in the Lagrangian pricing. The
top-down solve here splits it as planners do by hand, and as the commercial
tools' "optimise the top level, then each region" does:

1. **The region problem**: one pseudo-rep per region (FTE: the sum of its reps';
   segments: all its reps serve; a unit's distance to it: to the nearest of its
   reps who may serve the unit) on every unit, with per-region limits that keep each region's sums within its own band
   *and* within what its reps' bands can hold together, so that every region's
   sub-problem has room. Rep locks become region locks; the current alignment
   becomes each account's region. With contiguity (at either level) the regions
   are contiguous, so that each can be cut into contiguous territories.
2. **One sub-problem per region**: the region's reps on the region's units,
   with the company-wide bands of those reps as limits (targets do not shift with
   a region's total), solved in parallel (Dask, a local cluster) or in turn.

The combined plan is re-checked against the whole problem like any other. It
has status ``"feasible"``. Without contiguity the region problem is a
relaxation of the whole (each unit costs what it would with its region's
nearest rep, the territories' bands count only in their sums, a move between
regions is a move), so its proven bound is a bound of the whole and the
solution reports it and its gap; with contiguity the regions' roots are not
the whole problem's, and there is no bound.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from territory_opt.checks import check_feasibility
from territory_opt.errors import InputError
from territory_opt.graph import adjacency
from territory_opt.parallel import dask_client
from territory_opt.problem import TerritoryProblem
from territory_opt.solution import Solution
from territory_opt.solvers.options import SolveOptions

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["LAGRANGE_UNITS", "region_problem", "region_subproblems", "solve_top_down",
           "sub_problem"]

logger = logging.getLogger(__name__)

# Units above which method="auto" solves a level by the Lagrangian path: measured on
# the national benchmark's largest region (6,606 ZIP codes x 33 reps), the MIP took
# 308 s to a 0.018 % gap, the Lagrangian path 11.4 s to 0.031 %.
LAGRANGE_UNITS = 2000


def _check(problem: TerritoryProblem) -> None:
    if problem.regions is None:
        raise InputError("a top-down solve needs reps with a region: read the reps with "
                         "region='<column>' (reps: region: in the scenario)")
    if problem.max_moved is not None:
        raise InputError("a realignment cap (max_moved) is shared by all regions and cannot "
                         "be split before solving; solve the regions jointly (regions: "
                         "{method: joint}), or use a move penalty")


def _metrics(problem: TerritoryProblem) -> list[str]:
    return list(dict.fromkeys([*problem.bands, *problem.region_bands]))


def region_problem(problem: TerritoryProblem) -> TerritoryProblem:
    """The upper level: one pseudo-rep per region on every unit (module docstring)."""
    _check(problem)
    regions: list[str] = problem.regions  # type: ignore[assignment]
    region_of = problem.region_of
    terr = problem.territories
    fte = terr["fte"].to_numpy()
    rows = []
    for r, name in enumerate(regions):
        mine = region_of == r
        w = fte[mine] / fte[mine].sum()
        served = [] if problem.served is None else [problem.served[t]
                                                    for t in np.flatnonzero(mine)]
        rows.append({
            "rep_id": name, "name": name, "territory": name, "fte": float(fte[mine].sum()),
            "segments": () if not served or any(not s for s in served)
            else tuple(dict.fromkeys(x for s in served for x in s)),
            "geometry": gpd.points_from_xy([float(w @ terr["x"].to_numpy()[mine])],
                                           [float(w @ terr["y"].to_numpy()[mine])])[0]})
    reps = gpd.GeoDataFrame(rows, geometry="geometry", crs=problem.units.crs)
    if problem.served is None:
        reps = reps.drop(columns="segments")
    limits = {}
    k_r = len(regions)
    for metric in _metrics(problem):
        lo, hi = np.full(k_r, -np.inf), np.full(k_r, np.inf)
        if metric in problem.bands:
            t_lo, t_hi = problem.bounds(metric)
            lo = np.bincount(region_of, weights=np.where(np.isfinite(t_lo), t_lo, 0.0),
                             minlength=k_r)
            lo[np.bincount(region_of, weights=~np.isfinite(t_lo), minlength=k_r) > 0] = -np.inf
            hi = np.bincount(region_of, weights=np.where(np.isfinite(t_hi), t_hi, 0.0),
                             minlength=k_r)
            hi[np.bincount(region_of, weights=~np.isfinite(t_hi), minlength=k_r) > 0] = np.inf
        if metric in problem.region_bands:
            r_lo, r_hi = problem.region_bounds(metric)
            lo, hi = np.maximum(lo, r_lo), np.minimum(hi, r_hi)
        limits[metric] = (lo, hi)
    d = problem.distances  # each unit to the nearest rep of the region who may serve it
    if problem.eligible is not None:
        d = np.where(problem.eligible, d, np.inf)
    nearest = np.column_stack([d[:, region_of == r].min(axis=1) for r in range(k_r)])
    nearest = np.where(np.isfinite(nearest), nearest, np.nanmax(np.where(
        np.isfinite(nearest), nearest, np.nan)))
    distance = pd.DataFrame(nearest, index=problem.unit_ids, columns=regions)
    rep_region = dict(zip(terr["rep_id"], (regions[r] for r in region_of), strict=True))
    locks = {key: rep_region[str(rep)] for key, rep in problem.locks.items()}
    locks |= dict(problem.region_locks)
    locks |= {unit: rep_region[rep] for unit, rep in _root_locks(problem).items()}
    current = {a: rep_region[str(rep)] for a, rep in problem.current.items()
               if str(rep) in rep_region}
    return TerritoryProblem(
        problem.units, reps=reps, balance={}, limits=limits, weight=problem.weight,
        power=problem.power, distance=distance, locks=locks,
        contiguity=problem.contiguity, graph=problem.graph,
        contiguity_method=problem.contiguity_method, current=current,
        move_penalty=problem.move_penalty, move_measure=problem.move_measure)


def _root_locks(problem: TerritoryProblem) -> dict[str, str]:
    """With contiguity, each territory's root unit (it must hold it, see
    ``TerritoryProblem.roots``) locked to its rep: each level's problem picks roots
    among its own units, which may not be the whole problem's."""
    if problem.roots is None:
        return {}
    reps = problem.territories["rep_id"].astype(str).to_numpy()
    return {problem.unit_ids[i]: reps[t] for t, i in enumerate(problem.roots)}


def region_subproblems(problem: TerritoryProblem, unit_region: np.ndarray
                       ) -> list[tuple[np.ndarray, np.ndarray, TerritoryProblem]]:
    """Per region: its units' and territories' positions in ``problem``, and the
    problem of its reps on its units (given each unit's region position)."""
    graph = problem.graph if problem.graph is not None else None
    if problem.contiguity and graph is None:
        graph = adjacency(problem.units)  # once, on all units: each region takes its part
    roots = _root_locks(problem)
    out = []
    for r in range(len(problem.regions or [])):
        units_at = np.flatnonzero(unit_region == r)
        terrs = np.flatnonzero(problem.region_of == r)
        current = {} if problem.move_level == "region" else problem.current  # inside: free
        sub = sub_problem(problem, units_at, terrs, graph=graph,
                          locks=dict(problem.locks) | roots, current=current,
                          move_penalty=problem.move_penalty)
        out.append((units_at, terrs, sub))
    return out


def sub_problem(problem: TerritoryProblem, units_at: np.ndarray, terrs: np.ndarray, *,
                graph: nx.Graph | None, locks: Mapping[str, str],
                current: Mapping[str, str], move_penalty: float) -> TerritoryProblem:
    """The problem of the territories ``terrs`` (positions) on the units ``units_at``
    alone: each territory keeps the whole problem's bands (as ``limits``), the
    locks and alignment entries that fall inside, and the part of ``graph`` (on
    unit ids) among these units. Region bands are not carried over."""
    units = problem.units.iloc[units_at].reset_index(drop=True)
    ids = set(units["unit_id"].astype(str))
    accounts = {str(a) for members in units.get("account_ids", []) for a in members}
    reps_here = set(problem.territories["rep_id"].astype(str).to_numpy()[terrs])
    limits = {m: (lo[terrs], hi[terrs]) for m, (lo, hi) in
              ((m, problem.bounds(m)) for m in problem.bands)}
    inside = {a: rep for a, rep in current.items()
              if str(rep) in reps_here and str(a) in accounts}
    return TerritoryProblem(
        units, reps=problem.reps.iloc[terrs].reset_index(drop=True),  # type: ignore[union-attr]
        balance={}, limits=limits, weight=problem.weight, power=problem.power,
        distance=problem.distance,
        locks={key: rep for key, rep in locks.items() if str(key) in ids or str(key) in accounts},
        region_locks={key: r for key, r in problem.region_locks.items()
                      if str(key) in ids or str(key) in accounts},
        contiguity=problem.contiguity,
        graph=None if graph is None else graph.subgraph(ids).copy(),
        contiguity_method=problem.contiguity_method,
        current=inside, move_penalty=move_penalty if inside else 0.0,
        move_measure=problem.move_measure)


def _solve_one(sub: TerritoryProblem, method: str, options: SolveOptions,
               solve: Callable[..., Solution]) -> Solution:
    if method == "auto" and sub.n_units > LAGRANGE_UNITS:
        method = "lagrange"
    return solve(sub, method=method, solver=options.solver, time_limit=options.time_limit,
                 gap=options.gap, threads=options.threads, random_state=options.random_state,
                 msg=options.msg, reduce=options.reduce, diagnose=options.diagnose)


def solve_top_down(problem: TerritoryProblem, options: SolveOptions, *,
                   solve: Callable[..., Solution], method: str = "auto",
                   workers: int | None = None) -> Solution:
    """Solve ``problem`` top-down (module docstring): the region problem, then every
    region's sub-problem, on Dask (``workers`` processes; the cores by default) or in
    this process (``workers=1``). ``method`` solves each level (``"auto"``: per
    level by its size), each by ``solve`` (:func:`territory_opt.solve`, given by the
    caller: it dispatches to this function too). The Dask cluster starts, and its
    workers load the solvers, while this process solves the region level."""
    clock = time.perf_counter()
    check_feasibility(problem)  # the whole problem's conflicts, named as such
    parallel = workers != 1 and len(problem.regions or []) > 1
    with dask_client(None, workers) if parallel else contextlib.nullcontext() as client:
        warm = [] if client is None else [
            client.submit(_load_solvers, solve, pure=False, workers=[address])
            for address in client.scheduler_info()["workers"]]
        upper = region_problem(problem)
        top = _solve_one(upper, method, options, solve)
        seconds = {"check": 0.0, "build": 0.0, "regions": time.perf_counter() - clock}
        subs = region_subproblems(problem, top.unit_centres())
        t0 = time.perf_counter()
        if client is None:
            solved = [_solve_one(sub, method, options, solve) for _, _, sub in subs]
        else:
            client.gather(warm)
            solved = client.gather([client.submit(_solve_one, sub, method, options, solve,
                                                  pure=False) for _, _, sub in subs])
        seconds["territories"] = time.perf_counter() - t0
    unit_centres = np.empty(problem.n_units, dtype=int)
    for (units_at, terrs, _), solution in zip(subs, solved, strict=True):
        unit_centres[units_at] = terrs[solution.unit_centres()]
    info: dict[str, Any] = {
        "regions": "top_down", "region_method": top.options.get("method"),
        "region_objective": top.objective,
        "territory_methods": sorted({s.options.get("method") for s in solved}),
        "workers": len(warm) if parallel else 1}
    logger.info("top-down: regions in %.1f s (%s), territories in %.1f s",
                seconds["regions"], top.options.get("method"), seconds["territories"])
    bound = top.bound if not problem.contiguity else None
    return Solution.from_unit_centres(problem, unit_centres, status="feasible", bound=bound,
                                      solver=top.solver, seconds=seconds,
                                      options=options.record("top_down") | info
                                      | {"bound_from": None if bound is None else "regions"})


def _load_solvers(solve: Callable[..., Solution]) -> None:
    """Nothing: a worker imports ``solve``'s module (the solvers) to receive it, so
    that the solvers are loaded before the first sub-problem needs them."""
