"""The service's edges: blank names, oversized bodies, 405's Allow header, user text with control
and bidi characters on the reviewer page, and bad query values on a page (an HTML problem page)."""

from __future__ import annotations

import pytest

from service.auth import COOKIE

RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: "ok \u202eexe.gnp" would display as "ok png.exe"


@pytest.mark.parametrize("name", ["   ", "\t\n ", "\u3000"])
def test_a_blank_token_name_is_422_naming_the_field(service, name):
    response = service.client.post("/v1/tokens", headers=service.auth("admin"),
                                   json={"name": name, "role": "program"})
    assert response.status_code == 422 and "Retry-After" not in response.headers
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "name"] and "other than spaces" in error["msg"]
    assert all(t.name.strip() for t in service.app.state.tokens.list())


@pytest.mark.parametrize("size", [1_000_000, 10_000_000])
def test_a_body_over_the_limit_is_413_without_an_echo(service, size):
    limit = service.app.state.params.scoring.service.max_body_bytes
    body = b'{"items": [{"iso3": "' + b"X" * size + b'", "year": 2020}]}'
    response = service.client.post("/v1/scores/batch", content=body, headers=service.auth("program")
                                   | {"Content-Type": "application/json"})
    assert response.status_code == 413 and len(response.content) < 500
    assert f"over {limit} bytes" in response.json()["detail"]


def test_a_streamed_body_without_length_is_cut_at_the_limit(service):
    limit = service.app.state.params.scoring.service.max_body_bytes

    def chunks():
        for _ in range(2 * limit // 1000 + 1):
            yield b"x" * 1000

    response = service.client.post("/v1/tokens", content=chunks(), headers=service.auth("admin")
                                   | {"Content-Type": "application/json"})
    assert response.status_code == 413 and "max_body_bytes" in response.json()["detail"]


def test_a_body_under_the_limit_is_still_served(service, latest_year):
    items = [{"iso3": "XAA", "year": latest_year}] * 500  # the largest batch allowed is well under it
    response = service.client.post("/v1/scores/batch", json={"items": items}, headers=service.auth("program"))
    assert response.status_code == 200 and response.json()["count"] == 500


@pytest.mark.parametrize("body", [
    {"items": [{"iso3": "X" * 50_000, "year": 2020}]},
    {"items": [{"iso3": "XAA", "year": 2020}], "alias": "a" * 50_000},
    [1] * 20_000,
])
def test_a_422_quotes_only_an_excerpt_of_the_input(service, body):
    response = service.client.post("/v1/scores/batch", json=body, headers=service.auth("program"))
    assert response.status_code == 422 and len(response.content) < 2000
    quoted = [e["input"] for e in response.json()["detail"] if "characters)" in str(e.get("input"))]
    assert quoted and all(len(q) < 150 for q in quoted)


def test_options_and_other_methods_get_405_with_every_method_of_the_path(service, latest_year):
    assert service.client.options("/v1/scores/batch").headers["allow"] == "POST"
    tokens_allow = service.client.options("/v1/tokens").headers["allow"]
    assert set(tokens_allow.split(", ")) - {"HEAD"} == {"GET", "POST"}
    assert service.client.delete("/v1/scores/batch").headers["allow"] == "POST"
    paths = service.client.get("/openapi.json").json()["paths"]
    values = {"year": str(latest_year), "iso3": "XAA", "alias": "champion", "token_id": "abc"}
    for template, operations in paths.items():
        response = service.client.options(template.format(**values))
        assert response.status_code == 405, template
        allowed = set(response.headers["allow"].split(", ")) - {"HEAD"}
        assert allowed == {m.upper() for m in operations}, template


@pytest.fixture
def signed_in(service):
    """The service's client with a reviewer's session cookie (cleared after)."""
    service.client.cookies.set(COOKIE, service.tokens["reviewer"])
    yield service.client
    service.client.cookies.clear()


def test_comments_and_names_with_bidi_and_control_characters_are_shown_escaped(service, signed_in,
                                                                              latest_year):
    tokens = service.app.state.tokens
    sneaky = tokens.create(f"Eve {RLO}reganam\x1b[31m", "reviewer")
    comment = f"fine {RLO}exe.gnp\u2066 end\x07"
    recorded = service.client.post("/v1/reviews", headers={"Authorization": f"Bearer {sneaky.secret}"},
                                   json={"iso3": "XAD", "year": latest_year, "decision": "flag",
                                         "comment": comment})
    assert recorded.status_code == 201 and recorded.json()["comment"] == comment  # stored as written
    html = signed_in.get(f"/review/XAD/{latest_year}").text
    assert RLO not in html and "\u2066" not in html and "\x1b" not in html and "\x07" not in html
    assert "<bdi>fine \\u202eexe.gnp\\u2066 end\\x07</bdi>" in html
    assert "<bdi>Eve \\u202ereganam\\x1b[31m</bdi>" in html


def test_a_bad_query_value_on_a_page_is_the_html_problem_page(service, signed_in):
    response = signed_in.get("/review?year=abc")
    assert response.status_code == 422 and response.headers["content-type"].startswith("text/html")
    assert "Not understood" in response.text and 'class="error"' in response.text
    assert "year: Input should be a valid integer" in response.text and "abc" in response.text
    missing = signed_in.get("/review/XAA/2020/extra")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    api = service.client.get("/v1/scores/abc", headers=service.auth("program"))
    assert api.status_code == 422 and api.json()["detail"][0]["loc"] == ["path", "year"]
