"""OCDS procurement red flags computed exactly as OCDS Cardinal 0.0.8 computes them.

Written from ../shared/data/ocds-red-flags.md (a paraphrase of Cardinal's documentation and code)
and checked against every Cardinal known-answer fixture in tests/features/ocds/test_red_flags.py.
Input: compiled releases, one dict per contracting process. Output: Cardinal's result groups,
`{"OCID" | "Buyer" | "ProcuringEntity" | "Tenderer": {id: {code: value}}}`, flagged pairs only.

Cardinal folds lines in parallel; here they are folded in input order, which pins its one
order-dependent rule (without a configured currency, the main currency is the first one observed)
to input order: release by release, the bids R024/R058 examine first, then those R036 examines.
`features.ocds.reader` reads the files and builds the per-process table from these functions; the
settings, the OCDS vocabulary and the fences live beside this module (`settings`, `vocabulary`, `fences`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from features.ocds.fences import lower_fence, quantile, upper_fence
from features.ocds.settings import RedFlagSettings
from features.ocds.vocabulary import (
    MainCurrency,
    as_array,
    as_object,
    as_string,
    bid_price,
    compares_prices,
    final_awards_and_bids,
    is_excluded,
    method_matches,
    party_ids,
    sole_id,
    submission_period,
    submitted_bids,
    whole_days,
)

GROUPS = ("OCID", "Buyer", "ProcuringEntity", "Tenderer")


# ---- per-process indicators ----

def _r003(release: dict, s: RedFlagSettings) -> bool | None:
    """Short submission period: whole days < the threshold for this procurementMethodDetails (default 15).

    None when not evaluated (a date missing or not RFC 3339, or the method filter not matched).
    """
    tender = as_object(release.get("tender"))
    period = submission_period(release)
    if period is None or not method_matches(tender, s.r003_procurement_methods):
        return None
    details = as_string(tender.get("procurementMethodDetails"))
    return whole_days(period) < s.r003_procurement_method_details.get(details, s.r003_threshold)


def _r018(release: dict, s: RedFlagSettings) -> bool:
    """Single bid: a competitive method and `numberOfTenderers` is the JSON integer 1 (not 1.0 or "1")."""
    tender = as_object(release.get("tender"))
    count = tender.get("numberOfTenderers")
    return method_matches(tender, s.r018_procurement_methods) and type(count) is int and count == 1


def _second_lowest_bid_ratio(release: dict, s: RedFlagSettings,
                             currency: MainCurrency) -> tuple[float, str, str] | None:
    """(runner-up − winner) / winner, winner and runner-up ids, shared by R024 and R058.

    Needs final awards with one active award to one supplier; among single-tenderer valid bids priced
    in the main currency the supplier's lowest bid wins, the lowest bid of anyone else is the runner-up.
    A runner-up cheaper than the winner means the criteria were not price-only: no ratio. A zero
    winning amount gives no defined ratio and is skipped (Cardinal would divide by zero).
    """
    final = final_awards_and_bids(release) if compares_prices(release, s) else None
    if final is None or len(final[0]) != 1 or (supplier := sole_id(final[0][0].get("suppliers"))) is None:
        return None
    winner: tuple[float, str] | None = None
    runner_up: tuple[float, str] | None = None
    for bid in final[1]:
        tenderer, price = sole_id(as_object(bid).get("tenderers")), bid_price(bid)
        if as_object(bid).get("status") != "valid" or tenderer is None or price is None:
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
    final = final_awards_and_bids(release)
    if final is None or len(final[0]) != 1 or (supplier := sole_id(final[0][0].get("suppliers"))) is None:
        return None
    valid = {tenderer for bid in map(as_object, final[1])
             if bid.get("status") == "valid" and (tenderer := sole_id(bid.get("tenderers"))) is not None}
    return valid, supplier


def _r028(release: dict, s: RedFlagSettings) -> set[str]:
    """Identical bid prices: submitted bids with equal (amount, currency) from different tenderer sets.

    Returns every tenderer of the colliding sets (empty: not flagged).
    """
    if not compares_prices(release, s):
        return set()
    sets_by_price: dict[tuple[float, str], set[frozenset[str]]] = {}
    for bid in submitted_bids(release):
        price, tenderers = bid_price(bid), frozenset(party_ids(bid.get("tenderers")))
        if price is not None and tenderers:
            sets_by_price.setdefault(price, set()).add(tenderers)
    return {tenderer for sets in sets_by_price.values() if len(sets) > 1
            for tenderer_set in sets for tenderer in tenderer_set}


def _r030(release: dict) -> set[str]:
    """Late bid won: a valid bid dated after tenderPeriod.endDate (as strings, like Cardinal) by an active
    award's supplier. Returns those suppliers (empty: not flagged)."""
    deadline = as_string(as_object(as_object(release.get("tender")).get("tenderPeriod")).get("endDate"))
    if deadline is None:
        return set()
    winners = set().union(*(party_ids(award.get("suppliers")) for award in as_array(release.get("awards"))
                            if as_object(award).get("status") == "active"))
    late: set[str] = set()
    for bid in map(as_object, as_array(as_object(release.get("bids")).get("details"))):
        date = as_string(bid.get("date"))
        if bid.get("status") == "valid" and date is not None and date > deadline:
            late |= party_ids(bid.get("tenderers")) & winners
    return late


