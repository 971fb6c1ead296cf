"""On the synthetic world, where tiers follow the signals with inertia, the product model earns its keep.

Known answer: `planted_truth.json` states what an oracle gets from the latent signals, from the
current tier and from both (`oracle_skill`). Tiers lag the signals, so the oracle's "both" beats
"current tier only"; the pipeline's product model (proxy signals + current and previous placement)
must then beat persistence on log loss and on onsets with intervals excluding 0, and cannot beat
the oracle. The figures are read from the world, never hard-coded.
"""

import json

import pandas as pd
import pytest


@pytest.fixture(scope="module")
def metrics(pipeline):
    return pipeline.training.metrics


@pytest.fixture(scope="module")
def oracle(world_dir):
    return json.loads((world_dir / "planted_truth.json").read_text())["oracle_skill"]


@pytest.fixture(scope="module")
def paired(pipeline):
    t = pd.read_parquet(pipeline.training.directory / "evaluation" / "paired.parquet")
    return t[~t["holdout"]].set_index(["model", "subset", "metric"])


def test_backtest_has_development_and_holdout_origins_of_test_rows_only(metrics, pipeline):
    bt = pipeline.params.training.backtest
    assert metrics["development_origins"] == list(range(bt.first_origin, bt.holdout_first_origin))
    assert metrics["holdout_origins"] == list(range(bt.holdout_first_origin, bt.last_origin + 1))
    predictions = pd.read_parquet(pipeline.training.directory / "backtest.parquet")
    assert set(predictions["model"]) == {"xgboost", "base_rate", "persistence", "same_as_now", "cpi_logistic"}
    rows = predictions.groupby("model").apply(lambda g: frozenset(zip(g.iso3, g.origin, strict=True)))
    assert rows.nunique() == 1   # every model is judged on identical rows


def test_the_oracle_says_placements_lag_the_signals(oracle):
    for h in ("1", "2", "3"):
        assert oracle[h]["both"]["log_loss"] < oracle[h]["tier"]["log_loss"], h
        assert oracle[h]["signals"]["onset_auc"] > oracle[h]["tier"]["onset_auc"], h


def test_the_product_model_beats_persistence_on_log_loss_and_onsets(metrics, paired, oracle):
    beats = metrics["beats"]["persistence"]
    assert beats["log_loss"]["better"] and beats["log_loss"]["high"] < 0, beats   # product − persistence
    # paired rows are persistence − product: a better product has a negative onset-AUC difference
    onset = paired.loc[("persistence", "onset", "auc")]
    assert onset["high"] < 0, onset
    assert metrics["pooled"]["xgboost"]["log_loss"]["value"] > oracle["1"]["both"]["log_loss"] - 0.02


def test_the_product_model_is_champion_because_it_beats_persistence(metrics):
    assert metrics["champion"]["promoted"], metrics["champion"]
    assert metrics["beats"]["persistence"]["beats"]


def test_xgboost_beats_base_rate_and_index_only_baseline(metrics):
    pooled = metrics["pooled"]
    xgb = pooled["xgboost"]
    for baseline in ("base_rate", "cpi_logistic"):
        assert xgb["auc"]["low"] > pooled[baseline]["auc"]["value"], baseline
        assert xgb["brier"]["value"] < pooled[baseline]["brier"]["value"], baseline
        assert xgb["average_precision"]["value"] > pooled[baseline]["average_precision"]["value"], baseline


def test_intervals_bracket_point_estimates(metrics):
    for era in ("pooled", "pooled_holdout"):
        for model in metrics[era].values():
            for m in model.values():
                if m["value"] is not None and m["low"] is not None:
                    assert m["low"] - 1e-9 <= m["value"] <= m["high"] + 1e-9


def test_the_product_model_reads_the_placement_and_no_target(metrics):
    assert {"current_tier", "previous_tier", "current_listed"} <= set(metrics["features"])
    assert not any(f.startswith("target_") or f.startswith("label_") for f in metrics["features"])


@pytest.mark.slow
def test_the_proxy_only_model_beats_persistence_at_horizon_3(pipeline, oracle):
    """What the signals alone know, three years ahead: better than the current tier, as the oracle says."""
    from features.panel import load_panel
    from training.backtest import MODEL, backtest
    from training.metrics import paired_block_difference
    from training.selection import select_features
    from training.train import labelled_rows

    assert oracle["3"]["signals"]["auc"] > oracle["3"]["tier"]["auc"]
    tp = pipeline.params.training.model_copy(update={"horizon_years": 3, "include_label_history": False,
                                                     "ensemble": pipeline.params.training.ensemble.model_copy(
                                                         update={"n_members": 2})})
    panel, catalog, _ = load_panel(pipeline.features.directory)
    frame, target = labelled_rows(panel, tp)
    bt = backtest(frame, target, select_features(catalog, tp), tp, pipeline.params.seed)
    dev = bt.development
    diff, low, high = paired_block_difference(dev[dev["model"] == MODEL], dev[dev["model"] == "persistence"], "auc",
                                              tp.top_k, 200, 0.9, pipeline.params.seed)
    assert low > 0, (diff, low, high)
