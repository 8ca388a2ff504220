"""The rules of a territory problem: what every plan must hold.

A :class:`~territory_opt.problem.TerritoryProblem` is its instance (units,
territories, distances, costs, adjacency) and its rules, each kind in a module of
its own, each checked against the instance when the problem is built:

* :mod:`~territory_opt.rules.bands`: balance bands and limits, per territory and per
  region (targets, bounds, the metrics' amounts);
* :mod:`~territory_opt.rules.places`: who may go where: the reps' segments, regions
  and region locks;
* :mod:`~territory_opt.rules.locks`: units locked to a territory, and the roots
  contiguous territories grow from;
* :mod:`~territory_opt.rules.moves`: realignment: the current alignment, what a move
  moves, its penalty and cap.

Contiguity itself is a flag of the problem; the checks of a problem and of a plan
against these rules are in :mod:`territory_opt.checks`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from territory_opt.rules.bands import (
    Band,
    BandRules,
    bands_in_words,
    check_segment_name,
    format_amount,
    numeric_columns,
    parse_band,
    split_metric,
)
from territory_opt.rules.locks import LockRules
from territory_opt.rules.moves import MoveRules
from territory_opt.rules.places import PLACES, PlaceRules

__all__ = ["PLACES", "Band", "Rules", "bands_in_words", "check_segment_name",
           "format_amount", "numeric_columns", "parse_band", "split_metric"]


class Rules(BandRules, PlaceRules, LockRules, MoveRules):
    """Every rule of a :class:`~territory_opt.problem.TerritoryProblem` (the problem is
    one: it inherits them)."""

    DERIVED_FROM: ClassVar[Mapping[str, frozenset[str]]] = {
        **PlaceRules.DERIVED_FROM, **LockRules.DERIVED_FROM, **MoveRules.DERIVED_FROM}

    def _check_rules(self) -> None:
        """Check every rule against the instance, in the order a user fixes them: the
        reps' segments and regions, locks, the bands, realignment; then resolve locks
        and the current alignment, so that a bad id fails here, naming it."""
        self._check_places()
        self._check_locks()
        self._check_bands()
        self._check_region_bands()
        self._check_moves()
        _ = self.region_locked
        _ = self.locked
        _ = self.moves
