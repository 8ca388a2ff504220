"""Scenario sweeps: the grid, and runs on a real Dask LocalCluster that match serial runs."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest
import yaml
from conftest import ROOT

import territory_opt as topt
from territory_opt.cli import main
from territory_opt.sweep import grid, parse_set, sweep, with_overrides

DATA = ROOT / "data" / "georgia"


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """Georgia in 80-120 clusters, fixed reps: each run solves in a second or two."""
    folder = tmp_path_factory.mktemp("sweep")
    path = folder / "small.yaml"
    path.write_text(yaml.safe_dump({
        "name": "small",
        "accounts": {"path": str(DATA / "accounts.csv")},
        "reps": {"path": str(DATA / "reps.csv")},
        "units": {"method": "clusters", "n_units": 80},
        "balance": {"workload": 0.05},
        "contiguity": False,  # proven optima, each in a second or two
        "solver": {"time_limit": 60, "gap": 0.0, "threads": 1},
        "output": "out/small"}))
    return path


def test_parse_set_reads_ranges_lists_and_yaml_scalars():
    assert parse_set("k=10..14") == ("k", [10, 11, 12, 13, 14])
    assert parse_set("balance.workload=0.03,0.05") == ("balance.workload", [0.03, 0.05])
    assert parse_set("contiguity=true,false") == ("contiguity", [True, False])
    assert parse_set("objective.distance=euclidean") == ("objective.distance", ["euclidean"])
    for bad, why in [("k", "KEY=VALUES"), ("k=14..10", "is empty"), ("k=1,,2", "empty value"),
                     ("=3", "KEY=VALUES"), ("a b=1", "not a scenario key")]:
        with pytest.raises(topt.InputError, match=why):
            parse_set(bad)


def test_grid_and_overrides():
    combos = grid([("k", [10, 11]), ("balance.workload", [0.03, 0.05])])
    assert combos == [{"k": 10, "balance.workload": 0.03}, {"k": 10, "balance.workload": 0.05},
                      {"k": 11, "balance.workload": 0.03}, {"k": 11, "balance.workload": 0.05}]
    data = {"name": "x", "balance": {"workload": 0.1, "potential": 0.2}, "contiguity": True}
    out = with_overrides(data, {"balance.workload": 0.03, "contiguity.method": "cuts"})
    assert out["balance"] == {"workload": 0.03, "potential": 0.2}
    assert out["contiguity"] == {"method": "cuts"}
    assert data["balance"]["workload"] == 0.1  # the scenario itself is not changed
    with pytest.raises(topt.InputError, match="twice"):
        grid([("k", [1]), ("k", [2])])
    with pytest.raises(topt.InputError, match="not a mapping"):
        with_overrides({"name": "x"}, {"name.first": 1})


def test_a_bad_variant_is_refused_before_any_run(small, tmp_path):
    with pytest.raises(topt.InputError, match=r"run solver.gap=3.*solver.gap.*less than 1"):
        sweep(small, ["solver.gap=0.05,3"], out=tmp_path / "s", serial=True)
    with pytest.raises(topt.InputError, match="unknown key 'units.n_unit'"):
        sweep(small, ["units.n_unit=80"], out=tmp_path / "s", serial=True)
    assert not (tmp_path / "s").exists()


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_local_cluster_sweep_matches_running_each_scenario_alone(small, tmp_path):
    sets = ["units.n_units=80,120", "balance.workload=0.1,0.05"]
    result = sweep(small, sets, out=tmp_path / "sweep", workers=2, progress=False)
    table = result.table
    assert list(table["run"]) == ["units.n_units=80__balance.workload=0.1",
                                  "units.n_units=80__balance.workload=0.05",
                                  "units.n_units=120__balance.workload=0.1",
                                  "units.n_units=120__balance.workload=0.05"]
    assert (table["status"] == "optimal").all()
    data = yaml.safe_load(small.read_text())
    for row in table.to_dict("records"):
        run = row["run"]
        variant = with_overrides(data, {k: row[k] for k in ("units.n_units",
                                                            "balance.workload")})
        alone = topt.run_scenario(topt.scenario_from_dict(
            variant | {"name": f"small {run}"}, base_dir=small.parent),
            out=tmp_path / "alone" / run, progress=False)
        assert alone.solution.objective == row["objective"]
        for name in ("assignments.csv", "report.csv", "coverage.csv"):
            assert _digest(tmp_path / "sweep" / run / name) == \
                _digest(tmp_path / "alone" / run / name), (run, name)
        assert row["assignments_sha256"] == hashlib.sha256(
            alone.solution.assignments().to_csv(index=False).encode()).hexdigest()
    # a tighter band never costs less; the table and the best runs are on disk
    by = table.set_index("run")["objective"]
    assert by["units.n_units=80__balance.workload=0.05"] >= \
        by["units.n_units=80__balance.workload=0.1"]
    assert pd.read_csv(tmp_path / "sweep" / "sweep.csv")["run"].tolist() == list(table["run"])
    best = pd.read_csv(tmp_path / "sweep" / "best.csv").set_index("criterion")
    assert best.loc["objective", "run"] == by.idxmin()
    assert set(best.columns) >= {"units.n_units", "balance.workload"}
    manifest = json.loads((tmp_path / "sweep" / "manifest.json").read_text())
    assert manifest["runs"] == list(table["run"])


def test_cli_sweep_serial_records_infeasible_runs_and_exits_by_outcome(small, tmp_path,
                                                                      capsys):
    out = tmp_path / "s"
    # 10 clusters for 12 reps: infeasible before any solve
    code = main(["sweep", str(small), "--set", "units.n_units=80,10", "--serial",
                 "--out", str(out)])
    assert code == 0  # one run has a plan
    table = pd.read_csv(out / "sweep.csv")
    assert table["status"].tolist() == ["optimal", "infeasible"]
    assert "only 10 planning units" in table["error"].iloc[1]
    assert {p.name for p in out.iterdir()} == {"units.n_units=80", "sweep.csv", "best.csv",
                                              "manifest.json"}
    printed = capsys.readouterr()
    assert "best run per criterion" in printed.out and "units.n_units=10: " in printed.err
    code = main(["sweep", str(small), "--set", "units.n_units=10", "--serial",
                 "--out", str(tmp_path / "none"), "-q"])
    assert code == 3


def test_a_folder_of_user_files_is_refused_before_the_runs(small, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    seen = []
    with pytest.raises(topt.InputError, match="holds files that are not a territory_opt"):
        sweep(small, ["balance.workload=0.1"], out=mine, serial=True, on_result=seen.append)
    assert seen == [] and [p.name for p in mine.iterdir()] == ["notes.txt"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_sweep_on_an_existing_cluster_by_its_scheduler_address(small, tmp_path):
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        result = sweep(small, ["balance.workload=0.05"], scheduler=cluster.scheduler_address,
                       write=False, progress=False)
        assert len(cluster.scheduler.workers) == 1  # the cluster outlives the sweep
    alone = topt.run_scenario(small, write=False, progress=False)
    assert result.table["objective"].iloc[0] == alone.solution.objective
    assert result.out_dir is None
