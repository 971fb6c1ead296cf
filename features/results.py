"""The results page (docs/results.md): backtest skill, coverage, drivers, and what the label measures.

Pure rendering over tables the CLI gathers (the training, scoring and bootstrap code lives in
later stages, which this package must not import). The page depends only on its inputs'
content, never on dates or registry version numbers, so regenerating it from unchanged
inputs gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

SHOWN = {"auc": "AUC", "average_precision": "average precision", "brier": "Brier"}
MODEL_ORDER = ["xgboost", "persistence", "cpi_logistic", "base_rate"]
MODEL_LABEL = {
    "xgboost": "XGBoost",
    "persistence": "persistence (last tier)",
    "base_rate": "base rate",
    "cpi_logistic": "corruption index only (logistic)",
}


@dataclass
class ResultsInputs:
    """Everything the page shows; `variants` maps a variant name to its pooled metrics (metrics.json)."""

    profile: Mapping[str, object]
    variants: Mapping[str, Mapping[str, Mapping[str, Mapping[str, float]]]]
    per_origin: pd.DataFrame  # variant, model, origin, n, positives, metric, value, low, high
    panel: pd.DataFrame
    catalog: Mapping[str, Mapping]
    dependent: list[str]
    shap_values: pd.DataFrame  # iso3, year, base_value, one column per feature
    scores: pd.DataFrame  # iso3, country, year, probability, band, coverage
    provenance: Mapping[str, str] = field(default_factory=dict)
    paired: pd.DataFrame | None = None  # versus, metric, value, low, high of XGBoost minus `versus`


def coverage_table(panel: pd.DataFrame, catalog: Mapping[str, Mapping]) -> pd.DataFrame:
    """Per country-year: the panel's coverage and, per source, the share of its declared columns observed."""
    base = {c: info for c, info in catalog.items() if info["family"] != "label" and info["extra_lag"] == 0}
    out = panel[["iso3", "year", "coverage"]].copy()
    for source in sorted({info["source"] for info in base.values()}):
        cols = [c for c, info in base.items() if info["source"] == source]
        out[source] = panel[cols].notna().mean(axis=1).round(3)
    out["coverage"] = out["coverage"].round(3)
    return out.sort_values(["iso3", "year"]).reset_index(drop=True)


def shap_drivers(shap_values: pd.DataFrame, catalog: Mapping[str, Mapping], top: int = 15) -> pd.DataFrame:
    """Mean |SHAP| per feature (log-odds) over the rows given, with its source and direction."""
    features = [c for c in shap_values.columns if c not in ("iso3", "year", "base_value")]
    strength = shap_values[features].abs().mean().sort_values(ascending=False)
    rows = []
    for name, value in strength.head(top).items():
        info = catalog.get(name, {})
        rows.append(
            {
                "feature": name,
                "source": info.get("source", "?"),
                "mean abs SHAP": value,
                "what it measures": info.get("description", ""),
            }
        )
    return pd.DataFrame(rows)


