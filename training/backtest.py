"""The rolling-origin backtest: every model at every origin, calibrated with what was known then.

At origin T each model is fitted on rows whose outcomes are known by T and forecasts the rows
of year T. The product model is a `RiskModel` (training/model.py), the very class the final fit
registers and the service loads. Its raw forecasts are calibrated per origin from the raw
forecasts of earlier origins whose outcomes are known by T (the fold's own out-of-sample
history), with the Venn-Abers interval and the conformal set fitted the same way.
`warmup_origins` extra origins before the first scored one only seed that history.

Which calibration method serves is *chosen* here: with `calibration.method: auto`, the
candidate with the lowest log loss on the development origins' calibrated forecasts. The
holdout origins (`backtest.holdout_first_origin` on) are forecast exactly like the others but
never read by that choice, nor by tuning (`development_only=True` does not even fit them),
promotion or comparison.

A feature is used at an origin only where at least `ensemble.min_feature_coverage` of that
year's rows observe it: a series that stopped is not learnt from rows that had it and then
read as "missing" in the year scored. The served model reads only features some origin used:
one that no origin could use was never measured.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from nexus.config import TrainingParams
from nexus.errors import ConfigError
from training.baselines import (
    BaseRateClassifier,
    PersistenceClassifier,
    SameAsNowClassifier,
    corruption_index_logistic,
)
from training.calibration import fit_calibrator, fit_conformal, venn_abers
from training.forecasts import FORECAST_KEYS
from training.metrics import score_metrics
from training.model import RiskModel
from training.splits import RollingOriginByYear
from training.targets import PLACEMENT_FEATURES

MODEL = "xgboost"
STATUS = ["current_listed", "current_tier"]
COLUMNS = ["iso3", "year", "origin", "model", "y", "p", "p_raw", "p_low", "p_high", "set_yes", "set_no",
           "current_listed", "current_tier", "horizon", "holdout"]


@dataclass(frozen=True)
class Backtest:
    """Out-of-sample forecasts, the product model's SHAP values on them, and the calibration chosen."""

    predictions: pd.DataFrame  # COLUMNS: every model, every scored origin
    shap: pd.DataFrame         # iso3, year, origin, one column per feature (log-odds; 0 where not used then)
    history: pd.DataFrame      # raw product-model forecasts of every origin, warm-up included
    calibration_method: str    # the method serving (chosen on development origins when `auto`)
    calibration_choice: dict = field(default_factory=dict)  # candidate → development log loss
    features_by_origin: dict = field(default_factory=dict)  # origin → features used
    spans: dict = field(default_factory=dict)  # (origin, model) → (start, end) in epoch ms: its MLflow run's

    @property
    def development(self) -> pd.DataFrame:
        return self.predictions[~self.predictions["holdout"]]


def model_factories(params: TrainingParams, columns: set[str]) -> dict[str, Callable[[], object]]:
    """The configured baselines whose input column exists in this panel."""
    factories: dict[str, Callable[[], object]] = {}
    if "base_rate" in params.baselines:
        factories["base_rate"] = BaseRateClassifier
    if "persistence" in params.baselines and "current_tier" in columns:
        factories["persistence"] = lambda: PersistenceClassifier(column="current_tier")
    if "same_as_now" in params.baselines and "current_listed" in columns:
        factories["same_as_now"] = SameAsNowClassifier
    if "cpi_logistic" in params.baselines and "cpi_score" in columns:
        factories["cpi_logistic"] = corruption_index_logistic
    return factories


def last_origin(params: TrainingParams, *, development_only: bool = False) -> int:
    """The last origin whose target report exists at this horizon (the holdout's last, unless asked)."""
    last = params.backtest.last_origin - (params.horizon_years - 1)
    return min(last, params.backtest.holdout_first_origin - 1) if development_only else last


def first_fitted_origin(params: TrainingParams) -> int:
    """The earliest origin forecast: the first scored one minus the calibration warm-up."""
    warmup = params.calibration.warmup_origins
    return params.backtest.first_origin - warmup - (params.horizon_years - 1 if warmup else 0)


def available_features(rows: pd.DataFrame, features: list[str], min_share: float) -> list[str]:
    """Features observed in at least `min_share` of `rows` (the year being forecast).

    The current placement is exempt: its gaps are declared, not stopped series (an inferred
    Tier 1/2 government has no ordinal tier, and `current_listed` still says it is unlisted).
    """
    if rows.empty:
        return list(features)
    share = rows[features].notna().mean()
    return [f for f in features if f in PLACEMENT_FEATURES or (share[f] >= min_share and share[f] > 0)]


