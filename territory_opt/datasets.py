"""The bundled demo data (real Georgia geography, synthetic account figures).

See ``data/README.md`` for what is real and what is synthetic.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from territory_opt.errors import InputError
from territory_opt.io import read_accounts, read_potential, read_reps

__all__ = ["georgia_paths", "georgia_to_database", "load_georgia", "seeded_home_bases",
           "us_zip_units"]

DATA_DIR = Path(__file__).resolve().parent.parent / "data"


def georgia_paths() -> dict[str, Path]:
    """Paths of the Georgia demo files: accounts, counties (potential), reps."""
    folder = DATA_DIR / "georgia"
    paths = {"accounts": folder / "accounts.csv", "potential": folder / "counties.gpkg",
             "reps": folder / "reps.csv"}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise InputError(f"demo data not found ({', '.join(missing)}); the demo data lives "
                         "in the repository's data/ folder: install from a clone with "
                         "'pip install -e .'")
    return paths


def load_georgia() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The Georgia demo as ``(accounts, potential, reps)``.

    949 accounts (one per active ZIP code), the 159 counties with their 1990
    population as market potential, and 12 reps in 3 regions.
    """
    paths = georgia_paths()
    return (read_accounts(paths["accounts"]),
            read_potential(paths["potential"], value="population", id="fips"),
            read_reps(paths["reps"], region="region"))


def georgia_to_database(database: str, *, schema: str = "public", con: Any = None,
                        replace: bool = False) -> list[str]:
    """Load the Georgia demo files into PostgreSQL/PostGIS, for
    ``scenarios/georgia_postgis.yaml``: tables ``accounts`` (the CSV's columns and a
    PostGIS point ``geom``), ``counties`` (polygons in the file's own SRID,
    EPSG:26716), ``reps``, ``deals`` and ``alignment``, in one transaction.

    ``database`` names the connection (``TERRITORY_OPT_DB_<NAME>`` or a libpq
    service; see :mod:`territory_opt.io.database`), or ``con`` is an engine. Existing
    tables of those names are an error unless ``replace``. Returns the tables written.
    """
    from territory_opt.io.database import connect
    from territory_opt.io.sink import write_table

    folder = DATA_DIR / "georgia"
    frames: dict[str, pd.DataFrame] = {}
    for name in ("accounts", "reps", "deals", "alignment"):
        path = folder / f"{name}.csv"
        if not path.is_file():
            georgia_paths()  # names what is missing and how to get it
            raise InputError(f"demo data file '{path}' not found")
        frames[name] = pd.read_csv(path)  # the types a scenario reading the file sees
    frames["counties"] = gpd.read_file(georgia_paths()["potential"])
    engine = con if con is not None else connect(database)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        for name, frame in frames.items():
            if replace:
                conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{schema}"."{name}" CASCADE')
            elif conn.exec_driver_sql("SELECT to_regclass(%(t)s)",
                                      {"t": f'"{schema}"."{name}"'}).scalar() is not None:
                raise InputError(f"database {database!r} already has table "
                                 f"{schema}.{name}; add --replace (replace=True in Python) "
                                 "to load the demo over it")
            write_table(conn, schema, name, frame, srid=None)
        conn.exec_driver_sql(
            f'ALTER TABLE "{schema}".accounts ADD COLUMN geom geometry(Point, 4326); '
            f'UPDATE "{schema}".accounts SET geom = ST_SetSRID(ST_MakePoint(lon, lat), 4326)')
    return [f"{schema}.{name}" for name in frames]


LOWER_48 = frozenset(
    "AL AZ AR CA CO CT DE DC FL GA ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ "
    "NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY".split())
ZIP_WORK_FACTOR = {"STANDARD": 1.0, "UNIQUE": 0.5, "PO BOX": 0.25}


