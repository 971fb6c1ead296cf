"""The registry of feature sources: one module per publisher, declared facts beside the reader.

A source declares what a reader of its docstring needs to trust a number: the columns it
yields with their plausible ranges and units, when each value became public (its publication
calendar, features/calendar.py: a constant lag or per-edition dates, and a staleness limit),
which signal family it belongs to, and which other sources the publisher builds it from
(lineage), so an analyst can drop self-reinforcing indices.

Every builder is called as `build(files, context)`: the matched files per role and the
build's context (features/build_context.py: bad-input policy and report, task executor).
A builder may add the text column `RESOLVED` to its rows: a conflict between files that the
source's declared precedence settled for that row; `nexus sources` lists them. It may add
`REGION`: the region the publisher groups the country in (the panel keeps the last one read).
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from features.build_context import BuildContext
from features.calendar import Calendar, constant

GLOB_CHARS = set("*?[")  # a raw_globs pattern with none of these names one file

KEYS = ["iso3", "year"]  # every source frame and the panel are one row per country-year
FAMILIES = ("press", "border", "judicial", "procurement", "governance", "controls", "label")
RESOLVED = "_resolved"  # optional builder column: how a declared precedence settled a conflict on that row
REGION = "_region"  # optional builder column: the region the publisher groups the country in
Builder = Callable[[Mapping[str, list[Path]], BuildContext], pd.DataFrame]


@dataclass(frozen=True)
class Column:
    """One output column: plausible range, unit, and what it measures."""

    low: float
    high: float
    unit: str
    description: str


@dataclass(frozen=True)
class Download:
    """One raw file a source reads: where `nexus data fetch` gets it and how to tell it is the right file."""

    target: str  # path under the raw folder (matched by one of the source's globs)
    publisher: str
    url: str | None  # official address; None: no stable address (see `by_hand`)
    sha256: str  # the vintage documented in SOURCES.md
    pinned: bool = False  # the address serves exactly that vintage: a mismatch is refused
    header: tuple[str, ...] = ()  # CSV: columns one of the first lines must name
    member: str | None = None  # the address returns a zip: the file inside it (glob)
    by_hand: str = ""


@dataclass(frozen=True)
class FeatureSource:
    """A registered source: declared facts plus `build(files, context) -> DataFrame[iso3, year, *columns]`.

    `raw_globs` maps a role to a glob under the raw folder; `build` receives the matched
    files per role, sorted, and the build's context. `calendar` says when a value describing
    year y became public and how long it may be carried (features/calendar.py);
    `available_after_years` is its constant lag. `lineage` names the other sources (by registry
    name or publisher index name) the publisher builds this one from. `downloads` are the
    publisher's addresses of the raw files, each matched by one of `raw_globs` (features/fetch.py).
    `label_construct` names the columns that measure the label's own subject (forced labour,
    trafficking): they stay in the panel (for other targets, the measurement map) but are never
    a default feature (the catalog marks them; training.selection leaves them out).
    """

    name: str
    family: str
    publisher: str
    raw_globs: Mapping[str, str]
    columns: Mapping[str, Column]
    calendar: Calendar
    build: Builder
    lineage: tuple[str, ...] = ()
    optional_roles: tuple[str, ...] = ()
    downloads: tuple[Download, ...] = ()
    description: str = field(default="", compare=False)
    label_construct: tuple[str, ...] = ()

    @property
    def available_after_years(self) -> int:
        """The constant lag (what the synthetic world writes; per-edition dates may differ)."""
        return self.calendar.lag_years

    def find_files(self, raw_root: Path) -> dict[str, list[Path]]:
        """The raw files of each role under `raw_root`, sorted; a required role with none is an error."""
        from nexus.errors import SourceDataError

        found: dict[str, list[Path]] = {}
        for role, pattern in self.raw_globs.items():
            exact = raw_root / pattern
            matches = (sorted(raw_root.glob(pattern)) if GLOB_CHARS & set(pattern)
                       else [exact] if exact.is_symlink() or exact.exists() else [])
            for p in matches:  # a link to nowhere or a folder in a file's place is named, not skipped
                if p.is_symlink() and not p.exists():
                    raise SourceDataError(p, None, f"broken symbolic link to {os.readlink(p)} "
                                                   "(the file it named is gone)")
                if p.is_dir():
                    raise SourceDataError(p, None, "is a directory, not a file")
            files = [p for p in matches if p.is_file()]
            if not files and role not in self.optional_roles:
                raise SourceDataError(raw_root / pattern, None,
                                      f"source {self.name!r} found no file for {role!r}")
            found[role] = files
        return found


_SOURCES: dict[str, FeatureSource] = {}


def register_source(*, name: str, family: str, publisher: str, raw_globs: Mapping[str, str],
                    columns: Mapping[str, Column], available_after_years: int | None = None,
                    calendar: Calendar | None = None,
                    lineage: tuple[str, ...] = (), optional_roles: tuple[str, ...] = (),
                    downloads: tuple[Download, ...] = (), label_construct: tuple[str, ...] = (),
                    description: str | None = None):
    """Decorator registering a source's `build` function under `name` (duplicates refused).

    `description` defaults to the docstring of the builder's module (a YAML source gives its own).

    Give `calendar=`, or `available_after_years=k` alone for a constant lag carried one more
    year (features.calendar.constant), not both.
    """
    if family not in FAMILIES:
        raise ValueError(f"source {name!r}: family {family!r} is not one of {FAMILIES}")
    if (calendar is None) == (available_after_years is None):
        raise ValueError(f"source {name!r}: declare either calendar= or available_after_years=, exactly one")
    calendar = calendar if calendar is not None else constant(available_after_years)
    unknown = [c for c in label_construct if c not in columns]
    if unknown:
        raise ValueError(f"source {name!r}: label_construct names {unknown[0]!r}, which is not one of its columns")
    for d in downloads:
        if not any(fnmatch.fnmatch(d.target, pattern) for pattern in raw_globs.values()):
            raise ValueError(f"source {name!r}: download {d.target!r} matches none of its raw_globs")

    def decorate(build: Builder):
        if name in _SOURCES:
            raise ValueError(f"feature source {name!r} is registered twice")
        _SOURCES[name] = FeatureSource(
            name=name, family=family, publisher=publisher, raw_globs=dict(raw_globs),
            columns=dict(columns), calendar=calendar, build=build,
            lineage=tuple(lineage), optional_roles=tuple(optional_roles), downloads=tuple(downloads),
            description=description if description is not None else
            (build.__module__ and __import__(build.__module__, fromlist=["_"]).__doc__ or "").strip(),
            label_construct=tuple(label_construct),
        )
        return build

    return decorate


def _load() -> None:
    import features.sources  # noqa: F401  (the explicit import list registers every source)
    from features.sources._yaml_sources import PACKAGED, load_folder

    load_folder(PACKAGED, _SOURCES)  # the sources declared in YAML beside them (docs/sources.md)


def get_source(name: str) -> FeatureSource:
    _load()
    try:
        return _SOURCES[name]
    except KeyError:
        raise KeyError(f"unknown feature source {name!r}; known: {sorted(_SOURCES)}") from None


def list_sources() -> list[FeatureSource]:
    _load()
    return [_SOURCES[k] for k in sorted(_SOURCES)]
