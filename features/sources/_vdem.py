"""The V-Dem v14 subset (SOURCES.md 13.3) shared by the vdem_* sources: one file, read by each.

V-Dem codes countries by `country_text_id`, ISO3 apart from historical states (nexus.countries
lists DDR, VDR, YMD) and three sub-national units coded beside their state, dropped here by
V-Dem's own codes: they are no ISO country, and folding them in would give their state two rows.
A release covering year y appears in March of y + 1 (v14: March 2024, data to 2023), so a value
describing y is public from y + 1 on; past years are coded retrospectively by experts (one
vintage, a revision look-ahead shared with WGI and WDI, stated on the results page).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from features.build_context import BuildContext
from features.readers import FILE, ROW, iso3_from_codes, read_table, to_number, to_year
from features.registry import Column, Download, register_source

GLOB = "vdem/vdem_v14_*.csv"
FILE_NAME = "vdem/vdem_v14_judicial_media_corruption_subset_1970_2023_derived.csv"
PUBLISHER = "V-Dem Institute, Varieties of Democracy Country-Year data set v14 (Coppedge et al. 2024)"
SUB_NATIONAL = {
    "PSG": "Palestine/Gaza (V-Dem codes Gaza apart from the West Bank, PSE)",
    "SML": "Somaliland (inside Somalia, SOM, for ISO 3166)",
    "ZZB": "Zanzibar (inside Tanzania, TZA)",
}
# Same expert survey as democracy_indices (V-Dem's Democratic Spaces subset), which the
# perceptions index and WGI read: these sources share those indices' inputs.
LINEAGE = ("democracy_indices",)
DOWNLOAD = Download(
    FILE_NAME,
    "V-Dem Institute (via the vdemlite R package)",
    None,
    "6024f17cf8d7ed760907c5315ac8e3d6e24fac72a8771950bc78e70038f605cf",
    header=("country_name", "country_text_id", "year"),
    by_hand="a column selection (SOURCES.md 13.3), not a download: copy it from the shared data folder, or "
    "select these columns of data/vdemlite.rda in github.com/eteitelbaum/vdemlite (commit 981944f, "
    "pyreadr) or of V-Dem's Country-Year v14 file from v-dem.net",
)
LATENT = (-5.0, 5.0, "latent score (≈ −4…4, higher = better)")  # V-Dem measurement-model point estimates
INDEX = (0.0, 1.0, "index 0–1")


def columns(measures: Mapping[str, tuple[str, tuple, str]]) -> dict[str, Column]:
    """Declared columns from {V-Dem code: (column, (low, high, unit), description)}."""
    return {col: Column(low, high, unit, f"{desc} (V-Dem {code})")
            for code, (col, (low, high, unit), desc) in measures.items()}


def read(files: Mapping[str, list[Path]], measures: Mapping[str, tuple[str, tuple, str]]) -> pd.DataFrame:
    """The country-years of every file, with the named V-Dem codes as the declared columns."""
    frames = []
    for path in files["table"]:
        raw = read_table(path, required=["country_name", "country_text_id", "year", *measures])
        frame = pd.DataFrame({
            "iso3": iso3_from_codes(raw, "country_text_id", name_column="country_name", aggregates=SUB_NATIONAL),
            "year": to_year(raw, "year"), ROW: raw[ROW], FILE: raw[FILE]})
        for code, (col, _, _) in measures.items():
            frame[col] = to_number(raw, code)
        frames.append(frame[frame["iso3"].notna()])
    return pd.concat(frames, ignore_index=True)


def register(name: str, family: str, measures: Mapping[str, tuple[str, tuple, str]], description: str, *,
             lineage: tuple[str, ...] = LINEAGE, label_construct: tuple[str, ...] = ()):
    """Register a vdem_* source reading `measures` from the one V-Dem file; returns its build function.

    Every vdem_* source shares the file, its download, the publisher and the one-year lag; only the
    measures, the family, the lineage and the description (the caller module's docstring) differ.
    """
    def build(files: Mapping[str, list[Path]], context: BuildContext) -> pd.DataFrame:
        return read(files, measures)

    return register_source(name=name, family=family, publisher=PUBLISHER, raw_globs={"table": GLOB},
                           downloads=(DOWNLOAD,), columns=columns(measures), available_after_years=1,
                           lineage=lineage, label_construct=label_construct,
                           description=description.strip())(build)
