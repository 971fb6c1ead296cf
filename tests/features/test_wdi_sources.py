"""World Development Indicators: aggregates dropped by the World Bank's own lists, never by name."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.build_context import BuildContext
from features.panel import validate_source_frame
from features.registry import get_source
from nexus.errors import SourceDataError


def wdi_csv(raw: Path, name: str, rows: list[tuple]) -> None:
    path = raw / "wb_wdi" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    head = '"Data Source","World Development Indicators",\n\n"Last Updated Date","2018-09-21",\n\n'
    body = '"Country Name","Country Code","Indicator Name","Indicator Code","2010","2011",\n'
    body += "".join(f'"{n}","{c}","x","x","{a}","{b}",\n' for n, c, a, b in rows)
    path.write_text(head + body, encoding="utf-8")


def population(raw: Path, rows: list[tuple]) -> None:
    path = raw / "wb_wdi" / "population.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=["Country Name", "Country Code", "Year", "Value"]).to_csv(path, index=False)


def class_workbook(raw: Path) -> None:
    path = raw / "reference" / "CLASS.xlsx"
    path.parent.mkdir(parents=True)
    economies = pd.DataFrame(
        {
            "Economy": ["Namibia", "World", "Channel Islands"],
            "Code": ["NAM", "WLD", "CHI"],
            "Region": ["Sub-Saharan Africa", None, "Europe & Central Asia"],
            "Income group": ["Upper middle income", None, "High income"],
        }
    )
    groups = pd.DataFrame(
        {
            "GroupCode": ["WLD", "SSF"],
            "GroupName": ["World", "Sub-Saharan Africa"],
            "CountryCode": ["NAM", "NAM"],
            "CountryName": ["Namibia", "Namibia"],
        }
    )
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        economies.to_excel(xl, sheet_name="List of economies", index=False)
        groups.to_excel(xl, sheet_name="Groups", index=False)


def build(raw: Path, name: str) -> pd.DataFrame:
    source = get_source(name)
    built = source.build(source.find_files(raw), BuildContext.for_policy("refuse"))
    return validate_source_frame(source, built).set_index(["iso3", "year"])


def test_aggregates_in_the_classification_are_dropped_and_countries_kept(tmp_path):
    class_workbook(tmp_path)
    population(
        tmp_path,
        [
            ("Namibia", "NAM", 2010, 2_100_000),
            ("World", "WLD", 2010, 6_900_000_000 // 4),
            ("Sub-Saharan Africa", "SSF", 2010, 800_000_000),
            ("Channel Islands", "CHI", 2010, 160_000),
        ],
    )
    wdi_csv(
        tmp_path,
        "API_ST.INT.ARVL_DS2_en_csv_v2_1.csv",
        [
            ("Namibia", "NAM", "1000000", "1050000"),
            ("World", "WLD", "1", "2"),
            ("Channel Islands", "CHI", "", ""),
        ],
    )
    arrivals = build(tmp_path, "tourism_arrivals")
    assert set(arrivals.index.get_level_values("iso3")) == {"NAM"}
    assert arrivals.loc[("NAM", 2010), "tourism_arrivals_per_capita"] == pytest.approx(1_000_000 / 2_100_000)
    assert np.isnan(arrivals.loc[("NAM", 2011), "tourism_arrivals_per_capita"])  # no 2011 population
    assert set(build(tmp_path, "population").index.get_level_values("iso3")) == {"NAM"}


def test_an_unknown_code_is_refused_with_a_hint_when_no_classification_is_there(tmp_path):
    population(tmp_path, [("Namibia", "NAM", 2010, 2_100_000)])
    wdi_csv(
        tmp_path,
        "API_ST.INT.ARVL_DS2_en_csv_v2_1.csv",
        [("Namibia", "NAM", "1", "2"), ("Arab World", "ARB", "3", "4")],
    )
    with pytest.raises(
        SourceDataError,
        match=r"API_ST.INT.ARVL_DS2_en_csv_v2_1.csv row 7: unknown country code 'ARB'; "
        r"if it is a World Bank aggregate, add reference/CLASS.xlsx",
    ):
        build(tmp_path, "tourism_arrivals")


def test_excel_downloads_use_their_own_metadata_sheet(tmp_path):
    path = tmp_path / "wb_wdi" / "API_NY.GDP.PCAP.CD_DS2_en_excel_v2_1.xls"
    path.parent.mkdir(parents=True)
    data = pd.DataFrame(
        [["Namibia", "NAM", "GDP", "NY", 5000.0], ["Fragile states", "FCS", "GDP", "NY", 900.0]],
        columns=["Country Name", "Country Code", "Indicator Name", "Indicator Code", "2010"],
    )
    meta = pd.DataFrame({"Country Code": ["NAM", "FCS"], "Region": ["Sub-Saharan Africa", None]})
    xlsx = path.with_suffix(".xlsx")  # openpyxl writes xlsx; the glob accepts both
    with pd.ExcelWriter(xlsx, engine="openpyxl") as xl:
        data.to_excel(xl, sheet_name="Data", index=False, startrow=3)
        meta.to_excel(xl, sheet_name="Metadata - Countries", index=False)
    gdp = build(tmp_path, "gdp_per_capita")
    assert list(gdp.index) == [("NAM", 2010)] and gdp["gdp_log_per_capita"].iloc[0] == pytest.approx(
        np.log(5000)
    )
