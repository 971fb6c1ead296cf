"""UNHCR refugees and asylum-seekers, by country of origin and by country of asylum (yearly stocks).

Two files (SOURCES.md 13.4), sums of UNHCR's origin × asylum table over the other country. Per
country and year, refugees plus asylum-seekers (`oip`, other people in need of international
protection, is left out: it starts in 2018 and would be a break): per 1,000 residents (WDI
population; a year WDI has not published yet divides by the latest population at most two years
older) and as growth, the log ratio of (stock + 1) to the year before's (missing when the year
before has no row). A border/mobility signal that, unlike tourism arrivals, does not stop in 2016.

UNHCR pseudo-codes name no country and are dropped with their count (recorded in the build's
quality report): `UNK` unknown, `XXA` stateless (which would otherwise read as an ISO
user-assigned code), `TIB` Tibetan. UNHCR's `SRB` includes Kosovo (UNSC resolution 1244), so
Serbia's rows are divided by the population of Serbia and Kosovo together and Kosovo (XKX) has
no row here. A year's stock appears in UNHCR's Global Trends in June of the next year (public
from y + 1); the latest year is provisional and revised later. UNHCR builds it from government
and UNHCR registration data, not from any index.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from features.build_context import BuildContext, PartitionReport
from features.readers import FILE, ROW, iso3_from_codes, read_table, to_number, to_year
from features.registry import Column, Download, register_source
from features.sources._worldbank import CLASS_GLOB
from features.sources.population import population_table

PSEUDO_CODES = {"UNK": "unknown", "XXA": "stateless", "TIB": "Tibetan"}
SIDES = {"origin": "coo_iso", "asylum": "coa_iso"}  # role → the file's country column
STOCKS = ("refugees", "asylum_seekers")
POPULATION_CARRY_YEARS = 2  # a year without WDI population yet divides by one at most this much older
KOSOVO_IN = {"XKX": "SRB"}  # UNHCR counts Kosovo inside Serbia
FILES = {
    "origin": "unhcr_refugees/refugees_asylum_by_origin_year_derived.csv",
    "asylum": "unhcr_refugees/refugees_asylum_by_asylum_country_year_derived.csv",
}
SHA256 = {"origin": "5711e4c387b72055fa58f2f3cd03eb9cb7c87b384ab319a5dffe619b684f24b2",
          "asylum": "cf280ac82d8d42d5af475fc19aedbb404026b24b9467bd62ea2765396d47bd84"}
WHO = {"origin": "from the country (by origin)", "asylum": "hosted by the country (by asylum country)"}


def _download(side: str) -> Download:
    return Download(
        FILES[side], "UNHCR (Refugee Data Finder, R package refugees 2025.12.1)", None, SHA256[side],
        header=("year", SIDES[side], "refugees", "asylum_seekers"),
        by_hand="a sum of UNHCR's data/population.rda (SOURCES.md 13.4), not a download: copy it from the "
        "shared data folder, or sum github.com/PopulationStatistics/refugees data/population.rda (commit "
        "8239ce0) over the other country; the Refugee Data Finder (unhcr.org/refugee-statistics) serves the same")


@register_source(
    name="unhcr_refugees",
    family="border",
    publisher="UNHCR, Refugee Data Finder (Global Trends), refugees and asylum-seekers",
    raw_globs={**FILES, "population": "wb_wdi/population.csv", "classification": CLASS_GLOB},
    optional_roles=("classification",),
    downloads=(_download("origin"), _download("asylum")),
    columns={
        **{f"unhcr_{side}_per_1k": Column(0, 1000, "per 1,000 residents", f"refugees and asylum-seekers {WHO[side]}")
           for side in SIDES},
        **{f"unhcr_{side}_growth": Column(-20, 20, "log ratio to previous year",
                                          f"growth of refugees and asylum-seekers {WHO[side]}") for side in SIDES},
    },
    available_after_years=1,
)
def build(files: Mapping[str, list[Path]], context: BuildContext) -> pd.DataFrame:
    population = population_table({"table": files["population"], "classification": files.get("classification", [])})
    frames = [signals(read_side(path, side, context), side, population) for side in SIDES for path in files[side]]
    out = frames[0]
    for frame in frames[1:]:  # a country-year in one file only keeps that file's row
        out = out.merge(frame, on=["iso3", "year"], how="outer", suffixes=("", "_other"))
        for c in (ROW, FILE):
            out[c] = out[c].where(out[c].notna(), out.pop(f"{c}_other"))
    return out


def read_side(path: Path, side: str, context: BuildContext) -> pd.DataFrame:
    """(iso3, year, stock) of one file; pseudo-code rows dropped and counted in the quality report."""
    column = SIDES[side]
    raw = read_table(path, required=["year", column, *STOCKS])
    iso3 = iso3_from_codes(raw, column, aggregates=PSEUDO_CODES)
    codes = raw[column].str.strip().str.upper()
    report = PartitionReport(str(path), rows=len(raw), kept=int(iso3.notna().sum()))
    for code, what in PSEUDO_CODES.items():
        dropped = codes == code
        if dropped.any():
            report.add(f"UNHCR pseudo-code {code} ({what}) dropped", int(dropped.sum()),
                       int(raw.loc[dropped, ROW].min()), note=True)
    context.record_reports(f"unhcr_refugees_{side}", [report])
    frame = pd.DataFrame({"iso3": iso3, "year": to_year(raw, "year"),
                          "stock": sum(to_number(raw, c) for c in STOCKS), ROW: raw[ROW], FILE: raw[FILE]})
    return frame[frame["iso3"].notna()].reset_index(drop=True)


def signals(stocks: pd.DataFrame, side: str, population: pd.DataFrame) -> pd.DataFrame:
    """Per 1,000 residents and growth on the year before, for one side; pure function."""
    denominator = population.assign(iso3=population["iso3"].replace(KOSOVO_IN))
    denominator = denominator.groupby(["iso3", "year"], as_index=False)["population"].sum()
    left = stocks.assign(year=stocks["year"].astype("int64")).sort_values("year", kind="stable")
    right = denominator.assign(year=denominator["year"].astype("int64"), _pop_year=denominator["year"])
    merged = pd.merge_asof(left, right.sort_values("year", kind="stable"), on="year", by="iso3",
                           direction="backward", tolerance=POPULATION_CARRY_YEARS)
    merged = merged.sort_values(["iso3", "year"], kind="stable").reset_index(drop=True)
    merged[f"unhcr_{side}_per_1k"] = merged["stock"] / merged["population"] * 1e3
    before = merged[["iso3", "year", "stock"]].assign(year=merged["year"] + 1).rename(columns={"stock": "_before"})
    merged = merged.merge(before, on=["iso3", "year"], how="left")
    merged[f"unhcr_{side}_growth"] = np.log((merged["stock"] + 1) / (merged["_before"] + 1))
    merged["iso3"] = merged["iso3"].astype("string")
    return merged[["iso3", "year", f"unhcr_{side}_per_1k", f"unhcr_{side}_growth", ROW, FILE]]
