"""Evaluation on forecast tables: known answers on hand-made rows, and what the block bootstrap must do."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import average_precision_score, roc_auc_score

from nexus.errors import NexusError
from training.baselines import PersistenceClassifier, SameAsNowClassifier
from training.calibration import coverage_table, expected_calibration_error
from training.evaluation import evaluate, transitions
from training.metrics import bootstrap_intervals, score_metrics

NAN = float("nan")


def _hand_table(model="m"):
    """Two origins, six countries: every onset, exit and alarm below is counted by hand in the tests."""
    rows = [  # iso3, origin, current_listed, y, p
        ("AAA", 2010, 0, 1, 0.90), ("BBB", 2010, 0, 0, 0.80), ("CCC", 2010, 0, 1, 0.10),
        ("DDD", 2010, 0, 0, 0.05), ("EEE", 2010, 1, 0, 0.70), ("FFF", 2010, NAN, 1, 0.50),
        ("AAA", 2011, 1, 1, 0.90), ("BBB", 2011, 0, 1, 0.60), ("CCC", 2011, 0, 0, 0.20),
        ("DDD", 2011, 0, 0, 0.40), ("EEE", 2011, 1, 0, 0.30), ("FFF", 2011, 0, 0, 0.10),
    ]
    t = pd.DataFrame(rows, columns=["iso3", "origin", "current_listed", "y", "p"])
    return t.assign(year=t["origin"], model=model, horizon=1, holdout=False, current_tier=NAN)


def _evaluate(table, **kw):
    args = {"k": 2, "threshold": 0.3, "n_resamples": 50, "level": 0.9, "seed": 0, "reference": None} | kw
    return evaluate(table, **args)


def _pooled(ev, model="m"):
    return ev.pooled[ev.pooled["model"] == model].set_index(["subset", "metric"])["value"]


def test_transitions_count_onsets_exits_and_rows_of_unknown_status():
    t = transitions(pd.concat([_hand_table("a"), _hand_table("b")])).set_index(["origin", "subset"])
    assert t.loc[(2010, "onset"), ["rows", "events"]].tolist() == [4, 2]
    assert t.loc[(2010, "exit"), ["rows", "events"]].tolist() == [1, 1]
    assert t.loc[(2010, "neither"), ["rows", "events"]].tolist() == [1, 1]
    assert t.loc[(2011, "onset"), ["rows", "events"]].tolist() == [4, 1]
    assert t.loc[(2011, "exit"), ["rows", "events"]].tolist() == [2, 1]
    assert t.loc[(2011, "neither"), ["rows", "events"]].tolist() == [0, 0]   # shown as zero, not dropped


def test_top_k_caught_random_list_and_lift_by_hand():
    ev = _evaluate(_hand_table())
    topk = ev.topk.set_index("origin")
    # 2010: unlisted A B C D, onsets A C; top 2 = A, B → 1 caught; random 2 × 2/4 = 1
    assert topk.loc[2010, ["unlisted", "onsets", "caught", "random", "lift"]].tolist() == [4, 2, 1, 1, 1]
    # 2011: unlisted B C D F, onset B; top 2 = B, D → 1 caught; random 2 × 1/4 = 0.5
    assert topk.loc[2011, ["unlisted", "onsets", "caught", "random", "lift"]].tolist() == [4, 1, 1, 0.5, 2]
    pooled = _pooled(ev)
    assert pooled[("onset", "top_k_caught")] == 2
    assert pooled[("onset", "top_k_random")] == 1.5
    assert pooled[("onset", "top_k_lift")] == pytest.approx(4 / 3)


def test_random_list_never_expects_more_onsets_than_there_are():
    ev = _evaluate(_hand_table(), k=10)   # longer than the 4 unlisted countries of each origin
    topk = ev.topk.set_index("origin")
    assert topk["caught"].tolist() == [2, 1] and topk["random"].tolist() == [2, 1]


def test_alarm_budget_by_hand():
    ev = _evaluate(_hand_table())
    alarms = ev.alarms.set_index("origin")
    # p ≥ 0.3 among unlisted: 2010 A, B (onset A); 2011 B, D (onset B). Listed or unknown rows never alarm.
    assert alarms.loc[2010, ["onsets", "onsets_alarmed", "alarms"]].tolist() == [2, 1, 2]
    assert alarms.loc[2011, ["onsets", "onsets_alarmed", "alarms"]].tolist() == [1, 1, 2]
    assert alarms.loc[2010, "alarm_recall"] == 0.5 and alarms.loc[2011, "alarm_precision"] == 0.5
    pooled = _pooled(ev)
    assert pooled[("onset", "alarm_recall")] == pytest.approx(2 / 3)
    assert pooled[("onset", "alarms")] == 4 and pooled[("onset", "alarm_precision")] == 0.5


def test_onset_and_exit_ranking_metrics_by_hand_and_against_sklearn():
    table = _hand_table()
    pooled = _pooled(_evaluate(table))
    # onset candidates: positives .9 .1 .6 vs negatives .8 .05 .2 .4 .1 → (5 + 1.5 + 4) / 15
    assert pooled[("onset", "auc")] == pytest.approx(10.5 / 15)
    onset = table[table["current_listed"] == 0]
    expected_ap = average_precision_score(onset["y"], onset["p"])
    assert pooled[("onset", "average_precision")] == pytest.approx(expected_ap)
    # exit candidates: E2010 (exit, p .7), A2011 (stays, .9), E2011 (exit, .3): exits ranked first by 1 − p
    assert pooled[("exit", "auc")] == 1.0 and pooled[("exit", "average_precision")] == 1.0
    assert pooled[("all", "auc")] == pytest.approx(roc_auc_score(table["y"], table["p"]))
    per_origin = _evaluate(table).per_origin.set_index(["origin", "subset", "metric"])["value"]
    assert per_origin[(2010, "onset", "auc")] == 0.75   # onsets A .9, C .1 vs B .8, D .05: 3 of 4 pairs


def _random_table(models, countries=40, origins=(2015, 2016, 2017, 2018), seed=0, drift=None):
    """A forecast table of several models on identical rows; `drift[j]` scales origin j's skill."""
    rng = np.random.default_rng(seed)
    frames = []
    signal = {}
    for j, origin in enumerate(origins):
        listed = rng.choice([0.0, 1.0, NAN], countries, p=[0.6, 0.35, 0.05])
        risk = rng.normal(size=countries)
        base = np.where(np.isnan(listed), 0.3, listed)
        y = (rng.random(countries) < 1 / (1 + np.exp(-(3 * base - 1.5 + risk)))).astype(int)
        signal[origin] = (listed, risk, y)
    for name, noise in models.items():
        for j, origin in enumerate(origins):
            listed, risk, y = signal[origin]
            skill = 1.0 if drift is None else drift[j]
            score = 3 * np.where(np.isnan(listed), 0.3, listed) - 1.5 + skill * risk
            score = score + np.random.default_rng([seed, j, len(name)]).normal(scale=noise, size=countries)
            p = 1 / (1 + np.exp(-score))
            frames.append(pd.DataFrame({"iso3": [f"C{i:03d}" for i in range(countries)], "year": origin,
                                        "origin": origin, "model": name, "y": y, "p": p,
                                        "current_listed": listed,
                                        "horizon": 1, "holdout": origin >= origins[-1]}))
    return pd.concat(frames, ignore_index=True)


