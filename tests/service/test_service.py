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
    interval = body["interval"]  # the served Venn-Abers [p0, p1], never null for a model that has one
    assert interval == {"low": pytest.approx(row["probability_low"]),
                        "high": pytest.approx(row["probability_high"]), "method": "venn_abers", "level": None}
    assert 0 <= interval["low"] <= interval["high"] <= 1
    conformal = body["conformal_set"]
    assert conformal["label"] == row["conformal_set"] and conformal["level"] == row["conformal_level"]
    assert conformal["outcomes"] == {"yes": ["listed"], "no": ["unlisted"], "either": ["listed", "unlisted"],
                                     "neither": []}[row["conformal_set"]]
    assert body["review_status"] == "unreviewed" and body["region"]
    prov = body["provenance"]
    assert prov["model_version"] == pipeline.training.manifest.extra["model_version"]
    assert prov["model_alias"] == pipeline.params.scoring.model_alias
    assert prov["panel_sha256"] == row["panel_sha256"] and prov["params_sha256"] == row["params_sha256"]
    assert prov["calibration"] == row["calibration"]


def test_every_score_of_a_year_carries_its_interval_as_it_really_holds(service, stored, latest_year):
    """low ≤ high always; the probability inside [low, high] only where Venn-Abers itself serves."""
    scores, _, _ = stored
    body = service.client.get(f"/v1/scores/{latest_year}", headers=service.auth("program")).json()
    assert all(s["interval"] is not None and s["conformal_set"] is not None for s in body["scores"])
    assert all(s["interval"]["low"] <= s["interval"]["high"] for s in body["scores"])
    calibration = {s["provenance"]["calibration"] for s in body["scores"]}
    assert calibration == set(scores["calibration"]) and len(calibration) == 1
    inside = [s["interval"]["low"] - 1e-9 <= s["probability"] <= s["interval"]["high"] + 1e-9
              for s in body["scores"]]
    if calibration == {"venn_abers"}:
        assert sum(inside) >= 0.95 * len(inside)  # all but rows clipped to the log-loss floor
    year = scores.xs(latest_year, level="year")
    expected = ((year["probability"] >= year["probability_low"] - 1e-9)
                & (year["probability"] <= year["probability_high"] + 1e-9))
    assert sum(inside) == int(expected.sum())


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
    # the margin is the model's before calibration; the score is its calibrated value, with its interval
    assert 1 / (1 + math.exp(-body["margin"])) == pytest.approx(body["probability_raw"], abs=1e-5)
    row = scores.loc[(iso3, latest_year)]
    assert body["probability_raw"] == pytest.approx(row["probability_raw"], abs=1e-9)
    assert body["score"]["probability"] == pytest.approx(row["probability"], abs=1e-9)
    assert body["score"]["interval"]["low"] == pytest.approx(row["probability_low"], abs=1e-9)
    assert sum(body["families"].values()) == pytest.approx(sum(body["shap_values"].values()), abs=1e-5)
    stored_row = shap_values.loc[(iso3, latest_year)]
    assert body["shap_values"]["press_freedom_score"] == pytest.approx(stored_row["press_freedom_score"])
    drivers = body["top_drivers"]
    assert len(drivers) == pipeline.params.scoring.top_drivers
    assert [abs(d["shap"]) for d in drivers] == sorted((abs(d["shap"]) for d in drivers), reverse=True)
    assert body["explanation_sha256"].startswith("sha256:")
    assert "placement" in body["families"]  # the current placement, its own family
    for d in drivers:
        assert d["unit"] and d["publisher"] and d["source_file"] and d["source_row"]
        if d["family"] == "placement":  # the label itself: this year's report, or last year's
            assert d["value_year"] == latest_year - (d["feature"] == "previous_tier")
        else:
            lag = 1 if d["feature"].endswith("_lag1") else 0
            assert d["value_year"] <= latest_year - 1 - lag  # every signal here is published a year late
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
    stored_low = scores.xs("XAC", level="iso3")["probability_low"]
    assert [p["interval"]["low"] for p in body["history"]] == pytest.approx(stored_low.loc[years].tolist())
    assert all(p["conformal_set"]["label"] in ("yes", "no", "either", "neither") for p in body["history"])


