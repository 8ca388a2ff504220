"""Shared helpers: tiny hand-built instances whose answers can be seen by eye."""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import strategies as st

import territory_opt as topt

ROOT = Path(__file__).resolve().parent.parent
CRS = "EPSG:32617"  # metres; the grids sit near (500 km E, 3700 km N) of UTM 17N
X0, Y0 = 500_000.0, 3_700_000.0


def make_accounts(xy_km: Sequence[tuple[float, float]], workload: Sequence[float] | None = None,
                  ids: Sequence[str] | None = None,
                  segment: Sequence[str] | None = None) -> gpd.GeoDataFrame:
    """Accounts at ``xy_km`` (km offsets), ids A0, A1, ... unless given."""
    n = len(xy_km)
    frame = pd.DataFrame({
        "account_id": list(ids) if ids is not None else [f"A{i}" for i in range(n)],
        "workload": list(workload) if workload is not None else [1.0] * n,
    } | ({"segment": list(segment)} if segment is not None else {}))
    geometry = gpd.points_from_xy([X0 + 1000 * x for x, _ in xy_km],
                                  [Y0 + 1000 * y for _, y in xy_km])
    return topt.read_accounts(gpd.GeoDataFrame(frame, geometry=geometry, crs=CRS),
                              segment="segment" if segment is not None else None)


def make_reps(xy_km: Sequence[tuple[float, float]],
              fte: Sequence[float] | None = None,
              segments: Sequence[str] | None = None,
              regions: Sequence[str] | None = None) -> gpd.GeoDataFrame:
    """Reps R0, R1, ... with home bases at ``xy_km`` (km offsets); ``segments`` as in
    a file (``"a; b"``, blank for every segment); ``regions`` each rep's region."""
    n = len(xy_km)
    frame = pd.DataFrame({"rep_id": [f"R{i}" for i in range(n)],
                          "fte": list(fte) if fte is not None else [1.0] * n}
                         | ({"segments": list(segments)} if segments is not None else {})
                         | ({"region": list(regions)} if regions is not None else {}))
    geometry = gpd.points_from_xy([X0 + 1000 * x for x, _ in xy_km],
                                  [Y0 + 1000 * y for _, y in xy_km])
    return topt.read_reps(gpd.GeoDataFrame(frame, geometry=geometry, crs=CRS),
                          segments="segments" if segments is not None else None,
                          region="region" if regions is not None else None)


def grid_problem(acc_xy, rep_xy, *, workload=None, fte=None, balance=None,
                 **kwargs) -> topt.TerritoryProblem:
    units = topt.build_units(make_accounts(acc_xy, workload), method="accounts", crs=CRS)
    return topt.TerritoryProblem(units, reps=make_reps(rep_xy, fte),
                                 balance=balance if balance is not None else {"workload": 0.0},
                                 **kwargs)


def owners(solution: topt.Solution) -> dict[str, str]:
    """Account id to rep id."""
    table = solution.assignments()
    return dict(zip(table["account_id"], table["rep_id"], strict=True))


@pytest.fixture(scope="session")
def cluster():
    """A throwaway PostgreSQL/PostGIS cluster (tests/pgcluster.py) with databases
    ``crm`` (the Georgia demo tables) and ``warehouse``; skipped, saying why, where
    the server cannot start, failed instead under REQUIRE_POSTGRES=1 (CI)."""
    import pgcluster

    why = pgcluster.why_not()
    if why is not None:
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(f"REQUIRE_POSTGRES=1 but {why}")
        pytest.skip(why)
    pytest.importorskip("sqlalchemy")
    import sqlalchemy

    server = pgcluster.start()
    try:
        for name in ("crm", "warehouse"):
            server.create_database(name)
        engine = sqlalchemy.create_engine(
            server.url("crm").replace("postgresql://", "postgresql+psycopg://"),
            poolclass=sqlalchemy.pool.NullPool)
        topt.datasets.georgia_to_database("crm", con=engine)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def georgia_run(tmp_path_factory):
    """The Georgia demo scenario, run once for the session."""
    out = tmp_path_factory.mktemp("georgia") / "out"
    return topt.run_scenario(ROOT / "scenarios" / "georgia.yaml", out=out)


