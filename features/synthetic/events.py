"""Event-level tables of the synthetic world at scale (`nexus world --scale N`).

The default world writes its two small event files (crossings CSV, OCDS JSON) in Python
loops. At scale the same latent world must yield millions of rows, so every table here is
drawn with vectorised numpy and formatted with arrow string kernels, one year at a time:
each year is an independent partition with its own seeded generator (same seed → same
bytes), and memory stays bounded by one year. The planted-effects design is the default
world's: a country-year aggregate of each table carries one latent driver (see
`EVENT_SIGNALS`, written to `planted_truth_events.json`).

Tables (volumes are the world's per-country-year counts × scale):
procurement as OCDS compiled releases (JSON Lines) and as a flattened Parquet table with
one row per bid; border crossings, trafficking court cases and press incidents as Parquet.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from features.synthetic.latent import World, existing
from nexus.countries import synthetic_name
from nexus.manifest import atomic_path, atomic_write_text

TABLES = ("ocds", "bids", "crossings", "courts", "press")
PUBLISHER = "synthetic-world"
ROW_GROUP = 131_072  # several row groups per partition, so a reader can use both cores
METHODS = ("open", "selective", "limited", "direct")
TENDER_STATUS = ("complete", "active", "cancelled")
BID_STATUS = ("valid", "disqualified", "pending", "withdrawn", "invited")
AWARD_STATUS = ("active", "pending", "unsuccessful")
N_BUYERS, N_SUPPLIERS = 12, 97  # 97 is prime: a stride walk over suppliers never repeats one
ROUTES = ("land-north", "land-south", "sea-east", "sea-west", "air")
ROUTE_PRESSURE = np.array([0.0, 0.6, 0.4, -0.3, 0.0])  # route logits move with migration pressure
AGES = ("0-17", "18-34", "35-54", "55+")
OUTCOMES = ("convicted", "acquitted", "dismissed")
INCIDENTS = ("attack", "arrest", "killing", "threat", "censorship", "harassment")  # first three severe
EVENT_SIGNALS = {
    "procurement_capture": ["procurement_single_bid_share", "procurement_bids_single_bid_share",
                            "procurement_buyer_winner_hhi", "procurement_repeat_winner_share",
                            "procurement_short_period_share"],
    "migration_pressure": ["crossings_per_100k", "crossings_route_shift", "crossings_share_female",
                           "court_prosecutions_per_100k"],
    "judicial_weakness": ["court_conviction_rate", "court_median_duration_days"],
    "press_repression": ["press_incidents_per_million", "press_incidents_severe_share"],
}


@dataclass(frozen=True)
class EventVolumes:
    """Events per country-year at scale 1; every table is this × scale."""

    processes: int
    crossings: int
    court_cases: int
    press_incidents: int

    def times(self, scale: int) -> EventVolumes:
        return EventVolumes(self.processes * scale, self.crossings * scale, self.court_cases * scale,
                            self.press_incidents * scale)


def _logistic(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _rng(seed: int, table: str, j: int) -> np.random.Generator:
    return np.random.default_rng([seed, TABLES.index(table) + 101, j])


def _labels(values: Iterable[str], codes: np.ndarray) -> pa.Array:
    return pc.take(pa.array(list(values), pa.string()), pa.array(codes, pa.int32()))


def _digits(x: np.ndarray, width: int) -> pa.Array:
    return pc.utf8_lpad(pc.cast(pa.array(x, pa.int64()), pa.string()), width, "0")


def _iso(t: np.ndarray) -> pa.Array:
    return pc.strftime(pa.array(t.astype("datetime64[s]")), format="%Y-%m-%dT%H:%M:%SZ")


def _cat(*parts) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _write_parquet(table: pa.Table, path: Path) -> Path:
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, row_group_size=ROW_GROUP)
    return path


def _days(d: np.ndarray) -> np.ndarray:
    return d.astype("timedelta64[D]")


# ---------------------------------------------------------------- procurement


def procurement_year(world: World, j: int, per_cy: int, seed: int) -> tuple[dict, dict]:
    """One year's contracting processes and their bids as numpy arrays.

    Capture raises single bids, short tender periods, a buyer's favoured supplier winning,
    identical prices, disqualified lowest bids, all-but-winner disqualifications and late
    winning bids, so every red flag has work to do and the country-year shares carry it.
    """
    rng = _rng(seed, "bids", j)
    year = int(world.years[j])
    idx = np.flatnonzero(existing(world)[:, j])
    ci, number = np.repeat(idx, per_cy), np.tile(np.arange(per_cy), len(idx))
    n = len(ci)
    cap = world.drivers["procurement_capture"][ci, j]
    method = rng.choice(len(METHODS), n, p=[0.6, 0.2, 0.15, 0.05])
    u = rng.random(n)
    tender_status = np.where(u < 0.02, 2, np.where(u < 0.10, 1, 0))
    single = rng.random(n) < _logistic(-1.0 + 1.1 * cap)
    n_bids = np.where(single, 1, 2 + rng.poisson(4.5, n))
    tenderers = np.where(rng.random(n) < 0.02, -1, n_bids)  # -1: numberOfTenderers not published
    short = rng.random(n) < _logistic(-1.8 + 0.35 * cap)
    days = np.where(short, rng.integers(3, 15, n), rng.integers(16, 60, n))
    days = np.where(rng.random(n) < 0.002, -days, days)  # end before start, as real files have
    start = np.datetime64(f"{year}-01-01", "D") + _days(rng.integers(0, 330, n))
    end = start + _days(days)
    buyer = rng.integers(1, N_BUYERS + 1, n)
    favoured = rng.random(n) < _logistic(-1.5 + 1.0 * cap)
    first = np.where(favoured, (buyer * 31 + ci * 7) % N_SUPPLIERS, rng.integers(0, N_SUPPLIERS, n))
    stride = rng.integers(1, N_SUPPLIERS, n)

    m = int(n_bids.sum())
    proc = np.repeat(np.arange(n), n_bids)
    offsets = np.r_[0, np.cumsum(n_bids)[:-1]]
    k = np.arange(m) - offsets[proc]
    supplier_of_bid = (first[proc] + k * stride[proc]) % N_SUPPLIERS
    amount = np.round(rng.lognormal(11, 1, n)[proc] * rng.uniform(0.85, 1.3, m), 2)
    same = np.flatnonzero(((n_bids >= 2) & (rng.random(n) < _logistic(-4.0 + 0.8 * cap)))[proc] & (k == 1))
    amount[same] = amount[same - 1]
    u = rng.random(m)
    status = np.select([u < 0.04, u < 0.05, u < 0.06, u < 0.07], [1, 2, 3, 4], 0)
    lowest = np.lexsort((amount, proc))[offsets]
    low_disq = (n_bids >= 2) & (rng.random(n) < _logistic(-3.2 + 0.8 * cap))
    status[lowest[low_disq]] = 1
    status[offsets[favoured]] = 0
    key = np.where(status == 0, amount, np.inf)
    best = np.lexsort((key, proc))[offsets]
    winner = np.where(favoured, offsets, best)
    all_disq = (n_bids >= 2) & (rng.random(n) < _logistic(-3.0 + 0.9 * cap))
    status[all_disq[proc] & (np.arange(m) != winner[proc])] = 1
    u = rng.random(n)
    award_status = np.where(u < 0.03, 1, np.where(u < 0.05, 2, 0))
    award_status = np.where(favoured | np.isfinite(key[best]), award_status, 2)
    bid_date = start[proc] + _days((rng.random(m) * np.maximum(days, 1)[proc]).astype(int))
    late = np.flatnonzero(rng.random(n) < _logistic(-4.0 + 0.8 * cap))
    bid_date[winner[late]] = end[late] + _days(rng.integers(1, 4, len(late)))
    supplier = supplier_of_bid[winner]
    division = np.where(rng.random(n) < 0.1, rng.integers(10, 45, n), 10 + (supplier + ci) % 30)
    processes = dict(year=year, ci=ci, number=number, method=method, tender_status=tender_status,
                     tenderers=tenderers, start=start, end=end, buyer=buyer, award_status=award_status,
                     award_amount=amount[winner], supplier=supplier, division=division, n_bids=n_bids)
    bids = dict(proc=proc, k=k, supplier=supplier_of_bid, status=status, amount=amount, date=bid_date)
    return processes, bids


def _process_strings(world: World, p: dict) -> dict[str, pa.Array]:
    code = _labels(world.codes, p["ci"])
    return {"code": code, "country": _labels([synthetic_name(c) for c in world.codes], p["ci"]),
            "ocid": _cat("ocds-xsynth-", code, f"-{p['year']}-", _digits(p["number"], 6)),
            "buyer": _cat(code, "-B", _digits(p["buyer"], 2)),
            "supplier": _cat(code, "-S", _digits(p["supplier"], 3))}


def bids_table(world: World, p: dict, b: dict) -> pa.Table:
    """The flattened form: one row per bid, the process's fields repeated on each."""
    s = _process_strings(world, p)
    at = pa.array(b["proc"], pa.int32())
    take = lambda arr: pc.take(arr, at)  # noqa: E731
    # where the publisher left numberOfTenderers out, the flattener counts the submitted bids
    submitted = np.bincount(b["proc"], weights=(b["status"] < 3), minlength=len(p["tenderers"])).astype(int)
    tenderers = pa.array(np.where(p["tenderers"] < 0, submitted, p["tenderers"]), pa.int32())
    return pa.table({
        "ocid": take(s["ocid"]), "buyer_id": take(s["buyer"]), "buyer_country": take(s["country"]),
        "procurement_method": take(_labels(METHODS, p["method"])),
        "number_of_tenderers": take(tenderers),
        "tender_status": take(_labels(TENDER_STATUS, p["tender_status"])),
        "tender_start": take(pa.array(p["start"].astype("datetime64[s]"))),
        "tender_end": take(pa.array(p["end"].astype("datetime64[s]"))),
        "bid_index": pa.array(b["k"], pa.int32()),
        "bid_status": _labels(BID_STATUS, b["status"]),
        "bid_amount": pa.array(b["amount"]), "bid_currency": pa.array(np.full(len(at), "XTS")),
        "tenderer_id": _cat(take(s["code"]), "-S", _digits(b["supplier"], 3)),
        "bid_date": pa.array(b["date"].astype("datetime64[s]")),
        "award_status": take(_labels(AWARD_STATUS, p["award_status"])),
        "award_amount": take(pa.array(p["award_amount"])), "supplier_id": take(s["supplier"]),
    })


