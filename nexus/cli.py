"""The `nexus` command: one subcommand per stage, plus `run` for the whole chain.

Results go to stdout, progress to stderr. A NexusError prints one line and exits non-zero
(config errors exit 2); tracebacks only with --debug.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import typer

from nexus.errors import NexusError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Proxy-signal risk scores for the trafficking–corruption nexus.")


@dataclass
class Context:
    params_path: Path
    overrides: list[str]
    debug: bool

    def load(self):
        from nexus.config import load_params

        params = load_params(self.params_path, self.overrides)
        return params, params.resolved_paths(self.params_path.resolve().parent)


STATE: dict[str, Context] = {}


def _progress(msg: str) -> None:
    typer.echo(f"  · {msg}", err=True)


def _ctx() -> Context:
    return STATE["ctx"]


def current_params():
    """(Params, resolved PathsParams) for the running command: for subcommands defined elsewhere."""
    return _ctx().load()


def progress(msg: str) -> None:
    _progress(msg)


def load_with_raw(raw: Path | None, extra: list[str] | tuple[str, ...] = ()):
    """(Params, resolved paths) with paths.raw replaced by `raw` when given (relative to the cwd)."""
    from nexus.config import load_params

    ctx = _ctx()
    overrides = [*ctx.overrides, *([f"paths.raw={raw.resolve()}"] if raw is not None else []), *extra]
    params = load_params(ctx.params_path, overrides)
    return params, params.resolved_paths(ctx.params_path.resolve().parent)


@app.callback()
def main(
    params: Path = typer.Option(Path("params.yaml"), "--params", help="params file (every parameter lives here)"),
    set_: list[str] = typer.Option([], "--set", help="override a key: --set training.xgb.max_depth=6 (repeatable)"),
    debug: bool = typer.Option(False, "--debug", help="show tracebacks"),
):
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    STATE["ctx"] = Context(params, list(set_), debug)


@app.command()
def world(force: bool = typer.Option(False, help="rewrite the files even if present"),
          scale: int | None = typer.Option(None, min=1, help="event tables × N (default world.scale); N > 1 adds "
                                           "the scale profile: OCDS, bid, crossing, court and press tables")):
    """Write the synthetic world's raw files (fictional countries XAA–XZZ) into paths.raw."""
    from features.synthetic_events import world_scale

    params, paths = load_with_raw(None, [f"world.scale={scale}"] if scale is not None else [])
    present = world_scale(paths.raw) if (paths.raw / "planted_truth.json").exists() else None
    written = _write_world(params, paths, force)
    note = (f" at scale {present}; rewrite at scale {params.world.scale} with --force"
            if not written and present != params.world.scale else "")
    typer.echo(f"world: {'written' if written else 'present'} in {paths.raw}{note}")


def _write_world(params, paths, force: bool) -> bool:
    from features.synthetic import write_world
    from nexus.errors import ConfigError

    if (paths.raw / "planted_truth.json").exists() and not force:
        return False
    if paths.raw.is_dir() and any(paths.raw.iterdir()) and not (paths.raw / "planted_truth.json").exists():
        raise ConfigError(_ctx().params_path, "paths.raw",
                          f"{paths.raw} holds files that are not a synthetic world (no planted_truth.json); "
                          "nexus writes the world only into an empty folder (for real data set "
                          "world.generate: false, or use --params params.real.yaml)")
    w = params.world
    write_world(paths.raw, params.seed, w.n_countries, w.first_year, w.last_year,
                w.crossing_events_per_country_year, w.processes_per_country_year, progress=_progress,
                scale=w.scale, court_cases_per_country_year=w.court_cases_per_country_year,
                press_incidents_per_country_year=w.press_incidents_per_country_year)
    return True


@app.command()
def sources(raw: Path | None = typer.Option(None, "--raw", help="summarize these files (default: paths.raw)"),
            coverage: bool = typer.Option(True, help="build each source to report its years and countries")):
    """List the registered sources: columns, lag, lineage, and the years and countries in the raw folder."""
    from features.cli import source_summary
    from features.registry import list_sources

    params, paths = load_with_raw(raw)
    for s in list_sources():
        cols = ", ".join(s.columns)
        lineage = ", ".join(s.lineage) or "—"
        typer.echo(f"{s.name:<24} {s.family:<12} lag {s.calendar.lag_label(params.features.calendar)}y  "
                   f"lineage: {lineage}\n{'':<24} {s.publisher}\n{'':<24} columns: {cols}")
        if coverage:
            summary = source_summary(s, paths.raw, params.features.calendar).replace("\n", "\n" + " " * 25)
            typer.echo(f"{'':<24} in {paths.raw}: {summary}")


