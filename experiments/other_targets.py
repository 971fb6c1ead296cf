"""`nexus other-targets`: models of other trafficking measures; do their rankings agree with the TIP model's?

The TIP tiers grade a government's effort as the US government judges it. Two other publishers
grade something close: Walk Free's Global Slavery Index government response and GI-TOC's
Organized Crime Index human-trafficking market score. Each is made a target
(training/targets.py EDITION_TARGETS, cut where `training.target_cuts` declares), backtested on
the few origins its editions allow, and fitted on every labelled row; its ranking of the
countries in the panel's last year is compared with the TIP-based model's (Spearman over the
countries both publishers cover, and the overlap of the two top-n lists, with the overlap
expected by chance). The TIP-based model is the declared reference experiment
(`other_targets.reference_experiment`, signals alone: no placement features, so no model reads
its own label's past) refitted on exactly the other model's features: the target's own source
and every source sharing its inputs are left out of both (targets.leaking_sources), so a
difference between the rankings comes from the label, not from the inputs. The same reference
with every feature it normally reads is reported beside it.

Nothing is chosen here: the cuts are declared from the publishers' scales, the features follow
from declared lineage, and the holdout origins are reported as such.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from experiments.runner import Experiment, load_experiment, resolve
from nexus.config import Params, PathsParams

TAG_TARGET = "nexus.other_targets.target"
TAG_KEY = "nexus.other_targets.key"
BASELINES = ["base_rate", "persistence"]   # persistence reads the current TIP tier: "TIP tier now"
SKILL = ("auc", "average_precision", "log_loss")


@dataclass(frozen=True)
class Agreement:
    """Two rankings of the same countries in one year."""

    reference: str           # which TIP model
    year: int
    countries: int
    spearman: float
    top_n: int
    overlap: int
    expected: float          # overlap expected of two random top-n lists of these countries
    only_target: list[str] = field(default_factory=list)     # in the target model's top n only
    only_reference: list[str] = field(default_factory=list)  # in the TIP model's top n only


@dataclass(frozen=True)
class TargetResult:
    target: str
    label: str
    cut: str                  # the declared cut, in words
    editions: list[int]       # editions found in the panel
    positives: dict           # edition → (labelled rows, positives)
    left_out: list[str]       # sources neither model of this comparison reads
    features: list[str]       # the features both models read
    origins: pd.DataFrame     # origin, holdout, train_rows, test_rows, test_positives
    skill: pd.DataFrame       # era, model, rows, positives, auc, average_precision, log_loss
    agreement: list[Agreement]
    labels_spearman: float    # the published measure (risk direction) against the current TIP tier
    labels_countries: int
    note: str = ""            # why there is no backtest, when there is none


@dataclass(frozen=True)
class OtherTargets:
    results: list[TargetResult]
    settings: dict


def _variant(base: Experiment, name: str, description: str, changes: dict) -> Experiment:
    return replace(base, name=name, description=description, overrides={**base.overrides, **changes},
                   compare_to=base.name)


def variants(params: Params, target: str, leaks: set[str]) -> tuple[Experiment, Experiment, Experiment]:
    """(reference as declared, reference without the target's leaking sources, the target's model)."""
    from nexus.errors import ConfigError

    try:
        ref = load_experiment(params.other_targets.reference_experiment)
    except ConfigError as exc:
        raise ConfigError("params", "other_targets.reference_experiment", exc.problem) from None
    excluded = [*resolve(ref, params).training.exclude_features, *sorted(leaks)]
    matched = _variant(ref, f"{ref.name}-without-{target}-sources",
                       f"{ref.name} without the sources of {target}", {"training.exclude_features": excluded})
    # few editions: no calibration history worth the name; rankings do not depend on it
    model = _variant(ref, f"{ref.name}-{target}", f"{ref.name} trained on {target}",
                     {"training.target": target, "training.exclude_features": excluded,
                      "training.calibration.method": "none", "training.baselines": BASELINES})
    return ref, matched, model


def cut_text(target: str, params: Params) -> str:
    from training.targets import EDITION_TARGETS

    spec, cuts = EDITION_TARGETS[target], params.training.target_cuts
    if spec.cut == "weakest_share":
        return (f"`{spec.column}` in the weakest {cuts.gsi_weakest_share:.0%} of its edition "
                "(`training.target_cuts.gsi_weakest_share`)")
    return f"`{spec.column}` ≥ {cuts.ocindex_ht_min_score:g} (`training.target_cuts.ocindex_ht_min_score`)"


def agreement(reference: str, year: int, target_scores: pd.Series, reference_scores: pd.Series,
              top_n: int) -> Agreement:
    """Spearman and top-n overlap of two score series over their common countries (iso3 index)."""
    from scipy.stats import spearmanr

    both = pd.concat([target_scores.rename("t"), reference_scores.rename("r")], axis=1).dropna()
    n = len(both)
    k = min(top_n, n)
    top_t = set(both["t"].sort_values(ascending=False, kind="stable").index[:k])
    top_r = set(both["r"].sort_values(ascending=False, kind="stable").index[:k])
    rho = float(spearmanr(both["t"], both["r"]).statistic) if n > 2 else float("nan")
    return Agreement(reference, year, n, rho, k, len(top_t & top_r), k * k / n if n else float("nan"),
                     sorted(top_t - top_r), sorted(top_r - top_t))


def skill_table(predictions: pd.DataFrame) -> pd.DataFrame:
    """Per era (development, holdout) and model: rows, positives and the pooled metrics."""
    from training.metrics import score_metrics

    rows = []
    for (holdout, model), g in predictions.groupby(["holdout", "model"], sort=True):
        m = score_metrics(g["y"], g["p"], g["origin"], 1)
        rows.append({"era": "holdout" if holdout else "development", "model": model, "rows": len(g),
                     "positives": int(g["y"].sum()), **{k: m[k] for k in SKILL}})
    return pd.DataFrame(rows, columns=["era", "model", "rows", "positives", *SKILL])


def origins_table(frame: pd.DataFrame, target: str, predictions: pd.DataFrame, horizon: int) -> pd.DataFrame:
    from training.backtest import MODEL

    labelled = frame[frame[target].notna()]
    rows = []
    for origin, g in predictions[predictions["model"] == MODEL].groupby("origin", sort=True):
        train = labelled[labelled["year"] + horizon <= origin]
        rows.append({"origin": int(origin), "holdout": bool(g["holdout"].iat[0]), "train_rows": len(train),
                     "test_rows": len(g), "test_positives": int(g["y"].sum())})
    return pd.DataFrame(rows, columns=["origin", "holdout", "train_rows", "test_rows", "test_positives"])


def latest_scores(frame: pd.DataFrame, target: str, features: list[str], tp, seed: int,
                  year: int) -> pd.Series:
    """Raw scores of the rows of `year` by a RiskModel fitted on every labelled row (iso3 index)."""
    from training.model import RiskModel

    labelled = frame[frame[target].notna()]
    model = RiskModel.from_params(tp, seed).fit(labelled[features], labelled[target].astype(int))
    latest = frame[frame["year"] == year]
    return pd.Series(model.predict_raw(latest[features]), index=latest["iso3"].to_numpy())


def run_target(target: str, params: Params, panel: pd.DataFrame, catalog: dict, provenance: pd.DataFrame,
               progress: Callable[[str], None]) -> TargetResult:
    """Backtest one other target, fit it and its TIP twin on the same features, compare the rankings."""
    from nexus.errors import ConfigError
    from training.backtest import MODEL, available_features, backtest
    from training.selection import panel_sources, select_features
    from training.targets import EDITION_TARGETS, leaking_sources, listed_status, placement_tier
    from training.train import labelled_rows

    spec = EDITION_TARGETS[target]
    leaks = leaking_sources(target, panel_sources(catalog)[0])
    ref, matched, model = variants(params, target, leaks)
    p_ref, p_matched, p_model = (resolve(e, params) for e in (ref, matched, model))
    tp = p_model.training
    features = select_features(catalog, tp)
    assert features == select_features(catalog, p_matched.training)   # one feature set, two labels
    frame, column = labelled_rows(panel, tp, provenance)
    labelled = frame[frame[column].notna()]
    editions = sorted(int(y) for y in labelled["target_year"].unique())
    positives = {int(e): (len(g), int(g[column].sum())) for e, g in labelled.groupby("target_year")}
    progress(f"{target}: editions {', '.join(map(str, editions))}; {len(labelled)} labelled rows; "
             f"{len(features)} features ({', '.join(sorted(leaks)) or 'nothing'} left out)")
    note, skill = "", pd.DataFrame(columns=["era", "model", "rows", "positives", *SKILL])
    origins = pd.DataFrame(columns=["origin", "holdout", "train_rows", "test_rows", "test_positives"])
    try:
        with warnings.catch_warnings():   # venn_abers warns on an all-NaN slice of a small origin; harmless
            warnings.filterwarnings("ignore", category=RuntimeWarning, module="venn_abers")
            bt = backtest(frame, column, features, tp, p_model.seed, progress, development_only=False)
        predictions = bt.predictions
        skill = skill_table(predictions)
        origins = origins_table(frame, column, predictions, tp.horizon_years)
        skill["model"] = skill["model"].replace({MODEL: f"model of {target}", "persistence": "TIP tier now"})
    except ConfigError as exc:   # no origin has both a training and a test edition in the panel's years
        note = exc.problem
    year = int(frame["year"].max())
    latest = frame[frame["year"] == year]
    cols = available_features(latest, features, tp.ensemble.min_feature_coverage)
    progress(f"{target}: final fits on {len(cols)} features observed in {year}")
    scores = latest_scores(frame, column, cols, tp, p_model.seed, year)
    tip_frame, tip_column = labelled_rows(panel, p_matched.training)
    tip_scores = latest_scores(tip_frame, tip_column, cols, p_matched.training, p_matched.seed, year)
    ref_features = select_features(catalog, p_ref.training)
    ref_cols = available_features(latest, ref_features, p_ref.training.ensemble.min_feature_coverage)
    ref_scores = latest_scores(tip_frame, tip_column, ref_cols, p_ref.training, p_ref.seed, year)
    # the countries both publishers cover: a value in the target's latest edition, a TIP placement in year
    last_edition = labelled["target_year"].max()
    covered = set(frame.loc[(frame["target_year"] == last_edition) & frame["target_value"].notna(), "iso3"])
    status = listed_status(latest)
    placed = set(latest.loc[status.notna(), "iso3"])
    common = sorted(covered & placed)
    top_n = params.other_targets.top_n
    agree = [agreement(f"{ref.name}, same features", year, scores[common], tip_scores[common], top_n),
             agreement(f"{ref.name}, its own features", year, scores[common], ref_scores[common], top_n)]
    # the two published measures themselves, risk direction: weak response, high market score
    published = frame.loc[frame["target_year"] == last_edition].set_index("iso3")["target_value"]
    published = -published if spec.cut == "weakest_share" else published
    tier = placement_tier(latest["label_tier"], status)
    tier = pd.Series(tier.to_numpy(), index=latest["iso3"].to_numpy())
    both = pd.concat([published.rename("v"), tier.rename("tier")], axis=1).reindex(common).dropna()
    from scipy.stats import spearmanr

    rho = float(spearmanr(both["v"], both["tier"]).statistic) if len(both) > 2 else float("nan")
    return TargetResult(target, spec.label, cut_text(target, params), editions, positives, sorted(leaks),
                        cols, origins, skill, agree, rho, len(both), note)


def build_other_targets(params: Params, paths: PathsParams, *, progress: Callable[[str], None] | None = None,
                        force_features: bool = False) -> OtherTargets:
    """Build (or find) the panel, then each declared other target's backtest and ranking agreement."""
    from features.panel import build_features, load_panel
    from training.targets import EDITION_TARGETS, target_provenance

    step = progress or (lambda msg: None)
    build = build_features(params.features, params.dask, paths.raw, paths.artifacts, force=force_features,
                           progress=step)
    panel, catalog, _ = load_panel(build.directory)
    provenance = target_provenance(build.directory, params.other_targets.targets[0])
    results = []
    for target in params.other_targets.targets:
        spec = EDITION_TARGETS[target]
        if spec.column not in panel.columns:
            from nexus.errors import ConfigError

            raise ConfigError("params", "other_targets.targets",
                              f"{target} needs the source {spec.source} in features.sources (the panel has "
                              f"no {spec.column}); the real profile has it: nexus --params params.real.yaml")
        results.append(run_target(target, params, panel, catalog, provenance, step))
    tp = params.training
    reference = params.other_targets.reference_experiment
    settings = {"reference_experiment": reference,
                "reference_description": load_experiment(reference).description,
                "top_n": params.other_targets.top_n, "horizon": tp.horizon_years,
                "holdout_first_origin": tp.backtest.holdout_first_origin,
                "n_estimators": tp.xgb.n_estimators, "n_members": tp.ensemble.n_members,
                "min_feature_coverage": tp.ensemble.min_feature_coverage,
                "panel_sha256": build.manifest.outputs.get("panel.parquet", "")}
    return OtherTargets(results, settings)


