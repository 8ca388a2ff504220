"""The scenario file: its keys (pydantic), loading and validation.

Paths inside a scenario file are relative to the file's folder. Unknown keys are
errors with the closest valid key suggested.
"""

from __future__ import annotations

import difflib
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from territory_opt.errors import InputError

__all__ = ["AccountsSpec", "CapacitySpec", "ContiguitySpec", "DistanceSpec", "LocksSpec",
           "OutputSpec", "PointsSpec", "Scenario", "SourceSpec", "TeamSpec", "load_scenario",
           "scenario_from_dict"]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceSpec(_Spec):
    """Where an input comes from: a file (``path:``), or a query (``sql:``) or a
    table (``table:``) on a named database connection (``database:``, resolved from
    ``TERRITORY_OPT_DB_<NAME>`` or the libpq service of that name)."""

    path: str | None = None
    database: str | None = None
    sql: str | None = None
    table: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> SourceSpec:
        if (self.path is None) == (self.database is None):
            raise ValueError("give path: (a file) or database: (a named connection, with "
                             "sql: or table:), one of them")
        if self.database is not None and (self.sql is None) == (self.table is None):
            raise ValueError(f"database: {self.database}: give sql: (a query) or table: "
                             "(a table name), one of them")
        if self.path is not None and (self.sql is not None or self.table is not None):
            raise ValueError("sql: and table: read from a database: name the connection "
                             "with database: instead of path:")
        return self


class PointsSpec(SourceSpec):
    lat: str | None = "lat"
    lon: str | None = "lon"
    x: str | None = None
    y: str | None = None
    crs: str | int | None = None
    layer: str | None = None
    sheet: str | int | None = None
    encoding: str | None = None  # CSV: recognised when not given
    sep: str | None = None
    decimal: str | None = None


Missing = Literal["error", "zero", "drop"]  # what a blank number means


class AccountsSpec(PointsSpec):
    id: str | None = "account_id"  # null: accounts numbered by their line in the file
    workload: str | None = "workload"
    missing: Missing = "error"
    sums: list[str] = Field(default_factory=list)
    zip: str | None = None
    unplaced: Literal["error", "drop"] = "error"
    name: str | None = None  # shown on maps, checked for duplicates
    address: str | None = None  # checked for duplicates (with the name)
    state: str | None = None  # checked against the ZIP code
    segment: str | None = None  # the account's segment: which reps may serve it
    where: str | list[str] | None = None  # keep only the accounts these filters hold for


class PotentialSpec(PointsSpec):
    value: str = "population"
    missing: Missing = "error"
    id: str | None = None
    name: str | None = None  # e.g. the county's name, shown in reports


class RepsSpec(PointsSpec):
    zip: str | None = None
    id: str = "rep_id"
    name: str | None = "name"
    fte: str | None = "fte"
    territory: str | None = "territory"
    segments: str | None = None  # the segments each rep serves ("a; b"; blank: all)
    region: str | None = None  # the region each rep reports to (regions: below)
    where: str | None = None  # keep only the reps this filter holds for (e.g. team == core)


class CapacitySpec(_Spec):
    """A bound per territory on a count (or sum) of the accounts a filter keeps."""

    where: str  # e.g. "revenue >= 40000", "segment == hospital"
    sum: str | None = None  # a numeric account column to add up; counts when None
    min: float | None = None
    max: float | None = None


class UnitsSpec(_Spec):
    method: Literal["auto", "polygons", "clusters", "accounts"] = "auto"
    n_units: int | None = Field(default=None, ge=1)
    random_state: int = 0


class DistanceSpec(SourceSpec):
    origin: str = "origin"
    destination: str = "destination"
    cost: str = "cost"
    sheet: str | int | None = None


class ObjectiveSpec(_Spec):
    weight: str = "workload"
    power: Literal[1, 2] = 1
    # auto: euclidean in the planning CRS where it is within 0.5 % of great-circle
    distance: Literal["auto", "euclidean", "great_circle"] | DistanceSpec = "auto"


class EdgesSpec(SourceSpec):
    a: str = "a"
    b: str = "b"


class ContiguitySpec(_Spec):
    method: Literal["flow", "cuts"] = "flow"
    adjacency: Literal["auto", "rook", "queen", "delaunay", "knn"] = "auto"
    k: int = Field(default=6, ge=1)
    edges: EdgesSpec | None = None


