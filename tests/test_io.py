"""Loading every supported format, and the errors for bad input."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

import territory_opt as topt

ACCOUNTS = pd.DataFrame({
    "account_id": ["01002", "A2", "A3", "A4"],   # a ZIP-like id keeps its leading zero
    "name": ["North", "East", "South <b>", "West"],
    "lat": [33.75, 33.95, 32.84, 31.58],
    "lon": [-84.39, -83.36, -83.63, -84.16],
    "workload": [10.5, 20.0, 0.0, 7.25],
})


def _gdf(crs="EPSG:4326") -> gpd.GeoDataFrame:
    gdf = gpd.GeoDataFrame(ACCOUNTS.drop(columns=["lat", "lon"]),
                           geometry=gpd.points_from_xy(ACCOUNTS.lon, ACCOUNTS.lat),
                           crs="EPSG:4326")
    return gdf.to_crs(crs)


def _check(acc: gpd.GeoDataFrame) -> None:
    assert list(acc["account_id"]) == list(ACCOUNTS["account_id"])
    assert list(acc["workload"]) == list(ACCOUNTS["workload"])
    assert list(acc["name"]) == list(ACCOUNTS["name"])
    ll = acc.to_crs("EPSG:4326")
    np.testing.assert_allclose(ll.geometry.y, ACCOUNTS["lat"], atol=1e-6)
    np.testing.assert_allclose(ll.geometry.x, ACCOUNTS["lon"], atol=1e-6)


def test_round_trip_csv_lat_lon(tmp_path):
    path = tmp_path / "accounts.csv"
    ACCOUNTS.to_csv(path, index=False)
    _check(topt.read_accounts(path))


def test_round_trip_csv_projected_xy(tmp_path):
    proj = _gdf("EPSG:26917")
    table = pd.DataFrame(proj.drop(columns="geometry")).assign(
        easting=proj.geometry.x, northing=proj.geometry.y)
    path = tmp_path / "accounts.csv"
    table.to_csv(path, index=False)
    _check(topt.read_accounts(path, x="easting", y="northing", crs="EPSG:26917"))


def test_round_trip_xlsx(tmp_path):
    path = tmp_path / "accounts.xlsx"
    ACCOUNTS.to_excel(path, index=False, sheet_name="CRM export")
    _check(topt.read_accounts(path, sheet="CRM export"))


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson", ".shp", ".parquet"])
def test_round_trip_vector_formats(tmp_path, suffix):
    path = tmp_path / f"accounts{suffix}"
    gdf = _gdf("EPSG:3857")
    if suffix == ".parquet":
        gdf.to_parquet(path)
    else:
        gdf.to_file(path)
    _check(topt.read_accounts(path))


def test_shapefile_without_prj_needs_crs(tmp_path):
    path = tmp_path / "accounts.shp"
    _gdf("EPSG:26916").to_file(path)
    (tmp_path / "accounts.prj").unlink()
    with pytest.raises(topt.InputError, match=r"has no CRS.*set crs: 'EPSG:<code>'"):
        topt.read_accounts(path)
    _check(topt.read_accounts(path, crs="EPSG:26916"))


def test_reading_does_not_modify_the_frame_given():
    before = ACCOUNTS.copy()
    topt.read_accounts(ACCOUNTS, workload="workload")
    pd.testing.assert_frame_equal(ACCOUNTS, before)


def test_reps_defaults_and_fte(tmp_path):
    path = tmp_path / "reps.csv"
    pd.DataFrame({"rep_id": ["R1", "R2"], "lat": [33.0, 32.0],
                  "lon": [-84.0, -83.0]}).to_csv(path, index=False)
    reps = topt.read_reps(path)
    assert list(reps["fte"]) == [1.0, 1.0]
    assert list(reps["territory"]) == ["T01", "T02"]
    assert list(reps["name"]) == ["R1", "R2"]


# ------------------------------------------------------------------ bad input


def _csv(tmp_path, frame, name="accounts.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def test_missing_file(tmp_path):
    with pytest.raises(topt.InputError, match=r"'.*nope\.csv' does not exist; check the path"):
        topt.read_accounts(tmp_path / "nope.csv")


def test_empty_file(tmp_path):
    path = tmp_path / "accounts.csv"
    path.write_text("")
    with pytest.raises(topt.InputError, match="is empty"):
        topt.read_accounts(path)


def test_unknown_format(tmp_path):
    path = tmp_path / "accounts.dbx"
    path.write_text("x")
    with pytest.raises(topt.InputError, match="unknown file type '.dbx'"):
        topt.read_accounts(path)


def test_missing_column_suggests_the_closest(tmp_path):
    path = _csv(tmp_path, ACCOUNTS.rename(columns={"workload": "work_load"}))
    with pytest.raises(topt.InputError) as err:
        topt.read_accounts(path)
    msg = str(err.value)
    assert "accounts.csv' has no column 'workload' (for workload:)" in msg
    assert "did you mean 'work_load'?" in msg
    assert "Set workload: <column name> in the scenario (workload='...' in Python)" in msg


def test_duplicate_ids_name_the_rows(tmp_path):
    frame = ACCOUNTS.copy()
    frame.loc[3, "account_id"] = "A2"
    path = _csv(tmp_path, frame)
    with pytest.raises(topt.InputError,
                       match=r"accounts\.csv', column 'account_id': id 'A2' appears on "
                             r"rows 3, 5 .*must be unique"):
        topt.read_accounts(path)


def test_text_workload_names_the_row(tmp_path):
    frame = ACCOUNTS.astype({"workload": object})
    frame.loc[2, "workload"] = "ten"
    path = _csv(tmp_path, frame)
    with pytest.raises(topt.InputError,
                       match=r"column 'workload': row 4 \(account 'A3'\) hold text, not numbers \('ten'\)"):
        topt.read_accounts(path)


def test_negative_and_blank_workload(tmp_path):
    frame = ACCOUNTS.copy()
    frame.loc[1, "workload"] = -3
    with pytest.raises(topt.InputError, match=r"row 3 \(account 'A2'\) are below 0"):
        topt.read_accounts(_csv(tmp_path, frame))
    frame.loc[1, "workload"] = np.nan
    with pytest.raises(topt.InputError, match=r"row 3 \(account 'A2'\) is blank"):
        topt.read_accounts(_csv(tmp_path, frame))


def test_swapped_lat_lon_is_detected(tmp_path):
    # Detectable where a longitude cannot be a latitude (|lon| > 90, e.g. California).
    west = ACCOUNTS.assign(lon=ACCOUNTS["lon"] - 34.0)
    path = _csv(tmp_path, west.rename(columns={"lat": "lon", "lon": "lat"}))
    with pytest.raises(topt.InputError, match="look.* swapped: set lat: 'lon' and lon: 'lat'"):
        topt.read_accounts(path)


def test_zero_fte(tmp_path):
    path = _csv(tmp_path, pd.DataFrame({"rep_id": ["R1"], "lat": [33.0], "lon": [-84.0],
                                        "fte": [0]}), "reps.csv")
    with pytest.raises(topt.InputError, match="FTE of 0 or less"):
        topt.read_reps(path)


def test_bad_crs_string(tmp_path):
    with pytest.raises(topt.InputError, match="is not a coordinate reference system"):
        topt.read_accounts(_csv(tmp_path, ACCOUNTS), crs="EPSG:nonsense")


def test_error_is_also_a_value_error(tmp_path):
    with pytest.raises(ValueError):
        topt.read_accounts(tmp_path / "nope.csv")


def test_database_without_sqlalchemy_says_what_to_install(monkeypatch):
    """The database readers import SQLAlchemy only when used; without it, the message
    names the extra to install."""
    import sys

    monkeypatch.setitem(sys.modules, "sqlalchemy", None)
    with pytest.raises(topt.InputError, match=r"pip install 'territory-opt\[postgis\]'"):
        topt.io.connect("crm", environ={"TERRITORY_OPT_DB_CRM": "postgresql://u@h/db"})
    with pytest.raises(topt.InputError, match=r"territory-opt\[postgis\]"):
        topt.read_accounts("select 1", con="postgresql://u@h/db")
