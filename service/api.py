"""The versioned JSON endpoints (/v1): scores, explanations, history, models, reviews, tokens.

Responses are built from what `ServedVersion` holds in memory and written with `json.dumps`
directly (the OpenAPI document still shows each response model): a request costs a
dictionary look-up and one serialisation. Every status an endpoint answers is declared.
"""

from __future__ import annotations

import csv
import io
import json

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from scoring.served import ServedVersion
from service import schemas as s
from service.auth import AUTH_RESPONSES, DATA_RESPONSES, TOO_LARGE, any_token, problem, require
from service.ranking import ranked
from service.tokens import TokenInfo
from service.vocabulary import PERMISSIONS, UNREVIEWED

router = APIRouter(prefix="/v1")

ALIAS = Query(None, min_length=1, max_length=64, description="model alias (default: scoring.model_alias)")
VERSION = Query(None, ge=1, description="pin a model version, e.g. to reproduce an earlier report")
YEAR = Path(**s.YEAR)
ISO3 = Path(**s.ISO3)


def _json(body, status: int = 200) -> Response:
    return Response(json.dumps(body, separators=(",", ":"), allow_nan=False), status_code=status,
                    media_type="application/json")


async def served_for(request: Request, alias: str | None,
                     version: int | None) -> tuple[ServedVersion, str | None]:
    """The served version for a request: from memory, or loaded in a worker thread."""
    catalog = request.app.state.catalog
    found = catalog.peek(alias, version)
    if found is None:
        found = await run_in_threadpool(catalog.get, alias, version)
    return found


def score_body(request: Request, served: ServedVersion, i: int, alias: str | None) -> dict:
    item = served.items[i]
    status = request.app.state.reviews.statuses(served.model_name, served.version)
    return {**item, "review_status": status.get((item["iso3"], item["year"]), UNREVIEWED),
            "provenance": {**served.provenance, "model_alias": alias}}


@router.get("/health", response_model=s.Health, tags=["service"], summary="the process answers")
async def health() -> Response:
    return _json({"status": "ok"})


@router.get("/ready", response_model=s.Ready, tags=["service"], summary="the default model is loaded",
            responses={503: {"model": s.Ready,
                             "description": "not ready: loading, or the default alias points nowhere"}})
async def ready(request: Request) -> Response:
    catalog = request.app.state.catalog
    body = {"ready": catalog.ready, "model_name": catalog.name, "alias": catalog.default_alias,
            "version": catalog.default_version(), "reason": catalog.reason}
    return _json(body, 200 if catalog.ready else 503)


@router.get("/whoami", response_model=s.Whoami, tags=["service"], responses=AUTH_RESPONSES)
async def whoami(who: TokenInfo = Depends(any_token())) -> Response:
    return _json({"name": who.name, "role": who.role, "permissions": sorted(PERMISSIONS[who.role])})


@router.get("/scores/{year}", response_model=s.YearScores, tags=["scores"], responses=DATA_RESPONSES,
            summary="every country's score for a year, ranked highest first, then the insufficient-data rows")
async def year_scores(request: Request, year: int = YEAR, alias: str | None = ALIAS,
                      version: int | None = VERSION, _: TokenInfo = Depends(require("scores"))) -> Response:
    served, used = await served_for(request, alias, version)
    rows = ranked(served, year)
    n_ranked = sum(rank is not None for _, rank in rows)
    return _json({"year": year, "count": len(rows), "ranked": n_ranked,
                  "insufficient_data": len(rows) - n_ranked,
                  "scores": [score_body(request, served, i, used) for i, _ in rows]})


@router.get("/scores/{year}/{iso3}", response_model=s.Score, tags=["scores"], responses=DATA_RESPONSES,
            summary="one country-year's score")
async def one_score(request: Request, year: int = YEAR, iso3: str = ISO3, alias: str | None = ALIAS,
                    version: int | None = VERSION, _: TokenInfo = Depends(require("scores"))) -> Response:
    served, used = await served_for(request, alias, version)
    return _json(score_body(request, served, served.row(iso3.upper(), year), used))


@router.post("/scores/batch", response_model=s.BatchScores, tags=["scores"],
             responses=DATA_RESPONSES | TOO_LARGE,
             summary="scores of up to 500 country-years; any unknown one is a 404 naming it")
async def batch_scores(request: Request, body: s.BatchRequest,
                       _: TokenInfo = Depends(require("scores"))) -> Response:
    served, used = await served_for(request, body.alias, body.version)
    rows = [served.row(item.iso3.upper(), item.year) for item in body.items]
    return _json({"count": len(rows), "scores": [score_body(request, served, i, used) for i in rows]})


