"""The Lagrangian path agrees with the exact MIP on instances small enough for both."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

import territory_opt as topt
from territory_opt.errors import InfeasibleError
from territory_opt.solvers import choose_method, lagrange, locate
from territory_opt.solvers.lagrange import Allocator

pytest.importorskip("zipcodes")
from territory_opt.datasets import seeded_home_bases, us_zip_units  # noqa: E402


@pytest.fixture(scope="module")
def georgia_zips():
    units = us_zip_units(states=["GA"], seed=3)
    return units, seeded_home_bases(units, 8, seed=3)


def _check_plan(problem, sol):
    assert len(sol.assignment) == problem.n_units
    for metric in problem.bands:
        lower, upper = problem.bounds(metric)
        sums = sol.sums(metric)
        assert (sums >= lower - 1e-6).all() and (sums <= upper + 1e-6).all()
    assert sol.objective == pytest.approx(problem.objective_of(sol.unit_centres()))


def test_fixed_centres_agree_with_the_exact_mip(georgia_zips):
    units, reps = georgia_zips
    problem = topt.TerritoryProblem(units, reps=reps,
                                    balance={"workload": 0.05, "potential": 0.3})
    exact = topt.solve(problem, gap=1e-3, method="mip")
    big = topt.solve(problem, method="lagrange", threads=1)
    _check_plan(problem, big)
    assert big.bound <= exact.objective * (1 + 1e-9)  # the certified bound holds
    assert big.objective >= exact.bound * (1 - 1e-9)
    assert big.bound >= exact.bound * (1 - 1e-3)  # and is about as strong as the MIP's
    assert big.gap <= 0.005
    assert big.options["method"] == "lagrange"


def test_lagrangian_bound_holds_for_any_duals(georgia_zips):
    units, reps = georgia_zips
    problem = topt.TerritoryProblem(units, reps=reps, balance={"workload": 0.05})
    optimum = topt.solve(problem, gap=1e-3, method="mip").objective  # >= the optimum
    alloc = Allocator(problem, np.arange(8), pinned={}, threads=1, seed=0, msg=False)
    rng = np.random.default_rng(0)
    best, _ = alloc.dual_ascent(None)
    for scale in (0.0, 0.5, 1.0, 2.0):
        duals = best * scale + rng.normal(0, np.abs(best).mean() + 1, best.shape) * (scale > 1)
        assert alloc.lagrangian(duals, 0.0) <= optimum * (1 + 1e-9)
    assert alloc.lagrangian(best, 0.0) >= 0.99 * optimum


def test_locks_and_realignment_cap_hold(georgia_zips):
    units, reps = georgia_zips
    locked = {units["unit_id"].iloc[i]: reps["rep_id"].iloc[i % 8] for i in range(0, 400, 50)}
    current = {u: reps["rep_id"].iloc[i % 8] for i, u in enumerate(units["unit_id"])}
    frame = units.assign(account_ids=[(u,) for u in units["unit_id"]],
                         account_workloads=[(w,) for w in units["workload"]])
    problem = topt.TerritoryProblem(frame, reps=reps, balance={"workload": 0.05},
                                    locks=locked, current=current, max_moved=0.8)
    exact = topt.solve(problem, gap=1e-3, method="mip")
    big = topt.solve(problem, method="lagrange", threads=1)
    _check_plan(problem, big)
    for unit, rep in locked.items():
        i = int(np.flatnonzero(units["unit_id"].to_numpy() == unit)[0])
        assert reps["rep_id"].iloc[big.assignment[i]] == rep
    moved = problem.moves[np.arange(problem.n_units), big.unit_centres()].sum()
    assert moved <= 0.8 * problem.move_total + 1e-6
    assert big.bound <= exact.objective * (1 + 1e-9)
    assert exact.bound <= big.objective * (1 + 1e-9)
    assert big.gap <= 0.005


def test_contiguous_plan_is_connected_and_bounded(georgia_zips):
    units, reps = georgia_zips
    problem = topt.TerritoryProblem(units, reps=reps, balance={"workload": 0.1},
                                    contiguity=True)
    big = topt.solve(problem, method="lagrange", threads=1)
    _check_plan(problem, big)
    graph = problem.adjacency
    for t in range(problem.n_territories):
        members = np.flatnonzero(big.assignment == t)
        assert nx.is_connected(graph.subgraph(members.tolist()))
        assert problem.roots[t] in members
    plain = topt.solve(problem.with_options(contiguity=False), gap=1e-3, method="mip")
    assert big.bound <= plain.objective * (1 + 1e-9)  # a bound of a relaxation


def test_model_centres_give_a_balanced_plan(georgia_zips):
    units, _ = georgia_zips
    problem = topt.TerritoryProblem(units, k=6, centres="model", balance={"workload": 0.05})
    big = topt.solve(problem, method="lagrange", threads=1)
    _check_plan(problem, big)
    # the Lagrangian bound of the assignment rows certifies the plan
    assert big.bound is not None and big.bound <= big.objective
    assert big.options["lagrangian_steps"] > 0
    assert len(np.unique(big.unit_centres())) == 6
    for t, c in enumerate(big.centres):  # each centre lies in its own territory
        assert big.assignment[c] == t


def test_infeasible_bands_are_reported(georgia_zips):
    units, reps = georgia_zips
    problem = topt.TerritoryProblem(units, reps=reps, balance={"workload": {"max": 10.0}})
    with pytest.raises(InfeasibleError, match="territories can hold"):
        topt.solve(problem, method="lagrange")


def test_solve_picks_the_path_by_size(georgia_zips, monkeypatch):
    units, reps = georgia_zips
    problem = topt.TerritoryProblem(units, reps=reps, balance={"workload": 0.05})
    assert choose_method(problem) == "mip"
    assert topt.solve(problem, gap=1e-3).options["method"] == "mip"
    monkeypatch.setattr(lagrange, "LARGE_PAIRS", 1000)
    assert choose_method(problem) == "lagrange"
    assert topt.solve(problem, gap=1e-3).options["method"] == "lagrange"
    assert topt.solve(problem, gap=1e-3, method="large").options["method"] == "lagrange"
    monkeypatch.setattr(lagrange, "LARGE_PAIRS", 10**9)
    # contiguity: the search at every size with fixed centres; with model centres the
    # search's location-allocation from locate.MIP_UNITS units (contiguity, or several
    # measures), the MIP below, the Lagrangian path past lagrange.CONTIGUOUS_UNITS
    assert choose_method(problem.with_options(contiguity=True)) == "search"
    model = topt.TerritoryProblem(units, k=4, centres="model", balance={"workload": 0.05},
                                  contiguity=True)
    assert locate.MIP_UNITS < model.n_units and choose_method(model) == "search"
    assert choose_method(model.with_options(contiguity=False)) == "mip"
    several = topt.TerritoryProblem(units, k=4, centres="model",
                                    balance={"workload": 0.05, "accounts": 0.1})
    assert choose_method(several) == "search"
    monkeypatch.setattr(locate, "MIP_UNITS", model.n_units)
    assert choose_method(model) == "mip" and choose_method(several) == "mip"
    monkeypatch.setattr(lagrange, "CONTIGUOUS_UNITS", problem.n_units - 1)
    assert choose_method(model) == "lagrange"
    assert choose_method(problem.with_options(contiguity=True)) == "search"
    assert choose_method(problem) == "mip"
    with pytest.raises(topt.InputError, match="method must be"):
        topt.solve(problem, method="fast")


def test_zip_units_are_seeded_and_checked():
    a = us_zip_units(states=["DE"], seed=1)
    b = us_zip_units(states=["DE"], seed=1)
    assert a["workload"].tolist() == b["workload"].tolist() and len(a) > 50
    assert (a["workload"] > 0).all() and a["zip"].is_unique
    with pytest.raises(topt.InputError, match="lower 48"):
        us_zip_units(states=["XX"])
    with pytest.raises(topt.InputError, match="between 1 and"):
        seeded_home_bases(a, 0)
