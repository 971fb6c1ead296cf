"""Reviewers' decisions on a country-year's score and explanation, as an append-only trail.

A review records who decided (the token's name and id), when, on which model version, and
which explanation they saw (the SHA-256 of the stored SHAP values and feature values), so a
sign-off can be checked against what it was about. A new decision supersedes the previous
one for the same country-year and model version; nothing is ever updated or deleted.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Engine

from service.db import reviews, utc_now
from service.vocabulary import DECISIONS, STATUS_OF_DECISION, UNREVIEWED

MAX_COMMENT = 2000


@dataclass(frozen=True)
class Review:
    id: int
    iso3: str
    year: int
    model_name: str
    model_version: str
    decision: str
    comment: str
    reviewer: str
    token_id: str
    explanation_sha256: str
    created_at: str
    supersedes: int | None

    def as_dict(self) -> dict:
        return asdict(self)


class ReviewStore:
    """Record and read reviews; keeps each model version's latest status per country-year in memory.

    The service is the only writer, so the in-memory status (read once per version) stays
    true; it lets the scores list show review status without a query per request.
    """

    def __init__(self, engine: Engine):
        self.engine = engine
        self._status: dict[tuple[str, str], dict[tuple[str, int], str]] = {}
        self._lock = threading.Lock()

    def record(self, *, iso3: str, year: int, model_name: str, model_version: str, decision: str,
               comment: str, reviewer: str, token_id: str, explanation_sha256: str) -> Review:
        if decision not in DECISIONS:
            raise ValueError(f"decision must be one of {DECISIONS}, not {decision!r}")
        if len(comment) > MAX_COMMENT:
            raise ValueError(f"comment is longer than {MAX_COMMENT} characters")
        with self._lock, self.engine.begin() as conn:
            previous = conn.execute(
                select(func.max(reviews.c.id)).where(
                    reviews.c.iso3 == iso3, reviews.c.year == year, reviews.c.model_name == model_name,
                    reviews.c.model_version == model_version)).scalar()
            values = dict(iso3=iso3, year=year, model_name=model_name, model_version=model_version,
                          decision=decision, comment=comment, reviewer=reviewer, token_id=token_id,
                          explanation_sha256=explanation_sha256, created_at=utc_now(), supersedes=previous)
            new_id = conn.execute(insert(reviews).values(**values)).inserted_primary_key[0]
            status = self._status.get((model_name, model_version))
            if status is not None:
                status[(iso3, year)] = STATUS_OF_DECISION[decision]
        return Review(id=int(new_id), **values)

    def history(self, iso3: str, year: int, model_name: str) -> list[Review]:
        """Every decision on a country-year, newest first, across model versions."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(reviews).where(reviews.c.iso3 == iso3, reviews.c.year == year,
                                      reviews.c.model_name == model_name).order_by(reviews.c.id.desc())
            ).mappings().all()
        return [Review(**dict(r)) for r in rows]

    def statuses(self, model_name: str, model_version: str) -> dict[tuple[str, int], str]:
        """(iso3, year) → latest status for one model version (country-years never reviewed are absent)."""
        key = (model_name, model_version)
        with self._lock:
            if key not in self._status:
                latest = (select(func.max(reviews.c.id))
                          .where(reviews.c.model_name == model_name, reviews.c.model_version == model_version)
                          .group_by(reviews.c.iso3, reviews.c.year))
                with self.engine.connect() as conn:
                    rows = conn.execute(select(reviews.c.iso3, reviews.c.year, reviews.c.decision)
                                        .where(reviews.c.id.in_(latest))).all()
                self._status[key] = {(r.iso3, int(r.year)): STATUS_OF_DECISION[r.decision] for r in rows}
            return self._status[key]

    def status(self, model_name: str, model_version: str, iso3: str, year: int) -> str:
        return self.statuses(model_name, model_version).get((iso3, year), UNREVIEWED)
