"""Territory-design search for connected plans (``method="search"``).

The exact flow model proves contiguous optima on county instances but is slow for
HiGHS at any size; connected plans come from a search instead, and the certificate
from the plain problem (its bound holds for every connected plan):

1. **Start**: the plain problem with every territory's root locked in it (the MIP, or
   the Lagrangian path above a million pairs) gives a plan and the certified bound.
   Pieces cut off from their root join the neighbouring territory where they cost
   least; when the plain solve gives no plan in its share of the time, territories
   grow from their roots instead (cheapest frontier unit first).
2. **Ejection chains** (the descent): a chain passes one unit from territory t0 to
   t1, one from t1 to t2, ..., and ends in a territory that can take it, or back in
   t0 (a cycle; a swap is a cycle of two, a boundary move a chain of one). It is
   found by a depth-first search on the graph of neighbouring territories, each arc
   offering the cheapest transfers that keep the giving territory connected
   (articulation points of that territory only, :meth:`Plan.cut_units`); an
   intermediate territory must stay in its bands, and a partial chain is followed
   only while its cost, counted optimistically, still improves. Band violation
   weighs far more than cost here: violation first, then cost.
3. **Tabu phase** (diversification): single boundary moves by cost plus an adaptive
   penalty on the band violation (raised while the plan is outside a band, lowered
   while inside: the search alternates between feasible and infeasible space, as in
   Gliesch, Ritt & Moreira's multistart alternating tabu search, 2018); a unit may not
   return to the territory it left for a random tenure; then a descent again. The
   best connected plan within the bands is kept.

Locks and roots never move, a unit joins only territories whose rep serves its
segment (and, with region bands, stays in its region), and the realignment cap is
one more band. Every plan is re-checked (:func:`plan_faults`) by :func:`solve`.
"""

from __future__ import annotations

import heapq
import logging
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from territory_opt.errors import InfeasibleError, SolverError
from territory_opt.plan import Plan
from territory_opt.problem import TerritoryProblem, check_feasibility, plan_faults
from territory_opt.solution import Solution, relative_gap
from territory_opt.solvers.local import rejoin_pieces
from territory_opt.solvers.options import SolveOptions

__all__ = ["Search", "grow_plan", "solve_compromise", "solve_search"]

logger = logging.getLogger(__name__)

CANDIDATES = 4  # cheapest transfers kept per pair of neighbouring territories
DEPTH = 5  # most transfers in one ejection chain
NODES = 1000  # arcs the chain search evaluates per descent step
TABU_ITERATIONS = 300  # single penalised moves per diversification phase
STALL_ROUNDS = 12  # rounds without a better plan after which a run without a limit stops
START_SHARE = 0.5  # of the time limit, for the plain solve that gives the start and bound
PLAIN_GAP_SHARE = 1 / 3  # of the gap asked, for the plain solve's own gap
PLAIN_GAP_FLOOR = 1e-3  # ... but no tighter than this (nor than the gap asked)
SEARCH_SHARE = 0.5  # with a MIP after it: the search's share of the time left
POLISH_SECONDS = 5.0  # time left below which the search's plan is not handed to the MIP
POLISH_MARGIN = 0.75  # of the time left, for the MIP (its model building overruns a little)
BIG = 1e6  # violation's weight in the last descent, in units of the typical move cost
PENALTY = 30.0  # violation's first weight in a repair and the tabu phase, the same units
COMPROMISE_SHARE = 0.05  # of the time limit, the compromise's at least (when it is spent)
ELASTIC_UNITS = 500  # units up to which the elastic model bounds the compromise's violation
ELASTIC_SHARE = 0.25  # of the compromise's time, for that bound
ELASTIC_SECONDS = 10.0  # the bound's time at most


@dataclass
class _Arcs:
    """The transfers the current plan offers: ``arcs[a][b]`` lists units of territory a
    that may join neighbouring territory b, keeping a connected, cheapest first."""

    arcs: dict[int, dict[int, np.ndarray]]
    units: np.ndarray  # every boundary move: unit, from, to (for the tabu phase)
    src: np.ndarray
    dst: np.ndarray


