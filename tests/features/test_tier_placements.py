"""Tier placements: each quirk of the two layouts handled on purpose or refused with file and row."""

from pathlib import Path

import pytest

from features.panel import validate_source_frame
from features.registry import get_source
from nexus.errors import SourceDataError


def build(raw: Path):
    source = get_source("tier_placements")
    return validate_source_frame(source, source.build(source.find_files(raw))).set_index(["iso3", "year"])


def write(raw: Path, name: str, text: str) -> Path:
    path = raw / "us_state_tip" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


EXTRACT = """"countryname","iso","year","ccode","tier"
"Albania","ALB",2010,339,"Tier 2    "
"Albania","ALB",2011,339,"Watchlist    "
"Kosovo","KOS",2011,1001,"Tier 2    "
"Somalia","SOM",2011,520,NA
"Namibia","NAM",2011,565,"Tier 3"
"""


def test_extract_strips_spaces_maps_watchlist_and_kosovo_and_drops_na(tmp_path):
    write(tmp_path, "tip_tiers_orig.csv", EXTRACT)
    tiers = build(tmp_path)
    assert tiers.loc[("ALB", 2010), "label_tier"] == 1 and tiers.loc[("ALB", 2011), "label_tier"] == 2
    assert tiers.loc[("XKX", 2011), "label_tier"] == 1
    assert tiers.loc[("NAM", 2011), "label_tier"] == 3
    assert ("SOM", 2011) not in tiers.index  # NA: unranked or special case, no label


def test_transcribed_spellings_and_special_cases(tmp_path):
    write(
        tmp_path,
        "t.csv",
        "country,report_year,tier,source_url\nUSA,2023,Tier 1,x\nCongo (ROC),2023,Tier 2 Watch List,x\n"
        "Cote D’Ivoire,2023,Tier 2,x\nLibya,2023,Special Case,x\n",
    )
    tiers = build(tmp_path)
    assert tiers.loc[("USA", 2023), "label_tier"] == 0 and tiers.loc[("COG", 2023), "label_tier"] == 2
    assert tiers.loc[("CIV", 2023), "label_tier"] == 1
    assert tiers.loc[("LBY", 2023), "label_special_case"] == 1 and tiers["label_tier"].isna().sum() == 1


def test_a_report_year_without_tier_1_or_2_is_partial_and_left_out(tmp_path):
    write(
        tmp_path,
        "t.csv",
        "country,report_year,tier,source_url\nFrance,2023,Tier 1,x\nChad,2023,Tier 3,x\n"
        "Chad,2024,Tier 3,x\nCuba,2024,Tier 2 Watch List,x\n",
    )
    tiers = build(tmp_path)
    assert set(tiers.index.get_level_values("year")) == {2023}


def test_unknown_tier_text_names_file_and_row(tmp_path):
    write(
        tmp_path,
        "t.csv",
        "country,report_year,tier,source_url\nFrance,2023,Tier 1,x\nChad,2023,Tier Four,x\n",
    )
    with pytest.raises(SourceDataError, match=r"t.csv row 3: tier: 'Tier Four' is not a tier placement"):
        build(tmp_path)


def test_duplicate_country_year_across_spellings_is_refused(tmp_path):
    write(
        tmp_path,
        "t.csv",
        'country,report_year,tier,source_url\n"Korea, North",2023,Tier 3,x\n'
        "North Korea,2023,Tier 3,x\nFrance,2023,Tier 1,x\n",
    )
    with pytest.raises(SourceDataError, match=r"t.csv row 3: duplicate country-year PRK 2023"):
        build(tmp_path)
