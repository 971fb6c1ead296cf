"""Scoring stage: a registered model scores every country-year, with SHAP values stored beside.

Every score row carries its provenance (model name and version, the panel's content hash,
the params hash, the MLflow run) so it can be traced to what produced it. Rows whose
outcome was in the final model's training set are marked `in_training`: their scores are
fitted values, not forecasts, and the backtest (not these) is the measure of skill.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from features.panel import load_panel
from features.registry import FAMILIES as SOURCE_FAMILIES
from nexus.config import Params, PathsParams, ScoringParams
from nexus.countries import short_name
from nexus.errors import NexusError
from nexus.manifest import Manifest, atomic_path, imported_code_hash, is_complete, short
from training import registry
from training.calibration import set_label
from training.registry import ModelRef
from training.targets import PLACEMENT_FEATURES, add_targets, target_column

SCORES = "scores.parquet"
SCORES_CSV = "scores.csv"
SHAP_VALUES = "shap_values.parquet"
SHAP_FAMILIES = "shap_families.parquet"
# The shap_families columns: the current placement, then each signal family of features/registry.py
# (controls and the label are no signal; their features, if any, go to "other").
FAMILIES = ("placement", *(f for f in SOURCE_FAMILIES if f not in ("controls", "label")))


@dataclass(frozen=True)
class ScoreBuild:
    directory: Path
    manifest: Manifest
    built: bool


def resolve_model(paths: PathsParams, name: str, alias: str | None = None, version: str | None = None) -> ModelRef:
    """Resolve `name@alias` or `name/version` in the registry; a clear error when it points nowhere."""
    return registry.resolve(paths, name, alias=alias, version=version)


def features_dir_of(paths: PathsParams, ref: ModelRef) -> Path:
    key = ref.card.features_key
    directory = Path(paths.artifacts) / "features" / short(key)
    if not (directory / "manifest.json").exists():
        raise NexusError(f"{directory}: the panel model {ref.name} v{ref.version} was trained on is missing; "
                         "run 'nexus features' with the same params")
    return directory


BANDS = ("low", "elevated", "high")  # lowest first, as scoring.bands' cut-points rise
# A country-year whose score was never measured for its kind: it gets this in place of a band and
# is listed apart, never ranked (`not_ranked_reasons` says why).
INSUFFICIENT = "insufficient data"
LOW_COVERAGE = "coverage below scoring.min_coverage"
# The model reads the current placement, but the TIP report ranks no government here (a territory
# never ranked, or a year it was not): the backtest only measured rows with a placement.
NO_PLACEMENT = "no TIP placement, which this model reads"


def not_ranked_reasons(coverage: np.ndarray, params: ScoringParams,
                       placed: np.ndarray | None = None) -> np.ndarray:
    """Why each row is listed apart ("" where it is ranked): too few signals observed, or no placement.

    `placed` (a known listed status) is given only for a model that reads the current placement.
    """
    coverage = np.asarray(coverage, dtype="float64")
    reasons = np.where(np.isnan(coverage) | (coverage < params.min_coverage), LOW_COVERAGE, "")
    if placed is not None:
        reasons = np.where((reasons == "") & ~np.asarray(placed, dtype=bool), NO_PLACEMENT, reasons)
    return reasons.astype(object)


def band(p: np.ndarray, params: ScoringParams, not_ranked: np.ndarray | None = None) -> np.ndarray:
    """Each probability's band; INSUFFICIENT where `not_ranked` (from not_ranked_reasons) gives a reason."""
    low, elevated, high = BANDS
    bands = np.select([p >= params.bands.high, p >= params.bands.elevated], [high, elevated], low)
    if not_ranked is None:
        return bands
    return np.where(np.asarray(not_ranked) != "", INSUFFICIENT, bands)


