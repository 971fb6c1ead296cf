"""Sources declared in one YAML file each: the packaged ones in features/sources/, and `features.source_dirs`.

An analyst adds a proxy source without writing Python (docs/sources.md): the declaration
(features/sources/_yaml_schema.py) names the files, how to read them, the country and year columns,
the value columns with their ranges, the family, the publication calendar and the lineage.
Each file becomes a FeatureSource registered through `register_source`, so it is validated,
listed by `nexus sources` and built into the panel like a Python source.

Every problem is one line naming the YAML file: an unknown or missing key, or a lineage edge
to a source that does not exist, when the folder is loaded (ConfigError, with the dotted key);
a declared column the file lacks, or a value outside its declared range, when the source is
built (SourceDataError naming the data file, its row, and the YAML key).
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from pydantic import ValidationError

from features.build_context import BuildContext
from features.calendar import Calendar
from features.readers import FILE, ROW, iso3_from_codes, iso3_from_names, read_table, to_number, to_year
from features.registry import Column, Download, register_source
from features.sources._yaml_schema import Declaration
from nexus.errors import ConfigError, SourceDataError

PACKAGED = Path(__file__).parent  # features/sources/*.yaml, shipped as package data
_loaded: set[Path] = set()  # folders whose declarations are registered


@dataclass(frozen=True)
class DeclaredCalendar(Calendar):
    """A calendar whose edition check names the YAML file it was declared in, not a Python module."""

    declared_in: str = field(default="", compare=False)

    def check(self, source: str, data_years: Iterable[int], mode: str) -> None:
        try:
            super().check(source, data_years, mode)
        except ConfigError as exc:
            raise ConfigError(self.declared_in, exc.key, exc.problem) from None


def declaration_files(source_dirs: Iterable[Path] = ()) -> list[Path]:
    """The packaged YAML declarations and those in `source_dirs` (hashed into the panel's cache key)."""
    return [p for folder in (PACKAGED, *source_dirs) for p in sorted(Path(folder).glob("*.yaml"))]


def load_folder(folder: Path, known: Collection[str]) -> None:
    """Register every `*.yaml` in `folder` once; nothing is registered unless all of them are valid.

    `known` are the names already registered: a lineage edge must name one of them or a
    source declared in this folder.
    """
    folder = Path(folder).resolve()
    if folder in _loaded:
        return
    if not folder.is_dir():
        raise ConfigError("params", "features.source_dirs", f"{folder} is not a folder")
    paths = sorted(folder.glob("*.yaml"))
    declared = {path: read_declaration(path) for path in paths}
    names = {path.stem for path in paths}
    for path, decl in declared.items():
        if path.stem in known:
            raise ConfigError(path, "", f"source {path.stem!r} is already registered (rename the file)")
        for i, edge in enumerate(decl.lineage):
            if edge not in known and edge not in names:
                close = difflib.get_close_matches(edge, sorted({*known, *names}), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else " (`nexus sources` lists them)"
                raise ConfigError(path, f"lineage[{i}]", f"{edge!r} is not a registered source{hint}; "
                                  "an input nexus has no source for belongs under lineage_external")
        for i, d in enumerate(decl.downloads):
            if not any(fnmatch.fnmatch(d.target, glob) for glob in decl.files.values()):
                raise ConfigError(path, f"downloads[{i}].target",
                                  f"{d.target!r} matches none of the globs under files")
    for path, decl in declared.items():
        register(path, decl)
    _loaded.add(folder)


def load_source_dirs(dirs: Iterable[Path]) -> None:
    """Register the declarations in the params' `features.source_dirs` (after the packaged sources)."""
    from features.registry import list_sources

    for folder in dirs:
        load_folder(folder, {s.name for s in list_sources()})


def read_declaration(path: Path) -> Declaration:
    """Parse and validate one YAML file; any problem is one ConfigError naming the file and the key."""
    try:
        tree = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(path, f"line {mark.line + 1}" if mark else "",
                          f"not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(tree, dict):
        raise ConfigError(path, "", "expected a mapping of keys (description, family, files, …)")
    try:
        return Declaration.model_validate(tree)
    except ValidationError as exc:
        errors = exc.errors()
        err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])  # a typo first
        key = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            valid = _valid_keys(err["loc"])
            close = difflib.get_close_matches(str(err["loc"][-1]), valid, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(path, key, f"unknown key{hint} (valid here: {', '.join(valid)})") from None
        if err["type"] == "missing":
            raise ConfigError(path, key, "required key is missing") from None
        got = err.get("input")
        shown = "" if isinstance(got, dict | list) else f" (got {got!r})"
        raise ConfigError(path, key, f"{err['msg'].removeprefix('Value error, ')}{shown}") from None


def _valid_keys(loc: tuple) -> list[str]:
    """The keys allowed beside an unknown one, walking the schema along its location."""
    model = Declaration
    for part in loc[:-1]:
        info = model.model_fields.get(str(part))
        annotation = getattr(info, "annotation", None)
        if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
            model = annotation
        elif hasattr(annotation, "__args__"):  # dict[str, ValueColumn]: the key is a column name
            inner = [a for a in annotation.__args__ if hasattr(a, "model_fields")]
            model = inner[0] if inner else model
    return sorted(model.model_fields)


def register(path: Path, decl: Declaration) -> None:
    """Register one validated declaration under its file's stem."""
    cal = decl.calendar  # checked by the schema: it holds
    calendar = DeclaredCalendar(lag_years=cal.lag_years, max_age_years=cal.max_age, declared_in=str(path),
                                editions={year: when.isoformat() for year, when in cal.editions.items()})
    downloads = tuple(Download(d.target, d.publisher, d.url, d.sha256, pinned=d.pinned,
                               header=tuple(d.header), member=d.member, by_hand=d.by_hand)
                      for d in decl.downloads)
    columns = {name: Column(c.range[0], c.range[1], c.unit, c.description)
               for name, c in decl.columns.items()}
    try:
        register_source(name=path.stem, family=decl.family, publisher=decl.publisher,
                        raw_globs=dict(decl.files), columns=columns, calendar=calendar,
                        lineage=(*decl.lineage, *decl.lineage_external),
                        optional_roles=tuple(decl.optional_roles), downloads=downloads,
                        label_construct=tuple(decl.label_construct),
                        description=decl.description.strip())(Builder(path, decl))
    except ValueError as exc:  # the registry's own checks (already covered above; kept one line)
        raise ConfigError(path, "", str(exc)) from None


@dataclass(frozen=True)
class Builder:
    """`build(files, context)` for one declaration: read every matched file alike and stack the rows."""

    path: Path
    decl: Declaration

    def __call__(self, files: Mapping[str, list[Path]], context: BuildContext) -> pd.DataFrame:
        frames = [self.read(p) for role in self.decl.files for p in files.get(role, [])]
        if not frames:
            return pd.DataFrame(columns=["iso3", "year", ROW, FILE, *self.decl.columns])
        frame = pd.concat(frames, ignore_index=True)
        self.check_ranges(frame)
        return frame

    def read(self, path: Path) -> pd.DataFrame:
        decl, reader = self.decl, self.decl.reader
        raw = read_table(path, required=[], sep=reader.delimiter, encoding=reader.encoding,
                         header_row=reader.header_row, sheet=reader.sheet)
        self.check_columns(path, raw)
        for column, values in reader.skip_rows.items():
            raw = raw[~raw[column].astype("string").str.strip().isin(values).fillna(False)]
        country = decl.country
        if country.kind == "name":
            iso3 = iso3_from_names(raw, country.column, aggregates=country.aggregates)
        else:
            self.check_code_length(raw)
            iso3 = iso3_from_codes(raw, country.column, name_column=country.name_column,
                                   aggregates=country.aggregates)
        frame = pd.DataFrame({"iso3": iso3, "year": self.years(path, raw), ROW: raw[ROW], FILE: raw[FILE]})
        for name, spec in decl.columns.items():
            values = to_number(raw, spec.column, decimal=reader.decimal, thousands=reader.thousands,
                               missing=reader.missing)
            if spec.scale != 1:
                values = values * spec.scale
            frame[name] = values.round(spec.round) if spec.round is not None else values
        return frame[frame["iso3"].notna()]

    def years(self, path: Path, raw: pd.DataFrame) -> pd.Series | int:
        year = self.decl.year
        if year.column is not None:
            return to_year(raw, year.column) + year.offset
        found = re.search(year.from_file_name, path.name)
        if not found:
            raise SourceDataError(path, None, f"the file name does not match {year.from_file_name!r} "
                                  f"({self.path}: year.from_file_name)")
        return int(found.group(1)) + year.offset

    def check_columns(self, path: Path, raw: pd.DataFrame) -> None:
        """Every column the declaration names must be in the file; else name the data file, column and key."""
        decl = self.decl
        named = [("country.column", decl.country.column), ("country.name_column", decl.country.name_column),
                 ("year.column", decl.year.column),
                 *((f"reader.skip_rows.{c}", c) for c in decl.reader.skip_rows),
                 *((f"columns.{name}.column", spec.column) for name, spec in decl.columns.items())]
        for key, column in named:
            if column is not None and column not in raw.columns:
                found = ", ".join(c for c in raw.columns if c not in (ROW, FILE))
                raise SourceDataError(path, self.decl.reader.header_row,
                                      f"no column {column!r} ({self.path}: {key}; found: {found})")

    def check_code_length(self, raw: pd.DataFrame) -> None:
        kind = self.decl.country.kind
        codes = raw[self.decl.country.column].astype("string").str.strip()
        wrong = codes.notna() & (codes != "") & (codes.str.len() != int(kind[-1]))
        if wrong.any():
            i = int(np.flatnonzero(wrong.to_numpy())[0])
            column = self.decl.country.column
            raise SourceDataError(raw[FILE].iat[i], int(raw[ROW].iat[i]),
                                  f"{column}: {codes.iat[i]!r} is not an {kind.upper()} code "
                                  f"({self.path}: country.kind)")

    def check_ranges(self, frame: pd.DataFrame) -> None:
        """A value outside its declared range names the data file, row, column and value, and the YAML key."""
        for name, spec in self.decl.columns.items():
            low, high = spec.range
            outside = frame[name].notna() & ~frame[name].between(low, high)
            if outside.any():
                row = frame[outside].iloc[0]
                raise SourceDataError(row[FILE], int(row[ROW]),
                                      f"{name} = {row[name]} outside the plausible range [{low:g}, {high:g}] "
                                      f"({spec.unit}; {self.path}: columns.{name}.range)")
