"""The measurement map: how far the trafficking and corruption measures agree, and why.

The seed's warning is that the best-known indices are self-reinforcing: the WGI re-reads the TIP
tiers, the Global Slavery Index re-reads the WGI and the tiers, the CPI re-reads V-Dem and the
WJP. A correlation between two of them can be shared *input* (both are computed from the same
surveys) or shared *signal* (independent measurements that agree). This module measures both:
the pairwise correlations among the measures, each declared lineage edge (features/registry.py,
transitively), and the partial correlation after regressing both measures on the columns of the
declared shared inputs that the panel holds. Inputs a publisher reads that no nexus source holds
(EIU, WEF surveys, …) cannot be removed; the page says which.

Values are keyed by the year they describe (`panel_sources.parquet`), not the panel row's year,
so a value carried forward over several rows counts once and two measures are compared on the
same data year. Every measure is oriented so that higher = worse (more corruption, a worse
tier, a weaker government response, more prevalence, a larger market), except detections,
which measure detection effort as much as prevalence and are left as published.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from features.lineage import PROVENANCE, declared_lineage
from features.panel import load_panel

STRONG = 0.5  # |r| at or above this is a strong pair
MIN_N = 30  # fewer pairwise-complete country-years than this: no correlation is reported
DETECTIONS_PER_100K = "glotip_detections_per_100k_log"  # derived: victims / population


@dataclass(frozen=True)
class Measure:
    """One index in the map: where its values are, and whether to flip it so higher = worse."""

    key: str
    label: str
    kind: str  # "trafficking" | "corruption"
    source: str
    column: str
    reverse: bool
    meaning: str
    built_from: tuple[str, ...] = ()  # other measures' keys this column is computed from (column lineage)


MEASURES = (
    Measure("tip_tier", "TIP tier", "trafficking", "tier_placements", "label_tier", False,
            "0 = Tier 1 … 3 = Tier 3"),
    Measure("gsi_response", "GSI government response", "trafficking", "global_slavery_index",
            "gsi_government_response", True, "reversed: higher = weaker response"),
    Measure("gsi_prevalence", "GSI prevalence", "trafficking", "global_slavery_index",
            "gsi_prevalence_per_1k", False, "per 1,000 population"),
    Measure("glotip_detections", "GLOTIP detections per capita", "trafficking", "trafficking_detections",
            DETECTIONS_PER_100K, False, "log(1 + detected victims per 100,000); '<5' counts left out"),
    Measure("oc_trafficking", "OC Index human trafficking", "trafficking", "organized_crime",
            "ocindex_human_trafficking", False, "market score 1–10"),
    Measure("cpi", "CPI", "corruption", "corruption_perceptions", "cpi_score", True,
            "reversed: higher = more corrupt"),
    Measure("wgi_cc", "WGI control of corruption", "corruption", "governance_indicators",
            "wgi_control_of_corruption", True, "reversed: higher = more corrupt"),
    Measure("vdem_political", "V-Dem political corruption", "corruption", "vdem_governance",
            "vdem_political_corruption", False, "v2x_corr, higher = more corrupt",
            built_from=("vdem_judicial",)),  # V-Dem codebook: v2x_corr averages four parts, v2jucorrdc one
    Measure("vdem_judicial", "V-Dem judicial corruption", "corruption", "vdem_judicial",
            "vdem_judicial_corruption", True, "v2jucorrdc reversed: higher = more corrupt"),
)


@dataclass(frozen=True)
class MeasurementMap:
    """The measures found, their correlations (r, n), every pair's verdict, and the lineage edges."""

    measures: tuple[Measure, ...]
    absent: tuple[Measure, ...]
    table: pd.DataFrame  # (iso3, data_year) → one oriented column per measure key
    r: pd.DataFrame
    n: pd.DataFrame
    pairs: pd.DataFrame
    edges: tuple[tuple[str, str], ...]  # (input source, built source), declared
    panel_sources: frozenset[str]  # the sources the panel holds (inputs that can be partialled out)


def lineage_closure(source: str) -> set[str]:
    """Every source `source` is built from, directly or through another declared source."""
    seen: set[str] = set()
    todo = list(declared_lineage(source))
    while todo:
        s = todo.pop()
        if s not in seen:
            seen.add(s)
            todo += declared_lineage(s)
    return seen


