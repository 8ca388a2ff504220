"""The territory problem and its mixed-integer formulation.

:class:`TerritoryProblem` is a frozen specification; :func:`check_feasibility`
finds the conflicts that can be seen without a solver; :func:`build_model` turns
the problem into a PuLP model. Only this module and :mod:`territory_opt.solve`
import PuLP.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass, field
from functools import cached_property

import geopandas as gpd
import numpy as np
import pandas as pd
import pulp

from territory_opt.errors import InfeasibleError, InputError
from territory_opt.geo import DistanceKind, distance_matrix, project

logger = logging.getLogger(__name__)

BUILTIN_METRICS = ("workload", "potential", "accounts")


def _fmt(value: float) -> str:
    return f"{value:,.1f}" if abs(value) < 1e6 else f"{value:,.0f}"


@dataclass(frozen=True, eq=False)
class TerritoryProblem:
    r"""A balanced territory-assignment problem with fixed rep home bases.

    Formulation (units :math:`i`, territories :math:`t`, one per rep)::

        min   sum_{i,t} w_i * d_{it}^p * x_{it}
        s.t.  sum_t x_{it} = 1                                   for every unit i
              (1 - tau_m) T_{mt} <= sum_i a_{im} x_{it} <= (1 + tau_m) T_{mt}
                                                   for every balanced metric m, t
              x_{it} = 1                             for every unit i locked to t
              x_{it} in {0, 1}

    where :math:`w_i` is the unit's weight (``weight`` column, workload by
    default), :math:`d_{it}` the distance in km from the unit to the home base
    of territory t's rep, :math:`p` the ``power`` (1: workload-weighted
    distance, 2: moment of inertia), :math:`a_{im}` the unit's amount of
    metric m and :math:`T_{mt} = A_m \cdot f_t / \sum_s f_s` the territory's
    target: the metric's total :math:`A_m` shared in proportion to the reps'
    FTE :math:`f_t`.

    Parameters
    ----------
    units
        Output of :func:`territory_opt.build_units`.
    reps
        Output of :func:`territory_opt.read_reps`: one territory per rep.
    balance
        Metric name to tolerance, e.g. ``{"workload": 0.05, "potential": 0.10}``
        for +-5 % and +-10 % around each territory's target. Metrics are unit
        columns: ``workload``, ``potential``, ``accounts`` (the count) or any
        column summed by ``build_units(..., sums=...)``.
    weight
        Unit column weighting the distance in the objective.
    power
        1 or 2: the exponent of the distance.
    distance
        ``"euclidean"`` (in the units' metric CRS) or ``"great_circle"``.
    locks
        Account id or unit id to rep id (or territory label): assignments that
        must hold. Locking an account locks the unit it is in.
    """

    units: gpd.GeoDataFrame
    _: KW_ONLY
    reps: gpd.GeoDataFrame
    balance: Mapping[str, float] = field(default_factory=lambda: {"workload": 0.05})
    weight: str = "workload"
    power: int = 1
    distance: DistanceKind = "euclidean"
    locks: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.units, gpd.GeoDataFrame) or "unit_id" not in self.units:
            raise InputError("units must be the GeoDataFrame of territory_opt.build_units()")
        if len(self.units) == 0:
            raise InputError("there are no planning units: the accounts table is empty")
        if self.units.crs is None or not self.units.crs.is_projected:
            raise InputError("units must be in a projected CRS; build them with "
                             "territory_opt.build_units()")
        if not isinstance(self.reps, gpd.GeoDataFrame) or "rep_id" not in self.reps:
            raise InputError("reps must be the GeoDataFrame of territory_opt.read_reps()")
        k, n = len(self.reps), len(self.units)
        if k < 1:
            raise InputError("there are no reps: give at least one rep (one territory each)")
        if k > n:
            raise InfeasibleError(f"{k} reps but only {n} planning units: every territory "
                                  "needs at least one unit; use fewer reps or smaller units "
                                  "(e.g. units method 'accounts' or more clusters)")
        if self.power not in (1, 2):
            raise InputError(f"power must be 1 or 2, got {self.power!r}")
        if self.distance not in ("euclidean", "great_circle"):
            raise InputError(f"distance must be 'euclidean' or 'great_circle', got "
                             f"{self.distance!r}")
        if self.weight not in self.units.columns:
            raise InputError(f"objective weight {self.weight!r} is not a unit column; "
                             f"use one of: {', '.join(self._numeric_columns())}")
        if not self.balance:
            logger.warning("no balance band: territories may be very uneven")
        for metric, tol in self.balance.items():
            if metric not in self.units.columns:
                raise InputError(
                    f"balance metric {metric!r} is not a unit column; use one of: "
                    f"{', '.join(self._numeric_columns())} (other account columns must be "
                    "summed into units with build_units(..., sums=[...]))")
            if not isinstance(tol, (int, float)) or not 0 <= tol < 1:
                raise InputError(f"balance tolerance for {metric!r} must be a share between "
                                 f"0 and 1 (0.05 for +-5 %), got {tol!r}")
        object.__setattr__(self, "balance", dict(self.balance))
        object.__setattr__(self, "locks", dict(self.locks))
        _ = self.locked  # resolve locks now, so that bad ones fail at construction

    def _numeric_columns(self) -> list[str]:
        return [c for c in self.units.columns
                if c not in ("x", "y") and pd.api.types.is_numeric_dtype(self.units[c])]

    # ------------------------------------------------------------------ derived data

    @property
    def n_units(self) -> int:
        return len(self.units)

    @property
    def n_territories(self) -> int:
        return len(self.reps)

    @cached_property
    def territories(self) -> pd.DataFrame:
        """One row per territory: label, rep, FTE and home base in the units' CRS."""
        base = project(self.reps, self.units.crs)
        return pd.DataFrame({
            "territory": self.reps["territory"].astype(str).to_numpy(),
            "rep_id": self.reps["rep_id"].astype(str).to_numpy(),
            "rep_name": self.reps["name"].astype(str).to_numpy(),
            "fte": self.reps["fte"].to_numpy(dtype=float),
            "x": base.geometry.x.to_numpy(), "y": base.geometry.y.to_numpy(),
        })

    @cached_property
    def distances(self) -> np.ndarray:
        """``(n_units, n_territories)`` distances in km from unit to rep base."""
        pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(self.units["x"], self.units["y"]),
                               crs=self.units.crs)
        base = gpd.GeoDataFrame(geometry=gpd.points_from_xy(self.territories["x"],
                                                            self.territories["y"]),
                                crs=self.units.crs)
        return distance_matrix(pts, base, kind=self.distance)

    @cached_property
    def costs(self) -> np.ndarray:
        """Objective coefficients ``w_i * d_it ** power``."""
        w = self.units[self.weight].to_numpy(dtype=float)
        return w[:, None] * self.distances**self.power

    def objective_of(self, assignment: np.ndarray) -> float:
        """Objective value of an assignment (territory position per unit)."""
        return float(self.costs[np.arange(self.n_units), assignment].sum())

    def values(self, metric: str) -> np.ndarray:
        """Each unit's amount of ``metric``."""
        return self.units[metric].to_numpy(dtype=float)

    def targets(self, metric: str) -> np.ndarray:
        """Each territory's target of ``metric``: the total shared by FTE."""
        fte = self.territories["fte"].to_numpy()
        return self.values(metric).sum() * fte / fte.sum()

    def bounds(self, metric: str) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper band of ``metric`` for each territory."""
        tol = self.balance[metric]
        target = self.targets(metric)
        return (1 - tol) * target, (1 + tol) * target

    @cached_property
    def locked(self) -> dict[int, int]:
        """Unit position to territory position, for every lock."""
        if not self.locks:
            return {}
        terr = self.territories
        rep_pos = {r: i for i, r in enumerate(terr["rep_id"])}
        rep_pos |= {t: i for i, t in enumerate(terr["territory"]) if t not in rep_pos}
        unit_pos = {u: i for i, u in enumerate(self.units["unit_id"].astype(str))}
        account_pos: dict[str, int] = {}
        if "account_ids" in self.units:
            for i, members in enumerate(self.units["account_ids"]):
                for a in members:
                    account_pos[str(a)] = i
        out: dict[int, int] = {}
        why: dict[int, str] = {}
        for key, rep in self.locks.items():
            key, rep = str(key), str(rep)
            if rep not in rep_pos:
                raise InputError(f"lock of {key!r} names rep {rep!r}, which is not among the "
                                 f"reps ({', '.join(terr['rep_id'][:10])}...); fix the rep id")
            pos = account_pos.get(key, unit_pos.get(key))
            if pos is None:
                raise InputError(f"lock names {key!r}, which is neither an account id nor a "
                                 "unit id; fix the id or remove the lock")
            t = rep_pos[rep]
            if out.get(pos, t) != t:
                raise InputError(
                    f"locks conflict: {why[pos]} and {key!r} are in the same unit "
                    f"{self.units['unit_id'].iloc[pos]!r} but are locked to "
                    f"{terr['rep_id'][out[pos]]!r} and {rep!r}; lock them to one rep, or "
                    "use smaller units (units method 'accounts')")
            out[pos], why[pos] = t, key
        return out

    def with_options(self, **changes: object) -> TerritoryProblem:
        """A copy of the problem with some parameters changed."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def check_feasibility(problem: TerritoryProblem) -> None:
    """Raise :class:`InfeasibleError` for conflicts visible without a solver.

    Checks, for every balanced metric: the bands can hold the total; no unit is
    heavier than the upper band of every territory it may join; the units
    locked to a territory do not overfill it; and every territory can still
    reach its lower band with what is not locked elsewhere.
    """
    terr = problem.territories
    names = [f"territory {t!r} (rep {r!r})" for t, r in zip(terr["territory"], terr["rep_id"],
                                                              strict=True)]
    k = problem.n_territories
    locked_units = np.array(sorted(problem.locked), dtype=int)
    locked_to = np.array([problem.locked[i] for i in locked_units], dtype=int)
    for metric, tol in problem.balance.items():
        a = problem.values(metric)
        lower, upper = problem.bounds(metric)
        total = a.sum()
        band = f"the {metric} band (+-{tol:.0%} of target)"
        if upper.sum() < total - 1e-9 or lower.sum() > total + 1e-9:
            raise InfeasibleError(
                f"{band}: the {k} territories can hold {_fmt(lower.sum())} to "
                f"{_fmt(upper.sum())} in all, but the units total {_fmt(total)}; widen the band")
        free_max = upper.max()
        heavy = np.flatnonzero(a > free_max + 1e-9)
        for i in heavy:
            if i in problem.locked:
                continue
            raise InfeasibleError(
                f"unit {problem.units['unit_id'].iloc[i]!r} has {metric} {_fmt(a[i])}, more than "
                f"{band} allows any territory (at most {_fmt(free_max)}); widen the band or "
                "split the unit (smaller units, or units method 'accounts')")
        locked_sum = np.bincount(locked_to, weights=a[locked_units], minlength=k)
        for t in range(k):
            if locked_sum[t] > upper[t] + 1e-9:
                raise InfeasibleError(
                    f"{names[t]}: its locked units carry {metric} {_fmt(locked_sum[t])}, more "
                    f"than {band} allows it (at most {_fmt(upper[t])}, target "
                    f"{_fmt(problem.targets(metric)[t])}); unlock some or widen the band")
        for t in range(k):
            reachable = total - (locked_sum.sum() - locked_sum[t])
            if reachable < lower[t] - 1e-9:
                raise InfeasibleError(
                    f"{names[t]}: needs at least {_fmt(lower[t])} {metric} for {band}, but "
                    f"only {_fmt(reachable)} is not locked to other territories; unlock some "
                    "or widen the band")


