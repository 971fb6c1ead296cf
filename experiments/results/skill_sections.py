"""Sections 1–3 of the page: skill on the holdout and on the development origins (pooled, paired
against persistence, tier changes), then every horizon side by side."""

from __future__ import annotations

import numpy as np
import pandas as pd

from experiments.results.inputs import ResultsInputs
from experiments.results.markdown import markdown_table, with_interval, year_span
from experiments.results.models import (
    ERA,
    INDEPENDENT,
    MODEL_LABEL,
    PAIRED,
    PERSISTENCE,
    PRODUCT,
    PROXY_ONLY,
    SHORT,
)
from experiments.results.sentences import Sentence, sentences_versus
from experiments.results.tables import change_table, paired_table, per_origin_table, skill_table
from experiments.results.view import EvaluationView, origins_text


def era_section(
    inputs: ResultsInputs, view: EvaluationView, holdout: bool
) -> tuple[list[str], list[Sentence]]:
    p = inputs.profile
    h = p["horizon"]
    origins = view.origins.get((h, holdout), [])
    if not origins:
        return [f"No {ERA[holdout]} origins at horizon {h}.", ""], []
    (onset_rows, onsets), (exit_rows, exits) = (
        view.events(h, holdout, "onset"),
        view.events(h, holdout, "exit"),
    )
    neither, _ = view.events(h, holdout, "neither")
    sentences = sentences_versus(
        view,
        "persistence",
        h,
        holdout,
        (PRODUCT, PROXY_ONLY, INDEPENDENT),
        PERSISTENCE,
        [("all", m) for m in PAIRED],
    )
    sentences += sentences_versus(
        view,
        "persistence",
        h,
        holdout,
        (PRODUCT,),
        PERSISTENCE,
        [("onset", "auc"), ("exit", "auc"), ("onset", "top_k_caught")],
    )
    lines = [
        f"Horizon {h}: {origins_text(view, h, holdout)}; {view.rows[(h, holdout)]} country-years "
        f"({onset_rows} unlisted with {onsets} onsets, {exit_rows} listed with {exits} exits, {neither} "
        "whose current status is unknown).",
        "",
        f"Skill, pooled over the origins ({p['level']:.0%} block-bootstrap intervals over countries and "
        "origins; lower log loss and Brier are better, higher AP and AUC):",
        "",
        markdown_table(skill_table(view, h, holdout)),
        "",
        "Each model minus persistence on the same country-years, paired under the same resamples (an "
        "interval that excludes 0 is a difference the bootstrap supports):",
        "",
        markdown_table(paired_table(view, h, holdout)),
        "",
        *[f"- {s.text}" for s in sentences],
        "",
        f"Tier changes: onsets caught in the top {view.k} of each origin's unlisted countries (against a "
        f"random list of {view.k}), onset and exit AUC, and the alarm budget at the elevated band (p ≥ "
        f"{p['elevated']:g}): the share of onsets above it and how many unlisted country-years it alarms.",
        "",
        markdown_table(change_table(view, h, holdout)),
        "",
    ]
    return lines, sentences


REFERENCES = """Beside the field's numbers (EVIDENCE.md; none of these forecasts TIP tiers, which nobody has
published): tier history alone ranks Watch List / Tier 3 onsets at AUC 0.64–0.66; the Early Warning Project's
mass-killing back-test catches 27 of 39 onsets (69%) in its top 30, at AUC 0.825; V-Dem's
democratic-spaces forecasts reach AUC 0.82–0.91 two years ahead, and a V-Dem regime-transition
ensemble drops from AUC 0.93 in cross-validation to 0.84 on later years. Tiers are partly political
(Kelley, *Scorecard Diplomacy*): expect a ceiling on what public proxies can predict."""


def horizon_section(inputs: ResultsInputs, view: EvaluationView) -> tuple[list[str], list[Sentence]]:
    rows, sentences = [], []
    for h in inputs.profile["horizons"]:
        for holdout in (True, False):
            for model in view.present(h, holdout, (PRODUCT, PROXY_ONLY, INDEPENDENT, PERSISTENCE)):
                caught = view.get(h, holdout, model, "onset", "top_k_caught")[0]
                _, onsets = view.events(h, holdout, "onset")
                rows.append(
                    {
                        "horizon": h,
                        "era": ERA[holdout],
                        "origins": year_span(view.origins[(h, holdout)]),
                        "model": MODEL_LABEL[model],
                        "log loss": with_interval(*view.get(h, holdout, model, "all", "log_loss")),
                        "AUC": with_interval(*view.get(h, holdout, model, "all", "auc")),
                        "onset AUC": with_interval(*view.get(h, holdout, model, "onset", "auc")),
                        f"onsets in top {view.k}": f"{caught:.0f} / {onsets}" if np.isfinite(caught) else "–",
                    }
                )
            sentences += sentences_versus(
                view,
                "persistence",
                h,
                holdout,
                (PRODUCT, PROXY_ONLY, INDEPENDENT),
                PERSISTENCE,
                [("all", "log_loss"), ("all", "auc")],
            )
    trans = view.transitions.groupby(["horizon", "holdout", "subset"])[["rows", "events"]].sum()
    counts = []
    for h in inputs.profile["horizons"]:
        for holdout in (True, False):
            if (h, holdout) not in view.origins:
                continue
            c = {
                s: trans.loc[(h, holdout, s)] if (h, holdout, s) in trans.index else None
                for s in ("onset", "exit", "neither")
            }
            counts.append(
                {
                    "horizon": h,
                    "era": ERA[holdout],
                    "origins": year_span(view.origins[(h, holdout)]),
                    "unlisted rows": int(c["onset"]["rows"]) if c["onset"] is not None else 0,
                    "onsets": int(c["onset"]["events"]) if c["onset"] is not None else 0,
                    "listed rows": int(c["exit"]["rows"]) if c["exit"] is not None else 0,
                    "exits": int(c["exit"]["events"]) if c["exit"] is not None else 0,
                    "status unknown": int(c["neither"]["rows"]) if c["neither"] is not None else 0,
                }
            )
    trained = {}
    for t in inputs.trainings:
        trained.setdefault(t.variant, []).append(t.horizon)
    partial = [
        v
        for v in (PROXY_ONLY, INDEPENDENT)
        if v in trained and sorted(trained[v]) != sorted(inputs.profile["horizons"])
    ]
    lines = [
        "## 3. Transitions and horizons",
        "",
        "A row t forecasts the report of t + h. Tier changes among the candidates of each era and horizon:",
        "",
        markdown_table(pd.DataFrame(counts)),
        "",
        "Product, proxy-only, independent and persistence side by side at every horizon (the holdout of "
        "horizon h ends h − 1 origins earlier, since its last report must exist):",
        "",
        markdown_table(pd.DataFrame(rows)),
        "",
        *[f"- horizon {s.horizon}, {s.era}: {s.text}" for s in sentences],
        "",
    ]
    lines += [
        f"The {SHORT[v]} variant is trained at horizon{'s' if len(trained[v]) > 1 else ''} "
        f"{', '.join(map(str, sorted(trained[v])))} only (time)."
        for v in partial
    ]
    lines += [""] if partial else []
    per_origin = per_origin_table(inputs, view)
    if not per_origin.empty:
        lines += [
            f"Per origin at horizon {inputs.profile['horizon']} (AUC; onsets caught in the top {view.k} by "
            "the product model):",
            "",
            markdown_table(per_origin),
            "",
        ]
    return lines, sentences
