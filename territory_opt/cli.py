"""The ``territory-opt`` command: run, validate, init, compare, sweep, size.

Errors print a short message (no traceback unless ``-v``); the exit code says
what happened (:data:`EXIT_HELP`).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from territory_opt.errors import InfeasibleError, InputError, SolverError, TerritoryOptError

if TYPE_CHECKING:
    from territory_opt.scenario.run import RunResult

__all__ = ["main"]

EXIT_CODES = {InputError: 2, InfeasibleError: 3, SolverError: 4}
EXIT_RELAXED = 5  # a compromise plan was written
EXIT_HELP = """\
exit codes:
  0    done (validate: no problem found)
  1    an unexpected territory_opt error
  2    bad input: a file, column, row or scenario key (the message names it and the fix)
  3    infeasible: no plan meets the bands, locks and options (the message says why);
       size: no headcount tried is feasible; sweep: no run has a plan
  4    the solver failed or stopped without a plan (time limit)
  5    relaxed: no plan holds every band; the plan nearest them was written (status
       relaxed, the bands it misses in the console, report and manifest)
  130  interrupted (Ctrl-C), 143 terminated (SIGTERM): nothing was written
"""

EXAMPLES = {
    "run": """\
examples:
  territory-opt run scenarios/georgia.yaml
  territory-opt run my.yaml --out out/try2 --time-limit 60 -q
""",
    "validate": """\
examples:
  territory-opt validate my.yaml      # every problem of the file and its data, no solve

Also runs the data-quality gate (accounts far from the rest, outside the potential
layer, away from their ZIP code, duplicates, outlying workloads) and prints each
finding as a warning; `run` writes them to quality.csv and the report.
""",
    "init": """\
examples:
  territory-opt init my.yaml --accounts crm_export.csv --reps reps.csv
  territory-opt init my.yaml --accounts accounts.xlsx --potential counties.gpkg
  territory-opt init my.yaml          # a blank template to fill in

Columns are matched by name. With both coordinates and a ZIP code column, the ZIP
code places the rows without coordinates (zip:). CSV separators, decimal commas and
encodings are recognised; set sep:, decimal: or encoding: where they are not, and
sheet: for a workbook whose accounts are not on the first sheet.
""",
    "compare": """\
examples:
  territory-opt compare out/georgia out/georgia_realign --out out/compare
""",
    "edit": """\
examples:
  territory-opt edit out/georgia                  # opens the browser
  territory-opt edit out/georgia --no-browser --port 8765 --out out/georgia_v2

Click a unit (shift-click adds more, B or Box select drags a rectangle), pick a
territory and press Enter (Assign); L locks, U unlocks, R rebalances around your
edits, Ctrl+Z / Ctrl+Y undo and redo. Save writes a new run folder with every
output of a run plus edits.csv; the folder you edit is never written.
""",
    "sweep": """\
examples:
  territory-opt sweep scenarios/georgia_headcount.yaml --set k=10..14 \\
      --set balance.workload=0.03,0.05
  territory-opt sweep my.yaml --set balance.workload=0.03,0.05,0.1 --scheduler tcp://10.0.0.5:8786
  territory-opt sweep my.yaml --set units.n_units=100,200 --serial    # no Dask

KEY is a dotted scenario key (k, balance.workload, realignment.max_moved,
solver.time_limit, ...); VALUES are comma-separated, or A..B for whole numbers.
""",
    "load-demo": """\
examples:
  export TERRITORY_OPT_DB_CRM=postgresql://planner@localhost:5432/crm
  territory-opt load-demo crm            # accounts, counties, reps, deals, alignment
  territory-opt run scenarios/georgia_postgis.yaml
""",
    "size": """\
examples:
  territory-opt size scenarios/georgia.yaml --max-workload 1600
  territory-opt size my.yaml --max-workload 1200 --k 8,9,10 --csv sizes.csv
