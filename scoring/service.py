"""The scoring service: one FastAPI app for program teams (scores), reviewers (explanations,
reviews, the reviewer page) and admins (tokens).

`create_app` builds it from params, so tests run it in-process and `nexus serve` runs it under
uvicorn. The champion's stored scores, SHAP values and panel are loaded into memory after
startup; until then `/v1/ready` answers 503 with the reason, and so does every data request.
Errors are answered, never raised as 500s: unknown country, year, alias or version → 404
naming what exists; malformed input → 422 naming the field; a default alias pointing nowhere,
a broken artifact, or a model card missing a field → 503 with the reason (the version and field).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from nexus.config import Params, PathsParams
from nexus.errors import NexusError
from scoring.catalog import ModelCatalog, ModelUnavailable, UnknownModel
from scoring.db import make_engine, resolve_database_url
from scoring.reviews import ReviewStore
from scoring.served import UnknownCountryYear
from scoring.tokens import PERMISSIONS, TokenInfo, TokenStore, roles_with

ALIAS_REFRESH_SECONDS = 30.0  # how soon a promoted model is served without a restart
WEB_DIR = Path(__file__).parent / "web"
log = logging.getLogger("nexus.service")

bearer = HTTPBearer(auto_error=False, description="an API token: `nexus token create --role R --name N`")


def problem(status: int, description: str) -> dict:
    """An OpenAPI `responses=` entry with the Problem body."""
    from scoring.schemas import Problem

    return {status: {"model": Problem, "description": description}}


# 422 (malformed request, naming the field) is declared by FastAPI itself for every operation with input.
AUTH_RESPONSES = (problem(401, "missing, unknown or revoked token")
                  | problem(403, "the token's role may not do this"))
DATA_RESPONSES = (AUTH_RESPONSES | problem(404, "unknown country, year, alias or version; names what exists")
                  | problem(503, "model not servable; the reason"))


def require(permission: str) -> Callable:
    """Dependency: the caller's token, which must exist, be active, and allow `permission`."""

    async def caller(request: Request,
                     credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> TokenInfo:
        if credentials is None:
            raise HTTPException(401, "missing bearer token (Authorization: Bearer <token>)",
                                headers={"WWW-Authenticate": "Bearer"})
        info = request.app.state.tokens.verify(credentials.credentials)
        if info is None:
            raise HTTPException(401, "unknown or revoked token", headers={"WWW-Authenticate": "Bearer"})
        if not info.may(permission):
            raise HTTPException(403, f"role {info.role!r} may not use {permission}; roles that may: "
                                     f"{', '.join(roles_with(permission))}")
        return info

    caller.__name__ = f"require_{permission}"
    return caller


def any_token() -> Callable:
    """Dependency: any active token, whatever its role."""

    async def caller(request: Request,
                     credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> TokenInfo:
        info = request.app.state.tokens.verify(credentials.credentials) if credentials else None
        if info is None:
            raise HTTPException(401, "missing, unknown or revoked token",
                                headers={"WWW-Authenticate": "Bearer"})
        return info

    return caller


def create_app(params: Params, paths: PathsParams, *, base_dir: Path | None = None,
               database_url: str | None = None, alias_refresh_seconds: float = ALIAS_REFRESH_SECONDS,
               progress: Callable[[str], None] | None = None) -> FastAPI:
    """The app, with its catalog of served models, token store and review store on `app.state`.

    `database_url` overrides `scoring.service.database_url`; a relative SQLite path is taken
    relative to `base_dir` (the params file's folder; default: the working directory).
    """
    from fastapi.staticfiles import StaticFiles
    from fastapi_offline import FastAPIOffline

    url = resolve_database_url(database_url or params.scoring.service.database_url, base_dir or Path.cwd())
    engine = make_engine(url)
    catalog = ModelCatalog(params, paths, progress=progress)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        loading = asyncio.create_task(asyncio.to_thread(catalog.start))
        refresher = asyncio.create_task(_refresh_forever(catalog, alias_refresh_seconds))
        try:
            yield
        finally:
            refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(loading, timeout=60)
            with contextlib.suppress(asyncio.CancelledError):
                await refresher
            engine.dispose()

    app = FastAPIOffline(
        title="nexus scoring service", version="1",
        description=("Risk scores for the trafficking–corruption nexus from the registered champion model: "
                     "the calibrated probability the backtest measured, its Venn-Abers interval and "
                     "conformal set; their SHAP explanations; and reviewers' sign-offs. `/v1/models` says "
                     "which baselines the served version beats on the development origins. Authenticate with "
                     "`Authorization: Bearer <token>`; roles: " +
                     "; ".join(f"**{r}**: {', '.join(sorted(p))}" for r, p in PERMISSIONS.items()) + "."),
        lifespan=lifespan, swagger_ui_parameters={"persistAuthorization": True},
    )
    app.state.params, app.state.paths = params, paths
    app.state.catalog = catalog
    app.state.tokens = TokenStore(engine)
    app.state.reviews = ReviewStore(engine)
    app.state.database_url = url

    @app.exception_handler(UnknownCountryYear)
    @app.exception_handler(UnknownModel)
    async def _not_found(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.detail == "There was an error parsing the body":
            # FastAPI's answer to a body that is not UTF-8 text; malformed input is a 422 here, always
            return JSONResponse({"detail": [{"type": "json_invalid", "loc": ["body"], "input": None,
                                             "msg": "the body is not UTF-8 JSON text"}]}, status_code=422)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(NexusError)
    async def _unavailable(request: Request, exc: NexusError) -> JSONResponse:
        if not isinstance(exc, ModelUnavailable):
            log.warning("serving error: %s", exc)
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "30"})

    from scoring.api import router as api_router
    from scoring.web import router as web_router

    app.include_router(api_router)
    app.include_router(web_router)
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/review", status_code=303)

    return app


async def _refresh_forever(catalog: ModelCatalog, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            await asyncio.to_thread(catalog.refresh)
        except Exception:  # noqa: BLE001 - the loop must outlive one bad refresh
            log.exception("alias refresh failed")
