"""Regions over territories: the joint model against top-down, and both against the
flat plan without regions, measured in the same run.

* ``national``: every ZIP code of the lower 48 states (``us_zip_units``), 200 reps at
  seeded home bases, grouped into 10 regions by k-means on the bases (seeded; 11 to
  31 reps each); workload +-5 % per territory and +-2 % per region. ``flat`` has no
  region band; ``joint`` adds the region rows to the Lagrangian path; ``top_down``
  plans the regions first, then the 10 regions' territories on a local Dask cluster
  of 2 workers. Target: top-down within 2x the flat time.
* ``georgia``: the demo's 949 accounts and 12 reps in the 3 regions of
  ``data/georgia/reps.csv``, workload +-5 %, regions +-2 %, contiguous territories
  and regions (the MIP).

The ``vs joint bound`` column is each plan's objective over the joint model's
certified lower bound, minus 1: how far from the optimum of the problem with
regions each plan is proven to be (the flat plan breaks the region bands, so
its figure only says what the regions cost). Each solve runs in a fresh process;
``peak MB`` is that process's (for top-down, without its Dask workers). Prints a
table.

    .venv/bin/python benchmarks/regions.py [--runs national georgia] [--time-limit S]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
K, N_REGIONS, SEED = 200, 10, 0
WAYS = ("flat", "joint", "top_down")


def national(way: str) -> object:
    from sklearn.cluster import KMeans

    import territory_opt as topt
    from territory_opt.datasets import seeded_home_bases, us_zip_units

    units = us_zip_units(seed=SEED)
    reps = seeded_home_bases(units, K, seed=SEED)
    xy = reps.geometry.get_coordinates().to_numpy()
    reps["region"] = [f"Region {r + 1:02d}" for r in
                      KMeans(n_clusters=N_REGIONS, n_init=4, random_state=SEED).fit_predict(xy)]
    return topt.TerritoryProblem(units, reps=reps, balance={"workload": 0.05},
                                 region_balance={} if way == "flat" else {"workload": 0.02})


def georgia(way: str) -> object:
    import territory_opt as topt

    data = ROOT / "data" / "georgia"
    acc = topt.read_accounts(data / "accounts.csv")
    reps = topt.read_reps(data / "reps.csv", region="region")
    units = topt.build_units(acc, method="accounts")
    return topt.TerritoryProblem(units, reps=reps, balance={"workload": 0.05},
                                 region_balance={} if way == "flat" else {"workload": 0.02},
                                 contiguity=True, region_contiguity=way != "flat")


def run_one(instance: str, way: str, time_limit: float | None) -> dict:
    import territory_opt as topt

    t0 = time.perf_counter()
    problem = {"national": national, "georgia": georgia}[instance](way)
    sol = topt.solve(problem, time_limit=time_limit, gap=1e-4 if instance == "national"
                     else 1e-3, threads=2 if way != "top_down" else 1,
                     regions="top_down" if way == "top_down" else "joint", workers=2)
    seconds = time.perf_counter() - t0
    with_regions = problem if way != "flat" else problem.with_options(
        region_balance={"workload": 0.02},
        region_contiguity=problem.contiguity)
    faults = topt.checks.plan_faults(with_regions, sol.unit_centres())
    return {"instance": instance, "way": way, "units": problem.n_units,
            "reps": problem.n_territories, "regions": len(problem.regions or []),
            "seconds": round(seconds, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "objective": sol.objective, "bound": sol.bound, "gap": sol.gap,
            "status": sol.status, "method": sol.options["method"],
            "region_faults": len(faults)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", nargs="+", default=["national", "georgia"],
                        choices=["national", "georgia"])
    parser.add_argument("--time-limit", type=float, default=None)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(args.child[0], args.child[1], args.time_limit)))
        return
    print(f"{'instance':9} {'way':>9} {'units':>6} {'reps':>5} {'regions':>7} {'seconds':>8} "
          f"{'x flat':>6} {'peak MB':>8} {'objective':>15} {'gap %':>7} "
          f"{'vs joint bound %':>16} {'breaks regions':>14}  method, status")
    for instance in args.runs:
        rows = {}
        for way in WAYS:
            cmd = [sys.executable, __file__, "--child", instance, way]
            cmd += ["--time-limit", str(args.time_limit)] if args.time_limit else []
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                tail = done.stderr.strip().splitlines()[-1:] or ["(no message)"]
                print(f"{instance:9} {way:>9} failed: {tail[0]}", flush=True)
                continue
            rows[way] = json.loads(done.stdout.strip().splitlines()[-1])
        flat = rows.get("flat", {}).get("seconds")
        bound = rows.get("joint", {}).get("bound")
        for way, r in rows.items():
            ratio = "-" if not flat else f"{r['seconds'] / flat:.2f}"
            gap = "-" if r["gap"] is None else f"{100 * r['gap']:.3f}"
            vs = "-" if not bound else f"{100 * (r['objective'] / bound - 1):.3f}"
            print(f"{instance:9} {way:>9} {r['units']:6d} {r['reps']:5d} {r['regions']:7d} "
                  f"{r['seconds']:8.1f} {ratio:>6} {r['peak_rss_mb']:8.0f} "
                  f"{r['objective']:15,.1f} {gap:>7} {vs:>16} {r['region_faults']:14d}  "
                  f"{r['method']}, {r['status']}", flush=True)


if __name__ == "__main__":
    main()
