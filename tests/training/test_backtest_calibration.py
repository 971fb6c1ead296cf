"""The backtest calibrates each origin with forecasts known by then, chooses the method on
development origins only, and its conformal sets cover.

Known answer: the synthetic world's label process is the same every year, so split-conformal
sets fitted on earlier origins should cover later origins at close to the target level.
"""

import numpy as np
import pandas as pd
import pytest

from features.panel import load_panel
from training import backtest as bt_module
from training.backtest import MODEL, backtest
from training.calibration import coverage_table
from training.selection import select_features
from training.train import calibration_report, labelled_rows

TOLERANCE = 0.06  # |empirical coverage − target| on ~900 scored rows (sampling sd ≈ 0.01), plus drift


@pytest.fixture(scope="module")
def run(small_features, small_params, tmp_path_factory):
    params, _ = small_params(tmp_path_factory.mktemp("bt"), {"training.calibration.method": "auto"})
    panel, catalog, _ = load_panel(small_features.directory)
    frame, target = labelled_rows(panel, params.training)
    seen = []
    original = bt_module.fit_calibrator

    def spy(p_raw, y, method):
        seen.append(len(p_raw))
        return original(p_raw, y, method)

    bt_module.fit_calibrator = spy
    try:
        chosen = select_features(catalog, params.training)
        result = backtest(frame, target, chosen, params.training, params.seed)
    finally:
        bt_module.fit_calibrator = original
    return params, result, seen, frame, target, chosen


def test_each_origin_is_calibrated_only_on_earlier_forecasts_whose_outcomes_were_known(run):
    params, result, _, _, _, _ = run
    h = params.training.horizon_years
    raw = result.history
    for origin in sorted(result.predictions["origin"].unique()):
        known = raw[raw["origin"] + h <= origin]
        assert len(known), f"origin {origin} had nothing to calibrate on"
        # re-calibrating from exactly those rows reproduces the stored forecast
        rows = result.predictions[(result.predictions["model"] == MODEL) & (result.predictions["origin"] == origin)]
        again = bt_module.fit_calibrator(known["p_raw"], known["y"], result.calibration_method).apply(rows["p_raw"])
        np.testing.assert_allclose(again, rows["p"], atol=1e-9)


def test_warmup_origins_are_forecast_but_never_scored(run):
    params, result, _, _, _, _ = run
    assert result.predictions["origin"].min() == params.training.backtest.first_origin
    assert result.history["origin"].min() < params.training.backtest.first_origin
    assert set(result.predictions["model"]) == {MODEL, "base_rate", "persistence", "same_as_now", "cpi_logistic"}


def test_the_method_is_chosen_by_development_log_loss_and_holdout_labels_do_not_move_it(run):
    params, result, _, frame, target, chosen = run
    assert set(result.calibration_choice) == set(params.training.calibration.candidates)
    assert result.calibration_method == min(result.calibration_choice, key=result.calibration_choice.get)
    # flip every holdout outcome: the development log losses, hence the choice, stay the same
    flipped = frame.copy()
    holdout = flipped[target].notna() & (flipped["year"] >= params.training.backtest.holdout_first_origin)
    flipped.loc[holdout, target] = 1 - flipped.loc[holdout, target]
    again = backtest(flipped, target, chosen, params.training, params.seed, xgb_only=True)
    assert again.calibration_choice == pytest.approx(result.calibration_choice)
    assert again.calibration_method == result.calibration_method


def test_conformal_coverage_on_the_synthetic_backtest_is_within_tolerance_of_target(run):
    params, result, _, _, _, _ = run
    x = result.predictions[result.predictions["model"] == MODEL]
    cov = coverage_table(x["y"], x["set_yes"].astype(bool), x["set_no"].astype(bool))
    level = params.training.calibration.conformal_level
    assert abs(cov["coverage"] - level) <= TOLERANCE, cov
    onset = x[(x["current_listed"] == 0) & (x["y"] == 1)]
    assert len(onset) and onset["set_yes"].astype(bool).mean() >= level - 0.15, "onsets lost their coverage"


def test_every_scored_row_has_a_venn_abers_interval(run):
    _, result, _, _, _, _ = run
    x = result.predictions[result.predictions["model"] == MODEL]
    assert x[["p_low", "p_high"]].notna().all().all()
    assert (x["p_low"] <= x["p_high"] + 1e-12).all()
    assert 0 < (x["p_high"] - x["p_low"]).mean() < 0.2


