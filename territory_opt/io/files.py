"""Reading accounts, market potential, reps, locks, alignments, deals and matrices.

Readers accept CSV and Excel exports (coordinates as ``lat``/``lon`` or as
``x``/``y`` plus a CRS) and the vector formats GeoPackage, GeoJSON, Shapefile,
FlatGeobuf and GeoParquet. They return GeoDataFrames with canonical column names
(``account_id``, ``workload``; ``potential_id``, ``potential``; ``rep_id``,
``name``, ``fte``, ``territory``) and never modify the file or frame given.
Errors name the file, the column or row, and the fix.
"""

from __future__ import annotations

import difflib
import io as _io
import logging
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from territory_opt.errors import (
    MAX_ROWS_LISTED,
    InputError,
    Problems,
    TerritoryOptWarning,
    rows_text,
)
from territory_opt.geo import parse_crs
from territory_opt.io.columns import guess_column
from territory_opt.io.database import DatabaseSource, database_source, read_database
from territory_opt.io.zips import ZIP_REASONS, geocode_zip

__all__ = ["PARQUET_SUFFIXES", "TABLE_SUFFIXES", "VECTOR_SUFFIXES", "read_accounts",
           "read_alignment", "read_deals", "read_distance_matrix", "read_edges",
           "read_locks", "read_potential", "read_reps", "read_table"]

logger = logging.getLogger(__name__)

TABLE_SUFFIXES = {".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".xls"}
VECTOR_SUFFIXES = {".gpkg", ".geojson", ".json", ".shp", ".fgb", ".zip"}
PARQUET_SUFFIXES = {".parquet", ".geoparquet", ".pq"}

PathLike = str | os.PathLike[str]
Source = PathLike | pd.DataFrame | DatabaseSource


# --------------------------------------------------------------------------- reading


def _name(source: Source) -> str:
    if isinstance(source, DatabaseSource):
        return source.label
    return f"'{source}'" if not isinstance(source, pd.DataFrame) else "the table given"


def _is_sheet(source: Source) -> bool:
    """A CSV or Excel file: its rows are named by line (the header is line 1)."""
    return isinstance(source, (str, os.PathLike)) \
        and Path(source).suffix.lower() in TABLE_SUFFIXES


def _source(source: Source, con: Any) -> Source:
    """``source`` as given, or with ``con`` (a SQLAlchemy engine, connection or URL) a
    query or table name on that database."""
    return source if con is None else database_source(source, con)


def _row_labels(source: Source, positions: Sequence[int]) -> str:
    """Human row numbers: the line of a CSV (header is line 1), else 1-based rows."""
    return rows_text(positions, offset=2 if _is_sheet(source) else 1)


def _decode(raw: bytes, encoding: str | None, source: Source) -> tuple[str, str]:
    """The text of a CSV file and the encoding it was read in: UTF-8 (with or without
    a byte-order mark), UTF-16 with its mark, else Windows-1252 (Excel's own), with a
    warning; ``encoding`` overrides."""
    if encoding is not None:
        try:
            return raw.decode(encoding), encoding
        except LookupError:
            raise InputError(f"{_name(source)}: unknown encoding {encoding!r}; use e.g. "
                             "utf-8, cp1252 (Windows) or latin-1") from None
        except UnicodeDecodeError as exc:
            raise InputError(f"{_name(source)} is not {encoding} (byte {exc.start} cannot "
                             "be read); set encoding: to the one the file was saved in "
                             "(utf-8, cp1252, latin-1)") from None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16"), "utf-16"
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as exc:
        text = raw.decode("cp1252", errors="replace")
        warnings.warn(f"{_name(source)} is not UTF-8 (byte {exc.start}); read as "
                      "Windows-1252, as Excel saves CSV files; if names look wrong, set "
                      "encoding: in the scenario (e.g. latin-1)", TerritoryOptWarning,
                      stacklevel=4)
        return text, "cp1252"


def _dialect(text: str, suffix: str, sep: str | None,
             decimal: str | None) -> tuple[str, str]:
    """The separator and decimal mark of a CSV text: ``,`` and ``.``, or as European
    Excel saves it, ``;`` with decimal commas (``12,5``); tabs in ``.tsv`` files."""
    lines = [ln for ln in text.splitlines()[:50] if ln.strip()]
    if sep is None:
        if suffix == ".tsv":
            sep = "\t"
        else:
            counts = {c: min((ln.count(c) for ln in lines), default=0) for c in ",;\t|"}
            header = {c: lines[0].count(c) if lines else 0 for c in counts}
            best = max(counts, key=lambda c: (counts[c], header[c]))
            sep = best if counts[best] > 0 or header[best] > 0 else ","
            if header[";"] > header[","] and counts[";"] > 0:
                sep = ";"
    if decimal is None:
        decimal = "."
        if sep != ",":  # decimal commas: fields such as 33,75 or -84,388
            fields = [f.strip().strip('"') for ln in lines[1:] for f in ln.split(sep)]
            commas = sum(bool(re.fullmatch(r"-?\d+,\d+", f)) for f in fields)
            points = sum(bool(re.fullmatch(r"-?\d+\.\d+", f)) for f in fields)
            decimal = "," if commas > points else "."
    return sep, decimal


def _read_csv(path: Path, source: Source, dtype: dict[str, Any], *,
              encoding: str | None, sep: str | None, decimal: str | None) -> pd.DataFrame:
    text, _ = _decode(path.read_bytes(), encoding, source)
    sep, decimal = _dialect(text, path.suffix.lower(), sep, decimal)
    frame = pd.read_csv(_io.StringIO(text), sep=sep, decimal=decimal, dtype=dtype)
    if frame.shape[1] == 1 and re.search(r"[,;\t|\s]", str(frame.columns[0]).strip()):
        raise InputError(f"{_name(source)}: every line is one column ({frame.columns[0]!r});"
                         " the separator was not recognised; set sep: in the scenario "
                         "(e.g. sep: ';')")
    return frame


def _read_excel(path: Path, source: Source, sheet: str | int | None,
                dtype: dict[str, Any]) -> pd.DataFrame:
    """A sheet of a workbook; a sheet that does not exist is named with those that do."""
    with pd.ExcelFile(path) as book:
        names = [str(n) for n in book.sheet_names]
        if isinstance(sheet, str) and sheet not in names:
            close = difflib.get_close_matches(sheet, names, n=1, cutoff=0.5)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise InputError(f"{_name(source)} has no sheet {sheet!r}; its sheets are: "
                             f"{', '.join(names)}. {hint}Set sheet: in the scenario "
                             "(sheet=... in Python)")
        if isinstance(sheet, int) and not 0 <= sheet < len(names):
            raise InputError(f"{_name(source)} has {len(names)} sheets ({', '.join(names)});"
                             f" sheet {sheet} does not exist (sheets count from 0)")
        frame = pd.read_excel(book, sheet_name=sheet if sheet is not None else 0, dtype=dtype)
        frame.attrs["sheet"] = names[sheet] if isinstance(sheet, int) else (sheet or names[0])
    return frame


def _sheet_with(source: Source, sheet: str, column: str) -> str | None:
    """Another sheet of the workbook ``source`` that has ``column`` (read only when a
    column is missing: the headers alone)."""
    with pd.ExcelFile(Path(source)) as book:  # type: ignore[arg-type]
        return next((str(n) for n in book.sheet_names if str(n) != sheet and column in
                     [str(c) for c in pd.read_excel(book, sheet_name=n, nrows=0).columns]),
                    None)


def read_table(source: Source, *, layer: str | None = None, sheet: str | int | None = None,
               text_columns: Sequence[str] = (), encoding: str | None = None,
               sep: str | None = None, decimal: str | None = None) -> pd.DataFrame:
    """Read a table or vector file into a (Geo)DataFrame, chosen by file suffix.

    Parameters
    ----------
    source
        Path to a CSV, TSV, XLSX, GeoPackage, GeoJSON, Shapefile, FlatGeobuf or
        (Geo)Parquet file, or an in-memory DataFrame (returned as a copy).
    layer
        Layer of a GeoPackage.
    sheet
        Sheet of an Excel workbook (default: the first).
    text_columns
        Columns to keep as text (identifiers such as ZIP codes keep leading zeros).
    encoding, sep, decimal
        CSV only: the text encoding, field separator and decimal mark. By default
        they are recognised: UTF-8 with or without a byte-order mark, UTF-16 with
        one, else Windows-1252 (with a warning); ``,``, ``;``, tab or ``|``;
        decimal commas where the separator is not a comma (European Excel).
    """
    if isinstance(source, pd.DataFrame):
        return source.copy()
    if isinstance(source, DatabaseSource):
        return _text_columns(read_database(source), text_columns)
    path = Path(source)
    if not path.exists():
        raise InputError(f"{_name(source)} does not exist; check the path "
                         f"(relative paths start from {Path.cwd()})")
    if path.is_dir():
        raise InputError(f"{_name(source)} is a folder; give the path of a file in it")
    if path.stat().st_size == 0:
        raise InputError(f"{_name(source)} is empty; export the data again")
    suffix = path.suffix.lower()
    dtype = {c: str for c in text_columns}
    try:
        if suffix in {".csv", ".txt", ".tsv"}:
            frame = _read_csv(path, source, dtype, encoding=encoding, sep=sep,
                              decimal=decimal)
        elif suffix in {".xlsx", ".xlsm", ".xls"}:
            frame = _read_excel(path, source, sheet, dtype)
        elif suffix in VECTOR_SUFFIXES:
            frame = gpd.read_file(path, layer=layer)
        elif suffix in PARQUET_SUFFIXES:
            try:
                frame = gpd.read_parquet(path)
            except ValueError:  # plain parquet without geo metadata
                frame = pd.read_parquet(path)
        else:
            raise InputError(
                f"{_name(source)}: unknown file type {suffix!r}; use CSV, XLSX, "
                "GeoPackage (.gpkg), GeoJSON, Shapefile (.shp) or GeoParquet (.parquet)")
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{_name(source)} could not be read as {suffix or 'a table'} "
                         f"({type(exc).__name__}: {exc}); check that the file is not "
                         "damaged and that its suffix matches its format") from None
    frame = _text_columns(frame, text_columns)
    if len(frame) == 0:
        raise InputError(f"{_name(source)} has no rows; export the data again")
    return frame