def by_data_year(panel: pd.DataFrame, provenance: pd.DataFrame, source: str,
                 columns: Sequence[str]) -> pd.DataFrame:
    """A source's columns keyed by (iso3, data year): each described year once, however often carried."""
    prov = provenance.loc[provenance["source"] == source, ["iso3", "year", "data_year"]]
    rows = panel[["iso3", "year", *columns]].merge(prov, on=["iso3", "year"], how="left")
    rows = rows.dropna(subset=list(columns), how="all")
    rows["data_year"] = rows["data_year"].fillna(rows["year"]).astype("int64")  # lag-0 label rows
    rows = rows.sort_values(["iso3", "data_year", "year"]).drop_duplicates(["iso3", "data_year"])
    out = rows.drop(columns="year").rename(columns={"data_year": "year"})
    out[list(columns)] = out[list(columns)].apply(pd.to_numeric, errors="coerce").astype("float64")
    return out.reset_index(drop=True)


def _measure_values(panel, provenance, m: Measure) -> pd.DataFrame | None:
    if m.column == DETECTIONS_PER_100K:
        if "unodc_victims_log" not in panel or "population" not in panel:
            return None
        victims = by_data_year(panel, provenance, m.source, ["unodc_victims_log"])
        people = by_data_year(panel, provenance, "population", ["population"])
        both = victims.merge(people, on=["iso3", "year"])
        per = np.expm1(both["unodc_victims_log"]) / both["population"].where(both["population"] > 0) * 1e5
        return both[["iso3", "year"]].assign(**{m.key: np.log1p(per)})
    if m.column not in panel:
        return None
    values = by_data_year(panel, provenance, m.source, [m.column])
    return values[["iso3", "year"]].assign(**{m.key: -values[m.column] if m.reverse else values[m.column]})


def measure_table(panel: pd.DataFrame, provenance: pd.DataFrame, measures: Sequence[Measure] = MEASURES):
    """(table of oriented measures by (iso3, data year), measures found, measures absent from the panel)."""
    found, absent, table = [], [], None
    for m in measures:
        values = _measure_values(panel, provenance, m)
        if values is None or values[m.key].notna().sum() == 0:
            absent.append(m)
            continue
        found.append(m)
        table = values if table is None else table.merge(values, on=["iso3", "year"], how="outer")
    if table is None:
        table = pd.DataFrame(columns=["iso3", "year"])
    return table.sort_values(["iso3", "year"]).reset_index(drop=True), tuple(found), tuple(absent)


