"""`nexus signals`: a scorecard per source — coverage, declared lineage, redundancy and added value.

Added value is measured, never inferred from lineage: each source is added to the
independent-sources model (or, if that model already reads it, left out of it) and left out of
the full model, and the paired change in log loss, average precision and onset AUC is reported
with block-bootstrap intervals on the development origins and, separately, on the holdout. The
variants are `Experiment` declarations built from the two declared experiments named in
`signals:` (params.yaml), so they go through the same validation as experiments/*.yaml. One
backtest of each reference model serves every source; the backtests run on the cheaper settings
of `signals:` (stated on the page) and are cached by content key under paths.artifacts.

Redundancy is measured on each source's primary column (its first declared one): the largest
correlation with another source's primary column in each family, the partial correlation with
that same column given every other source's primary column, and the variance inflation factor.
Sources cover different years, so the correlation matrix is pairwise-complete; pairs observed
together in fewer than `signals.min_pairs` country-years count as uncorrelated (and are shown as —).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.runner import Experiment, load_experiment, resolve
from nexus.config import Params, PathsParams

TAG_SOURCE = "nexus.signals.source"
TAG_KEY = "nexus.signals.key"
COMPARISONS = ("independent", "full")   # added to the independent-sources model; left out of the full model
MEASURES = (("all", "log_loss"), ("all", "average_precision"), ("onset", "auc"))
EIGEN_FLOOR = 0.01   # smallest eigenvalue kept when the pairwise-complete correlation matrix is inverted


@dataclass(frozen=True)
class Pairing:
    """One source's comparison against one reference model: with it vs without it, on identical rows."""

    source: str
    comparison: str              # "independent" or "full"
    action: str                  # "added" (to the independent model), "left out" (of either model)
    with_source: Experiment
    without_source: Experiment


@dataclass(frozen=True)
class Scorecard:
    sources: list[str]
    coverage: pd.DataFrame       # one row per source
    lineage: pd.DataFrame        # source, family, declared inputs, why not independent
    redundancy: pd.DataFrame     # one row per source: corr / partner / partial per family, vif
    added_value: pd.DataFrame    # source, comparison, action, holdout, subset, metric, diff, low, high
    settings: dict
    seconds: dict                # source → wall time of its backtests (not on the page: not reproducible)


# ---------------------------------------------------------------------------------------------
# Panel facts: columns, coverage, lineage

def source_columns(catalog: dict) -> dict[str, list[str]]:
    """Each source's feature columns (lags included) in catalog order; label columns are not features."""
    out: dict[str, list[str]] = {}
    for column, info in catalog.items():
        if info["family"] != "label" and not info.get("label_construct"):
            out.setdefault(info["source"], []).append(column)
    return out


def primary_columns(catalog: dict) -> dict[str, str]:
    """Each source's first declared current-year column: the one its redundancy is measured on."""
    out: dict[str, str] = {}
    for column, info in catalog.items():
        if info["family"] != "label" and not info.get("label_construct") and not info.get("extra_lag"):
            out.setdefault(info["source"], column)
    return out


def coverage(panel: pd.DataFrame, catalog: dict, sources: list[str]) -> pd.DataFrame:
    """Country-years observing any of a source's current-year columns: overall, and in the last year."""
    latest = int(panel["year"].max())
    in_latest = panel["year"] == latest
    rows = []
    for source in sources:
        own = [c for c, info in catalog.items() if info["source"] == source and not info.get("extra_lag")
               and c in panel.columns]
        seen = panel[own].notna().any(axis=1) if own else pd.Series(False, index=panel.index)
        years = panel.loc[seen, "year"]
        rows.append({"source": source,
                     "countries": int(panel.loc[seen, "iso3"].nunique()),
                     "first_year": int(years.min()) if len(years) else None,
                     "last_year": int(years.max()) if len(years) else None,
                     "country_years": int(seen.sum()), "panel_rows": len(panel),
                     "share": float(seen.mean()) if len(panel) else float("nan"),
                     "latest_year": latest, "latest_countries": int(seen[in_latest].sum()),
                     "latest_rows": int(in_latest.sum()),
                     "latest_share": float(seen[in_latest].mean()) if in_latest.any() else float("nan")})
    return pd.DataFrame(rows)


