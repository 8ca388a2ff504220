"""Balance bands: what each territory, and each region, must hold of each metric.

A metric is a unit column, or one restricted to a segment (``workload[hospital]``).
:class:`Band` is one band as the user gave it (:func:`parse_band`); :class:`BandRules`,
part of :class:`~territory_opt.problem.TerritoryProblem`, checks the problem's
``balance``, ``limits`` and ``region_balance`` against its units when it is built, and
gives each territory's amounts, targets and bounds.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from territory_opt.errors import InputError

__all__ = ["Band", "BandRules", "bands_in_words", "check_segment_name", "format_amount",
           "numeric_columns", "parse_band", "split_metric"]

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



def numeric_columns(units: gpd.GeoDataFrame) -> list[str]:
    """The units' numeric columns but the coordinates: what a band or weight may name."""
    return [c for c in units.columns
            if c not in ("x", "y") and pd.api.types.is_numeric_dtype(units[c])]


def check_segment_name(units: gpd.GeoDataFrame, name: str, where: str) -> None:
    """Raise :class:`InputError` unless some unit is of segment ``name`` (``where``
    names the rule that names it)."""
    if "segment" not in units:
        raise InputError(f"{where} names segment {name!r}, but the units have no "
                         "segment; read the accounts with segment='<column>' (accounts: "
                         "segment: in the scenario) and build the units with "
                         "segment='segment'")
    known = sorted({str(v) for v in units["segment"]} - {""})
    if name not in known:
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise InputError(f"{where} names segment {name!r}, which no account has; "
                         f"{hint}the segments are: {', '.join(map(repr, known))}")


class BandRules:
    """The bands of a :class:`~territory_opt.problem.TerritoryProblem` (a part of it:
    it reads the problem's units, territories and segments)."""

    bands: dict[str, Band]  # metric to band: ``balance``, then the metrics of ``limits``
    region_bands: dict[str, Band]  # metric to band: ``region_balance``

    def _check_bands(self) -> None:
        """Parse ``balance`` and ``limits`` against the units (when the problem is built)."""
        if not self.balance and not self.limits:
            logger.warning("no balance band: territories may be very uneven")
        bands = {metric: self._parsed_band(metric, spec, "balance")
                 for metric, spec in self.balance.items()}
        object.__setattr__(self, "balance", dict(self.balance))
        object.__setattr__(self, "limits", self._checked_limits())
        for metric in self.limits:
            bands.setdefault(metric, Band(metric, segment=self._metric_column(metric)[1]))
        object.__setattr__(self, "bands", bands)

    def _check_region_bands(self) -> None:
        """Parse ``region_balance`` against the units (when the problem is built)."""
        region_bands = {metric: self._parsed_band(metric, spec, "region balance")
                        for metric, spec in self.region_balance.items()}
        object.__setattr__(self, "region_balance", dict(self.region_balance))
        object.__setattr__(self, "region_bands", region_bands)

    def _metric_column(self, metric: str, where: str = "balance") -> tuple[str, str | None]:
        """The unit column and segment of a balanced metric, checked."""
        column, segment = ((metric, None) if metric in self.units.columns
                           else split_metric(metric))
        if column not in self.units.columns:
            raise InputError(
                f"{where} metric {metric!r} is not a unit column; use one of: "
                f"{', '.join(numeric_columns(self.units))} (other account columns must be "
                "summed into units with build_units(..., sums=[...])), or a column "
                "restricted to a segment, e.g. 'workload[hospital]'")
        if segment is not None:
            check_segment_name(self.units, segment, f"{where} metric {metric!r}")
        return column, segment

    def _parsed_band(self, metric: str, spec: object, where: str) -> Band:
        """A band of ``balance`` or ``region_balance`` (``where``), checked."""
        column, segment = self._metric_column(metric, where)
        band = dataclasses.replace(parse_band(metric, spec), segment=segment)
        if band.tolerance is not None and self._amounts(column, segment).sum() <= 0:
            raise InputError(
                f"{where} {metric!r}: the {metric} of all units adds up to 0, so every "
                f"target is 0; check the column read as {metric} (every value blank or "
                f"0?) or drop {metric!r} from {where}")
        return band

    def _checked_limits(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """``limits`` as arrays of one bound per territory, checked."""
        out = {}
        for metric, pair in dict(self.limits).items():
            self._metric_column(metric, "limits")
            lo, hi = (np.asarray(v, dtype=float) for v in pair)  # type: ignore[union-attr]
            if lo.shape != (self.n_territories,) or hi.shape != lo.shape or (lo > hi).any():
                raise InputError(f"limits {metric!r}: give a lower and an upper bound per "
                                 f"territory ({self.n_territories} each), lower <= upper")
            out[metric] = (lo, hi)
        return out

    def values(self, metric: str) -> np.ndarray:
        """Each unit's amount of ``metric``: a unit column, or one restricted to a
        segment (``workload[hospital]``: the workload of the hospital units, 0 elsewhere)."""
        if metric in self.units.columns:
            return self.units[metric].to_numpy(dtype=float)
        return self._amounts(*split_metric(metric))

    def _amounts(self, column: str, segment: str | None) -> np.ndarray:
        """A unit column, 0 outside ``segment`` (when given)."""
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
            band: Band = self.bands[metric]
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
        band: Band = self.region_bands[metric]
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
