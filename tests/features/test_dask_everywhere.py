"""Every command that builds features — features, run, experiment run, tune, results — takes the
Dask path when `dask.enabled`, and the panel built there is the one built here.

Each command runs through the real CLI (`--set dask.enabled=true`, scheduler = a LocalCluster of one
in-process worker thread) up to its feature step: `features.panel.build_features` is replaced by a
recorder that stops the command there (training and the rest are the other stages' tests), and the
test checks the command handed it the session's dask params. One real build with those params then
shows the Dask path runs tasks on the cluster (a scheduler plugin counts them) and gives the panel
built here. `features.ocds_engine: python` because the columnar OCDS engine reads every file in one
DuckDB query and maps nothing (it does not use the cluster).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SOURCES = ["procurement_signals", "border_crossings"]  # builders that map tasks: what Dask runs
COMMANDS = {"features": ["features"], "run": ["run"], "experiment run": ["experiment", "run", "baseline"],
            "tune": ["tune", "--trials", "1"], "results": ["results"]}


class FeaturesBuilt(Exception):
    """Raised by the recorder: the command reached its feature step, which is what is tested."""


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    from features.synthetic import write_world

    raw = tmp_path_factory.mktemp("dask-everywhere") / "raw"
    write_world(raw, 31, 6, 2009, 2013, 40, 16, scale=2)  # scale 2: event tables in Parquet partitions
    return raw


@pytest.fixture(scope="module")
def cluster():
    """One worker thread in this process (cheap), its scheduler counting the tasks it finished."""
    from distributed import LocalCluster
    from distributed.diagnostics.plugin import SchedulerPlugin

    class Finished(SchedulerPlugin):
        name = "finished-tasks"

        def __init__(self):
            self.count = 0

        def transition(self, key, start, finish, *args, **kwargs):
            if finish == "memory":
                self.count += 1

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp://",
                      host="127.0.0.1", dashboard_address=None) as cluster:
        finished = Finished()
        cluster.scheduler.add_plugin(finished)
        cluster.finished = finished
        yield cluster


@pytest.fixture
def recorded(monkeypatch):
    """[(features params, dask params, raw, artifacts)] each call of build_features was handed; the first
    call stops the command (FeaturesBuilt) before anything is built or trained."""
    import features.panel

    seen = []

    def stop_after_recording(params, dask, raw, artifacts, **kwargs):
        seen.append((params, dask, raw, artifacts))
        raise FeaturesBuilt

    monkeypatch.setattr(features.panel, "build_features", stop_after_recording)
    return seen


def _settings(raw: Path, root: Path, **extra) -> dict:
    return {"paths.raw": str(raw), "paths.artifacts": str(root / "artifacts"),
            "paths.tracking_uri": f"sqlite:///{root / 'mlflow.db'}",
            "paths.optuna_storage": f"sqlite:///{root / 'optuna.db'}", "world.generate": False,
            "features.sources": SOURCES, "features.ocds_engine": "python",
            "features.years": {"first": 2010, "last": 2013}, **extra}


def _cli_args(settings: dict) -> list[str]:
    args = ["--params", str(REPO / "params.yaml")]
    for key, value in settings.items():
        args += ["--set", f"{key}={value if isinstance(value, str) else json.dumps(value)}"]
    return args


@pytest.fixture(scope="module")
def local_panel(raw, tmp_path_factory, make_params) -> tuple[str, Path]:
    """(features key, folder) of the panel built on this machine (dask disabled), from the same settings."""
    from features.panel import build_features

    root = tmp_path_factory.mktemp("local")
    params, paths = make_params(root, _settings(raw, root))
    assert not params.dask.enabled  # params.yaml's default: the reference path
    build = build_features(params.features, params.dask, paths.raw, paths.artifacts)
    return build.manifest.key, build.directory


@pytest.mark.parametrize("command", list(COMMANDS))
def test_each_command_hands_build_features_the_sessions_dask_params(command, raw, cluster, recorded, tmp_path):
    from typer.testing import CliRunner

    from nexus.cli import app

    settings = _settings(raw, tmp_path, **{"dask.enabled": True, "dask.scheduler": cluster.scheduler_address})
    result = CliRunner().invoke(app, [*_cli_args(settings), *COMMANDS[command]])
    assert isinstance(result.exception, FeaturesBuilt), result.output
    [(features, dask, raw_dir, artifacts)] = recorded
    assert dask.enabled and dask.scheduler == cluster.scheduler_address, command
    assert Path(raw_dir) == raw and Path(artifacts) == tmp_path / "artifacts"
    assert features.sources == SOURCES and features.ocds_engine == "python"


def test_the_dask_path_runs_on_the_cluster_and_gives_the_local_panel(raw, cluster, local_panel, tmp_path,
                                                                     make_params):
    """What every command above hands over, built: tasks run on the cluster, and the panel is the local one."""
    import pandas as pd

    from features.panel import build_features, load_panel

    settings = _settings(raw, tmp_path, **{"dask.enabled": True, "dask.scheduler": cluster.scheduler_address})
    params, paths = make_params(tmp_path, settings)
    before = cluster.finished.count
    build = build_features(params.features, params.dask, paths.raw, paths.artifacts)
    assert build.built and cluster.finished.count - before >= 2, "the build ran no task on the cluster"
    here_key, here_dir = local_panel
    assert build.manifest.key == here_key  # the same panel key, dask or not
    # equal to 1e-12, not byte for byte: DuckDB's multi-threaded float sums (the HHI) differ in the last bit
    pd.testing.assert_frame_equal(load_panel(build.directory)[0], load_panel(here_dir)[0], check_exact=False,
                                  rtol=1e-12)
