"""The Lagrangian dual of model centres (territory_opt.solvers.centres) against brute force.

Every figure it returns is a lower bound: the knapsacks (programme and LP) below
the best subset, the dual function below the optimum at any prices, the pair
bounds below the best plan that uses the pair. Tiny instances are solved by
enumerating every choice of centres and every assignment to them.
"""

from __future__ import annotations

import contextlib
import itertools
import warnings
from unittest import mock

import numpy as np
import pytest
from conftest import CRS, make_accounts
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

import territory_opt as topt
from territory_opt.solvers import locate, mip
from territory_opt.solvers.candidates import CandidateDual, candidate_bound, takes_candidates
from territory_opt.solvers.centres import (
    BandKnapsack,
    BandPrices,
    CentreDual,
    allowed_pairs,
    dual_bound,
)


@st.composite
def model_instances(draw):
    n = draw(st.integers(3, 7))
    k = draw(st.integers(1, min(3, n - 1)))
    cells = draw(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=n,
                          max_size=n, unique=True))
    integral = draw(st.booleans())
    work = draw(st.lists(st.integers(1, 9), min_size=n, max_size=n))
    workload = [float(w) if integral else w + 0.37 * (i % 3) for i, w in enumerate(work)]
    band = draw(st.sampled_from(["tolerance", "min", "max", "both", "none"]))
    tol = draw(st.sampled_from([0.05, 0.2, 0.5]))
    mean = sum(workload) / k
    balance = {"tolerance": {"workload": tol}, "min": {"workload": {"min": mean * (1 - tol)}},
               "max": {"workload": {"max": mean * (1 + tol)}},
               "both": {"workload": {"min": mean * (1 - tol), "max": mean * (1 + tol)}},
               "none": {}}[band]
    # a second measure, with its own band (BandPrices: every band in the knapsacks)
    second = draw(st.sampled_from([None, 0.1, 0.3]))
    potential = draw(st.lists(st.integers(1, 9), min_size=n, max_size=n))
    return {"cells": cells, "workload": workload, "k": k, "balance": balance,
            "power": draw(st.sampled_from([1, 2])),
            "potential": None if second is None else [float(p) for p in potential],
            "second": second}


def build(inst) -> topt.TerritoryProblem:
    accounts = make_accounts([(10.0 * x, 10.0 * y) for x, y in inst["cells"]], inst["workload"])
    units = topt.build_units(accounts, method="accounts", crs=CRS)
    balance = dict(inst["balance"])
    if inst.get("potential"):
        units["potential"] = inst["potential"]
        balance["potential"] = inst["second"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return topt.TerritoryProblem(units, k=inst["k"], centres="model",
                                     balance=balance, power=inst["power"])


def held(problem, members) -> bool:
    return all(lo[0] - 1e-9 <= problem.values(m)[members].sum() <= hi[0] + 1e-9
               for m in problem.bands for lo, hi in [problem.bounds(m)])


def plans(problem):
    """Every plan: each unit's centre unit."""
    n, k = problem.n_units, problem.n_territories
    for centres in itertools.combinations(range(n), k):
        others = [i for i in range(n) if i not in centres]
        for choice in itertools.product(centres, repeat=len(others)):
            plan = np.array(centres[0:0] or [0] * n)
            plan[list(centres)] = centres
            plan[others] = choice
            if all(held(problem, np.flatnonzero(plan == c)) for c in centres):
                yield plan


def knapsack_truth(problem, red_j, j, allowed):
    """The best subset about centre j under the band metric's window (brute force)."""
    knap = BandKnapsack(problem, allowed)
    others = [i for i in range(problem.n_units) if i != j and allowed[i, j]]
    best = np.inf
    for r in range(len(others) + 1):
        for subset in itertools.combinations(others, r):
            members = [j, *subset]
            weight = knap.a[members].sum()
            if knap.metric and not (knap.lower - 1e-9 <= weight <= knap.upper + 1e-9):
                continue
            best = min(best, float(red_j[members].sum()))
    return best


SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@SETTINGS
@given(inst=model_instances(), seed=st.integers(0, 10_000))
def test_knapsacks_never_exceed_the_best_subset(inst, seed):
    problem = build(inst)
    allowed = allowed_pairs(problem)
    knap = BandKnapsack(problem, allowed)
    rng = np.random.default_rng(seed)
    cost = np.where(allowed, problem.costs, np.inf)
    red = cost - rng.uniform(0, 1.5, problem.n_units)[:, None] * np.nanmax(
        np.where(np.isfinite(cost), cost, np.nan))
    lp, _ = knap.lp_values(red, np.arange(problem.n_units))
    for j in range(problem.n_units):
        truth = knapsack_truth(problem, red[:, j], j, allowed)
        col = knap.column(j, red[:, j])
        assert col.value <= truth + 1e-6 * max(1.0, abs(truth))
        assert lp[j] <= truth + 1e-6 * max(1.0, abs(truth))
        # exact with integer weights when the lower band is open
        if knap.scale == 1.0 and not np.isfinite(knap.lower) and np.isfinite(truth):
            assert col.value == pytest.approx(truth, rel=1e-9, abs=1e-9)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inst=model_instances().filter(lambda inst: inst["potential"]),
       seed=st.integers(0, 10_000))
