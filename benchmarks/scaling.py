"""The scaling table: seconds and peak memory of the fixed-centre national run on
seeded samples of n ZIP codes (1k to 40k) for k = 20, 100 and 400 territories.

Each cell is ``benchmarks/national.py --runs fixed --n N --k K`` (the Lagrangian
path unless ``--method auto``) in its own
process (so path choice, seconds and peak RSS are that run's own).

    .venv/bin/python benchmarks/scaling.py [--n 1000 5000 ...] [--k 20 100 400]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

NATIONAL = Path(__file__).with_name("national.py")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[1000, 5000, 10000, 20000, 40457])
    parser.add_argument("--k", type=int, nargs="+", default=[20, 100, 400])
    parser.add_argument("--method", default="lagrange", choices=("auto", "mip", "lagrange"),
                        help="lagrange (default): the Lagrangian path in every cell, so that its "
                             "growth shows; auto: the exact MIP below a million pairs")
    args = parser.parse_args()
    print(f"{'n':>6} {'k':>4} {'path':>6} {'seconds':>8} {'peak MB':>8} {'gap %':>7}")
    for n in args.n:
        for k in args.k:
            done = subprocess.run([sys.executable, str(NATIONAL), "--child", "fixed",
                                   "--n", str(n), "--k", str(k),
                                   "--method", args.method], capture_output=True, text=True)
            if done.returncode != 0:
                msg = (done.stderr.strip().splitlines() or ["?"])[-1]
                print(f"{n:6d} {k:4d} failed: {msg}", flush=True)
                continue
            r = json.loads(done.stdout.strip().splitlines()[-1])
            gap = "-" if r["gap"] is None else f"{100 * r['gap']:7.3f}"
            print(f"{n:6d} {k:4d} {r['method']:>6} {r['seconds']:8.1f} {r['peak_rss_mb']:8.0f} "
                  f"{gap:>7}", flush=True)


if __name__ == "__main__":
    main()
