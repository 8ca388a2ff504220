"""Report measures on hand-built cases whose values can be worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely

import territory_opt as topt
from conftest import grid_problem
from territory_opt import metrics
from territory_opt.outputs.tables import deals_table, white_space


def test_gini():
    assert metrics.gini(np.array([3.0, 3.0, 3.0])) == 0.0
    assert metrics.gini(np.array([0.0, 0.0, 0.0, 4.0])) == pytest.approx(0.75)
    assert metrics.gini(np.array([1.0, 3.0])) == pytest.approx(0.25)  # |1-3| / (2 * 2 * 2)
    assert np.isnan(metrics.gini(np.array([0.0, 0.0])))


def test_polsby_popper_and_inertia():
    square, disc = shapely.box(0, 0, 10, 10), shapely.Point(0, 0).buffer(10, 256)
    pp = metrics.polsby_popper(np.array([square.area, disc.area]),
                               np.array([square.length, disc.length]))
    assert pp[0] == pytest.approx(np.pi / 4)
    assert pp[1] == pytest.approx(1.0, abs=1e-4)
    # territory 0: weights 1 and 3 at 2 and 4 km -> (4 + 48) / 4 = 13; territory 1: empty
    got = metrics.inertia(np.array([2.0, 4.0]), np.array([1.0, 3.0]), np.array([0, 0]), 2)
    assert got[0] == pytest.approx(13.0) and np.isnan(got[1])


@pytest.fixture(scope="module")
def two_reps():
    # accounts A0, A1 near R0 (x = 0), A2, A3 near R1 (x = 100 km)
    problem = grid_problem([(0, 0), (1, 0), (100, 0), (101, 0)], [(0, 0), (100, 0)])
    return topt.solve(problem)


def test_deals_per_territory(two_reps):
    deals = pd.DataFrame({
        "account_id": ["A0", "A0", "A1", "A1", "A2", "A3"],
        "amount": [100.0, 300.0, 50.0, 7.0, 1000.0, 20.0],
        "created": pd.to_datetime(["2026-01-01", "2026-01-01", "2026-02-01", "2026-03-01",
                                   "2026-01-01", "2026-01-01"]),
        "closed": pd.to_datetime(["2026-01-11", "2026-01-31", "2026-02-11", None,
                                  None, None]),
        "won": [True, True, False, False, False, False],
        "stage": ["won", "won", "lost", "open", "open", "open"],
    })
    table = deals_table(two_reps, deals).set_index("territory")
    t0, t1 = two_reps.territory_info["territory"]
    assert table.loc[t0, "pipeline"] == 7.0 and table.loc[t1, "pipeline"] == 1020.0
    assert table.loc[t0, "conversion_pct"] == pytest.approx(200 / 3, abs=0.005)
    assert table.loc[t0, "avg_deal_size"] == 200.0
    assert table.loc[t0, "sales_cycle_days"] == 20.0  # (10 + 30) / 2
    assert np.isnan(table.loc[t1, "conversion_pct"])  # nothing closed: no rate invented
    assert table.loc["TOTAL", "open_deals"] == 3 and table.loc["TOTAL", "won_deals"] == 2
    with pytest.warns(topt.TerritoryOptWarning, match="1 of 7 deals"):
        deals_table(two_reps, pd.concat([deals, deals.iloc[[0]].assign(account_id="ZZ")]))
    summary = two_reps.summary(deals=deals)
    assert "pipeline" in summary and "pipeline" not in two_reps.summary()


def test_read_deals_names_the_bad_cell(tmp_path):
    good = ("account_id,amount,stage,created,closed,won\n"
            "A0,100,won,2026-01-01,2026-01-05,yes\nA1,5,open,2026-02-01,,\n")
    path = tmp_path / "deals.csv"
    path.write_text(good)
    deals = topt.read_deals(path)
    assert list(deals["won"]) == [True, False] and deals["closed"].isna().tolist() == [False, True]
    cases = [
        (good.replace("amount", "amout"), "no column 'amount'.*did you mean 'amout'"),
        (good.replace("2026-02-01", "soon"), r"column 'created': row 3 .*not dates"),
        (good.replace(",yes", ",maybe"), r"column 'won': row 2 .*true or false"),
        (good.replace("2026-01-05", "2025-12-31"), "row 2 close .*before they were created"),
        (good.replace("A1,5", "A1,-5"), "column 'amount': row 3 are below 0"),
    ]
    for text, message in cases:
        path.write_text(text)
        with pytest.raises(topt.InputError, match=message):
            topt.read_deals(path)


def test_white_space_ranks_far_and_empty_units(two_reps):
    table = white_space(two_reps, reach_km=0.5)
    # every unit has potential 0 in this grid: nothing to rank
    assert table.empty
    p = two_reps.problem
    units = p.units.assign(potential=[5.0, 1.0, 0.0, 9.0])
    problem = topt.TerritoryProblem(units, reps=p.reps, balance={"workload": 0.0})
    sol = topt.solve(problem)
    table = white_space(sol, reach_km=0.5)
    assert list(table["unit_id"]) == ["A3", "A1"]  # 1 km from its base; A0 and A2 sit on theirs
    assert list(table["potential"]) == [9.0, 1.0]
