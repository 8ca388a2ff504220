"""Property-based tests (hypothesis) on random small instances, and loader fuzzing.

Every random instance is also solved by brute force (all k**n assignments), so
the solver is checked against the truth, not only against itself: the same
optimum, or InfeasibleError exactly when no assignment meets the bands, locks
and contiguity.
"""

from __future__ import annotations

import warnings

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

import territory_opt as topt
from conftest import brute_force, build, instances


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
@example({"cells": [(0, 0), (0, 1), (0, 2), (0, 3)], "bases": [(0, 0), (0, 2), (0, 1)],
          "workload": [1, 1, 1, 1], "fte": [0.5, 0.5, 0.5], "tolerance": 0.1,
          "locks": {0: 1, 2: 0}, "contiguity": True, "power": 1})  # roots: greedy ran out
def test_solver_agrees_with_brute_force(inst):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", topt.TerritoryOptWarning)  # e.g. "no balance band"
        try:
            problem = build(inst)
        except topt.InfeasibleError:
            event("refused before solving")
            return
        truth = brute_force(problem)
        try:
            sol = topt.solve(problem, gap=0.0, diagnose=False)
        except topt.InfeasibleError:
            assert truth is None, f"called infeasible, but {truth} is reachable"
            event("proven infeasible")
            return
    event("contiguous optimum" if problem.contiguity else "optimum")
    assert truth is not None, "a plan was returned where none is feasible"
    table = sol.assignments()
    # every account exactly once
    assert sorted(table["account_id"]) == sorted(problem.unit_ids)
    # bands held
    lower, upper = problem.bounds("workload")
    assert topt.metrics.bands_held(sol.sums("workload"), lower, upper).all()
    # locks honoured
    owner = dict(zip(table["account_id"], table["rep_id"], strict=True))
    assert all(owner[a] == r for a, r in problem.locks.items())
    # contiguity when asked
    if problem.contiguity:
        assert topt.checks.is_connected_plan(problem, sol.unit_centres())
    # optimal, and never below the bound
    assert sol.objective == pytest.approx(truth, rel=1e-6, abs=1e-6)
    assert sol.bound is not None and sol.bound <= sol.objective * (1 + 1e-9) + 1e-9


# ------------------------------------------------------------------ loader fuzzing

TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]),
               max_size=200)
CSV_CELLS = st.one_of(st.sampled_from(["", "A1", "33.5", "-84.2", "nan", "inf", "1e309",
                                       "-1", "0", "x", "\"", ",", "true", "2026-13-45"]),
                      st.text(max_size=8))


@st.composite
def csv_texts(draw):
    header = draw(st.lists(st.sampled_from(["account_id", "lat", "lon", "workload", "rep_id",
                                            "fte", "name", "amount", "stage", "created",
                                            "closed", "won", "origin", "destination", "cost",
                                            "a", "b", "x", "junk"]),
                           min_size=1, max_size=7))
    rows = draw(st.lists(st.lists(CSV_CELLS, min_size=len(header), max_size=len(header)),
                         max_size=6))
    lines = [",".join(header)] + [",".join(r) for r in rows]
    return "\n".join(lines) + draw(st.sampled_from(["", "\n", "\n\n"]))


LOADERS = {
    "accounts": lambda p: topt.read_accounts(p),
    "reps": lambda p: topt.read_reps(p),
    "locks": lambda p: topt.read_locks(p),
    "deals": lambda p: topt.read_deals(p),
    "distance": lambda p: topt.read_distance_matrix(p),
    "edges": lambda p: topt.io.read_edges(p),
}


@pytest.mark.parametrize("loader", list(LOADERS))
@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(csv_texts(), TEXT))
def test_loaders_raise_only_input_errors(loader, text, tmp_path):
    path = tmp_path / "fuzz.csv"
    path.write_text(text, encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            LOADERS[loader](path)
        except topt.InputError:
            pass


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(TEXT, st.builds(
    lambda key, value: f"name: s\naccounts: {{path: a.csv}}\n{key}: {value}\n",
    st.sampled_from(["k", "balance", "solver", "units", "centres", "contiguity", "locks",
                     "objective", "report", "realignment", "deals", "crs"]),
    st.sampled_from(["0", "-1", "x", "[1, 2]", "{a: 1}", "null", "1e400", "{path: 3}",
                     "{workload: {min: 5, max: 1}}", "true", "'EPSG:0'"]))))
def test_scenario_loader_raises_only_input_errors(text, tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        topt.load_scenario(path)
    except topt.InputError:
        pass