def build_model(problem: TerritoryProblem) -> tuple[pulp.LpProblem, dict[tuple[int, int], pulp.LpVariable]]:
    """The PuLP model of ``problem`` (formulation in :class:`TerritoryProblem`).

    Returns the model and its variables ``x[(i, t)]``; a locked unit has a
    single variable, fixed to 1.
    """
    n, k = problem.n_units, problem.n_territories
    cost = problem.costs
    lp = pulp.LpProblem("territories", pulp.LpMinimize)
    x: dict[tuple[int, int], pulp.LpVariable] = {}
    for i in range(n):
        allowed = [problem.locked[i]] if i in problem.locked else range(k)
        for t in allowed:
            x[i, t] = lp.add_variable(f"x_{i}_{t}", lowBound=1 if i in problem.locked else 0,
                                      upBound=1, cat=pulp.LpBinary)
    lp += pulp.LpAffineExpression([(v, float(cost[i, t])) for (i, t), v in x.items()])
    by_unit: list[list[pulp.LpVariable]] = [[] for _ in range(n)]
    by_terr: list[list[tuple[int, pulp.LpVariable]]] = [[] for _ in range(k)]
    for (i, t), v in x.items():
        by_unit[i].append(v)
        by_terr[t].append((i, v))
    for i in range(n):
        lp += pulp.LpAffineExpression([(v, 1.0) for v in by_unit[i]]) == 1, f"assign_{i}"
    for m, metric in enumerate(problem.balance):
        a = problem.values(metric)
        lower, upper = problem.bounds(metric)
        for t in range(k):
            expr = pulp.LpAffineExpression([(v, float(a[i])) for i, v in by_terr[t] if a[i]])
            lp += expr >= float(lower[t]), f"lo_{m}_{t}"
            lp += expr <= float(upper[t]), f"up_{m}_{t}"
    return lp, x
