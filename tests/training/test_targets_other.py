"""Other targets: the GSI government response (weak = positive) and the OC Index trafficking score (high =
positive), read from each edition itself, row t scored by the edition of t + h, leaking sources left out."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nexus.config import TargetCuts
from training.targets import EDITION_TARGETS, add_targets, leaking_sources, target_column

REPO = Path(__file__).resolve().parents[2]
RAW = REPO.parent / "shared" / "data" / "raw"
real = pytest.mark.skipif(not RAW.is_dir(), reason=f"{RAW} is absent: the publishers' files live there")
CUTS = TargetCuts(gsi_weakest_share=0.3333, ocindex_ht_min_score=7)


def _panel(rows: list[tuple], column: str, source: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(panel, provenance) from (iso3, year, value, data_year) rows; TIP columns empty."""
    frame = pd.DataFrame(rows, columns=["iso3", "year", column, "data_year"])
    panel = frame[["iso3", "year", column]].assign(label_tier=np.nan, label_listed=np.nan)
    provenance = frame[["iso3", "year"]].assign(source=source, data_year=frame["data_year"].astype("Int64"))
    return panel, provenance


def test_a_value_carried_forward_from_an_older_edition_is_no_target():
    # XAC is missing from the 2023 edition: its 2023 row still shows the 2018 value (data_year 2018)
    rows = [("XAA", 2018, 10.0, 2018), ("XAB", 2018, 50.0, 2018), ("XAC", 2018, 60.0, 2018),
            ("XAA", 2022, 10.0, 2018), ("XAB", 2022, 50.0, 2018), ("XAC", 2022, 60.0, 2018),
            ("XAD", 2022, np.nan, None),
            ("XAA", 2023, 70.0, 2023), ("XAB", 2023, 20.0, 2023), ("XAC", 2023, 60.0, 2018),
            ("XAD", 2023, 40.0, 2023)]
    panel, provenance = _panel(rows, "gsi_government_response", "global_slavery_index")
    out = add_targets(panel, "gsi_weak_response", 1, cuts=CUTS, provenance=provenance)
    out = out.set_index(["iso3", "year"])
    y = out[target_column("gsi_weak_response", 1)]
    # 2022 rows score the 2023 edition, which rates XAA, XAB and XAD: XAB is its weakest third
    assert y[("XAB", 2022)] == 1 and y[("XAA", 2022)] == 0 and y[("XAD", 2022)] == 0
    assert np.isnan(y[("XAC", 2022)])            # the 2018 value carried into 2023 is not the 2023 edition
    assert np.isnan(y[("XAA", 2018)])            # no edition in 2019: no target
    assert out.loc[("XAB", 2022), "target_year"] == 2023 and out.loc[("XAB", 2022), "target_value"] == 20.0


def test_the_oc_index_cut_is_at_or_above_the_declared_score():
    rows = [("XAA", 2023, 7.0, 2023), ("XAB", 2023, 6.5, 2023), ("XAC", 2023, 9.0, 2023),
            ("XAA", 2022, 5.0, 2021), ("XAB", 2022, 5.0, 2021), ("XAC", 2022, 5.0, 2021)]
    panel, provenance = _panel(rows, "ocindex_human_trafficking", "organized_crime")
    out = add_targets(panel, "ocindex_ht_high", 1, cuts=CUTS, provenance=provenance)
    out = out.set_index(["iso3", "year"])
    y = out[target_column("ocindex_ht_high", 1)]
    assert (y[("XAA", 2022)], y[("XAB", 2022)], y[("XAC", 2022)]) == (1, 0, 1)


def test_an_edition_target_without_its_cuts_or_provenance_says_what_it_needs():
    from nexus.errors import NexusError

    panel, _ = _panel([("XAA", 2023, 7.0, 2023)], "ocindex_human_trafficking", "organized_crime")
    with pytest.raises(NexusError, match=r"training.target ocindex_ht_high: needs training.target_cuts"):
        add_targets(panel, "ocindex_ht_high", 1)
    with pytest.raises(NexusError, match=r"no column 'gsi_government_response'; add global_slavery_index"):
        add_targets(panel, "gsi_weak_response", 1, cuts=CUTS, provenance=pd.DataFrame(
            columns=["iso3", "year", "source", "data_year"]))


def test_the_target_source_and_the_sources_sharing_its_inputs_are_left_out():
    sources = {"global_slavery_index", "governance_indicators", "unhcr_refugees", "corruption_perceptions",
               "organized_crime", "vdem_media", "tier_placements"}
    gsi = leaking_sources("gsi_weak_response", sources)
    assert {"global_slavery_index", "governance_indicators", "unhcr_refugees"} <= gsi
    assert "vdem_media" not in gsi and "organized_crime" not in gsi
    assert leaking_sources("ocindex_ht_high", sources) == {"organized_crime"}
    assert leaking_sources("t2wl_or_t3", sources) == set()


