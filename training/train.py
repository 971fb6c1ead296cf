"""Training stage: rolling-origin backtest of the RiskModel against baselines, final fit, registration.

Every number reported as skill comes from an origin's test rows, predicted by models fitted
only on rows whose outcomes were known at that origin (training/backtest.py). Development
origins and the holdout are kept apart: the card's "beats" figures, promotion and every choice
read development origins only; the holdout is evaluated and reported, never chosen on. The
final RiskModel (K boosters, the chosen calibration, the Venn-Abers interval, conformal sets)
is logged to MLflow as a pyfunc with the panel as its dataset input and the backtest forecasts
as artifacts, and registered with a typed model card (training/registry.py). It becomes
`champion` only if it beats persistence (and the current champion) on development origins by
`promotion.margin` (training/promote.py).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from features.panel import FeatureBuild, load_panel
from nexus import tracking
from nexus.config import Params, PathsParams, TrainingParams
from nexus.manifest import (
    Manifest,
    atomic_path,
    atomic_write_text,
    imported_code_hash,
    is_complete,
    sha256_json,
    short,
)
from training import registry
from training.backtest import MODEL, Backtest, backtest, final_model
from training.calibration import coverage_table, expected_calibration_error
from training.forecasts import FORECAST_KEYS
from training.metrics import score_metrics
from training.selection import select_features
from training.targets import add_targets, target_column, target_provenance
from training.train_log import (
    BACKTEST,
    BACKTEST_SHAP,
    CALIBRATION,
    EVALUATION,
    TrainingRunLog,
    log_training_run,
)

METRICS_FILE = "metrics.json"
MODEL_DIR = "risk_model"
__all__ = ["MODEL", "backtest", "select_features", "train"]


@dataclass(frozen=True)
class TrainResult:
    directory: Path
    manifest: Manifest
    trained: bool

    @property
    def metrics(self) -> dict:
        return json.loads((self.directory / METRICS_FILE).read_text(encoding="utf-8"))


def labelled_rows(panel: pd.DataFrame, params: TrainingParams,
                  provenance: pd.DataFrame | None = None) -> tuple[pd.DataFrame, str]:
    """The panel with its target; an edition target also reads the panel's provenance (targets.py)."""
    frame = add_targets(panel, params.target, params.horizon_years,
                        first_report_year=params.label.first_report_year,
                        min_evidence=params.label.min_evidence or None, cuts=params.target_cuts,
                        provenance=provenance)
    return frame, target_column(params.target, params.horizon_years)


POOLED = {"all": ("auc", "average_precision", "brier", "log_loss"),
          "onset": ("auc", "average_precision", "top_k_caught", "top_k_random", "top_k_lift", "alarm_recall",
                    "alarms"),
          "exit": ("auc", "average_precision")}


def pooled_metrics(tables, holdout: bool, horizon: int) -> dict:
    """{model: {metric: {value, low, high}}} from the evaluation's pooled table (onset_/exit_ prefixed)."""
    t = tables.pooled
    t = t[(t["holdout"] == holdout) & (t["horizon"] == horizon)]
    out: dict = {}
    for row in t.itertuples():
        if row.metric not in POOLED.get(row.subset, ()):
            continue
        name = row.metric if row.subset == "all" else f"{row.subset}_{row.metric}"
        out.setdefault(row.model, {})[name] = {"value": _num(row.value), "low": _num(row.low),
                                               "high": _num(row.high)}
    return out


def per_origin_table(predictions: pd.DataFrame, k: int) -> pd.DataFrame:
    rows = []
    for (model, origin), g in predictions.groupby(["model", "origin"], sort=False):
        rows.append({"model": model, "origin": int(origin), "n": len(g), "positives": int(g["y"].sum()),
                     **score_metrics(g["y"], g["p"], g["origin"], k)})
    return pd.DataFrame(rows)


def _num(v) -> float | None:
    v = float(v)
    return None if v != v else v


