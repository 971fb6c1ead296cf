"""Publication calendars: when each edition of a source became public, so a panel row holds only what was.

A panel row (iso3, t) holds what was public by 31 December of t. A source declares one
`Calendar` beside its reader:

- `lag_years`: a value describing year y is public from y + lag on. That is the whole
  declaration where the publisher keeps a steady rhythm (WDI, WGI, the CPI), and it is the
  rhythm the synthetic world writes every file on.
- `editions`: where editions appeared irregularly (GLOTIP 2–4 years after the data year, WJP's
  two-year editions, the biennial OC Index, the TIP report), the date each data year was first
  published: `{data_year: "YYYY-MM-DD"}`, one short comment per date in the source module saying
  which edition and where the date comes from. With `features.calendar: editions` (the real
  profile) these dates decide; `constant_lag` (the synthetic world) uses `lag_years` everywhere.
- `max_age_years`: staleness. A value describing year y is missing at row t when t − y exceeds
  it; a stopped series is never carried further.

In `editions` mode the declaration and the files must match: a data year in the files without a
date, or a date for a data year the files do not hold, is refused naming the source and edition.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from nexus.errors import ConfigError

MODES = ("editions", "constant_lag")
DEFAULT_CARRY_YEARS = 1  # `available_after_years=k` alone means: public from y + k, carried one year more


@dataclass(frozen=True)
class Calendar:
    """When a source's values became public (see the module docstring); frozen, checked on creation."""

    lag_years: int
    max_age_years: int
    editions: Mapping[int, str] = field(default_factory=dict)

    def __post_init__(self):
        if self.lag_years < 0:
            raise ValueError(f"lag_years must be >= 0, not {self.lag_years}")
        if self.max_age_years < self.lag_years:
            raise ValueError(f"max_age_years ({self.max_age_years}) below lag_years ({self.lag_years}): "
                             "no value would ever be usable")
        parsed = {}
        for year, when in dict(self.editions).items():
            try:
                parsed[int(year)] = date.fromisoformat(when)
            except (TypeError, ValueError):
                raise ValueError(f"edition {year}: {when!r} is not a YYYY-MM-DD date") from None
        ordered = sorted(parsed.items())
        for (y0, d0), (y1, d1) in zip(ordered, ordered[1:], strict=False):
            if d1 < d0:  # the panel takes the newest data year published; it must also be the latest date
                raise ValueError(f"edition {y1} published {d1} before edition {y0} ({d0})")
        object.__setattr__(self, "editions", {y: d.isoformat() for y, d in ordered})
        object.__setattr__(self, "_dates", parsed)

    @property
    def has_editions(self) -> bool:
        return bool(self.editions)

    def uses_editions(self, mode: str) -> bool:
        if mode not in MODES:
            raise ValueError(f"calendar mode {mode!r} is not one of {MODES}")
        return mode == "editions" and self.has_editions

    def published_year(self, data_years: Iterable[int], mode: str) -> np.ndarray:
        """The year by whose end each data year's value was public (int64; editions must be checked first)."""
        years = np.asarray(list(data_years) if not isinstance(data_years, np.ndarray) else data_years, dtype="int64")
        if not self.uses_editions(mode):
            return years + self.lag_years
        by_year = {y: d.year for y, d in self._dates.items()}
        return np.array([by_year[int(y)] for y in years], dtype="int64")

    def check(self, source: str, data_years: Iterable[int], mode: str) -> None:
        """Refuse a data year without a declared date, or a declared date for a data year not in the files."""
        if not self.uses_editions(mode):
            return
        present = {int(y) for y in data_years}
        where = f"features/sources/{source}.py"
        undeclared = sorted(present - set(self.editions))
        if undeclared:
            raise ConfigError(where, f"calendar.editions.{undeclared[0]}",
                              f"source {source!r}: its files hold edition (data year) {undeclared[0]}, "
                              "which has no declared publication date")
        absent = sorted(set(self.editions) - present)
        if absent:
            raise ConfigError(where, f"calendar.editions.{absent[0]}",
                              f"source {source!r}: edition (data year) {absent[0]} is declared "
                              f"(published {self.editions[absent[0]]}) but its files hold no data for it")

    def describe(self, mode: str) -> str:
        """One line for `nexus sources` and the catalog."""
        stale = f"missing once older than {self.max_age_years}y"
        if not self.uses_editions(mode):
            return f"public from data year + {self.lag_years}y; {stale}"
        dates = ", ".join(f"{y}→{d}" for y, d in self.editions.items())
        return f"per edition (lag {self.lag_label(mode)}y): {dates}; {stale}"

    def lag_label(self, mode: str) -> int | str:
        """The catalog's `lag_years`: the constant lag, or "a–b" years when per-edition dates decide."""
        if not self.uses_editions(mode):
            return self.lag_years
        lags = [d.year - y for y, d in self._dates.items()]
        return f"{min(lags)}–{max(lags)}" if min(lags) != max(lags) else min(lags)

    def as_dict(self, mode: str) -> dict:
        return {"mode": "editions" if self.uses_editions(mode) else "constant_lag", "lag_years": self.lag_years,
                "max_age_years": self.max_age_years, "editions": {str(y): d for y, d in self.editions.items()}}


def constant(lag_years: int) -> Calendar:
    """The calendar `available_after_years=lag` stood for: public from y + lag, carried one year more."""
    return Calendar(lag_years=lag_years, max_age_years=lag_years + DEFAULT_CARRY_YEARS)


def latest_published(frame: pd.DataFrame, grid: pd.DataFrame, columns: list[str], published_year: np.ndarray,
                     max_age_years: int, *, years_back: int = 0) -> pd.DataFrame:
    """For each grid (iso3, t): the source row with the greatest data year public by the end of t − years_back,
    missing when that row is older than `max_age_years` at t − years_back.

    Returns the grid's order with `columns`, `data_year` and `published_year`.
    """
    keys = ["iso3", "year"]
    left = grid[keys].assign(_t=(grid["year"] - years_back).astype("int64")).sort_values("_t", kind="stable")
    right = frame[["iso3", *columns]].assign(_t=np.asarray(published_year, dtype="int64"),
                                            data_year=frame["year"].astype("int64").to_numpy())
    right = right.assign(published_year=right["_t"]).sort_values(["_t", "data_year"], kind="stable")
    merged = pd.merge_asof(left, right, on="_t", by="iso3", direction="backward")
    stale = (merged["_t"] - merged["data_year"]) > max_age_years
    merged.loc[stale, [*columns, "data_year", "published_year"]] = np.nan
    out = merged.drop(columns="_t").set_index(keys)
    return out.reindex(pd.MultiIndex.from_frame(grid[keys]))
