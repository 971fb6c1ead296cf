"""SHAP and the served numbers: explanations add up to the K-member model's margin, the stored
probabilities are that margin through the card's calibration, and the planted drivers lead.

Recovery threshold: over the eight features with a planted effect (five drivers, three
pure-noise signals) the Spearman correlation between planted effect and mean |SHAP| must
be at least 0.7 (p < 0.03 for 8 ranks under no association). Derived and confounded signals
(the perceptions index, other governance estimates, a signal's growth rate) and the current
placement (which the product model reads) carry credit too and are left out of the comparison
on purpose: what is checked is the order among the planted signals.
"""

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from features.panel import load_panel
from scoring.score import load_scores
from training import registry
from training.targets import add_targets


@pytest.fixture(scope="module")
def stored(pipeline):
    return load_scores(pipeline.scores.directory)


@pytest.fixture(scope="module")
def served_model(pipeline):
    """(ModelRef, RiskModel) of the pipeline's version, loaded the way the service loads it."""
    ref = registry.resolve(pipeline.paths, pipeline.params.scoring.model_name,
                           version=pipeline.training.manifest.extra["model_version"])
    return ref, registry.load_model(pipeline.paths, ref)


def test_explanation_adds_up_to_the_mean_margin_of_k_members(pipeline, served_model):
    ref, model = served_model
    assert len(model.boosters_) == ref.card.n_members == pipeline.params.training.ensemble.n_members
    panel, _, _ = load_panel(pipeline.features.directory)
    frame = add_targets(panel, ref.card.target, ref.card.horizon_years)
    X = frame[model.feature_names_in_].astype("float64").head(500)
    explanation = model.explain(X)
    margin = model.decision_function(X)
    np.testing.assert_allclose(explanation.values.sum(axis=1) + explanation.base_values, margin, atol=1e-4)
    if len(model.boosters_) > 1:  # the mean, not one member: a single booster's margin differs
        import xgboost as xgb

        first = model.boosters_[0].predict(xgb.DMatrix(X.to_numpy(np.float32), feature_names=list(X.columns)),
                                           output_margin=True)
        assert np.abs(first - margin).max() > 1e-3


def test_stored_probabilities_are_the_shap_margin_through_the_cards_calibration(stored, served_model):
    scores, shap_values, families, _ = stored
    ref, model = served_model
    features = [c for c in shap_values.columns if c not in ("iso3", "year", "base_value")]
    margin = shap_values[features].sum(axis=1) + shap_values["base_value"]
    np.testing.assert_allclose(1 / (1 + np.exp(-margin)), scores["probability_raw"], atol=1e-6)
    np.testing.assert_allclose(model.calibrator_.apply(scores["probability_raw"]), scores["probability"],
                               atol=1e-6)
    assert (scores["calibration"] == ref.card.calibration).all()
    family_total = families.drop(columns=["iso3", "year"]).sum(axis=1)
    np.testing.assert_allclose(family_total, shap_values[features].sum(axis=1), atol=1e-5)
    assert families["placement"].abs().mean() > 0  # the product model reads the current placement


