"""What an aggregated panel value is: the operation, the rows it was made from, its denominator.

A value read from one row of a publisher's file is cited by that file and row
(`source_rows.parquet`, features/lineage.py). A value a builder computes from many rows (a
sum of event counts per 100,000 people, a share of contracting processes) appears in no
file, so citing its first row misleads. Such builders declare, per column, how the value is
made (`declare`), and leave beside each country-year the recorded ingredients in private
columns: how many rows, the first and last row, how many files, the numerator and
denominator, and for per-capita values the population row. The panel build turns these into
`value_origins.parquet` (one row per source value) and `contributing_rows.parquet` (one row
per raw row, for builders that read rows one by one; partition scans keep only the range);
the service reads them and never opens a raw file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

VALUE_ORIGINS = "value_origins.parquet"
CONTRIBUTING_ROWS = "contributing_rows.parquet"
# the private columns an aggregating builder leaves in its frame (FILE/ROW: first file and row)
N_ROWS, LAST_ROW, N_FILES = "_n_rows", "_last_row", "_n_files"
DENOM_FILE, DENOM_ROW = "_denom_file", "_denom_row"
ROW_LIST, ROW_VALUES = "_row_list", "_row_values"  # per country-year: every row number, and what it adds
# a partition scan's counters (features/event_tables.py), and the names a builder's frame gives them
SCANNED = ["_first_row", "_file", "_ok_rows", "_last_row"]
SCANNED_AS = {"_first_row": "_row", "_ok_rows": N_ROWS, "_last_row": LAST_ROW}
ORIGIN_COLUMNS = ["source", "feature", "iso3", "data_year", "operation", "of", "file", "row", "last_row",
                  "n_rows", "n_files", "numerator", "denominator", "scale", "denominator_file",
                  "denominator_row"]
ROWS_COLUMNS = ["source", "iso3", "data_year", "file", "row", "value"]


@dataclass(frozen=True)
class Aggregate:
    """How one column is made from many rows.

    `operation` in words a reviewer reads ("sum", "share", "mean", "median", "log ratio");
    `of` what is aggregated ("count", "processes"); `numerator`/`denominator` name the frame
    columns holding the recorded ingredients (value = numerator / denominator × scale);
    `per_capita`: the denominator is the population row in DENOM_FILE/DENOM_ROW;
    `cited_rows`: False when the frame's recorded rows are not this value's (court cases
    decided in a year come from every filing year's partition), so none are cited.
    """

    operation: str
    of: str = ""
    numerator: str | None = None
    denominator: str | None = None
    scale: float = 1.0
    per_capita: bool = False
    cited_rows: bool = True


_DECLARED: dict[str, dict[str, Aggregate]] = {}


def declare(source: str, columns: Mapping[str, Aggregate]) -> None:
    """Record how `source`'s aggregated columns are made (called by its builder module on import)."""
    _DECLARED[source] = dict(columns)


def declared(source: str) -> dict[str, Aggregate]:
    return _DECLARED.get(source, {})


def row_list_columns(events: pd.DataFrame, keys: list[str], row: str, value: str, file: str) -> pd.DataFrame:
    """Per group (indexed by `keys`): its rows' numbers and values as arrays, row count, last row, files.

    Sorted through integer codes (np.lexsort), not the frame: this runs on every build's events.
    """
    codes = [pd.factorize(events[k], sort=True)[0] for k in keys]
    known = np.logical_and.reduce([c >= 0 for c in codes])  # groupby leaves out missing keys too
    if not known.all():
        events, codes = events[known], [c[known] for c in codes]
    rows_all = events[row].to_numpy("int64")
    order = np.lexsort((rows_all, *reversed(codes)))
    group = np.ravel_multi_index([c[order] for c in codes], [int(c.max()) + 1 for c in codes])
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    rows = rows_all[order]
    index = pd.MultiIndex.from_frame(events[keys].iloc[order[starts]])
    values = events[value].to_numpy("float64")[order]
    out = pd.DataFrame({ROW_LIST: pd.Series(np.split(rows, starts[1:]), index=index, dtype=object),
                        ROW_VALUES: pd.Series(np.split(values, starts[1:]), index=index, dtype=object)},
                       index=index)
    out[N_ROWS] = np.diff(np.r_[starts, len(rows)])
    out[LAST_ROW] = rows[np.r_[starts[1:], len(rows)] - 1]
    files = pd.factorize(events[file])[0].astype("int64")[order]
    n_groups = np.cumsum(np.r_[True, group[1:] != group[:-1]]) - 1  # each sorted row's group number
    distinct = np.unique(n_groups * (files.max() + 1) + files) // (files.max() + 1)
    out[N_FILES] = np.bincount(distinct, minlength=len(starts))
    return out


def _relative(files: pd.Series, raw: Path) -> np.ndarray:
    """Paths relative to the raw folder (each distinct path worked out once)."""
    codes, uniques = pd.factorize(files, use_na_sentinel=False)
    prefix = str(Path(raw)) + "/"
    names = np.array([str(u).removeprefix(prefix) if isinstance(u, str) else None for u in uniques], object)
    return names[codes]


def _numbers(frame: pd.DataFrame, name: str | None) -> np.ndarray:
    """A recorded ingredient as floats; all missing when the frame has none."""
    if name is None or name not in frame:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[name], errors="coerce").to_numpy("float64", na_value=np.nan)


