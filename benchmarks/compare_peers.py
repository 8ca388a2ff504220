"""territory_opt against its peers on the same instances, in one run.

Peers: spopt's capacitated ``PMedian`` (PuLP; solved here by HiGHS like ours)
and workload-weighted k-means, what analysts do by hand (clusters of accounts,
each matched to the rep whose base serves it cheapest). Every plan is scored the
same way: the objective (workload x km to the territory's centre), the worst
workload deviation from the FTE-scaled target (the band is +-5 %), and the
territories that fall apart in the units' Delaunay graph. territory_opt runs
twice: as the peers do (no contiguity), and with every territory connected.
Ratios are to territory_opt without contiguity.

    .venv/bin/python benchmarks/compare_peers.py            # all instances
    .venv/bin/python benchmarks/compare_peers.py --instances georgia

Needs ``pip install -e '.[bench]'`` (spopt). Instances:

- ``georgia``: the demo's 949 accounts (one per ZIP) as units, its 12 reps'
  home bases (FTE 0.5 to 1) as fixed centres.
- ``georgia_model``: the same accounts in 150 k-means clusters, 12 centres
  chosen among them (FTE 1); PMedian's capacity is the upper band.
- ``southeast``: the 5,622 ZIP codes of six south-eastern states
  (``datasets.us_zip_units``, seeded synthetic workload), 40 seeded home bases.

spopt's PMedian has only an upper capacity: its plans may fall below the band's
lower edge, which territory_opt's never do.
"""

from __future__ import annotations

import argparse
import time
import warnings
from dataclasses import dataclass

import networkx as nx
import numpy as np
import pulp
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans

import territory_opt as topt
from territory_opt.datasets import seeded_home_bases, us_zip_units

TOL = 0.05
PEER_SECONDS = 600.0


@dataclass
class Plan:
    method: str
    seconds: float
    columns: np.ndarray | None  # each unit's centre column; None when no plan
    note: str = ""


def instance(name: str) -> topt.TerritoryProblem:
    """The territory problem of an instance (fixed or model centres, +-5 %)."""
    if name in ("georgia", "georgia_model"):
        accounts, _, reps = topt.load_georgia()
        if name == "georgia":
            units = topt.build_units(accounts, method="accounts")
            return topt.TerritoryProblem(units, reps=reps, balance={"workload": TOL})
        units = topt.build_units(accounts, method="clusters", n_units=150)
        return topt.TerritoryProblem(units, k=12, centres="model", balance={"workload": TOL})
    if name == "southeast":
        units = us_zip_units(states=["GA", "FL", "AL", "SC", "NC", "TN"], seed=0)
        return topt.TerritoryProblem(units, reps=seeded_home_bases(units, 40, seed=0),
                                     balance={"workload": TOL})
    raise SystemExit(f"unknown instance {name!r}")


def ours(problem: topt.TerritoryProblem) -> Plan:
    t0 = time.perf_counter()
    sol = topt.solve(problem, gap=1e-3 if problem.centres == "fixed" else 1e-2,
                     time_limit=PEER_SECONDS)
    gap = "-" if sol.gap is None else f"{sol.gap:.2%}"
    return Plan("territory_opt", time.perf_counter() - t0, sol.unit_centres(),
                f"{sol.status}, gap {gap}")


def ours_contiguous(problem: topt.TerritoryProblem, graph: nx.Graph) -> Plan:
    """territory_opt with every territory connected in the same Delaunay graph; the
    large path (with its contiguity repair) above 100,000 unit-centre pairs."""
    contiguous = problem.with_options(contiguity=True, graph=graph)
    large = problem.n_units * problem.n_columns > 100_000
    t0 = time.perf_counter()
    try:
        sol = topt.solve(contiguous, gap=1e-3 if problem.centres == "fixed" else 1e-2,
                         time_limit=PEER_SECONDS, method="lagrange" if large else "auto")
    except topt.TerritoryOptError as exc:
        return Plan("ours, contiguous", time.perf_counter() - t0, None, str(exc)[:60])
    gap = "-" if sol.gap is None else f"{sol.gap:.2%}"
    return Plan("ours, contiguous", time.perf_counter() - t0, sol.unit_centres(),
                f"{sol.status}, gap {gap}")


