"""`nexus serve` and `nexus token create|list|revoke`: the scoring service and its API tokens.

Imports stay inside the commands, so `nexus --help` does not load FastAPI or MLflow.
"""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(add_completion=False)
token_app = typer.Typer(no_args_is_help=True,
                        help="API tokens for the service: create (shown once), list, revoke.")
app.add_typer(token_app, name="token")


def _context():
    from nexus.cli import STATE, current_params

    params, paths = current_params()
    return params, paths, Path(STATE["ctx"].params_path).resolve().parent


def _tokens():
    from scoring.db import make_engine, resolve_database_url
    from scoring.tokens import TokenStore

    params, _, base = _context()
    return TokenStore(make_engine(resolve_database_url(params.scoring.service.database_url, base)))


@app.command()
def serve(host: str | None = typer.Option(None, help="address to bind (default: scoring.service.host)"),
          port: int | None = typer.Option(None, help="port (default: scoring.service.port)"),
          log_level: str = typer.Option("info", help="uvicorn log level")):
    """Serve scores, explanations, reviews and the reviewer page (one process, one worker)."""
    import uvicorn

    from nexus.cli import progress
    from scoring.service import create_app

    params, paths, base = _context()
    service = params.scoring.service
    host, port = host or service.host, port or service.port
    app_ = create_app(params, paths, base_dir=base, progress=progress)
    progress(f"reviews and tokens in {app_.state.database_url}")
    progress(f"reviewer page http://{host}:{port}/review · API docs http://{host}:{port}/docs")
    # One worker: review status and loaded models live in this process's memory.
    uvicorn.run(app_, host=host, port=port, log_level=log_level, workers=1)


@token_app.command("create")
def token_create(role: str = typer.Option(..., help="program | reviewer | admin"),
                 name: str = typer.Option(..., help="who or what uses the token")):
    """Create a token and print it once; only its SHA-256 is stored."""
    issued = _tokens().create(name, role)
    typer.echo(f"created token {issued.info.id} for {issued.info.name!r} (role {issued.info.role}); "
               "it is shown only now:", err=True)
    typer.echo(issued.secret)


@token_app.command("list")
def token_list():
    """List tokens (never their secrets)."""
    tokens = _tokens().list()
    if not tokens:
        typer.echo("no tokens yet: nexus token create --role reviewer --name NAME")
    for t in tokens:
        state = f"revoked {t.revoked_at}" if t.revoked_at else "active"
        typer.echo(f"{t.id}  {t.role:<8}  {t.name:<30}  created {t.created_at}  {state}")


@token_app.command("revoke")
def token_revoke(token_id: str = typer.Argument(..., help="the id shown by 'nexus token list'")):
    """Revoke a token; a running service stops accepting it within a few seconds."""
    info = _tokens().revoke(token_id)
    typer.echo(f"revoked {info.id} ({info.name}, {info.role}) at {info.revoked_at}")