""",
}


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would be, so that it unwinds the same way."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated()


def _parser() -> argparse.ArgumentParser:
    from territory_opt import __version__

    parser = argparse.ArgumentParser(
        prog="territory-opt", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Balanced sales territories, solved exactly, from scenario files.",
        epilog="start: territory-opt init my.yaml --accounts crm.csv --reps reps.csv; "
               "then validate, run.\n'territory-opt COMMAND --help' shows examples.\n\n"
               + EXIT_HELP)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=help[0].upper() + help[1:] + ".",
                              epilog=EXAMPLES[name] + "\n" + EXIT_HELP,
                              formatter_class=argparse.RawDescriptionHelpFormatter)

    run = command("run", "run a scenario file and write its outputs")
    run.add_argument("scenario", help="scenario YAML file")
    run.add_argument("--out", help="output folder (default: the scenario's output)")
    run.add_argument("--time-limit", type=float, metavar="S",
                     help="solver time limit in seconds (default: the scenario's)")
    val = command("validate", "check a scenario and its data without solving; list "
                  "every problem")
    val.add_argument("scenario", help="scenario YAML file")
    val.add_argument("--out", help="the output folder the run would write")
    init = command("init", "write a commented scenario file for your data files")
    init.add_argument("scenario", help="scenario YAML file to write")
    init.add_argument("--accounts", metavar="FILE", help="accounts file (CSV, XLSX, GPKG, ...)")
    init.add_argument("--reps", metavar="FILE", help="reps file (home bases, FTE)")
    init.add_argument("--potential", metavar="FILE", help="market-potential areas")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    comp = command("compare", "compare finished runs side by side")
    comp.add_argument("runs", nargs="+", metavar="OUT", help="output folders of earlier runs "
                      "(the first is the baseline)")
    comp.add_argument("--out", metavar="DIR", help="write comparison.csv, owners.csv and a "
                      "change map per run against the first into DIR")
    edt = command("edit", "edit a finished run by hand in the browser: live balance "
                  "figures, locks, rebalance, save as a new run")
    edt.add_argument("run", metavar="RUN_DIR", help="output folder of a finished run")
    edt.add_argument("--out", metavar="DIR", help="where Save writes (default: a new "
                     "folder RUN_DIR-edited beside it)")
    edt.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a "
                     "free one)")
    edt.add_argument("--no-browser", action="store_true", help="only print the address")
    swp = command("sweep", "run a grid of scenario variants in parallel (Dask)")
    swp.add_argument("scenario", help="scenario YAML file")
    swp.add_argument("--set", dest="sets", action="append", required=True,
                     metavar="KEY=VALUES", help="a key and its values; repeat for a grid")
    swp.add_argument("--out", metavar="DIR", help="sweep folder (default: the scenario's "
                     "output + _sweep)")
    where = swp.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                       help="a running Dask scheduler (default: a local cluster)")
    where.add_argument("--workers", type=int, metavar="N",
                       help="worker processes of the local cluster (default: one per core)")
    where.add_argument("--serial", action="store_true", help="one run after another, no Dask")
    size = command("size", "smallest headcount under a per-rep workload maximum")
    size.add_argument("scenario", help="scenario YAML file (its accounts, units, objective)")
    size.add_argument("--max-workload", type=float, required=True, metavar="H",
                      help="the most workload one rep may carry")
    size.add_argument("--k", metavar="K1,K2,...", help="the headcounts to try (default: from "
                      "total / H up to 3 past the smallest feasible one)")
    size.add_argument("--time-limit", type=float, default=60.0, metavar="S",
                      help="solver seconds per headcount (default 60)")
    size.add_argument("--csv", metavar="FILE", help="also write the table to FILE")
    demo = command("load-demo", "load the Georgia demo data into a PostgreSQL/PostGIS "
                   "database (for scenarios/georgia_postgis.yaml)")
    demo.add_argument("database", help="the connection's name: its URL in "
                      "TERRITORY_OPT_DB_<NAME>, or a libpq service of that name")
    demo.add_argument("--schema", default="public", help="schema of the tables (default "
                      "public)")
    demo.add_argument("--replace", action="store_true", help="replace tables of the same "
                      "names")
    for each in (run, val, init, comp, swp, size, edt, demo):
        loud = each.add_mutually_exclusive_group()
        loud.add_argument("-v", "--verbose", action="store_true",
                          help="log every step, and show tracebacks")
        loud.add_argument("-q", "--quiet", action="store_true",
                          help="print errors only (no progress bars)")
    return parser


def _progress(args: argparse.Namespace) -> bool | None:
    """No bars with -q; otherwise only on a terminal (see territory_opt.progress)."""
    return False if args.quiet else None


def _size(args: argparse.Namespace) -> int:
    from territory_opt.errors import InputError
    from territory_opt.headcount import size_headcount
    from territory_opt.scenario import load_inputs, load_scenario, scenario_units

    scenario = load_scenario(args.scenario).single("headcount sizing (size)")
    loaded = load_inputs(scenario)
    units = scenario_units(scenario, loaded)
    try:
        k_values = [int(k) for k in args.k.split(",")] if args.k else None
    except ValueError:
        raise InputError(f"--k takes whole numbers separated by commas, got {args.k!r}") \
            from None
    table = size_headcount(units, max_workload=args.max_workload, k_values=k_values,
                           time_limit=args.time_limit, power=scenario.objective.power,
                           weight=scenario.objective.weight, distance=loaded.distance,
                           progress=_progress(args))
    shown = table.drop(columns=["reason"])
    print(shown.to_string(index=False, float_format=lambda v: f"{v:,.2f}"))
    best = table[table["smallest"]]
    print(f"smallest headcount: {int(best['k'].iloc[0])}" if len(best)
          else "no headcount tried is feasible")
    if args.csv:
        table.to_csv(args.csv, index=False)
    return 0 if len(best) else 3


def _edit(args: argparse.Namespace) -> int:
    from territory_opt.workbench import open_run
    from territory_opt.workbench.app import start

    session = open_run(args.run)
    bench = start(session, port=args.port, open_browser=not args.no_browser, save_to=args.out)
    print(f"workbench for {args.run}: {bench.url}\n(the address carries its token; "
          "Ctrl-C stops the workbench, saved folders stay)", flush=True)
    try:
        bench.wait()
    except KeyboardInterrupt:
        saved = [e["note"] for e in session.log if e["action"] == "save"]
        print("stopped; " + (f"saved: {', '.join(saved)}" if saved else "nothing saved"))
    return 0


def _compare(args: argparse.Namespace) -> int:
    from territory_opt import io
    from territory_opt.outputs.compare import change_map, compare_runs, format_figures

    figures, owners = compare_runs(args.runs)
    print(format_figures(figures).to_string(index=False))
    if args.out:
        files: dict = {"comparison.csv": figures, "owners.csv": owners}
        for i, run in enumerate(args.runs[1:], start=1):
            name = "change_map.html" if len(args.runs) == 2 else f"change_map_{i}.html"
            files[name] = change_map(args.runs[0], run)
        files["manifest.json"] = {"compare": [str(r) for r in args.runs]}
        print(f"written to {io.write_outputs(args.out, files)}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from territory_opt.progress import progress_enabled
    from territory_opt.scenario import run_scenario

    # progress (the stage bar) shows on a terminal only; piped output and logs get
    # the results alone
    result = run_scenario(args.scenario, out=args.out, time_limit=args.time_limit,
                          progress=progress_enabled(_progress(args)))
    if not args.quiet:
        for run in result.teams.values() or [result]:
            _print_run(run)
        print("  " + ", ".join(f"{k} {v:.1f} s" for k, v in result.seconds.items()))
        print(f"  outputs: {result.out_dir}")
    relaxed = any(run.solution.status == "relaxed" for run in result.teams.values() or [result])
    return EXIT_RELAXED if relaxed else 0


def _print_run(result: RunResult) -> None:
    """The outcome of a run (or of one team's) in a few lines."""
    from territory_opt.scenario.run import quality_messages

    sol = result.solution
    s = result.manifest["summary"]
    gap = "unknown" if sol.gap is None else f"{sol.gap:.4%}"
    bound = "unknown" if sol.bound is None else f"{sol.bound:,.2f} ({sol.bound_from})"
    print(f"{result.scenario.name}: {sol.status}, objective {sol.objective:,.2f}, "
          f"bound {bound}, gap {gap}")
    if sol.status == "relaxed":
        least = sol.options.get("violation_bound")
        least = "" if least is None else f", at least {least:.3g} for any plan"
        print(f"  no plan holds every band ({sol.options.get('relaxed_because', '')}); "
              f"the plan nearest them (total violation {sol.options['violation']:.3g}"
              f"{least}) misses:")
        for line in s.get("band_misses", []):
            print(f"    {line}")
    chosen = ", chosen by units: auto" if result.scenario.units.method == "auto" else ""
    coverage = (f"coverage ratio {s['coverage_ratio']:.1%}"
                if s["coverage_ratio"] == s["coverage_ratio"]  # no potential: NaN
                else f"account coverage {s['account_coverage']:.1%}")
    pieces = s.get("territories_in_pieces", 0)
    shape = f" ({pieces} in pieces)" if pieces else \
        (" (each in one piece)" if sol.problem.contiguity else "")
    print(f"  {s['accounts']} accounts in {s['units']} units ({s['units_method']}"
          f"{chosen}), {s['territories']} territories{shape}; {coverage} within "
          f"{s['reach_km']:g} km; worst workload deviation "
          f"{s['worst_deviation_workload']:.1%}")
    if s.get("moved_accounts") is not None:
        print(f"  {s['moved_accounts']:,} accounts change rep ({s['moved_share']:.1%} of "
              "the current alignment): see crm_assignments.csv and the map")
    if s.get("placed_by_zip"):
        print(f"  {s['placed_by_zip']:,} accounts placed by ZIP code (no coordinates)")
    if s.get("unplaced_accounts"):
        print(f"  {s['unplaced_accounts']} accounts could not be placed by ZIP code: "
              "see unplaced_accounts.csv")
    gate = result.quality[result.quality["check"] != "warning"]  # the rest: shown
    for message in quality_messages(gate):
        print(f"warning: {message}", file=sys.stderr)
    if s.get("quality_findings"):
        print(f"  {s['quality_findings']} data-quality warnings: see quality.csv and "
              "the report")


def _validate(args: argparse.Namespace) -> int:
    from territory_opt.scenario import check_scenario

    check = check_scenario(args.scenario, out=args.out)
    for warning in check.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if check.problems:
        print(f"{args.scenario}: {len(check.problems)} problem"
              f"{'s' if len(check.problems) > 1 else ''}", file=sys.stderr)
        for i, problem in enumerate(check.problems, start=1):
            print(f"  {i}. {problem}", file=sys.stderr)
        return 3 if check.infeasible else 2
    if not args.quiet:
        for team, f in (check.facts["teams"].items() if "teams" in check.facts
                        else [(None, check.facts)]):
            extra = (f"; {f['unplaced_accounts']} accounts left out (no ZIP match)"
                     if f.get("unplaced_accounts") else "")
            extra += (f"; {f['placed_by_zip']} placed by ZIP code" if f.get("placed_by_zip")
                      else "")
            who = f"{args.scenario}" + (f", team {team}" if team else "")
            print(f"{who}: OK: {f['accounts']} accounts in {f['units']} units, "
                  f"{f['territories']} territories, workload {f['workload']:,.1f}, "
                  f"CRS {f['crs']}{extra}")
            print(f"  distances: {f['distance']}")
            if f.get("regions"):
                print("  regions: " + "; ".join(f"{name} {n} reps"
                                                for name, n in f["regions"].items()))
            if f.get("segments"):
                print("  segments: " + "; ".join(
                    f"{name} {v['accounts']} accounts, {v['reps']} reps"
                    for name, v in f["segments"].items()))
            for role, v in f.get("database", {}).items():
                srid = f", geometry in EPSG:{v['srid']}" if "srid" in v else ""
                print(f"  {role}: {v['rows']:,} rows of {v['source']}{srid}")
    return 0


def _init(args: argparse.Namespace) -> int:
    from territory_opt.template import scenario_template

    target = Path(args.scenario)
    if target.exists() and not args.force:
        raise InputError(f"'{target}' exists; choose another name, or pass --force to "
                         "overwrite it")
    if target.suffix.lower() not in {".yaml", ".yml"}:
        raise InputError(f"'{target}': scenario files end in .yaml; e.g. {target.stem}.yaml")
    text = scenario_template(target, accounts=args.accounts, reps=args.reps,
                             potential=args.potential)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    if not args.quiet:
        todo = text.count("TODO")
        print(f"wrote {target}" + (f": fill in {todo} TODO" if todo else "") +
              f"; then: territory-opt validate {target}")
    return 0


def _load_demo(args: argparse.Namespace) -> int:
    from territory_opt.datasets import georgia_to_database

    tables = georgia_to_database(args.database, schema=args.schema, replace=args.replace)
    if not args.quiet:
        print(f"loaded {', '.join(tables)} into database {args.database!r}; then: "
              "territory-opt run scenarios/georgia_postgis.yaml")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from territory_opt.sweep import sweep

    result = sweep(args.scenario, args.sets, out=args.out, scheduler=args.scheduler,
                   workers=args.workers, serial=args.serial, progress=_progress(args))
    table = result.table
    if not args.quiet:
        shown = table.drop(columns=["assignments_sha256", "error"], errors="ignore")
        print(shown.to_string(index=False, float_format=lambda v: f"{v:,.4g}"))
        for row in table[table["error"].fillna("") != ""].itertuples():
            print(f"{row.run}: {row.error}", file=sys.stderr)
        if len(result.best):
            print("\nbest run per criterion:")
            print(result.best.to_string(index=False, float_format=lambda v: f"{v:,.4g}"))
        print(f"written to {result.out_dir}")
    return 0 if table["status"].isin(["optimal", "feasible"]).any() else 3


class _Formatter(logging.Formatter):
    """``warning: message`` as the other lines of the command say it; with -v, the
    logger's name too."""

    def __init__(self, *, verbose: bool) -> None:
        super().__init__()
        self.verbose = verbose

    def format(self, record: logging.LogRecord) -> str:
        where = f" {record.name}" if self.verbose else ""
        return f"{record.levelname.lower()}{where}: {record.getMessage()}"


def _warning_printer(args: argparse.Namespace) -> object:
    """Python warnings as one ``warning:`` line each (no source line; with -v, the
    file and line), none with -q."""
    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
             file: object = None, line: str | None = None) -> None:
        if args.quiet:
            return
        where = f" ({filename}:{lineno})" if args.verbose else ""
        print(f"warning: {message}{where}", file=sys.stderr)
    return show


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = _parser().parse_args(argv)
    level = logging.INFO if args.verbose else logging.ERROR if args.quiet else logging.WARNING
    handler = logging.StreamHandler()  # this call's stderr; removed when it returns
    handler.setFormatter(_Formatter(verbose=args.verbose))
    root = logging.getLogger()
    saved = root.level, root.handlers[:]
    root.handlers, root.level = [handler], level
    for chatty in ("pulp", "distributed"):  # Dask logs every worker start at INFO
        logging.getLogger(chatty).setLevel(max(level, logging.WARNING))
    shown = warnings.showwarning
    warnings.showwarning = _warning_printer(args)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        command = {"run": _run, "validate": _validate, "init": _init, "sweep": _sweep,
                   "size": _size, "compare": _compare, "edit": _edit,
                   "load-demo": _load_demo}[args.command]
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
        warnings.showwarning = shown  # main() may run inside a notebook or a test
        root.level, root.handlers = saved


if __name__ == "__main__":
    sys.exit(main())
