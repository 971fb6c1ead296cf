"""`nexus serve` and `nexus token create|list|revoke`: the scoring service and its API tokens.

Imports stay inside the commands, so `nexus --help` does not load FastAPI or MLflow.
"""

from __future__ import annotations

import typer

app = typer.Typer(add_completion=False)
token_app = typer.Typer(no_args_is_help=True,
                        help="API tokens for the service: create (shown once), list, revoke.")
app.add_typer(token_app, name="token")


def _tokens():
    from nexus.console import current_params, session
    from service.db import make_engine, resolve_database_url
    from service.tokens import TokenStore

    params, _ = current_params()
    url = resolve_database_url(params.scoring.service.database_url, session().base_dir)
    return TokenStore(make_engine(url))


@app.command()
def serve(host: str | None = typer.Option(None, help="address to bind (default: scoring.service.host)"),
          port: int | None = typer.Option(None, help="port (default: scoring.service.port)"),
          log_level: str = typer.Option("info", help="uvicorn log level")):
    """Serve scores, explanations, reviews and the reviewer page (one process, one worker)."""
    import uvicorn

    from nexus.console import current_params, progress, session
    from nexus.tracking import masked
    from service.app import create_app

    params, paths = current_params()
    service = params.scoring.service
    host, port = host or service.host, port or service.port
    app_ = create_app(params, paths, base_dir=session().base_dir, progress=progress)
    progress(f"reviews and tokens in {masked(app_.state.database_url)}")
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
    """List tokens (never their secrets); control characters in a name are shown escaped, as stored."""
    from service.text import visible

    tokens = _tokens().list()
    if not tokens:
        typer.echo("no tokens yet: nexus token create --role reviewer --name NAME")
    for t in tokens:
        state = f"revoked {t.revoked_at}" if t.revoked_at else "active"
        typer.echo(f"{t.id}  {t.role:<8}  {visible(t.name):<30}  created {t.created_at}  {state}")


@token_app.command("revoke")
def token_revoke(token_id: str = typer.Argument(..., help="the id shown by 'nexus token list'")):
    """Revoke a token; a running service stops accepting it within a few seconds."""
    from service.text import visible

    info = _tokens().revoke(token_id)
    typer.echo(f"revoked {info.id} ({visible(info.name)}, {info.role}) at {info.revoked_at}")
