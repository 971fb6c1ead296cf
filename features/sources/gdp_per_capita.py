"""GDP per capita, current US$ (World Bank WDI, NY.GDP.PCAP.CD), as a log.

A control: nominal dollars (no constant-price or PPP series was available), so part of the
year-to-year change is inflation and exchange rates; the log keeps the cross-country spread
usable. A year's figure is published in the following year's WDI. Aggregates are dropped by
the file's own `Metadata - Countries` sheet (rows without a region).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from features.build_context import BuildContext
from features.registry import Column, Download, register_source
from features.sources._worldbank import CLASS_GLOB, read_wdi


@register_source(
    name="gdp_per_capita",
    family="controls",
    publisher="World Bank, World Development Indicators (NY.GDP.PCAP.CD)",
    raw_globs={"table": "wb_wdi/API_NY.GDP.PCAP.CD_*.xls*", "classification": CLASS_GLOB},
    downloads=(
        Download(
            "wb_wdi/API_NY.GDP.PCAP.CD_DS2_en_excel_v2_5871574.xls",
            "World Bank (WDI)",
            "https://api.worldbank.org/v2/en/indicator/NY.GDP.PCAP.CD?downloadformat=excel",
            "9bcbd64c1d8b4b36ff8f4a45fe7dbc716830844eaa41138175390569c9dcd923",
        ),
    ),
    optional_roles=("classification",),
    columns={"gdp_log_per_capita": Column(1, 13.5, "log(current US$ per person)", "GDP per capita")},
    available_after_years=1,
)
def build(files: Mapping[str, list[Path]], context: BuildContext) -> pd.DataFrame:
    classes = files.get("classification", [])
    gdp = pd.concat([read_wdi(p, "gdp", classes) for p in files["table"]], ignore_index=True)
    gdp["gdp_log_per_capita"] = np.log(gdp["gdp"])
    return gdp.drop(columns="gdp")
