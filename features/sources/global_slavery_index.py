"""Walk Free Global Slavery Index 2016, 2018, 2023: vulnerability, government response, prevalence.

One workbook per edition (SOURCES.md 13.2), each declared in EDITIONS: its sheet, header row and
columns, and the unit its prevalence is published in (2016 a percent of the population, 2018 and
2023 per 1,000), converted to per 1,000; a header that does not name the declared unit is
refused, so a re-issued workbook with other units cannot be misread. A workbook without its
edition's sheet is refused naming the sheets it has. Editions are keyed on their year and used
from their launch date (CALENDAR); they estimate earlier years (2018: 2016, 2023: 2021) and
Walk Free says they are not comparable over time. One edition serves until the next, at most 5
years (the 2018 edition rows 2018–2022).

Lineage. Government response grades government effort against milestones as the TIP tiers do,
and the 2013 index read TIP-report data; prevalence measures modern slavery itself. Both share
the label's construct (`label_construct`: kept in the panel, for other targets and the
measurement map, never a default feature). Vulnerability is built from other published
indicators (WGI, WEF's survey, Freedom House, EIU, UNHCR, the Global Peace Index; the 2023
edition also from the 2018 government response), so it is a feature but not an independent one.
Names are Walk Free's (nexus.countries FILE_NAME_OVERRIDES says which Guinea and Congo).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from features.build_context import BuildContext
from features.calendar import Calendar
from features.readers import FILE, ROW, iso3_from_names, read_table, sheet_names, to_number
from features.registry import Column, Download, register_source
from nexus.errors import SourceDataError


@dataclass(frozen=True)
class Edition:
    """Where one edition's numbers are and what unit its prevalence is published in."""

    sheet: str
    prevalence: str
    prevalence_unit: str  # "percent" or "per 1,000": what the workbook publishes
    vulnerability: str
    response: str
    header_row: int = 2


PER_1K = {"percent": 10.0, "per 1,000": 1.0}  # published unit → factor to per 1,000
UNIT_WORDS = {"percent": ("proportion", "%"), "per 1,000": ("1,000",)}  # a header must name its unit
EDITIONS = {
    2016: Edition("GLOBAL DATA 2016 GSI", "ESTIMATED PROPORTION OF POPULATION IN MODERN SLAVERY", "percent",
                  "Mean Vulnerability", "Total score (AA - AC)"),
    2018: Edition("Global prev, vuln, govt table",
                  "Est. prevalence of population in modern slavery (victims per 1,000 population)", "per 1,000",
                  "Final overall (normalised, weighted) vulnerability score", "TOTAL"),
    2023: Edition("GSI 2023 summary data", "Estimated prevalence of modern slavery per 1,000 population", "per 1,000",
                  "Total Vulnerability score (%)", "Government response total (%)"),
}
CALENDAR = Calendar(lag_years=0, max_age_years=5, editions={
    2016: "2016-05-31",  # GSI 2016 launched 31 May 2016
    2018: "2018-07-19",  # GSI 2018 launched 19 July 2018
    2023: "2023-05-24",  # GSI 2023 launched 24 May 2023
})
COLUMNS = {"prevalence": "gsi_prevalence_per_1k", "vulnerability": "gsi_vulnerability",
           "response": "gsi_government_response"}
SHA256 = {2016: "22e7013fc5af72025ef0a70477a63b88c37afc86d2f6856292518d529ccc256d",
          2018: "4b6cd6b44a3c5ba21c872504b319ae2f8ee2dfbf3b40c5533b12095bbdf5b2e4",
          2023: "9670d7d4605129010078666c889e666786cdda24535df145f5e4d88026634aa5"}
YEAR = re.compile(r"(20\d\d)")


@register_source(
    name="global_slavery_index",
    family="governance",
    publisher="Walk Free (Minderoo Foundation), Global Slavery Index",
    raw_globs={"workbooks": "walkfree_gsi/slavery_*.xlsx"},
    downloads=tuple(
        Download(f"walkfree_gsi/slavery_{year}.xlsx", "Walk Free (copy in github.com/Jaina007/slavery_capstone)",
                 "https://raw.githubusercontent.com/Jaina007/slavery_capstone/"
                 f"a87674b8818102e08185b901afe0148c5349988c/Datasets/slavery_{year}.xlsx", sha, pinned=True)
        for year, sha in SHA256.items()),
    columns={
        "gsi_vulnerability": Column(0, 100, "score 0–100", "vulnerability to modern slavery, higher = more"),
        "gsi_government_response": Column(-10, 100, "score, % of the maximum",
                                          "government response to modern slavery, higher = stronger"),
        "gsi_prevalence_per_1k": Column(0, 200, "per 1,000 population", "estimated prevalence of modern slavery"),
    },
    calendar=CALENDAR,
    lineage=("tier_placements", "governance_indicators", "wef_eos", "freedom_house", "eiu_country_ratings",
             "unhcr_refugees", "global_peace_index"),
    label_construct=("gsi_government_response", "gsi_prevalence_per_1k"),
)
def build(files: Mapping[str, list[Path]], context: BuildContext) -> pd.DataFrame:
    frames = [read_edition(path, edition_year(path)) for path in files["workbooks"]]
    return pd.concat(frames, ignore_index=True)


def edition_year(path: Path) -> int:
    """The edition a workbook holds, from its name (slavery_2018.xlsx); only declared editions are read."""
    found = YEAR.findall(Path(path).stem)
    if len(found) != 1 or int(found[0]) not in EDITIONS:
        raise SourceDataError(path, None, "cannot tell the Global Slavery Index edition from the file name; "
                              f"expected slavery_<year>.xlsx with year one of {', '.join(map(str, EDITIONS))}")
    return int(found[0])


def read_edition(path: Path, year: int) -> pd.DataFrame:
    """One edition's country rows: vulnerability, government response, prevalence per 1,000."""
    edition = EDITIONS[year]
    sheets = sheet_names(path)
    if edition.sheet not in sheets:
        raise SourceDataError(path, None, f"GSI {year} edition: no sheet {edition.sheet!r} "
                              f"(found: {', '.join(repr(s) for s in sheets) or 'none'})")
    wanted = {"prevalence": edition.prevalence, "vulnerability": edition.vulnerability, "response": edition.response}
    raw = read_table(path, required=["Country", *wanted.values()], sheet=edition.sheet, header_row=edition.header_row)
    header = edition.prevalence.casefold()
    if not any(word in header for word in UNIT_WORDS[edition.prevalence_unit]):
        raise SourceDataError(path, edition.header_row, f"GSI {year}: prevalence header {edition.prevalence!r} "
                              f"does not name the declared unit ({edition.prevalence_unit})")
    raw = raw[raw["Country"].astype("string").str.strip().fillna("") != ""]
    frame = pd.DataFrame({"iso3": iso3_from_names(raw, "Country"), "year": year, ROW: raw[ROW], FILE: raw[FILE]})
    for key, column in wanted.items():
        frame[COLUMNS[key]] = to_number(raw, column)
    frame["gsi_prevalence_per_1k"] *= PER_1K[edition.prevalence_unit]
    return frame[frame["iso3"].notna()].reset_index(drop=True)
