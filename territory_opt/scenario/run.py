""":func:`run_scenario` and :func:`check_scenario`, shared by the CLI and notebooks.

A scenario run loads the inputs, builds the units, solves, and writes every
output of the run into its output folder at once (all or nothing).
"""

from __future__ import annotations

import json
import logging
import platform
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from territory_opt import io
from territory_opt.checks import conflicts
from territory_opt.errors import InfeasibleError, InputError, TerritoryOptWarning
from territory_opt.geo import describe_crs
from territory_opt.graph import adjacency, graph_from_edges
from territory_opt.outputs.files import build_output_files
from territory_opt.outputs.quotas import QuotaRule
from territory_opt.outputs.tables import scenario_summary
from territory_opt.problem import TerritoryProblem
from territory_opt.progress import bar
from territory_opt.quality import check_accounts
from territory_opt.rules import split_metric
from territory_opt.scenario.schema import (
    ContiguitySpec,
    DistanceSpec,
    LocksSpec,
    PointsSpec,
    RegionLocksSpec,
    Scenario,
    SourceSpec,
    load_scenario,
)
from territory_opt.solution import Solution
from territory_opt.solvers import solve
from territory_opt.units import build_units, unit_method

__all__ = ["INFEASIBLE", "LoadedInputs", "RunResult", "ScenarioCheck", "build_problem",
           "check_scenario", "input_readers", "input_records", "inputs_from", "load_inputs",
           "quality_messages", "run_scenario", "scenario_units", "sink_tables"]

logger = logging.getLogger(__name__)

PACKAGES = ("territory-opt", "geopandas", "shapely", "pyproj", "pandas", "numpy", "pulp",
            "highspy", "scikit-learn", "networkx", "folium", "pydantic")


@dataclass
class RunResult:
    """What :func:`run_scenario` produced."""

    scenario: Scenario
    solution: Solution
    out_dir: Path | None
    manifest: dict[str, Any]
    seconds: dict[str, float] = field(default_factory=dict)
    quality: pd.DataFrame | None = None  # findings of the data-quality gate
    teams: dict[str, RunResult] = field(default_factory=dict)  # a run per team, by name


def _points_kwargs(spec: PointsSpec) -> dict[str, Any]:
    return {k: getattr(spec, k) for k in ("lat", "lon", "x", "y", "crs", "layer", "sheet",
                                          "encoding", "sep", "decimal")}


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


@dataclass
class LoadedInputs:
    """Everything a scenario reads from files, before units are built."""

    accounts: Any
    potential: Any
    reps: Any
    distance: Any
    edges: list[tuple[str, str]] | None
    locks: dict[str, str]
    current: dict[str, str]
    inputs: list[tuple[str, Input]]
    region_locks: dict[str, str] = field(default_factory=dict)
    deals: Any = None
    unplaced: list[dict[str, Any]] | None = None  # accounts left out by ZIP geocoding
    placed_by_zip: int = 0  # accounts placed at their ZIP code (no coordinates)
    quality: pd.DataFrame | None = None  # findings of the data-quality gate


Input = Path | io.DatabaseSource  # where an input of a scenario is read from


