"""Corruption perceptions index (Transparency International): one workbook, long sheet.

The workbook carries three title rows above each table. The index is a composite: TI
builds it from 13 other sources, among them V-Dem, the World Justice Project and the World
Bank's CPIA, so it shares inputs with the governance and rule-of-law indices (lineage).
The edition for year y is published in January of y+1.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from features.readers import FILE, ROW, iso3_from_codes, read_table, to_number, to_year
from features.registry import Column, register_source

SHEET = "CPI Historical (internal)"


@register_source(
    name="corruption_perceptions",
    family="governance",
    publisher="Transparency International, Corruption Perceptions Index",
    raw_globs={"workbook": "ti_cpi/*.xlsx"},
    columns={"cpi_score": Column(0, 100, "score 0–100", "perceived public-sector integrity, 100 = very clean")},
    available_after_years=1,
    lineage=("governance_indicators", "judicial_metrics", "vdem"),
)
def build(files: Mapping[str, list[Path]]) -> pd.DataFrame:
    frames = []
    for path in files["workbook"]:
        raw = read_table(path, required=["ISO3", "Year", "CPI score"], sheet=SHEET, header_row=4)
        frames.append(pd.DataFrame({
            "iso3": iso3_from_codes(raw, "ISO3", name_column="Country / Territory"),
            "year": to_year(raw, "Year"),
            "cpi_score": to_number(raw, "CPI score"),
            ROW: raw[ROW], FILE: raw[FILE],
        }))
    frame = pd.concat(frames, ignore_index=True)
    return frame[frame["iso3"].notna()]
