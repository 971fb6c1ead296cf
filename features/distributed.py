"""The Dask path: event-level builders (and xgboost.dask training) on a dask.distributed cluster.

Nothing in a builder changes. Every event builder is a map over independent tasks (a
Parquet partition scanned by DuckDB, a byte range of an OCDS file, one country's releases)
followed by a small combine of partial sums; `on_dask` hands those maps to a cluster, so the
features are the same as on one machine (tests/features/test_distributed.py checks it).
`params.dask.scheduler` names a running scheduler (tcp://host:8786); null starts a
LocalCluster of `n_workers` processes. Workers must see the raw files and a shared temp
folder (TMPDIR) at the same paths as the client, as on a shared filesystem.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

from features.event_tables import partition_executor
from nexus.config import DaskParams, FeaturesParams


@contextlib.contextmanager
def dask_client(params: DaskParams) -> Iterator[object]:
    """A client of the configured scheduler, or of a LocalCluster started (and closed) here."""
    from distributed import Client, LocalCluster

    if params.scheduler:
        with Client(params.scheduler) as client:
            yield client
        return
    with LocalCluster(n_workers=params.n_workers, threads_per_worker=params.threads_per_worker,
                      processes=True, dashboard_address=None) as cluster, Client(cluster) as client:
        yield client


def client_map(client) -> Callable:
    """map(fn, items) -> list on the cluster, results in the order of items."""
    def run(fn, items):
        items = list(items)
        return client.gather(client.map(fn, items, pure=False)) if items else []

    return run


@contextlib.contextmanager
def on_dask(params: DaskParams, client=None) -> Iterator[object]:
    """Within this block every event builder's tasks run on the cluster (a given client, or one
    made from params); DuckDB in each task uses the worker's threads, not the machine's."""
    with contextlib.ExitStack() as stack:
        client = client or stack.enter_context(dask_client(params))
        stack.enter_context(partition_executor(client_map(client),
                                               threads_per_task=params.threads_per_worker))
        yield client


def build_features(features: FeaturesParams, dask: DaskParams, raw: Path, artifacts: Path, **kwargs):
    """`features.panel.build_features`, with event tables built on Dask when `dask.enabled`."""
    from features.panel import build_features as build

    if not dask.enabled:
        return build(features, raw, artifacts, **kwargs)
    with on_dask(dask):
        return build(features, raw, artifacts, **kwargs)


def train_xgb(client, X, y, xgb_params: dict, num_boost_round: int, npartitions: int = 4):
    """Train a booster with xgboost.dask on the cluster (for panels too big for one machine).

    Not bit-identical to single-process training: the quantile sketch and the row
    partitioning are distributed (../shared/STACK.md §2f); at the default panel's size
    single-process training is 3–5× faster.
    """
    import dask.dataframe as dd
    import xgboost.dask as dxgb

    frame = X.assign(_y=y)
    ddf = dd.from_pandas(frame, npartitions=npartitions)
    dtrain = dxgb.DaskQuantileDMatrix(client, ddf[list(X.columns)], ddf["_y"])
    out = dxgb.train(client, xgb_params, dtrain, num_boost_round=num_boost_round, verbose_eval=False)
    return out["booster"]
