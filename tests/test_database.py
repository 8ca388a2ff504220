"""Reading from and writing to a real PostgreSQL/PostGIS server (no mock database).

A throwaway cluster (the ``cluster`` fixture of conftest.py, tests/pgcluster.py)
holds the Georgia demo tables. Without the server binaries these tests skip, saying
why; CI installs them (.ci/install-postgis) and sets REQUIRE_POSTGRES=1, which turns
a skip into a failure.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pandas as pd
import pgcluster
import pytest

import territory_opt as topt
from territory_opt.errors import InputError, TerritoryOptWarning
from territory_opt.scenario.run import check_scenario
from territory_opt.scenario.schema import load_scenario, scenario_from_dict

sqlalchemy = pytest.importorskip("sqlalchemy")

ROOT = Path(__file__).resolve().parent.parent
COMPARED = ("assignments.csv", "crm_assignments.csv", "report.csv", "coverage.csv",
            "regions.csv", "forecast.csv", "white_space.csv", "quality.csv")


def engine_of(server, database: str = "crm", **kwargs):
    url = server.url(database, **kwargs).replace("postgresql://", "postgresql+psycopg://")
    return sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)


@pytest.fixture
def env(cluster, monkeypatch):
    """The scenario's connections named by environment variables, the password in
    PGPASSWORD (as the README advises), not in the URLs."""
    monkeypatch.setenv("TERRITORY_OPT_DB_CRM", cluster.url("crm", password=None))
    monkeypatch.setenv("TERRITORY_OPT_DB_WAREHOUSE", cluster.url("warehouse", password=None))
    monkeypatch.setenv("PGPASSWORD", pgcluster.PASSWORD)
    return cluster


def sql(server, text: str, database: str = "crm"):
    with engine_of(server, database).begin() as conn:
        result = conn.exec_driver_sql(text)
        return result.fetchall() if result.returns_rows else None


def scenario(tmp_path: Path, **changes) -> Path:
    """scenarios/georgia_postgis.yaml with ``changes`` (None drops a key), written into
    ``tmp_path`` with absolute paths; a quick plain solve unless changed."""
    import yaml

    data = yaml.safe_load((ROOT / "scenarios" / "georgia_postgis.yaml").read_text())
    data |= {"contiguity": False, "solver": {"time_limit": 30, "gap": 0.01},
             "output": {"path": str(tmp_path / "out"), "database": "warehouse",
                        "schema": "territories"}}
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


# ------------------------------------------------------------------ the same plan


def test_database_scenario_gives_the_file_scenarios_plan(env, georgia_run, tmp_path):
    """scenarios/georgia_postgis.yaml (accounts, counties, reps, deals from the
    database) writes byte for byte the plan of scenarios/georgia.yaml, and the same
    tables into the warehouse, with the latest-run views on them."""
    result = topt.run_scenario(ROOT / "scenarios" / "georgia_postgis.yaml",
                               out=tmp_path / "db")
    for name in COMPARED:
        assert (tmp_path / "db" / name).read_bytes() == \
            (georgia_run.out_dir / name).read_bytes(), name
    inputs = {i["role"]: i for i in result.manifest["inputs"]}
    assert inputs["accounts"]["database"] == "crm" and inputs["accounts"]["rows"] == 949
    assert inputs["accounts"]["sql"].strip() == "select * from accounts"
    assert len(inputs["accounts"]["sha256"]) == 64 and inputs["accounts"]["srid"] == 4326
    assert inputs["potential"] | {"sha256": ""} == {
        "role": "potential", "database": "crm", "table": "counties", "rows": 159,
        "sha256": "", "srid": 26716}
    assert "srid" not in inputs["reps"] and inputs["reps"]["rows"] == 12
    record = result.manifest["database"]
    assert record["database"] == "warehouse" and record["schema"] == "territories"
    run = record["run_id"]
    view = pd.read_sql("select * from territories.georgia_postgis_assignments",
                       engine_of(env, "warehouse"))
    written = pd.read_csv(tmp_path / "db" / "assignments.csv", dtype=str,
                          keep_default_na=False)
    pd.testing.assert_frame_equal(view.astype(str), written)
    rows = sql(env, "select run_id, status, tables, manifest->>'status' from "
                    "territories.runs", "warehouse")
    assert rows == [(run, "optimal", [f"{run}_{k}" for k in
                                      ("assignments", "crm_assignments", "report",
                                       "territories")], "optimal")]
    assert sql(env, "select run_id from territories.georgia_postgis_run",
               "warehouse") == [(run,)]
    shapes = sql(env, "select count(*), min(ST_SRID(geometry)), bool_and(ST_IsValid(geometry)) "
                      "from territories.georgia_postgis_territories", "warehouse")
    assert shapes == [(12, 4326, True)]
    stored = json.loads((tmp_path / "db" / "manifest.json").read_text())
    assert stored["database"] == record


def test_no_credential_in_any_output(cluster, monkeypatch, tmp_path, caplog):
    """With the password inside the URLs (the worst case), no output file, no table
    the run writes and no log line holds the password or the URL."""
    monkeypatch.setenv("TERRITORY_OPT_DB_CRM", cluster.url("crm"))
    monkeypatch.setenv("TERRITORY_OPT_DB_WAREHOUSE", cluster.url("warehouse"))
    caplog.set_level("DEBUG")
    result = topt.run_scenario(scenario(
        tmp_path, name="secret_check", alignment={"database": "crm", "table": "alignment"},
        locks={"database": "crm", "sql": "select account_id, rep_id from alignment where "
                                         "account_id in ('A30002', 'A30003')"}))
    inputs = {i["role"]: i for i in result.manifest["inputs"]}
    assert inputs["alignment"]["rows"] == 949 and inputs["locks"]["rows"] == 2
    owners = result.solution.assignments().set_index("account_id")["rep_id"]
    assert owners["A30002"] == "R01" and owners["A30003"] == "R03"  # the locks hold
    secrets = [pgcluster.PASSWORD, cluster.url("crm"), f"127.0.0.1:{cluster.port}"]
    for path in result.out_dir.iterdir():
        blobs = [path.read_bytes()]
        if path.suffix in {".xlsx", ".zip"}:
            with zipfile.ZipFile(path) as book:
                blobs += [book.read(n) for n in book.namelist()]
        for blob in blobs:
            for secret in secrets:
                assert secret.encode() not in blob, (path.name, secret)
    stored = sql(cluster, "select manifest::text from territories.runs where scenario = "
                          "'secret_check'", "warehouse")[0][0]
    assert all(s not in stored for s in secrets)
    assert all(s not in caplog.text for s in secrets)


# -------------------------------------------------------------- all or nothing


KILLED_WRITER = """
import os, sys, time
import territory_opt as topt
from territory_opt.io import sink

