"""The numpy metrics equal scikit-learn's; paired bootstrap differences are paired."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from training.metrics import paired_bootstrap, score_metrics


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metrics_match_sklearn_with_ties(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 400)
    p = np.round(np.clip(0.3 * y + rng.uniform(0, 0.7, 400), 0, 1), 2)  # rounded: many ties
    m = score_metrics(y, p, np.zeros(400), 20)
    assert m["auc"] == pytest.approx(roc_auc_score(y, p))
    assert m["average_precision"] == pytest.approx(average_precision_score(y, p))
    assert m["brier"] == pytest.approx(brier_score_loss(y, p))
    assert m["log_loss"] == pytest.approx(log_loss(y, np.clip(p, 1e-6, 1 - 1e-6)))


def _forecasts(p, y, countries=60, origins=4):
    iso3 = np.repeat([f"X{i:02d}" for i in range(countries)], origins)
    origin = np.tile(np.arange(2019, 2019 + origins), countries)
    return pd.DataFrame({"iso3": iso3, "year": origin, "origin": origin, "y": y, "p": p})


def test_paired_difference_of_a_set_with_itself_is_exactly_zero_and_a_better_model_wins():
    rng = np.random.default_rng(3)
    n = 240
    y = rng.integers(0, 2, n)
    good = np.clip(0.5 * y + rng.uniform(0, 0.5, n), 0.01, 0.99)
    noisy = np.clip(0.15 * y + rng.uniform(0, 0.85, n), 0.01, 0.99)
    entries = {"ref": _forecasts(noisy, y), "same": _forecasts(noisy, y), "good": _forecasts(good, y)}
    table = paired_bootstrap(entries, "ref", 20, 200, 0.9, 0).set_index(["entry", "metric"])
    assert table.loc[("same", "auc"), ["diff", "diff_low", "diff_high"]].abs().max() == 0
    assert table.loc[("good", "auc"), "diff_low"] > 0
    assert table.loc[("good", "log_loss"), "diff_high"] < 0


def test_paired_bootstrap_refuses_rows_that_differ():
    a = _forecasts(np.full(240, 0.5), np.r_[np.ones(120), np.zeros(120)])
    b = a.assign(year=a["year"] + 1)
    with pytest.raises(ValueError, match="identical rows"):
        paired_bootstrap({"a": a, "b": b}, "a", 20, 10, 0.9, 0)


@pytest.mark.parametrize("seed", [0, 1])
def test_weighted_metrics_equal_the_metrics_of_rows_repeated_by_their_weights(seed):
    from training.metrics import weighted_score_metrics

    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 300)
    p = np.round(np.clip(0.3 * y + rng.uniform(0, 0.7, 300), 0, 1), 1)   # heavy ties
    weights = rng.integers(0, 4, (5, 300))                                 # zeros drop rows
    got = weighted_score_metrics(y, p, weights)
    for r, w in enumerate(weights):
        idx = np.repeat(np.arange(300), w)
        expected = score_metrics(y[idx], p[idx], np.zeros(len(idx)), 10)
        for metric in ("auc", "average_precision", "brier", "log_loss"):
            assert got[metric][r] == pytest.approx(expected[metric], rel=1e-12), metric
            assert expected[metric] != pytest.approx(score_metrics(y, p, np.zeros(300), 10)[metric], rel=1e-9)


def test_weighted_ranking_metrics_are_nan_without_both_classes_under_the_weights():
    from training.metrics import weighted_auc, weighted_average_precision

    y, p = np.array([1, 1, 0, 0]), np.array([0.9, 0.4, 0.5, 0.1])
    w = np.array([[1, 1, 0, 0], [1, 1, 1, 1]])
    assert np.isnan(weighted_auc(y, p, w)[0]) and weighted_auc(y, p, w)[1] == 0.75
    assert np.isnan(weighted_average_precision(y, p, w)[0])
    assert weighted_average_precision(y, p, w)[1] == pytest.approx(average_precision_score(y, p))
