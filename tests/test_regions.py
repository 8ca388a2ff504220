"""Regions over territories: reading, region bands and locks, moves per region,
the joint model and top-down, the region table, map and report (issue 18)."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import ROOT, grid_problem, make_accounts, make_reps

import territory_opt as topt
from territory_opt.checks import conflicts, plan_faults

DATA = ROOT / "data" / "georgia"


def _problem(**kwargs):
    """Six accounts on a line (x = 0..5), three reps in two regions: W (R0 at 0, R1 at
    2), E (R2 at 7)."""
    accounts = make_accounts([(x, 0.0) for x in range(6)], [1.0] * 6)
    reps = make_reps([(0.0, 0.0), (2.0, 0.0), (7.0, 0.0)], regions=["W", "W", "E"])
    units = topt.build_units(accounts, method="accounts")
    return topt.TerritoryProblem(units, reps=reps, **({"balance": {"workload": 0.5}}
                                                        | kwargs))


def test_reps_read_with_their_region(tmp_path):
    reps = topt.read_reps(DATA / "reps.csv", region="region")
    assert reps["region"].tolist()[:4] == ["North", "North", "East", "North"]
    p = _problem()
    assert p.regions == ["W", "E"] and p.region_of.tolist() == [0, 0, 1]
    bad = tmp_path / "reps.csv"
    bad.write_text("rep_id,lat,lon,region\nR1,33.7,-84.4,North\nR2,33.9,-84.5,\n")
    with pytest.raises(topt.InputError, match=r"reps\.csv.*'region'.*no region in row 3"):
        topt.read_reps(bad, region="region")


def test_a_crm_region_column_with_blanks_is_no_planning_level_unless_asked():
    reps = make_reps([(0.0, 0.0), (5.0, 0.0)]).assign(region=["East", None])
    accounts = make_accounts([(x, 0.0) for x in range(4)], [1.0] * 4)
    units = topt.build_units(accounts, method="accounts")
    assert topt.TerritoryProblem(units, reps=reps).regions is None
    with pytest.raises(topt.InputError, match="region is blank for R1"):
        topt.TerritoryProblem(units, reps=reps, region_balance={"workload": 0.1})


def test_region_rules_need_reps_with_a_region():
    accounts = make_accounts([(x, 0.0) for x in range(4)], [1.0] * 4)
    units = topt.build_units(accounts, method="accounts")
    reps = make_reps([(0.0, 0.0), (3.0, 0.0)])
    with pytest.raises(topt.InputError, match="region_balance need reps with a region"):
        topt.TerritoryProblem(units, reps=reps, region_balance={"workload": 0.1})
    with pytest.raises(topt.InputError, match="region contiguity needs contiguous"):
        _problem(region_contiguity=True)


def test_region_band_is_around_the_sum_of_its_reps_targets():
    p = _problem(region_balance={"workload": 0.1})
    lower, upper = p.region_bounds("workload")
    assert lower == pytest.approx([0.9 * 4, 0.9 * 2]) and upper == pytest.approx([4.4, 2.2])
    sol = topt.solve(p)
    region = p.region_of[sol.assignment]
    assert np.bincount(region, weights=p.values("workload")).tolist() == [4.0, 2.0]
    table = sol.regions()
    assert table["region"].tolist() == ["W", "E", "TOTAL"]
    assert table["workload_held"].tolist() == [True, True, True]
    assert table["workload_target"].tolist()[:2] == [4.0, 2.0]


def test_region_band_binds_where_the_territory_bands_do_not():
    """Territories +-50 % allow the west to take 5 of 6; the region band keeps 4."""
    loose = topt.solve(_problem(balance={"workload": 0.5}))
    tight = topt.solve(_problem(balance={"workload": 0.5}, region_balance={"workload": 0.1}))
    for sol in (loose, tight):
        assert not plan_faults(sol.problem, sol.unit_centres())
    west = [int((sol.problem.region_of[sol.assignment] == 0).sum()) for sol in (loose, tight)]
    assert west == [5, 4] and tight.objective > loose.objective


def test_region_lock_keeps_a_unit_in_the_region():
    p = _problem(region_locks={"A5": "W"})
    sol = topt.solve(p)
    assert p.region_of[sol.assignment[5]] == 0
    with pytest.raises(topt.InputError, match="names region 'Ws'.*did you mean 'W'"):
        _problem(region_locks={"A5": "Ws"})
    with pytest.raises(topt.InputError, match="locked to region 'W'; drop one"):
        _problem(region_locks={"A5": "W"}, locks={"A5": "R2"})


def test_moves_count_per_region_when_asked():
    current = {f"A{i}": "R0" for i in range(6)}
    per_rep = _problem(current=current, move_penalty=1.0)
    per_region = _problem(current=current, move_penalty=1.0, move_level="region")
    # an account of R0 moving to R1 (same region) moves only per rep
    assert per_rep.moves[0].tolist() == [0.0, 1.0, 1.0]
    assert per_region.moves[0].tolist() == [0.0, 0.0, 1.0]


def test_conflicts_name_the_region():
    p = _problem(balance={"workload": 0.05}, region_balance={"workload": {"max": 3.5}})
    found = list(conflicts(p))
    assert any("region 'W': its 2 territories need at least 3.8 workload together" in m
               for m in found), found
    with pytest.raises(topt.InfeasibleError, match="region 'W'"):
        topt.solve(p, regions="top_down", workers=1)


@pytest.mark.parametrize("how", ["joint", "top_down"])
def test_every_territory_lies_in_its_region_with_contiguity(how):
    """On the Georgia counties with contiguous territories and regions: each region's
    polygon covers its territories' polygons, and each region is connected in the
    counties' graph."""
    accounts, potential, reps = topt.load_georgia()
    units = topt.build_units(accounts, potential=potential, method="polygons")
    p = topt.TerritoryProblem(units, reps=reps, balance={"workload": 0.25},
                              region_balance={"workload": 0.1}, contiguity=True,
                              region_contiguity=True)
    sol = topt.solve(p, regions=how, workers=1, time_limit=120, gap=1e-2)
    assert not plan_faults(p, sol.unit_centres())
    shapes = sol.region_shapes.set_index("region").geometry
    terr = sol.territory_info
    for t, shape in enumerate(sol.shapes):
        region = shapes[p.regions[p.region_of[t]]]
        assert region.buffer(1.0).contains(shape), terr["territory"][t]
    region = p.region_of[sol.assignment]
    for r in range(len(p.regions)):
        assert nx.is_connected(p.adjacency.subgraph(np.flatnonzero(region == r).tolist()))
    assert (sol.options["method"] == "top_down") == (how == "top_down")


