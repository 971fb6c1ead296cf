"""Training stage: rolling-origin backtest of XGBoost against baselines, final fit, registration.

Every number reported as skill comes from an origin's test rows, predicted by models fitted
only on rows whose outcomes were known at that origin. The final model is then fitted on
all labelled rows, logged to MLflow with the panel as its dataset input and registered
under the configured name with the `champion` alias (on first registration).
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
from nexus.manifest import Manifest, atomic_path, atomic_write_text, is_complete, sha256_json, short, source_code_hash
from training.baselines import BaseRateClassifier, PersistenceClassifier, corruption_index_logistic
from training.metrics import METRICS, bootstrap_intervals, score_metrics
from training.splits import RollingOriginByYear
from training.targets import add_targets, target_column

MODEL = "xgboost"
BACKTEST = "backtest.parquet"
METRICS_FILE = "metrics.json"
MODEL_FILE = "model.ubj"


@dataclass(frozen=True)
class TrainResult:
    directory: Path
    manifest: Manifest
    trained: bool

    @property
    def metrics(self) -> dict:
        return json.loads((self.directory / METRICS_FILE).read_text(encoding="utf-8"))


def select_features(catalog: dict, params: TrainingParams) -> list[str]:
    """Feature columns after exclusions by name, source or family; label history only if asked."""
    excluded = set(params.exclude_features)
    chosen = [c for c, info in catalog.items()
              if info["family"] != "label" and not excluded & {c, info["source"], info["family"]}]
    if params.include_label_history:
        chosen.append("label_tier")
    return chosen


def make_xgb(params: TrainingParams, seed: int):
    import xgboost as xgb

    x = params.xgb
    return xgb.XGBClassifier(
        n_estimators=x.n_estimators, max_depth=x.max_depth, learning_rate=x.learning_rate, subsample=x.subsample,
        colsample_bytree=x.colsample_bytree, min_child_weight=x.min_child_weight, reg_lambda=x.reg_lambda,
        max_bin=x.max_bin, n_jobs=x.n_jobs, tree_method="hist", objective="binary:logistic",
        eval_metric="logloss", random_state=seed,
    )


def model_factories(params: TrainingParams, seed: int) -> dict[str, Callable[[], object]]:
    factories: dict[str, Callable[[], object]] = {MODEL: lambda: make_xgb(params, seed)}
    if "base_rate" in params.baselines:
        factories["base_rate"] = BaseRateClassifier
    if "persistence" in params.baselines:
        factories["persistence"] = PersistenceClassifier
    if "cpi_logistic" in params.baselines:
        factories["cpi_logistic"] = corruption_index_logistic
    return factories


def labelled_rows(panel: pd.DataFrame, params: TrainingParams) -> tuple[pd.DataFrame, str]:
    frame = add_targets(panel, params.target, params.horizon_years)
    target = target_column(params.target, params.horizon_years)
    return frame, target


def backtest(frame: pd.DataFrame, target: str, features: list[str], params: TrainingParams, seed: int,
             progress: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Out-of-sample predictions of every model at every origin (iso3, year, origin, model, y, p)."""
    step = progress or (lambda msg: None)
    labelled = frame[frame[target].notna()].reset_index(drop=True)
    splitter = RollingOriginByYear(params.backtest.first_origin, params.backtest.last_origin, params.horizon_years)
    extra = [c for c in ("label_tier", "cpi_score") if c not in features]
    X = labelled[features + extra]
    y = labelled[target].to_numpy(int)
    out = []
    for train_idx, test_idx in splitter.split(X, y, groups=labelled["year"].to_numpy()):
        origin = int(labelled["year"].iat[test_idx[0]])
        step(f"origin {origin}: train {len(train_idx)} rows, test {len(test_idx)}")
        for name, factory in model_factories(params, seed).items():
            cols = features if name == MODEL else features + extra
            model = factory().fit(X.iloc[train_idx][cols], y[train_idx])
            p = model.predict_proba(X.iloc[test_idx][cols])[:, 1]
            out.append(pd.DataFrame({"iso3": labelled["iso3"].iloc[test_idx].to_numpy(), "year": origin,
                                     "origin": origin, "model": name, "y": y[test_idx], "p": p}))
    if not out:
        from nexus.errors import ConfigError

        raise ConfigError("params.yaml", "training.backtest",
                          "no origin has both training and test rows in the panel's years")
    return pd.concat(out, ignore_index=True)


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
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    import mlflow

    mlflow.set_tracking_uri(paths.tracking_uri)
    if mlflow.get_experiment_by_name(experiment_name) is None:
        mlflow.create_experiment(experiment_name, artifact_location=(Path(paths.artifacts) / "mlruns").as_uri())
    mlflow.set_experiment(experiment_name)
    return mlflow


def _registered_version_exists(paths: PathsParams, name: str, version: str) -> bool:
    mlflow = _mlflow_client_only(paths)
    try:
        mlflow.MlflowClient().get_model_version(name, version)
        return True
    except Exception:  # noqa: BLE001 - any lookup failure means "retrain"
        return False


def _mlflow_client_only(paths: PathsParams):
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    mlflow.set_tracking_uri(paths.tracking_uri)
    return mlflow


