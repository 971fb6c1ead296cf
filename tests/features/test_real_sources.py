"""Every source built from the publishers' files in ../shared/data/raw: coverage and values as published.

Row counts, years and countries are the ones SOURCES.md documents (after the documented
drops: aggregates, non-country codes, partial tier years); values are read off the
publishers' files by eye and written here literally.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.build_context import BuildContext
from features.panel import validate_source_frame
from features.registry import get_source
from nexus.config import load_params

REPO = Path(__file__).resolve().parents[2]
RAW = REPO.parent / "shared" / "data" / "raw"
REAL_SOURCES = [*load_params(REPO / "params.real.yaml").features.sources, "tier_placements"]

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.skipif(not RAW.is_dir(), reason=f"{RAW} is absent: the publishers' files live there"),
]


@functools.cache
def built(name: str) -> pd.DataFrame:
    """A source built from the real files and validated against its declaration (unknown names raise)."""
    source = get_source(name)
    return validate_source_frame(source, source.build(source.find_files(RAW), BuildContext.for_policy("refuse")))


def value(name: str, iso3: str, year: int, column: str) -> float:
    frame = built(name)
    match = frame.loc[(frame["iso3"] == iso3) & (frame["year"] == year), column]
    assert len(match) == 1, f"{name}: {len(match)} rows for {iso3} {year}"
    return float(match.iloc[0])


@pytest.mark.parametrize("name", REAL_SOURCES)
def test_builds_with_every_country_matched_and_one_row_per_country_year(name):
    frame = built(name)
    assert not frame.duplicated(["iso3", "year"]).any()
    assert frame["iso3"].str.fullmatch(r"[A-Z]{3}").all()
    assert not frame["iso3"].str.fullmatch(r"X[A-Z]{2}").any() or set(frame["iso3"]) & {"XKX"}, (
        "no synthetic codes"
    )
    for column in get_source(name).columns:
        assert frame[column].notna().any(), f"{name}.{column} is never observed in the real files"


EXPECTED = {  # source: (first year, last year, countries, rows)
    "corruption_perceptions": (1995, 2023, 188, 4241),
    "press_freedom": (2021, 2025, 178, 890),
    "press_freedom_old_method": (2012, 2020, 178, 1601),
    "governance_indicators": (1996, 2023, 213, 213 * 25),  # 214 economies × 25 years, less ANT
    "judicial_metrics": (2013, 2025, 143, 1484),
    "democracy_indices": (1968, 2023, 169, 8742),
    "trafficking_detections": (2003, 2021, 174, 1786),
    "organized_crime": (2021, 2023, 193, 386),
    "tourism_arrivals": (1995, 2016, 203, 4207),
    "net_migration": (1960, 2022, 216, 13608),
    "migrant_stock": (1990, 2020, 234, 234 * 7),  # the seven five-yearly estimates, nothing filled in
    "gdp_per_capita": (1960, 2022, 213, 10532),
    "population": (1960, 2024, 216, 14010),
    "income_group": (1987, 2022, 218, 7847),
    "tier_placements": (2001, 2025, 189, 4117),  # stated placements, special cases, inferred negatives
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_years_countries_and_rows_as_documented(name):
    first, last, countries, rows = EXPECTED[name]
    frame = built(name)
    assert (frame["year"].min(), frame["year"].max()) == (first, last)
    assert frame["iso3"].nunique() == countries
    assert len(frame) == rows


def test_tiers_counts_per_report_year_match_sources_md():
    tiers = built("tier_placements")
    placed = tiers.dropna(subset=["label_tier"]).groupby("year").size()
    assert placed[2001] == 79 and placed[2002] == 87 and placed[2003] == 114 and placed[2015] == 186
    assert placed[2020] == 34 + 88 + 44 + 19 and placed[2023] == 30 + 104 + 26 + 24 + 1  # + 1 Tier 2 (13.1)
    assert tiers.groupby("year")["label_special_case"].sum()[2021] == 3
    assert set(tiers["year"]) == set(range(2001, 2026))  # 2016–2019 (13.1) and the partial years are in
    assert set(tiers.loc[tiers["label_inferred"] == 1, "year"]) == {2022, 2024, 2025}
    assert value("tier_placements", "LBY", 2011, "label_tier") == 3  # as the extract codes it (SOURCES.md)
    assert value("tier_placements", "XKX", 2015, "label_tier") in {0, 1, 2, 3}  # KOS in the extract
    assert value("tier_placements", "COG", 2023, "label_tier") == 2  # the Factbook row kept, gvnet's dropped
    assert value("tier_placements", "USA", 2023, "label_tier") == 0  # "USA" and "United States of America"


def test_corruption_index_values_and_method_break():
    assert value("corruption_perceptions", "DNK", 2023, "cpi_score") == 90
    assert value("corruption_perceptions", "AFG", 2023, "cpi_score") == 20
    assert value("corruption_perceptions", "ARG", 1995, "cpi_score") == pytest.approx(52.4)
    assert value("corruption_perceptions", "ARG", 1995, "cpi_pre2012_method") == 1
    assert value("corruption_perceptions", "ARG", 2012, "cpi_pre2012_method") == 0
    assert value("corruption_perceptions", "NAM", 2008, "cpi_score") == 45  # not the nameless "NA" row (31)
    assert value("corruption_perceptions", "XKX", 2023, "cpi_score") == 41  # KSV in TI's workbook


def test_press_freedom_editions_and_repaired_scores():
    assert value("press_freedom", "NOR", 2022, "press_freedom_score") == pytest.approx(95.18)  # 2023 edition
    assert value("press_freedom", "NOR", 2023, "press_freedom_score") == pytest.approx(91.89)  # 2024 edition
    assert value("press_freedom", "NOR", 2021, "press_freedom_score") == pytest.approx(92.65)  # 2023's N-1
    assert value("press_freedom", "NOR", 2022, "press_freedom_safety") == pytest.approx(95.98)
    assert value("press_freedom", "FIN", 2024, "press_freedom_score") == pytest.approx(
        87.18
    )  # '8718' repaired
    assert value("press_freedom", "USA", 2024, "press_freedom_score") == pytest.approx(
        65.487
    )  # three decimals
    assert value("press_freedom", "USA", 2025, "press_freedom_score") == pytest.approx(62.61)  # 2026 edition
    assert np.isnan(value("press_freedom", "FIN", 2024, "press_freedom_political"))  # not recoverable
    assert not {"CTU", "CSS"} & set(built("press_freedom")["iso3"])
    assert value("press_freedom_old_method", "NOR", 2012, "press_freedom_old_score") == pytest.approx(6.52)
    assert value("press_freedom_old_method", "ERI", 2012, "press_freedom_old_score") == pytest.approx(84.83)
    assert (
        not (built("press_freedom_old_method")["iso3"] == "CYP")
        .groupby(built("press_freedom_old_method")["year"])
        .sum()
        .gt(1)
        .any()
    )  # Northern Cyprus is not Cyprus


def test_damaged_2025_scores_reproduce_the_stored_digits():
    stored = pd.read_csv(RAW / "rsf_wpfi" / "rwb2025.csv", sep=";", encoding="cp1252", dtype=str)
    stored = stored[~stored["ISO"].isin(["CTU", "CSS"])].set_index("ISO")["Score 2025"]
    repaired = built("press_freedom").query("year == 2024").set_index("iso3")["press_freedom_score"]
    digits = {iso: f"{v:.3f}".rstrip("0").replace(".", "") for iso, v in repaired.items()}
    same = sum(digits[iso] == stored[iso].lstrip("0") for iso in repaired.index if iso in stored)
    assert same == len(repaired) == 178


def test_governance_indicators_missing_and_legacy_codes():
    wgi = built("governance_indicators")
    assert value("governance_indicators", "IRQ", 2004, "wgi_political_stability") == pytest.approx(
        -3.180351734161377
    )
    assert {"ROU", "COD", "TLS", "AND", "XKX", "PSE"} <= set(wgi["iso3"])
    assert not {"ROM", "ZAR", "TMP", "ADO", "KSV", "WBG", "ANT"} & set(wgi["iso3"])
    assert not {1997, 1999, 2001} & set(wgi["year"])
    raw = pd.read_excel(RAW / "wb_wgi" / "wgidataset.xlsx", dtype=str, engine="calamine")
    missing = (raw["estimate"] == "..").sum()
    wide = wgi.melt(id_vars=["iso3", "year"], value_vars=[c for c in wgi if c.startswith("wgi_")])
    non_country = raw["code"].eq("ANT") & raw["estimate"].eq("..")
    assert wide["value"].isna().sum() == missing - non_country.sum()  # every ".." counted as missing


def test_rule_of_law_two_year_editions_and_counts():
    wjp = built("judicial_metrics")
    per_year = wjp.groupby("year").size()
    assert (
        per_year[2013] == 97 and per_year[2018] == 113 and per_year[2025] == 143
    )  # "2012-2013", "2017-2018"
    assert not {2012, 2017} & set(wjp["year"])


def test_vdem_inverted_corruption_and_dissolved_states():
    # the file holds 0.919 (SOURCES.md quotes 0.913); Cuba ≈ 0.195 shows the publisher's inversion
    assert value("democracy_indices", "USA", 2020, "vdem_public_sector_integrity") == pytest.approx(0.919)
    assert value("democracy_indices", "CUB", 2020, "vdem_public_sector_integrity") < 0.3
    assert not {"DDR", "VDR", "YMD"} & set(built("democracy_indices")["iso3"])


def test_unodc_censored_counts_stay_censored():
    detections = built("trafficking_detections")
    raw = pd.read_excel(RAW / "unodc_glotip" / "data_glotip.xlsx", header=2, dtype=str, engine="calamine")
    totals = raw[
        (raw["Dimension"] == "Total")
        & (raw["Category"] == "Total")
        & (raw["Sex"] == "Total")
        & (raw["Age"] == "Total")
        & (raw["Indicator"] == "Detected trafficking victims")
        & raw["Country"].notna()
    ]
    censored = totals[totals["txtVALUE"] == "<5"]
    assert detections["unodc_victims_censored"].sum() == len(censored) > 100
    r = censored.iloc[0]
    row = detections[(detections["iso3"] == r["Iso3_code"]) & (detections["year"] == int(r["Year"]))].iloc[0]
    assert row["unodc_victims_censored"] == 1 and np.isnan(row["unodc_victims_log"])
    grouped = totals[totals["txtVALUE"].str.contains(",", na=False)].iloc[0]  # "1,282": thousands
    got = value("trafficking_detections", grouped["Iso3_code"], int(grouped["Year"]), "unodc_victims_log")
    assert np.expm1(got) == pytest.approx(float(grouped["txtVALUE"].replace(",", "")))


def test_migrant_stock_keeps_the_estimates_and_fills_nothing():
    stock = built("migrant_stock")
    assert set(stock["year"]) == {1990, 1995, 2000, 2005, 2010, 2015, 2020}  # no interpolation, no extrapolation
    assert 0 < value("migrant_stock", "DEU", 2015, "migstock_share") < 100


def test_income_groups_from_both_workbooks():
    assert value("income_group", "AFG", 1987, "income_group") == 0  # FY89 = GNI year 1987
    assert value("income_group", "YEM", 1987, "income_group") == 1  # "LM*"
    assert np.isnan(value("income_group", "VEN", 2022, "income_group"))  # unclassified in CLASS.xlsx
    assert value("income_group", "USA", 2022, "income_group") == 3


def test_world_bank_aggregates_are_dropped_by_rule_not_by_name():
    for name in ("population", "gdp_per_capita", "net_migration", "tourism_arrivals"):
        codes = set(built(name)["iso3"])
        assert not {"WLD", "EUU", "ARB", "HIC", "LMY", "SSF", "CHI", "INX"} & codes, name
        assert {"USA", "NAM"} <= codes, name
    assert "XKX" in set(built("population")["iso3"])  # Kosovo: a World Bank code, not an aggregate
