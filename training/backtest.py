"""The rolling-origin backtest: every model at every origin, calibrated with what was known then.

At origin T each model is fitted on rows whose outcomes are known by T and forecasts the
rows of year T. XGBoost's raw forecast is then calibrated, and given a conformal prediction
set, from the raw forecasts of earlier origins whose outcomes are known by T (the fold's own
out-of-sample history). `warmup_origins` extra origins before the first scored one are
forecast only to seed that history; they are never scored. Tuning runs this same function,
so an Optuna trial is judged on exactly the folds and rows the leaderboard uses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from nexus.config import TrainingParams, XGBParams
from nexus.errors import ConfigError
from training.baselines import BaseRateClassifier, PersistenceClassifier, corruption_index_logistic
from training.calibration import Calibrator, ConformalSets, fit_calibrator, fit_conformal
from training.splits import RollingOriginByYear

MODEL = "xgboost"
KEYS = ["iso3", "year", "origin"]


@dataclass(frozen=True)
class Backtest:
    """Out-of-sample forecasts, XGBoost's SHAP values on them, and the calibration for the final model."""

    predictions: pd.DataFrame  # iso3, year, origin, model, y, p, p_raw, set_yes, set_no
    shap: pd.DataFrame         # iso3, year, origin, one column per feature (log-odds contributions)
    calibrator: Calibrator     # fitted on every out-of-sample XGBoost forecast (warm-up included)
    conformal: ConformalSets


def make_xgb(x: XGBParams, seed: int):
    import xgboost as xgb

    return xgb.XGBClassifier(
        n_estimators=x.n_estimators, max_depth=x.max_depth, learning_rate=x.learning_rate,
        subsample=x.subsample, colsample_bytree=x.colsample_bytree, min_child_weight=x.min_child_weight,
        reg_lambda=x.reg_lambda, max_bin=x.max_bin, n_jobs=x.n_jobs, tree_method="hist",
        objective="binary:logistic", eval_metric="logloss", random_state=seed,
    )


def model_factories(params: TrainingParams, seed: int, columns: set[str]) -> dict[str, Callable[[], object]]:
    """XGBoost plus the configured baselines whose input column exists in this panel."""
    factories: dict[str, Callable[[], object]] = {MODEL: lambda: make_xgb(params.xgb, seed)}
    if "base_rate" in params.baselines:
        factories["base_rate"] = BaseRateClassifier
    if "persistence" in params.baselines and "label_tier" in columns:
        factories["persistence"] = PersistenceClassifier
    if "cpi_logistic" in params.baselines and "cpi_score" in columns:
        factories["cpi_logistic"] = corruption_index_logistic
    return factories


def first_fitted_origin(params: TrainingParams) -> int:
    """The earliest origin forecast: the first scored one minus the calibration warm-up."""
    warmup = params.calibration.warmup_origins
    return params.backtest.first_origin - warmup - (params.horizon_years - 1 if warmup else 0)


def backtest(frame: pd.DataFrame, target: str, features: list[str], params: TrainingParams, seed: int,
             progress: Callable[[str], None] | None = None, *, xgb_only: bool = False,
             on_origin: Callable[[int, pd.DataFrame], None] | None = None) -> Backtest:
    """Forecast every scored origin with every model; `on_origin(origin, xgb_rows)` after each (pruning)."""
    step = progress or (lambda msg: None)
    h, cal = params.horizon_years, params.calibration
    labelled = frame[frame[target].notna()].reset_index(drop=True)
    extra = [c for c in ("label_tier", "cpi_score") if c in labelled.columns and c not in features]
    X = labelled[features + extra]
    y = labelled[target].to_numpy(int)
    factories = model_factories(params, seed, set(X.columns))
    if xgb_only:
        factories = {MODEL: factories[MODEL]}
    splitter = RollingOriginByYear(first_fitted_origin(params), params.backtest.last_origin, h)
    history: list[pd.DataFrame] = []   # raw XGBoost forecasts of every origin so far
    out, shap_rows = [], []
    xgb_rows = None
    for train_idx, test_idx in splitter.split(X, y, groups=labelled["year"].to_numpy()):
        origin = int(labelled["year"].iat[test_idx[0]])
        scored = origin >= params.backtest.first_origin
        step(f"origin {origin}{'' if scored else ' (calibration warm-up)'}: "
             f"train {len(train_idx)} rows, test {len(test_idx)}")
        keys = pd.DataFrame({"iso3": labelled["iso3"].iloc[test_idx].to_numpy(), "year": origin,
                             "origin": origin, "y": y[test_idx]})
        for name, factory in factories.items():
            if name != MODEL and not scored:
                continue
            cols = features if name == MODEL else features + extra
            model = factory().fit(X.iloc[train_idx][cols], y[train_idx])
            p_raw = model.predict_proba(X.iloc[test_idx][cols])[:, 1]
            rows = keys.assign(model=name, p=p_raw, p_raw=p_raw)
            if name == MODEL:
                history.append(rows)
                if not scored:
                    continue
                known = pd.concat(history[:-1], ignore_index=True) if len(history) > 1 else rows.iloc[:0]
                known = known[known["origin"] + h <= origin]
                rows = xgb_rows = _calibrate(rows, known, cal.method, cal.conformal_level)
                contributions = _contributions(model, X.iloc[test_idx][cols])
                shap_rows.append(pd.concat([keys[KEYS], contributions], axis=1))
            out.append(rows)
        if scored and on_origin is not None:
            on_origin(origin, xgb_rows)
    if not out:
        raise ConfigError("params.yaml", "training.backtest",
                          "no origin has both training and test rows in the panel's years")
    predictions = pd.concat(out, ignore_index=True)[["iso3", "year", "origin", "model", "y", "p", "p_raw",
                                                     "set_yes", "set_no"]]
    predictions[["set_yes", "set_no"]] = predictions[["set_yes", "set_no"]].astype("boolean")
    everything = pd.concat(history, ignore_index=True)
    return Backtest(predictions=predictions, shap=pd.concat(shap_rows, ignore_index=True),
                    calibrator=fit_calibrator(everything["p_raw"], everything["y"], cal.method),
                    conformal=fit_conformal(everything["p_raw"], everything["y"], cal.conformal_level))


def _calibrate(rows: pd.DataFrame, known: pd.DataFrame, method: str, level: float) -> pd.DataFrame:
    """Calibrated probability and conformal set for one origin, fitted on forecasts known by then."""
    calibrator = fit_calibrator(known["p_raw"], known["y"], method)
    conformal = fit_conformal(known["p_raw"], known["y"], level)
    yes_in, no_in = conformal.sets(rows["p_raw"])
    return rows.assign(p=calibrator.apply(rows["p_raw"]), set_yes=pd.array(yes_in, dtype="boolean"),
                       set_no=pd.array(no_in, dtype="boolean"))


def _contributions(model, X: pd.DataFrame) -> pd.DataFrame:
    """Exact tree SHAP values (log-odds) from xgboost itself: cheap enough for every origin."""
    import xgboost as xgb

    contrib = model.get_booster().predict(xgb.DMatrix(X), pred_contribs=True)[:, :-1]
    return pd.DataFrame(contrib.astype("float32"), columns=list(X.columns))
