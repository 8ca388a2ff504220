"""Interactive folium map of a territory plan.

Territories are coloured so that neighbours never share a colour (greedy
colouring of their adjacency graph); each carries a tooltip with its figures.
Every string that comes from data is HTML-escaped before it reaches the page.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import networkx as nx

if TYPE_CHECKING:
    import folium

    from territory_opt.solution import Solution

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
           "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
SIMPLIFY_M = 100.0
TOOLTIP_FIELDS = {"territory": "Territory", "rep_name": "Rep", "accounts": "Accounts",
                  "workload": "Workload", "workload_pct": "Workload % of target",
                  "potential": "Potential", "potential_pct": "Potential % of target",
                  "mean_km": "Mean km from base", "max_km": "Max km from base"}


def territory_colours(territories: gpd.GeoDataFrame) -> list[str]:
    """A colour per territory; touching territories get different colours."""
    graph = nx.Graph()
    graph.add_nodes_from(range(len(territories)))
    geoms = territories.geometry.buffer(1.0).to_numpy()  # close slivers between cells
    tree = territories.sindex
    for i, geom in enumerate(geoms):
        for j in tree.query(geom, predicate="intersects"):
            if j > i:
                graph.add_edge(i, int(j))
    colouring = nx.greedy_color(graph, strategy="largest_first")
    return [PALETTE[colouring[i] % len(PALETTE)] for i in range(len(territories))]


def territory_map(solution: Solution, *, m: folium.Map | None = None,
                  reach_km: float = 100.0, tiles: str | None = "OpenStreetMap",
                  show_units: bool = False) -> folium.Map:
    """Folium map with territories, rep bases and a layer control.

    Parameters
    ----------
    solution
        A solved plan.
    m
        Existing map to draw on (layers are added), or None for a new one.
    reach_km
        Reach used for the coverage figures of the tooltips.
    tiles
        Base tiles, or None for none (the map then needs no network at all).
    show_units
        Also draw the planning units (as a layer, off by default).
    """
    import folium

    terr = solution.territories(reach_km=reach_km)
    terr = terr.assign(colour=territory_colours(terr))
    terr["geometry"] = terr.geometry.simplify(SIMPLIFY_M)
    shown = terr[[*TOOLTIP_FIELDS, "colour", "geometry"]].to_crs("EPSG:4326")
    for col in shown.columns:
        if shown[col].dtype == object and col != "geometry":
            shown[col] = shown[col].map(lambda v: html.escape(str(v)))
        elif col != "geometry" and shown[col].dtype.kind == "f":
            shown[col] = shown[col].round(1)
    if m is None:
        west, south, east, north = shown.total_bounds
        m = folium.Map(tiles=tiles, control_scale=True)
        m.fit_bounds([[south, west], [north, east]])
    if show_units:
        units = solution.units()[["unit_id", "territory", "geometry"]].to_crs("EPSG:4326")
        units = units.assign(unit_id=units["unit_id"].map(lambda v: html.escape(str(v))),
                             territory=units["territory"].map(lambda v: html.escape(str(v))))
        folium.GeoJson(units, name="Units", show=False,
                       style_function=lambda f: {"color": "#555", "weight": 0.5,
                                                 "fillOpacity": 0.0},
                       tooltip=folium.GeoJsonTooltip(["unit_id", "territory"])).add_to(m)
    folium.GeoJson(
        shown, name="Territories",
        style_function=lambda f: {"fillColor": f["properties"]["colour"], "color": "#333",
                                  "weight": 1.2, "fillOpacity": 0.55},
        highlight_function=lambda f: {"weight": 3, "fillOpacity": 0.75},
        tooltip=folium.GeoJsonTooltip(list(TOOLTIP_FIELDS), aliases=list(TOOLTIP_FIELDS.values()),
                                      localize=True, sticky=True),
    ).add_to(m)
    bases = folium.FeatureGroup(name="Rep bases")
    p = solution.problem
    base_xy = gpd.GeoDataFrame(geometry=gpd.points_from_xy(solution.territory_table["x"],
                                                           solution.territory_table["y"]),
                               crs=p.units.crs).to_crs("EPSG:4326")
    for row, point in zip(solution.territory_table.itertuples(), base_xy.geometry, strict=True):
        label = html.escape(f"{row.rep_name} ({row.rep_id}), territory {row.territory}")
        folium.CircleMarker([point.y, point.x], radius=6, color="#000", weight=2,
                            fill=True, fill_color="#fff", fill_opacity=1.0,
                            tooltip=label).add_to(bases)
    bases.add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    return m


def map_html(solution: Solution, **kwargs: Any) -> str:
    """The map as one HTML page (a string)."""
    return territory_map(solution, **kwargs).get_root().render()
