"""The catalogue of bad inputs (docs/errors.md): each one gives a clear error.

Every case starts from a small valid scenario (four accounts, two reps) in a
fresh folder, breaks one thing, and checks the exception type and that the
message names where the problem is (file, row, column or scenario key) and
what to do. Scenario-level cases also go through the command line: exit code,
one line on stderr, no traceback.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import territory_opt as topt
from conftest import ROOT
from territory_opt.cli import main
from territory_opt.workbench import open_run

ACCOUNTS = pd.DataFrame({"account_id": ["A1", "A2", "A3", "A4"],
                         "lat": [33.0, 33.1, 33.2, 33.3], "lon": [-84.0, -84.1, -84.2, -84.3],
                         "workload": [1.0, 2.0, 3.0, 4.0]})
REPS = pd.DataFrame({"rep_id": ["R1", "R2"], "lat": [33.0, 33.3], "lon": [-84.0, -84.3],
                     "fte": [1.0, 1.0]})
SCENARIO = "name: s\naccounts: {path: accounts.csv}\nreps: {path: reps.csv}\n" \
           "balance: {workload: 0.5}\n"


@dataclass
class Case:
    id: str
    run: Callable[[Path], object]  # breaks one thing in the folder, then reads or runs
    error: type[Exception]
    message: str  # regex: where, and the fix
    cli: bool = False  # a scenario-level case: also checked through `territory-opt run`


def write(folder: Path, accounts=None, reps=None, scenario=SCENARIO) -> Path:
    (accounts if accounts is not None else ACCOUNTS).to_csv(folder / "accounts.csv",
                                                           index=False)
    (reps if reps is not None else REPS).to_csv(folder / "reps.csv", index=False)
    (folder / "s.yaml").write_text(scenario)
    return folder / "s.yaml"


def accounts_with(**columns) -> pd.DataFrame:
    frame = ACCOUNTS.copy()
    for name, values in columns.items():
        frame[name] = values
    return frame


SEGMENTS = ("name: s\naccounts: {path: accounts.csv, segment: kind}\n"
            "reps: {path: reps.csv, segments: serves}\nbalance: {workload: 0.9}\n")


REGIONS = ("name: s\naccounts: {path: accounts.csv}\nreps: {path: reps.csv, region: area}\n"
           "balance: {workload: 0.5}\n")


def reps_with(**columns) -> pd.DataFrame:
    frame = REPS.copy()
    for name, values in columns.items():
        frame[name] = values
    return frame


def scenario(d: Path, extra: str = "", **files) -> object:
    return topt.run_scenario(write(d, scenario=SCENARIO + extra, **files), write=False)


def scenario_text(d: Path, text: str, **files) -> object:
    return topt.run_scenario(write(d, scenario=text, **files), write=False)


def _polygons(d: Path, geoms, crs="EPSG:4326") -> Path:
    gpd.GeoDataFrame({"fips": [f"P{i}" for i in range(len(geoms))],
                      "population": [10.0] * len(geoms)}, geometry=geoms,
                     crs=crs).to_file(d / "pot.gpkg")
    return d / "pot.gpkg"


def _blank_potential(d: Path) -> Path:
    path = _polygons(d, [shapely.box(-84.5, 32.9, -83.9, 33.4),
                         shapely.box(-83.9, 32.9, -83.3, 33.4)])
    frame = gpd.read_file(path)
    frame.loc[1, "population"] = None
    frame.to_file(path)
    return path


def _no_crs_shapefile(path: Path) -> None:
    frame = gpd.GeoDataFrame(ACCOUNTS, geometry=gpd.points_from_xy(ACCOUNTS["lon"],
                                                                   ACCOUNTS["lat"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # geopandas: "'crs' was not provided" (the point)
        frame.to_file(path)


def _cover_first(path: Path) -> None:
    """A workbook whose first sheet is a cover page, the accounts on the second."""
    with pd.ExcelWriter(path) as book:
        pd.DataFrame({"Report": ["Accounts Q3"], "Value": [1]}).to_excel(
            book, sheet_name="Cover", index=False)
        ACCOUNTS.to_excel(book, sheet_name="Accounts", index=False)


IE, INF = topt.InputError, topt.InfeasibleError


def _edited(folder: Path, edit: Callable[[object], object]) -> object:
    """The small scenario run, opened in the workbench's session, then ``edit``."""
    topt.run_scenario(write(folder), out=folder / "out", progress=False)
    return edit(open_run(folder / "out"))


