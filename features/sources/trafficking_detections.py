"""Detected trafficking victims, prosecutions and convictions (UNODC, Global Report on TIP).

Country totals only (dimension, category, sex and age all "Total"): the breakdown rows
overlap the totals and are never added up. Counts measure detection and enforcement effort,
not prevalence, so they are endogenous to policing (itself a corruption proxy).

`txtVALUE` is text. "<5" is a censored count (one to four): it is kept as censored, a
`*_censored` = 1 with the log count missing, never read as 5, 2.5 or 0; a number gives
`*_censored` = 0 and its log count. Numbers above 999 carry thousands commas ("1,282").
Rows without a country name (UNODC's subregional codes such as CAR, SAM, and a combined
"Aruba/Curacao" row) are groups, not countries, and are dropped by that rule. GLOTIP appears
every two years with data to the year before last, so a year-y count is used from y+2.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from features.readers import FILE, ROW, iso3_from_codes, iso3_from_names, read_table, to_number, to_year
from features.registry import Column, register_source
from nexus.errors import SourceDataError

HEADER_ROW = 3
CENSORED = "<5"
INDICATORS = {
    "Detected trafficking victims": ("unodc_victims", "detected victims of trafficking"),
    "Persons prosecuted": ("unodc_prosecuted", "persons prosecuted for trafficking"),
    "Persons convicted": ("unodc_convicted", "persons convicted of trafficking"),
}


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
    columns=_columns(),
    available_after_years=2,
)
def build(files: Mapping[str, list[Path]]) -> pd.DataFrame:
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
