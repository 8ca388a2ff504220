"""Writing a run's outputs: a whole folder or nothing at all."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from territory_opt.errors import InputError
from territory_opt.geo import split_antimeridian

__all__ = ["MANIFEST", "Content", "is_replaceable", "read_run", "sha256_file", "write_outputs"]

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"

PathLike = str | os.PathLike[str]


def read_run(folder: PathLike, *, needs: tuple[str, ...] = ("assignments.csv",)
             ) -> tuple[dict[str, Any], pd.DataFrame]:
    """A finished run folder's manifest and ``assignments.csv`` (as text); a missing
    folder, manifest or any file of ``needs`` is an error naming it."""
    path = Path(folder)
    if not (path / MANIFEST).is_file():
        raise InputError(f"'{path}' is not a territory_opt run (no {MANIFEST}); give the "
                         "output folder of `territory-opt run`")
    for name in needs:
        if not (path / name).is_file():
            raise InputError(f"'{path}' has no {name}; re-run its scenario to rewrite it")
    manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    assign = pd.read_csv(path / "assignments.csv", dtype=str, keep_default_na=False)
    return manifest, assign


def sha256_file(path: PathLike) -> str:
    """SHA-256 of a file's bytes, in hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


Content = str | bytes | Path | pd.DataFrame | Mapping[str, gpd.GeoDataFrame] | Mapping[str, Any]


def _write_one(path: Path, content: Content) -> None:
    suffix = path.suffix.lower()
    if isinstance(content, Path):  # a finished folder (a run of a sweep), moved in
        if not content.is_dir():
            raise TypeError(f"{content} is not a folder to move to {path.name}")
        shutil.move(content, path)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    elif isinstance(content, pd.DataFrame) and suffix == ".csv":
        content.to_csv(path, index=False, lineterminator="\n")
    elif isinstance(content, Mapping) and suffix == ".gpkg":
        for layer, gdf in content.items():
            gdf.to_file(path, layer=layer, driver="GPKG")
    elif isinstance(content, gpd.GeoDataFrame) and suffix == ".geojson":
        split_antimeridian(content).to_file(path, driver="GeoJSON")
    elif isinstance(content, gpd.GeoDataFrame) and suffix == ".parquet":
        content.to_parquet(path, index=False)
    elif isinstance(content, gpd.GeoDataFrame) and path.name.endswith(".shp.zip"):
        content.to_file(path, driver="ESRI Shapefile")
    elif isinstance(content, Mapping) and suffix == ".xlsx":
        with pd.ExcelWriter(path, engine="openpyxl") as book:
            for sheet, frame in content.items():
                frame.to_excel(book, sheet_name=sheet, index=False)
    elif isinstance(content, Mapping) and suffix == ".json":
        path.write_text(json.dumps(content, indent=2, sort_keys=False, default=str) + "\n",
                        encoding="utf-8")
    else:
        raise TypeError(f"cannot write {type(content).__name__} to {path.name}")


def is_replaceable(out: Path) -> bool:
    """A folder we may replace: missing, empty, or an earlier territory_opt output."""
    if not out.exists():
        return True
    return out.is_dir() and (not any(out.iterdir()) or (out / MANIFEST).is_file())


def write_outputs(out_dir: PathLike, files: Mapping[str, Content]) -> Path:
    """Write every file of a run into ``out_dir``, all or nothing.

    The files are written into a temporary folder beside ``out_dir``, which then
    replaces ``out_dir`` by renames. If anything fails, ``out_dir`` keeps its
    previous content. Only a missing or empty folder, or one holding an
    earlier run (with its ``manifest.json``), is replaced, so pointing the output
    at a folder of your own files is refused instead of emptying it.

    Parameters
    ----------
    out_dir
        The output folder.
    files
        File name (no folders) to content: ``str`` or ``bytes``; a DataFrame
        for ``.csv``; a mapping of layer name to GeoDataFrame for ``.gpkg``; a
        JSON-able mapping for ``.json``; a :class:`~pathlib.Path` of a finished
        folder is moved in under that name.

    Returns
    -------
    pathlib.Path
        The absolute output folder.
    """
    out = Path(out_dir).absolute()
    if out.exists() and not out.is_dir():
        raise InputError(f"output folder '{out}' is a file; choose a folder path "
                         "(e.g. --out out/run1)")
    if not is_replaceable(out):
        raise InputError(f"output folder '{out}' holds files that are not a territory_opt "
                         "run (no manifest.json); choose an empty or new folder so that "
                         "nothing of yours is overwritten")
    for name in files:
        if Path(name).name != name or name in {"", ".", ".."}:
            raise ValueError(f"output file name {name!r} must not contain folders")
    blocker = next((p for p in out.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise InputError(f"cannot write to '{out}': '{blocker}' is a file, not a folder; "
                         "choose another output folder")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    except OSError as exc:
        raise InputError(f"cannot write to '{out.parent}' ({exc.strerror}); choose an "
                         "output folder you may write to") from None
    try:
        for name, content in files.items():
            _write_one(tmp / name, content)
        os.chmod(tmp, 0o755)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, old / out.name)
            try:
                os.replace(tmp, out)
            except BaseException:
                os.replace(old / out.name, out)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("wrote %d files to %s", len(files), out)
    return out
