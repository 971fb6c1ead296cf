"""The SQL of the columnar red-flag engine (`features.ocds.columnar`), kept apart from its driver.

Every expression mirrors a function of `features.ocds.indicators` / `features.ocds.reader`
(named beside it); leaves are read as JSON and kept only when they have the JSON type the
Python reads (`jstr`, `jnum`, `jint`), so a numeric id or a string amount is ignored here as
it is there.
"""

from __future__ import annotations

from collections.abc import Sequence

from features.ocds.indicators import RedFlagSettings

_ID = '[{"id": "JSON"}]'
_VALUE = '{"amount": "JSON", "currency": "JSON"}'
STRUCTURE = ('{"ocid": "JSON", "date": "JSON", '
             '"buyer": {"id": "JSON", "address": {"countryName": "JSON"}}, '
             '"parties": [{"id": "JSON", "roles": ["JSON"], "address": {"countryName": "JSON"}}], '
             '"tender": {"status": "JSON", "procurementMethod": "JSON", "procurementMethodDetails": "JSON", '
             '"numberOfTenderers": "JSON", "tenderPeriod": {"startDate": "JSON", "endDate": "JSON"}, '
             '"contractPeriod": {"startDate": "JSON"}, "procuringEntity": {"id": "JSON"}, '
             f'"tenderers": {_ID}}}, '
             f'"bids": {{"details": [{{"status": "JSON", "date": "JSON", "tenderers": {_ID}, "value": {_VALUE}}}]}}, '
             f'"awards": [{{"status": "JSON", "value": {_VALUE}, "suppliers": {_ID}, '
             '"items": [{"classification": {"id": "JSON"}}]}]}')

MACROS = r"""
CREATE OR REPLACE MACRO jstr(x) AS CASE WHEN starts_with(x, '"') THEN
  CASE WHEN contains(x, '\') THEN json_extract_string(x, '$') ELSE x[2:-2] END END;
CREATE OR REPLACE MACRO jnum(x) AS CASE WHEN ascii(x) BETWEEN 48 AND 57 OR ascii(x) = 45 THEN TRY_CAST(x AS DOUBLE) END;
CREATE OR REPLACE MACRO jint(x) AS CASE WHEN (ascii(x) BETWEEN 48 AND 57 OR ascii(x) = 45)
  AND NOT regexp_matches(x, '[.eE]') THEN TRY_CAST(x AS BIGINT) END;
CREATE OR REPLACE MACRO txt(x) AS nullif(trim(x, E' \t\n\r\x0b\x0c'), '');
CREATE OR REPLACE MACRO ids(l) AS list_filter(list_transform(l, lambda e: jstr(e.id)), lambda i: i IS NOT NULL);
CREATE OR REPLACE MACRO sole(l) AS CASE WHEN len(l) = 1 THEN jstr(l[1].id) END;
CREATE OR REPLACE MACRO yr(x) AS nullif(TRY_CAST(regexp_extract(x, '^(\d{4})-', 1) AS INTEGER), 0);
CREATE OR REPLACE MACRO instant(x) AS CASE WHEN regexp_full_match(x,
  '\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})') THEN TRY_CAST(upper(x) AS TIMESTAMPTZ) END;
"""


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _in(expr: str, values) -> str:
    """`expr IN (...)`, false for an empty set."""
    return f"({expr} IN ({', '.join(map(_literal, sorted(values)))}))" if values else "false"


def _remap(expr: str, mapping) -> str:
    if not mapping:
        return expr
    cases = " ".join(f"WHEN {_literal(k)} THEN {_literal(v)}" for k, v in sorted(mapping.items()))
    return f"(CASE {expr} {cases} ELSE {expr} END)"


_COUNTRY_NAMES = "regexp_extract_all(text, '\"countryName\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"', 1)"


