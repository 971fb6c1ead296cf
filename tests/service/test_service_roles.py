"""Who may call what: the 401/403 matrix over every endpoint, and no role sees another's data."""

from __future__ import annotations

import pytest

YEAR = 2024
# (method, path, json body, permission the endpoint needs)
ENDPOINTS = [
    ("GET", "/v1/scores/{year}", None, "scores"),
    ("GET", "/v1/scores/{year}/XAA", None, "scores"),
    ("POST", "/v1/scores/batch", {"items": [{"iso3": "XAA", "year": YEAR}]}, "scores"),
    ("GET", "/v1/scores.csv?year={year}", None, "scores"),
    ("GET", "/v1/history/XAA", None, "scores"),
    ("GET", "/v1/models", None, "models"),
    ("GET", "/v1/models/champion", None, "models"),
    ("GET", "/v1/explanations/{year}/XAA", None, "explanations"),
    ("GET", "/v1/reviews/{year}/XAA", None, "reviews"),
    ("POST", "/v1/reviews", {"iso3": "XAA", "year": YEAR, "decision": "accept"}, "reviews"),
    ("GET", "/v1/tokens", None, "tokens"),
    ("POST", "/v1/tokens", {"name": "made by the matrix", "role": "program"}, "tokens"),
]
ALLOWED = {"program": {"scores", "models"}, "reviewer": {"scores", "models", "explanations", "reviews"},
           "admin": {"tokens", "models"}}


def _call(service, method, path, body, headers, year):
    return service.client.request(method, path.format(year=year), json=body, headers=headers)


@pytest.mark.parametrize("method, path, body, permission", ENDPOINTS,
                         ids=[f"{m} {p}" for m, p, *_ in ENDPOINTS])
@pytest.mark.parametrize("role", ["none", "garbage", "program", "reviewer", "admin"])
def test_role_matrix(service, latest_year, method, path, body, permission, role):
    if role == "none":
        headers = {}
    elif role == "garbage":
        headers = {"Authorization": "Bearer nxs_not-a-real-token"}
    else:
        headers = service.auth(role)
    body = body and {k: (latest_year if v == YEAR else v) for k, v in body.items()}
    if body and "items" in body:
        body["items"] = [{"iso3": "XAA", "year": latest_year}]
    response = _call(service, method, path, body, headers, latest_year)
    if role in ("none", "garbage"):
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
    elif permission in ALLOWED[role]:
        assert response.status_code in (200, 201), response.text
    else:
        assert response.status_code == 403
        assert role in response.json()["detail"]


def test_revoked_token_is_refused_at_once(service, latest_year):
    issued = service.app.state.tokens.create("short-lived", "program")
    headers = {"Authorization": f"Bearer {issued.secret}"}
    assert service.client.get(f"/v1/scores/{latest_year}/XAA", headers=headers).status_code == 200
    revoked = service.client.delete(f"/v1/tokens/{issued.info.id}", headers=service.auth("admin"))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert service.client.get(f"/v1/scores/{latest_year}/XAA", headers=headers).status_code == 401


def test_admin_cannot_revoke_its_own_token_and_unknown_ids_are_named(service):
    me = service.client.get("/v1/whoami", headers=service.auth("admin")).json()
    assert me["role"] == "admin"
    mine = next(t for t in service.app.state.tokens.list() if t.name == me["name"])
    assert service.client.delete(f"/v1/tokens/{mine.id}", headers=service.auth("admin")).status_code == 409
    missing = service.client.delete("/v1/tokens/nope", headers=service.auth("admin"))
    assert missing.status_code == 404 and mine.id in missing.json()["detail"]


def test_token_secrets_are_shown_once_and_stored_only_as_hashes(service):
    created = service.client.post("/v1/tokens", json={"name": "once", "role": "reviewer"},
                                  headers=service.auth("admin")).json()
    assert created["token"].startswith("nxs_")
    listed = service.client.get("/v1/tokens", headers=service.auth("admin")).text
    assert created["token"] not in listed and "sha256" not in listed
    from sqlalchemy import create_engine, text

    with create_engine(service.database_url).connect() as conn:
        dump = " ".join(str(r) for r in conn.execute(text("SELECT * FROM api_tokens")).all())
    assert created["token"] not in dump


def test_program_scores_carry_no_explanation_or_reviewer_data(service, latest_year):
    service.client.post("/v1/reviews", headers=service.auth("reviewer"),
                        json={"iso3": "XAB", "year": latest_year, "decision": "flag",
                              "comment": "private note"})
    for path in (f"/v1/scores/{latest_year}", f"/v1/scores/{latest_year}/XAB", "/v1/history/XAB",
                 f"/v1/scores.csv?year={latest_year}"):
        text_ = service.client.get(path, headers=service.auth("program")).text
        assert "private note" not in text_ and "shap" not in text_.lower() and "reviewer tester" not in text_
    assert service.client.get(f"/v1/scores/{latest_year}/XAB", headers=service.auth("program")).json()[
        "review_status"] == "flagged"


def test_reviewer_page_hides_explanation_and_form_from_program(service, latest_year):
    client = service.client
    client.cookies.clear()
    assert client.get("/review", follow_redirects=False).status_code == 303
    login = client.post("/review/login", data={"token": service.tokens["program"]}, follow_redirects=False)
    assert login.status_code == 303 and "httponly" in login.headers["set-cookie"].lower()
    page = client.get(f"/review/XAC/{latest_year}")
    assert page.status_code == 200 and "Trend over the years" in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "SHAP waterfall" not in page.text and 'name="decision"' not in page.text
    posted = client.post(f"/review/XAC/{latest_year}", data={"decision": "accept"}, follow_redirects=False)
    assert posted.status_code == 403
    client.cookies.clear()
    client.post("/review/login", data={"token": service.tokens["admin"]})
    landing = client.get("/review", follow_redirects=False)  # an admin lands on the admin page, not a 403
    assert landing.status_code == 303 and landing.headers["location"] == "/review/admin"
    assert client.get(f"/review/XAC/{latest_year}").status_code == 403
    client.cookies.clear()
