"""Judging a backtest's forecast table the way an early-warning user reads it.

A program team does not need to hear that listed countries stay listed; it needs to know which
currently unlisted countries will be listed next (onsets) and which listed ones will leave the
list (exits). So besides the usual metrics on every row, each model is scored on the onset
candidates (current_listed == 0, positive = onset) and on the exit candidates (current_listed
== 1, positive = exit, scored by 1 − p), with the Early Warning Project's two operational
figures: onsets caught in the top k of the unlisted countries of each origin (against a random
list), and the alarm budget at a threshold (share of onsets alarmed, and how many alarms that
took). Rows with unknown current status (special cases, unranked) count in "all" only and are
reported separately as "neither".

Intervals are a block bootstrap (EVIDENCE.md): countries and origins are drawn with replacement
together, a row's multiplicity being the product of its country's and its origin's draw counts.
Country-only intervals treat the origins as fixed and understate the uncertainty when skill
drifts from year to year. Every resample is a weight vector over the rows (one sort per
forecast serves all resamples), and every model is scored under the same draws, so differences
from the reference model are paired.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from nexus.errors import NexusError
from training.forecasts import GROUP, checked
from training.metrics import _interval, score_metrics, weighted_score_metrics
from training.reliability import calibration_summary

SUBSETS = ("all", "onset", "exit")
STANDARD = ("auc", "average_precision", "brier", "log_loss")
ONSET_EXTRA = ("top_k_caught", "top_k_random", "top_k_lift", "alarm_recall", "alarms", "alarm_precision")
Bootstrap = Literal["block", "country"]


@dataclass(frozen=True)
class EvaluationTables:
    """Tidy tables, every one keyed by horizon and holdout flag (one call serves dev and holdout).

    pooled:      horizon, holdout, model, subset, metric, value, low, high (pooled over origins)
    per_origin:  horizon, holdout, model, origin, subset, metric, value
    paired:      horizon, holdout, model, reference, subset, metric, diff, low, high
    topk:        horizon, holdout, model, origin, k, unlisted, onsets, caught, random, lift
    alarms:      horizon, holdout, model, origin, threshold, onsets, onsets_alarmed, alarm_recall,
                 alarms, alarm_precision
    transitions: horizon, holdout, origin, subset (onset/exit/neither), rows, events
    reliability: horizon, holdout, model, subset, bin, bin_low, bin_high, n, mean_p, observed
    calibration: horizon, holdout, model, subset, metric (ece, coverage, coverage_yes, ...), value
    """

    pooled: pd.DataFrame
    per_origin: pd.DataFrame
    paired: pd.DataFrame
    topk: pd.DataFrame
    alarms: pd.DataFrame
    transitions: pd.DataFrame
    reliability: pd.DataFrame
    calibration: pd.DataFrame
    k: int
    threshold: float
    level: float
    n_resamples: int
    bootstrap: str
    reference: str | None


# ---------------------------------------------------------------------------------------------
# Transitions

def transitions(predictions: pd.DataFrame) -> pd.DataFrame:
    """Per horizon, holdout flag and origin: onset/exit/neither candidate rows and their events.

    events: onsets among onset candidates, exits among exit candidates, listed outcomes among
    rows whose current status is unknown. Counted once per country-origin, whatever the models.
    """
    rows = checked(predictions).drop_duplicates(GROUP + ["origin", "iso3"])
    listed = rows["current_listed"]
    status = np.select([listed == 0, listed == 1], ["onset", "exit"], "neither")
    event = np.where(status == "exit", 1 - rows["y"], rows["y"])
    t = rows[GROUP + ["origin"]].assign(subset=status, rows=1, events=event.astype(int))
    t = t.groupby(GROUP + ["origin", "subset"])[["rows", "events"]].sum()
    cells = rows[GROUP + ["origin"]].drop_duplicates().merge(   # zero counts are shown, not dropped
        pd.DataFrame({"subset": ["onset", "exit", "neither"]}), how="cross")
    full = cells.set_index(GROUP + ["origin", "subset"]).join(t).fillna(0).astype(int).reset_index()
    order = {"onset": 0, "exit": 1, "neither": 2}
    by = GROUP + ["origin", "subset"]
    full = full.sort_values(by, key=lambda c: c.map(order) if c.name == "subset" else c, kind="mergesort")
    return full.reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Resampling

@dataclass(frozen=True)
class _Draws:
    """Unit weights in row 0 (the point estimate), then the resamples' draw counts."""

    countries: np.ndarray   # sorted country codes of the group
    origins: np.ndarray     # sorted origins of the group
    country_counts: np.ndarray   # (R + 1) × countries
    origin_counts: np.ndarray    # (R + 1) × origins


