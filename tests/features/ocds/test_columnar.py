"""The columnar (DuckDB) red-flag engine equals the Python reference: per indicator, per country-year,
per pair, per file report, on randomized releases, the real OCDS samples and bad lines."""

import json
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.build_context import BuildContext
from features.ocds.columnar import _chunks, process_partials_columnar
from features.ocds.flags import FLAGS, process_partials
from features.registry import get_source
from nexus.countries import synthetic_name
from nexus.errors import SourceDataError

REPO = Path(__file__).resolve().parents[3]
OCDS = REPO.parent / "shared" / "data" / "raw" / "ocds"
KEYS = ["country", "year"]


def _python(files):
    return process_partials(files, lambda fn, items: [fn(x) for x in items])


def _assert_same(files):
    """Both engines on `files`: the same sums, pairs and reports (value sums to summation order)."""
    s1, p1, r1 = _python(files)
    s2, p2, r2 = process_partials_columnar(files, chunk_bytes=1 << 20)
    assert r1 == r2
    if not len(s1):
        assert not len(s2)
        return s2
    value_cols = [c for c in s1.columns if c not in (*KEYS, "_file", "_row", "_last_row")]
    g = s1.groupby(KEYS)
    first = s1.sort_values("_row", kind="stable").groupby(KEYS)[["_row", "_file"]].first()
    old = g[value_cols].sum().join(first).sort_index()
    new = s2.astype({"year": int}).set_index(KEYS).sort_index()[old.columns]
    assert old.index.equals(new.index)
    for c in value_cols:
        np.testing.assert_allclose(new[c].to_numpy(float), old[c].to_numpy(float), rtol=1e-12, atol=1e-9, err_msg=c)
    assert (new["_row"].to_numpy() == old["_row"].to_numpy()).all()
    last = s2.astype({"year": int}).set_index(KEYS).sort_index()["_last_row"]  # a range's end: max, not sum
    assert (last.to_numpy() == g["_last_row"].max().sort_index().to_numpy()).all()
    assert (new["_file"].to_numpy() == old["_file"].to_numpy()).all()
    pk = [*KEYS, "buyer", "winner"]

    def pairs(frame):
        if not len(frame):
            return frame
        frame = frame.astype({"country": str, "year": int, "buyer": str, "winner": str})
        return frame.groupby(pk, as_index=False)["n"].sum().sort_values(pk, ignore_index=True)

    assert len(p1) == len(p2) == 0 or pairs(p1).equals(pairs(p2))
    return new


# ---- randomized releases that reach every indicator and every type quirk ----

def _maybe(rng, value, p=0.9):
    return value if rng.random() < p else rng.choice([None, 7, "", [], {}, True])


