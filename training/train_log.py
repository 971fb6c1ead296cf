"""What a training run logs to MLflow, as one typed record, and the one function that logs it.

The parent run (`backtest 2026-12-02 10:31 · K=5`) spans the whole training, backtest to
registration, and carries the params, the panel as its dataset input, the backtest forecasts
and evaluation tables as artifacts, the pooled metrics and the plots. Its children, named by
what they are and tagged `nexus.model` / `nexus.origin`: one per model and origin
(`origin 2019 · persistence`, metrics `origin_*`, timed by the backtest itself) and one per
model over all origins (`persistence · origins 2015–2023`, its pooled `backtest_*` metrics and
`origin_*` with the origin year as step, for the UI's charts). The final RiskModel is logged as
a pyfunc, registered, and its version tagged and described with the model card
(training/registry.py).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from features.panel import FeatureBuild
from nexus import tracking
from nexus.config import Params, PathsParams
from training import registry
from training.backtest import MODEL

# What a train artifact folder holds (and the parent run logs under backtest/).
BACKTEST = "backtest.parquet"
BACKTEST_SHAP = "backtest_shap.parquet"
CALIBRATION = "calibration.json"
EVALUATION = "evaluation"
ORIGIN_METRICS = ("auc", "average_precision", "brier", "log_loss")


@dataclass(frozen=True)
class TrainingRunLog:
    """Everything one training run logs; built by training/train.py once the model is saved."""

    params: Params
    paths: PathsParams
    features: FeatureBuild          # the panel the run was trained on
    directory: Path                 # the train artifact folder (BACKTEST, CALIBRATION, EVALUATION, ...)
    model_dir: Path                 # the saved RiskModel
    X_final: pd.DataFrame           # the final fit's rows, served columns (signature, input example)
    pooled: dict                    # {model: {metric: {value, low, high}}}, development origins
    pooled_holdout: dict            # the same on the holdout origins
    per_origin: pd.DataFrame        # model, origin, n, positives and every metric
    calibration: dict               # training.train.calibration_report
    plot_files: list[Path]
    panel_sha: str
    params_sha: str
    card: registry.ModelCard        # run_id filled in here, once the run exists
    tags: dict[str, str]            # e.g. nexus.experiment: on the run and on the model version
    started_ms: int | None = None   # when training began (epoch ms): the parent run's start
    spans: dict = field(default_factory=dict)  # (origin, model) → (start, end) epoch ms, from the backtest


def run_name(log: TrainingRunLog) -> str:
    """What the parent run is, as the MLflow runs table lists it."""
    when = datetime.fromtimestamp((log.started_ms or _now_ms()) / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")
    experiment = log.tags.get("nexus.experiment")
    k = log.params.training.ensemble.n_members
    return f"{experiment + ' · ' if experiment else ''}backtest {when} · K={k}"


def log_training_run(log: TrainingRunLog) -> tuple[str, str]:
    """Log the run, register the model and tag its version with the card; (model version, run id)."""
    experiment_id = tracking.use_experiment(log.paths, log.params.training.experiment_name)
    import mlflow

    c = tracking.client(log.paths)
    # created with the training's start (start_run takes no start time), then made the active run
    created = c.create_run(experiment_id, start_time=log.started_ms or _now_ms(), run_name=run_name(log),
                           tags=tracking.owner_tags())
    with mlflow.start_run(run_id=created.info.run_id) as parent:
        _log_inputs(mlflow, log)
        _log_backtest(mlflow, log)
        _log_children(c, experiment_id, parent.info.run_id, log)
        version = _log_model(mlflow, log)
        card = log.card.model_copy(update={"run_id": parent.info.run_id})
        n_features = log.X_final.shape[1]
        mlflow.set_tag("mlflow.note.content", registry.describe_version(card, n_features))  # UI description
        registry.register(log.paths, log.params.scoring.model_name, version, card, log.tags, n_features)
        return version, parent.info.run_id


def _log_inputs(mlflow, log: TrainingRunLog) -> None:
    features, card = log.features, log.card
    mlflow.set_tags({"nexus.stage": "train", "nexus.features_key": features.manifest.key,
                     "nexus.panel_sha256": log.panel_sha, "nexus.params_sha256": log.params_sha,
                     "nexus.folds": json.dumps(card.folds), "nexus.calibration": card.calibration,
                     **log.tags})
    flat = {f"training.{k}": v for k, v in _flatten(log.params.training.model_dump(mode="json")).items()}
    mlflow.log_params(flat | {"seed": log.params.seed, "n_features": log.X_final.shape[1]})
    panel_path = features.directory / "panel.parquet"
    dataset = mlflow.data.from_pandas(log.X_final.head(0), source=str(panel_path), name="panel",
                                      digest=log.panel_sha.split(":")[-1][:16])
    try:
        mlflow.log_input(dataset, context="training")
    except mlflow.exceptions.MlflowException as exc:   # two trains at once on a server store (PostgreSQL)
        if "duplicate" not in str(exc).lower():         # race to insert the same dataset: the loser's
            raise                                       # retry finds it and only links it to the run
        mlflow.log_input(dataset, context="training")
    mlflow.log_artifact(str(features.directory / "manifest.json"), artifact_path="panel")


def _log_backtest(mlflow, log: TrainingRunLog) -> None:
    for name in (BACKTEST, BACKTEST_SHAP, CALIBRATION):
        mlflow.log_artifact(str(log.directory / name), artifact_path="backtest")
    mlflow.log_artifacts(str(log.directory / EVALUATION), artifact_path="backtest/evaluation")
    for prefix, table in (("backtest", log.pooled), ("holdout", log.pooled_holdout)):
        for name, m in table.get(MODEL, {}).items():
            mlflow.log_metrics({f"{prefix}_{name}{end}": m[key] for end, key in
                                (("", "value"), ("_low", "low"), ("_high", "high")) if m[key] is not None})
    dev = log.calibration.get("development", {})
    if dev:
        mlflow.log_metrics({"backtest_ece_raw": dev["ece_raw"], "backtest_ece": dev["ece"],
                            "backtest_log_loss_raw": dev["log_loss_raw"],
                            "conformal_coverage": dev["set"]["coverage"],
                            "conformal_coverage_onsets": dev["set_onsets"].get("coverage", float("nan")),
                            "conformal_coverage_exits": dev["set_exits"].get("coverage", float("nan"))})
    for f in log.plot_files:
        mlflow.log_artifact(str(f), artifact_path="plots")


def _log_children(c, experiment_id: str, parent_id: str, log: TrainingRunLog) -> None:
    """Per model and origin one run (timed by the backtest), and per model one run over its origins."""
    from mlflow.entities import Metric, Param

    holdout_first = log.params.training.backtest.holdout_first_origin
    now = _now_ms()
    for model_name, g in log.per_origin.groupby("model", sort=False):
        spans = {int(o): log.spans.get((int(o), model_name), (now, now)) for o in g["origin"]}
        series = [Metric(f"{prefix}_{name}", m["value"], now, 0)
                  for prefix, table in (("backtest", log.pooled), ("holdout", log.pooled_holdout))
                  for name, m in table.get(model_name, {}).items() if m["value"] is not None]
        for row in g.itertuples():
            span = spans[row.origin]
            metrics = [Metric(k, v, span[1], row.origin) for k, v in _origin_metrics(row).items()]
            series += metrics
            _child(c, experiment_id, parent_id, f"origin {row.origin} · {model_name}", span,
                   {"nexus.model": model_name, "nexus.origin": str(row.origin),
                    "nexus.holdout": str(row.origin >= holdout_first).lower()},
                   metrics, [Param("model", model_name), Param("origin", str(row.origin))])
        _child(c, experiment_id, parent_id, f"{model_name} · origins {min(spans)}–{max(spans)}",
               (min(s[0] for s in spans.values()), max(s[1] for s in spans.values())),
               {"nexus.model": model_name}, series, [Param("model", model_name)])


def _origin_metrics(row) -> dict[str, float]:
    """An origin's own scores (`origin_*`, never the pooled `backtest_*` names); NaN ones left out."""
    values = {f"origin_{m}": float(getattr(row, m)) for m in ORIGIN_METRICS}
    return {k: v for k, v in values.items() if v == v} | {"origin_n_test": float(row.n),
                                                            "origin_positives": float(row.positives)}


