"""Members predicted side by side give the serial loop's numbers; the backtest's shared calibration
pieces (interval, conformal set) are the ones each method would have fitted alone."""

import numpy as np
import pandas as pd
import pytest

from training.backtest import rolling_calibrations
from training.calibration import fit_calibrator, fit_conformal, venn_abers
from training.model import RiskModel


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    X = pd.DataFrame(rng.normal(size=(400, 6)), columns=[f"f{i}" for i in range(6)])
    X.iloc[rng.random(X.shape) < 0.15] = np.nan
    y = (rng.random(400) < 1 / (1 + np.exp(-X["f0"].fillna(0) * 2))).astype(int)
    return X, y


def _model(data, n_jobs):
    X, y = data
    return RiskModel(n_estimators=30, n_members=4, n_jobs=n_jobs, seed=3).fit(X, y)


def test_two_threads_give_the_serial_boosters_shap_and_margin_bit_for_bit(data):
    X, _ = data
    serial, threaded = _model(data, 1), _model(data, 2)
    a, b = serial.explain(X), threaded.explain(X)
    assert np.array_equal(a.values, b.values) and np.array_equal(a.base_values, b.base_values)
    assert np.array_equal(serial.decision_function(X), threaded.decision_function(X))
    # and the explanation still adds up to the margin the members average to
    np.testing.assert_allclose(b.values.sum(axis=1) + b.base_values, threaded.decision_function(X), atol=1e-5)


def test_explain_raw_is_explain_and_predict_raw_from_one_matrix(data):
    X, _ = data
    model = _model(data, 2)
    explanation, p_raw = model.explain_raw(X)
    assert np.array_equal(explanation.values, model.explain(X).values)
    assert np.array_equal(p_raw, model.predict_raw(X))
    assert explanation.values.shape == (len(X), X.shape[1])


def _fitted_alone(raw, method, horizon, level, first_scored):
    """Each method fitted on its own, interval and set included (the backtest before they were shared)."""
    parts = []
    for origin, rows in raw[raw["origin"] >= first_scored].groupby("origin", sort=True):
        known = raw[raw["origin"] + horizon <= origin]
        rows = rows.copy()
        rows["p"] = fit_calibrator(known["p_raw"], known["y"], method).apply(rows["p_raw"])
        _, rows["p_low"], rows["p_high"] = venn_abers(known["p_raw"], known["y"], rows["p_raw"])
        conformal = fit_conformal(known["p_raw"], known["y"], level, known["current_listed"])
        rows["set_yes"], rows["set_no"] = conformal.sets(rows["p_raw"], rows["current_listed"])
        parts.append(rows)
    return pd.concat(parts, ignore_index=True)


def test_one_interval_and_set_per_origin_serve_every_method():
    rng = np.random.default_rng(11)
    origins = np.repeat(np.arange(2005, 2015), 60)
    p = rng.uniform(0.02, 0.98, len(origins))
    raw = pd.DataFrame({"iso3": [f"X{i % 60:02d}" for i in range(len(origins))], "year": origins,
                        "origin": origins, "y": (rng.random(len(origins)) < p).astype(int),
                        "current_listed": (rng.random(len(origins)) < 0.4).astype(float), "model": "xgboost",
                        "p_raw": p})
    methods = ["none", "sigmoid", "isotonic", "venn_abers"]
    together = rolling_calibrations(raw, methods, 1, 0.9, 2008)
    for m in methods:
        pd.testing.assert_frame_equal(together[m], _fitted_alone(raw, m, 1, 0.9, 2008), check_exact=True)
    shared = ["p_low", "p_high", "set_yes", "set_no"]
    for m in methods[1:]:
        pd.testing.assert_frame_equal(together[m][shared], together["none"][shared], check_exact=True)
    assert together["none"]["p"].equals(together["none"]["p_raw"])
    assert not together["sigmoid"]["p"].equals(together["none"]["p"])  # the method still changes p
