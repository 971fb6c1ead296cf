"""Event tables stored as Parquet partitions, checked and aggregated through DuckDB.

Why DuckDB underneath: it streams a file's row groups through C++ aggregation on every
core and reads only the columns a query names, so a build's peak memory is set by the
number of groups, not of rows. Each partition (one file) is scanned on its own, which keeps
the hash tables small and is also the unit the Dask path ships to a worker: both paths run
`scan_partition` and combine the same partial sums, so they give the same features.

Bad input. A partition whose footer cannot be read, or whose columns differ from the
declared ones, is unusable as a whole; a row failing a declared check (negative count, a
date outside the partition's year, an unknown country) is bad on its own. Under `refuse`
the first problem stops the build with a SourceDataError naming file, row and problem;
under `quarantine` bad partitions and rows are left out and counted in a `QualityReport`
(the policy and the report come with the build's context, features/build_context.py).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from features.build_context import BuildContext, PartitionReport
from nexus.countries import name_to_iso3
from nexus.errors import SourceDataError

UNKNOWN_COUNTRY = "unknown country"
COUNTRIES = "_countries"  # per partition: rows, first row and rows passing the checks, by country name
_KIND_CHECKS = {
    "string": lambda t: pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)
    or (pa.types.is_dictionary(t) and pa.types.is_string(t.value_type)),
    "int": pa.types.is_integer,
    "float": lambda t: pa.types.is_floating(t) or pa.types.is_integer(t) or pa.types.is_decimal(t),
    "date": lambda t: pa.types.is_date(t) or pa.types.is_timestamp(t),
}


@dataclass(frozen=True)
class EventTable:
    """The declared layout of one event table.

    `columns` maps each required column to a kind (string, int, float, date); `country`
    names the column holding a country name; `date` the column whose year must equal the
    year in the partition's file name (bids_2005.parquet, year=2005/…); `checks` maps a
    problem to the SQL condition that makes a row bad.
    """

    name: str
    columns: Mapping[str, str]
    country: str
    date: str
    checks: Mapping[str, str] = field(default_factory=dict)


def partition_year(path: Path | str) -> int | None:
    """The year a partition's file name declares (bids_2005.parquet, year=2005/part-0.parquet)."""
    for part in (Path(path).stem, Path(path).parent.name):
        found = re.findall(r"(?<!\d)((?:19|20)\d\d)(?!\d)", part)
        if found:
            return int(found[-1])
    return None


def check_schema(path: Path | str, table: EventTable) -> str | None:
    """Read only the footer: a problem with the whole partition, or None."""
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException) as exc:
        return f"not a readable Parquet file ({str(exc).splitlines()[0][:160]})"
    for column, kind in table.columns.items():
        if column not in schema.names:
            return f"wrong schema: missing column {column!r}"
        if not _KIND_CHECKS[kind](schema.field(column).type):
            return f"wrong schema: column {column!r} is {schema.field(column).type}, expected {kind}"
    return None


