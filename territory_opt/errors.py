"""Exceptions and warnings raised by territory_opt.

Every error inherits from :class:`TerritoryOptError` and from the built-in it
specialises, so ``except ValueError`` keeps working for callers that do not know
this package.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["InfeasibleError", "InputError", "SolverError", "TerritoryOptError",
           "TerritoryOptWarning", "rows_text"]

MAX_ROWS_LISTED = 5


def rows_text(positions: Sequence[int], *, offset: int = 1) -> str:
    """Rows as messages name them: ``row 3``, ``rows 3, 5 and 2 more`` (``positions``
    counted from 0; ``offset`` 1 for 1-based rows, 2 for the lines of a CSV file)."""
    shown = list(positions)[:MAX_ROWS_LISTED]
    text = ", ".join(str(p + offset) for p in shown)
    more = f" and {len(positions) - len(shown)} more" if len(positions) > len(shown) else ""
    return f"{'row' if len(positions) == 1 else 'rows'} {text}{more}"


class TerritoryOptError(Exception):
    """Base class of every error raised on purpose by territory_opt."""


class InputError(TerritoryOptError, ValueError):
    """Bad input: a file, column, row or scenario key that must be fixed.

    The message names where the problem is and how to fix it.
    """


class InfeasibleError(TerritoryOptError, ValueError):
    """No assignment can satisfy the bands, locks and options asked for.

    The message names the territory, metric and amounts that conflict.
    """


class SolverError(TerritoryOptError, RuntimeError):
    """The solver failed, or stopped without any feasible assignment."""


class TerritoryOptWarning(UserWarning):
    """A soft problem in the input that was repaired or may surprise the user."""
