"""OCDS red flags reproduce OCDS Cardinal's known answers; the reader counts or names what it skips."""

import json
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.ocds.fences import quantile
from features.ocds.indicators import compute_indicators
from features.ocds.reader import PROCESS_INDICATORS, ReadReport, process_flags, read_compiled_releases
from features.ocds.settings import RedFlagSettings
from nexus.errors import ConfigError, SourceDataError

REPO = Path(__file__).resolve().parents[3]
SHARED_DATA = REPO.parent / "shared" / "data"
OCDS = SHARED_DATA / "raw" / "ocds"
FIXTURES = OCDS / "cardinal-fixtures" / "tests" / "fixtures" / "indicators"
EXAMPLES = OCDS / "cardinal-fixtures" / "docs" / "examples" / "R"


def _require_shared() -> None:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"../shared/data is absent: {SHARED_DATA} holds the Cardinal fixtures and OCDS files")


def _fixture_names() -> list[str]:
    names = sorted(p.stem for p in FIXTURES.glob("*.jsonl"))
    return names or ["<fixtures absent>"]


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ---- Cardinal's known answers ----

@pytest.mark.realdata
@pytest.mark.parametrize("name", _fixture_names())
def test_cardinal_fixture(name):
    _require_shared()
    if not FIXTURES.is_dir():
        pytest.skip(f"../shared/data is absent: no Cardinal fixtures at {FIXTURES}")
    settings = RedFlagSettings.from_fixture_name(name)
    expected = json.loads((FIXTURES / f"{name}.expected").read_text(encoding="utf-8"))
    assert compute_indicators(_jsonl(FIXTURES / f"{name}.jsonl"), settings) == expected


@pytest.mark.realdata
def test_every_fixture_has_its_expected_output():
    _require_shared()
    inputs = {p.stem for p in FIXTURES.glob("*.jsonl")}
    assert len(inputs) == 15
    assert inputs == {p.stem for p in FIXTURES.glob("*.expected")}


# Outputs quoted in Cardinal's docs/cli/indicators/R/NNN.md (ocds-red-flags.md section 5).
# These five run with a one-section settings file; the others with all eleven indicators enabled.
ONE_SECTION = {"024": {"R024": {}}, "025": {"R025": {}}, "030": {"R030": {}}, "035": {"R035": {}},
               "048": {"R048": {"minimum_contracting_processes": 1}}}
DOCUMENTED = {
    "003": {"OCID": {"F": {"R003": 1.0}}},
    "018": {"OCID": {"F": {"R018": 1.0}}},
    "024": {"OCID": {"F": {"R024": 1.0}}, "Tenderer": {"W": {"R024": 0.0}, "L": {"R024": 0.0}}},
    "025": {"Tenderer": {"F": {"R025": 0.16666666666666666}}},
    "028": {"OCID": {"F": {"R028": 1.0}}, "Tenderer": {"D": {"R028": 1.0}, "V": {"R028": 1.0}}},
    "030": {"OCID": {"F": {"R030": 1.0}}, "Tenderer": {"W": {"R030": 1.0}}},
    "035": {"OCID": {"F": {"R035": 1.0}}, "Tenderer": {"V": {"R035": 0.0}}},
    "036": {"OCID": {"F": {"R036": 1.0}}},
    "038": {"Buyer": {"B": {"R038": 0.5}}},
    "048": {"Tenderer": {"F": {"R048": 2.0}}},
    "058": {"OCID": {"F": {"R058": 99.0}}, "Tenderer": {"W": {"R058": 0.0}}},
}


@pytest.mark.realdata
@pytest.mark.parametrize("number", sorted(DOCUMENTED))
def test_documented_example(number):
    _require_shared()
    settings = RedFlagSettings.from_dict(ONE_SECTION[number]) if number in ONE_SECTION else RedFlagSettings()
    assert compute_indicators(_jsonl(EXAMPLES / f"{number}.jsonl"), settings) == DOCUMENTED[number]


# ---- rules the fixtures leave implicit (ocds-red-flags.md 1.1, 1.4) ----

