"""Trial logging: a child run of the study's parent, and bookkeeping that never costs a trial."""

import pytest

from nexus import tracking
from nexus.config import PathsParams
from training import tune_log
from training.tune_log import TrialRun, quietly


@pytest.fixture
def paths(tmp_path):
    return PathsParams(raw=tmp_path / "raw", artifacts=tmp_path / "artifacts",
                       tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
                       optuna_storage=f"sqlite:///{tmp_path / 'optuna.db'}")


def test_a_failing_call_is_retried_then_given_up_without_raising(monkeypatch):
    monkeypatch.setattr(tune_log.time, "sleep", lambda s: None)
    calls = []

    def flaky(n_failures):
        calls.append(1)
        if len(calls) <= n_failures:
            raise RuntimeError("database is locked")
        return "logged"

    assert quietly(flaky, 2) == "logged" and len(calls) == 3
    calls.clear()
    assert quietly(flaky, 3) is None and len(calls) == 3


def test_a_trial_run_is_a_child_of_the_parent_with_its_params_steps_and_end_state(paths):
    c = tracking.client(paths)
    experiment_id = tracking.use_experiment(paths, "tune-log")
    parent = c.create_run(experiment_id, run_name="tune s").info.run_id
    run = TrialRun.start(paths, parent, 4, {"max_depth": 3, "learning_rate": 0.1})
    for origin, value in ((2015, 0.5), (2016, 0.4)):
        run.log({"origin_log_loss": value}, step=origin)
    run.end("KILLED", {"nexus.pruned": "true"})

    child = c.get_run(run.run_id)
    assert child.data.tags["mlflow.parentRunId"] == parent
    assert (child.data.tags["nexus.stage"], child.data.tags["nexus.trial"]) == ("tune-trial", "4")
    assert child.data.tags["nexus.pruned"] == "true" and child.info.status == "KILLED"
    assert child.data.params == {"training.xgb.max_depth": "3", "training.xgb.learning_rate": "0.1"}
    steps = [(m.step, m.value) for m in c.get_metric_history(run.run_id, "origin_log_loss")]
    assert sorted(steps) == [(2015, 0.5), (2016, 0.4)]


def test_a_trial_run_that_could_not_be_created_logs_nothing():
    class Refuses:
        def __getattr__(self, name):
            raise AssertionError(f"{name} called on a run that does not exist")

    run = TrialRun(Refuses(), None)
    run.log({"origin_log_loss": 0.5}, step=2015)
    run.end("FAILED", {"nexus.pruned": "true"})
