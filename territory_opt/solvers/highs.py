"""The one HiGHS adapter: a quiet model, run interruptibly, its outcome mapped.

Every solver stage talks to HiGHS through this module, whether the model was
built by PuLP (:mod:`territory_opt.solvers.mip` hands over ``lp.solverModel``)
or assembled column by column with numpy (:mod:`territory_opt.solvers.lagrange`).
The outcome of a run is one of :data:`STATUSES`; the MIP's proven bound comes
with it.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Sequence

import highspy
import numpy as np

__all__ = ["INF", "STATUSES", "add_columns", "add_rows", "new_model", "outcome", "run",
           "run_interruptible", "set_start", "silenced_stdout", "solution"]

INF = highspy.kHighsInf
# optimal: proven (within the gap); feasible: a plan, not proven; infeasible: proven to
# have none; no_solution: stopped (time limit, interrupt) before finding any plan
STATUSES = ("optimal", "feasible", "infeasible", "no_solution")


@contextlib.contextmanager
def silenced_stdout() -> Iterator[None]:
    """Send what C/C++ code writes to file descriptor 1 to /dev/null (HiGHS prints
    a banner from C++ when its first model is created)."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # no real stdout (e.g. captured)
        yield
        return
    sys.stdout.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


def new_model(*, threads: int | None, seed: int, msg: bool) -> highspy.Highs:
    """An empty HiGHS model with our options, created without its banner."""
    with silenced_stdout():
        h = highspy.Highs()
    h.setOptionValue("output_flag", bool(msg))
    h.setOptionValue("random_seed", int(seed))
    if threads is not None:
        h.setOptionValue("threads", int(threads))
    return h


def run_interruptible(h: highspy.Highs) -> None:
    """Run HiGHS in its own thread so that Ctrl-C (or SIGTERM, turned into
    KeyboardInterrupt by the CLI) stops it within a fraction of a second:
    the solver is asked to stop, is waited for, and the interrupt goes on up,
    so that nothing is written from a half-finished solve."""
    h.HandleUserInterrupt = True
    thread = h.startSolve()
    try:
        while not h.wait(0.1)[0]:
            pass
    except KeyboardInterrupt:
        h.cancelSolve()
        thread.join()
        raise
    finally:
        h.HandleUserInterrupt = False


def outcome(h: highspy.Highs) -> tuple[str, float | None]:
    """The status of the last run (one of :data:`STATUSES`) and the MIP's proven
    lower bound (None when HiGHS has no finite one)."""
    st = h.getModelStatus()
    info = h.getInfo()
    if st in (highspy.HighsModelStatus.kInfeasible,
              highspy.HighsModelStatus.kUnboundedOrInfeasible):
        return "infeasible", None
    if info.primal_solution_status != 2:  # kSolutionStatusFeasible
        return "no_solution", None
    bound = float(info.mip_dual_bound)
    bound = bound if np.isfinite(bound) else None
    return ("optimal" if st == highspy.HighsModelStatus.kOptimal else "feasible"), bound


def run(h: highspy.Highs, time_limit: float | None = None) -> str:
    """Run ``h`` (at least half a second when limited) and return its status."""
    if time_limit is not None:
        h.setOptionValue("time_limit", float(max(time_limit, 0.5)))
    run_interruptible(h)
    return outcome(h)[0]


def set_start(h: highspy.Highs, values: Sequence[float]) -> None:
    """Hand HiGHS a starting solution (one value per column)."""
    sol = highspy.HighsSolution()
    sol.col_value = list(values)
    sol.value_valid = True
    h.setSolution(sol)


def solution(h: highspy.Highs) -> tuple[np.ndarray, np.ndarray]:
    """Column values and row duals of the last run."""
    sol = h.getSolution()
    return np.asarray(sol.col_value), np.asarray(sol.row_dual)


def add_rows(h: highspy.Highs, lower: np.ndarray, upper: np.ndarray) -> None:
    """Empty rows with these bounds (``-INF`` / ``INF`` where open)."""
    h.addRows(len(lower), lower, upper, 0, np.zeros(len(lower), dtype=np.int32),
              np.zeros(0, dtype=np.int32), np.zeros(0))


def add_columns(h: highspy.Highs, cost: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                rows: np.ndarray, values: np.ndarray, *, integer: bool = False) -> None:
    """Columns that each have ``rows.shape[1]`` entries: column j has ``values[j]``
    in rows ``rows[j]``."""
    n = len(cost)
    starts = (np.arange(n) * rows.shape[1]).astype(np.int32)
    h.addCols(n, cost, lower, upper, rows.size, starts, rows.ravel().astype(np.int32),
              values.ravel())
    if integer:
        h.changeColsIntegrality(n, np.arange(n, dtype=np.int32),
                                np.full(n, highspy.HighsVarType.kInteger))

