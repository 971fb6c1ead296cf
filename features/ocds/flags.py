"""OCDS red flags for files of any size: a two-pass, partitioned driver around `features.ocds.reader`.

Cardinal's outlier fences need every process of a country at once, and a million parsed
releases do not fit in memory (several kB each as Python objects). So pass 1 splits each
JSON Lines file into byte ranges and copies every line, unparsed, into a spill file per
buyer country (found by a regex on the raw line, or the publisher's country); pass 2 parses
one country at a time, runs `process_flags` on it and reduces it to country-year partial
sums and buyer–winner pairs. Peak memory is one country's releases; both passes are maps
over independent tasks, so they run on local processes or on a Dask cluster (which then
needs the spill folder on shared storage: set TMPDIR). Release and record packages (small
real files) are read whole by `read_compiled_releases`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from features.build_context import OCDS_TEMP_PREFIX, PartitionReport
from features.ocds.reader import process_flags, read_compiled_releases
from features.ocds.settings import RedFlagSettings
from nexus.processes import owned_temp_dir

CHUNK_BYTES = 64 << 20
FLAGS = ("R024", "R028", "R030", "R035", "R036", "R038", "R048", "R058")  # per-process shares
SUMS = ("processes", "single_n", "single_k", "short_n", "short_k", "single_vn", "single_vk",
        "short_vn", "short_vk", "bid_n", "bids", *(f"flag_{c}" for c in FLAGS))
_COUNTRY = re.compile(rb'"countryName"\s*:\s*"((?:[^"\\]|\\.)*)"')
_PACKAGE_KEYS = frozenset({"releases", "records", "compiledRelease"})
_WHOLE_FILE_MAX = 256 << 20  # a file whose first line is not JSON is tried as one document below this


@dataclass(frozen=True)
class Publisher:
    """Facts about one publisher folder: its country (national systems) and codelist quirks."""

    country: str | None = None
    settings: RedFlagSettings = field(default_factory=RedFlagSettings)


# Publisher folders under raw/ocds/ (SOURCES.md section 12). National systems publish only their
# own buyers, some without a buyer address, so their country is declared here; Armenia and
# ProZorro use their own bid statuses, which Cardinal's `prepare` step re-maps to the codelist.
PUBLISHERS: dict[str, Publisher] = {
    "ondata-appaltipop": Publisher("ITA", RedFlagSettings(r018_procurement_methods=frozenset())),
    "colombia-cce": Publisher("COL"),
    "moldova-ppa": Publisher("MDA", RedFlagSettings(
        r018_procurement_methods=frozenset({"Licitaţie publică"}))),
    "armenia-armeps": Publisher("ARM", RedFlagSettings(
        bid_status_map={"qualified": "valid", "not-qualified": "disqualified"})),
    "ukraine-prozorro": Publisher("UKR", RedFlagSettings(bid_status_map={"active": "valid"})),
}


def publisher_of(path: Path | str) -> str:
    """The publisher folder of a file: the first folder under `ocds/` (or the file's folder)."""
    parts = Path(path).parts
    return parts[parts.index("ocds") + 1] if "ocds" in parts[:-1] else Path(path).parent.name


def publisher(name: str) -> Publisher:
    return PUBLISHERS.get(name, Publisher())


@dataclass(frozen=True)
class Chunk:
    """A byte range [start, end) of a JSON Lines file, or a whole package (end = -1)."""

    path: str
    start: int
    end: int
    index: int


def is_json_lines(path: Path) -> bool:
    """JSON Lines unless the file is one document (a package, record or array), as the reader reads it."""
    with open(path, "rb") as f:
        first = next((line for line in f if line.strip()), None)
    if first is None:
        return True
    try:
        head = json.loads(first)
    except ValueError:
        if path.stat().st_size > _WHOLE_FILE_MAX:
            return True
        try:
            json.loads(path.read_bytes())
            return False
        except ValueError:
            return True
    return isinstance(head, dict) and not _PACKAGE_KEYS & head.keys()


def plan_chunks(path: Path, chunk_bytes: int = CHUNK_BYTES) -> list[Chunk]:
    """Byte ranges that end on line breaks; a package (one JSON document) is one chunk."""
    path = Path(path)
    size = path.stat().st_size
    if not is_json_lines(path):
        return [Chunk(str(path), 0, -1, 0)]
    with open(path, "rb") as f:
        bounds = [0]
        while bounds[-1] + chunk_bytes < size:
            f.seek(bounds[-1] + chunk_bytes)
            f.readline()
            if f.tell() >= size:
                break
            bounds.append(f.tell())
    bounds.append(size)
    return [Chunk(str(path), a, b, i) for i, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False))]


def _key(raw: bytes, default: str | None) -> str:
    if default:
        return default
    found = {m.group(1) for m in _COUNTRY.finditer(raw)}
    return found.pop().decode("utf-8", "replace") if len(found) == 1 else ""


