"""`nexus train`: backtest, fit, log and register — the training stage's command.

`train_and_report` is the stage as `nexus run` chains it: it prints the development table,
the holdout table (reported, never chosen on) and the champion verdict.
"""

from __future__ import annotations

import typer

from nexus.console import load_with_raw, progress, settle_heap

app = typer.Typer(add_completion=False)


@app.command()
def train(force: bool = typer.Option(False, help="retrain even if up to date")):
    """Backtest XGBoost against baselines by rolling origin, fit, log to MLflow, register."""
    from features.cli import build_and_report

    params, paths = load_with_raw(None)
    train_and_report(params, paths, build_and_report(params, paths), force)


def train_and_report(params, paths, build, force: bool = False):
    """Train (or reuse) the model on `build`'s panel and print what was measured."""
    from training.train import pooled_table
    from training.train import train as run_training

    settle_heap()  # after the model libraries' imports: the backtest's collections skip them
    result = run_training(params, paths, build, force=force, progress=progress)
    m = result.metrics
    state = "trained" if result.trained else "up to date"
    typer.echo(f"train: {state}; {m['model_name']} version {m['model_version']} (run {m['run_id'][:8]}), "
               f"K={m['n_members']} boosters, calibration {m['calibration']['method']}")
    dev, hold = m["development_origins"], m["holdout_origins"]
    level = f"{params.training.bootstrap.level:.0%}"
    typer.echo(f"development origins {dev[0]}–{dev[-1]} ({m['rows']['development']} rows; [{level} block "
               "bootstrap over countries and origins]):")
    typer.echo(pooled_table(m).to_string(index=False))
    if hold:
        typer.echo(f"holdout origins {hold[0]}–{hold[-1]} ({m['rows']['holdout']} rows; reported, never chosen on):")
        typer.echo(pooled_table(m, "pooled_holdout").to_string(index=False))
    unused = unused_features(m)
    if unused:
        share = params.training.ensemble.min_feature_coverage
        typer.echo(f"too sparse for every backtest origin ({len(unused)} of {len(m['features'])} features, "
                   f"observed in fewer than {share:.0%} of each origin's rows; "
                   "training.ensemble.min_feature_coverage), so never measured and not served: "
                   + ", ".join(unused))
    champion = m.get("champion")
    if champion:
        verdict = "champion" if champion["promoted"] else "not champion"
        typer.echo(f"{verdict}: {champion['reason']}")
    return result


def unused_features(metrics: dict) -> list[str]:
    """The chosen features no backtest origin could use (too sparse where it forecast)."""
    used = {f for names in metrics.get("features_by_origin", {}).values() for f in names}
    return [f for f in metrics.get("features", []) if f not in used]