def lineage(catalog: dict, sources: list[str], label_source: str) -> pd.DataFrame:
    """Declared inputs of each source and, from them, why it is not independent (empty when it is)."""
    from features.lineage import dependence

    first = {}
    for info in catalog.values():
        first.setdefault(info["source"], info)
    rows = []
    for s in sources:
        info = first.get(s, {})
        rows.append({"source": s, "family": info.get("family", ""), "inputs": list(info.get("lineage", [])),
                     "dependence": dependence(s, label_source)})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# Redundancy

def pairwise_correlation(panel: pd.DataFrame, columns: list[str],
                         min_pairs: int) -> tuple[np.ndarray, np.ndarray]:
    """(Pearson r on pairwise-complete rows, rows observed together); r is NaN below min_pairs."""
    values = panel[columns].to_numpy(float)
    observed = ~np.isnan(values)
    n = observed.T.astype(float) @ observed.astype(float)
    r = np.full((len(columns), len(columns)), np.nan)
    for i in range(len(columns)):
        r[i, i] = 1.0
        for j in range(i + 1, len(columns)):
            both = observed[:, i] & observed[:, j]
            if both.sum() >= min_pairs:
                a, b = values[both, i], values[both, j]
                if a.std() > 0 and b.std() > 0:
                    r[i, j] = r[j, i] = float(np.corrcoef(a, b)[0, 1])
    return r, n


def nearest_correlation(r: np.ndarray, floor: float = EIGEN_FLOOR) -> np.ndarray:
    """A pairwise-complete matrix made invertible: eigenvalues floored, unit diagonal restored.

    Pairwise-complete correlations need not form a valid correlation matrix (no joint sample
    has them all); inverting one as it is gives partial correlations of ±1 that mean nothing.
    """
    values, vectors = np.linalg.eigh((r + r.T) / 2)
    fixed = (vectors * np.maximum(values, floor)) @ vectors.T
    scale = np.sqrt(np.diag(fixed))
    return fixed / np.outer(scale, scale)


def redundancy(panel: pd.DataFrame, catalog: dict, sources: list[str], min_pairs: int) -> pd.DataFrame:
    """Per source: its strongest correlate in each family, the partial correlation with it, and the VIF.

    Partial correlations and VIFs come from the pseudo-inverse of the pairwise-complete matrix
    over every source's primary column (unmeasurable pairs set to 0), so they condition on every
    other source at once.
    """
    primary = primary_columns(catalog)
    measured = [s for s in sources if s in primary]
    columns = [primary[s] for s in measured]
    r, _ = pairwise_correlation(panel, columns, min_pairs)
    precision = np.linalg.inv(nearest_correlation(np.nan_to_num(r, nan=0.0)))
    diag = np.diag(precision)
    with np.errstate(invalid="ignore", divide="ignore"):
        partial = -precision / np.sqrt(np.outer(diag, diag))
    partial = np.clip(partial, -1, 1)
    family = {s: catalog[primary[s]]["family"] for s in measured}
    families = list(dict.fromkeys(family.values()))
    rows = []
    for i, s in enumerate(measured):
        row = {"source": s, "column": columns[i], "family": family[s],
               "vif": float(diag[i]) if diag[i] > 0 else float("nan")}
        for f in families:
            others = [j for j, t in enumerate(measured)
                      if family[t] == f and t != s and not np.isnan(r[i, j])]
            best = max(others, key=lambda j: abs(r[i, j])) if others else None
            row[f"corr_{f}"] = float(r[i, best]) if best is not None else float("nan")
            row[f"partner_{f}"] = measured[best] if best is not None else ""
            row[f"partial_{f}"] = float(partial[i, best]) if best is not None else float("nan")
        rows.append(row)
    for s in sources:
        if s not in primary:
            rows.append({"source": s, "column": "", "family": "", "vif": float("nan")})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# The variants: declared experiments, built programmatically

