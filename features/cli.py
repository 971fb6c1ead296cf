"""`nexus world`, `sources`, `features`, `measurement-map` and `data fetch`: the feature stage's commands.

Thin commands over library calls; the params, `--set` overrides and the progress printer come
from `nexus.console`. `build_and_report` is the stage as `nexus run` chains it.
"""

from __future__ import annotations

from pathlib import Path

import typer

from nexus.console import load_with_raw, progress, session

app = typer.Typer(add_completion=False)
data_app = typer.Typer(no_args_is_help=True, help="The publishers' files: fetch them into the raw folder.")
app.add_typer(data_app, name="data")


@app.command()
def world(force: bool = typer.Option(False, help="rewrite the files even if present"),
          scale: int | None = typer.Option(None, min=1, help="event tables × N (default world.scale); N > 1 adds "
                                           "the scale profile: OCDS, bid, crossing, court and press tables")):
    """Write the synthetic world's raw files (fictional countries XAA–XZZ) into paths.raw."""
    from features.synthetic import world_scale

    params, paths = load_with_raw(None, [f"world.scale={scale}"] if scale is not None else [])
    present = world_scale(paths.raw) if (paths.raw / "planted_truth.json").exists() else None
    written = write_world_once(params, paths, force)
    note = (f" at scale {present}; rewrite at scale {params.world.scale} with --force"
            if not written and present != params.world.scale else "")
    typer.echo(f"world: {'written' if written else 'present'} in {paths.raw}{note}")


def write_world_once(params, paths, force: bool) -> bool:
    """Write the synthetic world unless one is present; refuse a raw folder that holds other files."""
    from features.synthetic import write_world
    from nexus.errors import ConfigError

    if (paths.raw / "planted_truth.json").exists() and not force:
        return False
    if paths.raw.is_dir() and any(paths.raw.iterdir()) and not (paths.raw / "planted_truth.json").exists():
        raise ConfigError(session().params_path, "paths.raw",
                          f"{paths.raw} holds files that are not a synthetic world (no planted_truth.json); "
                          "nexus writes the world only into an empty folder (for real data set "
                          "world.generate: false, or use --params params.real.yaml)")
    w = params.world
    write_world(paths.raw, params.seed, w.n_countries, w.first_year, w.last_year,
                w.crossing_events_per_country_year, w.processes_per_country_year, progress=progress,
                scale=w.scale, court_cases_per_country_year=w.court_cases_per_country_year,
                press_incidents_per_country_year=w.press_incidents_per_country_year)
    return True


@app.command()
def sources(raw: Path | None = typer.Option(None, "--raw", help="summarize these files (default: paths.raw)"),
            coverage: bool = typer.Option(True, help="build each source to report its years and countries")):
    """List the registered sources: columns, lag, lineage, and the years and countries in the raw folder."""
    from features.build_context import BuildContext
    from features.registry import list_sources
    from features.sources._yaml_sources import load_source_dirs

    params, paths = load_with_raw(raw)
    load_source_dirs(params.features.source_dirs)  # YAML sources in the params' folders (docs/sources.md)
    for s in list_sources():
        cols = ", ".join(f"{c} (label construct: not a default feature)" if c in s.label_construct else c
                         for c in s.columns)
        lineage = ", ".join(s.lineage) or "—"
        typer.echo(f"{s.name:<24} {s.family:<12} lag {s.calendar.lag_label(params.features.calendar)}y  "
                   f"lineage: {lineage}\n{'':<24} {s.publisher}\n{'':<24} columns: {cols}")
        if coverage:
            context = BuildContext.for_policy(params.features.bad_input, ocds_engine=params.features.ocds_engine)
            summary = source_summary(s, paths.raw, params.features.calendar, context).replace("\n", "\n" + " " * 25)
            typer.echo(f"{'':<24} in {paths.raw}: {summary}")


@app.command()
def features(force: bool = typer.Option(False, help="rebuild even if up to date")):
    """Build the country-year panel from the raw files (skips when inputs are unchanged)."""
    params, paths = load_with_raw(None)
    build_and_report(params, paths, force)


