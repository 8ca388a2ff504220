"""The compromise plan (``infeasible="compromise"``, the scenario default): when no
plan holds every band, the connected plan nearest them, checked against brute force
on tiny grids, on the Georgia counties and through the command line.

Its measure is the search's: each territory's distance outside each band as a share
of that metric's average per territory, summed (:class:`territory_opt.plan.Bands`).
"""

from __future__ import annotations

import itertools
import json
import warnings

import networkx as nx
import numpy as np
import pytest
import yaml

import territory_opt as topt
from conftest import ROOT, build, georgia_copy
from territory_opt.checks import band_misses, plan_faults
from territory_opt.cli import main
from territory_opt.plan import Bands


def _least_violation(problem: topt.TerritoryProblem) -> float | None:
    """The least violation over every connected plan that keeps roots and locks
    (None when none exists)."""
    n, k = problem.n_units, problem.n_territories
    bands = Bands(problem)
    best = None
    for plan in itertools.product(range(k), repeat=n):
        labels = np.array(plan)
        if any(labels[i] != t for i, t in problem.locked.items()) or \
                any(labels[r] != t for t, r in enumerate(problem.roots)):
            continue
        if not all(nx.is_connected(problem.adjacency.subgraph(
                np.flatnonzero(labels == t).tolist())) for t in range(k)):
            continue
        value = float(bands.violation(bands.sums(labels)).sum())
        best = value if best is None else min(best, value)
    return best


def _tight(seeds: int) -> list[tuple[topt.TerritoryProblem, float]]:
    """Seeded tiny connected grids with bands so tight that no connected plan holds
    them, and their least violation."""
    out = []
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        n, k = int(rng.integers(5, 8)), int(rng.integers(2, 4))
        cells = rng.permutation(9)[:n]  # a 3 x 3 grid: king moves connect most draws
        inst = {"cells": [(int(c % 3), int(c // 3)) for c in cells],
                "bases": [(int(c % 3), int(c // 3)) for c in rng.permutation(9)[:k]],
                "workload": rng.integers(1, 20, n).tolist(), "fte": [1.0] * k,
                "tolerance": float(rng.choice([0.0, 0.05])),
                "locks": {int(rng.integers(n)): int(rng.integers(k))} if seed % 4 == 0 else {},
                "contiguity": True, "power": 1}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", topt.TerritoryOptWarning)
            try:
                problem = build(inst)
            except topt.InputError:
                continue
            if not nx.is_connected(problem.adjacency):
                continue
            try:
                topt.solve(problem, method="mip")
                continue  # a plan holds the bands: not a case for the compromise
            except (topt.InfeasibleError, topt.SolverError):
                pass
        truth = _least_violation(problem)
        if truth is not None:
            out.append((problem, truth))
    return out


def test_compromise_is_connected_and_nearest_the_bands_on_most_tiny_grids():
    cases = _tight(60)
    assert len(cases) >= 15
    best = widened = 0
    for problem, truth in cases:
        with pytest.raises((topt.InfeasibleError, topt.SolverError)):
            topt.solve(problem)  # refuse: the default of the library
        sol = topt.solve(problem, infeasible="compromise")
        assert sol.status == "relaxed" and sol.bound is None and sol.gap is None
        assert plan_faults(problem, sol.unit_centres(), bands=False) == []
        assert plan_faults(problem, sol.unit_centres())  # misses a band: never "in band"
        assert band_misses(problem, sol.unit_centres())
        bands = Bands(problem)
        violation = float(bands.violation(bands.sums(sol.unit_centres())).sum())
        assert violation == pytest.approx(sol.options["violation"])
        assert violation >= truth - 1e-9  # brute force is the least
        least = sol.options["violation_bound"]
        assert least is not None and least <= truth + 1e-6  # a proven bound
        best += violation <= truth + 1e-9
        if (words := sol.options.get("widened_bands")) is not None:
            # never further than the plan of the widened bands the diagnosis names,
            # solved as a user would solve them
            wide = topt.solve(problem.with_options(balance=_widths(words)), method="mip")
            assert violation <= _violation(problem, wide) + 1e-9
            widened += 1
    assert best >= 0.95 * len(cases), f"least violation on {best} of {len(cases)}"
    assert widened >= 0.5 * len(cases)


def _widths(words: str) -> dict[str, float]:
    """``workload band (+-31% of target)`` as ``{"workload": 0.31}``."""
    return {part.split(" band")[0]: float(part.split("+-")[1].split("%")[0]) / 100
            for part in words.split("), ")}


def _violation(problem: topt.TerritoryProblem, solution: topt.Solution) -> float:
    bands = Bands(problem)
    return float(bands.violation(bands.sums(solution.unit_centres())).sum())


def test_no_compromise_when_a_unit_can_join_no_territory():
    """Two islands, both reps on one: no connected plan exists, whatever the bands."""
    inst = {"cells": [(0, 0), (1, 0), (3, 3), (3, 2)], "bases": [(0, 0), (1, 0)],
            "workload": [1, 1, 1, 1], "fte": [1.0, 1.0], "tolerance": 0.0, "locks": {},
            "contiguity": True, "power": 1}
    problem = build(inst)
    with pytest.raises(topt.InfeasibleError, match="can join no territory"):
        topt.solve(problem, infeasible="compromise")


def test_bad_infeasible_option_is_named():
    problem = build({"cells": [(0, 0), (1, 0)], "bases": [(0, 0)], "workload": [1, 1],
                     "fte": [1.0], "tolerance": 0.1, "locks": {}, "contiguity": False,
                     "power": 1})
    with pytest.raises(topt.InputError, match="infeasible must be 'refuse'"):
        topt.solve(problem, infeasible="soft")


def _counties(tmp_path, **solver):
    """The Georgia counties as units with the potential band at +-5 %: Fulton alone
    exceeds it, so no plan holds every band."""
    path = georgia_copy(tmp_path / "counties.yaml", solver={"time_limit": 20} | solver)
    data = yaml.safe_load(path.read_text())
    data["units"] = {"method": "polygons"}
    data["balance"]["potential"] = 0.05
    path.write_text(yaml.safe_dump(data))
    return path


def test_georgia_counties_give_a_connected_compromise(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(_counties(tmp_path)), "--out", str(out), "--quiet"]) == 5
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "relaxed"
    assert manifest["gap"] is None and manifest["bound"] is None
    assert "13121" in manifest["solver"]["relaxed_because"]  # Fulton, named
    summary = manifest["summary"]
    assert summary["territories_in_pieces"] == 0
    assert any("potential" in line for line in summary["band_misses"])
    assert manifest["seconds"]["solve"] <= 20 * 1.1
    report = (out / "report.html").read_text()
    assert "relaxed" in report and 'class="bad"' in report  # red cells in the table
    assert "<th>Outside the bands</th><td class=bad>" in report
    table = (out / "assignments.csv").read_text()
    assert table.count("\n") == 950  # every account written
    # the workbench opens it with the territories out of band marked, ready to edit
    from territory_opt.workbench.session import open_run

    session = open_run(out)
    assert session.start.status == "relaxed"
    figures = session.figures()
    marked = {r["territory"] for r in figures["territories"]
              if not all(x["held"] for x in r["metrics"].values())}
    named = {line.split("'")[1] for line in summary["band_misses"]}
    assert marked == named and figures["faults"]
    assert all(r["pieces"] == 1 for r in figures["territories"])


def test_refuse_keeps_the_diagnosis_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["run", str(_counties(tmp_path, infeasible="refuse")), "--out", str(out)])
    assert code == 3
    assert "13121" in capsys.readouterr().err
    assert not out.exists()
