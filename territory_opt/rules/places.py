"""Who may go where: the reps' segments, their regions and the units locked to a region.

:class:`PlaceRules`, part of :class:`~territory_opt.problem.TerritoryProblem`, checks
these rules against the problem's units and reps when it is built (a bad region lock
fails there, naming it) and gives them as positions: :attr:`~PlaceRules.region_of`
(territory to region), :attr:`~PlaceRules.eligible` (unit x territory).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from functools import cached_property
from typing import ClassVar

import numpy as np
import pandas as pd

from territory_opt.errors import InputError
from territory_opt.io.files import segment_list
from territory_opt.rules.bands import check_segment_name

__all__ = ["PLACES", "PlaceRules"]

# The parameters that place the units and the territories: every cached piece of a
# problem is computed from them (see territory_opt.problem.DERIVED_FROM).
PLACES = frozenset({"units", "reps", "k", "centres"})


class PlaceRules:
    """Segments, regions and region locks of a
    :class:`~territory_opt.problem.TerritoryProblem` (a part of it: it reads the
    problem's units and territories)."""

    # The parameters each cached piece here is computed from (with_options keeps a
    # piece in a copy in which none of them changed).
    DERIVED_FROM: ClassVar[Mapping[str, frozenset[str]]] = {
        "served": PLACES,
        "regions": PLACES,
        "region_of": PLACES,
        "id_positions": frozenset({"units"}),
        "region_locked": PLACES | {"region_locks"},
        "eligible": PLACES | {"region_locks"},
    }

    def _check_places(self) -> None:
        """The reps' segments need units of those segments; region rules need reps
        with a region (when the problem is built)."""
        object.__setattr__(self, "region_locks", dict(self.region_locks))
        self._check_segments()
        asked = self._regions_asked()
        if asked and self.regions is None:
            raise InputError(f"{', '.join(asked)} need reps with a region: read the reps "
                             "with region='<column>' (reps: region: in the scenario)")
        if self.region_contiguity and not self.contiguity:
            raise InputError("region contiguity needs contiguous territories (a region is "
                             "connected when its territories are and touch): set contiguity "
                             "too, or drop region contiguity")

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
                check_segment_name(self.units, name, f"rep {rep!r}")

    def _regions_asked(self) -> list[str]:
        """The region rules given (each needs reps with a region)."""
        return [name for name, on in (
            ("region_balance", bool(self.region_balance)),
            ("region_contiguity", self.region_contiguity),
            ("region_locks", bool(self.region_locks)),
            ("move_level='region'", self.move_level == "region")) if on]

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
    def id_positions(self) -> dict[str, int]:
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
            pos = self.id_positions.get(key)
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

