"""Interactive folium map of a territory plan, and a static map for slides.

The HTML map works offline and as an email attachment: Leaflet's script and
stylesheet are inlined from the installed ``django-js-lib-leaflet`` wheel (no
CDN), and the base tiles are an optional layer that is off by default. Layers:
dissolved territories (coloured so that neighbours never share a colour, with
a tooltip and a popup of their figures), rep bases, accounts (drawn one by one
up to ``cluster_above`` accounts, else grouped on a screen grid that follows
the zoom), moved accounts for realignment runs, and a legend.

Every string that comes from data is HTML-escaped before it reaches the page.
"""

from __future__ import annotations

import colorsys
import hashlib
import html
import io as _io
import re
from importlib.resources import files
from typing import TYPE_CHECKING, Any

import folium
import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
from branca.element import Element
from folium.map import Layer
from jinja2 import Template

from territory_opt.geo import lon_cut_of, to_lonlat, unwrap
from territory_opt.outputs.report import plain_text

if TYPE_CHECKING:
    from territory_opt.solution import Solution

__all__ = ["MAP_CSS", "PALETTE", "account_points", "escaped", "inline_assets", "legend",
           "map_html", "offline_map", "static_map", "territory_colours", "territory_map"]

# 20 colours: matplotlib's tab10, then ten more that stay apart from them
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
           "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939",
           "#8c6d31", "#843c39", "#7b4173", "#ffbb78", "#98df8a", "#ff9896",
           "#c5b0d5", "#9edae5"]
MIN_CONTRAST = 120.0  # touching territories' colours at least this far apart (redmean)
SIMPLIFY_M = 100.0
CLUSTER_ABOVE = 3000  # accounts; more are grouped on a screen grid
CLUSTER_CELL_PX = 60
TOOLTIP_FIELDS = {"territory": "Territory", "rep_name": "Rep", "accounts": "Accounts",
                  "workload": "Workload", "workload_pct": "Workload % of target",
                  "potential": "Potential", "potential_pct": "Potential % of target",
                  "mean_km": "Mean km from base", "max_km": "Max km from base"}
POPUP_EXTRA = {"region": "Region", "coverage_pct": "Potential within reach %",
               "polsby_popper": "Polsby-Popper",
               "moved_in": "Accounts moved in", "moved_out": "Accounts moved out"}
ONLINE_TILES = "Background map (online)"

# Our own code: draws accounts as circle markers, or, when clustering, one
# marker per occupied cell of a screen grid, redrawn at every zoom.
_ACCOUNTS_JS = """
function territoryOptAccounts(map, points, opt) {
  var group = L.featureGroup();
  function dot(p) {
    return L.circleMarker([p[0], p[1]], {radius: opt.radius, color: opt.stroke,
      weight: opt.weight, fillColor: p[2], fillOpacity: 0.9}).bindTooltip(p[3]);
  }
  function draw() {
    group.clearLayers();
    if (!opt.cluster) { points.forEach(function (p) { group.addLayer(dot(p)); }); return; }
    var zoom = map.getZoom(), cells = {};
    points.forEach(function (p) {
      var xy = map.project([p[0], p[1]], zoom);
      var key = Math.floor(xy.x / opt.cell) + ":" + Math.floor(xy.y / opt.cell);
      (cells[key] = cells[key] || []).push(p);
    });
    Object.keys(cells).forEach(function (key) {
      var c = cells[key];
      if (c.length === 1) { group.addLayer(dot(c[0])); return; }
      var lat = 0, lon = 0;
      c.forEach(function (p) { lat += p[0]; lon += p[1]; });
      var size = c.length < 100 ? 28 : c.length < 1000 ? 34 : 40;
      var m = L.marker([lat / c.length, lon / c.length], {icon: L.divIcon({
        className: "topt-cluster", iconSize: [size, size],
        html: "<div>" + c.length + "</div>"})});
      m.bindTooltip(c.length + " accounts: click to zoom in");
      m.on("click", function () { map.setView(m.getLatLng(), zoom + 2); });
      group.addLayer(m);
    });
  }
  map.on("zoomend", draw);
  draw();
  return group;
}
"""

