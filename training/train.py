"""Training stage: rolling-origin backtest of XGBoost against baselines, final fit, registration.

Every number reported as skill comes from an origin's test rows, predicted by models fitted
only on rows whose outcomes were known at that origin (training/backtest.py). The final
model is then fitted on all labelled rows, logged to MLflow with the panel as its dataset
input, the backtest forecasts as artifacts (compare and promote read them from there), its
calibration and conformal thresholds as version tags, and registered under the configured
name with the `champion` alias on first registration only (later ones: nexus promote).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from features.panel import FeatureBuild, load_panel
from nexus.config import Params, PathsParams, TrainingParams
from nexus.manifest import (
    Manifest,
    atomic_path,
    atomic_write_text,
    is_complete,
    sha256_json,
    short,
    source_code_hash,
)
from nexus.tracking import mlflow_at
from training.backtest import KEYS, MODEL, Backtest, backtest, make_xgb
from training.calibration import coverage_table, expected_calibration_error
from training.metrics import METRICS, bootstrap_intervals, score_metrics
from training.selection import select_features
from training.targets import add_targets, target_column

BACKTEST = "backtest.parquet"
BACKTEST_SHAP = "backtest_shap.parquet"
CALIBRATION = "calibration.json"
METRICS_FILE = "metrics.json"
MODEL_FILE = "model.ubj"
__all__ = ["MODEL", "backtest", "make_xgb", "select_features", "train"]


@dataclass(frozen=True)
class TrainResult:
    directory: Path
    manifest: Manifest
    trained: bool

    @property
    def metrics(self) -> dict:
        return json.loads((self.directory / METRICS_FILE).read_text(encoding="utf-8"))


def labelled_rows(panel: pd.DataFrame, params: TrainingParams) -> tuple[pd.DataFrame, str]:
    frame = add_targets(panel, params.target, params.horizon_years)
    target = target_column(params.target, params.horizon_years)
    return frame, target


def summarize(predictions: pd.DataFrame, params: TrainingParams, seed: int) -> tuple[dict, pd.DataFrame]:
    """Pooled metrics with country-bootstrap intervals, and the per-origin table."""
    k = params.top_k
    pooled, rows = {}, []
    for model, g in predictions.groupby("model", sort=False):
        point = score_metrics(g["y"], g["p"], g["origin"], k)
        ci = bootstrap_intervals(g, k, params.bootstrap.n_resamples, params.bootstrap.level, seed)
        pooled[model] = {m: {"value": point[m], "low": ci[m][0], "high": ci[m][1]} for m in METRICS}
        for origin, go in g.groupby("origin"):
            rows.append({"model": model, "origin": int(origin), "n": len(go), "positives": int(go["y"].sum()),
                         **score_metrics(go["y"], go["p"], go["origin"], k)})
    return pooled, pd.DataFrame(rows)


def _mlflow(paths: PathsParams, experiment_name: str):
    mlflow = mlflow_at(paths.tracking_uri)
    if mlflow.get_experiment_by_name(experiment_name) is None:
        location = (Path(paths.artifacts) / "mlruns").as_uri()
        mlflow.create_experiment(experiment_name, artifact_location=location)
    mlflow.set_experiment(experiment_name)
    return mlflow


def _registered_version_exists(paths: PathsParams, name: str, version: str) -> bool:
    mlflow = mlflow_at(paths.tracking_uri)
    try:
        mlflow.MlflowClient().get_model_version(name, version)
        return True
    except Exception:  # noqa: BLE001 - any lookup failure means "retrain"
        return False


def calibration_report(bt: Backtest, params: TrainingParams) -> dict:
    """ECE before and after calibration, and conformal coverage, on the scored backtest rows."""
    x = bt.predictions[bt.predictions["model"] == MODEL]
    return {"method": params.calibration.method, "warmup_origins": params.calibration.warmup_origins,
            "ece_raw": expected_calibration_error(x["y"], x["p_raw"]),
            "ece_calibrated": expected_calibration_error(x["y"], x["p"]),
            "log_loss_raw": score_metrics(x["y"], x["p_raw"], x["origin"], params.top_k)["log_loss"],
            "log_loss_calibrated": score_metrics(x["y"], x["p"], x["origin"], params.top_k)["log_loss"],
            "conformal": {"level": params.calibration.conformal_level,
                          **coverage_table(x["y"], x["set_yes"], x["set_no"])},
            "final": {"calibrator": json.loads(bt.calibrator.to_json()),
                      "conformal": json.loads(bt.conformal.to_json())}}


def train(params: Params, paths: PathsParams, features: FeatureBuild, *, force: bool = False,
          register_alias: str | None = "champion", tags: dict[str, str] | None = None,
          progress: Callable[[str], None] | None = None) -> TrainResult:
    """Backtest, fit the final model, log everything to MLflow and register the model.

    `tags` (e.g. nexus.experiment) go on the run and the model version, and are part of the
    cache key: an experiment gets its own run even when its params equal another's.
    """
    step = progress or (lambda msg: None)
    tp, tags = params.training, dict(tags or {})
    params_dump = {"training": tp.model_dump(mode="json"), "seed": params.seed,
                   "model_name": params.scoring.model_name} | ({"tags": tags} if tags else {})
    code = source_code_hash([Path(__file__).parent])
    key = Manifest.compute_key("train", {}, params_dump, {"features": features.manifest.key}, code)
    directory = Path(paths.artifacts) / "train" / short(key)
    if not force and is_complete(directory):
        manifest = Manifest.read(directory)
        version = manifest.extra.get("model_version", "")
        if _registered_version_exists(paths, params.scoring.model_name, version):
            return TrainResult(directory, manifest, trained=False)

    panel, catalog, feature_manifest = load_panel(features.directory)
    frame, target = labelled_rows(panel, tp)
    chosen = select_features(catalog, tp)
    step(f"backtest: {len(chosen)} features, origins {tp.backtest.first_origin}–{tp.backtest.last_origin}")
    bt = backtest(frame, target, chosen, tp, params.seed, progress)
    predictions = bt.predictions
    pooled, per_origin = summarize(predictions, tp, params.seed)
    report = calibration_report(bt, tp)

    directory.mkdir(parents=True, exist_ok=True)
    with atomic_path(directory / BACKTEST) as tmp:
        predictions.to_parquet(tmp, index=False)
    with atomic_path(directory / BACKTEST_SHAP) as tmp:
        bt.shap.to_parquet(tmp, index=False)
    atomic_write_text(directory / CALIBRATION, json.dumps(report, indent=2))
    step("final fit on every labelled row")
    labelled = frame[frame[target].notna()]
    model = make_xgb(tp.xgb, params.seed).fit(labelled[chosen], labelled[target].astype(int))
    booster = model.get_booster()
    with atomic_path(directory / MODEL_FILE) as tmp:
        booster.save_model(str(tmp.with_suffix(".ubj")))
        os.replace(tmp.with_suffix(".ubj"), tmp)

    from training.plots import plot_per_origin, plot_reliability, plot_roc

    plots = directory / "plots"
    plots.mkdir(exist_ok=True)
    plot_files = [plot_roc(predictions, plots / "roc.png"),
                  plot_reliability(predictions, plots / "calibration.png"),
                  plot_per_origin(per_origin, "auc", plots / "auc_by_origin.png")]

    panel_sha = feature_manifest.outputs["panel.parquet"]
    params_sha = sha256_json(params.model_dump(mode="json"))
    step("logging to MLflow and registering the model")
    version, run_id = _log_to_mlflow(params, paths, directory, bt, pooled, per_origin, report, booster,
                                     labelled[chosen], plot_files, features, panel_sha, params_sha, chosen,
                                     register_alias, tags)
    ece = {m: expected_calibration_error(g["y"], g["p"]) for m, g in predictions.groupby("model", sort=False)}
    metrics_doc = {"target": target, "features": chosen, "pooled": pooled, "ece": ece, "calibration": report,
                   "per_origin": per_origin.to_dict(orient="records"), "n_train_final": int(len(labelled)),
                   "model_name": params.scoring.model_name, "model_version": version, "run_id": run_id}
    atomic_write_text(directory / METRICS_FILE, json.dumps(metrics_doc, indent=2))
    manifest = Manifest(stage="train", key=key, inputs={}, params=params_dump,
                        upstream={"features": features.manifest.key},
                        outputs={name: "" for name in (BACKTEST, BACKTEST_SHAP, CALIBRATION, MODEL_FILE,
                                                       METRICS_FILE)},
                        extra={"model_name": params.scoring.model_name, "model_version": version,
                               "run_id": run_id,
                               "panel_sha256": panel_sha, "params_sha256": params_sha,
                               "features_dir": str(features.directory)})
    manifest.write(directory)
    return TrainResult(directory, manifest, trained=True)


def folds_tag(predictions: pd.DataFrame, params: TrainingParams) -> str:
    """What a backtest was judged on, as a tag: compare and promote refuse to pair different ones."""
    rows = predictions[predictions["model"] == MODEL].sort_values(["origin", "iso3"])
    return json.dumps({"target": params.target, "horizon_years": params.horizon_years,
                       "origins": sorted(int(o) for o in rows["origin"].unique()), "rows": int(len(rows)),
                       "rows_sha256": sha256_json(rows[KEYS + ["y"]].astype(str).values.tolist())})


def _log_to_mlflow(params, paths, directory, bt, pooled, per_origin, report, booster, X_final, plot_files,
                   features, panel_sha, params_sha, chosen, register_alias, tags):
    _mlflow(paths, params.training.experiment_name)
    import mlflow
    import mlflow.xgboost
    import xgboost as xgb
    from mlflow.models import infer_signature

    tp = params.training
    flat = {f"training.{k}": v for k, v in _flatten(tp.model_dump(mode="json")).items()}
    run_name = tags.get("nexus.experiment", "train")
    folds = folds_tag(bt.predictions, params.training)
    with mlflow.start_run(run_name=run_name) as parent:
        mlflow.set_tags({"nexus.stage": "train", "nexus.features_key": features.manifest.key,
                         "nexus.panel_sha256": panel_sha, "nexus.params_sha256": params_sha,
                         "nexus.folds": folds, **tags})
        mlflow.log_params(flat | {"seed": params.seed, "n_features": len(chosen)})
        panel_path = features.directory / "panel.parquet"
        dataset = mlflow.data.from_pandas(X_final.head(0), source=str(panel_path), name="panel",
                                          digest=panel_sha.split(":")[-1][:16])
        mlflow.log_input(dataset, context="training")
        mlflow.log_artifact(str(features.directory / "manifest.json"), artifact_path="panel")
        for name in (BACKTEST, BACKTEST_SHAP, CALIBRATION):
            mlflow.log_artifact(str(directory / name), artifact_path="backtest")
        for name, m in pooled[MODEL].items():
            mlflow.log_metrics({f"backtest_{name}": m["value"], f"backtest_{name}_low": m["low"],
                                f"backtest_{name}_high": m["high"]})
        conformal = report["conformal"]
        mlflow.log_metrics({"backtest_ece_raw": report["ece_raw"],
                            "backtest_log_loss_raw": report["log_loss_raw"],
                            "conformal_coverage": conformal["coverage"],
                            "conformal_coverage_yes": conformal["coverage_yes"],
                            "conformal_coverage_no": conformal["coverage_no"],
                            "conformal_singleton_share": conformal["singleton_share"]})
        for f in plot_files:
            mlflow.log_artifact(str(f), artifact_path="plots")
        for model_name, g in per_origin.groupby("model", sort=False):
            with mlflow.start_run(run_name=f"model={model_name}", nested=True):
                mlflow.set_tags({"nexus.model": model_name, "nexus.stage": "backtest"})
                mlflow.log_metrics({f"backtest_{k}": v["value"] for k, v in pooled[model_name].items()})
                for row in g.itertuples():
                    mlflow.log_metrics({f"origin_{m}": getattr(row, m) for m in METRICS}, step=row.origin)
        for row in per_origin[per_origin["model"] == MODEL].itertuples():
            with mlflow.start_run(run_name=f"origin={row.origin}", nested=True):
                mlflow.set_tags({"nexus.origin": str(row.origin), "nexus.stage": "backtest"})
                mlflow.log_metrics({f"backtest_{m}": getattr(row, m) for m in METRICS} | {"n_test": row.n})
        example = X_final.head(5)
        signature = infer_signature(X_final.head(50), booster.predict(xgb.DMatrix(X_final.head(50))))
        info = mlflow.xgboost.log_model(
            booster, name="model", signature=signature, input_example=example,
            registered_model_name=params.scoring.model_name,
            pip_requirements=[f"xgboost=={xgb.__version__}", f"pandas=={pd.__version__}"],
        )
        version = str(info.registered_model_version)
        client = mlflow.MlflowClient()
        conformal_tag = json.loads(bt.conformal.to_json()) | {
            "backtest_coverage": round(conformal["coverage"], 4)}
        for tag, value in {"nexus.features_key": features.manifest.key, "nexus.panel_sha256": panel_sha,
                           "nexus.params_sha256": params_sha, "nexus.run_id": parent.info.run_id,
                           "nexus.backtest_auc": f"{pooled[MODEL]['auc']['value']:.4f}",
                           "nexus.training_params": json.dumps({"target": tp.target,
                                                                "horizon_years": tp.horizon_years}),
                           "nexus.calibration": bt.calibrator.to_json(),
                           "nexus.conformal": json.dumps(conformal_tag, separators=(",", ":")),
                           "nexus.folds": folds, **tags}.items():
            client.set_model_version_tag(params.scoring.model_name, version, tag, value)
        client.set_registered_model_alias(params.scoring.model_name, "latest-trained", version)
        if register_alias and _alias_is_free(client, params.scoring.model_name, register_alias):
            client.set_registered_model_alias(params.scoring.model_name, register_alias, version)
        return version, parent.info.run_id


def _alias_is_free(client, name: str, alias: str) -> bool:
    """The first registered version becomes champion; later ones must earn it (nexus promote)."""
    try:
        client.get_model_version_by_alias(name, alias)
        return False
    except Exception:  # noqa: BLE001 - no such alias yet
        return True


def _flatten(tree: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in tree.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out |= _flatten(v, key + ".")
        else:
            out[key] = json.dumps(v) if isinstance(v, list) else v
    return out


def pooled_table(metrics_doc: dict) -> pd.DataFrame:
    """The pooled backtest as a table: one row per model, value [low, high] per metric, then calibration."""
    rows = []
    cal = metrics_doc.get("calibration", {})
    for model, ms in metrics_doc["pooled"].items():
        row = {"model": model,
               **{m: f"{v['value']:.3f} [{v['low']:.3f}, {v['high']:.3f}]" for m, v in ms.items()}}
        if "ece" in metrics_doc:
            row["ece"] = f"{metrics_doc['ece'][model]:.3f}"
            if model == MODEL and cal:
                row["ece"] += f" (raw {cal['ece_raw']:.3f})"
                conformal = cal["conformal"]
                row[f"set coverage @{conformal['level']:.0%}"] = f"{conformal['coverage']:.3f}"
        rows.append(row)
    return pd.DataFrame(rows).fillna("")
