"""`nexus other-targets` on a slice of the real profile: the GSI and OC Index targets, their origins,
rankings compared with a TIP-based model on the same features, one MLflow run per target, the page."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RAW = REPO.parent / "shared" / "data" / "raw"
ABSENT = f"{RAW} is absent: the publishers' files live there"
pytestmark = [pytest.mark.skipif(not RAW.is_dir(), reason=ABSENT), pytest.mark.realdata, pytest.mark.slow]
# A few sources (both targets' own included, to prove they are left out), few trees, two boosters.
SLICE = {"features.sources": ["corruption_perceptions", "governance_indicators", "press_freedom",
                              "vdem_media", "organized_crime", "global_slavery_index"],
         "training.xgb.n_estimators": 30, "training.ensemble.n_members": 2, "training.xgb.n_jobs": 1}


@pytest.fixture(scope="module")
def other_run(tmp_path_factory):
    from experiments.other_targets_page import write_other_targets
    from nexus.config import load_params

    root = tmp_path_factory.mktemp("other_targets")
    params = load_params(REPO / "params.real.yaml", {
        **SLICE, "paths.raw": str(RAW), "paths.artifacts": str(root / "artifacts"),
        "paths.tracking_uri": f"sqlite:///{root / 'mlflow.db'}"})
    paths = params.resolved_paths(REPO)
    page, out, runs = write_other_targets(params, paths, root / "docs" / "other-targets.md",
                                          command="nexus other-targets")
    return params, paths, page, out, runs


def test_each_target_has_its_editions_and_only_the_origins_they_allow(other_run):
    _, _, _, out, _ = other_run
    by = {r.target: r for r in out.results}
    gsi, oc = by["gsi_weak_response"], by["ocindex_ht_high"]
    assert gsi.editions == [2016, 2018, 2023] and oc.editions == [2021, 2023]
    # origin T: rows of T scored by the edition of T + 1, trained on earlier editions only
    assert gsi.origins["origin"].tolist() == [2017, 2022] and oc.origins["origin"].tolist() == [2022]
    assert gsi.origins["holdout"].tolist() == [False, True]
    assert gsi.origins["train_rows"].tolist() == [161, 161 + 162]


def test_the_target_sources_are_read_by_neither_model(other_run):
    _, _, _, out, _ = other_run
    by = {r.target: r for r in out.results}
    assert not any(f.startswith(("gsi_", "cpi_", "wgi_")) for f in by["gsi_weak_response"].features)
    assert {"global_slavery_index", "governance_indicators", "corruption_perceptions"} <= set(
        by["gsi_weak_response"].left_out)
    assert by["ocindex_ht_high"].left_out == ["organized_crime"]
    assert not any(f.startswith("ocindex_") for f in by["ocindex_ht_high"].features)


def test_the_rankings_are_compared_over_common_countries(other_run):
    params, _, _, out, _ = other_run
    for r in out.results:
        a = r.agreement[0]
        assert a.year == 2025 and a.countries > 150 and -1 <= a.spearman <= 1
        assert a.top_n == params.other_targets.top_n and 0 <= a.overlap <= a.top_n
        assert a.expected == pytest.approx(a.top_n ** 2 / a.countries)
        assert len(a.only_target) == len(a.only_reference) == a.top_n - a.overlap


def test_one_mlflow_run_per_target_and_a_rerun_adds_none(other_run):
    from experiments.other_targets import TAG_TARGET
    from experiments.other_targets_page import log_runs
    from nexus import tracking

    params, paths, _, out, runs = other_run
    c = tracking.client(paths)
    exp = c.get_experiment_by_name(f"{params.training.experiment_name}-other-targets")
    found = c.search_runs([exp.experiment_id])
    assert sorted(r.data.tags[TAG_TARGET] for r in found) == sorted(params.other_targets.targets)
    assert log_runs(out, params, paths) == runs
    assert len(c.search_runs([exp.experiment_id])) == len(params.other_targets.targets)


def test_the_page_is_reproducible_and_names_what_it_compared(other_run):
    from experiments.other_targets_page import render

    _, _, page, out, _ = other_run
    text = page.read_text(encoding="utf-8")
    assert render(out, "nexus other-targets") == text
    for r in out.results:
        assert f"| `{r.target}` |" in text
    assert "holdout" in text and "top-30 overlap" in text
