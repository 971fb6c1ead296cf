"""Sections 4–6 of the page: the served model's calibration and intervals, which baselines it
beats by the promotion rule, and how much of its |SHAP| sits on missing values."""

from __future__ import annotations

import numpy as np
import pandas as pd

from experiments.results.inputs import ResultsInputs
from experiments.results.markdown import markdown_table, paired_cell, year_span
from experiments.results.models import ERA, GOAL_MISSING_SHAP, MODEL_LABEL, PAIRED, PRODUCT, SHORT, SHOWN
from experiments.results.sentences import Goal, Sentence, sentence
from experiments.results.tables import coverage_cells, missing_shap


def calibration_section(inputs: ResultsInputs) -> list[str]:
    p = inputs.profile
    served = inputs.training(PRODUCT, p["horizon"])
    cal = served.calibration
    candidates = pd.DataFrame(
        [
            {"candidate": m, "development log loss": v, "chosen": "yes" if m == cal["method"] else ""}
            for m, v in cal["candidates_dev_log_loss"].items()
        ]
    )
    eras = [e for e in ("development", "holdout") if e in cal]
    summary = pd.DataFrame(
        [
            {
                "era": e,
                "ECE raw": cal[e]["ece_raw"],
                "ECE calibrated": cal[e]["ece"],
                "log loss raw": cal[e]["log_loss_raw"],
                "log loss calibrated": cal[e]["log_loss"],
                "Venn-Abers width": cal[e]["interval_width"],
            }
            for e in eras
        ]
    )
    coverage = pd.DataFrame([{"era": e, **coverage_cells(cal[e])} for e in eras])
    origins = sorted({int(o) for e in eras for o in cal[e]["set_per_origin"]})
    per_origin = pd.DataFrame(
        [
            {
                "origin": o,
                "era": ERA[o >= p["holdout_first_origin"]],
                "set coverage": next(
                    cal[e]["set_per_origin"].get(str(o), np.nan)
                    for e in eras
                    if str(o) in cal[e]["set_per_origin"]
                ),
            }
            for o in origins
        ]
    )
    rel = inputs.versus_persistence.reliability
    rel = rel[(rel["horizon"] == p["horizon"]) & (rel["model"] == PRODUCT) & (rel["subset"] == "all")]
    bins = []
    for b, g in rel.groupby("bin", sort=True):
        row = {"bin": f"{g['bin_low'].iat[0]:.1f}–{g['bin_high'].iat[0]:.1f}"}
        for holdout in (False, True):
            r = g[g["holdout"] == holdout]
            n = int(r["n"].iat[0]) if len(r) else 0
            row |= {
                f"n ({ERA[holdout]})": n,
                f"mean p ({ERA[holdout]})": float(r["mean_p"].iat[0]) if n else np.nan,
                f"observed ({ERA[holdout]})": float(r["observed"].iat[0]) if n else np.nan,
            }
        if row["n (development)"] or row["n (holdout)"]:
            bins.append(row)
    others = pd.DataFrame(
        [
            {
                "variant": SHORT[t.variant],
                "horizon": t.horizon,
                "calibration": t.calibration["method"],
                "development log loss": t.calibration["candidates_dev_log_loss"].get(
                    t.calibration["method"], np.nan
                ),
                "ECE dev": t.calibration.get("development", {}).get("ece", np.nan),
                "ECE holdout": t.calibration.get("holdout", {}).get("ece", np.nan),
                "set coverage dev": t.calibration.get("development", {})
                .get("set", {})
                .get("coverage", np.nan),
                "set coverage holdout": t.calibration.get("holdout", {})
                .get("set", {})
                .get("coverage", np.nan),
            }
            for t in inputs.trainings
        ]
    )
    return [
        "## 4. Calibration and intervals",
        "",
        f"The served model's calibration is chosen, not assumed (rule `{cal['rule']}`): every candidate is "
        "fitted per origin on earlier origins' out-of-sample forecasts, and the one with the lowest log "
        f"loss on the development origins serves (here **{cal['method']}**). The holdout never enters the "
        "choice.",
        "",
        markdown_table(candidates, floats="{:.4f}"),
        "",
        "Expected calibration error (10 equal-width bins), log loss before and after calibration, and the "
        "mean width of the Venn-Abers interval [p0, p1] that every score carries:",
        "",
        markdown_table(summary, floats="{:.4f}"),
        "",
        f"Conformal sets (Mondrian by current status and outcome, level {cal['conformal_level']:.0%}): the "
        "share of outcomes inside the stated set; onsets and exits are the tier changes (an onset is "
        "covered when 'listed' is in its set).",
        "",
        markdown_table(coverage),
        "",
        "Set coverage per origin:",
        "",
        markdown_table(per_origin),
        "",
        f"Reliability (horizon {p['horizon']}, calibrated product model):",
        "",
        markdown_table(pd.DataFrame(bins)),
        "",
        "Every training's chosen calibration:",
        "",
        markdown_table(others, floats="{:.4f}"),
        "",
    ]