def input_readers(scenario: Scenario) -> list[tuple[str, Input, Callable[[], Any]]]:
    """``(role, source, read)`` for every input a scenario names, in reading order:
    ``source`` a file's path or a query on a named database."""
    acc = scenario.accounts
    readers: list[tuple[str, Input, Callable[[], Any]]] = []
    engines: dict[str, Any] = {}  # one engine per named connection

    def add(role: str, spec: SourceSpec, read: Callable[[Any], Any]) -> None:
        if spec.path is not None:
            file = scenario.resolve(spec.path)
            readers.append((role, file, lambda: read(file)))
            return
        name = str(spec.database)
        try:
            if name not in engines:
                engines[name] = io.connect(name)
            source = io.DatabaseSource(engines[name], sql=spec.sql, table=spec.table,
                                       database=name, key=role)
        except InputError as exc:  # raised when read, beside the other inputs' problems
            readers.append((role, None, lambda exc=exc: _raise(exc)))
            return
        readers.append((role, source, lambda: read(source)))

    add("accounts", acc, lambda f: io.read_accounts(
        f, id=acc.id, workload=acc.workload, zip=acc.zip, unplaced=acc.unplaced, name=acc.name,
        segment=acc.segment, missing=acc.missing, **_points_kwargs(acc)))
    if (pot := scenario.potential) is not None:
        add("potential", pot, lambda f: io.read_potential(
            f, value=pot.value, id=pot.id, name=pot.name, missing=pot.missing,
            **_points_kwargs(pot)))
    if (reps := scenario.reps) is not None:
        add("reps", reps, lambda f: _filtered(io.read_reps(
            f, id=reps.id, name=reps.name, fte=reps.fte, territory=reps.territory,
            zip=reps.zip, segments=reps.segments, region=reps.region,
            **_points_kwargs(reps)), reps.where, "reps: where:"))
    if isinstance(dist := scenario.objective.distance, DistanceSpec):
        add("distance", dist, lambda f: io.read_distance_matrix(
            f, origin=dist.origin, destination=dist.destination, cost=dist.cost,
            sheet=dist.sheet))
    contiguity = scenario.contiguity
    if isinstance(contiguity, ContiguitySpec) and (edges := contiguity.edges) is not None:
        add("edges", edges, lambda f: io.read_edges(f, a=edges.a, b=edges.b))
    if isinstance(locks := scenario.locks, LocksSpec):
        add("locks", locks, lambda f: io.read_locks(f, id=locks.id, rep=locks.rep))
    if scenario.regions is not None and isinstance(rl := scenario.regions.locks,
                                                   RegionLocksSpec):
        add("region_locks", rl, lambda f: io.read_locks(f, id=rl.id, rep=rl.region,
                                                             noun="region"))
    if (align := scenario.alignment) is not None:
        add("alignment", align, lambda f: io.read_alignment(f, id=align.id,
                                                                 rep=align.rep))
    if (deals := scenario.deals) is not None:
        add("deals", deals, lambda f: io.read_deals(
            f, account=deals.account, amount=deals.amount, stage=deals.stage,
            created=deals.created, closed=deals.closed, won=deals.won, sheet=deals.sheet))
    return readers


def _raise(exc: Exception) -> Any:
    raise exc


def _filtered(table: Any, where: str | None, what: str) -> Any:
    """The rows of ``table`` that the filter ``where`` keeps (all when None)."""
    if where is None:
        return table
    keep = io.where_mask(table, where, what=what)
    if not keep.any():
        raise InputError(f"{what} {where!r} keeps none of the {len(table)} rows; check the "
                         "column and the value")
    return table[keep].reset_index(drop=True)


def load_inputs(scenario: Scenario) -> LoadedInputs:
    """Read every input file a scenario names (the ``load`` stage)."""
    readers = input_readers(scenario)
    return inputs_from(scenario, readers, {role: read() for role, _, read in readers})


def inputs_from(scenario: Scenario, readers: list[tuple[str, Input | None, Any]],
                read: dict[str, Any]) -> LoadedInputs:
    """:class:`LoadedInputs` from what ``readers`` (:func:`input_readers`) read, by role."""
    accounts = read["accounts"]
    unplaced = accounts.attrs.pop("unplaced", None)
    placed_by_zip = int(accounts.attrs.pop("placed_by_zip", 0))
    accounts = account_rules(scenario, accounts)
    locks = read.get("locks") or (dict(scenario.locks) if isinstance(scenario.locks, dict)
                                  else {})
    distance = read.get("distance", scenario.objective.distance)
    inputs = [(role, src) for role, src, _ in readers if src is not None]
    current = read.get("alignment") or {}
    if scenario.team_name is not None and read.get("reps") is not None:
        # one team: the locks and today's owners among its reps (and accounts)
        team = set(read["reps"]["rep_id"].astype(str)) | set(read["reps"]["territory"])
        locks = {a: r for a, r in locks.items() if str(r) in team}
        everyone = set(read["accounts"]["account_id"].astype(str))
        covered = set(accounts["account_id"].astype(str))
        for a, r in locks.items():
            if str(a) in everyone and str(a) not in covered:
                raise InputError(f"lock of {a!r} to rep {r!r}: team {scenario.team_name!r} "
                                 f"does not cover that account (accounts where "
                                 f"{scenario.teams_filter}); lock it to a rep of a team "
                                 "that covers it")
        current = {a: r for a, r in current.items() if str(r) in team}
    regions = scenario.regions
    region_locks = read.get("region_locks") or (
        dict(regions.locks) if regions is not None and isinstance(regions.locks, dict)
        else {})
    return LoadedInputs(accounts=accounts, potential=read.get("potential"),
                        reps=read.get("reps"), distance=distance, edges=read.get("edges"),
                        locks=locks, current=current, inputs=inputs,
                        region_locks=region_locks,
                        deals=read.get("deals"), unplaced=unplaced,
                        placed_by_zip=placed_by_zip,
                        quality=_quality(scenario, accounts, read.get("potential"),
                                         read.get("reps")))


