"""The bundled demo data (real Georgia geography, synthetic account figures).

See ``data/README.md`` for what is real and what is synthetic.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd

from territory_opt.errors import InputError
from territory_opt.io import read_accounts, read_potential, read_reps

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
    population as market potential, and 12 reps.
    """
    paths = georgia_paths()
    return (read_accounts(paths["accounts"]),
            read_potential(paths["potential"], value="population", id="fips"),
            read_reps(paths["reps"]))
