"""OCDS procurement red flags computed exactly as OCDS Cardinal 0.0.8 computes them.

Written from ../shared/data/ocds-red-flags.md (a paraphrase of Cardinal's documentation and code)
and checked against every Cardinal known-answer fixture in tests/features/ocds/test_red_flags.py.
Input: compiled releases, one dict per contracting process. Output: Cardinal's result groups,
`{"OCID" | "Buyer" | "ProcuringEntity" | "Tenderer": {id: {code: value}}}`, flagged pairs only.

Cardinal folds lines in parallel; here they are folded in input order, which pins its one
order-dependent rule (without a configured currency, the main currency is the first one observed)
to input order: release by release, the bids R024/R058 examine first, then those R036 examines.
`features.ocds.reader` reads the files and builds the per-process table from these functions.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from fractions import Fraction
from pathlib import Path
from types import MappingProxyType

from nexus.errors import ConfigError

INDICATORS = ("R003", "R018", "R024", "R025", "R028", "R030", "R035", "R036", "R038", "R048", "R058")
GROUPS = ("OCID", "Buyer", "ProcuringEntity", "Tenderer")
NOT_SUBMITTED = frozenset({"invited", "withdrawn"})
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def _pipe_set(value) -> frozenset[str]:
    """A Cardinal pipe-separated list (`open|selective`) or a list of strings."""
    items = value.split("|") if isinstance(value, str) else list(value)
    return frozenset(str(item).strip() for item in items if str(item).strip())


def _int_map(value) -> Mapping[str, int]:
    return {str(key): int(days) for key, days in dict(value).items()}


_GLOBAL_KEYS = {
    "currency": ("currency", str),
    "price_comparison_procurement_methods": ("price_comparison_procurement_methods", _pipe_set),
    "no_price_comparison_procurement_methods": ("no_price_comparison_procurement_methods", _pipe_set),
}
_SECTION_KEYS: dict[str, dict[str, tuple[str, object]]] = {
    "exclusions": {"procurement_method_details": ("excluded_procurement_method_details", _pipe_set)},
    "codelists": {"bid_status": ("bid_status_map", dict), "award_status": ("award_status_map", dict)},
    "R003": {"threshold": ("r003_threshold", int),
             "procurement_methods": ("r003_procurement_methods", _pipe_set),
             "procurement_method_details": ("r003_procurement_method_details", _int_map)},
    "R018": {"procurement_methods": ("r018_procurement_methods", _pipe_set)},
    "R024": {"threshold": ("r024_threshold", float)},
    "R025": {"percentile": ("r025_percentile", float), "threshold": ("r025_threshold", float)},
    "R028": {}, "R030": {}, "R036": {},
    "R035": {"threshold": ("r035_threshold", int)},
    "R038": {"threshold": ("r038_threshold", float),
             "minimum_submitted_bids": ("r038_minimum_submitted_bids", int),
             "minimum_contracting_processes": ("r038_minimum_contracting_processes", int)},
    "R048": {"digits": ("r048_digits", int), "threshold": ("r048_threshold", int),
             "minimum_contracting_processes": ("r048_minimum_contracting_processes", int)},
    "R058": {"threshold": ("r058_threshold", float)},
}


@dataclass(frozen=True)
class RedFlagSettings:
    """Cardinal's `indicators` settings with Cardinal's defaults; only the codes in `indicators` run.

    A `*_threshold` of None means "use the computed fence". `bid_status_map` / `award_status_map`
    are Cardinal's `prepare` re-mapping (`[codelists.bid_status] qualified = valid`), without which
    Armenian and ProZorro bids are never `valid`.
    """

    indicators: frozenset[str] = frozenset(INDICATORS)
    currency: str | None = None
    price_comparison_procurement_methods: frozenset[str] = frozenset()
    no_price_comparison_procurement_methods: frozenset[str] = frozenset()
    excluded_procurement_method_details: frozenset[str] = frozenset()
    r003_threshold: int = 15
    r003_procurement_methods: frozenset[str] = frozenset()
    r003_procurement_method_details: Mapping[str, int] = field(default_factory=dict)
    r018_procurement_methods: frozenset[str] = frozenset({"open", "selective"})
    r024_threshold: float | None = None
    r025_percentile: float = 75
    r025_threshold: float | None = None
    r035_threshold: int = 1
    r038_threshold: float | None = None
    r038_minimum_submitted_bids: int = 2
    r038_minimum_contracting_processes: int = 2
    r048_digits: int = 2
    r048_threshold: int | None = None
    r048_minimum_contracting_processes: int = 20
    r058_threshold: float | None = None
    bid_status_map: Mapping[str, str] = field(default_factory=dict)
    award_status_map: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self):
        unknown = set(self.indicators) - set(INDICATORS)
        if unknown:
            raise ConfigError("red-flag settings", "indicators", f"unknown codes {sorted(unknown)}")
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, dict):
                object.__setattr__(self, f.name, MappingProxyType(dict(value)))
            elif isinstance(value, set):
                object.__setattr__(self, f.name, frozenset(value))

    @classmethod
    def from_dict(cls, settings: Mapping) -> RedFlagSettings:
        """Settings laid out like Cardinal's settings.ini: global keys, `[exclusions]`, `[codelists.*]`,
        and one `[R0xx]` section per indicator to run (an indicator without a section does not run)."""
        values: dict[str, object] = {"indicators": frozenset(k for k in settings if k in INDICATORS)}
        for key, raw in settings.items():
            if key in _GLOBAL_KEYS:
                name, convert = _GLOBAL_KEYS[key]
                values[name] = _converted(convert, raw, key)
            elif key in _SECTION_KEYS:
                for sub, sub_raw in dict(raw or {}).items():
                    if sub not in _SECTION_KEYS[key]:
                        raise ConfigError("red-flag settings", f"{key}.{sub}", "unknown setting")
                    name, convert = _SECTION_KEYS[key][sub]
                    values[name] = _converted(convert, sub_raw, f"{key}.{sub}")
            else:
                raise ConfigError("red-flag settings", key, "unknown setting")
        return cls(**values)

    @classmethod
    def from_fixture_name(cls, name: str | Path) -> RedFlagSettings:
        """The settings Cardinal's test harness (build.rs) derives from a fixture's file name.

        `R003-threshold-10` → `[R003] threshold = 10`; `+` stands for `|`;
        `R003-procurement_method_details-x-5-y-10` → per-details thresholds x = 5, y = 10; a single
        suffix (`R038-tenderer`) only names the case. Like the harness, every fixture also gets
        `no_price_comparison_procurement_methods = NPC` and `[exclusions] procurement_method_details = EXC`.
        """
        stem = Path(name).name.removesuffix(".jsonl").removesuffix(".expected")
        code, *suffix = stem.split("-")
        section: dict[str, object] = {}
        if len(suffix) >= 2:
            key, parts = suffix[0], suffix[1:]
            if key == "procurement_method_details":
                section[key] = dict(zip(parts[::2], parts[1::2], strict=True))
            else:
                section[key] = "-".join(parts).replace("+", "|")
        return cls.from_dict({"no_price_comparison_procurement_methods": "NPC",
                              "exclusions": {"procurement_method_details": "EXC"}, code: section})


def _converted(convert, raw, key: str):
    try:
        return convert(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError("red-flag settings", key, f"cannot use {raw!r}: {exc}") from None


# ---- vocabulary (ocds-red-flags.md section 1) ----

def _obj(value) -> dict:
    return value if isinstance(value, dict) else {}


def _arr(value) -> list:
    return value if isinstance(value, list) else []


def _str(value) -> str | None:
    return value if isinstance(value, str) else None


def _ids(parties) -> set[str]:
    return {i for party in _arr(parties) if (i := _str(_obj(party).get("id"))) is not None}


def _sole_id(parties) -> str | None:
    """The id of the only entry of `tenderers` / `suppliers`, when there is exactly one with a string id."""
    parties = _arr(parties)
    return _str(_obj(parties[0]).get("id")) if len(parties) == 1 else None


def _price(bid) -> tuple[float, str] | None:
    """(amount, currency) when the amount is a JSON number and the currency a string."""
    value = _obj(_obj(bid).get("value"))
    amount, currency = value.get("amount"), value.get("currency")
    if isinstance(amount, int | float) and not isinstance(amount, bool) and isinstance(currency, str):
        return float(amount), currency
    return None


def submitted_bids(release: dict) -> list[dict]:
    """Bids whose status is a string other than `invited` and `withdrawn` (status-less bids are not)."""
    return [bid for bid in _arr(_obj(release.get("bids")).get("details")) if isinstance(bid, dict)
            and isinstance(bid.get("status"), str) and bid["status"] not in NOT_SUBMITTED]


def _final_awards_and_bids(release: dict) -> tuple[list[dict], list] | None:
    """Active awards and all bids, or None when awards/bids are missing or any award is not final.

    Cancelled and unsuccessful awards are ignored, as are awards without a string status; any
    other status (pending, invalid, …) means the outcome may still change, so the process is skipped.
    """
    awards, details = release.get("awards"), _obj(release.get("bids")).get("details")
    if not isinstance(awards, list) or not isinstance(details, list):
        return None
    active = []
    for award in awards:
        status = _str(_obj(award).get("status"))
        if status == "active":
            active.append(award)
        elif status is not None and status not in ("cancelled", "unsuccessful"):
            return None
    return active, details


def _method_matches(tender: dict, methods: frozenset[str]) -> bool:
    return not methods or _str(tender.get("procurementMethod")) in methods


def _compares_prices(release: dict, s: RedFlagSettings) -> bool:
    """Whether the procedure is price-only (the allow-list, when set, wins over the deny-list)."""
    details = _str(_obj(release.get("tender")).get("procurementMethodDetails"))
    if s.price_comparison_procurement_methods:
        return details in s.price_comparison_procurement_methods
    return details is None or details not in s.no_price_comparison_procurement_methods


def is_excluded(release: dict, s: RedFlagSettings) -> bool:
    """Cardinal's global skips: a cancelled tender, or an excluded procurementMethodDetails."""
    tender = _obj(release.get("tender"))
    details = _str(tender.get("procurementMethodDetails"))
    return tender.get("status") == "cancelled" or (details is not None
                                                    and details in s.excluded_procurement_method_details)


