"""A Dask client: on a scheduler's address, or on a local cluster of worker
processes started (and stopped) with it. Used by sweeps and by the top-down
solve of regions."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import Any

from territory_opt.errors import InputError

__all__ = ["dask_client"]


@contextlib.contextmanager
def dask_client(scheduler: str | None, workers: int | None) -> Iterator[Any]:
    """A Dask client on ``scheduler``, or on a LocalCluster of ``workers`` processes
    (one per core when None) started (and stopped) here."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise InputError(f"no Dask scheduler answers at {scheduler} ({exc}); check the "
                             "address (tcp://HOST:PORT), or leave out --scheduler for a "
                             "local cluster") from None
        with client:
            yield client
        return
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
        else os.cpu_count() or 1
    with LocalCluster(n_workers=workers or cores, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as client:
        yield client
