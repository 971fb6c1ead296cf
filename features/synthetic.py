"""The embedded default: a seeded synthetic world written in the real publishers' file formats.

Fictional countries on ISO user-assigned codes (XAA…) so nobody mistakes a score for a
real one. A latent process drives every file: a shared governance factor and five
country-level drivers that evolve as AR(1) series. A latent risk depends on the drivers
through *planted effects of known size*; each driver surfaces in one proxy signal with
measurement noise, some signals are pure noise, and the corruption perceptions index is
built partly from two other indices, as real composite indices are.

The tier placement is a political label, so it does not track the risk instantly: signals
move first, placements follow (`place_tiers`). The report of year t judges the risk of year
t − 2 plus a political standing that no signal sees, and it keeps last year's tier unless
that assessment has moved well past a cut-point. A proxy file is published with lag 1, so
the newest signals at row t already show the risk on which the report of t + 1 will be based.
`planted_truth.json` records it all, with the skill an oracle gets from the latent signals,
the current tier and both (`oracle_skill`), so tests can judge the pipeline against them.

Countries enter late, editions go missing, and each publisher has its own lag, so the
builders meet the same problems as on real files.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from nexus.countries import synthetic_codes, synthetic_name
from nexus.manifest import atomic_path, atomic_write_text

REGIONS = ("Northern Reach", "Southern Belt", "Eastern Isles", "Western Plains", "Central Steppe")
DRIVERS = ("procurement_capture", "migration_pressure", "judicial_weakness", "press_repression",
           "administrative_corruption")
# Effect of each driver (per standard deviation) on the latent risk logit; the placements
# follow that risk with a lag and inertia (see `place_tiers`).
DRIVER_EFFECTS = {"procurement_capture": 1.3, "migration_pressure": 1.0, "judicial_weakness": 0.7,
                  "press_repression": 0.45, "administrative_corruption": 0.3}
# The panel feature through which each driver is observed (with measurement noise).
DRIVER_SIGNALS = {"procurement_capture": "procurement_single_bid_share",
                  "migration_pressure": "crossings_per_100k",
                  "judicial_weakness": "wjp_criminal_justice_corruption",
                  "press_repression": "press_freedom_score",
                  "administrative_corruption": "wgi_control_of_corruption"}
NOISE_SIGNALS = ("wgi_political_stability", "press_freedom_safety", "crossings_share_minors")
DERIVED_SIGNALS = {"cpi_score": ("governance_indicators", "judicial_metrics")}
TIER_LABELS = ("Tier 1", "Tier 2", "Tier 2 Watch List", "Tier 3")
MISSING_RSF_EDITIONS = (2009, 2016)
# How placements follow the risk (`place_tiers`): the world's physics, not analyst parameters.
PLACEMENT_LAG_YEARS = 2               # the report of year t judges the risk of year t - 2
TIER_CUTS = (-2.6, 0.0, 1.4)          # assessment cut-points: Tier 1 | Tier 2 | Watch List | Tier 3
MOVE_THRESHOLDS = (1.0, -0.2, 0.3)    # per cut: how far past it the assessment must go before a move
MOVE_SLOPE = 4.0                      # P(move) = logistic(MOVE_SLOPE * (distance past cut - threshold))
JUMP_DISTANCE = 1.2                   # this far past the band the placement jumps to the implied tier
SURPRISE_RATE = 0.02                  # yearly chance of a one-step move that no signal explains
STANDING = {"permanent_sd": 0.25, "ar_rho": 0.6, "ar_sd": 0.5}  # political standing, seen by no signal
PLACEMENT_STREAM = 9                  # the placements draw from their own generator, [seed, 9]
ORACLE_ORIGINS = (2015, 2023)         # the backtest origins the oracle figures are computed on
ORACLE_HORIZONS = (1, 2, 3)
WJP_EDITIONS = ("2012-2013", "2014", "2015", "2016", "2017-2018", "2019", "2020", "2021", "2022",
                "2023", "2024")


@dataclass(frozen=True)
class World:
    """The latent state of the world: per country-year drivers, tiers and entry years."""

    codes: list[str]
    years: np.ndarray
    region: np.ndarray            # (n,)
    entry_year: np.ndarray        # (n,) first year the country exists in any file
    population: np.ndarray        # (n, T)
    drivers: dict[str, np.ndarray]  # each (n, T), standardised
    governance: np.ndarray        # (n, T) shared factor
    risk_logit: np.ndarray        # (n, T) latent risk: planted driver effects + yearly noise
    tier: np.ndarray              # (n, T) 0..3, placed by `place_tiers`
    special_case: np.ndarray      # (n, T) bool
    assessment: np.ndarray        # (n, T) what the report of year t judges: lagged risk + standing


def _ar1(rng: np.random.Generator, n: int, t: int, rho: float, means: np.ndarray) -> np.ndarray:
    x = np.empty((n, t))
    x[:, 0] = means + rng.normal(0, 1, n) * np.sqrt(1 - rho**2) * 0.6
    for j in range(1, t):
        x[:, j] = means + rho * (x[:, j - 1] - means) + rng.normal(0, 0.35, n)
    return x


def simulate(seed: int, n_countries: int, first_year: int, last_year: int) -> World:
    """Draw the latent world; everything written to disk is a noisy view of this."""
    rng = np.random.default_rng(seed)
    codes = synthetic_codes(n_countries)
    years = np.arange(first_year, last_year + 1)
    n, t = len(codes), len(years)
    region = rng.integers(0, len(REGIONS), n)
    late = rng.random(n) < 0.12
    entry_year = np.where(late, rng.integers(first_year + 3, first_year + 12, n), first_year)
    governance = _ar1(rng, n, t, 0.9, rng.normal(0, 0.8, n) + 0.3 * (region - 2))
    drivers = {}
    for name in DRIVERS:
        own = _ar1(rng, n, t, 0.85, rng.normal(0, 0.8, n))
        raw = 0.45 * governance + own
        drivers[name] = (raw - raw.mean()) / raw.std()
    logit = -1.1 + sum(DRIVER_EFFECTS[k] * drivers[k] for k in DRIVERS) + rng.normal(0, 0.5, (n, t))
    special_case = rng.random((n, t)) < 0.006
    population = np.exp(rng.normal(15.5, 1.3, n))[:, None] * np.cumprod(
        1 + rng.normal(0.012, 0.004, (n, t)), axis=1)
    tier, assessment = place_tiers(logit, np.random.default_rng([seed, PLACEMENT_STREAM]))
    return World(codes, years, region, entry_year, population, drivers, governance, logit, tier,
                 special_case, assessment)


def place_tiers(risk_logit: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Tier placements that follow the latent risk late and with inertia, as a political label does.

    The report of year t judges an assessment: the risk of year t − PLACEMENT_LAG_YEARS plus a
    political standing (a permanent country offset and an AR(1) swing) that no proxy signal
    carries. The assessment implies a tier through TIER_CUTS; the placement keeps last year's
    tier unless the assessment lies outside that tier's band, and then moves one step towards
    the implied tier with a probability that grows with the distance past the cut (straight to
    it beyond JUMP_DISTANCE). Tier 1 is sticky, the Watch List cut reacts readily. A few moves
    a year are political surprises. The first year is placed at its implied tier.
    """
    n, t = risk_logit.shape
    standing = np.empty((n, t))
    rho, sd = STANDING["ar_rho"], STANDING["ar_sd"]
    standing[:, 0] = rng.normal(0, sd, n)
    for j in range(1, t):
        standing[:, j] = rho * standing[:, j - 1] + rng.normal(0, sd * np.sqrt(1 - rho**2), n)
    standing += rng.normal(0, STANDING["permanent_sd"], n)[:, None]
    judged = np.maximum(np.arange(t) - PLACEMENT_LAG_YEARS, 0)
    assessment = risk_logit[:, judged] + standing
    cuts, thresholds = np.asarray(TIER_CUTS), np.asarray(MOVE_THRESHOLDS)
    band_low, band_high = np.r_[-np.inf, cuts], np.r_[cuts, np.inf]
    tier = np.empty((n, t), dtype=np.int64)
    tier[:, 0] = np.digitize(assessment[:, 0], cuts)
    for j in range(1, t):
        last, a = tier[:, j - 1], assessment[:, j]
        implied = np.digitize(a, cuts)
        up = implied > last
        distance = np.where(up, a - band_high[last], band_low[last] - a)  # > 0 outside the band
        cut = np.clip(np.where(up, last, last - 1), 0, len(cuts) - 1)
        p_move = 1 / (1 + np.exp(-MOVE_SLOPE * (distance - thresholds[cut])))
        move = (implied != last) & (rng.random(n) < p_move)
        placed = np.where(distance > JUMP_DISTANCE, implied, last + np.sign(implied - last))
        surprise = ~move & (rng.random(n) < SURPRISE_RATE)
        nudged = np.clip(last + rng.choice([-1, 1], n), 0, len(TIER_LABELS) - 1)
        tier[:, j] = np.where(move, placed, np.where(surprise, nudged, last))
    return tier, assessment