def test_an_unknown_target_names_the_key_and_the_allowed_values(make_params, tmp_path):
    from nexus.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        make_params(tmp_path, {"training.target": "gsi_prevalence"})
    text = str(err.value)
    assert "training.target" in text and "\n" not in text
    for allowed in ("t2wl_or_t3", "t3", "gsi_weak_response", "ocindex_ht_high"):
        assert allowed in text


def test_a_cut_outside_its_scale_names_the_key(make_params, tmp_path):
    from nexus.errors import ConfigError

    with pytest.raises(ConfigError, match=r"training\.target_cuts\.ocindex_ht_min_score"):
        make_params(tmp_path, {"training.target_cuts.ocindex_ht_min_score": 11})


# -- known values from the publishers' files ---------------------------------------------------

@functools.cache
def _real_target(target: str) -> pd.Series:
    """Each edition's target, (iso3, edition) → 0/1, from the source's own rows and the rows a year before."""
    from features.build_context import BuildContext
    from features.registry import get_source

    spec = EDITION_TARGETS[target]
    source = get_source(spec.source)
    frame = source.build(source.find_files(RAW), BuildContext.for_policy("refuse"))
    rows = [(r.iso3, int(r.year), getattr(r, spec.column), int(r.year)) for r in frame.itertuples()]
    rows += [(r.iso3, int(r.year) - 1, np.nan, None) for r in frame.itertuples()]   # the rows scored
    panel, provenance = _panel(rows, spec.column, spec.source)
    out = add_targets(panel, target, 1, cuts=CUTS, provenance=provenance)
    return out.set_index(["iso3", "target_year"])[target_column(target, 1)].dropna()


@real
@pytest.mark.realdata
def test_gsi_weak_response_known_values():
    y = _real_target("gsi_weak_response")
    # 2018 edition (162 rated): North Korea -5.60 and Cabo Verde 22.92 weak; Turkey 47.38, Albania 59.88 not
    assert y[("PRK", 2018)] == 1 and y[("CPV", 2018)] == 1
    assert y[("TUR", 2018)] == 0 and y[("ALB", 2018)] == 0
    # 2023 edition (176 rated, no grades published): Cabo Verde 30.77 in the weakest third, Turkey 48.72 not
    assert y[("CPV", 2023)] == 1 and y[("TUR", 2023)] == 0
    counts = y.groupby(level="target_year").agg(["count", "sum"])
    assert counts["count"].to_dict() == {2016: 161, 2018: 162, 2023: 176}
    assert (counts["sum"] / counts["count"]).between(0.30, 0.34).all()   # a third, ties kept together


@real
@pytest.mark.realdata
def test_ocindex_ht_high_known_values():
    y = _real_target("ocindex_ht_high")
    # 2021: Turkey 7.0 (at the cut) and Afghanistan 8.5 high; Cabo Verde 4.5, the USA 5.5 not
    assert y[("TUR", 2021)] == 1 and y[("AFG", 2021)] == 1
    assert y[("CPV", 2021)] == 0 and y[("USA", 2021)] == 0
    # 2023: the USA 6.0 still below the cut, North Korea 8.5 above
    assert y[("USA", 2023)] == 0 and y[("PRK", 2023)] == 1
    assert y.groupby(level="target_year").sum().to_dict() == {2021: 51, 2023: 71}


def test_a_model_of_the_gsi_response_reads_neither_its_sources_nor_the_placement(make_params, tmp_path):
    from training.selection import select_features

    catalog = {"gsi_vulnerability": {"source": "global_slavery_index", "family": "governance"},
               "wgi_cc": {"source": "governance_indicators", "family": "governance"},
               "ocindex_human_trafficking": {"source": "organized_crime", "family": "judicial"},
               "label_tier": {"source": "tier_placements", "family": "label"}}
    params, _ = make_params(tmp_path, {"training.include_label_history": True})
    gsi = params.training.model_copy(update={"target": "gsi_weak_response"})
    oc = params.training.model_copy(update={"target": "ocindex_ht_high"})
    assert select_features(catalog, gsi) == ["ocindex_human_trafficking"]
    assert select_features(catalog, oc) == ["gsi_vulnerability", "wgi_cc", "current_tier", "previous_tier",
                                            "current_listed"]
    assert "current_tier" in select_features(catalog, params.training)
