"""The leaderboard: declared experiments read back from MLflow and paired on identical folds and rows.

Each experiment's latest finished run supplies its out-of-sample forecasts. Every metric gets
a country-bootstrap interval, and its difference from the reference experiment a paired
interval from the same resamples. Runs judged on other folds, rows or outcomes are never
put side by side: named explicitly they are refused with the reason; found implicitly (no
names given) they are left out, and the reason is printed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from experiments import stability
from experiments.markdown import markdown_table
from experiments.runner import EXPERIMENTS_DIR, list_experiments, load_experiment
from nexus.config import Params, PathsParams
from nexus.errors import NexusError
from nexus.manifest import atomic_write_text, sha256_json, short
from training.backtest import MODEL
from training.calibration import expected_calibration_error
from training.forecasts import FORECAST_KEYS
from training.metrics import HIGHER_IS_BETTER, METRICS, paired_bootstrap, score_metrics
from training.runs import (
    RunBacktest,
    comparability_problem,
    find_experiment_run,
    load_run,
    require_comparable,
)

LABELS = {"auc": "AUC", "average_precision": "AP", "brier": "Brier", "log_loss": "log loss",
          "recall_top_k": "recall@k"}


@dataclass(frozen=True)
class Comparison:
    reference: str
    table: pd.DataFrame          # one row per entry, numeric columns (also leaderboard.csv)
    markdown: str                # the same as leaderboard.md
    directory: Path
    left_out: dict[str, str]     # experiment → why it was not paired with the reference
    notes: list[str]             # e.g. runs built on different panels


def _choose(names: list[str], reference: str | None, directory: Path) -> tuple[list[str], str]:
    if reference is None:
        if len(names) == 1:
            reference = load_experiment(names[0], directory).compare_to or names[0]
        else:
            reference = "baseline" if "baseline" in names else names[0]
    return [reference] + [n for n in names if n != reference], reference


def gather_runs(names: list[str] | None, reference: str | None, params: Params, paths: PathsParams,
                directory: Path = EXPERIMENTS_DIR) -> tuple[dict[str, RunBacktest], str, dict[str, str]]:
    """Load each experiment's latest run; check they can be paired with the reference."""
    mlflow_exp = params.training.experiment_name
    explicit = bool(names)
    for n in (names or []) + ([reference] if reference else []):
        load_experiment(n, directory)  # unknown names fail here, listing the known ones
    if not explicit:
        names = [n for n in list_experiments(directory) if find_experiment_run(paths, mlflow_exp, n)]
        if not names:
            raise NexusError("no experiment has a finished run yet; try 'nexus experiment run baseline'")
    names, reference = _choose(list(names), reference, directory)
    runs = {}
    for n in names:
        run_id = find_experiment_run(paths, mlflow_exp, n)
        if run_id is None:
            raise NexusError(f"experiment {n!r} has no finished run in {paths.tracking_uri}; "
                             f"run 'nexus experiment run {n}' first")
        runs[n] = load_run(paths, run_id, label=n)
    left_out: dict[str, str] = {}
    others = [r for n, r in runs.items() if n != reference]
    if explicit:
        require_comparable(runs[reference], others)
    else:
        for r in others:
            if problem := comparability_problem(r, runs[reference]):
                left_out[r.label] = problem
                del runs[r.label]
    return runs, reference, left_out


