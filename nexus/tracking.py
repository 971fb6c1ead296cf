"""The one way nexus reaches MLflow: offline-safe settings, then the configured store.

Training, tuning, scoring, run read-back and experiments all come through here, so the
tracking store, the model registry and the experiment a run lands in are set in one place.

A process opens a store once: a local SQLite store is created (or its tables made) under a
file lock beside it, because two MLflow processes creating one store at once run the same
migrations twice and can leave it unopenable (`table _alembic_tmp_* already exists`). On that
first open, runs left RUNNING by a process of this host that no longer exists (killed, so it
never ended them) are closed as KILLED; every run nexus starts carries `owner_tags()` for this.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from nexus.config import PathsParams
from nexus.errors import NexusError

HOST_TAG = "nexus.host"
PID_TAG = "nexus.pid"
# MLflow 3's UI opens an experiment by its kind; untagged, it guesses GenAI and shows an empty "Overview"
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}
LOCK_TIMEOUT_S = 300          # a first migration takes seconds; minutes mean a stuck process
_opened: set[str] = set()     # stores this process has opened (created, migrated, swept)


def mlflow_at(tracking_uri: str):
    """The mlflow module pointed at `tracking_uri` (runs and registry), telemetry and progress bars off.

    MLflow 3 contacts an external host for telemetry unless told not to (see STACK.md §2c);
    this machine and CI are offline.
    """
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    if tracking_uri not in _opened:
        _open_store(mlflow, tracking_uri)
        _opened.add(tracking_uri)
    return mlflow


def open_store_aside(tracking_uri: str) -> subprocess.Popen | None:
    """Create a new local SQLite store in a child process while this one works on; the child.

    A first open runs every MLflow migration (about 3 s of one core); `nexus run` starts it before
    the world and the features, which leave the second core idle. The child holds the store's lock,
    so the first open here waits for it and finds the tables made. It is not tied to this process (own
    session): stopped half-way, a migration would leave the store unopenable. None for an existing store
    or a server.
    """
    db = sqlite_file(tracking_uri)
    if db is None or db.exists():
        return None
    code = "import sys; from nexus.tracking import mlflow_at; mlflow_at(sys.argv[1])"
    return subprocess.Popen([sys.executable, "-c", code, tracking_uri], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # a Ctrl-C of the run does not cut a migration short


def client(paths: PathsParams):
    """An MlflowClient on the configured tracking store and model registry."""
    return mlflow_at(paths.tracking_uri).MlflowClient()


def use_experiment(paths: PathsParams, name: str) -> str:
    """Make `name` the active experiment (created with its artifacts under paths.artifacts, tagged as
    model development so the MLflow UI opens on its runs); its id."""
    mlflow = mlflow_at(paths.tracking_uri)
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is None:
        # a tracking server keeps artifacts where it is told to (--artifacts-destination), not on this machine
        served = paths.tracking_uri.startswith(("http://", "https://"))
        location = None if served else (Path(paths.artifacts) / "mlruns").as_uri()
        try:
            mlflow.create_experiment(name, artifact_location=location, tags=EXPERIMENT_KIND)
        except Exception:  # noqa: BLE001 - another process created it a moment ago
            if mlflow.get_experiment_by_name(name) is None:
                raise
    experiment = mlflow.set_experiment(name)
    for key, value in EXPERIMENT_KIND.items():
        if experiment.tags.get(key) != value:   # an experiment made before nexus tagged its kind
            try:
                mlflow.MlflowClient().set_experiment_tag(experiment.experiment_id, key, value)
            except Exception:  # noqa: BLE001 - a process creating it at once inserted the tag first
                again = mlflow.get_experiment(experiment.experiment_id)  # a server store inserts, not upserts
                if again.tags.get(key) != value:
                    raise
    return experiment.experiment_id


def masked(url: str) -> str:
    """A store URL fit to print (Optuna storage, service database): the password hidden."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not parseable: show nothing secret
        return url.split("@")[-1]


def owner_tags() -> dict[str, str]:
    """Tags naming the process that starts a run, so a later process can tell it was orphaned."""
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}


def process_gone(host: str | None, pid: str | int | None) -> bool:
    """True only for a process of this host that no longer runs (never for another host's)."""
    from nexus.processes import alive

    if host != socket.gethostname() or not str(pid or "").isdigit():
        return False
    return not alive(int(pid))


def sqlite_file(tracking_uri: str) -> Path | None:
    """The database file of a local SQLite store URI (None for a server or an in-memory store)."""
    try:
        from sqlalchemy.engine import make_url

        url = make_url(tracking_uri)
    except Exception:  # noqa: BLE001 - not a database URL (http://, databricks): nothing local to lock
        return None
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def _open_store(mlflow, tracking_uri: str) -> None:
    """Create or migrate the store's tables one process at a time, then close this host's orphans."""
    db = sqlite_file(tracking_uri)
    try:
        if db is None:
            _make_tables(mlflow, tracking_uri)
        else:
            from filelock import FileLock, Timeout

            db.parent.mkdir(parents=True, exist_ok=True)
            try:
                with FileLock(f"{db}.lock", timeout=LOCK_TIMEOUT_S):
                    _make_tables(mlflow, tracking_uri)
            except Timeout:
                raise NexusError(f"the MLflow store {tracking_uri} stayed locked by another process for "
                                 f"{LOCK_TIMEOUT_S} s ({db}.lock); is a stuck nexus still running?") from None
    except NexusError:
        raise
    except Exception as exc:  # noqa: BLE001 - a corrupt, foreign or half-migrated store
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise NexusError(f"cannot open the MLflow store {tracking_uri}: {first}") from None
    close_orphaned_runs(mlflow.MlflowClient())


def _make_tables(mlflow, tracking_uri: str) -> None:
    """Open the tracking and registry stores: MLflow creates missing tables on first open (then caches)."""
    c = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    c.search_experiments(max_results=1)
    c.search_registered_models(max_results=1)


def close_orphaned_runs(c) -> list[str]:
    """End as KILLED the RUNNING runs whose starting process (on this host) is gone; their ids.

    Bookkeeping: a store that cannot be searched or updated just keeps its runs as they are.
    """
    closed = []
    try:
        experiments = [e.experiment_id for e in c.search_experiments()]
        if not experiments:
            return closed
        runs = c.search_runs(experiments, f"attributes.status = 'RUNNING' and tags.`{HOST_TAG}` = "
                                          f"'{socket.gethostname()}'", max_results=1000)
        for run in runs:
            tags = run.data.tags
            if process_gone(tags.get(HOST_TAG), tags.get(PID_TAG)):
                c.set_tag(run.info.run_id, "nexus.orphaned", "true")
                c.set_terminated(run.info.run_id, "KILLED")
                closed.append(run.info.run_id)
    except Exception:  # noqa: BLE001 - never let bookkeeping stop a command
        pass
    return closed


def store_id(tracking_uri: str) -> str:
    """The store a URI names, spelled one way (absolute SQLite path, password hidden), for cache keys."""
    db = sqlite_file(tracking_uri)
    if db is not None:
        return f"sqlite:///{db.expanduser().resolve()}"
    try:
        from sqlalchemy.engine import make_url

        return make_url(tracking_uri).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - http(s)://, databricks and the like
        return tracking_uri.rstrip("/")