views = sink._point_views

def stall(*args, **kwargs):  # the run's tables are written; the commit is still ahead
    views(*args, **kwargs)
    print("ready", flush=True)
    time.sleep(120)

sink._point_views = stall
topt.run_scenario(sys.argv[1], progress=False)
"""


def test_killed_writer_leaves_the_previous_run_untouched(env, tmp_path):
    """A writer killed inside its transaction (tables and views already written)
    leaves the runs table, the earlier run's tables and the views as they were, and
    writes no files."""
    first = topt.run_scenario(scenario(tmp_path / "a", name="interrupted"))
    before = first.manifest["database"]["run_id"]
    view_before = sql(env, "select * from territories.interrupted_assignments", "warehouse")
    again = scenario(tmp_path / "b", name="interrupted")
    with subprocess.Popen([sys.executable, "-c", textwrap.dedent(KILLED_WRITER), str(again)],
                          stdout=subprocess.PIPE, text=True,
                          env=os.environ | {"PYTHONPATH": str(ROOT)}) as child:
        try:
            assert child.stdout is not None
            line = child.stdout.readline()  # blocks until the tables are in the transaction
            assert line.strip() == "ready", line
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
        finally:
            if child.poll() is None:
                child.kill()
    deadline = time.monotonic() + 30
    while True:  # the server rolls back once it sees the dead connection
        try:
            with engine_of(env, "warehouse").connect() as conn:
                conn.exec_driver_sql("SET lock_timeout = '2s'")
                runs = conn.exec_driver_sql("select run_id from territories.runs where "
                                            "scenario = 'interrupted'").fetchall()
            break
        except sqlalchemy.exc.OperationalError:
            assert time.monotonic() < deadline
    assert runs == [(before,)]
    tables = sql(env, "select table_name from information_schema.tables where "
                      "table_schema = 'territories' and table_name like 'interrupted%%' "
                      "order by 1", "warehouse")
    assert [t for (t,) in tables if not t.startswith(before)] == \
        ["interrupted_assignments", "interrupted_crm_assignments", "interrupted_report",
         "interrupted_run", "interrupted_territories"]  # the views, still there
    assert sql(env, "select * from territories.interrupted_assignments",
               "warehouse") == view_before
    assert not (tmp_path / "b" / "out").exists()


def test_failed_file_write_rolls_the_database_back(env, tmp_path):
    """The files are written inside the transaction: when they cannot be written
    (the folder holds files of the user's own) nothing reaches the database."""
    path = scenario(tmp_path, name="refused_folder")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.txt").write_text("not a run")
    with pytest.raises(InputError, match="not a territory_opt run"):
        topt.run_scenario(path)
    assert sql(env, "select count(*) from territories.runs where scenario = "
                    "'refused_folder'", "warehouse") == [(0,)]
    assert (tmp_path / "out" / "mine.txt").read_text() == "not a run"


# --------------------------------------------------------------- connections


def test_named_connection_from_a_service_and_pgpass(cluster, monkeypatch, tmp_path):
    """Without TERRITORY_OPT_DB_CRM the name is a libpq service; the password comes
    from a pgpass file; neither is in the scenario."""
    monkeypatch.delenv("TERRITORY_OPT_DB_CRM", raising=False)
    monkeypatch.delenv("PGPASSWORD", raising=False)
    services = tmp_path / "pg_service.conf"
    services.write_text(f"[crm]\nhost=127.0.0.1\nport={cluster.port}\ndbname=crm\n"
                        f"user={pgcluster.USER}\n")
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"127.0.0.1:{cluster.port}:*:{pgcluster.USER}:{pgcluster.PASSWORD}\n")
    pgpass.chmod(0o600)
    monkeypatch.setenv("PGSERVICEFILE", str(services))
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    source = topt.io.DatabaseSource(topt.io.connect("crm"), table="reps", database="crm")
    reps = topt.read_reps(source)
    assert len(reps) == 12 and reps.crs == "EPSG:4326"


