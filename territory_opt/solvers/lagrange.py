"""The Lagrangian path: national sizes with a certified gap (``method="lagrange"``).

Handing HiGHS every pair of unit and territory stops working at national size
(40,000 ZIP codes x 200 territories: 8 million binaries; HiGHS needs minutes for
the LP alone). This path relaxes the bands instead, whose dual has only
``metrics x territories`` variables (:class:`Allocator`, for given centres):

1. **Band duals.** Above ``AGGREGATE_ABOVE`` units, the exact LP duals of the
   problem in which ``AGGREGATE_GROUPS`` k-means groups of units move as one
   (HiGHS, every group-territory pair, elastic slack) start the search. Then the
   log-sum-exp smoothing of the Lagrangian dual, over each unit's cheapest
   territories and each territory's cheapest units, is maximised by L-BFGS-B at
   falling temperatures.
2. **A certified lower bound.** For any band duals ``pi`` (and cap dual
   ``gamma <= 0``), the Lagrangian value
   ``sum_i min_t (c_it - sum_m a_mi pi_mt - gamma m_it) + sum_mt (pi_mt L_mt
   if pi_mt > 0 else pi_mt U_mt) + gamma cap`` is below the cost of every plan
   of the full problem. It is computed over all pairs, so the bound never
   depends on the candidates.
3. **Rounding.** The LP over each unit's few territories of least reduced cost
   (HiGHS simplex; more while it cannot hold the bands) gives a basic optimum
   that splits few units, and through its duals a second certified bound.
   Split units go where most of them is, greedy moves restore the bands, and a
   small MIP re-assigns the split units and those with a nearly as cheap
   alternative, every other unit fixed; its neighbourhood grows until feasible.
4. **Contiguity** (optional): the repair and local search of
   :func:`territory_opt.solvers.local.make_contiguous`. The bound of step 2
   stays valid (contiguity only removes plans).
With regions, each region band adds a dual per metric and region; a pair's price
is its territory's dual plus its region's (``c_it - sum_m a_mi (pi_mt +
lambda_m,r(t))``), every LP and MIP above holds the region rows, and the
contiguity repair moves units only inside their regions, so the region sums stay
as rounded.

5. **Model-chosen centres**: location-allocation
   (:func:`territory_opt.solvers.local.locate_allocate`) from a
   workload-weighted k-means, each allocation being steps 1-3; then, up to
   ``DUAL_UNITS`` units, the Lagrangian bound of the assignment rows
   (:mod:`territory_opt.solvers.centres`), with more plans from its centres
   (:func:`model_centres_dual`); above, the bound over candidate pairs
   (:mod:`territory_opt.solvers.candidates`) in ``CANDIDATE_SHARE`` of the time
   limit, after the plan (distances from coordinates; otherwise ``bound=None``).

Small problems are solved by the MIP (:mod:`territory_opt.solvers.mip`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix
from scipy.spatial import cKDTree

from territory_opt.checks import check_feasibility, regions_connected
from territory_opt.errors import InfeasibleError, SolverError
from territory_opt.plan import Bands
from territory_opt.problem import TerritoryProblem
from territory_opt.solution import Solution, relative_gap
from territory_opt.solvers import highs
from territory_opt.solvers.candidates import candidate_bound, takes_candidates
from territory_opt.solvers.centres import DualBound, dual_bound
from territory_opt.solvers.local import locate_allocate, make_contiguous
from territory_opt.solvers.options import SolveOptions

__all__ = ["CONTIGUOUS_UNITS", "LARGE_PAIRS", "Allocation", "Allocator", "allocate_centres",
           "improve_centres", "kmeans_centres", "solve_lagrange"]

logger = logging.getLogger(__name__)

LARGE_PAIRS = 1_000_000  # unit x centre-column pairs above which method='auto' takes this path
CONTIGUOUS_UNITS = 2_000  # units above which method='auto' takes it with contiguity
CANDIDATES_PER_UNIT = 12  # cheapest territories per unit in each stage of the dual ascent
CANDIDATES_PER_TERRITORY = 3  # and each territory's cheapest units, in average territories
TEMPERATURES = (1e-1, 1e-2, 1e-3)  # of the mean cheapest cost per unit
AGGREGATE_ABOVE = 5000  # units: above, the first dual stages run on groups of units
AGGREGATE_GROUPS = 1000
DUAL_BOX = 1e3  # dual prices beyond this many times (largest cost / median amount) are moot
DUAL_ITERATIONS = 150
LOCATE_ROUNDS = 4  # location-allocation rounds at most
PLAN_SECONDS = 1.0  # per plan the Lagrangian bound of model centres builds from its centres
PLAN_ROUNDS = 3  # location-allocation rounds per such plan
DUAL_UNITS = 3000  # model centres: units up to which this path computes the bound
DUAL_SHARE = 0.5  # of the time limit, for that bound and its plans
CANDIDATE_SHARE = 0.3  # above: of the time limit, for the candidate-pair bound after the plan
ALLOCATION_GAP = 1e-2  # the rounding MIP's in location-allocation rounds (the centres move after)
HUGE = 1e30  # the cost of a pair that is not allowed
RESTRICTED_COLUMNS = 3  # columns per unit (least reduced cost) in the restricted LP
ROUNDING_UNITS = 1000
ROUNDING_GAP = 2e-5  # of the whole plan's bound: how far the rounding MIP may stop from its optimum
ROUNDING_SECONDS = 10.0  # time cap of the rounding MIP at ROUNDING_SCALE units and above
ROUNDING_SCALE = 20000  # below this many units the cap shrinks in proportion ...
ROUNDING_FLOOR = 0.3  # ... to no less than this share of it


@dataclass
class Allocation:
    """An integral plan for given centres, with its certified bound."""

    territory: np.ndarray  # each unit's position among the centres
    objective: float
    bound: float  # Lagrangian bound certified over all pairs (allocation to these centres)


def _band_rows(n_rows: int, lower: np.ndarray, upper: np.ndarray,
              cap: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Row bounds of an allocation model: ``n_rows`` assignment rows (= 1), one band
    row per metric and territory, then per metric and region (``lower``/``upper``
    are ``(metrics, territories + regions)``; open where the band is), and the cap
    row."""
    lo = np.concatenate([np.ones(n_rows), np.where(np.isfinite(lower), lower, -highs.INF)
                         .ravel(), [-highs.INF] if cap is not None else []])
    hi = np.concatenate([np.ones(n_rows), np.where(np.isfinite(upper), upper, highs.INF)
                         .ravel(), [cap] if cap is not None else []])
    return lo, hi


