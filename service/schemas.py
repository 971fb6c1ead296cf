"""The service's request and response bodies, as the OpenAPI document shows them.

Free-text and code fields carry lengths, not regular expressions: an unknown country code is
a 404 naming the codes that exist, which tells a caller more than a pattern mismatch would.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.vocabulary import BANDS, DECISIONS, INSUFFICIENT_DATA, REVIEW_STATUSES, ROLES

Band = Literal[(*BANDS, INSUFFICIENT_DATA)]
SetLabel = Literal["yes", "no", "either", "neither"]
Calibration = Literal["none", "sigmoid", "isotonic", "venn_abers"]
ReviewStatus = Literal[REVIEW_STATUSES]
Decision = Literal[DECISIONS]
Role = Literal[ROLES]

YEAR = {"ge": 1000, "le": 9999}
ISO3 = {"min_length": 3, "max_length": 3, "description": "ISO 3166-1 alpha-3 code (XAA–XZZ: synthetic world)"}


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Problem(BaseModel):
    detail: str = Field(description="what went wrong, naming what exists where that helps")


class Interval(BaseModel):
    """Venn-Abers [p0, p1]: the probabilities the calibration data are consistent with for this row."""

    low: float = Field(description="p0: the isotonic calibration with this row added as a negative")
    high: float = Field(description="p1: the same with this row added as a positive; low ≤ high")
    method: Literal["venn_abers"] = Field(description="how the interval is made (the card's `interval`)")
    level: float | None = Field(description="nominal coverage; null for Venn-Abers, which states no level: "
                                            "one of p0, p1 is calibrated when the calibration rows are "
                                            "exchangeable with this one. `probability` is the calibration "
                                            "the card names, so it may lie outside [low, high] unless that "
                                            "calibration is venn_abers")


class ConformalSet(BaseModel):
    """Mondrian split-conformal set over next year's outcome, at `level`, by current listed status."""

    label: SetLabel = Field(description="yes / no: one outcome; either: both (too close to call); neither: "
                                        "empty (unlike the calibration cases of either outcome)")
    outcomes: list[str] = Field(description="the outcomes in the set, e.g. [\"listed\", \"unlisted\"]")
    level: float = Field(description="target coverage of the set (training.calibration.conformal_level)")


class Provenance(BaseModel):
    model_name: str
    model_version: str
    model_alias: str | None = Field(description="alias the request resolved; null if a version was pinned")
    panel_sha256: str
    params_sha256: str
    run_id: str
    features_key: str
    calibration: Calibration = Field(description="the calibration `probability` went through (model card)")


class Score(BaseModel):
    iso3: str
    country: str
    region: str
    year: int = Field(description="the year the signals are known at")
    target_year: int = Field(description="the year whose tier placement the probability is about")
    probability: float = Field(description="calibrated probability (the card's calibration): the number "
                                           "the backtest measured")
    band: Band = Field(description="from the calibrated probability and scoring.bands; 'insufficient data' "
                                  "when `not_ranked` gives a reason (such a row is never ranked: lists put "
                                  "it after the ranked rows)")
    not_ranked: str | None = Field(default=None, description="why the row is listed apart: 'coverage below "
                                   "scoring.min_coverage', or 'no TIP placement, which this model reads' "
                                   "(a territory the report does not rank); null for a ranked row")
    interval: Interval | None = Field(description="Venn-Abers interval; null only for a model fitted without "
                                                  "calibration rows, which has none")
    conformal_set: ConformalSet | None = Field(description="the conformal set at its level; null when the "
                                                           "interval is")
    coverage: float | None = Field(description="share of declared signals observed for this country-year")
    in_training: bool = Field(description="true: the outcome was in training; a fitted value, not a forecast")
    review_status: ReviewStatus
    provenance: Provenance


class YearScores(BaseModel):
    year: int
    count: int
    ranked: int = Field(description="rows ranked, highest probability first; the scores list them first")
    insufficient_data: int = Field(description="rows after them, band 'insufficient data' (each row's "
                                               "`not_ranked` says why), never ranked")
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
    source_row: int | None = Field(description="1-based row in that file, header lines included; for a value "
                                   "aggregated from many rows, the first of them (the reviewer page says what "
                                   "the value is, and /review/{iso3}/{year}/sources.csv lists every row)")
    source_file_sha256: str | None


