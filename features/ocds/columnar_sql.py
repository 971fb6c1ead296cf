"""The SQL of the columnar red-flag engine (`features.ocds.columnar`), kept apart from its driver.

Every expression mirrors a function of `features.ocds.indicators`, `features.ocds.vocabulary` or
`features.ocds.reader` (named beside it); leaves are read as JSON and kept only when they have the
JSON type the Python reads (`jstr`, `jnum`, `jint`), so a numeric id or a string amount is ignored here as
it is there.
"""

from __future__ import annotations

from collections.abc import Sequence

from features.ocds.settings import RedFlagSettings

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
-- txt: Python's strip(); the trim with a character set (the costly part) only where an end is whitespace.
CREATE OR REPLACE MACRO txt(x) AS CASE WHEN ascii(x) > 32 AND ascii(right(x, 1)) > 32 THEN x
  ELSE nullif(trim(x, E' \t\n\r\x0b\x0c'), '') END;
CREATE OR REPLACE MACRO ids(l) AS list_filter(list_transform(l, lambda e: jstr(e.id)), lambda i: i IS NOT NULL);
-- union_ids: the distinct ids of a list of id lists; most awards are one list of one id, its own answer.
CREATE OR REPLACE MACRO union_ids(l) AS CASE WHEN len(l) = 1 AND len(l[1]) <= 1 THEN l[1] ELSE list_distinct(flatten(l)) END;
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


# Columns of `rel_chunk` that only the chunk's own `prices` rows need; `rel` does not keep them.
CHUNK_ONLY = "elig24, elig36, supplier24"


