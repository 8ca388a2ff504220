"""Realignment against the current alignment: penalties, caps, and the moves report."""

from __future__ import annotations

import pandas as pd
import pytest

import territory_opt as topt
from conftest import grid_problem, owners

LINE = [(float(x), 0.0) for x in range(6)]
TODAY = {"A0": "R0", "A1": "R0", "A2": "R0", "A3": "R0", "A4": "R1", "A5": "R1"}


def _problem(**kwargs):
    # 2 to 4 accounts per rep; the compact plan moves A3 to R1 (saves 1 km).
    return grid_problem(LINE, [(0, 0), (5, 0)], balance={"accounts": 1 / 3 + 1e-9},
                        current=TODAY, **kwargs)


def test_without_penalty_the_compact_plan_moves_one_account():
    sol = topt.solve(_problem())
    assert owners(sol)["A3"] == "R1"
    moves = sol.moves().set_index("account_id")
    assert moves["moved"].sum() == 1 and moves.loc["A3", "old_rep_id"] == "R0"
    table = sol.summary().set_index("rep_id")
    assert table.loc["R0", "moved_out"] == 1 and table.loc["R1", "moved_in"] == 1


def test_alignment_may_name_territory_labels():
    by_label = {a: {"R0": "T01", "R1": "T02"}[r] for a, r in TODAY.items()}
    sol = topt.solve(_problem().with_options(current=by_label, max_moved=0.0))
    assert owners(sol) == TODAY
    assert set(sol.moves()["old_rep_id"]) == {"R0", "R1"}


def test_a_penalty_above_the_saving_keeps_the_account():
    assert owners(topt.solve(_problem(move_penalty=2.0)))["A3"] == "R0"
    assert owners(topt.solve(_problem(move_penalty=0.5)))["A3"] == "R1"


def test_workload_measure_weighs_the_move():
    heavy = grid_problem(LINE, [(0, 0), (5, 0)], workload=[1, 1, 1, 3, 1, 1],
                         balance={"accounts": 1 / 3 + 1e-9}, current=TODAY,
                         move_penalty=0.5, move_measure="workload")
    # moving A3 saves 3 x 1 km of weighted distance but costs 0.5 x 3 workload
    assert owners(topt.solve(heavy))["A3"] == "R1"
    heavier = heavy.with_options(move_penalty=1.5)
    assert owners(topt.solve(heavier))["A3"] == "R0"


def test_a_cap_of_zero_keeps_today_and_bands_can_force_moves():
    assert owners(topt.solve(_problem(max_moved=0.0))) == TODAY
    strict = grid_problem(LINE, [(0, 0), (5, 0)], balance={"accounts": 0.0}, current=TODAY,
                          max_moved=0.0)
    with pytest.raises(topt.InfeasibleError,
                       match=r"realignment cap must allow 1 more account to move "
                             r"\(16\.7% of all; max_moved at least 0\.167\)"):
        topt.solve(strict)


def test_realignment_errors():
    with pytest.raises(topt.InputError, match="names rep 'R7'"):
        _problem() .with_options(current={"A0": "R7"})
    with pytest.raises(topt.InputError, match="needs the current alignment"):
        grid_problem(LINE, [(0, 0), (5, 0)], max_moved=0.1)
    with pytest.raises(topt.InputError, match="share between 0 and 1"):
        _problem(max_moved=3)


def test_scenario_alignment_writes_moves(tmp_path):
    pd.DataFrame({"account_id": [f"A{i}" for i in range(6)], "lat": [33.0] * 6,
                  "lon": [-84.0 + 0.01 * i for i in range(6)], "workload": [1.0] * 6}
                 ).to_csv(tmp_path / "accounts.csv", index=False)
    pd.DataFrame({"rep_id": ["R0", "R1"], "lat": [33.0, 33.0], "lon": [-84.0, -83.95]}
                 ).to_csv(tmp_path / "reps.csv", index=False)
    pd.DataFrame({"account_id": list(TODAY), "owner": list(TODAY.values())}
                 ).to_csv(tmp_path / "owners.csv", index=False)
    (tmp_path / "s.yaml").write_text(
        "name: s\naccounts: {path: accounts.csv}\nreps: {path: reps.csv}\n"
        "balance: {accounts: 0.0}\nalignment: {path: owners.csv, rep: owner}\n"
        "realignment: {penalty: 0.1, measure: accounts}\n")
    result = topt.run_scenario(tmp_path / "s.yaml", out=tmp_path / "out")
    assign = pd.read_csv(result.out_dir / "assignments.csv")
    assert list(assign.columns) == ["account_id", "unit_id", "territory", "rep_id",
                                    "old_rep_id", "moved"]
    assert assign["moved"].sum() == 1
    report = pd.read_csv(result.out_dir / "report.csv").set_index("rep_id", drop=False)
    assert report.loc["R1", "moved_in"] == 1
    crm = pd.read_csv(result.out_dir / "crm_assignments.csv", dtype=str)
    moved = crm[crm["moved"] == "True"]
    assert len(moved) == 1 and (moved["old_owner"] != moved["new_owner"]).all()
    assert (crm["old_owner"] == crm["account_id"].map(TODAY)).all()
    page = (result.out_dir / "map.html").read_text()
    assert "Moved accounts (1)" in page
    mover = moved["account_id"].iloc[0]
    assert f"{mover}: moved from {TODAY[mover]} to {moved['new_owner'].iloc[0]}" in page


# ------------------------------------------------------------------ headcount sizing


def test_smallest_headcount_is_found_and_explained():
    from conftest import make_accounts
    from territory_opt import build_units
    units = build_units(make_accounts([(0, 0), (1, 0), (2, 0), (3, 0)], [3, 3, 3, 1]),
                        method="accounts", crs="EPSG:32617")
    # total 10 fits two reps of 5 on paper, but no split of 3, 3, 3, 1 does
    table = topt.size_headcount(units, max_workload=5)
    assert list(table["k"]) == [2, 3, 4]
    assert list(table["status"]) == ["infeasible", "optimal", "optimal"]
    assert table.loc[table["smallest"], "k"].tolist() == [3]
    assert (table["largest"].dropna() <= 5).all()
    assert table["objective"].iloc[1] >= table["objective"].iloc[2]
    assert "proven by the solver" in table["reason"].iloc[0]


def test_size_command(tmp_path, capsys):
    from territory_opt.cli import main
    pd.DataFrame({"account_id": [f"A{i}" for i in range(4)], "lat": [33.0] * 4,
                  "lon": [-84.0 + 0.01 * i for i in range(4)], "workload": [3, 3, 3, 1]}
                 ).to_csv(tmp_path / "accounts.csv", index=False)
    (tmp_path / "s.yaml").write_text("name: s\naccounts: {path: accounts.csv}\n"
                                     "units: {method: accounts}\n")
    assert main(["size", str(tmp_path / "s.yaml"), "--max-workload", "5",
                 "--csv", str(tmp_path / "size.csv")]) == 0
    out = capsys.readouterr().out
    assert "smallest headcount: 3" in out
    assert len(pd.read_csv(tmp_path / "size.csv")) == 3
