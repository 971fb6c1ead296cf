"""The tools users already have, labelled: the MLflow UI and optuna-dashboard read our runs as what they are.

Read back from the real SQLite stores the pipeline and a two-trial study wrote.
"""

import re

import optuna
import pytest

from nexus import tracking
from training.backtest import MODEL


@pytest.fixture(scope="module")
def store(pipeline):
    c = tracking.client(pipeline.paths)
    experiment = c.get_experiment_by_name(pipeline.params.training.experiment_name)
    run_id = pipeline.training.metrics["run_id"]
    children = c.search_runs([experiment.experiment_id], f"tags.`mlflow.parentRunId` = '{run_id}'",
                             max_results=1000)
    return c, experiment, c.get_run(run_id), children


def _seconds(run) -> float:
    return (run.info.end_time - run.info.start_time) / 1000


def test_the_experiment_opens_on_its_training_runs_not_the_genai_overview(store):
    _, experiment, _, _ = store
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"


def test_runs_are_named_by_what_they_are(store, pipeline):
    _, _, parent, children = store
    k = pipeline.params.training.ensemble.n_members
    assert re.fullmatch(rf"backtest \d{{4}}-\d\d-\d\d \d\d:\d\d · K={k}", parent.info.run_name)
    names = {r.info.run_name for r in children}
    origins = pipeline.training.metrics["development_origins"] + pipeline.training.metrics["holdout_origins"]
    models = list(pipeline.training.metrics["pooled"])
    assert {"persistence", MODEL} <= set(models)
    assert {f"origin {o} · {m}" for o in origins for m in models} <= names
    assert {f"{m} · origins {min(origins)}–{max(origins)}" for m in models} <= names
    assert parent.data.tags["mlflow.note.content"].startswith("Forecasts the probability")


def test_per_origin_runs_carry_model_and_origin_and_their_own_metric_names(store, pipeline):
    _, _, parent, children = store
    per_origin = [r for r in children if "nexus.origin" in r.data.tags]
    row = next(r for r in pipeline.training.metrics["per_origin"] if r["model"] == "persistence")
    run = next(r for r in per_origin if r.data.tags["nexus.model"] == "persistence"
               and r.data.tags["nexus.origin"] == str(row["origin"]))
    assert run.info.run_name == f"origin {row['origin']} · persistence"
    assert run.data.metrics["origin_auc"] == pytest.approx(row["auc"])
    assert run.data.metrics["origin_n_test"] == row["n"]
    assert not any(name.startswith("backtest_") for r in per_origin for name in r.data.metrics)
    assert "backtest_auc" in parent.data.metrics   # the pooled name stays the parent's


def test_the_parent_spans_the_whole_training_and_children_their_own_fits(store):
    _, _, parent, children = store
    per_origin = [r for r in children if "nexus.origin" in r.data.tags]
    assert all(r.info.status == "FINISHED" for r in children) and parent.info.status == "FINISHED"
    assert all(parent.info.start_time <= r.info.start_time <= r.info.end_time <= parent.info.end_time
               for r in children)
    assert _seconds(parent) >= sum(_seconds(r) for r in per_origin) > 0
    xgb = [r for r in per_origin if r.data.tags["nexus.model"] == MODEL]
    assert min(_seconds(r) for r in xgb) > 0   # a fit of K boosters, not the instant it was logged


def test_the_registered_model_and_its_version_are_described_in_words(pipeline):
    c = tracking.client(pipeline.paths)
    name, version = pipeline.params.scoring.model_name, pipeline.training.metrics["model_version"]
    model, mv = c.get_registered_model(name), c.get_model_version(name, version)
    assert "Tier 2 Watch List or Tier 3" in model.description
    text = mv.description
    k, served = pipeline.params.training.ensemble.n_members, pipeline.training.metrics["features_served"]
    for words in ("Tier 2 Watch List or Tier 3", f"K={k}", f"{len(served)} features", "vs persistence",
                  pipeline.training.manifest.extra["panel_sha256"]):
        assert words in text, words


def test_the_study_names_its_metric_reports_at_origin_years_and_links_each_trial_to_its_run(
        small_params, small_features, tmp_path):
    from training.tune import tune

    tiny = {"training.calibration.warmup_origins": 0,   # one trial of three tiny fits is enough here
            "tuning.search": {"n_estimators": {"type": "int", "low": 5, "high": 10, "log": False},
                              "max_depth": {"type": "int", "low": 1, "high": 2, "log": False}}}
    params, paths = small_params(tmp_path, tiny)
    result = tune(params, paths, small_features, n_trials=1, study_name="labels", progress=lambda m: None)
    study = optuna.load_study(study_name="labels", storage=paths.optuna_storage)
    bt = params.training.backtest
    assert study.metric_names == [f"mean log_loss over development origins {bt.first_origin}–"
                                  f"{bt.holdout_first_origin - 1}"]
    (trial,) = study.trials
    assert sorted(trial.intermediate_values) == list(range(bt.first_origin, bt.holdout_first_origin))
    run = tracking.client(paths).get_run(trial.user_attrs["mlflow_run_id"])
    assert run.data.tags["mlflow.parentRunId"] == result.parent_run_id
    assert run.data.tags["nexus.trial"] == str(trial.number)
    shown = _dashboard(paths.optuna_storage, f"/api/studies/{study._study_id}")  # what the dashboard shows
    assert shown["objective_names"] == study.metric_names
    assert [v["step"] for v in shown["trials"][0]["intermediate_values"]] == sorted(trial.intermediate_values)
    assert {"key": "mlflow_run_id", "value": run.info.run_id} in shown["trials"][0]["user_attrs"]


def _dashboard(storage: str, path: str) -> dict:
    import io
    import json
    from wsgiref.util import setup_testing_defaults

    from optuna_dashboard import wsgi

    environ = {"PATH_INFO": path, "REQUEST_METHOD": "GET", "wsgi.input": io.BytesIO()}
    setup_testing_defaults(environ)
    status = []
    body = b"".join(wsgi(storage)(environ, lambda s, h, *a: status.append(s)))
    assert status[0].startswith("200"), body[:200]
    return json.loads(body)