def test_connection_problems_name_the_fix(cluster, monkeypatch):
    monkeypatch.delenv("PGPASSWORD", raising=False)
    wrong = topt.io.DatabaseSource(engine_of(cluster, password="nope"), table="accounts",
                                   database="crm")
    with pytest.raises(InputError, match=r"password authentication failed.*~/.pgpass"):
        topt.read_accounts(wrong)
    closed = sqlalchemy.create_engine("postgresql+psycopg://planner@127.0.0.1:1/crm")
    with pytest.raises(InputError, match=r"Connection refused.*is the server running"):
        topt.read_accounts("accounts", con=closed)
    monkeypatch.setenv("PGSERVICEFILE", "/nonexistent")
    monkeypatch.delenv("TERRITORY_OPT_DB_NOWHERE", raising=False)
    with pytest.raises(InputError, match=r"set TERRITORY_OPT_DB_NOWHERE to its URL"):
        topt.read_accounts(topt.io.DatabaseSource(topt.io.connect("nowhere"),
                                                  table="accounts", database="nowhere"))
    with pytest.raises(InputError, match=r"TERRITORY_OPT_DB_CRM is not a database URL"):
        topt.io.connect("crm", environ={"TERRITORY_OPT_DB_CRM": "postgresql://u:p@h:port/x"})
    with pytest.raises(InputError, match="names a sqlite database"):
        topt.io.connect("crm", environ={"TERRITORY_OPT_DB_CRM": "sqlite:///x.db"})


# ------------------------------------------------------------------ bad input


def test_python_readers_take_an_engine_and_a_query(cluster):
    engine = engine_of(cluster)
    db = topt.read_accounts("select * from accounts", con=engine)
    files = topt.read_accounts(ROOT / "data" / "georgia" / "accounts.csv")
    assert db["account_id"].tolist() == files["account_id"].tolist()
    assert db.geometry.geom_equals(files.geometry).all()
    assert topt.read_alignment("select account_id, rep_id from alignment", con=engine) == \
        topt.read_alignment(ROOT / "data" / "georgia" / "alignment.csv")
    with engine.connect() as conn:  # a connection, as well as an engine
        assert len(topt.read_reps("reps", con=conn, region="region")) == 12
    deals = topt.io.read_deals("deals", con=engine)
    assert len(deals) == len(pd.read_csv(ROOT / "data" / "georgia" / "deals.csv"))


