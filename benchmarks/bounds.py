"""How strong is each lower bound? Compact LP, Lagrangian, optimum, per instance.

For the published districting states that have a plan (``--instances``:
``../shared/benchmarks/districting_counties``) and the capacitated p-median
instances (``--pmedian``: ``../shared/benchmarks/capacitated_pmedian``): the LP
relaxation of the compact (Hess) model, the Lagrangian bound of the assignment
rows with integer knapsacks (:mod:`territory_opt.solvers.centres`, as the MIP
computes it before branching), and the published optimum; each bound's gap to
the optimum and its seconds.

Usage: python benchmarks/bounds.py --instances DIR [--pmedian DIR] [--only AL,IA]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pulp

sys.path.insert(0, str(Path(__file__).parent))
from capacitated_pmedian import OPTIMA_PMEDCAP1, read_pmedcap
from capacitated_pmedian import problem as pmedian_problem
from districting import write_instance

import territory_opt as topt
from territory_opt.scenario.run import build_problem, load_inputs
from territory_opt.scenario.schema import load_scenario
from territory_opt.solvers.lagrange import model_centres_dual
from territory_opt.solvers.mip import build_model, make_solver
from territory_opt.solvers.options import SolveOptions


def lp_bound(problem: topt.TerritoryProblem) -> tuple[float, float]:
    t0 = time.perf_counter()
    lp, _ = build_model(problem)
    lp.solve(make_solver("HiGHS", time_limit=600, gap=1e-4, threads=None, random_state=0,
                         msg=False, mip=False))
    return float(pulp.value(lp.objective)), time.perf_counter() - t0


def lagrangian(problem: topt.TerritoryProblem) -> tuple[float, float]:
    t0 = time.perf_counter()
    dual = model_centres_dual(problem, SolveOptions(time_limit=None), 1.0)
    return dual.bound, time.perf_counter() - t0


def row(name: str, problem: topt.TerritoryProblem, optimum: float, scale: float) -> str:
    lp, lp_s = lp_bound(problem)
    lag, lag_s = lagrangian(problem)
    lp, lag = lp / scale, lag / scale
    return (f"{name:14}{problem.n_units:>5}{problem.n_territories:>4}{optimum:>13.2f}"
            f"{lp:>13.2f}{(optimum - lp) / optimum:>8.2%}{lp_s:>7.1f}"
            f"{lag:>13.2f}{(optimum - lag) / optimum:>8.2%}{lag_s:>7.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=Path, required=True)
    parser.add_argument("--pmedian", type=Path)
    parser.add_argument("--only", default="", help="comma-separated states or instance names")
    args = parser.parse_args()
    only = set(filter(None, args.only.split(",")))
    print(f"{'instance':14}{'n':>5}{'k':>4}{'optimum':>13}{'LP bound':>13}{'gap':>8}{'s':>7}"
          f"{'Lagrangian':>13}{'gap':>8}{'s':>7}")
    expected = pd.read_csv(args.instances / "expected.csv").set_index("state")
    for state, exp in expected.iterrows():
        if exp["hess_objective"] == "infeasible" or exp["k"] == 1 or (only and state not in only):
            continue
        data = json.loads((args.instances / f"{state}_county.json").read_text())
        with tempfile.TemporaryDirectory() as tmp:
            scenario = load_scenario(write_instance(data, Path(tmp), "plain", 600.0))
            problem = build_problem(scenario, load_inputs(scenario))
        print(row(str(state), problem, float(exp["hess_objective"]), 1e6), flush=True)
    if args.pmedian:
        for i, optimum in enumerate(OPTIMA_PMEDCAP1, start=1):
            name = f"pmedcap1_{i:02d}"
            if only and name not in only:
                continue
            problem = pmedian_problem(read_pmedcap(args.pmedian / f"{name}.txt"))
            print(row(name, problem, float(optimum), 1.0), flush=True)


if __name__ == "__main__":
    main()
