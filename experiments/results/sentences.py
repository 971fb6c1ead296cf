"""Every sentence that states a direction, and every goal's verdict, generated from the numbers
they state (never written by hand), and returned with those numbers so a test can check them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from experiments.results.markdown import signed_diff
from experiments.results.models import ERA, GOAL_TOP_K_SHARE, PAIRED, PRODUCT, SHORT, SHOWN, SUBSET_METRIC
from experiments.results.view import EvaluationView
from training.metrics import HIGHER_IS_BETTER


def direction(diff: float, low: float, high: float, higher_is_better: bool) -> str:
    """How a paired difference (model − other, with its interval) reads for the model."""
    if not all(np.isfinite(v) for v in (diff, low, high)):
        return "not measured"
    sign = 1.0 if higher_is_better else -1.0
    lo, hi = sorted((sign * low, sign * high))
    if lo > 0:
        return "better, interval excludes 0"
    if hi < 0:
        return "worse, interval excludes 0"
    return "no clear difference"


@dataclass(frozen=True)
class Sentence:
    """One generated reading of a paired difference, with the numbers it was generated from."""

    text: str
    table: str  # the paired table: "persistence" (model − persistence), "product", or "beats"
    era: str  # "holdout" or "development"
    horizon: int
    model: str
    versus: str
    subset: str
    metric: str
    diff: float
    low: float
    high: float
    verdict: str


@dataclass(frozen=True)
class Goal:
    """An issue's goal, its status (met / partly met / not met / not measured) and the numbers behind it."""

    goal: str
    status: str
    detail: str
    numbers: Mapping[str, float] = field(default_factory=dict)


def sentence(
    table: str,
    era: str,
    horizon: int,
    model: str,
    versus: str,
    subset: str,
    metric: str,
    diff: float,
    low: float,
    high: float,
    k: int,
) -> Sentence:
    higher = bool(HIGHER_IS_BETTER[metric])
    verdict = direction(diff, low, high, higher)
    label = SUBSET_METRIC.get((subset, metric), metric).replace("top k", f"top {k}")
    a, b = SHORT.get(model, model), SHORT.get(versus, versus)
    count = metric == "top_k_caught"
    text = (
        f"{a} vs {b}, {label}: {verdict} ({a} − {b} = {signed_diff(diff, count)} [{signed_diff(low, count)}, "
        f"{signed_diff(high, count)}]; {'higher' if higher else 'lower'} is better)."
    )
    return Sentence(
        text,
        table,
        era,
        horizon,
        model,
        versus,
        subset,
        metric,
        float(diff),
        float(low),
        float(high),
        verdict,
    )


def sentences_versus(
    view: EvaluationView,
    table: str,
    h: int,
    holdout: bool,
    models: Sequence[str],
    versus: str,
    metrics: Sequence[tuple[str, str]],
) -> list[Sentence]:
    out = []
    have = set(view.models.get((h, holdout), []))
    for model in models:
        if model not in have or versus not in have:
            continue
        for subset, metric in metrics:
            d = view.diff(table, h, holdout, model, subset, metric)
            out.append(sentence(table, ERA[holdout], h, model, versus, subset, metric, *d, k=view.k))
    return out


def beats_goal(view: EvaluationView, goal: str, h: int, holdout: bool, model: str) -> Goal:
    if model not in view.models.get((h, holdout), []):
        return Goal(goal, "not measured", f"{SHORT[model]} was not trained at horizon {h}")
    verdicts, numbers = {}, {}
    for metric in PAIRED:
        d, lo, hi = view.diff("persistence", h, holdout, model, "all", metric)
        verdicts[metric] = direction(d, lo, hi, bool(HIGHER_IS_BETTER[metric]))
        numbers |= {f"{metric}_diff": d, f"{metric}_low": lo, f"{metric}_high": hi}
    better = [SHOWN[m] for m, v in verdicts.items() if v.startswith("better")]
    status = "met" if len(better) == len(PAIRED) else "partly met" if better else "not met"
    detail = "; ".join(f"{SHOWN[m]} {v}" for m, v in verdicts.items())
    return Goal(
        goal,
        status,
        f"{len(better)} of {len(PAIRED)} metrics better with the interval excluding 0 ({detail})",
        numbers,
    )


def top_k_goal(view: EvaluationView, h: int) -> Goal:
    goal = (
        f"at least {GOAL_TOP_K_SHARE:.0%} of the holdout's onsets in the top {view.k} of unlisted countries"
    )
    caught = view.get(h, True, PRODUCT, "onset", "top_k_caught")[0]
    _, onsets = view.events(h, True, "onset")
    if not onsets or not np.isfinite(caught):
        return Goal(goal, "not measured", "no onsets on the holdout")
    share = caught / onsets
    return Goal(
        goal,
        "met" if share >= GOAL_TOP_K_SHARE else "not met",
        f"{caught:.0f} of {onsets} onsets caught ({share:.0%})",
        {"caught": float(caught), "onsets": float(onsets), "share": float(share)},
    )
