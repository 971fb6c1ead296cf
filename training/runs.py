"""Finished training runs read back from MLflow: their backtest forecasts, and whether two can be paired.

Comparison and promotion read the forecasts a run logged (not a local folder), so they work
on any machine that can reach the tracking store. Two runs are paired only when they were
judged on identical folds, rows and outcomes; otherwise the reason is spelled out.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from nexus.config import PathsParams
from nexus.errors import NexusError
from nexus.tracking import client
from training.backtest import MODEL
from training.forecasts import FORECAST_KEYS


class NotComparableError(NexusError):
    """Two backtests were judged on different folds, rows or outcomes."""


@dataclass(frozen=True)
class RunBacktest:
    run_id: str
    label: str
    predictions: pd.DataFrame    # every model's forecasts (iso3, year, origin, model, y, p, ...)
    shap: pd.DataFrame | None    # XGBoost's SHAP values on the same rows
    calibration: dict
    tags: dict

    @property
    def xgb(self) -> pd.DataFrame:
        rows = self.predictions[self.predictions["model"] == MODEL]
        return rows.sort_values(FORECAST_KEYS, kind="stable").reset_index(drop=True)

    def describe_folds(self) -> dict:
        x = self.xgb
        folds = json.loads(self.tags.get("nexus.folds", "{}") or "{}")
        return {"target": folds.get("target", "?"), "horizon_years": folds.get("horizon_years", "?"),
                "origins": sorted(int(o) for o in x["origin"].unique()), "rows": len(x)}


def find_experiment_run(paths: PathsParams, mlflow_experiment: str, name: str) -> str | None:
    """The latest finished training run tagged with this experiment name, or None."""
    c = client(paths)
    exp = c.get_experiment_by_name(mlflow_experiment)
    if exp is None:
        return None
    runs = c.search_runs([exp.experiment_id],
                         filter_string=f"tags.`nexus.experiment` = '{name}' and tags.`nexus.stage` = 'train' "
                                       "and attributes.status = 'FINISHED'",
                         order_by=["attributes.start_time DESC"], max_results=1)
    return runs[0].info.run_id if runs else None


def load_run(paths: PathsParams, run_id: str, label: str | None = None, *,
             development_only: bool = True) -> RunBacktest:
    """Download a training run's backtest artifacts; a run without them cannot be judged.

    Every choice (compare, promote) reads development origins only: the holdout rows are dropped
    here, before anything else sees them, unless `development_only=False` (the results page).
    """
    import mlflow

    c = client(paths)
    try:
        run = c.get_run(run_id)
    except Exception as exc:  # noqa: BLE001 - MlflowException: no such run
        first = str(exc).splitlines()[0][:120]
        raise NexusError(f"no MLflow run {run_id!r} in {paths.tracking_uri} ({first})") from None
    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="backtest",
                                                             dst_path=tmp))
        except Exception:  # noqa: BLE001 - no such artifact folder
            raise NexusError(f"run {run_id[:8]} has no backtest artifacts (trained before they were logged); "
                             "retrain it") from None
        predictions = pd.read_parquet(local / "backtest.parquet")
        shap_path = local / "backtest_shap.parquet"
        shap = pd.read_parquet(shap_path) if shap_path.exists() else None
        if development_only and "holdout" in predictions.columns:
            predictions = predictions[~predictions["holdout"].astype(bool)].reset_index(drop=True)
            if shap is not None:
                shap = shap[shap["origin"].isin(set(predictions["origin"]))].reset_index(drop=True)
        cal_path = local / "calibration.json"
        calibration = json.loads(cal_path.read_text()) if cal_path.exists() else {}
    tags = dict(run.data.tags)
    return RunBacktest(run_id, label or tags.get("nexus.experiment") or run.info.run_name or run_id[:8],
                       predictions, shap, calibration, tags)


def comparability_problem(a: RunBacktest, b: RunBacktest) -> str | None:
    """Why a and b cannot be paired (different folds, rows or outcomes), or None when they can."""
    fa, fb = a.describe_folds(), b.describe_folds()
    reasons = []
    for key in ("target", "horizon_years"):
        if fa[key] != fb[key]:
            reasons.append(f"{key} {fa[key]} vs {fb[key]}")
    if fa["origins"] != fb["origins"]:
        reasons.append(f"origins {_span(fa['origins'])} vs {_span(fb['origins'])}")
    ka = a.xgb[FORECAST_KEYS].apply(tuple, axis=1)
    kb = b.xgb[FORECAST_KEYS].apply(tuple, axis=1)
    only_a, only_b = len(set(ka) - set(kb)), len(set(kb) - set(ka))
    if only_a or only_b:
        reasons.append(f"{only_a} of {a.label}'s {len(ka)} rows are not in {b.label}'s backtest and "
                       f"{only_b} of {b.label}'s {len(kb)} are not in {a.label}'s")
    elif (a.xgb["y"].to_numpy() != b.xgb["y"].to_numpy()).any():
        n = int((a.xgb["y"].to_numpy() != b.xgb["y"].to_numpy()).sum())
        reasons.append(f"the outcome differs on {n} of the same rows")
    if not reasons:
        return None
    return f"{a.label} and {b.label} were not judged on identical folds and rows: " + "; ".join(reasons)


def require_comparable(reference: RunBacktest, others: list[RunBacktest]) -> None:
    problems = [p for o in others if (p := comparability_problem(o, reference))]
    if problems:
        raise NotComparableError("refusing to compare: " + " | ".join(problems))


def _span(origins: list[int]) -> str:
    if not origins:
        return "none"
    contiguous = origins == list(range(origins[0], origins[-1] + 1))
    return f"{origins[0]}–{origins[-1]}" if contiguous else str(origins)
