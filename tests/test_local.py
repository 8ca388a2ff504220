"""Local search on a Plan (solvers/local.py), on grids whose answer shows by eye."""

from __future__ import annotations

import networkx as nx
import numpy as np

from conftest import grid_problem
from territory_opt.checks import plan_faults
from territory_opt.solvers.local import make_contiguous

# a 2 x 2 block: A0 (0,0)  A1 (1,0) / A2 (0,1)  A3 (1,1); rook neighbours
BLOCK = [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)]


def block_problem():
    graph = nx.Graph([("A0", "A1"), ("A0", "A2"), ("A1", "A3"), ("A2", "A3")])
    # R0 lives left of the block, R1 right of it; two accounts each, exactly
    return grid_problem(BLOCK, [(-1.0, 0.4), (2.0, 0.6)], graph=graph, contiguity=True,
                        balance={"accounts": 0.0})


def test_a_swap_fixes_what_no_single_move_can():
    p = block_problem()
    assert p.roots.tolist() == [0, 3]  # each rep's nearest unit
    rows = np.array([0, 0, 1, 1])  # top row and bottom row: each connected, in band
    start = p.objective_of(rows)
    labels, counts = make_contiguous(p, rows.copy(), p.costs, p.roots)
    assert labels.tolist() == [0, 1, 0, 1]  # left and right columns
    assert counts["improve"] == 0 and counts["swaps"] == 1
    assert p.objective_of(labels) < start
    assert plan_faults(p, labels) == []


def test_a_swap_restores_a_band_no_move_or_chain_can():
    # workloads 2, 3 / 2, 1: the top row carries 5 and the bottom row 3 of a target 4
    # each; moving A1 or A2 alone makes it worse, trading A1 (3) for A2 (2) balances
    graph = nx.Graph([("A0", "A1"), ("A0", "A2"), ("A1", "A3"), ("A2", "A3")])
    p = grid_problem(BLOCK, [(-1.0, 0.4), (2.0, 0.6)], workload=[2, 3, 2, 1], graph=graph,
                     contiguity=True, balance={"workload": 0.0})
    labels, counts = make_contiguous(p, np.array([0, 0, 1, 1]), p.costs, p.roots)
    assert labels.tolist() == [0, 1, 0, 1] and counts["balance"] == 2
    assert plan_faults(p, labels) == []
