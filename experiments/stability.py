"""Explanation stability: do two runs name the same top drivers for a country?

Drivers are ranked by |SHAP| (log-odds) on the same country-year, from the backtest's own
out-of-sample SHAP values. Agreement per row is the Spearman correlation of those ranks
and the overlap of the top k; a country's agreement is the mean over its rows. A feature one
run does not use counts as a zero contribution there, so dropping a top driver shows as
disagreement rather than vanishing from the comparison.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import rankdata

KEYS = ["iso3", "year", "origin"]


def _aligned(a: pd.DataFrame, b: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Rows both explain, and |SHAP| over the union of their features (absent = 0)."""
    features = sorted((set(a.columns) | set(b.columns)) - set(KEYS))
    wide = [f.reindex(columns=KEYS + features, fill_value=0.0) for f in (a, b)]
    m = wide[0].merge(wide[1], on=KEYS, how="inner", suffixes=("_a", "_b"))
    A = m[[f"{f}_a" for f in features]].to_numpy(float)
    B = m[[f"{f}_b" for f in features]].to_numpy(float)
    return m[KEYS], np.abs(A), np.abs(B)


def _row_spearman(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    ra, rb = rankdata(A, axis=1), rankdata(B, axis=1)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    denom = np.sqrt((ra ** 2).sum(axis=1) * (rb ** 2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (ra * rb).sum(axis=1) / denom, np.nan)


def _top_k_overlap(A: np.ndarray, B: np.ndarray, k: int) -> np.ndarray:
    k = min(k, A.shape[1])
    rows = np.arange(len(A))[:, None]
    in_a = np.zeros(A.shape, bool)
    in_b = np.zeros(B.shape, bool)
    in_a[rows, np.argsort(-A, axis=1, kind="stable")[:, :k]] = True
    in_b[rows, np.argsort(-B, axis=1, kind="stable")[:, :k]] = True
    return (in_a & in_b).sum(axis=1) / k


def driver_agreement(a: pd.DataFrame, b: pd.DataFrame, k: int = 5) -> pd.DataFrame:
    """Per country: mean rank correlation and top-k overlap of |SHAP| on the rows both runs explain."""
    keys, A, B = _aligned(a, b)
    rows = keys.assign(spearman=_row_spearman(A, B), top_k_overlap=_top_k_overlap(A, B, k))
    return rows.groupby("iso3", as_index=False)[["spearman", "top_k_overlap"]].mean()


def origin_agreement(shap: pd.DataFrame, k: int = 5) -> pd.DataFrame:
    """Per country: agreement of its drivers at consecutive origins of one run (stability over time)."""
    later = shap.assign(origin=shap["origin"] - 1, year=shap["year"] - 1)
    return driver_agreement(shap, later, k)


def summary(per_country: pd.DataFrame) -> dict[str, float]:
    return {"spearman": float(per_country["spearman"].mean()),
            "top_k_overlap": float(per_country["top_k_overlap"].mean()), "countries": int(len(per_country))}
