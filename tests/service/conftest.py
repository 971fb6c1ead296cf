"""Fixtures for the scoring service: an app on the session's trained pipeline, tokens per role.

Each test module gets its own review database, so modules never see each other's reviews.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

ROLES = ("program", "reviewer", "admin")


@dataclass
class Service:
    """An app served in-process (TestClient, lifespan run), its database URL and a token per role."""

    app: object
    client: object
    database_url: str
    tokens: dict[str, str]

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def start_service(pipeline, database_url: str, params=None):
    """(app, TestClient entered) for the pipeline's registry and artifacts; waits until ready or failed."""
    from fastapi.testclient import TestClient

    from service.app import create_app

    app = create_app(params or pipeline.params, pipeline.paths, database_url=database_url)
    client = TestClient(app)
    client.__enter__()
    catalog = app.state.catalog
    catalog.wait_ready(120)
    return app, client


@pytest.fixture(scope="module")
def service(pipeline, tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('service') / 'reviews.db'}"
    app, client = start_service(pipeline, url)
    assert app.state.catalog.ready, app.state.catalog.reason
    tokens = {role: app.state.tokens.create(f"{role} tester", role).secret for role in ROLES}
    yield Service(app, client, url, tokens)
    client.__exit__(None, None, None)


@pytest.fixture(scope="session")
def launch():
    """`launch(pipeline, database_url, params=None)` → (app, entered TestClient); exit the client after."""
    return start_service


@pytest.fixture(scope="module")
def latest_year(pipeline) -> int:
    from scoring.score import load_scores

    scores, *_ = load_scores(pipeline.scores.directory)
    return int(scores["year"].max())
