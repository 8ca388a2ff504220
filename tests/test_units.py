"""Planning units: polygons, clusters and accounts."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

import territory_opt as topt
from conftest import CRS, X0, Y0, make_accounts


def _squares() -> gpd.GeoDataFrame:
    """Two 10 km squares side by side, potential 100 and 50, plus an empty one."""
    geoms = [box(X0 + dx, Y0, X0 + dx + 10_000, Y0 + 10_000) for dx in (0, 10_000, 20_000)]
    frame = gpd.GeoDataFrame({"zone": ["W", "E", "X"], "pop": [100.0, 50.0, 30.0]},
                             geometry=geoms, crs=CRS)
    return topt.read_potential(frame, value="pop", id="zone")


ACC = [(1, 1), (2, 2), (3, 3), (15, 5), (29, 9)]


def test_polygon_units_join_accounts_and_keep_potential():
    units = topt.build_units(make_accounts(ACC, [1, 2, 3, 4, 5]), potential=_squares())
    by = units.set_index("unit_id")
    assert list(by["accounts"]) == [3, 1, 1]
    assert list(by["workload"]) == [6.0, 4.0, 5.0]
    assert list(by["potential"]) == [100.0, 50.0, 30.0]
    assert by.loc["W", "account_ids"] == ("A0", "A1", "A2")


def test_point_units_share_potential_and_keep_the_total():
    acc = make_accounts([(1, 1), (2, 2), (15, 5)])
    units = topt.build_units(acc, potential=_squares(), method="accounts")
    pot = dict(zip(units["unit_id"], units["potential"], strict=True))
    # W's 100 split over its two accounts; E's 50 to A2; empty X's 30 to its nearest, A2.
    assert pot == pytest.approx({"A0": 50.0, "A1": 50.0, "A2": 80.0})
    assert units["potential"].sum() == pytest.approx(180.0)
    # Voronoi cells tile the study area
    assert units.geometry.area.sum() == pytest.approx(3 * 1e8, rel=1e-6)


def test_clusters_hold_every_account_once():
    rng = np.random.default_rng(0)
    xy = [tuple(p) for p in rng.uniform(0, 30, size=(200, 2))]
    acc = make_accounts(xy, rng.uniform(1, 3, 200))
    units = topt.build_units(acc, method="clusters", n_units=20, sums=[], random_state=3)
    assert len(units) == 20
    members = [a for ids in units["account_ids"] for a in ids]
    assert sorted(members) == sorted(acc["account_id"])
    assert units["workload"].sum() == pytest.approx(acc["workload"].sum())
    again = topt.build_units(acc, method="clusters", n_units=20, random_state=3)
    assert list(again["account_ids"]) == list(units["account_ids"])


def test_large_account_lists_cluster_by_kdtree_lloyd(monkeypatch):
    """Above LLOYD_ABOVE accounts, KD-tree Lloyd iterations: every account once, the
    workload total kept exactly, compact clusters, seeded."""
    from territory_opt import units as units_mod

    monkeypatch.setattr(units_mod, "LLOYD_ABOVE", 100)
    rng = np.random.default_rng(1)
    centres = rng.uniform(0, 30, size=(10, 2))
    xy = [tuple(c + rng.normal(0, 0.3, 2)) for c in centres for _ in range(40)]
    acc = make_accounts(xy, rng.uniform(0.5, 2, len(xy)))
    units = topt.build_units(acc, method="clusters", n_units=10, random_state=2)
    members = [a for ids in units["account_ids"] for a in ids]
    assert sorted(members) == sorted(acc["account_id"])
    assert units["workload"].sum() == pytest.approx(acc["workload"].sum(), rel=1e-12)
    assert units["accounts"].sum() == len(acc)
    assert len(units) >= 8  # the blobs are found (a seed may split one and merge two)
    again = topt.build_units(acc, method="clusters", n_units=10, random_state=2)
    assert list(again["account_ids"]) == list(units["account_ids"])
    assert units.geometry.area.sum() > 0


def test_auto_picks_polygons_then_accounts():
    acc = make_accounts(ACC)
    assert set(topt.build_units(acc, potential=_squares())["unit_id"]) == {"W", "E", "X"}
    assert len(topt.build_units(acc)) == len(ACC)


def test_units_method_errors():
    acc = make_accounts(ACC)
    with pytest.raises(topt.InputError, match="needs a potential layer of polygons"):
        topt.build_units(acc, method="polygons")
    with pytest.raises(topt.InputError, match="no column 'revenue' to sum"):
        topt.build_units(acc, sums=["revenue"])


def test_accounts_outside_polygons_join_the_nearest_with_a_warning():
    acc = make_accounts([(1, 1), (-5, 5)])
    with pytest.warns(topt.TerritoryOptWarning, match="1 account lies outside"):
        units = topt.build_units(acc, potential=_squares())
    assert units.set_index("unit_id").loc["W", "accounts"] == 2


def test_crs_chosen_is_metric_utm():
    acc = topt.read_accounts(pd.DataFrame({"account_id": ["a", "b"], "workload": [1, 1],
                                           "lat": [33.7, 34.0], "lon": [-84.4, -83.0]}))
    units = topt.build_units(acc)
    assert units.crs.to_epsg() == 32617