@router.get("/scores.csv", tags=["scores"], summary="a year's scores as CSV (spreadsheet export)",
            responses=DATA_RESPONSES | {200: {
                "content": {"text/csv": {"schema": {"type": "string"}}},
                "description": "one row per country: ranked highest first, then insufficient data "
                               "(empty rank)"}})
async def scores_csv(request: Request, year: int = Query(..., **s.YEAR), alias: str | None = ALIAS,
                     version: int | None = VERSION, _: TokenInfo = Depends(require("scores"))) -> Response:
    served, used = await served_for(request, alias, version)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=s.CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for i, rank in ranked(served, year):
        writer.writerow(s.csv_fields(score_body(request, served, i, used) | {"rank": rank or ""}))
    name = f"nexus-scores-{year}-{served.model_name}-v{served.version}.csv"
    return Response(out.getvalue(), media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/explanations/{year}/{iso3}", response_model=s.Explanation, tags=["explanations"],
            responses=DATA_RESPONSES, summary="a country-year's score with its stored SHAP explanation")
async def explanation(request: Request, year: int = YEAR, iso3: str = ISO3, alias: str | None = ALIAS,
                      version: int | None = VERSION,
                      top: int | None = Query(None, ge=1, le=500,
                                              description="drivers to list (default: scoring.top_drivers)"),
                      _: TokenInfo = Depends(require("explanations"))) -> Response:
    served, used = await served_for(request, alias, version)
    i = served.row(iso3.upper(), year)
    default_top = request.app.state.params.scoring.top_drivers
    score = json.dumps(score_body(request, served, i, used), separators=(",", ":"), allow_nan=False).encode()
    if top is None:  # the common case: the explanation was serialised once, only the score is new
        return Response(b'{"score":' + score + b"," + served.explanation_json(i, default_top) + b"}",
                        media_type="application/json")
    body, _digest = served.explanation(i, default_top)
    return _json({"score": json.loads(score), **body, "top_drivers": served.contributions(i)[:top]})


@router.get("/history/{iso3}", response_model=s.History, tags=["scores"], responses=DATA_RESPONSES,
            summary="a country's scores over the years")
async def history(request: Request, iso3: str = ISO3, alias: str | None = ALIAS,
                  version: int | None = VERSION, _: TokenInfo = Depends(require("scores"))) -> Response:
    served, used = await served_for(request, alias, version)
    rows = served.country(iso3.upper())
    points = []
    for i in rows:
        body = score_body(request, served, i, used)
        points.append({k: body[k] for k in s.HistoryPoint.model_fields})
    first = served.items[rows[0]]
    return _json({"iso3": first["iso3"], "country": first["country"], "region": first["region"],
                  "provenance": {**served.provenance, "model_alias": used}, "history": points})


def _alias_info(catalog, alias: str, version: str) -> dict:
    """One alias: its version's provenance, model card summary and backtest (a broken card is named)."""
    from scoring.served import card_summary
    from training.registry import ModelCardError

    loaded = catalog.loaded()
    info = {"alias": alias, "version": version, "served": version in loaded}
    if version in loaded:
        served = loaded[version]
        ref, card, summary, backtest, problem_ = None, served.card, served.summary, served.backtest, None
    else:
        ref = catalog.ref(version)
        backtest = catalog.backtest(ref)
        try:
            card = ref.card
            summary, problem_ = card_summary(card, catalog.params), None
        except ModelCardError as exc:
            card, summary, problem_ = None, None, str(exc)
    return info | {"run_id": card.run_id if card else ref.run_id,
                   "panel_sha256": card.panel_sha256 if card else "",
                   "params_sha256": card.params_sha256 if card else "",
                   "features_key": card.features_key if card else "", "card": summary,
                   "card_problem": problem_, "backtest": backtest}


def _models(catalog, only: str | None = None) -> dict:
    from service.catalog import ModelUnavailable, UnknownModel

    aliases, versions = catalog.registry_entries()
    if only is not None and only not in aliases:
        known = ", ".join(sorted(aliases)) or "none"
        if only == catalog.default_alias:
            raise ModelUnavailable(f"alias {only!r} of {catalog.name!r} points nowhere; aliases: {known}")
        raise UnknownModel(f"model {catalog.name!r} has no alias {only!r}; aliases: {known}")
    chosen = {only: aliases[only]} if only else aliases
    return {"name": catalog.name, "default_alias": catalog.default_alias, "versions": versions,
            "aliases": [_alias_info(catalog, a, v) for a, v in sorted(chosen.items())]}