def score(params: Params, paths: PathsParams, *, alias: str | None = None, version: str | None = None,
          force: bool = False, progress: Callable[[str], None] | None = None) -> ScoreBuild:
    """Score every country-year of the model's panel and store probabilities and SHAP values."""
    step = progress or (lambda msg: None)
    sp = params.scoring
    ref = resolve_model(paths, sp.model_name, alias=alias or (None if version else sp.model_alias), version=version)
    fdir = features_dir_of(paths, ref)
    feature_manifest = Manifest.read(fdir)
    scoring_dump = sp.model_dump(mode="json", exclude={"service"})  # serving settings never change a score
    code = imported_code_hash("scoring.score")
    key = Manifest.compute_key("score", {}, scoring_dump | {"model": f"{ref.name}/{ref.version}"},
                               {"features": feature_manifest.key}, code)
    directory = Path(paths.artifacts) / "score" / short(key)
    if not force and is_complete(directory):
        return ScoreBuild(directory, Manifest.read(directory), built=False)

    panel, catalog, _ = load_panel(fdir)
    card = ref.card
    model = registry.load_model(paths, ref)
    features = list(model.feature_names_in_)
    frame = add_targets(panel, card.target, card.horizon_years)
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise NexusError(f"model {ref.name} v{ref.version} reads columns the panel lacks: {', '.join(missing[:8])}")
    X = frame[features].astype("float64")
    step(f"scoring {len(X)} country-years with {ref.name} v{ref.version} ({card.n_members} boosters, "
         f"{card.calibration} calibration, Venn-Abers interval)")
    explanation = model.explain(X)
    served = model.predict_all(X, current_listed=frame["current_listed"])
    probability = served["p"].to_numpy()
    coverage = frame["coverage"].to_numpy("float64")
    reads_placement = any(c in PLACEMENT_FEATURES for c in features)
    placed = frame["current_listed"].notna().to_numpy() if reads_placement else None
    not_ranked = not_ranked_reasons(coverage, sp, placed)
    scores = pd.DataFrame({
        "iso3": frame["iso3"], "country": frame["iso3"].map(short_name), "year": frame["year"],
        "target_year": frame["target_year"], "probability": probability,
        "band": band(probability, sp, not_ranked), "not_ranked": not_ranked,
        "probability_raw": served["p_raw"].to_numpy(), "probability_low": served["p_low"].to_numpy(),
        "probability_high": served["p_high"].to_numpy(), "interval_method": card.interval,
        "conformal_set": set_label(served["set_yes"], served["set_no"]),
        "conformal_level": card.conformal_level, "calibration": card.calibration,
        "coverage": frame["coverage"], "in_training": frame[target_column(card.target, card.horizon_years)].notna(),
        "model_name": ref.name, "model_version": ref.version, "model_alias": ref.alias or "",
        "panel_sha256": feature_manifest.outputs["panel.parquet"],
        "params_sha256": card.params_sha256, "run_id": card.run_id,
        "features_key": feature_manifest.key,
    })
    shap_wide = pd.DataFrame(explanation.values, columns=features)
    shap_wide.insert(0, "base_value", explanation.base_values)
    shap_wide.insert(0, "year", frame["year"].to_numpy())
    shap_wide.insert(0, "iso3", frame["iso3"].to_numpy())
    family_of = {c: "placement" if c in PLACEMENT_FEATURES else catalog.get(c, {}).get("family") for c in features}
    fam = {f: [c for c in features if family_of[c] == f] for f in FAMILIES}
    families = pd.DataFrame({"iso3": frame["iso3"].to_numpy(), "year": frame["year"].to_numpy()})
    for f, cols in fam.items():
        families[f] = shap_wide[cols].sum(axis=1).to_numpy() if cols else 0.0
    other = [c for c in features if family_of[c] not in FAMILIES]
    if other:
        families["other"] = shap_wide[other].sum(axis=1).to_numpy()

    directory.mkdir(parents=True, exist_ok=True)
    for name, table in ((SCORES, scores), (SHAP_VALUES, shap_wide), (SHAP_FAMILIES, families)):
        with atomic_path(directory / name) as tmp:
            table.to_parquet(tmp, index=False)
    with atomic_path(directory / SCORES_CSV) as tmp:
        scores.to_csv(tmp, index=False, float_format="%.6f")
    manifest = Manifest(stage="score", key=key, inputs={}, params=scoring_dump,
                        upstream={"features": feature_manifest.key},
                        outputs={SCORES: "", SCORES_CSV: "", SHAP_VALUES: "", SHAP_FAMILIES: ""},
                        extra={"model_name": ref.name, "model_version": ref.version, "alias": ref.alias,
                               "features_dir": str(fdir), "rows": len(scores)})
    manifest.write(directory)
    return ScoreBuild(directory, manifest, built=True)


def load_scores(directory: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, Manifest]:
    manifest = Manifest.read(directory)
    manifest.verify(directory, hint="run 'nexus score --force'")
    return (pd.read_parquet(directory / SCORES), pd.read_parquet(directory / SHAP_VALUES),
            pd.read_parquet(directory / SHAP_FAMILIES), manifest)


def find_score_dir(paths: PathsParams, model_name: str, version: str,
                   scoring: ScoringParams | None = None) -> Path | None:
    """The newest stored score artifact of a model version (made with these scoring params, if given).

    Looked up by what the manifest says it scored rather than by recomputing the key, whose
    code hash changes with any edit under scoring/: a service restart after such an edit still
    finds the scores it served.
    """
    wanted = scoring.model_dump(mode="json", exclude={"service"}) if scoring is not None else None
    found = []
    for manifest_path in (Path(paths.artifacts) / "score").glob("*/manifest.json"):
        try:
            manifest = Manifest.read(manifest_path.parent)
        except NexusError:
            continue
        extra = manifest.extra
        if extra.get("model_name") != model_name or str(extra.get("model_version")) != str(version):
            continue
        if wanted is not None and manifest.params != wanted:
            continue
        found.append((manifest.created, str(manifest_path.parent)))
    return Path(max(found)[1]) if found else None