def correlations(table: pd.DataFrame, keys: Sequence[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pearson r on pairwise-complete rows, and each pair's n; r is NaN below MIN_N rows."""
    values = table[list(keys)].astype("float64")
    present = values.notna().astype("int64")
    n = present.T @ present
    r = values.corr(method="pearson", min_periods=MIN_N)
    for k in keys:
        r.loc[k, k] = 1.0
    return r, n


def partial_correlation(x: np.ndarray, y: np.ndarray, controls: np.ndarray) -> tuple[float, int]:
    """Correlation of x and y after least-squares regression of each on the controls (and a constant).

    Complete rows only; (NaN, n) when too few rows remain for the number of controls.
    """
    controls = np.asarray(controls, dtype=float).reshape(len(x), -1)
    keep = np.isfinite(x) & np.isfinite(y) & np.isfinite(controls).all(axis=1)
    n = int(keep.sum())
    if n < max(MIN_N, 3 * (controls.shape[1] + 2)):
        return float("nan"), n
    Z = np.column_stack([np.ones(n), controls[keep]])
    rx = x[keep] - Z @ np.linalg.lstsq(Z, x[keep], rcond=None)[0]
    ry = y[keep] - Z @ np.linalg.lstsq(Z, y[keep], rcond=None)[0]
    if rx.std() == 0 or ry.std() == 0:
        return float("nan"), n
    return float(np.corrcoef(rx, ry)[0, 1]), n


def input_columns(catalog: dict, source: str) -> list[str]:
    """The columns that stand for a source when it is partialled out: its own numeric measures.

    Lags, flags and label-construct columns are left out; the label source stands as its tier.
    """
    if any(v.get("family") == "label" and v.get("source") == source for v in catalog.values()):
        return ["label_tier"] if "label_tier" in catalog else []
    return [c for c, v in catalog.items() if v.get("source") == source and not v.get("extra_lag")
            and not v.get("label_construct") and v.get("unit") not in ("flag", "category")
            and not c.startswith("income_group")]


def relation(a: Measure, b: Measure, panel_sources: set[str]) -> tuple[str, list[str], list[str]]:
    """How declared lineage links two measures: (edge, shared inputs in the panel, shared inputs absent)."""
    la, lb = lineage_closure(a.source), lineage_closure(b.source)
    if a.source == b.source:
        edge = "same publication"
        shared = la
    else:
        edge = (f"{b.label} is built from {a.label}" if a.key in b.built_from else
                f"{a.label} is built from {b.label}" if b.key in a.built_from else
                f"{b.label} is built from {a.source}" if a.source in lb else
                f"{a.label} is built from {b.source}" if b.source in la else "")
        shared = la & lb
    shared -= {a.source, b.source}
    return edge, sorted(shared & panel_sources), sorted(shared - panel_sources)


def pair_table(table, panel, provenance, catalog, measures, r, n) -> pd.DataFrame:
    """Every pair: r, Spearman, n, the declared relation, the partial r (and its n) and the verdict."""
    panel_sources = {v["source"] for v in catalog.values()}
    rows = []
    for a, b in combinations(measures, 2):
        edge, shared, unseen = relation(a, b, panel_sources)
        both = table[["iso3", "year", a.key, b.key]].dropna()
        rho = both[a.key].corr(both[b.key], method="spearman") if len(both) >= MIN_N else float("nan")
        partial, partial_n, same_rows_r, controls = float("nan"), 0, float("nan"), []
        if shared and len(both) >= MIN_N:
            controlled = both
            for s in shared:
                cols = [c for c in input_columns(catalog, s) if c in panel]
                if cols:
                    controls += cols
                    controlled = controlled.merge(by_data_year(panel, provenance, s, cols),
                                                  on=["iso3", "year"], how="left")
            if controls:
                partial, partial_n = partial_correlation(controlled[a.key].to_numpy(float),
                                                         controlled[b.key].to_numpy(float),
                                                         controlled[controls].to_numpy(float))
                complete = controlled.dropna(subset=[a.key, b.key, *controls])
                if np.isfinite(partial):  # raw r on the partial's rows: is the drop a change of sample?
                    same_rows_r = float(complete[a.key].corr(complete[b.key]))
        rows.append({"a": a.key, "b": b.key, "r": r.loc[a.key, b.key], "spearman": rho,
                     "n": int(n.loc[a.key, b.key]), "edge": edge, "shared_inputs": shared,
                     "shared_unobserved": unseen, "partial_r": partial, "partial_n": partial_n,
                     "r_same_rows": same_rows_r,
                     "n_controls": len(controls)})
    pairs = pd.DataFrame(rows)
    pairs["verdict"] = [verdict(p) for p in pairs.to_dict("records")] if rows else []
    return pairs.sort_values("r", key=lambda s: -s.abs()).reset_index(drop=True) if rows else pairs


def verdict(p: dict) -> str:
    """Shared input, shared signal, or neither, from the declared lineage and the partial r."""
    if not np.isfinite(p["r"]) or abs(p["r"]) < STRONG:
        return "not strong"
    if p["edge"]:
        return "shared input (declared edge)"
    if p["shared_inputs"] and np.isfinite(p["partial_r"]):
        if abs(p["partial_r"]) < STRONG:
            return "shared input"
        if p["shared_unobserved"]:
            return "undecided: survives the observed inputs, others unobserved"
        return "shared signal (survives partialling)"
    if p["shared_inputs"] or p["shared_unobserved"]:
        return "shared input declared, not separable here"
    return "shared signal (no declared common input)"


def build_map(features_dir: Path, measures: Sequence[Measure] = MEASURES) -> MeasurementMap:
    """The map from a built panel directory (verified against its manifest)."""
    panel, catalog, _ = load_panel(Path(features_dir))
    provenance = pd.read_parquet(Path(features_dir) / PROVENANCE)
    table, found, absent = measure_table(panel, provenance, measures)
    keys = [m.key for m in found]
    r, n = correlations(table, keys)
    pairs = pair_table(table, panel, provenance, catalog, found, r, n)
    panel_sources = {v["source"] for v in catalog.values()}
    edges = set()
    todo = {m.source for m in found}
    while todo:
        s = todo.pop()
        for parent in declared_lineage(s):
            edges.add((parent, s))
            if parent in panel_sources:
                todo.add(parent)
    by_key = {m.key: m for m in found}
    edges |= {(by_key[k].source, m.source) for m in found for k in m.built_from if k in by_key}
    return MeasurementMap(found, absent, table, r, n, pairs, tuple(sorted(edges)), frozenset(panel_sources))
