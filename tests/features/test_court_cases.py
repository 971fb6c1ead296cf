"""Court cases: hand-computed prosecutions, convictions, conviction rate and median duration; bad rows."""

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from features.build_context import BuildContext
from features.registry import get_source
from features.sources import court_cases
from nexus.countries import synthetic_name
from nexus.errors import SourceDataError

XAA = synthetic_name("XAA")
CASES = [  # (case id, filed, decided, outcome)
    ("c1", "2010-01-01", "2010-01-11", "convicted"),  # 10 days
    ("c2", "2010-02-01", "2010-03-03", "acquitted"),  # 30
    ("c3", "2010-03-01", "2011-03-01", "convicted"),  # 365, decided in 2011
    ("c4", "2010-04-01", None, "pending"),
    ("c5", "2010-05-01", "2010-05-21", "convicted"),  # 20
    ("c6", "2010-06-01", "2010-06-05", "dismissed"),  # 4
    ("c7", "2010-07-01", "2010-08-10", "convicted"),  # 40
    ("c8", "2011-01-01", "2011-01-31", "convicted"),  # 30
]


def write_cases(raw: Path, cases, country=XAA) -> list[Path]:
    frame = pd.DataFrame(cases, columns=["case_id", "filed_date", "decided_date", "outcome"])
    frame = frame.assign(country=country, court="District Court 1", offence="trafficking in persons", defendants=1,
                         filed_date=pd.to_datetime(frame["filed_date"]).dt.date,
                         decided_date=pd.to_datetime(frame["decided_date"]).dt.date)
    out = []
    for year, g in frame.groupby(frame["case_id"].map(dict((c[0], c[1][:4]) for c in cases))):
        path = raw / "court_cases" / f"cases_{year}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pandas(g, preserve_index=False), path)
        out.append(path)
    return out


@pytest.fixture
def raw(tmp_path):
    path = tmp_path / "wb_wdi" / "population.csv"
    path.parent.mkdir(parents=True)
    pd.DataFrame([(XAA, "XAA", 2010, 1_000_000), (XAA, "XAA", 2011, 2_000_000)],
                 columns=["Country Name", "Country Code", "Year", "Value"]).to_csv(path, index=False)
    return tmp_path


def _build(raw, files, context=None):
    return get_source("court_cases").build({"cases": files, "population": [raw / "wb_wdi" / "population.csv"]},
                                           context or BuildContext.for_policy("refuse"))


def test_court_signals_equal_hand_computed(raw, monkeypatch):
    out = _build(raw, write_cases(raw, CASES)).set_index(["iso3", "year"])
    y0 = out.loc[("XAA", 2010)]
    assert y0["court_prosecutions_per_100k"] == pytest.approx(7 / 1e6 * 1e5)
    assert y0["court_convictions_per_100k"] == pytest.approx(3 / 1e6 * 1e5)  # c1 c5 c7 decided in 2010
    assert y0["court_conviction_rate"] == pytest.approx(3 / 5)
    assert y0["court_median_duration_days"] == 20  # of 4, 10, 20, 30, 40
    assert np.isnan(out.loc[("XAA", 2011), "court_conviction_rate"])  # 2 decided < MIN_DECIDED
    monkeypatch.setattr(court_cases, "MIN_DECIDED", 1)
    y1 = _build(raw, write_cases(raw, CASES)).set_index(["iso3", "year"]).loc[("XAA", 2011)]
    assert y1["court_median_duration_days"] == pytest.approx((30 + 365) / 2)
    assert y1["court_conviction_rate"] == 1.0
    assert y1["court_prosecutions_per_100k"] == pytest.approx(1 / 2e6 * 1e5)


def test_median_from_counts_is_exact():
    assert court_cases.median_from_counts(np.array([30, 10, 20]), np.array([1, 1, 1])) == 20
    assert court_cases.median_from_counts(np.array([10, 20]), np.array([1, 1])) == 15
    assert court_cases.median_from_counts(np.array([10, 20, 90]), np.array([3, 1, 2])) == 15  # 10 10 10 20 90 90
    values = np.random.default_rng(1).integers(0, 50, 101)
    uniq, counts = np.unique(values, return_counts=True)
    assert court_cases.median_from_counts(uniq, counts) == np.median(values)


def test_impossible_cases_are_refused_or_counted(raw):
    bad = [*CASES, ("c9", "2010-09-01", "2010-08-01", "convicted"), ("c10", "2010-10-01", "2010-10-02", "hanged")]
    files = write_cases(raw, bad)
    with pytest.raises(SourceDataError, match=r"cases_2010.parquet row 8: decided before filed"):
        _build(raw, files)
    context = BuildContext.for_policy("quarantine")
    out = _build(raw, files, context).set_index(["iso3", "year"])
    quality = context.quality
    report = {Path(r.path).name: r for r in quality.tables["court_cases"]}["cases_2010.parquet"]
    assert report.problems == {"decided before filed": [1, 8], "unknown outcome": [1, 9]}
    assert report.kept == 7
    assert out.loc[("XAA", 2010), "court_prosecutions_per_100k"] == pytest.approx(0.7)
