"""Press incidents: hand-computed incidents per million and severe share; bad rows refused or counted."""

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from features.build_context import BuildContext
from features.registry import get_source
from nexus.countries import synthetic_name
from nexus.errors import SourceDataError

XAA, XAB = synthetic_name("XAA"), synthetic_name("XAB")
INCIDENTS = [(XAA, t) for t in ("attack", "threat", "arrest", "threat", "censorship", "killing")] + [
    (XAB, "attack"), (XAB, "threat")]


def write_incidents(raw: Path, rows, year=2010) -> Path:
    frame = pd.DataFrame(rows, columns=["country", "type"])
    frame = frame.assign(incident_id=[f"i{k}" for k in range(len(frame))], journalists=1,
                         date=pd.Timestamp(f"{year}-05-01").date())
    path = raw / "press_incidents" / f"incidents_{year}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
    return path


@pytest.fixture
def raw(tmp_path):
    path = tmp_path / "wb_wdi" / "population.csv"
    path.parent.mkdir(parents=True)
    pd.DataFrame([(XAA, "XAA", 2010, 2_000_000), (XAB, "XAB", 2010, 500_000)],
                 columns=["Country Name", "Country Code", "Year", "Value"]).to_csv(path, index=False)
    return tmp_path


def _build(raw, files, context=None):
    return get_source("press_incidents").build({"incidents": files,
                                                "population": [raw / "wb_wdi" / "population.csv"]},
                                               context or BuildContext.for_policy("refuse"))


def test_press_signals_equal_hand_computed(raw):
    out = _build(raw, [write_incidents(raw, INCIDENTS)]).set_index(["iso3", "year"])
    assert out.loc[("XAA", 2010), "press_incidents_per_million"] == pytest.approx(3.0)
    assert out.loc[("XAA", 2010), "press_incidents_severe_share"] == pytest.approx(0.5)
    assert out.loc[("XAB", 2010), "press_incidents_per_million"] == pytest.approx(4.0)
    assert np.isnan(out.loc[("XAB", 2010), "press_incidents_severe_share"])  # 2 incidents: too few


def test_bad_incidents_are_refused_or_counted(raw):
    path = write_incidents(raw, [*INCIDENTS, (XAA, "rumour"), ("Freedonia", "attack")])
    with pytest.raises(SourceDataError, match=r"incidents_2010.parquet row 9: unknown incident type"):
        _build(raw, [path])
    context = BuildContext.for_policy("quarantine")
    out = _build(raw, [path], context).set_index(["iso3", "year"])
    quality = context.quality
    assert quality.tables["press_incidents"][0].problems == {"unknown incident type": [1, 9],
                                                             "unknown country 'Freedonia'": [1, 10]}
    assert out.loc[("XAA", 2010), "press_incidents_per_million"] == pytest.approx(3.0)


def test_a_file_from_another_year_is_a_bad_partition(raw):
    path = write_incidents(raw, INCIDENTS)
    moved = path.with_name("incidents_2011.parquet")
    path.rename(moved)
    with pytest.raises(SourceDataError, match=r"incidents_2011.parquet row 1: date outside the partition's year"):
        _build(raw, [moved])
