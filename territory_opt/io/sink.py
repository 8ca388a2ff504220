"""Writing a run into PostgreSQL/PostGIS: its tables, a row of the runs table and
the views of the latest run, in one transaction.

For a run of scenario ``georgia`` into schema ``territories``::

    territories.runs                                  one row per run (manifest as jsonb)
    territories.georgia_20261204t181500z_assignments  account -> territory, rep
    territories.georgia_20261204t181500z_crm_assignments  the new owners, for the CRM
    territories.georgia_20261204t181500z_report       the balance report
    territories.georgia_20261204t181500z_territories  PostGIS polygons (EPSG:4326)
    territories.georgia_assignments, ...              views of the latest run
    territories.georgia_run                           its row of the runs table

A run that fails or is interrupted before its commit leaves every earlier table
and view as it was: the server rolls the whole transaction back.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

import geopandas as gpd
import pandas as pd

from territory_opt.errors import InputError
from territory_opt.geo import split_antimeridian
from territory_opt.io.database import DatabaseSource, connect, connection_error, scrub, sql_errors

__all__ = ["KINDS", "check_sink", "database_sink", "run_id", "write_table"]

logger = logging.getLogger(__name__)

KINDS = ("assignments", "crm_assignments", "report", "territories")
SLUG_CHARS = 30  # run ids fit PostgreSQL's 63-byte names with the longest kind


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _slug(scenario: str) -> str:
    """The scenario's name in table names: lower case letters, digits and ``_``."""
    return re.sub(r"[^a-z0-9]+", "_", scenario.lower()).strip("_")[:SLUG_CHARS] or "run"


def run_id(scenario: str, when: datetime) -> str:
    """The run's name in table names: the scenario's, and the time (UTC) it finished."""
    return f"{_slug(scenario)}_{when.astimezone(timezone.utc):%Y%m%dt%H%M%Sz}"


def write_table(conn: Any, schema: str, name: str, frame: pd.DataFrame, *,
                srid: int | None = 4326) -> None:
    """``frame`` as a new table ``schema.name`` on the SQLAlchemy connection ``conn``;
    a GeoDataFrame's geometry as a PostGIS column, in EPSG:``srid`` (None: the frame's
    own CRS, which must have an EPSG code)."""
    if isinstance(frame, gpd.GeoDataFrame):
        if srid is None:
            srid = frame.crs.to_epsg() if frame.crs is not None else None
            if srid is None:
                raise InputError(f"table {name!r}: its CRS has no EPSG code; give srid=")
        geo = split_antimeridian(frame) if srid == 4326 else frame.to_crs(f"EPSG:{srid}")
        column = geo.geometry.name
        plain = pd.DataFrame(geo.drop(columns=[column]))
        plain[column] = geo.geometry.to_wkb(hex=True)
        plain.to_sql(name, conn, schema=schema, index=False)
        conn.exec_driver_sql(
            f"ALTER TABLE {_quote(schema)}.{_quote(name)} ALTER COLUMN {_quote(column)} "
            f"TYPE geometry(Geometry, {int(srid)}) USING "
            f"ST_SetSRID(ST_GeomFromWKB(decode({_quote(column)}, 'hex')), {int(srid)})")
        return
    pd.DataFrame(frame).to_sql(name, conn, schema=schema, index=False)


def _free_run_id(conn: Any, schema: str, run: str) -> str:
    """``run``, or with ``_2``, ``_3``... when a run of that name (the same second) is
    already in the runs table."""
    taken = {r[0] for r in conn.exec_driver_sql(
        f"SELECT run_id FROM {_quote(schema)}.runs WHERE run_id LIKE %(p)s",
        {"p": run + "%"}).fetchall()}
    name, n = run, 1
    while name in taken:
        n += 1
        name = f"{run}_{n}"
    return name


