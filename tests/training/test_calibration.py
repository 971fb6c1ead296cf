"""Calibration, ECE and conformal sets on data whose answer is known by construction."""

import json

import numpy as np
import pytest

from training.calibration import (
    Calibrator,
    ConformalSets,
    coverage_table,
    expected_calibration_error,
    fit_calibrator,
    fit_conformal,
    from_version_tags,
    set_label,
)


def _miscalibrated(n, seed):
    rng = np.random.default_rng(seed)
    truth = rng.uniform(0.02, 0.98, n)
    y = (rng.uniform(size=n) < truth).astype(int)
    return truth ** 2.5, truth, y  # an overconfident-low model: ranks right, probabilities wrong


@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
def test_calibration_fitted_on_one_half_fixes_the_other(method):
    p_fit, _, y_fit = _miscalibrated(3000, 1)
    p_new, _, y_new = _miscalibrated(3000, 2)
    before = expected_calibration_error(y_new, p_new)
    calibrator = fit_calibrator(p_fit, y_fit, method)
    after = expected_calibration_error(y_new, calibrator.apply(p_new))
    assert before > 0.1
    assert after < before / 3


def test_calibrator_survives_json_and_keeps_probabilities_inside_0_1():
    p, _, y = _miscalibrated(500, 3)
    for method in ("isotonic", "sigmoid", "none"):
        c = fit_calibrator(p, y, method)
        back = Calibrator.from_json(c.to_json())
        grid = np.linspace(0, 1, 101)
        np.testing.assert_allclose(back.apply(grid), c.apply(grid), atol=1e-4)
        assert ((back.apply(grid) > 0) & (back.apply(grid) < 1)).all() or method == "none"


def test_one_class_calibration_set_falls_back_to_identity():
    c = fit_calibrator([0.2, 0.4, 0.6], [0, 0, 0], "isotonic")
    np.testing.assert_allclose(c.apply([0.3, 0.9]), [0.3, 0.9])


def test_ece_of_a_perfectly_calibrated_model_is_small_and_of_a_constant_wrong_one_is_its_gap():
    _, truth, y = _miscalibrated(20000, 4)
    assert expected_calibration_error(y, truth) < 0.02
    constant = expected_calibration_error(np.r_[np.ones(30), np.zeros(70)], np.full(100, 0.5))
    assert constant == pytest.approx(0.2)


def test_mondrian_conformal_sets_cover_each_class_at_the_level_on_exchangeable_data():
    p_cal, _, y_cal = _miscalibrated(2000, 5)
    p_test, _, y_test = _miscalibrated(4000, 6)
    sets = fit_conformal(p_cal, y_cal, 0.9)
    cov = coverage_table(y_test, *sets.sets(p_test))
    for key in ("coverage", "coverage_yes", "coverage_no"):
        assert cov[key] == pytest.approx(0.9, abs=0.025), key
    assert 0 < cov["singleton_share"] < 1


def test_too_few_calibration_rows_give_the_trivial_set():
    sets = fit_conformal([0.3, 0.7], [0, 1], 0.9)
    yes, no = sets.sets([0.0, 0.5, 1.0])
    assert yes.all() and no.all()


def test_a_version_s_tags_give_back_the_calibrator_and_the_sets():
    p, _, y = _miscalibrated(800, 7)
    c, sets = fit_calibrator(p, y, "sigmoid"), fit_conformal(p, y, 0.9)
    tags = {"nexus.calibration": c.to_json(),
            "nexus.conformal": json.dumps(json.loads(sets.to_json()) | {"backtest_coverage": 0.9})}
    c2, sets2 = from_version_tags(tags)
    np.testing.assert_allclose(c2.apply(p), c.apply(p))
    assert sets2 == sets
    wide = ConformalSets(0.9, p_yes_min=0.3, p_no_max=0.6, n_yes=1, n_no=1)
    assert list(set_label(*wide.sets([0.0, 0.5, 1.0]))) == ["no", "either", "yes"]
    narrow = ConformalSets(0.9, p_yes_min=0.7, p_no_max=0.2, n_yes=1, n_no=1)
    assert list(set_label(*narrow.sets([0.5]))) == ["neither"]
    assert from_version_tags({}) == (None, None)
