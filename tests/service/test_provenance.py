"""The country page says what each value is and where it comes from, and offers the rows as CSV.

An aggregated value is described as the feature stage recorded it ("sum of count over 40 rows
of `crossings_2023.csv` … ÷ population from `population.csv` row 12"), a single-row value by
its file and row; rows are in order of |SHAP|; the CSV lists the contributing rows whose
recorded values reproduce the value. Over HTTP against the session's trained pipeline.
"""

from __future__ import annotations

import csv
import html
import io
import re

import numpy as np
import pytest


@pytest.fixture(scope="module")
def case(service, latest_year):
    """(served, row, iso3, year, contributions) of a country-year whose crossings value is known."""
    served, _ = service.app.state.catalog.get()
    for i in served.year(latest_year):
        contributions = served.contributions(i)
        by_name = {c["feature"]: c for c in contributions}
        if by_name["crossings_per_100k"]["value"] is not None:
            return served, i, served.items[i]["iso3"], latest_year, contributions
    pytest.fail("no country with a crossings value")


def _get(service, role: str | None, path: str):
    client = service.client
    client.cookies.clear()
    try:
        if role:
            client.post("/review/login", data={"token": service.tokens[role]})
        return client.get(path, follow_redirects=False)
    finally:
        client.cookies.clear()


def test_the_country_page_cites_aggregates_by_what_they_are(service, case):
    served, i, iso3, year, contributions = case
    page = _get(service, "reviewer", f"/review/{iso3}/{year}")
    assert page.status_code == 200
    section = page.text[page.text.index('id="sources"'):]
    section = section[:section.index("</section>")]
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", section)))
    assert "Where each value comes from" in text and "publisher's file states it" not in page.text
    crossing = next(c for c in contributions if c["feature"] == "crossings_per_100k")
    vy = crossing["value_year"]
    found = re.search(rf"sum of count over (\d+) rows of border_crossings/crossings_{vy}\.csv, between rows "
                      rf"([\d,]+) and ([\d,]+), ÷ population from wb_wdi/population\.csv row (\d+)", text)
    assert found, text[:2000]
    assert int(found.group(1)) == service.app.state.params.world.crossing_events_per_country_year
    single = next(c for c in contributions if c["source"] == "governance_indicators" and c["value"])
    assert f"row {single['source_row']} of {single['source_file']}" in text
    shown = re.findall(r'<tr><td>([a-z0-9_]+)<span class="unit">', section)
    assert shown == [c["feature"] for c in contributions]  # |SHAP| first, every feature
    assert f'href="/review/{iso3}/{year}/sources.csv"' in section


def test_the_sources_csv_lists_rows_that_reproduce_the_value(service, case):
    served, i, iso3, year, contributions = case
    response = _get(service, "reviewer", f"/review/{iso3}/{year}/sources.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert f"nexus-sources-{iso3}-{year}-v{served.version}.csv" in response.headers["content-disposition"]
    lines = list(csv.DictReader(io.StringIO(response.text)))
    order = list(dict.fromkeys(line["feature"] for line in lines))
    assert order == [c["feature"] for c in contributions]
    crossing = [line for line in lines if line["feature"] == "crossings_per_100k"]
    first = crossing[0]
    assert len(crossing) == int(first["n_rows"]) and first["operation"] == "sum"
    assert {line["file"] for line in crossing} == {f"border_crossings/crossings_{first['value_year']}.csv"}
    summed = sum(float(line["row_value"]) for line in crossing)
    assert summed == float(first["numerator"])
    value = summed / float(first["denominator"]) * float(first["scale"])
    assert np.isclose(value, float(first["value"]), rtol=1e-12)
    assert first["denominator_file"] == "wb_wdi/population.csv" and int(first["denominator_row"]) > 1
    procurement = [x for x in lines if x["feature"] == "procurement_single_bid_share" and x["value"]]
    if procurement:  # one line per aggregate whose rows are a range: first and last line, counted
        (p,) = procurement
        assert int(p["last_row"]) - int(p["first_row"]) + 1 >= int(p["n_rows"]) > 0
        assert np.isclose(float(p["numerator"]) / float(p["denominator"]), float(p["value"]))


def test_the_sources_csv_is_for_reviewers_only(service, case):
    _, _, iso3, year, _ = case
    assert _get(service, "program", f"/review/{iso3}/{year}/sources.csv").status_code == 403
    signed_out = _get(service, None, f"/review/{iso3}/{year}/sources.csv")
    assert signed_out.status_code == 303 and signed_out.headers["location"].startswith("/review/login")
    assert _get(service, "reviewer", f"/review/QQQ/{year}/sources.csv").status_code == 404


def test_an_aggregate_reads_as_what_it_is_and_an_old_panel_says_so():
    from service.provenance import describe

    c = {"feature": "crossings_per_100k", "value": 59.8, "shap": 0.2, "value_year": 2023,
         "source": "border_crossings", "source_file": "border_crossings/crossings_2023.csv", "source_row": 55}
    origin = {"operation": "sum", "of": "count", "file": "border_crossings/crossings_2023.csv", "row": 55,
              "last_row": 94, "n_rows": 40, "n_files": 1, "numerator": 1196.0, "denominator": 2e6,
              "scale": 1e5, "denominator_file": "wb_wdi/population.csv", "denominator_row": 12}
    said = describe(c, origin)
    assert (said["kind"], said["rows_text"], said["denominator_row"]) == ("aggregate", "rows 55–94", 12)
    assert said["ingredients"] == "1,196 ÷ 2,000,000 × 100,000"
    assert describe(c, origin | {"last_row": 300})["rows_text"] == "between rows 55 and 300"
    old = describe(c, None, recorded_any=False)
    assert old["kind"] == "row" and old["unrecorded"] and old["row"] == 55
