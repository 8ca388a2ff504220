"""Per-territory and per-scenario tables, and the self-contained HTML report.

Pure computation: functions return tables and strings; :mod:`territory_opt.io`
writes them.
"""

from __future__ import annotations

import base64
import html
import io as _io
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from territory_opt import metrics
from territory_opt.errors import TerritoryOptWarning

if TYPE_CHECKING:
    from territory_opt.solution import Solution

REPORT_METRICS = ("accounts", "workload", "potential")


def _metrics_of(solution: Solution) -> list[str]:
    """Reported metrics: accounts, workload, potential, then other balanced ones."""
    extra = [m for m in solution.problem.balance if m not in REPORT_METRICS]
    return [*REPORT_METRICS, *extra]


def territory_table(solution: Solution, *, reach_km: float,
                    deals: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per territory plus a ``TOTAL`` row.

    Columns: territory, rep_id, rep_name, fte, units; for each metric (accounts,
    workload, potential and any other balanced one) its amount, target and
    ``_pct`` (% of target); ``mean_km`` (account-weighted mean distance from the
    rep's base), ``max_km``, ``travel_km`` (sum over accounts of the distance
    from the base); ``coverage_pct`` (share of the territory's potential within
    ``reach_km`` of the base); ``inertia_km2`` (workload-weighted mean squared
    distance from the base) and ``polsby_popper`` (of the dissolved polygon);
    with a current alignment ``moved_in`` and ``moved_out``; with ``deals``
    (see :func:`deals_table`) the sales columns.
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
    for metric in _metrics_of(solution):
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


def white_space(solution: Solution, *, reach_km: float, top: int = 25) -> pd.DataFrame:
    """The units where potential is left on the table, most potential first.

    A unit is white space when it lies beyond ``reach_km`` of its rep's base
    (``reason`` "beyond reach") or holds market potential but no account ("no
    accounts"). Columns: unit_id, territory, rep_id, potential, accounts,
    distance_km, reason; at most ``top`` rows.
    """
    p = solution.problem
    units = solution.units()
    pot, acc = p.values("potential"), p.values("accounts")
    far = solution.unit_distances() > reach_km
    empty = (acc == 0) & (pot > 0)
    keep = (far | empty) & (pot > 0)
    reason = np.where(far & empty, "beyond reach, no accounts",
                      np.where(far, "beyond reach", "no accounts"))
    table = pd.DataFrame({
        "unit_id": units["unit_id"].astype(str), "territory": units["territory"],
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
    order = [*solution.territory_table["territory"], "TOTAL"]
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
        "workload_gini": metrics.gini(work / solution.territory_table["fte"].to_numpy()),
        "total_travel_km": float((p.values("accounts") * dist).sum()),
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


def balance_chart(solution: Solution) -> bytes:
    """SVG bar chart: each balanced metric's % of target per territory, band shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = solution.problem
    metrics_ = list(p.balance) or ["workload"]
    from territory_opt.maps import plain_text

    labels = [plain_text(t) for t in solution.territory_table["territory"]]
    fig, axes = plt.subplots(len(metrics_), 1, squeeze=False,
                             figsize=(8, 0.9 + 0.28 * len(labels) * len(metrics_)))
    try:
        for ax, metric in zip(axes[:, 0], metrics_, strict=True):
            target = p.targets(metric)
            pct = metrics.percent_of_target(solution.sums(metric), target)
            ys = np.arange(len(labels))
            if metric in p.balance:
                lower, upper = p.bounds(metric)
                lo = metrics.percent_of_target(lower, target)
                hi = metrics.percent_of_target(np.minimum(upper, 1e300), target)
                ax.barh(ys, hi - lo, left=lo, height=0.9, color="#cfe8cf", label="band")
            inside = metrics.bands_held(*(solution.sums(metric), *p.bounds(metric))) \
                if metric in p.balance else np.ones(len(labels), dtype=bool)
            ax.scatter(pct, ys, c=np.where(inside, "#1f77b4", "#d62728"), zorder=3, s=18)
            ax.axvline(100, color="#555", linewidth=0.8)
            shown = np.concatenate([pct, lo, hi] if metric in p.balance else [pct])
            shown = shown[np.isfinite(shown)]
            if len(shown):
                pad = max(0.5, 0.05 * (shown.max() - shown.min()))
                ax.set_xlim(shown.min() - pad, shown.max() + pad)
            ax.set_yticks(ys, labels, fontsize=8)
            ax.invert_yaxis()
            ax.set_xlabel(plain_text(f"{metric}: % of target"))
        fig.tight_layout()
        buf = _io.BytesIO()
        with matplotlib.rc_context({"svg.hashsalt": "territory_opt"}):  # stable ids
            fig.savefig(buf, format="svg", metadata={"Date": None})
        return buf.getvalue()
    finally:
        plt.close(fig)


def _html_table(table: pd.DataFrame, bad: set[tuple[int, str]] = frozenset()) -> str:
    esc = html.escape
    thead = "".join(f"<th>{esc(str(c))}</th>" for c in table.columns)
    body = []
    for pos, (_, row) in enumerate(table.iterrows()):
        cells = "".join(
            ('<td class="bad">' if (pos, c) in bad else "<td>")
            + f"{esc(_fmt_cell(row[c]))}</td>" for c in table.columns)
        total = ' class="total"' if str(row.iloc[0]) == "TOTAL" else ""
        body.append(f"<tr{total}>{cells}</tr>")
    return f"<table><thead><tr>{thead}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def report_html(solution: Solution, table: pd.DataFrame, summary: dict[str, Any], *,
                title: str, white: pd.DataFrame | None = None,
                coverage: pd.DataFrame | None = None) -> str:
    """A self-contained HTML page (no external asset): headline figures, the
    balance chart (embedded SVG), the territory table (cells out of band in
    red), coverage and white space.

    Every value from the data is HTML-escaped; the chart is an image, so no
    text of it can run as markup.
    """
    esc = html.escape
    p = solution.problem
    gap = "unknown" if summary["gap"] is None else f"{summary['gap']:.4%}"
    bound = "unknown" if summary["bound"] is None else f"{summary['bound']:,.2f}"
    bands = p.bands  # type: ignore[attr-defined]
    head = [
        ("Status", f"{summary['status']} (solver {summary['solver']})"),
        ("Objective", f"{summary['objective']:,.2f}"),
        ("Best lower bound", bound),
        ("Gap", gap),
        ("Coverage ratio", (f"{summary['coverage_ratio']:.1%} of the potential lies within "
                           f"{summary['reach_km']:g} km of its rep's base")),
        ("Account coverage", f"{summary['account_coverage']:.1%}"),
        ("Bands", "; ".join(b.describe() for b in bands.values()) or "none"),
        *((f"Worst deviation, {m}", f"{summary[f'worst_deviation_{m}']:.2%}")
          for m in _metrics_of(solution)),
        ("Workload per FTE: CV, Gini", (f"{summary['workload_cv']:.3f}, "
                                       f"{summary['workload_gini']:.3f}")),
        ("Total travel", (f"{summary['total_travel_km']:,.0f} km (sum over accounts of the "
                         "distance from their rep's base)")),
    ]
    rows_head = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in head)
    bad: set[tuple[int, str]] = set()
    for metric in bands:
        lower, upper = p.bounds(metric)
        held = metrics.bands_held(solution.sums(metric), lower, upper)
        bad |= {(int(t), f"{metric}_pct") for t in np.flatnonzero(~held)}
    chart = base64.b64encode(balance_chart(solution)).decode("ascii")
    sections = [(f"<h2>Balance</h2><img alt=\"% of target per territory, band shaded\" "
                f"src=\"data:image/svg+xml;base64,{chart}\">"),
                "<h2>Territories</h2><p>Amounts, targets (the total shared by rep FTE) and % "
                "of target; distances in km from the rep's base (mean weighted by accounts); "
                f"coverage_pct: share of the potential within {summary['reach_km']:g} km of "
                "the base; inertia_km2: workload-weighted mean squared distance from the "
                "base; polsby_popper: 4&pi;A/P&sup2; of the territory (1 = a disc).</p>"
                + _html_table(table, bad)]
    if coverage is not None:
        sections.append("<h2>Coverage</h2>" + _html_table(coverage))
    if white is not None:
        sections.append(f"<h2>White space</h2><p>Units beyond {summary['reach_km']:g} km of "
                        "their rep's base, or with potential and no account, most potential "
                        "first.</p>" + (_html_table(white) if len(white) else "<p>None.</p>"))
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
img {{ max-width: 100%; }}
</style></head><body>
<h1>{esc(title)}</h1>
<table class="head">{rows_head}</table>
{''.join(sections)}
</body></html>
"""
