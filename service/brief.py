"""The country brief: one A4 page a program team takes into a meeting, printed to PDF by chromium.

`GET /v1/briefs/{year}/{iso3}.pdf` (program and reviewer roles; a bearer token, or the reviewer
page's cookie so its "Download brief" link works) fills `templates/brief.html` (escaped, no
scripts) with what the API already serves — score, interval, band, coverage, trend, top drivers
in words, sources and their years, review status, provenance — and prints it with the chromium
at `scoring.service.browser` through Playwright's sync API. One browser per process, launched on
the first brief and driven from one thread (Playwright's sync objects belong to the thread that
made them); the app's shutdown closes it, so no chromium outlives the service.
"""

from __future__ import annotations

import atexit
import contextlib
import math
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from html import escape
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials
from jinja2 import Environment, FileSystemLoader, select_autoescape

from nexus.errors import NexusError
from scoring.served import ServedVersion
from service import schemas as s
from service.auth import COOKIE, DATA_RESPONSES, bearer, problem
from service.charts import fmt_value
from service.drivers import MISSING, comparison_words, drivers
from service.text import page_text
from service.tokens import TokenInfo
from service.vocabulary import INSUFFICIENT_DATA, UNREVIEWED, roles_with

PERMISSION = "scores"  # program teams and reviewers; admins manage tokens and read no country data
BROWSER_KEY = "scoring.service.browser"
# Debian's chromium, headless, with nothing that reaches the network on its own.
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PRINT_TIMEOUT_S = 60
A4_MM = (210, 297)
MARGIN_MM = {"top": 11, "right": 13, "bottom": 10, "left": 13}
MARGINS = {side: f"{mm}mm" for side, mm in MARGIN_MM.items()}
PRINTABLE_MM = (A4_MM[0] - MARGIN_MM["left"] - MARGIN_MM["right"],
                A4_MM[1] - MARGIN_MM["top"] - MARGIN_MM["bottom"])
PX_PER_MM = 96 / 25.4  # CSS pixels
MIN_SCALE = 0.6  # below it the text is too small to read: a longer brief runs onto a second page
VERSION = Query(None, ge=1, description="pin a model version (default: the served alias's)")
INTERVAL_METHODS = {"venn_abers": "Venn-Abers"}
TARGETS = {"t2wl_or_t3": "a Tier 2 Watch List or Tier 3 placement", "t3": "a Tier 3 placement"}
TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                        autoescape=select_autoescape(default=True), trim_blocks=True, lstrip_blocks=True)
TEMPLATES.filters |= {"value": fmt_value, "user_text": page_text}


class BriefUnavailable(NexusError):
    """The brief cannot be printed (no browser configured, missing, or failing to start): 503."""


