"""Procurement red-flag shares from OCDS compiled releases, by buyer country and year.

Input is the field's own standard: OCDS compiled releases, one contracting process per
JSON line. Per process the Open Contracting Partnership's red flags are computed as their
reference implementation (Cardinal) defines them (see features/ocds.py); per country-year
nexus reports the share of eligible processes flagged. The country is the buyer party's
address; the year is the tender period's start. A year's processes are complete in y+1.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from features.ocds_flags import process_table
from features.readers import FILE, ROW, iso3_from_names
from features.registry import Column, register_source

MIN_PROCESSES = 5  # fewer eligible processes in a country-year give no share (too noisy)


@register_source(
    name="procurement_signals",
    family="procurement",
    publisher="Open Contracting Data Standard publishers (compiled releases)",
    raw_globs={"releases": "ocds/*/*.jsonl"},
    columns={
        "procurement_single_bid_share": Column(0, 1, "share of competitive processes",
                                               "R018 single bid received"),
        "procurement_short_period_share": Column(0, 1, "share of processes with a tender period",
                                                 "R003 submission period shorter than 15 days"),
        "procurement_log_processes": Column(0, 25, "log(1 + processes)", "number of contracting processes"),
    },
    available_after_years=1,
)
def build(files: Mapping[str, list[Path]]) -> pd.DataFrame:
    tables = [process_table(p) for p in files["releases"]]
    return aggregate(pd.concat(tables, ignore_index=True))


def aggregate(processes: pd.DataFrame) -> pd.DataFrame:
    """Country-year shares from a per-process table (one row per ocid)."""
    processes = processes.assign(iso3=iso3_from_names(processes, "buyer_country"))
    processes = processes[processes["iso3"].notna() & processes["year"].notna()]
    g = processes.groupby(["iso3", "year"], sort=True)
    out = pd.DataFrame({
        "single_n": g["single_bid_eligible"].sum(), "single_k": g["single_bid"].sum(),
        "short_n": g["short_period_eligible"].sum(), "short_k": g["short_period"].sum(),
        "n": g.size(), ROW: g[ROW].min(), FILE: g[FILE].first(),
    }).reset_index()
    out["procurement_single_bid_share"] = np.where(out["single_n"] >= MIN_PROCESSES,
                                                   out["single_k"] / out["single_n"].clip(lower=1), np.nan)
    out["procurement_short_period_share"] = np.where(out["short_n"] >= MIN_PROCESSES,
                                                     out["short_k"] / out["short_n"].clip(lower=1), np.nan)
    out["procurement_log_processes"] = np.log1p(out["n"])
    out["year"] = out["year"].astype(int)
    return out[["iso3", "year", "procurement_single_bid_share", "procurement_short_period_share",
                "procurement_log_processes", ROW, FILE]]
