"""Border crossings: event-level records aggregated to country-year signals by nationality.

Each record is (date, nationality, route, count, sex, age group). Per nationality and year:
crossings per 100,000 nationals (population from the World Bank table), growth on the
previous year, the shares by sex and age (women, minors, girls, young adults), the share
of the busiest route, and the route shift: half the summed absolute change of the route
shares since the previous year (0 = same routes, 1 = all new ones), since smuggling and
trafficking networks move when routes close. A year's records are complete in early y+1,
so a year-y value is used from y+1.

Two layouts: yearly CSV files (the default world; read with pandas, first bad row stops the
build) and yearly Parquet partitions (the scale world; read through DuckDB one partition at
a time, bad partitions and rows refused or quarantined per params). Both reduce to the same
partial sums, so they give the same features.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from features.aggregates import (
    DENOM_FILE,
    DENOM_ROW,
    LAST_ROW,
    N_FILES,
    N_ROWS,
    ROW_LIST,
    ROW_VALUES,
    SCANNED,
    SCANNED_AS,
    Aggregate,
    declare,
    row_list_columns,
)
from features.build_context import BuildContext
from features.event_tables import EventTable, scan
from features.readers import FILE, ROW, iso3_from_names, read_table, to_number
from features.registry import Column, register_source
from features.sources.population import read_population
from nexus.errors import SourceDataError

SEXES = {"F", "M", "X"}
AGE_GROUPS = {"0-17", "18-34", "35-54", "55+", "unknown"}
PARTS = ("count", "female", "minor", "girl", "young")
CROSSINGS = EventTable(
    name="border_crossings",
    columns={"date": "date", "nationality": "string", "route": "string", "count": "int", "sex": "string",
             "age_group": "string"},
    country="nationality",
    date="date",
    checks={"negative count": "count < 0",
            "unknown sex": f"sex IS NULL OR sex NOT IN ({', '.join(repr(s) for s in sorted(SEXES))})",
            "unknown age group": f"age_group IS NULL OR age_group NOT IN "
                                 f"({', '.join(repr(a) for a in sorted(AGE_GROUPS))})"},
)
QUERIES = {
    "sums": """
SELECT nationality AS country, year(date) AS year, {checks},
  coalesce(sum(count) FILTER ({ok}), 0)::DOUBLE AS count,
  coalesce(sum(count) FILTER ({ok} AND sex = 'F'), 0)::DOUBLE AS female,
  coalesce(sum(count) FILTER ({ok} AND age_group = '0-17'), 0)::DOUBLE AS minor,
  coalesce(sum(count) FILTER ({ok} AND sex = 'F' AND age_group = '0-17'), 0)::DOUBLE AS girl,
  coalesce(sum(count) FILTER ({ok} AND age_group = '18-34'), 0)::DOUBLE AS young
FROM {src} GROUP BY ALL""",
    "routes": """
SELECT nationality AS country, year(date) AS year, coalesce(route, '') AS route, sum(count)::DOUBLE AS count
FROM {src} WHERE {ok} GROUP BY ALL""",
}


@register_source(
    name="border_crossings",
    family="border",
    publisher="Border agency event records (synthetic world format)",
    raw_globs={"events": "border_crossings/*.csv", "partitions": "border_crossings/*.parquet",
               "population": "wb_wdi/population.csv"},
    optional_roles=("events", "partitions"),
    columns={
        "crossings_per_100k": Column(0, 1e6, "crossings per 100,000 nationals",
                                     "recorded crossings per capita"),
        "crossings_growth": Column(-10, 10, "log ratio to previous year", "growth of crossings"),
        "crossings_share_female": Column(0, 1, "share", "share of crossings by women"),
        "crossings_share_minors": Column(0, 1, "share", "share of crossings by minors (0–17)"),
        "crossings_share_girls": Column(0, 1, "share", "share of crossings by girls (female, 0–17)"),
        "crossings_share_young_adults": Column(0, 1, "share", "share of crossings by 18–34-year-olds"),
        "crossings_main_route_share": Column(0, 1, "share", "share of the year's busiest route"),
        "crossings_route_shift": Column(0, 1, "total variation distance",
                                        "change of route shares on the year before"),
    },
    available_after_years=1,
)
def build(files: Mapping[str, list[Path]], context: BuildContext) -> pd.DataFrame:
    population = pd.concat([read_population(p) for p in files["population"]], ignore_index=True)
    csv, parquet = files.get("events", []), files.get("partitions", [])
    if not csv and not parquet:
        raise SourceDataError("border_crossings/", None, "no event file (*.csv or *.parquet)")
    sums, routes = [], []
    if csv:
        events = pd.concat([read_events(p) for p in csv], ignore_index=True)
        s, r = partial_sums(events)
        sums.append(s)
        routes.append(r)
    if parquet:
        parts = scan(CROSSINGS, parquet, QUERIES, context)
        sums.append(parts["sums"].select(["iso3", "year", *PARTS, *SCANNED]).to_pandas()
                    .rename(columns=SCANNED_AS).assign(**{N_FILES: 1}))
        routes.append(parts["routes"].select(["iso3", "year", "route", "count"]).to_pandas())
    denominators = population.rename(columns={ROW: DENOM_ROW, FILE: DENOM_FILE})
    return aggregate(pd.concat(sums, ignore_index=True), pd.concat(routes, ignore_index=True),
                     denominators[["iso3", "year", "population", DENOM_ROW, DENOM_FILE]])


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
        raise SourceDataError(path, int(raw[ROW].iat[i]),
                              f"count: {raw['count'].iat[i]!r} is not a whole number ≥ 0")
    female, minor = (raw["sex"] == "F").to_numpy(), (raw["age_group"] == "0-17").to_numpy()
    return pd.DataFrame({"iso3": iso3_from_names(raw, "nationality"), "year": dates.dt.year,
                         "route": raw["route"], "count": count, "female": np.where(female, count, 0.0),
                         "minor": np.where(minor, count, 0.0), "girl": np.where(female & minor, count, 0.0),
                         "young": np.where(raw["age_group"] == "18-34", count, 0.0),
                         ROW: raw[ROW], FILE: raw[FILE]})


def partial_sums(events: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Event records → sums per (iso3, year), with the rows each is made of, and per (iso3, year, route)."""
    g = events.groupby(["iso3", "year"], sort=False)
    rows = row_list_columns(events, ["iso3", "year"], ROW, "count", FILE)
    sums = g[list(PARTS)].sum().join(g[[ROW]].min()).join(g[[FILE]].first()).join(rows).reset_index()
    routes = events.groupby(["iso3", "year", "route"], sort=False)["count"].sum().reset_index()
    return sums, routes


