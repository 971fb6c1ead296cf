"""`nexus run`, `nexus results`, `nexus experiment list|run|compare`, `nexus tune` and `nexus promote`.

The top floor's commands: each chains or compares the stages below it, as thin commands over
library calls. The params and the progress printer come from `nexus.console`.
"""

from __future__ import annotations

import time
from pathlib import Path

import typer

from nexus import tracking
from nexus.console import current_params, load_with_raw, progress, session, settle_heap

app = typer.Typer(add_completion=False)
experiment_app = typer.Typer(no_args_is_help=True, help="Declared experiments: experiments/<name>.yaml.")
app.add_typer(experiment_app, name="experiment")

NAMES_HELP = "experiment names (see 'nexus experiment list')"
REFERENCE_HELP = "experiment the others are paired with (default: baseline, or a lone name's compare_to)"
TRIALS_HELP = "finished trials the study should hold (default tuning.n_trials); a rerun completes the rest"


def _context():
    params, paths = current_params()
    return params, paths, progress


@app.command()
def run(force: bool = typer.Option(False, help="rebuild every stage"),
        raw: Path | None = typer.Option(None, "--raw", help="read the raw files here (overrides paths.raw)")):
    """The whole chain: (synthetic world, if world.generate) → features → train → score → explain."""
    from features.cli import build_and_report, write_world_once
    from scoring.cli import print_explanation, score_and_report
    from scoring.score import load_scores
    from training.cli import train_and_report

    params, paths = load_with_raw(raw)
    timings = {}
    t0 = time.perf_counter()
    store = tracking.open_store_aside(paths.tracking_uri)  # made on the idle core while the world is written
    if params.world.generate:
        write_world_once(params, paths, force)
    timings["world"] = time.perf_counter() - t0
    settle_heap()
    t = time.perf_counter()
    build = build_and_report(params, paths, force)
    timings["features"] = time.perf_counter() - t
    t = time.perf_counter()
    result = train_and_report(params, paths, build, force)
    timings["train"] = time.perf_counter() - t
    if store is not None:
        store.wait()
    settle_heap()
    t = time.perf_counter()
    scored = score_and_report(params, paths, version=result.metrics["model_version"], force=force)
    timings["score"] = time.perf_counter() - t
    settle_heap()
    scores, *_ = load_scores(scored.directory)
    latest = int(scores["year"].max())
    top = scores[scores["year"] == latest].sort_values("probability", ascending=False).iloc[0]
    t = time.perf_counter()
    print_explanation(params, scored, top["iso3"], latest, None)
    timings["explain"] = time.perf_counter() - t
    total = time.perf_counter() - t0
    typer.echo("")
    typer.echo(f"scores:      {scored.directory / 'scores.csv'}  (and scores.parquet, shap_values.parquet)")
    typer.echo(f"backtest:    {result.directory / 'metrics.json'}  plots in {result.directory / 'plots'}")
    typer.echo(f"MLflow:      mlflow ui --backend-store-uri {paths.tracking_uri}")
    typer.echo("timings:     " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()) + f"; total {total:.1f}s")


@app.command()
def results(raw: Path | None = typer.Option(None, "--raw", help="read the raw files here (not paths.raw)"),
            out: Path = typer.Option(Path("docs/results.md"), help="the page (results_coverage.csv beside)"),
            force: bool = typer.Option(False, help="rebuild every stage")):
    """Train every variant and horizon, score, and write the results page (experiments/results/)."""
    from experiments.results import write_results

    params, paths = load_with_raw(raw)
    page = write_results(params, paths, out, command=session().shown_command("results", raw),
                         force=force, progress=progress)
    typer.echo(f"results: {page}")