def _exists(world: World) -> np.ndarray:
    return world.years[None, :] >= world.entry_year[:, None]


def _decimal_comma(x: float) -> str:
    return f"{x:.2f}".replace(".", ",")


def write_press_freedom(world: World, raw: Path, rng: np.random.Generator) -> list[Path]:
    """RSF's per-edition CSV: ';'-separated, decimal commas, UTF-8 with BOM, higher = freer.

    Edition N describes year N-1. Two editions are missing, as real archives have gaps.
    """
    out = []
    exists = _exists(world)
    for j, year in enumerate(world.years[1:], start=1):
        if year in MISSING_RSF_EDITIONS:
            continue
        d = world.drivers["press_repression"][:, j - 1]
        score = np.clip(62 - 11 * d - 3 * world.governance[:, j - 1] + rng.normal(0, 3.5, len(d)), 5, 98)
        safety = np.clip(rng.normal(65, 15, len(d)), 2, 99)
        political = np.clip(score + rng.normal(0, 6, len(d)), 1, 99)
        rows = []
        keep = np.flatnonzero(exists[:, j - 1])
        ranks = pd.Series(-score[keep]).rank(method="min").astype(int).to_numpy()
        for r, i in zip(ranks, keep, strict=True):
            rows.append(";".join([world.codes[i], _decimal_comma(score[i]), str(r), _decimal_comma(political[i]),
                                  _decimal_comma(safety[i]), REGIONS[world.region[i]],
                                  synthetic_name(world.codes[i]), str(year)]))
        path = raw / "rsf_wpfi" / f"rsf_{year}.csv"
        header = "ISO;Score;Rank;Political Context;Safety;Zone;Country_EN;Year (N)"
        with atomic_path(path) as tmp:
            tmp.write_text("\ufeff" + header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
        out.append(path)
    return out


def _write_titled_xlsx(path: Path, sheets: dict[str, pd.DataFrame], title_rows: int) -> None:
    with atomic_path(path) as tmp:
        with pd.ExcelWriter(tmp, engine="openpyxl") as xl:
            for sheet, frame in sheets.items():
                frame.to_excel(xl, sheet_name=sheet, index=False, startrow=title_rows)
                if title_rows:
                    ws = xl.sheets[sheet]
                    ws.cell(row=1, column=1, value=f"{sheet} (synthetic world; fictional countries)")
                    ws.cell(row=2, column=1, value="Generated by nexus world; not real data")


def write_governance(world: World, raw: Path, rng: np.random.Generator) -> tuple[Path, dict[str, np.ndarray]]:
    """The six governance estimates in the World Bank's long format, '..' for missing.

    No 2001 estimates (as in the real series); the year y estimate is published in y+1.
    """
    n, t = world.tier.shape
    exists = _exists(world)
    gov = world.governance
    est = {
        "cc": -0.75 * world.drivers["administrative_corruption"] - 0.25 * gov,
        "rl": -0.6 * gov + rng.normal(0, 0.3, (n, t)),
        "ge": -0.7 * gov + rng.normal(0, 0.3, (n, t)),
        "rq": -0.6 * gov + rng.normal(0, 0.35, (n, t)),
        "va": -0.5 * gov + rng.normal(0, 0.4, (n, t)),
        "pv": rng.normal(0, 0.9, (n, t)),
    }
    est = {k: np.clip(v + rng.normal(0, 0.12, (n, t)), -2.5, 2.5) for k, v in est.items()}
    records = []
    for ind, values in est.items():
        for j, year in enumerate(world.years):
            if year == world.years[0] + 1:
                continue
            for i in range(n):
                if not exists[i, j]:
                    continue
                missing = rng.random() < 0.03
                v = ".." if missing else round(float(values[i, j]), 4)
                records.append((f"{world.codes[i]}{ind}{year}", world.codes[i], synthetic_name(world.codes[i]),
                                int(year), ind, v, ".." if missing else 0.2, ".." if missing else 6,
                                ".." if missing else 50.0, "..", ".."))
    frame = pd.DataFrame(records, columns=["codeindyr", "code", "countryname", "year", "indicator", "estimate",
                                           "stddev", "nsource", "pctrank", "pctranklower", "pctrankupper"])
    for c in ["estimate", "stddev", "nsource", "pctrank", "pctranklower", "pctrankupper"]:
        frame[c] = frame[c].astype(object)
    path = raw / "wb_wgi" / "wgidataset.xlsx"
    _write_titled_xlsx(path, {"Sheet1": frame}, title_rows=0)
    return path, est


def write_judicial(world: World, raw: Path, rng: np.random.Generator) -> tuple[Path, np.ndarray]:
    """The rule-of-law index's historical sheet: scores 0–1, some editions span two years.

    Coverage grows edition by edition, so many countries enter late.
    """
    n, t = world.tier.shape
    exists = _exists(world)
    covered_from = rng.choice(len(WJP_EDITIONS), n, p=np.r_[0.45, np.full(len(WJP_EDITIONS) - 1, 0.55 / 10)])
    year_index = {int(y): j for j, y in enumerate(world.years)}
    crim = np.clip(0.55 - 0.12 * world.drivers["judicial_weakness"] + rng.normal(0, 0.03, (n, t)), 0.05, 0.97)
    absence = np.clip(0.55 - 0.1 * world.governance + rng.normal(0, 0.04, (n, t)), 0.05, 0.97)
    overall = np.clip(0.5 * crim + 0.5 * absence + rng.normal(0, 0.02, (n, t)), 0.05, 0.97)
    rows = []
    for e, edition in enumerate(WJP_EDITIONS):
        year = int(edition[-4:])
        if year not in year_index:
            continue
        j = year_index[year]
        for i in np.flatnonzero((covered_from <= e) & exists[:, j]):
            name = synthetic_name(world.codes[i])
            rows.append({"Country": name, "Year": edition, "Country_year": f"{name}_{edition}",
                         "Country Code": world.codes[i], "Region": REGIONS[world.region[i]],
                         "WJP Rule of Law Index: Overall Score": round(float(overall[i, j]), 4),
                         "Factor 2: Absence of Corruption": round(float(absence[i, j]), 4),
                         "8.5 Criminal system is free of corruption": round(float(crim[i, j]), 4)})
    path = raw / "wjp_roli" / "wjp_rule_of_law_index_HISTORICAL_DATA_FILE.xlsx"
    intro = pd.DataFrame({"About": ["Synthetic rule-of-law index written by nexus world"]})
    with atomic_path(path) as tmp:
        with pd.ExcelWriter(tmp, engine="openpyxl") as xl:
            intro.to_excel(xl, sheet_name="Introduction", index=False)
            pd.DataFrame(rows).to_excel(xl, sheet_name="Historical Data", index=False)
    return path, absence


def write_cpi(world: World, raw: Path, rng: np.random.Generator, wgi: dict[str, np.ndarray],
              wjp_absence: np.ndarray) -> Path:
    """The perceptions index workbook (title rows above the table), built from two other indices.

    Like the real index, it aggregates other sources: here the governance control-of-corruption
    estimate and the rule-of-law absence-of-corruption factor, plus its own survey noise.
    """
    n, t = world.tier.shape
    exists = _exists(world)
    score = np.clip(50 - 11 * wgi["cc"] + 30 * (wjp_absence - 0.55) + rng.normal(0, 4, (n, t)), 0, 100)
    rows = []
    for j, year in enumerate(world.years):
        for i in np.flatnonzero(exists[:, j] & (rng.random(n) > 0.05)):
            rows.append({"Country / Territory": synthetic_name(world.codes[i]), "ISO3": world.codes[i],
                         "Year": int(year), "Region": REGIONS[world.region[i]], "CPI score": int(round(score[i, j])),
                         "Standard error": round(float(rng.uniform(1.5, 4.5)), 2),
                         "Number of sources": int(rng.integers(3, 10))})
    path = raw / "ti_cpi" / "CPI_Global_Results__Trends.xlsx"
    _write_titled_xlsx(path, {"CPI Historical (internal)": pd.DataFrame(rows)}, title_rows=3)
    return path


def write_population(world: World, raw: Path) -> Path:
    """Population in the World Bank's long CSV (Country Name, Country Code, Year, Value)."""
    exists = _exists(world)
    i, j = np.nonzero(exists)
    frame = pd.DataFrame({"Country Name": [synthetic_name(world.codes[k]) for k in i],
                          "Country Code": [world.codes[k] for k in i], "Year": world.years[j],
                          "Value": np.round(world.population[i, j]).astype(np.int64)})
    path = raw / "wb_wdi" / "population.csv"
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    return path


def write_crossings(world: World, raw: Path, rng: np.random.Generator, events_per_cy: int) -> list[Path]:
    """Event-level border-crossing records: one CSV per year of (date, nationality, route, count, sex, age group).

    Crossings per capita of a nationality rise with its migration pressure; the share of
    minors is noise; the female share carries a weak echo of the same driver.
    """
    n, t = world.tier.shape
    exists = _exists(world)
    routes = np.array(["land-north", "land-south", "sea-east", "sea-west", "air"])
    out = []
    for j, year in enumerate(world.years):
        rate = np.exp(3.2 + 0.55 * world.drivers["migration_pressure"][:, j])  # per 100k
        expected_total = rate * world.population[:, j] / 1e5
        rows_i = np.repeat(np.flatnonzero(exists[:, j]), events_per_cy)
        k = len(rows_i)
        weights = rng.gamma(2.0, 1.0, k)
        per_country = np.bincount(rows_i, weights=weights, minlength=n)
        counts = rng.poisson(expected_total[rows_i] * weights / per_country[rows_i]) + 1
        p_female = 1 / (1 + np.exp(-(-0.4 + 0.25 * world.drivers["migration_pressure"][rows_i, j])))
        sex = np.where(rng.random(k) < p_female, "F", "M")
        age = rng.choice(["0-17", "18-34", "35-54", "55+"], k, p=[0.15, 0.5, 0.28, 0.07])
        day = rng.integers(0, 365, k)
        dates = (np.datetime64(f"{year}-01-01") + day.astype("timedelta64[D]")).astype(str)
        frame = pd.DataFrame({"date": dates, "nationality": [synthetic_name(world.codes[i]) for i in rows_i],
                              "route": rng.choice(routes, k), "count": counts, "sex": sex, "age_group": age})
        path = raw / "border_crossings" / f"crossings_{year}.csv"
        with atomic_path(path) as tmp:
            frame.sort_values("date", kind="stable").to_csv(tmp, index=False)
        out.append(path)
    return out


def write_procurement(world: World, raw: Path, rng: np.random.Generator, per_cy: int) -> Path:
    """OCDS compiled releases, one contracting process per JSON line.

    Procurement capture raises the chance that a tender draws a single bid; short tender
    periods carry a weaker echo of it. Fields follow OCDS 1.1 (buyer party, tender period,
    bids.details with statuses, awards with suppliers).
    """
    n, t = world.tier.shape
    exists = _exists(world)
    path = raw / "ocds" / "synthetic-world" / "compiled_releases.jsonl"
    methods = ["open", "selective", "limited"]
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for j, year in enumerate(world.years):
            capture = world.drivers["procurement_capture"][:, j]
            p_single = 1 / (1 + np.exp(-(-1.0 + 1.1 * capture)))
            p_short = 1 / (1 + np.exp(-(-1.8 + 0.35 * capture)))
            for i in np.flatnonzero(exists[:, j]):
                code, name = world.codes[i], synthetic_name(world.codes[i])
                single = rng.random(per_cy) < p_single[i]
                short = rng.random(per_cy) < p_short[i]
                n_bids = np.where(single, 1, rng.integers(2, 7, per_cy))
                starts = rng.integers(0, 330, per_cy)
                for p in range(per_cy):
                    start = dt.date(int(year), 1, 1) + dt.timedelta(days=int(starts[p]))
                    days = int(rng.integers(3, 15)) if short[p] else int(rng.integers(16, 60))
                    end = start + dt.timedelta(days=days)
                    buyer_id = f"{code}-B{int(rng.integers(1, 12)):02d}"
                    amounts = np.round(rng.lognormal(11, 1, n_bids[p]), 2)
                    bids = [{"id": f"b{b}", "status": "valid", "tenderers": [{"id": f"{code}-S{int(rng.integers(1, 40)):03d}"}],
                             "value": {"amount": float(amounts[b]), "currency": "XTS"}} for b in range(n_bids[p])]
                    win = int(np.argmin(amounts))
                    release = {
                        "ocid": f"ocds-xsynth-{code}-{year}-{p:04d}", "id": "1", "date": f"{end.isoformat()}T00:00:00Z",
                        "tag": ["compiled"], "initiationType": "tender",
                        "parties": [{"id": buyer_id, "name": f"Ministry {buyer_id}", "roles": ["buyer"],
                                     "address": {"countryName": name}}],
                        "buyer": {"id": buyer_id, "name": f"Ministry {buyer_id}"},
                        "tender": {"id": f"T{p}", "status": "complete", "procurementMethod": methods[p % 3 if p % 5 else 0],
                                   "numberOfTenderers": int(n_bids[p]),
                                   "tenderPeriod": {"startDate": f"{start.isoformat()}T00:00:00Z",
                                                    "endDate": f"{end.isoformat()}T00:00:00Z"}},
                        "bids": {"details": bids},
                        "awards": [{"id": "a1", "status": "active", "value": bids[win]["value"],
                                    "suppliers": bids[win]["tenderers"]}],
                    }
                    f.write(json.dumps(release, separators=(",", ":")) + "\n")
    return path


def write_tiers(world: World, raw: Path) -> Path:
    """Annual tier placements by country name (report year), with a few special cases."""
    exists = _exists(world)
    rows = []
    for j, year in enumerate(world.years):
        for i in np.flatnonzero(exists[:, j]):
            tier = "Special Case" if world.special_case[i, j] else TIER_LABELS[world.tier[i, j]]
            rows.append((synthetic_name(world.codes[i]), int(year), tier, "synthetic"))
    frame = pd.DataFrame(rows, columns=["country", "report_year", "tier", "source_url"])
    path = raw / "us_state_tip" / "tier_placements.csv"
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    return path


def _ranked(world: World) -> np.ndarray:
    """Country-years with a tier placement: the country exists and is not a special case."""
    return _exists(world) & ~world.special_case


def _fit_logistic(X: np.ndarray, y: np.ndarray, ridge: float = 1e-3, max_iter: int = 100) -> np.ndarray:
    """Maximum-likelihood logistic regression (Newton's method, a tiny ridge so separation cannot diverge)."""
    X = np.column_stack([np.ones(len(X)), X])
    penalty = np.full(X.shape[1], ridge)
    penalty[0] = 0.0
    beta = np.zeros(X.shape[1])
    for _ in range(max_iter):
        p = 1 / (1 + np.exp(-X @ beta))
        gradient = X.T @ (y - p) - penalty * beta
        hessian = (X * (p * (1 - p))[:, None]).T @ X + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        beta += step
        if np.abs(step).max() < 1e-9:
            break
    return beta


def _predict_logistic(beta: np.ndarray, X: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-(beta[0] + X @ beta[1:])))


