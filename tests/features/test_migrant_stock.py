"""Migrant stock: five-yearly estimates only (no interpolation), M49 aggregates and privacy markers."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.build_context import BuildContext
from features.panel import validate_source_frame
from features.registry import get_source
from features.sources.migrant_stock import ESTIMATE_YEARS, NAME

NAME_PATH = "undesa_migrant_stock/undesa_pd_2020_ims_stock_by_sex_and_destination.xlsx"


def table(rows: list[tuple], blocks: int = 1) -> pd.DataFrame:
    """UN DESA layout: index, name, notes, location code, type of data, then year blocks."""
    columns = ["", NAME, "Notes", "Location code", "Type of data"] + [
        str(y) for _ in range(blocks) for y in ESTIMATE_YEARS
    ]
    return pd.DataFrame(
        [[i, n, None, code, "B", *values] for i, (n, code, values) in enumerate(rows, 1)], columns=columns
    )


def write(raw: Path, share_values: dict[tuple[str, int], list], refugees: list) -> None:
    path = raw / NAME_PATH
    path.parent.mkdir(parents=True)
    rows = [(n, c, v) for (n, c), v in share_values.items()]
    sheets = {
        "Table 2": table([(n, c, [1000.0] * 21) for n, c, _ in rows], blocks=3),
        "Table 3": table(rows, blocks=3),
        "Table 4": table([(n, c, [50.0] * 7) for n, c, _ in rows]),
        "Table 6": table([(n, c, refugees) for n, c, _ in rows], blocks=2),
    }
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        for name, frame in sheets.items():
            frame.to_excel(xl, sheet_name=name, index=False, startrow=10)  # header on row 11


def build(raw: Path) -> pd.DataFrame:
    source = get_source("migrant_stock")
    built = source.build(source.find_files(raw), BuildContext.for_policy("refuse"))
    return validate_source_frame(source, built).set_index(["iso3", "year"])


def test_only_the_estimates_are_returned_nothing_interpolated_or_extrapolated(tmp_path):
    write(
        tmp_path,
        {("Namibia", 516): [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0] * 3, ("WORLD", 900): [3.0] * 21},
        refugees=[10, 20, 30, 40, 50, 60, 70] * 2,
    )
    stock = build(tmp_path)
    assert sorted(stock.index.get_level_values("year")) == list(ESTIMATE_YEARS)  # the panel carries the last one
    assert stock.loc[("NAM", 1995), "migstock_share"] == pytest.approx(2.0)
    assert stock.loc[("NAM", 1995), "migstock_refugees_per_1k"] == pytest.approx(20 / 1000)
    assert stock.index.get_level_values("year").max() == 2020
    assert set(stock.index.get_level_values("iso3")) == {"NAM"}  # M49 900+ are regions


def test_privacy_and_missing_markers_are_missing_not_numbers(tmp_path):
    write(
        tmp_path,
        {("   Namibia", 516): [1.0] * 21, ("Channel Islands*", 830): [2.0] * 21},
        refugees=["~", "..", "—", 40, 50, 60, 70] * 2,
    )
    stock = build(tmp_path)
    assert np.isnan(stock.loc[("NAM", 1990), "migstock_refugees_per_1k"])  # "~": fewer than five
    assert np.isnan(stock.loc[("NAM", 1995), "migstock_refugees_per_1k"])  # "..": not available
    assert stock.loc[("NAM", 2000), "migstock_refugees_per_1k"] == 0  # "—": below half a unit
    assert "GBR" not in set(stock.index.get_level_values("iso3"))  # Channel Islands: no ISO code
