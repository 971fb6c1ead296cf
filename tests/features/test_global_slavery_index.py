"""Walk Free Global Slavery Index: three editions, units per edition, a wrong sheet named with what was found."""

from __future__ import annotations

import functools
from pathlib import Path

import pandas as pd
import pytest

from features.build_context import BuildContext
from features.panel import validate_source_frame
from features.registry import get_source
from features.sources.global_slavery_index import EDITIONS, UNIT_WORDS
from nexus.errors import SourceDataError

REPO = Path(__file__).resolve().parents[2]
RAW = REPO.parent / "shared" / "data" / "raw"
real = pytest.mark.skipif(not RAW.is_dir(), reason=f"{RAW} is absent: the publishers' files live there")


@functools.cache
def built() -> pd.DataFrame:
    source = get_source("global_slavery_index")
    return validate_source_frame(source, source.build(source.find_files(RAW), BuildContext.for_policy("refuse")))


def value(iso3: str, year: int, column: str) -> float:
    frame = built()
    match = frame.loc[(frame["iso3"] == iso3) & (frame["year"] == year), column]
    assert len(match) == 1, f"{len(match)} rows for {iso3} {year}"
    return float(match.iloc[0])


@real
@pytest.mark.realdata
def test_values_read_by_hand_from_each_edition():
    # 2016, sheet GLOBAL DATA 2016 GSI row 3: Afghanistan 1.130009 % → 11.30009 per 1,000; no response rated
    assert value("AFG", 2016, "gsi_prevalence_per_1k") == pytest.approx(11.30009)
    assert value("AFG", 2016, "gsi_vulnerability") == 67.06
    assert pd.isna(value("AFG", 2016, "gsi_government_response"))
    assert value("ALB", 2016, "gsi_government_response") == pytest.approx(54.3373015873016)
    # 2018, sheet Global prev, vuln, govt table row 4: Albania, per 1,000 as published
    assert value("ALB", 2018, "gsi_prevalence_per_1k") == pytest.approx(6.8708719206204)
    assert value("ALB", 2018, "gsi_vulnerability") == pytest.approx(45.2008949714294)
    assert value("ALB", 2018, "gsi_government_response") == pytest.approx(59.8809523809524)
    # 2023, sheet GSI 2023 summary data row 4: Albania; North Korea the highest prevalence
    assert value("ALB", 2023, "gsi_prevalence_per_1k") == pytest.approx(11.8139448165894)
    assert value("ALB", 2023, "gsi_government_response") == pytest.approx(61.538459777832)
    assert value("PRK", 2023, "gsi_prevalence_per_1k") == pytest.approx(104.6, abs=0.05)
    assert not pd.isna(value("COG", 2018, "gsi_vulnerability"))  # the 2018 workbook's "Congo"


@real
@pytest.mark.realdata
def test_rows_per_edition_as_documented():
    frame = built()
    assert frame.groupby("year").size().to_dict() == {2016: 167, 2018: 186, 2023: 180}
    observed = frame.groupby("year")[["gsi_prevalence_per_1k", "gsi_government_response"]].count()
    assert observed["gsi_prevalence_per_1k"].to_dict() == {2016: 167, 2018: 167, 2023: 160}  # SOURCES.md 13.2
    assert observed.loc[[2018, 2023], "gsi_government_response"].to_list() == [162, 176]


def test_every_edition_header_names_its_declared_unit():
    for edition in EDITIONS.values():
        assert any(word in edition.prevalence.casefold() for word in UNIT_WORDS[edition.prevalence_unit])


def _workbook(path: Path, sheet: str, columns: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [[None] * len(columns), columns, ["Albania", *["1"] * (len(columns) - 1)]]
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        pd.DataFrame(rows).to_excel(xl, sheet_name=sheet, index=False, header=False)
    return path


def test_an_edition_with_an_unexpected_sheet_names_the_sheets_it_found(tmp_path):
    source = get_source("global_slavery_index")
    _workbook(tmp_path / "walkfree_gsi" / "slavery_2018.xlsx", "GSI 2018 data", ["Country"])
    with pytest.raises(SourceDataError, match=r"slavery_2018.xlsx: GSI 2018 edition: no sheet "
                       r"'Global prev, vuln, govt table' \(found: 'GSI 2018 data'\)"):
        source.build(source.find_files(tmp_path), BuildContext.for_policy("refuse"))


def test_a_2016_workbook_in_other_units_is_refused_and_the_declared_one_converted(tmp_path):
    e = EDITIONS[2016]
    path = tmp_path / "walkfree_gsi" / "slavery_2016.xlsx"
    source = get_source("global_slavery_index")
    _workbook(path, e.sheet, ["Country", "Prevalence per 1,000", e.vulnerability, e.response])
    with pytest.raises(SourceDataError, match=r"slavery_2016.xlsx row 2: missing column "
                       r"'ESTIMATED PROPORTION OF POPULATION IN MODERN SLAVERY' \(found: Country, Prevalence"):
        source.build(source.find_files(tmp_path), BuildContext.for_policy("refuse"))
    _workbook(path, e.sheet, ["Country", e.prevalence, e.vulnerability, e.response])
    frame = source.build(source.find_files(tmp_path), BuildContext.for_policy("refuse"))
    assert frame[["iso3", "gsi_prevalence_per_1k", "gsi_vulnerability"]].values.tolist() == [["ALB", 10.0, 1.0]]


def test_a_workbook_not_named_after_an_edition_is_refused(tmp_path):
    source = get_source("global_slavery_index")
    _workbook(tmp_path / "walkfree_gsi" / "slavery_2020.xlsx", "x", ["Country"])
    with pytest.raises(SourceDataError, match=r"slavery_2020.xlsx: cannot tell the Global Slavery Index edition "
                       r"from the file name; expected slavery_<year>.xlsx with year one of 2016, 2018, 2023"):
        source.build(source.find_files(tmp_path), BuildContext.for_policy("refuse"))
