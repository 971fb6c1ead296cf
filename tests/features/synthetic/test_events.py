"""The scale generator: deterministic by seed, volumes × scale, and the planted signal survives aggregation."""

import hashlib
import json
from pathlib import Path

import pytest

from features.build_context import BuildContext
from features.registry import get_source
from features.synthetic.events import EVENT_SIGNALS, FOLDERS, EventVolumes, world_scale, write_event_tables
from features.synthetic.files import write_population
from features.synthetic.latent import simulate

VOLUMES = EventVolumes(processes=16, crossings=40, court_cases=10, press_incidents=6)


def _digests(raw: Path) -> dict[str, str]:
    return {p.relative_to(raw).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(raw.rglob("*")) if p.is_file()}


def test_same_seed_writes_the_same_bytes_and_another_seed_does_not(tmp_path):
    world = simulate(11, 12, 2010, 2012)
    for name in ("a", "b"):
        write_event_tables(world, tmp_path / name, 11, VOLUMES.times(2))
    write_event_tables(world, tmp_path / "c", 12, VOLUMES.times(2))
    a, b, c = (_digests(tmp_path / n) for n in "abc")
    assert a == b
    assert len(a) == 1 + 3 * 4 + 1  # OCDS + 3 years × 4 Parquet tables + truth
    assert {k for k in a if a[k] != c.get(k)} >= {k for k in a if k.endswith(".parquet") or k.endswith(".jsonl")}


def test_volumes_grow_with_scale_and_ocds_holds_every_process(tmp_path):
    import pyarrow.dataset as ds

    world = simulate(3, 15, 2010, 2011)
    country_years = int((world.years[None, :] >= world.entry_year[:, None]).sum())
    files = write_event_tables(world, tmp_path, 3, VOLUMES.times(3))
    assert set(files) == set(FOLDERS.values())
    with open(files["ocds"][0], encoding="utf-8") as f:
        releases = [json.loads(line) for line in f]
    assert len(releases) == len({r["ocid"] for r in releases}) == 16 * 3 * country_years
    bids = ds.dataset(files["procurement_bids"]).to_table()
    assert bids.num_rows == sum(len(r["bids"]["details"]) for r in releases)
    assert ds.dataset(files["border_crossings"]).count_rows() == 40 * 3 * country_years
    statuses = {b["status"] for r in releases for b in r["bids"]["details"]}
    assert statuses == {"valid", "disqualified", "pending", "withdrawn", "invited"}
    assert {r["tender"]["status"] for r in releases} == {"complete", "active", "cancelled"}
    assert world_scale(tmp_path) == 1  # write_event_tables alone records no scale


def test_default_world_keeps_its_two_small_event_files(world_dir):
    assert not list(world_dir.rglob("*.parquet")) and not (world_dir / "planted_truth_events.json").exists()
    assert len(list((world_dir / "border_crossings").glob("crossings_*.csv"))) == 25
    assert [p.name for p in (world_dir / "ocds").rglob("*")] == ["synthetic-world", "compiled_releases.jsonl"]


def test_world_at_scale_replaces_the_small_event_files(tmp_path):
    from features.synthetic import write_world

    write_world(tmp_path, 5, 12, 2010, 2011, 40, 16)
    assert list(tmp_path.glob("border_crossings/*.csv"))
    write_world(tmp_path, 5, 12, 2010, 2011, 40, 16, scale=2)
    assert not list(tmp_path.glob("border_crossings/*.csv")) and world_scale(tmp_path) == 2
    write_world(tmp_path, 5, 12, 2010, 2011, 40, 16)
    assert not list(tmp_path.rglob("*.parquet")) and world_scale(tmp_path) == 1


@pytest.fixture(scope="module")
def aggregates(tmp_path_factory):
    """Every event builder on a 60-country world at scale 3, joined to the latent drivers."""
    raw = tmp_path_factory.mktemp("planted")
    world = simulate(20240501, 60, 2008, 2011)
    write_event_tables(world, raw, 20240501, VOLUMES.times(3))
    write_population(world, raw)
    pop = [raw / "wb_wdi" / "population.csv"]
    context = BuildContext.for_policy("refuse")
    built = [get_source("procurement_signals").build({"releases": sorted(raw.glob("ocds/*/*.jsonl"))}, context),
             get_source("procurement_bids").build({"bids": sorted(raw.glob("procurement_bids/*/*.parquet"))}, context),
             get_source("border_crossings").build({"partitions": sorted(raw.glob("border_crossings/*.parquet")),
                                                   "population": pop}, context),
             get_source("court_cases").build({"cases": sorted(raw.glob("court_cases/*.parquet")), "population": pop}, context),
             get_source("press_incidents").build({"incidents": sorted(raw.glob("press_incidents/*.parquet")),
                                                  "population": pop}, context)]
    def public(b):   # without the builders' private columns (row, file, the rows each value was made of)
        return b[[c for c in b.columns if not c.startswith("_")]]

    frame = public(built[0])
    for b in built[1:]:
        frame = frame.merge(public(b), on=["iso3", "year"], how="outer")
    index = {c: i for i, c in enumerate(world.codes)}
    i, j = frame["iso3"].map(index).to_numpy(), (frame["year"] - world.years[0]).to_numpy()
    for driver, values in world.drivers.items():
        frame[driver] = values[i, j]
    return frame


@pytest.mark.parametrize("driver,signal,sign", [
    ("procurement_capture", "procurement_single_bid_share", 1),
    ("procurement_capture", "procurement_bids_single_bid_share", 1),
    ("procurement_capture", "procurement_repeat_winner_share", 1),
    ("procurement_capture", "procurement_buyer_winner_hhi", 1),
    ("procurement_capture", "procurement_r035_share", 1),
    ("migration_pressure", "crossings_per_100k", 1),
    ("judicial_weakness", "court_conviction_rate", -1),
    ("judicial_weakness", "court_median_duration_days", 1),
    ("press_repression", "press_incidents_per_million", 1),
    ("press_repression", "press_incidents_severe_share", 1),
])
def test_country_year_aggregates_carry_the_planted_driver(aggregates, driver, signal, sign):
    rho = aggregates[[driver, signal]].corr(method="spearman").iloc[0, 1]
    assert sign * rho > 0.3, f"{signal} vs {driver}: spearman {rho:.2f}"


def test_every_declared_event_signal_is_built(aggregates):
    declared = {s for signals in EVENT_SIGNALS.values() for s in signals}
    assert declared <= set(aggregates.columns)
    assert aggregates[sorted(declared)].notna().mean().min() > 0.5