def test_quantile_is_numpy_median_unbiased():
    rng = random.Random(7)
    for n in (1, 2, 3, 5, 9, 40):
        values = sorted(rng.uniform(-5, 100) for _ in range(n))
        for p in (0.0, 0.25, 0.5, 0.75, 1.0):
            expected = float(np.quantile(values, p, method="median_unbiased"))
            assert quantile(values, p) == pytest.approx(expected)


def _period(ocid, start, end, **tender):
    return {"ocid": ocid, "tender": {"tenderPeriod": {"startDate": start, "endDate": end}, **tender}}


def test_r003_truncates_toward_zero_and_flags_negative_periods():
    releases = [_period("negative", "2000-01-10T00:00:00Z", "2000-01-01T00:00:00Z"),
                _period("offsets", "2000-01-01T00:00:00+05:00", "2000-01-15T19:00:00Z"),
                _period("not rfc3339", "2000-01-01", "2000-01-02")]
    assert compute_indicators(releases, RedFlagSettings(indicators=frozenset({"R003"}))) == {
        "OCID": {"negative": {"R003": 1.0}}}


def test_r018_needs_the_json_integer_one():
    releases = [{"ocid": ocid, "tender": {"numberOfTenderers": n, "procurementMethod": "open"}}
                for ocid, n in (("int", 1), ("float", 1.0), ("string", "1"), ("bool", True))]
    assert compute_indicators(releases, RedFlagSettings(indicators=frozenset({"R018"}))) == {
        "OCID": {"int": {"R018": 1.0}}}


def _priced(ocid, *bids, status="valid"):
    return {"ocid": ocid, "awards": [{"status": "active", "suppliers": [{"id": "W"}]}],
            "bids": {"details": [{"status": status, "tenderers": [{"id": who}],
                                  "value": {"amount": amount, "currency": currency}}
                                 for who, amount, currency in bids]}}


def test_main_currency_is_the_first_observed_unless_configured():
    releases = [_priced("usd", ("W", 1, "USD"), ("L", 101, "USD")),
                *(_priced(str(i), ("W", 1, "EUR"), ("L", 2, "EUR")) for i in range(4))]
    r058 = frozenset({"R058"})
    assert compute_indicators(releases, RedFlagSettings(indicators=r058)) == {
        "OCID": {"usd": {"R058": 100.0}}, "Tenderer": {"W": {"R058": 0.0}}}
    assert set(compute_indicators(releases, RedFlagSettings(indicators=r058, currency="EUR"))["OCID"]) == {
        "0", "1", "2", "3"}


def test_status_codelists_remap_publisher_codes():
    releases = [_priced("F", ("W", 1, "UAH"), ("L", 101, "UAH"), status="active"),
                *(_priced(str(i), ("W", 1, "UAH"), ("L", 2, "UAH"), status="active") for i in range(4))]
    assert compute_indicators(releases, RedFlagSettings(indicators=frozenset({"R058"}))) == {}
    remapped = RedFlagSettings.from_dict({"codelists": {"bid_status": {"active": "valid"}}, "R058": {}})
    assert compute_indicators(releases, remapped)["OCID"] == {"F": {"R058": 100.0}}


OCDS_WORDS = ["active", "valid", "disqualified", "pending", "cancelled", "open", "W", "USD",
              "2000-01-01T00:00:00Z"]
KEYS = ["id", "status", "value", "amount", "currency", "tenderers", "suppliers", "details", "items",
        "classification", "tenderPeriod", "startDate", "endDate", "date", "numberOfTenderers"]
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats(allow_nan=False) | st.sampled_from(OCDS_WORDS),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=4),
    max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.fixed_dictionaries({"ocid": st.sampled_from(["a", "b", 3])}, optional={
    key: JSON_VALUES for key in ("tender", "bids", "awards", "buyer", "parties", "date")}), max_size=6))
def test_wrong_types_anywhere_are_ignored_not_fatal(releases):
    compute_indicators(releases)
    frame = process_flags(releases)
    assert len(frame) == len({r["ocid"] for r in releases if isinstance(r["ocid"], str)})


# ---- settings ----