@contextmanager
def database_sink(database: str, schema: str, scenario: str,
                  tables: Mapping[str, pd.DataFrame], manifest: dict[str, Any], *,
                  con: Any = None) -> Iterator[dict[str, Any]]:
    """Write a run's ``tables`` (by kind, see :data:`KINDS`) into ``schema`` and
    commit when the ``with`` block ends without an error (the files are written
    inside it): one transaction, all or nothing.

    Yields the record of what is written (``database``, ``schema``, ``run_id``,
    ``tables``, ``views``), also set as ``manifest["database"]`` before the
    manifest is stored.
    """
    engine = con if con is not None else connect(database)
    source = DatabaseSource(engine, table="runs", database=database, key="output")
    try:
        conn = engine.connect()
    except sql_errors() as exc:
        raise InputError(f"output: {connection_error(source, exc)}") from None
    try:
        trans = conn.begin()
        try:
            conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {_quote(schema)}")
            conn.exec_driver_sql(
                f"CREATE TABLE IF NOT EXISTS {_quote(schema)}.runs (run_id text PRIMARY KEY,"
                " scenario text NOT NULL, finished_at timestamptz NOT NULL, status text,"
                " objective double precision, bound double precision,"
                " gap double precision, tables text[] NOT NULL, manifest jsonb NOT NULL)")
            finished = datetime.fromisoformat(manifest["finished_at"])
            run = _free_run_id(conn, schema, run_id(scenario, finished))
            names = {kind: f"{run}_{kind}" for kind in KINDS if kind in tables}
            slug = _slug(scenario)
            views = {kind: f"{slug}_{kind}" for kind in names} | {"run": f"{slug}_run"}
            record = {"database": database, "schema": schema, "run_id": run,
                      "tables": list(names.values()), "views": list(views.values())}
            manifest["database"] = record
            for kind, name in names.items():
                write_table(conn, schema, name, tables[kind])
            conn.exec_driver_sql(
                f"INSERT INTO {_quote(schema)}.runs VALUES (%(run)s, %(scenario)s, "
                "%(finished)s, %(status)s, %(objective)s, %(bound)s, %(gap)s, %(tables)s, "
                "%(manifest)s::jsonb)",
                {"run": run, "scenario": scenario, "finished": finished,
                 "status": manifest.get("status"), "objective": manifest.get("objective"),
                 "bound": manifest.get("bound"), "gap": manifest.get("gap"),
                 "tables": list(names.values()),
                 "manifest": json.dumps(manifest, default=str)})
            _point_views(conn, schema, views, names, run)
        except sql_errors() as exc:
            trans.rollback()
            text = scrub(str(getattr(exc, "orig", None) or exc), engine)
            raise InputError(f"output: writing the run into database {database!r}, schema "
                             f"{schema!r} failed; the server said: {text}; nothing was "
                             "written there (the earlier runs are as they were)") from None
        try:
            yield record
        except BaseException:
            trans.rollback()
            raise
        trans.commit()
        logger.info("wrote run %s into %s.%s", run, database, schema)
    finally:
        conn.close()


def _point_views(conn: Any, schema: str, views: Mapping[str, str],
                 names: Mapping[str, str], run: str) -> None:
    """The views of the scenario's latest run onto this run's tables, and its row of
    the runs table (``<scenario>_run``)."""
    for kind, view in views.items():
        query = (f"SELECT * FROM {_quote(schema)}.{_quote(names[kind])}" if kind in names
                 else f"SELECT * FROM {_quote(schema)}.runs WHERE run_id = '{run}'")
        conn.exec_driver_sql(f"DROP VIEW IF EXISTS {_quote(schema)}.{_quote(view)}")
        conn.exec_driver_sql(f"CREATE VIEW {_quote(schema)}.{_quote(view)} AS {query}")


def check_sink(database: str, schema: str) -> str | None:
    """Why a run could not be written into ``schema`` of ``database`` (None: it
    could): no connection, or no right to create the schema or tables in it."""
    try:
        engine = connect(database)
    except InputError as exc:
        return f"output: {exc}"
    source = DatabaseSource(engine, table="runs", database=database, key="output")
    try:
        with engine.connect() as conn:
            exists = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_namespace WHERE nspname = %(s)s",
                {"s": schema}).scalar()
            allowed = conn.exec_driver_sql(
                "SELECT has_schema_privilege(%(s)s, 'CREATE')" if exists else
                "SELECT has_database_privilege(current_database(), 'CREATE')",
                {"s": schema}).scalar()
    except sql_errors() as exc:
        return f"output: {connection_error(source, exc)}"
    if not allowed:
        what = f"schema {schema!r}" if exists else "the database (to create the schema)"
        return (f"output: database {database!r}: the user may not create tables in {what};"
                f" grant CREATE on it, or choose another schema:")
    return None
