"""Every notebook runs top to bottom in a real Jupyter kernel, against the installed
package, as an analyst would run it (nbclient; working folder notebooks/)."""

from __future__ import annotations

import os

import nbformat
import pgcluster
import pytest
from conftest import ROOT
from nbclient import NotebookClient

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_the_notebooks_are_there_and_stored_without_outputs():
    assert [p.stem for p in NOTEBOOKS] == ["01_quickstart", "02_what_if",
                                           "03_annual_realignment", "04_bring_your_own_data",
                                           "05_specialists", "06_regions_and_quotas",
                                           "07_workbench"]
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, path.name


def _text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts.append(out.get("text", ""))
        data = out.get("data", {})
        parts.append(data.get("text/html", "") + data.get("text/plain", ""))
    return "".join(parts)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, monkeypatch, request):
    monkeypatch.setenv("TERRITORY_OPT_PROGRESS", "1")  # as in Jupyter: bars on
    database = path.stem == "04_bring_your_own_data" and (
        pgcluster.why_not() is None or os.environ.get("REQUIRE_POSTGRES") == "1")
    if database:  # its database cell reads the demo tables of a throwaway server
        server = request.getfixturevalue("cluster")
        monkeypatch.setenv("TERRITORY_OPT_DB_CRM", server.url("crm", password=None))
        monkeypatch.setenv("PGPASSWORD", pgcluster.PASSWORD)
    else:
        monkeypatch.delenv("TERRITORY_OPT_DB_CRM", raising=False)
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    cells = [c for c in nb.cells if c.cell_type == "code"]
    errors = [o for c in cells for o in c.outputs if o.output_type == "error"]
    assert not errors
    text = "\n".join(_text(c) for c in cells)
    # every solve shows its outcome and gap; maps render inline
    assert "<b>optimal</b>: objective" in text
    if path.stem != "02_what_if":
        assert "leaflet" in text.lower()
    if path.stem == "05_specialists":  # the diagnosis names the specialists
        assert "the reps serving only 'hospital' (R13, R14) need at least" in text
    if path.stem == "07_workbench":  # the app's address, the edited plan
        assert "Open the workbench" in text and "<b>edited</b>: objective" in text
    if path.stem == "04_bring_your_own_data":
        assert "39999" in text and "319O6" in text  # the unplaced rows are shown
        if database:
            assert "828 accounts from the database, CRS EPSG:4326" in text