@router.get("/models", response_model=s.Models, tags=["models"], responses=DATA_RESPONSES,
            summary="which version each alias points to: calibration, K boosters, the baselines it beats")
def models(request: Request, _: TokenInfo = Depends(require("models"))) -> Response:
    return _json(_models(request.app.state.catalog))


@router.get("/models/{alias}", response_model=s.Models, tags=["models"], responses=DATA_RESPONSES,
            summary="one alias: its version, calibration, K boosters and the baselines it beats")
def model_alias(request: Request, alias: str = Path(min_length=1, max_length=64),
                _: TokenInfo = Depends(require("models"))) -> Response:
    return _json(_models(request.app.state.catalog, only=alias))


REVIEW_RESPONSES = DATA_RESPONSES | problem(409, "explanation_sha256 is not the stored explanation's hash")


@router.post("/reviews", response_model=s.ReviewOut, status_code=201, tags=["reviews"],
             responses=REVIEW_RESPONSES | TOO_LARGE,
             summary="record a decision (accept or flag) on an explanation; never overwrites")
def create_review(request: Request, body: s.ReviewIn,
                  who: TokenInfo = Depends(require("reviews"))) -> Response:
    served, _ = request.app.state.catalog.get(version=body.model_version)
    iso3 = body.iso3.upper()
    i = served.row(iso3, body.year)
    digest = served.explanation_hash(i)
    if body.explanation_sha256 is not None and body.explanation_sha256 != digest:
        raise HTTPException(409, f"the explanation you saw ({body.explanation_sha256[:20]}…) is not the "
                                 f"stored explanation of {iso3} {body.year} for v{served.version} "
                                 f"({digest}); reload it")
    review = request.app.state.reviews.record(
        iso3=iso3, year=body.year, model_name=served.model_name, model_version=served.version,
        decision=body.decision, comment=body.comment, reviewer=who.name, token_id=who.id,
        explanation_sha256=digest)
    return _json(review.as_dict(), 201)


@router.get("/reviews/{year}/{iso3}", response_model=s.ReviewHistory, tags=["reviews"],
            responses=DATA_RESPONSES, summary="every decision on a country-year, newest first")
def review_history(request: Request, year: int = YEAR, iso3: str = ISO3,
                   _: TokenInfo = Depends(require("reviews"))) -> Response:
    served, _ = request.app.state.catalog.get()
    iso3 = iso3.upper()
    served.row(iso3, year)
    found = request.app.state.reviews.history(iso3, year, served.model_name)
    return _json({"iso3": iso3, "year": year, "model_name": served.model_name,
                  "reviews": [r.as_dict() for r in found]})


def _token_out(info) -> dict:
    return {"id": info.id, "name": info.name, "role": info.role, "created_at": info.created_at,
            "revoked_at": info.revoked_at}


@router.get("/tokens", response_model=list[s.TokenOut], tags=["tokens"], responses=AUTH_RESPONSES)
def list_tokens(request: Request, _: TokenInfo = Depends(require("tokens"))) -> Response:
    return _json([_token_out(t) for t in request.app.state.tokens.list()])


@router.post("/tokens", response_model=s.TokenCreated, status_code=201, tags=["tokens"],
             responses=AUTH_RESPONSES | TOO_LARGE,
             summary="create a token; its secret is in this response only")
def create_token(request: Request, body: s.TokenIn, _: TokenInfo = Depends(require("tokens"))) -> Response:
    issued = request.app.state.tokens.create(body.name, body.role)
    return _json(_token_out(issued.info) | {"token": issued.secret}, 201)


@router.delete("/tokens/{token_id}", response_model=s.TokenOut, tags=["tokens"],
               responses=AUTH_RESPONSES | problem(404, "no such token; lists the ids")
               | problem(409, "an admin cannot revoke the token it is using"),
               summary="revoke a token (kept on record: reviews name the token that signed them)")
def revoke_token(request: Request, token_id: str = Path(min_length=1, max_length=32),
                 who: TokenInfo = Depends(require("tokens"))) -> Response:
    store = request.app.state.tokens
    if token_id == who.id:
        raise HTTPException(409, "this is the token you are using; revoke it with another admin token "
                                 "or the CLI")
    if store.get(token_id) is None:
        known = ", ".join(t.id for t in store.list()) or "none"
        raise HTTPException(404, f"no token with id {token_id!r}; ids: {known}")
    return _json(_token_out(store.revoke(token_id)))
