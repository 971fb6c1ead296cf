"""The reviewer page: a ranked table of countries, and a country page to read and sign off a score.

Server-rendered HTML (Jinja2), one small CSS file, no JavaScript and no build step: links,
buttons and labelled form fields work with a keyboard as they are. The token is entered once
on the login page and kept in an HttpOnly, SameSite=Strict cookie; review forms also carry a
token derived from it, so another site cannot post a decision in a reviewer's name.
Program tokens see scores and trends; explanations and the review form need a reviewer token.
Every page names the served version's calibration, its K boosters and the baselines it beats
(from its model card); a country page says in one sentence what its interval and set mean.
"""

from __future__ import annotations

import csv
import hmac
import io
from urllib.parse import parse_qs

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from nexus.errors import NexusError
from scoring.served import OUTCOMES, ServedVersion, UnknownCountryYear
from service.auth import COOKIE, cookie_caller, form_token, page_caller
from service.catalog import UnknownModel
from service.country_page import country_context
from service.pages import page, problem_page, templates
from service.ranked_page import SORTS, matches, nearest_countries, sort_rows, year_rows
from service.reviews import MAX_COMMENT
from service.schemas import CSV_COLUMNS, csv_fields
from service.text import visible
from service.tokens import TokenInfo
from service.vocabulary import BANDS, DECISIONS, REVIEW_STATUSES

router = APIRouter(prefix="/review", include_in_schema=False)
BANDS_HIGHEST_FIRST = BANDS[::-1]  # the ranked table's band filter


def interval_sentence(item: dict, card) -> str | None:
    """What the INTERVAL card's numbers mean, in one sentence (None when the model has no interval)."""
    interval, conformal = item.get("interval"), item.get("conformal_set")
    if interval is None:
        return None
    low, high, p = interval["low"], interval["high"], item["probability"]
    text = (f"Venn-Abers interval: the calibration data are consistent with any probability from {low:.2f} "
            f"to {high:.2f}")
    if not low <= p <= high:  # the served calibration is another method than Venn-Abers
        how = ("uncalibrated as chosen on development origins" if card.calibration == "none"
               else f"{card.calibration}-calibrated")
        text += f" (the served probability {p:.2f}, {how}, lies outside it)"
    if conformal is not None:
        level, label = f"{conformal['level']:.0%}", conformal["label"]
        positive, negative = OUTCOMES.get(card.target, ("yes", "no"))
        note = {"either": " (too close to call)",
                "neither": " (empty: unlike the calibration cases of either outcome)"}.get(label, "")
        if label in ("yes", "no"):  # Mondrian sets: an outcome is ruled out by the scores of its own cases
            out, side = (negative, "above") if label == "yes" else (positive, "below")
            note = (f" ({out} is ruled out: the score is {side} that of {level} of the calibration cases "
                    f"with the same current status that ended {out})")
        text += f"; the {level} conformal set is {{{', '.join(conformal['outcomes'])}}}{note}"
    return text + "."


templates.env.globals["interval_sentence"] = interval_sentence


def _failure(request: Request, who: TokenInfo, exc: Exception) -> HTMLResponse:
    """Unknown country, year or version: 404 naming what exists; a model that cannot be served: 503."""
    status = 404 if isinstance(exc, UnknownCountryYear | UnknownModel) else 503
    return problem_page(request, who, status, str(exc))


@router.get("/login")
def login_form(request: Request, next: str = "/review") -> HTMLResponse:
    return page(request, "login.html", {"who": None, "next": next, "error": None})


@router.post("/login")
async def login(request: Request) -> Response:
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    secret = form.get("token", [""])[0].strip()
    target = form.get("next", ["/review"])[0]
    target = target if target.startswith("/review") and "//" not in target else "/review"
    info = request.app.state.tokens.verify(secret) if secret else None
    if info is None:
        return page(request, "login.html", {"who": None, "next": target,
                                             "error": "That token is unknown or revoked."}, 401)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, secret, httponly=True, samesite="strict", path="/",
                        secure=request.url.scheme == "https")
    return response


