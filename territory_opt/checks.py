"""Checks against a problem's rules: of the problem before solving, and of a plan.

Before solving, :func:`conflicts` names every conflict visible without a solver
(bands against the totals, heavy or locked units, segments no rep serves, regions,
pieces of the graph under contiguity) and :func:`check_feasibility` raises the
first; :func:`reachable_units` and :func:`max_units_per_territory` are the
contiguity checks the exact model is reduced by. After solving, :func:`plan_faults`
re-checks every plan before it is returned (bands, locks, eligibility, contiguity)
and :func:`band_misses` words each band a compromise plan misses.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

import networkx as nx
import numpy as np

from territory_opt.errors import InfeasibleError
from territory_opt.metrics import bands_held
from territory_opt.rules import Band, format_amount

if TYPE_CHECKING:
    from territory_opt.problem import TerritoryProblem

__all__ = ["band_misses", "check_feasibility", "conflicts", "heavy_widening",
           "is_connected_plan", "max_units_per_territory", "plan_faults", "reachable_units",
           "regions_connected"]


def check_feasibility(problem: TerritoryProblem) -> None:
    """Raise :class:`InfeasibleError` for the first conflict of :func:`conflicts`."""
    for message in conflicts(problem):
        raise InfeasibleError(message)


def conflicts(problem: TerritoryProblem) -> Iterator[str]:
    """Every conflict visible without a solver, as a message naming the unit,
    territory, metric and amounts, and the fix.

    Checks, for every band: the bands can hold the total; no unit is heavier
    than the upper band of every territory it may join; the units locked to a
    territory do not overfill it; every territory can still reach its lower
    band. With contiguity: every connected piece of the graph can hold a whole
    number of territories, and their number adds up to k.
    """
    terr = problem.territories
    if problem.reps is not None and problem.centres == "fixed":
        names = [f"territory {t!r} (rep {r!r})"
                 for t, r in zip(terr["territory"], terr["rep_id"], strict=True)]
    else:
        names = [f"territory {t!r}" for t in terr["territory"]]
    k = problem.n_territories
    locked_units = np.array(sorted(problem.locked), dtype=int)
    locked_to = np.array([problem.locked[i] for i in locked_units], dtype=int)
    bands: dict[str, Band] = problem.bands
    elig = problem.eligible
    segments = ([] if problem.served is None else
                sorted({str(v) for v in problem.units["segment"]} - {""}))
    for segment in segments:
        if not problem.serves(segment).any():
            count = int((problem.units["segment"].astype(str) == segment).sum())
            yield (f"segment {segment!r}: {count} units but no rep serves it; add "
                   f"{segment!r} to some reps' segments (or leave their segments blank: "
                   "every segment)")
    for t in range(k) if problem.served is not None else ():
        if not elig[:, t].any():  # type: ignore[index]
            yield (f"{names[t]} serves only {', '.join(map(repr, problem.served[t]))}"  # type: ignore[index]
                   ", and no unit is in those segments; fix its segments or remove the rep")
    for metric, band in bands.items():
        a = problem.values(metric)
        lower, upper = problem.bounds(metric)
        total = a.sum()
        what = band.describe()
        if upper.sum() < total - 1e-9 or lower.sum() > total + 1e-9:
            yield (
                f"{what}: the {k} territories can hold {format_amount(lower.sum())} to "
                f"{format_amount(upper.sum())} in all, but the units total "
                f"{format_amount(total)}; widen the "
                "band or change the number of territories")
        free_max = upper.max()
        heavy = [i for i in np.flatnonzero(a > free_max + 1e-9) if i not in problem.locked]
        if heavy:
            i = heavy[0]
            more = f" ({len(heavy)} units in all)" if len(heavy) > 1 else ""
            wide = heavy_widening(problem).get(metric)
            to = "" if wide is None else f" (to +-{wide:.0%}: it holds the heaviest unit)"
            yield (
                f"unit {problem.unit_ids[i]!r} has {metric} {format_amount(a[i])}, more than "
                f"{what} allows any territory (at most {format_amount(free_max)}){more}; widen the "
                f"band{to} or split the unit (smaller units, or units method 'accounts')")
        locked_sum = np.bincount(locked_to, weights=a[locked_units], minlength=k)
        for t in range(k):
            if locked_sum[t] > upper[t] + 1e-9:
                yield (
                    f"{names[t]}: its locked units carry {metric} "
                    f"{format_amount(locked_sum[t])}, more "
                    f"than {what} allows it (at most {format_amount(upper[t])}); unlock some or "
                    "widen the band")
        for t in range(k):
            reachable = total - (locked_sum.sum() - locked_sum[t])
            if reachable < lower[t] - 1e-9:
                yield (
                    f"{names[t]}: needs at least {format_amount(lower[t])} {metric} for {what}, "
                    f"but only {format_amount(reachable)} is not locked to other territories; "
                    "unlock some "
                    "or widen the band")
            elif problem.served is not None and not elig[:, t].all():  # type: ignore[index]
                others = np.zeros(problem.n_units, dtype=bool)
                others[locked_units[locked_to != t]] = True
                own = float(a[elig[:, t] & ~others].sum())
                if own < lower[t] - 1e-9:
                    yield (
                        f"{names[t]} serves only "
                        f"{', '.join(map(repr, problem.served[t]))}: it needs at least "  # type: ignore[index]
                        f"{format_amount(lower[t])} {metric} for {what}, but the units of "
                        f"those segments hold {format_amount(own)}; widen the band, give "
                        "the rep more segments, or a smaller FTE")
        for segment in segments:
            yield from _segment_capacity(problem, segment, metric, a, upper, what)
        yield from _segment_floor(problem, metric, a, lower, what)
    yield from _region_conflicts(problem)
    if problem.contiguity:
        yield from _piece_conflicts(problem)
        if problem.served is not None:
            yield from _segment_pieces(problem)


def heavy_widening(problem: TerritoryProblem) -> dict[str, float]:
    """Per tolerance band that a free unit exceeds in every territory, the tolerance
    (rounded up to a whole percent, below 100 %) at which the heaviest such unit fits
    the territory of the largest target: the width the checks name."""
    out: dict[str, float] = {}
    for metric, band in problem.bands.items():
        if band.tolerance is None or metric not in problem.balance:
            continue
        a = problem.values(metric)
        free = np.ones(problem.n_units, dtype=bool)
        free[list(problem.locked)] = False
        heaviest = float(a[free].max()) if free.any() else 0.0
        target = float(problem.targets(metric).max())
        if target <= 0 or heaviest <= problem.bounds(metric)[1].max() + 1e-9:
            continue
        wide = math.ceil(100 * (heaviest / target - 1) - 1e-9) / 100
        if band.tolerance < wide < 1:
            out[metric] = wide
    return out


def _region_conflicts(problem: TerritoryProblem) -> Iterator[str]:
    """Region bands against the total, their territories' bands and region locks."""
    regions = problem.regions or []
    region_of = problem.region_of
    for metric in problem.region_bands:
        a = problem.values(metric)
        lower, upper = problem.region_bounds(metric)
        what = "the region " + problem.region_bands[metric].describe()[4:]
        total = a.sum()
        if upper.sum() < total - 1e-9 or lower.sum() > total + 1e-9:
            yield (f"{what}: the {len(regions)} regions can hold {format_amount(lower.sum())} "
                   f"to {format_amount(upper.sum())} in all, but the units total "
                   f"{format_amount(total)}; widen the region band")
        t_lower, t_upper = problem.bounds(metric) if metric in problem.bands \
            else (np.full(problem.n_territories, -np.inf), np.full(problem.n_territories, np.inf))
        need = np.bincount(region_of, weights=np.where(np.isfinite(t_lower), t_lower, 0.0),
                           minlength=len(regions))
        room = np.bincount(region_of, weights=t_upper, minlength=len(regions))
        locked = np.zeros(len(regions))
        for i, r in problem.region_locked.items():
            locked[r] += a[i]
        for r, name in enumerate(regions):
            n = int((region_of == r).sum())
            reps = f"{n} territor{'y' if n == 1 else 'ies'}"
            if need[r] > upper[r] + 1e-9:
                yield (f"region {name!r}: its {reps} need at least "
                       f"{format_amount(need[r])} {metric} together for their bands, but "
                       f"{what} allows the region at most {format_amount(upper[r])}; widen "
                       "the region band or the territories' band, or move a rep to another "
                       "region")
            if room[r] < lower[r] - 1e-9:
                yield (f"region {name!r}: {what} needs at least {format_amount(lower[r])} "
                       f"{metric}, but its {reps} can hold at most "
                       f"{format_amount(room[r])} within their bands; widen the bands or "
                       "add a rep to the region")
            if locked[r] > upper[r] + 1e-9:
                yield (f"region {name!r}: the units locked to it carry {metric} "
                       f"{format_amount(locked[r])}, more than {what} allows it (at most "
                       f"{format_amount(upper[r])}); unlock some or widen the region band")


