"""params.yaml as one typed, frozen config object, loaded once by the CLI.

No defaults live in code: a missing key fails, an unknown key fails (with the keys that
would fit), and every error names the file and the dotted key path.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError, model_validator

from nexus.errors import ConfigError


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PathsParams(Section):
    raw: Path
    artifacts: Path
    tracking_uri: str
    optuna_storage: str


class WorldParams(Section):
    generate: bool  # `nexus run` writes the synthetic world into paths.raw (false for real data)
    n_countries: int = Field(ge=10, le=675)
    first_year: int = Field(ge=1950, le=2100)
    last_year: int = Field(ge=1950, le=2100)
    crossing_events_per_country_year: PositiveInt
    processes_per_country_year: PositiveInt
    court_cases_per_country_year: PositiveInt       # scale > 1 only (× scale)
    press_incidents_per_country_year: PositiveInt   # scale > 1 only (× scale)
    scale: int = Field(ge=1, le=1000)  # 1 = the default world; N = event tables × N (features/synthetic/events.py)


class YearRange(Section):
    first: int
    last: int

    @model_validator(mode="after")
    def _ordered(self):
        if self.first > self.last:
            raise ValueError(f"first ({self.first}) is after last ({self.last})")
        return self


class FeaturesParams(Section):
    sources: list[str] = Field(min_length=1)
    label_source: str
    years: YearRange
    extra_lags: list[int]
    bad_input: Literal["refuse", "quarantine"]  # a bad event partition or row stops the build, or is left out
    calendar: Literal["editions", "constant_lag"]  # publishers' per-edition dates, or every source's constant lag
    ocds_engine: Literal["columnar", "python"]  # OCDS red flags on DuckDB, or the reference port
    source_dirs: list[Path]  # more folders of YAML sources (docs/sources.md), relative to the params file


class OriginRange(Section):
    """Scored origins first..last (horizon 1; horizon h ends h − 1 earlier); holdout = holdout_first_origin on.

    The holdout origins are reported once and never read by any choice (tune, promote,
    experiment compare, calibration method, features, hyperparameters).
    """

    first_origin: int
    last_origin: int
    holdout_first_origin: int

    @model_validator(mode="after")
    def _holdout_after_development(self):
        if self.last_origin < self.first_origin:
            raise ValueError(f"last_origin ({self.last_origin}) is before first_origin ({self.first_origin})")
        if not self.first_origin < self.holdout_first_origin <= self.last_origin:
            raise ValueError(f"holdout_first_origin ({self.holdout_first_origin}) must leave development origins "
                             f"before it and lie within {self.first_origin + 1}–{self.last_origin}: the holdout "
                             "may not overlap the development origins, nor be empty")
        return self


class BootstrapParams(Section):
    n_resamples: int = Field(ge=10, le=100_000)
    level: float = Field(gt=0, lt=1)


class XGBParams(Section):
    n_estimators: PositiveInt
    max_depth: int = Field(ge=1, le=12)
    learning_rate: float = Field(gt=0, le=1)
    subsample: float = Field(gt=0, le=1)
    colsample_bytree: float = Field(gt=0, le=1)
    min_child_weight: float = Field(ge=0)
    reg_lambda: float = Field(ge=0)
    max_bin: int = Field(ge=2, le=1024)
    n_jobs: int = Field(ge=1, le=64)


Metric = Literal["auc", "average_precision", "brier", "log_loss", "recall_top_k"]


CalibrationMethod = Literal["none", "sigmoid", "isotonic", "venn_abers"]


class CalibrationParams(Section):
    """`method: auto` picks, among `candidates`, the lowest log loss on development origins only."""

    method: Literal["auto", "none", "sigmoid", "isotonic", "venn_abers"]
    candidates: list[CalibrationMethod] = Field(min_length=1)
    warmup_origins: int = Field(ge=0, le=10)
    conformal_level: float = Field(gt=0, lt=1)


class LabelParams(Section):
    first_report_year: int = Field(ge=1990, le=2100)  # binary target only from this report year on
    min_evidence: float = Field(ge=0, le=4)            # drop targets transcribed below this evidence rank


class EnsembleParams(Section):
    n_members: int = Field(ge=1, le=100)   # K boosters with different seeds, averaged on the margin
    min_feature_coverage: float = Field(ge=0, le=1)  # a feature is used at an origin only if this share of its rows has it


class TargetCuts(Section):
    """Where the non-TIP targets (training/targets.py EDITION_TARGETS) turn positive; declared, not fitted."""

    gsi_weakest_share: float = Field(gt=0, lt=1)      # gsi_weak_response: this weakest share of each edition
    ocindex_ht_min_score: float = Field(ge=1, le=10)  # ocindex_ht_high: trafficking market score >= this


class TrainingParams(Section):
    target: Literal["t2wl_or_t3", "t3", "gsi_weak_response", "ocindex_ht_high"]
    target_cuts: TargetCuts
    horizon_years: int = Field(ge=1, le=5)
    include_label_history: bool
    independent_sources_only: bool
    exclude_features: list[str]
    label: LabelParams
    backtest: OriginRange
    baselines: list[Literal["base_rate", "persistence", "same_as_now", "cpi_logistic"]]
    experiment_name: str
    bootstrap: BootstrapParams
    top_k: PositiveInt
    calibration: CalibrationParams
    ensemble: EnsembleParams
    xgb: XGBParams


class SearchDim(Section):
    type: Literal["int", "float"]
    low: float
    high: float
    log: bool

    @model_validator(mode="after")
    def _range(self):
        if self.low >= self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError("a log scale needs low > 0")
        return self


class PrunerParams(Section):
    n_startup_trials: int = Field(ge=0)
    n_warmup_steps: int = Field(ge=0)


class TuningParams(Section):
    n_trials: PositiveInt
    metric: Metric
    study_name: str = Field(min_length=1)
    pruner: PrunerParams
    search: dict[str, SearchDim] = Field(min_length=1)

    @model_validator(mode="after")
    def _known_dimensions(self):
        tunable = {k: f.annotation for k, f in XGBParams.model_fields.items() if k != "n_jobs"}
        for name, dim in self.search.items():
            if name not in tunable:
                known = ", ".join(sorted(tunable))
                raise ValueError(f"search.{name} is not an xgb setting (tunable: {known})")
            if (dim.type == "int") != (tunable[name] is int):
                raise ValueError(f"search.{name}: type {dim.type!r} does not match training.xgb.{name}")
        return self


class PromotionParams(Section):
    metric: Metric
    margin: float = Field(ge=0)


class Bands(Section):
    elevated: float = Field(gt=0, lt=1)
    high: float = Field(gt=0, lt=1)


class ServiceParams(Section):
    host: str
    port: int = Field(ge=1, le=65535)
    database_url: str
    max_body_bytes: int = Field(ge=1024, le=16 * 2**20)  # larger request bodies are refused with 413
    browser: str | None  # chromium that prints country briefs to PDF; None or absent: 503 naming this key


class ScoringParams(Section):
    model_name: str
    model_alias: str
    bands: Bands
    min_coverage: float = Field(ge=0, le=1)  # below it: "insufficient data", never ranked or banded
    top_drivers: PositiveInt
    service: ServiceParams


class DaskParams(Section):
    """Where event-level builders (and xgboost.dask) run when `enabled` (features/distributed.py)."""

    enabled: bool
    scheduler: str | None  # tcp://host:8786 of a running scheduler; None = start a LocalCluster
    n_workers: PositiveInt  # LocalCluster only
    threads_per_worker: PositiveInt


class SignalsParams(Section):
    """`nexus signals`: a scorecard per source, with cheaper backtests than training's (2 per source).

    The two models a source is judged against are declared experiments (experiments/<name>.yaml);
    the cheap settings replace training.xgb.n_estimators, ensemble.n_members and
    bootstrap.n_resamples in every backtest the scorecard runs, and are stated on the page.
    """

    full_experiment: str = Field(min_length=1)         # "the full model" a source is left out of
    independent_experiment: str = Field(min_length=1)  # "the independent-sources model" a source is added to
    n_estimators: PositiveInt      # trees per booster in the scorecard's backtests
    n_members: int = Field(ge=1, le=100)   # boosters per model (1: no seed averaging)
    n_resamples: int = Field(ge=10, le=100_000)  # block-bootstrap resamples of each paired difference
    min_pairs: int = Field(ge=3)   # fewer country-years observing both columns: no correlation is shown


class OtherTargetsParams(Section):
    """`nexus other-targets`: the TIP-based model against models of other trafficking measures."""

    reference_experiment: str = Field(min_length=1)   # the TIP-based model (experiments/<name>.yaml)
    targets: list[Literal["gsi_weak_response", "ocindex_ht_high"]] = Field(min_length=1)
    top_n: int = Field(ge=1)      # the ranking's head compared: overlap of the top-n lists


class Params(Section):
    seed: int
    paths: PathsParams
    world: WorldParams
    features: FeaturesParams
    dask: DaskParams
    training: TrainingParams
    tuning: TuningParams
    promotion: PromotionParams
    scoring: ScoringParams
    signals: SignalsParams
    other_targets: OtherTargetsParams

    def resolved_paths(self, base: Path) -> PathsParams:
        """Paths made absolute against the params file's folder (URIs left as they are)."""
        def absolute(p: Path) -> Path:
            return p if p.is_absolute() else (base / p).resolve()

        def uri(u: str) -> str:
            if u.startswith("sqlite:///") and not u.startswith("sqlite:////"):
                return "sqlite:///" + str(absolute(Path(u.removeprefix("sqlite:///"))))
            return u

        return PathsParams(raw=absolute(self.paths.raw), artifacts=absolute(self.paths.artifacts),
                           tracking_uri=uri(self.paths.tracking_uri),
                           optuna_storage=uri(self.paths.optuna_storage))


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any, source: str) -> None:
    node = tree
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})  # an unknown section is reported by validation
        if not isinstance(node, dict):
            raise ConfigError(source, dotted, f"{part!r} is a value, not a section")
    node[parts[-1]] = value


