"""The results page (docs/results.md): the holdout first, then development origins, horizons,
calibration, what the served model beats, missing values, labels, data timing, coverage and drivers.

Two halves. `gather` runs (or finds up to date) every training the page reports: the product
model (current and previous placement beside the proxy signals), the proxy-only and
independent-sources variants, each horizon side by side, and the single-vintage ablation; it
scores the served model and evaluates every forecast in one table, so all models are judged
under the same block-bootstrap draws and paired on identical rows. `render` is a pure function
of what `gather` returns. The page depends only on its inputs' content, never on dates, registry
version numbers or absolute paths, so unchanged inputs give the same bytes.

Every sentence that states a direction is generated from a paired difference by `direction` and
returned with its numbers (`Page.sentences`), as is every goal's verdict (`Page.goals`), so a
test can hold each one to the table it came from.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from training.evaluation import HIGHER_IS_BETTER, EvaluationTables

# ---------------------------------------------------------------------------------------------
# What the page shows

HORIZONS = (1, 2, 3)
PRODUCT, PROXY_ONLY, INDEPENDENT, NO_SINGLE_VINTAGE = (
    "product",
    "proxy_only",
    "independent",
    "no_single_vintage",
)
PERSISTENCE = "persistence"
# Sources stored as one vintage and coded retrospectively (V-Dem, WGI): the ablation bounds what that costs.
SINGLE_VINTAGE = ("democracy_indices", "governance_indicators")
# Goals the issues set (issue 9: top-30 share; issue 9 item 3: missing-value share of |SHAP|).
GOAL_TOP_K_SHARE = 0.60
GOAL_MISSING_SHAP = 0.05


@dataclass(frozen=True)
class Variant:
    """A model the page reports: dotted overrides of the params, its registry-name suffix, its horizons."""

    name: str
    overrides: Mapping[str, object]
    suffix: str
    every_horizon: bool  # False: the served horizon (training.horizon_years) only


VARIANTS = (
    Variant(PRODUCT, {}, "", True),
    Variant(PROXY_ONLY, {"training.include_label_history": False}, "-proxy-only", True),
    Variant(
        INDEPENDENT,
        {"training.include_label_history": False, "training.independent_sources_only": True},
        "-independent",
        True,
    ),
    Variant(NO_SINGLE_VINTAGE, {}, "-no-single-vintage", False),  # exclusions: SINGLE_VINTAGE in the panel
)
BASELINE_ORDER = (PERSISTENCE, "same_as_now", "cpi_logistic", "base_rate")
MODEL_ORDER = (PRODUCT, PERSISTENCE, "same_as_now", PROXY_ONLY, INDEPENDENT, "cpi_logistic", "base_rate")
MODEL_LABEL = {
    PRODUCT: "product model (placement + proxy signals)",
    PERSISTENCE: "persistence (4-tier rate)",
    "same_as_now": "same as now",
    PROXY_ONLY: "proxy signals only",
    INDEPENDENT: "independent sources only (proxy)",
    "cpi_logistic": "corruption index only (logistic)",
    "base_rate": "base rate",
    NO_SINGLE_VINTAGE: "product without the single-vintage sources",
}
SHORT = {
    PRODUCT: "product",
    PERSISTENCE: "persistence",
    "same_as_now": "same-as-now",
    PROXY_ONLY: "proxy-only",
    INDEPENDENT: "independent",
    "cpi_logistic": "CPI-only",
    "base_rate": "base rate",
    NO_SINGLE_VINTAGE: "without single-vintage",
}
SHOWN = {"log_loss": "log loss", "average_precision": "AP", "auc": "AUC", "brier": "Brier"}
PAIRED = ("log_loss", "average_precision", "auc")
SUBSET_METRIC = {("all", m): label for m, label in SHOWN.items()} | {
    ("onset", "auc"): "onset AUC",
    ("exit", "auc"): "exit AUC",
    ("onset", "top_k_caught"): "onsets in the top k",
}
ERA = {True: "holdout", False: "development"}


# ---------------------------------------------------------------------------------------------
# Directions and goals, generated from numbers


def direction(diff: float, low: float, high: float, higher_is_better: bool) -> str:
    """How a paired difference (model − other, with its interval) reads for the model."""
    if not all(np.isfinite(v) for v in (diff, low, high)):
        return "not measured"
    sign = 1.0 if higher_is_better else -1.0
    lo, hi = sorted((sign * low, sign * high))
    if lo > 0:
        return "better, interval excludes 0"
    if hi < 0:
        return "worse, interval excludes 0"
    return "no clear difference"


@dataclass(frozen=True)
class Sentence:
    """One generated reading of a paired difference, with the numbers it was generated from."""

    text: str
    table: str  # the paired table: "persistence" (model − persistence), "product", or "beats"
    era: str  # "holdout" or "development"
    horizon: int
    model: str
    versus: str
    subset: str
    metric: str
    diff: float
    low: float
    high: float
    verdict: str


@dataclass(frozen=True)
class Goal:
    """An issue's goal, its status (met / partly met / not met / not measured) and the numbers behind it."""

    goal: str
    status: str
    detail: str
    numbers: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Page:
    text: str
    sentences: list[Sentence]
    goals: list[Goal]


def _diff(v: float, count: bool = False) -> str:
    """A signed difference; small ones with a fourth decimal so a sign never hides behind rounding."""
    if not np.isfinite(v):
        return "–"
    return f"{v:+.1f}" if count else f"{v:+.4f}" if abs(v) < 0.01 else f"{v:+.3f}"


def sentence(
    table: str,
    era: str,
    horizon: int,
    model: str,
    versus: str,
    subset: str,
    metric: str,
    diff: float,
    low: float,
    high: float,
    k: int,
) -> Sentence:
    higher = bool(HIGHER_IS_BETTER[metric])
    verdict = direction(diff, low, high, higher)
    label = SUBSET_METRIC.get((subset, metric), metric).replace("top k", f"top {k}")
    a, b = SHORT.get(model, model), SHORT.get(versus, versus)
    count = metric == "top_k_caught"
    text = (
        f"{a} vs {b}, {label}: {verdict} ({a} − {b} = {_diff(diff, count)} [{_diff(low, count)}, "
        f"{_diff(high, count)}]; {'higher' if higher else 'lower'} is better)."
    )
    return Sentence(
        text,
        table,
        era,
        horizon,
        model,
        versus,
        subset,
        metric,
        float(diff),
        float(low),
        float(high),
        verdict,
    )


# ---------------------------------------------------------------------------------------------
# Gathering


@dataclass(frozen=True)
class Training:
    """One training the page reports: its cache key, registry name, calibration report and metrics."""

    variant: str
    horizon: int
    key: str
    model_name: str
    calibration: dict
    metrics: dict  # metrics.json without the registry's version, run id and champion decision