def train(params: Params, paths: PathsParams, features: FeatureBuild, *, force: bool = False,
          register_alias: str | None = "champion", tags: dict[str, str] | None = None,
          progress: Callable[[str], None] | None = None) -> TrainResult:
    """Backtest, fit the final model, log everything to MLflow and register the model."""
    step = progress or (lambda msg: None)
    tp = params.training
    params_dump = {"training": tp.model_dump(mode="json"), "seed": params.seed,
                   "model_name": params.scoring.model_name}
    code = source_code_hash([Path(__file__).parent])
    key = Manifest.compute_key("train", {}, params_dump, {"features": features.manifest.key}, code)
    directory = Path(paths.artifacts) / "train" / short(key)
    if not force and is_complete(directory):
        manifest = Manifest.read(directory)
        if _registered_version_exists(paths, params.scoring.model_name, manifest.extra.get("model_version", "")):
            return TrainResult(directory, manifest, trained=False)

    panel, catalog, feature_manifest = load_panel(features.directory)
    frame, target = labelled_rows(panel, tp)
    chosen = select_features(catalog, tp)
    step(f"backtest: {len(chosen)} features, origins {tp.backtest.first_origin}–{tp.backtest.last_origin}")
    predictions = backtest(frame, target, chosen, tp, params.seed, progress)
    pooled, per_origin = summarize(predictions, tp, params.seed)

    directory.mkdir(parents=True, exist_ok=True)
    with atomic_path(directory / BACKTEST) as tmp:
        predictions.to_parquet(tmp, index=False)
    step("final fit on every labelled row")
    labelled = frame[frame[target].notna()]
    model = make_xgb(tp, params.seed).fit(labelled[chosen], labelled[target].astype(int))
    booster = model.get_booster()
    with atomic_path(directory / MODEL_FILE) as tmp:
        booster.save_model(str(tmp.with_suffix(".ubj")))
        os.replace(tmp.with_suffix(".ubj"), tmp)

    from training.plots import plot_per_origin, plot_reliability, plot_roc

    plots = directory / "plots"
    plots.mkdir(exist_ok=True)
    plot_files = [plot_roc(predictions, plots / "roc.png"), plot_reliability(predictions, plots / "calibration.png"),
                  plot_per_origin(per_origin, "auc", plots / "auc_by_origin.png")]

    panel_sha = feature_manifest.outputs["panel.parquet"]
    params_sha = sha256_json(params.model_dump(mode="json"))
    step("logging to MLflow and registering the model")
    version, run_id = _log_to_mlflow(params, paths, predictions, pooled, per_origin, booster, labelled[chosen],
                                     plot_files, features, feature_manifest, panel_sha, params_sha, chosen,
                                     register_alias, tags or {})
    metrics_doc = {"target": target, "features": chosen, "pooled": pooled,
                   "per_origin": per_origin.to_dict(orient="records"), "n_train_final": int(len(labelled)),
                   "model_name": params.scoring.model_name, "model_version": version, "run_id": run_id}
    atomic_write_text(directory / METRICS_FILE, json.dumps(metrics_doc, indent=2))
    manifest = Manifest(stage="train", key=key, inputs={}, params=params_dump,
                        upstream={"features": features.manifest.key},
                        outputs={BACKTEST: "", MODEL_FILE: "", METRICS_FILE: ""},
                        extra={"model_name": params.scoring.model_name, "model_version": version, "run_id": run_id,
                               "panel_sha256": panel_sha, "params_sha256": params_sha,
                               "features_dir": str(features.directory)})
    manifest.write(directory)
    return TrainResult(directory, manifest, trained=True)


def _log_to_mlflow(params, paths, predictions, pooled, per_origin, booster, X_final, plot_files, features,
                   feature_manifest, panel_sha, params_sha, chosen, register_alias, tags):
    mlflow = _mlflow(paths, params.training.experiment_name)
    import mlflow.xgboost
    import xgboost as xgb
    from mlflow.models import infer_signature

    flat = {f"training.{k}": v for k, v in _flatten(params.training.model_dump(mode="json")).items()}
    with mlflow.start_run(run_name="train") as parent:
        mlflow.set_tags({"nexus.stage": "train", "nexus.features_key": features.manifest.key,
                         "nexus.panel_sha256": panel_sha, "nexus.params_sha256": params_sha, **tags})
        mlflow.log_params(flat | {"seed": params.seed, "n_features": len(chosen)})
        panel_path = features.directory / "panel.parquet"
        dataset = mlflow.data.from_pandas(X_final.head(0), source=str(panel_path), name="panel",
                                          digest=panel_sha.split(":")[-1][:16])
        mlflow.log_input(dataset, context="training")
        mlflow.log_artifact(str(features.directory / "manifest.json"), artifact_path="panel")
        for name, m in pooled[MODEL].items():
            mlflow.log_metrics({f"backtest_{name}": m["value"], f"backtest_{name}_low": m["low"],
                                f"backtest_{name}_high": m["high"]})
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
        for tag, value in {"nexus.features_key": features.manifest.key, "nexus.panel_sha256": panel_sha,
                           "nexus.params_sha256": params_sha, "nexus.run_id": parent.info.run_id,
                           "nexus.backtest_auc": f"{pooled[MODEL]['auc']['value']:.4f}",
                           "nexus.training_params": json.dumps({"target": params.training.target,
                                                                "horizon_years": params.training.horizon_years}),
                           **tags}.items():
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
    """The pooled backtest as a table: one row per model, value [low, high] per metric."""
    rows = []
    for model, ms in metrics_doc["pooled"].items():
        rows.append({"model": model, **{m: f"{v['value']:.3f} [{v['low']:.3f}, {v['high']:.3f}]"
                                        for m, v in ms.items()}})
    return pd.DataFrame(rows)

