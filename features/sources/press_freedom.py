"""Press freedom index (Reporters sans frontières), new method (2022+ editions): one CSV per edition.

RSF's export is ';'-separated with decimal commas (UTF-8, usually with a BOM). Edition N
describes year N-1 and is published in spring of N, so a value for year y is known from y+1
on. Since the 2022 method the score runs 0–100 with higher = freer; the 2013–2021 editions
(old method, lower = freer) are a separate source, `press_freedom_old_method`, never spliced.
An edition's `Score N-1` column gives the previous edition's score on the same method; it
is used only for an edition that has no file of its own (2022, from the 2023 export).

The 2025 and 2026 files in circulation were damaged by a read/write round trip: decimal
commas were taken for thousands separators, so `91,89` became `9189` (and the file became
cp1252). Per SOURCES.md their scores are repaired as previous score + `Score evolution`
(which kept its comma), using that to place the decimal point in the stored digits; a value
the rule cannot place, or a damaged file without the previous edition, is refused. Their
sub-scores cannot be repaired (a digit string below 10 reads two ways) and stay missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from features.build_context import BuildContext
from features.readers import (
    FILE,
    ROW,
    iso3_from_codes,
    read_table,
    refuse_repeated_columns,
    to_number,
    to_year,
)
from features.registry import REGION, Column, Download, register_source
from nexus.errors import SourceDataError

SUBSCORES = {"Political Context": "press_freedom_political", "Safety": "press_freedom_safety"}
DAMAGED = "lost its decimal comma"
TOLERANCE = 0.011  # evolution and previous score are each rounded to 2 decimals (±0.005)


@register_source(
    name="press_freedom",
    family="press",
    publisher="Reporters sans frontières (RSF), World Press Freedom Index",
    raw_globs={"editions": "rsf_wpfi/*[0-9].csv"},
    downloads=(
        Download(
            "rsf_wpfi/country_rsf_global_score_2023.csv",
            "Reporters sans frontières",
            "https://rsf.org/sites/default/files/import_classement/2023.csv",
            "f1c31e5d8b539bb455ea5aad5e3210586219aeeb02d81cb43dbea70c3de896a6",
            header=("ISO", "Year (N)"),
        ),
        Download(
            "rsf_wpfi/rsf2024 2.csv",
            "Reporters sans frontières",
            "https://rsf.org/sites/default/files/import_classement/2024.csv",
            "d81ee4fecaaf56f01fafeb0c55886c4302b7aad588f9fbcb1cd8418ea7ddd53f",
            header=("ISO", "Year (N)"),
        ),
        Download(
            "rsf_wpfi/rwb2025.csv",
            "Reporters sans frontières",
            "https://rsf.org/sites/default/files/import_classement/2025.csv",
            "e82431d0cd4f1aa245ccb79d5f697f3e4c5ed174e0b8377da08eeea9a4f7c7f7",
            header=("ISO", "Year (N)"),
        ),
        Download(
            "rsf_wpfi/rwb2026.csv",
            "Reporters sans frontières",
            "https://rsf.org/sites/default/files/import_classement/2026.csv",
            "3c6827070289e3409e98fb0f60ed40f79e8c29a6c8f00bd8984cdfdf7bd5cc24",
            header=("ISO", "Year (N)"),
        ),
    ),
    columns={
        "press_freedom_score": Column(0, 100, "score 0–100", "global score, higher = freer (2022+ method)"),
        "press_freedom_political": Column(0, 100, "score 0–100", "political context sub-score"),
        "press_freedom_safety": Column(0, 100, "score 0–100", "safety of journalists sub-score"),
    },
    available_after_years=1,
)
def build(files: Mapping[str, list[Path]], context: BuildContext) -> pd.DataFrame:
    """Read every edition (oldest first, so a damaged one can lean on its predecessor)."""
    editions = sorted((read_edition(p) for p in files["editions"]), key=lambda e: e.year)
    by_year: dict[int, pd.DataFrame] = {}
    previous_scores: dict[int, pd.DataFrame] = {}
    for edition in editions:
        if edition.year in by_year:
            raise SourceDataError(
                edition.rows[FILE].iat[0], None, f"a second file for the edition describing {edition.year}"
            )
        rows = repair(edition.rows, by_year.get(edition.year - 1)) if edition.damaged else edition.rows
        by_year[edition.year] = rows
        previous_scores[edition.year - 1] = edition.previous
    for year, prev in previous_scores.items():
        if year not in by_year and not prev.empty:
            by_year[year] = prev
    frame = pd.concat(by_year.values(), ignore_index=True)
    columns = ["iso3", "year", "press_freedom_score", *SUBSCORES.values(), ROW, FILE, REGION]
    return frame.reindex(columns=columns)  # REGION is missing for rows of an edition without a Zone


def _encoding(path: Path) -> str:
    """RSF exports are UTF-8; the damaged 2025/2026 copies are cp1252."""
    try:
        Path(path).read_bytes().decode("utf-8")
        return "utf-8-sig"
    except UnicodeDecodeError:
        return "cp1252"


@dataclass(frozen=True)
class Edition:
    """One export: its rows, whether its scores lost their decimal commas, and its `Score N-1` rows."""

    year: int
    rows: pd.DataFrame
    damaged: bool
    previous: pd.DataFrame


def read_edition(path: Path) -> Edition:
    """One export → rows (iso3, year described) with score, sub-scores and the damaged digits."""
    head = read_table(path, required=["ISO", "Year (N)"], sep=";", encoding=_encoding(path))
    score_col = next(
        (c for c in head.columns if c == "Score" or (c.startswith("Score ") and c[6:].isdigit())), None
    )
    if score_col is None:
        raise SourceDataError(path, 1, f"missing column 'Score' (found: {', '.join(head.columns[:8])}, …)")
    refuse_repeated_columns(head, path, [score_col, *SUBSCORES])
    raw = head[head["ISO"].str.strip() != ""]
    text = raw[score_col].astype("string").str.strip()
    # Damaged file: no score keeps a comma and some exceed 100 (every cell is then bare digits).
    damaged = bool(
        not text.str.contains(",", regex=False).any() and (pd.to_numeric(text, errors="coerce") > 100).any()
    )
    frame = pd.DataFrame(
        {
            "iso3": iso3_from_codes(raw, "ISO", name_column="Country_EN" if "Country_EN" in raw else None),
            "year": to_year(raw, "Year (N)") - 1,
            "press_freedom_score": np.nan if damaged else to_number(raw, score_col, decimal=","),
            "_digits": text.where(text.str.fullmatch(r"\d+").fillna(False)) if damaged else pd.NA,
            ROW: raw[ROW],
            FILE: raw[FILE],
            REGION: raw["Zone"].str.strip() if "Zone" in raw else pd.NA,  # RSF's region of the country
        }
    )
    if damaged and (text.notna() & (text != "") & frame["_digits"].isna()).any():
        i = int(np.flatnonzero((text.notna() & (text != "") & frame["_digits"].isna()).to_numpy())[0])
        raise SourceDataError(path, int(raw[ROW].iat[i]), f"{score_col}: {text.iat[i]!r} is not a number")
    for source_col, col in SUBSCORES.items():
        if source_col not in raw:
            raise SourceDataError(path, 1, f"missing column {source_col!r}")
        frame[col] = np.nan if damaged else to_number(raw, source_col, decimal=",")
    if damaged:
        frame["_evolution"] = to_number(raw, "Score evolution", decimal=",")
    frame = frame[frame["iso3"].notna()].reset_index(drop=True)
    if frame.empty:
        raise SourceDataError(path, None, "no country rows")
    columns = {} if damaged else {score_col: "press_freedom_score", **SUBSCORES}
    check_edition(frame, columns)
    previous = pd.DataFrame() if damaged else _previous_edition(raw)
    return Edition(int(frame["year"].iat[0]), frame, damaged, previous)


def _previous_edition(raw: pd.DataFrame) -> pd.DataFrame:
    """The `Score N-1` column as rows of the previous edition (score only)."""
    if "Score N-1" not in raw:
        return pd.DataFrame()
    kept = raw.loc[raw["ISO"].str.strip() != ""]
    prev = pd.DataFrame(
        {
            "iso3": iso3_from_codes(kept, "ISO"),
            "year": to_year(kept, "Year (N)") - 2,
            "press_freedom_score": to_number(kept, "Score N-1", decimal=","),
            "_digits": pd.NA,
            ROW: kept[ROW],
            FILE: kept[FILE],
        }
    )
    for col in SUBSCORES.values():
        prev[col] = np.nan
    prev = prev[prev["iso3"].notna() & prev["press_freedom_score"].notna()].reset_index(drop=True)
    check_edition(prev, {"Score N-1": "press_freedom_score"})
    return prev


def check_edition(frame: pd.DataFrame, columns: Mapping[str, str]) -> None:
    """Refuse a file's own problems before any other edition is derived from it (a damaged
    edition is repaired against these rows): a country twice, or a score outside 0–100.
    `columns` maps the file's column name to the frame's."""
    dup = frame.duplicated("iso3", keep="first")
    if dup.any():
        r = frame[dup].iloc[0]
        first = int(frame.loc[frame["iso3"] == r["iso3"], ROW].iat[0])
        raise SourceDataError(r[FILE], int(r[ROW]), f"duplicate country {r['iso3']!r} (also row {first})")
    for source_col, col in columns.items():
        values = frame[col]
        bad = (values < 0) | (values > 100)
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise SourceDataError(frame[FILE].iat[i], int(frame[ROW].iat[i]),
                                  f"{source_col}: {values.iat[i]:g} out of range [0, 100]")


def repair(edition: pd.DataFrame, previous: pd.DataFrame | None) -> pd.DataFrame:
    """Place the decimal point of each damaged score using previous score + `Score evolution`."""
    path = edition[FILE].iat[0]
    year = int(edition["year"].iat[0])
    if previous is None:
        r = edition.iloc[0]
        raise SourceDataError(
            path,
            int(r[ROW]),
            f"score {r['_digits']!r} {DAMAGED} (a damaged RSF export); "
            f"repairing it needs the edition describing {year - 1} in the same folder, "
            "or use a clean export from rsf.org",
        )
    prior = previous.set_index("iso3")["press_freedom_score"]
    scores = []
    for iso3, digits, evolution, row in zip(
        edition["iso3"], edition["_digits"], edition["_evolution"], edition[ROW], strict=True
    ):
        if pd.isna(digits):
            scores.append(np.nan)
            continue
        expected = prior.get(iso3, np.nan) + evolution
        candidates = [int(digits) / 10**k for k in (0, 1, 2, 3)]
        placed = [c for c in candidates if abs(c - expected) <= TOLERANCE]
        if not placed:
            raise SourceDataError(
                path,
                int(row),
                f"score {digits!r} {DAMAGED} and previous score + evolution "
                f"({expected:.2f}) does not place its decimal point; refused",
            )
        if not 0 <= placed[0] <= 100:
            raise SourceDataError(path, int(row), f"score {digits!r} {DAMAGED}; repaired it is "
                                  f"{placed[0]:g}, out of range [0, 100]")
        scores.append(placed[0])
    return edition.assign(press_freedom_score=scores).drop(columns="_evolution")
