"""The forecast table: the rows a backtest writes and every judgement of it reads.

One row is one model's forecast of one country-year made at one origin (FORECAST_KEYS), with
its outcome y, probability p, the country's current status and the horizon and holdout flag
that every evaluation table is grouped by (GROUP).
"""

from __future__ import annotations

import pandas as pd

from nexus.errors import NexusError

FORECAST_KEYS = ["iso3", "year", "origin"]
REQUIRED_COLUMNS = ("iso3", "origin", "model", "y", "p", "current_listed", "horizon", "holdout")
GROUP = ["horizon", "holdout"]


def checked(predictions: pd.DataFrame) -> pd.DataFrame:
    """The table with clean types, sorted by group, model, origin and country; or a clear error."""
    missing = [c for c in REQUIRED_COLUMNS if c not in predictions.columns]
    if missing:
        raise NexusError(f"forecast table lacks column(s) {', '.join(missing)}; evaluation needs "
                         f"{', '.join(REQUIRED_COLUMNS)}")
    bad_p = predictions["p"].isna() | ~predictions["p"].between(0, 1)
    if bad_p.any():
        row = predictions[bad_p].iloc[0]
        raise NexusError(f"forecast p of model {row['model']} for {row['iso3']} origin {row['origin']} is "
                         f"{row['p']}, not a probability")
    if not predictions["y"].isin([0, 1]).all():
        raise NexusError("forecast table: outcome y must be 0 or 1 on every row")
    twice = predictions.duplicated(["horizon", "model", "origin", "iso3"])
    if twice.any():
        row = predictions[twice].iloc[0]
        raise NexusError(f"forecast table has model {row['model']} twice for {row['iso3']} origin "
                         f"{row['origin']} horizon {row['horizon']}; one forecast per model, country, origin "
                         "and horizon")
    listed = predictions["current_listed"].astype("float64")
    if not listed.dropna().isin([0.0, 1.0]).all():
        raise NexusError("forecast table: current_listed must be 1, 0 or missing")
    out = predictions.assign(current_listed=listed, holdout=predictions["holdout"].astype(bool))
    return out.sort_values(GROUP + ["model", "origin", "iso3"], kind="mergesort").reset_index(drop=True)
