"""International inbound tourist arrivals (UN Tourism via World Bank WDI, ST.INT.ARVL).

Overnight visitors, counted as visits not people: a mobility signal (exposure to cross-border
movement), not a trafficking count. The stored vintage ends in 2016. UN Tourism compiles a
year's arrivals over the following year and WDI republishes them after that, so a year-y
value is used from y+2. Aggregates are dropped by the World Bank's rule (see _worldbank).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from features.build_context import BuildContext
from features.registry import Column, Download, register_source
from features.sources._worldbank import CLASS_GLOB, read_wdi
from features.sources.population import population_table


@register_source(
    name="tourism_arrivals",
    family="border",
    publisher="UN Tourism (UNWTO), via World Bank WDI (ST.INT.ARVL)",
    raw_globs={
        "table": "wb_wdi/API_ST.INT.ARVL_*.csv",
        "population": "wb_wdi/population.csv",
        "classification": CLASS_GLOB,
    },
    downloads=(
        Download(
            "wb_wdi/API_ST.INT.ARVL_DS2_en_csv_v2_10139871.csv",
            "World Bank (WDI)",
            "https://api.worldbank.org/v2/en/indicator/ST.INT.ARVL?downloadformat=csv",
            "8c37ff22dc9eff3cea2ce53ee2324ec959c5cc949d34cb536174688335225d6b",
            header=("Country Name", "Country Code"),
            member="API_ST.INT.ARVL_DS2_*.csv",
        ),
    ),
    optional_roles=("classification",),
    columns={
        "tourism_log_arrivals": Column(0, 25, "log(1 + arrivals)", "international inbound tourist arrivals"),
        "tourism_arrivals_per_capita": Column(0, 200, "arrivals per resident", "arrivals / population"),
    },
    available_after_years=2,
)
def build(files: Mapping[str, list[Path]], context: BuildContext) -> pd.DataFrame:
    classes = files.get("classification", [])
    arrivals = pd.concat([read_wdi(p, "arrivals", classes) for p in files["table"]], ignore_index=True)
    population = population_table({"table": files["population"], "classification": classes})
    out = arrivals.merge(population, on=["iso3", "year"], how="left")
    out["tourism_log_arrivals"] = np.log1p(out["arrivals"])
    out["tourism_arrivals_per_capita"] = out["arrivals"] / out["population"]
    return out.drop(columns=["arrivals", "population"])