# ------------------------------------------------ a real browser (Debian's Chromium)

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"]


def _browser_missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    return None


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium driven by Playwright; skips (with its reason) where either is
    missing, fails instead with ``REQUIRE_BROWSER=1`` (set by ``.ci/run``)."""
    reason = _browser_missing()
    if reason:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        yield b
        b.close()


def georgia_copy(path: Path, *, solver: dict | None = None, contiguity: bool | None = None,
                 **files: Path) -> Path:
    """The Georgia scenario written to ``path`` with absolute input paths,
    ``solver`` options merged in, ``contiguity`` set when given, and any input
    replaced (``accounts=...``)."""
    import yaml

    data = yaml.safe_load((ROOT / "scenarios" / "georgia.yaml").read_text())
    for key in ("accounts", "potential", "reps", "deals"):
        data[key]["path"] = str(files.get(key, (ROOT / "scenarios" / data[key]["path"])
                                          .resolve()))
    data["solver"] |= solver or {}
    if contiguity is not None:
        data["contiguity"] = contiguity
    data.pop("output")
    path.write_text(yaml.safe_dump(data))
    return path


# ------------------------------------------------ random tiny instances and their truth


@st.composite
def instances(draw):
    n = draw(st.integers(4, 8))
    k = draw(st.integers(2, 3))
    # a 4 x 4 grid: dense enough that contiguous plans often exist
    cells = draw(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=n,
                          max_size=n, unique=True))
    bases = draw(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=k,
                          max_size=k, unique=True))
    return {
        "cells": cells, "bases": bases,
        "workload": draw(st.lists(st.integers(1, 9), min_size=n, max_size=n)),
        "fte": draw(st.lists(st.sampled_from([0.5, 1.0]), min_size=k, max_size=k)),
        "tolerance": draw(st.sampled_from([0.1, 0.25, 0.5, 0.9])),
        "locks": draw(st.dictionaries(st.integers(0, n - 1), st.integers(0, k - 1),
                                      max_size=2)),
        "contiguity": draw(st.booleans()),
        "power": draw(st.sampled_from([1, 2])),
    }


@st.composite
def segment_instances(draw):
    """:func:`instances` with a segment per account (a or b), reps serving a, b or
    both, and sometimes a band restricted to a segment or a capacity rule."""
    inst = draw(instances())
    n, k = len(inst["cells"]), len(inst["bases"])
    inst["segment"] = ["a", "b"] + draw(st.lists(st.sampled_from(["a", "b"]),
                                                min_size=n - 2, max_size=n - 2))
    inst["served"] = draw(st.lists(st.sampled_from(["a", "b", "", "a; b"]), min_size=k,
                                   max_size=k))
    inst["locks"] = {i: t for i, t in inst["locks"].items()  # ineligible locks are refused
                     if inst["served"][t] in ("", "a; b") or inst["served"][t] == inst["segment"][i]}
    inst["extra"] = draw(st.sampled_from([{}, {"workload[a]": 0.5},
                                          {"accounts[b]": {"max": 2}},
                                          {"accounts[a]": {"min": 1}}]))
    return inst


@st.composite
def region_instances(draw):
    """:func:`instances` with three reps in two regions (N, S), a region band
    (tolerance or a minimum), sometimes a region lock, region contiguity with
    contiguity, and sometimes a current alignment with a move penalty counted per
    territory or per region."""
    inst = draw(instances())
    n = len(inst["cells"])
    if len(inst["bases"]) < 3:
        inst["bases"].append(next(c for c in [(3, 3), (0, 3), (3, 0), (0, 0), (2, 2)]
                                  if c not in inst["bases"]))
        inst["fte"].append(1.0)
    inst["regions"] = draw(st.sampled_from([["N", "N", "S"], ["N", "S", "S"],
                                            ["S", "N", "N"]]))
    inst["region_balance"] = draw(st.sampled_from([{"workload": 0.05}, {"workload": 0.2},
                                                   {"workload": {"min": 12}},
                                                   {"accounts": 0.3}]))
    inst["region_locks"] = draw(st.dictionaries(st.integers(0, n - 1),
                                                st.sampled_from(["N", "S"]), max_size=1))
    inst["locks"] = {i: t for i, t in inst["locks"].items()  # conflicting locks are refused
                     if inst["region_locks"].get(i, inst["regions"][t]) == inst["regions"][t]}
    if draw(st.booleans()):
        inst["current"] = draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
        inst["move_level"] = draw(st.sampled_from(["territory", "region"]))
    return inst


def build(inst) -> topt.TerritoryProblem:
    cells = inst["cells"]
    accounts = make_accounts([(10.0 * x, 10.0 * y) for x, y in cells], inst["workload"],
                             segment=inst.get("segment"))
    ids = list(accounts["account_id"])
    graph = nx.Graph()
    graph.add_nodes_from(ids)  # king moves on the grid; may be disconnected
    for (a, ca), (b, cb) in itertools.combinations(zip(ids, cells, strict=True), 2):
        if max(abs(ca[0] - cb[0]), abs(ca[1] - cb[1])) == 1:
            graph.add_edge(a, b)
    units = topt.build_units(accounts, method="accounts",
                             segment="segment" if "segment" in inst else None)
    reps = make_reps([(10.0 * x, 10.0 * y) for x, y in inst["bases"]], inst["fte"],
                     segments=inst.get("served"), regions=inst.get("regions"))
    regions = {}
    if "regions" in inst:
        regions = {"region_balance": inst["region_balance"],
                   "region_contiguity": inst["contiguity"],
                   "region_locks": {ids[i]: r for i, r in inst["region_locks"].items()}}
        if "current" in inst:
            regions |= {"current": {a: f"R{t}" for a, t in zip(ids, inst["current"],
                                                               strict=True)},
                        "move_penalty": 5.0, "move_level": inst["move_level"]}
    return topt.TerritoryProblem(
        units, reps=reps, balance={"workload": inst["tolerance"]} | inst.get("extra", {}),
        power=inst["power"],
        locks={ids[i]: f"R{t}" for i, t in inst["locks"].items()},
        contiguity=inst["contiguity"], graph=graph if inst["contiguity"] else None,
        **regions)


def regions_hold(problem: topt.TerritoryProblem, columns: np.ndarray) -> bool:
    """Every region within its bands and, when asked, connected."""
    region = problem.region_of[columns]
    for metric in problem.region_bands:
        sums = np.bincount(region, weights=problem.values(metric),
                           minlength=len(problem.regions))
        if not topt.metrics.bands_held(sums, *problem.region_bounds(metric)).all():
            return False
    return not problem.region_contiguity or all(
        nx.is_connected(problem.adjacency.subgraph(np.flatnonzero(region == r).tolist()))
        for r in set(region.tolist()))


def brute_force(problem: topt.TerritoryProblem) -> float | None:
    """The optimum over every assignment, or None when none is feasible."""
    n, k = problem.n_units, problem.n_territories
    bands = [(problem.values(m), *problem.bounds(m)) for m in problem.bands]
    eligible = problem.eligible
    cost = problem.costs
    locked = problem.locked
    roots = problem.roots
    graph = problem.adjacency if problem.contiguity else None
    best = None
    for plan in itertools.product(range(k), repeat=n):
        columns = np.array(plan)
        if any(columns[i] != t for i, t in locked.items()):
            continue
        if roots is not None and any(columns[r] != t for t, r in enumerate(roots)):
            continue
        if eligible is not None and not eligible[np.arange(n), columns].all():
            continue
        if not all(topt.metrics.bands_held(np.bincount(columns, weights=a, minlength=k),
                                           lower, upper).all() for a, lower, upper in bands):
            continue
        if graph is not None and not all(
                nx.is_connected(graph.subgraph(np.flatnonzero(columns == t).tolist()))
                for t in set(plan)):
            continue
        if problem.regions is not None and not regions_hold(problem, columns):
            continue
        value = float(cost[np.arange(n), columns].sum())
        best = value if best is None else min(best, value)
    return best