def _segment_capacity(problem: TerritoryProblem, segment: str, metric: str, a: np.ndarray,
                      upper: np.ndarray, what: str) -> Iterator[str]:
    """The units only the reps serving ``segment`` may take must fit in their bands."""
    serving = problem.serves(segment)
    elig = problem.eligible
    assert elig is not None
    captive = ~(elig & ~serving[None, :]).any(axis=1)
    total = float(a[captive].sum())
    room = float(upper[serving].sum())
    if not serving.any() or total <= room + 1e-9:
        return
    reps = problem.territories["rep_id"].to_numpy()[serving]
    each = float(upper[serving].mean())
    need = int(np.ceil(total / each - 1e-9)) if each > 0 else len(reps) + 1
    yield (f"segment {segment!r}: {metric} {format_amount(total)} can go only to the reps "
           f"serving it, and needs at least {need} of them at {what} (about "
           f"{format_amount(each)} each); {len(reps)} serve it ({', '.join(reps[:8])}); let "
           f"more reps serve {segment!r} or widen the band")


def _segment_pieces(problem: TerritoryProblem) -> Iterator[str]:
    """With contiguity and segments: every unit must be reachable from the root of a
    territory that may hold it, through units that territory's rep serves."""
    graphs = _territory_graphs(problem)
    held = np.zeros(problem.n_units, dtype=bool)
    for t, graph in enumerate(graphs):
        held[list(nx.node_connected_component(graph, problem.root_of(t)))] = True
    if held.all():
        return
    seg = problem.units["segment"].astype(str).to_numpy()
    for segment in sorted(set(seg[~held])):
        cut = np.flatnonzero(~held & (seg == segment))
        reps = problem.territories["rep_id"].to_numpy()[problem.serves(segment)]
        yield (f"contiguity: {len(cut)} units of segment {segment!r} (e.g. "
               f"{problem.unit_ids[cut[0]]!r}) lie apart from the territories of the reps "
               f"serving it ({', '.join(reps[:8])}): between them lie only units of "
               "segments those reps do not serve; put those reps in a team of their own "
               "(teams: in the scenario), whose territories are drawn on a map of that "
               "team's accounts, or let more reps serve the segment, or drop contiguity")