def _text_columns(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Identifier columns as text (vector formats, parquet and databases keep their
    own types: 30301 and 30301.0 become '30301')."""
    for col in columns:
        if col in frame.columns and frame[col].dtype != object:
            frame[col] = frame[col].map(lambda v: v if pd.isna(v) else _id_text(v))
    return frame


def _id_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def require_columns(frame: pd.DataFrame, columns: Mapping[str, str | None],
                    source: Source, hints: Mapping[str, str] | None = None) -> None:
    """Raise InputError if mapped columns are missing (every one of them, each with
    close names suggested).

    ``columns`` maps the keyword a user sets (``"id"``) to the column it names;
    ``hints`` adds a keyword's other way out (``id: null``) to its message.
    """
    found = Problems()
    for keyword, column in columns.items():
        with found.check():
            _require_column(frame, keyword, column, source, (hints or {}).get(keyword, ""))
    found.raise_any()


def _require_column(frame: pd.DataFrame, keyword: str, column: str | None,
                    source: Source, hint: str = "") -> None:
    present = [str(c) for c in frame.columns if c != "geometry"]
    if column is None or column in frame.columns:
        return
    close = difflib.get_close_matches(str(column), present, n=3, cutoff=0.5)
    if not close:
        close = [c for c in present if c.lower() == str(column).lower()]
    hint = (f"did you mean {', '.join(repr(c) for c in close)}? "
            if close else "") + hint
    where = ""
    if "sheet" in frame.attrs:
        where = f" (sheet {frame.attrs['sheet']!r})"
        holding = _sheet_with(source, frame.attrs["sheet"], str(column))
        if holding is not None:
            hint += (f"Sheet {holding!r} has that column: set sheet: "
                     f"{holding!r} in the scenario (sheet=... in Python). ")
    raise InputError(
        f"{_name(source)}{where} has no column {column!r} (for {keyword}:); columns "
        f"are: {', '.join(present)}. {hint}Set {keyword}: <column name> in the "
        f"scenario ({keyword}='...' in Python).")


def _named_rows(source: Source, positions: Sequence[int], names: pd.Series | None) -> str:
    """Rows by number (a CSV's line) and, where known, by what they are: ``row 36 (area
    '35' District 35)``; ``names`` holds a label per row of the frame (its id, name)."""
    if names is None:
        return _row_labels(source, positions)
    offset = 2 if _is_sheet(source) else 1
    shown = [f"row {p + offset} ({names.iloc[p]})" for p in positions[:MAX_ROWS_LISTED]]
    more = (f" and {len(positions) - MAX_ROWS_LISTED} more"
            if len(positions) > MAX_ROWS_LISTED else "")
    return ", ".join(shown) + more


def row_names(frame: pd.DataFrame, ids: pd.Series | None, name: str | None,
              what: str) -> pd.Series | None:
    """A label per row for messages: ``account 'A17' (Acme)``, ``area '35' (District
    35)``; None when the rows have neither id nor name."""
    parts = []
    if ids is not None:
        parts.append(what + " " + ids.map(repr).astype(str))
    if name is not None and name in frame.columns:
        parts.append(frame[name].fillna("").astype(str))
    if not parts:
        return None
    label = parts[0]
    for extra in parts[1:]:
        label = label + np.where(extra.str.len() > 0, " " + extra, "")
    return label.reset_index(drop=True)


MISSING = ("error", "zero", "drop")


def numeric_column(frame: pd.DataFrame, column: str, source: Source, *,
                   minimum: float | None = 0.0, allow_missing: bool = False,
                   missing: str = "error", names: pd.Series | None = None) -> pd.Series:
    """The column as floats; bad rows are named in an InputError (by line, and by
    ``names``: each row's id and name, where given).

    Blank values: an error naming them (``missing="error"``), 0 with a warning
    (``"zero"``), or left NaN for the caller to drop the rows (``"drop"``, or
    ``allow_missing`` without a warning).
    """
    if missing not in MISSING:
        raise InputError(f"missing: {missing!r}; use one of {', '.join(MISSING)}")
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce")
    bad_text = values.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
    if bad_text.any():
        pos = np.flatnonzero(bad_text.to_numpy())
        examples = ", ".join(repr(v) for v in raw.iloc[pos[:3]])
        raise InputError(
            f"{_name(source)}, column {column!r}: {_named_rows(source, pos, names)} "
            f"hold text, not numbers ({examples}); write plain numbers such as 12.5")
    blank = values.isna()
    if not allow_missing and blank.any():
        pos = np.flatnonzero(blank.to_numpy())
        rows = _named_rows(source, pos, names)
        if missing == "error":
            raise InputError(
                f"{_name(source)}, column {column!r}: {rows} {'is' if len(pos) == 1 else 'are'}"
                " blank; fill in a number, or say what a blank means: missing: zero (count "
                "it as 0) or missing: drop (leave the row out) under the file's key in the "
                "scenario (missing='zero' in Python)")
        if missing == "zero":
            values = values.fillna(0.0)
        warnings.warn(f"{_name(source)}, column {column!r}: {rows} "
                      f"{'is' if len(pos) == 1 else 'are'} blank: "
                      + ("counted as 0 (missing: zero)" if missing == "zero"
                         else "left out (missing: drop)"), TerritoryOptWarning, stacklevel=3)
    infinite = np.isinf(values.to_numpy(dtype=float))
    if infinite.any():
        raise InputError(f"{_name(source)}, column {column!r}: "
                         f"{_named_rows(source, np.flatnonzero(infinite), names)} are infinite; "
                         "fix the values")
    if minimum is not None and (values < minimum).any():
        pos = np.flatnonzero((values < minimum).to_numpy())
        raise InputError(
            f"{_name(source)}, column {column!r}: {_named_rows(source, pos, names)} are below "
            f"{minimum:g} (e.g. {values.iloc[pos[0]]:g}); fix them or drop those rows")
    return values.astype(float)


def line_ids(frame: pd.DataFrame, source: Source) -> pd.Series:
    """Ids for rows without an id column: their line in a CSV or sheet (the header is
    line 1), else their row number from 1. Stable as long as the file's rows are."""
    offset = 2 if _is_sheet(source) else 1
    return pd.Series([str(i + offset) for i in range(len(frame))], index=frame.index,
                     dtype=object)


def unique_ids(frame: pd.DataFrame, column: str, source: Source) -> pd.Series:
    """The id column as text; blank or duplicated ids are named in an InputError."""
    ids = frame[column]
    blank = ids.isna() | (ids.astype(str).str.strip() == "")
    if blank.any():
        raise InputError(f"{_name(source)}, column {column!r}: "
                         f"{_row_labels(source, np.flatnonzero(blank.to_numpy()))} have no id; "
                         "give every row an id")
    ids = ids.map(_id_text).astype(object)
    dup = ids.duplicated(keep=False)
    if dup.any():
        first = ids[dup].iloc[0]
        pos = np.flatnonzero((ids == first).to_numpy())
        n_dup = int(ids.duplicated().sum())
        raise InputError(
            f"{_name(source)}, column {column!r}: id {first!r} appears on "
            f"{_row_labels(source, pos)} ({n_dup} duplicate ids in all); ids must be "
            "unique: merge or renumber those rows")
    return ids


def to_points(frame: pd.DataFrame, source: Source, *, lat: str | None, lon: str | None,
              x: str | None, y: str | None, crs: object | None) -> gpd.GeoDataFrame:
    """Attach point geometry from lat/lon or x/y columns, or check the file's own."""
    user_crs = parse_crs(crs, where=f"{_name(source)}: crs") if crs is not None else None
    if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame.columns \
            and x is None and (~frame.geometry.isna() & ~frame.geometry.is_empty).any():
        gdf = frame
        if gdf.crs is None:
            if user_crs is None:
                raise InputError(f"{_name(source)} has no CRS (for a Shapefile: no .prj "
                                 "file); set crs: 'EPSG:<code>' in the scenario (crs=... in "
                                 "Python) for the one it is in")
            gdf = gdf.set_crs(user_crs)
        elif user_crs is not None and not gdf.crs.equals(user_crs):
            raise InputError(f"{_name(source)} declares CRS {gdf.crs.to_string()} but "
                             f"crs {crs!r} was given; drop crs: (it is only for files "
                             "without one) or fix the file")
        missing = gdf.geometry.isna() | gdf.geometry.is_empty
        if missing.any():
            raise InputError(f"{_name(source)}: {_row_labels(source, np.flatnonzero(missing))} "
                             "have no geometry; give them a location or drop them")
        return gdf
    if x is not None or y is not None:
        if x is None or y is None:
            raise InputError(f"{_name(source)}: give both x: and y: columns")
        if user_crs is None:
            raise InputError(f"{_name(source)}: x/y coordinates need the CRS they are in; "
                             "set crs: 'EPSG:<code>' in the scenario (crs=... in Python)")
        require_columns(frame, {"x": x, "y": y}, source)
        xs = numeric_column(frame, x, source, minimum=None)
        ys = numeric_column(frame, y, source, minimum=None)
        return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(xs, ys), crs=user_crs)
    require_columns(frame, {"lat": lat, "lon": lon}, source)
    assert lat is not None and lon is not None
    lats = numeric_column(frame, lat, source, minimum=None, allow_missing=True)
    lons = numeric_column(frame, lon, source, minimum=None, allow_missing=True)
    blank = lats.isna() | lons.isna()
    if blank.any():
        col = lat if lats.isna().any() else lon
        raise InputError(f"{_name(source)}, column {col!r}: "
                         f"{_row_labels(source, np.flatnonzero(blank.to_numpy()))} have no "
                         f"coordinates; {_location_fix(frame, lat)}")
    nowhere = (lats == 0) & (lons == 0)
    if nowhere.any():
        raise InputError(f"{_name(source)}: {_row_labels(source, np.flatnonzero(nowhere))} "
                         "lie at latitude 0, longitude 0 (in the Atlantic), which exports "
                         f"write for a missing location; {_location_fix(frame, lat)}")
    bad_lat, bad_lon = lats.abs() > 90, lons.abs() > 180
    if bad_lat.any() or bad_lon.any():
        swapped = bad_lat.any() and not (lons.abs() > 90).any()
        col, bad = (lat, bad_lat) if bad_lat.any() else (lon, bad_lon)
        hint = (f"it looks like {lat!r} and {lon!r} are swapped: set lat: {lon!r} and "
                f"lon: {lat!r} in the scenario" if swapped else "fix the coordinates, or "
                "use x:, y: and crs: if they are projected")
        raise InputError(f"{_name(source)}, column {col!r}: "
                         f"{_row_labels(source, np.flatnonzero(bad.to_numpy()))} are out of "
                         f"range for degrees; {hint}")
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(lons, lats),
                            crs=user_crs or "EPSG:4326")


