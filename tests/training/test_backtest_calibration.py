"""The backtest calibrates each origin with forecasts known by then, and its conformal sets cover.

Known answer: the synthetic world's label process is the same every year, so split-conformal
sets fitted on earlier origins should cover later origins at close to the target level.
"""

import pandas as pd
import pytest

from features.panel import load_panel
from training import backtest as bt_module
from training.backtest import MODEL, backtest
from training.calibration import coverage_table
from training.selection import select_features
from training.train import calibration_report, labelled_rows

TOLERANCE = 0.05  # |empirical coverage − target| on ~750 scored rows (sampling sd ≈ 0.011)


@pytest.fixture(scope="module")
def run(small_features, small_params, tmp_path_factory):
    params, _ = small_params(tmp_path_factory.mktemp("bt"), {"training.calibration.method": "isotonic"})
    panel, catalog, _ = load_panel(small_features.directory)
    frame, target = labelled_rows(panel, params.training)
    seen = []
    original = bt_module._calibrate

    def spy(rows, known, method, level):
        seen.append((int(rows["origin"].iat[0]), known["origin"].tolist()))
        return original(rows, known, method, level)

    bt_module._calibrate = spy
    try:
        chosen = select_features(catalog, params.training)
        result = backtest(frame, target, chosen, params.training, params.seed)
    finally:
        bt_module._calibrate = original
    return params, result, seen


def test_each_origin_is_calibrated_only_on_earlier_forecasts_whose_outcomes_were_known(run):
    params, _, seen = run
    h = params.training.horizon_years
    assert [origin for origin, _ in seen] == list(range(2019, 2024))
    for origin, known in seen:
        assert known, f"origin {origin} had nothing to calibrate on"
        assert max(known) + h <= origin


def test_warmup_origins_are_forecast_but_never_scored(run):
    params, result, _ = run
    assert result.predictions["origin"].min() == params.training.backtest.first_origin
    assert set(result.predictions["model"]) == {MODEL, "base_rate", "persistence", "cpi_logistic"}


def test_conformal_coverage_on_the_synthetic_backtest_is_within_tolerance_of_target(run):
    params, result, _ = run
    x = result.predictions[result.predictions["model"] == MODEL]
    cov = coverage_table(x["y"], x["set_yes"].astype(bool), x["set_no"].astype(bool))
    level = params.training.calibration.conformal_level
    assert abs(cov["coverage"] - level) <= TOLERANCE, cov
    assert cov["coverage_yes"] >= level - TOLERANCE and cov["coverage_no"] >= level - TOLERANCE, cov
    assert cov["singleton_share"] > 0.5  # informative, not "both outcomes" everywhere


def test_report_gives_ece_before_and_after_and_the_final_thresholds(run):
    params, result, _ = run
    report = calibration_report(result, params.training)
    assert 0 <= report["ece_calibrated"] < 0.1 and 0 <= report["ece_raw"] < 0.2
    final = report["final"]
    assert final["calibrator"]["method"] == "isotonic"
    assert 0 <= final["conformal"]["p_yes_min"] <= 1 and 0 <= final["conformal"]["p_no_max"] <= 1


def test_shap_values_are_stored_for_every_scored_xgboost_row(run):
    _, result, _ = run
    x = result.predictions[result.predictions["model"] == MODEL]
    keys = ["iso3", "year", "origin"]
    assert len(result.shap) == len(x)
    assert result.shap[keys].merge(x[keys], on=keys).shape[0] == len(x)
    assert isinstance(result.shap, pd.DataFrame) and result.shap.drop(columns=keys).abs().sum().sum() > 0


def test_without_warmup_the_first_origin_stays_raw_with_a_trivial_set(small_features, small_params, tmp_path):
    params, _ = small_params(tmp_path, {"training.calibration.warmup_origins": 0,
                                        "training.backtest.first_origin": 2021})
    panel, catalog, _ = load_panel(small_features.directory)
    frame, target = labelled_rows(panel, params.training)
    result = backtest(frame, target, select_features(catalog, params.training), params.training, params.seed,
                      xgb_only=True)
    x = result.predictions
    first, later = x[x["origin"] == 2021], x[x["origin"] == 2023]
    assert (first["p"] == first["p_raw"]).all()
    assert first["set_yes"].all() and first["set_no"].all()  # nothing known yet: both outcomes possible
    assert (later["p"] != later["p_raw"]).any() and not (later["set_yes"] & later["set_no"]).all()
