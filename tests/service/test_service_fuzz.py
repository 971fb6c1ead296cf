"""A bounded schemathesis run against our own OpenAPI document: no 5xx, no undocumented status,
responses that match their schemas, invalid input rejected, valid input accepted.

Each operation gets MAX_EXAMPLES valid and MAX_EXAMPLES invalid requests from a fixed seed,
so a run is repeatable. (The operations are listed here rather than taken from
`schema.parametrize()`, whose lazy-fixture form relies on a pytest internal that pytest 9
renamed; a test checks the list against the document.)
"""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from schemathesis.generation.modes import GenerationMode

SEED = 20240501
MAX_EXAMPLES = 25
OPERATIONS = [
    "GET /v1/health", "GET /v1/ready", "GET /v1/whoami",
    "GET /v1/scores/{year}", "GET /v1/scores/{year}/{iso3}", "POST /v1/scores/batch", "GET /v1/scores.csv",
    "GET /v1/explanations/{year}/{iso3}", "GET /v1/history/{iso3}", "GET /v1/briefs/{year}/{iso3}.pdf",
    "GET /v1/models", "GET /v1/models/{alias}",
    "POST /v1/reviews", "GET /v1/reviews/{year}/{iso3}",
    "GET /v1/tokens", "POST /v1/tokens", "DELETE /v1/tokens/{token_id}",
]
WITHOUT_INPUT = {"GET /v1/health", "GET /v1/ready", "GET /v1/whoami", "GET /v1/models", "GET /v1/tokens"}


@pytest.fixture(scope="module")
def fuzzed(pipeline, tmp_path_factory):
    """(schema, tokens) for a service of its own; schemathesis runs the app's lifespan in-process."""
    from service.app import create_app

    url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'reviews.db'}"
    app = create_app(pipeline.params, pipeline.paths, database_url=url)
    app.state.catalog.start()  # loaded before the first generated request: readiness is not what is fuzzed
    assert app.state.catalog.ready, app.state.catalog.reason
    tokens = {role: app.state.tokens.create(f"fuzz {role}", role).secret for role in ("reviewer", "admin")}
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    schema.config.seed = SEED
    return schema, tokens


def test_every_operation_is_fuzzed(fuzzed):
    schema, _ = fuzzed
    found = sorted(f"{op.ok().method.upper()} {op.ok().path}" for op in schema.get_all_operations())
    assert found == sorted(OPERATIONS)


@pytest.mark.slow
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
@pytest.mark.parametrize("label", OPERATIONS)
def test_operation_never_fails_the_checks(fuzzed, label, mode):
    schema, tokens = fuzzed
    if mode == GenerationMode.NEGATIVE and label in WITHOUT_INPUT:
        pytest.skip("no parameter or body to make invalid")
    method, path = label.split(" ")
    operation = schema[path][method]
    role = "admin" if path.startswith("/v1/tokens") else "reviewer"
    headers = {"Authorization": f"Bearer {tokens[role]}"}

    @hypothesis.seed(SEED)
    @hypothesis.settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
                         suppress_health_check=list(hypothesis.HealthCheck))
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def check(case):
        response = case.call_and_validate(headers=headers)
        assert response.status_code < 500

    check()
