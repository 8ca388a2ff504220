"""Model-chosen centres: the Lagrangian dual of the assignment rows.

For the Hess / capacitated p-median model (:class:`~territory_opt.problem.TerritoryProblem`
with ``centres="model"``), relaxing "every unit in exactly one territory" with a
price ``lambda_i`` per unit leaves one problem per candidate centre ``j``: open
it or not, and if open, choose the members ``S`` (``j`` among them) that
minimise ``sum_{i in S} (c_ij - lambda_i)`` within the band ``L <= a(S) <= U``, a
knapsack with a lower and an upper bound. The dual function is

    ``D(lambda) = sum_i lambda_i + (sum of the k smallest knapsack values)``,

a lower bound of every plan's cost for *any* ``lambda`` (Geoffrion 1974). Its
maximum over ``lambda`` is the value of the set-partitioning master over
territories (Ceselli & Righini 2005) when the knapsacks are solved in integers,
and the compact model's LP bound when they are relaxed to LPs. Here they are
solved between the two (below), so the bound lies near the LP's, a little above
or below it. Here:

- :class:`BandKnapsack` solves the knapsacks: each centre's LP knapsack first
  (sorting by ratio; a lower bound), then, in increasing order of that bound
  until the k smallest are known, a dynamic programme over the units of
  negative reduced cost (weights scaled to at most ``CELLS`` cells, rounded so
  that the result stays a lower bound) with the LP filling the lower band from
  the rest. With integer weights within ``CELLS`` it is exact on those units.
  Only the band metric with the narrowest window enters the knapsack; the
  others, and contiguity, are dropped, which keeps the bound valid.
- :class:`CentreDual` evaluates the dual function at any prices, with, for
  every pair (unit, centre), a bound on the plans that use it: opening a centre
  costs its knapsack in place of the costliest of the k, forcing a unit into it
  at least the LP knapsack's reduced cost of the unit (Validi, Buchanan &
  Lykhovyd 2022 fix variables so for their separable subproblem).
- :func:`dual_bound` maximises ``D`` by the subgradient method (Polyak steps
  towards the best plan known, halved when the bound stalls), keeps the best
  prices and, for every pair, the largest bound seen; plans come from the
  caller (:func:`territory_opt.solvers.lagrange.model_centres_dual`: location-
  allocation from the knapsacks' centres). :meth:`DualBound.closed_pairs` are
  the pairs no plan better than the best one uses: the exact model leaves them
  out.

Measured (``benchmarks/bounds.py``): it closes much of the compact LP's gap on
many published instances (Colorado 25.1 % -> 9.6 %, Oregon 15.2 % -> 5.1 %,
pmedcap1_05 2.2 % -> 0.1 %) but little where the proofs are slow (Louisiana
10.3 % -> 9.3 %, West Virginia 8.7 % -> 8.3 %, pmedcap1_20 4.4 % -> 3.3 %). Its
other worth: it needs no LP over ``n^2`` pairs, so it gives a certified gap and
a small model where the LP alone would not finish.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from territory_opt.problem import TerritoryProblem

__all__ = ["CELLS", "BandKnapsack", "BandPrices", "CentreDual", "DualBound", "allowed_pairs",
           "band_metric", "dual_bound"]

logger = logging.getLogger(__name__)

CELLS = 2048  # weight cells of the knapsack programme (its resolution)
ITERATIONS = 400  # subgradient steps at most
STALL = 12  # steps without a better bound before the step size halves
MIN_STEP = 2e-3  # the subgradient method stops below this step factor
GOAL = 0.05  # without a plan, the Polyak step aims this far above the best bound
BATCH = 64  # centres whose LP knapsacks are solved together
PLAN_FIRST = 30  # the step that builds the first plan from the knapsacks' centres
PLAN_EVERY = 60  # steps between such plans
SPREAD_OVERLAP = 0.1  # of a knapsack's members, at most, among those of centres spread before


@dataclass
class _Column:
    """One centre's knapsack at the current prices: its value (a lower bound of the
    best territory about it) and the members that reach it (fractional for the
    units the LP adds to fill the lower band)."""

    value: float
    members: np.ndarray  # unit positions
    share: np.ndarray  # of each member (1, or a fraction for the LP fill)


class BandKnapsack:
    """The knapsacks of every candidate centre, for the reduced costs ``red``.

    ``red[i, j]`` is the cost of unit ``i`` joining centre ``j`` less its price
    (``red[j, j]``: the centre's own); ``+inf`` where the pair is impossible.
    """

    def __init__(self, problem: TerritoryProblem, allowed: np.ndarray) -> None:
        n = problem.n_units
        self.n = n
        self.allowed = allowed
        metric, lower, upper = band_metric(problem)
        self.metric = metric
        self.a = problem.values(metric) if metric else np.zeros(n)
        self.lower = lower  # -inf when the lower band is open
        self.upper = upper  # +inf when the upper band is open
        if metric and np.isfinite(upper):
            integral = bool(np.all(self.a == np.round(self.a)))
            self.scale = 1.0 if integral and upper <= CELLS else upper / CELLS
            self.q = np.floor(self.a / self.scale + 1e-9).astype(int)
            frac = self.a / self.scale - self.q > 1e-9
            # at most this many units of a territory carry a rounded-off remainder
            fits = np.cumsum(np.sort(self.a[frac])) <= upper + 1e-9
            self.slack_items = int(fits.sum())
            self.q_upper = int(math.floor(upper / self.scale + 1e-9))
        else:
            self.scale, self.q, self.slack_items, self.q_upper = 1.0, np.zeros(n, int), 0, 0

    # ----------------------------------------------------------- LP knapsacks

    def lp_values(self, red: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The LP knapsacks of centres ``cols``, each as its Lagrangian in the weight
        row: values (lower bounds of the integer knapsacks) and weight prices ``mu``
        (``red_ij - mu_j a_i`` bounds what forcing ``i`` into ``j`` costs)."""
        a, m = self.a, len(cols)
        own = red[cols, cols]
        off = red[:, cols]
        off[cols, np.arange(m)] = np.inf
        ok = np.isfinite(off)
        if not self.metric or (not np.isfinite(self.lower) and not np.isfinite(self.upper)):
            return own + np.where(ok, np.minimum(off, 0.0), 0.0).sum(axis=0), np.zeros(m)
        lo = self.lower - a[cols]  # the window left for the other members
        hi = self.upper - a[cols]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(ok & (a[:, None] > 0), off / a[:, None], np.inf)
        order = np.argsort(ratio, axis=0, kind="stable")
        ratio_s = np.take_along_axis(ratio, order, axis=0)
        weight_s = np.where(np.isfinite(ratio_s), a[order], 0.0)
        cum = np.vstack([np.zeros(m), np.cumsum(weight_s, axis=0)])
        neg = np.where(ratio_s < 0, weight_s, 0.0).sum(axis=0)
        target = np.clip(neg, np.maximum(lo, 0.0), hi)
        pos = np.clip((cum[1:] < target[None, :] - 1e-12).sum(axis=0), 0, self.n - 1)
        mu = ratio_s[pos, np.arange(m)]
        mu = np.where(target > neg + 1e-12, np.maximum(mu, 0.0),
                      np.where(target < neg - 1e-12, np.minimum(mu, 0.0), 0.0))
        mu = np.where(np.isfinite(mu), mu, 0.0)
        # the dual function at mu: a lower bound whatever mu is
        reduced = np.where(ok, off - mu[None, :] * a[:, None], 0.0)
        side = np.where(mu > 0, lo, np.where(mu < 0, hi, 0.0))
        value = own + np.minimum(reduced, 0.0).sum(axis=0) + mu * side
        value[target > cum[-1] + 1e-9] = np.inf  # the lower band cannot be reached
        value[hi < -1e-9] = np.inf
        return value, mu

    # ------------------------------------------------------ integer knapsacks

    def column(self, j: int, red_j: np.ndarray) -> _Column:
        """Centre ``j``'s knapsack: a programme over the units of negative reduced
        cost, the LP filling the lower band from the others (a lower bound of the
        integer optimum; exact on the negative units with integer weights)."""
        ok = self.allowed[:, j] & np.isfinite(red_j)
        ok[j] = False
        neg = np.flatnonzero(ok & (red_j < 0))
        rest = np.flatnonzero(ok & (red_j >= 0))
        if not self.metric or not np.isfinite(self.upper):
            fill = _Fill(rest, red_j, self.a)
            need = self.lower - self.a[j] - self.a[neg].sum()
            members, share, extra = fill.take(need)
            return _Column(red_j[j] + red_j[neg].sum() + extra, np.r_[j, neg, members],
                           np.r_[1.0, np.ones(len(neg)), share])
        q, top = self.q, self.q_upper
        dp = np.full(top + 1, np.inf)
        if q[j] > top:
            return _Column(np.inf, np.array([j]), np.ones(1))
        dp[q[j]] = red_j[j]
        took = np.zeros((len(neg), top + 1), dtype=bool)
        for row, i in enumerate(neg):
            w = int(q[i])
            if w > top:
                continue
            cand = dp[:top + 1 - w] + red_j[i]
            better = cand < dp[w:]
            took[row, w:] = better
            dp[w:] = np.where(better, cand, dp[w:])
        fill = _Fill(rest, red_j, self.a)
        if np.isfinite(self.lower):
            # the members' weight is below scale * (cells + remainders)
            reach = self.scale * (np.arange(top + 1) + self.slack_items)
            extra = fill.cost(self.lower - reach)
        else:
            extra = np.zeros(top + 1)
        total = dp + extra
        best = int(np.argmin(total))
        if not np.isfinite(total[best]):
            return _Column(np.inf, np.array([j]), np.ones(1))
        chosen = []
        cell = best
        for row in range(len(neg) - 1, -1, -1):
            if took[row, cell]:
                chosen.append(int(neg[row]))
                cell -= int(q[neg[row]])
        need = self.lower - self.scale * (best + self.slack_items) if np.isfinite(
            self.lower) else -np.inf
        members, share, _ = fill.take(need)
        return _Column(float(total[best]), np.r_[j, np.array(chosen, dtype=int), members],
                       np.r_[np.ones(1 + len(chosen)), share])


class _Fill:
    """The cheapest fractional weight from units of non-negative reduced cost (by
    ratio): what the LP pays to fill the lower band."""

    def __init__(self, units: np.ndarray, red: np.ndarray, a: np.ndarray) -> None:
        units = units[a[units] > 0]
        order = np.argsort(red[units] / a[units], kind="stable")
        self.units = units[order]
        self.weight = np.r_[0.0, np.cumsum(a[self.units])]
        self.costs = np.r_[0.0, np.cumsum(red[self.units])]

    def cost(self, need: np.ndarray) -> np.ndarray:
        """The LP cost of at least ``need`` weight (0 for none, inf beyond reach)."""
        need = np.maximum(np.asarray(need, dtype=float), 0.0)
        out = np.interp(need, self.weight, self.costs)
        return np.where(need > self.weight[-1] + 1e-9, np.inf, out)

    def take(self, need: float) -> tuple[np.ndarray, np.ndarray, float]:
        """The units (and fractions) the LP takes for ``need`` weight, and its cost."""
        if not need > 0 or len(self.units) == 0:
            return np.zeros(0, dtype=int), np.zeros(0), 0.0
        full = int(np.searchsorted(self.weight, need, side="right")) - 1
        full = min(full, len(self.units))
        share = np.ones(full)
        if full < len(self.units) and need > self.weight[full]:
            part = (need - self.weight[full]) / (self.weight[full + 1] - self.weight[full])
            share = np.r_[share, part]
        members = self.units[:len(share)]
        return members, share, float(self.cost(np.array([need]))[0])


class BandPrices:
    """Every band measure in the knapsacks at once, by prices on the band rows.

    :class:`BandKnapsack` takes one measure (the narrowest band); with several
    balanced measures the others bound nothing, and the dual stays far below the
    plans (Georgia's 949 accounts, k = 12, three measures +-5 %: 38.7 % gap). Here
    each centre ``j`` has a price ``nu_jm`` per measure ``m`` on its band rows
    ``lo_m <= a_m(S) <= hi_m``; for any prices

        ``g_j(nu) = red_jj + sum_m (nu_jm+ (lo_m - a_mj) - nu_jm- (hi_m - a_mj))
        + sum_{i != j} min(0, red_ij - nu_j . a_i)``

    is a lower bound of centre ``j``'s knapsack under every band (integer or LP:
    weak duality), so it may replace a weaker one whatever the prices are. The
    prices climb by exact line searches, one measure at a time (the maximum of
    a concave piecewise-linear function of one price: where the units sorted by
    ratio fill the band), warm-started from the last step. Measured on that
    Georgia instance (3 measures, 300 outer steps): the dual rises from 0.59 to
    0.87 of the best plan's cost.
    """

    def __init__(self, problem: TerritoryProblem, allowed: np.ndarray) -> None:
        metrics = [m for m in problem.bands
                   if not (problem.values(m) < 0).any()]
        a = np.stack([problem.values(m) for m in metrics], axis=1) if metrics \
            else np.zeros((problem.n_units, 0))
        lower = np.array([float(problem.bounds(m)[0][0]) for m in metrics])
        upper = np.array([float(problem.bounds(m)[1][0]) for m in metrics])
        scale = np.maximum(a.mean(axis=0), 1e-300) if metrics else np.ones(0)
        self.a = a / scale  # each measure in units of its mean amount
        self.lower = np.where(lower > 0, lower / scale, -np.inf)
        self.upper = upper / scale
        self.allowed = allowed
        self.nu = np.zeros((problem.n_units, len(metrics)))

    @property
    def measures(self) -> int:
        return self.a.shape[1]

    def _off(self, red: np.ndarray, cols: np.ndarray) -> np.ndarray:
        off = np.where(self.allowed[:, cols], red[:, cols], np.inf)
        off[cols, np.arange(len(cols))] = np.inf
        return off

    def values(self, red: np.ndarray, cols: np.ndarray, *, reduced: bool = False
               ) -> tuple[np.ndarray, np.ndarray]:
        """``g_j`` at the current prices for centres ``cols``, and the members that
        reach it (``(n, len(cols))`` booleans, the centre itself not among them; with
        ``reduced``, each pair's ``red_ij - nu_j . a_i`` instead)."""
        nu = self.nu[cols]  # a price on an open side of a band is moot: none there
        nu = np.where(np.isfinite(self.lower), nu, np.minimum(nu, 0.0))
        nu = np.where(np.isfinite(self.upper), nu, np.maximum(nu, 0.0))
        t = self._off(red, cols) - self.a @ nu.T
        take = t < 0
        lo = self.lower[None, :] - self.a[cols]
        hi = self.upper[None, :] - self.a[cols]
        with np.errstate(invalid="ignore"):
            side = np.where(nu > 0, nu * lo, 0.0) + np.where(nu < 0, nu * hi, 0.0)
        value = red[cols, cols] + side.sum(axis=1) + np.where(take, t, 0.0).sum(axis=0)
        return value, t if reduced else take

    def refine(self, red: np.ndarray, cols: np.ndarray, sweeps: int = 2) -> None:
        """Raise ``g_j`` for centres ``cols``: each measure's price set to its best
        with the others fixed, ``sweeps`` times over the measures."""
        off = self._off(red, cols)
        every = np.arange(len(cols))
        for _ in range(sweeps):
            for m in range(self.measures):
                nu = self.nu[cols]
                a = self.a[:, m]
                rest = off - self.a @ nu.T + np.outer(a, nu[:, m])
                with np.errstate(divide="ignore", invalid="ignore"):
                    ratio = np.where(a[:, None] > 0, rest / np.where(a > 0, a, 1.0)[:, None],
                                     np.inf)
                order = np.argsort(ratio, axis=0)
                ratio = np.take_along_axis(ratio, order, axis=0)
                weight = np.where(np.isfinite(ratio), a[order], 0.0)
                cum = np.cumsum(weight, axis=0)
                now = np.where(ratio < 0, weight, 0.0).sum(axis=0)
                lo = self.lower[m] - self.a[cols, m]
                hi = self.upper[m] - self.a[cols, m]
                best = np.zeros(len(cols))
                fill = (now < lo - 1e-12) & (cum[-1] >= lo)  # the lower band binds
                at = np.argmax(cum >= lo[None, :] - 1e-12, axis=0)
                best = np.where(fill, np.maximum(ratio[at, every], 0.0), best)
                cut = now > hi + 1e-12  # the upper band binds
                at = np.argmax(cum > hi[None, :] + 1e-12, axis=0)
                best = np.where(cut, np.minimum(ratio[at, every], 0.0), best)
                self.nu[cols, m] = np.where(np.isfinite(best), best, 0.0)


def band_metric(problem: TerritoryProblem) -> tuple[str | None, float, float]:
    """The band metric with the narrowest window relative to its upper bound (no
    negative amounts), and its window; None when no band can enter the knapsack."""
    best: tuple[float, str, float, float] | None = None
    for metric in problem.bands:
        a = problem.values(metric)
        lower, upper = (float(v[0]) for v in problem.bounds(metric))
        if (a < 0).any() or not (np.isfinite(upper) or lower > 0):
            continue
        width = (upper - max(lower, 0.0)) / upper if np.isfinite(upper) else np.inf
        if best is None or width < best[0]:
            best = (width, metric, lower if lower > 0 else -np.inf, upper)
    return (None, -np.inf, np.inf) if best is None else best[1:]  # type: ignore[return-value]


def allowed_pairs(problem: TerritoryProblem) -> np.ndarray:
    """``(n, n)``: may unit ``i`` join the territory centred at ``j``? (Not when a
    band's upper bound is below the two units' amounts together, or the centre's.)"""
    n = problem.n_units
    ok = np.ones((n, n), dtype=bool)
    centre_ok = np.ones(n, dtype=bool)
    for metric in problem.bands:
        a, upper = problem.values(metric), float(problem.bounds(metric)[1][0])
        centre_ok &= a <= upper + 1e-9
        ok &= (a[:, None] + a[None, :]) <= upper + 1e-9
    np.fill_diagonal(ok, True)
    ok &= centre_ok[None, :]
    return ok


@dataclass
class _Point:
    """The dual function at one vector of prices."""

    bound: float
    chosen: np.ndarray  # the k centres of the bound
    columns: dict[int, _Column]  # the knapsacks solved by the programme
    values: np.ndarray  # each centre's knapsack value (programme, or its LP bound)
    pair_bound: np.ndarray  # (n, n): the bound when unit i must join centre j


class CentreDual:
    """The Lagrangian dual of the assignment rows of a model-centres ``problem``."""

    def __init__(self, problem: TerritoryProblem) -> None:
        self.problem = problem
        self.n, self.k = problem.n_units, problem.n_territories
        self.allowed = allowed_pairs(problem)
        self.knapsack = BandKnapsack(problem, self.allowed)
        self.cost = np.where(self.allowed, problem.costs, np.inf)
        self.prices = BandPrices(problem, self.allowed) if len(problem.bands) > 1 else None

    def _raise(self, red: np.ndarray, values: np.ndarray, columns: dict[int, _Column]) -> None:
        """Raise the knapsack values by :class:`BandPrices` (every measure): at the last
        prices for every centre, then refined for the ``2k`` smallest, twice; the k
        smallest whose value it raised take its members (for the subgradient)."""
        prices, k = self.prices, self.k
        assert prices is not None
        raised = np.zeros(self.n, dtype=bool)
        for cols in (np.arange(self.n), None, None):
            if cols is None:
                cols = np.argsort(values, kind="stable")[:2 * k]
                cols = cols[np.isfinite(values[cols])]
                prices.refine(red, cols)
            got, _ = prices.values(red, cols)
            up = got > values[cols]
            values[cols[up]] = got[up]
            raised[cols[up]] = True
        chosen = np.argsort(values, kind="stable")[:k]
        own = np.array([j for j in chosen if raised[j] or int(j) not in columns], dtype=int)
        if len(own):
            _, take = prices.values(red, own)
            for c, j in enumerate(own):
                members = np.flatnonzero(take[:, c])
                columns[int(j)] = _Column(float(values[j]), np.r_[j, members],
                                          np.ones(len(members) + 1))

    def start(self) -> np.ndarray:
        """First prices: each unit's cost to its (n/k)-th nearest centre."""
        m = min(self.n - 1, max(1, self.n // self.k))
        prices = np.partition(self.cost, m, axis=1)[:, m]
        finite = np.isfinite(self.cost)
        return np.where(np.isfinite(prices), prices, np.where(finite, self.cost, 0).max())

    def evaluate(self, prices: np.ndarray, *, full: bool = False) -> _Point:
        """The dual function at ``prices``: a lower bound of every plan's cost.

        Every centre's LP knapsack bounds its integer one from below; the
        programme solves them in increasing order of that bound until the k
        smallest are known. The pair bounds: opening centre j costs its value
        in place of the costliest of the k; forcing unit i into it at least the
        LP knapsack's reduced cost of i (Validi et al.'s fixing, for knapsacks).
        With ``full``, every knapsack is solved (the strongest pair bounds).
        """
        k, knap = self.k, self.knapsack
        red = self.cost - prices[:, None]
        # the band dropped: a lower bound of every knapsack, at the cost of a sum
        values = np.diagonal(red) + np.minimum(red, 0.0).sum(axis=0) \
            - np.minimum(np.diagonal(red), 0.0)
        lp, mu = values.copy(), np.zeros(self.n)
        columns: dict[int, _Column] = {}
        kth = np.inf
        best = np.full(self.n, np.inf)
        order = np.argsort(values, kind="stable")
        size = max(4 * k, BATCH)
        # several measures: the prices' knapsacks (every band) replace the programme's
        # (one band); measured on Georgia's 949 accounts x 12, 3 measures: a higher
        # bound at every step, in 0.6 of the time
        for start in range(0, self.n if self.prices is None else 0, size):
            if len(columns) >= k and kth <= values[order[start]]:
                break
            batch = order[start:start + size]
            got, mu[batch] = knap.lp_values(red, batch)
            lp[batch] = np.maximum(got, values[batch])
            for j in batch[np.argsort(lp[batch], kind="stable")]:
                if not np.isfinite(lp[j]) or (len(columns) >= k and kth <= lp[j]):
                    break
                columns[int(j)] = knap.column(int(j), red[:, j])
                best[j] = max(columns[int(j)].value, lp[j])  # two lower bounds
                if len(columns) >= k:
                    kth = np.partition(best[np.fromiter(columns, dtype=int)], k - 1)[k - 1]
            values[batch] = lp[batch]
        if full and self.prices is None:
            rest = np.setdiff1d(np.arange(self.n), np.fromiter(columns, dtype=int))
            for start in range(0, len(rest), size):
                batch = rest[start:start + size]
                got, mu[batch] = knap.lp_values(red, batch)
                lp[batch] = np.maximum(got, values[batch])
            for j in rest[np.isfinite(lp[rest])]:
                columns[int(j)] = knap.column(int(j), red[:, j])
        for j, col in columns.items():
            values[j] = max(col.value, lp[j])
        if self.prices is not None:
            if full:
                self.prices.refine(red, np.arange(self.n))
            self._raise(red, values, columns)
            chosen = np.argsort(values, kind="stable")[:k]
        elif len(columns) >= k:
            solved = np.fromiter(columns, dtype=int)
            chosen = solved[np.argsort(values[solved], kind="stable")[:k]]
        else:  # fewer than k centres can hold the band: the bound is infinite
            chosen = np.argsort(values, kind="stable")[:k]
        bound = float(prices.sum() + values[chosen].sum())
        if not np.isfinite(bound):  # fewer than k territories can hold the band
            return _Point(bound, chosen, columns, values, np.full((self.n, self.n), np.inf))
        in_k = np.zeros(self.n, dtype=bool)
        in_k[chosen] = True
        opened = np.where(in_k, bound, bound - values[chosen].max() + values)
        with np.errstate(invalid="ignore"):
            if self.prices is None:
                forced = np.maximum(red - mu[None, :] * knap.a[:, None], 0.0)
            else:  # g_j with i forced in: its term min(0, t_ij) becomes t_ij
                lp, t = self.prices.values(red, np.arange(self.n), reduced=True)
                forced = np.maximum(t, 0.0)
            pair = (opened - values + lp)[None, :] + forced
        pair[np.diag_indices(self.n)] = opened
        return _Point(bound, chosen, columns, values, np.where(self.allowed, pair, np.inf))

    def spread(self, point: _Point, prices: np.ndarray) -> np.ndarray:
        """k centres to start plans from: in increasing order of knapsack value, each
        centre whose knapsack's members are at most ``SPREAD_OVERLAP`` among those of
        the centres taken before (the k of the bound often crowd one cluster),
        topped up in order. Measured on Georgia's 949 accounts x 12, 3 measures,
        location-allocation for 15 s from: these, 895,654; the bound's k, 922,792;
        k-means++, 965,559."""
        red = self.cost - prices[:, None]
        covered = np.zeros(self.n, dtype=bool)
        taken: list[int] = []
        order = np.argsort(point.values, kind="stable")
        for j in order[np.isfinite(point.values[order])]:
            col = point.columns.get(int(j))
            if col is not None:
                members = col.members[col.share > 0.5]
            elif self.prices is not None:
                members = np.r_[j, np.flatnonzero(self.prices.values(red, np.array([j]))[1])]
            else:
                continue
            if covered[members].mean() <= SPREAD_OVERLAP:
                taken.append(int(j))
                covered[members] = True
                if len(taken) == self.k:
                    break
        rest = [int(j) for j in order if int(j) not in set(taken)]
        return np.array(taken + rest[:self.k - len(taken)], dtype=int)

    def gradient(self, point: _Point) -> np.ndarray:
        """A subgradient: 1 less each unit's share in the k chosen knapsacks."""
        grad = np.ones(self.n)
        for j in point.chosen:
            col = point.columns.get(int(j))
            if col is not None:
                np.subtract.at(grad, col.members, col.share)
        return grad


@dataclass
class DualBound:
    """What :func:`dual_bound` found: the best bound, the best plan, and for every
    pair the best bound on plans that use it."""

    bound: float
    pair_bound: np.ndarray  # (n, n), the maximum over the steps
    plan: np.ndarray | None  # each unit's centre unit
    upper: float  # its cost (inf without a plan)
    iterations: int
    spread: np.ndarray | None = None  # k centres whose knapsacks overlap least, best first
    prices: np.ndarray | None = None  # the best prices (to go on from)

    def closed_pairs(self, upper: float | None = None) -> np.ndarray:
        """``(n, n)`` True where no plan costing less than ``upper`` (default: the
        best plan's cost) has unit ``i`` with centre ``j``."""
        upper = self.upper if upper is None else upper
        return self.pair_bound > upper + 1e-7 * max(abs(upper), 1.0)


def dual_bound(problem: TerritoryProblem, *, deadline: float | None,
               make_plan: Callable[[np.ndarray], np.ndarray | None] | None,
               upper: float = np.inf, plan: np.ndarray | None = None,
               target_gap: float = 1e-4, prices: np.ndarray | None = None) -> DualBound:
    """Maximise the Lagrangian dual of the assignment rows (module doc).

    ``make_plan(centres)`` turns k centre units into a plan (each unit's centre
    unit) or None (``make_plan`` None: no plans); it is called with the knapsacks'
    centres every ``PLAN_EVERY`` steps while the gap to the best plan is open. ``upper`` and
    ``plan`` give a known plan, ``prices`` where to start (an earlier run's best
    prices go on from there). Stops when the gap closes to ``target_gap``,
    the step size falls below ``MIN_STEP``, after ``ITERATIONS`` steps or at
    the deadline.
    """
    dual = CentreDual(problem)
    prices = dual.start() if prices is None else prices
    best_bound, best_prices = -np.inf, prices
    pair_bound = np.full((dual.n, dual.n), -np.inf)
    step, stall, tried = 2.0, 0, set()
    it = 0
    for it in range(1, ITERATIONS + 1):
        point = dual.evaluate(prices)
        if not np.isfinite(point.bound):
            best_bound, best_prices = point.bound, prices
            break
        np.maximum(pair_bound, point.pair_bound, out=pair_bound)
        if it % 50 == 0:
            logger.debug("dual step %d: bound %.8g, best %.8g, step %.3g", it, point.bound,
                         best_bound, step)
        if point.bound > best_bound + 1e-9 * max(abs(point.bound), 1.0):
            best_bound, best_prices, stall = point.bound, prices, 0
        else:
            stall += 1
            if stall >= STALL:
                step, stall = step / 2, 0
        key = tuple(sorted(point.chosen.tolist()))
        if make_plan is not None and it % PLAN_EVERY == PLAN_FIRST % PLAN_EVERY \
                and it >= PLAN_FIRST and key not in tried:
            tried.add(key)
            found = make_plan(np.sort(point.chosen))
            if found is not None and problem.objective_of(found) < upper:
                plan, upper = found, problem.objective_of(found)
                logger.info("dual step %d: plan %.8g", it, upper)
        if step < MIN_STEP or (np.isfinite(upper) and upper - best_bound
                               <= target_gap * max(abs(upper), 1e-9)):
            break
        if deadline is not None and time.perf_counter() > deadline:
            break
        grad = dual.gradient(point)
        norm = float(grad @ grad)
        if norm < 1e-12:  # the knapsacks form a plan: no price can raise the bound
            break
        goal = upper if np.isfinite(upper) else best_bound + GOAL * abs(best_bound) + 1.0
        prices = prices + step * max(goal - point.bound, 1e-9 * max(abs(goal), 1.0)) \
            / norm * grad
    spread = None
    if np.isfinite(best_bound):  # every knapsack at the best prices, for the pair bounds
        point = dual.evaluate(best_prices, full=True)
        np.maximum(pair_bound, point.pair_bound, out=pair_bound)
        spread = dual.spread(point, best_prices)
        if plan is None and make_plan is not None:  # at least one plan
            plan = make_plan(np.sort(spread))
            upper = np.inf if plan is None else problem.objective_of(plan)
    logger.info("Lagrangian bound %.8g after %d steps (plan %.8g)", best_bound, it, upper)
    return DualBound(best_bound, pair_bound, plan, upper, it, spread, best_prices)
