"""The command line, scenario files, and all-or-nothing outputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import territory_opt as topt
from territory_opt.cli import main

TINY = """\
name: tiny
accounts: {path: accounts.csv}
reps: {path: reps.csv}
balance: {workload: 0.0}
solver: {time_limit: 30}
"""


@pytest.fixture
def tiny(tmp_path) -> Path:
    """A six-account scenario on a line: R0 must take A0..A2, R1 A3..A5."""
    pd.DataFrame({"account_id": [f"A{i}" for i in range(6)],
                  "lat": [33.0] * 6, "lon": [-84.0 + 0.01 * i for i in range(6)],
                  "workload": [1.0] * 6}).to_csv(tmp_path / "accounts.csv", index=False)
    pd.DataFrame({"rep_id": ["R0", "R1"], "name": ["Ann <b>", "Bo"], "lat": [33.0, 33.0],
                  "lon": [-84.0, -83.95]}).to_csv(tmp_path / "reps.csv", index=False)
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


def test_run_writes_outputs_and_exits_zero(tiny, capsys):
    out = tiny.parent / "out"
    assert main(["run", str(tiny), "--out", str(out), "--time-limit", "20"]) == 0
    table = pd.read_csv(out / "assignments.csv")
    assert dict(zip(table["account_id"], table["rep_id"], strict=True)) == {
        "A0": "R0", "A1": "R0", "A2": "R0", "A3": "R1", "A4": "R1", "A5": "R1"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["solver"]["time_limit"] == 20
    assert "tiny: optimal" in capsys.readouterr().out


def test_default_output_is_out_slash_name(tiny, monkeypatch):
    monkeypatch.chdir(tiny.parent)
    assert main(["run", "tiny.yaml", "-q"]) == 0
    assert (tiny.parent / "out" / "tiny" / "map.html").is_file()


def test_bad_input_prints_a_message_without_traceback(tiny):
    (tiny.parent / "accounts.csv").write_text("account_id,lat,lon,workload\nA0,33,-84,x\n")
    proc = subprocess.run([sys.executable, "-m", "territory_opt.cli", "run", str(tiny)],
                          capture_output=True, text=True, cwd=tiny.parent)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "error:" in proc.stderr and "column 'workload': row 2 hold text" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "territory_opt.cli", "run", str(tiny), "-v"],
                          capture_output=True, text=True, cwd=tiny.parent)
    assert proc.returncode == 2 and "Traceback" in proc.stderr


def test_infeasible_exits_three(tiny, capsys):
    tiny.write_text(TINY.replace("workload: 0.0", "workload: 0.0, accounts: 0.0")
                    .replace("accounts: {path: accounts.csv}",
                             "accounts: {path: accounts.csv}\nlocks: {A0: R1, A5: R1, A4: R1, A3: R1}"))
    assert main(["run", str(tiny), "--out", str(tiny.parent / "o")]) == 3
    assert "locked units carry" in capsys.readouterr().err
    assert not (tiny.parent / "o").exists()


def test_unknown_scenario_key_suggests_the_right_one(tiny):
    tiny.write_text(TINY.replace("balance:", "balnce:"))
    with pytest.raises(topt.InputError, match=r"unknown key 'balnce'; did you mean 'balance'\?"):
        topt.load_scenario(tiny)
    tiny.write_text(TINY.replace("solver: {time_limit: 30}", "solver: {time_limt: 30}"))
    with pytest.raises(topt.InputError, match=r"'solver.time_limt'; did you mean 'time_limit'"):
        topt.load_scenario(tiny)


def test_yaml_syntax_error_names_the_line(tiny):
    tiny.write_text(TINY.replace("reps: {path: reps.csv}", "reps: {path: reps.csv"))
    with pytest.raises(topt.InputError, match=r"not valid YAML at line \d+"):
        topt.load_scenario(tiny)


def test_wrong_value_type(tiny):
    tiny.write_text(TINY.replace("time_limit: 30", "time_limit: soon"))
    with pytest.raises(topt.InputError, match=r"key 'solver.time_limit'.*'soon'"):
        topt.load_scenario(tiny)


# ------------------------------------------------------------------ outputs


def test_outputs_replace_a_previous_run_whole(tmp_path):
    out = tmp_path / "run"
    topt.write_outputs(out, {"a.txt": "one", "manifest.json": {"v": 1}})
    topt.write_outputs(out, {"b.txt": "two", "manifest.json": {"v": 2}})
    assert sorted(p.name for p in out.iterdir()) == ["b.txt", "manifest.json"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_failed_write_keeps_the_previous_run(tmp_path):
    out = tmp_path / "run"
    topt.write_outputs(out, {"a.txt": "one", "manifest.json": {"v": 1}})
    with pytest.raises(TypeError):
        topt.write_outputs(out, {"b.txt": "two", "bad.csv": object()})
    assert (out / "a.txt").read_text() == "one" and not (out / "b.txt").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_folder_of_user_files_is_never_replaced(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.docx").write_text("precious")
    with pytest.raises(topt.InputError, match="not a territory_opt run"):
        topt.write_outputs(tmp_path / "mine", {"a.txt": "x"})
    assert (tmp_path / "mine" / "thesis.docx").read_text() == "precious"


def test_output_path_that_is_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(topt.InputError, match="is a file"):
        topt.write_outputs(tmp_path / "f", {"a.txt": "x"})


def test_output_names_cannot_escape_the_folder(tmp_path):
    with pytest.raises(ValueError, match="must not contain folders"):
        topt.write_outputs(tmp_path / "o", {"../evil.txt": "x"})


def test_compare_runs_side_by_side(tiny, tmp_path, capsys):
    """Moving R1's base next to A0 moves accounts; compare counts them and maps them."""
    first, second = tmp_path / "a", tmp_path / "b"
    assert main(["run", str(tiny), "--out", str(first), "-q"]) == 0
    reps = pd.read_csv(tmp_path / "reps.csv")
    reps["lon"] = [-83.95, -84.0]  # the two bases swap places
    reps.to_csv(tmp_path / "reps.csv", index=False)
    assert main(["run", str(tiny), "--out", str(second), "-q"]) == 0
    capsys.readouterr()
    assert main(["compare", str(first), str(second), "--out", str(tmp_path / "cmp")]) == 0
    printed = capsys.readouterr().out
    assert "accounts moved vs" in printed and "coverage ratio" in printed
    figures = pd.read_csv(tmp_path / "cmp" / "comparison.csv").set_index("figure")
    moved = figures.loc[f"accounts moved vs {first}"]
    assert list(moved.astype(int)) == [0, 6]  # every account changes owner
    owners = pd.read_csv(tmp_path / "cmp" / "owners.csv")
    assert owners["changed"].all() and len(owners) == 6
    page = (tmp_path / "cmp" / "change_map.html").read_text()
    assert "Moved (6 accounts)" in page and "https://cdn" not in page
    assert "L.map(" in page  # Leaflet inlined, map built


def test_compare_refuses_a_folder_that_is_no_run(tiny, tmp_path, capsys):
    out = tmp_path / "a"
    assert main(["run", str(tiny), "--out", str(out), "-q"]) == 0
    assert main(["compare", str(out), str(tmp_path)]) == 2
    assert "is not a territory_opt run (no manifest.json)" in capsys.readouterr().err
