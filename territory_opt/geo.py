"""Coordinate reference systems, projection and distances.

Everything the optimiser measures is measured in one metric CRS: a UTM zone for
regional data, an azimuthal equidistant projection centred on the data (its
median, so a few far rows do not move it) for larger extents. Where no single
projection keeps distances within :data:`MAX_DISTORTION`, the problem measures
great-circle distances instead (:func:`distortion`). Distances are returned in
kilometres.

Longitudes are *unwrapped* across the antimeridian wherever the data needs it
(:func:`lon_cut`): data that crosses +-180 (the Aleutians, Fiji, Pacific
islands) is centred, drawn and measured as one piece, not as a strip across the
world.
"""

from __future__ import annotations

import logging
from typing import Literal

import geopandas as gpd
import numpy as np
import shapely
from numba import njit
from pyproj import CRS
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_utm_crs_info

from territory_opt.errors import InputError

__all__ = ["DistanceKind", "check_overlap", "choose_crs", "describe_crs", "distance_coords",
           "distance_matrix", "distortion", "ellipsoid_coords", "lon_cut", "lon_cut_of",
           "lonlat_bounds", "parse_crs", "point_distances", "project", "split_antimeridian",
           "to_lonlat", "unwrap", "xy_of"]

logger = logging.getLogger(__name__)

DistanceKind = Literal["euclidean", "great_circle"]
EARTH_RADIUS_KM = 6371.0088  # the mean sphere (the data-quality gate's rough distances)
WGS84_A_KM, WGS84_F = 6378.137, 1 / 298.257223563  # the ellipsoid (distances)
UTM_MAX_WIDTH_DEG = 6.0
MAX_DISTORTION = 0.005  # euclidean within 0.5 % of the geodesic distances, else great-circle
SAMPLE = 1500  # points of one side when measuring a projection's distortion ...
PAIRS = 300_000  # ... and pairs in all


def lon_cut(lon: np.ndarray) -> float:
    """Where to cut the circle of longitudes: the middle of the widest gap between
    the data's longitudes, or 180 when that gap holds the antimeridian (data that
    does not cross it, which then keeps its longitudes).

    :func:`unwrap` moves longitudes east of the cut 360 degrees west, so data on
    both sides of +-180 becomes one run of longitudes (beyond -180 where needed).
    """
    lon = np.sort(np.mod(np.asarray(lon, dtype=float) + 180.0, 360.0) - 180.0)
    lon = lon[np.isfinite(lon)]
    if len(lon) < 2:
        return 180.0
    gaps = np.diff(np.append(lon, lon[0] + 360.0))
    i = int(np.argmax(gaps))
    if i == len(lon) - 1:  # the widest gap runs through +-180
        return 180.0
    return float(lon[i] + gaps[i] / 2)


def unwrap(lon: np.ndarray, cut: float) -> np.ndarray:
    """Longitudes (degrees) in ``(cut - 360, cut]``: continuous across the antimeridian
    for a ``cut`` from :func:`lon_cut`; unchanged for ``cut == 180``."""
    lon = np.asarray(lon, dtype=float)
    return np.where(lon > cut, lon - 360.0, lon)


def _lonlat(*frames: gpd.GeoDataFrame) -> list[gpd.GeoDataFrame]:
    return [f.to_crs("EPSG:4326") if f.crs is not None else f for f in frames if len(f)]


def lon_cut_of(*frames: gpd.GeoDataFrame) -> float:
    """:func:`lon_cut` of the frames' shapes together (their west and east ends): one
    cut for every layer of one map."""
    lonlat = _lonlat(*frames)
    if not lonlat:
        return 180.0
    return lon_cut(np.concatenate([shapely.bounds(f.geometry.to_numpy())[:, [0, 2]].ravel()
                                   for f in lonlat]))


