"""`nexus score` and `nexus explain`: the scoring stage's commands.

`score_and_report` and `print_explanation` are the stage as `nexus run` chains it. The service's
commands (`nexus serve`, `nexus token …`) live with the service in `service/cli.py`.
"""

from __future__ import annotations

from pathlib import Path

import typer

from nexus.console import load_with_raw, progress

app = typer.Typer(add_completion=False)


@app.command()
def score(year: int | None = typer.Option(None, help="print only this year (all years are stored)"),
          iso3: str | None = typer.Option(None, help="print only this country"),
          version: str | None = typer.Option(None, help="model version (default: the params' alias)"),
          alias: str | None = typer.Option(None, help="model alias (default: scoring.model_alias)"),
          force: bool = typer.Option(False)):
    """Score every country-year with a registered model; store scores and SHAP values."""
    params, paths = load_with_raw(None)
    build = score_and_report(params, paths, alias=alias, version=version, force=force)
    print_scores(build, year, iso3)


def score_and_report(params, paths, alias=None, version=None, force: bool = False):
    """Score (or reuse the scores) and print one line saying which model scored how many rows."""
    from scoring.score import score as run_scoring

    build = run_scoring(params, paths, alias=alias, version=version, force=force, progress=progress)
    e = build.manifest.extra
    from scoring.prepared import ensure_prepared  # what `nexus serve` starts from

    ensure_prepared(params, paths, e["model_name"], str(e["model_version"]), progress)
    typer.echo(f"score: {'built' if build.built else 'up to date'}; {e['rows']} country-years scored with "
               f"{e['model_name']} v{e['model_version']} → {build.directory / 'scores.csv'}")
    return build


def print_scores(build, year: int | None, iso3: str | None) -> None:
    """The top 20 of one year (default: the latest), or one country's rows."""
    from nexus.errors import NexusError
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
    params, paths = load_with_raw(None)
    build = score_and_report(params, paths, alias=alias, version=version)
    print_explanation(params, build, iso3.upper(), year, plot)


def print_explanation(params, build, iso3: str, year: int, plot: Path | None) -> None:
    """Headline, top drivers, family sums, and the waterfall PNG of one country-year."""
    from scoring.explain import explain_country_year, plot_waterfall

    e = explain_country_year(params, build.directory, iso3, year)
    s = e.score
    typer.echo(f"{iso3} {s['country']} {year} → tier of {s['target_year']}: probability {s['probability']:.3f} "
               f"({s['band']}), coverage {s['coverage']:.0%}, {s['model_name']} v{s['model_version']}"
               f"{' (in training: fitted, not a forecast)' if s['in_training'] else ''}")
    typer.echo(e.drivers.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    typer.echo("by family (log-odds): " + ", ".join(f"{k} {v:+.3f}" for k, v in e.families.items()))
    path = plot or build.directory / f"waterfall_{iso3}_{year}.png"
    plot_waterfall(e.explanation, path)
    typer.echo(f"waterfall → {path}")