def _random_release(rng: random.Random, i: int, countries: list[str], suppliers: int = 40) -> dict | str:
    country = rng.choice(countries)
    buyer = f"{country[:3]}-B{rng.randrange(8)}"
    ids = [f"{country[:3]}-S{rng.randrange(suppliers)}" for _ in range(rng.randrange(1, 6))]
    currency = rng.choice(["XTS", "XTS", "XTS", "EUR"])
    start = f"20{rng.randrange(10, 14)}-0{rng.randrange(1, 10)}-1{rng.randrange(10)}T00:00:00Z"
    end = f"{start[:8]}{rng.randrange(10, 29)}T1{rng.randrange(10)}:00:00{rng.choice(['Z', '+02:00', '-05:30'])}"
    base = 100 + rng.random() * 1000
    bids = []
    for k, tenderer in enumerate(ids):
        gap = rng.uniform(0.2, 0.4) if rng.random() < 0.9 else rng.choice([0.001, 2.0, -0.1, 0])
        amount = round(base * (1 + gap * (k > 0)), 2)
        bid = {"id": str(k), "status": rng.choice(["valid"] * 5 + ["disqualified"] * 2 + ["invited", "withdrawn",
                                                                                        "qualified", None]),
               "tenderers": rng.choice([[{"id": tenderer}], [{"id": tenderer}], [{"id": tenderer}, {"id": "X"}], [],
                                        [{"id": 5}]]),
               "value": {"amount": rng.choice([amount, amount, amount, str(amount), True]),
                         "currency": rng.choice([currency] * 6 + [None, "EUR"])},
               "date": rng.choice([None, end, start, f"{end[:8]}29T00:00:00Z"])}
        bids.append(_maybe(rng, bid, 0.97))
    winner = ids[0] if rng.random() < 0.85 else rng.choice([*ids, "NOBODY"])
    items = [{"classification": {"id": rng.choice(["03", "09", "14", "15", "30", "33", "45", "72", "79", "90"]) +
                                 f"{rng.randrange(100):02d}"}} for _ in range(rng.randrange(0, 4))]
    awards = [{"id": "a1", "status": rng.choice(["active"] * 8 + ["pending", "cancelled", "unsuccessful", None, " "]),
               "value": {"amount": rng.choice([round(base, 2), round(base, 2), "12", None]), "currency": currency},
               "suppliers": rng.choice([[{"id": winner}]] * 6 + [[{"id": winner}, {"id": ids[0]}], [{"id": 3}]]),
               "items": items}]
    if rng.random() < 0.1:
        awards.append({"id": "a2", "status": "active", "value": {"amount": 10.5}, "suppliers": [{"id": ids[-1]}]})
    n = rng.choice([len(ids), len(ids), 1, 1.0, "1", None])
    tender = {"status": rng.choice(["complete"] * 12 + ["cancelled", None]),
              "procurementMethod": rng.choice(["open", "open", "selective", "limited", " open", None, 3]),
              "procurementMethodDetails": rng.choice([None, None, "NPC", "x"]),
              "numberOfTenderers": n, "procuringEntity": _maybe(rng, {"id": f"PE{rng.randrange(5)}"}, 0.7),
              "tenderPeriod": _maybe(rng, {"startDate": _maybe(rng, start, 0.95), "endDate": _maybe(rng, end, 0.9)}),
              "tenderers": rng.choice([None, [{"id": t} for t in ids], [{"id": " "}]])}
    if rng.random() < 0.05:
        tender["contractPeriod"] = {"startDate": "2012-01-01"}
        tender.pop("tenderPeriod")
    release = {"ocid": f"ocds-r-{i}", "date": rng.choice([start, "1999-01-01T00:00:00Z", None]),
               "buyer": _maybe(rng, {"id": rng.choice([buyer, buyer, f" {buyer} ", 12]), "name": "B"}, 0.95),
               "parties": _maybe(rng, [{"id": buyer, "roles": rng.choice([["buyer"], [" buyer"], ["payer"], "buyer"]),
                                        "address": {"countryName": rng.choice([country] * 9 + [None])}}], 0.95),
               "tender": _maybe(rng, tender, 0.98), "bids": _maybe(rng, {"details": bids}, 0.9),
               "awards": _maybe(rng, awards, 0.92)}
    if rng.random() < 0.002:
        return rng.choice(['{"ocid": "broken', "[1, 2]", '{"tender": {}}', '{"ocid": 9}', '{"ocid": "n", "x": NaN}', ""])
    if rng.random() < 0.01:
        release["ocid"] = f"ocds-r-{max(0, i - rng.randrange(1, 50))}"  # a later release of an earlier process
    return release


def _write_random(path: Path, n: int, seed: int, countries: list[str]) -> Path:
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            r = _random_release(rng, i, countries)
            f.write((r if isinstance(r, str) else json.dumps(r, ensure_ascii=rng.random() < 0.5)) + "\n")
    return path


@pytest.fixture(scope="module")
def random_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("random") / "ocds"
    countries = ["Zustune", "Banovia", "Balino", "Crête", "Dorlan"]
    return [_write_random(root / "synthetic-world" / "a.jsonl", 36_000, 1, countries),
            _write_random(root / "synthetic-world" / "b.jsonl", 4_000, 2, countries),
            _write_random(root / "armenia-armeps" / "c.jsonl", 10_000, 3, ["Armenia"])]


