"""Tuning: judged on the backtest folds, resumable, shared by workers, refused on the wrong study."""

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from nexus.errors import NexusError
from training.tune import tune

REPO = Path(__file__).resolve().parents[2]
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


@pytest.fixture(scope="module")
def tuned(small_params, small_features, tmp_path_factory):
    root = tmp_path_factory.mktemp("tune")
    params, paths = small_params(root)
    first = tune(params, paths, small_features, n_trials=3, study_name="t", progress=lambda m: None)
    second = tune(params, paths, small_features, n_trials=5, study_name="t", progress=lambda m: None)
    return params, paths, first, second


def _study(paths, name="t"):
    return optuna.load_study(study_name=name, storage=paths.optuna_storage)


def test_a_rerun_completes_the_study_to_n_finished_trials(tuned):
    params, paths, first, second = tuned
    assert (first.finished, second.finished) == (3, 5)
    assert len(_study(paths).get_trials(states=FINISHED)) == 5
    assert second.parent_run_id == first.parent_run_id  # the resumed study logs under the same parent


def test_trials_are_child_runs_of_one_mlflow_parent(tuned):
    from nexus.tracking import client

    params, paths, _, second = tuned
    c = client(paths)
    exp = c.get_experiment_by_name(params.training.experiment_name)
    children = c.search_runs([exp.experiment_id], f"tags.`mlflow.parentRunId` = '{second.parent_run_id}'")
    assert sorted(int(r.data.tags["nexus.trial"]) for r in children) == list(range(5))
    parent = c.get_run(second.parent_run_id)
    assert parent.data.tags["nexus.stage"] == "tune" and parent.info.status == "FINISHED"


def test_the_objective_is_the_mean_backtest_score_over_the_same_folds(tuned, small_features):
    """Re-run the best trial's settings through the ordinary backtest: same number, not a training score."""
    from features.panel import load_panel
    from training.backtest import MODEL, backtest
    from training.metrics import score_metrics
    from training.selection import select_features
    from training.train import labelled_rows

    params, _, _, second = tuned
    best = {k.split(".")[-1]: v for k, v in second.best_overrides.items()}
    xgb = params.training.xgb.model_copy(update=best)
    tp = params.training.model_copy(update={"xgb": xgb})
    panel, catalog, _ = load_panel(small_features.directory)
    frame, target = labelled_rows(panel, tp)
    result = backtest(frame, target, select_features(catalog, tp), tp, params.seed, xgb_only=True)
    x = result.development[result.development["model"] == MODEL]
    per_origin = [score_metrics(g["y"], g["p"], g["origin"], tp.top_k)["log_loss"]
                  for _, g in x.groupby("origin")]
    assert len(per_origin) == 3   # development origins only: the holdout is never a trial's score
    assert second.best_value == pytest.approx(float(np.mean(per_origin)), rel=1e-6)


def test_a_trial_never_reads_the_holdout(tuned, small_features):
    """Flip every holdout outcome: a trial's value is unchanged, because those rows are never fitted."""
    import optuna

    from training.tune_objective import Objective

    params, paths, _, second = tuned
    objective = Objective(params, paths, small_features.directory, second.parent_run_id)
    before = objective(optuna.trial.FixedTrial({"n_estimators": 10, "max_depth": 2, "learning_rate": 0.1}))
    holdout = objective.frame["year"] >= params.training.backtest.holdout_first_origin
    objective.frame.loc[holdout, objective.target] = 1 - objective.frame.loc[holdout, objective.target]
    after = objective(optuna.trial.FixedTrial({"n_estimators": 10, "max_depth": 2, "learning_rate": 0.1}))
    assert after == before


def test_best_params_file_is_an_override_file_an_experiment_can_use(tuned, tmp_path):
    from experiments.runner import load_experiment, resolve

    params, _, _, second = tuned
    (tmp_path / "tuned.yaml").write_text(f"description: tuned\noverrides_from: {second.best_file}\n")
    resolved = resolve(load_experiment("tuned", tmp_path), params)
    for key, value in second.best_overrides.items():
        assert getattr(resolved.training.xgb, key.split(".")[-1]) == value


