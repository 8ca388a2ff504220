"""Build the bundled Georgia demo data in ``data/georgia/`` (seeded, reproducible).

Sources (no download: both ship inside their PyPI wheels):

* ``libpysal`` -- ``examples/georgia/G_utm.shp``: the 159 Georgia counties with
  their 1990 census population (``TotPop90``). The shapefile has no ``.prj``; its
  CRS is NAD27 / UTM zone 16N (EPSG:26716), found from its own ``Latitude`` /
  ``Longitud`` columns (see ``data/README.md``), and set explicitly here.
* ``zipcodes`` -- every active Georgia ZIP code with its real location, city and
  county. One account per ZIP code.

Synthetic, seeded columns (no free source gives them): ``name``, ``workload``
(visit-hours per year), ``revenue`` (USD per year), scaled with the population
per ZIP code of the account's county; ``deals.csv`` (CRM deals per account) and
``alignment.csv`` (last year's owners: each account to its nearest rep). Run ``python data/make_georgia.py`` to
rebuild; the test suite checks that the committed files are what it produces.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

COUNTIES_CRS = "EPSG:26716"  # NAD27 / UTM zone 16N, see data/README.md
SEED = 20261127
TYPE_FACTOR = {"STANDARD": 1.0, "PO BOX": 0.5, "UNIQUE": 1.5}

# Rep home bases: real Georgia city centres (WGS 84); names are synthetic.
REPS = [
    ("R01", "Avery Johnson", "Atlanta", 33.7490, -84.3880, 1.0),
    ("R02", "Blake Moreno", "Marietta", 33.9526, -84.5499, 1.0),
    ("R03", "Casey Nguyen", "Lawrenceville", 33.9562, -83.9880, 1.0),
    ("R04", "Dana Whitfield", "Gainesville", 34.2979, -83.8241, 1.0),
    ("R05", "Elliot Brooks", "Rome", 34.2570, -85.1647, 0.8),
    ("R06", "Frankie Ortiz", "Athens", 33.9519, -83.3576, 1.0),
    ("R07", "Gray Patel", "Augusta", 33.4735, -82.0105, 1.0),
    ("R08", "Harper Lee Kim", "Macon", 32.8407, -83.6324, 1.0),
    ("R09", "Indy Carter", "Columbus", 32.4610, -84.9877, 0.8),
    ("R10", "Jordan Ellis", "Savannah", 32.0809, -81.0912, 1.0),
    ("R11", "Kai Robinson", "Albany", 31.5785, -84.1557, 1.0),
    ("R12", "Logan Baptiste", "Valdosta", 30.8327, -83.2785, 0.5),
]
# The regions the reps report to (the manager's level; synthetic): the north-west
# from Atlanta, the east along the Savannah river, and the south.
REGION_OF = {"R01": "North", "R02": "North", "R04": "North", "R05": "North",
             "R03": "East", "R06": "East", "R07": "East", "R10": "East",
             "R08": "South", "R09": "South", "R11": "South", "R12": "South"}
NAME_SUFFIX = ["Medical Supply", "Clinic", "Pharmacy", "Health Partners", "Care Center",
               "Family Practice", "Dental Group", "Wellness"]
# The account's segment follows its (synthetic) business type.
SEGMENT_OF_SUFFIX = {"Care Center": "hospital", "Pharmacy": "pharmacy",
                     "Medical Supply": "pharmacy"}  # every other type: "practice"
# Two hospital specialists (synthetic people at real city centres); the twelve reps
# above serve practices and pharmacies in reps_specialists.csv.
SPECIALISTS = [
    ("R13", "Morgan Reyes", "Atlanta", 33.7490, -84.3880, 0.85, "hospital"),
    ("R14", "Noel Okafor", "Macon", 32.8407, -83.6324, 0.85, "hospital"),
]


def counties_source() -> Path:
    import libpysal

    return Path(libpysal.__file__).parent / "examples" / "georgia" / "G_utm.shp"


def build_counties() -> gpd.GeoDataFrame:
    raw = gpd.read_file(counties_source())
    if raw.crs is not None:
        raise RuntimeError(f"expected G_utm.shp without a CRS, got {raw.crs}")
    counties = raw.set_crs(COUNTIES_CRS)
    counties = counties.rename(columns={"AreaKey": "fips", "TotPop90": "population",
                                        "Longitud": "Longitude"})
    counties["fips"] = counties["fips"].astype(int).astype(str)
    counties = counties[["fips", "population", "Latitude", "Longitude", "PctRural",
                         "geometry"]]
    return counties.sort_values("fips").reset_index(drop=True)


def build_accounts(counties: gpd.GeoDataFrame, seed: int = SEED) -> pd.DataFrame:
    import zipcodes

    # ZIP 31169 carries the placeholder location (0, 0) in the source: left out.
    rows = [z for z in zipcodes.filter_by(state="GA")
            if z["active"] and float(z["lat"]) != 0.0 and float(z["long"]) != 0.0]
    zips = pd.DataFrame({
        "zip": [z["zip_code"] for z in rows],
        "city": [z["city"] for z in rows],
        "county": [z["county"] for z in rows],
        "zip_type": [z["zip_code_type"] for z in rows],
        "lat": [float(z["lat"]) for z in rows],
        "lon": [float(z["long"]) for z in rows],
    }).sort_values("zip").reset_index(drop=True)
    # The county polygon each ZIP point falls in (nearest for coastal points).
    points = gpd.GeoDataFrame(zips, geometry=gpd.points_from_xy(zips.lon, zips.lat),
                              crs="EPSG:4326").to_crs(counties.crs)
    joined = gpd.sjoin_nearest(points, counties[["fips", "population", "geometry"]],
                               how="left").sort_index()
    joined = joined[~joined.index.duplicated()]
    zips["fips"] = joined["fips"].to_numpy()
    per_zip = joined["population"] / joined.groupby("fips")["fips"].transform("size")
    scale = (per_zip / per_zip.median()).to_numpy() ** 0.6
    rng = np.random.default_rng(seed)
    factor = zips["zip_type"].map(TYPE_FACTOR).to_numpy()
    workload = 4.0 + 16.0 * scale * factor * rng.lognormal(0.0, 0.35, len(zips))
    zips["workload"] = np.round(np.minimum(workload, 120.0) * 2) / 2  # half hours
    rate = 1100.0 * rng.lognormal(0.0, 0.5, len(zips))
    zips["revenue"] = np.round(zips["workload"] * rate, -1).astype(int)
    suffix = rng.choice(NAME_SUFFIX, len(zips))
    zips["name"] = [f"{c.title()} {s}" for c, s in zip(zips["city"], suffix)]
    zips["account_id"] = ["A" + z for z in zips["zip"]]
    zips["segment"] = [SEGMENT_OF_SUFFIX.get(s, "practice") for s in suffix]
    cols = ["account_id", "name", "zip", "city", "county", "fips", "lat", "lon",
            "workload", "revenue", "segment"]
    return zips[cols]


def build_reps() -> pd.DataFrame:
    reps = pd.DataFrame(REPS, columns=["rep_id", "name", "city", "lat", "lon", "fte"])
    return reps.assign(region=reps["rep_id"].map(REGION_OF))


def build_specialist_reps() -> pd.DataFrame:
    """The twelve reps for practices and pharmacies, and two hospital specialists."""
    core = build_reps().drop(columns="region").assign(segments="practice; pharmacy")
    return pd.concat([core, pd.DataFrame(SPECIALISTS, columns=list(core.columns))],
                     ignore_index=True)


OPEN_STAGES = ("Qualify", "Propose", "Negotiate")
TODAY = pd.Timestamp("2026-11-01")


def build_deals(accounts: pd.DataFrame, seed: int = SEED + 1) -> pd.DataFrame:
    """Synthetic CRM deals: about two per account over 22 months, sized by revenue.

    Created uniformly from 2025-01-01 to 2026-10-31; a sales cycle of about 45
    days (lognormal); a deal whose close would fall after 2026-11-01 is still
    open (blank ``closed``, one of three open stages); 35 % of closed deals won.
    """
    rng = np.random.default_rng(seed)
    counts = rng.poisson(2.0 * accounts["revenue"] / accounts["revenue"].mean())
    owner = np.repeat(accounts["account_id"].to_numpy(), counts)
    revenue = np.repeat(accounts["revenue"].to_numpy(), counts)
    n = len(owner)
    start = pd.Timestamp("2025-01-01")
    created = start + pd.to_timedelta(rng.integers(0, (TODAY - start).days, n), unit="D")
    closes = created + pd.to_timedelta(np.ceil(45 * rng.lognormal(0.0, 0.5, n)), unit="D")
    is_open = closes >= TODAY
    won = ~is_open & (rng.random(n) < 0.35)
    stage = np.where(won, "Closed Won", "Closed Lost").astype(object)
    stage[is_open] = rng.choice(OPEN_STAGES, int(is_open.sum()))
    deals = pd.DataFrame({
        "deal_id": [f"D{i:05d}" for i in range(1, n + 1)], "account_id": owner,
        "amount": np.round(0.25 * revenue * rng.lognormal(0.0, 0.6, n), -1),
        "stage": stage, "created": created.strftime("%Y-%m-%d"),
        "closed": pd.Series(closes.strftime("%Y-%m-%d")).where(~is_open, ""),
        "won": np.where(is_open, "", np.where(won, "true", "false"))})
    return deals


def build_alignment(accounts: pd.DataFrame) -> pd.DataFrame:
    """Last year's owners, drawn the spreadsheet way: each account to its nearest rep.

    Unbalanced on purpose: the realignment scenario starts from it.
    """
    reps = build_reps()
    lat1, lon1 = np.radians(accounts["lat"].to_numpy())[:, None], \
        np.radians(accounts["lon"].to_numpy())[:, None]
    lat2, lon2 = np.radians(reps["lat"].to_numpy())[None], np.radians(reps["lon"].to_numpy())[None]
    hav = (np.sin((lat2 - lat1) / 2) ** 2
           + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2)
    nearest = np.argmin(hav, axis=1)
    return pd.DataFrame({"account_id": accounts["account_id"],
                         "rep_id": reps["rep_id"].to_numpy()[nearest]})


def build_crm_export(accounts: pd.DataFrame, seed: int = SEED + 2) -> pd.DataFrame:
    """The accounts as a CRM report exports them: no coordinates, a billing ZIP
    (some as ZIP+4), CRM column names, and four rows whose ZIP cannot be placed
    (blank, a letter O for a zero, a digit typed twice, a ZIP that does not exist).
    """
    rng = np.random.default_rng(seed)
    zips = accounts["zip"].astype(str).to_numpy().copy()
    plus4 = rng.random(len(zips)) < 0.15
    zips[plus4] = [f"{z}-{rng.integers(1, 9999):04d}" for z in zips[plus4]]
    bad = rng.choice(len(zips), size=4, replace=False)
    zips[bad[0]] = ""
    zips[bad[1]] = zips[bad[1]][:5].replace("0", "O", 1) if "0" in zips[bad[1]][:5] \
        else "3O" + zips[bad[1]][2:5]
    zips[bad[2]] = zips[bad[2]][:5] + zips[bad[2]][4]  # a digit typed twice: 6 digits
    zips[bad[3]] = "39999"  # no such ZIP code
    return pd.DataFrame({"Account ID": accounts["account_id"],
                         "Account Name": accounts["name"],
                         "Billing City": accounts["city"],
                         "Billing Zip/Postal Code": zips,
                         "Visit Hours": accounts["workload"],
                         "Annual Revenue": accounts["revenue"]})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "georgia")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    counties = build_counties()
    counties.to_file(args.out / "counties.gpkg", layer="counties", driver="GPKG")
    accounts = build_accounts(counties)
    accounts.to_csv(args.out / "accounts.csv", index=False)
    build_reps().to_csv(args.out / "reps.csv", index=False)
    build_specialist_reps().to_csv(args.out / "reps_specialists.csv", index=False)
    build_deals(accounts).to_csv(args.out / "deals.csv", index=False)
    build_alignment(accounts).to_csv(args.out / "alignment.csv", index=False)
    build_crm_export(accounts).to_csv(args.out / "crm_export.csv", index=False)


if __name__ == "__main__":
    main()
