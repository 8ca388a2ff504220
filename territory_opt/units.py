"""Planning units: the pieces the optimiser assigns to territories.

Three kinds, all returned as one GeoDataFrame shape:

* ``"polygons"``: the polygons of the potential layer (ZIP areas, counties),
  each with the accounts inside it joined in and its own potential;
* ``"clusters"``: groups of nearby accounts (k-means weighted by workload);
* ``"accounts"``: every account on its own (for a few thousand accounts).

For point units (accounts, clusters) the potential of each polygon is shared
equally among the accounts inside it; a polygon with no account gives its
potential to the nearest account, so the total potential is kept. Their shape
is the Voronoi cell of the unit's location (an account, or a cluster's
workload-weighted centre), clipped to the study area, so territories dissolve
into clean polygons; computing it costs in units, not accounts.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from territory_opt.errors import InputError, TerritoryOptWarning
from territory_opt.geo import check_overlap, choose_crs, parse_crs, project, xy_of

__all__ = ["build_units", "unit_method"]

logger = logging.getLogger(__name__)

UnitMethod = Literal["auto", "polygons", "clusters", "accounts"]
MAX_ACCOUNT_UNITS = 1500
DEFAULT_CLUSTERS = 1000
LLOYD_ABOVE = 50_000  # accounts: above, clusters by KD-tree Lloyd iterations
LLOYD_ITERATIONS = 8
UNIT_COLUMNS = ["unit_id", "accounts", "workload", "potential", "x", "y"]


def build_units(
    accounts: gpd.GeoDataFrame,
    *,
    potential: gpd.GeoDataFrame | None = None,
    method: UnitMethod = "auto",
    n_units: int | None = None,
    sums: Sequence[str] = (),
    crs: object | None = None,
    random_state: int = 0,
    segment: str | None = None,
) -> gpd.GeoDataFrame:
    """Build planning units from accounts and an optional potential layer.

    Parameters
    ----------
    accounts
        Output of :func:`territory_opt.read_accounts` (points with
        ``account_id`` and ``workload``).
    potential
        Output of :func:`territory_opt.read_potential` (polygons or points with
        ``potential``), or None.
    method
        ``"polygons"``, ``"clusters"``, ``"accounts"``, or ``"auto"``: polygons
        when a polygon potential layer is given, else the accounts themselves
        up to 1500 of them, else clusters.
    n_units
        Number of clusters for ``method="clusters"`` (default 1000, at most the
        number of accounts).
    sums
        Further numeric account columns to add up per unit (e.g. ``revenue``),
        so that they can be balanced or reported.
    crs
        Metric CRS for the units; chosen from the data's extent when None.
    random_state
        Seed of the clustering.
    segment
        Account column of segments (``read_accounts(..., segment=...)`` reads it as
        ``segment``): units then never mix segments (clusters are split by
        segment; a polygon with several becomes one unit per segment, id
        ``polygon|segment``, sharing its shape and its potential in proportion to
        workload) and carry theirs in a ``segment`` column.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per unit: ``unit_id``, ``accounts`` (count), ``workload``,
        ``potential``, the ``sums`` columns, ``x`` and ``y`` (the unit's
        location in the metric CRS, in metres), ``account_ids`` (tuple of the
        ids of its accounts), ``account_workloads`` (their workloads, in the
        same order) and geometry, in the metric CRS.
    """
    for col in ("account_id", "workload", *([segment] if segment else [])):
        if col not in accounts.columns:
            raise InputError(f"accounts have no column {col!r}; read them with "
                             "territory_opt.read_accounts()")
    if segment is not None:  # the one column the unit builders split by
        accounts = accounts.drop(columns=["segment"] if segment != "segment" else []) \
            .rename(columns={segment: "segment"})
        accounts = accounts.assign(segment=accounts["segment"].astype(str))
    else:
        accounts = accounts.drop(columns=["segment"], errors="ignore")
    for col in sums:
        if col not in accounts.columns:
            raise InputError(f"accounts have no column {col!r} to sum per unit; columns "
                             f"are: {', '.join(map(str, accounts.columns))}")
        if not pd.api.types.is_numeric_dtype(accounts[col]):
            raise InputError(f"accounts column {col!r} is not numeric; it cannot be "
                             "summed per unit")
    if potential is not None:
        check_overlap(accounts, potential, "accounts", "potential layer")
    metric = parse_crs(crs, where="crs") if crs is not None else (
        choose_crs(accounts) if potential is None else choose_crs(accounts, potential))
    acc = project(accounts, metric).reset_index(drop=True)
    pot = project(potential, metric).reset_index(drop=True) if potential is not None else None
    has_polygons = _is_polygons(pot)
    if method == "auto":
        method = unit_method(acc, pot)
        logger.info("planning units: %s", method)
    if method == "polygons":
        if not has_polygons:
            raise InputError("method='polygons' needs a potential layer of polygons; "
                             "use method='clusters' or 'accounts' for point data")
        assert pot is not None
        return _polygon_units(acc, pot, list(sums))
    if method not in ("clusters", "accounts"):
        raise InputError(f"unknown unit method {method!r}; use 'auto', 'polygons', "
                         "'clusters' or 'accounts'")
    acc = acc.assign(potential=_potential_per_account(acc, pot))
    if method == "accounts":
        labels = np.arange(len(acc))
        ids = acc["account_id"].to_numpy()
    else:
        k = DEFAULT_CLUSTERS if n_units is None else n_units
        if not 1 <= k:
            raise InputError(f"n_units must be at least 1, got {k}")
        labels = _cluster_labels(acc, min(k, len(acc)), random_state)
        if "segment" in acc.columns:  # a cluster of several segments: one unit per segment
            labels = _split_by_segment(labels, acc["segment"].to_numpy())
        ids = np.array([f"C{i + 1:04d}" for i in range(labels.max() + 1)])
    return _point_units(acc, labels, ids, pot if has_polygons else None, list(sums))


def _split_by_segment(labels: np.ndarray, segment: np.ndarray) -> np.ndarray:
    """Labels of (label, segment) pairs, numbered in order of first account."""
    pairs = pd.Series(list(zip(labels.tolist(), segment.tolist(), strict=True)))
    return pd.factorize(pairs)[0]


def _is_polygons(potential: gpd.GeoDataFrame | None) -> bool:
    return potential is not None and bool(
        potential.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).all())


def unit_method(accounts: gpd.GeoDataFrame, potential: gpd.GeoDataFrame | None) -> str:
    """What ``method="auto"`` builds: the potential layer's polygons when it has
    them, else the accounts themselves up to ``MAX_ACCOUNT_UNITS``, else clusters."""
    if _is_polygons(potential):
        return "polygons"
    return "accounts" if len(accounts) <= MAX_ACCOUNT_UNITS else "clusters"


def _potential_per_account(acc: gpd.GeoDataFrame,
                           pot: gpd.GeoDataFrame | None) -> np.ndarray:
    """Each account's share of the potential layer (total kept)."""
    share = np.zeros(len(acc))
    if pot is None:
        return share
    value = pot["potential"].to_numpy(dtype=float)
    is_poly = pot.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    if is_poly.any():
        polys = pot[is_poly]
        hit = gpd.sjoin(acc[["geometry"]], polys[["geometry"]], how="inner",
                        predicate="within")
        hit = hit[~hit.index.duplicated()]
        counts = hit["index_right"].value_counts()
        np.add.at(share, hit.index.to_numpy(),
                  value[hit["index_right"].to_numpy()] / counts[hit["index_right"]].to_numpy())
        orphans = polys.index.difference(counts.index)
    else:
        orphans = pot.index
    if len(orphans):  # polygons without accounts, and potential points: nearest account
        src = pot.loc[orphans]
        pts = gpd.GeoDataFrame(geometry=src.geometry.representative_point(), crs=pot.crs)
        near = gpd.sjoin_nearest(pts, acc[["geometry"]], how="left")
        near = near[~near.index.duplicated()]
        np.add.at(share, near["index_right"].to_numpy(), value[near.index.to_numpy()])
    return share


