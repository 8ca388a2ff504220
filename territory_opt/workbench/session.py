"""Editing a plan by hand: the state behind ``territory-opt edit`` and ``Solution.edit()``.

An :class:`EditSession` holds a plan (each unit's territory), the planner's locks,
undo and redo stacks and a log. Every edit is checked (locked units, reps who do
not serve a segment or region) and answered with the live figures of
:meth:`EditSession.figures`: each territory's balanced metrics against their
bands, coverage, pieces (a territory in more than one piece is disconnected),
accounts moved against the current alignment and against the plan the session
started from. :meth:`EditSession.rebalance` re-solves with the edited and locked
units fixed and a penalty on every further move, and returns a
:class:`Proposal` that changes nothing until it is accepted.
:meth:`EditSession.save` writes every output of a normal run into a new folder,
with ``edits.csv`` and the log in the manifest.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np
import pandas as pd

from territory_opt.checks import plan_faults
from territory_opt.errors import InfeasibleError, InputError
from territory_opt.metrics import bands_held, covered_share, reach_of
from territory_opt.plan import Plan
from territory_opt.solution import Solution, relative_gap

if TYPE_CHECKING:
    from territory_opt.scenario.run import LoadedInputs, RunResult

WHOLE_UNITS = 3000  # rebalance re-solves the whole problem up to this many units ...
REBALANCE_SECONDS = 30.0  # ... else the territories at fault and their neighbours
REBALANCE_GAP = 0.001


@dataclass
class Proposal:
    """What :meth:`EditSession.rebalance` would change; nothing changes until
    :meth:`EditSession.accept`."""

    columns: np.ndarray  # the whole plan after the change
    changes: pd.DataFrame  # unit_id, accounts, from, to: the units it would move
    objective_before: float
    objective_after: float
    faults: list[str]  # of the plan after the change (empty: every rule holds)
    scope: str  # "whole problem", or which territories it re-solved
    seconds: float
    status: str


@dataclass
class Edit:
    """One edit on the undo stack: the units it moved and the locks before and after."""

    action: str  # assign, lock, unlock, rebalance
    units: np.ndarray
    before: np.ndarray  # the units' territories before
    after: np.ndarray
    locks_before: frozenset[int]
    locks_after: frozenset[int]
    note: str = ""


@dataclass
class RunContext:
    """Where a session's plan came from, and what saving it needs besides the plan."""

    result: RunResult | None = None  # the run (scenario, manifest, quality)
    loaded: LoadedInputs | None = None  # its inputs (accounts for the map, deals, ...)
    source: Path | None = None  # the run folder, when opened from one
    title: str = "edited plan"
    reach_km: float | None = None  # the data's own scale (metrics.typical_reach)


