"""Small published instances with published optima, through the benchmark scripts.

Needs ``../shared/benchmarks`` (present in CI); skipped with the reason elsewhere.
The full tables come from ``benchmarks/districting.py`` and
``benchmarks/capacitated_pmedian.py``.
"""

from __future__ import annotations

import importlib.util
import sys

import pytest

from conftest import ROOT

SHARED = ROOT.parent / "shared" / "benchmarks"
pytestmark = pytest.mark.skipif(not SHARED.is_dir(),
                                reason=f"published instances not found at {SHARED}")


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("state", "variant", "published"), [
    ("ME", "plain", 10789.07),        # Validi, Buchanan & Lykhovyd (2022), Hess
    ("NH", "plain", 3641.24),
    ("NM", "plain", 32847.05),
    ("AZ", "plain", "infeasible"),    # a county above the upper band
    ("NH", "contiguous", "infeasible"),
    ("CO", "contiguous", "infeasible"),
])
def test_districting_published_optima(tmp_path, state, variant, published):
    bench = _script("districting")
    row = bench.solve_instance(SHARED / "districting_counties" / f"{state}_county.json",
                               variant, tmp_path, time_limit=300)
    if published == "infeasible":
        assert row["objective"] == "infeasible"
        reason = (tmp_path / f"{state}_{variant}.infeasible").read_text()
        assert "band" in reason
    else:
        assert row["status"] == "optimal"
        assert row["objective"] == pytest.approx(published, rel=1e-4)
        table = (tmp_path / f"{state}_{variant}.csv").read_text().splitlines()
        assert table[0] == "unit_id,territory,centre"


@pytest.mark.parametrize(("name", "optimum"), [("pmedcap1_01", 713), ("pmedcap1_02", 740)])
def test_capacitated_pmedian_optima(name, optimum):
    bench = _script("capacitated_pmedian")
    instance = bench.read_pmedcap(SHARED / "capacitated_pmedian" / f"{name}.txt")
    assert instance["optimum"] == optimum
    solution, _ = bench.solve(instance, time_limit=300)
    assert solution.status == "optimal" and round(solution.objective) == optimum
    demand = solution.sums("workload")
    assert (demand <= instance["capacity"] + 1e-9).all()


def test_symmetry_broken_feasibility_model_decides_contiguity(tmp_path):
    """The feasibility model (no objective, each partition once) finds a connected
    plan exactly when the full contiguous model has one."""
    import json

    import numpy as np

    from territory_opt.checks import is_connected_plan
    from territory_opt.solvers.mip import build_model
    from territory_opt.scenario import build_problem, load_inputs, load_scenario
    from territory_opt.solvers.mip import connected_plan, make_solver

    bench = _script("districting")
    for state, exists in (("NH", False), ("ME", True)):
        data = json.loads((SHARED / "districting_counties" / f"{state}_county.json")
                          .read_text())
        folder = tmp_path / state
        folder.mkdir()
        scenario = load_scenario(bench.write_instance(data, folder, "contiguous", 60))
        problem = build_problem(scenario, load_inputs(scenario))
        engine = make_solver("HiGHS", time_limit=60, gap=0, threads=None, random_state=0,
                             msg=False)
        plan = connected_plan(problem, engine, "HiGHS")
        if exists:
            assert isinstance(plan, np.ndarray) and is_connected_plan(problem, plan)
            lp, x = build_model(problem, feasibility=True)
            assert len(x) < len(build_model(problem)[1])  # symmetry removed
        else:
            assert plan == "infeasible"
