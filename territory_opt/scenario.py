"""Scenario files (YAML) and :func:`run_scenario`, shared by the CLI and notebooks.

Paths inside a scenario file are relative to the file's folder. A scenario
run loads the inputs, builds the units, solves, and writes every output of
the run into its output folder at once (all or nothing).
"""

from __future__ import annotations

import difflib
import logging
import platform
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from territory_opt import io
from territory_opt.errors import InfeasibleError, InputError, TerritoryOptWarning
from territory_opt.graph import adjacency, graph_from_edges
from territory_opt.model import TerritoryProblem, conflicts
from territory_opt.progress import bar
from territory_opt.report import report_html, scenario_summary, territory_table
from territory_opt.solution import DEFAULT_REACH_KM, Solution
from territory_opt.solve import solve
from territory_opt.units import build_units

logger = logging.getLogger(__name__)

PACKAGES = ("territory-opt", "geopandas", "shapely", "pyproj", "pandas", "numpy", "pulp",
            "highspy", "scikit-learn", "networkx", "folium", "pydantic")


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PointsSpec(_Spec):
    path: str
    lat: str | None = "lat"
    lon: str | None = "lon"
    x: str | None = None
    y: str | None = None
    crs: str | int | None = None
    layer: str | None = None
    sheet: str | int | None = None


class AccountsSpec(PointsSpec):
    id: str = "account_id"
    workload: str | None = "workload"
    sums: list[str] = Field(default_factory=list)
    zip: str | None = None
    unplaced: Literal["error", "drop"] = "error"


class PotentialSpec(PointsSpec):
    value: str = "population"
    id: str | None = None


class RepsSpec(PointsSpec):
    zip: str | None = None
    id: str = "rep_id"
    name: str | None = "name"
    fte: str | None = "fte"
    territory: str | None = "territory"


class UnitsSpec(_Spec):
    method: Literal["auto", "polygons", "clusters", "accounts"] = "auto"
    n_units: int | None = Field(default=None, ge=1)
    random_state: int = 0


class DistanceSpec(_Spec):
    path: str
    origin: str = "origin"
    destination: str = "destination"
    cost: str = "cost"
    sheet: str | int | None = None


class ObjectiveSpec(_Spec):
    weight: str = "workload"
    power: Literal[1, 2] = 1
    distance: Literal["euclidean", "great_circle"] | DistanceSpec = "euclidean"


class EdgesSpec(_Spec):
    path: str
    a: str = "a"
    b: str = "b"


class ContiguitySpec(_Spec):
    method: Literal["flow", "cuts"] = "flow"
    adjacency: Literal["auto", "rook", "queen", "delaunay", "knn"] = "auto"
    k: int = Field(default=6, ge=1)
    edges: EdgesSpec | None = None


class SolverSpec(_Spec):
    name: str = "HiGHS"
    time_limit: float | None = Field(default=120.0, gt=0)
    gap: float = Field(default=1e-4, ge=0, lt=1)
    threads: int | None = Field(default=None, ge=1)
    random_state: int = 0
    reduce: bool = True
    diagnose: bool = True


class ReportSpec(_Spec):
    reach_km: float = Field(default=DEFAULT_REACH_KM, gt=0)


class LocksSpec(_Spec):
    path: str
    id: str = "account_id"
    rep: str = "rep_id"


class AlignmentSpec(LocksSpec):
    """The current alignment: a table of account ids and their reps today."""


class DealsSpec(_Spec):
    """CRM deals (opportunities), for the sales columns of the report."""

    path: str
    account: str = "account_id"
    amount: str = "amount"
    stage: str = "stage"
    created: str = "created"
    closed: str = "closed"
    won: str = "won"
    sheet: str | int | None = None


class RealignmentSpec(_Spec):
    penalty: float = Field(default=0.0, ge=0)
    measure: Literal["accounts", "workload"] = "accounts"
    max_moved: float | None = Field(default=None, ge=0, le=1)