def _child(c, experiment_id: str, parent_id: str, name: str, span: tuple[int, int], tags: dict,
           metrics: list, params: list) -> None:
    """A finished child run with its real start and end, in three store calls."""
    run = c.create_run(experiment_id, start_time=span[0], run_name=name,
                       tags={"mlflow.parentRunId": parent_id, "nexus.stage": "backtest", **tags,
                             **tracking.owner_tags()})
    c.log_batch(run.info.run_id, metrics=metrics, params=params)
    c.set_terminated(run.info.run_id, "FINISHED", end_time=span[1])


def _now_ms() -> int:
    return int(time.time() * 1000)


def _log_model(mlflow, log: TrainingRunLog) -> str:
    """The final RiskModel as a registered pyfunc; its version."""
    import mlflow.pyfunc
    import xgboost as xgb
    from mlflow.models import infer_signature

    from training.model import RiskModel
    from training.pyfunc import RiskModelPyfunc

    served = RiskModelPyfunc()
    served.model = RiskModel.load(log.model_dir)
    rows = log.X_final.head(50)
    signature = infer_signature(rows, served.predict(None, rows))
    info = mlflow.pyfunc.log_model(
        name="model", python_model=RiskModelPyfunc(), artifacts={"risk_model": str(log.model_dir)},
        signature=signature, input_example=log.X_final.head(5),
        registered_model_name=log.params.scoring.model_name,
        pip_requirements=[f"xgboost=={xgb.__version__}", f"pandas=={pd.__version__}", "venn-abers==1.5.4",
                          "scikit-learn", "shap"],
    )
    return str(info.registered_model_version)


def _flatten(tree: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in tree.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out |= _flatten(v, key + ".")
        else:
            out[key] = json.dumps(v) if isinstance(v, list) else v
    return out
