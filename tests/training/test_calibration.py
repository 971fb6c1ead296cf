"""Calibration, ECE and conformal sets on data whose answer is known by construction."""


import numpy as np
import pytest

from training.calibration import (
    Calibrator,
    ConformalSets,
    coverage_table,
    expected_calibration_error,
    fit_calibrator,
    fit_conformal,
    set_label,
)


def _miscalibrated(n, seed):
    rng = np.random.default_rng(seed)
    truth = rng.uniform(0.02, 0.98, n)
    y = (rng.uniform(size=n) < truth).astype(int)
    return truth ** 2.5, truth, y  # an overconfident-low model: ranks right, probabilities wrong


@pytest.mark.parametrize("method", ["isotonic", "sigmoid", "venn_abers"])
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
    for method in ("isotonic", "sigmoid", "venn_abers", "none"):
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


def test_sets_survive_json_and_label_each_row():
    p, _, y = _miscalibrated(800, 7)
    sets = fit_conformal(p, y, 0.9, current_listed=(p > 0.3).astype(float))
    assert ConformalSets.from_json(sets.to_json()) == sets
    wide = ConformalSets(0.9, {"all": {"p_yes_min": 0.3, "p_no_max": 0.6}})
    assert list(set_label(*wide.sets([0.0, 0.5, 1.0]))) == ["no", "either", "yes"]
    narrow = ConformalSets(0.9, {"all": {"p_yes_min": 0.7, "p_no_max": 0.2}})
    assert list(set_label(*narrow.sets([0.5]))) == ["neither"]


def test_sets_by_current_status_cover_onsets_at_the_level():
    """Mondrian by (current status, outcome): the rare onsets keep their own 90% guarantee."""
    rng = np.random.default_rng(11)

    def draw(n):
        listed = (rng.uniform(size=n) < 0.35).astype(float)
        truth = np.where(listed == 1, rng.uniform(0.6, 0.95, n), rng.uniform(0.01, 0.3, n))
        y = (rng.uniform(size=n) < truth).astype(int)
        return truth, y, listed

    p_cal, y_cal, s_cal = draw(4000)
    p_new, y_new, s_new = draw(8000)
    onset = (s_new == 0) & (y_new == 1)
    pooled = fit_conformal(p_cal, y_cal, 0.9)
    by_status = fit_conformal(p_cal, y_cal, 0.9, s_cal)
    pooled_yes, _ = pooled.sets(p_new)
    status_yes, _ = by_status.sets(p_new, s_new)
    assert status_yes[onset].mean() == pytest.approx(0.9, abs=0.03)
    assert pooled_yes[onset].mean() < 0.8   # pooled thresholds sacrifice the onsets


def test_venn_abers_interval_brackets_a_calibrated_probability():
    from training.calibration import venn_abers

    p_cal, truth_cal, y_cal = _miscalibrated(3000, 12)
    p_new, truth_new, _ = _miscalibrated(2000, 13)
    point, p0, p1 = venn_abers(p_cal, y_cal, p_new)
    assert (p0 <= p1 + 1e-12).all()
    assert np.mean(p1 - p0) < 0.05            # 3,000 calibration rows pin it down
    assert np.mean(np.abs(point - truth_new)) < np.mean(np.abs(p_new - truth_new)) / 2
