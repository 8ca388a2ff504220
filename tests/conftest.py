"""Shared helpers: tiny hand-built instances whose answers can be seen by eye."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

import territory_opt as topt

ROOT = Path(__file__).resolve().parent.parent
CRS = "EPSG:32617"  # metres; the grids sit near (500 km E, 3700 km N) of UTM 17N
X0, Y0 = 500_000.0, 3_700_000.0


def make_accounts(xy_km: Sequence[tuple[float, float]], workload: Sequence[float] | None = None,
                  ids: Sequence[str] | None = None) -> gpd.GeoDataFrame:
    """Accounts at ``xy_km`` (km offsets), ids A0, A1, ... unless given."""
    n = len(xy_km)
    frame = pd.DataFrame({
        "account_id": list(ids) if ids is not None else [f"A{i}" for i in range(n)],
        "workload": list(workload) if workload is not None else [1.0] * n,
    })
    geometry = gpd.points_from_xy([X0 + 1000 * x for x, _ in xy_km],
                                  [Y0 + 1000 * y for _, y in xy_km])
    return topt.read_accounts(gpd.GeoDataFrame(frame, geometry=geometry, crs=CRS))


def make_reps(xy_km: Sequence[tuple[float, float]],
              fte: Sequence[float] | None = None) -> gpd.GeoDataFrame:
    """Reps R0, R1, ... with home bases at ``xy_km`` (km offsets)."""
    n = len(xy_km)
    frame = pd.DataFrame({"rep_id": [f"R{i}" for i in range(n)],
                          "fte": list(fte) if fte is not None else [1.0] * n})
    geometry = gpd.points_from_xy([X0 + 1000 * x for x, _ in xy_km],
                                  [Y0 + 1000 * y for _, y in xy_km])
    return topt.read_reps(gpd.GeoDataFrame(frame, geometry=geometry, crs=CRS))


def grid_problem(acc_xy, rep_xy, *, workload=None, fte=None, balance=None,
                 **kwargs) -> topt.TerritoryProblem:
    units = topt.build_units(make_accounts(acc_xy, workload), method="accounts", crs=CRS)
    return topt.TerritoryProblem(units, reps=make_reps(rep_xy, fte),
                                 balance=balance if balance is not None else {"workload": 0.0},
                                 **kwargs)


def owners(solution: topt.Solution) -> dict[str, str]:
    """Account id to rep id."""
    table = solution.assignments()
    return dict(zip(table["account_id"], table["rep_id"], strict=True))


@pytest.fixture(scope="session")
def georgia_run(tmp_path_factory):
    """The Georgia demo scenario, run once for the session."""
    out = tmp_path_factory.mktemp("georgia") / "out"
    return topt.run_scenario(ROOT / "scenarios" / "georgia.yaml", out=out)


def georgia_copy(path: Path, *, solver: dict | None = None, **files: Path) -> Path:
    """The Georgia scenario written to ``path`` with absolute input paths,
    ``solver`` options merged in, and any input replaced (``accounts=...``)."""
    import yaml

    data = yaml.safe_load((ROOT / "scenarios" / "georgia.yaml").read_text())
    for key in ("accounts", "potential", "reps", "deals"):
        data[key]["path"] = str(files.get(key, (ROOT / "scenarios" / data[key]["path"])
                                          .resolve()))
    data["solver"] |= solver or {}
    data.pop("output")
    path.write_text(yaml.safe_dump(data))
    return path
