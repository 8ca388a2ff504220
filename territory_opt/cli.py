"""The ``territory-opt`` command.

``territory-opt run SCENARIO [--out DIR] [--time-limit S] [-v|-q]`` runs a
scenario file; ``territory-opt compare OUT_A OUT_B ... [--out DIR]`` compares
finished runs; ``territory-opt size`` finds the smallest headcount. Bad input
or infeasibility prints a short message (no traceback unless ``-v``) and exits
non-zero: 2 for bad input, 3 for an
infeasible plan, 4 for a solver failure; 130 (Ctrl-C) and 143 (SIGTERM) for
a run stopped on request, which writes nothing.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import traceback
from collections.abc import Sequence

from territory_opt.errors import InfeasibleError, InputError, SolverError, TerritoryOptError

EXIT_CODES = {InputError: 2, InfeasibleError: 3, SolverError: 4}


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would be, so that it unwinds the same way."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated()


def _parser() -> argparse.ArgumentParser:
    from territory_opt import __version__

    parser = argparse.ArgumentParser(prog="territory-opt",
                                     description="Balanced sales territories, solved exactly.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a scenario file and write its outputs")
    run.add_argument("scenario", help="scenario YAML file")
    run.add_argument("--out", help="output folder (default: the scenario's output)")
    run.add_argument("--time-limit", type=float, metavar="S",
                     help="solver time limit in seconds (default: the scenario's)")
    size = sub.add_parser("size", help="smallest headcount under a per-rep workload maximum")
    size.add_argument("scenario", help="scenario YAML file (its accounts, units, objective)")
    size.add_argument("--max-workload", type=float, required=True, metavar="H",
                      help="the most workload one rep may carry")
    size.add_argument("--k", metavar="K1,K2,...", help="the headcounts to try (default: from "
                      "total / H up to 3 past the smallest feasible one)")
    size.add_argument("--time-limit", type=float, default=60.0, metavar="S",
                      help="solver seconds per headcount (default 60)")
    size.add_argument("--csv", metavar="FILE", help="also write the table to FILE")
    comp = sub.add_parser("compare", help="compare finished runs side by side")
    comp.add_argument("runs", nargs="+", metavar="OUT", help="output folders of earlier runs "
                      "(the first is the baseline)")
    comp.add_argument("--out", metavar="DIR", help="write comparison.csv, owners.csv and a "
                      "change map per run against the first into DIR")
    for command in (run, size, comp):
        loud = command.add_mutually_exclusive_group()
        loud.add_argument("-v", "--verbose", action="store_true",
                          help="log every step, and show tracebacks")
        loud.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    return parser


def _size(args: argparse.Namespace) -> int:
    from territory_opt.errors import InputError
    from territory_opt.scenario import load_inputs, load_scenario, scenario_units
    from territory_opt.solve import size_headcount

    scenario = load_scenario(args.scenario)
    loaded = load_inputs(scenario)
    units = scenario_units(scenario, loaded)
    try:
        k_values = [int(k) for k in args.k.split(",")] if args.k else None
    except ValueError:
        raise InputError(f"--k takes whole numbers separated by commas, got {args.k!r}") \
            from None
    table = size_headcount(units, max_workload=args.max_workload, k_values=k_values,
                           time_limit=args.time_limit, power=scenario.objective.power,
                           weight=scenario.objective.weight, distance=loaded.distance)
    shown = table.drop(columns=["reason"])
    print(shown.to_string(index=False, float_format=lambda v: f"{v:,.2f}"))
    best = table[table["smallest"]]
    print(f"smallest headcount: {int(best['k'].iloc[0])}" if len(best)
          else "no headcount tried is feasible")
    if args.csv:
        table.to_csv(args.csv, index=False)
    return 0 if len(best) else 3


def _compare(args: argparse.Namespace) -> int:
    from territory_opt import io
    from territory_opt.compare import change_map, compare_runs

    figures, owners = compare_runs(args.runs)
    print(figures.to_string(index=False, float_format=lambda v: f"{v:,.4g}"))
    if args.out:
        files: dict = {"comparison.csv": figures, "owners.csv": owners}
        for i, run in enumerate(args.runs[1:], start=1):
            name = "change_map.html" if len(args.runs) == 2 else f"change_map_{i}.html"
            files[name] = change_map(args.runs[0], run)
        files["manifest.json"] = {"compare": [str(r) for r in args.runs]}
        print(f"written to {io.write_outputs(args.out, files)}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from territory_opt.scenario import run_scenario

    def stage(name: str) -> None:
        if not args.quiet:
            print(f"[{name}]", file=sys.stderr, flush=True)

    result = run_scenario(args.scenario, out=args.out, time_limit=args.time_limit,
                          on_stage=stage)
    if not args.quiet:
        sol = result.solution
        s = result.manifest["summary"]
        gap = "unknown" if sol.gap is None else f"{sol.gap:.4%}"
        bound = "unknown" if sol.bound is None else f"{sol.bound:,.2f}"
        print(f"{result.scenario.name}: {sol.status}, objective {sol.objective:,.2f}, "
              f"bound {bound}, gap {gap}")
        print(f"  {s['accounts']} accounts in {s['units']} units, {s['territories']} "
              f"territories; coverage ratio {s['coverage_ratio']:.1%} within "
              f"{s['reach_km']:g} km; worst workload deviation "
              f"{s['worst_deviation_workload']:.1%}")
        print("  " + ", ".join(f"{k} {v:.1f} s" for k, v in result.seconds.items()))
        print(f"  outputs: {result.out_dir}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = _parser().parse_args(argv)
    level = logging.INFO if args.verbose else logging.ERROR if args.quiet else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("pulp").setLevel(max(level, logging.WARNING))
    logging.captureWarnings(True)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        command = {"run": _run, "size": _size, "compare": _compare}[args.command]
        return command(args)
    except TerritoryOptError as exc:
        if args.verbose:
            traceback.print_exc()
        code = next((c for t, c in EXIT_CODES.items() if isinstance(exc, t)), 1)
        print(f"error: {exc}", file=sys.stderr)
        return code
    except KeyboardInterrupt as exc:
        name = "SIGTERM" if isinstance(exc, Terminated) else "SIGINT"
        print(f"interrupted ({name}): nothing was written; earlier outputs are as they were",
              file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
