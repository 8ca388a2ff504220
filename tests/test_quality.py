"""The data-quality gate: each check on a small account table whose fault is plain,
and its place in a run (quality.csv, the report, the command line, validate)."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

import territory_opt as topt
from conftest import ROOT, georgia_copy
from territory_opt import quality
from territory_opt.cli import main
from territory_opt.quality import check_accounts

# 40 accounts on a 0.1-degree grid around Atlanta, in their own ZIP codes' reach
RNG = np.random.default_rng(4)
LAT = 33.6 + 0.05 * np.arange(40) % 0.5
LON = -84.6 + 0.05 * (np.arange(40) // 10)


def accounts(**changes) -> gpd.GeoDataFrame:
    frame = pd.DataFrame({"account_id": [f"A{i:02d}" for i in range(40)],
                          "name": [f"Clinic {i}" for i in range(40)],
                          "workload": RNG.integers(10, 20, 40).astype(float),
                          "lat": LAT, "lon": LON, "zip": "30303", "state": "GA"})
    for column, values in changes.items():
        for i, v in values.items():
            frame.loc[i, column] = v
    return topt.read_accounts(frame)


def checks(table: pd.DataFrame) -> dict[str, list[str]]:
    return {c: sorted(g["account_id"]) for c, g in table.groupby("check")}


def test_clean_accounts_give_no_finding():
    assert check_accounts(accounts(), zip="zip", state="state", name="name").empty


def test_an_account_far_from_all_others_is_named():
    # lat 42.99, lon -71.46: a Georgia ZIP 3101x read as 03101 (New Hampshire)
    table = check_accounts(accounts(lat={7: 42.99}, lon={7: -71.46}), zip="zip")
    assert checks(table)["far"] == ["A07"]
    far = table.loc[table["check"] == "far", "message"].iloc[0]
    assert "account A07 lies 1,5" in far and "4-digit ZIP" in far
    # without a ZIP column, no ZIP hint
    assert "ZIP" not in check_accounts(accounts(lat={7: 42.99}, lon={7: -71.46}))[
        "message"].iloc[0]


def test_outside_the_potential_layer_is_named():
    pot = gpd.GeoDataFrame({"potential": [1.0]}, geometry=[
        gpd.points_from_xy([-84.6], [33.6]).buffer(0.3)[0]], crs="EPSG:4326")
    table = check_accounts(accounts(lat={3: 34.5}), potential=pot)
    assert "A03" in checks(table)["outside"]


def test_coordinates_far_from_their_zip_code_and_a_wrong_state():
    table = check_accounts(accounts(zip={5: "31201"}, state={6: "Alabama"}), zip="zip",
                           state="state")
    got = checks(table)
    assert got["zip"] == ["A05"]  # Macon's ZIP, an Atlanta location: 110 km apart
    assert got["state"] == ["A06"]  # the ZIP is in GA
    assert "GA" not in table.loc[table["check"] == "zip", "message"].iloc[0][:5]


def test_duplicates_by_name_and_address_or_place():
    same_place = check_accounts(accounts(name={9: "Clinic 8"}, lat={9: LAT[8]},
                                         lon={9: LON[8]}), name="name")
    assert checks(same_place) == {"duplicate": ["A08", "A09"]}
    frame = accounts(name={9: "CLINIC 8."}).assign(street="1 Main St")
    by_address = check_accounts(frame, name="name", address="street")
    assert checks(by_address) == {"duplicate": ["A08", "A09"]}
    assert check_accounts(accounts(name={9: "Clinic 8"})).empty  # no name column named


def test_a_workload_far_above_the_rest_is_named():
    table = check_accounts(accounts(workload={2: 900.0}))
    assert checks(table) == {"workload": ["A02"]}
    assert "misplaced decimal point" in table["message"].iloc[0]


def test_a_run_writes_quality_csv_the_report_and_the_console(tmp_path, capsys):
    frame = pd.read_csv(ROOT / "data" / "georgia" / "accounts.csv")
    frame.loc[0, ["lat", "lon"]] = [42.99, -71.46]  # in New England
    frame.to_csv(tmp_path / "accounts.csv", index=False)
    # without contiguity: a contiguous map would also bridge the far account (a warning)
    scenario = georgia_copy(tmp_path / "s.yaml", accounts=tmp_path / "accounts.csv",
                            solver={"gap": 0.01}, contiguity=False)
    assert main(["validate", str(scenario)]) == 0
    assert "warning: account A30002 lies" in capsys.readouterr().err
    assert main(["run", str(scenario), "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr()
    assert "data-quality warnings: see quality.csv" in printed.out
    assert "warning: account A30002 lies" in printed.err and ".py:" not in printed.err
    quality = pd.read_csv(tmp_path / "out" / "quality.csv")
    assert set(quality["check"]) == {"far", "outside", "no_rep"}
    assert (quality["account_id"] == "A30002").all()
    assert "<h2>Data quality</h2>" in (tmp_path / "out" / "report.html").read_text()
    summary = json.loads((tmp_path / "out" / "manifest.json").read_text())["summary"]
    assert summary["quality_findings"] == 3


@pytest.mark.parametrize("check", ["far", "outside", "no_rep", "zip", "state", "duplicate",
                                   "workload"])
def test_every_check_is_documented(check):
    assert f"``{check}``" in quality.__doc__
