"""The real-data run end to end on a small slice: panel, backtest on real tiers, registered model, scores."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
SLICE = {  # four sources, three scored origins, small forests: the whole chain in seconds
    "features.sources": [
        "corruption_perceptions",
        "governance_indicators",
        "press_freedom_old_method",
        "trafficking_detections",
    ],
    "features.years": {"first": 2003, "last": 2016},
    "training.backtest": {"first_origin": 2012, "last_origin": 2014, "holdout_first_origin": 2014},
    "training.calibration.warmup_origins": 2,
    "training.xgb.n_estimators": 40,
    "training.bootstrap.n_resamples": 30,
}


def real_params(root: Path, raw: Path, extra: dict | None = None):
    from nexus.config import load_params

    paths = {
        "paths.raw": str(raw),
        "paths.artifacts": str(root / "artifacts"),
        "paths.tracking_uri": f"sqlite:///{root / 'mlflow.db'}",
    }
    params = load_params(REPO / "params.real.yaml", paths | SLICE | (extra or {}))
    return params, params.resolved_paths(REPO)


def test_real_slice_backtests_on_real_tiers_registers_and_scores(tmp_path, shared_data):
    from features.panel import build_features, load_panel
    from scoring.score import load_scores, score
    from training.train import train

    params, paths = real_params(tmp_path, shared_data / "raw")
    features = build_features(params.features, params.dask, paths.raw, paths.artifacts)
    panel, catalog, _ = load_panel(features.directory)
    assert 170 <= panel.dropna(subset=["label_tier"])["iso3"].nunique() <= 195
    assert {"cpi_pre2012_method", "unodc_victims_censored"} <= set(catalog)
    result = train(params, paths, features)
    pooled = result.metrics["pooled"]
    assert {"xgboost", "persistence", "base_rate", "cpi_logistic"} <= set(pooled)
    assert (
        pooled["xgboost"]["auc"]["value"] > 0.7 > pooled["base_rate"]["auc"]["value"]
    )  # real skill, real labels
    predictions = pd.read_parquet(result.directory / "backtest.parquet")
    assert sorted(predictions["origin"].unique()) == [2012, 2013, 2014]
    scored = score(params, paths, version=result.manifest.extra["model_version"])
    scores, shap_values, _, _ = load_scores(scored.directory)
    latest = scores[scores["year"] == 2016]
    assert latest["probability"].between(0, 1).all() and len(latest) >= 180
    assert {"USA", "NAM", "XKX"} <= set(latest["iso3"])


@pytest.mark.slow
@pytest.mark.realdata
def test_results_page_is_regenerated_byte_for_byte_by_one_command(tmp_path, shared_data):
    """`nexus results` on a real slice: every variant and horizon, holdout first, same bytes after --force."""
    origins = {"first_origin": 2011, "last_origin": 2015, "holdout_first_origin": 2013}
    sources = [*SLICE["features.sources"], "gdp_per_capita"]  # the independent variant needs a covered source
    page_slice = SLICE | {"features.sources": sources, "training.backtest": origins,
                          "training.ensemble.n_members": 2}
    sets = []
    for key, value in page_slice.items():
        sets += ["--set", f"{key}={value!r}".replace("'", "")]
    sets += [
        "--set",
        f"paths.artifacts={tmp_path / 'artifacts'}",
        "--set",
        f"paths.tracking_uri=sqlite:///{tmp_path / 'm.db'}",
    ]
    command = [
        sys.executable,
        "-c",
        "from nexus.cli import cli; cli()",
        "--params",
        str(REPO / "params.real.yaml"),
        *sets,
        "results",
        "--raw",
        str(shared_data / "raw"),
        "--out",
        str(tmp_path / "docs" / "results.md"),
    ]
    first = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=1800)
    assert first.returncode == 0, first.stderr[-3000:]
    page = (tmp_path / "docs" / "results.md").read_text(encoding="utf-8")
    assert page.index("## 1. Holdout") < page.index("## 2. Development origins") < page.index("## 7. Labels")
    assert "measure of how much trafficking or corruption there is" in page
    assert "- product vs persistence, log loss: " in page and "proxy-only vs persistence, AUC: " in page
    assert "results --raw ../shared/data/raw" in page and str(tmp_path) not in page
    assert "single vintage" in page.lower() and "without single-vintage vs product" in page
    coverage = pd.read_csv(tmp_path / "docs" / "results_coverage.csv")
    assert {"iso3", "year", "coverage", "corruption_perceptions"} <= set(coverage.columns)
    again = subprocess.run(
        [*command[:-2], "--out", str(tmp_path / "again" / "results.md"), "--force"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert (tmp_path / "again" / "results.md").read_text(encoding="utf-8") == page