def _cluster_labels(acc: gpd.GeoDataFrame, k: int, random_state: int) -> np.ndarray:
    """k-means labels weighted by workload, renumbered in order of first account.

    Up to ``LLOYD_ABOVE`` accounts, scikit-learn's KMeans; above, Lloyd's
    iterations with a KD-tree for the nearest centre (scikit-learn's dense
    distances cost accounts x clusters per pass: 10^10 for a million accounts
    in 10,000 clusters), started from a seeded workload-weighted sample.
    """
    xy = xy_of(acc)
    weight = acc["workload"].to_numpy(dtype=float)
    weight = weight + max(weight.mean(), 1.0) * 1e-3  # zero-workload accounts still count
    if len(acc) <= LLOYD_ABOVE:
        from sklearn.cluster import KMeans

        with warnings.catch_warnings():  # duplicate points give fewer distinct clusters
            warnings.simplefilter("ignore", category=UserWarning)
            raw = KMeans(n_clusters=k, n_init=3, random_state=random_state).fit_predict(
                xy, sample_weight=weight)
    else:
        raw = _lloyd(xy, weight, k, random_state)
    _, first, inverse = np.unique(raw, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))  # clusters numbered by their first account
    return order[inverse.ravel()]


def _lloyd(xy: np.ndarray, weight: np.ndarray, k: int, random_state: int) -> np.ndarray:
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(random_state)
    uniq = np.unique(xy, axis=0)
    k = min(k, len(uniq))
    centres = xy[rng.choice(len(xy), size=k, replace=False, p=weight / weight.sum())]
    labels = np.zeros(len(xy), dtype=np.int64)
    for _ in range(LLOYD_ITERATIONS):
        _, labels = cKDTree(centres).query(xy, workers=-1)
        mass = np.bincount(labels, weights=weight, minlength=k)
        filled = mass > 0
        centres[filled, 0] = np.bincount(labels, weights=weight * xy[:, 0],
                                         minlength=k)[filled] / mass[filled]
        centres[filled, 1] = np.bincount(labels, weights=weight * xy[:, 1],
                                         minlength=k)[filled] / mass[filled]
    _, labels = cKDTree(centres).query(xy, workers=-1)
    return labels


