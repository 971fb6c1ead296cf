"""The recorded origin of an aggregated value reproduces it from the raw file's rows.

The feature stage says a value such as `crossings_per_100k` is a sum over certain rows of a
crossings file divided by a population row; here those rows are read back from the raw files
(tests may; the service never does) and the panel value recomputed from them.
"""

from __future__ import annotations

import functools
import json

import numpy as np
import pandas as pd
import pytest

from features.aggregates import contributing_rows, value_origins
from nexus.countries import name_to_iso3


@pytest.fixture(scope="module")
def recorded(small_features):
    directory = small_features.directory
    panel = pd.read_parquet(directory / "panel.parquet")
    sources = pd.read_parquet(directory / "panel_sources.parquet")
    return directory, panel, sources, value_origins(directory), contributing_rows(directory)


def _held(panel, sources, source, iso3, data_year, feature) -> pd.Series:
    """The panel's values of `feature` in the rows that use `source`'s `data_year` value of `iso3`."""
    used = sources[(sources["source"] == source) & (sources["iso3"] == iso3)
                   & (sources["data_year"] == data_year)]
    return panel.merge(used[["iso3", "year"]], on=["iso3", "year"])[feature]


@functools.cache
def _lines(path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


@functools.cache
def _read(path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def test_recorded_crossing_rows_reproduce_the_panel_value(recorded, world_dir):
    directory, panel, sources, origins, rows = recorded
    per_100k = origins[origins["feature"] == "crossings_per_100k"]
    assert len(per_100k) > 1000 and set(per_100k["operation"].astype(str)) == {"sum"}
    population = pd.read_csv(world_dir / "wb_wdi/population.csv", dtype=str)
    listed = rows[rows["source"] == "border_crossings"]
    checked = 0
    for (iso3, data_year), own in listed.groupby(["iso3", "data_year"], observed=True):
        origin = per_100k[(per_100k["iso3"] == iso3) & (per_100k["data_year"] == data_year)].iloc[0]
        (file,) = own["file"].astype(str).unique()
        events = _read(world_dir / file)
        raw = events.iloc[own["row"].to_numpy(int) - 2]  # row numbers as a person sees them: header = 1
        # the rows are this country's, all of them, and their counts are the recorded ones
        assert {name_to_iso3(n) for n in raw["nationality"].unique()} == {iso3}
        mine = events["nationality"].map(lambda n, i=iso3: name_to_iso3(n) == i)
        assert int(mine.sum()) == len(own) == int(origin["n_rows"])
        counts = raw["count"].astype(float).to_numpy()
        np.testing.assert_array_equal(counts, own["value"].to_numpy())
        assert counts.sum() == origin["numerator"]
        assert (int(origin["row"]), int(origin["last_row"])) == (int(own["row"].min()), int(own["row"].max()))
        pop = population.iloc[int(origin["denominator_row"]) - 2]
        assert (pop["Country Code"], int(pop["Year"])) == (iso3, data_year)
        assert str(origin["denominator_file"]) == "wb_wdi/population.csv"
        value = counts.sum() / float(pop["Value"]) * 1e5
        # the panel rows that use this data year hold exactly this value
        held = _held(panel, sources, "border_crossings", iso3, data_year, "crossings_per_100k")
        if held.empty:  # published after the panel's last year
            assert data_year == panel["year"].max()
            continue
        assert np.allclose(held, value, rtol=1e-12)
        checked += 1
        if checked == 25:  # one country's years; every country-year would only repeat the same reading
            break
    assert checked == 25


def test_procurement_shares_cite_the_country_years_release_lines(recorded, world_dir):
    directory, panel, sources, origins, _ = recorded
    share = origins[origins["feature"] == "procurement_single_bid_share"]
    assert set(share["operation"].astype(str)) == {"share"} and share["numerator"].notna().all()
    counted = origins[origins["feature"] == "procurement_log_processes"].set_index(["iso3", "data_year"])
    used = share[share["data_year"] < panel["year"].max()]  # the last year's values enter no panel row
    sample = used.sample(20, random_state=1)
    for origin in sample.itertuples():
        lines = _lines(world_dir / str(origin.file))
        cited = [json.loads(line) for line in lines[origin.row - 1:origin.last_row]]
        assert origin.last_row - origin.row + 1 == origin.n_rows == len(cited)  # the world's file is grouped
        assert {c["ocid"].split("-")[2] for c in cited} == {origin.iso3}
        assert {c["tender"]["tenderPeriod"]["startDate"][:4] for c in cited} == {str(origin.data_year)}
        # R018: competitive (open, selective) processes with a bidder count; single = one bidder
        tenders = [c["tender"] for c in cited]
        eligible = [t for t in tenders if t.get("procurementMethod") in ("open", "selective")
                    and t.get("numberOfTenderers") is not None]
        assert len(eligible) == origin.denominator
        assert sum(t["numberOfTenderers"] == 1 for t in eligible) == origin.numerator
        value = _held(panel, sources, "procurement_signals", origin.iso3, origin.data_year,
                      "procurement_single_bid_share")
        assert len(value) and np.allclose(value, origin.numerator / origin.denominator)
        assert len(cited) == counted.loc[(origin.iso3, origin.data_year), "numerator"]


def test_single_row_values_cite_one_row_and_every_panel_value_has_an_origin(recorded):
    directory, panel, sources, origins, _ = recorded
    wgi = origins[origins["feature"] == "wgi_government_effectiveness"]
    assert set(wgi["operation"].astype(str)) == {"row"} and (wgi["n_rows"] == 1).all()
    keyed = origins.set_index(["feature", "iso3", "data_year"]).index
    for feature, source in (("crossings_share_female", "border_crossings"),
                            ("procurement_short_period_share", "procurement_signals"),
                            ("wgi_government_effectiveness", "governance_indicators")):
        used = sources[sources["source"] == source].dropna(subset=["data_year"])
        held = panel[["iso3", "year", feature]].merge(used, on=["iso3", "year"])
        held = held[held[feature].notna()]
        wanted = pd.MultiIndex.from_arrays([[feature] * len(held), held["iso3"],
                                            held["data_year"].astype(int)])
        assert len(held) > 500 and wanted.isin(keyed).all(), feature
