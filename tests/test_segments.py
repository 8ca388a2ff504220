"""Segments: accounts of a segment go only to reps who serve it; bands restricted to a
segment; capacity rules over a filter; the messages when they cannot be met.

The solvers' agreement with brute force on random instances with segments is in
``test_solvers.py`` (``test_every_method_honours_segments_against_brute_force``).
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import yaml
from shapely.geometry import box

import territory_opt as topt
from conftest import CRS, ROOT, X0, Y0, make_accounts, make_reps
from territory_opt.checks import conflicts, plan_faults

LINE = [(float(x), 0.0) for x in range(6)]


def _line(segment, served, balance=None, **kwargs) -> topt.TerritoryProblem:
    units = topt.build_units(make_accounts(LINE, segment=segment), method="accounts", crs=CRS,
                             segment="segment")
    return topt.TerritoryProblem(units, reps=make_reps([(0, 0), (5, 0)], segments=served),
                                 balance=balance or {"workload": 0.5}, **kwargs)


# ------------------------------------------------------------------ reading


def test_reps_segments_are_read_as_tuples_blank_for_all(tmp_path):
    path = tmp_path / "reps.csv"
    path.write_text("rep_id,lat,lon,segments\nR1,33,-84,hospital; clinic\nR2,33,-83,\n"
                    "R3,32,-84,\"pharmacy,hospital\"\n")
    reps = topt.read_reps(path, segments="segments")
    assert list(reps["segments"]) == [("hospital", "clinic"), (), ("pharmacy", "hospital")]


def test_an_account_without_segment_is_named(tmp_path):
    path = tmp_path / "acc.csv"
    path.write_text("account_id,lat,lon,workload,kind\nA1,33,-84,1,hospital\n"
                    "A2,33,-83,1,\n")
    with pytest.raises(topt.InputError, match=r"acc.csv', column 'kind': no segment in row 3"):
        topt.read_accounts(path, segment="kind")


# ------------------------------------------------------------------ units


def _squares() -> gpd.GeoDataFrame:
    geoms = [box(X0 + dx, Y0, X0 + dx + 10_000, Y0 + 10_000) for dx in (0, 10_000, 20_000)]
    frame = gpd.GeoDataFrame({"zone": ["W", "E", "X"], "pop": [100.0, 50.0, 30.0]},
                             geometry=geoms, crs=CRS)
    return topt.read_potential(frame, value="pop", id="zone")


def test_polygon_units_split_by_segment_and_keep_potential():
    acc = make_accounts([(1, 1), (2, 2), (3, 3), (15, 5)], [1, 3, 4, 2],
                        segment=["a", "b", "a", "b"])
    units = topt.build_units(acc, potential=_squares(), segment="segment")
    by = units.set_index("unit_id")
    assert list(by.index) == ["W|a", "W|b", "E", "X"]
    assert list(by["segment"]) == ["a", "b", "b", ""]  # an empty polygon: any rep
    assert by.loc["W|a", "account_ids"] == ("A0", "A2")
    assert list(by["workload"]) == [5.0, 3.0, 2.0, 0.0]
    # W's potential 100 shared by workload 5 : 3; totals kept
    assert by.loc["W|a", "potential"] == pytest.approx(62.5)
    assert units["potential"].sum() == pytest.approx(180.0)
    assert sorted(a for ids in units["account_ids"] for a in ids) == ["A0", "A1", "A2", "A3"]


def test_segments_split_units_only_when_asked():
    acc = make_accounts([(1, 1), (2, 2), (15, 5)], segment=["a", "b", "a"])
    units = topt.build_units(acc, potential=_squares())
    assert "segment" not in units and len(units) == 3  # a column of that name alone: no split


def test_clusters_never_mix_segments():
    rng = np.random.default_rng(3)
    xy = [tuple(p) for p in rng.uniform(0, 30, size=(60, 2))]
    seg = rng.choice(["a", "b", "c"], size=60).tolist()
    units = topt.build_units(make_accounts(xy, segment=seg), method="clusters", n_units=8,
                             segment="segment")
    of = dict(zip([f"A{i}" for i in range(60)], seg, strict=True))
    for ids, segment in zip(units["account_ids"], units["segment"], strict=True):
        assert {of[a] for a in ids} == {segment}
    assert units["accounts"].sum() == 60


# ------------------------------------------------------------------ the problem


def test_reps_segments_may_be_given_as_text_in_python():
    units = topt.build_units(make_accounts(LINE, segment=["a", "a", "a", "b", "b", "b"]),
                             method="accounts", crs=CRS, segment="segment")
    reps = make_reps([(0, 0), (5, 0)]).assign(segments=["a", "a; b"])
    p = topt.TerritoryProblem(units, reps=reps)
    assert p.served == [("a",), ("a", "b")]


def test_eligibility_matrix_and_plan_faults():
    p = _line(["a", "a", "a", "b", "b", "b"], ["a", ""])
    assert p.eligible[:, 0].tolist() == [True] * 3 + [False] * 3
    assert p.eligible[:, 1].all()
    faults = plan_faults(p, np.array([0, 0, 0, 0, 1, 1]))
    assert faults == ["unit 'A3' with a rep who does not serve its segment"]


@pytest.mark.parametrize("method", ["mip", "lagrange"])
def test_a_specialist_gets_only_its_segment(method):
    # R0 serves only 'b', the accounts far from its base: distance alone would give
    # it the three near ones
    p = _line(["a", "a", "a", "b", "b", "b"], ["b", ""], balance={"workload": 0.0})
    sol = topt.solve(p, method=method)
    assert sol.assignment.tolist() == [1, 1, 1, 0, 0, 0]
    assert plan_faults(p, sol.unit_centres()) == []


def test_segment_band_targets_are_shared_among_the_reps_serving_it():
    acc = make_accounts(LINE + [(2.5, 1.0)], [1, 2, 3, 4, 5, 6, 7],
                        segment=["a", "a", "b", "b", "a", "a", "b"])
    units = topt.build_units(acc, method="accounts", crs=CRS, segment="segment")
    reps = make_reps([(0, 0), (5, 0), (2, 1)], fte=[1.0, 0.5, 1.0],
                     segments=["a; b", "b", "a"])
    p = topt.TerritoryProblem(units, reps=reps, balance={"workload[b]": 0.5})
    # b's workload 14, shared by FTE between R0 (1.0) and R1 (0.5); R2 serves no b
    assert p.targets("workload[b]") == pytest.approx([14 / 1.5, 7 / 1.5, 0.0])
    assert p.values("workload[b]").tolist() == [0, 0, 3, 4, 0, 0, 7]
    sol = topt.solve(p)
    lower, upper = p.bounds("workload[b]")
    assert topt.metrics.bands_held(sol.sums("workload[b]"), lower, upper).all()


def test_a_minimum_binds_only_the_reps_serving_the_segment():
    p = _line(["a", "a", "a", "b", "b", "b"], ["a", ""],
              balance={"workload": 0.5, "accounts[b]": {"min": 2}})
    lower, _ = p.bounds("accounts[b]")
    assert lower.tolist() == [0.0, 2.0]
    sol = topt.solve(p)
    assert sol.sums("accounts[b]").tolist() == [0.0, 3.0]


def test_unknown_segment_names_are_named_with_a_suggestion():
    with pytest.raises(topt.InputError, match=r"rep 'R0' names segment 'hospitl'.*did you "
                                              r"mean 'hospital'"):
        _line(["hospital"] * 3 + ["clinic"] * 3, ["hospitl", ""])
    with pytest.raises(topt.InputError, match=r"'workload\[clinc\]'.*did you mean 'clinic'"):
        _line(["hospital"] * 3 + ["clinic"] * 3, ["", ""],
              balance={"workload[clinc]": 0.1})


def test_segments_need_fixed_centres_and_segmented_units():
    units = topt.build_units(make_accounts(LINE, segment=["a"] * 6), method="accounts",
                             crs=CRS, segment="segment")
    reps = make_reps([(0, 0), (5, 0)], segments=["a", ""])
    with pytest.raises(topt.InputError, match="need fixed centres"):
        topt.TerritoryProblem(units, reps=reps, centres="model")
    plain = topt.build_units(make_accounts(LINE), method="accounts", crs=CRS)
    with pytest.raises(topt.InputError, match="units have no segment"):
        topt.TerritoryProblem(plain, reps=reps)


def test_a_lock_to_a_rep_who_does_not_serve_the_segment_is_refused():
    with pytest.raises(topt.InputError, match=r"lock of 'A0' to rep 'R1'.*segment 'a'.*"
                                              r"does not serve"):
        _line(["a", "a", "a", "b", "b", "b"], ["", "b"], locks={"A0": "R1"})


def test_too_few_specialists_are_diagnosed_by_segment():
    # 'b' carries workload 3 x 4 = 12 of 15; only R0 serves it, at +-10 % of 7.5
    acc = make_accounts(LINE, [1, 1, 1, 4, 4, 4], segment=["a", "a", "a", "b", "b", "b"])
    units = topt.build_units(acc, method="accounts", crs=CRS, segment="segment")
    p = topt.TerritoryProblem(units, reps=make_reps([(0, 0), (5, 0)], segments=["b", "a"]),
                              balance={"workload": 0.1})
    found = list(conflicts(p))
    assert any("segment 'b': workload 12.0 can go only to the reps serving it, and needs "
               "at least 2 of them" in m and "1 serve it (R0)" in m for m in found), found
    assert any("territory 'T02' (rep 'R1') serves only 'a': it needs at least 6.8 workload"
               in m for m in found), found
    with pytest.raises(topt.InfeasibleError, match="serves only 'a'"):
        topt.solve(p)


def test_specialists_who_cannot_fill_their_bands_together_are_diagnosed():
    # R0 and R1 serve only 'b' (workload 3); each needs at least 0.9 x 15 / 3 = 4.5
    acc = make_accounts(LINE, [1, 1, 1, 1, 1, 10], segment=["b", "b", "b", "a", "a", "a"])
    units = topt.build_units(acc, method="accounts", crs=CRS, segment="segment")
    reps = make_reps([(0, 0), (1, 0), (5, 0)], segments=["b", "b", ""])
    p = topt.TerritoryProblem(units, reps=reps, balance={"workload": 0.1})
    assert any("the reps serving only 'b' (R0, R1) need at least 9.0 workload together"
               in m and "hold 3.0" in m for m in conflicts(p)), list(conflicts(p))


def test_a_segment_nobody_serves_and_a_rep_with_nothing_to_serve():
    p = _line(["a", "a", "a", "b", "b", "b"], ["a", "a"], balance={"workload": 0.9})
    assert any("segment 'b': 3 units but no rep serves it" in m for m in conflicts(p))


def test_contiguity_names_the_segment_whose_units_lie_apart():
    # the specialist's two 'b' accounts are separated by 'a' accounts
    p = _line(["b", "a", "a", "b", "a", "a"], ["b", "a"], balance={"workload": 0.9},
              contiguity=True)
    found = list(conflicts(p))
    assert any("contiguity: 1 units of segment 'b'" in m and "(R0)" in m for m in found), found


# ------------------------------------------------------------------ capacity filters


def test_where_mask_numbers_text_and_lists():
    acc = pd.DataFrame({"revenue": [10.0, 50.0, np.nan, 70.0],
                        "segment": ["a", "b", "c", " b "]})
    assert topt.io.where_mask(acc, "revenue >= 50").tolist() == [False, True, False, True]
    assert topt.io.where_mask(acc, "segment == b").tolist() == [False, True, False, True]
    assert topt.io.where_mask(acc, "segment in a, c").tolist() == [True, False, True, False]
    assert topt.io.where_mask(acc, "segment != b").tolist() == [True, False, True, False]


@pytest.mark.parametrize(("where", "message"), [
    ("revenue is big", "not a filter"),
    ("turnover > 5", "no column 'turnover'"),
    ("revenue > lots", "holds numbers"),
    ("segment > b", "holds text"),
])
def test_bad_filters_say_what_to_write(where, message):
    acc = pd.DataFrame({"revenue": [1.0], "segment": ["a"]})
    with pytest.raises(topt.InputError, match=message):
        topt.io.where_mask(acc, where)


def test_capacity_column_counts_or_sums_and_keeps_the_input():
    acc = pd.DataFrame({"account_id": ["A", "B"], "revenue": [10.0, 50.0]})
    out = topt.capacity_column(acc, "big", "revenue > 20")
    assert out["big"].tolist() == [0.0, 1.0]
    assert "big" not in acc
    assert topt.capacity_column(acc, "big", "revenue > 5", sum="revenue")["big"].tolist() \
        == [10.0, 50.0]
    with pytest.raises(topt.InputError, match="already have a column"):
        topt.capacity_column(acc, "revenue", "revenue > 5")


# ------------------------------------------------------------------ the scenario


def test_the_specialist_scenario_runs_and_honours_every_rule(tmp_path):
    data = yaml.safe_load((ROOT / "scenarios" / "georgia_specialists.yaml").read_text())
    for key in ("accounts", "potential", "reps"):
        data[key]["path"] = str((ROOT / "scenarios" / data[key]["path"]).resolve())
    data["output"] = str(tmp_path / "out")
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    check = topt.check_scenario(path)
    assert check.ok, check.problems
    assert check.facts["segments"]["hospital"] == {"accounts": 121, "reps": 2}
    result = topt.run_scenario(path, progress=False)
    table = pd.read_csv(tmp_path / "out" / "assignments.csv")
    hospital = table["segment"] == "hospital"
    assert set(table.loc[hospital, "rep_id"]) == {"R13", "R14"}
    assert not table.loc[~hospital, "rep_id"].isin(["R13", "R14"]).any()
    report = pd.read_csv(tmp_path / "out" / "report.csv")
    reps = report[report["territory"] != "TOTAL"]
    assert (reps["key accounts"] >= 5).all()
    assert reps.set_index("rep_id").loc["R13", "segments"] == "hospital"
    # a capacity rule is a min/max, not a target: the report says whether it holds
    html_page = (tmp_path / "out" / "report.html").read_text()
    assert "Band, key accounts" in html_page and "Worst deviation, key accounts" not in \
        html_page
    assert "the key accounts band [5.0, -]: held in every territory; per territory 5.0 to" \
        in html_page.replace("&#x27;", "'")
    # a layer of territories per set of segments served (shapes may overlap)
    page = (tmp_path / "out" / "map.html").read_text()
    assert "Territories: practice; pharmacy" in page and "Territories: hospital" in page
    assert plan_faults(result.solution.problem, result.solution.unit_centres()) == []


def test_a_capacity_rule_needs_min_or_max(tmp_path):
    data = {"name": "s", "accounts": {"path": str(ROOT / "data/georgia/accounts.csv")},
            "reps": {"path": str(ROOT / "data/georgia/reps.csv")},
            "capacity": {"big": {"where": "revenue > 5"}}}
    check = topt.check_scenario(topt.scenario_from_dict(data))
    assert any("capacity 'big': give min, max or both" in p for p in check.problems)


# ------------------------------------------------------------------ overlay teams


def _teams_copy(tmp_path, **changes):
    data = yaml.safe_load((ROOT / "scenarios" / "georgia_teams.yaml").read_text())
    for spec in (data["accounts"], data["potential"], *(t["reps"] for t in data["teams"].values())):
        spec["path"] = str((ROOT / "scenarios" / spec["path"]).resolve())
    data["output"] = str(tmp_path / "out")
    data |= changes
    path = tmp_path / "teams.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_overlay_teams_assign_each_account_once_per_team(tmp_path):
    # plans, not their quality: the search alone (the flow MIP after it can sit in HiGHS's
    # analytic centre a minute past its limit on this team, see solvers/highs.py)
    path = _teams_copy(tmp_path, locks={"A30026": "R13", "A30003": "R05"},
                       solver={"time_limit": 20, "gap": 0.004, "method": "search"})
    check = topt.check_scenario(path)
    assert check.ok, check.problems
    assert check.facts["teams"]["hospital"]["accounts"] == 121
    result = topt.run_scenario(path, progress=False)
    out = tmp_path / "out"
    table = pd.read_csv(out / "assignments.csv")
    accounts = pd.read_csv(ROOT / "data/georgia/accounts.csv")
    core = table[table["team"] == "core"]
    hospital = table[table["team"] == "hospital"]
    assert sorted(core["account_id"]) == sorted(accounts["account_id"])
    assert sorted(hospital["account_id"]) == sorted(
        accounts.loc[accounts["segment"] == "hospital", "account_id"])
    assert set(hospital["rep_id"]) == {"R13", "R14"}
    assert not core["rep_id"].isin(["R13", "R14"]).any()
    # one owner column per team; blank where the team does not cover the account
    crm = pd.read_csv(out / "crm_assignments.csv", keep_default_na=False)
    assert list(crm.columns) == ["account_id", "owner_core", "owner_hospital"]
    assert (crm["owner_hospital"] != "").sum() == 121
    # locks apply in the team of their rep
    owner = crm.set_index("account_id")
    assert owner.loc["A30003", "owner_core"] == "R05"
    assert owner.loc["A30026", "owner_hospital"] == "R13"
    # every output of a run in each team's folder, and the joined page and map
    for team in ("core", "hospital"):
        assert (out / team / "report.html").is_file() and (out / team / "map.html").is_file()
    page = (out / "report.html").read_text()
    assert "Team core" in page and "Team hospital" in page
    assert "hospital: Territories" in (out / "map.html").read_text()
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["teams"]) == {"core", "hospital"}
    # the hospital team is contiguous on the map of its own accounts
    run = result.teams["hospital"]
    assert run.solution.problem.contiguity
    assert plan_faults(run.solution.problem, run.solution.unit_centres()) == []


def test_a_lock_outside_the_team_of_its_rep_is_named(tmp_path):
    check = topt.check_scenario(_teams_copy(tmp_path, locks={"A30002": "R13"}))
    assert any("lock of 'A30002' to rep 'R13': team 'hospital' does not cover that account "
               "(accounts where segment == hospital)" in p for p in check.problems), \
        check.problems


def test_team_problems_are_named_by_team(tmp_path):
    path = _teams_copy(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["teams"]["hospital"]["balance"] = {"workload": 0.05, "potential[clinic]": 0.1}
    data["teams"]["hospital"]["where"] = "segment == hospitl"
    path.write_text(yaml.safe_dump(data))
    check = topt.check_scenario(path)
    assert any(p.startswith("team 'hospital': ") and "keeps none of the 949 rows" in p
               for p in check.problems), check.problems


def test_teams_need_reps_and_folder_names():
    base = {"name": "s", "accounts": {"path": "a.csv"}}
    with pytest.raises(topt.InputError, match="every team needs reps"):
        topt.scenario_from_dict(base | {"teams": {"core": {}}})
    with pytest.raises(topt.InputError, match="usable as a folder name"):
        topt.scenario_from_dict(base | {"reps": {"path": "r.csv"}, "teams": {"a/b": {}}})


def test_init_maps_the_segment_columns_and_the_scenario_validates(tmp_path):
    from territory_opt.cli import main

    data = ROOT / "data" / "georgia"
    target = tmp_path / "s.yaml"
    assert main(["init", str(target), "--accounts", str(data / "accounts.csv"),
                 "--reps", str(data / "reps_specialists.csv")]) == 0
    text = target.read_text()
    assert "  segment: segment " in text and "  segments: segments " in text
    check = topt.check_scenario(target)
    assert check.ok, check.problems
    assert check.facts["segments"]["hospital"]["reps"] == 2


def test_sweeps_and_sizing_refuse_a_scenario_with_teams(tmp_path):
    path = _teams_copy(tmp_path)
    with pytest.raises(topt.InputError, match="a sweep runs a scenario of one team"):
        topt.sweep(path, ["balance.workload=0.05,0.1"])
    from territory_opt.cli import main

    assert main(["size", str(path), "--max-workload", "2000"]) == 2


def test_last_years_team_owners_are_this_years_alignment(tmp_path):
    first = _teams_copy(tmp_path)
    topt.run_scenario(first, progress=False)
    owners = tmp_path / "out" / "crm_assignments.csv"
    data = yaml.safe_load(first.read_text())
    for team in ("core", "hospital"):  # a blank owner: an account the team did not cover
        data["teams"][team]["alignment"] = {"path": str(owners), "rep": f"owner_{team}"}
        data["teams"][team]["realignment"] = {"max_moved": 0.0}
    data["output"] = str(tmp_path / "again")
    (tmp_path / "again.yaml").write_text(yaml.safe_dump(data))
    result = topt.run_scenario(tmp_path / "again.yaml", progress=False)
    for team, run in result.teams.items():
        moves = run.solution.moves()
        assert not moves["moved"].any(), team
    before = pd.read_csv(owners, keep_default_na=False)
    after = pd.read_csv(tmp_path / "again" / "crm_assignments.csv", keep_default_na=False)
    pd.testing.assert_frame_equal(before, after)