MAP_CSS = """
.topt-cluster div { width: 100%; height: 100%; border-radius: 50%; display: flex;
  align-items: center; justify-content: center; font: bold 11px sans-serif;
  background: rgba(40, 40, 40, 0.75); color: #fff; border: 2px solid #fff; }
.topt-legend { position: absolute; bottom: 28px; right: 10px; z-index: 1000;
  background: rgba(255, 255, 255, 0.92); padding: 6px 9px; border-radius: 4px;
  font: 12px sans-serif; max-height: 60%; overflow-y: auto;
  box-shadow: 0 1px 4px rgba(0, 0, 0, 0.4); }
.topt-base { font: bold 11px sans-serif; padding: 1px 4px; }
.topt-legend i { display: inline-block; width: 12px; height: 12px; margin-right: 6px;
  vertical-align: middle; border: 1px solid #333; }
.topt-legends { position: absolute; bottom: 28px; right: 10px; z-index: 1000;
  display: flex; gap: 6px; align-items: flex-end; max-height: 60%; }
.topt-legends .topt-legend { position: static; max-height: none; }
"""


def territory_colours(territories: gpd.GeoDataFrame) -> list[str]:
    """A colour per territory, the same for a rep in every run and scenario, and
    clearly different for touching territories.

    Each rep (its ``rep_id``; the territory label without reps) prefers the
    palette colour its id hashes to. In order of their ids, reps take that
    colour, or the next one that no rep has taken (while the palette suffices)
    and that stands apart (``MIN_CONTRAST``) from the colours of the touching
    territories coloured before. So a rep's colour changes only where a
    neighbour would look too alike.
    """
    keys = [str(r) if str(r) else str(t) for r, t in zip(
        territories["rep_id"] if "rep_id" in territories else territories["territory"],
        territories["territory"], strict=True)]
    n, k = len(PALETTE), len(territories)
    graph = nx.Graph()
    graph.add_nodes_from(range(k))
    geoms = territories.geometry.buffer(1.0).to_numpy()  # close slivers between cells
    tree = territories.sindex
    for i, geom in enumerate(geoms):
        for j in tree.query(geom, predicate="intersects"):
            if j > i:
                graph.add_edge(i, int(j))
    contrast = _contrast()
    colour: dict[int, int] = {}
    taken: set[int] = set()
    for node in sorted(range(k), key=lambda v: (keys[v], v)):
        near = [colour[v] for v in graph[node] if v in colour and colour[v] < n]
        want = _preferred(keys[node])
        allowed = [(want + d) % n for d in range(n) if k > n or (want + d) % n not in taken]
        apart = [c for c in allowed if all(contrast[c, o] >= MIN_CONTRAST for o in near)]
        if apart:
            pick = apart[0]
        else:  # too many neighbours: the most distinct colour, or one of its own
            pick = max(allowed, key=lambda c: min((contrast[c, o] for o in near),
                                                  default=np.inf), default=-1)
            if pick < 0 or any(contrast[pick, o] == 0 for o in near):
                pick = n + node
        colour[node] = pick
        taken.add(pick)
    return [PALETTE[colour[i]] if colour[i] < n else _extra_colour(colour[i])
            for i in range(k)]


def _contrast() -> np.ndarray:
    """Pairwise distances of the palette's colours ("redmean", a cheap perceptual
    approximation of the RGB distance)."""
    rgb = np.array([[int(h[i:i + 2], 16) for i in (1, 3, 5)] for h in PALETTE], dtype=float)
    mean_r = (rgb[:, None, 0] + rgb[None, :, 0]) / 2
    d = rgb[:, None, :] - rgb[None, :, :]
    return np.sqrt((2 + mean_r / 256) * d[..., 0] ** 2 + 4 * d[..., 1] ** 2
                   + (2 + (255 - mean_r) / 256) * d[..., 2] ** 2)


def _preferred(key: str) -> int:
    """A rep's own palette colour: from a hash of its id, the same in every run."""
    return int(hashlib.sha1(key.encode("utf-8")).hexdigest(), 16) % len(PALETTE)


def _extra_colour(index: int) -> str:
    """A further distinct colour for the rare territory with ten neighbours or more."""
    hue = (index * 0.618033988749895) % 1.0
    r, g, b = colorsys.hls_to_rgb(hue, 0.55, 0.6)
    return f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}"


