"""Corruption perceptions: the 2012 method break is a flag, the workbook wins, R's "NA" is not Namibia."""

from pathlib import Path

import pandas as pd
import pytest

from features.build_context import BuildContext
from features.panel import validate_source_frame
from features.registry import get_source
from features.sources.corruption_perceptions import SHEET, SOURCE_COLUMNS
from nexus.errors import SourceDataError

REPO = Path(__file__).resolve().parents[2]
WORKBOOK = REPO.parent / "shared" / "data" / "raw" / "ti_cpi" / "CPI2023_Global_Results__Trends.xlsx"


def write_workbook(raw: Path, rows: list[dict]) -> None:
    path = raw / "ti_cpi" / "CPI2023.xlsx"
    path.parent.mkdir(parents=True, exist_ok=True)
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        pd.DataFrame(rows).to_excel(xl, sheet_name=SHEET, index=False, startrow=3)  # three title rows


def build(raw: Path) -> pd.DataFrame:
    source = get_source("corruption_perceptions")
    built = source.build(source.find_files(raw), BuildContext.for_policy("refuse"))
    return validate_source_frame(source, built).set_index(["iso3", "year"])


def test_pre_2012_scores_are_flagged_and_the_workbook_wins(tmp_path):
    write_workbook(
        tmp_path,
        [
            {"Country / Territory": "Namibia", "ISO3": "NAM", "Year": 2012, "CPI score": 48},
            {"Country / Territory": "Kosovo", "ISO3": "KSV", "Year": 2012, "CPI score": 34},
        ],
    )
    (tmp_path / "ti_cpi" / "cpi.csv").write_text(
        "country,year,cpi,cpi_se\nNamibia,2011,44,2\nNamibia,2012,99,2\nNA,2008,31,2\nNamibia,2008,45,2\n"
        "Yugoslavia,2001,20,2\nArgentina,1995,52.400000000000006,1\n",
        encoding="utf-8",
    )
    cpi = build(tmp_path)
    assert cpi.loc[("NAM", 2012), "cpi_score"] == 48 and cpi.loc[("NAM", 2012), "cpi_pre2012_method"] == 0
    assert cpi.loc[("NAM", 2011), "cpi_pre2012_method"] == 1
    assert cpi.loc[("NAM", 2008), "cpi_score"] == 45  # R's "NA" row is no country, not Namibia
    assert cpi.loc[("ARG", 1995), "cpi_score"] == 52.4  # float noise rounded
    assert ("XKX", 2012) in cpi.index  # TI's KSV
    assert not any(code == "YUG" for code, _ in cpi.index)  # dissolved: dropped, not guessed


def test_unknown_name_in_the_compilation_names_file_and_row(tmp_path):
    write_workbook(
        tmp_path, [{"Country / Territory": "Namibia", "ISO3": "NAM", "Year": 2012, "CPI score": 48}]
    )
    (tmp_path / "ti_cpi" / "cpi.csv").write_text(
        "country,year,cpi,cpi_se\nNamibia,2011,44,2\nFreedonia,2010,30,2\n"
    )
    with pytest.raises(SourceDataError, match=r"cpi.csv row 3: unknown country 'Freedonia'"):
        build(tmp_path)


@pytest.mark.skipif(not WORKBOOK.exists(), reason=f"{WORKBOOK} is absent")
def test_declared_lineage_covers_every_source_column_of_the_workbook():
    header = pd.read_excel(WORKBOOK, sheet_name="CPI 2023", header=3, nrows=0, engine="calamine").columns
    known = {
        "Country / Territory",
        "ISO3",
        "Region",
        "CPI score 2023",
        "Rank",
        "Standard error",
        "Number of sources",
        "Lower CI",
        "Upper CI",
    }
    sources = [c for c in header if c not in known]
    assert len(sources) == 13
    assert set(sources) <= set(SOURCE_COLUMNS)
    lineage = set(get_source("corruption_perceptions").lineage)
    assert {SOURCE_COLUMNS[c] for c in sources} <= lineage
    assert {"democracy_indices", "judicial_metrics", "world_bank_cpia"} <= lineage
