"""The page's closing sections: the set-up, coverage per country-year, the top SHAP drivers with
the highest scores, and each source's lineage."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from experiments.results.inputs import ResultsInputs
from experiments.results.markdown import markdown_table, year_span
from experiments.results.models import PRODUCT
from experiments.results.view import EvaluationView, origins_text


def setup_section(inputs: ResultsInputs, view: EvaluationView) -> list[str]:
    p = inputs.profile
    panel = inputs.panel
    labelled = panel[panel["label_evidence"].notna()]
    sources = sorted({info["source"] for info in inputs.catalog.values() if info["family"] != "label"})
    eras = [
        f"horizon {h}: development {origins_text(view, h, False)}; holdout {origins_text(view, h, True)}"
        for h in p["horizons"]
        if (h, False) in view.origins
    ]
    served = inputs.training(PRODUCT, p["horizon"])
    return [
        "## Set-up",
        "",
        f"- Panel: {panel['iso3'].nunique()} countries and territories, years {p['years']}; {len(labelled)} "
        f"country-years with a label (report years {year_span(labelled['year'].unique())}).",
        f"- Sources ({len(sources)}): {', '.join(sources)}. Label: {p['label_source']}.",
        "- Backtest: rolling origin. At origin T every model is fitted on rows whose report t + h was "
        f"public by T and forecasts the rows of year T; {'; '.join(eras)}. The holdout is reported once and "
        "never read by tuning, promotion, comparison or any default choice.",
        f"- Product model: {p['n_members']} XGBoost boosters with different seeds averaged on the margin, "
        f"{len(served.metrics.get('features_served', []))} features served (a feature is used at an origin "
        f"only if at least {p['min_feature_coverage']:.0%} of that year's rows have it); proxy-only drops "
        "the current and previous placement; independent also drops every source sharing lineage with the "
        f"label or the corruption index ({', '.join(inputs.dependent) or 'none'}).",
        f"- Intervals: {p['level']:.0%} percentile intervals of a block bootstrap ({p['n_resamples']} "
        "resamples) drawing countries and origins together; differences are paired on identical rows.",
        "",
    ]


def coverage_section(coverage: pd.DataFrame, panel: pd.DataFrame) -> list[str]:
    by_year = coverage.groupby("year")["coverage"].agg(["mean", "min", "median"]).reset_index()
    by_year["countries"] = coverage.groupby("year").size().to_numpy()
    by_year["labelled"] = (
        panel.groupby("year")["label_evidence"]
        .count()
        .reindex(by_year["year"])
        .fillna(0)
        .astype(int)
        .to_numpy()
    )
    sources = [c for c in coverage.columns if c not in ("iso3", "year", "coverage")]
    by_source = coverage.groupby("year")[sources].mean().T
    by_source = by_source[[y for y in by_source.columns if y % 4 == 0 or y == by_source.columns.max()]]
    by_source.columns = [str(c) for c in by_source.columns]
    by_source = by_source.reset_index(names="source")
    lowest = coverage.groupby("iso3")["coverage"].mean().sort_values(kind="stable").head(10).reset_index()
    return [
        "## Coverage per country-year",
        "",
        "`coverage` is the share of the declared feature columns observed for a country-year (flags such as "
        "the corruption index's method break and censored victim counts are declared columns too, so they "
        'are visible). Text the publishers use for "missing" ("..", "~", "<5" counts) is counted as not '
        "observed, never coerced to a number. The full table, with one column per source, is in "
        "`results_coverage.csv` beside this page.",
        "",
        markdown_table(
            by_year.rename(columns={"mean": "mean coverage", "min": "lowest", "median": "median"})
        ),
        "",
        "Share of each source's columns observed, by year:",
        "",
        markdown_table(by_source, floats="{:.2f}"),
        "",
        "Lowest mean coverage:",
        "",
        markdown_table(lowest.rename(columns={"coverage": "mean coverage"})),
        "",
    ]


def drivers_section(inputs: ResultsInputs) -> list[str]:
    from training.targets import PLACEMENT_FEATURES

    shap_values, catalog = inputs.shap_values, inputs.catalog
    latest = int(shap_values["year"].max())
    rows = shap_values[shap_values["year"] == latest]
    features = [c for c in shap_values.columns if c not in ("iso3", "year", "base_value")]
    strength = rows[features].abs().mean()
    family = {
        f: "current placement" if f in PLACEMENT_FEATURES else catalog.get(f, {}).get("family", "other")
        for f in features
    }
    total = float(strength.sum())
    families = (
        pd.DataFrame({"family": [family[f] for f in features], "mean |SHAP|": strength.to_numpy()})
        .groupby("family")["mean |SHAP|"]
        .sum()
        .sort_values(ascending=False, kind="stable")
        .reset_index()
    )
    families["share"] = families["mean |SHAP|"] / total if total > 0 else np.nan
    placement = [f for f in features if family[f] == "current placement"]
    signals = strength[[f for f in features if f not in placement]].sort_values(
        ascending=False, kind="stable"
    )

    def table(names):
        return pd.DataFrame(
            [
                {
                    "feature": n,
                    "source": catalog.get(n, {}).get("source", "placement"),
                    "mean |SHAP|": float(strength[n]),
                    "what it measures": catalog.get(n, {}).get("description", ""),
                }
                for n in names
            ]
        )

    h = int(inputs.profile["horizon"])
    scores = inputs.scores[inputs.scores["year"] == latest].sort_values(
        ["probability", "iso3"], ascending=[False, True], kind="stable"
    )
    top = scores.head(15).assign(
        interval=[
            f"[{lo:.3f}, {hi:.3f}]"
            for lo, hi in zip(
                scores.head(15)["probability_low"], scores.head(15)["probability_high"], strict=True
            )
        ]
    )
    top = top[["iso3", "country", "probability", "interval", "band", "conformal_set", "coverage"]]
    out = [
        f"## Top SHAP drivers (served model, the {latest} rows)",
        "",
        "Mean absolute SHAP value in log-odds: how far, on average, a feature moves a score. Large values "
        "mean the model leans on the feature, not that the feature causes a placement. The current "
        "placement is its own family, shown apart, so the proxy signals' part of each score is visible "
        'beside "same as now".',
        "",
        markdown_table(families, floats="{:.3f}"),
        "",
    ]
    if placement:
        out += ["Current placement:", "", markdown_table(table(placement)), ""]
    out += [
        "Proxy signals (top 15):",
        "",
        markdown_table(table(list(signals.index[:15]))),
        "",
        f"## Highest scores for {latest} (report of {latest + h})",
        "",
        "A review list, not a finding (see what the label measures). Interval: Venn-Abers [p0, p1]; set: the "
        'conformal set ("either" = too close to call at its level).',
        "",
        markdown_table(top),
        "",
    ]
    return out


def lineage_section(catalog: Mapping[str, Mapping], dependent: list[str], label_source: str) -> list[str]:
    from features.lineage import dependence

    rows = {}
    for info in catalog.values():
        if info["family"] == "label" or info["source"] in rows:
            continue
        reason = dependence(info["source"], label_source) if info["source"] in dependent else ""
        rows[info["source"]] = {
            "source": info["source"],
            "publisher": info["publisher"],
            "lag (years)": info["lag_years"],
            "built from (declared)": ", ".join(info["lineage"]) or "—",
            "independent": f"no: {reason}" if reason else "yes",
        }
    table = pd.DataFrame(sorted(rows.values(), key=lambda r: r["source"]))
    return ["## Lineage", "", markdown_table(table), ""]
