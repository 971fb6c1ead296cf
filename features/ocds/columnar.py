"""OCDS red flags on DuckDB: the same partial sums as `features.ocds.flags.process_partials`, columnar.

The Python path parses every release with `json.loads` and folds it through the Cardinal port,
about 10,000 processes/s. Here DuckDB parses JSON Lines in byte chunks (`json_transform`, all
cores), keeps one row of typed facts per process in an in-memory database whose blocks spill to
a temporary folder past the memory limit (so files larger than memory stream through; an on-disk
file cost more to append to), and computes the indicators and country-year
aggregates in SQL (`features.ocds.columnar_sql`); only the outlier fences (type-8 quartiles with
a single-rounding fma) are computed in Python, from one float per process. Lines DuckDB cannot
vouch for (invalid JSON, no string ocid, NaN/Infinity, bad UTF-8) are classified by the same
rules as the Python path, so counts and first bad lines agree. Settings per publisher come from
`features.ocds.flags.PUBLISHERS`.
"""

from __future__ import annotations

import json
import os
import queue
import re
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from features.build_context import OCDS_TEMP_PREFIX, PartitionReport
from features.ocds import columnar_sql as sql
from features.ocds.fences import lower_fence, upper_fence
from features.ocds.flags import FLAGS, is_json_lines, publisher, publisher_of
from features.ocds.reader import read_compiled_releases
from features.ocds.settings import INDICATORS
from nexus.processes import owned_temp_dir

CHUNK_BYTES = 32 << 20
MEMORY_LIMIT = "512MB"
_NON_FINITE = re.compile(rb"[:,\[]\s*-?(?:NaN|Infinity)")
# Not blank: some byte outside Python's bytes.strip() set. A regex that stops at the first such byte,
# where trim(text) <> '' copies every line (it cost more than parsing the JSON).
_BLANK = "regexp_matches(text, '[^ \\t\\n\\r\\x0b\\x0c]')"


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def line_problem(raw: bytes) -> str | None:
    """The Python path's verdict on one line: None (a release), "not JSON" or "missing ocid"."""
    try:
        value = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return "not JSON"
    if not isinstance(value, dict):
        return "not JSON"
    return None if isinstance(value.get("ocid"), str) else "missing ocid"


def _json_lines_chunks(path: Path, chunk_bytes: int) -> Iterator[bytearray]:
    """Whole lines in chunks; the last line may lack its newline. Each chunk is read into a buffer of
    its own that Arrow then wraps: no copy of the chunk is made."""
    carry = b""
    with open(path, "rb") as f:
        while True:
            block = bytearray(len(carry) + chunk_bytes)
            block[:len(carry)] = carry
            size = len(carry) + f.readinto(memoryview(block)[len(carry):])
            if size == len(carry):  # end of file
                if carry:
                    yield bytearray(carry + b"\n")
                return
            cut = block.rfind(b"\n", 0, size) + 1
            carry = bytes(block[cut:size])
            if cut:
                del block[cut:]
                yield block


def _line_ends(block: bytearray) -> np.ndarray:
    """Offsets just past each newline, found 1 MB at a time (a mask of the whole chunk costs more)."""
    data, step = np.frombuffer(block, np.uint8), 1 << 20
    parts = [np.flatnonzero(data[i:i + step] == 10) + (i + 1) for i in range(0, len(data), step)]
    return np.concatenate(parts or [np.empty(0, np.int64)])


def _package_chunk(path: Path) -> tuple[np.ndarray, list[bytes], int]:
    """A release or record package as the Python path spills it: one compact release per position."""
    entries = list(read_compiled_releases(path))
    lines = [json.dumps(release, separators=(",", ":")).encode() for _, release in entries]
    return np.array([p for p, _ in entries], dtype=np.int64), lines, max((p for p, _ in entries), default=0)


@dataclass(frozen=True)
class Prepared:
    """One chunk ready for DuckDB: line numbers, raw and UTF-8 text, and the lines to vet in Python."""

    numbers: np.ndarray
    binary: pa.Array
    text: pa.Array
    table: pa.Table
    suspects: frozenset[int]  # positions of lines that may hold NaN or Infinity
    undecodable: tuple[int, ...]  # line numbers that are not UTF-8 (the Python path: not JSON)


