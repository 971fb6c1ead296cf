"""Backtest metrics, pooled and per origin, with bootstrap intervals over countries.

Resampling countries (not rows) respects that a country's years are not independent.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

METRICS = ("auc", "average_precision", "brier", "log_loss", "recall_top_k")
HIGHER_IS_BETTER = {"auc": True, "average_precision": True, "brier": False, "log_loss": False,
                    "recall_top_k": True}


def recall_top_k(y: np.ndarray, p: np.ndarray, origin: np.ndarray, k: int) -> float:
    """Share of positives that rank in the top k scores of their origin year."""
    hits = total = 0
    for o in np.unique(origin):
        m = origin == o
        order = np.argsort(-p[m], kind="stable")[:k]
        hits += y[m][order].sum()
        total += y[m].sum()
    return float(hits / total) if total else float("nan")


def score_metrics(y, p, origin, k: int) -> dict[str, float]:
    y, p = np.asarray(y, float), np.clip(np.asarray(p, float), 1e-6, 1 - 1e-6)
    origin = np.asarray(origin)
    both = len(np.unique(y)) == 2
    return {
        "auc": float(roc_auc_score(y, p)) if both else float("nan"),
        "average_precision": float(average_precision_score(y, p)) if both else float("nan"),
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
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
                      level: float, seed: int) -> tuple[float, float, float]:
    """metric(a) − metric(b) on identical rows, with a country-bootstrap interval."""
    keys = ["iso3", "year", "origin"]
    m = a[keys + ["y", "p"]].merge(b[keys + ["p"]], on=keys, suffixes=("_a", "_b"), validate="one_to_one")
    if len(m) != len(a) or len(m) != len(b):
        raise ValueError("the two prediction sets do not cover identical rows")
    y, pa, pb, o = (m[c].to_numpy() for c in ("y", "p_a", "p_b", "origin"))

    def diff(idx):
        return score_metrics(y[idx], pa[idx], o[idx], k)[metric] - score_metrics(y[idx], pb[idx], o[idx], k)[metric]

    draws = [diff(idx) for idx in _country_resamples(m["iso3"].to_numpy(), n_resamples, seed)]
    return (diff(np.arange(len(m))), *_interval(draws, level))
