"""Shared reading helpers: every problem becomes a SourceDataError naming file, row and problem.

Row numbers are the ones a person sees when opening the file: for a CSV the 1-based line
(header = line 1), for a spreadsheet the sheet row.
"""

from __future__ import annotations

import re
import zipfile
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
    if path.is_dir():
        raise SourceDataError(path, None, "is a directory, not a file")
    if path.stat().st_size == 0:
        raise SourceDataError(path, None, "file is empty")
    frame = _read_sheet(path, sheet, header_row, dtype) if path.suffix.lower() in EXCEL else \
        _read_csv(path, sep, encoding, header_row, dtype)
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        hint = _delimiter_hint(frame.columns, sep) if path.suffix.lower() not in EXCEL else ""
        raise SourceDataError(path, header_row,
                              f"missing column {missing[0]!r} (found: {', '.join(frame.columns)}){hint}")
    refuse_repeated_columns(frame, path, required, header_row)
    if frame.empty:
        raise SourceDataError(path, None, "file has a header but no data rows")
    frame[ROW] = np.arange(len(frame)) + header_row + 1
    frame[FILE] = str(path)
    return frame


def refuse_repeated_columns(frame: pd.DataFrame, path: Path, columns: Iterable[str],
                            header_row: int = 1) -> None:
    """A column the reader uses given twice in the header is an error: pandas keeps the first and
    renames the next "X.1", so one of two columns claiming the same meaning would be read silently.
    (Only the used ones: real exports repeat unused headers, e.g. UN DESA's year per sex block.)"""
    names = set(frame.columns)
    for c in columns:
        if f"{c}.1" in names:
            raise SourceDataError(path, header_row, f"column {c!r} appears more than once in the header")


EXCEL = {".xlsx", ".xlsm", ".xls"}
ZIP, OLE = b"PK\x03\x04", bytes.fromhex("D0CF11E0A1B11AE1")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _looks_like(head: bytes) -> str:
    """What the start of a file that is not the expected format looks like, in words."""
    if head.startswith(ZIP):
        return "a zip archive (an Excel workbook?)"
    if head.startswith(OLE):
        return "an OLE compound file (a legacy .xls or an encrypted workbook?)"
    if head.startswith(b"%PDF"):
        return "a PDF document"
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = head.decode("cp1252")
        except UnicodeDecodeError:
            return "binary data"
    if "\x00" in text:
        return "binary data"
    stripped = text.lstrip().lower()
    if stripped.startswith(("<!doctype html", "<html", "<?xml", "<")):
        return "HTML or XML text"
    first = text.splitlines()[0] if text.splitlines() else ""
    if any(sep in first for sep in (",", ";", "\t")):
        return "CSV text"
    return "plain text"


def _workbook_problem(path: Path) -> str | None:
    """Why a file named like a workbook cannot be one, checked before the library sees it."""
    with open(path, "rb") as f:
        head = f.read(4096)
    expected = f"expected {path.suffix.lower()}"
    if head.startswith(ZIP):
        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            return f"not a readable workbook: the zip archive is truncated or damaged ({_first_line(exc)})"
        if not any(n.startswith("xl/workbook") for n in names):
            return f"not an Excel workbook: a zip archive without xl/workbook.xml; {expected}"
        return None
    if head.startswith(OLE):
        with open(path, "rb") as f:
            body = f.read()
        if "EncryptedPackage".encode("utf-16-le") in body or "EncryptionInfo".encode("utf-16-le") in body:
            return "workbook is password-protected (encrypted); save an unprotected copy"
        return None  # a legacy .xls (or one saved as .xlsx): the library reads it or says why
    return f"not an Excel workbook: the file starts like {_looks_like(head)}; {expected}"


def sheet_names(path: Path) -> list[str]:
    """A workbook's sheet names, with every failure of the file or the library as one line."""
    problem = _workbook_problem(path)
    if problem:
        raise SourceDataError(path, None, problem)
    try:
        with pd.ExcelFile(path, engine="calamine") as workbook:
            return [str(n) for n in workbook.sheet_names]
    except Exception as exc:  # password, damaged zip, XML, format errors of calamine or pandas
        raise SourceDataError(path, None, f"cannot be read as a workbook: {_first_line(exc)}") from None