def _segment_floor(problem: TerritoryProblem, metric: str, a: np.ndarray, lower: np.ndarray,
                   what: str) -> Iterator[str]:
    """Reps serving only some segments must reach their lower bands together from
    the units of those segments."""
    if problem.served is None:
        return
    seg = problem.units["segment"].astype(str).to_numpy()
    for names in sorted({s for s in problem.served if s}):
        group = np.array([bool(s) and set(s) <= set(names) for s in problem.served])
        need = float(lower[group].sum())
        have = float(a[np.isin(seg, list(names)) | (seg == "")].sum())
        if group.sum() > 1 and need > have + 1e-9:
            reps = problem.territories["rep_id"].to_numpy()[group]
            yield (f"the reps serving only {', '.join(map(repr, names))} ({', '.join(reps[:8])}) "
                   f"need at least {format_amount(need)} {metric} together for {what}, but "
                   f"the units of those segments hold {format_amount(have)}; give them "
                   "smaller FTEs or more segments, or widen the band")


def _piece_conflicts(problem: TerritoryProblem) -> Iterator[str]:
    """Each connected piece must hold a whole number of territories, k in all."""
    graph = problem.adjacency
    pieces = sorted(nx.connected_components(graph), key=lambda c: min(c))
    k = problem.n_territories
    if len(pieces) > k:
        sizes = ", ".join(str(len(c)) for c in pieces[:8])
        yield (
            f"contiguity: the units' graph has {len(pieces)} separate pieces (sizes {sizes}"
            f"{', ...' if len(pieces) > 8 else ''}) but there are only {k} territories, and "
            "a connected territory cannot span two pieces; connect the pieces (islands) "
            "in the graph, or drop contiguity")
    lo_total, hi_total = 0, 0
    for piece in pieces:
        idx = np.array(sorted(piece))
        lo_c, hi_c = 1, len(idx)
        for metric in problem.bands:
            lower, upper = problem.bounds(metric)
            total = problem.values(metric)[idx].sum()
            if upper.max() > 0 and np.isfinite(upper.max()):
                lo_c = max(lo_c, int(np.ceil(total / upper.max() - 1e-9)))
            if lower.min() > 0:
                hi_c = min(hi_c, int(np.floor(total / lower.min() + 1e-9)))
        if lo_c > hi_c:
            example = problem.unit_ids[idx[0]]
            yield (
                f"contiguity: the piece of the graph holding unit {example!r} ({len(idx)} "
                "units) cannot be cut into whole territories within the bands; connect "
                "it to its neighbours in the graph, widen the bands, or drop contiguity")
        lo_total, hi_total = lo_total + lo_c, hi_total + hi_c
    if not lo_total <= k <= hi_total:
        yield (
            f"contiguity: the graph's {len(pieces)} pieces can hold {lo_total} to {hi_total} "
            f"connected territories within the bands, not {k}; change k, widen the bands, "
            "or drop contiguity")


