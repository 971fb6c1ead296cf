"""The measurement map on the synthetic world: correlations, lineage, partials, the page and command.

The world plants what the map must find: the tier is driven by administrative corruption, which
the WGI control-of-corruption estimate observes (features/synthetic/truth.py DRIVER_SIGNALS),
while some columns are pure noise (NOISE_SIGNALS); and its CPI is computed from the WJP's absence
of corruption factor, which the WJP overall score also averages in (features/synthetic/files.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.lineage import PROVENANCE
from features.measurement_map import (
    MEASURES,
    Measure,
    build_map,
    by_data_year,
    partial_correlation,
    verdict,
)
from features.synthetic.truth import DRIVER_SIGNALS, NOISE_SIGNALS

REPO = Path(__file__).resolve().parents[2]

@pytest.fixture(scope="module")
def panel_dir(small_features):
    return small_features.directory


def _measure(column: str, source: str, key: str) -> Measure:
    return Measure(key, column, "corruption", source, column, False, "as published")


def test_matrix_is_symmetric_with_unit_diagonal_and_counts_each_data_year_once(panel_dir):
    m = build_map(panel_dir)
    keys = [x.key for x in m.measures]
    assert {"tip_tier", "cpi", "wgi_cc"} <= set(keys)
    assert {x.key for x in m.absent} >= {"gsi_response", "oc_trafficking"}  # not in the synthetic world
    r = m.r.loc[keys, keys].to_numpy(float)
    assert np.allclose(r, r.T, equal_nan=True) and np.allclose(np.diag(r), 1.0)
    assert (np.abs(r[np.isfinite(r)]) <= 1 + 1e-12).all()
    assert (m.n.loc[keys, keys].to_numpy() == m.n.loc[keys, keys].to_numpy().T).all()
    assert not m.table.duplicated(["iso3", "year"]).any()
    panel = pd.read_parquet(panel_dir / "panel.parquet")
    prov = pd.read_parquet(panel_dir / PROVENANCE)
    cpi = panel[["iso3", "year", "cpi_score"]].merge(prov[prov["source"] == "corruption_perceptions"],
                                                    on=["iso3", "year"]).dropna(subset=["cpi_score"])
    described = cpi[["iso3", "data_year"]].drop_duplicates()
    assert len(described) < len(cpi)  # the panel carries values forward: rows outnumber data years
    assert int(m.n.loc["cpi", "cpi"]) == len(described)


def test_the_planted_corruption_driver_of_the_tier_is_recovered_and_noise_is_not(panel_dir):
    observed = DRIVER_SIGNALS["administrative_corruption"]
    noise = [c for c in NOISE_SIGNALS if c.startswith("wgi_")][0]
    extra = (_measure(observed, "governance_indicators", "driver"),
             _measure(noise, "governance_indicators", "noise"))
    m = build_map(panel_dir, (*MEASURES, *extra))
    driver_r, noise_r = m.r.loc["tip_tier", "driver"], m.r.loc["tip_tier", "noise"]
    assert driver_r < -0.25  # higher control of corruption (as published), better tier
    assert abs(noise_r) < 0.1 and abs(driver_r) > abs(noise_r) + 0.2
    assert m.r.loc["tip_tier", "wgi_cc"] == pytest.approx(-driver_r)  # the map's measure is reversed


def test_partialling_out_a_shared_input_removes_the_correlation_built_from_it(panel_dir):
    panel = pd.read_parquet(panel_dir / "panel.parquet")
    prov = pd.read_parquet(panel_dir / PROVENANCE)
    both = by_data_year(panel, prov, "corruption_perceptions", ["cpi_score"]).merge(
        by_data_year(panel, prov, "judicial_metrics", ["wjp_overall", "wjp_absence_of_corruption"]),
        on=["iso3", "year"])
    raw = both["cpi_score"].corr(both["wjp_overall"])
    partial, n = partial_correlation(both["cpi_score"].to_numpy(float), both["wjp_overall"].to_numpy(float),
                                     both[["wjp_absence_of_corruption"]].to_numpy(float))
    assert n == len(both.dropna())
    assert abs(raw) > 0.2 and abs(partial) < abs(raw) - 0.15


def test_partial_correlation_known_answers():
    rng = np.random.default_rng(7)
    z, e1, e2 = rng.normal(size=(3, 4000))
    x, y = z + e1, z + e2
    assert np.corrcoef(x, y)[0, 1] == pytest.approx(0.5, abs=0.05)
    partial, n = partial_correlation(x, y, z)
    assert abs(partial) < 0.05 and n == 4000
    unrelated = rng.normal(size=4000)
    assert partial_correlation(x, y, unrelated)[0] == pytest.approx(np.corrcoef(x, y)[0, 1], abs=0.02)
    x[:10] = np.nan
    assert partial_correlation(x, y, z)[1] == 3990
    assert np.isnan(partial_correlation(x[:20], y[:20], np.column_stack([z[:20]] * 3))[0])  # too few rows


def test_declared_lineage_decides_the_relation_and_the_partial_decides_the_verdict(panel_dir):
    m = build_map(panel_dir)
    pairs = {frozenset((p["a"], p["b"])): p for p in m.pairs.to_dict("records")}
    tier_wgi = pairs[frozenset(("tip_tier", "wgi_cc"))]
    assert tier_wgi["edge"] == "WGI control of corruption is built from tier_placements"
    cpi_wgi = pairs[frozenset(("cpi", "wgi_cc"))]
    assert cpi_wgi["shared_inputs"] == ["judicial_metrics"] and cpi_wgi["n_controls"] == 3
    assert "eiu_country_ratings" in cpi_wgi["shared_unobserved"]
    assert ("tier_placements", "governance_indicators") in m.edges
    base = {"r": 0.8, "edge": "", "shared_inputs": ["democracy_indices"], "shared_unobserved": [],
            "partial_r": 0.2}
    assert verdict(base) == "shared input"
    assert verdict(base | {"partial_r": 0.7}) == "shared signal (survives partialling)"
    assert verdict(base | {"partial_r": 0.7, "shared_unobserved": ["wef_eos"]}).startswith("undecided")
    assert verdict(base | {"shared_inputs": []}) == "shared signal (no declared common input)"
    assert verdict(base | {"r": 0.3}) == "not strong"


def test_the_command_writes_the_page_and_the_figure(panel_dir, world_dir, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from nexus.cli import app

    manifest = panel_dir / "manifest.json"
    before = manifest.read_bytes()
    monkeypatch.chdir(REPO)
    out = tmp_path / "docs" / "measurement-map.md"
    artifacts = panel_dir.parents[1]
    args = ["--set", f"paths.raw={world_dir}", "--set", f"paths.artifacts={artifacts}"]
    result = CliRunner().invoke(app, [*args, "measurement-map", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "features: up to date" in result.output  # the built panel is reused, not rebuilt
    assert manifest.read_bytes() == before
    text = out.read_text(encoding="utf-8")
    png = out.with_suffix(".png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "![heatmap and lineage graph](measurement-map.png)" in text
    assert "|r| ≥ 0.5" in text and "CPI × WGI control of corruption" in text
    assert "Not in this panel:" in text and "GSI government response" in text
    assert not [p for p in out.parent.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.realdata
def test_real_corruption_indices_agree_and_the_shared_vdem_input_explains_much_of_it(shared_data, tmp_path):
    """A small real panel (CPI, V-Dem, the tiers; about 30 s): the published indices' known agreement."""
    from features.panel import build_features
    from nexus.config import load_params

    sources = ["corruption_perceptions", "democracy_indices", "vdem_governance", "vdem_judicial"]
    params = load_params(REPO / "params.real.yaml", {"paths.raw": str(shared_data / "raw"),
                                                     "paths.artifacts": str(tmp_path / "a"),
                                                     "features.sources": sources})
    paths = params.resolved_paths(REPO)
    m = build_map(build_features(params.features, params.dask, paths.raw, paths.artifacts).directory)
    assert {x.key for x in m.measures} == {"tip_tier", "cpi", "vdem_political", "vdem_judicial"}
    pairs = {frozenset((p["a"], p["b"])): p for p in m.pairs.to_dict("records")}
    cpi_vdem = pairs[frozenset(("cpi", "vdem_political"))]
    assert cpi_vdem["r"] > 0.8 and cpi_vdem["n"] > 3000  # oriented: both higher = more corrupt
    assert cpi_vdem["shared_inputs"] == ["democracy_indices"]
    assert abs(cpi_vdem["partial_r"]) < cpi_vdem["r_same_rows"] - 0.2
    assert pairs[frozenset(("vdem_political", "vdem_judicial"))]["verdict"] == "shared input (declared edge)"
    tier_cpi = pairs[frozenset(("tip_tier", "cpi"))]
    assert tier_cpi["edge"] == "" and not tier_cpi["shared_inputs"] and tier_cpi["n"] > 3000


def test_a_bad_raw_folder_names_the_problem_and_leaves_the_existing_page_alone(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from nexus.cli import app
    from nexus.errors import NexusError

    monkeypatch.chdir(REPO)
    raw = tmp_path / "raw"
    raw.mkdir()
    out = tmp_path / "measurement-map.md"
    out.write_text("the page as it was\n", encoding="utf-8")
    args = ["--set", f"paths.raw={raw}", "--set", f"paths.artifacts={tmp_path / 'a'}"]
    result = CliRunner().invoke(app, [*args, "measurement-map", "--out", str(out)])
    assert isinstance(result.exception, NexusError)
    assert str(raw) in str(result.exception) and "found no file" in str(result.exception)
    assert out.read_text(encoding="utf-8") == "the page as it was\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["measurement-map.md", "raw"]
