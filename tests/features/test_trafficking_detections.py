"""UNODC detections: "<5" stays censored, thousands commas are read, groups without a name are dropped."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.build_context import BuildContext
from features.panel import validate_source_frame
from features.registry import get_source
from nexus.errors import SourceDataError

COLUMNS = [
    "Iso3_code",
    "Country",
    "Region",
    "Subregion",
    "Indicator",
    "Dimension",
    "Category",
    "Sex",
    "Age",
    "Year",
    "Unit of measurement",
    "txtVALUE",
    "Source",
]


def write(raw: Path, rows: list[tuple]) -> None:
    path = raw / "unodc_glotip" / "data_glotip.xlsx"
    path.parent.mkdir(parents=True)
    frame = pd.DataFrame(
        [
            (code, name, "R", "S", ind, dim, "Total", "Total", "Total", year, "Counts", value, "GLOTIP")
            for code, name, ind, dim, year, value in rows
        ],
        columns=COLUMNS,
    )
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        frame.to_excel(xl, sheet_name="data_glotip_1", index=False, startrow=2)  # two UNODC header lines


def build(raw: Path) -> pd.DataFrame:
    source = get_source("trafficking_detections")
    built = source.build(source.find_files(raw), BuildContext.for_policy("refuse"))
    return validate_source_frame(source, built).set_index(["iso3", "year"])


VICTIMS = "Detected trafficking victims"


def test_censored_counts_thousands_and_groups(tmp_path):
    write(
        tmp_path,
        [
            ("NAM", "Namibia", VICTIMS, "Total", "2015", "<5"),
            ("NAM", "Namibia", "Persons convicted", "Total", "2015", "7"),
            ("USA", "United States of America", VICTIMS, "Total", "2015", "1,282"),
            ("USA", "United States of America", VICTIMS, "by form of exploitation", "2015", "900"),
            ("SAM", None, VICTIMS, "Total", "2015", "40"),
            (None, "Sark", VICTIMS, "Total", "2015", "<5"),
        ],
    )
    got = build(tmp_path)
    assert got.loc[("NAM", 2015), "unodc_victims_censored"] == 1 and np.isnan(
        got.loc[("NAM", 2015), "unodc_victims_log"]
    )
    assert got.loc[("NAM", 2015), "unodc_convicted_censored"] == 0
    assert np.expm1(got.loc[("NAM", 2015), "unodc_convicted_log"]) == pytest.approx(7)
    assert np.expm1(got.loc[("USA", 2015), "unodc_victims_log"]) == pytest.approx(1282)  # totals only
    assert set(got.index.get_level_values("iso3")) == {"NAM", "USA"}


def test_a_comma_that_is_not_a_thousands_separator_is_refused(tmp_path):
    write(tmp_path, [("NAM", "Namibia", VICTIMS, "Total", "2015", "12,5")])
    with pytest.raises(SourceDataError, match=r"data_glotip.xlsx row 4: txtVALUE: '12,5' is not a number"):
        build(tmp_path)
