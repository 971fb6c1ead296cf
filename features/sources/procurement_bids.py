"""Procurement signals from a flattened bid table: one Parquet row per bid, partitioned by year.

The scale form of the same OCDS processes (what a flattening step such as Kingfisher's or
flatten-tool's produces): each row carries its process's fields (ocid, buyer, method, tender
status and period, number of tenderers, award status, value and supplier) beside the bid's
own (index in bids.details, status, amount, tenderer). A process is counted once, on its
row with bid_index 0; numberOfTenderers is the publisher's count, filled from the submitted
bids where the publisher left it out. The shares mean what the OCDS builder's mean
(procurement_signals), so on the same processes both give the same numbers, but only the
indicators a flat table can carry without regrouping by process are computed here.
Read through DuckDB one partition at a time (features/event_tables.py); a year's
processes are complete in y+1.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from features.aggregates import SCANNED, SCANNED_AS, declare
from features.build_context import BuildContext
from features.event_tables import EventTable, scan
from features.registry import register_source
from features.sources.procurement_signals import country_year_signals, signal_aggregates, signal_columns

BIDS = EventTable(
    name="procurement_bids",
    columns={"ocid": "string", "buyer_id": "string", "buyer_country": "string",
             "procurement_method": "string", "number_of_tenderers": "int", "tender_status": "string",
             "tender_start": "date", "tender_end": "date", "bid_index": "int", "bid_status": "string",
             "bid_amount": "float", "award_status": "string", "award_amount": "float",
             "supplier_id": "string"},
    country="buyer_country",
    date="tender_start",
    # only what the aggregates read is checked: a check on a column nothing uses would cost a scan of it
    checks={"negative number of tenderers": "number_of_tenderers < 0", "negative bid index": "bid_index < 0",
            "negative award amount": "award_amount < 0"},
)
# Two scans per partition, as a hand-written query would do it: the country-year sums over
# every row, then the buyer–winner pair counts over process rows. Each flag is computed once
# per row; a process counts on its bid_index 0 row, a bid once; `_ok` (every check passed)
# is the engine's.
FLAGS = """
  _ok AND bid_index = 0 AND tender_status IS DISTINCT FROM 'cancelled' AS _p,
  procurement_method IN ('open', 'selective') AND number_of_tenderers IS NOT NULL AS _single_ok,
  tender_end IS NOT NULL AS _short_ok,
  epoch_ms(tender_end) - epoch_ms(tender_start) < 15 * 86400000 AS _short,
  CASE WHEN award_status = 'active' OR award_status IS NULL THEN coalesce(award_amount, 0) ELSE 0 END AS _v"""
QUERIES = {
    "sums": f"""
SELECT buyer_country AS country, year(tender_start) AS year, {{checks}},
  count(*) FILTER (_p) AS processes,
  count(*) FILTER (_p AND _single_ok) AS single_n,
  count(*) FILTER (_p AND _single_ok AND number_of_tenderers = 1) AS single_k,
  count(*) FILTER (_p AND _short_ok) AS short_n,
  count(*) FILTER (_p AND _short) AS short_k,
  coalesce(sum(_v) FILTER (_p AND _single_ok), 0) AS single_vn,
  coalesce(sum(_v) FILTER (_p AND _single_ok AND number_of_tenderers = 1), 0) AS single_vk,
  coalesce(sum(_v) FILTER (_p AND _short_ok), 0) AS short_vn,
  coalesce(sum(_v) FILTER (_p AND _short), 0) AS short_vk,
  count(*) FILTER (_p) AS bid_n,
  count(*) FILTER (_ok AND tender_status IS DISTINCT FROM 'cancelled'
                   AND bid_status IS NOT NULL AND bid_status NOT IN ('invited', 'withdrawn')) AS bids
FROM (SELECT *, {FLAGS} FROM {{src}}) GROUP BY ALL""",
    "pairs": """
SELECT buyer_country AS country, year(tender_start) AS year, buyer_id AS buyer, supplier_id AS winner,
  count(*) AS n
FROM {src}
WHERE _ok AND bid_index = 0 AND tender_status IS DISTINCT FROM 'cancelled'
  AND (award_status = 'active' OR award_status IS NULL) AND buyer_id IS NOT NULL AND supplier_id IS NOT NULL
GROUP BY ALL""",
}


@register_source(
    name="procurement_bids",
    family="procurement",
    publisher="OCDS publishers, flattened to one row per bid (synthetic world at scale)",
    raw_globs={"bids": "procurement_bids/**/*.parquet"},
    columns=signal_columns("procurement_bids"),
    available_after_years=1,
)
def build(files: Mapping[str, list[Path]], context: BuildContext) -> pd.DataFrame:
    return aggregate_bids(files["bids"], context)


def aggregate_bids(paths: list[Path], context: BuildContext) -> pd.DataFrame:
    """Country-year signals from bid-table partitions (here or on the executor)."""
    parts = scan(BIDS, paths, QUERIES, context)
    sums = parts["sums"].drop([c for c in parts["sums"].column_names if c.startswith("_") and c not in
                               SCANNED]).to_pandas()
    sums = sums.rename(columns=SCANNED_AS)
    # a country-year seen in one partition only has its pairs counted in full there already
    summed = not sums.duplicated(["iso3", "year"]).any()
    return country_year_signals(sums, parts["pairs"].drop(["country"]), "procurement_bids",
                                pairs_summed=summed)


declare("procurement_bids", signal_aggregates("procurement_bids", of="bid-table rows"))
