"""The planner's workbench: the edit session on the Georgia run, its web app (token,
paths, validation) and the page in Debian's Chromium with every request but
127.0.0.1 blocked. The browser's screenshot goes to ``out/browser/workbench.png``."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import ROOT, grid_problem

import territory_opt as topt
from territory_opt.checks import plan_faults
from territory_opt.workbench import EditSession, open_run
from territory_opt.workbench.app import start


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir())}


def _border_unit(session, *, convex: bool = False) -> tuple[str, str]:
    """A unit touching another territory, and that territory's label (with
    ``convex``: one whose box centre lies inside it, so that a click there hits it)."""
    cols = session.columns
    shapes = session.problem.units.to_crs("EPSG:4326").geometry.to_numpy()
    for u, v in sorted(session.problem.adjacency.edges()):
        for i, j in ((u, v), (v, u)):
            if cols[i] == cols[j] or i in session.fixed:
                continue
            box = shapely.box(*shapes[i].bounds)
            if convex and not shapes[i].buffer(-1e-3).contains(box.centroid):
                continue
            return session.unit_ids[i], str(session.labels[cols[j]])
    raise AssertionError("no unit on a territory border")


@pytest.fixture
def session(georgia_run):
    return open_run(georgia_run.out_dir)


def test_figures_of_the_run_match_its_report(session, georgia_run):
    """Unedited, the live figures are the report's: sums, bands held, coverage."""
    figures = session.figures()
    report = pd.read_csv(georgia_run.out_dir / "report.csv")
    report = report[report["territory"] != "TOTAL"].set_index("territory")
    assert figures["faults"] == [] and figures["changed"] == 0
    assert figures["objective"] == pytest.approx(georgia_run.solution.objective)
    assert figures["gap"] == pytest.approx(georgia_run.solution.gap, abs=1e-9)
    for row in figures["territories"]:
        assert row["metrics"]["workload"]["value"] == pytest.approx(
            report.loc[row["territory"], "workload"])
        assert row["metrics"]["workload"]["held"]
        assert row["accounts"] == report.loc[row["territory"], "accounts"]
    coverage = pd.read_csv(georgia_run.out_dir / "coverage.csv").set_index("territory")
    for row in figures["territories"]:
        assert row["coverage"] == pytest.approx(coverage.loc[row["territory"],
                                                             "potential_coverage"])


def test_edits_undo_redo_and_their_errors(session):
    unit, other = _border_unit(session)
    start = session.columns.copy()
    assert session.assign([unit], other) == 1
    i = session.unit_ids.index(unit)
    assert session.labels[session.columns[i]] == other
    figures = session.figures()
    assert figures["changed_units"] == 1 and figures["can_undo"]
    row = {r["territory"]: r for r in figures["territories"]}[other]
    assert row["changed"] == session.accounts[i]
    assert session.assign([unit], other) == 0  # already there: no edit
    assert session.undo() and (session.columns == start).all()
    assert session.redo() and session.labels[session.columns[i]] == other
    assert not session.redo()
    session.lock([unit])
    with pytest.raises(topt.InputError, match=f"unit '{unit}' is locked; unlock it first"):
        session.assign([unit], session.labels[0])
    with pytest.raises(topt.InputError, match="not a unit of this plan"):
        session.assign(["no-such-unit"], other)
    with pytest.raises(topt.InputError, match="neither a territory label nor a rep id"):
        session.assign([session.unit_ids[0]], "T99")
    with pytest.raises(topt.InputError, match="select one or more units"):
        session.assign([], other)
    assert session.undo()  # the lock
    assert session.assign([unit], session.labels[start[i]]) == 1
    assert [e["action"] for e in session.log] == ["assign", "undo assign", "redo assign",
                                                   "lock", "undo lock", "assign"]


def test_a_disconnected_territory_is_flagged(session):
    """Move a unit into a territory it does not touch: two pieces."""
    graph = session.problem.adjacency
    cols = session.columns
    i = next(i for i in range(len(cols))
             if all(cols[j] != 0 for j in graph[i]) and cols[i] != 0)
    before = {r["territory"]: r["pieces"] for r in session.figures()["territories"]}
    session.assign([session.unit_ids[i]], session.labels[0])
    after = {r["territory"]: r["pieces"] for r in session.figures()["territories"]}
    assert after[session.labels[0]] == before[session.labels[0]] + 1


def _touching(session, t: int) -> str:
    """A unit outside territory t that touches it (and is not locked)."""
    cols = session.columns
    for u, v in sorted(session.problem.adjacency.edges()):
        for i, j in ((u, v), (v, u)):
            if cols[i] != t and cols[j] == t and i not in session.fixed:
                return session.unit_ids[i]
    raise AssertionError(f"nothing touches territory {t}")