def _sql_str(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


_LOCAL = threading.local()


def _connection(threads: int | None):
    """One in-memory DuckDB connection per thread, reused: connecting costs ~15 ms, a query ~1 ms."""
    import duckdb

    con = getattr(_LOCAL, "con", None)
    if con is None:
        con = _LOCAL.con = duckdb.connect()
        _LOCAL.threads = None
    if threads != _LOCAL.threads:
        con.execute(f"SET threads = {int(threads)}" if threads else "RESET threads")
        _LOCAL.threads = threads
    return con


def scan_partition(path: str, table: EventTable, queries: Mapping[str, str],
                   threads: int | None = None) -> tuple[PartitionReport, dict[str, pa.Table]]:
    """Check one partition and run the builder's aggregate queries on it (pure: Dask-safe).

    Each query may use {src} (the file, with its row numbers), {ok} (the row passes every
    check) and, in the first query only, {checks} (the engine's problem counters). Every
    query returns a `country` column; the first groups by country so unknown names can be
    counted after the scan. A query named `_…` is an intermediate: later queries read it
    by that name (one scan of the file can feed several outputs), and it is not returned.
    """
    import duckdb

    report = PartitionReport(str(path))
    problem = check_schema(path, table)
    if problem:
        report.error = problem
        return report, {}
    year = partition_year(path)
    bad = {label: f"coalesce(({cond}), false)" for label, cond in table.checks.items()}
    bad[f"{table.date} missing"] = f"{table.date} IS NULL"
    if year is not None:
        bad["date outside the partition's year"] = f"coalesce(year({table.date}) <> {year}, false)"
    flags = ", ".join(f"{cond} AS _bad{i}" for i, cond in enumerate(bad.values()))
    src = (f"(SELECT *, NOT ({' OR '.join(f'_bad{i}' for i in range(len(bad)))}) AS _ok "
           f"FROM (SELECT *, {flags} FROM read_parquet({_sql_str(path)}, file_row_number = true)))")
    # the hot path counts rows and good rows only; which check failed, and where, is asked
    # of a partition only when it has bad rows (a second, narrow scan)
    counters = ("count(*) AS _rows, min(file_row_number) + 1 AS _first_row, count(*) FILTER (_ok) AS _ok_rows, "
                "max(file_row_number) FILTER (_ok) + 1 AS _last_row")  # first/last/kept: a value's rows
    details = ", ".join(f"count(*) FILTER (_bad{i}), min(file_row_number) FILTER (_bad{i}) + 1"
                        for i in range(len(bad)))
    con = _connection(threads)
    out, registered = {}, []
    try:
        for i, (name, sql) in enumerate(queries.items()):
            text = sql.format(src=src, ok="_ok", checks=counters if i == 0 else "")
            out[name] = con.sql(text).to_arrow_table()
            if name.startswith("_"):  # an intermediate result the next queries read, never returned
                con.register(name, out[name])
                registered.append(name)
        main = out[next(iter(queries))]
        report.rows = int(pc.sum(main["_rows"]).as_py() or 0)
        if report.rows > int(pc.sum(main["_ok_rows"]).as_py() or 0):
            found = con.sql(f"SELECT {details} FROM {src}").fetchall()[0]
            for i, label in enumerate(bad):
                report.add(label, int(found[2 * i] or 0), found[2 * i + 1])
    except duckdb.Error as exc:
        report.error = f"cannot be read: {str(exc).splitlines()[0][:200]}"
        return report, {}
    finally:
        for name in registered:
            con.unregister(name)
    returned = {name: t for name, t in out.items() if not name.startswith("_")}
    returned[COUNTRIES] = main.group_by("country").aggregate([("_rows", "sum"), ("_first_row", "min"),
                                                              ("_ok_rows", "sum")])
    return report, returned


def _countries(names: Iterable) -> dict[str, str | None]:
    return {n: (name_to_iso3(n) if isinstance(n, str) else None) for n in set(names)}


def scan(table: EventTable, files: Sequence[Path], queries: Mapping[str, str],
         context: BuildContext) -> dict[str, pa.Table]:
    """Scan every partition (here or on the context's executor), apply its policy, and return
    each query's partials from usable partitions, concatenated, with an `iso3` column."""
    if not files:
        raise SourceDataError(table.name, None, "no partition to read")
    from functools import partial

    results = context.map_tasks(partial(scan_partition, table=table, queries=queries,
                                        threads=context.duckdb_threads), [str(p) for p in files])
    names = set()
    for _, parts in results:
        for t in parts.values():
            names |= set(pc.unique(t["country"]).to_pylist())
    iso = _countries(names)
    known_names = [n for n, code in iso.items() if code is not None]
    known = pa.array(known_names, pa.string())
    codes = pa.array([iso[n] for n in known_names], pa.string())
    outputs = [name for name in queries if not name.startswith("_")]
    kept: dict[str, list[pa.Table]] = {name: [] for name in outputs}
    reports = []
    for report, parts in results:
        reports.append(report)
        if report.error:
            continue
        summary = parts.pop(COUNTRIES)
        unknown = pc.invert(pc.fill_null(pc.is_in(summary["country"], known), False))
        for row in summary.filter(unknown).to_pylist():
            name = row["country"]
            label = f"{UNKNOWN_COUNTRY} {name!r}" if name else f"{table.country} missing"
            report.add(label, row["_rows_sum"], row["_first_row_min"])
        report.kept = int(pc.sum(pc.filter(summary["_ok_rows_sum"], pc.invert(unknown))).as_py() or 0)
        for name, t in parts.items():
            keep = pc.fill_null(pc.is_in(t["country"], known), False)
            if "_ok_rows" in t.column_names:  # groups of bad rows only (wrong year, no date) carry no sums
                keep = pc.and_(keep, pc.greater(t["_ok_rows"], 0))
            if not pc.all(keep).as_py():
                t = t.filter(keep)
            t = t.append_column("iso3", pc.take(codes, pc.index_in(t["country"], value_set=known)))
            if "_first_row" in t.column_names:  # provenance of the groups, for messages naming file and row
                t = t.append_column("_file", pa.array([report.path] * len(t), pa.string()))
            kept[name].append(t)
    context.record_reports(table.name, reports)
    if not any(kept[outputs[0]]):
        first = reports[0]
        raise SourceDataError(first.path, None, f"no usable partition of {table.name} "
                              f"({len(reports)} partitions, all unusable; first: {first.error})")
    return {name: pa.concat_tables(ts) for name, ts in kept.items()}
