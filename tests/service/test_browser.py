"""The reviewer page in a real browser: Debian's chromium, headless, driven by Playwright.

The service runs under uvicorn on a free loopback port. A reviewer signs in, opens a
country, sees the waterfall, records a decision and finds it in the history after a reload;
a program token never reaches the review form. No browser is downloaded: `.ci/install-chromium`
installs Debian's package, and these tests skip (saying why) where it is missing.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not CHROMIUM.exists(),
                                 reason="needs Debian's chromium: bash .ci/install-chromium")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def live(pipeline, tmp_path_factory):
    """(base URL, tokens by role) of the service under uvicorn on loopback; stopped after the module."""
    import uvicorn

    from service.app import create_app

    url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'reviews.db'}"
    app = create_app(pipeline.params, pipeline.paths, database_url=url)
    tokens = {role: app.state.tokens.create(f"{role.title()} Person", role).secret
              for role in ("program", "reviewer", "admin")}
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{base}/v1/ready", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "service not ready"
        time.sleep(0.2)
    yield base, tokens
    server.should_exit = True
    thread.join(timeout=15)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield chromium
        chromium.close()


def _sign_in(browser, base, token, width=1366):
    page = browser.new_context(viewport={"width": width, "height": 900}).new_page()
    page.goto(f"{base}/review")
    assert "/review/login" in page.url  # no token yet: sent to sign in
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/review")
    return page


def test_reviewer_signs_off_an_explanation_and_finds_it_after_reload(live, browser, tmp_path, latest_year):
    base, tokens = live
    page = _sign_in(browser, base, tokens["reviewer"])
    assert page.get_by_role("heading", name=f"Country risk, {latest_year}").is_visible()
    first = page.locator("table.ranked tbody tr").first
    country = first.locator("td a").inner_text()
    first.locator("td a").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text().startswith(country)

    card = page.get_by_role("region", name="The served model")  # the header: calibration, K, baselines beaten
    assert "calibration:" in card.inner_text() and "boosters" in card.inner_text()
    assert "persistence" in card.inner_text() and "development origins" in card.inner_text()
    meaning = page.locator(".meaning")
    assert meaning.is_visible()
    assert meaning.inner_text().startswith("Venn-Abers interval: the calibration data are consistent with")
    assert "conformal set is {" in meaning.inner_text()

    waterfall = page.locator("svg.waterfall")
    assert waterfall.is_visible()
    assert waterfall.locator("rect").count() >= 8  # one bar per top driver, plus the rest
    assert "base value" in waterfall.text_content()
    assert page.locator("svg.families").is_visible() and page.locator("svg.trend").is_visible()
    assert page.get_by_role("heading", name="Where each value comes from").is_visible()
    drivers = page.locator("table.drivers").first
    assert "raises the risk" in drivers.inner_text() or "lowers the risk" in drivers.inner_text()
    assert "points" in drivers.inner_text() and "log-odds" in drivers.inner_text()
    others = page.locator("details.others")
    assert not others.locator("table").is_visible()
    others.locator("summary").click()  # "other features" opens
    assert others.locator("table tbody tr").count() > 10
    page.screenshot(path=str(tmp_path / "reviewer_page.png"), full_page=True)

    comment = f"Border signals match the crossings files ({time.time():.0f})"
    page.get_by_label("Flag for follow-up").check()
    page.get_by_label("Comment").fill(comment)
    with page.expect_navigation():
        page.get_by_role("button", name="Record decision").click()
    assert page.get_by_role("status").inner_text().startswith("Your decision was recorded")
    assert page.evaluate("document.activeElement.id") == "recorded"  # focus moved to the confirmation
    assert page.get_by_role("status").is_visible() and page.url.endswith("#recorded")

    page.reload()
    history = page.locator("#history")
    assert comment in history.inner_text() and "Reviewer Person" in history.inner_text()
    assert "flag" in history.locator("li").first.inner_text()

    page.get_by_role("link", name=f"← Ranked table {latest_year}").click()
    row = page.locator("table.ranked tbody tr", has_text=country)
    assert "flagged" in row.inner_text()


def test_review_form_works_from_the_keyboard(live, browser, latest_year):
    base, tokens = live
    page = _sign_in(browser, base, tokens["reviewer"])
    page.goto(f"{base}/review/XAB/{latest_year}")
    page.get_by_label("Accept").focus()
    page.keyboard.press("Space")
    page.keyboard.press("Tab")  # the radio group is one tab stop; next is the comment
    assert page.evaluate("document.activeElement.id") == "comment"
    page.keyboard.type("Checked with the keyboard only")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Record decision"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "Checked with the keyboard only" in page.locator("#history").inner_text()


def test_program_token_cannot_reach_the_review_form(live, browser, latest_year):
    base, tokens = live
    page = _sign_in(browser, base, tokens["program"])
    page.goto(f"{base}/review/XAC/{latest_year}")
    assert page.get_by_role("heading", name="Trend over the years").is_visible()
    assert page.get_by_role("button", name="Record decision").count() == 0
    assert page.locator("svg.waterfall").count() == 0 and page.locator("form.review-form").count() == 0
    posted = page.request.post(f"{base}/review/XAC/{latest_year}", form={"decision": "accept"})
    assert posted.status == 403
    api = page.request.get(f"{base}/v1/explanations/{latest_year}/XAC",
                           headers={"Authorization": f"Bearer {tokens['program']}"})
    assert api.status == 403


WIDTHS = (390, 640, 1280, 1920)
# What each page must pass at every width: nothing scrolls sideways, chart text is at least 11 px, and every
# control a finger must hit is at least 44 px tall (a radio button counts by its 44 px label).
FITS = """() => {
  const small = [], tiny = [];
  for (const svg of document.querySelectorAll('svg.chart')) {
    const vb = svg.viewBox.baseVal, scale = vb && vb.width ? svg.getBoundingClientRect().width / vb.width : 1;
    for (const t of svg.querySelectorAll('text')) {
      const px = parseFloat(getComputedStyle(t).fontSize) * scale;
      if (px < 11) small.push(t.textContent + ' ' + px.toFixed(1));
    }
  }
  const controls = 'button, select, input:not([type=hidden]):not([type=radio]), summary, label.choice, '
                 + '.crumbs a, .actions a, td a, .suggestions a, header.top a';
  for (const el of document.querySelectorAll(controls)) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.height < 44)
      tiny.push(`${el.tagName} ${el.textContent.trim().slice(0, 30)} ${r.height}`);
  }
  return {scroll: document.documentElement.scrollWidth, inner: window.innerWidth, small, tiny};
}"""
PAGES = [("login", "/review/login", None), ("ranked", "/review", "reviewer"),
         ("ranked, insufficient data", "/review?year=2000", "reviewer"),
         ("country", "/review/XAB/{year}", "reviewer"),
         ("404", "/review/XAQZ/{year}", "reviewer"), ("422", "/review?year=abc", "reviewer"),
         ("admin", "/review", "admin")]


def test_every_page_fits_every_width(live, browser, latest_year):
    """Login, ranked, country, problem (404 and 422) and admin pages at 390, 640, 1280 and 1920 px."""
    base, tokens = live
    widths = {}
    for width in WIDTHS:
        context = browser.new_context(viewport={"width": width, "height": 900})
        page = context.new_page()
        signed = None
        for name, path, role in PAGES:
            if role != signed:
                page.request.post(f"{base}/review/login", form={"token": tokens[role]})
                signed = role
            page.goto(base + path.format(year=latest_year))
            if name == "country":  # every <details> open: the page at its widest
                page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
            fits = page.evaluate(FITS)
            widths[(name, width)] = fits["scroll"]
            assert fits["scroll"] <= fits["inner"], f"{name} at {width}px is {fits['scroll']}px wide"
            assert not fits["small"], f"{name} at {width}px: chart text under 11px: {fits['small'][:3]}"
            if width == 390:
                assert not fits["tiny"], f"{name} at 390px: touch targets under 44px: {fits['tiny'][:3]}"
        assert page.url.endswith("/review/admin")  # an admin lands on the admin page, not a 403
        context.close()
    assert len(widths) == len(WIDTHS) * len(PAGES)
