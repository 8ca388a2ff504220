"""Exceptions and warnings raised by territory_opt.

Every error inherits from :class:`TerritoryOptError` and from the built-in it
specialises, so ``except ValueError`` keeps working for callers that do not know
this package.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

__all__ = ["InfeasibleError", "InputError", "Problems", "SolverError", "TerritoryOptError",
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


class Problems:
    """Collects the problems of one input, so that a file reports all at once::

        found = Problems()
        with found.check():
            ...  # a step that may raise InputError
        found.raise_any()  # one InputError listing every problem (``.problems``)
    """

    def __init__(self) -> None:
        self.found: list[str] = []

    @contextmanager
    def check(self) -> Iterator[None]:
        try:
            yield
        except InputError as exc:
            self.found += getattr(exc, "problems", [str(exc)])

    def raise_any(self) -> None:
        if len(self.found) == 1:
            raise InputError(self.found[0])
        if self.found:
            error = InputError(f"{len(self.found)} problems: " + "; ".join(self.found))
            error.problems = list(self.found)  # type: ignore[attr-defined]
            raise error


class InfeasibleError(TerritoryOptError, ValueError):
    """No assignment can satisfy the bands, locks and options asked for.

    The message names the territory, metric and amounts that conflict.
    """


class SolverError(TerritoryOptError, RuntimeError):
    """The solver failed, or stopped without any feasible assignment."""


class TerritoryOptWarning(UserWarning):
    """A soft problem in the input that was repaired or may surprise the user."""
