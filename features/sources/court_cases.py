"""Trafficking court cases: prosecutions, convictions, conviction rate and case duration.

One record per case (case id, country, court, offence, filed and decided dates, outcome,
defendants), one Parquet partition per filing year. Prosecutions count in the year a case
is filed; convictions, the conviction rate (convictions among decided cases) and the
median duration (filing to decision, in days) in the year it is decided, because that is
when a court's weakness shows. Durations are combined as exact day counts per country-year,
so the median is exact however the cases are partitioned (and on Dask). Court statistics
for year y are compiled during y+1, so a year-y value is used from y+1. Read through
DuckDB one partition at a time (features/event_tables.py).
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

MIN_DECIDED = 5  # fewer decided cases in a country-year give no rate or median (too noisy)
OUTCOMES = ("convicted", "acquitted", "dismissed", "pending")
COURTS = EventTable(
    name="court_cases",
    columns={"case_id": "string", "country": "string", "filed_date": "date", "decided_date": "date",
             "outcome": "string", "defendants": "int"},
    country="country",
    date="filed_date",
    checks={"missing case id": "case_id IS NULL",
            "unknown outcome": f"outcome IS NULL OR outcome NOT IN ({', '.join(repr(o) for o in OUTCOMES)})",
            "decided before filed": "decided_date < filed_date",
            "decided case without a decision date": "outcome <> 'pending' AND decided_date IS NULL",
            "negative defendants": "defendants < 0"},
)
QUERIES = {
    "filed": """
SELECT country, year(filed_date) AS year, {checks}, count(*) FILTER ({ok})::DOUBLE AS prosecutions
FROM {src} GROUP BY ALL""",
    "decided": """
SELECT country, year(decided_date) AS year, date_diff('day', filed_date, decided_date) AS days,
  count(*)::DOUBLE AS decided, count(*) FILTER (outcome = 'convicted')::DOUBLE AS convictions
FROM {src} WHERE {ok} AND decided_date IS NOT NULL AND outcome <> 'pending' GROUP BY ALL""",
}


@register_source(
    name="court_cases",
    family="judicial",
    publisher="Court case records, trafficking in persons (synthetic world format)",
    raw_globs={"cases": "court_cases/*.parquet", "population": "wb_wdi/population.csv"},
    columns={
        "court_prosecutions_per_100k": Column(0, 1e4, "cases filed per 100,000 people",
                                              "trafficking prosecutions"),
        "court_convictions_per_100k": Column(0, 1e4, "convictions per 100,000 people",
                                             "trafficking convictions"),
        "court_conviction_rate": Column(0, 1, "share of decided cases", "convictions among decided cases"),
        "court_median_duration_days": Column(0, 1e5, "days", "median days from filing to decision"),
    },
    available_after_years=1,
)
def build(files: Mapping[str, list[Path]], context: BuildContext) -> pd.DataFrame:
    parts = scan(COURTS, files["cases"], QUERIES, context)
    population = pd.concat([read_population(p) for p in files["population"]], ignore_index=True)
    filed = parts["filed"].select(["iso3", "year", "prosecutions", *SCANNED]).to_pandas()
    decided = parts["decided"].select(["iso3", "year", "days", "decided", "convictions"]).to_pandas()
    denominators = population.rename(columns={ROW: DENOM_ROW, FILE: DENOM_FILE})
    return aggregate(filed.rename(columns=SCANNED_AS), decided,
                     denominators[["iso3", "year", "population", DENOM_ROW, DENOM_FILE]])


def median_from_counts(days: np.ndarray, counts: np.ndarray) -> float:
    """The median of a sample given as (value, count) pairs (mean of the middle two when even)."""
    order = np.argsort(days, kind="stable")
    days, cum = days[order], np.cumsum(counts[order])
    n = cum[-1]
    lo = days[np.searchsorted(cum, (n + 1) // 2)]
    hi = days[np.searchsorted(cum, n // 2 + 1)]
    return float((lo + hi) / 2)


def aggregate(filed: pd.DataFrame, decided: pd.DataFrame, population: pd.DataFrame) -> pd.DataFrame:
    """Country-year signals from partial counts (any number of rows per key); pure function."""
    keys = ["iso3", "year"]
    g = filed.groupby(keys)
    out = g[["prosecutions"]].sum().join(g[[ROW]].min()).join(g[[FILE]].first())
    if N_ROWS in filed:  # the filed cases' rows: how many, first and last, files
        out = out.join(g[[N_ROWS]].sum()).join(g[[LAST_ROW]].max()).join(g.size().rename(N_FILES))
    hist = decided.groupby([*keys, "days"], sort=True)[["decided", "convictions"]].sum().reset_index()
    by_cy = hist.groupby(keys)
    dec = by_cy[["decided", "convictions"]].sum()
    dec["median_days"] = by_cy.apply(
        lambda h: median_from_counts(h["days"].to_numpy(), h["decided"].to_numpy()),
        include_groups=False) if len(hist) else np.nan
    out = out.join(dec, how="outer").reset_index()
    out["year"], out["iso3"] = out["year"].astype(int), out["iso3"].astype("string")
    out[FILE] = out[FILE].fillna(out[FILE].dropna().iloc[0] if out[FILE].notna().any() else "court_cases")
    out[ROW] = out[ROW].fillna(0).astype(int)
    out = out.merge(population, on=keys, how="left")
    enough = out["decided"] >= MIN_DECIDED
    out["court_prosecutions_per_100k"] = out["prosecutions"].fillna(0) / out["population"] * 1e5
    out["court_convictions_per_100k"] = out["convictions"].fillna(0) / out["population"] * 1e5
    out["court_conviction_rate"] = (out["convictions"] / out["decided"]).where(enough)
    out["court_median_duration_days"] = out["median_days"].where(enough)
    recorded = [c for c in ("prosecutions", "convictions", "decided", "population", DENOM_ROW, DENOM_FILE,
                            N_ROWS, LAST_ROW, N_FILES) if c in out]
    return out[[*keys, "court_prosecutions_per_100k", "court_convictions_per_100k", "court_conviction_rate",
                "court_median_duration_days", ROW, FILE, *recorded]]


DECIDED = "cases decided that year"  # from every filing year's partition: no one row range to cite
declare("court_cases", {
    "court_prosecutions_per_100k": Aggregate("count", "cases filed", "prosecutions", "population", 1e5,
                                             per_capita=True),
    "court_convictions_per_100k": Aggregate("count", f"convictions among {DECIDED}", "convictions",
                                            "population", 1e5, per_capita=True, cited_rows=False),
    "court_conviction_rate": Aggregate("rate", f"convictions among {DECIDED}", "convictions", "decided",
                                       cited_rows=False),
    "court_median_duration_days": Aggregate("median", f"days from filing to decision of {DECIDED}", None,
                                            "decided", cited_rows=False),
})
