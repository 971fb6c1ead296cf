"""Backtest metrics, pooled and per origin, with bootstrap intervals over countries.

Resampling countries (not rows) respects that a country's years are not independent.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from training.forecasts import FORECAST_KEYS

METRICS = ("auc", "average_precision", "brier", "log_loss", "recall_top_k")
# Direction of every metric nexus reports (these and training/evaluation.py's onset figures);
# None: a count whose direction depends on its pair.
HIGHER_IS_BETTER = {"auc": True, "average_precision": True, "brier": False, "log_loss": False,
                    "recall_top_k": True, "top_k_caught": True, "top_k_random": None, "top_k_lift": True,
                    "alarm_recall": True, "alarms": None, "alarm_precision": True}


def recall_top_k(y: np.ndarray, p: np.ndarray, origin: np.ndarray, k: int) -> float:
    """Share of positives that rank in the top k scores of their origin year."""
    hits = total = 0
    for o in np.unique(origin):
        m = origin == o
        order = np.argsort(-p[m], kind="stable")[:k]
        hits += y[m][order].sum()
        total += y[m].sum()
    return float(hits / total) if total else float("nan")


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """ROC AUC as the Mann–Whitney statistic (ties count half), equal to sklearn's roc_auc_score."""
    from scipy.stats import rankdata

    n1 = y.sum()
    n0 = len(y) - n1
    return float((rankdata(p)[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def average_precision(y: np.ndarray, p: np.ndarray) -> float:
    """Step-wise area under precision–recall, one step per distinct score (sklearn's definition)."""
    order = np.argsort(-p, kind="mergesort")
    ys, ps = y[order], p[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(ps)), len(ps) - 1]
    tps = np.cumsum(ys)[last_of_tie]
    precision = tps / (last_of_tie + 1)
    recall = tps / tps[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def score_metrics(y, p, origin, k: int) -> dict[str, float]:
    """Every backtest metric at once, in numpy: the bootstraps call this thousands of times."""
    y, p = np.asarray(y, float), np.clip(np.asarray(p, float), 1e-6, 1 - 1e-6)
    origin = np.asarray(origin)
    both = 0 < y.sum() < len(y)
    return {
        "auc": auc(y, p) if both else float("nan"),
        "average_precision": average_precision(y, p) if both else float("nan"),
        "brier": float(np.mean((p - y) ** 2)),
        "log_loss": float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))),
        "recall_top_k": recall_top_k(y, p, origin, k),
    }


def _country_resamples(iso3: np.ndarray, n_resamples: int, seed: int):
    """Yield row-index arrays, each a resample of whole countries with replacement."""
    rng = np.random.default_rng(seed)
    codes, inverse = np.unique(iso3, return_inverse=True)
    rows_of = [np.flatnonzero(inverse == i) for i in range(len(codes))]
    for _ in range(n_resamples):
        yield np.concatenate([rows_of[i] for i in rng.integers(0, len(codes), len(codes))])


def _interval(draws, level: float) -> tuple[float, float]:
    lo, hi = (1 - level) / 2, 1 - (1 - level) / 2
    draws = np.asarray(draws, float)
    if np.isnan(draws).all():
        return float("nan"), float("nan")
    return float(np.nanquantile(draws, lo)), float(np.nanquantile(draws, hi))


def bootstrap_intervals(predictions: pd.DataFrame, k: int, n_resamples: int, level: float,
                        seed: int) -> dict[str, tuple[float, float]]:
    """Percentile intervals of each pooled metric, resampling countries with replacement."""
    y, p, o = (predictions[c].to_numpy() for c in ("y", "p", "origin"))
    draws = {m: [] for m in METRICS}
    for idx in _country_resamples(predictions["iso3"].to_numpy(), n_resamples, seed):
        for m, v in score_metrics(y[idx], p[idx], o[idx], k).items():
            draws[m].append(v)
    return {m: _interval(v, level) for m, v in draws.items()}


