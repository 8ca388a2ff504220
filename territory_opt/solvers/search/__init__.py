"""Territory-design search for connected plans (``method="search"``).

The exact flow model proves contiguous optima on county instances but is slow for
HiGHS at any size; connected plans come from a search instead, and the certificate
from the plain problem (its bound holds for every connected plan):

1. **Start** (:mod:`.start`): the plain problem with every territory's root locked
   in it (the MIP, or the Lagrangian path above a million pairs) gives a plan and
   the certified bound. Pieces cut off from their root join the neighbouring
   territory where they cost least; when the plain solve gives no plan in its share
   of the time, territories grow from their roots instead (cheapest frontier unit
   first).
2. **Incremental state** (:mod:`.state`, compiled :mod:`.kernels`): members, sums,
   articulation points and the edges between territories are updated for the two
   territories a move touches, and each territory's best transfer is recomputed
   only where a move changed something: a move costs as much as the units it
   touches, not as much as the plan.
3. **Descents and tabu** (:mod:`.engine`): the best single move or pair of moves
   (a unit passed through a neighbour, or a swap) over the plan, else an ejection
   chain of up to five transfers found depth-first; band violation weighs far more
   than cost (violation first, then cost). A tabu phase with an adaptive penalty on
   the violation diversifies; the best connected plan within the bands is kept.

Locks and roots never move, a unit joins only territories whose rep serves its
segment (and, with region bands, stays in its region), and the realignment cap is
one more band. Every plan is re-checked (:func:`plan_faults`) by :func:`solve`.
"""

from territory_opt.solvers.search.engine import Search, search
from territory_opt.solvers.search.solve import (
    Searched,
    run_search,
    searched_solution,
    solve_compromise,
    solve_search,
)
from territory_opt.solvers.search.start import grow_plan, plain_start, solve_clock

__all__ = ["Search", "Searched", "grow_plan", "plain_start", "run_search", "search",
           "searched_solution", "solve_clock", "solve_compromise",
           "solve_search"]
