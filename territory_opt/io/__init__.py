"""Reading inputs (files, ZIP geocoding) and writing outputs (all or nothing).

A database (PostgreSQL/PostGIS) is read where a file would be: a query or a table
on a named connection; SQLAlchemy is imported only when one is used.
"""

from territory_opt.io.database import DatabaseSource, connect, env_name
from territory_opt.io.files import (
    read_accounts,
    read_alignment,
    read_deals,
    read_distance_matrix,
    read_edges,
    read_locks,
    read_potential,
    read_reps,
    read_table,
)
from territory_opt.io.filters import capacity_column, where_mask
from territory_opt.io.write import (
    MANIFEST,
    is_replaceable,
    read_run,
    sha256_file,
    write_outputs,
)
from territory_opt.io.zips import geocode_zip, normalise_zip, zip_centroids

__all__ = [
    "MANIFEST",
    "DatabaseSource",
    "capacity_column",
    "connect",
    "env_name",
    "geocode_zip",
    "is_replaceable",
    "normalise_zip",
    "read_accounts",
    "read_alignment",
    "read_deals",
    "read_distance_matrix",
    "read_edges",
    "read_locks",
    "read_potential",
    "read_reps",
    "read_run",
    "read_table",
    "sha256_file",
    "where_mask",
    "write_outputs",
    "zip_centroids",
]
