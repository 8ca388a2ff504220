"""Exceptions and warnings raised by territory_opt.

Every error inherits from :class:`TerritoryOptError` and from the built-in it
specialises, so ``except ValueError`` keeps working for callers that do not know
this package.
"""

from __future__ import annotations

__all__ = ["InfeasibleError", "InputError", "SolverError", "TerritoryOptError",
           "TerritoryOptWarning"]


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
