"""One suite for every method of ``solve(problem, method=...)`` (as networkx tests every
flow algorithm with the same cases): tiny grids whose answer can be seen by eye, and
random tiny instances against brute force.

An exact method must find the optimum; every method must return only valid plans
(every unit once, bands, locks, connectivity when asked), a bound that is never
above the optimum, ``optimal`` only within the gap, and InfeasibleError only when
no plan exists.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, event, example, given, settings

import territory_opt as topt
from conftest import (
    CRS,
    brute_force,
    build,
    grid_problem,
    instances,
    make_accounts,
    owners,
    region_instances,
    regions_hold,
    segment_instances,
)
from territory_opt.solvers import METHODS

EXACT = {"mip"}
LINE = [(float(x), 0.0) for x in range(6)]


@pytest.fixture(params=sorted(METHODS))
def method(request):
    return request.param


def check_plan(problem: topt.TerritoryProblem, sol: topt.Solution) -> None:
    """Every unit once, bands, locks, contiguity, the objective and the bound."""
    assert len(sol.assignment) == problem.n_units
    assert ((sol.assignment >= 0) & (sol.assignment < problem.n_territories)).all()
    for metric in problem.bands:
        lower, upper = problem.bounds(metric)
        assert topt.metrics.bands_held(sol.sums(metric), lower, upper).all()
    for i, t in problem.locked.items():
        assert sol.assignment[i] == t
    if problem.eligible is not None:  # no unit with a rep who does not serve its segment
        assert problem.eligible[np.arange(problem.n_units), sol.assignment].all()
    if problem.contiguity:
        assert topt.checks.is_connected_plan(problem, sol.unit_centres())
    if problem.regions is not None:  # every region within its bands (and connected)
        assert regions_hold(problem, sol.unit_centres())
    assert sol.objective == pytest.approx(problem.objective_of(sol.unit_centres()))
    assert sol.status in ("optimal", "feasible")
    if sol.bound is not None:
        assert sol.bound <= sol.objective * (1 + 1e-9) + 1e-9
    if sol.status == "optimal":
        assert sol.gap is not None and sol.gap <= sol.options["gap"] + 1e-9


def test_line_splits_in_the_middle(method):
    p = grid_problem(LINE, [(0, 0), (5, 0)])
    sol = topt.solve(p, method=method)
    check_plan(p, sol)
    assert sol.options["method"] == method
    got = owners(sol)
    assert [got[f"A{i}"] for i in range(6)] == ["R0"] * 3 + ["R1"] * 3
    assert sol.objective == pytest.approx(6.0)


def test_lock_moves_an_account_and_the_band_pulls_one_back(method):
    p = grid_problem(LINE, [(0, 0), (5, 0)], locks={"A4": "R0"})
    sol = topt.solve(p, method=method)
    check_plan(p, sol)
    got = owners(sol)
    assert got["A4"] == "R0" and sorted(got.values()).count("R0") == 3


def test_infeasible_bands_are_an_error(method):
    p = grid_problem(LINE, [(0, 0), (5, 0)], balance={"workload": {"max": 2}})
    with pytest.raises(topt.InfeasibleError):
        topt.solve(p, method=method)


def test_model_centres_give_balanced_territories_around_their_centres(method):
    xy = [(0, 0), (1, 0), (2, 0), (10, 0), (11, 0), (12, 0)]
    units = topt.build_units(make_accounts(xy), method="accounts", crs=CRS)
    p = topt.TerritoryProblem(units, k=2, centres="model",
                              balance={"workload": {"min": 3, "max": 3}})
    sol = topt.solve(p, method=method)
    check_plan(p, sol)
    for t, c in enumerate(sol.centres):  # each centre lies in its own territory
        assert sol.assignment[c] == t
    assert sorted(sol.territory_info["centre"]) == ["A1", "A4"]
    assert sol.objective == pytest.approx(4.0)


def test_unknown_method_is_refused():
    p = grid_problem(LINE, [(0, 0), (5, 0)])
    with pytest.raises(topt.InputError, match="method must be 'auto', 'mip', 'lagrange'"):
        topt.solve(p, method="fast")
    with pytest.raises(topt.InputError, match="gap must be a share"):
        topt.solve(p, gap=1.5)


@pytest.mark.parametrize("name", sorted(METHODS))
@settings(max_examples=70, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inst=instances())
def test_every_method_against_brute_force(name, inst):
    against_brute_force(name, inst)


@pytest.mark.parametrize("name", sorted(METHODS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inst=segment_instances())
def test_every_method_honours_segments_against_brute_force(name, inst):
    """Reps serving some segments only, bands restricted to a segment and capacity
    rules: never an ineligible pair (check_plan), the optimum where exact."""
    against_brute_force(name, inst)


@pytest.mark.parametrize("name", sorted(METHODS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inst=region_instances())
def test_every_method_honours_regions_against_brute_force(name, inst):
    """Reps in two regions with region bands, region locks, region contiguity (with
    contiguity) and moves counted per territory or region: the optimum where exact."""
    against_brute_force(name, inst)


ROOT_TAKEN = {  # the rep of region S nearest unit A1 is locked away: top-down once
    # picked its roots inside each region, not the whole problem's (a plan below the optimum)
    "cells": [(1, 1), (3, 3), (0, 0), (0, 1), (2, 2)], "workload": [1, 2, 5, 7, 9],
    "fte": [1.0, 0.5, 1.0], "tolerance": 0.5, "locks": {0: 0, 1: 0}, "contiguity": True,
    "power": 1, "regions": ["N", "S", "S"], "region_balance": {"workload": {"min": 12}},
    "region_locks": {}}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inst=region_instances())
@example(inst=ROOT_TAKEN | {"bases": [(2, 2), (0, 2), (3, 3)]})
@example(inst=ROOT_TAKEN | {"bases": [(1, 0), (0, 0), (3, 3)]})
def test_top_down_plans_are_valid_and_its_bound_holds(inst):
    """Top-down may find no plan where one exists (the region level commits first),
    but every plan it returns keeps both levels' rules, and its bound (without
    contiguity: the region problem's) is below the true optimum."""
    against_brute_force("mip", inst, regions="top_down")


