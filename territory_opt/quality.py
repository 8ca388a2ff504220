"""The data-quality gate: what in the accounts a person would call wrong.

The readers stop on what cannot be right (blank or impossible coordinates, an
account at latitude 0, longitude 0, text in a number column). This gate finds
what is probably wrong and would otherwise pass in silence; each finding names
the accounts and the fix, and goes into ``quality.csv`` and the report:

- ``far``: an account far from every other (its k-th nearest account much
  farther than is typical), e.g. a mistyped coordinate or a ZIP code that lost
  a digit;
- ``outside``: an account outside the extent of the potential layer;
- ``zip``: coordinates more than ``ZIP_KM`` from the account's own ZIP code;
- ``state``: a state column that disagrees with the ZIP code's state;
- ``duplicate``: accounts with the same name (and address, or place);
- ``workload``: a workload far above the others (robust: median and MAD).
"""

from __future__ import annotations

import re
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from territory_opt.geo import EARTH_RADIUS_KM

__all__ = ["COLUMNS", "check_accounts"]

COLUMNS = ["check", "account_id", "message"]
NEIGHBOURS = 5  # the k-th nearest account measures how far one lies from the others
FAR_FACTOR = 10.0  # ... this many times the typical distance, and at least FAR_KM
FAR_KM = 50.0
ZIP_KM = 50.0
EXTENT_MARGIN = 0.02  # of the potential layer's width and height
WORKLOAD_MADS = 10.0  # above the median by this many MADs, and WORKLOAD_TIMES the median
WORKLOAD_TIMES = 10.0
SHOWN = 5  # accounts named in a message

STATES = {
    "alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR", "california": "CA",
    "colorado": "CO", "connecticut": "CT", "delaware": "DE", "district of columbia": "DC",
    "florida": "FL", "georgia": "GA", "hawaii": "HI", "idaho": "ID", "illinois": "IL",
    "indiana": "IN", "iowa": "IA", "kansas": "KS", "kentucky": "KY", "louisiana": "LA",
    "maine": "ME", "maryland": "MD", "massachusetts": "MA", "michigan": "MI",
    "minnesota": "MN", "mississippi": "MS", "missouri": "MO", "montana": "MT",
    "nebraska": "NE", "nevada": "NV", "new hampshire": "NH", "new jersey": "NJ",
    "new mexico": "NM", "new york": "NY", "north carolina": "NC", "north dakota": "ND",
    "ohio": "OH", "oklahoma": "OK", "oregon": "OR", "pennsylvania": "PA",
    "rhode island": "RI", "south carolina": "SC", "south dakota": "SD", "tennessee": "TN",
    "texas": "TX", "utah": "UT", "vermont": "VT", "virginia": "VA", "washington": "WA",
    "west virginia": "WV", "wisconsin": "WI", "wyoming": "WY", "puerto rico": "PR",
}


def _named(ids: pd.Series | list[str], verb: str) -> str:
    """``account A1 lies`` / ``accounts A1, A2 and 3 more lie`` (verb: lie, have)."""
    ids = [str(i) for i in ids]
    more = f" and {len(ids) - SHOWN} more" if len(ids) > SHOWN else ""
    if len(ids) == 1:
        return f"account {ids[0]} {'has' if verb == 'have' else verb + 's'}"
    return f"accounts {', '.join(ids[:SHOWN])}{more} {verb}"


def _rows(check: str, ids: Any, message: str) -> list[dict[str, str]]:
    return [{"check": check, "account_id": str(i), "message": message} for i in ids]


