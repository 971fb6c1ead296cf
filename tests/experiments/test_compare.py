"""The leaderboard reads runs from MLflow, pairs only identical folds and rows, and knows the planted answer.

Known answer: procurement capture is the strongest planted driver, so leaving the procurement
family out must lose skill against the baseline, with a paired interval below zero.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments import stability
from experiments.compare import compare_experiments
from experiments.runner import run_experiment
from nexus.errors import ConfigError
from nexus.tracking import client
from training.runs import NotComparableError


@pytest.fixture(scope="module")
def lab(small_params, tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    params, paths = small_params(root)
    names = ("baseline", "drop_procurement", "horizon_2y")
    runs = {name: run_experiment(name, params, paths) for name in names}
    return params, paths, runs


def test_an_experiment_run_is_one_tagged_parent_run_with_origins_as_children(lab):
    params, paths, runs = lab
    c = client(paths)
    run_id = runs["baseline"].metrics["run_id"]
    assert c.get_run(run_id).data.tags["nexus.experiment"] == "baseline"
    exp = c.get_experiment_by_name(params.training.experiment_name)
    children = c.search_runs([exp.experiment_id], f"tags.`mlflow.parentRunId` = '{run_id}'")
    origins = sorted(int(r.data.tags["nexus.origin"]) for r in children
                     if "nexus.origin" in r.data.tags and r.data.tags["nexus.model"] == "xgboost")
    assert origins == list(range(2018, 2024))   # development and holdout origins, each tagged
    # rerunning is a no-op (on the same panel: other engineers' edits to features/ would rebuild it)
    from experiments.runner import TAG, load_experiment, resolve
    from features.panel import FeatureBuild
    from nexus.manifest import Manifest
    from training.train import train

    features_dir = Path(runs["baseline"].manifest.extra["features_dir"])
    build = FeatureBuild(features_dir, Manifest.read(features_dir), built=False)
    again = train(resolve(load_experiment("baseline"), params), paths, build, tags={TAG: "baseline"})
    assert not again.trained and again.metrics["run_id"] == run_id


def test_compare_refuses_experiments_on_different_folds_and_says_why(lab):
    params, paths, _ = lab
    with pytest.raises(NotComparableError, match=r"refusing to compare: horizon_2y and baseline were not "
                                                 r"judged on identical folds and rows: horizon_years 2 vs 1"):
        compare_experiments(["baseline", "horizon_2y"], params, paths)


def test_leaving_out_the_strongest_planted_family_loses_skill_with_a_paired_interval_below_zero(lab):
    params, paths, _ = lab
    result = compare_experiments(["baseline", "drop_procurement"], params, paths)
    table = result.table.set_index("entry")
    assert result.reference == "baseline"
    assert table.loc["drop_procurement", "auc_diff_high"] < 0
    assert table.loc["drop_procurement", "log_loss_diff_low"] > 0
    assert table.loc["baseline", "auc_diff"] == 0
    for name in ("baseline · persistence", "baseline · base_rate", "baseline · cpi_logistic"):
        assert name in table.index
    row = table.loc["baseline"]
    assert row["auc_low"] <= row["auc"] <= row["auc_high"]
    for f in ("leaderboard.csv", "leaderboard.md", "per_origin_auc.png", "per_origin_log_loss.png"):
        assert (result.directory / f).stat().st_size > 0
    assert "Paired difference from baseline" in result.markdown
    csv = pd.read_csv(result.directory / "leaderboard.csv")
    assert set(csv["entry"]) == set(table.index)


def test_explanation_stability_is_perfect_against_itself_and_lower_without_a_top_driver(lab):
    params, paths, _ = lab
    table = compare_experiments(["baseline", "drop_procurement"], params, paths).table.set_index("entry")
    assert table.loc["baseline", "shap_vs_ref_spearman"] == pytest.approx(1.0)
    assert table.loc["baseline", "shap_vs_ref_top_k_overlap"] == pytest.approx(1.0)
    assert table.loc["drop_procurement", "shap_vs_ref_top_k_overlap"] < 0.9
    assert 0 < table.loc["baseline", "shap_over_origins_top_k_overlap"] <= 1
    assert 0.8 <= table.loc["baseline", "set_coverage"] <= 1


def test_without_names_every_run_is_compared_and_the_incomparable_are_left_out_with_the_reason(lab):
    params, paths, _ = lab
    result = compare_experiments(None, params, paths)
    assert set(result.table["entry"]) >= {"baseline", "drop_procurement"}
    assert "horizon_2y" not in set(result.table["entry"])
    assert "horizon_years 2 vs 1" in result.left_out["horizon_2y"]


def test_a_lone_experiment_is_paired_with_its_compare_to_or_its_own_baselines(lab):
    params, paths, _ = lab
    assert compare_experiments(["drop_procurement"], params, paths).reference == "baseline"
    alone = compare_experiments(["horizon_2y"], params, paths)
    assert alone.reference == "horizon_2y" and "horizon_2y · persistence" in set(alone.table["entry"])


def test_an_unknown_name_or_one_never_run_is_a_clear_error(lab):
    params, paths, _ = lab
    with pytest.raises(ConfigError, match=r"drop_pres: unknown experiment; known: "):
        compare_experiments(["baseline", "drop_pres"], params, paths)
    from nexus.errors import NexusError

    with pytest.raises(NexusError, match=r"'drop_press' has no finished run .*experiment run drop_press"):
        compare_experiments(["baseline", "drop_press"], params, paths)


def test_driver_agreement_on_constructed_explanations():
    keys = {"iso3": ["XAA", "XAB"], "year": [2020, 2020], "origin": [2020, 2020]}
    a = pd.DataFrame({**keys, **{f"f{i}": [10.0 - i, 10.0 - i] for i in range(8)}})
    reversed_ = pd.DataFrame({**keys, **{f"f{i}": [float(i), float(i)] for i in range(8)}})
    same = stability.driver_agreement(a, a)
    assert np.allclose(same[["spearman", "top_k_overlap"]], 1)
    flipped = stability.driver_agreement(a, reversed_)
    assert np.allclose(flipped["spearman"], -1) and np.allclose(flipped["top_k_overlap"], 2 / 5)


def test_runs_on_different_panels_are_paired_but_flagged():
    from experiments.compare import _panel_notes
    from training.runs import RunBacktest

    def run(name, sha):
        return RunBacktest(name, name, pd.DataFrame(), None, {}, {"nexus.panel_sha256": f"sha256:{sha}"})

    assert _panel_notes({"a": run("a", "1" * 64), "b": run("b", "1" * 64)}) == []
    (note,) = _panel_notes({"a": run("a", "1" * 64), "b": run("b", "2" * 64)})
    assert "2 different panels (111111111111: a; 222222222222: b)" in note and "--force" in note
