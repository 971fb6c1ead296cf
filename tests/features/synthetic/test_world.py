"""The default synthetic world: tiers follow the latent risk late and with inertia, and the oracle says so.

Everything here runs on the latent world in memory (simulate takes milliseconds), not on the
written files, so the file stays fast. The pipeline's own skill on this world is the lead's
test; these tests pin the physics it relies on and the oracle figures it reads.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from features.synthetic.files import write_tiers
from features.synthetic.latent import DRIVER_EFFECTS, DRIVERS, placed, simulate
from features.synthetic.tiers import TIER_CUTS, TIER_LABELS
from features.synthetic.truth import ORACLE_HORIZONS, _auc, planted_truth
from nexus.config import load_params

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def default_world():
    """The world `nexus world` writes with the repo's params.yaml."""
    params = load_params(REPO / "params.yaml")
    w = params.world
    return simulate(params.seed, w.n_countries, w.first_year, w.last_year), params.seed


@pytest.fixture(scope="module")
def truth(default_world):
    world, seed = default_world
    return planted_truth(world, seed)


def _pairs(world):
    """Tiers of consecutive years where both are placements."""
    ranked = placed(world)
    both = ranked[:, 1:] & ranked[:, :-1]
    return world.tier[:, :-1][both], world.tier[:, 1:][both]


def test_same_seed_same_world_and_truth_another_seed_differs():
    a, b, c = simulate(3, 40, 2005, 2020), simulate(3, 40, 2005, 2020), simulate(4, 40, 2005, 2020)
    np.testing.assert_array_equal(a.tier, b.tier)
    np.testing.assert_array_equal(a.risk_logit, b.risk_logit)
    assert json.dumps(planted_truth(a, 3)) == json.dumps(planted_truth(b, 3))
    assert (a.tier != c.tier).mean() > 0.2


def test_risk_keeps_the_planted_driver_effects(default_world):
    world, _ = default_world
    X = np.column_stack([np.ones(world.risk_logit.size)] + [world.drivers[d].ravel() for d in DRIVERS])
    coef = np.linalg.lstsq(X, world.risk_logit.ravel(), rcond=None)[0][1:]
    np.testing.assert_allclose(coef, [DRIVER_EFFECTS[d] for d in DRIVERS], atol=0.05)


def test_tiers_have_inertia_within_the_real_churn_range(default_world, truth):
    world, _ = default_world
    before, after = _pairs(world)
    churn = (before != after).mean()
    assert 0.17 <= churn <= 0.28, f"churn {churn:.3f} (real reports: 0.19-0.26)"
    assert (np.abs(after - before) <= 1).mean() > 0.97, "placements move one step at a time"
    # the same assessments cut without inertia would churn far more
    instant = np.digitize(world.assessment, TIER_CUTS)
    ranked = placed(world)
    both = ranked[:, 1:] & ranked[:, :-1]
    assert (instant[:, 1:] != instant[:, :-1])[both].mean() > churn + 0.08
    assert truth["tier_dynamics"]["churn"] == pytest.approx(churn, abs=1e-4)


def test_base_rate_and_onset_rate_stay_near_the_real_world(default_world, truth):
    world, _ = default_world
    listed = (world.tier >= 2)[placed(world)].mean()
    before, after = _pairs(world)
    onset = (after[before <= 1] >= 2).mean()
    assert 0.25 <= listed <= 0.35, f"base rate {listed:.3f}"
    assert 0.08 <= onset <= 0.15, f"yearly onset rate among Tier 1/2 {onset:.3f} (real: 0.11-0.14)"
    assert truth["base_rate"] == pytest.approx(listed, abs=1e-4)
    assert truth["tier_dynamics"]["onset_rate"] == pytest.approx(onset, abs=1e-4)


def test_placements_follow_the_risk_they_do_not_lead_it(default_world):
    world, _ = default_world
    ranked = placed(world)
    tier_change = np.diff(world.tier, axis=1).astype(float)
    risk_change = np.diff(world.risk_logit, axis=1)
    pair = ranked[:, 1:] & ranked[:, :-1]

    def corr(lag):  # tier change into year t against risk change into year t - lag
        j = np.arange(tier_change.shape[1])
        j = j[(j - lag >= 0) & (j - lag < tier_change.shape[1])]
        keep = pair[:, j]
        return np.corrcoef(tier_change[:, j][keep], risk_change[:, j - lag][keep])[0, 1]

    past, now, future = corr(2), corr(0), corr(-1)
    assert past > 0.3 and past > now + 0.2 and past > future + 0.2, (past, now, future)
    # the level too: today's tier matches the risk of two years ago better than today's risk
    i, j = np.nonzero(ranked[:, 2:])
    tier_now = world.tier[i, j + 2]
    then, now = (np.corrcoef(tier_now, world.risk_logit[i, k])[0, 1] for k in (j, j + 2))
    assert then > now, (then, now)


