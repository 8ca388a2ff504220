"""Account filters for capacity rules: ``"revenue >= 40000"``, ``"segment == hospital"``,
``"segment in hospital, pharmacy"``.

:func:`capacity_column` turns a filter into an account column (1 per matching
account, or the value of a column summed) that ``build_units(sums=...)`` adds up
per unit, so that a band ``{min: 2}`` / ``{max: 10}`` on it bounds each territory's
count or sum over the filter.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from territory_opt.errors import InputError

__all__ = ["capacity_column", "where_mask"]

_WHERE = re.compile(r"^\s*(?P<column>.+?)\s*(?P<op>==|!=|>=|<=|>|<|=|\bin\b)\s*(?P<value>.+?)\s*$")
_COMPARE = {"==": np.equal, "=": np.equal, "!=": np.not_equal, ">=": np.greater_equal,
            "<=": np.less_equal, ">": np.greater, "<": np.less}


def where_mask(accounts: pd.DataFrame, where: str, *, what: str = "filter") -> np.ndarray:
    """The accounts that ``where`` (``<column> <op> <value>``) holds for.

    ``op`` is one of ``== != >= <= > <`` or ``in`` (a comma-separated list of
    values). A numeric column compares numbers; any other compares text.
    """
    match = _WHERE.match(where) if isinstance(where, str) else None
    example = ("write '<column> <op> <value>', e.g. 'revenue >= 40000', "
               "'segment == hospital' or 'segment in hospital, pharmacy'")
    if match is None:
        raise InputError(f"{what} {where!r} is not a filter; {example}")
    column, op, value = match["column"].strip("'\""), match["op"], match["value"]
    if column not in accounts.columns:
        raise InputError(f"{what} {where!r}: the accounts have no column {column!r}; columns "
                         f"are: {', '.join(map(str, accounts.columns))}")
    values = [v.strip().strip("'\"") for v in (value.split(",") if op == "in" else [value])]
    col = accounts[column]
    if pd.api.types.is_numeric_dtype(col):
        try:
            numbers = [float(v) for v in values]
        except ValueError:
            raise InputError(f"{what} {where!r}: column {column!r} holds numbers, but "
                             f"{value!r} is not one; {example}") from None
        data = col.to_numpy(dtype=float)
        if op == "in":
            return np.isin(data, numbers)
        return _COMPARE[op](data, numbers[0]) & ~np.isnan(data)
    if op not in ("==", "=", "!=", "in"):
        raise InputError(f"{what} {where!r}: column {column!r} holds text; compare it with "
                         "==, != or in")
    text = col.map(lambda v: "" if pd.isna(v) else str(v).strip()).to_numpy(dtype=object)
    hit = np.isin(text, values)
    return ~hit if op == "!=" else hit


def capacity_column(accounts: pd.DataFrame, name: str, where: str,
                    sum: str | None = None) -> pd.DataFrame:
    """A copy of ``accounts`` with column ``name``: per account, 1 (or its ``sum``
    column's value) where ``where`` holds, 0 elsewhere.

    Sum it per unit (``build_units(..., sums=[name])``) and bound it per
    territory with an absolute band, e.g. ``balance={name: {"max": 10}}``.
    """
    if name in accounts.columns:
        raise InputError(f"capacity {name!r}: the accounts already have a column of that "
                         "name; give the capacity rule another name")
    mask = where_mask(accounts, where, what=f"capacity {name!r}: filter")
    if sum is None:
        amount = mask.astype(float)
    else:
        if sum not in accounts.columns or not pd.api.types.is_numeric_dtype(accounts[sum]):
            raise InputError(f"capacity {name!r}: sum {sum!r} is not a numeric account "
                             "column; name one such as workload or revenue, or leave sum "
                             "out to count the accounts")
        amount = np.where(mask, accounts[sum].to_numpy(dtype=float), 0.0)
    return accounts.assign(**{name: np.nan_to_num(amount)})
