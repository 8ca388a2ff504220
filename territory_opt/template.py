"""``territory-opt init``: a commented scenario file for the user's own files.

The columns of each file are matched to the keys a scenario needs by their
names (``Account ID``, ``Billing Zip/Postal Code``, ``Visit Hours``, ...). A
key that cannot be matched is written with a ``TODO`` comment that lists the
file's columns, so that ``territory-opt validate`` then says what is left.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from territory_opt import io
from territory_opt.io.columns import guess_column
from territory_opt.io.files import PARQUET_SUFFIXES, VECTOR_SUFFIXES

__all__ = ["scenario_template"]

def _columns(path: Path) -> list[str]:
    frame = io.read_table(path)
    return [str(c) for c in frame.columns if c != "geometry"]


def _is_vector(path: Path) -> bool:
    return path.suffix.lower() in VECTOR_SUFFIXES | PARQUET_SUFFIXES


def _line(key: str, value: Any, comment: str, indent: int = 2) -> str:
    text = yaml.safe_dump({key: value}, default_flow_style=True, width=1000).strip()
    text = text[1:-1] if text.startswith("{") else text
    return f"{' ' * indent}{text:<{40 - indent}} # {comment}"


def _points(lines: list[str], columns: list[str], path: Path, what: str) -> bool:
    """The location lines of a points section: the file's own geometry, lat/lon
    columns, else a US ZIP code column. True when the ZIP code is used."""
    if _is_vector(path):
        lines.append(f"  # {what}: the file's own geometry and CRS are used")
        return False
    lat, lon = guess_column(columns, "lat"), guess_column(columns, "lon")
    code = guess_column(columns, "zip")
    if lat and lon:
        lines += [_line("lat", lat, "degrees (WGS 84); for projected x/y: x:, y:, crs:"),
                  _line("lon", lon, "degrees")]
        if code:
            lines.append(_line("zip", code, "rows without coordinates are placed at "
                               "their US ZIP code (offline)"))
            return True
    elif code:
        lines.append(_line("zip", code, "no coordinates: placed at the US ZIP code's "
                           "centroid (offline)"))
        return True
    else:
        lines += [_line("lat", "TODO", f"column with latitude; columns are: "
                        f"{', '.join(columns)}"),
                  _line("lon", "TODO", "column with longitude")]
    return False


def scenario_template(path: str | Path, *, accounts: str | Path | None = None,
                      reps: str | Path | None = None, potential: str | Path | None = None,
                      name: str | None = None) -> str:
    """A commented scenario file for the given data files, as text.

    Paths in it are written relative to the folder of ``path`` (where the
    scenario file will live), as scenario files expect.
    """
    target = Path(path).absolute()
    name = name or re.sub(r"[^A-Za-z0-9_-]", "_", target.stem)

    def rel(file: str | Path) -> str:
        return Path(os.path.relpath(Path(file).absolute(), target.parent)).as_posix()

    lines = [f"# Scenario {name}: written by territory-opt init. Check every line, then",
             f"#   territory-opt validate {target.name}   (lists what is still wrong)",
             f"#   territory-opt run {target.name}",
             "# Paths are relative to this file's folder.",
             f"name: {name}",
             "description: >",
             "  TODO: what this scenario is for (shown in the report).",
             "accounts:"]
    if accounts is None:
        lines += [_line("path", "TODO.csv", "CSV/XLSX export, GeoPackage, GeoJSON, "
                        "Shapefile or GeoParquet"),
                  _line("id", "account_id", "unique account id"),
                  _line("workload", "workload", "effort per account (e.g. visit-hours); "
                        "null counts accounts"),
                  _line("lat", "lat", "degrees; or zip: <column> to place by US ZIP code"),
                  _line("lon", "lon", "degrees")]
    else:
        file = Path(accounts)
        columns = _columns(file)
        lines.append(_line("path", rel(file), f"{len(columns)} columns"))
        acc_id = guess_column(columns, "account_id")
        lines.append(_line("id", acc_id, "unique account id") if acc_id else
                     _line("id", None, "no id column found: accounts numbered by their "
                           f"line; or name one of: {', '.join(columns)}"))
        work = guess_column(columns, "workload")
        lines.append(_line("workload", work, "effort per account (e.g. visit-hours)")
                     if work else _line("workload", None, "no workload column found: every "
                                        "account counts 1; name a column to weigh them"))
        if _points(lines, columns, file, "accounts"):
            lines.append(_line("unplaced", "drop", "rows whose ZIP cannot be placed are "
                               "left out and listed in unplaced_accounts.csv; 'error' "
                               "stops"))
        for key, column, comment in (
                ("name", guess_column([c for c in columns if c != acc_id], "account_name"),
                 "shown on the map; checked for duplicates"),
                ("address", guess_column(columns, "address"), "checked for duplicates"),
                ("state", guess_column(columns, "state"), "checked against the ZIP code"),
                ("segment", guess_column(columns, "segment"),
                 "the account's segment: only reps serving it get it (reps: segments:)")):
            if column:
                lines.append(_line(key, column, comment))
    if potential is not None:
        file = Path(potential)
        columns = _columns(file)
        value = guess_column(columns, "potential")
        pid = guess_column(columns, "potential_id")
        lines += [("potential:" + " " * 31 + "# market potential per area"),
                  _line("path", rel(file), "polygons (or points) with a value each"),
                  _line("value", value or "TODO", "the potential" if value else
                        f"column with the potential; columns are: {', '.join(columns)}")]
        if pid:
            lines.append(_line("id", pid, "area id"))
        area_name = guess_column(columns, "area_name")
        if area_name:
            lines.append(_line("name", area_name, "area name, shown in the report"))
        if not _is_vector(file):
            _points(lines, columns, file, "potential")
    if reps is not None:
        file = Path(reps)
        columns = _columns(file)
        rep_id = guess_column(columns, "rep_id")
        lines += [("reps:" + " " * 36 + "# one territory per rep, centred on their home "
                   "base"),
                  _line("path", rel(file), f"{len(columns)} columns"),
                  _line("id", rep_id or "TODO", "unique rep id" if rep_id else
                        f"column with a unique rep id; columns are: {', '.join(columns)}")]
        rep_name = guess_column(columns, "name")
        fte = guess_column(columns, "fte")
        lines += [_line("name", rep_name, "shown on the map and report"),
                  _line("fte", fte, "targets scale with FTE" if fte else
                        "no FTE column: everyone full time")]
        served = guess_column(columns, "segments")
        specialists = bool(served)
        if served:
            lines.append(_line("segments", served, "segments each rep serves (a; b), "
                               "blank: all"))
        region = guess_column(columns, "region")
        if region:
            lines.append(_line("region", region, "the region each rep reports to "
                               "(regions: in the scenario)"))
        _points(lines, columns, file, "reps")
    else:
        lines += [("centres: model" + " " * 27 + "# no reps file: the model chooses each "
                   "territory's centre"),
                  "k: 10" + " " * 36 + "# TODO: number of territories"]
    if reps is None:
        specialists = False
    lines += ["units:",
              _line("method", "auto", "auto, accounts, clusters (n_units:) or polygons "
                    "(the potential areas)"),
              ("balance:" + " " * 33 + "# +- share of each territory's FTE-scaled "
               "target"),
              _line("workload", 0.05, "workload within +-5 %")]
    if potential is not None:
        lines.append(_line("potential", 0.25, "market potential within +-25 %"))
    lines += ["objective:",
              _line("weight", "workload", "distance weighted by workload"),
              _line("power", 1, "1: distance, 2: squared distance (tighter shapes)"),
              _contiguity_line(reps is not None, specialists),
              "solver:",
              _line("time_limit", 120, "seconds; a plan found by then is reported with "
                    "its gap"),
              _line("gap", 0.005, "stop within 0.5 % of the proven bound"),
              "report:",
              _line("reach_km", None, "coverage ratio: potential within this distance of "
                    "the base; null: the data's scale (median km to the nearest base)"),
              _line("output", f"out/{name}", "outputs folder (relative to this file)",
                    indent=0)]
    return "\n".join(lines) + "\n"


def _contiguity_line(fixed: bool, specialists: bool) -> str:
    """Territories in one piece, except where that cannot hold yet: specialists on
    the map of every account, and model-chosen centres (slow with contiguity)."""
    if specialists:
        return ("contiguity: false" + " " * 24 + "# specialists' accounts lie among the "
                "others': connected maps per team need teams:")
    if not fixed:
        return ("contiguity: false" + " " * 24 + "# model centres: true asks connected "
                "territories (slower)")
    return "contiguity: true" + " " * 25 + "# each territory in one piece; false allows pieces"
