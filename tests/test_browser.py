"""The map in a real browser: headless Chromium, network blocked, opened from disk.

Skips (with its reason) where Debian's chromium or Playwright is missing (conftest.browser);
``REQUIRE_BROWSER=1`` (set by ``.ci/run``) turns that skip into a failure.
The screenshot goes to ``out/browser/map.png``.
"""

from __future__ import annotations

import re

import geopandas as gpd
import pandas as pd
import pytest
from conftest import ROOT, georgia_copy

import territory_opt as topt

XSS_ACCOUNT = "<img src=x onerror=alert(1)>"
XSS_REP = "<script>alert(2)</script>"


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    """Georgia with an account and a rep whose names are HTML, run end to end."""
    folder = tmp_path_factory.mktemp("hostile")
    data = ROOT / "data" / "georgia"
    accounts = pd.read_csv(data / "accounts.csv", dtype={"account_id": str, "zip": str})
    accounts.loc[0, "name"] = XSS_ACCOUNT
    accounts.to_csv(folder / "accounts.csv", index=False)
    reps = pd.read_csv(data / "reps.csv", dtype=str)
    reps.loc[0, "name"] = XSS_REP
    reps.to_csv(folder / "reps.csv", index=False)
    # without contiguity: the page is the point, and a plain plan is found in seconds
    scenario = georgia_copy(folder / "s.yaml", solver={"gap": 0.01}, contiguity=False,
                            accounts=folder / "accounts.csv", reps=folder / "reps.csv")
    return topt.run_scenario(scenario, out=folder / "out"), accounts.loc[0]


@pytest.fixture(scope="module")
def page(browser, hostile_run):
    result, _ = hostile_run
    context = browser.new_context(viewport={"width": 1200, "height": 900}, offline=True)
    requests: list[str] = []

    def only_files(route):
        requests.append(route.request.url)
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", only_files)
    pg = context.new_page()
    problems: list[str] = []
    pg.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
          if m.type in ("error", "warning") else None)
    pg.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    pg.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    pg.goto((result.out_dir / "map.html").as_uri())
    pg.wait_for_function("() => document.querySelectorAll('path.leaflet-interactive').length")
    pg.problems, pg.requests = problems, requests
    shots = ROOT / "out" / "browser"
    shots.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(shots / "map.png"))
    yield pg
    context.close()


def _map_name(pg) -> str:
    return pg.evaluate("() => Object.keys(window).find(k => /^map_[0-9a-f]+$/.test(k))")


def test_opens_offline_without_errors(page):
    assert page.problems == []
    assert all(u.startswith("file:") for u in page.requests), page.requests
    assert _map_name(page)
    assert (ROOT / "out" / "browser" / "map.png").stat().st_size > 10_000


def test_every_rep_base_is_labelled_with_the_rep(page, hostile_run):
    result, _ = hostile_run
    labels = page.locator(".leaflet-tooltip.topt-base").all_inner_texts()
    info = result.solution.territory_info
    assert sorted(labels) == sorted(f"{n} ({t})" for n, t in
                                    zip(info["rep_name"], info["territory"], strict=True))


def test_one_shape_per_territory(page, hostile_run):
    result, _ = hostile_run
    counts = page.evaluate("""() => Object.keys(window)
        .filter(k => /^geo_json_[0-9a-f]+$/.test(k))
        .map(k => window[k].getLayers())
        .filter(ls => ls.length && 'territory' in ls[0].feature.properties)
        .map(ls => [ls.length, ls.filter(l => document.contains(l._path)).length])""")
    k = result.solution.problem.n_territories
    assert counts == [[k, k]]


def test_tooltip_shows_the_territory_figures(page, hostile_run):
    result, _ = hostile_run
    page.get_by_label("Accounts", exact=True).uncheck()  # the dots sit on top of the shapes
    terr = gpd.read_file(result.out_dir / "territories.gpkg", layer="territories")
    row = terr.iloc[3]
    spot = gpd.GeoSeries([row.geometry.buffer(-2000).representative_point()],
                         crs=terr.crs).to_crs("EPSG:4326").iloc[0]
    name = _map_name(page)
    x, y = page.evaluate(f"() => {{ const p = {name}.latLngToContainerPoint([{spot.y}, "
                         f"{spot.x}]); return [p.x, p.y]; }}")
    box = page.locator(f"#{name}").bounding_box()
    page.mouse.move(box["x"] + x, box["y"] + y)
    tip = page.locator(".leaflet-tooltip:not(.topt-base)").first
    tip.wait_for()
    text = tip.inner_text()
    assert row["territory"] in text and row["rep_name"] in text
    shown = re.search(r"Workload\s+([\d,.]+)", text).group(1)
    assert float(shown.replace(",", "")) == pytest.approx(row["workload"], abs=0.06)
    page.get_by_label("Accounts", exact=True).check()