class Explanation(BaseModel):
    score: Score
    base_value: float = Field(description="the model's expected log-odds (mean over its K boosters)")
    margin: float = Field(description="base_value + sum of SHAP values: the log-odds before calibration")
    probability_raw: float = Field(description="sigmoid(margin), the uncalibrated probability; "
                                               "score.probability is its calibrated value")
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
    conformal_set: ConformalSet | None
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


class Difference(BaseModel):
    diff: float = Field(description="product model minus baseline on the development origins")
    low: float
    high: float
    better: bool = Field(description="the product model is better and the interval excludes 0")


class Baseline(BaseModel):
    name: str
    beats: bool = Field(description="better by promotion.margin on promotion.metric, interval excluding 0")
    metrics: dict[str, Difference]


class Card(BaseModel):
    """The served version's model card, as a reader needs it."""

    calibration: Calibration = Field(description="chosen on development origins by log loss")
    interval: Literal["venn_abers"]
    conformal_level: float
    n_members: int = Field(description="K boosters with different seeds, averaged on the margin")
    target: str
    horizon_years: int
    development_origins: list[int] = Field(description="origins the card's figures and choices come from")
    holdout_origins: list[int] = Field(description="reported on the results page, never chosen on")
    metric: str = Field(description="promotion.metric: the figure `statement` quotes")
    beats: list[str] = Field(description="baselines this version beats on the development origins")
    baselines: dict[str, Baseline]
    statement: str = Field(description="the same in one sentence")


class AliasInfo(BaseModel):
    alias: str
    version: str
    served: bool = Field(description="whether this service holds the version in memory")
    run_id: str
    panel_sha256: str
    params_sha256: str
    features_key: str
    card: Card | None = Field(description="null when the version's model card is broken (see card_problem)")
    card_problem: str | None = Field(description="the missing or invalid card field (not served)")
    backtest: dict[str, Metric] = Field(description="pooled backtest on the development origins, with block "
                                                    "bootstrap interval")


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
    # The pattern tells OpenAPI clients (and the fuzz test) what the validator below enforces.
    name: str = Field(min_length=1, max_length=100, json_schema_extra={"pattern": r"\S"},
                      description="who or what uses the token; not only spaces")
    role: Role

    @field_validator("name")
    @classmethod
    def _not_blank(cls, name: str) -> str:
        if not name.strip():
            raise ValueError("a token name needs a character other than spaces (who or what uses it)")
        return name


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
    version: str | None = Field(description="the version the alias points to (served, or not servable)")
    reason: str | None = Field(description="why not ready: loading, an alias pointing nowhere, or the "
                                           "version and field of a broken model card")


class Whoami(BaseModel):
    name: str
    role: Role
    permissions: list[str]


# The spreadsheet export (/v1/scores.csv and the reviewer page's): one flat row per score.
CSV_COLUMNS = ["rank", "iso3", "country", "region", "year", "target_year", "probability", "band", "not_ranked",
               "interval_low", "interval_high", "interval_method", "conformal_set", "conformal_level",
               "coverage", "in_training", "review_status", "model_name", "model_version", "model_alias",
               "calibration", "panel_sha256", "params_sha256", "run_id"]


def csv_fields(body: dict) -> dict:
    """A score body as one flat CSV row: interval bounds and the conformal set as their own columns."""
    interval, conformal = body["interval"] or {}, body["conformal_set"] or {}
    return body | body["provenance"] | {
        "probability": f"{body['probability']:.6f}",
        "interval_low": f"{interval['low']:.6f}" if interval else "",
        "interval_high": f"{interval['high']:.6f}" if interval else "",
        "interval_method": interval.get("method", ""),
        "conformal_set": "|".join(conformal.get("outcomes", [])),
        "conformal_level": conformal.get("level", "")}
