"""Declared experiments: `experiments/<name>.yaml` files, validated before anything runs, and their runs.

An experiment is a description plus dotted overrides of params.yaml, validated by the same
typed config, so a typo in a key, a value out of range or an unknown family fails at once
and names the file. Its run is an ordinary training run tagged `nexus.experiment=<name>`:
one MLflow parent run, the origins as child runs, the backtest forecasts as artifacts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from nexus.config import ExperimentFile, Params, PathsParams, experiment_params
from nexus.errors import ConfigError

EXPERIMENTS_DIR = Path(__file__).resolve().parent
PROJECT_DIR = EXPERIMENTS_DIR.parent
TAG = "nexus.experiment"


@dataclass(frozen=True)
class Experiment:
    name: str
    path: Path
    description: str
    overrides: dict[str, Any]
    compare_to: str | None


def list_experiments(directory: Path = EXPERIMENTS_DIR) -> list[str]:
    return sorted(p.stem for p in Path(directory).glob("*.yaml"))


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(path, f"line {mark.line + 1}" if mark else "", "not valid YAML") from None


def load_experiment(name: str, directory: Path = EXPERIMENTS_DIR) -> Experiment:
    """Read and shape-check `<directory>/<name>.yaml`; an unknown name lists the known ones."""
    directory = Path(directory)
    path = directory / f"{name}.yaml"
    known = list_experiments(directory)
    if not path.is_file():
        raise ConfigError(directory, name, f"unknown experiment; known: {', '.join(known) or '(none)'}")
    tree = _read_yaml(path)
    from pydantic import ValidationError

    try:
        spec = ExperimentFile.model_validate(tree if isinstance(tree, dict) else {})
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        valid = ", ".join(ExperimentFile.model_fields)
        problem = "unknown key" if err["type"] == "extra_forbidden" else err["msg"].lower()
        raise ConfigError(path, key, f"{problem} (an experiment file holds: {valid})") from None
    if spec.compare_to is not None and spec.compare_to not in known:
        raise ConfigError(path, "compare_to",
                          f"unknown experiment {spec.compare_to!r}; known: {', '.join(known)}")
    overrides = dict(spec.overrides)
    if spec.overrides_from:
        overrides = _overrides_from(path, spec.overrides_from) | overrides
    return Experiment(name, path, spec.description.strip(), overrides, spec.compare_to)


def _overrides_from(path: Path, reference: str) -> dict[str, Any]:
    """Overrides of another file (a tuned study's best_params.yaml); relative to the project folder."""
    source = Path(reference) if Path(reference).is_absolute() else PROJECT_DIR / reference
    if not source.is_file():
        raise ConfigError(path, "overrides_from", f"{source} does not exist (run 'nexus tune' first?)")
    tree = _read_yaml(source)
    if not isinstance(tree, dict) or not isinstance(tree.get("overrides"), dict):
        raise ConfigError(source, "overrides", "expected a mapping of dotted keys to values")
    return tree["overrides"]


def resolve(experiment: Experiment, params: Params) -> Params:
    """The params an experiment runs with; every key and value checked, exclusions included."""
    from training.selection import check_exclusions

    resolved = experiment_params(params, experiment.overrides, str(experiment.path))
    try:
        check_exclusions(resolved.training.exclude_features)
    except ConfigError as exc:
        raise ConfigError(experiment.path, exc.key, exc.problem) from None
    return resolved


def run_experiment(name: str, params: Params, paths: PathsParams, *, force: bool = False,
                   directory: Path = EXPERIMENTS_DIR, progress: Callable[[str], None] | None = None):
    """Build the experiment's panel (shared when unchanged) and train it under its own tagged run."""
    from features.panel import build_features
    from training.train import train

    experiment = load_experiment(name, directory)
    resolved = resolve(experiment, params)
    build = build_features(resolved.features, resolved.dask, paths.raw, paths.artifacts, progress=progress)
    return train(resolved, paths, build, force=force, tags={TAG: name}, progress=progress)