def test_hostile_names_run_nothing(page, hostile_run):
    _, account = hostile_run
    layer = page.evaluate("() => Object.keys(window).find(k => /^accounts_layer_/.test(k))")
    # open every account's tooltip: each one's HTML goes into the page
    page.evaluate(f"() => {layer}.eachLayer(l => l.openTooltip && l.openTooltip())")
    texts = page.locator(".leaflet-tooltip").all_inner_texts()
    assert any(XSS_ACCOUNT in t and account["account_id"] in t for t in texts)
    legend = page.locator(".topt-legend").inner_text()
    assert XSS_REP in legend
    assert page.locator("img[src='x']").count() == 0
    assert page.evaluate("() => document.querySelectorAll('script:not([src])').length") > 0
    assert page.problems == []  # no alert dialog, no error


def test_clustered_accounts(browser, hostile_run, tmp_path):
    """Above the threshold the accounts are grouped, and a click zooms in."""
    result, _ = hostile_run
    accounts = topt.read_accounts(ROOT / "data" / "georgia" / "accounts.csv")
    from territory_opt.outputs.maps import map_html

    path = tmp_path / "clustered.html"
    path.write_text(map_html(result.solution, accounts=accounts, cluster_above=100))
    context = browser.new_context(viewport={"width": 1000, "height": 800}, offline=True)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(path.as_uri())
    clusters = pg.locator(".topt-cluster")
    clusters.first.wait_for()
    counts = [int(t) for t in clusters.all_inner_texts()]
    singles = pg.evaluate("() => document.querySelectorAll('path.leaflet-interactive').length")
    assert sum(counts) <= len(accounts) and sum(counts) > len(accounts) / 2
    name = _map_name(pg)
    zoom = pg.evaluate(f"() => {name}.getZoom()")
    clusters.first.click()
    pg.wait_for_function(f"() => {name}.getZoom() > {zoom}")
    assert errors == [] and singles >= 1
    context.close()


def test_a_plan_across_the_antimeridian_draws_as_one_piece(browser, tmp_path):
    """Alaska (the Aleutians on both sides of +-180) and Hawaii: no territory is a
    strip around the world, and the map fits the data, not the globe. The
    screenshot goes to ``out/browser/antimeridian.png``."""
    from test_round_world import ALASKA, HAWAII, _points, _reps

    from territory_opt.outputs.maps import map_html

    units = topt.build_units(_points(ALASKA + HAWAII), method="accounts")
    problem = topt.TerritoryProblem(units, reps=_reps([(-149.9, 61.2), (-157.9, 21.3)]),
                                    balance={"workload": 0.6}, contiguity=False)
    path = tmp_path / "alaska.html"
    path.write_text(map_html(topt.solve(problem, method="mip", gap=0.0)))
    context = browser.new_context(viewport={"width": 1000, "height": 800}, offline=True)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(path.as_uri())
    pg.wait_for_function("() => document.querySelectorAll('path.leaflet-interactive').length")
    name = _map_name(pg)
    widths = pg.evaluate(f"""() => {{
        const w = [];
        {name}.eachLayer(l => {{ if (l.feature && l.getBounds) {{
            const b = l.getBounds(); w.push(b.getEast() - b.getWest()); }} }});
        return w; }}""")
    view = pg.evaluate(f"() => {{ const b = {name}.getBounds(); "
                       "return b.getEast() - b.getWest(); }")
    pg.screenshot(path=str(ROOT / "out" / "browser" / "antimeridian.png"))
    assert errors == [] and len(widths) == 2
    assert max(widths) < 60, widths  # Anchorage's territory with the Aleutians: ~45 degrees
    assert view < 120, view  # the map shows the North Pacific, not the world
    context.close()