def reachable_units(problem: TerritoryProblem) -> dict[int, set[int]]:
    """With contiguity: for each centre column, the units a connected territory
    grown from its root can hold.

    Every unit on a path from the root to unit i lies in the territory, so the
    cheapest such path (adding up a metric's non-negative amounts, ends
    included) must fit under the metric's upper band. With reps restricted to
    segments, the path runs through units the rep may serve.
    """
    n = problem.n_units
    roots = [problem.root_of(c) for c in range(problem.n_columns)]
    graphs = _territory_graphs(problem)
    reach = {c: set(nx.node_connected_component(graphs[c], root)) if problem.eligible is not None
             else set(range(n)) for c, root in enumerate(roots)}
    for metric in problem.bands:
        a = problem.values(metric)
        upper = problem.bounds(metric)[1]
        if (a < 0).any():
            continue
        for c, root in enumerate(roots):
            cap = float(upper[0] if problem.centres == "model" else upper[c])
            if not np.isfinite(cap):
                continue
            lengths = nx.single_source_dijkstra_path_length(
                graphs[c], root, cutoff=cap - a[root] + 1e-9, weight=lambda u, v, d, a=a: a[v])
            reach[c] &= {int(i) for i in lengths}
    return reach


def _territory_graphs(problem: TerritoryProblem) -> list[nx.Graph]:
    """Per centre column, the graph a connected territory grows in: the units' graph,
    restricted to the units its rep may serve."""
    graph = problem.adjacency
    elig = problem.eligible
    if elig is None:
        return [graph] * problem.n_columns
    by_class: dict[bytes, nx.Graph] = {}
    out = []
    for t in range(problem.n_territories):
        key = np.packbits(elig[:, t]).tobytes()
        if key not in by_class:
            by_class[key] = graph.subgraph(np.flatnonzero(elig[:, t]).tolist())
        out.append(by_class[key])
    return out


def max_units_per_territory(problem: TerritoryProblem) -> int:
    """The most units one territory can hold under the upper bands."""
    most = problem.n_units - problem.n_territories + 1
    for metric in problem.bands:
        upper = problem.bounds(metric)[1].max()
        a = np.sort(problem.values(metric))
        if np.isfinite(upper) and (a >= 0).all():
            most = min(most, int(np.searchsorted(np.cumsum(a), upper + 1e-9, side="right")))
    return max(most, 1)


def is_connected_plan(problem: TerritoryProblem, columns: np.ndarray) -> bool:
    """Whether every territory of the plan is connected in the units' graph."""
    graph = problem.adjacency
    for c in np.unique(columns):
        members = np.flatnonzero(columns == c).tolist()
        if not nx.is_connected(graph.subgraph(members)):
            return False
    return True


