"""Per-territory and per-scenario tables: the figures of every report.

Pure computation: functions return tables; :mod:`territory_opt.outputs.files`
gathers them and :mod:`territory_opt.io` writes them.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from territory_opt import metrics
from territory_opt.checks import band_misses
from territory_opt.errors import TerritoryOptWarning

if TYPE_CHECKING:
    from territory_opt.solution import Solution

__all__ = ["REPORT_METRICS", "coverage_table", "deals_table", "region_table",
           "report_metrics", "scenario_summary", "summary_table", "white_space"]

REPORT_METRICS = ("accounts", "workload", "potential")


def report_metrics(solution: Solution) -> list[str]:
    """Reported metrics: accounts, workload, potential, then other balanced ones."""
    p = solution.problem
    extra = [m for m in [*p.balance, *p.region_balance] if m not in REPORT_METRICS]
    return list(dict.fromkeys([*REPORT_METRICS, *extra]))


def summary_table(solution: Solution, *, reach_km: float | None = None,
                    deals: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per territory plus a ``TOTAL`` row.

    Columns: territory, rep_id, rep_name, fte, (with reps restricted to segments,
    ``segments``), units; for each metric (accounts,
    workload, potential and any other balanced one) its amount, target and
    ``_pct`` (% of target); ``mean_km`` (account-weighted mean distance from the
    rep's base), ``max_km``, ``travel_km`` (sum over accounts of the distance
    from the base); ``coverage_pct`` (share of the territory's potential within
    ``reach_km`` of the base); ``inertia_km2`` (workload-weighted mean squared
    distance from the base) and ``polsby_popper`` (of the dissolved polygon);
    with a current alignment ``moved_in`` and ``moved_out``; with ``deals``
    (see :func:`deals_table`) the sales columns.
    """
    reach_km = metrics.reach_of(solution.problem, reach_km)
    p = solution.problem
    k, a = p.n_territories, solution.assignment
    terr = solution.territory_info
    table = pd.DataFrame({
        "territory": terr["territory"], "rep_id": terr["rep_id"],
        "rep_name": terr["rep_name"], "fte": terr["fte"],
        "units": np.bincount(a, minlength=k),
    })
    if p.served is not None:
        table.insert(4, "segments", ["; ".join(s) if s else "all" for s in p.served])
    if p.regions is not None:
        table.insert(3, "region", p.region_names)
    for metric in report_metrics(solution):
        sums = solution.sums(metric)
        targets = p.targets(metric)
        table[metric] = sums
        table[f"{metric}_target"] = targets
        table[f"{metric}_pct"] = metrics.percent_of_target(sums, targets)
    dist = solution.unit_distances()
    mean, maximum = metrics.distance_stats(dist, p.values("accounts"), a, k)
    table["mean_km"], table["max_km"] = mean, maximum
    table["travel_km"] = metrics.territory_sums(p.values("accounts") * dist, a, k)
    table["coverage_pct"] = 100 * metrics.covered_share(p.values("potential"), dist, reach_km,
                                                        a, k)
    table["inertia_km2"] = metrics.inertia(dist, p.values("workload"), a, k)
    shapes = solution.shapes
    table["polsby_popper"] = metrics.polsby_popper(shapes.area.to_numpy(),
                                                   shapes.length.to_numpy())
    if p.current:
        moves = solution.moves()
        moved = moves[moves["moved"]]
        table["moved_in"] = table["rep_id"].map(moved["new_rep_id"].value_counts()).fillna(0)
        table["moved_out"] = table["rep_id"].map(moved["old_rep_id"].value_counts()).fillna(0)
    total: dict[str, Any] = {"territory": "TOTAL", "rep_id": "", "rep_name": "",
                             "fte": terr["fte"].sum(), "units": p.n_units}
    if p.served is not None:
        total["segments"] = ""
    if p.regions is not None:
        total["region"] = ""
    for metric in report_metrics(solution):
        total[metric] = table[metric].sum()
        total[f"{metric}_target"] = table[f"{metric}_target"].sum()
        total[f"{metric}_pct"] = 100.0
    total["mean_km"] = float(np.average(dist, weights=p.values("accounts"))) \
        if p.values("accounts").sum() > 0 else float("nan")
    total["max_km"] = float(np.nanmax(maximum)) if np.isfinite(maximum).any() else float("nan")
    total["travel_km"] = table["travel_km"].sum()
    total["coverage_pct"] = 100 * metrics.covered_share(p.values("potential"), dist, reach_km)
    work = p.values("workload")
    total["inertia_km2"] = float(np.average(dist**2, weights=work)) if work.sum() > 0 \
        else float("nan")
    total["polsby_popper"] = float(table["polsby_popper"].mean())
    if p.current:
        total["moved_in"] = total["moved_out"] = int(table["moved_in"].sum())
    table = pd.concat([table, pd.DataFrame([total])], ignore_index=True)
    if deals is not None:
        table = table.merge(deals_table(solution, deals), on="territory", how="left")
    for col in ("accounts", "moved_in", "moved_out"):
        if col in table:
            table[col] = table[col].round().astype(int)
    return table.round({c: 2 for c in table.columns if table[c].dtype.kind == "f"})