def test_every_score_has_its_venn_abers_interval_and_conformal_set(stored, served_model, pipeline):
    from training.calibration import set_label

    scores, _, _, _ = stored
    ref, model = served_model
    low, high, p = scores["probability_low"], scores["probability_high"], scores["probability"]
    assert low.notna().all() and high.notna().all()
    assert ((0 <= low) & (low <= high) & (high <= 1)).all()  # Venn-Abers: p0 ≤ p1, both probabilities
    np.testing.assert_allclose(model.interval_from_raw(scores["probability_raw"]),
                               scores[["probability_low", "probability_high"]], atol=1e-6)
    assert ref.card.interval == "venn_abers" and (scores["interval_method"] == "venn_abers").all()
    if ref.card.calibration == "venn_abers":  # its point lies in [p0, p1] (up to the log-loss floor)
        assert (p.between(low - 1e-9, high + 1e-9) | (p <= model.calibrator_.floor + 1e-12)
                | (p >= 1 - model.calibrator_.floor - 1e-12)).all()
    assert set(scores["conformal_set"]) <= {"yes", "no", "either", "neither"}
    assert (scores["conformal_level"] == ref.card.conformal_level).all()
    # the set is the Mondrian one: thresholds of the row's current listed status
    panel, _, _ = load_panel(pipeline.features.directory)
    frame = add_targets(panel, ref.card.target, ref.card.horizon_years).set_index(["iso3", "year"])
    status = frame["current_listed"].reindex(pd.MultiIndex.from_frame(scores[["iso3", "year"]]))
    yes, no = model.conformal_.sets(scores["probability_raw"].to_numpy(), status.to_numpy())
    assert (set_label(yes, no) == scores["conformal_set"].to_numpy()).all()
    assert scores["conformal_set"].nunique() > 1


def test_planted_drivers_are_recovered(stored, world_dir):
    _, shap_values, _, _ = stored
    truth = json.loads((world_dir / "planted_truth.json").read_text())
    features = [c for c in shap_values.columns if c not in ("iso3", "year", "base_value")]
    per_feature = shap_values[features].abs().mean()
    # a signal and its one-year-older copy carry the same driver: credit them together
    by_signal = per_feature.groupby(lambda c: c.removesuffix("_lag1")).sum()
    effects = pd.Series(truth["feature_effects"])
    rho = spearmanr(effects, by_signal[effects.index]).statistic
    assert rho >= 0.7, f"rank correlation with planted effects {rho:.2f}"
    strongest = set(effects.nlargest(2).index)
    assert strongest == set(by_signal[effects.index].nlargest(2).index)


def test_every_score_row_carries_provenance(stored, pipeline):
    scores, _, _, manifest = stored
    assert len(scores) == len(load_panel(pipeline.features.directory)[0])
    assert (scores["model_version"] == pipeline.training.manifest.extra["model_version"]).all()
    assert scores["panel_sha256"].str.startswith("sha256:").all()
    assert scores["params_sha256"].str.startswith("sha256:").all()
    assert scores["run_id"].str.len().eq(32).all()
    assert set(scores["band"]) <= {"low", "elevated", "high", "insufficient data"}
    thin = scores["coverage"].isna() | (scores["coverage"] < pipeline.params.scoring.min_coverage)
    panel = load_panel(pipeline.features.directory)[0]
    placed = add_targets(panel, "t2wl_or_t3", 1)["current_listed"].notna().to_numpy()
    apart = thin.to_numpy() | ~placed  # the product model reads the current placement
    assert (scores.loc[apart, "band"] == "insufficient data").all() and not (scores.loc[~apart, "band"] ==
                                                                            "insufficient data").any()
    assert (scores["not_ranked"][apart] != "").all() and (scores["not_ranked"][~apart] == "").all()
    latest = scores["year"].max()
    assert not scores.loc[scores["year"] == latest, "in_training"].any(), "the newest year is a forecast"


def test_rows_are_listed_apart_for_low_coverage_or_a_missing_placement(pipeline):
    from scoring.score import LOW_COVERAGE, NO_PLACEMENT, band, not_ranked_reasons
    sp = pipeline.params.scoring
    coverage = np.array([0.9, 0.1, np.nan, 0.9])
    placed = np.array([True, True, True, False])
    assert list(not_ranked_reasons(coverage, sp, placed)) == ["", LOW_COVERAGE, LOW_COVERAGE, NO_PLACEMENT]
    assert list(not_ranked_reasons(coverage, sp)) == ["", LOW_COVERAGE, LOW_COVERAGE, ""]  # proxy-only model
    bands = band(np.array([0.99, 0.99, 0.99, 0.99]), sp, not_ranked_reasons(coverage, sp, placed))
    assert list(bands) == ["high", "insufficient data", "insufficient data", "insufficient data"]
