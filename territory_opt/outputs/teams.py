"""The files that join the runs of a scenario with several teams: every account once
per team that covers it, one owner column per team, a report section and a map
layer per team. Each team's own outputs are those of a normal run, in its folder."""

from __future__ import annotations

import html
from typing import Any

import pandas as pd

from territory_opt.outputs.report import html_page, report_sections
from territory_opt.outputs.tables import coverage_table, summary_table, white_space
from territory_opt.solution import Solution

__all__ = ["team_files"]


def team_files(plans: dict[str, tuple[Solution, Any]], manifest: dict[str, Any], *,
               title: str, reach_km: float | None) -> dict[str, Any]:
    """``assignments.csv`` (a ``team`` column; an account once per team covering it),
    ``crm_assignments.csv`` (``owner_<team>`` per team, blank where a team does not
    cover the account), ``report.csv`` and ``report.html`` (a section per team),
    ``map.html`` (a group of layers per team) and ``manifest.json``."""
    from territory_opt.outputs.maps import teams_map

    assignments, tables, sections = [], [], []
    for name, (solution, _) in plans.items():
        assignments.append(solution.assignments().assign(team=name))
        table = summary_table(solution, reach_km=reach_km)
        tables.append(table.assign(team=name))
        summary = manifest["teams"][name]["summary"]
        sections.append(f'<h2 id="team-{html.escape(name)}">Team {html.escape(name)}</h2>'
                        f"<p>{summary['accounts']:,} accounts, {summary['territories']} "
                        f"territories; every output of the team is in the folder "
                        f"<code>{html.escape(name)}/</code>.</p>"
                        + report_sections(solution, table, summary,
                                          coverage=coverage_table(solution, reach_km=reach_km),
                                          white=white_space(solution, reach_km=reach_km),
                                          level=3))
    joined = pd.concat(assignments, ignore_index=True)
    joined = joined[["team", *(c for c in joined.columns if c != "team")]]
    owners = joined.pivot(index="account_id", columns="team", values="rep_id")
    owners = owners[list(plans)].rename(columns=lambda t: f"owner_{t}").fillna("")
    report = pd.concat(tables, ignore_index=True)
    report = report[["team", *(c for c in report.columns if c != "team")]]
    contents = "".join(f'<li><a href="#team-{html.escape(n)}">Team {html.escape(n)}</a></li>'
                       for n in plans)
    return {
        "assignments.csv": joined.sort_values(["account_id", "team"], kind="stable")
        .reset_index(drop=True),
        "crm_assignments.csv": owners.reset_index(),
        "report.csv": report,
        "report.html": html_page(f"Territory plan: {title}", f"<ul>{contents}</ul>"
                                 + "".join(sections)),
        "map.html": teams_map(plans, reach_km=reach_km),
        "manifest.json": manifest,
    }
