"""Income groups: GNI years from the workbook's own header, footnotes, dissolved economies, CLASS's note."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.build_context import BuildContext
from features.panel import validate_source_frame
from features.registry import get_source
from nexus.errors import SourceDataError


def history(raw: Path, body: list[list]) -> None:
    path = raw / "reference" / "Historical_income_classification.xlsx"
    path.parent.mkdir(parents=True, exist_ok=True)
    top = [
        [None, "World Bank Analytical Classifications", None, None],
        [None] * 4,
        [None] * 4,
        [None] * 4,
        [None, "Bank's fiscal year:", "FY89", "FY90"],
        [None, "Data for calendar year :", "1987", "1988"],
        [None, "Low income (L)", "<= 480", "<= 545"],
        [None] * 4,
    ]
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        pd.DataFrame(top + body).to_excel(
            xl, sheet_name="Country Analytical History", index=False, header=False
        )


def current(raw: Path, note: str) -> None:
    path = raw / "reference" / "CLASS.xlsx"
    economies = pd.DataFrame(
        {
            "Economy": ["Namibia", "Venezuela, RB", "World"],
            "Code": ["NAM", "VEN", "WLD"],
            "Region": ["Sub-Saharan Africa", "Latin America & Caribbean", None],
            "Income group": ["Upper middle income", None, None],
        }
    )
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        economies.to_excel(xl, sheet_name="List of economies", index=False)
        pd.DataFrame({"Notes": [note]}).to_excel(xl, sheet_name="Notes", index=False)


def build(raw: Path) -> pd.DataFrame:
    source = get_source("income_group")
    built = source.build(source.find_files(raw), BuildContext.for_policy("refuse"))
    return validate_source_frame(source, built).set_index(["iso3", "year"])


BODY = [
    ["NAM", "Namibia", "LM", "UM"],
    ["YEM", "Yemen, Rep.", "LM*", "L"],
    ["ALB", "Albania", "..", "LM"],
    [None, None, None, None],
    [None, "* At this time, there were Yemen, PDR (L) and Yemen, Arab Rep. (LM)", None, None],
    ["YUG", "Serbia and Montenegro (former)", "UM", "UM"],
]


def test_history_keys_on_gni_year_and_reads_footnotes(tmp_path):
    history(tmp_path, BODY)
    current(
        tmp_path, "… divided among income groups according to 2022 gross national income (GNI) per capita …"
    )
    groups = build(tmp_path)
    assert groups.loc[("NAM", 1987), "income_group"] == 1 and groups.loc[("NAM", 1988), "income_group"] == 2
    assert groups.loc[("YEM", 1987), "income_group"] == 1  # "LM*"
    assert np.isnan(groups.loc[("ALB", 1987), "income_group"])  # ".."
    assert groups.loc[("NAM", 2022), "income_group"] == 2  # CLASS.xlsx, GNI year from its note
    assert np.isnan(groups.loc[("VEN", 2022), "income_group"])  # unclassified, not guessed
    assert not {"YUG", "WLD"} & set(groups.index.get_level_values("iso3"))


def test_class_workbook_without_its_gni_year_is_refused(tmp_path):
    history(tmp_path, BODY)
    current(tmp_path, "Income groups for this fiscal year.")
    with pytest.raises(SourceDataError, match=r"CLASS.xlsx: Notes sheet does not say which year's GNI"):
        build(tmp_path)


def test_unknown_group_code_names_file_and_row(tmp_path):
    history(tmp_path, [["NAM", "Namibia", "LM", "XX"]])
    with pytest.raises(
        SourceDataError, match=r"Historical_income_classification.xlsx row 9: FY90: 'XX' is not an income"
    ):
        build(tmp_path)