def test_settings_from_fixture_names():
    s = RedFlagSettings.from_fixture_name("R003-procurement_method_details-x-5-y-10.jsonl")
    assert s.indicators == {"R003"} and dict(s.r003_procurement_method_details) == {"x": 5, "y": 10}
    assert s.no_price_comparison_procurement_methods == {"NPC"}
    assert s.excluded_procurement_method_details == {"EXC"}
    selective = RedFlagSettings.from_fixture_name("R003-procurement_methods-open+selective")
    assert selective.r003_procurement_methods == {"open", "selective"}
    assert RedFlagSettings.from_fixture_name("R003-threshold-10").r003_threshold == 10
    assert RedFlagSettings.from_fixture_name("R038-tenderer") == RedFlagSettings.from_dict(
        {"R038": {}, "no_price_comparison_procurement_methods": "NPC",
         "exclusions": {"procurement_method_details": "EXC"}})


def test_settings_defaults_and_bad_keys():
    s = RedFlagSettings()
    assert s.indicators == set(("R003 R018 R024 R025 R028 R030 R035 R036 R038 R048 R058").split())
    assert (s.r003_threshold, s.r018_procurement_methods, s.r025_percentile, s.r035_threshold) == (
        15, {"open", "selective"}, 75, 1)
    assert (s.r038_minimum_submitted_bids, s.r038_minimum_contracting_processes) == (2, 2)
    assert (s.r048_digits, s.r048_minimum_contracting_processes) == (2, 20)
    with pytest.raises(ConfigError, match=r"R003.treshold: unknown setting"):
        RedFlagSettings.from_dict({"R003": {"treshold": 10}})
    with pytest.raises(ConfigError, match=r"R024.threshold: cannot use 'low'"):
        RedFlagSettings.from_dict({"R024": {"threshold": "low"}})


# ---- reader ----

BAD_JSON_LINES = "\n".join([
    '{"ocid": "a", "tender": {}}',
    '{"ocid": "b", ',
    '[1, 2]',
    '',
    '{"tender": {}}',
    '{"ocid": 5}',
    '{"ocid": "c", "x": NaN}',
    '{"ocid": "d"}',
]) + "\n"


def test_reader_counts_and_skips_bad_lines(tmp_path):
    path = _write(tmp_path / "bad.jsonl", BAD_JSON_LINES)
    report = ReadReport()
    read = list(read_compiled_releases(path, report=report))
    assert [(line, release["ocid"]) for line, release in read] == [(1, "a"), (8, "d")]
    assert (report.lines_read, report.skipped_not_json, report.skipped_no_ocid) == (7, 3, 2)
    assert (report.first_not_json, report.first_no_ocid, report.releases_yielded) == ([2, 3, 7], [5, 6], 2)


@pytest.mark.parametrize(("text", "message"), [
    ('{"ocid": "a"}\n{"ocid": "b", \n', r"bad.jsonl row 2: not JSON: "),
    ('{"ocid": "a"}\n\n[1, 2]\n', r"bad.jsonl row 3: not JSON: a JSON array, not an object"),
    ('{"ocid": "a"}\n{"tender": {}}\n', r"bad.jsonl row 2: missing ocid$"),
    ('{"ocid": "a"}\n{"ocid": 5}\n', r"bad.jsonl row 2: missing ocid \(ocid is a number, not a string\)"),
])
def test_reader_strict_names_file_and_line(tmp_path, text, message):
    path = _write(tmp_path / "bad.jsonl", text)
    with pytest.raises(SourceDataError, match=message) as raised:
        list(read_compiled_releases(path, strict=True))
    assert raised.value.path == str(path)


def test_release_package_keeps_the_latest_release_per_ocid(tmp_path):
    package = {"releases": [
        {"ocid": "x", "date": "2020-01-02T00:00:00Z", "tag": ["award"]},
        {"ocid": "y", "date": "2020-01-01T00:00:00Z"},
        {"ocid": "x", "date": "2020-01-01T23:00:00-05:00", "tag": ["contract"]},
        {"ocid": "x", "date": "2019-12-31T00:00:00Z", "tag": ["tender"]},
        {"date": "2020-01-01T00:00:00Z"},
        "not a release",
    ]}
    path = _write(tmp_path / "package.json", json.dumps(package, indent=2))
    report = ReadReport()
    read = list(read_compiled_releases(path, report=report))
    assert [(position, release["ocid"], release.get("tag")) for position, release in read] == [
        (3, "x", ["contract"]), (2, "y", None)]
    assert (report.lines_read, report.merged_duplicates, report.skipped_no_ocid, report.skipped_not_json) == (
        6, 2, 1, 1)
    with pytest.raises(SourceDataError, match=r"package.json: /releases/4: missing ocid"):
        list(read_compiled_releases(path, strict=True))


