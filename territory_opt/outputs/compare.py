"""Side-by-side comparison of finished runs (their output folders).

A run folder is what :func:`territory_opt.run_scenario` writes: its
``manifest.json`` gives the headline figures, ``assignments.csv`` the owners
and ``territories.gpkg`` the shapes. Nothing is re-solved.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from territory_opt.errors import InputError
from territory_opt.geo import lon_cut_of, to_lonlat
from territory_opt.io.write import read_run
from territory_opt.outputs.tables import scenario_summary
from territory_opt.solution import Solution

__all__ = ["change_map", "compare_runs", "compare_solutions", "format_figures"]

# (manifest summary key, row label)
FIGURES = [("status", "status"), ("objective", "objective"), ("bound", "lower bound"),
           ("gap", "gap"), ("territories", "territories"), ("accounts", "accounts"),
           ("coverage_ratio", "coverage ratio"), ("account_coverage", "account coverage"),
           ("worst_deviation_workload", "worst workload deviation"),
           ("worst_deviation_potential", "worst potential deviation"),
           ("workload_cv", "workload CV"), ("workload_gini", "workload Gini"),
           ("total_travel_km", "total travel km"),
           ("moved_accounts", "moved from current owners"),
           ("moved_share", "share moved from current owners")]
# how each figure prints (as `territory-opt run` prints it)
FORMATS = {"objective": "{:,.2f}", "lower bound": "{:,.2f}", "gap": "{:.4%}",
           "territories": "{:,.0f}", "accounts": "{:,.0f}", "coverage ratio": "{:.1%}",
           "account coverage": "{:.1%}", "worst workload deviation": "{:.1%}",
           "worst potential deviation": "{:.1%}", "workload CV": "{:.3f}",
           "workload Gini": "{:.3f}", "total travel km": "{:,.0f}",
           "moved from current owners": "{:,.0f}",
           "share moved from current owners": "{:.1%}"}


def _load(folder: str | Path) -> dict[str, Any]:
    path = Path(folder)
    data, assign = read_run(path, needs=("assignments.csv", "territories.gpkg"))
    return {"path": path, "name": data.get("scenario", {}).get("name") or path.name,
            "summary": data.get("summary", {}), "assign": assign}


def compare_runs(folders: Sequence[str | Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The runs' headline figures side by side, and every account's owner per run.

    Returns
    -------
    (figures, owners)
        ``figures``: one row per figure, one column per run, and a row
        ``accounts moved vs <first>``. ``owners``: ``account_id`` and one rep
        column per run, plus ``changed`` (the owner differs between runs);
        an account missing from a run has a blank owner there.
    """
    if len(folders) < 2:
        raise InputError("compare needs at least two run folders")
    runs = [_load(f) for f in folders]
    names = [r["name"] for r in runs]
    if len(set(names)) < len(names):  # same scenario run into two folders
        names = [str(r["path"]) for r in runs]
    return _side_by_side(names, [r["summary"] for r in runs], [r["assign"] for r in runs])


