"""Scenario files: their schema (:mod:`.schema`) and running them (:mod:`.run`)."""

from territory_opt.scenario.run import (
    RunResult,
    ScenarioCheck,
    build_problem,
    check_scenario,
    input_readers,
    load_inputs,
    run_scenario,
    scenario_units,
)
from territory_opt.scenario.schema import Scenario, load_scenario, scenario_from_dict

__all__ = ["RunResult", "Scenario", "ScenarioCheck", "build_problem", "check_scenario",
           "input_readers", "load_inputs", "load_scenario", "run_scenario",
           "scenario_from_dict", "scenario_units"]
