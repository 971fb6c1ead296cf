"""Shared reading helpers: every problem becomes a SourceDataError naming file, row and problem.

Row numbers are the ones a person sees when opening the file: for a CSV the 1-based line
(header = line 1), for a spreadsheet the sheet row.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from nexus.countries import (
    NON_COUNTRY_CODES,
    ambiguous_candidates,
    code_to_iso3,
    country_name_problem,
    is_non_country_name,
    name_to_iso3,
)
from nexus.errors import SourceDataError

ROW = "_row"    # the source row of each record, kept until validation
FILE = "_file"  # the source file of each record


def read_table(path: Path, *, required: Sequence[str], sep: str = ",", encoding: str = "utf-8-sig",
               header_row: int = 1, sheet: str | None = None, dtype=str) -> pd.DataFrame:
    """Read a CSV or a spreadsheet sheet as text, check required columns, add `_row`/`_file`."""
    path = Path(path)
    if not path.exists():
        raise SourceDataError(path, None, "file not found")
    if path.stat().st_size == 0:
        raise SourceDataError(path, None, "file is empty")
    try:
        if path.suffix.lower() in {".xlsx", ".xls"}:
            frame = pd.read_excel(path, sheet_name=sheet or 0, header=header_row - 1, dtype=dtype,
                                  engine="calamine")
        else:
            frame = pd.read_csv(path, sep=sep, encoding=encoding, dtype=dtype, keep_default_na=False,
                                skiprows=header_row - 1)
    except (ValueError, KeyError, UnicodeDecodeError, pd.errors.ParserError, csv.Error) as exc:
        raise SourceDataError(path, None, f"cannot be read: {str(exc).splitlines()[0]}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise SourceDataError(path, header_row, f"missing column {missing[0]!r} (found: {', '.join(frame.columns)})")
    if frame.empty:
        raise SourceDataError(path, None, "file has a header but no data rows")
    frame[ROW] = np.arange(len(frame)) + header_row + 1
    frame[FILE] = str(path)
    return frame


def to_number(frame: pd.DataFrame, column: str, *, decimal: str = ".", thousands: str | None = None,
              missing: Iterable[str] = ("", "..", "NA", "n/a")) -> pd.Series:
    """Text column → float; declared missing tokens → NaN; anything else unparseable is an error.

    `thousands` accepts only well-formed groups ("1,282"), so a lost decimal comma is not
    silently read as a thousands separator.
    """
    text = frame[column].astype("string").str.strip()
    if thousands is not None:
        grouped = text.str.fullmatch(rf"-?\d{{1,3}}({re.escape(thousands)}\d{{3}})+(\.\d+)?").fillna(False)
        text = text.where(~grouped, text.str.replace(thousands, "", regex=False))
    if decimal != ".":
        text = text.str.replace(".", "", regex=False).str.replace(decimal, ".", regex=False)
    is_missing = text.isna() | text.isin(list(missing))
    values = pd.to_numeric(text.where(~is_missing), errors="coerce")
    bad = values.isna() & ~is_missing
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise SourceDataError(frame[FILE].iat[i], int(frame[ROW].iat[i]),
                              f"{column}: {frame[column].iat[i]!r} is not a number")
    return values.astype("float64")


def iso3_from_names(frame: pd.DataFrame, column: str, *, aggregates: Iterable[str] = ()) -> pd.Series:
    """Country names → ISO3; a name that matches nothing is an error naming file and row, and so
    is an ambiguous one ("Korea"), naming its candidates, unless its file's override says which.

    Names the source declares as aggregates, and the names nexus.countries lists as no single
    present-day country, map to NA (the caller drops those rows).
    """
    aggregates = {a.casefold() for a in aggregates}
    names = frame[column].astype("string").str.strip()
    files = frame[FILE].astype("string")
    mapping = {}  # (file, name) → ISO3: an ambiguous name is resolved by its file's override
    pairs = pd.DataFrame({"file": files, "name": names}).dropna().drop_duplicates()
    for file, name in pairs.itertuples(index=False):
        if name.casefold() in aggregates or is_non_country_name(name):
            mapping[(file, name)] = pd.NA
            continue
        code = name_to_iso3(name, file)
        if code is None:
            i = int(np.flatnonzero(((names == name) & (files == file)).fillna(False).to_numpy())[0])
            raise SourceDataError(file, int(frame[ROW].iat[i]), country_name_problem(name, file))
        mapping[(file, name)] = code
    return pd.Series([mapping.get(k, pd.NA) for k in zip(files, names, strict=True)], index=frame.index,
                     dtype="string")


def iso3_from_codes(frame: pd.DataFrame, column: str, *, name_column: str | None = None,
                    aggregates: Iterable[str] = ()) -> pd.Series:
    """Publisher 3-letter codes → ISO3 via the override table; non-country codes → NA.

    Codes the source declares as aggregates (by the publisher's own rule, e.g. the World
    Bank's group list) map to NA. An unknown code falls back to the country name when a name
    column is given, and is otherwise an error naming file and row: nothing is dropped silently.
    """
    codes = frame[column].astype("string").str.strip().str.upper()
    aggregates = {a.strip().upper() for a in aggregates}
    out = {}
    for code in codes.dropna().unique():
        if code in aggregates:
            out[code] = pd.NA
            continue
        iso = code_to_iso3(code)
        if iso is None and code not in NON_COUNTRY_CODES:
            i = int(np.flatnonzero((codes == code).fillna(False).to_numpy())[0])
            name = str(frame[name_column].iat[i]) if name_column is not None else ""
            iso = name_to_iso3(name, frame[FILE].iat[i]) if name else None
            if iso is None:
                ambiguous = ambiguous_candidates(name) is not None
                also = f" ({country_name_problem(name, frame[FILE].iat[i])})" if ambiguous else ""
                raise SourceDataError(frame[FILE].iat[i], int(frame[ROW].iat[i]),
                                      f"unknown country code {code!r}{also}")
        out[code] = iso if iso is not None else pd.NA
    return codes.map(out).astype("string")


def to_year(frame: pd.DataFrame, column: str) -> pd.Series:
    """A year column as int; two-year editions ("2012-2013") take their later year."""
    text = frame[column].astype("string").str.strip()
    last = text.str.extract(r"(\d{4})\s*$", expand=False)
    bad = last.isna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise SourceDataError(frame[FILE].iat[i], int(frame[ROW].iat[i]), f"{column}: {text.iat[i]!r} is not a year")
    return last.astype(int)