def lonlat_bounds(*frames: gpd.GeoDataFrame) -> tuple[float, float, float, float]:
    """Bounds ``(west, south, east, north)`` in degrees of all frames together, west
    and east unwrapped (:func:`unwrap`): west may lie below -180 for data that
    crosses the antimeridian."""
    lonlat = _lonlat(*frames)
    if not lonlat:
        raise InputError("no geometry to choose a CRS from: every input is empty")
    box = np.concatenate([shapely.bounds(f.geometry.to_numpy()) for f in lonlat])
    lon = unwrap(box[:, [0, 2]].ravel(), lon_cut_of(*lonlat))
    return (float(lon.min()), float(box[:, 1].min()), float(lon.max()), float(box[:, 3].max()))


def to_lonlat(frame: gpd.GeoDataFrame, cut: float | None = None) -> gpd.GeoDataFrame:
    """``frame`` in WGS 84 with its longitudes unwrapped (:func:`unwrap`), for maps:
    Leaflet and matplotlib draw a territory across +-180 as one shape only so.
    ``cut`` from :func:`lon_cut` of the frame's own coordinates unless given (give
    one cut to every layer of one map)."""
    out = frame.to_crs("EPSG:4326")
    if cut is None:
        cut = lon_cut_of(out)
    if cut >= 180.0:
        return out
    moved = shapely.transform(out.geometry.to_numpy(),
                              lambda xy: np.column_stack([unwrap(xy[:, 0], cut), xy[:, 1]]))
    return out.set_geometry(gpd.GeoSeries(moved, index=out.index, crs=out.crs))


