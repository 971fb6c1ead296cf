"""International migrant and refugee stock (UN DESA, International Migrant Stock 2020), by destination.

Mid-year estimates for 1990, 1995, …, 2020 only, returned as they are: no year in between is
filled. Interpolating would use the *next* estimate, published five years later; instead the
panel carries the last published estimate (an estimate for year y is used from y + 1 on, as
the revisions appeared after their reference year) until the next one is public, and never
longer than 5 years (CALENDAR), so the 2020 estimate serves rows 2021–2025. Nothing is
extrapolated. Every number here is still from one revision (2020), so the table is a 2020 view
of the past whatever the year: a revision look-ahead shared by every re-estimated series (WGI,
WDI), stated on the results page.

Rows are keyed on UN M49 codes; codes of 900 and above are UN DESA's regions and groups,
dropped by that rule; Channel Islands (830) has no ISO code and is dropped. Publisher
markers: ".." not available, "~" fewer than five (suppressed for privacy) — both missing;
"—" below half a unit is read as 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from features.build_context import BuildContext
from features.calendar import Calendar
from features.readers import FILE, ROW, read_table, to_number
from features.registry import Column, Download, register_source
from nexus.countries import m49_to_iso3
from nexus.errors import SourceDataError

HEADER_ROW = 11
NAME = "Region, development group, country or area"
ESTIMATE_YEARS = (1990, 1995, 2000, 2005, 2010, 2015, 2020)
AGGREGATE_FROM = 900  # M49 codes from 900 up are regions, income and development groups
MISSING = ("", "..", "~")
CALENDAR = Calendar(lag_years=1, max_age_years=5)  # five-yearly estimates: each serves until the next is public


@register_source(
    name="migrant_stock",
    family="border",
    publisher="UN DESA Population Division, International Migrant Stock 2020",
    raw_globs={"workbook": "undesa_migrant_stock/undesa_pd_2020_ims_stock_by_sex_and_destination.xlsx"},
    downloads=(
        Download(
            "undesa_migrant_stock/undesa_pd_2020_ims_stock_by_sex_and_destination.xlsx",
            "UN DESA",
            "https://www.un.org/development/desa/pd/sites/www.un.org.development.desa.pd/files/"
            "undesa_pd_2020_ims_stock_by_sex_and_destination.xlsx",
            "2dff619eae05e6ae7e7178ea47cb07eb537959006f5c1e0ef9e2ace2d7a10903",
        ),
    ),
    columns={
        "migstock_share": Column(
            0, 100, "% of population", "international migrants as a share of population"
        ),
        "migstock_female_share": Column(0, 100, "% of migrants", "women among international migrants"),
        "migstock_refugees_per_1k": Column(0, 1000, "per 1,000 residents", "refugees and asylum seekers"),
    },
    calendar=CALENDAR,
)
def build(files: Mapping[str, list[Path]], context: BuildContext) -> pd.DataFrame:
    frames = []
    for path in files["workbook"]:
        share = read_block(path, "Table 3", block=0, value="migstock_share")
        female = read_block(path, "Table 4", block=0, value="migstock_female_share")
        refugees = read_block(path, "Table 6", block=0, value="refugees")
        population = read_block(path, "Table 2", block=0, value="population_thousands")
        anchors = share.merge(female.drop(columns=[ROW, FILE]), on=["iso3", "year"], how="outer")
        anchors = anchors.merge(refugees.drop(columns=[ROW, FILE]), on=["iso3", "year"], how="outer")
        anchors = anchors.merge(population.drop(columns=[ROW, FILE]), on=["iso3", "year"], how="left")
        anchors["migstock_refugees_per_1k"] = anchors["refugees"] / anchors["population_thousands"]
        frames.append(anchors.drop(columns=["refugees", "population_thousands"]))
    return pd.concat(frames, ignore_index=True)


def read_block(path: Path, sheet: str, *, block: int, value: str) -> pd.DataFrame:
    """One block of year columns (both sexes = block 0) of a table, long, countries only."""
    raw = read_table(path, required=[NAME, "Location code"], sheet=sheet, header_row=HEADER_ROW)
    raw = raw[raw["Location code"].astype("string").str.strip().fillna("") != ""]
    codes = to_number(raw, "Location code").astype(int)
    countries = raw[codes < AGGREGATE_FROM]
    iso3 = countries["Location code"].astype(int).map(m49_to_iso3)
    unknown = iso3.isna() & ~countries["Location code"].astype(int).isin([830])
    if unknown.any():
        r = countries[unknown].iloc[0]
        raise SourceDataError(
            path, int(r[ROW]), f"unknown M49 location code {r['Location code']} ({r[NAME].strip()!r})"
        )
    keep = countries[iso3.notna()]
    frames = []
    for year in ESTIMATE_YEARS:
        column = _block_column(raw, str(year), block, path, sheet)
        cells = keep.assign(**{column: keep[column].astype("string").str.strip().replace("—", "0")})
        frames.append(
            pd.DataFrame(
                {
                    "iso3": iso3[iso3.notna()].astype("string"),
                    "year": year,
                    value: to_number(cells, column, missing=MISSING),
                    ROW: keep[ROW],
                    FILE: keep[FILE],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _block_column(raw: pd.DataFrame, year: str, block: int, path: Path, sheet: str) -> str:
    """pandas names repeated headers 1990, 1990.1, 1990.2: block k is the k-th repeat."""
    name = year if block == 0 else f"{year}.{block}"
    if name not in raw.columns:
        raise SourceDataError(path, HEADER_ROW, f"{sheet}: no column {year} in block {block + 1}")
    return name
