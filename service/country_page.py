"""What the country page shows: the score, the trend with actual placements and backtest forecasts,
and for reviewers the drivers in words, the charts and the review history.

Kept apart from the handlers (`service.web`) so the page's content can grow without the routes.
"""

from __future__ import annotations

from fastapi import Request

from scoring.served import ServedVersion
from service.auth import form_token
from service.charts import MARKERS, PLACEMENT_CODES, family_bars_svg, trend_svg, waterfall_svg
from service.drivers import comparison_words, drivers
from service.reviews import MAX_COMMENT
from service.tokens import TokenInfo
from service.trend import trend_points, trend_source
from service.vocabulary import DECISIONS, UNREVIEWED


def country_context(request: Request, who: TokenInfo, served: ServedVersion, iso3: str, year: int) -> dict:
    i = served.row(iso3, year)
    store = request.app.state.reviews
    status = store.statuses(served.model_name, served.version)
    item = served.items[i] | {"review_status": status.get((iso3, year), UNREVIEWED)}
    scoring = request.app.state.params.scoring
    source = trend_source(request.app.state.paths, served)
    points = trend_points(source, served, iso3)
    context = {"who": who, "served": served, "item": item, "years": [p["year"] for p in points],
               "trend_svg": trend_svg(points, year, {"elevated": scoring.bands.elevated,
                                                     "high": scoring.bands.high}),
               "trend": points, "trend_note": source.note, "markers": MARKERS,
               "placement_codes": PLACEMENT_CODES,
               "min_coverage": scoring.min_coverage,
               "reviewer": who.may("explanations"), "decisions": DECISIONS, "max_comment": MAX_COMMENT}
    if context["reviewer"]:
        top = scoring.top_drivers
        explained = drivers(served, i)
        for d in explained:
            d["compared"] = comparison_words(d, year)
        context |= {"contributions": explained, "top": explained[:top], "others": explained[top:],
                    "waterfall_svg": waterfall_svg(float(served.base[i]), explained, max_rows=top + 2),
                    "families_svg": family_bars_svg(served.families[i]),
                    "digest": served.explanation_hash(i),
                    "history": history(store.history(iso3, year, served.model_name)),
                    "csrf": form_token(request)}
    return context


def history(reviews: list) -> list[dict]:
    """Newest first; the first decision seen for each model version is that version's latest."""
    seen: set[str] = set()
    out = []
    for review in reviews:
        out.append(review.as_dict() | {"latest": review.model_version not in seen})
        seen.add(review.model_version)
    return out