def cheap_overrides(params: Params) -> dict:
    """The scorecard's backtest settings, as dotted overrides every variant carries."""
    s = params.signals
    return {"training.xgb.n_estimators": s.n_estimators, "training.ensemble.n_members": s.n_members,
            "training.bootstrap.n_resamples": s.n_resamples}


def _variant(base: Experiment, name: str, description: str, changes: dict) -> Experiment:
    return replace(base, name=name, description=description, overrides={**base.overrides, **changes},
                   compare_to=base.name)


def pairings(params: Params, catalog: dict) -> tuple[dict[str, Experiment], list[Pairing]]:
    """The two reference experiments (cheap settings) and, per source with features, its two pairings."""
    from nexus.errors import ConfigError
    from training.selection import select_features

    cheap = cheap_overrides(params)
    refs = {}
    for comparison, key in zip(COMPARISONS, ("independent_experiment", "full_experiment"), strict=True):
        try:
            declared = load_experiment(getattr(params.signals, key))
        except ConfigError as exc:
            raise ConfigError("params", f"signals.{key}", exc.problem) from None
        refs[comparison] = replace(declared, overrides={**declared.overrides, **cheap})
    columns = source_columns(catalog)
    used = {}
    for comparison, exp in refs.items():
        chosen = set(select_features(catalog, resolve(exp, params).training))
        used[comparison] = {s for s, cols in columns.items() if chosen & set(cols)}
    out = []
    for source in columns:
        for comparison, ref in refs.items():
            excluded = list(resolve(ref, params).training.exclude_features)
            if source in used[comparison]:
                without = _variant(ref, f"{ref.name}-without-{source}", f"{ref.name} without {source}",
                                   {"training.exclude_features": [*excluded, source]})
                out.append(Pairing(source, comparison, "left out", ref, without))
            elif comparison == "independent":
                others = sorted(set(columns) - used[comparison] - {source})
                with_ = _variant(ref, f"{ref.name}-with-{source}", f"{ref.name} with {source} added",
                                 {"training.independent_sources_only": False,
                                  "training.exclude_features": [*excluded, *others]})
                out.append(Pairing(source, comparison, "added", with_, ref))
    return refs, out


# ---------------------------------------------------------------------------------------------
# Backtests (cached by content) and paired differences

def variant_backtest(experiment: Experiment, params: Params, paths: PathsParams, build, panel: pd.DataFrame,
                     catalog: dict, progress: Callable[[str], None]) -> pd.DataFrame:
    """The product model's out-of-sample forecasts under `experiment`, read back when already computed."""
    from nexus.manifest import atomic_path, imported_code_hash, sha256_json, short
    from training.backtest import MODEL, backtest
    from training.selection import select_features
    from training.train import labelled_rows

    resolved = resolve(experiment, params)
    tp = resolved.training
    features = select_features(catalog, tp)
    code = imported_code_hash("training.backtest")
    panel_sha = build.manifest.outputs.get("panel.parquet", build.manifest.key)   # content, not build code
    key = sha256_json({"panel": panel_sha, "features": features,
                       "training": tp.model_dump(mode="json"), "seed": resolved.seed, "code": code})
    target_file = Path(paths.artifacts) / "signals" / "backtests" / f"{short(key)}.parquet"
    if target_file.is_file():
        return pd.read_parquet(target_file)
    progress(f"backtest {experiment.name}: {len(features)} features")
    frame, target = labelled_rows(panel, tp)
    with warnings.catch_warnings():   # venn_abers warns on an all-NaN slice of a small origin; harmless
        warnings.filterwarnings("ignore", category=RuntimeWarning, module="venn_abers")
        bt = backtest(frame, target, features, tp, resolved.seed, xgb_only=True)
    predictions = bt.predictions[bt.predictions["model"] == MODEL].reset_index(drop=True)
    with atomic_path(target_file) as tmp:
        predictions.to_parquet(tmp, index=False)
    return predictions


