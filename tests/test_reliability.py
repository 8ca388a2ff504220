"""Nothing lost: interrupted runs, solver failures, inputs never written, reruns."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import territory_opt as topt
from conftest import ROOT, georgia_copy


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def slow_scenario(tmp_path_factory) -> Path:
    """Georgia at gap 0: long enough (over 15 s here) to be interrupted mid-solve."""
    return georgia_copy(tmp_path_factory.mktemp("slow") / "slow.yaml",
                        solver={"gap": 0.0, "time_limit": 300})


@pytest.mark.parametrize("sig, code, name", [(signal.SIGINT, 130, "SIGINT"),
                                             (signal.SIGTERM, 143, "SIGTERM")])
def test_interrupted_run_leaves_previous_outputs_intact(slow_scenario, georgia_run, tmp_path,
                                                        sig, code, name):
    out = tmp_path / "out"
    topt.write_outputs(out, {"manifest.json": {"earlier": "run"},
                             "assignments.csv": "account_id,rep_id\nA1,R1\n"})
    before = _digest(out)
    with subprocess.Popen([sys.executable, "-m", "territory_opt.cli", "run", "--verbose",
                           str(slow_scenario), "--out", str(out)],
                          stderr=subprocess.PIPE, text=True, cwd=tmp_path) as proc:
        assert proc.stderr is not None
        for line in proc.stderr:  # stage names arrive on stderr (the log of -v)
            if "stage: solve" in line:
                break
        time.sleep(3.0)  # inside HiGHS by now
        sent = time.perf_counter()
        proc.send_signal(sig)
        rest = proc.stderr.read()
        proc.wait(timeout=60)
    assert time.perf_counter() - sent < 10  # the solver is stopped, not waited out
    assert proc.returncode == code
    assert f"interrupted ({name}): nothing was written" in rest and "Traceback" not in rest
    assert _digest(out) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


def test_solver_failure_leaves_previous_outputs_intact(tmp_path, monkeypatch, georgia_run):
    out = georgia_run.out_dir
    before = _digest(out)
    from territory_opt.scenario import run as scenario_module

    def no_plan(*args, **kwargs):
        raise topt.SolverError("the solver stopped (time limit 1 s) before finding any "
                               "assignment")
    monkeypatch.setattr(scenario_module, "solve", no_plan)
    with pytest.raises(topt.SolverError):
        topt.run_scenario(ROOT / "scenarios" / "georgia.yaml", out=out)
    assert _digest(out) == before


def test_inputs_are_never_written(tmp_path):
    """Every input file is byte-identical and untouched after a full run."""
    data = ROOT / "data" / "georgia"
    scenario = georgia_copy(tmp_path / "s.yaml", solver={"gap": 0.01})
    inputs = [scenario, *(data / n for n in ("accounts.csv", "counties.gpkg", "reps.csv",
                                             "deals.csv"))]
    before = {p: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
              for p in inputs}
    result = topt.run_scenario(scenario, out=tmp_path / "out")
    after = {p: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
             for p in inputs}
    assert after == before
    recorded = {Path(i["path"]): i["sha256"] for i in result.manifest["inputs"]}
    assert all(recorded[p] == before[p][0] for p in inputs[1:])


def test_a_time_limited_plan_is_labelled(tmp_path):
    """Stopped by the time limit, a plan is written as 'feasible' with its gap, never
    as optimal (the plain MIP stopped mid-search; the search's limit: test_search)."""
    scenario = georgia_copy(tmp_path / "s.yaml", solver={"gap": 0.0, "time_limit": 3},
                            contiguity=False)
    result = topt.run_scenario(scenario, out=tmp_path / "out")
    assert result.solution.status == "feasible"
    assert 0 < result.solution.gap < 0.05
    import json
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["status"] == "feasible" and manifest["gap"] == result.solution.gap
    assert "feasible (solver HiGHS)" in (tmp_path / "out" / "report.html").read_text()


@pytest.mark.parametrize("threads", [1, 2])
def test_same_inputs_give_byte_identical_assignments(tmp_path, threads):
    scenario = georgia_copy(tmp_path / "s.yaml", solver={"threads": threads, "gap": 0.01})
    digests = []
    for _ in range(2):  # a rerun replaces the folder with the same plan (idempotent)
        result = topt.run_scenario(scenario, out=tmp_path / "out")
        digests.append(_digest(result.out_dir))
    assert digests[0]["assignments.csv"] == digests[1]["assignments.csv"]
    differ = {name for name in digests[0] if digests[0][name] != digests[1][name]}
    # time stamps (manifest, GeoPackage, zip, workbook) and folium's random element
    # ids (map.html) may differ; the plan and its tables, charts and images may not
    assert differ <= {"manifest.json", "territories.gpkg", "territories.shp.zip",
                      "report.xlsx", "map.html"}


# ------------------------------------------------------------------ security

HOSTILE = '<script>alert("x")</script>'


def test_no_unsafe_loading_in_the_package():
    """YAML through safe_load only; no pickle, eval, exec or shell on user data."""
    import re

    source = "\n".join(p.read_text() for p in (ROOT / "territory_opt").glob("*.py"))
    assert re.findall(r"yaml\.(?:load|unsafe_load|full_load)\(|pickle|\beval\(|\bexec\(|"
                      r"shell=True|os\.system", source) == []
    assert "yaml.safe_load(" in source


def test_every_output_escapes_names_from_the_data(tmp_path):
    import pandas as pd

    pd.DataFrame({"account_id": ["A1", "A2", "A3", "A4"], "name": [HOSTILE] * 4,
                  "lat": [33.0, 33.01, 33.3, 33.31], "lon": [-84.0, -84.01, -84.3, -84.31],
                  "workload": [1.0] * 4}).to_csv(tmp_path / "accounts.csv", index=False)
    pd.DataFrame({"rep_id": ["R1", "R2"], "name": [HOSTILE, "Bo"], "territory": [HOSTILE, "T2"],
                  "lat": [33.0, 33.3], "lon": [-84.0, -84.3]}).to_csv(tmp_path / "reps.csv",
                                                                   index=False)
    (tmp_path / "s.yaml").write_text("name: '<b>x</b>'\naccounts: {path: accounts.csv}\n"
                                     "reps: {path: reps.csv}\nbalance: {workload: 0.0}\n")
    out = topt.run_scenario(tmp_path / "s.yaml", out=tmp_path / "out").out_dir
    from territory_opt.outputs.compare import change_map

    pages = {"report.html": (out / "report.html").read_text(),
             "map.html": (out / "map.html").read_text(),
             "change_map.html": change_map(out, out)}
    for name, page in pages.items():
        assert HOSTILE not in page, name
        assert "<b>x</b>" not in page, name
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in pages["report.html"]


def test_output_names_cannot_leave_the_folder(tmp_path):
    for name in ("../evil.csv", "sub/evil.csv", "..", ""):
        with pytest.raises(ValueError, match="must not contain folders"):
            topt.write_outputs(tmp_path / "out", {name: "x"})
    assert not (tmp_path / "evil.csv").exists()