class Scenario(_Spec):
    """A territory-planning scenario, as written in a YAML file."""

    name: str
    description: str = ""
    accounts: AccountsSpec
    potential: PotentialSpec | None = None
    reps: RepsSpec | None = None
    centres: Literal["fixed", "model"] = "fixed"
    k: int | None = Field(default=None, ge=1)
    crs: str | int | None = None
    units: UnitsSpec = Field(default_factory=UnitsSpec)
    balance: dict[str, float | dict[str, float]] = Field(
        default_factory=lambda: {"workload": 0.05})
    objective: ObjectiveSpec = Field(default_factory=ObjectiveSpec)
    contiguity: bool | ContiguitySpec = False
    # a file ({path: ...}) before inline locks ({A1: R1}): {path: x.csv} is both
    locks: LocksSpec | dict[str, str] | None = Field(default=None, union_mode="left_to_right")
    alignment: AlignmentSpec | None = None
    realignment: RealignmentSpec = Field(default_factory=RealignmentSpec)
    deals: DealsSpec | None = None
    solver: SolverSpec = Field(default_factory=SolverSpec)
    report: ReportSpec = Field(default_factory=ReportSpec)
    output: str | None = None
    base_dir: Path = Field(default=Path("."), exclude=True)

    def resolve(self, path: str) -> Path:
        """A path of the scenario, relative to the scenario file's folder."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.base_dir / p).resolve()

    def output_dir(self) -> Path:
        """Output folder: ``output:`` (relative to the file), else ``out/<name>``."""
        return self.resolve(self.output) if self.output else Path("out") / self.name


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names of the (sub)model at ``loc``, for spelling suggestions."""
    current: Any = model
    for part in loc[:-1]:
        fields = getattr(current, "model_fields", {})
        if part not in fields:
            return []
        ann = fields[part].annotation
        current = next((a for a in getattr(ann, "__args__", (ann,))
                        if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if current is None:
            return []
    return [k for k in getattr(current, "model_fields", {}) if k != "base_dir"]


def _validation_problems(exc: ValidationError) -> list[str]:
    """One line per wrong key of a scenario, with the fix."""
    lines: list[str] = []
    seen: set[str] = set()
    for err in exc.errors():
        # a value that may take several forms (a share or {min, max}) fails each
        # form: name the key once, as the user wrote it
        loc = tuple(p for p in err["loc"] if not isinstance(p, int)
                    and not any(c in str(p) for c in "[]") and str(p) not in _TYPE_NAMES)
        key = ".".join(str(p) for p in loc)
        if key in seen:
            continue
        seen.add(key)
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(Scenario, loc)
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
            hint = (f"did you mean {close[0]!r}? " if close else "") + \
                f"allowed keys: {', '.join(allowed)}"
            lines.append(f"unknown key {key!r}; {hint}")
        elif err["type"] == "missing":
            lines.append(f"missing key {key!r}; add it")
        else:
            lines.append(f"key {key!r}: {err['msg']} (got {err.get('input')!r})")
    return lines


_TYPE_NAMES = {"float", "int", "str", "bool", "dict", "list", "none"}


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file (safe loading only)."""
    file = Path(path)
    if not file.is_file():
        raise InputError(f"scenario file '{file}' does not exist; check the path")
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(f"scenario '{file}' is not valid YAML{where}: {problem}; "
                         "fix the indentation or quoting there") from None
    if not isinstance(data, dict):
        raise InputError(f"scenario '{file}' must be a mapping of keys (name:, accounts:, "
                         f"reps:, ...), not a {type(data).__name__}; start from "
                         "scenarios/georgia.yaml")
    return scenario_from_dict(data, base_dir=file.parent, source=f"'{file}'")


def scenario_from_dict(data: dict[str, Any], *, base_dir: str | Path = ".",
                       source: str = "(dict)") -> Scenario:
    """Validate a scenario given as a dict; relative paths start at ``base_dir``."""
    try:
        return Scenario.model_validate(data | {"base_dir": Path(base_dir)})
    except ValidationError as exc:
        problems = _validation_problems(exc)
        error = InputError(f"scenario {source}: " + "; ".join(problems))
        error.problems = [f"scenario {source}: {p}" for p in problems]  # type: ignore[attr-defined]
        raise error from None


@dataclass
class RunResult:
    """What :func:`run_scenario` produced."""

    scenario: Scenario
    solution: Solution
    out_dir: Path | None
    manifest: dict[str, Any]
    seconds: dict[str, float] = field(default_factory=dict)


def _points_kwargs(spec: PointsSpec) -> dict[str, Any]:
    return {k: getattr(spec, k) for k in ("lat", "lon", "x", "y", "crs", "layer", "sheet")}


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
    inputs: list[tuple[str, Path]]
    deals: Any = None
    unplaced: list[dict[str, Any]] | None = None  # accounts left out by ZIP geocoding


def input_readers(scenario: Scenario) -> list[tuple[str, Path | None, Callable[[], Any]]]:
    """``(role, path, read)`` for every input a scenario names, in reading order."""
    acc = scenario.accounts
    readers: list[tuple[str, Path | None, Callable[[], Any]]] = []

    def add(role: str, path: str | None, read: Callable[[Path | None], Any]) -> None:
        file = scenario.resolve(path) if path is not None else None
        readers.append((role, file, lambda: read(file)))

    add("accounts", acc.path, lambda f: io.read_accounts(
        f, id=acc.id, workload=acc.workload, zip=acc.zip, unplaced=acc.unplaced,
        **_points_kwargs(acc)))
    if (pot := scenario.potential) is not None:
        add("potential", pot.path, lambda f: io.read_potential(
            f, value=pot.value, id=pot.id, **_points_kwargs(pot)))
    if (reps := scenario.reps) is not None:
        add("reps", reps.path, lambda f: io.read_reps(
            f, id=reps.id, name=reps.name, fte=reps.fte, territory=reps.territory,
            zip=reps.zip, **_points_kwargs(reps)))
    if isinstance(dist := scenario.objective.distance, DistanceSpec):
        add("distance", dist.path, lambda f: io.read_distance_matrix(
            f, origin=dist.origin, destination=dist.destination, cost=dist.cost,
            sheet=dist.sheet))
    contiguity = scenario.contiguity
    if isinstance(contiguity, ContiguitySpec) and (edges := contiguity.edges) is not None:
        add("edges", edges.path, lambda f: io.read_edges(f, a=edges.a, b=edges.b))
    if isinstance(locks := scenario.locks, LocksSpec):
        add("locks", locks.path, lambda f: io.read_locks(f, id=locks.id, rep=locks.rep))
    if (align := scenario.alignment) is not None:
        add("alignment", align.path, lambda f: io.read_alignment(f, id=align.id,
                                                                 rep=align.rep))
    if (deals := scenario.deals) is not None:
        add("deals", deals.path, lambda f: io.read_deals(
            f, account=deals.account, amount=deals.amount, stage=deals.stage,
            created=deals.created, closed=deals.closed, won=deals.won, sheet=deals.sheet))
    return readers


def load_inputs(scenario: Scenario) -> LoadedInputs:
    """Read every input file a scenario names (the ``load`` stage)."""
    readers = input_readers(scenario)
    return inputs_from(scenario, readers, {role: read() for role, _, read in readers})


def inputs_from(scenario: Scenario, readers: list[tuple[str, Path | None, Any]],
                read: dict[str, Any]) -> LoadedInputs:
    """:class:`LoadedInputs` from what ``readers`` (:func:`input_readers`) read, by role."""
    accounts = read["accounts"]
    unplaced = accounts.attrs.pop("unplaced", None)
    locks = read.get("locks") or (dict(scenario.locks) if isinstance(scenario.locks, dict)
                                  else {})
    distance = read.get("distance", scenario.objective.distance)
    inputs = [(role, path) for role, path, _ in readers if path is not None]
    return LoadedInputs(accounts=accounts, potential=read.get("potential"),
                        reps=read.get("reps"), distance=distance, edges=read.get("edges"),
                        locks=locks, current=read.get("alignment") or {}, inputs=inputs,
                        deals=read.get("deals"), unplaced=unplaced)


def scenario_units(scenario: Scenario, loaded: LoadedInputs) -> Any:
    """The scenario's planning units."""
    sums = sorted({*scenario.accounts.sums, *(m for m in scenario.balance
                                              if m in loaded.accounts.columns
                                              and m != "workload")})
    return build_units(loaded.accounts, potential=loaded.potential,
                       method=scenario.units.method, n_units=scenario.units.n_units,
                       sums=sums, crs=scenario.crs, random_state=scenario.units.random_state)


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
    return TerritoryProblem(
        units, reps=loaded.reps, k=scenario.k, centres=scenario.centres,
        balance=scenario.balance, weight=scenario.objective.weight,
        power=scenario.objective.power, distance=loaded.distance, locks=loaded.locks,
        contiguity=bool(contiguity), graph=graph, contiguity_method=spec.method,
        current=loaded.current, move_penalty=real.penalty, move_measure=real.measure,
        max_moved=real.max_moved)


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
    read: dict[str, Any] = {}
    readers = input_readers(scenario)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for role, _path, reader in readers:
            try:
                read[role] = reader()
            except InputError as exc:
                check.problems.append(f"{role}: {exc}")
        problem = None
        if not check.problems:
            loaded = inputs_from(scenario, readers, read)
            try:
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
                           "crs": problem.units.crs.name}
            if loaded.unplaced is not None:
                check.facts["unplaced_accounts"] = len(loaded.unplaced)
    check.warnings = [str(w.message) for w in caught
                      if issubclass(w.category, TerritoryOptWarning)]
    folder = Path(out) if out is not None else scenario.output_dir()
    if not io.is_replaceable(folder.absolute()):
        check.problems.append(f"output folder '{folder}' holds files that are not a "
                              "territory_opt run (no manifest.json); choose another `output:` "
                              "or --out")
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
    with bar(total=4, desc=scenario.name, unit="stage", progress=progress) as stages:
        return _run(scenario, path, out=out, time_limit=time_limit, write=write,
                    on_stage=on_stage, stages=stages)


def _run(scenario: Scenario, path: Path | None, *, out: str | Path | None,
         time_limit: float | None, write: bool, on_stage: Callable[[str], None] | None,
         stages: Any) -> RunResult:
    def stage(name: str) -> None:
        stages.set_postfix_str(name, refresh=False)
        if name != "load":  # the stage before is done
            stages.update(1)
        (on_stage or (lambda n: logger.info("stage: %s", n)))(name)

    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    stage("load")
    loaded = load_inputs(scenario)
    seconds["load"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    stage("units")
    problem = build_problem(scenario, loaded)
    units = problem.units
    seconds["units"] = time.perf_counter() - t0

    stage("solve")
    sol_spec = scenario.solver
    solution = solve(problem, solver=sol_spec.name,
                     time_limit=time_limit if time_limit is not None else sol_spec.time_limit,
                     gap=sol_spec.gap, threads=sol_spec.threads,
                     random_state=sol_spec.random_state, reduce=sol_spec.reduce,
                     diagnose=sol_spec.diagnose)
    seconds["build"] = solution.seconds["check"] + solution.seconds["build"]
    seconds["solve"] = solution.seconds.get("presolve", 0.0) + solution.seconds["solve"]

    t0 = time.perf_counter()
    stage("outputs")
    reach = scenario.report.reach_km
    summary = scenario_summary(solution, reach_km=reach)
    if loaded.unplaced is not None:
        summary["unplaced_accounts"] = len(loaded.unplaced)
    manifest = {
        "territory_opt": _versions()["territory-opt"],
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "scenario": {"name": scenario.name,
                     "file": str(path.absolute()) if path else None,
                     "sha256": io.sha256_file(path) if path else None,
                     "content": scenario.model_dump(mode="json")},
        "inputs": [{"role": role, "path": str(p.absolute()), "sha256": io.sha256_file(p)}
                   for role, p in loaded.inputs],
        "crs": units.crs.to_string(),
        "packages": _versions(),
        "solver": {"name": solution.solver} | solution.options,
        "status": solution.status,
        "objective": solution.objective,
        "bound": solution.bound,
        "gap": solution.gap,
        "summary": summary,
        "seconds": seconds,
    }
    out_dir = None
    if write:
        out_dir = Path(out) if out is not None else scenario.output_dir()
        files = build_output_files(solution, manifest, title=scenario.name, reach_km=reach,
                                   accounts=loaded.accounts, deals=loaded.deals)
        if loaded.unplaced is not None:
            files["unplaced_accounts.csv"] = pd.DataFrame(
                loaded.unplaced, columns=["line", "account_id", "zip", "reason"])
        seconds["outputs"] = time.perf_counter() - t0
        manifest["seconds"] = dict(seconds)  # outputs: building them, before the write
        out_dir = io.write_outputs(out_dir, files)
        seconds["outputs"] = time.perf_counter() - t0
    else:
        seconds["outputs"] = time.perf_counter() - t0
    stages.update(1)
    return RunResult(scenario=scenario, solution=solution, out_dir=out_dir,
                     manifest=manifest, seconds=seconds)


# Shapefile fields hold at most 10 characters: the key columns, renamed.
SHAPEFILE_FIELDS = {"territory": "territory", "rep_id": "rep_id", "rep_name": "rep_name",
                    "fte": "fte", "accounts": "accounts", "workload": "workload",
                    "workload_pct": "work_pct", "potential": "potential",
                    "potential_pct": "pot_pct", "mean_km": "mean_km", "max_km": "max_km",
                    "coverage_pct": "cover_pct", "polsby_popper": "polsby"}


def build_output_files(solution: Solution, manifest: dict[str, Any], *, title: str,
                       reach_km: float, accounts: Any = None,
                       deals: Any = None) -> dict[str, Any]:
    """Every output file of a run, by name (written by :func:`io.write_outputs`).

    ``accounts`` (as read) gives the map its account positions and names;
    ``deals`` adds the sales columns to the report.
    """
    from territory_opt.maps import map_html, static_map
    from territory_opt.report import coverage_table, white_space

    table = territory_table(solution, reach_km=reach_km, deals=deals)
    summary = manifest["summary"]
    units = solution.units()
    assignments = solution.assignments()
    crm = pd.DataFrame({"account_id": assignments["account_id"],
                        "new_owner": assignments["rep_id"],
                        "old_owner": assignments.get("old_rep_id", ""),
                        "moved": assignments.get("moved", False)})
    coverage = coverage_table(solution, reach_km=reach_km)
    white = white_space(solution, reach_km=reach_km)
    terr = solution.territory_frame(table)
    shp = terr[[*(c for c in SHAPEFILE_FIELDS if c in terr), "geometry"]].rename(
        columns=SHAPEFILE_FIELDS)
    summary_sheet = pd.DataFrame({"figure": list(summary), "value": [
        "" if v is None else v for v in summary.values()]})
    title = f"Territory plan: {title}"
    return {
        "assignments.csv": assignments,
        "crm_assignments.csv": crm,
        "report.csv": table,
        "coverage.csv": coverage,
        "white_space.csv": white,
        "report.html": report_html(solution, table, summary, title=title, white=white,
                                   coverage=coverage),
        "report.xlsx": {"Summary": summary_sheet, "Territories": table, "Coverage": coverage,
                        "White space": white, "Assignments": assignments},
        "territories.gpkg": {"territories": terr, "units": units},
        "territories.geojson": terr,
        "territories.parquet": terr,
        "territories.shp.zip": shp,
        "map.html": map_html(solution, reach_km=reach_km, accounts=accounts),
        "map.png": static_map(solution, fmt="png", accounts=accounts, title=title),
        "map.pdf": static_map(solution, fmt="pdf", accounts=accounts, title=title),
        "manifest.json": manifest,
    }
