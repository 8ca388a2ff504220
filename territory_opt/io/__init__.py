"""Reading inputs (files, ZIP geocoding) and writing outputs (all or nothing).

A database reader can join the file readers here, imported only when called.
"""

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
    "capacity_column",
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
