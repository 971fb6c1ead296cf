"""Where each value on a country page comes from, as the feature stage recorded it.

A value read from one row of a publisher's file is cited by that file and row; a value the
feature stage computed from many rows (a sum of event counts per 100,000 people, a share of
contracting processes) is cited by what it is: the operation, the rows and files it was made
of, and the population row it was divided by (features/aggregates.py). The country page shows
this per value (service/templates/_provenance.html, sorted by |SHAP|), and
`GET /review/{iso3}/{year}/sources.csv` offers the contributing rows with the values recorded
at feature time. Both read only the panel's recorded tables; no raw file is ever opened here.
"""

from __future__ import annotations

import csv
import io
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from fastapi import APIRouter, Request
from fastapi.responses import Response

from features.aggregates import contributing_rows, value_origins
from nexus.errors import NexusError
from nexus.manifest import short
from scoring.served import ServedVersion, UnknownCountryYear
from service.auth import page_caller
from service.catalog import UnknownModel
from service.pages import problem_page, templates

router = APIRouter(prefix="/review", include_in_schema=False)
LAG = re.compile(r"_lag\d+$")
CSV_COLUMNS = ["feature", "value", "value_year", "shap", "source", "operation", "of", "file", "row",
               "row_value", "n_rows", "first_row", "last_row", "n_files", "numerator", "denominator", "scale",
               "denominator_file", "denominator_row"]


@dataclass(frozen=True)
class RecordedOrigins:
    """A panel's value origins and contributing rows, indexed by country for a page's lookups."""

    origins: pd.DataFrame  # index iso3
    rows: pd.DataFrame     # index iso3

    def of_country(self, iso3: str) -> tuple[dict, dict]:
        """(source, feature, data_year) → origin; (source, data_year) → the rows' (file, row, value)."""
        found = self.origins.loc[[iso3]] if iso3 in self.origins.index else self.origins.iloc[:0]
        origins = {(r["source"], r["feature"], int(r["data_year"])): r for r in found.to_dict("records")}
        listed = self.rows.loc[[iso3]] if iso3 in self.rows.index else self.rows.iloc[:0]
        rows: dict[tuple[str, int], list[tuple]] = {}
        for s, y, f, r, v in zip(listed["source"], listed["data_year"], listed["file"], listed["row"],
                                 listed["value"], strict=True):
            rows.setdefault((str(s), int(y)), []).append((str(f), int(r), float(v)))
        return origins, rows


_CACHE: dict[tuple[str, float], RecordedOrigins] = {}
_LOCK = threading.Lock()


def recorded(features_dir: Path) -> RecordedOrigins:
    """The panel's recorded origins, read once per panel (a rebuilt panel has a new manifest)."""
    manifest = Path(features_dir) / "manifest.json"
    key = (str(features_dir), manifest.stat().st_mtime if manifest.exists() else 0.0)
    with _LOCK:
        found = _CACHE.get(key)
        if found is None:
            origins = value_origins(features_dir)
            origins["iso3"] = origins["iso3"].astype(str)
            rows = contributing_rows(features_dir)
            rows["iso3"] = rows["iso3"].astype(str)
            found = _CACHE[key] = RecordedOrigins(origins.set_index("iso3").sort_index(),
                                                  rows.set_index("iso3").sort_index())
    return found


def features_dir(request: Request, served: ServedVersion) -> Path:
    return Path(request.app.state.paths.artifacts) / "features" / short(served.card.features_key)


def _int(value) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def _float(value) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _text(value) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


def _rows_text(first: int | None, last: int | None, n: int | None) -> str:
    """"rows 55–94" when the rows are consecutive, else "between rows 187 and 5,464"."""
    if first is None:
        return ""
    if last is None or last == first:
        return f"row {first:,}"
    if n is not None and last - first + 1 == n:
        return f"rows {first:,}–{last:,}"
    return f"between rows {first:,} and {last:,}"


def _number(x: float | None) -> str:
    return "–" if x is None else (f"{x:,.0f}" if float(x).is_integer() else f"{x:,.4g}")


