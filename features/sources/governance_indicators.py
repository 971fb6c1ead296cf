"""Worldwide Governance Indicators (World Bank): six estimates in long format.

Missing values are the string '..'; codes are the World Bank's, some of them legacy (ROM,
ZAR, TMP, ADO, KSV, WBG), mapped through nexus.countries; ANT (Netherlands Antilles) names
no present-day country and is dropped. There are no estimates for 1997, 1999 and 2001. The
year-y estimates are published in autumn of y+1, and every vintage re-estimates all years.

Estimates are in units of a standard normal (about −2.5…2.5); a few fall outside (political
stability, Iraq 2004: −3.18), so the plausible range is ±4.

Lineage, from WGI's documentation of its data sources: many of the perceptions index's
expert sources (EIU, Global Insight, PRS, WEF, Bertelsmann, Freedom House, the CPIAs, V-Dem,
the World Justice Project), plus RSF's press freedom index (voice and accountability) and
the US State Department's Trafficking in Persons report (rule of law), which is this
project's label. Use it with that in mind: it is not independent of the tiers.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from features.build_context import BuildContext
from features.readers import FILE, ROW, iso3_from_codes, read_table, to_number, to_year
from features.registry import Column, Download, register_source

INDICATORS = {
    "cc": ("wgi_control_of_corruption", "control of corruption"),
    "ge": ("wgi_government_effectiveness", "government effectiveness"),
    "pv": ("wgi_political_stability", "political stability and absence of violence"),
    "rl": ("wgi_rule_of_law", "rule of law"),
    "rq": ("wgi_regulatory_quality", "regulatory quality"),
    "va": ("wgi_voice_accountability", "voice and accountability"),
}


@register_source(
    name="governance_indicators",
    family="governance",
    publisher="World Bank, Worldwide Governance Indicators",
    raw_globs={"workbook": "wb_wgi/*.xlsx"},
    downloads=(
        Download(
            "wb_wgi/wgidataset.xlsx",
            "World Bank (WGI)",
            "https://www.worldbank.org/content/dam/sites/govindicators/doc/wgidataset.xlsx",
            "df332a76c7da5e1c210950689acd23cc1d1ad07d4f53a7641fdc3c8d52abd922",
        ),
    ),
    columns={
        col: Column(-4.0, 4.0, "estimate (≈ −2.5…2.5, higher = better)", desc)
        for col, desc in INDICATORS.values()
    },
    available_after_years=1,
    lineage=(
        "afdb_cpia",
        "bertelsmann_bti",
        "bertelsmann_sgi",
        "eiu_country_ratings",
        "freedom_house_nit",
        "freedom_house",
        "gallup_world_poll",
        "global_insight",
        "imd_wcy",
        "perc_asia_risk_guide",
        "prs_icrg",
        "wef_eos",
        "world_bank_cpia",
        "democracy_indices",
        "judicial_metrics",
        "press_freedom",
        "tier_placements",
        "afrobarometer",
        "latinobarometro",
        "heritage_foundation",
        "global_integrity",
    ),
)
def build(files: Mapping[str, list[Path]], context: BuildContext) -> pd.DataFrame:
    frames = []
    for path in files["workbook"]:
        raw = read_table(path, required=["code", "countryname", "year", "indicator", "estimate"])
        long = pd.DataFrame(
            {
                "iso3": iso3_from_codes(raw, "code", name_column="countryname"),
                "year": to_year(raw, "year"),
                "indicator": raw["indicator"].str.strip().str.lower(),
                "estimate": to_number(raw, "estimate"),
                ROW: raw[ROW],
                FILE: raw[FILE],
            }
        )
        long = long[long["iso3"].notna() & long["indicator"].isin(list(INDICATORS))]
        dup = long.duplicated(["iso3", "year", "indicator"], keep="first")
        if dup.any():
            from nexus.errors import SourceDataError

            r = long[dup].iloc[0]
            raise SourceDataError(
                path, int(r[ROW]), f"duplicate {r['indicator']} for {r['iso3']} {r['year']}"
            )
        wide = long.pivot(index=["iso3", "year"], columns="indicator", values="estimate")
        wide.columns = [INDICATORS[c][0] for c in wide.columns]
        rows = long.groupby(["iso3", "year"])[ROW].min()
        wide = wide.join(rows).reset_index()
        wide[FILE] = str(path)
        frames.append(wide)
    frame = pd.concat(frames, ignore_index=True)
    for col, _ in INDICATORS.values():
        if col not in frame:
            frame[col] = float("nan")
    return frame