def paired_difference(a: pd.DataFrame, b: pd.DataFrame, metric: str, k: int, n_resamples: int,
                      level: float, seed: int, *, block: bool = False) -> tuple[float, float, float]:
    """metric(a) − metric(b) on identical rows, with a country (or country × origin) bootstrap interval."""
    keys = FORECAST_KEYS
    m = a[keys + ["y", "p"]].merge(b[keys + ["p"]], on=keys, suffixes=("_a", "_b"), validate="one_to_one")
    if len(m) != len(a) or len(m) != len(b):
        raise ValueError("the two prediction sets do not cover identical rows")
    y, pa, pb, o = (m[c].to_numpy() for c in ("y", "p_a", "p_b", "origin"))

    def diff(idx):
        a_, b_ = score_metrics(y[idx], pa[idx], o[idx], k), score_metrics(y[idx], pb[idx], o[idx], k)
        return a_[metric] - b_[metric]

    iso3 = m["iso3"].to_numpy()
    resamples = (_block_resamples(iso3, o, n_resamples, seed) if block
                 else _country_resamples(iso3, n_resamples, seed))
    draws = [diff(idx) for idx in resamples if len(idx)]
    return (diff(np.arange(len(m))), *_interval(draws, level))


def paired_bootstrap(entries: dict[str, pd.DataFrame], reference: str, k: int, n_resamples: int, level: float,
                     seed: int) -> pd.DataFrame:
    """Every metric of several forecast sets on identical rows, each with its country-bootstrap
    interval and its difference from `reference` with an interval.

    One set of country resamples serves every entry, so the differences are paired: a country
    that is hard for one model is drawn for all of them at once.
    """
    ref = entries[reference].reset_index(drop=True)
    keys = FORECAST_KEYS + ["y"]
    for name, e in entries.items():
        if not e[keys].reset_index(drop=True).equals(ref[keys]):
            raise ValueError(f"{name} and {reference} do not cover identical rows in the same order")
    y, o = ref["y"].to_numpy(float), ref["origin"].to_numpy()
    ps = {name: e["p"].to_numpy(float) for name, e in entries.items()}
    point = {name: score_metrics(y, p, o, k) for name, p in ps.items()}
    draws = {name: np.empty((n_resamples, len(METRICS))) for name in ps}
    for i, idx in enumerate(_country_resamples(ref["iso3"].to_numpy(), n_resamples, seed)):
        for name, p in ps.items():
            m = score_metrics(y[idx], p[idx], o[idx], k)
            draws[name][i] = [m[x] for x in METRICS]
    rows = []
    for name in ps:
        for j, metric in enumerate(METRICS):
            low, high = _interval(draws[name][:, j], level)
            diff_low, diff_high = _interval(draws[name][:, j] - draws[reference][:, j], level)
            rows.append({"entry": name, "metric": metric, "value": point[name][metric], "low": low,
                         "high": high, "diff": point[name][metric] - point[reference][metric],
                         "diff_low": diff_low, "diff_high": diff_high})
    return pd.DataFrame(rows)


# Weighted versions for the block bootstrap: a resample is a vector of row multiplicities, so one
# sort per forecast serves every resample, and no resampled rows are ever materialised.

def _as_weight_rows(weights, n: int) -> np.ndarray:
    w = np.asarray(weights, float)
    w = w.reshape(1, -1) if w.ndim == 1 else w
    if w.shape[1] != n:
        raise ValueError(f"weights cover {w.shape[1]} rows, the forecast {n}")
    return w


