"""The territory problem: its parameters and its instance, computed once.

:class:`TerritoryProblem` is a frozen specification. Its instance (units,
territories, distances and costs, the adjacency graph) is computed on first use
and kept; its rules (bands, segments, regions, locks, roots, realignment) come from
:mod:`territory_opt.rules`, and both are checked when it is built.
:meth:`TerritoryProblem.with_options` changes parameters and keeps whatever they do
not touch (:data:`DERIVED_FROM`). The checks of a problem and of a plan against the
rules are in :mod:`territory_opt.checks`; the formulation is in
:mod:`territory_opt.solvers.mip`, the solvers in :mod:`territory_opt.solvers`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass, field
from functools import cached_property
from typing import Literal

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd

from territory_opt.errors import InfeasibleError, InputError
from territory_opt.geo import (
    MAX_DISTORTION,
    DistanceKind,
    check_overlap,
    describe_crs,
    distance_coords,
    distortion,
    point_distances,
    project,
)
from territory_opt.graph import adjacency as unit_adjacency
from territory_opt.graph import relabel_to_positions
from territory_opt.rules import PLACES, Rules, numeric_columns

__all__ = ["DERIVED_FROM", "TerritoryProblem"]


@dataclass(frozen=True, eq=False)
class TerritoryProblem(Rules):
    r"""A balanced territory-assignment problem.

    Every unit goes to one territory, every territory holds its bands, and the
    territories are compact: the objective is each unit's weighted distance to its
    territory's centre, plus a penalty on what realignment moves (the formulation,
    as the exact model builds it: :mod:`territory_opt.solvers.mip`). Centres are the
    reps' home bases (``centres="fixed"``: one territory per rep) or ``k`` units the
    model chooses (``centres="model"``: Hess / capacitated p-median).

    The rules' views (:meth:`bounds`, :attr:`locked`, :attr:`eligible`,
    :attr:`roots`, :attr:`moves` ...) are inherited from :class:`territory_opt.rules.Rules`.

    Parameters
    ----------
    units
        Output of :func:`territory_opt.build_units` (or any GeoDataFrame with
        ``unit_id``, ``x``, ``y`` and the metric columns, in a projected CRS).
    reps
        Output of :func:`territory_opt.read_reps`: one territory per rep.
        Required with fixed centres; optional with model centres (then it
        gives ``k``, and all FTEs must be equal).
    k
        Number of territories with model centres and no reps.
    centres
        ``"fixed"`` or ``"model"``.
    balance
        Metric name to band: a tolerance (``0.05`` for +-5 % of the target: the
        metric's total shared by the reps' FTE, equally among the ``k`` territories
        with model centres), or ``{"min": L, "max": U}`` absolute bounds per
        territory. Metrics are
        unit columns: ``workload``, ``potential``, ``accounts`` or any column
        summed by ``build_units(..., sums=...)``.
    weight
        Unit column weighting the distance in the objective.
    power
        1 or 2: the exponent of the distance.
    distance
        ``"auto"`` (the default): euclidean in the units' metric CRS where it
        keeps every unit-to-centre distance within 0.5 % of the great-circle
        one, great-circle otherwise (national data, islands far apart; see
        :attr:`distance_note`); ``"euclidean"``, ``"great_circle"``, or a
        matrix (DataFrame indexed by unit id, with a column per rep id for
        fixed centres or per unit id for model centres), e.g. travel times
        from :func:`territory_opt.read_distance_matrix`.
    locks
        Account id or unit id to rep id (or territory label), fixed centres
        only. Locking an account locks the unit it is in.
    contiguity
        Require every territory to be connected in ``graph``.
    current
        The current alignment, account id to rep id (or territory label), for
        realignment: moving an account away from its current rep costs
        ``move_penalty`` per account or per unit of workload (``move_measure``),
        and at most a ``max_moved`` share of all accounts (or workload) may move.
        Fixed centres only; accounts missing from it count as new (never moved).
    move_penalty, move_measure, max_moved
        See ``current``.
    contiguity_method
        ``"flow"``: single-commodity flow per territory from its root, in the
        model itself (Shirabe); ``"cuts"``: separator cuts added in rounds of
        re-solves. Both are exact.
    graph
        Adjacency of the units (networkx graph on unit ids); built from the
        units' shapes when None (see :func:`territory_opt.adjacency`).
    region_balance
        Bands on the regions (the reps' ``region`` column, see
        :func:`territory_opt.read_reps`), like ``balance``: a tolerance around
        the sum of the region's reps' targets, or absolute bounds per region.
        A region is the union of its reps' territories, so every territory lies
        in its region by construction.
    region_contiguity
        Require every region to be connected too (needs ``contiguity``).
    region_locks
        Account id or unit id to region name: the unit goes to one of the
        region's territories.
    move_level
        ``"territory"`` (default): an account moves when its rep changes;
        ``"region"``: only when its region changes (realignment between regions,
        free reshuffling inside them).
    limits
        Metric to ``(lower, upper)``, one value per territory: bounds on top of
        ``balance`` (used by the top-down solve of regions, whose sub-problems
        keep the company-wide bands of their reps).
    """

    units: gpd.GeoDataFrame
    _: KW_ONLY
    reps: gpd.GeoDataFrame | None = None
    k: int | None = None
    centres: Literal["fixed", "model"] = "fixed"
    balance: Mapping[str, object] = field(default_factory=lambda: {"workload": 0.05})
    weight: str = "workload"
    power: int = 1
    distance: DistanceKind | Literal["auto"] | pd.DataFrame = "auto"
    locks: Mapping[str, str] = field(default_factory=dict)
    contiguity: bool = False
    graph: nx.Graph | None = None
    contiguity_method: Literal["flow", "cuts"] = "flow"
    current: Mapping[str, str] = field(default_factory=dict)
    move_penalty: float = 0.0
    move_measure: Literal["accounts", "workload"] = "accounts"
    max_moved: float | None = None
    region_balance: Mapping[str, object] = field(default_factory=dict)
    region_contiguity: bool = False
    region_locks: Mapping[str, str] = field(default_factory=dict)
    move_level: Literal["territory", "region"] = "territory"
    limits: Mapping[str, tuple[object, object]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_parameters(self)
        if isinstance(self.distance, str) and self.distance == "auto":
            object.__setattr__(self, "distance", "euclidean" if self.distortion <= MAX_DISTORTION
                               else "great_circle")
        self._check_rules()
        if not isinstance(self.distance, str):
            _ = self.distances  # a bad distance matrix fails here, naming what it lacks

    @cached_property
    def distortion(self) -> float:
        """How far euclidean distances in the units' CRS are off the true (geodesic)
        ones, at worst, between the units and the centres the objective measures to
        (0.004: 0.4 %). ``distance="auto"`` measures great-circle above
        :data:`MAX_DISTORTION`."""
        xy = self.units[["x", "y"]].to_numpy(dtype=float)
        centres = (self.territories[["x", "y"]].to_numpy(dtype=float)
                   if self.centres == "fixed" else xy)
        return distortion(self.units.crs, xy, centres)

    @property
    def distance_note(self) -> str:
        """How distances are measured, as the manifest and ``validate`` say it: e.g.
        ``euclidean in WGS 84 / UTM zone 17N (off by at most 0.35 %)``."""
        if not isinstance(self.distance, str):
            return "the given distance matrix"
        crs = describe_crs(self.units.crs)
        off = f"{100 * self.distortion:.2g} %"
        if self.distance == "euclidean":
            return f"euclidean in {crs} (off the true distances by at most {off})"
        return (f"great-circle (on the WGS 84 ellipsoid; euclidean in {crs} would be off "
                f"the true distances by up to {off})")

    # ------------------------------------------------------------------ the instance

    @property
    def n_units(self) -> int:
        return len(self.units)

    @property
    def n_territories(self) -> int:
        return len(self.reps) if self.reps is not None else int(self.k)  # type: ignore[arg-type]

    @cached_property
    def unit_ids(self) -> list[str]:
        """Each unit's id as text (kept: a plan's re-check loops over 40,000 of them)."""
        return [str(u) for u in self.units["unit_id"]]

    @cached_property
    def territories(self) -> pd.DataFrame:
        """One row per territory: label, rep, FTE and (fixed centres) home base."""
        k = self.n_territories
        if self.reps is None:
            return pd.DataFrame({"territory": [f"T{t + 1:02d}" for t in range(k)],
                                 "rep_id": [""] * k, "rep_name": [""] * k,
                                 "fte": np.ones(k), "x": np.full(k, np.nan),
                                 "y": np.full(k, np.nan)})
        base = project(self.reps, self.units.crs)
        return pd.DataFrame({
            "territory": self.reps["territory"].astype(str).to_numpy(),
            "rep_id": self.reps["rep_id"].astype(str).to_numpy(),
            "rep_name": self.reps["name"].astype(str).to_numpy(),
            "fte": self.reps["fte"].to_numpy(dtype=float),
            "x": base.geometry.x.to_numpy() if self.centres == "fixed" else np.nan,
            "y": base.geometry.y.to_numpy() if self.centres == "fixed" else np.nan,
        })

    @cached_property
    def rep_positions(self) -> dict[str, int]:
        """Rep id, or territory label, to territory position."""
        terr = self.territories
        pos = {r: t for t, r in enumerate(terr["rep_id"])}
        return pos | {t: i for i, t in enumerate(terr["territory"]) if t not in pos}

    @property
    def n_columns(self) -> int:
        """Columns of the cost matrix: reps (fixed centres) or candidate centre units."""
        return self.n_territories if self.centres == "fixed" else self.n_units

    @cached_property
    def distances(self) -> np.ndarray:
        """``(n_units, n_columns)`` distances from each unit to each possible centre.

        Dense: the exact path's. The large path asks for blocks and pairs
        (:meth:`distance_block`, :meth:`pair_distances`) instead.
        """
        if not isinstance(self.distance, str):
            return _matrix_values(self)
        return self.distance_block(np.arange(self.n_units), np.arange(self.n_columns))

    @cached_property
    def _coords(self) -> tuple[np.ndarray, np.ndarray]:
        """Coordinates of the units and of the centre columns, for :func:`point_distances`."""
        def coords(xy: pd.DataFrame) -> np.ndarray:
            points = gpd.points_from_xy(xy["x"], xy["y"])
            return distance_coords(gpd.GeoDataFrame(geometry=points, crs=self.units.crs),
                                   self.distance)  # type: ignore[arg-type]

        units = coords(self.units)
        return (units, units) if self.centres == "model" else (units, coords(self.territories))

    @property
    def unit_coords(self) -> np.ndarray:
        """Each unit's coordinates as the distances measure them (x, y in metres, or
        unit vectors for great-circle): nearest-neighbour queries run on these."""
        return self._coords[0]

    def distance_block(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """``(len(rows), len(cols))`` distances from units ``rows`` to centre columns ``cols``."""
        if not isinstance(self.distance, str):
            return self.distances[np.ix_(rows, cols)]
        units, centres = self._coords
        return point_distances(units[rows][:, None, :], centres[cols][None, :, :],
                               self.distance)

    def pair_distances(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Distance from unit ``rows[i]`` to centre column ``cols[i]``, for every i."""
        if not isinstance(self.distance, str):
            return self.distances[rows, cols]
        units, centres = self._coords
        return point_distances(units[rows], centres[cols], self.distance)

    @cached_property
    def costs(self) -> np.ndarray:
        """Objective coefficients ``w_i * d_ic ** power`` plus the move penalty (dense)."""
        return self.cost_block(np.arange(self.n_units), np.arange(self.n_columns))

    def cost_block(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """``(len(rows), len(cols))`` objective coefficients of units ``rows`` in columns
        ``cols`` (taken from :attr:`costs` once the dense matrix exists)."""
        if "costs" in self.__dict__:
            return self.costs[np.ix_(rows, cols)]
        w = self.units[self.weight].to_numpy(dtype=float)[rows]
        cost = w[:, None] * self.distance_block(rows, cols) ** self.power
        if self.moves is not None and self.move_penalty:
            cost = cost + self.move_penalty * self.moves[np.ix_(rows, cols)]
        return cost

    def pair_costs(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Objective coefficient of unit ``rows[i]`` in column ``cols[i]``, for every i."""
        w = self.units[self.weight].to_numpy(dtype=float)[rows]
        cost = w * self.pair_distances(rows, cols) ** self.power
        if self.moves is not None and self.move_penalty:
            cost = cost + self.move_penalty * self.moves[rows, cols]
        return cost

    def best_centre(self, members: np.ndarray, candidates: np.ndarray | None = None) -> int:
        """The unit among ``candidates`` (default: the ``members``) about which the
        ``members`` cost least: a territory's best centre."""
        candidates = members if candidates is None else candidates
        return int(candidates[int(np.argmin(self.cost_block(members, candidates).sum(axis=0)))])

    def objective_of(self, columns: np.ndarray) -> float:
        """Objective of a plan given as each unit's centre column."""
        return float(self.pair_costs(np.arange(self.n_units), np.asarray(columns)).sum())

    @cached_property
    def adjacency(self) -> nx.Graph:
        """The units' adjacency graph on unit positions 0..n-1."""
        graph = self.graph if self.graph is not None else unit_adjacency(self.units)
        return relabel_to_positions(graph, self.unit_ids)

    def relaxation(self) -> TerritoryProblem:
        """The problem without contiguity whose plans include every connected plan:
        with fixed centres each territory's root is locked into it, as the contiguous
        problem keeps it. Its bound is valid for this problem."""
        if self.roots is None:
            return self.with_options(contiguity=False)
        reps = self.territories["rep_id"].to_numpy()
        return self.with_options(contiguity=False, locks=dict(self.locks) | {
            self.unit_ids[r]: str(reps[t]) for t, r in enumerate(self.roots)})

    def with_options(self, **changes: object) -> TerritoryProblem:
        """A copy of the problem with some parameters changed.

        What the changes do not touch is reused, not recomputed (see
        :data:`DERIVED_FROM`): a new lock or band keeps the distances, costs and
        adjacency graph.
        """
        if changes.get("contiguity") is False:  # a relaxation drops both levels' contiguity
            changes.setdefault("region_contiguity", False)
        new = dataclasses.replace(self, **changes)  # type: ignore[arg-type]
        for name, inputs in DERIVED_FROM.items():
            if name in self.__dict__ and name not in new.__dict__ \
                    and not inputs.intersection(changes):
                new.__dict__[name] = self.__dict__[name]
        return new


def _check_parameters(problem: TerritoryProblem) -> None:
    """The instance's parameters, checked (the rules check themselves)."""
    p = problem
    if not isinstance(p.units, gpd.GeoDataFrame) or "unit_id" not in p.units:
        raise InputError("units must be the GeoDataFrame of territory_opt.build_units()")
    if len(p.units) == 0:
        raise InputError("there are no planning units: the accounts table is empty")
    if p.units.crs is None or not p.units.crs.is_projected:
        raise InputError("units must be in a projected CRS; build them with "
                         "territory_opt.build_units()")
    if not p.units["unit_id"].is_unique:
        raise InputError("unit ids must be unique")
    if p.centres not in ("fixed", "model"):
        raise InputError(f"centres must be 'fixed' (rep home bases) or 'model' (chosen "
                         f"among the units), got {p.centres!r}")
    if p.reps is not None and (not isinstance(p.reps, gpd.GeoDataFrame)
                               or "rep_id" not in p.reps):
        raise InputError("reps must be the GeoDataFrame of territory_opt.read_reps()")
    if p.reps is not None and p.centres == "fixed":
        check_overlap(p.units, p.reps, "accounts", "reps' home bases")
    if p.centres == "fixed" and p.reps is None:
        raise InputError("fixed centres need reps (their home bases); give reps=..., "
                         "or centres='model' with k=...")
    if p.centres == "model" and p.reps is None and p.k is None:
        raise InputError("centres='model' needs k (the number of territories) or "
                         "reps; add k: N to the scenario (k=N in Python)")
    if p.reps is not None and p.k is not None and p.k != len(p.reps):
        raise InputError(f"k={p.k} but there are {len(p.reps)} reps; drop k")
    if p.centres == "model" and p.reps is not None and p.reps["fte"].nunique() > 1:
        raise InputError("with centres='model' every territory gets the same target: "
                         "give reps equal FTEs, or use fixed centres")
    k, n = p.n_territories, len(p.units)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InputError(f"the number of territories must be at least 1, got {k!r}")
    if k > n:
        raise InfeasibleError(f"{k} territories but only {n} planning units: every "
                              "territory needs at least one unit; use fewer territories "
                              "or smaller units (e.g. units method 'accounts' or more "
                              "clusters)")
    if p.power not in (1, 2):
        raise InputError(f"power must be 1 or 2, got {p.power!r}")
    if p.contiguity_method not in ("flow", "cuts"):
        raise InputError(f"contiguity_method must be 'flow' or 'cuts', got "
                         f"{p.contiguity_method!r}")
    if isinstance(p.distance, str) and p.distance not in ("auto", "euclidean",
                                                          "great_circle"):
        raise InputError(f"distance must be 'auto', 'euclidean', 'great_circle' or a "
                         f"matrix, got {p.distance!r}")
    if p.weight not in p.units.columns:
        raise InputError(f"objective weight {p.weight!r} is not a unit column; "
                         f"use one of: {', '.join(numeric_columns(p.units))}")


def _matrix_values(problem: TerritoryProblem) -> np.ndarray:
    """The user's distance matrix as an array, units by centre columns (reps, or units
    with model centres), every pair present and non-negative."""
    matrix = problem.distance
    rows = problem.unit_ids
    cols = rows if problem.centres == "model" else list(problem.territories["rep_id"])
    what = "unit" if problem.centres == "model" else "rep"
    if not isinstance(matrix, pd.DataFrame):
        raise InputError("a distance matrix must be a DataFrame indexed by unit id; read "
                         "one with territory_opt.read_distance_matrix()")
    index = [str(i) for i in matrix.index]
    columns = [str(c) for c in matrix.columns]
    known_rows, known_cols = set(index), set(columns)  # once: 40,000 rows are common
    missing_rows = [r for r in rows if r not in known_rows]
    missing_cols = [c for c in cols if c not in known_cols]
    if missing_rows or missing_cols:
        which = (f"unit {missing_rows[0]!r} as an origin" if missing_rows
                 else f"{what} {missing_cols[0]!r} as a destination")
        raise InputError(f"the distance matrix lacks {which} "
                         f"({len(missing_rows)} units and {len(missing_cols)} {what}s "
                         f"missing); give a cost from every unit to every {what}")
    m = matrix.copy()
    m.index, m.columns = index, columns
    values = m.loc[rows, cols].to_numpy(dtype=float)
    if np.isnan(values).any():
        i, j = np.argwhere(np.isnan(values))[0]
        raise InputError(f"the distance matrix has no cost from {rows[i]!r} to {cols[j]!r} "
                         f"({int(np.isnan(values).sum())} pairs missing); give every pair")
    if (values < 0).any():
        i, j = np.argwhere(values < 0)[0]
        raise InputError(f"the distance matrix has a negative cost from {rows[i]!r} to "
                         f"{cols[j]!r} ({values[i, j]:g}); costs must be 0 or more")
    return values


# The parameters each cached piece of the instance is computed from: what
# with_options may carry over to a copy in which none of them changed (the rules'
# pieces: Rules.DERIVED_FROM).
DERIVED_FROM: dict[str, frozenset[str]] = {
    "territories": PLACES,
    "distortion": PLACES,
    "distances": PLACES | {"distance"},
    "_coords": PLACES | {"distance"},
    "rep_positions": PLACES,
    "costs": PLACES | {"distance", "weight", "power", "current", "move_measure",
                       "move_penalty", "move_level"},
    "adjacency": frozenset({"units", "graph"}),
    "unit_ids": frozenset({"units"}),
    **Rules.DERIVED_FROM,
}
