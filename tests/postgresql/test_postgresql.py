"""Past one machine, on a real PostgreSQL: an Optuna study shared by workers, an MLflow server, the service.

Everything is the real thing: `nexus tune` and `nexus train` as commands, a worker killed with
SIGKILL, `mlflow server` on a PostgreSQL backend answering HTTP, the service's own tables in
PostgreSQL. The cluster is the session's one throwaway cluster (conftest.py).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
NEXUS = [sys.executable, "-c", "from nexus.cli import cli; cli()"]
CHEAP = {"training.xgb.max_depth": 1, "training.xgb.n_estimators": 5, "training.bootstrap.n_resamples": 20}
ENV = os.environ | {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", "OMP_NUM_THREADS": "1"}


def _nexus(artifacts: Path, world_dir: Path, overrides: dict, *command: str) -> list[str]:
    """`nexus --set … COMMAND` on its own artifacts folder (holding a copy of the session's panel)."""
    sets = {"paths.raw": str(world_dir), "paths.artifacts": str(artifacts), **overrides}
    cmd = [*NEXUS, "--params", str(REPO / "params.yaml")]
    for key, value in sets.items():
        cmd += ["--set", f"{key}={value if isinstance(value, str) else json.dumps(value)}"]
    return [*cmd, *command]


def _artifacts_with_panel(small_features, folder: Path) -> Path:
    shutil.copytree(small_features.directory.parent, folder / "features")
    return folder


def _run(cmd: list[str], timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=timeout)


# ---- Optuna: a study on PostgreSQL shared by two workers, one killed, then resumed ------------------------

def test_tune_with_two_workers_on_postgresql_survives_a_killed_worker(postgres, small_features,
                                                                       small_overrides, world_dir, tmp_path):
    import optuna
    from optuna.trial import TrialState

    storage = postgres.database("optuna")
    artifacts = _artifacts_with_panel(small_features, tmp_path / "artifacts")
    sets = {**small_overrides, "paths.optuna_storage": storage,
            "paths.tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    tune = _nexus(artifacts, world_dir, sets, "tune", "--workers", "2", "--study", "pg")

    proc = subprocess.Popen([*tune, "--trials", "6"], env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        victim = None   # the pid of a worker in the middle of a trial
        for _ in range(600):   # a trial of the new run is running: SIGKILL its worker
            time.sleep(0.2)
            assert proc.poll() is None, proc.stderr.read()[-3000:]
            try:
                running = optuna.load_study(study_name="pg", storage=storage).get_trials(
                    states=(TrialState.RUNNING,))
            except KeyError:   # the study is not created yet
                continue
            if running and "pid" in running[0].user_attrs:
                victim = running[0].user_attrs["pid"]
                break
        assert victim is not None
        os.kill(victim, signal.SIGKILL)
        _, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode != 0 and "tuning worker(s) failed" in err and "Traceback" not in err, err[-3000:]
    before = optuna.load_study(study_name="pg", storage=storage)
    completed = {t.number: t.value for t in before.get_trials(states=(TrialState.COMPLETE,))}
    [left] = before.get_trials(states=(TrialState.RUNNING,))           # the killed worker's trial
    assert left.user_attrs["pid"] == victim

    resumed = _run([*tune, "--trials", "6"])
    assert resumed.returncode == 0 and "Traceback" not in resumed.stderr, resumed.stderr[-3000:]
    assert f"trial(s) {left.number} of a killed worker failed and queued again" in resumed.stderr
    after = optuna.load_study(study_name="pg", storage=storage)
    assert "best: trial" in resumed.stdout and not after.get_trials(states=(TrialState.RUNNING,
                                                                            TrialState.WAITING))
    assert len({t.user_attrs["pid"] for t in after.trials}) == 4   # two workers per run shared the study
    assert after.trials[left.number].state == TrialState.FAIL
    retried = [t for t in after.trials if t.number > left.number and t.params == left.params]
    assert retried and retried[0].state in (TrialState.COMPLETE, TrialState.PRUNED)   # retried once
    assert len(after.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))) == 6
    kept = {t.number: t.value for t in after.get_trials(states=(TrialState.COMPLETE,))}
    assert {n: kept.get(n) for n in completed} == completed           # every completed trial kept as it was


# ---- MLflow: a tracking server on PostgreSQL, two trains at once ------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mlflow_server(postgres, tmp_path):
    """`mlflow server` on a new PostgreSQL database, serving artifacts from its own folder (one worker,
    no job runner), the nexus experiment made on it first as docs/scaling.md says; yields (URI, backend)."""
    import httpx
    import mlflow

    backend, port = postgres.database("mlflow"), _free_port()
    cmd = [str(Path(sys.executable).parent / "mlflow"), "server", "--backend-store-uri", backend,
           "--artifacts-destination", str(tmp_path / "server-artifacts"), "--host", "127.0.0.1",
           "--port", str(port), "--workers", "1"]
    log = (tmp_path / "mlflow-server.log").open("w")
    server = subprocess.Popen(cmd, env=ENV | {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}, stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            assert server.poll() is None, (tmp_path / "mlflow-server.log").read_text()[-3000:]
            try:
                if httpx.get(f"{uri}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "mlflow-server.log").read_text()[-3000:]
            time.sleep(0.5)
        mlflow.MlflowClient(tracking_uri=uri).create_experiment("nexus-risk")
        yield uri, backend
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def test_two_trains_at_once_on_an_mlflow_server_on_postgresql(mlflow_server, small_features, small_overrides,
                                                              world_dir, tmp_path):
    import mlflow
    from sqlalchemy import create_engine, text

    uri, backend = mlflow_server
    procs = []
    for i in (1, 2):
        artifacts = _artifacts_with_panel(small_features, tmp_path / f"artifacts{i}")
        cmd = _nexus(artifacts, world_dir, {**small_overrides, **CHEAP, "paths.tracking_uri": uri}, "train")
        procs.append(subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True))
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0 and "Traceback" not in err, err[-3000:]
    lines = [next(line for line in out.splitlines() if line.startswith("train: trained")) for out, _ in outs]
    assert sorted(line.split(" version ")[1].split()[0] for line in lines) == ["1", "2"], lines

    c = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    versions = c.search_model_versions("name='nexus-risk-xgb'")
    assert sorted(str(v.version) for v in versions) == ["1", "2"]
    assert {c.get_run(v.run_id).info.status for v in versions} == {"FINISHED"}
    with create_engine(backend).connect() as conn:   # the server keeps them in PostgreSQL
        assert conn.execute(text("SELECT count(*) FROM model_versions")).scalar() == 2
    served = sorted((tmp_path / "server-artifacts").rglob("MLmodel"))   # models went to the server's store,
    assert len(served) >= 2, served                                        # not to the trainers' folders
    assert not [p for i in (1, 2) for p in (tmp_path / f"artifacts{i}").rglob("MLmodel")]


# ---- the service: tokens and reviews in PostgreSQL -------------------------------------------------------

def _service(pipeline, database_url: str):
    from fastapi.testclient import TestClient

    from service.app import create_app

    app = create_app(pipeline.params, pipeline.paths, database_url=database_url)
    client = TestClient(app)
    client.__enter__()
    app.state.catalog.wait_ready(120)
    assert app.state.catalog.ready, app.state.catalog.reason
    return app, client


def test_the_services_tokens_and_reviews_live_in_postgresql(postgres, pipeline):
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import DatabaseError

    from scoring.score import load_scores

    url = postgres.database("service")
    token_cmd = [*NEXUS, "--params", str(REPO / "params.yaml"),
                 "--set", f"scoring.service.database_url={url}", "token"]
    created = _run([*token_cmd, "create", "--role", "reviewer", "--name", "Ada on PostgreSQL"])
    assert created.returncode == 0, created.stderr[-2000:]
    secret = created.stdout.strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {secret}"}
    scores, *_ = load_scores(pipeline.scores.directory)
    year = int(scores["year"].max())
    iso3 = str(scores.loc[scores["year"] == year, "iso3"].iloc[0])

    app, client = _service(pipeline, url)   # the service reads the token the CLI wrote
    try:
        seen = client.get(f"/v1/explanations/{year}/{iso3}", headers=headers)
        assert seen.status_code == 200, seen.text
        first = client.post("/v1/reviews", headers=headers, json={
            "iso3": iso3, "year": year, "decision": "accept", "comment": "drivers match the sources",
            "explanation_sha256": seen.json()["explanation_sha256"]})
        assert first.status_code == 201, first.text
        second = client.post("/v1/reviews", headers=headers,
                             json={"iso3": iso3, "year": year, "decision": "flag", "comment": "second look"})
        assert second.status_code == 201 and second.json()["supersedes"] == first.json()["id"]
    finally:
        client.__exit__(None, None, None)

    listed = _run([*token_cmd, "list"])
    assert listed.returncode == 0 and "Ada on PostgreSQL" in listed.stdout, listed.stderr[-2000:]
    app, client = _service(pipeline, url)   # a restarted service: the trail and the status are still there
    try:
        trail = client.get(f"/v1/reviews/{year}/{iso3}", headers=headers)
        assert trail.status_code == 200, trail.text
        reviews = trail.json()["reviews"]
        assert [(r["decision"], r["reviewer"]) for r in reviews] == [("flag", "Ada on PostgreSQL"),
                                                                    ("accept", "Ada on PostgreSQL")]
        assert client.get(f"/v1/scores/{year}/{iso3}", headers=headers).json()["review_status"] == "flagged"
        token_id = reviews[0]["token_id"]
        assert _run([*token_cmd, "revoke", token_id]).returncode == 0
    finally:
        client.__exit__(None, None, None)

    app, client = _service(pipeline, url)
    try:
        assert client.get(f"/v1/scores/{year}/{iso3}", headers=headers).status_code == 401   # revoked
    finally:
        client.__exit__(None, None, None)
    engine = create_engine(url)   # the database itself keeps the trail append-only
    for statement in ("UPDATE reviews SET decision = 'flag'", "DELETE FROM reviews", "TRUNCATE reviews"):
        with pytest.raises(DatabaseError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    with engine.connect() as conn:
        kept = conn.execute(text("SELECT decision FROM reviews ORDER BY id")).scalars().all()
    assert kept == ["accept", "flag"]
