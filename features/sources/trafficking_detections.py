"""Detected trafficking victims, prosecutions and convictions (UNODC, Global Report on TIP).

Country totals only (dimension, category, sex and age all "Total"): the breakdown rows
overlap the totals and are never added up. Counts measure detection and enforcement effort,
not prevalence, so they are endogenous to policing (itself a corruption proxy).

`txtVALUE` is text. "<5" is a censored count (one to four): it is kept as censored, a
`*_censored` = 1 with the log count missing, never read as 5, 2.5 or 0; a number gives
`*_censored` = 0 and its log count. Numbers above 999 carry thousands commas ("1,282").
Rows without a country name (UNODC's subregional codes such as CAR, SAM, and a combined
"Aruba/Curacao" row) are groups, not countries, and are dropped by that rule.

When a count became public: the file is one vintage (dataUNODC release of 30 May 2023), but
each data year first appeared in a Global Report, every two years and 2–4 years after the data
year. CALENDAR gives, per data year, the release of the first edition that covered it; where an
edition's period overlaps the next one, the year is dated by the later edition (never too early).
The 2024 edition (December 2024, data to 2022) is not in this file, so it is not declared. A
count older than 5 years at a row (the longest normal delay, 4 years, plus one) is missing: the
first edition's 2003 counts (published six years on) are never used. The synthetic world's
constant lag is 2 years.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from features.build_context import BuildContext
from features.calendar import Calendar
from features.readers import FILE, ROW, iso3_from_codes, iso3_from_names, read_table, to_number, to_year
from features.registry import Column, Download, register_source
from nexus.errors import SourceDataError

HEADER_ROW = 3
CENSORED = "<5"
INDICATORS = {
    "Detected trafficking victims": ("unodc_victims", "detected victims of trafficking"),
    "Persons prosecuted": ("unodc_prosecuted", "persons prosecuted for trafficking"),
    "Persons convicted": ("unodc_convicted", "persons convicted of trafficking"),
}


GLOTIP_2009 = "2009-02-12"  # first Global Report, February 2009: "over the period 2003 to 2006"
GLOTIP_2012 = "2012-12-12"  # Global Report 2012, December 2012: cases detected 2007–2010
GLOTIP_2014 = "2014-11-24"  # Global Report 2014, presented 24 November 2014: 2010–2012 (2010 dated 2012)
GLOTIP_2016 = "2016-12-21"  # Global Report 2016, 21 December 2016: cases detected 2012–2014
GLOTIP_2018 = "2019-01-07"  # Global Report 2018 (dated December 2018, launched January 2019): data to 2016
GLOTIP_2020 = "2021-02-02"  # Global Report 2020, launched 2 February 2021: data to 2019
GLOTIP_2022 = "2023-01-24"  # Global Report 2022, launched 24 January 2023: data 2017–2020
DATAUNODC_2023 = "2023-05-30"  # this file's dataUNODC release: 2021 counts, beyond the 2022 report's period
CALENDAR = Calendar(lag_years=2, max_age_years=5, editions={
    **dict.fromkeys(range(2003, 2007), GLOTIP_2009),
    **dict.fromkeys(range(2007, 2011), GLOTIP_2012),
    **dict.fromkeys(range(2011, 2013), GLOTIP_2014),
    **dict.fromkeys(range(2013, 2015), GLOTIP_2016),
    **dict.fromkeys(range(2015, 2017), GLOTIP_2018),
    **dict.fromkeys(range(2017, 2020), GLOTIP_2020),
    2020: GLOTIP_2022,
    2021: DATAUNODC_2023,
})


def _columns() -> dict[str, Column]:
    out = {}
    for prefix, what in INDICATORS.values():
        out[f"{prefix}_log"] = Column(0, 15, "log(1 + count)", f"{what}, uncensored counts only")
        out[f"{prefix}_censored"] = Column(0, 1, "flag", f"{what}: 1 = published as '<5'")
    return out


@register_source(
    name="trafficking_detections",
    family="judicial",
    publisher="UNODC, Global Report on Trafficking in Persons (dataUNODC)",
    raw_globs={"table": "unodc_glotip/*.xlsx"},
    downloads=(
        Download(
            "unodc_glotip/data_glotip.xlsx",
            "UNODC",
            "https://dataunodc.un.org/sites/dataunodc.un.org/files/data_glotip.xlsx",
            "b0d5fcedaef86dcae33f74ef28f8e0cd25f49f12446d46642f05160159f15119",
        ),
    ),
    columns=_columns(),
    calendar=CALENDAR,
)
def build(files: Mapping[str, list[Path]], context: BuildContext) -> pd.DataFrame:
    return pd.concat([read_glotip(p) for p in files["table"]], ignore_index=True)


def read_glotip(path: Path) -> pd.DataFrame:
    required = [
        "Iso3_code",
        "Country",
        "Indicator",
        "Dimension",
        "Category",
        "Sex",
        "Age",
        "Year",
        "txtVALUE",
    ]
    raw = read_table(path, required=required, header_row=HEADER_ROW)
    totals = raw[
        raw["Indicator"].isin(list(INDICATORS))
        & (raw["Dimension"] == "Total")
        & (raw["Category"] == "Total")
        & (raw["Sex"] == "Total")
        & (raw["Age"] == "Total")
    ]
    totals = totals[totals["Country"].astype("string").str.strip().fillna("") != ""]  # groups have no name
    if totals.empty:
        raise SourceDataError(path, None, "no country totals (Dimension, Category, Sex, Age all 'Total')")
    no_code = totals["Iso3_code"].astype("string").str.strip().fillna("") == ""
    iso3 = pd.concat(
        [
            iso3_from_codes(totals[~no_code], "Iso3_code", name_column="Country"),
            iso3_from_names(totals[no_code], "Country"),
        ]
    ).reindex(totals.index)
    text = totals["txtVALUE"].astype("string").str.strip()
    censored = text == CENSORED
    counts = to_number(totals.assign(txtVALUE=text.mask(censored, "")), "txtVALUE", thousands=",")
    long = pd.DataFrame(
        {
            "iso3": iso3,
            "year": to_year(totals, "Year"),
            "indicator": totals["Indicator"],
            "log": np.log1p(counts),
            "censored": censored.astype(float),
            ROW: totals[ROW],
            FILE: totals[FILE],
        }
    )
    long = long[long["iso3"].notna()]
    dup = long.duplicated(["iso3", "year", "indicator"])
    if dup.any():
        r = long[dup].iloc[0]
        raise SourceDataError(
            path, int(r[ROW]), f"a second total of {r['indicator']!r} for {r['iso3']} {r['year']}"
        )
    wide = long.pivot(index=["iso3", "year"], columns="indicator", values=["log", "censored"])
    wide.columns = [f"{INDICATORS[ind][0]}_{kind}" for kind, ind in wide.columns]
    for column in _columns():
        if column not in wide:
            wide[column] = np.nan
    rows = long.groupby(["iso3", "year"])[ROW].min()
    out = wide.join(rows).reset_index()
    out[FILE] = str(path)
    return out
