"""Net migration (UN World Population Prospects via World Bank WDI, SM.POP.NETM), per 1,000 residents.

Immigrants minus emigrants over the year, a modelled estimate (smooth, revised between
vintages), not a border count. Divided by WDI population so large and small countries
compare. A WPP revision covering year y appears after y, so a year-y value is used from y+1
(every revision also re-estimates past years). Aggregates are dropped by the file's own
`Metadata - Countries` sheet (rows without a region).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from features.build_context import BuildContext
from features.registry import Column, Download, register_source
from features.sources._worldbank import CLASS_GLOB, read_wdi
from features.sources.population import population_table


@register_source(
    name="net_migration",
    family="border",
    publisher="UN DESA World Population Prospects, via World Bank WDI (SM.POP.NETM)",
    raw_globs={
        "table": "wb_wdi/API_SM.POP.NETM_*.xls*",
        "population": "wb_wdi/population.csv",
        "classification": CLASS_GLOB,
    },
    downloads=(
        Download(
            "wb_wdi/API_SM.POP.NETM_DS2_en_excel_v2_782.xls",
            "World Bank (WDI)",
            "https://api.worldbank.org/v2/en/indicator/SM.POP.NETM?downloadformat=excel",
            "161836252ff130b5d12b2fb632a6e3e4e29cf72334d733fe5822730f1c45efcc",
        ),
    ),
    optional_roles=("classification",),
    columns={
        "netmig_per_1k": Column(
            -1000,
            1000,
            "persons per 1,000 residents",
            "net migration (immigrants − emigrants) per 1,000 residents",
        )
    },
    available_after_years=1,
)
def build(files: Mapping[str, list[Path]], context: BuildContext) -> pd.DataFrame:
    classes = files.get("classification", [])
    migration = pd.concat([read_wdi(p, "net", classes) for p in files["table"]], ignore_index=True)
    population = population_table({"table": files["population"], "classification": classes})
    out = migration.merge(population, on=["iso3", "year"], how="left")
    out["netmig_per_1k"] = out["net"] / out["population"] * 1000
    return out.drop(columns=["net", "population"])
