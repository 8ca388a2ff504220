"""The national benchmark: every active ZIP code of the lower 48 states as a unit.

Instance (see ``territory_opt.datasets.us_zip_units``): about 40,000 ZIP points
(real locations from the ``zipcodes`` package) with seeded synthetic workload
and potential; 200 territories, +-5 % workload band; objective: workload times
distance (km, CONUS Albers). Runs:

* ``fixed``: home bases drawn among the ZIPs in proportion to workload (seed 0);
* ``fixed_contiguous``: the same, every territory connected in the Delaunay
  graph of the ZIP points and holding the ZIP nearest its rep's base;
* ``model`` / ``model_contiguous``: centres chosen by the model.

Each run is a fresh process (so its peak resident memory is its own) and goes
through ``territory_opt.solve`` (the Lagrangian path is chosen by size). Prints
seconds, peak RSS, objective, certified lower bound and gap. With ``--out DIR``
writes ``DIR/summary.json`` and ``DIR/<run>.csv`` (unit_id, zip, workload,
territory). Targets: gap <= 0.5 %, <= 60 s, <= 4 GiB per run.

    .venv/bin/python benchmarks/national.py [--runs fixed model] [--out DIR]
    .venv/bin/python benchmarks/national.py --runs fixed --n 5000 --k 100   # one cell
                                                  of the scaling table
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

RUNS = ("fixed", "fixed_contiguous", "model", "model_contiguous")
K = 200
TOLERANCE = 0.05
SEED = 0


def run_one(name: str, out: str | None, time_limit: float | None, k: int,
            states: list[str] | None, n: int | None = None, method: str = "auto") -> dict:
    import numpy as np

    import territory_opt as topt
    from territory_opt.datasets import seeded_home_bases, us_zip_units

    units = us_zip_units(states=states, seed=SEED)
    if n is not None and n < len(units):  # a seeded sample, for the scaling table
        pick = np.sort(np.random.default_rng(SEED).choice(len(units), n, replace=False))
        units = units.iloc[pick].reset_index(drop=True)
    t0 = time.perf_counter()
    options: dict = {"balance": {"workload": TOLERANCE}, "contiguity": "contiguous" in name}
    if name.startswith("fixed"):
        problem = topt.TerritoryProblem(units, reps=seeded_home_bases(units, k, seed=SEED),
                                        **options)
    else:
        problem = topt.TerritoryProblem(units, k=k, centres="model", **options)
    if problem.contiguity:
        _ = problem.adjacency  # Delaunay graph of the ZIP points (counted in the time)
    sol = topt.solve(problem, time_limit=time_limit, gap=1e-4, threads=2, method=method)
    seconds = time.perf_counter() - t0
    record = {"name": name, "units": problem.n_units, "territories": k,
              "seconds": round(seconds, 2),
              "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
              "objective": sol.objective, "lower_bound": sol.bound, "gap": sol.gap,
              "status": sol.status,
              "worst_workload_deviation": float(abs(sol.sums("workload")
                                                    / problem.targets("workload") - 1).max()),
              "method": sol.options["method"]}
    if out:
        frame = units[["unit_id", "zip", "workload"]].copy()
        frame["territory"] = sol.territory_labels()
        frame.to_csv(Path(out) / f"{name}.csv", index=False)
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", nargs="+", default=list(RUNS), choices=RUNS)
    parser.add_argument("--out", help="folder for summary.json and <run>.csv")
    parser.add_argument("--time-limit", type=float, default=None)
    parser.add_argument("--k", type=int, default=K)
    parser.add_argument("--states", nargs="+", help="two-letter codes (default: lower 48)")
    parser.add_argument("--n", type=int, help="a seeded sample of this many ZIPs")
    parser.add_argument("--method", default="auto", choices=("auto", "mip", "lagrange"))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(args.child, args.out, args.time_limit, args.k, args.states,
                                 args.n, args.method)))
        return
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
    records = []
    print(f"{'run':18} {'units':>6} {'k':>4} {'seconds':>8} {'peak MB':>8} {'objective':>14} "
          f"{'lower bound':>14} {'gap %':>7} {'worst dev':>9}  status")
    for name in args.runs:
        cmd = [sys.executable, __file__, "--child", name, "--k", str(args.k)]
        cmd += ["--out", args.out] if args.out else []
        cmd += ["--time-limit", str(args.time_limit)] if args.time_limit else []
        cmd += ["--states", *args.states] if args.states else []
        cmd += ["--n", str(args.n)] if args.n else []
        cmd += ["--method", args.method]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            tail = done.stderr.strip().splitlines()[-1:] or ["(no message)"]
            print(f"{name:18} failed: {tail[0]}")
            records.append({"name": name, "error": tail[0]})
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        records.append(r)
        bound = "-" if r["lower_bound"] is None else f"{r['lower_bound']:14,.0f}"
        gap = "-" if r["gap"] is None else f"{100 * r['gap']:7.3f}"
        print(f"{name:18} {r['units']:6d} {r['territories']:4d} {r['seconds']:8.1f} "
              f"{r['peak_rss_mb']:8.0f} {r['objective']:14,.0f} {bound:>14} {gap:>7} "
              f"{100 * r['worst_workload_deviation']:8.2f}%  {r['status']}", flush=True)
    if args.out:
        Path(args.out, "summary.json").write_text(json.dumps(records, indent=2))


if __name__ == "__main__":
    main()
