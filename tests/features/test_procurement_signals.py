"""Procurement country-year signals: OCDS and flattened bid table, by hand, against each other, bad input."""

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from features.build_context import BuildContext
from features.registry import get_source
from features.sources import procurement_signals
from nexus.countries import synthetic_name
from nexus.errors import SourceDataError

XAA = synthetic_name("XAA")
# (ocid, start, days, numberOfTenderers, method, tender status, buyer, winner, award value, bids)
# bids: (tenderer, status, amount); p3's cheapest bid is disqualified (R036).
PROCESSES = [
    ("p1", "2010-02-01", 10, 1, "open", "complete", "B1", "S1", 100.0, [("S1", "valid", 100.0)]),
    ("p2", "2010-03-01", 20, 3, "open", "complete", "B1", "S1", 300.0,
     [("S1", "valid", 300.0), ("S7", "valid", 320.0), ("S8", "valid", 330.0)]),
    ("p3", "2010-04-01", 30, 2, "selective", "complete", "B1", "S2", 200.0,
     [("S9", "disqualified", 150.0), ("S2", "valid", 200.0)]),
    ("p4", "2010-05-01", 5, 1, "limited", "complete", "B2", "S3", 50.0, [("S3", "valid", 50.0)]),
    ("p5", "2010-06-01", None, 4, "open", "complete", "B2", "S3", 400.0,
     [("S3", "valid", 400.0), ("S4", "valid", 410.0), ("S5", "valid", 420.0), ("S6", "valid", 430.0)]),
    ("p6", "2010-07-01", 8, 1, "open", "cancelled", "B1", "S1", 999.0, [("S1", "valid", 999.0)]),
    ("p7", "2011-01-10", 40, 1, "open", "complete", "B1", "S1", 70.0, [("S1", "valid", 70.0)]),
]


def refusing() -> BuildContext:
    return BuildContext.for_policy("refuse")


def _release(ocid, start, days, n, method, status, buyer, winner, value, bids, country=XAA):
    begin = dt.datetime.fromisoformat(start)
    period = {"startDate": f"{start}T00:00:00Z"}
    if days is not None:
        period["endDate"] = (begin + dt.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"ocid": ocid, "id": "1", "date": f"{start}T00:00:00Z",
            "parties": [{"id": buyer, "name": f"Ministry {buyer}", "roles": ["buyer"],
                         "address": {"countryName": country}}],
            "buyer": {"id": buyer, "name": f"Ministry {buyer}"},
            "tender": {"id": "t", "status": status, "procurementMethod": method, "numberOfTenderers": n,
                       "tenderPeriod": period},
            "bids": {"details": [{"id": f"b{i}", "status": s, "tenderers": [{"id": t}],
                                  "value": {"amount": a, "currency": "XTS"}} for i, (t, s, a) in enumerate(bids)]},
            "awards": [{"id": "a", "status": "active", "value": {"amount": value, "currency": "XTS"},
                        "suppliers": [{"id": winner}]}]}


def write_jsonl(path: Path, releases) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" if isinstance(r, dict) else r + "\n" for r in releases))
    return path


def bid_rows(processes, country=XAA):
    """The same processes flattened to one row per bid, as procurement_bids reads them."""
    rows = []
    for ocid, start, days, n, method, status, buyer, winner, value, bids in processes:
        begin = dt.datetime.fromisoformat(start)
        for i, (tenderer, bid_status, amount) in enumerate(bids):
            rows.append({"ocid": ocid, "buyer_id": buyer, "buyer_country": country, "procurement_method": method,
                         "number_of_tenderers": n, "tender_status": status, "tender_start": begin,
                         "tender_end": None if days is None else begin + dt.timedelta(days=days),
                         "bid_index": i, "bid_status": bid_status, "bid_amount": amount, "bid_currency": "XTS",
                         "tenderer_id": tenderer, "award_status": "active", "award_amount": value,
                         "supplier_id": winner})
    return pd.DataFrame(rows)


