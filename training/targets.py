"""Targets at year t + h, and the current placement, from the tier placements kept in the panel.

A row (iso3, t) carries features known at the end of t; its target is the placement of report
year t + h. Special cases and unranked years give no target (NaN), never a guess.

The binary target "Tier 2 Watch List or Tier 3" reads the panel's `label_listed` where the tier
source provides it: for report years whose Tier 1/2 lists are incomplete the source infers the
negatives (features/sources/tier_placements.py) and leaves the ordinal tier missing. Report years
before the Watch List existed (the 2004 report introduced it) cannot say "Watch List", so they are
excluded from the binary target by `training.label.first_report_year`. Rows whose target was
transcribed below `training.label.min_evidence` can be dropped by an experiment.

The current placement (`current_tier`, `previous_tier`, `current_listed`) is what persistence
reads, and what the product model reads beside the proxy signals ("current placement" family).
Where a report's Tier 1/2 lists are incomplete, an unlisted government's tier is unknown but
its status is not: it gets the declared value UNLISTED_TIER_UNKNOWN ("Tier 1 or 2, unknown
which"), so the model reads what the report does say instead of a missing value.

Other targets (EDITION_TARGETS) come from another publisher's editions: the Global Slavery
Index's government response (weak as positive) and the Organized Crime Index's human-trafficking
market score (high as positive), cut where `training.target_cuts` declares. Their target for row
t is the edition published in year t + h, so only rows h years before an edition carry one and
the backtest's origins are the few years with a later edition (training/splits.py skips the
rest). A panel value counts as an edition's only where the panel's provenance says it describes
that edition, never a previous one carried forward. The model must not read the target's own
source nor a source sharing its inputs (`leaking_sources`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class EditionTarget:
    """A binary target read from a source's editions, positive on one side of a declared cut."""

    label: str
    source: str    # the registered source whose editions are the outcome
    column: str    # its panel column
    cut: str       # "weakest_share": the weakest share of each edition; "min_score": value >= a score


EDITION_TARGETS = {
    "gsi_weak_response": EditionTarget("a weak government response (Global Slavery Index)",
                                       "global_slavery_index", "gsi_government_response", "weakest_share"),
    "ocindex_ht_high": EditionTarget("a high human-trafficking market score (Organized Crime Index)",
                                     "organized_crime", "ocindex_human_trafficking", "min_score"),
}
TARGETS = {
    "t2wl_or_t3": ("Tier 2 Watch List or Tier 3", 2),
    "t3": ("Tier 3", 3),
    **{name: (t.label, None) for name, t in EDITION_TARGETS.items()},
}
# The "current placement" family: the label's own present and past, known at row t (lag 0).
PLACEMENT_FEATURES = ("current_tier", "previous_tier", "current_listed")
UNLISTED_TIER_UNKNOWN = 0.5  # unlisted (Tier 1 = 0 or Tier 2 = 1), which not reported: between them


def target_column(target: str, horizon: int) -> str:
    return f"target_{target}_h{horizon}"


def listed_status(panel: pd.DataFrame) -> pd.Series:
    """1 listed (Watch List or Tier 3), 0 unlisted (Tier 1/2), NaN unknown; from label_listed if present."""
    from_tier = np.where(panel["label_tier"].isna(), np.nan, (panel["label_tier"] >= 2).astype(float))
    if "label_listed" not in panel.columns:
        return pd.Series(from_tier, index=panel.index, dtype="float64")
    return panel["label_listed"].astype("float64").fillna(pd.Series(from_tier, index=panel.index))


def placement_tier(tier: pd.Series, listed: pd.Series) -> pd.Series:
    """The tier as a number, with UNLISTED_TIER_UNKNOWN where only "unlisted" is known."""
    tier = tier.astype("float64")
    return tier.mask(tier.isna() & (listed == 0), UNLISTED_TIER_UNKNOWN)


def add_targets(panel: pd.DataFrame, target: str, horizon: int, *, first_report_year: int | None = None,
                min_evidence: float | None = None, cuts=None,
                provenance: pd.DataFrame | None = None) -> pd.DataFrame:
    """A copy with the target at t + h, the target year and the current placement columns.

    An edition target (EDITION_TARGETS) also needs `cuts` (nexus.config.TargetCuts) and the
    panel's `provenance` (panel_sources.parquet: which year each source value describes).
    """
    if target in EDITION_TARGETS:
        return add_edition_target(panel, target, horizon, cuts, provenance)
    _, threshold = TARGETS[target]
    base = with_placement(panel)
    if target == "t3":
        outcome = np.where(base["label_tier"].isna(), np.nan, (base["label_tier"] >= threshold).astype(float))
    else:
        outcome = base["current_listed"].to_numpy(float)
    cols = {"iso3": base["iso3"], "year": base["year"] - horizon, "target_tier": base["label_tier"],
            "_outcome": outcome}
    if "label_evidence" in base.columns:
        cols["target_evidence"] = base["label_evidence"]
    out = base.merge(pd.DataFrame(cols), on=["iso3", "year"], how="left")
    out["target_year"] = out["year"] + horizon
    y = out.pop("_outcome").astype("float64")
    if first_report_year is not None:
        y = y.where(out["target_year"] >= first_report_year)
    if min_evidence is not None and "target_evidence" in out.columns:
        y = y.where(out["target_evidence"].fillna(0) >= min_evidence)
    out[target_column(target, horizon)] = y
    return out


