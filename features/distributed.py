"""The Dask path: event-level builders (and xgboost.dask training) on a dask.distributed cluster.

Nothing in a builder changes. Every event builder is a map over independent tasks (a
Parquet partition scanned by DuckDB, a byte range of an OCDS file, one country's releases)
followed by a small combine of partial sums run through the build's context; `on_dask` gives
a context whose maps run on a cluster, so the features are the same as on one machine
(tests/features/test_distributed.py checks it). `features.panel.build_features` uses it
when `params.dask.enabled`.
`params.dask.scheduler` names a running scheduler (tcp://host:8786); null starts a
LocalCluster of `n_workers` processes. Workers must see the raw files and a shared temp
folder (TMPDIR) at the same paths as the client, as on a shared filesystem.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator

from features.build_context import BuildContext
from nexus.config import DaskParams


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
def on_dask(params: DaskParams, context: BuildContext, client=None) -> Iterator[BuildContext]:
    """`context` with every event builder's tasks run on the cluster (a given client, or one made
    from params, closed on leaving); DuckDB in each task uses the worker's threads, not the machine's."""
    with contextlib.ExitStack() as stack:
        client = client or stack.enter_context(dask_client(params))
        yield dataclasses.replace(context, partition_map=client_map(client),
                                  duckdb_threads=params.threads_per_worker)


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