def paired_added_value(with_source: pd.DataFrame, without_source: pd.DataFrame,
                       params: Params) -> pd.DataFrame:
    """metric(with) − metric(without) on identical rows, dev and holdout, block-bootstrap intervals."""
    from training.evaluation import evaluate

    both = pd.concat([with_source.assign(model="with"), without_source.assign(model="without")],
                     ignore_index=True)
    tables = evaluate(both, k=params.training.top_k, threshold=params.scoring.bands.elevated,
                      n_resamples=params.signals.n_resamples, level=params.training.bootstrap.level,
                      seed=params.seed, reference="without")
    paired = tables.paired
    keep = pd.concat([paired[(paired["subset"] == s) & (paired["metric"] == m)] for s, m in MEASURES])
    keep = keep[["holdout", "subset", "metric", "diff", "low", "high"]].reset_index(drop=True)
    # identical forecasts: the source's columns never met ensemble.min_feature_coverage at these origins
    def p_of(rows: pd.DataFrame, holdout: bool) -> np.ndarray:
        return rows[rows["holdout"] == holdout].sort_values(["origin", "iso3"])["p"].to_numpy()

    same = {h: bool(np.allclose(p_of(with_source, h), p_of(without_source, h))) for h in (False, True)}
    return keep.assign(unused=keep["holdout"].map(same).astype(bool))


def build_scorecard(params: Params, paths: PathsParams, *, progress: Callable[[str], None] | None = None,
                    force_features: bool = False) -> Scorecard:
    """Build (or find) the panel, then every source's coverage, lineage, redundancy and added value."""
    from features.panel import build_features, load_panel

    step = progress or (lambda msg: None)
    build = build_features(params.features, params.dask, paths.raw, paths.artifacts, force=force_features,
                           progress=step)
    panel, catalog, _ = load_panel(build.directory)
    sources = [s for s in params.features.sources if s != params.features.label_source]
    refs, plan = pairings(params, catalog)
    cache: dict[str, pd.DataFrame] = {}

    def forecasts(exp: Experiment) -> pd.DataFrame:
        if exp.name not in cache:
            cache[exp.name] = variant_backtest(exp, params, paths, build, panel, catalog, step)
        return cache[exp.name]

    for comparison, ref in refs.items():
        started = time.perf_counter()
        forecasts(ref)
        step(f"reference {ref.name} ({comparison}): {time.perf_counter() - started:.0f}s")
    parts, seconds = [], {}
    for i, source in enumerate(sources, 1):
        started = time.perf_counter()
        for p in [p for p in plan if p.source == source]:
            diff = paired_added_value(forecasts(p.with_source), forecasts(p.without_source), params)
            parts.append(diff.assign(source=source, comparison=p.comparison, action=p.action))
        seconds[source] = time.perf_counter() - started
        step(f"source {i}/{len(sources)} {source}: {seconds[source]:.0f}s")
    columns = ["source", "comparison", "action", "holdout", "subset", "metric", "diff", "low", "high",
               "unused"]
    added = pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)
    settings = {"full_experiment": params.signals.full_experiment,
                "independent_experiment": params.signals.independent_experiment,
                "full_description": refs["full"].description,
                "independent_description": refs["independent"].description,
                **{k.split(".")[-1]: v for k, v in cheap_overrides(params).items()},
                "level": params.training.bootstrap.level, "min_pairs": params.signals.min_pairs,
                "eigen_floor": EIGEN_FLOOR,
                "top_k": params.training.top_k, "horizon": params.training.horizon_years,
                "development": (params.training.backtest.first_origin,
                                params.training.backtest.holdout_first_origin - 1),
                "holdout": (params.training.backtest.holdout_first_origin,
                            params.training.backtest.last_origin - params.training.horizon_years + 1),
                "panel_sha256": build.manifest.outputs.get("panel.parquet", "")}
    return Scorecard(sources, coverage(panel, catalog, sources),
                     lineage(catalog, sources, params.features.label_source),
                     redundancy(panel, catalog, sources, params.signals.min_pairs), added, settings, seconds)