def test_rebalance_keeps_edits_and_locks_and_restores_the_bands(session):
    # grow a territory by hand until its workload band breaks
    cols = session.columns
    unit, other = _border_unit(session)
    t = session.territory(other)
    session.assign([unit], other)
    while session.figures()["territories"][t]["metrics"]["workload"]["held"]:
        session.assign([_touching(session, t)], other)
    faults = session.figures()["faults"]
    assert any("workload band" in f for f in faults)
    edited = np.flatnonzero(cols != session.baseline)
    keep = next(i for i in range(len(cols)) if i not in set(edited))
    session.lock([session.unit_ids[keep]])
    plan = cols.copy()
    proposal = session.rebalance(time_limit=60)
    assert proposal.faults == [] and len(proposal.changes)
    assert (proposal.columns[edited] == plan[edited]).all()  # the edits stay
    assert proposal.columns[keep] == plan[keep]  # and the lock
    assert (session.columns == plan).all()  # nothing changes before accept
    assert session.accept() == len(proposal.changes)
    assert session.figures()["faults"] == []
    assert plan_faults(session.problem, session.columns) == []
    assert session.undo() and (session.columns == plan).all()


def test_rebalance_of_a_large_plan_re_solves_only_around_the_fault(session, monkeypatch):
    """Above WHOLE_UNITS units: the territories at fault and their neighbours only;
    every other territory stays as it was, and the plan holds every rule."""
    from territory_opt.workbench import session as module

    monkeypatch.setattr(module, "WHOLE_UNITS", 100)
    unit, other = _border_unit(session)
    t = session.territory(other)
    session.assign([unit], other)
    while session.figures()["territories"][t]["metrics"]["workload"]["held"]:
        session.assign([_touching(session, t)], other)
    plan = session.columns.copy()
    proposal = session.rebalance(time_limit=60)
    assert proposal.scope.split(":")[0].endswith("territories")
    touched = {session.territory(x) for x in proposal.scope.split(": ")[1].split(", ")}
    assert t in touched and len(touched) < len(session.labels)
    outside = ~np.isin(plan, sorted(touched))
    assert (proposal.columns[outside] == plan[outside]).all()
    assert proposal.faults == [] and len(proposal.changes)
    edited = np.flatnonzero(plan != session.baseline)
    assert (proposal.columns[edited] == plan[edited]).all()


def test_save_writes_a_new_run_and_leaves_the_original(session, georgia_run, tmp_path):
    source = georgia_run.out_dir
    before = _digest(source)
    unit, other = _border_unit(session)
    session.assign([unit], other)
    session.lock([unit])
    with pytest.raises(topt.InputError, match="is the run being edited"):
        session.save(source)
    out = session.save(tmp_path / "edited")
    assert _digest(source) == before
    names = {p.name for p in out.iterdir()}
    assert set(before) | {"edits.csv"} == names
    assign = pd.read_csv(out / "assignments.csv", dtype=str)
    accounts = pd.read_csv(ROOT / "data" / "georgia" / "accounts.csv", dtype=str)
    assert sorted(assign["account_id"]) == sorted(accounts["account_id"])  # each once
    moved = assign[assign["unit_id"] == unit]
    assert (moved["territory"] == other).all()
    edits = pd.read_csv(out / "edits.csv", dtype=str)
    assert set(edits["unit_id"]) == {unit} and (edits["how"] == "by hand").all()
    assert (edits["locked"] == "True").all()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "edited"
    assert manifest["edited"]["edited_from"] == str(source.absolute())
    assert [e["action"] for e in manifest["edited"]["edits"]] == ["assign", "lock"]
    assert manifest["edited"]["locks"] == [unit]
    assert manifest["objective"] == pytest.approx(session.problem.objective_of(
        session.columns))
    report = pd.read_csv(out / "report.csv")
    assert "workload_pct_target" in report or "workload" in report  # bands reported
    # the saved folder opens again as a run, with the edit in its plan
    again = open_run(out)
    assert (again.columns == session.columns).all()


def test_a_plan_with_model_centres_is_refused():
    units = grid_problem([(float(x), 0.0) for x in range(6)], [(0, 0), (5, 0)]).units
    problem = topt.TerritoryProblem(units, k=2, centres="model", balance={"workload": 0.5})
    with pytest.raises(topt.InputError, match="model-chosen centres: give the reps"):
        EditSession(topt.solve(problem))