def _draws(group: pd.DataFrame, n_resamples: int, seed: int, bootstrap: Bootstrap) -> _Draws:
    """Per resample: countries drawn with replacement, then (block) origins, from one stream.

    The order of draws is training.metrics' (`_country_resamples`, `_block_resamples`), so the
    intervals here equal those materialised ones; with one origin the block bootstrap is exactly
    the country bootstrap (drawing from one item consumes no randomness).
    """
    if bootstrap not in ("block", "country"):
        raise NexusError(f"unknown bootstrap {bootstrap!r}; known: block, country")
    countries = np.unique(group["iso3"].to_numpy())
    origins = np.unique(group["origin"].to_numpy())
    rng = np.random.default_rng(seed)
    cc = np.ones((n_resamples + 1, len(countries)))
    oc = np.ones((n_resamples + 1, len(origins)))
    for r in range(1, n_resamples + 1):
        cc[r] = np.bincount(rng.integers(0, len(countries), len(countries)), minlength=len(countries))
        if bootstrap == "block":
            oc[r] = np.bincount(rng.integers(0, len(origins), len(origins)), minlength=len(origins))
    return _Draws(countries, origins, cc, oc)


# ---------------------------------------------------------------------------------------------
# One model in one (horizon, holdout) group

@dataclass(frozen=True)
class _Forecast:
    iso3: np.ndarray
    origin: np.ndarray
    y: np.ndarray
    p: np.ndarray
    listed: np.ndarray
    country_idx: np.ndarray
    origin_idx: np.ndarray


def _forecast(rows: pd.DataFrame, draws: _Draws) -> _Forecast:
    iso3, origin = rows["iso3"].to_numpy(), rows["origin"].to_numpy()
    return _Forecast(iso3, origin, rows["y"].to_numpy(float), rows["p"].to_numpy(float),
                     rows["current_listed"].to_numpy(float), np.searchsorted(draws.countries, iso3),
                     np.searchsorted(draws.origins, origin))