def ocds_lines(world: World, p: dict, b: dict) -> pa.Array:
    """The same processes as OCDS 1.1 compiled releases, one JSON document per element."""
    s = _process_strings(world, p)
    code_of_bid = pc.take(s["code"], pa.array(b["proc"], pa.int32()))
    bid_json = _cat('{"id":"b', _digits(b["k"], 1), '","status":"', _labels(BID_STATUS, b["status"]),
                    '","date":"', _iso(b["date"]), '","tenderers":[{"id":"', code_of_bid, "-S",
                    _digits(b["supplier"], 3), '"}],"value":{"amount":',
                    pc.cast(pa.array(b["amount"]), pa.string()), ',"currency":"XTS"}}')
    offsets = pa.array(np.r_[0, np.cumsum(p["n_bids"])], pa.int32())
    bids = pc.binary_join(pa.ListArray.from_arrays(offsets, bid_json), ",")
    has_n = pa.array(p["tenderers"] >= 0)
    count = pc.cast(pa.array(p["tenderers"]), pa.string())
    n_part = pc.if_else(has_n, _cat('"numberOfTenderers":', count, ","), "")
    buyer = _cat('{"id":"', s["buyer"], '","name":"Ministry ', s["buyer"], '"}')
    end = _iso(p["end"])
    return _cat(
        '{"ocid":"', s["ocid"], '","id":"1","date":"', end, '","tag":["compiled"],"initiationType":"tender",',
        '"parties":[{"id":"', s["buyer"], '","name":"Ministry ', s["buyer"],
        '","roles":["buyer","procuringEntity"],"address":{"countryName":"', s["country"], '"}}],',
        '"buyer":', buyer, ',"tender":{"id":"T', _digits(p["number"], 1), '","status":"',
        _labels(TENDER_STATUS, p["tender_status"]), '","procurementMethod":"', _labels(METHODS, p["method"]),
        '",',
        n_part, '"procuringEntity":', buyer, ',"tenderPeriod":{"startDate":"', _iso(p["start"]),
        '","endDate":"', end, '"}},"bids":{"details":[', bids, ']},"awards":[{"id":"a1","status":"',
        _labels(AWARD_STATUS, p["award_status"]), '","value":{"amount":',
        pc.cast(pa.array(p["award_amount"]), pa.string()), ',"currency":"XTS"},"suppliers":[{"id":"',
        s["supplier"], '"}],"items":[{"id":"1","classification":{"scheme":"CPV","id":"',
        _digits(p["division"], 2), '000000"}}]}]}')


