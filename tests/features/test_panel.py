"""The panel: no feature for year t uses data published after t; coverage counts what is observed."""

import json

import numpy as np
import pandas as pd
import pytest

from features.panel import PROVENANCE, load_panel


@pytest.fixture(scope="module")
def built(pipeline):
    panel, catalog, manifest = load_panel(pipeline.features.directory)
    provenance = pd.read_parquet(pipeline.features.directory / PROVENANCE)
    return panel, catalog, provenance


def test_no_feature_uses_data_published_after_its_year(built):
    panel, catalog, provenance = built
    lags = {info["source"]: info["lag_years"] for info in catalog.values()}
    known = provenance.dropna(subset=["data_year"])
    published = known["data_year"] + known["source"].map(lags)
    assert (published <= known["year"]).all()
    assert len(known) > 1000


def test_lagged_value_equals_source_value_from_lag_years_before(built, world_dir):
    panel, _, _ = built
    edition = pd.read_csv(world_dir / "rsf_wpfi" / "rsf_2011.csv", sep=";", decimal=",", encoding="utf-8-sig")
    row = edition.iloc[0]
    # edition 2011 describes 2010, published in 2011: first usable at t = 2011
    at_2011 = panel.loc[(panel.iso3 == row["ISO"]) & (panel.year == 2011), "press_freedom_score"].item()
    assert at_2011 == pytest.approx(row["Score"])
    at_2012_lag1 = panel.loc[(panel.iso3 == row["ISO"]) & (panel.year == 2012), "press_freedom_score_lag1"].item()
    assert at_2012_lag1 == pytest.approx(row["Score"])


def test_changing_a_future_file_does_not_change_past_rows(tmp_path, world_dir, make_params):
    import shutil

    from features.panel import build_features

    raw = tmp_path / "raw"
    shutil.copytree(world_dir, raw)
    params, paths = make_params(tmp_path, {"paths.raw": str(raw)})
    before, _, _ = load_panel(build_features(params.features, paths.raw, paths.artifacts).directory)
    path = raw / "rsf_wpfi" / "rsf_2020.csv"  # describes 2019, usable from 2020
    text = path.read_text(encoding="utf-8").splitlines()
    text[1:] = [";".join([c.split(";")[0], "1,00", *c.split(";")[2:]]) for c in text[1:]]
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    after, _, _ = load_panel(build_features(params.features, paths.raw, paths.artifacts).directory)
    past = before["year"] < 2020
    pd.testing.assert_frame_equal(before[past].reset_index(drop=True), after[past].reset_index(drop=True))
    assert not before[~past]["press_freedom_score"].equals(after[~past]["press_freedom_score"])


def test_coverage_is_share_of_declared_signals_observed(built):
    panel, catalog, _ = built
    base = [c for c, info in catalog.items() if info["family"] != "label" and info["extra_lag"] == 0]
    expected = panel[base].notna().mean(axis=1)
    np.testing.assert_allclose(panel["coverage"], expected)
    assert panel["coverage"].between(0, 1).all()
    assert (panel["coverage"] < 1).any(), "the world has gaps (late entrants, missing editions)"


def test_catalog_lists_family_unit_lineage_and_file_hashes(built):
    _, catalog, _ = built
    cpi = catalog["cpi_score"]
    assert cpi["family"] == "governance" and "judicial_metrics" in cpi["lineage"]
    assert all(h.startswith("sha256:") for h in cpi["files"].values())
    json.dumps(catalog)
