"""Offline US ZIP-code geocoding, from the table the ``zipcodes`` package ships."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

import numpy as np

from territory_opt.errors import InputError

__all__ = ["ZIP_REASONS", "geocode_zip", "normalise_zip", "zip_centroids", "zip_states"]

ZIP_REASONS = {"blank": "no ZIP code", "malformed": "not a US ZIP code (5 digits, or ZIP+4)",
               "unknown": "ZIP code not in the zipcodes database (retired, or a typo)",
               "nowhere": "ZIP code without a location (military APO/FPO or a unique "
                          "code the database places at 0, 0)"}


@functools.lru_cache(maxsize=1)
def zip_centroids() -> dict[str, tuple[float, float]]:
    """``{zip: (lat, lon)}`` for every US ZIP code of the ``zipcodes`` package
    (offline data shipped inside the package; retired codes included)."""
    try:
        import zipcodes
    except ImportError:
        raise InputError("geocoding ZIP codes needs the zipcodes package: "
                         "pip install zipcodes") from None
    return {r["zip_code"]: (float(r["lat"]), float(r["long"])) for r in zipcodes.list_all()
            if r.get("lat") not in (None, "") and r.get("long") not in (None, "")}


@functools.lru_cache(maxsize=1)
def zip_states() -> dict[str, str]:
    """``{zip: state}`` (two-letter code) for every US ZIP code of ``zipcodes``."""
    import zipcodes

    return {r["zip_code"]: str(r.get("state") or "") for r in zipcodes.list_all()}


def normalise_zip(value: object) -> str | None:
    """The 5-digit ZIP code in a CRM value, or None if there is none.

    Accepts ``"30301"``, ``"30301-1234"``, ``"30301 1234"``, ``"303011234"``, and
    numbers from spreadsheets that dropped leading zeros (``3101`` or ``3101.0``
    is ``"03101"``).
    """
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return None
    if isinstance(value, (int, np.integer)) or (isinstance(value, (float, np.floating))
                                                and float(value).is_integer()):
        text = str(int(value))
        text = text.zfill(9)[:5] if 7 <= len(text) <= 9 else text  # ZIP+4 as a number
    else:
        text = re.sub(r"\.0+$", "", str(value).strip())  # 30301.0 from a float column
    match = re.fullmatch(r"(\d{5})(?:[-\s]?\d{4})?|(\d{3,4})", text)
    if match is None:
        return None
    return match.group(1) or match.group(2).zfill(5)


def geocode_zip(values: Iterable[object]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Offline ZIP-code geocoding: each value's ZIP centroid.

    Parameters
    ----------
    values
        ZIP codes as text or numbers (see :func:`normalise_zip`).

    Returns
    -------
    lat, lon, reasons
        Degrees (WGS 84; NaN where not placed) and, per value, ``""`` when
        placed or why not: ``"blank"``, ``"malformed"``, ``"unknown"`` or
        ``"nowhere"`` (a code the database places at 0, 0; keys of
        :data:`ZIP_REASONS`).
    """
    table = zip_centroids()
    lat, lon, reasons = [], [], []
    for value in values:
        blank = value is None or (isinstance(value, float) and np.isnan(value)) \
            or str(value).strip() == ""
        code = None if blank else normalise_zip(value)
        where = table.get(code) if code else None
        nowhere = where is not None and where[0] == 0 and where[1] == 0
        where = None if nowhere else where
        lat.append(where[0] if where else np.nan)
        lon.append(where[1] if where else np.nan)
        reasons.append("" if where else "blank" if blank else "malformed" if code is None
                       else "nowhere" if nowhere else "unknown")
    return np.array(lat, dtype=float), np.array(lon, dtype=float), reasons
