"""Contiguity's price: plain and contiguous plans side by side, one table.

Each instance is solved without and with contiguity (the same adjacency graph,
the same bands), each in its own process with a time limit: ``plain`` and
``contiguous`` by ``method="auto"`` (with contiguity: the search, then the flow
MIP from its plan) at a 0.1 % gap, ``contig 0.4%`` at the demo's 0.4 % (the search
stops there), and the search alone at 5 s and 30 s. The table gives
seconds, objective, gap against the best bound (the plain problem's, at least),
how many territories are in pieces, and seconds and objective as ratios to the
plain run.

Instances (the first rows of issue "Contiguous territories by default", then those of
"Exact where it pays"):

- ``georgia``: the demo, 949 accounts x 12 reps, workload +-5 %, potential +-25 %;
- ``georgia_counties``: the demo's 159 counties as units, 12 reps, workload +-10 %,
  potential +-25 % (no connected plan: DeKalb's county cannot join any territory);
- ``georgia_model``: 949 accounts, model-chosen centres, k = 12, workload, potential
  and account count each +-5 % (the MIP's Hess model);
- ``southeast``: 5,622 ZIP codes of six states x 40 seeded bases, workload +-5 %
  (the Lagrangian path);
- ``national``: the 40,457 ZIP codes of the lower 48 states x 200 seeded bases,
  workload +-5 % (as ``benchmarks/national.py``);
- ``counties_8``: a coarse map: the 159 counties, 8 of the demo's reps (all but R04
  Gainesville, R05 Rome, R06 Athens and R12 Valdosta), workload +-5 %, potential
  +-25 %; the flow MIP proves its contiguous optimum (run ``exact``);
- ``counties_11``: the same with 11 reps (all but R05 Rome): a plan exists, the flow
  MIP does not prove it in 800 s;
- ``counties_tight``: the demo's counties and 12 reps with potential +-5 %: no plan
  holds every band (Fulton alone exceeds it); runs ``compromise`` and ``widened``
  (the plan of the bands the compromise's diagnosis widens alike, solved as a user
  would, its violation measured on the original bands);
- ``published``: the published contiguous county instances (``../shared/benchmarks``,
  model-chosen centres) at the time limit, each against its published optimum and
  max(10 x the paper's seconds, 5 s) (``benchmarks/districting.py`` solves them).

Runs: ``auto 5x`` gives ``auto`` five times the plain run's seconds; ``exact`` is the
flow MIP alone with ``--exact-limit`` seconds. The ``limit`` column flags a run whose
wall seconds exceed its time limit x 1.1; ``viol`` is the total band violation (shares
of a territory's average) of relaxed and widened plans; ``bound`` names the bound
(the plain problem's, the flow model's).

Usage: .venv/bin/python benchmarks/contiguity.py [--instances georgia ...]
           [--runs plain contiguous ...] [--time-limit S] [--exact-limit S]
e.g.   .venv/bin/python benchmarks/contiguity.py --instances counties_8 counties_11 \\
           --runs plain contiguous "auto 5x" exact --time-limit 60
       .venv/bin/python benchmarks/contiguity.py --instances counties_tight \\
           --runs compromise widened --time-limit 60
       .venv/bin/python benchmarks/contiguity.py --instances published --time-limit 120
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

INSTANCES = ("georgia", "georgia_counties", "georgia_model", "southeast", "national",
             "counties_8", "counties_11", "counties_tight", "published")
LEFT_OUT = {"counties_8": ["R04", "R05", "R06", "R12"], "counties_11": ["R05"],
            "counties_tight": []}
PUBLISHED = Path(__file__).resolve().parents[1] / ".." / "shared" / "benchmarks" \
    / "districting_counties"
# the published instances with a connected plan to find or to refute, k > 1
PUBLISHED_STATES = ("AL", "AR", "CO", "IA", "ID", "KS", "LA", "ME", "MS", "NE", "NH", "NM",
                    "OK", "OR", "WV")


def problem(name: str):
    import territory_opt as topt
    from territory_opt.datasets import seeded_home_bases, us_zip_units

    if name in ("southeast", "national"):
        states = ["GA", "FL", "AL", "SC", "NC", "TN"] if name == "southeast" else None
        units = us_zip_units(states=states, seed=0)
        k = 40 if name == "southeast" else 200
        return topt.TerritoryProblem(units, reps=seeded_home_bases(units, k, seed=0),
                                     balance={"workload": 0.05})
    accounts, potential, reps = topt.load_georgia()
    if name == "georgia":
        units = topt.build_units(accounts, potential=potential, method="accounts")
        return topt.TerritoryProblem(units, reps=reps,
                                     balance={"workload": 0.05, "potential": 0.25})
    if name == "georgia_counties":
        units = topt.build_units(accounts, potential=potential, method="polygons")
        return topt.TerritoryProblem(units, reps=reps,
                                     balance={"workload": 0.10, "potential": 0.25})
    if name in LEFT_OUT:
        units = topt.build_units(accounts, potential=potential, method="polygons")
        reps = reps[~reps["rep_id"].isin(LEFT_OUT[name])].reset_index(drop=True)
        tight = name == "counties_tight"
        return topt.TerritoryProblem(units, reps=reps, balance={
            "workload": 0.05, "potential": 0.05 if tight else 0.25})
    if name == "georgia_model":
        units = topt.build_units(accounts, potential=potential, method="accounts")
        return topt.TerritoryProblem(units, k=12, centres="model", balance={
            "workload": 0.05, "potential": 0.05, "accounts": 0.05})
    raise SystemExit(f"unknown instance {name!r}")


RUNS = {  # run: (contiguous, method, time limit: None = --time-limit, gap asked)
    "plain": (False, "auto", None, 1e-3),
    "contiguous": (True, "auto", None, 1e-3),
    "auto 5x": (True, "auto", "5x", 1e-3),  # five times the plain run's seconds
    "exact": (True, "mip", "exact", 1e-3),  # the flow MIP alone, --exact-limit seconds
    "compromise": (True, "auto", None, 1e-3),
    "widened": (True, "auto", None, 1e-3),
    "contig 0.4%": (True, "auto", None, 4e-3),  # the demo's scenario
    "search 5s": (True, "search", 5.0, 1e-3),
    "search 30s": (True, "search", 30.0, 1e-3),
}


def child(name: str, run: str, time_limit: float) -> dict:
    """One run, in this process: the figures as a dict (``time_limit``: the run's own)."""
    import territory_opt as topt
    from territory_opt.plan import Bands

    contiguous, method, _, gap = RUNS[run]
    p = problem(name)
    if contiguous:
        p = p.with_options(contiguity=True)
    bands = Bands(p)
    t0 = time.perf_counter()
    try:
        if run == "widened":  # the bands the refusal names, widened, solved as a user would
            try:
                topt.solve(p, gap=gap, time_limit=time_limit)
                return {"seconds": time.perf_counter() - t0, "error": "a plan holds the bands"}
            except topt.InfeasibleError as exc:
                words = _named(str(exc))
            if not words:
                return {"seconds": time.perf_counter() - t0, "error": "no band width named"}
            t0 = time.perf_counter()
            sol = topt.solve(p.with_options(balance=dict(p.balance) | words), gap=gap,
                             time_limit=time_limit)
            words = ", ".join(f"{m} +-{v:.0%}" for m, v in words.items())
        else:
            sol = topt.solve(p, method=method, gap=gap, time_limit=time_limit,
                             infeasible="compromise" if run == "compromise" else "refuse")
    except topt.TerritoryOptError as exc:
        return {"seconds": time.perf_counter() - t0, "error": str(exc)[:70]}
    seconds = time.perf_counter() - t0
    chains = sol.options.get("search_chains")
    per_chain = None if not chains else 1000 * sol.seconds.get("solve", 0.0) / chains
    graph = p.adjacency
    labels = sol.unit_centres()
    pieces = sum(not nx.is_connected(graph.subgraph(np.flatnonzero(labels == c).tolist()))
                 for c in np.unique(labels))
    violation = float(bands.violation(bands.sums(labels)).sum()) if p.centres == "fixed" \
        else 0.0
    return {"seconds": seconds, "limit": time_limit, "status": sol.status,
            "objective": sol.objective, "bound": sol.bound, "gap": sol.gap,
            "bound_from": sol.options.get("bound_from"), "violation": violation,
            "in_pieces": int(pieces),
            "method": sol.options["method"] + (f", {words}" if run == "widened" else ""),
            "ms_per_chain": per_chain,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _named(message: str) -> dict[str, float]:
    """The band widths a refusal names: ``alike for every territory: workload band
    (+-12% of target)`` (the elastic diagnosis) or ``the potential band (+-5% of
    target) ...; widen the band (to +-12%: ...)`` (the checks)."""
    import re

    out = {}
    if "alike for every territory: " in message:
        for part in message.split("alike for every territory: ")[1].split("), "):
            out[part.split(" band")[0]] = float(part.split("+-")[1].split("%")[0]) / 100
    for metric, width in re.findall(r"has (\w+) [\d,.]+, more than .*?widen the band "
                                    r"\(to \+-(\d+)%", message):
        out[metric] = float(width) / 100
    return out


def published(time_limit: float) -> None:
    """The published contiguous county instances, one row each."""
    sys.path.insert(0, str(Path(__file__).parent))
    import districting

    expected = pd.read_csv(PUBLISHED / "expected.csv").set_index("state")
    with tempfile.TemporaryDirectory() as out:
        for state in PUBLISHED_STATES:
            row = districting.solve_instance(PUBLISHED / f"{state}_county.json", "contiguous",
                                             Path(out), time_limit)
            exp = expected.loc[state]
            target = max(10 * float(exp["contiguous_paper_seconds"]), 5.0)
            want = exp["contiguous_objective"]
            ours = row["objective"]
            if isinstance(ours, str) or want == "infeasible":
                hit = ours == want
                shown = f"{ours:>13}"
            else:
                hit = abs(ours - float(want)) <= 1e-4 * float(want)
                shown = f"{ours:13,.2f}"
            verdict = "ok" if hit and row["seconds"] <= target else \
                "slow" if hit else "MISSED"
            over = " over" if row["seconds"] > 1.1 * time_limit else ""
            print(f"{'published ' + state:18} {'contiguous':11} {row['seconds']:8.1f} "
                  f"{'':>8} {shown} {'':>8} {'':>8} {'':>6} {'':>8} {'':>7}  "
                  f"{verdict}: published {want}, target {target:.1f} s{over}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", nargs="+", default=list(INSTANCES[:5]),
                        choices=INSTANCES)
    parser.add_argument("--runs", nargs="+", default=["plain", "contiguous", "contig 0.4%",
                                                      "search 5s", "search 30s"],
                        choices=RUNS)
    parser.add_argument("--time-limit", type=float, default=120.0)
    parser.add_argument("--exact-limit", type=float, default=900.0)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], args.time_limit)))
        return
    print(f"{'instance':18} {'run':11} {'seconds':>8} {'x plain':>8} {'objective':>13} "
          f"{'x plain':>8} {'gap':>8} {'pieces':>6} {'ms/chain':>8} {'peak MB':>7}  "
          "status (method; bound; violation; time limit)")
    for name in args.instances:
        if name == "published":
            published(args.time_limit)
            continue
        plain = None
        for run in args.runs:
            limit = RUNS[run][2]
            if limit == "5x":
                if plain is None:
                    print(f"{name:18} {run:11} needs the plain run first", flush=True)
                    continue
                limit = 5 * plain["seconds"]
            elif limit == "exact":
                limit = args.exact_limit
            limit = limit or args.time_limit
            out = subprocess.run([sys.executable, __file__, "--child", name, run,
                                  "--time-limit", str(limit)],
                                 capture_output=True, text=True, check=False)
            try:
                r = json.loads(out.stdout.strip().splitlines()[-1])
            except (IndexError, json.JSONDecodeError):
                r = {"seconds": float("nan"), "error": out.stderr.strip()[-70:]}
            if "error" in r:
                print(f"{name:18} {run:11} {r['seconds']:8.1f} {'':>8} {'-':>13} {'':>8} "
                      f"{'-':>8} {'-':>6}  {r['error']}", flush=True)
                continue
            plain = plain or r
            gap = "-" if r["gap"] is None else f"{r['gap']:.3%}"
            per = "-" if r["ms_per_chain"] is None else f"{r['ms_per_chain']:.2f}"
            notes = [r["method"], f"bound {r['bound_from'] or '-'}"]
            if r["violation"] > 1e-9:
                notes.append(f"violation {r['violation']:.4f}")
            notes.append(f"limit {r['limit']:.0f} s" + (" OVER" if r["seconds"] > 1.1 * r["limit"]
                                                        else ""))
            print(f"{name:18} {run:11} {r['seconds']:8.1f} {r['seconds'] / plain['seconds']:7.1f}x "
                  f"{r['objective']:13,.0f} {r['objective'] / plain['objective']:7.4f}x "
                  f"{gap:>8} {r['in_pieces']:6d} {per:>8} {r['peak_mb']:7.0f}  "
                  f"{r['status']} ({'; '.join(notes)})", flush=True)


if __name__ == "__main__":
    main()