def test_missing_table_or_column_lists_what_there_is(cluster):
    engine = engine_of(cluster)
    with pytest.raises(InputError, match=r"table 'acounts' does not exist; the tables are: "
                                         r"accounts, alignment, counties, deals, reps\. "
                                         r"did you mean 'accounts'\?"):
        topt.read_accounts("acounts", con=engine)
    with pytest.raises(InputError, match=r"has no column 'work' \(for workload:\); columns "
                                         r"are: account_id, name, .*did you mean 'workload'"):
        topt.read_accounts("accounts", con=engine, workload="work")
    with pytest.raises(InputError, match=r'column "owner" does not exist.*table \'alignment\''
                                         r" has the columns account_id, rep_id"):
        topt.read_alignment("select account_id, owner from alignment", con=engine)


def test_sql_error_is_the_servers_message(cluster):
    with pytest.raises(InputError, match=r"query 'select \* form accounts' failed; the "
                                         r'server said: syntax error at or near "form"'):
        topt.read_accounts("select * form accounts", con=engine_of(cluster))


def test_null_geometries_and_coordinates_name_the_rows(cluster):
    sql(cluster, "drop table if exists holes; create table holes as select * from "
                 "accounts limit 6; update holes set geom = null where account_id in "
                 "(select account_id from holes order by account_id offset 1 limit 2)")
    engine = engine_of(cluster)
    with pytest.raises(InputError, match=r"column 'geom': rows 2, 3 have no geometry "
                                         r"\(NULL\).*where geom IS NOT NULL"):
        topt.read_accounts("select * from holes order by account_id", con=engine)
    with pytest.raises(InputError, match=r"column 'lat': rows 2, 3 have no coordinates"):
        topt.read_accounts("select account_id, workload, case when geom is null then null "
                           "else lat end as lat, lon from holes order by account_id",
                           con=engine)


def test_other_srids_are_reprojected_and_said(cluster):
    """A table in one SRID is read in it; rows in another SRID are reprojected to the
    first row's, with a warning naming them."""
    sql(cluster, "drop table if exists mixed; create table mixed as select account_id, "
                 "workload, geom from accounts order by account_id limit 4; "
                 "alter table mixed alter column geom type geometry; update mixed set "
                 "geom = ST_Transform(geom, 32617) where account_id in "
                 "(select account_id from mixed order by account_id offset 2)")
    engine = engine_of(cluster)
    with pytest.warns(TerritoryOptWarning, match=r"rows 3, 4 are in EPSG:32617, the others "
                                                 r"in EPSG:4326; reprojected"):
        mixed = topt.read_accounts("select * from mixed order by account_id", con=engine)
    plain = topt.read_accounts("select account_id, workload, geom from accounts order by "
                               "account_id limit 4", con=engine)
    assert mixed.crs == "EPSG:4326"
    metres = mixed.to_crs(32617).geometry.distance(plain.to_crs(32617).geometry)
    assert (metres < 1e-3).all()
    counties = topt.read_potential("counties", con=engine, value="population", id="fips")
    assert counties.crs == "EPSG:26716" and len(counties) == 159


def test_a_query_returning_nothing(cluster):
    with pytest.raises(InputError, match=r"returned no rows; check its filters"):
        topt.read_accounts("select * from accounts where workload < 0", con=engine_of(cluster))


def test_changed_rows_change_the_recorded_sha256(cluster):
    sql(cluster, "drop table if exists few; create table few as select * from accounts "
                 "order by account_id limit 5")
    source = topt.io.DatabaseSource(engine_of(cluster), table="few", database="crm")
    topt.read_accounts(source)
    first = dict(source.record)
    topt.read_accounts(source)
    assert source.record == first and first["rows"] == 5
    sql(cluster, "update few set workload = workload + 1 where account_id = "
                 "(select min(account_id) from few)")
    topt.read_accounts(source)
    assert source.record["sha256"] != first["sha256"]