def test_band_prices_never_exceed_the_best_subset_under_every_band(inst, seed):
    problem = build(inst)
    allowed = allowed_pairs(problem)
    n = problem.n_units
    prices = BandPrices(problem, allowed)
    rng = np.random.default_rng(seed)
    cost = np.where(allowed, problem.costs, np.inf)
    red = cost - rng.uniform(0, 1.5, n)[:, None] * np.nanmax(
        np.where(np.isfinite(cost), cost, np.nan))
    every = np.arange(n)
    for refine in (False, True, True):  # random band prices, then refined ones
        if refine:
            prices.refine(red, every)
        else:
            scale = np.nanmax(np.abs(red[np.isfinite(red)]))
            prices.nu = rng.normal(0, 1, prices.nu.shape) * scale
        got, _ = prices.values(red, every)
        for j in range(n):
            others = [i for i in range(n) if i != j and allowed[i, j]]
            truth = min((float(red[[j, *sub], j].sum())
                         for r in range(len(others) + 1)
                         for sub in itertools.combinations(others, r)
                         if held(problem, [j, *sub])), default=np.inf)
            assert got[j] <= truth + 1e-6 * max(1.0, abs(truth))


@SETTINGS
@given(inst=model_instances(), seed=st.integers(0, 10_000))
def test_the_dual_function_stays_below_the_optimum_at_any_prices(inst, seed):
    problem = build(inst)
    best = min((problem.objective_of(p) for p in plans(problem)), default=None)
    dual = CentreDual(problem)
    rng = np.random.default_rng(seed)
    scale = max(float(np.abs(problem.costs).max()), 1.0)
    for prices in (dual.start(), rng.normal(0, scale, problem.n_units),
                   dual.start() * rng.uniform(0.5, 1.5, problem.n_units)):
        point = dual.evaluate(prices)
        if best is None:
            continue  # any bound is valid for an infeasible problem
        assert point.bound <= best + 1e-6 * max(1.0, abs(best))
    event("infeasible" if best is None else "feasible")


@SETTINGS
@given(inst=model_instances())
def test_the_bound_and_the_closed_pairs_keep_every_optimal_plan(inst):
    problem = build(inst)
    every = list(plans(problem))
    if not every:
        return
    values = [problem.objective_of(p) for p in every]
    best = min(values)

    def make_plan(centres):  # the best plan on these centres, by brute force
        fits = [p for p in every if set(np.unique(p)) == set(centres.tolist())]
        return min(fits, key=problem.objective_of) if fits else None

    found = dual_bound(problem, deadline=None, make_plan=make_plan)
    assert found.bound <= best + 1e-6 * max(1.0, abs(best))
    assert found.plan is None or found.upper >= best - 1e-9
    closed = found.closed_pairs(best)
    for plan, value in zip(every, values, strict=True):
        if value <= best + 1e-9:  # an optimal plan keeps every one of its pairs open
            assert not closed[np.arange(problem.n_units), plan].any()