def test_models_show_each_alias_with_backtest_metrics(service, pipeline):
    body = service.client.get("/v1/models", headers=service.auth("program")).json()
    aliases = {a["alias"]: a for a in body["aliases"]}
    version = pipeline.training.manifest.extra["model_version"]
    assert aliases["champion"]["version"] == version and aliases["champion"]["served"]
    auc = aliases["champion"]["backtest"]["auc"]
    assert auc["low"] <= auc["value"] <= auc["high"] and auc["value"] > 0.7
    one = service.client.get("/v1/models/champion", headers=service.auth("program")).json()
    assert [a["alias"] for a in one["aliases"]] == ["champion"]


def test_models_state_which_baselines_the_champion_beats_on_which_origins(service, pipeline):
    """What the card records, said back: the baselines beaten, by how much, on the development origins."""
    from training import registry

    card = registry.resolve(pipeline.paths, pipeline.params.scoring.model_name, alias="champion").card
    shown = {a["alias"]: a for a in service.client.get("/v1/models", headers=service.auth("program")).json()[
        "aliases"]}["champion"]["card"]
    assert shown["calibration"] == card.calibration and shown["n_members"] == card.n_members
    assert shown["interval"] == "venn_abers" and shown["conformal_level"] == card.conformal_level
    assert shown["development_origins"] == card.folds["origins"]
    assert shown["holdout_origins"] == card.folds["holdout_origins"]
    assert not set(shown["development_origins"]) & set(shown["holdout_origins"])
    assert shown["beats"] == [b for b, e in card.beats.items() if e["beats"]]
    assert "persistence" in shown["beats"]  # a champion earns the alias by beating persistence
    metric = pipeline.params.promotion.metric
    diff = card.beats["persistence"][metric]
    assert shown["baselines"]["persistence"]["metrics"][metric] == diff
    origins = card.folds["origins"]
    for said in ("persistence", f"{diff['diff']:+.3f}", f"development origins {origins[0]}–{origins[-1]}",
                 "results page"):
        assert said in shown["statement"], said


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
    year = scores.xs(latest_year, level="year")
    for column, stored_column in (("probability", "probability"), ("interval_low", "probability_low"),
                                  ("interval_high", "probability_high")):
        exported = pd.Series({r["iso3"]: float(r[column]) for r in rows})
        np.testing.assert_allclose(exported[year.index], year[stored_column], atol=1e-6)
    assert {r["interval_method"] for r in rows} == {"venn_abers"}
    named = {"yes": "listed", "no": "unlisted", "either": "listed|unlisted", "neither": ""}
    assert {r["iso3"]: r["conformal_set"] for r in rows} == year["conformal_set"].map(named).to_dict()
    assert {"model_version", "panel_sha256", "review_status", "calibration"} <= set(rows[0])


