"""The signals page (docs/signals.md, docs/signals.png) and one MLflow run per source.

`render` is a pure function of the scorecard: no dates, run ids, timings or absolute paths, so
unchanged inputs give the same bytes, as on the results page. The holdout comes first and is
only reported: nothing in the scorecard is chosen on it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.results.markdown import markdown_table
from experiments.signals import COMPARISONS, MEASURES, TAG_KEY, TAG_SOURCE, Scorecard, build_scorecard
from nexus.config import Params, PathsParams
from nexus.manifest import atomic_path, atomic_write_text, sha256_json

LABEL = {("all", "log_loss"): "Δ log loss", ("all", "average_precision"): "Δ AP",
         ("onset", "auc"): "Δ onset AUC"}
LOWER_IS_BETTER = {("all", "log_loss")}
UNUSED_NOTE = ("† not read: with and without the source the forecasts are identical at these origins, "
               "because none of its columns met `training.ensemble.min_feature_coverage` in the year "
               "forecast (the series had not started, had stopped, or covers too few countries).")
COMPARISON_LABEL = {"independent": "independent-sources model", "full": "full model"}


def _num(v, signed: bool = False, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "—"
    return f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"


def _helps(row) -> str:
    """▲ when the source's presence is better with the interval excluding 0, ▼ when worse."""
    lower = (row["subset"], row["metric"]) in LOWER_IS_BETTER
    better = row["high"] < 0 if lower else row["low"] > 0
    worse = row["low"] > 0 if lower else row["high"] < 0
    return " ▲" if better else " ▼" if worse else ""


def added_value_table(card: Scorecard, holdout: bool) -> pd.DataFrame:
    rows = []
    av = card.added_value[card.added_value["holdout"] == holdout]
    for source in card.sources:
        if not (av["source"] == source).any():   # e.g. a label-construct source: measured, never a feature
            rows.append({"source": source, "model": "no feature column in any model",
                         **{label: "—" for label in LABEL.values()}})
        for comparison in COMPARISONS:
            part = av[(av["source"] == source) & (av["comparison"] == comparison)]
            if part.empty:
                continue
            action = part["action"].iat[0]
            preposition = "to" if action == "added" else "of"
            row = {"source": source, "model": f"{action} {preposition} {COMPARISON_LABEL[comparison]}"}
            for subset, metric in MEASURES:
                m = part[(part["subset"] == subset) & (part["metric"] == metric)]
                if m.empty:
                    row[LABEL[subset, metric]] = "—"
                    continue
                d = m.iloc[0]
                if d.get("unused", False):
                    row[LABEL[subset, metric]] = "not read †"
                    continue
                row[LABEL[subset, metric]] = (f"{_num(d['diff'], True)} [{_num(d['low'], True)}, "
                                              f"{_num(d['high'], True)}]{_helps(d)}")
            rows.append(row)
    return pd.DataFrame(rows, columns=["source", "model", *LABEL.values()])


def coverage_table(card: Scorecard) -> pd.DataFrame:
    cov = card.coverage.set_index("source")
    lin = card.lineage.set_index("source")
    rows = []
    for s in card.sources:
        c, ln = cov.loc[s], lin.loc[s]
        span = f"{int(c['first_year'])}–{int(c['last_year'])}" if pd.notna(c["first_year"]) else "—"
        inputs = ln["inputs"]
        more = f" and {len(inputs) - 4} more" if len(inputs) > 4 else ""
        declared = ", ".join(inputs[:4]) + more if len(inputs) else "none declared"
        rows.append({"source": s, "family": ln["family"] or "—", "countries": int(c["countries"]),
                     "years": span,
                     "country-years": f"{int(c['country_years'])} of {int(c['panel_rows'])} "
                                      f"({c['share']:.0%})",
                     f"in {int(c['latest_year'])}": f"{int(c['latest_countries'])} of "
                                                    f"{int(c['latest_rows'])} ({c['latest_share']:.0%})",
                     "declared inputs": declared, "independent?": ln["dependence"] or "yes"})
    return pd.DataFrame(rows)


def redundancy_table(card: Scorecard) -> pd.DataFrame:
    red = card.redundancy
    families = sorted({c.removeprefix("corr_") for c in red.columns if c.startswith("corr_")})
    rows = []
    for r in red.to_dict(orient="records"):
        row = {"source": r["source"], "column": r["column"] or "—"}
        for f in families:
            partner = r.get(f"partner_{f}")
            partner = partner if isinstance(partner, str) else ""
            pair = f"{_num(r[f'corr_{f}'], True, 2)} / {_num(r[f'partial_{f}'], True, 2)} ({partner})"
            row[f] = pair if partner else "—"
        row["VIF"] = _num(r["vif"], digits=1)
        rows.append(row)
    return pd.DataFrame(rows)


