"""Probability calibration, calibration error and conformal prediction sets.

All three are fitted on out-of-sample forecasts whose outcomes were known at the origin
(earlier origins of the same backtest), never on the rows a model was fitted to: in-sample
probabilities of boosted trees are overconfident, and re-fitting a model per fold to get
held-out forecasts would double the backtest's cost.

The conformal sets are Mondrian split-conformal sets over the binary outcome, conditional on
the class *and* on the current listed status: "yes" is in the set when the raw probability is
at least that group's `p_yes_min`, "no" when it is at most its `p_no_max`. Each (status, class)
cell keeps its own coverage guarantee, so onsets (unlisted now, listed next) are covered at the
stated level instead of being sacrificed to the many rows that stay put.

The interval on every score is Venn-Abers' [p0, p1] (the `venn-abers` package): the two
isotonic calibrations obtained by adding the scored row to the calibration set once as a
negative and once as a positive. Its width says how much the calibration data pin the
probability down; one of the two is calibrated whenever the calibration rows are exchangeable
with the scored one.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field

import numpy as np

EPS = 1e-4


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, float), EPS, 1 - EPS)
    return np.log(p / (1 - p))


@dataclass(frozen=True)
class Calibrator:
    """A fitted map from the model's raw probability to a calibrated one (JSON-serialisable).

    isotonic: p = interp(raw, x, y) (flat beyond the ends); sigmoid: p = 1 / (1 + exp(-(a·logit(raw) + b)));
    none: p = raw. Calibrated values are kept inside [floor, 1 − floor] so that one surprise
    cannot cost an infinite log loss (floor = 1 / (2 · calibration rows)).
    """

    method: str
    x: list[float] = field(default_factory=list)
    y: list[float] = field(default_factory=list)
    a: float = 1.0
    b: float = 0.0
    floor: float = EPS
    n: int = 0

    def apply(self, p_raw) -> np.ndarray:
        p_raw = np.asarray(p_raw, float)
        if self.method == "isotonic":
            p = np.interp(p_raw, self.x, self.y)
        elif self.method == "sigmoid":
            p = 1 / (1 + np.exp(-(self.a * _logit(p_raw) + self.b)))
        elif self.method == "venn_abers":
            p = venn_abers(self.x, self.y, p_raw)[0]
        else:
            return p_raw
        return np.clip(p, self.floor, 1 - self.floor)

    def to_json(self) -> str:
        doc = {k: v for k, v in asdict(self).items() if v not in ([], None)}
        return json.dumps(doc, separators=(",", ":"))   # full precision: the served number is the measured one

    @classmethod
    def from_json(cls, text: str) -> Calibrator:
        return cls(**json.loads(text))


IDENTITY = Calibrator("none")


_FITTED: dict[str, object] = {}   # calibration pairs' digest → fitted VennAbers (a served model reuses it)


def _fitted_venn_abers(p_cal: np.ndarray, y_cal: np.ndarray):
    import hashlib

    from venn_abers import VennAbers

    key = hashlib.sha256(p_cal.tobytes() + y_cal.tobytes()).hexdigest()
    if key not in _FITTED:
        if len(_FITTED) > 64:
            _FITTED.clear()
        _FITTED[key] = VennAbers().fit(np.c_[1 - p_cal, p_cal], y_cal)
    return _FITTED[key]


def venn_abers(p_cal, y_cal, p_raw) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(point, p0, p1) of the inductive Venn-Abers predictor on calibration pairs (p_cal, y_cal)."""
    p_cal, y_cal, p_raw = np.asarray(p_cal, float), np.asarray(y_cal, int), np.asarray(p_raw, float)
    if len(p_raw) == 0:
        return (np.empty(0),) * 3
    point, p01 = _fitted_venn_abers(p_cal, y_cal).predict_proba(np.c_[1 - p_raw, p_raw])
    return point[:, 1], p01[:, 0], p01[:, 1]


def fit_calibrator(p_raw, y, method: str) -> Calibrator:
    """Fit `method` on (raw probability, outcome) pairs; identity when there is nothing to learn from."""
    p_raw, y = np.asarray(p_raw, float), np.asarray(y, float)
    if method == "none" or len(np.unique(y)) < 2:
        return IDENTITY
    floor = max(EPS, 0.5 / len(y))
    if method == "venn_abers":  # keeps its calibration pairs: the interval needs them at scoring time
        return Calibrator("venn_abers", x=np.round(p_raw, 6).tolist(), y=y.astype(int).tolist(), floor=floor,
                          n=len(y))
    if method == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(p_raw, y)
        return Calibrator("isotonic", x=iso.X_thresholds_.tolist(), y=iso.y_thresholds_.tolist(), floor=floor,
                          n=len(y))
    if method == "sigmoid":
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=1e4).fit(_logit(p_raw).reshape(-1, 1), y)
        return Calibrator("sigmoid", a=float(lr.coef_[0, 0]), b=float(lr.intercept_[0]), floor=floor,
                          n=len(y))
    raise ValueError(f"unknown calibration method {method!r}; known: none, sigmoid, isotonic, venn_abers")