def apply_overrides(tree: dict[str, Any], overrides: Sequence[str] | dict[str, Any],
                    source: str = "--set") -> dict[str, Any]:
    """Apply `key.path=value` strings (values parsed as YAML) or a {dotted: value} mapping."""
    items = overrides.items() if isinstance(overrides, dict) else []
    if not isinstance(overrides, dict):
        parsed = []
        for text in overrides:
            if "=" not in text:
                raise ConfigError(source, text, "expected key.path=value")
            key, raw = text.split("=", 1)
            parsed.append((key.strip(), yaml.safe_load(raw)))
        items = parsed
    for key, value in items:
        _set_dotted(tree, key, value, source)
    return tree


def _valid_keys(model: type[BaseModel], loc: Sequence[Any]) -> list[str]:
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        ann = getattr(field, "annotation", None)
        if not (isinstance(ann, type) and issubclass(ann, BaseModel)):
            return []
        model = ann
    return sorted(model.model_fields)


def validate_params(tree: dict[str, Any], source: str) -> Params:
    try:
        return Params.model_validate(tree)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(p) for p in err["loc"]]
        key = ".".join(loc)
        if err["type"] == "extra_forbidden":
            valid = _valid_keys(Params, loc)
            close = difflib.get_close_matches(loc[-1], valid, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(source, key, f"unknown key{hint} (valid here: {', '.join(valid)})") from None
        if err["type"] == "missing":
            raise ConfigError(source, key, "required key is missing") from None
        got = err.get("input")
        shown = "" if isinstance(got, dict) else f" (got {got!r})"
        raise ConfigError(source, key, f"{err['msg']}{shown}") from None


def _read_tree(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """One params file as a tree; `extends: other.yaml` (relative to it) starts from that file's tree.

    A profile such as params.real.yaml states only what differs, so keys added to params.yaml
    reach it without an edit. Sections merge key by key; lists and values replace.
    """
    try:
        tree = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(path, "", "file not found") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else ""
        raise ConfigError(path, where, f"not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(tree, dict):
        raise ConfigError(path, "", "expected a mapping of sections at the top level")
    base = tree.pop("extends", None)
    if base is None:
        return tree
    parent = (path.parent / str(base)).resolve()
    if parent in seen or parent == path.resolve():
        raise ConfigError(path, "extends", f"{base} extends this file again (a cycle)")
    return _merged(_read_tree(parent, (*seen, path.resolve())), tree)


def _merged(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = _merged(out[key], value) if both else value
    return out


def load_params(path: Path | str, overrides: Sequence[str] | dict[str, Any] = ()) -> Params:
    """Parse params.yaml (or a profile that `extends` it) plus overrides; errors name file and key path."""
    path = Path(path)
    tree = _read_tree(path)
    apply_overrides(tree, overrides)
    params = validate_params(tree, str(path))
    folders = [d if d.is_absolute() else (path.parent / d).resolve() for d in params.features.source_dirs]
    return params.model_copy(update={"features": params.features.model_copy(update={"source_dirs": folders})})


class ExperimentFile(Section):
    """experiments/<name>.yaml: why it exists, and dotted overrides of params.yaml."""

    description: str = Field(min_length=1)
    overrides: dict[str, Any] = Field(default_factory=dict)
    compare_to: str | None = None
    overrides_from: str | None = None  # e.g. a best_params.yaml written by `nexus tune`


def experiment_params(params: Params, overrides: dict[str, Any], source: str) -> Params:
    """`params` with an experiment's dotted overrides, validated by the same model (errors name `source`)."""
    for key in overrides:
        if key == "paths" or key.startswith("paths."):
            raise ConfigError(source, key, "an experiment cannot move paths; use --set or --params")
    tree = apply_overrides(params.model_dump(mode="json"), dict(overrides), source)
    return validate_params(tree, source)
