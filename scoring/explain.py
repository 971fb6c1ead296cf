"""SHAP explanations as a reader sees them: rebuilt from stored values, top drivers, and plots.

The values themselves come from one place, `training.model.RiskModel.explain` (the mean of its
K members' exact `pred_contribs`, one `shap.Explanation` that adds up to the model's margin);
scoring stores them and nothing here recomputes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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


@dataclass(frozen=True)
class CountryYearExplanation:
    """What `nexus explain` shows for one country-year: its score row, top drivers and family sums."""

    score: pd.Series
    drivers: pd.DataFrame
    families: pd.Series
    explanation: object  # a one-row shap.Explanation rebuilt from the stored values


def explain_country_year(params, scores_dir: Path, iso3: str, year: int) -> CountryYearExplanation:
    """The stored explanation of one country-year, with the panel values it explains."""
    from features.panel import load_panel
    from nexus.errors import NexusError
    from scoring.score import load_scores
    from training.targets import add_targets

    scores, shap_values, families, manifest = load_scores(scores_dir)
    match = shap_values[(shap_values["iso3"] == iso3) & (shap_values["year"] == year)]
    if match.empty:
        known = sorted(scores["iso3"].unique())
        hint = (f"years {scores['year'].min()}–{scores['year'].max()}" if iso3 in known
                else f"known countries: {', '.join(known[:8])}, …")
        raise NexusError(f"no explanation for {iso3} {year}; {hint}")
    panel, catalog, _ = load_panel(Path(manifest.extra["features_dir"]))
    panel = add_targets(panel, params.training.target, params.training.horizon_years)  # current placement too
    values = panel[(panel["iso3"] == iso3) & (panel["year"] == year)].iloc[0]
    features = [c for c in shap_values.columns if c not in ("iso3", "year", "base_value")]
    row = match.iloc[0]
    score = scores[(scores["iso3"] == iso3) & (scores["year"] == year)].iloc[0]
    drivers = top_drivers(row, values, features, catalog, params.scoring.top_drivers)
    family = families[(families["iso3"] == iso3) & (families["year"] == year)].drop(columns=["iso3", "year"]).iloc[0]
    return CountryYearExplanation(score, drivers, family, stored_explanation(row, pd.Series(values), features))
