"""Exact windows: a large-neighbourhood search whose neighbourhoods the flow MIP solves.

The search (:mod:`~territory_opt.solvers.search`) moves a few units at a time; on
coarse maps (counties, districts) one unit is a large share of a territory, so a
better plan is often many moves away through plans outside the bands, and the search
stalls above the optimum. A *window* frees every unit of two to four neighbouring
territories, keeps the rest of the plan fixed, and solves that sub-problem exactly
with the flow MIP (:func:`~territory_opt.solvers.mip.solve_mip`), started from the
plan's own assignment of those units: the bands, locks, segments and connection of
the window's territories are the whole problem's, so every plan it returns is a
valid plan of the whole, never worse than the one it started from.

Windows are chosen where the plan's cost stands above the reference plan's most (the
plain problem's plan, which ignores contiguity: where the two differ most, the
connection costs most), a territory and its neighbours with the highest such excess;
a window that brought nothing is not tried again until a neighbouring one changes.
A window proves nothing about the whole problem: the bound stays what it was.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

import numpy as np

from territory_opt.checks import plan_faults
from territory_opt.errors import InfeasibleError, SolverError
from territory_opt.problem import TerritoryProblem
from territory_opt.solvers.mip import solve_mip
from territory_opt.solvers.options import SolveOptions
from territory_opt.solvers.regions import sub_problem

__all__ = ["improve_by_windows", "window_problem", "windows_apply"]

logger = logging.getLogger(__name__)

SIZES = (3, 2, 4)  # territories per window, in the order tried around each territory
WINDOW_UNITS = 300  # most units a window frees (fewer territories when more)
WINDOW_SECONDS = 6.0  # most seconds one window's MIP gets
MIN_SECONDS = 1.5  # time left below which no window starts


def windows_apply(problem: TerritoryProblem) -> bool:
    """Whether windows can improve plans of ``problem``: fixed centres, at least two
    territories, no region bands and no cap on moves (both bind the whole plan, not
    a window)."""
    return problem.centres == "fixed" and problem.n_territories > 1 \
        and not problem.region_bands and problem.max_moved is None


def window_problem(problem: TerritoryProblem, units_at: np.ndarray, terrs: np.ndarray
                   ) -> TerritoryProblem:
    """The sub-problem of territories ``terrs`` on units ``units_at`` (all of their
    units): the whole problem's bands as limits, its locks and each territory's root
    locked in, the adjacency among these units. Its costs are the whole problem's
    for these pairs."""
    reps = problem.territories["rep_id"].astype(str).to_numpy()
    inside = set(terrs.tolist())
    locks = {problem.unit_ids[i]: reps[t] for i, t in problem.locked.items() if t in inside}
    if problem.roots is not None:
        locks |= {problem.unit_ids[int(problem.roots[t])]: reps[t] for t in terrs.tolist()}
    graph = problem.adjacency.subgraph(units_at.tolist())
    ids = problem.unit_ids
    graph = type(graph)((ids[u], ids[v]) for u, v in graph.edges)
    graph.add_nodes_from(ids[i] for i in units_at.tolist())
    return sub_problem(problem, units_at, terrs, graph=graph if problem.contiguity else None,
                       locks=locks, current=problem.current,
                       move_penalty=problem.move_penalty)


def improve_by_windows(problem: TerritoryProblem, labels: np.ndarray, options: SolveOptions,
                       *, deadline: float | None, reference: np.ndarray | None = None,
                       most: int | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """Improve the valid plan ``labels`` (each unit's territory) by exact windows (module
    docstring) until ``deadline``, until every window has been tried without a gain,
    or after ``most`` windows. ``reference`` is the plan whose cost the windows are
    chosen against (the plain problem's), each unit's cheapest territory without one.
    Returns the plan (``labels`` itself when nothing improved) and counts."""
    info = {"windows": 0, "windows_improved": 0, "windows_gain": 0.0}
    if not windows_apply(problem):
        return labels, info
    cost = problem.costs
    label = np.asarray(labels).copy()
    rows = np.arange(problem.n_units)
    if reference is None:
        allowed = cost if problem.eligible is None else np.where(problem.eligible, cost, np.inf)
        floor = allowed.min(axis=1)
    else:
        floor = cost[rows, reference]
    tried: set[frozenset[int]] = set()
    while most is None or info["windows"] < most:
        left = None if deadline is None else deadline - time.perf_counter()
        if left is not None and left < MIN_SECONDS:
            break
        window = _next_window(problem, label, cost[rows, label] - floor, tried, reference)
        if window is None:
            break
        tried.add(frozenset(window.tolist()))
        units_at = np.flatnonzero(np.isin(label, window))
        before = float(cost[units_at, label[units_at]].sum())
        position = {t: j for j, t in enumerate(window.tolist())}
        start = np.array([position[t] for t in label[units_at].tolist()])
        seconds = WINDOW_SECONDS if left is None else min(WINDOW_SECONDS, left - 0.5)
        info["windows"] += 1
        try:
            sub = window_problem(problem, units_at, window)
            solved = solve_mip(sub, replace(options, time_limit=seconds, diagnose=False),
                               start=start)
        except (SolverError, InfeasibleError) as exc:  # the start holds: never expected
            logger.debug("window %s: %s", window.tolist(), exc)
            continue
        new = window[solved.unit_centres()]
        after = float(cost[units_at, new].sum())
        if after >= before - 1e-9 * max(abs(before), 1.0):
            continue
        trial = label.copy()
        trial[units_at] = new
        if plan_faults(problem, trial):  # re-checked: a window's plan is the whole's
            logger.warning("window %s gave a plan the whole problem refuses; skipped",
                           window.tolist())
            continue
        label = trial
        info["windows_improved"] += 1
        info["windows_gain"] += before - after
        moved = set(window.tolist())
        tried = {w for w in tried if not w & moved}  # its neighbours may gain again
        logger.info("window %s: %.6g -> %.6g", window.tolist(), before, after)
    return (labels if not info["windows_improved"] else label), info


def _next_window(problem: TerritoryProblem, label: np.ndarray, excess: np.ndarray,
                 tried: set[frozenset[int]], reference: np.ndarray | None
                 ) -> np.ndarray | None:
    """The untried window of most excess: a territory (most excess first) with its
    neighbours of most excess, ``SIZES`` territories, at most ``WINDOW_UNITS`` units."""
    k = problem.n_territories
    score = np.bincount(label, weights=np.maximum(excess, 0.0), minlength=k)
    if reference is not None:  # units the plain plan gave a territory count for it too
        away = reference != label
        score += np.bincount(reference[away], weights=np.maximum(excess[away], 0.0),
                             minlength=k)
    size = np.bincount(label, minlength=k)
    neighbours = _territory_neighbours(problem, label)
    for t in np.argsort(-score, kind="stable").tolist():
        near = sorted(neighbours[t], key=lambda s: -score[s])
        for n_terr in SIZES:
            if len(near) < n_terr - 1:
                continue
            window = [t, *near[:n_terr - 1]]
            while len(window) > 2 and size[window].sum() > WINDOW_UNITS:
                window.pop()
            if size[window].sum() > WINDOW_UNITS or frozenset(window) in tried:
                continue
            return np.array(sorted(window))
    return None


def _territory_neighbours(problem: TerritoryProblem, label: np.ndarray) -> list[set[int]]:
    """Each territory's neighbours: territories with a unit adjacent to one of its own."""
    out: list[set[int]] = [set() for _ in range(problem.n_territories)]
    edges = np.array(problem.adjacency.edges, dtype=int).reshape(-1, 2)
    a, b = label[edges[:, 0]], label[edges[:, 1]]
    for s, t in set(zip(a[a != b].tolist(), b[a != b].tolist(), strict=True)):
        out[s].add(t)
        out[t].add(s)
    return out