def leaflet_asset(name: str) -> str:
    """Leaflet's ``leaflet.js`` or ``leaflet.css`` from the installed wheel."""
    path = files("js_lib_leaflet") / "static" / "js_lib_leaflet" / name
    text = path.read_text(encoding="utf-8")
    return re.sub(r"/\*# sourceMappingURL=.*?\*/|//# sourceMappingURL=\S+", "", text)


def escaped(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns HTML-escaped, floats rounded for display."""
    out = frame.copy()
    for col in out.columns:
        if col == "geometry":
            continue
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(lambda v: html.escape(str(v)))
        elif out[col].dtype.kind == "f":
            out[col] = out[col].round(1)
    return out


def plan_cut(*solutions: Solution) -> float:
    """The longitude where a map of these plans cuts the globe (:func:`~territory_opt.geo.lon_cut`):
    180 unless the units cross the antimeridian."""
    return lon_cut_of(*(s.problem.units for s in solutions))


def account_points(solution: Solution, accounts: gpd.GeoDataFrame | None,
                   cut: float = 180.0) -> pd.DataFrame:
    """One row per account: lat, lon, territory, rep_id, label, and moved/old_rep_id.

    ``accounts`` (as read by :func:`territory_opt.io.read_accounts`) gives the
    positions and names; without it, units that are single accounts stand in.
    Longitudes are unwrapped at ``cut`` (:func:`plan_cut`).
    """
    table = solution.assignments()
    if "moved" not in table:  # no current alignment: nothing moved
        table = table.assign(old_rep_id="", moved=False)
    if accounts is None:
        units = solution.problem.units
        if not (units["account_ids"].map(len) == 1).all():
            return table.iloc[0:0].assign(lat=[], lon=[], label=[])
        accounts = gpd.GeoDataFrame({"account_id": units["unit_id"].astype(str)},
                                    geometry=units.geometry.centroid, crs=units.crs)
    points = accounts.to_crs("EPSG:4326")
    pos = pd.DataFrame({"account_id": points["account_id"].astype(str),
                        "lat": points.geometry.y, "lon": unwrap(points.geometry.x, cut),
                        "label": points["name"].astype(str) if "name" in points
                        else points["account_id"].astype(str)})
    return table.merge(pos, on="account_id", how="inner")


class AccountsLayer(Layer):
    """A Leaflet layer of accounts, drawn by our ``territoryOptAccounts`` script."""

    _template = Template("""
{% macro script(this, kwargs) %}
var {{ this.get_name() }} = territoryOptAccounts({{ this._parent.get_name() }},
    {{ this.points|tojson }}, {{ this.options|tojson }});
{% if this.show %}{{ this.get_name() }}.addTo({{ this._parent.get_name() }});{% endif %}
{% endmacro %}
""")

    def __init__(self, name: str, points: list[list[Any]], *, cluster: bool, show: bool,
                 weight: float) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "AccountsLayer"
        self.points = points  # [lat, lon, colour, tooltip HTML (data escaped)]
        self.options = {"cluster": cluster, "cell": CLUSTER_CELL_PX, "radius": 4,
                        "stroke": "#222", "weight": weight}


def legend(terr: pd.DataFrame, *, title: str = "Territories", note: str = "") -> str:
    """The map's legend: each territory's colour, label and rep (escaped), under its
    region's name when the territories have one."""
    def row(t: Any, rep: Any, colour: str) -> str:
        return (f'<div><i style="background:{colour}"></i>{html.escape(str(t))}: '
                f"{html.escape(str(rep))}</div>")

    if "region" in terr:
        rows = "".join(
            f"<div><u>{html.escape(str(region))}</u></div>"
            + "".join(row(*r) for r in zip(part["territory"], part["rep_name"],
                                           part["colour"], strict=True))
            for region, part in terr.groupby("region", sort=False))
    else:
        rows = "".join(row(*r) for r in zip(terr["territory"], terr["rep_name"],
                                            terr["colour"], strict=True))
    note = f"<div>{html.escape(note)}</div>" if note else ""
    return f'<div class="topt-legend"><b>{html.escape(title)}</b>{rows}{note}</div>'


def offline_map(frame: gpd.GeoDataFrame) -> folium.Map:
    """An empty map fitted to ``frame`` (in WGS 84, longitudes unwrapped as drawn: see
    :func:`~territory_opt.geo.to_lonlat`), loading only Leaflet (see
    :func:`inline_assets`).

    folium's other default assets (jQuery, Bootstrap, icon fonts) are unused
    by our layers, so they are left out rather than inlined.
    """
    west, south, east, north = frame.total_bounds
    m = folium.Map(tiles=None, control_scale=True, zoom_snap=0.25)  # a close fit
    m.fit_bounds([[south, west], [north, east]])
    m.default_js = [("leaflet", "leaflet.js")]
    m.default_css = [("leaflet_css", "leaflet.css")]
    return m


def coloured_territories(solution: Solution, reach_km: float | None = None) -> gpd.GeoDataFrame:
    """The plan's territories (:meth:`Solution.territories`) with their map colours."""
    terr = solution.territories(reach_km=reach_km)
    return terr.assign(colour=territory_colours(terr))


def _territory_layers(solution: Solution, show: bool) -> list[tuple[str, list[int], bool]]:
    """``(name, territory rows, shown)`` per layer of territories: one, or with reps
    restricted to segments one per set of segments served (their shapes overlap where
    units share a polygon), the set with most territories shown first."""
    served = solution.problem.served
    k = solution.problem.n_territories
    if served is None:
        return [("Territories", list(range(k)), show)]
    groups: dict[tuple[str, ...], list[int]] = {}
    for t, names in enumerate(served):
        groups.setdefault(names, []).append(t)
    order = sorted(groups, key=lambda g: -len(groups[g]))
    return [(f"Territories: {'; '.join(g) or 'every segment'}", groups[g], show and i == 0)
            for i, g in enumerate(order)]


def territory_map(solution: Solution, *, m: folium.Map | None = None,
                  reach_km: float | None = None, accounts: gpd.GeoDataFrame | None = None,
                  tiles: bool = True, show_units: bool = False,
                  cluster_above: int = CLUSTER_ABOVE, layer_prefix: str = "",
                  show: bool = True, cut: float | None = None) -> folium.Map:
    """Folium map of a plan: territories, bases, accounts, moves, legend, layers.

    Parameters
    ----------
    solution
        A solved plan.
    m
        Existing map to draw on (layers are added), or None for a new one.
    reach_km
        Reach used for the coverage figures of the popups.
    accounts
        The accounts as read (positions and a ``name`` column for the labels);
        None draws single-account units as the accounts, or none.
    tiles
        Offer OpenStreetMap tiles as a layer, off by default (it needs the
        network; the map is complete without it).
    show_units
        Also draw the planning units (as a layer, off by default).
    cluster_above
        Group the accounts on a screen grid when there are more than this.
    layer_prefix, show
        Put before each layer's name (e.g. a team's), and whether the layers
        show at first (one team of several: the others behind the layer control).
    cut
        Where the map cuts the globe (:func:`plan_cut`, which is the default):
        a plan across the antimeridian draws as one piece, not a strip around
        the world.
    """
    if cut is None:
        cut = plan_cut(solution)
    terr = coloured_territories(solution, reach_km)
    terr["geometry"] = terr.geometry.simplify(SIMPLIFY_M)
    fields = {**TOOLTIP_FIELDS, **{c: a for c, a in POPUP_EXTRA.items() if c in terr}}
    shown = escaped(to_lonlat(terr[[*fields, "colour", "geometry"]], cut))
    colour_of = dict(zip(terr["territory"], terr["colour"], strict=True))
    new_map = m is None
    if m is None:
        m = offline_map(shown)
    if tiles:
        folium.TileLayer("OpenStreetMap", name=ONLINE_TILES, overlay=True, show=False,
                         control=True).add_to(m)
    if show_units:
        units = escaped(to_lonlat(solution.units()[["unit_id", "territory", "geometry"]],
                                  cut))
        folium.GeoJson(units, name=f"{layer_prefix}Units", show=False,
                       style_function=lambda f: {"color": "#555", "weight": 0.5,
                                                 "fillOpacity": 0.0},
                       tooltip=folium.GeoJsonTooltip(["unit_id", "territory"])).add_to(m)
    for name, rows, visible in _territory_layers(solution, show):
        folium.GeoJson(
            shown.iloc[rows], name=f"{layer_prefix}{name}", show=visible,
            style_function=lambda f: {"fillColor": f["properties"]["colour"],
                                      "color": "#333", "weight": 1.2, "fillOpacity": 0.55},
            highlight_function=lambda f: {"weight": 3, "fillOpacity": 0.75},
            tooltip=folium.GeoJsonTooltip(list(TOOLTIP_FIELDS),
                                          aliases=list(TOOLTIP_FIELDS.values()),
                                          localize=True, sticky=True),
            popup=folium.GeoJsonPopup(list(fields), aliases=list(fields.values()),
                                      localize=True),
        ).add_to(m)
    regions = solution.region_shapes
    if len(regions):  # outlines over the territories; only their strokes take the mouse
        outlines = escaped(to_lonlat(
            regions.assign(geometry=regions.geometry.simplify(SIMPLIFY_M)), cut))
        folium.GeoJson(outlines, name=f"{layer_prefix}Regions ({len(regions)})", show=show,
                       style_function=lambda f: {"fill": False, "color": "#111",
                                                 "weight": 4, "opacity": 0.85},
                       tooltip=folium.GeoJsonTooltip(["region"], aliases=["Region"],
                                                     sticky=True)).add_to(m)
    points = account_points(solution, accounts, cut)
    if len(points):
        m.get_root().header.add_child(Element(f"<script>{_ACCOUNTS_JS}</script>"))
        esc = html.escape
        points = points.assign(
            colour=points["territory"].map(colour_of),
            head=[f"<b>{esc(str(lab))}</b><br>{esc(str(a))}"
                  for lab, a in zip(points["label"], points["account_id"], strict=True)])
        layers = [(f"{layer_prefix}Accounts", points, points["territory"].map(
                      lambda t: f": territory {esc(str(t))}"), 0.5)]
        moved = points[points["moved"]]
        if len(moved):
            layers.append((f"{layer_prefix}Moved accounts ({len(moved)})", moved, [
                f": moved from {esc(str(o))} to {esc(str(n))}"
                for o, n in zip(moved["old_rep_id"], moved["rep_id"], strict=True)], 2.5))
        for name, frame, tail, weight in layers:
            data = [[round(float(lat), 6), round(float(lon), 6), colour, head + end]
                    for lat, lon, colour, head, end in zip(
                        frame["lat"], frame["lon"], frame["colour"], frame["head"], tail,
                        strict=True)]
            AccountsLayer(name, data, cluster=len(data) > cluster_above, show=show,
                          weight=weight).add_to(m)
    bases = folium.FeatureGroup(name=f"{layer_prefix}Rep bases", show=show)
    p = solution.problem
    base_xy = to_lonlat(gpd.GeoDataFrame(geometry=gpd.points_from_xy(
        solution.territory_info["x"], solution.territory_info["y"]), crs=p.units.crs), cut)
    for row, point in zip(solution.territory_info.itertuples(), base_xy.geometry, strict=True):
        if not (np.isfinite(point.x) and np.isfinite(point.y)):
            continue  # model centres without reps: no base
        # the rep's name always shown beside the base (the legend gives the territory)
        marker = folium.CircleMarker([point.y, point.x], radius=6, color="#000", weight=2,
                                     fill=True, fill_color="#fff", fill_opacity=1.0)
        marker.add_child(folium.Tooltip(html.escape(f"{row.rep_name} ({row.territory})"),
                                        permanent=True, direction="right",
                                        class_name="topt-base"))
        marker.add_to(bases)
    bases.add_to(m)
    if new_map:
        m.get_root().header.add_child(Element(f"<style>{MAP_CSS}</style>"))
        m.get_root().html.add_child(Element(legend(terr)))
        folium.LayerControl(collapsed=False).add_to(m)
    return m


def teams_map(plans: dict[str, tuple[Solution, gpd.GeoDataFrame | None]], *,
              reach_km: float | None = None) -> str:
    """One self-contained page with a group of layers per team (the first team's
    shown, the others in the layer control) and a legend per team."""
    cut = plan_cut(*(sol for sol, _ in plans.values()))
    frames = [to_lonlat(sol.problem.units[["geometry"]], cut) for sol, _ in plans.values()]
    m = offline_map(gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs="EPSG:4326"))
    legends = []
    for i, (name, (sol, accounts)) in enumerate(plans.items()):
        territory_map(sol, m=m, reach_km=reach_km, accounts=accounts, tiles=i == 0,
                      layer_prefix=f"{name}: ", show=i == 0, cut=cut)
        legends.append(legend(coloured_territories(sol, reach_km), title=f"Team {name}"))
    m.get_root().header.add_child(Element(f"<style>{MAP_CSS}</style>"))
    m.get_root().html.add_child(Element(
        '<div class="topt-legends">' + "".join(legends) + "</div>"))
    folium.LayerControl(collapsed=False).add_to(m)
    return inline_assets(m.get_root().render())


