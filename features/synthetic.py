"""The embedded default: a seeded synthetic world written in the real publishers' file formats.

Fictional countries on ISO user-assigned codes (XAA…) so nobody mistakes a score for a
real one. A latent process drives every file: a shared governance factor and five
country-level drivers that evolve as AR(1) series. The label (tier placement) depends on
the drivers through *planted effects of known size*; each driver surfaces in one proxy
signal with measurement noise, some signals are pure noise, and the corruption
perceptions index is built partly from two other indices, as real composite indices are.
Countries enter late, editions go missing, and each publisher has its own lag, so the
builders meet the same problems as on real files. `planted_truth.json` records it all.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from nexus.countries import synthetic_codes, synthetic_name
from nexus.manifest import atomic_path, atomic_write_text

REGIONS = ("Northern Reach", "Southern Belt", "Eastern Isles", "Western Plains", "Central Steppe")
DRIVERS = ("procurement_capture", "migration_pressure", "judicial_weakness", "press_repression",
           "administrative_corruption")
# Effect of each driver (per standard deviation) on the logit of "Tier 2 Watch List or Tier 3".
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
    risk_logit: np.ndarray        # (n, T)
    tier: np.ndarray              # (n, T) 0..3
    special_case: np.ndarray      # (n, T) bool


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
    # Tiers are ordinal cuts of the risk; "Tier 2 Watch List or Tier 3" is logit > 0.
    tier = np.digitize(logit, [-1.6, 0.0, 1.3])
    special_case = rng.random((n, t)) < 0.006
    population = np.exp(rng.normal(15.5, 1.3, n))[:, None] * np.cumprod(
        1 + rng.normal(0.012, 0.004, (n, t)), axis=1)
    return World(codes, years, region, entry_year, population, drivers, governance, logit, tier,
                 special_case)


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


def planted_truth(world: World, seed: int) -> dict:
    return {
        "description": "Planted effects of the synthetic world (nexus features/synthetic.py).",
        "seed": seed,
        "label": "Tier 2 Watch List or Tier 3 <=> risk_logit > 0",
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
        "base_rate": float((world.tier >= 2)[_exists(world)].mean()),
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
