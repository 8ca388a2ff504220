"""What a run hands on: tables, the HTML report, maps, comparisons and the files.

folium and matplotlib are imported only when a map or chart is drawn, so that
``import territory_opt`` stays light (as ``GeoDataFrame.explore`` does).
"""

from territory_opt.outputs.compare import change_map, compare_runs, compare_solutions
from territory_opt.outputs.files import build_output_files
from territory_opt.outputs.tables import (
    coverage_table,
    deals_table,
    scenario_summary,
    summary_table,
    white_space,
)

__all__ = ["build_output_files", "change_map", "compare_runs", "compare_solutions",
           "coverage_table", "deals_table", "scenario_summary", "summary_table",
           "white_space"]