def us_zip_units(*, states: Iterable[str] | None = None, seed: int = 0,
                 crs: str = "EPSG:5070") -> gpd.GeoDataFrame:
    """Every active ZIP code of the lower 48 states (and DC) as a point unit.

    The locations are real (the ``zipcodes`` package, offline); workload and
    potential are **synthetic and seeded**: ``workload`` is lognormal (median
    1, sigma 0.75) times 1 for standard ZIPs, 0.5 for unique (one-organisation)
    ZIPs and 0.25 for PO-box ZIPs, rounded to 0.01; ``potential`` is the
    workload times a second lognormal (median 1, sigma 0.5) times 1,000. About
    40,000 units; the national benchmark's instance.

    Parameters
    ----------
    states
        Two-letter codes to keep (default: the lower 48 and DC).
    seed
        Seed of the synthetic figures.
    crs
        Metric CRS of the units (default CONUS Albers equal area, EPSG:5070).

    Returns
    -------
    geopandas.GeoDataFrame
        ``unit_id`` (the ZIP), ``zip``, ``state``, ``city``, ``zip_type``,
        ``accounts`` (1), ``workload``, ``potential``, ``x``, ``y`` and point
        geometry, sorted by ZIP.
    """
    try:
        import zipcodes
    except ImportError:  # pragma: no cover - depends on the environment
        raise InputError("us_zip_units needs the zipcodes package: pip install "
                         "'territory-opt[data]'") from None
    keep = LOWER_48 if states is None else frozenset(s.upper() for s in states)
    unknown = sorted(keep - LOWER_48)
    if unknown:
        raise InputError(f"states {unknown} are not among the lower 48 and DC; give two-letter "
                         "codes such as 'GA'")
    rows = [r for r in zipcodes.list_all()
            if r["active"] and r["state"] in keep and r["lat"] and r["long"]]
    rows.sort(key=lambda r: r["zip_code"])
    frame = pd.DataFrame({"zip": [r["zip_code"] for r in rows],
                          "state": [r["state"] for r in rows],
                          "city": [r["city"] for r in rows],
                          "zip_type": [r["zip_code_type"] for r in rows],
                          "lat": [float(r["lat"]) for r in rows],
                          "lon": [float(r["long"]) for r in rows]})
    rng = np.random.default_rng(seed)
    factor = frame["zip_type"].map(ZIP_WORK_FACTOR).fillna(1.0).to_numpy()
    workload = np.round(rng.lognormal(0.0, 0.75, len(frame)) * factor, 2)
    workload = np.maximum(workload, 0.01)
    potential = np.round(workload * rng.lognormal(0.0, 0.5, len(frame)) * 1000.0, 0)
    points = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame["lon"], frame["lat"]),
                              crs="EPSG:4326").to_crs(crs)
    return gpd.GeoDataFrame({
        "unit_id": frame["zip"], "zip": frame["zip"], "state": frame["state"],
        "city": frame["city"], "zip_type": frame["zip_type"],
        "accounts": np.ones(len(frame), dtype=int), "workload": workload,
        "potential": potential, "x": points.geometry.x.to_numpy(),
        "y": points.geometry.y.to_numpy()}, geometry=points.geometry.to_numpy(), crs=crs)


def seeded_home_bases(units: gpd.GeoDataFrame, k: int, *, seed: int = 0) -> gpd.GeoDataFrame:
    """``k`` reps whose home bases are units drawn with probability in proportion
    to workload (seeded): reps live where the work is. A reps frame as
    :func:`territory_opt.read_reps` returns it (ids R001..., FTE 1)."""
    if not 1 <= k <= len(units):
        raise InputError(f"k must be between 1 and the {len(units)} units, got {k}")
    rng = np.random.default_rng(seed)
    w = units["workload"].to_numpy(dtype=float)
    pick = np.sort(rng.choice(len(units), size=k, replace=False, p=w / w.sum()))
    ids = [f"R{i + 1:03d}" for i in range(k)]
    return gpd.GeoDataFrame({
        "rep_id": ids, "name": [f"Rep {i + 1}" for i in range(k)], "fte": np.ones(k),
        "territory": [f"T{i + 1:03d}" for i in range(k)],
        "home_unit": units["unit_id"].to_numpy()[pick]},
        geometry=gpd.points_from_xy(units["x"].to_numpy()[pick], units["y"].to_numpy()[pick]),
        crs=units.crs)