def test_top_down_reports_the_region_problem_bound_without_contiguity():
    p = grid_problem([(x, y) for x in range(4) for y in range(3)],
                     [(0, 0), (0, 2), (3, 0), (3, 2)], balance={"workload": 0.25})
    p = p.with_options(reps=p.reps.assign(region=["W", "W", "E", "E"]),
                       region_balance={"workload": 0.1})
    joint = topt.solve(p, gap=0.0)
    top = topt.solve(p, regions="top_down", workers=1, gap=0.0)
    assert top.status == "feasible" and top.options["method"] == "top_down"
    assert top.bound is not None and top.bound <= joint.objective + 1e-9
    assert top.objective >= joint.objective - 1e-9


def test_top_down_on_dask_gives_the_plan_of_one_process():
    """The regions' sub-problems solved on a local Dask cluster (2 worker processes)
    give the same plan as solved one after another."""
    p = grid_problem([(x, y) for x in range(6) for y in range(3)],
                     [(0, 0), (1, 2), (4, 0), (5, 2)], balance={"workload": 0.2})
    p = p.with_options(reps=p.reps.assign(region=["W", "W", "E", "E"]))
    serial = topt.solve(p, regions="top_down", workers=1)
    parallel = topt.solve(p, regions="top_down", workers=2)
    assert parallel.options["workers"] == 2 and serial.options["workers"] == 1
    assert parallel.assignment.tolist() == serial.assignment.tolist()
    assert not plan_faults(p, parallel.unit_centres())


def test_top_down_refuses_a_shared_move_cap():
    current = {f"A{i}": "R0" for i in range(6)}
    p = _problem(current=current, max_moved=0.5)
    with pytest.raises(topt.InputError, match="cannot be split before solving"):
        topt.solve(p, regions="top_down", workers=1)
    with pytest.raises(topt.InputError, match="regions must be 'joint'"):
        topt.solve(p, regions="bottom_up")


def test_scenario_with_regions_writes_the_region_level(tmp_path):
    data = yaml.safe_load((ROOT / "scenarios" / "georgia_regions.yaml").read_text())
    for key in ("accounts", "potential", "reps", "deals"):
        data[key]["path"] = str((ROOT / "scenarios" / data[key]["path"]).resolve())
    data.pop("output")
    data["contiguity"] = False
    data["regions"] |= {"method": "top_down", "workers": 1}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    check = topt.check_scenario(path)
    assert check.ok, check.problems
    assert check.facts["regions"] == {"North": 4, "East": 4, "South": 4}
    result = topt.run_scenario(path, out=tmp_path / "out")
    out = result.out_dir
    regions = pd.read_csv(out / "regions.csv")
    assert regions["region"].tolist() == ["North", "East", "South", "TOTAL"]
    assert regions["workload_held"].all()
    assign = pd.read_csv(out / "assignments.csv")
    reps = pd.read_csv(DATA / "reps.csv").set_index("rep_id")
    assert (assign["region"] == assign["rep_id"].map(reps["region"])).all()
    quotas = pd.read_csv(out / "quotas.csv")
    assert quotas["quota"].iloc[:-1].sum() == data["quota"]["total"]
    by_region = quotas.iloc[:-1].groupby("region")["quota"].sum()
    assert by_region.sum() == data["quota"]["total"]
    page = (out / "report.html").read_text()
    assert "<h2>Regions</h2>" in page and "planned top-down" in page
    assert "Regions (3)" in (out / "map.html").read_text()
    with pd.ExcelFile(out / "report.xlsx") as book:
        assert "Regions" in book.sheet_names


def test_scenario_regions_need_the_reps_region(tmp_path):
    data = {"name": "s", "accounts": {"path": str(DATA / "accounts.csv")},
            "reps": {"path": str(DATA / "reps_specialists.csv")},
            "regions": {"balance": {"workload": 0.05}}}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    check = topt.check_scenario(path)
    assert not check.ok
    assert any("regions: needs each rep's region" in m for m in check.problems)
