"""Reliability of a forecast table: equal-width bins, calibration error and conformal-set coverage.

Per horizon, holdout flag, model and subset (all rows, onset candidates, exit candidates), the
same bins `expected_calibration_error` uses, so the table and the figure agree.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from training.calibration import coverage_table, expected_calibration_error
from training.forecasts import GROUP, checked


def calibration_summary(predictions: pd.DataFrame, bins: int = 10) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reliability table (equal-width bins) and ECE per model and subset, plus conformal-set coverage.

    Coverage comes from the `set_yes` / `set_no` columns where a model has them (rows with a
    missing set are left out); within the onset subset `coverage_yes` is the coverage on onsets,
    within the exit subset `coverage_no` is the coverage on exits.
    """
    frame = checked(predictions)
    has_sets = {"set_yes", "set_no"} <= set(frame.columns)
    model_order = list(pd.unique(predictions["model"]))
    reliability, summary = [], []
    edges = np.linspace(0, 1, bins + 1)
    for (horizon, holdout), group in frame.groupby(GROUP, sort=True):
        present = set(group["model"])
        for model in [m for m in model_order if m in present]:
            rows = group[group["model"] == model]
            listed = rows["current_listed"].to_numpy(float)
            y, p = rows["y"].to_numpy(float), rows["p"].to_numpy(float)
            subsets = (("all", np.ones(len(rows), bool)), ("onset", listed == 0), ("exit", listed == 1))
            for subset, mask in subsets:
                if not mask.any():
                    continue
                keys = {"horizon": horizon, "holdout": holdout, "model": model, "subset": subset}
                b = np.clip((p[mask] * bins).astype(int), 0, bins - 1)   # as expected_calibration_error bins
                n = np.bincount(b, minlength=bins)
                with np.errstate(invalid="ignore", divide="ignore"):
                    mean_p = np.bincount(b, weights=p[mask], minlength=bins) / n
                    observed = np.bincount(b, weights=y[mask], minlength=bins) / n
                reliability += [{**keys, "bin": i, "bin_low": edges[i], "bin_high": edges[i + 1],
                                 "n": int(n[i]), "mean_p": mean_p[i], "observed": observed[i]}
                                for i in range(bins)]
                ece = expected_calibration_error(y[mask], p[mask], bins)
                summary.append({**keys, "metric": "ece", "value": ece})
                if not has_sets:
                    continue
                known = mask & rows["set_yes"].notna().to_numpy() & rows["set_no"].notna().to_numpy()
                if not known.any():
                    continue
                with warnings.catch_warnings():   # a subset without one class: that coverage is NaN
                    warnings.simplefilter("ignore", RuntimeWarning)
                    cov = coverage_table(y[known], rows["set_yes"].to_numpy(bool, na_value=False)[known],
                                         rows["set_no"].to_numpy(bool, na_value=False)[known])
                summary += [{**keys, "metric": metric, "value": value} for metric, value in cov.items()]
    return (pd.DataFrame(reliability, columns=GROUP + ["model", "subset", "bin", "bin_low", "bin_high", "n",
                                                        "mean_p", "observed"]),
            pd.DataFrame(summary, columns=GROUP + ["model", "subset", "metric", "value"]))