def calibration_report(bt: Backtest, params: TrainingParams) -> dict:
    """The calibration chosen (development log loss of every candidate), ECE and set coverage."""
    x = bt.predictions[bt.predictions["model"] == MODEL]
    report = {"method": bt.calibration_method, "rule": params.calibration.method,
              "candidates_dev_log_loss": bt.calibration_choice,
              "warmup_origins": params.calibration.warmup_origins,
              "conformal_level": params.calibration.conformal_level}
    for era, rows in (("development", x[~x["holdout"]]), ("holdout", x[x["holdout"]])):
        if rows.empty:
            continue
        onset, exit_ = rows[rows["current_listed"] == 0], rows[rows["current_listed"] == 1]
        report[era] = {
            "ece_raw": expected_calibration_error(rows["y"], rows["p_raw"]),
            "ece": expected_calibration_error(rows["y"], rows["p"]),
            "log_loss_raw": score_metrics(rows["y"], rows["p_raw"], rows["origin"], 1)["log_loss"],
            "log_loss": score_metrics(rows["y"], rows["p"], rows["origin"], 1)["log_loss"],
            "interval_width": float((rows["p_high"] - rows["p_low"]).mean()),
            "set": coverage_table(rows["y"], rows["set_yes"].fillna(True), rows["set_no"].fillna(True)),
            "set_onsets": coverage_table(onset["y"], onset["set_yes"].fillna(True), onset["set_no"].fillna(True))
            if len(onset) else {},
            "set_exits": coverage_table(exit_["y"], exit_["set_yes"].fillna(True), exit_["set_no"].fillna(True))
            if len(exit_) else {},
            "set_per_origin": {int(o): coverage_table(g["y"], g["set_yes"].fillna(True),
                                                      g["set_no"].fillna(True))["coverage"]
                               for o, g in rows.groupby("origin")},
        }
    return report


def beats_baselines(tables, params: Params, horizon: int) -> dict:
    """The product model minus each baseline on development origins only (paired block bootstrap).

    Read from an evaluation whose reference is the product model: its paired rows are
    baseline − product, negated here so a positive gain means the product model is better.
    """
    from training.metrics import HIGHER_IS_BETTER

    t = tables.paired
    t = t[(~t["holdout"]) & (t["horizon"] == horizon) & (t["subset"] == "all")]
    out = {}
    for name, g in t.groupby("model", sort=False):
        entry = {}
        for row in g.itertuples():
            if row.metric not in ("log_loss", "auc", "average_precision", "brier"):
                continue
            diff, low, high = -row.diff, -row.high, -row.low   # product − baseline
            sign = 1 if HIGHER_IS_BETTER[row.metric] else -1
            entry[row.metric] = {"diff": round(diff, 5), "low": round(low, 5), "high": round(high, 5),
                                 "better": bool(sign * diff > 0 and min(sign * low, sign * high) > 0)}
        metric, margin = params.promotion.metric, params.promotion.margin
        sign = 1 if HIGHER_IS_BETTER[metric] else -1
        gain = entry[metric]
        entry["beats"] = bool(sign * gain["diff"] >= margin and min(sign * gain["low"], sign * gain["high"]) > 0)
        out[name] = entry
    return out


