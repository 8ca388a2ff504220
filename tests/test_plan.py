"""The editable Plan and the band matrices, on tiny grids."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from conftest import grid_problem
from territory_opt.plan import Bands, Plan

LINE = [(float(x), 0.0) for x in range(6)]


def line_problem(**kwargs):
    graph = nx.path_graph([f"A{i}" for i in range(6)])
    return grid_problem(LINE, [(0, 0), (5, 0)], workload=[1, 2, 3, 4, 5, 6], graph=graph,
                        balance={"workload": 0.1, "accounts": {"max": 4}}, **kwargs)


def test_bands_violation_in_shares_of_a_territory():
    p = line_problem()
    bands = Bands(p)
    assert bands.metrics == ["workload", "accounts"]
    # workload targets 10.5 each (+-10 %), accounts at most 4; shares 10.5 and 3
    sums = np.array([[10.5, 10.5], [3.0, 3.0]])
    assert bands.violation(sums).tolist() == [0.0, 0.0]
    sums = np.array([[6.0, 15.0], [2.0, 4.0]])
    expected = [(0.9 * 10.5 - 6) / 10.5, (15 - 1.1 * 10.5) / 10.5]
    assert bands.violation(sums) == pytest.approx(expected)
    # the same, one territory at a time and broadcast over candidates
    assert bands.violation(sums[:, [1]], np.array([1])) == pytest.approx(expected[1:])
    many = np.stack([sums, sums], axis=1)  # (metrics, 2 candidates, territories)
    assert np.allclose(bands.violation(many, np.arange(2)), [expected, expected])


def test_moves_keep_sums_and_members_current():
    p = line_problem()
    plan = Plan(p, np.array([0, 0, 0, 1, 1, 1]))
    assert plan.sums.tolist() == [[6, 15], [3, 3]]
    plan.move(3, 0)
    assert plan.sums.tolist() == [[10, 11], [4, 2]]
    assert plan.members == [{0, 1, 2, 3}, {4, 5}]
    assert plan.sums.tolist() == Bands(p).sums(plan.label).tolist()
    assert plan.violation() == pytest.approx([0.0, 0.0])


def test_pieces_and_which_units_may_leave():
    p = line_problem()
    plan = Plan(p, np.array([0, 1, 0, 0, 1, 1]))  # territory 0 is {0} + {2, 3}
    assert plan.pieces(0) == [{2, 3}, {0}]
    assert plan.pieces(1) == [{4, 5}, {1}]
    assert plan.other_labels(1) == {0}
    connected = Plan(p, np.array([0, 0, 0, 1, 1, 1]))
    assert connected.can_leave(2) and connected.can_leave(0) and not connected.can_leave(1)
    rooted = Plan(p, np.array([0, 0, 0, 1, 1, 1]), roots=np.array([0, 5]), fixed=[2])
    assert not rooted.can_leave(0) and not rooted.can_leave(2)  # a root, a lock
    assert rooted.can_leave(3) and not rooted.can_leave(4)  # 4 would cut 3 off from 5


def test_piece_counts_agree_with_pieces_on_random_plans():
    """The all-at-once count of pieces is the per-territory flood's."""
    rng = np.random.default_rng(0)
    problem = grid_problem([(float(x), float(y)) for x in range(5) for y in range(4)],
                           [(0, 0), (4, 3), (2, 2)])
    for _ in range(30):
        plan = Plan(problem, rng.integers(0, 3, problem.n_units))
        assert plan.piece_counts().tolist() == [len(plan.pieces(t)) for t in range(3)]
