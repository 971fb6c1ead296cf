"""RiskModel: the one object that carries everything a score needs, from the backtest to the service.

K XGBoost boosters fitted with different seeds are averaged on the margin (log-odds): averaging
removes most of the seed's say in which features a tree happens to split on, so explanations
stop changing with the seed, and SHAP values stay exact, because tree SHAP is additive over the
members (the explanation is the mean of the members' `pred_contribs`, and still sums to the
model's margin). The raw probability sigmoid(mean margin) is then calibrated by the method chosen
on development origins, given the Venn-Abers interval [p0, p1], and a conformal set at the
stated level. The backtest fits one per origin, the final fit is the same class, and scoring and
the service load it back, so a served number is by construction a number the backtest measured.

scikit-learn conventions: parameters in `__init__`, `fit` returns self, fitted state ends in `_`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from training.calibration import (
    IDENTITY,
    Calibrator,
    ConformalSets,
    fit_calibrator,
    fit_conformal,
    venn_abers,
)
from training.inputs import checked_frame, checked_target, named_frame

CARD_FILE = "risk_model.json"
INTERVAL_METHOD = "venn_abers"


class RiskModel(ClassifierMixin, BaseEstimator):
    """K seed-averaged XGBoost boosters + calibration + Venn-Abers interval + conformal set."""

    def __init__(self, n_estimators: int = 250, max_depth: int = 3, learning_rate: float = 0.05,
                 subsample: float = 0.8, colsample_bytree: float = 0.8, min_child_weight: float = 2.0,
                 reg_lambda: float = 1.0, max_bin: int = 64, n_jobs: int = 2, n_members: int = 5,
                 seed: int = 0, calibration: str = "none", conformal_level: float = 0.9,
                 target: str = "t2wl_or_t3", horizon: int = 1):
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.min_child_weight = min_child_weight
        self.reg_lambda = reg_lambda
        self.max_bin = max_bin
        self.n_jobs = n_jobs
        self.n_members = n_members
        self.seed = seed
        self.calibration = calibration
        self.conformal_level = conformal_level
        self.target = target
        self.horizon = horizon

    @classmethod
    def from_params(cls, training, seed: int, *, calibration: str | None = None) -> RiskModel:
        """Built from the typed config (nexus.config.TrainingParams); `calibration` is the chosen method."""
        return cls(**training.xgb.model_dump(), n_members=training.ensemble.n_members, seed=seed,
                   calibration=calibration or "none", conformal_level=training.calibration.conformal_level,
                   target=training.target, horizon=training.horizon_years)

    # -- fitting ---------------------------------------------------------------------------------
    def _booster_params(self, seed: int) -> dict:
        return {"objective": "binary:logistic", "tree_method": "hist", "eval_metric": "logloss",
                "max_depth": self.max_depth, "eta": self.learning_rate, "subsample": self.subsample,
                "colsample_bytree": self.colsample_bytree, "min_child_weight": self.min_child_weight,
                "lambda": self.reg_lambda, "max_bin": self.max_bin, "nthread": 1, "seed": seed}

    def member_seeds(self) -> list[int]:
        return [self.seed + i for i in range(self.n_members)]

    def fit(self, X: pd.DataFrame, y, calibration_rows: pd.DataFrame | None = None) -> RiskModel:
        """Fit the K boosters on (X, y); calibrate on `calibration_rows` (p_raw, y, current_listed).

        The calibration rows are out-of-sample forecasts made before this fit (earlier origins),
        never the rows the boosters saw: in-sample boosted-tree probabilities are overconfident.
        """
        import xgboost as xgb

        if self.n_members < 1:
            raise ValueError(f"n_members must be at least 1 (got {self.n_members})")
        X = checked_frame(X)
        self.classes_, y = checked_target(X, y, type(self).__name__)
        self.feature_names_in_ = [str(c) for c in X.columns]
        self.n_features_in_ = len(self.feature_names_in_)
        dtrain = xgb.QuantileDMatrix(X.to_numpy(np.float32), label=y, feature_names=self.feature_names_in_,
                                     max_bin=self.max_bin, nthread=1)

        def member(seed: int):
            return xgb.train(self._booster_params(seed), dtrain, num_boost_round=self.n_estimators)

        self.boosters_ = self._side_by_side(member, self.member_seeds())
        self.calibrate(calibration_rows)
        return self

    def _side_by_side(self, fn, items: list) -> list:
        """[fn(item) …] in order, on `n_jobs` threads, one xgboost thread each (xgboost releases the GIL).

        At a few thousand rows one thread per member beats several threads on one booster, for
        training and for `pred_contribs` alike; the order is kept, so means over members are the
        same numbers as a serial loop's.
        """
        workers = max(1, min(self.n_jobs, len(items)))
        if workers == 1:
            return [fn(item) for item in items]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(fn, items))

    def calibrate(self, rows: pd.DataFrame | None) -> RiskModel:
        """(Re)fit the calibrator, the interval's calibration pairs and the conformal sets."""
        if rows is None or not len(rows) or rows["y"].nunique() < 2:
            self.calibrator_, self.interval_pairs_, self.conformal_ = IDENTITY, None, None
            return self
        p, y = rows["p_raw"].to_numpy(float), rows["y"].to_numpy(int)
        status = rows["current_listed"].to_numpy(float) if "current_listed" in rows else None
        self.calibrator_ = fit_calibrator(p, y, self.calibration)
        self.interval_pairs_ = (np.round(p, 6).tolist(), y.tolist())
        self.conformal_ = fit_conformal(p, y, self.conformal_level, status)
        return self

    # -- prediction ------------------------------------------------------------------------------
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # a missing value is information: XGBoost learns where it goes
        tags.classifier_tags.multi_class = False  # listed next year or not
        return tags

    def _checked_features(self, X) -> tuple[pd.DataFrame, np.ndarray]:
        """(X with named columns, its model columns as float32): checked and converted once."""
        from sklearn.utils.validation import check_array, check_is_fitted

        check_is_fitted(self, "boosters_")
        X = named_frame(X, self.feature_names_in_, type(self).__name__)
        missing = [c for c in self.feature_names_in_ if c not in X.columns]
        if missing:
            from nexus.errors import NexusError

            extra = sorted(set(X.columns) - set(self.feature_names_in_))
            raise NexusError(f"the model's features are not in the panel: missing {', '.join(missing[:8])}"
                             f"{' …' if len(missing) > 8 else ''}"
                             + (f"; extra columns: {', '.join(extra[:8])}" if extra else ""))
        array = check_array(X[self.feature_names_in_], dtype=np.float32, ensure_all_finite="allow-nan",
                            ensure_min_samples=0)
        return X, array

    def _dmatrix(self, array: np.ndarray):
        """A DMatrix of checked float32 features, built on one thread (a few thousand rows need no team)."""
        import xgboost as xgb

        return xgb.DMatrix(array, feature_names=self.feature_names_in_, nthread=1)

    def _matrix(self, X: pd.DataFrame):
        return self._dmatrix(self._checked_features(X)[1])

    def _margin(self, d) -> np.ndarray:
        return np.mean(self._side_by_side(lambda b: b.predict(d, output_margin=True), self.boosters_),
                       axis=0).astype(float)

    def _contributions(self, d) -> np.ndarray:
        """(n, features + 1): the members' mean `pred_contribs`, the last column the bias."""
        return np.mean(self._side_by_side(lambda b: b.predict(d, pred_contribs=True), self.boosters_), axis=0)

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """The model's margin (log-odds): the mean of the members' margins."""
        return self._margin(self._matrix(X))

    def predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        """sigmoid(mean margin): the uncalibrated probability the calibrator maps."""
        return 1 / (1 + np.exp(-self.decision_function(X)))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p_raw = self.predict_raw(X)
        p = self.calibrator_.apply(p_raw)
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def interval_from_raw(self, p_raw) -> np.ndarray:
        """Venn-Abers [p0, p1] for raw probabilities; NaN when the model was never calibrated."""
        p_raw = np.asarray(p_raw, float)
        if self.interval_pairs_ is None:
            return np.full((len(p_raw), 2), np.nan)
        _, p0, p1 = venn_abers(*self.interval_pairs_, p_raw)
        return np.column_stack([p0, p1])

    def predict_interval(self, X: pd.DataFrame) -> np.ndarray:
        """(n, 2): the Venn-Abers interval [p0, p1] of each row's probability."""
        return self.interval_from_raw(self.predict_raw(X))

    def predict_set(self, X: pd.DataFrame, current_listed=None) -> tuple[np.ndarray, np.ndarray]:
        """(yes in set, no in set) of the conformal set at `conformal_level`, per current status."""
        p_raw = self.predict_raw(X)
        if self.conformal_ is None:
            return np.ones(len(p_raw), bool), np.ones(len(p_raw), bool)
        return self.conformal_.sets(p_raw, current_listed)

    def predict_all(self, X: pd.DataFrame, current_listed=None) -> pd.DataFrame:
        """Everything a score row shows, computed once: raw and calibrated probability, interval, set."""
        p_raw = self.predict_raw(X)
        interval = self.interval_from_raw(p_raw)
        if self.conformal_ is None:
            yes = no = np.ones(len(p_raw), bool)
        else:
            yes, no = self.conformal_.sets(p_raw, current_listed)
        return pd.DataFrame({"p_raw": p_raw, "p": self.calibrator_.apply(p_raw), "p_low": interval[:, 0],
                             "p_high": interval[:, 1], "set_yes": yes, "set_no": no}, index=X.index)

    def explain(self, X: pd.DataFrame):
        """One shap.Explanation: the members' mean exact tree SHAP values (log-odds), summing to the margin."""
        X, array = self._checked_features(X)
        return self._explanation(X, self._contributions(self._dmatrix(array)))

    def explain_raw(self, X: pd.DataFrame):
        """(explain(X), predict_raw(X)) from one check and one DMatrix: what the backtest needs per origin."""
        X, array = self._checked_features(X)
        d = self._dmatrix(array)
        return self._explanation(X, self._contributions(d)), 1 / (1 + np.exp(-self._margin(d)))

    def _explanation(self, X: pd.DataFrame, contributions: np.ndarray):
        import shap

        return shap.Explanation(values=contributions[:, :-1], base_values=contributions[:, -1],
                                data=X[self.feature_names_in_].to_numpy(), feature_names=self.feature_names_in_)

    # -- persistence -----------------------------------------------------------------------------
    def card(self) -> dict:
        """What the saved model states about itself (params, features, calibration, interval, set)."""
        return {"params": self.get_params(), "features": self.feature_names_in_,
                "calibration": json.loads(self.calibrator_.to_json()), "interval_method": INTERVAL_METHOD,
                "interval_pairs": self.interval_pairs_,
                "conformal": json.loads(self.conformal_.to_json()) if self.conformal_ else None,
                "members": [f"member_{i}.ubj" for i in range(len(self.boosters_))]}

    def save(self, directory: Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        card = self.card()
        for booster, name in zip(self.boosters_, card["members"], strict=True):
            booster.save_model(str(directory / name))
        (directory / CARD_FILE).write_text(json.dumps(card), encoding="utf-8")
        return directory

    @classmethod
    def load(cls, directory: Path) -> RiskModel:
        """Read a saved model; a card missing a field or naming an unknown method is refused by name."""
        import xgboost as xgb

        from nexus.errors import NexusError

        directory = Path(directory)
        try:
            card = json.loads((directory / CARD_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise NexusError(f"{directory / CARD_FILE}: not a readable model card ({exc})") from None
        for field in ("params", "features", "calibration", "interval_method", "members"):
            if field not in card:
                raise NexusError(f"{directory / CARD_FILE}: the model card has no {field!r}")
        method = card["calibration"].get("method")
        if method not in ("none", "sigmoid", "isotonic", "venn_abers"):
            raise NexusError(f"{directory / CARD_FILE}: unknown calibration method {method!r}")
        if card["interval_method"] != INTERVAL_METHOD:
            raise NexusError(f"{directory / CARD_FILE}: unknown interval method {card['interval_method']!r}")
        model = cls(**card["params"])
        model.feature_names_in_ = list(card["features"])
        model.n_features_in_ = len(model.feature_names_in_)
        model.classes_ = np.array([0, 1])
        model.boosters_ = []
        for name in card["members"]:
            booster = xgb.Booster()
            booster.load_model(str(directory / name))
            booster.set_param({"nthread": 1})
            model.boosters_.append(booster)
        model.calibrator_ = Calibrator(**card["calibration"])
        pairs = card.get("interval_pairs")
        model.interval_pairs_ = (list(pairs[0]), list(pairs[1])) if pairs else None
        model.conformal_ = ConformalSets.from_json(json.dumps(card["conformal"])) if card.get("conformal") else None
        return model
