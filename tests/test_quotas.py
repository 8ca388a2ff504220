"""Quotas (shares of a company number) and forecasts per territory."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

import territory_opt as topt
from conftest import ROOT, grid_problem
from territory_opt.outputs.quotas import (
    QuotaRule,
    forecast_table,
    largest_remainder,
    quota_tables,
)

LINE = [(float(x), 0.0) for x in range(4)]
T = pd.Timestamp


def _deals(rows) -> pd.DataFrame:
    """Deals ``(account, amount, created, closed or None, won)``."""
    frame = pd.DataFrame(rows, columns=["account_id", "amount", "created", "closed", "won"])
    frame["created"] = pd.to_datetime(frame["created"])
    frame["closed"] = pd.to_datetime(frame["closed"])
    frame["stage"] = np.where(frame["closed"].isna(), "Propose", "Closed")
    return frame


# last year's won revenue: A0 100, A1 300, A2 200, A3 400 (history shares 0.1 ... 0.4)
WON = _deals([(f"A{i}", amount, "2026-01-01", "2026-06-01", True)
              for i, amount in enumerate([100, 300, 200, 400])])


def _plan(current=None):
    p = grid_problem(LINE, [(0, 0), (3, 0)], balance={"workload": 0.0},
                     current=current or {})
    return topt.solve(p)  # A0, A1 with R0; A2, A3 with R1


@pytest.mark.parametrize(("total", "step"), [(1_000_003, 1.0), (25_000_000, 1000.0),
                                             (7.0, 1.0)])
@pytest.mark.parametrize("by", ["potential", "history", "blend"])
def test_quotas_add_up_to_the_company_number_exactly(by, total, step):
    plan = topt.run_scenario(ROOT / "scenarios" / "georgia.yaml", write=False,
                             progress=False).solution if by == "potential" else _plan()
    deals = topt.read_deals(ROOT / "data/georgia/deals.csv") if by == "potential" else WON
    accounts, reps = quota_tables(plan, QuotaRule(total=total, by=by, round_to=step), deals)
    assert accounts["quota"].sum() == total
    assert reps["quota"].iloc[:-1].sum() == total and reps["quota"].iloc[-1] == total
    assert (np.mod(accounts["quota"], step) == 0).all()


def test_history_quotas_follow_the_won_revenue():
    _, reps = quota_tables(_plan(), QuotaRule(total=1000, by="history"), WON)
    assert reps["quota"].iloc[:2].tolist() == [400.0, 600.0]
    assert reps["quota_per_history"].iloc[:2].tolist() == [1.0, 1.0]


def test_largest_remainder_rounds_to_the_total():
    got = largest_remainder(np.array([1.0, 1.0, 1.0]), 100.0)
    assert got.tolist() == [34.0, 33.0, 33.0]
    with pytest.raises(topt.InputError, match="not a multiple of round_to"):
        largest_remainder(np.array([1.0]), 100.5, 1.0)


def test_the_quota_of_a_moved_account_is_pro_rated_by_the_move_date():
    # today A1 and A2 are R1's... A1 moves to R0 (the plan), A2 stays with R1
    current = {"A0": "R0", "A1": "R1", "A2": "R1", "A3": "R1"}
    plan = _plan(current)
    assert plan.moves().set_index("account_id")["moved"].tolist() == [False, True, False,
                                                                       False]
    year = (T("2027-01-01"), T("2028-01-01"))

    def quota(move):
        rule = QuotaRule(total=1000, by="history", move_date=move, year=year)
        return quota_tables(plan, rule, WON)[1]["quota"].iloc[:2].tolist()

    assert quota(None) == [400.0, 600.0]  # no date: the new owner carries it all
    assert quota(T("2027-01-01")) == [400.0, 600.0]
    assert quota(T("2028-01-01")) == [100.0, 900.0]  # moved at the end: the old rep's
    quarter = quota(T("2027-01-01") + (year[1] - year[0]) / 4)
    assert quarter == [325.0, 675.0]  # A1 (300): a quarter with R1, the rest with R0


def test_quota_errors_name_the_fix():
    plan = _plan()
    with pytest.raises(topt.InputError, match="needs the CRM deals"):
        quota_tables(plan, QuotaRule(total=10, by="history"))
    with pytest.raises(topt.InputError, match="needs the current alignment"):
        quota_tables(plan, QuotaRule(total=10, by="history", move_date=T("2027-02-01")), WON)
    with pytest.raises(topt.InputError, match="weight is the share from potential"):
        QuotaRule(total=10, by="blend", weight=1.5)
    with pytest.raises(topt.InputError, match="every account has a share of 0"):
        quota_tables(plan, QuotaRule(total=10, by="potential"))  # no potential layer


def test_out_of_line_reps_are_flagged():
    current = {"A0": "R0", "A1": "R1", "A2": "R1", "A3": "R1"}
    year = (T("2027-01-01"), T("2028-01-01"))
    rule = QuotaRule(total=1000, by="history", move_date=year[0] + (year[1] - year[0]) / 4,
                     year=year, out_of_line=0.1)
    _, reps = quota_tables(_plan(current), rule, WON)
    # R0: quota 325 on history 400 of 1000 (index 0.81); R1: 675 on 600 (1.125)
    assert reps["quota_per_history"].iloc[:2].tolist() == [0.812, 1.125]
    assert reps["out_of_line"].tolist() == ["history", "history", "2 reps"]
    assert reps.attrs["spread"]["quota_per_history_cv"] > 0.1
    loose = quota_tables(_plan(current), QuotaRule(**{**rule.__dict__, "out_of_line": 0.2}),
                         WON)[1]
    assert loose["out_of_line"].tolist() == ["", "", "0 reps"]


def test_forecast_weights_the_open_pipeline_and_backtests_a_year_earlier():
    deals = _deals([
        ("A0", 100, "2025-01-01", "2025-03-01", True),    # closed before the backtest date
        ("A0", 300, "2025-02-01", "2025-04-01", False),   # so the win rate then: 1/2
        ("A1", 200, "2025-09-01", "2026-02-01", True),    # open on 2025-10-31, then won
        ("A2", 400, "2025-10-01", "2026-03-01", False),   # open then, then lost
        ("A3", 1000, "2026-09-01", None, False),          # open now
        ("A0", 500, "2026-10-31", None, False),           # open now; the last date
    ])
    table = forecast_table(_plan(), deals).set_index("territory")
    # win rate now: won 2 of 4 closed deals
    assert table.loc["T01", "pipeline"] == 500 and table.loc["T01", "forecast"] == 250
    assert table.loc["T02", "forecast"] == 500
    # backtest on 2025-10-31: A1 (T01) 200 and A2 (T02) 400 open, weighted by 1/2
    assert table.loc["T01", "backtest_forecast"] == 100
    assert table.loc["T01", "backtest_actual"] == 200
    assert table.loc["T01", "backtest_error_pct"] == -50.0
    assert table.loc["T02", "backtest_actual"] == 0
    given = forecast_table(_plan(), deals, stages={"Propose": 0.2}).set_index("territory")
    assert given.loc["TOTAL", "forecast"] == pytest.approx(300.0)
    with pytest.raises(topt.InputError, match="stage 'Propose' of open deals has no "
                                              "probability"):
        forecast_table(_plan(), deals, stages={"Negotiate": 0.5})


def test_the_realignment_scenario_writes_quotas_and_a_forecast(tmp_path):
    data = yaml.safe_load((ROOT / "scenarios" / "georgia_realign.yaml").read_text())
    for key in ("accounts", "potential", "reps", "alignment", "deals"):
        data[key]["path"] = str((ROOT / "scenarios" / data[key]["path"]).resolve())
    data["output"] = str(tmp_path / "out")
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(data))
    topt.run_scenario(tmp_path / "s.yaml", progress=False)
    out = tmp_path / "out"
    quotas = pd.read_csv(out / "quotas.csv")
    assert quotas["quota"].iloc[:-1].sum() == 25_000_000
    crm = pd.read_csv(out / "crm_assignments.csv")
    assert crm["quota"].sum() == 25_000_000
    with pd.ExcelFile(out / "report.xlsx") as book:
        assert book.sheet_names[-2:] == ["Quotas", "Forecast"]
    page = (out / "report.html").read_text()
    assert "<h2>Quotas</h2>" in page and "<h2>Forecast</h2>" in page
    assert len(pd.read_csv(out / "forecast.csv")) == 13


def test_quota_keys_are_checked():
    base = {"name": "s", "accounts": {"path": "a.csv"}}
    with pytest.raises(topt.InputError, match="quota.total"):
        topt.scenario_from_dict(base | {"quota": {"total": -5}})
    with pytest.raises(topt.InputError, match="quota.by"):
        topt.scenario_from_dict(base | {"quota": {"total": 5, "by": "gut feeling"}})



def test_validate_names_a_quota_that_needs_deals_or_an_alignment(tmp_path):
    data = {"name": "s", "accounts": {"path": str(ROOT / "data/georgia/accounts.csv")},
            "reps": {"path": str(ROOT / "data/georgia/reps.csv")},
            "quota": {"total": 1000, "by": "history", "move_date": "2027-03-01"}}
    check = topt.check_scenario(topt.scenario_from_dict(data))
    assert any("quota: by history needs last year's won revenue: add deals:" in p
               for p in check.problems), check.problems
    with pytest.raises(topt.InputError, match="add deals:"):
        topt.run_scenario(topt.scenario_from_dict(data), write=False, progress=False)
