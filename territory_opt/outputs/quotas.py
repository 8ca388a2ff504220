"""Quotas and forecasts per territory, from the plan and the CRM deals.

**Quotas.** A company number is shared among the accounts, by their share of
the potential, of last year's won revenue (``history``), or a blend; each rep's
quota is the sum over the accounts of the plan. With a current alignment and
the date the new territories start (``move_date``), an account that changes
rep carries its quota to the old rep for the part of the quota year before that
date and to the new rep for the rest. Quotas are whole multiples of
``round_to`` (largest remainder), so that they add up to the company number
exactly, per rep and per account. Fairness: each rep's quota per unit of
potential and per unit of history, as an index (1 = the company's ratio), their
spread (coefficient of variation, Gini), and the reps out of line.

**Forecast.** The open pipeline weighted by stage probabilities (given, or the
win rate of the closed deals for every stage), per territory; and how well that
method did a year earlier: the deals open on ``as_of`` minus one year, weighted
by the win rate known then, against what of them was won by ``as_of``. (A
deals export holds each deal's stage today, not a year ago: the backtest can
only use the win rate.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from territory_opt import metrics
from territory_opt.errors import InputError
from territory_opt.solution import Solution

__all__ = ["QuotaRule", "forecast_table", "largest_remainder", "quota_tables"]

QuotaBasis = Literal["potential", "history", "blend"]


@dataclass(frozen=True)
class QuotaRule:
    """How a company number becomes quotas (see the module docstring)."""

    total: float
    by: QuotaBasis = "potential"
    weight: float = 0.5  # blend: the share taken by potential
    round_to: float = 1.0
    move_date: pd.Timestamp | None = None  # the day the new territories start
    year: tuple[pd.Timestamp, pd.Timestamp] | None = None  # the quota year (start, end)
    as_of: pd.Timestamp | None = None  # history: the 12 months before this day
    out_of_line: float = 0.2  # a rep whose index is off 1 by more is flagged

    def __post_init__(self) -> None:
        if not np.isfinite(self.total) or self.total <= 0:
            raise InputError(f"quota: total must be a positive amount, got {self.total!r}")
        if self.by not in ("potential", "history", "blend"):
            raise InputError(f"quota: by must be 'potential', 'history' or 'blend', got "
                             f"{self.by!r}")
        if not 0 <= self.weight <= 1:
            raise InputError(f"quota: weight is the share from potential, between 0 and 1; "
                             f"got {self.weight!r}")
        if self.round_to <= 0:
            raise InputError(f"quota: round_to must be above 0, got {self.round_to!r}")
        if self.year is not None and not self.year[0] < self.year[1]:
            raise InputError(f"quota: the year must start before it ends, got {self.year}")


def largest_remainder(values: np.ndarray, total: float, step: float = 1.0) -> np.ndarray:
    """``values`` scaled to ``total`` and rounded to multiples of ``step`` so that they
    add up to ``total`` exactly (in steps; ``total`` must be a multiple of ``step``)."""
    values = np.asarray(values, dtype=float)
    units = round(total / step)
    if abs(units * step - total) > 1e-9 * max(abs(total), 1.0):
        raise InputError(f"quota: total {total:,} is not a multiple of round_to {step:g}; "
                         "change one of them")
    if values.sum() <= 0:
        raise InputError("quota: every account has a share of 0 (no potential and no won "
                         "revenue); use another basis")
    exact = values / values.sum() * units
    whole = np.floor(exact).astype(np.int64)
    short = int(units - whole.sum())
    order = np.argsort(-(exact - whole), kind="stable")
    whole[order[:short]] += 1
    return whole * step


def _account_potential(solution: Solution) -> pd.Series:
    """Each account's potential: its unit's, shared by workload (equally without)."""
    units = solution.problem.units
    rows = []
    for ids, works, pot in zip(units["account_ids"], units["account_workloads"],
                               units["potential"], strict=True):
        w = np.asarray(works, dtype=float)
        share = w / w.sum() if w.sum() > 0 else np.full(len(w), 1.0 / max(len(w), 1))
        rows += list(zip(ids, pot * share, strict=True))
    return pd.Series(dict(rows), dtype=float)


def _history(deals: pd.DataFrame | None, as_of: pd.Timestamp | None) -> tuple[pd.Series,
                                                                             pd.Timestamp]:
    """Won amount per account over the 12 months up to ``as_of`` (default: the last date
    in the deals)."""
    if deals is None:
        raise InputError("quota by history or blend needs the CRM deals (deals: in the "
                         "scenario, deals=... in Python); or use by: potential")
    end = as_of if as_of is not None else _last_date(deals)
    start = end - pd.DateOffset(years=1)
    won = deals[deals["won"] & (deals["closed"] > start) & (deals["closed"] <= end)]
    return won.groupby("account_id")["amount"].sum(), end


def _last_date(deals: pd.DataFrame) -> pd.Timestamp:
    return max(deals["created"].max(), deals["closed"].max())


def quota_tables(solution: Solution, rule: QuotaRule, deals: pd.DataFrame | None = None
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(per_account, per_rep)``: each account's quota (and the rep that carries it),
    and per territory the quota, potential, history, their indices and flags, with a
    TOTAL row. Both add up to ``rule.total`` exactly."""
    owners = solution.assignments()
    accounts = owners["account_id"].astype(str)
    potential = accounts.map(_account_potential(solution)).fillna(0.0).to_numpy()
    history = np.zeros(len(accounts))
    as_of = rule.as_of
    if rule.by != "potential" or deals is not None:
        won, as_of = _history(deals, rule.as_of)
        history = accounts.map(won).fillna(0.0).to_numpy()
    share = {"potential": _share(potential), "history": _share(history),
             "blend": rule.weight * _share(potential) + (1 - rule.weight) * _share(history)
             }[rule.by]
    account_quota = largest_remainder(share, rule.total, rule.round_to)
    terr = solution.territory_info
    k = len(terr)
    new = solution.assignment[_unit_positions(solution, owners)]
    carried = np.bincount(new, weights=share * rule.total, minlength=k)
    elapsed = _elapsed(rule, solution)
    if elapsed is not None:  # moved accounts: the old rep until the move, the new one after
        moves = solution.moves()
        rep_pos = {r: t for t, r in enumerate(terr["rep_id"])}
        moved = moves["moved"].to_numpy()
        old = moves.loc[moved, "old_rep_id"].map(rep_pos).to_numpy(dtype=int)
        q = share[moved] * rule.total
        carried -= np.bincount(new[moved], weights=q * elapsed, minlength=k)
        carried += np.bincount(old, weights=q * elapsed, minlength=k)
    rep_quota = largest_remainder(carried, rule.total, rule.round_to)
    pot = np.bincount(new, weights=potential, minlength=k)
    hist = np.bincount(new, weights=history, minlength=k)
    table = pd.DataFrame({"territory": terr["territory"], "rep_id": terr["rep_id"],
                          "rep_name": terr["rep_name"], "quota": rep_quota,
                          "potential": pot, "history": hist})
    p = solution.problem
    if p.regions is not None:  # to add the reps' quotas up per region
        table.insert(3, "region", p.region_names)
    table["quota_per_potential"] = _index(rep_quota, pot)
    table["quota_per_history"] = _index(rep_quota, hist)
    off = [(table[c] - 1).abs() > rule.out_of_line for c in ("quota_per_potential",
                                                               "quota_per_history")]
    table["out_of_line"] = [", ".join(n for n, o in zip(("potential", "history"), flags,
                                                          strict=True) if o)
                            for flags in zip(*(o.fillna(False) for o in off), strict=True)]
    total = {"territory": "TOTAL", "rep_id": "", "rep_name": "",
             **({"region": ""} if p.regions is not None else {}), "quota": rep_quota.sum(),
             "potential": pot.sum(), "history": hist.sum(), "quota_per_potential": 1.0,
             "quota_per_history": 1.0 if hist.sum() > 0 else np.nan,
             "out_of_line": f"{sum(bool(o) for o in table['out_of_line'])} reps"}
    table = pd.concat([table, pd.DataFrame([total])], ignore_index=True)
    per_account = pd.DataFrame({"account_id": accounts, "rep_id": owners["rep_id"],
                                "quota": account_quota, "potential": potential,
                                "history": history})
    table.attrs["spread"] = {
        "quota_per_potential_cv": metrics.coefficient_of_variation(
            table["quota_per_potential"].to_numpy()[:k]),
        "quota_per_potential_gini": metrics.gini(
            np.nan_to_num(table["quota_per_potential"].to_numpy()[:k])),
        "quota_per_history_cv": metrics.coefficient_of_variation(
            np.nan_to_num(table["quota_per_history"].to_numpy()[:k])),
        "quota_per_history_gini": metrics.gini(
            np.nan_to_num(table["quota_per_history"].to_numpy()[:k])),
        "history_as_of": None if as_of is None else str(pd.Timestamp(as_of).date()),
        "elapsed_before_move": elapsed}
    return per_account, table.round({"potential": 2, "history": 2, "quota_per_potential": 3,
                                     "quota_per_history": 3})


