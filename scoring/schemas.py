"""The service's request and response bodies, as the OpenAPI document shows them.

Free-text and code fields carry lengths, not regular expressions: an unknown country code is
a 404 naming the codes that exist, which tells a caller more than a pattern mismatch would.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Band = Literal["low", "elevated", "high"]
ReviewStatus = Literal["unreviewed", "accepted", "flagged"]
Decision = Literal["accept", "flag"]
Role = Literal["program", "reviewer", "admin"]

YEAR = {"ge": 1000, "le": 9999}
ISO3 = {"min_length": 3, "max_length": 3, "description": "ISO 3166-1 alpha-3 code (XAA–XZZ: synthetic world)"}


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Problem(BaseModel):
    detail: str = Field(description="what went wrong, naming what exists where that helps")


class Interval(BaseModel):
    low: float
    high: float
    level: float | None = Field(description="nominal coverage of the interval, when the method states one")


class Provenance(BaseModel):
    model_name: str
    model_version: str
    model_alias: str | None = Field(description="alias the request resolved; null if a version was pinned")
    panel_sha256: str
    params_sha256: str
    run_id: str
    features_key: str


class Score(BaseModel):
    iso3: str
    country: str
    region: str
    year: int = Field(description="the year the signals are known at")
    target_year: int = Field(description="the year whose tier placement the probability is about")
    probability: float
    band: Band
    interval: Interval | None = Field(description="null: no calibration or conformal interval for this model")
    coverage: float | None = Field(description="share of declared signals observed for this country-year")
    in_training: bool = Field(description="true: the outcome was in training; a fitted value, not a forecast")
    review_status: ReviewStatus
    provenance: Provenance


class YearScores(BaseModel):
    year: int
    count: int
    scores: list[Score]


class CountryYear(Body):
    iso3: str = Field(**ISO3)
    year: int = Field(**YEAR)


class BatchRequest(Body):
    items: list[CountryYear] = Field(min_length=1, max_length=500)
    alias: str | None = Field(None, min_length=1, max_length=64)
    version: int | None = Field(None, ge=1, description="pin a model version (reproduces an earlier report)")


class BatchScores(BaseModel):
    count: int
    scores: list[Score]


class Driver(BaseModel):
    feature: str
    shap: float = Field(description="contribution to the log-odds")
    value: float | None
    unit: str
    family: str
    source: str
    publisher: str
    description: str
    value_year: int | None = Field(description="the year the value describes")
    source_file: str | None = Field(description="raw file the value was read from (relative to paths.raw)")
    source_row: int | None = Field(description="1-based row in that file, header lines included")
    source_file_sha256: str | None


class Explanation(BaseModel):
    score: Score
    base_value: float = Field(description="the model's expected log-odds")
    margin: float = Field(description="base_value + sum of SHAP values = logit(probability)")
    explanation_sha256: str = Field(description="hash of the SHAP and feature values; reviews record it")
    families: dict[str, float] = Field(description="SHAP values summed by signal family (log-odds)")
    shap_values: dict[str, float]
    top_drivers: list[Driver]


class HistoryPoint(BaseModel):
    year: int
    target_year: int
    probability: float
    band: Band
    interval: Interval | None
    coverage: float | None
    in_training: bool
    review_status: ReviewStatus


class History(BaseModel):
    iso3: str
    country: str
    region: str
    provenance: Provenance
    history: list[HistoryPoint]


class Metric(BaseModel):
    value: float | None
    low: float | None
    high: float | None


class AliasInfo(BaseModel):
    alias: str
    version: str
    served: bool = Field(description="whether this service holds the version in memory")
    run_id: str
    panel_sha256: str
    params_sha256: str
    features_key: str
    backtest: dict[str, Metric] = Field(description="pooled rolling-origin backtest, with bootstrap interval")


class Models(BaseModel):
    name: str
    default_alias: str
    versions: list[str]
    aliases: list[AliasInfo]


class ReviewIn(Body):
    iso3: str = Field(**ISO3)
    year: int = Field(**YEAR)
    decision: Decision
    comment: str = Field("", max_length=2000)
    model_version: int | None = Field(None, ge=1, description="default: the version the default alias serves")
    explanation_sha256: str | None = Field(
        None, max_length=100, description="the explanation you saw; a mismatch with the stored one is a 409")


class ReviewOut(BaseModel):
    id: int
    iso3: str
    year: int
    model_name: str
    model_version: str
    decision: Decision
    comment: str
    reviewer: str
    token_id: str
    explanation_sha256: str
    created_at: str
    supersedes: int | None = Field(description="the review this one replaces as the latest decision")


class ReviewHistory(BaseModel):
    iso3: str
    year: int
    model_name: str
    reviews: list[ReviewOut] = Field(description="newest first, every model version")


class TokenIn(Body):
    name: str = Field(min_length=1, max_length=100)
    role: Role


class TokenOut(BaseModel):
    id: str
    name: str
    role: Role
    created_at: str
    revoked_at: str | None


class TokenCreated(TokenOut):
    token: str = Field(description="shown once; only its SHA-256 is stored")


class Health(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    ready: bool
    model_name: str
    alias: str
    version: str | None
    reason: str | None


class Whoami(BaseModel):
    name: str
    role: Role
    permissions: list[str]