@app.command()
def signals(raw: Path | None = typer.Option(None, "--raw", help="read the raw files here (not paths.raw)"),
            out: Path = typer.Option(Path("docs/signals.md"), help="the page (the plot beside it, .png)")):
    """A scorecard per source: coverage, lineage, redundancy and added value; one MLflow run per source."""
    from experiments.signals_page import write_signals

    params, paths = load_with_raw(raw)
    started = time.perf_counter()
    command = session().shown_command("signals", raw)
    page, card, runs = write_signals(params, paths, out, command=command, progress=progress)
    typer.echo(f"signals: {page} (and {page.with_suffix('.png')}); {len(runs)} MLflow runs in "
               f"{params.training.experiment_name}-signals; {time.perf_counter() - started:.0f}s")


@app.command("other-targets")
def other_targets(
        raw: Path | None = typer.Option(None, "--raw", help="read the raw files here (not paths.raw)"),
        out: Path = typer.Option(Path("docs/other-targets.md"), help="the page")):
    """Models of the GSI response and the OC Index trafficking score vs the TIP model: ranking agreement."""
    from experiments.other_targets_page import write_other_targets

    params, paths = load_with_raw(raw)
    started = time.perf_counter()
    command = session().shown_command("other-targets", raw)
    page, _, runs = write_other_targets(params, paths, out, command=command, progress=progress)
    typer.echo(f"other targets: {page}; {len(runs)} MLflow runs in "
               f"{params.training.experiment_name}-other-targets; {time.perf_counter() - started:.0f}s")


@experiment_app.command("list")
def list_command():
    """Every declared experiment, its question and its overrides (a broken file is named, not skipped)."""
    from experiments.runner import list_experiments, load_experiment
    from nexus.errors import ConfigError

    broken = 0
    for name in list_experiments():
        try:
            exp = load_experiment(name)
        except ConfigError as exc:
            broken += 1
            typer.echo(f"{name:<22} INVALID: {exc}")
            continue
        changes = ", ".join(f"{k}={v}" for k, v in exp.overrides.items()) or "(params.yaml as is)"
        typer.echo(f"{name:<22} {exp.description}\n{'':<22} overrides: {changes}")
    if broken:
        raise typer.Exit(2)


@experiment_app.command("run")
def run_command(names: list[str] = typer.Argument(None, help=NAMES_HELP),
                all_: bool = typer.Option(False, "--all", help="run every declared experiment"),
                force: bool = typer.Option(False, help="retrain even if up to date")):
    """Train each experiment under one MLflow parent run tagged with its name (origins as child runs)."""
    from experiments.runner import list_experiments, load_experiment, resolve, run_experiment
    from nexus.errors import NexusError
    from training.train import pooled_table

    params, paths, progress = _context()
    names = list_experiments() if all_ else list(names or [])
    if not names:
        raise NexusError(f"name an experiment or pass --all; known: {', '.join(list_experiments())}")
    for name in names:  # every file is validated before the first one runs
        resolve(load_experiment(name), params)
    for name in names:
        progress(f"experiment {name}")
        result = run_experiment(name, params, paths, force=force, progress=progress)
        m = result.metrics
        state = "trained" if result.trained else "up to date"
        typer.echo(f"experiment {name}: {state}; run {m['run_id'][:8]}, "
                   f"{m['model_name']} v{m['model_version']}")
        typer.echo(pooled_table(m).to_string(index=False))


@experiment_app.command("compare")
def compare_command(names: list[str] = typer.Argument(None, help="experiments (default: all with a run)"),
                    reference: str | None = typer.Option(None, help=REFERENCE_HELP)):
    """Leaderboard with country-bootstrap intervals and paired differences; CSV, Markdown and plots."""
    from experiments.compare import compare_experiments, render_text

    params, paths, progress = _context()
    result = compare_experiments(list(names or []) or None, params, paths, reference=reference,
                                 progress=progress)
    typer.echo(render_text(result))
    typer.echo(f"\nleaderboard: {result.directory / 'leaderboard.md'} (and .csv); per-origin skill: "
               f"{result.directory / 'per_origin_auc.png'}")


