"""How the service answers a request it will not serve: one clear Problem, never a 500 or an echo.

The API (/v1) answers JSON; the reviewer page (/review) answers the site's problem page, so
a bad link or query value there is a page a person can read, not raw JSON. Bodies over
`scoring.service.max_body_bytes` are refused with 413 before any handler reads them, and a
422 quotes at most a short excerpt of the input, whatever its size. A 405 lists in `Allow`
every method the path supports, not only those of the first route that matched it.
"""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from nexus.errors import NexusError
from scoring.served import UnknownCountryYear
from service.auth import cookie_caller
from service.catalog import ModelUnavailable, UnknownModel
from service.pages import problem_page
from service.text import visible

EXCERPT_CHARS = 100  # the most of a rejected input a 422 quotes back
log = logging.getLogger("nexus.service")


def is_page(path: str) -> bool:
    return path == "/review" or path.startswith("/review/")


def answer(request: Request, status: int, detail, headers: dict | None = None) -> Response:
    """A Problem: JSON `{"detail": ...}` for the API, the problem page for the reviewer page."""
    if is_page(request.url.path):
        message = detail if isinstance(detail, str) else "; ".join(_field_message(e) for e in detail)
        response = problem_page(request, cookie_caller(request), status, message)
        response.headers.update(headers or {})
        return response
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def excerpt(value):
    """An input as a 422 may quote it: as it is if short, else the start of its text and its length."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    if len(text) <= EXCERPT_CHARS:
        return value
    return f"{text[:EXCERPT_CHARS]}… ({len(text)} characters)"


def _field_message(error: dict) -> str:
    where = ".".join(str(part) for part in error["loc"][1:]) or error["loc"][0]
    got = f" (got {visible(str(error['input']))!r})" if error.get("input") not in (None, {}) else ""
    return f"{where}: {error['msg']}{got}"


def _endpoints(routes):
    """The routes that answer methods, inside included routers too (FastAPI keeps those whole;
    ours are included without a prefix of their own, so their routes' paths are full)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _endpoints(inner.routes)
        elif getattr(route, "methods", None):
            yield route


def allowed_methods(request: Request) -> str:
    """Every method the request's path supports. A route without path parameters wins over
    templated ones, as in OpenAPI (/v1/scores/batch is not /v1/scores/{year})."""
    probe = {"type": "http", "path": request.scope["path"], "root_path": request.scope.get("root_path", ""),
             "method": request.method}
    concrete, templated = set(), set()
    for route in _endpoints(request.app.router.routes):
        if route.matches(probe)[0] != Match.NONE:
            (templated if route.param_convertors else concrete).update(route.methods)
    return ", ".join(sorted(concrete or templated))


class BodyLimit:
    """ASGI middleware: a request body over `limit` bytes is a 413, declared or streamed."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            return await self._refuse(scope, receive, send)
        received, size = [], 0
        while True:  # read the body here (at most `limit` bytes are held), then hand it on
            message = await receive()
            received.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.limit:
                return await self._refuse(scope, receive, send)
            if not message.get("more_body", False):
                break

        async def replay():
            return received.pop(0) if received else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope, receive, send):
        request = Request(scope, receive)
        response = answer(request, 413, f"the request body is over {self.limit} bytes, the most this "
                                        "service accepts (scoring.service.max_body_bytes)")
        await response(scope, receive, send)


def install(app: FastAPI) -> None:
    """The app's error handlers and body limit (`app.state.params` must be set)."""
    app.add_middleware(BodyLimit, limit=app.state.params.scoring.service.max_body_bytes)

    @app.exception_handler(UnknownCountryYear)
    @app.exception_handler(UnknownModel)
    async def _not_found(request: Request, exc: Exception) -> Response:
        return answer(request, 404, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = jsonable_encoder(exc.errors())
        for error in errors:
            if "input" in error:
                error["input"] = excerpt(error["input"])
        return answer(request, 422, errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400 and exc.detail == "There was an error parsing the body":
            # FastAPI's answer to a body that is not UTF-8 text; malformed input is a 422 here, always
            return answer(request, 422, [{"type": "json_invalid", "loc": ["body"], "input": None,
                                          "msg": "the body is not UTF-8 JSON text"}])
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = allowed_methods(request)
        return answer(request, exc.status_code, exc.detail, headers)

    @app.exception_handler(NexusError)
    async def _unavailable(request: Request, exc: NexusError) -> Response:
        if not isinstance(exc, ModelUnavailable):
            log.warning("serving error: %s", exc)
        return answer(request, 503, str(exc), {"Retry-After": "30"})
