"""A scenario sweep run serially and on a Dask LocalCluster: seconds, and whether
every run gives the same plan (SHA-256 of its assignments) both ways.

    .venv/bin/python benchmarks/sweep.py
    .venv/bin/python benchmarks/sweep.py --scenario scenarios/georgia.yaml \
        --set balance.workload=0.03,0.05 --set units.method=clusters --set units.n_units=150

Prints one row per mode; the speed-up is against the serial run of the same
session. Nothing is written (write=False).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import territory_opt as topt

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default=str(ROOT / "scenarios" / "georgia_headcount.yaml"))
    parser.add_argument("--set", dest="sets", action="append",
                        help="KEY=VALUES (default: k=10..13 and balance.workload=0.03,0.05)")
    parser.add_argument("--workers", type=int, default=None,
                        help="LocalCluster worker processes (default: one per core)")
    args = parser.parse_args()
    sets = args.sets or ["k=10..13", "balance.workload=0.03,0.05"]
    rows = []
    for mode in ("serial", "dask"):
        t0 = time.perf_counter()
        result = topt.sweep(args.scenario, sets, serial=mode == "serial",
                            workers=args.workers, write=False, progress=False)
        rows.append((mode, result.table, time.perf_counter() - t0))
    base = rows[0][2]
    digests = rows[0][1].set_index("run")["assignments_sha256"]
    print(f"{args.scenario}: {' '.join(sets)}")
    print(f"{'mode':>8} {'runs':>5} {'solved':>7} {'seconds':>8} {'speed-up':>9} "
          f"{'same plans':>11}")
    for mode, table, seconds in rows:
        same = (table.set_index("run")["assignments_sha256"] == digests).sum()
        solved = table["status"].isin(["optimal", "feasible"]).sum()
        print(f"{mode:>8} {len(table):>5} {solved:>7} {seconds:>8.1f} {base / seconds:>8.2f}x "
              f"{same:>5}/{len(table)}")
    print("\nruns stopped by the time limit (status feasible) may differ between modes, as "
          "any time-limited run does")
    print(rows[1][1][["run", "status", "objective", "gap", "seconds"]].to_string(index=False))


if __name__ == "__main__":
    main()