def region_table(solution: Solution, *, reach_km: float | None = None) -> pd.DataFrame:
    """One row per region plus a ``TOTAL`` row (empty without regions).

    Columns: region, reps, fte, units; for each reported metric its amount, its
    target (the sum of the region's reps' targets) and ``_pct``; for a metric
    with a region band ``_min``, ``_max`` and ``_held``; ``mean_km``
    (account-weighted, each account from its own rep's base), ``coverage_pct``;
    with a current alignment ``moved_in`` and ``moved_out`` (accounts whose
    region changes).
    """
    reach_km = metrics.reach_of(solution.problem, reach_km)
    p = solution.problem
    if p.regions is None:
        return pd.DataFrame()
    n_r = len(p.regions)
    region = p.region_of[solution.assignment]  # each unit's
    terr = solution.territory_info
    table = pd.DataFrame({
        "region": p.regions,
        "reps": np.bincount(p.region_of, minlength=n_r),
        "fte": np.bincount(p.region_of, weights=terr["fte"].to_numpy(), minlength=n_r),
        "units": np.bincount(region, minlength=n_r)})
    for metric in report_metrics(solution):
        sums = np.bincount(region, weights=p.values(metric), minlength=n_r)
        targets = np.bincount(p.region_of, weights=p.targets(metric), minlength=n_r)
        table[metric], table[f"{metric}_target"] = sums, targets
        table[f"{metric}_pct"] = metrics.percent_of_target(sums, targets)
        if metric in p.region_bands:
            lower, upper = p.region_bounds(metric)
            table[f"{metric}_min"], table[f"{metric}_max"] = lower, upper
            table[f"{metric}_held"] = metrics.bands_held(sums, lower, upper)
    dist = solution.unit_distances()
    acc = p.values("accounts")
    mean, _ = metrics.distance_stats(dist, acc, region, n_r)
    table["mean_km"] = mean
    table["coverage_pct"] = 100 * metrics.covered_share(p.values("potential"), dist, reach_km,
                                                        region, n_r)
    if p.current:
        moves = solution.moves()
        of_rep = dict(zip(terr["rep_id"], p.region_names, strict=True))
        old = moves["old_rep_id"].map(of_rep)
        new = moves["new_rep_id"].map(of_rep)
        across = old.notna() & (old != new)
        table["moved_in"] = table["region"].map(new[across].value_counts()).fillna(0)
        table["moved_out"] = table["region"].map(old[across].value_counts()).fillna(0)
    total: dict[str, Any] = {"region": "TOTAL", "reps": p.n_territories,
                             "fte": float(terr["fte"].sum()), "units": p.n_units}
    for metric in report_metrics(solution):
        total[metric] = table[metric].sum()
        total[f"{metric}_target"] = table[f"{metric}_target"].sum()
        total[f"{metric}_pct"] = 100.0
        if f"{metric}_held" in table:
            total[f"{metric}_held"] = bool(table[f"{metric}_held"].all())
    total["mean_km"] = float(np.average(dist, weights=acc)) if acc.sum() > 0 else float("nan")
    total["coverage_pct"] = 100 * metrics.covered_share(p.values("potential"), dist, reach_km)
    if p.current:
        total["moved_in"] = total["moved_out"] = int(table["moved_in"].sum())
    table = pd.concat([table, pd.DataFrame([total])], ignore_index=True)
    for col in ("accounts", "moved_in", "moved_out"):
        if col in table:
            table[col] = table[col].round().astype(int)
    return table.round({c: 2 for c in table.columns if table[c].dtype.kind == "f"})


