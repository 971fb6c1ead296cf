"""The reviewer pages as a reader uses them (issue 12): drivers in words, the trend's story, insufficient
data listed apart, search, a friendly 404, HTML error pages, sort by change and the admin landing page."""

from __future__ import annotations

import csv
import html
import io
import re

import pytest

from service.vocabulary import INSUFFICIENT_DATA


def text_of(page: str) -> str:
    """What a reader sees: tags dropped, white space collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", page)))


@pytest.fixture
def signed_in(service):
    def sign_in(role: str):
        service.client.cookies.clear()
        service.client.post("/review/login", data={"token": service.tokens[role]}, follow_redirects=False)
        return service.client

    yield sign_in
    service.client.cookies.clear()


@pytest.fixture(scope="module")
def thin_year(pipeline) -> int:
    """The first year of the synthetic world: no signal observed yet, every row below min_coverage."""
    from scoring.score import load_scores

    scores, *_ = load_scores(pipeline.scores.directory)
    thin = scores[scores["coverage"].fillna(0) < pipeline.params.scoring.min_coverage]
    assert len(thin), "the default world should have country-years with too little data"
    return int(thin["year"].min())


def test_rows_below_min_coverage_are_never_ranked_in_api_csv_or_page(service, signed_in, thin_year,
                                                                     latest_year):
    body = service.client.get(f"/v1/scores/{thin_year}", headers=service.auth("program")).json()
    apart = [s for s in body["scores"] if s["band"] == INSUFFICIENT_DATA]
    assert body["insufficient_data"] == len(apart) > 0 and body["ranked"] + len(apart) == body["count"]
    assert all(s["band"] != INSUFFICIENT_DATA for s in body["scores"][:body["ranked"]])  # ranked rows first
    assert all(s["not_ranked"] for s in apart) and not any(s["not_ranked"] for s in body["scores"][:body["ranked"]])
    assert all(s["coverage"] is None or s["coverage"] < 0.25 for s in apart if "coverage" in s["not_ranked"])
    exported = service.client.get(f"/v1/scores.csv?year={thin_year}", headers=service.auth("program")).text
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert {r["rank"] for r in rows if r["band"] == INSUFFICIENT_DATA} == {""}
    assert [r["rank"] for r in rows if r["rank"]] == [str(n) for n in range(1, body["ranked"] + 1)]
    latest = service.client.get(f"/v1/scores/{latest_year}", headers=service.auth("program")).json()
    assert latest["ranked"] == latest["count"]  # the newest year is fully observed
    spec = service.client.get("/openapi.json").json()
    assert INSUFFICIENT_DATA in spec["components"]["schemas"]["Score"]["properties"]["band"]["enum"]

    page = signed_in("reviewer").get(f"/review?year={thin_year}").text
    apart_html = page.split('id="insufficient"')[1]
    assert f"Insufficient data: {len(apart)} not ranked" in text_of(page)
    assert 'data-label="Rank"' not in apart_html  # the rows listed apart carry no rank
    assert page.split('id="insufficient"')[0].count('data-label="Rank"') == body["ranked"]


def test_country_page_explains_each_driver_in_words(service, signed_in, latest_year):
    page = signed_in("reviewer").get(f"/review/XAB/{latest_year}").text
    text = text_of(page)
    drivers = page.split('id="drivers-h"')[1].split("</table>")[0]
    assert drivers.split("<tbody>")[1].count("<tr>") == service.app.state.params.scoring.top_drivers
    effects = [float(v) for v in re.findall(r"([+-]\d+\.\d{3}) log-odds", drivers)]
    assert effects == sorted(effects, key=abs, reverse=True)  # largest |effect| first
    assert re.search(r"(raises|lowers) the risk</strong>\s+by \d+\.\d points", drivers)
    assert re.search(r"higher than \d+% of \d+ countries reporting in \d{4}", text)
    region = service.app.state.catalog.get()[0].items[0]["region"] and next(
        it["region"] for it in service.app.state.catalog.get()[0].items if it["iso3"] == "XAB")
    assert not region or f"{region} median " in text  # the region's median beside the value
    assert "title=" not in drivers  # names and units are visible text, not tooltips
    others = re.search(r"<details class=\"more others\">\s*<summary>(\d+) other features", page)
    assert others and int(others.group(1)) > 0
    assert "nxs_" not in page and "<script" not in page


def test_missing_value_says_what_missing_means_for_this_model(service, signed_in, latest_year):
    served, _ = service.app.state.catalog.get()
    i, j = next((i, j) for i in served.year(latest_year) for j in range(len(served.features))
                if served.values[i, j] != served.values[i, j])
    iso3 = served.items[i]["iso3"]
    page = text_of(signed_in("reviewer").get(f"/review/{iso3}/{latest_year}").text)
    assert "Missing: not reported. The model does not fill in a guess" in page
    assert re.search(r"learned default (raises|lowers) the risk by \d+\.\d probability points", page)


def test_trend_shows_placements_and_backtest_forecasts(service, signed_in, latest_year):
    page = signed_in("program").get(f"/review/XAB/{latest_year}").text
    table = text_of(page.split("The trend as a table")[1].split("</table>")[0])
    assert "backtest forecast" in table and "fitted value" in table and "served model's forecast" in table
    assert re.search(r"Tier [123]|not ranked|special case", table)
    trend = page.split('<svg class="chart trend"')[1].split("</svg>\n</section>")[0]
    assert "viewBox" not in trend  # text drawn at its CSS size at any width
    assert "placed" in trend and 'fill-opacity="0.45"' in trend  # the placement strip, the interval band


def test_search_finds_by_code_or_name_and_suggests_the_nearest(service, signed_in, latest_year):
    client = signed_in("program")
    served, _ = service.app.state.catalog.get()
    found = client.get(f"/review?q=xab&year={latest_year}", follow_redirects=False)
    assert found.status_code == 303 and found.headers["location"] == f"/review/XAB/{latest_year}"
    name = served.countries["XAC"]
    by_name = client.get(f"/review?q={name[1:-1]}&year={latest_year}", follow_redirects=False)
    assert by_name.status_code in (200, 303)
    assert "XAC" in (by_name.headers.get("location") or by_name.text)
    missing = client.get(f"/review/XAQZ/{latest_year}")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert "Did you mean" in missing.text and f'href="/review/XAQ/{latest_year}"' in missing.text
    assert missing.text.count('href="/review/X') <= 6  # a few suggestions, never all the codes
    bad = client.get("/review?year=abc")
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("text/html")
    assert "year" in text_of(bad.text) and "Find a country" in bad.text


def test_sort_by_change_and_band_change_marker(service, signed_in, latest_year):
    client = signed_in("program")
    page = client.get(f"/review?year={latest_year}&sort=change").text
    found = re.findall(r'data-label="Change"><span class="[a-z]*">([+-]\d\.\d{3})', page)
    changes = [float(v) for v in found]
    assert len(changes) > 10 and changes == sorted(changes, reverse=True)
    served, _ = service.app.state.catalog.get()
    before = {served.items[i]["iso3"]: served.items[i]["band"] for i in served.year(latest_year - 1)}
    moved = sum(before.get(served.items[i]["iso3"]) not in (None, INSUFFICIENT_DATA, served.items[i]["band"])
                and served.items[i]["band"] != INSUFFICIENT_DATA for i in served.year(latest_year))
    assert page.count("band changed: was") == moved
    assert client.get(f"/review?year={latest_year}&sort=sideways").status_code == 422


def test_admin_lands_on_the_admin_page(service, signed_in):
    client = signed_in("admin")
    landing = client.get("/review", follow_redirects=False)
    assert landing.status_code == 303 and landing.headers["location"] == "/review/admin"
    admin = client.get("/review/admin")
    assert admin.status_code == 200 and "Tokens" in admin.text and "reviewer tester" in admin.text
    assert "champion" in admin.text and "Models" in admin.text
    refused = client.get("/review/XAB/2020")
    assert refused.status_code == 403 and 'href="/review/admin"' in refused.text  # no loop back to a 403
    assert signed_in("program").get("/review/admin").status_code == 403
