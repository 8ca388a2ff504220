"""Every output file of a run, built in memory (then written by
:func:`territory_opt.io.write_outputs`)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from territory_opt.outputs.quotas import QuotaRule, forecast_table, quota_tables
from territory_opt.outputs.report import report_html
from territory_opt.outputs.tables import coverage_table, summary_table, white_space
from territory_opt.quality import COLUMNS
from territory_opt.solution import Solution

__all__ = ["SHAPEFILE_FIELDS", "build_output_files"]

# Shapefile fields hold at most 10 characters: the key columns, renamed.
SHAPEFILE_FIELDS = {"territory": "territory", "rep_id": "rep_id", "rep_name": "rep_name",
                    "fte": "fte", "accounts": "accounts", "workload": "workload",
                    "workload_pct": "work_pct", "potential": "potential",
                    "potential_pct": "pot_pct", "mean_km": "mean_km", "max_km": "max_km",
                    "coverage_pct": "cover_pct", "polsby_popper": "polsby"}


def build_output_files(solution: Solution, manifest: dict[str, Any], *, title: str,
                       reach_km: float | None, accounts: Any = None, deals: Any = None,
                       quality: pd.DataFrame | None = None, quota: QuotaRule | None = None,
                       forecast: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every output file of a run, by name (written by :func:`territory_opt.io.write_outputs`).

    ``accounts`` (as read) gives the map its account positions and names;
    ``deals`` adds the sales columns to the report and, with ``forecast`` (the
    keyword arguments of :func:`forecast_table`), ``forecast.csv``; ``quota``
    adds ``quotas.csv``, a ``quota`` column to the CRM file and the report;
    ``quality`` (the findings of :func:`territory_opt.quality.check_accounts`)
    goes into ``quality.csv`` and the report.
    """
    from territory_opt.outputs.maps import map_html, static_map

    table = summary_table(solution, reach_km=reach_km, deals=deals)
    summary = manifest["summary"]
    units = solution.units()
    assignments = solution.assignments()
    crm = pd.DataFrame({"account_id": assignments["account_id"],
                        "new_owner": assignments["rep_id"],
                        "old_owner": assignments.get("old_rep_id", ""),
                        "moved": assignments.get("moved", False)})
    extra: dict[str, Any] = {}
    quotas = forecasts = None
    if quota is not None:
        per_account, quotas = quota_tables(solution, quota, deals)
        crm["quota"] = crm["account_id"].map(per_account.set_index("account_id")["quota"])
        extra["quotas.csv"] = quotas
        summary.update({k: v for k, v in quotas.attrs["spread"].items()
                        if k.endswith(("_cv", "_gini"))})
    if deals is not None and forecast is not None:
        forecasts = forecast_table(solution, deals, **forecast)
        extra["forecast.csv"] = forecasts
    regions = solution.regions(reach_km=reach_km) if solution.problem.regions else None
    if regions is not None:
        extra["regions.csv"] = regions
    coverage = coverage_table(solution, reach_km=reach_km)
    white = white_space(solution, reach_km=reach_km)
    terr = solution.territory_frame(table)
    shp = terr[[*(c for c in SHAPEFILE_FIELDS if c in terr), "geometry"]].rename(
        columns=SHAPEFILE_FIELDS)
    summary_sheet = pd.DataFrame({"figure": list(summary), "value": [
        "" if v is None else v for v in summary.values()]})
    title = f"Territory plan: {title}"
    if quality is None:
        quality = pd.DataFrame(columns=COLUMNS)
    return {
        "assignments.csv": assignments,
        "crm_assignments.csv": crm,
        "report.csv": table,
        "coverage.csv": coverage,
        "white_space.csv": white,
        "quality.csv": quality,
        "report.html": report_html(solution, table, summary, title=title, white=white,
                                   coverage=coverage, quality=quality, quotas=quotas,
                                   forecast=forecasts, regions=regions),
        "report.xlsx": {"Summary": summary_sheet}
        | ({"Regions": regions} if regions is not None else {})
        | {"Territories": table, "Coverage": coverage,
                        "White space": white, "Assignments": assignments}
        | ({"Quotas": quotas} if quotas is not None else {})
        | ({"Forecast": forecasts} if forecasts is not None else {}),
        **extra,
        "territories.gpkg": {"territories": terr, "units": units},
        "territories.geojson": terr,
        "territories.parquet": terr,
        "territories.shp.zip": shp,
        "map.html": map_html(solution, reach_km=reach_km, accounts=accounts),
        "map.png": static_map(solution, fmt="png", accounts=accounts, title=title),
        "map.pdf": static_map(solution, fmt="pdf", accounts=accounts, title=title),
        "manifest.json": manifest,
    }