# the MIP's three ways with model centres: the bound after the LP (small), the bound and
# its plans first, the bound's plan taken when the model left is too large
PATHS = {"mip": {}, "mip-bound-first": {(mip, "DUAL_FIRST_UNITS"): 0},
         "mip-plan-taken": {(mip, "DUAL_FIRST_UNITS"): 0, (mip, "MIP_PAIRS"): 0},
         "lagrange": {}}


@pytest.mark.parametrize("path", sorted(PATHS))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inst=model_instances())
@example(inst={"cells": [(0, 1), (0, 3), (2, 1), (3, 2), (2, 3), (0, 0)],  # HiGHS took its
               "workload": [4.0, 1.37, 5.74, 2.0, 6.37, 1.74],  # start plan as optimal
               "k": 2, "balance": {}, "power": 2})
def test_model_centres_against_brute_force(path, inst):
    against_brute_force(build(inst), path, PATHS[path])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inst=model_instances())
def test_location_allocation_and_its_compromise_against_brute_force(inst):
    """Location-allocation on the search (two starts: the bound's centres and
    k-means++), whose nearest plan is the compromise."""
    against_brute_force(build(inst), "search", {(locate, "STARTS"): 2})


def against_brute_force(problem, path: str, patches: dict) -> None:
    best = min((problem.objective_of(p) for p in plans(problem)), default=None)
    method = path.split("-")[0]
    try:
        with contextlib.ExitStack() as stack:
            for (module, name), value in patches.items():
                stack.enter_context(mock.patch.object(module, name, value))
            sol = topt.solve(problem, method=method, gap=0.0, diagnose=False,
                             infeasible="compromise" if path == "search" else "refuse")
    except topt.InfeasibleError:
        assert best is None
        return
    except topt.SolverError:
        assert path in ("lagrange", "mip-plan-taken", "search")  # heuristics may find none
        return
    if sol.status == "relaxed":  # a compromise: outside some band, no bound, no gap
        plan = sol.unit_centres()
        assert not all(held(problem, np.flatnonzero(plan == c)) for c in np.unique(plan))
        assert sol.bound is None and sol.gap is None and sol.options["violation"] > 0
        event(f"{path}: relaxed")
        return
    assert best is not None
    assert sol.objective >= best - 1e-6 * max(1.0, abs(best))
    if sol.bound is not None:
        assert sol.bound <= best + 1e-6 * max(1.0, abs(best))
    if path in ("mip", "mip-bound-first") or sol.status == "optimal":
        assert sol.objective == pytest.approx(best, rel=1e-6, abs=1e-6)
    event(f"{path}: {sol.status}")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inst=model_instances().filter(lambda inst: inst["balance"]), seed=st.integers(0, 10_000),
       per_unit=st.integers(1, 6))
def test_the_candidate_pair_dual_stays_below_the_optimum_at_any_prices(inst, seed, per_unit):
    """Few candidates per unit (the price caps bind) and random prices: the bound over
    candidate pairs never passes the best plan, nor the dense dual at the same prices
    when every pair is listed."""
    problem = build(inst)
    if not takes_candidates(problem):
        return
    best = min((problem.objective_of(p) for p in plans(problem)), default=None)
    dual = CandidateDual(problem, min(per_unit, problem.n_units - 1))
    rng = np.random.default_rng(seed)
    scale = max(float(np.abs(problem.costs).max()), 1.0)
    for lam in (dual.start(), rng.normal(0, scale, problem.n_units), dual.cap * 2):
        lam = np.minimum(lam, dual.cap)
        value, _ = dual.evaluate(lam)
        if best is not None:
            assert value <= best + 1e-6 * max(1.0, abs(best))
    found = candidate_bound(problem, deadline=None, per_unit=min(per_unit, problem.n_units - 1))
    if best is not None:
        assert found.bound <= best + 1e-6 * max(1.0, abs(best))
    every = CandidateDual(problem, problem.n_units - 1)
    lam = np.minimum(every.start(), every.cap)
    dense = CentreDual(problem)
    if dense.prices is None and np.isfinite(dense.evaluate(lam).bound):
        assert every.evaluate(lam)[0] <= dense.evaluate(lam, full=True).bound + 1e-6 * scale
