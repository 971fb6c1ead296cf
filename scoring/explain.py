"""SHAP explanations as a reader sees them: rebuilt from stored values, top drivers, and plots.

The values themselves come from one place, `training.model.RiskModel.explain` (the mean of its
K members' exact `pred_contribs`, one `shap.Explanation` that adds up to the model's margin);
scoring stores them and nothing here recomputes them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def stored_explanation(shap_row: pd.Series, feature_values: pd.Series, features: list[str]):
    """Rebuild a one-row Explanation from stored values (no recomputation)."""
    import shap

    return shap.Explanation(values=shap_row[features].to_numpy(float),
                            base_values=float(shap_row["base_value"]),
                            data=feature_values[features].to_numpy(float), feature_names=features)


def top_drivers(shap_row: pd.Series, feature_values: pd.Series, features: list[str], catalog: dict,
                n: int) -> pd.DataFrame:
    """The n features with the largest |SHAP| for one country-year, with value, unit and source."""
    values = shap_row[features].astype(float)
    order = values.abs().sort_values(ascending=False).index[:n]
    return pd.DataFrame({
        "feature": order,
        "value": [feature_values[f] for f in order],
        "unit": [catalog.get(f, {}).get("unit", "") for f in order],
        "shap": [values[f] for f in order],
        "family": [catalog.get(f, {}).get("family", "") for f in order],
        "source": [catalog.get(f, {}).get("source", "") for f in order],
    })


def plot_waterfall(explanation, path: Path, max_display: int = 12) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import shap

    shap.plots.waterfall(explanation, max_display=max_display, show=False)
    fig = plt.gcf()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close("all")
    return path


def plot_beeswarm(explanation, path: Path, max_display: int = 15) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import shap

    shap.plots.beeswarm(explanation, max_display=max_display, show=False)
    plt.gcf().savefig(path, dpi=110, bbox_inches="tight")
    plt.close("all")
    return path


def mean_abs_shap(shap_values: pd.DataFrame, features: list[str]) -> pd.Series:
    return shap_values[features].abs().mean().sort_values(ascending=False)


def additivity_error(explanation, margin: np.ndarray) -> float:
    return float(np.max(np.abs(explanation.values.sum(axis=1) + explanation.base_values - margin)))