def test_record_package_and_bare_record(tmp_path):
    records = {"records": [
        {"ocid": "r1", "compiledRelease": {"ocid": "r1", "tender": {"status": "complete"}}},
        {"ocid": "r2", "releases": [{"ocid": "r2", "date": "2020-01-01T00:00:00Z", "id": "old"},
                                    {"ocid": "r2", "date": "2020-02-01T00:00:00Z", "id": "new"}]},
        {"ocid": "r3", "releases": [{"url": "http://example.com/r3.json"}]},
    ]}
    report = ReadReport()
    read = list(read_compiled_releases(_write(tmp_path / "records.json", json.dumps(records)), report=report))
    assert [(position, release["ocid"], release.get("id")) for position, release in read] == [
        (1, "r1", None), (2, "r2", "new")]
    assert (report.skipped_not_json, report.first_not_json) == (1, [3])
    bare = _write(tmp_path / "record.json", json.dumps(records["records"][0], indent=1))
    assert [release["ocid"] for _, release in read_compiled_releases(bare)] == ["r1"]


# ---- per-process table ----

def test_process_flags_columns_and_semantics():
    releases = [
        {"ocid": "bids", "buyer": {"id": "B", "name": "Buyer B"},
         "parties": [{"id": "B", "roles": [" buyer"], "address": {"countryName": "Armenia"}}],
         "tender": {"tenderPeriod": {"startDate": "2016-03-01T00:00:00Z", "endDate": "2016-03-11T12:00:00Z"},
                    "procurementMethod": "open", "numberOfTenderers": 3},
         "bids": {"details": [{"status": "valid", "tenderers": [{"id": "W"}]},
                              {"status": "invited", "tenderers": [{"id": "I"}]}]},
         "awards": [
             {"status": "active", "value": {"amount": 10, "currency": "AMD"}, "suppliers": [{"id": "W"}]},
             {"status": "active", "value": {"amount": 5, "currency": "AMD"}, "suppliers": [{"id": "V"}]},
             {"status": "cancelled", "value": {"amount": 99, "currency": "AMD"}}]},
        {"ocid": "count", "date": "2018-05-01T00:00:00Z", "tender": {"numberOfTenderers": 1},
         "awards": [{"value": {"amount": 7}, "suppliers": [{"id": "S"}]}]},
        {"ocid": "cancelled", "tender": {"status": "cancelled", "numberOfTenderers": 1}},
        {"ocid": "count", "date": "2019-05-01T00:00:00Z", "tender": {"numberOfTenderers": 1}},
    ]
    frame = process_flags(releases)
    assert list(frame["ocid"]) == ["bids", "count", "cancelled"]
    assert [c for c in frame.columns if c.startswith("R0")] == list(PROCESS_INDICATORS)
    row = frame.set_index("ocid")
    assert row.loc["bids", "buyer_country"] == "Armenia" and row.loc["bids", "buyer_name"] == "Buyer B"
    assert row.loc["bids", "award_value"] == 15.0 and row.loc["bids", "award_currency"] == "AMD"
    assert row.loc["bids", "winner_ids"] == ("V", "W")
    assert (row.loc["bids", "n_bids_submitted"], row.loc["bids", "single_bid"]) == (1, True)
    assert row.loc["bids", "submission_period_days"] == 10.5
    assert bool(row.loc["bids", "short_submission_period"]) and bool(row.loc["bids", "R003"])
    assert row.loc["count", "year"] == 2019 and pd.isna(row.loc["count", "award_value"])
    assert bool(row.loc["count", "single_bid"]) and pd.isna(row.loc["count", "n_bids_submitted"])
    assert pd.isna(row.loc["count", "short_submission_period"])
    assert bool(row.loc["cancelled", "excluded"]) and pd.isna(row.loc["cancelled", "single_bid"])
    assert not row.loc["cancelled", list(PROCESS_INDICATORS)].any()
    assert str(frame["single_bid"].dtype) == "boolean" and str(frame["year"].dtype) == "Int64"


