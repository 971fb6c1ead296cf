"""Press freedom index (Reporters sans frontières): one CSV per edition.

RSF's export is ';'-separated with decimal commas and a BOM. Edition N describes year N-1
and is published in spring of N, so a value for year y is known from y+1 on. Since the
2022 method, higher = freer (0–100).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from features.readers import FILE, ROW, iso3_from_codes, read_table, to_number, to_year
from features.registry import Column, register_source


@register_source(
    name="press_freedom",
    family="press",
    publisher="Reporters sans frontières (RSF), World Press Freedom Index",
    raw_globs={"editions": "rsf_wpfi/rsf_*.csv"},
    columns={
        "press_freedom_score": Column(0, 100, "score 0–100", "global score, higher = freer (2022+ method)"),
        "press_freedom_safety": Column(0, 100, "score 0–100", "safety of journalists sub-score"),
    },
    available_after_years=1,
)
def build(files: Mapping[str, list[Path]]) -> pd.DataFrame:
    """Read every edition and return one row per (iso3, year described)."""
    return pd.concat([read_edition(p) for p in files["editions"]], ignore_index=True)


def read_edition(path: Path) -> pd.DataFrame:
    raw = read_table(path, required=["ISO", "Score", "Safety", "Year (N)"], sep=";")
    frame = pd.DataFrame({
        "iso3": iso3_from_codes(raw, "ISO", name_column="Country_EN" if "Country_EN" in raw else None),
        "year": to_year(raw, "Year (N)") - 1,
        "press_freedom_score": to_number(raw, "Score", decimal=","),
        "press_freedom_safety": to_number(raw, "Safety", decimal=","),
        ROW: raw[ROW], FILE: raw[FILE],
    })
    return frame[frame["iso3"].notna()]