@app.command("tune")
def tune_command(trials: int | None = typer.Option(None, "--trials", help=TRIALS_HELP),
                 storage: str | None = typer.Option(None, help="SQLAlchemy URL (paths.optuna_storage)"),
                 study: str | None = typer.Option(None, help="study name (default tuning.study_name)"),
                 workers: int = typer.Option(1, min=1, max=32, help="worker processes on this machine"),
                 experiment: str | None = typer.Option(None, help="tune under an experiment's overrides")):
    """Optuna over tuning.search, judged on the backtest's rolling-origin folds; resumable, shareable."""
    from experiments.runner import PROJECT_DIR, load_experiment, resolve
    from features.panel import build_features
    from training.tune import tune

    params, paths, progress = _context()
    if experiment:
        params = resolve(load_experiment(experiment), params)
        study = study or f"{params.tuning.study_name}-{experiment}"
    build = build_features(params.features, params.dask, paths.raw, paths.artifacts, progress=progress)
    r = tune(params, paths, build, n_trials=trials, storage=storage, study_name=study, workers=workers,
             progress=progress)
    typer.echo(f"study {r.study_name} ({r.storage}): {r.finished} finished trials; "
               f"MLflow parent run {r.parent_run_id[:8]}")
    if r.best_file is None:
        typer.echo("no trial has completed yet (all pruned or failed)")
        return
    typer.echo(f"best: trial {r.best_trial}, mean backtest {params.tuning.metric} {r.best_value:.4f}")
    for k, v in r.best_overrides.items():
        typer.echo(f"  {k}: {v}")
    shown = r.best_file.relative_to(PROJECT_DIR) if r.best_file.is_relative_to(PROJECT_DIR) else r.best_file
    typer.echo(f"override file: {r.best_file}")
    typer.echo(f"  use it from experiments/<name>.yaml:  overrides_from: {shown}")
    typer.echo(f"dashboard: optuna-dashboard {storage or paths.optuna_storage}")


@app.command("promote")
def promote_command(challenger: str = typer.Argument(..., help="model version, run id, or experiment name"),
                    force: bool = typer.Option(False, help="promote even if not earned (needs --reason)"),
                    reason: str | None = typer.Option(None, help="why it is forced (kept on the version)")):
    """Move 'champion' to the challenger only if it beats the champion on the same backtest by the margin."""
    from experiments.runner import list_experiments
    from nexus.errors import NexusError
    from training.promote import promote
    from training.runs import find_experiment_run

    params, paths, _ = _context()
    ref = challenger
    if challenger in list_experiments():
        ref = find_experiment_run(paths, params.training.experiment_name, challenger)
        if ref is None:
            raise NexusError(f"experiment {challenger!r} has no finished run; run it first")
    d = promote(params, paths, ref, force=force, reason=reason)
    if d.comparison is not None:
        typer.echo(comparison_text(d.comparison))
    typer.echo(d.reason)
    if d.promoted:
        was = f" (was v{d.champion})" if d.champion else ""
        typer.echo(f"{'FORCED' if d.forced else 'promoted'}: {params.scoring.model_name} v{d.challenger} "
                   f"is now 'champion'{was}")
    elif d.champion != d.challenger:
        raise NexusError(f"promotion refused: v{d.challenger} did not earn 'champion' from v{d.champion} "
                         "(--force --reason '…' overrides it, recorded on the version)")


def comparison_text(table) -> str:
    """Champion and challenger side by side: value [interval] per metric, and their paired difference."""
    import pandas as pd

    rows = []
    challenger = list(dict.fromkeys(table["entry"]))[-1]
    for metric, g in table.groupby("metric", sort=False):
        row = {"metric": metric}
        for r in g.itertuples():
            row[r.entry] = f"{r.value:.4f} [{r.low:.4f}, {r.high:.4f}]"
        ch = g[g["entry"] == challenger].iloc[0]
        row["difference"] = f"{ch['diff']:+.4f} [{ch['diff_low']:+.4f}, {ch['diff_high']:+.4f}]"
        rows.append(row)
    return pd.DataFrame(rows).to_string(index=False)