def _auc(y: np.ndarray, p: np.ndarray) -> float | None:
    """Area under the ROC curve by ranks (ties count half); None when one class is absent."""
    positives = int(y.sum())
    if positives == 0 or positives == len(y):
        return None
    ranks = rankdata(p)
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * (len(y) - positives)))


def _log_loss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


SIGNAL_LAGS = (1, 2)  # row t's published signals describe year t - 1, their lag-1 copies year t - 2


def oracle_skill(world: World) -> dict:
    """What the world's own latent state can tell about the tier h years ahead, per information set.

    Rows (i, t): country i placed at t and at t + h, t at least two years after the first year.
    Outcome: Watch List or Tier 3 at t + h. Three logistic regressions: "signals" on the five
    latent drivers at t − 1 and t − 2 (the noise-free content of row t's published signals);
    "tier" on the one-hot current tier (the 4-tier persistence rate model); "both" on the two
    together. Rolling origins as in the backtest: at origin T (ORACLE_ORIGINS, clipped to the
    world) each model is fitted on rows with t + h ≤ T and scores the rows of t = T; the figures
    pool every origin's scores.
    """
    ranked, years = _ranked(world), world.years
    first_row = max(SIGNAL_LAGS)
    out = {}
    for h in ORACLE_HORIZONS:
        i_all, j_all = np.nonzero(ranked[:, first_row:len(years) - h] & ranked[:, first_row + h:])
        j_all = j_all + first_row
        if len(j_all) == 0:
            continue
        tier_now = world.tier[i_all, j_all]
        y_all = (world.tier[i_all, j_all + h] >= 2).astype(float)
        signals = np.column_stack([world.drivers[d][i_all, j_all - lag]
                                   for lag in SIGNAL_LAGS for d in DRIVERS])
        onehot = np.column_stack([tier_now == k for k in range(1, len(TIER_LABELS))]).astype(float)
        designs = {"signals": signals, "tier": onehot, "both": np.column_stack([signals, onehot])}
        scores = {k: [] for k in designs}
        tested = []
        first_origin = max(ORACLE_ORIGINS[0], int(years[first_row]))
        for origin in range(first_origin, min(ORACLE_ORIGINS[1], int(years[-1]) - h) + 1):
            train = years[j_all] + h <= origin
            test = years[j_all] == origin
            if not test.any() or len(np.unique(y_all[train])) < 2:
                continue
            for name, X in designs.items():
                scores[name].append(_predict_logistic(_fit_logistic(X[train], y_all[train]), X[test]))
            tested.append(np.flatnonzero(test))
        if not tested:
            continue
        rows = np.concatenate(tested)
        y, candidate = y_all[rows], tier_now[rows] <= 1
        origins = [int(years[j_all[t[0]]]) for t in tested]
        figures = {"n_rows": int(len(rows)), "n_onsets": int(y[candidate].sum()), "origins": origins}
        for name, parts in scores.items():
            p = np.concatenate(parts)
            figures[name] = {"log_loss": round(_log_loss(y, p), 4), "auc": _rounded(_auc(y, p)),
                             "onset_auc": _rounded(_auc(y[candidate], p[candidate]))}
        # per-origin log loss, so a subset of origins (a holdout) can be pooled by n_rows
        figures["log_loss_by_origin"] = {
            str(o): {"n_rows": int(len(t))}
            | {name: round(_log_loss(y_all[t], scores[name][k]), 4) for name in scores}
            for k, (o, t) in enumerate(zip(origins, tested, strict=True))}
        out[str(h)] = figures
    return out


