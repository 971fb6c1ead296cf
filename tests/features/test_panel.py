"""The panel: no feature for year t uses data published after t; values older than their source's
staleness limit are missing; coverage counts what is observed; the label columns and their provenance."""

import json

import numpy as np
import pandas as pd
import pytest

from features.panel import LABEL_PROVENANCE, PROVENANCE, load_panel
from features.registry import get_source

LABEL_COLUMNS = ["label_tier", "label_listed", "label_special_case", "label_inferred", "label_evidence"]


@pytest.fixture(scope="module")
def built(small_features):
    panel, catalog, manifest = load_panel(small_features.directory)
    provenance = pd.read_parquet(small_features.directory / PROVENANCE)
    return panel, catalog, provenance


def test_no_feature_uses_data_published_after_its_year(built):
    panel, catalog, provenance = built
    known = provenance.dropna(subset=["data_year"])
    assert (known["published_year"] <= known["year"]).all()
    # the synthetic world writes every file on its source's constant lag (features.calendar: constant_lag)
    lags = {info["source"]: info["lag_years"] for info in catalog.values()}
    assert (known["published_year"] == known["data_year"] + known["source"].map(lags)).all()
    assert len(known) > 1000


def test_a_value_older_than_its_staleness_limit_is_missing(built):
    _, _, provenance = built
    known = provenance.dropna(subset=["data_year"])
    limit = known["source"].map(lambda n: get_source(n).calendar.max_age_years)
    assert ((known["year"] - known["data_year"]) <= limit).all()
    # press freedom edition 2016 (data 2015) is missing from the world: row 2016 carries 2014's value
    # (age 2, the limit), and nothing older is ever used
    press = known[known["source"] == "press_freedom"]
    assert set(press.loc[press["year"] == 2016, "data_year"]) == {2014}
    assert (press["year"] - press["data_year"]).max() == 2


def test_label_columns_are_floats_and_consistent(built, small_features):
    panel, catalog, _ = built
    for column in LABEL_COLUMNS:
        assert panel[column].dtype == np.float64 and catalog[column]["family"] == "label"
    known = panel.dropna(subset=["label_tier"])
    assert ((known["label_tier"] >= 2).astype(float) == known["label_listed"]).all()
    assert panel.loc[panel["label_special_case"] == 1, "label_listed"].isna().all()
    labelled = panel["label_evidence"].notna()
    assert (panel.loc[labelled, "label_inferred"] == 0).all()  # the synthetic world has no partial report year
    assert panel.loc[~labelled, ["label_tier", "label_listed", "label_inferred"]].isna().all().all()
    labels = pd.read_parquet(small_features.directory / LABEL_PROVENANCE)
    merged = labels.merge(panel[["iso3", "year", *LABEL_COLUMNS]], on=["iso3", "year"], suffixes=("", "_panel"))
    assert len(merged) == len(labels) == labelled.sum()
    for column in LABEL_COLUMNS:
        pd.testing.assert_series_equal(merged[column], merged[f"{column}_panel"], check_names=False)
    assert (labels["file"] == "us_state_tip/tier_placements.csv").all() and (labels["row"] >= 2).all()
    assert set(labels["rule"]) == {"stated"}


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
    before, _, _ = load_panel(build_features(params.features, params.dask, paths.raw, paths.artifacts).directory)
    path = raw / "rsf_wpfi" / "rsf_2020.csv"  # describes 2019, usable from 2020
    text = path.read_text(encoding="utf-8").splitlines()
    text[1:] = [";".join([c.split(";")[0], "1,00", *c.split(";")[2:]]) for c in text[1:]]
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    after, _, _ = load_panel(build_features(params.features, params.dask, paths.raw, paths.artifacts).directory)
    past = before["year"] < 2020
    pd.testing.assert_frame_equal(before[past].reset_index(drop=True), after[past].reset_index(drop=True))
    assert not before[~past]["press_freedom_score"].equals(after[~past]["press_freedom_score"])


def test_extra_lag_is_what_the_row_a_year_earlier_held(built):
    panel, _, _ = built
    earlier = panel[["iso3", "year", "cpi_score"]].assign(year=panel["year"] + 1).rename(columns={"cpi_score": "held"})
    both = panel[["iso3", "year", "cpi_score_lag1"]].merge(earlier, on=["iso3", "year"], how="inner")
    pd.testing.assert_series_equal(both["cpi_score_lag1"], both["held"], check_names=False)
    assert both["held"].notna().sum() > 500


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


def test_panel_key_hashes_the_code_the_build_runs_and_nothing_else():
    from pathlib import Path

    from nexus.manifest import imported_files

    root = Path(__file__).resolve().parents[2]
    names = {p.relative_to(root).as_posix() for p in imported_files("features.panel")}
    assert {"features/panel.py", "features/registry.py", "features/readers.py", "features/event_tables.py",
            "features/sources/press_freedom.py", "features/sources/procurement_signals.py"} <= names
    assert any(n.startswith("features/ocds") for n in names)  # imported inside procurement_signals.build
    assert not {n for n in names if n.startswith(("features/synthetic", "features/fetch", "features/cli"))}


def test_an_unrelated_file_leaves_the_key_and_an_imported_module_changes_it(tmp_path, monkeypatch):
    from nexus.manifest import imported_code_hash

    package = tmp_path / "toy_stage"
    (package / "sources").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "panel.py").write_text("from toy_stage.registry import NAME\n\n\ndef build():\n"
                                      "    from toy_stage.sources import first\n    return first.VALUE\n")
    (package / "registry.py").write_text("NAME = 'registry'\n")
    (package / "sources" / "__init__.py").write_text("")
    (package / "sources" / "first.py").write_text("VALUE = 1\n")
    (package / "fetch.py").write_text("URL = 'https://example.org'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    before = imported_code_hash("toy_stage.panel")
    (package / "fetch.py").write_text("URL = 'https://example.org/moved'\n")
    assert imported_code_hash("toy_stage.panel") == before
    (package / "sources" / "first.py").write_text("VALUE = 2\n")
    assert imported_code_hash("toy_stage.panel") != before


def test_source_rows_and_regions_are_built_with_the_panel(small_features):
    from features.lineage import COUNTRY_REGIONS, SOURCE_ROWS, country_regions, source_rows

    assert {SOURCE_ROWS, COUNTRY_REGIONS} <= set(small_features.manifest.outputs)
    rows = source_rows(small_features.directory)
    params = small_features.manifest.params
    assert set(rows["source"]) == {*params["sources"], params["label_source"]}
    assert not rows["file"].str.startswith("/").any() and (rows["row"] >= 1).all()  # 1-based
    regions = country_regions(small_features.directory, sorted(rows["iso3"].unique()))
    assert all(regions.values())  # every synthetic country's region, from the press-freedom files
