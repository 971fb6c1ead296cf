"""Seed stability of explanations: the four figures on hand-made SHAP tables, then on real fits.

Known answers: identical tables agree perfectly; a swapped top driver costs top-1 agreement but
not the top-3 overlap; the Spearman over the top-10 union equals scipy's on the same columns;
bands follow the served cut-points (p ≥ 0.25 elevated, ≥ 0.5 high); the "current placement"
family is left out of the signal figures. On data with correlated features, a K=5 pair agrees
more than a K=1 pair.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from experiments import stability as st
from nexus.config import load_params
from training.model import RiskModel

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def params():
    return load_params(REPO / "params.yaml", {"training.xgb.n_estimators": 20, "training.xgb.n_jobs": 1})


def _table(rows: int = 6, features: int = 12, seed: int = 0) -> np.ndarray:
    """Signed SHAP values with distinct magnitudes in each row (no ties to break)."""
    rng = np.random.default_rng(seed)
    magnitudes = np.stack([rng.permutation(features) + 1.0 for _ in range(rows)])
    return magnitudes * rng.choice([-1.0, 1.0], size=magnitudes.shape)


def test_identical_tables_agree_perfectly_and_no_band_changes(params):
    A = _table()
    p = np.array([0.1, 0.3, 0.6, 0.24, 0.5, 0.9])
    out = st.agreement(A, A.copy(), p, p.copy(), params.scoring)
    assert out == {"rows": 6, "top1_agreement": 1.0, "top3_overlap": 1.0, "spearman_top10": 1.0,
                   "bands_changed": 0.0, "bands_changed_n": 0, "p_gap_mean": 0.0, "p_gap_max": 0.0}


def test_the_sign_of_a_contribution_does_not_matter_only_its_size(params):
    A = _table()
    out = st.agreement(A, -A, np.zeros(6), np.zeros(6), params.scoring)
    assert out["top1_agreement"] == out["top3_overlap"] == out["spearman_top10"] == 1.0


def test_a_swapped_top_driver_loses_top1_agreement_but_not_the_top3_overlap():
    A = np.array([[5.0, 4.0, 3.0, 1.0, 0.5], [5.0, 4.0, 3.0, 1.0, 0.5]])
    B = A.copy()
    B[0, [0, 1]] = B[0, [1, 0]]                  # row 0: features 0 and 1 trade places
    assert st.top1_agreement(A, B).tolist() == [False, True]
    assert st.top_k_overlap(A, B, 3).tolist() == [1.0, 1.0]
    rho = st.union_spearman(A, B, k=10)
    assert rho[1] == 1.0 and rho[0] == pytest.approx(spearmanr(A[0], B[0]).statistic) and rho[0] < 1


def test_top3_overlap_counts_shared_features_over_three():
    A = np.array([[9.0, 8.0, 7.0, 1.0, 0.0, 0.0], [9.0, 8.0, 7.0, 1.0, 0.0, 0.0]])
    B = np.array([[9.0, 8.0, 0.0, 7.0, 0.0, 0.0],     # {0, 1, 3}: two of three shared
                  [0.0, 0.0, 0.0, 1.0, 8.0, 9.0]])    # {5, 4, 3}: none shared
    np.testing.assert_allclose(st.top_k_overlap(A, B, 3), [2 / 3, 0.0])


def test_spearman_is_taken_over_the_union_of_both_top10s():
    A = np.array([[12.0, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0.1, 0.1]])    # top 10: features 0–9
    B = np.array([[0.2, 0.3, 10, 11, 12, 9, 8, 7, 6, 5, 4, 3, 0.1, 0.1]])   # top 10: features 2–11
    union = list(range(12))                                                 # 12 and 13 left out
    expected = spearmanr(A[0, union], B[0, union]).statistic
    assert st.union_spearman(A, B, k=10)[0] == pytest.approx(expected)
    assert expected != pytest.approx(spearmanr(A[0], B[0]).statistic)      # the union mattered


def test_bands_change_where_a_served_cut_point_lies_between_the_two_probabilities(params):
    assert (params.scoring.bands.elevated, params.scoring.bands.high) == (0.25, 0.5)
    p_a = np.array([0.10, 0.24, 0.26, 0.49, 0.51, 0.25, 0.50])
    p_b = np.array([0.20, 0.26, 0.30, 0.51, 0.90, 0.2499, 0.50])
    changed = st.bands_changed(p_a, p_b, params.scoring)
    assert changed.tolist() == [False, True, False, True, False, True, False]
    out = st.agreement(np.ones((7, 3)) * [3, 2, 1], np.ones((7, 3)) * [3, 2, 1], p_a, p_b, params.scoring)
    assert out["bands_changed_n"] == 3 and out["bands_changed"] == pytest.approx(3 / 7)
    assert out["p_gap_max"] == pytest.approx(0.39) and out["p_gap_mean"] == pytest.approx(
        np.abs(p_a - p_b).mean())


def test_signal_figures_leave_out_the_current_placement_family(params):
    features = ["current_tier", "press_score", "border_share", "previous_tier", "judicial_index"]
    signal = st.signal_columns(features)
    assert [features[i] for i in signal] == ["press_score", "border_share", "judicial_index"]
    A = np.array([[10.0, 3.0, 2.0, 5.0, 1.0]])   # both runs: the current tier dominates ...
    B = np.array([[10.0, 2.0, 3.0, 5.0, 1.0]])   # ... but the top signal differs
    p = np.array([0.3])
    assert st.agreement(A, B, p, p, params.scoring)["top1_agreement"] == 1.0
    assert st.agreement(A[:, signal], B[:, signal], p, p, params.scoring)["top1_agreement"] == 0.0


def test_a_seed_pair_has_disjoint_seed_sets_and_otherwise_equal_params(params):
    tp = params.training.model_copy(update={"ensemble": params.training.ensemble.model_copy(
        update={"n_members": 4})})
    a, b = st.seed_pair(tp, 100)
    assert a.member_seeds() == [100, 101, 102, 103] and b.member_seeds() == [104, 105, 106, 107]
    pa, pb = a.get_params(), b.get_params()
    assert pa.pop("seed") == 100 and pb.pop("seed") == 104 and pa == pb


def _correlated(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Two latent drivers, each seen through several noisy copies, plus noise: which copy a tree
    splits on is up to the seed (subsample, colsample), which is what averaging members fixes."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2))
    cols = {f"a{i}": z[:, 0] + 0.5 * rng.normal(size=n) for i in range(4)}
    cols |= {f"b{i}": z[:, 1] + 0.5 * rng.normal(size=n) for i in range(3)}
    cols |= {f"noise{i}": rng.normal(size=n) for i in range(3)}
    cols["current_tier"] = (z[:, 0] > 0.5).astype(float)
    y = (rng.random(n) < 1 / (1 + np.exp(-(1.5 * z[:, 0] - z[:, 1])))).astype(int)
    return pd.DataFrame(cols), y


def test_a_pair_of_models_with_itself_is_perfectly_stable_and_says_which_probability_it_cut(params):
    X, y = _correlated(200)
    model = RiskModel(n_estimators=20, n_members=2, seed=0, n_jobs=1).fit(X, y)
    twin = RiskModel(n_estimators=20, n_members=2, seed=0, n_jobs=1).fit(X, y)
    out = st.pair_stability(model, twin, X, params.scoring)
    assert out["probability"] == "raw" and out["features"] == 11 and out["signal_features"] == 10
    for family in ("all", "signal"):
        assert out[family]["top1_agreement"] == out[family]["top3_overlap"] == 1.0
        assert out[family]["bands_changed_n"] == 0


def test_five_seed_averaged_boosters_explain_more_stably_than_one(params):
    X, y = _correlated()

    def top3_overlap(k: int) -> float:
        a = RiskModel(n_estimators=40, n_members=k, seed=0, n_jobs=1).fit(X, y)
        b = RiskModel(n_estimators=40, n_members=k, seed=k, n_jobs=1).fit(X, y)   # seeds k..2k−1: disjoint
        return st.pair_stability(a, b, X, params.scoring)["all"]["top3_overlap"]

    one, five = top3_overlap(1), top3_overlap(5)
    assert one < 0.95 and five > one + 0.03


def test_seed_stability_explains_the_latest_year_with_models_fitted_like_the_final_one(params):
    rng = np.random.default_rng(1)
    X, y = _correlated(400, seed=2)
    frame = X.assign(iso3=[f"X{i % 40:02d}" for i in range(400)], year=2000 + np.arange(400) // 40,
                     target=y.astype(float))
    frame.loc[frame["year"] == 2009, "target"] = np.nan     # the scored year has no target yet
    frame.loc[rng.random(400) < 0.9, "noise2"] = np.nan     # a feature too sparse to use is dropped
    tp = params.training.model_copy(update={
        "ensemble": params.training.ensemble.model_copy(update={"n_members": 2}),
        # origins inside this frame's years: the served features are those some origin could use
        "backtest": params.training.backtest.model_copy(update={"first_origin": 2005, "last_origin": 2008,
                                                                "holdout_first_origin": 2008})})
    out = st.seed_stability(frame, "target", list(X.columns), tp, params.scoring, 7)
    assert out["year"] == 2009 and out["all"]["rows"] == 40 and out["k"] == 2
    assert out["seeds_a"] == [7, 8] and out["seeds_b"] == [9, 10]
    assert out["features"] == 10 and out["signal_features"] == 9 and out["probability"] == "raw"
    assert 0 < out["all"]["top3_overlap"] <= 1 and len(out["fit_seconds"]) == 2
    backtest = st.origin_stability(frame, "target", list(X.columns), tp, params.scoring, 7, [2007, 2008])
    assert backtest["all"]["rows"] == 80 and backtest["origins"] == [2007, 2008]
