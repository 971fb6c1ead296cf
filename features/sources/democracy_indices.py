"""V-Dem indices (V-Dem Institute), the subset published for its Democratic Spaces forecasts.

Six country-year indices, 0–1. In this file `v2x_pubcorr` is already inverted by the
publisher (1 − V-Dem's value, so higher = less public-sector corruption). Codes are V-Dem's
`country_text_id`, ISO3 except for three states that no longer exist (DDR, VDR, YMD; listed
in nexus.countries and dropped). A release covering year y appears in March of y+1. V-Dem is
expert-coded and built from no other index, but it is one of the perceptions index's and
WGI's inputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from features.build_context import BuildContext
from features.readers import FILE, ROW, iso3_from_codes, read_table, to_number, to_year
from features.registry import Column, Download, register_source

MEASURES = {
    "v2x_veracc_osp": ("vdem_vertical_accountability", "vertical accountability (elections, parties)"),
    "v2xcs_ccsi": ("vdem_civil_society", "core civil society index"),
    "v2xcl_rol": ("vdem_equality_before_law", "equality before the law and individual liberty"),
    "v2x_freexp_altinf": ("vdem_free_expression", "freedom of expression and alternative information"),
    "v2x_horacc_osp": ("vdem_horizontal_accountability", "horizontal accountability (courts, legislature)"),
    "v2x_pubcorr": ("vdem_public_sector_integrity", "public-sector corruption, inverted: higher = cleaner"),
}


@register_source(
    name="democracy_indices",
    family="governance",
    publisher="V-Dem Institute, Varieties of Democracy (Democratic Spaces subset)",
    raw_globs={"table": "vdem/dv_data_*.csv"},
    downloads=(
        Download(
            "vdem/dv_data_1968_on.csv",
            "V-Dem Institute (demspaces)",
            "https://raw.githubusercontent.com/vdeminstitute/demspaces/1012a66d590d2315c292f2ec745f168abbf84d05/"
            "create-data/output/dv_data_1968_on.csv",
            "d6c75baffce5486b5de414255bc56b1c97ab86d20175338dfad4b8fd28116374",
            pinned=True,
            header=("gwcode", "year", "country_text_id"),
        ),
    ),
    columns={col: Column(0.0, 1.0, "index 0–1", desc) for col, desc in MEASURES.values()},
    available_after_years=1,
)
def build(files: Mapping[str, list[Path]], context: BuildContext) -> pd.DataFrame:
    frames = []
    for path in files["table"]:
        raw = read_table(path, required=["year", "country_name", "country_text_id", *MEASURES])
        frame = pd.DataFrame(
            {
                "iso3": iso3_from_codes(raw, "country_text_id", name_column="country_name"),
                "year": to_year(raw, "year"),
                ROW: raw[ROW],
                FILE: raw[FILE],
            }
        )
        for source_col, (col, _) in MEASURES.items():
            frame[col] = to_number(raw, source_col).round(6)  # float noise: 0.19499999999999995
        frames.append(frame[frame["iso3"].notna()])
    return pd.concat(frames, ignore_index=True)
