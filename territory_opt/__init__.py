"""territory_opt: balanced, compact sales territories with a proven optimality gap.

>>> import territory_opt as topt
>>> accounts, potential, reps = topt.load_georgia()
>>> units = topt.build_units(accounts, potential=potential, method="accounts")
>>> problem = topt.TerritoryProblem(units, reps=reps,
...                                 balance={"workload": 0.05, "potential": 0.25})
>>> solution = topt.solve(problem, gap=1e-3)          # doctest: +SKIP
"""

from importlib.metadata import PackageNotFoundError, version

from territory_opt.checks import check_feasibility
from territory_opt.datasets import georgia_paths, load_georgia
from territory_opt.errors import (
    InfeasibleError,
    InputError,
    SolverError,
    TerritoryOptError,
    TerritoryOptWarning,
)
from territory_opt.graph import adjacency, graph_from_edges
from territory_opt.headcount import size_headcount
from territory_opt.io import (
    capacity_column,
    read_accounts,
    read_alignment,
    read_deals,
    read_distance_matrix,
    read_locks,
    read_potential,
    read_reps,
    write_outputs,
)
from territory_opt.outputs import compare_runs, compare_solutions
from territory_opt.problem import TerritoryProblem
from territory_opt.scenario import (
    Scenario,
    check_scenario,
    load_scenario,
    run_scenario,
    scenario_from_dict,
)
from territory_opt.solution import Solution
from territory_opt.solvers import solve
from territory_opt.sweep import sweep
from territory_opt.units import build_units

try:
    __version__ = version("territory-opt")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0"

__all__ = [
    "InfeasibleError", "InputError", "Scenario", "Solution", "SolverError",
    "TerritoryOptError", "TerritoryOptWarning", "TerritoryProblem", "__version__",
    "adjacency", "build_units", "capacity_column", "check_feasibility", "graph_from_edges",
    "read_alignment", "read_deals", "read_distance_matrix", "georgia_paths", "load_georgia",
    "load_scenario",
    "read_accounts", "read_locks", "read_potential", "read_reps", "run_scenario",
    "scenario_from_dict", "size_headcount", "solve", "write_outputs", "check_scenario",
    "compare_runs", "compare_solutions", "sweep",
]
