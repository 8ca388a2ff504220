"""Per-territory and per-scenario tables, and the self-contained HTML report.

Pure computation: functions return tables and strings; :mod:`territory_opt.io`
writes them.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from territory_opt import metrics

if TYPE_CHECKING:
    from territory_opt.solution import Solution

REPORT_METRICS = ("accounts", "workload", "potential")


def _metrics_of(solution: Solution) -> list[str]:
    """Reported metrics: accounts, workload, potential, then other balanced ones."""
    extra = [m for m in solution.problem.balance if m not in REPORT_METRICS]
    return [*REPORT_METRICS, *extra]


def territory_table(solution: Solution, *, reach_km: float) -> pd.DataFrame:
    """One row per territory plus a ``TOTAL`` row.

    Columns: territory, rep_id, rep_name, fte, units; for each metric (accounts,
    workload, potential and any other balanced one) its amount, target and
    ``_pct`` (% of target); ``mean_km`` (account-weighted mean distance from the
    rep's base), ``max_km``; ``coverage_pct`` (share of the territory's
    potential within ``reach_km`` of the base).
    """
    p = solution.problem
    k, a = p.n_territories, solution.assignment
    terr = solution.territory_table
    table = pd.DataFrame({
        "territory": terr["territory"], "rep_id": terr["rep_id"],
        "rep_name": terr["rep_name"], "fte": terr["fte"],
        "units": np.bincount(a, minlength=k),
    })
    for metric in _metrics_of(solution):
        sums = solution.sums(metric)
        targets = p.targets(metric)
        table[metric] = sums
        table[f"{metric}_target"] = targets
        table[f"{metric}_pct"] = metrics.percent_of_target(sums, targets)
    dist = solution.unit_distances()
    mean, maximum = metrics.distance_stats(dist, p.values("accounts"), a, k)
    table["mean_km"], table["max_km"] = mean, maximum
    table["coverage_pct"] = 100 * metrics.covered_share(p.values("potential"), dist, reach_km,
                                                        a, k)
    if p.current:
        moves = solution.moves()
        moved = moves[moves["moved"]]
        table["moved_in"] = table["rep_id"].map(moved["new_rep_id"].value_counts()).fillna(0)
        table["moved_out"] = table["rep_id"].map(moved["old_rep_id"].value_counts()).fillna(0)
    total: dict[str, Any] = {"territory": "TOTAL", "rep_id": "", "rep_name": "",
                             "fte": terr["fte"].sum(), "units": p.n_units}
    for metric in _metrics_of(solution):
        total[metric] = table[metric].sum()
        total[f"{metric}_target"] = table[f"{metric}_target"].sum()
        total[f"{metric}_pct"] = 100.0
    total["mean_km"] = float(np.average(dist, weights=p.values("accounts"))) \
        if p.values("accounts").sum() > 0 else float("nan")
    total["max_km"] = float(np.nanmax(maximum)) if np.isfinite(maximum).any() else float("nan")
    total["coverage_pct"] = 100 * metrics.covered_share(p.values("potential"), dist, reach_km)
    if p.current:
        total["moved_in"] = total["moved_out"] = int(table["moved_in"].sum())
    table = pd.concat([table, pd.DataFrame([total])], ignore_index=True)
    for col in ("accounts", "moved_in", "moved_out"):
        if col in table:
            table[col] = table[col].round().astype(int)
    return table.round({c: 2 for c in table.columns if table[c].dtype.kind == "f"})


def coverage_table(solution: Solution, *, reach_km: float) -> pd.DataFrame:
    """Coverage ratio per territory and overall (row ``TOTAL``).

    ``potential_coverage``: share of the potential in units within ``reach_km``
    of their rep's base; ``account_coverage``: the same share of accounts.
    """
    p = solution.problem
    k, a = p.n_territories, solution.assignment
    dist = solution.unit_distances()
    pot, acc = p.values("potential"), p.values("accounts")
    table = pd.DataFrame({
        "territory": solution.territory_table["territory"],
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


def scenario_summary(solution: Solution, *, reach_km: float) -> dict[str, Any]:
    """Headline figures of a run: solver outcome, coverage, balance."""
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
        "coverage_ratio": metrics.covered_share(p.values("potential"), dist, reach_km),
        "account_coverage": metrics.covered_share(p.values("accounts"), dist, reach_km),
        "workload_cv": metrics.coefficient_of_variation(
            work / solution.territory_table["fte"].to_numpy()),
    }
    for metric in _metrics_of(solution):
        summary[f"worst_deviation_{metric}"] = metrics.worst_deviation(
            solution.sums(metric), p.targets(metric))
    return summary


def _fmt_cell(value: Any) -> str:
    if isinstance(value, (int, np.integer)):
        return f"{value:,}"
    if isinstance(value, (float, np.floating)):
        if np.isnan(value):
            return ""
        return f"{value:,.1f}"
    return str(value)


def report_html(table: pd.DataFrame, summary: dict[str, Any], *, title: str,
                bands: dict[str, float]) -> str:
    """A self-contained HTML page (no external asset) with the tables.

    Every value from the data is HTML-escaped.
    """
    esc = html.escape
    gap = "unknown" if summary["gap"] is None else f"{summary['gap']:.4%}"
    bound = "unknown" if summary["bound"] is None else f"{summary['bound']:,.2f}"
    head = [
        ("Status", f"{summary['status']} (solver {summary['solver']})"),
        ("Objective", f"{summary['objective']:,.2f}"),
        ("Best lower bound", bound),
        ("Gap", gap),
        ("Coverage ratio", f"{summary['coverage_ratio']:.1%} of the potential lies within "
                           f"{summary['reach_km']:g} km of its rep's base"),
        ("Account coverage", f"{summary['account_coverage']:.1%}"),
        ("Bands", ", ".join(f"{m} +-{t:.0%}" for m, t in bands.items()) or "none"),
    ]
    rows_head = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in head)
    cols = list(table.columns)
    thead = "".join(f"<th>{esc(str(c))}</th>" for c in cols)
    body = []
    for _, row in table.iterrows():
        cells = []
        for c in cols:
            v = row[c]
            out_of_band = (c.endswith("_pct") and c[:-4] in bands and isinstance(v, float)
                           and abs(v / 100 - 1) > bands[c[:-4]] + 1e-6)
            cls = ' class="bad"' if out_of_band else ""
            cells.append(f"<td{cls}>{esc(_fmt_cell(v))}</td>")
        total = ' class="total"' if row["territory"] == "TOTAL" else ""
        body.append(f"<tr{total}>{''.join(cells)}</tr>")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin-bottom: 2em; font-size: 0.9em; }}
th, td {{ border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }}
th {{ background: #f0f0f0; }}
table.head th, table.head td {{ text-align: left; }}
tr.total td {{ font-weight: bold; }}
td.bad {{ background: #fdd; }}
</style></head><body>
<h1>{esc(title)}</h1>
<table class="head">{rows_head}</table>
<h2>Territories</h2>
<p>Amounts, targets (the total shared by rep FTE) and % of target; distances in km
from the rep's base (mean weighted by accounts); coverage_pct: share of the
territory's potential within {summary['reach_km']:g} km of the base.</p>
<table><thead><tr>{thead}</tr></thead><tbody>{''.join(body)}</tbody></table>
</body></html>
"""
