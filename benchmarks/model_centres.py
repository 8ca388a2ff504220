"""Model-chosen centres past a few hundred units: a plan, a certified bound, a proof.

Instances of the published districting kind (Hess: workload x distance squared,
centres chosen among the units, a tight band), built from the bundled ZIP data
(``territory_opt.datasets.us_zip_units``: real locations, seeded synthetic
workload): every ZIP code of a state is a unit.

Each instance runs twice, each run in its own process: with ``--time-limit 10``
(is there a plan in 10 s?) and with the full ``--time-limit`` (proof, or the
certified gap). ``--baseline DIR`` adds the same runs of another checkout of the
code (e.g. a ``git worktree`` of an earlier commit), measured in the same
session, and a column with the ratio of seconds.

``--table certificate`` runs the table of model-chosen centres with a certificate
instead, each instance once at its own time limit, with the wall clock as a share of
the limit: the national 40,457 ZIP codes x 200 (``benchmarks/national.py``'s; ``-c``:
contiguous); the demo's 949 Georgia account units, k = 12, and the ZIP codes of SC,
AL and GA (Delaunay neighbours), k = 10, each with workload, potential and account
count within +-5 % (``georgia-3m``, ``SC-10-3m`` ...; contiguous ones with
``infeasible="compromise"``: a relaxed plan is named so); the OR-Library capacitated
p-median instances pmedcap1_01..20 with their published optima
(``../shared/benchmarks/capacitated_pmedian``, as ``benchmarks/capacitated_pmedian.py``
reads them). ``--table several`` keeps the three-measure rows alone.

Usage: python benchmarks/model_centres.py [--instances SC-2 SC-4 ...]
           [--time-limit S] [--baseline DIR] [--table certificate|several]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from capacitated_pmedian import problem as pmedcap
from capacitated_pmedian import read_pmedcap

# state, territories; band +-1 % of workload
INSTANCES = ("SC-2", "SC-4", "SC-7", "TN-4", "AL-6", "GA-8", "GA-14")
TOLERANCE = 0.01
# several measures: instance, time limit (s)
SEVERAL = (("georgia-3m", 30.0), ("georgia-3m-c", 30.0), ("SC-10-3m-c", 60.0),
           ("AL-10-3m-c", 60.0), ("GA-10-3m-c", 60.0))
CERTIFICATE = (("national", 60.0), ("national-c", 120.0), *SEVERAL,
               *((f"pmedcap1_{i:02d}", 60.0) for i in range(1, 21)))
THREE = {"workload": 0.05, "potential": 0.05, "accounts": 0.05}
PMEDCAP = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "capacitated_pmedian"


def problem(name: str):
    import territory_opt as topt
    from territory_opt.datasets import us_zip_units

    contiguous = name.endswith("-c")
    if name.startswith("pmedcap"):
        return pmedcap(read_pmedcap(PMEDCAP / f"{name}.txt"))
    if name.startswith("national"):
        return topt.TerritoryProblem(us_zip_units(seed=0), k=200, centres="model",
                                     balance={"workload": 0.05}, contiguity=contiguous)
    if name.startswith("georgia-3m"):
        accounts, potential, _ = topt.load_georgia()
        units = topt.build_units(accounts, potential=potential, method="accounts")
        return topt.TerritoryProblem(units, k=12, centres="model", balance=THREE,
                                     contiguity=contiguous)
    state, k, *rest = name.split("-")
    units = us_zip_units(states=[state], seed=0)
    if rest and rest[0] == "3m":
        return topt.TerritoryProblem(units, k=int(k), centres="model", balance=THREE,
                                     contiguity=contiguous)
    return topt.TerritoryProblem(units, k=int(k), centres="model", power=2,
                                 balance={"workload": TOLERANCE})


def child(name: str, time_limit: float) -> dict:
    """One run, in this process: the figures as a dict."""
    import territory_opt as topt

    t0 = time.perf_counter()  # building the problem counts (national: its graph too)
    p = problem(name)
    if p.contiguity:
        _ = p.adjacency
    gap = 1e-6 if name.startswith("pmedcap") else 1e-4 if name.startswith("national") else 0.01
    try:
        sol = topt.solve(p, time_limit=time_limit, gap=gap,
                         infeasible="compromise" if p.contiguity else "refuse")
    except topt.TerritoryOptError as exc:
        return {"n": p.n_units, "seconds": time.perf_counter() - t0, "error": str(exc)[:90]}
    return {"n": p.n_units, "seconds": time.perf_counter() - t0, "status": sol.status,
            "objective": sol.objective, "gap": sol.gap, "method": sol.options["method"],
            "violation": sol.options.get("violation"),
            "published": read_pmedcap(PMEDCAP / f"{name}.txt")["optimum"]
            if name.startswith("pmedcap") else None}


def run(name: str, time_limit: float, code: str | None) -> dict:
    env = dict(os.environ)
    if code:
        env["PYTHONPATH"] = code
    out = subprocess.run([sys.executable, __file__, "--child", name, "--time-limit",
                          str(time_limit)], capture_output=True, text=True, env=env)
    try:
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {"seconds": float("nan"), "error": out.stderr.strip()[-60:]}


def cell(r: dict) -> str:
    if "error" in r:
        return f"{r['seconds']:7.1f}  no plan"
    gap = "-" if r["gap"] is None else f"{r['gap']:.3%}"
    return f"{r['seconds']:7.1f} {r['objective']:14,.0f} {gap:>8} {r['status']:>8}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", nargs="+", default=list(INSTANCES))
    parser.add_argument("--time-limit", type=float, default=120.0)
    parser.add_argument("--baseline", help="another checkout of the code, run alike")
    parser.add_argument("--table", choices=["certificate", "several"],
                        help="the certificate table, or its several-measures rows")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.time_limit)))
        return
    if args.table:
        print(f"{'instance':13} {'n':>5} {'limit':>5}  {'seconds':>7} {'objective':>14} "
              f"{'gap':>8} {'status':>8}  {'wall/limit':>10}  method")
        for name, limit in CERTIFICATE if args.table == "certificate" else SEVERAL:
            r = run(name, limit, None)
            what = r.get("method", r.get("error", ""))
            if r.get("violation"):
                what += f" (violation {r['violation']:.3g})"
            if r.get("published") and "objective" in r:
                hit = round(r["objective"]) == r["published"]
                what += f"  published {r['published']:.0f}: {'=' if hit else 'MISS'}"
            print(f"{name:13} {r.get('n', ''):>5} {limit:5.0f}  {cell(r)}  "
                  f"{r['seconds'] / limit:10.2f}  {what}", flush=True)
        return
    codes = [("this", None)] + ([("baseline", args.baseline)] if args.baseline else [])
    print(f"{'instance':9} {'n':>5} {'code':9} {'limit':>5}  {'seconds':>7} {'objective':>14} "
          f"{'gap':>8} {'status':>8}  {'x baseline':>10}")
    for name in args.instances:
        runs: dict[tuple[str, float], dict] = {}
        for label, code in codes:
            for limit in (10.0, args.time_limit):
                r = runs[label, limit] = run(name, limit, code)
                ratio = ""
                if label == "baseline" and "error" not in runs["this", limit] \
                        and "error" not in r:
                    ratio = f"{runs['this', limit]['seconds'] / r['seconds']:9.2f}x"
                print(f"{name:9} {r.get('n', ''):>5} {label:9} {limit:5.0f}  {cell(r)}  {ratio}",
                      flush=True)


if __name__ == "__main__":
    main()