def coverage_table(solution: Solution, *, reach_km: float | None = None) -> pd.DataFrame:
    """Coverage ratio per territory and overall (row ``TOTAL``).

    ``potential_coverage``: share of the potential in units within ``reach_km``
    of their rep's base; ``account_coverage``: the same share of accounts.
    """
    reach_km = metrics.reach_of(solution.problem, reach_km)
    p = solution.problem
    k, a = p.n_territories, solution.assignment
    dist = solution.unit_distances()
    pot, acc = p.values("potential"), p.values("accounts")
    table = pd.DataFrame({
        "territory": solution.territory_info["territory"],
        "potential": solution.sums("potential"),
        "potential_covered": metrics.territory_sums(np.where(dist <= reach_km, pot, 0), a, k),
        "accounts": solution.sums("accounts"),
        "accounts_covered": metrics.territory_sums(np.where(dist <= reach_km, acc, 0), a, k),
    })
    table.loc[len(table)] = ["TOTAL", *table.iloc[:, 1:].sum().to_numpy()]
    with np.errstate(divide="ignore", invalid="ignore"):
        table["potential_coverage"] = table["potential_covered"] / table["potential"]
        table["account_coverage"] = table["accounts_covered"] / table["accounts"]
    table["reach_km"] = reach_km
    return table


def white_space(solution: Solution, *, reach_km: float | None = None, top: int = 25) -> pd.DataFrame:
    """The units where potential is left on the table, most potential first.

    A unit is white space when it lies beyond ``reach_km`` of its rep's base
    (``reason`` "beyond reach") or holds market potential but no account ("no
    accounts"). Columns: unit_id, name (when the units have names, e.g.
    counties), territory, rep_id, potential, accounts, distance_km, reason; at
    most ``top`` rows.
    """
    reach_km = metrics.reach_of(solution.problem, reach_km)
    p = solution.problem
    units = solution.units()
    pot, acc = p.values("potential"), p.values("accounts")
    far = solution.unit_distances() > reach_km
    empty = (acc == 0) & (pot > 0)
    keep = (far | empty) & (pot > 0)
    reason = np.where(far & empty, "beyond reach, no accounts",
                      np.where(far, "beyond reach", "no accounts"))
    table = pd.DataFrame({
        "unit_id": units["unit_id"].astype(str),
        **({"name": units["name"].astype(str)} if "name" in units else {}),
        "territory": units["territory"],
        "rep_id": units["rep_id"], "potential": pot, "accounts": acc.round().astype(int),
        "distance_km": units["distance_km"].round(1), "reason": reason})[keep]
    return table.sort_values(["potential", "unit_id"], ascending=[False, True],
                             kind="stable").head(top).reset_index(drop=True)


DEAL_COLUMNS = ("pipeline", "open_deals", "won_deals", "conversion_pct", "avg_deal_size",
                "sales_cycle_days")