class EditSession:
    """A plan being edited by hand (fixed centres: one territory per rep).

    Parameters
    ----------
    solution
        The plan to start from (a solved :class:`~territory_opt.Solution`).
    context
        The run it came from (see :func:`open_run`); without one, a save writes
        the outputs that need no input files (no account points on the map).
    """

    def __init__(self, solution: Solution, *, context: RunContext | None = None) -> None:
        problem = solution.problem
        if problem.centres != "fixed":
            raise InputError("the workbench edits plans of reps (fixed centres); this plan "
                             "has model-chosen centres: give the reps' home bases (reps:) "
                             "and run again, or edit the assignments file")
        self.problem = problem
        self.start = solution
        self.context = context or RunContext()
        self.reach_km = reach_of(problem, self.context.reach_km)  # coverage's reach
        self.plan = Plan(problem, np.asarray(solution.unit_centres(), dtype=int))
        self.baseline = self.plan.label.copy()
        self.fixed = frozenset(problem.locked)  # the problem's own locks: not editable
        self.locks: frozenset[int] = frozenset()  # the planner's
        self.done: list[Edit] = []
        self.undone: list[Edit] = []
        self.log: list[dict[str, Any]] = []
        self.proposal: Proposal | None = None
        info = solution.territory_info
        self.labels = info["territory"].astype(str).to_numpy()
        self.rep_ids = info["rep_id"].astype(str).to_numpy()
        self.rep_names = (info["rep_name"].astype(str).to_numpy() if "rep_name" in info
                          else self.rep_ids)
        self.unit_ids = [str(u) for u in problem.unit_ids]
        self._unit_pos = {u: i for i, u in enumerate(self.unit_ids)}
        self._terr_pos = {**{r: t for t, r in enumerate(self.rep_ids)},
                          **{lab: t for t, lab in enumerate(self.labels)}}
        n = problem.n_units
        self.accounts = problem.values("accounts") if "accounts" in problem.units \
            else np.ones(n)
        self.potential = problem.values("potential") if "potential" in problem.units else None
        self.metrics = list(problem.bands)
        self._targets = {m: problem.targets(m) for m in self.metrics}
        self._moves = problem.with_options(move_measure="accounts").moves \
            if problem.current else None

    @property
    def columns(self) -> np.ndarray:
        """Each unit's territory position, as the plan stands (read only)."""
        return self.plan.label

    # ------------------------------------------------------------------ lookups

    def positions(self, unit_ids: Iterable[object]) -> np.ndarray:
        """Unit positions of unit ids; an unknown id is an error naming it."""
        out = []
        for u in unit_ids:
            pos = self._unit_pos.get(str(u))
            if pos is None:
                raise InputError(f"unit {str(u)!r} is not a unit of this plan; pick units "
                                 f"on the map (ids like {self.unit_ids[0]!r})")
            out.append(pos)
        if not out:
            raise InputError("no units given: select one or more units first")
        return np.unique(np.asarray(out, dtype=int))

    def territory(self, name: object) -> int:
        """A territory's position from its label or its rep's id."""
        t = self._terr_pos.get(str(name))
        if t is None:
            raise InputError(f"territory {str(name)!r} is neither a territory label nor a "
                             f"rep id of this plan ({', '.join(self.labels[:6])}, ...)")
        return t

    # ------------------------------------------------------------------ edits

    def assign(self, unit_ids: Sequence[object], territory: object) -> int:
        """Move units to a territory; returns how many moved. Locked units and
        units the territory's rep may not serve are refused, naming them."""
        units = self.positions(unit_ids)
        t = self.territory(territory)
        locked = [i for i in units if i in self.fixed]
        if locked:
            raise InputError(f"unit {self.unit_ids[locked[0]]!r} is locked by the "
                             "scenario's locks file; change that file to move it")
        locked = [i for i in units if i in self.locks]
        if locked:
            raise InputError(f"unit {self.unit_ids[locked[0]]!r} is locked; unlock it first")
        eligible = self.problem.eligible
        if eligible is not None:
            wrong = [i for i in units if not eligible[i, t]]
            if wrong:
                raise InputError(
                    f"rep {self.rep_ids[t]!r} may not serve unit {self.unit_ids[wrong[0]]!r} "
                    "(its segment, or a region lock); pick a rep who serves it")
        units = units[self.columns[units] != t]
        if len(units) == 0:
            return 0
        self._apply("assign", units, np.full(len(units), t), self.locks,
                    note=f"to {self.labels[t]}")
        return len(units)

    def lock(self, unit_ids: Sequence[object], locked: bool = True) -> int:
        """Lock (or unlock) units where they are; returns how many changed."""
        units = self.positions(unit_ids)
        now = set(self.locks)
        changed = [i for i in units if (i in now) != locked and i not in self.fixed]
        if not changed:
            return 0
        new = now | set(changed) if locked else now - set(changed)
        idx = np.asarray(changed, dtype=int)
        self._apply("lock" if locked else "unlock", idx, self.columns[idx], frozenset(new))
        return len(changed)

    def lock_territory(self, territory: object, locked: bool = True) -> int:
        """Lock (or unlock) every unit of a territory."""
        t = self.territory(territory)
        units = np.flatnonzero(self.columns == t)
        if len(units) == 0:
            return 0
        return self.lock([self.unit_ids[i] for i in units], locked)

    def _apply(self, action: str, units: np.ndarray, after: np.ndarray,
               locks_after: frozenset[int], note: str = "") -> None:
        edit = Edit(action=action, units=units, before=self.columns[units].copy(),
                    after=np.asarray(after, dtype=int), locks_before=self.locks,
                    locks_after=locks_after, note=note)
        self._do(edit)
        self.done.append(edit)
        self.undone.clear()
        self.proposal = None
        self._note(action, edit)

    def _do(self, edit: Edit, *, back: bool = False) -> None:
        for i, t in zip(edit.units, edit.before if back else edit.after, strict=True):
            self.plan.move(int(i), int(t))  # sums and members follow, O(degree) each
        self.locks = edit.locks_before if back else edit.locks_after

    def _note(self, action: str, edit: Edit) -> None:
        self.log.append({"at": _now(), "action": action, "units": len(edit.units),
                         "unit_ids": [self.unit_ids[i] for i in edit.units[:50]],
                         "note": edit.note})

    def undo(self) -> bool:
        """Take back the last edit; False when there is none."""
        if not self.done:
            return False
        edit = self.done.pop()
        self._do(edit, back=True)
        self.undone.append(edit)
        self.proposal = None
        self._note(f"undo {edit.action}", edit)
        return True

    def redo(self) -> bool:
        """Do again the last edit taken back; False when there is none."""
        if not self.undone:
            return False
        edit = self.undone.pop()
        self._do(edit)
        self.done.append(edit)
        self.proposal = None
        self._note(f"redo {edit.action}", edit)
        return True

    # ------------------------------------------------------------------ rebalance

    def rebalance(self, *, time_limit: float = REBALANCE_SECONDS,
                  move_penalty: float | None = None) -> Proposal:
        """Re-solve around the edits: edited and locked units stay where they are,
        every other move costs ``move_penalty`` per account (default: the plan's
        mean cost per account), and the bands, locks and contiguity of the problem
        hold. Up to :data:`WHOLE_UNITS` units the whole problem is re-solved, above
        only the territories that break a rule and their neighbours. Returns a
        :class:`Proposal`; :meth:`accept` applies it."""
        from territory_opt.solvers import solve
        from territory_opt.solvers.regions import sub_problem

        t0 = time.perf_counter()
        p, cols = self.problem, self.columns.copy()
        if "account_ids" not in p.units:
            raise InputError("rebalance needs units that list their accounts (built by "
                             "build_units())")
        before = p.objective_of(cols)
        if move_penalty is None:
            move_penalty = before / max(float(self.accounts.sum()), 1.0)
        owner = self.rep_ids[cols]
        current = {str(a): owner[i] for i, ids in enumerate(p.units["account_ids"])
                   for a in ids}
        keep = set(self.locks) | set(np.flatnonzero(cols != self.baseline).tolist())
        locks = dict(p.locks) | {self.unit_ids[i]: owner[i] for i in keep}
        region_rules = bool(p.region_bands) or p.region_contiguity
        around = members = None
        if p.n_units <= WHOLE_UNITS or region_rules:
            scope = "whole problem"
            fixed = p.with_options(locks=locks, current=current, move_penalty=move_penalty,
                                   move_measure="accounts", move_level="territory",
                                   max_moved=None)
        else:  # the territories at fault and their neighbours, on their units alone
            around = self._territories_at_fault()
            members = np.flatnonzero(np.isin(cols, around))
            graph = nx.relabel_nodes(p.adjacency.subgraph(members.tolist()),
                                     {int(i): self.unit_ids[i] for i in members})
            fixed = sub_problem(p, members, around, graph=graph, locks=locks,
                                current=current, move_penalty=move_penalty
                                ).with_options(move_measure="accounts")
            scope = f"{len(around)} territories: " + ", ".join(self.labels[around])
        try:
            sol = solve(fixed, time_limit=time_limit, gap=REBALANCE_GAP)
        except InfeasibleError as exc:
            raise InfeasibleError(f"no plan holds every rule with these edits and locks "
                                  f"fixed ({exc}); undo an edit or unlock some units") from None
        new = np.asarray(sol.unit_centres(), dtype=int)
        if around is not None:
            new, inside = cols.copy(), new
            new[members] = around[inside]
        moved = np.flatnonzero(new != cols)
        changes = pd.DataFrame({"unit_id": [self.unit_ids[i] for i in moved],
                                "accounts": self.accounts[moved].astype(int),
                                "from": self.labels[cols[moved]],
                                "to": self.labels[new[moved]]})
        self.proposal = Proposal(columns=new, changes=changes, objective_before=before,
                                 objective_after=p.objective_of(new),
                                 faults=plan_faults(p, new), scope=scope,
                                 seconds=time.perf_counter() - t0, status=sol.status)
        return self.proposal

    def _territories_at_fault(self) -> np.ndarray:
        """Territories out of a band or in pieces, with every territory touching them
        (all territories when none is at fault: a rebalance then only tidies)."""
        rows = self._territory_rows()
        bad = [t for t, row in enumerate(rows) if not row["ok"]]
        if not bad:
            return np.arange(len(self.labels))
        near = set(bad)
        cols = self.columns
        for u, v in self.problem.adjacency.edges():
            if cols[u] in bad or cols[v] in bad:
                near.update((int(cols[u]), int(cols[v])))
        return np.asarray(sorted(near))

    def accept(self) -> int:
        """Apply the pending proposal as one edit (undoable); returns units moved."""
        prop = self.proposal
        if prop is None:
            raise InputError("no rebalance to accept: press Rebalance first")
        units = np.flatnonzero(prop.columns != self.columns)
        if len(units):
            self._apply("rebalance", units, prop.columns[units], self.locks,
                        note=f"{len(units)} units, objective {prop.objective_before:,.0f} "
                             f"-> {prop.objective_after:,.0f}")
        self.proposal = None
        return len(units)

    def discard(self) -> None:
        """Drop the pending proposal."""
        self.proposal = None

    # ------------------------------------------------------------------ figures

    def _territory_rows(self) -> list[dict[str, Any]]:
        p, cols, plan = self.problem, self.columns, self.plan
        k = len(self.labels)
        bands = plan.bands
        accounts = np.bincount(cols, weights=self.accounts, minlength=k)
        dist = p.pair_distances(np.arange(p.n_units), cols)
        cover = covered_share(self.potential if self.potential is not None
                              else self.accounts, dist, self.reach_km, cols, k)
        pieces = plan.piece_counts()
        moved = self._moved(cols, k)
        changed = np.bincount(cols, weights=np.where(cols != self.baseline, self.accounts, 0),
                              minlength=k)
        rows = []
        for t in range(k):
            figures = {}
            ok = pieces[t] <= 1 or not p.contiguity
            for m in self.metrics:
                j = bands.metrics.index(m)
                value, lower, upper = plan.sums[j, t], bands.lower[j, t], bands.upper[j, t]
                held = bool(bands_held(np.array([value]), np.array([lower]),
                                       np.array([upper]))[0])
                ok &= held
                figures[m] = {"value": float(value), "lower": float(lower),
                              "upper": float(upper), "target": float(self._targets[m][t]),
                              "held": held}
            rows.append({"territory": str(self.labels[t]), "rep_id": str(self.rep_ids[t]),
                         "rep_name": str(self.rep_names[t]), "metrics": figures,
                         "accounts": int(accounts[t]), "pieces": int(pieces[t]),
                         "coverage": None if np.isnan(cover[t]) else float(cover[t]),
                         "moved": None if moved is None else int(moved[t]),
                         "changed": int(changed[t]), "ok": bool(ok)})
        return rows

    def _moved(self, cols: np.ndarray, k: int) -> np.ndarray | None:
        """Accounts each territory holds that the current alignment gives another rep."""
        if self._moves is None:
            return None
        return np.bincount(cols, weights=self._moves[np.arange(len(cols)), cols], minlength=k)

    def figures(self) -> dict[str, Any]:
        """The live figures of the plan as it stands (JSON-able)."""
        t0 = time.perf_counter()
        p, cols = self.problem, self.columns
        rows = self._territory_rows()
        objective = p.objective_of(cols)
        bound = self.start.bound
        faults = plan_faults(p, cols)
        out = {
            "territories": rows,
            "metrics": self.metrics,
            "objective": objective,
            "start_objective": self.start.objective,
            "bound": bound,
            "gap": None if bound is None else relative_gap(objective, bound),
            "faults": faults,
            "moved": None if self._moves is None else int(sum(r["moved"] for r in rows)),
            "changed": int(self.accounts[cols != self.baseline].sum()),
            "changed_units": int((cols != self.baseline).sum()),
            "edits": len(self.done), "can_undo": bool(self.done),
            "can_redo": bool(self.undone),
            "reach_km": self.reach_km,
        }
        out["ms"] = (time.perf_counter() - t0) * 1e3
        return out

    def table(self) -> pd.DataFrame:
        """The live figures as one row per territory (for a notebook): each metric's
        % of target and whether its band holds, accounts, pieces, coverage, accounts
        moved from their current owners and changed against the start."""
        rows = []
        for r in self._territory_rows():
            row = {"territory": r["territory"], "rep_id": r["rep_id"]}
            for m, x in r["metrics"].items():
                row[f"{m}_pct_target"] = 100 * x["value"] / x["target"] if x["target"] \
                    else np.nan
                row[f"{m}_in_band"] = x["held"]
            row |= {k: r[k] for k in ("accounts", "pieces", "coverage", "moved", "changed")}
            rows.append(row)
        table = pd.DataFrame(rows)
        return table.drop(columns="moved") if self._moves is None else table

    def state(self) -> dict[str, Any]:
        """The figures, each unit's territory, the locks, the log and any proposal."""
        prop = self.proposal
        return self.figures() | {
            "columns": self.columns.tolist(),
            "locks": sorted(int(i) for i in self.locks),
            "fixed": sorted(int(i) for i in self.fixed),
            "log": self.log[-200:],
            "proposal": None if prop is None else {
                "changes": prop.changes.to_dict("records"),
                "units": [self._unit_pos[u] for u in prop.changes["unit_id"]],
                "to": [int(self._terr_pos[t]) for t in prop.changes["to"]],
                "objective_before": prop.objective_before,
                "objective_after": prop.objective_after, "faults": prop.faults,
                "scope": prop.scope, "seconds": prop.seconds, "status": prop.status},
        }

    # ------------------------------------------------------------------ results

    def solution(self) -> Solution:
        """The plan as it stands, as a :class:`~territory_opt.Solution` (status
        ``"edited"``; its gap is against the bound of the plan it started from)."""
        return Solution.from_unit_centres(
            self.problem, self.columns.copy(), status="edited", bound=self.start.bound,
            solver=f"{self.start.solver}, edited by hand", seconds={},
            options=dict(self.start.options))

    def edits_table(self) -> pd.DataFrame:
        """One row per account whose rep differs from the plan the session started
        from: ``account_id, unit_id, from_rep_id, to_rep_id, how, locked``."""
        p, cols = self.problem, self.columns
        how: dict[int, str] = {}
        for edit in self.done:
            for i in edit.units:
                if edit.action in ("assign", "rebalance"):
                    how[int(i)] = "by hand" if edit.action == "assign" else "rebalance"
        rows = []
        ids = p.units["account_ids"] if "account_ids" in p.units else \
            pd.Series([[u] for u in self.unit_ids])
        for i in np.flatnonzero(cols != self.baseline):
            for a in ids.iloc[i]:
                rows.append({"account_id": str(a), "unit_id": self.unit_ids[i],
                             "from_rep_id": self.rep_ids[self.baseline[i]],
                             "to_rep_id": self.rep_ids[cols[i]], "how": how.get(int(i), ""),
                             "locked": bool(i in self.locks)})
        return pd.DataFrame(rows, columns=["account_id", "unit_id", "from_rep_id",
                                           "to_rep_id", "how", "locked"])

    def save(self, out: str | Path | None = None) -> Path:
        """Write the edited plan as a new run folder: every output of a run, plus
        ``edits.csv`` and the edit log in ``manifest.json``. The folder the plan
        came from is never written; ``out`` defaults to a new folder beside it
        (``<run>-edited``, ``-edited-2``, ...). All or nothing."""
        from territory_opt import io
        from territory_opt.outputs import build_output_files
        from territory_opt.outputs.tables import scenario_summary
        from territory_opt.scenario.run import run_files

        ctx = self.context
        dest = Path(out) if out is not None else self._default_out()
        if ctx.source is not None and dest.absolute().resolve() == ctx.source.resolve():
            raise InputError(f"'{dest}' is the run being edited; save into a new folder "
                             "(the original stays as it was)")
        solution = self.solution()
        summary = scenario_summary(solution, reach_km=ctx.reach_km)
        edits = self.edits_table()
        stamp = {"edited_from": None if ctx.source is None else str(ctx.source),
                 "edits": self.log, "edited_accounts": len(edits),
                 "locks": [self.unit_ids[i] for i in sorted(self.locks)],
                 "faults": plan_faults(self.problem, self.columns)}
        if ctx.result is not None and ctx.loaded is not None:
            result = copy.copy(ctx.result)
            manifest = copy.deepcopy(ctx.result.manifest)
            manifest["summary"] = manifest.get("summary", {}) | summary
            result.solution, result.manifest = solution, manifest
            files = run_files(result, ctx.loaded)
        else:
            manifest = {"summary": summary}
            files = build_output_files(solution, manifest, title=ctx.title,
                                       reach_km=ctx.reach_km)
        manifest.update({"finished_at": _now(), "status": "edited",
                         "objective": solution.objective, "bound": solution.bound,
                         "gap": solution.gap, "edited": stamp})
        files["manifest.json"] = manifest
        files["edits.csv"] = edits
        written = io.write_outputs(dest, files)
        self.log.append({"at": _now(), "action": "save", "units": 0, "unit_ids": [],
                         "note": str(written)})
        return written

    def _default_out(self) -> Path:
        src = self.context.source
        base = (src.parent / f"{src.name}-edited") if src is not None \
            else Path("out") / "edited"
        dest, n = base, 1
        while dest.exists():
            n += 1
            dest = base.with_name(f"{base.name}-{n}")
        return dest


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def open_run(run_dir: str | Path) -> EditSession:
    """An :class:`EditSession` on a finished run folder: its scenario and inputs are
    read again (each input must be unchanged since the run: same SHA-256), its
    plan from ``assignments.csv``."""
    from territory_opt import io
    from territory_opt.scenario.run import (
        RunResult,
        build_problem,
        input_records,
        load_inputs,
    )
    from territory_opt.scenario.schema import scenario_from_dict

    folder = Path(run_dir)
    manifest, table = io.read_run(folder)
    manifest_file = folder / io.MANIFEST
    if "teams" in manifest:
        names = ", ".join(manifest["teams"])
        raise InputError(f"'{folder}' holds one plan per team ({names}); edit one team's "
                         f"folder, e.g. territory-opt edit {folder / next(iter(manifest['teams']))}")
    head = manifest.get("scenario") or {}
    if not head.get("file"):
        raise InputError(f"'{folder}' was run from a scenario given in code, not a file; "
                         "edit it from the notebook: solution.edit()")
    for item in manifest.get("inputs", []):
        if "path" not in item:  # a query: its rows are compared once read, below
            continue
        path = Path(item["path"])
        if not path.is_file():
            raise InputError(f"input '{path}' of this run ({item['role']}) is gone; put it "
                             "back, or run the scenario again")
        if io.sha256_file(path) != item["sha256"]:
            raise InputError(f"input '{path}' ({item['role']}) changed since this run; run "
                             "the scenario again, then edit the new run")
    scenario = scenario_from_dict(head["content"], base_dir=Path(head["file"]).parent,
                                  source=f"of '{manifest_file}'")
    loaded = load_inputs(scenario)
    now = {i["role"]: i for i in input_records(loaded) if "database" in i}
    for item in manifest.get("inputs", []):
        if "database" in item and now.get(item["role"], {}).get("sha256") != item["sha256"]:
            raise InputError(f"the rows of {item['role']} (database {item['database']!r}) "
                             "changed since this run; run the scenario again, then edit "
                             "the new run")
    problem = build_problem(scenario, loaded)
    plan = _plan_from_assignments(problem, _with_empty_units(table, folder),
                                  folder / "assignments.csv")
    solution = Solution.from_unit_centres(
        problem, plan, status=manifest.get("status", "feasible"), bound=manifest.get("bound"),
        solver=(manifest.get("solver") or {}).get("name", "unknown"), seconds={},
        options={})
    quality_file = folder / "quality.csv"
    quality = pd.read_csv(quality_file, dtype=str, keep_default_na=False) \
        if quality_file.is_file() else None
    result = RunResult(scenario=scenario, solution=solution, out_dir=folder,
                       manifest=manifest, quality=quality)
    context = RunContext(result=result, loaded=loaded, source=folder.absolute(),
                         title=scenario.name, reach_km=scenario.report.reach_km)
    return EditSession(solution, context=context)