def split_antimeridian(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``frame`` in WGS 84 with every shape that crosses +-180 split there (RFC 7946,
    section 3.1.9): the part beyond it shifted back by 360 degrees, so each
    coordinate lies in [-180, 180] and the shape draws right in every viewer."""
    out = to_lonlat(frame)
    geoms = out.geometry.to_numpy()
    bounds = shapely.bounds(geoms)
    over = np.flatnonzero((bounds[:, 0] < -180.0) | (bounds[:, 2] > 180.0))
    if not len(over):
        return out
    geoms = geoms.copy()
    inside = shapely.box(-180.0, -90.0, 180.0, 90.0)
    for i in over:
        g = geoms[i]
        parts = [shapely.intersection(g, inside)]
        for shift in (-360.0, 360.0):  # the part beyond -180 (or 180), moved back
            box = shapely.box(-180.0 + shift, -90.0, 180.0 + shift, 90.0)
            beyond = shapely.intersection(g, box)
            if not beyond.is_empty:
                parts.append(shapely.transform(
                    beyond, lambda xy, s=shift: np.column_stack([xy[:, 0] - s, xy[:, 1]])))
        geoms[i] = shapely.union_all([p for p in parts if not p.is_empty])
    return out.set_geometry(gpd.GeoSeries(geoms, index=out.index, crs=out.crs))


def choose_crs(*frames: gpd.GeoDataFrame) -> CRS:
    """Pick a metric CRS suited to the extent of ``frames``.

    A WGS 84 UTM zone when the data spans at most 6 degrees of longitude
    (distortion under 0.1 %), otherwise an azimuthal equidistant projection
    centred on the data's median point (longitudes unwrapped across +-180, so
    that a few far rows, or the Aleutians, do not pull it off the data), which
    keeps distances from its centre exact. :func:`distortion` says how far it is
    off elsewhere.

    Parameters
    ----------
    *frames
        GeoDataFrames with a CRS set.

    Returns
    -------
    pyproj.CRS
    """
    lonlat = _lonlat(*frames)  # once: the bounds and the median read the same frames
    west, south, east, north = lonlat_bounds(*lonlat)
    lon0, lat0 = (west + east) / 2, (south + north) / 2
    if east - west <= UTM_MAX_WIDTH_DEG:
        lon0 = (lon0 + 180.0) % 360.0 - 180.0
        infos = query_utm_crs_info(
            datum_name="WGS 84",
            area_of_interest=AreaOfInterest(lon0, lat0, lon0, lat0),
        )
        if infos:
            crs = CRS.from_epsg(int(infos[0].code))
            logger.info("metric CRS chosen: %s", crs.name)
            return crs
    lon0, lat0 = _median_point(*lonlat)
    crs = CRS.from_proj4(f"+proj=aeqd +lat_0={lat0:.4f} +lon_0={lon0:.4f} "
                         "+x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs")
    logger.info("metric CRS chosen: %s", describe_crs(crs))
    return crs


def _median_point(*frames: gpd.GeoDataFrame) -> tuple[float, float]:
    """The median longitude (unwrapped, then wrapped back) and latitude of the
    frames' points (of their shapes' representative points)."""
    pts = []
    for f in _lonlat(*frames):
        geom = f.geometry
        if not (geom.geom_type == "Point").all():
            geom = geom.representative_point()
        pts.append(np.column_stack([geom.x.to_numpy(), geom.y.to_numpy()]))
    xy = np.concatenate(pts)
    lon = float(np.median(unwrap(xy[:, 0], lon_cut(xy[:, 0]))))
    return (lon + 180.0) % 360.0 - 180.0, float(np.median(xy[:, 1]))


def _spread(xy: np.ndarray, size: int) -> np.ndarray:
    """Up to ``size`` rows of ``xy``: the extremes (where a projection is worst) and
    an even stride through the rest. Deterministic."""
    n = len(xy)
    if n <= size:
        return xy
    ends = np.concatenate([np.argmin(xy, axis=0), np.argmax(xy, axis=0),
                           np.argmin(xy.sum(axis=1), keepdims=True),
                           np.argmax(xy.sum(axis=1), keepdims=True),
                           np.argmin(xy[:, 0] - xy[:, 1], keepdims=True),
                           np.argmax(xy[:, 0] - xy[:, 1], keepdims=True)])
    rows = np.unique(np.concatenate([ends, np.linspace(0, n - 1, size - len(ends)).astype(int)]))
    return xy[rows]


def distortion(crs: CRS, a_xy: np.ndarray, b_xy: np.ndarray) -> float:
    """The worst relative error of euclidean distances in ``crs`` against the true
    (WGS 84 geodesic) ones, over pairs of points ``a_xy`` x ``b_xy`` (``(n, 2)``
    coordinates in ``crs``; a sample of each, the extremes among them, up to
    :data:`SAMPLE` pairs per side). 0.004 means some distance is 0.4 % off."""
    from pyproj import Geod, Transformer

    a = _spread(np.asarray(a_xy, float), SAMPLE)
    b = _spread(np.asarray(b_xy, float), max(2, PAIRS // max(len(a), 1)))
    flat = point_distances(a[:, None, :], b[None, :, :], "euclidean").ravel()
    back = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    alon, alat = back.transform(a[:, 0], a[:, 1])
    blon, blat = back.transform(b[:, 0], b[:, 1])
    n, m = len(a), len(b)
    _, _, metres = Geod(ellps="WGS84").inv(np.repeat(alon, m), np.repeat(alat, m),
                                           np.tile(blon, n), np.tile(blat, n))
    true = np.asarray(metres) / 1000.0
    far = true > 0.01  # 10 m: below that both are rounding
    if not far.any():
        return 0.0
    return float(np.max(np.abs(flat[far] / true[far] - 1.0)))


def describe_crs(crs: CRS) -> str:
    """A CRS's name as a person reads it; for a custom projection (no name), its
    method and centre, e.g. ``azimuthal equidistant centred on lat 32.7, lon -83.4``."""
    if crs.name and crs.name.lower() != "unknown":
        return str(crs.name)
    op = crs.coordinate_operation
    if op is None:
        return crs.to_string()
    params = {p.name.lower(): p.value for p in op.params}
    lat = next((v for k, v in params.items() if "latitude" in k), None)
    lon = next((v for k, v in params.items() if "longitude" in k), None)
    where = f" centred on lat {lat:.4g}, lon {lon:.4g}" if lat is not None and \
        lon is not None else ""
    return f"{op.method_name.lower()}{where}"


def parse_crs(value: object, *, where: str) -> CRS:
    """Turn a user-given CRS (``"EPSG:26716"``, an int, WKT) into a CRS."""
    try:
        return CRS.from_user_input(value)
    except Exception as exc:  # pyproj raises CRSError with a terse message
        raise InputError(
            f"{where}: {value!r} is not a coordinate reference system "
            f"({exc}); give it as 'EPSG:<code>', e.g. 'EPSG:4326' for lat/lon"
        ) from None


def project(frame: gpd.GeoDataFrame, crs: CRS) -> gpd.GeoDataFrame:
    """Return ``frame`` in ``crs`` (a new frame; the input is not modified)."""
    if frame.crs is None:
        raise InputError("cannot project a frame without a CRS; set one with crs=...")
    return frame.to_crs(crs)


def xy_of(frame: gpd.GeoDataFrame) -> np.ndarray:
    """``(n, 2)`` array of point coordinates, or of centroids for other shapes."""
    geom = frame.geometry
    if not (geom.geom_type == "Point").all():
        geom = geom.centroid
    return np.column_stack([geom.x.to_numpy(), geom.y.to_numpy()])


def distance_matrix(
    a: gpd.GeoDataFrame, b: gpd.GeoDataFrame, *, kind: DistanceKind = "euclidean"
) -> np.ndarray:
    """Distances in km between every point of ``a`` and every point of ``b``.

    Parameters
    ----------
    a, b
        GeoDataFrames in the same CRS (points, or shapes measured at their
        centroids).
    kind
        ``"euclidean"`` in the CRS of the frames (which must be metric), or
        ``"great_circle"`` (the shortest path on the WGS 84 ellipsoid: see
        :func:`point_distances`).

    Returns
    -------
    numpy.ndarray
        Shape ``(len(a), len(b))``.
    """
    if kind == "euclidean" and (a.crs is None or not a.crs.is_projected):
        raise InputError("euclidean distances need a projected (metric) CRS; "
                         "project the data first or use kind='great_circle'")
    pa, pb = distance_coords(a, kind), distance_coords(b, kind)
    return point_distances(pa[:, None, :], pb[None, :, :], kind)


def distance_coords(frame: gpd.GeoDataFrame, kind: DistanceKind) -> np.ndarray:
    """Coordinates that :func:`point_distances` measures: ``(n, 2)`` x, y in the
    frame's metric CRS (euclidean), or ``(n, 3)`` :func:`ellipsoid_coords` of the
    points' longitude and latitude (great-circle)."""
    if kind == "euclidean":
        return xy_of(frame)
    if kind == "great_circle":
        lonlat = xy_of(frame.to_crs("EPSG:4326"))
        return ellipsoid_coords(lonlat[:, 0], lonlat[:, 1])
    raise InputError(f"unknown distance kind {kind!r}; use 'euclidean' or 'great_circle'")


