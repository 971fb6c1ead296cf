"""Gathering: train (or find up to date) every variant and horizon the page reports, score the
served model and evaluate every forecast in one table, so all models share the same bootstrap
draws and are paired on identical rows. The stages are imported at call time (they are heavy)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from experiments.results.inputs import ResultsInputs, Training
from experiments.results.models import (
    HORIZONS,
    NO_SINGLE_VINTAGE,
    PERSISTENCE,
    PRODUCT,
    SINGLE_VINTAGE,
    VARIANTS,
    Variant,
)


def variant_params(params, variant: Variant, horizon: int, panel_sources: set[str]):
    """The params a variant trains with at `horizon`, under its own registry name; None if it is moot here."""
    from nexus.config import experiment_params

    overrides = dict(variant.overrides)
    if variant.name == NO_SINGLE_VINTAGE:
        present = [s for s in SINGLE_VINTAGE if s in panel_sources]
        if not present:
            return None
        overrides["training.exclude_features"] = sorted(set(params.training.exclude_features) | set(present))
    served = horizon == params.training.horizon_years
    overrides["training.horizon_years"] = horizon
    overrides["scoring.model_name"] = (
        params.scoring.model_name + variant.suffix + ("" if served else f"-h{horizon}")
    )
    return experiment_params(params, overrides, f"results variant {variant.name} (horizon {horizon})")


def combined_predictions(runs: Sequence[tuple[str, int, Path]]) -> pd.DataFrame:
    """Each run's product-model forecasts under its variant's name, plus the product runs' baselines."""
    from training.train import BACKTEST, MODEL

    parts = []
    for variant, _, directory in runs:
        backtest = pd.read_parquet(Path(directory) / BACKTEST)
        parts.append(backtest[backtest["model"] == MODEL].assign(model=variant))
        if variant == PRODUCT:
            parts.append(backtest[backtest["model"] != MODEL])
    return pd.concat(parts, ignore_index=True)


def gather(
    params,
    paths,
    *,
    command: str,
    horizons: Sequence[int] = HORIZONS,
    variants: Sequence[str] | None = None,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> ResultsInputs:
    """Train (or find up to date) every variant and horizon, score the served model, evaluate everything."""
    from features.lineage import dependent_sources
    from features.panel import build_features, load_panel
    from nexus.errors import NexusError
    from scoring.score import load_scores, score
    from training.evaluation import evaluate
    from training.train import CALIBRATION, train

    step = progress or (lambda msg: None)
    tp = params.training
    if PERSISTENCE not in tp.baselines:
        raise NexusError(
            "the results page compares every model with persistence; add 'persistence' to training.baselines"
        )
    served_h = tp.horizon_years
    horizons = sorted(set(horizons) | {served_h})
    wanted = [v for v in VARIANTS if variants is None or v.name in variants or v.name == PRODUCT]
    build = build_features(
        params.features, params.dask, paths.raw, paths.artifacts, force=force, progress=progress
    )
    panel, catalog, feature_manifest = load_panel(build.directory)
    panel_sources = {info["source"] for info in catalog.values()}

    trainings, runs = [], []
    for variant in wanted:
        for h in horizons if variant.every_horizon else [served_h]:
            vp = variant_params(params, variant, h, panel_sources)
            if vp is None:
                continue
            step(f"results: {variant.name} at horizon {h} ({vp.scoring.model_name})")
            alias = "champion" if variant.name == PRODUCT and h == served_h else None
            result = train(vp, paths, build, force=force, register_alias=alias, progress=progress)
            metrics = {
                k: v for k, v in result.metrics.items() if k not in ("model_version", "run_id", "champion")
            }
            calibration = json.loads((result.directory / CALIBRATION).read_text(encoding="utf-8"))
            trainings.append(
                Training(variant.name, h, result.manifest.key, vp.scoring.model_name, calibration, metrics)
            )
            runs.append((variant.name, h, result.directory))
            if variant.name == PRODUCT and h == served_h:
                served = result

    scored = score(params, paths, version=served.metrics["model_version"], force=force, progress=progress)
    scores, shap_values, _, _ = load_scores(scored.directory)
    predictions = combined_predictions(runs)
    step(
        f"results: evaluating {predictions['model'].nunique()} models at horizons "
        f"{', '.join(map(str, horizons))} (block bootstrap, {tp.bootstrap.n_resamples} resamples)"
    )
    common = {
        "k": tp.top_k,
        "threshold": params.scoring.bands.elevated,
        "n_resamples": tp.bootstrap.n_resamples,
        "level": tp.bootstrap.level,
        "seed": params.seed,
    }
    versus_persistence = evaluate(predictions, reference=PERSISTENCE, **common)
    versus_product = evaluate(predictions, reference=PRODUCT, **common).paired

    years, bt = params.features.years, tp.backtest
    from training.targets import TARGETS

    profile = {
        "command": command,
        "real": not params.world.generate,
        "target": tp.target,
        "target_label": TARGETS[tp.target][0],
        "horizon": served_h,
        "horizons": horizons,
        "years": f"{years.first}–{years.last}",
        "first_origin": bt.first_origin,
        "last_origin": bt.last_origin,
        "holdout_first_origin": bt.holdout_first_origin,
        "level": tp.bootstrap.level,
        "n_resamples": tp.bootstrap.n_resamples,
        "top_k": tp.top_k,
        "elevated": params.scoring.bands.elevated,
        "high": params.scoring.bands.high,
        "label_source": params.features.label_source,
        "first_report_year": tp.label.first_report_year,
        "min_evidence": tp.label.min_evidence,
        "n_members": tp.ensemble.n_members,
        "min_feature_coverage": tp.ensemble.min_feature_coverage,
        "calendar": params.features.calendar,
        "promotion_metric": params.promotion.metric,
        "promotion_margin": params.promotion.margin,
        "single_vintage": [s for s in SINGLE_VINTAGE if s in panel_sources],
        "variants": [v.name for v in wanted],
    }
    provenance = {"features key": build.manifest.key, "panel": feature_manifest.outputs["panel.parquet"]}
    for t in trainings:
        provenance[f"train key ({t.variant}, horizon {t.horizon})"] = t.key
    dependent = sorted(dependent_sources(params.features.sources, params.features.label_source))
    return ResultsInputs(
        profile=profile,
        trainings=trainings,
        predictions=predictions,
        versus_persistence=versus_persistence,
        versus_product=versus_product,
        panel=panel,
        catalog=catalog,
        dependent=dependent,
        scores=scores,
        shap_values=shap_values,
        provenance=provenance,
    )
