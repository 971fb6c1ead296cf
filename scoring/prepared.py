"""The serving artifact: one folder per model version holding what the service keeps in memory.

Loading a version the long way (scoring/served.py `load_version`) reads the registry, the MLflow
run, the score artifact and the panel's lineage tables, and builds lookups from them: seconds,
most of them MLflow's import. A prepared folder holds the result (the version's tags, backtest
metrics, score items, SHAP and feature values, catalog and lineage lookups) as `served.json` and
`arrays.npz`, manifest last, so `nexus serve` starts from one folder and no MLflow import. It is
named by the model version, the scoring params and this code, so a start computes where to look;
it is refused (and rebuilt the long way) when the score artifact it was made from changed
(its files' hashes, as that artifact's manifest lists them). `nexus score` and `nexus run` write it
(`ensure_prepared`); the service writes it too after loading a version the long way.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from features import lineage
from nexus.config import Params, PathsParams
from nexus.errors import NexusError
from nexus.manifest import Manifest, atomic_path, atomic_write_text, imported_code_hash, is_complete, short
from scoring.served import ServedVersion, backtest_metrics, card_summary, load_version
from training import targets
from training.registry import ModelCard, ModelRef

SERVED_JSON = "served.json"
ARRAYS = "arrays.npz"
ARRAY_FIELDS = ("shap", "base", "values", "raw")
# what load_version reads the panel and its lineage with, beside scoring/ (whose files the key hashes)
_READ_WITH = (lineage.__file__, targets.__file__)


def prepared_dir(params: Params, paths: PathsParams, name: str, version: str) -> Path:
    """Where version `name/version`'s serving artifact is, computed from params alone (no registry)."""
    wanted = params.scoring.model_dump(mode="json", exclude={"service"})
    # card_summary reads these two beside the card: they are part of what is served
    shown = {"metric": params.promotion.metric, "level": params.training.bootstrap.level}
    key = Manifest.compute_key("serving", {}, wanted | {"model": f"{name}/{version}", "summary": shown}, {},
                               imported_code_hash("scoring.prepared", also=_READ_WITH))
    return Path(paths.artifacts) / "serving" / short(key)


def run_backtest(paths: PathsParams, ref: ModelRef) -> dict:
    """The run's pooled development-origin metrics with their intervals ({} when the run is gone)."""
    if not ref.run_id:
        return {}
    from nexus.tracking import mlflow_at

    try:
        run = mlflow_at(paths.tracking_uri).MlflowClient().get_run(ref.run_id)
    except Exception:  # noqa: BLE001 - a missing run leaves the metrics empty, not the service down
        return {}
    return backtest_metrics(dict(run.data.metrics))


def save(served: ServedVersion, tags: dict[str, str], directory: Path) -> Path:
    """Write a loaded version as a serving artifact (manifest last)."""
    score_manifest = Manifest.read(served.directory)
    family_names = list(served.families[0]) if served.families else []
    doc = {"model_name": served.model_name, "version": served.version, "tags": tags,
           "score_dir": str(served.directory), "features": served.features, "catalog": served.catalog,
           "provenance": served.provenance, "items": served.items, "countries": served.countries,
           "regions": served.regions, "backtest": served.backtest, "family_names": family_names,
           "data_years": _columns([(*k, d) for k, d in served.data_years.items()]),
           "origins": _columns([(*k, *v) for k, v in served.origins.items()])}
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write_text(directory / SERVED_JSON, json.dumps(doc, separators=(",", ":")))
    families = np.array([[row[f] for f in family_names] for row in served.families], dtype="float64")
    with atomic_path(directory / ARRAYS) as tmp, open(tmp, "wb") as out:
        np.savez(out, families=families, **{f: getattr(served, f) for f in ARRAY_FIELDS})
    manifest = Manifest(stage="serving", key=f"serving:{served.model_name}/{served.version}", inputs={},
                        params={}, upstream={"score": score_manifest.key},
                        outputs={SERVED_JSON: "", ARRAYS: ""},
                        extra={"model_name": served.model_name, "model_version": served.version,
                               "score_dir": str(served.directory), "score_outputs": score_manifest.outputs})
    manifest.write(directory)
    return directory


