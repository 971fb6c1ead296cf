"""Lookups into the evaluation tables, keyed by (horizon, holdout, model, subset, metric), so the
sections, tables and sentences read numbers one way and a missing cell is NaN, not a KeyError."""

from __future__ import annotations

import numpy as np
import pandas as pd

from experiments.results.inputs import ResultsInputs
from experiments.results.markdown import year_span
from experiments.results.models import MODEL_ORDER, PRODUCT


class EvaluationView:
    """Lookups into the evaluation tables: pooled (value, low, high) and paired (diff, low, high)."""

    def __init__(self, inputs: ResultsInputs):
        ev = inputs.versus_persistence
        self.k = ev.k
        self.pooled = {
            (int(r.horizon), bool(r.holdout), r.model, r.subset, r.metric): (r.value, r.low, r.high)
            for r in ev.pooled.itertuples()
        }
        self.paired = {"persistence": self._paired(ev.paired), "product": self._paired(inputs.versus_product)}
        self.transitions = ev.transitions
        self.models = {
            (int(h), bool(o)): list(pd.unique(g["model"]))
            for (h, o), g in inputs.predictions.groupby(["horizon", "holdout"], sort=True)
        }
        self.origins = {
            (int(h), bool(o)): sorted(int(x) for x in g["origin"].unique())
            for (h, o), g in inputs.predictions.groupby(["horizon", "holdout"], sort=True)
        }
        self.rows = {
            (int(h), bool(o)): int((g["model"] == PRODUCT).sum())
            for (h, o), g in inputs.predictions.groupby(["horizon", "holdout"], sort=True)
        }

    @staticmethod
    def _paired(t: pd.DataFrame) -> dict:
        return {
            (int(r.horizon), bool(r.holdout), r.model, r.subset, r.metric): (r.diff, r.low, r.high)
            for r in t.itertuples()
        }

    def get(self, h, holdout, model, subset, metric) -> tuple[float, float, float]:
        return self.pooled.get((h, holdout, model, subset, metric), (np.nan, np.nan, np.nan))

    def diff(self, table, h, holdout, model, subset, metric) -> tuple[float, float, float]:
        return self.paired[table].get((h, holdout, model, subset, metric), (np.nan, np.nan, np.nan))

    def present(self, h, holdout, order=MODEL_ORDER) -> list[str]:
        have = set(self.models.get((h, holdout), []))
        return [m for m in order if m in have]

    def events(self, h, holdout, subset) -> tuple[int, int]:
        t = self.transitions
        t = t[(t["horizon"] == h) & (t["holdout"] == holdout) & (t["subset"] == subset)]
        return int(t["rows"].sum()), int(t["events"].sum())


def origins_text(view: EvaluationView, h: int, holdout: bool) -> str:
    origins = view.origins.get((h, holdout), [])
    if not origins:
        return "no origins"
    return f"rows {year_span(origins)} → reports {year_span([o + h for o in origins])}"
