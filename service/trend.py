"""What a country's trend chart shows per year: its actual tier placement, the out-of-sample forecast the
backtest made for that year, and the served model's value where the backtest has none.

The placements come from the panel the version was trained on (its label columns); the
forecasts from the train stage's `backtest.parquet` of the version's run (found by the run id
its manifest records; else the copy the run logged to MLflow). Both are read once per served
version, on the first country page that needs them, never on start-up.
"""

from __future__ import annotations

import json
import math
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from nexus.config import PathsParams
from nexus.manifest import short
from scoring.served import ServedVersion
from service.drivers import TIER_NAMES

NOT_RANKED, SPECIAL_CASE = "not ranked", "special case"
LABELS = ["label_tier", "label_special_case"]
FORECAST_MODEL = "xgboost"  # training.backtest.MODEL: the product model's rows of the forecast table
BACKTEST = "backtest.parquet"  # training.train_log.BACKTEST, in the train folder and the run's backtest/


@dataclass(frozen=True)
class TrendSource:
    placements: dict[tuple[str, int], str]  # (iso3, report year) → tier, or why none
    forecasts: dict[tuple[str, int], tuple[float, float | None, float | None]]  # (iso3, origin) → p, lo, hi
    note: str | None  # why there are no backtest forecasts


_cache: dict[tuple[str, str, str], TrendSource] = {}
_lock = threading.Lock()


def trend_source(paths: PathsParams, served: ServedVersion) -> TrendSource:
    """The version's placements and backtest forecasts, read once and kept."""
    key = (str(paths.tracking_uri), served.model_name, served.version)
    with _lock:
        if key not in _cache:
            forecasts, note = _forecasts(paths, served)
            _cache[key] = TrendSource(_placements(paths, served), forecasts, note)
        return _cache[key]


def _placements(paths: PathsParams, served: ServedVersion) -> dict[tuple[str, int], str]:
    panel = Path(paths.artifacts) / "features" / short(served.card.features_key) / "panel.parquet"
    try:
        labels = pd.read_parquet(panel, columns=["iso3", "year", *LABELS])
    except (OSError, ValueError, KeyError):
        return {}
    out = {}
    for iso3, year, tier, special in labels.itertuples(index=False):
        if special == 1:
            out[(str(iso3), int(year))] = SPECIAL_CASE
        elif tier is None or math.isnan(tier):
            out[(str(iso3), int(year))] = NOT_RANKED
        else:
            out[(str(iso3), int(year))] = TIER_NAMES.get(int(tier), NOT_RANKED)
    return out


def _local_backtest(paths: PathsParams, run_id: str) -> Path | None:
    """The train stage's own copy of the run's forecasts (its manifest names the run), if on this machine."""
    for manifest in (Path(paths.artifacts) / "train").glob("*/manifest.json"):
        try:
            extra = json.loads(manifest.read_text(encoding="utf-8")).get("extra", {})
        except (OSError, ValueError):
            continue
        if extra.get("run_id") == run_id and (manifest.parent / BACKTEST).exists():
            return manifest.parent / BACKTEST
    return None


def _forecasts(paths: PathsParams, served: ServedVersion):
    run_id = served.provenance.get("run_id") or served.card.run_id
    if not run_id:
        return {}, "the model has no training run to read backtest forecasts from"
    try:
        local = _local_backtest(paths, run_id)
        if local is not None:
            table = pd.read_parquet(local)
        else:  # another machine's artifacts: the copy the run logged to MLflow
            from nexus.tracking import mlflow_at

            mlflow = mlflow_at(paths.tracking_uri)
            with tempfile.TemporaryDirectory() as tmp:
                table = pd.read_parquet(mlflow.artifacts.download_artifacts(
                    run_id=run_id, artifact_path=f"backtest/{BACKTEST}", dst_path=tmp))
    except Exception as exc:  # noqa: BLE001 - no run or artifact: the chart shows the served values only
        first = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        return {}, f"the training run's backtest forecasts cannot be read ({first})"
    rows = table[(table["model"] == FORECAST_MODEL) & (table["horizon"] == served.card.horizon_years)]
    low = rows["p_low"] if "p_low" in rows else pd.Series(float("nan"), index=rows.index)
    high = rows["p_high"] if "p_high" in rows else pd.Series(float("nan"), index=rows.index)
    forecasts = {}
    for iso3, origin, p, lo, hi in zip(rows["iso3"], rows["origin"], rows["p"], low, high, strict=True):
        forecasts[(str(iso3), int(origin))] = (float(p), None if pd.isna(lo) else float(lo),
                                               None if pd.isna(hi) else float(hi))
    return forecasts, None


def trend_points(source: TrendSource, served: ServedVersion, iso3: str) -> list[dict]:
    """Per year of the country: the point drawn (kind forecast / current / fitted), its interval, and the
    actual placement of the year it is about."""
    points = []
    for i in served.country(iso3):
        item = served.items[i]
        forecast = source.forecasts.get((iso3, item["year"]))
        interval = item["interval"] or {}
        if forecast is not None:
            p, low, high = forecast
            kind = "forecast"
        else:
            p, low, high = item["probability"], interval.get("low"), interval.get("high")
            kind = "fitted" if item["in_training"] else "current"
        points.append({"year": item["year"], "target_year": item["target_year"], "probability": p,
                       "low": low, "high": high, "kind": kind, "served": item["probability"],
                       "band": item["band"],
                       "placement": source.placements.get((iso3, item["target_year"]), "not yet known"),
                       "placement_now": source.placements.get((iso3, item["year"]), "not yet known")})
    return points