class SolverSpec(_Spec):
    method: Literal["auto", "mip", "lagrange", "search"] = "auto"  # see territory_opt.solve
    name: str = "HiGHS"
    time_limit: float | None = Field(default=120.0, gt=0)
    gap: float = Field(default=1e-4, ge=0, lt=1)
    threads: int | None = Field(default=None, ge=1)
    random_state: int = 0
    reduce: bool = True
    diagnose: bool = True
    # no plan holds every band: write the plan nearest them (status relaxed, exit 5),
    # or refuse (exit 3, the diagnosis only)
    infeasible: Literal["compromise", "refuse"] = "compromise"


class ReportSpec(_Spec):
    # coverage: within this distance of the rep's base; none: the data's own scale
    # (the median distance from an account to its nearest base, rounded)
    reach_km: float | None = Field(default=None, gt=0)


class LocksSpec(SourceSpec):
    id: str = "account_id"
    rep: str = "rep_id"


class AlignmentSpec(LocksSpec):
    """The current alignment: a table of account ids and their reps today."""


class DealsSpec(SourceSpec):
    """CRM deals (opportunities), for the sales columns of the report."""

    account: str = "account_id"
    amount: str = "amount"
    stage: str = "stage"
    created: str = "created"
    closed: str = "closed"
    won: str = "won"
    sheet: str | int | None = None


class QuotaSpec(_Spec):
    """A company number shared as quotas (see territory_opt.outputs.quotas)."""

    total: float = Field(gt=0)
    by: Literal["potential", "history", "blend"] = "potential"
    weight: float = Field(default=0.5, ge=0, le=1)  # blend: the share from potential
    round_to: float = Field(default=1.0, gt=0)
    move_date: date | None = None  # the day the new territories start (pro-rates moves)
    year: tuple[date, date] | None = None  # the quota year; default: move_date's calendar year
    as_of: date | None = None  # history: the 12 months up to this day (default: last deal)
    out_of_line: float = Field(default=0.2, gt=0)


class ForecastSpec(_Spec):
    """Forecast per territory from the open pipeline of the deals."""

    stages: dict[str, float] | None = None  # probability per open stage; default: win rate
    as_of: date | None = None  # default: the last date in the deals


class RealignmentSpec(_Spec):
    penalty: float = Field(default=0.0, ge=0)
    measure: Literal["accounts", "workload"] = "accounts"
    max_moved: float | None = Field(default=None, ge=0, le=1)
    level: Literal["territory", "region"] = "territory"  # region: only moves between regions count


class RegionLocksSpec(SourceSpec):
    """Accounts (or units) locked to a region: a table of ids and region names."""

    id: str = "account_id"
    region: str = "region"


class RegionsSpec(_Spec):
    """Regions over territories: each rep's region is the reps' ``region:`` column."""

    method: Literal["joint", "top_down"] = "joint"  # one model, or regions first
    balance: dict[str, float | dict[str, float]] = Field(default_factory=dict)
    contiguity: bool | None = None  # default: as the territories
    locks: RegionLocksSpec | dict[str, str] | None = Field(default=None,
                                                           union_mode="left_to_right")
    workers: int | None = Field(default=None, ge=1)  # top_down: Dask processes (1: none)


