"""Per-process table of the procurement red flags the panel aggregates (R003, R018).

Reads OCDS compiled releases as JSON Lines and applies Cardinal's rules for the short
submission period (R003: whole days between tender period start and end < 15) and the
single bid (R018: competitive method and numberOfTenderers is the integer 1).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd

from features.readers import FILE, ROW
from nexus.errors import SourceDataError

COMPETITIVE = {"open", "selective"}
SHORT_PERIOD_DAYS = 15


def _instant(value) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _buyer_country(release: dict) -> str | None:
    buyer_id = (release.get("buyer") or {}).get("id")
    for party in release.get("parties") or []:
        if "buyer" in (party.get("roles") or []) or (buyer_id and party.get("id") == buyer_id):
            name = (party.get("address") or {}).get("countryName")
            if isinstance(name, str) and name.strip():
                return name
    return None


def process_table(path: Path) -> pd.DataFrame:
    """One row per contracting process: buyer country, year, R003/R018 flags and eligibility."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                release = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SourceDataError(path, line_no, f"not JSON ({exc.msg})") from None
            if not isinstance(release, dict) or not isinstance(release.get("ocid"), str):
                raise SourceDataError(path, line_no, "missing ocid")
            tender = release.get("tender") or {}
            if tender.get("status") == "cancelled":
                continue
            period = tender.get("tenderPeriod") or {}
            start, end = _instant(period.get("startDate")), _instant(period.get("endDate"))
            method = tender.get("procurementMethod")
            tenderers = tender.get("numberOfTenderers")
            eligible_single = method in COMPETITIVE and isinstance(tenderers, int) and not isinstance(tenderers, bool)
            when = start or _instant(release.get("date"))
            rows.append((release["ocid"], _buyer_country(release), when.year if when else None,
                         eligible_single, eligible_single and tenderers == 1,
                         start is not None and end is not None,
                         start is not None and end is not None and (end - start).days < SHORT_PERIOD_DAYS,
                         line_no, str(path)))
    return pd.DataFrame(rows, columns=["ocid", "buyer_country", "year", "single_bid_eligible", "single_bid",
                                       "short_period_eligible", "short_period", ROW, FILE])