def test_reviewer_page_states_the_card_and_what_the_interval_means(service, pipeline, latest_year):
    """Header: calibration, K boosters, baselines beaten; INTERVAL card: the numbers and one sentence."""
    import html
    import re

    from training import registry

    def text_of(page: str) -> str:  # what a reader sees: tags dropped, white space collapsed
        return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", page)))

    card = registry.resolve(pipeline.paths, pipeline.params.scoring.model_name, alias="champion").card
    score = service.client.get(f"/v1/scores/{latest_year}/XAB", headers=service.auth("reviewer")).json()
    client = service.client
    client.cookies.clear()
    client.post("/review/login", data={"token": service.tokens["reviewer"]})
    try:
        page = text_of(client.get(f"/review/XAB/{latest_year}").text)
        ranked = text_of(client.get(f"/review?year={latest_year}").text)
        exported = client.get(f"/review/scores.csv?year={latest_year}").text
    finally:
        client.cookies.clear()
    origins = card.folds["origins"]
    for text in (page, ranked):  # the header of every page
        assert f"calibration: {card.calibration}" in text and f"{card.n_members} boosters" in text
        assert "Beats " in text and "persistence" in text
        assert f"development origins {origins[0]}–{origins[-1]}" in text
        assert "results page" in text
    low, high = score["interval"]["low"], score["interval"]["high"]
    assert f"{low:.2f}–{high:.2f}" in page
    sentence = ("Venn-Abers interval: the calibration data are consistent with any probability from "
                f"{low:.2f} to {high:.2f}")
    assert sentence in page
    outcomes = ", ".join(score["conformal_set"]["outcomes"])
    assert f"the {score['conformal_set']['level']:.0%} conformal set is {{{outcomes}}}" in page
    outside = not low <= score["probability"] <= high
    assert ("lies outside it" in page.split(sentence)[1].split(";")[0]) == outside
    assert "no calibration or conformal interval" not in page
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert rows and all(r["interval_low"] and r["interval_high"] and r["interval_method"] == "venn_abers"
                        for r in rows)
    xab = next(r for r in rows if r["iso3"] == "XAB")
    assert float(xab["interval_low"]) == pytest.approx(low, abs=1e-6)


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
    from nexus.tracking import mlflow_at
    from training import registry

    scoring = pipeline.params.scoring.model_copy(update={"model_alias": "retired"})
    params = pipeline.params.model_copy(update={"scoring": scoring})
    app, client = launch(pipeline, f"sqlite:///{tmp_path / 'reviews.db'}", params)
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
        registry.set_alias(pipeline.paths, scoring.model_name, "retired", version)
        app.state.catalog.refresh()
        assert client.get("/v1/ready").status_code == 200
        assert client.get(f"/v1/scores/{latest_year}/XAA", headers=auth).status_code == 200
    finally:
        client.__exit__(None, None, None)
        mlflow_at(pipeline.paths.tracking_uri).MlflowClient().delete_registered_model_alias(
            scoring.model_name, "retired")


def test_a_broken_model_card_is_503_on_ready_naming_the_version_and_field(pipeline, launch, tmp_path,
                                                                         latest_year):
    """The same model registered under another name with a broken card: refused by name, never served raw."""
    from nexus.tracking import mlflow_at
    from training import registry

    name = "nexus-broken-card"
    champion = registry.resolve(pipeline.paths, pipeline.params.scoring.model_name, alias="champion")
    mlflow = mlflow_at(pipeline.paths.tracking_uri)
    unknown = str(mlflow.register_model(champion.source, name).version)
    registry.record(pipeline.paths, name, unknown, champion.tags | {"nexus.calibration": "platt"})
    registry.set_alias(pipeline.paths, name, "champion", unknown)
    scoring = pipeline.params.scoring.model_copy(update={"model_name": name})
    app, client = launch(pipeline, f"sqlite:///{tmp_path / 'reviews.db'}",
                         pipeline.params.model_copy(update={"scoring": scoring}))
    try:
        auth = {"Authorization": f"Bearer {app.state.tokens.create('r', 'reviewer').secret}"}
        ready = client.get("/v1/ready")
        assert ready.status_code == 503 and ready.json()["version"] == unknown
        reason = ready.json()["reason"]
        assert f"model {name} version {unknown}" in reason and "'calibration'" in reason
        assert "\n" not in reason
        score = client.get(f"/v1/scores/{latest_year}/XAA", headers=auth)
        assert score.status_code == 503 and "'calibration'" in score.json()["detail"]
        listed = client.get("/v1/models", headers=auth).json()["aliases"][0]
        assert listed["card"] is None and "'calibration'" in listed["card_problem"]

        # a version whose card lacks a field: the alias moves to it and readiness names that field
        missing = str(mlflow.register_model(champion.source, name).version)
        registry.record(pipeline.paths, name, missing,
                        {k: v for k, v in champion.tags.items() if k != "nexus.folds"})
        registry.set_alias(pipeline.paths, name, "champion", missing)
        app.state.catalog.refresh()
        ready = client.get("/v1/ready").json()
        assert ready["version"] == missing and "'folds' is missing" in ready["reason"]
        assert f"version {missing}" in ready["reason"]
    finally:
        client.__exit__(None, None, None)
        mlflow.MlflowClient().delete_registered_model(name)