def prepare_chunk(numbers: np.ndarray | int, lines: list[bytes] | bytearray) -> Prepared:
    """The Python and Arrow half of loading a chunk, which needs no database: it runs on a second
    thread while DuckDB parses the chunk before (numpy, Arrow and file reads release the GIL).
    `lines` is a list (with its line numbers) or a block of whole lines (with the first line's number);
    an ASCII block is wrapped as text as it is (no UTF-8 check needed).
    """
    if isinstance(lines, bytearray):
        block, ends = lines, _line_ends(lines)
        numbers = np.arange(numbers, numbers + len(ends), dtype=np.int64)
        buffers = [None, pa.py_buffer(np.concatenate([[0], ends]).astype(np.int32)), pa.py_buffer(block)]
        binary = pa.Array.from_buffers(pa.binary(), len(ends), buffers)
        ascii_text = pa.Array.from_buffers(pa.string(), len(ends), buffers) if block.isascii() else None
        suspects = ({int(np.searchsorted(ends, m.start(), "right")) for m in _NON_FINITE.finditer(block)}
                    if b"NaN" in block or b"Infinity" in block else set())
    else:
        binary, ascii_text = pa.array(lines, pa.binary()), None
        suspects = set()
    undecodable = []
    try:
        text = ascii_text if ascii_text is not None else binary.cast(pa.string())
    except pa.ArrowInvalid:  # invalid UTF-8: the Python path calls such lines not JSON
        decodable = binary.to_pylist()
        for i, line in enumerate(decodable):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                undecodable.append(int(numbers[i]))
                decodable[i] = b"\n"
                suspects.discard(i)
        text = pa.array(decodable, pa.binary()).cast(pa.string())
    table = pa.table({"no": numbers, "text": text})
    return Prepared(numbers, binary, text, table, frozenset(suspects), tuple(undecodable))


class ColumnarRun:
    """One build's DuckDB database (in memory, spilling to a temporary folder) and the problems found
    while loading.

    Chunks load on `workers` cursors at once (one per allowed thread): a chunk's statements scan
    tables smaller than one DuckDB row group (122,880 rows), which DuckDB runs on one thread, so
    the cores are used by loading several chunks side by side. Each cursor keeps its own temporary
    tables; `rel` and `prices` are shared tables that every cursor appends to.
    """

    def __init__(self, folder: str, threads: int | None, memory_limit: str):
        self.con = duckdb.connect(":memory:")
        self.con.execute(f"SET memory_limit = '{memory_limit}'; SET temp_directory = '{folder}'; "
                         "SET preserve_insertion_order = false; SET enable_progress_bar = false")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        self.con.execute(sql.MACROS)
        self.problems: dict[tuple[str, str], list[int]] = {}
        self.created = False
        self.workers = max(1, int(threads or os.cpu_count() or 1))
        self._lock = threading.Lock()
        self._free: queue.SimpleQueue = queue.SimpleQueue()
        for _ in range(self.workers):
            self._free.put(self.con.cursor())

    def count(self, source: str, kind: str, line: int) -> None:
        with self._lock:
            entry = self.problems.setdefault((source, kind), [0, line])
            entry[0] += 1
            entry[1] = min(entry[1], line)

    def load(self, prepared: Prepared, file_id: int, source: str, publisher_index: int) -> None:
        """Parse one prepared chunk (`prepare_chunk`) into table `rel`, on the next free cursor."""
        con = self._free.get()
        try:
            self._load(con, prepared, file_id, source, publisher_index)
        finally:
            self._free.put(con)

    def close(self) -> None:
        while not self._free.empty():
            self._free.get().close()
        self.con.close()

    def _load(self, con, prepared: Prepared, file_id: int, source: str, publisher_index: int) -> None:
        numbers, binary, suspects = prepared.numbers, prepared.binary, set(prepared.suspects)
        for line in prepared.undecodable:
            self.count(source, "not JSON", line)
        con.register("chunk", prepared.table)
        facts = publisher(publisher_of(source))
        if set(facts.settings.indicators) != set(INDICATORS):
            raise ValueError(f"the columnar engine runs every indicator; {source}'s settings select some")

        def raw(no: int) -> bytes:
            return binary[int(np.searchsorted(numbers, no))].as_py()

        bad = {int(numbers[i]) for i in suspects if self._vetoed(binary[i].as_py(), source, int(numbers[i]))}
        try:
            con.execute(sql.stage_sql(file_id, facts.country, _BLANK, sorted(bad)))
        except duckdb.InvalidInputException:  # some line is not JSON: find them, then load the rest
            invalid = con.execute(f"SELECT no FROM chunk WHERE {_BLANK} AND NOT json_valid(text)").fetchall()
            bad |= {no for (no,) in invalid if self._vetoed(raw(no), source, no)}
            con.execute(sql.stage_sql(file_id, facts.country, _BLANK, sorted(bad)))
        untyped = con.execute("SELECT no FROM stage WHERE json_type(r.ocid) IS DISTINCT FROM 'VARCHAR'").fetchall()
        vetoed = [no for (no,) in untyped if self._vetoed(raw(no), source, no)]
        if vetoed:
            con.execute(f"DELETE FROM stage WHERE no IN ({', '.join(map(str, vetoed))})")
        con.unregister("chunk")
        statements = sql.normalise_sql(facts.settings, facts.country, publisher_index)
        for statement in statements[:-1]:
            con.execute(statement)
        with self._lock:
            if not self.created:
                con.execute(f"CREATE TABLE rel AS SELECT * EXCLUDE ({sql.CHUNK_ONLY}) FROM rel_chunk LIMIT 0")
                con.execute("CREATE TABLE prices (ord BIGINT, cur VARCHAR, w DOUBLE, r DOUBLE, "
                            "lowest_dq BOOLEAN, any_valid BOOLEAN)")
                self.created = True
        con.execute(statements[-1])
        con.execute(f"INSERT INTO rel SELECT * EXCLUDE ({sql.CHUNK_ONLY}) FROM rel_chunk")

    def _vetoed(self, raw: bytes, source: str, line: int) -> bool:
        problem = line_problem(raw)
        if problem is not None:
            self.count(source, problem, line)
        return problem is not None


