"""The data-quality gate: what in the accounts a person would call wrong.

The readers stop on what cannot be right (blank or impossible coordinates, an
account at latitude 0, longitude 0, text in a number column). This gate finds
what is probably wrong and would otherwise pass in silence; each finding names
the accounts and the fix, and goes into ``quality.csv`` and the report:

- ``far``: an account far from every other (its k-th nearest account much
  farther than is typical), e.g. a mistyped coordinate or a ZIP code that lost
  a digit;
- ``outside``: an account outside every area of the potential layer (polygons;
  a hole, such as a lake, is outside), or outside its extent (points);
- ``no_rep``: an account with no rep's home base within reach: farther from the
  nearest base than ``NO_REP_FACTOR`` times the typical account (Alaska and
  Hawaii for a team on the mainland);
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
import shapely

from territory_opt.geo import EARTH_RADIUS_KM, ellipsoid_coords, point_distances

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
NO_REP_FACTOR = 6.0  # no rep within this many times the typical distance to the nearest base

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
                   name: str | None = None, address: str | None = None,
                   reps: gpd.GeoDataFrame | None = None) -> pd.DataFrame:
    """Every finding of the gate, one row per account and check.

    Parameters
    ----------
    accounts
        As read by :func:`territory_opt.read_accounts` (``account_id``,
        ``workload``, ``name`` when read, the file's other columns, points).
    potential
        The potential layer, for ``outside``.
    reps
        The reps (their home bases), for ``no_rep``.
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
    rows += _far(lonlat, ids, zip is not None and zip in accounts.columns)
    if potential is not None and len(potential):
        rows += _outside(lonlat, potential, ids)
    if reps is not None and len(reps):
        rows += _no_rep(lonlat, reps, ids)
    if zip is not None and zip in accounts.columns:
        rows += _zip_distance(lonlat, accounts[zip], ids, zip)
        if state is not None and state in accounts.columns:
            rows += _state(accounts[zip], accounts[state], ids, state)
    if name is not None and name in accounts.columns:
        rows += _duplicates(accounts, ids, name, address)
    rows += _workload(accounts["workload"].to_numpy(dtype=float), ids)
    return pd.DataFrame(rows, columns=COLUMNS)


def _sphere(frame: gpd.GeoDataFrame) -> np.ndarray:
    """Points on the unit sphere: chord lengths stand for distances, no projection."""
    geom = (frame.to_crs("EPSG:4326") if frame.crs is not None else frame).geometry
    if not (geom.geom_type == "Point").all():
        geom = geom.representative_point()
    lat, lon = np.radians(geom.y.to_numpy()), np.radians(geom.x.to_numpy())
    return np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])


def _chord_km(chord: np.ndarray) -> np.ndarray:
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.clip(chord / 2, 0, 1))


def _span(km: np.ndarray) -> str:
    """``1,250 km`` or ``768 to 8,397 km``: the least and the most of a finding."""
    def text(v: float) -> str:
        return f"{v:,.0f}" if v >= 10 else f"{v:.1g}" if v >= 0.1 else f"{v:.2f}"

    low, high = text(float(np.min(km))), text(float(np.max(km)))
    return f"{low} km" if low == high else f"{low} to {high} km"


def _beyond_typical(km: np.ndarray, factor: float) -> tuple[np.ndarray, float, float]:
    """The rows farther than ``factor`` times the median (and at least ``FAR_KM``),
    farthest first; the median; the limit."""
    typical = float(np.median(km))
    limit = max(factor * typical, FAR_KM)
    rows = np.flatnonzero(km > limit)
    return rows[np.argsort(-km[rows])], typical, limit


def _far(accounts: gpd.GeoDataFrame, ids: pd.Series, has_zip: bool) -> list[dict[str, str]]:
    """Accounts whose k-th nearest account lies far beyond the typical distance."""
    from scipy.spatial import cKDTree

    n = len(accounts)
    if n <= 2 * NEIGHBOURS:
        return []
    pts = _sphere(accounts)
    dist, _ = cKDTree(pts).query(pts, k=NEIGHBOURS + 1)
    kth = _chord_km(dist[:, -1])
    far, typical, _ = _beyond_typical(kth, FAR_FACTOR)
    if not len(far):
        return []
    hint = (" (a 4-digit ZIP such as 3101 is read as 03101, in New England)"
            if has_zip else "")
    message = (f"{_named(ids.iloc[far], 'lie')} {_span(kth[far])} from their "
               f"{NEIGHBOURS}th-nearest account (typical: {typical:,.0f} km): check their "
               f"coordinates{' or ZIP codes' if has_zip else ''}{hint}, or keep them if "
               "they are real (islands, remote sites)")
    return _rows("far", ids.iloc[far], message)


def _no_rep(accounts: gpd.GeoDataFrame, reps: gpd.GeoDataFrame,
            ids: pd.Series) -> list[dict[str, str]]:
    """Accounts much farther from the nearest rep's base than accounts typically are."""
    from scipy.spatial import cKDTree

    if len(accounts) < 2 * NEIGHBOURS:
        return []
    chord, _ = cKDTree(_sphere(reps)).query(_sphere(accounts), k=1)
    km = _chord_km(chord)
    alone, typical, reach = _beyond_typical(km, NO_REP_FACTOR)
    if not len(alone):
        return []
    message = (f"{_named(ids.iloc[alone], 'have')} no rep within {reach:,.0f} km (the nearest "
               f"base is {_span(km[alone])} away; typical: {typical:,.0f} km): hire or "
               "place a rep near them, hand them to a partner, or leave them out with a "
               "where: filter")
    return _rows("no_rep", ids.iloc[alone], message)


def _outside(lonlat: gpd.GeoDataFrame, potential: gpd.GeoDataFrame,
             ids: pd.Series) -> list[dict[str, str]]:
    pot = potential.to_crs("EPSG:4326") if potential.crs is not None else potential
    x0, y0, x1, y1 = pot.total_bounds
    areas = pot.geometry[pot.geometry.geom_type.isin(["Polygon", "MultiPolygon"])].to_numpy()
    if len(areas):  # by the shapes themselves: a hole (a lake) is outside
        points = lonlat.geometry.to_numpy()
        inside, _ = shapely.STRtree(areas).query(points, predicate="intersects")
        out = np.setdiff1d(np.arange(len(points)), inside)
        if not len(out):
            return []
        nearest = shapely.STRtree(areas).nearest(points[out])
        ends = shapely.get_coordinates(shapely.shortest_line(points[out], areas[nearest]))
        km = _haversine_km(ends[0::2, 1], ends[0::2, 0], ends[1::2, 1], ends[1::2, 0])
        order = np.argsort(-km)
        out, km = out[order], km[order]
        message = (f"{_named(ids.iloc[out], 'lie')} outside every area of the potential "
                   f"layer ({_span(km)} from the nearest): check their coordinates, or give "
                   "a potential layer that covers them; each joins its nearest area")
        return _rows("outside", ids.iloc[out], message)
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
    """Great-circle km between degrees (:func:`territory_opt.geo.point_distances`)."""
    return point_distances(ellipsoid_coords(lon1, lat1), ellipsoid_coords(lon2, lat2),
                           "great_circle")


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