def normalise_sql(s: RedFlagSettings, country: str | None, publisher_index: int) -> list[str]:
    """Pass 1 over `stage(no, file_id, key, r)`: statements leaving one row per process in `rel_chunk`
    (facts, per-process flags and the lists the file-wide indicators need) and the chunk's rows of
    `prices`. Bids and awards are flattened to one row each and aggregated per process: list lambdas
    cost far more. Only the bids (`sb`, read twice) are a table; the process facts and awards are
    subqueries of `rel_chunk` (a table each cost more). `country` is the publisher's declared country
    (national systems)."""
    bid_status, award_status = _remap("jstr(b.status)", s.bid_status_map), _remap("status", s.award_status_map)
    r003_days = (f"coalesce(map_extract(MAP {{{', '.join(f'{_literal(k)}: {v}' for k, v in s.r003_procurement_method_details.items())}}}, details)[1], {s.r003_threshold})"
                 if s.r003_procurement_method_details else str(s.r003_threshold))
    compares = (_in("details", s.price_comparison_procurement_methods) if s.price_comparison_procurement_methods
                else f"(details IS NULL OR NOT {_in('details', s.no_price_comparison_procurement_methods)})")
    competitive = _in("method_text", s.r018_procurement_methods) if s.r018_procurement_methods else "true"
    r018 = _in("method", s.r018_procurement_methods) if s.r018_procurement_methods else "true"
    r003_method = _in("method", s.r003_procurement_methods) if s.r003_procurement_methods else "true"
    excluded = _in("details", s.excluded_procurement_method_details)
    # Each JSON leaf is read (`jstr`) once into a column and trimmed (`txt`) from that column: a macro
    # over a nested expression copies it, and planning those copies cost more than running them.
    process = f"""
WITH a AS (
  SELECT no, file_id, key, jstr(r.ocid) AS ocid, r.tender AS t, r.buyer AS buyer, r.parties AS parties,
    jstr(r.date) AS rdate, r.bids.details IS NOT NULL AS has_bids, r.awards IS NOT NULL AS has_awards,
    jstr(r.buyer.id) AS buyer_raw, jstr(r.tender.status) AS tstatus, jstr(r.tender.procurementMethod) AS method,
    jstr(r.tender.procurementMethodDetails) AS details, jint(r.tender.numberOfTenderers) AS n_int,
    jstr(r.tender.tenderPeriod.startDate) AS start, jstr(r.tender.tenderPeriod.endDate) AS deadline,
    jstr(r.tender.contractPeriod.startDate) AS contract_start, jstr(r.tender.procuringEntity.id) AS pe_id
  FROM stage),
b AS (
  SELECT *, txt(buyer_raw) AS buyer_text, txt(method) AS method_text, instant(start) AS ps, instant(deadline) AS pe
  FROM a),
c AS (
  SELECT *, parties[least(
      list_position(list_transform(parties,
                                   lambda p: regexp_matches(array_to_string(p.roles, ','), '"\\s*buyer\\s*"')), true),
      CASE WHEN buyer_text IS NOT NULL
           THEN list_position(list_transform(parties, lambda p: txt(jstr(p.id))), buyer_text) END)] AS party
  FROM b),
d AS (
  SELECT *, jstr(party.id) AS party_id, jstr(party.address.countryName) AS party_country,
    jstr(buyer.address.countryName) AS buyer_country
  FROM c)
SELECT no, file_id, ocid, key, has_bids, has_awards, deadline,
  {compares} AS compares,
  coalesce(tstatus = 'cancelled', false) OR coalesce({excluded}, false) AS excluded,
  coalesce(buyer_text, txt(party_id)) AS buyer_id,
  {_literal(country) if country else "coalesce(coalesce(txt(party_country), txt(buyer_country)), '')"} AS country,
  coalesce(yr(start), yr(contract_start), yr(rdate)) AS year,
  CASE WHEN t.tenderers IS NOT NULL THEN len(list_filter(t.tenderers, lambda e: txt(jstr(e.id)) IS NOT NULL)) END AS n_listed,
  n_int AS n_tenderers, coalesce({competitive}, false) AS competitive,
  CASE WHEN ps IS NOT NULL AND pe IS NOT NULL AND {r003_method}
       THEN trunc((epoch_us(pe) - epoch_us(ps)) / 86400000000.0) < {r003_days} END AS short,
  coalesce({r018} AND n_int = 1, false) AS r018, buyer_raw, pe_id
FROM d"""
    bids = f"""
CREATE OR REPLACE TEMP TABLE sb AS
SELECT no, i, st, date, tids, sole, amt, cur, st IS NOT NULL AND st NOT IN ('invited', 'withdrawn') AS submitted
FROM (SELECT no, i, {bid_status} AS st, jstr(b.date) AS date, ids(b.tenderers) AS tids, sole(b.tenderers) AS sole,
        jnum(b.value.amount) AS amt, jstr(b.value.currency) AS cur
      FROM (SELECT no, unnest(r.bids.details) AS b, generate_subscripts(r.bids.details, 1) AS i FROM stage))"""
    awards = f"""
SELECT no, count(*) FILTER (st = 'active') AS n_active, arg_min(sole, i) FILTER (st = 'active') AS active_sole,
  coalesce(bool_or(st IS NOT NULL AND st NOT IN ('active', 'cancelled', 'unsuccessful')), false) AS pending,
  union_ids(list(sids) FILTER (st = 'active')) AS active_ids,
  list_sort(union_ids(list(sids) FILTER (in_force))) AS winners,
  fsum(amt) FILTER (in_force) AS award_value,
  list({{'s': sole, 'codes': codes}}) FILTER (st = 'active' AND sole IS NOT NULL AND len(codes) > 0) AS classified
FROM (SELECT no, i, {award_status} AS st, status IS NULL OR txt(status) IS NULL OR status = 'active' AS in_force,
        jnum(a.value.amount) AS amt, ids(a.suppliers) AS sids, sole(a.suppliers) AS sole,
        list_filter(list_transform(a.items, lambda x: left(jstr(x.classification.id), {s.r048_digits})),
                    lambda c: c IS NOT NULL) AS codes
      FROM (SELECT no, i, a, jstr(a.status) AS status
            FROM (SELECT no, unnest(r.awards) AS a, generate_subscripts(r.awards, 1) AS i FROM stage)
            WHERE a IS NOT NULL))
GROUP BY no"""
    combined = f"""
CREATE OR REPLACE TEMP TABLE rel_chunk AS
WITH sp AS ({process}),
sa AS ({awards}),
pa AS (
  SELECT sp.*, coalesce(sa.n_active, 0) AS n_active, sa.active_sole, coalesce(sa.active_ids, []) AS active_ids,
    coalesce(sa.winners, []) AS winners, sa.award_value, coalesce(sa.classified, []) AS classified,
    has_bids AND has_awards AND NOT coalesce(sa.pending, false) AS final
  FROM sp LEFT JOIN sa USING (no)),
pb AS (
  SELECT *, compares AND final AND n_active = 1 AND active_sole IS NOT NULL AS elig24, compares AND n_active > 0 AS elig36
  FROM pa),
same AS (
  SELECT no, min(tenderers) <> max(tenderers) AS same_price
  FROM (SELECT no, amt, cur,
          CASE WHEN len(tids) = 1 THEN tids[1] ELSE array_to_string(list_sort(list_distinct(tids)), chr(31)) END
            AS tenderers
        FROM sb WHERE submitted AND amt IS NOT NULL AND cur IS NOT NULL AND len(tids) > 0)
  GROUP BY no, amt, cur),
ba AS (
  SELECT no, count(*) FILTER (submitted) AS n_sub, count(*) FILTER (submitted AND st = 'disqualified') AS n_dq,
    coalesce(bool_or(st = 'valid' AND date IS NOT NULL AND deadline IS NOT NULL AND date > deadline
                     AND list_has_any(tids, active_ids)), false) AS late,
    list_distinct(flatten(list(tids) FILTER (st = 'valid'))) AS valid_ids,
    list_distinct(flatten(list(tids) FILTER (st = 'disqualified'))) AS dq_ids,
    arg_min(cur, i) FILTER (st = 'valid' AND sole IS NOT NULL AND priced) AS c24,
    arg_min(cur, i) FILTER (submitted AND priced) AS c36
  FROM (SELECT *, amt IS NOT NULL AND cur IS NOT NULL AS priced FROM sb)
       JOIN (SELECT no, deadline, active_ids FROM pb) USING (no) GROUP BY no)
SELECT file_id, no AS line, (file_id::BIGINT << 32) + no AS ord, {publisher_index} AS publisher, key, ocid, excluded,
  buyer_id, country, year, winners, award_value, CASE WHEN has_bids THEN coalesce(n_sub, 0) END AS n_bids, n_listed,
  n_tenderers, competitive, short, r018,
  compares AND no IN (SELECT no FROM same WHERE same_price) AS r028, coalesce(late, false) AS r030,
  coalesce(final AND len(valid_ids) = 1 AND list_sort(valid_ids) = list_sort(active_ids)
     AND len(dq_ids) - len(list_intersect(dq_ids, valid_ids)) >= {max(1, s.r035_threshold)}, false) AS r035,
  elig24, elig36, CASE WHEN elig24 THEN active_sole END AS supplier24,
  coalesce(CASE WHEN elig24 THEN c24 END, CASE WHEN elig36 THEN c36 END) AS first_currency,
  buyer_raw, pe_id, coalesce(n_sub, 0) AS n_sub, coalesce(n_dq, 0) AS n_dq, classified
FROM pb LEFT JOIN ba USING (no)
"""
    # The bids PRICES_SQL reads, folded per process and currency: the file's main currency is known
    # only at the end, and one row per (process, currency) is about a fifth of the priced bids.
    keep = """
INSERT INTO prices
SELECT ord, cur, min(amt) FILTER (elig24 AND st = 'valid' AND sole = supplier24) AS w,
  min(amt) FILTER (elig24 AND st = 'valid' AND sole IS NOT NULL AND sole <> supplier24) AS r,
  arg_min(st, (amt, i)) FILTER (elig36 AND submitted) = 'disqualified' AS lowest_dq,
  bool_or(st = 'valid') FILTER (elig36 AND submitted) AS any_valid
FROM sb JOIN (SELECT line AS no, ord, elig24, elig36, supplier24 FROM rel_chunk WHERE elig24 OR elig36)
  USING (no)
WHERE amt IS NOT NULL AND cur IS NOT NULL GROUP BY ord, cur"""
    return [bids, combined, keep]