def target_record(result: TargetResult, settings: dict) -> dict:
    """What one target's MLflow run holds: its definition, origins, skill and agreement (JSON-ready)."""
    import json
    from dataclasses import asdict

    metrics = {"labelled_rows": sum(n for n, _ in result.positives.values()), "origins": len(result.origins),
               "features": len(result.features), "labels_spearman": result.labels_spearman}
    for r in result.skill.to_dict(orient="records"):
        name = f"{r['era']}_{'model' if r['model'].startswith('model') else r['model'].replace(' ', '_')}"
        metrics |= {f"{name}_{k}": r[k] for k in SKILL}
    for i, a in enumerate(result.agreement):
        prefix = "same_features" if i == 0 else "own_features"
        metrics |= {f"{prefix}_spearman": a.spearman, f"{prefix}_top_overlap": a.overlap,
                    f"{prefix}_top_expected": a.expected, f"{prefix}_countries": a.countries}
    record = {"target": result.target, "cut": result.cut, "editions": result.editions,
              "positives": {str(k): v for k, v in result.positives.items()}, "left_out": result.left_out,
              "features": result.features, "origins": result.origins.to_dict(orient="records"),
              "agreement": [asdict(a) for a in result.agreement], "note": result.note, "settings": settings,
              "metrics": {k: float(v) for k, v in metrics.items() if v is not None and np.isfinite(float(v))}}
    return json.loads(json.dumps(record, default=str))
