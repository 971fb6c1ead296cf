"""Population (World Bank WDI, long format): the denominator of per-capita signals.

The file mixes regional and income aggregates in with countries; they are dropped by the
World Bank's own rule (codes its classification workbook lists as groups, see _worldbank),
never by a hand list of names. Without that workbook every code must be a country code.
A year's estimate is published in the following year's WDI release.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path

import pandas as pd

from features.build_context import BuildContext
from features.readers import FILE, ROW, iso3_from_codes, read_table, to_number, to_year
from features.registry import Column, Download, register_source
from features.sources._worldbank import CLASS_GLOB, class_aggregates


@register_source(
    name="population",
    family="controls",
    publisher="World Bank, World Development Indicators (SP.POP.TOTL)",
    raw_globs={"table": "wb_wdi/population.csv", "classification": CLASS_GLOB},
    downloads=(
        Download(
            "wb_wdi/population.csv",
            "World Bank WDI via datahub.io",
            "https://raw.githubusercontent.com/datasets/population/425fc447a53a26c767a15a7de60c4cc2478a0595/"
            "data/population.csv",
            "7d2dd6a17f5ed7916de1f89a9c116791e64d207f2e2f6ce47c57e1ab46f0088a",
            pinned=True,
            header=("Country Name", "Country Code", "Year", "Value"),
        ),
    ),
    optional_roles=("classification",),
    columns={"population": Column(1e3, 2e9, "persons", "total population, mid-year")},
    available_after_years=1,
)
def build(files: Mapping[str, list[Path]], context: BuildContext) -> pd.DataFrame:
    return read_populations(files)


def read_populations(files: Mapping[str, list[Path]]) -> pd.DataFrame:
    """Every table's country-year rows, the classification's aggregates dropped."""
    aggregates = set().union(*(class_aggregates(p) for p in files.get("classification", [])))
    return pd.concat([read_population(p, aggregates) for p in files["table"]], ignore_index=True)


def read_population(path: Path, aggregates: Collection[str] = ()) -> pd.DataFrame:
    """Country-year population; `aggregates` are the codes to drop (all others must be countries)."""
    raw = read_table(path, required=["Country Name", "Country Code", "Year", "Value"])
    frame = pd.DataFrame(
        {
            "iso3": iso3_from_codes(raw, "Country Code", aggregates=aggregates),
            "year": to_year(raw, "Year"),
            "population": to_number(raw, "Value"),
            ROW: raw[ROW],
            FILE: raw[FILE],
        }
    )
    return frame[frame["iso3"].notna() & frame["population"].notna()]


def population_table(files: Mapping[str, list[Path]]) -> pd.DataFrame:
    """(iso3, year, population) for sources that divide by it."""
    return read_populations(files)[["iso3", "year", "population"]]