def inline_assets(page: str) -> str:
    """The page with Leaflet inlined; an error if it still loads anything remote.

    folium writes ``<script src=...>`` and ``<link href=...>`` tags for the
    map's assets; we point them at ``leaflet.js`` / ``leaflet.css`` and replace
    them here by the files' contents.
    """
    script = f"<script>{leaflet_asset('leaflet.js')}</script>"
    style = f"<style>{leaflet_asset('leaflet.css')}</style>"
    page = re.sub(r'<script src="leaflet\.js"></script>', lambda _: script, page)
    page = re.sub(r'<link rel="stylesheet" href="leaflet\.css"\s*/?>', lambda _: style, page)
    remote = re.findall(r'<(?:script|link)[^>]+(?:src|href)="(https?:[^"]+)"', page)
    if remote:
        raise RuntimeError(f"the map still loads {remote}; it would not work offline "
                           "(a folium element brought its own assets)")
    return page


def map_html(solution: Solution, **kwargs: Any) -> str:
    """The map as one self-contained HTML page (a string)."""
    return inline_assets(territory_map(solution, **kwargs).get_root().render())


def static_map(solution: Solution, *, fmt: str = "png", accounts: gpd.GeoDataFrame | None = None,
               title: str = "", dpi: int = 150) -> bytes:
    """The territories as a PNG or PDF for slides (matplotlib, no network).

    Territories in the same colours as the HTML map, rep bases as white dots,
    accounts as small dots, and a legend of territory and rep.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    terr = solution.territory_frame(solution.territory_info)  # labels and shapes suffice
    colours = territory_colours(terr)
    fig, ax = plt.subplots(figsize=(10, 8))
    try:
        terr.plot(ax=ax, color=colours, edgecolor="#333", linewidth=0.6, alpha=0.6)
        regions = solution.region_shapes
        if len(regions):
            regions.boundary.plot(ax=ax, color="#111", linewidth=2.2, zorder=2)
        points = account_points(solution, accounts)
        if len(points):
            xy = gpd.GeoSeries(gpd.points_from_xy(points["lon"], points["lat"]),
                               crs="EPSG:4326").to_crs(terr.crs)
            colour_of = dict(zip(terr["territory"], colours, strict=True))
            ax.scatter(xy.x, xy.y, s=2, c=points["territory"].map(colour_of).tolist(),
                       edgecolors="none")
        tt = solution.territory_info
        ax.scatter(tt["x"], tt["y"], s=40, c="white", edgecolors="black", zorder=3)
        for x, y, rep in zip(tt["x"], tt["y"], tt["rep_name"], strict=True):
            if np.isfinite(x) and np.isfinite(y) and str(rep):
                ax.annotate(plain_text(rep), (x, y), xytext=(5, 3), textcoords="offset points",
                            fontsize=7, zorder=4,
                            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none",
                                  "alpha": 0.8})
        handles = [Patch(facecolor=c, edgecolor="#333", label=plain_text(f"{t}: {r}"))
                   for t, r, c in zip(terr["territory"], terr["rep_name"], colours, strict=True)]
        ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5),
                  fontsize=8, frameon=False)
        ax.set_axis_off()
        ax.set_aspect("equal")
        if title:
            ax.set_title(plain_text(title))
        buf = _io.BytesIO()
        meta = {"Creator": "territory_opt"} if fmt == "pdf" else {"Software": "territory_opt"}
        if fmt == "pdf":
            meta["CreationDate"] = None  # byte-identical reruns
        fig.savefig(buf, format=fmt, dpi=dpi, bbox_inches="tight", metadata=meta)
        return buf.getvalue()
    finally:
        plt.close(fig)