def _subset(f: _Forecast, subset: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row mask, outcome and score of a subset: exits are the positives of the exit subset."""
    if subset == "all":
        return np.ones(len(f.y), bool), f.y, f.p
    if subset == "onset":
        return f.listed == 0, f.y, f.p
    return f.listed == 1, 1 - f.y, 1 - f.p


def _top_k(y: np.ndarray, p: np.ndarray, weights: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """Onsets in the top k of one origin's unlisted rows, under each row of `weights` (R × n).

    A row of weight w takes w consecutive places of the list (what repeating it w times does);
    the random list expects min(k, unlisted) × onsets / unlisted.
    """
    order = np.argsort(-p, kind="stable")
    w, ys = weights[:, order], y[order]
    before = np.cumsum(w, axis=1) - w
    taken = np.clip(k - before, 0, w)
    unlisted, onsets = w.sum(axis=1), w @ ys
    with np.errstate(invalid="ignore", divide="ignore"):
        random = np.where(unlisted > 0, np.minimum(k, unlisted) * onsets / unlisted, 0.0)
    return {"unlisted": unlisted, "onsets": onsets, "caught": taken @ ys, "random": random}


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)


def _onset_extras(f: _Forecast, draws: _Draws, k: int, threshold: float):
    """Pooled top-k and alarm figures under every weighting (row 0 = point), and per-origin detail."""
    m = f.listed == 0
    y, p, ci, oi = f.y[m], f.p[m], f.country_idx[m], f.origin_idx[m]
    n_w = len(draws.country_counts)
    caught, random = np.zeros(n_w), np.zeros(n_w)
    per_origin = []
    for j, origin in enumerate(draws.origins):
        rows = oi == j
        if not rows.any():
            continue
        t = _top_k(y[rows], p[rows], draws.country_counts[:, ci[rows]], k)
        caught += draws.origin_counts[:, j] * t["caught"]
        random += draws.origin_counts[:, j] * t["random"]
        alarmed = p[rows] >= threshold
        per_origin.append({"origin": origin, "unlisted": int(rows.sum()), "onsets": int(y[rows].sum()),
                           "caught": float(t["caught"][0]), "random": float(t["random"][0]),
                           "onsets_alarmed": int((y[rows] * alarmed).sum()), "alarms": int(alarmed.sum())})
    w = draws.country_counts[:, ci] * draws.origin_counts[:, oi]
    alarmed = (p >= threshold).astype(float)
    onsets, onsets_alarmed, alarms = w @ y, w @ (y * alarmed), w @ alarmed
    pooled = {"top_k_caught": caught, "top_k_random": random, "top_k_lift": _ratio(caught, random),
              "alarm_recall": _ratio(onsets_alarmed, onsets), "alarms": alarms,
              "alarm_precision": _ratio(onsets_alarmed, alarms)}
    return pooled, per_origin


def _model_draws(f: _Forecast, draws: _Draws, k: int, threshold: float):
    """{(subset, metric): (point, resample draws)}, and the per-origin top-k/alarm detail."""
    out = {}
    for subset in SUBSETS:
        mask, ys, ps = _subset(f, subset)
        rows = np.flatnonzero(mask)
        rows = rows[np.argsort(np.clip(ps[rows], 1e-6, 1 - 1e-6), kind="mergesort")]   # one sort for all
        w = draws.country_counts[1:, f.country_idx[rows]] * draws.origin_counts[1:, f.origin_idx[rows]]
        point = score_metrics(ys[rows], ps[rows], f.origin[rows], k) if len(rows) else {}
        drawn = weighted_score_metrics(ys[rows], ps[rows], w)
        for metric in STANDARD:
            out[(subset, metric)] = (point.get(metric, np.nan), drawn[metric])
    extras, per_origin = _onset_extras(f, draws, k, threshold)
    for metric, values in extras.items():
        out[("onset", metric)] = (float(values[0]), values[1:])
    return out, per_origin


def _per_origin_metrics(f: _Forecast, k: int) -> list[dict]:
    rows = []
    for origin in np.unique(f.origin):
        at = f.origin == origin
        for subset in SUBSETS:
            mask, ys, ps = _subset(f, subset)
            mask = mask & at
            if not mask.any():
                continue
            for metric, value in score_metrics(ys[mask], ps[mask], f.origin[mask], k).items():
                if metric in STANDARD:
                    rows.append({"origin": origin, "subset": subset, "metric": metric, "value": value})
    return rows


# ---------------------------------------------------------------------------------------------
# Entry point

def evaluate(predictions: pd.DataFrame, *, k: int, threshold: float, n_resamples: int, level: float,
             seed: int, reference: str | None = "persistence", bootstrap: Bootstrap = "block",
             bins: int = 10) -> EvaluationTables:
    """Every model, pooled and per origin, per horizon and holdout flag, with bootstrap intervals.

    k: top-k list length (training.top_k); threshold: the alarm threshold, i.e. the "elevated"
    band (scoring.bands.elevated); n_resamples, level: training.bootstrap; reference: the model
    every other is differenced against (None: no paired table); bootstrap: "block" (countries and
    origins) or "country" (the country-only bootstrap, for comparison).
    """
    frame = checked(predictions)
    if reference is not None and reference not in set(frame["model"]):
        raise NexusError(f"reference model {reference!r} is not in the forecast table; models: "
                         f"{', '.join(pd.unique(frame['model']))}")
    model_order = list(pd.unique(predictions["model"]))
    pooled, per_origin, paired, topk, alarms = [], [], [], [], []
    for (horizon, holdout), group in frame.groupby(GROUP, sort=True):
        keys = {"horizon": horizon, "holdout": holdout}
        draws = _draws(group, n_resamples, seed, bootstrap)
        results, forecasts = {}, {}
        present = set(group["model"])
        for model in [m for m in model_order if m in present]:
            f = forecasts[model] = _forecast(group[group["model"] == model], draws)
            results[model], origin_detail = _model_draws(f, draws, k, threshold)
            for (subset, metric), (value, drawn) in results[model].items():
                low, high = _interval(drawn, level)
                pooled.append({**keys, "model": model, "subset": subset, "metric": metric, "value": value,
                               "low": low, "high": high})
            per_origin += [{**keys, "model": model, **r} for r in _per_origin_metrics(f, k)]
            for d in origin_detail:
                at = {**keys, "model": model, "origin": d["origin"]}
                extras = _origin_extras(d)
                per_origin += [{**at, "subset": "onset", "metric": m, "value": v} for m, v in extras.items()]
                topk.append({**at, "k": k, "unlisted": d["unlisted"], "onsets": d["onsets"],
                             "caught": d["caught"], "random": d["random"], "lift": extras["top_k_lift"]})
                alarms.append({**at, "threshold": threshold, "onsets": d["onsets"],
                               "onsets_alarmed": d["onsets_alarmed"], "alarm_recall": extras["alarm_recall"],
                               "alarms": d["alarms"], "alarm_precision": extras["alarm_precision"]})
        if reference is None or reference not in results:
            continue
        ref = forecasts[reference]
        for model, res in results.items():
            if model == reference:
                continue
            f = forecasts[model]
            if not (np.array_equal(f.iso3, ref.iso3) and np.array_equal(f.origin, ref.origin)
                    and np.array_equal(f.y, ref.y) and np.array_equal(f.listed, ref.listed, equal_nan=True)):
                raise NexusError(f"models {model} and {reference} do not forecast identical rows at horizon "
                                 f"{horizon} ({'holdout' if holdout else 'development'}); a paired "
                                 "difference needs the same rows")
            for (subset, metric), (value, drawn) in res.items():
                ref_value, ref_drawn = results[reference][(subset, metric)]
                low, high = _interval(drawn - ref_drawn, level)
                paired.append({**keys, "model": model, "reference": reference, "subset": subset,
                               "metric": metric, "diff": value - ref_value, "low": low, "high": high})
    reliability, calibration = calibration_summary(predictions, bins=bins)
    return EvaluationTables(
        pooled=_table(pooled, ["model", "subset", "metric", "value", "low", "high"]),
        per_origin=_table(per_origin, ["model", "origin", "subset", "metric", "value"]),
        paired=_table(paired, ["model", "reference", "subset", "metric", "diff", "low", "high"]),
        topk=_table(topk, ["model", "origin", "k", "unlisted", "onsets", "caught", "random", "lift"]),
        alarms=_table(alarms, ["model", "origin", "threshold", "onsets", "onsets_alarmed", "alarm_recall",
                               "alarms", "alarm_precision"]),
        transitions=transitions(predictions), reliability=reliability, calibration=calibration,
        k=k, threshold=threshold, level=level, n_resamples=n_resamples, bootstrap=bootstrap,
        reference=reference)


def _origin_extras(d: dict) -> dict[str, float]:
    ratio = lambda a, b: float(a / b) if b > 0 else float("nan")  # noqa: E731
    return {"top_k_caught": d["caught"], "top_k_random": d["random"],
            "top_k_lift": ratio(d["caught"], d["random"]),
            "alarm_recall": ratio(d["onsets_alarmed"], d["onsets"]), "alarms": float(d["alarms"]),
            "alarm_precision": ratio(d["onsets_alarmed"], d["alarms"])}


def _table(rows: list[dict], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=GROUP + columns)