# ---------------------------------------------------------------- other event tables


def crossings_year(world: World, j: int, per_cy: int, seed: int) -> pa.Table:
    """Crossing records as in the default world, with routes that follow migration pressure."""
    rng = _rng(seed, "crossings", j)
    n = len(world.codes)
    pressure = world.drivers["migration_pressure"][:, j]
    rows_i = np.repeat(np.flatnonzero(existing(world)[:, j]), per_cy)
    k = len(rows_i)
    expected = np.exp(3.2 + 0.55 * pressure) * world.population[:, j] / 1e5
    weights = rng.gamma(2.0, 1.0, k)
    counts = rng.poisson(expected[rows_i] * weights / np.bincount(rows_i, weights, n)[rows_i]) + 1
    female = rng.random(k) < _logistic(-0.4 + 0.25 * pressure[rows_i])
    logits = ROUTE_PRESSURE[None, :] * pressure[rows_i, None]
    cum = np.cumsum(np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True), axis=1)
    route = np.minimum((rng.random(k)[:, None] > cum).sum(axis=1), len(ROUTES) - 1)
    age = rng.choice(len(AGES), k, p=[0.15, 0.5, 0.28, 0.07])
    date = np.datetime64(f"{world.years[j]}-01-01", "D") + _days(rng.integers(0, 365, k))
    order = np.argsort(date, kind="stable")
    return pa.table({"date": pa.array(date[order]), "nationality": _labels(
        [synthetic_name(c) for c in world.codes], rows_i[order]), "route": _labels(ROUTES, route[order]),
        "count": pa.array(counts[order], pa.int64()), "sex": _labels(("M", "F"), female[order].astype(int)),
        "age_group": _labels(AGES, age[order])})


