"""The `nexus` command: the root that composes each stage's commands; nothing imports it.

Each stage keeps its own commands beside its code (`features/cli.py`: world, sources, features,
data fetch; `training/cli.py`: train; `scoring/cli.py`: score, explain; `service/cli.py`: serve,
token; `experiments/cli.py`: run, results, experiment, tune, promote) and reads the session —
params file, `--set` overrides, `--debug` — from `nexus.console`.

Results go to stdout, progress to stderr. A NexusError prints one line and exits non-zero
(config errors exit 2); usage errors are one line with exit 2; tracebacks only with --debug.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

import experiments.cli
import features.cli
import scoring.cli
import service.cli
import training.cli
from nexus.console import open_session, session
from nexus.errors import NexusError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Proxy-signal risk scores for the trafficking–corruption nexus.")


@app.callback()
def main(
    params: Path = typer.Option(Path("params.yaml"), "--params", help="params file (every parameter lives here)"),
    set_: list[str] = typer.Option([], "--set", help="override a key: --set training.xgb.max_depth=6 (repeatable)"),
    debug: bool = typer.Option(False, "--debug", help="show tracebacks"),
):
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    open_session(params, set_, debug)


# The stages' commands, lowest floor first.
for stage_app in (features.cli.app, training.cli.app, scoring.cli.app, service.cli.app, experiments.cli.app):
    app.add_typer(stage_app)


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
        if session().debug:
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
