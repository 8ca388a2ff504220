"""The territory problem: the instance, computed once, and the rules.

:class:`TerritoryProblem` is a frozen specification. Its instance (units,
territories, distances and costs, the adjacency graph) is computed on first use
and kept; its rules (bands, locks, the current alignment and the realignment
cap, contiguity) are checked at construction. :meth:`TerritoryProblem.with_options`
changes rules and keeps whatever of the instance they do not touch.
:func:`conflicts` finds what makes a problem infeasible without a solver.
The formulation is in the class docstring; the solvers are in
:mod:`territory_opt.solvers`.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import KW_ONLY, dataclass, field
from functools import cached_property
from typing import Literal

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely

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

__all__ = [
    "Band",
    "TerritoryProblem",
    "band_misses",
    "bands_in_words",
    "check_feasibility",
    "conflicts",
    "format_amount",
    "heavy_widening",
    "is_connected_plan",
    "max_units_per_territory",
    "parse_band",
    "plan_faults",
    "reachable_units",
    "regions_connected",
    "split_metric",
]

logger = logging.getLogger(__name__)


def format_amount(value: float) -> str:
    """An amount for a message: one decimal below a million, none above."""
    return f"{value:,.1f}" if abs(value) < 1e6 else f"{value:,.0f}"


@dataclass(frozen=True)
class Band:
    """A balance band on one metric: a tolerance around targets, or absolute bounds."""

    metric: str
    tolerance: float | None = None
    lower: float | None = None
    upper: float | None = None
    segment: str | None = None  # only units of this segment count (``workload[hospital]``)

    def describe(self) -> str:
        if self.tolerance is None and self.lower is None and self.upper is None:
            return f"the {self.metric} limits"  # per territory (TerritoryProblem.limits)
        if self.tolerance is not None:
            among = "" if self.segment is None else f" among the reps serving {self.segment!r}"
            return f"the {self.metric} band (+-{self.tolerance:.0%} of target{among})"
        lo = "-" if self.lower is None else format_amount(self.lower)
        hi = "-" if self.upper is None else format_amount(self.upper)
        return f"the {self.metric} band [{lo}, {hi}]"


SEGMENT_METRIC = re.compile(r"^\s*(?P<column>[^\[\]]+?)\s*\[\s*(?P<segment>[^\[\]]+?)\s*\]\s*$")


def bands_in_words(bands: Iterable[Band]) -> str:
    """Bands as a planner reads them: ``workload band (+-5% of target), potential band
    (+-25% of target)``."""
    return ", ".join(band.describe().removeprefix("the ") for band in bands)


def split_metric(metric: str) -> tuple[str, str | None]:
    """``"workload[hospital]"`` -> ``("workload", "hospital")``; a plain column -> (it, None)."""
    match = SEGMENT_METRIC.match(metric)
    if match is None:
        return metric, None
    return match["column"], match["segment"]


def parse_band(metric: str, spec: object) -> Band:
    """A band from ``0.05`` (tolerance), ``{"tolerance": 0.05}`` or ``{"min": L, "max": U}``."""
    def bad(msg: str) -> InputError:
        return InputError(f"balance {metric!r}: {msg}; write a share such as 0.05 "
                          "(+-5 % of target) or absolute bounds {min: 100, max: 120}")
    if isinstance(spec, bool):
        raise bad(f"got {spec!r}")
    if isinstance(spec, (int, float)):
        spec = {"tolerance": spec}
    if not isinstance(spec, Mapping):
        raise bad(f"got {spec!r}")
    unknown = set(spec) - {"tolerance", "min", "max"}
    if unknown:
        raise bad(f"unknown keys {sorted(unknown)}")
    if "tolerance" in spec:
        if set(spec) != {"tolerance"}:
            raise bad("give either a tolerance or min/max, not both")
        tol = spec["tolerance"]
        if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not 0 <= tol < 1:
            raise bad(f"the tolerance must be a share between 0 and 1, got {tol!r}")
        return Band(metric, tolerance=float(tol))
    lower, upper = spec.get("min"), spec.get("max")
    for v in (lower, upper):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise bad(f"min and max must be numbers, got {v!r}")
    if lower is None and upper is None:
        raise bad("give min, max or both")
    if lower is not None and upper is not None and lower > upper:
        raise bad(f"min {lower} is above max {upper}")
    return Band(metric, lower=None if lower is None else float(lower),
                upper=None if upper is None else float(upper))


@dataclass(frozen=True, eq=False)
class TerritoryProblem:
    r"""A balanced territory-assignment problem.

    Two ways to place territory centres:

    * ``centres="fixed"`` (default): one territory per rep, centred on the rep's
      home base. Binary :math:`x_{it}`: unit i in territory t.
    * ``centres="model"``: ``k`` territories whose centres the model chooses
      among the units (Hess / capacitated p-median). Binary :math:`x_{ij}`:
      unit i in the territory centred at unit j; :math:`x_{jj} = 1` when j is a
      centre.

    Formulation (fixed centres; for model centres read t as j and add the
    centre constraints)::

        min   sum_{i,t} w_i * d_{it}^p * x_{it}  +  pi * sum_{i,t} m_{it} x_{it}
        s.t.  sum_t x_{it} = 1                                      every unit i
              L_{mt} <= sum_i a_{im} x_{it} <= U_{mt}      every band m, territory t
              x_{it} = 1                                  every unit i locked to t
              sum_{i,t} m_{it} x_{it} <= mu * M                    (realignment cap)
              L_{mr} <= sum_{i, t in r} a_{im} x_{it} <= U_{mr}   every region band m, r
        model centres:  x_{ij} <= x_{jj},   sum_j x_{jj} = k,
              L_m x_{jj} <= sum_i a_{im} x_{ij} <= U_m x_{jj}
        contiguity: every territory induces a connected subgraph of the units'
              adjacency graph, exactly: by flows f_{uv}^c >= 0 on the graph's arcs,
              one commodity per centre column c with root r_c (the centre unit, or
              the unit nearest the rep's base), where every other unit i of the
              territory consumes one unit of flow,
                  sum_u f_{ui}^c - sum_v f_{iv}^c = x_{ic},  sum_u f_{ui}^c <= M x_{ic},
              no flow enters r_c, and M bounds a territory's units (Shirabe 2009);
              or by separator cuts added in rounds (contiguity_method="cuts")
        x binary

    where :math:`w_i` is the unit's weight (``weight`` column), :math:`d` the
    distance (km, or the user matrix's unit) to the territory's centre,
    :math:`p` the ``power`` (1: weighted distance, 2: moment of inertia) and
    :math:`a_{im}` the unit's amount of metric m, :math:`m_{it}` what moving
    unit i to territory t moves (its accounts, or workload, currently with
    other reps), :math:`\pi` the ``move_penalty``, :math:`\mu` the
    ``max_moved`` share and :math:`M` the total. A tolerance band is
    :math:`(1 \pm \tau_m) T_{mt}` around the target :math:`T_{mt}`: the metric's
    total shared in proportion to the reps' FTE (equally among the ``k``
    territories with model centres); an absolute band gives ``min`` and/or
    ``max`` for every territory.

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
        Metric name to band: a tolerance (``0.05`` for +-5 % of target), or
        ``{"min": L, "max": U}`` absolute bounds per territory. Metrics are
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
        in its region by construction. Formulation: ``L_mr <= sum_{i, t in r}
        a_im x_it <= U_mr``.
    region_contiguity
        Require every region to be connected too (needs ``contiguity``): one
        more flow commodity per region, rooted at its first territory's root,
        on ``y_ir = sum_{t in r} x_it``.
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
        if not isinstance(self.units, gpd.GeoDataFrame) or "unit_id" not in self.units:
            raise InputError("units must be the GeoDataFrame of territory_opt.build_units()")
        if len(self.units) == 0:
            raise InputError("there are no planning units: the accounts table is empty")
        if self.units.crs is None or not self.units.crs.is_projected:
            raise InputError("units must be in a projected CRS; build them with "
                             "territory_opt.build_units()")
        if not self.units["unit_id"].is_unique:
            raise InputError("unit ids must be unique")
        if self.centres not in ("fixed", "model"):
            raise InputError(f"centres must be 'fixed' (rep home bases) or 'model' (chosen "
                             f"among the units), got {self.centres!r}")
        if self.reps is not None and (not isinstance(self.reps, gpd.GeoDataFrame)
                                      or "rep_id" not in self.reps):
            raise InputError("reps must be the GeoDataFrame of territory_opt.read_reps()")
        if self.reps is not None and self.centres == "fixed":
            check_overlap(self.units, self.reps, "accounts", "reps' home bases")
        if self.centres == "fixed":
            if self.reps is None:
                raise InputError("fixed centres need reps (their home bases); give reps=..., "
                                 "or centres='model' with k=...")
            if self.k is not None and self.k != len(self.reps):
                raise InputError(f"k={self.k} but there are {len(self.reps)} reps; drop k")
        else:
            if self.reps is None and self.k is None:
                raise InputError("centres='model' needs k (the number of territories) or "
                                 "reps; add k: N to the scenario (k=N in Python)")
            if self.reps is not None and self.k is not None and self.k != len(self.reps):
                raise InputError(f"k={self.k} but there are {len(self.reps)} reps; drop k")
            if self.reps is not None and self.reps["fte"].nunique() > 1:
                raise InputError("with centres='model' every territory gets the same target: "
                                 "give reps equal FTEs, or use fixed centres")
            if self.locks:
                raise InputError("locks need fixed centres (reps); with centres='model' "
                                 "territories are not known before solving")
        k, n = self.n_territories, len(self.units)
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise InputError(f"the number of territories must be at least 1, got {k!r}")
        if k > n:
            raise InfeasibleError(f"{k} territories but only {n} planning units: every "
                                  "territory needs at least one unit; use fewer territories "
                                  "or smaller units (e.g. units method 'accounts' or more "
                                  "clusters)")
        if self.power not in (1, 2):
            raise InputError(f"power must be 1 or 2, got {self.power!r}")
        if self.contiguity_method not in ("flow", "cuts"):
            raise InputError(f"contiguity_method must be 'flow' or 'cuts', got "
                             f"{self.contiguity_method!r}")
        if isinstance(self.distance, str) and self.distance not in ("auto", "euclidean",
                                                                    "great_circle"):
            raise InputError(f"distance must be 'auto', 'euclidean', 'great_circle' or a "
                             f"matrix, got {self.distance!r}")
        if isinstance(self.distance, str) and self.distance == "auto":
            object.__setattr__(self, "distance", "euclidean" if self.distortion <= MAX_DISTORTION
                               else "great_circle")
        if self.weight not in self.units.columns:
            raise InputError(f"objective weight {self.weight!r} is not a unit column; "
                             f"use one of: {', '.join(self._numeric_columns())}")
        if not self.balance and not self.limits:
            logger.warning("no balance band: territories may be very uneven")
        self._check_segments()
        bands = {}
        for metric, spec in self.balance.items():
            bands[metric] = self._parsed_band(metric, spec, "balance")
        object.__setattr__(self, "balance", dict(self.balance))
        object.__setattr__(self, "limits", self._checked_limits())
        for metric in self.limits:
            bands.setdefault(metric, Band(metric, segment=self._metric_column(metric)[1]))
        object.__setattr__(self, "bands", bands)
        self._check_regions()
        object.__setattr__(self, "locks", dict(self.locks))
        if self.current or self.max_moved is not None or self.move_penalty:
            if self.centres != "fixed":
                raise InputError("realignment (current alignment, move penalty or cap) needs "
                                 "fixed centres (reps)")
            if not self.current:
                raise InputError("a move penalty or cap needs the current alignment "
                                 "(current=... / alignment: in the scenario)")
            if self.move_measure not in ("accounts", "workload"):
                raise InputError(f"move_measure must be 'accounts' or 'workload', got "
                                 f"{self.move_measure!r}")
            if not (isinstance(self.move_penalty, (int, float)) and self.move_penalty >= 0):
                raise InputError(f"move_penalty must be 0 or more, got {self.move_penalty!r}")
            if self.max_moved is not None and not 0 <= self.max_moved <= 1:
                raise InputError(f"max_moved is a share between 0 and 1 (0.1 = 10 %), got "
                                 f"{self.max_moved!r}")
        object.__setattr__(self, "current", dict(self.current))
        _ = self.region_locked  # resolve locks now, so that bad ones fail at construction
        _ = self.locked
        _ = self.moves
        if not isinstance(self.distance, str):
            _ = self.distances  # and a bad distance matrix

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

    def _metric_column(self, metric: str, where: str = "balance") -> tuple[str, str | None]:
        """The unit column and segment of a balanced metric, checked."""
        column, segment = ((metric, None) if metric in self.units.columns
                           else split_metric(metric))
        if column not in self.units.columns:
            raise InputError(
                f"{where} metric {metric!r} is not a unit column; use one of: "
                f"{', '.join(self._numeric_columns())} (other account columns must be "
                "summed into units with build_units(..., sums=[...])), or a column "
                "restricted to a segment, e.g. 'workload[hospital]'")
        if segment is not None:
            self._check_segment_name(segment, f"{where} metric {metric!r}")
        return column, segment

    def _parsed_band(self, metric: str, spec: object, where: str) -> Band:
        column, segment = self._metric_column(metric, where)
        band = dataclasses.replace(parse_band(metric, spec), segment=segment)
        if band.tolerance is not None and self._amounts(column, segment).sum() <= 0:
            raise InputError(
                f"{where} {metric!r}: the {metric} of all units adds up to 0, so every "
                f"target is 0; check the column read as {metric} (every value blank or "
                f"0?) or drop {metric!r} from {where}")
        return band

    def _checked_limits(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        out = {}
        for metric, pair in dict(self.limits).items():
            self._metric_column(metric, "limits")
            lo, hi = (np.asarray(v, dtype=float) for v in pair)  # type: ignore[union-attr]
            if lo.shape != (self.n_territories,) or hi.shape != lo.shape or (lo > hi).any():
                raise InputError(f"limits {metric!r}: give a lower and an upper bound per "
                                 f"territory ({self.n_territories} each), lower <= upper")
            out[metric] = (lo, hi)
        return out

    def _check_regions(self) -> None:
        """Region bands, contiguity, locks and moves need reps with a region."""
        asked = self._regions_asked()
        if self.move_level not in ("territory", "region"):
            raise InputError(f"move_level must be 'territory' or 'region', got "
                             f"{self.move_level!r}")
        if asked and self.regions is None:
            raise InputError(f"{', '.join(asked)} need reps with a region: read the reps "
                             "with region='<column>' (reps: region: in the scenario)")
        if self.region_contiguity and not self.contiguity:
            raise InputError("region contiguity needs contiguous territories (a region is "
                             "connected when its territories are and touch): set contiguity "
                             "too, or drop region contiguity")
        region_bands = {metric: self._parsed_band(metric, spec, "region balance")
                        for metric, spec in self.region_balance.items()}
        object.__setattr__(self, "region_balance", dict(self.region_balance))
        object.__setattr__(self, "region_bands", region_bands)
        object.__setattr__(self, "region_locks", dict(self.region_locks))

    def _regions_asked(self) -> list[str]:
        """The region rules given (each needs reps with a region)."""
        return [name for name, on in (
            ("region_balance", bool(self.region_balance)),
            ("region_contiguity", self.region_contiguity),
            ("region_locks", bool(self.region_locks)),
            ("move_level='region'", self.move_level == "region")) if on]

    def _check_segments(self) -> None:
        """Reps' segments need units with a segment, fixed centres and known names."""
        served = self.served
        if served is None:
            return
        if self.centres != "fixed":
            raise InputError("reps restricted to segments need fixed centres (one territory "
                             "per rep); use centres='fixed', or drop the reps' segments")
        for rep, names in zip(self.territories["rep_id"], served, strict=True):
            for name in names:
                self._check_segment_name(name, f"rep {rep!r}")

    def _check_segment_name(self, name: str, where: str) -> None:
        if "segment" not in self.units:
            raise InputError(f"{where} names segment {name!r}, but the units have no "
                             "segment; read the accounts with segment='<column>' (accounts: "
                             "segment: in the scenario) and build the units with "
                             "segment='segment'")
        known = sorted({str(v) for v in self.units["segment"]} - {""})
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise InputError(f"{where} names segment {name!r}, which no account has; "
                             f"{hint}the segments are: {', '.join(map(repr, known))}")

    def _numeric_columns(self) -> list[str]:
        return [c for c in self.units.columns
                if c not in ("x", "y") and pd.api.types.is_numeric_dtype(self.units[c])]

    # ------------------------------------------------------------------ derived data

    @property
    def n_units(self) -> int:
        return len(self.units)

    @property
    def n_territories(self) -> int:
        return len(self.reps) if self.reps is not None else int(self.k)  # type: ignore[arg-type]

    @cached_property
    def unit_ids(self) -> list[str]:
        """Each unit's id as text (built once: indexing it in a loop over 40,000 units
        rebuilt it every time, 9 s in a plan's re-check)."""
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
    def regions(self) -> list[str] | None:
        """The regions' names in the reps' order of first appearance, or None when the
        reps have no ``region`` column (or, when no region rule is given, one with
        blanks: a CRM column of that name that is not the planning level)."""
        if self.reps is None or "region" not in self.reps or self.centres != "fixed":
            return None
        names = self.reps["region"].map(lambda v: "" if pd.isna(v) else str(v).strip())
        if (names == "").any() and not self._regions_asked():
            return None
        if (names == "").any():
            blank = self.reps["rep_id"].astype(str)[(names == "").to_numpy()].tolist()
            raise InputError(f"the reps' region is blank for {', '.join(blank[:8])}; give "
                             "every rep the region they report to, or drop the region column")
        return list(dict.fromkeys(names))

    @cached_property
    def region_of(self) -> np.ndarray:
        """``(n_territories,)``: each territory's region position (all 0 without regions)."""
        if self.regions is None:
            return np.zeros(self.n_territories, dtype=int)
        pos = {r: j for j, r in enumerate(self.regions)}
        return np.array([pos[str(r).strip()] for r in self.reps["region"]],  # type: ignore[index]
                        dtype=int)

    @property
    def region_names(self) -> np.ndarray:
        """``(n_territories,)``: each territory's region name (regions required)."""
        return np.array(self.regions or [""])[self.region_of]

    @cached_property
    def served(self) -> list[tuple[str, ...]] | None:
        """Each territory's segments (its rep's; empty: every segment), or None when
        no rep is restricted."""
        from territory_opt.io.files import segment_list

        if self.reps is None or "segments" not in self.reps:
            return None
        served = [segment_list(s) for s in self.reps["segments"]]
        return served if any(served) else None

    def serves(self, segment: str) -> np.ndarray:
        """``(n_territories,)``: whether each territory's rep may serve ``segment``."""
        if self.served is None:
            return np.ones(self.n_territories, dtype=bool)
        return np.array([not s or segment in s for s in self.served])

    @cached_property
    def eligible(self) -> np.ndarray | None:
        """``(n_units, n_territories)``: whether unit i may join territory t: its segment
        is among the rep's (a unit of no segment, ``""``, goes anywhere) and, when it
        is locked to a region, t is in that region; None when every pair may."""
        if self.served is None and not self.region_locked:
            return None
        out = np.ones((self.n_units, self.n_territories), dtype=bool)
        if self.served is not None:
            seg = self.units["segment"].astype(str).to_numpy()
            for t, names in enumerate(self.served):
                if names:
                    out[:, t] = np.isin(seg, list(names)) | (seg == "")
        for i, r in self.region_locked.items():
            out[i] &= self.region_of == r
        return out

    @cached_property
    def _positions(self) -> dict[str, int]:
        """Account id (first) or unit id to the unit's position."""
        pos: dict[str, int] = {}
        if "account_ids" in self.units:
            for i, members in enumerate(self.units["account_ids"]):
                for a in members:
                    pos[str(a)] = i
        for i, u in enumerate(self.units["unit_id"].astype(str)):
            pos.setdefault(u, i)
        return pos

    @cached_property
    def region_locked(self) -> dict[int, int]:
        """Unit position to region position, for every region lock."""
        if not self.region_locks:
            return {}
        regions = self.regions or []
        out: dict[int, int] = {}
        for key, region in self.region_locks.items():
            key, region = str(key), str(region)
            if region not in regions:
                close = difflib.get_close_matches(region, regions, n=1)
                raise InputError(f"region lock of {key!r} names region {region!r}, which no "
                                 f"rep is in; {f'did you mean {close[0]!r}? ' if close else ''}"
                                 f"the regions are: {', '.join(map(repr, regions))}")
            pos = self._positions.get(key)
            if pos is None:
                raise InputError(f"region lock names {key!r}, which is neither an account id "
                                 "nor a unit id; fix the id or remove the lock")
            r = regions.index(region)
            if out.get(pos, r) != r:
                raise InputError(f"region locks conflict: unit "
                                 f"{self.units['unit_id'].iloc[pos]!r} holds accounts locked "
                                 f"to {regions[out[pos]]!r} and {region!r}; lock them to one "
                                 "region, or use smaller units (units method 'accounts')")
            out[pos] = r
        return out

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
            return self._matrix_distances()
        return self.distance_block(np.arange(self.n_units), np.arange(self.n_columns))

    @cached_property
    def _coords(self) -> tuple[np.ndarray, np.ndarray]:
        """Coordinates of the units and of the centre columns, for :func:`point_distances`."""
        kind = self.distance
        assert isinstance(kind, str)
        pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(self.units["x"], self.units["y"]),
                               crs=self.units.crs)
        units = distance_coords(pts, kind)
        if self.centres == "model":
            return units, units
        base = gpd.GeoDataFrame(geometry=gpd.points_from_xy(self.territories["x"],
                                                            self.territories["y"]),
                                crs=self.units.crs)
        return units, distance_coords(base, kind)

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

    def _matrix_distances(self) -> np.ndarray:
        matrix = self.distance
        if not isinstance(matrix, pd.DataFrame):
            raise InputError("a distance matrix must be a DataFrame indexed by unit id; read "
                             "one with territory_opt.read_distance_matrix()")
        rows = self.unit_ids
        cols = rows if self.centres == "model" else list(self.territories["rep_id"])
        what = "unit" if self.centres == "model" else "rep"
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

    @cached_property
    def rep_positions(self) -> dict[str, int]:
        """Rep id, or territory label, to territory position."""
        terr = self.territories
        pos = {r: t for t, r in enumerate(terr["rep_id"])}
        return pos | {t: i for i, t in enumerate(terr["territory"]) if t not in pos}

    def root_of(self, column: int) -> int:
        """With contiguity: the unit the territory of a centre column grows from.

        The centre unit itself with model centres; with fixed centres, the unit
        nearest the rep's base (see :attr:`roots`).
        """
        if self.centres == "model":
            return int(column)
        assert self.roots is not None, "roots exist only with contiguity"
        return int(self.roots[column])

    @property
    def moves(self) -> np.ndarray | None:
        """``(n_units, n_territories)``: what unit i moves if it joins territory t.

        Counted in accounts or workload (``move_measure``) currently with another
        rep; None without a current alignment.
        """
        return self._alignment[0]

    @property
    def move_total(self) -> float:
        """All accounts (or workload) of the current alignment: the base of ``max_moved``."""
        return self._alignment[1]

    @cached_property
    def _alignment(self) -> tuple[np.ndarray | None, float]:
        if not self.current:
            return None, 0.0
        if "account_ids" not in self.units or "account_workloads" not in self.units:
            raise InputError("realignment needs units built by build_units() (they list "
                             "their accounts)")
        pos = self.rep_positions
        unknown = sorted({str(r) for r in self.current.values()} - set(pos))
        if unknown:
            raise InputError(f"the current alignment names rep {unknown[0]!r}, which is not "
                             f"among the reps ({len(unknown)} unknown); accounts of a rep "
                             "who left: drop them from the alignment (they count as new)")
        moves = np.zeros((self.n_units, self.n_territories))
        total = 0.0
        for i, (ids, works) in enumerate(zip(self.units["account_ids"],
                                             self.units["account_workloads"], strict=True)):
            for a, w in zip(ids, works, strict=True):
                rep = self.current.get(str(a))
                if rep is None:
                    continue
                amount = 1.0 if self.move_measure == "accounts" else float(w)
                moves[i] += amount
                if self.move_level == "region":  # staying in the region is no move
                    moves[i, self.region_of == self.region_of[pos[str(rep)]]] -= amount
                else:
                    moves[i, pos[str(rep)]] -= amount
                total += amount
        return moves, total

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

    def values(self, metric: str) -> np.ndarray:
        """Each unit's amount of ``metric``: a unit column, or one restricted to a
        segment (``workload[hospital]``: the workload of the hospital units, 0 elsewhere)."""
        if metric in self.units.columns:
            return self.units[metric].to_numpy(dtype=float)
        return self._amounts(*split_metric(metric))

    def _amounts(self, column: str, segment: str | None) -> np.ndarray:
        a = self.units[column].to_numpy(dtype=float)
        if segment is None:
            return a
        return np.where(self.units["segment"].astype(str).to_numpy() == segment, a, 0.0)

    def targets(self, metric: str) -> np.ndarray:
        """Each territory's target of ``metric``: the total shared by FTE (for a metric
        restricted to a segment, among the territories whose reps serve it); for a
        metric with ``limits`` only, the middle of its limits where they are finite."""
        if metric in self.limits and metric not in self.balance:
            lo, hi = self.limits[metric]
            if np.isfinite(lo).all() and np.isfinite(hi).all():
                return (lo + hi) / 2
        fte = self.territories["fte"].to_numpy()
        segment = None if metric in self.units.columns else split_metric(metric)[1]
        if segment is not None:
            fte = fte * self.serves(segment)
        return self.values(metric).sum() * fte / max(fte.sum(), 1e-300)

    def bounds(self, metric: str) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper band of ``metric`` for each territory (within its limits)."""
        k = self.n_territories
        if metric in self.balance:
            band: Band = self.bands[metric]  # type: ignore[attr-defined]
            serving = (np.ones(k, dtype=bool) if band.segment is None
                       else self.serves(band.segment))
            lower, upper = self._band_bounds(band, self.targets(metric), serving)
        else:
            lower, upper = np.full(k, -np.inf), np.full(k, np.inf)
        if metric in self.limits:
            lo, hi = self.limits[metric]
            lower, upper = np.maximum(lower, lo), np.minimum(upper, hi)
        return lower, upper

    def region_bounds(self, metric: str) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper region band of ``metric`` for each region."""
        band: Band = self.region_bands[metric]  # type: ignore[attr-defined]
        n_regions = len(self.regions or [])
        fte = self.territories["fte"].to_numpy()
        if band.segment is not None:
            fte = fte * self.serves(band.segment)
        targets = np.bincount(self.region_of, weights=self.values(metric).sum() * fte
                              / max(fte.sum(), 1e-300), minlength=n_regions)
        serving = np.bincount(self.region_of, weights=fte, minlength=n_regions) > 0
        return self._band_bounds(band, targets, serving)

    def _band_bounds(self, band: Band, targets: np.ndarray, serving: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
        """A band's bounds around ``targets``, or absolute (a minimum binding only
        where ``serving``, for a metric restricted to a segment)."""
        if band.tolerance is not None:
            return (1 - band.tolerance) * targets, (1 + band.tolerance) * targets
        size = len(targets)
        lower = np.full(size, 0.0 if band.lower is None else band.lower)
        if band.lower is None and (self.values(band.metric) < 0).any():
            lower = np.full(size, -np.inf)
        if band.segment is not None:  # a minimum binds only the reps serving the segment
            lower = np.where(serving, lower, np.minimum(lower, 0.0))
        upper = np.full(size, np.inf if band.upper is None else band.upper)
        return lower, upper

    @cached_property
    def adjacency(self) -> nx.Graph:
        """The units' adjacency graph on unit positions 0..n-1."""
        from territory_opt.graph import adjacency, relabel_to_positions

        graph = self.graph if self.graph is not None else adjacency(self.units)
        return relabel_to_positions(graph, self.unit_ids)

    @cached_property
    def roots(self) -> np.ndarray | None:
        """Fixed centres with contiguity: the unit each territory must hold and grows
        from: the unit whose shape holds its rep's home (a district, a county), else
        the unit nearest the home."""
        if self.centres != "fixed" or not self.contiguity:
            return None
        d = self.distances
        if self.eligible is not None:  # a root is a unit the territory may hold
            d = np.where(self.eligible, d, np.inf)
        home = self.home_units
        if (home >= 0).any():
            d = d.copy()
            t = np.flatnonzero(home >= 0)
            # first choice, in the order of their distance (the nearest home first)
            d[home[t], t] -= np.nanmax(np.where(np.isfinite(d), d, np.nan)) + 1.0
        roots = np.empty(self.n_territories, dtype=int)
        locked = self.locked
        taken = set(locked)
        for t in np.argsort(d.min(axis=0), kind="stable"):
            free = next((int(i) for i in np.argsort(d[:, t], kind="stable")  # nearest first
                         if i not in taken or locked.get(int(i)) == t), None)
            if free is None or not np.isfinite(d[free, t]):  # the greedy choice ran out
                return self._matched_roots(d)  # (locks): match all territories at once
            roots[t] = free
            taken.add(free)
        return roots

    @cached_property
    def home_units(self) -> np.ndarray:
        """Per territory (fixed centres), the unit whose shape holds the rep's home
        base, or -1 (point units, or a home outside every unit). Where shapes
        overlap (a polygon per segment, accounts at one place), the nearest of them,
        then the first."""
        out = np.full(self.n_territories, -1)
        if self.centres != "fixed":
            return out
        geoms = self.units.geometry.to_numpy()
        areas = np.flatnonzero(np.isin(shapely.get_type_id(geoms), (3, 6)))  # (multi)polygons
        if len(areas):
            homes = shapely.points(self.territories[["x", "y"]].to_numpy(dtype=float))
            t, i = shapely.STRtree(geoms[areas]).query(homes, predicate="within")
            i = areas[i]
            near = self.pair_distances(i, t) if len(i) else np.zeros(0)
            order = np.lexsort((i, near, t))  # by territory: the nearest, then the first
            t, i = t[order], i[order]
            ts, first = np.unique(t, return_index=True)
            out[ts] = i[first]
        return out

    def _matched_roots(self, d: np.ndarray) -> np.ndarray:
        """Distinct roots, none locked to another territory, nearest in total; a
        territory's own locked unit first (it holds that unit anyway)."""
        from scipy.optimize import linear_sum_assignment

        allowed = np.isfinite(d)
        d = np.where(allowed, d, 0.0)
        cost = d.copy()
        for i, t in self.locked.items():
            allowed[i] = False
            allowed[i, t] = True
            cost[i, t] = -1.0
        cost = np.where(allowed, cost, d.max() * d.shape[0] + 1.0)
        units, terrs = linear_sum_assignment(cost.T)
        if not allowed[terrs, units].all():
            raise InfeasibleError(
                "contiguity: every territory needs a unit of its own to grow from, but the "
                "locks" + (" and the reps' segments" if self.eligible is not None else "")
                + " leave too few free units; lock fewer units"
                + (", let reps serve more segments" if self.eligible is not None else "")
                + " or drop contiguity")
        roots = np.empty(self.n_territories, dtype=int)
        roots[units] = terrs
        return roots

    @cached_property
    def locked(self) -> dict[int, int]:
        """Unit position to territory position, for every lock; without contiguity,
        also each polygon unit (an area of the potential layer) that holds a rep's
        home goes to that rep (with contiguity it is the territory's root)."""
        user = self._user_locks()
        return user | self._home_locks(user)

    def _home_locks(self, user: dict[int, int]) -> dict[int, int]:
        if self.contiguity or self.centres != "fixed" or not self.units.attrs.get("areas"):
            return {}
        out: dict[int, int] = {}
        for t, unit in enumerate(self.home_units.tolist()):
            if unit < 0 or unit in user or unit in out:
                continue  # none; the user's lock, or another rep's home, comes first
            if self.eligible is not None and not self.eligible[unit, t]:
                continue
            if self.region_locked.get(unit, self.region_of[t]) != self.region_of[t]:
                continue
            out[unit] = t
        return out

    def _user_locks(self) -> dict[int, int]:
        if not self.locks:
            return {}
        terr = self.territories
        rep_pos = self.rep_positions
        out: dict[int, int] = {}
        why: dict[int, str] = {}
        for key, rep in self.locks.items():
            key, rep = str(key), str(rep)
            if rep not in rep_pos:
                raise InputError(f"lock of {key!r} names rep {rep!r}, which is not among the "
                                 f"reps ({', '.join(terr['rep_id'][:10])}...); fix the rep id")
            pos = self._positions.get(key)
            if pos is None:
                raise InputError(f"lock names {key!r}, which is neither an account id nor a "
                                 "unit id; fix the id or remove the lock")
            t = rep_pos[rep]
            if self.region_locked.get(pos, self.region_of[t]) != self.region_of[t]:
                regions = self.regions or []
                raise InputError(
                    f"lock of {key!r} to rep {rep!r} (region {regions[self.region_of[t]]!r}) "
                    f"but its unit is locked to region "
                    f"{regions[self.region_locked[pos]]!r}; drop one of the two locks")
            if self.eligible is not None and not self.eligible[pos, t]:
                segment = self.units["segment"].iloc[pos]
                raise InputError(
                    f"lock of {key!r} to rep {rep!r}: it is in segment {segment!r}, which "
                    f"the rep does not serve (segments: "
                    f"{', '.join(self.served[t])}); lock it to a rep "  # type: ignore[index]
                    "who serves it, or add the segment to the rep's segments")
            if out.get(pos, t) != t:
                raise InputError(
                    f"locks conflict: {why[pos]} and {key!r} are in the same unit "
                    f"{self.units['unit_id'].iloc[pos]!r} but are locked to "
                    f"{terr['rep_id'][out[pos]]!r} and {rep!r}; lock them to one rep, or "
                    "use smaller units (units method 'accounts')")
            out[pos], why[pos] = t, key
        return out

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


# The parameters each cached piece of the instance is computed from: what
# with_options may carry over to a copy in which none of them changed.
_PLACES = {"units", "reps", "k", "centres"}
DERIVED_FROM: dict[str, set[str]] = {
    "territories": _PLACES,
    "distortion": _PLACES,
    "distances": _PLACES | {"distance"},
    "_coords": _PLACES | {"distance"},
    "rep_positions": _PLACES,
    "_alignment": _PLACES | {"current", "move_measure", "move_level"},
    "costs": _PLACES | {"distance", "weight", "power", "current", "move_measure",
                        "move_penalty", "move_level"},
    "adjacency": {"units", "graph"},
    "roots": _PLACES | {"distance", "contiguity", "locks", "region_locks"},
    "home_units": _PLACES,
    "locked": _PLACES | {"locks", "region_locks", "contiguity"},
    "served": _PLACES,
    "regions": _PLACES,
    "region_of": _PLACES,
    "_positions": {"units"},
    "unit_ids": {"units"},
    "region_locked": _PLACES | {"region_locks"},
    "eligible": _PLACES | {"region_locks"},
}


def check_feasibility(problem: TerritoryProblem) -> None:
    """Raise :class:`InfeasibleError` for the first conflict of :func:`conflicts`."""
    for message in conflicts(problem):
        raise InfeasibleError(message)


def conflicts(problem: TerritoryProblem) -> Iterator[str]:
    """Every conflict visible without a solver, as a message naming the unit,
    territory, metric and amounts, and the fix.

    Checks, for every band: the bands can hold the total; no unit is heavier
    than the upper band of every territory it may join; the units locked to a
    territory do not overfill it; every territory can still reach its lower
    band. With contiguity: every connected piece of the graph can hold a whole
    number of territories, and their number adds up to k.
    """
    terr = problem.territories
    if problem.reps is not None and problem.centres == "fixed":
        names = [f"territory {t!r} (rep {r!r})"
                 for t, r in zip(terr["territory"], terr["rep_id"], strict=True)]
    else:
        names = [f"territory {t!r}" for t in terr["territory"]]
    k = problem.n_territories
    locked_units = np.array(sorted(problem.locked), dtype=int)
    locked_to = np.array([problem.locked[i] for i in locked_units], dtype=int)
    bands: dict[str, Band] = problem.bands  # type: ignore[attr-defined]
    elig = problem.eligible
    segments = ([] if problem.served is None else
                sorted({str(v) for v in problem.units["segment"]} - {""}))
    for segment in segments:
        if not problem.serves(segment).any():
            count = int((problem.units["segment"].astype(str) == segment).sum())
            yield (f"segment {segment!r}: {count} units but no rep serves it; add "
                   f"{segment!r} to some reps' segments (or leave their segments blank: "
                   "every segment)")
    for t in range(k) if problem.served is not None else ():
        if not elig[:, t].any():  # type: ignore[index]
            yield (f"{names[t]} serves only {', '.join(map(repr, problem.served[t]))}"  # type: ignore[index]
                   ", and no unit is in those segments; fix its segments or remove the rep")
    for metric, band in bands.items():
        a = problem.values(metric)
        lower, upper = problem.bounds(metric)
        total = a.sum()
        what = band.describe()
        if upper.sum() < total - 1e-9 or lower.sum() > total + 1e-9:
            yield (
                f"{what}: the {k} territories can hold {format_amount(lower.sum())} to "
                f"{format_amount(upper.sum())} in all, but the units total "
                f"{format_amount(total)}; widen the "
                "band or change the number of territories")
        free_max = upper.max()
        heavy = [i for i in np.flatnonzero(a > free_max + 1e-9) if i not in problem.locked]
        if heavy:
            i = heavy[0]
            more = f" ({len(heavy)} units in all)" if len(heavy) > 1 else ""
            wide = heavy_widening(problem).get(metric)
            to = "" if wide is None else f" (to +-{wide:.0%}: it holds the heaviest unit)"
            yield (
                f"unit {problem.unit_ids[i]!r} has {metric} {format_amount(a[i])}, more than "
                f"{what} allows any territory (at most {format_amount(free_max)}){more}; widen the "
                f"band{to} or split the unit (smaller units, or units method 'accounts')")
        locked_sum = np.bincount(locked_to, weights=a[locked_units], minlength=k)
        for t in range(k):
            if locked_sum[t] > upper[t] + 1e-9:
                yield (
                    f"{names[t]}: its locked units carry {metric} "
                    f"{format_amount(locked_sum[t])}, more "
                    f"than {what} allows it (at most {format_amount(upper[t])}); unlock some or "
                    "widen the band")
        for t in range(k):
            reachable = total - (locked_sum.sum() - locked_sum[t])
            if reachable < lower[t] - 1e-9:
                yield (
                    f"{names[t]}: needs at least {format_amount(lower[t])} {metric} for {what}, "
                    f"but only {format_amount(reachable)} is not locked to other territories; "
                    "unlock some "
                    "or widen the band")
            elif problem.served is not None and not elig[:, t].all():  # type: ignore[index]
                others = np.zeros(problem.n_units, dtype=bool)
                others[locked_units[locked_to != t]] = True
                own = float(a[elig[:, t] & ~others].sum())
                if own < lower[t] - 1e-9:
                    yield (
                        f"{names[t]} serves only "
                        f"{', '.join(map(repr, problem.served[t]))}: it needs at least "  # type: ignore[index]
                        f"{format_amount(lower[t])} {metric} for {what}, but the units of "
                        f"those segments hold {format_amount(own)}; widen the band, give "
                        "the rep more segments, or a smaller FTE")
        for segment in segments:
            yield from _segment_capacity(problem, segment, metric, a, upper, what)
        yield from _segment_floor(problem, metric, a, lower, what)
    yield from _region_conflicts(problem)
    if problem.contiguity:
        yield from _piece_conflicts(problem)
        if problem.served is not None:
            yield from _segment_pieces(problem)


def heavy_widening(problem: TerritoryProblem) -> dict[str, float]:
    """Per tolerance band that a free unit exceeds in every territory, the tolerance
    (rounded up to a whole percent, below 100 %) at which the heaviest such unit fits
    the territory of the largest target: the width the checks name."""
    out: dict[str, float] = {}
    for metric, band in problem.bands.items():  # type: ignore[attr-defined]
        if band.tolerance is None or metric not in problem.balance:
            continue
        a = problem.values(metric)
        free = np.ones(problem.n_units, dtype=bool)
        free[list(problem.locked)] = False
        heaviest = float(a[free].max()) if free.any() else 0.0
        target = float(problem.targets(metric).max())
        if target <= 0 or heaviest <= problem.bounds(metric)[1].max() + 1e-9:
            continue
        wide = math.ceil(100 * (heaviest / target - 1) - 1e-9) / 100
        if band.tolerance < wide < 1:
            out[metric] = wide
    return out


def _region_conflicts(problem: TerritoryProblem) -> Iterator[str]:
    """Region bands against the total, their territories' bands and region locks."""
    regions = problem.regions or []
    region_of = problem.region_of
    for metric in problem.region_bands:  # type: ignore[attr-defined]
        a = problem.values(metric)
        lower, upper = problem.region_bounds(metric)
        what = "the region " + problem.region_bands[metric].describe()[4:]  # type: ignore[attr-defined]
        total = a.sum()
        if upper.sum() < total - 1e-9 or lower.sum() > total + 1e-9:
            yield (f"{what}: the {len(regions)} regions can hold {format_amount(lower.sum())} "
                   f"to {format_amount(upper.sum())} in all, but the units total "
                   f"{format_amount(total)}; widen the region band")
        t_lower, t_upper = problem.bounds(metric) if metric in problem.bands \
            else (np.full(problem.n_territories, -np.inf), np.full(problem.n_territories, np.inf))  # type: ignore[attr-defined]
        need = np.bincount(region_of, weights=np.where(np.isfinite(t_lower), t_lower, 0.0),
                           minlength=len(regions))
        room = np.bincount(region_of, weights=t_upper, minlength=len(regions))
        locked = np.zeros(len(regions))
        for i, r in problem.region_locked.items():
            locked[r] += a[i]
        for r, name in enumerate(regions):
            n = int((region_of == r).sum())
            reps = f"{n} territor{'y' if n == 1 else 'ies'}"
            if need[r] > upper[r] + 1e-9:
                yield (f"region {name!r}: its {reps} need at least "
                       f"{format_amount(need[r])} {metric} together for their bands, but "
                       f"{what} allows the region at most {format_amount(upper[r])}; widen "
                       "the region band or the territories' band, or move a rep to another "
                       "region")
            if room[r] < lower[r] - 1e-9:
                yield (f"region {name!r}: {what} needs at least {format_amount(lower[r])} "
                       f"{metric}, but its {reps} can hold at most "
                       f"{format_amount(room[r])} within their bands; widen the bands or "
                       "add a rep to the region")
            if locked[r] > upper[r] + 1e-9:
                yield (f"region {name!r}: the units locked to it carry {metric} "
                       f"{format_amount(locked[r])}, more than {what} allows it (at most "
                       f"{format_amount(upper[r])}); unlock some or widen the region band")


def _segment_capacity(problem: TerritoryProblem, segment: str, metric: str, a: np.ndarray,
                      upper: np.ndarray, what: str) -> Iterator[str]:
    """The units only the reps serving ``segment`` may take must fit in their bands."""
    serving = problem.serves(segment)
    elig = problem.eligible
    assert elig is not None
    captive = ~(elig & ~serving[None, :]).any(axis=1)
    total = float(a[captive].sum())
    room = float(upper[serving].sum())
    if not serving.any() or total <= room + 1e-9:
        return
    reps = problem.territories["rep_id"].to_numpy()[serving]
    each = float(upper[serving].mean())
    need = int(np.ceil(total / each - 1e-9)) if each > 0 else len(reps) + 1
    yield (f"segment {segment!r}: {metric} {format_amount(total)} can go only to the reps "
           f"serving it, and needs at least {need} of them at {what} (about "
           f"{format_amount(each)} each); {len(reps)} serve it ({', '.join(reps[:8])}); let "
           f"more reps serve {segment!r} or widen the band")


def _segment_pieces(problem: TerritoryProblem) -> Iterator[str]:
    """With contiguity and segments: every unit must be reachable from the root of a
    territory that may hold it, through units that territory's rep serves."""
    graphs = _territory_graphs(problem)
    held = np.zeros(problem.n_units, dtype=bool)
    for t, graph in enumerate(graphs):
        held[list(nx.node_connected_component(graph, problem.root_of(t)))] = True
    if held.all():
        return
    seg = problem.units["segment"].astype(str).to_numpy()
    for segment in sorted(set(seg[~held])):
        cut = np.flatnonzero(~held & (seg == segment))
        reps = problem.territories["rep_id"].to_numpy()[problem.serves(segment)]
        yield (f"contiguity: {len(cut)} units of segment {segment!r} (e.g. "
               f"{problem.unit_ids[cut[0]]!r}) lie apart from the territories of the reps "
               f"serving it ({', '.join(reps[:8])}): between them lie only units of "
               "segments those reps do not serve; put those reps in a team of their own "
               "(teams: in the scenario), whose territories are drawn on a map of that "
               "team's accounts, or let more reps serve the segment, or drop contiguity")


def _segment_floor(problem: TerritoryProblem, metric: str, a: np.ndarray, lower: np.ndarray,
                   what: str) -> Iterator[str]:
    """Reps serving only some segments must reach their lower bands together from
    the units of those segments."""
    if problem.served is None:
        return
    seg = problem.units["segment"].astype(str).to_numpy()
    for names in sorted({s for s in problem.served if s}):
        group = np.array([bool(s) and set(s) <= set(names) for s in problem.served])
        need = float(lower[group].sum())
        have = float(a[np.isin(seg, list(names)) | (seg == "")].sum())
        if group.sum() > 1 and need > have + 1e-9:
            reps = problem.territories["rep_id"].to_numpy()[group]
            yield (f"the reps serving only {', '.join(map(repr, names))} ({', '.join(reps[:8])}) "
                   f"need at least {format_amount(need)} {metric} together for {what}, but "
                   f"the units of those segments hold {format_amount(have)}; give them "
                   "smaller FTEs or more segments, or widen the band")


def _piece_conflicts(problem: TerritoryProblem) -> Iterator[str]:
    """Each connected piece must hold a whole number of territories, k in all."""
    graph = problem.adjacency
    pieces = sorted(nx.connected_components(graph), key=lambda c: min(c))
    k = problem.n_territories
    if len(pieces) > k:
        sizes = ", ".join(str(len(c)) for c in pieces[:8])
        yield (
            f"contiguity: the units' graph has {len(pieces)} separate pieces (sizes {sizes}"
            f"{', ...' if len(pieces) > 8 else ''}) but there are only {k} territories, and "
            "a connected territory cannot span two pieces; connect the pieces (islands) "
            "in the graph, or drop contiguity")
    lo_total, hi_total = 0, 0
    for piece in pieces:
        idx = np.array(sorted(piece))
        lo_c, hi_c = 1, len(idx)
        for metric in problem.bands:  # type: ignore[attr-defined]
            lower, upper = problem.bounds(metric)
            total = problem.values(metric)[idx].sum()
            if upper.max() > 0 and np.isfinite(upper.max()):
                lo_c = max(lo_c, int(np.ceil(total / upper.max() - 1e-9)))
            if lower.min() > 0:
                hi_c = min(hi_c, int(np.floor(total / lower.min() + 1e-9)))
        if lo_c > hi_c:
            example = problem.unit_ids[idx[0]]
            yield (
                f"contiguity: the piece of the graph holding unit {example!r} ({len(idx)} "
                "units) cannot be cut into whole territories within the bands; connect "
                "it to its neighbours in the graph, widen the bands, or drop contiguity")
        lo_total, hi_total = lo_total + lo_c, hi_total + hi_c
    if not lo_total <= k <= hi_total:
        yield (
            f"contiguity: the graph's {len(pieces)} pieces can hold {lo_total} to {hi_total} "
            f"connected territories within the bands, not {k}; change k, widen the bands, "
            "or drop contiguity")


def reachable_units(problem: TerritoryProblem) -> dict[int, set[int]]:
    """With contiguity: for each centre column, the units a connected territory
    grown from its root can hold.

    Every unit on a path from the root to unit i lies in the territory, so the
    cheapest such path (adding up a metric's non-negative amounts, ends
    included) must fit under the metric's upper band. With reps restricted to
    segments, the path runs through units the rep may serve.
    """
    n = problem.n_units
    roots = [problem.root_of(c) for c in range(problem.n_columns)]
    graphs = _territory_graphs(problem)
    reach = {c: set(nx.node_connected_component(graphs[c], root)) if problem.eligible is not None
             else set(range(n)) for c, root in enumerate(roots)}
    for metric in problem.bands:  # type: ignore[attr-defined]
        a = problem.values(metric)
        upper = problem.bounds(metric)[1]
        if (a < 0).any():
            continue
        for c, root in enumerate(roots):
            cap = float(upper[0] if problem.centres == "model" else upper[c])
            if not np.isfinite(cap):
                continue
            lengths = nx.single_source_dijkstra_path_length(
                graphs[c], root, cutoff=cap - a[root] + 1e-9, weight=lambda u, v, d: a[v])
            reach[c] &= {int(i) for i in lengths}
    return reach


def _territory_graphs(problem: TerritoryProblem) -> list[nx.Graph]:
    """Per centre column, the graph a connected territory grows in: the units' graph,
    restricted to the units its rep may serve."""
    graph = problem.adjacency
    elig = problem.eligible
    if elig is None:
        return [graph] * problem.n_columns
    by_class: dict[bytes, nx.Graph] = {}
    out = []
    for t in range(problem.n_territories):
        key = np.packbits(elig[:, t]).tobytes()
        if key not in by_class:
            by_class[key] = graph.subgraph(np.flatnonzero(elig[:, t]).tolist())
        out.append(by_class[key])
    return out


def max_units_per_territory(problem: TerritoryProblem) -> int:
    """The most units one territory can hold under the upper bands."""
    most = problem.n_units - problem.n_territories + 1
    for metric in problem.bands:  # type: ignore[attr-defined]
        upper = problem.bounds(metric)[1].max()
        a = np.sort(problem.values(metric))
        if np.isfinite(upper) and (a >= 0).all():
            most = min(most, int(np.searchsorted(np.cumsum(a), upper + 1e-9, side="right")))
    return max(most, 1)


def is_connected_plan(problem: TerritoryProblem, columns: np.ndarray) -> bool:
    """Whether every territory of the plan is connected in the units' graph."""
    graph = problem.adjacency
    for c in np.unique(columns):
        members = np.flatnonzero(columns == c).tolist()
        if not nx.is_connected(graph.subgraph(members)):
            return False
    return True


def regions_connected(problem: TerritoryProblem, columns: np.ndarray) -> bool:
    """Whether every region of the plan is connected (True unless region contiguity
    is asked)."""
    if not problem.region_contiguity:
        return True
    return is_connected_plan(problem, problem.region_of[np.asarray(columns)])


def band_misses(problem: TerritoryProblem, unit_centres: np.ndarray) -> list[str]:
    """Each band a plan (fixed centres: each unit's territory) misses, one line per
    territory and metric: the amount, how far outside, and that as a share of the
    bound (the figures a compromise plan is shown with). Empty when every band holds."""
    from territory_opt.metrics import bands_held

    terr = problem.territories
    labels = np.asarray(unit_centres)
    lines = []
    for metric in problem.bands:  # type: ignore[attr-defined]
        sums = np.bincount(labels, weights=problem.values(metric),
                           minlength=problem.n_territories)
        lower, upper = problem.bounds(metric)
        for t in np.flatnonzero(~bands_held(sums, lower, upper)).tolist():
            below = sums[t] < lower[t]
            bound = lower[t] if below else upper[t]
            off = abs(sums[t] - bound)
            rep = f" (rep {terr['rep_id'][t]!r})" if terr["rep_id"][t] else ""
            lines.append(f"territory {terr['territory'][t]!r}{rep}: {metric} "
                         f"{format_amount(sums[t])}, {format_amount(off)} "
                         f"{'below its minimum' if below else 'above its maximum'} "
                         f"{format_amount(bound)} ({off / max(abs(bound), 1e-9):.1%})")
    return lines


def plan_faults(problem: TerritoryProblem, unit_centres: np.ndarray, *,
                bands: bool = True) -> list[str]:
    """What a plan (each unit's centre column) breaks of the problem's rules: every
    unit in one territory of the right number, its centres (model centres) in
    their own territories, bands (unless ``bands`` is False: a compromise plan),
    locks and, when asked, contiguity. Empty for a valid plan."""
    from territory_opt.metrics import bands_held

    unit_centres = np.asarray(unit_centres)
    faults = []
    if unit_centres.shape != (problem.n_units,) or (unit_centres < 0).any() \
            or (unit_centres >= problem.n_columns).any():
        return ["not every unit has a territory"]
    centres, labels = np.unique(unit_centres, return_inverse=True)
    ids = problem.unit_ids
    if problem.centres == "model":
        if len(centres) != problem.n_territories:
            faults.append(f"{len(centres)} territories instead of {problem.n_territories}")
        faults += [f"centre unit {ids[c]!r} lies outside its territory"
                   for c in centres if unit_centres[c] != c]
        labels = labels.ravel()
    else:
        labels = unit_centres
    k = len(centres) if problem.centres == "model" else problem.n_territories
    for metric in problem.bands if bands else ():  # type: ignore[attr-defined]
        sums = np.bincount(labels, weights=problem.values(metric), minlength=k)
        lower, upper = problem.bounds(metric)
        outside = np.flatnonzero(~bands_held(sums, lower[:k], upper[:k]))
        names = (problem.territories["territory"].to_numpy() if problem.centres == "fixed"
                 else [f"centred at {ids[c]!r}" for c in centres])
        faults += [f"the {metric} band of territory {names[t]}" for t in outside]
    faults += [f"the lock of unit {ids[i]!r}" for i, t in problem.locked.items()
               if unit_centres[i] != t]
    if problem.eligible is not None:
        wrong = np.flatnonzero(~problem.eligible[np.arange(problem.n_units), unit_centres])
        locked = problem.region_locked
        faults += [f"unit {ids[i]!r} outside its locked region "
                   f"{problem.regions[locked[i]]!r}"  # type: ignore[index]
                   if i in locked and problem.region_of[unit_centres[i]] != locked[i]
                   else f"unit {ids[i]!r} with a rep who does not serve its segment"
                   for i in wrong]
    if problem.contiguity and not is_connected_plan(problem, unit_centres):
        faults.append("contiguity")
    if problem.regions is not None and problem.centres == "fixed":
        regions = problem.region_of[unit_centres]
        for metric in problem.region_bands if bands else ():  # type: ignore[attr-defined]
            sums = np.bincount(regions, weights=problem.values(metric),
                               minlength=len(problem.regions))
            lower, upper = problem.region_bounds(metric)
            faults += [f"the {metric} band of region {problem.regions[r]!r}"
                       for r in np.flatnonzero(~bands_held(sums, lower, upper))]
        if not regions_connected(problem, unit_centres):
            faults.append("region contiguity")
    return faults
