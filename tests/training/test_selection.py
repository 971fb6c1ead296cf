"""Feature sets: 'independent sources only' follows declared lineage; an excluded name must exist."""

import pytest

from features.lineage import dependent_sources
from nexus.errors import ConfigError
from training.selection import panel_sources, select_features


def _catalog(small_features):
    import json

    return json.loads((small_features.directory / "feature_catalog.json").read_text())


def test_independent_sources_drop_the_index_its_inputs_and_siblings(small_features, small_params, tmp_path):
    catalog = _catalog(small_features)
    # corruption_perceptions is built from governance_indicators and judicial_metrics (declared lineage);
    # governance_indicators shares the index's inputs; tier_placements is the label.
    sources, labels = panel_sources(catalog)
    dependent = dependent_sources(sources, *labels)
    assert dependent >= {"corruption_perceptions", "governance_indicators", "judicial_metrics",
                         "tier_placements"}
    assert not dependent_sources(sources, *labels) & {"press_freedom", "border_crossings",
                                                      "procurement_signals"}
    params, _ = small_params(tmp_path, {"training.independent_sources_only": True})
    chosen = select_features(catalog, params.training)
    from training.targets import PLACEMENT_FEATURES

    assert set(PLACEMENT_FEATURES) <= set(chosen)   # the product model reads the current placement
    assert {catalog[c]["source"] for c in chosen if c not in PLACEMENT_FEATURES} == {"press_freedom", "border_crossings",
                                                      "procurement_signals"}


def test_a_typo_in_an_exclusion_fails_instead_of_excluding_nothing(small_features, small_params, tmp_path):
    params, _ = small_params(tmp_path, {"training.exclude_features": ["procurment"]})
    with pytest.raises(ConfigError, match=r"'procurment' is no family, source or column; families: press"):
        select_features(_catalog(small_features), params.training)
