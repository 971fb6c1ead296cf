"""Tier placements: the three TIP layouts, conflicts and their declared precedence, evidence ranks,
and the binary label completed for partial report years by `infer_unlisted`."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.build_context import BuildContext
from features.panel import validate_source_frame
from features.registry import RESOLVED, get_source
from features.sources.tier_placements import (
    EVIDENCE_RANK,
    PRECEDENCE,
    infer_unlisted,
    label_counts,
    neighbour_years,
)
from nexus.errors import SourceDataError

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"  # as tests/conftest.py
SECTION_10 = "tip_tiers_2016_2025_transcribed.csv"
NARRATIVES = "tip_tiers_2020_2025_from_narratives.csv"
LAYOUT_3 = "country,iso3,report_year,tier,evidence_level,basis,source_url,n_assertions,n_sources,tiers_seen,conflict\n"


def build(raw: Path):
    source = get_source("tier_placements")
    built = source.build(source.find_files(raw), BuildContext.for_policy("refuse"))
    return validate_source_frame(source, built).set_index(["iso3", "year"])


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
    assert tiers.loc[("ALB", 2010), "label_listed"] == 0 and tiers.loc[("ALB", 2011), "label_listed"] == 1
    assert tiers.loc[("XKX", 2011), "label_tier"] == 1
    assert tiers.loc[("NAM", 2011), "label_tier"] == 3
    assert (tiers["label_evidence"] == 4).all() and (tiers["evidence"] == "official_table").all()
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
    libya = tiers.loc[("LBY", 2023)]
    assert libya["label_special_case"] == 1 and math.isnan(libya["label_tier"]) and math.isnan(libya["label_listed"])
    assert tiers["label_tier"].isna().sum() == 1 and (tiers["label_inferred"] == 0).all()
    for column in ("label_tier", "label_listed", "label_special_case", "label_inferred", "label_evidence"):
        assert tiers[column].dtype == np.float64


def test_evidence_levels_map_to_ranks_and_an_unknown_level_is_refused(tmp_path):
    write(tmp_path, "t.csv", "country,report_year,tier,source_url\nNorway,2017,Tier 1,x\n")
    write(tmp_path, "transcribed-2016-2025/tip_tiers_2016_2019_transcribed.csv", LAYOUT_3
          + "France,FRA,2017,Tier 1,A_narrative_stated,stated,u,1,1,Tier 1,\n"
          + "Chad,TCD,2017,Tier 3,B_narrative_inferred,inferred,u,1,1,Tier 3,\n"
          + "Peru,PER,2017,Tier 2,C_secondary_stated,stated,u,1,1,Tier 2,\n"
          + "Cuba,CUB,2017,Tier 2 Watch List,E_wikipedia_sure2018,wiki,u,1,1,Tier 2 Watch List,\n")
    tiers = build(tmp_path)
    assert tiers["label_evidence"].xs(2017, level="year").to_dict() == {"FRA": 4, "TCD": 3, "PER": 2, "CUB": 1,
                                                                       "NOR": 4}
    assert EVIDENCE_RANK["inferred"] == 3
    path = write(tmp_path, "transcribed-2016-2025/tip_tiers_2016_2019_transcribed.csv", LAYOUT_3
                 + "France,FRA,2017,Tier 1,D_guess,stated,u,1,1,Tier 1,\n")
    with pytest.raises(SourceDataError, match=rf"{path.name} row 2: evidence_level: 'D_guess' is not one of A, B, C, E"):
        build(tmp_path)


def test_a_partial_year_keeps_its_stated_rows_and_infers_unlisted_neighbours(tmp_path):
    write(
        tmp_path,
        "t.csv",
        "country,report_year,tier,source_url\nFrance,2023,Tier 1,x\nChad,2023,Tier 3,x\nPeru,2023,Tier 2,x\n"
        "Libya,2023,Special Case,x\nChad,2024,Tier 3,x\nCuba,2024,Tier 2 Watch List,x\nPeru,2024,Special Case,x\n",
    )
    tiers = build(tmp_path)
    # 2024 places nobody on Tier 1/2: partial. France, ranked in 2023 and unlisted in 2024, is an
    # inferred negative; Peru (special case in 2024) and Libya (special case in 2023) are not.
    france = tiers.loc[("FRA", 2024)]
    assert france["label_listed"] == 0 and france["label_inferred"] == 1 and math.isnan(france["label_tier"])
    assert france["label_evidence"] == 3
    assert tiers.loc[("TCD", 2024), "label_listed"] == 1 and tiers.loc[("TCD", 2024), "label_inferred"] == 0
    assert ("LBY", 2024) not in tiers.index and math.isnan(tiers.loc[("PER", 2024), "label_listed"])
    assert ("CUB", 2024) in tiers.index and ("CUB", 2023) not in tiers.index


def test_neighbour_years_are_the_nearest_complete_reports_on_each_side():
    years = range(2020, 2026)
    partial = {2022, 2024, 2025}
    assert neighbour_years(years, partial, 2022) == [2021, 2023]
    assert neighbour_years(years, partial, 2024) == [2023]
    assert neighbour_years(years, partial, 2025) == [2023]
    assert neighbour_years([2022, 2024], {2022, 2024}, 2022) == []


def test_infer_unlisted_needs_a_tier_in_every_neighbour_and_no_special_case():
    rows = []
    for iso3, tiers in {"AAA": (0, None, 1), "BBB": (1, None, None), "CCC": (None, 3, 2), "DDD": (1, None, "S"),
                        "EEE": (2, None, 2), "FFF": (0, 1, 0)}.items():
        for year, tier in zip((2021, 2022, 2023), tiers, strict=True):
            if tier is None:
                continue
            special = tier == "S"
            rows.append({"iso3": iso3, "year": year, "label_tier": np.nan if special else float(tier),
                         "label_special_case": float(special), "_row": 1, "_file": "f.csv"})
    placed = pd.DataFrame(rows)
    inferred = infer_unlisted(placed, {2022}).set_index("iso3")
    # AAA and EEE: ranked in 2021 and 2023, no 2022 row (EEE was listed around it: still unlisted in
    # 2022, since the 2022 lists are complete). BBB: not ranked in 2023. CCC, FFF: a 2022 row of their
    # own. DDD: special case in 2023.
    assert sorted(inferred.index) == ["AAA", "EEE"]
    assert (inferred["label_listed"] == 0).all() and inferred["label_tier"].isna().all()
    assert inferred["rule"].iloc[0].startswith("inferred: ranked in 2021 and 2023")


def test_unknown_tier_text_names_file_and_row(tmp_path):
    write(
        tmp_path,
        "t.csv",
        "country,report_year,tier,source_url\nFrance,2023,Tier 1,x\nChad,2023,Tier Four,x\n",
    )
    with pytest.raises(SourceDataError, match=r"t.csv row 3: tier: 'Tier Four' is not a tier placement$"):
        build(tmp_path)


def test_unknown_tier_on_an_unknown_country_names_both(tmp_path):
    write(tmp_path, "t.csv", "country,report_year,tier,source_url\nFrance,2023,Tier 1,x\nAtlantis,2023,Tier Four,x\n")
    with pytest.raises(SourceDataError, match=r"t.csv row 3: tier: 'Tier Four' is not a tier placement "
                                              r"\(and country 'Atlantis' is unknown\)"):
        build(tmp_path)
    write(tmp_path, "t.csv", "country,report_year,tier,source_url\nFrance,2023,Tier 1,x\nAtlantis,2023,Tier 2,x\n")
    with pytest.raises(SourceDataError, match=r"t.csv row 3: unknown country 'Atlantis'"):
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


def test_conflicting_files_without_precedence_are_refused_in_one_line_naming_both(tmp_path):
    write(tmp_path, "a.csv", "country,report_year,tier,source_url\nFrance,2023,Tier 1,x\nChad,2023,Tier 3,x\n")
    write(tmp_path, "b.csv", "country,report_year,tier,source_url\nChad,2023,Tier 3,x\nFrance,2023,Tier 2,x\n")
    with pytest.raises(SourceDataError) as caught:
        build(tmp_path)
    message = str(caught.value)
    assert "\n" not in message
    assert "a.csv row 2: FRA 2023 is Tier 1 here but Tier 2 in" in message
    assert "b.csv row 3" in message and "no declared precedence settles it" in message


def test_declared_precedence_settles_a_conflict_and_records_it(tmp_path):
    assert (SECTION_10, NARRATIVES) in PRECEDENCE
    write(tmp_path, SECTION_10, "country,report_year,tier,source_url\nAlgeria,2024,Tier 2 Watch List,x\n"
                                "Chad,2024,Tier 3,x\n")
    write(tmp_path, f"transcribed-2016-2025/{NARRATIVES}", LAYOUT_3
          + "Algeria,DZA,2024,Tier 3,C_secondary_stated,stated,u,1,1,Tier 3,\n"
          + "Chad,TCD,2024,Tier 3,A_narrative_stated,stated,u,1,1,Tier 3,\n")
    tiers = build(tmp_path)
    algeria = tiers.loc[("DZA", 2024)]
    assert algeria["label_tier"] == 2 and algeria["label_evidence"] == 4
    assert f"{NARRATIVES} row 2 says Tier 3" in algeria[RESOLVED] and f"{SECTION_10} row 2" in algeria[RESOLVED]
    assert tiers.loc[("TCD", 2024), RESOLVED] == "" and f"{NARRATIVES} row 3" in tiers.loc[("TCD", 2024), "also_in"]


def test_the_precedence_covers_only_its_declared_pair(tmp_path):
    write(tmp_path, SECTION_10, "country,report_year,tier,source_url\nSerbia,2019,Tier 2 Watch List,x\n")
    write(tmp_path, "transcribed-2016-2025/tip_tiers_2016_2019_transcribed.csv", LAYOUT_3
          + "Serbia,SRB,2019,Tier 2,A_narrative_stated,stated,u,1,1,Tier 2,\n")
    with pytest.raises(SourceDataError, match="SRB 2019 is .* no declared precedence settles it"):
        build(tmp_path)


# --- the real files (../shared/data), values read by hand from each file ---------------------------


@pytest.fixture(scope="module")
def real_tiers():
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent: the real-data tests read the publishers' files there")
    return build(SHARED_DATA / "raw")


def test_real_known_answers_from_each_file(real_tiers):
    t = real_tiers
    # tip_tiers_orig.csv line 24 "Albania","ALB",2004,339,"Tier 2    "; line 2884 Thailand 2014 "Tier 3";
    # line 5 Afghanistan 2002 "Tier 3" (before the Watch List existed: kept as the data give it)
    assert t.loc[("ALB", 2004), ["label_tier", "label_listed", "label_evidence"]].tolist() == [1, 0, 4]
    assert t.loc[("THA", 2014), "label_tier"] == 3 and t.loc[("AFG", 2002), "label_listed"] == 1
    # tip_tiers_2016_2019_transcribed.csv: line 157 Thailand 2016 Watch List (B), line 18 Germany 2016
    # Tier 1 (E), line 289 Serbia 2017 Tier 2 (C, the file's own settled conflict), line 619 Germany 2019 Tier 2 (A)
    assert t.loc[("THA", 2016), ["label_tier", "label_evidence"]].tolist() == [2, 3]
    assert t.loc[("DEU", 2016), ["label_tier", "label_evidence"]].tolist() == [0, 1]
    assert t.loc[("SRB", 2017), ["label_tier", "label_evidence"]].tolist() == [1, 2]
    assert t.loc[("DEU", 2019), ["label_tier", "label_evidence"]].tolist() == [1, 4]
    # section 10 line 347 Thailand 2021 Watch List, also in the narratives file (line 306, C)
    assert t.loc[("THA", 2021), "label_tier"] == 2 and t.loc[("THA", 2021), "label_evidence"] == 4
    assert f"{NARRATIVES} row 306" in t.loc[("THA", 2021), "also_in"]
    # narratives line 328 Germany 2022 Tier 1 (A, not in the section-10 file): a stated negative of a partial year
    assert t.loc[("DEU", 2022), ["label_tier", "label_listed", "label_inferred"]].tolist() == [0, 0, 0]
    # Canada: Tier 1 in 2021 and 2023 (section 10 lines 193, 436), no 2022 row anywhere → inferred negative
    canada = t.loc[("CAN", 2022)]
    assert canada["label_listed"] == 0 and canada["label_inferred"] == 1 and math.isnan(canada["label_tier"])
    assert canada["label_evidence"] == 3 and "ranked in 2021 and 2023" in canada["rule"]
    # narratives line 537 Canada 2024 Tier 1 (C): stated, not inferred
    assert t.loc[("CAN", 2024), ["label_tier", "label_inferred", "label_evidence"]].tolist() == [0, 0, 2]
    # Algeria 2024: section 10 line 615 Watch List wins over the narratives file's line 585 Tier 3
    algeria = t.loc[("DZA", 2024)]
    assert algeria["label_tier"] == 2 and algeria["label_listed"] == 1
    assert f"{NARRATIVES} row 585 says Tier 3" in algeria[RESOLVED]
    assert (t[RESOLVED] != "").sum() == 1  # SOURCES.md 13.1: one disagreement
    # special cases: Haiti, Libya, Somalia, Yemen in 2025 (section 10)
    assert set(t.index[(t["label_special_case"] == 1).to_numpy()].to_frame().query("year == 2025")["iso3"]) == \
        {"HTI", "LBY", "SOM", "YEM"}


def test_real_counts_per_report_year(real_tiers):
    counts = label_counts(real_tiers.reset_index())
    # SOURCES.md: section 1 (2001 79 placed), 13.1 (2016–2019 tables), 10 (2020–2025 tables)
    assert counts.loc[2001, ["listed", "unlisted_stated"]].sum() == 79
    assert counts.loc[2016].tolist()[:2] == [43 + 27, 36 + 78] and counts.loc[2016, "special"] == 3
    assert counts.loc[2019, "listed"] == 38 + 21
    assert counts.loc[2020, "listed"] == 44 + 19 and counts.loc[2023, "listed"] == 26 + 24
    # partial years: complete Watch List + Tier 3 lists; stated Tier 1/2 from the narratives file (13.1)
    assert counts.loc[2022, ["listed", "unlisted_stated"]].tolist() == [34 + 22, 16 + 66]
    assert counts.loc[2024, ["listed", "unlisted_stated"]].tolist() == [32 + 21, 7 + 33]
    assert counts.loc[2025, ["listed", "unlisted_stated"]].tolist() == [25 + 20, 2]
    assert (counts.loc[:2021, "inferred"] == 0).all() and counts.loc[2023, "inferred"] == 0
    # the rule's outcome (checked once by hand: 185, 185 and 184 governments labelled, as the
    # reports rank about 185–188 a year)
    assert counts.loc[[2022, 2024, 2025], "inferred"].tolist() == [47, 92, 137]
    labelled = counts[["listed", "unlisted_stated", "inferred"]].sum(axis=1)
    assert labelled.loc[[2022, 2024, 2025]].between(180, 190).all()
    assert set(counts.index) == set(range(2001, 2026))
