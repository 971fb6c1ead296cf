"""Procurement red-flag shares from OCDS compiled releases, by buyer country and year.

Input is the field's own standard: OCDS releases (JSON Lines, or release/record packages),
one contracting process each. Per process the Open Contracting Partnership's red flags are
computed as their reference implementation (Cardinal) defines them (features/ocds/), with
the outlier fences of R024/R025/R038/R048/R058 computed per country over all of a
publisher's years (a country-year alone is too few processes for quartiles);
`features/ocds/flags.py` streams files of any size through it.
Per country-year nexus reports the share of processes flagged per indicator, value-weighted
variants of the single-bid and short-period shares, bids per process, the number of
processes, and two measures of capture: buyer–winner concentration (award-weighted mean
over buyers of the HHI of their winners) and the repeat-winner share (awards to a supplier
the same buyer awarded at least twice that year). The country is the buyer's address (or
the publisher's, for national systems); the year is the tender period's start. A year's
processes are complete in y+1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from features.aggregates import LAST_ROW, N_FILES, N_ROWS, Aggregate, declare
from features.build_context import BuildContext, PartitionReport
from features.event_tables import UNKNOWN_COUNTRY
from features.readers import FILE, ROW
from features.registry import KEYS, Column, register_source
from nexus.countries import code_to_iso3, name_to_iso3

MIN_PROCESSES = 5  # fewer eligible processes in a country-year give no share (too noisy)
FLAG_CODES = ("R024", "R028", "R030", "R035", "R036", "R038", "R048", "R058")
_FLAG_TITLES = {"R024": "price close to winning bid", "R028": "identical bid prices", "R030": "late bid won",
                "R035": "all except winning bid disqualified", "R036": "lowest bid disqualified",
                "R038": "buyer with excessive disqualified bids", "R048": "heterogeneous supplier won",
                "R058": "heavily discounted bid"}
_SHARE = "share of non-cancelled processes"
# The float sum over buyers runs in buyer order: the same bits on any number of DuckDB threads.
CONCENTRATION_SQL = """
WITH p AS ({pairs}),
     b AS (SELECT iso3, year, buyer, sum(n) AS nb, sum(n * n) AS n2,
                  coalesce(sum(n) FILTER (WHERE n >= 2), 0) AS rep FROM p GROUP BY ALL)
