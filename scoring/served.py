"""One model version's stored scores, SHAP values and panel, held in memory for the service.

Nothing that can be computed once is computed per request: scores come from the stored score
artifact (scored here only when a version has none), SHAP values are read and never
recomputed, and a country-year's explanation is assembled and hashed once, on first use.
What a version is (its calibration, interval, K boosters, the baselines it beats) comes from
its model card, read through `training.registry` only; a score artifact that lacks the
calibrated interval columns is rebuilt rather than served without them.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from features.lineage import country_regions, data_years, source_rows
from features.panel import load_panel
from nexus.config import Params, PathsParams
from nexus.errors import NexusError
from scoring.score import FAMILIES, features_dir_of, find_score_dir, load_scores, score
from training.metrics import METRICS
from training.registry import ModelCard, ModelRef
from training.targets import add_targets

# What scores.parquet must hold for the service to serve what the backtest measured.
SERVED_COLUMNS = ("probability", "probability_raw", "probability_low", "probability_high", "conformal_set")
# The outcomes a conformal set can hold, named for a reader: (positive, negative) per target.
OUTCOMES = {"t2wl_or_t3": ("listed", "unlisted"), "t3": ("Tier 3", "not Tier 3")}
SET_OUTCOMES = {"yes": (0,), "no": (1,), "either": (0, 1), "neither": ()}
BASELINE_NAMES = {"persistence": "persistence", "same_as_now": "same as now",
                  "base_rate": "base rate", "cpi_logistic": "corruption index only"}


class UnknownCountryYear(LookupError):
    """A country or year the served scores do not hold; the message names what exists."""


def _number(value) -> float | None:
    """A JSON-safe float: NaN and missing become None."""
    if value is None or value is pd.NA:
        return None
    value = float(value)
    return None if math.isnan(value) else value


@dataclass
class ServedVersion:
    """Everything the service answers about one registered model version."""

    model_name: str
    version: str
    card: ModelCard
    summary: dict
    directory: Path
    features: list[str]
    catalog: dict
    provenance: dict
    items: list[dict]
    rows: dict[tuple[str, int], int]
    shap: np.ndarray
    base: np.ndarray
    values: np.ndarray
    raw: np.ndarray
    families: list[dict[str, float]]
    countries: dict[str, str]
    regions: dict[str, str]
    years: list[int]
    by_year: dict[int, list[int]]
    by_country: dict[str, list[int]]
    data_years: dict[tuple[str, int, str], int]
    origins: dict[tuple[str, str, int], tuple[str, int | None]]
    backtest: dict[str, dict[str, float | None]]
    _explanations: dict[int, tuple[dict, str]] = field(default_factory=dict, repr=False)
    _explanation_json: dict[int, bytes] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def row(self, iso3: str, year: int) -> int:
        """Row of a country-year, or UnknownCountryYear naming the countries or years that exist."""
        found = self.rows.get((iso3, year))
        if found is not None:
            return found
        if iso3 not in self.countries:
            raise self._unknown_country(iso3)
        years = [self.items[i]["year"] for i in self.by_country[iso3]]
        raise UnknownCountryYear(f"no score for {iso3} in {year}; {iso3} has scores for "
                                 f"{min(years)}–{max(years)}")

    def year(self, year: int) -> list[int]:
        if year not in self.by_year:
            raise UnknownCountryYear(f"no scores for {year}; years {self.years[0]}–{self.years[-1]}")
        return self.by_year[year]

    def country(self, iso3: str) -> list[int]:
        if iso3 not in self.by_country:
            raise self._unknown_country(iso3)
        return self.by_country[iso3]

    def _unknown_country(self, iso3: str) -> UnknownCountryYear:
        return UnknownCountryYear(f"no country {iso3!r} in the scores of {self.model_name} v{self.version}; "
                                  f"countries: {', '.join(sorted(self.countries))}")

    def origin(self, i: int, feature: str) -> dict:
        """The year a feature value describes, and the raw file and row it was read from."""
        entry = self.catalog.get(feature, {})
        iso3, year = self.items[i]["iso3"], self.items[i]["year"]
        source = entry.get("source", "")
        value_year = self.data_years.get((iso3, year - int(entry.get("extra_lag", 0)), source))
        file, row = self.origins.get((source, iso3, value_year), (None, None))
        return {"value_year": value_year, "source_file": file, "source_row": row,
                "source_file_sha256": entry.get("files", {}).get(file) if file else None}

    def contributions(self, i: int) -> list[dict]:
        """Every feature's SHAP value with its value, unit, source and origin, largest |SHAP| first."""
        order = np.argsort(-np.abs(self.shap[i]), kind="stable")
        out = []
        for j in order:
            feature = self.features[j]
            entry = self.catalog.get(feature, {})
            described = {k: entry.get(k, "") for k in ("unit", "family", "source", "publisher",
                                                       "description")}
            out.append({"feature": feature, "shap": float(self.shap[i, j]),
                        "value": _number(self.values[i, j]), **described, **self.origin(i, feature)})
        return out

    def explanation(self, i: int, top: int) -> tuple[dict, str]:
        """(explanation without the score, its SHA-256), built once per country-year."""
        cached = self._explanations.get(i)
        if cached is None:
            digest = self.explanation_hash(i)
            drivers = self.contributions(i)
            body = {"base_value": float(self.base[i]), "margin": float(self.base[i] + self.shap[i].sum()),
                    "probability_raw": float(self.raw[i]), "explanation_sha256": digest,
                    "families": self.families[i],
                    "shap_values": {f: float(v) for f, v in zip(self.features, self.shap[i], strict=True)},
                    "top_drivers": drivers[:top]}
            with self._lock:
                cached = self._explanations.setdefault(i, (body, digest))
        return cached

    def explanation_json(self, i: int, top: int) -> bytes:
        """The explanation as JSON object members (no braces), serialised once: a request adds the score."""
        cached = self._explanation_json.get(i)
        if cached is None:
            body, _ = self.explanation(i, top)
            cached = json.dumps(body, separators=(",", ":"), allow_nan=False).encode()[1:-1]
            self._explanation_json[i] = cached
        return cached

    def explanation_hash(self, i: int) -> str:
        """SHA-256 of what a reviewer sees: model version, country-year, SHAP values and feature values."""
        item = self.items[i]
        shown = {"model": f"{self.model_name}/{self.version}", "iso3": item["iso3"], "year": item["year"],
                 "base_value": float(self.base[i]), "features": self.features,
                 "shap": [float(v) for v in self.shap[i]], "values": [_number(v) for v in self.values[i]]}
        blob = json.dumps(shown, sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(blob.encode()).hexdigest()


def _stored_scores(params: Params, paths: PathsParams, ref: ModelRef, step: Callable[[str], None]):
    """The version's score artifact; scored now when it has none, or one without the interval columns."""
    directory = find_score_dir(paths, ref.name, ref.version, params.scoring)
    try:
        if directory is None:
            raise NexusError("no stored scores")
        found = load_scores(directory)
        missing = [c for c in SERVED_COLUMNS if c not in found[0].columns]
        if not missing:
            return directory, found
        step(f"scoring {ref.name} v{ref.version} again (its stored scores lack {', '.join(missing)})")
    except NexusError:
        step(f"scoring {ref.name} v{ref.version} (no stored scores for it)")
    directory = score(params, paths, version=ref.version, progress=step).directory
    found = load_scores(directory)
    missing = [c for c in SERVED_COLUMNS if c not in found[0].columns]
    if missing:
        raise NexusError(f"{directory}: the scores of {ref.name} v{ref.version} lack {', '.join(missing)}")
    return directory, found


def load_version(params: Params, paths: PathsParams, ref: ModelRef, backtest: dict,
                 progress: Callable[[str], None] | None = None) -> ServedVersion:
    """Read (or, when a version has none, build) a version's score artifact and hold it in memory.

    The model card is read first: a version whose card is missing a field or names an unknown
    method raises `ModelCardError` (naming the version and the field) before any number is loaded.
    """
    step = progress or (lambda msg: None)
    card = ref.card
    directory, (scores, shap_values, families, _) = _stored_scores(params, paths, ref, step)
    features_dir = features_dir_of(paths, ref)  # under the given artifacts folder, not a stored path
    panel, catalog, _ = load_panel(features_dir)
    panel = add_targets(panel, card.target, card.horizon_years)  # the current placement the model reads
    catalog = with_placement(catalog)
    features = [c for c in shap_values.columns if c not in ("iso3", "year", "base_value")]
    keys = pd.MultiIndex.from_frame(scores[["iso3", "year"]])
    shap_values = shap_values.set_index(["iso3", "year"]).reindex(keys)
    families = families.set_index(["iso3", "year"]).reindex(keys)
    values = panel.set_index(["iso3", "year"]).reindex(keys)[features].to_numpy("float64")
    origins_table = source_rows(features_dir)  # recorded with the panel
    origins = {(s, i, int(y)): (f, None if pd.isna(r) else int(r)) for s, i, y, f, r in
               zip(origins_table["source"], origins_table["iso3"], origins_table["data_year"],
                   origins_table["file"], origins_table["row"], strict=True)}
    countries = dict(zip(scores["iso3"], scores["country"], strict=False))
    regions = country_regions(features_dir, sorted(countries))
    items = _score_items(scores, regions, card)
    by_year: dict[int, list[int]] = {}
    by_country: dict[str, list[int]] = {}
    for i, item in enumerate(items):
        by_year.setdefault(item["year"], []).append(i)
        by_country.setdefault(item["iso3"], []).append(i)
    for year, rows in by_year.items():
        rows.sort(key=lambda i: (-items[i]["probability"], items[i]["iso3"]))
    for rows in by_country.values():
        rows.sort(key=lambda i: items[i]["year"])
    first = scores.iloc[0]
    provenance = {"model_name": ref.name, "model_version": ref.version,
                  **{k: str(first[k]) for k in ("panel_sha256", "params_sha256", "run_id", "features_key")},
                  "calibration": card.calibration}
    family_names = [c for c in families.columns if c in FAMILIES or c == "other"]
    family_rows = [{f: float(v) for f, v in zip(family_names, row, strict=True)}
                   for row in families[family_names].to_numpy("float64")]
    return ServedVersion(
        model_name=ref.name, version=ref.version, card=card, summary=card_summary(card, params),
        directory=directory, features=features, catalog=catalog,
        provenance=provenance, items=items, rows={(it["iso3"], it["year"]): i for i, it in enumerate(items)},
        shap=shap_values[features].to_numpy("float64"), base=shap_values["base_value"].to_numpy("float64"),
        values=values, raw=scores["probability_raw"].to_numpy("float64"), families=family_rows,
        countries=countries, regions=regions,
        years=sorted(by_year), by_year=by_year, by_country=by_country, data_years=data_years(features_dir),
        origins=origins, backtest=backtest)


def with_placement(catalog: dict) -> dict:
    """The catalog plus the current-placement features, described from the label they are read from.

    `previous_tier` is the label a year back (extra_lag 1), so its value year and raw row are the
    previous report's.
    """
    tier, listed = catalog.get("label_tier"), catalog.get("label_listed")
    placement = {}
    if tier:
        placement["current_tier"] = tier | {"family": "placement", "extra_lag": 0,
                                            "description": f"current placement: {tier['description']}"}
        placement["previous_tier"] = tier | {"family": "placement", "extra_lag": 1, "description":
                                             f"placement a year earlier: {tier['description']}"}
    if listed:
        placement["current_listed"] = listed | {"family": "placement", "extra_lag": 0,
                                                "description": f"current placement: {listed['description']}"}
    return {k: v for k, v in placement.items() if k not in catalog} | catalog


def _score_items(scores: pd.DataFrame, regions: dict[str, str], card: ModelCard) -> list[dict]:
    outcomes = OUTCOMES.get(card.target, ("yes", "no"))
    sets = {label: {"label": label, "outcomes": [outcomes[k] for k in picks], "level": card.conformal_level}
            for label, picks in SET_OUTCOMES.items()}
    items = []
    for r in scores.itertuples(index=False):
        low, high = _number(r.probability_low), _number(r.probability_high)
        # null only for a model that has no interval (never calibrated): the card says which method it is
        interval = (None if low is None or high is None
                    else {"low": low, "high": high, "method": card.interval, "level": None})
        items.append({"iso3": str(r.iso3), "country": str(r.country), "region": regions.get(str(r.iso3), ""),
                      "year": int(r.year), "target_year": int(r.target_year),
                      "probability": float(r.probability), "band": str(r.band),
                      "not_ranked": str(r.not_ranked) or None, "interval": interval,
                      "conformal_set": sets.get(str(r.conformal_set)) if interval is not None else None,
                      "coverage": _number(r.coverage), "in_training": bool(r.in_training)})
    return items


def _span(origins: list) -> str:
    return f"{origins[0]}–{origins[-1]}" if origins else "none"


def card_summary(card: ModelCard, params: Params) -> dict:
    """What a reader needs to trust the served version: how it calibrates and which baselines it beats.

    The differences are the card's: product model minus baseline on the development origins
    (paired block bootstrap); the holdout origins are only named, their results are on the results page.
    """
    metric, level = params.promotion.metric, params.training.bootstrap.level
    development, holdout = list(card.folds.get("origins", [])), list(card.folds.get("holdout_origins", []))
    baselines = {}
    for name, entry in card.beats.items():
        metrics = {m: v for m, v in entry.items() if isinstance(v, dict)}
        baselines[name] = {"name": BASELINE_NAMES.get(name, name.replace("_", " ")),
                           "beats": bool(entry.get("beats")), "metrics": metrics}
    beaten = [b for b, e in baselines.items() if e["beats"]]
    not_beaten = [b for b, e in baselines.items() if not e["beats"]]

    def by(b: str) -> str:
        m = baselines[b]["metrics"].get(metric)
        return (f"{baselines[b]['name']} ({metric.replace('_', ' ')} {m['diff']:+.3f} [{m['low']:+.3f}, "
                f"{m['high']:+.3f}])") if m else baselines[b]["name"]

    parts = []
    if beaten:
        parts.append(f"beats {', '.join(by(b) for b in beaten)}")
    if not_beaten:
        parts.append(f"does not beat {', '.join(by(b) for b in not_beaten)}")
    statement = (f"{'; '.join(parts) or 'has no baseline comparison'} on development origins "
                 f"{_span(development)} "
                 f"(product model minus baseline, {level:.0%} block bootstrap); holdout origins "
                 f"{_span(holdout)} are reported on the results page, never chosen on")
    return {"calibration": card.calibration, "interval": card.interval,
            "conformal_level": card.conformal_level,
            "n_members": card.n_members, "target": card.target, "horizon_years": card.horizon_years,
            "development_origins": development, "holdout_origins": holdout, "metric": metric,
            "beats": beaten, "baselines": baselines, "statement": statement[0].upper() + statement[1:] + "."}


def backtest_metrics(run_metrics: dict[str, float]) -> dict[str, dict[str, float | None]]:
    """MLflow's flat `backtest_<metric>[_low|_high]` as {metric: {value, low, high}}."""
    out = {}
    for m in METRICS:
        if f"backtest_{m}" in run_metrics:
            out[m] = {"value": _number(run_metrics.get(f"backtest_{m}")),
                      "low": _number(run_metrics.get(f"backtest_{m}_low")),
                      "high": _number(run_metrics.get(f"backtest_{m}_high"))}
    return out