def _origins(rows: pd.DataFrame) -> list[int]:
    return sorted(int(o) for o in rows["origin"].unique())


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
                   "model_name": params.scoring.model_name,
                   "bands": params.scoring.bands.model_dump(), "promotion": params.promotion.model_dump()} \
        | ({"tags": tags} if tags else {})
    code = imported_code_hash("training.train")  # the code training runs, not its whole folder
    store = {"tracking_store": tracking.store_id(paths.tracking_uri)}  # a run id means nothing elsewhere
    key = Manifest.compute_key("train", store, params_dump, {"features": features.manifest.key}, code)
    directory = Path(paths.artifacts) / "train" / short(key)
    if not force and is_complete(directory):
        manifest = Manifest.read(directory)
        if _registered_here(paths, params.scoring.model_name, manifest):
            return TrainResult(directory, manifest, trained=False)

    started_ms = int(time.time() * 1000)   # the MLflow run spans the whole training, not just its logging
    panel, catalog, feature_manifest = load_panel(features.directory)
    frame, target = labelled_rows(panel, tp, target_provenance(features.directory, tp.target))
    chosen = select_features(catalog, tp)
    step(f"backtest: {len(chosen)} features, K={tp.ensemble.n_members} boosters, origins "
         f"{tp.backtest.first_origin}–{tp.backtest.holdout_first_origin - 1} (development) and "
         f"{tp.backtest.holdout_first_origin}–{tp.backtest.last_origin - tp.horizon_years + 1} (holdout)")
    bt = backtest(frame, target, chosen, tp, params.seed, progress)
    predictions = bt.predictions
    step(f"calibration: {bt.calibration_method} (development log loss "
         + ", ".join(f"{m} {v:.4f}" for m, v in bt.calibration_choice.items()) + ")")
    dev, hold = predictions[~predictions["holdout"]], predictions[predictions["holdout"]]
    report = calibration_report(bt, tp)

    from training.evaluation import evaluate

    step("evaluation: transitions, top-k, alarms, block-bootstrap intervals")
    tables = evaluate(predictions, k=tp.top_k, threshold=params.scoring.bands.elevated,
                      n_resamples=tp.bootstrap.n_resamples, level=tp.bootstrap.level, seed=params.seed,
                      reference=MODEL)
    pooled = pooled_metrics(tables, False, tp.horizon_years)
    pooled_holdout = pooled_metrics(tables, True, tp.horizon_years)
    per_origin = per_origin_table(predictions, tp.top_k)
    beats = beats_baselines(tables, params, tp.horizon_years)

    directory.mkdir(parents=True, exist_ok=True)
    with atomic_path(directory / BACKTEST) as tmp:
        predictions.to_parquet(tmp, index=False)
    with atomic_path(directory / BACKTEST_SHAP) as tmp:
        bt.shap.to_parquet(tmp, index=False)
    atomic_write_text(directory / CALIBRATION, json.dumps(report, indent=2))
    evaluation_dir = directory / EVALUATION
    evaluation_dir.mkdir(exist_ok=True)
    for name in ("pooled", "per_origin", "paired", "topk", "alarms", "transitions", "reliability", "calibration"):
        with atomic_path(evaluation_dir / f"{name}.parquet") as tmp:
            getattr(tables, name).to_parquet(tmp, index=False)

    score_year = int(frame["year"].max())
    step(f"final fit on every labelled row ({tp.ensemble.n_members} boosters; features present in {score_year})")
    model = final_model(frame, target, chosen, tp, params.seed, bt, score_year)
    model_dir = directory / MODEL_DIR
    if model_dir.exists():
        shutil.rmtree(model_dir)
    tmp_dir = directory / f".{MODEL_DIR}.tmp"
    if tmp_dir.exists():
        shutil.rmtree(tmp_dir)
    model.save(tmp_dir)
    tmp_dir.rename(model_dir)

    from training.plots import plot_per_origin, plot_reliability, plot_roc

    plots = directory / "plots"
    plots.mkdir(exist_ok=True)
    plot_files = [plot_roc(dev, plots / "roc.png"),
                  plot_reliability(dev, plots / "calibration.png"),
                  plot_per_origin(per_origin, "auc", plots / "auc_by_origin.png")]  # holdout origins too

    panel_sha = feature_manifest.outputs["panel.parquet"]
    params_sha = sha256_json(params.model_dump(mode="json"))
    labelled = frame[frame[target].notna()]
    xgb_rows = predictions[predictions["model"] == MODEL]
    card = registry.ModelCard(
        features_key=features.manifest.key, panel_sha256=panel_sha, params_sha256=params_sha, run_id="",
        target=tp.target, horizon_years=tp.horizon_years, calibration=bt.calibration_method,
        interval="venn_abers", conformal_level=tp.calibration.conformal_level, n_members=tp.ensemble.n_members,
        folds=folds_doc(predictions, tp), beats=beats,
        development={m: round(v["value"], 5) for m, v in pooled[MODEL].items() if v["value"] is not None},
        experiment=tags.get("nexus.experiment"))
    step("logging to MLflow and registering the model")
    version, run_id = log_training_run(TrainingRunLog(
        params=params, paths=paths, features=features, directory=directory, model_dir=model_dir,
        X_final=labelled[model.feature_names_in_], pooled=pooled, pooled_holdout=pooled_holdout,
        per_origin=per_origin, calibration=report, plot_files=plot_files, panel_sha=panel_sha,
        params_sha=params_sha, card=card, tags=tags, started_ms=started_ms, spans=bt.spans))
    ece = {m: expected_calibration_error(g["y"], g["p"]) for m, g in dev.groupby("model", sort=False)}
    metrics_doc = {"target": target, "features": chosen, "features_served": model.feature_names_in_,
                   "features_by_origin": {str(k): v for k, v in bt.features_by_origin.items()},
                   "development_origins": _origins(dev), "holdout_origins": _origins(hold),
                   "pooled": pooled, "pooled_holdout": pooled_holdout, "ece": ece, "calibration": report,
                   "beats": beats, "per_origin": per_origin.to_dict(orient="records"),
                   "n_train_final": int(len(labelled)), "n_members": tp.ensemble.n_members,
                   "rows": {"development": int(len(dev[dev["model"] == MODEL])),
                            "holdout": int(len(xgb_rows) - len(dev[dev["model"] == MODEL]))},
                   "model_name": params.scoring.model_name, "model_version": version, "run_id": run_id}
    from training.promote import consider

    decision = consider(params, paths, version) if register_alias else None
    metrics_doc["champion"] = {"promoted": decision.promoted, "reason": decision.reason} if decision else None
    atomic_write_text(directory / METRICS_FILE, json.dumps(metrics_doc, indent=2))
    manifest = Manifest(stage="train", key=key, inputs=store, params=params_dump,
                        upstream={"features": features.manifest.key},
                        outputs={name: "" for name in (BACKTEST, BACKTEST_SHAP, CALIBRATION, METRICS_FILE)},
                        extra={"model_name": params.scoring.model_name, "model_version": version,
                               "run_id": run_id,
                               "panel_sha256": panel_sha, "params_sha256": params_sha,
                               "features_dir": str(features.directory)})
    manifest.write(directory)
    return TrainResult(directory, manifest, trained=True)