def _per_capita_counts(world: World, j: int, per_cy: int, effect: np.ndarray, rng) -> np.ndarray:
    exists = existing(world)[:, j]
    size = np.sqrt(world.population[:, j] / np.median(world.population[:, j]))
    return np.where(exists, rng.poisson(per_cy * np.exp(effect) * size), 0)


def courts_year(world: World, j: int, per_cy: int, seed: int, last_year: int) -> pa.Table:
    """Trafficking cases filed in the year: weak courts convict less and take longer."""
    rng = _rng(seed, "courts", j)
    weak = world.drivers["judicial_weakness"][:, j]
    counts = _per_capita_counts(world, j, per_cy,
                                0.35 * world.drivers["migration_pressure"][:, j] - 0.35 * weak, rng)
    ci = np.repeat(np.arange(len(counts)), counts)
    k = len(ci)
    filed = np.datetime64(f"{world.years[j]}-01-01", "D") + _days(rng.integers(0, 365, k))
    duration = np.maximum(1, rng.lognormal(np.log(240) + 0.4 * weak[ci], 0.55)).astype(int)
    decided = filed + _days(duration)
    pending = decided > np.datetime64(f"{last_year}-12-31", "D")
    convicted = rng.random(k) < _logistic(0.5 - 0.9 * weak[ci])
    outcome = np.where(convicted, 0, np.where(rng.random(k) < 0.7, 1, 2))
    number = np.arange(k) - np.repeat(np.r_[0, np.cumsum(counts)[:-1]], counts)
    code = _labels(world.codes, ci)
    return pa.table({
        "case_id": _cat(code, f"-{world.years[j]}-", _digits(number, 6)),
        "country": _labels([synthetic_name(c) for c in world.codes], ci),
        "court": _cat("District Court ", _digits(rng.integers(1, 9, k), 1)),
        "offence": pa.array(np.full(k, "trafficking in persons")),
        "filed_date": pa.array(filed), "decided_date": pa.array(decided, mask=pending),
        "outcome": pc.if_else(pa.array(pending), "pending", _labels(OUTCOMES, outcome)),
        "defendants": pa.array(1 + rng.poisson(0.8, k), pa.int32()),
    })