@router.post("/logout")
def logout() -> Response:
    response = RedirectResponse("/review/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


def _served(request: Request, version: int | None) -> ServedVersion:
    served, _ = request.app.state.catalog.get(version=version)
    return served


def served_alias(request: Request) -> str:
    return request.app.state.catalog.default_alias


def _statuses(request: Request, served: ServedVersion) -> dict:
    return request.app.state.reviews.statuses(served.model_name, served.version)


def _admin_only(who: TokenInfo | None) -> bool:
    return who is not None and who.may("tokens") and not who.may("scores")


@router.get("")
def ranked_table(request: Request, year: int | None = None, region: str = "", band: str = "",
                 status: str = "", q: str = Query("", max_length=100), sort: str = "risk",
                 version: int | None = None) -> Response:
    if _admin_only(cookie_caller(request)):  # an admin's landing page is the admin page, not a 403
        return RedirectResponse("/review/admin", status_code=303)
    who = page_caller(request, "scores", "The role {role!r} manages tokens; this page is for program teams "
                                         "and reviewers.")
    if isinstance(who, Response):
        return who
    if sort not in SORTS:
        return problem_page(request, who, 422, f"sort: {sort!r} is not a way to sort this table; choose "
                                               + ", ".join(f"{k} ({v})" for k, v in SORTS.items()))
    try:
        served = _served(request, version)
        year = year if year is not None else served.years[-1]
        rows = year_rows(served, year, _statuses(request, served))
    except (UnknownCountryYear, NexusError) as exc:
        return _failure(request, who, exc)
    found = [r for r in rows if matches(r, q)]
    if q.strip() and len({r["iso3"] for r in found}) == 1:  # one country found: go to it
        pin = f"?version={version}" if version else ""
        return RedirectResponse(f"/review/{found[0]['iso3']}/{year}{pin}", status_code=303)
    shown = [r for r in found if (not region or r["region"] == region) and (not band or r["band"] == band)
             and (not status or r["review_status"] == status)]
    shown = sort_rows(shown, sort)
    kept = [r for r in rows if r["rank"] is not None]
    return page(request, "ranked.html", {
        "who": who, "served": served, "year": year, "rows": [r for r in shown if r["rank"] is not None],
        "apart": [r for r in shown if r["rank"] is None], "total": len(rows), "n_ranked": len(kept),
        "regions": sorted({r["region"] for r in rows if r["region"]}), "bands": BANDS_HIGHEST_FIRST,
        "statuses": REVIEW_STATUSES, "sorts": SORTS,
        "filters": {"region": region, "band": band, "status": status, "q": q, "sort": sort},
        "version": version, "min_coverage": request.app.state.params.scoring.min_coverage,
        "nearest": nearest_countries(served, q) if q.strip() and not found else [],
        "counts": {s: sum(r["review_status"] == s for r in kept) for s in REVIEW_STATUSES}})


@router.get("/scores.csv")
def ranked_csv(request: Request, year: int, version: int | None = None) -> Response:
    who = page_caller(request, "scores", "Scores need a program or reviewer token.")
    if isinstance(who, Response):
        return who
    try:
        served = _served(request, version)
        rows = year_rows(served, year, _statuses(request, served))
    except (UnknownCountryYear, NexusError) as exc:
        return _failure(request, who, exc)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    provenance = served.provenance | {"model_alias": "" if version else served_alias(request)}
    for row in rows:
        writer.writerow(csv_fields(row | {"rank": row["rank"] or "", "provenance": provenance}))
    return Response(out.getvalue(), media_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="nexus-scores-{year}-v{served.version}.csv"'})


@router.get("/admin")
def admin_page(request: Request) -> Response:
    """An admin's landing page: the tokens (create and revoke them with the CLI or /v1/tokens) and models."""
    who = page_caller(request, "tokens", "The admin page is for admin tokens; your role is {role!r}.")
    if isinstance(who, Response):
        return who
    catalog = request.app.state.catalog  # what is in memory: no registry round trip (/v1/models has it all)
    loaded = catalog.loaded()
    return page(request, "admin.html", {
        "who": who, "tokens": request.app.state.tokens.list(), "model_name": catalog.name,
        "default_alias": catalog.default_alias, "default_version": catalog.default_version(),
        "loaded": [{"version": v, "calibration": loaded[v].card.calibration,
                    "members": loaded[v].card.n_members, "rows": len(loaded[v].items),
                    "years": f"{loaded[v].years[0]}–{loaded[v].years[-1]}"}
                   for v in sorted(loaded, key=int)],
        "ready": catalog.ready, "reason": catalog.reason})


@router.get("/{iso3}/{year}")
def country_page(request: Request, iso3: str, year: int, version: int | None = None,
                 recorded: int | None = None) -> Response:
    who = page_caller(request, "scores", "Country pages are for program teams and reviewers.")
    if isinstance(who, Response):
        return who
    try:
        served = _served(request, version)
        if iso3.upper() not in served.countries:
            return _unknown_country(request, who, served, iso3, year)
        context = country_context(request, who, served, iso3.upper(), year)
    except (UnknownCountryYear, NexusError) as exc:
        return _failure(request, who, exc)
    return page(request, "country.html", context | {"recorded": recorded, "error": None, "form": {},
                                                      "version": version})


@router.post("/{iso3}/{year}")
async def submit_review(request: Request, iso3: str, year: int) -> Response:
    """Record a decision from the page's form, then redirect to the page (so a reload does not resubmit)."""
    who = page_caller(request, "reviews", "The role {role!r} may not record reviews; reviewers may.")
    if isinstance(who, Response):
        return who
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace"),
                                          keep_blank_values=True).items()}
    if not hmac.compare_digest(form.get("csrf", ""), form_token(request)):
        return problem_page(request, who, 403,
                            "The form is stale or came from another site; reload the page.")
    version = int(form["model_version"]) if form.get("model_version", "").isdigit() else None
    return await run_in_threadpool(_record, request, who, iso3.upper(), year, version, form)


