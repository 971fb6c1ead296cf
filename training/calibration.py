"""Probability calibration, calibration error and conformal prediction sets.

All three are fitted on out-of-sample forecasts whose outcomes were known at the origin
(earlier origins of the same backtest), never on the rows a model was fitted to: in-sample
probabilities of boosted trees are overconfident, and re-fitting a model per fold to get
held-out forecasts would double the backtest's cost.

The conformal sets are Mondrian (class-conditional) split-conformal sets over the binary
outcome: "yes" is in the set when the raw probability is at least `p_yes_min`, "no" when
it is at most `p_no_max`. Each class keeps its own coverage guarantee, so the rarer
positive class is not sacrificed to reach the overall target.
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
        else:
            return p_raw
        return np.clip(p, self.floor, 1 - self.floor)

    def to_json(self) -> str:
        doc = {k: v for k, v in asdict(self).items() if v not in ([], None)}
        for key in ("x", "y"):
            if key in doc:
                doc[key] = [round(v, 5) for v in doc[key]]
        return json.dumps(doc, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Calibrator:
        return cls(**json.loads(text))


IDENTITY = Calibrator("none")


def fit_calibrator(p_raw, y, method: str) -> Calibrator:
    """Fit `method` on (raw probability, outcome) pairs; identity when there is nothing to learn from."""
    p_raw, y = np.asarray(p_raw, float), np.asarray(y, float)
    if method == "none" or len(np.unique(y)) < 2:
        return IDENTITY
    floor = max(EPS, 0.5 / len(y))
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
    raise ValueError(f"unknown calibration method {method!r}; known: isotonic, sigmoid, none")


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
    """Thresholds on the raw probability: "yes" in the set iff p ≥ p_yes_min, "no" iff p ≤ p_no_max."""

    level: float
    p_yes_min: float
    p_no_max: float
    n_yes: int
    n_no: int

    def sets(self, p_raw) -> tuple[np.ndarray, np.ndarray]:
        p_raw = np.asarray(p_raw, float)
        return p_raw >= self.p_yes_min, p_raw <= self.p_no_max

    def to_json(self) -> str:
        return json.dumps({"method": "mondrian split conformal on the raw probability", **asdict(self)},
                          separators=(",", ":"))


def _conformal_quantile(scores: np.ndarray, level: float) -> float:
    """The ⌈(n+1)·level⌉-th smallest score (1.0, i.e. always included, when n is too small)."""
    n = len(scores)
    rank = math.ceil((n + 1) * level)
    return 1.0 if rank > n else float(np.sort(scores)[rank - 1])


def fit_conformal(p_raw, y, level: float) -> ConformalSets:
    p_raw, y = np.asarray(p_raw, float), np.asarray(y, int)
    yes, no = p_raw[y == 1], p_raw[y == 0]
    q_yes = _conformal_quantile(1 - yes, level)   # nonconformity of a positive: 1 − p
    q_no = _conformal_quantile(no, level)         # nonconformity of a negative: p
    return ConformalSets(level, p_yes_min=1 - q_yes, p_no_max=q_no, n_yes=len(yes), n_no=len(no))


def coverage_table(y, yes_in, no_in) -> dict[str, float]:
    """Empirical coverage overall and per class, and how often the set is a single outcome."""
    y, yes_in, no_in = np.asarray(y, int), np.asarray(yes_in, bool), np.asarray(no_in, bool)
    covered = np.where(y == 1, yes_in, no_in)
    return {"coverage": float(covered.mean()), "coverage_yes": float(covered[y == 1].mean()),
            "coverage_no": float(covered[y == 0].mean()), "singleton_share": float((yes_in ^ no_in).mean()),
            "empty_share": float((~yes_in & ~no_in).mean())}


def from_version_tags(tags) -> tuple[Calibrator | None, ConformalSets | None]:
    """The calibrator and conformal thresholds a registered version carries (None where absent).

    For scoring: `p_raw` is the booster's probability (sigmoid of the SHAP margin);
    `calibrator.apply(p_raw)` is the calibrated probability and `conformal.sets(p_raw)` the
    (yes ∈ set, no ∈ set) flags at `conformal.level`; see `set_label`.
    """
    cal = tags.get("nexus.calibration")
    conf = tags.get("nexus.conformal")
    conformal = None
    if conf:
        doc = json.loads(conf)
        conformal = ConformalSets(**{k: doc[k] for k in ("level", "p_yes_min", "p_no_max", "n_yes", "n_no")})
    return (Calibrator.from_json(cal) if cal else None), conformal


def set_label(yes_in, no_in) -> np.ndarray:
    """'yes' / 'no' when the set is one outcome, 'either' when it holds both (too close to call)."""
    yes_in, no_in = np.asarray(yes_in, bool), np.asarray(no_in, bool)
    return np.select([yes_in & no_in, yes_in, no_in], ["either", "yes", "no"], "neither")