def with_placement(panel: pd.DataFrame) -> pd.DataFrame:
    """A copy with the current and previous placement columns (the TIP report's, known at t)."""
    base = panel.copy()
    base["current_listed"] = listed_status(base)
    base["current_tier"] = placement_tier(base["label_tier"], base["current_listed"])
    previous = base[["iso3", "year", "current_tier"]].assign(year=base["year"] + 1).rename(
        columns={"current_tier": "previous_tier"})
    return base.merge(previous, on=["iso3", "year"], how="left")


def edition_values(panel: pd.DataFrame, provenance: pd.DataFrame, spec: EditionTarget) -> pd.DataFrame:
    """(iso3, edition, value): each edition's own values, never an older edition carried forward.

    A source keyed on edition years holds edition E in the panel row of year E (published
    that year); the provenance says which rows describe E itself.
    """
    own = provenance[(provenance["source"] == spec.source) & (provenance["data_year"] == provenance["year"])]
    rows = panel[["iso3", "year", spec.column]].merge(own[["iso3", "year"]], on=["iso3", "year"])
    rows = rows[rows[spec.column].notna()]
    return rows.rename(columns={"year": "edition", spec.column: "value"}).reset_index(drop=True)


def edition_outcome(values: pd.DataFrame, spec: EditionTarget, cuts) -> pd.Series:
    """1/0 per edition value, by the declared cut.

    weakest_share: the round(share × n) weakest of the edition's n rated governments, ranked
    within the edition (Walk Free says its editions are not comparable over time); a tie across
    the boundary stays out, together. min_score: at or above the score (one expert scale across
    editions).
    """
    v = values["value"].astype("float64")
    if spec.cut == "weakest_share":
        rank = v.groupby(values["edition"]).rank(method="max")
        n = v.groupby(values["edition"]).transform("count")
        return (rank <= (cuts.gsi_weakest_share * n).round()).astype("float64")
    return (v >= cuts.ocindex_ht_min_score).astype("float64")


def add_edition_target(panel: pd.DataFrame, target: str, horizon: int, cuts,
                       provenance: pd.DataFrame | None) -> pd.DataFrame:
    """The edition published in year t + h, binarised, as row t's target; NaN where none is."""
    from nexus.errors import NexusError

    spec = EDITION_TARGETS[target]
    if cuts is None or provenance is None:
        raise NexusError(f"training.target {target}: needs training.target_cuts and the panel's provenance "
                         "(panel_sources.parquet beside panel.parquet)")
    if spec.column not in panel.columns:
        raise NexusError(f"training.target {target}: the panel has no column {spec.column!r}; "
                         f"add {spec.source} to features.sources")
    values = edition_values(panel, provenance, spec)
    future = pd.DataFrame({"iso3": values["iso3"], "year": values["edition"] - horizon,
                           "target_value": values["value"], "_outcome": edition_outcome(values, spec, cuts)})
    out = with_placement(panel).merge(future, on=["iso3", "year"], how="left")
    out["target_year"] = out["year"] + horizon
    out[target_column(target, horizon)] = out.pop("_outcome").astype("float64")
    return out


def target_provenance(features_dir, target: str) -> pd.DataFrame | None:
    """The panel's provenance table when `target` needs it (an edition target), else None (not read)."""
    if target not in EDITION_TARGETS:
        return None
    from pathlib import Path

    from features.lineage import PROVENANCE

    return pd.read_parquet(Path(features_dir) / PROVENANCE)


def leaking_sources(target: str, sources) -> set[str]:
    """Sources a model of `target` may not read: its own source and those sharing its inputs (lineage)."""
    if target not in EDITION_TARGETS:
        return set()
    from features.lineage import dependent_sources

    return dependent_sources(sources, EDITION_TARGETS[target].source, reference=())


def transition(current_listed, y) -> np.ndarray:
    """'onset' (unlisted now, listed at t + h), 'exit', 'stay', or 'neither' where the status is unknown."""
    c, y = np.asarray(current_listed, float), np.asarray(y, float)
    return np.select([np.isnan(c), (c == 0) & (y == 1), (c == 1) & (y == 0)], ["neither", "onset", "exit"],
                     "stay")
