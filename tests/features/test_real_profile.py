"""The real-data profile: loads beside params.yaml, never writes the world, names its independent sources."""

from pathlib import Path

import pytest

from features.lineage import dependence, dependent_sources, independent_sources
from nexus.config import load_params
from nexus.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_both_profiles_load_and_only_the_synthetic_one_writes_a_world():
    real, synthetic = load_params(REPO / "params.real.yaml"), load_params(REPO / "params.yaml")
    assert synthetic.world.generate and not real.world.generate
    assert real.scoring.model_name != synthetic.scoring.model_name
    assert set(real.model_dump()) == set(synthetic.model_dump())


def test_every_origin_of_the_real_backtest_has_published_tiers():
    tp = load_params(REPO / "params.real.yaml").training
    labelled_report_years = set(range(2001, 2026))  # 2016–2019 transcribed; 2022, 2024, 2025 binary (inferred negatives)
    for origin in range(tp.backtest.first_origin, tp.backtest.last_origin + 1):
        assert origin + tp.horizon_years in labelled_report_years


def test_independent_sources_of_the_real_profile():
    sources = load_params(REPO / "params.real.yaml").features.sources
    dependent = dependent_sources(sources, "tier_placements")
    assert dependent == {
        "corruption_perceptions",
        "governance_indicators",
        "democracy_indices",
        "judicial_metrics",
        "vdem_judicial",  # the V-Dem survey the perceptions index reads (via democracy_indices)
        "vdem_media",
        "vdem_governance",
        "vdem_forced_labour",
        "global_slavery_index",  # its government response grades effort as the tiers do
    }
    assert dependence("governance_indicators", "tier_placements") == "is built from tier_placements"
    assert dependence("democracy_indices", "tier_placements") == "is an input of corruption_perceptions"
    assert dependence("population", "tier_placements") == ""
    assert dependence("unhcr_refugees", "tier_placements") == ""
    assert dependence("vdem_judicial", "tier_placements") == "shares inputs with corruption_perceptions (democracy_indices)"
    kept = independent_sources(sources, "tier_placements")
    assert "press_freedom" in kept and "unhcr_refugees" in kept and len(kept) == len(sources) - 9


def test_run_refuses_to_write_the_world_into_a_folder_of_real_files(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from nexus.cli import app

    raw = tmp_path / "real"
    raw.mkdir()
    (raw / "cpi.csv").write_text("country,year,cpi\n", encoding="utf-8")
    monkeypatch.chdir(REPO)
    result = CliRunner().invoke(
        app, ["--set", f"paths.raw={raw}", "--set", f"paths.artifacts={tmp_path / 'a'}", "world"]
    )
    assert isinstance(result.exception, ConfigError)
    assert "holds files that are not a synthetic world" in str(result.exception)
    assert sorted(p.name for p in raw.iterdir()) == ["cpi.csv"]


def test_a_profile_extends_params_yaml_and_a_cycle_is_refused(tmp_path):
    (tmp_path / "base.yaml").write_text((REPO / "params.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    profile_text = "extends: base.yaml\ntraining: {xgb: {max_depth: 7}}\n"
    (tmp_path / "profile.yaml").write_text(profile_text, encoding="utf-8")
    profile = load_params(tmp_path / "profile.yaml")
    assert profile.training.xgb.max_depth == 7
    assert profile.training.xgb.n_estimators == load_params(tmp_path / "base.yaml").training.xgb.n_estimators
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"b.yaml: extends: a.yaml extends this file again"):
        load_params(tmp_path / "a.yaml")
