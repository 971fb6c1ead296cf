"""Simple baselines the model must beat, as scikit-learn classifiers on the same folds.

- BaseRateClassifier: the training share of positives for everyone.
- PersistenceClassifier: the rate of positives among training rows with the same current
  tier (the last observed placement), so "copy last year's tier" gets calibrated odds.
- corruption_index_logistic: logistic regression on the corruption perceptions index alone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


class BaseRateClassifier(ClassifierMixin, BaseEstimator):
    def fit(self, X, y):
        y = np.asarray(y, dtype=float)
        self.classes_ = np.array([0, 1])
        self.rate_ = float(y.mean())
        return self

    def predict_proba(self, X):
        p = np.full(len(X), self.rate_)
        return np.column_stack([1 - p, p])

    def predict(self, X):
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


class PersistenceClassifier(ClassifierMixin, BaseEstimator):
    """P(target | current tier), smoothed toward the base rate; unknown tier → base rate."""

    def __init__(self, column: str = "label_tier", smoothing: float = 1.0):
        self.column = column
        self.smoothing = smoothing

    def fit(self, X, y):
        y = pd.Series(np.asarray(y, dtype=float), index=X.index)
        tier = X[self.column]
        self.classes_ = np.array([0, 1])
        self.rate_ = float(y.mean())
        g = y.groupby(tier).agg(["sum", "count"])
        smoothed = (g["sum"] + self.smoothing * self.rate_) / (g["count"] + self.smoothing)
        self.rate_by_tier_ = smoothed.to_dict()
        return self

    def predict_proba(self, X):
        p = X[self.column].map(self.rate_by_tier_).fillna(self.rate_).to_numpy(float)
        return np.column_stack([1 - p, p])

    def predict(self, X):
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


def corruption_index_logistic(column: str = "cpi_score"):
    """Logistic regression on one index (median-imputed), as a column-selecting pipeline."""
    from sklearn.compose import ColumnTransformer

    select = ColumnTransformer([("index", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                                 [column])])
    return make_pipeline(select, LogisticRegression())
