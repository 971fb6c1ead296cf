"""Border crossings: hand-computed signals, CSV and Parquet layouts agree, bad partitions refused or counted."""

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

XAA = synthetic_name("XAA")
EVENTS = pd.DataFrame([
    ("2010-01-05", XAA, "land-north", 10, "F", "0-17"),
    ("2010-03-01", XAA, "air", 30, "M", "18-34"),
    ("2010-06-01", XAA, "air", 60, "F", "35-54"),
    ("2011-02-01", XAA, "land-north", 50, "M", "55+"),
    ("2011-05-01", XAA, "sea-east", 150, "F", "18-34"),
], columns=["date", "nationality", "route", "count", "sex", "age_group"])


def write_population(raw: Path, rows=(("XAA", 2010, 1_000_000), ("XAA", 2011, 2_000_000))) -> Path:
    path = raw / "wb_wdi" / "population.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame([(synthetic_name(c), c, y, v) for c, y, v in rows],
                 columns=["Country Name", "Country Code", "Year", "Value"]).to_csv(path, index=False)
    return path


def write_layouts(raw: Path, events: pd.DataFrame) -> dict[str, list[Path]]:
    folder = raw / "border_crossings"
    folder.mkdir(parents=True, exist_ok=True)
    csv, parquet = [], []
    for year, g in events.groupby(events["date"].str[:4]):
        g.to_csv(folder / f"crossings_{year}.csv", index=False)
        csv.append(folder / f"crossings_{year}.csv")
        table = pa.Table.from_pandas(g.assign(date=pd.to_datetime(g["date"]).dt.date), preserve_index=False)
        pq.write_table(table, folder / f"crossings_{year}.parquet")
        parquet.append(folder / f"crossings_{year}.parquet")
    return {"csv": csv, "parquet": parquet}


@pytest.fixture
def raw(tmp_path):
    write_population(tmp_path)
    return tmp_path


def _build(files, raw, context=None):
    return get_source("border_crossings").build({**files, "population": [raw / "wb_wdi" / "population.csv"]},
                                                context or BuildContext.for_policy("refuse"))


def test_crossings_equal_hand_computed_signals(raw):
    layouts = write_layouts(raw, EVENTS)
    out = _build({"events": layouts["csv"]}, raw).set_index(["iso3", "year"])
    y0, y1 = out.loc[("XAA", 2010)], out.loc[("XAA", 2011)]
    assert y0["crossings_per_100k"] == pytest.approx(100 / 1e6 * 1e5)
    assert y1["crossings_per_100k"] == pytest.approx(200 / 2e6 * 1e5)
    assert np.isnan(y0["crossings_growth"]) and y1["crossings_growth"] == pytest.approx(np.log(201 / 101))
    assert (y0["crossings_share_female"], y0["crossings_share_minors"]) == pytest.approx((0.7, 0.1))
    assert (y0["crossings_share_girls"], y0["crossings_share_young_adults"]) == pytest.approx((0.1, 0.3))
    assert y0["crossings_main_route_share"] == pytest.approx(0.9)
    assert np.isnan(y0["crossings_route_shift"])
    # routes 2010: land-north .1, air .9; 2011: land-north .25, sea-east .75
    assert y1["crossings_route_shift"] == pytest.approx(0.5 * (0.15 + 0.9 + 0.75))


def test_csv_and_parquet_layouts_give_the_same_signals(raw):
    layouts = write_layouts(raw, EVENTS)
    a = _build({"events": layouts["csv"]}, raw)
    b = _build({"partitions": layouts["parquet"]}, raw)
    features = [c for c in a.columns if c.startswith("crossings")]
    pd.testing.assert_frame_equal(a[["iso3", "year", *features]], b[["iso3", "year", *features]])


def test_the_skeleton_columns_are_still_built():
    columns = get_source("border_crossings").columns
    assert {"crossings_per_100k", "crossings_growth", "crossings_share_female", "crossings_share_minors"} <= set(columns)


def test_csv_bad_row_names_file_and_row(raw):
    layouts = write_layouts(raw, EVENTS.assign(sex=["F", "M", "Q", "M", "F"]))
    with pytest.raises(SourceDataError, match=r"crossings_2010.csv row 4: sex: 'Q' is not one of"):
        _build({"events": layouts["csv"]}, raw)


def test_parquet_bad_rows_are_refused_or_counted(raw):
    bad = EVENTS.copy()
    bad.loc[1, "count"] = -5
    bad.loc[2, "nationality"] = "Freedonia"
    bad.loc[4, "sex"] = "Q"
    layouts = write_layouts(raw, bad)
    with pytest.raises(SourceDataError, match=r"crossings_2010.parquet row 2: negative count \(1 row in this "
                                              r"partition; also unknown country 'Freedonia'\)"):
        _build({"partitions": layouts["parquet"]}, raw)
    context = BuildContext.for_policy("quarantine")
    out = _build({"partitions": layouts["parquet"]}, raw, context).set_index(["iso3", "year"])
    quality = context.quality
    reports = {Path(r.path).name: r for r in quality.tables["border_crossings"]}
    assert reports["crossings_2010.parquet"].problems == {"negative count": [1, 2], "unknown country 'Freedonia'": [1, 3]}
    assert reports["crossings_2011.parquet"].problems == {"unknown sex": [1, 2]}
    assert out.loc[("XAA", 2010), "crossings_per_100k"] == pytest.approx(10 / 1e6 * 1e5)  # only the first row is kept
    assert out.loc[("XAA", 2011), "crossings_share_female"] == 0.0