@app.command()
def features(force: bool = typer.Option(False, help="rebuild even if up to date")):
    """Build the country-year panel from the raw files (skips when inputs are unchanged)."""
    params, paths = _ctx().load()
    _features(params, paths, force)


def _features(params, paths, force=False):
    from features.distributed import build_features  # plain build unless params dask.enabled

    build = build_features(params.features, params.dask, paths.raw, paths.artifacts, force=force,
                           progress=_progress)
    m = build.manifest
    state = "built" if build.built else "up to date"
    typer.echo(f"features: {state} ({m.key.split(':')[-1][:12]}) {m.extra['rows']} rows × {m.extra['columns']} "
               f"columns, {m.extra['countries']} countries → {build.panel_path}")
    return build


@app.command()
def train(force: bool = typer.Option(False, help="retrain even if up to date")):
    """Backtest XGBoost against baselines by rolling origin, fit, log to MLflow, register."""
    params, paths = _ctx().load()
    _train(params, paths, _features(params, paths), force)


def _train(params, paths, build, force=False):
    from training.train import pooled_table
    from training.train import train as run_training

    result = run_training(params, paths, build, force=force, progress=_progress)
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
    champion = m.get("champion")
    if champion:
        verdict = "champion" if champion["promoted"] else "not champion"
        typer.echo(f"{verdict}: {champion['reason']}")
    return result


@app.command()
def score(year: int | None = typer.Option(None, help="print only this year (all years are stored)"),
          iso3: str | None = typer.Option(None, help="print only this country"),
          version: str | None = typer.Option(None, help="model version (default: the params' alias)"),
          alias: str | None = typer.Option(None, help="model alias (default: scoring.model_alias)"),
          force: bool = typer.Option(False)):
    """Score every country-year with a registered model; store scores and SHAP values."""
    params, paths = _ctx().load()
    build = _score(params, paths, alias=alias, version=version, force=force)
    _print_scores(build, year, iso3)


def _score(params, paths, alias=None, version=None, force=False):
    from scoring.score import score as run_scoring

    build = run_scoring(params, paths, alias=alias, version=version, force=force, progress=_progress)
    e = build.manifest.extra
    typer.echo(f"score: {'built' if build.built else 'up to date'}; {e['rows']} country-years scored with "
               f"{e['model_name']} v{e['model_version']} → {build.directory / 'scores.csv'}")
    return build


def _print_scores(build, year, iso3):
    from scoring.score import load_scores

    scores, *_ = load_scores(build.directory)
    if year is None and iso3 is None:
        year = int(scores["year"].max())
    view = scores
    if year is not None:
        view = view[view["year"] == year]
    if iso3 is not None:
        view = view[view["iso3"] == iso3.upper()]
    if view.empty:
        raise NexusError(f"no scores for {iso3 or 'any country'} in {year}; years "
                         f"{scores['year'].min()}–{scores['year'].max()}")
    cols = ["iso3", "country", "year", "target_year", "probability", "band", "coverage"]
    typer.echo(view.sort_values("probability", ascending=False)[cols].head(20).to_string(index=False,
               float_format=lambda v: f"{v:.3f}"))


@app.command()
def explain(iso3: str = typer.Option(..., help="country code, e.g. XAB"),
            year: int = typer.Option(..., help="scoring year"),
            plot: Path | None = typer.Option(None, help="waterfall PNG path (default: beside the scores)"),
            version: str | None = typer.Option(None), alias: str | None = typer.Option(None)):
    """Print a country-year's top SHAP drivers with their values, and write a waterfall PNG."""
    params, paths = _ctx().load()
    build = _score(params, paths, alias=alias, version=version)
    _explain(params, build, iso3.upper(), year, plot)