class OutputSpec(_Spec):
    """Where a run's outputs go: the folder (``path:``) and, with ``database:``, the
    tables of a schema (see :mod:`territory_opt.io.sink`), in one transaction."""

    path: str | None = None
    database: str | None = None
    schema_: str = Field(default="public", alias="schema")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class TeamSpec(_Spec):
    """One team of a scenario with several (``teams:``): its reps, its accounts and
    its own rules; a key left out takes the scenario's."""

    reps: RepsSpec | None = None
    where: str | None = None  # the accounts the team covers (all when None)
    centres: Literal["fixed", "model"] | None = None
    k: int | None = Field(default=None, ge=1)
    units: UnitsSpec | None = None
    balance: dict[str, float | dict[str, float]] | None = None
    capacity: dict[str, CapacitySpec] | None = None
    objective: ObjectiveSpec | None = None
    contiguity: bool | ContiguitySpec | None = None
    locks: LocksSpec | dict[str, str] | None = Field(default=None, union_mode="left_to_right")
    alignment: AlignmentSpec | None = None  # e.g. last year's crm_assignments.csv, rep: owner_<team>
    realignment: RealignmentSpec | None = None


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
    capacity: dict[str, CapacitySpec] = Field(default_factory=dict)
    objective: ObjectiveSpec = Field(default_factory=ObjectiveSpec)
    contiguity: bool | ContiguitySpec = True  # wherever units have an adjacency
    # a file ({path: ...}) before inline locks ({A1: R1}): {path: x.csv} is both
    locks: LocksSpec | dict[str, str] | None = Field(default=None, union_mode="left_to_right")
    alignment: AlignmentSpec | None = None
    realignment: RealignmentSpec = Field(default_factory=RealignmentSpec)
    regions: RegionsSpec | None = None
    deals: DealsSpec | None = None
    quota: QuotaSpec | None = None
    forecast: ForecastSpec = Field(default_factory=ForecastSpec)
    solver: SolverSpec = Field(default_factory=SolverSpec)
    report: ReportSpec = Field(default_factory=ReportSpec)
    teams: dict[str, TeamSpec] = Field(default_factory=dict)
    output: str | OutputSpec | None = None
    base_dir: Path = Field(default=Path("."), exclude=True)
    _team: str | None = PrivateAttr(default=None)  # set on the scenario of one team

    @property
    def team_name(self) -> str | None:
        """The team this scenario is (see :meth:`team`), or None."""
        return self._team

    @property
    def teams_filter(self) -> str:
        """The filters on this scenario's accounts, as text (``every account``)."""
        where = self.accounts.where
        rules = [] if where is None else [where] if isinstance(where, str) else where
        return " and ".join(rules) or "every account"

    def single(self, what: str) -> Scenario:
        """This scenario, or an error naming ``what`` when it has teams (a sweep or
        headcount sizing runs one team at a time)."""
        if self.teams:
            raise InputError(f"{what} runs a scenario of one team; this one has teams "
                             f"({', '.join(self.teams)}): write a scenario per team (its "
                             "reps, accounts where: and bands at the top level)")
        return self

    def team(self, name: str) -> Scenario:
        """The scenario of one team: the team's keys over the scenario's, its
        accounts filter added to ``accounts.where``, no further teams."""
        if name not in self.teams:
            raise InputError(f"no team {name!r}; the teams are: {', '.join(self.teams)}")
        spec = self.teams[name]
        where = self.accounts.where
        filters = ([] if where is None else [where] if isinstance(where, str) else list(where))
        if spec.where is not None:
            filters.append(spec.where)
        changes: dict[str, Any] = {
            key: getattr(spec, key) for key in
            ("reps", "centres", "k", "units", "balance", "capacity", "objective", "contiguity",
             "locks", "alignment", "realignment")
            if getattr(spec, key) is not None}
        changes |= {"teams": {}, "name": f"{self.name}/{name}",
                    "accounts": self.accounts.model_copy(update={"where": filters or None})}
        team = self.model_copy(update=changes)
        team._team = name
        return team

    def model_post_init(self, context: Any) -> None:
        for name in self.teams:
            if not name or any(c in name for c in '/\\:*?"<>|') or name in (".", ".."):
                raise ValueError(f"team name {name!r} must be usable as a folder name")
        if self.teams and self.reps is None and any(t.reps is None for t in self.teams.values()):
            raise ValueError("every team needs reps: give teams.<name>.reps, or reps: for "
                             "all teams (filtered per team with reps.where)")

    def resolve(self, path: str) -> Path:
        """A path of the scenario, relative to the scenario file's folder."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.base_dir / p).resolve()

    def output_dir(self) -> Path:
        """Output folder: ``output:`` (relative to the file), else ``out/<name>``."""
        path = self.output.path if isinstance(self.output, OutputSpec) else self.output
        return self.resolve(path) if path else Path("out") / self.name

    @property
    def sink(self) -> OutputSpec | None:
        """The ``output:`` database of the run, or None (files only)."""
        out = self.output
        return out if isinstance(out, OutputSpec) and out.database is not None else None


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
        elif not loc:  # a rule across keys: its message says it all
            lines.append(str(err["msg"]).removeprefix("Value error, "))
        else:
            msg = str(err["msg"]).removeprefix("Value error, ")
            lines.append(f"key {key!r}: {msg} (got {err.get('input')!r})")
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