def route_chunk(chunk: Chunk, spill_dir: str,
                default_country: str | None) -> tuple[Chunk, int, dict[str, str]]:
    """Pass 1: copy each line of the chunk, with its chunk-relative line number, into the
    spill file of its country. Returns the chunk, its line count and the spill files."""
    out: dict[str, object] = {}
    files: dict[str, str] = {}

    def sink(key: str):
        if key not in out:
            name = hashlib.sha1(key.encode()).hexdigest()[:16]
            source = hashlib.sha1(chunk.path.encode()).hexdigest()[:12]
            files[key] = os.path.join(spill_dir, f"{name}.{source}.{chunk.index:05d}.spill")
            out[key] = open(files[key], "ab")
        return out[key]

    lines = 0
    try:
        if chunk.end < 0:  # a package: parse it whole, spill one release per line
            for position, release in read_compiled_releases(Path(chunk.path)):
                raw = json.dumps(release, separators=(",", ":")).encode()
                sink(_key(raw, default_country)).write(b"%d\t%s\n" % (position, raw))
                lines = max(lines, position)
            return chunk, lines, files
        with open(chunk.path, "rb") as f:
            f.seek(chunk.start)
            for raw in iter(f.readline, b""):
                lines += 1
                if raw.strip():
                    sink(_key(raw, default_country)).write(b"%d\t%s" % (lines, raw if raw.endswith(b"\n")
                                                                         else raw + b"\n"))
                if f.tell() >= chunk.end:
                    break
    finally:
        for handle in out.values():
            handle.close()
    return chunk, lines, files


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def flag_country(parts: Sequence[tuple[str, str, int]], publisher_name: str,
                 problems: dict) -> pd.DataFrame | None:
    """Pass 2 for one country: parse its spilled lines and flag them, one row per process.

    `parts` are (spill file, source file, line offset) in source order. Lines that are not
    JSON objects or have no string ocid are counted in `problems` (Cardinal skips them).
    """
    releases, where, tenderers = [], {}, {}
    for spill, source, offset in parts:
        with open(spill, "rb") as f:
            for record in f:
                number, _, raw = record.partition(b"\t")
                line = int(number) + offset
                try:
                    release = json.loads(raw, parse_constant=_reject_constant)
                except (ValueError, RecursionError):
                    _count(problems, source, "not JSON", line)
                    continue
                if not isinstance(release, dict):
                    _count(problems, source, "not JSON", line)
                    continue
                if not isinstance(release.get("ocid"), str):
                    _count(problems, source, "missing ocid", line)
                    continue
                releases.append(release)
                where[release["ocid"]] = (source, line)
                tender = release.get("tender")
                n = tender.get("numberOfTenderers") if isinstance(tender, dict) else None
                tenderers[release["ocid"]] = n if type(n) is int else None
    if not releases:
        return None
    facts = publisher(publisher_name)
    frame = process_flags(releases, facts.settings)
    del releases
    frame = frame[~frame["excluded"].astype(bool)]
    located = frame["ocid"].map(where)
    methods = facts.settings.r018_procurement_methods
    keep = ["buyer_id", "winner_ids", "year", "award_value", "n_bids_submitted", "n_tenderers_listed",
            "short_submission_period", *(c for c in FLAGS if c in frame)]
    return frame[keep].assign(
        country=facts.country if facts.country else frame["buyer_country"].astype(object).fillna(""),
        competitive=frame["procurement_method"].isin(methods) if methods else True,
        n_tenderers=frame["ocid"].map(tenderers).astype("Float64"),
        _file=located.str[0], _row=located.str[1])


def flag_batch(buckets: Sequence[tuple[Sequence[tuple[str, str, int]], str]]) -> dict:
    """Pass 2 task: several countries flagged one at a time, then reduced together."""
    problems: dict = {}
    frames = [f for parts, name in buckets if (f := flag_country(parts, name, problems)) is not None]
    if not frames:
        return {"sums": pd.DataFrame(), "pairs": pd.DataFrame(), "problems": problems, "kept": {},
                "undated": {}}
    return {**reduce_processes(pd.concat(frames, ignore_index=True)), "problems": problems}


def _count(problems: dict, source: str, kind: str, line: int) -> None:
    entry = problems.setdefault((source, kind), [0, line])
    entry[0] += 1
    entry[1] = min(entry[1], line)


