"""Targets at year t + h from the tier placements kept in the panel.

A row (iso3, t) carries features known at the end of t; its target is the tier placed in
report year t + h. Special cases and unranked years give no target (NaN), never a guess.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TARGETS = {
    "t2wl_or_t3": ("Tier 2 Watch List or Tier 3", 2),
    "t3": ("Tier 3", 3),
}


def target_column(target: str, horizon: int) -> str:
    return f"target_{target}_h{horizon}"


def add_targets(panel: pd.DataFrame, target: str, horizon: int) -> pd.DataFrame:
    """Return a copy with the binary target, the ordinal tier at t + h, and the target year."""
    _, threshold = TARGETS[target]
    future = panel[["iso3", "year", "label_tier"]].assign(year=panel["year"] - horizon)
    future = future.rename(columns={"label_tier": "target_tier"})
    out = panel.merge(future, on=["iso3", "year"], how="left")
    out[target_column(target, horizon)] = np.where(out["target_tier"].isna(), np.nan,
                                                   (out["target_tier"] >= threshold).astype(float))
    out["target_year"] = out["year"] + horizon
    return out