SELECT iso3, year, sum(n2::DOUBLE / nb ORDER BY buyer) AS hhi_num, sum(nb)::DOUBLE AS awards, sum(rep)::DOUBLE AS repeat_k
FROM b GROUP BY ALL
"""


def signal_columns(prefix: str, flags: Sequence[str] = ()) -> dict[str, Column]:
    """The columns both procurement builders declare (OCDS adds one share per red flag)."""
    share = Column(0, 1, "share", "")
    cols = {
        f"{prefix}_single_bid_share": Column(0, 1, "share of competitive processes with a bidder count",
                                             "single bid received (R018 rule; bidders from "
                                             "numberOfTenderers, else submitted bids)"),
        f"{prefix}_short_period_share": Column(0, 1, "share of processes with both tender dates",
                                               "R003 submission period shorter than 15 days"),
        f"{prefix}_log_processes": Column(0, 25, "log(1 + processes)", "number of contracting processes"),
        f"{prefix}_single_bid_value_share": Column(0, 1, "share of awarded value",
                                                   "value-weighted single-bid share"),
        f"{prefix}_short_period_value_share": Column(0, 1, "share of awarded value",
                                                     "value-weighted short-period share"),
        f"{prefix}_submitted_per_process": Column(0, 1000, "submitted bids per process", "competition"),
        f"{prefix}_buyer_winner_hhi": Column(0, 1, "HHI 0–1",
                                             "award-weighted mean HHI of each buyer's winners"),
        f"{prefix}_repeat_winner_share": Column(0, 1, "share of awards",
                                                "awards to a supplier the same buyer awarded at least twice "
                                                "in the year"),
    }
    for code in flags:
        cols[f"{prefix}_{code.lower()}_share"] = Column(share.low, share.high, _SHARE,
                                                        f"{code} {_FLAG_TITLES[code]}")
    return cols


def pair_concentration(pairs, summed: bool = False) -> pd.DataFrame:
    """Buyer–winner concentration ingredients per (iso3, year) from (buyer, winner, n) counts.

    `summed`: each (iso3, year, buyer, winner) appears once already (no country-year spans
    two partitions), so the first regrouping is skipped.
    """
    import duckdb

    con = duckdb.connect()
    try:
        con.register("pairs", pairs)
        inner = ("SELECT * FROM pairs" if summed else
                 "SELECT iso3, year, buyer, winner, sum(n) AS n FROM pairs GROUP BY ALL")
        return con.sql(CONCENTRATION_SQL.format(pairs=inner)).df()
    finally:
        con.close()


def _share(k: pd.Series, n: pd.Series, support: pd.Series) -> np.ndarray:
    return np.where((support >= MIN_PROCESSES) & (n > 0), k / n.where(n > 0, 1), np.nan)


def country_year_signals(sums: pd.DataFrame, pairs, prefix: str, flags: Sequence[str] = (),
                         pairs_summed: bool = False) -> pd.DataFrame:
    """Shares per (iso3, year) from partial sums (any number of rows per key) and pair counts.

    Both builders and both execution paths end here, so a share means the same everywhere.
    Beside the shares: their numerators and denominators, and the rows (processes, or bid-table
    rows) each country-year was made of: how many, the first and last, in how many files.
    """
    spread = (LAST_ROW, N_FILES, N_ROWS)  # how many rows, not sums to add
    value_cols = [c for c in sums.columns if c not in (*KEYS, ROW, FILE, "country", *spread)]
    g = sums.groupby(KEYS, sort=True)
    s = g[value_cols].sum().join(g[[ROW, FILE]].first())
    s[N_ROWS] = g[N_ROWS].sum() if N_ROWS in sums else s["processes"]
    s[LAST_ROW] = g[LAST_ROW].max() if LAST_ROW in sums else np.nan
    s[N_FILES] = g[N_FILES].sum() if N_FILES in sums else np.nan  # partials cannot say (files repeat)
    conc = pair_concentration(pairs, pairs_summed).set_index(KEYS) if len(pairs) else pd.DataFrame(
        columns=["hhi_num", "awards", "repeat_k"])
    s = s.join(conc, how="left")
    awards = s["awards"].fillna(0)
    out = pd.DataFrame(index=s.index)
    out[f"{prefix}_single_bid_share"] = _share(s["single_k"], s["single_n"], s["single_n"])
    out[f"{prefix}_short_period_share"] = _share(s["short_k"], s["short_n"], s["short_n"])
    out[f"{prefix}_log_processes"] = np.log1p(s["processes"])
    out[f"{prefix}_single_bid_value_share"] = _share(s["single_vk"], s["single_vn"], s["single_n"])
    out[f"{prefix}_short_period_value_share"] = _share(s["short_vk"], s["short_vn"], s["short_n"])
    out[f"{prefix}_submitted_per_process"] = np.where(s["bid_n"] >= MIN_PROCESSES,
                                                 s["bids"] / s["bid_n"].where(s["bid_n"] > 0, 1), np.nan)
    out[f"{prefix}_buyer_winner_hhi"] = _share(s["hhi_num"].fillna(0), awards, awards)
    out[f"{prefix}_repeat_winner_share"] = _share(s["repeat_k"].fillna(0), awards, awards)
    for code in flags:
        out[f"{prefix}_{code.lower()}_share"] = _share(s[f"flag_{code}"], s["processes"], s["processes"])
    out[ROW], out[FILE] = s[ROW], s[FILE]
    out = out.join(s[[*RECORDED, *(f"flag_{code}" for code in flags), N_ROWS, LAST_ROW, N_FILES]])
    out = out.reset_index()
    out["year"], out["iso3"] = out["year"].astype(int), out["iso3"].astype("string")
    return out


RECORDED = ("processes", "single_k", "single_n", "short_k", "short_n", "single_vk", "single_vn", "short_vk",
            "short_vn", "bids", "bid_n", "hhi_num", "awards", "repeat_k")


def signal_aggregates(prefix: str, flags: Sequence[str] = (), of: str = "contracting processes") -> dict:
    """How each procurement column is made, for the value origins (features/aggregates.py)."""
    out = {f"{prefix}_single_bid_share": Aggregate("share", of, "single_k", "single_n"),
           f"{prefix}_short_period_share": Aggregate("share", of, "short_k", "short_n"),
           f"{prefix}_log_processes": Aggregate("log(1 + count)", of, "processes"),
           f"{prefix}_single_bid_value_share": Aggregate("value-weighted share", of, "single_vk",
                                                          "single_vn"),
           f"{prefix}_short_period_value_share": Aggregate("value-weighted share", of, "short_vk",
                                                            "short_vn"),
           f"{prefix}_submitted_per_process": Aggregate("mean", of, "bids", "bid_n"),
           f"{prefix}_buyer_winner_hhi": Aggregate("award-weighted mean HHI", of, "hhi_num", "awards"),
           f"{prefix}_repeat_winner_share": Aggregate("share of awards", of, "repeat_k", "awards")}
    for code in flags:
        out[f"{prefix}_{code.lower()}_share"] = Aggregate("share", of, f"flag_{code}", "processes")
    return out


def _iso3(name) -> str | None:
    """A buyer country as ISO3: a publisher's declared code, or a name in any common spelling."""
    if not isinstance(name, str) or not name.strip():
        return None
    return code_to_iso3(name) if len(name) == 3 and name.isupper() else name_to_iso3(name)


