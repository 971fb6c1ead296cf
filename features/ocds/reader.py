"""OCDS procurement data in, Cardinal's red flags and a per-process table out.

`read_compiled_releases` turns the shapes publishers actually ship (JSON Lines, release packages,
record packages, a bare record) into one compiled release per contracting process, counting what
it has to skip. `compute_indicators` (in `features.ocds.indicators`) reproduces OCDS Cardinal's
eleven indicators; `process_flags` lays them out one row per process for the procurement feature
builder, which aggregates them to country-year shares.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from features.ocds.indicators import _r003, compute_indicators, remap_statuses
from features.ocds.settings import RedFlagSettings
from features.ocds.vocabulary import is_excluded, rfc3339_instant, submission_period, submitted_bids
from nexus.errors import SourceDataError

__all__ = ["PROCESS_INDICATORS", "ReadReport", "process_flags", "read_compiled_releases"]

# R025 (a tenderer's propensity to lose) has no per-process reading and is left out of the table.
PROCESS_INDICATORS = ("R003", "R018", "R024", "R028", "R030", "R035", "R036", "R038", "R048", "R058")
_PACKAGE_KEYS = frozenset({"releases", "records", "compiledRelease"})
_KEPT_POSITIONS = 5
_YEAR = re.compile(r"(\d{4})-")
_ONE_DAY = dt.timedelta(days=1)


@dataclass
class ReadReport:
    """What one `read_compiled_releases` pass read and skipped, filled while iterating.

    Cardinal skips silently; counting lets a builder say how much of a file it used. Positions are
    1-based line numbers for JSON Lines and 1-based array positions for packages.
    """

    path: str = ""
    lines_read: int = 0
    skipped_not_json: int = 0
    skipped_no_ocid: int = 0
    merged_duplicates: int = 0
    first_not_json: list[int] = field(default_factory=list)
    first_no_ocid: list[int] = field(default_factory=list)

    @property
    def releases_yielded(self) -> int:
        return self.lines_read - self.skipped_not_json - self.skipped_no_ocid - self.merged_duplicates


_JSON_TYPE_NAMES = {list: "array", str: "string", int: "number", float: "number", bool: "boolean",
                    type(None): "null"}


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _loads(text: bytes | str):
    """JSON as serde_json reads it: NaN and Infinity are errors, not numbers."""
    return json.loads(text, parse_constant=_reject_constant)


def _accepted(value, position: int, where: str | None, path: Path, strict: bool, report: ReadReport,
              problem: str | None = None) -> bool:
    """Whether `value` is a release (a JSON object with a string ocid); else count it or, if strict, raise.

    `where` is None for a line of JSON Lines (the error names the line), else the JSON pointer inside
    the document (the error names it: a package's array position is not a file line; "" = the whole file).
    """
    report.lines_read += 1
    if problem is None and not isinstance(value, dict):
        problem = f"not JSON: a JSON {_JSON_TYPE_NAMES.get(type(value), type(value).__name__)}, not an object"
    if problem is not None:
        kind, positions = "skipped_not_json", report.first_not_json
    elif not isinstance(value.get("ocid"), str):
        found = value.get("ocid")
        found_type = _JSON_TYPE_NAMES.get(type(found), type(found).__name__)
        problem = "missing ocid" if found is None else f"missing ocid (ocid is a {found_type}, not a string)"
        kind, positions = "skipped_no_ocid", report.first_no_ocid
    else:
        return True
    if strict:
        row = position if where is None else None
        raise SourceDataError(path, row, f"{where}: {problem}" if where else problem)
    setattr(report, kind, getattr(report, kind) + 1)
    if len(positions) < _KEPT_POSITIONS:
        positions.append(position)
    return False


def _release_date_key(position_and_release: tuple[int, dict]) -> tuple:
    position, release = position_and_release
    date = rfc3339_instant(release.get("date"))
    if date is None:
        return 0, dt.datetime.min, position
    return 1, date.astimezone(dt.UTC).replace(tzinfo=None), position


def _latest_per_ocid(entries: list[tuple[int, dict]], report: ReadReport) -> list[tuple[int, dict]]:
    """One release per ocid, in order of first appearance: the one with the latest `date`."""
    by_ocid: dict[str, list[tuple[int, dict]]] = {}
    for entry in entries:
        by_ocid.setdefault(entry[1]["ocid"], []).append(entry)
    report.merged_duplicates += len(entries) - len(by_ocid)
    return [max(group, key=_release_date_key) for group in by_ocid.values()]


def _record_release(record) -> tuple[dict | None, str | None]:
    """A record's compiledRelease, else its latest embedded release; (None, problem) if it has neither."""
    if not isinstance(record, dict):
        return None, None
    if isinstance(record.get("compiledRelease"), dict):
        return record["compiledRelease"], None
    embedded = [(i, r) for i, r in enumerate(_list(record.get("releases")), start=1)
                if isinstance(r, dict) and isinstance(r.get("ocid"), str)]
    if embedded:
        return max(embedded, key=_release_date_key)[1], None
    return None, "not a release: a record without compiledRelease or embedded releases"


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _id(value) -> str | None:
    return value if isinstance(value, str) else None


def _read_json_lines(path: Path, strict: bool, report: ReadReport) -> Iterator[tuple[int, dict]]:
    with open(path, "rb") as lines:
        for line_no, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            problem = None
            try:
                value = _loads(line)
            except (ValueError, RecursionError) as exc:
                value, problem = None, f"not JSON: {exc}"
            if _accepted(value, line_no, None, path, strict, report, problem):
                yield line_no, value


def _read_document(path: Path, document, strict: bool, report: ReadReport) -> Iterator[tuple[int, dict]]:
    if isinstance(document, dict) and isinstance(document.get("records"), list):
        for position, record in enumerate(document["records"], start=1):
            release, problem = _record_release(record)
            if _accepted(record if release is None else release, position, f"/records/{position - 1}",
                         path, strict, report, problem):
                yield position, release
        return
    if isinstance(document, dict) and isinstance(document.get("releases"), list):
        releases, pointer = document["releases"], "/releases"
    elif isinstance(document, list):
        releases, pointer = document, ""
    else:
        release, problem = _record_release(document) if "compiledRelease" in document else (document, None)
        if _accepted(release, 1, "", path, strict, report, problem):
            yield 1, release
        return
    accepted = [(position, release) for position, release in enumerate(releases, start=1)
                if _accepted(release, position, f"{pointer}/{position - 1}", path, strict, report)]
    yield from _latest_per_ocid(accepted, report)


def _whole_file_document(path: Path):
    """The parsed file when it is one JSON document (a package, record or array), else None (JSON Lines)."""
    with open(path, "rb") as f:
        first = next((line for line in f if line.strip()), None)
    if first is None:
        return None
    try:
        head = _loads(first)
    except (ValueError, RecursionError):
        head = None
    if isinstance(head, dict) and not _PACKAGE_KEYS & head.keys():
        return None
    try:
        document = _loads(path.read_bytes())
    except (ValueError, RecursionError):
        return None
    return document if isinstance(document, dict | list) else None


def read_compiled_releases(path: Path, *, strict: bool = False,
                           report: ReadReport | None = None) -> Iterator[tuple[int, dict]]:
    """(1-based position, compiled release) for each contracting process in an OCDS file.

    Accepts JSON Lines (one compiled release per line, streamed), a release package
    (`{"releases": [...]}`), a record package (`{"records": [{"compiledRelease": ...}]}`), a bare
    record (ProZorro's sample files) or a bare release / JSON array of releases. Positions are line
    numbers for JSON Lines and array positions for packages.

    Entries that are not JSON objects and releases without a string `ocid` are counted in `report`
    and skipped (Cardinal's behaviour), or with `strict=True` raise SourceDataError naming the file and
    the line (JSON Lines) or the JSON pointer (packages).

    Simplification: a release package that holds several releases of one ocid is not merged field by
    field as OCDS merge rules would; the release with the latest `date` (later in the array on ties,
    undated ones first) stands for the process. A record without `compiledRelease` likewise falls back
    to its latest embedded release.
    """
    path = Path(path)
    report = report if report is not None else ReadReport()
    report.path = str(path)
    document = _whole_file_document(path)
    if document is None:
        yield from _read_json_lines(path, strict, report)
    else:
        yield from _read_document(path, document, strict, report)


# ---- per-process table ----

def _year(value) -> int | None:
    match = _YEAR.match(value) if isinstance(value, str) else None
    return int(match.group(1)) if match else None


def _text(value) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None


def _buyer(release: dict) -> tuple[str | None, str | None, str | None]:
    """(id, name, country) of the buyer: `buyer`, completed from the party with role buyer (roles are
    stripped: Italy's carry leading spaces) or the party with the buyer's id."""
    buyer = _dict(release.get("buyer"))
    buyer_id, name = _text(buyer.get("id")), _text(buyer.get("name"))
    country = _text(_dict(buyer.get("address")).get("countryName"))
    for party in map(_dict, _list(release.get("parties"))):
        roles = {role.strip() for role in _list(party.get("roles")) if isinstance(role, str)}
        if "buyer" in roles or (buyer_id is not None and _text(party.get("id")) == buyer_id):
            country = _text(_dict(party.get("address")).get("countryName")) or country
            name = name or _text(party.get("name"))
            buyer_id = buyer_id or _text(party.get("id"))
            break
    return buyer_id, name, country


def _in_force_awards(release: dict) -> list[dict]:
    """Active awards, plus awards without a status (Italy and Moldova publish none, so every award)."""
    return [award for award in _list(release.get("awards")) if isinstance(award, dict)
            and (award.get("status") == "active" or not _text(award.get("status")))]


def _award_value(awards: list[dict]) -> tuple[float | None, str | None]:
    """Sum of the awards' numeric amounts, and their currency when they share one."""
    amounts, currencies = [], set()
    for award in awards:
        value = _dict(award.get("value"))
        amount = value.get("amount")
        if isinstance(amount, int | float) and not isinstance(amount, bool):
            amounts.append(float(amount))
            currencies.add(value.get("currency") if isinstance(value.get("currency"), str) else None)
    currency = next(iter(currencies)) if len(currencies) == 1 else None
    return (sum(amounts), currency) if amounts else (None, None)


def _single_bid(release: dict, tender: dict) -> tuple[int | None, bool | None]:
    """(submitted bids, single bid): one submitted bid where bids.details exists, else numberOfTenderers
    is the integer 1; None when neither is published."""
    bids = release.get("bids")
    if isinstance(bids, dict) and isinstance(bids.get("details"), list):
        count = len(submitted_bids(release))
        return count, count == 1
    number = tender.get("numberOfTenderers")
    return None, (number == 1 if type(number) is int else None)


def process_flags(releases: Iterable[dict], settings: RedFlagSettings | None = None) -> pd.DataFrame:
    """One row per ocid (the last release of a repeated ocid wins): the process's facts and flags.

    Indicator columns (those of `PROCESS_INDICATORS` the settings enable) are True where Cardinal flags
    the process. Organisation-level indicators give their per-process consequence: `R038` = the
    process's buyer or procuring entity is flagged, `R048` = one of its winners is flagged; R025 is
    left out. Fences are computed over the releases passed in, so pass one country at a time.

    `excluded` marks Cardinal's global skips (cancelled tender, excluded procurementMethodDetails):
    drop them from denominators. `single_bid` and `short_submission_period` (R003's rule) are NA
    where they cannot be evaluated (excluded rows included), so shares can be taken over the non-NA
    rows. `submission_period_days` is exact (fractional; R003 truncates it toward zero) and NaN
    without two RFC 3339 dates: periods ending before they start (13 in the Armenian file) are
    flagged by R003 as in Cardinal, and this column lets a builder drop them instead.
    `winner_ids` and `award_value` cover active awards and awards without a status (Italy and
    Moldova publish none). `n_tenderers_listed` counts `tender.tenderers` with an id (Italy
    publishes participants only there). `year` comes from tenderPeriod.startDate, else
    tender.contractPeriod.startDate (Italy's release `date` is a fixed processing date), else the
    release `date`.
    """
    s = settings or RedFlagSettings()
    latest = {release["ocid"]: release for release in releases
              if isinstance(release, dict) and isinstance(release.get("ocid"), str)}
    results = compute_indicators(latest.values(), s)
    by_ocid, by_buyer, by_entity, by_tenderer = (results.get(group, {}) for group in
                                                 ("OCID", "Buyer", "ProcuringEntity", "Tenderer"))
    indicators = [code for code in PROCESS_INDICATORS if code in s.indicators]
    columns: dict[str, list] = {name: [] for name in (
        "ocid", "buyer_id", "buyer_name", "buyer_country", "year", "procurement_method",
        "procurement_method_details", "excluded", "award_value", "award_currency", "winner_ids",
        "n_bids_submitted", "n_tenderers_listed", "single_bid", "submission_period_days",
        "short_submission_period", *indicators)}
    for ocid, release in latest.items():
        tender = _dict(release.get("tender"))
        excluded = is_excluded(release, s)
        buyer_id, buyer_name, buyer_country = _buyer(release)
        awards = _in_force_awards(release)
        award_value, award_currency = _award_value(awards)
        winners = tuple(sorted({supplier_id for award in awards for supplier in _list(award.get("suppliers"))
                                if (supplier_id := _id(_dict(supplier).get("id"))) is not None}))
        n_bids, single_bid = _single_bid(remap_statuses(release, s), tender)
        listed = tender.get("tenderers")
        n_listed = sum(1 for t in listed if _text(_dict(t).get("id"))) if isinstance(listed, list) else None
        year = (_year(_dict(tender.get("tenderPeriod")).get("startDate"))
                or _year(_dict(tender.get("contractPeriod")).get("startDate")) or _year(release.get("date")))
        columns["ocid"].append(ocid)
        columns["buyer_id"].append(buyer_id)
        columns["buyer_name"].append(buyer_name)
        columns["buyer_country"].append(buyer_country)
        columns["year"].append(year)
        columns["procurement_method"].append(_text(tender.get("procurementMethod")))
        columns["procurement_method_details"].append(_text(tender.get("procurementMethodDetails")))
        columns["excluded"].append(excluded)
        columns["award_value"].append(award_value)
        columns["award_currency"].append(award_currency)
        columns["winner_ids"].append(winners)
        columns["n_bids_submitted"].append(n_bids)
        columns["n_tenderers_listed"].append(n_listed)
        columns["single_bid"].append(None if excluded else single_bid)
        period = submission_period(release)
        columns["submission_period_days"].append(None if period is None else period / _ONE_DAY)
        columns["short_submission_period"].append(None if excluded else _r003(release, s))
        own = by_ocid.get(ocid, {})
        for code in indicators:
            if excluded:
                hit = False
            elif code == "R038":
                hit = ("R038" in by_buyer.get(_id(_dict(release.get("buyer")).get("id")), {})
                       or "R038" in by_entity.get(_id(_dict(tender.get("procuringEntity")).get("id")), {}))
            elif code == "R048":
                hit = any("R048" in by_tenderer.get(winner, {}) for winner in winners)
            else:
                hit = code in own
            columns[code].append(hit)
    frame = pd.DataFrame(columns)
    for name, dtype in (("year", "Int64"), ("n_bids_submitted", "Int64"), ("n_tenderers_listed", "Int64"),
                        ("submission_period_days", "float64"), ("single_bid", "boolean"),
                        ("short_submission_period", "boolean"), ("award_value", "float64")):
        frame[name] = pd.array(columns[name], dtype=dtype)
    return frame
