"""The workbench's live figures: milliseconds per hand edit, in the session and over
HTTP, against recomputing the report's territory table, measured in the same run.

* ``georgia``: the demo run (949 account units, 12 reps), run first into a
  temporary folder, then opened as ``territory-opt edit`` opens it.
* ``national``: every ZIP code of the lower 48 states (40,457 units, one account
  each, 200 reps at seeded bases, workload +-5 %), solved on the Lagrangian path,
  then edited in a session of its own (``Solution.edit`` minus the server).

Each edit moves one unit on a territory border to the neighbouring territory
(seeded order); ``session ms`` is the edit and its figures, ``HTTP ms`` the same
edit as the page sends it (``POST /api/assign``, the answer with every figure),
``report table ms`` the report's territory table (``summary_table``) of the same
plan, the figures a planner would otherwise wait for. Then one rebalance around
the edits. Prints a table (medians and 95th percentiles over the edits).

    .venv/bin/python benchmarks/workbench.py [--edits 40] [--runs georgia national]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def georgia(folder: Path):
    import territory_opt as topt
    from territory_opt.workbench import open_run

    run = topt.run_scenario(ROOT / "scenarios" / "georgia.yaml", out=folder / "georgia",
                            progress=False)
    return open_run(run.out_dir)


def national(folder: Path):
    import territory_opt as topt
    from territory_opt.datasets import seeded_home_bases, us_zip_units
    from territory_opt.workbench import EditSession

    units = us_zip_units(seed=0)
    # one account per ZIP code, as build_units lists them (the rebalance's move
    # penalty counts accounts)
    units["account_ids"] = [[u] for u in units["unit_id"]]
    units["account_workloads"] = [[w] for w in units["workload"]]
    reps = seeded_home_bases(units, 200, seed=0)
    problem = topt.TerritoryProblem(units, reps=reps, balance={"workload": 0.05})
    return EditSession(topt.solve(problem, method="lagrange", time_limit=300))


def border_moves(session, count: int, seed: int = 0) -> list[tuple[str, str]]:
    """Seeded (unit, territory) pairs: a unit to a neighbouring territory."""
    rng = np.random.default_rng(seed)
    cols = session.columns
    edges = [(u, v) for u, v in session.problem.adjacency.edges() if cols[u] != cols[v]]
    picks = rng.choice(len(edges), size=min(count, len(edges)), replace=False)
    return [(session.unit_ids[edges[e][0]], str(session.labels[cols[edges[e][1]]]))
            for e in picks]


def measure(name: str, session, edits: int) -> dict[str, object]:
    from territory_opt.outputs.tables import summary_table
    from territory_opt.workbench.app import Workbench

    moves = border_moves(session, 2 * edits)
    local, http, table = [], [], []
    for unit, terr in moves[:edits]:
        t0 = time.perf_counter()
        session.assign([unit], terr)
        session.state()
        local.append(1e3 * (time.perf_counter() - t0))
        t0 = time.perf_counter()
        summary_table(session.solution(), reach_km=session.context.reach_km)
        table.append(1e3 * (time.perf_counter() - t0))
    bench = Workbench(session)
    try:
        for unit, terr in moves[edits:]:
            body = json.dumps({"units": [unit], "territory": terr}).encode()
            req = urllib.request.Request(f"http://127.0.0.1:{bench.port}/api/assign",
                                         data=body, method="POST",
                                         headers={"X-Token": bench.token,
                                                  "Content-Type": "application/json"})
            t0 = time.perf_counter()
            with urllib.request.urlopen(req, timeout=60) as res:
                res.read()
            http.append(1e3 * (time.perf_counter() - t0))
    finally:
        bench.stop()
    t0 = time.perf_counter()
    proposal = session.rebalance(time_limit=120)
    rebalance = time.perf_counter() - t0
    return {"instance": name, "units": session.problem.n_units,
            "territories": len(session.labels), "edits": len(local),
            "session ms": np.median(local), "session p95": np.percentile(local, 95),
            "HTTP ms": np.median(http) if http else np.nan,
            "HTTP p95": np.percentile(http, 95) if http else np.nan,
            "report table ms": np.median(table),
            "x faster": np.median(table) / np.median(local),
            "rebalance s": rebalance, "moves": len(proposal.changes),
            "faults after": len(proposal.faults)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--edits", type=int, default=40)
    parser.add_argument("--runs", nargs="+", default=["georgia", "national"],
                        choices=["georgia", "national"])
    args = parser.parse_args()
    import pandas as pd

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.runs:
            session = {"georgia": georgia, "national": national}[name](Path(tmp))
            rows.append(measure(name, session, args.edits))
    table = pd.DataFrame(rows)
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.1f}"))


if __name__ == "__main__":
    main()