def ellipsoid_coords(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """``(n, 3)`` unit vectors of the points (degrees in) at their *reduced*
    latitudes on the WGS 84 ellipsoid: what great-circle :func:`point_distances`
    takes. The trigonometry is paid once per point, not once per pair."""
    lam = np.radians(np.asarray(lon, dtype=float))
    beta = np.arctan((1 - WGS84_F) * np.tan(np.radians(np.asarray(lat, dtype=float))))
    return np.stack([np.cos(beta) * np.cos(lam), np.cos(beta) * np.sin(lam), np.sin(beta)],
                    axis=-1)


def point_distances(pa: np.ndarray, pb: np.ndarray, kind: DistanceKind) -> np.ndarray:
    """Distances in km between coordinates of :func:`distance_coords`, broadcast
    over all but the last axis (pairs ``(n, d)`` with ``(n, d)``, or a block
    ``(n, 1, d)`` with ``(1, m, d)``).

    Great-circle: the shortest path on the WGS 84 ellipsoid by Lambert's formula
    for long lines (the great circle between the reduced latitudes, then the
    flattening's first-order correction): within 0.0002 % of the exact geodesic
    (pyproj's Geod) up to 10,000 km and 0.013 % near the antipode, where the mean
    sphere's haversine is up to 0.56 % off. From the unit vectors it costs a square root and an arcsine per
    pair, compiled (numba): about the euclidean distance's cost.
    """
    if kind == "euclidean":
        return np.hypot(pa[..., 0] - pb[..., 0], pa[..., 1] - pb[..., 1]) / 1000.0
    pa, pb = np.asarray(pa, dtype=float), np.asarray(pb, dtype=float)
    if pa.ndim == 3 and pa.shape[1] == 1 and pb.ndim == 3 and pb.shape[0] == 1:
        return _lambert_block(np.ascontiguousarray(pa[:, 0, :]),
                              np.ascontiguousarray(pb[0]))
    a, b = np.broadcast_arrays(pa, pb)
    shape = a.shape[:-1]
    return _lambert_pairs(np.ascontiguousarray(a.reshape(-1, 3)),
                          np.ascontiguousarray(b.reshape(-1, 3))).reshape(shape)


@njit(cache=True)
def _lambert(ax: float, ay: float, az: float, bx: float, by: float, bz: float) -> float:
    """One distance (km) between two :func:`ellipsoid_coords` (see
    :func:`point_distances`): the great circle between the reduced latitudes from
    the chord, then Lambert's first-order correction for the flattening."""
    dx, dy, dz = ax - bx, ay - by, az - bz
    h2 = (dx * dx + dy * dy + dz * dz) / 4.0  # sin(sigma / 2) ** 2
    if h2 <= 0.0:
        return 0.0
    h2 = min(h2, 1.0)
    half = np.sqrt(h2)
    sigma = 2.0 * np.arcsin(half)
    cos2 = 1.0 - h2  # cos(sigma / 2) ** 2
    sin_sigma = 2.0 * half * np.sqrt(cos2)
    p, q = az + bz, bz - az  # twice sin P cos Q and cos P sin Q
    x = (sigma - sin_sigma) * p * p / max(cos2, 1e-300)
    y = (sigma + sin_sigma) * q * q / h2
    return WGS84_A_KM * (sigma - WGS84_F / 8.0 * (x + y))


@njit(cache=True)
def _lambert_block(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.empty((a.shape[0], b.shape[0]))
    for i in range(a.shape[0]):
        for j in range(b.shape[0]):
            out[i, j] = _lambert(a[i, 0], a[i, 1], a[i, 2], b[j, 0], b[j, 1], b[j, 2])
    return out


@njit(cache=True)
def _lambert_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.empty(a.shape[0])
    for i in range(a.shape[0]):
        out[i] = _lambert(a[i, 0], a[i, 1], a[i, 2], b[i, 0], b[i, 1], b[i, 2])
    return out


def _bounds_overlap(a: np.ndarray, b: np.ndarray) -> bool:
    """Extents (lon/lat) that overlap or lie near each other: within twice the
    larger span, and at least a degree (a rep may live outside their area)."""
    pad = max(2 * max(a[2] - a[0], a[3] - a[1], b[2] - b[0], b[3] - b[1]), 1.0)
    return not (a[0] > b[2] + pad or b[0] > a[2] + pad or a[1] > b[3] + pad
                or b[1] > a[3] + pad)


def check_overlap(first: gpd.GeoDataFrame, second: gpd.GeoDataFrame, first_name: str,
                  second_name: str) -> None:
    """Two layers of one plan must cover about the same area.

    Far-apart extents mean one layer is read in the wrong CRS, or with latitude
    and longitude swapped (told apart by trying the swap).
    """
    a = first.to_crs("EPSG:4326").total_bounds
    b = second.to_crs("EPSG:4326").total_bounds
    if _bounds_overlap(a, b):
        return
    for name, other_name, bounds, other in ((first_name, second_name, a, b),
                                             (second_name, first_name, b, a)):
        if _bounds_overlap(bounds[[1, 0, 3, 2]], other):
            raise InputError(f"the {name} lie far from the {other_name}, but would lie on them "
                             "with latitude and longitude swapped: set lat: lon and lon: lat "
                             f"for the {name} in the scenario (lat='lon', lon='lat' in "
                             "Python)")
    raise InputError(
        f"the {first_name} and the {second_name} do not overlap ({first_name}: lon "
        f"{a[0]:.2f} to {a[2]:.2f}, lat {a[1]:.2f} to {a[3]:.2f}; {second_name}: lon "
        f"{b[0]:.2f} to {b[2]:.2f}, lat {b[1]:.2f} to {b[3]:.2f}); one file is read in "
        "the wrong CRS: check each file's crs= (a Shapefile without .prj, or x/y "
        "columns read as lat/lon)")
