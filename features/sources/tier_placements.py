"""Tier placements (US State Department TIP Report): the label nexus learns to anticipate.

Two layouts are read: the Kelley/Heiss research extract (countryname, iso, year, ccode,
tier; 'Watchlist' with trailing spaces) and the transcribed/synthetic table (country,
report_year, tier). The tier measures a government's *effort* against trafficking as the
US government judges it, so it is politically influenced; nexus treats it as the
available label, not as ground truth of prevalence. A report appears in June of its
report year, so its tiers are known from that year on (lag 0).

Quirks handled on purpose: tier strings with trailing spaces; NA (unranked or special case,
not distinguishable in the extract) is no label; Kosovo's code KOS. In the transcribed
table, a report year that lists no Tier 1 or Tier 2 country (2022, 2024, 2025 in the copy
in ../shared/data: only the Watch List and Tier 3 were found) is partial: absence there does
not mean Tier 1 or 2, so its rows would be positives without negatives, and they are left
out rather than turned into a biased label.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from features.readers import FILE, ROW, iso3_from_codes, iso3_from_names, read_table, to_year
from features.registry import Column, register_source
from nexus.errors import SourceDataError

TIERS = {"tier 1": 0, "tier 2": 1, "tier 2 watch list": 2, "watchlist": 2, "tier 2 watchlist": 2, "tier 3": 3}
SPECIAL = {"special case", "special category"}


@register_source(
    name="tier_placements",
    family="label",
    publisher="U.S. Department of State, Trafficking in Persons Report",
    raw_globs={"tables": "us_state_tip/*.csv"},
    columns={
        "label_tier": Column(
            0, 3, "ordinal 0–3", "Tier 1 = 0, Tier 2 = 1, Tier 2 Watch List = 2, Tier 3 = 3"
        ),
        "label_special_case": Column(0, 1, "flag", "placed as a Special Case (no tier)"),
    },
    available_after_years=0,
)
def build(files: Mapping[str, list[Path]]) -> pd.DataFrame:
    return pd.concat([read_tiers(p) for p in files["tables"]], ignore_index=True)


def read_tiers(path: Path) -> pd.DataFrame:
    head = read_table(path, required=[])
    if "iso" in head.columns:
        raw = read_table(path, required=["countryname", "iso", "year", "tier"])
        iso3 = iso3_from_codes(raw, "iso", name_column="countryname")
        year = to_year(raw, "year")
    else:
        raw = read_table(path, required=["country", "report_year", "tier"])
        iso3 = iso3_from_names(raw, "country")
        year = to_year(raw, "report_year")
    text = raw["tier"].astype("string").str.strip().str.casefold()
    unranked = text.isna() | text.isin(["", "na"])
    known = text.isin(list(TIERS)) | text.isin(list(SPECIAL)) | unranked
    if not known.all():
        i = int(np.flatnonzero(~known.to_numpy())[0])
        raise SourceDataError(
            path, int(raw[ROW].iat[i]), f"tier: {raw['tier'].iat[i]!r} is not a tier placement"
        )
    frame = pd.DataFrame(
        {
            "iso3": iso3,
            "year": year,
            "label_tier": text.map(TIERS).astype("Float64").astype("float64"),
            "label_special_case": text.isin(list(SPECIAL)).astype("float64"),
            ROW: raw[ROW],
            FILE: raw[FILE],
        }
    )
    return frame[frame["iso3"].notna() & ~unranked.to_numpy() & ~frame["year"].isin(partial_years(frame))]


def partial_years(frame: pd.DataFrame) -> set[int]:
    """Report years in which no country is placed on Tier 1 or Tier 2 (only the lists below were found)."""
    ranked = frame.dropna(subset=["label_tier"])
    upper = ranked[ranked["label_tier"] <= 1].groupby("year").size()
    return {int(y) for y in ranked["year"].unique() if upper.get(y, 0) == 0}
