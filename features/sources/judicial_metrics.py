"""Rule of Law Index (World Justice Project): historical sheet, scores 0–1.

Two editions span two years ("2012-2013", "2017-2018"); each is keyed on its later year.
When an edition became public is declared per edition (CALENDAR, from WJP's launch dates): most
appear within their own year (March to October), "2012-2013" already in November 2012 and
"2017-2018" in January 2018, so a row t holds the edition published by the end of t. A score
older than 2 years at a row is missing. The synthetic world's constant lag is 1 year.
Coverage grows edition by edition, so many countries enter late.
The scores come from WJP's own household poll and expert questionnaires (no other index
feeds them), though the perceptions index and WGI both use this index as an input.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from features.build_context import BuildContext
from features.calendar import Calendar
from features.readers import FILE, ROW, iso3_from_codes, read_table, to_number, to_year
from features.registry import Column, Download, register_source

SHEET = "Historical Data"
MEASURES = {
    "WJP Rule of Law Index: Overall Score": ("wjp_overall", "overall rule-of-law score"),
    "Factor 2: Absence of Corruption": ("wjp_absence_of_corruption", "factor 2, absence of corruption"),
    "8.5 Criminal system is free of corruption": (
        "wjp_criminal_justice_corruption",
        "8.5 criminal justice free of corruption",
    ),
}

# Data year (the edition's later year) → WJP's launch of that edition.
CALENDAR = Calendar(lag_years=1, max_age_years=2, editions={
    2013: "2012-11-28",  # "2012-2013" edition, launched November 2012
    2014: "2014-03-05",  # 2014 edition, press release of 5 March 2014
    2015: "2015-06-02",  # 2015 edition, June 2015
    2016: "2016-10-20",  # 2016 edition, launch event of 20 October 2016
    2018: "2018-01-31",  # "2017-2018" edition, January 2018
    2019: "2019-02-28",  # 2019 edition, February 2019
    2020: "2020-03-11",  # 2020 edition, March 2020
    2021: "2021-10-14",  # 2021 edition, October 2021
    2022: "2022-10-26",  # 2022 edition, October 2022
    2023: "2023-10-25",  # 2023 edition, October 2023
    2024: "2024-10-23",  # 2024 edition, October 2024
    2025: "2025-10-28",  # 2025 edition, released 28 October 2025 (WJP press release)
})


@register_source(
    name="judicial_metrics",
    family="judicial",
    publisher="World Justice Project, Rule of Law Index",
    raw_globs={"workbook": "wjp_roli/*.xlsx"},
    downloads=(
        Download(
            "wjp_roli/2025_wjp_rule_of_law_index_HISTORICAL_DATA_FILE.xlsx",
            "World Justice Project",
            "https://worldjusticeproject.org/rule-of-law-index/downloads/"
            "2025_wjp_rule_of_law_index_HISTORICAL_DATA_FILE.xlsx",
            "caad9192f24070e340b04b8e6820830665008e17f3d0eed3782bd3ad80b417d7",
        ),
    ),
    columns={
        col: Column(0.0, 1.0, "score 0–1, higher = stronger rule of law", desc)
        for col, desc in MEASURES.values()
    },
    calendar=CALENDAR,
)
def build(files: Mapping[str, list[Path]], context: BuildContext) -> pd.DataFrame:
    frames = []
    for path in files["workbook"]:
        raw = read_table(path, required=["Country", "Year", "Country Code", *MEASURES], sheet=SHEET)
        frame = pd.DataFrame(
            {
                "iso3": iso3_from_codes(raw, "Country Code", name_column="Country"),
                "year": to_year(raw, "Year"),
                ROW: raw[ROW],
                FILE: raw[FILE],
            }
        )
        for source_col, (col, _) in MEASURES.items():
            frame[col] = to_number(raw, source_col)
        frames.append(frame[frame["iso3"].notna()])
    return pd.concat(frames, ignore_index=True)