def _explain(params, build, iso3, year, plot):
    import pandas as pd

    from features.panel import load_panel
    from scoring.explain import plot_waterfall, stored_explanation, top_drivers
    from scoring.score import load_scores

    scores, shap_values, families, manifest = load_scores(build.directory)
    match = shap_values[(shap_values["iso3"] == iso3) & (shap_values["year"] == year)]
    if match.empty:
        known = sorted(scores["iso3"].unique())
        hint = (f"years {scores['year'].min()}–{scores['year'].max()}" if iso3 in known
                else f"known countries: {', '.join(known[:8])}, …")
        raise NexusError(f"no explanation for {iso3} {year}; {hint}")
    from training.targets import add_targets

    panel, catalog, _ = load_panel(Path(manifest.extra["features_dir"]))
    panel = add_targets(panel, params.training.target, params.training.horizon_years)  # current placement too
    values = panel[(panel["iso3"] == iso3) & (panel["year"] == year)].iloc[0]
    features = [c for c in shap_values.columns if c not in ("iso3", "year", "base_value")]
    row = match.iloc[0]
    s = scores[(scores["iso3"] == iso3) & (scores["year"] == year)].iloc[0]
    typer.echo(f"{iso3} {s['country']} {year} → tier of {s['target_year']}: probability {s['probability']:.3f} "
               f"({s['band']}), coverage {s['coverage']:.0%}, {s['model_name']} v{s['model_version']}"
               f"{' (in training: fitted, not a forecast)' if s['in_training'] else ''}")
    drivers = top_drivers(row, values, features, catalog, params.scoring.top_drivers)
    typer.echo(drivers.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    fam = families[(families["iso3"] == iso3) & (families["year"] == year)].drop(columns=["iso3", "year"]).iloc[0]
    typer.echo("by family (log-odds): " + ", ".join(f"{k} {v:+.3f}" for k, v in fam.items()))
    path = plot or build.directory / f"waterfall_{iso3}_{year}.png"
    plot_waterfall(stored_explanation(row, pd.Series(values), features), path)
    typer.echo(f"waterfall → {path}")


@app.command()
def run(force: bool = typer.Option(False, help="rebuild every stage"),
        raw: Path | None = typer.Option(None, "--raw", help="read the raw files here (overrides paths.raw)")):
    """The whole chain: (synthetic world, if world.generate) → features → train → score → explain."""
    params, paths = load_with_raw(raw)
    timings = {}
    t0 = time.perf_counter()
    if params.world.generate:
        _write_world(params, paths, force)
    timings["world"] = time.perf_counter() - t0
    t = time.perf_counter()
    build = _features(params, paths, force)
    timings["features"] = time.perf_counter() - t
    t = time.perf_counter()
    result = _train(params, paths, build, force)
    timings["train"] = time.perf_counter() - t
    t = time.perf_counter()
    scored = _score(params, paths, version=result.metrics["model_version"], force=force)
    timings["score"] = time.perf_counter() - t
    from scoring.score import load_scores

    scores, *_ = load_scores(scored.directory)
    latest = int(scores["year"].max())
    top = scores[scores["year"] == latest].sort_values("probability", ascending=False).iloc[0]
    t = time.perf_counter()
    _explain(params, scored, top["iso3"], latest, None)
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
    """Train every variant and horizon, score, and write the results page (experiments/results.py)."""
    from experiments.results import command_line, write_results

    params, paths = load_with_raw(raw)
    ctx = _ctx()
    page = write_results(params, paths, out, command=command_line(ctx.params_path, raw, ctx.overrides),
                         force=force, progress=_progress)
    typer.echo(f"results: {page}")


# Subcommands that live with their stage (one line each; keep this block sorted).
from experiments.cli import experiment_app, promote_command, tune_command  # noqa: E402

app.add_typer(experiment_app, name="experiment")
app.command("promote")(promote_command)
app.command("tune")(tune_command)
app.add_typer(__import__("features.cli", fromlist=["data_app"]).data_app, name="data")  # nexus data fetch
app.add_typer(__import__("scoring.cli", fromlist=["app"]).app)  # nexus serve, nexus token create|list|revoke
# nexus-subcommands: end


def cli() -> None:
    """Console-script entry: one-line errors, tracebacks only with --debug.

    Typer bundles its own click (typer._click): its usage errors are not subclasses of the
    separately installed click's, so both families are caught; a usage error exits 2.
    """
    import click
    from typer._click import exceptions as typer_click

    try:
        code = app(standalone_mode=False)
    except NexusError as exc:
        if STATE.get("ctx") and STATE["ctx"].debug:
            raise
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except (click.ClickException, typer_click.ClickException) as exc:
        if isinstance(exc, typer_click.NoArgsIsHelpError):
            exc.show()
            sys.exit(2)
        message = exc.format_message().strip().splitlines()[0] if exc.format_message().strip() else str(exc)
        ctx = getattr(exc, "ctx", None)
        where = f"{ctx.command_path}: " if ctx is not None else "nexus: "
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else " (see 'nexus --help')"
        typer.echo(f"error: {where}{message}{hint}", err=True)
        sys.exit(2 if isinstance(exc, click.UsageError | typer_click.UsageError) else exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        typer.echo("aborted", err=True)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
