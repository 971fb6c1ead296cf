"""Governance indicators: ".." is missing, legacy World Bank codes map, dissolved ANT is dropped."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.build_context import BuildContext
from features.panel import validate_source_frame
from features.registry import get_source
from nexus.errors import SourceDataError

COLUMNS = [
    "codeindyr",
    "code",
    "countryname",
    "year",
    "indicator",
    "estimate",
    "stddev",
    "nsource",
    "pctrank",
    "pctranklower",
    "pctrankupper",
]


def build(raw: Path, rows: list[tuple]) -> pd.DataFrame:
    path = raw / "wb_wgi" / "wgidataset.xlsx"
    path.parent.mkdir(parents=True)
    frame = pd.DataFrame(
        [(f"{c}{i}{y}", c, n, y, i, e, "..", "..", "..", "..", "..") for c, n, y, i, e in rows],
        columns=COLUMNS,
    )
    frame.astype(object).to_excel(path, sheet_name="Sheet1", index=False)
    source = get_source("governance_indicators")
    built = source.build(source.find_files(raw), BuildContext.for_policy("refuse"))
    return validate_source_frame(source, built).set_index(["iso3", "year"])


def test_missing_marker_and_legacy_codes(tmp_path):
    wgi = build(
        tmp_path,
        [
            ("ROM", "Romania", 2005, "cc", 0.1),
            ("ROM", "Romania", 2005, "rl", ".."),
            ("ZAR", "Congo, Dem. Rep.", 2005, "cc", -1.4),
            ("KSV", "Kosovo", 2005, "cc", -0.5),
            ("WBG", "West Bank and Gaza", 2005, "cc", -0.9),
            ("ANT", "Netherlands Antilles", 2005, "cc", 1.0),
            ("IRQ", "Iraq", 2004, "pv", -3.18),
        ],
    )
    assert wgi.loc[("ROU", 2005), "wgi_control_of_corruption"] == pytest.approx(0.1)
    assert np.isnan(wgi.loc[("ROU", 2005), "wgi_rule_of_law"])
    assert {"COD", "XKX", "PSE", "IRQ"} <= set(wgi.index.get_level_values("iso3"))
    assert "ANT" not in set(wgi.index.get_level_values("iso3"))


def test_text_that_is_not_the_missing_marker_is_refused(tmp_path):
    with pytest.raises(SourceDataError, match=r"wgidataset.xlsx row 3: estimate: 'n/a\?' is not a number"):
        build(tmp_path, [("ROM", "Romania", 2005, "cc", 0.1), ("ROM", "Romania", 2006, "cc", "n/a?")])