def with_iso3(sums: pd.DataFrame, pairs: pd.DataFrame, reports: Mapping[str, PartitionReport]):
    """Map buyer-country names to ISO3; processes of unknown countries are counted per file."""
    names = set(sums["country"].dropna()) | set(pairs["country"].dropna()) if len(sums) else set()
    iso = {n: _iso3(n) for n in names}
    code_of = sums["country"].map(iso)
    unknown = sums[code_of.isna()]
    for (name, source), g in unknown.groupby(["country", FILE]):
        label = f"{UNKNOWN_COUNTRY} {name!r}" if name else "no buyer country"
        reports[source].add(label, int(g["processes"].sum()), int(g[ROW].min()))
        reports[source].kept -= int(g["processes"].sum())
    sums = sums.assign(iso3=code_of)[code_of.notna()]
    pairs = pairs.assign(iso3=pairs["country"].map(iso)) if len(pairs) else pairs
    return sums, pairs[pairs["iso3"].notna()] if len(pairs) else pairs


@register_source(
    name="procurement_signals",
    family="procurement",
    publisher="Open Contracting Data Standard publishers (compiled releases)",
    raw_globs={"releases": "ocds/*/*.json*", "nested": "ocds/*/*/*.json"},
    optional_roles=("nested",),
    columns=signal_columns("procurement", FLAG_CODES),
    available_after_years=1,
)
def build(files: Mapping[str, list[Path]], context: BuildContext) -> pd.DataFrame:
    paths = sorted({*files["releases"], *files.get("nested", [])})
    if context.ocds_engine == "columnar":
        from features.ocds.columnar import process_partials_columnar

        sums, pairs, reports = process_partials_columnar(paths, threads=context.duckdb_threads)
    else:
        from features.ocds.flags import process_partials

        size = sum(p.stat().st_size for p in paths)
        sums, pairs, reports = process_partials(
            paths, lambda fn, items: context.map_tasks(fn, items, cpu_bound=True, input_bytes=size))
    by_file = {r.path: r for r in reports}
    if len(sums):
        sums, pairs = with_iso3(sums, pairs, by_file)
    context.record_reports("ocds", reports)
    if not len(sums):
        from nexus.errors import SourceDataError

        raise SourceDataError(paths[0], None, "no contracting process with a buyer country and a date")
    sums["year"] = sums["year"].astype(int)
    if len(pairs):
        pairs = pairs.assign(year=pairs["year"].astype(int))[["iso3", "year", "buyer", "winner", "n"]]
    return country_year_signals(sums, pairs, "procurement", FLAG_CODES)


declare("procurement_signals", signal_aggregates("procurement", FLAG_CODES))
