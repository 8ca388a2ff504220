"""Capacitated p-median instances with proven optima, solved as territory problems.

OR-Library ``pmedcap1_01`` ... ``pmedcap1_20`` (Osman & Christofides 1994;
distances truncated to integers) and ``SJC1``, ``SJC2`` (Lorena & Senne 2003;
real Euclidean distances), from ``../shared/benchmarks/capacitated_pmedian/``.
Each customer is a unit with its demand as workload; the model chooses ``p``
centres among the customers; each territory's demand is at most the capacity
(an absolute band); the objective is the plain sum of distances (weight: one
per customer, power 1) over the instance's own distance matrix.

Usage: python benchmarks/capacitated_pmedian.py --instances DIR [--only NAME,...]
           [--time-limit S]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

import territory_opt as topt

OPTIMA_PMEDCAP1 = [713, 740, 751, 651, 664, 778, 787, 820, 715, 829, 1006, 966, 1026, 982,
                   1091, 954, 1034, 1043, 1031, 1005]
OPTIMA_SJC = {"SJC1": 17288.99, "SJC2": 33270.94}
CRS = "EPSG:3857"  # the instances' plane coordinates; only the distance matrix is used


def read_pmedcap(path: Path) -> dict:
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    n, p, capacity = int(rows[1][0]), int(rows[1][1]), float(rows[1][2])
    data = np.array([[float(v) for v in r[1:4]] for r in rows[2:2 + n]])
    xy, demand = data[:, :2], data[:, 2]
    dist = np.floor(np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)))
    return {"name": path.stem, "p": p, "capacity": capacity, "xy": xy, "demand": demand,
            "dist": dist, "optimum": float(rows[0][1])}


def read_sjc(path: Path) -> dict:
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    n, p = int(rows[0][0]), int(rows[0][1])
    data = np.array([[float(v) for v in r[:4]] for r in rows[1:1 + n]])
    xy, capacity, demand = data[:, :2], data[0, 2], data[:, 3]
    dist = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    return {"name": path.stem, "p": p, "capacity": capacity, "xy": xy, "demand": demand,
            "dist": dist, "optimum": OPTIMA_SJC[path.stem]}


def problem(instance: dict) -> topt.TerritoryProblem:
    """The instance as a territory problem: customers as units, demand as workload."""
    ids = [f"c{i + 1}" for i in range(len(instance["demand"]))]
    accounts = topt.read_accounts(gpd.GeoDataFrame(
        {"account_id": ids, "workload": instance["demand"]},
        geometry=gpd.points_from_xy(instance["xy"][:, 0], instance["xy"][:, 1]), crs=CRS))
    units = topt.build_units(accounts, method="accounts", crs=CRS)
    return topt.TerritoryProblem(
        units, k=instance["p"], centres="model", weight="accounts", power=1,
        balance={"workload": {"max": instance["capacity"]}},
        distance=pd.DataFrame(instance["dist"], index=ids, columns=ids))


def solve(instance: dict, time_limit: float) -> tuple[topt.Solution, float]:
    problem_ = problem(instance)
    t0 = time.perf_counter()
    solution = topt.solve(problem_, gap=1e-6, time_limit=time_limit)
    return solution, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=Path, required=True)
    parser.add_argument("--only", default="", help="comma-separated names, e.g. SJC1")
    parser.add_argument("--time-limit", type=float, default=600.0)
    args = parser.parse_args()
    paths = sorted(args.instances.glob("pmedcap1_*.txt")) + sorted(args.instances.glob("SJC*.dat"))
    if args.only:
        paths = [p for p in paths if p.stem in args.only.split(",")]
    head = (f"{'instance':<14}{'n':>5}{'p':>4}{'ours':>12}{'optimum':>12}{'rel.diff':>10}"
            f"{'status':>10}{'gap':>10}{'seconds':>9}  verdict")
    print(head)
    print("-" * len(head))
    misses = 0
    for path in paths:
        inst = read_sjc(path) if path.suffix == ".dat" else read_pmedcap(path)
        try:
            sol, seconds = solve(inst, args.time_limit)
        except topt.TerritoryOptError as exc:
            print(f"{inst['name']:<14} failed: {exc}")
            misses += 1
            continue
        rel = abs(sol.objective - inst["optimum"]) / inst["optimum"]
        ok = rel <= 1e-4 if path.suffix == ".dat" else round(sol.objective) == inst["optimum"]
        ok = ok and sol.status == "optimal"
        misses += not ok
        gap = "-" if sol.gap is None else f"{sol.gap:.1e}"
        print(f"{inst['name']:<14}{len(inst['demand']):>5}{inst['p']:>4}{sol.objective:>12.2f}"
              f"{inst['optimum']:>12.2f}{rel:>10.1e}{sol.status:>10}{gap:>10}{seconds:>9.2f}"
              f"  {'ok' if ok else 'LIMIT' if sol.status != 'optimal' else 'WRONG'}",
              flush=True)
    print(f"\n{misses} instance(s) off the published optimum")


if __name__ == "__main__":
    main()
