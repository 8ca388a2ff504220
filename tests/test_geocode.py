"""Offline ZIP-code geocoding of CRM exports without coordinates."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import ROOT

import territory_opt as topt
from territory_opt.io.zips import geocode_zip, normalise_zip

CRM = ROOT / "data" / "georgia" / "crm_export.csv"
COLUMNS = {"id": "Account ID", "workload": "Visit Hours", "zip": "Billing Zip/Postal Code"}


@pytest.mark.parametrize(("value", "expected"), [
    ("30301", "30301"), ("30301-1234", "30301"), (" 30301 1234 ", "30301"),
    ("303011234", "30301"), ("30301.0", "30301"),
    (3101, "03101"), (3101.0, "03101"), ("3101", "03101"), (31011234, "03101"),
    ("3O301", None), ("1234567", None), ("", None), (None, None), (float("nan"), None),
])
def test_normalise_zip(value, expected):
    assert normalise_zip(value) == expected


def test_geocode_gives_the_zip_centroid_and_says_why_not():
    lat, lon, why = geocode_zip(["30002", "02139-4307", "99999", "x", None])
    assert (lat[0], lon[0]) == (33.7717, -84.2607)   # Avondale Estates, GA
    assert abs(lat[1] - 42.36) < 0.05 and abs(lon[1] + 71.10) < 0.05  # Cambridge, MA
    assert why == ["", "", "unknown", "malformed", "blank"]


def test_crm_export_places_accounts_where_the_coordinates_say():
    with pytest.warns(topt.TerritoryOptWarning, match=r"4 of 949 accounts could not be "
                      r"placed.*line 591 \(A31041, '39999'\)"):
        placed = topt.read_accounts(CRM, unplaced="drop", **COLUMNS)
    assert len(placed) == 945
    assert [d["account_id"] for d in placed.attrs["unplaced"]] == [
        "A31041", "A31090", "A31409", "A31906"]
    truth = topt.read_accounts(ROOT / "data" / "georgia" / "accounts.csv")
    truth = truth.set_index("account_id").loc[placed["account_id"]]
    assert (placed.geometry.x.to_numpy() == truth.geometry.x.to_numpy()).all()
    assert (placed.geometry.y.to_numpy() == truth.geometry.y.to_numpy()).all()
    assert placed["workload"].sum() == pytest.approx(truth["workload"].sum())


def test_unplaced_rows_are_an_error_by_default_naming_every_row():
    with pytest.raises(topt.InputError, match=r"line 633 \(A31090, ''\): no ZIP code.*"
                       r"unplaced='drop'"):
        topt.read_accounts(CRM, **COLUMNS)


def test_excel_zip_numbers_that_lost_their_leading_zero(tmp_path):
    path = tmp_path / "crm.xlsx"
    pd.DataFrame({"account_id": ["A", "B"], "zip": [2139, 30002],
                  "workload": [1.0, 2.0]}).to_excel(path, index=False)
    accounts = topt.read_accounts(path, zip="zip")
    assert accounts.geometry.y.round(1).tolist() == [42.4, 33.8]


def test_a_wrong_zip_column_is_named(tmp_path):
    frame = pd.DataFrame({"account_id": ["A", "B"], "zip": ["x", "y"], "workload": [1, 1]})
    with pytest.raises(topt.InputError, match="no ZIP code could be placed"):
        topt.read_accounts(frame, zip="zip", unplaced="drop")
    with pytest.raises(topt.InputError, match=r"no column 'postcode' \(for zip:\)"):
        topt.read_accounts(frame, zip="postcode")


def test_scenario_lists_the_unplaced_accounts_in_its_outputs(tmp_path):
    scenario = topt.scenario_from_dict({
        "name": "crm",
        "accounts": {"path": str(CRM), "unplaced": "drop", **COLUMNS},
        "reps": {"path": str(ROOT / "data" / "georgia" / "reps.csv")},
        "units": {"method": "clusters", "n_units": 120},
        "balance": {"workload": 0.1},
        "contiguity": False,  # the unplaced rows are the point, not the plan's shape
        "solver": {"time_limit": 60, "gap": 0.01}})
    with pytest.warns(topt.TerritoryOptWarning, match="could not be placed"):
        result = topt.run_scenario(scenario, out=tmp_path / "out")
    unplaced = pd.read_csv(tmp_path / "out" / "unplaced_accounts.csv", dtype=str,
                           keep_default_na=False)
    assert unplaced["account_id"].tolist() == ["A31041", "A31090", "A31409", "A31906"]
    assert unplaced["zip"].tolist() == ["39999", "", "314099", "319O6"]
    assert result.manifest["summary"]["unplaced_accounts"] == 4
    assert len(pd.read_csv(tmp_path / "out" / "assignments.csv")) == 945


def test_reps_placed_by_home_zip_and_every_rep_must_be(tmp_path):
    path = tmp_path / "reps.csv"
    path.write_text("rep_id,name,home_zip\nR1,Ann,30002\nR2,Bo,02139-4307\n")
    reps = topt.read_reps(path, zip="home_zip")
    assert reps.geometry.y.round(2).tolist() == [33.77, 42.36]
    assert "_zip_lat" not in reps.columns
    path.write_text("rep_id,name,home_zip\nR1,Ann,30002\nR2,Bo,3OOO2\n")
    with pytest.raises(topt.InputError, match=r"1 of 2 reps could not be placed by ZIP code "
                       r"\(line 3 \(R2, '3OOO2'\).*fix those codes or add lat/lon"):
        topt.read_reps(path, zip="home_zip")


def test_init_places_reps_by_zip_when_they_have_no_coordinates(tmp_path):
    from territory_opt.template import scenario_template

    (tmp_path / "reps.csv").write_text("Rep ID,Name,Home Zip\nR1,Ann,30002\n")
    text = scenario_template(tmp_path / "s.yaml", accounts=CRM, reps=tmp_path / "reps.csv")
    reps = text[text.index("reps:"):text.index("units:")]
    assert "id: Rep ID" in reps and "zip: Home Zip" in reps and "lat:" not in reps
