"""The OCDS vocabulary Cardinal's indicators read (ocds-red-flags.md section 1): tolerant accessors
that treat a wrong JSON type as absent, submitted and final bids, price-only procedures, exclusions,
RFC 3339 instants and the main currency. Shared by the Python port (`features.ocds.indicators`) and
the per-process reader (`features.ocds.reader`).
"""

from __future__ import annotations

import datetime as dt
import re

from features.ocds.settings import RedFlagSettings

NOT_SUBMITTED = frozenset({"invited", "withdrawn"})
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def as_object(value) -> dict:
    return value if isinstance(value, dict) else {}


def as_array(value) -> list:
    return value if isinstance(value, list) else []


def as_string(value) -> str | None:
    return value if isinstance(value, str) else None


def party_ids(parties) -> set[str]:
    return {i for party in as_array(parties) if (i := as_string(as_object(party).get("id"))) is not None}


def sole_id(parties) -> str | None:
    """The id of the only entry of `tenderers` / `suppliers`, when there is exactly one with a string id."""
    parties = as_array(parties)
    return as_string(as_object(parties[0]).get("id")) if len(parties) == 1 else None


def bid_price(bid) -> tuple[float, str] | None:
    """(amount, currency) when the amount is a JSON number and the currency a string."""
    value = as_object(as_object(bid).get("value"))
    amount, currency = value.get("amount"), value.get("currency")
    if isinstance(amount, int | float) and not isinstance(amount, bool) and isinstance(currency, str):
        return float(amount), currency
    return None


def submitted_bids(release: dict) -> list[dict]:
    """Bids whose status is a string other than `invited` and `withdrawn` (status-less bids are not)."""
    return [bid for bid in as_array(as_object(release.get("bids")).get("details")) if isinstance(bid, dict)
            and isinstance(bid.get("status"), str) and bid["status"] not in NOT_SUBMITTED]


def final_awards_and_bids(release: dict) -> tuple[list[dict], list] | None:
    """Active awards and all bids, or None when awards/bids are missing or any award is not final.

    Cancelled and unsuccessful awards are ignored, as are awards without a string status; any
    other status (pending, invalid, …) means the outcome may still change, so the process is skipped.
    """
    awards, details = release.get("awards"), as_object(release.get("bids")).get("details")
    if not isinstance(awards, list) or not isinstance(details, list):
        return None
    active = []
    for award in awards:
        status = as_string(as_object(award).get("status"))
        if status == "active":
            active.append(award)
        elif status is not None and status not in ("cancelled", "unsuccessful"):
            return None
    return active, details


def method_matches(tender: dict, methods: frozenset[str]) -> bool:
    return not methods or as_string(tender.get("procurementMethod")) in methods


def compares_prices(release: dict, s: RedFlagSettings) -> bool:
    """Whether the procedure is price-only (the allow-list, when set, wins over the deny-list)."""
    details = as_string(as_object(release.get("tender")).get("procurementMethodDetails"))
    if s.price_comparison_procurement_methods:
        return details in s.price_comparison_procurement_methods
    return details is None or details not in s.no_price_comparison_procurement_methods


def is_excluded(release: dict, s: RedFlagSettings) -> bool:
    """Cardinal's global skips: a cancelled tender, or an excluded procurementMethodDetails."""
    tender = as_object(release.get("tender"))
    details = as_string(tender.get("procurementMethodDetails"))
    return tender.get("status") == "cancelled" or (details is not None
                                                    and details in s.excluded_procurement_method_details)


def rfc3339_instant(value) -> dt.datetime | None:
    """An RFC 3339 date-time with an offset (Cardinal parses with chrono's RFC 3339); else None."""
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        return None
    try:
        return dt.datetime.fromisoformat(value.upper())
    except ValueError:
        return None


def submission_period(release: dict) -> dt.timedelta | None:
    """tenderPeriod end − start (negative if the end precedes the start); None without two RFC 3339 dates."""
    period = as_object(as_object(release.get("tender")).get("tenderPeriod"))
    start, end = rfc3339_instant(period.get("startDate")), rfc3339_instant(period.get("endDate"))
    return None if start is None or end is None else end - start


def whole_days(period: dt.timedelta) -> int:
    """Whole days truncated toward zero, as chrono's `num_days` (timedelta.days floors instead)."""
    microseconds = (period.days * 86_400 + period.seconds) * 1_000_000 + period.microseconds
    days = abs(microseconds) // 86_400_000_000
    return days if microseconds >= 0 else -days


class MainCurrency:
    """The configured currency, else the first one observed; bids in other currencies are ignored."""

    def __init__(self, configured: str | None):
        self.code = configured

    def accepts(self, currency: str) -> bool:
        if self.code is None:
            self.code = currency
        return currency == self.code
