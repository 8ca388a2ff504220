"""The territory-design search (solvers/search.py) on tiny grids against brute force,
its articulation points against networkx, and its time limit on the demo.

The search is a heuristic: it must return only valid plans (connected, in band,
locks and segments kept), never call a plan optimal unless the bound proves it,
and find the optimum on most tiny instances.
"""

from __future__ import annotations

import time
import warnings

import networkx as nx
import numpy as np
import pytest
from conftest import brute_force, build, grid_problem, segment_instances
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import territory_opt as topt
from territory_opt.checks import plan_faults
from territory_opt.plan import Plan
from territory_opt.solvers.search import Search, grow_plan
from territory_opt.solvers.search.state import State


def _tiny(seeds: int) -> list[tuple[topt.TerritoryProblem, float | None]]:
    """Seeded tiny contiguous instances on a 4 x 4 grid, with bands loose enough that
    most have a plan, and their brute-force optimum (None: no plan)."""
    out = []
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        n, k = int(rng.integers(5, 9)), int(rng.integers(2, 4))
        cells = rng.permutation(16)[:n]
        bases = rng.permutation(16)[:k]
        inst = {"cells": [(int(c % 4), int(c // 4)) for c in cells],
                "bases": [(int(c % 4), int(c // 4)) for c in bases],
                "workload": rng.integers(1, 10, n).tolist(),
                "fte": rng.choice([0.5, 1.0], k).tolist(),
                "tolerance": float(rng.choice([0.25, 0.5, 0.9])),
                "locks": {int(rng.integers(n)): int(rng.integers(k))} if seed % 3 == 0 else {},
                "contiguity": True, "power": int(rng.choice([1, 2]))}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", topt.TerritoryOptWarning)
            try:
                problem = build(inst)
                out.append((problem, brute_force(problem)))
            except topt.InfeasibleError:
                continue
    return out


def test_search_finds_the_contiguous_optimum_on_most_tiny_grids():
    cases = [(p, truth) for p, truth in _tiny(120) if truth is not None]
    assert len(cases) >= 20
    optimum = 0
    for problem, truth in cases:
        try:
            sol = topt.solve(problem, method="search", gap=0.0)
        except topt.SolverError:
            continue
        assert plan_faults(problem, sol.unit_centres()) == []
        assert sol.objective >= truth * (1 - 1e-9) - 1e-9
        assert sol.bound is None or sol.bound <= truth * (1 + 1e-9) + 1e-9
        found = sol.objective == pytest.approx(truth, rel=1e-6, abs=1e-6)
        if sol.status == "optimal":
            assert found, "called optimal above the optimum"
        optimum += found
    assert optimum >= 0.85 * len(cases), f"optimum on {optimum} of {len(cases)}"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inst=segment_instances(), seed=st.integers(0, 3))
def test_search_keeps_segments_locks_and_connection(inst, seed):
    """Whatever the start, every plan the search keeps is connected, holds its
    locks and roots, and gives no unit to a rep who does not serve its segment."""
    inst["contiguity"] = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", topt.TerritoryOptWarning)
        try:
            problem = build(inst)
            roots = problem.roots
        except topt.InfeasibleError:
            return
    start = grow_plan(problem, random_state=seed)
    if not topt.checks.is_connected_plan(problem, start) or (
            problem.eligible is not None
            and not problem.eligible[np.arange(problem.n_units), start].all()):
        return  # grow_plan may strand a unit that no eligible territory touches
    engine = Search(problem, start, cost=problem.costs, roots=roots,
                    fixed=sorted(problem.locked), connected=True,
                    rng=np.random.default_rng(seed))
    engine.repair(None)
    engine.tabu_phase(30, None)
    labels = engine.labels()
    assert topt.checks.is_connected_plan(problem, labels)
    assert all(labels[i] == t for i, t in problem.locked.items())
    assert all(labels[r] == t for t, r in enumerate(roots))
    if problem.eligible is not None:
        assert problem.eligible[np.arange(problem.n_units), labels].all()
    # the plan's sums are the engine's
    assert np.allclose(engine.state.sums, engine.state.bands.sums(labels))


def test_articulation_points_match_networkx():
    rng = np.random.default_rng(1)
    graph = nx.grid_2d_graph(9, 9)
    nodes = sorted(graph)
    acc = [(float(x), float(y)) for x, y in nodes]
    g = nx.relabel_nodes(graph, {v: f"A{i}" for i, v in enumerate(nodes)})
    p = grid_problem(acc, [(0.0, 0.0), (8.0, 8.0), (0.0, 8.0)], graph=g,
                     balance={"workload": 0.9})
    for _ in range(30):
        labels = rng.integers(0, 3, len(nodes))
        plan = Plan(p, labels)
        for t in range(3):
            sub = p.adjacency.subgraph(np.flatnonzero(labels == t).tolist())
            cuts = plan.cut_units(t)
            if nx.is_connected(sub):
                assert cuts == set(nx.articulation_points(sub))
            else:
                assert cuts is None
        i = int(rng.integers(len(nodes)))  # a move refreshes the two territories
        plan.move(i, (int(labels[i]) + 1) % 3)
        for t in range(3):
            sub = p.adjacency.subgraph(np.flatnonzero(plan.label == t).tolist())
            if nx.is_connected(sub):
                assert plan.cut_units(t) == set(nx.articulation_points(sub))


def _grid_plan(size: int, k: int, seed: int):
    """A size x size grid problem with k bases, and a random connected-or-not plan."""
    graph = nx.grid_2d_graph(size, size)
    nodes = sorted(graph)
    rng = np.random.default_rng(seed)
    acc = [(float(x), float(y)) for x, y in nodes]
    g = nx.relabel_nodes(graph, {v: f"A{i}" for i, v in enumerate(nodes)})
    bases = [(float(x), float(y)) for x, y in rng.integers(0, size, (k, 2))]
    p = grid_problem(acc, bases, graph=g, balance={"workload": 0.3},
                     workload=rng.integers(1, 9, len(nodes)).tolist())
    return p, rng


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), connected=st.booleans())
def test_incremental_state_equals_a_recomputation_after_random_moves(seed, connected):
    """Sums, member lists, edges between territories and articulation points, kept per
    move for the two territories it touches, equal those computed from scratch; the
    articulation points equal networkx's; a refused move changes nothing."""
    p, rng = _grid_plan(7, 4, seed)
    labels = rng.integers(0, 4, p.n_units)
    state = State(Plan(p, labels), cost=p.costs, connected=connected)
    for _ in range(60):
        i = int(rng.integers(p.n_units))
        s, t = int(state.label[i]), int(rng.integers(4))
        if connected and not state.may_move(i, s, t):
            # refused only for a reason: same territory, t not touched, s already in
            # pieces (no member may leave), or s cut in two without i
            members = np.flatnonzero(state.label == s).tolist()
            rest = p.adjacency.subgraph([m for m in members if m != i])
            touches = (state.label[list(p.adjacency[i])] == t).any()
            assert s == t or not touches or len(rest) == 0 or not nx.is_connected(rest) \
                or not nx.is_connected(p.adjacency.subgraph(members))
            continue
        state.move(i, t)
    state.check()
    for t in range(4):
        sub = p.adjacency.subgraph(np.flatnonzero(state.label == t).tolist())
        cuts = state.cut_units(t)
        if len(sub) and nx.is_connected(sub):
            assert cuts == set(nx.articulation_points(sub))
        elif len(sub):
            assert cuts is None


def test_a_composite_move_takes_what_hangs_behind_an_articulation_point():
    """A unit that cuts its territory leaves with the members it holds to the root
    (those no longer reached from the root without it), and with none when a fixed
    unit hangs behind it."""
    p, _ = _grid_plan(6, 2, 1)
    labels = np.ones(p.n_units, dtype=int)
    labels[:6] = 0  # territory 0: the grid's first column, a path from its root, unit 0
    roots = np.array([0, 35])
    state = State(Plan(p, labels, roots=roots), cost=p.costs, connected=True)
    for u in range(p.n_units):
        t = int(state.label[u])
        got = state.hanging(u)
        members = np.flatnonzero(state.label == t).tolist()
        if u == roots[t]:
            assert len(got) == 0
            continue
        sub = p.adjacency.subgraph([m for m in members if m != u])
        reached = nx.node_connected_component(sub, int(roots[t]))
        assert sorted(got.tolist()) == sorted([u] + [m for m in members
                                                     if m != u and m not in reached])
    assert sorted(state.hanging(3).tolist()) == [3, 4, 5]
    fixed = State(Plan(p, labels, roots=roots, fixed=[5]), cost=p.costs, connected=True)
    assert len(fixed.hanging(3)) == 0 and fixed.hanging(5).tolist() == []
    assert fixed.hanging(2).tolist() == [] and sorted(state.hanging(2).tolist()) == [2, 3, 4, 5]


def test_repair_restores_the_bands_and_keeps_every_territory_connected():
    """From plans grown from the roots (far outside the bands), the repair's descents,
    flow balance and composite path pushes keep every territory connected, its root in
    place and the state equal to a recomputation, never end further outside the bands
    than they started, and end inside them on most grids where the exact flow model
    finds a plan."""
    feasible = restored = 0
    for seed in range(24):
        p, rng = _grid_plan(6, 3, seed)
        p = p.with_options(contiguity=True)
        roots = p.roots
        start = grow_plan(p, random_state=seed)
        engine = Search(p, start, cost=p.costs, roots=roots, fixed=sorted(p.locked),
                        connected=True, rng=rng)
        before = engine.violation()
        engine.repair(None)
        labels = engine.labels()
        assert topt.checks.is_connected_plan(p, labels)
        assert all(labels[r] == t for t, r in enumerate(roots))
        engine.state.check()
        assert engine.violation() <= before + 1e-9
        try:
            topt.solve(p, method="mip", time_limit=20, gap=0.5)
        except (topt.InfeasibleError, topt.SolverError):
            continue
        feasible += 1
        restored += engine.violation() <= 1e-9
    assert feasible >= 12 and restored >= 0.9 * feasible, f"{restored} of {feasible}"


def test_search_is_deterministic_for_a_random_state():
    cases = [p for p, truth in _tiny(40) if truth is not None][:5]
    for problem in cases:
        a = topt.solve(problem, method="search", random_state=3)
        b = topt.solve(problem, method="search", random_state=3)
        assert (a.unit_centres() == b.unit_centres()).all()


@pytest.fixture(scope="module")
def georgia_contiguous():
    accounts, potential, reps = topt.load_georgia()
    units = topt.build_units(accounts, potential=potential, method="accounts")
    return topt.TerritoryProblem(units, reps=reps, contiguity=True,
                                 balance={"workload": 0.05, "potential": 0.25})


def test_the_demo_is_connected_within_its_time_limit(georgia_contiguous):
    """A time limit is a promise: the whole solve (plain start, search, MIP from its
    plan) ends within it plus 10 %, with a connected plan and a stated gap."""
    p = georgia_contiguous
    _ = p.costs, p.adjacency  # the instance, computed once (not the solver's time)
    t0 = time.perf_counter()
    sol = topt.solve(p, gap=1e-4, time_limit=12)
    seconds = time.perf_counter() - t0
    assert seconds <= 12 * 1.1, f"{seconds:.1f} s for a 12 s limit"
    assert sol.options["method"].startswith("search")
    assert plan_faults(p, sol.unit_centres()) == []
    assert sol.status == "feasible" and sol.gap is not None and sol.gap < 0.01