def aggregate(sums: pd.DataFrame, routes: pd.DataFrame, population: pd.DataFrame) -> pd.DataFrame:
    """Country-year signals from partial sums (any number of rows per key); pure function.

    Beside the signals: the rows each was made of (count, first and last row, files; every
    row's number when one part holds the key) and the population row divided by.
    """
    g = sums.groupby(["iso3", "year"], sort=True)
    out = g[list(PARTS)].sum().join(g[[ROW]].min()).join(g[[FILE]].first())
    if N_ROWS in sums:
        out = out.join(g[[N_ROWS, N_FILES]].sum()).join(g[[LAST_ROW]].max())
    if ROW_LIST in sums and not sums.duplicated(["iso3", "year"]).any():  # one part per key: its rows are all
        out = out.join(sums.set_index(["iso3", "year"])[[ROW_LIST, ROW_VALUES]])
    out = out.reset_index()
    out["year"], out["iso3"] = out["year"].astype(int), out["iso3"].astype("string")
    out = out.merge(population, on=["iso3", "year"], how="left")
    out["crossings_per_100k"] = out["count"] / out["population"] * 1e5
    total = out["count"].where(out["count"] > 0)
    for part, column in (("female", "crossings_share_female"), ("minor", "crossings_share_minors"),
                         ("girl", "crossings_share_girls"), ("young", "crossings_share_young_adults")):
        out[column] = out[part] / total
    prev = out[["iso3", "year", "count"]].assign(year=out["year"] + 1).rename(columns={"count": "prev"})
    out = out.merge(prev, on=["iso3", "year"], how="left")
    out["crossings_growth"] = np.log((out["count"] + 1) / (out["prev"] + 1))
    out = out.merge(route_signals(routes), on=["iso3", "year"], how="left")
    out["iso3"] = out["iso3"].astype("string")
    recorded = [c for c in (*PARTS, "population", "prev", DENOM_ROW, DENOM_FILE, N_ROWS, LAST_ROW, N_FILES,
                            ROW_LIST, ROW_VALUES) if c in out]
    return out[["iso3", "year", "crossings_per_100k", "crossings_growth", "crossings_share_female",
                "crossings_share_minors", "crossings_share_girls", "crossings_share_young_adults",
                "crossings_main_route_share", "crossings_route_shift", ROW, FILE, *recorded]]


def route_signals(routes: pd.DataFrame) -> pd.DataFrame:
    """Busiest route's share and the route shift (total variation distance to year − 1)."""
    counts = routes.groupby(["iso3", "year", "route"])["count"].sum().unstack("route", fill_value=0.0)
    total = counts.sum(axis=1)
    shares = counts.div(total.where(total > 0), axis=0)
    out = pd.DataFrame({"crossings_main_route_share": shares.max(axis=1)})
    before = shares.copy()
    before.index = pd.MultiIndex.from_arrays([before.index.get_level_values(0),
                                              before.index.get_level_values(1) + 1], names=["iso3", "year"])
    aligned = before.reindex(shares.index)
    shift = 0.5 * (shares - aligned).abs().sum(axis=1, min_count=1)
    out["crossings_route_shift"] = shift.where(aligned.notna().any(axis=1)).clip(0, 1)
    out = out.reset_index()
    out["year"] = out["year"].astype(int)
    return out


declare("border_crossings", {
    "crossings_per_100k": Aggregate("sum", "count", "count", "population", 1e5, per_capita=True),
    "crossings_growth": Aggregate("log growth on the year before of the sum", "count", "count", "prev"),
    "crossings_share_female": Aggregate("share", "count", "female", "count"),
    "crossings_share_minors": Aggregate("share", "count", "minor", "count"),
    "crossings_share_girls": Aggregate("share", "count", "girl", "count"),
    "crossings_share_young_adults": Aggregate("share", "count", "young", "count"),
    "crossings_main_route_share": Aggregate("busiest route's share", "count"),
    "crossings_route_shift": Aggregate("route shift on the year before", "count"),
})
