"""Rule of Law Index (World Justice Project): historical sheet, scores 0–1.

Two editions span two years ("2012-2013", "2017-2018"); each is keyed on its later year so
no value is dated before its fieldwork ended. Editions appear in October; a year-y value is
used from y+1. Coverage grows edition by edition, so many countries enter late.
The scores come from WJP's own household poll and expert questionnaires (no other index
feeds them), though the perceptions index and WGI both use this index as an input.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from features.readers import FILE, ROW, iso3_from_codes, read_table, to_number, to_year
from features.registry import Column, register_source

SHEET = "Historical Data"
MEASURES = {
    "WJP Rule of Law Index: Overall Score": ("wjp_overall", "overall rule-of-law score"),
    "Factor 2: Absence of Corruption": ("wjp_absence_of_corruption", "factor 2, absence of corruption"),
    "8.5 Criminal system is free of corruption": (
        "wjp_criminal_justice_corruption",
        "8.5 criminal justice free of corruption",
    ),
}


@register_source(
    name="judicial_metrics",
    family="judicial",
    publisher="World Justice Project, Rule of Law Index",
    raw_globs={"workbook": "wjp_roli/*.xlsx"},
    columns={
        col: Column(0.0, 1.0, "score 0–1, higher = stronger rule of law", desc)
        for col, desc in MEASURES.values()
    },
    available_after_years=1,
)
def build(files: Mapping[str, list[Path]]) -> pd.DataFrame:
    frames = []
    for path in files["workbook"]:
        raw = read_table(path, required=["Country", "Year", "Country Code", *MEASURES], sheet=SHEET)
        frame = pd.DataFrame(
            {
                "iso3": iso3_from_codes(raw, "Country Code", name_column="Country"),
                "year": to_year(raw, "Year"),
                ROW: raw[ROW],
                FILE: raw[FILE],
            }
        )
        for source_col, (col, _) in MEASURES.items():
            frame[col] = to_number(raw, source_col)
        frames.append(frame[frame["iso3"].notna()])
    return pd.concat(frames, ignore_index=True)
