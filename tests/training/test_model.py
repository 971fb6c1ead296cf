"""RiskModel: scikit-learn conventions, seed-averaged members, exact explanations, a card that reloads."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from nexus.errors import NexusError
from training.model import CARD_FILE, RiskModel


def _data(n=600, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 6)), columns=[f"x{i}" for i in range(6)])
    X.loc[rng.random(n) < 0.1, "x3"] = np.nan
    logit = 1.5 * X["x0"] - 1.0 * X["x1"] + 0.5 * X["x2"].fillna(0)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


def _calibration_rows(model, X, y):
    return pd.DataFrame({"p_raw": model.predict_raw(X), "y": y, "current_listed": (X["x0"] > 0).astype(float)})


def test_follows_scikit_learn_conventions():
    model = RiskModel(n_estimators=20, n_members=3, seed=4)
    assert clone(model).get_params() == model.get_params()
    assert not hasattr(model, "boosters_")
    X, y = _data()
    assert model.fit(X, y) is model
    assert len(model.boosters_) == 3 and model.feature_names_in_ == list(X.columns)
    assert model.predict_proba(X).shape == (len(X), 2)
    np.testing.assert_allclose(model.predict_proba(X).sum(axis=1), 1)


def test_members_differ_by_seed_and_the_model_is_their_mean_margin():
    import xgboost as xgb

    X, y = _data()
    model = RiskModel(n_estimators=30, n_members=4, seed=1).fit(X, y)
    d = xgb.DMatrix(X.to_numpy(np.float32), feature_names=list(X.columns))
    margins = np.array([b.predict(d, output_margin=True) for b in model.boosters_])
    assert np.ptp(margins, axis=0).max() > 1e-3          # the seeds made different members
    np.testing.assert_allclose(model.decision_function(X), margins.mean(axis=0), rtol=1e-6)


def test_explanation_is_the_members_mean_and_adds_up_to_the_margin():
    X, y = _data()
    model = RiskModel(n_estimators=30, n_members=5, seed=2).fit(X, y)
    explanation = model.explain(X)
    total = explanation.values.sum(axis=1) + explanation.base_values
    np.testing.assert_allclose(total, model.decision_function(X), atol=1e-4)
    assert explanation.feature_names == list(X.columns)


def test_more_members_give_explanations_that_depend_less_on_the_seed():
    X, y = _data(800, 3)

    def top_driver_agreement(k):
        a = RiskModel(n_estimators=40, n_members=k, seed=0, subsample=0.6, colsample_bytree=0.5).fit(X, y)
        b = RiskModel(n_estimators=40, n_members=k, seed=100, subsample=0.6, colsample_bytree=0.5).fit(X, y)
        va, vb = np.abs(a.explain(X).values), np.abs(b.explain(X).values)
        return float(np.corrcoef(va.ravel(), vb.ravel())[0, 1])

    assert top_driver_agreement(6) > top_driver_agreement(1)


def test_calibrated_probability_interval_and_set_come_from_the_calibration_rows():
    X, y = _data(1500, 5)
    fit, cal = slice(0, 700), slice(700, 1500)
    raw = RiskModel(n_estimators=30, n_members=2, seed=0).fit(X.iloc[fit], y[fit])
    rows = _calibration_rows(raw, X.iloc[cal], y[cal])
    model = RiskModel(n_estimators=30, n_members=2, seed=0, calibration="venn_abers").fit(
        X.iloc[fit], y[fit], calibration_rows=rows)
    out = model.predict_all(X.iloc[:50], current_listed=(X["x0"].iloc[:50] > 0).astype(float))
    assert ((out["p_low"] <= out["p"] + 1e-9) & (out["p"] <= out["p_high"] + 1e-9)).all()  # VA point inside
    np.testing.assert_allclose(out["p"], model.predict_proba(X.iloc[:50])[:, 1])
    np.testing.assert_allclose(out[["p_low", "p_high"]], model.predict_interval(X.iloc[:50]))
    uncalibrated = RiskModel(n_estimators=30, n_members=2, seed=0).fit(X.iloc[fit], y[fit])
    assert np.isnan(uncalibrated.predict_interval(X.iloc[:5])).all()


def test_save_and_load_give_identical_numbers(tmp_path):
    X, y = _data()
    model = RiskModel(n_estimators=25, n_members=3, seed=7, calibration="isotonic")
    model.fit(X, y, calibration_rows=_calibration_rows(RiskModel(n_estimators=25).fit(X, y), X, y))
    back = RiskModel.load(model.save(tmp_path / "m"))
    pd.testing.assert_frame_equal(back.predict_all(X), model.predict_all(X))
    np.testing.assert_allclose(back.explain(X).values, model.explain(X).values)


def test_a_card_with_a_missing_field_or_unknown_method_is_refused_by_name(tmp_path):
    X, y = _data()
    directory = RiskModel(n_estimators=5, n_members=1).fit(X, y).save(tmp_path / "m")
    card = json.loads((directory / CARD_FILE).read_text())
    broken = dict(card, calibration=dict(card["calibration"], method="platt-ish"))
    (directory / CARD_FILE).write_text(json.dumps(broken))
    with pytest.raises(NexusError, match="unknown calibration method 'platt-ish'"):
        RiskModel.load(directory)
    del card["features"]
    (directory / CARD_FILE).write_text(json.dumps(card))
    with pytest.raises(NexusError, match="no 'features'"):
        RiskModel.load(directory)


def test_missing_columns_are_named():
    X, y = _data()
    model = RiskModel(n_estimators=5, n_members=1).fit(X, y)
    with pytest.raises(NexusError, match="missing x1"):
        model.predict_proba(X.drop(columns="x1").assign(extra=1.0))


def test_zero_members_is_refused():
    X, y = _data()
    with pytest.raises(ValueError, match="n_members must be at least 1"):
        RiskModel(n_members=0).fit(X, y)
