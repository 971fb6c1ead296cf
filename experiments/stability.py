"""Explanation stability: do two runs name the same top drivers for a country?

Two uses. (1) The leaderboard (experiments/compare.py) compares two runs' backtest SHAP tables:
drivers are ranked by |SHAP| (log-odds) on the same country-year; agreement per row is the
Spearman correlation of those ranks and the overlap of the top k; a country's agreement is the
mean over its rows. A feature one run does not use counts as a zero contribution there, so
dropping a top driver shows as disagreement rather than vanishing from the comparison.

(2) Seed stability (issue 10, /work/shared/EVIDENCE.md "Stability"): two RiskModels that differ
only in their seed sets (A: seed..seed+K−1, B: seed+K..seed+2K−1, disjoint) explain the same
rows; the figures are top-1 driver agreement, top-3 overlap, the Spearman of |SHAP| over each
row's top-10 union and the share of rows whose risk band changes. They are reported over all
features and over the signal features only: the "current placement" family carries most of the
weight of a model that knows the current tier, and would hide how unstable the signals are.
benchmarks/stability.py sweeps K with these to choose training.ensemble.n_members.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from nexus.errors import NexusError
from training.forecasts import FORECAST_KEYS
from training.targets import PLACEMENT_FEATURES


def _aligned(a: pd.DataFrame, b: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Rows both explain, and |SHAP| over the union of their features (absent = 0)."""
    features = sorted((set(a.columns) | set(b.columns)) - set(FORECAST_KEYS))
    wide = [f.reindex(columns=FORECAST_KEYS + features, fill_value=0.0) for f in (a, b)]
    m = wide[0].merge(wide[1], on=FORECAST_KEYS, how="inner", suffixes=("_a", "_b"))
    A = m[[f"{f}_a" for f in features]].to_numpy(float)
    B = m[[f"{f}_b" for f in features]].to_numpy(float)
    return m[FORECAST_KEYS], np.abs(A), np.abs(B)