def _location_fix(frame: pd.DataFrame, lat: str) -> str:
    """What to do about rows without a real location: place them by ZIP code where
    the file has a ZIP column, never write 0."""
    code = guess_column([str(c) for c in frame.columns if not str(c).startswith("_zip")],
                        "zip")
    if code is not None and not lat.startswith("_zip"):
        return (f"the file has ZIP codes (column {code!r}): set zip: {code!r} in the "
                "scenario (zip=... in Python) to place these accounts at their ZIP code, "
                "the others staying at their coordinates; or fill in their coordinates")
    return "fill in their coordinates, or drop those rows (never write 0 for unknown)"


def _canonical(gdf: gpd.GeoDataFrame, renames: Mapping[str, str]) -> gpd.GeoDataFrame:
    """Rename mapped columns to canonical names; other columns keep theirs."""
    drop = [c for c in renames.values() if c in gdf.columns and c not in renames]
    out = gdf.drop(columns=drop).rename(columns=dict(renames))
    return out.set_geometry("geometry") if "geometry" in out.columns else out


def read_accounts(
    source: Source, *, id: str | None = "account_id", workload: str | None = "workload",
    lat: str | None = "lat", lon: str | None = "lon", x: str | None = None,
    y: str | None = None, crs: object | None = None, layer: str | None = None,
    sheet: str | int | None = None, zip: str | None = None,
    unplaced: Literal["error", "drop"] = "error", name: str | None = None,
    segment: str | None = None, missing: Literal["error", "zero", "drop"] = "error",
    encoding: str | None = None, sep: str | None = None, decimal: str | None = None,
    con: Any = None,
) -> gpd.GeoDataFrame:
    """Read customer accounts as points.

    Parameters
    ----------
    source
        File (CSV, XLSX, GeoPackage, GeoJSON, Shapefile, GeoParquet) or DataFrame;
        with ``con``, a SQL query or a table name.
    id
        Column with a unique account id; ``None`` for an export without one: the
        accounts are numbered by their line in the file (header = line 1; rows
        of a table or layer from 1), and ``accounts.attrs["numbered"]`` says so.
    workload
        Column with the workload (e.g. visit-hours per year); ``None`` gives
        every account a workload of 1.
    missing
        What a blank workload means: ``"error"`` (the default: the message
        names each such account by line, id and name), ``"zero"`` (0, with a
        warning) or ``"drop"`` (the account is left out, with a warning).
    lat, lon
        Columns in degrees (WGS 84 unless ``crs`` says otherwise).
    x, y, crs
        Projected coordinate columns and their CRS, instead of lat/lon. For a
        vector file without a CRS, ``crs`` sets it.
    layer, sheet
        GeoPackage layer or Excel sheet.
    zip
        Column with US ZIP codes: accounts without coordinates (blank, or 0, 0)
        are placed at their ZIP code's centroid (offline, from the ``zipcodes``
        package); accounts with ``lat``/``lon`` keep them. Without ``lat``/``lon``
        columns every account is placed by ZIP code. How many were is in
        ``accounts.attrs["placed_by_zip"]``.
    name
        Column with the account's name (shown on maps; checked for duplicates);
        read as ``name``.
    segment
        Column with the account's segment (e.g. ``hospital``, ``key account``),
        read as ``segment``: which reps may serve it (see :func:`read_reps`'s
        ``segments``) and which bands restricted to a segment count it. Every
        account needs one.
    encoding, sep, decimal
        CSV text encoding, separator and decimal mark, when they are not
        recognised (see :func:`read_table`).
    con
        A SQLAlchemy engine or connection (or a ``postgresql://`` URL) that
        ``source`` is read from; a PostGIS geometry column of the result gives
        the points, else ``lat``/``lon`` as for a file (every reader takes it).
    unplaced
        What to do with rows whose ZIP code cannot be placed (blank, malformed
        or unknown): ``"error"`` raises an :class:`InputError` listing them;
        ``"drop"`` leaves them out with a warning that names them, and lists them
        (line, account id, ZIP, reason) in ``accounts.attrs["unplaced"]``.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``account_id`` (text), ``workload`` (float), the file's other
        columns, and point geometry.
    """
    source = _source(source, con)
    frame = read_table(source, layer=layer, sheet=sheet,
                       text_columns=([id] if id else []) + ([zip] if zip else [])
                       + ([segment] if segment else []),
                       encoding=encoding, sep=sep, decimal=decimal)
    found = Problems()  # every problem of the file at once
    with found.check():
        require_columns(frame, {"id": id, "workload": workload, "zip": zip, "name": name,
                                "segment": segment}, source,
                        hints={"id": "An export without ids: id: null numbers the accounts "
                                     "by their line (id=None in Python). "})
    has = frame.columns
    ids = line_ids(frame, source) if id is None else None
    if id in has:
        with found.check():
            ids = unique_ids(frame, id, source)
    if segment in has:
        with found.check():
            frame = frame.assign(**{segment: segment_column(frame, segment, source)})
    work = pd.Series(1.0, index=frame.index)
    if workload in has:
        with found.check():
            work = numeric_column(frame, workload, source, missing=missing,
                                  names=row_names(frame, ids, name, "account"))
    points = None
    if zip is None:
        with found.check():
            points = to_points(frame, source, lat=lat, lon=lon, x=x, y=y, crs=crs)
    found.raise_any()
    assert ids is not None
    if work.isna().any():  # missing: drop
        keep = work.notna()
        frame, ids, work = frame[keep], ids[keep], work[keep]
    dropped: list[dict[str, Any]] = []
    by_zip = 0
    if zip is not None:
        keep = None  # rows placed by their own coordinates
        if x is None and lat in frame.columns and lon in frame.columns \
                and not isinstance(frame, gpd.GeoDataFrame):
            lats = numeric_column(frame, lat, source, minimum=None, allow_missing=True)
            lons = numeric_column(frame, lon, source, minimum=None, allow_missing=True)
            keep = (lats.notna() & lons.notna() & ~((lats == 0) & (lons == 0))).to_numpy()
            frame = frame.assign(_zip_lat=lats, _zip_lon=lons)
        frame, dropped, by_zip = _place_by_zip(frame, zip, source, ids, unplaced, keep=keep)
        ids, work = ids[frame.index], work[frame.index]
        lat, lon, x, y, crs = "_zip_lat", "_zip_lon", None, None, None
    gdf = (points.loc[frame.index] if points is not None
           else to_points(frame, source, lat=lat, lon=lon, x=x, y=y, crs=crs))
    if zip is not None:
        gdf = gdf.drop(columns=["_zip_lat", "_zip_lon"])
        logger.info("%s: %d accounts placed by ZIP code", _name(source), by_zip)
    if not (gdf.geometry.geom_type == "Point").all():
        raise InputError(f"{_name(source)}: accounts must be points; found "
                         f"{sorted(set(gdf.geometry.geom_type))}")
    gdf = _canonical(gdf, ({id: "account_id"} if id else {})
                     | ({workload: "workload"} if workload else {})
                     | ({name: "name"} if name else {})
                     | ({segment: "segment"} if segment else {}))
    gdf["account_id"] = ids.to_numpy()
    gdf["workload"] = work.to_numpy()
    if name is not None:
        gdf["name"] = gdf["name"].fillna("").astype(str).to_numpy()
    gdf = gdf.reset_index(drop=True)
    if zip is not None:
        gdf.attrs["unplaced"] = dropped
        gdf.attrs["placed_by_zip"] = by_zip
    if id is None:
        gdf.attrs["numbered"] = "line" if _is_sheet(source) else "row"
    return gdf


