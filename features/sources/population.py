"""Population (World Bank WDI, long format): the denominator of per-capita signals.

The file mixes regional and income aggregates in with countries; they are dropped by rule
(their codes are not ISO 3166 country codes), never by a hand list of names.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from features.readers import FILE, ROW, iso3_from_codes, read_table, to_number, to_year
from features.registry import Column, register_source


@register_source(
    name="population",
    family="controls",
    publisher="World Bank, World Development Indicators (SP.POP.TOTL)",
    raw_globs={"table": "wb_wdi/population.csv"},
    columns={"population": Column(1e3, 2e9, "persons", "total population, mid-year")},
    available_after_years=1,
)
def build(files: Mapping[str, list[Path]]) -> pd.DataFrame:
    return pd.concat([read_population(p) for p in files["table"]], ignore_index=True)


def read_population(path: Path) -> pd.DataFrame:
    raw = read_table(path, required=["Country Name", "Country Code", "Year", "Value"])
    frame = pd.DataFrame({"iso3": iso3_from_codes(raw, "Country Code", drop_unknown=True),
                          "year": to_year(raw, "Year"), "population": to_number(raw, "Value"),
                          ROW: raw[ROW], FILE: raw[FILE]})
    return frame[frame["iso3"].notna() & frame["population"].notna()]
