"""Press incidents: attacks, arrests, killings, threats and censorship of journalists.

One record per incident (id, date, country, type, journalists affected), one Parquet
partition per year. Per country-year: incidents per million people, and the share that
are severe (attacks, arrests, killings), which separates a repressive state from a noisy
press climate. Incident monitors publish a year's tally early in y+1, so a year-y value is
used from y+1. Read through DuckDB one partition at a time (features/event_tables.py).
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
    SCANNED,
    SCANNED_AS,
    Aggregate,
    declare,
)
from features.build_context import BuildContext
from features.event_tables import EventTable, scan
from features.readers import FILE, ROW
from features.registry import Column, register_source
from features.sources.population import read_population

MIN_INCIDENTS = 5  # fewer incidents in a country-year give no severe share (too noisy)
TYPES = ("attack", "arrest", "killing", "threat", "censorship", "harassment")
SEVERE = TYPES[:3]
PRESS = EventTable(
    name="press_incidents",
    columns={"incident_id": "string", "date": "date", "country": "string", "type": "string",
             "journalists": "int"},
    country="country",
    date="date",
    checks={"missing incident id": "incident_id IS NULL",
            "unknown incident type": f"type IS NULL OR type NOT IN ({', '.join(repr(t) for t in TYPES)})",
            "negative journalists": "journalists < 0"},
)
QUERIES = {
    "sums": f"""
SELECT country, year(date) AS year, {{checks}}, count(*) FILTER ({{ok}})::DOUBLE AS incidents,
  count(*) FILTER ({{ok}} AND type IN ({', '.join(repr(t) for t in SEVERE)}))::DOUBLE AS severe
FROM {{src}} GROUP BY ALL""",
}


@register_source(
    name="press_incidents",
    family="press",
    publisher="Press-freedom incident monitors (synthetic world format)",
    raw_globs={"incidents": "press_incidents/*.parquet", "population": "wb_wdi/population.csv"},
    columns={
        "press_incidents_per_million": Column(0, 1e5, "incidents per million people",
                                              "incidents against journalists"),
        "press_incidents_severe_share": Column(0, 1, "share of incidents", "attacks, arrests and killings"),
    },
    available_after_years=1,
)
def build(files: Mapping[str, list[Path]], context: BuildContext) -> pd.DataFrame:
    parts = scan(PRESS, files["incidents"], QUERIES, context)
    population = pd.concat([read_population(p) for p in files["population"]], ignore_index=True)
    sums = parts["sums"].select(["iso3", "year", "incidents", "severe", *SCANNED]).to_pandas()
    sums = sums.rename(columns=SCANNED_AS)
    denominators = population.rename(columns={ROW: DENOM_ROW, FILE: DENOM_FILE})
    return aggregate(sums, denominators[["iso3", "year", "population", DENOM_ROW, DENOM_FILE]])


def aggregate(sums: pd.DataFrame, population: pd.DataFrame) -> pd.DataFrame:
    """Country-year signals from partial counts (any number of rows per key); pure function.

    Beside them: the rows counted (how many, first and last, files) and the population row."""
    g = sums.groupby(["iso3", "year"])
    out = g[["incidents", "severe"]].sum().join(g[[ROW]].min()).join(g[[FILE]].first())
    if N_ROWS in sums:
        out = out.join(g[[N_ROWS]].sum()).join(g[[LAST_ROW]].max()).join(g.size().rename(N_FILES))
    out = out.reset_index()
    out["year"], out["iso3"] = out["year"].astype(int), out["iso3"].astype("string")
    out = out.merge(population, on=["iso3", "year"], how="left")
    out["press_incidents_per_million"] = out["incidents"] / out["population"] * 1e6
    out["press_incidents_severe_share"] = np.where(out["incidents"] >= MIN_INCIDENTS,
                                                   out["severe"] / out["incidents"].clip(lower=1), np.nan)
    recorded = [c for c in ("incidents", "severe", "population", DENOM_ROW, DENOM_FILE, N_ROWS, LAST_ROW,
                            N_FILES) if c in out]
    return out[["iso3", "year", "press_incidents_per_million", "press_incidents_severe_share", ROW, FILE,
                *recorded]]


declare("press_incidents", {
    "press_incidents_per_million": Aggregate("count", "incidents", "incidents", "population", 1e6,
                                             per_capita=True),
    "press_incidents_severe_share": Aggregate("share", "incidents", "severe", "incidents"),
})