def _place_by_zip(frame: pd.DataFrame, column: str, source: Source, ids: pd.Series,
                  unplaced: str, noun: str = "accounts", keep: np.ndarray | None = None,
                  ) -> tuple[pd.DataFrame, list[dict[str, Any]], int]:
    """Rows of ``frame`` with ``_zip_lat``/``_zip_lon`` from their ZIP code (except
    the ``keep`` rows, whose own ``_zip_lat``/``_zip_lon`` stay), the rows left out
    (or an InputError listing them) and how many were placed by ZIP code."""
    if unplaced not in ("error", "drop"):
        raise InputError(f"unplaced={unplaced!r}; use 'error' or 'drop'")
    if isinstance(frame, gpd.GeoDataFrame):
        frame = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    if keep is None:
        keep = np.zeros(len(frame), dtype=bool)
    lat, lon, reasons = geocode_zip(frame[column])
    reasons = ["" if k else r for k, r in zip(keep, reasons, strict=True)]
    if keep.any():
        lat = np.where(keep, frame["_zip_lat"].to_numpy(dtype=float), lat)
        lon = np.where(keep, frame["_zip_lon"].to_numpy(dtype=float), lon)
    missing = np.array([r != "" for r in reasons])
    offset = 2 if _is_sheet(source) else 1
    dropped = [{"line": int(p) + offset, f"{noun[:-1]}_id": ids.iloc[p],
                "zip": "" if pd.isna(frame[column].iloc[p]) else str(frame[column].iloc[p]),
                "reason": ZIP_REASONS[reasons[p]]} for p in np.flatnonzero(missing)]
    if missing.all():
        raise InputError(f"{_name(source)}, column {column!r}: no ZIP code could be placed; "
                         "is it the right column? (e.g. "
                         f"{frame[column].iloc[0]!r})")
    if dropped:
        shown = "; ".join(f"{'line' if offset == 2 else 'row'} {d['line']} "
                          f"({d[f'{noun[:-1]}_id']}, {d['zip']!r}): {d['reason']}"
                          for d in dropped[:MAX_ROWS_LISTED])
        more = f"; and {len(dropped) - MAX_ROWS_LISTED} more" \
            if len(dropped) > MAX_ROWS_LISTED else ""
        what = (f"{_name(source)}, column {column!r}: {len(dropped)} of {len(frame)} "
                f"{noun} could not be placed by ZIP code ({shown}{more})")
        if unplaced == "error":
            drop = ("" if noun == "reps" else ", or set unplaced: drop in the scenario "
                    "(unplaced='drop' in Python) to leave them out and list them")
            raise InputError(f"{what}; fix those codes{' or' if not drop else ','} add "
                             f"lat/lon columns for them{drop}")
        warnings.warn(f"{what}; left out (listed in unplaced_accounts.csv of a scenario "
                      "run, or accounts.attrs['unplaced'])", TerritoryOptWarning, stacklevel=3)
    placed = frame.assign(_zip_lat=lat, _zip_lon=lon)[~missing]
    return placed, dropped, int((~keep & ~missing).sum())