def write_bids(path: Path, frame: pd.DataFrame) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    schema = pa.schema([("ocid", pa.string()), ("buyer_id", pa.string()), ("buyer_country", pa.string()),
                        ("procurement_method", pa.string()), ("number_of_tenderers", pa.int32()),
                        ("tender_status", pa.string()), ("tender_start", pa.timestamp("s")),
                        ("tender_end", pa.timestamp("s")), ("bid_index", pa.int32()), ("bid_status", pa.string()),
                        ("bid_amount", pa.float64()), ("bid_currency", pa.string()), ("tenderer_id", pa.string()),
                        ("award_status", pa.string()), ("award_amount", pa.float64()), ("supplier_id", pa.string())])
    pq.write_table(pa.Table.from_pandas(frame, schema=schema, preserve_index=False), path)
    return path


@pytest.fixture
def min_one(monkeypatch):
    monkeypatch.setattr(procurement_signals, "MIN_PROCESSES", 1)


HAND = {  # XAA 2010 from PROCESSES, worked by hand (p6 is cancelled and counts nowhere)
    "single_bid_share": 1 / 4,               # competitive with a count: p1 p2 p3 p5; single: p1
    "short_period_share": 2 / 4,             # both dates: p1 p2 p3 p4; < 15 days: p1 p4
    "log_processes": np.log1p(5),
    "single_bid_value_share": 100 / 1000,    # p1 / (p1 + p2 + p3 + p5)
    "short_period_value_share": 150 / 650,   # (p1 + p4) / (p1 + p2 + p3 + p4)
    "submitted_per_process": 11 / 5,
    "buyer_winner_hhi": (5 / 3 + 4 / 2) / 5,  # B1: S1 ×2, S2 ×1; B2: S3 ×2
    "repeat_winner_share": 4 / 5,
}


def test_ocds_builder_matches_hand_computed_shares(tmp_path, min_one):
    path = write_jsonl(tmp_path / "ocds" / "synthetic-world" / "releases.jsonl", [_release(*p) for p in PROCESSES])
    out = get_source("procurement_signals").build({"releases": [path]}, refusing()).set_index(["iso3", "year"])
    row = out.loc[("XAA", 2010)]
    for measure, value in HAND.items():
        assert row[f"procurement_{measure}"] == pytest.approx(value), measure
    assert row["procurement_r036_share"] == pytest.approx(1 / 5)  # p3: the lowest bid is disqualified
    assert out.loc[("XAA", 2011), "procurement_log_processes"] == pytest.approx(np.log(2))


def test_bid_table_builder_matches_hand_computed_shares(tmp_path, min_one):
    path = write_bids(tmp_path / "procurement_bids" / "pub" / "bids_2010.parquet",
                      bid_rows([p for p in PROCESSES if p[1].startswith("2010")]))
    out = get_source("procurement_bids").build({"bids": [path]}, refusing()).set_index(["iso3", "year"])
    for measure, value in HAND.items():
        assert out.loc[("XAA", 2010), f"procurement_bids_{measure}"] == pytest.approx(value), measure


def test_shares_need_enough_processes(tmp_path):
    path = write_jsonl(tmp_path / "ocds" / "x" / "r.jsonl", [_release(*p) for p in PROCESSES])
    row = get_source("procurement_signals").build({"releases": [path]}, refusing()).set_index(["iso3", "year"]).loc[("XAA", 2010)]
    assert np.isnan(row["procurement_single_bid_share"])  # 4 eligible < MIN_PROCESSES
    assert row["procurement_log_processes"] == pytest.approx(np.log1p(5))


@pytest.fixture(scope="module")
def scale_world(tmp_path_factory):
    from features.synthetic.events import EventVolumes, write_event_tables
    from features.synthetic.latent import simulate

    raw = tmp_path_factory.mktemp("scale") / "raw"
    world = simulate(7, 24, 2010, 2013)
    write_event_tables(world, raw, 7, EventVolumes(16, 40, 10, 6).times(2), tables=("ocds", "bids"))
    return raw


def test_ocds_and_bid_table_give_the_same_signals_on_the_same_processes(scale_world):
    ocds = get_source("procurement_signals").build({"releases": sorted(scale_world.glob("ocds/*/*.jsonl"))}, refusing())
    bids = get_source("procurement_bids").build({"bids": sorted(scale_world.glob("procurement_bids/*/*.parquet"))}, refusing())
    merged = ocds.merge(bids, on=["iso3", "year"], validate="one_to_one")
    assert len(merged) == len(ocds) == len(bids) > 70  # 24 countries × 4 years, less late entrants
    for column in procurement_signals.signal_columns("procurement_bids"):
        twin = "procurement_" + column.removeprefix("procurement_bids_")
        np.testing.assert_allclose(merged[column], merged[twin], rtol=1e-12, err_msg=column)
    assert merged["procurement_r036_share"].gt(0).any() and merged["procurement_r035_share"].gt(0).any()