def press_year(world: World, j: int, per_cy: int, seed: int) -> pa.Table:
    """Incidents against journalists: more, and more severe, where the press is repressed."""
    rng = _rng(seed, "press", j)
    rep = world.drivers["press_repression"][:, j]
    counts = _per_capita_counts(world, j, per_cy, 0.5 * rep, rng)
    ci = np.repeat(np.arange(len(counts)), counts)
    k = len(ci)
    severe = rng.random(k) < _logistic(-0.8 + 0.6 * rep[ci])
    kind = np.where(severe, rng.choice(3, k, p=[0.5, 0.4, 0.1]), 3 + rng.choice(3, k, p=[0.5, 0.3, 0.2]))
    number = np.arange(k) - np.repeat(np.r_[0, np.cumsum(counts)[:-1]], counts)
    return pa.table({
        "incident_id": _cat(_labels(world.codes, ci), f"-{world.years[j]}-", _digits(number, 5)),
        "date": pa.array(np.datetime64(f"{world.years[j]}-01-01", "D") + _days(rng.integers(0, 365, k))),
        "country": _labels([synthetic_name(c) for c in world.codes], ci),
        "type": _labels(INCIDENTS, kind), "journalists": pa.array(1 + rng.poisson(0.3, k), pa.int32()),
    })


# ---------------------------------------------------------------- writing

FOLDERS = {"ocds": "ocds", "bids": "procurement_bids", "crossings": "border_crossings",
           "courts": "court_cases", "press": "press_incidents"}


def remove_stale(raw: Path, scale: int) -> None:
    """Delete event files of the other layout, so a rewrite at a new scale never mixes the two."""
    raw = Path(raw)
    stale = ([*raw.glob("border_crossings/*.csv")] if scale > 1 else
             [*raw.glob("border_crossings/*.parquet"), *raw.glob("procurement_bids/**/*.parquet"),
              *raw.glob("court_cases/*.parquet"), *raw.glob("press_incidents/*.parquet"),
              *raw.glob("planted_truth_events.json")])
    for path in stale:
        path.unlink()


def world_scale(raw: Path) -> int:
    """The scale of the world written in `raw` (1 when it has no event tables)."""
    path = Path(raw) / "planted_truth_events.json"
    return int(json.loads(path.read_text(encoding="utf-8")).get("scale") or 1) if path.exists() else 1


def write_event_tables(world: World, raw: Path, seed: int, volumes: EventVolumes,
                       tables: Iterable[str] = TABLES, progress: Callable[[str], None] | None = None,
                       scale: int | None = None) -> dict[str, list[Path]]:
    """Write the chosen tables under `raw`, one Parquet partition per year (OCDS: one file).

    Returns the files by raw folder; `scale` is only recorded in planted_truth_events.json.
    """
    raw, tables = Path(raw), tuple(tables)
    unknown = set(tables) - set(TABLES)
    if unknown:
        raise ValueError(f"unknown event tables {sorted(unknown)}; known: {TABLES}")
    step = progress or (lambda msg: None)
    files: dict[str, list[Path]] = {FOLDERS[t]: [] for t in tables}
    last_year = int(world.years[-1])
    if "ocds" in tables or "bids" in tables:
        step(f"procurement: {volumes.processes} processes per country-year")
        ocds_path = raw / "ocds" / PUBLISHER / "compiled_releases.jsonl"
        with contextlib.ExitStack() as stack:
            out = None
            if "ocds" in tables:
                tmp = stack.enter_context(atomic_path(ocds_path))
                out = stack.enter_context(open(tmp, "w", encoding="utf-8"))
                files["ocds"].append(ocds_path)
            for j, year in enumerate(world.years):
                p, b = procurement_year(world, j, volumes.processes, seed)
                if "bids" in tables:
                    path = raw / "procurement_bids" / PUBLISHER / f"bids_{year}.parquet"
                    files["procurement_bids"].append(_write_parquet(bids_table(world, p, b), path))
                if out is not None:
                    out.write("\n".join(ocds_lines(world, p, b).to_pylist()) + "\n")
    writers = {
        "crossings": ("crossings", lambda j: crossings_year(world, j, volumes.crossings, seed)),
        "courts": ("cases", lambda j: courts_year(world, j, volumes.court_cases, seed, last_year)),
        "press": ("incidents", lambda j: press_year(world, j, volumes.press_incidents, seed)),
    }
    for table, (stem, make) in writers.items():
        folder = FOLDERS[table]
        if table in tables:
            step(f"{folder}: Parquet partitions per year")
            files[folder] = [_write_parquet(make(j), raw / folder / f"{stem}_{year}.parquet")
                            for j, year in enumerate(world.years)]
    atomic_write_text(raw / "planted_truth_events.json", json.dumps(
        {"description": "Which latent driver each event-level aggregate carries "
                        "(features/synthetic/events.py).",
         "seed": seed, "scale": scale, "volumes_per_country_year": volumes.__dict__,
         "driver_signals": EVENT_SIGNALS}, indent=2))
    return files
