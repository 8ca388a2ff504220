"""Model-chosen centres, absolute bands, distance matrices, adjacency and contiguity."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

import territory_opt as topt
from conftest import CRS, X0, Y0, grid_problem, make_accounts, make_reps, owners

LINE = [(float(x), 0.0) for x in range(6)]


def _units(xy, workload=None):
    return topt.build_units(make_accounts(xy, workload), method="accounts", crs=CRS)


def test_model_chooses_the_middle_of_each_cluster():
    xy = [(0, 0), (1, 0), (2, 0), (10, 0), (11, 0), (12, 0)]
    p = topt.TerritoryProblem(_units(xy), k=2, centres="model",
                              balance={"workload": {"min": 3, "max": 3}})
    sol = topt.solve(p)
    assert sorted(sol.territory_info["centre"]) == ["A1", "A4"]
    assert sol.objective == pytest.approx(4.0)
    assert sol.status == "optimal"
    got = owners(sol)
    assert got == {a: "" for a in got}  # no reps: rep ids are blank
    labels = dict(zip(sol.assignments()["account_id"], sol.assignments()["territory"],
                      strict=True))
    assert labels["A0"] == labels["A2"] != labels["A3"] == labels["A5"]


def test_model_centres_and_moment_of_inertia():
    # power 2: the centre of {0, 1, 2, 6} (weights 1) is unit 2 (1+4+16... vs others)
    xy = [(0, 0), (1, 0), (2, 0), (6, 0)]
    p = topt.TerritoryProblem(_units(xy), k=1, centres="model", power=2, balance={})
    sol = topt.solve(p)
    assert list(sol.territory_info["centre"]) == ["A2"]
    assert sol.objective == pytest.approx(4 + 1 + 0 + 16)


def test_absolute_band_with_fixed_centres():
    # at most 2 accounts per rep for R0 and R1, so the third rep in the middle takes 2
    p = grid_problem(LINE, [(0, 0), (5, 0), (2.5, 0)],
                     balance={"accounts": {"max": 2}})
    sol = topt.solve(p)
    assert sorted(sol.sums("accounts")) == [2, 2, 2]
    assert owners(sol)["A2"] == owners(sol)["A3"] == "R2"


def test_band_spec_errors():
    with pytest.raises(topt.InputError, match="min 5 is above max 2"):
        grid_problem(LINE, [(0, 0), (5, 0)], balance={"workload": {"min": 5, "max": 2}})
    with pytest.raises(topt.InputError, match="unknown keys"):
        grid_problem(LINE, [(0, 0), (5, 0)], balance={"workload": {"maximum": 5}})
    with pytest.raises(topt.InputError, match="needs k"):
        topt.TerritoryProblem(_units(LINE), centres="model")
    with pytest.raises(topt.InputError, match="fixed centres need reps"):
        topt.TerritoryProblem(_units(LINE))


def test_absolute_band_heavier_unit_is_named():
    p = topt.TerritoryProblem(_units(LINE, [1, 1, 9, 1, 1, 1]), k=2, centres="model",
                              balance={"workload": {"min": 6, "max": 8}})
    with pytest.raises(topt.InfeasibleError,
                       match=r"unit 'A2' has workload 9\.0.*band \[6\.0, 8\.0\]"):
        topt.solve(p)


# ------------------------------------------------------------------ distance matrices

# Costs to R0 and R1: A1 is cheap for R1, A2 and A3 for R0 (say, a bridge and a ferry).
COSTS = pd.DataFrame({"R0": [0, 5, 1, 2, 3, 4], "R1": [5, 1, 4, 3, 2, 0]},
                     index=[f"A{i}" for i in range(6)])


def test_distance_matrix_replaces_geometry():
    sol = topt.solve(grid_problem(LINE, [(0, 0), (5, 0)], distance=COSTS))
    assert owners(sol) == {"A0": "R0", "A1": "R1", "A2": "R0", "A3": "R0",
                           "A4": "R1", "A5": "R1"}
    assert sol.objective == pytest.approx(6)
    assert list(sol.unit_distances()) == [0, 1, 1, 2, 2, 0]


def test_read_distance_matrix_long_and_dense(tmp_path):
    long = COSTS.stack().rename("minutes").reset_index()
    long.columns = ["from", "to", "minutes"]
    long.to_csv(tmp_path / "long.csv", index=False)
    read = topt.read_distance_matrix(tmp_path / "long.csv", origin="from", destination="to",
                                     cost="minutes")
    pd.testing.assert_frame_equal(read.loc[COSTS.index, COSTS.columns].astype(float),
                                  COSTS.astype(float), check_names=False)
    COSTS.rename_axis("unit").to_csv(tmp_path / "dense.csv")
    dense = topt.read_distance_matrix(tmp_path / "dense.csv")
    assert dense.loc["A1", "R1"] == 1.0


def test_distance_matrix_errors(tmp_path):
    with pytest.raises(topt.InputError, match=r"lacks rep 'R1' as a destination"):
        grid_problem(LINE, [(0, 0), (5, 0)], distance=COSTS[["R0"]])
    holey = COSTS.astype(float).copy()
    holey.loc["A3", "R1"] = float("nan")
    with pytest.raises(topt.InputError, match=r"no cost from 'A3' to 'R1'"):
        grid_problem(LINE, [(0, 0), (5, 0)], distance=holey)
    negative = COSTS.copy()
    negative.loc["A2", "R0"] = -1
    with pytest.raises(topt.InputError, match=r"negative cost from 'A2' to 'R0'"):
        grid_problem(LINE, [(0, 0), (5, 0)], distance=negative)
    pd.DataFrame({"origin": ["A0"], "destination": ["R0"], "cost": [-2]}).to_csv(
        tmp_path / "neg.csv", index=False)
    with pytest.raises(topt.InputError, match=r"neg\.csv', column 'cost': row 2 are below 0"):
        topt.read_distance_matrix(tmp_path / "neg.csv")


# ------------------------------------------------------------------ adjacency, contiguity


def _squares(cells):
    geoms = [box(X0 + 1000 * x, Y0 + 1000 * y, X0 + 1000 * (x + 1), Y0 + 1000 * (y + 1))
             for x, y in cells]
    units = gpd.GeoDataFrame({"unit_id": [f"S{i}" for i in range(len(cells))]},
                             geometry=geoms, crs=CRS)
    c = units.geometry.centroid
    return units.assign(x=c.x, y=c.y)


def test_rook_and_queen_adjacency():
    squares = _squares([(0, 0), (1, 0), (0, 1), (1, 1)])
    assert topt.adjacency(squares, kind="rook").number_of_edges() == 4
    assert topt.adjacency(squares, kind="queen").number_of_edges() == 6


def test_islands_are_bridged_with_a_warning():
    squares = _squares([(0, 0), (1, 0), (5, 5)])
    with pytest.warns(topt.TerritoryOptWarning, match="2 separate pieces; bridged"):
        graph = topt.adjacency(squares)
    assert graph.has_edge("S2", "S1")


def test_point_units_get_delaunay_neighbours():
    graph = topt.adjacency(_units([(0, 0), (1, 0), (0, 1), (1, 1), (5, 5)]))
    assert graph.number_of_nodes() == 5
    # the unit square's four sides are Delaunay edges; the far point joins the hull
    for a, b in [("A0", "A1"), ("A0", "A2"), ("A1", "A3"), ("A2", "A3")]:
        assert graph.has_edge(a, b), (a, b)
    assert {"A1", "A2", "A3"} & set(graph["A4"])


def _line_graph():
    return topt.graph_from_edges([f"A{i}" for i in range(6)],
                                 [(f"A{i}", f"A{i + 1}") for i in range(5)])


def test_contiguity_gives_up_the_cheaper_dis_connected_plan():
    # Plain optimum (cost 6) splits the line as {A0, A2, A3} / {A1, A4, A5}; on the line
    # graph the only connected split with 3 units each is {A0..A2} / {A3..A5}: cost 11.
    for method in ("flow", "cuts"):
        p = grid_problem(LINE, [(0, 0), (5, 0)], distance=COSTS, contiguity=True,
                         graph=_line_graph(), contiguity_method=method)
        for reduce in (True, False):
            sol = topt.solve(p, reduce=reduce)
            assert owners(sol) == {"A0": "R0", "A1": "R0", "A2": "R0", "A3": "R1",
                                   "A4": "R1", "A5": "R1"}
            assert sol.objective == pytest.approx(11)
            assert sol.status == "optimal"


def test_cut_rounds_reconnect_a_plan_without_bands():
    # No band: the plain optimum {A0, A2, A3} / {A1, A4, A5} is disconnected; connected
    # splits {A0..Am} / {Am+1..A5} cost 10 at best (m = 0 or 3). Cuts need rounds here.
    from territory_opt.checks import is_connected_plan
    for method in ("cuts", "flow"):
        p = grid_problem(LINE, [(0, 0), (5, 0)], distance=COSTS, contiguity=True,
                         graph=_line_graph(), balance={}, contiguity_method=method)
        sol = topt.solve(p, method="mip")  # the exact path and its rounds
        assert sol.objective == pytest.approx(10)
        assert is_connected_plan(p, sol.unit_centres())
        assert (sol.options["contiguity_rounds"] >= 1) == (method == "cuts")


def test_contiguity_with_model_centres():
    xy = [(0, 0), (1, 0), (2, 0), (3, 0), (4, 0), (5, 0)]
    dist = pd.DataFrame([[abs(i - j) for j in range(6)] for i in range(6)],
                        index=[f"A{i}" for i in range(6)], columns=[f"A{i}" for i in range(6)])
    dist.loc["A0", "A5"] = dist.loc["A5", "A0"] = 0  # a shortcut the graph does not have
    p = topt.TerritoryProblem(_units(xy), k=2, centres="model", distance=dist,
                              balance={"workload": {"min": 3, "max": 3}},
                              contiguity=True, graph=_line_graph())
    sol = topt.solve(p)
    labels = sol.territory_labels()
    assert labels[0] == labels[1] == labels[2] != labels[3] == labels[4] == labels[5]


def test_contiguity_impossible_on_a_split_graph_is_explained():
    graph = topt.graph_from_edges([f"A{i}" for i in range(6)], [("A0", "A1"), ("A2", "A3")])
    p = grid_problem(LINE, [(0, 0), (5, 0)], contiguity=True, graph=graph)
    with pytest.raises(topt.InfeasibleError, match="4 separate pieces .* only 2 territories"):
        topt.solve(p)


@pytest.mark.parametrize("method", ["flow", "cuts"])
def test_contiguity_proven_infeasible(method):
    # A star: A0 in the middle; two connected territories of 3 cannot both avoid A0.
    graph = topt.graph_from_edges([f"A{i}" for i in range(6)],
                                  [("A0", f"A{i}") for i in range(1, 6)])
    p = topt.TerritoryProblem(_units(LINE), k=2, centres="model",
                              balance={"workload": {"min": 3, "max": 3}},
                              contiguity=True, graph=graph, contiguity_method=method)
    with pytest.raises(topt.InfeasibleError, match="every territory connected") as err:
        topt.solve(p)
    # widening the bands lets one territory take A0 and four leaves: the diagnosis says so
    assert "above its maximum 3.0" in str(err.value)


def test_reachability_prunes_units_a_band_cannot_connect():
    # On the line, a territory rooted at A0 with at most 3 workload reaches A0..A2 only.
    from territory_opt.checks import reachable_units
    p = topt.TerritoryProblem(_units(LINE), k=2, centres="model",
                              balance={"workload": {"max": 3}}, contiguity=True,
                              graph=_line_graph())
    reach = reachable_units(p)
    assert reach[0] == {0, 1, 2} and reach[3] == {1, 2, 3, 4, 5}


def test_fixed_centre_contiguity_on_polygons():
    cells = [(x, y) for y in range(3) for x in range(4)]
    units = _squares(cells).assign(workload=1.0, accounts=1, potential=0.0,
                                   account_ids=[(f"S{i}",) for i in range(12)])
    reps = make_reps([(0.5, 0.5), (3.5, 2.5)])
    p = topt.TerritoryProblem(units, reps=reps, balance={"workload": 0.0}, contiguity=True)
    sol = topt.solve(p)
    assert sorted(sol.sums("workload")) == [6, 6]
    from territory_opt.checks import is_connected_plan
    assert is_connected_plan(p, sol.unit_centres())


def test_a_unit_no_connected_territory_can_reach_is_named():
    # A1 (workload 5) lies between the two roots; with it, either territory carries 6,
    # above the band's 5.25: contiguity leaves A1 nowhere to go
    import networkx as nx

    p = grid_problem([(0, 0), (1, 0), (2, 0)], [(0, 0), (2, 0)], workload=[1, 5, 1],
                     balance={"workload": 0.5}, contiguity=True,
                     graph=nx.path_graph(["A0", "A1", "A2"]))
    with pytest.raises(topt.InfeasibleError, match=r"contiguity: unit 'A1' can join no "
                                                   r"territory: every path .*drop contiguity"):
        topt.solve(p)
