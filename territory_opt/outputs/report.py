"""The self-contained HTML report and its balance chart (matplotlib, imported when
drawn)."""

from __future__ import annotations

import base64
import html
import io as _io
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from territory_opt import metrics
from territory_opt.outputs.tables import report_metrics
from territory_opt.rules import format_amount

if TYPE_CHECKING:
    from territory_opt.solution import Solution

__all__ = ["balance_chart", "plain_text", "report_html"]


def plain_text(value: object) -> str:
    """Text for matplotlib, shown as written: ``$`` would start mathtext."""
    return str(value).replace("$", r"\$")


COUNTS = {"units", "accounts", "accounts_covered", "open_deals", "won_deals",
          "moved_in", "moved_out", "quota"}
INDICES = {"quota_per_potential", "quota_per_history"}  # 1 = the company's ratio


def _fmt_cell(value: Any, column: str = "") -> str:
    """A table cell as people read it: shares as percentages, counts (and quotas,
    whole by construction) as whole numbers, indices with two decimals, other
    amounts with one decimal and thousands separators."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (int, float, np.integer, np.floating)):
        return str(value)
    if np.isnan(value):
        return ""
    if column.endswith(("_coverage", "_share")):
        return f"{value:.1%}"
    if column in INDICES:
        return f"{value:.2f}"
    if column in COUNTS or isinstance(value, (int, np.integer)):
        return f"{value:,.0f}"
    return f"{value:,.1f}"


def balance_chart(solution: Solution) -> bytes:
    """SVG bar chart: each balanced metric's % of target per territory, band shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = solution.problem
    metrics_ = list(p.balance) or ["workload"]
    labels = [plain_text(t) for t in solution.territory_info["territory"]]
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
            + f"{esc(_fmt_cell(row[c], str(c)))}</td>" for c in table.columns)
        total = ' class="total"' if str(row.iloc[0]) == "TOTAL" else ""
        body.append(f"<tr{total}>{cells}</tr>")
    return (f'<div class="wide"><table><thead><tr>{thead}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


def _absolute_band(solution: Solution, metric: str) -> str:
    """Whether every territory holds an absolute band (a min/max has no target to
    deviate from), or which do not."""
    p = solution.problem
    lower, upper = p.bounds(metric)
    sums = solution.sums(metric)
    outside = np.flatnonzero(~metrics.bands_held(sums, lower, upper))
    where = ", ".join(solution.territory_info["territory"].to_numpy()[outside][:8])
    held = ("held in every territory" if not len(outside)
            else f"outside in {len(outside)} territories ({where})")
    return (f"{p.bands[metric].describe()}: {held}; per territory "
            f"{format_amount(float(sums.min()))} to {format_amount(float(sums.max()))}")


def report_html(solution: Solution, table: pd.DataFrame, summary: dict[str, Any], *,
                title: str, white: pd.DataFrame | None = None,
                coverage: pd.DataFrame | None = None,
                quality: pd.DataFrame | None = None, quotas: pd.DataFrame | None = None,
                forecast: pd.DataFrame | None = None,
                regions: pd.DataFrame | None = None) -> str:
    """A self-contained HTML page (no external asset): headline figures, the
    findings of the data-quality gate, the balance chart (embedded SVG), the
    region table (with regions), the territory table (cells out of band in
    red), quotas and forecast (when given), coverage and white space.

    Every value from the data is HTML-escaped; the chart is an image, so no
    text of it can run as markup.
    """
    return html_page(title, report_sections(solution, table, summary, white=white,
                                            coverage=coverage, quality=quality,
                                            quotas=quotas, forecast=forecast,
                                            regions=regions))


def html_page(title: str, body: str) -> str:
    """A report page: the title as its heading, then ``body`` (already escaped)."""
    esc = html.escape
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; font-size: 0.85em; }}
div.wide {{ overflow-x: auto; max-width: 100%; margin-bottom: 2em; }}
ul.quality li {{ margin-bottom: 0.4em; }}
table.head {{ margin-bottom: 2em; }}
th, td {{ border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }}
th {{ background: #f0f0f0; }}
table.head th, table.head td {{ text-align: left; white-space: pre-line; }}
tr.total td {{ font-weight: bold; }}
td.bad {{ background: #fdd; }}
img {{ max-width: 100%; }}
</style></head><body>
<h1>{esc(title)}</h1>
{body}
</body></html>
"""


def report_sections(solution: Solution, table: pd.DataFrame, summary: dict[str, Any], *,
                    white: pd.DataFrame | None = None, coverage: pd.DataFrame | None = None,
                    quality: pd.DataFrame | None = None, quotas: pd.DataFrame | None = None,
                    forecast: pd.DataFrame | None = None, regions: pd.DataFrame | None = None,
                    level: int = 2) -> str:
    """The body of :func:`report_html`; its headings at ``level`` (h2, or h3 under a
    team's heading)."""
    esc = html.escape
    h = f"h{level}"
    p = solution.problem
    gap = "unknown" if summary["gap"] is None else f"{summary['gap']:.4%}"
    bound = "unknown" if summary["bound"] is None else \
        f"{summary['bound']:,.2f} ({solution.bound_from})"
    bands = p.bands
    status = f"{summary['status']} (solver {summary['solver']})"
    if summary["status"] == "relaxed":
        status += (": no plan holds every band; this is the plan nearest them (red cells "
                   "below)")
    reach_note = ("" if summary.get("reach_given", True) else
                  " (the reach follows the data: the median distance from an account to "
                  "its nearest base, rounded; set report: reach_km: to choose it)")
    head = [
        ("Status", status),
        ("Objective", f"{summary['objective']:,.2f}"),
        ("Best lower bound", bound),
        ("Gap", gap),
        *([("Coverage ratio", (f"{summary['coverage_ratio']:.1%} of the potential lies within "
                               f"{summary['reach_km']:g} km of its rep's base{reach_note}"))]
          if summary["coverage_ratio"] == summary["coverage_ratio"] else []),  # NaN: none
        ("Account coverage", (f"{summary['account_coverage']:.1%} of the accounts lie within "
                             f"{summary['reach_km']:g} km of their rep's base{reach_note}")),
        ("Bands", "; ".join(b.describe() for b in bands.values()) or "none"),
        *((f"Worst deviation, {m}", f"{summary[f'worst_deviation_{m}']:.2%}")
          if m not in bands or bands[m].tolerance is not None
          else (f"Band, {m}", _absolute_band(solution, m))  # a min/max: not a target
          for m in report_metrics(solution)),
        ("Workload per FTE: CV, Gini", (f"{summary['workload_cv']:.3f}, "
                                       f"{summary['workload_gini']:.3f}")),
        ("Total travel", (f"{summary['total_travel_km']:,.0f} km (sum over accounts of the "
                         "distance from their rep's base)")),
    ]
    if p.regions is not None:
        how = ("top-down: the regions first, then each region's territories"
               if solution.options.get("method") == "top_down" else "jointly, in one model")
        region_bands = "; ".join(b.describe() for b in p.region_bands.values())
        head.append(("Regions", f"{len(p.regions)} ({', '.join(p.regions)}), planned {how}; "
                     f"region bands: {region_bands or 'none'}"
                     + ("; every region connected" if p.region_contiguity else "")))
    if summary.get("band_misses"):
        head.append(("Outside the bands", "\n".join(summary["band_misses"])))
    if summary.get("territories_in_pieces"):
        head.append(("Territories in pieces", f"{summary['territories_in_pieces']} of "
                     f"{p.n_territories} (the scenario has contiguity: false)"))
    if summary.get("placed_by_zip"):
        head.append(("Placed by ZIP code", f"{summary['placed_by_zip']:,} accounts (no "
                     "coordinates in the file)"))
    if summary.get("moved_accounts") is not None:
        head.append(("Moved accounts", f"{summary['moved_accounts']:,} "
                     f"({summary['moved_share']:.1%}) change rep against the current "
                     "alignment"))
    red = {"Outside the bands"}  # a compromise plan's misses
    rows_head = "".join(f"<tr><th>{esc(k)}</th><td{' class=bad' if k in red else ''}>"
                        f"{esc(v)}</td></tr>" for k, v in head)
    bad: set[tuple[int, str]] = set()
    for metric in bands:
        lower, upper = p.bounds(metric)
        held = metrics.bands_held(solution.sums(metric), lower, upper)
        bad |= {(int(t), f"{metric}_pct") for t in np.flatnonzero(~held)}
    chart = base64.b64encode(balance_chart(solution)).decode("ascii")
    sections = []
    if quality is not None and len(quality):
        findings = "".join(f"<li>{esc(m)}</li>" for m in dict.fromkeys(quality["message"]))
        sections.append(f"<{h}>Data quality</{h}><p>{len(quality):,} findings in the input "
                        "(all in quality.csv); the plan uses the data as given.</p>"
                        f'<ul class="quality">{findings}</ul>')
    sections.append(f"<{h}>Balance</{h}><img alt=\"% of target per territory, band shaded\" "
                    f"src=\"data:image/svg+xml;base64,{chart}\">")
    if regions is not None and len(regions):
        out = {(int(r), f"{c.removesuffix('_held')}_pct") for c in regions.columns
               if c.endswith("_held") for r in np.flatnonzero(~regions[c][:-1].astype(bool))}
        sections.append(
            f"<{h}>Regions</{h}><p>Each region is the union of its reps' territories. "
            "Amounts against the region's target (the sum of its reps' targets) and, where "
            "the region has a band, its bounds (out of band in red); moved_in/out: "
            "accounts that change region.</p>" + _html_table(regions, out))
    sections += [
                f"<{h}>Territories</{h}><p>Amounts, targets (the total shared by rep FTE) and % "
                "of target; distances in km from the rep's base (mean weighted by accounts); "
                f"coverage_pct: share of the potential within {summary['reach_km']:g} km of "
                "the base; inertia_km2: workload-weighted mean squared distance from the "
                "base; polsby_popper: 4&pi;A/P&sup2; of the territory (1 = a disc).</p>"
                + _html_table(table, bad)]
    if quotas is not None:
        spread = quotas.attrs.get("spread", {})
        flagged = {(int(t), c) for t, row in enumerate(quotas["out_of_line"][:-1])
                   for c in ("quota_per_potential", "quota_per_history")
                   if c.removeprefix("quota_per_") in row}
        sections.append(
            f"<{h}>Quotas</{h}><p>The company number shared by each account's share of "
            "the potential and/or last year's won revenue (history); quota_per_potential "
            "and quota_per_history: the rep's quota per unit of it against the company's "
            "(1 = the same). Spread over reps: CV "
            f"{spread.get('quota_per_potential_cv', float('nan')):.3f} (potential), "
            f"{spread.get('quota_per_history_cv', float('nan')):.3f} (history); Gini "
            f"{spread.get('quota_per_potential_gini', float('nan')):.3f}, "
            f"{spread.get('quota_per_history_gini', float('nan')):.3f}. Out of line "
            "(shaded): an index off 1 by more than the rule allows.</p>"
            + _html_table(quotas, flagged))
    if forecast is not None:
        info = forecast.attrs.get("forecast", {})
        how = ("the given stage probabilities" if info.get("stages") == "given" else
               f"the win rate of the closed deals ({info.get('win_rate', float('nan')):.1%})")
        sections.append(
            f"<{h}>Forecast</{h}><p>Open pipeline on {esc(str(info.get('as_of')))}, weighted "
            f"by {how}; backtest: the deals open on {esc(str(info.get('backtest_as_of')))} weighted by "
            f"the win rate known then ({info.get('backtest_win_rate', float('nan')):.1%}), "
            "against what of them was won by the first date.</p>" + _html_table(forecast))
    if coverage is not None:
        sections.append(f"<{h}>Coverage</{h}>" + _html_table(coverage))
    if white is not None:
        sections.append(f"<{h}>White space</{h}><p>Units beyond {summary['reach_km']:g} km of "
                        "their rep's base, or with potential and no account, most potential "
                        "first.</p>" + (_html_table(white) if len(white) else "<p>None.</p>"))
    return f'<table class="head">{rows_head}</table>\n' + "".join(sections)
