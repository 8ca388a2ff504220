"""Data of other shapes than Georgia: the antimeridian (Aleutians), far Pacific rows,
a city's districts with a hole and an empty district, an export without ids, blank
values. One test per thing a new user hit (see the README's "Your own data")."""

from __future__ import annotations

import json
import subprocess
import sys

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import yaml

import territory_opt as topt
from territory_opt import geo
from territory_opt.metrics import nice_round
from territory_opt.outputs.maps import account_points, plan_cut
from territory_opt.quality import check_accounts

# the city's lake station joins its nearest district, as the warning says (tested below)
pytestmark = pytest.mark.filterwarnings("ignore:1 account lies outside every polygon")
RNG = np.random.default_rng(7)
# Alaska: Anchorage's area and the Aleutians on both sides of +-180
ALASKA = [(-150 + RNG.normal() * 2, 61.5 + RNG.normal()) for _ in range(30)] + [
    (-176.6, 51.9), (-178.9, 51.8), (179.3, 51.9), (177.6, 52.0), (173.2, 52.9),
    (-174.2, 52.2), (-168.0, 53.5)]
HAWAII = [(-157.9 + RNG.normal() * 0.5, 21.3 + RNG.normal() * 0.3) for _ in range(10)]


def _points(lonlat, prefix="A") -> gpd.GeoDataFrame:
    lon, lat = np.array(lonlat).T
    return topt.read_accounts(gpd.GeoDataFrame(
        {"account_id": [f"{prefix}{i}" for i in range(len(lon))], "workload": 1.0},
        geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326"))


def _reps(lonlat) -> gpd.GeoDataFrame:
    lon, lat = np.array(lonlat).T
    return topt.read_reps(gpd.GeoDataFrame(
        {"rep_id": [f"R{i}" for i in range(len(lon))]},
        geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326"))


# ---------------------------------------------------------------- 1. the antimeridian

def test_lon_cut_joins_data_across_the_antimeridian_and_leaves_the_rest():
    assert geo.lon_cut(np.array([-85.0, -80.0, -83.0])) == 180.0  # Georgia: unchanged
    lon = np.array([p[0] for p in ALASKA])
    cut = geo.lon_cut(lon)
    moved = geo.unwrap(lon, cut)
    assert moved.max() - moved.min() < 40  # one run of longitudes, not 355 degrees


@pytest.fixture(scope="module")
def alaska_plan() -> topt.Solution:
    accounts = _points(ALASKA + HAWAII)
    units = topt.build_units(accounts, method="accounts")
    problem = topt.TerritoryProblem(units, reps=_reps([(-149.9, 61.2), (-157.9, 21.3)]),
                                    balance={"workload": 0.6}, contiguity=False)
    return topt.solve(problem, method="mip", gap=0.0)


def test_territories_across_the_antimeridian_draw_as_one_piece(alaska_plan, tmp_path):
    terr = alaska_plan.territories()
    # the map's layers: unwrapped at one cut, every territory narrower than the data
    shown = geo.to_lonlat(terr, plan_cut(alaska_plan)).geometry.bounds
    assert ((shown["maxx"] - shown["minx"]) < 90).all()
    points = account_points(alaska_plan, None, plan_cut(alaska_plan))
    assert points["lon"].max() - points["lon"].min() < 90
    # GeoJSON (RFC 7946): split at +-180, every coordinate inside [-180, 180], parts narrow
    alaska_plan.to_file(str(tmp_path / "t.geojson"))
    parts = gpd.read_file(tmp_path / "t.geojson").explode(index_parts=False).geometry.bounds
    assert parts["minx"].min() >= -180 and parts["maxx"].max() <= 180
    assert ((parts["maxx"] - parts["minx"]) < 90).all()
    assert (parts["minx"] < -179).any() and (parts["maxx"] > 179).any()  # split at the line


def test_split_antimeridian_splits_a_crossing_polygon():
    ring = gpd.GeoDataFrame(geometry=[shapely.box(178.0, 50.0, 182.0, 52.0)],
                            crs="EPSG:4326")
    # a box given in unwrapped degrees is read as crossing the line
    split = geo.split_antimeridian(ring.to_crs("EPSG:3832"))
    parts = split.explode(index_parts=False).geometry.bounds
    assert len(parts) == 2 and parts["maxx"].max() <= 180 and parts["minx"].min() >= -180


# ---------------------------------------------------------- 2. the planning CRS and distances

def test_a_few_far_rows_do_not_move_the_projection_centre():
    conus = [(-95 + RNG.normal() * 10, 38 + RNG.normal() * 4) for _ in range(300)]
    far = [(144.8, 13.5), (134.5, 7.5), (-170.7, -14.3)]  # Guam, Palau, American Samoa
    crs = geo.choose_crs(_points(conus + far))
    text = geo.describe_crs(crs)
    lon0 = float(text.split("lon ")[1])
    assert -110 < lon0 < -80, text  # the mid-Atlantic before (the middle of the extent)


def test_distances_are_great_circle_where_no_projection_keeps_them(alaska_plan):
    p = alaska_plan.problem
    assert p.distance == "great_circle" and p.distortion > geo.MAX_DISTORTION
    assert "great-circle" in p.distance_note
    # Anchorage to Honolulu: 4,480 km on the globe
    d = p.distance_block(np.array([0]), np.arange(2))  # a unit near Anchorage
    assert 4300 < d[0, 1] < 4700
    from pyproj import Geod

    attu = Geod(ellps="WGS84").inv(-149.9, 61.2, 173.2, 52.9)[2] / 1000  # 2,37x km
    reported = alaska_plan.summary()["max_km"].max()  # Attu, from Anchorage's rep
    assert abs(reported / attu - 1) < 2e-4


def test_great_circle_distances_are_the_ellipsoids_geodesics():
    from pyproj import Geod

    rng = np.random.default_rng(3)
    lon1, lon2 = rng.uniform(-180, 180, (2, 20_000))
    lat1, lat2 = rng.uniform(-89, 89, (2, 20_000))
    lon2[:10_000] = lon1[:10_000] + rng.normal(size=10_000) * 0.05  # short lines too
    lat2[:10_000] = np.clip(lat1[:10_000] + rng.normal(size=10_000) * 0.05, -89, 89)
    true = Geod(ellps="WGS84").inv(lon1, lat1, lon2, lat2)[2] / 1000
    ours = geo.point_distances(geo.ellipsoid_coords(lon1, lat1),
                               geo.ellipsoid_coords(lon2, lat2), "great_circle")
    assert np.max(np.abs(ours / true - 1)) < 2e-4  # the worst: near the antipode
    assert np.max(np.abs(ours / true - 1)[true < 10_000]) < 2e-6
    same = geo.ellipsoid_coords(lon1[:5], lat1[:5])
    assert (geo.point_distances(same, same, "great_circle") == 0).all()


def test_regional_data_keeps_euclidean_and_says_how_far_off():
    acc, pot, reps = topt.load_georgia()
    units = topt.build_units(acc, potential=pot, method="accounts")
    problem = topt.TerritoryProblem(units, reps=reps)
    assert problem.distance == "euclidean" and problem.distortion < geo.MAX_DISTORTION
    assert problem.distance_note.startswith("euclidean in WGS 84 / UTM zone 17N")


# ------------------------------------------------------------ a city's districts (3, 4, 11)

def _city(folder, *, blank: bool = False, ids: bool = False) -> dict:
    """Six districts in a row (one with a lake, one without stations), stations
    without an id column, two technicians."""
    x0, y0, dx = 13.30, 52.45, 0.02
    boxes = [shapely.box(x0 + i * dx, y0, x0 + (i + 1) * dx, y0 + 0.02) for i in range(6)]
    lake = shapely.box(x0 + 2.3 * dx, y0 + 0.006, x0 + 2.7 * dx, y0 + 0.014)
    boxes[2] = boxes[2].difference(lake)
    # district 1 is an L: its centroid lies far from its eastern arm
    boxes[0] = shapely.union_all([boxes[0], shapely.box(x0, y0 + 0.02, x0 + 3 * dx,
                                                        y0 + 0.024)])
    votes = [5000.0, 6000, 5500, 4000, 4500, 5200]
    if blank:
        votes[3] = np.nan
    gpd.GeoDataFrame({"district": [str(i + 1) for i in range(6)],
                      "name": [f"District {i + 1}" for i in range(6)], "votes": votes},
                     geometry=boxes, crs="EPSG:4326").to_file(folder / "districts.gpkg")
    rows = [(y0 + 0.005 + 0.01 * (k % 2), x0 + (i + 0.5) * dx) for i in range(6) if i != 4
            for k in range(4)]
    rows.append((y0 + 0.01, x0 + 2.5 * dx))  # in the lake
    frame = pd.DataFrame(rows, columns=["latitude", "longitude"]).assign(cleanings=2)
    if ids:
        frame.insert(0, "station", [f"S{i}" for i in range(len(frame))])
    frame.to_csv(folder / "stations.csv", index=False)
    # T1 lives in district 1's eastern arm (nearest by centroid: district 3)
    pd.DataFrame({"rep_id": ["T1", "T2"], "lat": [y0 + 0.022, y0 + 0.01],
                  "lon": [x0 + 2.6 * dx, x0 + 5.5 * dx]}).to_csv(folder / "techs.csv",
                                                                  index=False)
    spec = {"name": "city",
            "accounts": {"path": "stations.csv", "id": "station" if ids else None,
                         "workload": "cleanings", "lat": "latitude", "lon": "longitude"},
            "potential": {"path": "districts.gpkg", "value": "votes", "id": "district",
                          "name": "name"},
            "reps": {"path": "techs.csv", "fte": None, "name": None},
            "units": {"method": "polygons"}, "balance": {"workload": 0.5},
            "solver": {"time_limit": 30}, "output": "out"}
    (folder / "city.yaml").write_text(yaml.safe_dump(spec))
    return spec


def test_a_territory_holds_the_district_its_rep_lives_in(tmp_path):
    _city(tmp_path)
    result = topt.run_scenario(tmp_path / "city.yaml")
    units = gpd.read_file(result.out_dir / "territories.gpkg", layer="units")
    owner = dict(zip(units["unit_id"], units["rep_id"], strict=True))
    assert owner["1"] == "T1" and owner["6"] == "T2"
    problem = result.solution.problem
    assert problem.unit_ids[problem.home_units[0]] == "1"
    assert problem.unit_ids[problem.roots[0]] == "1"  # not district 3, nearest by centroid
    nearest = int(np.argmin(problem.distances[:, 0]))
    assert problem.unit_ids[nearest] == "3"
    # without contiguity the home district is the rep's all the same (a lock)
    plain = problem.with_options(contiguity=False)
    assert plain.locked == {problem.home_units[0]: 0, problem.home_units[1]: 1}
    solved = topt.solve(plain, method="mip", gap=0.0)
    assert solved.unit_centres()[problem.home_units[0]] == 0


def test_the_workbench_opens_a_run_with_districts_without_accounts(tmp_path):
    from territory_opt.workbench.session import open_run

    _city(tmp_path)
    result = topt.run_scenario(tmp_path / "city.yaml")
    assigned = pd.read_csv(result.out_dir / "assignments.csv", dtype=str)
    assert "5" not in set(assigned["unit_id"])  # district 5 has no station
    session = open_run(result.out_dir)
    assert session.problem.n_units == 6
    assert list(session.plan.label) == list(result.solution.unit_centres())
    # a relaxed run (no plan holds the bands: the nearest compromise) opens too
    spec = yaml.safe_load((tmp_path / "city.yaml").read_text())
    spec |= {"balance": {"workload": 0.0}, "output": "relaxed"}
    (tmp_path / "relaxed.yaml").write_text(yaml.safe_dump(spec))
    relaxed = topt.run_scenario(tmp_path / "relaxed.yaml")
    assert relaxed.solution.status == "relaxed"
    assert open_run(relaxed.out_dir).start.status == "relaxed"


def test_a_station_in_a_lake_or_outside_every_district_is_named(tmp_path):
    _city(tmp_path)
    check = topt.check_scenario(tmp_path / "city.yaml")
    outside = [w for w in check.warnings if "outside every area" in w]
    assert outside and "account 22 lies" in outside[0]  # line 22: the lake's station


# ------------------------------------------------------ exports: ids, blanks, validate (5-7)

def test_an_export_without_ids_is_numbered_by_line_and_the_manifest_says_so(tmp_path):
    _city(tmp_path)
    result = topt.run_scenario(tmp_path / "city.yaml")
    assigned = pd.read_csv(result.out_dir / "assignments.csv", dtype=str)
    assert sorted(assigned["account_id"], key=int) == [str(i) for i in range(2, 23)]
    manifest = json.loads((result.out_dir / "manifest.json").read_text())
    record = next(r for r in manifest["inputs"] if r["role"] == "accounts")
    assert record["account_ids"].startswith("numbered by line")


def test_a_blank_value_names_the_area_and_offers_a_policy(tmp_path):
    _city(tmp_path, blank=True)
    check = topt.check_scenario(tmp_path / "city.yaml")
    assert len(check.problems) == 1
    assert "row 4 (area '4' District 4) is blank" in check.problems[0]
    assert "missing: zero" in check.problems[0]
    for policy, units in (("zero", 6), ("drop", 5)):
        spec = yaml.safe_load((tmp_path / "city.yaml").read_text())
        spec["potential"]["missing"] = policy
        (tmp_path / "p.yaml").write_text(yaml.safe_dump(spec | {"output": f"out_{policy}"}))
        check = topt.check_scenario(tmp_path / "p.yaml")
        assert check.ok and check.facts["units"] == units
        assert any("District 4) is blank: " in w and f"(missing: {policy})" in w
                   for w in check.warnings)


def test_validate_lists_every_problem_of_a_file_at_once(tmp_path):
    _city(tmp_path, ids=True)
    spec = yaml.safe_load((tmp_path / "city.yaml").read_text())
    spec["accounts"] |= {"id": "TODO", "workload": "TODO", "lat": "TODO"}
    spec["reps"] |= {"id": "TODO"}
    spec["description"] = "TODO: what this scenario is for"
    (tmp_path / "todo.yaml").write_text(yaml.safe_dump(spec))
    check = topt.check_scenario(tmp_path / "todo.yaml")
    problems = check.problems
    assert any(w.startswith("description: still the TODO") for w in check.warnings)
    accounts = [p for p in problems if p.startswith("accounts:")]
    assert len(accounts) == 3 and len(problems) == 4
    assert {"(for id:)", "(for workload:)", "(for lat:)"} == {
        p[p.index("(for"):p.index(":)") + 2] for p in accounts}
    assert "id: null numbers the accounts" in accounts[0]


# ------------------------------------------------------------ reports and the gate (8, 9, 10)

def test_the_gate_names_accounts_no_rep_reaches():
    conus = [(-95 + RNG.normal() * 8, 38 + RNG.normal() * 4) for _ in range(200)]
    accounts = _points(conus + ALASKA + HAWAII)
    reps = _reps([(-122.3, 47.6), (-87.6, 41.9), (-74.0, 40.7), (-96.8, 32.8)])
    table = check_accounts(accounts, reps=reps)
    alone = set(table.loc[table["check"] == "no_rep", "account_id"])
    assert {f"A{200 + i}" for i in range(len(ALASKA), len(ALASKA) + len(HAWAII))} <= alone
    assert not alone & {f"A{i}" for i in range(200)}
    # far from the others: the least distance first ("or more" of it), no ZIP hint
    atlanta = [(-84.4 + RNG.normal() * 0.2, 33.7 + RNG.normal() * 0.2) for _ in range(40)]
    table = check_accounts(_points(atlanta + [(-176.6, 51.9), (144.8, 13.5)]))
    far = table.loc[table["check"] == "far", "message"].iloc[0]
    low, high = far.split(" lie ")[1].split(" km from")[0].split(" to ")
    assert float(low.replace(",", "")) < float(high.replace(",", ""))
    assert "ZIP" not in far


def test_coverage_reach_follows_the_data_and_never_prints_nan(tmp_path):
    _city(tmp_path)
    spec = yaml.safe_load((tmp_path / "city.yaml").read_text())
    del spec["potential"]
    spec["units"] = {"method": "accounts"}
    (tmp_path / "nopot.yaml").write_text(yaml.safe_dump(spec))
    result = topt.run_scenario(tmp_path / "nopot.yaml")
    reach = result.manifest["summary"]["reach_km"]
    assert reach == nice_round(reach) and reach < 5  # a city: a few km, not 100
    report = (result.out_dir / "report.html").read_text()
    assert "nan%" not in report and "the reach follows the data" in report


def test_progress_markers_stay_off_piped_output(tmp_path):
    _city(tmp_path, ids=True)
    done = subprocess.run([sys.executable, "-m", "territory_opt.cli", "run",
                           str(tmp_path / "city.yaml")], capture_output=True, text=True, check=False,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "[load]" not in done.stderr + done.stdout and "city: optimal" in done.stdout
