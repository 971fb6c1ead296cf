"""Corruption perceptions index (Transparency International): TI's workbook, plus the 1995–2011 scores.

The workbook (`CPI Historical (internal)` sheet, three title rows above the table) holds the
2012–2023 scores on TI's current method. Earlier editions come from Frederick Solt's
compilation `cpi.csv` (names only; pre-2012 scores ×10 onto 0–100). TI says pre-2012 scores
are not comparable with 2012+ (different method), so they are never spliced silently: every
value carries `cpi_pre2012_method` (1 = old method), and where both files cover a year the
workbook wins. In `cpi.csv`, written by R, the country "NA" is R's missing value, not
Namibia (its 2008 row duplicates Namibia with another score): such rows have no country and
are skipped.

The index is a composite of 13 other sources (the workbook's source columns, mapped in
`SOURCE_COLUMNS`), among them V-Dem, the World Justice Project and the World Bank's CPIA, so
it shares inputs with the governance and rule-of-law indices. The edition for year y is
published in January of y+1.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from features.build_context import BuildContext
from features.readers import FILE, ROW, iso3_from_codes, iso3_from_names, read_table, to_number, to_year
from features.registry import Column, Download, register_source

SHEET = "CPI Historical (internal)"
METHOD_BREAK_YEAR = 2012
# The workbook's source columns → the lineage names nexus uses for them.
SOURCE_COLUMNS = {
    "African Development Bank CPIA": "afdb_cpia",
    "Bertelsmann Foundation Sustainable Governance Index": "bertelsmann_sgi",
    "Bertelsmann Foundation Transformation Index": "bertelsmann_bti",
    "Economist Intelligence Unit Country Ratings": "eiu_country_ratings",
    "Freedom House Nations in Transit": "freedom_house_nit",
    "Global Insights Country Risk Ratings": "global_insight",
    "IMD World Competitiveness Yearbook": "imd_wcy",
    "PERC Asia Risk Guide": "perc_asia_risk_guide",
    "PRS International Country Risk Guide": "prs_icrg",
    "Varieties of Democracy Project": "democracy_indices",
    "World Bank CPIA": "world_bank_cpia",
    "World Economic Forum EOS": "wef_eos",
    "World Justice Project Rule of Law Index": "judicial_metrics",
    "Transparency International Bribe Payers Survey": "ti_bribe_payers_survey",
}


@register_source(
    name="corruption_perceptions",
    family="governance",
    publisher="Transparency International, Corruption Perceptions Index",
    raw_globs={"workbook": "ti_cpi/*.xlsx", "compilation": "ti_cpi/cpi.csv"},
    downloads=(
        Download(
            "ti_cpi/CPI2023_Global_Results__Trends.xlsx",
            "Transparency International",
            "https://images.transparencycdn.org/images/CPI2023_Global_Results__Trends.xlsx",
            "11f61edd9186094a21820c25d5694c192a5af50c29b48d236a9da8411fbb6b81",
        ),
        Download(
            "ti_cpi/cpi.csv",
            "Frederick Solt (compiled from TI)",
            "https://raw.githubusercontent.com/fsolt/transparency-international-cpi/"
            "675e1b588b869f25dbe1e02ae00925cf0f0b3e81/cpi.csv",
            "c55ae0015c6c1ba293e0e866f7b4baffcc29f55c043f6f43c8b7a529b3e7d2c8",
            pinned=True,
            header=("country", "year", "cpi"),
        ),
    ),
    optional_roles=("compilation",),
    columns={
        "cpi_score": Column(0, 100, "score 0–100", "perceived public-sector integrity, 100 = very clean"),
        "cpi_pre2012_method": Column(0, 1, "flag", "1 = pre-2012 method (0–10 score ×10), not comparable"),
    },
    available_after_years=1,
    lineage=tuple(dict.fromkeys(SOURCE_COLUMNS.values())),
)
def build(files: Mapping[str, list[Path]], context: BuildContext) -> pd.DataFrame:
    frames = [read_workbook(p) for p in files["workbook"]]
    covered = pd.concat(frames)[["iso3", "year"]] if frames else pd.DataFrame(columns=["iso3", "year"])
    for path in files.get("compilation", []):
        old = read_compilation(path)
        old = old.merge(covered.assign(_covered=True), on=["iso3", "year"], how="left")
        frames.append(old[old["_covered"].isna()].drop(columns="_covered"))
    frame = pd.concat(frames, ignore_index=True)
    frame["cpi_pre2012_method"] = (frame["year"] < METHOD_BREAK_YEAR).astype("float64")
    return frame


def read_workbook(path: Path) -> pd.DataFrame:
    raw = read_table(path, required=["ISO3", "Year", "CPI score"], sheet=SHEET, header_row=4)
    frame = pd.DataFrame(
        {
            "iso3": iso3_from_codes(raw, "ISO3", name_column="Country / Territory"),
            "year": to_year(raw, "Year"),
            "cpi_score": to_number(raw, "CPI score"),
            ROW: raw[ROW],
            FILE: raw[FILE],
        }
    )
    return frame[frame["iso3"].notna()]


def read_compilation(path: Path) -> pd.DataFrame:
    """Solt's 1995–2023 compilation (country, year, cpi, cpi_se); R's "NA" name = no country."""
    raw = read_table(path, required=["country", "year", "cpi"])
    raw = raw[raw["country"].str.strip() != "NA"]
    frame = pd.DataFrame(
        {
            "iso3": iso3_from_names(raw, "country"),
            "year": to_year(raw, "year"),
            "cpi_score": to_number(raw, "cpi").round(1),  # float noise: 52.400000000000006
            ROW: raw[ROW],
            FILE: raw[FILE],
        }
    )
    return frame[frame["iso3"].notna()]
