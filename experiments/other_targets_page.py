"""The other-targets page (docs/other-targets.md) and one MLflow run per target.

`render` is a pure function of the results: no dates, run ids, timings or absolute paths, so
unchanged inputs give the same bytes, as on the results and signals pages.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.other_targets import (
    TAG_KEY,
    TAG_TARGET,
    OtherTargets,
    TargetResult,
    build_other_targets,
    target_record,
)
from experiments.results.markdown import markdown_table
from nexus.config import Params, PathsParams
from nexus.manifest import atomic_write_text, sha256_json


def _num(v, digits: int = 3) -> str:
    return "—" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.{digits}f}"


def definition_table(results: list[TargetResult]) -> pd.DataFrame:
    rows = []
    for r in results:
        editions = ", ".join(f"{e} ({pos} of {n})" for e, (n, pos) in sorted(r.positives.items()))
        dev = r.origins[~r.origins["holdout"].astype(bool)]["origin"].tolist() if len(r.origins) else []
        hold = r.origins[r.origins["holdout"].astype(bool)]["origin"].tolist() if len(r.origins) else []
        rows.append({"target": f"`{r.target}`", "positive": r.cut,
                     "editions (positives of rows)": editions,
                     "labelled rows": sum(n for n, _ in r.positives.values()),
                     "origins: development": ", ".join(map(str, dev)) or "none",
                     "holdout": ", ".join(map(str, hold)) or "none",
                     "left out of both models": ", ".join(r.left_out) or "nothing"})
    return pd.DataFrame(rows)


def agreement_table(results: list[TargetResult]) -> pd.DataFrame:
    rows = []
    for r in results:
        for a in r.agreement:
            rows.append({"target": f"`{r.target}`", "TIP-based model": a.reference, "year": a.year,
                         "countries": a.countries, "Spearman": _num(a.spearman, 2),
                         f"top-{a.top_n} overlap": f"{a.overlap} of {a.top_n}",
                         "by chance": _num(a.expected, 1)})
        rows.append({"target": f"`{r.target}`", "TIP-based model": "the published measure vs the TIP tier",
                     "year": r.agreement[0].year if r.agreement else "—", "countries": r.labels_countries,
                     "Spearman": _num(r.labels_spearman, 2), f"top-{r.agreement[0].top_n} overlap": "—",
                     "by chance": "—"})
    return pd.DataFrame(rows)


def skill_rows(r: TargetResult) -> pd.DataFrame:
    t = r.skill.copy()
    for c in ("auc", "average_precision", "log_loss"):
        t[c] = t[c].map(lambda v: _num(v))
    order = {"holdout": 0, "development": 1}
    t = t.sort_values(["era", "model"], key=lambda s: s.map(order) if s.name == "era" else s, kind="stable")
    return t.rename(columns={"average_precision": "AP", "auc": "AUC", "log_loss": "log loss"})


def summary(r: TargetResult) -> str:
    """One sentence a reader can quote: how much of the TIP-based ranking survives this label."""
    a = r.agreement[0]
    if np.isnan(r.labels_spearman):
        labels = ""
    else:
        than = "less" if r.labels_spearman < a.spearman else "no less"
        labels = (f"The published measure and the current TIP tier agree {than} (Spearman "
                  f"{r.labels_spearman:.2f}) than the two models' rankings do ({a.spearman:.2f}).")
    strength = ("closely" if a.spearman >= 0.8 else "broadly" if a.spearman >= 0.6
                else "only loosely" if a.spearman >= 0.3 else "hardly")
    return (f"Taught `{r.target}` instead of the TIP placement, the same signals rank the {a.countries} "
            f"countries {strength} alike (Spearman {a.spearman:.2f}): {a.overlap} of the top {a.top_n} are "
            f"shared ({a.expected:.0f} expected by chance), so {a.top_n - a.overlap} of each top {a.top_n} "
            f"depend on the choice of label. {labels}")


def disagreement_lines(r: TargetResult) -> list[str]:
    a = r.agreement[0]
    return [f"- in the top {a.top_n} of the `{r.target}` model only: {', '.join(a.only_target) or 'none'}",
            f"- in the top {a.top_n} of the TIP-based model only: {', '.join(a.only_reference) or 'none'}"]


def render(out: OtherTargets, command: str) -> str:
    s = out.settings
    n = s["top_n"]
    parts = [
        "# Other targets: which rankings depend on the TIP label", "",
        f"Written by `{command}`; the same inputs give the same page. Panel `{s['panel_sha256'][:19]}`.", "",
        "The TIP tiers are one government's judgement of other governments' effort. Two other "
        "publishers measure something close: Walk Free's **Global Slavery Index government response** "
        "(a weak response is the positive class) and GI-TOC's **Organized Crime Index human-trafficking "
        "market score** (a high score is the positive class). Each is a `training.target` "
        "(training/targets.py); a model of each is backtested on the origins its editions allow and "
        "fitted on every labelled row, and its ranking of the countries in the panel's last year is "
        f"compared with the TIP-based model's: the Spearman correlation and the overlap of the two top-{n} "
        "lists, beside the overlap two random lists of the same countries would have.", "",
        "**How the comparison is kept fair.**",
        f"- Both sides are signals-only models: the TIP-based model is the declared experiment "
        f"`{s['reference_experiment']}` ({s['reference_description']}), so no model reads a placement.",
        "- The target's own source, and every source whose declared lineage shares its inputs "
        "(features/lineage.py), are left out of the target's model, and out of the TIP-based model it is "
        "compared with first (*same features*): the two models then read exactly the same columns and "
        "differ only in the label. The TIP-based model with its usual features is shown beside it.",
        "- The cuts are declared in `training.target_cuts` from the publishers' scales, before any "
        "outcome was looked at: the GSI response is ranked within each edition (Walk Free says its "
        "editions are not comparable over time, and the 2023 edition publishes no grades), the OC Index "
        "market score is one expert scale across its editions (GI-TOC's site compares 2021 with 2023).",
        f"- Settings as in `training:` ({s['n_estimators']} trees, {s['n_members']} boosters, features "
        f"observed in at least {s['min_feature_coverage']:.0%} of a year's rows); the other-target models "
        "are not calibrated (too few origins for a calibration history; a ranking does not depend on it).",
        "",
        "**Cadence.** The target of row *t* is the edition published in year *t* + "
        f"{s['horizon']} (`training.horizon_years`), as the TIP target is the report of *t* + "
        f"{s['horizon']}: only the rows a year before an edition carry a target, and a backtest origin "
        "exists only where an earlier edition can train the model. A panel value counts as an edition's "
        "only where the panel's provenance says it describes that edition (never an older one carried "
        f"forward). Origins from {s['holdout_first_origin']} on are the holdout: reported, never chosen "
        "on. With one or two origins per target the skill below is a rough guide, not an estimate with "
        "an interval.", "",
        "## Targets, editions and origins", "",
        markdown_table(definition_table(out.results)), "",
        "## How the rankings agree", "",
        f"Raw scores of the panel's last year, over the countries both publishers cover (a value in the "
        f"target's latest edition and a TIP placement that year). *By chance*: {n}²/countries. The rows "
        "*the published measure vs the TIP tier* rank the latest edition's own values (weak response, "
        "high market score first) against that year's TIP tier, without any model.", "",
        markdown_table(agreement_table(out.results)), "",
    ]
    for r in out.results:
        parts += [f"### `{r.target}`: {r.label}", ""]
        parts += [summary(r), ""]
        parts += disagreement_lines(r) + [""]
        a = r.agreement[0]
        parts += [f"The models read {len(r.features)} features observed in {a.year}.", ""]
        if r.note:
            parts += [f"No backtest: {r.note}.", ""]
        else:
            parts += ["Backtest (holdout first; *TIP tier now* is P(target | current TIP tier), the "
                      "TIP placement as a predictor of the other label):", "",
                      markdown_table(skill_rows(r)), ""]
    parts += ["## Reading it", "",
              "A Spearman near 1 and a top-list overlap far above chance mean the proxy signals rank "
              "countries much the same whichever trafficking measure they are taught, so that ranking "
              "does not hinge on the TIP label; the countries named above are the ones whose place "
              "does. The row *the published measure vs the TIP tier* compares the labels themselves, "
              "without any model.", ""]
    return "\n".join(parts)


def log_runs(out: OtherTargets, params: Params, paths: PathsParams) -> dict[str, str]:
    """One MLflow run per target (skipped when a finished run holds the same numbers); target → run id."""
    from nexus import tracking

    mlflow = tracking.mlflow_at(paths.tracking_uri)
    experiment_id = tracking.use_experiment(paths, f"{params.training.experiment_name}-other-targets")
    client = mlflow.MlflowClient()
    ids = {}
    for r in out.results:
        record = target_record(r, out.settings)
        key = sha256_json(record)
        query = f"tags.`{TAG_KEY}` = '{key}' and attributes.status = 'FINISHED'"
        found = client.search_runs([experiment_id], query, max_results=1)
        if found:
            ids[r.target] = found[0].info.run_id
            continue
        with mlflow.start_run(experiment_id=experiment_id, run_name=f"other target · {r.target}",
                              tags={TAG_TARGET: r.target, TAG_KEY: key, **tracking.owner_tags()}) as run:
            mlflow.log_params({k: str(v) for k, v in out.settings.items()} | {"target": r.target})
            mlflow.log_metrics(record["metrics"])
            mlflow.log_dict(record, "other_target.json")
            ids[r.target] = run.info.run_id
    return ids


def write_other_targets(params: Params, paths: PathsParams, out: Path, *, command: str,
                        progress: Callable[[str], None] | None = None
                        ) -> tuple[Path, OtherTargets, dict[str, str]]:
    """Run every declared other target, log one run per target, write the page (temp file, then rename)."""
    results = build_other_targets(params, paths, progress=progress)
    ids = log_runs(results, params, paths)
    out = Path(out)
    atomic_write_text(out, render(results, command))
    return out, results, ids