def _voronoi_cells(acc: gpd.GeoDataFrame, area: shapely.Geometry) -> np.ndarray:
    """One Voronoi cell per point, clipped to ``area`` (shared for points equal to the
    millimetre: a weighted mean can differ from its point in the last bits)."""
    xy = np.round(xy_of(acc), 3)
    uniq, inverse = np.unique(xy, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    if len(uniq) == 1:
        return np.array([area] * len(acc), dtype=object)
    cells = shapely.voronoi_polygons(shapely.multipoints(uniq), extend_to=area,
                                     ordered=True)
    parts = np.asarray(shapely.get_parts(cells))
    clipped = shapely.intersection(parts, area)
    return clipped[inverse]


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """Keep only the polygon parts of clipped cells (a clip can leave stray lines)."""
    geoms = np.asarray(geoms, dtype=object).copy()
    for i in np.flatnonzero(shapely.get_type_id(geoms) == 7):  # GeometryCollection
        parts = shapely.get_parts(geoms[i])
        geoms[i] = shapely.union_all(parts[shapely.get_type_id(parts) >= 3])
    return geoms


def _study_area(acc: gpd.GeoDataFrame, pot: gpd.GeoDataFrame | None) -> shapely.Geometry:
    if pot is not None:
        return shapely.union_all(pot.geometry.make_valid().to_numpy())
    hull = shapely.convex_hull(shapely.multipoints(xy_of(acc)))
    minx, miny, maxx, maxy = shapely.bounds(hull)
    return hull.buffer(0.05 * max(maxx - minx, maxy - miny, 1000.0))


def _point_units(acc: gpd.GeoDataFrame, labels: np.ndarray, ids: np.ndarray,
                 pot: gpd.GeoDataFrame | None, sums: list[str]) -> gpd.GeoDataFrame:
    xy = xy_of(acc)
    w = acc["workload"].to_numpy(dtype=float)
    frame = pd.DataFrame({"label": labels, "workload": w,
                          "potential": acc["potential"].to_numpy(),
                          "wx": xy[:, 0] * w, "wy": xy[:, 1] * w, "x": xy[:, 0],
                          "y": xy[:, 1]} | {c: acc[c].to_numpy(dtype=float) for c in sums})
    grouped = frame.groupby("label", sort=True)
    agg = grouped[["workload", "potential", "wx", "wy", "x", "y", *sums]].sum()
    n = grouped.size()
    # location: workload-weighted mean, plain mean where the unit has no workload
    x = np.where(agg["workload"] > 0, agg["wx"] / agg["workload"].where(agg["workload"] > 0, 1),
                 agg["x"] / n)
    y = np.where(agg["workload"] > 0, agg["wy"] / agg["workload"].where(agg["workload"] > 0, 1),
                 agg["y"] / n)
    where = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=acc.crs)
    geoms = _polygonal(_voronoi_cells(where, _study_area(acc, pot)))
    members = acc.groupby(labels)["account_id"].agg(tuple)
    member_work = acc.groupby(labels)["workload"].agg(tuple)
    segment = ({"segment": acc.groupby(labels)["segment"].first().loc[agg.index].to_numpy()}
               if "segment" in acc.columns else {})
    units = gpd.GeoDataFrame({
        "unit_id": ids[agg.index.to_numpy()],
        **segment,
        "accounts": n.to_numpy(),
        "workload": agg["workload"].to_numpy(),
        "potential": agg["potential"].to_numpy(),
        **{c: agg[c].to_numpy() for c in sums},
        "x": x, "y": y,
        "account_ids": members.loc[agg.index].to_numpy(),
        "account_workloads": member_work.loc[agg.index].to_numpy(),
    }, geometry=geoms, crs=acc.crs)
    return units.reset_index(drop=True)