def test_oracle_figures_for_every_horizon_and_both_beats_the_current_tier(truth):
    oracle = truth["oracle_skill"]
    assert sorted(oracle) == [str(h) for h in ORACLE_HORIZONS]
    for h, figures in oracle.items():
        assert figures["n_rows"] > 500 and figures["n_onsets"] > 30
        assert figures["origins"][0] == 2015 and figures["origins"][-1] == 2024 - int(h)
        for info in ("signals", "tier", "both"):
            assert 0 < figures[info]["log_loss"] < np.log(2)
            assert 0.5 < figures[info]["auc"] <= 1 and 0.5 < figures[info]["onset_auc"] <= 1
        both, tier = figures["both"], figures["tier"]
        assert both["log_loss"] < tier["log_loss"] - 0.03, h
        assert both["auc"] > tier["auc"] and both["onset_auc"] > tier["onset_auc"] + 0.1, h
        by_origin = figures["log_loss_by_origin"]
        assert [int(o) for o in by_origin] == figures["origins"]
        weights = np.array([v["n_rows"] for v in by_origin.values()])
        assert weights.sum() == figures["n_rows"]
        for info in ("signals", "tier", "both"):
            pooled = np.dot(weights, [v[info] for v in by_origin.values()]) / weights.sum()
            assert pooled == pytest.approx(figures[info]["log_loss"], abs=2e-4)
    # what the world is built to show: signals lead, so at three years they alone beat the tier
    assert oracle["3"]["signals"]["log_loss"] < oracle["3"]["tier"]["log_loss"]
    assert oracle["3"]["signals"]["auc"] > oracle["3"]["tier"]["auc"]


def test_oracle_tier_model_is_the_four_tier_rate_model(default_world, truth):
    """A logistic on the one-hot tier is saturated: it equals per-origin rates P(listed at t+1 | tier t)."""
    world, _ = default_world
    ranked = placed(world)
    years = world.years
    rows = []
    for j in range(2, len(years) - 1):
        for i in np.flatnonzero(ranked[:, j] & ranked[:, j + 1]):
            rows.append((int(years[j]), world.tier[i, j], world.tier[i, j + 1] >= 2))
    frame = pd.DataFrame(rows, columns=["year", "tier", "listed_next"])
    losses = []
    for origin in range(2015, 2024):
        rates = frame[frame["year"] + 1 <= origin].groupby("tier")["listed_next"].mean()
        test = frame[frame["year"] == origin]
        p = np.clip(test["tier"].map(rates).to_numpy(dtype=float), 1e-12, 1 - 1e-12)
        y = test["listed_next"].to_numpy(dtype=float)
        losses.append(-(y * np.log(p) + (1 - y) * np.log(1 - p)))
    assert truth["oracle_skill"]["1"]["n_rows"] == sum(len(x) for x in losses)
    rate_model = np.concatenate(losses).mean()
    assert truth["oracle_skill"]["1"]["tier"]["log_loss"] == pytest.approx(rate_model, abs=2e-3)


def test_rank_auc_matches_scikit_learn_with_ties():
    rng = np.random.default_rng(0)
    y = rng.random(300) < 0.3
    p = np.round(rng.random(300) + 0.3 * y, 1)  # coarse scores: many ties
    assert _auc(y.astype(float), p) == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert _auc(np.zeros(5), np.arange(5.0)) is None


def test_tier_file_keeps_its_format(tmp_path):
    world = simulate(8, 30, 2010, 2014)
    frame = pd.read_csv(write_tiers(world, tmp_path))
    assert list(frame.columns) == ["country", "report_year", "tier", "source_url"]
    assert set(frame["tier"]) <= set(TIER_LABELS) | {"Special Case"}
    assert len(frame) == int((world.years[None, :] >= world.entry_year[:, None]).sum())


def test_small_worlds_still_get_a_truth_file():
    truth = planted_truth(simulate(5, 12, 2010, 2011), 5)
    assert truth["oracle_skill"] == {}  # too few years for any origin
    json.dumps(truth)
