"""The hand-written DuckDB queries nexus is measured against: same aggregates, no checks.

Written the way an analyst would write them against the same files: one query, every
definition spelled out in SQL (see features/sources/procurement_signals.py for the
definitions), no schema checks, no bad-row counts, no country mapping (results stay keyed
by the country name in the file; the harness maps names to ISO3 before comparing).
"""

from __future__ import annotations

MIN = 5

BIDS_SQL = """
WITH cy AS (
  SELECT buyer_country, year(tender_start) AS year,
    count(*) FILTER (p) AS processes,
    count(*) FILTER (p AND comp AND number_of_tenderers IS NOT NULL) AS single_n,
    count(*) FILTER (p AND comp AND number_of_tenderers = 1) AS single_k,
    count(*) FILTER (p AND tender_end IS NOT NULL) AS short_n,
    count(*) FILTER (p AND short) AS short_k,
    coalesce(sum(v) FILTER (p AND comp AND number_of_tenderers IS NOT NULL), 0) AS single_vn,
    coalesce(sum(v) FILTER (p AND comp AND number_of_tenderers = 1), 0) AS single_vk,
    coalesce(sum(v) FILTER (p AND tender_end IS NOT NULL), 0) AS short_vn,
    coalesce(sum(v) FILTER (p AND short), 0) AS short_vk,
    count(*) FILTER (tender_status IS DISTINCT FROM 'cancelled' AND bid_status NOT IN ('invited', 'withdrawn')) AS bids
  FROM (SELECT *, bid_index = 0 AND tender_status IS DISTINCT FROM 'cancelled' AS p,
               procurement_method IN ('open', 'selective') AS comp,
               epoch_ms(tender_end) - epoch_ms(tender_start) < 15 * 86400000 AS short,
               CASE WHEN award_status = 'active' OR award_status IS NULL THEN coalesce(award_amount, 0) ELSE 0 END AS v
        FROM read_parquet('{files}'))
  GROUP BY ALL),
pairs AS (
  SELECT buyer_country, year(tender_start) AS year, buyer_id, supplier_id, count(*) AS n
  FROM read_parquet('{files}')
  WHERE bid_index = 0 AND tender_status IS DISTINCT FROM 'cancelled' AND (award_status = 'active' OR award_status IS NULL)
    AND buyer_id IS NOT NULL AND supplier_id IS NOT NULL
  GROUP BY ALL),
buyers AS (
  SELECT buyer_country, year, buyer_id, sum(n) AS nb, sum(n * n) AS n2, coalesce(sum(n) FILTER (n >= 2), 0) AS rep
  FROM pairs GROUP BY ALL),
conc AS (
  SELECT buyer_country, year, sum(n2::DOUBLE / nb) AS hhi_num, sum(nb) AS awards, sum(rep) AS rep
  FROM buyers GROUP BY ALL)
SELECT buyer_country, year,
  CASE WHEN single_n >= {min} THEN single_k / single_n END AS single_bid_share,
  CASE WHEN short_n >= {min} THEN short_k / short_n END AS short_period_share,
  ln(1 + processes) AS log_processes,
  CASE WHEN single_n >= {min} AND single_vn > 0 THEN single_vk / single_vn END AS single_bid_value_share,
  CASE WHEN short_n >= {min} AND short_vn > 0 THEN short_vk / short_vn END AS short_period_value_share,
  CASE WHEN processes >= {min} THEN bids / processes END AS submitted_per_process,
  CASE WHEN awards >= {min} THEN hhi_num / awards END AS buyer_winner_hhi,
  CASE WHEN awards >= {min} THEN rep / awards END AS repeat_winner_share
FROM cy LEFT JOIN conc USING (buyer_country, year)
ORDER BY buyer_country, year
"""

OCDS_COLUMNS = {
    "ocid": "VARCHAR",
    "parties": "STRUCT(roles VARCHAR[], address STRUCT(countryName VARCHAR))[]",
    "tender": "STRUCT(status VARCHAR, procurementMethod VARCHAR, numberOfTenderers BIGINT, "
              "tenderPeriod STRUCT(startDate VARCHAR, endDate VARCHAR))",
    "bids": "STRUCT(details STRUCT(status VARCHAR)[])",
}

OCDS_SQL = """
WITH r AS (
  SELECT list_filter(parties, lambda x: list_contains(x.roles, 'buyer'))[1].address.countryName AS buyer_country,
    TRY_CAST(substr(tender.tenderPeriod.startDate, 1, 4) AS INTEGER) AS year,
    tender.procurementMethod IN ('open', 'selective') AS comp,
    coalesce(tender.numberOfTenderers,
             len(list_filter(bids.details, lambda b: b.status IS NOT NULL AND b.status NOT IN ('invited', 'withdrawn'))))
      AS bidders,
    TRY_CAST(tender.tenderPeriod.startDate AS TIMESTAMPTZ) AS s, TRY_CAST(tender.tenderPeriod.endDate AS TIMESTAMPTZ) AS e
  FROM read_json('{file}', format = 'newline_delimited', columns = {columns})
  WHERE ocid IS NOT NULL AND tender.status IS DISTINCT FROM 'cancelled')
SELECT buyer_country, year, count(*) AS processes,
  CASE WHEN count(*) FILTER (comp AND bidders IS NOT NULL) >= {min}
       THEN count(*) FILTER (comp AND bidders = 1) / count(*) FILTER (comp AND bidders IS NOT NULL) END
    AS single_bid_share,
  CASE WHEN count(*) FILTER (s IS NOT NULL AND e IS NOT NULL) >= {min}
       THEN count(*) FILTER (epoch(e) - epoch(s) < 15 * 86400) / count(*) FILTER (s IS NOT NULL AND e IS NOT NULL) END
    AS short_period_share
FROM r WHERE year IS NOT NULL GROUP BY ALL ORDER BY buyer_country, year
"""


def bids_query(folder: str) -> str:
    return BIDS_SQL.format(files=f"{folder}/**/*.parquet", min=MIN)


def ocds_query(path: str) -> str:
    columns = "{" + ", ".join(f"'{k}': '{v}'" for k, v in OCDS_COLUMNS.items()) + "}"
    return OCDS_SQL.format(file=path, columns=columns, min=MIN)
