"""The names columns usually have in CRM and GIS exports, to match them to keys."""

from __future__ import annotations

import re

__all__ = ["GUESSES", "guess_column"]

# key -> column names it is usually given in CRM / GIS exports (normalised: lower
# case, letters and digits only), best first
GUESSES: dict[str, list[str]] = {
    "account_id": ["accountid", "id", "customerid", "accountnumber", "account", "customer",
                   "clientid", "accountno"],
    "workload": ["workload", "visithours", "visits", "hours", "calls", "annualvisits",
                 "effort", "callsperyear", "visitsperyear"],
    "lat": ["lat", "latitude", "billinglatitude", "shippinglatitude", "ycoord"],
    "lon": ["lon", "lng", "long", "longitude", "billinglongitude", "shippinglongitude",
            "xcoord"],
    "zip": ["zip", "zipcode", "postalcode", "postcode", "billingzippostalcode",
            "billingzip", "billingpostalcode", "shippingzippostalcode", "zip5", "homezip",
            "homezipcode", "homepostalcode", "basezip", "officezip"],
    "account_name": ["accountname", "name", "companyname", "customername", "company",
                     "organization", "organisation", "businessname", "clientname"],
    "address": ["address", "billingstreet", "street", "streetaddress", "address1",
                "billingaddress", "addressline1", "shippingstreet"],
    "state": ["state", "billingstate", "billingstateprovince", "stateprovince",
              "shippingstate", "statecode", "st"],
    "rep_id": ["repid", "id", "ownerid", "employeeid", "rep", "userid"],
    "name": ["name", "repname", "fullname", "owner", "ownername"],
    "fte": ["fte", "capacity", "workingtime"],
    "segment": ["segment", "accountsegment", "customersegment", "segmentname", "specialty",
                "speciality"],
    "segments": ["segments", "servedsegments", "specialties", "specialities",
                 "accounttypes", "serves"],
    "region": ["region", "salesregion", "area", "district", "regionname", "division"],
    "potential": ["population", "potential", "marketpotential", "pop", "households",
                  "value", "sales"],
    "potential_id": ["fips", "geoid", "id", "zip", "code", "countyfips"],
    "area_name": ["name", "countyname", "county", "namelsad", "areaname", "zipname"],
}


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def guess_column(columns: list[str], key: str) -> str | None:
    """The column of ``columns`` a ``key`` is most likely called, or None."""
    by_norm = {_norm(c): c for c in reversed(columns)}
    for name in GUESSES[key]:
        if name in by_norm:
            return by_norm[name]
    return None