def test_interval_contains_the_point_estimate_and_a_model_against_itself_differs_by_exactly_zero():
    table = _random_table({"model": 0.5, "persistence": 2.0}, countries=100)
    same = table[table["model"] == "model"].assign(model="copy")
    ev = _evaluate(pd.concat([table, same]), k=5, reference="model", n_resamples=200)
    pooled = ev.pooled.dropna(subset=["low"])
    assert len(pooled) > 30
    assert ((pooled["low"] <= pooled["value"] + 1e-12) & (pooled["value"] <= pooled["high"] + 1e-12)).all()
    copy = ev.paired[ev.paired["model"] == "copy"].dropna(subset=["diff"])
    assert len(copy) >= 18 and (copy[["diff", "low", "high"]].to_numpy() == 0).all()
    other = ev.paired[ev.paired["model"] == "persistence"].set_index(["holdout", "subset", "metric"])
    assert other.loc[(False, "all", "log_loss"), "low"] > 0   # the noisier model loses, interval away from 0


def test_with_one_origin_the_block_bootstrap_is_the_country_bootstrap():
    table = _random_table({"m": 0.7}, countries=80, origins=(2016,))
    ev_block = _evaluate(table, n_resamples=120, seed=7)
    ev_country = _evaluate(table, n_resamples=120, seed=7, bootstrap="country")
    expected = bootstrap_intervals(table, 5, 120, 0.9, 7)
    for ev in (ev_block, ev_country):
        got = ev.pooled[ev.pooled["subset"] == "all"].set_index("metric")
        for metric in ("auc", "average_precision", "brier", "log_loss"):
            interval = got.loc[metric, ["low", "high"]].tolist()
            assert interval == pytest.approx(list(expected[metric]), rel=1e-9)


