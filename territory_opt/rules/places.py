"""Who may go where: the reps' segments, regions, locks, and the roots contiguous
territories grow from.

:class:`PlaceRules`, part of :class:`~territory_opt.problem.TerritoryProblem`, checks
these rules against the problem's units and reps when it is built (a bad lock fails
there, naming it) and gives them as positions: :attr:`~PlaceRules.eligible` (unit x
territory), :attr:`~PlaceRules.locked`, :attr:`~PlaceRules.roots`.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from functools import cached_property
from typing import ClassVar

import numpy as np
import pandas as pd
import shapely

from territory_opt.errors import InfeasibleError, InputError
from territory_opt.io.files import segment_list
from territory_opt.rules.bands import check_segment_name

__all__ = ["PLACES", "PlaceRules"]

# The parameters that place the units and the territories: every cached piece of a
# problem is computed from them (see territory_opt.problem.DERIVED_FROM).
PLACES = frozenset({"units", "reps", "k", "centres"})


class PlaceRules:
    """Segments, regions, locks and roots of a
    :class:`~territory_opt.problem.TerritoryProblem` (a part of it: it reads the
    problem's units, territories and distances)."""

    # The parameters each cached piece here is computed from (with_options keeps a
    # piece in a copy in which none of them changed).
    DERIVED_FROM: ClassVar[Mapping[str, frozenset[str]]] = {
        "roots": PLACES | {"distance", "contiguity", "locks", "region_locks"},
        "home_units": PLACES,
        "locked": PLACES | {"locks", "region_locks", "contiguity"},
        "served": PLACES,
        "regions": PLACES,
        "region_of": PLACES,
        "_positions": frozenset({"units"}),
        "region_locked": PLACES | {"region_locks"},
        "eligible": PLACES | {"region_locks"},
    }

    def _check_places(self) -> None:
        """Locks need reps; the reps' segments need units of those segments; region
        rules need reps with a region (when the problem is built)."""
        if self.locks and self.centres != "fixed":
            raise InputError("locks need fixed centres (reps); with centres='model' "
                             "territories are not known before solving")
        object.__setattr__(self, "locks", dict(self.locks))
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
        from scipy.optimize import linear_sum_assignment  # 0.15 s to import, rarely needed

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

    def root_of(self, column: int) -> int:
        """With contiguity: the unit the territory of a centre column grows from.

        The centre unit itself with model centres; with fixed centres, the unit
        nearest the rep's base (see :attr:`roots`).
        """
        if self.centres == "model":
            return int(column)
        assert self.roots is not None, "roots exist only with contiguity"
        return int(self.roots[column])
