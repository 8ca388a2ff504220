"""Georgia demo end to end: seconds per stage and the proven gap.

Runs ``scenarios/georgia.yaml`` (949 accounts, 12 reps) through
``run_scenario`` as ``make demo`` does, once with the default solve strategy
(LP bound, neighbourhood incumbent, reduced-cost fixing) and once handing the
full model to HiGHS, as the baseline measured in the same run. Target: end to
end under 30 s on a 2-core machine, at a proven gap of 0.1 % or less.

Usage: python benchmarks/georgia.py [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import territory_opt as topt

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("load", "units", "build", "solve", "outputs")


def run_once(reduce: bool, out: Path) -> dict[str, float]:
    scenario = topt.load_scenario(ROOT / "scenarios" / "georgia.yaml")
    scenario = scenario.model_copy(update={"solver": scenario.solver.model_copy(
        update={"reduce": reduce})})
    t0 = time.perf_counter()
    result = topt.run_scenario(scenario, out=out)
    total = time.perf_counter() - t0
    sol = result.solution
    return {**{s: result.seconds[s] for s in STAGES}, "total": total,
            "objective": sol.objective, "gap": sol.gap or 0.0,
            "fixed": float(sol.options.get("fixed_variables", 0)),
            "optimal": float(sol.status == "optimal")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs per strategy (median)")
    args = parser.parse_args()
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, reduce in (("reduced (default)", True), ("full model", False)):
            runs = [run_once(reduce, Path(tmp) / f"{reduce}-{i}") for i in range(args.repeat)]
            rows[name] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    head = f"{'strategy':<18}" + "".join(f"{s:>9}" for s in (*STAGES, "total")) + \
        f"{'objective':>13}{'gap':>9}{'fixed':>7}"
    print("Georgia scenario, seconds per stage (median of", args.repeat, "run(s))")
    print(head)
    print("-" * len(head))
    for name, r in rows.items():
        print(f"{name:<18}" + "".join(f"{r[s]:>9.2f}" for s in (*STAGES, "total"))
              + f"{r['objective']:>13,.1f}{r['gap']:>9.4%}{int(r['fixed']):>7}")
    base, ours = rows["full model"], rows["reduced (default)"]
    print(f"\nsolve stage: reduced / full = {ours['solve'] / base['solve']:.2f}; "
          f"end to end {ours['total']:.1f} s (target < 30 s), gap {ours['gap']:.4%} "
          "(target <= 0.1 %)")


if __name__ == "__main__":
    main()