def read_potential(
    source: Source, *, value: str = "population", id: str | None = None,
    lat: str | None = "lat", lon: str | None = "lon", x: str | None = None,
    y: str | None = None, crs: object | None = None, layer: str | None = None,
    sheet: str | int | None = None, encoding: str | None = None, sep: str | None = None,
    decimal: str | None = None, name: str | None = None,
    missing: Literal["error", "zero", "drop"] = "error", con: Any = None,
) -> gpd.GeoDataFrame:
    """Read a market-potential layer: polygons (or points) with a value each.

    Returns a GeoDataFrame with ``potential_id`` (text; row numbers when ``id``
    is None), ``potential`` (float, at least 0), ``name`` (from the ``name``
    column, e.g. a county's name, shown in reports), the other columns and
    geometry. A blank value is an error naming the area (``missing="error"``),
    0 (``"zero"``) or leaves the area out (``"drop"``), with a warning.
    """
    source = _source(source, con)
    frame = read_table(source, layer=layer, sheet=sheet, text_columns=[id] if id else [],
                       encoding=encoding, sep=sep, decimal=decimal)
    found = Problems()
    with found.check():
        require_columns(frame, {"value": value, "id": id, "name": name}, source)
    ids = line_ids(frame, source)
    if id in frame.columns:
        with found.check():
            ids = unique_ids(frame, id, source)
    vals = pd.Series(0.0, index=frame.index)
    if value in frame.columns:
        with found.check():
            vals = numeric_column(frame, value, source, missing=missing,
                                  names=row_names(frame, ids, name, "area"))
    with found.check():
        gdf = to_points(frame, source, lat=lat, lon=lon, x=x, y=y, crs=crs)
    found.raise_any()
    if vals.isna().any():  # missing: drop
        keep = vals.notna()
        gdf, ids, vals = gdf[keep], ids[keep], vals[keep]
    invalid = ~gdf.geometry.is_valid
    if invalid.any():
        rows = _row_labels(source, np.flatnonzero(invalid.to_numpy()))
        warnings.warn(f"{_name(source)}: {rows} had invalid geometries (e.g. a "
                      "self-intersecting ring); repaired with make_valid; check them",
                      TerritoryOptWarning, stacklevel=2)
        gdf = gdf.copy()
        gdf.loc[invalid, "geometry"] = gdf.geometry[invalid].make_valid()
    gdf = _canonical(gdf, {value: "potential"} | ({id: "potential_id"} if id else {})
                     | ({name: "name"} if name else {}))
    gdf["potential_id"] = ids.to_numpy()
    gdf["potential"] = vals.to_numpy()
    if name is not None:
        gdf["name"] = gdf["name"].fillna("").astype(str).to_numpy()
    return gdf.reset_index(drop=True)


