"""What the ranked table shows: a year's rows ranked (insufficient data apart), each with its change since
the year before and whether its band changed, found by name or code, and sorted as the reader asks.

Search and sort are query parameters of a GET form, answered here on the server: no JavaScript.
"""

from __future__ import annotations

import difflib

from scoring.served import ServedVersion
from service.ranking import ranked
from service.vocabulary import INSUFFICIENT_DATA, UNREVIEWED

SORTS = {"risk": "highest risk first", "change": "largest rise since last year first",
         "fall": "largest fall since last year first", "name": "country name A–Z"}


def year_rows(served: ServedVersion, year: int, status: dict) -> list[dict]:
    """The year's rows in ranked order, with rank (None: insufficient data), change and band change."""
    before = {served.items[i]["iso3"]: served.items[i] for i in served.by_year.get(year - 1, [])}
    out = []
    for i, rank in ranked(served, year):
        item = served.items[i]
        last = before.get(item["iso3"])
        comparable = last is not None and INSUFFICIENT_DATA not in (last["band"], item["band"])
        out.append(item | {"rank": rank, "review_status": status.get((item["iso3"], year), UNREVIEWED),
                           "change": item["probability"] - last["probability"] if comparable else None,
                           "band_before": last["band"] if last is not None else None,
                           "band_changed": comparable and last["band"] != item["band"]})
    return out


def matches(row: dict, query: str) -> bool:
    """Whether a row is found by `query`: its code, or any part of its name (case and accents as typed)."""
    q = query.strip().casefold()
    return not q or q == row["iso3"].casefold() or q in row["country"].casefold()


def sort_rows(rows: list[dict], sort: str) -> list[dict]:
    if sort == "change":
        return sorted(rows, key=lambda r: (r["change"] is None, -(r["change"] or 0)))
    if sort == "fall":
        return sorted(rows, key=lambda r: (r["change"] is None, r["change"] or 0))
    if sort == "name":
        return sorted(rows, key=lambda r: r["country"].casefold())
    return rows


def nearest_countries(served: ServedVersion, asked: str, n: int = 5) -> list[tuple[str, str]]:
    """(code, name) of the countries whose code or name is closest to `asked` (difflib), best first."""
    codes = {code.casefold(): code for code in served.countries}
    names = {name.casefold(): code for code, name in served.countries.items()}
    found = difflib.get_close_matches(asked.casefold(), list(codes), n=n, cutoff=0.4)
    picked = [codes[c] for c in found]
    for name in difflib.get_close_matches(asked.casefold(), list(names), n=n, cutoff=0.5):
        if names[name] not in picked:
            picked.append(names[name])
    if not picked:  # a name typed in part ("land") is found the way the search finds it
        picked = [c for c, name in served.countries.items() if asked.casefold() in name.casefold()]
    return [(code, served.countries[code]) for code in picked[:n]]
