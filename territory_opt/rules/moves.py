"""Realignment: the current alignment, what each move moves, the penalty and the cap.

:class:`MoveRules`, part of :class:`~territory_opt.problem.TerritoryProblem`, checks
``current``, ``move_penalty``, ``move_measure``, ``max_moved`` and ``move_level`` when
the problem is built and gives :attr:`~MoveRules.moves`: what unit i moves if it joins
territory t.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import ClassVar

import numpy as np

from territory_opt.errors import InputError
from territory_opt.rules.places import PLACES

__all__ = ["MoveRules"]


class MoveRules:
    """The realignment rules of a :class:`~territory_opt.problem.TerritoryProblem` (a
    part of it: it reads the problem's units, territories and regions)."""

    # The parameters each cached piece here is computed from (see PlaceRules).
    DERIVED_FROM: ClassVar[Mapping[str, frozenset[str]]] = {
        "_alignment": PLACES | {"current", "move_measure", "move_level"},
    }

    def _check_moves(self) -> None:
        """The realignment parameters, checked (when the problem is built)."""
        if self.move_level not in ("territory", "region"):
            raise InputError(f"move_level must be 'territory' or 'region', got "
                             f"{self.move_level!r}")
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
        """:attr:`moves` and :attr:`move_total`, from one pass over the accounts."""
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
