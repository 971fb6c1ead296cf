"""World Bank income classification (low, lower-middle, upper-middle, high income), by GNI year.

Two files: the historical workbook (sheet `Country Analytical History`, fiscal years FY89–FY23)
and the current `CLASS.xlsx` (one fiscal year). A fiscal year's group is set on 1 July from
the GNI per capita of the calendar year two years earlier, which the workbook prints under
each FY ("Data for calendar year"); CLASS.xlsx names its GNI year in its `Notes` sheet. The
row is keyed on that GNI year and used from the next year (when the group is announced).

Publisher markers: ".." no classification (missing); "LM*" is Yemen's footnoted LM (two
Yemens then, "combined they would have been LM"); rows below the table whose name ends in
"(former)" are dissolved economies, and the footnote rows have no code; both are skipped.
Venezuela is unclassified in CLASS.xlsx (missing, not guessed).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from features.build_context import BuildContext
from features.readers import FILE, ROW, iso3_from_codes, read_table
from features.registry import Column, Download, register_source
from nexus.errors import SourceDataError

HISTORY_SHEET = "Country Analytical History"
GROUPS = {"L": 0.0, "LM": 1.0, "UM": 2.0, "H": 3.0, "LM*": 1.0}
CURRENT = {"Low income": 0.0, "Lower middle income": 1.0, "Upper middle income": 2.0, "High income": 3.0}
GNI_YEAR_NOTE = re.compile(r"according to (\d{4}) gross national income", re.IGNORECASE)


@register_source(
    name="income_group",
    family="controls",
    publisher="World Bank, country income classifications (OGHIST and CLASS)",
    raw_globs={
        "history": "reference/Historical_income_classification.xlsx",
        "current": "reference/CLASS.xlsx",
    },
    downloads=(
        Download(
            "reference/CLASS.xlsx",
            "World Bank",
            "https://datacatalogfiles.worldbank.org/ddh-published/0037712/DR0090755/CLASS.xlsx",
            "3090f483cad87e868fb2148b31f259dc4dff52e264066f634f3581365a98a134",
        ),
        Download(
            "reference/Historical_income_classification.xlsx",
            "World Bank (OGHIST)",
            "https://datacatalogfiles.worldbank.org/ddh-published/0037712/DR0090754/OGHIST.xlsx",
            "18c7f3904d9a0641e7017982c7a83e015f372ebea3fab8a9d10ba03557673273",
        ),
    ),
    optional_roles=("current",),
    columns={
        "income_group": Column(0, 3, "ordinal 0–3", "0 low, 1 lower-middle, 2 upper-middle, 3 high income")
    },
    available_after_years=1,
)
def build(files: Mapping[str, list[Path]], context: BuildContext) -> pd.DataFrame:
    frames = [read_history(p) for p in files["history"]] + [read_current(p) for p in files.get("current", [])]
    frame = pd.concat(frames, ignore_index=True)
    both = frame.duplicated(["iso3", "year"], keep=False)
    clash = frame[both].groupby(["iso3", "year"])["income_group"].nunique() > 1
    if clash.any():
        iso3, year = clash[clash].index[0]
        r = frame[both & (frame["iso3"] == iso3) & (frame["year"] == year)].iloc[-1]
        raise SourceDataError(
            r[FILE], int(r[ROW]), f"income group of {iso3} for GNI year {year} differs between files"
        )
    return frame.drop_duplicates(["iso3", "year"], keep="first")


def read_history(path: Path) -> pd.DataFrame:
    raw = read_table(path, required=[], sheet=HISTORY_SHEET, header_row=1)
    grid = raw.drop(columns=[c for c in raw.columns if c.startswith("_")]).to_numpy(dtype=object)
    label = [str(v).strip() if isinstance(v, str) else "" for v in grid[:, 1]]
    try:
        fy_row = label.index("Bank's fiscal year:")
        year_row = label.index("Data for calendar year :")
    except ValueError:
        raise SourceDataError(
            path, None, f"{HISTORY_SHEET}: no 'Bank's fiscal year:' / 'Data for calendar year :' header rows"
        ) from None
    columns = [
        j
        for j in range(2, grid.shape[1])
        if isinstance(grid[fy_row, j], str) and grid[fy_row, j].startswith("FY")
    ]
    sheet_row = raw[ROW].to_numpy()
    records = []
    for i in range(year_row + 1, grid.shape[0]):
        code, name = grid[i, 0], grid[i, 1]
        if not isinstance(code, str) or not code.strip() or str(name).strip().endswith("(former)"):
            continue  # blank, footnote or dissolved-economy rows
        for j in columns:
            value = grid[i, j]
            text = value.strip() if isinstance(value, str) else ""
            if text not in GROUPS and text not in ("", ".."):
                raise SourceDataError(
                    path, int(sheet_row[i]), f"{grid[fy_row, j]}: {value!r} is not an income group"
                )
            records.append(
                (
                    code.strip(),
                    name,
                    int(str(grid[year_row, j]).strip()[:4]),
                    GROUPS.get(text, np.nan),
                    int(sheet_row[i]),
                )
            )
    frame = pd.DataFrame(records, columns=["code", "name", "year", "income_group", ROW]).assign(
        **{FILE: str(path)}
    )
    frame["iso3"] = iso3_from_codes(frame, "code", name_column="name")
    return frame.loc[frame["iso3"].notna(), ["iso3", "year", "income_group", ROW, FILE]]


def read_current(path: Path) -> pd.DataFrame:
    notes = read_table(path, required=[], sheet="Notes", header_row=1)
    text = " ".join(str(v) for v in notes.drop(columns=[ROW, FILE]).to_numpy().ravel() if isinstance(v, str))
    text += " " + " ".join(notes.columns)
    found = GNI_YEAR_NOTE.search(text)
    if not found:
        raise SourceDataError(
            path,
            None,
            "Notes sheet does not say which year's GNI the groups use "
            "('according to YYYY gross national income')",
        )
    raw = read_table(path, required=["Economy", "Code", "Region", "Income group"], sheet="List of economies")
    economies = raw[raw["Region"].astype("string").str.strip().fillna("") != ""]
    group = economies["Income group"].astype("string").str.strip()
    unknown = group.notna() & ~group.isin(list(CURRENT))
    if unknown.any():
        r = economies[unknown].iloc[0]
        raise SourceDataError(
            path, int(r[ROW]), f"Income group: {r['Income group']!r} is not an income group"
        )
    frame = pd.DataFrame(
        {
            "iso3": iso3_from_codes(economies, "Code", name_column="Economy"),
            "year": int(found.group(1)),
            "income_group": group.map(CURRENT).astype("float64"),
            ROW: economies[ROW],
            FILE: economies[FILE],
        }
    )
    return frame[frame["iso3"].notna()]
