"""What every source builder is handed: the bad-input policy with its report, and where tasks run.

The panel builder makes one `BuildContext` per build (policy from params `features.bad_input`,
executor from params `dask`) and passes it to every `source.build(files, context)`; nothing
about a build is read from ambient state. Event builders scan partitions through
`context.map_tasks` and hand their partition reports to `context.record_reports`, which keeps
them in `context.quality` and, under `refuse`, raises the first problem.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

from nexus.errors import SourceDataError

BAD_INPUT = ("refuse", "quarantine")
QUALITY_FILE = "quality.json"
OCDS_TEMP_PREFIX = "nexus-ocds-"  # + owner pid (nexus.processes.owned_temp_dir): spill folders of OCDS builds
POOL_MIN_BYTES = 16 << 20  # below this, starting worker processes costs more than it saves


@dataclass
class PartitionReport:
    """What one partition held: rows, rows kept, problems (count and first 1-based row)."""

    path: str
    rows: int = 0
    kept: int = 0
    problems: dict[str, list[int]] = field(default_factory=dict)  # problem -> [count, first row]
    notes: dict[str, list[int]] = field(default_factory=dict)  # counted but not refused (e.g. undated)
    error: str | None = None

    def add(self, problem: str, count: int, first_row: int | None, note: bool = False) -> None:
        if count:
            table = self.notes if note else self.problems
            n, row = table.get(problem, [0, None])
            rows = [r for r in (row, first_row) if r is not None]
            table[problem] = [n + int(count), min(rows) if rows else None]


@dataclass
class QualityReport:
    """Per table and partition counts of what a build read, kept and left out."""

    policy: str
    tables: dict[str, list[PartitionReport]] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"policy": self.policy, "tables": {name: [asdict(p) for p in parts]
                                                  for name, parts in self.tables.items()}}

    def summary(self) -> str:
        out = []
        for name, parts in self.tables.items():
            bad = [p for p in parts if p.error or p.problems]
            rows = sum(p.rows for p in parts)
            left = rows - sum(p.kept for p in parts if not p.error)
            out.append(f"{name}: {len(parts)} partitions, {rows} rows, {len(bad)} with problems, "
                       f"{left} rows left out")
        return "; ".join(out)


@dataclass(frozen=True)
class BuildContext:
    """One build's bad-input policy (and the report it fills) and its task executor.

    `partition_map(fn, items) -> list` runs a builder's independent tasks elsewhere (Dask);
    None runs them here. `duckdb_threads` caps DuckDB's threads per task (a worker's share);
    None lets DuckDB use every core. `ocds_engine` is params `features.ocds_engine`.
    """

    quality: QualityReport
    partition_map: Callable | None = None
    duckdb_threads: int | None = None
    ocds_engine: str = "columnar"

    @classmethod
    def for_policy(cls, policy: str, partition_map: Callable | None = None,
                   duckdb_threads: int | None = None, ocds_engine: str = "columnar") -> BuildContext:
        """A context with a fresh QualityReport under `policy` (one of BAD_INPUT)."""
        if policy not in BAD_INPUT:
            raise ValueError(f"bad_input must be one of {BAD_INPUT}, not {policy!r}")
        return cls(QualityReport(policy), partition_map, duckdb_threads, ocds_engine)

    @property
    def policy(self) -> str:
        return self.quality.policy

    def map_tasks(self, fn: Callable, items: Sequence, *, cpu_bound: bool = False,
                  input_bytes: int = 0) -> list:
        """Run fn over items: on the context's executor (Dask), else here.

        Pure-Python work (`cpu_bound`) on enough input runs on a local process pool, one
        process per core; DuckDB scans already use every core, so they run in this process.
        """
        if self.partition_map is not None:
            return list(self.partition_map(fn, items))
        cores = os.cpu_count() or 1
        # Forking from a non-main thread (e.g. the service loading a model in the background)
        # can deadlock or crash the child, so only the main thread uses the process pool.
        on_main_thread = threading.current_thread() is threading.main_thread()
        if cpu_bound and on_main_thread and cores > 1 and len(items) > 1 and input_bytes >= POOL_MIN_BYTES:
            from concurrent.futures import ProcessPoolExecutor

            from nexus.processes import die_with_parent

            with ProcessPoolExecutor(min(cores, len(items)), initializer=die_with_parent) as pool:
                return list(pool.map(fn, items))
        return [fn(x) for x in items]

    def record_reports(self, name: str, reports: list[PartitionReport]) -> None:
        """Keep a table's partition reports in the QualityReport; under `refuse`, raise the
        first problem (naming file, row, problem and its count)."""
        self.quality.tables[name] = reports
        if self.policy == "quarantine":
            return
        for r in reports:
            if r.error:
                raise SourceDataError(r.path, None, r.error)
            if r.problems:
                label, (count, row) = min(r.problems.items(), key=lambda kv: (kv[1][1] or 0, kv[0]))
                others = [k for k in r.problems if k != label]
                more = f"; also {', '.join(others)}" if others else ""
                rows = f"{count} row{'s' * (count != 1)}"
                raise SourceDataError(r.path, row, f"{label} ({rows} in this partition{more})")