def render(card: Scorecard, command: str) -> str:
    s = card.settings
    dev, hold = s["development"], s["holdout"]
    level = f"{s['level']:.0%}"
    parts = [
        "# Signals: what each source covers, repeats and adds", "",
        f"Written by `{command}`; the same inputs give the same page. "
        f"Panel `{s['panel_sha256'][:19]}`.", "",
        "Each source is **added to the independent-sources model** (experiment "
        f"`{s['independent_experiment']}`; a source it already reads is **left out** of it instead) "
        f"and **left out of the full model** (experiment `{s['full_experiment']}`). Every Δ is *with "
        "the source minus without it* on identical rows: a negative Δ log loss, a positive Δ AP or "
        f"Δ onset AUC means the source helps. Brackets: {level} block-bootstrap intervals (countries "
        f"and origins resampled together, {s['n_resamples']} resamples); ▲ helps / ▼ hurts where the "
        "interval excludes 0. Onset AUC ranks the unlisted countries of each origin by their chance "
        f"of being listed {s['horizon']} year(s) later.", "",
        f"- `{s['independent_experiment']}`: {s['independent_description']}",
        f"- `{s['full_experiment']}`: {s['full_description']}", "",
        f"Cheap, declared settings (`signals:` in params): {s['n_estimators']} trees per booster, "
        f"{s['n_members']} booster(s) per model, no tuning; everything else as in `training:`. One "
        "backtest of each reference model serves every source. They are the rolling-origin "
        "backtests of `nexus train`, so every difference is out of sample; with fewer trees and one "
        "seed they are noisier than the results page's.", "",
        f"## Added value on the holdout (origins {hold[0]}–{hold[1]})", "",
        "Reported once, never chosen on: no source, setting or model here was picked on these rows.",
        "", markdown_table(added_value_table(card, True)), "", UNUSED_NOTE, "", "![signals](signals.png)", "",
        f"## Added value on the development origins ({dev[0]}–{dev[1]})", "",
        markdown_table(added_value_table(card, False)), "", UNUSED_NOTE, "",
        "## Coverage and declared lineage", "",
        "Country-years with any current-year value of the source, among the panel's rows, and in the "
        "panel's last year. *Independent?* is decided from declared lineage (features/lineage.py): a "
        "source that is, feeds or shares inputs with the label or the corruption index is not.", "",
        markdown_table(coverage_table(card)), "",
        "## Redundancy with the other sources", "",
        "On each source's primary (first declared) column, per family: the correlation / partial "
        "correlation with the most correlated primary column of another source in that family "
        "(named), and the variance inflation factor over every source's primary column. The partial "
        "correlation conditions on every other source at once: a high correlation with a low partial "
        "one means the overlap runs through a third source. Pairwise-complete rows (sources cover "
        f"different years); pairs with fewer than {s['min_pairs']} country-years in common count as "
        "uncorrelated and show —. Such a matrix need not be a valid correlation matrix, so its "
        f"eigenvalues are floored at {s['eigen_floor']} before it is inverted.", "",
        markdown_table(redundancy_table(card)), "",
    ]
    return "\n".join(parts)


