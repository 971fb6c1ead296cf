"""The Dask path: every event builder gives the same features on a LocalCluster as on one machine."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.build_context import BuildContext
from features.registry import get_source
from nexus.config import DaskParams

DASK = DaskParams(enabled=True, scheduler=None, n_workers=2, threads_per_worker=1)
SOURCES = ["procurement_signals", "procurement_bids", "border_crossings", "court_cases", "press_incidents"]


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    from features.synthetic import write_world

    raw = tmp_path_factory.mktemp("dask") / "raw"
    write_world(raw, 31, 14, 2009, 2013, 40, 16, scale=2)
    return raw


@pytest.fixture(scope="module")
def client():
    from features.distributed import dask_client

    with dask_client(DASK) as client:
        yield client


def _files(name, raw):
    return get_source(name).find_files(raw)


def test_event_builders_on_dask_equal_the_single_machine_path(raw, client):
    from features.distributed import on_dask

    here = BuildContext.for_policy("refuse")
    local = {n: get_source(n).build(_files(n, raw), here) for n in SOURCES}
    with on_dask(DASK, BuildContext.for_policy("refuse"), client) as there:
        remote = {n: get_source(n).build(_files(n, raw), there) for n in SOURCES}
    for name in SOURCES:
        assert len(local[name]) > 50
        pd.testing.assert_frame_equal(local[name].drop(columns=["_row", "_file"]),
                                      remote[name].drop(columns=["_row", "_file"]), check_exact=False, rtol=1e-12)


def test_quarantine_reports_the_same_counts_on_dask(raw, client, tmp_path):
    import shutil

    from features.distributed import on_dask

    copy = tmp_path / "raw"
    shutil.copytree(raw / "court_cases", copy / "court_cases")
    (copy / "court_cases" / "cases_2011.parquet").write_bytes(b"not parquet")
    shutil.copytree(raw / "wb_wdi", copy / "wb_wdi")
    reports = []
    for use_dask in (False, True):
        context = BuildContext.for_policy("quarantine")
        if use_dask:
            with on_dask(DASK, context, client) as on_cluster:
                get_source("court_cases").build(_files("court_cases", copy), on_cluster)
        else:
            get_source("court_cases").build(_files("court_cases", copy), context)
        reports.append(context.quality.as_dict())
    assert reports[0] == reports[1]
    bad = [p for p in reports[0]["tables"]["court_cases"] if p["error"]]
    assert [Path(p["path"]).name for p in bad] == ["cases_2011.parquet"]


def test_panel_built_on_dask_equals_the_panel_built_here(raw, tmp_path, client, make_params):
    from features.panel import build_features, load_panel

    params, paths = make_params(tmp_path, {"paths.raw": str(raw), "features.years": {"first": 2010, "last": 2013},
                                           "features.sources": SOURCES})
    here = build_features(params.features, params.dask, paths.raw, tmp_path / "a")
    on_cluster = DASK.model_copy(update={"scheduler": client.scheduler.address})  # the fixture's cluster
    there = build_features(params.features, on_cluster, paths.raw, tmp_path / "b")
    assert here.manifest.key == there.manifest.key
    a, b = load_panel(here.directory)[0], load_panel(there.directory)[0]
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12)
    assert {"procurement_bids_single_bid_share", "court_conviction_rate", "press_incidents_per_million"} <= set(a)


def test_xgboost_dask_trains_on_the_same_cluster(client):
    from sklearn.metrics import roc_auc_score

    from features.distributed import train_xgb

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(400, 4)), columns=list("abcd"))
    y = (X["a"] + 0.5 * X["b"] + rng.normal(0, 0.5, 400) > 0).astype(int)
    booster = train_xgb(client, X, y, {"objective": "binary:logistic", "tree_method": "hist", "max_depth": 3,
                                        "nthread": 1}, num_boost_round=30, npartitions=2)
    import xgboost as xgb

    assert roc_auc_score(y, booster.predict(xgb.DMatrix(X))) > 0.9
