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


class WorldParams(Section):
    n_countries: int = Field(ge=10, le=675)
    first_year: int = Field(ge=1950, le=2100)
    last_year: int = Field(ge=1950, le=2100)
    crossing_events_per_country_year: PositiveInt
    processes_per_country_year: PositiveInt


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
    controls_source: str
    years: YearRange
    extra_lags: list[int]


class OriginRange(Section):
    first_origin: int
    last_origin: int


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


class TrainingParams(Section):
    target: Literal["t2wl_or_t3", "t3"]
    horizon_years: int = Field(ge=1, le=5)
    include_label_history: bool
    exclude_features: list[str]
    backtest: OriginRange
    baselines: list[Literal["base_rate", "persistence", "cpi_logistic"]]
    experiment_name: str
    bootstrap: BootstrapParams
    top_k: PositiveInt
    xgb: XGBParams


class Bands(Section):
    elevated: float = Field(gt=0, lt=1)
    high: float = Field(gt=0, lt=1)


class ScoringParams(Section):
    model_name: str
    model_alias: str
    bands: Bands
    top_drivers: PositiveInt


class Params(Section):
    seed: int
    paths: PathsParams
    world: WorldParams
    features: FeaturesParams
    training: TrainingParams
    scoring: ScoringParams

    def resolved_paths(self, base: Path) -> PathsParams:
        """Paths made absolute against the params file's folder (URIs left as they are)."""
        def absolute(p: Path) -> Path:
            return p if p.is_absolute() else (base / p).resolve()

        uri = self.paths.tracking_uri
        if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
            uri = "sqlite:///" + str(absolute(Path(uri.removeprefix("sqlite:///"))))
        return PathsParams(raw=absolute(self.paths.raw), artifacts=absolute(self.paths.artifacts),
                           tracking_uri=uri)


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
        raise ConfigError(source, key, f"{err['msg']} (got {err.get('input')!r})") from None


def load_params(path: Path | str, overrides: Sequence[str] | dict[str, Any] = ()) -> Params:
    """Parse params.yaml plus overrides; errors name the file and key path."""
    path = Path(path)
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
    apply_overrides(tree, overrides)
    return validate_params(tree, str(path))