def read_reps(
    source: Source, *, id: str = "rep_id", name: str | None = "name",
    fte: str | None = "fte", territory: str | None = "territory",
    lat: str | None = "lat", lon: str | None = "lon", x: str | None = None,
    y: str | None = None, crs: object | None = None, layer: str | None = None,
    sheet: str | int | None = None, zip: str | None = None, encoding: str | None = None,
    sep: str | None = None, decimal: str | None = None, segments: str | None = None,
    region: str | None = None, con: Any = None,
) -> gpd.GeoDataFrame:
    """Read sales reps: one territory each, with a home base and an FTE.

    Optional columns: ``name`` (defaults to the id), ``fte`` (defaults to 1.0;
    must be above 0), ``territory`` (a label; defaults to T01, T02, ...). The home
    base is ``lat``/``lon``, ``x``/``y`` with ``crs``, the file's own points, or
    with ``zip`` the centroid of the rep's US ZIP code (every rep must be placed).
    ``segments`` names a column listing the account segments each rep may serve,
    separated by ``;`` (or ``,``); blank means every segment. Read as
    ``segments``, a tuple per rep (empty: every segment). ``region`` names a
    column with each rep's region (the manager's level above the territories;
    every rep needs one), read as ``region``.
    """
    source = _source(source, con)
    frame = read_table(source, layer=layer, sheet=sheet,
                       text_columns=[id] + ([zip] if zip else [])
                       + ([segments] if segments else []) + ([region] if region else []),
                       encoding=encoding, sep=sep, decimal=decimal)
    optional = {"name": name, "fte": fte, "territory": territory}
    defaults = {"name": "name", "fte": "fte", "territory": "territory"}
    for key, col in optional.items():  # a default column may be absent; a named one not
        if col == defaults[key] and col not in frame.columns:
            optional[key] = None
    found = Problems()
    with found.check():
        require_columns(frame, {"id": id, "zip": zip, "segments": segments, "region": region}
                        | optional, source)
    ids, ftes, points = None, pd.Series(1.0, index=frame.index), None
    if id in frame.columns:
        with found.check():
            ids = unique_ids(frame, id, source)
    if optional["fte"] in frame.columns:
        with found.check():
            ftes = numeric_column(frame, optional["fte"], source)
    if zip is None:  # with zip: placed below, by ZIP code
        with found.check():
            points = to_points(frame, source, lat=lat, lon=lon, x=x, y=y, crs=crs)
    found.raise_any()
    assert ids is not None
    regions = None if region is None else segment_column(
        frame, region, source, what="region",
        fix="give every rep the region they report to (one region for all is fine)")
    served = (None if segments is None
              else [segment_list(v) for v in frame[segments].to_numpy()])
    if zip is not None:  # every rep placed (an error otherwise): the same rows
        frame, _, _ = _place_by_zip(frame, zip, source, ids, "error", noun="reps")
        points = to_points(frame, source, lat="_zip_lat", lon="_zip_lon", x=None, y=None,
                           crs=None)
    if (ftes <= 0).any():
        pos = np.flatnonzero((ftes <= 0).to_numpy())
        raise InputError(f"{_name(source)}, column {optional['fte']!r}: "
                         f"{_row_labels(source, pos)} have an FTE of 0 or less; a rep "
                         "works a positive share of a full-time week (e.g. 0.5): fix it "
                         "or remove the rep")
    assert points is not None
    gdf = points
    renames = {id: "rep_id"} | {col: key for key, col in optional.items() if col}
    gdf = _canonical(gdf, renames).drop(columns=["_zip_lat", "_zip_lon"], errors="ignore")
    gdf["rep_id"] = ids.to_numpy()
    gdf["fte"] = ftes.to_numpy()
    gdf["name"] = (frame[optional["name"]].astype(str).to_numpy() if optional["name"]
                   else gdf["rep_id"])
    if optional["territory"]:
        gdf["territory"] = unique_ids(frame, optional["territory"], source).to_numpy()
    else:
        gdf["territory"] = [f"T{i + 1:02d}" for i in range(len(gdf))]
    if served is not None:
        gdf = gdf.drop(columns=[segments], errors="ignore")
        gdf["segments"] = pd.Series(served, dtype=object).to_numpy()
    if regions is not None:
        gdf = gdf.drop(columns=[region], errors="ignore")
        gdf["region"] = regions.to_numpy()
    if not (gdf.geometry.geom_type == "Point").all():
        gdf["geometry"] = gdf.geometry.representative_point()
    return gdf.reset_index(drop=True)