def test_weights_give_the_intervals_of_materialised_block_resamples():
    """A resample repeats a row (country draws × origin draws) times; an origin drawn twice is two lists."""
    table = _random_table({"m": 0.7}, countries=30, origins=(2015, 2016, 2017)).assign(holdout=False)
    k, n, seed = 4, 60, 3
    ev = _evaluate(table, k=k, n_resamples=n, seed=seed)
    table = table.sort_values(["origin", "iso3"]).reset_index(drop=True)
    codes, c_of = np.unique(table["iso3"].to_numpy(), return_inverse=True)
    years, o_of = np.unique(table["origin"].to_numpy(), return_inverse=True)
    rng = np.random.default_rng(seed)
    auc, ll, caught = [], [], []
    for _ in range(n):
        cc = np.bincount(rng.integers(0, len(codes), len(codes)), minlength=len(codes))
        oc = np.bincount(rng.integers(0, len(years), len(years)), minlength=len(years))
        idx = np.repeat(np.arange(len(table)), cc[c_of] * oc[o_of])
        m = score_metrics(table["y"].to_numpy()[idx], table["p"].to_numpy()[idx], o_of[idx], k)
        auc.append(m["auc"])
        ll.append(m["log_loss"])
        hits = 0
        for j, copies in enumerate(oc):
            rows = np.flatnonzero((o_of == j) & (table["current_listed"].to_numpy() == 0))
            rows = np.repeat(rows, cc[c_of[rows]])
            top = rows[np.argsort(-table["p"].to_numpy()[rows], kind="stable")[:k]]
            hits += copies * table["y"].to_numpy()[top].sum()
        caught.append(hits)
    got = ev.pooled.set_index(["subset", "metric"])
    for key, draws in ((("all", "auc"), auc), (("all", "log_loss"), ll), (("onset", "top_k_caught"), caught)):
        expected = np.nanquantile(draws, [0.05, 0.95])
        assert got.loc[key, ["low", "high"]].tolist() == pytest.approx(expected, rel=1e-9)


def test_block_interval_is_wider_than_country_interval_when_skill_drifts_across_origins():
    """Drift, not the extra resampling alone, is what widens it: the same world without drift stays narrower.

    (Even without drift the two-way bootstrap is somewhat wider, 1.5–1.8× here: resampling origins
    counts row noise a second time, so it errs on the conservative side.)
    """
    origins = tuple(range(2010, 2018))

    def width_ratio(drift):
        table = _random_table({"m": 0.3}, countries=120, origins=origins, drift=drift).assign(holdout=False)
        width = {}
        for method in ("block", "country"):
            row = _evaluate(table, n_resamples=300, bootstrap=method).pooled.set_index(["subset", "metric"])
            width[method] = row.loc[("all", "auc"), "high"] - row.loc[("all", "auc"), "low"]
        return width["block"] / width["country"]

    assert width_ratio([4.0, -2.0] * 4) > 2.3   # the signal ranks well in one year and backwards in the next
    assert width_ratio([1.0] * 8) < 2.3


def test_paired_difference_refuses_rows_that_differ_and_names_the_models():
    table = _hand_table("m")
    other = _hand_table("persistence")
    other = other[other["iso3"] != "FFF"]
    with pytest.raises(NexusError, match="m and persistence do not forecast identical rows"):
        _evaluate(pd.concat([table, other]), reference="persistence")


def test_bad_input_gets_one_line_naming_the_problem():
    with pytest.raises(NexusError, match="lacks column.*current_listed"):
        _evaluate(_hand_table().drop(columns="current_listed"))
    with pytest.raises(NexusError, match="model 'persistence' is not in the forecast table; models: m$"):
        _evaluate(_hand_table(), reference="persistence")
    with pytest.raises(NexusError, match="model m twice for BBB origin 2011 horizon 1"):
        _evaluate(pd.concat([_hand_table(), _hand_table().iloc[[7]]]))
    with pytest.raises(NexusError, match="model m for AAA origin 2010 is nan"):
        _evaluate(_hand_table().assign(p=lambda t: t["p"].where(t.index > 0)))


def test_groups_by_horizon_and_holdout_flag():
    table = _random_table({"m": 0.5})
    both = pd.concat([table, table.assign(horizon=2, p=1 - table["p"])])
    ev = _evaluate(both, k=5, n_resamples=20)
    keys = set(map(tuple, ev.pooled[["horizon", "holdout"]].drop_duplicates().to_numpy().tolist()))
    assert keys == {(1, False), (1, True), (2, False), (2, True)}
    auc = ev.pooled.set_index(["horizon", "holdout", "subset", "metric"])["value"]
    assert auc[(1, False, "all", "auc")] == pytest.approx(1 - auc[(2, False, "all", "auc")])
    assert set(ev.topk.query("holdout")["origin"]) == {2018}