class Search:
    """Ejection chains and a penalised tabu search on a :class:`Plan`.

    Parameters
    ----------
    problem
        The problem (fixed centres).
    labels
        The start: each unit's territory; every territory connected when
        ``connected``.
    cost
        ``(units, territories)`` cost matrix.
    roots
        Each territory's root unit (it never leaves), or None.
    fixed
        Units that never move (locks and roots).
    connected
        Keep every territory connected (False: bands and cost only).
    rng
        Random numbers for tenures and ties.
    """

    def __init__(self, problem: TerritoryProblem, labels: np.ndarray, *, cost: np.ndarray,
                 roots: np.ndarray | None, fixed: np.ndarray | list[int], connected: bool,
                 rng: np.random.Generator) -> None:
        self.problem = problem
        self.plan = Plan(problem, labels, cost=cost, roots=roots, fixed=fixed,
                         keep_regions=bool(problem.region_bands))  # type: ignore[attr-defined]
        self.cost = cost
        self.connected = connected
        self.rng = rng
        plan = self.plan
        self.rows = np.repeat(np.arange(plan.n), np.diff(plan.indptr))
        self.cols = plan.indices
        bands = plan.bands
        self.lower, self.upper = bands.lower, bands.upper
        self.share = bands.share[:, None]
        self.moves = problem.moves if problem.max_moved is not None else None
        self.cap = (problem.max_moved or 0.0) * problem.move_total
        self.moved = 0.0 if self.moves is None else \
            float(self.moves[np.arange(plan.n), plan.label].sum())
        # the typical cost of moving a boundary unit: the penalty's unit
        arcs = self._arcs()
        typical = np.abs(cost[arcs.units, arcs.dst] - cost[arcs.units, arcs.src])
        self.unit_cost = float(np.median(typical)) if len(typical) else 1.0
        self.unit_cost = max(self.unit_cost, 1e-9)
        self.big = BIG * self.unit_cost
        self.tabu = np.zeros((plan.n, plan.k), dtype=np.int64)
        self.iteration = 0

    # ------------------------------------------------------------------ figures

    def total_cost(self) -> float:
        return float(self.cost[np.arange(self.plan.n), self.plan.label].sum())

    def cap_violation(self, moved: float) -> float:
        if self.moves is None:
            return 0.0
        return max(moved - self.cap, 0.0) / max(self.cap, 1.0)

    def violation(self) -> float:
        """The plan's band violation (in shares of a territory's average) and cap's."""
        return float(self.plan.violation().sum()) + self.cap_violation(self.moved)

    def _viol(self, t: int, sums: np.ndarray) -> np.ndarray:
        """Violation of territory t for each entry of ``sums`` (``(metrics, ...)``)."""
        shape = (-1,) + (1,) * (sums.ndim - 1)
        lo, hi = self.lower[:, t].reshape(shape), self.upper[:, t].reshape(shape)
        share = self.share.reshape(shape)
        return ((np.maximum(sums - hi, 0) + np.maximum(lo - sums, 0)) / share).sum(axis=0)

    def _caps(self, moved: np.ndarray) -> np.ndarray:
        """The cap's violation change for each extra ``moved`` (0 without a cap)."""
        if self.moves is None:
            return np.zeros(np.shape(moved))
        scale = max(self.cap, 1.0)
        return (np.maximum(self.moved + moved - self.cap, 0)
                - max(self.moved - self.cap, 0)) / scale

    # ------------------------------------------------------------------ moves

    def _arcs(self) -> _Arcs:
        plan, k = self.plan, self.plan.k
        label = plan.label
        a, b = label[self.rows], label[self.cols]
        edge = a != b
        key = np.unique(self.rows[edge] * k + b[edge])
        units, dst = key // k, key % k
        keep = ~plan.fixed[units]
        if plan.allowed is not None:
            keep &= plan.allowed[units, dst]
        units, dst = units[keep], dst[keep]
        src = label[units]
        if self.connected:
            ok = np.ones(len(units), dtype=bool)
            for t in np.unique(src).tolist():
                cuts = plan.cut_units(t)
                sel = np.flatnonzero(src == t)
                if cuts is None:
                    ok[sel] = [plan.can_leave(int(u)) for u in units[sel]]
                elif cuts:
                    ok[sel] = [int(u) not in cuts for u in units[sel]]
            units, src, dst = units[ok], src[ok], dst[ok]
        arcs: dict[int, dict[int, np.ndarray]] = {}
        if not len(units):
            return _Arcs(arcs, units, src, dst)
        delta = self.cost[units, dst] - self.cost[units, src]
        order = np.lexsort((delta, dst, src))
        units, src, dst = units[order], src[order], dst[order]
        starts = np.flatnonzero(np.r_[True, (src[1:] != src[:-1]) | (dst[1:] != dst[:-1])])
        ends = np.r_[starts[1:], len(units)]
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
            arcs.setdefault(int(src[s]), {})[int(dst[s])] = units[s:e]
        return _Arcs(arcs, units, src, dst)

    def move(self, i: int, t: int) -> None:
        if self.moves is not None:
            self.moved += float(self.moves[i, t] - self.moves[i, self.plan.label[i]])
        self.plan.move(i, t)

    def _may_move(self, i: int, s: int, t: int) -> bool:
        """Whether unit i may go from s to t now: still in s, may leave it, touches t."""
        plan = self.plan
        if plan.label[i] != s or plan.fixed[i] or not plan.may_join(i, t):
            return False
        if not self.connected:
            return True
        return plan.can_leave(i) and bool((plan.label[plan.neighbours(i)] == t).any())

    def apply(self, chain: list[tuple[int, int, int]]) -> bool:
        """Make the transfers of ``chain`` in order; undo them all if one breaks a
        territory's connection."""
        done: list[tuple[int, int]] = []
        for i, s, t in chain:
            if not self._may_move(i, s, t):
                for j, back in reversed(done):
                    self.move(j, back)
                return False
            self.move(i, t)
            done.append((i, s))
        return True

    # ------------------------------------------------------------------ chains

    def best_chain(self, weight: float, skip: set[int] = frozenset()  # type: ignore[assignment]
                   ) -> tuple[float, list[tuple[int, int, int]]] | None:
        """The ejection chain that lowers ``cost + weight * violation`` most, among
        those the bounded search visits; None if none lowers it."""
        plan = self.plan
        arcs = self._arcs().arcs
        sums, a, cost = plan.sums, plan.a, self.cost
        base = plan.violation()
        moves = self.moves
        cap0 = self.cap_violation(self.moved)
        eps = 1e-9 * self.unit_cost
        best: list[Any] = [-eps, None]
        nodes = [0]
        order = np.argsort(-base, kind="stable")  # territories outside their bands first

        def expand(t0: int, tj: int, delta: dict[int, np.ndarray], dcost: float,
                   inter: float, d0: float, dmoved: float,
                   path: list[tuple[int, int, int]], used: set[int], visited: set[int]) -> None:
            for c, cand in arcs.get(tj, {}).items():
                if nodes[0] > NODES:
                    return
                closing = c == t0 and bool(path)
                if c in visited and not closing:
                    continue
                units = [u for u in cand.tolist() if u not in used and u not in skip]
                if not units:
                    continue
                idx = np.array(units)
                nodes[0] += 1
                dc = cost[idx, c] - cost[idx, tj]
                own = sums[:, tj] + delta[tj] if tj in delta else sums[:, tj]
                other = sums[:, c] + delta[c] if c in delta else sums[:, c]
                if len(a):
                    v_tj = self._viol(tj, own[:, None] - a[:, idx]) - base[tj]
                    v_c = self._viol(c, other[:, None] + a[:, idx]) - base[c]
                else:
                    v_tj = v_c = np.zeros(len(units))
                dm = np.zeros(len(units)) if moves is None else moves[idx, c] - moves[idx, tj]
                new_cost = dcost + dc
                if not path:  # tj is t0: it only gives
                    new_inter, new_d0 = np.full(len(units), inter), v_tj
                else:
                    new_inter, new_d0 = inter + v_tj, np.full(len(units), d0)
                moved = dmoved + dm
                dcap = (np.array([self.cap_violation(self.moved + m) for m in moved]) - cap0
                        if moves is not None else np.zeros(len(units)))
                if closing:  # v_c is t0's whole change
                    total = new_cost + weight * (new_inter + v_c + dcap)
                else:
                    total = new_cost + weight * (new_inter + new_d0 + v_c + dcap)
                j = int(np.argmin(total))
                if total[j] < best[0]:
                    best[0], best[1] = float(total[j]), path + [(units[j], tj, c)]
                if closing or len(path) + 1 >= DEPTH:
                    continue
                hope = new_cost + weight * (new_inter + np.minimum(new_d0, 0.0)
                                            + np.minimum(v_c, 0.0) + np.minimum(dcap, 0.0))
                for j in np.argsort(hope, kind="stable")[:CANDIDATES].tolist():
                    if hope[j] >= best[0] or nodes[0] > NODES:
                        break
                    u = units[j]
                    new_delta = dict(delta)
                    ai = a[:, u] if len(a) else np.zeros(0)
                    new_delta[tj] = new_delta.get(tj, 0) - ai
                    new_delta[c] = new_delta.get(c, 0) + ai
                    expand(t0, c, new_delta, float(new_cost[j]), float(new_inter[j]),
                           float(new_d0[j]), float(moved[j]), path + [(u, tj, c)],
                           used | {u}, visited | {c})

        for t0 in order.tolist():
            if nodes[0] > NODES:
                break
            expand(t0, t0, {}, 0.0, 0.0, 0.0, 0.0, [], set(), {t0})
        return None if best[1] is None else (float(best[0]), best[1])

    def best_pair(self, weight: float, skip: set[int] = frozenset(),  # type: ignore[assignment]
                  tabu: bool = False) -> tuple[float, list[tuple[int, int, int]]] | None:
        """The best chain of one or two transfers, over all of them: a boundary move,
        a swap between neighbours, or a unit passed on through a neighbour. Vectorised
        per middle territory (every transfer into it against every transfer out).
        None if none lowers ``cost + weight * violation`` (with ``tabu``: the best
        move not tabu, improving or not)."""
        plan = self.plan
        arcs = self._arcs()
        units, src, dst = arcs.units, arcs.src, arcs.dst
        keep = np.ones(len(units), dtype=bool)
        if skip:
            keep &= ~np.isin(units, list(skip))
        if tabu:
            keep &= self.tabu[units, dst] <= self.iteration
        units, src, dst = units[keep], src[keep], dst[keep]
        if not len(units):
            return None
        sums, a, cost = plan.sums, plan.a, self.cost
        nm = len(a)
        base = plan.violation()
        lower, upper, share = self.lower, self.upper, self.share

        def viol(sums_: np.ndarray, t: np.ndarray) -> np.ndarray:
            """Violation of territories ``t`` (any shape) at ``sums_`` (metrics first)."""
            shape = (nm,) + t.shape
            lo, hi = lower[:, t].reshape(shape), upper[:, t].reshape(shape)
            sh = share.reshape((nm,) + (1,) * t.ndim)
            return ((np.maximum(sums_ - hi, 0) + np.maximum(lo - sums_, 0)) / sh).sum(axis=0)

        amount = a[:, units]
        d = cost[units, dst] - cost[units, src]
        m = np.zeros(len(units)) if self.moves is None else \
            self.moves[units, dst] - self.moves[units, src]
        if nm:
            v_src = viol(sums[:, src] - amount, src) - base[src]
            v_dst = viol(sums[:, dst] + amount, dst) - base[dst]
        else:
            v_src = v_dst = np.zeros(len(units))
        single = d + weight * (v_src + v_dst + self._caps(m))
        j = int(np.argmin(single))
        best: list[Any] = [float(single[j]), [(int(units[j]), int(src[j]), int(dst[j]))]]
        for t in range(plan.k):
            into, out = np.flatnonzero(dst == t), np.flatnonzero(src == t)
            if not len(into) or not len(out):
                continue
            total = d[into][:, None] + d[out][None, :]
            caps = self._caps(m[into][:, None] + m[out][None, :])
            if nm:
                mid = sums[:, t][:, None, None] + amount[:, into][:, :, None] \
                    - amount[:, out][:, None, :]
                v_mid = viol(mid, np.full((len(into), len(out)), t)) - base[t]
                ends = v_src[into][:, None] + v_dst[out][None, :]
                s_in, r_out = src[into], dst[out]
                swap = s_in[:, None] == r_out[None, :]
                if swap.any():  # the first unit's territory takes the second back
                    x, y = np.nonzero(swap)
                    back = sums[:, s_in[x]] - amount[:, into[x]] + amount[:, out[y]]
                    ends[x, y] = viol(back, s_in[x]) - base[s_in[x]]
                total = total + weight * (v_mid + ends + caps)
            else:
                total = total + weight * caps
            flat = int(np.argmin(total))
            x, y = divmod(flat, len(out))
            if total[x, y] < best[0]:
                i, o = into[x], out[y]
                best = [float(total[x, y]), [(int(units[i]), int(src[i]), t),
                                             (int(units[o]), t, int(dst[o]))]]
        if not tabu and best[0] >= -1e-9 * self.unit_cost:
            return None
        return float(best[0]), best[1]

    def repair(self, deadline: float | None) -> int:
        """Descents with a rising weight on the violation (cost still counts while the
        bands are restored), then violation first."""
        weight, steps = PENALTY * self.unit_cost, 0
        while self.violation() > 1e-12 and weight < self.big and (
                deadline is None or time.perf_counter() < deadline):
            steps += self.descend(deadline, weight)
            weight *= 2
        return steps + self.descend(deadline)

    def descend(self, deadline: float | None, weight: float | None = None) -> int:
        """Apply the best chain while one improves (violation first, then cost)."""
        weight = self.big if weight is None else weight
        steps = 0
        skip: set[int] = set()
        while deadline is None or time.perf_counter() < deadline:
            found = self.best_pair(weight, skip) or self.best_chain(weight, skip)
            if found is None:
                break
            if self.apply(found[1]):
                steps += 1
                skip.clear()
            else:  # a transfer broke a connection the candidate lists could not see
                skip.add(found[1][0][0])
        return steps

    # ------------------------------------------------------------------ tabu

    def tabu_phase(self, iterations: int, deadline: float | None
                   ) -> tuple[np.ndarray, float] | None:
        """Tabu search: the best non-tabu move or pair of moves by cost plus an
        adaptive penalty on the violation, improving or not; a unit may not return to
        the territory it left for a random tenure. Returns the best plan it passed
        through (violation first, then cost) and its cost, None if none beat the start."""
        k = self.plan.k
        weight = PENALTY * self.unit_cost
        best: tuple[np.ndarray, float] | None = None
        best_key = (_rounded(self.violation()), self.total_cost())
        for _ in range(iterations):
            if deadline is not None and time.perf_counter() > deadline:
                break
            self.iteration += 1
            found = self.best_pair(weight, tabu=True)
            if found is None:
                break
            done = []
            for u, s, t in found[1]:
                if not self._may_move(u, s, t):
                    break
                self.move(u, t)
                done.append((u, s))
            for u, s in done:
                self.tabu[u, s] = self.iteration + int(self.rng.integers(5, 5 + max(k, 5)))
            violation = self.violation()
            if violation > 1e-12:
                weight *= 1.1
            else:
                weight = max(weight / 1.1, self.unit_cost)
            key = (_rounded(violation), self.total_cost())
            if key[0] < best_key[0] or (key[0] == best_key[0]
                                        and key[1] < best_key[1] - 1e-9):
                best, best_key = (self.labels(), key[1]), key
        return best

    def labels(self) -> np.ndarray:
        return self.plan.label.copy()

    def set_labels(self, labels: np.ndarray) -> None:
        for i in np.flatnonzero(labels != self.plan.label).tolist():
            self.move(i, int(labels[i]))