class BriefPrinter:
    """HTML → A4 PDF with one lazily launched chromium, owned by one worker thread."""

    def __init__(self, executable: str | None):
        self.executable = executable
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="brief-printer")
        self._playwright = None
        self._browser = None
        self._closed = False
        self._lock = threading.Lock()

    def browser_path(self) -> str:
        """The configured chromium, or BriefUnavailable naming the setting."""
        if not self.executable:
            raise BriefUnavailable(f"country briefs are off: {BROWSER_KEY} is not set in params.yaml "
                                   "(set it to Debian's chromium, /usr/bin/chromium)")
        found = shutil.which(self.executable)
        if found is None:
            raise BriefUnavailable(f"{BROWSER_KEY} is {self.executable!r}, which is not an executable "
                                   "file: install Debian's chromium (bash .ci/install-chromium) or fix "
                                   "the setting")
        return found

    def pdf(self, html: str) -> bytes:
        """The page printed to PDF (blocking: call from a worker thread, not the event loop)."""
        executable = self.browser_path()
        with self._lock:
            if self._closed:
                raise BriefUnavailable("the service is shutting down")
            job = self._worker.submit(self._print, executable, html)
        try:
            return job.result(timeout=PRINT_TIMEOUT_S)
        except TimeoutError:
            raise BriefUnavailable(f"the browser at {BROWSER_KEY} did not print the brief within "
                                   f"{PRINT_TIMEOUT_S} s") from None

    def _print(self, executable: str, html: str) -> bytes:
        from playwright.sync_api import Error

        # The page is self-contained: no script runs and nothing is fetched, whatever a value says.
        page = self._launched(executable).new_page(java_script_enabled=False)
        try:
            page.route("**/*", lambda route: route.abort())
            page.emulate_media(media="print")
            page.set_viewport_size({"width": round(PRINTABLE_MM[0] * PX_PER_MM),
                                    "height": round(PRINTABLE_MM[1] * PX_PER_MM)})
            page.set_content(html, wait_until="load")
            return page.pdf(format="A4", print_background=True, scale=self._fit(page), margin=MARGINS)
        except Error as exc:  # a crashed or closed browser: this brief fails, the next one relaunches
            raise BriefUnavailable(f"the browser at {BROWSER_KEY} failed to print: "
                                   f"{_first_line(exc)}") from None
        finally:
            with contextlib.suppress(Exception):
                page.close()

    @staticmethod
    def _fit(page) -> float:
        """The print scale that keeps the brief on one page: 1, or less when a long country's content
        would run over (a narrower scale also widens the layout, so the height shrinks at least as much)."""
        height = page.evaluate("document.documentElement.scrollHeight")  # works with page scripts off
        room = PRINTABLE_MM[1] * PX_PER_MM - 4  # a few pixels for the printer's rounding
        return max(MIN_SCALE, min(1.0, math.floor(100 * room / max(height, 1)) / 100))

    def _launched(self, executable: str):
        if self._browser is not None and self._browser.is_connected():
            return self._browser
        from playwright.sync_api import Error, sync_playwright

        try:
            if self._playwright is None:
                self._playwright = sync_playwright().start()
            self._browser = self._playwright.chromium.launch(executable_path=executable, args=BROWSER_ARGS,
                                                            headless=True)
        except Error as exc:
            raise BriefUnavailable(f"the browser at {BROWSER_KEY} ({executable}) did not start: "
                                   f"{_first_line(exc)}") from None
        return self._browser

    def close(self) -> None:
        """Close chromium and Playwright's driver (idempotent; the service's shutdown calls it)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        with contextlib.suppress(Exception):
            self._worker.submit(self._stop).result(timeout=30)
        self._worker.shutdown(wait=False)

    def _stop(self) -> None:
        try:
            if self._browser is not None:
                self._browser.close()
        finally:
            if self._playwright is not None:
                self._playwright.stop()
            self._browser = self._playwright = None


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


_MAKING = threading.Lock()


def printer(app: FastAPI) -> BriefPrinter:
    """The app's printer, made on first use (closed at shutdown, or at exit if the app never shut down)."""
    with _MAKING:
        found = getattr(app.state, "brief_printer", None)
        if found is None:
            found = BriefPrinter(app.state.params.scoring.service.browser)
            atexit.register(found.close)
            app.state.brief_printer = found
    return found


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI):
    yield
    found = getattr(app.state, "brief_printer", None)
    if found is not None:
        await run_in_threadpool(found.close)


router = APIRouter(prefix="/v1", lifespan=_lifespan)


async def brief_caller(request: Request,
                       credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> TokenInfo:
    """A bearer token (the API) or the reviewer page's session cookie, whose role may read scores."""
    secret = credentials.credentials if credentials else request.cookies.get(COOKIE, "")
    info = request.app.state.tokens.verify(secret) if secret else None
    if info is None:
        raise HTTPException(401, "missing, unknown or revoked token (Authorization: Bearer <token>)",
                            headers={"WWW-Authenticate": "Bearer"})
    if not info.may(PERMISSION):
        raise HTTPException(403, f"role {info.role!r} may not read country briefs; roles that may: "
                                 f"{', '.join(roles_with(PERMISSION))}")
    return info


PDF_PAGE = {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
            "description": "one A4 page: score, interval, band, coverage, trend, top drivers in words, "
                           "sources, review status and provenance"}
BRIEF_RESPONSES = (DATA_RESPONSES | {200: PDF_PAGE}
                   | problem(503, f"model not servable, or no browser to print with ({BROWSER_KEY})"))


@router.get("/briefs/{year}/{iso3}.pdf", tags=["scores"], response_class=Response, responses=BRIEF_RESPONSES,
            summary="a country-year's one-page brief as PDF, for program teams")
def brief_pdf(request: Request, year: int = PathParam(**s.YEAR), iso3: str = PathParam(**s.ISO3),
              version: int | None = VERSION, who: TokenInfo = Depends(brief_caller)) -> Response:
    served, _ = request.app.state.catalog.get(version=version)
    html = brief_html(request, served, iso3.upper(), year, pinned=version is not None)
    pdf = printer(request.app).pdf(html)
    item = served.items[served.row(iso3.upper(), year)]
    name = f"nexus-brief-{item['iso3']}-{year}-v{served.version}.pdf"
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"})


def brief_html(request: Request, served: ServedVersion, iso3: str, year: int, pinned: bool = False) -> str:
    """The brief as a self-contained HTML page (what chromium prints)."""
    i = served.row(iso3, year)
    app = request.app
    reviews = app.state.reviews
    status = reviews.statuses(served.model_name, served.version).get((iso3, year), UNREVIEWED)
    latest = next((r for r in reviews.history(iso3, year, served.model_name)
                   if r.model_version == served.version), None)
    item = served.items[i] | {"review_status": status}
    trend = [served.items[j] for j in served.country(iso3)]
    bands = app.state.params.scoring.bands
    contributions = served.contributions(i)
    top = drivers(served, i)[:app.state.params.scoring.top_drivers]
    alias = None if pinned else app.state.catalog.default_alias
    return TEMPLATES.get_template("brief.html").render(
        item=item, served=served, provenance=served.provenance | {"model_alias": alias},
        target=TARGETS.get(served.card.target, served.card.target), latest=latest,
        interval_method=INTERVAL_METHODS.get(served.card.interval, str(served.card.interval)),
        drivers=[d | {"comparison": comparison_words(d, year)} for d in top],
        any_missing=any(d["value"] is None for d in top), missing_words=MISSING,
        insufficient=item["band"] == INSUFFICIENT_DATA, min_coverage=app.state.params.scoring.min_coverage,
        sources=sources_with_years(contributions),
        trend_svg=trend_svg(trend, year, {"elevated": bands.elevated, "high": bands.high}),
        printed=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))


