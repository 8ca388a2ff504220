"""Locks and roots: units fixed to a territory, and the unit each contiguous territory
grows from.

:class:`LockRules`, part of :class:`~territory_opt.problem.TerritoryProblem`, resolves
the user's locks (account or unit id to rep) when the problem is built, naming a bad
one; adds the home locks (a rep's home area goes to the rep) and, with contiguity,
chooses each territory's root: the unit holding its rep's home, else the nearest free
one.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import ClassVar

import numpy as np
import shapely

from territory_opt.errors import InfeasibleError, InputError
from territory_opt.rules.places import PLACES

__all__ = ["LockRules"]


class LockRules:
    """The locks and roots of a :class:`~territory_opt.problem.TerritoryProblem` (a
    part of it: it reads the problem's units, territories, distances and places)."""

    # The parameters each cached piece here is computed from (see PlaceRules).
    DERIVED_FROM: ClassVar[Mapping[str, frozenset[str]]] = {
        "roots": PLACES | {"distance", "contiguity", "locks", "region_locks"},
        "home_units": PLACES,
        "locked": PLACES | {"locks", "region_locks", "contiguity"},
    }

    def _check_locks(self) -> None:
        """Locks need reps (when the problem is built; :attr:`locked` resolves them)."""
        if self.locks and self.centres != "fixed":
            raise InputError("locks need fixed centres (reps); with centres='model' "
                             "territories are not known before solving")
        object.__setattr__(self, "locks", dict(self.locks))

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
            pos = self.id_positions.get(key)
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