def segment_column(frame: pd.DataFrame, column: str, source: Source, *,
                   what: str = "segment",
                   fix: str = "give every account one (e.g. 'general' for those any rep "
                              "may serve)") -> pd.Series:
    """The segment (or region) of every row as stripped text; a blank one is an error
    naming the rows."""
    values = frame[column].map(lambda v: "" if pd.isna(v) else _id_text(v).strip())
    blank = np.flatnonzero((values == "").to_numpy())
    if len(blank):
        raise InputError(f"{_name(source)}, column {column!r}: no {what} in "
                         f"{_row_labels(source, blank)}; {fix}")
    return values


def segment_list(value: Any) -> tuple[str, ...]:
    """A rep's segments from ``"hospital; clinic"`` or a list (blank: every segment,
    ``()``)."""
    if isinstance(value, (tuple, list)):
        return tuple(dict.fromkeys(str(v).strip() for v in value if str(v).strip()))
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ()
    parts = re.split(r"[;,]", _id_text(value))
    return tuple(dict.fromkeys(p.strip() for p in parts if p.strip()))


def _read_account_reps(source: Source, *, id: str, rep: str, sheet: str | int | None,
                       blank_ok: bool = False, noun: str = "rep") -> dict[str, str]:
    frame = read_table(source, sheet=sheet, text_columns=[id, rep])
    require_columns(frame, {"id": id, "rep": rep}, source)
    ids = unique_ids(frame, id, source)
    reps = frame[rep].map(lambda v: v if pd.isna(v) or not str(v).strip() else _id_text(v))
    reps = reps.where(reps.map(lambda v: not pd.isna(v) and bool(str(v).strip())))
    if blank_ok:  # no owner today: the account is new
        return {a: r for a, r in zip(ids, reps, strict=True) if not pd.isna(r)}
    if reps.isna().any():
        raise InputError(f"{_name(source)}, column {rep!r}: "
                         f"{_row_labels(source, np.flatnonzero(reps.isna().to_numpy()))} "
                         f"have no {noun}; give each account a {noun} (or drop the row)")
    return dict(zip(ids, reps, strict=True))


def read_locks(source: Source, *, id: str = "account_id", rep: str = "rep_id",
               sheet: str | int | None = None, noun: str = "rep",
               con: Any = None) -> dict[str, str]:
    """Read locked assignments: a table of account (or unit) ids and rep ids (or, with
    ``noun="region"``, region names in column ``rep``)."""
    source = _source(source, con)
    return _read_account_reps(source, id=id, rep=rep, sheet=sheet, noun=noun)