def _instant(value) -> dt.datetime | None:
    """An RFC 3339 date-time with an offset (Cardinal parses with chrono's RFC 3339); else None."""
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        return None
    try:
        return dt.datetime.fromisoformat(value.upper())
    except ValueError:
        return None


def submission_period(release: dict) -> dt.timedelta | None:
    """tenderPeriod end − start (negative if the end precedes the start); None without two RFC 3339 dates."""
    period = _obj(_obj(release.get("tender")).get("tenderPeriod"))
    start, end = _instant(period.get("startDate")), _instant(period.get("endDate"))
    return None if start is None or end is None else end - start


def _whole_days(period: dt.timedelta) -> int:
    """Whole days truncated toward zero, as chrono's `num_days` (timedelta.days floors instead)."""
    microseconds = (period.days * 86_400 + period.seconds) * 1_000_000 + period.microseconds
    days = abs(microseconds) // 86_400_000_000
    return days if microseconds >= 0 else -days


class _MainCurrency:
    """The configured currency, else the first one observed; bids in other currencies are ignored."""

    def __init__(self, configured: str | None):
        self.code = configured

    def accepts(self, currency: str) -> bool:
        if self.code is None:
            self.code = currency
        return currency == self.code


# ---- quartiles and fences (section 1.1) ----

