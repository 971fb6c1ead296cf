"""Reviews: what a record keeps, that a new decision supersedes without overwriting, that the
trail survives a restart of the app, and that the database itself refuses edits."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DatabaseError


@pytest.fixture
def fresh(pipeline, launch, tmp_path):
    """A service on its own empty database; yields (app, client, url) and stops it."""
    url = f"sqlite:///{tmp_path / 'reviews.db'}"
    app, client = launch(pipeline, url)
    yield app, client, url
    client.__exit__(None, None, None)


def _explanation(client, headers, iso3, year):
    return client.get(f"/v1/explanations/{year}/{iso3}", headers=headers).json()


def test_a_review_records_who_when_which_version_and_which_explanation(fresh, pipeline, latest_year):
    app, client, _ = fresh
    token = app.state.tokens.create("Ada Reviewer", "reviewer")
    headers = {"Authorization": f"Bearer {token.secret}"}
    seen = _explanation(client, headers, "XAE", latest_year)
    response = client.post("/v1/reviews", headers=headers, json={
        "iso3": "xae", "year": latest_year, "decision": "accept", "comment": "drivers match the sources",
        "explanation_sha256": seen["explanation_sha256"]})
    assert response.status_code == 201
    review = response.json()
    assert review["reviewer"] == "Ada Reviewer" and review["token_id"] == token.info.id
    assert review["model_version"] == pipeline.training.manifest.extra["model_version"]
    assert review["explanation_sha256"] == seen["explanation_sha256"]
    assert review["created_at"].endswith("Z") and review["supersedes"] is None and review["iso3"] == "XAE"


def test_new_decision_supersedes_and_both_stay_on_record(fresh, latest_year):
    app, client, _ = fresh
    headers = {"Authorization": f"Bearer {app.state.tokens.create('r', 'reviewer').secret}"}
    first = client.post("/v1/reviews", headers=headers,
                        json={"iso3": "XAF", "year": latest_year, "decision": "accept"}).json()
    second = client.post("/v1/reviews", headers=headers,
                         json={"iso3": "XAF", "year": latest_year, "decision": "flag",
                               "comment": "second look"}).json()
    assert second["supersedes"] == first["id"] and second["id"] > first["id"]
    trail = client.get(f"/v1/reviews/{latest_year}/XAF", headers=headers).json()["reviews"]
    assert [(r["id"], r["decision"]) for r in trail] == [(second["id"], "flag"), (first["id"], "accept")]
    score = client.get(f"/v1/scores/{latest_year}/XAF", headers=headers).json()
    assert score["review_status"] == "flagged"
    listed = client.get(f"/v1/scores/{latest_year}", headers=headers).json()["scores"]
    assert next(s for s in listed if s["iso3"] == "XAF")["review_status"] == "flagged"
    assert {s["review_status"] for s in listed if s["iso3"] != "XAF"} == {"unreviewed"}


def test_stale_explanation_hash_is_a_conflict_and_records_nothing(fresh, latest_year):
    app, client, _ = fresh
    headers = {"Authorization": f"Bearer {app.state.tokens.create('r', 'reviewer').secret}"}
    response = client.post("/v1/reviews", headers=headers, json={
        "iso3": "XAG", "year": latest_year, "decision": "accept", "explanation_sha256": "sha256:" + "0" * 64})
    assert response.status_code == 409 and "reload" in response.json()["detail"]
    assert client.get(f"/v1/reviews/{latest_year}/XAG", headers=headers).json()["reviews"] == []


@pytest.mark.parametrize("body, field", [
    ({"iso3": "XAA", "year": 2020, "decision": "maybe"}, "decision"),
    ({"iso3": "XAA", "year": 2020}, "decision"),
    ({"iso3": "XAA", "year": 2020, "decision": "accept", "comment": "x" * 2001}, "comment"),
    ({"iso3": "XAA", "decision": "accept"}, "year"),
])
def test_malformed_review_is_422_naming_the_field(service, body, field):
    response = service.client.post("/v1/reviews", json=body, headers=service.auth("reviewer"))
    assert response.status_code == 422
    assert field in {e["loc"][-1] for e in response.json()["detail"]}


def test_reviews_survive_a_restart_of_the_app(pipeline, launch, tmp_path, latest_year):
    url = f"sqlite:///{tmp_path / 'reviews.db'}"
    app, client = launch(pipeline, url)
    secret = app.state.tokens.create("persistent", "reviewer").secret
    headers = {"Authorization": f"Bearer {secret}"}
    for decision in ("flag", "accept"):
        assert client.post("/v1/reviews", headers=headers,
                           json={"iso3": "XAH", "year": latest_year, "decision": decision}).status_code == 201
    client.__exit__(None, None, None)

    app, client = launch(pipeline, url)  # a new process would see the same: nothing lives only in memory
    try:
        trail = client.get(f"/v1/reviews/{latest_year}/XAH", headers=headers).json()["reviews"]
        assert [r["decision"] for r in trail] == ["accept", "flag"]
        score = client.get(f"/v1/scores/{latest_year}/XAH", headers=headers).json()
        assert score["review_status"] == "accepted"
    finally:
        client.__exit__(None, None, None)


def test_the_database_refuses_to_edit_or_delete_a_review(fresh, latest_year):
    app, client, url = fresh
    headers = {"Authorization": f"Bearer {app.state.tokens.create('r', 'reviewer').secret}"}
    client.post("/v1/reviews", headers=headers,
                json={"iso3": "XAI", "year": latest_year, "decision": "accept"})
    engine = create_engine(url)
    for statement in ("UPDATE reviews SET decision = 'flag'", "DELETE FROM reviews"):
        with pytest.raises(DatabaseError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT decision FROM reviews")).scalars().all() == ["accept"]
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_comments_are_shown_as_text_never_as_markup(fresh, latest_year):
    app, client, _ = fresh
    secret = app.state.tokens.create("r", "reviewer").secret
    client.post("/v1/reviews", headers={"Authorization": f"Bearer {secret}"},
                json={"iso3": "XAJ", "year": latest_year, "decision": "flag",
                      "comment": "<script>alert(1)</script>"})
    client.post("/review/login", data={"token": secret})
    page = client.get(f"/review/XAJ/{latest_year}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page
    client.cookies.clear()
