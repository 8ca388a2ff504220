"""The planner's workbench: edit a plan by hand with live balance figures, rebalance
around the edits, save as a new run (``territory-opt edit RUN_DIR``,
``Solution.edit()``).

The web stack (Starlette, uvicorn) is imported only when the app starts.
"""

from territory_opt.workbench.session import EditSession, Proposal, RunContext, open_run

__all__ = ["EditSession", "Proposal", "RunContext", "open_run"]
