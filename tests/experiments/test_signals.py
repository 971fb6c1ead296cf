"""`nexus signals` on the synthetic world: one scorecard row per source, coverage as in the panel,
a planted signal's removal costs log loss, one MLflow run per source, and the page written."""

from __future__ import annotations

import pandas as pd
import pytest

# One booster of 40 trees and one calibration method: the scorecard runs 2 backtests per source
# plus two references.
SIGNALS_SMALL = {"signals.n_estimators": 40, "signals.n_members": 1, "signals.n_resamples": 100,
                 "training.calibration.method": "none"}


@pytest.fixture(scope="module")
def scorecard_run(small_params, small_features, tmp_path_factory):
    from experiments.signals_page import write_signals

    root = tmp_path_factory.mktemp("signals")
    shared_artifacts = str(small_features.directory.parents[1])   # the session's panel, not a rebuild
    params, paths = small_params(root, {**SIGNALS_SMALL, "paths.artifacts": shared_artifacts})
    page, card, runs = write_signals(params, paths, root / "docs" / "signals.md", command="nexus signals")
    return params, paths, page, card, runs, small_features


def test_the_scorecard_has_one_row_per_source(scorecard_run):
    params, _, _, card, _, _ = scorecard_run
    expected = [s for s in params.features.sources if s != params.features.label_source]
    assert card.sources == expected
    for table in (card.coverage, card.lineage, card.redundancy):
        assert sorted(table["source"]) == sorted(expected)
    # every source with features is judged against both reference models, dev and holdout
    counts = card.added_value.groupby("source").size()
    assert (counts == 2 * 2 * 3).all() and sorted(counts.index) == sorted(expected)


def test_coverage_matches_the_panel(scorecard_run):
    from features.panel import load_panel

    *_, card, _, build = scorecard_run
    panel, catalog, _ = load_panel(build.directory)
    cov = card.coverage.set_index("source")
    for source in card.sources:
        own = [c for c, info in catalog.items() if info["source"] == source and not info.get("extra_lag")]
        seen = panel[own].notna().any(axis=1)
        latest = panel["year"] == panel["year"].max()
        assert cov.loc[source, "country_years"] == seen.sum()
        assert cov.loc[source, "countries"] == panel.loc[seen, "iso3"].nunique()
        assert cov.loc[source, "latest_countries"] == (seen & latest).sum()
        assert cov.loc[source, "share"] == pytest.approx(seen.mean())


def test_leaving_out_a_planted_signal_worsens_development_log_loss(scorecard_run):
    """procurement_signals carries the world's largest planted effect (procurement_capture, 1.3)."""
    *_, card, _, _ = scorecard_run
    av = card.added_value
    row = av[(av["source"] == "procurement_signals") & (av["comparison"] == "full") & ~av["holdout"]
             & (av["subset"] == "all") & (av["metric"] == "log_loss")].iloc[0]
    assert row["action"] == "left out"
    assert row["diff"] < 0 and row["high"] < 0   # with it minus without it: lower log loss, interval below 0


def test_redundancy_finds_the_derived_index(scorecard_run):
    """The synthetic corruption index is built from the governance and judicial signals."""
    *_, card, _, _ = scorecard_run
    red = card.redundancy.set_index("source")
    assert abs(red.loc["corruption_perceptions", "corr_governance"]) > 0.5
    assert red.loc["corruption_perceptions", "vif"] > red.loc["procurement_signals", "vif"]


def test_one_mlflow_run_per_source_and_a_rerun_adds_none(scorecard_run):
    from experiments.signals import TAG_SOURCE
    from experiments.signals_page import log_runs
    from nexus import tracking

    params, paths, page, card, runs, _ = scorecard_run
    c = tracking.client(paths)
    exp = c.get_experiment_by_name(f"{params.training.experiment_name}-signals")
    found = c.search_runs([exp.experiment_id])
    per_source = pd.Series([r.data.tags[TAG_SOURCE] for r in found]).value_counts()
    assert sorted(per_source.index) == sorted(card.sources) and (per_source == 1).all()
    assert log_runs(card, params, paths, page.with_suffix(".png")) == runs
    assert len(c.search_runs([exp.experiment_id])) == len(card.sources)


def test_the_page_reports_holdout_first_and_is_reproducible(scorecard_run):
    from experiments.signals_page import render

    *_, page, card, _, _ = scorecard_run
    text = page.read_text(encoding="utf-8")
    assert text.index("on the holdout") < text.index("on the development origins")
    for source in card.sources:
        assert f"| {source} |" in text
    assert page.with_suffix(".png").stat().st_size > 10_000
    assert render(card, "nexus signals") == text


def test_an_unknown_reference_experiment_names_the_signals_key(small_params, small_features, tmp_path):
    import json

    from experiments.signals import pairings
    from nexus.errors import ConfigError

    params, _ = small_params(tmp_path, {"signals.full_experiment": "no_such_experiment"})
    catalog = json.loads((small_features.directory / "feature_catalog.json").read_text(encoding="utf-8"))
    with pytest.raises(ConfigError, match=r"signals\.full_experiment: unknown experiment"):
        pairings(params, catalog)


def test_a_pairwise_matrix_that_is_no_correlation_matrix_is_made_invertible():
    import numpy as np

    from experiments.signals import nearest_correlation

    # pairwise-complete correlations can contradict each other: a~b, b~c strongly, a~c strongly negative
    r = np.array([[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]])
    assert np.linalg.eigvalsh(r).min() < 0
    fixed = nearest_correlation(r)
    assert np.allclose(np.diag(fixed), 1.0) and np.linalg.eigvalsh(fixed).min() > 0
    assert np.all(np.sign(fixed[np.triu_indices(3, 1)]) == np.sign(r[np.triu_indices(3, 1)]))