def _pair_entries(row: np.ndarray, terr: np.ndarray, amounts: np.ndarray, n_rows: int,
                  k: int, moves: np.ndarray | None, region: np.ndarray | None = None,
                  n_regions: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Row indices and values of one column per pair, in the rows of :func:`_band_rows`:
    1 in assignment row ``row``, the amounts of each metric in the band rows of
    territory ``terr`` and of its region (``region``: each territory's), and (with a
    cap) what the pair moves in the cap row."""
    nm = amounts.shape[0]
    width = k + n_regions
    idx = [row[:, None]] + [(n_rows + m * width + terr)[:, None] for m in range(nm)]
    val = [np.ones((len(row), 1))] + [amounts[m][:, None] for m in range(nm)]
    if n_regions:
        assert region is not None
        idx += [(n_rows + m * width + k + region[terr])[:, None] for m in range(nm)]
        val += [amounts[m][:, None] for m in range(nm)]
    if moves is not None:
        idx.append(np.full((len(row), 1), n_rows + nm * width))
        val.append(moves[:, None])
    return np.hstack(idx), np.hstack(val)


def _groups(problem: TerritoryProblem, g: int) -> np.ndarray:
    """Each unit's group: ``g`` clusters of nearby units (k-means on x, y, seeded),
    split so that a group's units may join the same territories (reps' segments)."""
    from sklearn.cluster import MiniBatchKMeans  # scikit-learn: 0.8 s to import, deferred

    xy = problem.units[["x", "y"]].to_numpy(dtype=float)
    pattern = np.zeros(len(xy), dtype=int)
    if problem.eligible is not None:  # about g groups in all
        _, pattern = np.unique(problem.eligible, axis=0, return_inverse=True)
        pattern = pattern.ravel()
        g = max(g // (int(pattern.max()) + 1), 1)
    model = MiniBatchKMeans(n_clusters=g, n_init=1, random_state=0, batch_size=8192,
                            max_iter=20)
    labels = model.fit_predict(xy) * (int(pattern.max()) + 1) + pattern
    _, labels = np.unique(labels, return_inverse=True)  # drop empty clusters
    return labels.ravel()


def _indicator(group: np.ndarray, g: int) -> Any:
    """The sparse ``(g, n)`` matrix summing units into their groups."""
    n = len(group)
    return csr_matrix((np.ones(n), (group, np.arange(n))), shape=(g, n))


class _SmoothedDual:
    """The Lagrangian dual of the bands (and cap) on a set of pairs, smoothed.

    Variables ``z = [p, q, g] >= 0`` with band duals ``pi = p - q`` and cap dual
    ``gamma = -g``: for pairs ``(r, c)`` with cost ``w``, amounts ``a`` and
    moves ``m``, the value is ``sum_r softmin_tau_c (w - sum_m a_m pi_mc + g m)
    + p.L - q.U - g cap``, a lower bound of the exact dual on these pairs. With
    regions, ``pi`` has a column per territory and then per region, and a pair's
    price is its territory's dual plus its region's (``region``: each territory's).
    """

    def __init__(self, *, lower: np.ndarray, upper: np.ndarray, cap: float | None,
                 box: float, region: np.ndarray | None = None) -> None:
        self.nm, self.width = lower.shape
        self.region = region
        self.k = self.width if region is None else len(region)
        self.size = self.nm * self.width
        self.cap = cap
        lo_ok, hi_ok = np.isfinite(lower), np.isfinite(upper)
        self.lower0 = np.where(lo_ok, lower, 0.0).ravel()
        self.upper0 = np.where(hi_ok, upper, 0.0).ravel()
        self.bounds = ([(0, box) if ok else (0, 0) for ok in lo_ok.ravel()]
                       + [(0, box) if ok else (0, 0) for ok in hi_ok.ravel()]
                       + ([(0, box)] if cap is not None else []))

    def zero(self) -> np.ndarray:
        return np.zeros(2 * self.size + (self.cap is not None))

    def pack(self, pi: np.ndarray, gamma: float) -> np.ndarray:
        z = np.concatenate([np.maximum(pi, 0).ravel(), np.maximum(-pi, 0).ravel(),
                            [max(-gamma, 0.0)] if self.cap is not None else []])
        return np.clip(z, [b[0] for b in self.bounds], [b[1] for b in self.bounds])

    def unpack(self, z: np.ndarray) -> tuple[np.ndarray, float]:
        pi = (z[:self.size] - z[self.size:2 * self.size]).reshape(self.nm, self.width)
        return pi, -(float(z[-1]) if self.cap is not None else 0.0)

    def maximise(self, z0: np.ndarray, rows: np.ndarray, cols: np.ndarray, w: np.ndarray,
                 a: np.ndarray, m: np.ndarray | None, n_rows: int, tau: float) -> np.ndarray:
        """L-BFGS-B on the smoothed dual over the pairs (``rows`` sorted)."""
        from scipy.optimize import minimize  # 0.15 s to import, deferred to the first solve

        size, nm, k, width, region = self.size, self.nm, self.k, self.width, self.region
        if not len(z0):  # no band and no cap: nothing to price
            return z0
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        use_cap = self.cap is not None and m is not None

        def fun(z: np.ndarray) -> tuple[float, np.ndarray]:
            pi = _territory_prices((z[:size] - z[size:2 * size]).reshape(nm, width), region)
            red = w.copy()
            for j in range(nm):
                red -= a[j] * pi[j][cols]
            if use_cap:
                red += z[-1] * m
            low = np.minimum.reduceat(red, starts)
            e = np.exp(-(red - low[rows]) / tau)
            tot = np.add.reduceat(e, starts)
            prob = e / tot[rows]
            value = float((low - tau * np.log(tot)).sum())
            value += float(z[:size] @ self.lower0 - z[size:2 * size] @ self.upper0)
            grad = np.zeros_like(z)
            for j in range(nm):
                load = np.bincount(cols, weights=a[j] * prob, minlength=k)
                if region is not None:
                    load = np.concatenate([load, np.bincount(region, weights=load,
                                                             minlength=width - k)])
                part = slice(j * width, (j + 1) * width)
                grad[part] = self.lower0[part] - load
                grad[size + j * width:size + (j + 1) * width] = load - self.upper0[part]
            if use_cap:
                value -= float(z[-1]) * float(self.cap)
                grad[-1] = float(m @ prob) - float(self.cap)
            return -value, -grad

        res = minimize(fun, z0, jac=True, method="L-BFGS-B", bounds=self.bounds,
                       options={"maxiter": DUAL_ITERATIONS, "ftol": 1e-10, "gtol": 1e-8})
        logger.debug("smoothed dual at tau %g: %d rows, %d pairs, %d iterations, value %.8g",
                     tau, n_rows, len(rows), res.nit, -res.fun)
        return res.x


def _territory_prices(pi: np.ndarray, region: np.ndarray | None) -> np.ndarray:
    """``(metrics, territories)`` prices from band duals with a column per territory
    and then per region: a territory's dual plus its region's."""
    if region is None:
        return pi
    k = len(region)
    return pi[:, :k] + pi[:, k:][:, region]


class Allocator:
    """The balanced assignment of all units to ``k`` given centre columns.

    ``cost`` is the dense ``(n, k)`` cost matrix (+inf where a unit may not go:
    locks, reps who do not serve its segment, and a centre unit must stay in its
    own territory).
    """

    def __init__(self, problem: TerritoryProblem, centre_cols: np.ndarray, *,
                 pinned: dict[int, int], threads: int | None, seed: int, msg: bool,
                 gap: float = 0.0) -> None:
        self.problem = problem
        self.gap = gap  # relative: how far the rounding MIP may stop from its optimum
        self.n, self.k = problem.n_units, len(centre_cols)
        n = self.n
        self.cols = np.asarray(centre_cols, dtype=int)
        cost = problem.cost_block(np.arange(n), self.cols)
        if problem.eligible is not None:  # fixed centres: the columns are the territories
            cost[~problem.eligible[:, self.cols]] = np.inf
        if pinned:
            units = np.fromiter(pinned, dtype=int)
            keep = cost[units, np.fromiter(pinned.values(), dtype=int)]
            cost[units] = np.inf
            cost[units, np.fromiter(pinned.values(), dtype=int)] = keep
        self.cost = cost
        self.pinned = pinned
        self.bands = Bands(problem)
        self.metrics = self.bands.metrics
        self.a = self.bands.a
        # band rows: per metric, one per territory, then one per region with a band
        self.n_regions = self.bands.n_regions
        self.region = self.bands.region if self.n_regions else None
        self.lower = np.hstack([self.bands.lower, self.bands.region_lower])
        self.upper = np.hstack([self.bands.upper, self.bands.region_upper])
        self.moves = None
        self.cap = None
        if problem.moves is not None and problem.max_moved is not None:
            self.moves = problem.moves[:, self.cols]
            self.cap = problem.max_moved * problem.move_total
        self.threads, self.seed, self.msg = threads, seed, msg

    # ---------------------------------------------------------------- pricing

    def reduced(self, duals: np.ndarray, gamma: float) -> np.ndarray:
        """``c_it - sum_m a_mi pi_mt - gamma m_it`` for all pairs (without ``y_i``)."""
        red = self.cost.copy()
        prices = _territory_prices(duals, self.region)
        for m in range(len(self.metrics)):
            red -= self.a[m][:, None] * prices[m][None, :]
        if self.moves is not None and gamma:
            red -= gamma * self.moves
        return red

    def lagrangian(self, duals: np.ndarray, gamma: float,
                   reduced: np.ndarray | None = None) -> float:
        """The certified lower bound for any band duals and cap dual (see module doc)."""
        duals = np.where((duals > 0) & ~np.isfinite(self.lower), 0.0, duals)
        duals = np.where((duals < 0) & ~np.isfinite(self.upper), 0.0, duals)
        gamma = min(gamma, 0.0)
        red = self.reduced(duals, gamma) if reduced is None else reduced
        value = float(red.min(axis=1).sum())
        # a dual is 0 where its side of the band is open: take 0 there, not 0 * inf
        lower = np.where(np.isfinite(self.lower), self.lower, 0.0)
        upper = np.where(np.isfinite(self.upper), self.upper, 0.0)
        value += float(np.where(duals > 0, duals * lower, duals * upper).sum())
        if self.cap is not None:
            value += gamma * self.cap
        return value

    # ---------------------------------------------------------------- the dual

    def dual_ascent(self, deadline: float | None) -> tuple[np.ndarray, float]:
        """Band duals (and cap dual) near the maximum of the Lagrangian dual.

        The dual is concave and piecewise linear in ``metrics x k`` variables;
        its log-sum-exp smoothing at temperature ``tau`` (costs in units of the
        mean cheapest cost of a unit) is maximised by L-BFGS-B, ``tau`` falling
        tenfold per stage. Above ``AGGREGATE_ABOVE`` units, the first stages
        run on groups of nearby units (k-means) moving as one, over all pairs;
        the last ones on each unit's cheapest territories and each territory's
        cheapest units under the duals so far. Box bounds on the duals (elastic
        slack in primal terms) keep a stage bounded whatever its pairs. The
        bound itself is always computed over all pairs (:meth:`lagrangian`).
        """
        n, k, nm = self.n, self.k, len(self.metrics)
        amount = self.bands.share  # per metric: a territory's share
        a = self.a / amount[:, None]  # metrics in shares of a territory
        finite = np.isfinite(self.cost)
        base = np.where(finite, self.cost, np.inf).min(axis=1)
        cost_scale = max(float(np.abs(base).mean()), 1e-12)
        cost = np.where(finite, self.cost / cost_scale, HUGE)
        move_scale = 1.0 if self.moves is None else max(float(np.abs(self.moves).max()), 1e-12)
        moves = None if self.moves is None else self.moves / move_scale
        dual = _SmoothedDual(lower=self.lower / amount[:, None],
                             upper=self.upper / amount[:, None], region=self.region,
                             cap=None if self.cap is None else self.cap / move_scale,
                             box=DUAL_BOX * float(np.where(finite, cost, 0).max()) / max(
                                 float(np.median(np.abs(a[a != 0]))) if (a != 0).any()
                                 else 1.0, 1e-12))
        z = dual.zero()
        temps = list(TEMPERATURES)
        if n > AGGREGATE_ABOVE:
            group = _groups(self.problem, AGGREGATE_GROUPS)
            g = group.max() + 1
            ind = _indicator(group, g)
            # pinned units count at their real costs here: the groups only guide the duals
            g_cost = np.asarray(ind @ np.where(finite, cost, np.where(finite, cost, 0).max(
                axis=1, keepdims=True)))
            if self.problem.eligible is not None:  # a group may not join where none of it may
                g_cost[~np.asarray(ind @ self.problem.eligible[:, self.cols]).astype(bool)] \
                    = np.inf
            g_a = np.vstack([np.bincount(group, weights=a[m], minlength=g) for m in range(nm)]) \
                if nm else np.zeros((0, g))
            g_moves = None if moves is None else np.asarray(ind @ moves)
            pi, gz = self._aggregate_duals(g_cost, g_a, g_moves, dual, deadline)
            z = dual.pack(pi, gz)
            temps = temps[-1:]
        q = min(CANDIDATES_PER_UNIT, k)
        reach = min(n, CANDIDATES_PER_TERRITORY * max(n // k, 1))
        for tau in temps:
            if deadline is not None and time.perf_counter() > deadline:
                break
            pi, gz = dual.unpack(z)
            prices = _territory_prices(pi, self.region)
            full = cost.copy()
            for m in range(nm):
                full -= a[m][:, None] * prices[m][None, :]
            if moves is not None:
                full -= gz * moves
            take = np.zeros((n, k), dtype=bool)
            take[np.arange(n)[:, None], np.argpartition(full, q - 1, axis=1)[:, :q]
                 if q < k else np.arange(k)[None, :]] = True
            full -= full.min(axis=1, keepdims=True)
            take[np.argpartition(full, reach - 1, axis=0)[:reach] if reach < n
                 else np.arange(n)[:, None], np.arange(k)[None, :]] = True
            del full
            rows, cols = np.nonzero(take)  # sorted by unit
            del take
            z = dual.maximise(z, rows, cols, cost[rows, cols], a[:, rows],
                              None if moves is None else moves[rows, cols], n, tau)
        pi, gz = dual.unpack(z)
        return pi * cost_scale / amount[:, None], gz * cost_scale / move_scale

    def _aggregate_duals(self, cost: np.ndarray, a: np.ndarray, moves: np.ndarray | None,
                         dual: _SmoothedDual, deadline: float | None) -> tuple[np.ndarray, float]:
        """Exact LP duals of the problem where each group moves as one (HiGHS, all
        pairs; elastic slack at the dual box's price keeps it feasible)."""
        g, k = cost.shape
        nm, width = a.shape[0], dual.width
        h = highs.new_model(threads=self.threads, seed=self.seed, msg=self.msg)
        lo_ok = np.array([b[1] > 0 for b in dual.bounds[:dual.size]]).reshape(nm, width)
        hi_ok = np.array([b[1] > 0 for b in dual.bounds[dual.size:2 * dual.size]]
                         ).reshape(nm, width)
        cap = dual.cap if moves is not None else None
        lo, hi = _band_rows(g, np.where(lo_ok, dual.lower0.reshape(nm, width), -highs.INF),
                            np.where(hi_ok, dual.upper0.reshape(nm, width), highs.INF), cap)
        highs.add_rows(h, lo, hi)
        box = dual.bounds[0][1] if dual.bounds else 0.0
        if nm:  # slack: s+ and s- per band row at the box price
            n_s = 2 * nm * width
            highs.add_columns(h, np.full(n_s, box), np.zeros(n_s), np.full(n_s, highs.INF),
                              np.repeat(g + np.arange(nm * width), 2)[:, None],
                              np.tile([1.0, -1.0], nm * width)[:, None])
        rows, cols = np.divmod(np.arange(g * k), k)
        ok = np.isfinite(cost.ravel())  # a group's disallowed territories: no column
        rows, cols = rows[ok], cols[ok]
        r, v = _pair_entries(rows, cols, a[:, rows], g, k, None if cap is None
                             else moves.ravel()[ok],  # type: ignore[union-attr]
                             self.region, self.n_regions)
        highs.add_columns(h, cost.ravel()[ok], np.zeros(len(rows)),
                          np.full(len(rows), highs.INF), r, v)
        left = None if deadline is None else deadline - time.perf_counter()
        status = highs.run(h, left)
        if status != "optimal":
            logger.info("aggregate LP: %s; dual ascent starts from zero", status)
            return np.zeros((nm, width)), 0.0
        y = highs.solution(h)[1]
        pi = y[g:g + nm * width].reshape(nm, width)
        gamma = float(y[-1]) if cap is not None else 0.0
        logger.debug("aggregate LP: %d groups, value %.8g", g,
                     h.getInfo().objective_function_value)
        return pi, gamma

    def solve(self, deadline: float | None) -> Allocation:
        """Duals by :meth:`dual_ascent`, their certified bound, then rounding."""
        pi, gamma = self.dual_ascent(deadline)
        red = self.reduced(pi, gamma)
        bound = self.lagrangian(pi, gamma, red)
        territory, bound = self._round(red, bound, deadline)
        objective = float(self.cost[np.arange(self.n), territory].sum())
        return Allocation(territory=territory, objective=objective, bound=bound)

    # ---------------------------------------------------------------- rounding

    def _greedy(self, territory: np.ndarray, deadline: float | None) -> np.ndarray | None:
        """Restore the bands by single moves, each the cheapest per unit of violation
        removed, never moving a unit twice (the territories' bands first, then the
        regions'); None if stuck."""
        n, k, nm = self.n, self.k, len(self.metrics)
        lab = territory.copy()
        if not nm:
            return lab
        sums = self.bands.sums(lab)
        movable = np.isfinite(self.cost).sum(axis=1) > 1
        allk = np.arange(k)
        for _ in range(n):
            viol = self.bands.violation(sums, allk)
            t = int(np.argmax(viol))
            if deadline is not None and time.perf_counter() > deadline:
                return None
            if viol[t] <= 1e-12:
                if self.bands.region_violation(sums) <= 1e-12:
                    return lab
                move = self._region_move(lab, sums, movable, viol)
                if move is None:
                    return None
                i, dst = move
                sums[:, lab[i]] -= self.a[:, i]
                sums[:, dst] += self.a[:, i]
                lab[i] = dst
                movable[i] = False
                continue
            if (sums[:, t] > self.upper[:, t]).any():  # move a member out
                units = np.flatnonzero((lab == t) & movable)
                a = self.a[:, units]
                src = np.full(len(units), t)
                v_src = self.bands.violation(sums[:, t][:, None] - a, src)
                v_dst = self.bands.violation(sums[:, None, :] + a[:, :, None], allk)
                dv = v_src[:, None] + v_dst - viol[t] - viol[None, :]
                dv[:, t] = 0
                dc = self.cost[units] - self.cost[units, t][:, None]
            else:  # pull a unit in
                units = np.flatnonzero((lab != t) & movable & np.isfinite(self.cost[:, t]))
                a = self.a[:, units]
                src = lab[units]
                v_src = self.bands.violation(sums[:, src] - a, src)
                v_dst = self.bands.violation(sums[:, t][:, None] + a, np.full(len(units), t))
                dv = (v_src + v_dst - viol[src] - viol[t])[:, None]
                dc = (self.cost[units, t] - self.cost[units, src])[:, None]
            if not len(units):
                return None
            with np.errstate(divide="ignore", invalid="ignore"):
                score = np.where(dv < -1e-12, dc / -dv, np.inf)
            if not np.isfinite(score).any():
                return None
            r, c = divmod(int(np.argmin(score)), score.shape[1])
            i = int(units[r])
            dst = c if score.shape[1] == k else t
            sums[:, int(src[r])] -= self.a[:, i]
            sums[:, dst] += self.a[:, i]
            lab[i] = dst
            movable[i] = False
        return None

    def _region_move(self, lab: np.ndarray, sums: np.ndarray, movable: np.ndarray,
                     viol: np.ndarray) -> tuple[int, int] | None:
        """The move that lowers the worst region's violation (out of it when over, into
        it when under), counting the violation of both territories and both regions,
        at the least cost per unit of violation removed; None if none lowers it."""
        bands, region = self.bands, self.region
        assert region is not None
        reg = bands.region_sums(sums)

        def region_viol(r_sums: np.ndarray, r: np.ndarray) -> np.ndarray:
            return bands.outside(r_sums, bands.region_lower[:, r], bands.region_upper[:, r])

        rv = region_viol(reg, np.arange(self.n_regions))
        r = int(np.argmax(rv))
        over = bool((reg[:, r] > bands.region_upper[:, r]).any())
        inside = region[lab] == r
        units = np.flatnonzero(movable & (inside if over else ~inside))
        dests = np.flatnonzero(region != r if over else region == r)
        if not len(units) or not len(dests):
            return None
        a = self.a[:, units]  # (nm, U)
        src = lab[units]
        # territories: the source loses a, each destination gains it
        dv = bands.violation(sums[:, src] - a, src)[:, None] - viol[src][:, None]
        dv = dv + bands.violation(sums[:, dests][:, None, :] + a[:, :, None], dests) \
            - viol[dests][None, :]
        # regions: the source's region loses a, the destination's gains it
        r_src, r_dst = region[src], region[dests]
        dv = dv + (region_viol(reg[:, r_src] - a, r_src) - rv[r_src])[:, None]
        dv = dv + region_viol(reg[:, r_dst][:, None, :] + a[:, :, None], r_dst) \
            - rv[r_dst][None, :]
        dc = self.cost[np.ix_(units, dests)] - self.cost[units, src][:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            score = np.where((dv < -1e-12) & np.isfinite(dc), dc / -dv, np.inf)
        if not np.isfinite(score).any():
            return None
        u, d = divmod(int(np.argmin(score)), score.shape[1])
        return int(units[u]), int(dests[d])

    def _restricted_lp(self, rc: np.ndarray, q: int, deadline: float | None, wide: bool
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float] | None:
        """The LP over each unit's ``q`` columns of least reduced cost and, when
        ``wide``, each territory's ``q`` average territories' worth of units of least
        reduced cost (HiGHS simplex).

        Returns the support ``(units, territories, values)`` of a basic optimum and
        its band and cap duals, or None when the pairs cannot hold the bands.
        """
        n, k, nm = self.n, self.k, len(self.metrics)
        h = highs.new_model(threads=self.threads, seed=self.seed, msg=self.msg)
        highs.add_rows(h, *_band_rows(n, self.lower, self.upper, self.cap))
        q = min(q, k)
        take = np.zeros((n, k), dtype=bool)
        if q < k:
            take[np.arange(n)[:, None], np.argpartition(rc, q - 1, axis=1)[:, :q]] = True
            # and each territory's cheapest units, so that every one can reach its band
            # (a rep of few segments is rarely among a unit's cheapest)
            reach = min(n, q * max(n // k, 1))
            if wide and reach < n:
                take[np.argpartition(rc, reach - 1, axis=0)[:reach], np.arange(k)] = True
        else:
            take[:] = True
        take &= np.isfinite(self.cost)
        units, terrs = np.nonzero(take)
        del take
        r, v = _pair_entries(units, terrs, self.a[:, units], n, k,
                             None if self.moves is None else self.moves[units, terrs],
                             self.region, self.n_regions)
        highs.add_columns(h, self.cost[units, terrs], np.zeros(len(units)),
                          np.ones(len(units)), r, v)
        status = highs.run(h, None if deadline is None else deadline - time.perf_counter())
        if status == "infeasible":
            return None
        if status != "optimal":
            raise SolverError("the time limit ran out in the restricted LP; give it more "
                              "time (--time-limit)")
        x, y = highs.solution(h)
        keep = x > 1e-9
        logger.info("restricted LP: %d pairs, value %.8g, %d units split", len(units),
                    h.getInfo().objective_function_value,
                    int(((x > 1e-9) & (x < 1 - 1e-9)).sum()))
        width = k + self.n_regions
        return (units[keep], terrs[keep], x[keep], y[n:n + nm * width].reshape(nm, width),
                float(y[-1]) if self.cap is not None else 0.0)

    def _round(self, red: np.ndarray, bound: float, deadline: float | None
               ) -> tuple[np.ndarray, float]:
        """An integral plan near the dual optimum, and the best certified bound.

        The LP over each unit's cheapest columns under the duals (reduced cost)
        gives a basic optimum that splits few units (more columns while it
        cannot hold the bands); its duals give a second certified bound. A small
        MIP then re-assigns the split units and the units whose next-best
        territory is nearly as cheap; every other unit stays where the LP puts it.
        """
        n = self.n
        best = np.argmin(red, axis=1)
        rc = red - red[np.arange(n), best][:, None]
        q = RESTRICTED_COLUMNS
        # each territory's cheapest units too: where reps serve some segments only (else
        # they seldom reach their bands), and with fixed centres (measured: a tighter
        # gap at the same time; with model centres, whose allocations run many times,
        # slower and no better); and whenever the LP without them has no plan
        wide = self.problem.eligible is not None or self.problem.centres == "fixed"
        while True:
            got = self._restricted_lp(rc, q, deadline, wide)
            if got is None and not wide:
                wide = True
                got = self._restricted_lp(rc, q, deadline, wide)
            if got is not None:
                break
            if q >= self.k:
                raise InfeasibleError(
                    "no assignment holds the bands: even the LP relaxation over every pair "
                    "of unit and territory has none; widen the tightest band or change the "
                    "number of territories")
            q *= 3
        units, terrs, x, pi, gamma = got
        bound = max(bound, self.lagrangian(pi, gamma))
        lp_terr = np.full(n, -1)
        whole = x > 1 - 1e-9
        lp_terr[units[whole]] = terrs[whole]
        rc_other = rc.copy()
        rc_other[np.arange(n), np.maximum(lp_terr, best)] = np.inf
        alt = np.where(lp_terr < 0, -np.inf, rc_other.min(axis=1))
        del rc_other
        # split units go where most of them is; greedy moves restore the bands
        big = np.argsort(x, kind="stable")
        first = lp_terr.copy()
        first[units[big]] = np.where(lp_terr[units[big]] < 0, terrs[big], lp_terr[units[big]])
        start = self._greedy(first, deadline)
        if start is not None:
            alt[start != lp_terr] = -np.inf
        size = min(n, int((alt == -np.inf).sum()) + ROUNDING_UNITS)
        if size >= n and len(self.metrics) > 1:
            # every unit free under several bands: on fewer columns only (measured:
            # Georgia's 949 accounts x 12 given centres, three measures +-5 %: every
            # column, no plan in its 3 s; 3 columns per unit, a plan in 2 s)
            territory = self._round_all(pi, gamma, lp_terr, bound, deadline, (units, terrs))
            if territory is None:  # the MIP over every column fared worse there
                raise SolverError("the rounding MIP found no plan within the bands in its "
                                  "time (units are coarse for these bands); widen the bands, "
                                  "use smaller units, or solve with method='mip'")
            return territory, bound
        while True:
            free = np.argsort(alt, kind="stable")[:size]
            free_mask = np.zeros(n, dtype=bool)
            free_mask[free] = True
            fin = alt[free][np.isfinite(alt[free])]
            delta = float(fin.max(initial=0.0)) if size < n else np.inf
            sup = free_mask[units]
            try:
                territory = self._round_mip(free_mask, lp_terr, rc, delta, bound, deadline,
                                            (units[sup], terrs[sup]), start)
            except SolverError:  # none in its time: every unit free, on fewer columns
                territory = self._round_all(pi, gamma, lp_terr, bound, deadline,
                                            (units, terrs))
                if territory is None:
                    raise
            if territory is not None:
                return territory, bound
            if size >= n:
                raise InfeasibleError(
                    "no assignment holds the bands (the LP relaxation has one, but the units "
                    "are too coarse for the bands); widen the tightest band or use smaller "
                    "units")
            if deadline is not None and time.perf_counter() > deadline:
                raise SolverError("the time limit ran out while assigning units within the "
                                  "bands; give it more time (--time-limit)")
            size = min(n, size * 4)
            logger.info("rounding MIP infeasible; %d units free now", size)

    def _round_all(self, pi: np.ndarray, gamma: float, lp_terr: np.ndarray, lp_value: float,
                   deadline: float | None, support: tuple[np.ndarray, np.ndarray]
                   ) -> np.ndarray | None:
        """The rounding MIP with every unit free, on each unit's ``RESTRICTED_COLUMNS``
        columns of least reduced cost under the restricted LP's duals (and the LP's
        support). Where the bands are tight on several measures, fixing the LP's whole
        units leaves the split ones no room (measured: Georgia's 949 units x 12 model
        centres, three measures +-5 %: no plan from the free units in 3 s; every unit
        free on 3 columns each: a plan within 1 % of the LP in about 2 s)."""
        red = self.reduced(pi, gamma)
        q = min(RESTRICTED_COLUMNS, self.k)
        near = np.full(red.shape, np.inf)
        cheap = np.argpartition(red, q - 1, axis=1)[:, :q]
        near[np.arange(self.n)[:, None], cheap] = 0.0
        everyone = np.ones(self.n, dtype=bool)
        try:
            return self._round_mip(everyone, lp_terr, near, 0.0, lp_value, deadline, support,
                                   None)
        except SolverError:
            return None

    def _round_mip(self, free: np.ndarray, lp_terr: np.ndarray, rc: np.ndarray, delta: float,
                   lp_value: float, deadline: float | None,
                   support: tuple[np.ndarray, np.ndarray],
                   start: np.ndarray | None) -> np.ndarray | None:
        """The MIP over the ``free`` units (columns with reduced cost up to ``delta``,
        and their LP support), every other unit at ``lp_terr``; started from
        ``start`` (a plan that agrees with ``lp_terr`` outside the free units)."""
        n, k, nm = self.n, self.k, len(self.metrics)
        fixed = ~free
        allow = free[:, None] & (rc <= delta) & np.isfinite(self.cost)
        allow[support] = True
        if start is not None:
            allow[np.flatnonzero(free), start[free]] = True
        f_units, f_terrs = np.nonzero(allow)
        pos = -np.ones(n, dtype=int)
        free_idx = np.flatnonzero(free)
        pos[free_idx] = np.arange(len(free_idx))
        nf = len(free_idx)
        fu = np.flatnonzero(fixed)
        used = np.vstack([np.bincount(lp_terr[fu], weights=self.a[m][fu], minlength=k)
                          for m in range(nm)]) if nm else np.zeros((0, k))
        used = np.hstack([used, self.bands.region_sums(used)]) if self.n_regions else used
        cap = None if self.cap is None else \
            self.cap - self.moves[fu, lp_terr[fu]].sum()  # type: ignore[index]
        h = highs.new_model(threads=self.threads, seed=self.seed, msg=self.msg)
        highs.add_rows(h, *_band_rows(nf, self.lower - used, self.upper - used, cap))
        r, v = _pair_entries(pos[f_units], f_terrs, self.a[:, f_units], nf, k,
                             None if self.moves is None else self.moves[f_units, f_terrs],
                             self.region, self.n_regions)
        nc = len(f_units)
        highs.add_columns(h, self.cost[f_units, f_terrs], np.zeros(nc), np.ones(nc), r, v,
                          integer=True)
        h.setOptionValue("mip_rel_gap", self.gap)
        h.setOptionValue("mip_abs_gap", ROUNDING_GAP * max(abs(lp_value), 1.0))
        if start is not None:
            highs.set_start(h, (start[f_units] == f_terrs).astype(float).tolist())

        # measured (10 regions' sub-problems of 2,000-6,600 units): a 10 s cap made them
        # 69.5 s in all, a 3 s cap 27.3 s at +0.002 % cost; the whole national plan
        # (40,457 units) keeps its 10 s
        cap = ROUNDING_SECONDS * min(1.0, max(ROUNDING_FLOOR, n / ROUNDING_SCALE))
        left = cap if deadline is None else min(cap, deadline - time.perf_counter())
        status = highs.run(h, left)
        if status == "infeasible":
            return None
        if status == "no_solution" and start is not None:
            return start
        if status == "no_solution":
            raise SolverError(
                f"the rounding MIP found no plan within the bands in its {left:.0f} s (units "
                "are coarse for these bands: few units per territory); widen the bands, use "
                "smaller units, or solve with method='mip'")
        chosen = highs.solution(h)[0] > 0.5
        territory = lp_terr.copy()
        territory[f_units[chosen]] = f_terrs[chosen]
        logger.info("rounding MIP: %d units free, %d columns, %s", nf, nc, status)
        if (territory < 0).any():
            return None
        return territory


def allocate_centres(problem: TerritoryProblem, centres: np.ndarray, *,
                     deadline: float | None, threads: int | None = None, seed: int = 0,
                     msg: bool = False, strict: bool = False, gap: float = 0.0
                     ) -> tuple[Allocator, Allocation] | None:
    """The balanced assignment of every unit to the given centre units (each
    centre pinned to its own territory) by an :class:`Allocator` (its rounding MIP
    within ``gap``); None when these centres cannot hold the bands (``strict``: the
    allocator's error)."""
    cols = np.asarray(centres, dtype=int)
    allocator = Allocator(problem, cols, pinned={int(c): t for t, c in enumerate(cols)},
                          threads=threads, seed=seed, msg=msg, gap=gap)
    try:
        return allocator, allocator.solve(deadline)
    except (InfeasibleError, SolverError) as exc:
        if strict:
            raise
        logger.info("no allocation to these %d centres: %s", len(cols), exc)
        return None


def improve_centres(problem: TerritoryProblem, centres: np.ndarray, *,
                    deadline: float | None, rounds: int = LOCATE_ROUNDS,
                    threads: int | None = None, seed: int = 0, msg: bool = False,
                    strict: bool = False, gap: float = 0.0
                    ) -> tuple[np.ndarray, Allocator, Allocation, int] | None:
    """Location-allocation (:func:`locate_allocate`) from ``centres``, each
    allocation by :func:`allocate_centres`, while the plan improves. Returns the
    best centres, their allocator and allocation, and the number of rounds; None
    when not even the first allocation holds the bands (``strict``: its error;
    a later one that fails ends the search)."""
    tried: dict[tuple[int, ...], tuple[Allocator, Allocation]] = {}

    def allocate(cols: np.ndarray) -> np.ndarray | None:
        got = allocate_centres(problem, cols, deadline=deadline, threads=threads, seed=seed,
                               msg=msg, strict=strict and not tried, gap=gap)
        if got is None:
            return None
        tried[tuple(cols.tolist())] = got
        return got[1].territory

    found = locate_allocate(problem, np.asarray(centres, dtype=int), allocate, rounds=rounds,
                            deadline=deadline, until_worse=True)
    if found is None:
        return None
    cols, _, done = found
    return cols, *tried[tuple(cols.tolist())], done


def kmeans_centres(problem: TerritoryProblem, *, deadline: float | None,
                   threads: int | None, seed: int, msg: bool, gap: float = 0.0
                   ) -> tuple[np.ndarray, Allocator, Allocation, int]:
    """Model-chosen centres: :func:`improve_centres` from the units nearest a
    workload-weighted k-means."""
    from sklearn.cluster import KMeans  # scikit-learn: 0.8 s to import, deferred

    k = problem.n_territories
    xy = problem.units[["x", "y"]].to_numpy(dtype=float)
    w = problem.values(problem.weight)
    km = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(
        xy, sample_weight=w + 1e-3 * max(float(w.mean()), 1e-9))
    _, near = cKDTree(xy).query(km.cluster_centers_, k=min(len(xy), 32))
    centres: list[int] = []
    for row in np.atleast_2d(near):
        free = [int(j) for j in row if int(j) not in set(centres)]
        centres.append(free[0] if free else int(np.setdiff1d(np.arange(len(xy)), centres)[0]))
    found = improve_centres(problem, np.array(centres), deadline=deadline, threads=threads,
                            seed=seed, msg=msg, strict=True, gap=gap)
    assert found is not None  # strict: the allocator raises rather than fail
    return found


def model_centres_dual(problem: TerritoryProblem, options: SolveOptions,
                       share: float = DUAL_SHARE) -> DualBound:
    """Model centres: a plan by location-allocation from k-means centres
    (:func:`kmeans_centres`), then the Lagrangian bound of the assignment rows
    with more plans from its centres (:func:`~territory_opt.solvers.centres.dual_bound`),
    within ``share`` of the time limit."""
    limit = options.time_limit
    now = time.perf_counter()
    deadline = None if limit is None else now + share * limit
    kw: dict[str, Any] = {"threads": options.threads, "seed": options.random_state}
    plan, upper = None, np.inf
    try:
        cols, _, alloc, _ = kmeans_centres(problem, deadline=deadline, msg=False, **kw)
        plan = cols[alloc.territory]
        upper = problem.objective_of(plan)
    except (InfeasibleError, SolverError) as exc:  # the bound may still say more
        logger.info("no plan from k-means centres: %s", exc)

    def make_plan(centres: np.ndarray) -> np.ndarray | None:
        stop = time.perf_counter() + PLAN_SECONDS
        found = improve_centres(problem, centres, deadline=stop if deadline is None
                                else min(stop, deadline), rounds=PLAN_ROUNDS, **kw)
        return None if found is None else found[0][found[2].territory]

    return dual_bound(problem, deadline=deadline, make_plan=make_plan, upper=upper, plan=plan,
                      target_gap=options.gap)


def solve_lagrange(problem: TerritoryProblem, options: SolveOptions) -> Solution:
    """Solve ``problem`` by the Lagrangian path (module docstring).

    The ``status`` is ``"optimal"`` only when the certified gap is within the
    options' gap. ``options.solver``, ``reduce`` and ``diagnose`` do not apply:
    this path always uses HiGHS.
    """
    time_limit = options.time_limit
    threads, seed, msg = options.threads, options.random_state, options.msg
    clock = time.perf_counter()
    deadline = None if time_limit is None else clock + time_limit
    seconds: dict[str, float] = {"check": 0.0, "build": 0.0, "presolve": 0.0, "solve": 0.0}
    check_feasibility(problem)
    seconds["check"] = time.perf_counter() - clock
    info: dict[str, Any] = {}
    t0 = time.perf_counter()
    bounded = problem.centres == "model" and takes_candidates(problem)
    if problem.centres == "fixed":
        pinned = dict(problem.locked)
        if problem.contiguity and problem.roots is not None:
            pinned |= {int(r): t for t, r in enumerate(problem.roots)}
        centre_cols = np.arange(problem.n_territories)
        allocator = Allocator(problem, centre_cols, pinned=pinned, threads=threads,
                              seed=seed, msg=msg)
        alloc = allocator.solve(deadline)
        territory, cost = alloc.territory, allocator.cost
        bound: float | None = alloc.bound
        roots = problem.roots
    elif problem.n_units <= DUAL_UNITS:
        dual = model_centres_dual(problem, options)
        if dual.plan is None:
            raise SolverError("no plan within the bands from the Lagrangian bound's centres in "
                              "the time limit; give it more time (--time-limit) or widen the "
                              "bands")
        centre_cols, territory = np.unique(dual.plan, return_inverse=True)
        bound = dual.bound
        roots = centre_cols
        pinned = {int(c): t for t, c in enumerate(centre_cols)}
        cost = problem.cost_block(np.arange(problem.n_units), centre_cols)
        info |= {"lagrangian_bound": dual.bound, "lagrangian_steps": dual.iterations}
    else:
        centre_cols, allocator, alloc, rounds = kmeans_centres(
            problem, deadline=deadline if deadline is None or not bounded
            else clock + (1 - CANDIDATE_SHARE) * time_limit,  # type: ignore[operator]
            threads=threads, seed=seed, msg=msg, gap=ALLOCATION_GAP if bounded else 0.0)
        territory, cost = alloc.territory, allocator.cost
        pinned = {int(c): t for t, c in enumerate(centre_cols)}
        bound = None  # the allocation bound holds for these centres only
        roots = centre_cols
        info["locate_rounds"] = rounds
    seconds["solve"] = time.perf_counter() - t0
    if problem.contiguity:
        t0 = time.perf_counter()
        territory, moved = make_contiguous(problem, territory, cost, roots, pinned=pinned,
                                           deadline=deadline)
        seconds["repair"] = time.perf_counter() - t0
        info["contiguity_moves"] = moved
    unit_centres = centre_cols[territory]
    if bounded and problem.n_units > DUAL_UNITS:
        # the candidate-pair dual's bound holds for every plan (after the repair, which
        # needs the time more)
        t0 = time.perf_counter()
        found = candidate_bound(problem, deadline=deadline, plan=unit_centres,
                                target_gap=options.gap)
        bound = found.bound if np.isfinite(found.bound) else None
        info |= {"lagrangian_bound": bound, "lagrangian_steps": found.iterations,
                 "candidate_pairs": found.pairs}
        seconds["bound"] = time.perf_counter() - t0
    if not regions_connected(problem, unit_centres):
        raise SolverError(
            "the Lagrangian path keeps every territory connected but not every region: "
            "its repair moves units inside their regions only; plan the regions top-down "
            "(regions: {method: top_down}; solve(..., regions='top_down')), whose regions "
            "are connected by construction, or solve with method='mip'")
    status = "feasible"
    if bound is not None:
        bound = min(bound, problem.objective_of(unit_centres))
        status = "optimal" if relative_gap(problem.objective_of(unit_centres), bound) \
            <= options.gap + 1e-12 else "feasible"
    solution = Solution.from_unit_centres(
        problem, unit_centres, status=status, bound=bound, solver="HiGHS", seconds=seconds,
        options=options.record("lagrange") | info
        | {"bound_from": None if bound is None else "lagrangian"})
    logger.info("Lagrangian path: objective %.6g, bound %s, gap %s in %.1f s",
                solution.objective, bound, solution.gap, time.perf_counter() - clock)
    return solution
