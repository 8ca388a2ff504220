"""Scenario sweeps: one scenario, a grid of overrides, run in parallel on Dask.

``territory-opt sweep SCENARIO --set k=10..14 --set balance.workload=0.03,0.05``
runs every combination as its own scenario run. Each run is exactly what
``territory-opt run`` would do with those keys changed in the file, so its
outputs are identical to a run on its own; Dask only decides where it runs (a
LocalCluster of worker processes by default, or an existing cluster by its
scheduler address). Workers must see the scenario's files and the output folder
at the same paths (one machine, or a shared file system).

The sweep folder is written all or nothing: every run's outputs go to a staging
folder beside it, and only when all runs are over does one rename put the runs,
``sweep.csv`` (one row per run) and ``best.csv`` (the best run per criterion)
in place.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from territory_opt import io
from territory_opt.errors import InfeasibleError, InputError, SolverError, TerritoryOptError
from territory_opt.parallel import dask_client
from territory_opt.progress import bar

__all__ = ["SweepResult", "best_runs", "grid", "parse_set", "run_name", "run_one", "sweep",
           "with_overrides"]

logger = logging.getLogger(__name__)

# criterion column -> True if larger is better
CRITERIA = {"objective": False, "gap": False, "worst_deviation_workload": False,
            "workload_cv": False, "coverage_ratio": True, "total_travel_km": False,
            "moved_share": False}
RESULT_COLUMNS = ["status", "objective", "bound", "gap", "worst_deviation_workload",
                  "workload_cv", "coverage_ratio", "total_travel_km", "moved_share", "seconds",
                  "assignments_sha256", "error"]


def parse_set(text: str) -> tuple[str, list[Any]]:
    """``"k=10..14"`` -> ``("k", [10, 11, 12, 13, 14])``; ``"a.b=0.03,0.05"`` ->
    ``("a.b", [0.03, 0.05])``. Values are read as YAML scalars (numbers, true,
    text); ``A..B`` is an inclusive range of whole numbers."""
    key, sep, values = text.partition("=")
    key = key.strip()
    if not sep or not key or not values.strip():
        raise InputError(f"--set {text!r}: write KEY=VALUES, e.g. k=10..14 or "
                         "balance.workload=0.03,0.05")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*", key):
        raise InputError(f"--set {text!r}: {key!r} is not a scenario key; use dotted keys "
                         "such as k, balance.workload or solver.time_limit")
    span = re.fullmatch(r"\s*(-?\d+)\s*\.\.\s*(-?\d+)\s*", values)
    if span:
        lo, hi = int(span.group(1)), int(span.group(2))
        if hi < lo:
            raise InputError(f"--set {text!r}: the range {lo}..{hi} is empty; write "
                             "the smaller number first")
        return key, list(range(lo, hi + 1))
    parsed = []
    for part in values.split(","):
        if not part.strip():
            raise InputError(f"--set {text!r}: an empty value between commas")
        try:
            parsed.append(yaml.safe_load(part.strip()))
        except yaml.YAMLError:
            parsed.append(part.strip())
    return key, parsed


def grid(sets: Sequence[tuple[str, list[Any]]]) -> list[dict[str, Any]]:
    """Every combination of the values, in the order given (the last key varies
    fastest)."""
    keys = [k for k, _ in sets]
    if len(set(keys)) < len(keys):
        raise InputError(f"--set names a key twice ({', '.join(keys)}); give each key once, "
                         "with all its values separated by commas")
    return [dict(zip(keys, combo, strict=True))
            for combo in itertools.product(*(values for _, values in sets))]


def with_overrides(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """A copy of scenario ``data`` with dotted keys set (``balance.workload``)."""
    import copy

    out = copy.deepcopy(data)
    for dotted, value in overrides.items():
        node = out
        parts = dotted.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if child is None or child is True:
                child = {}
            if not isinstance(child, dict):
                raise InputError(f"--set {dotted}: {part!r} holds {child!r} in the scenario, "
                                 "not a mapping of keys")
            node[part] = child
            node = child
        node[parts[-1]] = value
    return out


def run_name(overrides: dict[str, Any]) -> str:
    """A folder name for one run: ``k=10__balance.workload=0.03``."""
    text = "__".join(f"{k}={v}" for k, v in overrides.items())
    return re.sub(r"[^A-Za-z0-9._=+-]", "-", text) or "base"


def run_one(data: dict[str, Any], base_dir: str, name: str, out: str | None) -> dict[str, Any]:
    """One run of the sweep (on a worker): its headline figures, or its error."""
    from territory_opt.scenario import run_scenario, scenario_from_dict

    row: dict[str, Any] = {"run": name}
    try:
        scenario = scenario_from_dict(data, base_dir=base_dir, source=f"run {name}")
        result = run_scenario(scenario, out=out, write=out is not None, progress=False)
    except TerritoryOptError as exc:  # the run's outcome, recorded in the table
        status = ("infeasible" if isinstance(exc, InfeasibleError) else
                  "no plan" if isinstance(exc, SolverError) else "error")
        return row | {"status": status, "error": str(exc)}
    s = result.manifest["summary"]
    sol = result.solution
    assignments = sol.assignments()
    row |= {k: s.get(k) for k in ("status", "objective", "bound", "gap",
                                  "worst_deviation_workload", "workload_cv",
                                  "coverage_ratio", "total_travel_km")}
    if "moved" in assignments:
        row["moved_share"] = float(assignments["moved"].mean())
    row["seconds"] = round(sum(result.seconds.values()), 2)
    row["assignments_sha256"] = hashlib.sha256(
        assignments.to_csv(index=False).encode()).hexdigest()
    row["error"] = ""
    return row


@dataclass
class SweepResult:
    """What :func:`sweep` produced."""

    table: pd.DataFrame
    best: pd.DataFrame
    out_dir: Path | None


def best_runs(table: pd.DataFrame, keys: Sequence[str] = ()) -> pd.DataFrame:
    """The best run per criterion among the runs with a plan, with its ``keys``
    (the swept scenario keys)."""
    solved = table[table["status"].isin(["optimal", "feasible"])]
    rows = []
    for column, larger in CRITERIA.items():
        values = pd.to_numeric(solved.get(column), errors="coerce") \
            if column in solved else None
        if values is None or values.isna().all():
            continue
        pos = values.idxmax() if larger else values.idxmin()
        rows.append({"criterion": column, "best": "largest" if larger else "smallest",
                     "run": solved.loc[pos, "run"], "value": values[pos],
                     **{k: solved.loc[pos, k] for k in keys}})
    return pd.DataFrame(rows, columns=["criterion", "best", "run", "value", *keys])


def sweep(
    scenario: str | Path,
    sets: Iterable[str] | Sequence[tuple[str, list[Any]]],
    *,
    out: str | Path | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    serial: bool = False,
    write: bool = True,
    progress: bool | None = None,
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> SweepResult:
    """Run a scenario for every combination of overrides, in parallel on Dask.

    Parameters
    ----------
    scenario
        Scenario YAML file.
    sets
        ``"KEY=VALUES"`` texts (see :func:`parse_set`) or ``(key, values)`` pairs.
    out
        Sweep folder (default ``<scenario output>_sweep``): one sub-folder per
        run, ``sweep.csv``, ``best.csv`` and ``manifest.json``.
    scheduler
        Address of a running Dask scheduler (``tcp://HOST:PORT``); default a
        LocalCluster of worker processes on this machine.
    workers
        Worker processes of the LocalCluster (default: one per core), one
        thread each: each run already uses the solver's threads.
    serial
        Run one after another in this process, without Dask.
    write
        Write the sweep folder (False: only the table).
    progress
        Progress bar over the runs (None: in a terminal or notebook only).
    on_result
        Called with each run's row as it finishes.

    Returns
    -------
    SweepResult
        ``table`` (one row per run: the overrides, status, objective, bound,
        gap, balance and coverage figures, the SHA-256 of its assignments, the
        error of a failed run) and ``best``.
    """
    from territory_opt.scenario import load_scenario, scenario_from_dict

    path = Path(scenario)
    base = load_scenario(path).single("a sweep")  # valid before anything starts
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    pairs = [parse_set(s) if isinstance(s, str) else (s[0], list(s[1])) for s in sets]
    if not pairs:
        raise InputError("a sweep needs at least one --set KEY=VALUES")
    combos = grid(pairs)
    names = [run_name(c) for c in combos]
    if len(set(names)) < len(names):  # values that differ only in characters cut from names
        names = [f"{i + 1:03d}_{n}" for i, n in enumerate(names)]
    base_dir = str(path.parent.absolute())
    variants = [with_overrides(data, c) for c in combos]
    for name, variant in zip(names, variants, strict=True):  # all checked before any run
        scenario_from_dict(variant | {"name": f"{base.name} {name}"}, base_dir=base_dir,
                           source=f"run {name}")
    out_dir = Path(out) if out is not None else \
        base.output_dir().with_name(base.output_dir().name + "_sweep")
    stage = None
    if write:
        if not io.is_replaceable(out_dir.absolute()):  # refused now, not after the runs
            raise InputError(f"sweep folder '{out_dir}' holds files that are not a "
                             "territory_opt output (no manifest.json); choose an empty or "
                             "new folder with --out")
        out_dir.absolute().parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.runs-",
                                      dir=out_dir.absolute().parent))
    tasks = [({**v, "name": f"{base.name} {n}"}, base_dir, n,
              str(stage / n) if stage else None) for n, v in zip(names, variants, strict=True)]
    try:
        rows = _execute(tasks, scheduler=scheduler, workers=workers, serial=serial,
                        progress=progress, on_result=on_result)
        order = {n: i for i, n in enumerate(names)}
        rows.sort(key=lambda r: order[r["run"]])
        params = pd.DataFrame(combos)
        results = pd.DataFrame(rows).reindex(columns=["run", *RESULT_COLUMNS])
        table = pd.concat([results[["run"]], params, results.drop(columns="run")], axis=1)
        table = table.drop(columns=[c for c in RESULT_COLUMNS if c not in ("status", "error")
                                    and table[c].isna().all()])
        best = best_runs(table, [k for k, _ in pairs])
        written = None
        if write:
            assert stage is not None
            files: dict[str, Any] = {"sweep.csv": table, "best.csv": best,
                                     "manifest.json": {"sweep": str(path.absolute()),
                                                       "sets": [[k, v] for k, v in pairs],
                                                       "runs": names}}
            files |= {n: stage / n for n in names if (stage / n).is_dir()}
            written = io.write_outputs(out_dir, files)
        return SweepResult(table=table, best=best, out_dir=written)
    finally:
        if stage is not None:
            shutil.rmtree(stage, ignore_errors=True)


def _execute(tasks: list[tuple[Any, ...]], *, scheduler: str | None, workers: int | None,
             serial: bool, progress: bool | None,
             on_result: Callable[[dict[str, Any]], None] | None) -> list[dict[str, Any]]:
    """Run the tasks (serially, or on Dask) and return their rows as they finish."""
    rows: list[dict[str, Any]] = []
    shown = bar(total=len(tasks), desc="sweep", unit="run", progress=progress)

    def done(row: dict[str, Any]) -> None:
        rows.append(row)
        shown.update(1)
        shown.set_postfix_str(f"{row['run']} {row['status']}")
        if on_result is not None:
            on_result(row)

    try:
        if serial:
            for task in tasks:
                done(run_one(*task))
            return rows
        with dask_client(scheduler, workers) as client:
            from distributed import as_completed

            futures = [client.submit(run_one, *task, key=f"territory-opt-{task[2]}",
                                     pure=False) for task in tasks]
            try:
                for future in as_completed(futures):
                    done(future.result())
            except BaseException:
                client.cancel(futures)
                raise
        return rows
    finally:
        shown.close()