def _registered_here(paths: PathsParams, model_name: str, manifest: Manifest) -> bool:
    """The cached version exists in this store and was logged by the cached run (else: retrain)."""
    version, run_id = manifest.extra.get("model_version", ""), manifest.extra.get("run_id", "")
    if not (version and run_id) or not registry.exists(paths, model_name, version):
        return False
    if registry.resolve(paths, model_name, version=version).run_id != run_id:
        return False
    try:
        return tracking.client(paths).get_run(run_id).info.lifecycle_stage != "deleted"
    except Exception:  # noqa: BLE001 - MlflowException: the run never was in this store
        return False


def folds_doc(predictions: pd.DataFrame, params: TrainingParams) -> dict:
    """What a backtest was judged on: compare and promote refuse to pair different ones.

    Only development rows count: the holdout never enters a comparison.
    """
    rows = predictions[(predictions["model"] == MODEL) & ~predictions["holdout"]].sort_values(["origin", "iso3"])
    hold = predictions[(predictions["model"] == MODEL) & predictions["holdout"]]
    return {"target": params.target, "horizon_years": params.horizon_years,
            "origins": _origins(rows), "holdout_origins": _origins(hold), "rows": int(len(rows)),
            "rows_sha256": sha256_json(rows[FORECAST_KEYS + ["y"]].astype(str).values.tolist())}


def _cell(v: dict) -> str:
    if v["value"] is None:
        return "—"
    fmt = "{:.0f}" if abs(v["value"]) >= 2 else "{:.3f}"
    return f"{fmt.format(v['value'])} [{fmt.format(v['low'])}, {fmt.format(v['high'])}]"


def pooled_table(metrics_doc: dict, key: str = "pooled") -> pd.DataFrame:
    """The pooled backtest as a table: one row per model, value [low, high] per metric, then calibration."""
    rows = []
    cal = metrics_doc.get("calibration", {})
    for model, ms in metrics_doc[key].items():
        row = {"model": model, **{m.replace("average_precision", "AP"): _cell(ms[m]) for m in
                                  ("auc", "average_precision", "log_loss", "onset_auc", "onset_top_k_caught")
                                  if m in ms}}
        if "ece" in metrics_doc and key == "pooled":
            row["ece"] = f"{metrics_doc['ece'][model]:.3f}"
            dev = cal.get("development" if key == "pooled" else "holdout", {})
            if model == MODEL and dev:
                row["ece"] += f" (raw {dev['ece_raw']:.3f})"
                row[f"set coverage @{cal['conformal_level']:.0%}"] = f"{dev['set']['coverage']:.3f}"
        rows.append(row)
    return pd.DataFrame(rows).fillna("")