def _r035(release: dict, s: RedFlagSettings) -> tuple[float, str] | None:
    """All except the winning bid disqualified: one valid tenderer, who is exactly the set of active
    suppliers, and at least `threshold` (≥ 1) other tenderers with disqualified bids."""
    final = final_awards_and_bids(release)
    if final is None:
        return None
    valid: set[str] = set()
    disqualified: set[str] = set()
    for bid in final[1]:
        status = as_object(bid).get("status")
        if status == "valid":
            valid |= party_ids(bid.get("tenderers"))
        elif status == "disqualified":
            disqualified |= party_ids(bid.get("tenderers"))
    suppliers = set().union(*(party_ids(award.get("suppliers")) for award in final[0]))
    others = len(disqualified - valid)
    if len(valid) == 1 and valid == suppliers and others >= max(1, s.r035_threshold):
        return float(others), next(iter(valid))
    return None


def _r036(release: dict, s: RedFlagSettings, currency: MainCurrency) -> bool:
    """Lowest bid disqualified: with an active award, the lowest submitted bid priced in the main currency
    (first in array order on ties) is disqualified, and some valid bid has such a price."""
    if not compares_prices(release, s):
        return False
    if not any(as_object(award).get("status") == "active" for award in as_array(release.get("awards"))):
        return False
    lowest: tuple[float, str] | None = None
    valid_priced = False
    for bid in submitted_bids(release):
        price = bid_price(bid)
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
        for tenderer in as_array(bid.get("tenderers")):
            if (tenderer_id := as_string(as_object(tenderer).get("id"))) is not None:
                tally = tallies["Tenderer"].setdefault(tenderer_id, [0, 0])
                tally[0] += is_disqualified
                tally[1] += 1
    owners = {"Buyer": as_object(release.get("buyer")).get("id"),
              "ProcuringEntity": as_object(as_object(release.get("tender")).get("procuringEntity")).get("id")}
    for group, owner in owners.items():
        if isinstance(owner, str):
            tally = tallies[group].setdefault(owner, [0, 0])
            tally[0] += disqualified
            tally[1] += len(bids)


def _r048_tally(release: dict, s: RedFlagSettings, tallies: dict[str, list]) -> None:
    """Add the first `digits` characters of each classified item of an active single-supplier award
    to the supplier's set; count the supplier once per process (only if it had a classified item)."""
    seen: set[str] = set()
    for award in as_array(release.get("awards")):
        award = as_object(award)
        supplier = sole_id(award.get("suppliers"))
        if award.get("status") != "active" or supplier is None:
            continue
        for item in as_array(award.get("items")):
            code = as_string(as_object(as_object(item).get("classification")).get("id"))
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
    fence = lower_fence((ratio for ratio, _, _ in ratios.values()), s.r024_threshold) if ratios else None
    if fence is None:
        return
    for ocid, (ratio, winner, runner_up) in ratios.items():
        if ratio <= fence:
            _flag(results, "OCID", ocid, "R024", ratio)
            _flag(results, "Tenderer", winner, "R024", 0.0)
            _flag(results, "Tenderer", runner_up, "R024", 0.0)


def _r058(ratios: dict, s: RedFlagSettings, results: dict) -> None:
    """Heavily discounted bid: ratio ≥ upper fence (or threshold), only if the fence > 0."""
    fence = upper_fence((ratio for ratio, _, _ in ratios.values()), s.r058_threshold)
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
    if (fence := lower_fence(ratios.values(), s.r025_threshold)) is None:
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
        if (fence := upper_fence(ratios.values(), s.r038_threshold)) > 0:
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
    fence = upper_fence(sizes.values(), s.r048_threshold)
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
    currency = MainCurrency(s.currency)
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
