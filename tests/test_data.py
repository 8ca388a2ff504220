"""The bundled Georgia data: its CRS, and that the committed files are reproducible."""

from __future__ import annotations

import importlib.util
import sys

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from conftest import ROOT

DATA = ROOT / "data" / "georgia"
# Counties whose polygon holds much open water, so that its centroid is 1-6 km from the
# file's own (land) point: the sea-island counties Camden, Chatham, Glynn, Liberty,
# McIntosh, and Baker, Clay, Early, Quitman, Talbot on the Chattahoochee/Flint reservoirs.
WATER = {"13039", "13051", "13127", "13179", "13191", "13007", "13061", "13099", "13239",
         "13263"}


def _make_georgia():
    pytest.importorskip("libpysal", reason="libpysal (test extra) rebuilds the demo data")
    pytest.importorskip("zipcodes", reason="zipcodes (test extra) rebuilds the demo data")
    spec = importlib.util.spec_from_file_location("make_georgia", ROOT / "data" / "make_georgia.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_georgia"] = module
    spec.loader.exec_module(module)
    return module


def _centroid_offsets(counties: gpd.GeoDataFrame, geographic: str) -> pd.DataFrame:
    """Polygon centroid minus the file's own Latitude/Longitude point, in metres."""
    own = gpd.GeoSeries.from_xy(counties["Longitude"], counties["Latitude"],
                                crs=geographic).to_crs(counties.crs)
    cen = counties.geometry.centroid
    return pd.DataFrame({"dx": cen.x - own.x, "dy": cen.y - own.y,
                         "d": cen.distance(own)}).set_index(counties["fips"])


def test_counties_crs_agrees_with_their_own_lat_lon_columns():
    counties = gpd.read_file(DATA / "counties.gpkg")
    assert counties.crs.to_epsg() == 26716  # NAD27 / UTM zone 16N
    assert len(counties) == 159
    off = _centroid_offsets(counties, "EPSG:4267")  # NAD27 geographic
    inland = off[~off.index.isin(WATER)]
    # every other county's centroid lies within 1 km of the point the file gives
    assert inland["d"].max() < 1000, inland["d"].idxmax()
    assert len(inland) == 149 and inland["d"].median() < 400
    # polygons with much open water: centroids a few km off, never more than 6
    assert off.loc[sorted(WATER), "d"].between(1000, 6000).all()
    # and the datum is NAD27: no systematic shift, whereas read as NAD83 the
    # whole state moves about 200 m north-south (the NAD27 -> NAD83 datum shift)
    assert abs(inland["dy"].median()) < 60 and abs(inland["dx"].median()) < 60


def test_other_crs_guesses_do_not_fit():
    counties = gpd.read_file(DATA / "counties.gpkg")
    nad83 = _centroid_offsets(counties.set_crs("EPSG:26916", allow_override=True), "EPSG:4269")
    assert abs(nad83["dy"].median()) > 150  # the datum shift shows
    zone17 = _centroid_offsets(counties.set_crs("EPSG:26717", allow_override=True), "EPSG:4267")
    assert zone17["d"].median() > 100_000


def test_committed_files_are_what_the_script_builds(tmp_path):
    make = _make_georgia()
    make.main(["--out", str(tmp_path)])
    for name in ("accounts.csv", "reps.csv", "reps_specialists.csv", "deals.csv",
                 "alignment.csv", "crm_export.csv"):
        assert (tmp_path / name).read_text() == (DATA / name).read_text(), name
    built = gpd.read_file(tmp_path / "counties.gpkg")
    committed = gpd.read_file(DATA / "counties.gpkg")
    pd.testing.assert_frame_equal(pd.DataFrame(built.drop(columns="geometry")),
                                  pd.DataFrame(committed.drop(columns="geometry")))
    assert built.geometry.geom_equals_exact(committed.geometry, tolerance=1e-6).all()


def test_source_shapefile_has_no_crs_and_the_script_sets_it():
    make = _make_georgia()
    raw = gpd.read_file(make.counties_source())
    assert raw.crs is None
    assert make.build_counties().crs.to_epsg() == 26716


def test_accounts_are_real_zip_points_with_synthetic_figures():
    acc = pd.read_csv(DATA / "accounts.csv", dtype={"zip": str, "fips": str})
    assert acc["account_id"].is_unique and len(acc) == 949
    assert acc["zip"].str.fullmatch(r"3[01]\d{3}|39[89]\d{2}").all()  # Georgia ZIP codes
    assert acc["lat"].between(30.3, 35.1).all() and acc["lon"].between(-85.7, -80.7).all()
    assert (acc["workload"] > 0).all() and (acc["revenue"] > 0).all()
    # every account's county polygon is one of the 159
    counties = gpd.read_file(DATA / "counties.gpkg")
    assert set(acc["fips"]) <= set(counties["fips"])
    reps = pd.read_csv(DATA / "reps.csv")
    assert len(reps) == 12 and set(reps["fte"]) == {0.5, 0.8, 1.0}
    assert np.isfinite(reps[["lat", "lon"]].to_numpy()).all()