@dataclass
class ResultsInputs:
    """Everything the page shows (render reads nothing else)."""

    profile: dict
    trainings: list[Training]
    predictions: pd.DataFrame  # every forecast: variants under their names, the baselines, all horizons
    versus_persistence: EvaluationTables  # evaluate(predictions, reference=persistence)
    versus_product: pd.DataFrame  # paired table of evaluate(predictions, reference=product)
    panel: pd.DataFrame
    catalog: dict
    dependent: list[str]
    scores: pd.DataFrame  # the served model's scores, every country-year
    shap_values: pd.DataFrame  # iso3, year, base_value, one column per served feature (log-odds)
    provenance: dict = field(default_factory=dict)

    def training(self, variant: str, horizon: int) -> Training | None:
        return next((t for t in self.trainings if t.variant == variant and t.horizon == horizon), None)


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


def command_line(params_path: Path, raw: Path | None, overrides: Sequence[str] = ()) -> str:
    """The command as the page shows it: the params file by name, raw relative to it, no path overrides."""
    base = Path(os.path.abspath(params_path)).parent   # abspath, not resolve: a linked ../shared stays as named
    parts = ["nexus", "--params", Path(params_path).name]
    for text in overrides:
        if not text.split("=", 1)[0].strip().startswith("paths."):
            parts += ["--set", shlex.quote(text)]
    parts.append("results")
    if raw is not None:
        parts += ["--raw", os.path.relpath(os.path.abspath(raw), base)]
    return " ".join(parts)


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
    from features.distributed import build_features
    from features.lineage import dependent_sources
    from features.panel import load_panel
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