@pytest.mark.realdata
def test_process_flags_carry_organisation_flags_to_processes():
    _require_shared()
    r038 = process_flags(_jsonl(FIXTURES / "R038.jsonl"), RedFlagSettings.from_fixture_name("R038"))
    assert list(r038.loc[r038["R038"], "ocid"]) == ["0"]
    r048_settings = RedFlagSettings.from_fixture_name("R048-minimum_contracting_processes-1")
    r048 = process_flags(_jsonl(FIXTURES / "R048-minimum_contracting_processes-1.jsonl"), r048_settings)
    assert list(r048.loc[r048["R048"], "ocid"]) == ["F"]
    r024 = process_flags(_jsonl(FIXTURES / "R024.jsonl"), RedFlagSettings.from_fixture_name("R024"))
    assert set(r024.loc[r024["R024"], "ocid"]) == {"F", "repeat tenderers"}
    assert [column for column in r024.columns if column.startswith("R0")] == ["R024"]


# ---- the real OCDS files (SOURCES.md section 12) ----

REAL_FILES = {  # folder → processes per file, as documented in SOURCES.md 12.1–12.5
    "ondata-appaltipop": {"IT-CF-00162210348/ocds.json": 915, "IT-CF-00104330493/ocds.json": 1192,
                          "IT-CF-00137020871/ocds.json": 276, "IT-CF-80016350821/ocds.json": 206,
                          "IT-CF-00514490010/ocds.json": 169},
    "colombia-cce": {"2021-03-03.json": 100},
    "moldova-ppa": {"releases-2012.json": 152},
    "armenia-armeps": {"6.json": 100},
    "ukraine-prozorro": {f"records/{p}": 1 for p in (
        "ocds-be6bcu-UA-2016-06-02-000468-c.json", "ocds-be6bcu-UA-2016-06-07-000066-a.json",
        "ocds-be6bcu-UA-2016-06-08-000504-c.json", "ocds-be6bcu-UA-2016-08-31-000670-b.json",
        "ocds-be6bcu-UA-2016-12-29-000657-c.json", "ocds-be6bcu-UA-2017-01-20-000582-a.json",
        "ocds-be6bcu-UA-2017-01-31-001299-b.json", "ocds-be6bcu-UA-2017-04-04-001419-b.json",
        "ocds-be6bcu-UA-2017-04-10-002020-b.json", "ocds-be6bcu-UA-2017-04-12-001619-b.json",
        "ocds-be6bcu-UA-2017-05-22-000501-b.json")},
}


@pytest.mark.realdata
@pytest.mark.parametrize("folder", sorted(REAL_FILES))
def test_real_files_read_with_documented_counts(folder):
    _require_shared()
    found = {p.relative_to(OCDS / folder).as_posix() for p in (OCDS / folder).rglob("*.json")}
    assert found == set(REAL_FILES[folder])
    releases = []
    for name, expected in REAL_FILES[folder].items():
        report = ReadReport()
        read = [release for _, release in
                read_compiled_releases(OCDS / folder / name, strict=True, report=report)]
        assert len(read) == len({r["ocid"] for r in read}) == expected == report.releases_yielded, name
        releases += read
    frame = process_flags(releases)
    assert len(frame) == sum(REAL_FILES[folder].values())
    assert frame["ocid"].is_unique


@pytest.mark.realdata
def test_real_files_total_and_known_quirks():
    _require_shared()
    frames = {folder: process_flags([release for name in names for _, release in
                                     read_compiled_releases(OCDS / folder / name)])
              for folder, names in REAL_FILES.items()}
    assert {folder: len(frame) for folder, frame in frames.items()} == {
        "ondata-appaltipop": 2758, "colombia-cce": 100, "moldova-ppa": 152, "armenia-armeps": 100,
        "ukraine-prozorro": 11}
    armenia = frames["armenia-armeps"]
    assert (armenia["submission_period_days"] < 0).sum() == 13
    assert armenia["submission_period_days"].notna().sum() == 27
    assert frames["moldova-ppa"]["submission_period_days"].notna().all()
    assert frames["ondata-appaltipop"]["n_tenderers_listed"].notna().all()
