"""Press freedom index, old method (RSF editions 2013–2021, as reprocessed by Our World in Data).

Up to the 2021 edition RSF scored 0–100 with lower = freer, on a different questionnaire and
weighting than the 2022+ method, so this is a separate source with its own column, never
spliced onto `press_freedom`. OWID's `Year` is the edition year (Norway 2013 = 6.52, as in
RSF's 2013 edition), which describes the year before; a value for year y is known from y+1.
Entities are OWID names: the OECS row ("Eastern Caribbean States") and "Northern Cyprus" are
not one country and are dropped (nexus.countries.NON_COUNTRY_NAMES).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from features.build_context import BuildContext
from features.readers import FILE, ROW, iso3_from_names, read_table, to_number, to_year
from features.registry import Column, Download, register_source


@register_source(
    name="press_freedom_old_method",
    family="press",
    publisher="Reporters sans frontières (RSF), via Our World in Data",
    raw_globs={"table": "rsf_wpfi/World Press Freedom Index*.csv"},
    downloads=(
        Download(
            "rsf_wpfi/World Press Freedom Index - Reporters sans Frontieres (2022).csv",
            "RSF via Our World in Data",
            "https://raw.githubusercontent.com/owid/owid-datasets/f13f07cc0d86c906868f607f03be8c3c894a2977/"
            "datasets/"
            + quote(
                "World Press Freedom Index - Reporters sans Frontieres (2022)/"
                "World Press Freedom Index - Reporters sans Frontieres (2022).csv"
            ),
            "568ab7371724a17c41a9a19ad8824a8f5c1b9c3577ecb91dd45056f13b58267f",
            pinned=True,
            header=("Entity", "Year", "Press Freedom Score"),
        ),
    ),
    columns={
        "press_freedom_old_score": Column(
            0, 100, "score 0–100, lower = freer", "global score on the 2013–2021 method (lower = freer)"
        )
    },
    available_after_years=1,
)
def build(files: Mapping[str, list[Path]], context: BuildContext) -> pd.DataFrame:
    frames = []
    for path in files["table"]:
        raw = read_table(path, required=["Entity", "Year", "Press Freedom Score"])
        frame = pd.DataFrame(
            {
                "iso3": iso3_from_names(raw, "Entity"),
                "year": to_year(raw, "Year") - 1,
                "press_freedom_old_score": to_number(raw, "Press Freedom Score"),
                ROW: raw[ROW],
                FILE: raw[FILE],
            }
        )
        frames.append(frame[frame["iso3"].notna()])
    return pd.concat(frames, ignore_index=True)