class _Labels:
    """A categorical column built from parts: each part's codes into one growing list of labels."""

    def __init__(self) -> None:
        self.index: dict = {}
        self.codes: list[np.ndarray] = []

    def code(self, label) -> int:
        return self.index.setdefault(label, len(self.index)) if label is not None else -1

    def constant(self, label, n: int) -> None:
        self.codes.append(np.full(n, self.code(label), np.int32))

    def values(self, labels: np.ndarray) -> None:
        codes, uniques = pd.factorize(labels, use_na_sentinel=True)
        mapped = np.array([self.code(u) for u in uniques] + [-1], np.int32)
        self.codes.append(mapped[codes])

    def categorical(self) -> pd.Categorical:
        return pd.Categorical.from_codes(np.concatenate(self.codes), categories=list(self.index))


def value_origins_table(frames: Mapping[str, pd.DataFrame], columns: Mapping[str, list[str]],
                        raw: Path, file_col: str, row_col: str) -> pd.DataFrame:
    """(source, feature, iso3, data_year) → operation, file, rows, ingredients; one row per stated value.

    Undeclared columns of a traced frame are single-row values ("row"); sources whose frames
    do not say where their rows came from are left out (the manifest lists them as untraced).
    Built from numpy arrays and category codes in one pass: it runs on every panel build.
    """
    labelled = ("source", "feature", "iso3", "operation", "of", "file", "denominator_file")
    labels = {c: _Labels() for c in labelled}
    numbers: dict[str, list] = {c: [] for c in ORIGIN_COLUMNS if c not in labels}
    for name, frame in frames.items():
        if file_col not in frame or row_col not in frame:
            continue
        ops = declared(name)
        n = len(frame)
        nothing, ones = np.full(n, np.nan), np.ones(n)
        iso3, files = frame["iso3"].astype(str).to_numpy(object), _relative(frame[file_col], raw)
        no_file = np.full(n, None, object)
        denominator_files = _relative(frame[DENOM_FILE], raw) if DENOM_FILE in frame else no_file
        base = {c: _numbers(frame, src) for c, src in (("row", row_col), ("last_row", LAST_ROW),
                                                       ("n_rows", N_ROWS), ("n_files", N_FILES),
                                                       ("denominator_row", DENOM_ROW))}
        years = frame["year"].to_numpy("int64")
        for feature in columns[name]:
            at = np.flatnonzero(frame[feature].notna().to_numpy())
            if not len(at):
                continue
            agg = ops.get(feature)
            cited, per_capita = agg is None or agg.cited_rows, agg is not None and agg.per_capita
            for column, label in (("source", name), ("feature", feature),
                                  ("operation", "row" if agg is None else agg.operation),
                                  ("of", "" if agg is None else agg.of)):
                labels[column].constant(label, len(at))
            labels["iso3"].values(iso3[at])
            labels["file"].values(files[at])
            labels["denominator_file"].values((denominator_files if per_capita else no_file)[at])
            got = {"data_year": years, "row": base["row"] if cited else nothing,
                   "last_row": base["last_row"] if agg is not None and cited else nothing,
                   "n_rows": ones if agg is None else base["n_rows"] if cited else nothing,
                   "n_files": base["n_files"] if agg is not None and cited else nothing,
                   "numerator": _numbers(frame, agg and agg.numerator),
                   "denominator": _numbers(frame, agg and agg.denominator),
                   "scale": np.full(n, np.nan if agg is None else agg.scale),
                   "denominator_row": base["denominator_row"] if per_capita else nothing}
            for column, values in got.items():
                numbers[column].append(values[at])
    if not numbers["row"]:
        return pd.DataFrame(columns=ORIGIN_COLUMNS)
    table = pd.DataFrame({c: lab.categorical() for c, lab in labels.items()})
    for column, parts in numbers.items():
        values = np.concatenate(parts)
        table[column] = values if column in ("data_year", "numerator", "denominator", "scale") else \
            pd.array(values, dtype="Float64").astype("Int64")
    return table[ORIGIN_COLUMNS]


def contributing_rows_table(frames: Mapping[str, pd.DataFrame], raw: Path, file_col: str) -> pd.DataFrame:
    """Every raw row an aggregate was made from, for builders that kept the row lists."""
    tables = []
    for name, frame in frames.items():
        if ROW_LIST not in frame:
            continue
        kept = frame[frame[ROW_LIST].map(lambda r: isinstance(r, np.ndarray))]
        if kept.empty:
            continue
        counts = kept[ROW_LIST].map(len).to_numpy()
        tables.append(pd.DataFrame({
            "source": name, "iso3": np.repeat(kept["iso3"].astype(str).to_numpy(), counts),
            "data_year": np.repeat(kept["year"].astype("int64").to_numpy(), counts),
            "file": np.repeat(_relative(kept[file_col], raw), counts),
            "row": np.concatenate(kept[ROW_LIST].to_list()),
            "value": np.concatenate(kept[ROW_VALUES].to_list())}))
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=ROWS_COLUMNS)
    for c in ("source", "file"):
        table[c] = table[c].astype("category")
    return table


def value_origins(features_dir: Path) -> pd.DataFrame:
    """The panel's value origins; empty for a panel built before they were kept."""
    path = Path(features_dir) / VALUE_ORIGINS
    return pd.read_parquet(path) if path.exists() else pd.DataFrame(columns=ORIGIN_COLUMNS)


def contributing_rows(features_dir: Path) -> pd.DataFrame:
    path = Path(features_dir) / CONTRIBUTING_ROWS
    return pd.read_parquet(path) if path.exists() else pd.DataFrame(columns=ROWS_COLUMNS)