def _row_spearman(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    ra, rb = rankdata(A, axis=1), rankdata(B, axis=1)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    denom = np.sqrt((ra ** 2).sum(axis=1) * (rb ** 2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (ra * rb).sum(axis=1) / denom, np.nan)


def _top_k_overlap(A: np.ndarray, B: np.ndarray, k: int) -> np.ndarray:
    k = min(k, A.shape[1])
    rows = np.arange(len(A))[:, None]
    in_a = np.zeros(A.shape, bool)
    in_b = np.zeros(B.shape, bool)
    in_a[rows, np.argsort(-A, axis=1, kind="stable")[:, :k]] = True
    in_b[rows, np.argsort(-B, axis=1, kind="stable")[:, :k]] = True
    return (in_a & in_b).sum(axis=1) / k


def driver_agreement(a: pd.DataFrame, b: pd.DataFrame, k: int = 5) -> pd.DataFrame:
    """Per country: mean rank correlation and top-k overlap of |SHAP| on the rows both runs explain."""
    keys, A, B = _aligned(a, b)
    rows = keys.assign(spearman=_row_spearman(A, B), top_k_overlap=_top_k_overlap(A, B, k))
    return rows.groupby("iso3", as_index=False)[["spearman", "top_k_overlap"]].mean()


def origin_agreement(shap: pd.DataFrame, k: int = 5) -> pd.DataFrame:
    """Per country: agreement of its drivers at consecutive origins of one run (stability over time)."""
    later = shap.assign(origin=shap["origin"] - 1, year=shap["year"] - 1)
    return driver_agreement(shap, later, k)


def summary(per_country: pd.DataFrame) -> dict[str, float]:
    return {"spearman": float(per_country["spearman"].mean()),
            "top_k_overlap": float(per_country["top_k_overlap"].mean()), "countries": int(len(per_country))}


# -- seed stability of one model's explanations (two disjoint seed sets) ---------------------------
FIGURES = ("top1_agreement", "top3_overlap", "spearman_top10", "bands_changed")


def top1_agreement(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Per row: do both name the same feature with the largest |SHAP|?"""
    A, B = np.abs(A), np.abs(B)
    return np.argmax(A, axis=1) == np.argmax(B, axis=1)


def top_k_overlap(A: np.ndarray, B: np.ndarray, k: int) -> np.ndarray:
    """Per row: |top-k of A ∩ top-k of B| / k, by |SHAP|."""
    return _top_k_overlap(np.abs(A), np.abs(B), k)


def union_spearman(A: np.ndarray, B: np.ndarray, k: int = 10) -> np.ndarray:
    """Per row: Spearman of |SHAP| over the union of both top-k (NaN where either side is constant).

    Over the union rather than all features: most features carry near-zero SHAP, and ranking
    that noise floor would dilute disagreement among the drivers a reader actually sees."""
    A, B = np.abs(A), np.abs(B)
    k = min(k, A.shape[1])
    top_a = np.argsort(-A, axis=1, kind="stable")[:, :k]
    top_b = np.argsort(-B, axis=1, kind="stable")[:, :k]
    out = np.full(len(A), np.nan)
    for i in range(len(A)):
        cols = np.union1d(top_a[i], top_b[i])
        out[i] = _row_spearman(A[i, cols][None, :], B[i, cols][None, :])[0]
    return out


def bands_changed(p_a, p_b, scoring) -> np.ndarray:
    """Per row: is the risk band different? Bands are cut as served: scoring.score.band with the
    `scoring` params' cut-points (scoring.bands) on the probability."""
    from scoring.score import band

    return band(np.asarray(p_a, float), scoring) != band(np.asarray(p_b, float), scoring)


def agreement(shap_a: np.ndarray, shap_b: np.ndarray, p_a, p_b, scoring) -> dict[str, float]:
    """The four figures on rows explained by both (same rows, same feature columns, same order)."""
    shap_a, shap_b = np.asarray(shap_a, float), np.asarray(shap_b, float)
    if shap_a.shape != shap_b.shape:
        raise ValueError(f"SHAP tables differ in shape: {shap_a.shape} vs {shap_b.shape}")
    changed = bands_changed(p_a, p_b, scoring)
    gap = np.abs(np.asarray(p_a, float) - np.asarray(p_b, float))
    return {"rows": int(len(shap_a)), "top1_agreement": float(top1_agreement(shap_a, shap_b).mean()),
            "top3_overlap": float(top_k_overlap(shap_a, shap_b, 3).mean()),
            "spearman_top10": float(np.nanmean(union_spearman(shap_a, shap_b, 10))),
            "bands_changed": float(changed.mean()), "bands_changed_n": int(changed.sum()),
            # band flips are a count of rows near a cut-point: the probability gap is the smooth view
            "p_gap_mean": float(gap.mean()), "p_gap_max": float(gap.max())}


def signal_columns(features: list[str]) -> list[int]:
    """Indices of the features outside the "current placement" family."""
    return [i for i, f in enumerate(features) if f not in PLACEMENT_FEATURES]


def seed_pair(training, seed: int):
    """Two unfitted RiskModels differing only in their (disjoint) seed sets: seed.. and seed+K.."""
    from training.model import RiskModel

    a = RiskModel.from_params(training, seed)
    return a, RiskModel.from_params(training, seed + a.n_members)


def served_probability(model, X: pd.DataFrame) -> tuple[np.ndarray, str]:
    """The probability a band is cut on, and which one it is: calibrated if a calibrator was fitted,
    else the raw sigmoid(mean margin)."""
    if model.calibrator_.method == "none":
        return model.predict_raw(X), "raw"
    return model.predict_proba(X)[:, 1], "calibrated"


def pair_stability(model_a, model_b, X: pd.DataFrame, scoring) -> dict:
    """{"all": figures, "signal": figures, "probability": raw|calibrated} for two fitted models on X."""
    features = list(model_a.feature_names_in_)
    if list(model_b.feature_names_in_) != features:
        raise ValueError("the two models were fitted on different feature lists")
    ea, eb = model_a.explain(X), model_b.explain(X)
    (pa, kind_a), (pb, kind_b) = served_probability(model_a, X), served_probability(model_b, X)
    signal = signal_columns(features)
    out = {"all": agreement(ea.values, eb.values, pa, pb, scoring), "probability": kind_a if kind_a == kind_b
           else f"{kind_a}/{kind_b}", "features": len(features), "signal_features": len(signal)}
    out["signal"] = agreement(ea.values[:, signal], eb.values[:, signal], pa, pb, scoring) if signal else None
    return out


def _fit_timed(model, X, y, calibration_rows=None) -> float:
    start = time.perf_counter()
    model.fit(X, y, calibration_rows=calibration_rows)
    return time.perf_counter() - start


def seed_stability(frame: pd.DataFrame, target: str, features: list[str], training, scoring, seed: int, *,
                   year: int | None = None, calibrated: bool = False) -> dict:
    """Stability of the served explanations: A and B fitted like the final model (every labelled row,
    the features it would serve in `year`, default the latest), explaining every row of `year`.

    `calibrated`: each model also gets the calibration the training stage would give it (a backtest
    of its own seeds chooses the method and supplies the calibration rows), so the bands are cut on
    calibrated probabilities; otherwise on the raw probability, as the result's "probability" says.
    """
    from training.backtest import backtest, features_by_origin, served_features

    year = int(frame["year"].max()) if year is None else int(year)
    rows = frame[frame["year"] == year]
    labelled = frame[frame[target].notna()]
    cols = served_features(rows, features, training, features_by_origin(labelled, features, training))
    a, b = seed_pair(training, seed)
    seconds, calibration = [], {}
    for name, model in (("a", a), ("b", b)):
        cal_rows = None
        if calibrated:
            bt = backtest(frame, target, features, training, model.seed, xgb_only=True)
            model.set_params(calibration=bt.calibration_method)
            cal_rows, calibration[name] = bt.history, bt.calibration_method
        seconds.append(_fit_timed(model, labelled[cols], labelled[target].astype(int), cal_rows))
    out = pair_stability(a, b, rows[cols], scoring)
    return out | {"year": year, "k": a.n_members, "seeds_a": a.member_seeds(), "seeds_b": b.member_seeds(),
                  "fit_seconds": seconds, "calibration": calibration}


def origin_stability(frame: pd.DataFrame, target: str, features: list[str], training, scoring, seed: int,
                     origins: list[int]) -> dict:
    """Stability on backtest rows: at each origin T, A and B fitted on rows whose target was known by T
    (t + h ≤ T) explain the labelled rows of year T; figures over all those rows pooled."""
    from training.backtest import available_features

    h = training.horizon_years
    labelled = frame[frame[target].notna()]
    parts = {"all": [], "signal": []}
    seconds = []
    for origin in origins:
        fit_rows, test = labelled[labelled["year"] <= origin - h], labelled[labelled["year"] == origin]
        if fit_rows.empty or test.empty:
            raise NexusError(f"origin {origin}: the panel has no labelled rows of that year or before it")
        cols = available_features(test, features, training.ensemble.min_feature_coverage)
        a, b = seed_pair(training, seed)
        seconds += [_fit_timed(m, fit_rows[cols], fit_rows[target].astype(int)) for m in (a, b)]
        ea, eb = a.explain(test[cols]).values, b.explain(test[cols]).values
        signal = signal_columns(cols)
        parts["all"].append((ea, eb, a.predict_raw(test[cols]), b.predict_raw(test[cols])))
        parts["signal"].append((ea[:, signal], eb[:, signal], parts["all"][-1][2], parts["all"][-1][3]))
    out = {}
    for family, pieces in parts.items():
        # feature columns differ between origins: figures per origin, then their row-weighted mean
        per_origin = [agreement(*piece, scoring) for piece in pieces]
        n = sum(p["rows"] for p in per_origin)
        out[family] = {"rows": n, "bands_changed_n": sum(p["bands_changed_n"] for p in per_origin),
                       **{f: sum(p[f] * p["rows"] for p in per_origin) / n for f in (*FIGURES, "p_gap_mean")},
                       "p_gap_max": max(p["p_gap_max"] for p in per_origin)}
    return out | {"origins": list(origins), "probability": "raw", "fit_seconds": seconds}