def sources_with_years(contributions: list[dict]) -> list[dict]:
    """Each source the features came from: its publisher, the years its values describe, its files."""
    groups: dict[str, dict] = {}
    for c in contributions:
        source = c.get("source") or ""
        if not source:
            continue
        group = groups.setdefault(source, {"source": source, "publisher": c.get("publisher") or "",
                                           "years": set(), "files": set(), "features": 0})
        group["features"] += 1
        if c.get("value_year") is not None:
            group["years"].add(int(c["value_year"]))
        if c.get("source_file"):
            group["files"].add(c["source_file"])
    out = []
    for g in sorted(groups.values(), key=lambda g: g["source"]):
        years = sorted(g["years"])
        span = "no value" if not years else (str(years[0]) if len(years) == 1 else f"{years[0]}–{years[-1]}")
        out.append(g | {"years": span, "files": sorted(g["files"])})
    return out


def trend_svg(points: list[dict], current_year: int, bands: dict[str, float], width: int = 760,
              height: int = 124) -> str:
    """The probability over the years with the band cut-points; the brief's year ringed.

    Filled points are forecasts, hollow ones fitted values (the outcome was in training).
    """
    left, right, top, bottom = 34, 18, 8, 22
    plot_w, plot_h = width - left - right, height - top - bottom
    years = [p["year"] for p in points]
    y0, y1 = min(years), max(years)

    def x(year: int) -> float:
        return left + (year - y0) / max(y1 - y0, 1) * plot_w

    def y(p: float) -> float:
        return top + (1 - p) * plot_h

    out = [f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" xmlns="http://www.w3.org/2000/svg">',
           f"<title>Risk probability {y0}–{y1}</title>"]
    for p in (0.0, 0.5, 1.0):
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y(p):.1f}" y2="{y(p):.1f}" '
                   'stroke="#d0d7de"/>'
                   f'<text x="{left - 5}" y="{y(p) + 3:.1f}" text-anchor="end" class="tick">{p:.1f}</text>')
    for name, cut in bands.items():
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y(cut):.1f}" y2="{y(cut):.1f}" '
                   f'stroke="#59636e" stroke-dasharray="3 3"/><text x="{width - right - 2}" '
                   f'y="{y(cut) - 3:.1f}" text-anchor="end" class="tick">{escape(name)} ≥ {cut:g}</text>')
    step = 5 if y1 - y0 > 12 else 1
    for year in range(y0, y1 + 1):
        if (year - y0) % step == 0 or year == y1:
            out.append(f'<text x="{x(year):.1f}" y="{height - 6}" text-anchor="middle" '
                       f'class="tick">{year}</text>')
    path = " ".join(f"{x(p['year']):.1f},{y(p['probability']):.1f}" for p in points)
    out.append(f'<polyline points="{path}" fill="none" stroke="#1f2328" stroke-width="1.5"/>')
    for p in points:
        fill = "#ffffff" if p.get("in_training") else "#1f2328"
        cx, cy = x(p["year"]), y(p["probability"])
        out.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="2.6" fill="{fill}" stroke="#1f2328"/>')
        if p["year"] == current_year:
            out.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="6" fill="none" stroke="#b3261e" '
                       f'stroke-width="2"/>')
    out.append("</svg>")
    return "\n".join(out)
