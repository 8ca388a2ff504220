"""Contiguity's price: plain and contiguous plans side by side, one table.

Each instance is solved without and with contiguity (the same adjacency graph,
the same bands), each in its own process with a time limit: ``plain`` and
``contiguous`` by ``method="auto"`` (with contiguity: the search, then the flow
MIP from its plan) at a 0.1 % gap, ``contig 0.4%`` at the demo's 0.4 % (the search
stops there), and the search alone at 5 s and 30 s. The table gives
seconds, objective, gap against the best bound (the plain problem's, at least),
how many territories are in pieces, and seconds and objective as ratios to the
plain run.

Instances (the first rows of issue "Contiguous territories by default"):

- ``georgia``: the demo, 949 accounts x 12 reps, workload +-5 %, potential +-25 %;
- ``georgia_counties``: the demo's 159 counties as units, 12 reps, workload +-10 %,
  potential +-25 %;
- ``georgia_model``: 949 accounts, model-chosen centres, k = 12, workload, potential
  and account count each +-5 % (the MIP's Hess model);
- ``southeast``: 5,622 ZIP codes of six states x 40 seeded bases, workload +-5 %
  (the Lagrangian path);
- ``national``: the 40,457 ZIP codes of the lower 48 states x 200 seeded bases,
  workload +-5 % (as ``benchmarks/national.py``).

Besides seconds and objective, the table gives the search's milliseconds per applied
chain (``ms/chain``: its solve seconds over the chains its descents applied) and the
run's peak resident memory.

Usage: .venv/bin/python benchmarks/contiguity.py [--instances georgia ...]
           [--runs plain contiguous ...] [--time-limit S]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import networkx as nx
import numpy as np

INSTANCES = ("georgia", "georgia_counties", "georgia_model", "southeast", "national")


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
    if name == "georgia_model":
        units = topt.build_units(accounts, potential=potential, method="accounts")
        return topt.TerritoryProblem(units, k=12, centres="model", balance={
            "workload": 0.05, "potential": 0.05, "accounts": 0.05})
    raise SystemExit(f"unknown instance {name!r}")


RUNS = {  # run: (contiguous, method, time limit: None = --time-limit, gap asked)
    "plain": (False, "auto", None, 1e-3),
    "contiguous": (True, "auto", None, 1e-3),
    "contig 0.4%": (True, "auto", None, 4e-3),  # the demo's scenario
    "search 5s": (True, "search", 5.0, 1e-3),
    "search 30s": (True, "search", 30.0, 1e-3),
}


def child(name: str, run: str, time_limit: float) -> dict:
    """One run, in this process: the figures as a dict."""
    import territory_opt as topt

    contiguous, method, limit, gap = RUNS[run]
    p = problem(name)
    if contiguous:
        p = p.with_options(contiguity=True)
    t0 = time.perf_counter()
    try:
        sol = topt.solve(p, method=method, gap=gap, time_limit=limit or time_limit)
    except topt.TerritoryOptError as exc:
        return {"seconds": time.perf_counter() - t0, "error": str(exc)[:70]}
    seconds = time.perf_counter() - t0
    chains = sol.options.get("search_chains")
    per_chain = None if not chains else 1000 * sol.seconds.get("solve", 0.0) / chains
    graph = p.adjacency
    labels = sol.unit_centres()
    pieces = sum(not nx.is_connected(graph.subgraph(np.flatnonzero(labels == c).tolist()))
                 for c in np.unique(labels))
    return {"seconds": seconds, "status": sol.status, "objective": sol.objective,
            "bound": sol.bound, "gap": sol.gap, "in_pieces": int(pieces),
            "method": sol.options["method"], "ms_per_chain": per_chain,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", nargs="+", default=list(INSTANCES), choices=INSTANCES)
    parser.add_argument("--runs", nargs="+", default=list(RUNS), choices=RUNS)
    parser.add_argument("--time-limit", type=float, default=120.0)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], args.time_limit)))
        return
    print(f"{'instance':18} {'run':11} {'seconds':>8} {'x plain':>8} {'objective':>13} "
          f"{'x plain':>8} {'gap':>8} {'pieces':>6} {'ms/chain':>8} {'peak MB':>7}  status")
    for name in args.instances:
        plain = None
        for run in args.runs:
            out = subprocess.run([sys.executable, __file__, "--child", name, run,
                                  "--time-limit", str(args.time_limit)],
                                 capture_output=True, text=True)
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
            print(f"{name:18} {run:11} {r['seconds']:8.1f} {r['seconds'] / plain['seconds']:7.1f}x "
                  f"{r['objective']:13,.0f} {r['objective'] / plain['objective']:7.4f}x "
                  f"{gap:>8} {r['in_pieces']:6d} {per:>8} {r['peak_mb']:7.0f}  "
                  f"{r['status']} ({r['method']})", flush=True)


if __name__ == "__main__":
    main()