CASES = [
    # ---- files
    Case("missing-file", lambda d: scenario(d, "potential: {path: nope.gpkg}\n"),
         IE, r"nope\.gpkg' does not exist; check the path", cli=True),
    Case("empty-file", lambda d: (write(d), (d / "accounts.csv").write_text(""),
                                  topt.read_accounts(d / "accounts.csv")),
         IE, r"accounts\.csv' is empty; export the data again"),
    Case("header-only", lambda d: (write(d), (d / "accounts.csv").write_text(
        "account_id,lat,lon,workload\n"), topt.read_accounts(d / "accounts.csv")),
         IE, r"accounts\.csv' has no rows"),
    Case("unknown-format", lambda d: ((d / "a.dbx").write_text("x"),
                                      topt.read_accounts(d / "a.dbx")),
         IE, r"unknown file type '\.dbx'; use CSV, XLSX"),
    Case("damaged-file", lambda d: ((d / "a.gpkg").write_bytes(b"not a geopackage" * 10),
                                    topt.read_accounts(d / "a.gpkg")),
         IE, r"a\.gpkg' could not be read as \.gpkg .*suffix matches its format"),
    Case("folder-not-file", lambda d: topt.read_accounts(d),
         IE, r"is a folder; give the path of a file"),
    Case("missing-sheet", lambda d: (ACCOUNTS.to_excel(d / "a.xlsx", index=False),
                                     topt.read_accounts(d / "a.xlsx", sheet="Q3")),
         IE, r"a\.xlsx' has no sheet 'Q3'; its sheets are: Sheet1\. Set sheet: in the "
             r"scenario"),
    Case("column-on-another-sheet", lambda d: (_cover_first(d / "a.xlsx"),
                                               topt.read_accounts(d / "a.xlsx")),
         IE, r"a\.xlsx' \(sheet 'Cover'\) has no column 'account_id' .*Sheet 'Accounts' has "
             r"that column: set sheet: 'Accounts'"),
    Case("csv-separator", lambda d: ((d / "a.csv").write_text("account_id lat lon\nA1 33 -84\n"),
                                     topt.read_accounts(d / "a.csv")),
         IE, r"a\.csv': every line is one column .*set sep: in the scenario"),
    Case("csv-encoding", lambda d: (ACCOUNTS.assign(name="Café").to_csv(
        d / "a.csv", index=False, encoding="cp1252"),
        topt.read_accounts(d / "a.csv", encoding="utf-8")),
         IE, r"a\.csv' is not utf-8 \(byte \d+ cannot be read\); set encoding:"),
    # ---- columns and values
    Case("missing-column", lambda d: scenario(d, accounts=ACCOUNTS.rename(
        columns={"workload": "work_load"})),
         IE, r"accounts\.csv' has no column 'workload' .*did you mean 'work_load'", cli=True),
    Case("duplicate-ids", lambda d: scenario(d, accounts=accounts_with(
        account_id=["A1", "A2", "A2", "A4"])),
         IE, r"column 'account_id': id 'A2' appears on rows 3, 4 .*merge or renumber",
         cli=True),
    Case("blank-id", lambda d: scenario(d, accounts=accounts_with(
        account_id=["A1", None, "A3", "A4"])),
         IE, r"column 'account_id': row 3 have no id; give every row an id"),
    Case("blank-coordinate", lambda d: scenario(d, accounts=accounts_with(
        lat=[33.0, None, 33.2, 33.3])),
         IE, r"column 'lat': row 3 have no coordinates; fill in their coordinates, or drop "
             r"those rows \(never write 0"),
    Case("zero-coordinates", lambda d: scenario(d, accounts=accounts_with(
        lat=[33.0, 0.0, 33.2, 33.3], lon=[-84.0, 0.0, -84.2, -84.3],
        zip=["30002", "30003", "30004", "30005"])),
         IE, r"row 3 lie at latitude 0, longitude 0 \(in the Atlantic\).*set zip: 'zip' in the "
             r"scenario", cli=True),
    Case("infinite-coordinate", lambda d: scenario(d, accounts=accounts_with(
        lon=[-84.0, -84.1, np.inf, -84.3])),
         IE, r"column 'lon': row 4 are infinite; fix the values"),
    Case("out-of-range-coordinate", lambda d: scenario(d, accounts=accounts_with(
        lon=[-84.0, -184.1, -84.2, -84.3])),
         IE, r"column 'lon': row 3 are out of range for degrees; fix the coordinates"),
    Case("lat-lon-swapped", lambda d: scenario(d, accounts=ACCOUNTS.rename(
        columns={"lat": "lon", "lon": "lat"})),
         IE, r"accounts lie far from the reps' home bases, but would lie on them with "
             r"latitude and longitude swapped: set lat: lon and lon: lat", cli=True),
    Case("no-crs", lambda d: (_no_crs_shapefile(d / "a.shp"), topt.read_accounts(d / "a.shp")),
         IE, r"a\.shp' has no CRS.*set crs: 'EPSG:<code>' in the scenario"),
    Case("xy-without-crs", lambda d: topt.read_accounts(
        accounts_with(x=[1.0] * 4, y=[2.0] * 4), x="x", y="y", lat=None, lon=None),
         IE, r"x/y coordinates need the CRS they are in; set crs: 'EPSG:<code>'"),
    Case("layers-in-mixed-crs", lambda d: (_polygons(d, [shapely.box(-84.5, 32.9, -83.9, 33.4)],
                                                     crs="EPSG:26716"),
                                           scenario(d, "potential: {path: pot.gpkg, "
                                                       "value: population}\n")),
         IE, r"accounts and the potential layer do not overlap .*one file is read in the "
             r"wrong CRS", cli=True),
    Case("empty-geometry", lambda d: (_polygons(d, [shapely.box(-84.5, 32.9, -83.9, 33.4),
                                                    shapely.Polygon()]),
                                      topt.read_potential(d / "pot.gpkg", value="population")),
         IE, r"pot\.gpkg': row 2 have no geometry; give them a location or drop them"),
    Case("blank-potential", lambda d: topt.read_potential(
        _blank_potential(d), value="population", id="fips"),
         IE, r"pot\.gpkg', column 'population': row 2 \(area 'P1'\) is blank; fill in a "
         r"number, or say what a blank means: missing: zero"),
    Case("text-workload", lambda d: scenario(d, accounts=accounts_with(
        workload=["1", "2", "lots", "4"])),
         IE, r"column 'workload': row 4 \(account 'A3'\) hold text, not numbers \('lots'\)", cli=True),
    Case("negative-workload", lambda d: scenario(d, accounts=accounts_with(
        workload=[1.0, -2.0, 3.0, 4.0])),
         IE, r"column 'workload': row 3 \(account 'A2'\) are below 0 .*fix them or drop those rows"),
    Case("missing-workload", lambda d: scenario(d, accounts=accounts_with(
        workload=[1.0, None, 3.0, 4.0])),
         IE, r"column 'workload': row 3 \(account 'A2'\) is blank; fill in a number, or say what a "
         r"blank means: missing: zero"),
    Case("zero-total-workload", lambda d: scenario(d, accounts=accounts_with(
        workload=[0.0] * 4)),
         IE, r"balance 'workload': the workload of all units adds up to 0, .*drop", cli=True),
    Case("zero-fte", lambda d: scenario(d, reps=REPS.assign(fte=[1.0, 0.0])),
         IE, r"reps\.csv.*'fte'.*row 3 .*FTE of 0 or less"),
    # ---- territories, locks, bands
    Case("k-below-1", lambda d: scenario_text(
        d, "name: s\naccounts: {path: accounts.csv}\ncentres: model\nk: 0\n"),
         IE, r"key 'k': Input should be greater than or equal to 1 \(got 0\)", cli=True),
    Case("k-above-units", lambda d: scenario_text(
        d, "name: s\naccounts: {path: accounts.csv}\ncentres: model\nk: 9\n"),
         INF, r"9 territories but only 4 planning units.*use fewer territories", cli=True),
    Case("lock-unknown-rep", lambda d: scenario(d, "locks: {A1: R9}\n"),
         IE, r"lock of 'A1' names rep 'R9', which is not among the reps .*fix the rep id",
         cli=True),
    Case("lock-unknown-account", lambda d: scenario(d, "locks: {A9: R1}\n"),
         IE, r"lock names 'A9', which is neither an account id nor a unit id"),
    Case("conflicting-locks", lambda d: (pd.DataFrame({"account_id": ["A1", "A1"],
                                                       "rep_id": ["R1", "R2"]}).to_csv(
        d / "locks.csv", index=False), scenario(d, "locks: {path: locks.csv}\n")),
         IE, r"locks\.csv', column 'account_id': id 'A1' appears on rows 2, 3"),
    Case("band-cannot-hold", lambda d: scenario_text(d, SCENARIO.replace("0.5", "0.1")
                                                     + "solver: {infeasible: refuse}\n",
                                                     accounts=accounts_with(
                                                         workload=[1.0, 1.0, 1.0, 9.0])),
         INF, r"unit 'A4' .*workload .*band", cli=True),
    Case("contiguity-on-disconnected-graph", lambda d: (
        pd.DataFrame({"a": ["A1", "A3"], "b": ["A2", "A4"]}).to_csv(d / "e.csv", index=False),
        scenario_text(d, "name: s\naccounts: {path: accounts.csv}\ncentres: model\nk: 1\n"
                         "balance: {}\ncontiguity: {edges: {path: e.csv}}\n")),
         INF, r"piece", cli=True),
    Case("distance-missing-pair", lambda d: (pd.DataFrame(
        {"origin": ["A1"], "destination": ["R1"], "cost": [1.0]}).to_csv(d / "d.csv",
                                                                          index=False),
        scenario(d, "objective: {distance: {path: d.csv}}\n")),
         IE, r"distance matrix lacks unit 'A2' as an origin .*give a cost from every unit",
         cli=True),
    Case("distance-negative-cost", lambda d: (pd.DataFrame(
        {"origin": ["A1", "A2"], "destination": ["R1", "R1"], "cost": [1.0, -3.0]}).to_csv(
        d / "d.csv", index=False), scenario(d, "objective: {distance: {path: d.csv}}\n")),
         IE, r"d\.csv', column 'cost': row 3 are below 0"),
    Case("edge-unknown-unit", lambda d: (pd.DataFrame({"a": ["A1"], "b": ["Z9"]}).to_csv(
        d / "e.csv", index=False), scenario(d, "contiguity: {edges: {path: e.csv}}\n")),
         IE, r"edge \('A1', 'Z9'\) names a unit that does not exist; fix the edge list"),
    Case("alignment-unknown-rep", lambda d: (pd.DataFrame(
        {"account_id": ["A1"], "rep_id": ["R7"]}).to_csv(d / "al.csv", index=False),
        scenario(d, "alignment: {path: al.csv}\n")),
         IE, r"alignment names rep 'R7', which is not among the reps"),
    # ---- scenario files
    Case("scenario-missing", lambda d: topt.run_scenario(d / "nope.yaml", write=False),
         IE, r"scenario file '.*nope\.yaml' does not exist; check the path"),
    Case("yaml-syntax", lambda d: scenario_text(d, SCENARIO + "solver:\n\t gap: 0.1\n"),
         IE, r"is not valid YAML at line 6, column 1: .*fix the indentation", cli=True),
    Case("yaml-not-mapping", lambda d: scenario_text(d, "- accounts.csv\n- reps.csv\n"),
         IE, r"must be a mapping of keys .*not a list"),
    Case("unknown-key", lambda d: scenario(d, "solvr: {gap: 0.1}\n"),
         IE, r"unknown key 'solvr'; did you mean 'solver'\?", cli=True),
    Case("unknown-nested-key", lambda d: scenario(d, "solver: {time_limt: 5}\n"),
         IE, r"unknown key 'solver\.time_limt'; did you mean 'time_limit'\?"),
    Case("missing-key", lambda d: scenario_text(d, "name: s\nreps: {path: reps.csv}\n"),
         IE, r"missing key 'accounts'; add it"),
    Case("wrong-type", lambda d: scenario(d, "solver: {time_limit: soon}\n"),
         IE, r"key 'solver\.time_limit': Input should be a valid number, .*got 'soon'",
         cli=True),
    Case("wrong-type-band", lambda d: scenario_text(
        d, SCENARIO.replace("0.5", "lots")),
         IE, r"key 'balance\.workload': Input should be a valid number, .*got 'lots'"),
    Case("band-out-of-range", lambda d: scenario_text(d, SCENARIO.replace("0.5", "-0.1")),
         IE, r"balance 'workload': the tolerance must be a share between 0 and 1, got -0\.1"),
    Case("unknown-balance-metric", lambda d: scenario_text(
        d, SCENARIO.replace("workload: 0.5", "visits: 0.1")),
         IE, r"balance metric 'visits' is not a unit column; use one of: accounts, workload"),
    Case("model-centres-without-k", lambda d: scenario_text(
        d, "name: s\naccounts: {path: accounts.csv}\ncentres: model\n"),
         IE, r"centres='model' needs k"),
    # ---- outputs
    Case("output-is-a-file", lambda d: ((d / "out").write_text("mine"),
                                        topt.run_scenario(write(d), out=d / "out")),
         IE, r"output folder '.*out' is a file; choose a folder path"),
    Case("output-under-a-file", lambda d: ((d / "f").write_text("mine"),
                                           topt.run_scenario(write(d), out=d / "f" / "run")),
         IE, r"'.*f' is a file, not a folder; choose another output folder"),
    Case("output-holds-user-files", lambda d: ((d / "mine").mkdir(),
                                               (d / "mine" / "notes.txt").write_text("x"),
                                               topt.run_scenario(write(d), out=d / "mine")),
         IE, r"holds files that are not a territory_opt run .*nothing of yours"),
    Case("zip-unplaced", lambda d: scenario_text(
        d, SCENARIO.replace("{path: accounts.csv}", "{path: accounts.csv, zip: zip}"),
        accounts=accounts_with(zip=["30002", "3OOO2", "", "30004-1234"]).drop(
            columns=["lat", "lon"])),
         IE, r"'.*accounts.csv', column 'zip': 2 of 4 accounts could not be placed by ZIP "
             r"code \(line 3 \(A2, '3OOO2'\): not a US ZIP code.*line 4 \(A3, ''\): no ZIP "
             r"code\); fix those codes.*unplaced: drop", cli=True),
    Case("zip-none-placed", lambda d: (ACCOUNTS.drop(columns=["lat", "lon"]).to_csv(
        d / "a.csv", index=False), topt.read_accounts(d / "a.csv", zip="workload",
                                                      unplaced="drop")),
         IE, r"column 'workload': no ZIP code could be placed; is it the right column\?"),
    Case("zip-nowhere", lambda d: (ACCOUNTS.drop(columns=["lat", "lon"]).assign(
        zip=["30002", "09000", "30004", "30005"]).to_csv(d / "a.csv", index=False),
        topt.read_accounts(d / "a.csv", zip="zip")),
         IE, r"line 3 \(A2, '09000'\): ZIP code without a location \(military APO/FPO"),
    # ---- segments, capacity rules, teams
    Case("segment-blank", lambda d: scenario_text(
        d, SEGMENTS, accounts=accounts_with(kind=["a", "b", None, "a"]),
        reps=reps_with(serves=["a", ""])),
         IE, r"'.*accounts.csv', column 'kind': no segment in row 4; give every account one",
         cli=True),
    Case("segment-unknown", lambda d: scenario_text(
        d, SEGMENTS, accounts=accounts_with(kind=["hospital", "clinic", "clinic", "clinic"]),
        reps=reps_with(serves=["hospitl", ""])),
         IE, r"rep 'R1' names segment 'hospitl', which no account has; did you mean "
             r"'hospital'\? the segments are: 'clinic', 'hospital'", cli=True),
    Case("segment-lock", lambda d: scenario_text(
        d, SEGMENTS + "locks: {A1: R2}\n", accounts=accounts_with(kind=["a", "b", "b", "a"]),
        reps=reps_with(serves=["", "b"])),
         IE, r"lock of 'A1' to rep 'R2': it is in segment 'a', which the rep does not serve "
             r"\(segments: b\); lock it to a rep who serves it"),
    Case("segment-nobody-serves", lambda d: scenario_text(
        d, SEGMENTS, accounts=accounts_with(kind=["a", "b", "b", "a"]),
        reps=reps_with(serves=["a", "a"])),
         INF, r"segment 'b': 2 units but no rep serves it; add 'b' to some reps' segments",
         cli=True),
    # ---- regions
    Case("region-blank", lambda d: scenario_text(
        d, REGIONS, reps=reps_with(area=["North", None])),
         IE, r"'.*reps.csv', column 'area': no region in row 3; give every rep the region "
             r"they report to", cli=True),
    Case("region-not-given", lambda d: scenario(d, "regions: {balance: {workload: 0.1}}\n"),
         IE, r"regions: needs each rep's region: name the column with reps: region:",
         cli=True),
    Case("region-lock-unknown", lambda d: scenario_text(
        d, REGIONS + "regions: {locks: {A1: Nrth}}\n", reps=reps_with(area=["North", "South"])),
         IE, r"region lock of 'A1' names region 'Nrth', which no rep is in; did you mean "
             r"'North'\? the regions are: 'North', 'South'"),
    Case("region-band-too-tight", lambda d: scenario_text(
        d, REGIONS.replace("0.5", "0.2") + "regions: {balance: {workload: {max: 5}}}\n",
        reps=pd.concat([REPS, REPS.iloc[:1].assign(rep_id="R3")]).assign(
            area=["North", "North", "South"])),
         INF, r"region 'North': its 2 territories need at least 5.3 workload together for "
              r"their bands, but the region workload band \[-, 5.0\] allows the region at "
              r"most 5.0; widen the region band", cli=True),
    Case("capacity-filter", lambda d: scenario(
        d, "capacity: {big: {where: 'workload >= lots', max: 2}}\n"),
         IE, r"capacity 'big': filter 'workload >= lots': column 'workload' holds numbers, "
             r"but 'lots' is not one"),
    Case("sweep-set-syntax", lambda d: topt.sweep(write(d), ["k:10..14"], serial=True),
         IE, r"--set 'k:10..14': write KEY=VALUES, e.g. k=10..14"),
    # ---- the workbench (territory-opt edit)
    Case("edit-input-changed", lambda d: (
        topt.run_scenario(write(d), out=d / "out", progress=False),
        ACCOUNTS.assign(workload=9.0).to_csv(d / "accounts.csv", index=False),
        open_run(d / "out")),
         IE, r"input '.*accounts\.csv' \(accounts\) changed since this run; run the "
             r"scenario again"),
    Case("edit-locked-unit", lambda d: _edited(d, lambda s: (s.lock(["A1"]),
                                                             s.assign(["A1"], "R2"))),
         IE, r"unit 'A1' is locked; unlock it first"),
    Case("edit-unknown-territory", lambda d: _edited(d, lambda s: s.assign(["A1"], "R9")),
         IE, r"territory 'R9' is neither a territory label nor a rep id of this plan"),
    Case("sweep-bad-variant", lambda d: topt.sweep(write(d), ["balance.workload=0.1,1.5x"],
                                                   serial=True, out=d / "sw"),
         IE, r"scenario run balance.workload=1.5x: key 'balance.workload'"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_gives_a_clear_error(case, tmp_path):
    write(tmp_path)
    with pytest.raises(case.error, match=case.message):
        case.run(tmp_path)


def test_catalogue_has_thirty_cases_and_all_are_documented():
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)
    doc = (ROOT / "docs" / "errors.md").read_text()
    missing = [c.id for c in CASES if f"`{c.id}`" not in doc]
    assert missing == []


@pytest.mark.parametrize("case", [c for c in CASES if c.cli], ids=[c.id for c in CASES if c.cli])
def test_command_line_prints_one_line_and_exits_non_zero(case, tmp_path, capsys):
    write(tmp_path)
    with pytest.raises(case.error):
        case.run(tmp_path)  # writes the broken files
    code = main(["run", str(tmp_path / "s.yaml"), "--out", str(tmp_path / "cli_out")])
    err = capsys.readouterr().err
    assert code == (3 if case.error is INF else 2)
    assert "Traceback" not in err
    assert len([line for line in err.splitlines() if line.startswith("error: ")]) == 1
    assert not (tmp_path / "cli_out").exists()
