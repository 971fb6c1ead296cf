"""Lineage: what a source is built from (declared), and where each panel value came from (recorded).

Declared. A source is *dependent* when it is the label's source or the corruption perceptions index,
when its declared lineage names either, or when it shares any input with either's lineage
(a source that is itself one of the index's inputs, such as V-Dem, counts: the index re-reads
it). The "independent sources only" variant drops every dependent source, so its skill cannot
come from re-reading the index, or the label, through a composite built from the same inputs.
Decided from what publishers document, never from correlations in the data.

Recorded. The panel build keeps, beside the panel, per country-year and source the year its
value describes (`panel_sources.parquet`), per source value the raw file (relative to the raw
folder) and 1-based row it was read from (`source_rows.parquet`), and the region each
publisher groups a country in (`country_regions.json`); scoring only reads them. The first row
is all a single row says of a value made from many rows; what such a value is (operation, rows,
denominator) is recorded beside it by features/aggregates.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from features.readers import FILE, ROW
from features.registry import REGION, get_source
from nexus.countries import un_regions

CORRUPTION_INDEX = "corruption_perceptions"
PROVENANCE = "panel_sources.parquet"
SOURCE_ROWS = "source_rows.parquet"
COUNTRY_REGIONS = "country_regions.json"
ROW_COLUMNS = ["source", "iso3", "data_year", "file", "row"]


def declared_lineage(name: str) -> set[str]:
    """A registered source's declared inputs; a name that is not registered has none we know of."""
    try:
        return set(get_source(name).lineage)
    except KeyError:
        return set()


def dependent_sources(sources: Iterable[str], *label_sources: str,
                      reference: Iterable[str] = (CORRUPTION_INDEX,)) -> set[str]:
    """The subset of `sources` whose name or lineage meets a label's or the reference indices' lineage."""
    anchors = {*label_sources, *reference}
    shared: set[str] = set(anchors)
    for name in anchors:
        shared |= declared_lineage(name)
    return {s for s in sources if ({s} | declared_lineage(s)) & shared}


def dependence(source: str, label_source: str, reference: Iterable[str] = (CORRUPTION_INDEX,)) -> str:
    """Why `source` is not independent (empty when it is), for people reading a results page."""
    anchors = [label_source, *reference]
    own = declared_lineage(source)
    for anchor in anchors:
        if source == anchor:
            return "is the label's source" if anchor == label_source else "is the corruption index"
        if anchor in own:
            return f"is built from {anchor}"
        if source in declared_lineage(anchor):
            return f"is an input of {anchor}"
    for anchor in anchors:
        shared = sorted(own & declared_lineage(anchor))
        if shared:
            more = f" and {len(shared) - 3} more" if len(shared) > 3 else ""
            return f"shares inputs with {anchor} ({', '.join(shared[:3])}{more})"
    return ""


def independent_sources(sources: Iterable[str], label_source: str) -> list[str]:
    """`sources` without the dependent ones, in their given order."""
    sources = list(sources)
    dependent = dependent_sources(sources, label_source)
    return [s for s in sources if s not in dependent]


def source_rows_table(frames: Mapping[str, pd.DataFrame], raw: Path) -> tuple[pd.DataFrame, list[str]]:
    """(source, iso3, data_year) → raw file (relative to `raw`) and 1-based row, from built sources;
    also the sources whose frames do not say where their rows came from."""
    tables, untraced = [], []
    for name, frame in frames.items():
        if FILE not in frame or ROW not in frame:
            untraced.append(name)
            continue
        files = frame[FILE].astype(str).map(lambda p: _relative(p, raw))
        tables.append(pd.DataFrame({
            "source": name, "iso3": frame["iso3"].astype(str).to_numpy(),
            "data_year": frame["year"].astype("int64").to_numpy(), "file": files.to_numpy(),
            "row": pd.to_numeric(frame[ROW], errors="coerce").astype("Int64").to_numpy()}))
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=ROW_COLUMNS)
    return table, untraced


def _relative(path: str, raw: Path) -> str:
    try:
        return Path(path).relative_to(raw).as_posix()
    except ValueError:
        return path


def regions_table(frames: Mapping[str, pd.DataFrame]) -> dict[str, str]:
    """Each country's region as the files that state one group it (the last file and row read wins)."""
    stated = [f.loc[f[REGION].notna(), ["iso3", REGION, FILE, ROW]] for f in frames.values() if REGION in f]
    if not stated:
        return {}
    rows = pd.concat(stated, ignore_index=True).sort_values([FILE, ROW], kind="stable")
    last = rows.drop_duplicates("iso3", keep="last")
    return dict(zip(last["iso3"].astype(str), last[REGION].astype(str), strict=True))


def source_rows(features_dir: Path) -> pd.DataFrame:
    """The panel's (source, iso3, data_year, file, row) table; empty for a panel built before it was kept."""
    path = Path(features_dir) / SOURCE_ROWS
    return pd.read_parquet(path) if path.exists() else pd.DataFrame(columns=ROW_COLUMNS)


def data_years(features_dir: Path) -> dict[tuple[str, int, str], int]:
    """(iso3, year, source) → the year the source value in that panel row describes."""
    prov = pd.read_parquet(Path(features_dir) / PROVENANCE).dropna(subset=["data_year"])
    return {(i, int(y), s): int(d) for i, y, s, d in
            zip(prov["iso3"], prov["year"], prov["source"], prov["data_year"], strict=True)}


def country_regions(features_dir: Path, iso3s: list[str]) -> dict[str, str]:
    """Each country's region: as the panel's files group it, else the UN region, else ''.

    The fictional countries of the synthetic world exist only in its files, so their region can
    only come from there; real ones fall back to the UN region.
    """
    path = Path(features_dir) / COUNTRY_REGIONS
    regions = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    regions |= un_regions([c for c in iso3s if not regions.get(c)])
    return {c: regions.get(c, "") for c in iso3s}