def build_and_report(params, paths, force: bool = False):
    """Build (or reuse) the panel and print one line saying which."""
    from features.panel import build_features  # on a Dask cluster when params dask.enabled

    build = build_features(params.features, params.dask, paths.raw, paths.artifacts, force=force,
                           progress=progress)
    m = build.manifest
    state = "built" if build.built else "up to date"
    typer.echo(f"features: {state} ({m.key.split(':')[-1][:12]}) {m.extra['rows']} rows × {m.extra['columns']} "
               f"columns, {m.extra['countries']} countries → {build.panel_path}")
    return build


@app.command("measurement-map")
def measurement_map(
    raw: Path | None = typer.Option(None, "--raw", help="read the raw files here (not paths.raw)"),
    out: Path = typer.Option(Path("docs/measurement-map.md"), help="the page (the figure beside it, .png)"),
):
    """Correlations among the trafficking and corruption measures, lineage drawn, shared inputs removed."""
    from features.measurement_map import build_map
    from features.measurement_map_page import write_page

    params, paths = load_with_raw(raw)
    build = build_and_report(params, paths)
    shown = session().shown_command("measurement-map", raw)
    panel = build.manifest.outputs["panel.parquet"][:len("sha256:") + 12]  # its content, not its build key
    page, figure = write_page(build_map(build.directory), out, panel, shown)
    typer.echo(f"measurement map: {page} (and {figure})")


@data_app.command("fetch")
def fetch_command(
    raw: Path | None = typer.Option(None, "--raw", help="folder to fill (default: paths.raw of the params)"),
    base_url: str | None = typer.Option(
        None, "--base-url", help="fetch <base-url>/<file> from a mirror instead"
    ),
    only: list[str] = typer.Option([], "--only", help="only files whose path contains this (repeatable)"),
    force: bool = typer.Option(False, help="download even when the documented vintage is present"),
):
    """Download each source from its publisher's address, verify it, put it in place, and report."""
    from features.fetch import fetch
    from features.sources._yaml_sources import load_source_dirs

    params, paths = load_with_raw(raw)
    load_source_dirs(params.features.source_dirs)
    results = fetch(paths.raw, base_url=base_url, only=only, force=force, progress=progress)
    for r in results:
        size = f"{r.size / 1e6:6.2f} MB" if r.size else " " * 9
        typer.echo(
            f"{r.status:<8} {size}  {r.target}\n{'':<19}{r.detail}"
            + (f" (sha256 {r.sha256[:12]}…)" if r.sha256 else "")
        )
    failed = [r for r in results if r.status == "failed"]
    manual = [r for r in results if r.status == "by hand"]
    typer.echo(
        f"data fetch: {sum(r.ok for r in results)} of {len(results)} files in place in {paths.raw}; "
        f"{len(manual)} to get by hand, {len(failed)} failed"
    )
    if failed:
        raise typer.Exit(1)


def source_summary(source, raw: Path, calendar_mode: str | None, context) -> str:
    """Years covered, countries and rows of one source built from `raw` (or why it could not be built),
    its publication calendar, and every conflict between files its declared precedence settled."""
    from features.panel import validate_source_frame
    from features.registry import RESOLVED
    from nexus.errors import NexusError

    try:
        files = source.find_files(raw)
    except NexusError:
        return "no files under the raw folder"
    try:
        frame = validate_source_frame(source, source.build(files, context))
        if calendar_mode is not None:
            source.calendar.check(source.name, frame["year"].unique(), calendar_mode)
    except NexusError as exc:
        return f"cannot be built: {exc}"
    if frame.empty:
        return "built, but no rows"
    n_files = sum(len(f) for f in files.values())
    lines = [f"years {frame['year'].min()}–{frame['year'].max()}, {frame['iso3'].nunique()} countries, "
             f"{len(frame)} rows from {n_files} file{'s' if n_files != 1 else ''}"]
    if calendar_mode is not None:
        lines.append(f"published: {source.calendar.describe(calendar_mode)}")
    if RESOLVED in frame:
        settled = frame[frame[RESOLVED].fillna("").astype(str) != ""]
        lines.append(f"conflicts settled by the declared precedence: {len(settled)}")
        lines += [f"  {r['iso3']} {r['year']}: {r[RESOLVED]}" for _, r in settled.iterrows()]
    return "\n".join(lines)