_Chunk = tuple[int, Path, "Prepared | None", int]


def _chunks(files: Sequence[Path], chunk_bytes: int) -> Iterator[_Chunk]:
    """(file id, path, prepared chunk or None, lines of the file so far), in file and line order."""
    for file_id, path in enumerate(map(Path, files)):
        if not is_json_lines(path):
            numbers, lines, count = _package_chunk(path)
            yield file_id, path, prepare_chunk(numbers, lines) if lines else None, count
            continue
        count = 0
        for block in _json_lines_chunks(path, chunk_bytes):
            prepared = prepare_chunk(count + 1, block)
            count += len(prepared.numbers)
            yield file_id, path, prepared, count
        if not count:
            yield file_id, path, None, 0


def _prepared_chunks(files: Sequence[Path], chunk_bytes: int) -> Iterator[_Chunk]:
    """`_chunks`, one chunk ahead on a second thread, so reading and Arrow work overlap DuckDB's parse."""
    chunks = _chunks(files, chunk_bytes)
    with ThreadPoolExecutor(1, thread_name_prefix="ocds-read") as pool:
        ahead = pool.submit(next, chunks, None)
        while (item := ahead.result()) is not None:
            ahead = pool.submit(next, chunks, None)
            yield item


def _fence_table(rows: pd.DataFrame, keys: list[str], fence) -> pd.DataFrame:
    """One fence per group of `rows` (column `value`), by `fence(values, settings)`."""
    out = []
    for key, g in rows.groupby(keys, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        out.append((*key, fence(np.sort(g["value"].to_numpy(float)).tolist(), key)))
    return pd.DataFrame(out, columns=[*keys, "fence"])


def process_partials_columnar(files: Sequence[Path], chunk_bytes: int = CHUNK_BYTES, spill_root: str | None = None,
                              threads: int | None = None, memory_limit: str = MEMORY_LIMIT,
                              ) -> tuple[pd.DataFrame, pd.DataFrame, list[PartitionReport]]:
    """(country-year sums, pair counts, one report per file), equal to `process_partials`'s."""
    names = sorted({publisher_of(p) for p in files})
    settings = {i: publisher(n).settings for i, n in enumerate(names)}
    with owned_temp_dir(OCDS_TEMP_PREFIX, spill_root) as folder:
        run = ColumnarRun(folder, threads, memory_limit)
        try:
            line_counts: dict[str, int] = {}
            with ThreadPoolExecutor(run.workers, thread_name_prefix="ocds-load") as pool:
                pending: set = set()
                for file_id, path, prepared, count in _prepared_chunks(files, chunk_bytes):
                    line_counts[str(path)] = count
                    if prepared is None:
                        continue
                    if len(pending) >= run.workers:  # at most one chunk per cursor in memory
                        done, pending = wait(pending, return_when=FIRST_COMPLETED)
                        for future in done:
                            future.result()
                    index = names.index(publisher_of(path))
                    pending.add(pool.submit(run.load, prepared, file_id, str(path), index))
                for future in pending:
                    future.result()
            if not run.created:
                return pd.DataFrame(), pd.DataFrame(), [PartitionReport(str(p), rows=line_counts.get(str(p), 0))
                                                        for p in files]
            return _reduce(run, [str(p) for p in files], settings, line_counts)
        finally:
            run.close()


def _reduce(run: ColumnarRun, files: list[str], settings: dict, line_counts: dict):
    con = run.con
    con.register("files_frame", pd.DataFrame({"file_id": range(len(files)), "file": files}))
    con.execute("CREATE TEMP TABLE files AS SELECT * FROM files_frame")
    unique = con.execute("SELECT count(*) = count(DISTINCT (publisher, key, ocid)) FROM rel").fetchone()[0]
    # One row per process: a view of `rel` when no ocid repeats (no copy), else the latest release of each.
    con.execute("CREATE TEMP VIEW p AS SELECT *, ord AS first_ord FROM rel WHERE NOT excluded" if unique else
                "CREATE TEMP TABLE p AS SELECT * EXCLUDE (rn) FROM (SELECT *, min(ord) OVER w AS first_ord, "
                "row_number() OVER (PARTITION BY publisher, key, ocid ORDER BY ord DESC) AS rn FROM rel "
                "WINDOW w AS (PARTITION BY publisher, key, ocid)) WHERE rn = 1 AND NOT excluded")
    money = con.execute("SELECT publisher, key, arg_min(first_currency, first_ord) FILTER (first_currency IS NOT NULL)"
                        " AS main FROM p GROUP BY ALL").df()
    money["main"] = [settings[i].currency or m for i, m in zip(money["publisher"], money["main"], strict=True)]
    con.register("money", money)
    con.execute(f"CREATE TEMP TABLE q AS {sql.PRICES_SQL}")
    ratios = con.execute("SELECT publisher, key, ratio AS value FROM q WHERE ratio IS NOT NULL").df()
    f24 = _fence_table(ratios, ["publisher", "key"], lambda v, k: lower_fence(v, settings[k[0]].r024_threshold))
    f58 = _fence_table(ratios, ["publisher", "key"], lambda v, k: upper_fence(v, settings[k[0]].r058_threshold))
    fences = f24.rename(columns={"fence": "f24"}).merge(f58.rename(columns={"fence": "f58"}), how="outer")
    con.register("fences", fences.astype({"f24": float, "f58": float}) if len(fences) else
                 pd.DataFrame({"publisher": pd.Series(dtype=int), "key": pd.Series(dtype=str),
                               "f24": pd.Series(dtype=float), "f58": pd.Series(dtype=float)}))
    minimum = {s.r038_minimum_contracting_processes for s in settings.values()}
    owners = con.execute(sql.OWNERS_SQL.format(minimum=min(minimum))).df().rename(columns={"ratio": "value"})
    owners = owners[np.array([row.n >= settings[row.publisher].r038_minimum_contracting_processes
                              for row in owners.itertuples()], bool)]
    fence = _fence_table(owners, ["publisher", "key", "grp"], lambda v, k: upper_fence(v, settings[k[0]].r038_threshold))
    owners = owners.merge(fence, on=["publisher", "key", "grp"])
    con.register("owners_flagged", owners[(owners["fence"] > 0) & (owners["value"] >= owners["fence"])])
    least = min(s.r048_minimum_contracting_processes for s in settings.values())
    suppliers = con.execute(sql.SUPPLIERS_SQL.format(minimum=least)).df().rename(columns={"size": "value"})
    fence = _fence_table(suppliers, ["publisher", "key"], lambda v, k: upper_fence(v, settings[k[0]].r048_threshold))
    suppliers = suppliers.merge(fence, on=["publisher", "key"])
    con.register("suppliers_flagged", suppliers[suppliers["value"] >= suppliers["fence"]])
    con.execute(f"CREATE TEMP VIEW flagged AS {sql.FLAGGED_SQL}")
    flags = ", ".join(f"sum({c.lower()}::INT)::DOUBLE AS flag_{c}" for c in FLAGS)
    sums = con.execute(sql.SUMS_SQL.format(flags=flags)).df()
    pairs = con.sql(sql.PAIRS_SQL).to_arrow_table().to_pandas()  # the largest frame: through Arrow is faster
    per_file = con.execute(sql.PER_FILE_SQL).df()
    reports = {f: PartitionReport(f, rows=line_counts.get(f, 0)) for f in files}
    for (source, kind), (count, line) in run.problems.items():
        reports[source].add(kind, count, line)
    for row in per_file.itertuples():
        reports[row.file].kept += int(row.kept)
        if row.undated:
            reports[row.file].add("no tender, contract or release date", int(row.undated), int(row.first_undated),
                                  note=True)
    sums = sums.astype({"year": "Int64", "_row": int, "_last_row": int}).rename(columns=str)
    return sums, pairs.astype({"year": "Int64", "n": int}), list(reports.values())
