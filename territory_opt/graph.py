"""Adjacency of planning units, for contiguous territories.

Polygons are neighbours when they share an edge (``"rook"``) or an edge or a
corner (``"queen"``); points when they share a Delaunay triangle
(``"delaunay"``) or are among each other's k nearest (``"knn"``). Pieces of the
graph that touch nothing (islands) are bridged to their nearest unit with a
warning, so that contiguity stays possible.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable, Sequence
from typing import Literal

import geopandas as gpd
import networkx as nx
import numpy as np
import shapely

from territory_opt.errors import InputError, TerritoryOptWarning

__all__ = ["adjacency", "graph_from_edges", "piece_counts", "relabel_to_positions"]

logger = logging.getLogger(__name__)

AdjacencyKind = Literal["auto", "rook", "queen", "delaunay", "knn"]


def adjacency(units: gpd.GeoDataFrame, *, kind: AdjacencyKind = "auto", k: int = 6,
              bridge: bool = True) -> nx.Graph:
    """The adjacency graph of ``units``, on their ``unit_id``.

    Parameters
    ----------
    units
        Planning units (polygons, or points).
    kind
        ``"rook"`` (shared edge), ``"queen"`` (edge or corner), ``"delaunay"``,
        ``"knn"``; ``"auto"`` is rook for polygons and Delaunay for points.
    k
        Neighbours per unit for ``"knn"``.
    bridge
        Join every piece of the graph to its nearest unit in another piece
        (with a :class:`TerritoryOptWarning`) until the graph is connected.

    Returns
    -------
    networkx.Graph
        Nodes are unit ids; each edge has ``length``, the length of the
        shared border in CRS units (0 for corners, points and bridges).
    """
    ids = [str(u) for u in units["unit_id"]]
    geoms = units.geometry.to_numpy()
    polygons = bool(np.all(shapely.get_type_id(geoms) >= 3))
    if kind == "auto":
        kind = "rook" if polygons else "delaunay"
    graph = nx.Graph()
    graph.add_nodes_from(ids)
    if kind in ("rook", "queen"):
        if not polygons:
            raise InputError(f"adjacency {kind!r} needs polygon units; use 'delaunay' or "
                             "'knn' for points")
        left, right = units.sindex.query(geoms, predicate="intersects")
        keep = left < right
        left, right = left[keep], right[keep]
        shared = shapely.length(shapely.intersection(geoms[left], geoms[right]))
        for i, j, length in zip(left, right, shared, strict=True):
            if kind == "queen" or length > 1e-6:
                graph.add_edge(ids[i], ids[j], length=float(length))
    elif kind in ("delaunay", "knn"):
        xy = np.column_stack([units["x"].to_numpy(), units["y"].to_numpy()])
        for i, j in _point_pairs(xy, kind, k):
            graph.add_edge(ids[i], ids[j], length=0.0)
    else:
        raise InputError(f"unknown adjacency {kind!r}; use 'rook', 'queen', 'delaunay' or "
                         "'knn'")
    if bridge:
        _bridge(graph, ids, np.column_stack([units["x"], units["y"]]))
    return graph


def _point_pairs(xy: np.ndarray, kind: str, k: int) -> Iterable[tuple[int, int]]:
    n = len(xy)
    if n < 2:
        return []
    if kind == "knn" or n < 4:
        from sklearn.neighbors import NearestNeighbors

        nn = NearestNeighbors(n_neighbors=min(k + 1, n)).fit(xy)
        _, idx = nn.kneighbors(xy)
        return {(min(i, int(j)), max(i, int(j))) for i in range(n) for j in idx[i, 1:]}
    from scipy.spatial import Delaunay

    tri = Delaunay(xy, qhull_options="QJ")
    pairs = set()
    for a, b, c in tri.simplices:
        for i, j in ((a, b), (b, c), (a, c)):
            pairs.add((min(int(i), int(j)), max(int(i), int(j))))
    return pairs


def _bridge(graph: nx.Graph, ids: Sequence[str], xy: np.ndarray) -> None:
    """Join the graph's pieces, each to the nearest unit outside it."""
    pieces = list(nx.connected_components(graph))
    if len(pieces) <= 1:
        return
    pos = {u: i for i, u in enumerate(ids)}
    added = []
    while len(pieces) > 1:
        pieces.sort(key=len)
        small = pieces[0]
        inside = np.array([pos[u] for u in small])
        outside = np.array([pos[u] for u in graph.nodes if u not in small])
        d = np.hypot(xy[inside, None, 0] - xy[None, outside, 0],
                     xy[inside, None, 1] - xy[None, outside, 1])
        a, b = np.unravel_index(np.argmin(d), d.shape)
        u, v = ids[inside[a]], ids[outside[b]]
        graph.add_edge(u, v, length=0.0, bridge=True)
        added.append((u, v))
        pieces = list(nx.connected_components(graph))
    shown = ", ".join(f"{u}-{v}" for u, v in added[:5])
    warnings.warn(f"the units' adjacency graph had {len(added) + 1} separate pieces; "
                  f"bridged each to its nearest unit ({shown}{', ...' if len(added) > 5 else ''})",
                  TerritoryOptWarning, stacklevel=3)


def graph_from_edges(ids: Sequence[str], edges: Iterable[tuple[object, object]]) -> nx.Graph:
    """A graph on unit ``ids`` from ``(id, id)`` pairs (unknown ids are an error)."""
    graph = nx.Graph()
    graph.add_nodes_from(str(i) for i in ids)
    known = set(graph.nodes)
    for a, b in edges:
        a, b = str(a), str(b)
        if a not in known or b not in known:
            raise InputError(f"adjacency edge ({a!r}, {b!r}) names a unit that does not "
                             "exist; fix the edge list")
        if a != b:
            graph.add_edge(a, b)
    return graph


def relabel_to_positions(graph: nx.Graph, ids: Sequence[str]) -> nx.Graph:
    """The graph on positions 0..n-1 of ``ids`` (every id must be a node)."""
    pos = {u: i for i, u in enumerate(ids)}
    missing = [u for u in ids if u not in graph]
    if missing:
        raise InputError(f"the adjacency graph has no node for unit {missing[0]!r} "
                         f"({len(missing)} units missing); give every unit a node")
    out = nx.Graph()
    out.add_nodes_from(range(len(ids)))
    out.add_edges_from((pos[a], pos[b]) for a, b in graph.edges if a in pos and b in pos)
    return out


def pieces(indptr: np.ndarray, indices: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each unit's piece: the connected component of the edges inside territories
    (``labels``: each unit's territory) on the graph given as CSR ``indptr`` /
    ``indices``."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(labels)
    rows = np.repeat(np.arange(n), np.diff(indptr))
    same = labels[rows] == labels[indices]
    inside = csr_matrix((np.ones(int(same.sum())), (rows[same], indices[same])), shape=(n, n))
    return connected_components(inside, directed=False)[1]


def piece_counts(indptr: np.ndarray, indices: np.ndarray, labels: np.ndarray,
                 k: int) -> np.ndarray:
    """Per territory (``labels``: each unit's, 0 .. k-1): how many connected pieces it
    is in on the graph given as CSR ``indptr`` / ``indices`` (one connected-components
    pass over the edges inside territories)."""
    first = np.unique(pieces(indptr, indices, labels), return_index=True)[1]
    return np.bincount(labels[first], minlength=k)