def _weighted_ranking(y: np.ndarray, p: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(AUC, average precision) under each row of w, from one ascending sort and two running sums.

    Per group g of tied scores (ascending): pos_g, neg_g = weight of positives / negatives;
    AUC = Σ pos_g · (negatives below g + ½ neg_g) / (n1 · n0); AP = Σ pos_g · precision_g / n1,
    with precision_g = weight of positives scored ≥ g / weight of all rows scored ≥ g.
    """
    if not len(y):
        return np.full(len(w), np.nan), np.full(len(w), np.nan)
    if np.all(p[1:] >= p[:-1]):   # already ascending (the block bootstrap sorts once): no copy
        ps, ys, ws = p, y, w
    else:
        order = np.argsort(p, kind="mergesort")
        ps, ys, ws = p[order], y[order], w[:, order]
    ends = np.r_[np.flatnonzero(np.diff(ps)), len(ps) - 1]
    pos_cum, all_cum = np.cumsum(ws * ys, axis=1), np.cumsum(ws, axis=1)
    if len(ends) < len(ps):   # tied scores: one group per distinct score
        pos_cum, all_cum = pos_cum[:, ends], all_cum[:, ends]
    pos = np.diff(pos_cum, axis=1, prepend=0.0)
    size = np.diff(all_cum, axis=1, prepend=0.0)
    neg_cum, neg = all_cum - pos_cum, size - pos
    n1, total = pos_cum[:, -1:], all_cum[:, -1:]
    n0 = total - n1
    at_or_above = total - all_cum + size
    precision = np.divide(n1 - pos_cum + pos, at_or_above, out=np.zeros_like(pos), where=at_or_above > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc_ = (pos * (neg_cum - 0.5 * neg)).sum(axis=1) / (n1 * n0)[:, 0]
        ap = (pos * precision).sum(axis=1) / n1[:, 0]
    undefined = (n1[:, 0] <= 0) | (n0[:, 0] <= 0)
    auc_[undefined] = np.nan
    ap[undefined] = np.nan
    return auc_, ap


def weighted_auc(y, p, weights) -> np.ndarray:
    """ROC AUC under each row of `weights` (R × n multiplicities; ties count half); NaN lacking a class.

    Equal to `auc` on the rows repeated by their (integer) weights.
    """
    y, p = np.asarray(y, float), np.asarray(p, float)
    return _weighted_ranking(y, p, _as_weight_rows(weights, len(y)))[0]


def weighted_average_precision(y, p, weights) -> np.ndarray:
    """Average precision (one step per distinct score) under each row of `weights`; NaN lacking a class."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    return _weighted_ranking(y, p, _as_weight_rows(weights, len(y)))[1]


def weighted_score_metrics(y, p, weights) -> dict[str, np.ndarray]:
    """AUC, average precision, Brier and log loss under each row of `weights` (R × n); p clipped as in
    score_metrics, so unit weights give score_metrics' values."""
    y, p = np.asarray(y, float), np.clip(np.asarray(p, float), 1e-6, 1 - 1e-6)
    w = _as_weight_rows(weights, len(y))
    total = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        brier = w @ ((p - y) ** 2) / total
        log_loss = w @ -(y * np.log(p) + (1 - y) * np.log(1 - p)) / total
    auc_, ap = _weighted_ranking(y, p, w)
    return {"auc": auc_, "average_precision": ap, "brier": brier, "log_loss": log_loss}


def _block_resamples(iso3: np.ndarray, origin: np.ndarray, n_resamples: int, seed: int):
    """Yield row-index arrays: countries and origins drawn with replacement together (EVIDENCE.md).

    A row appears (country draws × origin draws) times, so year-to-year drift in skill widens
    the interval as it should; a country-only bootstrap treats the origins as fixed.
    """
    rng = np.random.default_rng(seed)
    codes, c_of = np.unique(iso3, return_inverse=True)
    years, o_of = np.unique(origin, return_inverse=True)
    for _ in range(n_resamples):
        wc = np.bincount(rng.integers(0, len(codes), len(codes)), minlength=len(codes))
        wo = np.bincount(rng.integers(0, len(years), len(years)), minlength=len(years))
        reps = wc[c_of] * wo[o_of]
        yield np.repeat(np.arange(len(iso3)), reps)


def paired_block_difference(a: pd.DataFrame, b: pd.DataFrame, metric: str, k: int, n_resamples: int,
                            level: float, seed: int) -> tuple[float, float, float]:
    """metric(a) − metric(b) on identical rows, with a country × origin block-bootstrap interval."""
    return paired_difference(a, b, metric, k, n_resamples, level, seed, block=True)