def test_a_study_for_another_objective_is_refused_and_keeps_its_trials(tuned, small_params, small_features):
    params, paths, _, _ = tuned
    other, _ = small_params(Path(paths.artifacts).parent, {"tuning.metric": "auc"})
    with pytest.raises(NexusError, match=r"study 't' .* belongs to another objective \(.*metric: study has "
                                         r"'log_loss', this run has 'auc'.*its 5 trials are untouched"):
        tune(other, paths, small_features, n_trials=6, study_name="t", progress=lambda m: None)
    assert len(_study(paths).trials) == 5


def test_an_unreachable_storage_is_a_clear_error(tuned, small_features, tmp_path):
    params, paths, _, _ = tuned
    with pytest.raises(NexusError, match=r"cannot reach the study storage sqlite:////nonexistent/"):
        tune(params, paths, small_features, n_trials=1, storage="sqlite:////nonexistent/dir/optuna.db")
    with pytest.raises(NexusError, match=r"cannot reach the study storage postgresql://analyst:\*\*\*@"):
        tune(params, paths, small_features, n_trials=1, storage="postgresql://analyst:secret@127.0.0.1:9/nexus")


def test_the_study_opens_in_optuna_dashboard(tuned):
    from wsgiref.util import setup_testing_defaults

    from optuna_dashboard import wsgi

    _, paths, _, _ = tuned
    app = wsgi(paths.optuna_storage)
    environ = {"PATH_INFO": "/api/studies", "REQUEST_METHOD": "GET", "wsgi.input": io.BytesIO()}
    setup_testing_defaults(environ)
    status = []
    body = b"".join(app(environ, lambda s, h, *a: status.append(s)))
    assert status[0].startswith("200")
    assert [s["study_name"] for s in json.loads(body)["study_summaries"]] == ["t"]


# ---- several processes (slow: each process imports xgboost and mlflow) ------------------------------------

def _nexus(paths, world_dir, small_overrides, extra):
    sets = [f"paths.raw={world_dir}", f"paths.artifacts={paths.artifacts}",
            f"paths.tracking_uri={paths.tracking_uri}", f"paths.optuna_storage={paths.optuna_storage}",
            *(f"{k}={json.dumps(v)}" for k, v in small_overrides.items())]
    cmd = [str(Path(sys.executable).parent / "nexus"), "--params", str(REPO / "params.yaml")]
    for s in sets:
        cmd += ["--set", s]
    return cmd + extra


@pytest.mark.slow
def test_a_killed_tuning_process_resumes_and_the_trial_count_adds_up(small_params, small_overrides, world_dir,
                                                                      tmp_path):
    _, paths = small_params(tmp_path)
    cmd = _nexus(paths, world_dir, small_overrides, ["tune", "--trials", "8", "--study", "k"])
    env = os.environ | {"MLFLOW_DISABLE_TELEMETRY": "true"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        finished_before = 0
        for _ in range(600):  # poll the study, not the clock: kill once two trials are in
            time.sleep(0.5)
            try:
                finished_before = len(_study(paths, "k").get_trials(states=FINISHED))
            except KeyError:
                continue
            if finished_before >= 2 or proc.poll() is not None:
                break
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    killed_with = len(_study(paths, "k").get_trials(states=FINISHED))
    assert 2 <= killed_with < 8
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    study = _study(paths, "k")
    assert len(study.get_trials(states=FINISHED)) == 8
    assert f"{killed_with} finished, {8 - killed_with} to run" in done.stderr
    assert not study.get_trials(states=(TrialState.RUNNING,))   # the killed trial was failed, not left
    from nexus.tracking import client

    c = client(paths)
    experiment = c.get_experiment_by_name("nexus-risk").experiment_id
    runs = c.search_runs([experiment], "attributes.status = 'RUNNING'")
    assert not runs   # the killed trial's child run was closed as KILLED by the rerun


@pytest.mark.slow
def test_two_worker_processes_on_one_sqlite_study_finish_n_trials_in_total(small_params, small_overrides,
                                                                           world_dir, tmp_path):
    _, paths = small_params(tmp_path)
    args = ["tune", "--trials", "6", "--workers", "2", "--study", "w"]
    cmd = _nexus(paths, world_dir, small_overrides, args)
    done = subprocess.run(cmd, env=os.environ | {"MLFLOW_DISABLE_TELEMETRY": "true"}, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    trials = _study(paths, "w").get_trials(states=FINISHED)
    assert len(trials) == 6
    assert len({t.user_attrs["pid"] for t in trials}) == 2
