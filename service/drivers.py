"""A country-year's drivers in words a non-specialist can check: what each signal is, how this country
compares, which way it pushes the risk, and by how many probability points.

Everything is computed from what the served version already holds (its feature values and
SHAP values): the percentile is among every country with a value that year, the region median
among the countries its publisher groups with it. Probability points are on the model's own,
uncalibrated scale: sigmoid(log-odds) with the driver minus sigmoid(log-odds) without it.
"""

from __future__ import annotations

import math

import numpy as np

from scoring.served import ServedVersion
from service.charts import fmt_value
from training.targets import UNLISTED_TIER_UNKNOWN

# The current-placement features hold the tier as a code; a reader sees the tier's name.
TIER_NAMES = {0: "Tier 1", 1: "Tier 2", 2: "Tier 2 Watch List", 3: "Tier 3"}
PLACEMENT_TIER_NAMES = {**TIER_NAMES, UNLISTED_TIER_UNKNOWN: "Tier 1 or 2 (the report does not say which)"}
PLACEMENT_WORDS = {"current_tier": PLACEMENT_TIER_NAMES, "previous_tier": PLACEMENT_TIER_NAMES,
                   "current_listed": {0: "unlisted (Tier 1 or 2)", 1: "listed (Watch List or Tier 3)"}}
PLACEMENT_NAMES = {"current_tier": "Current tier placement", "previous_tier": "Tier placement a year earlier",
                   "current_listed": "Currently on the Watch List or Tier 3"}
MISSING = ("not reported. The model does not fill in a guess: while training, each of its trees learned "
           "which way to send a country-year with no value here, from the training countries that had none")


def _sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def _percentile(column: np.ndarray, value: float) -> tuple[int, int]:
    """(share of reporting countries below `value`, ties counted half, in %; countries reporting)."""
    known = column[~np.isnan(column)]
    if not len(known):
        return 0, 0
    below = np.count_nonzero(known < value) + 0.5 * np.count_nonzero(known == value)
    return round(100 * below / len(known)), len(known)


def value_words(feature: str, value: float | None) -> str:
    """A value as a reader reads it: the tier's name for a placement, three digits otherwise."""
    if value is None:
        return "missing"
    words = PLACEMENT_WORDS.get(feature, {})
    return words.get(float(value), fmt_value(value))


def drivers(served: ServedVersion, i: int) -> list[dict]:
    """Every feature of row `i`, largest |effect| first, with its name, comparison and effect in words."""
    item = served.items[i]
    year_rows = np.asarray(served.year(item["year"]))
    region = item["region"]
    in_region = [bool(region) and served.items[r]["region"] == region for r in year_rows]
    same_region = year_rows[np.asarray(in_region, dtype=bool)]
    margin = float(served.base[i] + served.shap[i].sum())
    column_of = {f: j for j, f in enumerate(served.features)}
    out = []
    for c in served.contributions(i):
        j = column_of[c["feature"]]
        shap, value = c["shap"], c["value"]
        points = 100 * (_sigmoid(margin) - _sigmoid(margin - shap))
        direction = ("raises the risk" if shap > 0 else "lowers the risk" if shap < 0
                     else "does not move the risk")
        name = PLACEMENT_NAMES.get(c["feature"]) or c["description"] or c["feature"].replace("_", " ")
        name = name.strip()
        lag = int(served.catalog.get(c["feature"], {}).get("extra_lag", 0) or 0)
        if lag and c["feature"] not in PLACEMENT_NAMES:
            name += f" ({lag} year{'s' if lag > 1 else ''} earlier)"
        entry = c | {"name": name[:1].upper() + name[1:], "shown": value_words(c["feature"], value),
                     "direction": direction, "points": points, "raises": shap > 0,
                     "missing_note": None, "percentile": None, "reporting": 0, "region": region,
                     "region_median": None}
        if value is None:
            entry["missing_note"] = (f"{MISSING}; for this country-year that learned default {direction} by "
                                     f"{abs(points):.1f} probability points.")
        elif c["feature"] not in PLACEMENT_WORDS:
            entry["percentile"], entry["reporting"] = _percentile(served.values[year_rows, j], value)
            regional = served.values[same_region, j]
            regional = regional[~np.isnan(regional)]
            entry["region_median"] = float(np.median(regional)) if len(regional) else None
        out.append(entry)
    return out


def comparison_words(d: dict, year: int) -> str:
    """'higher than 82% of 148 countries reporting in 2024; Region median 41.2', or why there is none."""
    if d["value"] is None:
        return "no value to compare"
    if d["percentile"] is None:
        return "the current placement (no comparison)"
    text = f"higher than {d['percentile']}% of {d['reporting']} countries reporting in {year}"
    if d["region_median"] is not None:
        text += f"; {d['region']} median {fmt_value(d['region_median'])}"
    return text