def stage_sql(file_id: int, country: str | None, blank_filter: str, excluded: Sequence[int]) -> str:
    """Parse a chunk's lines (`chunk(no, text)`) into `stage(no, file_id, key, r)`. The key is the fence
    bucket: the publisher's country, else the one distinct `countryName` of the raw line, as flags.py."""
    key = (_literal(country) if country else
           f"list_transform([list_distinct({_COUNTRY_NAMES})], lambda k: CASE WHEN len(k) = 1 THEN k[1] ELSE '' END)[1]")
    skip = f" AND no NOT IN ({', '.join(map(str, excluded))})" if excluded else ""
    return (f"CREATE OR REPLACE TEMP TABLE stage AS SELECT no, {file_id} AS file_id, {key} AS key, "
            f"json_transform(text, '{STRUCTURE}') AS r FROM chunk WHERE {blank_filter}{skip}")


def normalise_sql(s: RedFlagSettings, country: str | None, publisher_index: int) -> list[str]:
    """Pass 1 over `stage(no, file_id, key, r)`: statements leaving one row per process in `rel_chunk`
    (facts, per-process flags and the lists the file-wide indicators need). Bids and awards are
    flattened to one row each and aggregated per process: list lambdas cost far more. `country`
    is the publisher's declared country (national systems)."""
    bid_status, award_status = _remap("jstr(b.status)", s.bid_status_map), _remap("jstr(a.status)", s.award_status_map)
    r003_days = (f"coalesce(map_extract(MAP {{{', '.join(f'{_literal(k)}: {v}' for k, v in s.r003_procurement_method_details.items())}}}, details)[1], {s.r003_threshold})"
                 if s.r003_procurement_method_details else str(s.r003_threshold))
    compares = (_in("details", s.price_comparison_procurement_methods) if s.price_comparison_procurement_methods
                else f"(details IS NULL OR NOT {_in('details', s.no_price_comparison_procurement_methods)})")
    competitive = _in("method_text", s.r018_procurement_methods) if s.r018_procurement_methods else "true"
    r018 = _in("method", s.r018_procurement_methods) if s.r018_procurement_methods else "true"
    r003_method = _in("method", s.r003_procurement_methods) if s.r003_procurement_methods else "true"
    excluded = _in("details", s.excluded_procurement_method_details)
    process = f"""
CREATE OR REPLACE TEMP TABLE sp AS
WITH a AS (
  SELECT no, file_id, jstr(r.ocid) AS ocid, r.tender AS t, r.buyer AS buyer, jstr(r.date) AS rdate,
    r.bids.details IS NOT NULL AS has_bids, r.awards IS NOT NULL AS has_awards, key,
    list_filter(r.parties, lambda p: regexp_matches(array_to_string(p.roles, ','), '"\\s*buyer\\s*"')
                OR (txt(jstr(r.buyer.id)) IS NOT NULL AND txt(jstr(p.id)) = txt(jstr(r.buyer.id))))[1] AS party
  FROM stage),
b AS (
  SELECT *, jstr(t.status) AS tstatus, jstr(t.procurementMethod) AS method, txt(jstr(t.procurementMethod)) AS method_text,
    jstr(t.procurementMethodDetails) AS details, jint(t.numberOfTenderers) AS n_int,
    instant(jstr(t.tenderPeriod.startDate)) AS ps, instant(jstr(t.tenderPeriod.endDate)) AS pe,
    txt(jstr(buyer.id)) AS buyer_text
  FROM a)
SELECT no, file_id, ocid, key, has_bids, has_awards, jstr(t.tenderPeriod.endDate) AS deadline,
  {compares} AS compares,
  coalesce(tstatus = 'cancelled', false) OR coalesce({excluded}, false) AS excluded,
  coalesce(buyer_text, txt(jstr(party.id))) AS buyer_id,
  {_literal(country) if country else "coalesce(coalesce(txt(jstr(party.address.countryName)), txt(jstr(buyer.address.countryName))), '')"} AS country,
  coalesce(yr(jstr(t.tenderPeriod.startDate)), yr(jstr(t.contractPeriod.startDate)), yr(rdate)) AS year,
  CASE WHEN t.tenderers IS NOT NULL THEN len(list_filter(t.tenderers, lambda e: txt(jstr(e.id)) IS NOT NULL)) END AS n_listed,
  n_int AS n_tenderers, coalesce({competitive}, false) AS competitive,
  CASE WHEN ps IS NOT NULL AND pe IS NOT NULL AND {r003_method}
       THEN trunc((epoch_us(pe) - epoch_us(ps)) / 86400000000.0) < {r003_days} END AS short,
  coalesce({r018} AND n_int = 1, false) AS r018, jstr(buyer.id) AS buyer_raw, jstr(t.procuringEntity.id) AS pe_id
FROM b"""
    bids = f"""
CREATE OR REPLACE TEMP TABLE sb AS
SELECT no, i, st, date, tids, sole, amt, cur, st IS NOT NULL AND st NOT IN ('invited', 'withdrawn') AS submitted
FROM (SELECT no, i, {bid_status} AS st, jstr(b.date) AS date, ids(b.tenderers) AS tids, sole(b.tenderers) AS sole,
        jnum(b.value.amount) AS amt, jstr(b.value.currency) AS cur
      FROM (SELECT no, unnest(r.bids.details) AS b, generate_subscripts(r.bids.details, 1) AS i FROM stage))"""
    awards = f"""
CREATE OR REPLACE TEMP TABLE sa AS
SELECT no, count(*) FILTER (st = 'active') AS n_active, arg_min(sole, i) FILTER (st = 'active') AS active_sole,
  coalesce(bool_or(st IS NOT NULL AND st NOT IN ('active', 'cancelled', 'unsuccessful')), false) AS pending,
  list_distinct(flatten(list(sids) FILTER (st = 'active'))) AS active_ids,
  list_sort(list_distinct(flatten(list(sids) FILTER (in_force)))) AS winners,
  fsum(amt) FILTER (in_force) AS award_value,
  list({{'s': sole, 'codes': codes}}) FILTER (st = 'active' AND sole IS NOT NULL AND len(codes) > 0) AS classified
FROM (SELECT no, i, {award_status} AS st, jstr(a.status) IS NULL OR txt(jstr(a.status)) IS NULL
        OR jstr(a.status) = 'active' AS in_force, jnum(a.value.amount) AS amt, ids(a.suppliers) AS sids,
        sole(a.suppliers) AS sole,
        list_filter(list_transform(a.items, lambda x: left(jstr(x.classification.id), {s.r048_digits})),
                    lambda c: c IS NOT NULL) AS codes
      FROM (SELECT no, unnest(r.awards) AS a, generate_subscripts(r.awards, 1) AS i FROM stage) WHERE a IS NOT NULL)
GROUP BY no"""
    combined = f"""
CREATE OR REPLACE TEMP TABLE rel_chunk AS
WITH pa AS (
  SELECT sp.*, coalesce(sa.n_active, 0) AS n_active, sa.active_sole, coalesce(sa.active_ids, []) AS active_ids,
    coalesce(sa.winners, []) AS winners, sa.award_value, coalesce(sa.classified, []) AS classified,
    has_bids AND has_awards AND NOT coalesce(sa.pending, false) AS final
  FROM sp LEFT JOIN sa USING (no)),
pb AS (
  SELECT *, compares AND final AND n_active = 1 AND active_sole IS NOT NULL AS elig24, compares AND n_active > 0 AS elig36
  FROM pa),
bx AS (SELECT sb.*, amt IS NOT NULL AND cur IS NOT NULL AS priced, pb.deadline, pb.active_ids FROM sb JOIN pb USING (no)),
same AS (
  SELECT no, count(DISTINCT array_to_string(list_sort(list_distinct(tids)), chr(31))) > 1 AS same_price
  FROM bx WHERE submitted AND priced AND len(tids) > 0 GROUP BY no, amt, cur),
ba AS (
  SELECT no, count(*) FILTER (submitted) AS n_sub, count(*) FILTER (submitted AND st = 'disqualified') AS n_dq,
    coalesce(bool_or(st = 'valid' AND date IS NOT NULL AND deadline IS NOT NULL AND date > deadline
                     AND len(list_intersect(tids, active_ids)) > 0), false) AS late,
    list_distinct(flatten(list(tids) FILTER (st = 'valid'))) AS valid_ids,
    list_distinct(flatten(list(tids) FILTER (st = 'disqualified'))) AS dq_ids,
    arg_min(cur, i) FILTER (st = 'valid' AND sole IS NOT NULL AND priced) AS c24,
    arg_min(cur, i) FILTER (submitted AND priced) AS c36
  FROM bx GROUP BY no)
SELECT file_id, no AS line, (file_id::BIGINT << 32) + no AS ord, {publisher_index} AS publisher, key, ocid, excluded,
  buyer_id, country, year, winners, award_value, CASE WHEN has_bids THEN coalesce(n_sub, 0) END AS n_bids, n_listed,
  n_tenderers, competitive, short, r018,
  compares AND no IN (SELECT no FROM same WHERE same_price) AS r028, coalesce(late, false) AS r030,
  coalesce(final AND len(valid_ids) = 1 AND list_sort(valid_ids) = list_sort(active_ids)
     AND len(list_filter(dq_ids, lambda i: NOT list_contains(valid_ids, i))) >= {max(1, s.r035_threshold)}, false) AS r035,
  elig24, elig36, CASE WHEN elig24 THEN active_sole END AS supplier24,
  coalesce(CASE WHEN elig24 THEN c24 END, CASE WHEN elig36 THEN c36 END) AS first_currency,
  buyer_raw, pe_id, coalesce(n_sub, 0) AS n_sub, coalesce(n_dq, 0) AS n_dq, classified
FROM pb LEFT JOIN ba USING (no)
"""
    keep = """
INSERT INTO bids_all SELECT (file_id::BIGINT << 32) + no AS ord, i, st, sole, amt, cur, submitted
FROM sb JOIN (SELECT no, file_id FROM sp) USING (no) WHERE amt IS NOT NULL AND cur IS NOT NULL"""
    return [process, bids, awards, combined, keep]


