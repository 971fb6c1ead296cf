"""The service's own database: API-token hashes and reviewers' decisions, through SQLAlchemy.

SQLite by default, in WAL mode so a reader never waits for the one writer; any SQLAlchemy URL
works (`scoring.service.database_url`). Times are stored as ISO-8601 UTC strings so every
backend sorts and shows them alike.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import Column, Index, Integer, MetaData, String, Table, Text, create_engine, event, text
from sqlalchemy.engine import Engine

metadata = MetaData()

api_tokens = Table(
    "api_tokens", metadata,
    Column("id", String(16), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("role", String(16), nullable=False),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("created_at", String(32), nullable=False),
    Column("revoked_at", String(32), nullable=True),
)

reviews = Table(
    "reviews", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("iso3", String(3), nullable=False),
    Column("year", Integer, nullable=False),
    Column("model_name", String(200), nullable=False),
    Column("model_version", String(20), nullable=False),
    Column("decision", String(8), nullable=False),
    Column("comment", Text, nullable=False),
    Column("reviewer", String(100), nullable=False),
    Column("token_id", String(16), nullable=False),
    Column("explanation_sha256", String(71), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("supersedes", Integer, nullable=True),
    Index("ix_reviews_country_year", "iso3", "year", "model_name", "model_version"),
)

# Defence in depth for "append-only": the code never updates or deletes a review, and on
# SQLite and PostgreSQL the database refuses to as well.
_SQLITE_TRIGGERS = [
    "CREATE TRIGGER IF NOT EXISTS reviews_no_update BEFORE UPDATE ON reviews "
    "BEGIN SELECT RAISE(ABORT, 'reviews are append-only: record a new decision instead'); END",
    "CREATE TRIGGER IF NOT EXISTS reviews_no_delete BEFORE DELETE ON reviews "
    "BEGIN SELECT RAISE(ABORT, 'reviews are append-only'); END",
]
# The same on PostgreSQL (TRUNCATE skips row triggers, so it gets its own).
_POSTGRESQL_TRIGGERS = [
    "CREATE OR REPLACE FUNCTION reviews_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "RAISE EXCEPTION 'reviews are append-only: record a new decision instead'; END $$",
    "CREATE OR REPLACE TRIGGER reviews_no_edit BEFORE UPDATE OR DELETE ON reviews "
    "FOR EACH ROW EXECUTE FUNCTION reviews_append_only()",
    "CREATE OR REPLACE TRIGGER reviews_no_truncate BEFORE TRUNCATE ON reviews "
    "FOR EACH STATEMENT EXECUTE FUNCTION reviews_append_only()",
]
_SCHEMA_LOCK = 7243_1101   # PostgreSQL advisory lock: the service and `nexus token` may make tables at once


def resolve_database_url(url: str, base: Path) -> str:
    """Make a relative SQLite path absolute against `base` (the params file's folder)."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix + ":memory:":
        return prefix + str((Path(base) / url.removeprefix(prefix)).resolve())
    return url


def make_engine(url: str) -> Engine:
    """An engine with the tables created; SQLite in WAL mode with a busy timeout."""
    is_sqlite = url.startswith("sqlite")
    kwargs = {"connect_args": {"check_same_thread": False, "timeout": 30}} if is_sqlite else {}
    if is_sqlite and url.startswith("sqlite:///") and ":memory:" not in url:
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, **kwargs)
    if is_sqlite:
        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record):  # noqa: ANN001 - DBAPI objects
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK})"))
            metadata.create_all(conn)
            for statement in _POSTGRESQL_TRIGGERS:
                conn.execute(text(statement))
        return engine
    metadata.create_all(engine)
    if is_sqlite:
        with engine.begin() as conn:
            for statement in _SQLITE_TRIGGERS:
                conn.execute(text(statement))
    return engine


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