def _rounded(violation: float) -> float:
    """A violation compared as equal when it differs in rounding only (0 inside)."""
    return 0.0 if violation <= 1e-12 else round(violation, 9)


def search(problem: TerritoryProblem, labels: np.ndarray, *, deadline: float | None,
           until: float | None = None, centres: np.ndarray | None = None,
           random_state: int = 0, stall: int = STALL_ROUNDS, target: float | None = None
           ) -> tuple[np.ndarray, float, dict[str, Any]]:
    """Improve the plan ``labels`` (each unit's territory) by the search of the module
    docstring until ``deadline`` (or ``stall`` rounds bring nothing better); once a
    plan within the bands is found, until ``until`` (when earlier than ``deadline``).

    With model centres, ``centres`` are the territories' centre units: they stay
    (each is its territory's root). The search stops as soon as a plan within the
    bands has an objective of at most ``target`` (a plan within the gap asked).
    Returns the best plan found (connected when the problem asks it), its violation
    (0 when every band holds) and counts of the search's work.
    """
    rng = np.random.default_rng(random_state)
    fixed = sorted(problem.locked)
    if centres is None:
        cost, roots = problem.costs, problem.roots
    else:
        cost = problem.cost_block(np.arange(problem.n_units), centres)
        roots = np.asarray(centres, dtype=int)
    connected = problem.contiguity
    plan = Plan(problem, labels, roots=roots, cost=cost, fixed=fixed)
    try:
        rejoined = rejoin_pieces(plan) if connected else 0
    except SolverError:  # a locked piece cut off: territories grow from roots and locks
        if centres is not None:
            raise
        plan, rejoined = Plan(problem, grow_plan(problem, random_state=random_state)), -1
    engine = Search(problem, plan.label, cost=cost, roots=roots, fixed=fixed,
                    connected=connected, rng=rng)
    steps = engine.repair(deadline)
    best, best_key = engine.labels(), (engine.violation(), engine.total_cost())
    rounds = since = 0

    def good_enough() -> bool:
        return target is not None and best_key[0] <= 1e-12 and \
            problem.objective_of(best if centres is None else centres[best]) <= target

    # small plans need fewer iterations: a phase of 4 moves per unit, 2 idle rounds at least
    iterations = min(TABU_ITERATIONS, 4 * problem.n_units)
    stall = min(stall, max(2, problem.n_units // 20))
    while since < stall and not good_enough():
        stop = deadline if best_key[0] > 1e-12 or until is None else until
        if stop is not None and time.perf_counter() >= stop:
            break
        rounds += 1
        found = engine.tabu_phase(iterations, stop)
        if found is not None:
            engine.set_labels(found[0])
            steps += engine.repair(stop)
        key = (engine.violation(), engine.total_cost())
        if key[0] < best_key[0] - 1e-12 or (key[0] <= best_key[0] + 1e-12
                                            and key[1] < best_key[1] - 1e-9):
            best, best_key, since = engine.labels(), key, 0
        else:
            since += 1
            engine.set_labels(best)  # restart from the best plan
    logger.info("search: %d rounds, %d chains; violation %.3g, cost %.8g", rounds, steps,
                best_key[0], best_key[1])
    return best, best_key[0], {"search_rounds": rounds, "search_chains": steps,
                               "rejoined_units": rejoined}


def grow_plan(problem: TerritoryProblem, *, random_state: int = 0,
              cost: np.ndarray | None = None, roots: np.ndarray | None = None) -> np.ndarray:
    """A connected start: territories grow from their roots (and locked units), the
    cheapest frontier unit first, a territory stopping at its upper band while another
    can take the unit; every unit joins a territory it touches. ``cost`` (units x
    territories) and ``roots`` default to the problem's (model centres: give both,
    for the chosen centre units)."""
    rng = np.random.default_rng(random_state)
    n, k = problem.n_units, problem.n_territories
    base = problem.costs if cost is None else cost
    roots = problem.roots if roots is None else roots
    cost = base * (1 + 0.05 * rng.random((n, k)))
    plan = Plan(problem, np.zeros(n, dtype=int))
    label = np.full(n, -1)
    sums = np.zeros_like(plan.sums)
    a, upper = plan.a, plan.bands.upper
    heap: list[tuple[float, int, int]] = []
    seeds = dict(problem.locked)
    if roots is not None:
        seeds |= {int(r): t for t, r in enumerate(roots)}

    def add(i: int, t: int) -> None:
        label[i] = t
        if len(a):
            sums[:, t] += a[:, i]
        for v in plan.neighbours(i).tolist():
            if label[v] < 0 and plan.may_join(v, t):
                heapq.heappush(heap, (float(cost[v, t]), v, t))

    for i, t in seeds.items():
        add(i, t)
    if problem.contiguity and roots is not None:
        for i, t in seeds.items():  # a locked unit apart from its root: a path joins them
            for v in _path_to(plan, label, int(roots[t]), i, t):
                add(v, t)
    for t in range(k):  # a territory without a root (no contiguity) starts at its cheapest
        if not (label == t).any():
            free = np.flatnonzero(label < 0)
            add(int(free[np.argmin(cost[free, t])]), t)
    waiting: list[tuple[float, int, int]] = []  # units that would overfill a territory
    while heap or waiting:
        if not heap:  # every frontier territory is full: the cheapest overfills
            waiting.sort()
            c, i, t = waiting.pop(0)
            if label[i] < 0:
                add(i, t)
            heap, waiting = waiting, []
            heapq.heapify(heap)
            continue
        c, i, t = heapq.heappop(heap)
        if label[i] >= 0:
            continue
        if len(a) and (sums[:, t] + a[:, i] > upper[:, t] + 1e-9).any():
            waiting.append((c, i, t))
            continue
        add(i, t)
    if (label < 0).any():  # a piece of the graph no territory reaches (segments)
        free = np.flatnonzero(label < 0)
        allowed = np.ones((len(free), k), dtype=bool) if problem.eligible is None \
            else problem.eligible[free]
        label[free] = np.argmin(np.where(allowed, base[free], np.inf), axis=1)
    return label


def _path_to(plan: Plan, label: np.ndarray, source: int, target: int, t: int) -> list[int]:
    """The free units (``label < 0``) on a shortest path from territory t's units
    around ``source`` to unit ``target`` (breadth first through units that may join
    t); empty when they already touch or no such path exists."""
    from collections import deque

    piece = plan.flood(source, lambda v: label[v] == t)
    if target in piece:
        return []
    came: dict[int, int] = {u: -1 for u in piece}
    queue = deque(piece)
    while queue:
        u = queue.popleft()
        for v in plan.neighbours(u).tolist():
            if v in came or not (label[v] < 0 or v == target) or not plan.may_join(v, t):
                continue
            came[v] = u
            if v == target:  # walk back to the piece
                path = []
                while (u := came[v]) not in piece:
                    path.append(u)
                    v = u
                return path
            queue.append(v)
    return []


def plain_start(problem: TerritoryProblem, options: SolveOptions
                ) -> tuple[np.ndarray | None, float | None, str]:
    """The plain problem's plan (roots locked in), its certified bound and the
    method that solved it; (None, None, why) when it found no plan in its time."""
    from territory_opt.solvers import choose_method, METHODS

    relaxed = problem.relaxation()
    name = choose_method(relaxed)
    try:
        plain = METHODS[name](relaxed, options)
    except SolverError as exc:
        return None, None, str(exc)
    bound = plain.bound
    return plain.unit_centres(), bound, name


def solve_clock(problem: TerritoryProblem, options: SolveOptions
                ) -> tuple[float, float | None, dict[str, float]]:
    """The start of a search's solve: its clock, the deadline of the options' time
    limit, and the seconds by stage, the checks before any solve done (they raise
    :class:`InfeasibleError` on a conflict)."""
    clock = time.perf_counter()
    deadline = None if options.time_limit is None else clock + options.time_limit
    seconds: dict[str, float] = {"check": 0.0, "build": 0.0, "presolve": 0.0, "solve": 0.0}
    check_feasibility(problem)
    seconds["check"] = time.perf_counter() - clock
    return clock, deadline, seconds


def solve_search(problem: TerritoryProblem, options: SolveOptions, *,
                 polish: bool = False) -> Solution:
    """Solve ``problem`` by the territory-design search (module docstring).

    The start and the bound come from the plain problem, solved in at most half the
    time limit; the search takes the rest. With ``polish`` (``method="auto"``) the
    exact flow MIP then starts from the search's plan for the time left, when the
    gap is above the one asked and the problem has at most
    ``lagrange.CONTIGUOUS_UNITS`` units; the better plan and the better bound are
    kept. The status is ``"optimal"`` only when the plan is within the options' gap
    of the bound. With model-chosen centres the centres move too: location-allocation
    (:func:`~territory_opt.solvers.locate.solve_locate`).

    Raises
    ------
    InfeasibleError
        When the plain problem is infeasible (so is the connected one), or the
        polishing MIP proves that no connected plan exists.
    SolverError
        When no connected plan within the bands is found in the time.
    """
    from territory_opt.solvers.lagrange import CONTIGUOUS_UNITS
    from territory_opt.solvers.locate import solve_locate
    from territory_opt.solvers.mip import solve_mip

    if problem.centres == "model":  # the centres move too: location-allocation
        return solve_locate(problem, options)
    clock, deadline, seconds = solve_clock(problem, options)
    limit = options.time_limit
    t0 = time.perf_counter()
    # the plain bound certifies the connected plan: proven to a third of the gap asked
    # (0.1 % at least), so that most of the gap is left for what connecting costs
    start_options = replace(options, gap=min(options.gap, max(options.gap * PLAIN_GAP_SHARE,
                                                              PLAIN_GAP_FLOOR)),
                            time_limit=None if limit is None else
                            max(1.0, START_SHARE * (limit - seconds["check"])))
    try:
        start, bound, how = plain_start(problem, start_options)
    except InfeasibleError:
        if not (polish and problem.contiguity and problem.n_units <= CONTIGUOUS_UNITS):
            raise
        # the exact model names what contiguity adds (a unit no territory can reach)
        left = None if deadline is None else max(1.0, deadline - time.perf_counter())
        return solve_mip(problem, replace(options, time_limit=left))
    if start is None:
        logger.info("no plain plan (%s): territories grow from their roots", how)
        start, how = grow_plan(problem, random_state=options.random_state), "growth"
    seconds["presolve"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    until = deadline
    if polish and deadline is not None:  # the MIP gets a share of what is left
        until = time.perf_counter() + SEARCH_SHARE * max(deadline - time.perf_counter(), 0.0)
    # a plan within the gap asked ends the search (and makes the MIP unnecessary)
    target = None if bound is None or options.gap >= 1 else bound / (1 - options.gap)
    try:
        labels, violation, info = search(problem, start, deadline=deadline, until=until,
                                         random_state=options.random_state,
                                         target=target)
    except SolverError as exc:  # no start it can work from
        labels, violation, info = start, np.inf, {"search_error": str(exc)}
    seconds["solve"] = time.perf_counter() - t0
    found = violation <= 1e-9 and not plan_faults(problem, labels)
    objective = problem.objective_of(labels) if found else np.inf
    if bound is not None and found:
        bound = min(bound, objective)
    gap = None if bound is None or not found else relative_gap(objective, bound)
    method = "search"
    left = None if deadline is None else deadline - time.perf_counter()
    if polish and problem.contiguity and problem.n_units <= CONTIGUOUS_UNITS \
            and (gap is None or gap > options.gap) and (left is None or left >= POLISH_SECONDS):
        t0 = time.perf_counter()
        exact = solve_mip(problem, replace(options, time_limit=None if left is None
                                           else POLISH_MARGIN * left),
                          start=labels if found else None, start_bound=bound)
        seconds["polish"] = time.perf_counter() - t0
        method = "search+mip"
        if exact.bound is not None:
            bound = exact.bound if bound is None else max(bound, min(exact.bound,
                                                                     exact.objective))
        if exact.objective < objective:
            labels, objective, found = exact.unit_centres(), exact.objective, True
        info["mip_bound"] = exact.bound
    if not found:
        spent = time.perf_counter() - clock
        raise SolverError(f"the search found no {'connected ' if problem.contiguity else ''}"
                          f"plan within the bands in {spent:.0f} s; give it more time "
                          "(--time-limit), widen the bands, or solve with method='mip', "
                          "which can prove whether one exists")
    if bound is not None:
        bound = min(bound, objective)
    status = "optimal" if bound is not None and \
        relative_gap(objective, bound) <= options.gap + 1e-12 else "feasible"
    return Solution.from_unit_centres(
        problem, labels, status=status, bound=bound, solver="HiGHS", seconds=seconds,
        options=options.record(method) | info | {"start": how, "plain_bound": bound})


def solve_compromise(problem: TerritoryProblem, options: SolveOptions, why: Exception, *,
                     spent: float = 0.0) -> Solution:
    """The plan nearest the bands when no plan was found that holds them all (``why``:
    the error that said so): connected when contiguity is asked, locks and segments
    kept, the least total band violation (each territory's distance outside each of
    its bands, as a share of the band's average target, summed), then the least cost.

    Territories grow from their roots (and locked units), then the search of the
    module docstring minimises violation first. The status is ``"relaxed"``: no
    bound, no gap, never optimal; ``options["relaxed_because"]`` keeps ``why``'s
    message, ``options["violation"]`` the total and ``options["violation_bound"]`` a
    proven lower bound on it (the elastic model's, up to ``ELASTIC_UNITS`` units; None
    otherwise). Runs for what is left of the time limit after ``spent`` seconds (5 %
    of the limit at least).

    Raises ``why`` again when no compromise exists: model centres or region bands
    (not searched here), or a unit that no territory can join connected, or locks
    and segments that no connected plan can keep.
    """
    from territory_opt.solvers.mip import violation_bound

    if problem.centres == "model" or problem.region_bands:  # type: ignore[attr-defined]
        raise why
    clock = time.perf_counter()
    limit = options.time_limit
    left = None if limit is None else max(limit - spent, COMPROMISE_SHARE * limit)
    bound = None
    if problem.n_units <= ELASTIC_UNITS:
        bound = violation_bound(problem, ELASTIC_SECONDS if left is None
                                else min(ELASTIC_SHARE * left, ELASTIC_SECONDS))
    deadline = None if left is None else clock + left
    start = grow_plan(problem, random_state=options.random_state)
    try:
        labels, violation, info = search(problem, start, deadline=deadline,
                                         random_state=options.random_state)
    except SolverError:
        raise why from None
    if plan_faults(problem, labels, bands=False):  # no connected plan keeps the rules
        raise why
    seconds = {"check": 0.0, "build": 0.0, "presolve": spent,
               "solve": time.perf_counter() - clock}
    record = options.record("search") | info | {"start": "growth"}
    if violation <= 1e-9:  # the search found what the first method did not
        return Solution.from_unit_centres(problem, labels, status="feasible", bound=None,
                                          solver="HiGHS", seconds=seconds, options=record)
    logger.info("no plan holds every band (%s): compromise with violation %.4g", why,
                violation)
    return Solution.from_unit_centres(
        problem, labels, status="relaxed", bound=None, solver="HiGHS", seconds=seconds,
        options=record | {"relaxed_because": str(why), "violation": float(violation),
                          "violation_bound": None if bound is None else min(bound, violation),
                          "proven_infeasible": isinstance(why, InfeasibleError)})
