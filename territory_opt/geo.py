"""Coordinate reference systems, projection and distances.

Everything the optimiser measures is measured in one metric CRS: a UTM zone for
regional data, an azimuthal equidistant projection centred on the data for
larger extents. Distances are returned in kilometres.
"""

from __future__ import annotations

import logging
from typing import Literal

import geopandas as gpd
import numpy as np
from pyproj import CRS
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_utm_crs_info

from territory_opt.errors import InputError

__all__ = ["DistanceKind", "check_overlap", "choose_crs", "describe_crs", "distance_coords",
           "distance_matrix", "lonlat_bounds", "parse_crs", "point_distances", "project",
           "xy_of"]

logger = logging.getLogger(__name__)

DistanceKind = Literal["euclidean", "great_circle"]
EARTH_RADIUS_KM = 6371.0088
UTM_MAX_WIDTH_DEG = 6.0


def lonlat_bounds(*frames: gpd.GeoDataFrame) -> tuple[float, float, float, float]:
    """Bounds ``(west, south, east, north)`` in degrees of all frames together."""
    boxes = [f.to_crs("EPSG:4326").total_bounds for f in frames if len(f)]
    if not boxes:
        raise InputError("no geometry to choose a CRS from: every input is empty")
    arr = np.array(boxes)
    return (float(arr[:, 0].min()), float(arr[:, 1].min()),
            float(arr[:, 2].max()), float(arr[:, 3].max()))


def choose_crs(*frames: gpd.GeoDataFrame) -> CRS:
    """Pick a metric CRS suited to the extent of ``frames``.

    A WGS 84 UTM zone when the data spans at most 6 degrees of longitude
    (distortion under 0.1 %), otherwise an azimuthal equidistant projection
    centred on the data, which keeps distances from its centre exact.

    Parameters
    ----------
    *frames
        GeoDataFrames with a CRS set.

    Returns
    -------
    pyproj.CRS
    """
    west, south, east, north = lonlat_bounds(*frames)
    lon0, lat0 = (west + east) / 2, (south + north) / 2
    if east - west <= UTM_MAX_WIDTH_DEG:
        infos = query_utm_crs_info(
            datum_name="WGS 84",
            area_of_interest=AreaOfInterest(lon0, lat0, lon0, lat0),
        )
        if infos:
            crs = CRS.from_epsg(int(infos[0].code))
            logger.info("metric CRS chosen: %s", crs.name)
            return crs
    crs = CRS.from_proj4(f"+proj=aeqd +lat_0={lat0:.4f} +lon_0={lon0:.4f} "
                         "+x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs")
    logger.info("metric CRS chosen: %s", describe_crs(crs))
    return crs


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
        ``"great_circle"`` (haversine on the WGS 84 mean radius).

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
    """``(n, 2)`` coordinates that :func:`point_distances` measures: x, y in the
    frame's metric CRS (euclidean), or longitude, latitude in radians."""
    if kind == "euclidean":
        return xy_of(frame)
    if kind == "great_circle":
        return np.radians(xy_of(frame.to_crs("EPSG:4326")))
    raise InputError(f"unknown distance kind {kind!r}; use 'euclidean' or 'great_circle'")


def point_distances(pa: np.ndarray, pb: np.ndarray, kind: DistanceKind) -> np.ndarray:
    """Distances in km between coordinates of :func:`distance_coords`, broadcast
    over all but the last axis (pairs ``(n, 2)`` with ``(n, 2)``, or a block
    ``(n, 1, 2)`` with ``(1, m, 2)``)."""
    if kind == "euclidean":
        return np.hypot(pa[..., 0] - pb[..., 0], pa[..., 1] - pb[..., 1]) / 1000.0
    dlon = pa[..., 0] - pb[..., 0]
    dlat = pa[..., 1] - pb[..., 1]
    h = (np.sin(dlat / 2) ** 2
         + np.cos(pa[..., 1]) * np.cos(pb[..., 1]) * np.sin(dlon / 2) ** 2)
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


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