def test_engines_agree_on_50k_randomized_processes(random_files):
    new = _assert_same(random_files)
    assert new["processes"].sum() > 40_000
    for code in FLAGS:  # every indicator fires somewhere, so agreement is not agreement on zeros
        assert new[f"flag_{code}"].sum() > 0, code
    assert new["short_k"].sum() > 0 and new["single_k"].sum() > 0


def test_engines_agree_on_bad_lines_and_name_the_first(tmp_path):
    first = {"ocid": "a", "tender": {"tenderPeriod": {"startDate": "2010-01-01T00:00:00Z"}},
             "parties": [{"roles": ["buyer"], "address": {"countryName": synthetic_name("XAA")}}]}
    lines = [json.dumps(first), '{"ocid": "b", ',
             "[1, 2]", "", "   ", '{"tender": {}}', '{"ocid": 5}', '{"ocid": "c", "x": NaN}', '{"ocid": "d"}',
             b'{"ocid": "e\xff"}'.decode("latin-1"), '{"ocid": "f", "s": "NaN: Infinity"}']
    path = tmp_path / "ocds" / "pub" / "bad.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8").replace("ÿ".encode(), b"\xff"))
    _assert_same([path])
    report = process_partials_columnar([path])[2][0]
    assert report.problems == {"not JSON": [4, 2], "missing ocid": [2, 6]}
    messages = []
    for engine in ("columnar", "python"):
        with pytest.raises(SourceDataError) as raised:
            get_source("procurement_signals").build({"releases": [path]},
                                                    BuildContext.for_policy("refuse", ocds_engine=engine))
        messages.append(str(raised.value))
    assert messages[0] == messages[1] and "bad.jsonl row 2: not JSON" in messages[0]


def test_builder_output_is_the_same_under_both_engines(random_files):
    frames = [get_source("procurement_signals").build({"releases": random_files},
                                                      BuildContext.for_policy("quarantine", ocds_engine=engine))
              for engine in ("columnar", "python")]
    pd.testing.assert_frame_equal(frames[0], frames[1], check_exact=False, rtol=1e-12)


@pytest.mark.realdata
def test_engines_agree_on_the_real_ocds_samples():
    if not OCDS.is_dir():
        pytest.skip(f"../shared/data is absent: no real OCDS samples at {OCDS}")
    files = sorted(p for p in OCDS.rglob("*.json") if "cardinal-fixtures" not in p.parts)
    assert len(files) >= 19
    new = _assert_same(files)
    assert new["processes"].sum() > 3000


def test_chunks_loaded_side_by_side_give_the_result_of_one_cursor(random_files):
    """Several cursors append chunks in whatever order they finish; the result must not depend on it."""
    one, several = (process_partials_columnar(random_files[1:2], chunk_bytes=1 << 18, threads=n)
                    for n in (1, 2))
    pd.testing.assert_frame_equal(*(s.sort_values(KEYS, ignore_index=True) for s in (one[0], several[0])),
                                  check_exact=False, rtol=1e-12)
    assert one[2] == several[2]


def test_chunk_reader_gives_whole_numbered_lines_at_any_chunk_size(tmp_path):
    """Chunks are read into buffers that Arrow wraps (ASCII as it is, other text after a UTF-8 check):
    any chunk size, even one shorter than a line, gives the same numbered lines, the last one included
    though it lacks its newline."""
    lines = [b'{"ocid": "a"}', '{"ocid": "\u00e9t\u00e9"}'.encode(), b"", b'{"ocid": "' + b"x" * 300 + b'"}',
             b'{"ocid": "z"}']
    path = tmp_path / "lines.jsonl"
    path.write_bytes(b"\n".join(lines))
    expected = [(i + 1, (line + b"\n").decode()) for i, line in enumerate(lines)]
    for size in (1, 7, 64, 1 << 20):
        chunks = list(_chunks([path], size))
        got = [(int(n), t) for _, _, prepared, _ in chunks
               for n, t in zip(prepared.numbers, prepared.text.to_pylist(), strict=True)]
        assert got == expected and chunks[-1][3] == len(lines), size
