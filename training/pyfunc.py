"""The RiskModel as an MLflow pyfunc: `mlflow models serve` returns what the service serves.

Each row in gives its calibrated probability and the Venn-Abers interval bounds (not a label, as
the xgboost flavour's pyfunc would). An optional `current_listed` column selects the conformal
set's group; without it the pooled thresholds apply.
"""

from __future__ import annotations

import mlflow.pyfunc
import pandas as pd


class RiskModelPyfunc(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        from training.model import RiskModel

        self.model = RiskModel.load(context.artifacts["risk_model"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        frame = pd.DataFrame(model_input)
        X = frame.reindex(columns=self.model.feature_names_in_).astype("float64")
        status = frame["current_listed"] if "current_listed" in frame.columns else None
        out = self.model.predict_all(X, current_listed=status)
        return pd.DataFrame({"probability": out["p"].to_numpy(), "interval_low": out["p_low"].to_numpy(),
                             "interval_high": out["p_high"].to_numpy()})
