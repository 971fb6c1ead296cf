"""World Development Indicators files, shared by the WDI sources (not a source itself).

Two layouts carry the same wide table (Country Name, Country Code, Indicator Name, Indicator
Code, one column per year): the CSV download (four metadata lines above the header) and the
Excel download (sheet `Data`, header on row 4, plus a `Metadata - Countries` sheet).

Both mix regional and income aggregates in with economies. They are dropped by the World
Bank's own rule, never by a hand list of names: an aggregate is a code the publisher lists
without a region, in the file's `Metadata - Countries` sheet or in the classification
workbook `reference/CLASS.xlsx` (its `Groups` sheet and its economy list). Any other code
must be a country code (or a documented non-country code), or the file is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from features.readers import FILE, ROW, iso3_from_codes, read_table, to_number
from nexus.errors import SourceDataError

CLASS_GLOB = "reference/CLASS.xlsx"
YEAR_COLUMN = re.compile(r"^(\d{4})(\.0)?$")


def class_aggregates(path: Path) -> set[str]:
    """Aggregate codes in the World Bank's classification workbook (group codes, region-less rows)."""
    economies = read_table(path, required=["Economy", "Code", "Region"], sheet="List of economies")
    groups = read_table(path, required=["GroupCode"], sheet="Groups")
    no_region = economies["Region"].isna() | (economies["Region"].astype("string").str.strip() == "")
    return set(groups["GroupCode"].dropna().str.strip()) | set(
        economies.loc[no_region, "Code"].dropna().str.strip()
    )


def metadata_aggregates(path: Path) -> set[str]:
    """Aggregate codes of an Excel WDI download: rows of `Metadata - Countries` without a region."""
    meta = read_table(path, required=["Country Code", "Region"], sheet="Metadata - Countries")
    no_region = meta["Region"].isna() | (meta["Region"].astype("string").str.strip() == "")
    return set(meta.loc[no_region, "Country Code"].dropna().str.strip())


def aggregates_for(path: Path, class_files: Iterable[Path]) -> set[str]:
    """The aggregate codes that apply to one WDI file."""
    codes: set[str] = set()
    for class_file in class_files:
        codes |= class_aggregates(class_file)
    if Path(path).suffix.lower() in {".xls", ".xlsx"}:
        codes |= metadata_aggregates(path)
    return codes


def read_wdi(path: Path, value: str, class_files: Iterable[Path] = ()) -> pd.DataFrame:
    """One indicator's wide table as long rows (iso3, year, value); aggregates dropped, gaps skipped."""
    path = Path(path)
    excel = path.suffix.lower() in {".xls", ".xlsx"}
    raw = read_table(
        path,
        required=["Country Name", "Country Code"],
        sheet="Data" if excel else None,
        header_row=4 if excel else 5,
    )
    years = {c: int(YEAR_COLUMN.match(c).group(1)) for c in raw.columns if YEAR_COLUMN.match(c)}
    if not years:
        raise SourceDataError(path, 4 if excel else 5, "no year columns (expected 1960, 1961, …)")
    try:
        iso3 = iso3_from_codes(raw, "Country Code", aggregates=aggregates_for(path, class_files))
    except SourceDataError as exc:
        hint = "" if excel else f"; if it is a World Bank aggregate, add {CLASS_GLOB} to the raw folder"
        raise SourceDataError(exc.path, exc.row, exc.problem + hint) from None
    frames = []
    for column, year in years.items():
        frames.append(
            pd.DataFrame(
                {"iso3": iso3, "year": year, value: to_number(raw, column), ROW: raw[ROW], FILE: raw[FILE]}
            )
        )
    long = pd.concat(frames, ignore_index=True)
    return long[long["iso3"].notna() & long[value].notna()].reset_index(drop=True)