def check_accounts(accounts: gpd.GeoDataFrame, *, potential: gpd.GeoDataFrame | None = None,
                   zip: str | None = None, state: str | None = None,
                   name: str | None = None, address: str | None = None) -> pd.DataFrame:
    """Every finding of the gate, one row per account and check.

    Parameters
    ----------
    accounts
        As read by :func:`territory_opt.read_accounts` (``account_id``,
        ``workload``, ``name`` when read, the file's other columns, points).
    potential
        The potential layer, for ``outside``.
    zip, state, name, address
        The accounts' columns holding the ZIP code (for ``zip`` and ``state``),
        the state (two-letter code or name), the account's name and street
        address (for ``duplicate``: without a name column it is not checked).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COLUMNS`: the check, the account and a message that
        names the accounts, the figures and the fix (the same for every account
        of one finding). Empty when nothing is found.
    """
    rows: list[dict[str, str]] = []
    if len(accounts) == 0:
        return pd.DataFrame(columns=COLUMNS)
    ids = accounts["account_id"].astype(str)
    lonlat = accounts.to_crs("EPSG:4326") if accounts.crs is not None else accounts
    rows += _far(lonlat, ids)
    if potential is not None and len(potential):
        rows += _outside(lonlat, potential, ids)
    if zip is not None and zip in accounts.columns:
        rows += _zip_distance(lonlat, accounts[zip], ids, zip)
        if state is not None and state in accounts.columns:
            rows += _state(accounts[zip], accounts[state], ids, state)
    if name is not None and name in accounts.columns:
        rows += _duplicates(accounts, ids, name, address)
    rows += _workload(accounts["workload"].to_numpy(dtype=float), ids)
    return pd.DataFrame(rows, columns=COLUMNS)


def _far(accounts: gpd.GeoDataFrame, ids: pd.Series) -> list[dict[str, str]]:
    """Accounts whose k-th nearest account lies far beyond the typical distance."""
    from scipy.spatial import cKDTree

    n = len(accounts)
    if n <= 2 * NEIGHBOURS:
        return []
    # points on the unit sphere: chord lengths stand for distances, no projection
    geom = (accounts.to_crs("EPSG:4326") if accounts.crs is not None else accounts).geometry
    lat, lon = np.radians(geom.y.to_numpy()), np.radians(geom.x.to_numpy())
    pts = np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])
    dist, _ = cKDTree(pts).query(pts, k=NEIGHBOURS + 1)
    kth = 2 * EARTH_RADIUS_KM * np.arcsin(np.clip(dist[:, -1] / 2, 0, 1))
    typical = float(np.median(kth))
    limit = max(FAR_FACTOR * typical, FAR_KM)
    far = np.flatnonzero(kth > limit)
    if not len(far):
        return []
    far = far[np.argsort(-kth[far])]
    message = (f"{_named(ids.iloc[far], 'lie')} {kth[far[0]]:,.0f} km or more from "
               f"their {NEIGHBOURS}th-nearest account (typical: {typical:,.0f} km): check "
               "their coordinates or ZIP codes (a 4-digit ZIP such as 3101 is read as "
               "03101, in New England)")
    return _rows("far", ids.iloc[far], message)


def _outside(lonlat: gpd.GeoDataFrame, potential: gpd.GeoDataFrame,
             ids: pd.Series) -> list[dict[str, str]]:
    pot = potential.to_crs("EPSG:4326") if potential.crs is not None else potential
    x0, y0, x1, y1 = pot.total_bounds
    mx, my = EXTENT_MARGIN * (x1 - x0), EXTENT_MARGIN * (y1 - y0)
    x, y = lonlat.geometry.x.to_numpy(), lonlat.geometry.y.to_numpy()
    out = np.flatnonzero((x < x0 - mx) | (x > x1 + mx) | (y < y0 - my) | (y > y1 + my))
    if not len(out):
        return []
    message = (f"{_named(ids.iloc[out], 'lie')} outside the extent of the potential "
               f"layer (lon {x0:.2f} to {x1:.2f}, lat {y0:.2f} to {y1:.2f}): check their "
               "coordinates, or give a potential layer that covers them")
    return _rows("outside", ids.iloc[out], message)