def test_validate_lists_every_database_problem_at_once(env, monkeypatch, tmp_path):
    monkeypatch.setenv("TERRITORY_OPT_DB_WAREHOUSE",
                       env.url("warehouse", password="Wr0ng-Passw0rd"))
    path = scenario(tmp_path, accounts={"database": "crm", "table": "acounts"},
                    potential={"database": "crm", "sql": "select * form counties",
                               "value": "population"},
                    reps={"database": "elsewhere", "table": "reps"},
                    deals={"database": "crm", "sql": "select * from deals where false"})
    monkeypatch.setenv("PGSERVICEFILE", "/nonexistent")
    monkeypatch.delenv("TERRITORY_OPT_DB_ELSEWHERE", raising=False)
    check = check_scenario(path)
    assert [p.split(":")[0] for p in check.problems] == \
        ["accounts", "potential", "reps", "deals", "output"]
    text = "\n".join(check.problems)
    assert "did you mean 'accounts'" in text and 'near "form"' in text
    assert "fix potential: sql:" in text and "TERRITORY_OPT_DB_ELSEWHERE" in text
    assert "returned no rows" in text and "password authentication failed" in text
    assert "Wr0ng-Passw0rd" not in text


def test_scenario_keys_say_what_a_database_input_needs():
    for accounts, message in [
            ({"database": "crm"}, "give sql: (a query) or table:"),
            ({"path": "a.csv", "table": "accounts"}, "name the connection with database:"),
            ({"database": "crm", "sql": "x", "table": "y"}, "one of them"),
            ({}, "give path: (a file) or database:")]:
        with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
            scenario_from_dict({"name": "x", "accounts": accounts})
    with pytest.raises(InputError, match="is not a table name"):
        topt.io.DatabaseSource(None, table="accounts; drop table x")
    spec = load_scenario(ROOT / "scenarios" / "georgia_postgis.yaml")
    assert spec.sink is not None and spec.sink.schema_ == "territories"
    assert spec.output_dir().name == "georgia_postgis"


def test_teams_write_one_table_per_kind_with_a_team_column(env, tmp_path):
    """A scenario with teams (as scenarios/georgia_teams.yaml) writes each kind once,
    the team named in each row."""
    specialists = str(ROOT / "data" / "georgia" / "reps_specialists.csv")
    path = scenario(tmp_path, name="teams_db", reps=None, deals=None,
                    accounts={"database": "crm", "table": "accounts", "segment": "segment"},
                    teams={"core": {"reps": {"database": "crm", "table": "reps"},
                                    "balance": {"workload": 0.05, "potential": 0.25}},
                           "hospital": {"reps": {"path": specialists,
                                                 "where": "segments == hospital"},
                                        "where": "segment == hospital",
                                        "balance": {"workload": 0.05}}})
    result = topt.run_scenario(path)
    counts = sql(env, "select team, count(*) from territories.teams_db_assignments "
                      "group by team order by team", "warehouse")
    assert [t for t, _ in counts] == ["core", "hospital"]
    for name, n in counts:
        assert n == len(pd.read_csv(result.out_dir / name / "assignments.csv"))
    assert sql(env, "select count(distinct team) from territories.teams_db_territories",
               "warehouse") == [(2,)]


def test_the_workbench_refuses_a_run_whose_rows_changed(env, tmp_path):
    """A run read from the database opens in the workbench while its rows are as
    read; once they change, the workbench says so instead of editing stale data."""
    from territory_opt.workbench.session import open_run

    sql(env, "drop table if exists accounts_copy; create table accounts_copy as "
             "select * from accounts")
    path = scenario(tmp_path, name="edited_from_db",
                    accounts={"database": "crm", "table": "accounts_copy", "sums": ["revenue"]})
    result = topt.run_scenario(path)
    session = open_run(result.out_dir)
    assert session.solution().objective == pytest.approx(result.solution.objective)
    sql(env, "update accounts_copy set workload = workload + 1 where account_id = 'A30002'")
    with pytest.raises(InputError, match=r"the rows of accounts \(database 'crm'\) changed "
                                         r"since this run"):
        open_run(result.out_dir)


def test_validate_says_what_each_query_read(env, capsys):
    """`validate` of the database scenario: OK, and per database input its rows and
    the SRID its geometry was read in (the counties' EPSG:26716, reprojected for
    planning as every input is)."""
    from territory_opt.cli import main

    assert main(["validate", str(ROOT / "scenarios" / "georgia_postgis.yaml")]) == 0
    out = capsys.readouterr().out
    assert "OK: 949 accounts in 949 units, 12 territories" in out
    assert "  accounts: 949 rows of query 'select * from accounts' on database 'crm', " \
        "geometry in EPSG:4326" in out
    assert "  potential: 159 rows of table 'counties' on database 'crm', geometry in " \
        "EPSG:26716" in out
    assert "  reps: 12 rows of table 'reps' on database 'crm'\n" in out
