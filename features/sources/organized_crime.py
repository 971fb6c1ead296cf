"""Global Organized Crime Index (GI-TOC): criminal markets, actors and resilience, scores 1–10.

One sheet per edition (`2021_dataset`, `2023_dataset`); the edition year is read from the
sheet name. Headers differ between editions ("Criminality avg," in 2023, "Criminality" in
2021), so they are matched after dropping " avg" and trailing commas; the 2023 edition adds
markets and actors, so its averages are built from more items (a construction break between
the two editions). Countries are names only. An edition is published in September of its
year (it scores the year before: the 2021 edition "the 2020 data"), so it is keyed on the
edition year and used from that year on (CALENDAR; a panel row for year t holds what was
published by the end of t). Editions are biennial: an edition older than 3 years at a row
(one missed edition) is missing. The 2025 edition is not in this workbook and is not declared.
Scores come from GI-TOC's expert panels; the publisher lists no other index as an input,
though experts read the same reports everyone does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from features.build_context import BuildContext
from features.calendar import Calendar
from features.readers import FILE, ROW, iso3_from_names, read_table, sheet_names, to_number
from features.registry import Column, Download, register_source
from nexus.errors import SourceDataError

SHEET = re.compile(r"^(\d{4})_dataset$")
MEASURES = {
    "criminality": ("ocindex_criminality", "criminality (markets and actors)"),
    "human trafficking": ("ocindex_human_trafficking", "human trafficking market"),
    "human smuggling": ("ocindex_human_smuggling", "human smuggling market"),
    "state-embedded actors": ("ocindex_state_embedded_actors", "state-embedded criminal actors"),
    "resilience": ("ocindex_resilience", "resilience to organized crime"),
    "judicial system and detention": ("ocindex_judicial_system", "judicial system and detention"),
    "victim and witness support": ("ocindex_victim_support", "victim and witness support"),
}


CALENDAR = Calendar(lag_years=0, max_age_years=3, editions={
    2021: "2021-09-28",  # first Global Organized Crime Index, launched September 2021
    2023: "2023-09-26",  # second edition, September 2023
})


def _key(header: str) -> str:
    return re.sub(r"\s+avg$", "", header.strip().rstrip(",").strip().casefold())


@register_source(
    name="organized_crime",
    family="judicial",
    publisher="Global Initiative Against Transnational Organized Crime, Global Organized Crime Index",
    raw_globs={"workbook": "gitoc_ocindex/*.xlsx"},
    downloads=(
        Download(
            "gitoc_ocindex/global_oc_index.xlsx",
            "GI-TOC",
            "https://ocindex.net/assets/downloads/global_oc_index.xlsx",
            "1edb12b3d7aefa2947c11b029264340a8b2cdc0450c17d551d6548cba83ea1fc",
        ),
    ),
    columns={col: Column(1, 10, "score 1–10", desc) for col, desc in MEASURES.values()},
    calendar=CALENDAR,
)
def build(files: Mapping[str, list[Path]], context: BuildContext) -> pd.DataFrame:
    frames = []
    for path in files["workbook"]:
        names = sheet_names(path)
        sheets = [s for s in names if SHEET.match(s)]
        if not sheets:
            found = ", ".join(names) or "none"
            raise SourceDataError(path, None, f"no '<year>_dataset' sheet (found: {found})")
        frames += [read_edition(path, sheet, int(SHEET.match(sheet).group(1))) for sheet in sheets]
    return pd.concat(frames, ignore_index=True)


def read_edition(path: Path, sheet: str, year: int) -> pd.DataFrame:
    raw = read_table(path, required=["Country"], sheet=sheet)
    by_key = {_key(c): c for c in raw.columns}
    frame = pd.DataFrame(
        {"iso3": iso3_from_names(raw, "Country"), "year": year, ROW: raw[ROW], FILE: raw[FILE]}
    )
    for key, (col, _) in MEASURES.items():
        if key not in by_key:
            raise SourceDataError(path, 1, f"sheet {sheet!r}: no column for {key!r}")
        frame[col] = to_number(raw, by_key[key])
    return frame[frame["iso3"].notna()]
