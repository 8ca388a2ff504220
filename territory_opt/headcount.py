"""Headcount sizing: the smallest number of territories that keeps each under a maximum."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from territory_opt.errors import InfeasibleError, InputError, SolverError
from territory_opt.problem import TerritoryProblem
from territory_opt.progress import bar
from territory_opt.solvers import solve

__all__ = ["size_headcount"]


def size_headcount(
    units: Any,
    *,
    max_workload: float,
    k_values: Any = None,
    metric: str = "workload",
    extra_k: int = 3,
    time_limit: float | None = 60.0,
    gap: float = 1e-3,
    progress: bool | None = None,
    **problem_options: Any,
) -> pd.DataFrame:
    """The smallest number of territories that keeps each under a workload maximum.

    Solves the territory problem with model-chosen centres and an absolute
    band ``{metric: {"max": max_workload}}`` for k from ``ceil(total /
    max_workload)`` upward until one is feasible, then ``extra_k`` more, so that
    the table shows what each extra head buys.

    Parameters
    ----------
    units
        Planning units. Model centres make a variable per pair of units: keep
        to a few hundred units (clusters) for sizing.
    max_workload
        The most ``metric`` one territory (one rep) may carry.
    k_values
        The k to try instead (an iterable of ints).
    metric
        The unit column the maximum applies to.
    extra_k
        Further k to solve after the smallest feasible one.
    time_limit, gap
        Per solve.
    progress
        Progress bar over the headcounts (None: in a terminal or notebook only).
    **problem_options
        Further :class:`TerritoryProblem` options (``power``, ``distance``,
        ``contiguity``, ``graph``; more bands via ``balance``).

    Returns
    -------
    pandas.DataFrame
        One row per k: ``k, status, objective, bound, gap, largest`` (the
        largest territory's ``metric``) and ``smallest`` (True on the smallest
        feasible k); ``reason`` for an infeasible k.
    """
    if not max_workload > 0:
        raise InputError(f"max_workload must be above 0, got {max_workload!r}")
    total = float(units[metric].sum())
    start = max(1, math.ceil(total / max_workload - 1e-9))
    balance = dict(problem_options.pop("balance", {})) | {metric: {"max": max_workload}}
    candidates = list(k_values) if k_values is not None else None
    rows: list[dict[str, Any]] = []
    k, first_feasible = start, None
    shown = bar(total=len(candidates) if candidates is not None else None,
                desc="headcounts", unit="k", progress=progress)
    while True:
        if candidates is not None:
            if not candidates:
                break
            k = candidates.pop(0)
        elif first_feasible is not None and k > first_feasible + extra_k:
            break
        elif k > len(units):
            break
        row: dict[str, Any] = {"k": k}
        try:
            problem = TerritoryProblem(units, k=k, centres="model", balance=balance,
                                       **problem_options)
            sol = solve(problem, time_limit=time_limit, gap=gap)
            row |= {"status": sol.status, "objective": sol.objective, "bound": sol.bound,
                    "gap": sol.gap, "largest": float(sol.sums(metric).max()), "reason": ""}
            if first_feasible is None:
                first_feasible = k
        except InfeasibleError as exc:
            row |= {"status": "infeasible", "reason": str(exc)}
        except SolverError as exc:
            row |= {"status": "undecided", "reason": str(exc)}
        rows.append(row)
        shown.update(1)
        shown.set_postfix_str(f"k={k} {row['status']}")
        k += 1
    shown.close()
    table = pd.DataFrame(rows, columns=["k", "status", "objective", "bound", "gap",
                                        "largest", "reason"])
    table["smallest"] = table["k"] == first_feasible
    return table
