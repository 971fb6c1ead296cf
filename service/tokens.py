"""API tokens with roles: who may read scores, explanations and reviews, or manage tokens.

A token is 256 random bits, shown once when created; the database keeps only its SHA-256.
A slow password hash buys nothing for secrets that cannot be guessed, and would cost every
request. Verified tokens are remembered for a few seconds so a request costs no database
read; a revocation through this store takes effect at once, one from another process (the CLI)
within `CACHE_SECONDS`.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine

from nexus.errors import NexusError
from service.db import api_tokens, utc_now
from service.vocabulary import PERMISSIONS, ROLES

TOKEN_PREFIX = "nxs_"
CACHE_SECONDS = 5.0
_CACHE_LIMIT = 4096


@dataclass(frozen=True)
class TokenInfo:
    """A token's record without its secret."""

    id: str
    name: str
    role: str
    created_at: str
    revoked_at: str | None

    def may(self, permission: str) -> bool:
        return permission in PERMISSIONS.get(self.role, frozenset())


@dataclass(frozen=True)
class IssuedToken:
    info: TokenInfo
    secret: str  # shown once; never stored


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class TokenStore:
    """Create, list, revoke and verify tokens in the service database."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._cache: dict[str, tuple[float, TokenInfo | None]] = {}
        self._lock = threading.Lock()

    def create(self, name: str, role: str) -> IssuedToken:
        name = name.strip()
        if role not in ROLES:
            raise NexusError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
        if not name or len(name) > 100:
            raise NexusError("a token needs a name of 1 to 100 characters (who or what uses it)")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        info = TokenInfo(id=secrets.token_hex(6), name=name, role=role, created_at=utc_now(), revoked_at=None)
        with self.engine.begin() as conn:
            conn.execute(insert(api_tokens).values(
                id=info.id, name=info.name, role=info.role, token_sha256=token_hash(secret),
                created_at=info.created_at))
        return IssuedToken(info, secret)

    def list(self) -> list[TokenInfo]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(api_tokens).order_by(api_tokens.c.created_at)).mappings().all()
        return [_info(r) for r in rows]

    def get(self, token_id: str) -> TokenInfo | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(api_tokens).where(api_tokens.c.id == token_id)).mappings().first()
        return _info(row) if row else None

    def revoke(self, token_id: str) -> TokenInfo:
        """Mark a token revoked (kept for the record: reviews name the token that signed them)."""
        info = self.get(token_id)
        if info is None:
            known = ", ".join(t.id for t in self.list()) or "none"
            raise NexusError(f"no token with id {token_id!r}; ids: {known}")
        if info.revoked_at is None:
            with self.engine.begin() as conn:
                conn.execute(update(api_tokens).where(api_tokens.c.id == token_id)
                             .values(revoked_at=utc_now()))
        with self._lock:
            self._cache.clear()
        return self.get(token_id)

    def verify(self, secret: str) -> TokenInfo | None:
        """The active token with this secret, or None (unknown, malformed or revoked)."""
        if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
            return None
        digest = token_hash(secret)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > now:
            return cached[1]
        with self.engine.connect() as conn:
            query = select(api_tokens).where(api_tokens.c.token_sha256 == digest)
            row = conn.execute(query).mappings().first()
        info = _info(row) if row is not None and row["revoked_at"] is None else None
        with self._lock:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()  # random guesses must not grow memory without bound
            self._cache[digest] = (now + CACHE_SECONDS, info)
        return info


def _info(row) -> TokenInfo:
    return TokenInfo(id=row["id"], name=row["name"], role=row["role"], created_at=row["created_at"],
                     revoked_at=row["revoked_at"])
