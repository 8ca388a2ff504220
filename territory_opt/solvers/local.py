"""Local search on a :class:`~territory_opt.plan.Plan`: contiguity repair, rebalancing
and improvement by boundary moves, and location-allocation.

Every move of :func:`make_contiguous` keeps each territory connected and holding
its root (the centre unit, or the unit nearest the rep's base).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable

import numpy as np

from territory_opt.errors import SolverError
from territory_opt.plan import Plan
from territory_opt.problem import TerritoryProblem

__all__ = ["locate_allocate", "make_contiguous", "rejoin_pieces"]

logger = logging.getLogger(__name__)

MAX_BALANCE_MOVES = 200_000
PUSH_TARGETS = 8  # territories with room tried per push, nearest first


def make_contiguous(problem: TerritoryProblem, territory: np.ndarray, cost: np.ndarray,
                    roots: np.ndarray, *, pinned: dict[int, int] | None = None,
                    deadline: float | None = None) -> tuple[np.ndarray, dict[str, int]]:
    """Make every territory connected in the units' graph, within the bands.

    1. Pieces cut off from their territory's root join the neighbouring
       territory where they cost least (a whole piece at a time, so the
       receiver stays connected).
    2. While a territory is outside a band, the boundary unit whose move to (or
       from) a neighbouring territory reduces the violation at the least cost
       moves, if its old territory stays connected.
    3. Local search: any boundary unit moves to a neighbouring territory when
       that lowers the cost, keeps the bands and keeps its old territory
       connected; two units of neighbouring territories swap when that lowers
       the cost and keeps both in their bands and connected; sweeps until
       neither improves (or the deadline).

    ``territory`` is each unit's position among the ``k`` territories,
    ``cost`` the ``(n, k)`` cost matrix and ``roots`` each territory's root
    unit. Returns the new positions and counts of the moves of each step.
    """
    plan = Plan(problem, territory, cost=cost, roots=roots, fixed=list(pinned or {}),
                keep_regions=bool(problem.region_bands))
    counts = {"orphans": rejoin_pieces(plan), "balance": _balance(plan, deadline),
              "improve": 0, "swaps": 0}
    while True:  # single moves, then swaps, while either improves
        moved = _improve(plan, deadline)
        swapped = _swaps(plan, deadline)
        counts["improve"] += moved
        counts["swaps"] += swapped
        if not swapped or (deadline is not None and time.perf_counter() > deadline):
            break
    bad = np.flatnonzero(plan.violation() > 1e-9)
    logger.info("contiguity repair moves %s; %d territories outside the bands", counts, len(bad))
    if len(bad):
        raise SolverError(f"could not make territory {int(bad[0])} contiguous within the bands "
                          f"({len(bad)} territories outside them); widen the bands or solve "
                          "without contiguity")
    logger.info("contiguity repair: %s", counts)
    return plan.label, counts


def rejoin_pieces(plan: Plan, *, balance: bool = False) -> int:
    """Pieces of a territory cut off from its root join the neighbouring territory
    where they cost least (with ``balance``: where they leave it least outside its
    bands, then cost least; the largest pieces first); a piece holding a locked unit
    cannot move."""
    orphans: set[int] = set()
    for t in range(plan.k):
        orphans |= plan.members[t] - plan.reached(t)
    stuck = [i for i in orphans if plan.fixed[i]]
    if stuck:
        raise SolverError(f"a locked unit (position {stuck[0]}) is cut off from the root of "
                          "its territory, and the repair may not move it; unlock it, or "
                          "solve with method='mip'")
    moved = len(orphans)
    while orphans:
        progress = False
        pieces = _pieces(plan, orphans)
        if balance:
            pieces.sort(key=lambda piece: -float(plan.a[:, list(piece)].sum()))
        for piece in pieces:
            touching: dict[int, float] = {}
            for u in piece:
                for v in plan.neighbours(u):
                    v = int(v)
                    if v not in orphans and all(plan.may_join(w, int(plan.label[v]))
                                                for w in piece):
                        touching.setdefault(int(plan.label[v]), 0.0)
            if not touching:
                continue
            idx = np.fromiter(piece, dtype=int)
            amount = plan.a[:, idx].sum(axis=1)

            def rank(s: int, idx: np.ndarray = idx, amount: np.ndarray = amount
                     ) -> tuple[float, float]:
                cost = float(plan.cost[idx, s].sum())
                if not balance:
                    return 0.0, cost
                grows = plan.violation_of(s, plan.sums[:, s] + amount) \
                    - plan.violation_of(s, plan.sums[:, s])
                return round(grows, 9), cost

            best = min(touching, key=rank)
            for u in piece:
                plan.move(u, best)
            orphans -= piece
            progress = True
        if not progress:  # on a connected graph: only when segments forbid every neighbour
            raise SolverError("a piece of a territory cut off from its root touches no "
                              "territory whose rep serves all its segments; solve with "
                              "method='mip', or let more reps serve those segments")
    return moved


def _pieces(plan: Plan, orphans: set[int]) -> list[set[int]]:
    """Connected pieces of the orphans, each within one territory."""
    left = set(orphans)
    out = []
    while left:
        start = left.pop()
        label = plan.label[start]
        piece = plan.flood(start, lambda v, label=label: v in left and plan.label[v] == label)
        left -= piece
        out.append(piece)
    return out


def _balance(plan: Plan, deadline: float | None) -> int:
    """Restore the bands: the cheapest move that lowers the violation, else a chain of
    moves along the shortest path of neighbouring territories to one with room, else
    a swap with a neighbouring territory that lowers the violation."""
    moves = 0
    stuck: set[int] = set()
    while moves < MAX_BALANCE_MOVES:
        viol = plan.violation()
        viol[list(stuck)] = 0
        t = int(np.argmax(viol))
        if viol[t] <= 1e-12:
            return moves
        if deadline is not None and time.perf_counter() > deadline:
            return moves
        done = _direct_move(plan, t) or _push(plan, t) or _balancing_swap(plan, t)
        if done:
            moves += done
            stuck.clear()
        else:
            stuck.add(t)
    return moves


def _balancing_swap(plan: Plan, t: int) -> int:
    """Territory t trades a boundary unit with a neighbouring territory's: the swap
    that lowers the two territories' violation at the least cost per unit removed,
    keeping both connected (where no single move or chain can: a heavy unit out, a
    light one in)."""
    options = []
    before = {s: plan.violation_of(s, plan.sums[:, s]) for s in _neighbour_territories(plan, t)}
    base_t = plan.violation_of(t, plan.sums[:, t])
    for i in _boundary(plan, t):
        for s in plan.other_labels(i):
            for j in _boundary(plan, s):
                if t not in plan.other_labels(j):
                    continue
                d = plan.a[:, j] - plan.a[:, i]
                after = (plan.violation_of(t, plan.sums[:, t] + d)
                         + plan.violation_of(s, plan.sums[:, s] - d))
                gain = base_t + before[s] - after
                if gain > 1e-12:
                    cost = (plan.cost[i, s] + plan.cost[j, t] - plan.cost[i, t]
                            - plan.cost[j, s])
                    options.append((cost / gain, i, j, s))
    for _, i, j, s in sorted(options):
        if _connected_after_swap(plan, i, j):
            plan.move(i, s)
            plan.move(j, t)
            return 2
    return 0


def _direct_move(plan: Plan, t: int) -> int:
    candidates = [(i, t, s) for i in _boundary(plan, t) for s in plan.other_labels(i)]
    for s in _neighbour_territories(plan, t):
        candidates += [(i, s, t) for i in _boundary(plan, s) if t in plan.other_labels(i)]
    scored = []
    for i, src, dst in candidates:
        a = plan.a[:, i]
        before = (plan.violation_of(src, plan.sums[:, src])
                  + plan.violation_of(dst, plan.sums[:, dst]))
        after = (plan.violation_of(src, plan.sums[:, src] - a)
                 + plan.violation_of(dst, plan.sums[:, dst] + a))
        dv = after - before
        if dv < -1e-12:
            scored.append((float(plan.cost[i, dst] - plan.cost[i, src]) / -dv, i, dst))
    scored.sort()
    for _, i, dst in scored:
        if plan.can_leave(i):
            plan.move(i, dst)
            return 1
    return 0


def _push(plan: Plan, t: int) -> int:
    """Shift one boundary unit along each step of the shortest path from territory t
    (over its band) to the nearest territory with room, or the reverse (under)."""
    over = bool((plan.sums[:, t] > plan.bands.upper[:, t]).any())
    m = int(np.argmax(np.maximum(plan.sums[:, t] - plan.bands.upper[:, t], 0) if over
                      else np.maximum(plan.bands.lower[:, t] - plan.sums[:, t], 0)))
    parent: dict[int, int | None] = {t: None}
    queue = deque([t])
    targets = []
    while queue and len(targets) < PUSH_TARGETS:
        p = queue.popleft()
        room = (plan.bands.upper[m, p] - plan.sums[m, p]) if over else (plan.sums[m, p]
                                                                 - plan.bands.lower[m, p])
        if p != t and room > 0:
            targets.append(p)
        for q in _neighbour_territories(plan, p):
            if q not in parent:
                parent[q] = p
                queue.append(q)
    for target in targets:
        path = [target]
        while parent[path[-1]] is not None:
            path.append(parent[path[-1]])  # type: ignore[arg-type]
        path.reverse()  # t ... target
        moved = _shift(plan, over, path)
        if moved:
            return moved
    return 0


def _shift(plan: Plan, over: bool, path: list[int]) -> int:
    """Move one unit along each step of ``path`` (outwards if t is over its band,
    inwards if under); kept only if the total violation falls."""
    steps = list(zip(path[:-1], path[1:], strict=True)) if over else \
        list(zip(path[:0:-1], path[-2::-1], strict=True))
    total = float(plan.violation().sum())
    done: list[tuple[int, int]] = []
    for src, dst in steps:
        # the unit that leaves its territory (which has received its own) best within
        # the bands, then the cheapest
        options = sorted((round(plan.violation_of(src, plan.sums[:, src] - plan.a[:, i]),
                                12),
                          float(plan.cost[i, dst] - plan.cost[i, src]), i)
                         for i in _boundary(plan, src) if dst in plan.other_labels(i))
        for _, _, i in options:
            if plan.can_leave(i):
                plan.move(i, dst)
                done.append((i, src))
                break
        else:
            break
    if float(plan.violation().sum()) > total - 1e-12 or len(done) < len(steps):
        for i, src in reversed(done):  # undo: the plan before was connected
            plan.move(i, src)
        return 0
    return len(done)


def _boundary(plan: Plan, t: int) -> list[int]:
    return [i for i in plan.members[t]
            if not plan.fixed[i] and any(plan.label[v] != t for v in plan.neighbours(i))]


def _neighbour_territories(plan: Plan, t: int) -> set[int]:
    out: set[int] = set()
    for i in plan.members[t]:
        out |= plan.other_labels(i)
    return out


def _improve(plan: Plan, deadline: float | None) -> int:
    moves = 0
    improved = True
    while improved:
        improved = False
        for i in range(plan.n):
            if plan.fixed[i]:
                continue
            t = int(plan.label[i])
            options = plan.other_labels(i)
            if not options:
                continue
            gains = sorted((float(plan.cost[i, s] - plan.cost[i, t]), s) for s in options)
            for delta, s in gains:
                if delta >= -1e-9:
                    break
                a = plan.a[:, i]
                if len(a) and (plan.violation_of(t, plan.sums[:, t] - a) > 1e-12
                               or plan.violation_of(s, plan.sums[:, s] + a) > 1e-12):
                    continue
                if plan.can_leave(i):
                    plan.move(i, s)
                    moves += 1
                    improved = True
                    break
            if deadline is not None and time.perf_counter() > deadline:
                return moves
    return moves


def _swaps(plan: Plan, deadline: float | None) -> int:
    """Swap moves: unit i of territory t and unit j of a neighbouring territory s
    trade places when that lowers the cost, both territories stay within their
    bands and stay connected (tight bands leave single moves little room; a
    swap of two similar units keeps the sums). Sweeps until no swap improves."""
    swaps = 0
    improved = True
    while improved:
        improved = False
        border: dict[tuple[int, int], list[int]] = {}
        for i in range(plan.n):
            if not plan.fixed[i]:
                for s in plan.other_labels(i):
                    border.setdefault((int(plan.label[i]), s), []).append(i)
        for (t, s), out in border.items():
            if t > s or (s, t) not in border:
                continue
            back = border[(s, t)]
            ia, ja = np.array(out), np.array(back)
            if not len(ia) or not len(ja):
                continue
            gain = (plan.cost[ia, t][:, None] + plan.cost[ja, s][None, :]
                    - plan.cost[ia, s][:, None] - plan.cost[ja, t][None, :])
            for flat in np.argsort(-gain, axis=None):
                r, q = divmod(int(flat), len(ja))
                if gain[r, q] <= 1e-9:
                    break
                i, j = int(ia[r]), int(ja[q])
                if plan.label[i] != t or plan.label[j] != s:
                    continue  # moved by an earlier swap of this sweep
                if _swap_keeps_rules(plan, i, j):
                    plan.move(i, s)
                    plan.move(j, t)
                    swaps += 1
                    improved = True
                    break
            if deadline is not None and time.perf_counter() > deadline:
                return swaps
    return swaps


def _swap_keeps_rules(plan: Plan, i: int, j: int) -> bool:
    """Whether units i (of t) and j (of s) may trade places: bands, then both
    territories connected (and holding their roots) after the trade."""
    t, s = int(plan.label[i]), int(plan.label[j])
    d = plan.a[:, j] - plan.a[:, i]
    if len(d) and (plan.violation_of(t, plan.sums[:, t] + d) > 1e-12
                   or plan.violation_of(s, plan.sums[:, s] - d) > 1e-12):
        return False
    return _connected_after_swap(plan, i, j)


def _connected_after_swap(plan: Plan, i: int, j: int) -> bool:
    """Whether both territories stay connected (from their roots) when i and j trade."""
    t, s = int(plan.label[i]), int(plan.label[j])
    for own, gone, come in ((t, i, j), (s, j, i)):
        members = (plan.members[own] - {gone}) | {come}
        start = int(plan.roots[own]) if plan.roots is not None else min(members)
        if len(plan.flood(start, lambda v, m=members: v in m)) != len(members):
            return False
    return True


def locate_allocate(problem: TerritoryProblem, centres: np.ndarray,
                    allocate: Callable[[np.ndarray], np.ndarray | None], *,
                    candidates: Callable[[np.ndarray], np.ndarray] | None = None,
                    rounds: int | None = None, deadline: float | None = None,
                    until_worse: bool = False) -> tuple[np.ndarray, np.ndarray, int] | None:
    """Model-chosen centres by alternating location and allocation.

    ``allocate(centres)`` assigns every unit to one of the ``centres`` (unit
    positions) and returns each unit's position among them, or None when it
    finds no plan. Each centre then moves to the member of its territory (or to
    ``candidates(members)``) that minimises the territory's cost, and the units
    are allocated again, until a set of centres repeats, the allocation fails,
    ``rounds`` are done, the ``deadline`` passes or (``until_worse``) a round
    does not improve on the best plan.

    Returns the best plan's centres, each unit's position among them, and the
    number of rounds; None if no allocation succeeded.
    """
    best: tuple[np.ndarray, np.ndarray, float] | None = None
    seen: set[tuple[int, ...]] = set()
    done = 0
    centres = np.asarray(centres, dtype=int)
    while tuple(sorted(centres.tolist())) not in seen and (rounds is None or done < rounds):
        if done and deadline is not None and time.perf_counter() > deadline:
            break
        seen.add(tuple(sorted(centres.tolist())))
        done += 1
        labels = allocate(centres)
        if labels is None:
            break
        objective = problem.objective_of(centres[labels])
        if best is None or objective < best[2]:
            best = (centres, labels, objective)
        elif until_worse:
            break
        moved = centres.copy()
        for t in range(len(centres)):
            members = np.flatnonzero(labels == t)
            moved[t] = problem.best_centre(members, None if candidates is None
                                           else candidates(members))
        logger.info("locate-allocate round %d: objective %.8g, %d centres move", done,
                    objective, int((moved != centres).sum()))
        centres = moved
    return None if best is None else (best[0], best[1], done)