def _read_sheet(path: Path, sheet: str | None, header_row: int, dtype) -> pd.DataFrame:
    problem = _workbook_problem(path)
    if problem:
        raise SourceDataError(path, None, problem)
    try:
        with pd.ExcelFile(path, engine="calamine") as workbook:
            names = [str(n) for n in workbook.sheet_names]
            if sheet is not None and sheet not in names:
                raise SourceDataError(path, None, f"no sheet {sheet!r} (found: {', '.join(names) or 'none'})")
            if not names:
                raise SourceDataError(path, None, "workbook has no sheets")
            shown = sheet if sheet is not None else names[0]
            try:
                return workbook.parse(sheet_name=sheet or 0, header=header_row - 1, dtype=dtype)
            except Exception as exc:  # every failure of the library becomes one line naming the sheet
                problem = f"sheet {shown!r} cannot be read: {_first_line(exc)}"
                raise SourceDataError(path, None, problem) from None
    except SourceDataError:
        raise
    except Exception as exc:  # password, damaged zip, XML, format errors of calamine or pandas
        text = _first_line(exc)
        if "password" in text.lower() or "encrypt" in text.lower():
            raise SourceDataError(path, None, "workbook is password-protected (encrypted); "
                                  "save an unprotected copy") from None
        raise SourceDataError(path, None, f"cannot be read as a workbook: {text}") from None


def _read_csv(path: Path, sep: str, encoding: str, header_row: int, dtype) -> pd.DataFrame:
    with open(path, "rb") as f:
        head = f.read(4096)
    if head.startswith((ZIP, OLE)):
        raise SourceDataError(path, None, f"not a CSV text file: the file starts like {_looks_like(head)}; "
                              f"expected {path.suffix.lower() or 'CSV text'}")
    if head.startswith(UTF16_BOMS) or b"\x00" in head:
        found = "UTF-16 text (it starts with a UTF-16 byte-order mark)" if head.startswith(UTF16_BOMS) else \
            "binary data (it holds NUL bytes)"
        raise SourceDataError(path, None, f"cannot be read as {encoding} text: the file is {found}; "
                              f"save it as {encoding} CSV text")
    try:
        return pd.read_csv(path, sep=sep, encoding=encoding, dtype=dtype, keep_default_na=False,
                           skiprows=header_row - 1)
    except UnicodeDecodeError as exc:
        raise SourceDataError(path, None, f"cannot be read as {encoding} text: {_first_line(exc)}") from None
    except Exception as exc:  # parser, csv, empty-data and OS errors alike
        row, problem = _parser_problem(_first_line(exc))
        raise SourceDataError(path, row, problem) from None


UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_FIELDS = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_OPEN_QUOTE = re.compile(r"EOF inside string starting at row (\d+)")


def _parser_problem(text: str) -> tuple[int | None, str]:
    """(file line, problem in words) from a pandas parser message, whose line numbers count every
    line of the file ("in line L" 1-based, "at row R" 0-based)."""
    if m := _FIELDS.search(text):
        return int(m[2]), f"expected {m[1]} fields, saw {m[3]} (a stray separator, or lines run together?)"
    if m := _OPEN_QUOTE.search(text):
        return int(m[1]) + 1, "a quoted field opens here and never closes (the file is truncated?)"
    return None, f"cannot be read: {text}"


def _delimiter_hint(columns: Sequence[str], sep: str) -> str:
    """When the header came out as one column holding another separator, say which one it is."""
    if len(columns) != 1:
        return ""
    names = {",": "commas", ";": "semicolons", "\t": "tabs", "|": "pipes"}
    for other, name in names.items():
        if other != sep and other in columns[0]:
            return f"; the file seems separated by {name}, expected {sep!r}"
    return ""


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