def reduce_processes(f: pd.DataFrame) -> dict:
    """Flagged processes (from `flag_country`) → partial sums per (country, year) and pair counts.

    Bidders are numberOfTenderers when it is a JSON integer, else the submitted bids, else the
    listed tenderers (Italy); the single-bid share counts competitive processes (the
    publisher's R018 methods; none configured = all) with a known bidder count.
    """
    bidders = (f["n_tenderers"].fillna(f["n_bids_submitted"].astype("Float64"))
               .fillna(f["n_tenderers_listed"].astype("Float64")))
    single_ok = f["competitive"].to_numpy(bool) & bidders.notna().to_numpy(bool)
    single = single_ok & (bidders == 1).fillna(False).to_numpy(bool)
    short_ok = f["short_submission_period"].notna().to_numpy(bool)
    short = short_ok & f["short_submission_period"].fillna(False).to_numpy(bool)
    v = np.nan_to_num(f["award_value"].to_numpy(float), nan=0.0)
    bids = f["n_bids_submitted"].astype("Float64")
    per = pd.DataFrame({
        "country": f["country"].to_numpy(object), "year": f["year"].to_numpy(),
        "_file": f["_file"].to_numpy(), "_row": f["_row"].to_numpy(), "processes": 1.0,
        "single_n": single_ok, "single_k": single,
        "short_n": short_ok, "short_k": short, "single_vn": v * single_ok, "single_vk": v * single,
        "short_vn": v * short_ok, "short_vk": v * short, "bid_n": bids.notna().to_numpy(bool),
        "bids": bids.fillna(0).to_numpy(float),
        **{f"flag_{c}": (f[c].to_numpy(bool) if c in f else False) for c in FLAGS}})
    per[list(SUMS)] = per[list(SUMS)].astype(float)
    dated = per["year"].notna().to_numpy()
    undated = per[~dated].groupby("_file")["_row"].agg(["size", "min"])
    kept = per[dated].groupby("_file").size()
    per = per[dated]
    g = per.groupby(["country", "year"], sort=False)
    first = per.loc[g["_row"].idxmin(), ["country", "year", "_file", "_row"]].set_index(["country", "year"])
    sums = g[list(SUMS)].sum().join(first).join(g["_row"].max().rename("_last_row")).reset_index()
    pairs = (f.loc[f["buyer_id"].notna() & f["year"].notna(), ["country", "year", "buyer_id", "winner_ids"]]
             .explode("winner_ids").dropna(subset=["winner_ids"]))
    pairs = (pairs.groupby(["country", "year", "buyer_id", "winner_ids"], sort=False).size()
             .rename("n").reset_index().rename(columns={"buyer_id": "buyer", "winner_ids": "winner"}))
    return {"sums": sums, "pairs": pairs, "kept": kept.to_dict(),
            "undated": {k: (int(r["size"]), int(r["min"])) for k, r in undated.iterrows()}}


def process_partials(files: Sequence[Path], map_fn: Callable, chunk_bytes: int = CHUNK_BYTES,
                     spill_root: str | None = None,
                     ) -> tuple[pd.DataFrame, pd.DataFrame, list[PartitionReport]]:
    """Both passes over every file: (country-year sums, pair counts, one report per file).

    `map_fn(fn, items) -> list` runs the tasks (here, on local processes, or on Dask).
    """
    with owned_temp_dir(OCDS_TEMP_PREFIX, spill_root) as spill:
        chunks = [c for p in files for c in plan_chunks(Path(p), chunk_bytes)]
        routed = map_fn(_route_task, [(c, spill, publisher(publisher_of(c.path)).country) for c in chunks])
        line_counts: dict[str, int] = {}
        buckets: dict[tuple[str, str], list] = {}
        for chunk, lines, spilled in sorted(routed, key=lambda r: (r[0].path, r[0].start)):
            offset = line_counts.get(chunk.path, 0)
            line_counts[chunk.path] = offset + lines
            for key, spill_file in spilled.items():
                bucket = buckets.setdefault((publisher_of(chunk.path), key), [])
                bucket.append((spill_file, chunk.path, offset))
        results = map_fn(flag_batch, _batches([(parts, name) for (name, _), parts in buckets.items()]))
    reports = {str(p): PartitionReport(str(p), rows=line_counts.get(str(p), 0)) for p in files}
    sums, pairs = [], []
    for result in results:
        for (source, kind), (count, line) in result["problems"].items():
            reports[source].add(kind, count, line)
        for source, (count, line) in result["undated"].items():
            reports[source].add("no tender, contract or release date", count, line, note=True)
        for source, count in result["kept"].items():
            reports[source].kept += int(count)
        if len(result["sums"]):
            sums.append(result["sums"])
            pairs.append(result["pairs"])
    return (pd.concat(sums, ignore_index=True) if sums else pd.DataFrame(),
            pd.concat(pairs, ignore_index=True) if pairs else pd.DataFrame(), list(reports.values()))


def _route_task(args):
    return route_chunk(*args)


def _batches(buckets: list, tasks_per_core: int = 4) -> list[list]:
    """Countries grouped into tasks of similar spilled size: enough tasks to keep every core
    busy, few enough that pandas' per-call cost does not dominate small countries."""
    size = {id(b): sum(os.path.getsize(p) for p, _, _ in b[0]) for b in buckets}
    target = max(sum(size.values()) / (tasks_per_core * (os.cpu_count() or 1)), 4 << 20)
    batches, current, filled = [], [], 0.0
    for bucket in buckets:
        current.append(bucket)
        filled += size[id(bucket)]
        if filled >= target:
            batches.append(current)
            current, filled = [], 0.0
    return batches + ([current] if current else [])