# Pass 2, over `p` (one row per process, excluded ones dropped), `bids_all` (priced bids) and
# `money(publisher, key, main)`.
PRICES_SQL = """
WITH b AS (
  SELECT ord, publisher, key, min(amt) FILTER (elig24 AND st = 'valid' AND sole = supplier24 AND cur = main) AS w,
    min(amt) FILTER (elig24 AND st = 'valid' AND sole IS NOT NULL AND sole <> supplier24 AND cur = main) AS r,
    arg_min(st, (amt, i)) FILTER (elig36 AND submitted AND cur = main) AS lowest,
    bool_or(st = 'valid') FILTER (elig36 AND submitted AND cur = main) AS any_valid
  FROM bids_all JOIN p USING (ord) JOIN money USING (publisher, key) GROUP BY ALL)
SELECT ord, publisher, key, CASE WHEN w IS NOT NULL AND r IS NOT NULL AND r >= w AND w <> 0 THEN (r - w) / w END AS ratio,
  coalesce(lowest = 'disqualified' AND any_valid, false) AS r036
FROM b
"""

OWNERS_SQL = """
SELECT publisher, key, 'Buyer' AS grp, buyer_raw AS owner, sum(n_dq) / sum(n_sub) AS ratio, sum(n_sub) AS n
FROM p WHERE n_sub > 0 AND buyer_raw IS NOT NULL GROUP BY ALL HAVING sum(n_sub) >= {minimum}
UNION ALL
SELECT publisher, key, 'ProcuringEntity', pe_id, sum(n_dq) / sum(n_sub), sum(n_sub)
FROM p WHERE n_sub > 0 AND pe_id IS NOT NULL GROUP BY ALL HAVING sum(n_sub) >= {minimum}
"""