def compare_experiments(names: list[str] | None, params: Params, paths: PathsParams, *,
                        reference: str | None = None, directory: Path = EXPERIMENTS_DIR,
                        progress: Callable[[str], None] | None = None) -> Comparison:
    """The leaderboard of `names` (default: every experiment with a run) against `reference`,
    written to artifacts/compare/<hash of the runs compared>/."""
    step = progress or (lambda msg: None)
    runs, reference, left_out = gather_runs(names, reference, params, paths, directory)
    tp = params.training
    entries = {n: r.xgb for n, r in runs.items()}
    ref_preds = runs[reference].predictions
    for model in [m for m in ref_preds["model"].unique() if m != MODEL]:
        rows = ref_preds[ref_preds["model"] == model].sort_values(FORECAST_KEYS, kind="stable")
        entries[f"{reference} · {model}"] = rows.reset_index(drop=True)
    step(f"bootstrapping {len(entries)} forecast sets over countries ({tp.bootstrap.n_resamples} resamples)")
    boot = paired_bootstrap(entries, reference, tp.top_k, tp.bootstrap.n_resamples, tp.bootstrap.level,
                            params.seed)
    table = boot.pivot(index="entry", columns="metric")
    table.columns = [m if v == "value" else f"{m}_{v}" for v, m in table.columns]
    table = table.reindex(list(entries))
    extra = _calibration_and_stability(runs, entries, reference)
    table = table.join(extra).reset_index(names="entry")
    metric = params.promotion.metric
    table = table.sort_values(metric, ascending=not HIGHER_IS_BETTER[metric], kind="stable")
    table = table.reset_index(drop=True)

    key = sha256_json({"runs": {n: r.run_id for n, r in runs.items()}, "reference": reference,
                       "bootstrap": tp.bootstrap.model_dump(), "seed": params.seed})
    out = Path(paths.artifacts) / "compare" / short(key)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "leaderboard.csv", index=False)
    notes = _panel_notes(runs)
    md = render_markdown(table, reference, metric, tp.bootstrap.level, tp.top_k, left_out, notes)
    atomic_write_text(out / "leaderboard.md", md)
    _plot_per_origin(entries, tp.top_k, out)
    return Comparison(reference, table, md, out, left_out, notes)


def _panel_notes(runs: dict[str, RunBacktest]) -> list[str]:
    """Same rows and outcomes can still come from different panels (code or raw files changed between
    runs): legitimate when an experiment changes features.*, worth knowing otherwise."""
    panels: dict[str, list[str]] = {}
    for name, run in runs.items():
        panels.setdefault(run.tags.get("nexus.panel_sha256", "?").split(":")[-1][:12], []).append(name)
    if len(panels) < 2:
        return []
    listed = "; ".join(f"{sha}: {', '.join(names)}" for sha, names in panels.items())
    return [f"these runs were trained on {len(panels)} different panels ({listed}); unless an experiment "
            "changes features.*, the features code or raw files changed between runs: rerun with --force "
            "to compare on one panel"]


def _calibration_and_stability(runs: dict[str, RunBacktest], entries: dict[str, pd.DataFrame],
                               reference: str) -> pd.DataFrame:
    rows = {}
    ref_shap = runs[reference].shap
    for name, e in entries.items():
        row = {"ece": expected_calibration_error(e["y"], e["p"])}
        run = runs.get(name)
        if run is not None:
            row["ece_raw"] = expected_calibration_error(e["y"], e["p_raw"]) if "p_raw" in e else np.nan
            if {"set_yes", "set_no"} <= set(e.columns):   # development rows only, like everything here
                from training.calibration import coverage_table

                sets = e[["set_yes", "set_no"]].astype("boolean").fillna(True).astype(bool)
                row["set_coverage"] = coverage_table(e["y"], sets["set_yes"], sets["set_no"])["coverage"]
            row["set_level"] = run.calibration.get("conformal_level", np.nan)
            if run.shap is not None and ref_shap is not None:
                vs_ref = stability.summary(stability.driver_agreement(run.shap, ref_shap))
                over_origins = stability.summary(stability.origin_agreement(run.shap))
                row |= {f"shap_vs_ref_{k}": v for k, v in vs_ref.items() if k != "countries"}
                row |= {f"shap_over_origins_{k}": v for k, v in over_origins.items() if k != "countries"}
            row["run_id"] = run.run_id
            row["panel_sha256"] = run.tags.get("nexus.panel_sha256", "")
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def _plot_per_origin(entries: dict[str, pd.DataFrame], k: int, out: Path) -> None:
    from training.plots import plot_per_origin

    rows = [{"model": name, "origin": int(o), **score_metrics(g["y"], g["p"], g["origin"], k)}
            for name, e in entries.items() for o, g in e.groupby("origin")]
    per_origin = pd.DataFrame(rows)
    per_origin.to_csv(out / "per_origin.csv", index=False)
    for metric in ("auc", "log_loss"):
        plot_per_origin(per_origin, metric, out / f"per_origin_{metric}.png")


