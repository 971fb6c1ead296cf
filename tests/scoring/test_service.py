"""Endpoint contracts: what each /v1 endpoint answers, and what bad input gets (never a 500)."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pandas as pd
import pytest

from scoring.score import load_scores


@pytest.fixture(scope="module")
def stored(pipeline):
    scores, shap_values, families, manifest = load_scores(pipeline.scores.directory)
    return scores.set_index(["iso3", "year"]), shap_values.set_index(["iso3", "year"]), manifest


def test_health_and_readiness(service, pipeline):
    assert service.client.get("/v1/health").json() == {"status": "ok"}
    ready = service.client.get("/v1/ready")
    assert ready.status_code == 200
    assert ready.json()["version"] == pipeline.training.manifest.extra["model_version"]


def test_one_score_matches_the_stored_artifact_with_provenance(service, stored, pipeline, latest_year):
    scores, _, _ = stored
    iso3 = scores.xs(latest_year, level="year")["probability"].idxmax()
    body = service.client.get(f"/v1/scores/{latest_year}/{iso3.lower()}",
                              headers=service.auth("program")).json()
    row = scores.loc[(iso3, latest_year)]
    assert body["iso3"] == iso3 and body["year"] == latest_year and body["target_year"] == latest_year + 1
    assert body["probability"] == pytest.approx(float(row["probability"]))
    assert body["band"] == row["band"] and body["coverage"] == pytest.approx(row["coverage"])
    assert body["interval"] is None  # the skeleton's model has no calibration/conformal interval
    assert body["review_status"] == "unreviewed" and body["region"]
    prov = body["provenance"]
    assert prov["model_version"] == pipeline.training.manifest.extra["model_version"]
    assert prov["model_alias"] == pipeline.params.scoring.model_alias
    assert prov["panel_sha256"] == row["panel_sha256"] and prov["params_sha256"] == row["params_sha256"]


def test_year_lists_every_country_highest_first(service, stored, latest_year):
    scores, _, _ = stored
    body = service.client.get(f"/v1/scores/{latest_year}", headers=service.auth("program")).json()
    probabilities = [s["probability"] for s in body["scores"]]
    assert body["count"] == len(scores.xs(latest_year, level="year")) == len(probabilities)
    assert probabilities == sorted(probabilities, reverse=True)
    assert {s["review_status"] for s in body["scores"]} <= {"unreviewed", "accepted", "flagged"}


def test_batch_keeps_request_order_and_names_unknown_items(service, latest_year):
    items = [{"iso3": "XAB", "year": latest_year}, {"iso3": "xaa", "year": latest_year - 3}]
    body = service.client.post("/v1/scores/batch", json={"items": items},
                               headers=service.auth("program")).json()
    assert [(s["iso3"], s["year"]) for s in body["scores"]] == [("XAB", latest_year),
                                                                ("XAA", latest_year - 3)]
    missing = service.client.post("/v1/scores/batch", headers=service.auth("program"),
                                  json={"items": [*items, {"iso3": "QQQ", "year": latest_year}]})
    assert missing.status_code == 404
    assert "'QQQ'" in missing.json()["detail"] and "XAA" in missing.json()["detail"]


@pytest.mark.parametrize("body, field", [
    ({"items": []}, ["body", "items"]),
    ({"items": [{"iso3": "XAA"}]}, ["body", "items", 0, "year"]),
    ({"items": [{"iso3": "XAA", "year": "soon"}]}, ["body", "items", 0, "year"]),
    ({"items": [{"iso3": "XAAA", "year": 2020}]}, ["body", "items", 0, "iso3"]),
    ({"items": [{"iso3": "XAA", "year": 2020}], "colour": "red"}, ["body", "colour"]),
    ({"items": [{"iso3": "XAA", "year": 2020}] * 501}, ["body", "items"]),
])
def test_malformed_batch_is_422_naming_the_field(service, body, field):
    response = service.client.post("/v1/scores/batch", json=body, headers=service.auth("program"))
    assert response.status_code == 422
    assert field in [e["loc"] for e in response.json()["detail"]]


def test_malformed_json_is_422(service):
    response = service.client.post("/v1/scores/batch", content=b"{not json", headers=service.auth("program")
                                   | {"Content-Type": "application/json"})
    assert response.status_code == 422


@pytest.mark.parametrize("path, named", [
    ("/v1/scores/{y}/QQQ", "countries: XAA, XAB"),
    ("/v1/scores/1901/XAA", "XAA has scores for"),
    ("/v1/scores/1901", "years 2"),
    ("/v1/history/QQQ", "countries: XAA"),
    ("/v1/scores/{y}/XAA?version=999", "versions: 1"),
    ("/v1/scores/{y}/XAA?alias=nowhere", "aliases: champion"),
    ("/v1/models/nowhere", "aliases: champion"),
])
def test_unknown_things_are_404_naming_what_exists(service, latest_year, path, named):
    response = service.client.get(path.format(y=latest_year), headers=service.auth("reviewer"))
    assert response.status_code == 404
    assert named in response.json()["detail"]


def test_explanation_adds_up_and_traces_each_driver_to_its_raw_row(service, stored, pipeline, latest_year):
    scores, shap_values, _ = stored
    iso3 = scores.xs(latest_year, level="year")["probability"].idxmax()
    body = service.client.get(f"/v1/explanations/{latest_year}/{iso3}",
                              headers=service.auth("reviewer")).json()
    assert body["score"]["iso3"] == iso3
    total = body["base_value"] + sum(body["shap_values"].values())
    assert total == pytest.approx(body["margin"], abs=1e-9)
    assert 1 / (1 + math.exp(-body["margin"])) == pytest.approx(body["score"]["probability"], abs=1e-5)
    assert sum(body["families"].values()) == pytest.approx(sum(body["shap_values"].values()), abs=1e-5)
    stored_row = shap_values.loc[(iso3, latest_year)]
    assert body["shap_values"]["press_freedom_score"] == pytest.approx(stored_row["press_freedom_score"])
    drivers = body["top_drivers"]
    assert len(drivers) == pipeline.params.scoring.top_drivers
    assert [abs(d["shap"]) for d in drivers] == sorted((abs(d["shap"]) for d in drivers), reverse=True)
    assert body["explanation_sha256"].startswith("sha256:")
    for d in drivers:
        assert d["unit"] and d["publisher"] and d["source_file"] and d["source_row"]
        lag = 1 if d["feature"].endswith("_lag1") else 0
        assert d["value_year"] <= latest_year - 1 - lag  # every source here is published a year late
        assert d["source_file_sha256"].startswith("sha256:")


def test_press_freedom_value_is_in_the_named_file_and_row(service, pipeline, latest_year):
    """The lineage is real: the file and row a value is said to come from hold that value."""
    body = service.client.get(f"/v1/explanations/{latest_year}/XAB?top=200",
                              headers=service.auth("reviewer")).json()
    driver = next(d for d in body["top_drivers"] if d["feature"] == "press_freedom_score")
    lines = (pipeline.paths.raw / driver["source_file"]).read_text(encoding="utf-8-sig").splitlines()
    header, row = lines[0].split(";"), lines[driver["source_row"] - 1].split(";")
    record = dict(zip(header, row, strict=True))
    assert record["ISO"] == "XAB"
    assert float(record["Score"].replace(",", ".")) == pytest.approx(driver["value"], abs=1e-6)
    assert int(record["Year (N)"]) == driver["value_year"] + 1  # edition N describes N-1


def test_history_covers_every_year_in_order(service, stored):
    scores, _, _ = stored
    body = service.client.get("/v1/history/XAC", headers=service.auth("program")).json()
    years = [p["year"] for p in body["history"]]
    assert years == sorted(scores.xs("XAC", level="iso3").index.tolist())
    assert body["provenance"]["model_version"] and body["country"]


def test_models_show_each_alias_with_backtest_metrics(service, pipeline):
    body = service.client.get("/v1/models", headers=service.auth("program")).json()
    aliases = {a["alias"]: a for a in body["aliases"]}
    version = pipeline.training.manifest.extra["model_version"]
    assert aliases["champion"]["version"] == version and aliases["champion"]["served"]
    auc = aliases["champion"]["backtest"]["auc"]
    assert auc["low"] <= auc["value"] <= auc["high"] and auc["value"] > 0.7
    one = service.client.get("/v1/models/champion", headers=service.auth("program")).json()
    assert [a["alias"] for a in one["aliases"]] == ["champion"]


def test_pinned_version_reproduces_the_score(service, pipeline, latest_year):
    version = pipeline.training.manifest.extra["model_version"]
    via_alias = service.client.get(f"/v1/scores/{latest_year}/XAD", headers=service.auth("program")).json()
    pinned = service.client.get(f"/v1/scores/{latest_year}/XAD?version={version}",
                                headers=service.auth("program")).json()
    assert pinned["probability"] == via_alias["probability"]
    assert pinned["provenance"]["model_version"] == version and pinned["provenance"]["model_alias"] is None


def test_csv_export_has_one_row_per_country(service, stored, latest_year):
    scores, _, _ = stored
    response = service.client.get(f"/v1/scores.csv?year={latest_year}", headers=service.auth("program"))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == len(scores.xs(latest_year, level="year"))
    exported = pd.Series({r["iso3"]: float(r["probability"]) for r in rows})
    expected = scores.xs(latest_year, level="year")["probability"]
    np.testing.assert_allclose(exported[expected.index], expected, atol=1e-6)
    assert {"model_version", "panel_sha256", "review_status"} <= set(rows[0])


def test_every_operation_declares_its_statuses_and_docs_work_offline(service):
    spec = service.client.get("/openapi.json").json()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if path in ("/v1/health", "/v1/ready"):
                continue
            assert {"401", "403"} <= set(op["responses"]), f"{method.upper()} {path}"
    assert "bearer" in str(spec["components"]["securitySchemes"]).lower()
    docs = service.client.get("/docs").text
    assert "cdn" not in docs.lower() and "http://" not in docs and "https://" not in docs
    assert service.client.get("/static-offline-docs/swagger-ui-bundle.js").status_code == 200


def test_default_alias_pointing_nowhere_is_503_with_the_reason(pipeline, launch, tmp_path, latest_year):
    from scoring.score import _mlflow

    scoring = pipeline.params.scoring.model_copy(update={"model_alias": "retired"})
    params = pipeline.params.model_copy(update={"scoring": scoring})
    app, client = launch(pipeline, f"sqlite:///{tmp_path / 'reviews.db'}", params)
    registry = _mlflow(pipeline.paths).MlflowClient()
    try:
        auth = {"Authorization": f"Bearer {app.state.tokens.create('p', 'program').secret}"}
        ready = client.get("/v1/ready")
        assert ready.status_code == 503 and "'retired'" in ready.json()["reason"]
        for path in (f"/v1/scores/{latest_year}/XAA", f"/v1/scores/{latest_year}", "/v1/history/XAA",
                     "/v1/models/retired", f"/v1/scores.csv?year={latest_year}"):
            response = client.get(path, headers=auth)
            assert response.status_code == 503, path
            assert "'retired'" in response.json()["detail"] and "points nowhere" in response.json()["detail"]
        # pointing the alias at a version makes the running service ready, without a restart
        version = pipeline.training.manifest.extra["model_version"]
        registry.set_registered_model_alias(scoring.model_name, "retired", version)
        app.state.catalog.refresh()
        assert client.get("/v1/ready").status_code == 200
        assert client.get(f"/v1/scores/{latest_year}/XAA", headers=auth).status_code == 200
    finally:
        client.__exit__(None, None, None)
        registry.delete_registered_model_alias(scoring.model_name, "retired")
