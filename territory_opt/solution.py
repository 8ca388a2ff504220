"""The result of a solve: an assignment of units to territories, and its quality."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from territory_opt import metrics
from territory_opt.errors import InfeasibleError
from territory_opt.geo import split_antimeridian

if TYPE_CHECKING:
    import folium

    from territory_opt.problem import TerritoryProblem

__all__ = ["Solution", "relative_gap"]

HTML_MAX_UNITS = 20_000  # Jupyter's view of a larger plan skips the per-territory table


def relative_gap(objective: float, bound: float) -> float:
    """``(objective - bound) / objective``: how far a plan may be from the optimum."""
    return max(0.0, (objective - bound) / max(abs(objective), 1e-9))


@dataclass(frozen=True, eq=False)
class Solution:
    """A solved territory plan.

    Attributes
    ----------
    problem
        The problem solved.
    assignment
        ``assignment[i]`` is the position (in :attr:`territory_info`) of unit
        i's territory.
    centres
        ``centres[t]`` is territory t's column in ``problem.distances``: the
        rep's position with fixed centres, the centre unit's position with
        model centres.
    status
        ``"optimal"``: proven optimal within the requested relative gap;
        ``"feasible"``: a valid plan found before the time limit, not proven.
    objective
        Objective value of the assignment (recomputed exactly from it).
    bound
        Best proven lower bound on the objective (None if the solver gives none);
        :attr:`bound_from` says whose it is.
    gap
        ``(objective - bound) / objective`` (None without a bound).
    solver
        Name of the solver used.
    seconds
        Seconds per stage: ``check`` and ``build`` (the model), then the
        method's own (``presolve``, ``solve``; ``repair`` on the Lagrangian path
        with contiguity).
    options
        Solver options used (time limit, gap, threads, seed).
    """

    problem: TerritoryProblem
    assignment: np.ndarray
    centres: np.ndarray
    status: str
    objective: float
    bound: float | None
    gap: float | None
    solver: str
    seconds: dict[str, float] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        gap = "unknown" if self.gap is None else f"{self.gap:.4%}"
        return (f"Solution(status={self.status!r}, objective={self.objective:,.2f}, "
                f"gap={gap}, units={self.problem.n_units}, "
                f"territories={self.problem.n_territories})")

    @property
    def bound_from(self) -> str | None:
        """Which proof the bound comes from, in words (None without a bound): the
        exact model of this problem (with contiguity, the flow model's, which holds
        contiguity too), the plain problem's (contiguity dropped: a bound on every
        connected plan, but never above the plain optimum), the Lagrangian dual's, or
        the region level's (top-down)."""
        if self.bound is None:
            return None
        key = self.options.get("bound_from")
        contiguity = self.problem.contiguity
        return {"model": "the flow model's, contiguity included" if contiguity
                else "the exact model's",
                "plain": "the plain problem's, contiguity dropped",
                "lagrangian": "the Lagrangian dual's" + (", contiguity dropped"
                                                         if contiguity else ""),
                "regions": "the region level's"}.get(key, "the solver's")

    def _repr_html_(self) -> str:
        """Jupyter's view: the outcome, then one row per territory (:meth:`summary`)."""
        import html

        gap = "unknown" if self.gap is None else f"{self.gap:.4%}"
        bound = "none" if self.bound is None else f"{self.bound:,.2f}"
        p = self.problem
        head = (f"<b>{html.escape(self.status)}</b>: objective {self.objective:,.2f}, "
                f"lower bound {bound}, gap {gap}; {p.n_units:,} units in "
                f"{p.n_territories} territories; {html.escape(self.solver)}, "
                f"{sum(self.seconds.values()):.1f} s")
        if p.n_units > HTML_MAX_UNITS:
            return (f"<div>{head}<br><i>summary() gives the per-territory table "
                    f"(not drawn here for over {HTML_MAX_UNITS:,} units)</i></div>")
        table = self.summary().to_html(index=False, float_format=lambda v: f"{v:,.4g}",
                                       border=0, na_rep="")
        return f"<div>{head}{table}</div>"

    @classmethod
    def relaxed(cls, problem: TerritoryProblem, unit_centres: np.ndarray, why: Exception,
                violation: float, seconds: dict[str, float], record: dict[str, Any], *,
                violation_bound: float | None = None,
                widened_bands: str | None = None) -> Solution:
        """A compromise: status ``"relaxed"`` (no bound, no gap, never optimal), with
        ``why`` no plan holds every band (``relaxed_because``), its total ``violation``
        and a proven lower bound on it when one is known (``violation_bound``)."""
        return cls.from_unit_centres(
            problem, unit_centres, status="relaxed", bound=None, solver="HiGHS",
            seconds=seconds, options=record | {
                "relaxed_because": str(why), "violation": float(violation),
                "violation_bound": None if violation_bound is None
                else min(violation_bound, violation),
                "widened_bands": widened_bands,
                "proven_infeasible": isinstance(why, InfeasibleError)})

    @classmethod
    def from_unit_centres(cls, problem: TerritoryProblem, unit_centres: np.ndarray, *,
                          status: str, bound: float | None, solver: str,
                          seconds: dict[str, float], options: dict[str, Any]) -> Solution:
        """A solution from each unit's centre column (see ``centres``); the
        objective is computed from the plan, the gap from it and ``bound``."""
        if problem.centres == "fixed":
            centres = np.arange(problem.n_territories)
            assignment = np.asarray(unit_centres, dtype=int)
        else:
            centres, assignment = np.unique(unit_centres, return_inverse=True)
        objective = problem.objective_of(unit_centres)
        return cls(problem=problem, assignment=assignment, centres=centres, status=status,
                   objective=objective, bound=bound,
                   gap=None if bound is None else relative_gap(objective, bound),
                   solver=solver, seconds=seconds, options=options)

    # ------------------------------------------------------------------ tables

    @cached_property
    def territory_info(self) -> pd.DataFrame:
        """One row per territory: label, rep, FTE, centre (unit id) and its x, y."""
        terr = self.problem.territories.copy()
        if self.problem.centres == "model":
            units = self.problem.units
            terr["centre"] = units["unit_id"].astype(str).to_numpy()[self.centres]
            terr["x"] = units["x"].to_numpy()[self.centres]
            terr["y"] = units["y"].to_numpy()[self.centres]
        else:
            terr["centre"] = ""
        return terr

    def territory_labels(self) -> np.ndarray:
        """Territory label of each unit."""
        return self.territory_info["territory"].to_numpy()[self.assignment]

    def unit_centres(self) -> np.ndarray:
        """Each unit's centre column in ``problem.distances``."""
        return self.centres[self.assignment]

    def sums(self, metric: str) -> np.ndarray:
        """Amount of a unit column per territory."""
        return metrics.territory_sums(self.problem.values(metric), self.assignment,
                                      self.problem.n_territories)

    def unit_distances(self) -> np.ndarray:
        """Distance in km from each unit to its own rep's base."""
        return self.problem.pair_distances(np.arange(self.problem.n_units), self.unit_centres())

    def units(self) -> gpd.GeoDataFrame:
        """The units with ``territory``, ``rep_id`` and ``distance_km`` columns."""
        terr = self.territory_info
        out = self.problem.units.drop(columns=["account_ids", "account_workloads"],
                                     errors="ignore").copy()
        out["territory"] = terr["territory"].to_numpy()[self.assignment]
        out["rep_id"] = terr["rep_id"].to_numpy()[self.assignment]
        if self.problem.regions is not None:
            out["region"] = self.problem.region_names[self.assignment]
        out["distance_km"] = self.unit_distances()
        return out

    @cached_property
    def _owners(self) -> pd.DataFrame:
        """``account_id, unit_id, territory, rep_id`` (and ``segment``) per account, by
        account id."""
        units = self.problem.units
        terr = self.territory_info
        if "account_ids" not in units:
            raise ValueError("these units carry no account membership (account_ids)")
        counts = units["account_ids"].map(len).to_numpy()
        pos = np.repeat(np.arange(len(units)), counts)
        table = pd.DataFrame({
            "account_id": [a for members in units["account_ids"] for a in members],
            "unit_id": units["unit_id"].to_numpy()[pos],
            "territory": terr["territory"].to_numpy()[self.assignment[pos]],
            "rep_id": terr["rep_id"].to_numpy()[self.assignment[pos]],
        })
        if "segment" in units:
            table["segment"] = units["segment"].to_numpy()[pos]
        if self.problem.regions is not None:
            table.insert(2, "region", self.problem.region_names[self.assignment[pos]])
        return table.sort_values("account_id", kind="stable").reset_index(drop=True)

    def assignments(self) -> pd.DataFrame:
        """One row per account: ``account_id, unit_id, territory, rep_id``, ``segment``
        when the accounts have one, and with a current alignment ``old_rep_id, moved`` (see :meth:`moves`).

        Sorted by account id, so that equal plans give identical files.
        """
        table = self._owners.copy()
        if self.problem.current:
            moves = self.moves()
            table["old_rep_id"] = moves["old_rep_id"].to_numpy()
            table["moved"] = moves["moved"].to_numpy()
        return table

    def moves(self) -> pd.DataFrame:
        """Realignment: ``account_id, old_rep_id, new_rep_id, moved`` per account.

        ``old_rep_id`` is blank for accounts not in the current alignment (new
        accounts never count as moved), so without one nothing has moved.
        """
        table = self._owners
        rep_ids = self.territory_info["rep_id"].to_numpy()
        pos = self.problem.rep_positions  # the alignment may name a rep or a territory
        current = {str(a): rep_ids[pos[str(r)]] for a, r in self.problem.current.items()}
        old = table["account_id"].map(lambda a: current.get(a, ""))
        return pd.DataFrame({"account_id": table["account_id"], "old_rep_id": old,
                             "new_rep_id": table["rep_id"],
                             "moved": (old != "") & (old != table["rep_id"])})

    def summary(self, *, reach_km: float | None = None,
                deals: pd.DataFrame | None = None) -> pd.DataFrame:
        """One row per territory (and a TOTAL row): amounts, % of target, distances,
        compactness, moves and (with ``deals``) sales figures."""
        from territory_opt.outputs.tables import summary_table

        return summary_table(self, reach_km=reach_km, deals=deals)

    def regions(self, *, reach_km: float | None = None) -> pd.DataFrame:
        """One row per region and a TOTAL row (empty without regions): amounts against
        the region targets and bands, distances, coverage, moves between regions."""
        from territory_opt.outputs.tables import region_table

        return region_table(self, reach_km=reach_km)

    @cached_property
    def region_shapes(self) -> gpd.GeoDataFrame:
        """The dissolved polygon of each region (``region`` column); empty without."""
        units = self.units()
        if "region" not in units:
            return gpd.GeoDataFrame({"region": []}, geometry=[], crs=units.crs)
        return units[["region", "geometry"]].dissolve(by="region", sort=False).reset_index()

    def coverage(self, *, reach_km: float | None = None) -> pd.DataFrame:
        """Coverage-ratio table: potential and accounts within reach, per territory."""
        from territory_opt.outputs.tables import coverage_table

        return coverage_table(self, reach_km=reach_km)

    @cached_property
    def shapes(self) -> gpd.GeoSeries:
        """The dissolved polygon of each territory, in :attr:`territory_info` order."""
        units = self.units()
        dissolved = units[["territory", "geometry"]].dissolve(by="territory", sort=False)
        return gpd.GeoSeries(dissolved.geometry.reindex(self.territory_info["territory"])
                             .to_numpy(), crs=units.crs)

    def territories(self, *, reach_km: float | None = None,
                    deals: pd.DataFrame | None = None) -> gpd.GeoDataFrame:
        """One dissolved polygon per territory, with the summary figures."""
        return self.territory_frame(self.summary(reach_km=reach_km, deals=deals))

    def territory_frame(self, table: pd.DataFrame) -> gpd.GeoDataFrame:
        """The territory rows of a :meth:`summary` table, with their polygons."""
        rows = table[table["territory"] != "TOTAL"].reset_index(drop=True)
        return gpd.GeoDataFrame(rows, geometry=self.shapes.to_numpy(), crs=self.shapes.crs)

    # ------------------------------------------------------------------ views

    def edit(self, *, port: int = 0, open_browser: bool = False,
             reach_km: float | None = None, save_to: str | None = None) -> Any:
        """Edit this plan by hand in the browser (the workbench of ``territory-opt
        edit``): serves it on 127.0.0.1 and returns the running
        :class:`~territory_opt.workbench.app.Workbench`; its ``url`` carries the
        token, its ``session`` the edits (``session.solution()`` the edited plan),
        ``stop()`` ends it. Fixed centres only."""
        from territory_opt.workbench import EditSession, RunContext
        from territory_opt.workbench.app import start

        session = EditSession(self, context=RunContext(reach_km=reach_km))
        return start(session, port=port, open_browser=open_browser, save_to=save_to)

    def explore(self, m: folium.Map | None = None, **kwargs: Any) -> folium.Map:
        """Interactive folium map of the territories (layered onto ``m`` if given)."""
        from territory_opt.outputs.maps import territory_map

        return territory_map(self, m=m, **kwargs)

    def to_file(self, path: str, *, driver: str | None = None) -> None:
        """Write the dissolved territories to a vector file (format from the suffix;
        GeoJSON in WGS 84, split at the antimeridian as RFC 7946 asks)."""
        terr = self.territories()
        if str(path).lower().endswith((".geojson", ".json")) or driver == "GeoJSON":
            terr = split_antimeridian(terr)
        terr.to_file(path, driver=driver)