SUPPLIERS_SQL = """
SELECT publisher, key, s AS supplier, count(DISTINCT code) AS size
FROM (SELECT publisher, key, ord, e.s AS s, unnest(e.codes) AS code FROM (SELECT publisher, key, ord, unnest(classified) AS e FROM p))
GROUP BY ALL HAVING count(DISTINCT ord) >= {minimum}
"""

FLAGGED_SQL = """
SELECT p.*, coalesce(q.ratio <= f.f24, false) AS r024, coalesce(q.ratio >= f.f58 AND f.f58 > 0, false) AS r058,
  coalesce(q.r036, false) AS r036,
  coalesce(o1.owner IS NOT NULL OR o2.owner IS NOT NULL, false) AS r038,
  coalesce(len(list_filter(winners, lambda w: list_contains(coalesce(h.heterogeneous, []), w))) > 0, false) AS r048
FROM p LEFT JOIN q USING (publisher, key, ord) LEFT JOIN fences f USING (publisher, key)
LEFT JOIN owners_flagged o1 ON o1.publisher = p.publisher AND o1.key = p.key AND o1.grp = 'Buyer' AND o1.owner = p.buyer_raw
LEFT JOIN owners_flagged o2 ON o2.publisher = p.publisher AND o2.key = p.key AND o2.grp = 'ProcuringEntity'
                            AND o2.owner = p.pe_id
LEFT JOIN (SELECT publisher, key, list(supplier) AS heterogeneous FROM suppliers_flagged GROUP BY ALL) h
       ON h.publisher = p.publisher AND h.key = p.key
"""