def read_alignment(source: Source, *, id: str = "account_id", rep: str = "rep_id",
                   sheet: str | int | None = None, con: Any = None) -> dict[str, str]:
    """Read the current alignment (account id to rep id), e.g. a CRM owner export or
    last year's ``crm_assignments.csv``; an account with no rep (blank) counts as new."""
    source = _source(source, con)
    return _read_account_reps(source, id=id, rep=rep, sheet=sheet, blank_ok=True)


def read_deals(
    source: Source, *, account: str = "account_id", amount: str = "amount",
    stage: str = "stage", created: str = "created", closed: str = "closed", won: str = "won",
    sheet: str | int | None = None, con: Any = None,
) -> pd.DataFrame:
    """Read CRM deals (opportunities) for the sales metrics of the report.

    One row per deal: the account it belongs to, its amount, its stage (text,
    shown as is), the date it was created and, once closed, the date it
    closed and whether it was won (true/false, yes/no or 1/0).

    Returns
    -------
    pandas.DataFrame
        Columns ``account_id`` (text), ``amount``, ``stage``, ``created``,
        ``closed`` (dates; NaT while open) and ``won`` (bool; False while open).
    """
    source = _source(source, con)
    frame = read_table(source, sheet=sheet, text_columns=[account])
    require_columns(frame, {"account": account, "amount": amount, "stage": stage,
                            "created": created, "closed": closed, "won": won}, source)
    blank = frame[account].isna() | (frame[account].astype(str).str.strip() == "")
    if blank.any():
        raise InputError(f"{_name(source)}, column {account!r}: "
                         f"{_row_labels(source, np.flatnonzero(blank.to_numpy()))} have no "
                         "account; give every deal its account id")
    dates = {}
    for key, col in (("created", created), ("closed", closed)):
        parsed = pd.to_datetime(frame[col], errors="coerce", format="mixed")
        bad = parsed.isna() & frame[col].notna() & (frame[col].astype(str).str.strip() != "")
        if bad.any() or (key == "created" and parsed.isna().any()):
            pos = np.flatnonzero((bad | parsed.isna()).to_numpy() if key == "created"
                                 else bad.to_numpy())
            raise InputError(f"{_name(source)}, column {col!r}: {_row_labels(source, pos)} "
                             "are not dates; write dates such as 2026-03-31"
                             + (" (every deal needs one)" if key == "created" else ""))
        dates[key] = parsed
    flags = frame[won].map(_flag)
    if flags.isna().any():
        pos = np.flatnonzero(flags.isna().to_numpy())
        raise InputError(f"{_name(source)}, column {won!r}: {_row_labels(source, pos)} are "
                         "not true/false; write true or false (yes/no, 1/0)")
    early = dates["closed"] < dates["created"]
    if early.any():
        raise InputError(f"{_name(source)}: {_row_labels(source, np.flatnonzero(early))} "
                         f"close ({closed!r}) before they were created ({created!r}); fix "
                         "the dates")
    return pd.DataFrame({
        "account_id": frame[account].map(_id_text).astype(object),
        "amount": numeric_column(frame, amount, source, minimum=0.0),
        "stage": frame[stage].astype(str), "created": dates["created"],
        "closed": dates["closed"], "won": flags.astype(bool) & dates["closed"].notna(),
    })


def _flag(value: Any) -> bool | None:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return False  # an open deal
    text = str(value).strip().lower()
    if text in {"true", "yes", "y", "1", "1.0", "won"}:
        return True
    if text in {"false", "no", "n", "0", "0.0", "lost", ""}:
        return False
    return None


def read_distance_matrix(
    source: Source, *, origin: str = "origin", destination: str = "destination",
    cost: str = "cost", sheet: str | int | None = None, con: Any = None,
) -> pd.DataFrame:
    """Read a distance or travel-time matrix.

    Long form: one row per pair, columns ``origin, destination, cost`` (names
    configurable). Dense form: the first column holds the origin ids and every
    other column is a destination id. The form is detected from the columns.

    Returns
    -------
    pandas.DataFrame
        Indexed by origin id (text), one column per destination id (text).
        Missing pairs are NaN: :class:`territory_opt.TerritoryProblem` names
        the first one it needs.
    """
    source = _source(source, con)
    frame = read_table(source, sheet=sheet, text_columns=[origin, destination])
    if origin in frame.columns and destination in frame.columns:
        require_columns(frame, {"cost": cost}, source)
        values = numeric_column(frame, cost, source, minimum=0.0)
        long = pd.DataFrame({"o": frame[origin].map(_id_text), "d": frame[destination].map(
            _id_text), "c": values})
        dup = long.duplicated(["o", "d"], keep=False)
        if dup.any():
            first = long[dup].iloc[0]
            raise InputError(f"{_name(source)}: the pair {first['o']!r} -> {first['d']!r} "
                             f"appears on {_row_labels(source, np.flatnonzero(dup.to_numpy()))}"
                             "; give each pair once")
        return long.pivot(index="o", columns="d", values="c")
    first = frame.columns[0]
    dense = frame.set_index(first)
    dense.index = [_id_text(i) for i in dense.index]
    dense.columns = [_id_text(c) for c in dense.columns]
    for col in dense.columns:
        dense[col] = numeric_column(dense.reset_index(drop=True), col, source,
                                    allow_missing=True).to_numpy()
    return dense


def read_edges(source: Source, *, a: str = "a", b: str = "b",
               con: Any = None) -> list[tuple[str, str]]:
    """Read an adjacency edge list: one row per pair of neighbouring unit ids."""
    source = _source(source, con)
    frame = read_table(source, text_columns=[a, b])
    require_columns(frame, {"a": a, "b": b}, source)
    blank = frame[a].isna() | frame[b].isna()
    if blank.any():
        raise InputError(f"{_name(source)}: {_row_labels(source, np.flatnonzero(blank))} lack a "
                         "unit id; give both ends of every edge")
    return list(zip(frame[a].map(_id_text), frame[b].map(_id_text), strict=True))