def expected_calibration_error(y, p, bins: int = 10) -> float:
    """Row-weighted mean |observed share − mean probability| over equal-width probability bins."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    if not len(y):
        return float("nan")
    b = np.clip((p * bins).astype(int), 0, bins - 1)
    gap = np.bincount(b, weights=y, minlength=bins) - np.bincount(b, weights=p, minlength=bins)
    return float(np.abs(gap).sum() / len(y))   # Σ_bins n_b·|ȳ_b − p̄_b| / N


@dataclass(frozen=True)
class ConformalSets:
    """Per current-status group: "yes" in the set iff p ≥ p_yes_min, "no" iff p ≤ p_no_max.

    `groups` maps "unlisted" / "listed" / "all" to their thresholds; a row whose current status is
    unknown (or whose group had no calibration rows) uses "all".
    """

    level: float
    groups: dict[str, dict[str, float]]

    def sets(self, p_raw, current_listed=None) -> tuple[np.ndarray, np.ndarray]:
        p_raw = np.asarray(p_raw, float)
        names = _group_names(current_listed, len(p_raw))
        yes_min = np.array([self.groups.get(g, self.groups["all"])["p_yes_min"] for g in names])
        no_max = np.array([self.groups.get(g, self.groups["all"])["p_no_max"] for g in names])
        return p_raw >= yes_min, p_raw <= no_max

    def to_json(self) -> str:
        return json.dumps({"method": "mondrian split conformal on the raw probability, by current status "
                                     "and outcome", "level": self.level, "groups": self.groups},
                          separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> ConformalSets:
        doc = json.loads(text)
        return cls(level=doc["level"], groups=doc["groups"])


def _group_names(current_listed, n: int) -> list[str]:
    if current_listed is None:
        return ["all"] * n
    c = np.asarray(current_listed, float)
    return np.select([c == 1, c == 0], ["listed", "unlisted"], "all").tolist()


def _conformal_quantile(scores: np.ndarray, level: float) -> float:
    """The ⌈(n+1)·level⌉-th smallest score (1.0, i.e. always included, when n is too small)."""
    n = len(scores)
    rank = math.ceil((n + 1) * level)
    return 1.0 if rank > n else float(np.sort(scores)[rank - 1])


def _thresholds(p_raw: np.ndarray, y: np.ndarray, level: float) -> dict[str, float]:
    yes, no = p_raw[y == 1], p_raw[y == 0]
    return {"p_yes_min": 1 - _conformal_quantile(1 - yes, level),   # nonconformity of a positive: 1 − p
            "p_no_max": _conformal_quantile(no, level),             # nonconformity of a negative: p
            "n_yes": int(len(yes)), "n_no": int(len(no))}


def fit_conformal(p_raw, y, level: float, current_listed=None) -> ConformalSets:
    p_raw, y = np.asarray(p_raw, float), np.asarray(y, int)
    groups = {"all": _thresholds(p_raw, y, level)}
    if current_listed is not None:
        names = np.asarray(_group_names(current_listed, len(p_raw)))
        for g in ("unlisted", "listed"):
            m = names == g
            if m.any():
                groups[g] = _thresholds(p_raw[m], y[m], level)
    return ConformalSets(level, groups)


def coverage_table(y, yes_in, no_in) -> dict[str, float]:
    """Empirical coverage overall and per class, and how often the set is a single outcome."""
    y, yes_in, no_in = np.asarray(y, int), np.asarray(yes_in, bool), np.asarray(no_in, bool)
    covered = np.where(y == 1, yes_in, no_in)
    return {"coverage": float(covered.mean()), "coverage_yes": float(covered[y == 1].mean()),
            "coverage_no": float(covered[y == 0].mean()), "singleton_share": float((yes_in ^ no_in).mean()),
            "empty_share": float((~yes_in & ~no_in).mean())}


def set_label(yes_in, no_in) -> np.ndarray:
    """'yes' / 'no' when the set is one outcome, 'either' when it holds both (too close to call)."""
    yes_in, no_in = np.asarray(yes_in, bool), np.asarray(no_in, bool)
    return np.select([yes_in & no_in, yes_in, no_in], ["either", "yes", "no"], "neither")