def _haversine_km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray,
                  lon2: np.ndarray) -> np.ndarray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * \
        np.sin(np.radians(lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def _zip_distance(lonlat: gpd.GeoDataFrame, codes: pd.Series, ids: pd.Series,
                  column: str) -> list[dict[str, str]]:
    from territory_opt.io.zips import geocode_zip

    zlat, zlon, _ = geocode_zip(codes)
    km = _haversine_km(lonlat.geometry.y.to_numpy(), lonlat.geometry.x.to_numpy(), zlat, zlon)
    off = np.flatnonzero(np.nan_to_num(km, nan=0.0) > ZIP_KM)
    if not len(off):
        return []
    off = off[np.argsort(-km[off])]
    span = f"{km[off[0]]:,.0f}" if len(off) == 1 else \
        f"{km[off[-1]]:,.0f} to {km[off[0]]:,.0f}"
    message = (f"{_named(ids.iloc[off], 'lie')} {span} km from the centre of their own ZIP "
               f"code (column "
               f"{column!r}): one of the two is wrong; fix it, or drop the coordinates to "
               "place them by ZIP code")
    return _rows("zip", ids.iloc[off], message)


def _state(codes: pd.Series, states: pd.Series, ids: pd.Series,
           column: str) -> list[dict[str, str]]:
    from territory_opt.io.zips import normalise_zip, zip_states

    table = zip_states()
    given = states.fillna("").astype(str).str.strip()
    given = given.map(lambda s: STATES.get(s.lower(), s.upper()))
    of_zip = codes.map(lambda c: table.get(normalise_zip(c) or "", ""))
    wrong = np.flatnonzero(((given != "") & (of_zip != "") & (given != of_zip)).to_numpy())
    if not len(wrong):
        return []
    i = wrong[0]
    message = (f"{_named(ids.iloc[wrong], 'have')} a state (column {column!r}) "
               f"that disagrees with the ZIP code's (e.g. {given.iloc[i]} against "
               f"{of_zip.iloc[i]} for ZIP {codes.iloc[i]}): fix the state or the ZIP code")
    return _rows("state", ids.iloc[wrong], message)


def _norm(values: pd.Series) -> pd.Series:
    return values.fillna("").astype(str).map(
        lambda s: re.sub(r"[^a-z0-9]+", " ", s.lower()).strip())


def _duplicates(accounts: gpd.GeoDataFrame, ids: pd.Series, column: str,
                address: str | None) -> list[dict[str, str]]:
    name = _norm(accounts[column])
    if address is not None and address in accounts.columns:
        key, what = name + "|" + _norm(accounts[address]), "name and address"
    else:  # the same name within about 100 m
        geom = accounts.to_crs("EPSG:4326").geometry
        key = name + "|" + geom.y.round(3).astype(str) + "|" + geom.x.round(3).astype(str)
        what = "name and place"
    key = key.where(name != "")
    dup = key.notna() & key.duplicated(keep=False)
    if not dup.any():
        return []
    rows: list[dict[str, str]] = []
    for _, group in ids[dup].groupby(key[dup], sort=False):
        message = (f"{_named(group, 'have')} the same {what} "
                   f"({accounts[column].loc[group.index[0]]!r}): one account entered "
                   "twice? Merge them, or keep both if they are distinct")
        rows += _rows("duplicate", group, message)
    return rows


def _workload(work: np.ndarray, ids: pd.Series) -> list[dict[str, str]]:
    if len(work) < 10:
        return []
    median = float(np.median(work))
    mad = float(np.median(np.abs(work - median)))
    high = np.flatnonzero((work > median + WORKLOAD_MADS * mad)
                          & (work > WORKLOAD_TIMES * max(median, 1e-12)))
    if not len(high):
        return []
    high = high[np.argsort(-work[high])]
    message = (f"{_named(ids.iloc[high], 'have')} a workload of {work[high[0]]:,.4g} "
               f"or more, over {WORKLOAD_TIMES:.0f} times the median ({median:,.4g}): check "
               "the unit (hours, not minutes?) or a misplaced decimal point")
    return _rows("workload", ids.iloc[high], message)
