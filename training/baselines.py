"""Simple baselines the model must beat, as scikit-learn classifiers on the same folds.

- BaseRateClassifier: the training share of positives for everyone.
- PersistenceClassifier: the rate of positives among training rows with the same current
  tier (the last observed placement), so "copy last year's tier" gets calibrated odds.
- SameAsNowClassifier: plain "same as now": listed now → listed next (1 − ε), else ε.
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
from sklearn.utils.validation import check_is_fitted

from training.inputs import checked_frame, checked_target, column, positional_names


class _BaselineChecks:
    """scikit-learn's conventions shared by the baselines: checked input, NaN allowed, binary only."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.classifier_tags.multi_class = False
        tags.classifier_tags.poor_score = True  # a baseline is meant to be simple, not accurate
        return tags

    def _fit_input(self, X, y):
        X = checked_frame(X)
        self.classes_, y = checked_target(X, y, type(self).__name__)
        self.n_features_in_ = X.shape[1]
        self.rate_ = float(y.mean())
        return X, y

    def _predict_input(self, X):
        check_is_fitted(self, "rate_")
        named = isinstance(X, pd.DataFrame) and all(isinstance(c, str) for c in X.columns)
        names = None if named else positional_names(self.n_features_in_)
        return checked_frame(X, names, type(self).__name__)

    def predict(self, X):
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


class BaseRateClassifier(_BaselineChecks, ClassifierMixin, BaseEstimator):
    def fit(self, X, y):
        self._fit_input(X, y)
        return self

    def predict_proba(self, X):
        p = np.full(len(self._predict_input(X)), self.rate_)
        return np.column_stack([1 - p, p])


class PersistenceClassifier(_BaselineChecks, ClassifierMixin, BaseEstimator):
    """P(target | current tier), smoothed toward the base rate (the 4-tier rate model).

    A row whose tier is unknown but whose listed status is known (report years whose Tier 1/2
    lists are incomplete) gets the rate of its listed status; a row with neither, the base rate.
    """

    def __init__(self, column: str | int = "current_tier", listed_column: str | int = "current_listed",
                 smoothing: float = 1.0):
        self.column = column
        self.listed_column = listed_column
        self.smoothing = smoothing

    def _smoothed_rates(self, y: pd.Series, by: pd.Series) -> dict:
        g = y.groupby(by).agg(["sum", "count"])   # NaN keys are dropped: unknown is not a group
        return ((g["sum"] + self.smoothing * self.rate_) / (g["count"] + self.smoothing)).to_dict()

    def fit(self, X, y):
        X, y = self._fit_input(X, y)
        y = pd.Series(y, index=X.index)
        self.rate_by_tier_ = self._smoothed_rates(y, column(X, self.column))
        self.rate_by_listed_ = self._smoothed_rates(y, column(X, self.listed_column))
        return self

    def predict_proba(self, X):
        X = self._predict_input(X)
        by_listed = column(X, self.listed_column).map(self.rate_by_listed_)
        p = column(X, self.column).map(self.rate_by_tier_).fillna(by_listed).fillna(self.rate_).to_numpy(float)
        return np.column_stack([1 - p, p])


class SameAsNowClassifier(_BaselineChecks, ClassifierMixin, BaseEstimator):
    """Plain "same as now": 1 − ε if listed now, ε if unlisted, the base rate if the status is unknown.

    ε keeps log loss finite when a placement does change; nothing about the data is learned
    except the base rate for rows without a current status.
    """

    def __init__(self, listed_column: str | int = "current_listed", epsilon: float = 0.02):
        self.listed_column = listed_column
        self.epsilon = epsilon

    def fit(self, X, y):
        if not 0 < self.epsilon < 0.5:
            raise ValueError(f"epsilon must lie in (0, 0.5), got {self.epsilon}")
        self._fit_input(X, y)
        return self

    def predict_proba(self, X):
        listed = column(self._predict_input(X), self.listed_column).to_numpy(float)
        p = np.where(np.isnan(listed), self.rate_, np.where(listed >= 0.5, 1 - self.epsilon, self.epsilon))
        return np.column_stack([1 - p, p])


def corruption_index_logistic(column: str = "cpi_score"):
    """Logistic regression on one index (median-imputed), as a column-selecting pipeline."""
    from sklearn.compose import ColumnTransformer

    select = ColumnTransformer([("index", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                                 [column])])
    return make_pipeline(select, LogisticRegression())
