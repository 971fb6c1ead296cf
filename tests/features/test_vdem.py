"""V-Dem v14 judicial, media, governance and forced-labour sources on the real file; label-construct columns."""

from __future__ import annotations

import functools
from pathlib import Path

import pandas as pd
import pytest

from features.build_context import BuildContext
from features.panel import feature_catalog, validate_source_frame
from features.registry import Column, get_source, register_source
from nexus.config import load_params

REPO = Path(__file__).resolve().parents[2]
RAW = REPO.parent / "shared" / "data" / "raw"
VDEM = ("vdem_judicial", "vdem_media", "vdem_governance", "vdem_forced_labour")
real = pytest.mark.skipif(not RAW.is_dir(), reason=f"{RAW} is absent: the publishers' files live there")


@functools.cache
def built(name: str) -> pd.DataFrame:
    source = get_source(name)
    return validate_source_frame(source, source.build(source.find_files(RAW), BuildContext.for_policy("refuse")))


def value(name: str, iso3: str, year: int, column: str) -> float:
    frame = built(name)
    match = frame.loc[(frame["iso3"] == iso3) & (frame["year"] == year), column]
    assert len(match) == 1, f"{name}: {len(match)} rows for {iso3} {year}"
    return float(match.iloc[0])


@real
@pytest.mark.realdata
def test_values_read_by_hand_from_the_v14_file():
    # vdem_v14_judicial_media_corruption_subset_1970_2023_derived.csv line 52: Mexico 2020
    assert value("vdem_judicial", "MEX", 2020, "vdem_judicial_corruption") == -0.169
    assert value("vdem_judicial", "MEX", 2020, "vdem_high_court_independence") == 0.082
    assert value("vdem_judicial", "MEX", 2020, "vdem_judicial_constraints") == 0.62
    assert value("vdem_media", "MEX", 2020, "vdem_journalist_harassment") == 0.426
    assert value("vdem_media", "MEX", 2020, "vdem_media_censorship") == -0.108
    assert value("vdem_governance", "MEX", 2020, "vdem_political_corruption") == 0.598
    assert value("vdem_governance", "MEX", 2020, "vdem_legislative_corruption") == -1.33
    assert value("vdem_forced_labour", "MEX", 2020, "vdem_forced_labour_freedom") == 0.612
    # line 1931: Kosovo 1999, V-Dem's XKX kept; no legislature coded (v2lgcrrpt empty)
    assert value("vdem_judicial", "XKX", 1999, "vdem_judicial_corruption") == 0.017
    assert pd.isna(value("vdem_governance", "XKX", 1999, "vdem_legislative_corruption"))


@real
@pytest.mark.realdata
@pytest.mark.parametrize("name", VDEM)
def test_every_source_keeps_the_same_country_years(name):
    frame = built(name)
    # 9,170 rows less the historical states (DDR 21, VDR 6, YMD 21) and the sub-national units
    # coded beside their state (PSG 17, SML 33, ZZB 54): 176 countries, 1970–2023
    assert len(frame) == 9018 and frame["iso3"].nunique() == 176
    assert (frame["year"].min(), frame["year"].max()) == (1970, 2023)
    assert (frame["year"] == 2023).sum() == 176
    assert not set(frame["iso3"]) & {"PSG", "SML", "ZZB", "DDR", "VDR", "YMD"}


def test_forced_labour_is_in_the_catalog_but_never_a_default_feature():
    from training.selection import select_features

    params = load_params(REPO / "params.real.yaml")
    sources = {n: get_source(n) for n in ("vdem_judicial", "vdem_forced_labour", "global_slavery_index")}
    catalog = feature_catalog(sources, params.features, {n: {} for n in sources})
    assert catalog["vdem_forced_labour_freedom"]["label_construct"] is True
    chosen = set(select_features(catalog, params.training))
    assert "vdem_judicial_corruption" in chosen and "gsi_vulnerability" in chosen
    assert not chosen & {c for c, info in catalog.items() if info["source"] == "vdem_forced_labour"}
    assert not {"gsi_government_response", "gsi_prevalence_per_1k"} & chosen
    assert not {c for c in chosen if c.startswith(("gsi_government_response", "vdem_forced"))}  # nor their lags


def test_a_label_construct_column_must_be_declared():
    with pytest.raises(ValueError, match=r"label_construct names 'b', which is not one of its columns"):
        register_source(name="_nope", family="governance", publisher="p", raw_globs={"t": "x.csv"},
                        columns={"a": Column(0, 1, "u", "d")}, available_after_years=1, label_construct=("b",))
