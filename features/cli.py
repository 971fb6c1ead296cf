"""`nexus data fetch` and the per-source summary `nexus sources` prints: thin commands over library calls.

Registered in nexus/cli.py; params and the progress printer come from there, imported lazily.
"""

from __future__ import annotations

from pathlib import Path

import typer

data_app = typer.Typer(no_args_is_help=True, help="The publishers' files: fetch them into the raw folder.")


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
    from nexus.cli import load_with_raw, progress

    _, paths = load_with_raw(raw)
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


def source_summary(source, raw: Path, calendar_mode: str | None = None) -> str:
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
        frame = validate_source_frame(source, source.build(files))
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
