"""UNHCR refugees and asylum-seekers by origin and by asylum country, on the real files."""

from __future__ import annotations

import functools
import math
from pathlib import Path

import pandas as pd
import pytest

from features.build_context import BuildContext
from features.panel import validate_source_frame
from features.registry import get_source

REPO = Path(__file__).resolve().parents[2]
RAW = REPO.parent / "shared" / "data" / "raw"
pytestmark = [pytest.mark.realdata,
              pytest.mark.skipif(not RAW.is_dir(), reason=f"{RAW} is absent: the publishers' files live there")]


@functools.cache
def built() -> tuple[pd.DataFrame, dict]:
    source = get_source("unhcr_refugees")
    context = BuildContext.for_policy("refuse")
    frame = validate_source_frame(source, source.build(source.find_files(RAW), context))
    return frame, context.quality.as_dict()


def value(iso3: str, year: int, column: str) -> float:
    frame, _ = built()
    match = frame.loc[(frame["iso3"] == iso3) & (frame["year"] == year), column]
    assert len(match) == 1, f"{len(match)} rows for {iso3} {year}"
    return float(match.iloc[0])


def test_per_capita_and_growth_read_by_hand():
    # by origin, line 5816: 2016,SYR,…,5524511 refugees,184337 asylum-seekers; WDI 2016: 19,193,834
    assert value("SYR", 2016, "unhcr_origin_per_1k") == pytest.approx((5524511 + 184337) / 19193834 * 1e3)
    # by asylum country, lines 5896 and 6072: Germany 2015 316098 + 420570, 2016 669468 + 587306
    assert value("DEU", 2016, "unhcr_asylum_per_1k") == pytest.approx((669468 + 587306) / 82348669 * 1e3)
    assert value("DEU", 2016, "unhcr_asylum_growth") == pytest.approx(
        math.log((669468 + 587306 + 1) / (316098 + 420570 + 1)))
    # 2025 has no WDI population yet: Afghanistan's 2024 population (42,647,492) divides it
    assert value("AFG", 2025, "unhcr_origin_per_1k") == pytest.approx((2671560 + 270007) / 42647492 * 1e3)


def test_serbia_includes_kosovo_and_pseudo_codes_are_dropped_with_a_count():
    frame, quality = built()
    # UNHCR's "Serbia and Kosovo: S/RES/1244 (1999)", line 5807: over Serbia's and Kosovo's population
    assert value("SRB", 2016, "unhcr_origin_per_1k") == pytest.approx((36928 + 21699) / (7058322 + 1777568) * 1e3)
    assert "XKX" not in set(frame["iso3"])
    origin = quality["tables"]["unhcr_refugees_origin"][0]["notes"]
    assert {k.split()[2]: v[0] for k, v in origin.items()} == {"UNK": 75, "XXA": 46, "TIB": 62}
    asylum = quality["tables"]["unhcr_refugees_asylum"][0]
    assert asylum["rows"] - asylum["kept"] == 70
    assert list(asylum["notes"]) == ["UNHCR pseudo-code UNK (unknown) dropped"]


def test_coverage_years_and_countries():
    frame, _ = built()
    assert (frame["year"].min(), frame["year"].max()) == (1951, 2025)
    latest = frame[frame["year"] == 2025]
    assert latest["unhcr_origin_per_1k"].notna().sum() >= 180 and latest["unhcr_asylum_per_1k"].notna().sum() >= 150
    assert frame[["_row", "_file"]].notna().all().all()  # a country-year in one file keeps that file's row