def _fmt(v: float, signed: bool = False) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "—"
    return f"{v:+.3f}" if signed else f"{v:.3f}"


def leaderboard_frames(table: pd.DataFrame, reference: str) -> tuple[pd.DataFrame, ...]:
    """The three printed tables: pooled skill, paired differences, calibration and driver stability."""
    skill, diff, other = [], [], []
    for r in table.to_dict(orient="records"):
        name = r["entry"] + (" (reference)" if r["entry"] == reference else "")
        skill.append({"experiment": name,
                      **{LABELS[m]: f"{_fmt(r[m])} [{_fmt(r[m + '_low'])}, {_fmt(r[m + '_high'])}]"
                         for m in METRICS}})
        d = {"experiment": name}
        for m in METRICS:
            lo, hi = r[m + "_diff_low"], r[m + "_diff_high"]
            better = (lo > 0) if HIGHER_IS_BETTER[m] else (hi < 0)
            worse = (hi < 0) if HIGHER_IS_BETTER[m] else (lo > 0)
            mark = " ▲" if better else " ▼" if worse else ""
            d["Δ " + LABELS[m]] = "—" if r["entry"] == reference else \
                f"{_fmt(r[m + '_diff'], True)} [{_fmt(lo, True)}, {_fmt(hi, True)}]{mark}"
        diff.append(d)
        has_raw = not pd.isna(r.get("ece_raw"))
        other.append({"experiment": name,
                      "ECE (raw → calibrated)": f"{_fmt(r.get('ece_raw'))} → {_fmt(r['ece'])}" if has_raw
                      else _fmt(r["ece"]),
                      "set coverage": _fmt(r.get("set_coverage")),
                      "SHAP ρ vs ref": _fmt(r.get("shap_vs_ref_spearman")),
                      "top-5 overlap vs ref": _fmt(r.get("shap_vs_ref_top_k_overlap")),
                      "top-5 overlap, next origin": _fmt(r.get("shap_over_origins_top_k_overlap"))})
    return pd.DataFrame(skill), pd.DataFrame(diff), pd.DataFrame(other)


def render_markdown(table: pd.DataFrame, reference: str, metric: str, level: float, k: int,
                    left_out: dict[str, str], notes: list[str]) -> str:
    skill, diff, other = leaderboard_frames(table, reference)
    parts = [f"# Leaderboard (reference: {reference}; ranked by {metric})", "",
             f"Pooled over origins; [{level:.0%} interval, countries resampled]; recall@k with k = {k}.", "",
             markdown_table(skill), "",
             f"## Paired difference from {reference} (▲ better / ▼ worse: interval excludes 0)", "",
             markdown_table(diff), "", "## Calibration, conformal sets and explanation stability", "",
             markdown_table(other)]
    if left_out:
        parts += ["", "## Not paired with the reference", ""]
        parts += [f"- {n}: {why}" for n, why in left_out.items()]
    if notes:
        parts += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    return "\n".join(parts) + "\n"


def render_text(comparison: Comparison) -> str:
    skill, diff, other = leaderboard_frames(comparison.table, comparison.reference)
    blocks = [skill.to_string(index=False), diff.to_string(index=False), other.to_string(index=False)]
    text = "\n\n".join(blocks)
    for name, why in comparison.left_out.items():
        text += f"\nleft out {name}: {why}"
    for note in comparison.notes:
        text += f"\nnote: {note}"
    return text
