"""Organized crime index: edition from the sheet name, headers matched across both editions' spellings."""

from pathlib import Path

import pandas as pd
import pytest

from features.build_context import BuildContext
from features.panel import validate_source_frame
from features.registry import get_source
from nexus.errors import SourceDataError

MEASURES_2023 = [
    "Criminality avg,",
    "Human trafficking",
    "Human smuggling",
    "State-embedded actors",
    "Resilience avg,",
    "Judicial system and detention",
    "Victim and witness support",
]
MEASURES_2021 = [
    "Criminality",
    "Human trafficking",
    "Human smuggling",
    "State-embedded actors",
    "Resilience",
    "Judicial system and detention",
    "Victim and witness support",
]


def write(raw: Path, sheets: dict[str, list[str]]) -> None:
    path = raw / "gitoc_ocindex" / "global_oc_index.xlsx"
    path.parent.mkdir(parents=True)
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        pd.DataFrame({"About": ["title sheet"]}).to_excel(xl, sheet_name="2023_Global_OC_Index", index=False)
        for sheet, measures in sheets.items():
            frame = pd.DataFrame(
                [
                    ["Africa", "Southern Africa", "Namibia", *[5.5] * len(measures)],
                    ["Europe", "Western Europe", "Germany", *[3.0] * len(measures)],
                ],
                columns=["Continent", "Region", "Country", *measures],
            )
            frame.to_excel(xl, sheet_name=sheet, index=False)


def build(raw: Path) -> pd.DataFrame:
    source = get_source("organized_crime")
    built = source.build(source.find_files(raw), BuildContext.for_policy("refuse"))
    return validate_source_frame(source, built).set_index(["iso3", "year"])


def test_both_editions_header_spellings(tmp_path):
    write(tmp_path, {"2023_dataset": MEASURES_2023, "2021_dataset": MEASURES_2021})
    oc = build(tmp_path)
    assert (
        oc.loc[("NAM", 2023), "ocindex_criminality"] == 5.5
        and oc.loc[("DEU", 2021), "ocindex_resilience"] == 3.0
    )
    assert len(oc) == 4


def test_an_edition_missing_a_measure_is_refused(tmp_path):
    write(tmp_path, {"2025_dataset": [m for m in MEASURES_2023 if m != "Human trafficking"]})
    with pytest.raises(
        SourceDataError,
        match=r"global_oc_index.xlsx row 1: sheet '2025_dataset': no column for "
        r"'human trafficking'",
    ):
        build(tmp_path)