# ---- bad input ----

def test_malformed_ocds_lines_are_refused_with_file_and_line(tmp_path):
    path = write_jsonl(tmp_path / "ocds" / "x" / "r.jsonl", [_release(*PROCESSES[0]), "{not json", '{"id": "x"}'])
    with pytest.raises(SourceDataError, match=r"r.jsonl row 2: not JSON"):
        get_source("procurement_signals").build({"releases": [path]}, refusing())


def test_malformed_ocds_lines_are_counted_under_quarantine(tmp_path):
    wrong_types = _release(*PROCESSES[1])
    wrong_types["tender"]["numberOfTenderers"] = "3"  # a string: not counted as bidders, not fatal
    lines = [_release(*PROCESSES[0]), "{not json", '{"id": "no ocid"}', '{"ocid": 5}', "[1, 2]", wrong_types,
             _release(*PROCESSES[2])]
    path = write_jsonl(tmp_path / "ocds" / "x" / "r.jsonl", lines)
    context = BuildContext.for_policy("quarantine")
    out = get_source("procurement_signals").build({"releases": [path]}, context)
    quality = context.quality
    report = quality.tables["ocds"][0]
    assert report.rows == 7 and report.kept == 3
    assert report.problems["not JSON"] == [2, 2]
    assert report.problems["missing ocid"] == [2, 3]
    assert out["procurement_log_processes"].iloc[0] == pytest.approx(np.log1p(3))


def test_unknown_buyer_country_is_refused_or_counted(tmp_path):
    lines = [_release(*PROCESSES[0]), _release(*PROCESSES[1], country="Freedonia")]
    path = write_jsonl(tmp_path / "ocds" / "x" / "r.jsonl", lines)
    with pytest.raises(SourceDataError, match=r"r.jsonl row 2: unknown country 'Freedonia'"):
        get_source("procurement_signals").build({"releases": [path]}, refusing())
    context = BuildContext.for_policy("quarantine")
    get_source("procurement_signals").build({"releases": [path]}, context)
    quality = context.quality
    assert quality.tables["ocds"][0].problems == {"unknown country 'Freedonia'": [1, 2]}


@pytest.fixture
def bad_partitions(tmp_path):
    good = bid_rows(PROCESSES[:5])
    folder = tmp_path / "procurement_bids" / "pub"
    write_bids(folder / "bids_2010.parquet", good)
    write_bids(folder / "bids_2011.parquet", good.assign(tender_start=good["tender_start"] + pd.DateOffset(years=1),
                                                         tender_end=good["tender_end"] + pd.DateOffset(years=1)))
    pq.write_table(pa.Table.from_pandas(good.drop(columns="award_status")), folder / "bids_2012.parquet")
    (folder / "bids_2013.parquet").write_bytes(b"PAR1 this is not a parquet file")
    rows = good.assign(tender_start=good["tender_start"] + pd.DateOffset(years=4),
                       tender_end=good["tender_end"] + pd.DateOffset(years=4))
    rows.loc[1, "number_of_tenderers"] = -2
    rows.loc[3, "buyer_country"] = "Freedonia"
    rows.loc[4, "tender_start"] = pd.Timestamp("2009-06-01")
    write_bids(folder / "bids_2014.parquet", rows)
    return folder


def test_bad_partitions_are_refused_naming_file_and_problem(bad_partitions):
    files = sorted(bad_partitions.glob("*.parquet"))
    build = get_source("procurement_bids").build
    with pytest.raises(SourceDataError, match=r"bids_2012.parquet: wrong schema: missing column 'award_status'"):
        build({"bids": files}, refusing())
    with pytest.raises(SourceDataError, match=r"bids_2013.parquet: not a readable Parquet file"):
        build({"bids": [files[0], files[3]]}, refusing())
    with pytest.raises(SourceDataError, match=r"bids_2014.parquet row 2: negative number of tenderers "
                                              r"\(1 row in this partition; also .*unknown country 'Freedonia'"):
        build({"bids": [files[0], files[4]]}, refusing())


