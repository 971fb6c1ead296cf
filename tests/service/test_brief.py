"""The country brief PDF over real HTTP, printed by Debian's chromium, opened again with pypdf.

The module's service app is served by uvicorn on a free loopback port (its lifespan already ran
in the `service` fixture). Program and reviewer tokens get one A4 page that says the country,
its probability, band, model version and a driver by its plain-language name; an admin gets
403, an unknown code 404, a missing browser 503 naming the setting, and closing the printer
leaves no chromium behind.
"""

from __future__ import annotations

import io
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")
A4_POINTS = (595.28, 841.89)

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason="needs Debian's chromium: bash .ci/install-chromium")
pypdf = pytest.importorskip("pypdf", reason="pypdf opens the brief: pip install -e .[test]")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _chromium_children() -> set:
    """This process's chromium descendants; one that exits while being listed is not counted."""
    import psutil

    found = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if "chrom" in child.name().lower():
                found.add(child)
        except psutil.NoSuchProcess:
            continue
    return found


@pytest.fixture(scope="module")
def chromium_before() -> set:
    """The chromium processes this test process had before the module printed anything."""
    return _chromium_children()


@pytest.fixture(scope="module")
def http(service, chromium_before):
    """An httpx client on the module's app under uvicorn (loopback; lifespan already run by `service`)."""
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(service.app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        yield client
    server.should_exit = True
    thread.join(timeout=15)


@pytest.fixture(scope="module")
def country(service, latest_year):
    """The latest year's highest-risk country: (served version, its score item, its largest driver)."""
    from service.drivers import drivers

    served, _ = service.app.state.catalog.get()
    i = served.year(latest_year)[0]
    return served, served.items[i], drivers(served, i)[0]


def _text(pdf: bytes) -> tuple[object, str]:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return reader, "\n".join(page.extract_text() for page in reader.pages)


@pytest.mark.parametrize("role", ["program", "reviewer"])
def test_brief_is_one_a4_page_saying_score_band_version_and_drivers(service, http, country, role):
    served, item, driver = country
    response = http.get(f"/v1/briefs/{item['year']}/{item['iso3']}.pdf", headers=service.auth(role))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert f"nexus-brief-{item['iso3']}-{item['year']}-v{served.version}.pdf" in \
        response.headers["content-disposition"]
    reader, text = _text(response.content)
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (float(box.width), float(box.height)) == pytest.approx(A4_POINTS, abs=1.5)
    words = " ".join(text.split())
    assert item["country"] in words
    assert f"{item['probability']:.3f}" in words
    assert item["band"] in words
    assert f"{served.model_name} version {served.version}" in words
    assert driver["name"] in words, f"driver {driver['feature']!r} not named in words"
    assert f"{driver['direction']} {driver['points']:+.1f}" in words
    assert served.provenance["panel_sha256"] in "".join(text.split())  # wrapped anywhere, still all there
    assert served.provenance["run_id"] in "".join(text.split())


def test_download_link_on_the_country_page_fetches_the_brief_with_the_page_cookie(service, http, country):
    _, item, _ = country
    http.cookies.clear()
    login = http.post("/review/login", data={"token": service.tokens["reviewer"],
                                              "next": f"/review/{item['iso3']}/{item['year']}"})
    assert login.status_code == 303
    page = http.get(f"/review/{item['iso3']}/{item['year']}")
    href = f"/v1/briefs/{item['year']}/{item['iso3']}.pdf"
    assert f'href="{href}"' in page.text and "Download brief" in page.text
    response = http.get(href)
    http.cookies.clear()
    assert response.status_code == 200 and response.content.startswith(b"%PDF")


def test_roles_without_scores_and_unknown_codes_get_problems(service, http, country):
    _, item, _ = country
    admin = http.get(f"/v1/briefs/{item['year']}/{item['iso3']}.pdf", headers=service.auth("admin"))
    assert admin.status_code == 403
    assert "program, reviewer" in admin.json()["detail"]
    assert http.get(f"/v1/briefs/{item['year']}/{item['iso3']}.pdf").status_code == 401
    unknown = http.get(f"/v1/briefs/{item['year']}/QQQ.pdf", headers=service.auth("program"))
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/json")
    assert "QQQ" in unknown.json()["detail"]


def test_a_missing_browser_is_a_503_naming_the_setting(service, http, country):
    from service.brief import BriefPrinter

    _, item, _ = country
    state = service.app.state
    kept = getattr(state, "brief_printer", None)
    state.brief_printer = BriefPrinter("/nonexistent/chromium")
    try:
        response = http.get(f"/v1/briefs/{item['year']}/{item['iso3']}.pdf", headers=service.auth("program"))
    finally:
        state.brief_printer.close()
        state.brief_printer = kept
    assert response.status_code == 503
    assert "scoring.service.browser" in response.json()["detail"]


def test_a_brief_longer_than_a_page_is_scaled_onto_one(service):
    from service.brief import printer

    rows = "".join(f"<p>signal {n}: a long line of a country with many sources</p>"
                   for n in range(40))  # about 1.3 pages at scale 1
    reader, text = _text(printer(service.app).pdf(f"<html><body>{rows}</body></html>"))
    assert len(reader.pages) == 1
    assert "signal 0:" in text and "signal 39:" in text


def test_closing_the_printer_leaves_no_chromium(service, http, country, chromium_before):
    """Last in the module: the service's shutdown closes the same printer."""
    import psutil

    from service.brief import printer

    _, item, _ = country
    shared = printer(service.app)
    if not _chromium_children() - chromium_before:  # this test run alone: print one brief first
        assert http.get(f"/v1/briefs/{item['year']}/{item['iso3']}.pdf",
                        headers=service.auth("program")).status_code == 200
    ours = list(_chromium_children() - chromium_before)
    assert ours, "the printer's chromium is not a child of this process"
    shared.close()
    _, alive = psutil.wait_procs(ours, timeout=10)
    assert not alive, f"chromium left running: {[p.pid for p in alive]}"
