"""The scoring service: one FastAPI app for program teams (scores), reviewers (explanations,
reviews, the reviewer page) and admins (tokens).

`create_app` builds it from params, so tests run it in-process and `nexus serve` runs it under
uvicorn. The champion's stored scores, SHAP values and panel are loaded into memory after
startup, from its serving artifact when it has one (scoring/prepared.py: one folder, no MLflow
import); until then `/v1/ready` answers 503 with the reason, and so does every data request.
Errors are answered, never raised as 500s: unknown country, year, alias or version → 404
naming what exists; malformed input → 422 naming the field; a body over
scoring.service.max_body_bytes → 413; a default alias pointing nowhere, a broken artifact, or a
model card missing a field → 503 with the reason (the version and field). `service.problems`
writes these answers (JSON for the API, the problem page for the reviewer page).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from nexus.config import Params, PathsParams
from service.catalog import ModelCatalog
from service.db import make_engine, resolve_database_url
from service.pages import STATIC_DIR
from service.problems import install as install_problems
from service.reviews import ReviewStore
from service.tokens import TokenStore
from service.vocabulary import PERMISSIONS

ALIAS_REFRESH_SECONDS = 30.0  # how soon a promoted model is served without a restart
log = logging.getLogger("nexus.service")


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

    install_problems(app)

    from service.api import router as api_router
    from service.brief import router as brief_router
    from service.provenance import router as provenance_router
    from service.web import router as web_router

    app.include_router(api_router)
    app.include_router(web_router)
    app.include_router(provenance_router)  # /review/{iso3}/{year}/sources.csv
    app.include_router(brief_router)  # /v1/briefs/{year}/{iso3}.pdf; its lifespan closes the browser
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

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