def test_solution_edit_serves_the_plan_and_edits_it(georgia_run):
    """From a notebook: the app on a solved plan, the edits through its session."""
    bench = georgia_run.solution.edit()
    try:
        status, page = _get(bench.url)
        assert status == 200 and "Workbench" in page
        unit, other = _border_unit(bench.session)
        status, text = _get(f"http://{bench.host}:{bench.port}/api/assign",
                            data={"units": [unit], "territory": other}, token=bench.token)
        assert status == 200 and json.loads(text)["moved"] == 1
        edited = bench.session.solution()
        assert edited.status == "edited"
        assert edited.territory_labels()[edited.problem.unit_ids.index(unit)] == other
    finally:
        bench.stop()


def test_open_run_errors_name_the_fix(georgia_run, tmp_path):
    with pytest.raises(topt.InputError, match="no manifest.json"):
        open_run(tmp_path)
    copy = tmp_path / "run"
    shutil.copytree(georgia_run.out_dir, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    changed = tmp_path / "accounts.csv"
    changed.write_text((ROOT / "data" / "georgia" / "accounts.csv").read_text() + "\n")
    manifest["inputs"][0]["path"] = str(changed)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(topt.InputError, match="changed since this run; run the scenario again"):
        open_run(copy)
    manifest["teams"] = {"hospital": {}}
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(topt.InputError, match="one plan per team"):
        open_run(copy)


# ------------------------------------------------------------------ the web app


@pytest.fixture(scope="module")
def bench(georgia_run, tmp_path_factory):
    """The app on the Georgia run; saves go to a folder of the test's own."""
    wb = start(open_run(georgia_run.out_dir),
               save_to=tmp_path_factory.mktemp("saved") / "edited")
    yield wb
    wb.stop()


def _get(url: str, *, data: object = None, token: str | None = None) -> tuple[int, str]:
    headers = {"Content-Type": "application/json"} | ({"X-Token": token} if token else {})
    body = None if data is None else (data if isinstance(data, bytes)
                                      else json.dumps(data).encode())
    req = urllib.request.Request(url, data=body, headers=headers,
                                 method="GET" if body is None else "POST")
    try:
        with urllib.request.urlopen(req, timeout=60) as res:
            return res.status, res.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_the_edit_command_prints_the_address_and_stops_on_ctrl_c(georgia_run):
    """territory-opt edit RUN_DIR --no-browser: one line with the address (it serves
    the page), Ctrl-C stops it with exit code 0 and says nothing was saved."""
    proc = subprocess.Popen([sys.executable, "-m", "territory_opt.cli", "edit",
                             str(georgia_run.out_dir), "--no-browser"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/\?token=\S+", line).group(0)
        status, page = _get(url)
        assert status == 200 and "Workbench" in page
        assert _get(url.split("?")[0])[0] == 403
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped; nothing saved" in out


def test_requests_without_the_token_are_refused(bench):
    base = f"http://{bench.host}:{bench.port}"
    assert _get(base + "/")[0] == 403
    assert _get(base + "/api/state")[0] == 403
    assert _get(base + "/api/state?token=wrong")[0] == 403
    assert _get(base + "/api/assign", data={"units": ["x"], "territory": "T01"})[0] == 403
    status, page = _get(bench.url)
    assert status == 200 and "Workbench" in page
    assert not re.findall(r'<(?:script|link|img)[^>]+(?:src|href)="(?:https?:)?//', page)
    assert _get(base + "/api/state", token=bench.token)[0] == 200


def test_only_files_of_the_run_folder_are_served(bench):
    base = f"http://{bench.host}:{bench.port}/files/"
    token = f"?token={bench.token}"
    status, text = _get(base + "manifest.json" + token)
    assert status == 200 and json.loads(text)["scenario"]["name"] == "georgia"
    for outside in ("../manifest.json", "..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd",
                    "../../../../../../etc/passwd", "nothing-here.csv"):
        assert _get(base + outside + token)[0] == 404, outside


def test_inputs_are_validated(bench):
    api = f"http://{bench.host}:{bench.port}/api/"
    status, text = _get(api + "assign", data={"units": "A1", "territory": "T01"},
                        token=bench.token)
    assert status == 422 and "units" in json.loads(text)["error"]
    status, text = _get(api + "assign", data={"units": ["A1"], "territory": "T01", "x": 1},
                        token=bench.token)
    assert status == 422 and "x" in json.loads(text)["error"]
    status, text = _get(api + "assign", data=b"{not json", token=bench.token)
    assert status == 422
    status, text = _get(api + "assign", data={"units": ["no-such"], "territory": "T01"},
                        token=bench.token)
    assert status == 400 and "not a unit of this plan" in json.loads(text)["error"]
    status, text = _get(api + "rebalance", data={"time_limit": -1}, token=bench.token)
    assert status == 422 and "time_limit" in json.loads(text)["error"]


# ------------------------------------------------------------------ in the browser


def _units_that_break_a_band(run) -> tuple[list[str], str]:
    """Units touching one territory whose move into it breaks its workload band
    (each clickable at its box centre), found on a session of their own."""
    trial = open_run(run.out_dir)
    shapes = trial.problem.units.to_crs("EPSG:4326").geometry.to_numpy()
    graph = trial.problem.adjacency
    for t in range(len(trial.labels)):
        chosen: list[str] = []
        for _ in range(12):
            cols = trial.columns
            near = sorted({i for u in np.flatnonzero(cols == t) for i in graph[u]
                           if cols[i] != t and i not in trial.fixed
                           and shapes[i].buffer(-1e-3).contains(
                               shapely.box(*shapes[i].bounds).centroid)})
            if not near:
                break
            trial.assign([trial.unit_ids[near[0]]], trial.labels[t])
            chosen.append(trial.unit_ids[near[0]])
            if not trial.figures()["territories"][t]["metrics"]["workload"]["held"]:
                return chosen, str(trial.labels[t])
        for _ in chosen:
            trial.undo()
    raise AssertionError("no territory's band breaks by a few clickable units")



def test_edit_rebalance_undo_save_in_the_browser(browser, georgia_run, tmp_path):
    """Click a unit, move it, see the chart change, lock it, rebalance and accept,
    undo, save: in Chromium, every request but 127.0.0.1 blocked."""
    session = open_run(georgia_run.out_dir)
    bench = start(session, save_to=tmp_path / "edited")
    # bypass_csp: the page forbids eval, which Playwright's waits use
    context = browser.new_context(viewport={"width": 1400, "height": 900}, bypass_csp=True)
    blocked: list[str] = []

    def local_only(route):
        if route.request.url.startswith(f"http://127.0.0.1:{bench.port}/"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context.route("**/*", local_only)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    try:
        page.goto(bench.url)
        page.wait_for_selector("body[data-ready='1']")
        units, other = _units_that_break_a_band(georgia_run)
        unit = units[0]
        t_other = session.territory(other)
        bar = f".bar-row[data-territory='{other}'][data-metric='workload'] .value"
        before = page.inner_text(bar)

        page.click(f"path[data-unit='{unit}']")
        for more in units[1:]:
            page.click(f"path[data-unit='{more}']", modifiers=["Shift"])
        plural = "unit" if len(units) == 1 else "units"
        assert page.inner_text("#selected") == f"{len(units)} {plural} selected"
        page.select_option("#picker", str(t_other))
        page.click("#assign")
        page.wait_for_function(f"document.querySelector(\"{bar}\").textContent !== '{before}'")
        assert page.inner_text("#message") == f"moved {len(units)} {plural}"
        assert page.locator(f"{bar}.bad").count() == 1  # out of its band: red
        assert {session.labels[session.columns[session.unit_ids.index(u)]]
                for u in units} == {other}

        page.keyboard.press("l")  # lock them
        page.wait_for_function("document.querySelector('#message').textContent"
                               f" === 'locked {len(units)}'")
        dash = page.get_attribute(f"path[data-unit='{unit}']", "stroke-dasharray")
        assert dash  # locked units are outlined dashed

        page.click("#rebalance")
        page.wait_for_selector("#proposal:not([hidden])", timeout=120_000)
        text = page.inner_text("#proposal-text")
        assert "would move" in text
        page.click("#accept")
        page.wait_for_function("document.querySelector('#message').textContent"
                               ".startsWith('accepted')")
        assert session.figures()["faults"] == []
        i = session.unit_ids.index(unit)
        assert session.labels[session.columns[i]] == other and i in session.locks
        assert page.locator(f"{bar}.bad").count() == 0

        page.keyboard.press("Control+z")  # takes back the rebalance
        page.wait_for_function("document.querySelector('#message').textContent === 'undone'")
        assert session.done[-1].action == "lock"

        page.click("#save")
        page.wait_for_function("document.querySelector('#message').textContent"
                               ".startsWith('saved to')", timeout=120_000)
        shots = ROOT / "out" / "browser"
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / "workbench.png"))
    finally:
        context.close()
        bench.stop()
    out = tmp_path / "edited"
    assign = pd.read_csv(out / "assignments.csv", dtype=str)
    assert (assign.loc[assign["unit_id"].isin(units), "territory"] == other).all()
    assert assign["account_id"].is_unique
    manifest = json.loads((out / "manifest.json").read_text())
    assert [e["action"] for e in manifest["edited"]["edits"]] == [
        "assign", "lock", "rebalance", "undo rebalance"]
    assert problems == [] and blocked == []
