"""The session quiets library chatter a user cannot act on, and --debug keeps all of it."""

import logging
import os
import subprocess
import sys

from nexus.console import quiet_libraries


def _record(name: str, message: str) -> logging.LogRecord:
    return logging.LogRecord(name, logging.WARNING, __file__, 1, message, None, None)


def test_known_mlflow_noise_is_dropped_and_other_warnings_kept(monkeypatch):
    monkeypatch.setenv("MLFLOW_LOGGING_LEVEL", "")  # so the test's undo removes what quiet_libraries sets
    monkeypatch.delenv("MLFLOW_LOGGING_LEVEL")
    quiet_libraries(debug=False)
    logger = logging.getLogger("mlflow.pyfunc")
    assert not logger.filter(_record("mlflow.pyfunc", "Passing a Python object as `python_model` causes it"))
    assert logger.filter(_record("mlflow.pyfunc", "the model signature does not match"))


def test_store_creation_lines_are_gone_without_debug_and_back_with_it(tmp_path):
    script = ("import sys, os; from nexus.console import quiet_libraries; quiet_libraries(sys.argv[1] == 'debug');"
              "import mlflow; mlflow.set_tracking_uri('sqlite:///' + sys.argv[2]); mlflow.search_experiments()")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_LOGGING_LEVEL"}
    quiet = subprocess.run([sys.executable, "-c", script, "quiet", str(tmp_path / "a.db")],
                           capture_output=True, text=True, check=True, env=env)
    loud = subprocess.run([sys.executable, "-c", script, "debug", str(tmp_path / "b.db")],
                          capture_output=True, text=True, check=True, env=env)
    assert "Creating initial MLflow database tables" not in quiet.stderr
    assert "Creating initial MLflow database tables" in loud.stderr


def test_settle_heap_takes_what_is_alive_out_of_later_collections():
    import gc

    from nexus.console import settle_heap

    alive = [object() for _ in range(10)]
    try:
        settle_heap()
        assert gc.get_freeze_count() >= len(alive)
    finally:
        gc.unfreeze()
