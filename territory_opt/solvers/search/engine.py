"""The search on the incremental state: descents of ejection chains, a penalised
tabu phase, and the loop that alternates them (:func:`search`).

A descent applies the best transfer chain while one lowers ``cost + weight *
violation``: the best single move or pair (a unit into a territory and one out
of it, a swap when they trade) over the whole plan, kept per territory and
recomputed only where a move changed something
(:meth:`~territory_opt.solvers.search.state.State.best_of`); when none improves,
a depth-first ejection chain of up to ``DEPTH`` transfers. The tabu phase takes
the best non-tabu move or pair, improving or not, by cost plus an adaptive
penalty on the violation (raised while outside a band, lowered while inside, as
in Gliesch, Ritt & Moreira's alternating tabu search, 2018).
"""

from __future__ import annotations

import itertools
import logging
import time
from typing import Any

import numpy as np

from territory_opt.errors import SolverError
from territory_opt.plan import Plan
from territory_opt.problem import TerritoryProblem
from territory_opt.solvers.local import rejoin_pieces
from territory_opt.solvers.search import kernels
from territory_opt.solvers.search.start import connect_roots, grow_plan
from territory_opt.solvers.search.state import State

__all__ = ["Search", "search"]

logger = logging.getLogger(__name__)

CANDIDATES = 4  # cheapest transfers followed per pair of neighbouring territories
DEPTH = 5  # most transfers in one ejection chain
NODES = 150  # arcs the chain search evaluates from each first territory
TABU_ITERATIONS = 300  # penalised moves per diversification phase
STALL_ROUNDS = 12  # rounds without a better plan after which a run without a limit stops
BIG = 1e6  # violation's weight in the last descent, in units of the typical move cost
PENALTY = 30.0  # violation's first weight in a repair and the tabu phase, the same units
PATH_ENDS = 8  # territories with room tried per territory outside its band, nearest first
MARGIN = 0.1  # flow balance: aim this share of a band's width inside it
ROOM = 1e-9  # room to give or take: this share of a territory's average at least
RAMP_SHARE = 0.1  # the second repair of the start when the first took less of the time left
DRIFT = 4.0  # tabu: a weight this far from the one the cached moves were scored at: rescore

Chain = list[tuple[int, int, int]]