# Pass 2, over `p` (one row per process, excluded ones dropped), `prices` (per process and currency)
# and `money(publisher, key, main)`.
PRICES_SQL = """
SELECT ord, publisher, key, CASE WHEN w IS NOT NULL AND r IS NOT NULL AND r >= w AND w <> 0 THEN (r - w) / w END AS ratio,
  coalesce(lowest_dq AND any_valid, false) AS r036
FROM prices JOIN p USING (ord) JOIN money USING (publisher, key) WHERE cur = main
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

# The file-wide flags beside what SUMS_SQL reads (its only reader, so a view: nothing is copied).
FLAGGED_SQL = """
SELECT p.file_id, p.line, p.ord, p.country, p.year, p.award_value, p.n_bids, p.n_listed, p.n_tenderers,
  p.competitive, p.short, p.r028, p.r030, p.r035, coalesce(q.ratio <= f.f24, false) AS r024,
  coalesce(q.ratio >= f.f58 AND f.f58 > 0, false) AS r058, coalesce(q.r036, false) AS r036,
  coalesce(o1.owner IS NOT NULL OR o2.owner IS NOT NULL, false) AS r038,
  coalesce(list_has_any(winners, h.heterogeneous), false) AS r048
FROM p LEFT JOIN (SELECT ord, ratio, r036 FROM q) q ON q.ord = p.ord
LEFT JOIN fences f ON f.publisher = p.publisher AND f.key = p.key
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
FROM (SELECT country, year, buyer_id, unnest(winners) AS winner FROM p
      WHERE buyer_id IS NOT NULL AND year IS NOT NULL)
GROUP BY ALL
"""

PER_FILE_SQL = """
SELECT file, count(*) FILTER (year IS NOT NULL) AS kept, count(*) FILTER (year IS NULL) AS undated,
  min(line) FILTER (year IS NULL) AS first_undated
FROM p JOIN files USING (file_id) GROUP BY ALL
"""
