"""Model-chosen centres by location-allocation (``method="search"``) against brute force.

Tiny grids, two or three territories, workload and account count each in a band,
with and without contiguity: every plan valid (bands, connection, each centre in its
own territory), never below the true optimum, its bound never above it; optimal
where it says so; a plan wherever it claims none exists is an error.
"""

from __future__ import annotations

import itertools
import warnings

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import territory_opt as topt
from conftest import make_accounts
from test_solvers import check_plan


@st.composite
def model_instances(draw):
    n = draw(st.integers(4, 6))
    cells = draw(st.permutations([(x, y) for x in range(3) for y in range(3)]))[:n]
    return {"cells": cells, "k": draw(st.integers(2, 3)),
            "workload": draw(st.lists(st.integers(1, 9), min_size=n, max_size=n)),
            "tolerance": draw(st.sampled_from([0.1, 0.3, 0.6])),
            "accounts": draw(st.sampled_from([0.2, 0.5, 0.9])),
            "contiguity": draw(st.booleans()), "power": draw(st.sampled_from([1, 2]))}


def build_model(inst) -> topt.TerritoryProblem:
    cells = inst["cells"]
    accounts = make_accounts([(10.0 * x, 10.0 * y) for x, y in cells], inst["workload"])
    ids = list(accounts["account_id"])
    graph = nx.Graph()
    graph.add_nodes_from(ids)
    for (a, ca), (b, cb) in itertools.combinations(zip(ids, cells, strict=True), 2):
        if abs(ca[0] - cb[0]) + abs(ca[1] - cb[1]) == 1:  # rook moves
            graph.add_edge(a, b)
    units = topt.build_units(accounts, method="accounts")
    return topt.TerritoryProblem(
        units, k=inst["k"], centres="model", power=inst["power"],
        balance={"workload": inst["tolerance"], "accounts": inst["accounts"]},
        contiguity=inst["contiguity"], graph=graph if inst["contiguity"] else None)


def brute_force_model(problem: topt.TerritoryProblem) -> float | None:
    """The optimum over every choice of k centre units and every assignment that keeps
    each centre in its own territory; None when no plan holds the bands."""
    n, k = problem.n_units, problem.n_territories
    bands = [(problem.values(m), *problem.bounds(m)) for m in problem.bands]
    graph = problem.adjacency if problem.contiguity else None
    best = None
    for centres in itertools.combinations(range(n), k):
        for labels in itertools.product(range(k), repeat=n):
            labels = np.array(labels)
            if any(labels[c] != t for t, c in enumerate(centres)):
                continue
            if not all(topt.metrics.bands_held(np.bincount(labels, weights=a, minlength=k),
                                               lo, hi).all() for a, lo, hi in bands):
                continue
            if graph is not None and not all(
                    nx.is_connected(graph.subgraph(np.flatnonzero(labels == t).tolist()))
                    for t in range(k)):
                continue
            value = problem.objective_of(np.array(centres)[labels])
            best = value if best is None else min(best, value)
    return best


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inst=model_instances())
def test_location_allocation_against_brute_force(inst):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", topt.TerritoryOptWarning)
        problem = build_model(inst)
        truth = brute_force_model(problem)
        try:
            sol = topt.solve(problem, method="search", gap=0.0)
        except topt.InfeasibleError:
            assert truth is None, f"called infeasible, but {truth} is reachable"
            event("infeasible")
            return
        except topt.SolverError:
            event("no plan" if truth is None else "no plan (one exists)")
            return
    assert truth is not None, "returned a plan where none is feasible"
    check_plan(problem, sol)
    for t, c in enumerate(sol.centres):  # each centre lies in its own territory
        assert sol.assignment[c] == t
    assert sol.options["method"] == "search"
    assert sol.objective >= truth * (1 - 1e-9) - 1e-9
    if sol.bound is not None:
        assert sol.bound <= truth * (1 + 1e-9) + 1e-9
    if sol.status == "optimal":
        assert sol.objective == pytest.approx(truth, rel=1e-6, abs=1e-6)
    event(f"{sol.status}, {'contiguous' if problem.contiguity else 'plain'}, "
          f"{'at the optimum' if sol.objective <= truth * (1 + 1e-9) + 1e-9 else 'above'}")