def plot(card: Scorecard, target: Path) -> None:
    """Coverage, and Δ log loss with its interval on development and holdout, one row per source."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sources = card.sources
    y = np.arange(len(sources))
    fig, axes = plt.subplots(1, 3, figsize=(13, 1.2 + 0.38 * len(sources)), sharey=True,
                             gridspec_kw={"width_ratios": [1, 2, 2]})
    share = card.coverage.set_index("source").reindex(sources)
    axes[0].barh(y, share["share"], color="#8da0cb", label="all years")
    axes[0].barh(y, share["latest_share"], color="none", edgecolor="#333", label="latest year")
    axes[0].set_xlim(0, 1)
    axes[0].set_title("coverage\nshare of country-years", fontsize=10)
    axes[0].legend(loc="lower right", fontsize=7)
    av = card.added_value[(card.added_value["subset"] == "all") & (card.added_value["metric"] == "log_loss")]
    marks = {"independent": ("o", "#1b9e77", -0.15), "full": ("s", "#d95f02", 0.15)}
    panels = ((axes[1], False, "development origins"), (axes[2], True, "holdout (reported only)"))
    for ax, holdout, title in panels:
        for comparison, (marker, colour, dy) in marks.items():
            part = av[(av["holdout"] == holdout) & (av["comparison"] == comparison)].set_index("source")
            read = part[~part["unused"]]
            at = [i for i, s in enumerate(sources) if s in read.index]
            rows = read.loc[[sources[i] for i in at]]
            spread = [rows["diff"] - rows["low"], rows["high"] - rows["diff"]]
            ax.errorbar(rows["diff"], np.array(at) + dy, xerr=spread, fmt=marker, color=colour,
                        capsize=2, ms=4, label=f"vs {COMPARISON_LABEL[comparison]}")
        unread = set(av.loc[(av["holdout"] == holdout) & av["unused"], "source"])
        for i in [i for i, s in enumerate(sources) if s in unread]:
            ax.text(0, i, " not read", color="#888", fontsize=7, va="center")
        ax.axvline(0, color="#555", lw=0.8)
        ax.set_title(f"Δ log loss, with − without the source\n{title}; left of 0 = it helps", fontsize=10)
        ax.legend(loc="lower right", fontsize=7)
    axes[0].set_yticks(y, sources)
    axes[0].invert_yaxis()
    fig.tight_layout()
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)


def log_runs(card: Scorecard, params: Params, paths: PathsParams, png: Path) -> dict[str, str]:
    """One MLflow run per source (skipped when a finished run holds the same numbers); source → run id."""
    from nexus import tracking

    mlflow = tracking.mlflow_at(paths.tracking_uri)
    experiment_id = tracking.use_experiment(paths, f"{params.training.experiment_name}-signals")
    client = mlflow.MlflowClient()
    ids = {}
    for source in card.sources:
        record = source_record(card, source)
        key = sha256_json(record)
        query = f"tags.`{TAG_KEY}` = '{key}' and attributes.status = 'FINISHED'"
        found = client.search_runs([experiment_id], query, max_results=1)
        if found:
            ids[source] = found[0].info.run_id
            continue
        with mlflow.start_run(experiment_id=experiment_id, run_name=f"signals · {source}",
                              tags={TAG_SOURCE: source, TAG_KEY: key, **tracking.owner_tags()}) as run:
            mlflow.log_params({k: str(v) for k, v in card.settings.items()} | {"source": source})
            mlflow.log_metrics({k: float(v) for k, v in record["metrics"].items() if np.isfinite(v)})
            mlflow.log_dict(record, "signals_source.json")
            mlflow.log_artifact(str(png))
            ids[source] = run.info.run_id
    return ids


def source_record(card: Scorecard, source: str) -> dict:
    """What the run of one source holds: its coverage, lineage, redundancy and added value."""
    cov = card.coverage.set_index("source").loc[source]
    red = card.redundancy.set_index("source").loc[source]
    metrics = {"coverage_share": cov["share"], "coverage_latest_share": cov["latest_share"],
               "countries": cov["countries"], "vif": red["vif"]}
    for c in red.index:
        if c.startswith(("corr_", "partial_")):
            metrics[c] = red[c]
    av = card.added_value[card.added_value["source"] == source]
    for r in av.to_dict(orient="records"):
        name = f"{r['comparison']}_{'holdout' if r['holdout'] else 'dev'}_{r['subset']}_{r['metric']}"
        metrics |= {f"{name}_diff": r["diff"], f"{name}_low": r["low"], f"{name}_high": r["high"]}
    lin = card.lineage.set_index("source").loc[source]
    metrics = {k: float(v) for k, v in metrics.items() if pd.notna(v)}
    record = {"source": source, "inputs": list(lin["inputs"]), "dependence": lin["dependence"],
              "settings": card.settings, "metrics": metrics}
    return json.loads(json.dumps(record, default=str))


def write_signals(params: Params, paths: PathsParams, out: Path, *, command: str,
                  progress: Callable[[str], None] | None = None) -> tuple[Path, Scorecard, dict[str, str]]:
    """Build the scorecard, write the page and its plot (temp file, then rename), log one run per source."""
    card = build_scorecard(params, paths, progress=progress)
    out = Path(out)
    png = out.with_suffix(".png")
    plot(card, png)
    ids = log_runs(card, params, paths, png)
    atomic_write_text(out, render(card, command))
    return out, card, ids
