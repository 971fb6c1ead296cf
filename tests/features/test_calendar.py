"""Publication calendars: a panel row holds only what was public by the end of its year.

The real-data tests compare the PANEL with publication dates written here from the publishers'
release announcements (UNODC, WJP, GI-TOC, UN DESA, the State Department), not with the
declarations in the source modules, so a wrong lag or a wrong edition date makes them fail.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.build_context import BuildContext
from features.calendar import Calendar, latest_published
from features.cli import source_summary
from features.registry import get_source, register_source
from nexus.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data"  # as tests/conftest.py

# --- the calendar itself -----------------------------------------------------------------------


def test_constant_lag_and_per_edition_dates_give_the_year_a_value_became_public():
    cal = Calendar(lag_years=2, max_age_years=5, editions={2010: "2012-12-12", 2011: "2014-11-24",
                                                           2012: "2014-11-24"})
    assert cal.published_year([2010, 2011, 2012], "editions").tolist() == [2012, 2014, 2014]
    assert cal.published_year([2010, 2011, 2012], "constant_lag").tolist() == [2012, 2013, 2014]
    assert Calendar(lag_years=1, max_age_years=2).published_year([2020], "editions").tolist() == [2021]
    assert cal.lag_label("editions") == "2–3" and cal.lag_label("constant_lag") == 2


def test_a_declaration_that_cannot_hold_is_refused_on_creation():
    with pytest.raises(ValueError, match="not a YYYY-MM-DD date"):
        Calendar(lag_years=0, max_age_years=1, editions={2021: "Sept 2021"})
    with pytest.raises(ValueError, match="edition 2012 published 2012-01-01 before edition 2011"):
        Calendar(lag_years=0, max_age_years=1, editions={2011: "2013-01-01", 2012: "2012-01-01"})
    with pytest.raises(ValueError, match="no value would ever be usable"):
        Calendar(lag_years=2, max_age_years=1)
    with pytest.raises(ValueError, match="exactly one"):
        register_source(name="x", family="judicial", publisher="p", raw_globs={}, columns={},
                        available_after_years=1, calendar=Calendar(lag_years=1, max_age_years=2))


def test_editions_and_files_must_match_naming_source_and_edition():
    cal = Calendar(lag_years=1, max_age_years=2, editions={2013: "2012-11-28", 2014: "2014-03-05"})
    cal.check("judicial_metrics", [2013, 2014], "editions")
    cal.check("judicial_metrics", [2013, 2014, 2030], "constant_lag")  # the synthetic world's mode: no dates
    with pytest.raises(ConfigError, match=r"judicial_metrics\.py: calendar\.editions\.2014: source 'judicial_metrics': "
                                          r"edition \(data year\) 2014 is declared \(published 2014-03-05\) but its "
                                          r"files hold no data for it"):
        cal.check("judicial_metrics", [2013], "editions")
    with pytest.raises(ConfigError, match=r"calendar\.editions\.2015: source 'judicial_metrics': its files hold "
                                          r"edition \(data year\) 2015, which has no declared publication date"):
        cal.check("judicial_metrics", [2013, 2014, 2015], "editions")


def test_latest_published_uses_only_published_values_and_drops_stale_ones():
    frame = pd.DataFrame({"iso3": ["XAA", "XAA"], "year": [2010, 2012], "v": [1.0, 2.0]})
    cal = Calendar(lag_years=0, max_age_years=3, editions={2010: "2012-05-01", 2012: "2013-01-01"})
    grid = pd.DataFrame({"iso3": "XAA", "year": range(2011, 2018)})
    known = latest_published(frame, grid, ["v"], cal.published_year(frame["year"], "editions"), cal.max_age_years)
    # 2011: nothing public; 2012: the 2010 value (published May 2012); 2013–2015: 2012's;
    # 2016 on: 2012's value is 4 years old, over the limit of 3 → missing, not carried
    np.testing.assert_array_equal(known["v"].to_numpy(), [np.nan, 1.0, 2.0, 2.0, 2.0, np.nan, np.nan])
    np.testing.assert_array_equal(known["published_year"].to_numpy(), [np.nan, 2012, 2013, 2013, 2013, np.nan, np.nan])
    back = latest_published(frame, grid, ["v"], cal.published_year(frame["year"], "editions"), 3, years_back=1)
    np.testing.assert_array_equal(back["v"].to_numpy(), [np.nan, np.nan, 1.0, 2.0, 2.0, 2.0, np.nan])


def test_nexus_sources_reports_a_calendar_edition_missing_from_the_file(tmp_path):
    measures = ["WJP Rule of Law Index: Overall Score", "Factor 2: Absence of Corruption",
                "8.5 Criminal system is free of corruption"]
    rows = [{"Country": "Denmark", "Year": year, "Country Code": "DNK", **dict.fromkeys(measures, 0.9)}
            for year in ("2012-2013", "2014", "2016")]  # the 2015 edition left out
    path = tmp_path / "wjp_roli" / "2025_wjp_rule_of_law_index_HISTORICAL_DATA_FILE.xlsx"
    path.parent.mkdir()
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        pd.DataFrame(rows).to_excel(xl, sheet_name="Historical Data", index=False)
    summary = source_summary(get_source("judicial_metrics"), tmp_path, "editions", BuildContext.for_policy("refuse"))
    assert summary.startswith("cannot be built: ") and "calendar.editions.2015" in summary
    assert "edition (data year) 2015 is declared (published 2015-06-02) but its files hold no data for it" in summary
    assert source_summary(get_source("judicial_metrics"), tmp_path, "constant_lag",
                          BuildContext.for_policy("refuse")).startswith("years 2013–2016")


# --- the real panel against the publishers' release dates --------------------------------------

# GLOTIP (UNODC Global Report on Trafficking in Persons): release, and the newest data year it made public.
GLOTIP_RELEASES = [
    ("2009-02-12", 2006),  # first Global Report, February 2009: 2003–2006
    ("2012-12-12", 2010),  # Global Report 2012, December 2012: cases detected 2007–2010
    ("2014-11-24", 2012),  # Global Report 2014, presented 24 November 2014: 2010–2012
    ("2016-12-21", 2014),  # Global Report 2016, 21 December 2016: 2012–2014
    ("2019-01-07", 2016),  # Global Report 2018, launched January 2019 (New York, 29 January): data of 2016
    ("2021-02-02", 2019),  # Global Report 2020, launched 2 February 2021
    ("2023-01-24", 2020),  # Global Report 2022, launched 24 January 2023: data 2017–2020
    ("2023-05-30", 2021),  # dataUNODC release of this file (its header): 2021 counts
]
# WJP Rule of Law Index: edition → launch.
WJP_RELEASES = {"2012-2013": "2012-11", "2014": "2014-03", "2015": "2015-06", "2016": "2016-10",
                "2017-2018": "2018-01", "2019": "2019-02", "2020": "2020-03", "2021": "2021-10",
                "2022": "2022-10", "2023": "2023-10", "2024": "2024-10", "2025": "2025-10"}
OC_RELEASES = {2021: "2021-09", 2023: "2023-09"}  # GI-TOC Global Organized Crime Index editions
MIGRANT_STOCK_2020_REVISION = "2021-01-15"  # UN DESA International Migrant Stock 2020 (holds 1990–2020)


def _newest_public(releases, t):
    years = [newest for when, newest in releases if int(when[:4]) <= t]
    return max(years) if years else None


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent: the real-data tests read the publishers' files there")
    from features.build_context import BuildContext
    from features.panel import LABEL_PROVENANCE, PROVENANCE, build_features, load_panel
    from nexus.config import load_params

    root = tmp_path_factory.mktemp("real_calendar")
    params = load_params(REPO / "params.real.yaml", {
        "paths.raw": str(SHARED_DATA / "raw"), "paths.artifacts": str(root / "artifacts"),
        "features.sources": ["trafficking_detections", "judicial_metrics", "organized_crime", "migrant_stock"]})
    assert params.features.calendar == "editions"
    build = build_features(params.features, params.dask, SHARED_DATA / "raw", root / "artifacts")
    panel, _, _ = load_panel(build.directory)
    provenance = pd.read_parquet(build.directory / PROVENANCE)
    labels = pd.read_parquet(build.directory / LABEL_PROVENANCE)
    context = BuildContext.for_policy(params.features.bad_input)
    frames = {n: get_source(n).build(get_source(n).find_files(SHARED_DATA / "raw"), context)
              for n in ("judicial_metrics", "organized_crime", "migrant_stock")}
    return panel.set_index(["iso3", "year"]), provenance, labels, frames


def test_glotip_rows_hold_only_counts_already_in_a_global_report(real):
    _, provenance, _, _ = real
    used = provenance[(provenance["source"] == "trafficking_detections")].dropna(subset=["data_year"])
    allowed = used["year"].map(lambda t: _newest_public(GLOTIP_RELEASES, t))
    assert (used["data_year"] <= allowed).all(), "a row uses counts published after its year"
    # row 2013 holds nothing first published in the November 2014 edition (2011–2012 counts)
    assert used.loc[used["year"] == 2013, "data_year"].max() == 2010
    # and each year does use the newest edition out by then (not a constant two-year lag)
    newest = used.groupby("year")["data_year"].max()
    for t in range(2009, 2025):
        assert newest[t] == _newest_public(GLOTIP_RELEASES, t), t


def test_wjp_row_t_holds_the_edition_published_by_t(real):
    panel, _, _, frames = real
    wjp = frames["judicial_metrics"].set_index(["iso3", "year"])["wjp_overall"]
    for t in range(2011, 2025):
        out = [edition for edition, when in WJP_RELEASES.items() if int(when[:4]) <= t]
        value = panel.loc[("DNK", t), "wjp_overall"]
        if not out:
            assert np.isnan(value)
            continue
        newest = max(out, key=lambda e: WJP_RELEASES[e])
        assert value == pytest.approx(wjp[("DNK", int(newest[-4:]))]), (t, newest)


def test_oc_index_enters_in_its_edition_year(real):
    panel, _, _, frames = real
    oc = frames["organized_crime"].set_index(["iso3", "year"])["ocindex_human_trafficking"]
    assert np.isnan(panel.loc[("MEX", 2020), "ocindex_human_trafficking"])
    for t in range(2021, 2025):
        edition = max(e for e, when in OC_RELEASES.items() if int(when[:4]) <= t)
        assert panel.loc[("MEX", t), "ocindex_human_trafficking"] == oc[("MEX", edition)]


def test_migrant_stock_carries_the_last_published_estimate_and_never_the_next(real):
    panel, _, _, frames = real
    stock = frames["migrant_stock"].set_index(["iso3", "year"])["migstock_share"]
    public_from = int(MIGRANT_STOCK_2020_REVISION[:4])
    for t in range(2011, 2025):
        estimate = 2020 if t >= public_from else (t - 1) // 5 * 5
        assert panel.loc[("DEU", t), "migstock_share"] == stock[("DEU", estimate)], t
    assert panel.loc[("DEU", 2012), "migstock_share"] != stock[("DEU", 2015)]
    assert (frames["migrant_stock"]["year"] % 5 == 0).all()  # estimates only: nothing interpolated


def test_the_tip_label_of_row_t_is_report_t(real):
    panel, provenance, labels, _ = real
    assert panel.loc[("THA", 2014), "label_tier"] == 3 and panel.loc[("THA", 2016), "label_tier"] == 2
    tips = provenance[provenance["source"] == "tier_placements"].dropna(subset=["data_year"])
    assert (tips["data_year"] == tips["year"]).all() and (tips["published_year"] == tips["year"]).all()
    assert set(labels["year"]) == set(range(2001, 2026))  # params.real.yaml: rows to 2025
    assert labels.loc[(labels["iso3"] == "CAN") & (labels["year"] == 2022), "evidence"].item() == "inferred"
    assert labels.loc[(labels["iso3"] == "DZA") & (labels["year"] == 2024), "resolved_conflict"].item() != ""