def account_rules(scenario: Scenario, accounts: Any) -> Any:
    """The accounts the scenario's ``accounts.where`` keeps, with a column per
    ``capacity`` rule (1, or the summed column, where its filter holds)."""
    where = scenario.accounts.where
    for rule in [where] if isinstance(where, str) else where or []:
        accounts = _filtered(accounts, rule, "accounts: where:")
    for name, rule in scenario.capacity.items():
        if name in scenario.balance:
            raise InputError(f"capacity {name!r} is also a balance key; give the capacity "
                             "rule another name")
        if rule.min is None and rule.max is None:
            raise InputError(f"capacity {name!r}: give min, max or both (per territory)")
        accounts = io.capacity_column(accounts, name, rule.where, rule.sum)
    return accounts


def scenario_bands(scenario: Scenario) -> dict[str, Any]:
    """The balance bands and the capacity rules' absolute bands, by metric."""
    return dict(scenario.balance) | {
        name: {k: v for k, v in (("min", rule.min), ("max", rule.max)) if v is not None}
        for name, rule in scenario.capacity.items()}


def _quality(scenario: Scenario, accounts: Any, potential: Any, reps: Any) -> pd.DataFrame:
    """The data-quality gate on the scenario's accounts (:mod:`territory_opt.quality`)."""
    acc = scenario.accounts
    return check_accounts(accounts, potential=potential, zip=acc.zip, state=acc.state,
                          name="name" if acc.name else None, address=acc.address,
                          reps=reps)


def quality_messages(table: pd.DataFrame) -> list[str]:
    """One line per finding of the gate (its accounts named in the message)."""
    return list(dict.fromkeys(table["message"])) if table is not None else []


def scenario_units(scenario: Scenario, loaded: LoadedInputs) -> Any:
    """The scenario's planning units."""
    regions = scenario.regions.balance if scenario.regions is not None else {}
    columns = {split_metric(m)[0] if m not in loaded.accounts.columns else m
               for m in [*scenario_bands(scenario), *regions]}
    sums = sorted({*scenario.accounts.sums,
                   *(c for c in columns if c in loaded.accounts.columns
                     and c not in ("workload", "potential", "accounts"))})
    return build_units(loaded.accounts, potential=loaded.potential,
                       method=scenario.units.method, n_units=scenario.units.n_units,
                       sums=sums, crs=scenario.crs, random_state=scenario.units.random_state,
                       segment="segment" if scenario.accounts.segment else None)


def build_problem(scenario: Scenario, loaded: LoadedInputs) -> TerritoryProblem:
    """Units and the territory problem of a scenario (the ``units`` stage)."""
    units = scenario_units(scenario, loaded)
    contiguity = scenario.contiguity
    graph = None
    spec = ContiguitySpec()
    if contiguity:
        spec = contiguity if isinstance(contiguity, ContiguitySpec) else ContiguitySpec()
        graph = (graph_from_edges(units["unit_id"].astype(str), loaded.edges)
                 if loaded.edges is not None
                 else adjacency(units, kind=spec.adjacency, k=spec.k))
    real = scenario.realignment
    regions = scenario.regions
    if regions is not None and (loaded.reps is None or "region" not in loaded.reps):
        raise InputError("regions: needs each rep's region: name the column with reps: "
                         "region: (e.g. region: region)")
    return TerritoryProblem(
        units, reps=loaded.reps, k=scenario.k, centres=scenario.centres,
        balance=scenario_bands(scenario), weight=scenario.objective.weight,
        power=scenario.objective.power, distance=loaded.distance, locks=loaded.locks,
        contiguity=bool(contiguity), graph=graph, contiguity_method=spec.method,
        current=loaded.current, move_penalty=real.penalty, move_measure=real.measure,
        max_moved=real.max_moved, move_level=real.level,
        region_balance={} if regions is None else regions.balance,
        region_contiguity=False if regions is None else bool(contiguity)
        if regions.contiguity is None else regions.contiguity,
        region_locks=loaded.region_locks)


