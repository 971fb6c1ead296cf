"""Who is calling: bearer tokens for the API, the session cookie for the reviewer page.

Both resolve to the same `TokenInfo` through `app.state.tokens` and are checked against the
same permissions (`service.vocabulary`). The API refuses with a 401/403 Problem; a page sends
a caller without a valid cookie to the login page and shows a 403 page to a role that may not.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.pages import problem_page
from service.schemas import Problem
from service.tokens import TokenInfo
from service.vocabulary import roles_with

bearer = HTTPBearer(auto_error=False, description="an API token: `nexus token create --role R --name N`")
COOKIE = "nexus_session"  # the reviewer page's token: HttpOnly, SameSite=Strict


def problem(status: int, description: str) -> dict:
    """An OpenAPI `responses=` entry with the Problem body."""
    return {status: {"model": Problem, "description": description}}


# 422 (malformed request, naming the field) is declared by FastAPI itself for every operation with input.
AUTH_RESPONSES = (problem(401, "missing, unknown or revoked token")
                  | problem(403, "the token's role may not do this"))
DATA_RESPONSES = (AUTH_RESPONSES | problem(404, "unknown country, year, alias or version; names what exists")
                  | problem(503, "model not servable; the reason"))
TOO_LARGE = problem(413, "the request body is over scoring.service.max_body_bytes")  # every POST


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


def cookie_caller(request: Request) -> TokenInfo | None:
    """The active token in the session cookie, or None."""
    secret = request.cookies.get(COOKIE)
    return request.app.state.tokens.verify(secret) if secret else None


def form_token(request: Request) -> str:
    """The anti-forgery token a review form carries: derived from the cookie another site cannot read."""
    secret = request.cookies.get(COOKIE, "")
    return hmac.new(secret.encode(), b"nexus review form", hashlib.sha256).hexdigest()[:32]


def to_login(request: Request) -> RedirectResponse:
    """Off to the login page, which comes back here once signed in."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/review/login?next={quote(target)}", status_code=303)


def page_caller(request: Request, permission: str, refusal: str) -> TokenInfo | Response:
    """A page's caller if signed in with a role that may use `permission`; otherwise the answer to send:
    the login redirect (no, unknown or revoked cookie) or a 403 page saying `refusal`, in which
    `{role!r}` names the caller's role."""
    who = cookie_caller(request)
    if who is None:
        return to_login(request)
    if not who.may(permission):
        return problem_page(request, who, 403, refusal.format(role=who.role))
    return who