def against_brute_force(name: str, inst: dict, regions: str = "joint") -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", topt.TerritoryOptWarning)
        try:
            problem = build(inst)
            truth = brute_force(problem)  # refused as it resolves the roots, too
        except topt.InfeasibleError:
            return
        try:
            sol = topt.solve(problem, method=name, gap=0.0, diagnose=False, regions=regions,
                             workers=1)
        except topt.InfeasibleError:
            assert truth is None or regions == "top_down", \
                f"{name} called it infeasible, but {truth} is reachable"
            event("infeasible")
            return
        except topt.SolverError:
            # a heuristic may fail to find a plan, but never the exact method
            assert name not in EXACT or regions == "top_down"
            event("no plan")
            return
    assert truth is not None, f"{name} returned a plan where none is feasible"
    check_plan(problem, sol)
    assert sol.objective >= truth * (1 - 1e-9) - 1e-9
    if sol.bound is not None:
        assert sol.bound <= truth * (1 + 1e-9) + 1e-9
    if (name in EXACT and regions == "joint") or sol.status == "optimal":
        assert sol.objective == pytest.approx(truth, rel=1e-6, abs=1e-6)
    event(f"{sol.status}, {'contiguous' if problem.contiguity else 'plain'}")


def test_with_options_keeps_the_instance():
    """A new lock or band keeps the costs and graph; a new weight recomputes costs."""
    p = grid_problem(LINE, [(0, 0), (5, 0)])
    costs, graph = p.costs, p.adjacency
    locked = p.with_options(locks={"A4": "R0"}, balance={"workload": 0.5})
    assert locked.costs is costs and locked.adjacency is graph
    assert locked.locked == {4: 0}
    heavier = p.with_options(power=2)
    assert heavier.costs is not costs
    assert np.allclose(heavier.costs, costs ** 2)  # unit weights: w d^2 = (w d)^2