def pmedian(problem: topt.TerritoryProblem) -> Plan:
    from spopt.locate import PMedian

    w = problem.values("workload")
    cost = problem.distances  # km, units x centre columns (reps, or candidate units)
    k = problem.n_territories
    _, upper = problem.bounds("workload")
    caps = upper if problem.centres == "fixed" else np.full(cost.shape[1], upper.max())
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = PMedian.from_cost_matrix(cost, w, k, facility_capacities=caps)
        model = model.solve(pulp.HiGHS(msg=False, timeLimit=PEER_SECONDS))
    seconds = time.perf_counter() - t0
    status = pulp.LpStatus[model.problem.status]
    if status != "Optimal":
        return Plan("spopt PMedian", seconds, None, f"no plan ({status})")
    # each client's facility from the assignment variables themselves (spopt's
    # cli2fac lists every facility whose value is above 0, solver noise included)
    n, m = cost.shape
    z = np.array([[model.cli_assgn_vars[i, j].value() or 0.0 for j in range(m)]
                  for i in range(n)])
    proven = model.problem.sol_status == pulp.LpSolutionOptimal  # else stopped by time
    return Plan("spopt PMedian", seconds, z.argmax(axis=1),
                ("optimal" if proven else "time limit, not proven") + "; capacity only")


def kmeans(problem: topt.TerritoryProblem) -> Plan:
    units = problem.units
    w = problem.values("workload")
    xy = units[["x", "y"]].to_numpy()
    k = problem.n_territories
    t0 = time.perf_counter()
    labels = KMeans(n_clusters=k, n_init=10, random_state=0).fit(
        xy, sample_weight=w).labels_
    cost = problem.costs  # units x columns
    # each cluster to one centre: the reps' bases (matched at least cost), or the
    # cluster's best member unit (model centres)
    if problem.centres == "fixed":
        per = np.vstack([cost[labels == c].sum(axis=0) for c in range(k)])
        rows, cols = linear_sum_assignment(per)
        centre_of = dict(zip(rows, cols, strict=True))
    else:
        centre_of = {}
        for c in range(k):
            members = np.flatnonzero(labels == c)
            centre_of[c] = int(members[np.argmin(cost[np.ix_(members, members)].sum(axis=0))])
    columns = np.array([centre_of[c] for c in labels])
    return Plan("weighted k-means", time.perf_counter() - t0, columns, "heuristic")


def score(problem: topt.TerritoryProblem, plan: Plan, graph: nx.Graph) -> dict:
    cols = plan.columns
    assert cols is not None
    w = problem.values("workload")
    centres = np.unique(cols)
    loads = np.array([w[cols == c].sum() for c in centres])
    if problem.centres == "fixed":
        target = problem.targets("workload")[centres]
    else:
        target = np.full(len(centres), w.sum() / problem.n_territories)
    ids = problem.units["unit_id"].astype(str).to_numpy()
    broken = sum(not nx.is_connected(graph.subgraph(ids[cols == c])) for c in centres)
    return {"objective": problem.objective_of(cols),
            "worst": float(np.abs(loads / target - 1).max()), "broken": broken,
            "territories": len(centres)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", nargs="+",
                        default=["georgia", "georgia_model", "southeast"])
    args = parser.parse_args()
    print(f"{'instance':<14} {'method':<17} {'seconds':>8} {'x ours':>7} {'objective':>13} "
          f"{'x ours':>7} {'worst dev':>9} {'in band':>7} {'broken':>6}  note")
    for name in args.instances:
        problem = instance(name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # islands bridged
            graph = topt.adjacency(problem.units, kind="delaunay")
        plans = [ours(problem), ours_contiguous(problem, graph), pmedian(problem),
                 kmeans(problem)]
        base = score(problem, plans[0], graph)
        label = f"{name} ({problem.n_units}x{problem.n_territories})"
        for plan in plans:
            if plan.columns is None:
                print(f"{label:<14} {plan.method:<17} {plan.seconds:>8.1f} "
                      f"{plan.seconds / plans[0].seconds:>6.1f}x {'-':>13} {'-':>7} "
                      f"{'-':>9} {'-':>7} {'-':>6}  {plan.note}")
                continue
            s = score(problem, plan, graph)
            print(f"{label:<14} {plan.method:<17} {plan.seconds:>8.1f} "
                  f"{plan.seconds / plans[0].seconds:>6.1f}x {s['objective']:>13,.0f} "
                  f"{s['objective'] / base['objective']:>6.3f}x {s['worst']:>8.1%} "
                  f"{'yes' if s['worst'] <= TOL + 1e-9 else 'no':>7} {s['broken']:>6}  "
                  f"{plan.note}")
            label = ""


if __name__ == "__main__":
    main()
