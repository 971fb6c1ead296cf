"""Border crossings: event-level records aggregated to country-year signals by nationality.

Each record is (date, nationality, route, count, sex, age group). Per nationality and year:
crossings per 100,000 nationals (population from the World Bank table), growth on the
previous year, and the shares of women and of minors. A year's records are complete in
early y+1, so a year-y value is used from y+1.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from features.readers import FILE, ROW, iso3_from_names, read_table, to_number
from features.registry import Column, register_source
from features.sources.population import read_population
from nexus.errors import SourceDataError

SEXES = {"F", "M", "X"}
AGE_GROUPS = {"0-17", "18-34", "35-54", "55+", "unknown"}


@register_source(
    name="border_crossings",
    family="border",
    publisher="Border agency event records (synthetic world format)",
    raw_globs={"events": "border_crossings/*.csv", "population": "wb_wdi/population.csv"},
    columns={
        "crossings_per_100k": Column(0, 1e6, "crossings per 100,000 nationals", "recorded crossings per capita"),
        "crossings_growth": Column(-10, 10, "log ratio to previous year", "growth of crossings"),
        "crossings_share_female": Column(0, 1, "share", "share of crossings by women"),
        "crossings_share_minors": Column(0, 1, "share", "share of crossings by minors (0–17)"),
    },
    available_after_years=1,
)
def build(files: Mapping[str, list[Path]]) -> pd.DataFrame:
    events = pd.concat([read_events(p) for p in files["events"]], ignore_index=True)
    population = pd.concat([read_population(p) for p in files["population"]], ignore_index=True)
    return aggregate(events, population[["iso3", "year", "population"]])


def read_events(path: Path) -> pd.DataFrame:
    raw = read_table(path, required=["date", "nationality", "route", "count", "sex", "age_group"])
    dates = pd.to_datetime(raw["date"], format="%Y-%m-%d", errors="coerce")
    if dates.isna().any():
        i = int(np.flatnonzero(dates.isna().to_numpy())[0])
        raise SourceDataError(path, int(raw[ROW].iat[i]), f"date: {raw['date'].iat[i]!r} is not YYYY-MM-DD")
    count = to_number(raw, "count")
    bad = ~(count >= 0) | (count % 1 != 0)
    for column, allowed in (("sex", SEXES), ("age_group", AGE_GROUPS)):
        bad_cat = ~raw[column].isin(allowed)
        if bad_cat.any():
            i = int(np.flatnonzero(bad_cat.to_numpy())[0])
            raise SourceDataError(path, int(raw[ROW].iat[i]),
                                  f"{column}: {raw[column].iat[i]!r} is not one of {sorted(allowed)}")
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise SourceDataError(path, int(raw[ROW].iat[i]), f"count: {raw['count'].iat[i]!r} is not a whole number ≥ 0")
    return pd.DataFrame({"iso3": iso3_from_names(raw, "nationality"), "year": dates.dt.year,
                         "count": count, "female": np.where(raw["sex"] == "F", count, 0.0),
                         "minor": np.where(raw["age_group"] == "0-17", count, 0.0),
                         ROW: raw[ROW], FILE: raw[FILE]})


def aggregate(events: pd.DataFrame, population: pd.DataFrame) -> pd.DataFrame:
    """Country-year signals from event records; pure function of its two inputs."""
    g = events.groupby(["iso3", "year"], sort=True)
    out = g[["count", "female", "minor"]].sum()
    out[ROW] = g[ROW].min()
    out[FILE] = g[FILE].first()
    out = out.reset_index().merge(population, on=["iso3", "year"], how="left")
    out["crossings_per_100k"] = out["count"] / out["population"] * 1e5
    total = out["count"].where(out["count"] > 0)
    out["crossings_share_female"] = out["female"] / total
    out["crossings_share_minors"] = out["minor"] / total
    prev = out[["iso3", "year", "count"]].assign(year=out["year"] + 1).rename(columns={"count": "prev"})
    out = out.merge(prev, on=["iso3", "year"], how="left")
    out["crossings_growth"] = np.log((out["count"] + 1) / (out["prev"] + 1))
    return out[["iso3", "year", "crossings_per_100k", "crossings_growth", "crossings_share_female",
                "crossings_share_minors", ROW, FILE]]