def _record(request: Request, who: TokenInfo, iso3: str, year: int, version: int | None,
            form: dict) -> Response:
    try:
        served = _served(request, version)
        i = served.row(iso3, year)
    except (UnknownCountryYear, NexusError) as exc:
        return _failure(request, who, exc)
    decision, comment = form.get("decision", ""), form.get("comment", "")
    digest = served.explanation_hash(i)
    error = None
    if decision not in DECISIONS:
        error = "Choose a decision: accept or flag."
    elif len(comment) > MAX_COMMENT:
        error = f"The comment is longer than {MAX_COMMENT} characters."
    elif form.get("explanation_sha256") != digest:
        error = "The explanation changed since you opened the page; read it again before deciding."
    if error:
        context = country_context(request, who, served, iso3, year)
        return page(request, "country.html", context | {"recorded": None, "error": error, "form": form,
                                                          "version": version}, 422)
    review = request.app.state.reviews.record(
        iso3=iso3, year=year, model_name=served.model_name, model_version=served.version, decision=decision,
        comment=comment, reviewer=who.name, token_id=who.id, explanation_sha256=digest)
    query = f"?recorded={review.id}" + (f"&version={version}" if version else "")
    return RedirectResponse(f"/review/{iso3}/{year}{query}#recorded", status_code=303)


def _unknown_country(request: Request, who: TokenInfo, served: ServedVersion, asked: str,
                     year: int) -> Response:
    """A 404 that suggests the nearest country names and codes, with the search form, not every code."""
    nearest = nearest_countries(served, asked)
    message = f"There is no country with the code {visible(asked)!r} in the scores."
    return problem_page(request, who, 404, message, suggestions=[
        {"iso3": code, "country": name, "href": f"/review/{code}/{year}"} for code, name in nearest])