def quantile(sorted_values: Sequence[float], p: float) -> float:
    """Hyndman–Fan type 8 (statrs' method; numpy's `method="median_unbiased"`); NaN for no data."""
    n = len(sorted_values)
    if n == 0:
        return math.nan
    h = (n + 1.0 / 3.0) * p + 1.0 / 3.0
    k = math.floor(h)
    if k <= 0 or p == 0:
        return sorted_values[0]
    if k >= n or p == 1:
        return sorted_values[-1]
    low = sorted_values[k - 1]
    return low + (h - k) * (sorted_values[k] - low)


def _fma(x: float, y: float, z: float) -> float:
    """x·y + z rounded once, as Rust's `mul_add` computes Cardinal's fences (Python 3.11 has no math.fma)."""
    if not all(map(math.isfinite, (x, y, z))):
        return x * y + z
    return float(Fraction(x) * Fraction(y) + Fraction(z))


def _quartiles(values: Iterable[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return quantile(ordered, 0.25), quantile(ordered, 0.75)


def _lower_fence(values: Iterable[float], threshold: float | None) -> float | None:
    """Q1 − 1.5·IQR, or the threshold; None unless Q1 > 0 and the fence > 0 (else 75 % of zeros flag)."""
    if threshold is not None:
        return threshold if threshold > 0 else None
    q1, q3 = _quartiles(values)
    fence = _fma(q3 - q1, -1.5, q1)
    return fence if q1 > 0 and fence > 0 else None


def _upper_fence(values: Iterable[float], threshold: float | None) -> float:
    """Q3 + 1.5·IQR, or the threshold."""
    if threshold is not None:
        return threshold
    q1, q3 = _quartiles(values)
    return _fma(q3 - q1, 1.5, q3)


# ---- per-process indicators ----

def _r003(release: dict, s: RedFlagSettings) -> bool | None:
    """Short submission period: whole days < the threshold for this procurementMethodDetails (default 15).

    None when not evaluated (a date missing or not RFC 3339, or the method filter not matched).
    """
    tender = _obj(release.get("tender"))
    period = submission_period(release)
    if period is None or not _method_matches(tender, s.r003_procurement_methods):
        return None
    details = _str(tender.get("procurementMethodDetails"))
    return _whole_days(period) < s.r003_procurement_method_details.get(details, s.r003_threshold)


def _r018(release: dict, s: RedFlagSettings) -> bool:
    """Single bid: a competitive method and `numberOfTenderers` is the JSON integer 1 (not 1.0 or "1")."""
    tender = _obj(release.get("tender"))
    count = tender.get("numberOfTenderers")
    return _method_matches(tender, s.r018_procurement_methods) and type(count) is int and count == 1


def _second_lowest_bid_ratio(release: dict, s: RedFlagSettings,
                             currency: _MainCurrency) -> tuple[float, str, str] | None:
    """(runner-up − winner) / winner, winner and runner-up ids, shared by R024 and R058.

    Needs final awards with one active award to one supplier; among single-tenderer valid bids priced
    in the main currency the supplier's lowest bid wins, the lowest bid of anyone else is the runner-up.
    A runner-up cheaper than the winner means the criteria were not price-only: no ratio. A zero
    winning amount gives no defined ratio and is skipped (Cardinal would divide by zero).
    """
    final = _final_awards_and_bids(release) if _compares_prices(release, s) else None
    if final is None or len(final[0]) != 1 or (supplier := _sole_id(final[0][0].get("suppliers"))) is None:
        return None
    winner: tuple[float, str] | None = None
    runner_up: tuple[float, str] | None = None
    for bid in final[1]:
        tenderer, price = _sole_id(_obj(bid).get("tenderers")), _price(bid)
        if _obj(bid).get("status") != "valid" or tenderer is None or price is None:
            continue
        if not currency.accepts(price[1]):
            continue
        if tenderer == supplier:
            if winner is None or price[0] < winner[0]:
                winner = (price[0], tenderer)
        elif runner_up is None or price[0] < runner_up[0]:
            runner_up = (price[0], tenderer)
    if winner is None or runner_up is None or runner_up[0] < winner[0] or winner[0] == 0:
        return None
    return (runner_up[0] - winner[0]) / winner[0], winner[1], runner_up[1]


def _r025_tenderers(release: dict) -> tuple[set[str], str] | None:
    """Distinct tenderers with a single-tenderer valid bid, and the supplier (same award rules as R024)."""
    final = _final_awards_and_bids(release)
    if final is None or len(final[0]) != 1 or (supplier := _sole_id(final[0][0].get("suppliers"))) is None:
        return None
    valid = {tenderer for bid in map(_obj, final[1])
             if bid.get("status") == "valid" and (tenderer := _sole_id(bid.get("tenderers"))) is not None}
    return valid, supplier


def _r028(release: dict, s: RedFlagSettings) -> set[str]:
    """Identical bid prices: submitted bids with equal (amount, currency) from different tenderer sets.

    Returns every tenderer of the colliding sets (empty: not flagged).
    """
    if not _compares_prices(release, s):
        return set()
    sets_by_price: dict[tuple[float, str], set[frozenset[str]]] = {}
    for bid in submitted_bids(release):
        price, tenderers = _price(bid), frozenset(_ids(bid.get("tenderers")))
        if price is not None and tenderers:
            sets_by_price.setdefault(price, set()).add(tenderers)
    return {tenderer for sets in sets_by_price.values() if len(sets) > 1
            for tenderer_set in sets for tenderer in tenderer_set}


def _r030(release: dict) -> set[str]:
    """Late bid won: a valid bid dated after tenderPeriod.endDate (as strings, like Cardinal) by an active
    award's supplier. Returns those suppliers (empty: not flagged)."""
    deadline = _str(_obj(_obj(release.get("tender")).get("tenderPeriod")).get("endDate"))
    if deadline is None:
        return set()
    winners = set().union(*(_ids(award.get("suppliers")) for award in _arr(release.get("awards"))
                            if _obj(award).get("status") == "active"))
    late: set[str] = set()
    for bid in map(_obj, _arr(_obj(release.get("bids")).get("details"))):
        date = _str(bid.get("date"))
        if bid.get("status") == "valid" and date is not None and date > deadline:
            late |= _ids(bid.get("tenderers")) & winners
    return late


def _r035(release: dict, s: RedFlagSettings) -> tuple[float, str] | None:
    """All except the winning bid disqualified: one valid tenderer, who is exactly the set of active
    suppliers, and at least `threshold` (≥ 1) other tenderers with disqualified bids."""
    final = _final_awards_and_bids(release)
    if final is None:
        return None
    valid: set[str] = set()
    disqualified: set[str] = set()
    for bid in final[1]:
        status = _obj(bid).get("status")
        if status == "valid":
            valid |= _ids(bid.get("tenderers"))
        elif status == "disqualified":
            disqualified |= _ids(bid.get("tenderers"))
    suppliers = set().union(*(_ids(award.get("suppliers")) for award in final[0]))
    others = len(disqualified - valid)
    if len(valid) == 1 and valid == suppliers and others >= max(1, s.r035_threshold):
        return float(others), next(iter(valid))
    return None


def _r036(release: dict, s: RedFlagSettings, currency: _MainCurrency) -> bool:
    """Lowest bid disqualified: with an active award, the lowest submitted bid priced in the main currency
    (first in array order on ties) is disqualified, and some valid bid has such a price."""
    if not _compares_prices(release, s):
        return False
    if not any(_obj(award).get("status") == "active" for award in _arr(release.get("awards"))):
        return False
    lowest: tuple[float, str] | None = None
    valid_priced = False
    for bid in submitted_bids(release):
        price = _price(bid)
        if price is None or not currency.accepts(price[1]):
            continue
        if lowest is None or price[0] < lowest[0]:
            lowest = (price[0], bid["status"])
        valid_priced |= bid["status"] == "valid"
    return lowest is not None and lowest[1] == "disqualified" and valid_priced


def _r038_tally(release: dict, tallies: dict[str, dict[str, list[int]]]) -> None:
    """Add (disqualified, submitted) bids to the buyer, the procuring entity and every bid's tenderers."""
    bids = submitted_bids(release)
    if not bids:
        return
    disqualified = 0
    for bid in bids:
        is_disqualified = bid["status"] == "disqualified"
        disqualified += is_disqualified
        for tenderer in _arr(bid.get("tenderers")):
            if (tenderer_id := _str(_obj(tenderer).get("id"))) is not None:
                tally = tallies["Tenderer"].setdefault(tenderer_id, [0, 0])
                tally[0] += is_disqualified
                tally[1] += 1
    owners = {"Buyer": _obj(release.get("buyer")).get("id"),
              "ProcuringEntity": _obj(_obj(release.get("tender")).get("procuringEntity")).get("id")}
    for group, owner in owners.items():
        if isinstance(owner, str):
            tally = tallies[group].setdefault(owner, [0, 0])
            tally[0] += disqualified
            tally[1] += len(bids)


def _r048_tally(release: dict, s: RedFlagSettings, tallies: dict[str, list]) -> None:
    """Add the first `digits` characters of each classified item of an active single-supplier award
    to the supplier's set; count the supplier once per process (only if it had a classified item)."""
    seen: set[str] = set()
    for award in _arr(release.get("awards")):
        award = _obj(award)
        supplier = _sole_id(award.get("suppliers"))
        if award.get("status") != "active" or supplier is None:
            continue
        for item in _arr(award.get("items")):
            code = _str(_obj(_obj(item).get("classification")).get("id"))
            if code is None:
                continue
            tally = tallies.setdefault(supplier, [0, set()])
            if supplier not in seen:
                seen.add(supplier)
                tally[0] += 1
            tally[1].add(code[: s.r048_digits])


# ---- file-wide indicators ----

def _r024(ratios: dict, s: RedFlagSettings, results: dict) -> None:
    """Price close to winning bid: ratio ≤ lower fence (or threshold), only if Q1 > 0 and the fence > 0."""
    fence = _lower_fence((ratio for ratio, _, _ in ratios.values()), s.r024_threshold) if ratios else None
    if fence is None:
        return
    for ocid, (ratio, winner, runner_up) in ratios.items():
        if ratio <= fence:
            _flag(results, "OCID", ocid, "R024", ratio)
            _flag(results, "Tenderer", winner, "R024", 0.0)
            _flag(results, "Tenderer", runner_up, "R024", 0.0)


def _r058(ratios: dict, s: RedFlagSettings, results: dict) -> None:
    """Heavily discounted bid: ratio ≥ upper fence (or threshold), only if the fence > 0."""
    fence = _upper_fence((ratio for ratio, _, _ in ratios.values()), s.r058_threshold)
    if not fence > 0:
        return
    for ocid, (ratio, winner, _) in ratios.items():
        if ratio >= fence:
            _flag(results, "OCID", ocid, "R058", ratio)
            _flag(results, "Tenderer", winner, "R058", 0.0)


def _r025(tallies: dict[str, list[int]], s: RedFlagSettings, results: dict) -> None:
    """Excessive unsuccessful bids: processes ≥ the `percentile`-th percentile of processes, and
    wins / processes ≤ lower fence (or threshold), only if Q1 > 0 and the fence > 0."""
    if not tallies:
        return
    cut = quantile(sorted(processes for _, processes in tallies.values()), s.r025_percentile / 100)
    ratios = {tenderer: wins / processes for tenderer, (wins, processes) in tallies.items()}
    if (fence := _lower_fence(ratios.values(), s.r025_threshold)) is None:
        return
    for tenderer, ratio in ratios.items():
        if tallies[tenderer][1] >= cut and ratio <= fence:
            _flag(results, "Tenderer", tenderer, "R025", ratio)


def _r038(tallies: dict[str, dict[str, list[int]]], s: RedFlagSettings, results: dict) -> None:
    """Excessive disqualified bids: disqualified / submitted ≥ upper fence (or threshold) per group, among
    tenderers with ≥ minimum_submitted_bids and buyers / procuring entities with ≥
    minimum_contracting_processes *submitted bids* (Cardinal's code, which the R038 fixture needs)."""
    minimum = {"Buyer": s.r038_minimum_contracting_processes, "Tenderer": s.r038_minimum_submitted_bids,
               "ProcuringEntity": s.r038_minimum_contracting_processes}
    for group, tally in tallies.items():
        ratios = {owner: bad / submitted for owner, (bad, submitted) in tally.items()
                  if submitted >= minimum[group]}
        if (fence := _upper_fence(ratios.values(), s.r038_threshold)) > 0:
            for owner, ratio in ratios.items():
                if ratio >= fence:
                    _flag(results, group, owner, "R038", ratio)


def _r048(tallies: dict[str, list], s: RedFlagSettings, results: dict) -> None:
    """Heterogeneous supplier: distinct classification prefixes ≥ upper fence (or threshold), among
    suppliers in ≥ minimum_contracting_processes processes (no guard)."""
    sizes = {supplier: len(codes) for supplier, (processes, codes) in tallies.items()
             if processes >= s.r048_minimum_contracting_processes}
    if not sizes:
        return
    fence = _upper_fence(sizes.values(), s.r048_threshold)
    for supplier, size in sizes.items():
        if size >= fence:
            _flag(results, "Tenderer", supplier, "R048", float(size))


def _flag(results: dict, group: str, key: str, code: str, value: float) -> None:
    results.setdefault(group, {}).setdefault(key, {})[code] = value


def remap_statuses(release: dict, s: RedFlagSettings) -> dict:
    """The release with bid and award statuses re-mapped through the settings' codelists (copies only
    what changes), as Cardinal's `prepare` does before indicators run."""
    if not s.bid_status_map and not s.award_status_map:
        return release

    def mapped(entries: list, mapping: Mapping[str, str]) -> list:
        return [{**entry, "status": mapping[status]} if isinstance(entry, dict)
                and isinstance(status := entry.get("status"), str) and status in mapping else entry
                for entry in entries]

    release = dict(release)
    bids = release.get("bids")
    if s.bid_status_map and isinstance(bids, dict) and isinstance(bids.get("details"), list):
        release["bids"] = {**bids, "details": mapped(bids["details"], s.bid_status_map)}
    if s.award_status_map and isinstance(release.get("awards"), list):
        release["awards"] = mapped(release["awards"], s.award_status_map)
    return release


def compute_indicators(releases: Iterable[dict], settings: RedFlagSettings | None = None) -> dict:
    """Cardinal's `indicators` command over compiled releases: the result groups (without `Meta`).

    Outlier fences are computed over everything passed in: pass one country's releases at a time.
    """
    s = settings or RedFlagSettings()
    on = s.indicators
    results: dict[str, dict] = {}
    currency = _MainCurrency(s.currency)
    ratios: dict[str, tuple[float, str, str]] = {}
    r025: dict[str, list[int]] = {}
    r038: dict[str, dict[str, list[int]]] = {"Buyer": {}, "ProcuringEntity": {}, "Tenderer": {}}
    r048: dict[str, list] = {}
    for release in releases:
        if not isinstance(release, dict) or not isinstance(ocid := release.get("ocid"), str):
            continue
        if is_excluded(release, s):
            continue
        release = remap_statuses(release, s)
        if "R003" in on and _r003(release, s):
            _flag(results, "OCID", ocid, "R003", 1.0)
        if "R018" in on and _r018(release, s):
            _flag(results, "OCID", ocid, "R018", 1.0)
        if {"R024", "R058"} & on and (ratio := _second_lowest_bid_ratio(release, s, currency)) is not None:
            ratios[ocid] = ratio
        if "R025" in on and (found := _r025_tenderers(release)) is not None:
            for tenderer in found[0]:
                tally = r025.setdefault(tenderer, [0, 0])
                tally[0] += tenderer == found[1]
                tally[1] += 1
        if "R028" in on and (tenderers := _r028(release, s)):
            _flag(results, "OCID", ocid, "R028", 1.0)
            for tenderer in tenderers:
                _flag(results, "Tenderer", tenderer, "R028", 1.0)
        if "R030" in on and (late_winners := _r030(release)):
            _flag(results, "OCID", ocid, "R030", 1.0)
            for tenderer in late_winners:
                _flag(results, "Tenderer", tenderer, "R030", 1.0)
        if "R035" in on and (found35 := _r035(release, s)) is not None:
            _flag(results, "OCID", ocid, "R035", found35[0])
            _flag(results, "Tenderer", found35[1], "R035", 0.0)
        if "R036" in on and _r036(release, s, currency):
            _flag(results, "OCID", ocid, "R036", 1.0)
        if "R038" in on:
            _r038_tally(release, r038)
        if "R048" in on:
            _r048_tally(release, s, r048)
    if "R024" in on:
        _r024(ratios, s, results)
    if "R058" in on:
        _r058(ratios, s, results)
    if "R025" in on:
        _r025(r025, s, results)
    if "R038" in on:
        _r038(r038, s, results)
    if "R048" in on:
        _r048(r048, s, results)
    return {group: results[group] for group in GROUPS if results.get(group)}
