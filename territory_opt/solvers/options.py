"""The options every solve method takes, checked once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from territory_opt.errors import InputError

__all__ = ["INFEASIBLE", "SolveOptions"]

# what solve does when no plan holds every band: raise, or hand back the compromise
INFEASIBLE = ("refuse", "compromise")


@dataclass(frozen=True)
class SolveOptions:
    """Options shared by every method of :func:`territory_opt.solve` (see there).

    Raises :class:`~territory_opt.errors.InputError` for a gap outside [0, 1) or a
    time limit that is not positive.
    """

    solver: str = "HiGHS"
    time_limit: float | None = None
    gap: float = 1e-4
    threads: int | None = None
    random_state: int = 0
    msg: bool = False
    reduce: bool = True
    diagnose: bool = True
    infeasible: str = "refuse"

    def __post_init__(self) -> None:
        if self.infeasible not in INFEASIBLE:
            raise InputError(f"infeasible must be 'refuse' (raise InfeasibleError) or "
                             f"'compromise' (the plan nearest the bands), got "
                             f"{self.infeasible!r}")
        if not 0 <= self.gap < 1:
            raise InputError(f"gap must be a share between 0 and 1 (1e-3 = 0.1 %), got "
                             f"{self.gap!r}")
        if self.time_limit is not None and self.time_limit <= 0:
            raise InputError(f"time_limit must be a positive number of seconds, got "
                             f"{self.time_limit!r}")

    def record(self, method: str) -> dict[str, Any]:
        """What a :class:`~territory_opt.Solution` records of how it was solved."""
        return {"method": method, "time_limit": self.time_limit, "gap": self.gap,
                "threads": self.threads, "reduce": self.reduce,
                "random_state": self.random_state, "infeasible": self.infeasible}