def regions_connected(problem: TerritoryProblem, columns: np.ndarray) -> bool:
    """Whether every region of the plan is connected (True unless region contiguity
    is asked)."""
    if not problem.region_contiguity:
        return True
    return is_connected_plan(problem, problem.region_of[np.asarray(columns)])


def band_misses(problem: TerritoryProblem, unit_centres: np.ndarray) -> list[str]:
    """Each band a plan (fixed centres: each unit's territory) misses, one line per
    territory and metric: the amount, how far outside, and that as a share of the
    bound (the figures a compromise plan is shown with). Empty when every band holds."""
    terr = problem.territories
    labels = np.asarray(unit_centres)
    lines = []
    for metric in problem.bands:
        sums = np.bincount(labels, weights=problem.values(metric),
                           minlength=problem.n_territories)
        lower, upper = problem.bounds(metric)
        for t in np.flatnonzero(~bands_held(sums, lower, upper)).tolist():
            below = sums[t] < lower[t]
            bound = lower[t] if below else upper[t]
            off = abs(sums[t] - bound)
            rep = f" (rep {terr['rep_id'][t]!r})" if terr["rep_id"][t] else ""
            lines.append(f"territory {terr['territory'][t]!r}{rep}: {metric} "
                         f"{format_amount(sums[t])}, {format_amount(off)} "
                         f"{'below its minimum' if below else 'above its maximum'} "
                         f"{format_amount(bound)} ({off / max(abs(bound), 1e-9):.1%})")
    return lines


def plan_faults(problem: TerritoryProblem, unit_centres: np.ndarray, *,
                bands: bool = True) -> list[str]:
    """What a plan (each unit's centre column) breaks of the problem's rules: every
    unit in one territory of the right number, its centres (model centres) in
    their own territories, bands (unless ``bands`` is False: a compromise plan),
    locks and, when asked, contiguity. Empty for a valid plan."""
    unit_centres = np.asarray(unit_centres)
    faults = []
    if unit_centres.shape != (problem.n_units,) or (unit_centres < 0).any() \
            or (unit_centres >= problem.n_columns).any():
        return ["not every unit has a territory"]
    centres, labels = np.unique(unit_centres, return_inverse=True)
    ids = problem.unit_ids
    if problem.centres == "model":
        if len(centres) != problem.n_territories:
            faults.append(f"{len(centres)} territories instead of {problem.n_territories}")
        faults += [f"centre unit {ids[c]!r} lies outside its territory"
                   for c in centres if unit_centres[c] != c]
        labels = labels.ravel()
    else:
        labels = unit_centres
    k = len(centres) if problem.centres == "model" else problem.n_territories
    for metric in problem.bands if bands else ():
        sums = np.bincount(labels, weights=problem.values(metric), minlength=k)
        lower, upper = problem.bounds(metric)
        outside = np.flatnonzero(~bands_held(sums, lower[:k], upper[:k]))
        names = (problem.territories["territory"].to_numpy() if problem.centres == "fixed"
                 else [f"centred at {ids[c]!r}" for c in centres])
        faults += [f"the {metric} band of territory {names[t]}" for t in outside]
    faults += [f"the lock of unit {ids[i]!r}" for i, t in problem.locked.items()
               if unit_centres[i] != t]
    if problem.eligible is not None:
        wrong = np.flatnonzero(~problem.eligible[np.arange(problem.n_units), unit_centres])
        locked = problem.region_locked
        faults += [f"unit {ids[i]!r} outside its locked region "
                   f"{problem.regions[locked[i]]!r}"  # type: ignore[index]
                   if i in locked and problem.region_of[unit_centres[i]] != locked[i]
                   else f"unit {ids[i]!r} with a rep who does not serve its segment"
                   for i in wrong]
    if problem.contiguity and not is_connected_plan(problem, unit_centres):
        faults.append("contiguity")
    if problem.regions is not None and problem.centres == "fixed":
        regions = problem.region_of[unit_centres]
        for metric in problem.region_bands if bands else ():
            sums = np.bincount(regions, weights=problem.values(metric),
                               minlength=len(problem.regions))
            lower, upper = problem.region_bounds(metric)
            faults += [f"the {metric} band of region {problem.regions[r]!r}"
                       for r in np.flatnonzero(~bands_held(sums, lower, upper))]
        if not regions_connected(problem, unit_centres):
            faults.append("region contiguity")
    return faults