def write_results(
    params,
    paths,
    out: Path,
    *,
    command: str,
    horizons: Sequence[int] = HORIZONS,
    variants: Sequence[str] | None = None,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Gather, render and write the page and `results_coverage.csv` beside it."""
    inputs = gather(
        params, paths, command=command, horizons=horizons, variants=variants, force=force, progress=progress
    )
    return write_page(render(inputs), inputs, out)


def write_page(page: Page, inputs: ResultsInputs, out: Path) -> Path:
    from nexus.manifest import atomic_path, atomic_write_text

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, page.text)
    with atomic_path(out.with_name("results_coverage.csv")) as tmp:
        coverage_table(inputs.panel, inputs.catalog).to_csv(tmp, index=False)
    for written in (out, out.with_name("results_coverage.csv")):
        written.chmod(0o644)  # documentation, readable by everyone (temp files are created 0600)
    return out


# ---------------------------------------------------------------------------------------------
# Tables computed from the inputs (pure; the tests call them too)


def coverage_table(panel: pd.DataFrame, catalog: Mapping[str, Mapping]) -> pd.DataFrame:
    """Per country-year: the panel's coverage and, per source, the share of its declared columns observed."""
    base = {c: info for c, info in catalog.items() if info["family"] != "label" and info["extra_lag"] == 0}
    out = panel[["iso3", "year", "coverage"]].copy()
    for source in sorted({info["source"] for info in base.values()}):
        cols = [c for c, info in base.items() if info["source"] == source]
        out[source] = panel[cols].notna().mean(axis=1).round(3)
    out["coverage"] = out["coverage"].round(3)
    return out.sort_values(["iso3", "year"]).reset_index(drop=True)


def label_table(panel: pd.DataFrame, first_report_year: int) -> pd.DataFrame:
    """Per report year with a label: listed, unlisted (stated or inferred), special cases, evidence ranks."""
    labelled = panel[panel["label_evidence"].notna()]
    flags = pd.DataFrame(
        {
            "report year": labelled["year"].astype(int),
            "listed": labelled["label_listed"] == 1,
            "unlisted (stated)": (labelled["label_listed"] == 0) & (labelled["label_inferred"] != 1),
            "unlisted (inferred)": labelled["label_inferred"] == 1,
            "special case": labelled["label_special_case"] == 1,
        }
    )
    for rank in (4, 3, 2, 1):
        flags[f"evidence {rank}"] = labelled["label_evidence"] == rank
    table = flags.groupby("report year").sum().astype(int).reset_index()
    table.insert(5, "binary target", np.where(table["report year"] >= first_report_year, "yes", "no"))
    return table


def inferred_usage(predictions: pd.DataFrame, panel: pd.DataFrame, model: str = PRODUCT) -> pd.DataFrame:
    """Per horizon and era: backtest rows whose target, or whose current status, is an inferred negative."""
    inferred = panel.loc[panel["label_inferred"] == 1, ["iso3", "year"]].assign(_inferred=True)
    rows = predictions[predictions["model"] == model][["iso3", "year", "horizon", "holdout"]]
    target = rows.assign(year=rows["year"] + rows["horizon"]).merge(inferred, on=["iso3", "year"], how="left")
    current = rows.merge(inferred, on=["iso3", "year"], how="left")
    out = rows.assign(
        target_inferred=target["_inferred"].fillna(False).astype(bool).to_numpy(),
        current_inferred=current["_inferred"].fillna(False).astype(bool).to_numpy(),
    )
    table = out.groupby(["horizon", "holdout"])[["target_inferred", "current_inferred"]].sum().astype(int)
    table["rows"] = out.groupby(["horizon", "holdout"]).size()
    return table.reset_index()


@dataclass(frozen=True)
class MissingShap:
    year: int
    share: float  # |SHAP| on missing values / all |SHAP|, latest scored year
    rows: int
    flagged: list[str]  # countries whose top-3 drivers include a missing value
    by_feature: pd.DataFrame  # feature, rows missing, share of |SHAP| on missing values


def missing_shap(
    shap_values: pd.DataFrame,
    panel: pd.DataFrame,
    target: str,
    horizon: int,
    top: int = 3,
    placed_only: bool = False,
) -> MissingShap:
    """How much of the latest scored year's |SHAP| sits on values missing in the panel (NaN cells).

    `placed_only`: only the countries with a placement (a known listed status) that year, i.e.
    without the unranked territories whose current placement is missing by definition.
    """
    from training.targets import add_targets

    features = [c for c in shap_values.columns if c not in ("iso3", "year", "base_value")]
    latest = int(shap_values["year"].max())
    s = shap_values[shap_values["year"] == latest].sort_values("iso3", kind="stable")
    frame = add_targets(panel, target, horizon)  # the current placement columns too
    columns = list(dict.fromkeys(["current_listed", *features]))
    values = s[["iso3", "year"]].merge(frame[["iso3", "year", *columns]], on=["iso3", "year"], how="left")
    if placed_only:
        placed = values["current_listed"].notna().to_numpy()
        s, values = s[placed], values[placed]
    missing = values[features].isna().to_numpy()
    strength = s[features].abs().to_numpy(float)
    total = strength.sum()
    share = float(strength[missing].sum() / total) if total > 0 else float("nan")
    order = np.argsort(-strength, axis=1, kind="stable")[:, :top]
    flagged_rows = np.take_along_axis(missing, order, axis=1).any(axis=1)
    on_missing = (strength * missing).sum(axis=0)
    by_feature = pd.DataFrame(
        {
            "feature": features,
            "rows missing": missing.sum(axis=0).astype(int),
            "share of |SHAP| on missing values": on_missing / total if total > 0 else np.nan,
        }
    )
    by_feature = by_feature[by_feature["rows missing"] > 0].sort_values(
        ["share of |SHAP| on missing values", "feature"], ascending=[False, True], kind="stable"
    )
    return MissingShap(
        latest, share, len(s), sorted(s.loc[flagged_rows, "iso3"].tolist()), by_feature.reset_index(drop=True)
    )


# ---------------------------------------------------------------------------------------------
# Rendering


def _md(frame: pd.DataFrame, floats: str = "{:.3f}") -> str:
    """A DataFrame as a GitHub markdown table (no tabulate dependency)."""
    cols = list(frame.columns)
    lines = ["| " + " | ".join(str(c) for c in cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in frame.itertuples(index=False):
        cells = [
            floats.format(v)
            if isinstance(v, float | np.floating) and np.isfinite(v)
            else ("–" if isinstance(v, float | np.floating) else str(v))
            for v in row
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _fmt(v: float, digits: int = 3) -> str:
    return "–" if v is None or not np.isfinite(v) else f"{v:.{digits}f}"


def _ci(value: float, low: float, high: float, digits: int = 3) -> str:
    if not np.isfinite(value):
        return "–"
    return f"{_fmt(value, digits)} [{_fmt(low, digits)}, {_fmt(high, digits)}]"


def _span(years: Sequence[int]) -> str:
    years = sorted(int(y) for y in years)
    if not years:
        return "none"
    return f"{years[0]}–{years[-1]}" if len(years) > 1 else str(years[0])


class _View:
    """Lookups into the evaluation tables: pooled (value, low, high) and paired (diff, low, high)."""

    def __init__(self, inputs: ResultsInputs):
        ev = inputs.versus_persistence
        self.k = ev.k
        self.pooled = {
            (int(r.horizon), bool(r.holdout), r.model, r.subset, r.metric): (r.value, r.low, r.high)
            for r in ev.pooled.itertuples()
        }
        self.paired = {"persistence": self._paired(ev.paired), "product": self._paired(inputs.versus_product)}
        self.transitions = ev.transitions
        self.models = {
            (int(h), bool(o)): list(pd.unique(g["model"]))
            for (h, o), g in inputs.predictions.groupby(["horizon", "holdout"], sort=True)
        }
        self.origins = {
            (int(h), bool(o)): sorted(int(x) for x in g["origin"].unique())
            for (h, o), g in inputs.predictions.groupby(["horizon", "holdout"], sort=True)
        }
        self.rows = {
            (int(h), bool(o)): int((g["model"] == PRODUCT).sum())
            for (h, o), g in inputs.predictions.groupby(["horizon", "holdout"], sort=True)
        }

    @staticmethod
    def _paired(t: pd.DataFrame) -> dict:
        return {
            (int(r.horizon), bool(r.holdout), r.model, r.subset, r.metric): (r.diff, r.low, r.high)
            for r in t.itertuples()
        }

    def get(self, h, holdout, model, subset, metric) -> tuple[float, float, float]:
        return self.pooled.get((h, holdout, model, subset, metric), (np.nan, np.nan, np.nan))

    def diff(self, table, h, holdout, model, subset, metric) -> tuple[float, float, float]:
        return self.paired[table].get((h, holdout, model, subset, metric), (np.nan, np.nan, np.nan))

    def present(self, h, holdout, order=MODEL_ORDER) -> list[str]:
        have = set(self.models.get((h, holdout), []))
        return [m for m in order if m in have]

    def events(self, h, holdout, subset) -> tuple[int, int]:
        t = self.transitions
        t = t[(t["horizon"] == h) & (t["holdout"] == holdout) & (t["subset"] == subset)]
        return int(t["rows"].sum()), int(t["events"].sum())


def _origins_text(view: _View, h: int, holdout: bool) -> str:
    origins = view.origins.get((h, holdout), [])
    if not origins:
        return "no origins"
    return f"rows {_span(origins)} → reports {_span([o + h for o in origins])}"


def _skill_table(view: _View, h: int, holdout: bool) -> pd.DataFrame:
    rows = []
    for model in view.present(h, holdout):
        rows.append(
            {
                "model": MODEL_LABEL.get(model, model),
                **{label: _ci(*view.get(h, holdout, model, "all", m)) for m, label in SHOWN.items()},
            }
        )
    return pd.DataFrame(rows)


def _paired_table(view: _View, h: int, holdout: bool, versus: str = PERSISTENCE) -> pd.DataFrame:
    rows = []
    for model in view.present(h, holdout):
        if model == versus:
            continue
        rows.append(
            {
                f"model − {SHORT[versus]}": MODEL_LABEL.get(model, model),
                **{
                    SHOWN[m]: _paired_cell(*view.diff("persistence", h, holdout, model, "all", m))
                    for m in PAIRED
                },
            }
        )
    return pd.DataFrame(rows)


def _paired_cell(diff, low, high) -> str:
    return "–" if not np.isfinite(diff) else f"{_diff(diff)} [{_diff(low)}, {_diff(high)}]"


def _change_table(view: _View, h: int, holdout: bool) -> pd.DataFrame:
    _, onsets = view.events(h, holdout, "onset")
    rows = []
    for model in view.present(h, holdout):
        caught = view.get(h, holdout, model, "onset", "top_k_caught")[0]
        random = view.get(h, holdout, model, "onset", "top_k_random")[0]
        rows.append(
            {
                "model": MODEL_LABEL.get(model, model),
                f"onsets in top {view.k}": f"{caught:.0f} / {onsets}" if np.isfinite(caught) else "–",
                "random list": _fmt(random, 1),
                "lift": _ci(*view.get(h, holdout, model, "onset", "top_k_lift"), digits=2),
                "onset AUC": _ci(*view.get(h, holdout, model, "onset", "auc")),
                "exit AUC": _ci(*view.get(h, holdout, model, "exit", "auc")),
                "onsets ≥ elevated": _ci(*view.get(h, holdout, model, "onset", "alarm_recall"), digits=2),
                "alarms": _fmt(view.get(h, holdout, model, "onset", "alarms")[0], 0),
            }
        )
    return pd.DataFrame(rows)


def _sentences_vs(
    view: _View,
    table: str,
    h: int,
    holdout: bool,
    models: Sequence[str],
    versus: str,
    metrics: Sequence[tuple[str, str]],
) -> list[Sentence]:
    out = []
    have = set(view.models.get((h, holdout), []))
    for model in models:
        if model not in have or versus not in have:
            continue
        for subset, metric in metrics:
            d = view.diff(table, h, holdout, model, subset, metric)
            out.append(sentence(table, ERA[holdout], h, model, versus, subset, metric, *d, k=view.k))
    return out


def _beats_goal(view: _View, goal: str, h: int, holdout: bool, model: str) -> Goal:
    if model not in view.models.get((h, holdout), []):
        return Goal(goal, "not measured", f"{SHORT[model]} was not trained at horizon {h}")
    verdicts, numbers = {}, {}
    for metric in PAIRED:
        d, lo, hi = view.diff("persistence", h, holdout, model, "all", metric)
        verdicts[metric] = direction(d, lo, hi, bool(HIGHER_IS_BETTER[metric]))
        numbers |= {f"{metric}_diff": d, f"{metric}_low": lo, f"{metric}_high": hi}
    better = [SHOWN[m] for m, v in verdicts.items() if v.startswith("better")]
    status = "met" if len(better) == len(PAIRED) else "partly met" if better else "not met"
    detail = "; ".join(f"{SHOWN[m]} {v}" for m, v in verdicts.items())
    return Goal(
        goal,
        status,
        f"{len(better)} of {len(PAIRED)} metrics better with the interval excluding 0 ({detail})",
        numbers,
    )


def _top_k_goal(view: _View, h: int) -> Goal:
    goal = (
        f"at least {GOAL_TOP_K_SHARE:.0%} of the holdout's onsets in the top {view.k} of unlisted countries"
    )
    caught = view.get(h, True, PRODUCT, "onset", "top_k_caught")[0]
    _, onsets = view.events(h, True, "onset")
    if not onsets or not np.isfinite(caught):
        return Goal(goal, "not measured", "no onsets on the holdout")
    share = caught / onsets
    return Goal(
        goal,
        "met" if share >= GOAL_TOP_K_SHARE else "not met",
        f"{caught:.0f} of {onsets} onsets caught ({share:.0%})",
        {"caught": float(caught), "onsets": float(onsets), "share": float(share)},
    )


def _era_section(inputs: ResultsInputs, view: _View, holdout: bool) -> tuple[list[str], list[Sentence]]:
    p = inputs.profile
    h = p["horizon"]
    origins = view.origins.get((h, holdout), [])
    if not origins:
        return [f"No {ERA[holdout]} origins at horizon {h}.", ""], []
    (onset_rows, onsets), (exit_rows, exits) = (
        view.events(h, holdout, "onset"),
        view.events(h, holdout, "exit"),
    )
    neither, _ = view.events(h, holdout, "neither")
    sentences = _sentences_vs(
        view,
        "persistence",
        h,
        holdout,
        (PRODUCT, PROXY_ONLY, INDEPENDENT),
        PERSISTENCE,
        [("all", m) for m in PAIRED],
    )
    sentences += _sentences_vs(
        view,
        "persistence",
        h,
        holdout,
        (PRODUCT,),
        PERSISTENCE,
        [("onset", "auc"), ("exit", "auc"), ("onset", "top_k_caught")],
    )
    lines = [
        f"Horizon {h}: {_origins_text(view, h, holdout)}; {view.rows[(h, holdout)]} country-years "
        f"({onset_rows} unlisted with {onsets} onsets, {exit_rows} listed with {exits} exits, {neither} "
        "whose current status is unknown).",
        "",
        f"Skill, pooled over the origins ({p['level']:.0%} block-bootstrap intervals over countries and "
        "origins; lower log loss and Brier are better, higher AP and AUC):",
        "",
        _md(_skill_table(view, h, holdout)),
        "",
        "Each model minus persistence on the same country-years, paired under the same resamples (an "
        "interval that excludes 0 is a difference the bootstrap supports):",
        "",
        _md(_paired_table(view, h, holdout)),
        "",
        *[f"- {s.text}" for s in sentences],
        "",
        f"Tier changes: onsets caught in the top {view.k} of each origin's unlisted countries (against a "
        f"random list of {view.k}), onset and exit AUC, and the alarm budget at the elevated band (p ≥ "
        f"{p['elevated']:g}): the share of onsets above it and how many unlisted country-years it alarms.",
        "",
        _md(_change_table(view, h, holdout)),
        "",
    ]
    return lines, sentences


REFERENCES = """Beside the field's numbers (EVIDENCE.md; none of these forecasts TIP tiers, which nobody has
published): tier history alone ranks Watch List / Tier 3 onsets at AUC 0.64–0.66; the Early Warning Project's
mass-killing back-test catches 27 of 39 onsets (69%) in its top 30, at AUC 0.825; V-Dem's
democratic-spaces forecasts reach AUC 0.82–0.91 two years ahead, and a V-Dem regime-transition
ensemble drops from AUC 0.93 in cross-validation to 0.84 on later years. Tiers are partly political
(Kelley, *Scorecard Diplomacy*): expect a ceiling on what public proxies can predict."""


def _horizon_section(inputs: ResultsInputs, view: _View) -> tuple[list[str], list[Sentence]]:
    rows, sentences = [], []
    for h in inputs.profile["horizons"]:
        for holdout in (True, False):
            for model in view.present(h, holdout, (PRODUCT, PROXY_ONLY, INDEPENDENT, PERSISTENCE)):
                caught = view.get(h, holdout, model, "onset", "top_k_caught")[0]
                _, onsets = view.events(h, holdout, "onset")
                rows.append(
                    {
                        "horizon": h,
                        "era": ERA[holdout],
                        "origins": _span(view.origins[(h, holdout)]),
                        "model": MODEL_LABEL[model],
                        "log loss": _ci(*view.get(h, holdout, model, "all", "log_loss")),
                        "AUC": _ci(*view.get(h, holdout, model, "all", "auc")),
                        "onset AUC": _ci(*view.get(h, holdout, model, "onset", "auc")),
                        f"onsets in top {view.k}": f"{caught:.0f} / {onsets}" if np.isfinite(caught) else "–",
                    }
                )
            sentences += _sentences_vs(
                view,
                "persistence",
                h,
                holdout,
                (PRODUCT, PROXY_ONLY, INDEPENDENT),
                PERSISTENCE,
                [("all", "log_loss"), ("all", "auc")],
            )
    trans = view.transitions.groupby(["horizon", "holdout", "subset"])[["rows", "events"]].sum()
    counts = []
    for h in inputs.profile["horizons"]:
        for holdout in (True, False):
            if (h, holdout) not in view.origins:
                continue
            c = {
                s: trans.loc[(h, holdout, s)] if (h, holdout, s) in trans.index else None
                for s in ("onset", "exit", "neither")
            }
            counts.append(
                {
                    "horizon": h,
                    "era": ERA[holdout],
                    "origins": _span(view.origins[(h, holdout)]),
                    "unlisted rows": int(c["onset"]["rows"]) if c["onset"] is not None else 0,
                    "onsets": int(c["onset"]["events"]) if c["onset"] is not None else 0,
                    "listed rows": int(c["exit"]["rows"]) if c["exit"] is not None else 0,
                    "exits": int(c["exit"]["events"]) if c["exit"] is not None else 0,
                    "status unknown": int(c["neither"]["rows"]) if c["neither"] is not None else 0,
                }
            )
    trained = {}
    for t in inputs.trainings:
        trained.setdefault(t.variant, []).append(t.horizon)
    partial = [
        v
        for v in (PROXY_ONLY, INDEPENDENT)
        if v in trained and sorted(trained[v]) != sorted(inputs.profile["horizons"])
    ]
    lines = [
        "## 3. Transitions and horizons",
        "",
        "A row t forecasts the report of t + h. Tier changes among the candidates of each era and horizon:",
        "",
        _md(pd.DataFrame(counts)),
        "",
        "Product, proxy-only, independent and persistence side by side at every horizon (the holdout of "
        "horizon h ends h − 1 origins earlier, since its last report must exist):",
        "",
        _md(pd.DataFrame(rows)),
        "",
        *[f"- horizon {s.horizon}, {s.era}: {s.text}" for s in sentences],
        "",
    ]
    lines += [
        f"The {SHORT[v]} variant is trained at horizon{'s' if len(trained[v]) > 1 else ''} "
        f"{', '.join(map(str, sorted(trained[v])))} only (time)."
        for v in partial
    ]
    lines += [""] if partial else []
    per_origin = _per_origin_table(inputs, view)
    if not per_origin.empty:
        lines += [
            f"Per origin at horizon {inputs.profile['horizon']} (AUC; onsets caught in the top {view.k} by "
            "the product model):",
            "",
            _md(per_origin),
            "",
        ]
    return lines, sentences


def _per_origin_table(inputs: ResultsInputs, view: _View) -> pd.DataFrame:
    h = inputs.profile["horizon"]
    ev = inputs.versus_persistence
    t = ev.per_origin[
        (ev.per_origin["horizon"] == h)
        & (ev.per_origin["subset"] == "all")
        & (ev.per_origin["metric"] == "auc")
    ]
    models = [m for m in (PRODUCT, PERSISTENCE, PROXY_ONLY) if m in set(t["model"])]
    if not models:
        return pd.DataFrame()
    table = t[t["model"].isin(models)].pivot(index="origin", columns="model", values="value")[models]
    table.columns = [f"AUC {SHORT[m]}" for m in models]
    top = ev.topk[(ev.topk["horizon"] == h) & (ev.topk["model"] == PRODUCT)].set_index("origin")
    table["era"] = [ERA[bool(o >= inputs.profile["holdout_first_origin"])] for o in table.index]
    table[f"onsets in top {view.k}"] = [
        f"{top.at[o, 'caught']:.0f} / {int(top.at[o, 'onsets'])}" if o in top.index else "–"
        for o in table.index
    ]
    table["random"] = [f"{top.at[o, 'random']:.1f}" if o in top.index else "–" for o in table.index]
    return table.reset_index()[
        ["origin", "era", *table.columns[: len(models)], f"onsets in top {view.k}", "random"]
    ]


def _coverage_cells(doc: dict) -> dict:
    def c(d, key):
        return float(d.get(key, np.nan)) if d else np.nan

    return {
        "all rows": c(doc.get("set"), "coverage"),
        "unlisted rows": c(doc.get("set_onsets"), "coverage"),
        "onsets": c(doc.get("set_onsets"), "coverage_yes"),
        "listed rows": c(doc.get("set_exits"), "coverage"),
        "exits": c(doc.get("set_exits"), "coverage_no"),
        "both outcomes in set": 1 - c(doc.get("set"), "singleton_share") - c(doc.get("set"), "empty_share"),
    }


def _calibration_section(inputs: ResultsInputs) -> list[str]:
    p = inputs.profile
    served = inputs.training(PRODUCT, p["horizon"])
    cal = served.calibration
    candidates = pd.DataFrame(
        [
            {"candidate": m, "development log loss": v, "chosen": "yes" if m == cal["method"] else ""}
            for m, v in cal["candidates_dev_log_loss"].items()
        ]
    )
    eras = [e for e in ("development", "holdout") if e in cal]
    summary = pd.DataFrame(
        [
            {
                "era": e,
                "ECE raw": cal[e]["ece_raw"],
                "ECE calibrated": cal[e]["ece"],
                "log loss raw": cal[e]["log_loss_raw"],
                "log loss calibrated": cal[e]["log_loss"],
                "Venn-Abers width": cal[e]["interval_width"],
            }
            for e in eras
        ]
    )
    coverage = pd.DataFrame([{"era": e, **_coverage_cells(cal[e])} for e in eras])
    origins = sorted({int(o) for e in eras for o in cal[e]["set_per_origin"]})
    per_origin = pd.DataFrame(
        [
            {
                "origin": o,
                "era": ERA[o >= p["holdout_first_origin"]],
                "set coverage": next(
                    cal[e]["set_per_origin"].get(str(o), np.nan)
                    for e in eras
                    if str(o) in cal[e]["set_per_origin"]
                ),
            }
            for o in origins
        ]
    )
    rel = inputs.versus_persistence.reliability
    rel = rel[(rel["horizon"] == p["horizon"]) & (rel["model"] == PRODUCT) & (rel["subset"] == "all")]
    bins = []
    for b, g in rel.groupby("bin", sort=True):
        row = {"bin": f"{g['bin_low'].iat[0]:.1f}–{g['bin_high'].iat[0]:.1f}"}
        for holdout in (False, True):
            r = g[g["holdout"] == holdout]
            n = int(r["n"].iat[0]) if len(r) else 0
            row |= {
                f"n ({ERA[holdout]})": n,
                f"mean p ({ERA[holdout]})": float(r["mean_p"].iat[0]) if n else np.nan,
                f"observed ({ERA[holdout]})": float(r["observed"].iat[0]) if n else np.nan,
            }
        if row["n (development)"] or row["n (holdout)"]:
            bins.append(row)
    others = pd.DataFrame(
        [
            {
                "variant": SHORT[t.variant],
                "horizon": t.horizon,
                "calibration": t.calibration["method"],
                "development log loss": t.calibration["candidates_dev_log_loss"].get(
                    t.calibration["method"], np.nan
                ),
                "ECE dev": t.calibration.get("development", {}).get("ece", np.nan),
                "ECE holdout": t.calibration.get("holdout", {}).get("ece", np.nan),
                "set coverage dev": t.calibration.get("development", {})
                .get("set", {})
                .get("coverage", np.nan),
                "set coverage holdout": t.calibration.get("holdout", {})
                .get("set", {})
                .get("coverage", np.nan),
            }
            for t in inputs.trainings
        ]
    )
    return [
        "## 4. Calibration and intervals",
        "",
        f"The served model's calibration is chosen, not assumed (rule `{cal['rule']}`): every candidate is "
        "fitted per origin on earlier origins' out-of-sample forecasts, and the one with the lowest log "
        f"loss on the development origins serves (here **{cal['method']}**). The holdout never enters the "
        "choice.",
        "",
        _md(candidates, floats="{:.4f}"),
        "",
        "Expected calibration error (10 equal-width bins), log loss before and after calibration, and the "
        "mean width of the Venn-Abers interval [p0, p1] that every score carries:",
        "",
        _md(summary, floats="{:.4f}"),
        "",
        f"Conformal sets (Mondrian by current status and outcome, level {cal['conformal_level']:.0%}): the "
        "share of outcomes inside the stated set; onsets and exits are the tier changes (an onset is "
        "covered when 'listed' is in its set).",
        "",
        _md(coverage),
        "",
        "Set coverage per origin:",
        "",
        _md(per_origin),
        "",
        f"Reliability (horizon {p['horizon']}, calibrated product model):",
        "",
        _md(pd.DataFrame(bins)),
        "",
        "Every training's chosen calibration:",
        "",
        _md(others, floats="{:.4f}"),
        "",
    ]


def _beats_section(inputs: ResultsInputs) -> tuple[list[str], list[Sentence]]:
    p = inputs.profile
    served = inputs.training(PRODUCT, p["horizon"])
    beats = served.metrics.get("beats", {})
    origins = served.metrics.get("development_origins", [])
    rows, sentences = [], []
    for baseline, entry in beats.items():
        row = {"baseline": MODEL_LABEL.get(baseline, baseline)}
        for metric in (*PAIRED, "brier"):
            m = entry.get(metric)
            if m is None:
                continue
            row[SHOWN[metric]] = _paired_cell(m["diff"], m["low"], m["high"])
            if metric in PAIRED:
                sentences.append(
                    sentence(
                        "beats",
                        "development",
                        p["horizon"],
                        PRODUCT,
                        baseline,
                        "all",
                        metric,
                        m["diff"],
                        m["low"],
                        m["high"],
                        k=p["top_k"],
                    )
                )
        row["beats (promotion rule)"] = "yes" if entry.get("beats") else "no"
        rows.append(row)
    won = [SHORT.get(b, b) for b, e in beats.items() if e.get("beats")]
    return [
        "## 5. Which baselines the served model beats",
        "",
        f"The served (product) model minus each baseline on the development origins {_span(origins)} (the "
        'model card\'s figures, block bootstrap; the holdout is never read). "Beats" is the promotion rule: '
        f"{SHOWN.get(p['promotion_metric'], p['promotion_metric'])} better by at least "
        f"{p['promotion_margin']:g} with the interval excluding 0.",
        "",
        _md(pd.DataFrame(rows)),
        "",
        *[f"- {s.text}" for s in sentences],
        "",
        f"By that rule the served model beats: {', '.join(won) if won else 'none of the baselines'}.",
        "",
    ], sentences


def _missing_section(inputs: ResultsInputs) -> tuple[list[str], Goal]:
    p = inputs.profile
    m = missing_shap(inputs.shap_values, inputs.panel, p["target"], p["horizon"])
    placed = missing_shap(inputs.shap_values, inputs.panel, p["target"], p["horizon"], placed_only=True)
    goal = Goal(
        f"at most {GOAL_MISSING_SHAP:.0%} of the latest scored year's mean |SHAP| on missing values",
        "met" if m.share <= GOAL_MISSING_SHAP else "not met",
        f"{m.share:.1%} of |SHAP| in {m.year}; {len(m.flagged)} of {m.rows} countries with a missing value "
        "among their top-3 drivers",
        {"share": m.share, "flagged": float(len(m.flagged)), "rows": float(m.rows)},
    )
    shown = ", ".join(m.flagged[:20]) + (f" and {len(m.flagged) - 20} more" if len(m.flagged) > 20 else "")
    return [
        "## 6. Missing values in the latest scored year",
        "",
        f"In {m.year} ({m.rows} country-years scored by the served model) **{m.share:.1%}** of the total "
        f"|SHAP| falls on feature values that are missing in the panel (goal ≤ {GOAL_MISSING_SHAP:.0%}: "
        f"{goal.status}). {len(m.flagged)} {'country has' if len(m.flagged) == 1 else 'countries have'} a "
        "missing value among their top-3 drivers" + (f": {shown}." if m.flagged else "."),
        "",
        f"Among the {placed.rows} countries with a placement in {placed.year} (without the unranked "
        f"territories, whose current placement is missing by definition): **{placed.share:.1%}** of |SHAP| "
        f"on missing values, {len(placed.flagged)} with a missing value among their top-3 drivers"
        + (f" ({', '.join(placed.flagged[:20])}{' …' if len(placed.flagged) > 20 else ''})." if placed.flagged
           else "."),
        "",
        "The features whose missing values carry the most |SHAP| (share of the year's total):",
        "",
        _md(m.by_feature.head(12), floats="{:.4f}"),
        "",
    ], goal


def _labels_section(inputs: ResultsInputs) -> list[str]:
    p = inputs.profile
    table = label_table(inputs.panel, p["first_report_year"])
    total = table.drop(columns=["report year", "binary target"]).sum()
    shown = pd.concat(
        [
            table.astype({"report year": str}),
            pd.DataFrame([{"report year": "all", "binary target": "", **total.to_dict()}]),
        ],
        ignore_index=True,
    )
    inferred_years = table.loc[table["unlisted (inferred)"] > 0, "report year"].tolist()
    early = table[table["report year"] < p["first_report_year"]]
    usage = inferred_usage(inputs.predictions, inputs.panel)
    usage_rows = pd.DataFrame(
        [
            {
                "horizon": int(r.horizon),
                "era": ERA[bool(r.holdout)],
                "backtest rows": int(r.rows),
                "target inferred": int(r.target_inferred),
                "current status inferred": int(r.current_inferred),
            }
            for r in usage.itertuples()
        ]
    )
    inferred_text = (
        "Inferred negatives (`features.sources.tier_placements.infer_unlisted`) complete the binary label "
        f"of report years {', '.join(map(str, inferred_years))} ({int(table['unlisted (inferred)'].sum())} "
        "rows), whose Watch List and Tier 3 lists are complete but whose Tier 1/2 lists are not: a "
        "government ranked in the neighbouring complete report years, not listed and not a special case "
        "counts as unlisted; its ordinal tier stays missing. They enter the binary target of the rows h "
        "years earlier and the current status (`current_listed`) of their own year, which persistence and "
        "the product model read; their `current_tier` is missing, so persistence uses the listed-status "
        "rate there. Backtest rows of the product model that use them:"
        if inferred_years
        else "No report year needed inferred negatives."
    )
    return [
        "## 7. Labels",
        "",
        "Country-years with a tier placement per report year (listed = Tier 2 Watch List or Tier 3) and "
        "per evidence rank (4 official table or stated in that year's narrative, 3 inferred from a later "
        "narrative or by rule, 2 a secondary page, 1 the Wikipedia table only):",
        "",
        _md(shown),
        "",
        inferred_text,
        "",
        *([_md(usage_rows), ""] if inferred_years else []),
        f"Report years before {p['first_report_year']} "
        f"({_span(early['report year']) if len(early) else 'none'}, "
        f"{int(early[['listed', 'unlisted (stated)', 'unlisted (inferred)']].sum().sum())} placements) are "
        "excluded from the binary target (`training.label.first_report_year`): the Tier 2 Watch List "
        'category did not exist before the 2004 report, so those years cannot say "Watch List or Tier 3" '
        "the way later years do. They still give the current placement of their own rows."
        + (
            f" Targets transcribed below evidence rank {p['min_evidence']:g} are dropped "
            "(`training.label.min_evidence`)."
            if p["min_evidence"]
            else ""
        ),
        "",
    ]


def _timing_section(inputs: ResultsInputs, view: _View) -> tuple[list[str], list[Sentence]]:
    p = inputs.profile
    h = p["horizon"]
    sentences: list[Sentence] = []
    lines = ["## 8. Data-timing caveats that remain", ""]
    sources = p["single_vintage"]
    if NO_SINGLE_VINTAGE in view.models.get((h, True), []):
        rows = []
        for holdout in (True, False):
            for model in (PRODUCT, NO_SINGLE_VINTAGE):
                rows.append(
                    {
                        "era": ERA[holdout],
                        "model": MODEL_LABEL[model],
                        **{SHOWN[m]: _ci(*view.get(h, holdout, model, "all", m)) for m in PAIRED},
                        "onset AUC": _ci(*view.get(h, holdout, model, "onset", "auc")),
                    }
                )
        sentences = _sentences_vs(
            view,
            "product",
            h,
            True,
            (NO_SINGLE_VINTAGE,),
            PRODUCT,
            [("all", m) for m in PAIRED] + [("onset", "auc")],
        )
        lines += [
            f"**Single vintage.** {', '.join(sources)} are stored as one vintage, coded retrospectively: a "
            "row of an early year reads today's estimate of that year, not what was published then. The "
            "ablation below drops them from the product model and reports the result on the holdout "
            "(reported, never chosen on); development origins are shown for reference.",
            "",
            _md(pd.DataFrame(rows)),
            "",
            *[f"- holdout: {s.text}" for s in sentences],
            "",
        ]
    elif NO_SINGLE_VINTAGE in p["variants"]:
        lines += ["**Single vintage.** Neither V-Dem nor WGI is in this panel: no ablation to run.", ""]
    cal = {}
    for info in inputs.catalog.values():
        if info["source"] in cal:
            continue
        c = info.get("calendar", {})
        editions = c.get("editions", {}) if c.get("mode") == "editions" else {}
        first = min(editions, key=int) if editions else None
        last = max(editions, key=int) if editions else None
        cal[info["source"]] = {
            "source": info["source"],
            "calendar": c.get("mode", ""),
            "lag (years)": info["lag_years"],
            "editions": (
                f"{len(editions)}: {first} → {editions[first]}, …, {last} → {editions[last]}"
                if editions
                else "–"
            ),
            "stale after (years)": c.get("max_age_years", ""),
        }
    lines += [
        f"**Publication calendars** (`features.calendar: {p['calendar']}`): a value describing year y "
        "enters a row only from the year it was public (the constant lag, or the declared release date of "
        "the edition that first published it), and is missing once older than the staleness limit, never "
        "carried further.",
        "",
        _md(pd.DataFrame(sorted(cal.values(), key=lambda r: r["source"]))),
        "",
        "Still not as it was known: WGI, WDI, UN DESA and V-Dem re-estimate past years in every release "
        "and one vintage of each is stored (the ablation above bounds what that is worth for V-Dem and "
        "WGI); migrant stock between the five-yearly estimates is not interpolated towards a later "
        "estimate, but the estimates themselves are today's.",
        "",
    ]
    return lines, sentences


LABEL_MEANING = """## 9. What the label measures, and what that means for the scores

The label is the US State Department's tier placement in its annual *Trafficking in Persons
Report*. A tier grades a **government's effort** against trafficking, judged by the US
government against US minimum standards (prosecution, protection, prevention); it is **not a
measure of how much trafficking or corruption there is**. Placements are also political:
research on the report (Kelley, *Scorecard Diplomacy*, 2017, whose data give the 2001–2015
tiers here) documents that relations with the United States and diplomatic pressure shape
them, and the Watch List has its own rules (time limits, automatic downgrades). Tiers change
slowly, which is why persistence is hard to beat.

So a score is the estimated probability that the report of year t + {horizon} places the country
on the **{target_label}** (`{target}`), given the public signals and the current placement known
by the end of year t. Read a high score as "countries with signals and placements like these
were often judged this way", a prompt for review, never as evidence of trafficking or of a
government's complicity. Countries the State Department does not rank, or ranks as special
cases, have no label; their scores are extrapolations.
"""


def _setup_section(inputs: ResultsInputs, view: _View) -> list[str]:
    p = inputs.profile
    panel = inputs.panel
    labelled = panel[panel["label_evidence"].notna()]
    sources = sorted({info["source"] for info in inputs.catalog.values() if info["family"] != "label"})
    eras = [
        f"horizon {h}: development {_origins_text(view, h, False)}; holdout {_origins_text(view, h, True)}"
        for h in p["horizons"]
        if (h, False) in view.origins
    ]
    served = inputs.training(PRODUCT, p["horizon"])
    return [
        "## Set-up",
        "",
        f"- Panel: {panel['iso3'].nunique()} countries and territories, years {p['years']}; {len(labelled)} "
        f"country-years with a label (report years {_span(labelled['year'].unique())}).",
        f"- Sources ({len(sources)}): {', '.join(sources)}. Label: {p['label_source']}.",
        "- Backtest: rolling origin. At origin T every model is fitted on rows whose report t + h was "
        f"public by T and forecasts the rows of year T; {'; '.join(eras)}. The holdout is reported once and "
        "never read by tuning, promotion, comparison or any default choice.",
        f"- Product model: {p['n_members']} XGBoost boosters with different seeds averaged on the margin, "
        f"{len(served.metrics.get('features_served', []))} features served (a feature is used at an origin "
        f"only if at least {p['min_feature_coverage']:.0%} of that year's rows have it); proxy-only drops "
        "the current and previous placement; independent also drops every source sharing lineage with the "
        f"label or the corruption index ({', '.join(inputs.dependent) or 'none'}).",
        f"- Intervals: {p['level']:.0%} percentile intervals of a block bootstrap ({p['n_resamples']} "
        "resamples) drawing countries and origins together; differences are paired on identical rows.",
        "",
    ]


def _coverage_section(coverage: pd.DataFrame, panel: pd.DataFrame) -> list[str]:
    by_year = coverage.groupby("year")["coverage"].agg(["mean", "min", "median"]).reset_index()
    by_year["countries"] = coverage.groupby("year").size().to_numpy()
    by_year["labelled"] = (
        panel.groupby("year")["label_evidence"]
        .count()
        .reindex(by_year["year"])
        .fillna(0)
        .astype(int)
        .to_numpy()
    )
    sources = [c for c in coverage.columns if c not in ("iso3", "year", "coverage")]
    by_source = coverage.groupby("year")[sources].mean().T
    by_source = by_source[[y for y in by_source.columns if y % 4 == 0 or y == by_source.columns.max()]]
    by_source.columns = [str(c) for c in by_source.columns]
    by_source = by_source.reset_index(names="source")
    lowest = coverage.groupby("iso3")["coverage"].mean().sort_values(kind="stable").head(10).reset_index()
    return [
        "## Coverage per country-year",
        "",
        "`coverage` is the share of the declared feature columns observed for a country-year (flags such as "
        "the corruption index's method break and censored victim counts are declared columns too, so they "
        'are visible). Text the publishers use for "missing" ("..", "~", "<5" counts) is counted as not '
        "observed, never coerced to a number. The full table, with one column per source, is in "
        "`results_coverage.csv` beside this page.",
        "",
        _md(by_year.rename(columns={"mean": "mean coverage", "min": "lowest", "median": "median"})),
        "",
        "Share of each source's columns observed, by year:",
        "",
        _md(by_source, floats="{:.2f}"),
        "",
        "Lowest mean coverage:",
        "",
        _md(lowest.rename(columns={"coverage": "mean coverage"})),
        "",
    ]


def _drivers_section(inputs: ResultsInputs) -> list[str]:
    from training.targets import PLACEMENT_FEATURES

    shap_values, catalog = inputs.shap_values, inputs.catalog
    latest = int(shap_values["year"].max())
    rows = shap_values[shap_values["year"] == latest]
    features = [c for c in shap_values.columns if c not in ("iso3", "year", "base_value")]
    strength = rows[features].abs().mean()
    family = {
        f: "current placement" if f in PLACEMENT_FEATURES else catalog.get(f, {}).get("family", "other")
        for f in features
    }
    total = float(strength.sum())
    families = (
        pd.DataFrame({"family": [family[f] for f in features], "mean |SHAP|": strength.to_numpy()})
        .groupby("family")["mean |SHAP|"]
        .sum()
        .sort_values(ascending=False, kind="stable")
        .reset_index()
    )
    families["share"] = families["mean |SHAP|"] / total if total > 0 else np.nan
    placement = [f for f in features if family[f] == "current placement"]
    signals = strength[[f for f in features if f not in placement]].sort_values(
        ascending=False, kind="stable"
    )

    def table(names):
        return pd.DataFrame(
            [
                {
                    "feature": n,
                    "source": catalog.get(n, {}).get("source", "placement"),
                    "mean |SHAP|": float(strength[n]),
                    "what it measures": catalog.get(n, {}).get("description", ""),
                }
                for n in names
            ]
        )

    h = int(inputs.profile["horizon"])
    scores = inputs.scores[inputs.scores["year"] == latest].sort_values(
        ["probability", "iso3"], ascending=[False, True], kind="stable"
    )
    top = scores.head(15).assign(
        interval=[
            f"[{lo:.3f}, {hi:.3f}]"
            for lo, hi in zip(
                scores.head(15)["probability_low"], scores.head(15)["probability_high"], strict=True
            )
        ]
    )
    top = top[["iso3", "country", "probability", "interval", "band", "conformal_set", "coverage"]]
    out = [
        f"## Top SHAP drivers (served model, the {latest} rows)",
        "",
        "Mean absolute SHAP value in log-odds: how far, on average, a feature moves a score. Large values "
        "mean the model leans on the feature, not that the feature causes a placement. The current "
        "placement is its own family, shown apart, so the proxy signals' part of each score is visible "
        'beside "same as now".',
        "",
        _md(families, floats="{:.3f}"),
        "",
    ]
    if placement:
        out += ["Current placement:", "", _md(table(placement)), ""]
    out += [
        "Proxy signals (top 15):",
        "",
        _md(table(list(signals.index[:15]))),
        "",
        f"## Highest scores for {latest} (report of {latest + h})",
        "",
        "A review list, not a finding (see what the label measures). Interval: Venn-Abers [p0, p1]; set: the "
        'conformal set ("either" = too close to call at its level).',
        "",
        _md(top),
        "",
    ]
    return out


def _lineage_section(catalog: Mapping[str, Mapping], dependent: list[str], label_source: str) -> list[str]:
    from features.lineage import dependence

    rows = {}
    for info in catalog.values():
        if info["family"] == "label" or info["source"] in rows:
            continue
        reason = dependence(info["source"], label_source) if info["source"] in dependent else ""
        rows[info["source"]] = {
            "source": info["source"],
            "publisher": info["publisher"],
            "lag (years)": info["lag_years"],
            "built from (declared)": ", ".join(info["lineage"]) or "—",
            "independent": f"no: {reason}" if reason else "yes",
        }
    return ["## Lineage", "", _md(pd.DataFrame(sorted(rows.values(), key=lambda r: r["source"]))), ""]


def render(inputs: ResultsInputs) -> Page:
    """The whole page, its generated direction sentences and its goals' verdicts."""
    p = inputs.profile
    view = _View(inputs)
    h = p["horizon"]
    hold_lines, hold_sentences = _era_section(inputs, view, True)
    dev_lines, dev_sentences = _era_section(inputs, view, False)
    horizon_lines, horizon_sentences = _horizon_section(inputs, view)
    beats_lines, beats_sentences = _beats_section(inputs)
    missing_lines, missing_goal = _missing_section(inputs)
    timing_lines, timing_sentences = _timing_section(inputs, view)
    goals = [
        _beats_goal(
            view,
            f"the product model beats persistence on the holdout (horizon {h}) with intervals excluding 0",
            h,
            True,
            PRODUCT,
        ),
        _top_k_goal(view, h),
        _beats_goal(
            view, "the proxy-only model beats persistence at horizon 3 (holdout)", 3, True, PROXY_ONLY
        ),
        missing_goal,
    ]
    title = "Results on the real data" if p["real"] else "Results on the synthetic world"
    parts = [
        f"# {title}",
        "",
        f"Generated by `{p['command']}`. Regenerating it from unchanged files and params gives this page "
        "byte for byte; the inputs are named by content hash at the end. The holdout comes first: its "
        "origins were kept out of every choice (features, hyperparameters, calibration, K, the champion) "
        "and are reported once. What the label does and does not measure is explained below the numbers.",
        "",
        f"## 1. Holdout (horizon {h}; reported once, never chosen on)",
        "",
        "Goals (issue 9), judged from the numbers on this page:",
        "",
        *[f"- {g.goal}: **{g.status}** — {g.detail}." for g in goals],
        "",
        *hold_lines,
        REFERENCES,
        "",
        f"## 2. Development origins (horizon {h})",
        "",
        *dev_lines,
        *horizon_lines,
        *_calibration_section(inputs),
        *beats_lines,
        *missing_lines,
        *_labels_section(inputs),
        *timing_lines,
        LABEL_MEANING.format(horizon=h, target_label=p["target_label"], target=p["target"]),
        *_setup_section(inputs, view),
        *_coverage_section(coverage_table(inputs.panel, inputs.catalog), inputs.panel),
        *_drivers_section(inputs),
        *_lineage_section(inputs.catalog, inputs.dependent, str(p["label_source"])),
        "## Inputs",
        "",
        *[f"- {k}: `{v}`" for k, v in inputs.provenance.items()],
        "",
    ]
    sentences = hold_sentences + dev_sentences + horizon_sentences + beats_sentences + timing_sentences
    return Page("\n".join(parts), sentences, goals)
