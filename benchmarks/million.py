"""A million accounts, end to end: CSV -> units -> territories -> assignments.csv.

Accounts (seeded synthetic): each lies at a ZIP point of the lower 48 drawn in
proportion to the ZIP's synthetic workload (``us_zip_units``), jittered by a
normal of 3 km, with a lognormal workload (median 1, sigma 0.5). They are
written to a CSV first (not timed); the timed run reads it with
``read_accounts``, clusters the accounts into 10,000 units (workload totals
kept exactly: checked), solves 200 territories with seeded home bases and a
+-5 % workload band (the large path), and writes every account's territory.
Prints seconds per stage and the peak resident memory. Targets: 180 s, 8 GiB.

    .venv/bin/python benchmarks/million.py [--accounts N] [--units N] [--out DIR]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def make_accounts(n: int, seed: int = 0) -> pd.DataFrame:
    from territory_opt.datasets import us_zip_units

    zips = us_zip_units(seed=seed, crs="EPSG:4326")
    rng = np.random.default_rng(seed)
    w = zips["workload"].to_numpy()
    at = rng.choice(len(zips), size=n, p=w / w.sum())
    lat = zips["y"].to_numpy()[at] + rng.normal(0, 3 / 111.0, n)
    lon = zips["x"].to_numpy()[at] + rng.normal(0, 3 / 111.0, n) / np.cos(np.radians(lat))
    return pd.DataFrame({"account_id": [f"A{i:07d}" for i in range(n)],
                         "lat": lat.round(5), "lon": lon.round(5),
                         "workload": rng.lognormal(0.0, 0.5, n).round(3)})


def main() -> None:
    import territory_opt as topt
    from territory_opt.datasets import seeded_home_bases

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--k", type=int, default=200)
    parser.add_argument("--out", help="folder for assignments.csv (default: a temp folder)")
    args = parser.parse_args()
    work = Path(args.out or tempfile.mkdtemp(prefix="million_"))
    work.mkdir(parents=True, exist_ok=True)
    source = work / "accounts.csv"
    make_accounts(args.accounts).to_csv(source, index=False)
    stages: dict[str, float] = {}
    t0 = time.perf_counter()
    accounts = topt.read_accounts(source)
    stages["read"] = time.perf_counter() - t0
    t = time.perf_counter()
    units = topt.build_units(accounts, method="clusters", n_units=args.units,
                             crs="EPSG:5070")
    stages["units"] = time.perf_counter() - t
    total_in, total_units = accounts["workload"].sum(), units["workload"].sum()
    assert abs(total_in - total_units) <= 1e-9 * total_in, (total_in, total_units)
    assert units["accounts"].sum() == len(accounts)
    t = time.perf_counter()
    reps = seeded_home_bases(units, args.k, seed=0)
    problem = topt.TerritoryProblem(units, reps=reps, balance={"workload": 0.05})
    sol = topt.solve(problem, threads=2)
    stages["solve"] = time.perf_counter() - t
    t = time.perf_counter()
    sol.assignments().to_csv(work / "assignments.csv", index=False)
    stages["write"] = time.perf_counter() - t
    total = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    dev = float(abs(sol.sums("workload") / problem.targets("workload") - 1).max())
    print(f"{'accounts':>9} {'units':>6} {'k':>4} " + " ".join(f"{s:>7}" for s in stages)
          + f" {'total s':>8} {'peak MB':>8} {'gap %':>7} {'worst dev':>9}")
    print(f"{len(accounts):9d} {len(units):6d} {args.k:4d} "
          + " ".join(f"{v:7.1f}" for v in stages.values())
          + f" {total:8.1f} {rss:8.0f} {100 * (sol.gap or 0):7.3f} {100 * dev:8.2f}%")
    print(f"workload: accounts {total_in:,.3f}, units {total_units:,.3f} (kept exactly); "
          f"status {sol.status}, objective {sol.objective:,.0f}, bound {sol.bound:,.0f}")


if __name__ == "__main__":
    main()