def describe(c: dict, origin: dict | None, recorded_any: bool = True) -> dict:
    """One page row: the contribution, and its origin as a single row or as an aggregate.

    `recorded_any` False: the panel predates value origins, so a cited row may be only the
    first of many (the page says so rather than pass it off as the value's row).
    """
    out = {"feature": c["feature"], "value": c["value"], "unit": c.get("unit", ""), "shap": c["shap"],
           "value_year": c.get("value_year"), "source": c.get("source", ""), "kind": "none",
           "unrecorded": not recorded_any,
           "file": c.get("source_file"), "row": c.get("source_row"),
           "file_sha256": c.get("source_file_sha256")}
    if c["value"] is None:
        return out
    if origin is None or origin["operation"] == "row":
        out["kind"] = "row" if out["file"] else "none"
        return out
    first, last, n = _int(origin["row"]), _int(origin["last_row"]), _int(origin["n_rows"])
    numerator, denominator, scale = (_float(origin[k]) for k in ("numerator", "denominator", "scale"))
    out |= {"kind": "aggregate", "operation": origin["operation"], "of": origin["of"], "file": origin["file"],
            "n_rows": n, "n_files": _int(origin["n_files"]), "rows_text": _rows_text(first, last, n),
            "denominator_file": _text(origin["denominator_file"]),
            "denominator_row": _int(origin["denominator_row"]), "numerator": numerator,
            "denominator": denominator, "scale": scale}
    if numerator is not None and denominator is not None:
        sums = f"{_number(numerator)} ÷ {_number(denominator)}"
        out["ingredients"] = sums + (f" × {_number(scale)}" if scale not in (None, 1.0) else "")
    return out


def page_origins(request: Request, served: ServedVersion, item: dict,
                 contributions: list[dict]) -> list[dict]:
    """Every contribution (in the given order: |SHAP| first) with the origin the feature stage recorded."""
    found = recorded(features_dir(request, served))
    origins, _ = found.of_country(item["iso3"])
    return [describe(c, _origin_of(c, origins), not found.origins.empty) for c in contributions]


def _origin_of(c: dict, origins: dict) -> dict | None:
    year = c.get("value_year")
    if year is None:
        return None
    return origins.get((c.get("source", ""), LAG.sub("", c["feature"]), int(year)))


templates.env.globals["page_origins"] = page_origins
templates.env.globals["fmt_number"] = _number


def csv_lines(request: Request, served: ServedVersion, iso3: str, year: int) -> list[dict]:
    """Per feature (|SHAP| first): one line per contributing row the feature stage listed, else one line."""
    i = served.row(iso3, year)
    origins, listed = recorded(features_dir(request, served)).of_country(iso3)
    lines = []
    for c in served.contributions(i):
        origin = _origin_of(c, origins)
        base = {"feature": c["feature"], "value": c["value"], "value_year": c.get("value_year"),
                "shap": round(c["shap"], 6), "source": c.get("source", "")}
        if origin is None or origin["operation"] == "row":
            cited = bool(c.get("source_file"))
            lines.append(base | {"operation": "row" if cited else "", "file": c.get("source_file"),
                                 "row": c.get("source_row"), "n_rows": 1 if cited else None})
            continue
        about = {"operation": origin["operation"], "of": origin["of"], "n_rows": _int(origin["n_rows"]),
                 "first_row": _int(origin["row"]), "last_row": _int(origin["last_row"]),
                 "n_files": _int(origin["n_files"]), "numerator": _float(origin["numerator"]),
                 "denominator": _float(origin["denominator"]), "scale": _float(origin["scale"]),
                 "denominator_file": _text(origin["denominator_file"]),
                 "denominator_row": _int(origin["denominator_row"])}
        rows = listed.get((c.get("source", ""), int(c["value_year"])))
        if rows and about["first_row"] is not None:
            lines += [base | about | {"file": f, "row": r, "row_value": v} for f, r, v in rows]
        else:
            lines.append(base | about | {"file": origin["file"]})
    return lines


@router.get("/{iso3}/{year:int}/sources.csv")
def sources_csv(request: Request, iso3: str, year: int, version: int | None = None) -> Response:
    """The rows behind every value of a country-year's explanation, as the feature stage recorded them."""
    who = page_caller(request, "explanations", "The rows behind an explanation are for reviewers; "
                                               "the role {role!r} may not see them.")
    if isinstance(who, Response):
        return who
    try:
        served, _ = request.app.state.catalog.get(version=version)
        lines = csv_lines(request, served, iso3.upper(), year)
    except (UnknownCountryYear, UnknownModel, NexusError) as exc:
        status = 404 if isinstance(exc, UnknownCountryYear | UnknownModel) else 503
        return problem_page(request, who, status, str(exc))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for line in lines:
        writer.writerow({k: "" if v is None else v for k, v in line.items()})
    name = f"nexus-sources-{iso3.upper()}-{year}-v{served.version}.csv"
    return Response(out.getvalue(), media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
