"""The notebook runs top to bottom (its code cells, in order, in one namespace)."""

from __future__ import annotations

import json

from conftest import ROOT


def test_georgia_notebook_runs():
    nb = json.loads((ROOT / "notebooks" / "georgia.ipynb").read_text())
    namespace: dict = {}
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            exec(compile("".join(cell["source"]), "georgia.ipynb", "exec"), namespace)
    assert namespace["solution"].status == "optimal"
    assert len(namespace["white"]) > 0
    assert namespace["what_if"].objective >= namespace["solution"].objective
    assert namespace["what_if"].assignments().set_index("account_id").loc["A31401",
                                                                           "rep_id"] == "R01"