def beats_section(inputs: ResultsInputs) -> tuple[list[str], list[Sentence]]:
    p = inputs.profile
    served = inputs.training(PRODUCT, p["horizon"])
    beats = served.metrics.get("beats", {})
    origins = served.metrics.get("development_origins", [])
    rows, sentences = [], []
    for baseline, entry in beats.items():
        row = {"baseline": MODEL_LABEL.get(baseline, baseline)}
        for metric in (*PAIRED, "brier"):
            m = entry.get(metric)
            if m is None:
                continue
            row[SHOWN[metric]] = paired_cell(m["diff"], m["low"], m["high"])
            if metric in PAIRED:
                sentences.append(
                    sentence(
                        "beats",
                        "development",
                        p["horizon"],
                        PRODUCT,
                        baseline,
                        "all",
                        metric,
                        m["diff"],
                        m["low"],
                        m["high"],
                        k=p["top_k"],
                    )
                )
        row["beats (promotion rule)"] = "yes" if entry.get("beats") else "no"
        rows.append(row)
    won = [SHORT.get(b, b) for b, e in beats.items() if e.get("beats")]
    return [
        "## 5. Which baselines the served model beats",
        "",
        f"The served (product) model minus each baseline on the development origins {year_span(origins)} "
        "(the "
        'model card\'s figures, block bootstrap; the holdout is never read). "Beats" is the promotion rule: '
        f"{SHOWN.get(p['promotion_metric'], p['promotion_metric'])} better by at least "
        f"{p['promotion_margin']:g} with the interval excluding 0.",
        "",
        markdown_table(pd.DataFrame(rows)),
        "",
        *[f"- {s.text}" for s in sentences],
        "",
        f"By that rule the served model beats: {', '.join(won) if won else 'none of the baselines'}.",
        "",
    ], sentences


def missing_section(inputs: ResultsInputs) -> tuple[list[str], Goal]:
    p = inputs.profile
    every = missing_shap(inputs.shap_values, inputs.panel, p["target"], p["horizon"])
    m = missing_shap(inputs.shap_values, inputs.panel, p["target"], p["horizon"], ranked_in=inputs.scores)
    apart = every.rows - m.rows
    latest = inputs.scores[inputs.scores["year"] == m.year]
    reasons = latest["not_ranked"].fillna("").value_counts()
    why = "; ".join(f"{n} {reason}" for reason, n in reasons.items() if reason) or "none"
    goal = Goal(
        f"at most {GOAL_MISSING_SHAP:.0%} of the latest scored year's mean |SHAP| on missing values",
        "met" if m.share <= GOAL_MISSING_SHAP else "not met",
        f"{m.share:.1%} of |SHAP| over the {m.rows} ranked country-years of {m.year} ({every.share:.1%} with the "
        f"{apart} listed apart); {len(m.flagged)} of {m.rows} with a missing value among their top-3 drivers",
        {"share": m.share, "flagged": float(len(m.flagged)), "rows": float(m.rows),
         "share_every_row": every.share},
    )
    shown = ", ".join(m.flagged[:20]) + (f" and {len(m.flagged) - 20} more" if len(m.flagged) > 20 else "")
    shown_every = ", ".join(every.flagged[:20]) + (f" and {len(every.flagged) - 20} more"
                                                   if len(every.flagged) > 20 else "")
    return [
        "## 6. Missing values in the latest scored year",
        "",
        f"In {m.year} the served model ranks {m.rows} country-years; on them **{m.share:.1%}** of the total "
        f"|SHAP| falls on feature values that are missing in the panel (goal ≤ {GOAL_MISSING_SHAP:.0%}: "
        f"{goal.status}). {len(m.flagged)} {'country has' if len(m.flagged) == 1 else 'countries have'} a "
        f"missing value among {'its' if len(m.flagged) == 1 else 'their'} top-3 drivers"
        + (f": {shown}." if m.flagged else "."),
        "",
        f"The other {apart} country-years of {m.year} are scored but listed apart as insufficient data, never "
        f"ranked or banded (`scores.csv` column `not_ranked` says why: {why}). A government the TIP report does "
        "not rank has no current placement, which the model reads, and the backtest never measured a score "
        f"without one. Counting them too, {every.share:.1%} of |SHAP| is on missing values "
        f"and {len(every.flagged)} countries have one among their top-3 drivers"
        + (f" ({shown_every})." if every.flagged else "."),
        "",
        "The features whose missing values carry the most |SHAP| (share of the year's total):",
        "",
        markdown_table(m.by_feature.head(12), floats="{:.4f}"),
        "",
    ], goal
