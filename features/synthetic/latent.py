"""The latent state of the synthetic world: countries, a shared governance factor, five drivers.

Everything written to disk is a noisy view of this; `existing` and `placed` say which
country-years a file may describe.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.synthetic.tiers import PLACEMENT_STREAM, place_tiers
from nexus.countries import synthetic_codes

REGIONS = ("Northern Reach", "Southern Belt", "Eastern Isles", "Western Plains", "Central Steppe")
DRIVERS = ("procurement_capture", "migration_pressure", "judicial_weakness", "press_repression",
           "administrative_corruption")
# Effect of each driver (per standard deviation) on the latent risk logit; the placements
# follow that risk with a lag and inertia (see `place_tiers`).
DRIVER_EFFECTS = {"procurement_capture": 1.3, "migration_pressure": 1.0, "judicial_weakness": 0.7,
                  "press_repression": 0.45, "administrative_corruption": 0.3}


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


def existing(world: World) -> np.ndarray:
    """Country-years in which the country exists (it may enter late)."""
    return world.years[None, :] >= world.entry_year[:, None]


def placed(world: World) -> np.ndarray:
    """Country-years with a tier placement: the country exists and is not a special case."""
    return existing(world) & ~world.special_case
