"""Segments and specialists: what eligibility costs the solve, against the same
instance without it, measured in the same run.

* ``georgia``: the demo's 949 accounts and the 14 reps of
  ``data/georgia/reps_specialists.csv`` (12 for practices and pharmacies, two
  hospital specialists), workload +-5 %, potential +-25 % (the bands of
  ``scenarios/georgia_specialists.yaml``), solved with and without the reps'
  segments (then anyone may take a hospital);
* ``national``: every ZIP code of the lower 48 states (``us_zip_units``), 200 reps
  at seeded home bases, workload +-5 %; each ZIP gets a seeded segment (a 50 %,
  b 30 %, c 20 %), and 20 % of the reps are restricted (20 serve only b, 20 only c;
  each group needs 10 % of the workload). Target: within 2x the unrestricted time,
  gap <= 0.5 %.

Each solve runs in a fresh process (its own peak memory). Prints a table.

    .venv/bin/python benchmarks/segments.py [--runs georgia national] [--time-limit S]
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
K = 200
SEED = 0
SHARES = {"a": 0.5, "b": 0.3, "c": 0.2}


def georgia(segments: bool) -> object:
    import territory_opt as topt

    data = ROOT / "data" / "georgia"
    acc = topt.read_accounts(data / "accounts.csv", segment="segment")
    pot = topt.read_potential(data / "counties.gpkg", id="fips")
    reps = topt.read_reps(data / "reps_specialists.csv",
                          segments="segments" if segments else None)
    units = topt.build_units(acc, potential=pot, method="accounts", segment="segment")
    return topt.TerritoryProblem(units, reps=reps, balance={"workload": 0.05,
                                                            "potential": 0.25})


def national(segments: bool) -> object:
    import numpy as np

    import territory_opt as topt
    from territory_opt.datasets import seeded_home_bases, us_zip_units

    units = us_zip_units(seed=SEED)
    rng = np.random.default_rng(SEED)
    units["segment"] = rng.choice(list(SHARES), size=len(units), p=list(SHARES.values()))
    reps = seeded_home_bases(units, K, seed=SEED)
    if segments:
        served = [()] * K
        restricted = rng.choice(K, size=K // 5, replace=False)
        for i, r in enumerate(restricted):
            served[r] = ("b",) if i < K // 10 else ("c",)
        reps["segments"] = served
    return topt.TerritoryProblem(units, reps=reps, balance={"workload": 0.05})


def run_one(instance: str, segments: bool, time_limit: float | None) -> dict:
    import territory_opt as topt

    t0 = time.perf_counter()
    problem = {"georgia": georgia, "national": national}[instance](segments)
    sol = topt.solve(problem, time_limit=time_limit, gap=1e-3 if instance == "georgia"
                     else 1e-4, threads=2)
    faults = topt.checks.plan_faults(problem, sol.unit_centres())
    return {"instance": instance, "segments": segments, "units": problem.n_units,
            "reps": problem.n_territories,
            "restricted": 0 if problem.served is None else sum(bool(s) for s in problem.served),
            "seconds": round(time.perf_counter() - t0, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "objective": sol.objective, "bound": sol.bound, "gap": sol.gap,
            "status": sol.status, "method": sol.options["method"], "faults": len(faults)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", nargs="+", default=["georgia", "national"],
                        choices=["georgia", "national"])
    parser.add_argument("--time-limit", type=float, default=None)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(args.child[0], args.child[1] == "1", args.time_limit)))
        return
    print(f"{'instance':9} {'segments':>8} {'units':>6} {'reps':>5} {'restr.':>6} "
          f"{'seconds':>8} {'x base':>6} {'peak MB':>8} {'objective':>15} {'gap %':>7} "
          f"{'faults':>6}  method, status")
    for instance in args.runs:
        base = None
        for segments in (False, True):
            cmd = [sys.executable, __file__, "--child", instance, str(int(segments))]
            cmd += ["--time-limit", str(args.time_limit)] if args.time_limit else []
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                tail = done.stderr.strip().splitlines()[-1:] or ["(no message)"]
                print(f"{instance:9} {segments!s:>8} failed: {tail[0]}")
                continue
            r = json.loads(done.stdout.strip().splitlines()[-1])
            base = r["seconds"] if not segments else base
            ratio = "-" if base is None or not segments else f"{r['seconds'] / base:.2f}"
            gap = "-" if r["gap"] is None else f"{100 * r['gap']:.3f}"
            print(f"{instance:9} {segments!s:>8} {r['units']:6d} {r['reps']:5d} "
                  f"{r['restricted']:6d} {r['seconds']:8.1f} {ratio:>6} {r['peak_rss_mb']:8.0f} "
                  f"{r['objective']:15,.1f} {gap:>7} {r['faults']:6d}  {r['method']}, "
                  f"{r['status']}", flush=True)


if __name__ == "__main__":
    main()