class Search:
    """Ejection chains and a penalised tabu search on an incremental :class:`State`.

    Parameters
    ----------
    problem
        The problem (fixed centres, or the chosen centres' costs and roots).
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
        Random numbers for tenures.
    """

    def __init__(self, problem: TerritoryProblem, labels: np.ndarray, *, cost: np.ndarray,
                 roots: np.ndarray | None, fixed: np.ndarray | list[int], connected: bool,
                 rng: np.random.Generator) -> None:
        plan = Plan(problem, labels, roots=roots, fixed=fixed,
                    keep_regions=bool(problem.region_bands))
        moves = problem.moves if problem.max_moved is not None else None
        self.state = State(plan, cost=cost, connected=connected, moves=moves,
                           cap=(problem.max_moved or 0.0) * problem.move_total)
        self.k = plan.k
        self.rng = rng
        st = self.state
        units, dst = kernels.boundary_arcs(st.label, st.indptr, st.indices, st.k)
        typical = np.abs(st.cost[units, dst] - st.cost[units, st.label[units]])
        self.unit_cost = max(float(np.median(typical)) if len(typical) else 1.0, 1e-9)
        self.big = BIG * self.unit_cost
        self.weight = PENALTY * self.unit_cost  # the tabu phase's, adapted as it goes
        # each territory's best transfer: score parts and the chain (i, s, j, r)
        self._dc = np.zeros(self.k)
        self._dv = np.zeros(self.k)
        self._chain = np.full((self.k, 4), -1, dtype=np.int64)
        self._scored: tuple[float, bool] | None = None  # weight and tabu mode of the cache
        self._turn = 0  # the chain search's next first territory

    # ------------------------------------------------------------------ figures

    def violation(self) -> float:
        return self.state.violation()

    def total_cost(self) -> float:
        return self.state.total_cost()

    def labels(self) -> np.ndarray:
        return self.state.label.copy()

    def set_labels(self, labels: np.ndarray) -> None:
        self.state.set_labels(labels)

    # ------------------------------------------------------------------ moves

    def apply(self, chain: Chain) -> bool:
        """Make the transfers of ``chain`` in order; undo them all if one breaks a
        territory's connection."""
        st = self.state
        done: list[tuple[int, int]] = []
        for i, s, t in chain:
            if not st.may_move(i, s, t):
                for j, back in reversed(done):
                    st.move(j, back)
                return False
            st.move(i, t)
            done.append((i, s))
        return True

    def _skip(self, i: int, on: bool) -> None:
        st = self.state
        st.skipped[i] = on
        t = int(st.label[i])
        st.dirty[t] = True
        st.dirty[st.tedge[t] > 0] = True

    def best_move(self, weight: float, tabu: bool = False) -> tuple[float, Chain] | None:
        """The best single move or pair over the plan by ``cost + weight * violation``
        (each territory's best kept, recomputed where a move changed something);
        None if none lowers it (with ``tabu``: the best non-tabu one, improving or
        not; a cache scored at a weight within ``DRIFT`` is rescored, not recomputed)."""
        st = self.state
        if self._scored is None or self._scored[1] != tabu or (
                not tabu and self._scored[0] != weight) or (
                tabu and not self._scored[0] / DRIFT <= weight <= self._scored[0] * DRIFT):
            st.dirty[:] = True
            self._scored = (weight, tabu)
        dirty = np.flatnonzero(st.dirty)
        if len(dirty):
            base = st.violations()
            for m in dirty.tolist():
                _, dc, dv, i, s, j, r = st.best_of(m, weight, base, tabu)
                self._dc[m], self._dv[m] = dc, dv
                self._chain[m] = (i, s, j, r)
            st.dirty[dirty] = False
        score = np.where(self._chain[:, 0] >= 0, self._dc + weight * self._dv, np.inf)
        m = int(np.argmin(score))
        if not np.isfinite(score[m]) or (not tabu and score[m] >= -1e-9 * self.unit_cost):
            return None
        i, s, j, r = (int(x) for x in self._chain[m])
        chain = [(i, s, r)] if j < 0 else [(i, s, m), (j, m, r)]
        return float(score[m]), chain

    def best_chain(self, weight: float) -> tuple[float, Chain] | None:
        """An ejection chain that lowers ``cost + weight * violation``: the best that a
        depth-first search bounded to ``NODES`` arcs finds from the first territory t0
        that has one (a unit from t0 to t1, one from t1 to t2, ..., ending in a
        territory that takes it or back in t0, a cycle), every territory tried in
        turn. Each
        territory's transfers are taken from the state when the search first reaches
        it; an intermediate territory's violation counts, a partial chain is followed
        only while its cost, counted optimistically, still improves. None if none
        lowers it."""
        st = self.state
        sums, a, cost = st.sums, st.a, st.cost
        base = st.violations()
        moves = st.moves if st.has_cap else None
        cap0 = st.cap_violation()
        eps = 1e-9 * self.unit_cost
        best: list[Any] = [-eps, None]
        nodes = [0]
        arcs: dict[int, dict[int, np.ndarray]] = {}
        lower, upper, share = st.lower, st.upper, st.share[:, None]

        def viol(t: int, sums_t: np.ndarray) -> np.ndarray:
            lo, hi = lower[:, t][:, None], upper[:, t][:, None]
            return ((np.maximum(sums_t - hi, 0) + np.maximum(lo - sums_t, 0)) / share).sum(0)

        def arcs_of(t: int) -> dict[int, np.ndarray]:
            if t not in arcs:
                units, dst = st.arcs(t)
                order = np.lexsort((cost[units, dst] - cost[units, t], dst))
                units, dst = units[order], dst[order]
                arcs[t] = {int(c): units[dst == c] for c in np.unique(dst).tolist()}
            return arcs[t]

        def expand(t0: int, tj: int, delta: dict[int, np.ndarray], dcost: float,
                   inter: float, d0: float, dmoved: float, path: Chain, used: set[int],
                   visited: set[int]) -> None:
            for c, cand in arcs_of(tj).items():
                if nodes[0] > NODES:
                    return
                closing = c == t0 and bool(path)
                if c in visited and not closing:
                    continue
                units = [u for u in cand.tolist() if u not in used]
                if not units:
                    continue
                idx = np.array(units)
                nodes[0] += 1
                dc = cost[idx, c] - cost[idx, tj]
                own = sums[:, tj] + delta[tj] if tj in delta else sums[:, tj]
                other = sums[:, c] + delta[c] if c in delta else sums[:, c]
                if len(a):
                    v_tj = viol(tj, own[:, None] - a[:, idx]) - base[tj]
                    v_c = viol(c, other[:, None] + a[:, idx]) - base[c]
                else:
                    v_tj = v_c = np.zeros(len(units))
                dm = np.zeros(len(units)) if moves is None else moves[idx, c] - moves[idx, tj]
                new_cost = dcost + dc
                if not path:  # tj is t0: it only gives
                    new_inter, new_d0 = np.full(len(units), inter), v_tj
                else:
                    new_inter, new_d0 = inter + v_tj, np.full(len(units), d0)
                moved = dmoved + dm
                dcap = (np.array([st.cap_violation(st.moved + x) for x in moved]) - cap0
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

        # territories outside their bands first, the others in turn from where the last
        # call stopped: every territory is a first one before a descent ends
        turn = (np.arange(self.k) - self._turn) % self.k
        for t0 in np.lexsort((turn, -np.round(base, 9))).tolist():
            nodes[0] = 0
            expand(t0, t0, {}, 0.0, 0.0, 0.0, 0.0, [], set(), {t0})
            if best[1] is not None:
                self._turn = (t0 + 1) % self.k
                break
        return None if best[1] is None else (float(best[0]), best[1])

    # ------------------------------------------------------------------ descents

    def repair(self, deadline: float | None, ramp: bool = False) -> int:
        """Restore the bands, violation first, then cost: descents; where they stall
        outside a band, the amounts each border must carry are solved as a flow
        between neighbouring territories and moved (:meth:`flow_balance`), and units
        are passed along paths of territories (:meth:`push_paths`); then descents
        again. (A low weight on the violation lets a descent trade the bands for cost
        far from any plan within them: on 5,622 ZIP codes x 40 it ended 10 % above
        the bound, against 1.7 % violation first.)"""
        steps = 0
        weight = PENALTY * self.unit_cost
        while ramp and self.violation() > 1e-12 and weight < self.big and (
                deadline is None or time.perf_counter() < deadline):
            steps += self.descend(deadline, weight)
            weight *= 2
        steps += self.descend(deadline)
        while self.violation() > 1e-12 and (deadline is None or time.perf_counter() < deadline):
            before, saved = self.violation(), self.labels()
            moved = self.flow_balance()
            if moved:
                steps += moved + self.descend(deadline)
            if self.violation() > before - 1e-9:
                self.set_labels(saved)  # the flow did not help: undone
                pushed = self.push_paths(deadline)
                if not pushed:
                    break
                steps += pushed + self.descend(deadline)
        return steps

    def flow_balance(self) -> int:
        """Move the amounts a plan outside its bands must pass between territories:
        for the metric furthest outside, the least flow over the borders (in hops
        times amount) that brings every territory inside its band with a margin
        (an LP on the territory graph), then for each border carrying flow the
        cheapest members (or composite sets, :meth:`_sets`) that carry it. Returns
        the units moved."""
        from scipy.optimize import linprog  # 0.15 s to import, deferred to the first solve

        st = self.state
        if not len(st.a):
            return 0
        over = np.maximum(st.sums - st.upper, 0) + np.maximum(st.lower - st.sums, 0)
        m = int(np.argmax((over / st.share[:, None]).sum(axis=1)))
        lo, hi, now = st.lower[m], st.upper[m], st.sums[m]
        width = np.where(np.isfinite(hi - lo), hi - lo, 0.0)
        lo_t = np.where(np.isfinite(lo), lo + MARGIN * width, -np.inf)
        hi_t = np.where(np.isfinite(hi), hi - MARGIN * width, np.inf)
        src, dst = np.nonzero(np.triu(st.tedge) > 0)
        src, dst = np.r_[src, dst], np.r_[dst, src]
        k, arcs = self.k, len(src)
        if not arcs:
            return 0
        # final sums: now + inflow - outflow within [lo_t, hi_t]
        incidence = np.zeros((k, arcs))
        incidence[dst, np.arange(arcs)] = 1.0
        incidence[src, np.arange(arcs)] = -1.0
        rows, rhs = [], []
        upper_ok, lower_ok = np.isfinite(hi_t), np.isfinite(lo_t)
        rows.append(incidence[upper_ok])
        rhs.append(hi_t[upper_ok] - now[upper_ok])
        rows.append(-incidence[lower_ok])
        rhs.append(now[lower_ok] - lo_t[lower_ok])
        result = linprog(np.ones(arcs), A_ub=np.vstack(rows), b_ub=np.concatenate(rhs),
                         bounds=(0, None), method="highs")
        if result.status != 0:
            return 0
        flow = result.x
        moved = 0
        for j in np.argsort(-flow).tolist():
            need = float(flow[j])
            x, y = int(src[j]), int(dst[j])
            while need > 1e-9:
                sets, amount, extra = self._sets(x, y)
                if not sets:
                    break
                carried = amount[m]
                fits = carried <= need * (1 + MARGIN) + 1e-9
                if not fits.any():
                    break
                score = np.where(fits, extra / np.maximum(carried, 1e-9), np.inf)
                pick = int(np.argmin(score))
                for u in sets[pick].tolist():
                    st.move(u, y)
                    moved += 1
                need -= float(carried[pick])
        return moved

    def _sets(self, x: int, y: int) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
        """What territory x can give y keeping itself connected: each free member
        touching y, with the members it holds to the root when it is an
        articulation point (a composite move). Returns the sets, their amounts
        ``(metrics, sets)`` and what each adds to the cost."""
        st = self.state
        units, is_cut = st.border(x, y)
        sets = [st.hanging(int(u)) if c else units[j:j + 1]
                for j, (u, c) in enumerate(zip(units, is_cut, strict=True))]
        sets = [s for s in sets if len(s) and not st.skipped[s].any()
                and (not st.has_allowed or st.allowed[s, y].all())]
        if not sets:
            return [], np.zeros((len(st.a), 0)), np.zeros(0)
        amount = np.column_stack([st.a[:, s].sum(axis=1) for s in sets]) if len(st.a) \
            else np.zeros((0, len(sets)))
        extra = np.array([float((st.cost[s, y] - st.cost[s, x]).sum()) for s in sets])
        return sets, amount, extra

    def push_paths(self, deadline: float | None, ends: int = PATH_ENDS) -> int:
        """For each territory outside a band (the worst first), pass units along the
        shortest path of neighbouring territories between it and one that can give
        (it lies under a band) or take (above): every territory on the path gives
        one unit to the next, the largest that keeps it as far inside its bands as
        before; kept when the plan's violation falls, undone otherwise. Chains of
        any length, where a descent's are short. Returns the transfers kept."""
        st = self.state
        kept = 0
        base = st.violations()
        for t in np.argsort(-base, kind="stable").tolist():
            if base[t] <= 1e-12 or (deadline is not None and time.perf_counter() >= deadline):
                break
            under = bool((st.sums[:, t] < st.lower[:, t] - 1e-9).any())
            for path in self._paths(t, under, ends):
                before = st.violation()
                done = self._pass_along(path[::-1] if under else path)
                if done and st.violation() < before - 1e-9:
                    kept += len(done)
                    break
                for i, s in reversed(done):
                    st.move(i, s)
            base = st.violations()
        return kept

    def _paths(self, t: int, under: bool, ends: int) -> list[list[int]]:
        """Shortest paths of neighbouring territories from t to the ``ends`` nearest
        territories that can give (``under``: their sums above every lower band) or
        take (below every upper band), breadth first."""
        st = self.state
        slack = ROOM * st.share[:, None]
        room = (st.sums > st.lower + slack).all(axis=0) if under else \
            (st.sums < st.upper - slack).all(axis=0)
        parent = {t: -1}
        queue, out = [t], []
        for x in queue:
            for y in st.neighbours_of(x).tolist():
                if y in parent:
                    continue
                parent[y] = x
                queue.append(y)
                if room[y]:
                    path = [y]
                    while path[-1] != t:
                        path.append(parent[path[-1]])
                    out.append(path[::-1])
                    if len(out) >= ends:
                        return out
        return out

    def _pass_along(self, path: list[int]) -> list[tuple[int, int]]:
        """Each territory of ``path`` gives to the next: of what it can give
        (:meth:`_sets`), what leaves its violation lowest, then carries the most,
        then costs least. Returns the moves made (unit, from), in order."""
        st = self.state
        done: list[tuple[int, int]] = []
        for x, y in itertools.pairwise(path):
            sets, amount, extra = self._sets(x, y)
            if not sets:
                break
            viol = st.bands.violation(st.sums[:, x][:, None] - amount, np.full(len(sets), x))
            carried = (amount / st.share[:, None]).sum(axis=0)
            chosen = sets[int(np.lexsort((extra, -carried, np.round(viol, 9)))[0])]
            for u in chosen.tolist():
                st.move(u, y)
                done.append((u, x))
        return done

    def descend(self, deadline: float | None, weight: float | None = None) -> int:
        """Apply the best chain while one improves (violation first, then cost)."""
        weight = self.big if weight is None else weight
        steps = 0
        skipped: list[int] = []
        while deadline is None or time.perf_counter() < deadline:
            found = self.best_move(weight) or self.best_chain(weight)
            if found is None:
                break
            if self.apply(found[1]):
                steps += 1
                for i in skipped:
                    self._skip(i, False)
                skipped.clear()
            else:  # a transfer broke a connection the scores could not see
                skipped.append(found[1][0][0])
                self._skip(found[1][0][0], True)
        for i in skipped:
            self._skip(i, False)
        return steps

    def tabu_phase(self, iterations: int, deadline: float | None
                   ) -> tuple[np.ndarray, float] | None:
        """Tabu search: the best non-tabu move or pair by cost plus an adaptive
        penalty on the violation, improving or not; a unit may not return to the
        territory it left for a random tenure. Returns the best plan it passed
        through (violation first, then cost) and its cost, None if none beat the start."""
        st, k = self.state, self.k
        weight = self.weight
        best: tuple[np.ndarray, float] | None = None
        best_key = (_rounded(self.violation()), self.total_cost())
        for _ in range(iterations):
            if deadline is not None and time.perf_counter() > deadline:
                break
            st.iteration += 1
            found = self.best_move(weight, tabu=True)
            if found is None:
                break
            done = []
            for u, s, t in found[1]:
                if not st.may_move(u, s, t):
                    break
                st.move(u, t)
                done.append((u, s))
            if not done:  # the scores could not see the cut: leave that unit be a while
                u, s, t = found[1][0]
                st.tabu[u, t] = st.iteration + 2
                st.dirty[[s, t]] = True
                continue
            for u, s in done:
                st.tabu[u, s] = st.iteration + int(self.rng.integers(5, 5 + max(k, 5)))
            violation = self.violation()
            if violation > 1e-12:
                weight *= 1.1
            else:
                weight = max(weight / 1.1, self.unit_cost)
            key = (_rounded(violation), self.total_cost())
            if key[0] < best_key[0] or (key[0] == best_key[0]
                                        and key[1] < best_key[1] - 1e-9):
                best, best_key = (self.labels(), key[1]), key
        self.weight = weight  # the next phase goes on from the weight this one reached
        return best


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
        rejoined = connect_roots(plan) + rejoin_pieces(plan, balance=True) if connected else 0
    except SolverError:  # a locked piece cut off: territories grow from roots and locks
        if centres is not None:
            raise
        plan, rejoined = Plan(problem, grow_plan(problem, random_state=random_state)), -1
    engine = Search(problem, plan.label, cost=cost, roots=roots, fixed=fixed,
                    connected=connected, rng=rng)
    # two repairs of the start, the better kept: violation first (far outside the
    # bands: 1.7 % above the bound on 5,622 ZIPs x 40 where the ramp gave 5 %), and a
    # rising weight on the violation, which lets a start near the bands trade a little
    # of them for cost first (Georgia: 0.33 % against 0.45 %) when there is time for it
    clock = time.perf_counter()
    steps = engine.repair(deadline)
    first, first_key = engine.labels(), (_rounded(engine.violation()), engine.total_cost())
    spent = time.perf_counter() - clock
    if deadline is None or spent < RAMP_SHARE * (deadline - time.perf_counter()):
        engine.set_labels(plan.label)
        steps += engine.repair(deadline, ramp=True)
        if (_rounded(engine.violation()), engine.total_cost()) > first_key:
            engine.set_labels(first)
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