def _md(frame: pd.DataFrame, floats: str = "{:.3f}") -> str:
    """A DataFrame as a GitHub markdown table (no tabulate dependency)."""
    cols = list(frame.columns)
    lines = ["| " + " | ".join(str(c) for c in cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in frame.itertuples(index=False):
        cells = [
            floats.format(v)
            if isinstance(v, float | np.floating) and not np.isnan(v)
            else ("–" if isinstance(v, float | np.floating) else str(v))
            for v in row
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _ci(m: Mapping[str, float]) -> str:
    return f"{m['value']:.3f} [{m['low']:.3f}, {m['high']:.3f}]"


def pooled_rows(variants: Mapping[str, Mapping]) -> pd.DataFrame:
    """One row per (variant, model): AUC, average precision and Brier with intervals."""
    rows = []
    for variant, pooled in variants.items():
        models = [m for m in MODEL_ORDER if m in pooled] + [m for m in pooled if m not in MODEL_ORDER]
        for model in models:
            if variant != "all sources" and model != "xgboost":
                continue  # baselines do not read the dropped features: their numbers are the same
            rows.append(
                {
                    "features": variant,
                    "model": MODEL_LABEL.get(model, model),
                    **{label: _ci(pooled[model][m]) for m, label in SHOWN.items()},
                }
            )
    return pd.DataFrame(rows)


def per_origin_rows(per_origin: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Origins as rows, models as columns: value [low, high] of one metric."""
    view = per_origin[per_origin["metric"] == metric].copy()
    view["cell"] = [
        f"{v:.3f} [{lo:.3f}, {hi:.3f}]"
        for v, lo, hi in zip(view["value"], view["low"], view["high"], strict=True)
    ]
    view["column"] = [
        MODEL_LABEL.get(m, m) + (" (independent)" if v != "all sources" else "")
        for v, m in zip(view["variant"], view["model"], strict=True)
    ]
    counts = view.groupby("origin")[["n", "positives"]].first()
    table = view.pivot(index="origin", columns="column", values="cell")
    order = [MODEL_LABEL[m] for m in MODEL_ORDER if MODEL_LABEL[m] in table] + [
        c for c in table.columns if c not in MODEL_LABEL.values()
    ]
    table = counts.join(table[order]).reset_index()
    table["n"] = table["n"].astype(int)
    table["positives"] = table["positives"].astype(int)
    return table


HEAD = """# Results on the real data

Generated by `{command}` from the publishers' files described in
`../shared/data/SOURCES.md`. Regenerating it from unchanged files and params gives this page
byte for byte; the inputs are named by content hash at the end.

## What the label measures, and what that means for the scores

The label is the US State Department's tier placement in its annual *Trafficking in Persons
Report*. A tier grades a **government's effort** against trafficking, judged by the US
government against US minimum standards (prosecution, protection, prevention); it is **not a
measure of how much trafficking or corruption there is**. Placements are also political:
research on the report (Kelley, *Scorecard Diplomacy*, 2017, whose data give the 2001–2015
tiers here) documents that relations with the United States and diplomatic pressure shape
them, and the Watch List has its own rules (time limits, automatic downgrades). Tiers change
slowly, which is why the persistence baseline is hard to beat.

So a score is the estimated probability that the **next report** places the country on the
**Tier 2 Watch List or Tier 3** ({target}, horizon {horizon} year), given the public signals
known by the end of the scoring year. Read a high score as "countries with signals like these
were often judged this way", a prompt for review, never as evidence of trafficking or of a
government's complicity. Countries the State Department does not rank, or ranks as special
cases, have no label; their scores are extrapolations.

## Set-up

- Panel: {countries} countries and territories, years {years}; {labelled} country-years with a
  tier placement ({first_label}–{last_label}; report years with only the Watch List and Tier 3
  transcribed are left out, see tier_placements).
- Backtest: rolling origin, origins {origins}: for origin T the models are fitted on rows whose
  outcome year t + {horizon} ≤ T and forecast the rows of year T, whose tiers appear in
  T + {horizon}. Every origin's outcome is a published tier. Intervals are {level:.0%} percentile
  intervals of a bootstrap over countries ({n_resamples} resamples), so a country's years move
  together.
- Sources ({n_sources}): {sources}. Label: {label_source}.
- Independent sources only: drops every source that is the label's or the corruption index's
  source, is built from either, or shares an input with either (features/lineage.py):
  {dependent}.

## Pooled backtest

{pooled}

Higher AUC and average precision are better; lower Brier is better. The baselines read only
the label history or the corruption index, so the independent variant shares their rows and
numbers.
{paired}"""


def render(inputs: ResultsInputs) -> str:
    """The whole page as markdown."""
    p = inputs.profile
    labelled = inputs.panel.dropna(subset=["label_tier"])
    sources = sorted({info["source"] for info in inputs.catalog.values() if info["family"] != "label"})
    parts = [HEAD.format(**p, countries=inputs.panel["iso3"].nunique(), labelled=len(labelled),
                         first_label=labelled["year"].min(), last_label=labelled["year"].max(),
                         n_sources=len(sources), sources=", ".join(sources),
                         dependent=", ".join(sorted(inputs.dependent)) or "none",
                         pooled=_md(pooled_rows(inputs.variants)), paired=_paired_section(inputs.paired))]
    for metric, label in SHOWN.items():
        parts += [f"## Per origin: {label}", "", _md(per_origin_rows(inputs.per_origin, metric)), ""]
    parts += _coverage_section(coverage_table(inputs.panel, inputs.catalog), inputs.panel)
    parts += _drivers_section(inputs, int(inputs.scores["year"].max()))
    parts += _lineage_section(inputs.catalog, inputs.dependent, str(p["label_source"]))
    parts += [CAVEATS]
    parts += ["## Inputs", ""] + [f"- {k}: `{v}`" for k, v in sorted(inputs.provenance.items())] + [""]
    return "\n".join(parts)


def _paired_section(paired: pd.DataFrame | None) -> str:
    """XGBoost minus each alternative on the same rows, with a country-bootstrap interval."""
    if paired is None or paired.empty:
        return ""
    view = paired.assign(cell=[f"{v:+.3f} [{lo:+.3f}, {hi:+.3f}]" for v, lo, hi in
                               zip(paired["value"], paired["low"], paired["high"], strict=True)])
    table = view.pivot(index="versus", columns="metric", values="cell")[list(SHOWN)].rename(columns=SHOWN)
    table.index = [MODEL_LABEL.get(v, v) for v in table.index]
    reading = []
    for versus, g in paired[paired["metric"] == "auc"].groupby("versus", sort=True):
        r = g.iloc[0]
        verdict = ("ranks better than" if r["low"] > 0 else "ranks worse than" if r["high"] < 0
                   else "is not distinguishable from")
        reading.append(f"- By AUC, XGBoost on all sources {verdict} {MODEL_LABEL.get(versus, versus)}.")
    return ("\nXGBoost (all sources) minus each alternative, on the same country-years (an interval that "
            "excludes 0 is a\ndifference the country bootstrap supports; for Brier, negative favours "
            "XGBoost):\n\n" + _md(table.reset_index(names="XGBoost minus")) + "\n\n"
            + "\n".join(reading) + "\n")


def _coverage_section(coverage: pd.DataFrame, panel: pd.DataFrame) -> list[str]:
    by_year = coverage.groupby("year")["coverage"].agg(["mean", "min", "median"]).reset_index()
    by_year["countries"] = coverage.groupby("year").size().to_numpy()
    by_year["labelled"] = (
        panel.groupby("year")["label_tier"].count().reindex(by_year["year"]).fillna(0).astype(int).to_numpy()
    )
    sources = [c for c in coverage.columns if c not in ("iso3", "year", "coverage")]
    by_source = coverage.groupby("year")[sources].mean().T
    by_source = by_source[[y for y in by_source.columns if y % 4 == 0 or y == by_source.columns.max()]]
    by_source.columns = [str(c) for c in by_source.columns]
    by_source = by_source.reset_index(names="source")
    lowest = coverage.groupby("iso3")["coverage"].mean().sort_values().head(10).reset_index()
    return [
        "## Coverage per country-year",
        "",
        "`coverage` is the share of the declared feature columns observed for a country-year (flags such as "
        "the corruption index's method break, interpolated migrant stock and censored victim counts are "
        'declared columns too, so they are visible). Text the publishers use for "missing" ("..", "~", '
        '"<5" counts) is counted as not observed, never coerced to a number. The full table, with one column '
        "per source, is in `results_coverage.csv` beside this page.",
        "",
        "By year (all countries and territories in the panel):",
        "",
        _md(by_year.rename(columns={"mean": "mean coverage", "min": "lowest", "median": "median"})),
        "",
        "Share of each source's columns observed, by year:",
        "",
        _md(by_source, floats="{:.2f}"),
        "",
        "Lowest mean coverage (mostly small territories without a tier):",
        "",
        _md(lowest.rename(columns={"coverage": "mean coverage"})),
        "",
    ]


def _drivers_section(inputs: ResultsInputs, latest: int) -> list[str]:
    everything = shap_drivers(inputs.shap_values, inputs.catalog)
    scores = inputs.scores[inputs.scores["year"] == latest].sort_values("probability", ascending=False)
    top = scores.head(15)[["iso3", "country", "probability", "band", "coverage"]]
    return [
        "## Top SHAP drivers (final model, all scored country-years)",
        "",
        "Mean absolute SHAP value in log-odds: how far, on average, a feature moves a score. Large values "
        "mean "
        "the model leans on the feature, not that the feature causes a placement.",
        "",
        _md(everything),
        "",
        f"## Highest scores for {latest} (tier of {latest + int(inputs.profile['horizon'])})",
        "",
        "A review list, not a finding (see the first section).",
        "",
        _md(top),
        "",
    ]


def _lineage_section(catalog: Mapping[str, Mapping], dependent: list[str], label_source: str) -> list[str]:
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
    return ["## Lineage", "", _md(pd.DataFrame(sorted(rows.values(), key=lambda r: r["source"]))), ""]


CAVEATS = """## Caveats

- **Revision look-ahead.** WGI, WDI, UN DESA and V-Dem re-estimate past years in every
  release, and only one vintage of each is stored; the lags keep a value out until its year's
  release, but the value itself is from today's vintage. Migrant stock between the five-yearly
  estimates is interpolated (flagged), which also uses the following estimate.
- **Method breaks.** Corruption index scores before 2012 are the old 0–10 method ×10, flagged
  by `cpi_pre2012_method`; press freedom before the 2022 edition is a separate, reversed score
  (`press_freedom_old_score`, lower = freer). Neither is spliced.
- **Repaired files.** The 2025 and 2026 press freedom scores were recovered from damaged copies
  (previous score + published change); their sub-scores could not be and are missing.
- **Label gaps.** No tiers for report years 2016–2019; 2020, 2021 and 2023 are transcriptions
  (2021's year is inferred); 2022, 2024 and 2025 list only the Watch List and Tier 3 and are not
  used.
- **Detections are effort.** UNODC counts measure detection and prosecution, the same kind of
  government effort the tiers grade; "<5" is kept as censored.
"""