def deals_table(solution: Solution, deals: pd.DataFrame) -> pd.DataFrame:
    """Sales figures per territory (and ``TOTAL``) from CRM deals.

    ``deals`` as read by :func:`territory_opt.io.read_deals`. A deal counts in
    the territory its account is assigned to. ``pipeline``: amount of the open
    deals (no close date); ``conversion_pct``: won deals over closed deals;
    ``avg_deal_size``: mean amount of the won deals; ``sales_cycle_days``: mean
    days from created to closed over won deals. Deals of accounts outside the
    plan are left out (a warning says how many).
    """
    owner = solution.assignments().set_index("account_id")["territory"]
    d = deals.assign(territory=deals["account_id"].map(owner))
    unknown = d["territory"].isna()
    if unknown.any():
        warnings.warn(f"{int(unknown.sum())} of {len(d)} deals belong to accounts that are "
                      f"not in the plan (e.g. {d.loc[unknown, 'account_id'].iloc[0]!r}); "
                      "they are left out of the sales figures", TerritoryOptWarning,
                      stacklevel=2)
    d = d[~unknown]
    order = [*solution.territory_info["territory"], "TOTAL"]
    groups = [(t, d[d["territory"] == t]) for t in order[:-1]] + [("TOTAL", d)]
    rows = []
    for t, g in groups:
        open_, closed = g[g["closed"].isna()], g[g["closed"].notna()]
        won = closed[closed["won"]]
        rows.append({
            "territory": t, "pipeline": float(open_["amount"].sum()),
            "open_deals": len(open_), "won_deals": len(won),
            "conversion_pct": 100 * len(won) / len(closed) if len(closed) else np.nan,
            "avg_deal_size": float(won["amount"].mean()) if len(won) else np.nan,
            "sales_cycle_days": float((won["closed"] - won["created"]).dt.days.mean())
            if len(won) else np.nan})
    return pd.DataFrame(rows, columns=["territory", *DEAL_COLUMNS]).round(2)


def territories_in_pieces(solution: Solution) -> int:
    """How many territories are in more than one piece on the units' adjacency graph
    (the contiguity graph when one was asked, else the units' own)."""
    import networkx as nx

    from territory_opt.graph import piece_counts

    p = solution.problem
    with warnings.catch_warnings():  # islands bridged: said where contiguity is asked
        warnings.simplefilter("ignore", TerritoryOptWarning)
        graph = p.adjacency
    csr = nx.to_scipy_sparse_array(graph, nodelist=range(p.n_units), format="csr")
    return int((piece_counts(csr.indptr, csr.indices, solution.assignment,
                             p.n_territories) > 1).sum())


def scenario_summary(solution: Solution, *, reach_km: float | None = None) -> dict[str, Any]:
    """Headline figures of a run: solver outcome, coverage, balance."""
    given = reach_km is not None
    reach_km = metrics.reach_of(solution.problem, reach_km)
    p = solution.problem
    dist = solution.unit_distances()
    work = solution.sums("workload")
    summary: dict[str, Any] = {
        "status": solution.status,
        "objective": solution.objective,
        "bound": solution.bound,
        "gap": solution.gap,
        "solver": solution.solver,
        "units": p.n_units,
        "accounts": int(p.values("accounts").sum()),
        "territories": p.n_territories,
        "reach_km": reach_km,
        "reach_given": given,
        "coverage_ratio": metrics.covered_share(p.values("potential"), dist, reach_km),
        "account_coverage": metrics.covered_share(p.values("accounts"), dist, reach_km),
        "workload_cv": metrics.coefficient_of_variation(
            work / solution.territory_info["fte"].to_numpy()),
        "workload_gini": metrics.gini(work / solution.territory_info["fte"].to_numpy()),
        "total_travel_km": float((p.values("accounts") * dist).sum()),
    }
    for metric in report_metrics(solution):
        summary[f"worst_deviation_{metric}"] = metrics.worst_deviation(
            solution.sums(metric), p.targets(metric))
    if p.centres == "fixed":  # a compromise plan (status relaxed) misses some
        summary["band_misses"] = band_misses(p, solution.unit_centres())
    summary["territories_in_pieces"] = territories_in_pieces(solution)
    if p.current:  # realignment: accounts that change rep, and their share
        moved = solution.moves()
        known = int((moved["old_rep_id"] != "").sum())
        summary["moved_accounts"] = int(moved["moved"].sum())
        summary["moved_share"] = summary["moved_accounts"] / max(known, 1)
    return summary