INFEASIBLE = "infeasible: "  # the prefix of a conflict among ScenarioCheck.problems


@dataclass
class ScenarioCheck:
    """What :func:`check_scenario` found: ``problems`` (each names the input or
    key and the fix), ``warnings``, ``infeasible`` (True when the only problems
    are conflicts of the bands, locks or contiguity) and ``facts`` (counts and
    totals of a scenario that loads)."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def infeasible(self) -> bool:
        return bool(self.problems) and all(p.startswith(INFEASIBLE) for p in self.problems)


def check_scenario(scenario: Scenario | str | Path, *,
                   out: str | Path | None = None) -> ScenarioCheck:
    """Check a scenario and its data without solving, listing every problem at once.

    Reads every input (each on its own, so that one bad file does not hide
    another), builds the units and the problem, and lists every conflict the
    pre-solve checks see (a unit heavier than its band, locks overfilling a
    territory, graph pieces that cannot hold whole territories) and an output
    folder that may not be replaced.
    """
    check = ScenarioCheck()
    try:
        if not isinstance(scenario, Scenario):
            scenario = load_scenario(scenario)
    except InputError as exc:
        check.problems += getattr(exc, "problems", [str(exc)])
        return check
    if scenario.teams:  # each team on its own; the facts by team
        for name in scenario.teams:
            one = _check_inputs(scenario.team(name))
            for problem in one.problems:
                infeasible = problem.startswith(INFEASIBLE)
                text = problem.removeprefix(INFEASIBLE)
                check.problems.append(f"{INFEASIBLE if infeasible else ''}team {name!r}: {text}")
            check.warnings += [f"team {name!r}: {w}" for w in one.warnings]
            check.facts.setdefault("teams", {})[name] = one.facts
    else:
        check = _check_inputs(scenario)
    if "TODO" in (scenario.description or ""):  # what init could not know
        check.warnings.append("description: still the TODO that init wrote; say what this "
                              "scenario is for (the report shows it)")
    folder = Path(out) if out is not None else scenario.output_dir()
    if (sink := scenario.sink) is not None:
        from territory_opt.io.sink import check_sink

        if (why := check_sink(str(sink.database), sink.schema_)) is not None:
            check.problems.append(why)
    if not io.is_replaceable(folder.absolute()):
        check.problems.append(f"output folder '{folder}' holds files that are not a "
                              "territory_opt run (no manifest.json); choose another `output:` "
                              "or --out")
    return check


def _check_inputs(scenario: Scenario) -> ScenarioCheck:
    """:func:`check_scenario` of one scenario (or team), without the output folder."""
    check = ScenarioCheck()
    read: dict[str, Any] = {}
    readers = input_readers(scenario)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for role, _path, reader in readers:
            try:
                read[role] = reader()
            except InputError as exc:  # every problem of the file, each on its own
                check.problems += [f"{role}: {p}" for p in getattr(exc, "problems", [exc])]
        problem = None
        try:
            quota_rule(scenario)
        except InputError as exc:
            check.problems.append(str(exc))
        if not check.problems:
            try:
                loaded = inputs_from(scenario, readers, read)
                problem = build_problem(scenario, loaded)
            except InfeasibleError as exc:
                check.problems.append(f"{INFEASIBLE}{exc}")
            except InputError as exc:
                check.problems.append(str(exc))
        if problem is not None:
            check.problems += [f"{INFEASIBLE}{m}" for m in conflicts(problem)]
            check.facts = {"accounts": len(loaded.accounts), "units": problem.n_units,
                           "territories": problem.n_territories,
                           "workload": float(problem.values("workload").sum()),
                           "crs": describe_crs(problem.units.crs),
                           "distance": problem.distance_note}
            if "segment" in problem.units:  # accounts and serving reps per segment
                seg = loaded.accounts["segment"].astype(str)
                check.facts["segments"] = {
                    name: {"accounts": int((seg == name).sum()),
                           "reps": int(problem.serves(name).sum())}
                    for name in sorted(set(seg))}
            if problem.regions is not None:  # reps per region
                check.facts["regions"] = {
                    name: int((problem.region_of == r).sum())
                    for r, name in enumerate(problem.regions)}
            if loaded.unplaced is not None:
                check.facts["unplaced_accounts"] = len(loaded.unplaced)
            check.facts["placed_by_zip"] = loaded.placed_by_zip
            read_from = {role: {"source": src.label} | src.record
                         for role, src in loaded.inputs if isinstance(src, io.DatabaseSource)}
            if read_from:  # what each query read, in which SRID
                check.facts["database"] = read_from
    check.warnings = [str(w.message) for w in caught
                      if issubclass(w.category, TerritoryOptWarning)]
    if problem is not None:
        check.warnings += quality_messages(loaded.quality)
    return check


def run_scenario(
    scenario: Scenario | str | Path,
    *,
    out: str | Path | None = None,
    time_limit: float | None = None,
    write: bool = True,
    on_stage: Callable[[str], None] | None = None,
    progress: bool | None = None,
) -> RunResult:
    """Run a scenario end to end: load, build units, solve, write outputs.

    Parameters
    ----------
    scenario
        A :class:`Scenario` or the path of a scenario YAML file.
    out
        Output folder (overrides the scenario's ``output``).
    time_limit
        Solver seconds (overrides the scenario's ``solver.time_limit``).
    write
        Write the outputs; False only solves (for notebooks).
    on_stage
        Called with each stage's name as it starts.
    progress
        Progress bar over the stages: None shows it in a terminal or notebook
        only, False never, True always (see :mod:`territory_opt.progress`).

    Returns
    -------
    RunResult
    """
    path = None
    if not isinstance(scenario, Scenario):
        path = Path(scenario)
        scenario = load_scenario(path)
    with bar(total=4 * max(len(scenario.teams), 1), desc=scenario.name, unit="stage",
             progress=progress) as stages:
        return _run(scenario, path, out=out, time_limit=time_limit, write=write,
                    on_stage=on_stage, stages=stages)


def _run(scenario: Scenario, path: Path | None, *, out: str | Path | None,
         time_limit: float | None, write: bool, on_stage: Callable[[str], None] | None,
         stages: Any) -> RunResult:
    first = True

    def stage(name: str) -> None:
        nonlocal first
        stages.set_postfix_str(name, refresh=False)
        if not first:  # the stage before is done
            stages.update(1)
        first = False
        (on_stage or (lambda n: logger.info("stage: %s", n)))(name)

    if scenario.teams:
        return _run_teams(scenario, path, out=out, time_limit=time_limit, write=write,
                          stage=stage, stages=stages)
    result, loaded = _solve_scenario(scenario, path, time_limit=time_limit, stage=stage)
    t0 = time.perf_counter()
    stage("outputs")
    if write:
        files = run_files(result, loaded)
        result.seconds["outputs"] = time.perf_counter() - t0
        result.manifest["seconds"] = dict(result.seconds)  # building them, before the write
        result.out_dir = _write_run(scenario, out, files, result.manifest, sink_tables(files))
    result.seconds["outputs"] = time.perf_counter() - t0
    stages.update(1)
    return result


def sink_tables(files: dict[str, Any], team: str | None = None) -> dict[str, Any]:
    """The tables a run writes into a database (``output: database:``), by kind, from
    its files; with ``team``, a ``team`` column first."""
    tables = {"assignments": files["assignments.csv"],
              "crm_assignments": files["crm_assignments.csv"],
              "report": files["report.csv"], "territories": files["territories.geojson"]}
    if team is not None:
        tables = {kind: t.assign(team=team)[["team", *t.columns]]
                  for kind, t in tables.items()}
    return tables


def _write_run(scenario: Scenario, out: str | Path | None, files: dict[str, Any],
               manifest: dict[str, Any], tables: dict[str, Any]) -> Path:
    """Write a run's files into its folder and, with ``output: database:``, its tables
    into the database: the files inside the database's transaction, so that either
    both are written or the database keeps its earlier runs untouched."""
    folder = Path(out) if out is not None else scenario.output_dir()
    sink = scenario.sink
    if sink is None:
        return io.write_outputs(folder, files)
    from territory_opt.io.sink import database_sink

    with database_sink(str(sink.database), sink.schema_, scenario.name, tables, manifest):
        return io.write_outputs(folder, files)


def _solve_scenario(scenario: Scenario, path: Path | None, *, time_limit: float | None,
                    stage: Callable[[str], None]) -> tuple[RunResult, LoadedInputs]:
    """Load, build units, solve: the run without its files (its manifest ready)."""
    seconds: dict[str, float] = {}
    # every warning of the run also goes into the report and quality.csv
    with warnings.catch_warnings(record=True) as caught:
        t0 = time.perf_counter()
        stage("load")
        quota_rule(scenario)  # its keys are checked before anything is solved
        loaded = load_inputs(scenario)
        seconds["load"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        stage("units")
        problem = build_problem(scenario, loaded)
        units = problem.units
        seconds["units"] = time.perf_counter() - t0

        stage("solve")
        sol_spec = scenario.solver
        solution = solve(problem, method=sol_spec.method, solver=sol_spec.name,
                         time_limit=time_limit if time_limit is not None
                         else sol_spec.time_limit, gap=sol_spec.gap, threads=sol_spec.threads,
                         random_state=sol_spec.random_state, reduce=sol_spec.reduce,
                         diagnose=sol_spec.diagnose, infeasible=sol_spec.infeasible,
                         regions="joint" if scenario.regions is None
                         else scenario.regions.method,
                         workers=None if scenario.regions is None else scenario.regions.workers)
    for w in caught:  # shown as ever (the command line prints them)
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, registry={})
    noted = [{"check": "warning", "account_id": "", "message": str(w.message)}
             for w in caught if issubclass(w.category, TerritoryOptWarning)]
    quality = loaded.quality
    if noted:
        quality = pd.DataFrame([*quality.to_dict("records"), *noted], columns=quality.columns)
    seconds["build"] = solution.seconds["check"] + solution.seconds["build"]
    seconds["solve"] = sum(v for k, v in solution.seconds.items() if k not in ("check", "build"))

    reach = scenario.report.reach_km
    summary = scenario_summary(solution, reach_km=reach)
    if loaded.unplaced is not None:
        summary["unplaced_accounts"] = len(loaded.unplaced)
    if scenario.accounts.zip is not None:
        summary["placed_by_zip"] = loaded.placed_by_zip
    summary["units_method"] = (unit_method(loaded.accounts, loaded.potential)
                               if scenario.units.method == "auto" else scenario.units.method)
    summary["quality_findings"] = len(quality_messages(quality))
    manifest = _manifest_head(scenario, path) | {
        "inputs": input_records(loaded),
        "crs": units.crs.to_string(),
        "distance": solution.problem.distance_note,
        "packages": _versions(),
        "solver": {"name": solution.solver} | solution.options,
        "status": solution.status,
        "objective": solution.objective,
        "bound": solution.bound,
        "bound_from": solution.bound_from,
        "gap": solution.gap,
        "summary": summary,
        "seconds": seconds,
    }
    return RunResult(scenario=scenario, solution=solution, out_dir=None, manifest=manifest,
                     seconds=seconds, quality=quality), loaded


def input_records(loaded: LoadedInputs) -> list[dict[str, Any]]:
    """The manifest's ``inputs``: each file's path and SHA-256; each query's database
    name, text, row count and SHA-256 of the rows read (never a URL or password)."""
    records = [src.manifest(role) if isinstance(src, io.DatabaseSource)
               else {"role": role, "path": str(src.absolute()), "sha256": io.sha256_file(src)}
               for role, src in loaded.inputs]
    if (numbered := loaded.accounts.attrs.get("numbered")) is not None:
        for record in records:
            if record["role"] == "accounts":  # no id column: said where the ids come from
                record["account_ids"] = (f"numbered by {numbered} (no id column): "
                                         + ("the header is line 1" if numbered == "line"
                                            else "the first row is 1"))
    return records


def quota_rule(scenario: Scenario) -> QuotaRule | None:
    """The scenario's ``quota:`` as a :class:`QuotaRule` (None without one)."""
    spec = scenario.quota
    if spec is None:
        return None
    if spec.by != "potential" and scenario.deals is None:
        raise InputError(f"quota: by {spec.by} needs last year's won revenue: add deals: "
                         "(the CRM deals file), or use by: potential")
    if spec.move_date is not None and scenario.alignment is None:
        raise InputError("quota: move_date pro-rates the quota of moved accounts; it needs "
                         "alignment: (today's owners)")
    def stamp(day: Any) -> pd.Timestamp | None:
        return None if day is None else pd.Timestamp(day)

    return QuotaRule(total=spec.total, by=spec.by, weight=spec.weight,
                     round_to=spec.round_to, move_date=stamp(spec.move_date),
                     year=None if spec.year is None else (stamp(spec.year[0]),
                                                          stamp(spec.year[1])),
                     as_of=stamp(spec.as_of), out_of_line=spec.out_of_line)


def forecast_options(scenario: Scenario) -> dict[str, Any]:
    """The keyword arguments of :func:`forecast_table` from ``forecast:``."""
    spec = scenario.forecast
    return {"stages": spec.stages,
            "as_of": None if spec.as_of is None else pd.Timestamp(spec.as_of)}


def _manifest_head(scenario: Scenario, path: Path | None) -> dict[str, Any]:
    """The first keys of a run's manifest: version, time, the scenario as run."""
    return {
        "territory_opt": _versions()["territory-opt"],
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "scenario": {"name": scenario.name,
                     "file": str(path.absolute()) if path else None,
                     "sha256": io.sha256_file(path) if path else None,
                     "content": scenario.model_dump(mode="json", by_alias=True)},
    }


def run_files(result: RunResult, loaded: LoadedInputs) -> dict[str, Any]:
    """Every output file of a solved run (:func:`build_output_files`), by name."""
    scenario = result.scenario
    files = build_output_files(result.solution, result.manifest, title=scenario.name,
                               reach_km=scenario.report.reach_km,
                               accounts=loaded.accounts, deals=loaded.deals,
                               quality=result.quality, quota=quota_rule(scenario),
                               forecast=forecast_options(scenario))
    if loaded.unplaced is not None:
        files["unplaced_accounts.csv"] = pd.DataFrame(
            loaded.unplaced, columns=["line", "account_id", "zip", "reason"])
    return files


def _run_teams(scenario: Scenario, path: Path | None, *, out: str | Path | None,
               time_limit: float | None, write: bool, stage: Callable[[str], None],
               stages: Any) -> RunResult:
    """A scenario with teams: one run per team, each account assigned once per team
    that covers it; every output of each team in a folder of its own, and the
    files that join them (see :func:`territory_opt.outputs.teams.team_files`)."""
    runs: dict[str, tuple[RunResult, LoadedInputs]] = {}
    for name in scenario.teams:
        runs[name] = _solve_scenario(scenario.team(name), path, time_limit=time_limit,
                                     stage=lambda s, n=name: stage(f"{n}: {s}"))
        stage(f"{name}: outputs")
    t0 = time.perf_counter()
    seconds = {k: sum(r.seconds.get(k, 0.0) for r, _ in runs.values())
               for k in ("load", "units", "build", "solve")}
    manifest = _manifest_head(scenario, path) | {
        "teams": {name: {k: r.manifest[k] for k in ("status", "objective", "bound", "gap",
                                                     "summary", "seconds")}
                  | {"folder": name} for name, (r, _) in runs.items()},
        "inputs": list({json.dumps(i, sort_keys=True): i for r, _ in runs.values()
                        for i in r.manifest["inputs"]}.values()),
        "packages": _versions(),
        "seconds": seconds,
    }
    result = RunResult(scenario=scenario, solution=next(iter(runs.values()))[0].solution,
                       out_dir=None, manifest=manifest, seconds=seconds,
                       teams={name: r for name, (r, _) in runs.items()})
    if write:
        from territory_opt.outputs.teams import team_files

        with tempfile.TemporaryDirectory(prefix=".teams-") as tmp:
            files: dict[str, Any] = {}
            parts: list[dict[str, Any]] = []
            for name, (run, loaded) in runs.items():  # each team's folder, written apart
                one = run_files(run, loaded)
                parts.append(sink_tables(one, team=name))
                files[name] = io.write_outputs(Path(tmp) / name, one)
            files |= team_files({name: (r.solution, loaded.accounts)
                                 for name, (r, loaded) in runs.items()},
                                manifest, title=scenario.name,
                                reach_km=scenario.report.reach_km)
            seconds["outputs"] = time.perf_counter() - t0
            manifest["seconds"] = dict(seconds)
            tables = {kind: pd.concat([p[kind] for p in parts], ignore_index=True)
                      for kind in parts[0]}
            result.out_dir = _write_run(scenario, out, files, manifest, tables)
    seconds["outputs"] = time.perf_counter() - t0
    stages.update(1)
    return result
