"""The tracking store made in a child process while `nexus run` writes the world."""

import sqlite3

from nexus.tracking import mlflow_at, open_store_aside


def test_a_new_sqlite_store_is_made_aside_and_then_opens(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    child = open_store_aside(uri)
    assert child is not None
    assert child.wait(timeout=120) == 0
    tables = {r[0] for r in sqlite3.connect(tmp_path / "mlflow.db").execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"experiments", "runs", "registered_models", "model_versions"} <= tables
    assert mlflow_at(uri).MlflowClient().search_experiments()  # the Default experiment


def test_nothing_is_started_for_an_existing_store_or_a_server(tmp_path):
    db = tmp_path / "mlflow.db"
    db.write_bytes(b"")
    assert open_store_aside(f"sqlite:///{db}") is None
    assert open_store_aside("http://127.0.0.1:5000") is None
