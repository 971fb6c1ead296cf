"""The declaration of a source in one YAML file: a strict schema, so a typo fails instead of being ignored.

Every key is listed in docs/sources.md. Unknown keys are refused (extra="forbid"), and every
problem becomes one line naming the YAML file and the dotted key (_yaml_sources.py).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from features.calendar import DEFAULT_CARRY_YEARS, Calendar
from features.registry import FAMILIES

COLUMN_NAME = re.compile(r"^[a-z][a-z0-9_]*$")  # a panel column: lower-case, no spaces


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReaderSpec(Strict):
    """How to read each matched file: CSV options, or the sheet of a workbook (.xlsx, .xls)."""

    sheet: str | None = None            # workbooks: the sheet by name (default: the first)
    header_row: int = Field(1, ge=1)    # 1-based line (CSV) or sheet row of the header; rows above: skipped
    delimiter: str = Field(",", min_length=1)
    decimal: str = Field(".", min_length=1, max_length=1)
    thousands: str | None = Field(None, min_length=1, max_length=1)
    encoding: str = "utf-8-sig"
    missing: list[str] = ["", "..", "NA", "n/a"]   # cells read as missing values, not errors
    skip_rows: dict[str, list[str]] = {}          # column → values: rows holding one of them are not data


class CountrySpec(Strict):
    column: str
    kind: Literal["iso3", "iso2", "name"]
    name_column: str | None = None      # codes only: an unknown code is resolved by this name column
    aggregates: list[str] = []          # the publisher's codes (or names) of regions and groups: dropped

    @model_validator(mode="after")
    def _name_column_for_codes(self):
        if self.kind == "name" and self.name_column is not None:
            raise ValueError("name_column is for kind iso3 or iso2 (a name column is already a name)")
        return self


class YearSpec(Strict):
    """The data year: a column ("2012-2013" takes its later year), or a pattern in the file name."""

    column: str | None = None
    from_file_name: str | None = None   # a regular expression whose first group is the year
    offset: int = 0                     # added to the year read (-1: edition years that name the year after)

    @model_validator(mode="after")
    def _exactly_one(self):
        if (self.column is None) == (self.from_file_name is None):
            raise ValueError("give exactly one of column or from_file_name")
        if self.from_file_name is not None:
            try:
                groups = re.compile(self.from_file_name).groups
            except re.error as exc:
                raise ValueError(f"from_file_name is not a regular expression ({exc})") from None
            if groups < 1:
                raise ValueError("from_file_name needs one group, e.g. '(\\d{4})'")
        return self


class ValueColumn(Strict):
    column: str                          # the column in the file
    range: tuple[float, float]           # plausible [low, high] after scale: a value outside is refused
    unit: str = Field(min_length=1)
    description: str = Field(min_length=1)
    scale: float = 1.0                   # multiply the value read (percent → share: 0.01)
    round: int | None = Field(None, ge=0, le=12)   # decimals kept (float noise such as 0.19499999999999995)

    @field_validator("range")
    @classmethod
    def _ordered(cls, value):
        if value[0] > value[1]:
            raise ValueError(f"low {value[0]:g} is above high {value[1]:g}")
        return value


class CalendarSpec(Strict):
    """A constant lag, or the publication date of each edition (features/calendar.py)."""

    lag_years: int = Field(ge=0)
    max_age_years: int | None = Field(None, ge=0)   # default: lag_years + 1 (carried one year more)
    editions: dict[int, date] = {}                   # data year → date first published (YYYY-MM-DD)

    @model_validator(mode="after")
    def _can_hold(self):
        """The calendar's own checks: a usable staleness limit, editions published in data-year order."""
        Calendar(lag_years=self.lag_years, max_age_years=self.max_age,
                 editions={year: when.isoformat() for year, when in self.editions.items()})
        return self

    @property
    def max_age(self) -> int:
        return self.lag_years + DEFAULT_CARRY_YEARS if self.max_age_years is None else self.max_age_years


class DownloadSpec(Strict):
    """One raw file's official address (features/fetch.py: `nexus data fetch`)."""

    target: str
    publisher: str
    url: str | None
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    pinned: bool = False
    header: list[str] = []
    member: str | None = None
    by_hand: str = ""


class Declaration(Strict):
    """One YAML source file; the source's name is the file's stem."""

    description: str = Field(min_length=1)
    family: Literal[FAMILIES]
    publisher: str = Field(min_length=1)
    files: dict[str, str] = Field(min_length=1)     # role → glob under the raw folder
    optional_roles: list[str] = []
    reader: ReaderSpec = ReaderSpec()
    country: CountrySpec
    year: YearSpec
    columns: dict[str, ValueColumn] = Field(min_length=1)
    calendar: CalendarSpec
    lineage: list[str] = []              # registered sources this one is built from (checked)
    lineage_external: list[str] = []     # inputs nexus has no source for (e.g. world_bank_cpia)
    label_construct: list[str] = []      # columns measuring the label's own subject: never a default feature
    downloads: list[DownloadSpec] = []

    @field_validator("columns")
    @classmethod
    def _column_names(cls, value):
        for name in value:
            if not COLUMN_NAME.match(name):
                raise ValueError(f"{name!r} is not a column name (lower-case letters, digits, _)")
        return value

    @field_validator("label_construct")
    @classmethod
    def _construct_columns_exist(cls, value, info):
        columns = info.data.get("columns") or {}
        for name in value:
            if name not in columns:
                raise ValueError(f"{name!r} is not one of the columns")
        return value

    @field_validator("optional_roles")
    @classmethod
    def _optional_roles_exist(cls, value, info):
        files = info.data.get("files") or {}
        for role in value:
            if role not in files:
                raise ValueError(f"{role!r} is not one of the roles under files ({', '.join(files)})")
        return value
