"""Exact where it pays: windows of the flow MIP, the bound stated and whose it is, the
plain plan first with model-chosen centres (the compromise against the widened bands:
tests/test_compromise.py)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import CRS, brute_force, build, make_accounts

import territory_opt as topt
from territory_opt.checks import plan_faults
from territory_opt.solvers.options import SolveOptions
from territory_opt.solvers.search import grow_plan
from territory_opt.solvers.windows import improve_by_windows, window_problem


def _grids(seeds: int, *, k_low: int = 3) -> list[tuple[topt.TerritoryProblem, float]]:
    """Seeded tiny contiguous instances on a 4 x 4 grid with three or four
    territories (so that a window is part of the plan), with their brute-force
    optimum; only those that have a plan."""
    out = []
    for seed in range(seeds):
        rng = np.random.default_rng(1000 + seed)
        n, k = int(rng.integers(6, 9)), int(rng.integers(k_low, 5))
        cells = rng.permutation(16)[:n]
        inst = {"cells": [(int(c % 4), int(c // 4)) for c in cells],
                "bases": [(int(c % 4), int(c // 4)) for c in rng.permutation(16)[:k]],
                "workload": rng.integers(1, 10, n).tolist(),
                "fte": rng.choice([0.5, 1.0], k).tolist(),
                "tolerance": float(rng.choice([0.3, 0.6, 0.9])),
                "locks": {int(rng.integers(n)): int(rng.integers(k))} if seed % 3 == 0 else {},
                "contiguity": True, "power": int(rng.choice([1, 2]))}
        if k ** n > 20_000:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", topt.TerritoryOptWarning)
            try:
                problem = build(inst)
                truth = brute_force(problem)
            except topt.InfeasibleError:
                continue
        if truth is not None:
            out.append((problem, truth))
    return out


@pytest.fixture(scope="module")
def grids():
    return _grids(40)


def test_windows_never_break_a_band_lock_or_connection(grids):
    """From a valid plan, every plan the windows keep is valid for the whole problem
    (bands, locks, roots, connection) and never costs more; windows of every
    territory reach the brute-force optimum."""
    assert len(grids) >= 10
    reached = tried = windows = 0
    for problem, truth in grids:
        start = topt.solve(problem, method="search", gap=0.5).unit_centres()
        before = problem.objective_of(start)
        labels, info = improve_by_windows(problem, start, SolveOptions(time_limit=None),
                                          deadline=None)
        assert plan_faults(problem, labels) == []
        assert all(labels[i] == t for i, t in problem.locked.items())
        assert problem.objective_of(labels) <= before + 1e-9
        assert problem.objective_of(labels) >= truth - 1e-6
        windows += info["windows"]
        if problem.n_territories == 3:  # a window of three territories is the whole map
            tried += 1
            reached += problem.objective_of(labels) == pytest.approx(truth, rel=1e-9)
    assert windows >= len(grids) and reached == tried


def test_a_window_costs_what_the_whole_problem_says(grids):
    """A window's sub-problem prices its pairs as the whole problem does, holds the
    same bands, and keeps the whole problem's roots and locks."""
    problem, _ = grids[0]
    labels = grow_plan(problem)
    window = np.array([0, 1])
    units_at = np.flatnonzero(np.isin(labels, window))
    sub = window_problem(problem, units_at, window)
    assert np.allclose(sub.costs, problem.costs[np.ix_(units_at, window)])
    for metric in problem.bands:
        assert np.allclose(np.vstack(sub.bounds(metric)),
                           np.vstack(problem.bounds(metric))[:, window])
    local = {int(u): j for j, u in enumerate(units_at)}
    for t in window.tolist():
        assert local[int(problem.roots[t])] in {i for i, s in sub.locked.items() if s == t}


def test_the_bound_stated_is_never_above_the_optimum_and_says_whose(grids):
    for problem, truth in grids:
        sol = topt.solve(problem, gap=0.0, time_limit=20)
        assert plan_faults(problem, sol.unit_centres()) == []
        assert sol.objective >= truth - 1e-6
        assert sol.bound is not None and sol.bound <= truth * (1 + 1e-9) + 1e-9
        assert sol.options["bound_from"] in ("plain", "model")
        assert sol.bound_from.startswith("the ")
        if sol.status == "optimal":
            assert sol.objective == pytest.approx(truth, rel=1e-6)


def test_model_centres_with_contiguity_start_from_the_plain_plan():
    """Model-chosen centres, contiguous, on tiny grids: the plain plan first, then the
    flow MIP from it connected; the brute-force optimum over every centre set, with a
    bound never above it."""
    from test_locate import brute_force_model

    for seed in range(6):
        rng = np.random.default_rng(seed)
        cells = [(x, y) for x in range(4) for y in range(2)]
        units = topt.build_units(make_accounts(cells, rng.integers(1, 10, 8).tolist()),
                                 method="accounts", crs=CRS)
        problem = topt.TerritoryProblem(units, k=2, centres="model", contiguity=True,
                                        balance={"workload": 0.4}, power=2)
        truth = brute_force_model(problem)
        if truth is None:
            continue
        sol = topt.solve(problem, gap=0.0, time_limit=30)
        assert plan_faults(problem, sol.unit_centres()) == []
        assert sol.objective == pytest.approx(truth, rel=1e-9)
        assert sol.bound is not None and sol.bound <= truth * (1 + 1e-9)
        assert sol.status == "optimal" and sol.bound_from is not None