def test_report_gives_ece_log_loss_and_coverage_for_development_and_holdout(run):
    params, result, _, _, _, _ = run
    report = calibration_report(result, params.training)
    assert report["method"] == result.calibration_method
    for era in ("development", "holdout"):
        assert 0 <= report[era]["ece"] < 0.15 and 0 <= report[era]["ece_raw"] < 0.25
        assert 0 < report[era]["set"]["coverage"] <= 1
        assert set(report[era]["set_per_origin"]) <= set(range(2018, 2024))


def test_shap_values_are_stored_for_every_scored_xgboost_row(run):
    _, result, _, _, _, _ = run
    x = result.predictions[result.predictions["model"] == MODEL]
    keys = ["iso3", "year", "origin"]
    assert len(result.shap) == len(x)
    assert result.shap[keys].merge(x[keys], on=keys).shape[0] == len(x)
    assert isinstance(result.shap, pd.DataFrame) and result.shap.drop(columns=keys).abs().sum().sum() > 0


def test_without_warmup_the_first_origin_stays_raw_with_a_trivial_set(small_features, small_params, tmp_path):
    params, _ = small_params(tmp_path, {"training.calibration.warmup_origins": 0,
                                        "training.calibration.method": "sigmoid",
                                        "training.backtest.first_origin": 2020})
    panel, catalog, _ = load_panel(small_features.directory)
    frame, target = labelled_rows(panel, params.training)
    result = backtest(frame, target, select_features(catalog, params.training), params.training, params.seed,
                      xgb_only=True)
    x = result.predictions
    first, later = x[x["origin"] == 2020], x[x["origin"] == 2023]
    assert (first["p"] == first["p_raw"]).all()
    assert first["set_yes"].all() and first["set_no"].all()  # nothing known yet: both outcomes possible
    assert (later["p"] != later["p_raw"]).any() and not (later["set_yes"] & later["set_no"]).all()


def test_a_series_missing_in_the_year_forecast_is_not_used_at_that_origin(small_features, small_params, tmp_path):
    params, _ = small_params(tmp_path, {"training.calibration.warmup_origins": 0})
    panel, catalog, _ = load_panel(small_features.directory)
    frame, target = labelled_rows(panel, params.training)
    chosen = select_features(catalog, params.training)
    stopped = chosen[0]
    frame.loc[frame["year"] >= 2022, stopped] = np.nan   # the series stops after 2021
    result = backtest(frame, target, chosen, params.training, params.seed, xgb_only=True)
    assert stopped in result.features_by_origin[2021]
    assert stopped not in result.features_by_origin[2022] and stopped not in result.features_by_origin[2023]


def test_a_series_no_backtest_origin_could_use_is_not_served(small_features, small_params, tmp_path):
    """Served is what was measured: a series that starts in the score year is present there, yet no
    origin forecast with it, so the final fit leaves it out."""
    params, _ = small_params(tmp_path, {"training.calibration.warmup_origins": 0})
    panel, catalog, _ = load_panel(small_features.directory)
    frame, target = labelled_rows(panel, params.training)
    chosen = select_features(catalog, params.training)
    score_year = int(frame["year"].max())
    late = chosen[0]
    frame.loc[frame["year"] < score_year, late] = np.nan   # the series starts in the score year
    result = backtest(frame, target, chosen, params.training, params.seed, xgb_only=True)
    assert all(late not in names for names in result.features_by_origin.values())
    labelled = frame[frame[target].notna()].reset_index(drop=True)  # what the stability check reads, unfitted
    assert bt_module.features_by_origin(labelled, chosen, params.training) == result.features_by_origin
    present = frame.loc[frame["year"] == score_year, late].notna().mean()
    assert present >= params.training.ensemble.min_feature_coverage
    model = bt_module.final_model(frame, target, chosen, params.training, params.seed, result, score_year)
    assert late not in model.feature_names_in_
    assert set(model.feature_names_in_) <= {f for names in result.features_by_origin.values() for f in names}


def test_a_score_year_without_any_measured_feature_is_one_clear_error(small_features, small_params, tmp_path):
    from nexus.errors import ConfigError

    params, _ = small_params(tmp_path, {"training.calibration.warmup_origins": 0})
    panel, catalog, _ = load_panel(small_features.directory)
    frame, target = labelled_rows(panel, params.training)
    chosen = [f for f in select_features(catalog, params.training) if f not in bt_module.PLACEMENT_FEATURES]
    result = backtest(frame, target, chosen, params.training, params.seed, xgb_only=True)
    score_year = int(frame["year"].max())
    frame.loc[frame["year"] == score_year, chosen] = np.nan   # nothing observed in the year scored
    expected = f"training.ensemble.min_feature_coverage.*{score_year}: nothing to serve"
    with pytest.raises(ConfigError, match=expected):
        bt_module.final_model(frame, target, chosen, params.training, params.seed, result, score_year)