def origin_features(test: pd.DataFrame, features: list[str], params: TrainingParams,
                    origin: int) -> list[str]:
    """The features the model uses at an origin: those observed in enough of the rows it forecasts."""
    share = params.ensemble.min_feature_coverage
    cols = available_features(test, features, share)
    if not cols:
        raise ConfigError("params", "training.ensemble.min_feature_coverage",
                          f"no feature is observed in {share:.0%} of the rows of origin {origin}: "
                          "nothing to fit (lower it, or add sources)")
    return cols


def features_by_origin(labelled: pd.DataFrame, features: list[str],
                       params: TrainingParams) -> dict[int, list[str]]:
    """`Backtest.features_by_origin` without fitting anything: the features each origin would use."""
    years = labelled["year"].to_numpy()
    splitter = RollingOriginByYear(first_fitted_origin(params), last_origin(params), params.horizon_years)
    by_origin = {}
    for _, test in splitter.split(labelled, groups=years):
        origin = int(years[test[0]])
        by_origin[origin] = origin_features(labelled.iloc[test], features, params, origin)
    return by_origin


def served_features(latest: pd.DataFrame, features: list[str], params: TrainingParams,
                    by_origin: dict[int, list[str]]) -> list[str]:
    """The served model's features: present in the latest year scored, and used by some backtest origin
    (a feature no origin could use was never measured, so it is not served)."""
    measured = {f for names in by_origin.values() for f in names}
    present = available_features(latest, features, params.ensemble.min_feature_coverage)
    return [f for f in present if f in measured]


def backtest(frame: pd.DataFrame, target: str, features: list[str], params: TrainingParams, seed: int,
             progress: Callable[[str], None] | None = None, *, xgb_only: bool = False,
             development_only: bool = False,
             on_origin: Callable[[int, pd.DataFrame], None] | None = None) -> Backtest:
    """Forecast every scored origin with every model; `on_origin(origin, raw product rows)` after each."""
    step = progress or (lambda msg: None)
    h, cal = params.horizon_years, params.calibration
    labelled = frame[frame[target].notna()].reset_index(drop=True)
    extra = [c for c in (*STATUS, "cpi_score") if c in labelled.columns and c not in features]
    y = labelled[target].to_numpy(int)
    factories = {} if xgb_only else model_factories(params, set(labelled.columns))
    holdout_first = params.backtest.holdout_first_origin
    splitter = RollingOriginByYear(first_fitted_origin(params), last_origin(params, development_only=development_only), h)
    history, out, shap_rows, used, spans = [], [], [], {}, {}
    for train_idx, test_idx in splitter.split(labelled, y, groups=labelled["year"].to_numpy()):
        origin, started = int(labelled["year"].iat[test_idx[0]]), _now_ms()
        scored = origin >= params.backtest.first_origin
        test = labelled.iloc[test_idx]
        cols = used[origin] = origin_features(test, features, params, origin)
        step(f"origin {origin}{'' if scored else ' (calibration warm-up)'}"
             f"{' (holdout)' if origin >= holdout_first else ''}: train {len(train_idx)} rows, "
             f"test {len(test_idx)}, {len(cols)} features")
        keys = pd.DataFrame({"iso3": test["iso3"].to_numpy(), "year": origin, "origin": origin,
                             "y": y[test_idx], "current_listed": _col(test, "current_listed"),
                             "current_tier": _col(test, "current_tier")})
        model = RiskModel.from_params(params, seed).fit(labelled.iloc[train_idx][cols], y[train_idx])
        if scored:  # SHAP and the forecast from one check and one matrix of the test rows
            explanation, p_raw = model.explain_raw(test[cols])
        else:
            explanation, p_raw = None, model.predict_raw(test[cols])
        rows = keys.assign(model=MODEL, p_raw=p_raw)
        history.append(rows)
        if not scored:
            continue
        values = pd.DataFrame(explanation.values.astype("float32"), columns=cols)
        shap_rows.append(pd.concat([keys[FORECAST_KEYS], values], axis=1))
        spans[origin, MODEL] = (started, _now_ms())
        inputs = cols + [c for c in (*features, *extra) if c in (*STATUS, "cpi_score") and c not in cols]
        for name, factory in factories.items():
            started, Xb = _now_ms(), labelled[inputs]
            baseline = factory().fit(Xb.iloc[train_idx], y[train_idx])
            p = baseline.predict_proba(Xb.iloc[test_idx])[:, 1]
            out.append(keys.assign(model=name, p=p, p_raw=p))
            spans[origin, name] = (started, _now_ms())
        if on_origin is not None:
            on_origin(origin, rows.assign(p=rows["p_raw"]))
    if not history or not any(o >= params.backtest.first_origin for o in used):
        raise ConfigError("params.yaml", "training.backtest",
                          "no origin has both training and test rows in the panel's years")
    raw = pd.concat(history, ignore_index=True)
    calibrated = rolling_calibrations(raw, _candidates(cal), h, cal.conformal_level,
                                      params.backtest.first_origin)
    choice = {m: _log_loss(c[c["origin"] < holdout_first]) for m, c in calibrated.items()}
    method = cal.method if cal.method != "auto" else min(choice, key=lambda m: (choice[m], m))
    out.insert(0, calibrated[method].assign(model=MODEL))
    predictions = pd.concat(out, ignore_index=True).assign(horizon=h)
    predictions["holdout"] = predictions["origin"] >= holdout_first
    for c in ("p_low", "p_high"):
        if c not in predictions:
            predictions[c] = np.nan
    for c in ("set_yes", "set_no"):
        predictions[c] = predictions[c].astype("boolean") if c in predictions else pd.array(
            [pd.NA] * len(predictions), dtype="boolean")
    shap = pd.concat(shap_rows, ignore_index=True)
    unused = [c for c in shap.columns if c not in FORECAST_KEYS]
    shap[unused] = shap[unused].fillna(0.0).astype("float32")   # a feature not used at an origin contributed 0
    return Backtest(predictions=predictions[COLUMNS], shap=shap, history=raw, calibration_method=method,
                    calibration_choice=choice, features_by_origin=used, spans=spans)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _col(frame: pd.DataFrame, name: str) -> np.ndarray:
    return frame[name].to_numpy(float) if name in frame.columns else np.full(len(frame), np.nan)