def _polygon_units(acc: gpd.GeoDataFrame, pot: gpd.GeoDataFrame,
                   sums: list[str]) -> gpd.GeoDataFrame:
    hit = gpd.sjoin(acc[["geometry"]], pot[["geometry"]], how="left", predicate="within")
    hit = hit[~hit.index.duplicated()]
    outside = hit["index_right"].isna()
    if outside.any():
        n_out = int(outside.sum())
        warnings.warn(f"{n_out} account{' lies' if n_out == 1 else 's lie'} outside every "
                      "polygon of the potential layer (e.g. account "
                      f"{acc.loc[outside[outside].index[0], 'account_id']!r}); each joins "
                      "its nearest polygon", TerritoryOptWarning, stacklevel=3)
        near = gpd.sjoin_nearest(acc.loc[outside[outside].index, ["geometry"]],
                                 pot[["geometry"]], how="left")
        near = near[~near.index.duplicated()]
        hit.loc[near.index, "index_right"] = near["index_right"]
    poly_of = hit["index_right"].astype(int).to_numpy()
    segmented = "segment" in acc.columns
    units = _units_by_polygon(acc if segmented else acc.assign(segment=""), pot, poly_of, sums)
    return units if segmented else units.drop(columns="segment")


def _units_by_polygon(acc: gpd.GeoDataFrame, pot: gpd.GeoDataFrame, poly_of: np.ndarray,
                      sums: list[str]) -> gpd.GeoDataFrame:
    """Polygon units, one per polygon and segment of its accounts (id
    ``polygon|segment`` where a polygon has several), sharing the polygon's shape;
    its potential shared in proportion to workload (to accounts where there is
    none). A polygon without accounts stays one unit, of no segment (any rep may
    take it). Without segments (all ``""``), one unit per polygon."""
    seg = acc["segment"].to_numpy()
    frame = pd.DataFrame({"poly": poly_of, "segment": seg,
                          "workload": acc["workload"].to_numpy(dtype=float),
                          "account_id": acc["account_id"].to_numpy()}
                         | {c: acc[c].to_numpy(dtype=float) for c in sums})
    grouped = frame.groupby(["poly", "segment"], sort=True)
    agg = grouped[["workload", *sums]].sum()
    count = grouped.size()
    poly = np.concatenate([agg.index.get_level_values(0).to_numpy(dtype=int),
                           np.setdiff1d(np.arange(len(pot)), poly_of)])
    n_seg = len(agg)
    segment = np.concatenate([agg.index.get_level_values(1).to_numpy(dtype=object),
                              np.full(len(poly) - n_seg, "", dtype=object)])
    work = np.concatenate([agg["workload"].to_numpy(), np.zeros(len(poly) - n_seg)])
    accounts = np.concatenate([count.to_numpy(), np.zeros(len(poly) - n_seg, dtype=int)])
    per_poly = np.bincount(poly, weights=work, minlength=len(pot))
    n_poly = np.bincount(poly, weights=accounts, minlength=len(pot))
    share = np.where(per_poly[poly] > 0, work / np.where(per_poly[poly] > 0, per_poly[poly], 1),
                     np.where(n_poly[poly] > 0, accounts / np.maximum(n_poly[poly], 1), 1.0))
    several = np.bincount(poly, minlength=len(pot))[poly] > 1
    base_id = pot["potential_id"].astype(str).to_numpy()[poly]
    members = grouped["account_id"].agg(tuple).to_numpy().tolist()
    member_work = grouped["workload"].agg(tuple).to_numpy().tolist()
    empty = len(poly) - n_seg
    centroid = pot.geometry.centroid
    units = gpd.GeoDataFrame({
        "unit_id": np.where(several, [f"{b}|{g}" for b, g in zip(base_id, segment,
                                                                  strict=True)], base_id),
        "segment": segment,
        "accounts": accounts,
        "workload": work,
        "potential": pot["potential"].to_numpy(dtype=float)[poly] * share,
        **{c: np.concatenate([agg[c].to_numpy(), np.zeros(empty)]) for c in sums},
        "x": centroid.x.to_numpy()[poly], "y": centroid.y.to_numpy()[poly],
        "account_ids": members + [()] * empty,
        "account_workloads": member_work + [()] * empty,
    }, geometry=pot.geometry.to_numpy()[poly], crs=pot.crs)
    if "name" in pot.columns:
        units.insert(1, "name", pot["name"].astype(str).to_numpy()[poly])
    order = np.lexsort((segment.astype(str), poly))  # the polygons' order, then segment
    units = units.iloc[order].reset_index(drop=True)
    units.attrs["areas"] = True  # real areas: a rep's home polygon is theirs (see problem)
    return units

