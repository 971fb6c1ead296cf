"""The model registry: the only code that reads or writes MLflow model-version tags and aliases.

A registered version carries a typed `ModelCard` (what it was trained on, how it calibrates,
what it beats) as `nexus.*` tags, and the same card in words as its description (the MLflow
UI's model page shows it); `ModelCard.from_tags` refuses a version whose card misses a
field or names an unknown method, naming the version and the field, so a service never serves
raw numbers from a half-described model. The model itself is logged as an MLflow pyfunc
(training/pyfunc.py) that returns calibrated probabilities and interval bounds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from nexus import tracking
from nexus.config import PathsParams
from nexus.errors import ModelNotFoundError, NexusError

CHAMPION = "champion"
LATEST = "latest-trained"
PREFIX = "nexus."


class ModelCardError(NexusError):
    """A registered version's model card is missing a field or carries an unknown value."""


class ModelCard(BaseModel):
    """Everything a score's provenance and a reviewer's header need, as typed fields."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    features_key: str
    panel_sha256: str
    params_sha256: str
    run_id: str
    target: str
    horizon_years: int
    calibration: Literal["none", "sigmoid", "isotonic", "venn_abers"]
    interval: Literal["venn_abers"]
    conformal_level: float
    n_members: int
    folds: dict                 # target, horizon, development and holdout origins, rows, rows_sha256
    development: dict           # product model's pooled development metrics {metric: value}
    beats: dict                 # baseline → {metric: {diff, low, high}, "beats": bool} on development origins
    experiment: str | None = None

    def to_tags(self) -> dict[str, str]:
        out = {}
        for key, value in self.model_dump().items():
            if value is None:
                continue
            out[PREFIX + key] = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
        return out

    @classmethod
    def from_tags(cls, tags: dict[str, str], where: str) -> ModelCard:
        doc = {}
        for key, field in cls.model_fields.items():
            text = tags.get(PREFIX + key)
            if text is None:
                continue
            doc[key] = text if field.annotation in (str, str | None) else _json(text)
        try:
            return cls.model_validate(doc)
        except ValidationError as exc:
            err = exc.errors()[0]
            name = ".".join(str(p) for p in err["loc"])
            problem = "is missing" if err["type"] == "missing" else f"is invalid ({err['msg']})"
            raise ModelCardError(f"{where}: model card field {name!r} {problem}; retrain it with "
                                 "'nexus train'") from None


def _json(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return text


@dataclass(frozen=True)
class ModelRef:
    """A resolved registry entry: which version an alias pointed to, its card and its tags."""

    name: str
    version: str
    alias: str | None
    tags: dict[str, str]
    source: str

    @property
    def card(self) -> ModelCard:
        return ModelCard.from_tags(self.tags, f"model {self.name} version {self.version}")

    @property
    def run_id(self) -> str:
        return self.tags.get(PREFIX + "run_id", "")


def resolve(paths: PathsParams, name: str, alias: str | None = None, version: str | None = None) -> ModelRef:
    """`name@alias` or `name/version`; a clear error when it points nowhere."""
    client = tracking.client(paths)
    try:
        mv = client.get_model_version(name, version) if version else client.get_model_version_by_alias(name, alias)
    except Exception as exc:  # noqa: BLE001 - MlflowException or a store error: both mean "not there"
        what = f"version {version}" if version else f"alias {alias!r}"
        raise ModelNotFoundError(f"model {name!r} has no {what} in {paths.tracking_uri} "
                                 f"({str(exc).splitlines()[0][:160]}); run 'nexus train' first") from None
    return ModelRef(name=name, version=str(mv.version), alias=None if version else alias, tags=dict(mv.tags),
                    source=mv.source)


def alias_version(paths: PathsParams, name: str, alias: str) -> str | None:
    """The version `name@alias` points to, read from a database store's alias table without MLflow.

    For the service's start-up: importing MLflow and opening its store take seconds, one query
    takes milliseconds. None when the store is not a database, lacks MLflow's table, or has no
    such alias: then ask `resolve`, which says why.
    """
    db = tracking.sqlite_file(paths.tracking_uri)
    if (db is None and not paths.tracking_uri.startswith("postgresql")) or (db is not None and not db.exists()):
        return None  # a server (http://), or a SQLite file that is not there (connecting would create it)
    try:
        from sqlalchemy import create_engine, text

        engine = create_engine(paths.tracking_uri)
        try:
            with engine.connect() as connection:
                row = connection.execute(text("SELECT version FROM registered_model_aliases "
                                              "WHERE name = :name AND alias = :alias"),
                                         {"name": name, "alias": alias}).first()
        finally:
            engine.dispose()
    except Exception:  # noqa: BLE001 - any store this cannot read is resolve's to explain
        return None
    return str(row[0]) if row else None


def exists(paths: PathsParams, name: str, version: str) -> bool:
    try:
        resolve(paths, name, version=version)
        return True
    except NexusError:
        return False


def holder(paths: PathsParams, name: str, alias: str = CHAMPION) -> ModelRef | None:
    try:
        return resolve(paths, name, alias=alias)
    except NexusError:
        return None


def aliases(paths: PathsParams, name: str) -> dict[str, str]:
    """alias → version for a registered model ({} when it does not exist)."""
    try:
        return {a: str(v) for a, v in tracking.client(paths).get_registered_model(name).aliases.items()}
    except Exception:  # noqa: BLE001 - no such registered model
        return {}


def versions(paths: PathsParams, name: str) -> list[ModelRef]:
    client = tracking.client(paths)
    try:
        found = client.search_model_versions(f"name='{name}'")
    except Exception:  # noqa: BLE001 - no such registered model
        return []
    return [ModelRef(name, str(mv.version), None, dict(mv.tags), mv.source) for mv in found]


def set_alias(paths: PathsParams, name: str, alias: str, version: str) -> None:
    tracking.client(paths).set_registered_model_alias(name, alias, version)


def record(paths: PathsParams, name: str, version: str, tags: dict[str, str]) -> None:
    """Write `nexus.<key>` tags on a version (promotion records and the like)."""
    client = tracking.client(paths)
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key if key.startswith(PREFIX) else PREFIX + key, value)


def register(paths: PathsParams, name: str, version: str, card: ModelCard, extra: dict[str, str],
             n_features: int | None = None) -> None:
    """Tag and describe a new version with its card; move `latest-trained` to it (never `champion`)."""
    record(paths, name, version, card.to_tags() | extra)
    client = tracking.client(paths)
    client.update_model_version(name, version, description=describe_version(card, n_features))
    client.update_registered_model(name, description=describe_model(card, version))
    set_alias(paths, name, LATEST, version)


def _target_words(card: ModelCard) -> str:
    from training.targets import TARGETS

    label = TARGETS.get(card.target, (card.target,))[0]
    years = f"{card.horizon_years} year{'s' if card.horizon_years != 1 else ''}"
    return f"the probability that a country is placed **{label}** in the report {years} on ({card.target})"


def _short(digest: str) -> str:
    return digest.split(":")[-1][:12]


def _span(origins: list) -> str:
    return f"{min(origins)}–{max(origins)}" if origins else "none"


def describe_version(card: ModelCard, n_features: int | None = None) -> str:
    """The model card in words (Markdown): what it forecasts, how, how well, and from what."""
    dev = card.development
    names = ("auc", "average_precision", "log_loss", "brier")
    skill = ", ".join(f"{k.replace('_', ' ')} {dev[k]:.3f}" for k in names if isinstance(dev.get(k), float))
    lines = [f"Forecasts {_target_words(card)}.",
             f"- **Model:** {card.n_members} XGBoost boosters (K={card.n_members}) on "
             f"{n_features if n_features is not None else 'its'} features; calibration "
             f"**{card.calibration}** fitted on out-of-sample forecasts; per-country interval "
             f"**{card.interval.replace('_', '-')}**; conformal sets at {card.conformal_level:.0%}.",
             f"- **Development skill** (origins {_span(card.folds.get('origins', []))}, "
             f"{card.folds.get('rows', '?')} rows; holdout {_span(card.folds.get('holdout_origins', []))} "
             f"reported apart): {skill or 'not computed'}."]
    for baseline, entry in card.beats.items():
        gains = ", ".join(f"{m.replace('_', ' ')} {g['diff']:+.3f} [{g['low']:+.3f}, {g['high']:+.3f}]"
                          for m, g in entry.items() if isinstance(g, dict))
        lines.append(f"- **vs {baseline}:** {'beats it' if entry.get('beats') else 'does not beat it'} "
                     f"(product − baseline, paired block bootstrap: {gains}).")
    lines.append(f"- **Panel** {card.panel_sha256}, features {_short(card.features_key)}, params "
                 f"{_short(card.params_sha256)}, run {card.run_id or '?'}"
                 + (f", experiment {card.experiment}" if card.experiment else "") + ".")
    return "\n".join(lines)


def describe_model(card: ModelCard, version: str) -> str:
    """The registered model in words: what every version forecasts, and where its card is."""
    return (f"nexus risk model: {_target_words(card)} (as of version {version}; each version's "
            f"description is its model card). `{CHAMPION}` is the version the service scores with, "
            f"promoted only when it beats persistence on development origins; `{LATEST}` is the newest "
            "trained.")


def load_model(paths: PathsParams, ref: ModelRef):
    """The RiskModel a version holds (through its pyfunc, so `mlflow models serve` reads the same)."""
    tracking.mlflow_at(paths.tracking_uri)   # the store's URIs set; then the pyfunc flavour
    import mlflow.pyfunc

    try:
        loaded = mlflow.pyfunc.load_model(f"models:/{ref.name}/{ref.version}")
        return loaded.unwrap_python_model().model
    except NexusError:
        raise
    except Exception as exc:  # noqa: BLE001 - an older flavour or a broken artifact
        raise ModelCardError(f"model {ref.name} version {ref.version} holds no nexus RiskModel "
                             f"({str(exc).splitlines()[0][:160]}); retrain it with 'nexus train'") from None
