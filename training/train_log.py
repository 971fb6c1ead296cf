"""What a training run logs to MLflow, as one typed record, and the one function that logs it.

The parent run carries the params, the panel as its dataset input, the backtest forecasts and
evaluation tables as artifacts, the pooled metrics and the plots; each model and each origin
of the backtest is a child run; the final RiskModel is logged as a pyfunc, registered, and its
version tagged with the model card (training/registry.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
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


def log_training_run(log: TrainingRunLog) -> tuple[str, str]:
    """Log the run, register the model and tag its version with the card; (model version, run id)."""
    tracking.use_experiment(log.paths, log.params.training.experiment_name)
    import mlflow

    name = log.tags.get("nexus.experiment", "train")
    with mlflow.start_run(run_name=name, tags=tracking.owner_tags()) as parent:
        _log_inputs(mlflow, log)
        _log_backtest(mlflow, log)
        _log_children(mlflow, log)
        version = _log_model(mlflow, log)
        card = log.card.model_copy(update={"run_id": parent.info.run_id})
        registry.register(log.paths, log.params.scoring.model_name, version, card, log.tags)
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


def _log_children(mlflow, log: TrainingRunLog) -> None:
    """One child run per model (its per-origin metrics as steps), and one per origin of the product model."""
    per_origin = log.per_origin
    for model_name, g in per_origin.groupby("model", sort=False):
        with mlflow.start_run(run_name=f"model={model_name}", nested=True, tags=tracking.owner_tags()):
            mlflow.set_tags({"nexus.model": model_name, "nexus.stage": "backtest"})
            mlflow.log_metrics({f"backtest_{k}": v["value"] for k, v in log.pooled[model_name].items()
                                if v["value"] is not None})
            for row in g.itertuples():
                mlflow.log_metrics({f"origin_{m}": getattr(row, m) for m in ORIGIN_METRICS}, step=row.origin)
    holdout_first = log.params.training.backtest.holdout_first_origin
    for row in per_origin[per_origin["model"] == MODEL].itertuples():
        with mlflow.start_run(run_name=f"origin={row.origin}", nested=True, tags=tracking.owner_tags()):
            mlflow.set_tags({"nexus.origin": str(row.origin), "nexus.stage": "backtest",
                             "nexus.holdout": str(row.origin >= holdout_first).lower()})
            mlflow.log_metrics({f"backtest_{m}": getattr(row, m) for m in ORIGIN_METRICS
                                if getattr(row, m) == getattr(row, m)} | {"n_test": row.n})


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
