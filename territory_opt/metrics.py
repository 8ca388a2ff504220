"""Pure functions measuring an assignment: sums, bands, distances, coverage.

Definitions (also in the README):

* **% of target**: a territory's amount of a metric divided by its target (the
  metric's total shared in proportion to the reps' FTE), times 100.
* **worst deviation**: the largest ``|amount / target - 1|`` over territories.
* **coverage ratio** (potential coverage): the share of the total market
  potential that lies in units within ``reach_km`` of the home base of the rep
  whose territory they are in. **Account coverage** is the same share counted
  in accounts.
* **white space**: units beyond ``reach_km`` of their rep's base, or with
  market potential but no account, ranked by potential.
* **Polsby-Popper**: ``4 pi A / P**2`` of the dissolved territory (1 = disc).
* **inertia**: workload-weighted mean squared distance from the base (km²).
* **CV** and **Gini** of workload per FTE over territories; **total travel**:
  the sum over accounts of the distance from their rep's base (km).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from territory_opt.problem import TerritoryProblem

__all__ = ["bands_held", "coefficient_of_variation", "covered_share", "distance_stats", "gini",
           "inertia", "percent_of_target", "polsby_popper", "territory_sums", "worst_deviation"]


def territory_sums(values: np.ndarray, assignment: np.ndarray, k: int) -> np.ndarray:
    """Sum of ``values`` per territory (``assignment[i]`` is unit i's territory)."""
    return np.bincount(assignment, weights=np.asarray(values, dtype=float), minlength=k)


def percent_of_target(sums: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Each territory's amount as a percentage of its target (NaN for a zero target)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(targets > 0, 100.0 * sums / targets, np.nan)


def worst_deviation(sums: np.ndarray, targets: np.ndarray) -> float:
    """Largest relative deviation ``|sum / target - 1|`` over territories."""
    pct = percent_of_target(sums, targets)
    return float(np.nanmax(np.abs(pct / 100.0 - 1.0))) if np.isfinite(pct).any() else 0.0


def bands_held(sums: np.ndarray, lower: np.ndarray, upper: np.ndarray,
               rel_tol: float = 1e-6) -> np.ndarray:
    """Whether each territory's sum lies in its band (with a solver tolerance, relative
    to the band's finite end: an open upper end must not open the lower one)."""
    ref = np.where(np.isfinite(upper), np.abs(upper),
                   np.where(np.isfinite(lower), np.abs(lower), 1.0))
    slack = rel_tol * np.maximum(ref, 1.0)
    return (sums >= lower - slack) & (sums <= upper + slack)


def distance_stats(dist: np.ndarray, weights: np.ndarray, assignment: np.ndarray,
                   k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per territory, the ``weights``-weighted mean and the maximum distance.

    Units with zero weight do not count (a territory of only such units has
    NaN).
    """
    w = np.asarray(weights, dtype=float)
    total = np.bincount(assignment, weights=w, minlength=k)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.bincount(assignment, weights=w * dist, minlength=k) / total
    maximum = np.full(k, np.nan)
    counted = w > 0
    for t in range(k):
        sel = counted & (assignment == t)
        if sel.any():
            maximum[t] = dist[sel].max()
    return np.where(total > 0, mean, np.nan), maximum


def nice_round(value: float) -> float:
    """``value`` rounded to the nearest of 1, 2, 5 x 10^k (on a log scale): 37 -> 50."""
    if not np.isfinite(value) or value <= 0:
        return 1.0
    power = 10.0 ** np.floor(np.log10(value))
    steps = np.array([1.0, 2.0, 5.0, 10.0]) * power
    return float(steps[np.argmin(np.abs(np.log(steps / value)))])


def typical_reach(problem: TerritoryProblem) -> float:
    """The reach a coverage ratio is measured at when none is given: the median
    distance from an account to its nearest centre (rep base; with model centres,
    to the nearest of ``k`` evenly spread units), rounded to 1, 2 or 5 x 10^k (km, or
    the unit of a given distance matrix). It follows the data's scale: a city's
    reach is a few km, a country's a few hundred."""
    n = problem.n_units
    cols = (np.arange(problem.n_columns) if problem.centres == "fixed"
            else np.linspace(0, n - 1, min(problem.n_territories, n)).astype(int))
    rows = np.linspace(0, n - 1, min(n, 5000)).astype(int)  # a sample of the units
    nearest = problem.distance_block(rows, cols).min(axis=1)
    weight = problem.values("accounts")[rows]
    if weight.sum() <= 0:
        weight = np.ones(len(rows))
    order = np.argsort(nearest)
    cum = np.cumsum(weight[order])
    median = float(nearest[order][np.searchsorted(cum, cum[-1] / 2)])
    return nice_round(median)


def reach_of(problem: TerritoryProblem, reach_km: float | None) -> float:
    """``reach_km`` when given, else :func:`typical_reach` of the problem."""
    return float(reach_km) if reach_km is not None else typical_reach(problem)


def covered_share(values: np.ndarray, dist: np.ndarray, reach_km: float,
                  assignment: np.ndarray | None = None, k: int = 0) -> float | np.ndarray:
    """Share of ``values`` in units within ``reach_km`` of their own rep's base.

    With ``assignment``, the share per territory (NaN where it holds none of
    ``values``); without, the share overall.
    """
    v = np.asarray(values, dtype=float)
    inside = np.where(dist <= reach_km, v, 0.0)
    if assignment is None:
        return float(inside.sum() / v.sum()) if v.sum() > 0 else float("nan")
    total = np.bincount(assignment, weights=v, minlength=k)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.bincount(assignment, weights=inside, minlength=k) / total


def coefficient_of_variation(values: np.ndarray) -> float:
    """Standard deviation over mean (population form)."""
    v = np.asarray(values, dtype=float)
    return float(v.std() / v.mean()) if v.mean() else float("nan")


def gini(values: np.ndarray) -> float:
    """Gini coefficient of non-negative values: 0 for equal, towards 1 for concentrated."""
    v = np.sort(np.asarray(values, dtype=float))
    n, total = len(v), v.sum()
    if n == 0 or total <= 0:
        return float("nan")
    return float((2 * np.arange(1, n + 1) - n - 1) @ v / (n * total))


def polsby_popper(area: np.ndarray, perimeter: np.ndarray) -> np.ndarray:
    """``4 pi area / perimeter**2``: 1 for a disc, towards 0 for a ragged shape."""
    a, p = np.asarray(area, dtype=float), np.asarray(perimeter, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p > 0, 4 * np.pi * a / p**2, np.nan)


def inertia(dist: np.ndarray, weights: np.ndarray, assignment: np.ndarray,
            k: int) -> np.ndarray:
    """Per territory, the ``weights``-weighted mean squared distance from its base.

    The moment of inertia about the base divided by the territory's weight
    (km² for km distances); NaN for a territory without weight.
    """
    w = np.asarray(weights, dtype=float)
    total = np.bincount(assignment, weights=w, minlength=k)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, np.bincount(assignment, weights=w * dist**2, minlength=k)
                        / total, np.nan)
