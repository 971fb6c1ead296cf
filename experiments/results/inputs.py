"""What `gather` hands `render`: one record per training and everything else the page shows, so
render reads nothing but this (and a cached gather renders the same bytes)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from training.evaluation import EvaluationTables


@dataclass(frozen=True)
class Training:
    """One training the page reports: its cache key, registry name, calibration report and metrics."""

    variant: str
    horizon: int
    key: str
    model_name: str
    calibration: dict
    metrics: dict  # metrics.json without the registry's version, run id and champion decision


@dataclass
class ResultsInputs:
    """Everything the page shows (render reads nothing else)."""

    profile: dict
    trainings: list[Training]
    predictions: pd.DataFrame  # every forecast: variants under their names, the baselines, all horizons
    versus_persistence: EvaluationTables  # evaluate(predictions, reference=persistence)
    versus_product: pd.DataFrame  # paired table of evaluate(predictions, reference=product)
    panel: pd.DataFrame
    catalog: dict
    dependent: list[str]
    scores: pd.DataFrame  # the served model's scores, every country-year
    shap_values: pd.DataFrame  # iso3, year, base_value, one column per served feature (log-odds)
    provenance: dict = field(default_factory=dict)

    def training(self, variant: str, horizon: int) -> Training | None:
        return next((t for t in self.trainings if t.variant == variant and t.horizon == horizon), None)