def compare_solutions(solutions: Mapping[str, Solution], *,
                      reach_km: float | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`compare_runs` for solutions in memory (what-ifs in a notebook).

    Parameters
    ----------
    solutions
        Name to solution; the first is the baseline.
    reach_km
        Reach of the coverage ratio.
    """
    if len(solutions) < 2:
        raise InputError("compare needs at least two solutions, e.g. {'now': a, 'what if': b}")
    names = [str(n) for n in solutions]
    return _side_by_side(names, [scenario_summary(s, reach_km=reach_km)
                                 for s in solutions.values()],
                         [s.assignments() for s in solutions.values()])


def _side_by_side(names: list[str], summaries: list[dict[str, Any]],
                  assignments: list[pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame]:
    owners: pd.DataFrame | None = None
    for name, assign in zip(names, assignments, strict=True):
        col = assign[["account_id", "rep_id"]].rename(columns={"rep_id": name})
        owners = col if owners is None else owners.merge(col, on="account_id", how="outer")
    assert owners is not None
    owners = owners.fillna("").sort_values("account_id", kind="stable").reset_index(drop=True)
    owners["changed"] = owners[names].nunique(axis=1) > 1
    rows = {label: [summary.get(key, "") for summary in summaries] for key, label in FIGURES}
    rows[f"accounts moved vs {names[0]}"] = [
        int((owners[n] != owners[names[0]]).sum()) for n in names]
    figures = pd.DataFrame.from_dict(rows, orient="index", columns=names)
    figures.index.name = "figure"
    return figures.reset_index(), owners


def format_figures(figures: pd.DataFrame) -> pd.DataFrame:
    """The figures of :func:`compare_runs` as text for people: percentages for
    shares, thousands separators, blanks where a run has no value."""
    def cell(label: str, value: Any) -> str:
        if value is None or value == "" or (isinstance(value, float) and pd.isna(value)):
            return ""
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return FORMATS.get(label, "{:,.0f}" if label.startswith("accounts moved")
                               else "{:,.4g}").format(value)
        return str(value)
    out = figures.copy().astype(object)
    for col in out.columns[1:]:
        out[col] = [cell(label, v) for label, v in zip(out["figure"], out[col], strict=True)]
    return out


def change_map(folder_a: str | Path, folder_b: str | Path) -> str:
    """A self-contained HTML map of what moves from run A to run B.

    Run B's territories as outlines; the units whose accounts change owner
    shaded in B's territory colour, with a tooltip naming the old and new rep
    and the number of accounts that move.
    """
    import folium
    from branca.element import Element

    from territory_opt.outputs.maps import (
        MAP_CSS,
        escaped,
        inline_assets,
        legend,
        offline_map,
        territory_colours,
    )

    a, b = _load(folder_a), _load(folder_b)
    terr = gpd.read_file(b["path"] / "territories.gpkg", layer="territories")
    units = gpd.read_file(b["path"] / "territories.gpkg", layer="units")
    colour_of = dict(zip(terr["territory"], territory_colours(terr), strict=True))
    old = a["assign"].set_index("account_id")["rep_id"]
    new = b["assign"].assign(old_rep_id=lambda t: t["account_id"].map(old).fillna(""))
    moved = new[new["old_rep_id"] != new["rep_id"]]
    per_unit = (moved.groupby("unit_id")
                .agg(accounts=("account_id", "size"), territory=("territory", "first"),
                     new_rep=("rep_id", "first"),
                     old_reps=("old_rep_id", lambda s: ", ".join(sorted(set(s) - {""}))))
                .reset_index())
    shaded = units[["unit_id", "geometry"]].astype({"unit_id": str}).merge(per_unit,
                                                                           on="unit_id")
    cut = lon_cut_of(terr)
    outlines = escaped(to_lonlat(terr[["territory", "rep_id", "geometry"]], cut))
    m = offline_map(outlines)
    folium.GeoJson(outlines, name=f"Territories of {html.escape(b['name'])}",
                   style_function=lambda f: {"color": "#333", "weight": 1.5, "fill": False},
                   tooltip=folium.GeoJsonTooltip(["territory", "rep_id"])).add_to(m)
    if len(shaded):
        shown = escaped(to_lonlat(shaded, cut).assign(
            colour=lambda t: t["territory"].map(colour_of)))
        folium.GeoJson(
            shown, name=f"Moved ({len(moved)} accounts)",
            style_function=lambda f: {"fillColor": f["properties"]["colour"], "color": "#000",
                                      "weight": 0.6, "fillOpacity": 0.7},
            tooltip=folium.GeoJsonTooltip(["unit_id", "accounts", "old_reps", "new_rep"],
                                          aliases=["Unit", "Accounts moving", "From",
                                                   "To"])).add_to(m)
    m.get_root().header.add_child(Element(f"<style>{MAP_CSS}</style>"))
    m.get_root().html.add_child(Element(legend(
        terr.assign(colour=terr["territory"].map(colour_of),
                    rep_name=terr["rep_name"] if "rep_name" in terr else terr["rep_id"]),
        title=f"Territories of {b['name']}",
        note=f"Shaded: units whose accounts change owner from {a['name']} "
             f"({len(moved)} accounts), in the new territory's colour")))
    folium.LayerControl(collapsed=False).add_to(m)
    return inline_assets(m.get_root().render())