def load(params: Params, directory: Path) -> ServedVersion | None:
    """The version held in a serving artifact; None when it is absent, broken or its scores changed.

    The cyclic garbage collector is paused meanwhile: building ~100k small objects would otherwise
    trigger full collections over all of them, most of the load's time.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        return _load(params, directory)
    finally:
        if paused:
            gc.enable()


def is_current(directory: Path) -> bool:
    """True when a serving artifact is complete and the score artifact it was made from is unchanged."""
    if not is_complete(directory):
        return False
    manifest = Manifest.read(directory)
    try:
        return Manifest.read(Path(manifest.extra["score_dir"])).outputs == manifest.extra["score_outputs"]
    except (NexusError, KeyError):
        return False


def _load(params: Params, directory: Path) -> ServedVersion | None:
    if not is_current(directory):
        return None  # absent, damaged, or re-scored since: the long way rebuilds it
    doc = json.loads((directory / SERVED_JSON).read_text(encoding="utf-8"))
    with np.load(directory / ARRAYS) as arrays:
        held = {f: arrays[f] for f in (*ARRAY_FIELDS, "families")}
    name, version = doc["model_name"], doc["version"]
    card = ModelCard.from_tags(doc["tags"], f"model {name} version {version}")
    items = doc["items"]
    by_year: dict[int, list[int]] = {}
    by_country: dict[str, list[int]] = {}
    for i, item in enumerate(items):
        by_year.setdefault(item["year"], []).append(i)
        by_country.setdefault(item["iso3"], []).append(i)
    for rows in by_year.values():
        rows.sort(key=lambda i: (-items[i]["probability"], items[i]["iso3"]))
    for rows in by_country.values():
        rows.sort(key=lambda i: items[i]["year"])
    names = doc["family_names"]
    return ServedVersion(
        model_name=name, version=version, card=card, summary=card_summary(card, params),
        directory=Path(doc["score_dir"]), features=doc["features"], catalog=doc["catalog"],
        provenance=doc["provenance"], items=items,
        rows={(it["iso3"], it["year"]): i for i, it in enumerate(items)},
        shap=held["shap"], base=held["base"], values=held["values"], raw=held["raw"],
        families=[dict(zip(names, map(float, row), strict=True)) for row in held["families"]],
        countries=doc["countries"], regions=doc["regions"], years=sorted(by_year), by_year=by_year,
        by_country=by_country, data_years={(i, y, s): d for i, y, s, d in _rows(doc["data_years"])},
        origins={(s, i, y): (f, r) for s, i, y, f, r in _rows(doc["origins"])}, backtest=doc["backtest"])


def _columns(rows: list[tuple]) -> list[list]:
    """Rows as columns (half the JSON, and json.loads parses five long lists faster than 20k short ones)."""
    return [list(column) for column in zip(*rows, strict=True)] if rows else []


def _rows(columns: list[list]):
    return zip(*columns, strict=True) if columns else iter(())


def prepare(params: Params, paths: PathsParams, ref: ModelRef,
            progress: Callable[[str], None] | None = None) -> tuple[ServedVersion, Path]:
    """Load a version the long way and write its serving artifact; (the version, its folder)."""
    served = load_version(params, paths, ref, run_backtest(paths, ref), progress)
    return served, save(served, ref.tags, prepared_dir(params, paths, ref.name, ref.version))


def ensure_prepared(params: Params, paths: PathsParams, name: str, version: str,
                    progress: Callable[[str], None] | None = None) -> Path:
    """The version's serving artifact, written now when it is missing or stale (after scoring)."""
    directory = prepared_dir(params, paths, name, version)
    if not is_current(directory):
        from training.registry import resolve

        (progress or (lambda msg: None))(f"preparing {name} v{version} for the service")
        prepare(params, paths, resolve(paths, name, version=version), progress)
    return directory
