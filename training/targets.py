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
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TARGETS = {
    "t2wl_or_t3": ("Tier 2 Watch List or Tier 3", 2),
    "t3": ("Tier 3", 3),
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
                min_evidence: float | None = None) -> pd.DataFrame:
    """A copy with the target at t + h, the target year and the current placement columns."""
    _, threshold = TARGETS[target]
    base = panel.copy()
    base["current_listed"] = listed_status(base)
    base["current_tier"] = placement_tier(base["label_tier"], base["current_listed"])
    if target == "t3":
        outcome = np.where(base["label_tier"].isna(), np.nan, (base["label_tier"] >= threshold).astype(float))
    else:
        outcome = base["current_listed"].to_numpy(float)
    cols = {"iso3": base["iso3"], "year": base["year"] - horizon, "target_tier": base["label_tier"],
            "_outcome": outcome}
    if "label_evidence" in base.columns:
        cols["target_evidence"] = base["label_evidence"]
    future = pd.DataFrame(cols)
    previous = base[["iso3", "year", "current_tier"]].assign(year=base["year"] + 1).rename(
        columns={"current_tier": "previous_tier"})
    out = base.merge(future, on=["iso3", "year"], how="left").merge(previous, on=["iso3", "year"], how="left")
    out["target_year"] = out["year"] + horizon
    y = out.pop("_outcome").astype("float64")
    if first_report_year is not None:
        y = y.where(out["target_year"] >= first_report_year)
    if min_evidence is not None and "target_evidence" in out.columns:
        y = y.where(out["target_evidence"].fillna(0) >= min_evidence)
    out[target_column(target, horizon)] = y
    return out


def transition(current_listed, y) -> np.ndarray:
    """'onset' (unlisted now, listed at t + h), 'exit', 'stay', or 'neither' where the status is unknown."""
    c, y = np.asarray(current_listed, float), np.asarray(y, float)
    return np.select([np.isnan(c), (c == 0) & (y == 1), (c == 1) & (y == 0)], ["neither", "onset", "exit"],
                     "stay")
