"""V-Dem subset and rule-of-law editions: dissolved states, float noise, two-year editions."""

from pathlib import Path

import pandas as pd
import pytest

from features.build_context import BuildContext
from features.panel import validate_source_frame
from features.registry import get_source

# the publishers' columns the YAML declarations (features/sources/*.yaml) read
MEASURES = ["v2x_veracc_osp", "v2xcs_ccsi", "v2xcl_rol", "v2x_freexp_altinf", "v2x_horacc_osp", "v2x_pubcorr"]
WJP_MEASURES = ["WJP Rule of Law Index: Overall Score", "Factor 2: Absence of Corruption",
                "8.5 Criminal system is free of corruption"]


def build(raw: Path, name: str) -> pd.DataFrame:
    source = get_source(name)
    built = source.build(source.find_files(raw), BuildContext.for_policy("refuse"))
    return validate_source_frame(source, built).set_index(["iso3", "year"])


def test_vdem_drops_dissolved_states_and_rounds_float_noise(tmp_path):
    path = tmp_path / "vdem" / "dv_data_1968_on.csv"
    path.parent.mkdir(parents=True)
    values = ",".join(["0.19499999999999995"] * len(MEASURES))
    path.write_text(
        f"gwcode,year,country_name,country_id,country_text_id,{','.join(MEASURES)}\n"
        f"40,2020,Cuba,155,CUB,{values}\n265,1968,German Democratic Republic,137,DDR,{values}\n"
        f"347,2020,Kosovo,43,XKX,{values}\n",
        encoding="utf-8",
    )
    vdem = build(tmp_path, "democracy_indices")
    assert vdem.loc[("CUB", 2020), "vdem_public_sector_integrity"] == 0.195
    assert set(vdem.index.get_level_values("iso3")) == {"CUB", "XKX"}


def test_two_year_editions_are_keyed_on_their_later_year(tmp_path):
    path = tmp_path / "wjp_roli" / "wjp.xlsx"
    path.parent.mkdir(parents=True)
    rows = [
        {"Country": "Namibia", "Year": y, "Country Code": "NAM", **{m: 0.6 for m in WJP_MEASURES}}
        for y in ("2012-2013", "2014", "2017-2018")
    ]
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        pd.DataFrame({"About": ["x"]}).to_excel(xl, sheet_name="Introduction", index=False)
        pd.DataFrame(rows).rename(
            columns={"Factor 2: Absence of Corruption": "Factor 2: Absence of Corruption "}
        ).to_excel(xl, sheet_name="Historical Data", index=False)  # a trailing space, as in WJP's headers
    wjp = build(tmp_path, "judicial_metrics")
    assert sorted(wjp.index.get_level_values("year")) == [2013, 2014, 2018]
    assert wjp.loc[("NAM", 2018), "wjp_absence_of_corruption"] == pytest.approx(0.6)