def _rounded(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def _share(flags: np.ndarray) -> float | None:
    return round(float(flags.mean()), 4) if flags.size else None


def tier_dynamics(world: World) -> dict:
    """Realised tier shares, churn, onset and exit rates, and how tier changes lag risk changes."""
    ranked = _ranked(world)
    pair = ranked[:, 1:] & ranked[:, :-1]
    before, after = world.tier[:, :-1][pair], world.tier[:, 1:][pair]
    unlisted, listed = before <= 1, before >= 2
    change = np.diff(world.tier, axis=1).astype(float)
    risk_change = np.diff(world.risk_logit, axis=1)
    lag_corr = {}
    for lag in (-1, 0, 1, 2, 3):  # tier change at t against risk change at t - lag (too few years: left out)
        j = np.arange(change.shape[1])
        ok = (j - lag >= 0) & (j - lag < change.shape[1])
        tier_part, risk_part = change[:, j[ok]], risk_change[:, j[ok] - lag]
        keep = pair[:, j[ok]]
        if keep.sum() > 2 and tier_part[keep].std() > 0:
            lag_corr[str(lag)] = round(float(np.corrcoef(tier_part[keep], risk_part[keep])[0, 1]), 4)
    shares = np.bincount(world.tier[ranked], minlength=len(TIER_LABELS)) / ranked.sum()
    return {
        "tier_shares": {label: round(float(x), 4) for label, x in zip(TIER_LABELS, shares, strict=True)},
        "churn": _share(before != after),
        "onset_rate": _share(after[unlisted] >= 2),
        "exit_rate": _share(after[listed] <= 1),
        "tier_change_vs_risk_change_correlation_by_lag": lag_corr,
    }


def planted_truth(world: World, seed: int) -> dict:
    return {
        "description": "Planted effects and placement dynamics of the synthetic world (nexus "
                       "features/synthetic.py). oracle_skill: for each horizon h, logistic regressions "
                       "fitted on the world's latent state at rolling origins " + f"{ORACLE_ORIGINS[0]}"
                       f"-{ORACLE_ORIGINS[1]} (fit on rows t with t + h <= origin, score rows t = origin, "
                       "pool the scores); rows are country-years placed at t and t + h; outcome Watch List "
                       "or Tier 3 at t + h; 'signals' = the five latent drivers at t-1 and t-2 (what row "
                       "t's published signals measure, without measurement noise), 'tier' = one-hot "
                       "current tier (the 4-tier persistence rate model), 'both' = the two together; "
                       "onset_auc is among rows currently Tier 1 or Tier 2; log_loss_by_origin pools "
                       "to the headline when weighted by n_rows.",
        "seed": seed,
        "label": "Tier 2 Watch List or Tier 3 (tier placement >= 2)",
        "placement": {
            "rule": "the report of year t judges assessment(t) = risk_logit(t - lag) + political standing; "
                    "the tier moves toward the tier the assessment implies (cuts) only once it is past "
                    "the cut, with P(move) = logistic(slope * (distance past cut - threshold of that cut)), "
                    "straight to the implied tier beyond jump_distance; otherwise last year's tier stays",
            "lag_years": PLACEMENT_LAG_YEARS, "cuts": list(TIER_CUTS),
            "move_thresholds": list(MOVE_THRESHOLDS),
            "move_slope": MOVE_SLOPE, "jump_distance": JUMP_DISTANCE, "surprise_rate": SURPRISE_RATE,
            "standing": STANDING,
        },
        "driver_effects_on_logit": DRIVER_EFFECTS,
        "driver_signals": DRIVER_SIGNALS,
        "feature_effects": {DRIVER_SIGNALS[k]: v for k, v in DRIVER_EFFECTS.items()}
        | {f: 0.0 for f in NOISE_SIGNALS},
        "noise_signals": list(NOISE_SIGNALS),
        "derived_signals": {k: list(v) for k, v in DERIVED_SIGNALS.items()},
        "lags_years": {"press_freedom": 1, "corruption_perceptions": 1, "governance_indicators": 1,
                       "judicial_metrics": 1, "border_crossings": 1, "procurement_signals": 1,
                       "tier_placements": 0},
        "missing_press_freedom_editions": list(MISSING_RSF_EDITIONS),
        "late_entrants": {c: int(y) for c, y in zip(world.codes, world.entry_year, strict=True)
                          if y > world.years[0]},
        "base_rate": round(float((world.tier >= 2)[_ranked(world)].mean()), 4),
        "tier_dynamics": tier_dynamics(world),
        "oracle_skill": oracle_skill(world),
    }


def write_world(raw: Path, seed: int, n_countries: int, first_year: int, last_year: int,
                crossing_events_per_country_year: int, processes_per_country_year: int,
                progress=None, *, scale: int = 1, court_cases_per_country_year: int = 10,
                press_incidents_per_country_year: int = 6) -> dict[str, list[Path]]:
    """Write every raw file of the synthetic world under `raw`; return them by source folder.

    `scale` > 1 writes the event tables of features/synthetic_events.py instead of the two
    small event files (same world, volumes × scale, plus court cases and press incidents).
    """
    raw = Path(raw)
    world = simulate(seed, n_countries, first_year, last_year)
    rng = np.random.default_rng(seed + 1)
    step = progress or (lambda msg: None)
    files: dict[str, list[Path]] = {}
    step("press freedom editions")
    files["rsf_wpfi"] = write_press_freedom(world, raw, rng)
    step("governance indicators")
    wgi_path, wgi = write_governance(world, raw, rng)
    files["wb_wgi"] = [wgi_path]
    step("rule-of-law index")
    wjp_path, absence = write_judicial(world, raw, rng)
    files["wjp_roli"] = [wjp_path]
    step("corruption perceptions index")
    files["ti_cpi"] = [write_cpi(world, raw, rng, wgi, absence)]
    step("population")
    files["wb_wdi"] = [write_population(world, raw)]
    from features import synthetic_events as events

    events.remove_stale(raw, scale)
    if scale == 1:
        step("border-crossing events")
        files["border_crossings"] = write_crossings(world, raw, rng, crossing_events_per_country_year)
        step("procurement (OCDS)")
        files["ocds"] = [write_procurement(world, raw, rng, processes_per_country_year)]
    else:
        volumes = events.EventVolumes(processes_per_country_year, crossing_events_per_country_year,
                                      court_cases_per_country_year, press_incidents_per_country_year)
        files |= events.write_event_tables(world, raw, seed, volumes.times(scale), progress=step, scale=scale)
    step("tier placements")
    files["us_state_tip"] = [write_tiers(world, raw)]
    atomic_write_text(raw / "planted_truth.json", json.dumps(planted_truth(world, seed), indent=2))
    return files