def _with_empty_units(table: pd.DataFrame, folder: Path) -> pd.DataFrame:
    """``assignments.csv``'s ``unit_id, rep_id`` (one row per account), and the units
    without accounts (an area with potential and no customer) from the units layer
    of ``territories.gpkg``, which holds every unit."""
    pairs = table[["unit_id", "rep_id"]]
    layer = folder / "territories.gpkg"
    if not layer.is_file():
        return pairs
    import pyogrio

    units = pyogrio.read_dataframe(layer, layer="units", columns=["unit_id", "rep_id"],
                                   read_geometry=False).astype(str)
    empty = units[~units["unit_id"].isin(set(pairs["unit_id"]))]
    return pd.concat([pairs, empty], ignore_index=True)


def _plan_from_assignments(problem: Any, table: pd.DataFrame, where: Path) -> np.ndarray:
    """Each unit's territory position from a run's assignments (unit_id, rep_id)."""
    pos = problem.rep_positions
    units = {str(u): i for i, u in enumerate(problem.unit_ids)}
    plan = np.full(problem.n_units, -1)
    for line, (u, r) in enumerate(zip(table["unit_id"], table["rep_id"], strict=True), 2):
        i, t = units.get(str(u)), pos.get(str(r))
        if i is None or t is None:
            what = f"unit {u!r}" if i is None else f"rep {r!r}"
            raise InputError(f"{where}, line {line}: {what} is not in the scenario's data "
                             "as read now; run the scenario again")
        plan[i] = t
    missing = np.flatnonzero(plan < 0)
    if len(missing):
        raise InputError(f"{where} gives no rep for unit {problem.unit_ids[missing[0]]!r} "
                         f"({len(missing)} units); run the scenario again")
    return plan
