"""Reading inputs from PostgreSQL/PostGIS: a query or a table instead of a file.

A connection is named (``database: crm`` in a scenario) and resolved here, never
written into a scenario, a manifest or a log: from the environment variable
``TERRITORY_OPT_DB_<NAME>`` (a URL such as ``postgresql://planner@db.local/crm``; the
password from ``~/.pgpass`` or ``PGPASSWORD`` rather than the URL), else from the
libpq service ``<name>`` (``~/.pg_service.conf``). In Python, the readers take a
SQLAlchemy engine or connection (``read_accounts(sql, con=engine)``), as
:func:`geopandas.read_postgis` does. SQLAlchemy and psycopg are imported only when a
database is used (``pip install territory-opt[postgis]``).

PostGIS geometry (or geography) columns become the frame's geometry in the
column's SRID; without one, the readers take ``lat``/``lon`` (or ``x``/``y``)
columns as for a CSV file. What was read is recorded on the
:class:`DatabaseSource`: the row count and a SHA-256 of the rows, so that a
rerun can tell that the data changed.
"""

from __future__ import annotations

import difflib
import hashlib
import logging
import os
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from territory_opt.errors import InputError, TerritoryOptWarning, rows_text

__all__ = ["DatabaseSource", "connect", "database_source", "env_name", "frame_sha256",
           "read_database"]

logger = logging.getLogger(__name__)

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?")
GEOMETRY_TYPES = ("geometry", "geography")


def env_name(database: str) -> str:
    """The environment variable holding the URL of the connection ``database``."""
    return "TERRITORY_OPT_DB_" + re.sub(r"[^A-Za-z0-9]", "_", database).upper()


def _import_sqlalchemy() -> Any:
    try:
        import sqlalchemy
    except ImportError:
        raise InputError("reading from or writing to a database needs SQLAlchemy and "
                         "psycopg: pip install 'territory-opt[postgis]'") from None
    return sqlalchemy


