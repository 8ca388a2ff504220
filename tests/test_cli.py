"""The command line, scenario files, and all-or-nothing outputs."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest
from conftest import ROOT

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
    printed = capsys.readouterr().out
    assert "tiny: optimal" in printed
    assert f"({manifest['bound_from']})" in printed  # the console says whose bound


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
    assert "error:" in proc.stderr and "column 'workload': row 2 (account 'A0') hold text" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "territory_opt.cli", "run", str(tiny), "-v"],
                          capture_output=True, text=True, cwd=tiny.parent)
    assert proc.returncode == 2 and "Traceback" in proc.stderr


def test_infeasible_exits_three(tiny, capsys):
    tiny.write_text(TINY.replace("workload: 0.0", "workload: 0.0, accounts: 0.0")
                    .replace("accounts: {path: accounts.csv}",
                             "accounts: {path: accounts.csv}\n"
                             "locks: {A0: R1, A5: R1, A4: R1, A3: R1}"))
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


# ---------------------------------------------------------------- validate, init, help


def test_validate_a_good_scenario(capsys):
    assert main(["validate", str(ROOT / "scenarios" / "georgia.yaml")]) == 0
    assert "OK: 949 accounts in 949 units, 12 territories" in capsys.readouterr().out


def test_validate_lists_every_problem_at_once(tiny, capsys):
    (tiny.parent / "accounts.csv").write_text("account_id,lat,lon,visits\nA0,33,-84,1\n")
    (tiny.parent / "reps.csv").write_text("rep,lat,lon\nR0,33,-84\n")
    mine = tiny.parent / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("my own file")
    code = main(["validate", str(tiny), "--out", str(mine)])
    err = capsys.readouterr().err
    assert code == 2
    assert "3 problems" in err
    assert "1. accounts: " in err and "no column 'workload'" in err
    assert "2. reps: " in err and "no column 'rep_id'" in err
    assert "3. output folder" in err
    assert (mine / "notes.txt").read_text() == "my own file"  # validate writes nothing


def test_validate_lists_scenario_key_problems_one_per_line(tiny, capsys):
    tiny.write_text(TINY.replace("solver: {time_limit: 30}",
                                 "solver: {time_limit: 30, gap: 3}\nbalanse: {}"))
    assert main(["validate", str(tiny)]) == 2
    err = capsys.readouterr().err
    assert "2 problems" in err and "did you mean 'balance'" in err and "solver.gap" in err


def test_validate_says_infeasible_with_exit_3(tiny, capsys):
    tiny.write_text(TINY.replace("reps: {path: reps.csv}", "reps: {path: reps.csv}\n"
                                 "locks: {A0: R0, A1: R0, A2: R0, A3: R0}"))
    assert main(["validate", str(tiny)]) == 3
    err = capsys.readouterr().err
    assert "infeasible: territory" in err and "locked units carry" in err


def test_init_writes_a_scenario_that_validates_and_runs(tmp_path, capsys):
    data = ROOT / "data" / "georgia"
    target = tmp_path / "plans" / "crm.yaml"
    assert main(["init", str(target), "--accounts", str(data / "crm_export.csv"),
                 "--reps", str(data / "reps.csv")]) == 0
    text = target.read_text()
    assert "zip: Billing Zip/Postal Code" in text and "id: Account ID" in text
    assert "workload: Visit Hours" in text and "unplaced: drop" in text
    assert "path: ../../../" in text  # relative to the scenario file's folder
    text = text.replace("method: auto", "method: clusters\n  n_units: 100")
    target.write_text(text.replace("gap: 0.001", "gap: 0.01"))
    assert main(["validate", str(target)]) == 0
    assert "4 accounts left out" in capsys.readouterr().out
    with warnings.catch_warnings():  # as outside pytest: shown, not raised
        warnings.simplefilter("default", topt.TerritoryOptWarning)
        assert main(["run", str(target)]) == 0  # the CLI prints each warning as one line
    printed = capsys.readouterr()
    assert "warning: 'crm_export.csv', column 'Billing Zip/Postal Code': 4 of 949 accounts " \
        "could not be placed" in printed.err.replace(str(data) + "/", "")
    assert ".py:" not in printed.err
    assert "4 accounts could not be placed by ZIP code" in printed.out
    out = target.parent / "out" / "crm"
    assert len(pd.read_csv(out / "unplaced_accounts.csv")) == 4
    assert main(["init", str(target), "--accounts", str(data / "accounts.csv")]) == 2
    assert "exists" in capsys.readouterr().err


def test_init_without_files_writes_a_template_with_todos(tmp_path, capsys):
    target = tmp_path / "blank.yaml"
    assert main(["init", str(target)]) == 0
    assert "TODO" in target.read_text()
    assert main(["validate", str(target)]) == 2
    assert "TODO.csv' does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["run", "validate", "init", "compare", "sweep", "size"])
def test_every_command_has_examples_and_exit_codes_in_its_help(command, capsys):
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert "examples:" in text and f"territory-opt {command}" in text
    assert "130  interrupted" in text and "3    infeasible" in text


# ---------------------------------------------------------------- notebook-facing objects


def test_progress_bars_only_where_someone_watches(tiny, capsys, monkeypatch):
    from territory_opt.progress import ENV, progress_enabled

    monkeypatch.delenv(ENV, raising=False)
    assert not progress_enabled()  # pytest captures stderr: not a terminal
    monkeypatch.setenv(ENV, "1")
    assert progress_enabled() and not progress_enabled(False)
    monkeypatch.setenv(ENV, "0")
    assert not progress_enabled() and progress_enabled(True)
    monkeypatch.delenv(ENV)
    topt.run_scenario(tiny, write=False)
    assert capsys.readouterr().err == ""
    topt.run_scenario(tiny, write=False, progress=True)
    err = capsys.readouterr().err
    assert "tiny" in err and "4/4" in err


def test_solution_shows_itself_in_jupyter(tiny):
    sol = topt.run_scenario(tiny, write=False).solution
    page = sol._repr_html_()
    assert "<b>optimal</b>: objective" in page and "gap 0.0000%" in page
    assert "Ann &lt;b&gt;" in page and "Ann <b>" not in page  # names are escaped
    assert page.count("<tr") == len(sol.summary()) + 1
