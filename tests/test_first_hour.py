"""What a new user trips on with their own CRM export: locations (blank, 0/0, ZIP
fallback), spreadsheet dialects, workbook sheets, init, and what the command line says."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest
import yaml

import territory_opt as topt
from conftest import ROOT, georgia_copy
from territory_opt.cli import main
from territory_opt.geo import describe_crs
from territory_opt.io.zips import geocode_zip

CRM = pd.DataFrame({"Account ID": ["A1", "A2", "A3", "A4"],
                    "Account Name": ["North", "South", "East", "West"],
                    "Billing Zip/Postal Code": ["30303", "30305", "31201", "30601"],
                    "Latitude": [33.75, None, 32.84, None],
                    "Longitude": [-84.39, None, -83.63, None],
                    "Visit Hours": [10.0, 12.5, 8.0, 9.5]})
READ = {"id": "Account ID", "workload": "Visit Hours", "lat": "Latitude", "lon": "Longitude"}


def test_blank_coordinates_point_to_the_zip_column_never_to_zero(tmp_path):
    CRM.to_csv(tmp_path / "crm.csv", index=False)
    with pytest.raises(topt.InputError) as err:
        topt.read_accounts(tmp_path / "crm.csv", **READ)
    msg = str(err.value)
    assert "rows 3, 5 have no coordinates" in msg
    assert "set zip: 'Billing Zip/Postal Code'" in msg and "(0 if" not in msg


def test_accounts_at_zero_zero_are_refused(tmp_path):
    crm = CRM.fillna(0.0)
    crm.to_csv(tmp_path / "crm.csv", index=False)
    with pytest.raises(topt.InputError, match=r"rows 3, 5 lie at latitude 0, longitude 0 .*"
                                              r"set zip: 'Billing Zip/Postal Code'"):
        topt.read_accounts(tmp_path / "crm.csv", **READ)
    crm.drop(columns="Billing Zip/Postal Code").to_csv(tmp_path / "nozip.csv", index=False)
    with pytest.raises(topt.InputError, match="fill in their coordinates, or drop those rows"):
        topt.read_accounts(tmp_path / "nozip.csv", **READ)


@pytest.mark.parametrize("blank", [None, 0.0], ids=["blank", "zero"])
def test_zip_fills_in_only_what_coordinates_lack(tmp_path, blank):
    CRM.fillna(blank if blank is not None else float("nan")).to_csv(tmp_path / "crm.csv",
                                                                     index=False)
    acc = topt.read_accounts(tmp_path / "crm.csv", zip="Billing Zip/Postal Code", **READ)
    assert acc.attrs["placed_by_zip"] == 2
    zlat, zlon, _ = geocode_zip(["30305", "30601"])  # A2 and A4 at their ZIP codes
    assert acc.geometry.y.tolist() == [33.75, zlat[0], 32.84, zlat[1]]
    assert acc.geometry.x.tolist() == [-84.39, zlon[0], -83.63, zlon[1]]


def test_a_zip_code_at_zero_zero_is_not_placed(tmp_path):
    crm = CRM.assign(**{"Billing Zip/Postal Code": ["30303", "09000", "31201", "30601"]})
    crm.to_csv(tmp_path / "crm.csv", index=False)
    with pytest.raises(topt.InputError, match=r"line 3 \(A2, '09000'\): ZIP code without a "
                                              r"location \(military APO/FPO"):
        topt.read_accounts(tmp_path / "crm.csv", zip="Billing Zip/Postal Code", **READ)


def test_european_excel_csv_with_semicolons_and_decimal_commas(tmp_path):
    text = ("account_id;lat;lon;workload\nA1;33,75;-84,39;12,5\nA2;32,84;-83,63;8\n")
    (tmp_path / "eu.csv").write_bytes(text.encode("cp1252"))
    acc = topt.read_accounts(tmp_path / "eu.csv")
    assert acc["workload"].tolist() == [12.5, 8.0]
    assert acc.geometry.y.tolist() == [33.75, 32.84]


def test_encodings_are_recognised_or_named(tmp_path):
    frame = pd.DataFrame({"account_id": ["A1", "A2"], "name": ["Café Müller", "Zoë"],
                          "lat": [33.7, 33.8], "lon": [-84.3, -84.4], "workload": [1, 2]})
    frame.to_csv(tmp_path / "bom.csv", index=False, encoding="utf-8-sig")
    frame.to_csv(tmp_path / "utf16.csv", index=False, encoding="utf-16")
    for name in ("bom.csv", "utf16.csv"):
        assert topt.read_accounts(tmp_path / name)["name"].tolist() == ["Café Müller", "Zoë"]
    frame.to_csv(tmp_path / "win.csv", index=False, encoding="cp1252")
    with pytest.warns(topt.TerritoryOptWarning, match="not UTF-8.*read as Windows-1252"):
        assert topt.read_accounts(tmp_path / "win.csv")["name"].tolist()[0] == "Café Müller"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said in the scenario: no warning
        assert topt.read_accounts(tmp_path / "win.csv", encoding="cp1252")["name"][1] == "Zoë"
    with pytest.raises(topt.InputError, match="is not utf-8 .*set encoding:"):
        topt.read_accounts(tmp_path / "win.csv", encoding="utf-8")
    (tmp_path / "pipes.csv").write_text("account_id lat lon\nA1 33.7 -84.3\n")
    with pytest.raises(topt.InputError, match="separator was not recognised; set sep:"):
        topt.read_accounts(tmp_path / "pipes.csv")


def test_workbook_sheets_are_named(tmp_path):
    book = tmp_path / "crm.xlsx"
    with pd.ExcelWriter(book) as xl:
        pd.DataFrame({"Report": ["Accounts Q3"], "Value": [1]}).to_excel(
            xl, sheet_name="Cover", index=False)
        CRM.dropna().to_excel(xl, sheet_name="Accounts", index=False)
    with pytest.raises(topt.InputError, match=r"has no sheet 'Acounts'; its sheets are: Cover, "
                                              r"Accounts\. did you mean 'Accounts'\? Set sheet:"):
        topt.read_accounts(book, sheet="Acounts", **READ)
    with pytest.raises(topt.InputError, match=r"\(sheet 'Cover'\) has no column 'Account ID'.*"
                                              r"Sheet 'Accounts' has that column: set sheet: "):
        topt.read_accounts(book, **READ)
    assert len(topt.read_accounts(book, sheet="Accounts", **READ)) == 2


def test_init_maps_the_zip_fallback_name_and_state(tmp_path):
    CRM.assign(**{"Billing State": "GA"}).to_csv(tmp_path / "crm.csv", index=False)
    (tmp_path / "reps.csv").write_text("rep_id,lat,lon\nR1,33.7,-84.3\nR2,32.8,-83.6\n")
    assert main(["init", str(tmp_path / "s.yaml"), "--accounts", str(tmp_path / "crm.csv"),
                 "--reps", str(tmp_path / "reps.csv")]) == 0
    acc = yaml.safe_load((tmp_path / "s.yaml").read_text())["accounts"]
    assert acc["lat"] == "Latitude" and acc["zip"] == "Billing Zip/Postal Code"
    assert acc["name"] == "Account Name" and acc["state"] == "Billing State"
    assert main(["validate", str(tmp_path / "s.yaml")]) == 0


def test_the_run_line_names_unit_choice_moves_and_warnings_plainly(tmp_path, capsys):
    assert main(["run", str(ROOT / "scenarios" / "georgia_realign.yaml"), "--out",
                 str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "949 accounts in 949 units (accounts)" in out
    assert "accounts change rep (" in out and "% of the current alignment)" in out
    scenario = georgia_copy(tmp_path / "auto.yaml", solver={"gap": 0.01})
    data = yaml.safe_load(scenario.read_text()) | {"units": {"method": "auto"}}
    data["balance"] = {"workload": 0.5}
    scenario.write_text(yaml.safe_dump(data))
    assert main(["run", str(scenario), "--out", str(tmp_path / "auto")]) == 0
    printed = capsys.readouterr()
    assert "159 units (polygons, chosen by units: auto)" in printed.out
    assert ".py:" not in printed.err and "py.warnings" not in printed.err


def test_compare_prints_figures_as_run_does(tmp_path, capsys):
    from territory_opt.outputs.compare import format_figures

    figures = pd.DataFrame({"figure": ["objective", "gap", "coverage ratio", "workload CV"],
                            "a": [845_123.456, 0.000986, 0.937, 0.0441]})
    assert format_figures(figures)["a"].tolist() == ["845,123.46", "0.0986%", "93.7%",
                                                     "0.044"]


def test_validate_names_the_projection_it_chose():
    from pyproj import CRS

    aeqd = CRS.from_proj4("+proj=aeqd +lat_0=39.5 +lon_0=-98.35 +datum=WGS84 +units=m")
    assert describe_crs(aeqd) == "azimuthal equidistant centred on lat 39.5, lon -98.35"
    assert describe_crs(CRS.from_epsg(32617)) == "WGS 84 / UTM zone 17N"


def test_white_space_names_the_areas(tmp_path):
    from territory_opt.outputs.tables import white_space

    accounts, potential, reps = topt.load_georgia()
    named = potential.assign(name=[f"County {f}" for f in potential["potential_id"]])
    units = topt.build_units(accounts, potential=named, method="polygons")
    problem = topt.TerritoryProblem(units, reps=reps, balance={"workload": 0.5})
    table = white_space(topt.solve(problem, gap=0.05), reach_km=20)
    assert len(table) and table["name"].str.startswith("County 13").all()