SUMS_SQL = """
WITH x AS (
  SELECT *, coalesce(n_tenderers, n_bids, n_listed) AS bidders, coalesce(award_value, 0) AS v FROM flagged),
y AS (
  SELECT *, bidders IS NOT NULL AND competitive AS single_ok, coalesce(competitive AND bidders = 1, false) AS single,
    short IS NOT NULL AS short_ok, coalesce(short, false) AS short_k FROM x)
SELECT country, year, arg_min(file, (line, ord)) AS _file, min(line) AS _row, max(line) AS _last_row,
  count(*)::DOUBLE AS processes,
  sum(single_ok::INT)::DOUBLE AS single_n, sum(single::INT)::DOUBLE AS single_k,
  sum(short_ok::INT)::DOUBLE AS short_n, sum(short_k::INT)::DOUBLE AS short_k,
  fsum(v * single_ok::INT) AS single_vn, fsum(v * single::INT) AS single_vk,
  fsum(v * short_ok::INT) AS short_vn, fsum(v * short_k::INT) AS short_vk,
  sum((n_bids IS NOT NULL)::INT)::DOUBLE AS bid_n, sum(coalesce(n_bids, 0))::DOUBLE AS bids,
  {flags}
FROM y JOIN files USING (file_id) WHERE year IS NOT NULL GROUP BY ALL
"""

PAIRS_SQL = """
SELECT country, year, buyer_id AS buyer, winner, count(*) AS n
FROM (SELECT country, year, buyer_id, unnest(winners) AS winner FROM flagged
      WHERE buyer_id IS NOT NULL AND year IS NOT NULL)
GROUP BY ALL
"""

PER_FILE_SQL = """
SELECT file, count(*) FILTER (year IS NOT NULL) AS kept, count(*) FILTER (year IS NULL) AS undated,
  min(line) FILTER (year IS NULL) AS first_undated
FROM flagged JOIN files USING (file_id) GROUP BY ALL
"""