def _driver_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` URLs with the psycopg (3) driver."""
    return re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", url)


def connect(database: str, *, environ: Any = None) -> Any:
    """A SQLAlchemy engine for the connection named ``database`` (see the module).

    Nothing connects yet; the first query does (and its errors say what to fix).
    """
    sqlalchemy = _import_sqlalchemy()
    environ = os.environ if environ is None else environ
    var = env_name(database)
    url = environ.get(var)
    if url:
        try:
            engine = sqlalchemy.create_engine(_driver_url(url.strip()),
                                              poolclass=sqlalchemy.pool.NullPool)
        except (ValueError, ImportError, sqlalchemy.exc.ArgumentError) as exc:
            # a malformed URL or an unknown driver: never echo it (it may hold a password)
            raise InputError(f"database {database!r}: {var} is not a database URL "
                             f"({type(exc).__name__}); write it as "
                             "postgresql://user@host:5432/dbname") from None
        if engine.dialect.name != "postgresql":
            engine.dispose()
            raise InputError(f"database {database!r}: {var} names a "
                             f"{engine.dialect.name} database; territory_opt reads "
                             "PostgreSQL/PostGIS (postgresql://user@host/dbname)")
        return engine
    return sqlalchemy.create_engine("postgresql+psycopg://",
                                    connect_args={"service": database},
                                    poolclass=sqlalchemy.pool.NullPool)


@dataclass(eq=False)
class DatabaseSource:
    """A query (or a table) on a database: what a reader takes instead of a file.

    ``record`` holds what the last read found: ``rows``, ``sha256`` and ``srid``.
    """

    con: Any  # a SQLAlchemy engine or connection
    sql: str | None = None
    table: str | None = None
    database: str | None = None  # the connection's name (for messages and the manifest)
    key: str | None = None  # the scenario key, e.g. "accounts" (for messages)
    record: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.sql is None) == (self.table is None):
            raise InputError(f"{self._where()}give sql: (a query) or table: (a table "
                             "name), one of them")
        if self.table is not None and not IDENTIFIER.fullmatch(self.table):
            raise InputError(f"{self._where()}table {self.table!r} is not a table name "
                             "(schema.table, letters, digits and _); for anything else "
                             "write sql: select ... from ...")

    def _where(self) -> str:
        return f"{self.key}: " if self.key else ""

    @property
    def label(self) -> str:
        """The source as messages name it."""
        on = f" on database {self.database!r}" if self.database else ""
        if self.table is not None:
            return f"table {self.table!r}{on}"
        text = " ".join(str(self.sql).split())
        return f"query {text[:60] + '...' if len(text) > 60 else text!r}{on}"

    @property
    def query(self) -> str:
        if self.table is not None:
            return "SELECT * FROM " + ".".join(f'"{p}"' for p in self.table.split("."))
        return str(self.sql)

    def manifest(self, role: str) -> dict[str, Any]:
        """The manifest entry of this input (never the connection's URL)."""
        what = {"table": self.table} if self.table is not None else {"sql": self.sql}
        return {"role": role, "database": self.database, **what} | self.record

    def __str__(self) -> str:
        return self.label


def database_source(source: Any, con: Any, *, key: str | None = None) -> DatabaseSource:
    """``source`` (a query, a table name or a :class:`DatabaseSource`) on ``con`` (an
    engine, a connection or a URL)."""
    if isinstance(source, DatabaseSource):
        return source
    if not isinstance(source, str):
        raise InputError(f"with con=, give the query or table name as text, not a "
                         f"{type(source).__name__}")
    if isinstance(con, str):
        sqlalchemy = _import_sqlalchemy()
        con = sqlalchemy.create_engine(_driver_url(con), poolclass=sqlalchemy.pool.NullPool)
    is_table = IDENTIFIER.fullmatch(source.strip()) is not None
    return DatabaseSource(con, sql=None if is_table else source,
                          table=source.strip() if is_table else None, key=key)


def _password_of(con: Any) -> str | None:
    engine = getattr(con, "engine", con)
    url = getattr(engine, "url", None)
    return getattr(url, "password", None)


def scrub(text: str, con: Any) -> str:
    """A server or driver message without the connection's password."""
    password = _password_of(con)
    if password:
        text = text.replace(str(password), "***")
    return " ".join(text.split())


def connection_error(source: DatabaseSource, exc: Exception) -> InputError:
    """What failed while connecting, and what to change."""
    text = scrub(str(getattr(exc, "orig", None) or exc), source.con)
    name = source.database
    where = (f"database {name!r}" if name else "the database")
    lowered = text.lower()
    if "service" in lowered and "not found" in lowered:
        fix = (f"set {env_name(str(name))} to its URL (postgresql://user@host:5432/dbname) "
               f"or define the service [{name}] in ~/.pg_service.conf (or the file "
               "PGSERVICEFILE names)")
    elif "password authentication failed" in lowered or "no password supplied" in lowered:
        fix = ("fix the password in ~/.pgpass (host:port:dbname:user:password) or "
               "PGPASSWORD; never write it into the scenario")
    elif "connection refused" in lowered or "could not translate host" in lowered \
            or "timeout" in lowered or "no such file or directory" in lowered:
        fix = ("is the server running, and are the host and port right"
               + (f" (in {env_name(name)} or the service {name!r})" if name else "") + "?")
    elif "does not exist" in lowered and "database" in lowered:
        fix = "check the database name in the URL or service"
    else:
        fix = "check the connection's URL or service"
    return InputError(f"cannot connect to {where}: {text}; {fix}")


def _tables(conn: Any, schema: str | None) -> list[str]:
    """The tables and views of ``schema`` (the current one when None), qualified when
    ``schema`` is given."""
    rows = conn.exec_driver_sql(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = "
        "coalesce(%(s)s, current_schema()) AND table_name NOT IN ('spatial_ref_sys', "
        "'geometry_columns', 'geography_columns') ORDER BY 1", {"s": schema}).fetchall()
    return [f"{schema}.{r[0]}" if schema else r[0] for r in rows]


def _columns(conn: Any, tables: list[str]) -> dict[str, list[str]]:
    """The columns of each of ``tables`` that exists (``name`` or ``schema.name``)."""
    out = {}
    for table in tables:
        schema, _, name = table.rpartition(".")
        rows = conn.exec_driver_sql(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = "
            "coalesce(%(s)s, current_schema()) AND table_name = %(t)s "
            "ORDER BY ordinal_position", {"s": schema or None, "t": name}).fetchall()
        if rows:
            out[table] = [r[0] for r in rows]
    return out


def _query_error(source: DatabaseSource, exc: Exception, conn: Any) -> InputError:
    orig = getattr(exc, "orig", exc)
    text = scrub(str(orig), source.con)
    state = getattr(orig, "sqlstate", None)
    if source.table is not None and state == "42P01":  # undefined table
        schema = source.table.rpartition(".")[0] or None
        try:
            with conn.engine.connect() as other:
                present = _tables(other, schema)
        except sql_errors():  # the listing is a hint only
            present = []
        close = difflib.get_close_matches(source.table, present, n=1, cutoff=0.5)
        hint = f"did you mean {close[0]!r}? " if close else ""
        listing = ", ".join(present[:30]) if present else "none"
        return InputError(f"{source.label} does not exist; the tables are: "
                          f"{listing}. {hint}Set table: to one of them")
    if state == "42703":  # undefined column: the columns of the tables the query reads
        named = re.findall(r"\b(?:from|join)\s+([A-Za-z_][\w$]*(?:\.[A-Za-z_][\w$]*)?)",
                           source.query, flags=re.IGNORECASE)
        try:
            with conn.engine.connect() as other:
                columns = _columns(other, list(dict.fromkeys(named)))
        except sql_errors():  # the listing is a hint only
            columns = {}
        text += "".join(f"; table {t!r} has the columns {', '.join(c)}"
                        for t, c in columns.items())
    key = f"{source.key}: sql:" if source.key else "the query"
    return InputError(f"{source.label} failed; the server said: {text}; fix {key}")


def _driver_errors() -> tuple[type[BaseException], ...]:
    import psycopg

    return (psycopg.Error,)


def sql_errors() -> tuple[type[BaseException], ...]:
    """What SQLAlchemy and the driver raise for a failed statement or connection."""
    import sqlalchemy

    return (sqlalchemy.exc.SQLAlchemyError, *_driver_errors())


def _geometry_oids(conn: Any) -> set[int]:
    rows = conn.exec_driver_sql("SELECT oid FROM pg_type WHERE typname = ANY(%(t)s)",
                                {"t": list(GEOMETRY_TYPES)}).fetchall()
    return {int(r[0]) for r in rows}


def read_database(source: DatabaseSource) -> pd.DataFrame:
    """The rows of ``source`` as a DataFrame, or a GeoDataFrame where the result has a
    PostGIS column (the first; its SRID the CRS, none for SRID 0). Errors name the
    query and the fix."""
    sqlalchemy = _import_sqlalchemy()
    con = source.con
    owned = isinstance(con, sqlalchemy.engine.Engine)
    try:
        conn = con.connect() if owned else con
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise connection_error(source, exc) from None
    columns: list[str] = []
    try:
        geo_oids = _geometry_oids(conn) if conn.dialect.name == "postgresql" else set()
        # the driver's own cursor: the text goes to the server as written (no parameter
        # markers are read into it)
        cursor = conn.connection.driver_connection.cursor()
        try:
            cursor.execute(source.query)
            columns = [d.name for d in cursor.description or []]
            types = [d.type_code for d in cursor.description or []]
            rows = cursor.fetchall() if columns else []
        except _driver_errors() as exc:
            raise _query_error(source, exc, conn) from None
        finally:
            cursor.close()
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise connection_error(source, exc) from None
    finally:
        if owned:
            conn.close()
    if not columns:
        raise InputError(f"{source.label} returns no table (is it a "
                         "SELECT?); write a query that selects rows")
    dupes = sorted({c for c in columns if columns.count(c) > 1})
    if dupes:
        raise InputError(f"{source.label} returns the column "
                         f"{dupes[0]!r} twice; give each column its own name (AS ...)")
    frame = pd.DataFrame.from_records(rows, columns=columns, coerce_float=True)
    geoms = [c for c, t in zip(columns, types, strict=True) if t in geo_oids]
    source.record = {"rows": len(frame), "sha256": frame_sha256(frame)}
    if len(frame) == 0:
        raise InputError(f"{source.label} returned no rows; check its "
                         "filters (where ...) and that the table is loaded")
    if not geoms:
        return frame
    return _geo_frame(frame, geoms[0], source)


def _geo_frame(frame: pd.DataFrame, column: str, source: DatabaseSource) -> gpd.GeoDataFrame:
    """``frame`` with its PostGIS column (hex EWKB) as geometry, in the column's SRID
    (no CRS for SRID 0: the reader's ``crs`` sets it); rows of another SRID reprojected
    to the first one's, with a warning."""
    raw = frame[column]
    missing = raw.isna().to_numpy()
    if missing.any():
        raise InputError(f"{source.label}, column {column!r}: "
                         f"{rows_text(np.flatnonzero(missing))} have no geometry (NULL); "
                         f"give them one or leave them out (where {column} IS NOT NULL)")
    values = raw.map(lambda v: bytes.fromhex(v) if isinstance(v, str) else bytes(v))
    geoms = shapely.from_wkb(values.to_numpy())
    srids = shapely.get_srid(geoms)
    gdf = gpd.GeoDataFrame(frame.drop(columns=[column]), geometry=list(geoms))
    srid = int(srids[0])
    if srid == 0 and not srids.any():
        return gdf
    gdf = gdf.set_crs(f"EPSG:{srid}")
    other = srids != srid
    if other.any():
        pos = np.flatnonzero(other)
        found = sorted({int(s) for s in srids[other]})
        for s in found:
            rows = srids == s
            if s == 0:
                raise InputError(f"{source.label}, column {column!r}: "
                                 f"{rows_text(np.flatnonzero(rows))} have no SRID while the "
                                 f"others are EPSG:{srid}; fix them (ST_SetSRID)")
            part = gpd.GeoSeries(gdf.geometry[rows].to_numpy(), crs=f"EPSG:{s}")
            gdf.loc[rows, "geometry"] = part.to_crs(f"EPSG:{srid}").to_numpy()
        warnings.warn(f"{source.label}, column {column!r}: {rows_text(pos)} are in "
                      f"{', '.join(f'EPSG:{s}' for s in found)}, the others in "
                      f"EPSG:{srid}; reprojected to EPSG:{srid}", TerritoryOptWarning,
                      stacklevel=4)
    if srid != 4326:
        logger.info("%s: geometry in EPSG:%d", source.label, srid)
    source.record["srid"] = srid
    return gdf


def frame_sha256(frame: pd.DataFrame) -> str:
    """SHA-256 of a table's rows as read (CSV text, geometry as hex WKB): equal for
    equal rows in equal order."""
    text = frame.to_csv(index=False, lineterminator="\n")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