def test_bad_partitions_and_rows_are_quarantined_and_counted(bad_partitions, min_one):
    files = sorted(bad_partitions.glob("*.parquet"))
    context = BuildContext.for_policy("quarantine")
    out = get_source("procurement_bids").build({"bids": files}, context).set_index(["iso3", "year"])
    quality = context.quality
    reports = {Path(r.path).name: r for r in quality.tables["procurement_bids"]}
    assert reports["bids_2012.parquet"].error.startswith("wrong schema")
    assert reports["bids_2013.parquet"].error.startswith("not a readable Parquet file")
    bad = reports["bids_2014.parquet"]
    assert bad.problems == {"negative number of tenderers": [1, 2], "unknown country 'Freedonia'": [1, 4],
                            "date outside the partition's year": [1, 5]}
    assert bad.rows == 11 and bad.kept == 8
    assert sorted(out.index.get_level_values("year")) == [2010, 2011, 2014]
    features = list(procurement_signals.signal_columns("procurement_bids"))
    pd.testing.assert_series_equal(out.loc[("XAA", 2010), features], out.loc[("XAA", 2011), features],
                                   check_names=False)
    assert out.loc[("XAA", 2014), "procurement_bids_log_processes"] < out.loc[("XAA", 2010), "procurement_bids_log_processes"]


@pytest.mark.realdata
def test_real_ocds_files_go_through_the_same_builder(shared_data):
    root = shared_data / "raw" / "ocds"
    files = sorted({*root.glob("*/*.json*"), *root.glob("*/*/*.json")})
    context = BuildContext.for_policy("quarantine")
    out = get_source("procurement_signals").build({"releases": files}, context)
    quality = context.quality
    assert {"ITA", "COL", "MDA", "ARM", "UKR"} <= set(out["iso3"])
    assert sum(r.kept for r in quality.tables["ocds"]) > 2000
    italy = out[out["iso3"] == "ITA"].set_index("year")
    assert italy.loc[2019, "procurement_single_bid_share"] > 0  # from tender.tenderers: Italy publishes no count


def test_panel_refuses_or_quarantines_per_params_and_keeps_what_was_built(tmp_path, make_params):
    import shutil

    from features.panel import build_features, load_panel
    from features.synthetic import write_world

    raw = tmp_path / "raw"
    write_world(raw, 5, 12, 2010, 2013, 40, 16, scale=2)
    overrides = {"paths.raw": str(raw), "features.years": {"first": 2011, "last": 2013},
                 "features.sources": ["procurement_bids", "procurement_signals"]}
    params, paths = make_params(tmp_path, overrides)
    good = build_features(params.features, params.dask, paths.raw, paths.artifacts)
    before = {p.name: p.read_bytes() for p in good.directory.iterdir()}
    assert json.loads(before["quality.json"])["policy"] == "refuse"

    victim = raw / "procurement_bids" / "synthetic-world" / "bids_2012.parquet"
    shutil.copy(victim, tmp_path / "keep.parquet")
    victim.write_bytes(victim.read_bytes()[: len(victim.read_bytes()) // 2])  # truncated: the footer is gone
    with pytest.raises(SourceDataError, match=r"bids_2012.parquet: not a readable Parquet file"):
        build_features(params.features, params.dask, paths.raw, paths.artifacts)
    assert {p.name: p.read_bytes() for p in good.directory.iterdir()} == before

    params, paths = make_params(tmp_path, overrides | {"features.bad_input": "quarantine"})
    quarantined = build_features(params.features, params.dask, paths.raw, paths.artifacts)
    assert quarantined.directory != good.directory
    quality = json.loads((quarantined.directory / "quality.json").read_text())
    errors = {Path(p["path"]).name: p["error"] for p in quality["tables"]["procurement_bids"] if p["error"]}
    assert list(errors) == ["bids_2012.parquet"]
    provenance = pd.read_parquet(quarantined.directory / "panel_sources.parquet")
    used = provenance[(provenance["source"] == "procurement_bids") & (provenance["year"] == 2013)]
    assert set(used["data_year"].dropna()) == {2011}  # 2012 was left out: the 2011 value is carried forward
    assert len(load_panel(quarantined.directory)[0]) == len(load_panel(good.directory)[0])