def _share(values: np.ndarray) -> np.ndarray:
    total = values.sum()
    return values / total if total > 0 else np.zeros_like(values)


def _index(quota: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """Quota per unit of ``basis`` against the company's (1 = the same ratio)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (quota / quota.sum()) / (basis / basis.sum())
    return np.where(basis > 0, ratio, np.nan)


def _unit_positions(solution: Solution, owners: pd.DataFrame) -> np.ndarray:
    pos = {u: i for i, u in enumerate(solution.problem.unit_ids)}
    return owners["unit_id"].astype(str).map(pos).to_numpy(dtype=int)


def _elapsed(rule: QuotaRule, solution: Solution) -> float | None:
    """The share of the quota year before the move, or None when nothing is pro-rated."""
    if rule.move_date is None:
        return None
    if not solution.problem.current:
        raise InputError("quota: move_date pro-rates the quota of moved accounts; it needs "
                         "the current alignment (alignment: in the scenario)")
    move = pd.Timestamp(rule.move_date)
    start, end = rule.year if rule.year is not None else (
        pd.Timestamp(year=move.year, month=1, day=1),
        pd.Timestamp(year=move.year + 1, month=1, day=1))
    if not start <= move <= end:
        raise InputError(f"quota: move_date {move.date()} lies outside the quota year "
                         f"{start.date()} to {end.date()}")
    return float((move - start) / (end - start))


def forecast_table(solution: Solution, deals: pd.DataFrame, *,
                   stages: dict[str, float] | None = None,
                   as_of: pd.Timestamp | None = None) -> pd.DataFrame:
    """Per territory (and TOTAL): ``pipeline`` (open amount), ``forecast`` (weighted by
    stage probabilities, or the win rate), and a year earlier ``backtest_forecast``
    against ``backtest_actual`` with ``backtest_error_pct`` (see the module docstring)."""
    owner = solution.assignments().set_index("account_id")["territory"]
    d = deals.assign(territory=deals["account_id"].map(owner)).dropna(subset=["territory"])
    end = as_of if as_of is not None else _last_date(deals)
    closed = d[d["closed"].notna() & (d["closed"] <= end)]
    win_rate = float(closed["won"].mean()) if len(closed) else np.nan
    open_ = d[d["closed"].isna() | (d["closed"] > end)]
    if stages is not None:
        unknown = sorted(set(open_["stage"]) - set(stages))
        if unknown:
            raise InputError(f"forecast: stage {unknown[0]!r} of open deals has no "
                             f"probability ({len(unknown)} stages missing); give one for each "
                             f"open stage: {', '.join(sorted(set(open_['stage'])))}")
        bad = {s: p for s, p in stages.items() if not 0 <= p <= 1}
        if bad:
            raise InputError(f"forecast: stage probabilities are shares between 0 and 1, got "
                             f"{bad}")
        p = open_["stage"].map(stages).to_numpy(dtype=float)
    else:
        p = np.full(len(open_), win_rate)
    before = end - pd.DateOffset(years=1)
    known = d[d["closed"].notna() & (d["closed"] <= before)]
    rate_then = float(known["won"].mean()) if len(known) else np.nan
    then_open = d[(d["created"] <= before) & (d["closed"].isna() | (d["closed"] > before))]
    won_since = then_open["won"] & (then_open["closed"] <= end)
    order = list(solution.territory_info["territory"])
    frame = pd.DataFrame({"territory": order})
    frame["pipeline"] = frame["territory"].map(open_.groupby("territory")["amount"].sum())
    frame["forecast"] = frame["territory"].map(
        open_.assign(w=open_["amount"].to_numpy() * p).groupby("territory")["w"].sum())
    frame["backtest_forecast"] = frame["territory"].map(
        then_open.groupby("territory")["amount"].sum() * rate_then)
    frame["backtest_actual"] = frame["territory"].map(
        then_open[won_since].groupby("territory")["amount"].sum())
    frame = frame.fillna({c: 0.0 for c in frame.columns if c != "territory"})
    total = {"territory": "TOTAL", **{c: frame[c].sum() for c in frame.columns
                                      if c != "territory"}}
    frame = pd.concat([frame, pd.DataFrame([total])], ignore_index=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["backtest_error_pct"] = np.where(
            frame["backtest_actual"] > 0,
            100 * (frame["backtest_forecast"] / frame["backtest_actual"] - 1), np.nan)
    frame.attrs["forecast"] = {"as_of": str(pd.Timestamp(end).date()),
                               "win_rate": win_rate, "backtest_as_of":
                               str(pd.Timestamp(before).date()), "backtest_win_rate": rate_then,
                               "stages": "given" if stages is not None else "win rate"}
    return frame.round(2)