def _candidates(cal) -> list[str]:
    return list(dict.fromkeys(cal.candidates if cal.method == "auto" else [cal.method]))


def _log_loss(rows: pd.DataFrame) -> float:
    if rows.empty:
        return float("nan")
    return score_metrics(rows["y"], rows["p"], rows["origin"], 1)["log_loss"]


def rolling_calibration(raw: pd.DataFrame, method: str, horizon: int, level: float,
                        first_scored: int) -> pd.DataFrame:
    """Scored origins' forecasts calibrated with `method`, each fitted on forecasts known by then.

    Known by origin T: forecasts of origins o with o + horizon <= T (their outcomes are public).
    Every row also gets the Venn-Abers interval and the conformal set fitted on the same rows.
    """
    return rolling_calibrations(raw, [method], horizon, level, first_scored)[method]


def rolling_calibrations(raw: pd.DataFrame, methods: list[str], horizon: int, level: float,
                         first_scored: int) -> dict[str, pd.DataFrame]:
    """`rolling_calibration` for each of `methods`, with one interval and one conformal set per origin.

    The Venn-Abers interval and the conformal set do not depend on the method: fitted once per
    origin and shared, not once per candidate.
    """
    parts: dict[str, list[pd.DataFrame]] = {m: [] for m in methods}
    for origin, rows in raw[raw["origin"] >= first_scored].groupby("origin", sort=True):
        known = raw[raw["origin"] + horizon <= origin]
        rows = rows.copy()
        if known.empty or known["y"].nunique() < 2:
            rows["p"], rows["p_low"], rows["p_high"] = rows["p_raw"], np.nan, np.nan
            rows["set_yes"] = rows["set_no"] = True
            for m in methods:
                parts[m].append(rows)
            continue
        rows["p"] = np.nan  # filled per method below; the columns keep their order
        _, rows["p_low"], rows["p_high"] = venn_abers(known["p_raw"], known["y"], rows["p_raw"])
        conformal = fit_conformal(known["p_raw"], known["y"], level, known["current_listed"])
        rows["set_yes"], rows["set_no"] = conformal.sets(rows["p_raw"], rows["current_listed"])
        for m in methods:
            parts[m].append(rows.assign(p=fit_calibrator(known["p_raw"], known["y"], m).apply(rows["p_raw"])))
    return {m: pd.concat(ps, ignore_index=True) for m, ps in parts.items()}


def final_model(frame: pd.DataFrame, target: str, features: list[str], params: TrainingParams, seed: int,
                bt: Backtest, score_year: int) -> RiskModel:
    """The served model: every labelled row, `served_features`, and the backtest's chosen calibration
    fitted on every out-of-sample forecast (warm-up and holdout included)."""
    labelled = frame[frame[target].notna()]
    cols = served_features(frame[frame["year"] == score_year], features, params, bt.features_by_origin)
    if not cols:
        share = params.ensemble.min_feature_coverage
        raise ConfigError("params", "training.ensemble.min_feature_coverage",
                          f"no feature a backtest origin used is observed in {share:.0%} of the rows of "
                          f"{score_year}: nothing to serve")
    model = RiskModel.from_params(params, seed, calibration=bt.calibration_method)
    return model.fit(labelled[cols], labelled[target].astype(int), calibration_rows=bt.history)