def test_calibration_summary_bins_ece_and_coverage_by_subset():
    table = _random_table({"m": 0.5}, countries=60).assign(holdout=False)
    table = table.assign(set_yes=pd.array(table["p"] >= 0.3, dtype="boolean"),
                         set_no=pd.array(table["p"] <= 0.6, dtype="boolean"))
    ev = _evaluate(table, k=5, n_resamples=10, bins=10)
    rel = ev.reliability[ev.reliability["subset"] == "all"]
    assert rel["n"].sum() == len(table) and len(rel) == 10
    filled = rel[rel["n"] > 0]
    ece = (filled["n"] * (filled["observed"] - filled["mean_p"]).abs()).sum() / len(table)
    cal = ev.calibration.set_index(["subset", "metric"])["value"]
    assert cal[("all", "ece")] == pytest.approx(ece)
    assert cal[("all", "ece")] == pytest.approx(expected_calibration_error(table["y"], table["p"]))
    onset = table[table["current_listed"] == 0]
    expected = coverage_table(onset["y"], onset["set_yes"].to_numpy(bool), onset["set_no"].to_numpy(bool))
    assert cal[("onset", "coverage_yes")] == pytest.approx(expected["coverage_yes"])
    assert cal[("onset", "coverage")] == pytest.approx(expected["coverage"])


# ---------------------------------------------------------------------------------------------
# Persistence baselines

def _placements():
    X = pd.DataFrame({"current_tier": [0, 0, 1, 1, 1, 1, 2, 2, 3, NAN, NAN, NAN],
                      "current_listed": [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0, NAN]})
    y = np.array([0, 0, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1])
    return X, y


def test_persistence_rates_by_tier_then_listed_status_then_base_rate():
    X, y = _placements()
    model = PersistenceClassifier(smoothing=0.0).fit(X, y)
    assert model.rate_by_tier_ == {0.0: 0.0, 1.0: 0.5, 2.0: 0.5, 3.0: 1.0}
    # listed rows (tiers 2, 2, 3 and one tier-unknown): 3 of 4; unlisted: 2 of 7
    assert model.rate_by_listed_ == {0.0: pytest.approx(2 / 7), 1.0: 0.75}
    new = pd.DataFrame({"current_tier": [1, 3, NAN, NAN, NAN], "current_listed": [0, 1, 1, 0, NAN]})
    p = model.predict_proba(new)
    assert p.shape == (5, 2) and np.allclose(p.sum(axis=1), 1)
    assert p[:, 1].tolist() == pytest.approx([0.5, 1.0, 0.75, 2 / 7, 0.5])


def test_persistence_smoothing_pulls_toward_the_base_rate():
    X, y = _placements()
    model = PersistenceClassifier(smoothing=2.0).fit(X, y)
    base = 0.5
    assert model.rate_by_tier_[3.0] == pytest.approx((1 + 2 * base) / (1 + 2))
    assert model.rate_by_listed_[1.0] == pytest.approx((3 + 2 * base) / (4 + 2))


def test_same_as_now_copies_the_current_status_with_epsilon():
    X, y = _placements()
    model = SameAsNowClassifier(epsilon=0.05)
    assert model.fit(X, y) is model
    p = model.predict_proba(pd.DataFrame({"current_listed": [1.0, 0.0, NAN]}))
    assert p.shape == (3, 2) and np.allclose(p.sum(axis=1), 1)
    assert p[:, 1].tolist() == pytest.approx([0.95, 0.05, 0.5])
    assert model.predict(pd.DataFrame({"current_listed": [1.0, 0.0]})).tolist() == [1, 0]
    assert clone(model).get_params() == {"epsilon": 0.05, "listed_column": "current_listed"}
    with pytest.raises(ValueError, match="epsilon"):
        SameAsNowClassifier(epsilon=0.0).fit(X, y)


def test_baselines_read_the_columns_they_are_told():
    X, y = _placements()
    renamed = X.rename(columns={"current_tier": "tier_t", "current_listed": "listed_t"})
    a = PersistenceClassifier(column="tier_t", listed_column="listed_t", smoothing=0.0).fit(renamed, y)
    b = PersistenceClassifier(smoothing=0.0).fit(X, y)
    assert np.array_equal(a.predict_proba(renamed), b.predict_proba(X))
    with pytest.raises(KeyError):
        PersistenceClassifier().fit(renamed, y)
