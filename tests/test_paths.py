"""Every solve path end to end, through a scenario file and the command line: the MIP
and the Lagrangian path, fixed and model-chosen centres, with and without contiguity,
so that no path is reachable only from Python."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from conftest import ROOT
from territory_opt.cli import main

ACCOUNTS = pd.read_csv(ROOT / "data" / "georgia" / "accounts.csv")


@pytest.mark.parametrize("contiguity", [False, True], ids=["plain", "contiguous"])
@pytest.mark.parametrize("centres", ["fixed", "model"])
@pytest.mark.parametrize("method", ["mip", "lagrange"])
def test_each_path_runs_from_a_scenario_file(method, centres, contiguity, tmp_path, capsys):
    data = yaml.safe_load((ROOT / "scenarios" / "georgia.yaml").read_text())
    for key in ("accounts", "potential", "reps", "deals"):
        data[key]["path"] = str((ROOT / "scenarios" / data[key]["path"]).resolve())
    data.pop("output")
    data |= {"name": f"{method}_{centres}", "contiguity": contiguity,
             "solver": data["solver"] | {"method": method, "time_limit": 60},
             "units": {"method": "clusters", "n_units": 150 if centres == "fixed" else 60},
             "balance": {"workload": 0.15 if centres == "fixed" else 0.1}}
    if centres == "model":
        data |= {"centres": "model", "k": 4}
        data.pop("reps")
    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(data))
    assert main(["validate", str(scenario)]) == 0
    assert main(["run", str(scenario), "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert f"{method}_{centres}: " in printed and "Traceback" not in printed
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["solver"]["method"] == method
    assert manifest["status"] in ("optimal", "feasible")
    assert manifest["seconds"]["solve"] > 0
    assignments = pd.read_csv(tmp_path / "out" / "assignments.csv")
    assert sorted(assignments["account_id"]) == sorted(ACCOUNTS["account_id"])
    assert assignments["territory"].nunique() == (12 if centres == "fixed" else 4)
